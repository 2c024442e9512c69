/* stop: stop apps (or name:N instances, or a file's apps); they stay in
 * the list. */
#include "cmd.h"
#include "procfile.h"

static const struct cmd_option options[] = {
	{ "no-wait", 0, NULL, "return at once, not when stopped", NULL, 0 },
	{ "only", 0, "APPS",
	    "with a process file: only these apps (comma "
	    "separated, repeatable; default: all)",
	    VAL_APPNAME, 1 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

static int
exec_stop(struct cmd_ctx *ctx)
{
	if (procfile_target(ctx))
		return procfile_run(ctx, ctx->argv[0], PF_STOP);
	if (cmd_opt_all(ctx, "only") != NULL)
		return cmd_usage_error(ctx, "--only is for a process file");
	return cmd_act_on_targets(ctx, "stop");
}

const struct cmd_entry cmd_stop_entry = {
	.name = "stop",
	.usage = "stop <target|file>... [options]",
	.summary = "Stop apps gracefully (kill signal, then SIGKILL after the "
		   "timeout)",
	.options = options,
	.flags = CMD_DAEMON | CMD_TARGETS | CMD_FILES,
	.min_args = 1,
	.max_args = -1,
	.example = "clusterctl stop web worker",
	.exec = exec_stop,
};
