/*
 * The daemon's desired state on disk, $CLUSTERCTL_HOME/state.json: every
 * app's spec (the start request, with the environment the app was given),
 * its instance count and which instances should run.  state_sync() writes
 * it atomically whenever it differs from what was last written, and the
 * final reply to a request that may change it waits for that write
 * (server.c), so a reply that says done means done on disk.  A daemon
 * that starts and finds the file of one that died (not through kill)
 * restores every app in it.  save and resurrect use the same format for
 * dump.json (docs/state.md).
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "core.h"

#ifndef CLUSTERCTL_VERSION
#define CLUSTERCTL_VERSION "0.0.0"
#endif

/* The largest state file read back. */
#define STATE_MAX_SIZE (64 * 1024 * 1024)

static char state_path[PATH_MAX];
/* The "apps" last written, as compact JSON with sorted keys: a text of a
 * few dozen bytes an instance, where a deep copy of the objects took ~0.6
 * KB (1000 instances: 0.66 MB of the daemon's resident size). */
static char *saved_apps;
static int save_errno;	   /* the last write failed with this */
static int generation = 1; /* daemons of this home so far, this one too */
static json_t *restored;   /* what this daemon restored at start */
static char *notice;	   /* for the next client that asks something */
/* The daemon's HTTP endpoints in the state file, by role, and the
 * addresses last written (or NULL). */
static const char *const endpoint_keys[HTTP_NROLES] = {
	[HTTP_METRICS] = "metrics",
	[HTTP_HEALTH] = "health",
};
static char *saved_endpoints[HTTP_NROLES];

/* Every endpoint's address is the one last written. */
static int
endpoints_saved(void)
{
	const char *a;
	int i;

	for (i = 0; i < HTTP_NROLES; i++) {
		a = http_address((enum http_role)i);
		if (a == NULL ? saved_endpoints[i] != NULL :
				saved_endpoints[i] == NULL ||
			    strcmp(a, saved_endpoints[i]) != 0)
			return 0;
	}
	return 1;
}
static int counters_due;  /* the CPU counters were shown since written */
static json_t *saved_cpu; /* the CPU counters last written, in order */

/*
 * Restart counters that moved while the desired state did not (an app
 * crashed and was started again) are written at most a second later, not
 * before the replacement starts: a crash loop does not fsync the file at
 * every exit.  A scrape that showed them has them written at once, so a
 * daemon that dies never shows less than a scrape did.  saved_desired is a
 * hash of the apps without their counters as last written (0: none yet).
 */
#define COUNTERS_LATE_MS 1000
static uint64_t saved_desired;
static uv_timer_t counters_timer;
static int counters_timer_init;
static int counters_late; /* the timer runs: counters wait to be written */

/* What an app's entry holds besides its desired state. */
enum counters {
	NO_COUNTERS,  /* a dump: resurrect starts the apps afresh */
	RESTARTS,     /* the restart counts, compared to decide a write */
	RESTARTS_CPU, /* and the CPU time, written */
};

/* One app of the state file: a new object (its spec shared, not copied). */
static json_t *
app_state_json(const struct app *a, enum counters with)
{
	json_t *desired = json_array(), *counters = NULL, *o;
	int i;

	for (i = 0; i < a->ninst; i++)
		json_array_append_new(desired,
		    json_string(
			inst_wants_up(a->inst[i]) ? "running" : "stopped"));
	if (with != NO_COUNTERS) {
		counters = json_array();
		for (i = 0; i < a->ninst; i++)
			json_array_append_new(counters,
			    inst_counters_json(a->inst[i],
				with == RESTARTS_CPU));
	}
	o = json_pack("{s:i, s:s, s:i, s:o, s:O}", "id", a->id, "name", a->name,
	    "instances", a->ninst, "desired", desired, "spec", a->spec);
	if (o != NULL && counters != NULL)
		json_object_set_new(o, "counters", counters);
	return o;
}

static json_t *
apps_state_json(enum counters with)
{
	json_t *arr = json_array();
	struct app *a;

	TAILQ_FOREACH(a, &apps, entry)
		if (!a->deleting)
			json_array_append_new(arr, app_state_json(a, with));
	return arr;
}

/* The whole document for apps (stolen), as state.json or dump.json. */
static json_t *
state_document(json_t *arr, const char *format)
{
	return json_pack("{s:s, s:i, s:I, s:i, s:{s:I, s:s}, s:o}", "format",
	    format, "version", STATE_VERSION, "saved_at",
	    (json_int_t)daemon_now_wall(), "generation", generation, "daemon",
	    "pid", (json_int_t)getpid(), "version", CLUSTERCTL_VERSION, "apps",
	    arr);
}

/* The current desired state as a dump (save): a new object. */
json_t *
state_dump_json(void)
{
	return state_document(apps_state_json(NO_COUNTERS), STATE_FORMAT_DUMP);
}

/* Every instance's CPU time as last sampled, in ms, in order. */
static json_t *
cpu_list(void)
{
	json_t *arr = json_array();
	struct app *a;
	int k;

	TAILQ_FOREACH(a, &apps, entry)
		for (k = 0; !a->deleting && k < a->ninst; k++)
			json_array_append_new(arr,
			    json_integer((json_int_t)inst_cpu_ms(a->inst[k])));
	return arr;
}

/*
 * The metrics showed the counters: the next state_sync writes them if
 * they moved, so that a daemon that dies never shows less than this one
 * did.
 */
void
state_counters_shown(void)
{
	/* Written already, unless some CPU time moved since it was sampled
	 * last or restart counters wait for their write. */
	if (!inst_cpu_moved() && !counters_late)
		return;
	counters_due = 1;
	daemon_changed();
}

static int
write_document(const char *path, const json_t *doc)
{
	char *buf, *nb;
	size_t len;
	int r;

	if ((buf = json_dumps(doc, JSON_INDENT(1))) == NULL)
		return -ENOMEM;
	len = strlen(buf);
	/* A text file ends with a newline. */
	if ((nb = realloc(buf, len + 2)) == NULL) {
		free(buf);
		return -ENOMEM;
	}
	buf = nb;
	buf[len++] = '\n';
	buf[len] = '\0';
	r = util_write_atomic(path, buf, len, 0600);
	free(buf);
	return r;
}

/* FNV-1a, 64 bits, of a string (never 0). */
static uint64_t
text_hash(const char *t)
{
	uint64_t h = 14695981039346656037ULL;

	for (; *t != '\0'; t++)
		h = (h ^ (unsigned char)*t) * 1099511628211ULL;
	return h != 0 ? h : 1;
}

/* The hash of every app without its counters, or 0 (no memory). */
static uint64_t
desired_hash(void)
{
	json_t *arr = apps_state_json(NO_COUNTERS);
	char *t = json_dumps(arr, JSON_COMPACT | JSON_SORT_KEYS);
	uint64_t h = t != NULL ? text_hash(t) : 0;

	json_decref(arr);
	free(t);
	return h;
}

static int sync_state(int);

static void
counters_timer_cb(uv_timer_t *t)
{
	(void)t;
	counters_late = 0;
	(void)sync_state(1);
}

/*
 * The file is out of date and desired is the hash of the apps without
 * their counters now: 1 when only restart counters moved and their write
 * is put off (the timer runs), else 0.
 */
static int
counters_put_off(uint64_t desired)
{
	/* A scrape showed them, or more than counters changed: now. */
	if (counters_due || loop == NULL || saved_desired == 0 ||
	    desired != saved_desired || !endpoints_saved())
		return 0;
	if (counters_late)
		return 1;
	if (!counters_timer_init) {
		uv_timer_init(loop, &counters_timer);
		/* Nothing else to do: the daemon is not kept up for it. */
		uv_unref((uv_handle_t *)&counters_timer);
		counters_timer_init = 1;
	}
	uv_timer_start(&counters_timer, counters_timer_cb, COUNTERS_LATE_MS, 0);
	counters_late = 1;
	return 1;
}

/*
 * Write the state file if the desired state changed since it was last
 * written: 0 (written, or nothing to write), or -errno with the previous
 * file intact.  While the daemon exits (kill) nothing is written: the
 * apps it stops are not what the user wants to come back.
 */
int
state_sync(void)
{
	return sync_state(0);
}

/* state_sync, the counters too, none put off (before an upgrade's exec). */
int
state_sync_all(void)
{
	return sync_state(1);
}

static int
sync_state(int all)
{
	json_t *arr, *doc, *cpu;
	const char *a;
	char *text;
	uint64_t desired;
	int r, i;

	if (state_path[0] == '\0')
		return 0;
	if (quitting) {
		/* kill: the apps about to stop are not to come back, even if
		 * this daemon dies before it is done. */
		state_exit_clean();
		keeper_quitting();
		return 0;
	}
	arr = apps_state_json(RESTARTS);
	text = json_dumps(arr, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(arr);
	cpu = counters_due ? cpu_list() : NULL;
	if (saved_apps != NULL && text != NULL &&
	    strcmp(text, saved_apps) == 0 &&
	    (cpu == NULL || json_equal(cpu, saved_cpu)) && endpoints_saved()) {
		free(text);
		json_decref(cpu);
		counters_due = 0;
		if (save_errno != 0)
			log_info("the state file is current again");
		save_errno = 0;
		return 0;
	}
	/* A write that only restart counters need waits a little, unless the
	 * last one failed (then every change tries again). */
	desired = desired_hash();
	if (!all && save_errno == 0 && counters_put_off(desired)) {
		free(text);
		json_decref(cpu);
		return 0;
	}
	doc = state_document(apps_state_json(RESTARTS_CPU), STATE_FORMAT_STATE);
	for (i = 0; doc != NULL && i < HTTP_NROLES; i++)
		if ((a = http_address((enum http_role)i)) != NULL)
			json_object_set_new(doc, endpoint_keys[i],
			    json_string(a));
	r = doc != NULL ? write_document(state_path, doc) : -ENOMEM;
	json_decref(doc);
	if (r != 0) {
		if (save_errno != -r)
			log_warnx(
			    "cannot save the state to %s: %s (the previous "
			    "file is kept)",
			    state_path, strerror(-r));
		save_errno = -r;
		free(text);
		json_decref(cpu);
		return r;
	}
	if (save_errno != 0)
		log_info("the state is saved again to %s", state_path);
	save_errno = 0;
	/* A text: a spec changed in place still differs from it (NULL, out
	 * of memory: the next sync writes again). */
	free(saved_apps);
	saved_apps = text;
	saved_desired = desired;
	if (counters_late) {
		uv_timer_stop(&counters_timer);
		counters_late = 0;
	}
	for (i = 0; i < HTTP_NROLES; i++) {
		a = http_address((enum http_role)i);
		free(saved_endpoints[i]);
		saved_endpoints[i] = a != NULL ? strdup(a) : NULL;
	}
	json_decref(saved_cpu);
	saved_cpu = cpu != NULL ? cpu : cpu_list();
	counters_due = 0;
	return 0;
}

/* Why the state could not be saved, for a client: err filled, or 0. */
int
state_sync_error(char *err, size_t errlen)
{
	int r = state_sync();

	if (r == 0)
		return 0;
	snprintf(err, errlen,
	    "done, but the daemon could not save its state "
	    "to '%s': %s (the previous state file is kept)",
	    state_path, strerror(-r));
	return r;
}

/*
 * Check a state or dump document before anything acts on it: 0, or -1
 * with err.  A newer format version is refused, never guessed at.
 */
int
state_check(const json_t *doc, char *err, size_t errlen)
{
	json_error_t je;
	const char *fmt;
	json_t *arr, *app, *spec, *desired = NULL, *v;
	json_int_t version, n;
	size_t i, k;

	if (json_unpack_ex((json_t *)doc, &je, 0, "{s:s, s:I, s:o}", "format",
		&fmt, "version", &version, "apps", &arr) != 0) {
		snprintf(err, errlen, "not a clusterctl state or dump: %s",
		    je.text);
		return -1;
	}
	if (strcmp(fmt, STATE_FORMAT_STATE) != 0 &&
	    strcmp(fmt, STATE_FORMAT_DUMP) != 0) {
		snprintf(err, errlen, "unknown format '%s'", fmt);
		return -1;
	}
	if (version > STATE_VERSION || version < 1) {
		snprintf(err, errlen,
		    "format version %lld, but this clusterctl "
		    "(%s) reads version %d%s",
		    (long long)version, CLUSTERCTL_VERSION, STATE_VERSION,
		    version > STATE_VERSION ?
			": written by a newer clusterctl" :
			"");
		return -1;
	}
	if (!json_is_array(arr)) {
		snprintf(err, errlen, "'apps' is not an array");
		return -1;
	}
	json_array_foreach(arr, i, app) {
		desired = NULL;
		if (json_unpack_ex(app, &je, 0, "{s:o, s:I, s?o}", "spec",
			&spec, "instances", &n, "desired", &desired) != 0 ||
		    !json_is_object(spec)) {
			snprintf(err, errlen, "app %zu: %s", i,
			    json_is_object(app) && !json_is_object(spec) ?
				"'spec' is not an object" :
				je.text);
			return -1;
		}
		if (n < 1 || n > 4096) {
			snprintf(err, errlen, "app %zu: %lld instances", i,
			    (long long)n);
			return -1;
		}
		if (desired != NULL && !json_is_array(desired)) {
			snprintf(err, errlen,
			    "app %zu: 'desired' is not an "
			    "array",
			    i);
			return -1;
		}
		json_array_foreach(desired, k, v)
			if (!json_is_string(v) ||
			    (strcmp(json_string_value(v), "running") != 0 &&
				strcmp(json_string_value(v), "stopped") != 0)) {
				snprintf(err, errlen,
				    "app %zu: 'desired' holds "
				    "something else than \"running\" or "
				    "\"stopped\"",
				    i);
				return -1;
			}
	}
	return 0;
}

/* Read a state or dump file: a new object, or NULL with err. */
json_t *
state_read_file(const char *path, char *err, size_t errlen)
{
	json_error_t je;
	json_t *doc;

	doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
	if (doc == NULL) {
		if (je.line == -1 || je.position == 0)
			snprintf(err, errlen, "cannot read '%s': %s", path,
			    je.text);
		else
			snprintf(err, errlen, "'%s' line %d: %s", path, je.line,
			    je.text);
		return NULL;
	}
	if (state_check(doc, err, errlen) != 0) {
		json_decref(doc);
		return NULL;
	}
	return doc;
}

/* Start the instances of a that the entry wants running: how many. */
static int
start_desired(struct app *a, const json_t *entry, int only_idle,
    enum inst_reason why)
{
	const json_t *desired = json_object_get(entry, "desired");
	const char *d;
	int k, n = 0;

	for (k = 0; k < a->ninst; k++) {
		d = json_string_value(json_array_get(desired, (size_t)k));
		if (d != NULL && strcmp(d, "stopped") == 0)
			continue;
		if (only_idle && !inst_idle(a->inst[k]))
			continue;
		inst_start(a->inst[k], why);
		n++;
	}
	return n;
}

/*
 * Create the app of one entry of a checked document (its spec, env
 * replaced by env when not NULL, its instance count; with STATE_KEEP_IDS
 * its old id), starting nothing: 0, or -1 with err (logged).
 */
int
state_create_app(const json_t *entry, const json_t *env, int flags,
    struct app **out, struct err *err)
{
	json_t *spec = json_deep_copy(json_object_get(entry, "spec"));
	const char *name = util_json_str(spec, "name", NULL);
	int rc;

	*out = NULL;
	if (spec == NULL) {
		err_set(err, IPC_E_INTERNAL, "out of memory");
		return -1;
	}
	json_object_set(spec, "instances", json_object_get(entry, "instances"));
	json_object_del(spec, "wait");
	json_object_del(spec, "targets");
	if (env != NULL)
		json_object_set(spec, "env", (json_t *)env);
	rc = app_create(spec, out, err);
	if (rc != 0)
		log_warnx("cannot bring back %s: %s",
		    name != NULL ? name : "an app", err->msg);
	json_decref(spec);
	if (rc != 0)
		return -1;
	if (flags & STATE_KEEP_IDS)
		app_restore_id(*out, (int)util_json_int(entry, "id", -1));
	return 0;
}

/*
 * The first app named name that claimed (a set of ids) does not hold yet,
 * now claimed by the caller: each entry of a document stands for one app,
 * and apps of one name (--force) are several entries.  NULL when none.
 */
static const char *
app_key(const struct app *a, char key[16])
{
	snprintf(key, 16, "%d", a->id);
	return key;
}

static struct app *
unclaimed_app(const char *name, json_t *claimed)
{
	struct app *a;
	char key[16];

	TAILQ_FOREACH(a, &apps, entry) {
		if (a->deleting || strcmp(a->name, name) != 0 ||
		    json_object_get(claimed, app_key(a, key)) != NULL)
			continue;
		json_object_set_new(claimed, key, json_true());
		return a;
	}
	return NULL;
}

/*
 * Bring back the apps of a checked document (state_check): each app that
 * does not exist is created from its spec (env replaced by env when not
 * NULL) with its instance count, and the instances it wants running are
 * started; with STATE_KEEP_IDS it gets its old id.  An app that exists
 * already only has its stopped instances that should run started: twice
 * starts nothing twice.  Returns a report, {"started": [names],
 * "running": [names], "failed": [{"name", "error"}]}.
 */
json_t *
state_apply(const json_t *doc, const json_t *env, int flags)
{
	json_t *started = json_array(), *running = json_array();
	json_t *failed = json_array(), *claimed = json_object(), *entry, *spec;
	struct app *a;
	const char *name;
	char key[16];
	struct err err;
	size_t i;
	int rc, k;

	json_array_foreach(json_object_get(doc, "apps"), i, entry) {
		spec = json_deep_copy(json_object_get(entry, "spec"));
		name = util_json_str(spec, "name", NULL);
		if (name != NULL &&
		    (a = unclaimed_app(name, claimed)) != NULL) {
			if (start_desired(a, entry, 1, REASON_START) > 0)
				json_array_append_new(started,
				    json_string(a->name));
			else
				json_array_append_new(running,
				    json_string(a->name));
			json_decref(spec);
			continue;
		}
		rc = state_create_app(entry, env, flags, &a, &err);
		if (rc != 0)
			json_array_append_new(failed,
			    json_pack("{s:s, s:s}", "name",
				name != NULL ? name : "?", "error", err.msg));
		json_decref(spec);
		if (rc != 0)
			continue;
		/* A dead daemon's counters carry on (not a dump's). */
		if (flags & STATE_RESTORE)
			for (k = 0; k < a->ninst; k++)
				inst_counters_restore(a->inst[k],
				    json_array_get(json_object_get(entry,
						       "counters"),
					(size_t)k));
		json_object_set_new(claimed, app_key(a, key), json_true());
		log_info("%s created (%d instances of %s)", a->name, a->ninst,
		    a->exec_path);
		(void)start_desired(a, entry, 0,
		    (flags & STATE_RESTORE) ? REASON_RESTORE : REASON_START);
		json_array_append_new(started, json_string(a->name));
	}
	json_decref(claimed);
	return json_pack("{s:o, s:o, s:o}", "started", started, "running",
	    running, "failed", failed);
}

static void
format_time(int64_t ms, char *buf, size_t len)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "?");
}

/* Names of a JSON array of strings, joined for a message. */
static void
join_names(const json_t *arr, char *buf, size_t len)
{
	json_t *v;
	size_t i;

	buf[0] = '\0';
	json_array_foreach(arr, i, v) {
		if (i > 0)
			strncat(buf, ", ", len - strlen(buf) - 1);
		strncat(buf,
		    json_is_string(v) ? json_string_value(v) :
					util_json_str(v, "name", "?"),
		    len - strlen(buf) - 1);
	}
}

/*
 * At start, holding the daemon lock, with the old generation's processes
 * gone: find the state file.  One left by a daemon that died (a daemon
 * that exits through kill moves it to state.exited.json) has its apps
 * restored, unless !restore (run was given the apps it runs).  A file
 * that cannot be read is moved aside, never overwritten.
 */
void
state_init(int restore)
{
	char path[PATH_MAX + 32], err[512], when[64], names[1024];
	json_t *doc, *rep;
	int64_t saved_at;
	long pid;
	int i;

	snprintf(state_path, sizeof state_path, "%s/state.json", home);
	snprintf(path, sizeof path, "%s/state.exited.json", home);
	if (access(state_path, F_OK) != 0) {
		/* Count the generations on from a clean exit. */
		if ((doc = json_load_file(path, 0, NULL)) != NULL)
			generation = (int)util_json_int(doc, "generation", 0) +
			    1;
		json_decref(doc);
		if (generation < 1)
			generation = 1;
		return;
	}
	if ((doc = state_read_file(state_path, err, sizeof err)) == NULL) {
		snprintf(path, sizeof path, "%s/state.json.unreadable", home);
		log_warnx("not restoring: %s; moved to %s", err, path);
		if (rename(state_path, path) == -1)
			log_warn("cannot move %s aside; not saving the state",
			    state_path);
		if (access(state_path, F_OK) == 0)
			state_path[0] = '\0';
		return;
	}
	generation = (int)util_json_int(doc, "generation", 0) + 1;
	if (generation < 1)
		generation = 1;
	/* What the dead daemon wanted stays at hand until we write ours. */
	snprintf(path, sizeof path, "%s/state.prev.json", home);
	(void)unlink(path);
	if (link(state_path, path) == -1)
		log_warn("cannot keep %s as %s", state_path, path);
	saved_at = util_json_int(doc, "saved_at", 0);
	pid = (long)util_json_int(json_object_get(doc, "daemon"), "pid", 0);
	format_time(saved_at, when, sizeof when);
	/* Its metrics and health endpoints, unless this daemon was given
	 * its own. */
	for (i = 0; restore && i < HTTP_NROLES; i++)
		if (http_address((enum http_role)i) == NULL &&
		    json_is_string(json_object_get(doc, endpoint_keys[i])) &&
		    http_serve((enum http_role)i,
			util_json_str(doc, endpoint_keys[i], ""), err,
			sizeof err) != 0)
			log_warnx("cannot serve the %s endpoint again: %s",
			    endpoint_keys[i], err);
	if (json_array_size(json_object_get(doc, "apps")) == 0) {
		log_info("the previous daemon (pid %ld) did not exit through "
			 "'kill'; it had no apps",
		    pid);
		json_decref(doc);
		return;
	}
	if (!restore) {
		/* run was given its apps: they replace the old ones. */
		log_info(
		    "the previous daemon (pid %ld) did not exit through "
		    "'kill'; not restoring its apps: run was given its own",
		    pid);
		json_decref(doc);
		return;
	}
	rep = state_apply(doc, NULL, STATE_KEEP_IDS | STATE_RESTORE);
	join_names(json_object_get(rep, "started"), names, sizeof names);
	log_info("the previous daemon (pid %ld) did not exit through 'kill': "
		 "restored %zu app%s (%s) from its state of %s",
	    pid, json_array_size(json_object_get(rep, "started")),
	    json_array_size(json_object_get(rep, "started")) == 1 ? "" : "s",
	    names, when);
	free(notice);
	notice = NULL;
	if (asprintf(&notice,
		"the daemon had died (pid %ld); restored %s "
		"from its state of %s",
		pid, names, when) == -1)
		notice = NULL;
	if (json_array_size(json_object_get(rep, "failed")) > 0) {
		char failed[1024], *n2 = NULL;

		join_names(json_object_get(rep, "failed"), failed,
		    sizeof failed);
		if (asprintf(&n2, "%s; could not restore %s (see daemon.log)",
			notice != NULL ? notice : "", failed) != -1) {
			free(notice);
			notice = n2;
		}
	}
	restored = json_pack("{s:I, s:I, s:O, s:O}", "saved_at",
	    (json_int_t)saved_at, "pid", (json_int_t)pid, "apps",
	    json_object_get(rep, "started"), "failed",
	    json_object_get(rep, "failed"));
	json_decref(rep);
	json_decref(doc);
}

/*
 * At the start of an upgraded image (core/upgrade.c): the state file is
 * ours, not a dead daemon's; the generation is the one after gen.
 */
void
state_init_upgraded(int gen)
{
	snprintf(state_path, sizeof state_path, "%s/state.json", home);
	generation = gen + 1;
}

/* What was restored at start ({"saved_at", "pid", "apps", "failed"}), a
 * borrowed reference, or NULL. */
const json_t *
state_restored(void)
{
	return restored;
}

int
state_generation(void)
{
	return generation;
}

/* The message for the next client about the restore, once: the caller
 * frees it. */
char *
state_take_notice(void)
{
	char *n = notice;

	notice = NULL;
	return n;
}

/*
 * The daemon exits through kill (from its start on): its state file is
 * moved aside, once, so the next daemon starts empty (save and resurrect
 * bring apps back).
 */
void
state_exit_clean(void)
{
	char path[PATH_MAX + 32];

	static int done;

	if (state_path[0] == '\0' || done)
		return;
	done = 1;
	snprintf(path, sizeof path, "%s/state.exited.json", home);
	if (rename(state_path, path) == -1 && errno != ENOENT)
		log_warn("cannot move %s to %s", state_path, path);
}

/* "dump": the desired state as a dump document, for save. */
void
state_handle_dump(struct req *r)
{
	req_reply(r, state_dump_json());
}

/*
 * "resurrect": bring back the apps of a dump the CLI read, with the CLI's
 * environment in place of the saved ones when "env" is given.
 */
void
state_handle_resurrect(struct req *r)
{
	json_t *doc = NULL, *env = NULL, *v;
	json_error_t je;
	const char *k;
	char err[512];

	if (quitting) {
		req_error(r, IPC_E_BUSY, "the daemon is shutting down");
		return;
	}
	if (json_unpack_ex(r->args, &je, 0, "{s:o, s?o}", "dump", &doc, "env",
		&env) != 0) {
		req_error(r, IPC_E_BAD_REQUEST, "invalid resurrect request: %s",
		    je.text);
		return;
	}
	if (state_check(doc, err, sizeof err) != 0) {
		req_error(r, IPC_E_BAD_REQUEST, "%s", err);
		return;
	}
	if (env != NULL && !json_is_object(env)) {
		req_error(r, IPC_E_BAD_REQUEST, "'env' is not an object");
		return;
	}
	json_object_foreach(env, k, v)
		if (!json_is_string(v)) {
			req_error(r, IPC_E_BAD_REQUEST,
			    "'env' holds a non-string");
			return;
		}
	req_reply(r, state_apply(doc, env, STATE_KEEP_IDS));
}
