/*
 * The /proc/PID/stat parser, the usage sampler and the environment
 * reader: core/proc.c.
 */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../../core/proc.h"
#include "tap.h"

int
main(void)
{
	struct proc_stat st;
	const char *line = "4242 (a (weird) name) S 17 4242 4242 0 -1 "
	    "4194560 100 0 0 0 35 7 0 0 20 0 1 0 12345 1000000 321 "
	    "18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0";
	char env[] = "A=1\0CLUSTERCTL_HOME=/h\0CLUSTERCTL_HOME=/other\0";
	char *e;
	size_t len;
	unsigned long long ticks, later;
	long rss;
	int fd, p[2];
	pid_t pid;
	char c;

	ok(proc_parse_stat(line, &st) == 0, "a stat line parses");
	ok(st.state == 'S', "the state follows the last ')'");
	ok(st.ppid == 17 && st.pgrp == 4242 && st.sid == 4242,
	    "parent, group and session");
	ok(st.utime == 35 && st.stime == 7, "user and system ticks");
	ok(st.rss == 321, "resident pages (field 24)");
	ok(proc_parse_stat("12 (x) S 1 2", &st) == -1,
	    "a line cut short is malformed");
	ok(proc_parse_stat("no parenthesis here", &st) == -1,
	    "a line without a name is malformed");
	ok(proc_read_stat(getpid(), &st) == 0 && st.ppid == getppid() &&
	    st.sid == getsid(0), "our own stat line says who we are");
	ok(proc_environ_has(env, sizeof env - 1, "CLUSTERCTL_HOME", "/other"),
	    "any entry of a repeated key matches");
	ok(!proc_environ_has(env, sizeof env - 1, "CLUSTERCTL_APP", NULL),
	    "a missing key does not");
	ok(!proc_environ_has(env, sizeof env - 1, "A", "12"),
	    "a value must match whole");

	/* A child that burns CPU until it has used a few ticks, then says so
	 * and waits to be killed. */
	if (pipe(p) != 0 || (pid = fork()) == -1)
		return 1;
	if (pid == 0) {
		struct proc_stat me;

		do
			(void)proc_read_stat(getpid(), &me);
		while (me.utime + me.stime < 3);
		(void)write(p[1], "x", 1);
		pause();
		_exit(0);
	}
	close(p[1]);
	ok(read(p[0], &c, 1) == 1, "the child burnt its ticks");
	fd = proc_open_statm(pid);
	ok(fd != -1, "a child's statm opens");
	ok(proc_usage(pid, fd, &ticks, &rss) == 0 && ticks >= 3 && rss > 0,
	    "its CPU time and resident pages are sampled");
	ok(proc_usage(pid, fd, &later, &rss) == 0 && later >= ticks,
	    "its CPU time does not go back");
	kill(pid, SIGKILL);
	(void)waitpid(pid, NULL, 0);
	ok(proc_usage(pid, fd, &ticks, &rss) == -1 && ticks == 0 && rss == 0,
	    "once it is reaped its descriptor reads nothing");
	close(fd);
	close(p[0]);

	setenv("PROC_UNIT_MARK", "yes", 1);
	e = proc_read_environ(getpid(), &len);
	ok(e != NULL, "our own environment reads");
	free(e);
	return tap_done();
}
