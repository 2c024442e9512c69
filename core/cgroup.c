/*
 * Holding an app's processes, however they detach (double fork, setsid,
 * env -i): each instance runs in a cgroup of its own,
 * CGROUP/clusterctl.HASH/app-NAME.N under the daemon's own cgroup (HASH
 * names the home), when the daemon may create one (root, or a delegated
 * subtree): in cgroup v2, or where v2 is not mounted for us in v1's
 * freezer hierarchy (frozen before a kill) or else its pids hierarchy.  The
 * __exec shim moves itself there before it executes the app, and nothing the
 * app starts can leave: a stop signals every process of the cgroup, and one
 * that waits for the instance to be gone waits for the cgroup to be empty.
 * Where no cgroup can be made, the process group and the subreaper's orphans
 * hold the app, as before (a process that leaves the group escapes a stop
 * then); describe says which.
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

static char base[PATH_MAX]; /* "": no cgroup for us */
static enum cgroup_kind kind;

/*
 * Whether one line of /proc/self/mountinfo mounts, at its root, the
 * cgroup v2 hierarchy (want "cgroup2") or the v1 hierarchy of controller
 * want ("freezer", "pids"; it may share the mount with others,
 * "cpu,cpuacct"): 0 with its mount point in mnt, or -1.
 */
int
cgroup_mount_of(const char *line, const char *want, char *mnt, size_t len)
{
	char buf[4096], *fields[10], *p, *sep, *save = NULL, *fstype, *opts;
	size_t n = 0, wl = strlen(want);

	/* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTS ... - FSTYPE SOURCE SUPER */
	if (strlen(line) >= sizeof buf)
		return -1;
	memcpy(buf, line, strlen(line) + 1);
	buf[strcspn(buf, "\n")] = '\0';
	if ((sep = strstr(buf, " - ")) == NULL)
		return -1;
	*sep = '\0';
	fstype = strtok_r(sep + 3, " ", &save);
	(void)strtok_r(NULL, " ", &save); /* the source */
	opts = strtok_r(NULL, " ", &save);
	if (fstype == NULL)
		return -1;
	if (strcmp(want, "cgroup2") == 0) {
		if (strcmp(fstype, "cgroup2") != 0)
			return -1;
	} else {
		if (strcmp(fstype, "cgroup") != 0 || opts == NULL)
			return -1;
		for (p = opts; (p = strstr(p, want)) != NULL; p += wl)
			if ((p == opts || p[-1] == ',') &&
			    (p[wl] == ',' || p[wl] == '\0'))
				break;
		if (p == NULL)
			return -1;
	}
	save = NULL;
	for (p = strtok_r(buf, " ", &save); p != NULL && n < 10;
	     p = strtok_r(NULL, " ", &save))
		fields[n++] = p;
	if (n < 5 || strcmp(fields[3], "/") != 0 || strlen(fields[4]) >= len)
		return -1;
	snprintf(mnt, len, "%s", fields[4]);
	return 0;
}

/*
 * Whether one line of /proc/self/cgroup ("ID:CONTROLLERS:PATH") is our
 * place in the v2 hierarchy (want "cgroup2": "0::PATH") or in the v1
 * hierarchy of controller want: 0 with PATH in path, or -1.
 */
int
cgroup_own_of(const char *line, const char *want, char *path, size_t len)
{
	const char *c, *colon, *end, *p;
	size_t wl = strlen(want), plen;

	if ((c = strchr(line, ':')) == NULL ||
	    (colon = strchr(c + 1, ':')) == NULL)
		return -1;
	c++;
	if (strcmp(want, "cgroup2") == 0) {
		if (strncmp(line, "0::", 3) != 0)
			return -1;
	} else {
		for (p = c; p < colon; p = end + 1) {
			end = memchr(p, ',', (size_t)(colon - p));
			if (end == NULL)
				end = colon;
			if ((size_t)(end - p) == wl &&
			    strncmp(p, want, wl) == 0)
				break;
		}
		if (p >= colon)
			return -1;
	}
	plen = strcspn(colon + 1, "\n");
	if (plen == 0 || plen >= len)
		return -1;
	memcpy(path, colon + 1, plen);
	path[plen] = '\0';
	return 0;
}

/* The mount point of want's hierarchy (cgroup_mount_of); 0 or -1. */
static int
find_mount(const char *want, char *mnt, size_t len)
{
	char line[4096];
	FILE *f;
	int found = -1;

	if ((f = fopen("/proc/self/mountinfo", "re")) == NULL)
		return -1;
	while (found != 0 && fgets(line, sizeof line, f) != NULL)
		found = cgroup_mount_of(line, want, mnt, len);
	fclose(f);
	return found;
}

/* Our own cgroup in want's hierarchy (cgroup_own_of); 0 or -1. */
static int
find_own(const char *want, char *path, size_t len)
{
	char line[PATH_MAX + 64];
	FILE *f;
	int found = -1;

	if ((f = fopen("/proc/self/cgroup", "re")) == NULL)
		return -1;
	while (found != 0 && fgets(line, sizeof line, f) != NULL)
		found = cgroup_own_of(line, want, path, len);
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
	if ((n = procs_signal(dir, 0, 0)) == 0)
		return 0;
	if (kind == CGROUP_V2 && put(dir, "cgroup.kill", "1") == 0)
		return n;
	/* v1's freezer: frozen first, so that no fork races the kill;
	 * the signals are taken when thawed.  Otherwise (v1's pids, a v2
	 * before Linux 5.14) each process is killed; the stop polls the
	 * cgroup and kills again until it is empty. */
	if (kind == CGROUP_V1_FREEZER &&
	    put(dir, "freezer.state", "FROZEN") == 0) {
		(void)procs_signal(dir, SIGKILL, 0);
		(void)put(dir, "freezer.state", "THAWED");
	} else
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
 * Make the daemon's own cgroup (clusterctl.HASH under the one it runs in)
 * in want's hierarchy: 0 with base set, or -1 (errno).
 */
static int
try_base(const char *want)
{
	char mnt[PATH_MAX], own[PATH_MAX];

	if (find_mount(want, mnt, sizeof mnt) != 0 ||
	    find_own(want, own, sizeof own) != 0) {
		errno = ENOENT;
		return -1;
	}
	if ((size_t)snprintf(base, sizeof base, "%s%s%sclusterctl.%016llx", mnt,
		own, own[strlen(own) - 1] == '/' ? "" : "/",
		fnv1a(home)) >= sizeof base - 64) {
		errno = ENAMETOOLONG;
		base[0] = '\0';
		return -1;
	}
	if ((mkdir(base, 0755) == -1 && errno != EEXIST) ||
	    access(base, W_OK) != 0) {
		base[0] = '\0';
		return -1;
	}
	return 0;
}

/*
 * Find a cgroup hierarchy the daemon may use and make its own cgroup
 * there: cgroup v2, else (v2 not mounted for us, or not ours to write)
 * v1's freezer hierarchy, else v1's pids hierarchy, as the issue of a
 * host without v2 asks.  CLUSTERCTL_CGROUP_VERSION=1 skips v2 (hybrid
 * hosts; the tests of the v1 path).  Without any, instances are held by
 * their process group only.  Called once at start, before any app.
 */
void
cgroup_init(int sweep_left)
{
	const char *v = getenv("CLUSTERCTL_CGROUP_VERSION");
	int e = ENOENT;

	base[0] = '\0';
	kind = CGROUP_NONE;
	if (getenv("CLUSTERCTL_NO_CGROUP") != NULL)
		return;
	if ((v == NULL || strcmp(v, "1") != 0) && try_base("cgroup2") == 0)
		kind = CGROUP_V2;
	else if ((e = errno, try_base("freezer")) == 0)
		kind = CGROUP_V1_FREEZER;
	else if (try_base("pids") == 0)
		kind = CGROUP_V1_PIDS;
	else {
		log_info("no cgroup for the apps (v2: %s; v1 freezer or pids: "
			 "%s): their process groups hold them",
		    strerror(e), strerror(errno));
		return;
	}
	/* After an upgrade, what runs there is ours. */
	if (sweep_left)
		sweep();
	log_info("each instance runs in a cgroup of its own under %s (%s)",
	    base, cgroup_kind_name());
}

/* The daemon's cgroup (NULL: none), for describe. */
const char *
cgroup_base(void)
{
	return base[0] != '\0' ? base : NULL;
}

/* Which hierarchy holds the instances: "v2", "v1 freezer", "v1 pids", or
 * NULL (none). */
const char *
cgroup_kind_name(void)
{
	switch (kind) {
	case CGROUP_V2:
		return "v2";
	case CGROUP_V1_FREEZER:
		return "v1 freezer";
	case CGROUP_V1_PIDS:
		return "v1 pids";
	default:
		return NULL;
	}
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
