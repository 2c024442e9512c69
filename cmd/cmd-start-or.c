/*
 * pm2's startOrRestart, startOrReload and startOrGracefulReload: the apps
 * of a process file that do not exist start, the others restart (or
 * reload, with no downtime) with the file's options.
 */
#include "cmd.h"
#include "procfile.h"

static const struct cmd_option options[] = {
	PROCFILE_OPTIONS,
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

static int
exec_start_or_restart(struct cmd_ctx *ctx)
{
	return procfile_run(ctx, ctx->argv[0], PF_START);
}

static int
exec_start_or_reload(struct cmd_ctx *ctx)
{
	return procfile_run(ctx, ctx->argv[0], PF_START_OR_RELOAD);
}

const struct cmd_entry cmd_start_or_restart_entry = {
	.name = "startOrRestart",
	.usage = "startOrRestart <file> [options]",
	.summary = "pm2's: start a process file's new apps, restart the others",
	.options = options,
	.flags = CMD_DAEMON | CMD_FILES,
	.min_args = 1,
	.max_args = 1,
	.example = "clusterctl startOrRestart ecosystem.config.js --env "
		   "production",
	.exec = exec_start_or_restart,
};

const struct cmd_entry cmd_start_or_reload_entry = {
	.name = "startOrReload",
	.aliases = "startOrGracefulReload",
	.usage = "startOrReload <file> [options]",
	.summary = "pm2's: start a process file's new apps, reload the others "
		   "(no downtime)",
	.options = options,
	.flags = CMD_DAEMON | CMD_FILES,
	.min_args = 1,
	.max_args = 1,
	.example = "clusterctl startOrReload ecosystem.config.js",
	.exec = exec_start_or_reload,
};
