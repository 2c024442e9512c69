/* reset: clear restart counters and backoff; start errored instances. */
#include "cmd.h"

static int
exec_reset(struct cmd_ctx *ctx)
{
	return cmd_act_on_targets(ctx, "reset");
}

const struct cmd_entry cmd_reset_entry = {
	"reset", NULL, "reset <target>... [options]",
	"Clear restart counters and backoff; start errored or waiting "
	"instances now", NULL, CMD_DAEMON | CMD_TARGETS, 1, -1,
	"clusterctl reset web", exec_reset,
};
