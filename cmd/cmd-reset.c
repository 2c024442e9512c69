/* reset: clear restart counters and backoff; start errored instances. */
#include "cmd.h"

static int
exec_reset(struct cmd_ctx *ctx)
{
	return cmd_act_on_targets(ctx, "reset");
}

const struct cmd_entry cmd_reset_entry = {
	.name = "reset",
	.usage = "reset <target>... [options]",
	.summary =
	    "Clear restart counters and backoff; start errored or waiting "
	    "instances now",
	.flags = CMD_DAEMON | CMD_TARGETS,
	.min_args = 1,
	.max_args = -1,
	.example = "clusterctl reset web",
	.exec = exec_reset,
};
