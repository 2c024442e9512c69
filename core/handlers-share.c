/*
 * The "share" request: an instance's bind() and listen(), or its unlink()
 * of a Unix socket, forwarded by the preload library (core/preload/).  It
 * checks the request and finds the instance by the client's pid; share.c
 * holds the sockets and hands one out.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "core.h"

/*
 * The address key asks for, from the request's members (family, addr,
 * port, v6only, reuseport) and the operation: 0, or -1 when any of them
 * is not one the preload library sends.
 */
static int
share_key(struct lsock *key, const char *fam, const char *addr, const char *op)
{
	unsigned char tmp[16];

	if (strcmp(fam, "inet") == 0)
		key->family = AF_INET;
	else if (strcmp(fam, "inet6") == 0)
		key->family = AF_INET6;
	else if (strcmp(fam, "unix") == 0)
		key->family = AF_UNIX;
	if (key->family == 0 || strlen(addr) >= sizeof key->addr ||
	    (key->family != AF_UNIX &&
		(key->port < 1 || key->port > 65535 ||
		    inet_pton(key->family, addr, tmp) != 1)) ||
	    (key->family == AF_UNIX && addr[0] != '/') ||
	    (strcmp(op, "listen") != 0 &&
		(strcmp(op, "unlink") != 0 || key->family != AF_UNIX)))
		return -1;
	if (key->family != AF_UNIX)
		inet_ntop(key->family, tmp, key->addr, sizeof key->addr);
	else
		snprintf(key->addr, sizeof key->addr, "%s", addr);
	if (key->family != AF_INET6)
		key->v6only = 0;
	return 0;
}

/*
 * "share": the reply carries the listening socket (SCM_RIGHTS), or the
 * bind's errno; with op "unlink", whether the path is one of the app's
 * sockets (the preload library then leaves the file alone).
 */
void
share_handle(struct req *r)
{
	struct instance *in;
	struct lsock key;
	const char *fam, *addr, *op = "listen";
	char label[160];
	int fd, backlog = 0;

	if (r->client == NULL ||
	    (in = app_instance_of_pid(r->client->pid)) == NULL) {
		req_error(r, IPC_E_NOT_FOUND, "pid %ld is not an instance",
		    r->client != NULL ? (long)r->client->pid : 0L);
		return;
	}
	memset(&key, 0, sizeof key);
	if (req_args(r, "{s:s, s:s, s?i, s?b, s?i, s?b, s?s}", "family", &fam,
		"addr", &addr, "port", &key.port, "v6only", &key.v6only,
		"backlog", &backlog, "reuseport", &key.reuseport, "op",
		&op) != 0)
		return;
	if (share_key(&key, fam, addr, op) != 0) {
		req_error(r, IPC_E_BAD_REQUEST, "invalid share request");
		return;
	}
	if (strcmp(op, "unlink") == 0) {
		if (share_is_unix(in->app, key.addr))
			req_reply(r, json_pack("{s:s}", "address", key.addr));
		else
			req_error(r, IPC_E_NOT_FOUND,
			    "'%s' is not a shared socket", key.addr);
		return;
	}
	if ((fd = share_listen(in, &key, label, sizeof label)) < 0) {
		req_error_errno(r, -fd, "cannot listen on '%s': %s", label,
		    strerror(-fd));
		return;
	}
	log_debug("%s:%d shares %s (its backlog %d: the daemon's is used)",
	    in->app->name, in->index, label, backlog);
	req_reply_fd(r, json_pack("{s:s}", "address", label), fd);
	/* Listening on its socket: it is ready to be connected to. */
	inst_event(in, EV_READY);
}
