/*
 * libclusterctl-share.so: the preload library of cluster mode.
 *
 * bind() of a TCP or Unix stream socket to a fixed address is only noted:
 * the decision comes at listen().  A socket that listens asks the daemon
 * for its listening socket for that address (a "share" request on the
 * control socket, framed as in docs/protocol.md) and puts the socket it
 * receives (SCM_RIGHTS) in place of the app's own; a socket that connects
 * instead (a client with a fixed local port, `curl --local-port`) is bound
 * for real first and left alone.  If the daemon cannot be reached, the
 * real bind() and listen() run and a line on stderr says so.
 *
 * What one instance does to a socket it shares must not reach the others
 * that hold the same socket (the instances of the shared mode, or an old
 * and a new instance of one slot during a reload):
 * - shutdown() puts a dead socket in the app's descriptor instead, so only
 *   this process stops accepting;
 * - O_NONBLOCK belongs to the shared file description: it stays set, and
 *   the app's own view (fcntl, ioctl FIONBIO) is kept here; accept() in a
 *   socket the app thinks blocking waits in poll();
 * - unlink() of a Unix socket path the daemon shares does nothing (the
 *   daemon removes it when the app stops).
 *
 * Built alone (-fPIC -shared, libc and libdl only): no jansson here, so
 * the little JSON it speaks is written and read by hand.
 */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* Built without _GNU_SOURCE, so bind() takes a plain sockaddr pointer. */
#ifndef RTLD_NEXT
#define RTLD_NEXT ((void *)-1l)
#endif
#ifndef SO_REUSEPORT
#define SO_REUSEPORT 15
#endif

#define REPLY_MAX 4096

/*
 * One socket this library knows: a bind noted and not done yet (pending:
 * by descriptor and inode), or a socket the daemon shares (by inode, so a
 * dup of it is the same socket).
 */
struct rec {
	int pending;
	int fd;
	ino_t ino;
	dev_t dev;
	int app_nonblock; /* what the app set, for a shared socket */
	struct sockaddr_storage sa;
	socklen_t salen;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + PATH_MAX];
};

static struct rec *recs;
static size_t nrecs, caprecs;
static volatile int recs_lock;

static int (*real_bind)(int, const struct sockaddr *, socklen_t);
static int (*real_listen)(int, int);
static int (*real_connect)(int, const struct sockaddr *, socklen_t);
static int (*real_getsockname)(int, struct sockaddr *, socklen_t *);
static int (*real_shutdown)(int, int);
static int (*real_accept4)(int, struct sockaddr *, socklen_t *, int);
static int (*real_fcntl)(int, int, ...);
static int (*real_fcntl64)(int, int, ...);
static int (*real_ioctl)(int, unsigned long, ...);
static int (*real_unlink)(const char *);
static int (*real_unlinkat)(int, const char *, int);

#define REAL(name) \
	(real_##name != NULL ? 0 : \
	    (*(void **)&real_##name = dlsym(RTLD_NEXT, #name), 0), \
	    real_##name)

static void
lock(void)
{
	while (__atomic_exchange_n(&recs_lock, 1, __ATOMIC_ACQUIRE))
		;
}

static void
unlock(void)
{
	__atomic_store_n(&recs_lock, 0, __ATOMIC_RELEASE);
}

/* The record for fd (pending ones by descriptor too), or -1; locked. */
static long
rec_find(int fd, int pending)
{
	struct stat st;
	size_t i;

	if (nrecs == 0 || fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode))
		return -1;
	for (i = 0; i < nrecs; i++)
		if (recs[i].ino == st.st_ino && recs[i].dev == st.st_dev &&
		    recs[i].pending == pending &&
		    (!pending || recs[i].fd == fd))
			return (long)i;
	return -1;
}

/* A new record for fd (no limit but memory), or NULL; locked. */
static struct rec *
rec_add(int fd)
{
	struct stat st;
	struct rec *r;
	size_t n;

	if (fstat(fd, &st) != 0)
		return NULL;
	if (nrecs == caprecs) {
		n = caprecs ? caprecs * 2 : 16;
		if ((r = realloc(recs, n * sizeof *r)) == NULL)
			return NULL;
		recs = r;
		caprecs = n;
	}
	r = &recs[nrecs++];
	memset(r, 0, sizeof *r);
	r->fd = fd;
	r->ino = st.st_ino;
	r->dev = st.st_dev;
	return r;
}

static void
rec_del(long i)
{
	recs[i] = recs[--nrecs];
}

/* A line on stderr: what the app's own log will show. */
static void
say(const char *what)
{
	char buf[1024];
	int n;

	n = snprintf(buf, sizeof buf, "clusterctl: the daemon did not share "
	    "%s; binding alone\n", what);
	if (n > 0)
		(void)!write(2, buf, (size_t)n < sizeof buf ? (size_t)n :
		    sizeof buf - 1);
}

/* Append s to buf as a JSON string (quoted, escaped). */
static size_t
json_str(char *buf, size_t off, size_t cap, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char c;

	if (off < cap)
		buf[off] = '"';
	off++;
	for (; *s != '\0'; s++) {
		c = (unsigned char)*s;
		if (off + 7 >= cap)
			return cap;
		if (c == '"' || c == '\\') {
			buf[off++] = '\\';
			buf[off++] = (char)c;
		} else if (c < 0x20) {
			memcpy(buf + off, "\\u00", 4);
			buf[off + 4] = hex[c >> 4];
			buf[off + 5] = hex[c & 15];
			off += 6;
		} else
			buf[off++] = (char)c;
	}
	if (off < cap)
		buf[off] = '"';
	return off + 1;
}

/* The door's socket as the program was started with it (door_note). */
static ino_t door_ino;
static dev_t door_dev;

/*
 * Note which socket the door is when the program starts: an app may close
 * the descriptor and reuse its number, and then the library must not
 * write to whatever holds it.
 */
static void door_note(void) __attribute__((constructor));
static void
door_note(void)
{
	const char *door = getenv("CLUSTERCTL_SHARE_FD");
	struct stat st;

	if (door != NULL && *door >= '0' && *door <= '9' &&
	    fstat(atoi(door), &st) == 0 && S_ISSOCK(st.st_mode)) {
		door_ino = st.st_ino;
		door_dev = st.st_dev;
	}
}

/*
 * An app run as another user than the daemon's (--uid) cannot reach the
 * control socket: it knocks on the door it inherited (fd door), handing
 * the daemon one end of a new socket pair, and speaks on the other.
 */
static int
door_connect(int door)
{
	char cbuf[CMSG_SPACE(sizeof(int))], byte = 'k';
	struct timeval tv = { 10, 0 };
	struct cmsghdr *cm;
	struct msghdr mh;
	struct iovec iov;
	struct stat st;
	int sv[2];
	ssize_t n;

	if (fstat(door, &st) != 0 || st.st_ino != door_ino ||
	    st.st_dev != door_dev || door_ino == 0)
		return -1; /* not the door any more */
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == -1)
		return -1;
	memset(&mh, 0, sizeof mh);
	memset(cbuf, 0, sizeof cbuf);
	iov.iov_base = &byte;
	iov.iov_len = 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof cbuf;
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &sv[1], sizeof(int));
	do
		n = sendmsg(door, &mh, MSG_NOSIGNAL);
	while (n == -1 && errno == EINTR);
	close(sv[1]);
	if (n != 1) {
		close(sv[0]);
		return -1;
	}
	(void)setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	(void)setsockopt(sv[0], SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	return sv[0];
}

/*
 * Connect to $CLUSTERCTL_SOCK (through its directory when too long), or
 * through the door of $CLUSTERCTL_SHARE_FD.
 */
static int
daemon_connect(void)
{
	const char *path = getenv("CLUSTERCTL_SOCK"), *base;
	const char *door = getenv("CLUSTERCTL_SHARE_FD");
	struct sockaddr_un sa;
	struct timeval tv = { 10, 0 };
	char dir[PATH_MAX];
	int fd, dirfd = -1, r;

	if (door != NULL && *door >= '0' && *door <= '9')
		return door_connect(atoi(door));
	if (path == NULL || *path == '\0')
		return -1;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	if (strlen(path) < sizeof sa.sun_path)
		memcpy(sa.sun_path, path, strlen(path) + 1);
	else {
		if ((base = strrchr(path, '/')) == NULL ||
		    (size_t)(base - path) >= sizeof dir)
			return -1;
		memcpy(dir, path, (size_t)(base - path));
		dir[base - path] = '\0';
		if ((dirfd = open(dir[0] ? dir : "/", O_RDONLY | O_DIRECTORY |
		    O_CLOEXEC)) == -1)
			return -1;
		snprintf(sa.sun_path, sizeof sa.sun_path, "/proc/self/fd/%d/%s",
		    dirfd, base + 1);
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd == -1) {
		if (dirfd != -1)
			close(dirfd);
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
	do
		r = REAL(connect)(fd, (struct sockaddr *)&sa, sizeof sa);
	while (r == -1 && errno == EINTR);
	if (dirfd != -1)
		close(dirfd);
	if (r == -1) {
		close(fd);
		return -1;
	}
	return fd;
}

static int
write_all(int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Send the share request in args (a JSON object) and read the reply:
 * 0 (with *newfd, or -1 when the reply carries none), a positive errno
 * the daemon's bind failed with, or -1 when the daemon cannot answer.
 */
static int
ask_daemon(const char *args, int *newfd)
{
	char req[PATH_MAX + 512], reply[REPLY_MAX + 1];
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr mh;
	struct cmsghdr *cm;
	struct iovec iov;
	uint32_t len;
	size_t got = 0, want = 4;
	ssize_t n;
	const char *p;
	int fd, rfd = -1, e, saved = errno;

	*newfd = -1;
	n = snprintf(req + 4, sizeof req - 4,
	    "{\"v\":1,\"id\":1,\"cmd\":\"share\",\"args\":%s}", args);
	if (n <= 0 || (size_t)n >= sizeof req - 4)
		return -1;
	len = htonl((uint32_t)n);
	memcpy(req, &len, 4);
	if ((fd = daemon_connect()) == -1) {
		errno = saved;
		return -1;
	}
	if (write_all(fd, req, (size_t)n + 4) != 0)
		goto fail;
	while (got < want) {
		memset(&mh, 0, sizeof mh);
		iov.iov_base = reply + got;
		iov.iov_len = want - got;
		mh.msg_iov = &iov;
		mh.msg_iovlen = 1;
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof cbuf;
		n = recvmsg(fd, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			goto fail;
		for (cm = CMSG_FIRSTHDR(&mh); cm != NULL;
		    cm = CMSG_NXTHDR(&mh, cm))
			if (cm->cmsg_level == SOL_SOCKET &&
			    cm->cmsg_type == SCM_RIGHTS && rfd == -1)
				memcpy(&rfd, CMSG_DATA(cm), sizeof rfd);
		got += (size_t)n;
		if (got == 4 && want == 4) {
			memcpy(&len, reply, 4);
			len = ntohl(len);
			if (len == 0 || len > REPLY_MAX - 4)
				goto fail;
			want = 4 + len;
		}
	}
	close(fd);
	reply[got] = '\0';
	errno = saved;
	if (strstr(reply + 4, "\"ok\":true") != NULL) {
		*newfd = rfd;
		return 0;
	}
	if (rfd != -1)
		close(rfd);
	if ((p = strstr(reply + 4, "\"errno\":")) != NULL &&
	    (e = atoi(p + 8)) > 0)
		return e;
	return -1;
fail:
	if (rfd != -1)
		close(rfd);
	close(fd);
	errno = saved;
	return -1;
}

/* An absolute path for a Unix socket address, or 0. */
static int
unix_path(const struct sockaddr_un *su, socklen_t salen, char *path,
    size_t cap)
{
	char cwd[PATH_MAX];
	size_t plen;

	if (salen <= offsetof(struct sockaddr_un, sun_path) ||
	    su->sun_path[0] == '\0')
		return 0; /* unnamed or abstract */
	plen = strnlen(su->sun_path, salen -
	    offsetof(struct sockaddr_un, sun_path));
	if (plen >= sizeof su->sun_path)
		return 0;
	if (su->sun_path[0] == '/')
		return snprintf(path, cap, "%.*s", (int)plen, su->sun_path) <
		    (int)cap;
	if (getcwd(cwd, sizeof cwd) == NULL)
		return 0;
	return snprintf(path, cap, "%s/%.*s", cwd, (int)plen, su->sun_path) <
	    (int)cap;
}

/* Whether a bind of fd to sa is one to share (a stream socket, a fixed
 * address). */
static int
shareable(int fd, const struct sockaddr *sa, socklen_t salen)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
	char path[PATH_MAX + 110];
	int type = 0;
	socklen_t len = sizeof type;

	if (sa == NULL || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type,
	    &len) != 0 || type != SOCK_STREAM)
		return 0;
	switch (sa->sa_family) {
	case AF_INET:
		return salen >= sizeof *s4 && s4->sin_port != 0;
	case AF_INET6:
		return salen >= sizeof *s6 && s6->sin6_port != 0 &&
		    s6->sin6_scope_id == 0;
	case AF_UNIX:
		return unix_path((const struct sockaddr_un *)sa, salen, path,
		    sizeof path);
	}
	return 0;
}

/* The share request for a listen() of fd bound (noted) to r's address. */
static int
share_args(int fd, const struct rec *r, int backlog, char *buf, size_t cap)
{
	const struct sockaddr *sa = (const struct sockaddr *)&r->sa;
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
	char host[INET6_ADDRSTRLEN];
	int v6only = 0, reuseport = 0;
	socklen_t len = sizeof reuseport;
	size_t off;

	if (getsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &reuseport, &len) != 0)
		reuseport = 0;
	switch (sa->sa_family) {
	case AF_INET:
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		return snprintf(buf, cap, "{\"family\":\"inet\",\"addr\":\"%s\","
		    "\"port\":%d,\"backlog\":%d,\"reuseport\":%s}", host,
		    ntohs(s4->sin_port), backlog, reuseport ? "true" :
		    "false") < (int)cap;
	case AF_INET6:
		len = sizeof v6only;
		if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
		    &len) != 0)
			v6only = 0;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		return snprintf(buf, cap, "{\"family\":\"inet6\",\"addr\":"
		    "\"%s\",\"port\":%d,\"v6only\":%s,\"backlog\":%d,"
		    "\"reuseport\":%s}", host, ntohs(s6->sin6_port),
		    v6only ? "true" : "false", backlog, reuseport ? "true" :
		    "false") < (int)cap;
	case AF_UNIX:
		off = (size_t)snprintf(buf, cap,
		    "{\"family\":\"unix\",\"backlog\":%d,\"addr\":", backlog);
		off = json_str(buf, off, cap, r->path);
		if (off + 2 > cap)
			return 0;
		buf[off++] = '}';
		buf[off] = '\0';
		return 1;
	}
	return 0;
}

static int
enabled(void)
{
	return getenv("CLUSTERCTL_SHARE") != NULL;
}

/* bind(): a fixed stream address is noted, and bound at listen/connect. */
int
bind(int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct rec *r;
	long i;

	if (REAL(bind) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (!enabled() || !shareable(fd, sa, salen) ||
	    salen > sizeof r->sa)
		return real_bind(fd, sa, salen);
	lock();
	if ((i = rec_find(fd, 1)) >= 0) {
		unlock();
		errno = EINVAL; /* bound already */
		return -1;
	}
	if ((r = rec_add(fd)) == NULL) {
		unlock();
		return real_bind(fd, sa, salen);
	}
	r->pending = 1;
	memcpy(&r->sa, sa, salen);
	r->salen = salen;
	if (sa->sa_family == AF_UNIX)
		(void)unix_path((const struct sockaddr_un *)sa, salen, r->path,
		    sizeof r->path);
	unlock();
	return 0;
}

/* Take fd's pending record out: its copy in *out; 0, or -1: none. */
static int
take_pending(int fd, struct rec *out)
{
	long i;

	lock();
	if ((i = rec_find(fd, 1)) < 0) {
		unlock();
		return -1;
	}
	*out = recs[i];
	rec_del(i);
	unlock();
	return 0;
}

/* listen(): a noted bind gets the daemon's socket for its address. */
int
listen(int fd, int backlog)
{
	char args[PATH_MAX + 256];
	struct rec pend, *r;
	int newfd, e, fl, fdfl;

	if (REAL(listen) == NULL || REAL(bind) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (take_pending(fd, &pend) != 0)
		return real_listen(fd, backlog);
	if (!share_args(fd, &pend, backlog, args, sizeof args) ||
	    (e = ask_daemon(args, &newfd)) < 0 || newfd == -1) {
		say(args);
		if (real_bind(fd, (struct sockaddr *)&pend.sa, pend.salen) != 0)
			return -1;
		return real_listen(fd, backlog);
	}
	if (e > 0) {
		errno = e;
		return -1;
	}
	/* The daemon's socket takes the app's descriptor number, with the
	 * app's close-on-exec flag; its O_NONBLOCK is the app's only in
	 * the app's view (the shared description stays non-blocking). */
	fl = REAL(fcntl)(fd, F_GETFL);
	fdfl = real_fcntl(fd, F_GETFD);
	if (dup2(newfd, fd) == -1) {
		e = errno;
		close(newfd);
		errno = e;
		return -1;
	}
	close(newfd);
	if (fdfl != -1)
		(void)real_fcntl(fd, F_SETFD, fdfl & FD_CLOEXEC);
	(void)real_fcntl(fd, F_SETFL, real_fcntl(fd, F_GETFL) | O_NONBLOCK);
	lock();
	if (rec_find(fd, 0) < 0 && (r = rec_add(fd)) != NULL) {
		r->app_nonblock = fl != -1 && (fl & O_NONBLOCK);
		memcpy(r->path, pend.path, sizeof r->path);
	}
	unlock();
	return 0;
}

/* connect(): a noted bind is a client's: bind it for real, then connect. */
int
connect(int fd, const struct sockaddr *sa, socklen_t salen)
{
	struct rec pend;

	if (REAL(connect) == NULL || REAL(bind) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (take_pending(fd, &pend) == 0 &&
	    real_bind(fd, (struct sockaddr *)&pend.sa, pend.salen) != 0)
		return -1;
	return real_connect(fd, sa, salen);
}

/* getsockname(): a noted bind shows the address it was given. */
int
getsockname(int fd, struct sockaddr *sa, socklen_t *salen)
{
	long i;
	socklen_t n;

	if (REAL(getsockname) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	lock();
	if (sa != NULL && salen != NULL && (i = rec_find(fd, 1)) >= 0) {
		n = *salen < recs[i].salen ? *salen : recs[i].salen;
		memcpy(sa, &recs[i].sa, n);
		*salen = recs[i].salen;
		unlock();
		return 0;
	}
	unlock();
	return real_getsockname(fd, sa, salen);
}

/* shutdown(): of a shared listening socket, for this process only. */
int
shutdown(int fd, int how)
{
	struct stat st;
	int dead, fdfl;
	long i;

	if (REAL(shutdown) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	lock();
	i = rec_find(fd, 0);
	unlock();
	if (i < 0)
		return real_shutdown(fd, how);
	/* A socket that was never bound nor listening: accept() on it
	 * fails with EINVAL, as on a shut-down listener. */
	if (fstat(fd, &st) != 0 ||
	    (dead = socket(AF_UNIX, SOCK_STREAM, 0)) == -1)
		return real_shutdown(fd, how);
	fdfl = REAL(fcntl)(fd, F_GETFD);
	if (dup2(dead, fd) == -1) {
		close(dead);
		return real_shutdown(fd, how);
	}
	close(dead);
	if (fdfl != -1)
		(void)real_fcntl(fd, F_SETFD, fdfl);
	return 0;
}

/* The app's view of O_NONBLOCK on a shared socket, or -1: not one. */
static int
app_nonblock(int fd)
{
	long i;
	int nb = -1;

	lock();
	if ((i = rec_find(fd, 0)) >= 0)
		nb = recs[i].app_nonblock;
	unlock();
	return nb;
}

static void
set_app_nonblock(int fd, int nb)
{
	long i;

	lock();
	if ((i = rec_find(fd, 0)) >= 0)
		recs[i].app_nonblock = nb;
	unlock();
}

/* accept4() on a shared socket the app thinks blocking waits in poll(). */
static int
accept_common(int fd, struct sockaddr *sa, socklen_t *salen, int flags)
{
	struct pollfd p;
	int r;

	if (REAL(accept4) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (recs == NULL || app_nonblock(fd) != 0)
		return real_accept4(fd, sa, salen, flags);
	for (;;) {
		r = real_accept4(fd, sa, salen, flags);
		if (r != -1 || (errno != EAGAIN && errno != EWOULDBLOCK))
			return r;
		p.fd = fd;
		p.events = POLLIN;
		p.revents = 0;
		if (poll(&p, 1, -1) == -1 && errno != EINTR)
			return -1;
		if (p.revents & (POLLNVAL | POLLERR)) {
			errno = EINVAL;
			return -1;
		}
	}
}

int
accept(int fd, struct sockaddr *sa, socklen_t *salen)
{
	return accept_common(fd, sa, salen, 0);
}

int accept4(int, struct sockaddr *, socklen_t *, int);

int
accept4(int fd, struct sockaddr *sa, socklen_t *salen, int flags)
{
	return accept_common(fd, sa, salen, flags);
}

/* fcntl() with the app's view of O_NONBLOCK on shared sockets (the
 * argument read as glibc does: one pointer-sized value). */
static int
fcntl_common(int (*real)(int, int, ...), int fd, int cmd, va_list ap)
{
	void *arg = va_arg(ap, void *);
	long flags;
	int nb, fl;

	if (real == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (cmd == F_GETFL) {
		fl = real(fd, cmd);
		if (fl != -1 && recs != NULL && (nb = app_nonblock(fd)) >= 0)
			fl = nb ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
		return fl;
	}
	if (cmd == F_SETFL && recs != NULL && app_nonblock(fd) >= 0) {
		flags = (long)(intptr_t)arg;
		set_app_nonblock(fd, (flags & O_NONBLOCK) != 0);
		return real(fd, cmd, flags | O_NONBLOCK);
	}
	return real(fd, cmd, arg);
}

int
fcntl(int fd, int cmd, ...)
{
	va_list ap;
	int r;

	va_start(ap, cmd);
	r = fcntl_common(REAL(fcntl), fd, cmd, ap);
	va_end(ap);
	return r;
}

int fcntl64(int, int, ...);

int
fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	int r;

	va_start(ap, cmd);
	r = fcntl_common(REAL(fcntl64) != NULL ? real_fcntl64 : REAL(fcntl),
	    fd, cmd, ap);
	va_end(ap);
	return r;
}

/* ioctl(FIONBIO) on a shared socket changes only the app's view. */
int
ioctl(int fd, unsigned long req, ...)
{
	va_list ap;
	void *arg;

	va_start(ap, req);
	arg = va_arg(ap, void *);
	va_end(ap);
	if (REAL(ioctl) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (req == FIONBIO && arg != NULL && recs != NULL &&
	    app_nonblock(fd) >= 0) {
		set_app_nonblock(fd, *(int *)arg != 0);
		return 0;
	}
	return real_ioctl(fd, req, arg);
}

/* Whether path names a Unix socket the daemon shares with this app. */
static int
daemon_owns_path(int dirfd, const char *path)
{
	char abs[PATH_MAX + 110], cwd[PATH_MAX], args[PATH_MAX + 256];
	struct stat st;
	size_t off, i;
	int newfd, found = 0;

	if (!enabled() || path == NULL || *path == '\0' ||
	    (dirfd != AT_FDCWD && path[0] != '/') ||
	    fstatat(AT_FDCWD, path, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !S_ISSOCK(st.st_mode))
		return 0;
	if (path[0] == '/')
		snprintf(abs, sizeof abs, "%s", path);
	else if (getcwd(cwd, sizeof cwd) == NULL ||
	    snprintf(abs, sizeof abs, "%s/%s", cwd, path) >= (int)sizeof abs)
		return 0;
	lock();
	for (i = 0; i < nrecs && !found; i++)
		found = !recs[i].pending && strcmp(recs[i].path, abs) == 0;
	unlock();
	if (found)
		return 1;
	/* Another instance's: ask the daemon. */
	off = (size_t)snprintf(args, sizeof args,
	    "{\"family\":\"unix\",\"op\":\"unlink\",\"addr\":");
	off = json_str(args, off, sizeof args, abs);
	if (off + 2 > sizeof args)
		return 0;
	args[off++] = '}';
	args[off] = '\0';
	if (ask_daemon(args, &newfd) != 0)
		return 0;
	if (newfd != -1)
		close(newfd);
	return 1;
}

/* unlink(): a shared Unix socket's path stays: the daemon removes it. */
int
unlink(const char *path)
{
	if (REAL(unlink) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (daemon_owns_path(AT_FDCWD, path))
		return 0;
	return real_unlink(path);
}

int
unlinkat(int dirfd, const char *path, int flags)
{
	if (REAL(unlinkat) == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (!(flags & AT_REMOVEDIR) && daemon_owns_path(dirfd, path))
		return 0;
	return real_unlinkat(dirfd, path, flags);
}
