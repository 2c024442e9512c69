/*
 * The new image of an in-place upgrade (core/upgrade.c is the old one's
 * side, docs/state.md the design): a daemon started by execve with
 * CLUSTERCTL_UPGRADE_FD reads the handover document first thing
 * (upgrade_begin: the daemon lock, the sockets into the pool the daemon
 * takes its sockets from, the keeper channel), then, once it listens,
 * creates each app again from its spec and adopts its instances, log
 * pipes and sockets instead of starting anything, and serves the clients
 * of the old image on (upgrade_resume).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "core.h"

#ifndef CLUSTERCTL_VERSION
#define CLUSTERCTL_VERSION "0.0.0"
#endif

/* The largest handover document read. */
#define UPGRADE_MAX_SIZE (256 * 1024 * 1024)

static json_t *handover; /* what the old image handed over */
static int resuming;
static json_t *upgraded; /* for ping: {"from_version", "at", "binary"} */

/* Whether this image was started by an upgrade (upgrade_begin found it). */
int
upgrade_resuming(void)
{
	return resuming;
}

/* The caller's descriptor limit the image before kept for apps, or -1. */
long long
upgrade_nofile_orig(void)
{
	return resuming ? util_json_int(handover, "nofile", 0) : -1;
}

/* What the last upgrade was, for ping, or NULL. */
const json_t *
upgrade_info(void)
{
	return upgraded;
}

static json_t *
read_handover(int fd, char *err, size_t errlen)
{
	json_error_t je;
	struct stat st;
	json_t *doc;
	char *buf;
	ssize_t n;
	size_t off = 0;

	if (fstat(fd, &st) == -1 || st.st_size <= 0 ||
	    st.st_size > UPGRADE_MAX_SIZE) {
		snprintf(err, errlen, "no handover document");
		return NULL;
	}
	if ((buf = malloc((size_t)st.st_size)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	while (off < (size_t)st.st_size) {
		n = pread(fd, buf + off, (size_t)st.st_size - off, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	doc = json_loadb(buf, off, 0, &je);
	free(buf);
	if (doc == NULL) {
		snprintf(err, errlen, "unreadable handover: %s", je.text);
		return NULL;
	}
	if (strcmp(util_json_str(doc, "format", ""), UPGRADE_FORMAT) != 0 ||
	    util_json_int(doc, "version", 0) != UPGRADE_HANDOVER_VERSION) {
		snprintf(err, errlen,
		    "a handover of another format or version");
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/*
 * First thing at the start of a daemon: whether an upgrade started it.
 * Then the handover is read, every socket goes to the pool that
 * server_listen, notify_open and the apps' sockets take from, the keeper
 * channel is taken back, and the daemon lock's descriptor is returned;
 * otherwise -1.  A handover that cannot be read ends this image (its
 * keeper starts a new daemon, which restores the state file).
 */
int
upgrade_begin(void)
{
	const char *v = getenv(UPGRADE_ENV);
	json_t *entry, *sock, *slot;
	char err[256];
	size_t i, j, k;
	int fd;

	if (v == NULL)
		return -1;
	fd = atoi(v);
	unsetenv(UPGRADE_ENV);
	handover = read_handover(fd, err, sizeof err);
	close(fd);
	if (handover == NULL) {
		/* stderr is daemon.log (the image before made it so). */
		fprintf(stderr,
		    "clusterctl: cannot take over after an upgrade: %s\n", err);
		_exit(1);
	}
	resuming = 1;
	if ((fd = (int)util_json_int(handover, "control_fd", -1)) >= 0)
		keeper_pool_put("control", fd);
	if ((fd = (int)util_json_int(handover, "notify_fd", -1)) >= 0)
		keeper_pool_put("notify", fd);
	json_array_foreach(json_object_get(handover, "apps"), i, entry)
		json_array_foreach(json_object_get(entry, "sockets"), j, sock)
			json_array_foreach(json_object_get(sock, "slots"), k,
			    slot)
				if ((fd = (int)util_json_int(slot, "fd", -1)) >=
				    0)
					keeper_pool_put(util_json_str(slot,
							    "key", ""),
					    fd);
	if ((fd = (int)util_json_int(handover, "keeper_fd", -1)) >= 0)
		keeper_adopt(fd);
	return (int)util_json_int(handover, "lock_fd", -1);
}

/* The process of an instance that is not adopted goes, with its group. */
static void
kill_process(const json_t *o)
{
	pid_t pid = (pid_t)util_json_int(o, "pid", 0);

	if (pid > 0 && util_json_int(o, "running", 0) &&
	    !util_json_int(o, "exited", 0)) {
		(void)kill(-pid, SIGKILL);
		(void)kill(pid, SIGKILL);
		(void)waitpid(pid, NULL, 0);
	}
}

/* An app that could not be created again: its processes go. */
static void
kill_orphans(const json_t *entry)
{
	const json_t *o;
	size_t i;

	json_array_foreach(json_object_get(entry, "instance_states"), i, o)
		kill_process(o);
}

/* One app of the handover, created again and its instances adopted:
 * how many processes were adopted, or -1. */
static int
adopt_app(const json_t *entry, json_t *failed)
{
	const json_t *o;
	const char *d;
	struct app *a;
	struct err e;
	size_t i;
	int n = 0;

	if (state_create_app(entry, NULL, STATE_KEEP_IDS, &a, &e) != 0) {
		json_array_append_new(failed,
		    json_pack("{s:s, s:s}", "name",
			util_json_str(entry, "name", "?"), "error", e.msg));
		kill_orphans(entry);
		return -1;
	}
	share_adopt(a, json_object_get(entry, "sockets"));
	a->reload_ms = util_json_int(entry, "reload_ms", -1);
	a->ready_ms = util_json_int(entry, "ready_ms", -1);
	json_array_foreach(json_object_get(entry, "instance_states"), i, o) {
		if ((int)i >= a->ninst)
			break;
		if (inst_adopt(a->inst[i], o) == 0) {
			if (a->inst[i]->running)
				n++;
			continue;
		}
		/* A state this image does not know (a downgrade): its
		 * process is replaced, for reason upgrade. */
		log_warnx("%s:%zu cannot be adopted (state '%s'): started "
			  "again",
		    a->name, i, util_json_str(o, "state", "?"));
		kill_process(o);
		d = json_string_value(
		    json_array_get(json_object_get(entry, "desired"), i));
		if (d == NULL || strcmp(d, "stopped") != 0)
			inst_start(a->inst[i], REASON_UPGRADE);
	}
	return n;
}

/* The log pipes, read again where the image before stopped. */
static void
adopt_pipes(void)
{
	const json_t *p;
	struct app *a;
	size_t i, len;
	char *line;
	int fd;

	json_array_foreach(json_object_get(handover, "pipes"), i, p) {
		fd = (int)util_json_int(p, "fd", -1);
		a = app_find_id((int)util_json_int(p, "app_id", -1));
		if (fd < 0)
			continue;
		if (a == NULL) {
			close(fd); /* a leftover of an app deleted meanwhile */
			continue;
		}
		line = util_hex_value(json_object_get(p, "line"), &len);
		if (logpipe_adopt(a, (int)util_json_int(p, "index", 0),
			(int)util_json_int(p, "stream", 1), fd, line, len,
			util_json_bool(p, "grown", 0)) != 0)
			log_warnx("%s: a log pipe could not be read again",
			    a->name);
		free(line);
	}
}

/*
 * The daemon serves again (upgrade_begin gave it its sockets): the apps
 * of the handover are created from their specs and take over their
 * instances, pipes and sockets; nothing starts.  The client that asked
 * gets its answer from this image.
 */
void
upgrade_resume(void)
{
	json_t *entry, *failed = json_array();
	struct instance *in;
	struct app *a;
	struct req *r;
	char merr[256];
	const char *maddr = util_json_str(handover, "metrics", NULL);
	size_t i;
	int n, napps = 0, ninst = 0, k;

	state_init_upgraded((int)util_json_int(handover, "generation", 0));
	json_array_foreach(json_object_get(handover, "apps"), i, entry) {
		if ((n = adopt_app(entry, failed)) >= 0) {
			napps++;
			ninst += n;
		}
	}
	adopt_pipes();
	if (maddr != NULL &&
	    (metrics_address() == NULL || strcmp(metrics_address(), maddr)) &&
	    metrics_listen(maddr, merr, sizeof merr) != 0)
		log_warnx("%s", merr);
	if (keeper_attached())
		keeper_exe(self_exe);
	/* What exited while no image watched is a zombie still: reaped. */
	TAILQ_FOREACH(a, &apps, entry)
		for (k = 0; k < a->ninst; k++) {
			in = a->inst[k];
			inst_reap_orphans(in);
		}
	upgraded = json_pack("{s:s, s:s, s:I, s:i}", "from_version",
	    util_json_str(handover, "from_version", "?"), "binary", self_exe,
	    "at", (json_int_t)util_json_int(handover, "at", 0), "generation",
	    state_generation());
	log_info("upgraded in place from %s to %s (%s), generation %d: "
		 "adopted %d app%s and %d running process%s",
	    util_json_str(handover, "from_version", "?"), CLUSTERCTL_VERSION,
	    self_exe, state_generation(), napps, napps == 1 ? "" : "s", ninst,
	    ninst == 1 ? "" : "es");
	/* The clients: the one that asked gets its answer from us. */
	if ((r = server_adopt(json_object_get(handover, "clients"),
		 "upgrade")) != NULL) {
		r->mutates = 1;
		req_reply(r,
		    json_pack("{s:s, s:s, s:s, s:I, s:i, s:i, s:i, s:o}",
			"version", CLUSTERCTL_VERSION, "from_version",
			util_json_str(handover, "from_version", "?"), "binary",
			self_exe, "pid", (json_int_t)getpid(), "generation",
			state_generation(), "apps", napps, "processes", ninst,
			"failed", json_incref(failed)));
	}
	json_decref(failed);
	json_decref(handover);
	handover = NULL;
	daemon_changed();
}
