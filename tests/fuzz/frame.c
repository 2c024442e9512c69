/*
 * Fuzz target: the frame reader (ipc/frame.c).  The input is the bytes a
 * peer sends, fed in pieces of a size the first byte picks; every message
 * the decoder yields must encode again, and nothing it does may crash,
 * leak or read out of bounds.
 */
#include <stdint.h>
#include <stdlib.h>

#include "../../ipc/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct ipc_decoder d;
	char err[256], *buf;
	size_t off = 1, n, step, len;
	json_t *msg;
	int r = 0;

	if (size == 0)
		return 0;
	step = (size_t)data[0] * 37 % 4099 + 1;
	ipc_decoder_init(&d);
	while (off < size && r >= 0) {
		n = size - off < step ? size - off : step;
		if (ipc_decoder_feed(&d, (const char *)data + off, n) != 0)
			break;
		off += n;
		while ((r = ipc_decoder_next(&d, &msg, err, sizeof err)) == 1) {
			if (ipc_frame_encode(msg, &buf, &len) == 0)
				free(buf);
			json_decref(msg);
		}
	}
	ipc_decoder_release(&d);
	return 0;
}
