/*
 * set: change options of running apps without restarting them — the
 * triggers that replace instances (max_memory_restart, and the watch and
 * cron options).  Values are checked by the same parsers app_create uses,
 * all before anything changes, and land in the app's spec, so describe
 * and the state file see them.
 */
#include <stdio.h>
#include <string.h>

#include "../ipc/util.h"
#include "core.h"

/* The spec fields set may change; null removes one. */
static const char *changeable[] = { "max_memory_restart", "watch",
	"ignore_watch", "watch_delay", "cron_restart" };

static int
is_changeable(const char *k)
{
	size_t i;

	for (i = 0; i < sizeof changeable / sizeof changeable[0]; i++)
		if (strcmp(changeable[i], k) == 0)
			return 1;
	return 0;
}

/* set {"targets": apps, "spec": {field: value or null}} */
void
update_handle(struct req *r)
{
	json_t *spec = json_object_get(r->args, "spec"), *v, *done;
	const char *k;
	struct app *a;
	struct err e;
	int64_t maxmem;
	size_t i;

	if (!json_is_object(spec) || json_object_size(spec) == 0) {
		req_error(r, IPC_E_BAD_REQUEST,
		    "set needs a 'spec' with the "
		    "options to change");
		return;
	}
	json_object_foreach(spec, k, v)
		if (!is_changeable(k)) {
			req_error(r, IPC_E_BAD_REQUEST,
			    "'%s' cannot be changed on a "
			    "running app (delete and start it again)",
			    k);
			return;
		}
	if (memlimit_parse(spec, &maxmem, &e) != 0 ||
	    watch_parse(spec, &e) != 0 || schedule_parse(spec, &e) != 0) {
		req_fail(r, &e);
		return;
	}
	if (req_targets(r, &r->targets) != 0)
		return;
	for (i = 0; i < r->targets.n; i++)
		if (r->targets.v[i].instance >= 0) {
			req_error(r, IPC_E_BAD_REQUEST,
			    "set takes apps, not "
			    "instances");
			return;
		}
	done = json_array();
	for (i = 0; i < r->targets.n; i++) {
		a = target_app(&r->targets.v[i]);
		json_object_foreach(spec, k, v) {
			if (json_is_null(v))
				json_object_del(a->spec, k);
			else
				json_object_set(a->spec, k, v);
		}
		if (json_object_get(spec, "max_memory_restart") != NULL)
			a->max_memory = maxmem;
		if (json_object_get(spec, "watch") != NULL ||
		    json_object_get(spec, "ignore_watch") != NULL ||
		    json_object_get(spec, "watch_delay") != NULL)
			watch_start(a);
		if (json_object_get(spec, "cron_restart") != NULL)
			schedule_start(a);
		log_info("%s: options changed", a->name);
		json_array_append_new(done,
		    json_pack("{s:i, s:s, s:i}", "id", a->id, "name", a->name,
			"instances", a->ninst));
	}
	memlimit_update();
	req_reply(r, json_pack("{s:o}", "apps", done));
}
