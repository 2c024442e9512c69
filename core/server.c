/*
 * The control server: the listening socket, its clients, framing, and
 * requests that are answered later (waiters) or over several replies.
 *
 * The door: the control socket is for its owner only, so the apps a root
 * daemon runs as other users (--uid) reach it another way for their
 * shared sockets (cluster mode).  A datagram socket pair: each such
 * instance inherits one end (CLUSTERCTL_SHARE_FD); its preload library
 * sends one end of a new stream pair through it (SCM_RIGHTS), and the
 * daemon serves the other end as a client that may ask only "share".
 * Nobody without the inherited descriptor can knock, nothing is bound to
 * a name, and the kernel says who sent each (SO_PASSCRED): that pid and
 * uid are the client's, which share_handle checks against the app's.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "core.h"

/* The most a client may leave unread before it is dropped. */
#define CLIENT_MAX_QUEUED (4 * IPC_MAX_FRAME)
/* A stream that waits for room goes on below this (req_room). */
#define CLIENT_LOW_WATER (2 * 1024 * 1024)

static uv_pipe_t listener;
static int listening;
static struct client_list clients = TAILQ_HEAD_INITIALIZER(clients);
static struct req_list waiters = TAILQ_HEAD_INITIALIZER(waiters);
static void (*handle)(struct req *); /* the layer above's dispatcher */
static uint64_t last_accept_warn;
static uv_poll_t door_poll;
static int door_fd = -1;     /* the daemon's end */
static int door_app_fd = -1; /* the instances' end */

static void client_close(struct client *);
static void write_cb(uv_write_t *, int);

/* How many clients are connected (for metrics). */
int
server_nclients(void)
{
	struct client *c;
	int n = 0;

	TAILQ_FOREACH(c, &clients, entry)
		n++;
	return n;
}

struct wreq {
	uv_write_t w;
	struct client *client;
	char *buf;
};

static void
client_free_cb(uv_handle_t *h)
{
	struct client *c = h->data;

	ipc_decoder_release(&c->dec);
	free(c);
}

/* Streams that wait for room (on_drain) go on once the queue is low. */
static void
client_drained(struct client *c)
{
	struct req *r, *next;

	TAILQ_FOREACH_SAFE(r, &c->reqs, centry, next) {
		if (c->closing ||
		    uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) >=
			CLIENT_LOW_WATER)
			break;
		if (r->on_drain != NULL)
			r->on_drain(r);
	}
}

static void
write_cb(uv_write_t *w, int status)
{
	struct wreq *wr = (struct wreq *)w;
	struct client *c = wr->client;

	free(wr->buf);
	free(wr);
	if (status != 0 && !c->closing)
		client_close(c);
	else if (c->exit_after_flush &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) == 0)
		daemon_quit();
	else if (!c->closing)
		client_drained(c);
}

/*
 * Encode msg (stolen), a reply to request id, as a frame.  A reply that
 * cannot be encoded (NULL: it could not be built; larger than a frame) is
 * replaced by an error reply saying so, which ends the request: 0, 1 when
 * replaced, or a negative errno when not even that could be encoded.
 */
static int
reply_encode(uint32_t id, json_t *msg, char **buf, size_t *len)
{
	json_t *err;
	int r;

	r = msg != NULL ? ipc_frame_encode(msg, buf, len) : -EINVAL;
	json_decref(msg);
	if (r == 0)
		return 0;
	if (r == -EMSGSIZE) {
		log_warnx("a reply to request %u is larger than the frame "
			  "limit; refused",
		    id);
		err = ipc_reply_error(id, IPC_E_TOO_LARGE,
		    "the reply is larger "
		    "than %u bytes (the frame limit): ask for less at once",
		    IPC_MAX_FRAME);
	} else {
		log_warnx("a reply to request %u cannot be encoded: %s", id,
		    strerror(-r));
		err = ipc_reply_error(id, IPC_E_INTERNAL,
		    "the reply cannot be encoded: %s", strerror(-r));
	}
	r = err != NULL ? ipc_frame_encode(err, buf, len) : -ENOMEM;
	json_decref(err);
	return r == 0 ? 1 : r;
}

/*
 * Queue msg (stolen), a reply to request id, to client c (NULL: gone).  A
 * client that has left too much unread is closed: it alone pays for not
 * reading.  1 when the reply was replaced by an error (see reply_encode).
 */
static int
client_send(struct client *c, uint32_t id, json_t *msg)
{
	struct wreq *wr;
	uv_buf_t b;
	size_t len;
	char *buf;
	int r, rc;

	if (c == NULL || c->closing) {
		json_decref(msg);
		return 0;
	}
	if (uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) >
	    CLIENT_MAX_QUEUED) {
		log_warnx("client pid %ld leaves its replies unread; closing "
			  "it",
		    (long)c->pid);
		json_decref(msg);
		client_close(c);
		return 0;
	}
	if ((rc = reply_encode(id, msg, &buf, &len)) < 0) {
		client_close(c);
		return 0;
	}
	if ((wr = calloc(1, sizeof *wr)) == NULL) {
		free(buf);
		client_close(c);
		return 0;
	}
	wr->client = c;
	wr->buf = buf;
	b = uv_buf_init(buf, (unsigned int)len);
	if ((r = uv_write(&wr->w, (uv_stream_t *)&c->pipe, &b, 1, write_cb)) !=
	    0) {
		free(buf);
		free(wr);
		client_close(c);
	}
	return rc;
}

static void
req_free(struct req *r)
{
	if (r->client != NULL)
		TAILQ_REMOVE(&r->client->reqs, r, centry);
	if (r->waiting)
		TAILQ_REMOVE(&waiters, r, wentry);
	json_decref(r->args);
	json_decref(r->wait);
	targets_release(&r->targets);
	free(r->cmd);
	free(r);
}

/* Send one reply to r, unless an earlier one ended it. */
static void
req_send(struct req *r, json_t *msg)
{
	if (r->ended || r->client == NULL) {
		json_decref(msg);
		return;
	}
	if (client_send(r->client, r->id, msg) == 1)
		r->ended = 1;
}

/*
 * Send a final reply, with the notice about a restore for the first
 * client that asks something (an instance sharing a socket is not one),
 * and the daemon's standing warning for the requests that want it.
 */
static void
send_final(struct req *r, json_t *msg)
{
	char *n;

	if (msg != NULL && r->client != NULL && r->cmd != NULL &&
	    strcmp(r->cmd, "share") != 0 && (n = state_take_notice()) != NULL) {
		json_object_set_new(msg, "notice", json_string(n));
		free(n);
	}
	if (msg != NULL && r->warns && daemon_nofile_warning() != NULL)
		json_object_set_new(msg, "warning",
		    json_string(daemon_nofile_warning()));
	req_send(r, msg);
	req_free(r);
}

/*
 * The final reply to a request, which is then freed.  Steals data.  A
 * request that may have changed the desired state is answered once that
 * state is on disk, or with the error that kept it from there.
 */
void
req_reply(struct req *r, json_t *data)
{
	char err[1024];

	if (r->mutates && state_sync_error(err, sizeof err) != 0) {
		json_decref(data);
		send_final(r, ipc_reply_error(r->id, IPC_E_STATE, "%s", err));
		return;
	}
	send_final(r, ipc_reply_ok(r->id, data, 0));
}

/*
 * One reply of a stream; more follow.  Steals data.  A reply that cannot
 * be sent as it is ends the stream with an error; the rest are dropped.
 */
void
req_more(struct req *r, json_t *data)
{
	req_send(r, ipc_reply_ok(r->id, data, 1));
}

/* Whether r's client can take another reply of a stream now (see
 * on_drain), rather than have it queued. */
int
req_room(const struct req *r)
{
	return r->client != NULL && !r->client->closing && !r->ended &&
	    uv_stream_get_write_queue_size((uv_stream_t *)&r->client->pipe) <
	    CLIENT_LOW_WATER;
}

/* The final, failed reply to a request, which is then freed. */
void
req_error(struct req *r, const char *code, const char *fmt, ...)
{
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (r->internal)
		log_warnx("%s: %s", r->cmd, msg);
	/* A failed request may have done part of its work: save that. */
	if (r->mutates)
		(void)state_sync();
	send_final(r,
	    ipc_reply_error(r->id, code, "%s", n >= 0 ? msg : "out of memory"));
	if (n >= 0)
		free(msg);
}

/*
 * A request the daemon makes of itself (a watched file changed, a memory
 * limit, a schedule): handled exactly as a client's, through the same
 * handler, with nobody to answer; a failure is logged.  Steals args.
 */
void
server_self_request(const char *cmd, json_t *args)
{
	struct req *r = calloc(1, sizeof *r);

	if (r == NULL || (r->cmd = strdup(cmd)) == NULL) {
		free(r);
		json_decref(args);
		log_warnx("%s: out of memory", cmd);
		return;
	}
	r->internal = 1;
	r->args = args != NULL ? args : json_object();
	handle(r);
}

/*
 * Unpack r's arguments with jansson's format fmt (json_unpack_ex), a null
 * member counting as absent: 0, or -1 having replied bad_request with
 * what is wrong.
 */
int
req_args(struct req *r, const char *fmt, ...)
{
	json_error_t je;
	json_t *args, *v;
	const char *k;
	void *tmp;
	va_list ap;
	int rc;

	if ((args = json_copy(r->args)) == NULL) {
		req_error(r, IPC_E_INTERNAL, "out of memory");
		return -1;
	}
	json_object_foreach_safe(args, tmp, k, v)
		if (json_is_null(v))
			json_object_del(args, k);
	va_start(ap, fmt);
	rc = json_vunpack_ex(args, &je, 0, fmt, ap);
	va_end(ap);
	json_decref(args);
	if (rc == 0)
		return 0;
	req_error(r, IPC_E_BAD_REQUEST, "invalid arguments to '%s': %s", r->cmd,
	    je.text);
	return -1;
}

/* The final, failed reply to a request, from an error value. */
void
req_fail(struct req *r, const struct err *e)
{
	req_error(r, e->code != NULL ? e->code : IPC_E_INTERNAL, "%s", e->msg);
}

/*
 * The final reply to r with descriptor fd attached (SCM_RIGHTS), sent at
 * once: a share request is the only one on its connection, so nothing is
 * queued before it.  Steals data.
 */
void
req_reply_fd(struct req *r, json_t *data, int fd)
{
	struct client *c = r->client;
	char *buf;
	uv_os_fd_t sock;
	size_t len, off = 0;
	ssize_t n;
	json_t *msg = ipc_reply_ok(r->id, data, 0);
	int rc = ipc_frame_encode(msg, &buf, &len);

	json_decref(msg);
	if (rc != 0)
		buf = NULL;
	if (c == NULL || c->closing || rc != 0 || r->ended ||
	    uv_fileno((uv_handle_t *)&c->pipe, &sock) != 0 ||
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) != 0) {
		free(buf);
		if (c != NULL && !c->closing)
			client_close(c);
		req_free(r);
		return;
	}
	while (off < len) {
		n = util_send_fd(sock, buf + off, len - off, off == 0 ? fd : -1,
		    MSG_NOSIGNAL);
		if (n <= 0) {
			/* A full buffer on a fresh connection: give up. */
			log_warn("cannot send a socket to pid %ld",
			    (long)c->pid);
			client_close(c);
			break;
		}
		off += (size_t)n;
	}
	free(buf);
	req_free(r);
}

/* A failed reply that also carries an errno ("errno" in "error"). */
void
req_error_errno(struct req *r, int e, const char *fmt, ...)
{
	char *msg = NULL;
	json_t *rep;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	rep = ipc_reply_error(r->id, IPC_E_EXEC, "%s",
	    n >= 0 ? msg : "out of memory");
	if (n >= 0)
		free(msg);
	json_object_set_new(json_object_get(rep, "error"), "errno",
	    json_integer(e));
	req_send(r, rep);
	req_free(r);
}

/*
 * Answer r later: check is called after every change of state until it
 * replies (and returns 1).  Steals wait, the request's own notes.
 */
void
req_wait(struct req *r, int (*check)(struct req *), json_t *wait)
{
	r->check = check;
	json_decref(r->wait);
	r->wait = wait;
	r->waiting = 1;
	TAILQ_INSERT_TAIL(&waiters, r, wentry);
	daemon_changed();
}

/* Ask each waiter once (after any change: see daemon_changed). */
void
server_run_waiters(void)
{
	struct req *r, *next;

	TAILQ_FOREACH_SAFE(r, &waiters, wentry, next)
		(void)r->check(r);
}

/*
 * Close a client.  Its requests go on without anyone to tell: each is
 * detached (r->client NULL) and stays its holder's (a handler, a waiter,
 * a stream's on_close) until it replies, which then only frees it.
 */
static void
client_close(struct client *c)
{
	struct req *r;

	if (c->closing)
		return;
	c->closing = 1;
	while ((r = TAILQ_FIRST(&c->reqs)) != NULL) {
		TAILQ_REMOVE(&c->reqs, r, centry);
		r->client = NULL;
		if (r->on_close != NULL)
			r->on_close(r);
	}
	TAILQ_REMOVE(&clients, c, entry);
	uv_close((uv_handle_t *)&c->pipe, client_free_cb);
}

static void
alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char buf[65536];

	(void)h;
	(void)hint;
	*b = uv_buf_init(buf, sizeof buf);
}

static void
shutdown_cb(uv_shutdown_t *sh, int status)
{
	struct client *c = sh->handle->data;

	(void)status;
	free(sh);
	client_close(c);
}

/* Answer a frame that cannot be read, then hang up: the stream is lost. */
static void
client_protocol_error(struct client *c, const char *code, const char *msg)
{
	uv_shutdown_t *sh;

	log_warnx("client pid %ld: %s", (long)c->pid, msg);
	client_send(c, 0, ipc_reply_error(0, code, "%s", msg));
	c->draining = 1;
	uv_read_stop((uv_stream_t *)&c->pipe);
	if ((sh = calloc(1, sizeof *sh)) == NULL ||
	    uv_shutdown(sh, (uv_stream_t *)&c->pipe, shutdown_cb) != 0) {
		free(sh);
		client_close(c);
	}
}

static void client_process(struct client *);

static void
read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct client *c = s->data;

	if (n < 0) {
		client_close(c);
		return;
	}
	if (ipc_decoder_feed(&c->dec, b->base, (size_t)n) != 0) {
		client_close(c);
		return;
	}
	client_process(c);
}

/* Handle every whole request c's decoder holds. */
static void
client_process(struct client *c)
{
	const char *cmd;
	char err[256];
	json_t *msg, *args;
	struct req *r;
	uint32_t id;
	int rc;

	while (!c->closing && !c->draining) {
		rc = ipc_decoder_next(&c->dec, &msg, err, sizeof err);
		if (rc == 0)
			break;
		if (rc < 0) {
			client_protocol_error(c,
			    rc == -EMSGSIZE ? IPC_E_TOO_LARGE :
					      IPC_E_BAD_REQUEST,
			    err);
			return;
		}
		rc = ipc_request_check(msg, &id, &cmd, &args, err, sizeof err);
		if (rc != 0) {
			client_send(c, id,
			    ipc_reply_error(id,
				rc == -EPROTO ? IPC_E_VERSION :
						IPC_E_BAD_REQUEST,
				"%s", err));
			json_decref(msg);
			continue;
		}
		if (c->door && strcmp(cmd, "share") != 0) {
			client_send(c, id,
			    ipc_reply_error(id, IPC_E_DENIED,
				"an app may only ask for its shared sockets"));
			json_decref(msg);
			continue;
		}
		if ((r = calloc(1, sizeof *r)) == NULL) {
			json_decref(msg);
			client_close(c);
			return;
		}
		r->client = c;
		r->id = id;
		r->cmd = strdup(cmd);
		r->args = args != NULL ? json_incref(args) : json_object();
		json_decref(msg);
		TAILQ_INSERT_TAIL(&c->reqs, r, centry);
		if (r->cmd == NULL)
			req_error(r, IPC_E_INTERNAL, "out of memory");
		else
			handle(r);
	}
}

/* A new client, in the list, its pipe initialised (not open yet). */
static struct client *
client_new(void)
{
	struct client *c;

	if ((c = calloc(1, sizeof *c)) == NULL)
		return NULL;
	uv_pipe_init(loop, &c->pipe, 0);
	c->pipe.data = c;
	ipc_decoder_init(&c->dec);
	TAILQ_INIT(&c->reqs);
	TAILQ_INSERT_TAIL(&clients, c, entry);
	return c;
}

static void
connection_cb(uv_stream_t *l, int status)
{
	struct ucred cred;
	socklen_t len = sizeof cred;
	struct client *c;
	uv_os_fd_t fd;

	if (status != 0) {
		/* libuv turned the client away (EMFILE: its spare descriptor
		 * trick) and takes the next ones as they come: said, once a
		 * second at most. */
		if (uv_now(loop) - last_accept_warn >= 1000) {
			last_accept_warn = uv_now(loop);
			log_warnx("cannot accept a client: %s",
			    uv_strerror(status));
		}
		daemon_nofile_check(status == UV_EMFILE || status == UV_ENFILE);
		return;
	}
	if ((c = client_new()) == NULL)
		return;
	if (uv_accept(l, (uv_stream_t *)&c->pipe) != 0) {
		client_close(c);
		return;
	}
	if (uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
		client_close(c);
		return;
	}
	c->uid = cred.uid;
	c->pid = cred.pid;
	if (cred.uid != getuid()) {
		log_warnx("refused a client of uid %ld (pid %ld)",
		    (long)cred.uid, (long)cred.pid);
		client_close(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb);
	daemon_nofile_check(0);
}

/* Serve fd, a stream socket from the door, as a client that sent cred. */
static void
door_adopt(int fd, const struct ucred *cred)
{
	struct client *c;
	socklen_t len;
	int type = 0, domain = 0;

	len = sizeof type;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 ||
	    type != SOCK_STREAM ||
	    (len = sizeof domain,
		getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) != 0) ||
	    domain != AF_UNIX || (c = client_new()) == NULL) {
		close(fd);
		return;
	}
	c->uid = cred->uid;
	c->pid = cred->pid;
	c->door = 1;
	if (uv_pipe_open(&c->pipe, fd) != 0) {
		close(fd);
		client_close(c);
		return;
	}
	uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb);
	daemon_nofile_check(0);
}

/*
 * One datagram from the non-blocking datagram socket fd (SO_PASSCRED)
 * into buf (cap bytes): its length, and the kernel's word on its sender
 * in *cred (*have_cred); the descriptors it carried, up to maxfds of
 * them, into fds (*nfds), the rest closed.  -1 and errno when there is
 * none (EAGAIN) or it cannot be read.  For the door and notify.c.
 */
ssize_t
server_recv_dgram(int fd, char *buf, size_t cap, struct ucred *cred,
    int *have_cred, int *fds, int maxfds, int *nfds)
{
	char cbuf[CMSG_SPACE(sizeof(struct ucred)) +
	    CMSG_SPACE(sizeof(int) * 8)];
	struct msghdr mh;
	struct iovec iov;
	struct cmsghdr *cm;
	size_t nb, k;
	ssize_t n;
	int one;

	*have_cred = 0;
	*nfds = 0;
	memset(&mh, 0, sizeof mh);
	iov.iov_base = buf;
	iov.iov_len = cap;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof cbuf;
	do
		n = recvmsg(fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return -1;
	for (cm = CMSG_FIRSTHDR(&mh); cm != NULL; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET)
			continue;
		if (cm->cmsg_type == SCM_CREDENTIALS) {
			memcpy(cred, CMSG_DATA(cm), sizeof *cred);
			*have_cred = 1;
		} else if (cm->cmsg_type == SCM_RIGHTS) {
			nb = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (k = 0; k < nb; k++) {
				memcpy(&one, CMSG_DATA(cm) + k * sizeof(int),
				    sizeof one);
				if (*nfds < maxfds)
					fds[(*nfds)++] = one;
				else
					close(one); /* not ours to keep */
			}
		}
	}
	return n;
}

/* A knock on the door: each datagram brings a socket and its sender. */
static void
door_cb(uv_poll_t *h, int status, int events)
{
	struct ucred cred;
	int sock, nfds, have_cred;
	char byte;

	(void)h;
	(void)events;
	if (status != 0)
		return;
	while (server_recv_dgram(door_fd, &byte, 1, &cred, &have_cred, &sock, 1,
		   &nfds) >= 0) {
		if (nfds == 1 && have_cred)
			door_adopt(sock, &cred);
		else if (nfds == 1)
			close(sock);
	}
}

/* The door's ends (the daemon's, or the apps' with app), for an
 * upgrade's handover, or -1. */
int
server_door_fd_get(int app)
{
	return app ? door_app_fd : door_fd;
}

/*
 * The instances' end of the door (opened on first use, by a root daemon
 * only, or taken over from the image before an upgrade), for the apps run
 * as other users; -1 when there is none.
 */
int
server_door_fd(void)
{
	int sv[2], one = 1;

	if (door_app_fd != -1 || geteuid() != 0)
		return door_app_fd;
	sv[0] = keeper_take("door");
	sv[1] = keeper_take("door-app");
	if ((sv[0] == -1) != (sv[1] == -1)) {
		if (sv[0] != -1)
			close(sv[0]);
		if (sv[1] != -1)
			close(sv[1]);
		sv[0] = sv[1] = -1;
	}
	if (sv[0] == -1 &&
	    socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, sv) == -1) {
		log_warn("cannot open the door for apps run as other users");
		return -1;
	}
	if (setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) ==
		-1 ||
	    uv_poll_init(loop, &door_poll, sv[0]) != 0) {
		log_warn("cannot open the door for apps run as other users");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	door_fd = sv[0];
	door_app_fd = sv[1];
	uv_poll_start(&door_poll, UV_READABLE, door_cb);
	uv_unref((uv_handle_t *)&door_poll);
	return door_app_fd;
}

/*
 * Bind the control socket at path, owner-only (0600), and serve it: each
 * request goes to fn.  The caller holds the daemon lock, so a socket file
 * left there is stale.
 */
int
server_listen(const char *path, void (*fn)(struct req *))
{
	struct sockaddr_un sa;
	socklen_t salen;
	mode_t old;
	int dirfd, fd, r;

	/* The keeper held it while no daemon lived: clients waited. */
	if ((fd = keeper_take("control")) >= 0) {
		dirfd = -1;
		goto serve;
	}
	if ((r = ipc_sockaddr(path, &sa, &salen, &dirfd)) != 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd == -1) {
		r = -errno;
		goto out;
	}
	(void)unlink(sa.sun_path);
	old = umask(0177);
	r = bind(fd, (struct sockaddr *)&sa, salen);
	umask(old);
	if (r == -1 || chmod(sa.sun_path, 0600) == -1 ||
	    listen(fd, 128) == -1) {
		r = -errno;
		close(fd);
		goto out;
	}
	keeper_hold("control", fd);
serve:
	uv_pipe_init(loop, &listener, 0);
	if ((r = uv_pipe_open(&listener, fd)) != 0 ||
	    (r = uv_listen((uv_stream_t *)&listener, 128, connection_cb)) !=
		0) {
		close(fd);
		goto out;
	}
	listening = 1;
	handle = fn;
	r = 0;
out:
	if (dirfd != -1)
		close(dirfd);
	return r;
}

/* Stop taking connections (the daemon is going away). */
void
server_close(void)
{
	if (listening) {
		listening = 0;
		uv_close((uv_handle_t *)&listener, NULL);
	}
	if (door_fd != -1) {
		uv_close((uv_handle_t *)&door_poll, NULL);
		close(door_fd);
		close(door_app_fd);
		door_fd = door_app_fd = -1;
	}
}

/* The control socket's descriptor, for an upgrade's handover, or -1. */
int
server_listen_fd(void)
{
	uv_os_fd_t fd;

	return listening && uv_fileno((uv_handle_t *)&listener, &fd) == 0 ? fd :
									    -1;
}

/*
 * Whether q, in flight, can be handed to an upgraded image and handled
 * there again as if it had just come: a follow of logs (without its tail
 * again) and a wait are the same request there; anything else would be
 * done twice.
 */
static int
req_carried(const struct req *q)
{
	return q->cmd != NULL && !q->ended &&
	    ((strcmp(q->cmd, "logs") == 0 &&
		 util_json_bool(q->args, "follow", 0)) ||
		strcmp(q->cmd, "wait") == 0);
}

/*
 * Whether a client may be handed over to an upgraded image now: r's own,
 * or one between two requests, or one whose requests are all carried
 * (req_carried).
 */
static int
client_movable(const struct client *c, const struct req *r)
{
	const struct req *q;

	if (c->closing || c->draining)
		return 0;
	TAILQ_FOREACH(q, &c->reqs, centry)
		if (q != r && !req_carried(q))
			return 0;
	return 1;
}

/* How many clients that could be handed over still have replies on
 * their way (an upgrade waits for them). */
int
server_nsending(void)
{
	struct client *c;
	int n = 0;

	TAILQ_FOREACH(c, &clients, entry)
		if (!c->closing &&
		    uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) > 0)
			n++;
	return n;
}

/*
 * The clients an upgraded image takes over (r's, and every one between
 * two requests): each one's descriptor and what it sent that is not a
 * whole request yet; r's with its id ("request_id").
 */
json_t *
server_handover(const struct req *r)
{
	json_t *arr = json_array(), *o, *args;
	const struct req *q;
	struct client *c;
	uv_os_fd_t fd;

	TAILQ_FOREACH(c, &clients, entry) {
		if (!client_movable(c, r) ||
		    uv_fileno((uv_handle_t *)&c->pipe, &fd) != 0)
			continue;
		o = json_pack("{s:i, s:o, s:[], s:b}", "fd", fd, "pending",
		    util_json_hex(c->dec.buf, c->dec.len), "requests", "door",
		    c->door);
		if (r != NULL && r->client == c)
			json_object_set_new(o, "request_id",
			    json_integer(r->id));
		TAILQ_FOREACH(q, &c->reqs, centry) {
			if (q == r)
				continue;
			args = json_deep_copy(q->args);
			/* Its tail was sent: only new lines from now on. */
			if (strcmp(q->cmd, "logs") == 0)
				json_object_set_new(args, "lines",
				    json_integer(0));
			json_array_append_new(json_object_get(o, "requests"),
			    json_pack("{s:I, s:s, s:o}", "id",
				(json_int_t)q->id, "cmd", q->cmd, "args",
				args));
		}
		json_array_append_new(arr, o);
	}
	return arr;
}

/* One client connection fd served again; NULL (fd closed) on failure. */
static struct client *
client_adopt(int fd, const char *pending, size_t len, int door)
{
	struct ucred cred;
	socklen_t clen = sizeof cred;
	struct client *c;

	if ((c = client_new()) == NULL) {
		close(fd);
		return NULL;
	}
	if (uv_pipe_open(&c->pipe, fd) != 0) {
		close(fd);
		client_close(c);
		return NULL;
	}
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0) {
		c->uid = cred.uid;
		c->pid = cred.pid;
	}
	/* A connection through the door stays one (share only); any other
	 * is the owner's, as the listening socket checked. */
	c->door = door;
	if (!door && c->uid != getuid()) {
		client_close(c);
		return NULL;
	}
	if (ipc_decoder_feed(&c->dec, pending, len) != 0) {
		client_close(c);
		return NULL;
	}
	uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb);
	return c;
}

/* A request c had in flight in the image before (req_carried): handled
 * here again, its replies going on under the same id. */
static void
client_carried(struct client *c, const json_t *q)
{
	const char *cmd = util_json_str(q, "cmd", NULL);
	struct req *r;

	if (cmd == NULL || (r = calloc(1, sizeof *r)) == NULL)
		return;
	if ((r->cmd = strdup(cmd)) == NULL) {
		free(r);
		return;
	}
	r->client = c;
	r->id = (uint32_t)util_json_int(q, "id", 0);
	r->args = json_is_object(json_object_get(q, "args")) ?
	    json_incref(json_object_get(q, "args")) :
	    json_object();
	TAILQ_INSERT_TAIL(&c->reqs, r, centry);
	handle(r);
}

/*
 * After an upgrade: the clients of server_handover served again, what
 * they had sent already handled.  The request of the one that asked for
 * the upgrade (a request of kind cmd, to answer), or NULL.
 */
struct req *
server_adopt(const json_t *arr, const char *cmd)
{
	struct client *c;
	struct req *r = NULL;
	const json_t *o, *q;
	size_t i, k, len;
	char *pending;
	int fd;

	json_array_foreach(arr, i, o) {
		if ((fd = (int)util_json_int(o, "fd", -1)) < 0)
			continue;
		pending = util_hex_value(json_object_get(o, "pending"), &len);
		c = client_adopt(fd, pending != NULL ? pending : "",
		    pending != NULL ? len : 0,
		    json_is_true(json_object_get(o, "door")));
		free(pending);
		if (c == NULL)
			continue;
		json_array_foreach(json_object_get(o, "requests"), k, q)
			client_carried(c, q);
		if (json_object_get(o, "request_id") == NULL)
			continue;
		if ((r = calloc(1, sizeof *r)) == NULL ||
		    (r->cmd = strdup(cmd)) == NULL) {
			free(r);
			r = NULL;
			client_close(c);
			continue;
		}
		r->client = c;
		r->id = (uint32_t)util_json_int(o, "request_id", 0);
		r->args = json_object();
		TAILQ_INSERT_TAIL(&c->reqs, r, centry);
	}
	TAILQ_FOREACH(c, &clients, entry)
		client_process(c);
	return r;
}

/*
 * How many requests other than r a client awaits the end of, that an
 * upgraded image could not carry on (req_carried): a restart waiting for
 * online, a long reply being streamed.
 */
int
server_nwaiting(const struct req *r)
{
	const struct client *c;
	const struct req *q;
	int n = 0;

	TAILQ_FOREACH(c, &clients, entry)
		if (!c->closing)
			TAILQ_FOREACH(q, &c->reqs, centry)
				if (q != r && !req_carried(q))
					n++;
	return n;
}
