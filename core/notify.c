/*
 * The sd_notify socket: one datagram socket of the daemon, given to every
 * instance as NOTIFY_SOCKET.  The kernel tells the sender's pid
 * (SO_PASSCRED); the daemon's callback finds the instance from it (the
 * pid's session), so a process cannot speak for another app.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core.h"

static uv_poll_t poller;
static int notify_fd = -1;
static void (*deliver)(pid_t, const char *, size_t); /* the layer above */
static char notify_path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];

/* The socket's descriptor, for an upgrade's handover, or -1. */
int
notify_fd_get(void)
{
	return notify_fd;
}

/* NOTIFY_SOCKET for the instances, or NULL when there is none. */
const char *
notify_socket_path(void)
{
	return notify_fd != -1 ? notify_path : NULL;
}

static void
notify_cb(uv_poll_t *h, int status, int events)
{
	char buf[4096],
	    cbuf[CMSG_SPACE(sizeof(struct ucred)) +
		CMSG_SPACE(sizeof(int) * 8)];
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *cm;
	struct ucred cred;
	ssize_t n;
	int have_cred, k;

	(void)h;
	(void)events;
	if (status != 0)
		return;
	for (;;) {
		memset(&mh, 0, sizeof mh);
		iov.iov_base = buf;
		iov.iov_len = sizeof buf - 1;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof cbuf;
		n = recvmsg(notify_fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno != EINTR && errno != EAGAIN &&
			    errno != EWOULDBLOCK)
				log_warn("notify socket");
			if (errno == EINTR)
				continue;
			return;
		}
		have_cred = 0;
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL;
		     cm = CMSG_NXTHDR(&mh, cm)) {
			if (cm->cmsg_level != SOL_SOCKET)
				continue;
			if (cm->cmsg_type == SCM_CREDENTIALS) {
				memcpy(&cred, CMSG_DATA(cm), sizeof cred);
				have_cred = 1;
			} else if (cm->cmsg_type == SCM_RIGHTS) {
				/* Descriptors are not ours to keep. */
				for (k = 0; (size_t)k <
				     (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
				     k++) {
					int fd;

					memcpy(&fd,
					    CMSG_DATA(cm) +
						(size_t)k * sizeof(int),
					    sizeof fd);
					close(fd);
				}
			}
		}
		if (!have_cred || cred.uid != getuid())
			continue;
		buf[n] = '\0';
		deliver(cred.pid, buf, (size_t)n);
	}
}

/*
 * Open $CLUSTERCTL_HOME/notify (an abstract address when the path is too
 * long for a socket address); each datagram of ours goes to fn with its
 * sender's pid.  0, or a negative errno: the daemon runs on without
 * sd_notify support.
 */
int
notify_open(void (*fn)(pid_t, const char *, size_t))
{
	struct sockaddr_un sa;
	socklen_t salen;
	int fd, one = 1, r;

	/* The image before an upgrade handed it over (core/upgrade.c). */
	int kept = keeper_take("notify");

	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(home) + strlen("/notify") < sizeof sa.sun_path) {
		snprintf(sa.sun_path, sizeof sa.sun_path, "%s/notify", home);
		if (kept == -1)
			(void)unlink(sa.sun_path);
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    strlen(sa.sun_path) + 1);
		snprintf(notify_path, sizeof notify_path, "%s", sa.sun_path);
	} else {
		/* "@name" in NOTIFY_SOCKET is the abstract "\0name". */
		snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1,
		    "clusterctl/%ld/notify", (long)getpid());
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
		    strlen(sa.sun_path + 1));
		snprintf(notify_path, sizeof notify_path, "@%s",
		    sa.sun_path + 1);
	}
	if ((fd = kept) != -1)
		goto serve;
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1)
		return -errno;
	if (bind(fd, (struct sockaddr *)&sa, salen) == -1 ||
	    setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) == -1) {
		r = -errno;
		close(fd);
		return r;
	}
serve:
	if ((r = uv_poll_init(loop, &poller, fd)) != 0) {
		close(fd);
		return r;
	}
	notify_fd = fd;
	deliver = fn;
	uv_poll_start(&poller, UV_READABLE, notify_cb);
	uv_unref((uv_handle_t *)&poller);
	return 0;
}
