/*
 * --cron-restart (cron_restart): each app with a schedule has a timer for
 * its next match (core/cron.c, local time).  At a match the app's running
 * instances are reloaded with reason "cron" (through the reload path, so
 * a cluster keeps serving), and instances that had exited on their own
 * and were not restarted — a batch job that finished — are started again
 * (pm2 does not: pm2 #2622).  Instances stopped by the user stay stopped.
 *
 * The timer wakes at least once a minute and compares with the wall
 * clock, so a clock change or daylight saving time moves the run with it.
 * CLUSTERCTL_TEST_CLOCK_OFFSET_MS (tests only) shifts the daemon's idea
 * of the time for schedules.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../ipc/util.h"
#include "core.h"
#include "cron.h"

#define MAX_SLEEP_MS 60000

struct cronjob {
	uv_timer_t timer;
	int app_id;
	struct cron c;
	char expr[128];
	time_t next;
};

static int64_t
now_ms(void)
{
	static int64_t offset = -1;
	const char *o;

	if (offset == -1) {
		o = getenv("CLUSTERCTL_TEST_CLOCK_OFFSET_MS");
		offset = o != NULL ? strtoll(o, NULL, 10) : 0;
	}
	return daemon_now_wall() + offset;
}

/* Check cron_restart in a spec: absent, null, or a valid expression. */
int
schedule_parse(const json_t *spec, struct err *e)
{
	json_t *v = json_object_get(spec, "cron_restart");
	struct cron c;
	char msg[256];

	if (v == NULL || json_is_null(v))
		return 0;
	if (!json_is_string(v)) {
		err_set(e, IPC_E_BAD_REQUEST,
		    "'cron_restart' is a cron "
		    "expression (say '0 3 * * *')");
		return -1;
	}
	if (cron_parse(json_string_value(v), &c, msg, sizeof msg) != 0) {
		err_set(e, IPC_E_BAD_REQUEST, "%s", msg);
		return -1;
	}
	return 0;
}

static void tick(uv_timer_t *);

/* Wake at the next run, or in a minute to look at the clock again. */
static void
arm(struct cronjob *j)
{
	int64_t wait = (int64_t)j->next * 1000 - now_ms();

	if (wait < 0)
		wait = 0;
	if (wait > MAX_SLEEP_MS)
		wait = MAX_SLEEP_MS;
	uv_timer_start(&j->timer, tick, (uint64_t)wait, 0);
}

/* The schedule matched: reload what runs, start what ended by itself. */
static void
run(struct app *a, const char *expr)
{
	json_t *targets = json_array();
	struct instance *in;
	int k, started = 0;

	if (a->reloading) {
		log_warnx("%s: cron '%s': a reload is running; this run is "
			  "skipped",
		    a->name, expr);
		json_decref(targets);
		return;
	}
	for (k = 0; k < a->ninst; k++) {
		in = a->inst[k];
		if (inst_status(in) == ST_STOPPED && in->stopped_by_exit) {
			inst_start(in, REASON_CRON);
			started++;
		} else if (inst_status(in) != ST_STOPPED &&
		    inst_status(in) != ST_STOPPING)
			json_array_append_new(targets,
			    json_sprintf("%s:%d", a->name, k));
	}
	log_info("%s: cron '%s': reloading %zu instance%s, starting %d that "
		 "had exited",
	    a->name, expr, json_array_size(targets),
	    json_array_size(targets) == 1 ? "" : "s", started);
	if (json_array_size(targets) > 0)
		server_self_request("reload",
		    json_pack("{s:o, s:s}", "targets", targets, "reason",
			"cron"));
	else
		json_decref(targets);
}

static void
tick(uv_timer_t *t)
{
	struct cronjob *j = t->data;
	struct app *a = app_find_id(j->app_id);
	time_t now = (time_t)(now_ms() / 1000);

	if (a == NULL)
		return;
	if (now >= j->next) {
		run(a, j->expr);
		j->next = cron_next(&j->c, now);
	}
	if (j->next != (time_t)-1)
		arm(j);
}

static void
job_closed(uv_handle_t *h)
{
	free(h->data);
}

void
schedule_stop(struct app *a)
{
	if (a->cron == NULL)
		return;
	uv_timer_stop(&a->cron->timer);
	uv_close((uv_handle_t *)&a->cron->timer, job_closed);
	a->cron = NULL;
}

/* (Re)arm a's schedule from its spec (after start, or set). */
void
schedule_start(struct app *a)
{
	const char *expr = util_json_str(a->spec, "cron_restart", NULL);
	struct cronjob *j;
	char err[256];

	schedule_stop(a);
	if (expr == NULL || (j = calloc(1, sizeof *j)) == NULL)
		return;
	if (cron_parse(expr, &j->c, err, sizeof err) != 0) {
		free(j); /* checked before: not reached */
		return;
	}
	snprintf(j->expr, sizeof j->expr, "%s", expr);
	j->app_id = a->id;
	j->next = cron_next(&j->c, (time_t)(now_ms() / 1000));
	uv_timer_init(loop, &j->timer);
	j->timer.data = j;
	a->cron = j;
	if (j->next != (time_t)-1)
		arm(j);
}

/* The next run in ms since the epoch (local clock), or -1. */
int64_t
schedule_next(const struct app *a)
{
	if (a->cron == NULL || a->cron->next == (time_t)-1)
		return -1;
	return (int64_t)a->cron->next * 1000;
}
