/* restart: stop then start again (see reload for zero downtime). */
#include "cmd.h"
#include "procfile.h"

static const struct cmd_option options[] = {
	{ "no-wait", 0, NULL, "return at once, not when online", NULL, 0 },
	{ "update-env", 0, NULL,
	    "the apps take the environment clusterctl "
	    "runs in (what their file or --env set stays); default: the one "
	    "they were started with",
	    NULL, 0 },
	PROCFILE_OPTIONS,
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

static int
exec_restart(struct cmd_ctx *ctx)
{
	int rc;

	if (procfile_target(ctx))
		return procfile_run(ctx, ctx->argv[0], PF_RESTART);
	if ((rc = procfile_by_name(ctx)) != 0)
		return rc;
	return cmd_act_on_targets(ctx, "restart");
}

const struct cmd_entry cmd_restart_entry = {
	.name = "restart",
	.usage = "restart <target|file>... [options]",
	.summary =
	    "Stop and start apps again; clears their backoff and crash count",
	.options = options,
	.flags = CMD_DAEMON | CMD_TARGETS | CMD_FILES,
	.min_args = 1,
	.max_args = -1,
	.example = "clusterctl restart all",
	.exec = exec_restart,
};
