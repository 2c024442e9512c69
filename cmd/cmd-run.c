/*
 * run: the daemon in the foreground with the given app, for a container's
 * CMD or a service manager (pm2-runtime; start --no-daemon is the same).
 * This process becomes the daemon: logs on its stdout and stderr, the
 * control socket beside it, and an exit code that says how the apps
 * ended (docs/containers.md).
 */
#include <string.h>

#include "../core/run.h"
#include "cmd.h"

static const struct cmd_option options[] = {
	{ "exit-on", 0, "WHEN", "when to stop every app and exit: 'all' once "
	    "no app runs any more, 'any' once one has ended or is errored, "
	    "'errored' once one is errored (or none runs), 'never' (default: "
	    "all with an app, never without)", "all any errored never", 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

int
cmd_run_exec(struct cmd_ctx *ctx)
{
	static const char *const names[] = { [RUN_EXIT_ALL] = "all",
	    [RUN_EXIT_ANY] = "any", [RUN_EXIT_ERRORED] = "errored",
	    [RUN_EXIT_NEVER] = "never" };
	struct run_opts o = { NULL, RUN_EXIT_NEVER, ctx->json, ctx->quiet };
	const char *v = cmd_opt(ctx, "exit-on");
	json_t *spec;
	size_t i;
	int rc;

	o.apps = json_array();
	if (ctx->argc > 0) {
		spec = json_object();
		if ((rc = cmd_start_build(ctx, spec)) != 0) {
			json_decref(spec);
			json_decref(o.apps);
			return rc;
		}
		json_array_append_new(o.apps, spec);
		o.exit_on = RUN_EXIT_ALL;
	}
	if (v != NULL) {
		for (i = 0; i < sizeof names / sizeof names[0]; i++)
			if (strcmp(v, names[i]) == 0)
				break;
		if (i == sizeof names / sizeof names[0]) {
			json_decref(o.apps);
			return cmd_usage_error(ctx, "invalid --exit-on '%s' (all, "
			    "any, errored or never)", v);
		}
		o.exit_on = (enum run_exit_on)i;
	}
	rc = run_main(ctx->home, &o);
	json_decref(o.apps);
	return rc;
}

const struct cmd_entry cmd_run_entry = {
	"run", NULL, "run [script|program] [options] [-- args...]",
	"Run the daemon in the foreground with an app, logs on stdout, for a "
	"container or a service (as pm2-runtime)",
	options, CMD_DAEMON | CMD_NO_START | CMD_REST, 0, 1,
	"clusterctl run server.js -i 4 --kill-timeout 10s",
	cmd_run_exec,
};
