/*
 * Listening sockets the daemon holds for an app (cluster mode): the
 * --listen ones, bound before any instance starts and passed as fds 3..,
 * and the shared ones, created when an instance's bind() asks for them
 * (through the preload library, core/preload/share-preload.c) and then
 * handed to every instance that binds the same address.  The daemon's copy
 * keeps a port open while instances crash, restart, reload or scale.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "core.h"

/* The kernel caps this at net.core.somaxconn. */
#define SHARE_BACKLOG 4096

static int lsock_bind(struct lsock *);

/* Whether a Unix socket file at path has nobody listening. */
static int
unix_stale(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, stale;

	if (lstat(path, &st) != 0 || !S_ISSOCK(st.st_mode))
		return 0;
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return 0;
	memset(&sa, 0, sizeof sa);
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof sa.sun_path, "%s", path);
	stale = connect(fd, (struct sockaddr *)&sa, sizeof sa) == -1 &&
	    errno == ECONNREFUSED;
	close(fd);
	return stale;
}

/* What the keeper calls ls (core/keeper.c). */
static void
lsock_key(const struct lsock *ls, char *buf, size_t len)
{
	snprintf(buf, len, "sock %d %s %d %d", ls->family, ls->addr, ls->port,
	    ls->v6only);
}

/*
 * Bind and listen on what ls describes: 0, or a positive errno.  A socket
 * the keeper held across a daemon's death is taken back instead, and a
 * new one is given to the keeper to hold.
 */
static int
lsock_open(struct lsock *ls)
{
	char key[200];
	int r;

	lsock_key(ls, key, sizeof key);
	if ((ls->fd = keeper_take(key)) >= 0)
		return 0;
	if ((r = lsock_bind(ls)) == 0)
		keeper_hold(key, ls->fd);
	return r;
}

/* Bind and listen on what ls describes: 0, or a positive errno. */
static int
lsock_bind(struct lsock *ls)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_un *su = (struct sockaddr_un *)&ss;
	socklen_t len;
	int fd, one = 1, e;

	memset(&ss, 0, sizeof ss);
	switch (ls->family) {
	case AF_INET:
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)ls->port);
		if (inet_pton(AF_INET, ls->addr, &s4->sin_addr) != 1)
			return EINVAL;
		len = sizeof *s4;
		break;
	case AF_INET6:
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)ls->port);
		if (inet_pton(AF_INET6, ls->addr, &s6->sin6_addr) != 1)
			return EINVAL;
		len = sizeof *s6;
		break;
	case AF_UNIX:
		su->sun_family = AF_UNIX;
		if (strlen(ls->addr) >= sizeof su->sun_path)
			return ENAMETOOLONG;
		memcpy(su->sun_path, ls->addr, strlen(ls->addr) + 1);
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    strlen(ls->addr) + 1);
		if (unix_stale(ls->addr))
			(void)unlink(ls->addr);
		break;
	default:
		return EAFNOSUPPORT;
	}
	if ((fd = socket(ls->family, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return errno;
	if (ls->family != AF_UNIX)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof one);
	if (ls->family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &ls->v6only,
		    sizeof ls->v6only);
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, SHARE_BACKLOG) == -1) {
		e = errno;
		close(fd);
		return e;
	}
	ls->fd = fd;
	return 0;
}

static void
lsock_free(struct lsock *ls)
{
	char key[200];

	if (ls->fd != -1) {
		lsock_key(ls, key, sizeof key);
		keeper_drop(key);
		close(ls->fd);
		if (ls->family == AF_UNIX)
			(void)unlink(ls->addr);
	}
	free(ls);
}

/* Append ls to a's sockets: --listen ones stay first, in order. */
static void
lsock_append(struct app *a, struct lsock *ls)
{
	struct lsock **pp;

	for (pp = &a->socks; *pp != NULL; pp = &(*pp)->next)
		;
	*pp = ls;
}

/* A socket address for humans: 127.0.0.1:80, [::]:80, unix:/x. */
static void
lsock_label(const struct lsock *ls, char *buf, size_t len)
{
	if (ls->family == AF_UNIX)
		snprintf(buf, len, "unix:%s", ls->addr);
	else if (ls->family == AF_INET6)
		snprintf(buf, len, "[%s]:%d", ls->addr, ls->port);
	else
		snprintf(buf, len, "%s:%d", ls->addr, ls->port);
}

static int
parse_port(const char *s)
{
	char *end;
	long p;

	if (!isdigit((unsigned char)*s))
		return -1;
	errno = 0;
	p = strtol(s, &end, 10);
	if (*end != '\0' || errno != 0 || p < 1 || p > 65535)
		return -1;
	return (int)p;
}

/*
 * Parse one --listen value, [name=]PORT|HOST:PORT|[V6]:PORT|unix:PATH,
 * into ls: 0, or -1 with err saying why.
 */
static int
parse_one(const char *spec, const char *cwd, struct lsock *ls, char *err,
    size_t errlen)
{
	const char *v = spec, *eq, *colon, *p;
	char host[64];
	unsigned char tmp[16];
	size_t n;

	eq = strchr(spec, '=');
	if (eq != NULL && strcspn(spec, ":/[") > (size_t)(eq - spec)) {
		n = (size_t)(eq - spec);
		if (n == 0 || n >= sizeof ls->name)
			goto bad;
		for (p = spec; p < eq; p++)
			if (!isalnum((unsigned char)*p) &&
			    strchr("._-", *p) == NULL)
				goto bad;
		memcpy(ls->name, spec, n);
		ls->name[n] = '\0';
		v = eq + 1;
	} else
		snprintf(ls->name, sizeof ls->name, "unknown");
	if (strncmp(v, "unix:", 5) == 0) {
		v += 5;
		if (*v == '\0')
			goto bad;
		ls->family = AF_UNIX;
		if (*v == '/')
			n = (size_t)snprintf(ls->addr, sizeof ls->addr, "%s",
			    v);
		else
			n = (size_t)snprintf(ls->addr, sizeof ls->addr, "%s/%s",
			    cwd, v);
		if (n >= sizeof ls->addr) {
			snprintf(err, errlen,
			    "invalid --listen '%s': the path "
			    "is too long",
			    spec);
			return -1;
		}
		return 0;
	}
	if ((ls->port = parse_port(v)) > 0) {
		/* A bare port: every address, IPv6 and IPv4 alike. */
		ls->family = AF_INET6;
		snprintf(ls->addr, sizeof ls->addr, "::");
		ls->v6only = 0;
		return 0;
	}
	if (*v == '[') {
		if ((p = strchr(v, ']')) == NULL || p[1] != ':' ||
		    (size_t)(p - v - 1) >= sizeof host)
			goto bad;
		memcpy(host, v + 1, (size_t)(p - v - 1));
		host[p - v - 1] = '\0';
		if (inet_pton(AF_INET6, host, tmp) != 1 ||
		    (ls->port = parse_port(p + 2)) < 0)
			goto bad;
		ls->family = AF_INET6;
		ls->v6only = 1;
		inet_ntop(AF_INET6, tmp, ls->addr, sizeof ls->addr);
		return 0;
	}
	if ((colon = strrchr(v, ':')) == NULL ||
	    (size_t)(colon - v) >= sizeof host)
		goto bad;
	memcpy(host, v, (size_t)(colon - v));
	host[colon - v] = '\0';
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof host, "127.0.0.1");
	else if (strcmp(host, "*") == 0 || host[0] == '\0')
		snprintf(host, sizeof host, "0.0.0.0");
	if (inet_pton(AF_INET, host, tmp) != 1 ||
	    (ls->port = parse_port(colon + 1)) < 0)
		goto bad;
	ls->family = AF_INET;
	inet_ntop(AF_INET, tmp, ls->addr, sizeof ls->addr);
	return 0;
bad:
	snprintf(err, errlen,
	    "invalid --listen '%s' (say 8000, 127.0.0.1:8000, "
	    "[::1]:8000, unix:/path, with an optional name= before)",
	    spec);
	return -1;
}

/*
 * Bind the app's --listen sockets (spec "listen", an array of strings)
 * before anything starts: 0, or with err (and none left open) -1 for a
 * malformed value, -2 when one cannot be bound.
 */
int
share_parse_listen(struct app *a, const json_t *spec, char *err, size_t errlen)
{
	const json_t *arr = json_object_get(spec, "listen"), *v;
	struct lsock *ls;
	char label[160];
	size_t i;
	int e, rc = -1;

	if (arr == NULL)
		return 0;
	if (!json_is_array(arr)) {
		snprintf(err, errlen, "'listen' is not an array");
		return -1;
	}
	json_array_foreach(arr, i, v) {
		if (!json_is_string(v)) {
			snprintf(err, errlen, "'listen' holds a non-string");
			goto fail;
		}
		if ((ls = calloc(1, sizeof *ls)) == NULL) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		ls->fd = -1;
		ls->listen = 1;
		if (parse_one(json_string_value(v), a->cwd, ls, err, errlen) !=
		    0) {
			free(ls);
			goto fail;
		}
		e = lsock_open(ls);
		if (e == EAFNOSUPPORT && ls->family == AF_INET6 &&
		    strcmp(ls->addr, "::") == 0) {
			ls->family = AF_INET; /* no IPv6 here */
			snprintf(ls->addr, sizeof ls->addr, "0.0.0.0");
			e = lsock_open(ls);
		}
		if (e != 0) {
			lsock_label(ls, label, sizeof label);
			snprintf(err, errlen, "cannot listen on '%s': %s%s",
			    label, strerror(e),
			    e == EACCES && ls->port < 1024 ?
				" (a port below 1024 needs root or "
				"CAP_NET_BIND_SERVICE)" :
				"");
			free(ls);
			rc = -2;
			goto fail;
		}
		lsock_append(a, ls);
		a->nlisten++;
	}
	return 0;
fail:
	share_close_all(a);
	return rc;
}

/* Close a's shared sockets, and its --listen ones too when all is set. */
static void
close_socks(struct app *a, int all)
{
	struct lsock **pp = &a->socks, *ls;
	char label[160];

	while ((ls = *pp) != NULL) {
		if (ls->listen && !all) {
			pp = &ls->next;
			continue;
		}
		*pp = ls->next;
		if (ls->listen)
			a->nlisten--;
		lsock_label(ls, label, sizeof label);
		log_info("%s: closed %s", a->name, label);
		lsock_free(ls);
	}
}

/* The app stopped: let go of the sockets its instances shared. */
void
share_close_shared(struct app *a)
{
	close_socks(a, 0);
}

/* The app goes: close every socket, --listen ones too. */
void
share_close_all(struct app *a)
{
	close_socks(a, 1);
}

/*
 * "share": an instance's bind() through the preload library.  The reply
 * carries the listening socket (SCM_RIGHTS), or the bind's errno.
 */
void
share_handle(struct req *r)
{
	struct instance *in;
	struct lsock key, *ls;
	struct app *a;
	const char *fam, *addr;
	char label[160];
	unsigned char tmp[16];
	int e;

	if (r->client == NULL ||
	    (in = app_instance_of_pid(r->client->pid)) == NULL) {
		req_error(r, IPC_E_NOT_FOUND, "pid %ld is not an instance",
		    r->client != NULL ? (long)r->client->pid : 0L);
		return;
	}
	a = in->app;
	memset(&key, 0, sizeof key);
	key.fd = -1;
	fam = util_json_str(r->args, "family", "");
	addr = util_json_str(r->args, "addr", "");
	key.port = (int)util_json_int(r->args, "port", 0);
	key.v6only = util_json_bool(r->args, "v6only", 0);
	if (strcmp(fam, "inet") == 0)
		key.family = AF_INET;
	else if (strcmp(fam, "inet6") == 0)
		key.family = AF_INET6;
	else if (strcmp(fam, "unix") == 0)
		key.family = AF_UNIX;
	if (key.family == 0 || strlen(addr) >= sizeof key.addr ||
	    (key.family != AF_UNIX &&
		(key.port < 1 || key.port > 65535 ||
		    inet_pton(key.family, addr, tmp) != 1)) ||
	    (key.family == AF_UNIX && addr[0] != '/')) {
		req_error(r, IPC_E_BAD_REQUEST, "invalid share request");
		return;
	}
	if (key.family != AF_UNIX)
		inet_ntop(key.family, tmp, key.addr, sizeof key.addr);
	else
		snprintf(key.addr, sizeof key.addr, "%s", addr);
	if (key.family != AF_INET6)
		key.v6only = 0;
	for (ls = a->socks; ls != NULL; ls = ls->next)
		if (ls->family == key.family && ls->port == key.port &&
		    ls->v6only == key.v6only && strcmp(ls->addr, key.addr) == 0)
			break;
	lsock_label(&key, label, sizeof label);
	if (ls == NULL) {
		if ((ls = malloc(sizeof *ls)) == NULL) {
			req_error(r, IPC_E_INTERNAL, "out of memory");
			return;
		}
		*ls = key;
		if ((e = lsock_open(ls)) != 0) {
			log_warnx("%s:%d cannot listen on %s: %s", a->name,
			    in->index, label, strerror(e));
			free(ls);
			req_error_errno(r, e, "cannot listen on '%s': %s",
			    label, strerror(e));
			return;
		}
		lsock_append(a, ls);
		log_info("%s: listening on %s for its instances", a->name,
		    label);
	}
	log_debug("%s:%d shares %s", a->name, in->index, label);
	req_reply_fd(r, json_pack("{s:s}", "address", label), ls->fd);
	/* Bound to a listening socket: it is ready to be connected to. */
	inst_event(in, EV_READY);
}

/* The sockets the daemon holds for a, for describe. */
json_t *
share_sockets_json(const struct app *a)
{
	json_t *arr = json_array();
	struct lsock *ls;
	char label[160];

	for (ls = a->socks; ls != NULL; ls = ls->next) {
		lsock_label(ls, label, sizeof label);
		json_array_append_new(arr,
		    json_pack("{s:s, s:s, s:s}", "address", label, "kind",
			ls->listen ? "listen" : "shared", "name",
			ls->name[0] != '\0' ? ls->name : ""));
	}
	return arr;
}
