/* restart: stop then start again (see reload for zero downtime). */
#include "cmd.h"

static const struct cmd_option options[] = {
	{ "no-wait", 0, NULL, "return at once, not when online", NULL, 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

static int
exec_restart(struct cmd_ctx *ctx)
{
	return cmd_act_on_targets(ctx, "restart");
}

const struct cmd_entry cmd_restart_entry = {
	.name = "restart",
	.usage = "restart <target>... [options]",
	.summary =
	    "Stop and start apps again; clears their backoff and crash count",
	.options = options,
	.flags = CMD_DAEMON | CMD_TARGETS,
	.min_args = 1,
	.max_args = -1,
	.example = "clusterctl restart all",
	.exec = exec_restart,
};
