/*
 * flush: empty apps' log files and remove their rotated ones (every
 * app's without a target).
 */
#include "../ipc/util.h"
#include "cmd.h"

static int
exec_flush(struct cmd_ctx *ctx)
{
	json_t *data = NULL, *f;
	size_t i;
	int rc;

	rc = cmd_call(ctx, "flush",
	    json_pack("{s:o}", "targets", cmd_targets(ctx)), &data);
	if (rc != 0)
		return rc;
	if (ctx->json)
		cmd_print_json(data);
	else if (!ctx->quiet) {
		json_array_foreach(json_object_get(data, "files"), i, f)
			printf("flushed %s\n", json_string_value(f));
		if (util_json_int(data, "rotated", 0) > 0)
			printf("removed %lld rotated log files\n",
			    (long long)util_json_int(data, "rotated", 0));
	}
	json_decref(data);
	return 0;
}

const struct cmd_entry cmd_flush_entry = {
	.name = "flush",
	.usage = "flush [target...] [options]",
	.summary = "Empty apps' log files, rotated ones removed (every app's "
		   "without a target)",
	.flags = CMD_DAEMON | CMD_TARGETS,
	.max_args = -1,
	.example = "clusterctl flush web",
	.exec = exec_flush,
};
