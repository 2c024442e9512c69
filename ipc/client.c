/*
 * The blocking client the CLI uses: one connection, requests with
 * increasing ids, replies read with a timeout.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "proto.h"
#include "util.h"

/* 0, or a negative errno (-ENOENT, -ECONNREFUSED: no daemon there). */
int
ipc_client_connect(struct ipc_client *c, const char *path)
{
	struct sockaddr_un sa;
	socklen_t salen;
	int dirfd, fd, r;

	c->fd = -1;
	c->next_id = 1;
	ipc_decoder_init(&c->dec);
	if ((r = ipc_sockaddr(path, &sa, &salen, &dirfd)) != 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		r = -errno;
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&sa, salen) == -1) {
		r = -errno;
		close(fd);
		goto out;
	}
	c->fd = fd;
	r = 0;
out:
	if (dirfd != -1)
		close(dirfd);
	return r;
}

void
ipc_client_close(struct ipc_client *c)
{
	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	ipc_decoder_release(&c->dec);
}

/* Send a request; steals args.  *id (if not NULL) gets its id. */
int
ipc_client_send(struct ipc_client *c, const char *cmd, json_t *args,
    uint32_t *id)
{
	json_t *msg;
	char *buf;
	size_t len, off;
	ssize_t n;
	int r;

	msg = ipc_request_new(c->next_id, cmd, args);
	if (msg == NULL)
		return -ENOMEM;
	r = ipc_frame_encode(msg, &buf, &len);
	json_decref(msg);
	if (r != 0)
		return r;
	if (id != NULL)
		*id = c->next_id;
	c->next_id++;
	for (off = 0; off < len; off += (size_t)n) {
		n = send(c->fd, buf + off, len - off, MSG_NOSIGNAL);
		if (n == -1) {
			if (errno == EINTR) {
				n = 0;
				continue;
			}
			r = -errno;
			break;
		}
	}
	free(buf);
	return r;
}

/*
 * Wait for the next message, at most timeout_ms (-1: forever).  0 and
 * *reply set; -ETIMEDOUT; -ECONNRESET when the daemon closed the
 * connection; -EBADMSG for a frame that cannot be read; -EINTR when a
 * signal interrupted the wait.
 */
int
ipc_client_recv(struct ipc_client *c, json_t **reply, int timeout_ms)
{
	long long deadline = timeout_ms < 0 ? -1 : util_now_ms() + timeout_ms;
	struct pollfd pfd;
	char buf[65536], err[256];
	ssize_t n;
	int r, wait;

	*reply = NULL;
	for (;;) {
		r = ipc_decoder_next(&c->dec, reply, err, sizeof err);
		if (r == 1)
			return 0;
		if (r < 0)
			return -EBADMSG;
		wait = -1;
		if (deadline >= 0) {
			long long left = deadline - util_now_ms();
			if (left <= 0)
				return -ETIMEDOUT;
			wait = (int)left;
		}
		pfd.fd = c->fd;
		pfd.events = POLLIN;
		r = poll(&pfd, 1, wait);
		if (r == -1)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = read(c->fd, buf, sizeof buf);
		if (n == -1) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			return -ECONNRESET;
		if (ipc_decoder_feed(&c->dec, buf, (size_t)n) != 0)
			return -ENOMEM;
	}
}
