/*
 * Fuzz target: every request handler's argument parsing, with a daemon
 * state behind it (apps, instances, log files, waiters).  The input is a
 * request's JSON ({"cmd", "args"}); it is handled as the daemon would, by
 * a request whose client went away (its replies are dropped), then the
 * loop runs once so that waiters answer.
 *
 * What must never happen during fuzzing is kept out: kill (the daemon
 * exits), upgrade (it executes a program in place of the fuzzer), paths (log files the fuzzer would create or flush anywhere),
 * "listen" (real binds), more than two instances.  Processes cannot
 * start: the shim's path does not exist, so a spawn fails at once.
 */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../core/core.h"
#include "tmpdir.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int LLVMFuzzerInitialize(int *, char ***);

static char home_dir[PATH_MAX];
static int saved_stderr; /* reload-logs puts the daemon's log on fd 2 */

/* The apps every input finds: web (started, errored), api (stopped). */
static void
ensure_apps(void)
{
	struct err err;
	struct app *a;
	json_t *spec;

	if (app_find_name("web") == NULL) {
		spec = json_pack("{s:s, s:[s], s:s, s:i, s:b}", "script",
		    "/bin/sleep", "args", "1000", "name", "web", "instances", 2,
		    "wait", 0);
		if (app_create(spec, &a, &err) == 0)
			app_start(a);
		json_decref(spec);
	}
	if (app_find_name("api") == NULL) {
		spec = json_pack("{s:s, s:[s], s:s, s:s}", "script",
		    "/bin/sleep", "args", "1000", "name", "api", "log_type",
		    "json");
		(void)app_create(spec, &a, &err);
		json_decref(spec);
	}
}

/* The home goes with the fuzzer. */
static void
cleanup(void)
{
	tmpdir_remove(home_dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char path[PATH_MAX + 16];

	(void)argc;
	(void)argv;
	saved_stderr = dup(2);
	snprintf(home_dir, sizeof home_dir, "/tmp/clusterctl-fuzz-XXXXXX");
	if (mkdtemp(home_dir) == NULL)
		abort();
	home = home_dir;
	atexit(cleanup);
	snprintf(path, sizeof path, "%s/logs", home_dir);
	(void)mkdir(path, 0700);
	snprintf(self_exe, PATH_MAX, "/nonexistent/clusterctl");
	(void)log_open("/dev/null");
	daemon_loop_init();
	snprintf(path, sizeof path, "%s/sock", home_dir);
	if (server_listen(path, handle_request) != 0)
		abort();
	ensure_apps();
	return 0;
}

/* Keep the input's args from doing what fuzzing must not do. */
static void
tame(json_t *args)
{
	json_t *v;

	json_object_del(args, "out_file");
	json_object_del(args, "error_file");
	json_object_del(args, "log_file");
	json_object_del(args, "listen");
	v = json_object_get(args, "instances");
	if (json_is_integer(v) && (json_integer_value(v) > 2 ||
	    json_integer_value(v) < -2))
		json_object_set_new(args, "instances", json_integer(2));
	v = json_object_get(args, "count");
	if (json_is_integer(v) && (json_integer_value(v) > 2 ||
	    json_integer_value(v) < -2))
		json_object_set_new(args, "count", json_integer(2));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct app *a, *next;
	struct req *r;
	json_t *msg, *args;
	const char *cmd;

	msg = json_loadb((const char *)data, size, 0, NULL);
	if (msg == NULL)
		return 0;
	cmd = json_string_value(json_object_get(msg, "cmd"));
	args = json_object_get(msg, "args");
	if (cmd == NULL || strcmp(cmd, "kill") == 0 ||
	    strcmp(cmd, "upgrade") == 0 ||
	    (args != NULL && !json_is_object(args))) {
		json_decref(msg);
		return 0;
	}
	ensure_apps();
	if ((r = calloc(1, sizeof *r)) == NULL) {
		json_decref(msg);
		return 0;
	}
	r->id = 1;
	r->cmd = strdup(cmd);
	r->args = args != NULL ? json_deep_copy(args) : json_object();
	json_decref(msg);
	if (r->cmd == NULL || r->args == NULL) {
		json_decref(r->args);
		free(r->cmd);
		free(r);
		return 0;
	}
	tame(r->args);
	handle_request(r);
	server_run_waiters();
	(void)uv_run(loop, UV_RUN_NOWAIT);
	/* Apps the input made go again once stopped (theirs failed). */
	TAILQ_FOREACH_SAFE(a, &apps, entry, next)
		if (strcmp(a->name, "web") != 0 && strcmp(a->name, "api") != 0 &&
		    !a->deleting && app_all_stopped(a))
			app_reap(a);
	(void)uv_run(loop, UV_RUN_NOWAIT);
	(void)dup2(saved_stderr, 2);
	return 0;
}
