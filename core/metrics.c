/*
 * Prometheus metrics: the text exposition format (version 0.0.4) of every
 * instance, app and the daemon itself, served on /metrics by the HTTP
 * endpoint (http.c), and returned by the "metrics" request.  A scrape
 * renders from memory and one read of /proc/PID/stat per instance (on a
 * descriptor the instance keeps: instance.c's inst_sample), so it never
 * waits for anything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "buf.h"
#include "core.h"

/* --- rendering ------------------------------------------------------------ */

/*
 * The text is appended to a growing buffer by hand rather than through
 * stdio: a scrape of a thousand instances writes twenty thousand lines,
 * and the labels of each instance are made once, not once per line.
 */
struct out {
	struct buf b;
	int err; /* out of memory: the text is incomplete */
};

static void
put(struct out *o, const char *s, size_t n)
{
	if (o->b.p != NULL && o->b.len + n <= o->b.cap) { /* no call */
		memcpy(o->b.p + o->b.len, s, n);
		o->b.len += n;
	} else if (o->err == 0 && buf_add(&o->b, s, n, 64 * 1024) != 0)
		o->err = -1;
}

static void
puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void
put_u(struct out *o, unsigned long long v)
{
	char tmp[24], *p = tmp + sizeof tmp;

	do
		*--p = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	put(o, p, (size_t)(tmp + sizeof tmp - p));
}

/* v / scale with as many decimals as scale has zeros (10, 100, 1000):
 * what printf's %.Nf prints of that quotient, -1 as "-1.000". */
static void
put_fixed(struct out *o, long long v, unsigned scale)
{
	char tmp[8];
	unsigned long long u;
	unsigned f, d = 0;

	if (v < 0) {
		put(o, "-", 1);
		u = (unsigned long long)-v;
	} else
		u = (unsigned long long)v;
	put_u(o, u / scale);
	put(o, ".", 1);
	for (f = scale; f > 1; f /= 10)
		tmp[d++] = (char)('0' + (unsigned)(u % f) / (f / 10));
	put(o, tmp, d);
}

static void
header(struct out *o, const char *name, const char *type, const char *help)
{
	puts_(o, "# HELP ");
	puts_(o, name);
	put(o, " ", 1);
	puts_(o, help);
	puts_(o, "\n# TYPE ");
	puts_(o, name);
	put(o, " ", 1);
	puts_(o, type);
	put(o, "\n", 1);
}

/* The daemon's resident memory in bytes. */
static int64_t
self_rss(void)
{
	long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "re");

	if (f == NULL)
		return 0;
	if (fscanf(f, "%ld %ld", &size, &res) != 2)
		res = 0;
	fclose(f);
	return (int64_t)res * sysconf(_SC_PAGESIZE);
}

/* The daemon's soft descriptor limit (0: none). */
static unsigned long long
self_max_fds(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
		return 0;
	return (unsigned long long)rl.rlim_cur;
}

/* Every instance in a slot (not those being replaced), for fn. */
#define FOREACH_INSTANCE(a, k, in)                                             \
	TAILQ_FOREACH(a, &apps, entry)                                         \
		for (k = 0; k < (a)->ninst && ((in) = (a)->inst[k], 1); k++)

/* What a scrape knows of one app: its labels' text. */
struct app_row {
	struct app *a;
	size_t label, llen; /* in the labels buffer: app="NAME"[,id="ID"] */
};

/* What a scrape knows of one instance. */
struct inst_row {
	struct instance *in;
	size_t label, llen; /* app="NAME"[,id="ID"],instance="K" */
	uint64_t cpu;
	int64_t rss;
};

static int
by_name(const void *x, const void *y)
{
	return strcmp((*(struct app_row *const *)x)->a->name,
	    (*(struct app_row *const *)y)->a->name);
}

/*
 * The value of each app's "app" label: its name, and for apps that share a
 * name (start --force) its id as a label of its own as well, so no two
 * series are the same.  Names are letters, digits and . _ - @ + (app.c):
 * nothing to escape.
 */
static int
app_labels(struct app_row *ar, size_t na, struct out *lb)
{
	struct app_row **sorted;
	size_t i, j;
	int *dup;

	if ((sorted = calloc(na + 1, sizeof *sorted)) == NULL ||
	    (dup = calloc(na + 1, sizeof *dup)) == NULL) {
		free(sorted);
		return -1;
	}
	for (i = 0; i < na; i++)
		sorted[i] = &ar[i];
	qsort(sorted, na, sizeof *sorted, by_name);
	for (i = 0; i + 1 < na; i++)
		if (strcmp(sorted[i]->a->name, sorted[i + 1]->a->name) == 0)
			dup[sorted[i] - ar] = dup[sorted[i + 1] - ar] = 1;
	for (j = 0; j < na; j++) {
		ar[j].label = lb->b.len;
		puts_(lb, "app=\"");
		puts_(lb, ar[j].a->name);
		put(lb, "\"", 1);
		if (dup[j]) {
			puts_(lb, ",id=\"");
			put_u(lb, (unsigned long long)ar[j].a->id);
			put(lb, "\"", 1);
		}
		ar[j].llen = lb->b.len - ar[j].label;
	}
	free(sorted);
	free(dup);
	return lb->err;
}

/*
 * The start of one sample line, NAME{LABELS[,KEY="VALUE"]} and a space:
 * the value follows.
 */
static void
line_start(struct out *o, const char *name, const struct out *lb, size_t label,
    size_t llen, const char *key, const char *value)
{
	puts_(o, name);
	put(o, "{", 1);
	put(o, lb->b.p + label, llen);
	if (key != NULL) {
		put(o, ",", 1);
		puts_(o, key);
		put(o, "=\"", 2);
		puts_(o, value);
		put(o, "\"", 1);
	}
	put(o, "} ", 2);
}

/* The exposition text (a new string) and its length. */
char *
metrics_render(size_t *lenp)
{
	static const enum inst_status states[] = { ST_LAUNCHING, ST_ONLINE,
		ST_STOPPING, ST_STOPPED, ST_WAITING, ST_ERRORED };
	static size_t last_len; /* the size of the last text, to start with */
	uint64_t hz = (uint64_t)sysconf(_SC_CLK_TCK), now = uv_now(loop);
	struct out o = { { NULL, 0, 0 }, 0 }, lb = { { NULL, 0, 0 }, 0 };
	struct app_row *ar = NULL;
	struct inst_row *ir = NULL, *r;
	struct instance *in;
	struct app *a;
	size_t na = 0, n = 0, i, j, s;
	int k, online;
	char *text = NULL;

	TAILQ_FOREACH(a, &apps, entry)
		na++;
	FOREACH_INSTANCE(a, k, in)
	n++;
	if ((ar = calloc(na + 1, sizeof *ar)) == NULL ||
	    (ir = calloc(n + 1, sizeof *ir)) == NULL)
		goto out;
	j = 0;
	TAILQ_FOREACH(a, &apps, entry)
		ar[j++].a = a;
	if (app_labels(ar, na, &lb) != 0)
		goto out;
	i = j = 0;
	TAILQ_FOREACH(a, &apps, entry) {
		for (k = 0; k < a->ninst; k++, i++) {
			r = &ir[i];
			r->in = a->inst[k];
			inst_usage(r->in, &r->cpu, &r->rss);
			r->label = lb.b.len;
			put(&lb, lb.b.p + ar[j].label, ar[j].llen);
			puts_(&lb, ",instance=\"");
			put_u(&lb, (unsigned long long)k);
			put(&lb, "\"", 1);
			r->llen = lb.b.len - r->label;
		}
		j++;
	}
	if (lb.err != 0 || buf_reserve(&o.b, last_len + 4096, 64 * 1024) != 0)
		goto out;

#define EACH(mname, type, help, value)                                         \
	do {                                                                   \
		header(&o, mname, type, help);                                 \
		for (i = 0; i < n; i++) {                                      \
			r = &ir[i];                                            \
			in = r->in;                                            \
			line_start(&o, mname, &lb, r->label, r->llen, NULL,    \
			    NULL);                                             \
			value;                                                 \
			put(&o, "\n", 1);                                      \
		}                                                              \
	} while (0)
	EACH("clusterctl_instance_up", "gauge", "1 when the instance is online",
	    put_u(&o, inst_status(in) == ST_ONLINE));
	header(&o, "clusterctl_instance_status", "gauge",
	    "1 for the instance's state (as list shows it), 0 for the others");
	for (i = 0; i < n; i++) {
		enum inst_status st = inst_status(ir[i].in);

		for (s = 0; s < sizeof states / sizeof states[0]; s++) {
			line_start(&o, "clusterctl_instance_status", &lb,
			    ir[i].label, ir[i].llen, "status",
			    fsm_status_name(states[s]));
			puts_(&o, st == states[s] ? "1\n" : "0\n");
		}
	}
	EACH("clusterctl_instance_cpu_seconds_total", "counter",
	    "CPU time (user and system) of the instance's processes, all "
	    "restarts included",
	    put_fixed(&o, (long long)(r->cpu * 100 / hz), 100));
	EACH("clusterctl_instance_memory_bytes", "gauge",
	    "resident memory of the instance's process",
	    put_u(&o, (unsigned long long)r->rss));
	EACH("clusterctl_instance_uptime_seconds", "gauge",
	    "how long the current process has run (0 without one)",
	    put_fixed(&o,
		in->running && !in->exited ?
		    (long long)(now - in->started_mono) :
		    0,
		1000));
	EACH("clusterctl_instance_ready_seconds", "gauge",
	    "how long the current process took to be online (-1: not yet)",
	    put_fixed(&o, in->ready_ms >= 0 ? (long long)in->ready_ms : -1000,
		1000));
	header(&o, "clusterctl_instance_restarts_total", "counter",
	    "restarts of the instance, by reason");
	for (r = ir; r < ir + n; r++)
		for (s = 0; s < REASON_COUNT; s++) {
			if (s == REASON_START || s == REASON_SCALE)
				continue;
			line_start(&o, "clusterctl_instance_restarts_total",
			    &lb, r->label, r->llen, "reason",
			    inst_reason_name((enum inst_reason)s));
			put_u(&o, (unsigned long long)r->in->restarts_by[s]);
			put(&o, "\n", 1);
		}
#undef EACH

#define EACH_APP(mname, type, help, value)                                     \
	do {                                                                   \
		header(&o, mname, type, help);                                 \
		for (j = 0; j < na; j++) {                                     \
			a = ar[j].a;                                           \
			line_start(&o, mname, &lb, ar[j].label, ar[j].llen,    \
			    NULL, NULL);                                       \
			value;                                                 \
			put(&o, "\n", 1);                                      \
		}                                                              \
	} while (0)
	EACH_APP("clusterctl_app_instances_desired", "gauge",
	    "the instance count asked for", put_u(&o, (unsigned)a->ninst));
	EACH_APP("clusterctl_app_instances_online", "gauge",
	    "instances online now", {
		    for (k = 0, online = 0; k < a->ninst; k++)
			    online += inst_status(a->inst[k]) == ST_ONLINE;
		    put_u(&o, (unsigned)online);
	    });
	EACH_APP("clusterctl_app_reload_duration_seconds", "gauge",
	    "how long the last reload took (-1: none yet)",
	    put_fixed(&o, a->reload_ms >= 0 ? (long long)a->reload_ms : -1000,
		1000));
	EACH_APP("clusterctl_app_readiness_seconds", "gauge",
	    "how long the last instance to become online took (-1: none yet)",
	    put_fixed(&o, a->ready_ms >= 0 ? (long long)a->ready_ms : -1000,
		1000));
#undef EACH_APP

	{
		const struct {
			const char *name, *type, *help;
			unsigned long long v;
		} daemon[] = {
			{ "clusterctl_daemon_memory_bytes", "gauge",
			    "the daemon's resident memory",
			    (unsigned long long)self_rss() },
			{ "clusterctl_daemon_open_fds", "gauge",
			    "the daemon's open file descriptors (counted at "
			    "most once a second)",
			    (unsigned long long)(daemon_fd_count(0) > 0 ?
				    daemon_fd_count(0) :
				    0) },
			{ "clusterctl_daemon_max_fds", "gauge",
			    "the daemon's descriptor limit (RLIMIT_NOFILE, "
			    "raised to the hard limit at start)",
			    self_max_fds() },
			{ "clusterctl_daemon_fds_warning", "gauge",
			    "1 while the daemon nears (90%) or ran out of its "
			    "descriptor limit (and a minute after), as "
			    "describe and daemon.log say",
			    daemon_nofile_warning() != NULL },
			{ "clusterctl_daemon_clients", "gauge",
			    "CLI connections open now",
			    (unsigned long long)server_nclients() },
			{ "clusterctl_log_written_bytes_total", "counter",
			    "bytes written to log files",
			    logs_stats.bytes_written },
			{ "clusterctl_log_written_lines_total", "counter",
			    "lines captured from apps and written",
			    logs_stats.lines_written },
			{ "clusterctl_log_dropped_bytes_total", "counter",
			    "bytes of log lines lost (a write error, no memory)",
			    logs_stats.bytes_dropped },
			{ "clusterctl_log_dropped_lines_total", "counter",
			    "log lines lost", logs_stats.lines_dropped },
		};

		for (s = 0; s < sizeof daemon / sizeof daemon[0]; s++) {
			header(&o, daemon[s].name, daemon[s].type,
			    daemon[s].help);
			puts_(&o, daemon[s].name);
			put(&o, " ", 1);
			put_u(&o, daemon[s].v);
			put(&o, "\n", 1);
		}
	}
	put(&o, "", 1); /* a string */
	if (o.err != 0)
		goto out;
	/* A scrape showed the counters: the state file keeps them, so that
	 * a daemon that dies never shows less. */
	state_counters_shown();
	last_len = o.b.len;
	*lenp = o.b.len - 1;
	text = o.b.p;
	o.b.p = NULL;
out:
	buf_release(&o.b);
	buf_release(&lb.b);
	free(ar);
	free(ir);
	return text;
}

/*
 * metrics {"listen": ADDR or "off", "health": ADDR or "off" (both
 * optional), "text": bool}: set the endpoints, then reply {"listen": ADDR
 * or null, "health": ADDR or null, "text": the exposition}.
 */
void
metrics_handle(struct req *r)
{
	const char *l = NULL, *h = NULL;
	char err[256], *text;
	json_t *o;
	size_t len;
	int with_text = 1;

	if (req_args(r, "{s?s, s?s, s?b}", "listen", &l, "health", &h, "text",
		&with_text) != 0)
		return;
	if ((l != NULL && http_serve(HTTP_METRICS, l, err, sizeof err) != 0) ||
	    (h != NULL && http_serve(HTTP_HEALTH, h, err, sizeof err) != 0)) {
		req_error(r, IPC_E_EXEC, "%s", err);
		return;
	}
	o = json_pack("{s:o, s:o}", "listen",
	    http_address(HTTP_METRICS) != NULL ?
		json_string(http_address(HTTP_METRICS)) :
		json_null(),
	    "health",
	    http_address(HTTP_HEALTH) != NULL ?
		json_string(http_address(HTTP_HEALTH)) :
		json_null());
	if (with_text) {
		if ((text = metrics_render(&len)) == NULL) {
			json_decref(o);
			req_error(r, IPC_E_INTERNAL, "out of memory");
			return;
		}
		json_object_set_new(o, "text", json_stringn(text, len));
		free(text);
	}
	req_reply(r, o);
}
