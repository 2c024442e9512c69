/*
 * The shim every instance starts as: "clusterctl __exec FD PPID FILE ARGV".
 * It does what cannot be done between libuv's fork and exec: drop to the
 * app's user and groups (--uid, --gid), ask to die with the daemon, set
 * LISTEN_PID to its own pid, put the cluster-mode preload library in
 * LD_PRELOAD, and report a failed exec (its errno, on FD) instead of exiting
 * silently.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "creds.h"
#include "daemon.h"

int
exec_shim_main(int argc, char **argv)
{
	char pid[32], *pre;
	const char *lib, *old, *nofile, *cg;
	char cgpath[PATH_MAX + 16];
	int cgfd = -1;
	struct rlimit rl;
	int fd, e;

	if (argc < 6)
		return 127;
	fd = atoi(argv[2]);
	(void)fcntl(fd, F_SETFD, FD_CLOEXEC);
	/* The instance's cgroup (core/cgroup.c): what the app starts stays
	 * there, however it detaches.  Joined first, with the daemon's
	 * credentials: the user of --uid may not. */
	if ((cg = getenv("CLUSTERCTL_CGROUP")) != NULL) {
		snprintf(cgpath, sizeof cgpath, "%s/cgroup.procs", cg);
		if ((cgfd = open(cgpath, O_WRONLY | O_CLOEXEC)) == -1 ||
		    write(cgfd, "0", 1) != 1)
			dprintf(2, "clusterctl: cannot join cgroup %s: %s\n",
			    cg, strerror(errno));
		if (cgfd != -1)
			close(cgfd);
		unsetenv("CLUSTERCTL_CGROUP");
	}
	/* Then: a change of credentials clears the parent-death signal. */
	if ((e = creds_drop_from_env()) != 0) {
		if (write(fd, &e, sizeof e) == -1)
			_exit(126);
		_exit(127);
	}
	/* Never outlive the daemon: its death is ours (no orphans). */
	(void)prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != (pid_t)atol(argv[3]))
		_exit(127);
	/* The caller's descriptor limit, which the daemon raised for itself. */
	if ((nofile = getenv("CLUSTERCTL_NOFILE")) != NULL) {
		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && atoll(nofile) > 0) {
			rl.rlim_cur = (rlim_t)atoll(nofile);
			(void)setrlimit(RLIMIT_NOFILE, &rl);
		}
		unsetenv("CLUSTERCTL_NOFILE");
	}
	if (getenv("LISTEN_FDS") != NULL) {
		snprintf(pid, sizeof pid, "%ld", (long)getpid());
		setenv("LISTEN_PID", pid, 1);
	}
	/* Cluster mode: the preload library goes in now, appended to any
	 * LD_PRELOAD of the app's own (not earlier: the shim may be a
	 * sanitizer build that must come first). */
	if ((lib = getenv("CLUSTERCTL_LD_PRELOAD")) != NULL) {
		old = getenv("LD_PRELOAD");
		if (old != NULL && *old != '\0' &&
		    asprintf(&pre, "%s:%s", old, lib) != -1)
			setenv("LD_PRELOAD", pre, 1);
		else
			setenv("LD_PRELOAD", lib, 1);
		unsetenv("CLUSTERCTL_LD_PRELOAD");
	}
	execv(argv[4], argv + 5);
	e = errno;
	if (write(fd, &e, sizeof e) == -1)
		_exit(126);
	_exit(127);
}
