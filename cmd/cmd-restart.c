/* restart: stop then start again (see reload for zero downtime). */
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "procfile.h"

static const struct cmd_option options[] = {
	{ "no-wait", 0, NULL, "return at once, not when online", NULL, 0 },
	{ "update-env", 0, NULL,
	    "the apps take the environment clusterctl "
	    "runs in (what their file or --env set stays); default: the one "
	    "they were started with",
	    NULL, 0 },
	{ "name", 'n', "NEW",
	    "rename the app (one app) as it restarts, as pm2's "
	    "restart --name; its processes and default log files take the new "
	    "name (default: keep it)",
	    NULL, 0 },
	PROCFILE_OPTIONS,
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

static int
exec_restart(struct cmd_ctx *ctx)
{
	const char *rename = cmd_opt(ctx, "name");
	char word[16];
	int rc, id = -1;

	if (procfile_target(ctx)) {
		if (rename != NULL)
			return cmd_usage_error(ctx,
			    "--name renames one app, "
			    "not a process file's");
		return procfile_run(ctx, ctx->argv[0], PF_RESTART);
	}
	if (rename == NULL) {
		if ((rc = procfile_by_name(ctx)) != 0)
			return rc;
		return cmd_act_on_targets(ctx, "restart");
	}
	if (cmd_opt_all(ctx, "env") != NULL || cmd_opt_all(ctx, "only") != NULL)
		return procfile_by_name(ctx);
	if (ctx->argc != 1)
		return cmd_usage_error(ctx, "--name renames one app");
	if ((rc = procfile_update_specs(ctx, rename, &id)) != 0)
		return rc;
	snprintf(word, sizeof word, "%d", id);
	return cmd_act_on(ctx, "restart", json_pack("[s]", word));
}

const struct cmd_entry cmd_restart_entry = {
	.name = "restart",
	.usage = "restart <target|file>... [options]",
	.summary =
	    "Stop and start apps again; clears their backoff and crash count",
	.options = options,
	.flags = CMD_DAEMON | CMD_TARGETS | CMD_FILES,
	.min_args = 1,
	.max_args = -1,
	.example = "clusterctl restart all",
	.exec = exec_restart,
};
