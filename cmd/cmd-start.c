/*
 * start: run a script or program as a named app of N instances, start
 * stopped apps again (start web), or start the apps of a process file
 * (cmd/procfile*.c).  Returns once every instance is online.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "cmd.h"
#include "procfile.h"

extern char **environ;

static const struct cmd_option options[] = {
	{ "name", 'n', "NAME", "the app's name (default: the file's base name)",
	    NULL, 0 },
	{ "instances", 'i', "N",
	    "how many instances: a number, 'max' (one per "
	    "CPU) or -N (CPUs minus N, at least 1); default 1",
	    "max -1 1 2 4", 0 },
	{ "force", 'f', NULL,
	    "start the script again though an app of that name exists: "
	    "another app of the same name with an id of its own, as pm2's -f; "
	    "its name then targets all of them (default: refuse)",
	    NULL, 0 },
	{ "interpreter", 0, "PROG",
	    "run the script with PROG ('none': execute "
	    "it); default by extension: .js node, .py python3, .sh bash, .rb "
	    "ruby, .php php, .pl perl; else a script without an execute bit "
	    "runs under its #! line's interpreter",
	    "node python3 bash none", 0 },
	{ "cwd", 0, "DIR", "working directory (default: the current one)",
	    VAL_DIR, 0 },
	{ "env", 0, "KEY=VAL|NAME",
	    "set an environment variable (repeatable; "
	    "default: the environment clusterctl runs in); with a process "
	    "file, a NAME picks its env_NAME",
	    VAL_ENVNAME, 1 },
	{ "only", 0, "APPS",
	    "with a process file: only these apps (comma "
	    "separated, repeatable; default: all)",
	    VAL_APPNAME, 1 },
	{ "namespace", 0, "NS",
	    "put the app in a namespace, which works as a "
	    "target (default: 'default')",
	    NULL, 0 },
	{ "interpreter-args", 0, "ARGS",
	    "arguments for the interpreter, split "
	    "like a shell would (e.g. '--max-old-space-size=512'; default: none)",
	    NULL, 0 },
	{ "node-args", 0, "ARGS",
	    "the same as --interpreter-args (default: "
	    "none)",
	    NULL, 0 },
	{ "kill-signal", 0, "SIG",
	    "signal that asks an instance to stop "
	    "(default SIGINT)",
	    VAL_SIGNAL, 0 },
	{ "kill-timeout", 0, "MS",
	    "time to stop before SIGKILL (default 1600ms)", NULL, 0 },
	{ "no-autorestart", 0, NULL, "leave an instance stopped when it exits",
	    NULL, 0 },
	{ "restart-delay", 0, "MS",
	    "a fixed delay before each restart, instead "
	    "of the exponential backoff (default: none, backoff)",
	    NULL, 0 },
	{ "exp-backoff-restart-delay", 0, "MS",
	    "the backoff's first delay d0 "
	    "(default 100ms); delay n = d0 * 1.5^n, up to --max-backoff",
	    NULL, 0 },
	{ "max-backoff", 0, "MS", "the longest backoff delay (default 15s)",
	    NULL, 0 },
	{ "backoff-reset", 0, "MS",
	    "uptime after which the backoff starts over "
	    "(default 30s)",
	    NULL, 0 },
	{ "min-uptime", 0, "MS",
	    "an exit sooner than this after starting is "
	    "unstable (default 1000ms)",
	    NULL, 0 },
	{ "max-restarts", 0, "N",
	    "unstable restarts in a row before the "
	    "instance is errored (default 16)",
	    NULL, 0 },
	{ "stop-exit-codes", 0, "CODES",
	    "exit codes that are not restarted "
	    "(comma separated, e.g. 0,42; default: none)",
	    NULL, 0 },
	{ "out-file", 'o', "FILE",
	    "write stdout there (with -i: one file per "
	    "instance, FILE-0, FILE-1... before the extension; /dev/null: "
	    "discard; default: $CLUSTERCTL_HOME/logs/NAME-out-N.log)",
	    VAL_FILE, 0 },
	{ "error-file", 'e', "FILE",
	    "write stderr there (with -i: one file "
	    "per instance, as -o; /dev/null: discard; default: "
	    "$CLUSTERCTL_HOME/logs/NAME-err-N.log)",
	    VAL_FILE, 0 },
	{ "no-wait", 0, NULL,
	    "return at once, not when the instances are "
	    "online",
	    NULL, 0 },
	{ "log-file", 'l', "FILE",
	    "also write stdout and stderr, combined, "
	    "there (with -i: one file per instance, as -o; default: none)",
	    VAL_FILE, 0 },
	{ "pid", 0, "FILE",
	    "write each instance's pid to a file while it "
	    "runs: FILE-N.pid for instance N, as pm2 (default: none; "
	    "'clusterctl pid' prints them)",
	    VAL_FILE, 0 },
	{ "merge-logs", 0, NULL,
	    "one file per stream for all instances "
	    "(logs/NAME-out.log), not one per instance",
	    NULL, 0 },
	{ "time", 0, NULL,
	    "prefix each line with the local time (ISO 8601, "
	    "ms)",
	    NULL, 0 },
	{ "log-date-format", 0, "FMT",
	    "prefix each line with the time in this "
	    "strftime format (e.g. '%F %T'; default: none)",
	    NULL, 0 },
	{ "log-type", 0, "TYPE",
	    "'json': one JSON object per line (app, "
	    "instance, stream, time, line); default raw",
	    "json raw", 0 },
	{ "log-max-size", 0, "SIZE",
	    "rotate a log file at this size (default "
	    "10M; 0: never)",
	    NULL, 0 },
	{ "log-retain", 0, "N", "rotated files kept per log (default 5)", NULL,
	    0 },
	{ "log-compress", 0, NULL, "gzip rotated log files", NULL, 0 },
	{ "listen", 0, "ADDR",
	    "bind [name=]PORT, HOST:PORT, [V6]:PORT or "
	    "unix:PATH before starting; passed as LISTEN_FDS (repeatable; "
	    "default: none)",
	    NULL, 1 },
	{ "no-share", 0, NULL,
	    "fork mode: instances bind their own sockets "
	    "(default: cluster mode, they share the daemon's)",
	    NULL, 0 },
	{ "balance", 0, "MODE",
	    "how connections reach the instances: "
	    "'shared' (one queue, the default) or 'reuseport' (one socket "
	    "per instance, even spread)",
	    "shared reuseport", 0 },
	{ "sticky", 0, NULL,
	    "one client address always reaches the same "
	    "instance (kernel BPF on per-instance sockets; TCP)",
	    NULL, 0 },
	{ "wait-ready", 0, NULL,
	    "online only on a ready signal: READY=1, "
	    "process.send('ready') or a shared listen",
	    NULL, 0 },
	{ "listen-timeout", 0, "MS",
	    "online anyway after this (default 3s; "
	    "0: online once executed)",
	    NULL, 0 },
	OPERATE_OPTIONS,
	{ "metrics", 0, "ADDR",
	    "also serve the daemon's Prometheus metrics "
	    "on ADDR (PORT, HOST:PORT; a daemon-wide setting, see 'clusterctl "
	    "metrics'; default: off)",
	    NULL, 0 },
	{ "instance-var", 0, "NAME",
	    "the variable that holds the instance "
	    "number (default NODE_APP_INSTANCE; CLUSTERCTL_INSTANCE too)",
	    NULL, 0 },
	{ "increment-var", 0, "VAR",
	    "give instance N the variable VAR plus "
	    "N (VAR from --env or the environment: PORT=8000 gives 8000, "
	    "8001...; default: none)",
	    "PORT", 0 },
	{ "shutdown-with-message", 0, NULL,
	    "stop an instance by sending it the message 'shutdown' on its "
	    "Node IPC channel (process.on('message')) instead of the kill "
	    "signal; SIGKILL after --kill-timeout as ever (default: the "
	    "signal)",
	    NULL, 0 },
	{ "stdin-messages", 0, NULL,
	    "send writes messages to the instances' "
	    "stdin, one line each (Node apps get them on their IPC channel "
	    "without this)",
	    NULL, 0 },
	{ "uid", 0, "USER",
	    "run the instances as this user (a name or a "
	    "number) with its groups; the daemon must run as root (default: "
	    "the daemon's user)",
	    NULL, 0 },
	{ "gid", 0, "GROUP",
	    "run the instances with this group (a name or a "
	    "number; default: the --uid user's group)",
	    NULL, 0 },
	{ "no-daemon", 0, NULL,
	    "run in the foreground as the daemon, logs on "
	    "stdout (as 'clusterctl run')",
	    NULL, 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

/* An absolute version of path, relative to the current directory. */
static char *
absolute(const char *path)
{
	char cwd[PATH_MAX], *p;

	if (path[0] == '/')
		return strdup(path);
	if (getcwd(cwd, sizeof cwd) == NULL)
		return NULL;
	if (strncmp(path, "./", 2) == 0)
		path += 2;
	if (asprintf(&p, "%s/%s", cwd, path) == -1)
		return NULL;
	return p;
}

static int
set_ms(struct cmd_ctx *ctx, json_t *args, const char *opt, const char *key)
{
	int64_t ms = -1;
	int rc;

	if ((rc = cmd_parse_ms(ctx, opt, &ms)) != 0)
		return rc;
	if (ms >= 0)
		json_object_set_new(args, key, json_integer(ms));
	return 0;
}

static int
set_int(struct cmd_ctx *ctx, json_t *args, const char *opt, const char *key)
{
	const char *v = cmd_opt(ctx, opt);
	char *end;
	long n;

	if (v == NULL)
		return 0;
	errno = 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || n < 0)
		return cmd_usage_error(ctx, "invalid number '%s' for --%s", v,
		    opt);
	json_object_set_new(args, key, json_integer(n));
	return 0;
}

/*
 * Variables that describe the caller's own process to it (systemd's
 * notify socket, watchdog, socket activation): never an app's.
 */
static int
caller_only(const char *name, size_t len)
{
	static const char *const keys[] = { "NOTIFY_SOCKET", "WATCHDOG_USEC",
		"WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES" };
	size_t i;

	for (i = 0; i < sizeof keys / sizeof keys[0]; i++)
		if (strlen(keys[i]) == len && strncmp(keys[i], name, len) == 0)
			return 1;
	return 0;
}

/* The CLI's own environment as a JSON object: what an app is given. */
json_t *
cmd_environ_json(void)
{
	json_t *env = json_object();
	char *eq, *p;
	int i;

	for (i = 0; environ[i] != NULL; i++) {
		if ((eq = strchr(environ[i], '=')) == NULL ||
		    eq == environ[i] ||
		    caller_only(environ[i], (size_t)(eq - environ[i])))
			continue;
		p = strndup(environ[i], (size_t)(eq - environ[i]));
		if (p != NULL)
			json_object_set_new(env, p, json_string(eq + 1));
		free(p);
	}
	return env;
}

/* The start request of ctx's options for script, into args. */
static int
build(struct cmd_ctx *ctx, const char *script, json_t *args)
{
	const char *v;
	json_t *env, *jargs, *codes, *sources;
	struct stat st;
	char **vals, *p, *end, *eq;
	long n;
	int i, rc;

	/* A path (or a file here) is made absolute; a bare name may be a
	 * program in PATH or an existing app, which the daemon tells; words
	 * that are no file are a command line for /bin/sh -c. */
	if ((strchr(script, '/') != NULL && strpbrk(script, " \t") == NULL) ||
	    (stat(script, &st) == 0 && S_ISREG(st.st_mode))) {
		if ((p = absolute(script)) == NULL)
			return cmd_error(EXIT_FAIL, "out of memory");
		json_object_set_new(args, "script", json_string(p));
		free(p);
	} else
		json_object_set_new(args, "script", json_string(script));
	if ((v = cmd_opt(ctx, "name")) != NULL)
		json_object_set_new(args, "name", json_string(v));
	if ((v = cmd_opt(ctx, "instances")) != NULL) {
		if (strcmp(v, "max") == 0)
			n = 0;
		else {
			errno = 0;
			n = strtol(v, &end, 10);
			if (*v == '\0' || *end != '\0' || errno != 0 ||
			    n == 0 || n < -4096 || n > 4096)
				return cmd_usage_error(ctx,
				    "invalid instance count '%s' (a number from 1 "
				    "to 4096, 'max', or -N for the CPUs minus N)",
				    v);
		}
		json_object_set_new(args, "instances", json_integer(n));
	}
	if ((v = cmd_opt(ctx, "interpreter")) != NULL)
		json_object_set_new(args, "interpreter", json_string(v));
	v = cmd_opt(ctx, "cwd");
	if ((p = absolute(v != NULL ? v : ".")) == NULL)
		return cmd_error(EXIT_FAIL,
		    "cannot tell the current directory");
	if (v == NULL && strlen(p) > 2 && strcmp(p + strlen(p) - 2, "/.") == 0)
		p[strlen(p) - 2] = '\0';
	json_object_set_new(args, "cwd", json_string(p));
	free(p);

	env = cmd_environ_json();
	sources = json_object();
	for (vals = cmd_opt_all(ctx, "env"); vals != NULL && *vals != NULL;
	     vals++) {
		if ((eq = strchr(*vals, '=')) == NULL || eq == *vals) {
			json_decref(env);
			json_decref(sources);
			return cmd_usage_error(ctx,
			    "invalid --env '%s' (say KEY=VALUE; an environment's "
			    "name is for a process file)",
			    *vals);
		}
		p = strndup(*vals, (size_t)(eq - *vals));
		json_object_set_new(env, p, json_string(eq + 1));
		json_object_set_new(sources, p, json_string("cli"));
		free(p);
	}
	json_object_set_new(args, "env", env);
	json_object_set_new(args, "env_source", sources);
	if (cmd_opt_all(ctx, "only") != NULL)
		return cmd_usage_error(ctx, "--only is for a process file");
	if ((v = cmd_opt(ctx, "namespace")) != NULL)
		json_object_set_new(args, "namespace", json_string(v));
	if ((v = cmd_opt(ctx, "interpreter-args")) != NULL ||
	    (v = cmd_opt(ctx, "node-args")) != NULL) {
		char why[128];

		if (procfile_split_words(v, &jargs, why, sizeof why) != 0)
			return cmd_usage_error(ctx,
			    "invalid --interpreter-args "
			    "'%s': %s",
			    v, why);
		json_object_set_new(args, "interpreter_args", jargs);
	}

	jargs = json_array();
	for (i = 0; i < ctx->nrest; i++)
		json_array_append_new(jargs, json_string(ctx->rest[i]));
	json_object_set_new(args, "args", jargs);

	if ((v = cmd_opt(ctx, "kill-signal")) != NULL) {
		if (util_signal_number(v) <= 0)
			return cmd_usage_error(ctx, "unknown signal '%s'", v);
		json_object_set_new(args, "kill_signal",
		    json_string(util_signal_name(util_signal_number(v))));
	}
	if ((rc = set_ms(ctx, args, "kill-timeout", "kill_timeout")) != 0 ||
	    (rc = set_ms(ctx, args, "restart-delay", "restart_delay")) != 0 ||
	    (rc = set_ms(ctx, args, "exp-backoff-restart-delay",
		 "exp_backoff_restart_delay")) != 0 ||
	    (rc = set_ms(ctx, args, "max-backoff", "max_backoff")) != 0 ||
	    (rc = set_ms(ctx, args, "backoff-reset", "backoff_reset")) != 0 ||
	    (rc = set_ms(ctx, args, "min-uptime", "min_uptime")) != 0 ||
	    (rc = set_int(ctx, args, "max-restarts", "max_restarts")) != 0)
		return rc;
	if (cmd_flag(ctx, "no-autorestart"))
		json_object_set_new(args, "autorestart", json_false());
	if ((v = cmd_opt(ctx, "stop-exit-codes")) != NULL) {
		codes = json_array();
		json_object_set_new(args, "stop_exit_codes", codes);
		for (p = (char *)v; *p != '\0';) {
			errno = 0;
			n = strtol(p, &end, 10);
			if (end == p || errno != 0 || n < 0 || n > 255 ||
			    (*end != ',' && *end != '\0'))
				return cmd_usage_error(ctx,
				    "invalid --stop-exit-codes '%s' (say 0,42)",
				    v);
			json_array_append_new(codes, json_integer(n));
			p = *end == ',' ? end + 1 : end;
		}
	}
	if ((v = cmd_opt(ctx, "out-file")) != NULL) {
		p = strcmp(v, "NULL") == 0 ? strdup(v) : absolute(v);
		json_object_set_new(args, "out_file", json_string(p));
		free(p);
	}
	if ((v = cmd_opt(ctx, "error-file")) != NULL) {
		p = strcmp(v, "NULL") == 0 ? strdup(v) : absolute(v);
		json_object_set_new(args, "error_file", json_string(p));
		free(p);
	}
	if ((v = cmd_opt(ctx, "log-file")) != NULL) {
		p = strcmp(v, "NULL") == 0 ? strdup(v) : absolute(v);
		json_object_set_new(args, "log_file", json_string(p));
		free(p);
	}
	if ((v = cmd_opt(ctx, "pid")) != NULL) {
		p = strcmp(v, "NULL") == 0 ? strdup(v) : absolute(v);
		json_object_set_new(args, "pid_file", json_string(p));
		free(p);
	}
	if (cmd_flag(ctx, "merge-logs"))
		json_object_set_new(args, "merge_logs", json_true());
	if (cmd_flag(ctx, "time"))
		json_object_set_new(args, "time", json_true());
	if ((v = cmd_opt(ctx, "log-date-format")) != NULL)
		json_object_set_new(args, "log_date_format", json_string(v));
	if ((v = cmd_opt(ctx, "log-type")) != NULL) {
		if (strcmp(v, "json") != 0 && strcmp(v, "raw") != 0)
			return cmd_usage_error(ctx,
			    "invalid --log-type '%s' (json or raw)", v);
		json_object_set_new(args, "log_type", json_string(v));
	}
	if ((v = cmd_opt(ctx, "log-max-size")) != NULL) {
		int64_t size;

		if (util_parse_size(v, &size) != 0)
			return cmd_usage_error(ctx,
			    "invalid size '%s' for "
			    "--log-max-size (say 10M, 500K, 0)",
			    v);
		json_object_set_new(args, "log_max_size", json_integer(size));
	}
	if ((rc = set_int(ctx, args, "log-retain", "log_retain")) != 0)
		return rc;
	if (cmd_flag(ctx, "log-compress"))
		json_object_set_new(args, "log_compress", json_true());
	json_object_set_new(args, "mode",
	    json_string(cmd_flag(ctx, "no-share") ? "fork" : "cluster"));
	if ((v = cmd_opt(ctx, "balance")) != NULL) {
		if (strcmp(v, "shared") != 0 && strcmp(v, "reuseport") != 0)
			return cmd_usage_error(ctx,
			    "invalid --balance '%s' "
			    "(shared or reuseport)",
			    v);
		json_object_set_new(args, "balance", json_string(v));
	}
	if (cmd_flag(ctx, "sticky"))
		json_object_set_new(args, "sticky", json_true());
	if (cmd_flag(ctx, "wait-ready"))
		json_object_set_new(args, "wait_ready", json_true());
	if ((rc = cmd_operate_spec(ctx, args)) != 0)
		return rc;
	if (cmd_opt(ctx, "metrics") != NULL)
		json_object_set_new(args, "metrics",
		    json_string(cmd_opt(ctx, "metrics")));
	if (cmd_flag(ctx, "stdin-messages"))
		json_object_set_new(args, "stdin_messages", json_true());
	if ((v = cmd_opt(ctx, "instance-var")) != NULL)
		json_object_set_new(args, "instance_var", json_string(v));
	if ((v = cmd_opt(ctx, "increment-var")) != NULL)
		json_object_set_new(args, "increment_var", json_string(v));
	if (cmd_flag(ctx, "shutdown-with-message"))
		json_object_set_new(args, "shutdown_with_message", json_true());
	if ((rc = set_ms(ctx, args, "listen-timeout", "listen_timeout")) != 0)
		return rc;
	if ((vals = cmd_opt_all(ctx, "listen")) != NULL) {
		json_t *l = json_array();

		for (; *vals != NULL; vals++)
			json_array_append_new(l, json_string(*vals));
		json_object_set_new(args, "listen", l);
	}
	if ((v = cmd_opt(ctx, "uid")) != NULL)
		json_object_set_new(args, "uid", json_string(v));
	if ((v = cmd_opt(ctx, "gid")) != NULL)
		json_object_set_new(args, "gid", json_string(v));
	if (cmd_flag(ctx, "force"))
		json_object_set_new(args, "force", json_true());
	if (cmd_flag(ctx, "no-wait"))
		json_object_set_new(args, "wait", json_false());
	return 0;
}

/* After a start: the table (or JSON) of the apps it names. */
int
cmd_show_apps(struct cmd_ctx *ctx, const json_t *data)
{
	json_t *rows = NULL, *mine, *row, *app;
	size_t i, j;
	int rc;

	if (ctx->quiet)
		return 0;
	if ((rc = cmd_call(ctx, "list", NULL, &rows)) != 0)
		return rc;
	mine = json_array();
	json_array_foreach(rows, i, row)
		json_array_foreach(json_object_get(data, "apps"), j, app)
			if (util_json_int(row, "id", -1) ==
			    util_json_int(app, "id", -2))
				json_array_append(mine, row);
	if (ctx->json)
		cmd_print_json(mine);
	else
		print_table(ctx, mine);
	json_decref(mine);
	json_decref(rows);
	return 0;
}

/* The start request of ctx's options and first argument, into args. */
int
cmd_start_build(struct cmd_ctx *ctx, json_t *args)
{
	return build(ctx, ctx->argv[0], args);
}

/*
 * start SCRIPT [SCRIPT...]: one app per script, as pm2 starts several at
 * once; each is started even when one before it failed, and the exit code
 * is the first failure's.
 */
static int
exec_start(struct cmd_ctx *ctx)
{
	json_t *args, *data = NULL, *all;
	int rc, first = 0, k;

	if (cmd_flag(ctx, "no-daemon"))
		return cmd_run_exec(ctx);
	if (procfile_target(ctx)) {
		if (ctx->argc > 1)
			return cmd_usage_error(ctx,
			    "a process file is started "
			    "alone ('%s' names one)",
			    ctx->argv[0]);
		if (ctx->nrest > 0)
			return cmd_usage_error(ctx,
			    "arguments after -- are for a "
			    "script; a process file has 'args'");
		return procfile_run(ctx, ctx->argv[0], PF_START);
	}
	if (ctx->argc > 1 && cmd_opt(ctx, "name") != NULL)
		return cmd_usage_error(ctx,
		    "--name names one app; start "
		    "several scripts without it");
	all = json_pack("{s:[]}", "apps");
	for (k = 0; k < ctx->argc; k++) {
		args = json_object();
		if ((rc = build(ctx, ctx->argv[k], args)) != 0) {
			json_decref(args);
			json_decref(all);
			return rc;
		}
		data = NULL;
		rc = cmd_call(ctx, "start", args, &data);
		if (rc != 0 && first == 0)
			first = rc;
		json_array_extend(json_object_get(all, "apps"),
		    json_object_get(data, "apps"));
		json_decref(data);
	}
	if (json_array_size(json_object_get(all, "apps")) > 0) {
		rc = cmd_show_apps(ctx, all);
		if (first == 0)
			first = rc;
	}
	json_decref(all);
	return first;
}

const struct cmd_entry cmd_start_entry = {
	.name = "start",
	.usage = "start <script|program|app|file>... [options] [-- args...]",
	.summary = "Start a script or program as an app of N instances, the "
		   "apps of a process file, or a stopped app",
	.options = options,
	.flags = CMD_DAEMON | CMD_REST | CMD_FILES,
	.min_args = 1,
	.max_args = -1,
	.example =
	    "clusterctl start server.js --name web -i max -- --port 8000",
	.exec = exec_start,
};
