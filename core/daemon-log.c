/*
 * The daemon's own log: timestamped lines in $CLUSTERCTL_HOME/daemon.log
 * (OpenSMTPD log.c), written by log_info, log_warn and friends.  Before
 * log_open() it writes to stderr.  The apps' logs are elsewhere (logs.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "core.h"

static int log_fd = 2;
static int log_verbose;
static char *log_path;

/* Called with each line written (core/follow.c follows the daemon's log). */
void (*log_hook)(const char *, size_t);

int
log_open(const char *path)
{
	int fd;

	fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1)
		return -errno;
	if (log_fd > 2)
		close(log_fd);
	log_fd = fd;
	log_verbose = getenv("CLUSTERCTL_DEBUG") != NULL;
	if (log_path != path) {
		free(log_path);
		log_path = strdup(path);
	}
	return 0;
}

/* Open the log's path again (it was moved away by logrotate). */
int
log_reopen(void)
{
	int r;

	if (log_path == NULL)
		return 0;
	if ((r = log_open(log_path)) != 0)
		return r;
	(void)dup2(log_fd, 2);
	return 0;
}

static void
vlog(const char *level, const char *fmt, va_list ap, int err)
{
	char buf[2048], ts[64];
	struct timeval tv;
	static int in_hook;
	struct tm tm;
	size_t n;
	int r;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	r = snprintf(buf, sizeof buf, "%s.%03ld %s ", ts,
	    (long)(tv.tv_usec / 1000), level);
	n = r > 0 ? (size_t)r : 0;
	r = vsnprintf(buf + n, sizeof buf - n, fmt, ap);
	if (r > 0)
		n += (size_t)r;
	if (n > sizeof buf - 2)
		n = sizeof buf - 2;
	if (err != 0) {
		r = snprintf(buf + n, sizeof buf - n, ": %s", strerror(err));
		if (r > 0)
			n += (size_t)r;
		if (n > sizeof buf - 2)
			n = sizeof buf - 2;
	}
	buf[n++] = '\n';
	/* A full disk loses a daemon log line, never the daemon. */
	if (write(log_fd, buf, n) == -1)
		errno = 0;
	if (log_hook != NULL && !in_hook) {
		in_hook = 1;
		log_hook(buf, n);
		in_hook = 0;
	}
}

void
log_info(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("info", fmt, ap, 0);
	va_end(ap);
}

/* Like log_warnx, with ": strerror(errno)" appended. */
void
log_warn(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog("warn", fmt, ap, err);
	va_end(ap);
}

void
log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("warn", fmt, ap, 0);
	va_end(ap);
}

void
log_debug(const char *fmt, ...)
{
	va_list ap;

	if (!log_verbose)
		return;
	va_start(ap, fmt);
	vlog("debug", fmt, ap, 0);
	va_end(ap);
}

void
fatal(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog("fatal", fmt, ap, err);
	va_end(ap);
	exit(1);
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog("fatal", fmt, ap, 0);
	va_end(ap);
	exit(1);
}
