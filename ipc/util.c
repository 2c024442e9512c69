#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

/* Milliseconds of the monotonic clock, for deadlines. */
int64_t
util_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * "1600" (ms), "500ms", "1.5s", "2m", "1h": 0 and *ms set, or -EINVAL.
 */
int
util_parse_duration_ms(const char *s, int64_t *ms)
{
	char *end;
	double v, mul = 1;

	errno = 0;
	if (s == NULL || *s == '\0' || isspace((unsigned char)*s) || *s == '-')
		return -EINVAL;
	v = strtod(s, &end);
	if (errno != 0 || end == s)
		return -EINVAL;
	if (*end == '\0' || strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "s") == 0)
		mul = 1000;
	else if (strcmp(end, "m") == 0 || strcmp(end, "min") == 0)
		mul = 60000;
	else if (strcmp(end, "h") == 0)
		mul = 3600000;
	else
		return -EINVAL;
	v *= mul;
	if (v < 0 || v > 1e15)
		return -EINVAL;
	*ms = (int64_t)(v + 0.5);
	return 0;
}

/* "10485760", "512K", "10M", "1G" (powers of 1024): 0 and *n, or -EINVAL. */
int
util_parse_size(const char *s, int64_t *n)
{
	char *end;
	double v, mul = 1;

	errno = 0;
	if (s == NULL || *s == '\0' || isspace((unsigned char)*s) || *s == '-')
		return -EINVAL;
	v = strtod(s, &end);
	if (errno != 0 || end == s)
		return -EINVAL;
	switch (toupper((unsigned char)*end)) {
	case '\0':
		break;
	case 'K':
		mul = 1024.0;
		break;
	case 'M':
		mul = 1024.0 * 1024;
		break;
	case 'G':
		mul = 1024.0 * 1024 * 1024;
		break;
	default:
		return -EINVAL;
	}
	if (*end != '\0') {
		end++;
		if (toupper((unsigned char)*end) == 'B' ||
		    toupper((unsigned char)*end) == 'I')
			end++;
		if (toupper((unsigned char)*end) == 'B')
			end++;
		if (*end != '\0')
			return -EINVAL;
	}
	v *= mul;
	if (v < 0 || v > 9e18)
		return -EINVAL;
	*n = (int64_t)v;
	return 0;
}

static const struct {
	const char *name;
	int number;
} signals[] = {
	{ "HUP", SIGHUP },
	{ "INT", SIGINT },
	{ "QUIT", SIGQUIT },
	{ "ILL", SIGILL },
	{ "TRAP", SIGTRAP },
	{ "ABRT", SIGABRT },
	{ "BUS", SIGBUS },
	{ "FPE", SIGFPE },
	{ "KILL", SIGKILL },
	{ "USR1", SIGUSR1 },
	{ "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 },
	{ "PIPE", SIGPIPE },
	{ "ALRM", SIGALRM },
	{ "TERM", SIGTERM },
	{ "CHLD", SIGCHLD },
	{ "CONT", SIGCONT },
	{ "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP },
	{ "TTIN", SIGTTIN },
	{ "TTOU", SIGTTOU },
	{ "URG", SIGURG },
	{ "XCPU", SIGXCPU },
	{ "XFSZ", SIGXFSZ },
	{ "VTALRM", SIGVTALRM },
	{ "PROF", SIGPROF },
	{ "WINCH", SIGWINCH },
	{ "IO", SIGIO },
	{ "PWR", SIGPWR },
	{ "SYS", SIGSYS },
};

/* "SIGINT", "INT", "int" or "2": the number, or -1. */
int
util_signal_number(const char *s)
{
	char *end;
	long n;
	size_t i;

	if (s == NULL || *s == '\0')
		return -1;
	if (isdigit((unsigned char)*s)) {
		n = strtol(s, &end, 10);
		if (*end != '\0' || n <= 0 || n >= 65)
			return -1;
		return (int)n;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (i = 0; i < sizeof signals / sizeof signals[0]; i++)
		if (strcasecmp(s, signals[i].name) == 0)
			return signals[i].number;
	return -1;
}

/* "SIGINT" for 2; "SIG40" for a number without a name (static buffer). */
const char *
util_signal_name(int sig)
{
	static char names[sizeof signals / sizeof signals[0]][12];
	static char buf[16];
	size_t i;

	for (i = 0; i < sizeof signals / sizeof signals[0]; i++) {
		if (signals[i].number == sig) {
			if (names[i][0] == '\0')
				snprintf(names[i], sizeof names[i], "SIG%s",
				    signals[i].name);
			return names[i];
		}
	}
	snprintf(buf, sizeof buf, "SIG%d", sig);
	return buf;
}

int64_t
util_json_int(const json_t *o, const char *key, int64_t def)
{
	json_t *v = json_object_get(o, key);

	return json_is_integer(v) ? (int64_t)json_integer_value(v) : def;
}

const char *
util_json_str(const json_t *o, const char *key, const char *def)
{
	json_t *v = json_object_get(o, key);

	return json_is_string(v) ? json_string_value(v) : def;
}

int
util_json_bool(const json_t *o, const char *key, int def)
{
	json_t *v = json_object_get(o, key);

	return json_is_boolean(v) ? json_is_true(v) : def;
}

/*
 * Replace the file at path with len bytes of data, atomically: a
 * temporary file beside it, written and fsynced, renamed over path, then
 * the directory fsynced.  0, or -errno with the old file intact.
 */
int
util_write_atomic(const char *path, const char *data, size_t len, int mode)
{
	char tmp[4096], dir[4096], *slash;
	size_t off = 0;
	ssize_t n;
	int fd, dfd, e;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", path) >= sizeof tmp)
		return -ENAMETOOLONG;
	snprintf(dir, sizeof dir, "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		snprintf(dir, sizeof dir, ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	(void)unlink(tmp);
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
	    mode);
	if (fd == -1)
		return -errno;
	while (off < len) {
		n = write(fd, data + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			e = n < 0 ? errno : ENOSPC;
			goto fail;
		}
		off += (size_t)n;
	}
	if (fsync(fd) == -1) {
		e = errno;
		goto fail;
	}
	if (close(fd) == -1) {
		e = errno;
		fd = -1;
		goto fail;
	}
	fd = -1;
	if (rename(tmp, path) == -1) {
		e = errno;
		goto fail;
	}
	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) != -1) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
fail:
	if (fd != -1)
		close(fd);
	(void)unlink(tmp);
	return -e;
}
