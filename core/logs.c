/*
 * An app's log settings: which files its instances' stdout and stderr go
 * to (pm2's -o, -e, -l, --merge-logs and the defaults under logs/), how a
 * line is written (raw, timestamped, JSON) and the rotation limits, read
 * once from the start request.  Also the shape of one line as JSON, which
 * the files (--log-type json), the tails and the followers share.
 *
 * The rest of the log code is in the files logs.h lists; this one starts
 * them (logs_init).
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ipc/util.h"
#include "core.h"

#define DEFAULT_MAX_SIZE (10 * 1024 * 1024)
#define DEFAULT_RETAIN 5

static int64_t default_max_size = DEFAULT_MAX_SIZE;
static int default_retain = DEFAULT_RETAIN;

/* The daemon-wide defaults (environment), the registry, the followers. */
void
logs_init(void)
{
	const char *v;
	int64_t n;

	if ((v = getenv("CLUSTERCTL_LOG_MAX_SIZE")) != NULL &&
	    util_parse_size(v, &n) == 0)
		default_max_size = n;
	if ((v = getenv("CLUSTERCTL_LOG_RETAIN")) != NULL && atoi(v) >= 0)
		default_retain = atoi(v);
	logf_init();
	follow_init();
}

static int
disabled(const char *path)
{
	return path != NULL &&
	    (strcmp(path, "/dev/null") == 0 || strcmp(path, "NULL") == 0);
}

/* The default log file of an app's instance: logs/NAME-out-N.log. */
char *
logs_path(const struct app *a, int index, int stream)
{
	char *p;

	if (asprintf(&p, "%s/logs/%s-%s-%d.log", home, a->name,
		logs_stream_name(stream), index) == -1)
		return NULL;
	return p;
}

/*
 * Whether the files the user named (-o, -e, -l) are one per instance, as
 * pm2 does in cluster mode without --merge-logs: out.log is out-0.log,
 * out-1.log...
 */
static int
per_instance(const struct app *a)
{
	return a->logs.per_instance && !a->logs.merge;
}

/* Whether file names a device (/dev/stdout), never one per instance. */
static int
device_path(const char *file)
{
	return strncmp(file, "/dev/", 5) == 0 ||
	    strncmp(file, "/proc/", 6) == 0;
}

/*
 * A user's file for instance index: "-N" before the extension of its
 * name (out.log: out-0.log), or at its end when it has none.
 */
static char *
instance_path(const char *file, int index)
{
	const char *base = strrchr(file, '/'), *dot;
	char *p;
	int n;

	base = base != NULL ? base + 1 : file;
	dot = strrchr(base, '.');
	if (dot == NULL || dot == base)
		dot = base + strlen(base);
	n = (int)(dot - file);
	if (asprintf(&p, "%.*s-%d%s", n, file, index, dot) == -1)
		return NULL;
	return p;
}

/*
 * Where instance index's stream goes (1 out, 2 err, 0 the combined file of
 * -l): a new string, NULL when disabled or, for 0, when there is none.
 */
char *
logs_stream_path(const struct app *a, int index, int stream)
{
	const char *file = stream == 0 ? a->logs.log_file :
	    stream == 1		       ? a->out_file :
					 a->err_file;
	char *p;

	if (disabled(file) || (stream == 0 && file == NULL))
		return NULL;
	if (file != NULL && per_instance(a) && !device_path(file))
		return instance_path(file, index);
	if (file != NULL)
		return strdup(file);
	if (!a->logs.merge)
		return logs_path(a, index, stream);
	if (asprintf(&p, "%s/logs/%s-%s.log", home, a->name,
		logs_stream_name(stream)) == -1)
		return NULL;
	return p;
}

/* Whether stream's file (0: the combined one) is one for all instances. */
int
logs_stream_shared(const struct app *a, int stream)
{
	const char *file = stream == 0 ? a->logs.log_file :
	    stream == 1		       ? a->out_file :
					 a->err_file;

	return a->logs.merge || (file != NULL && !per_instance(a));
}

const char *
logs_stream_name(int stream)
{
	return stream == 1 ? "out" : "err";
}

/* Read an app's log options from its start request (pm2's names). */
int
logs_app_init(struct app *a, const json_t *spec, char *err, size_t errlen)
{
	struct app_logs *l = &a->logs;
	const char *v;
	json_t *j;

	memset(l, 0, sizeof *l);
	l->max_size = default_max_size;
	l->retain = default_retain;
	if ((v = util_json_str(spec, "log_file", NULL)) != NULL &&
	    !disabled(v) && *v != '\0')
		l->log_file = strdup(v);
	l->merge = util_json_bool(spec, "merge_logs", 0) ||
	    util_json_bool(spec, "combine_logs", 0);
	/*
	 * pm2: one file per instance when an instance count was asked for
	 * (-i).  Decided once: the spec records it (logs_spec), as a restored
	 * app's spec always has a count.
	 */
	j = json_object_get(spec, "log_per_instance");
	l->per_instance = json_is_boolean(j) ?
	    json_is_true(j) :
	    json_object_get(spec, "instances") != NULL;
	if (util_json_bool(spec, "time", 0))
		l->format = LOGFMT_TIME;
	if ((v = util_json_str(spec, "log_date_format", NULL)) != NULL &&
	    *v != '\0') {
		l->format = LOGFMT_TIME;
		l->date_format = strdup(v);
	}
	v = util_json_str(spec, "log_type", NULL);
	if (v != NULL && strcmp(v, "json") == 0)
		l->format = LOGFMT_JSON;
	else if (v != NULL && strcmp(v, "raw") != 0 && *v != '\0') {
		snprintf(err, errlen, "invalid log type '%s' (say json or raw)",
		    v);
		return -1;
	}
	j = json_object_get(spec, "log_max_size");
	if (json_is_integer(j) && json_integer_value(j) >= 0)
		l->max_size = json_integer_value(j);
	else if (json_is_string(j)) {
		if (util_parse_size(json_string_value(j), &l->max_size) != 0) {
			snprintf(err, errlen,
			    "invalid log size '%s' (say 10M, 500K, 0 for never)",
			    json_string_value(j));
			return -1;
		}
	} else if (j != NULL) {
		snprintf(err, errlen, "'log_max_size' is not a size");
		return -1;
	}
	j = json_object_get(spec, "log_retain");
	if (json_is_integer(j) && json_integer_value(j) >= 0 &&
	    json_integer_value(j) <= 1000)
		l->retain = (int)json_integer_value(j);
	else if (j != NULL) {
		snprintf(err, errlen,
		    "'log_retain' is not a count from 0 to 1000");
		return -1;
	}
	l->compress = util_json_bool(spec, "log_compress", 0);
	return 0;
}

/* Record in an app's spec what logs_app_init decided from the request. */
void
logs_spec(const struct app *a, json_t *spec)
{
	json_object_set_new(spec, "log_per_instance",
	    json_boolean(a->logs.per_instance));
}

void
logs_app_release(struct app *a)
{
	free(a->logs.log_file);
	free(a->logs.date_format);
	a->logs.log_file = NULL;
	a->logs.date_format = NULL;
}

static json_t *
path_json(char *p)
{
	json_t *j = p != NULL ? json_string(p) : json_null();

	free(p);
	return j;
}

/* An instance's log paths and the trouble its files are in, for describe. */
void
logs_describe(const struct app *a, int index, json_t *row)
{
	char *paths[3], msg[PATH_MAX + 128];
	int i;

	paths[0] = logs_stream_path(a, index, 1);
	paths[1] = logs_stream_path(a, index, 2);
	paths[2] = logs_stream_path(a, index, 0);
	msg[0] = '\0';
	for (i = 0; i < 3 && msg[0] == '\0'; i++)
		if (paths[i] != NULL)
			(void)logf_error(paths[i], msg, sizeof msg);
	json_object_set_new(row, "out_log", path_json(paths[0]));
	json_object_set_new(row, "err_log", path_json(paths[1]));
	json_object_set_new(row, "log_file", path_json(paths[2]));
	json_object_set_new(row, "log_error",
	    msg[0] != '\0' ? json_string(msg) : json_null());
}

/* A copy of n bytes as valid UTF-8 (bad bytes become U+FFFD). */
static char *
utf8_clean(const char *p, size_t n, size_t *outlen)
{
	char *o = malloc(n * 3 + 1);
	size_t i = 0, k = 0, len, j;
	unsigned char c;

	if (o == NULL)
		return NULL;
	while (i < n) {
		c = (unsigned char)p[i];
		len = c < 0x80			    ? 1 :
		    (c & 0xE0) == 0xC0 && c >= 0xC2 ? 2 :
		    (c & 0xF0) == 0xE0		    ? 3 :
		    (c & 0xF8) == 0xF0 && c <= 0xF4 ? 4 :
						      0;
		for (j = 1; len > 0 && j < len; j++)
			if (i + j >= n ||
			    ((unsigned char)p[i + j] & 0xC0) != 0x80)
				len = 0;
		if (len == 3 &&
		    ((c == 0xE0 && (unsigned char)p[i + 1] < 0xA0) ||
			(c == 0xED && (unsigned char)p[i + 1] >= 0xA0)))
			len = 0;
		if (len == 4 &&
		    ((c == 0xF0 && (unsigned char)p[i + 1] < 0x90) ||
			(c == 0xF4 && (unsigned char)p[i + 1] >= 0x90)))
			len = 0;
		if (len == 0) {
			memcpy(o + k, "\xEF\xBF\xBD", 3);
			k += 3;
			i++;
			continue;
		}
		memcpy(o + k, p + i, len);
		k += len;
		i += len;
	}
	o[k] = '\0';
	*outlen = k;
	return o;
}

/* n bytes of a line as a JSON string (always a string). */
json_t *
logs_line_json(const char *p, size_t n)
{
	size_t len;
	char *c = utf8_clean(p, n, &len);
	json_t *j;

	if (c == NULL)
		return json_string("");
	j = json_stringn(c, len);
	free(c);
	return j != NULL ? j : json_string("");
}

/* One line as JSON: a --log-type json line, an entry of a logs reply. */
json_t *
logs_entry(const char *app, int index, const char *stream, const char *time,
    const char *line, size_t n)
{
	return json_pack("{s:s?, s:o, s:s, s:s?, s:o}", "app", app, "instance",
	    index >= 0 ? json_integer(index) : json_null(), "stream", stream,
	    "time", time, "line", logs_line_json(line, n));
}
