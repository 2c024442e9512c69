/*
 * Prometheus metrics: the text exposition format (version 0.0.4) of every
 * instance, app and the daemon itself, served on /metrics by the HTTP
 * endpoint (http.c), and returned by the "metrics" request.  A scrape
 * renders from memory and one read of /proc/PID/stat per instance, so it
 * never waits for anything.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "core.h"

/* --- rendering ------------------------------------------------------------ */

static void
header(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
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

/*
 * The value of an app's "app" label: its name, and for apps that share a
 * name (start --force) its id as a label of its own as well, so no two
 * series are the same (a static buffer, used once per line).
 */
static const char *
app_label(const struct app *a)
{
	static char buf[128];

	if (app_count_name(a->name) < 2)
		return a->name;
	snprintf(buf, sizeof buf, "%s\",id=\"%d", a->name, a->id);
	return buf;
}

struct sample {
	uint64_t cpu;
	int64_t rss;
};

/* The exposition text (a new string) and its length. */
char *
metrics_render(size_t *lenp)
{
	static const enum inst_status states[] = { ST_LAUNCHING, ST_ONLINE,
		ST_STOPPING, ST_STOPPED, ST_WAITING, ST_ERRORED };
	double hz = (double)sysconf(_SC_CLK_TCK);
	uint64_t now = uv_now(loop);
	struct sample *smp;
	struct instance *in;
	struct app *a;
	char *buf = NULL;
	size_t len = 0, n = 0, i, s;
	int k, online;
	FILE *f;

	FOREACH_INSTANCE(a, k, in)
	n++;
	if ((smp = calloc(n + 1, sizeof *smp)) == NULL)
		return NULL;
	i = 0;
	FOREACH_INSTANCE(a, k, in)
	{
		inst_usage(in, &smp[i].cpu, &smp[i].rss);
		i++;
	}
	if ((f = open_memstream(&buf, &len)) == NULL) {
		free(smp);
		return NULL;
	}
#define EACH(mname, type, help, fmt, ...)                                      \
	do {                                                                   \
		header(f, mname, type, help);                                  \
		i = 0;                                                         \
		FOREACH_INSTANCE(a, k, in)                                     \
		{                                                              \
			fprintf(f,                                             \
			    mname "{app=\"%s\",instance=\"%d\"} " fmt "\n",    \
			    app_label(a), k, __VA_ARGS__);                     \
			i++;                                                   \
		}                                                              \
	} while (0)
	EACH("clusterctl_instance_up", "gauge", "1 when the instance is online",
	    "%d", inst_status(in) == ST_ONLINE);
	header(f, "clusterctl_instance_status", "gauge",
	    "1 for the instance's state (as list shows it), 0 for the others");
	FOREACH_INSTANCE(a, k, in)
	for (s = 0; s < sizeof states / sizeof states[0]; s++)
		fprintf(f,
		    "clusterctl_instance_status{app=\"%s\","
		    "instance=\"%d\",status=\"%s\"} %d\n",
		    app_label(a), k, fsm_status_name(states[s]),
		    inst_status(in) == states[s]);
	EACH("clusterctl_instance_cpu_seconds_total", "counter",
	    "CPU time (user and system) of the instance's processes, all "
	    "restarts included",
	    "%.2f", (double)smp[i].cpu / hz);
	EACH("clusterctl_instance_memory_bytes", "gauge",
	    "resident memory of the instance's process", "%lld",
	    (long long)smp[i].rss);
	EACH("clusterctl_instance_uptime_seconds", "gauge",
	    "how long the current process has run (0 without one)", "%.3f",
	    in->running && !in->exited ?
		(double)(now - in->started_mono) / 1000.0 :
		0.0);
	EACH("clusterctl_instance_ready_seconds", "gauge",
	    "how long the current process took to be online (-1: not yet)",
	    "%.3f", in->ready_ms >= 0 ? (double)in->ready_ms / 1000.0 : -1.0);
	header(f, "clusterctl_instance_restarts_total", "counter",
	    "restarts of the instance, by reason");
	FOREACH_INSTANCE(a, k, in)
	for (s = 0; s < REASON_COUNT; s++)
		if (s != REASON_START && s != REASON_SCALE)
			fprintf(f,
			    "clusterctl_instance_restarts_total{"
			    "app=\"%s\",instance=\"%d\",reason=\"%s\"} "
			    "%llu\n",
			    app_label(a), k,
			    inst_reason_name((enum inst_reason)s),
			    (unsigned long long)in->restarts_by[s]);
#undef EACH

#define EACH_APP(mname, type, help, fmt, ...)                                  \
	do {                                                                   \
		header(f, mname, type, help);                                  \
		TAILQ_FOREACH(a, &apps, entry)                                 \
			fprintf(f, mname "{app=\"%s\"} " fmt "\n",             \
			    app_label(a), __VA_ARGS__);                        \
	} while (0)
	EACH_APP("clusterctl_app_instances_desired", "gauge",
	    "the instance count asked for", "%d", a->ninst);
	header(f, "clusterctl_app_instances_online", "gauge",
	    "instances online now");
	TAILQ_FOREACH(a, &apps, entry) {
		for (k = 0, online = 0; k < a->ninst; k++)
			online += inst_status(a->inst[k]) == ST_ONLINE;
		fprintf(f, "clusterctl_app_instances_online{app=\"%s\"} %d\n",
		    app_label(a), online);
	}
	EACH_APP("clusterctl_app_reload_duration_seconds", "gauge",
	    "how long the last reload took (-1: none yet)", "%.3f",
	    a->reload_ms >= 0 ? (double)a->reload_ms / 1000.0 : -1.0);
	EACH_APP("clusterctl_app_readiness_seconds", "gauge",
	    "how long the last instance to become online took (-1: none yet)",
	    "%.3f", a->ready_ms >= 0 ? (double)a->ready_ms / 1000.0 : -1.0);
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
			header(f, daemon[s].name, daemon[s].type,
			    daemon[s].help);
			fprintf(f, "%s %llu\n", daemon[s].name, daemon[s].v);
		}
	}
	free(smp);
	state_counters_shown();
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	*lenp = len;
	return buf;
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
