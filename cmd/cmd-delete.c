/* delete: stop apps and forget them. */
#include "cmd.h"

static int
exec_delete(struct cmd_ctx *ctx)
{
	return cmd_act_on_targets(ctx, "delete");
}

const struct cmd_entry cmd_delete_entry = {
	"delete", "del rm", "delete <target>... [options]",
	"Stop apps and remove them from the list", NULL,
	CMD_DAEMON | CMD_TARGETS, 1, -1, "clusterctl delete web", exec_delete,
};
