/*
 * scale: set an app's instance count (N), or change it (+N, -N).  New
 * instances take the lowest free numbers; the highest-numbered ones stop.
 */
#include <errno.h>
#include <stdlib.h>

#include "cmd.h"

static const struct cmd_option options[] = {
	{ "no-wait", 0, NULL,
	    "return at once, not when the new instances are "
	    "online and the removed ones stopped",
	    NULL, 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

static int
exec_scale(struct cmd_ctx *ctx)
{
	const char *v = ctx->argv[1];
	json_t *args, *data = NULL;
	char *end;
	long n;
	int rc;

	errno = 0;
	n = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0 || n < -4096 || n > 4096 ||
	    (n == 0 && *v != '+' && *v != '-'))
		return cmd_usage_error(ctx,
		    "invalid count '%s' (say 4, +2 or "
		    "-1)",
		    v);
	args = json_pack("{s:s, s:i, s:b}", "target", ctx->argv[0], "count",
	    (int)n, "relative", *v == '+' || *v == '-');
	if (cmd_flag(ctx, "no-wait"))
		json_object_set_new(args, "wait", json_false());
	rc = cmd_call(ctx, "scale", args, &data);
	if (rc == 0 && data != NULL)
		rc = cmd_show_apps(ctx, data);
	json_decref(data);
	return rc;
}

const struct cmd_entry cmd_scale_entry = {
	.name = "scale",
	.usage = "scale <app> <N|+N|-N> [options]",
	.summary = "Run N instances of an app, or N more (+N) or fewer (-N)",
	.options = options,
	.flags = CMD_DAEMON | CMD_NEGNUM,
	.min_args = 2,
	.max_args = 2,
	.example = "clusterctl scale web +2",
	.exec = exec_scale,
};
