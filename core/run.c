/*
 * The daemon in the foreground (clusterctl run, start --no-daemon): a
 * container's main process or a systemd service (Type=notify).  It is the
 * same daemon, control socket included, with the caller's stdout and
 * stderr as its console (console.c); on top it decides when to leave
 * (--exit-on) and with which code, and tells a service manager how it
 * is doing (READY=1, STATUS=, WATCHDOG=1, STOPPING=1 on NOTIFY_SOCKET).
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "core.h"
#include "run.h"

static enum run_exit_on exit_on;
static int fail_code;  /* could not start its apps: this code */
static int sd_fd = -1; /* the service manager's notify socket */
static struct sockaddr_un sd_addr;
static socklen_t sd_addrlen;
static int sd_ready_sent;
static int sd_stopping_sent;
static char sd_status[300];
static uv_timer_t watchdog_timer;

/* One datagram to the service manager, if there is one. */
static void
sd_send(const char *msg)
{
	if (sd_fd == -1)
		return;
	if (sendto(sd_fd, msg, strlen(msg), MSG_NOSIGNAL,
		(struct sockaddr *)&sd_addr, sd_addrlen) == -1)
		log_warn("cannot notify the service manager (%s)", msg);
}

static void
watchdog_cb(uv_timer_t *t)
{
	(void)t;
	sd_send("WATCHDOG=1");
}

/*
 * NOTIFY_SOCKET and WATCHDOG_USEC, as systemd gives them; they describe
 * this process, so they leave its environment.
 */
static void
sd_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET"), *us, *wpid;
	unsigned long long usec;
	char *end;
	size_t len;

	us = getenv("WATCHDOG_USEC");
	wpid = getenv("WATCHDOG_PID");
	if (path != NULL && (path[0] == '/' || path[0] == '@') &&
	    (len = strlen(path)) < sizeof sd_addr.sun_path) {
		memset(&sd_addr, 0, sizeof sd_addr);
		sd_addr.sun_family = AF_UNIX;
		memcpy(sd_addr.sun_path, path, len);
		if (path[0] == '@')
			sd_addr.sun_path[0] = '\0';
		sd_addrlen = (socklen_t)(offsetof(struct sockaddr_un,
					     sun_path) +
		    len + (path[0] == '/'));
		sd_fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		if (sd_fd == -1)
			log_warn("cannot open a socket for NOTIFY_SOCKET");
	}
	if (sd_fd != -1 && us != NULL &&
	    (wpid == NULL || atol(wpid) == (long)getpid())) {
		errno = 0;
		usec = strtoull(us, &end, 10);
		if (errno == 0 && *us != '\0' && *end == '\0' && usec > 0) {
			/* Twice per interval, as sd_watchdog_enabled(3) asks.
			 */
			uv_timer_init(loop, &watchdog_timer);
			uv_timer_start(&watchdog_timer, watchdog_cb, 0,
			    usec / 2000 > 0 ? usec / 2000 : 1);
			uv_unref((uv_handle_t *)&watchdog_timer);
			log_info("watchdog: WATCHDOG=1 every %llu ms",
			    usec / 2000 > 0 ? usec / 2000 : 1);
		}
	}
	unsetenv("NOTIFY_SOCKET");
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
}

/* How the instances are, counted for the exit decision and STATUS=. */
struct run_counts {
	int apps, total, online, launching, waiting, errored, ended, live;
};

static void
count(struct run_counts *c)
{
	enum inst_status st;
	struct instance *in;
	struct app *a;
	int i;

	memset(c, 0, sizeof *c);
	TAILQ_FOREACH(a, &apps, entry) {
		if (a->deleting)
			continue;
		c->apps++;
		for (i = 0; i < a->ninst; i++) {
			in = a->inst[i];
			c->total++;
			st = inst_status(in);
			if (!inst_idle(in))
				c->live++;
			if (st == ST_ONLINE)
				c->online++;
			else if (st == ST_LAUNCHING)
				c->launching++;
			else if (st == ST_WAITING)
				c->waiting++;
			else if (st == ST_ERRORED)
				c->errored++;
			else if (st == ST_STOPPED && in->stopped_by_exit)
				c->ended++;
		}
	}
}

/*
 * The exit code: RUN_EXIT_APP_ERRORED when an instance is errored, else
 * the code of the first instance that ended on its own with a failure
 * (128 + N for a signal N, as a shell says), else 0 (every app exited 0
 * or was stopped).
 */
static int
run_exit_code(void)
{
	const struct exit_record *e;
	struct instance *in;
	struct app *a;
	int64_t first = INT64_MAX;
	int i, code = 0;

	if (fail_code != 0)
		return fail_code;
	TAILQ_FOREACH(a, &apps, entry)
		for (i = 0; i < a->ninst; i++) {
			in = a->inst[i];
			if (inst_status(in) == ST_ERRORED)
				return RUN_EXIT_APP_ERRORED;
			if (inst_status(in) != ST_STOPPED ||
			    !in->stopped_by_exit || !in->have_exit ||
			    (e = inst_last_exit(in)) == NULL)
				continue;
			if ((e->signal != 0 || e->code != 0) &&
			    e->when < first) {
				first = e->when;
				code = e->signal != 0 ? 128 + e->signal :
							e->code;
			}
		}
	return code;
}

/* STATUS=, READY=1 once no instance is still launching, STOPPING=1. */
static void
sd_update(const struct run_counts *c)
{
	char msg[300];
	int n;

	if (sd_fd == -1)
		return;
	n = snprintf(msg, sizeof msg,
	    "STATUS=%d app%s, %d of %d instance%s "
	    "online",
	    c->apps, c->apps == 1 ? "" : "s", c->online, c->total,
	    c->total == 1 ? "" : "s");
	if (c->waiting > 0 && n > 0 && (size_t)n < sizeof msg)
		n += snprintf(msg + n, sizeof msg - (size_t)n,
		    ", %d waiting to restart", c->waiting);
	if (c->errored > 0 && n > 0 && (size_t)n < sizeof msg)
		snprintf(msg + n, sizeof msg - (size_t)n, ", %d errored",
		    c->errored);
	if (strcmp(msg, sd_status) != 0) {
		snprintf(sd_status, sizeof sd_status, "%s", msg);
		sd_send(msg);
	}
	if (!sd_ready_sent && c->launching == 0 && !quitting) {
		sd_ready_sent = 1;
		sd_send("READY=1");
		log_info("told the service manager: ready (%s)", msg + 7);
	}
	if (quitting && !sd_stopping_sent) {
		sd_stopping_sent = 1;
		sd_send("STOPPING=1");
	}
}

/*
 * Asked after every change: tell the service manager, and leave (stop
 * every app, then exit) once --exit-on says so.
 */
static int
run_check(struct req *r)
{
	struct run_counts c;
	const char *why = NULL;

	(void)r;
	count(&c);
	sd_update(&c);
	if (quitting)
		return 0;
	switch (exit_on) {
	case RUN_EXIT_ALL:
		if (c.live == 0)
			why = c.errored > 0 ? "an app is errored and no app "
					      "runs any more" :
					      "no app is running any more";
		break;
	case RUN_EXIT_ANY:
		if (c.ended > 0 || c.errored > 0)
			why = c.errored > 0 ? "an app is errored" :
					      "an app has ended";
		else if (c.live == 0)
			why = "no app is running any more";
		break;
	case RUN_EXIT_ERRORED:
		if (c.errored > 0)
			why = "an app is errored";
		else if (c.live == 0)
			why = "no app is running any more";
		break;
	case RUN_EXIT_NEVER:
		break;
	}
	if (why != NULL)
		daemon_shutdown(why);
	return 0;
}

/* Whether the app named name is one to leave stopped. */
static int
is_idle(const struct run_opts *o, const char *name)
{
	json_t *v;
	size_t i;

	json_array_foreach(o->idle, i, v)
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), name) == 0)
			return 1;
	return 0;
}

/*
 * Create every app of o, then start them (but the idle ones): none
 * starts unless all could be made.  0, or the exit code.
 */
static int
create_apps(const struct run_opts *o)
{
	struct app **made;
	struct err e;
	json_t *spec;
	const char *file;
	char msg[sizeof e.msg + PATH_MAX + 64];
	size_t i, n = 0;

	if ((made = calloc(json_array_size(o->apps) + 1, sizeof *made)) == NULL)
		return RUN_EXIT_FAIL;
	/* --metrics, --health: the daemon's endpoints, not an app's */
	if ((o->metrics != NULL &&
		http_serve(HTTP_METRICS, o->metrics, e.msg, sizeof e.msg) !=
		    0) ||
	    (o->health != NULL &&
		http_serve(HTTP_HEALTH, o->health, e.msg, sizeof e.msg) != 0)) {
		console_error(e.msg);
		free(made);
		return RUN_EXIT_FAIL;
	}
	json_array_foreach(o->apps, i, spec) {
		json_object_del(spec, "metrics");
		json_object_del(spec, "health");
		if (app_create(spec, &made[n], &e) != 0) {
			/* an app of a process file: say which */
			if ((file = json_string_value(json_object_get(spec,
				 "process_file"))) != NULL)
				snprintf(msg, sizeof msg, "%s: app '%s': %s",
				    file,
				    json_is_string(
					json_object_get(spec, "name")) ?
					json_string_value(
					    json_object_get(spec, "name")) :
					"?",
				    e.msg);
			else
				snprintf(msg, sizeof msg, "%s", e.msg);
			console_error(msg);
			free(made);
			return RUN_EXIT_FAIL;
		}
		log_info("%s created (%d instances of %s)", made[n]->name,
		    made[n]->ninst, made[n]->exec_path);
		n++;
	}
	for (i = 0; i < n; i++)
		if (!is_idle(o, made[i]->name))
			app_start(made[i]);
	free(made);
	return 0;
}

/*
 * A service that starts with no app to restore (a boot, after a clean
 * stop) starts what the dump of 'clusterctl save' holds, as resurrect.
 */
static void
resurrect_dump(void)
{
	char path[PATH_MAX], err[512];
	json_t *doc, *rep;

	if (state_restored() != NULL)
		return; /* back from a death: newer than any dump */
	snprintf(path, sizeof path, "%s/dump.json", home);
	if (access(path, F_OK) != 0)
		return;
	if ((doc = state_read_file(path, err, sizeof err)) == NULL) {
		log_warnx("cannot resurrect %s: %s", path, err);
		return;
	}
	rep = state_apply(doc, NULL, STATE_KEEP_IDS);
	log_info("resurrected %zu app%s from %s",
	    json_array_size(json_object_get(rep, "started")),
	    json_array_size(json_object_get(rep, "started")) == 1 ? "" : "s",
	    path);
	json_decref(rep);
	json_decref(doc);
}

int
run_main(const char *h, const struct run_opts *o)
{
	struct req *r;
	int rc;

	if ((rc = console_open(o->json, o->quiet)) != 0) {
		fprintf(stderr,
		    "clusterctl: cannot use stdout and stderr: %s\n",
		    strerror(-rc));
		return RUN_EXIT_FAIL;
	}
	if ((rc = daemon_setup(h, 1)) != 0)
		return rc < 0 ? RUN_EXIT_FAIL : rc;
	exit_on = o->exit_on;
	daemon_exit_code = run_exit_code;
	sd_init();
	/* A service's apps come back after a death; a container's are the
	 * ones it was given. */
	state_init(o->service);
	keeper_up();
	if ((fail_code = create_apps(o)) != 0)
		daemon_quit();
	if (o->service)
		resurrect_dump();
	/* A waiter with nobody to answer: asked after every change. */
	if ((r = calloc(1, sizeof *r)) == NULL ||
	    (r->cmd = strdup("run")) == NULL) {
		fail_code = RUN_EXIT_FAIL;
		daemon_quit();
	}
	r->args = json_object();
	req_wait(r, run_check, NULL);
	uv_run(loop, UV_RUN_DEFAULT);
	daemon_quit();
	return 0;
}
