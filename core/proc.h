/*
 * The daemon's one reader of /proc: a process's stat line (parent,
 * session, CPU time, resident pages), its environment, and the list of
 * processes.  Plain libc: no loop, no app, so tests link it alone.
 */
#ifndef CORE_PROC_H
#define CORE_PROC_H

#include <stddef.h>
#include <sys/types.h>

/* What /proc/PID/stat says about a process. */
struct proc_stat {
	char state; /* R, S, Z... */
	pid_t ppid;
	pid_t pgrp;
	pid_t sid;
	unsigned long long utime; /* clock ticks */
	unsigned long long stime;
	long rss; /* pages */
};

int proc_parse_stat(const char *, struct proc_stat *);
int proc_read_stat(pid_t, struct proc_stat *);
int proc_open_statm(pid_t);
int proc_usage(pid_t, int, unsigned long long *, long *);
char *proc_read_environ(pid_t, size_t *);
int proc_environ_has(const char *, size_t, const char *, const char *);
int proc_maps_mention(pid_t, const char *);
void proc_foreach(void (*)(pid_t, void *), void *);

#endif
