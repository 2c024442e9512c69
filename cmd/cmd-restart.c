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
	"restart", NULL, "restart <target>... [options]",
	"Stop and start apps again; clears their backoff and crash count",
	options, CMD_DAEMON | CMD_TARGETS, 1, -1, "clusterctl restart all",
	exec_restart,
};
