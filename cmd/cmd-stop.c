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
	"stop", NULL, "stop <target>... [options]",
	"Stop apps gracefully (kill signal, then SIGKILL after the timeout)",
	options, CMD_DAEMON | CMD_TARGETS, 1, -1, "clusterctl stop web worker",
	exec_stop,
};
