/*
 * Listening sockets the daemon holds for an app (cluster mode): the
 * --listen ones, bound before any instance starts and passed as fds 3..,
 * and the shared ones, created when an instance's bind() asks for them
 * (through the preload library, core/preload/share-preload.c) and then
 * handed to every instance that binds the same address (or, with
 * --balance reuseport, one socket per instance slot: core/balance.c).
 * The daemon's copy keeps a port open while instances crash, restart,
 * reload or scale.  What an instance does to its socket cannot break it
 * for the others: each socket is checked before it is handed out (still
 * listening, its path still there) and replaced when not, and a socket no
 * instance of the current generation asked for is closed.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
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
#include "proc.h"

/* The largest: the kernel caps it at net.core.somaxconn. */
#define SHARE_BACKLOG INT_MAX

static int lsock_bind(struct lsock *, int *);

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

/* What the keeper calls ls's socket for slot (core/keeper.c). */
static void
lsock_key(const struct lsock *ls, int slot, char *buf, size_t len)
{
	if (slot == 0)
		snprintf(buf, len, "sock %d %s %d %d", ls->family, ls->addr,
		    ls->port, ls->v6only);
	else
		snprintf(buf, len, "sock %d %s %d %d slot %d", ls->family,
		    ls->addr, ls->port, ls->v6only, slot);
}

/*
 * A listening socket for ls's slot: 0 with *fdp, or a positive errno.
 * With keep, one the keeper held across a daemon's death is taken back,
 * or a new one is given to the keeper to hold; without, the caller
 * hands it to the keeper (share_fd, once the old one is dropped).
 */
int
share_open_fd(struct lsock *ls, int slot, int keep, int *fdp)
{
	struct stat st;
	char key[200];
	int r;

	lsock_key(ls, slot, key, sizeof key);
	if (keep && (*fdp = keeper_take(key)) >= 0) {
		if (ls->family == AF_UNIX && lstat(ls->addr, &st) == 0) {
			ls->pdev = st.st_dev;
			ls->pino = st.st_ino;
		}
		return 0;
	}
	if ((r = lsock_bind(ls, fdp)) == 0 && keep)
		keeper_hold(key, *fdp);
	return r;
}

/* Close ls's socket for slot: the keeper lets go of it too. */
void
share_close_slot(struct lsock *ls, int slot)
{
	char key[200];

	if (slot >= ls->nfds || ls->fds[slot] == -1)
		return;
	lsock_key(ls, slot, key, sizeof key);
	keeper_drop(key);
	close(ls->fds[slot]);
	ls->fds[slot] = -1;
}

/*
 * A new socket bound to ls's address and listening: 0 with *fdp, or a
 * positive errno.  A shared one (not --listen) is non-blocking: the
 * preload library keeps each app's own view of the flag.
 */
static int
lsock_bind(struct lsock *ls, int *fdp)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct sockaddr_un *su = (struct sockaddr_un *)&ss;
	struct stat st;
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
	if ((fd = socket(ls->family,
		 SOCK_STREAM | SOCK_CLOEXEC | (ls->listen ? 0 : SOCK_NONBLOCK),
		 0)) == -1)
		return errno;
	if (ls->family != AF_UNIX)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one,
		    sizeof one);
	if (ls->family != AF_UNIX && ls->reuseport &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == -1) {
		e = errno;
		close(fd);
		return e;
	}
	if (ls->family == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &ls->v6only,
		    sizeof ls->v6only);
	if (bind(fd, (struct sockaddr *)&ss, len) == -1 ||
	    listen(fd, SHARE_BACKLOG) == -1) {
		e = errno;
		close(fd);
		return e;
	}
	if (ls->family == AF_UNIX && lstat(ls->addr, &st) == 0) {
		ls->pdev = st.st_dev;
		ls->pino = st.st_ino;
	}
	*fdp = fd;
	return 0;
}

/* Open ls's first socket (and, slotted, one per instance): 0, or a
 * positive errno with none left open. */
static int
lsock_open(struct app *a, struct lsock *ls)
{
	int e, n = balance_slotted(a, ls) && a->ninst > 0 ? a->ninst : 1, i;

	if ((ls->fds = malloc(sizeof *ls->fds)) == NULL)
		return ENOMEM;
	if ((e = balance_open(a, ls, 0, 1, &ls->fds[0])) != 0) {
		free(ls->fds);
		ls->fds = NULL;
		return e;
	}
	ls->nfds = 1;
	if (n > 1 && (e = balance_resize(a, ls, n)) != 0) {
		for (i = 0; i < ls->nfds; i++)
			share_close_slot(ls, i);
		free(ls->fds);
		ls->fds = NULL;
		ls->nfds = 0;
		return e;
	}
	(void)balance_attach(a, ls);
	return 0;
}

/* Whether fd (one of ls's) still listens, and its path is still there. */
static int
lsock_alive(const struct lsock *ls, int fd)
{
	struct stat st;
	socklen_t len;
	int on = 0;

	len = sizeof on;
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) != 0 || !on)
		return 0;
	if (ls->family == AF_UNIX &&
	    (lstat(ls->addr, &st) != 0 || st.st_dev != ls->pdev ||
		st.st_ino != ls->pino))
		return 0;
	return 1;
}

/* Close ls's sockets (and remove its Unix socket file if it is ours). */
static void
lsock_close_fds(struct lsock *ls)
{
	struct stat st;
	int i, any = 0;

	for (i = 0; i < ls->nfds; i++)
		if (ls->fds[i] != -1) {
			share_close_slot(ls, i);
			any = 1;
		}
	if (any && ls->family == AF_UNIX && lstat(ls->addr, &st) == 0 &&
	    st.st_dev == ls->pdev && st.st_ino == ls->pino)
		(void)unlink(ls->addr);
}

static void
lsock_free(struct lsock *ls)
{
	lsock_close_fds(ls);
	free(ls->fds);
	free(ls->askers);
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
		ls->listen = 1;
		if (parse_one(json_string_value(v), a->cwd, ls, err, errlen) !=
		    0) {
			free(ls);
			goto fail;
		}
		e = lsock_open(a, ls);
		if (e == EAFNOSUPPORT && ls->family == AF_INET6 &&
		    strcmp(ls->addr, "::") == 0) {
			ls->family = AF_INET; /* no IPv6 here */
			snprintf(ls->addr, sizeof ls->addr, "0.0.0.0");
			e = lsock_open(a, ls);
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
 * A working descriptor of ls for instance slot index (the one shared
 * socket, or the slot's own): checked, and replaced when it no longer
 * listens or its path is gone.  The descriptor, or a negative errno.
 */
int
share_fd(struct app *a, struct lsock *ls, int index)
{
	int slot = balance_slotted(a, ls) ? index : 0, fd, e;
	char label[160], key[200];

	if (slot >= ls->nfds && (e = balance_resize(a, ls, slot + 1)) != 0)
		return -e;
	if (ls->fds[slot] != -1 && lsock_alive(ls, ls->fds[slot]))
		return ls->fds[slot];
	lsock_label(ls, label, sizeof label);
	/* A new socket first (the old one may still hold the address), then
	 * the keeper lets go of the old one and holds the new. */
	if ((e = balance_open(a, ls, slot, ls->fds[slot] == -1, &fd)) != 0) {
		log_warnx("%s: cannot listen on %s again: %s", a->name, label,
		    strerror(e));
		return ls->fds[slot] != -1 ? ls->fds[slot] : -e;
	}
	if (ls->fds[slot] != -1) {
		log_warnx("%s: %s %s no longer listening (an instance shut it "
			  "down or removed its file): replaced",
		    a->name, label,
		    ls->family == AF_UNIX ? "was" : "of this slot was");
		share_close_slot(ls, slot);
		lsock_key(ls, slot, key, sizeof key);
		keeper_hold(key, fd);
	} else
		log_info("%s: listening on %s for instance %d again", a->name,
		    label, index);
	ls->fds[slot] = fd;
	if (a->sticky && balance_attach(a, ls) == 0)
		log_info("%s: a replaced socket changes the sticky mapping",
		    a->name);
	return fd;
}

/* Note that instance process pid asked for ls. */
static void
lsock_asked(struct lsock *ls, pid_t pid)
{
	pid_t *n;
	int i;

	for (i = 0; i < ls->naskers; i++)
		if (ls->askers[i] == pid)
			return;
	if (ls->naskers == ls->askcap) {
		i = ls->askcap ? ls->askcap * 2 : 4;
		if ((n = realloc(ls->askers, (size_t)i * sizeof *n)) == NULL)
			return;
		ls->askers = n;
		ls->askcap = i;
	}
	ls->askers[ls->naskers++] = pid;
}

static int
inst_pid_live(const struct instance *in, pid_t pid)
{
	return in->running && !in->exited && in->pid == pid;
}

/* Whether pid is the live process of one of a's instances (retiring ones
 * included). */
static int
app_pid_live(const struct app *a, pid_t pid)
{
	const struct instance *in;
	int i;

	for (i = 0; i < a->ninst; i++)
		if (inst_pid_live(a->inst[i], pid))
			return 1;
	TAILQ_FOREACH(in, &a->gone, retired)
		if (inst_pid_live(in, pid))
			return 1;
	return 0;
}

/*
 * Close the shared sockets no instance of the current generation asked
 * for: once every slot's process is online by a signal of its own (it is
 * set up) and none that asked for a socket is alive any more.  --listen
 * sockets stay until delete.
 */
static void
share_sweep(struct app *a)
{
	struct lsock **pp = &a->socks, *ls;
	char label[160];
	int i, j;

	for (i = 0; i < a->ninst; i++)
		if (a->inst[i]->fsm_state != IS_ONLINE ||
		    a->inst[i]->ready_timeout)
			return;
	while ((ls = *pp) != NULL) {
		for (i = j = 0; i < ls->naskers; i++)
			if (app_pid_live(a, ls->askers[i]))
				ls->askers[j++] = ls->askers[i];
		ls->naskers = j;
		if (ls->listen || ls->naskers > 0) {
			pp = &ls->next;
			continue;
		}
		*pp = ls->next;
		lsock_label(ls, label, sizeof label);
		log_info("%s: closed %s: no instance uses it any more", a->name,
		    label);
		lsock_free(ls);
	}
}

/*
 * An instance changed state.  With one socket per slot, a slot whose
 * instance is stopped or errored (not about to come back) is closed, so
 * the kernel stops queueing connections for it; then the shared sockets
 * nobody uses any more are closed.
 */
void
share_inst_changed(struct instance *in)
{
	struct app *a = in->app;
	struct lsock *ls;
	int closed = 0;

	if (!a->share || a->socks == NULL || a->deleting || quitting)
		return;
	if (a->balance == BALANCE_REUSEPORT && !in->retiring && !in->want_up &&
	    in->index < a->ninst && a->inst[in->index] == in &&
	    (in->fsm_state == IS_STOPPED || in->fsm_state == IS_ERRORED)) {
		for (ls = a->socks; ls != NULL; ls = ls->next)
			if (balance_slotted(a, ls) && in->index < ls->nfds &&
			    ls->fds[in->index] != -1) {
				share_close_slot(ls, in->index);
				closed = 1;
			}
		if (closed)
			log_info("%s:%d %s: its slot's sockets are closed",
			    a->name, in->index, inst_status_name(in));
	}
	if (in->fsm_state == IS_ONLINE || !in->running)
		share_sweep(a);
}

/* Whether the program at path is a static
 * ELF executable, which loads no preload library: 1, 0, or -1. */
static int
elf_static(const char *path)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph;
	int fd, i, st = -1;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if (pread(fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh ||
	    memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0 ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof ph)
		goto out;
	st = 1;
	for (i = 0; i < eh.e_phnum; i++) {
		if (pread(fd, &ph, sizeof ph,
			(off_t)(eh.e_phoff + (Elf64_Off)i * sizeof ph)) !=
		    (ssize_t)sizeof ph) {
			st = -1;
			break;
		}
		if (ph.p_type == PT_INTERP) {
			st = 0;
			break;
		}
	}
out:
	close(fd);
	return st;
}

/* Whether pid's environment puts the preload library in LD_PRELOAD:
 * 1, 0, or -1 (unreadable). */
static int
environ_has_preload(pid_t pid)
{
	const char *p, *end;
	size_t len;
	char *env;
	int found = 0;

	if ((env = proc_read_environ(pid, &len)) == NULL)
		return -1;
	for (p = env, end = env + len; p < end && !found; p += strlen(p) + 1)
		found = strncmp(p, "LD_PRELOAD=", 11) == 0 &&
		    strstr(p, SPAWN_PRELOAD_NAME) != NULL;
	free(env);
	return found;
}

/*
 * The instance's program was executed: note whether the preload library
 * can be in it (a static binary cannot; a cleared LD_PRELOAD has not).
 */
void
share_inst_exec(struct instance *in)
{
	in->preload = PRELOAD_UNKNOWN;
	if (!in->app->share || spawn_preload_path() == NULL)
		return;
	/* The file the shim executed (the process may be gone already). */
	if (elf_static(in->app->exec_path) == 1)
		in->preload = PRELOAD_STATIC;
	else if (environ_has_preload(in->pid) == 0)
		in->preload = PRELOAD_MISSING;
}

/* The running instance's preload state: what it showed (a share
 * request, a static binary), else what its maps show now (a wrapper may
 * still exec the real program: not kept). */
static enum preload_state
preload_now(const struct instance *in)
{
	int m;

	if (in->preload == PRELOAD_LOADED || in->preload == PRELOAD_STATIC ||
	    !in->running || in->exited ||
	    (m = proc_maps_mention(in->pid, SPAWN_PRELOAD_NAME)) < 0)
		return in->preload;
	return m ? PRELOAD_LOADED : PRELOAD_MISSING;
}

/* What to add to a crash-looping instance's error when it could not
 * share its sockets ("" when nothing is known). */
const char *
share_preload_note(const struct instance *in)
{
	if (!in->app->share)
		return "";
	switch (in->preload) {
	case PRELOAD_STATIC:
		return " (a static binary: the preload library cannot share "
		       "its sockets; use --listen)";
	case PRELOAD_MISSING:
		return " (the preload library was not loaded, LD_PRELOAD "
		       "cleared: its sockets were not shared; use --listen)";
	default:
		return "";
	}
}

static const char *
preload_name(enum preload_state p)
{
	switch (p) {
	case PRELOAD_LOADED:
		return "loaded";
	case PRELOAD_STATIC:
		return "not loaded (static binary)";
	case PRELOAD_MISSING:
		return "not loaded (LD_PRELOAD cleared)";
	default:
		return "unknown";
	}
}

/* Describe's view of in's sockets: its listeners (the slot's own, or
 * the shared one), its share of the connections, the preload. */
void
share_inst_json(struct instance *in, json_t *row)
{
	struct app *a = in->app;
	struct lsock *ls;
	json_t *arr = json_array();
	char label[160], share[64];
	int slotted;

	for (ls = a->socks; ls != NULL; ls = ls->next) {
		slotted = balance_slotted(a, ls);
		lsock_label(ls, label, sizeof label);
		json_array_append_new(arr,
		    json_pack("{s:s, s:s, s:b}", "address", label, "socket",
			slotted ? "own" : "shared", "open",
			slotted ?
			    in->index < ls->nfds && ls->fds[in->index] != -1 :
			    ls->nfds > 0 && ls->fds[0] != -1));
	}
	json_object_set_new(row, "listeners", arr);
	if (!a->share)
		snprintf(share, sizeof share, "none (fork mode)");
	else if (a->sticky)
		snprintf(share, sizeof share, "1/%d of client addresses",
		    a->ninst);
	else if (a->balance == BALANCE_REUSEPORT)
		snprintf(share, sizeof share,
		    "1/%d of connections (kernel "
		    "hash)",
		    a->ninst);
	else
		snprintf(share, sizeof share, "one queue shared by %d",
		    a->ninst);
	json_object_set_new(row, "share", json_string(share));
	json_object_set_new(row, "preload",
	    a->share ? json_string(preload_name(preload_now(in))) :
		       json_null());
}

/* Whether path is one of a's Unix sockets (the preload library then
 * leaves the file alone when an instance unlinks it). */
int
share_is_unix(const struct app *a, const char *path)
{
	const struct lsock *ls;

	for (ls = a->socks; ls != NULL; ls = ls->next)
		if (ls->family == AF_UNIX && strcmp(ls->addr, path) == 0)
			return 1;
	return 0;
}

/*
 * Instance in binds key's address (its family, address, port, v6only,
 * reuseport): a's socket for it, opened the first time one asks, checked
 * and replaced by share_fd, and in noted as one that asked.  The
 * descriptor (the daemon's: the caller passes it, never closes it), or a
 * negative errno; label gets the address for humans either way.
 */
int
share_listen(struct instance *in, const struct lsock *key, char *label,
    size_t len)
{
	struct app *a = in->app;
	struct lsock *ls;
	int e, fd;

	for (ls = a->socks; ls != NULL; ls = ls->next)
		if (ls->family == key->family && ls->port == key->port &&
		    ls->v6only == key->v6only &&
		    strcmp(ls->addr, key->addr) == 0)
			break;
	lsock_label(key, label, len);
	if (ls == NULL) {
		if ((ls = malloc(sizeof *ls)) == NULL)
			return -ENOMEM;
		*ls = *key;
		if ((e = lsock_open(a, ls)) != 0) {
			log_warnx("%s:%d cannot listen on %s: %s", a->name,
			    in->index, label, strerror(e));
			free(ls);
			return -e;
		}
		lsock_append(a, ls);
		log_info("%s: listening on %s for its instances%s", a->name,
		    label, balance_slotted(a, ls) ? " (one socket each)" : "");
	}
	if ((fd = share_fd(a, ls, in->index)) < 0)
		return fd;
	lsock_asked(ls, in->pid);
	in->preload = PRELOAD_LOADED;
	return fd;
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
		    json_pack("{s:s, s:s, s:s, s:i}", "address", label, "kind",
			ls->listen ? "listen" : "shared", "name",
			ls->name[0] != '\0' ? ls->name : "", "sockets",
			ls->nfds));
	}
	return arr;
}

/*
 * a's sockets for an upgrade (core/upgrade.c): each one's address and who
 * asked for it, and per slot its descriptor ("fd") under the key the pool
 * knows it by (null: a closed slot).
 */
json_t *
share_handover(const struct app *a)
{
	json_t *arr = json_array(), *askers, *slots;
	const struct lsock *ls;
	char key[200];
	int i;

	for (ls = a->socks; ls != NULL; ls = ls->next) {
		askers = json_array();
		for (i = 0; i < ls->naskers; i++)
			json_array_append_new(askers,
			    json_integer(ls->askers[i]));
		slots = json_array();
		for (i = 0; i < ls->nfds; i++) {
			lsock_key(ls, i, key, sizeof key);
			json_array_append_new(slots,
			    ls->fds[i] == -1 ? json_null() :
					       json_pack("{s:s, s:i}", "key",
						   key, "fd", ls->fds[i]));
		}
		json_array_append_new(arr,
		    json_pack("{s:b, s:i, s:s, s:i, s:i, s:i, s:s, s:o, s:o}",
			"listen", ls->listen, "family", ls->family, "addr",
			ls->addr, "port", ls->port, "v6only", ls->v6only,
			"reuseport", ls->reuseport, "name", ls->name, "askers",
			askers, "slots", slots));
	}
	return arr;
}

/*
 * After an upgrade, a (created from its spec: its --listen sockets taken
 * from the pool) takes back the shared sockets its instances asked for,
 * from the pool too, and closes the slots that were closed.
 */
void
share_adopt(struct app *a, const json_t *arr)
{
	const json_t *d, *v;
	struct lsock key, *ls;
	char label[160];
	size_t i, k;
	int e;

	json_array_foreach(arr, i, d) {
		memset(&key, 0, sizeof key);
		key.listen = util_json_bool(d, "listen", 0);
		key.family = (int)util_json_int(d, "family", 0);
		key.port = (int)util_json_int(d, "port", 0);
		key.v6only = (int)util_json_int(d, "v6only", 0);
		key.reuseport = (int)util_json_int(d, "reuseport", 0);
		snprintf(key.addr, sizeof key.addr, "%s",
		    util_json_str(d, "addr", ""));
		snprintf(key.name, sizeof key.name, "%s",
		    util_json_str(d, "name", ""));
		for (ls = a->socks; ls != NULL; ls = ls->next)
			if (ls->family == key.family && ls->port == key.port &&
			    ls->v6only == key.v6only &&
			    strcmp(ls->addr, key.addr) == 0)
				break;
		lsock_label(&key, label, sizeof label);
		if (ls == NULL) {
			if (key.listen || (ls = malloc(sizeof *ls)) == NULL)
				continue;
			*ls = key;
			if ((e = lsock_open(a, ls)) != 0) {
				log_warnx("%s: cannot take %s back: %s",
				    a->name, label, strerror(e));
				free(ls);
				continue;
			}
			lsock_append(a, ls);
		}
		json_array_foreach(json_object_get(d, "askers"), k, v)
			lsock_asked(ls, (pid_t)json_integer_value(v));
		json_array_foreach(json_object_get(d, "slots"), k, v)
			if (json_is_null(v) && (int)k < ls->nfds &&
			    ls->fds[k] != -1)
				share_close_slot(ls, (int)k);
	}
}
