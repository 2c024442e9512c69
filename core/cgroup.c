/*
 * Holding an app's processes, however they detach (double fork, setsid,
 * env -i): each instance runs in a cgroup v2 of its own,
 * CGROUP/clusterctl.HASH/app-NAME.N under the daemon's own cgroup (HASH
 * names the home), when the daemon may create one (root, or a delegated
 * subtree).  The __exec shim moves itself there before it executes the
 * app, and nothing the app starts can leave: a stop signals every process
 * of the cgroup, and one that waits for the instance to be gone waits for
 * the cgroup to be empty.  Where no cgroup v2 can be made, the process
 * group and the subreaper's orphans hold the app, as before (a process
 * that leaves the group escapes a stop then); describe says which.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

static char base[PATH_MAX]; /* "": no cgroup v2 for us */

/* The cgroup v2 mount point, from /proc/self/mountinfo; 0 or -1. */
static int
find_mount(char *mnt, size_t len)
{
	char line[4096], *p, *fields[10], *sep;
	FILE *f;
	int n, found = -1;

	if ((f = fopen("/proc/self/mountinfo", "re")) == NULL)
		return -1;
	while (found != 0 && fgets(line, sizeof line, f) != NULL) {
		/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - FSTYPE ... */
		if ((sep = strstr(line, " - ")) == NULL ||
		    strncmp(sep + 3, "cgroup2 ", 8) != 0)
			continue;
		for (n = 0, p = strtok(line, " "); p != NULL && n < 10;
		     p = strtok(NULL, " "))
			fields[n++] = p;
		if (n >= 5 && strcmp(fields[3], "/") == 0 &&
		    strlen(fields[4]) < len) {
			snprintf(mnt, len, "%s", fields[4]);
			found = 0;
		}
	}
	fclose(f);
	return found;
}

/* Our own cgroup v2 path ("0::/PATH" in /proc/self/cgroup); 0 or -1. */
static int
find_own(char *path, size_t len)
{
	char line[PATH_MAX + 16];
	FILE *f;
	int found = -1;

	if ((f = fopen("/proc/self/cgroup", "re")) == NULL)
		return -1;
	while (found != 0 && fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, "0::", 3) == 0 && strlen(line + 3) < len) {
			line[strcspn(line, "\n")] = '\0';
			memcpy(path, line + 3, strlen(line + 3) + 1);
			found = 0;
		}
	fclose(f);
	return found;
}

/* Write s to dir's control file; 0 or -errno. */
static int
put(const char *dir, const char *file, const char *s)
{
	char path[PATH_MAX + 32];
	ssize_t n;
	int fd, e;

	snprintf(path, sizeof path, "%s/%s", dir, file);
	if ((fd = open(path, O_WRONLY | O_CLOEXEC)) == -1)
		return -errno;
	n = write(fd, s, strlen(s));
	e = errno;
	close(fd);
	return n == (ssize_t)strlen(s) ? 0 : -e;
}

/*
 * Signal the processes of the cgroup at dir (sig 0: only count them),
 * but those of process group skip (signalled with it; 0: none).  The
 * number found.
 */
static int
procs_signal(const char *dir, int sig, pid_t skip)
{
	char path[PATH_MAX + 32], buf[4096], *p, *end;
	ssize_t n;
	size_t have = 0;
	long pid;
	int fd, count = 0;

	snprintf(path, sizeof path, "%s/cgroup.procs", dir);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return 0;
	while ((n = read(fd, buf + have, sizeof buf - 1 - have)) > 0) {
		have += (size_t)n;
		buf[have] = '\0';
		for (p = buf; (end = strchr(p, '\n')) != NULL; p = end + 1) {
			if ((pid = strtol(p, NULL, 10)) <= 0)
				continue;
			count++;
			if (sig != 0 &&
			    (skip <= 0 || getpgid((pid_t)pid) != skip))
				(void)kill((pid_t)pid, sig);
		}
		have = strlen(p);
		memmove(buf, p, have);
	}
	close(fd);
	return count;
}

/*
 * Signal every process of an instance's cgroup (dir; NULL: none) but
 * those of process group skip, already signalled with it; sig 0 only
 * counts them.  The number of processes found.  SIGKILL goes through
 * cgroup.kill, which no fork can race (Linux 5.14 and later).
 */
int
cgroup_signal(const char *dir, int sig, pid_t skip)
{
	int n;

	if (dir == NULL)
		return 0;
	if (sig != SIGKILL)
		return procs_signal(dir, sig, skip);
	if ((n = procs_signal(dir, 0, 0)) > 0 &&
	    put(dir, "cgroup.kill", "1") != 0)
		(void)procs_signal(dir, SIGKILL, 0);
	return n;
}

/* Remove an instance's cgroup once it is empty (a new string's owner
 * frees it). */
void
cgroup_remove(const char *dir)
{
	if (dir != NULL && rmdir(dir) == -1 && errno != ENOENT &&
	    errno != EBUSY)
		log_warn("cannot remove cgroup %s", dir);
}

/* Kill what a previous daemon of this home left in its cgroups (it was
 * killed before it could stop its apps), and remove them. */
static void
sweep(void)
{
	char path[PATH_MAX * 2];
	struct dirent *de;
	DIR *d;
	int n;

	if ((d = opendir(base)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strncmp(de->d_name, "app-", 4) != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", base, de->d_name);
		if ((n = cgroup_signal(path, SIGKILL, 0)) > 0)
			log_warnx("killed %d process%s left running by a "
				  "previous daemon (in %s)",
			    n, n == 1 ? "" : "es", path);
		/* Removed once empty: by the instance that uses it next,
		 * or at exit. */
		(void)rmdir(path);
	}
	closedir(d);
}

/* FNV-1a of s: names the home's cgroup. */
static unsigned long long
fnv1a(const char *s)
{
	unsigned long long h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/*
 * Find cgroup v2 and make the daemon's own cgroup there (under the one it
 * runs in); without it (no cgroup v2, not allowed) instances are held by
 * their process group only.  Called once at start, before any app.
 */
void
cgroup_init(int sweep_left)
{
	char mnt[PATH_MAX], own[PATH_MAX];

	base[0] = '\0';
	if (getenv("CLUSTERCTL_NO_CGROUP") != NULL ||
	    find_mount(mnt, sizeof mnt) != 0 || find_own(own, sizeof own) != 0)
		return;
	if ((size_t)snprintf(base, sizeof base, "%s%s%sclusterctl.%016llx", mnt,
		own, own[strlen(own) - 1] == '/' ? "" : "/",
		fnv1a(home)) >= sizeof base - 64 ||
	    (mkdir(base, 0755) == -1 && errno != EEXIST) ||
	    access(base, W_OK) != 0) {
		log_info("no cgroup v2 for the apps (%s): their process groups "
			 "hold them",
		    strerror(errno));
		base[0] = '\0';
		return;
	}
	/* After an upgrade, what runs there is ours. */
	if (sweep_left)
		sweep();
	log_info("each instance runs in a cgroup of its own under %s", base);
}

/* The daemon's cgroup (NULL: none), for describe. */
const char *
cgroup_base(void)
{
	return base[0] != '\0' ? base : NULL;
}

/*
 * A new cgroup for an instance (index of app a), named after it and a
 * number of its own (a replaced instance and its successor share an
 * index): a new string, or NULL (no cgroup v2, or it cannot be made: the
 * process group holds the instance).
 */
char *
cgroup_instance(const struct app *a, int index)
{
	static unsigned long seq;
	char *dir = NULL;
	int tries;

	if (base[0] == '\0')
		return NULL;
	/* One that exists is another instance's (an upgraded daemon counts
	 * from 1 again while the old image's cgroups live on): the next. */
	for (tries = 0; tries < 1000; tries++) {
		if (asprintf(&dir, "%s/app-%s.%d-%lu", base, a->name, index,
			++seq) == -1)
			return NULL;
		if (mkdir(dir, 0755) == 0)
			return dir;
		if (errno != EEXIST)
			break;
		free(dir);
		dir = NULL;
	}
	if (dir != NULL) {
		log_warn("cannot make cgroup %s", dir);
		free(dir);
	}
	return NULL;
}

/* The daemon exits: its cgroups go (the instances' are empty by now). */
void
cgroup_release(void)
{
	char path[PATH_MAX * 2];
	struct dirent *de;
	DIR *d;

	if (base[0] == '\0' || (d = opendir(base)) == NULL)
		return;
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "app-", 4) == 0) {
			snprintf(path, sizeof path, "%s/%s", base, de->d_name);
			(void)rmdir(path);
		}
	closedir(d);
	(void)rmdir(base);
}
