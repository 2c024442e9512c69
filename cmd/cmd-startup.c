/*
 * startup, unstartup: a systemd unit that runs the daemon at boot, in the
 * foreground (clusterctl run, Type=notify), and its removal.  The unit
 * names the binary by its absolute path and bakes in no PATH of the
 * caller's shell: the apps' environments are in their saved specs.  See
 * docs/systemd.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "cmd.h"

#define UNIT_NAME "clusterctl.service"
#define SYSTEM_UNIT_DIR "/etc/systemd/system"
/* The stop timeout when no app asks for more (systemd's default: 90s). */
#define STOP_TIMEOUT_MIN_MS 30000
/* What the daemon needs beyond the apps' kill timeouts to exit. */
#define STOP_TIMEOUT_MARGIN_MS 15000

static const struct cmd_option options[] = {
	{ "user", 0, NULL,
	    "a user unit (systemctl --user; default for a "
	    "user that is not root)",
	    NULL, 0 },
	{ "print", 0, NULL, "print the unit on stdout, nothing else", NULL, 0 },
	{ "install", 0, NULL,
	    "write the unit and enable it (default: print it "
	    "and say how to install it)",
	    NULL, 0 },
	{ "run-as", 0, "USER",
	    "the daemon of a system unit runs as USER, with "
	    "USER's home (default: the caller)",
	    NULL, 0 },
	{ "watchdog", 0, "DURATION",
	    "WatchdogSec=: systemd restarts a daemon "
	    "that stops answering for this long (default: none)",
	    NULL, 0 },
	{ "timeout-stop", 0, "DURATION",
	    "TimeoutStopSec= (default: the "
	    "apps' longest kill timeout plus 15s, at least 30s)",
	    NULL, 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

static const struct cmd_option unoptions[] = {
	{ "user", 0, NULL,
	    "remove the user unit (default for a user that is "
	    "not root)",
	    NULL, 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

/* What a unit is for: where it goes and what it runs. */
struct unit {
	int user;	     /* a user unit */
	const char *run_as;  /* User= of a system unit, or NULL */
	char exe[PATH_MAX];  /* the binary, absolute */
	char home[PATH_MAX]; /* CLUSTERCTL_HOME of the daemon */
	char path[PATH_MAX]; /* the unit file */
	char dir[PATH_MAX];
	int64_t stop_ms;
	int64_t watchdog_ms;
};

/* systemd's syntax for a value in ExecStart= or Environment=. */
static int
unit_safe(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s == '"' || *s == '\\' || *s == '%' || *s == '$' ||
		    *s == '\n' || *s == ' ' || *s == '\'')
			return 0;
	return 1;
}

/* The platform argument: only systemd. */
static int
check_platform(const struct cmd_ctx *ctx)
{
	if (ctx->argc > 0 && strcmp(ctx->argv[0], "systemd") != 0)
		return cmd_usage_error(ctx,
		    "unknown init system '%s' (only "
		    "systemd is supported)",
		    ctx->argv[0]);
	return 0;
}

/* Where the unit file of scope user goes. */
static int
unit_place(struct unit *u)
{
	const char *h = getenv("HOME"), *x = getenv("XDG_CONFIG_HOME");
	struct passwd *pw;

	if (!u->user)
		snprintf(u->dir, sizeof u->dir, "%s", SYSTEM_UNIT_DIR);
	else if (x != NULL && x[0] == '/')
		snprintf(u->dir, sizeof u->dir, "%s/systemd/user", x);
	else {
		if ((h == NULL || *h == '\0') &&
		    (pw = getpwuid(getuid())) != NULL)
			h = pw->pw_dir;
		if (h == NULL || *h == '\0')
			return cmd_error(EXIT_FAIL,
			    "cannot tell your home "
			    "directory: set HOME");
		snprintf(u->dir, sizeof u->dir, "%s/.config/systemd/user", h);
	}
	if ((size_t)snprintf(u->path, sizeof u->path, "%s/%s", u->dir,
		UNIT_NAME) >= sizeof u->path)
		return cmd_error(EXIT_FAIL, "the unit's path is too long");
	return 0;
}

/* The longest kill timeout of the running daemon's apps, or 0. */
static int64_t
longest_kill_timeout(struct cmd_ctx *ctx)
{
	json_t *rows = NULL, *row, *targets;
	int64_t most = 0, v;
	size_t i;

	if (cmd_connect(ctx, 0) != 0)
		return 0;
	targets = json_pack("{s:[s]}", "targets", "all");
	if (cmd_call(ctx, "describe", targets, &rows) != 0) {
		json_decref(rows);
		return 0;
	}
	json_array_foreach(rows, i, row)
		if ((v = util_json_int(row, "kill_timeout", 0)) > most)
			most = v;
	json_decref(rows);
	return most;
}

/* Fill u from the options: 0, or an exit code. */
static int
unit_init(struct cmd_ctx *ctx, struct unit *u)
{
	struct passwd *pw;
	const char *h;
	int64_t ms;
	ssize_t n;
	int rc;

	memset(u, 0, sizeof *u);
	u->user = cmd_flag(ctx, "user") || getuid() != 0;
	u->run_as = cmd_opt(ctx, "run-as");
	if (u->run_as != NULL && u->user)
		return cmd_usage_error(ctx,
		    "--run-as is for a system unit, "
		    "not with --user (a user unit runs as its user)");
	if (u->run_as != NULL && getuid() != 0 && !cmd_flag(ctx, "print"))
		return cmd_error(EXIT_FAIL,
		    "--run-as writes a system unit: "
		    "run it as root (or add --print)");
	n = readlink("/proc/self/exe", u->exe, sizeof u->exe - 1);
	if (n <= 0)
		return cmd_error(EXIT_FAIL, "cannot find my own executable: %s",
		    strerror(errno));
	u->exe[n] = '\0';
	if (u->run_as != NULL) {
		if ((pw = getpwnam(u->run_as)) == NULL)
			return cmd_error(EXIT_FAIL, "no user named '%s'",
			    u->run_as);
		snprintf(u->home, sizeof u->home, "%s/.clusterctl", pw->pw_dir);
	} else {
		if ((h = cmd_home_path()) == NULL)
			return cmd_error(EXIT_FAIL,
			    "cannot tell the home "
			    "directory: set CLUSTERCTL_HOME");
		if (h[0] != '/')
			return cmd_error(EXIT_FAIL,
			    "CLUSTERCTL_HOME '%s' is "
			    "not an absolute path",
			    h);
		snprintf(u->home, sizeof u->home, "%s", h);
	}
	if (!unit_safe(u->exe) || !unit_safe(u->home))
		return cmd_error(EXIT_FAIL,
		    "cannot write a unit for '%s' and "
		    "'%s': spaces, quotes, '%%' or '$' in a path",
		    u->exe, u->home);
	ms = u->run_as == NULL ? longest_kill_timeout(ctx) : 0;
	u->stop_ms = ms + STOP_TIMEOUT_MARGIN_MS;
	if (u->stop_ms < STOP_TIMEOUT_MIN_MS)
		u->stop_ms = STOP_TIMEOUT_MIN_MS;
	if ((rc = cmd_parse_ms(ctx, "timeout-stop", &u->stop_ms)) != 0 ||
	    (rc = cmd_parse_ms(ctx, "watchdog", &u->watchdog_ms)) != 0)
		return rc;
	if (u->stop_ms < 1000)
		return cmd_usage_error(ctx,
		    "--timeout-stop must be at least 1s");
	if (cmd_opt(ctx, "watchdog") != NULL && u->watchdog_ms < 1000)
		return cmd_usage_error(ctx, "--watchdog must be at least 1s");
	return unit_place(u);
}

/* The unit's text, on f. */
static void
unit_write(const struct unit *u, FILE *f)
{
	fprintf(f,
	    "# Written by 'clusterctl startup'; 'clusterctl unstartup' removes "
	    "it.\n"
	    "[Unit]\n"
	    "Description=clusterctl process manager (%s)\n",
	    u->home);
	if (!u->user)
		fprintf(f,
		    "After=network-online.target\n"
		    "Wants=network-online.target\n");
	fprintf(f,
	    "\n[Service]\n"
	    "# The daemon in the foreground: READY=1 once its apps are up.\n"
	    "Type=notify\n"
	    "NotifyAccess=main\n");
	if (u->run_as != NULL)
		fprintf(f, "User=%s\n", u->run_as);
	fprintf(f,
	    "Environment=CLUSTERCTL_HOME=%s\n"
	    "ExecStart=%s run --takeover\n"
	    "ExecReload=%s reload all\n"
	    "# SIGTERM to the daemon only: it stops each app with its own\n"
	    "# signal and kill timeout; what is left then gets SIGKILL.\n"
	    "KillMode=mixed\n"
	    "TimeoutStopSec=%lld\n"
	    "Restart=on-failure\n"
	    "RestartSec=1\n",
	    u->home, u->exe, u->exe, (long long)((u->stop_ms + 999) / 1000));
	if (u->watchdog_ms > 0)
		fprintf(f, "WatchdogSec=%lld\n",
		    (long long)((u->watchdog_ms + 999) / 1000));
	fprintf(f, "\n[Install]\nWantedBy=%s\n",
	    u->user ? "default.target" : "multi-user.target");
}

/* Run systemctl [--user] ARGS...: its exit status, or -1. */
static int
systemctl(int user, const char *a1, const char *a2)
{
	const char *argv[6];
	pid_t pid;
	int st, n = 0;

	argv[n++] = "systemctl";
	if (user)
		argv[n++] = "--user";
	argv[n++] = a1;
	if (a2 != NULL)
		argv[n++] = a2;
	argv[n] = NULL;
	fflush(stdout);
	if ((pid = fork()) == -1)
		return -1;
	if (pid == 0) {
		execvp("systemctl", (char *const *)argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) == -1)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* mkdir -p: 0, or -1 and errno. */
static int
mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
		errno = ENAMETOOLONG;
		return -1;
	}
	for (p = buf + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) == -1 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, mode) == -1 && errno != EEXIST ? -1 : 0;
}

/* Whether systemd runs this machine (sd_booted(3)). */
static int
systemd_running(void)
{
	return access("/run/systemd/system", F_OK) == 0;
}

/* Write the unit file atomically: 0, or an exit code. */
static int
unit_install_file(const struct unit *u)
{
	char tmp[PATH_MAX + 8];
	FILE *f;
	int fd;

	if (mkdir_p(u->dir, 0755) != 0)
		return cmd_error(EXIT_FAIL, "cannot create '%s': %s", u->dir,
		    strerror(errno));
	snprintf(tmp, sizeof tmp, "%s.tmp", u->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC,
	    0644);
	if (fd == -1 || (f = fdopen(fd, "w")) == NULL) {
		if (fd != -1)
			close(fd);
		return cmd_error(EXIT_FAIL, "cannot write '%s': %s", tmp,
		    strerror(errno));
	}
	unit_write(u, f);
	if (fflush(f) != 0 || fsync(fd) != 0 || fclose(f) != 0 ||
	    rename(tmp, u->path) != 0) {
		(void)unlink(tmp);
		return cmd_error(EXIT_FAIL, "cannot write '%s': %s", u->path,
		    strerror(errno));
	}
	return 0;
}

static void
say_linger(FILE *f)
{
	struct passwd *pw = getpwuid(getuid());

	fprintf(f,
	    "A user unit runs while you are logged in.  To start it at "
	    "boot and keep it after you log out:\n"
	    "  loginctl enable-linger %s\n",
	    pw != NULL ? pw->pw_name : "$USER");
}

static int
exec_startup(struct cmd_ctx *ctx)
{
	struct unit u;
	int rc;

	if ((rc = check_platform(ctx)) != 0 || (rc = unit_init(ctx, &u)) != 0)
		return rc;
	if (cmd_flag(ctx, "print") && cmd_flag(ctx, "install"))
		return cmd_usage_error(ctx, "--print and --install go alone");
	if (cmd_flag(ctx, "print")) {
		unit_write(&u, stdout);
		return 0;
	}
	if (!cmd_flag(ctx, "install")) {
		unit_write(&u, stdout);
		fprintf(stderr,
		    "\nTo install it%s:\n  %s startup%s --install\n",
		    u.user ? "" : " (as root)", u.exe, u.user ? " --user" : "");
		if (u.user)
			say_linger(stderr);
		fprintf(stderr,
		    "Then 'clusterctl save' keeps the apps it "
		    "starts at boot.\n");
		return 0;
	}
	if ((rc = unit_install_file(&u)) != 0)
		return rc;
	if (!ctx->quiet)
		printf("wrote %s\n", u.path);
	if (!systemd_running())
		fprintf(stderr,
		    "%s: note: systemd is not running here; the unit "
		    "is enabled for the next boot\n",
		    progname);
	else if (systemctl(u.user, "daemon-reload", NULL) != 0)
		fprintf(stderr,
		    "%s: note: 'systemctl%s daemon-reload' failed\n", progname,
		    u.user ? " --user" : "");
	if (systemctl(u.user, "enable", UNIT_NAME) != 0)
		return cmd_error(EXIT_FAIL,
		    "the unit is written, but "
		    "'systemctl%s enable %s' failed",
		    u.user ? " --user" : "", UNIT_NAME);
	if (!ctx->quiet) {
		printf("enabled %s: the daemon starts at boot%s\n", UNIT_NAME,
		    u.user ? " (with linger)" : "");
		printf("Start it now with: systemctl%s start %s\n",
		    u.user ? " --user" : "", UNIT_NAME);
		if (u.user)
			say_linger(stdout);
	}
	return 0;
}

static int
exec_unstartup(struct cmd_ctx *ctx)
{
	struct unit u;
	int rc;

	if ((rc = check_platform(ctx)) != 0)
		return rc;
	memset(&u, 0, sizeof u);
	u.user = cmd_flag(ctx, "user") || getuid() != 0;
	if ((rc = unit_place(&u)) != 0)
		return rc;
	if (access(u.path, F_OK) != 0)
		return cmd_error(EXIT_NOTFOUND, "no unit at '%s'", u.path);
	if (systemctl(u.user, "disable", UNIT_NAME) != 0)
		fprintf(stderr, "%s: note: 'systemctl%s disable %s' failed\n",
		    progname, u.user ? " --user" : "", UNIT_NAME);
	if (unlink(u.path) != 0)
		return cmd_error(EXIT_FAIL, "cannot remove '%s': %s", u.path,
		    strerror(errno));
	if (systemd_running())
		(void)systemctl(u.user, "daemon-reload", NULL);
	if (!ctx->quiet)
		printf("removed %s (a daemon it started keeps running: "
		       "'systemctl%s stop %s' stops it)\n",
		    u.path, u.user ? " --user" : "", UNIT_NAME);
	return 0;
}

const struct cmd_entry cmd_startup_entry = {
	.name = "startup",
	.usage =
	    "startup [systemd] [--user] [--print|--install] [--run-as USER]",
	.summary =
	    "Write a systemd unit that starts the daemon and its saved apps at "
	    "boot (Type=notify)",
	.options = options,
	.flags = CMD_DAEMON | CMD_NO_START,
	.max_args = 1,
	.example = "clusterctl save && sudo clusterctl startup --install",
	.exec = exec_startup,
};

const struct cmd_entry cmd_unstartup_entry = {
	.name = "unstartup",
	.usage = "unstartup [systemd] [--user]",
	.summary = "Disable and remove the unit of startup",
	.options = unoptions,
	.flags = CMD_NO_START,
	.max_args = 1,
	.example = "sudo clusterctl unstartup",
	.exec = exec_unstartup,
};
