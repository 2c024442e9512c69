/*
 * The fields of a process file's app: one table (fields[]) of pm2's names
 * and aliases, the spec member each sets and how its value is read, and
 * the readers of pm2's value forms (instances "max" or "4", args as a
 * string split like a shell would, durations "5s", sizes "10M", day.js
 * date formats).  docs/process-files.md documents the same table.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ipc/util.h"
#include "cmd.h"
#include "procfile.h"

enum kind {
	K_STR,	     /* a string */
	K_NAME,	     /* a string (or a number, as a string) */
	K_SCRIPT,    /* a path (relative to cwd) or a command in PATH */
	K_ARGS,	     /* an array, or a string split like a shell would */
	K_DIR,	     /* cwd: relative to the file's directory */
	K_INSTANCES, /* a number, a numeric string, "max" */
	K_MODE,	     /* exec_mode: cluster or fork */
	K_MS,	     /* a duration: ms, or "5s" */
	K_INT,	     /* a number >= 0, or a numeric string */
	K_BOOL,	     /* true or false (or their strings) */
	K_SIZE,	     /* bytes, or "10M" */
	K_LOGPATH, /* a path relative to cwd, /dev/null, NULL; log_file: true */
	K_CODES,   /* a number or an array of numbers 0-255 */
	K_STRV,	   /* a string or an array of strings */
	K_SIGNAL,  /* a signal name or number */
	K_DATEFMT, /* strftime ("%F %T") or day.js ("YYYY-MM-DD HH:mm:ss") */
	K_PORT,	   /* pm2's shortcut for env PORT */
	K_FILTER_ENV, /* pm2's filter_env: leave out the caller's environment */
	K_DISABLE_LOGS, /* out and err to /dev/null */
	K_ENV,		/* env, handled with env_NAME */
	K_RAW,		/* passed as it is: the daemon checks it */
	K_IGNORED,	/* a pm2 field that means nothing here */
};

/*
 * Every field a process file may hold: its name in the file (pm2's, with
 * pm2's aliases), the spec member it sets, and how its value is read.  A
 * field of a new feature is one line here (and its spec member in
 * app_create's table).
 */
static const struct field {
	const char *name;
	const char *spec;
	enum kind kind;
} fields[] = {
	{ "name", "name", K_NAME },
	{ "script", "script", K_SCRIPT },
	{ "exec", "script", K_SCRIPT },
	{ "args", "args", K_ARGS },
	{ "interpreter", "interpreter", K_STR },
	{ "exec_interpreter", "interpreter", K_STR },
	{ "interpreter_args", "interpreter_args", K_ARGS },
	{ "node_args", "interpreter_args", K_ARGS },
	{ "interpreterArgs", "interpreter_args", K_ARGS },
	{ "cwd", "cwd", K_DIR },
	{ "instances", "instances", K_INSTANCES },
	{ "exec_mode", "mode", K_MODE },
	{ "namespace", "namespace", K_STR },
	{ "env", "env", K_ENV },
	{ "port", "PORT", K_PORT },
	{ "filter_env", NULL, K_FILTER_ENV },
	{ "out_file", "out_file", K_LOGPATH },
	{ "out", "out_file", K_LOGPATH },
	{ "output", "out_file", K_LOGPATH },
	{ "out_log", "out_file", K_LOGPATH },
	{ "error_file", "error_file", K_LOGPATH },
	{ "error", "error_file", K_LOGPATH },
	{ "err", "error_file", K_LOGPATH },
	{ "err_file", "error_file", K_LOGPATH },
	{ "err_log", "error_file", K_LOGPATH },
	{ "log_file", "log_file", K_LOGPATH },
	{ "log", "log_file", K_LOGPATH },
	{ "pid_file", "pid_file", K_LOGPATH },
	{ "pid", "pid_file", K_LOGPATH },
	{ "disable_logs", NULL, K_DISABLE_LOGS },
	{ "merge_logs", "merge_logs", K_BOOL },
	{ "combine_logs", "merge_logs", K_BOOL },
	{ "log_date_format", "log_date_format", K_DATEFMT },
	{ "time", "time", K_BOOL },
	{ "log_type", "log_type", K_STR },
	{ "log_max_size", "log_max_size", K_SIZE },
	{ "log_retain", "log_retain", K_INT },
	{ "log_compress", "log_compress", K_BOOL },
	{ "autorestart", "autorestart", K_BOOL },
	{ "max_restarts", "max_restarts", K_INT },
	{ "min_uptime", "min_uptime", K_MS },
	{ "restart_delay", "restart_delay", K_MS },
	{ "exp_backoff_restart_delay", "exp_backoff_restart_delay", K_MS },
	{ "max_backoff", "max_backoff", K_MS },
	{ "backoff_reset", "backoff_reset", K_MS },
	{ "kill_timeout", "kill_timeout", K_MS },
	{ "kill_signal", "kill_signal", K_SIGNAL },
	{ "stop_exit_codes", "stop_exit_codes", K_CODES },
	{ "wait_ready", "wait_ready", K_BOOL },
	{ "listen_timeout", "listen_timeout", K_MS },
	{ "listen", "listen", K_STRV },
	{ "sticky", "sticky", K_BOOL },
	{ "balance", "balance", K_STR },
	/* Features other work adds: accepted here once they exist. */
	{ "watch", "watch", K_RAW },
	{ "ignore_watch", "ignore_watch", K_STRV },
	{ "watch_delay", "watch_delay", K_MS },
	{ "watch_options", NULL, K_IGNORED },
	{ "max_memory_restart", "max_memory_restart", K_SIZE },
	{ "cron_restart", "cron_restart", K_STR },
	{ "cron", "cron_restart", K_STR },
	{ "stdin_messages", "stdin_messages", K_BOOL },
	{ "shutdown_with_message", "shutdown_with_message", K_BOOL },
	{ "uid", "uid", K_NAME }, /* a user name or number */
	{ "user", "uid", K_NAME },
	{ "gid", "gid", K_NAME },
	{ "instance_var", "instance_var", K_STR },
	{ "increment_var", "increment_var", K_STR },
	/* pm2's own machinery, meaningless here. */
	{ "vizion", NULL, K_IGNORED },
	{ "pmx", NULL, K_IGNORED },
	{ "automation", NULL, K_IGNORED },
	{ "treekill", NULL, K_IGNORED },
	{ "source_map_support", NULL, K_IGNORED },
	{ "disable_source_map_support", NULL, K_IGNORED },
	{ "trace", NULL, K_IGNORED },
	{ "disable_trace", NULL, K_IGNORED },
	{ "v8", NULL, K_IGNORED },
	{ "event_loop_inspector", NULL, K_IGNORED },
	{ "deep_monitoring", NULL, K_IGNORED },
	{ "windowsHide", NULL, K_IGNORED },
	{ "kill_retry_time", NULL, K_IGNORED },
	{ "write", NULL, K_IGNORED },
	{ "io", NULL, K_IGNORED },
	{ "force", NULL, K_IGNORED },
	{ "append_env_to_name", NULL, K_IGNORED },
	{ "post_update", NULL, K_IGNORED },
	{ "name_prefix", NULL, K_IGNORED },
	{ "install_url", NULL, K_IGNORED },
	{ "execute_command", NULL, K_IGNORED },
	{ "username", NULL, K_IGNORED },
};

static const struct field *
field_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (strcmp(fields[i].name, name) == 0)
			return &fields[i];
	return NULL;
}

/* An absolute path: p relative to dir. */
char *
procfile_resolve_path(const char *dir, const char *p)
{
	char *r;

	if (p[0] == '/')
		return strdup(p);
	while (strncmp(p, "./", 2) == 0)
		p += 2;
	if (asprintf(&r, "%s/%s", dir, *p != '\0' ? p : ".") == -1)
		return NULL;
	if (strlen(r) > 2 && strcmp(r + strlen(r) - 2, "/.") == 0)
		r[strlen(r) - 2] = '\0';
	return r;
}

/*
 * Split s into words as sh would: blanks separate, '...' is literal,
 * "..." keeps blanks (with \" and \\), a backslash escapes.  0 and *out,
 * or -1 with err.
 */
int
procfile_split_words(const char *s, json_t **out, char *err, size_t errlen)
{
	json_t *arr = json_array();
	char *w = malloc(strlen(s) + 1);
	size_t n = 0;
	int in_word = 0;
	char q;

	*out = NULL;
	if (w == NULL) {
		json_decref(arr);
		return -1;
	}
	for (; *s != '\0'; s++) {
		if (isspace((unsigned char)*s)) {
			if (in_word)
				json_array_append_new(arr, json_stringn(w, n));
			in_word = 0;
			n = 0;
			continue;
		}
		in_word = 1;
		if (*s == '\'' || *s == '"') {
			q = *s++;
			for (; *s != '\0' && *s != q; s++) {
				if (q == '"' && *s == '\\' &&
				    (s[1] == '"' || s[1] == '\\' ||
					s[1] == '$' || s[1] == '`'))
					s++;
				w[n++] = *s;
			}
			if (*s == '\0') {
				snprintf(err, errlen,
				    "a %s quote is not closed",
				    q == '"' ? "double" : "single");
				json_decref(arr);
				free(w);
				return -1;
			}
		} else if (*s == '\\' && s[1] != '\0')
			w[n++] = *++s;
		else
			w[n++] = *s;
	}
	if (in_word)
		json_array_append_new(arr, json_stringn(w, n));
	free(w);
	*out = arr;
	return 0;
}

/* A day.js date format (pm2's log_date_format) as strftime's. */
static char *
dayjs_to_strftime(const char *f)
{
	static const struct {
		const char *tok, *fmt;
	} map[] = {
		{ "YYYY", "%Y" },
		{ "YY", "%y" },
		{ "MMMM", "%B" },
		{ "MMM", "%b" },
		{ "MM", "%m" },
		{ "M", "%-m" },
		{ "DD", "%d" },
		{ "D", "%-d" },
		{ "dddd", "%A" },
		{ "ddd", "%a" },
		{ "HH", "%H" },
		{ "H", "%-H" },
		{ "hh", "%I" },
		{ "h", "%-I" },
		{ "mm", "%M" },
		{ "m", "%-M" },
		{ "ss", "%S" },
		{ "s", "%-S" },
		{ "ZZ", "%z" },
		{ "Z", "%z" },
		{ "A", "%p" },
		{ "a", "%P" },
		{ "X", "%s" },
	};
	char *out = malloc(strlen(f) * 3 + 1), *o = out;
	size_t i, n;

	if (out == NULL)
		return NULL;
	while (*f != '\0') {
		if (*f == '[') { /* [literal] */
			for (f++; *f != '\0' && *f != ']'; f++) {
				if (*f == '%')
					*o++ = '%';
				*o++ = *f;
			}
			if (*f == ']')
				f++;
			continue;
		}
		for (i = 0; i < sizeof map / sizeof map[0]; i++) {
			n = strlen(map[i].tok);
			if (strncmp(f, map[i].tok, n) == 0)
				break;
		}
		if (i < sizeof map / sizeof map[0]) {
			strcpy(o, map[i].fmt);
			o += strlen(map[i].fmt);
			f += strlen(map[i].tok);
		} else if (strncmp(f, "SSS", 3) == 0) {
			f += 3; /* milliseconds: strftime has none */
		} else {
			if (*f == '%')
				*o++ = '%';
			*o++ = *f++;
		}
	}
	*o = '\0';
	return out;
}

/* What v is, where as_integer wanted a whole number. */
static const char *
not_integer_name(const json_t *v)
{
	return json_is_real(v) ? "a fraction or a number too large" :
				 procfile_type_name(v);
}

static int
as_integer(const json_t *v, long long *n)
{
	const char *s;
	char *end;

	if (json_is_integer(v)) {
		*n = json_integer_value(v);
		return 0;
	}
	/* A whole number written as a real (3.0, 1e3); one past the range
	 * of long long (1e40) is not cast, which would be undefined. */
	if (json_is_real(v) && json_real_value(v) >= -0x1p63 &&
	    json_real_value(v) < 0x1p63 &&
	    json_real_value(v) == (double)(long long)json_real_value(v)) {
		*n = (long long)json_real_value(v);
		return 0;
	}
	if (!json_is_string(v))
		return -1;
	s = json_string_value(v);
	errno = 0;
	*n = strtoll(s, &end, 10);
	return *s == '\0' || *end != '\0' || errno != 0 ? -1 : 0;
}

const char *
procfile_type_name(const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_OBJECT:
		return "an object";
	case JSON_ARRAY:
		return "an array";
	case JSON_STRING:
		return "a string";
	case JSON_INTEGER:
	case JSON_REAL:
		return "a number";
	case JSON_TRUE:
	case JSON_FALSE:
		return "a boolean";
	case JSON_NULL:
		return "null";
	}
	return "?";
}

/* Strings and numbers as strings (env values, args, listen). */
json_t *
procfile_scalar_string(const json_t *v)
{
	char buf[64];

	if (json_is_string(v))
		return json_string(json_string_value(v));
	if (json_is_integer(v)) {
		snprintf(buf, sizeof buf, "%lld",
		    (long long)json_integer_value(v));
		return json_string(buf);
	}
	if (json_is_real(v)) {
		snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
		return json_string(buf);
	}
	if (json_is_boolean(v))
		return json_string(json_is_true(v) ? "true" : "false");
	return NULL;
}

/*
 * One field's value into spec (or its env changes): 0, or -1 having
 * reported the error.  cwd is the app's working directory.
 */
static int fail(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Say what is wrong: -1. */
static int
fail(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
	return -1;
}

/* Whether a process file can set spec member k (else the daemon added it). */
int
procfile_spec_member(const char *k)
{
	size_t i;

	for (i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (fields[i].spec != NULL && strcmp(fields[i].spec, k) == 0)
			return 1;
	return 0;
}

/*
 * One field of an app (key, its value v) into spec, or into extra for
 * what the caller finishes (script, port, filter_env, log_file: true).
 * cwd is the app's working directory.  0; 1 with a warning in msg (an
 * unknown field, one clusterctl does not have); or -1 with the error.
 */
int
procfile_field(const char *key, const json_t *v, const char *cwd, json_t *spec,
    json_t *extra, char *msg, size_t len)
{
	const struct field *f = field_find(key);
	const char *s = json_string_value(v);
	json_t *arr, *e;
	long long n;
	int64_t ms;
	size_t i;
	char why[256], *p;
	int rc;

	if (f == NULL)
		return fail(msg, len, "unknown field; ignored"), 1;
	switch (f->kind) {
	case K_STR:
		if (s == NULL)
			goto type;
		json_object_set_new(spec, f->spec, json_string(s));
		return 0;
	case K_NAME:
		if (json_is_boolean(v) ||
		    (e = procfile_scalar_string(v)) == NULL)
			goto type;
		json_object_set_new(spec, f->spec, e);
		return 0;
	case K_SCRIPT:
		if (s == NULL || *s == '\0')
			goto type;
		json_object_set_new(extra, "script", json_string(s));
		return 0;
	case K_ARGS:
		if (json_is_number(v))
			s = json_string_value(e = procfile_scalar_string(v));
		else
			e = NULL;
		if (s != NULL) {
			int r = procfile_split_words(s, &arr, why, sizeof why);

			json_decref(e);
			if (r != 0)
				return fail(msg, len, "%s", why);
		} else if (json_is_array(v)) {
			arr = json_array();
			json_array_foreach(v, i, e) {
				if ((e = procfile_scalar_string(e)) == NULL) {
					json_decref(arr);
					return fail(msg, len,
					    "must hold strings, "
					    "not %s",
					    procfile_type_name(
						json_array_get(v, i)));
				}
				json_array_append_new(arr, e);
			}
		} else
			goto type;
		json_object_set_new(spec, f->spec, arr);
		return 0;
	case K_DIR:
		return 0; /* read first, in app_spec */
	case K_INSTANCES:
		if (s != NULL && strcmp(s, "max") == 0)
			n = 0;
		else if (as_integer(v, &n) != 0) {
			return fail(msg, len,
			    "say a number, or 'max' (one per "
			    "CPU), not %s%s%s",
			    s != NULL ? "'" : not_integer_name(v),
			    s != NULL ? s : "", s != NULL ? "'" : "");
		}
		if (n < -4096 || n > 4096) {
			return fail(msg, len,
			    "%lld is out of range (-4096 to "
			    "4096)",
			    n);
		}
		json_object_set_new(spec, f->spec, json_integer(n));
		return 0;
	case K_MODE:
		if (s == NULL)
			goto type;
		if (strcmp(s, "cluster") == 0 || strcmp(s, "cluster_mode") == 0)
			s = "cluster";
		else if (strcmp(s, "fork") == 0 || strcmp(s, "fork_mode") == 0)
			s = "fork";
		else {
			return fail(msg, len,
			    "say 'cluster' or 'fork', not '%s'", s);
		}
		json_object_set_new(spec, f->spec, json_string(s));
		return 0;
	case K_MS:
		if (json_is_integer(v) && json_integer_value(v) >= 0)
			ms = json_integer_value(v);
		else if (s == NULL || util_parse_duration_ms(s, &ms) != 0) {
			return fail(msg, len,
			    "say a duration in ms or with a "
			    "unit (1600, '5s', '1m'), not %s%s%s",
			    s != NULL ? "'" : procfile_type_name(v),
			    s != NULL ? s : "", s != NULL ? "'" : "");
		}
		json_object_set_new(spec, f->spec, json_integer(ms));
		return 0;
	case K_INT:
		if (as_integer(v, &n) != 0 || n < 0) {
			return fail(msg, len, "say a number from 0, not %s",
			    json_is_integer(v) ? "a negative one" :
						 not_integer_name(v));
		}
		json_object_set_new(spec, f->spec, json_integer(n));
		return 0;
	case K_BOOL:
		if (s != NULL &&
		    (strcmp(s, "true") == 0 || strcmp(s, "false") == 0))
			json_object_set_new(spec, f->spec,
			    json_boolean(strcmp(s, "true") == 0));
		else if (json_is_boolean(v))
			json_object_set_new(spec, f->spec,
			    json_boolean(json_is_true(v)));
		else
			goto type;
		return 0;
	case K_SIZE:
		if (json_is_integer(v) && json_integer_value(v) >= 0)
			ms = json_integer_value(v);
		else if (s == NULL || util_parse_size(s, &ms) != 0) {
			return fail(msg, len,
			    "say a size (bytes, or 10M, 500K, "
			    "1G)");
		}
		json_object_set_new(spec, f->spec, json_integer(ms));
		return 0;
	case K_LOGPATH:
		if (json_is_false(v))
			return 0;
		if (json_is_true(v) && strcmp(f->spec, "log_file") == 0) {
			/* pm2: log_file true is the default combined log */
			json_object_set_new(extra, "log_file_default",
			    json_true());
			return 0;
		}
		if (s == NULL || *s == '\0')
			goto type;
		if (strcmp(s, "/dev/null") == 0 || strcmp(s, "NULL") == 0)
			p = strdup(s);
		else
			p = procfile_resolve_path(cwd, s);
		json_object_set_new(spec, f->spec, json_string(p));
		free(p);
		return 0;
	case K_CODES:
		arr = json_array();
		if (json_is_array(v)) {
			json_array_foreach(v, i, e) {
				if (as_integer(e, &n) != 0 || n < 0 || n > 255)
					break;
				json_array_append_new(arr, json_integer(n));
			}
			if (i < json_array_size(v)) {
				json_decref(arr);
				return fail(msg, len,
				    "must hold exit codes from "
				    "0 to 255");
			}
		} else if (as_integer(v, &n) == 0 && n >= 0 && n <= 255)
			json_array_append_new(arr, json_integer(n));
		else {
			json_decref(arr);
			return fail(msg, len,
			    "say an exit code or a list of "
			    "them (0 to 255)");
		}
		json_object_set_new(spec, f->spec, arr);
		return 0;
	case K_STRV:
		arr = json_array();
		if (json_is_array(v)) {
			json_array_foreach(v, i, e) {
				if ((e = procfile_scalar_string(e)) == NULL)
					break;
				json_array_append_new(arr, e);
			}
			if (i < json_array_size(v)) {
				json_decref(arr);
				goto type;
			}
		} else if (!json_is_boolean(v) &&
		    (e = procfile_scalar_string(v)) != NULL)
			json_array_append_new(arr, e);
		else {
			json_decref(arr);
			goto type;
		}
		json_object_set_new(spec, f->spec, arr);
		return 0;
	case K_SIGNAL:
		if (json_is_boolean(v) ||
		    (e = procfile_scalar_string(v)) == NULL)
			goto type;
		n = util_signal_number(json_string_value(e));
		if (n <= 0) {
			rc = fail(msg, len, "unknown signal '%s'",
			    json_string_value(e));
			json_decref(e);
			return rc;
		}
		json_decref(e);
		json_object_set_new(spec, f->spec,
		    json_string(util_signal_name((int)n)));
		return 0;
	case K_DATEFMT:
		if (s == NULL)
			goto type;
		p = strchr(s, '%') != NULL ? strdup(s) : dayjs_to_strftime(s);
		json_object_set_new(spec, f->spec, json_string(p));
		free(p);
		if (strstr(s, "SSS") != NULL && strchr(s, '%') == NULL)
			return fail(msg, len,
				   "milliseconds (SSS) are left out: "
				   "use time for ISO 8601 times with ms"),
			       1;
		return 0;
	case K_PORT:
		if (json_is_boolean(v) ||
		    (e = procfile_scalar_string(v)) == NULL)
			goto type;
		json_object_set_new(extra, "port", e);
		return 0;
	case K_FILTER_ENV:
		if (!json_is_boolean(v) && !json_is_string(v) &&
		    !json_is_array(v))
			goto type;
		json_object_set(extra, "filter_env", (json_t *)v);
		return 0;
	case K_DISABLE_LOGS:
		if (!json_is_boolean(v))
			goto type;
		if (json_is_true(v)) {
			json_object_set_new(spec, "out_file",
			    json_string("/dev/null"));
			json_object_set_new(spec, "error_file",
			    json_string("/dev/null"));
		}
		return 0;
	case K_ENV:
		if (!json_is_object(v))
			goto type;
		return 0;
	case K_RAW:
		json_object_set_new(spec, f->spec, json_deep_copy(v));
		return 0;
	case K_IGNORED:
		return fail(msg, len,
			   "pm2's own setting, meaningless here; "
			   "ignored"),
		       1;
	}
	return 0;
type:
	return fail(msg, len, "wrong type: %s", procfile_type_name(v));
}
