/*
 * The in-place upgrade (clusterctl upgrade, docs/state.md): the daemon
 * executes its binary again (the same path, or another) in the same
 * process.  execve keeps the pid, so every instance stays our child
 * (waitpid and SIGCHLD go on working, PDEATHSIG does not fire) and the
 * keeper sees nothing.  What the old image knows goes to the new one as
 * a JSON document in an inherited memfd (CLUSTERCTL_UPGRADE_FD): the
 * apps (their state file entries), each instance's state, process,
 * counters, backoff and timer, and the descriptors to keep (members
 * named "fd" or "*_fd", the only ones whose FD_CLOEXEC is cleared): the
 * daemon lock, the control, notify and app sockets, the keeper channel,
 * every log pipe (with the partial line it carries), the exec status,
 * Node channel and stdin pipes, and the clients' connections (the one
 * that asked is answered by the new image).  The new image adopts all of
 * it (core/adopt.c) and starts nothing.
 *
 * Before the exec, the binary is asked what it can take
 * (`PATH __upgrade-check`, upgrade_check_main): another protocol, state
 * or handover version, a missing or non-executable file, and the daemon
 * stays as it is and says why.  So does a failed execve.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "core.h"

#ifndef CLUSTERCTL_VERSION
#define CLUSTERCTL_VERSION "0.0.0"
#endif

#define UPGRADE_CHECK_FORMAT "clusterctl-upgrade-check"
/* How long the new binary has to answer __upgrade-check. */
#define UPGRADE_CHECK_MS 5000
/* How long an upgrade waits for a reload or a restart to be done. */
#define UPGRADE_WAIT_MS 10000

/* ---- what a binary can take: __upgrade-check ---- */

/* "clusterctl __upgrade-check": the versions this binary can take over. */
int
upgrade_check_main(void)
{
	json_t *o = json_pack("{s:s, s:s, s:i, s:{s:i, s:i}, s:{s:i, s:i}}",
	    "format", UPGRADE_CHECK_FORMAT, "version", CLUSTERCTL_VERSION,
	    "protocol", IPC_VERSION, "state", "min", 1, "max", STATE_VERSION,
	    "handover", "min", 1, "max", UPGRADE_HANDOVER_VERSION);
	char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;

	json_decref(o);
	if (s == NULL)
		return 1;
	printf("%s\n", s);
	free(s);
	return fflush(stdout) == 0 ? 0 : 1;
}

/* Whether range {"min", "max"} of o's member key holds v. */
static int
takes(const json_t *o, const char *key, int v)
{
	const json_t *r = json_object_get(o, key);

	return util_json_int(r, "min", 1) <= v &&
	    util_json_int(r, "max", 0) >= v;
}

/*
 * Run "path __upgrade-check" and read what it says, for at most
 * UPGRADE_CHECK_MS (the loop waits: it is one exec of a small program).
 * Its output (a new string), or NULL with err.
 */
static char *
ask_binary(const char *path, char *err, size_t errlen)
{
	char buf[4096];
	struct pollfd pfd;
	sigset_t all, old;
	int64_t deadline = util_now_ms() + UPGRADE_CHECK_MS;
	size_t len = 0;
	ssize_t n;
	pid_t pid;
	int fds[2], null, st, left;

	if (pipe2(fds, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "cannot check '%.400s': %s", path,
		    strerror(errno));
		return NULL;
	}
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	if ((pid = fork()) == 0) {
		null = open("/dev/null", O_RDWR);
		dup2(null, 0);
		dup2(fds[1], 1);
		dup2(null, 2);
		sigprocmask(SIG_SETMASK, &old, NULL);
		execl(path, path, "__upgrade-check", (char *)NULL);
		_exit(127);
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(fds[1]);
	if (pid == -1) {
		close(fds[0]);
		snprintf(err, errlen, "cannot check '%.400s': %s", path,
		    strerror(errno));
		return NULL;
	}
	for (;;) {
		left = (int)(deadline - util_now_ms());
		pfd.fd = fds[0];
		pfd.events = POLLIN;
		if (left <= 0 || poll(&pfd, 1, left) == 0)
			break;
		n = read(fds[0], buf + len, sizeof buf - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
		if (len == sizeof buf - 1)
			break;
	}
	close(fds[0]);
	(void)kill(pid, SIGKILL); /* done with it, whatever it does */
	while (waitpid(pid, &st, 0) == -1 && errno == EINTR)
		;
	buf[len] = '\0';
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127 && len == 0) {
		snprintf(err, errlen, "cannot execute '%.400s'", path);
		return NULL;
	}
	return strdup(buf);
}

/* Whether st may be changed by another user than root (or us): its
 * owner, or a group other than root's, or everyone may write it. */
static int
others_may_write(const struct stat *st)
{
	return (st->st_uid != 0 && st->st_uid != geteuid()) ||
	    ((st->st_mode & S_IWGRP) && st->st_gid != 0) ||
	    (st->st_mode & S_IWOTH);
}

/*
 * A daemon running as root runs no binary that another user could have
 * put there: the file (links followed) and its directory are root's and
 * writable by root only.  0, or -1 with err.
 */
static int
binary_trusted(const char *path, char *err, size_t errlen)
{
	char real[PATH_MAX], *slash;
	struct stat st;

	if (geteuid() != 0)
		return 0;
	if (realpath(path, real) == NULL || stat(real, &st) != 0) {
		snprintf(err, errlen, "cannot upgrade to '%.400s': %s", path,
		    strerror(errno));
		return -1;
	}
	if (!others_may_write(&st)) {
		if ((slash = strrchr(real, '/')) != NULL)
			*(slash == real ? slash + 1 : slash) = '\0';
		if (stat(real, &st) == 0 && !others_may_write(&st))
			return 0;
	}
	snprintf(err, errlen,
	    "refusing to run '%.400s' as root: it or its directory may be "
	    "changed by another user",
	    path);
	return -1;
}

/*
 * Whether the binary at path can take this daemon's state: 0, or -1 with
 * err (and *code, the reply's error code).
 */
static int
check_binary(const char *path, char *err, size_t errlen, const char **code)
{
	json_t *o;
	const char *v;
	char *out;
	int64_t proto;

	*code = IPC_E_EXEC;
	if (access(path, X_OK) != 0) {
		snprintf(err, errlen, "cannot upgrade to '%.400s': %s", path,
		    strerror(errno));
		return -1;
	}
	if (binary_trusted(path, err, errlen) != 0 ||
	    (out = ask_binary(path, err, errlen)) == NULL)
		return -1;
	o = json_loads(out, JSON_DISABLE_EOF_CHECK, NULL);
	free(out);
	*code = IPC_E_VERSION;
	if (o == NULL ||
	    strcmp(util_json_str(o, "format", ""), UPGRADE_CHECK_FORMAT) != 0) {
		snprintf(err, errlen,
		    "'%.400s' cannot take over this daemon: it does not answer "
		    "'__upgrade-check' (not a clusterctl, or one older than "
		    "the in-place upgrade)",
		    path);
		json_decref(o);
		return -1;
	}
	v = util_json_str(o, "version", "?");
	proto = util_json_int(o, "protocol", 0);
	if (proto != IPC_VERSION)
		snprintf(err, errlen,
		    "'%.400s' (clusterctl %s) speaks protocol version %lld, this "
		    "daemon version %d",
		    path, v, (long long)proto, IPC_VERSION);
	else if (!takes(o, "state", STATE_VERSION))
		snprintf(err, errlen,
		    "'%.400s' (clusterctl %s) reads state versions %lld to %lld, "
		    "this daemon's state is version %d",
		    path, v,
		    (long long)util_json_int(json_object_get(o, "state"), "min",
			0),
		    (long long)util_json_int(json_object_get(o, "state"), "max",
			0),
		    STATE_VERSION);
	else if (!takes(o, "handover", UPGRADE_HANDOVER_VERSION))
		snprintf(err, errlen,
		    "'%.400s' (clusterctl %s) takes handover versions %lld to "
		    "%lld, this daemon hands over version %d",
		    path, v,
		    (long long)util_json_int(json_object_get(o, "handover"),
			"min", 0),
		    (long long)util_json_int(json_object_get(o, "handover"),
			"max", 0),
		    UPGRADE_HANDOVER_VERSION);
	else {
		json_decref(o);
		return 0;
	}
	json_decref(o);
	return -1;
}

/* ---- the old image: hand everything over and exec ---- */

/* Why the daemon cannot be handed over right now (err), or 0. */
static int
busy(char *err, size_t errlen)
{
	struct app *a;

	TAILQ_FOREACH(a, &apps, entry) {
		if (a->reloading || !TAILQ_EMPTY(&a->gone)) {
			snprintf(err, errlen, "a reload of '%.400s' is running",
			    a->name);
			return -1;
		}
		if (a->deleting) {
			snprintf(err, errlen, "'%.400s' is being deleted",
			    a->name);
			return -1;
		}
	}
	if (logpipe_busy()) {
		snprintf(err, errlen,
		    "log lines wait for room on the disk (see 'clusterctl "
		    "logs' and daemon.log)");
		return -1;
	}
	if (logf_compressing() > 0) {
		snprintf(err, errlen, "a rotated log file is being compressed");
		return -1;
	}
	return 0;
}

/* The apps as the state file has them, each with its sockets and
 * instances: a new array, or NULL with err (an instance busy). */
static json_t *
apps_handover(char *err, size_t errlen)
{
	json_t *dump = state_dump_json(), *arr, *entry, *insts, *o;
	struct app *a;
	size_t k = 0;
	int i;

	arr = json_incref(json_object_get(dump, "apps"));
	json_decref(dump);
	TAILQ_FOREACH(a, &apps, entry) {
		if ((entry = json_array_get(arr, k++)) == NULL ||
		    util_json_int(entry, "id", -1) != a->id)
			goto fail;
		insts = json_array();
		json_object_set_new(entry, "instance_states", insts);
		json_object_set_new(entry, "sockets", share_handover(a));
		json_object_set_new(entry, "reload_ms",
		    json_integer(a->reload_ms));
		json_object_set_new(entry, "ready_ms",
		    json_integer(a->ready_ms));
		for (i = 0; i < a->ninst; i++) {
			if ((o = inst_handover(a->inst[i], err, errlen)) ==
			    NULL) {
				json_decref(arr);
				return NULL;
			}
			json_array_append_new(insts, o);
		}
	}
	return arr;
fail:
	snprintf(err, errlen, "the apps changed while they were handed over");
	json_decref(arr);
	return NULL;
}

struct fdlist {
	int *fd;
	int *flags; /* as they were: restored when the exec fails */
	size_t n;
};

/* Every descriptor in o: members named "fd" or ending in "_fd" (none in
 * an app's spec or a request's arguments, which a client wrote). */
static void
collect_fds(const json_t *o, struct fdlist *l)
{
	const char *k;
	const json_t *v;
	size_t i, klen;
	int *nf, *nfl;

	if (json_is_array(o)) {
		json_array_foreach(o, i, v)
			collect_fds(v, l);
		return;
	}
	json_object_foreach((json_t *)o, k, v) {
		klen = strlen(k);
		if (json_is_integer(v) && json_integer_value(v) >= 0 &&
		    (strcmp(k, "fd") == 0 ||
			(klen > 3 && strcmp(k + klen - 3, "_fd") == 0))) {
			nf = realloc(l->fd, (l->n + 1) * sizeof *nf);
			if (nf != NULL)
				l->fd = nf;
			nfl = realloc(l->flags, (l->n + 1) * sizeof *nfl);
			if (nfl != NULL)
				l->flags = nfl;
			if (nf != NULL && nfl != NULL)
				l->fd[l->n++] = (int)json_integer_value(v);
		} else if ((json_is_object(v) || json_is_array(v)) &&
		    strcmp(k, "spec") != 0 && strcmp(k, "args") != 0)
			collect_fds(v, l); /* not what a client wrote */
	}
}

/* The handover document in a memfd the new image inherits: its fd, or
 * -errno. */
static int
write_memfd(const json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT);
	size_t len, off = 0;
	ssize_t n;
	int fd;

	if (s == NULL)
		return -ENOMEM;
	len = strlen(s);
	if ((fd = memfd_create("clusterctl-upgrade", 0)) == -1) {
		free(s);
		return -errno;
	}
	while (off < len) {
		if ((n = write(fd, s + off, len - off)) < 0) {
			if (errno == EINTR)
				continue;
			n = -errno;
			free(s);
			close(fd);
			return (int)n;
		}
		off += (size_t)n;
	}
	free(s);
	if (lseek(fd, 0, SEEK_SET) == -1) {
		close(fd);
		return -errno;
	}
	return fd;
}

static void
put_fd(json_t *doc, const char *key, int fd)
{
	if (fd >= 0)
		json_object_set_new(doc, key, json_integer(fd));
}

/*
 * Hand everything over to path's image and execute it: returns only when
 * that failed (err says why), everything as it was.
 */
static void
exec_upgrade(struct req *r, const char *path, json_t *apps_arr, char *err,
    size_t errlen)
{
	char *argv[] = { (char *)"clusterctl-daemon", (char *)"__daemon",
		(char *)home, NULL };
	char num[16];
	struct fdlist l = { NULL, NULL, 0 };
	json_t *doc;
	size_t i;
	int mfd, e;

	doc = json_pack("{s:s, s:i, s:s, s:s, s:i, s:I, s:I, s:o, s:o}",
	    "format", UPGRADE_FORMAT, "version", UPGRADE_HANDOVER_VERSION,
	    "from_version", CLUSTERCTL_VERSION, "binary", path, "generation",
	    state_generation(), "at", (json_int_t)daemon_now_wall(), "nofile",
	    (json_int_t)daemon_nofile_orig(), "apps", apps_arr, "pipes",
	    logpipe_handover());
	if (doc == NULL) {
		snprintf(err, errlen, "out of memory");
		return;
	}
	put_fd(doc, "lock_fd", daemon_lock_fd());
	put_fd(doc, "control_fd", server_listen_fd());
	put_fd(doc, "notify_fd", notify_fd_get(0));
	put_fd(doc, "notify_others_fd", notify_fd_get(1));
	put_fd(doc, "door_fd", server_door_fd_get(0));
	put_fd(doc, "door_app_fd", server_door_fd_get(1));
	put_fd(doc, "keeper_fd", keeper_channel());
	json_object_set_new(doc, "clients", server_handover(r));
	if (http_address(HTTP_METRICS) != NULL)
		json_object_set_new(doc, "metrics",
		    json_string(http_address(HTTP_METRICS)));
	if (http_address(HTTP_HEALTH) != NULL)
		json_object_set_new(doc, "health",
		    json_string(http_address(HTTP_HEALTH)));
	collect_fds(doc, &l);
	if ((mfd = write_memfd(doc)) < 0) {
		snprintf(err, errlen, "cannot hand the state over: %s",
		    strerror(-mfd));
		goto out;
	}
	snprintf(num, sizeof num, "%d", mfd);
	for (i = 0; i < l.n; i++) {
		l.flags[i] = fcntl(l.fd[i], F_GETFD);
		if (l.flags[i] != -1)
			(void)fcntl(l.fd[i], F_SETFD, l.flags[i] & ~FD_CLOEXEC);
	}
	setenv(UPGRADE_ENV, num, 1);
	log_info("upgrading in place to %s: %zu descriptors handed over", path,
	    l.n);
	execv(path, argv);
	e = errno;
	unsetenv(UPGRADE_ENV);
	for (i = 0; i < l.n; i++)
		if (l.flags[i] != -1)
			(void)fcntl(l.fd[i], F_SETFD, l.flags[i]);
	close(mfd);
	snprintf(err, errlen, "cannot execute '%.400s': %s", path, strerror(e));
out:
	free(l.fd);
	free(l.flags);
	json_decref(doc);
}

static uv_timer_t wait_timer;

static void
wait_timer_cb(uv_timer_t *t)
{
	(void)t;
	daemon_changed(); /* the waiter looks at its deadline */
}

/*
 * The waiter of an upgrade: once nothing is in the middle of a change
 * (busy), hand over and execute; at the deadline, say what kept it.
 * Returns only having replied (1), or to wait on (0).
 */
static int
try_upgrade(struct req *r)
{
	const char *path = util_json_str(r->wait, "binary", "");
	char err[1024];
	json_t *arr;

	if (quitting) {
		req_error(r, IPC_E_BUSY, "the daemon is shutting down");
		return 1;
	}
	if (busy(err, sizeof err) != 0 ||
	    (arr = apps_handover(err, sizeof err)) == NULL) {
		if ((int64_t)uv_now(loop) < util_json_int(r->wait, "until", 0))
			return 0;
		req_error(r, IPC_E_BUSY, "cannot upgrade now: %s; try again",
		    err);
		return 1;
	}
	/* Another client's command that waits (a restart until online)
	 * gets its answer first, unless it takes too long: then its
	 * connection closes with the exec. */
	if ((server_nwaiting(r) > 0 || server_nsending() > 0) &&
	    (int64_t)uv_now(loop) < util_json_int(r->wait, "until", 0)) {
		json_decref(arr);
		return 0;
	}
	(void)state_sync_all();
	exec_upgrade(r, path, arr, err, sizeof err);
	log_warnx("upgrade failed: %s; the daemon keeps running", err);
	req_error(r, IPC_E_EXEC, "%s; the daemon keeps running as it is", err);
	return 1;
}

/*
 * "upgrade" {"binary": PATH (optional)}: re-execute the daemon's binary,
 * or PATH, keeping every app, pid, pipe and socket.  Answered by the new
 * image; an error leaves this one running as it was.  What is in the
 * middle of a change (a reload, a restart) is waited for, up to
 * UPGRADE_WAIT_MS.
 */
void
upgrade_handle(struct req *r)
{
	const char *bin = NULL, *code;
	char err[1024], path[PATH_MAX];

	if (req_args(r, "{s?s}", "binary", &bin) != 0)
		return;
	if (quitting) {
		req_error(r, IPC_E_BUSY, "the daemon is shutting down");
		return;
	}
	if (daemon_foreground) {
		req_error(r, IPC_E_DENIED,
		    "this daemon runs in the foreground ('clusterctl run', a "
		    "service): restart it to upgrade it");
		return;
	}
	snprintf(path, sizeof path, "%s", bin != NULL ? bin : self_exe);
	if (path[0] != '/') {
		req_error(r, IPC_E_BAD_REQUEST,
		    "the binary must be an absolute path, not '%.400s'", path);
		return;
	}
	if (check_binary(path, err, sizeof err, &code) != 0) {
		log_warnx("upgrade refused: %s", err);
		req_error(r, code, "%s; the daemon keeps running as it is",
		    err);
		return;
	}
	if (wait_timer.loop == NULL) {
		uv_timer_init(loop, &wait_timer);
		uv_unref((uv_handle_t *)&wait_timer);
	}
	uv_timer_start(&wait_timer, wait_timer_cb, UPGRADE_WAIT_MS + 1, 0);
	req_wait(r, try_upgrade,
	    json_pack("{s:s, s:I}", "binary", path, "until",
		(json_int_t)(uv_now(loop) + UPGRADE_WAIT_MS)));
}
