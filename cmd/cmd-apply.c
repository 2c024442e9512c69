/*
 * apply: make the running apps match a process file, the way a deploy
 * script wants it: start what is new, reload (zero downtime) what changed,
 * delete what this file started and no longer has, leave the rest alone.
 */
#include "cmd.h"
#include "procfile.h"

static const struct cmd_option options[] = {
	{ "dry-run", 'n', NULL, "print the plan, change nothing", NULL, 0 },
	PROCFILE_OPTIONS,
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

static int
exec_apply(struct cmd_ctx *ctx)
{
	return procfile_apply(ctx, ctx->argv[0], cmd_flag(ctx, "dry-run"));
}

const struct cmd_entry cmd_apply_entry = {
	.name = "apply",
	.usage = "apply <file> [options]",
	.summary = "Make the running apps match a process file: + start, "
		   "~ reload, - delete, = keep",
	.options = options,
	.flags = CMD_DAEMON | CMD_FILES,
	.min_args = 1,
	.max_args = 1,
	.example = "clusterctl apply ecosystem.config.js --env production "
		   "--dry-run",
	.exec = exec_apply,
};
