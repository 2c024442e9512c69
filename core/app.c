/*
 * The app table: an app is a named program with its frozen environment and
 * options, run as N instances.  This file turns a start request into an app
 * (refusing what cannot run before anything starts), resolves targets, and
 * renders apps as JSON.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "core.h"
#include "proc.h"

/* The longest duration an option may ask for: a week. */
#define MAX_DURATION_MS (7LL * 24 * 3600 * 1000)

static int next_app_id;

struct app *
app_find_name(const char *name)
{
	struct app *a;

	TAILQ_FOREACH(a, &apps, entry)
		if (!a->deleting && strcmp(a->name, name) == 0)
			return a;
	return NULL;
}

/* How many apps have that name (more than one: started with --force). */
int
app_count_name(const char *name)
{
	struct app *a;
	int n = 0;

	TAILQ_FOREACH(a, &apps, entry)
		if (!a->deleting && strcmp(a->name, name) == 0)
			n++;
	return n;
}

struct app *
app_find_id(int id)
{
	struct app *a;

	TAILQ_FOREACH(a, &apps, entry)
		if (!a->deleting && a->id == id)
			return a;
	return NULL;
}

static void
strv_free(char **v)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; v[i] != NULL; i++)
		free(v[i]);
	free(v);
}

/* Free an app whose instances are all idle (see app_reap). */
void
app_free(struct app *a)
{
	watch_stop(a);
	schedule_stop(a);
	share_close_all(a);
	free(a->name);
	json_decref(a->spec);
	free(a->exec_path);
	strv_free(a->argv);
	strv_free(a->envp);
	free(a->cwd);
	free(a->out_file);
	free(a->err_file);
	free(a->pid_file);
	free(a->instance_var);
	free(a->increment_var);
	logs_app_release(a);
	free(a->inst);
	free(a);
}

/* Look name up in the PATH of env: a new string, or NULL and errno. */
static char *
path_lookup(const char *name, const char *path)
{
	char buf[PATH_MAX];
	const char *p, *e;
	int saw_eacces = 0;

	if (strchr(name, '/') != NULL) {
		if (access(name, X_OK) == 0)
			return strdup(name);
		return NULL;
	}
	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; p = e + 1) {
		struct stat st;

		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		if (e > p && (size_t)(e - p) + strlen(name) + 2 < sizeof buf) {
			snprintf(buf, sizeof buf, "%.*s/%s", (int)(e - p), p,
			    name);
			if (stat(buf, &st) == 0 && S_ISREG(st.st_mode)) {
				if (access(buf, X_OK) == 0)
					return strdup(buf);
				saw_eacces = 1;
			}
		}
		if (*e == '\0')
			break;
	}
	errno = saw_eacces ? EACCES : ENOENT;
	return NULL;
}

/*
 * The interpreter of a script that is not executable, read from its "#!"
 * line as the kernel would ("#!/usr/bin/env node" gives node): into buf,
 * or NULL.  Arguments on that line are not kept.
 */
static const char *
shebang_of(const char *script, char *buf, size_t len)
{
	char line[256], *p, *tok;
	struct stat st;
	ssize_t n;
	int fd;

	if (strchr(script, '/') == NULL || access(script, X_OK) == 0 ||
	    (fd = open(script, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) ==
		-1)
		return NULL;
	n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ?
	    read(fd, line, sizeof line - 1) :
	    -1;
	close(fd);
	if (n < 3 || line[0] != '#' || line[1] != '!')
		return NULL;
	line[n] = '\0';
	line[strcspn(line, "\n")] = '\0';
	if ((tok = strtok_r(line + 2, " \t", &p)) == NULL)
		return NULL;
	if (strcmp(tok, "/usr/bin/env") == 0 || strcmp(tok, "/bin/env") == 0)
		while ((tok = strtok_r(NULL, " \t", &p)) != NULL &&
		    (tok[0] == '-' || strchr(tok, '=') != NULL))
			;
	if (tok == NULL || strlen(tok) >= len)
		return NULL;
	memcpy(buf, tok, strlen(tok) + 1);
	return buf;
}

/*
 * The interpreter pm2 would choose: by the script's extension (pm2's
 * table), else the "#!" line of a script without an execute bit, else
 * none (the script is executed).  buf holds a shebang's interpreter.
 */
static const char *
interpreter_for(const char *script, char *buf, size_t len)
{
	static const struct {
		const char *ext, *interp;
	} by_ext[] = {
		{ ".js", "node" },
		{ ".mjs", "node" },
		{ ".cjs", "node" },
		{ ".py", "python3" },
		{ ".sh", "bash" },
		{ ".rb", "ruby" },
		{ ".php", "php" },
		{ ".pl", "perl" },
	};
	const char *dot = strrchr(script, '.');
	size_t i;

	if (dot != NULL && strchr(dot, '/') == NULL)
		for (i = 0; i < sizeof by_ext / sizeof by_ext[0]; i++)
			if (strcmp(dot, by_ext[i].ext) == 0)
				return by_ext[i].interp;
	return shebang_of(script, buf, len);
}

/* The default name: the script's base name without its extension. */
static char *
default_name(const char *script)
{
	const char *b = strrchr(script, '/');
	char *n, *dot;

	n = strdup(b != NULL ? b + 1 : script);
	if (n != NULL && (dot = strrchr(n, '.')) != NULL && dot != n)
		*dot = '\0';
	return n;
}

static int
name_ok(const char *n, struct err *e)
{
	const char *p;

	if (*n == '\0' || strlen(n) > 64) {
		err_set(e, IPC_E_BAD_REQUEST,
		    "an app name has 1 to 64 characters");
		return 0;
	}
	if (strcmp(n, "all") == 0) {
		err_set(e, IPC_E_BAD_REQUEST, "'all' is not a valid app name");
		return 0;
	}
	for (p = n; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) &&
		    strchr("._-@+", *p) == NULL) {
			err_set(e, IPC_E_BAD_REQUEST,
			    "invalid app name '%s': use letters, digits and . _ - @ +",
			    n);
			return 0;
		}
	/* A name of digits is allowed (pm2 allows it) unless it is another
	 * app's id: a word of digits names the app with that id first, and
	 * ids skip the numbers that are names (app_take_id), so a target
	 * never means two apps. */
	for (p = n; isdigit((unsigned char)*p); p++)
		;
	if (*p == '\0' && p - n < 10 && app_find_id(atoi(n)) != NULL &&
	    app_find_id(atoi(n)) != app_find_name(n)) {
		err_set(e, IPC_E_BAD_REQUEST,
		    "invalid app name '%s': it is the "
		    "id of app '%s'",
		    n, app_find_id(atoi(n))->name);
		return 0;
	}
	return 1;
}

/* The next free app id: not an app's id, nor an app's name of digits. */
static int
app_take_id(void)
{
	char num[16];

	for (;;) {
		snprintf(num, sizeof num, "%d", next_app_id);
		if (app_find_id(next_app_id) == NULL &&
		    app_find_name(num) == NULL)
			return next_app_id++;
		next_app_id++;
	}
}

static char **
env_from_json(const json_t *env, size_t *n)
{
	const char *k;
	json_t *v;
	char **e;
	size_t i = 0;

	e = calloc(json_object_size(env) + 1, sizeof *e);
	if (e == NULL)
		return NULL;
	json_object_foreach((json_t *)env, k, v) {
		if (!json_is_string(v) || *k == '\0' || strchr(k, '=') != NULL)
			continue;
		if (asprintf(&e[i], "%s=%s", k, json_string_value(v)) == -1)
			break;
		i++;
	}
	*n = i;
	return e;
}

/* A duration member of the spec: its default when absent or negative,
 * at most a week (a client may send any number). */
static int64_t
opt_ms(const json_t *spec, const char *key, int64_t def)
{
	int64_t v = util_json_int(spec, key, def);

	if (v < 0)
		return def;
	return v > MAX_DURATION_MS ? MAX_DURATION_MS : v;
}

/* Whether two specs ask for the same sockets. */
static int
spec_listen_equal(const json_t *a, const json_t *b)
{
	const json_t *la = json_object_get(a, "listen"),
		     *lb = json_object_get(b, "listen");

	if (json_array_size(la) == 0 && json_array_size(lb) == 0)
		return 1;
	return json_equal(la, lb);
}

/* The instance count a spec asks for: 0 or -1 with err. */
static int
spec_instances(const json_t *spec, int *out, struct err *e)
{
	int64_t n = util_json_int(spec, "instances", 1);

	if (n < -4096)
		n = 1;
	if (n == 0)
		n = uv_available_parallelism();
	else if (n < 0)
		n = (int64_t)uv_available_parallelism() + n;
	if (n < 1)
		n = 1;
	if (n > 4096) {
		err_set(e, IPC_E_BAD_REQUEST,
		    "%lld instances is more than 4096", (long long)n);
		return -1;
	}
	*out = (int)n;
	return 0;
}

/*
 * The members of a start request this file reads, with their types as
 * json_unpack formats.  A member that is absent or null takes its default;
 * one of another type is refused.  (The log members are logs_app_init's,
 * the listen ones share_parse_listen's.)
 */
static const struct {
	const char *key;
	const char *fmt;
	const char *what;
} spec_members[] = {
	{ "script", "s", "a string" },
	{ "name", "s", "a string" },
	{ "cwd", "s", "a string" },
	{ "interpreter", "s", "a string" },
	{ "env", "{}", "an object" },
	{ "args", "[]", "an array" },
	{ "instances", "I", "an integer" },
	{ "kill_signal", "s", "a string" },
	{ "kill_timeout", "I", "an integer" },
	{ "autorestart", "b", "true or false" },
	{ "restart_delay", "I", "an integer" },
	{ "exp_backoff_restart_delay", "I", "an integer" },
	{ "max_backoff", "I", "an integer" },
	{ "backoff_reset", "I", "an integer" },
	{ "min_uptime", "I", "an integer" },
	{ "max_restarts", "I", "an integer" },
	{ "stop_exit_codes", "[]", "an array" },
	{ "out_file", "s", "a string" },
	{ "error_file", "s", "a string" },
	{ "pid_file", "s", "a string" },
	{ "mode", "s", "a string" },
	{ "share", "b", "true or false" },
	{ "balance", "s", "a string" },
	{ "sticky", "b", "true or false" },
	{ "wait_ready", "b", "true or false" },
	{ "shutdown_with_message", "b", "true or false" },
	{ "instance_var", "s", "a string" },
	{ "increment_var", "s", "a string" },
	{ "listen_timeout", "I", "an integer" },
	{ "interpreter_args", "[]", "an array" },
	{ "namespace", "s", "a string" },
	{ "force", "b", "true or false" },
	{ "process_file", "s", "a string" },
	{ "env_source", "{}", "an object" },
	{ "env_name", "s", "a string" },
};

/* Whether v is a usable environment variable name. */
static int
var_name_ok(const char *v)
{
	const char *p;

	if (*v == '\0' || isdigit((unsigned char)*v))
		return 0;
	for (p = v; *p != '\0'; p++)
		if (!isalnum((unsigned char)*p) && *p != '_')
			return 0;
	return 1;
}

/*
 * pm2's instance_var (the name NODE_APP_INSTANCE goes by) and increment_var
 * (VAR=base+N in instance N, base the app's own VAR): 0, or -1 with e.
 */
static int
vars_parse(struct app *a, const json_t *spec, struct err *e)
{
	const char *iv = util_json_str(spec, "instance_var", NULL);
	const char *inc = util_json_str(spec, "increment_var", NULL);
	const char *val;
	char *end;
	size_t i, n;

	if (iv != NULL && !var_name_ok(iv)) {
		err_set(e, IPC_E_BAD_REQUEST,
		    "invalid instance_var '%.100s' "
		    "(a variable name)",
		    iv);
		return -1;
	}
	if (inc != NULL && !var_name_ok(inc)) {
		err_set(e, IPC_E_BAD_REQUEST,
		    "invalid increment_var '%.100s' "
		    "(a variable name)",
		    inc);
		return -1;
	}
	if (inc != NULL) {
		n = strlen(inc);
		val = NULL;
		for (i = 0; i < a->nenv; i++)
			if (strncmp(a->envp[i], inc, n) == 0 &&
			    a->envp[i][n] == '=')
				val = a->envp[i] + n + 1;
		errno = 0;
		if (val != NULL)
			a->increment_base = strtoll(val, &end, 10);
		if (val == NULL || *val == '\0' || *end != '\0' || errno != 0) {
			err_set(e, IPC_E_BAD_REQUEST,
			    "increment_var '%s' needs "
			    "a number in the app's environment (say --env "
			    "%s=8000)",
			    inc, inc);
			return -1;
		}
	}
	if ((iv != NULL && (a->instance_var = strdup(iv)) == NULL) ||
	    (inc != NULL && (a->increment_var = strdup(inc)) == NULL)) {
		err_set(e, IPC_E_INTERNAL, "out of memory");
		return -1;
	}
	return 0;
}

/* Check the types of spec's members in one place: 0, or -1 with e. */
static int
spec_check(const json_t *spec, struct err *e)
{
	static const char *strv[] = { "args", "interpreter_args" };
	json_error_t je;
	const char *k;
	json_t *v;
	size_t i, j;

	if (!json_is_object(spec)) {
		err_set(e, IPC_E_BAD_REQUEST,
		    "the start request is not an "
		    "object");
		return -1;
	}
	for (i = 0; i < sizeof spec_members / sizeof spec_members[0]; i++) {
		v = json_object_get(spec, spec_members[i].key);
		if (v == NULL || json_is_null(v) ||
		    json_unpack_ex(v, &je, JSON_VALIDATE_ONLY,
			spec_members[i].fmt) == 0)
			continue;
		err_set(e, IPC_E_BAD_REQUEST, "'%s' is not %s",
		    spec_members[i].key, spec_members[i].what);
		return -1;
	}
	/* Members holding strings: the environment's values, arguments. */
	json_object_foreach((json_t *)json_object_get(spec, "env"), k, v)
		if (!json_is_string(v)) {
			err_set(e, IPC_E_BAD_REQUEST,
			    "'env.%s' is not a string", k);
			return -1;
		}
	for (i = 0; i < sizeof strv / sizeof strv[0]; i++)
		json_array_foreach(json_object_get(spec, strv[i]), j, v)
			if (!json_is_string(v)) {
				err_set(e, IPC_E_BAD_REQUEST,
				    "'%s' holds a "
				    "non-string",
				    strv[i]);
				return -1;
			}
	return 0;
}

/*
 * Make an app's configuration from a spec, without instances, sockets or
 * a place in the table: 0, or -1 with e saying what is wrong.  app_create,
 * app_check and app_update build on it.
 */
static int
app_build(json_t *spec, struct app **out, struct err *e)
{
	const char *script, *interp, *cwd, *sig, *pathvar = NULL, *k;
	json_t *args, *iargs, *env, *codes, *v;
	struct app *a;
	struct stat st;
	char *resolved_interp = NULL, *name = NULL, shebang[256];
	size_t i, nargs;
	int lookup_errno, rc, shell;

	*out = NULL;
	if (spec_check(spec, e) != 0)
		return -1;
	script = util_json_str(spec, "script", NULL);
	if (script == NULL || *script == '\0') {
		err_set(e, IPC_E_BAD_REQUEST,
		    "start needs a script or program");
		return -1;
	}
	cwd = util_json_str(spec, "cwd", "/");
	errno = 0;
	if (*cwd != '/' || stat(cwd, &st) != 0 || !S_ISDIR(st.st_mode)) {
		err_set(e, IPC_E_BAD_REQUEST,
		    "cannot use '%s' as the working directory: %s", cwd,
		    *cwd != '/'	   ? "not an absolute path" :
			errno == 0 ? "Not a directory" :
				     strerror(errno));
		return -1;
	}
	env = json_is_object(json_object_get(spec, "env")) ?
	    json_object_get(spec, "env") :
	    NULL;
	pathvar = util_json_str(env, "PATH", NULL);
	args = json_object_get(spec, "args");
	iargs = json_object_get(spec, "interpreter_args");

	/* A command line (pm2's `start "python3 -m http.server"`): not a
	 * file, and words: it runs through /bin/sh -c, named by its first. */
	shell = strpbrk(script, " \t") != NULL &&
	    (script[0] != '/' || stat(script, &st) != 0);
	if (json_is_string(json_object_get(spec, "name")))
		name = strdup(util_json_str(spec, "name", ""));
	else if (shell &&
	    (name = strndup(script + strspn(script, " \t"),
		 strcspn(script + strspn(script, " \t"), " \t"))) != NULL) {
		char *full = name;

		name = default_name(full);
		free(full);
	} else
		name = default_name(script);
	if (name == NULL) {
		err_set(e, IPC_E_INTERNAL, "out of memory");
		return -1;
	}
	if (!name_ok(name, e)) {
		free(name);
		return -1;
	}

	interp = util_json_str(spec, "interpreter", NULL);
	if (shell)
		interp = "/bin/sh";
	else if (interp != NULL &&
	    (strcmp(interp, "none") == 0 || *interp == '\0'))
		interp = NULL;
	else if (interp == NULL &&
	    !json_is_string(json_object_get(spec, "interpreter")))
		interp = interpreter_for(script, shebang, sizeof shebang);
	if (interp == NULL && json_array_size(iargs) > 0) {
		err_set(e, IPC_E_BAD_REQUEST,
		    "'interpreter_args' needs an "
		    "interpreter ('%s' is executed directly)",
		    script);
		free(name);
		return -1;
	}
	if (interp != NULL) {
		if ((resolved_interp = path_lookup(interp, pathvar)) == NULL) {
			err_set(e, IPC_E_EXEC,
			    "cannot execute interpreter '%s': %s", interp,
			    errno == ENOENT && strchr(interp, '/') == NULL ?
				"not found in PATH" :
				strerror(errno));
			free(name);
			return -1;
		}
		if (!shell && access(script, R_OK) != 0) {
			err_set(e, IPC_E_EXEC, "cannot read '%s': %s", script,
			    strerror(errno));
			free(resolved_interp);
			free(name);
			return -1;
		}
	} else {
		char *p = path_lookup(script, pathvar);

		lookup_errno = errno;
		if (p == NULL || stat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
			err_set(e, IPC_E_EXEC, "cannot execute '%s': %s",
			    script,
			    p != NULL ? "Not a regular file" :
				strchr(script, '/') == NULL &&
				    lookup_errno == ENOENT ?
					"not found in PATH" :
					strerror(lookup_errno));
			free(p);
			free(name);
			return -1;
		}
		resolved_interp = p;
	}

	if ((a = calloc(1, sizeof *a)) == NULL) {
		free(resolved_interp);
		free(name);
		err_set(e, IPC_E_INTERNAL, "out of memory");
		return -1;
	}
	TAILQ_INIT(&a->gone);
	a->name = name;
	a->reload_ms = a->ready_ms = -1;
	a->exec_path = resolved_interp;
	a->shell = shell;
	nargs = json_array_size(args) + json_array_size(iargs);
	a->argv = calloc(nargs + 5, sizeof *a->argv);
	a->cwd = strdup(cwd);
	a->envp = env_from_json(env, &a->nenv);
	if (a->argv == NULL || a->cwd == NULL || a->envp == NULL) {
		err_set(e, IPC_E_INTERNAL, "out of memory");
		app_free(a);
		return -1;
	}
	i = 0;
	if (shell) {
		/* sh -c 'LINE "$@"' sh ARGS...: arguments stay words. */
		a->argv[i++] = strdup("sh");
		a->argv[i++] = strdup("-c");
		if (json_array_size(args) > 0) {
			if (asprintf(&a->argv[i++], "%s \"$@\"", script) == -1)
				a->argv[i - 1] = NULL;
			a->argv[i++] = strdup("sh");
		} else
			a->argv[i++] = strdup(script);
	} else {
		if (interp != NULL) {
			/* interpreter [interpreter_args...] script [args...] */
			a->argv[i++] = strdup(interp);
			json_array_foreach(iargs, nargs, v)
				a->argv[i++] = strdup(json_string_value(v));
		}
		a->argv[i++] = strdup(script);
	}
	json_array_foreach(args, nargs, v)
		a->argv[i++] = strdup(json_string_value(v));

	sig = util_json_str(spec, "kill_signal", "SIGINT");
	if ((a->kill_signal = util_signal_number(sig)) <= 0) {
		err_set(e, IPC_E_BAD_REQUEST, "unknown signal '%s'", sig);
		app_free(a);
		return -1;
	}
	a->kill_timeout_ms = opt_ms(spec, "kill_timeout", 1600);
	a->autorestart = util_json_bool(spec, "autorestart", 1);
	a->restart_delay_ms = opt_ms(spec, "restart_delay", -1);
	a->backoff_base_ms = opt_ms(spec, "exp_backoff_restart_delay", 100);
	a->backoff_max_ms = opt_ms(spec, "max_backoff", 15000);
	a->backoff_reset_ms = opt_ms(spec, "backoff_reset", 30000);
	a->min_uptime_ms = opt_ms(spec, "min_uptime", 1000);
	a->max_restarts = (int)util_json_int(spec, "max_restarts", 16);
	if (util_json_int(spec, "max_restarts", 16) < 0 ||
	    util_json_int(spec, "max_restarts", 16) > INT_MAX / 2)
		a->max_restarts = 16;
	codes = json_object_get(spec, "stop_exit_codes");
	json_array_foreach(codes, i, v) {
		if (json_is_integer(v) &&
		    a->nstop_exit_codes < (int)(sizeof a->stop_exit_codes /
					      sizeof a->stop_exit_codes[0]))
			a->stop_exit_codes[a->nstop_exit_codes++] = (int)
			    json_integer_value(v);
	}
	if ((k = util_json_str(spec, "out_file", NULL)) != NULL)
		a->out_file = strdup(k);
	if ((k = util_json_str(spec, "error_file", NULL)) != NULL)
		a->err_file = strdup(k);
	/* pm2's pid_file: a path relative to the app's directory; NULL or
	 * /dev/null for none. */
	if ((k = util_json_str(spec, "pid_file", NULL)) != NULL && *k != '\0' &&
	    strcmp(k, "NULL") != 0 && strcmp(k, "/dev/null") != 0 &&
	    (*k == '/' ? (a->pid_file = strdup(k)) == NULL :
			 asprintf(&a->pid_file, "%s/%s", a->cwd, k) == -1)) {
		a->pid_file = NULL;
		err_set(e, IPC_E_INTERNAL, "out of memory");
		app_free(a);
		return -1;
	}
	if (a->pid_file != NULL &&
	    (strlen(a->pid_file) > PATH_MAX - 16 ||
		a->pid_file[strlen(a->pid_file) - 1] == '/')) {
		err_set(e, IPC_E_BAD_REQUEST, "invalid pid file '%.200s': %s",
		    a->pid_file,
		    strlen(a->pid_file) > PATH_MAX - 16 ? "too long" :
							  "a directory");
		app_free(a);
		return -1;
	}
	if (creds_from_spec(spec, &a->creds, e) != 0) {
		app_free(a);
		return -1;
	}
	if (logs_app_init(a, spec, e->msg, sizeof e->msg) != 0) {
		e->code = IPC_E_BAD_REQUEST;
		app_free(a);
		return -1;
	}
	/* Its log files are the user's it runs as. */
	a->logs.owner = a->creds;
	/* Cluster mode (the default) shares sockets; fork mode does not. */
	k = util_json_str(spec, "mode", "cluster");
	if (strcmp(k, "cluster") != 0 && strcmp(k, "fork") != 0) {
		err_set(e, IPC_E_BAD_REQUEST,
		    "unknown mode '%s' (cluster or fork)", k);
		app_free(a);
		return -1;
	}
	a->share = strcmp(k, "cluster") == 0 &&
	    util_json_bool(spec, "share", 1);
	if ((rc = balance_app_init(a, spec, e->msg, sizeof e->msg)) != 0) {
		/* Missing kernel support is like a port that cannot be
		 * bound: the app cannot run. */
		e->code = rc == -2 ? IPC_E_EXEC : IPC_E_BAD_REQUEST;
		app_free(a);
		return -1;
	}
	a->wait_ready = util_json_bool(spec, "wait_ready", 0);
	if (memlimit_parse(spec, &a->max_memory, e) != 0 ||
	    watch_parse(spec, e) != 0 || schedule_parse(spec, e) != 0) {
		app_free(a);
		return -1;
	}
	a->stdin_messages = util_json_bool(spec, "stdin_messages", 0);
	a->shutdown_with_message = util_json_bool(spec, "shutdown_with_message",
	    0);
	if (vars_parse(a, spec, e) != 0) {
		app_free(a);
		return -1;
	}
	k = strrchr(a->exec_path, '/') != NULL ?
	    strrchr(a->exec_path, '/') + 1 :
	    a->exec_path;
	a->node_channel = strncmp(k, "node", 4) == 0;
	a->listen_timeout_ms = opt_ms(spec, "listen_timeout", 3000);
	*out = a;
	return 0;
}

/* Keep a normalised copy of spec in a->spec, for describe and update. */
static void
app_keep_spec(struct app *a, const json_t *spec)
{
	json_decref(a->spec);
	a->spec = json_deep_copy(spec);
	json_object_set_new(a->spec, "mode",
	    json_string(a->share ? "cluster" : "fork"));
	json_object_set_new(a->spec, "name", json_string(a->name));
	json_object_set_new(a->spec, "exec", json_string(a->exec_path));
	if (a->shell)
		json_object_set_new(a->spec, "shell", json_true());
	logs_spec(a, a->spec);
	json_object_del(a->spec, "wait");
	json_object_del(a->spec, "check");
}

/*
 * Check a spec as app_create would, without creating anything (start
 * with "check"): 0, or -1 with e.
 */
int
app_check(json_t *spec, struct err *e)
{
	struct app *a;
	int rc, n;

	if ((rc = app_build(spec, &a, e)) != 0)
		return rc;
	rc = spec_instances(spec, &n, e);
	app_free(a);
	return rc;
}

/*
 * The app a start of spec means again, as pm2 tells it: the name spec
 * gives (or its default) and the same script.  NULL when none.
 */
struct app *
app_find_same(json_t *spec)
{
	const char *script = util_json_str(spec, "script", "");
	struct app *t, *a;
	struct err e;

	if (app_build(spec, &t, &e) != 0)
		return NULL;
	TAILQ_FOREACH(a, &apps, entry)
		if (!a->deleting && strcmp(a->name, t->name) == 0 &&
		    strcmp(util_json_str(a->spec, "script", ""), script) == 0)
			break;
	app_free(t);
	return a;
}

/*
 * Make an app from a start request's args, without starting it: 0, or -1
 * with e saying what is wrong (and nothing changed).
 */
int
app_create(json_t *spec, struct app **out, struct err *e)
{
	struct app *a;
	int n, rc;

	*out = NULL;
	if ((rc = app_build(spec, &a, e)) != 0)
		return rc;
	/* pm2's -f: another app of the same name, with an id of its own;
	 * the spec keeps "force", so the state file brings both back. */
	if (app_find_name(a->name) != NULL &&
	    !util_json_bool(spec, "force", 0)) {
		err_set(e, IPC_E_EXISTS,
		    "an app named '%s' exists already (restart it, use --name, "
		    "or --force for another one of that name)",
		    a->name);
		app_free(a);
		return -1;
	}
	if (spec_instances(spec, &n, e) != 0) {
		app_free(a);
		return -1;
	}
	if ((rc = share_parse_listen(a, spec, e->msg, sizeof e->msg)) != 0) {
		/* A port that cannot be bound is like a program that cannot
		 * be executed: the app cannot run. */
		e->code = rc == -2 ? IPC_E_EXEC : IPC_E_BAD_REQUEST;
		app_free(a);
		return -1;
	}
	if (app_set_instances(a, n) != 0) {
		err_set(e, IPC_E_INTERNAL, "out of memory");
		app_free(a);
		return -1;
	}
	app_keep_spec(a, spec);
	a->id = app_take_id();
	TAILQ_INSERT_TAIL(&apps, a, entry);
	/* Its triggers, from its spec (the state file restores apps here
	 * too): memory limit, watched paths, schedule. */
	memlimit_update();
	watch_start(a);
	schedule_start(a);
	*out = a;
	return 0;
}

#define SWAP(x, y)                                                             \
	do {                                                                   \
		__typeof__(x) tmp_ = x;                                        \
		x = y;                                                         \
		y = tmp_;                                                      \
	} while (0)

/*
 * Give app a the configuration of spec (a new environment, arguments,
 * options), keeping its instances as they are: processes started from now
 * on (a restart, a reload, a crash) run with it.  The instance count is
 * scale's job (*ninst: the count spec asks for); sockets (listen, mode)
 * cannot change this way.  0, or -1 with e and a unchanged.
 */
int
app_update(struct app *a, json_t *spec, int *ninst, struct err *e)
{
	struct app *t;
	const char *name = util_json_str(spec, "name", a->name);
	int rc, n;

	if (strcmp(name, a->name) != 0 && app_find_name(name) != NULL) {
		err_set(e, IPC_E_EXISTS,
		    "cannot rename '%s': an app named '%s' exists already",
		    a->name, name);
		return -1;
	}
	if ((rc = app_build(spec, &t, e)) != 0)
		return rc;
	if (spec_instances(spec, &n, e) != 0) {
		app_free(t);
		return -1;
	}
	if (t->share != a->share || t->balance != a->balance ||
	    t->sticky != a->sticky || !spec_listen_equal(a->spec, spec)) {
		err_set(e, IPC_E_BAD_REQUEST,
		    "'%s': its sockets (listen, exec "
		    "mode, balance, sticky) cannot change while it exists: "
		    "delete and start it",
		    a->name);
		app_free(t);
		return -1;
	}
	/* Every configuration member of struct app; t gets a's old ones
	 * and frees them.  A new name (pm2's restart --name) reaches the
	 * files of the processes started from now on. */
	if (strcmp(a->name, t->name) != 0)
		log_info("%s renamed to %s", a->name, t->name);
	SWAP(a->name, t->name);
	SWAP(a->exec_path, t->exec_path);
	SWAP(a->shell, t->shell);
	SWAP(a->argv, t->argv);
	SWAP(a->envp, t->envp);
	SWAP(a->nenv, t->nenv);
	SWAP(a->cwd, t->cwd);
	SWAP(a->kill_signal, t->kill_signal);
	SWAP(a->kill_timeout_ms, t->kill_timeout_ms);
	SWAP(a->autorestart, t->autorestart);
	SWAP(a->restart_delay_ms, t->restart_delay_ms);
	SWAP(a->backoff_base_ms, t->backoff_base_ms);
	SWAP(a->backoff_max_ms, t->backoff_max_ms);
	SWAP(a->backoff_reset_ms, t->backoff_reset_ms);
	SWAP(a->min_uptime_ms, t->min_uptime_ms);
	SWAP(a->max_restarts, t->max_restarts);
	memcpy(a->stop_exit_codes, t->stop_exit_codes,
	    sizeof a->stop_exit_codes);
	a->nstop_exit_codes = t->nstop_exit_codes;
	SWAP(a->out_file, t->out_file);
	SWAP(a->err_file, t->err_file);
	SWAP(a->pid_file, t->pid_file);
	SWAP(a->logs, t->logs);
	SWAP(a->wait_ready, t->wait_ready);
	SWAP(a->listen_timeout_ms, t->listen_timeout_ms);
	SWAP(a->stdin_messages, t->stdin_messages);
	SWAP(a->shutdown_with_message, t->shutdown_with_message);
	SWAP(a->instance_var, t->instance_var);
	SWAP(a->increment_var, t->increment_var);
	SWAP(a->increment_base, t->increment_base);
	SWAP(a->node_channel, t->node_channel);
	SWAP(a->max_memory, t->max_memory);
	app_free(t);
	app_keep_spec(a, spec);
	/* Its triggers follow the new spec. */
	memlimit_update();
	watch_start(a);
	schedule_start(a);
	*ninst = n;
	log_info("%s updated (%s)", a->name, a->exec_path);
	return 0;
}

/*
 * Set the number of instance slots to n: new slots get stopped instances,
 * slots beyond n must already be empty.
 */
int
app_set_instances(struct app *a, int n)
{
	struct instance **ni;
	int i;

	if (n > a->instcap) {
		ni = realloc(a->inst, (size_t)n * sizeof *ni);
		if (ni == NULL)
			return -ENOMEM;
		for (i = a->instcap; i < n; i++)
			ni[i] = NULL;
		a->inst = ni;
		a->instcap = n;
	}
	for (i = a->ninst; i < n; i++)
		if (a->inst[i] == NULL && (a->inst[i] = inst_new(a, i)) == NULL)
			return -ENOMEM;
	a->ninst = n;
	balance_scaled(a);
	return 0;
}

void
app_start(struct app *a)
{
	int i;

	for (i = 0; i < a->ninst; i++)
		inst_start(a->inst[i], REASON_START);
}

/* Stop every instance, the replaced ones still stopping too. */
void
app_stop(struct app *a)
{
	struct instance *in;
	int i;

	TAILQ_FOREACH(in, &a->gone, retired)
		inst_stop(in);
	for (i = 0; i < a->ninst; i++)
		inst_stop(a->inst[i]);
}

/* Whether no instance of a has a process or anything pending. */
int
app_all_stopped(const struct app *a)
{
	int i;

	for (i = 0; i < a->ninst; i++)
		if (!inst_idle(a->inst[i]))
			return 0;
	return TAILQ_EMPTY(&a->gone);
}

/* Remove a stopped app from the table and free it (its instances later). */
void
app_reap(struct app *a)
{
	int i;

	struct instance *in;

	TAILQ_REMOVE(&apps, a, entry);
	for (i = 0; i < a->instcap; i++)
		if (a->inst[i] != NULL)
			inst_retire(a->inst[i]);
	while ((in = TAILQ_FIRST(&a->gone)) != NULL) {
		TAILQ_REMOVE(&a->gone, in, retired);
		inst_retire(in);
	}
	app_free(a);
}

static struct instance *
instance_of_pid(pid_t pid)
{
	struct app *a;
	struct instance *in;
	int i;

	TAILQ_FOREACH(a, &apps, entry) {
		for (i = 0; i < a->ninst; i++) {
			in = a->inst[i];
			if (in->running && !in->exited && in->pid == pid)
				return in;
		}
		TAILQ_FOREACH(in, &a->gone, retired)
			if (in->running && !in->exited && in->pid == pid)
				return in;
	}
	return NULL;
}

/*
 * The instance a process belongs to: instances lead their own session, so
 * the session id names it; a process that left the session is found
 * through its parents.
 */
struct instance *
app_instance_of_pid(pid_t pid)
{
	struct instance *in;
	struct proc_stat ps;
	int depth;

	for (depth = 0; depth < 64 && pid > 1 && pid != getpid(); depth++) {
		if ((in = instance_of_pid(pid)) != NULL)
			return in;
		if (proc_read_stat(pid, &ps) != 0)
			return NULL;
		if (ps.sid != pid && (in = instance_of_pid(ps.sid)) != NULL)
			return in;
		pid = ps.ppid;
	}
	return NULL;
}

/* Free the removed instances that have stopped (and nobody looks at). */
void
app_sweep_gone(void)
{
	struct instance *in, *next;
	struct app *a;

	TAILQ_FOREACH(a, &apps, entry)
		TAILQ_FOREACH_SAFE(in, &a->gone, retired, next)
			if (inst_idle(in) && in->refs == 0) {
				TAILQ_REMOVE(&a->gone, in, retired);
				inst_retire(in);
			}
}

/*
 * Move instance k out of its slot into a->gone (it keeps running until
 * stopped, and is never restarted); the slot is left NULL.
 */
void
app_retire_instance(struct app *a, int k)
{
	struct instance *in = a->inst[k];

	a->inst[k] = NULL;
	in->retiring = 1;
	TAILQ_INSERT_TAIL(&a->gone, in, retired);
	daemon_changed();
}

/*
 * Give a restored app its old id when no other app has it, and keep the
 * ids given later above it.
 */
void
app_restore_id(struct app *a, int id)
{
	struct app *o;

	if (id < 0 || id == a->id)
		return;
	TAILQ_FOREACH(o, &apps, entry)
		if (o != a && o->id == id)
			return;
	a->id = id;
	if (next_app_id <= id)
		next_app_id = id + 1;
}

json_t *
app_list_json(const struct app *a)
{
	json_t *arr = json_array();
	struct instance *in;
	int i;

	for (i = 0; i < a->ninst; i++)
		json_array_append_new(arr, inst_json(a->inst[i]));
	TAILQ_FOREACH(in, &a->gone, retired)
		json_array_append_new(arr, inst_json(in));
	return arr;
}

static json_t *
exits_json(const struct instance *in)
{
	json_t *arr = json_array();
	const struct exit_record *e;
	int i, first;

	first = in->nexits > EXIT_HISTORY ? in->nexits - EXIT_HISTORY : 0;
	for (i = in->nexits - 1; i >= first; i--) {
		e = &in->exits[i % EXIT_HISTORY];
		json_array_append_new(arr,
		    json_pack("{s:I, s:o, s:o, s:I, s:o}", "time",
			(json_int_t)e->when, "exit_code",
			e->signal == 0 ? json_integer(e->code) : json_null(),
			"exit_signal",
			e->signal != 0 ?
			    json_string(util_signal_name(e->signal)) :
			    json_null(),
			"uptime_ms", (json_int_t)e->uptime_ms,
			"restart_delay_ms",
			e->delay_ms >= 0 ? json_integer(e->delay_ms) :
					   json_null()));
	}
	return arr;
}

/* Everything known about an app, for describe --json. */
json_t *
app_describe_json(const struct app *a)
{
	json_t *o, *insts, *row;
	struct instance *in;
	char *pidpath;
	int i;

	o = json_deep_copy(a->spec);
	json_object_set_new(o, "spec", json_deep_copy(a->spec));
	/* As resolved (the spec keeps them only when they were given). */
	json_object_set_new(o, "balance", json_string(balance_name(a)));
	json_object_set_new(o, "sticky", json_boolean(a->sticky));
	json_object_set_new(o, "id", json_integer(a->id));
	json_object_set_new(o, "instances", json_integer(a->ninst));
	json_object_set_new(o, "kill_signal",
	    json_string(util_signal_name(a->kill_signal)));
	json_object_set_new(o, "kill_timeout",
	    json_integer(a->kill_timeout_ms));
	json_object_set_new(o, "argv", json_array());
	for (i = 0; a->argv[i] != NULL; i++)
		json_array_append_new(json_object_get(o, "argv"),
		    json_string(a->argv[i]));
	insts = json_array();
	for (i = 0; i < a->ninst; i++) {
		in = a->inst[i];
		row = inst_json(in);
		json_object_set_new(row, "exits", exits_json(in));
		json_object_set_new(row, "unstable_restarts",
		    json_integer(in->backoff.unstable));
		json_object_set_new(row, "consecutive_crashes",
		    json_integer(in->backoff.crashes));
		json_object_set_new(row, "current_delay_ms",
		    json_integer(in->backoff.delay_ms));
		logs_describe(a, i, row);
		pidpath = pidfile_path(a, i);
		json_object_set_new(row, "pid_file",
		    pidpath != NULL ? json_string(pidpath) : json_null());
		free(pidpath);
		json_object_set_new(row, "cgroup",
		    in->cgroup != NULL ? json_string(in->cgroup) : json_null());
		json_object_set_new(row, "status_text",
		    in->status_text != NULL ? json_string(in->status_text) :
					      json_null());
		json_object_set_new(row, "ready_by_timeout",
		    json_boolean(
			inst_status(in) == ST_ONLINE && in->ready_timeout));
		share_inst_json(in, row);
		json_array_append_new(insts, row);
	}
	json_object_set_new(o, "processes", insts);
	json_object_set_new(o, "sockets", share_sockets_json(a));
	json_object_set_new(o, "listen_timeout",
	    json_integer(a->listen_timeout_ms));
	json_object_set_new(o, "wait_ready", json_boolean(a->wait_ready));
	/* What keeps its processes from escaping a stop (core/cgroup.c). */
	json_object_set_new(o, "held_by",
	    json_string(cgroup_base() != NULL ? "cgroup" : "process group"));
	json_object_set_new(o, "cgroup",
	    cgroup_kind_name() != NULL ? json_string(cgroup_kind_name()) :
					 json_null());
	json_object_set_new(o, "daemon_warning",
	    daemon_nofile_warning() ? json_string(daemon_nofile_warning()) :
				      json_null());
	json_object_set_new(o, "watching", watch_describe(a));
	json_object_set_new(o, "cron_next",
	    schedule_next(a) >= 0 ? json_integer(schedule_next(a)) :
				    json_null());
	json_object_set_new(o, "stdin_messages",
	    json_boolean(a->stdin_messages));
	json_object_set_new(o, "shutdown_with_message",
	    json_boolean(a->shutdown_with_message));
	return o;
}
