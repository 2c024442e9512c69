/*
 * The daemon's one reader of /proc.  list and a metrics scrape read every
 * instance's CPU time and memory on each call, so that is one read of
 * statm on a descriptor the instance keeps open and one clock_gettime; the
 * cluster code walks parents and sessions from the same line, and the
 * orphan sweep at start-up reads environments.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "proc.h"

/*
 * Parse one /proc/PID/stat line into st: 0, or -1 when it is malformed.
 * The name may hold spaces and parentheses: the fields follow the last
 * ')'.  Field 3 is the state, 4 ppid, 5 pgrp, 6 session, 14 and 15 utime
 * and stime, 24 rss.
 */
int
proc_parse_stat(const char *buf, struct proc_stat *st)
{
	const char *p;
	char *end;
	unsigned long long v;
	int field;

	memset(st, 0, sizeof *st);
	if ((p = strrchr(buf, ')')) == NULL || p[1] != ' ' || p[2] == '\0')
		return -1;
	p += 2;
	st->state = *p;
	p += strcspn(p, " ");
	p += strspn(p, " ");
	for (field = 4; field <= 24; field++) {
		/* Negative fields (tty_pgrp, priority) parse as huge:
		 * none of those is kept. */
		v = strtoull(p, &end, 10);
		if (end == p)
			return -1;
		switch (field) {
		case 4:
			st->ppid = (pid_t)v;
			break;
		case 5:
			st->pgrp = (pid_t)v;
			break;
		case 6:
			st->sid = (pid_t)v;
			break;
		case 14:
			st->utime = v;
			break;
		case 15:
			st->stime = v;
			break;
		case 24:
			st->rss = (long)v;
			break;
		default:
			break;
		}
		p = end + strspn(end, " ");
	}
	return 0;
}

/*
 * Open pid's statm to read its memory again and again (proc_usage): a
 * descriptor, or -1.  It stays bound to that process: once the process is
 * gone its reads fail, even if the pid is used again.
 */
int
proc_open_statm(pid_t pid)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/%ld/statm", (long)pid);
	return open(path, O_RDONLY | O_CLOEXEC);
}

/*
 * The CPU time (user and system, of all its threads, in clock ticks) and
 * the resident pages of process pid, whose statm is open on fd: 0, or -1
 * (it is gone).  The CPU time is its CPU clock, read by pid: pid must be a
 * child not yet waited for, so that the number is still its own.  Both
 * are cheaper than the stat line, which the kernel formats in full (a
 * scrape of a thousand instances reads them all).
 */
int
proc_usage(pid_t pid, int fd, unsigned long long *ticks, long *rss)
{
	struct timespec ts;
	clockid_t clk;
	char buf[256], *end;
	unsigned long long ns;
	long hz = sysconf(_SC_CLK_TCK);
	ssize_t n;

	*ticks = 0;
	*rss = 0;
	if ((n = pread(fd, buf, sizeof buf - 1, 0)) <= 0)
		return -1;
	buf[n] = '\0';
	/* size resident shared text lib data dt, in pages */
	(void)strtoul(buf, &end, 10);
	*rss = strtol(end, NULL, 10);
	if (clock_getcpuclockid(pid, &clk) != 0 || clock_gettime(clk, &ts) != 0)
		return -1;
	ns = (unsigned long long)ts.tv_sec * 1000000000ULL +
	    (unsigned long long)ts.tv_nsec;
	*ticks = ns / (1000000000ULL / (unsigned long long)(hz > 0 ? hz : 100));
	return 0;
}

/* Read and parse /proc/PID/stat: 0, or -1 (no such process). */
int
proc_read_stat(pid_t pid, struct proc_stat *st)
{
	char path[64], buf[1024];
	ssize_t n;
	int fd;

	memset(st, 0, sizeof *st);
	snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return proc_parse_stat(buf, st);
}

/*
 * pid's environment (NUL-separated, at most 64 KiB, NUL-terminated):
 * a new buffer and its length, or NULL.
 */
char *
proc_read_environ(pid_t pid, size_t *lenp)
{
	char path[64], *buf;
	size_t len = 0, cap = 65536;
	ssize_t n;
	int fd;

	snprintf(path, sizeof path, "/proc/%ld/environ", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return NULL;
	if ((buf = malloc(cap)) == NULL) {
		close(fd);
		return NULL;
	}
	while (len < cap - 1 && (n = read(fd, buf + len, cap - 1 - len)) > 0)
		len += (size_t)n;
	close(fd);
	buf[len] = '\0';
	*lenp = len;
	return buf;
}

/*
 * Whether an environment block from proc_read_environ holds key, with
 * value (any value when NULL).
 */
int
proc_environ_has(const char *env, size_t len, const char *key,
    const char *value)
{
	const char *p, *end = env + len;
	size_t klen = strlen(key);

	for (p = env; p < end; p += strlen(p) + 1)
		if (strncmp(p, key, klen) == 0 && p[klen] == '=' &&
		    (value == NULL || strcmp(p + klen + 1, value) == 0))
			return 1;
	return 0;
}

/*
 * Whether pid's memory maps name a file whose path holds name (a loaded
 * library): 1, 0, or -1 when they cannot be read.
 */
int
proc_maps_mention(pid_t pid, const char *name)
{
	char path[64], buf[8192];
	size_t keep = 0, want = strlen(name);
	ssize_t n;
	int fd, found = 0;

	if (want == 0 || want >= sizeof buf / 2)
		return -1;
	snprintf(path, sizeof path, "/proc/%ld/maps", (long)pid);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	while (
	    !found && (n = read(fd, buf + keep, sizeof buf - keep - 1)) > 0) {
		n += (ssize_t)keep;
		buf[n] = '\0';
		found = strstr(buf, name) != NULL;
		/* A name cut between two reads is found in the next. */
		keep = (size_t)n > want ? want : (size_t)n;
		memmove(buf, buf + n - (ssize_t)keep, keep);
	}
	close(fd);
	return found;
}

/* Call fn(pid, arg) for every process but this one. */
void
proc_foreach(void (*fn)(pid_t, void *), void *arg)
{
	struct dirent *de;
	DIR *d;
	pid_t pid;

	if ((d = opendir("/proc")) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		pid = (pid_t)atol(de->d_name);
		if (pid != getpid())
			fn(pid, arg);
	}
	closedir(d);
}
