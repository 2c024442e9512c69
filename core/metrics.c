/*
 * Prometheus metrics: the text exposition format (version 0.0.4) of every
 * instance, app and the daemon itself, served over HTTP by libmicrohttpd
 * on the daemon's own loop, and returned by the "metrics" request.
 *
 * libmicrohttpd runs without threads of its own (external polling) with
 * its epoll descriptor: the loop polls that one descriptor (uv_poll) and
 * MHD_run() does what is ready; a timer follows MHD_get_timeout() for idle
 * connections.  A scrape renders from memory and one read of
 * /proc/PID/stat per instance, so it never waits for anything.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#include "../ipc/util.h"
#include "core.h"

/*
 * libmicrohttpd is loaded when an endpoint first starts, not linked: it
 * pulls in gnutls and a dozen more libraries, which every exec of the
 * binary (each CLI command, each instance's __exec shim) would load.
 */
static struct {
	void *so;
	__typeof__(MHD_start_daemon) *start_daemon;
	__typeof__(MHD_stop_daemon) *stop_daemon;
	__typeof__(MHD_run) *run;
	__typeof__(MHD_get_timeout) *get_timeout;
	__typeof__(MHD_get_daemon_info) *get_daemon_info;
	__typeof__(MHD_create_response_from_buffer) *create_response;
	__typeof__(MHD_add_response_header) *add_header;
	__typeof__(MHD_queue_response) *queue_response;
	__typeof__(MHD_destroy_response) *destroy_response;
} mhd;

#define MHD_start_daemon mhd.start_daemon
#define MHD_stop_daemon mhd.stop_daemon
#define MHD_run mhd.run
#define MHD_get_timeout mhd.get_timeout
#define MHD_get_daemon_info mhd.get_daemon_info
#define MHD_create_response_from_buffer mhd.create_response
#define MHD_add_response_header mhd.add_header
#define MHD_queue_response mhd.queue_response
#define MHD_destroy_response mhd.destroy_response

/* Load libmicrohttpd once: 0, or -1 with err saying why. */
static int
mhd_load(char *err, size_t errlen)
{
	static const struct util_sym syms[] = {
		{ "MHD_start_daemon", (void **)&mhd.start_daemon },
		{ "MHD_stop_daemon", (void **)&mhd.stop_daemon },
		{ "MHD_run", (void **)&mhd.run },
		{ "MHD_get_timeout", (void **)&mhd.get_timeout },
		{ "MHD_get_daemon_info", (void **)&mhd.get_daemon_info },
		{ "MHD_create_response_from_buffer",
		    (void **)&mhd.create_response },
		{ "MHD_add_response_header", (void **)&mhd.add_header },
		{ "MHD_queue_response", (void **)&mhd.queue_response },
		{ "MHD_destroy_response", (void **)&mhd.destroy_response },
	};

	if (mhd.so == NULL)
		mhd.so = util_dlopen("libmicrohttpd.so.12", "libmicrohttpd12",
		    syms, sizeof syms / sizeof syms[0], err, errlen);
	return mhd.so != NULL ? 0 : -1;
}

/* Connections the endpoint serves at once, and their idle timeout (s). */
#define METRICS_MAX_CONN 32
#define METRICS_CONN_TIMEOUT 10

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* One running HTTP endpoint; freed once its handles are closed. */
struct endpoint {
	struct MHD_Daemon *mhd;
	uv_poll_t poll;
	uv_timer_t timer;
	int nhandles;
	char addr[128];
};

static struct endpoint *current;

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

/* --- the HTTP endpoint ---------------------------------------------------- */

static enum MHD_Result
answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **state)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	unsigned int code = MHD_HTTP_OK;
	const char *type = CONTENT_TYPE;
	static const char notfound[] = "not found: try /metrics\n";
	static const char badmethod[] = "only GET\n";
	char *body;
	size_t len;

	(void)cls;
	(void)version;
	(void)upload;
	(void)state;
	if (*upload_size != 0) {
		*upload_size = 0; /* a body: ignored */
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		code = MHD_HTTP_METHOD_NOT_ALLOWED;
		resp = MHD_create_response_from_buffer(sizeof badmethod - 1,
		    (void *)badmethod, MHD_RESPMEM_PERSISTENT);
		type = "text/plain";
	} else if (strcmp(url, "/metrics") != 0 && strcmp(url, "/") != 0) {
		code = MHD_HTTP_NOT_FOUND;
		resp = MHD_create_response_from_buffer(sizeof notfound - 1,
		    (void *)notfound, MHD_RESPMEM_PERSISTENT);
		type = "text/plain";
	} else {
		if ((body = metrics_render(&len)) == NULL)
			return MHD_NO;
		resp = MHD_create_response_from_buffer(len, body,
		    MHD_RESPMEM_MUST_FREE);
		if (resp == NULL)
			free(body);
	}
	if (resp == NULL)
		return MHD_NO;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    "GET, HEAD");
	ret = MHD_queue_response(c, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void endpoint_run(struct endpoint *);

static void
poll_cb(uv_poll_t *p, int status, int events)
{
	(void)status;
	(void)events;
	endpoint_run(p->data);
}

static void
timer_cb(uv_timer_t *t)
{
	endpoint_run(t->data);
}

/* Let libmicrohttpd do what is ready, then wait for its next timeout. */
static void
endpoint_run(struct endpoint *ep)
{
	MHD_UNSIGNED_LONG_LONG ms;

	MHD_run(ep->mhd);
	if (MHD_get_timeout(ep->mhd, &ms) == MHD_YES)
		uv_timer_start(&ep->timer, timer_cb, ms, 0);
	else
		uv_timer_stop(&ep->timer);
}

static void
endpoint_closed(uv_handle_t *h)
{
	struct endpoint *ep = h->data;

	if (--ep->nhandles == 0)
		free(ep);
}

static void
endpoint_stop(struct endpoint *ep)
{
	uv_poll_stop(&ep->poll);
	uv_timer_stop(&ep->timer);
	MHD_stop_daemon(ep->mhd);
	uv_close((uv_handle_t *)&ep->poll, endpoint_closed);
	uv_close((uv_handle_t *)&ep->timer, endpoint_closed);
}

/*
 * Parse HOST:PORT, [V6]:PORT or PORT (127.0.0.1) into a bound, listening
 * socket: the descriptor (and the address in canonical form in canon),
 * -2 when the port is in use, or -1; err says why.
 */
static int
bind_addr(const char *addr, char *canon, size_t canonlen, char *err,
    size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	char host[64];
	const char *colon, *port;
	socklen_t sl;
	char *end;
	long p;
	int fd, one = 1;

	memset(&ss, 0, sizeof ss);
	colon = strrchr(addr, ':');
	port = colon != NULL ? colon + 1 : addr;
	if (colon == NULL)
		strcpy(host, "127.0.0.1");
	else if ((size_t)(colon - addr) >= sizeof host)
		goto bad;
	else {
		memcpy(host, addr, (size_t)(colon - addr));
		host[colon - addr] = '\0';
	}
	p = strtol(port, &end, 10);
	if (*port == '\0' || *end != '\0' || p < 0 || p > 65535)
		goto bad;
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host));
		host[strlen(host) - 1] = '\0';
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)p);
		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			goto bad;
		sl = sizeof *s6;
		snprintf(canon, canonlen, "[%s]:%ld", host, p);
	} else {
		if (host[0] == '\0' || strcmp(host, "*") == 0)
			strcpy(host, "0.0.0.0");
		else if (strcmp(host, "localhost") == 0)
			strcpy(host, "127.0.0.1");
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)p);
		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto bad;
		sl = sizeof *s4;
		snprintf(canon, canonlen, "%s:%ld", host, p);
	}
	fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0);
	if (fd == -1) {
		snprintf(err, errlen, "cannot serve metrics on '%s': %s", addr,
		    strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 64) != 0) {
		int e = errno;

		snprintf(err, errlen, "cannot serve metrics on '%s': %s", addr,
		    strerror(e));
		close(fd);
		return e == EADDRINUSE ? -2 : -1;
	}
	return fd;
bad:
	snprintf(err, errlen,
	    "invalid metrics address '%s' (say PORT, "
	    "HOST:PORT or [V6]:PORT)",
	    addr);
	return -1;
}

/*
 * Serve /metrics on addr, replacing any endpoint there was ("off" or ""
 * stops it): 0, or -1 with err saying why (the old endpoint then stays).
 */
int
metrics_listen(const char *addr, char *err, size_t errlen)
{
	const union MHD_DaemonInfo *info;
	struct endpoint *ep;
	char canon[128];
	int fd;

	if (addr == NULL || *addr == '\0' || strcmp(addr, "off") == 0) {
		if (current != NULL) {
			log_info("metrics endpoint %s closed", current->addr);
			endpoint_stop(current);
			current = NULL;
			daemon_changed();
		}
		return 0;
	}
	if (current != NULL && strcmp(current->addr, addr) == 0)
		return 0;
	/* Bound first: a bad address or a busy port leaves the old endpoint
	 * serving, unless it is the old one that holds the port. */
	fd = bind_addr(addr, canon, sizeof canon, err, errlen);
	if (fd == -1 || (fd == -2 && current == NULL))
		return -1;
	if (current != NULL && fd == -2 && strcmp(current->addr, canon) == 0)
		return 0;
	if (current != NULL) {
		log_info("metrics endpoint %s closed", current->addr);
		endpoint_stop(current);
		current = NULL;
		if (fd == -2 &&
		    (fd = bind_addr(addr, canon, sizeof canon, err, errlen)) <
			0)
			return -1;
	}
	if (mhd_load(err, errlen) != 0) {
		close(fd);
		return -1;
	}
	if ((ep = calloc(1, sizeof *ep)) == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	snprintf(ep->addr, sizeof ep->addr, "%s", canon);
	ep->mhd = MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL, answer, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned int)METRICS_MAX_CONN, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)METRICS_CONN_TIMEOUT, MHD_OPTION_END);
	if (ep->mhd == NULL ||
	    (info = MHD_get_daemon_info(ep->mhd, MHD_DAEMON_INFO_EPOLL_FD)) ==
		NULL) {
		if (ep->mhd != NULL)
			MHD_stop_daemon(ep->mhd);
		else
			close(fd);
		free(ep);
		snprintf(err, errlen,
		    "cannot serve metrics on '%s': "
		    "libmicrohttpd did not start",
		    canon);
		return -1;
	}
	uv_poll_init(loop, &ep->poll, info->epoll_fd);
	uv_timer_init(loop, &ep->timer);
	ep->poll.data = ep->timer.data = ep;
	ep->nhandles = 2;
	uv_poll_start(&ep->poll, UV_READABLE, poll_cb);
	current = ep;
	log_info("metrics on http://%s/metrics", canon);
	daemon_changed(); /* the state file keeps the address */
	return 0;
}

/* The address metrics are served on, or NULL. */
const char *
metrics_address(void)
{
	return current != NULL ? current->addr : NULL;
}

/*
 * metrics {"listen": ADDR or "off" (optional), "text": bool}: set the
 * endpoint, then reply {"listen": ADDR or null, "text": the exposition}.
 */
void
metrics_handle(struct req *r)
{
	json_t *l = json_object_get(r->args, "listen"), *o;
	char err[256], *text;
	size_t len;

	if (l != NULL && !json_is_string(l)) {
		req_error(r, IPC_E_BAD_REQUEST, "'listen' is not a string");
		return;
	}
	if (l != NULL &&
	    metrics_listen(json_string_value(l), err, sizeof err) != 0) {
		req_error(r, IPC_E_EXEC, "%s", err);
		return;
	}
	o = json_pack("{s:o}", "listen",
	    metrics_address() != NULL ? json_string(metrics_address()) :
					json_null());
	if (util_json_bool(r->args, "text", 1)) {
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
