/*
 * The daemon's HTTP endpoints: libmicrohttpd on the daemon's own loop,
 * serving what each role asks for: /metrics (metrics.c renders it) and
 * /readyz and /livez (health.c).  Each role has an address; two roles on
 * the same address share one endpoint, two addresses make two endpoints
 * of the same library.
 *
 * libmicrohttpd runs without threads of its own (external polling) with
 * its epoll descriptor: the loop polls that one descriptor (uv_poll) and
 * MHD_run() does what is ready; a timer follows MHD_get_timeout() for idle
 * connections.  Every answer is rendered from the daemon's memory (and a
 * read of /proc/PID/stat per instance for metrics), so it never waits.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Connections an endpoint serves at once, and their idle timeout (s). */
#define HTTP_MAX_CONN 32
#define HTTP_CONN_TIMEOUT 10

#define METRICS_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* What each role serves, for the log. */
static const char *const role_paths[HTTP_NROLES] = {
	[HTTP_METRICS] = "/metrics",
	[HTTP_HEALTH] = "/readyz and /livez",
};

static const char *const role_names[HTTP_NROLES] = {
	[HTTP_METRICS] = "metrics",
	[HTTP_HEALTH] = "health",
};

/* One running HTTP endpoint; freed once its handles are closed. */
struct endpoint {
	struct MHD_Daemon *mhd;
	uv_poll_t poll;
	uv_timer_t timer;
	int nhandles;
	unsigned roles; /* 1 << HTTP_*: what it serves */
	char addr[128];
};

static struct endpoint *serving[HTTP_NROLES];

/* A response of len bytes of body (taken: freed by libmicrohttpd). */
static enum MHD_Result
respond(struct MHD_Connection *c, unsigned int code, const char *type,
    char *body, size_t len)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;

	if (body == NULL)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(len, body,
	    MHD_RESPMEM_MUST_FREE);
	if (resp == NULL) {
		free(body);
		return MHD_NO;
	}
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (code == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW,
		    "GET, HEAD");
	/* probes and scrapers must never see a cached answer */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL,
	    "no-store");
	ret = MHD_queue_response(c, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

/* A short text/plain body. */
static enum MHD_Result
respond_text(struct MHD_Connection *c, unsigned int code, const char *text)
{
	char *body = strdup(text);

	return respond(c, code, "text/plain; charset=utf-8", body,
	    body != NULL ? strlen(body) : 0);
}

/* Route a request by its path to what the endpoint serves. */
static enum MHD_Result
answer(void *cls, struct MHD_Connection *c, const char *url, const char *method,
    const char *version, const char *upload, size_t *upload_size, void **state)
{
	const struct endpoint *ep = cls;
	unsigned m = ep->roles & (1u << HTTP_METRICS),
		 h = ep->roles & (1u << HTTP_HEALTH);
	char *body;
	size_t len;
	int ready;

	(void)version;
	(void)upload;
	(void)state;
	if (*upload_size != 0) {
		*upload_size = 0; /* a body: ignored */
		return MHD_YES;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
		return respond_text(c, MHD_HTTP_METHOD_NOT_ALLOWED,
		    "only GET\n");
	if (m && (strcmp(url, "/metrics") == 0 || strcmp(url, "/") == 0)) {
		body = metrics_render(&len);
		return respond(c, MHD_HTTP_OK, METRICS_TYPE, body, len);
	}
	if (h && strcmp(url, "/readyz") == 0) {
		body = health_readyz(&ready, &len);
		return respond(c,
		    ready ? MHD_HTTP_OK : MHD_HTTP_SERVICE_UNAVAILABLE,
		    "text/plain; charset=utf-8", body, len);
	}
	if (h && (strcmp(url, "/livez") == 0 || strcmp(url, "/") == 0)) {
		body = health_livez(&len);
		return respond(c, MHD_HTTP_OK, "text/plain; charset=utf-8",
		    body, len);
	}
	return respond_text(c, MHD_HTTP_NOT_FOUND,
	    m && h ? "not found: try /metrics, /readyz or /livez\n" :
		m  ? "not found: try /metrics\n" :
		     "not found: try /readyz or /livez\n");
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
	log_info("HTTP endpoint %s closed", ep->addr);
	uv_poll_stop(&ep->poll);
	uv_timer_stop(&ep->timer);
	MHD_stop_daemon(ep->mhd);
	uv_close((uv_handle_t *)&ep->poll, endpoint_closed);
	uv_close((uv_handle_t *)&ep->timer, endpoint_closed);
}

/* role no longer served where it was: its endpoint stops if alone. */
static void
role_detach(enum http_role role)
{
	struct endpoint *ep = serving[role];

	if (ep == NULL)
		return;
	serving[role] = NULL;
	ep->roles &= ~(1u << role);
	if (ep->roles == 0)
		endpoint_stop(ep);
}

/*
 * Parse HOST:PORT, [V6]:PORT or PORT (127.0.0.1) into a bound, listening
 * socket for what (a role's name, for messages): the descriptor (and the
 * address in canonical form in canon), -2 when the port is in use, or -1; err
 * says why.
 */
static int
bind_addr(const char *what, const char *addr, char *canon, size_t canonlen,
    char *err, size_t errlen)
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
		snprintf(err, errlen, "cannot serve %s on '%s': %s", what, addr,
		    strerror(errno));
		return -1;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 64) != 0) {
		int e = errno;

		snprintf(err, errlen, "cannot serve %s on '%s': %s", what, addr,
		    strerror(e));
		close(fd);
		return e == EADDRINUSE ? -2 : -1;
	}
	return fd;
bad:
	snprintf(err, errlen,
	    "invalid %s address '%s' (say PORT, HOST:PORT or [V6]:PORT)", what,
	    addr);
	return -1;
}

/* A new endpoint on the listening socket fd: it, or NULL with err. */
static struct endpoint *
endpoint_start(int fd, const char *canon, char *err, size_t errlen)
{
	const union MHD_DaemonInfo *info;
	struct endpoint *ep;

	if (mhd_load(err, errlen) != 0) {
		close(fd);
		return NULL;
	}
	if ((ep = calloc(1, sizeof *ep)) == NULL) {
		close(fd);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	snprintf(ep->addr, sizeof ep->addr, "%s", canon);
	ep->mhd = MHD_start_daemon(MHD_USE_EPOLL, 0, NULL, NULL, answer, ep,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned int)HTTP_MAX_CONN, MHD_OPTION_CONNECTION_TIMEOUT,
	    (unsigned int)HTTP_CONN_TIMEOUT, MHD_OPTION_END);
	if (ep->mhd == NULL ||
	    (info = MHD_get_daemon_info(ep->mhd, MHD_DAEMON_INFO_EPOLL_FD)) ==
		NULL) {
		if (ep->mhd != NULL)
			MHD_stop_daemon(ep->mhd);
		else
			close(fd);
		free(ep);
		snprintf(err, errlen,
		    "cannot serve HTTP on '%s': libmicrohttpd did not start",
		    canon);
		return NULL;
	}
	uv_poll_init(loop, &ep->poll, info->epoll_fd);
	uv_timer_init(loop, &ep->timer);
	ep->poll.data = ep->timer.data = ep;
	ep->nhandles = 2;
	uv_poll_start(&ep->poll, UV_READABLE, poll_cb);
	return ep;
}

/*
 * Serve role on addr, moving it from where it was ("off", "" or NULL
 * stops it); the other role's endpoint is shared when it has the same
 * address.  0, or -1 with err saying why (what served stays).
 */
int
http_serve(enum http_role role, const char *addr, char *err, size_t errlen)
{
	struct endpoint *ep, *old = serving[role];
	char canon[128];
	int fd, r;

	if (addr == NULL || *addr == '\0' || strcmp(addr, "off") == 0) {
		if (old != NULL)
			daemon_changed(); /* the state file keeps the address */
		role_detach(role);
		return 0;
	}
	if (old != NULL && strcmp(old->addr, addr) == 0)
		return 0;
	/* Bound first: a bad address or a busy port leaves the old endpoint
	 * serving, unless an endpoint of ours holds the port. */
	fd = bind_addr(role_names[role], addr, canon, sizeof canon, err,
	    errlen);
	if (fd == -1)
		return -1;
	if (old != NULL && strcmp(old->addr, canon) == 0) {
		if (fd >= 0)
			close(fd);
		return 0;
	}
	for (r = 0; r < HTTP_NROLES; r++)
		if (serving[r] != NULL &&
		    strcmp(serving[r]->addr, canon) == 0) {
			/* the other role's: one endpoint serves both */
			if (fd >= 0)
				close(fd);
			ep = serving[r];
			role_detach(role);
			ep->roles |= 1u << role;
			serving[role] = ep;
			log_info("%s on http://%s%s too", role_names[role],
			    canon, role_paths[role]);
			daemon_changed();
			return 0;
		}
	if (fd == -2) {
		/* busy: ours alone may give it up, then it is tried again */
		if (old == NULL || old->roles != (1u << role))
			return -1;
		role_detach(role);
		if ((fd = bind_addr(role_names[role], addr, canon, sizeof canon,
			 err, errlen)) < 0)
			return -1;
	}
	if ((ep = endpoint_start(fd, canon, err, errlen)) == NULL)
		return -1;
	role_detach(role);
	ep->roles = 1u << role;
	serving[role] = ep;
	log_info("%s on http://%s%s", role_names[role], canon,
	    role_paths[role]);
	daemon_changed(); /* the state file keeps the metrics address */
	return 0;
}

/* The address role is served on, or NULL. */
const char *
http_address(enum http_role role)
{
	return serving[role] != NULL ? serving[role]->addr : NULL;
}

/*
 * The daemon-wide settings a start request may carry (start --metrics,
 * --health; run's too), taken out of spec and applied: 0, or -1 with err.
 */
int
http_from_spec(json_t *spec, char *err, size_t errlen)
{
	static const char *const keys[HTTP_NROLES] = {
		[HTTP_METRICS] = "metrics",
		[HTTP_HEALTH] = "health",
	};
	json_t *v;
	int role;

	for (role = 0; role < HTTP_NROLES; role++) {
		if ((v = json_object_get(spec, keys[role])) == NULL)
			continue;
		if (!json_is_string(v)) {
			snprintf(err, errlen, "'%s' is not a string",
			    keys[role]);
			return -1;
		}
		if (http_serve((enum http_role)role, json_string_value(v), err,
			errlen) != 0)
			return -1;
		json_object_del(spec, keys[role]);
	}
	return 0;
}
