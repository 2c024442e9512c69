/* delete: stop apps (or a file's apps) and forget them. */
#include "cmd.h"
#include "procfile.h"

static const struct cmd_option options[] = {
	{ "only", 0, "APPS",
	    "with a process file: only these apps (comma "
	    "separated, repeatable; default: all)",
	    VAL_APPNAME, 1 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

static int
exec_delete(struct cmd_ctx *ctx)
{
	if (procfile_target(ctx))
		return procfile_run(ctx, ctx->argv[0], PF_DELETE);
	if (cmd_opt_all(ctx, "only") != NULL)
		return cmd_usage_error(ctx, "--only is for a process file");
	return cmd_act_on_targets(ctx, "delete");
}

const struct cmd_entry cmd_delete_entry = {
	.name = "delete",
	.aliases = "del rm",
	.usage = "delete <target|file>... [options]",
	.summary = "Stop apps and remove them from the list",
	.options = options,
	.flags = CMD_DAEMON | CMD_TARGETS | CMD_FILES,
	.min_args = 1,
	.max_args = -1,
	.example = "clusterctl delete web",
	.exec = exec_delete,
};
