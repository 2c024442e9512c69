/*
 * The keeper: a small process that starts the daemon and starts it again
 * when it dies (SIGKILL, the OOM killer, a crash), holding duplicates of
 * the daemon's listening sockets meanwhile, so that a port refuses no
 * connection across the daemon's death (docs/architecture.md, "The
 * keeper").  It speaks no protocol and accepts nothing: connections wait
 * in the sockets' backlogs until the next daemon's apps take them.
 *
 * Between the two, a SOCK_SEQPACKET pair.  The daemon sends "hold KEY"
 * with a descriptor (SCM_RIGHTS) for each listening socket it opens,
 * "drop KEY" when it closes one, "up" once it serves, and "quitting" when
 * it is asked to exit (kill): from then on its death is no accident, and
 * "exe PATH" after an in-place upgrade to another binary (the one to start
 * next time).  A new daemon first receives "fd KEY" with each descriptor
 * held, then "end".  An upgraded daemon keeps its pid and its channel
 * (core/upgrade.c): the keeper does not see an upgrade.
 *
 * Both sides live here: keeper_main() (the keeper, no libuv), and the
 * daemon's keeper_attach(), keeper_take(), keeper_hold(), keeper_drop().
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "core.h"

#define KEEPER_ENV "CLUSTERCTL_KEEPER_FD"
#define KEEPER_MSG_MAX 512
/* Deaths in a row, each soon after its start, before the keeper gives up. */
#define KEEPER_MAX_QUICK_DEATHS 10
#define KEEPER_QUICK_MS 1000
/* How long restored apps have to take back their sockets. */
#define KEEPER_POOL_MS 60000

struct held {
	char key[KEEPER_MSG_MAX];
	int fd;
};

/* One message with at most one descriptor: 0, or -errno. */
static int
msg_send(int sock, const char *text, int fd)
{
	return util_send_fd(sock, text, strlen(text), fd,
		   MSG_NOSIGNAL | MSG_DONTWAIT) < 0 ?
	    -errno :
	    0;
}

/*
 * One message into buf (NUL-terminated) and its descriptor (*fd, or -1):
 * its length, 0 at end of file, or -errno.
 */
static ssize_t
msg_recv(int sock, char *buf, size_t len, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct msghdr mh;
	struct cmsghdr *cm;
	struct iovec iov;
	ssize_t n;

	*fd = -1;
	memset(&mh, 0, sizeof mh);
	iov.iov_base = buf;
	iov.iov_len = len - 1;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof cbuf;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC | MSG_DONTWAIT);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET &&
		    cm->cmsg_type == SCM_RIGHTS &&
		    cm->cmsg_len >= CMSG_LEN(sizeof(int))) {
			if (*fd >= 0)
				close(*fd); /* one per message */
			memcpy(fd, CMSG_DATA(cm), sizeof *fd);
		}
	buf[n] = '\0';
	if (n == 0 && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
	return n;
}

/* ---- The keeper's side. ---- */

static struct held *kheld;
static size_t nkheld;

static void
kheld_put(const char *key, int fd)
{
	struct held *nh;
	size_t i;

	for (i = 0; i < nkheld; i++)
		if (strcmp(kheld[i].key, key) == 0) {
			close(kheld[i].fd);
			kheld[i].fd = fd;
			return;
		}
	if ((nh = realloc(kheld, (nkheld + 1) * sizeof *nh)) == NULL) {
		close(fd);
		return;
	}
	kheld = nh;
	snprintf(kheld[nkheld].key, sizeof kheld[nkheld].key, "%s", key);
	kheld[nkheld++].fd = fd;
}

static void
kheld_drop(const char *key)
{
	size_t i;

	for (i = 0; i < nkheld; i++)
		if (strcmp(kheld[i].key, key) == 0) {
			close(kheld[i].fd);
			kheld[i] = kheld[--nkheld];
			return;
		}
}

static int64_t
mono_ms(void)
{
	return util_now_ms();
}

/*
 * Start a daemon with a fresh channel, and queue on it every descriptor
 * held: the pid, or -1.  *chan is the keeper's end.
 */
static pid_t
keeper_spawn(const char *h, int *chan)
{
	char num[16], key[KEEPER_MSG_MAX + 8];
	int sv[2];
	size_t i;
	pid_t pid;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("keeper: socketpair");
		return -1;
	}
	for (i = 0; i < nkheld; i++) {
		snprintf(key, sizeof key, "fd %s", kheld[i].key);
		if (msg_send(sv[0], key, kheld[i].fd) != 0)
			log_warn("keeper: cannot hand %s over", kheld[i].key);
	}
	(void)msg_send(sv[0], "end", -1);
	if ((pid = fork()) == -1) {
		log_warn("keeper: fork");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (pid == 0) {
		sigset_t none;

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		prctl(PR_SET_CHILD_SUBREAPER, 0);
		if (sv[1] != 3) {
			dup2(sv[1], 3);
			close(sv[1]);
		} else
			fcntl(3, F_SETFD, 0);
		snprintf(num, sizeof num, "%d", 3);
		setenv(KEEPER_ENV, num, 1);
		execl(self_exe, "clusterctl-daemon", "__daemon", h,
		    (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	*chan = sv[0];
	return pid;
}

/* A message from the daemon: *up becomes 1 ("up"), -1 ("quitting"). */
static void
keeper_message(int chan, int *up)
{
	char buf[KEEPER_MSG_MAX];
	ssize_t n;
	int fd;

	while ((n = msg_recv(chan, buf, sizeof buf, &fd)) > 0) {
		if (strncmp(buf, "hold ", 5) == 0 && fd >= 0) {
			kheld_put(buf + 5, fd);
			fd = -1;
		} else if (strncmp(buf, "drop ", 5) == 0)
			kheld_drop(buf + 5);
		else if (strcmp(buf, "up") == 0)
			*up = 1;
		else if (strcmp(buf, "quitting") == 0)
			*up = -1;
		else if (strncmp(buf, "exe /", 5) == 0)
			/* An upgrade to another binary: the next daemon's. */
			snprintf(self_exe, PATH_MAX, "%s", buf + 4);
		if (fd >= 0)
			close(fd);
	}
}

static void
describe_status(int st, char *buf, size_t len)
{
	if (WIFSIGNALED(st))
		snprintf(buf, len, "was killed by %s",
		    util_signal_name(WTERMSIG(st)));
	else
		snprintf(buf, len, "exited with code %d", WEXITSTATUS(st));
}

/*
 * Run the keeper for home h: start the daemon, start it again each time it
 * dies without meaning to (a clean exit, code 0, ends the keeper too).
 * The CLI starts it detached, with /dev/null as stdio, and waits on the
 * pipe CLUSTERCTL_START_FD names until it is closed: once the first daemon
 * served, or at once when the keeper ends, so a daemon that cannot start fails
 * the CLI's command without its waiting the whole start timeout.
 */
int
keeper_main(const char *h)
{
	char path[PATH_MAX], how[64];
	struct pollfd pfd[2];
	struct signalfd_siginfo si;
	sigset_t mask;
	int64_t started = 0, delay = 0;
	pid_t daemon_pid, pid;
	int lockfd, sfd, chan = -1, st, up = 0, quick = 0, stop = 0;
	int start_fd = -1;
	const char *e;
	ssize_t n;

	home = h;
	if ((e = getenv("CLUSTERCTL_START_FD")) != NULL) {
		start_fd = atoi(e);
		unsetenv("CLUSTERCTL_START_FD");
		if (start_fd < 3 || fcntl(start_fd, F_SETFD, FD_CLOEXEC) == -1)
			start_fd = -1;
	}
	if (chdir("/") == -1)
		return 1;
	snprintf(path, sizeof path, "%s/keeper.lock", h);
	if ((lockfd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) == -1)
		return 1;
	/* One keeper per home; a second lets the daemon run unkept. */
	if (flock(lockfd, LOCK_EX | LOCK_NB) == -1) {
		/* That daemon holds the pipe: the CLI waits for its socket. */
		if (start_fd >= 0)
			(void)fcntl(start_fd, F_SETFD, 0);
		execl("/proc/self/exe", "clusterctl-daemon", "__daemon", h,
		    (char *)NULL);
		return 1;
	}
	snprintf(path, sizeof path, "%s/daemon.log", h);
	if (log_open(path) != 0)
		return 1;
	n = readlink("/proc/self/exe", self_exe, PATH_MAX - 1);
	if (n <= 0)
		return 1;
	self_exe[n] = '\0';
	(void)prctl(PR_SET_NAME, "clusterctl-keep");
	/* What the daemon's apps leave when it dies is ours to reap. */
	(void)prctl(PR_SET_CHILD_SUBREAPER, 1);
	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGHUP);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	if ((sfd = signalfd(-1, &mask, SFD_CLOEXEC)) == -1)
		return 1;

	for (;;) {
		if (delay > 0) {
			struct timespec ts = { delay / 1000,
				(delay % 1000) * 1000000L };

			nanosleep(&ts, NULL);
		}
		if (chan != -1)
			close(chan);
		chan = -1;
		up = 0;
		started = mono_ms();
		if ((daemon_pid = keeper_spawn(h, &chan)) == -1)
			return 1;
		for (;;) {
			pfd[0].fd = sfd;
			pfd[0].events = POLLIN;
			pfd[1].fd = chan;
			pfd[1].events = POLLIN;
			if (poll(pfd, chan != -1 ? 2 : 1, -1) == -1 &&
			    errno != EINTR)
				return 1;
			if (chan != -1 &&
			    (pfd[1].revents & (POLLIN | POLLHUP))) {
				keeper_message(chan, &up);
				if (up != 0 && start_fd >= 0) {
					close(start_fd); /* the CLI may go on */
					start_fd = -1;
				}
				if (pfd[1].revents & POLLHUP) {
					close(chan);
					chan = -1;
				}
			}
			if (!(pfd[0].revents & POLLIN))
				continue;
			if (read(sfd, &si, sizeof si) != sizeof si)
				continue;
			if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
				/* Stop everything: the daemon's clean exit. */
				stop = 1;
				(void)kill(daemon_pid, (int)si.ssi_signo);
				continue;
			}
			if (si.ssi_signo != SIGCHLD)
				continue;
			st = 0;
			while ((pid = waitpid(-1, &st, WNOHANG)) > 0) {
				if (pid == daemon_pid)
					break;
			}
			if (pid == daemon_pid)
				break;
		}
		if (chan != -1)
			keeper_message(chan, &up);
		if (stop || up < 0 || (WIFEXITED(st) && WEXITSTATUS(st) == 0))
			break; /* kill, or another daemon runs already */
		describe_status(st, how, sizeof how);
		if (up == 0) {
			log_warnx("keeper: the daemon (pid %ld) %s before it "
				  "served; not starting it again",
			    (long)daemon_pid, how);
			break;
		}
		if (mono_ms() - started < KEEPER_QUICK_MS) {
			if (++quick >= KEEPER_MAX_QUICK_DEATHS) {
				log_warnx(
				    "keeper: the daemon died %d times in a "
				    "row within %d ms of starting; giving up",
				    quick, KEEPER_QUICK_MS);
				break;
			}
			delay = delay == 0 ? 100 : delay * 2;
		} else {
			quick = 0;
			delay = 0;
		}
		log_warnx(
		    "keeper: the daemon (pid %ld) %s; starting a new one%s",
		    (long)daemon_pid, how, delay > 0 ? " after a pause" : "");
	}
	/* Reap what is left to us, then go: the held sockets close. */
	while (waitpid(-1, NULL, WNOHANG) > 0)
		;
	return 0;
}

/* ---- The daemon's side. ---- */

static int kchan = -1;	  /* to the keeper, or -1: none */
static struct held *pool; /* descriptors handed over by the keeper */
static size_t npool;
static int kwarned;

static void keeper_send(const char *, int);

/*
 * At the daemon's start: take the channel to a keeper, if one started us,
 * and the descriptors it held for the previous daemon.
 */
void
keeper_attach(void)
{
	char buf[KEEPER_MSG_MAX];
	struct held *np;
	struct pollfd pfd;
	const char *v = getenv(KEEPER_ENV);
	ssize_t n;
	int fd;

	if (v == NULL)
		return;
	kchan = atoi(v);
	unsetenv(KEEPER_ENV);
	if (kchan < 3 || fcntl(kchan, F_SETFD, FD_CLOEXEC) == -1) {
		kchan = -1;
		return;
	}
	/* Everything was queued before we started: "end" is there. */
	for (;;) {
		pfd.fd = kchan;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, 2000) <= 0)
			break;
		if ((n = msg_recv(kchan, buf, sizeof buf, &fd)) <= 0)
			break;
		if (strcmp(buf, "end") == 0)
			break;
		if (strncmp(buf, "fd ", 3) != 0 || fd < 0) {
			if (fd >= 0)
				close(fd);
			continue;
		}
		if ((np = realloc(pool, (npool + 1) * sizeof *np)) == NULL) {
			close(fd);
			continue;
		}
		pool = np;
		snprintf(pool[npool].key, sizeof pool[npool].key, "%s",
		    buf + 3);
		pool[npool++].fd = fd;
	}
	if (npool > 0)
		log_info("the keeper handed over %zu listening socket%s", npool,
		    npool == 1 ? "" : "s");
}

/*
 * After an in-place upgrade: the channel the image before used (fd), and
 * the descriptors it handed over, into the same pool as a keeper's.
 */
void
keeper_adopt(int fd)
{
	if (fd >= 3 && fcntl(fd, F_SETFD, FD_CLOEXEC) == 0)
		kchan = fd;
}

/* A handed-over descriptor for key, to be taken by keeper_take(). */
void
keeper_pool_put(const char *key, int fd)
{
	struct held *np;

	if ((np = realloc(pool, (npool + 1) * sizeof *np)) == NULL) {
		close(fd);
		return;
	}
	pool = np;
	snprintf(pool[npool].key, sizeof pool[npool].key, "%s", key);
	pool[npool++].fd = fd;
}

/* The channel to the keeper, or -1 (for an upgrade's handover). */
int
keeper_channel(void)
{
	return kchan;
}

/* The daemon now runs path: the keeper starts that one if it dies. */
void
keeper_exe(const char *path)
{
	char buf[KEEPER_MSG_MAX];

	if ((size_t)snprintf(buf, sizeof buf, "exe %s", path) < sizeof buf)
		keeper_send(buf, -1);
}

/* Whether a keeper started this daemon. */
int
keeper_attached(void)
{
	return kchan != -1;
}

/* The handed-over socket for key (now the caller's), or -1. */
int
keeper_take(const char *key)
{
	size_t i;
	int fd;

	for (i = 0; i < npool; i++)
		if (strcmp(pool[i].key, key) == 0) {
			fd = pool[i].fd;
			pool[i] = pool[--npool];
			return fd;
		}
	return -1;
}

static void
keeper_send(const char *text, int fd)
{
	int r;

	if (kchan == -1)
		return;
	if ((r = msg_send(kchan, text, fd)) != 0 && !kwarned) {
		kwarned = 1;
		log_warnx(
		    "cannot talk to the keeper: %s; a crash of this daemon "
		    "will not be recovered",
		    strerror(-r));
	}
}

/* The keeper keeps a duplicate of listening socket fd, named key. */
void
keeper_hold(const char *key, int fd)
{
	char buf[KEEPER_MSG_MAX];

	if (strlen(key) + 6 > sizeof buf)
		return;
	snprintf(buf, sizeof buf, "hold %s", key);
	keeper_send(buf, fd);
}

/* The socket named key is closed: the keeper lets go of it too. */
void
keeper_drop(const char *key)
{
	char buf[KEEPER_MSG_MAX];

	snprintf(buf, sizeof buf, "drop %s", key);
	keeper_send(buf, -1);
}

static void
pool_timer_closed(uv_handle_t *h)
{
	free(h);
}

/* The handed-over sockets no app took back are closed. */
static void
pool_release(uv_timer_t *t)
{
	size_t i;

	for (i = 0; i < npool; i++) {
		log_info("no app took back %s; closed", pool[i].key);
		keeper_drop(pool[i].key);
		close(pool[i].fd);
	}
	free(pool);
	pool = NULL;
	npool = 0;
	if (t != NULL)
		uv_close((uv_handle_t *)t, pool_timer_closed);
}

/*
 * The daemon serves, its apps restored: the keeper may start it again if
 * it dies.  Restored instances take their shared sockets back when they
 * bind, which may take a while: what is left after KEEPER_POOL_MS goes.
 */
void
keeper_up(void)
{
	uv_timer_t *t;

	keeper_send("up", -1);
	if (npool == 0)
		return;
	if ((t = malloc(sizeof *t)) == NULL) {
		pool_release(NULL);
		return;
	}
	uv_timer_init(loop, t);
	uv_timer_start(t, pool_release, KEEPER_POOL_MS, 0);
	uv_unref((uv_handle_t *)t);
}

/* The daemon was asked to exit: however it ends, it is not restarted. */
void
keeper_quitting(void)
{
	static int sent;

	if (!sent)
		keeper_send("quitting", -1);
	sent = 1;
}
