/*
 * The daemon's answers to requests.  A handler checks its arguments, acts,
 * and replies at once or registers a waiter that replies when the
 * instances it acted on reach the state it waits for.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "core.h"

#ifndef CLUSTERCTL_VERSION
#define CLUSTERCTL_VERSION "0.0.0"
#endif

struct handler {
	const char *cmd;
	void (*fn)(struct req *);
	int flags;
};

static json_t *
app_summary(const struct app *a)
{
	return json_pack("{s:i, s:s, s:i}", "id", a->id, "name", a->name,
	    "instances", a->ninst);
}

/* The apps r's targets name, for a reply. */
static json_t *
targets_summary(const struct targets *ts)
{
	json_t *done = json_array();
	const struct app *prev = NULL;
	struct app *a;
	size_t i;

	for (i = 0; i < ts->n; i++)
		if ((a = target_app(&ts->v[i])) != NULL && a != prev) {
			json_array_append_new(done, app_summary(a));
			prev = a;
		}
	return done;
}

/*
 * Waiting for instances to be online: replies ok when every targeted
 * instance is online, or an error naming the first that failed.
 */
static int
check_online(struct req *r)
{
	json_t *done = json_array();
	const struct target *t;
	struct instance *in;
	struct app *a;
	size_t i;
	int k, lo, hi, pending = 0;
	char why[256];

	if (r->client == NULL) { /* nobody to tell any more */
		json_decref(done);
		req_reply(r, NULL);
		return 1;
	}
	for (i = 0; i < r->targets.n; i++) {
		t = &r->targets.v[i];
		if ((a = target_app(t)) == NULL) {
			json_decref(done);
			req_error(r, IPC_E_APP_FAILED,
			    "the app was deleted before it was online");
			return 1;
		}
		target_range(t, a, &lo, &hi);
		for (k = lo; k < hi; k++) {
			in = a->inst[k];
			switch (inst_status(in)) {
			case ST_ONLINE:
				break;
			case ST_LAUNCHING:
			case ST_STOPPING:
				pending = 1;
				break;
			case ST_WAITING:
			case ST_ERRORED:
			case ST_STOPPED:
				inst_why_down(in, why, sizeof why);
				json_decref(done);
				req_error(r, IPC_E_APP_FAILED,
				    "%s:%d %s before it was online%s", a->name,
				    k, why,
				    inst_status(in) == ST_WAITING ?
					" (it will be restarted)" :
					"");
				return 1;
			}
		}
		json_array_append_new(done, app_summary(a));
	}
	if (pending) {
		json_decref(done);
		return 0;
	}
	req_reply(r, json_pack("{s:o}", "apps", done));
	return 1;
}

/* Waiting for instances to have stopped. */
static int
check_stopped(struct req *r)
{
	json_t *done = json_array();
	const struct target *t;
	struct app *a;
	size_t i;
	int k, lo, hi;

	if (r->client == NULL) { /* nobody to tell any more */
		json_decref(done);
		req_reply(r, NULL);
		return 1;
	}
	for (i = 0; i < r->targets.n; i++) {
		t = &r->targets.v[i];
		if ((a = target_app(t)) == NULL)
			continue;
		target_range(t, a, &lo, &hi);
		for (k = lo; k < hi; k++)
			if (!inst_idle(a->inst[k])) {
				json_decref(done);
				return 0;
			}
		json_array_append_new(done, app_summary(a));
	}
	req_reply(r, json_pack("{s:o}", "apps", done));
	return 1;
}

/* The app being deleted with id, or NULL once it is gone. */
static struct app *
deleting_app(int id)
{
	struct app *a;

	TAILQ_FOREACH(a, &apps, entry)
		if (a->deleting && a->id == id)
			return a;
	return NULL;
}

/* Waiting for deleted apps to have stopped, then removing them. */
static int
check_deleted(struct req *r)
{
	struct app *a;
	size_t i;

	for (i = 0; i < r->targets.n; i++)
		if ((a = deleting_app(r->targets.v[i].app_id)) != NULL &&
		    !app_all_stopped(a))
			return 0;
	for (i = 0; i < r->targets.n; i++)
		if ((a = deleting_app(r->targets.v[i].app_id)) != NULL) {
			log_info("%s deleted", a->name);
			app_reap(a);
		}
	req_reply(r,
	    json_pack("{s:O}", "apps", json_object_get(r->wait, "names")));
	return 1;
}

/* r's "wait" (default true): 0, or -1 having replied bad_request. */
static int
wait_arg(struct req *r, int *wait)
{
	*wait = 1;
	return req_args(r, "{s?b}", "wait", wait);
}

/* Reply now, or when wait is set once check says so. */
static void
wait_or_reply(struct req *r, int wait, int (*check)(struct req *))
{
	if (!wait) {
		req_reply(r, NULL);
		return;
	}
	req_wait(r, check, NULL);
}

static void
h_ping(struct req *r)
{
	json_t *o = json_pack("{s:s, s:i, s:I, s:s, s:i}", "version",
	    CLUSTERCTL_VERSION, "protocol", IPC_VERSION, "pid",
	    (json_int_t)getpid(), "home", home, "generation",
	    state_generation());

	if (state_restored() != NULL)
		json_object_set(o, "restored", (json_t *)state_restored());
	if (daemon_nofile_warning() != NULL)
		json_object_set_new(o, "warning",
		    json_string(daemon_nofile_warning()));
	if (upgrade_info() != NULL)
		json_object_set(o, "upgraded", (json_t *)upgrade_info());
	req_reply(r, o);
}

/* pm2's start of an app that runs already restarts it. */
static void
start_one(struct instance *in)
{
	enum inst_status st = inst_status(in);

	if (st == ST_LAUNCHING || st == ST_ONLINE)
		inst_restart(in, REASON_MANUAL);
	else
		inst_start(in, REASON_START);
}

static void
restart_one(struct instance *in)
{
	inst_restart(in, REASON_MANUAL);
}

/*
 * "start web" (or an id, web:1, all), naming apps and no file: start
 * those apps again, as pm2 does (with --force: a new app instead).  The
 * CLI sends a path for a file.
 */
static int
names_apps(struct req *r)
{
	const char *script = util_json_str(r->args, "script", NULL);
	struct targets ts;
	struct err e;
	json_t *words;
	int rc;

	if (json_object_get(r->args, "targets") != NULL || script == NULL ||
	    json_object_get(r->args, "name") != NULL ||
	    util_json_bool(r->args, "force", 0) || strchr(script, '/') != NULL)
		return 0;
	words = json_pack("[s]", script);
	rc = targets_resolve(words, &ts, &e) == 0;
	targets_release(&ts);
	if (rc)
		json_object_set(r->args, "targets", words);
	json_decref(words);
	return rc;
}

/* Whether an instance of a runs, or is on its way up. */
static int
app_running(const struct app *a)
{
	int k;

	for (k = 0; k < a->ninst; k++)
		switch (inst_status(a->inst[k])) {
		case ST_LAUNCHING:
		case ST_ONLINE:
		case ST_WAITING:
			return 1;
		default:
			break;
		}
	return 0;
}

/* r's targets are the whole of a: 0, or -1 having replied. */
static int
app_target(struct req *r, const struct app *a)
{
	r->targets.v = calloc(1, sizeof *r->targets.v);
	if (r->targets.v == NULL) {
		req_error(r, IPC_E_INTERNAL, "out of memory");
		return -1;
	}
	r->targets.v[0].app_id = a->id;
	r->targets.v[0].instance = -1;
	r->targets.n = 1;
	return 0;
}

static void
h_start(struct req *r)
{
	struct app *a;
	struct err e;
	int wait;

	if (wait_arg(r, &wait) != 0)
		return;
	/* "check": only say whether the spec could start (a process file is
	 * checked whole before any of its apps starts). */
	if (json_is_true(json_object_get(r->args, "check"))) {
		if (app_check(r->args, &e) != 0)
			req_fail(r, &e);
		else
			req_reply(r, NULL);
		return;
	}
	/* --metrics, --health ADDR: the daemon-wide endpoints, not part of
	 * the app. */
	if (http_from_spec(r->args, e.msg, sizeof e.msg) != 0) {
		req_error(r, IPC_E_EXEC, "%s", e.msg);
		return;
	}
	/* start TARGET...: start stopped apps. */
	if (names_apps(r) || json_object_get(r->args, "targets") != NULL) {
		if (req_targets(r, &r->targets) != 0)
			return;
		targets_each(&r->targets, start_one);
		wait_or_reply(r, wait, check_online);
		return;
	}
	/* The script of an app that is down: it starts again (pm2); one that
	 * runs is said to run, unless --force starts another. */
	if (!util_json_bool(r->args, "force", 0) &&
	    (a = app_find_same(r->args)) != NULL) {
		if (app_running(a)) {
			req_error(r, IPC_E_EXISTS,
			    "an app named '%s' exists already and runs '%s' "
			    "(restart it, or --force to start another one of "
			    "that name)",
			    a->name, util_json_str(a->spec, "script", ""));
			return;
		}
		if (app_target(r, a) != 0)
			return;
		targets_each(&r->targets, start_one);
		wait_or_reply(r, wait, check_online);
		return;
	}
	if (app_create(r->args, &a, &e) != 0) {
		req_fail(r, &e);
		return;
	}
	log_info("%s created (%d instances of %s)", a->name, a->ninst,
	    a->exec_path);
	app_start(a);
	if (app_target(r, a) != 0)
		return;
	wait_or_reply(r, wait, check_online);
}

/* stop TARGET...: a whole app also stops its replaced instances and lets
 * go of its shared sockets. */
static void
h_stop(struct req *r)
{
	const struct target *t;
	struct app *a;
	size_t i;
	int k, lo, hi, wait;

	if (wait_arg(r, &wait) != 0 || req_targets(r, &r->targets) != 0)
		return;
	for (i = 0; i < r->targets.n; i++) {
		t = &r->targets.v[i];
		a = target_app(t);
		if (t->instance < 0) {
			app_stop(a);
			share_close_shared(a);
			continue;
		}
		target_range(t, a, &lo, &hi);
		for (k = lo; k < hi; k++)
			inst_stop(a->inst[k]);
	}
	wait_or_reply(r, wait, check_stopped);
}

static void
h_restart(struct req *r)
{
	int wait;

	if (wait_arg(r, &wait) != 0 || req_targets(r, &r->targets) != 0)
		return;
	targets_each(&r->targets, restart_one);
	wait_or_reply(r, wait, check_online);
}

/* reset: clear the counters, and start what waits or gave up. */
static void
h_reset(struct req *r)
{
	if (req_targets(r, &r->targets) != 0)
		return;
	targets_each(&r->targets, inst_reset);
	req_reply(r, json_pack("{s:o}", "apps", targets_summary(&r->targets)));
}

static void
h_delete(struct req *r)
{
	json_t *names;
	struct app *a;
	size_t i;

	if (req_targets(r, &r->targets) != 0)
		return;
	for (i = 0; i < r->targets.n; i++)
		if (r->targets.v[i].instance >= 0) {
			req_error(r, IPC_E_BAD_REQUEST,
			    "delete takes apps, not instances (use scale)");
			return;
		}
	/* The names, while the apps can still be found. */
	names = json_pack("{s:o}", "names", targets_summary(&r->targets));
	for (i = 0; i < r->targets.n; i++) {
		if ((a = target_app(&r->targets.v[i])) == NULL)
			continue;
		app_stop(a);
		a->deleting = 1;
	}
	req_wait(r, check_deleted, names);
}

/*
 * update {"spec", "id"}: the app with that id (else the one named by
 * spec.name) takes spec's configuration for the processes it starts from
 * now on (restart, reload or scale then replace the running ones); with
 * an id, a new name in the spec renames it (pm2's restart --name).
 */
static void
h_update(struct req *r)
{
	const char *name;
	json_t *spec;
	struct app *a;
	struct err e;
	int n, id = -1;

	if (req_args(r, "{s:o, s?i}", "spec", &spec, "id", &id) != 0)
		return;
	if (!json_is_object(spec) ||
	    (name = util_json_str(spec, "name", NULL)) == NULL) {
		req_error(r, IPC_E_BAD_REQUEST,
		    "update needs a spec with a name");
		return;
	}
	if (id >= 0 && (a = app_find_id(id)) == NULL) {
		req_error(r, IPC_E_NOT_FOUND, "no app with id %d", id);
		return;
	}
	if (id < 0 && (a = app_find_name(name)) == NULL) {
		req_error(r, IPC_E_NOT_FOUND, "no app named '%s'", name);
		return;
	}
	if (id < 0 && app_count_name(name) > 1) {
		req_error(r, IPC_E_BAD_REQUEST,
		    "%d apps are named '%s' (started with --force): give the "
		    "id",
		    app_count_name(name), name);
		return;
	}
	if (a->reloading) {
		req_error(r, IPC_E_BUSY,
		    "'%s' is being reloaded; update it "
		    "afterwards",
		    a->name);
		return;
	}
	if (app_update(a, spec, &n, &e) != 0) {
		req_fail(r, &e);
		return;
	}
	req_reply(r,
	    json_pack("{s:[o], s:i}", "apps", app_summary(a),
		"instances_wanted", n));
}

static void
h_list(struct req *r)
{
	json_t *arr = json_array(), *rows, *row;
	struct app *a;
	size_t i;

	TAILQ_FOREACH(a, &apps, entry) {
		rows = app_list_json(a);
		json_array_foreach(rows, i, row)
			json_array_append(arr, row);
		json_decref(rows);
	}
	req_reply(r, arr);
}

static void
h_describe(struct req *r)
{
	json_t *arr;
	size_t i;

	if (req_targets(r, &r->targets) != 0)
		return;
	arr = json_array();
	for (i = 0; i < r->targets.n; i++)
		json_array_append_new(arr,
		    app_describe_json(target_app(&r->targets.v[i])));
	req_reply(r, arr);
}

/* Every app stopped: the daemon answers and goes away. */
static int
check_killed(struct req *r)
{
	json_t *lost;
	struct client *c;
	struct app *a;

	TAILQ_FOREACH(a, &apps, entry)
		if (!app_all_stopped(a))
			return 0;
	log_info("every app is stopped; the daemon exits");
	/* Lines a full disk still holds are lost now: said, not hidden. */
	lost = logs_drop_pending();
	if (r->client == NULL) {
		json_decref(lost);
		req_reply(r, NULL);
		daemon_quit();
		return 1;
	}
	c = r->client;
	c->exit_after_flush = 1;
	req_reply(r, lost != NULL ? json_pack("{s:o}", "lost", lost) : NULL);
	/* Not queued (the client is gone or could not take it): go now. */
	if (c->closing ||
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) == 0)
		daemon_quit();
	return 1;
}

/*
 * Stop every app, then exit: kill, and SIGTERM or SIGINT (r NULL: nobody
 * to answer).  r is answered before the daemon exits.
 */
void
handlers_shutdown(struct req *r)
{
	struct app *a;

	if (r == NULL && (r = calloc(1, sizeof *r)) == NULL)
		daemon_quit();
	if (!quitting)
		log_info("asked to exit: stopping every app");
	quitting = 1;
	TAILQ_FOREACH(a, &apps, entry)
		app_stop(a);
	req_wait(r, check_killed, NULL);
}

static void
h_kill(struct req *r)
{
	handlers_shutdown(r);
}

/*
 * wait: like check_online, but an instance in backoff is still on its way
 * (only errored or stopped ones fail), and a request whose client went
 * away (its timeout passed) is dropped.
 */
static int
check_ready(struct req *r)
{
	const struct target *t;
	struct instance *in;
	struct app *a;
	size_t i;
	int k, lo, hi, pending = 0;

	if (r->client == NULL) {
		req_error(r, IPC_E_TIMEOUT, "nobody waits any more");
		return 1;
	}
	for (i = 0; i < r->targets.n; i++) {
		t = &r->targets.v[i];
		if ((a = target_app(t)) == NULL) {
			req_error(r, IPC_E_APP_FAILED,
			    "an app was deleted while waiting for it");
			return 1;
		}
		target_range(t, a, &lo, &hi);
		for (k = lo; k < hi; k++) {
			in = a->inst[k];
			if (inst_status(in) == ST_ERRORED ||
			    inst_status(in) == ST_STOPPED) {
				req_error(r, IPC_E_APP_FAILED,
				    "%s:%d is %s%s%s", a->name, k,
				    inst_status_name(in),
				    in->error != NULL ? ": " : "",
				    in->error != NULL ? in->error : "");
				return 1;
			}
			if (inst_status(in) != ST_ONLINE)
				pending = 1;
		}
	}
	if (pending)
		return 0;
	req_reply(r, json_pack("{s:o}", "apps", targets_summary(&r->targets)));
	return 1;
}

static void
h_wait(struct req *r)
{
	if (req_targets(r, &r->targets) != 0)
		return;
	req_wait(r, check_ready, NULL);
}

/* Requests that only look need no state saved before their reply. */
#define H_LOOKS 0x1
/* Requests that may start processes: refused while shutting down. */
#define H_STARTS 0x2
/* Requests whose reply says what keeps the daemon from starting more
 * (its descriptor limit: daemon_nofile_warning), as "warning". */
#define H_WARNS 0x4

static const struct handler handlers[] = {
	{ "ping", h_ping, H_LOOKS | H_WARNS },
	{ "start", h_start, H_STARTS | H_WARNS },
	{ "stop", h_stop, 0 },
	{ "restart", h_restart, H_STARTS | H_WARNS },
	{ "reset", h_reset, H_STARTS | H_WARNS },
	{ "delete", h_delete, 0 },
	{ "list", h_list, H_LOOKS | H_WARNS },
	{ "describe", h_describe, H_LOOKS },
	{ "kill", h_kill, 0 },
	{ "update", h_update, H_STARTS },
	{ "wait", h_wait, H_LOOKS },
	{ "logs", handle_logs, H_LOOKS },
	{ "flush", handle_flush, H_LOOKS },
	{ "reload-logs", handle_reload_logs, H_LOOKS },
	{ "share", share_handle, H_LOOKS | H_STARTS },
	{ "reload", reload_handle, H_STARTS | H_WARNS },
	{ "scale", scale_handle, H_STARTS | H_WARNS },
	{ "dump", state_handle_dump, H_LOOKS },
	{ "resurrect", state_handle_resurrect, H_STARTS | H_WARNS },
	{ "metrics", metrics_handle, H_LOOKS },
	{ "set", update_handle, 0 },
	{ "signal", deliver_handle_signal, H_LOOKS },
	{ "send", deliver_handle_send, H_LOOKS },
	{ "upgrade", upgrade_handle, H_LOOKS },
};

void
handle_request(struct req *r)
{
	size_t i;

	for (i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
		if (strcmp(handlers[i].cmd, r->cmd) != 0)
			continue;
		r->mutates = !(handlers[i].flags & H_LOOKS);
		r->warns = (handlers[i].flags & H_WARNS) != 0;
		/* Once kill stops every app, nothing starts again: the
		 * shutdown always finishes. */
		if (quitting && (handlers[i].flags & H_STARTS))
			req_error(r, IPC_E_BUSY, "the daemon is shutting down");
		else
			handlers[i].fn(r);
		return;
	}
	req_error(r, IPC_E_UNKNOWN_CMD, "unknown command '%s'", r->cmd);
}
