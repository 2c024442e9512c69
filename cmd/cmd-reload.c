/*
 * reload: zero-downtime rolling restart.  Each instance gets a replacement
 * that must be ready before the old one is stopped; the daemon streams
 * each step and this prints it as it happens.
 */
#include <errno.h>
#include <stdlib.h>

#include "../ipc/util.h"
#include "cmd.h"
#include "procfile.h"

static const struct cmd_option options[] = {
	{ "parallel", 0, "K", "replace K instances at a time (default 1)", NULL,
	    0 },
	{ "force", 0, NULL,
	    "go on when a replacement fails (the old instance "
	    "is stopped anyway)",
	    NULL, 0 },
	{ "update-env", 0, NULL,
	    "the apps take the environment clusterctl "
	    "runs in (what their file or --env set stays); default: the one "
	    "they were started with",
	    NULL, 0 },
	PROCFILE_OPTIONS,
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

/* One step of the reload, or the final reply. */
int
cmd_reload_show(struct cmd_ctx *ctx, json_t *data, void *arg)
{
	(void)arg;
	if (ctx->quiet || data == NULL)
		return 0;
	if (ctx->json) {
		json_dumpf(data, stdout, JSON_COMPACT);
		fputc('\n', stdout);
	} else if (json_is_string(json_object_get(data, "event")))
		printf("%-12s %s\n", util_json_str(data, "instance", "?"),
		    util_json_str(data, "message", ""));
	else
		printf("reloaded: %lld instance%s replaced\n",
		    (long long)util_json_int(data, "replaced", 0),
		    util_json_int(data, "replaced", 0) == 1 ? "" : "s");
	fflush(stdout);
	return 0;
}

static int
exec_reload(struct cmd_ctx *ctx)
{
	json_t *args;
	const char *v;
	char *end;
	long k;
	int rc;

	if (procfile_target(ctx))
		return procfile_run(ctx, ctx->argv[0], PF_RELOAD);
	if ((rc = procfile_by_name(ctx)) != 0)
		return rc;
	args = json_pack("{s:o}", "targets", cmd_targets(ctx));
	if ((v = cmd_opt(ctx, "parallel")) != NULL) {
		errno = 0;
		k = strtol(v, &end, 10);
		if (*v == '\0' || *end != '\0' || errno != 0 || k < 1 ||
		    k > 4096) {
			json_decref(args);
			return cmd_usage_error(ctx,
			    "invalid --parallel '%s' "
			    "(a number from 1)",
			    v);
		}
		json_object_set_new(args, "parallel", json_integer(k));
	}
	if (cmd_flag(ctx, "force"))
		json_object_set_new(args, "force", json_true());
	return cmd_call_stream(ctx, "reload", args, cmd_reload_show, NULL, -1);
}

const struct cmd_entry cmd_reload_entry = {
	.name = "reload",
	.usage = "reload <target|file>... [options]",
	.summary =
	    "Replace instances one by one, each new one ready before the old "
	    "one "
	    "stops: no downtime",
	.options = options,
	.flags = CMD_DAEMON | CMD_TARGETS | CMD_FILES,
	.min_args = 1,
	.max_args = -1,
	.example = "clusterctl reload web --parallel 2",
	.exec = exec_reload,
};
