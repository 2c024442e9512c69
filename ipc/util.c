#include <ctype.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
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

/* Bytes that may not be UTF-8 as a JSON string: hex, two digits each. */
json_t *
util_json_hex(const void *p, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	const unsigned char *b = p;
	json_t *s;
	char *h;
	size_t i;

	if ((h = malloc(n * 2 + 1)) == NULL)
		return NULL;
	for (i = 0; i < n; i++) {
		h[2 * i] = digits[b[i] >> 4];
		h[2 * i + 1] = digits[b[i] & 15];
	}
	h[2 * n] = '\0';
	s = json_string(h);
	free(h);
	return s;
}

static int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/*
 * The bytes of a util_json_hex string (a new buffer, NUL-terminated, *n
 * its length), or NULL when v is not one.
 */
char *
util_hex_value(const json_t *v, size_t *n)
{
	const char *h = json_string_value(v);
	size_t len, i;
	char *b;
	int hi, lo;

	*n = 0;
	if (h == NULL || (len = strlen(h)) % 2 != 0 ||
	    (b = malloc(len / 2 + 1)) == NULL)
		return NULL;
	for (i = 0; i < len / 2; i++) {
		if ((hi = hex_digit(h[2 * i])) < 0 ||
		    (lo = hex_digit(h[2 * i + 1])) < 0) {
			free(b);
			return NULL;
		}
		b[i] = (char)(hi << 4 | lo);
	}
	b[len / 2] = '\0';
	*n = len / 2;
	return b;
}

/*
 * The length of the valid UTF-8 character at p (n bytes left), or 0 for a
 * byte that starts none: overlong forms, surrogates and code points past
 * U+10FFFF are invalid, as jansson holds them.
 */
static size_t
utf8_char_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	size_t len, j;

	len = c < 0x80			    ? 1 :
	    (c & 0xE0) == 0xC0 && c >= 0xC2 ? 2 :
	    (c & 0xF0) == 0xE0		    ? 3 :
	    (c & 0xF8) == 0xF0 && c <= 0xF4 ? 4 :
					      0;
	if (len == 0 || len > n)
		return 0;
	for (j = 1; j < len; j++)
		if ((p[j] & 0xC0) != 0x80)
			return 0;
	if (len == 3 &&
	    ((c == 0xE0 && p[1] < 0xA0) || (c == 0xED && p[1] >= 0xA0)))
		return 0;
	if (len == 4 &&
	    ((c == 0xF0 && p[1] < 0x90) || (c == 0xF4 && p[1] >= 0x90)))
		return 0;
	return len;
}

/*
 * A copy of n bytes as text every peer can take, NUL-terminated: each byte
 * that starts no valid UTF-8 character, and NUL (which our frame decoder,
 * like many, refuses in a string), becomes U+FFFD.  NULL when out of
 * memory.
 */
char *
util_utf8_clean(const char *p, size_t n, size_t *outlen)
{
	const unsigned char *u = (const unsigned char *)p;
	char *o = malloc(n * 3 + 1);
	size_t i = 0, k = 0, len;

	if (o == NULL)
		return NULL;
	while (i < n) {
		if (u[i] == '\0' || (len = utf8_char_len(u + i, n - i)) == 0) {
			memcpy(o + k, "\xEF\xBF\xBD", 3);
			k += 3;
			i++;
			continue;
		}
		memcpy(o + k, p + i, len);
		k += len;
		i += len;
	}
	o[k] = '\0';
	if (outlen != NULL)
		*outlen = k;
	return o;
}

/*
 * The largest length at most max that does not end inside a UTF-8
 * character of s (n bytes): where to cut a text that is too long.
 */
size_t
util_utf8_cut(const char *s, size_t n, size_t max)
{
	size_t k;

	if (n <= max)
		return n;
	k = max;
	/* Back over continuation bytes, at most three. */
	while (k > 0 && max - k < 3 && ((unsigned char)s[k] & 0xC0) == 0x80)
		k--;
	return k;
}

/*
 * s, for quoting in a message: itself when it has at most max bytes,
 * else its head cut on a character boundary and "..." in buf (of size
 * at least max + 4).
 */
const char *
util_clip(const char *s, char *buf, size_t max)
{
	size_t n = strlen(s), k;

	if (n <= max)
		return s;
	k = util_utf8_cut(s, n, max);
	memcpy(buf, s, k);
	memcpy(buf + k, "...", 4);
	return buf;
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

/*
 * sendmsg() of len bytes with descriptor fd attached (SCM_RIGHTS; none
 * when fd < 0), again on EINTR: the bytes sent, or -1 and errno.
 */
ssize_t
util_send_fd(int sock, const void *buf, size_t len, int fd, int flags)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr mh;
	struct cmsghdr *cm;
	struct iovec iov;
	ssize_t n;

	memset(&mh, 0, sizeof mh);
	memset(cbuf, 0, sizeof cbuf);
	iov.iov_base = (void *)buf;
	iov.iov_len = len;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	if (fd >= 0) {
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof cbuf;
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	}
	do
		n = sendmsg(sock, &mh, flags);
	while (n < 0 && errno == EINTR);
	return n;
}

/*
 * Load a library that only one command or feature uses (libyaml for
 * process files, ncurses for monit, libmicrohttpd for metrics) when it is
 * first needed, rather than linking it: the binary is also the daemon and
 * every instance's exec shim, and each linked library costs every exec
 * its loading time and the daemon its pages.  Fills every syms[i].slot;
 * the handle, or NULL with err saying which file or symbol is missing
 * and the Debian package that provides it.  Never unloaded.
 */
void *
util_dlopen(const char *soname, const char *package,
    const struct util_sym *syms, size_t n, char *err, size_t errlen)
{
	size_t i, len = strlen(soname);
	const char *why;
	void *so;

	if ((so = dlopen(soname, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		/* dlerror() names the file first: "libx.so.1: cannot ..." */
		if ((why = dlerror()) != NULL &&
		    strncmp(why, soname, len) == 0 &&
		    strncmp(why + len, ": ", 2) == 0)
			why += len + 2;
		snprintf(err, errlen, "cannot load %s: %s (Debian package %s)",
		    soname, why != NULL ? why : "unknown error", package);
		return NULL;
	}
	for (i = 0; i < n; i++)
		if ((*syms[i].slot = dlsym(so, syms[i].name)) == NULL) {
			snprintf(err, errlen,
			    "cannot load %s: it has no %s (Debian package %s)",
			    soname, syms[i].name, package);
			dlclose(so);
			return NULL;
		}
	return so;
}
