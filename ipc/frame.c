/*
 * Framing: a 4-byte big-endian payload length, then one JSON object of that
 * many bytes.  A frame larger than IPC_MAX_FRAME is an error, never a
 * reason to allocate.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

void
ipc_decoder_init(struct ipc_decoder *d)
{
	d->buf = NULL;
	d->len = 0;
	d->cap = 0;
}

void
ipc_decoder_release(struct ipc_decoder *d)
{
	free(d->buf);
	ipc_decoder_init(d);
}

/* Append bytes read from the peer; 0, or -ENOMEM. */
int
ipc_decoder_feed(struct ipc_decoder *d, const char *data, size_t n)
{
	size_t cap;
	char *nb;

	if (n == 0)
		return 0;
	if (d->len + n > d->cap) {
		cap = d->cap ? d->cap : 4096;
		while (cap < d->len + n)
			cap *= 2;
		/* Never more than one whole frame and its header ahead. */
		if (cap > 2 * (IPC_MAX_FRAME + IPC_HEADER_SIZE))
			cap = 2 * (IPC_MAX_FRAME + IPC_HEADER_SIZE);
		if (cap < d->len + n)
			return -ENOMEM;
		if ((nb = realloc(d->buf, cap)) == NULL)
			return -ENOMEM;
		d->buf = nb;
		d->cap = cap;
	}
	memcpy(d->buf + d->len, data, n);
	d->len += n;
	return 0;
}

/*
 * Take the next whole message: 1 and *out set, 0 when more bytes are
 * needed, -EMSGSIZE for an oversized frame or -EBADMSG for a payload that
 * is not a JSON object (err says why).  After an error the stream cannot be
 * resynchronised and the connection should be closed.
 */
int
ipc_decoder_next(struct ipc_decoder *d, json_t **out, char *err, size_t errlen)
{
	const unsigned char *p = (const unsigned char *)d->buf;
	json_error_t jerr;
	uint32_t n;
	json_t *msg;

	*out = NULL;
	if (d->len < IPC_HEADER_SIZE)
		return 0;
	n = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 |
	    (uint32_t)p[3];
	if (n > IPC_MAX_FRAME) {
		snprintf(err, errlen, "frame of %u bytes is larger than %u", n,
		    IPC_MAX_FRAME);
		return -EMSGSIZE;
	}
	if (n == 0) {
		snprintf(err, errlen, "empty frame");
		return -EBADMSG;
	}
	if (d->len - IPC_HEADER_SIZE < n)
		return 0;
	msg = json_loadb(d->buf + IPC_HEADER_SIZE, n, JSON_REJECT_DUPLICATES,
	    &jerr);
	memmove(d->buf, d->buf + IPC_HEADER_SIZE + n,
	    d->len - IPC_HEADER_SIZE - n);
	d->len -= IPC_HEADER_SIZE + n;
	if (msg == NULL) {
		snprintf(err, errlen, "malformed JSON: %s", jerr.text);
		return -EBADMSG;
	}
	if (!json_is_object(msg)) {
		json_decref(msg);
		snprintf(err, errlen, "message is not a JSON object");
		return -EBADMSG;
	}
	*out = msg;
	return 1;
}

/* Encode one message as a frame in a new buffer the caller frees. */
int
ipc_frame_encode(const json_t *msg, char **out, size_t *outlen)
{
	size_t n;
	char *buf;

	*out = NULL;
	n = json_dumpb(msg, NULL, 0, JSON_COMPACT);
	if (n == 0)
		return -EINVAL;
	if (n > IPC_MAX_FRAME)
		return -EMSGSIZE;
	if ((buf = malloc(IPC_HEADER_SIZE + n)) == NULL)
		return -ENOMEM;
	if (json_dumpb(msg, buf + IPC_HEADER_SIZE, n, JSON_COMPACT) != n) {
		free(buf);
		return -EINVAL;
	}
	buf[0] = (char)(n >> 24 & 0xff);
	buf[1] = (char)(n >> 16 & 0xff);
	buf[2] = (char)(n >> 8 & 0xff);
	buf[3] = (char)(n & 0xff);
	*out = buf;
	*outlen = IPC_HEADER_SIZE + n;
	return 0;
}
