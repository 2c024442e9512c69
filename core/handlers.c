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
};

static json_t *
app_summary(const struct app *a)
{
	return json_pack("{s:i, s:s, s:i}", "id", a->id, "name", a->name,
	    "instances", a->ninst);
}

/* The instances a resolved target names. */
static void
target_range(const struct app *a, const json_t *t, int *lo, int *hi)
{
	int inst = (int)util_json_int(t, "instance", -1);

	if (inst < 0) {
		*lo = 0;
		*hi = a->ninst;
	} else {
		*lo = inst;
		*hi = inst + 1;
	}
}

/* Resolve r's "targets"; on failure reply and return NULL. */
json_t *
req_targets(struct req *r)
{
	char err[256];
	json_t *t;

	if (app_resolve_targets(json_object_get(r->args, "targets"), &t, err,
	    sizeof err) != 0) {
		req_error(r, strncmp(err, "no app", 6) == 0 ||
		    strstr(err, "has no instance") != NULL ? IPC_E_NOT_FOUND :
		    IPC_E_BAD_REQUEST, "%s", err);
		return NULL;
	}
	return t;
}

/*
 * Waiting for instances to be online: replies ok when every targeted
 * instance is online, or an error naming the first that failed.
 */
static int
check_online(struct req *r)
{
	json_t *t, *done = json_array();
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
	json_array_foreach(json_object_get(r->wait, "targets"), i, t) {
		a = app_find_id((int)util_json_int(t, "app", -1));
		if (a == NULL) {
			json_decref(done);
			req_error(r, IPC_E_APP_FAILED,
			    "the app was deleted before it was online");
			return 1;
		}
		target_range(a, t, &lo, &hi);
		for (k = lo; k < hi && k < a->ninst; k++) {
			in = a->inst[k];
			switch (in->state) {
			case ST_ONLINE:
				break;
			case ST_LAUNCHING:
			case ST_STOPPING:
				pending = 1;
				break;
			case ST_WAITING:
			case ST_ERRORED:
			case ST_STOPPED:
				if (in->error != NULL)
					snprintf(why, sizeof why, "%s", in->error);
				else if (in->have_exit && in->exit_signal != 0)
					snprintf(why, sizeof why,
					    "was killed by %s",
					    util_signal_name(in->exit_signal));
				else if (in->have_exit)
					snprintf(why, sizeof why,
					    "exited with code %d", in->exit_code);
				else
					snprintf(why, sizeof why, "was stopped");
				json_decref(done);
				req_error(r, IPC_E_APP_FAILED,
				    "%s:%d %s before it was online%s", a->name,
				    k, why, in->state == ST_WAITING ?
				    " (it will be restarted)" : "");
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
	json_t *t, *done = json_array();
	struct app *a;
	size_t i;
	int k, lo, hi;

	if (r->client == NULL) { /* nobody to tell any more */
		json_decref(done);
		req_reply(r, NULL);
		return 1;
	}
	json_array_foreach(json_object_get(r->wait, "targets"), i, t) {
		a = app_find_id((int)util_json_int(t, "app", -1));
		if (a == NULL)
			continue;
		target_range(a, t, &lo, &hi);
		for (k = lo; k < hi && k < a->ninst; k++)
			if (!inst_idle(a->inst[k])) {
				json_decref(done);
				return 0;
			}
		json_array_append_new(done, app_summary(a));
	}
	req_reply(r, json_pack("{s:o}", "apps", done));
	return 1;
}

/* Waiting for deleted apps to have stopped, then removing them. */
static int
check_deleted(struct req *r)
{
	json_t *t;
	struct app *a, *next;
	size_t i;

	json_array_foreach(json_object_get(r->wait, "targets"), i, t) {
		TAILQ_FOREACH(a, &apps, entry)
			if (a->id == (int)util_json_int(t, "app", -1) &&
			    !app_all_stopped(a))
				return 0;
	}
	json_array_foreach(json_object_get(r->wait, "targets"), i, t) {
		TAILQ_FOREACH_SAFE(a, &apps, entry, next)
			if (a->deleting &&
			    a->id == (int)util_json_int(t, "app", -1)) {
				log_info("%s deleted", a->name);
				app_reap(a);
			}
	}
	req_reply(r, json_pack("{s:O}", "apps", json_object_get(r->wait,
	    "names")));
	return 1;
}

static void
wait_or_reply(struct req *r, json_t *targets, int (*check)(struct req *))
{
	if (!util_json_bool(r->args, "wait", 1)) {
		json_decref(targets);
		req_reply(r, NULL);
		return;
	}
	req_wait(r, check, json_pack("{s:o}", "targets", targets));
}

static void
h_ping(struct req *r)
{
	req_reply(r, json_pack("{s:s, s:i, s:I, s:s}", "version",
	    CLUSTERCTL_VERSION, "protocol", IPC_VERSION, "pid",
	    (json_int_t)getpid(), "home", home));
}

static void
h_start(struct req *r)
{
	const char *script;
	struct app *a;
	char err[512];
	json_t *targets;
	int rc;

	if (quitting) {
		req_error(r, IPC_E_BUSY, "the daemon is shutting down");
		return;
	}
	/* --metrics ADDR: the daemon-wide endpoint, not part of the app. */
	if (json_is_string(json_object_get(r->args, "metrics"))) {
		if (metrics_listen(util_json_str(r->args, "metrics", ""), err,
		    sizeof err) != 0) {
			req_error(r, IPC_E_EXEC, "%s", err);
			return;
		}
		json_object_del(r->args, "metrics");
	}
	/*
	 * "start web" (or an id, web:1, all), naming apps and no file: start
	 * those apps again, as pm2 does.  The CLI sends a path for a file.
	 */
	script = util_json_str(r->args, "script", NULL);
	if (json_object_get(r->args, "targets") == NULL && script != NULL &&
	    json_object_get(r->args, "name") == NULL &&
	    strchr(script, '/') == NULL) {
		json_t *t = json_pack("[s]", script), *res = NULL;

		if (app_resolve_targets(t, &res, err, sizeof err) == 0)
			json_object_set(r->args, "targets", t);
		json_decref(res);
		json_decref(t);
	}
	/* start TARGET...: start stopped apps. */
	if (json_object_get(r->args, "targets") != NULL) {
		size_t i;
		json_t *t;

		if ((targets = req_targets(r)) == NULL)
			return;
		json_array_foreach(targets, i, t) {
			int k, lo, hi;

			a = app_find_id((int)util_json_int(t, "app", -1));
			target_range(a, t, &lo, &hi);
			for (k = lo; k < hi; k++)
				inst_event(a->inst[k], EV_START);
		}
		wait_or_reply(r, targets, check_online);
		return;
	}
	rc = app_create(r->args, &a, err, sizeof err);
	if (rc != 0) {
		req_error(r, rc == -2 ? IPC_E_EXISTS :
		    rc == -3 || rc == -4 ? IPC_E_EXEC : IPC_E_BAD_REQUEST, "%s",
		    err);
		return;
	}
	log_info("%s created (%d instances of %s)", a->name, a->ninst,
	    a->exec_path);
	memlimit_update();
	app_start(a);
	wait_or_reply(r, json_pack("[{s:i, s:i}]", "app", a->id, "instance",
	    -1), check_online);
}

/* stop, restart and reset: each targeted instance gets events. */
static void
act_on_targets(struct req *r, int restart, int reset)
{
	json_t *targets, *t;
	struct instance *in;
	struct app *a;
	size_t i;
	int k, lo, hi;

	if ((targets = req_targets(r)) == NULL)
		return;
	json_array_foreach(targets, i, t) {
		a = app_find_id((int)util_json_int(t, "app", -1));
		target_range(a, t, &lo, &hi);
		if (!restart && !reset && util_json_int(t, "instance", -1) < 0) {
			/* The whole app stops: replaced instances too, and
			 * the daemon lets go of its shared sockets. */
			TAILQ_FOREACH(in, &a->gone, retired)
				inst_event(in, EV_STOP);
			share_close(a, 0);
		}
		for (k = lo; k < hi; k++) {
			in = a->inst[k];
			if (reset || restart) {
				/* A manual restart or reset clears the
				 * backoff and the crash-loop count. */
				in->crashes = 0;
				in->unstable = 0;
				in->delay_ms = 0;
			}
			if (reset) {
				in->restarts = 0;
				in->nexits = 0;
				in->have_exit = 0;
				if (in->state == ST_WAITING ||
				    in->state == ST_ERRORED)
					inst_event(in, EV_START);
				continue;
			}
			inst_restart(in, restart);
		}
	}
	if (reset) {
		json_t *done = json_array();

		json_array_foreach(targets, i, t)
			json_array_append_new(done, app_summary(app_find_id(
			    (int)util_json_int(t, "app", -1))));
		json_decref(targets);
		req_reply(r, json_pack("{s:o}", "apps", done));
		return;
	}
	wait_or_reply(r, targets, restart ? check_online : check_stopped);
}

static void
h_stop(struct req *r)
{
	act_on_targets(r, 0, 0);
}

static void
h_restart(struct req *r)
{
	if (quitting) {
		req_error(r, IPC_E_BUSY, "the daemon is shutting down");
		return;
	}
	act_on_targets(r, 1, 0);
}

static void
h_reset(struct req *r)
{
	act_on_targets(r, 0, 1);
}

static void
h_delete(struct req *r)
{
	json_t *targets, *t, *names = json_array(), *apps_only = json_array();
	struct app *a;
	size_t i;

	if ((targets = req_targets(r)) == NULL) {
		json_decref(names);
		json_decref(apps_only);
		return;
	}
	json_array_foreach(targets, i, t) {
		if (util_json_int(t, "instance", -1) >= 0) {
			json_decref(targets);
			json_decref(names);
			json_decref(apps_only);
			req_error(r, IPC_E_BAD_REQUEST,
			    "delete takes apps, not instances (use scale)");
			return;
		}
	}
	json_array_foreach(targets, i, t) {
		a = app_find_id((int)util_json_int(t, "app", -1));
		if (a == NULL)
			continue;
		json_array_append_new(names, app_summary(a));
		json_array_append_new(apps_only, json_pack("{s:i}", "app",
		    a->id));
		app_stop(a, 0);
		a->deleting = 1;
	}
	json_decref(targets);
	req_wait(r, check_deleted, json_pack("{s:o, s:o}", "targets",
	    apps_only, "names", names));
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
	json_t *targets, *t, *arr = json_array();
	struct app *a;
	size_t i;

	if ((targets = req_targets(r)) == NULL) {
		json_decref(arr);
		return;
	}
	json_array_foreach(targets, i, t) {
		a = app_find_id((int)util_json_int(t, "app", -1));
		json_array_append_new(arr, app_describe_json(a));
	}
	json_decref(targets);
	req_reply(r, arr);
}

/* Every app stopped: the daemon answers and goes away. */
static int
check_killed(struct req *r)
{
	struct client *c;
	struct app *a;

	TAILQ_FOREACH(a, &apps, entry)
		if (!app_all_stopped(a))
			return 0;
	log_info("every app is stopped; the daemon exits");
	if (r->client == NULL) {
		req_reply(r, NULL);
		daemon_quit();
		return 1;
	}
	c = r->client;
	c->exit_after_flush = 1;
	req_reply(r, NULL);
	/* Not queued (the client is gone or could not take it): go now. */
	if (c->closing ||
	    uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) == 0)
		daemon_quit();
	return 1;
}

static void
h_kill(struct req *r)
{
	struct app *a;

	if (!quitting)
		log_info("asked to exit: stopping every app");
	quitting = 1;
	TAILQ_FOREACH(a, &apps, entry)
		app_stop(a, 0);
	req_wait(r, check_killed, NULL);
}

/*
 * wait: like check_online, but an instance in backoff is still on its way
 * (only errored or stopped ones fail), and a request whose client went
 * away (its timeout passed) is dropped.
 */
static int
check_ready(struct req *r)
{
	json_t *t, *done;
	struct instance *in;
	struct app *a;
	size_t i;
	int k, lo, hi, pending = 0;

	if (r->client == NULL) {
		req_error(r, IPC_E_TIMEOUT, "nobody waits any more");
		return 1;
	}
	json_array_foreach(json_object_get(r->wait, "targets"), i, t) {
		a = app_find_id((int)util_json_int(t, "app", -1));
		if (a == NULL || a->deleting) {
			req_error(r, IPC_E_APP_FAILED,
			    "an app was deleted while waiting for it");
			return 1;
		}
		target_range(a, t, &lo, &hi);
		for (k = lo; k < hi && k < a->ninst; k++) {
			in = a->inst[k];
			if (in->state == ST_ERRORED || in->state == ST_STOPPED) {
				req_error(r, IPC_E_APP_FAILED, "%s:%d is %s%s%s",
				    a->name, k, inst_state_name(in->state),
				    in->error != NULL ? ": " : "",
				    in->error != NULL ? in->error : "");
				return 1;
			}
			if (in->state != ST_ONLINE)
				pending = 1;
		}
	}
	if (pending)
		return 0;
	done = json_array();
	json_array_foreach(json_object_get(r->wait, "targets"), i, t)
		json_array_append_new(done, app_summary(app_find_id(
		    (int)util_json_int(t, "app", -1))));
	req_reply(r, json_pack("{s:o}", "apps", done));
	return 1;
}

static void
h_wait(struct req *r)
{
	json_t *targets;

	if ((targets = req_targets(r)) == NULL)
		return;
	req_wait(r, check_ready, json_pack("{s:o}", "targets", targets));
}

static const struct handler handlers[] = {
	{ "ping", h_ping },
	{ "start", h_start },
	{ "stop", h_stop },
	{ "restart", h_restart },
	{ "reset", h_reset },
	{ "delete", h_delete },
	{ "list", h_list },
	{ "describe", h_describe },
	{ "kill", h_kill },
	{ "wait", h_wait },
	{ "logs", logs_handle },
	{ "flush", logs_handle_flush },
	{ "reload-logs", logs_handle_reload },
	{ "share", share_handle },
	{ "reload", reload_handle },
	{ "scale", scale_handle },
	{ "metrics", metrics_handle },
	{ "set", update_handle },
	{ "signal", deliver_handle_signal },
	{ "send", deliver_handle_send },
};

void
handle_request(struct req *r)
{
	size_t i;

	for (i = 0; i < sizeof handlers / sizeof handlers[0]; i++) {
		if (strcmp(handlers[i].cmd, r->cmd) == 0) {
			handlers[i].fn(r);
			return;
		}
	}
	req_error(r, IPC_E_UNKNOWN_CMD, "unknown command '%s'", r->cmd);
}
