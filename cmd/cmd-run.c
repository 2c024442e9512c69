/*
 * run: the daemon in the foreground with the given app (or the apps of a
 * process file, cmd/procfile*.c), for a container's CMD or a service
 * manager (pm2-runtime; start --no-daemon is the same).
 * This process becomes the daemon: logs on its stdout and stderr, the
 * control socket beside it, and an exit code that says how the apps
 * ended (docs/containers.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "../core/run.h"
#include "../ipc/util.h"
#include "cmd.h"
#include "procfile.h"

/* How long a takeover waits for the other daemon to let go of the home. */
#define TAKEOVER_TIMEOUT_MS 60000

static const struct cmd_option options[] = {
	{ "exit-on", 0, "WHEN",
	    "when to stop every app and exit: 'all' once "
	    "no app runs any more, 'any' once one has ended or is errored, "
	    "'errored' once one is errored (or none runs), 'never' (default: "
	    "all with an app, never without)",
	    "all any errored never", 0 },
	{ "takeover", 0, NULL,
	    "if a daemon already runs for the home, take "
	    "its apps over: stop it (and them), then start them here (the "
	    "systemd unit of startup does)",
	    NULL, 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

/* describe's members that are not part of an app's spec. */
static const char *const not_spec[] = { "id", "argv", "processes", "sockets",
	"exec" };

/*
 * Take over from the daemon running for the home (started by hand, say):
 * its apps' specs into apps (those with no instance meant to run into
 * idle), then stop it and wait until it has let go of the home.  0 (also
 * when there is none), or an exit code.
 */
static int
takeover(struct cmd_ctx *ctx, json_t *apps, json_t *idle)
{
	json_t *rows = NULL, *row, *p;
	char lock[PATH_MAX];
	long long deadline;
	size_t i, k;
	int rc, fd, running;

	if (cmd_connect(ctx, 0) != 0)
		return 0;
	if ((rc = cmd_call(ctx, "describe",
		 json_pack("{s:[s]}", "targets", "all"), &rows)) != 0 &&
	    rc != EXIT_NOTFOUND)
		return rc;
	json_array_foreach(rows, i, row) {
		running = 0;
		json_array_foreach(json_object_get(row, "processes"), k, p)
			if (strcmp(util_json_str(p, "status", ""), "stopped") !=
			    0)
				running = 1;
		if (!running)
			json_array_append_new(idle,
			    json_string(util_json_str(row, "name", "")));
		for (k = 0; k < sizeof not_spec / sizeof not_spec[0]; k++)
			json_object_del(row, not_spec[k]);
		json_array_append(apps, row);
	}
	fprintf(stderr,
	    "%s: taking over %zu app%s from the daemon already "
	    "running for '%s'\n",
	    progname, json_array_size(rows),
	    json_array_size(rows) == 1 ? "" : "s", ctx->home);
	json_decref(rows);
	if ((rc = cmd_call(ctx, "kill", NULL, NULL)) != 0)
		return rc;
	ipc_client_close(&ctx->client);
	ctx->connected = 0;
	/* Its lock goes with its last breath. */
	snprintf(lock, sizeof lock, "%s/daemon.lock", ctx->home);
	deadline = util_now_ms() + TAKEOVER_TIMEOUT_MS;
	for (;;) {
		fd = open(lock, O_RDWR | O_CLOEXEC);
		if (fd == -1 || flock(fd, LOCK_EX | LOCK_NB) == 0) {
			if (fd != -1)
				close(fd);
			return 0;
		}
		close(fd);
		if (util_now_ms() > deadline)
			return cmd_error(EXIT_FAIL,
			    "the daemon of '%s' did not "
			    "exit",
			    ctx->home);
		nanosleep(&(struct timespec){ 0, 20000000 }, NULL);
	}
}

int
cmd_run_exec(struct cmd_ctx *ctx)
{
	static const char *const names[] = { [RUN_EXIT_ALL] = "all",
		[RUN_EXIT_ANY] = "any",
		[RUN_EXIT_ERRORED] = "errored",
		[RUN_EXIT_NEVER] = "never" };
	struct run_opts o = { .service = 1,
		.exit_on = RUN_EXIT_NEVER,
		.metrics = cmd_opt(ctx, "metrics"),
		.health = cmd_opt(ctx, "health"),
		.json = ctx->json,
		.quiet = ctx->quiet };
	const char *v = cmd_opt(ctx, "exit-on");
	json_t *spec = NULL;
	size_t i;
	int rc = 0;

	o.apps = json_array();
	o.idle = json_array();
	if (cmd_flag(ctx, "takeover") &&
	    (rc = takeover(ctx, o.apps, o.idle)) != 0) {
		json_decref(o.apps);
		json_decref(o.idle);
		return rc;
	}
	if (ctx->argc > 1) /* start a b --no-daemon */
		rc = cmd_usage_error(ctx,
		    "run takes one script or process "
		    "file ('%s' is a second one)",
		    ctx->argv[1]);
	else if (ctx->argc > 0 && procfile_target(ctx)) {
		/* a process file: its apps, as start FILE starts them */
		if (ctx->nrest > 0)
			rc = cmd_usage_error(ctx,
			    "arguments after -- are for a "
			    "script; a process file has 'args'");
		else if ((rc = procfile_specs(ctx, ctx->argv[0], &spec)) == 0)
			json_array_extend(o.apps, spec);
		json_decref(spec);
	} else if (ctx->argc > 0) {
		spec = json_object();
		if ((rc = cmd_start_build(ctx, spec)) == 0)
			json_array_append(o.apps, spec);
		json_decref(spec);
	}
	if (rc != 0) {
		json_decref(o.apps);
		json_decref(o.idle);
		return rc;
	}
	if (ctx->argc > 0) {
		o.exit_on = RUN_EXIT_ALL;
		o.service = 0;
	}
	if (v != NULL) {
		for (i = 0; i < sizeof names / sizeof names[0]; i++)
			if (strcmp(v, names[i]) == 0)
				break;
		if (i == sizeof names / sizeof names[0]) {
			json_decref(o.apps);
			json_decref(o.idle);
			return cmd_usage_error(ctx,
			    "invalid --exit-on '%s' (all, "
			    "any, errored or never)",
			    v);
		}
		o.exit_on = (enum run_exit_on)i;
	}
	rc = run_main(ctx->home, &o);
	json_decref(o.apps);
	json_decref(o.idle);
	return rc;
}

const struct cmd_entry cmd_run_entry = {
	.name = "run",
	.usage = "run [script|program|file] [options] [-- args...]",
	.summary =
	    "Run the daemon in the foreground with an app or the apps of a "
	    "process file, logs on stdout, for a container or a service (as "
	    "pm2-runtime)",
	.options = options,
	.flags = CMD_DAEMON | CMD_NO_START | CMD_REST | CMD_FILES,
	.max_args = 1,
	.example = "clusterctl run server.js -i 4 --kill-timeout 10s",
	.exec = cmd_run_exec,
};
