/*
 * The sd_notify socket: one datagram socket of the daemon, given to every
 * instance as NOTIFY_SOCKET.  The kernel tells the sender's pid and uid
 * (SO_PASSCRED); the daemon's callback finds the instance from the pid
 * (its session), so a process cannot speak for another app.
 *
 * $CLUSTERCTL_HOME/notify is in the owner-only home, out of reach of the
 * apps a root daemon runs as another user (--uid).  Those get a second
 * socket in the abstract namespace (NOTIFY_SOCKET=@..., which sd_notify(3)
 * takes), under a name with 128 random bits that nobody can take first.
 * Anyone may send to it, so nothing is believed but the kernel's word:
 * a datagram counts only when its sender's pid is an instance of an app
 * run as the sender's uid (the callback checks), and only as that
 * instance's readiness or status.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core.h"

/* One socket: the home's, or the one for other users' apps. */
struct nsock {
	uv_poll_t poller;
	int fd;
	int others; /* senders of any uid (the callback checks them) */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
};

static struct nsock own = { .fd = -1 }, others = { .fd = -1, .others = 1 };
/* the layer above */
static void (*deliver)(pid_t, uid_t, const char *, size_t);

/*
 * The descriptor of the home's socket (other_user 0) or of the one for
 * other users' apps, for an upgrade's handover, or -1.
 */
int
notify_fd_get(int other_user)
{
	return other_user ? others.fd : own.fd;
}

/*
 * NOTIFY_SOCKET for the instances of an app run as another user
 * (other_user), or as the daemon's; NULL when there is none.
 */
const char *
notify_socket_path(int other_user)
{
	const struct nsock *s = other_user ? &others : &own;

	return s->fd != -1 ? s->path : NULL;
}

static void
notify_cb(uv_poll_t *h, int status, int events)
{
	struct nsock *s = h->data;
	struct ucred cred;
	char buf[4096];
	ssize_t n;
	int have_cred, nfds;

	(void)events;
	if (status != 0)
		return;
	/* Descriptors are not ours to keep: none is taken. */
	while ((n = server_recv_dgram(s->fd, buf, sizeof buf - 1, &cred,
		    &have_cred, NULL, 0, &nfds)) >= 0) {
		if (!have_cred || (!s->others && cred.uid != getuid()))
			continue;
		buf[n] = '\0';
		deliver(cred.pid, cred.uid, buf, (size_t)n);
	}
	if (errno != EAGAIN && errno != EWOULDBLOCK)
		log_warn("notify socket");
}

/*
 * Bind s at sa (or take kept, the socket the image before an upgrade
 * handed over, core/upgrade.c) and poll it: 0, or a negative errno.
 */
static int
nsock_open(struct nsock *s, const struct sockaddr_un *sa, socklen_t salen,
    int kept)
{
	int fd = kept, one = 1, r;

	if (fd == -1 &&
	    (fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
		 0)) == -1)
		return -errno;
	if (kept == -1 &&
	    (bind(fd, (const struct sockaddr *)sa, salen) == -1 ||
		setsockopt(fd, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) ==
		    -1)) {
		r = -errno;
		close(fd);
		return r;
	}
	if ((r = uv_poll_init(loop, &s->poller, fd)) != 0) {
		close(fd);
		return r;
	}
	s->fd = fd;
	s->poller.data = s;
	uv_poll_start(&s->poller, UV_READABLE, notify_cb);
	uv_unref((uv_handle_t *)&s->poller);
	return 0;
}

/*
 * A root daemon's socket for the apps it runs as other users: an
 * abstract address, "@clusterctl/PID/RANDOM/notify".
 */
static void
others_open(void)
{
	struct sockaddr_un sa;
	unsigned char rnd[16];
	char hex[33];
	socklen_t len = sizeof sa;
	size_t i;
	int r, kept = keeper_take("notify-others");

	if (geteuid() != 0)
		return;
	/* Handed over by an upgrade: the same name, which the adopted
	 * instances have in their NOTIFY_SOCKET. */
	memset(&sa, 0, sizeof sa);
	if (kept != -1 &&
	    getsockname(kept, (struct sockaddr *)&sa, &len) == 0 &&
	    len > offsetof(struct sockaddr_un, sun_path) + 1 &&
	    sa.sun_path[0] == '\0') {
		snprintf(others.path, sizeof others.path, "@%.*s",
		    (int)(len - offsetof(struct sockaddr_un, sun_path) - 1),
		    sa.sun_path + 1);
		if ((r = nsock_open(&others, &sa, len, kept)) != 0)
			log_warnx("no notify socket for apps run as other "
				  "users: %s",
			    uv_strerror(r));
		return;
	}
	if (kept != -1)
		close(kept);
	if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
		log_warn("no notify socket for apps run as other users");
		return;
	}
	for (i = 0; i < sizeof rnd; i++)
		snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1,
	    "clusterctl/%ld/%s/notify", (long)getpid(), hex);
	snprintf(others.path, sizeof others.path, "@%s", sa.sun_path + 1);
	if ((r = nsock_open(&others, &sa,
		 (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
		     strlen(sa.sun_path + 1)),
		 -1)) != 0)
		log_warnx("no notify socket for apps run as other users: %s",
		    uv_strerror(r));
}

/*
 * Open $CLUSTERCTL_HOME/notify (an abstract address when the path is too
 * long for a socket address), and as root the socket for other users'
 * apps; each datagram goes to fn with its sender's pid and uid (from the
 * home's socket, only the daemon's uid).  0, or a negative errno: the
 * daemon runs on without sd_notify support.
 */
int
notify_open(void (*fn)(pid_t, uid_t, const char *, size_t))
{
	struct sockaddr_un sa;
	socklen_t salen;
	int r;

	/* The image before an upgrade handed it over (core/upgrade.c). */
	int kept = keeper_take("notify");

	deliver = fn;
	others_open();
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(home) + strlen("/notify") < sizeof sa.sun_path) {
		snprintf(sa.sun_path, sizeof sa.sun_path, "%s/notify", home);
		if (kept == -1)
			(void)unlink(sa.sun_path);
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    strlen(sa.sun_path) + 1);
		snprintf(own.path, sizeof own.path, "%s", sa.sun_path);
	} else {
		/* "@name" in NOTIFY_SOCKET is the abstract "\0name". */
		snprintf(sa.sun_path + 1, sizeof sa.sun_path - 1,
		    "clusterctl/%ld/notify", (long)getpid());
		salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 +
		    strlen(sa.sun_path + 1));
		snprintf(own.path, sizeof own.path, "@%s", sa.sun_path + 1);
	}
	r = nsock_open(&own, &sa, salen, kept);
	return r;
}
