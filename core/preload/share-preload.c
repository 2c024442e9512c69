/*
 * libclusterctl-share.so: the preload library of cluster mode.  It
 * intercepts bind() of a TCP or Unix stream socket to a fixed address,
 * asks the daemon for its listening socket for that address (a "share"
 * request on the control socket, framed as in docs/protocol.md), and puts
 * the socket it receives (SCM_RIGHTS) in place of the app's own, so every
 * instance of the app accepts from the one socket the daemon keeps open.
 * listen() on such a socket does nothing: it is listening already, with
 * the daemon's backlog.  Anything else binds as usual; if the daemon
 * cannot be reached, the real bind() runs and a line on stderr says so.
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
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

/* Built without _GNU_SOURCE, so bind() takes a plain sockaddr pointer. */
#ifndef RTLD_NEXT
#define RTLD_NEXT ((void *)-1l)
#endif

#define MAX_SHARED 64
#define REPLY_MAX 4096

static int (*real_bind)(int, const struct sockaddr *, socklen_t);
static int (*real_listen)(int, int);
/* The inodes of the sockets we put in place (listen() skips those). */
static ino_t shared_ino[MAX_SHARED];
static int nshared;

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

/* Connect to $CLUSTERCTL_SOCK (through its directory when too long). */
static int
daemon_connect(void)
{
	const char *path = getenv("CLUSTERCTL_SOCK"), *base;
	struct sockaddr_un sa;
	struct timeval tv = { 10, 0 };
	char dir[PATH_MAX];
	int fd, dirfd = -1, r;

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
		r = connect(fd, (struct sockaddr *)&sa, sizeof sa);
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
 * 0 with *newfd, a positive errno the daemon's bind failed with, or -1
 * when the daemon cannot answer (the caller binds by itself).
 */
static int
ask_daemon(const char *args, int *newfd)
{
	char req[1024], reply[REPLY_MAX + 1], cbuf[CMSG_SPACE(sizeof(int))];
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
	if (strstr(reply + 4, "\"ok\":true") != NULL && rfd != -1) {
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

/* The share request for a bind of fd to sa, or 0 if it is not shared. */
static int
share_args(int fd, const struct sockaddr *sa, socklen_t salen, char *buf,
    size_t cap)
{
	const struct sockaddr_in *s4 = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)sa;
	const struct sockaddr_un *su = (const struct sockaddr_un *)sa;
	char host[INET6_ADDRSTRLEN], path[PATH_MAX + 110], cwd[PATH_MAX];
	int type = 0, v6only = 0;
	socklen_t len = sizeof type;
	size_t off, plen;

	if (sa == NULL || getsockopt(fd, SOL_SOCKET, SO_TYPE, &type,
	    &len) != 0 || type != SOCK_STREAM)
		return 0;
	switch (sa->sa_family) {
	case AF_INET:
		if (salen < sizeof *s4 || s4->sin_port == 0)
			return 0;
		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof host);
		return snprintf(buf, cap, "{\"family\":\"inet\",\"addr\":\"%s\","
		    "\"port\":%d}", host, ntohs(s4->sin_port)) < (int)cap;
	case AF_INET6:
		if (salen < sizeof *s6 || s6->sin6_port == 0 ||
		    s6->sin6_scope_id != 0)
			return 0;
		len = sizeof v6only;
		if (getsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only,
		    &len) != 0)
			v6only = 0;
		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof host);
		return snprintf(buf, cap, "{\"family\":\"inet6\",\"addr\":"
		    "\"%s\",\"port\":%d,\"v6only\":%s}", host,
		    ntohs(s6->sin6_port), v6only ? "true" : "false") <
		    (int)cap;
	case AF_UNIX:
		if (salen <= offsetof(struct sockaddr_un, sun_path) ||
		    su->sun_path[0] == '\0')
			return 0; /* unnamed or abstract */
		plen = strnlen(su->sun_path, salen -
		    offsetof(struct sockaddr_un, sun_path));
		if (plen >= sizeof su->sun_path)
			return 0;
		if (su->sun_path[0] == '/')
			snprintf(path, sizeof path, "%.*s", (int)plen,
			    su->sun_path);
		else if (getcwd(cwd, sizeof cwd) != NULL)
			snprintf(path, sizeof path, "%s/%.*s", cwd, (int)plen,
			    su->sun_path);
		else
			return 0;
		off = (size_t)snprintf(buf, cap,
		    "{\"family\":\"unix\",\"addr\":");
		off = json_str(buf, off, cap, path);
		if (off + 2 > cap)
			return 0;
		buf[off++] = '}';
		buf[off] = '\0';
		return 1;
	}
	return 0;
}

/* bind(): the daemon's shared socket for fixed addresses, in cluster mode. */
int
bind(int fd, const struct sockaddr *sa, socklen_t salen)
{
	char args[PATH_MAX + 256];
	struct stat st;
	int newfd, e, fl, fdfl;

	if (real_bind == NULL)
		*(void **)&real_bind = dlsym(RTLD_NEXT, "bind");
	if (real_bind == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (getenv("CLUSTERCTL_SHARE") == NULL ||
	    !share_args(fd, sa, salen, args, sizeof args))
		return real_bind(fd, sa, salen);
	e = ask_daemon(args, &newfd);
	if (e < 0) {
		say(args);
		return real_bind(fd, sa, salen);
	}
	if (e > 0) {
		errno = e;
		return -1;
	}
	/* The daemon's socket takes the app's descriptor number, with the
	 * app's blocking mode and close-on-exec flag. */
	fl = fcntl(fd, F_GETFL);
	fdfl = fcntl(fd, F_GETFD);
	if (dup2(newfd, fd) == -1) {
		e = errno;
		close(newfd);
		errno = e;
		return -1;
	}
	close(newfd);
	if (fdfl != -1)
		(void)fcntl(fd, F_SETFD, fdfl & FD_CLOEXEC);
	if (fl != -1)
		(void)fcntl(fd, F_SETFL, fl & O_NONBLOCK);
	if (fstat(fd, &st) == 0 && nshared < MAX_SHARED)
		shared_ino[nshared++] = st.st_ino;
	return 0;
}

/* listen(): a shared socket listens already, with the daemon's backlog. */
int
listen(int fd, int backlog)
{
	struct stat st;
	int i;

	if (real_listen == NULL)
		*(void **)&real_listen = dlsym(RTLD_NEXT, "listen");
	if (real_listen == NULL) {
		errno = ENOSYS;
		return -1;
	}
	if (nshared > 0 && fstat(fd, &st) == 0)
		for (i = 0; i < nshared; i++)
			if (shared_ino[i] == st.st_ino)
				return 0;
	return real_listen(fd, backlog);
}
