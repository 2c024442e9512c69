/*
 * set: change the options of running apps that need no restart (the
 * memory limit, watching, the cron schedule); they apply at once.
 */
#include "cmd.h"

static const struct cmd_option options[] = {
	OPERATE_OPTIONS,
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

static int
exec_set(struct cmd_ctx *ctx)
{
	json_t *spec = json_object(), *data = NULL;
	int rc;

	if ((rc = cmd_operate_spec(ctx, spec)) != 0) {
		json_decref(spec);
		return rc;
	}
	if (json_object_size(spec) == 0) {
		json_decref(spec);
		return cmd_usage_error(ctx,
		    "nothing to change (say "
		    "--max-memory-restart 300M, for instance)");
	}
	rc = cmd_call(ctx, "set",
	    json_pack("{s:o, s:o}", "targets", cmd_targets(ctx), "spec", spec),
	    &data);
	if (rc == 0 && ctx->json)
		cmd_print_json(data);
	json_decref(data);
	return rc;
}

const struct cmd_entry cmd_set_entry = {
	.name = "set",
	.usage = "set <app>... [options]",
	.summary =
	    "Change a running app's memory limit, watching or cron schedule, "
	    "without restarting it",
	.options = options,
	.flags = CMD_DAEMON | CMD_NO_START | CMD_TARGETS,
	.min_args = 1,
	.max_args = -1,
	.example = "clusterctl set api --max-memory-restart 500M",
	.exec = exec_set,
};
