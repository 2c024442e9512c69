/*
 * The daemon's life: one per home (a lock held for its lifetime), its log,
 * its control socket and pid file, signals, and a clean exit.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/close_range.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "core.h"
#include "proc.h"

#ifndef CLUSTERCTL_VERSION
#define CLUSTERCTL_VERSION "0.0.0"
#endif

uv_loop_t *loop;
struct app_list apps = TAILQ_HEAD_INITIALIZER(apps);
const char *home;
char self_exe[PATH_MAX];
int quitting;
int daemon_foreground;
int (*daemon_exit_code)(void);

static char sock_path[PATH_MAX];
static rlim_t nofile_orig; /* the caller's soft limit: the apps' */
static char nofile_warning[200];
static DIR *fd_dir; /* /proc/self/fd, to count ours */
static char pid_path[PATH_MAX];
static int lock_fd = -1; /* daemon.lock, held for the daemon's life */
static uv_signal_t sig_term, sig_int, sig_quit, sig_hup, sig_usr1, sig_chld;
static uv_timer_t reap_timer;
static uv_idle_t changed_idle;
static uv_timer_t trim_timer;
static int changed;

/*
 * A second after a burst of changes (a start of 1000 instances, say), give
 * the heap's free pages back: the transient copies of a busy second (state
 * documents, replies) otherwise stay in the daemon's resident size.
 */
static void
trim_cb(uv_timer_t *t)
{
	(void)t;
	(void)malloc_trim(0);
}

/* After a change, before the loop blocks: sweep, then ask the waiters. */
static void
changed_cb(uv_idle_t *h)
{
	uv_idle_stop(h);
	if (!changed)
		return;
	changed = 0;
	app_sweep_gone();
	/* Whatever changed the desired state (a client, an app's exit)
	 * reaches the disk before the waiters reply and the loop blocks. */
	(void)state_sync();
	server_run_waiters();
	if (!uv_is_active((uv_handle_t *)&trim_timer))
		uv_timer_start(&trim_timer, trim_cb, 1000, 0);
}

/*
 * The one notification hook: any layer says that something changed (an
 * instance's state, a reply queued), and the waiters are asked again
 * before the loop next blocks (an active idle handle keeps it from
 * waiting in poll).
 */
void
daemon_changed(void)
{
	changed = 1;
	if (loop != NULL && !uv_is_active((uv_handle_t *)&changed_idle))
		uv_idle_start(&changed_idle, changed_cb);
}

/*
 * The loop and what every layer needs of it (the change hook): the daemon
 * and the handlers' fuzz target (tests/fuzz/handlers.c) start with this.
 */
void
daemon_loop_init(void)
{
	loop = uv_default_loop();
	uv_idle_init(loop, &changed_idle);
	uv_timer_init(loop, &trim_timer);
	uv_unref((uv_handle_t *)&trim_timer);
	logs_init();
}

/* An sd_notify datagram from pid: its instance's, or nobody's. */
static void
notify_deliver(pid_t pid, uid_t uid, const char *msg, size_t n)
{
	struct instance *in;

	if ((in = app_instance_of_pid(pid)) == NULL) {
		log_debug("notify from pid %ld of no instance", (long)pid);
		return;
	}
	/* Another user speaks only for the apps run as it (--uid). */
	if (uid != getuid() && !creds_other_user(&in->app->creds, uid)) {
		log_debug("notify from pid %ld of uid %ld for %s: not its app",
		    (long)pid, (long)uid, in->app->name);
		return;
	}
	inst_notify(in, msg, n);
}

int64_t
daemon_now_wall(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/*
 * Raise the soft descriptor limit to the hard one, as systemd, nginx and
 * Go's runtime do: the daemon holds four descriptors per instance, and the
 * common soft limit of 1024 would stop the 250th.  Apps get the caller's
 * soft limit back (the __exec shim, from CLUSTERCTL_NOFILE).
 */
static void
nofile_raise(void)
{
	struct rlimit rl;
	rlim_t want;
	FILE *f;
	unsigned long long nr;
	long long kept = upgrade_nofile_orig();

	if (kept >= 0) {
		/* Raised by the image before an upgrade: the caller's. */
		nofile_orig = (rlim_t)kept;
		return;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	nofile_orig = rl.rlim_cur;
	want = rl.rlim_max;
	if (want == RLIM_INFINITY) {
		/* The kernel's own ceiling. */
		want = 1 << 20;
		if ((f = fopen("/proc/sys/fs/nr_open", "re")) != NULL) {
			if (fscanf(f, "%llu", &nr) == 1)
				want = (rlim_t)nr;
			fclose(f);
		}
	}
	if (want <= rl.rlim_cur) {
		nofile_orig = 0; /* nothing to give back */
		return;
	}
	rl.rlim_cur = want;
	if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
		log_warn("cannot raise the descriptor limit (RLIMIT_NOFILE) "
			 "from %llu",
		    (unsigned long long)nofile_orig);
		nofile_orig = 0;
		return;
	}
	log_info("raised the descriptor limit (RLIMIT_NOFILE) from %llu to "
		 "%llu; apps keep %llu",
	    (unsigned long long)nofile_orig, (unsigned long long)want,
	    (unsigned long long)nofile_orig);
}

/* The descriptor that holds daemon.lock (an upgrade hands it over). */
int
daemon_lock_fd(void)
{
	return lock_fd;
}

/* The soft descriptor limit apps get back, or 0: they keep ours. */
long long
daemon_nofile_orig(void)
{
	return nofile_orig == RLIM_INFINITY ? 0 : (long long)nofile_orig;
}

/*
 * Whether the daemon nears its descriptor limit (the hard one, once
 * raised): looked at after each spawn and connection, at most once a
 * second (counting /proc/self/fd, opened at start so that it can be
 * counted even when no descriptor is left), and at once when something
 * failed for want of one (emfile).  Said in daemon.log when crossing 90%
 * or running out; daemon_nofile_warning() says it while it lasts (and for
 * a minute after the last shortage).
 */
/*
 * The daemon's open descriptors (the one counting them included), counted
 * at most once a second unless fresh: listing thousands of them is most
 * of a scrape's cost.  -1 when they cannot be counted.
 */
long
daemon_fd_count(int fresh)
{
	static uint64_t when;
	static long count = -1;
	struct dirent *de;
	uint64_t now = loop != NULL ? uv_now(loop) : 0;
	long n = 0;

	if (fd_dir == NULL)
		return -1;
	if (!fresh && count >= 0 && now - when < 1000)
		return count;
	rewinddir(fd_dir);
	while ((de = readdir(fd_dir)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	when = now;
	count = n;
	return n;
}

/*
 * Whether the daemon uses less than half of its descriptor limit, so that
 * it may keep descriptors it could do without (a scrape's statm files).
 */
int
daemon_fds_plenty(void)
{
	struct rlimit rl;
	long n = daemon_fd_count(0);

	if (n < 0 || getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return 0;
	return rl.rlim_cur == RLIM_INFINITY || (rlim_t)n < rl.rlim_cur / 2;
}

void
daemon_nofile_check(int emfile)
{
	static uint64_t last, last_emfile;
	struct rlimit rl;
	uint64_t now = loop != NULL ? uv_now(loop) : 0;
	long n;
	int near;

	if (fd_dir == NULL || (!emfile && last != 0 && now - last < 1000))
		return;
	last = now;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return;
	n = daemon_fd_count(1);
	if (emfile)
		last_emfile = now;
	near = emfile || (rlim_t)n >= rl.rlim_cur / 10 * 9;
	if (near) {
		if (nofile_warning[0] == '\0')
			log_warnx(
			    "the daemon %s its %llu descriptors (RLIMIT_NOFILE, "
			    "hard limit %llu; %ld open): raise the hard limit "
			    "(ulimit -Hn, LimitNOFILE=) for more instances",
			    emfile ? "ran out of" : "nears",
			    (unsigned long long)rl.rlim_cur,
			    (unsigned long long)rl.rlim_max, n);
		snprintf(nofile_warning, sizeof nofile_warning,
		    "the daemon %s its %llu descriptors (RLIMIT_NOFILE)",
		    emfile ? "ran out of" : "nears",
		    (unsigned long long)rl.rlim_cur);
	} else if ((rlim_t)n < rl.rlim_cur / 10 * 8 &&
	    (last_emfile == 0 || now - last_emfile > 60000))
		nofile_warning[0] = '\0';
}

/* What daemon_nofile_check found, or NULL. */
const char *
daemon_nofile_warning(void)
{
	return nofile_warning[0] != '\0' ? nofile_warning : NULL;
}

/*
 * Leave now: every app has been stopped (or the daemon could not start).
 * A daemon in the foreground exits with the code run chose.
 */
void
daemon_quit(void)
{
	int code = daemon_exit_code != NULL ? daemon_exit_code() : 0;

	if (quitting)
		state_exit_clean();
	(void)unlink(sock_path);
	(void)unlink(pid_path);
	if (notify_socket_path(0) != NULL && notify_socket_path(0)[0] == '/')
		(void)unlink(notify_socket_path(0));
	cgroup_release();
	if (code != 0)
		log_info("daemon exits with code %d", code);
	else
		log_info("daemon exits");
	console_close();
	exit(code);
}

static void reap_orphans(void);

static void
reap_timer_cb(uv_timer_t *t)
{
	(void)t;
	reap_orphans();
}

/*
 * The daemon is a subreaper: what an app leaves behind is reparented to
 * it, and must be reaped here, since libuv reaps only its own children.
 * Groups of exited instances are reaped by group; a stray zombie that no
 * instance's group holds (it left its group) is reaped by pid.
 */
static void
reap_orphans(void)
{
	struct instance *in;
	struct app *a;
	siginfo_t si;
	int i, ours;

	TAILQ_FOREACH(a, &apps, entry) {
		for (i = 0; i < a->ninst; i++)
			inst_reap_orphans(a->inst[i]);
		TAILQ_FOREACH(in, &a->gone, retired)
			inst_reap_orphans(in);
	}
	for (;;) {
		memset(&si, 0, sizeof si);
		if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) != 0 ||
		    si.si_pid == 0)
			break;
		ours = 0;
		TAILQ_FOREACH(a, &apps, entry) {
			for (i = 0; i < a->ninst; i++)
				if (a->inst[i]->pid == si.si_pid &&
				    a->inst[i]->running && !a->inst[i]->exited)
					ours = 1;
			TAILQ_FOREACH(in, &a->gone, retired)
				if (in->pid == si.si_pid && in->running &&
				    !in->exited)
					ours = 1;
		}
		if (ours) {
			/* libuv's to reap; zombies behind it are looked
			 * at again once it has. */
			uv_timer_start(&reap_timer, reap_timer_cb, 10, 0);
			break;
		}
		(void)waitpid(si.si_pid, NULL, WNOHANG);
	}
}

/*
 * Stop every app, then exit, with nobody to tell (a signal, run's
 * --exit-on): the same path as 'clusterctl kill'.
 */
void
daemon_shutdown(const char *why)
{
	if (quitting)
		return;
	log_info("%s: stopping every app, then exiting", why);
	handlers_shutdown(NULL);
}

static void
signal_cb(uv_signal_t *h, int sig)
{
	char why[64];

	(void)h;
	switch (sig) {
	case SIGTERM:
	case SIGINT:
	case SIGQUIT:
		snprintf(why, sizeof why, "got %s", util_signal_name(sig));
		daemon_shutdown(why);
		break;
	case SIGHUP:
		break;
	case SIGUSR1:
		log_info("got SIGUSR1: reopening the log files");
		logf_reopen_all();
		break;
	case SIGCHLD:
		reap_orphans();
		break;
	}
}

static void
signal_watch(uv_signal_t *h, int sig)
{
	uv_signal_init(loop, h);
	uv_signal_start(h, signal_cb, sig);
	uv_unref((uv_handle_t *)h);
}

/* Whether pid exists and is not a zombie (dead, not reaped yet). */
static int
pid_alive(pid_t pid)
{
	struct proc_stat st;

	if (waitpid(pid, NULL, WNOHANG) == pid) /* ours: a subreaper's */
		return 0;
	return proc_read_stat(pid, &st) == 0 && st.state != 'Z' &&
	    st.state != 'X';
}

/* The orphans swept, for the wait until they are gone. */
struct sweep {
	pid_t *pids;
	size_t n;
};

/*
 * A daemon that died without stopping its apps (SIGKILL, OOM) took their
 * leaders with it (PDEATHSIG), but not what they had started.  Holding the
 * lock, we are the only daemon of this home: whatever still runs as an app
 * of it (its environment says so) is an orphan, and goes.
 */
static void
sweep_one(pid_t pid, void *arg)
{
	struct sweep *sw = arg;
	pid_t *np;
	size_t len;
	char *env;

	if ((env = proc_read_environ(pid, &len)) == NULL)
		return;
	if (proc_environ_has(env, len, "CLUSTERCTL_APP", NULL) &&
	    proc_environ_has(env, len, "CLUSTERCTL_HOME", home)) {
		log_warnx("killing pid %ld, left running by a previous daemon",
		    (long)pid);
		(void)kill(pid, SIGKILL);
		if ((np = realloc(sw->pids, (sw->n + 1) * sizeof *np)) !=
		    NULL) {
			sw->pids = np;
			sw->pids[sw->n++] = pid;
		}
	}
	free(env);
}

static void
sweep_orphans(void)
{
	struct sweep sw = { NULL, 0 };
	size_t i, left;
	int tries;

	proc_foreach(sweep_one, &sw);
	if (sw.n == 0)
		return;
	/* The old generation is gone before a new one starts (a restore):
	 * SIGKILL is quick, but not instant. */
	for (tries = 0; tries < 500; tries++) {
		for (i = 0, left = 0; i < sw.n; i++)
			if (pid_alive(sw.pids[i]))
				left++;
		if (left == 0)
			break;
		usleep(10000);
	}
	log_info("swept %zu orphaned process%s", sw.n, sw.n == 1 ? "" : "es");
	free(sw.pids);
}

static int
write_pid(const char *path)
{
	char buf[32];
	int fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd == -1)
		return -errno;
	n = snprintf(buf, sizeof buf, "%ld\n", (long)getpid());
	if (write(fd, buf, (size_t)n) != n) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return 0;
}

/*
 * Set the daemon of home h up, short of running its loop: the lock, the
 * log, the control socket.  A daemon spawned by the CLI runs detached, in
 * its own session, with /dev/null as stdio; one in the foreground (run)
 * keeps the caller's stdout and stderr as its console.  0, or the exit
 * code to leave with (another daemon holds the home).
 */
int
daemon_setup(const char *h, int foreground)
{
	char path[PATH_MAX], err[256];
	ssize_t n;
	int lockfd, r, devnull, other;
	FILE *f;

	home = h;
	daemon_foreground = foreground;
	umask(022);
	if (chdir("/") == -1)
		return 1;
	snprintf(path, sizeof path, "%s/daemon.lock", home);
	/* An upgraded image goes on with the lock its image before held. */
	if ((lockfd = upgrade_begin()) == -1)
		lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lockfd == -1)
		return 1;
	/* One daemon per home: a second one leaves at once. */
	if (flock(lockfd, LOCK_EX | LOCK_NB) == -1) {
		close(lockfd);
		if (!foreground)
			return -1;
		other = 0;
		snprintf(path, sizeof path, "%s/daemon.pid", home);
		if ((f = fopen(path, "re")) != NULL) {
			if (fscanf(f, "%d", &other) != 1)
				other = 0;
			fclose(f);
		}
		fprintf(stderr,
		    "clusterctl: a daemon already runs for home "
		    "'%s' (pid %d): stop it with 'clusterctl kill', or set "
		    "another CLUSTERCTL_HOME\n",
		    home, other);
		return 1;
	}
	lock_fd = lockfd;
	snprintf(path, sizeof path, "%s/daemon.log", home);
	if (log_open(path) != 0)
		return 1;
	/* Whatever lands on stderr (a libuv assertion) goes to the log. */
	if ((devnull = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)) != -1) {
		dup2(devnull, 2);
		close(devnull);
	}
	snprintf(path, sizeof path, "%s/logs", home);
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		log_warn("cannot create %s", path);
	n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
	if (n <= 0)
		fatal("cannot find my own executable");
	self_exe[n] = '\0';
	if (!foreground)
		(void)prctl(PR_SET_NAME, "clusterctl-d");
	nofile_raise();
	fd_dir = opendir("/proc/self/fd");
	/* Started by a keeper: its channel, and the sockets it held. */
	keeper_attach();
	signal(SIGPIPE, SIG_IGN);
	/* No descriptor we were given may reach an app. */
	(void)close_range(3, ~0U, CLOSE_RANGE_CLOEXEC);
	uv_disable_stdio_inheritance();
	daemon_loop_init();
	uv_timer_init(loop, &reap_timer);
	uv_unref((uv_handle_t *)&reap_timer);
	signal_watch(&sig_term, SIGTERM);
	signal_watch(&sig_int, SIGINT);
	signal_watch(&sig_hup, SIGHUP);
	signal_watch(&sig_usr1, SIGUSR1);
	signal_watch(&sig_chld, SIGCHLD);
	/* A container's runtime may stop its main process with SIGQUIT. */
	if (foreground)
		signal_watch(&sig_quit, SIGQUIT);
	/* Orphans of apps become ours to reap, not init's (no zombies). */
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1);

	/* What runs as our apps is a dead daemon's, unless this is the same
	 * daemon upgraded: then it is ours to adopt. */
	cgroup_init(!upgrade_resuming());
	if (!upgrade_resuming())
		sweep_orphans();
	snprintf(sock_path, sizeof sock_path, "%s/sock", home);
	snprintf(pid_path, sizeof pid_path, "%s/daemon.pid", home);
	if ((r = server_listen(sock_path, handle_request)) != 0)
		fatalx("cannot listen on %s: %s", sock_path, uv_strerror(r));
	if ((r = notify_open(notify_deliver)) != 0)
		log_warnx("no sd_notify socket: %s", uv_strerror(r));
	if (getenv("CLUSTERCTL_METRICS") != NULL &&
	    http_serve(HTTP_METRICS, getenv("CLUSTERCTL_METRICS"), err,
		sizeof err) != 0)
		log_warnx("%s", err);
	if (getenv("CLUSTERCTL_HEALTH") != NULL &&
	    http_serve(HTTP_HEALTH, getenv("CLUSTERCTL_HEALTH"), err,
		sizeof err) != 0)
		log_warnx("%s", err);
	if ((r = write_pid(pid_path)) != 0)
		log_warnx("cannot write %s: %s", pid_path, strerror(-r));
	log_info("daemon %s started%s, pid %ld, home %s", CLUSTERCTL_VERSION,
	    foreground ? " in the foreground" : "", (long)getpid(), home);
	return 0;
}

/* Run the daemon for home h, spawned detached by the CLI. */
int
daemon_main(const char *h)
{
	int r;

	if ((r = daemon_setup(h, 0)) != 0)
		return r < 0 ? 0 : r;
	/* Apps of a daemon that died come back (core/state.c), or those of
	 * the image before an upgrade are adopted (core/upgrade.c). */
	if (upgrade_resuming())
		upgrade_resume();
	else
		state_init(1);
	keeper_up();
	uv_run(loop, UV_RUN_DEFAULT);
	daemon_quit();
	return 0;
}
