/*
 * clusterctl's entry point: global options, the home directory, the socket
 * path and starting the daemon on demand (cmd_connect); the request
 * helpers every command uses are in request.c.  The hidden words
 * "__daemon" and "__exec" run the daemon and the exec shim from the same
 * binary.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../core/daemon.h"
#include "../ipc/util.h"
#include "cmd.h"

/* How long a CLI waits for a daemon it started to answer. */
#define DAEMON_START_TIMEOUT_MS 10000

const char *progname = "clusterctl";

static const char *
home_path(void)
{
	static char buf[PATH_MAX];
	const char *h = getenv("CLUSTERCTL_HOME");
	struct passwd *pw;

	if (h != NULL && *h != '\0')
		return h;
	h = getenv("HOME");
	if (h == NULL || *h == '\0') {
		if ((pw = getpwuid(getuid())) == NULL)
			return NULL;
		h = pw->pw_dir;
	}
	if ((size_t)snprintf(buf, sizeof buf, "%s/.clusterctl", h) >=
	    sizeof buf)
		return NULL;
	return buf;
}

/*
 * Create the home (0700) if it is missing, and refuse one that another
 * user owns or that others may write to: whoever writes there controls
 * the daemon.
 */
static int
home_check(const char *h)
{
	struct stat st;

	if (mkdir(h, 0700) == -1 && errno != EEXIST)
		return cmd_error(EXIT_FAIL, "cannot create home '%s': %s", h,
		    strerror(errno));
	if (stat(h, &st) == -1)
		return cmd_error(EXIT_FAIL, "cannot use home '%s': %s", h,
		    strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return cmd_error(EXIT_FAIL, "home '%s' is not a directory", h);
	if (st.st_uid != getuid())
		return cmd_error(EXIT_FAIL,
		    "refusing home '%s': it is owned by uid %ld, not by you", h,
		    (long)st.st_uid);
	if (st.st_mode & 022)
		return cmd_error(EXIT_FAIL,
		    "refusing home '%s': it is group or world writable "
		    "(chmod 700 '%s')",
		    h, h);
	return 0;
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/*
 * Start the daemon detached: its own session, stdio on /dev/null.  With a
 * keeper, *done is the read end of a pipe whose write end the keeper holds
 * until its daemon serves: end of file there while nothing answers means
 * the daemon did not start, and no one need wait longer.  -1 otherwise.
 */
static int
daemon_spawn(const char *h, int *done)
{
	char exe[PATH_MAX];
	ssize_t n;
	pid_t pid;
	int status, fd, kept = getenv("CLUSTERCTL_NO_KEEPER") == NULL;
	int p[2] = { -1, -1 };

	*done = -1;
	n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return -errno;
	exe[n] = '\0';
	if (kept && pipe2(p, O_CLOEXEC) == -1)
		p[0] = p[1] = -1;
	if ((pid = fork()) == -1) {
		n = -errno;
		if (p[0] != -1) {
			close(p[0]);
			close(p[1]);
		}
		return (int)n;
	}
	if (pid == 0) {
		setsid();
		if (fork() != 0)
			_exit(0);
		/* Out of the way of stdio and of descriptor 3 (the caller's
		 * may have been closed, and a pipe end may sit there). */
		if (p[1] != -1 && (p[1] = fcntl(p[1], F_DUPFD, 10)) == -1)
			p[1] = -1;
		if ((fd = open("/dev/null", O_RDWR)) != -1) {
			dup2(fd, 0);
			dup2(fd, 1);
			dup2(fd, 2);
			if (fd > 2)
				close(fd);
		}
		/* The keeper's end of the pipe as descriptor 3. */
		if (p[1] != -1 && dup2(p[1], 3) == -1)
			p[1] = -1;
		/* Nothing of the caller's (a test runner's, a shell's) stays.
		 */
		(void)close_range(p[1] != -1 ? 4 : 3, ~0U, 0);
		signal(SIGINT, SIG_DFL);
		signal(SIGPIPE, SIG_DFL);
		/* A keeper starts the daemon, and again if it dies
		 * (core/keeper.c), unless asked not to. */
		if (kept) {
			if (p[1] != -1)
				setenv("CLUSTERCTL_START_FD", "3", 1);
			execl(exe, "clusterctl-keeper", "__keeper", h,
			    (char *)NULL);
		}
		execl(exe, "clusterctl-daemon", "__daemon", h, (char *)NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (p[1] != -1)
		close(p[1]);
	*done = p[0];
	return 0;
}

/* Wait up to ms for the daemon to start; 1 when it is known not to. */
static int
start_wait(int done, long ms)
{
	struct pollfd pfd = { .fd = done, .events = POLLIN };
	char c;

	if (done == -1) {
		sleep_ms(ms);
		return 0;
	}
	if (poll(&pfd, 1, (int)ms) <= 0)
		return 0;
	return read(done, &c, 1) == 0;
}

static int
try_connect(struct cmd_ctx *ctx)
{
	int r = ipc_client_connect(&ctx->client, ctx->sock);

	if (r == 0)
		ctx->connected = 1;
	return r;
}

/*
 * Connect to the daemon, starting it when may_start and none answers.
 * Two CLIs racing here start one daemon: the second waits on the start
 * lock and then finds the first's daemon.  0, or an exit code.
 */
int
cmd_connect(struct cmd_ctx *ctx, int may_start)
{
	char lock[PATH_MAX];
	long long deadline;
	long wait = 1;
	int r, fd, done, gone = 0;

	if (ctx->connected)
		return 0;
	r = try_connect(ctx);
	if (r == 0)
		return 0;
	if (r != -ENOENT && r != -ECONNREFUSED)
		return cmd_error(EXIT_UNREACHABLE,
		    "cannot reach the daemon at '%s': %s", ctx->sock,
		    strerror(-r));
	if (!may_start)
		return EXIT_UNREACHABLE;
	snprintf(lock, sizeof lock, "%s/start.lock", ctx->home);
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd == -1)
		return cmd_error(EXIT_UNREACHABLE, "cannot open '%s': %s", lock,
		    strerror(errno));
	while (flock(fd, LOCK_EX) == -1 && errno == EINTR)
		;
	if (try_connect(ctx) == 0) {
		close(fd);
		return 0;
	}
	if ((r = daemon_spawn(ctx->home, &done)) != 0) {
		close(fd);
		return cmd_error(EXIT_UNREACHABLE,
		    "cannot start the daemon: %s", strerror(-r));
	}
	deadline = util_now_ms() + DAEMON_START_TIMEOUT_MS;
	while ((r = try_connect(ctx)) != 0 && util_now_ms() < deadline) {
		if (gone) /* its keeper ended, and nothing answers */
			break;
		gone = start_wait(done, wait);
		if (wait < 50)
			wait *= 2;
	}
	if (done != -1)
		close(done);
	close(fd);
	if (r != 0)
		return cmd_error(EXIT_UNREACHABLE,
		    "the daemon did not start (see %s/daemon.log)", ctx->home);
	return 0;
}

int
main(int argc, char **argv)
{
	const struct cmd_entry *e;
	struct cmd_ctx ctx;
	const char *hint, *nc;
	int rc;

	if (argc >= 2 && strcmp(argv[1], "__exec") == 0)
		return exec_shim_main(argc, argv);
	if (argc >= 3 && strcmp(argv[1], "__daemon") == 0)
		return daemon_main(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "__keeper") == 0)
		return keeper_main(argv[2]);
	if (argc >= 2 && strcmp(argv[1], "__upgrade-check") == 0)
		return upgrade_check_main();

	signal(SIGPIPE, SIG_IGN);
	if (argc < 2) {
		cmd_help_all(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		cmd_help_all(stdout);
		return EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "-v") == 0 ||
	    strcmp(argv[1], "-V") == 0)
		argv[1] = (char *)"version";
	e = cmd_find(argv[1], &hint);
	if (e == NULL) {
		if (argv[1][0] == '-')
			cmd_error(0, "unknown option '%s'", argv[1]);
		else
			cmd_error(0, "unknown command '%s'", argv[1]);
		if (hint != NULL)
			fprintf(stderr, "Did you mean '%s'?\n", hint);
		fprintf(stderr, "Run '%s --help' for the commands.\n",
		    progname);
		return EXIT_USAGE;
	}
	memset(&ctx, 0, sizeof ctx);
	ctx.client.fd = -1;
	if ((rc = cmd_parse(e, argc - 1, argv + 1, &ctx)) != 0) {
		cmd_ctx_release(&ctx);
		return rc;
	}
	if (cmd_flag(&ctx, "help")) {
		cmd_help(e, stdout);
		cmd_ctx_release(&ctx);
		return EXIT_OK;
	}
	nc = getenv("NO_COLOR");
	ctx.color = isatty(1) && (nc == NULL || *nc == '\0') &&
	    !cmd_flag(&ctx, "no-color");
	ctx.ecolor = isatty(2) && (nc == NULL || *nc == '\0') &&
	    !cmd_flag(&ctx, "no-color");
	if (e->flags & CMD_DAEMON) {
		if ((ctx.home = home_path()) == NULL) {
			cmd_ctx_release(&ctx);
			return cmd_error(EXIT_FAIL,
			    "cannot tell the home directory: set CLUSTERCTL_HOME");
		}
		if ((rc = home_check(ctx.home)) != 0) {
			cmd_ctx_release(&ctx);
			return rc;
		}
		if ((size_t)snprintf(ctx.sock, sizeof ctx.sock, "%s/sock",
			ctx.home) >= sizeof ctx.sock) {
			cmd_ctx_release(&ctx);
			return cmd_error(EXIT_FAIL,
			    "home path '%s' is too long", ctx.home);
		}
	}
	rc = e->exec(&ctx);
	cmd_ctx_release(&ctx);
	if (fflush(stdout) != 0 && errno != EPIPE)
		return cmd_error(EXIT_FAIL, "cannot write output: %s",
		    strerror(errno));
	return rc;
}

/* The home directory's path (not checked, not created), or NULL. */
const char *
cmd_home_path(void)
{
	return home_path();
}
