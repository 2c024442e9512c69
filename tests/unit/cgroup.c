/*
 * core/cgroup.c: reading /proc/self/mountinfo and /proc/self/cgroup for
 * cgroup v2 and v1's freezer and pids hierarchies, and, where this host
 * has a v1 freezer or pids hierarchy root may write (a hybrid host),
 * holding a process that double-forks and calls setsid, then killing it
 * with the instance's cgroup.  Included whole, with the daemon's log and
 * home given here.
 */
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "../../core/cgroup.c"
#include "tap.h"

const char *home; /* one per run: runs side by side never meet */

void
log_info(const char *fmt, ...)
{
	(void)fmt;
}

void
log_warn(const char *fmt, ...)
{
	(void)fmt;
}

void
log_warnx(const char *fmt, ...)
{
	(void)fmt;
}

static const char *mountinfo[] = {
	"31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n",
	"32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup "
	"rw,cpu,cpuacct\n",
	"34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup "
	"rw,cpuset\n",
	"37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime shared:5 - cgroup "
	"cgroup rw,freezer\n",
	"39 31 0:36 /sub /mnt/pids rw,relatime - cgroup cgroup rw,pids\n",
	"41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 "
	"rw,nsdelegate\n",
};

/* The mount point of want among the lines above, or "-". */
static const char *
mount_of(const char *want)
{
	static char mnt[256];
	size_t i;

	for (i = 0; i < sizeof mountinfo / sizeof mountinfo[0]; i++)
		if (cgroup_mount_of(mountinfo[i], want, mnt, sizeof mnt) == 0)
			return mnt;
	return "-";
}

static const char *
own_of(const char *line, const char *want)
{
	static char path[256];

	return cgroup_own_of(line, want, path, sizeof path) == 0 ? path : "-";
}

/* A child in dir's cgroup whose grandchild leaves its session and
 * group, as an app's daemonizing child does: the grandchild's pid. */
static pid_t
escaper(const char *dir)
{
	char procs[PATH_MAX + 32];
	int p[2], fd, st;
	pid_t child, gc = -1;

	if (pipe(p) != 0)
		return -1;
	if ((child = fork()) == 0) {
		snprintf(procs, sizeof procs, "%s/cgroup.procs", dir);
		if ((fd = open(procs, O_WRONLY)) == -1 ||
		    write(fd, "0", 1) != 1)
			_exit(1);
		if (fork() == 0) {
			(void)setsid();
			gc = getpid();
			if (write(p[1], &gc, sizeof gc) != sizeof gc)
				_exit(1);
			for (;;)
				pause();
		}
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], &gc, sizeof gc) != sizeof gc)
		gc = -1;
	close(p[0]);
	(void)waitpid(child, &st, 0);
	return gc;
}

/* An instance's cgroup in the hierarchy cgroup_init or try_base chose
 * holds a process that left its session, and SIGKILL to it ends it. */
static void
hold_and_kill(void)
{
	struct app a;
	char *dir;
	pid_t gc;
	int i, n, st;

	ok(strstr(base, "/clusterctl.") != NULL && access(base, W_OK) == 0,
	    "the daemon's cgroup is made in the %s hierarchy (%s)",
	    cgroup_kind_name(), base);
	memset(&a, 0, sizeof a);
	a.name = (char *)"unit";
	dir = cgroup_instance(&a, 0);
	ok(dir != NULL, "an instance's cgroup is made");
	gc = escaper(dir);
	ok(gc > 0 && kill(gc, 0) == 0 && getsid(gc) == gc,
	    "a grandchild left the session and the group");
	ok(procs_signal(dir, 0, 0) == 1,
	    "... but not the cgroup, with its parent gone");
	n = cgroup_signal(dir, SIGKILL, 0);
	for (i = 0; i < 1000 && procs_signal(dir, 0, 0) > 0; i++)
		usleep(2000);
	ok(n == 1 && procs_signal(dir, 0, 0) == 0 &&
		waitpid(gc, &st, 0) == gc && WIFSIGNALED(st) &&
		WTERMSIG(st) == SIGKILL,
	    "SIGKILL to the cgroup ends it");
	if (kind == CGROUP_V1_FREEZER) {
		char state[32] = "";
		char path[PATH_MAX + 32];
		FILE *f;

		snprintf(path, sizeof path, "%s/freezer.state", dir);
		if ((f = fopen(path, "r")) != NULL) {
			if (fgets(state, sizeof state, f) == NULL)
				state[0] = 0;
			fclose(f);
		}
		ok(strncmp(state, "THAWED", 6) == 0,
		    "the freezer is thawed after the kill");
	}
	cgroup_remove(dir);
	ok(access(dir, F_OK) == -1, "the empty cgroup is removed");
	free(dir);
	cgroup_release();
	ok(access(base, F_OK) == -1, "the daemon's cgroup goes at exit");
}

int
main(void)
{
	static char h[64];

	snprintf(h, sizeof h, "/nonexistent/clusterctl-unit-cgroup-%ld",
	    (long)getpid());
	home = h;
	ok(strcmp(mount_of("cgroup2"), "/sys/fs/cgroup/unified") == 0,
	    "the cgroup2 mount is found");
	ok(strcmp(mount_of("freezer"), "/sys/fs/cgroup/freezer") == 0,
	    "v1's freezer hierarchy is found, optional fields and all");
	ok(strcmp(mount_of("cpuacct"), "/sys/fs/cgroup/cpu,cpuacct") == 0 &&
		strcmp(mount_of("cpu"), "/sys/fs/cgroup/cpu,cpuacct") == 0,
	    "a controller mounted with others is found by each name");
	ok(strcmp(mount_of("pids"), "-") == 0,
	    "a hierarchy mounted from below its root is not used");
	ok(strcmp(mount_of("memory"), "-") == 0, "an absent one is not found");
	ok(cgroup_mount_of("garbage", "cgroup2", (char[8]){ 0 }, 8) == -1 &&
		cgroup_mount_of("1 2 3 / /x - cgroup2 c rw", "cgroup2",
		    (char[2]){ 0 }, 2) == -1,
	    "a malformed line or a mount point too long is refused");
	ok(strcmp(own_of("0::/user.slice/x.scope\n", "cgroup2"),
	       "/user.slice/x.scope") == 0,
	    "our v2 cgroup");
	ok(strcmp(own_of("6:freezer:/\n", "freezer"), "/") == 0,
	    "our v1 freezer cgroup");
	ok(strcmp(own_of("2:cpu,cpuacct:/a/b\n", "cpuacct"), "/a/b") == 0,
	    "our cgroup of a co-mounted controller");
	ok(strcmp(own_of("3:cpuset:/\n", "cpu"), "-") == 0 &&
		strcmp(own_of("0::/\n", "freezer"), "-") == 0 &&
		strcmp(own_of("6:freezer:/\n", "cgroup2"), "-") == 0,
	    "another hierarchy's line is not ours");
	ok(strcmp(own_of("no colon", "freezer"), "-") == 0,
	    "a malformed line is refused");

	/* The v1 path for real, where this host has it for us; orphans
	 * are ours to reap, as the daemon's are. */
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1);
	setenv("CLUSTERCTL_CGROUP_VERSION", "1", 1);
	cgroup_init(1);
	if (kind != CGROUP_V1_FREEZER && kind != CGROUP_V1_PIDS) {
		printf("ok %d # SKIP no v1 freezer or pids hierarchy this "
		       "process may write here\n",
		    ++tap_n);
		return tap_done();
	}
	hold_and_kill();
	/* v1's pids hierarchy, the last resort, where there is one. */
	if (kind == CGROUP_V1_FREEZER && try_base("pids") == 0) {
		kind = CGROUP_V1_PIDS;
		hold_and_kill();
	}
	return tap_done();
}
