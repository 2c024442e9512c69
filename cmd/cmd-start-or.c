/*
 * pm2's startOrRestart, startOrReload and startOrGracefulReload: the apps
 * of a process file that do not exist start, the others restart (or
 * reload, with no downtime) with the file's options.
 */
#include "cmd.h"
#include "procfile.h"

static const struct cmd_option options[] = {
    PROCFILE_OPTIONS,
    {NULL, 0, NULL, NULL, NULL, 0},
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
    "startOrRestart",
    NULL,
    "startOrRestart <file> [options]",
    "pm2's: start a process file's new apps, restart the others",
    options,
    CMD_DAEMON | CMD_FILES,
    1,
    1,
    "clusterctl startOrRestart ecosystem.config.js --env production",
    exec_start_or_restart,
};

const struct cmd_entry cmd_start_or_reload_entry = {
    "startOrReload",
    "startOrGracefulReload",
    "startOrReload <file> "
    "[options]",
    "pm2's: start a process file's new apps, reload the "
    "others (no downtime)",
    options,
    CMD_DAEMON | CMD_FILES,
    1,
    1,
    "clusterctl startOrReload ecosystem.config.js",
    exec_start_or_reload,
};
