/* delete: stop apps and forget them. */
#include "cmd.h"

static int
exec_delete(struct cmd_ctx *ctx)
{
	return cmd_act_on_targets(ctx, "delete");
}

const struct cmd_entry cmd_delete_entry = {
	.name = "delete",
	.aliases = "del rm",
	.usage = "delete <target>... [options]",
	.summary = "Stop apps and remove them from the list",
	.flags = CMD_DAEMON | CMD_TARGETS,
	.min_args = 1,
	.max_args = -1,
	.example = "clusterctl delete web",
	.exec = exec_delete,
};
