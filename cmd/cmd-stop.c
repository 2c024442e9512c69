/* stop: stop apps (or name:N instances); they stay in the list. */
#include "cmd.h"

static const struct cmd_option options[] = {
	{ "no-wait", 0, NULL, "return at once, not when stopped", NULL, 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

static int
exec_stop(struct cmd_ctx *ctx)
{
	return cmd_act_on_targets(ctx, "stop");
}

const struct cmd_entry cmd_stop_entry = {
	.name = "stop",
	.usage = "stop <target>... [options]",
	.summary = "Stop apps gracefully (kill signal, then SIGKILL after the "
		   "timeout)",
	.options = options,
	.flags = CMD_DAEMON | CMD_TARGETS,
	.min_args = 1,
	.max_args = -1,
	.example = "clusterctl stop web worker",
	.exec = exec_stop,
};
