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
	const char *v, *p, *q;
	char **all;
	int64_t n;
	json_t *arr;
	size_t i;

	if ((v = cmd_opt(ctx, "max-memory-restart")) != NULL) {
		if (util_parse_size(v, &n) != 0)
			return cmd_usage_error(ctx,
			    "invalid size '%s' for "
			    "--max-memory-restart (say 300M or 1G)",
			    v);
		json_object_set_new(spec, "max_memory_restart",
		    n == 0 ? json_null() : json_string(v));
	}
	all = cmd_opt_all(ctx, "watch");
	if (all != NULL && cmd_flag(ctx, "no-watch"))
		return cmd_usage_error(ctx, "--watch or --no-watch, not both");
	if (cmd_flag(ctx, "no-watch"))
		json_object_set_new(spec, "watch", json_false());
	else if (all != NULL) {
		/* --watch (its directory), --watch=a,b, --watch a --watch b */
		arr = json_array();
		for (i = 0; all[i] != NULL; i++)
			for (p = all[i]; *p != '\0';
			     p = *q != '\0' ? q + 1 : q) {
				q = p + strcspn(p, ",");
				if (q > p)
					json_array_append_new(arr,
					    json_stringn(p, (size_t)(q - p)));
			}
		if (json_array_size(arr) == 0) {
			json_decref(arr);
			json_object_set_new(spec, "watch", json_true());
		} else
			json_object_set_new(spec, "watch", arr);
	}
	if ((all = cmd_opt_all(ctx, "ignore-watch")) != NULL) {
		arr = json_array();
		for (i = 0; all[i] != NULL; i++)
			json_array_append_new(arr, json_string(all[i]));
		json_object_set_new(spec, "ignore_watch", arr);
	}
	if ((v = cmd_opt(ctx, "watch-delay")) != NULL) {
		if (util_parse_duration_ms(v, &n) != 0 || n > 3600000)
			return cmd_usage_error(ctx,
			    "invalid duration '%s' for "
			    "--watch-delay (say 500, 500ms, 2s)",
			    v);
		json_object_set_new(spec, "watch_delay", json_integer(n));
	}
	if ((v = cmd_opt(ctx, "cron-restart")) != NULL)
		json_object_set_new(spec, "cron_restart",
		    *v == '\0' || strcmp(v, "none") == 0 ? json_null() :
							   json_string(v));
	return 0;
}
