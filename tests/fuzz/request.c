/*
 * Fuzz target: the request validator (ipc_request_check) and the replies
 * built from what a client sent.  The input is a JSON text; whatever it
 * holds, the error reply quoting it (the message of an error names the
 * client's words) must always encode into a frame: the class of the
 * non-ASCII unknown-target crash.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../ipc/proto.h"
#include "../../ipc/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* An error reply quoting text must encode, whatever text is. */
static void
must_encode(uint32_t id, const char *text)
{
	json_t *rep;
	char *buf;
	size_t len;

	rep = ipc_reply_error(id, IPC_E_NOT_FOUND, "no app named '%s'", text);
	if (rep == NULL || ipc_frame_encode(rep, &buf, &len) != 0)
		abort();
	free(buf);
	json_decref(rep);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *cmd;
	char err[256], *text, clip[68];
	json_t *msg, *args;
	uint32_t id;

	/* The raw bytes as a C string: any bytes, cut anywhere. */
	if ((text = malloc(size + 1)) == NULL)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	must_encode(1, text);
	must_encode(2, util_clip(text, clip, 64));
	free(text);

	msg = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES,
	    NULL);
	if (msg == NULL)
		return 0;
	if (json_is_object(msg)) {
		if (ipc_request_check(msg, &id, &cmd, &args, err,
		    sizeof err) == 0)
			must_encode(id, cmd);
		else
			must_encode(id, err);
	}
	json_decref(msg);
	return 0;
}
