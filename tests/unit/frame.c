/* Framing and message shape: ipc/frame.c and ipc/message.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../ipc/proto.h"
#include "tap.h"

static int
feed_and_next(const char *bytes, size_t n, json_t **msg)
{
	struct ipc_decoder d;
	char err[256];
	int r;

	ipc_decoder_init(&d);
	ipc_decoder_feed(&d, bytes, n);
	r = ipc_decoder_next(&d, msg, err, sizeof err);
	ipc_decoder_release(&d);
	return r;
}

int
main(void)
{
	struct ipc_decoder d;
	json_t *m, *out, *args;
	const char *cmd;
	char *buf, err[256];
	size_t len, i;
	uint32_t id;
	int r;

	/* Round trip, one byte at a time. */
	m = ipc_request_new(42, "ping", NULL);
	r = ipc_frame_encode(m, &buf, &len);
	ok(r == 0 && len > 4, "a request encodes to a frame");
	ok(((unsigned char)buf[0] << 24 | (unsigned char)buf[1] << 16 |
	    (unsigned char)buf[2] << 8 | (unsigned char)buf[3]) == (int)(len - 4),
	    "the header is the big-endian payload length");
	ipc_decoder_init(&d);
	out = NULL;
	for (i = 0; i < len; i++) {
		ipc_decoder_feed(&d, buf + i, 1);
		r = ipc_decoder_next(&d, &out, err, sizeof err);
		if (i + 1 < len && r != 0)
			break;
	}
	ok(r == 1 && out != NULL && json_equal(out, m),
	    "a frame fed byte by byte decodes only when whole");
	ok(ipc_request_check(out, &id, &cmd, &args, err, sizeof err) == 0 &&
	    id == 42 && strcmp(cmd, "ping") == 0, "the request checks out");
	json_decref(out);
	/* Two frames in one read. */
	ipc_decoder_feed(&d, buf, len);
	ipc_decoder_feed(&d, buf, len);
	ok(ipc_decoder_next(&d, &out, err, sizeof err) == 1, "first of two");
	json_decref(out);
	ok(ipc_decoder_next(&d, &out, err, sizeof err) == 1, "second of two");
	json_decref(out);
	ok(ipc_decoder_next(&d, &out, err, sizeof err) == 0, "then nothing");
	ipc_decoder_release(&d);
	free(buf);
	json_decref(m);

	/* Oversized, empty, malformed, not an object. */
	ok(feed_and_next("\x7f\xff\xff\xff", 4, &out) == -EMSGSIZE,
	    "a frame over the maximum is refused from its header");
	ok(feed_and_next("\0\0\0\0", 4, &out) == -EBADMSG, "an empty frame");
	ok(feed_and_next("\0\0\0\x03{x}", 7, &out) == -EBADMSG,
	    "malformed JSON");
	ok(feed_and_next("\0\0\0\x02[]", 6, &out) == -EBADMSG,
	    "JSON that is not an object");
	ok(feed_and_next("\0\0\0\x05{\"a\"", 7, &out) == 0,
	    "a truncated frame waits for more");

	/* Request checks. */
	m = json_pack("{s:i, s:i, s:s}", "v", 2, "id", 1, "cmd", "ping");
	ok(ipc_request_check(m, &id, &cmd, &args, err, sizeof err) == -EPROTO &&
	    strstr(err, "version 2") != NULL, "another version is named: %s",
	    err);
	json_decref(m);
	m = json_pack("{s:i, s:s}", "v", 1, "cmd", "ping");
	ok(ipc_request_check(m, &id, &cmd, &args, err, sizeof err) == -EBADMSG,
	    "a request without an id");
	json_decref(m);
	m = json_pack("{s:i, s:i, s:i}", "v", 1, "id", 3, "cmd", 5);
	ok(ipc_request_check(m, &id, &cmd, &args, err, sizeof err) == -EBADMSG &&
	    id == 3, "a request with a bad cmd keeps its id for the reply");
	json_decref(m);
	m = json_pack("{s:i, s:i, s:s, s:i}", "v", 1, "id", 3, "cmd", "x",
	    "args", 1);
	ok(ipc_request_check(m, &id, &cmd, &args, err, sizeof err) == -EBADMSG,
	    "args that are not an object");
	json_decref(m);

	/* Replies. */
	m = ipc_reply_error(9, IPC_E_NOT_FOUND, "no app named '%s'", "web");
	ok(json_is_false(json_object_get(m, "ok")) &&
	    strcmp(json_string_value(json_object_get(json_object_get(m,
	    "error"), "message")), "no app named 'web'") == 0,
	    "an error reply carries code and message");
	json_decref(m);
	m = ipc_reply_ok(9, json_integer(1), 1);
	ok(json_is_true(json_object_get(m, "more")), "a stream reply says more");
	json_decref(m);
	return tap_done();
}
