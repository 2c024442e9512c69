/*
 * --max-memory-restart (max_memory_restart): once a second, the resident
 * memory of each limited instance's whole process tree — every process in
 * its session, which the __exec shim opens (UV_PROCESS_DETACHED), so the
 * workers an app forks count too — and an instance over its limit is
 * replaced through a reload with reason "memory": the replacement is ready
 * before the old one stops, so a cluster never loses capacity.
 *
 * One pass over /proc serves every instance; the timer runs only while an
 * app has a limit.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "core.h"
#include "proc.h"

#define SAMPLE_MS 1000
/* After a replacement was asked for, the app is left alone this long. */
#define RETRY_MS 10000

static uv_timer_t timer;
static int timer_init;

/* One instance being measured: its session (leader pid) and total. */
struct measured {
	pid_t sid;
	int64_t rss; /* pages */
	struct instance *in;
};

static int
by_sid(const void *a, const void *b)
{
	pid_t x = ((const struct measured *)a)->sid;
	pid_t y = ((const struct measured *)b)->sid;

	return x < y ? -1 : x > y;
}

struct scan {
	struct measured *m;
	size_t n;
};

static void
add_process(pid_t pid, void *arg)
{
	struct scan *sc = arg;
	struct measured key, *hit;
	struct proc_stat ps;

	if (proc_read_stat(pid, &ps) != 0)
		return;
	key.sid = ps.sid;
	if ((hit = bsearch(&key, sc->m, sc->n, sizeof *sc->m, by_sid)) != NULL)
		hit->rss += ps.rss;
}

/* Add up the resident memory of every process by session, in one pass. */
static void
measure(struct measured *m, size_t n)
{
	struct scan sc = { m, n };

	qsort(m, n, sizeof *m, by_sid);
	proc_foreach(add_process, &sc);
}

/* "300.0M": a size as --max-memory-restart takes it. */
static void
size_text(char *buf, size_t len, int64_t n)
{
	if (n >= 1024LL * 1024 * 1024)
		snprintf(buf, len, "%.1fG", (double)n / (1024.0 * 1024 * 1024));
	else if (n >= 1024 * 1024)
		snprintf(buf, len, "%.1fM", (double)n / (1024.0 * 1024));
	else
		snprintf(buf, len, "%.1fK", (double)n / 1024.0);
}

static void
tick(uv_timer_t *t)
{
	long page = sysconf(_SC_PAGESIZE);
	struct measured *m;
	struct instance *in;
	struct app *a;
	json_t *targets;
	size_t n = 0, i;
	char have[32], lim[32];
	int k;

	(void)t;
	TAILQ_FOREACH(a, &apps, entry)
		if (a->max_memory > 0)
			n += (size_t)a->ninst;
	if (n == 0) {
		uv_timer_stop(&timer);
		return;
	}
	if ((m = calloc(n, sizeof *m)) == NULL)
		return;
	n = 0;
	TAILQ_FOREACH(a, &apps, entry) {
		if (a->max_memory <= 0 || a->reloading || a->deleting ||
		    (a->memory_tried != 0 &&
			uv_now(loop) < a->memory_tried + RETRY_MS))
			continue;
		for (k = 0; k < a->ninst; k++) {
			in = a->inst[k];
			if (inst_status(in) != ST_ONLINE || !in->running ||
			    in->exited)
				continue;
			m[n].sid = in->pid;
			m[n].in = in;
			n++;
		}
	}
	if (n > 0)
		measure(m, n);
	/* The instances of one app over the limit: one reload of them. */
	TAILQ_FOREACH(a, &apps, entry) {
		targets = NULL;
		for (i = 0; i < n; i++) {
			in = m[i].in;
			if (in->app != a || m[i].rss * page <= a->max_memory)
				continue;
			size_text(have, sizeof have, m[i].rss * page);
			size_text(lim, sizeof lim, a->max_memory);
			log_warnx("%s:%d memory %s (its process tree) is over "
				  "max_memory_restart %s: replacing it",
			    a->name, in->index, have, lim);
			if (targets == NULL)
				targets = json_array();
			json_array_append_new(targets,
			    json_sprintf("%s:%d", a->name, in->index));
		}
		if (targets != NULL) {
			a->memory_tried = uv_now(loop);
			server_self_request("reload",
			    json_pack("{s:o, s:s}", "targets", targets,
				"reason", "memory"));
		}
	}
	free(m);
}

/* Sample while some app has a limit (after a start, a change, a delete). */
void
memlimit_update(void)
{
	struct app *a;

	if (!timer_init) {
		uv_timer_init(loop, &timer);
		uv_unref((uv_handle_t *)&timer);
		timer_init = 1;
	}
	TAILQ_FOREACH(a, &apps, entry)
		if (a->max_memory > 0) {
			if (!uv_is_active((uv_handle_t *)&timer))
				uv_timer_start(&timer, tick, SAMPLE_MS,
				    SAMPLE_MS);
			return;
		}
	uv_timer_stop(&timer);
}

/*
 * max_memory_restart from a spec: a size ("300M", "1G", bytes) or absent
 * (no limit); 0, or -1 with e.
 */
int
memlimit_parse(const json_t *spec, int64_t *out, struct err *e)
{
	json_t *v = json_object_get(spec, "max_memory_restart");

	*out = 0;
	if (v == NULL || json_is_null(v))
		return 0;
	if (json_is_integer(v) && json_integer_value(v) >= 0) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) &&
	    util_parse_size(json_string_value(v), out) == 0)
		return 0;
	err_set(e, IPC_E_BAD_REQUEST,
	    "invalid max_memory_restart '%s' (say "
	    "300M, 1G or a number of bytes)",
	    json_is_string(v) ? json_string_value(v) : "?");
	return -1;
}
