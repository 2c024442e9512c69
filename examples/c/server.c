/*
 * A small HTTP server in C for clusterctl, the systemd way: it takes its
 * listening sockets from LISTEN_FDS (clusterctl start ./server --listen
 * 8000), checks LISTEN_PID, says READY=1 on NOTIFY_SOCKET, and drains on
 * SIGTERM or SIGINT: it stops accepting, answers the requests it has, and
 * exits.  Without LISTEN_FDS it binds $PORT (default 8000) itself.
 * Each answer is "pid N\n", so a client sees which instance answered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_LISTEN 16

static volatile sig_atomic_t draining;

static void
on_signal(int sig)
{
	(void)sig;
	draining = 1;
}

/* sd_notify by hand: one datagram to $NOTIFY_SOCKET ("@" is abstract). */
static void
notify(const char *msg)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	socklen_t len;
	int fd;

	if (path == NULL || *path == '\0' || strlen(path) >= sizeof sa.sun_path)
		return;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	strcpy(sa.sun_path, path);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return;
	(void)sendto(fd, msg, strlen(msg), 0, (struct sockaddr *)&sa, len);
	close(fd);
}

/* The sockets systemd-style: fds 3.. if LISTEN_PID is ours. */
static int
listen_fds(int *fds)
{
	const char *n = getenv("LISTEN_FDS"), *pid = getenv("LISTEN_PID");
	int i, count;

	if (n == NULL || pid == NULL || atol(pid) != (long)getpid())
		return 0;
	count = atoi(n);
	if (count > MAX_LISTEN)
		count = MAX_LISTEN;
	for (i = 0; i < count; i++)
		fds[i] = 3 + i;
	return count;
}

static int
bind_port(void)
{
	struct sockaddr_in sa;
	const char *p = getenv("PORT");
	int fd, one = 1;

	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((unsigned short)(p != NULL ? atoi(p) : 8000));
	if (bind(fd, (struct sockaddr *)&sa, sizeof sa) == -1 ||
	    listen(fd, 128) == -1) {
		perror("server: bind");
		exit(1);
	}
	return fd;
}

/* Read one request (to the blank line), answer it, close. */
static void
serve(int c)
{
	char buf[4096], out[128];
	size_t got = 0;
	ssize_t n;
	int len;

	while (got < sizeof buf - 1) {
		n = read(c, buf + got, sizeof buf - 1 - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		if (strstr(buf, "\r\n\r\n") != NULL)
			break;
	}
	len = snprintf(out, sizeof out, "pid %ld\n", (long)getpid());
	dprintf(c, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
	    "Content-Length: %d\r\nConnection: close\r\n\r\n%s", len, out);
	close(c);
}

int
main(void)
{
	struct pollfd pf[MAX_LISTEN];
	struct sigaction sa;
	int fds[MAX_LISTEN], n, i, c;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((n = listen_fds(fds)) == 0) {
		fds[0] = bind_port();
		n = 1;
	}
	/* Instances share these sockets: never block in accept(). */
	for (i = 0; i < n; i++)
		(void)fcntl(fds[i], F_SETFL, O_NONBLOCK);
	notify("READY=1\nSTATUS=serving");
	while (!draining) {
		for (i = 0; i < n; i++) {
			pf[i].fd = fds[i];
			pf[i].events = POLLIN;
		}
		if (poll(pf, (nfds_t)n, -1) < 0)
			continue; /* EINTR: maybe draining */
		for (i = 0; i < n; i++) {
			if (!(pf[i].revents & POLLIN))
				continue;
			c = accept4(fds[i], NULL, NULL, SOCK_CLOEXEC);
			if (c == -1)
				continue; /* another instance took it */
			serve(c);
		}
	}
	/* Draining: no new connections (the port stays open in the
	 * daemon for the other instances); nothing is in flight here. */
	notify("STOPPING=1");
	for (i = 0; i < n; i++)
		close(fds[i]);
	return 0;
}
