/*
 * The daemon's one reader of /proc.  list reads every instance's stat
 * line on each call, so it is one open and one read, without stdio; the
 * cluster code walks parents and sessions from the same line, and the
 * orphan sweep at start-up reads environments.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
