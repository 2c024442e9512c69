/*
 * Process files: recognising one, loading it in its format, and mapping
 * each app onto a start spec, field by field (procfile-fields.c), with
 * its environment.  The types and values of the resulting spec are the
 * daemon's to check (app_create), so they are checked in one place.
 * Errors name the file, the line when known, the app and the field;
 * unknown fields warn.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "cmd.h"
#include "procfile.h"

/* The biggest process file read (a config, not a data set). */
#define MAX_FILE (4 * 1024 * 1024)

/* What one load knows, for messages. */
struct load {
	struct procfile *pf;
	const struct procfile_opts *opts;
	struct procfile_doc doc;
	char prefix[32]; /* the current app's path in the document */
	const char *app; /* the current app's name, or NULL */
	int index;
	int nerrors;
};

static int
line_of(const struct load *l, const char *field)
{
	char path[512];
	json_t *v;

	if (field != NULL) {
		snprintf(path, sizeof path, "%s/%s", l->prefix, field);
		if ((v = json_object_get(l->doc.lines, path)) != NULL)
			return (int)json_integer_value(v);
	}
	v = json_object_get(l->doc.lines, l->prefix);
	return v != NULL ? (int)json_integer_value(v) : 0;
}

/* "FILE:LINE: app 'NAME': field: " then the message, to stderr. */
static void
vreport(struct load *l, const char *kind, const char *field, const char *fmt,
    va_list ap)
{
	int line = line_of(l, field);

	fprintf(stderr, "%s: %s", progname, kind);
	fprintf(stderr, "%s", l->pf->display);
	if (line > 0)
		fprintf(stderr, ":%d", line);
	fprintf(stderr, ": ");
	if (l->app != NULL)
		fprintf(stderr, "app '%s': ", l->app);
	else if (l->index >= 0)
		fprintf(stderr, "app %d: ", l->index + 1);
	if (field != NULL)
		fprintf(stderr, "'%s': ", field);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

static void report_error(struct load *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));
static void report_warning(struct load *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static void
report_error(struct load *l, const char *field, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreport(l, "", field, fmt, ap);
	va_end(ap);
	l->nerrors++;
}

static void
report_warning(struct load *l, const char *field, const char *fmt, ...)
{
	va_list ap;

	l->pf->nwarnings++;
	if (l->opts->quiet_warnings)
		return;
	va_start(ap, fmt);
	vreport(l, "warning: ", field, fmt, ap);
	va_end(ap);
}

/*
 * An error about one app of a loaded file (the daemon refused its spec):
 * names the file and the app, like the loader's own errors.
 */
void
procfile_error(const struct procfile *pf, const json_t *spec, const char *msg,
    const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: %s: app '%s': ", progname, pf->display,
	    util_json_str(spec, "name", "?"));
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", msg != NULL ? msg : "");
}

/* --- recognising and reading ------------------------------------------ */

static const char *
base_name(const char *p)
{
	const char *b = strrchr(p, '/');

	return b != NULL ? b + 1 : p;
}

/* Whether s ends with suffix. */
int
procfile_ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && strcmp(s + n - m, suffix) == 0;
}

static int
is_procfile_name(const char *b)
{
	return strcmp(b, "Procfile") == 0 || strncmp(b, "Procfile.", 9) == 0;
}

static int
is_js_name(const char *b)
{
	return procfile_ends_with(b, ".config.js") ||
	    procfile_ends_with(b, ".config.cjs") ||
	    procfile_ends_with(b, ".config.mjs") ||
	    (strncmp(b, "ecosystem", 9) == 0 &&
		(procfile_ends_with(b, ".js") ||
		    procfile_ends_with(b, ".cjs") ||
		    procfile_ends_with(b, ".mjs")));
}

/*
 * Whether a start argument names a process file rather than a script:
 * by its name, as pm2 decides (.json, .yaml, .yml, *.config.js, .cjs,
 * .mjs, and ecosystem*.js), a Procfile, or "-" (stdin).  A script is
 * never mistaken for one: server.js is a script.
 */
int
procfile_is_file(const char *arg)
{
	const char *b = base_name(arg);

	if (strcmp(arg, "-") == 0)
		return 1;
	return procfile_ends_with(b, ".json") ||
	    procfile_ends_with(b, ".yaml") || procfile_ends_with(b, ".yml") ||
	    is_js_name(b) || is_procfile_name(b);
}

static char *
read_all(int fd, size_t *len, char *err, size_t errlen)
{
	char *buf = NULL, *nb;
	size_t cap = 0;
	ssize_t n;

	*len = 0;
	for (;;) {
		if (*len + 4096 > cap) {
			cap = cap == 0 ? 65536 : cap * 2;
			if (cap > MAX_FILE + 65536) {
				snprintf(err, errlen, "larger than %d MiB",
				    MAX_FILE >> 20);
				free(buf);
				return NULL;
			}
			if ((nb = realloc(buf, cap + 1)) == NULL) {
				snprintf(err, errlen, "out of memory");
				free(buf);
				return NULL;
			}
			buf = nb;
		}
		n = read(fd, buf + *len, cap - *len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1) {
			snprintf(err, errlen, "%s", strerror(errno));
			free(buf);
			return NULL;
		}
		if (n == 0)
			break;
		*len += (size_t)n;
	}
	buf[*len] = '\0';
	return buf;
}

/* Blank out // and slash-star comments outside strings (lines kept). */
static void
strip_comments(char *s)
{
	char q = 0;

	for (; *s != '\0'; s++) {
		if (q != 0) {
			if (*s == '\\' && s[1] != '\0')
				s++;
			else if (*s == q)
				q = 0;
		} else if (*s == '"' || *s == '\'')
			q = *s;
		else if (s[0] == '/' && s[1] == '/') {
			while (*s != '\0' && *s != '\n')
				*s++ = ' ';
			if (*s == '\0')
				return;
		} else if (s[0] == '/' && s[1] == '*') {
			*s++ = ' ';
			*s = ' ';
			while (s[1] != '\0' && !(s[1] == '*' && s[2] == '/')) {
				s++;
				if (*s != '\n')
					*s = ' ';
			}
			if (s[1] != '\0') {
				s[1] = s[2] = ' ';
				s += 2;
			}
		}
	}
}

/*
 * JSON: strict JSON (comments allowed) by jansson; failing that, pm2's
 * JavaScript-object style ({apps: [{name: 'x'}]}, which pm2 evaluates) as
 * YAML flow, which reads it without running anything.  The lines come
 * from the YAML reading.
 */
static int
load_json(char *text, size_t len, struct procfile_doc *doc, char *err,
    size_t errlen)
{
	json_error_t je;
	struct procfile_doc y = { 0 };
	char yerr[256];

	strip_comments(text);
	doc->root = json_loadb(text, len, JSON_DECODE_ANY, &je);
	if (procfile_yaml_parse(text, len, &y, yerr, sizeof yerr) == 0) {
		doc->lines = y.lines;
		if (doc->root == NULL &&
		    (json_is_object(y.root) || json_is_array(y.root))) {
			doc->root = y.root;
			return 0;
		}
		json_decref(y.root);
	}
	if (doc->root == NULL) {
		snprintf(err, errlen, "line %d, column %d: %s", je.line,
		    je.column, je.text);
		return -1;
	}
	if (doc->lines == NULL)
		doc->lines = json_object();
	return 0;
}

/* --- environments ----------------------------------------------------- */

/* Whether filter_env (true, a prefix or a list of them) drops var. */
static int
filtered(const json_t *filter, const char *var)
{
	json_t *e;
	size_t i;

	if (filter == NULL || json_is_false(filter))
		return 0;
	if (json_is_true(filter))
		return 1;
	if (json_is_string(filter))
		return strncmp(var, json_string_value(filter),
			   strlen(json_string_value(filter))) == 0;
	json_array_foreach(filter, i, e)
		if (json_is_string(e) &&
		    strncmp(var, json_string_value(e),
			strlen(json_string_value(e))) == 0)
			return 1;
	return 0;
}

static int
env_layer(struct load *l, json_t *env, json_t *sources, const json_t *from,
    const char *source, const char *field)
{
	const char *k;
	json_t *v, *s;

	json_object_foreach((json_t *)from, k, v) {
		if (json_is_null(v)) {
			/* null removes a variable (of a lower layer) */
			json_object_del(env, k);
			json_object_del(sources, k);
			continue;
		}
		if ((s = procfile_scalar_string(v)) == NULL) {
			if (l != NULL)
				report_error(l, field,
				    "'%s' must be a string "
				    "or a number, not %s",
				    k, procfile_type_name(v));
			return -1;
		}
		if (*k == '\0' || strchr(k, '=') != NULL) {
			json_decref(s);
			if (l != NULL)
				report_error(l, field,
				    "'%s' is not a variable "
				    "name",
				    k);
			return -1;
		}
		json_object_set_new(env, k, s);
		json_object_set_new(sources, k, json_string(source));
	}
	return 0;
}

/*
 * The environment of an app: the caller's (unless filtered), then each
 * layer.  *sources says where each variable not from the caller came
 * from.  The caller's environment, then the given layers in order
 * (objects of {"env": {...}, "source": "..."}), then --env KEY=VAL.
 */
json_t *
procfile_env_with_sources(const json_t *filter, const json_t *layers,
    char **cli, json_t **sources)
{
	json_t *env = cmd_environ_json(), *layer, *v;
	const char *k;
	char *eq, *key;
	void *tmp;
	size_t i;

	*sources = json_object();
	json_object_foreach_safe(env, tmp, k, v)
		if (filtered(filter, k))
			json_object_del(env, k);
	json_array_foreach(layers, i, layer)
		env_layer(NULL, env, *sources, json_object_get(layer, "env"),
		    util_json_str(layer, "source", "file"), NULL);
	for (; cli != NULL && *cli != NULL; cli++) {
		if ((eq = strchr(*cli, '=')) == NULL || eq == *cli)
			continue;
		if ((key = strndup(*cli, (size_t)(eq - *cli))) == NULL)
			continue;
		json_object_set_new(env, key, json_string(eq + 1));
		json_object_set_new(*sources, key, json_string("cli"));
		free(key);
	}
	return env;
}

/* --- apps ------------------------------------------------------------- */

/* One app of the document into a start spec (NULL on an error). */
static json_t *
app_spec(struct load *l, const json_t *app)
{
	json_t *spec, *extra, *v, *layers, *env, *sources, *envsel = NULL;
	const char *key, *script;
	char *cwd = NULL, *p, envkey[256], msg[512];
	int rc;
	struct stat st;
	int before = l->nerrors;

	if (!json_is_object(app)) {
		report_error(l, NULL, "an app must be an object, not %s",
		    procfile_type_name(app));
		return NULL;
	}
	l->app = json_is_string(json_object_get(app, "name")) ?
	    json_string_value(json_object_get(app, "name")) :
	    NULL;
	spec = json_object();
	extra = json_object();
	v = json_object_get(app, "cwd");
	if (v != NULL &&
	    (!json_is_string(v) || *json_string_value(v) == '\0')) {
		report_error(l, "cwd", "wrong type: %s", procfile_type_name(v));
		cwd = strdup(l->pf->dir);
	} else
		cwd = procfile_resolve_path(l->pf->dir,
		    v != NULL ? json_string_value(v) : ".");
	json_object_set_new(spec, "cwd", json_string(cwd));

	json_object_foreach((json_t *)app, key, v) {
		if (strncmp(key, "env_", 4) == 0 && key[4] != '\0') {
			if (!json_is_object(v)) {
				report_error(l, key, "wrong type: %s",
				    procfile_type_name(v));
				continue;
			}
			if (json_array_size(l->pf->env_names) < 64) {
				size_t i;
				json_t *e;
				int seen = 0;

				json_array_foreach(l->pf->env_names, i, e)
					if (strcmp(json_string_value(e),
						key + 4) == 0)
						seen = 1;
				if (!seen)
					json_array_append_new(l->pf->env_names,
					    json_string(key + 4));
			}
			if (l->opts->env_name != NULL &&
			    strcmp(key + 4, l->opts->env_name) == 0)
				envsel = v;
			continue;
		}
		rc = procfile_field(key, v, cwd, spec, extra, msg, sizeof msg);
		if (rc < 0)
			report_error(l, key, "%s", msg);
		else if (rc > 0)
			report_warning(l, key, "%s", msg);
	}

	/* script: a path relative to cwd, or a command in PATH. */
	script = util_json_str(extra, "script", NULL);
	if (script == NULL) {
		report_error(l, NULL, "no 'script' (the program to run)");
	} else {
		p = procfile_resolve_path(cwd, script);
		if (strchr(script, '/') != NULL ||
		    (p != NULL && stat(p, &st) == 0 && S_ISREG(st.st_mode)))
			json_object_set_new(spec, "script", json_string(p));
		else
			json_object_set_new(spec, "script",
			    json_string(script));
		free(p);
	}
	if (util_json_bool(extra, "log_file_default", 0) &&
	    json_object_get(spec, "log_file") == NULL) {
		const char *h = cmd_home_path();
		const char *name = util_json_str(spec, "name", NULL);
		char *dn = NULL, *dot;

		if (name == NULL && script != NULL) {
			dn = strdup(base_name(script));
			if (dn != NULL && (dot = strrchr(dn, '.')) != NULL &&
			    dot != dn)
				*dot = '\0';
			name = dn;
		}
		if (h != NULL && name != NULL &&
		    asprintf(&p, "%s/logs/%s.log", h, name) != -1) {
			json_object_set_new(spec, "log_file", json_string(p));
			free(p);
		}
		free(dn);
	}
	if (json_object_get(spec, "mode") == NULL)
		json_object_set_new(spec, "mode", json_string("cluster"));

	/* The environment: caller's, env, env_NAME, .env, port, --env. */
	layers = json_array();
	if ((v = json_object_get(app, "env")) != NULL && json_is_object(v)) {
		sources = json_object();
		env = json_object();
		env_layer(l, env, sources, v, "env", "env");
		json_decref(env);
		json_decref(sources);
		json_array_append_new(layers,
		    json_pack("{s:O, s:s}", "env", v, "source", "env"));
	}
	if (envsel != NULL) {
		snprintf(envkey, sizeof envkey, "env_%s", l->opts->env_name);
		sources = json_object();
		env = json_object();
		env_layer(l, env, sources, envsel, envkey, envkey);
		json_decref(env);
		json_decref(sources);
		json_array_append_new(layers,
		    json_pack("{s:O, s:s}", "env", envsel, "source", envkey));
	}
	if (l->doc.dotenv != NULL)
		json_array_append_new(layers,
		    json_pack("{s:O, s:s}", "env", l->doc.dotenv, "source",
			".env"));
	if ((v = json_object_get(extra, "port")) != NULL)
		json_array_append_new(layers,
		    json_pack("{s:{s:O}, s:s}", "env", "PORT", v, "source",
			"port"));
	env = procfile_env_with_sources(json_object_get(extra, "filter_env"),
	    layers, l->opts->cli_env, &sources);
	json_decref(layers);
	json_object_set_new(spec, "env", env);
	json_object_set_new(spec, "env_source", sources);
	json_object_set_new(spec, "process_file", json_string(l->pf->path));
	if (l->opts->env_name != NULL)
		json_object_set_new(spec, "env_name",
		    json_string(l->opts->env_name));
	json_decref(extra);
	free(cwd);
	if (l->nerrors > before) {
		json_decref(spec);
		return NULL;
	}
	return spec;
}

/* An app's name: its own, or the default the daemon gives (the script's
 * base name without extension).  A new string. */
char *
procfile_app_name(const json_t *spec)
{
	const char *n = util_json_str(spec, "name", NULL);
	char *d, *dot;

	if (n != NULL)
		return strdup(n);
	d = strdup(base_name(util_json_str(spec, "script", "?")));
	if (d != NULL && (dot = strrchr(d, '.')) != NULL && dot != d)
		*dot = '\0';
	return d;
}

static int
only_has(char **only, const char *name)
{
	for (; only != NULL && *only != NULL; only++)
		if (strcmp(*only, name) == 0)
			return 1;
	return 0;
}

/* The document's apps into pf->apps. */
static void
load_apps(struct load *l)
{
	json_t *root = l->doc.root, *apps, *spec, *v, *other;
	const char *fmt, *key;
	char *name, **o;
	size_t i, j;

	if (json_is_object(root) && json_object_get(root, "apps") != NULL) {
		apps = json_object_get(root, "apps");
		if (json_is_object(apps))
			apps = json_pack("[O]", apps), fmt = "/apps";
		else
			json_incref(apps), fmt = "/apps/%zu";
		json_object_foreach(root, key, v)
			if (strcmp(key, "apps") != 0 &&
			    strcmp(key, "deploy") != 0)
				report_warning(l, key,
				    "unknown top-level "
				    "field; ignored");
	} else if (json_is_object(root))
		apps = json_pack("[O]", root), fmt = "";
	else if (json_is_array(root))
		apps = json_incref(root), fmt = "/%zu";
	else {
		report_error(l, NULL,
		    "the top level must be {\"apps\": [...]}, "
		    "an app, or a list of apps; not %s",
		    procfile_type_name(root));
		return;
	}
	if (!json_is_array(apps)) {
		report_error(l, "apps", "must be a list of apps, not %s",
		    procfile_type_name(apps));
		json_decref(apps);
		return;
	}
	if (json_array_size(apps) == 0)
		report_error(l, NULL, "no app in it");
	json_array_foreach(apps, i, v) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(l->prefix, sizeof l->prefix, fmt, i);
#pragma GCC diagnostic pop
		l->index = (int)i;
		l->app = NULL;
		spec = app_spec(l, v);
		if (spec == NULL)
			continue;
		name = procfile_app_name(spec);
		json_array_foreach(l->pf->all_names, j, other)
			if (name != NULL &&
			    strcmp(json_string_value(other), name) == 0) {
				report_error(l, "name",
				    "'%s' is the name of "
				    "another app in the file already",
				    name);
				break;
			}
		json_array_append_new(l->pf->all_names, json_string(name));
		if (l->opts->only == NULL || only_has(l->opts->only, name))
			json_array_append_new(l->pf->apps, spec);
		else
			json_decref(spec);
		free(name);
	}
	json_decref(apps);
	l->prefix[0] = '\0';
	l->app = NULL;
	l->index = -1;
	for (o = l->opts->only; o != NULL && *o != NULL; o++) {
		int found = 0;

		json_array_foreach(l->pf->all_names, j, v)
			if (strcmp(json_string_value(v), *o) == 0)
				found = 1;
		if (!found)
			report_error(l, NULL,
			    "--only names '%s', which is no "
			    "app of the file",
			    *o);
	}
	if (l->opts->env_name != NULL &&
	    json_array_size(l->pf->env_names) > 0) {
		int found = 0;

		json_array_foreach(l->pf->env_names, j, v)
			if (strcmp(json_string_value(v), l->opts->env_name) ==
			    0)
				found = 1;
		if (!found)
			report_warning(l, NULL, "no app has 'env_%s'",
			    l->opts->env_name);
	} else if (l->opts->env_name != NULL && !l->doc.procfile)
		report_warning(l, NULL, "no app has 'env_%s'",
		    l->opts->env_name);
}

static int load_file(const char *, const struct procfile_opts *,
    struct procfile *);

/*
 * Load the process file arg ("-": stdin) into pf: 0, or an exit code
 * having said what is wrong (every error, with file, line, app, field),
 * and pf released.
 */
int
procfile_load(const char *arg, const struct procfile_opts *opts,
    struct procfile *pf)
{
	int rc = load_file(arg, opts, pf);

	if (rc != 0)
		procfile_release(pf);
	return rc;
}

static int
load_file(const char *arg, const struct procfile_opts *opts,
    struct procfile *pf)
{
	struct load l;
	char err[512], cwd[PATH_MAX], *text = NULL, *slash, *envpath;
	const char *b = base_name(arg);
	size_t len = 0;
	int fd, rc = -1;

	memset(pf, 0, sizeof *pf);
	memset(&l, 0, sizeof l);
	if (!procfile_is_file(arg))
		return cmd_error(EXIT_USAGE,
		    "'%s' is not a process file (by its "
		    "name: .json, .yaml, .yml, *.config.js, .cjs, .mjs, "
		    "Procfile, or - for stdin)",
		    arg);
	l.pf = pf;
	l.opts = opts;
	l.index = -1;
	pf->apps = json_array();
	pf->all_names = json_array();
	pf->env_names = json_array();
	pf->display = strdup(strcmp(arg, "-") == 0 ? "(stdin)" : arg);
	if (getcwd(cwd, sizeof cwd) == NULL)
		return cmd_error(EXIT_FAIL,
		    "cannot tell the current directory");
	if (strcmp(arg, "-") == 0) {
		pf->path = strdup("-");
		pf->dir = strdup(cwd);
		text = read_all(0, &len, err, sizeof err);
	} else {
		pf->path = procfile_resolve_path(cwd, arg);
		pf->dir = strdup(pf->path);
		if ((slash = strrchr(pf->dir, '/')) != NULL)
			*(slash == pf->dir ? slash + 1 : slash) = '\0';
		if (!is_js_name(b)) {
			if ((fd = open(arg, O_RDONLY | O_CLOEXEC)) == -1)
				return cmd_error(errno == ENOENT ?
					EXIT_NOTFOUND :
					EXIT_FAIL,
				    "cannot read '%s': %s", arg,
				    strerror(errno));
			text = read_all(fd, &len, err, sizeof err);
			close(fd);
		} else if (access(arg, R_OK) != 0)
			return cmd_error(errno == ENOENT ? EXIT_NOTFOUND :
							   EXIT_FAIL,
			    "cannot read '%s': %s", arg, strerror(errno));
	}
	if (text == NULL && !is_js_name(b))
		return cmd_error(EXIT_FAIL, "cannot read '%s': %s", arg, err);
	if (text != NULL && memchr(text, '\0', len) != NULL) {
		free(text);
		return cmd_error(EXIT_USAGE, "%s: not a text file", arg);
	}

	err[0] = '\0';
	if (is_js_name(b))
		rc = procfile_js_eval(pf->path, &l.doc, err, sizeof err);
	else if (is_procfile_name(b)) {
		rc = procfile_foreman_parse(text, len, &l.doc, err, sizeof err);
		if (rc == 0 && asprintf(&envpath, "%s/.env", pf->dir) != -1) {
			char *etext;
			size_t elen;

			if ((fd = open(envpath, O_RDONLY | O_CLOEXEC)) != -1) {
				etext = read_all(fd, &elen, err, sizeof err);
				close(fd);
				if (etext != NULL &&
				    memchr(etext, '\0', elen) != NULL)
					snprintf(err, sizeof err,
					    "not a text file");
				if (etext == NULL ||
				    memchr(etext, '\0', elen) != NULL ||
				    procfile_dotenv_parse(etext, &l.doc.dotenv,
					err, sizeof err) != 0) {
					fprintf(stderr, "%s: %s: %s\n",
					    progname, envpath, err);
					l.nerrors++;
				}
				free(etext);
			}
			free(envpath);
		}
	} else if (procfile_ends_with(b, ".yaml") ||
	    procfile_ends_with(b, ".yml"))
		rc = procfile_yaml_parse(text, len, &l.doc, err, sizeof err);
	else if (procfile_ends_with(b, ".json"))
		rc = load_json(text, len, &l.doc, err, sizeof err);
	else {
		/* stdin: JSON, YAML, or a Procfile's "name: command" lines */
		const char *t = text;

		while (isspace((unsigned char)*t))
			t++;
		if (*t == '{' || *t == '[')
			rc = load_json(text, len, &l.doc, err, sizeof err);
		else if ((rc = procfile_yaml_parse(text, len, &l.doc, err,
			      sizeof err)) != 0 ||
		    (json_is_object(l.doc.root) &&
			json_object_get(l.doc.root, "apps") == NULL &&
			json_object_get(l.doc.root, "script") == NULL)) {
			json_decref(l.doc.root);
			json_decref(l.doc.lines);
			memset(&l.doc, 0, sizeof l.doc);
			rc = procfile_foreman_parse(text, len, &l.doc, err,
			    sizeof err);
		}
	}
	free(text);
	if (rc != 0) {
		/* what a loader made before it failed */
		json_decref(l.doc.root);
		json_decref(l.doc.lines);
		json_decref(l.doc.dotenv);
		fprintf(stderr, "%s: %s: %s\n", progname, pf->display, err);
		return EXIT_USAGE;
	}
	load_apps(&l);
	json_decref(l.doc.root);
	json_decref(l.doc.lines);
	json_decref(l.doc.dotenv);
	if (l.nerrors > 0) {
		fprintf(stderr, "%s: %s: %d error%s; nothing was done\n",
		    progname, pf->display, l.nerrors, l.nerrors > 1 ? "s" : "");
		return EXIT_USAGE;
	}
	return 0;
}

void
procfile_release(struct procfile *pf)
{
	free(pf->path);
	free(pf->display);
	free(pf->dir);
	json_decref(pf->apps);
	json_decref(pf->all_names);
	json_decref(pf->env_names);
	memset(pf, 0, sizeof *pf);
}

/* Split "a,b c" into words. */
static char **
split_list(char **vals)
{
	char **out = NULL, *copy, *tok, *save;
	size_t n = 0;

	for (; vals != NULL && *vals != NULL; vals++) {
		if ((copy = strdup(*vals)) == NULL)
			continue;
		for (tok = strtok_r(copy, ", ", &save); tok != NULL;
		     tok = strtok_r(NULL, ", ", &save)) {
			out = realloc(out, (n + 2) * sizeof *out);
			out[n++] = strdup(tok);
			out[n] = NULL;
		}
		free(copy);
	}
	return out;
}

/*
 * The options of a command acting on a file: --only, --env NAME (an
 * environment of the file) and --env KEY=VAL (a variable).  0, or an exit
 * code.
 */
int
procfile_opts_from_ctx(const struct cmd_ctx *ctx, struct procfile_opts *o)
{
	const struct cmd_option *sets[3], *opt;
	char **vals;
	size_t n = 0;
	int has_only = 0, has_env = 0, k, nsets;

	memset(o, 0, sizeof *o);
	/* run takes start's options */
	nsets = cmd_option_sets(ctx->entry, sets);
	for (k = 0; k < nsets; k++)
		for (opt = sets[k]; opt->name != NULL; opt++) {
			if (strcmp(opt->name, "only") == 0)
				has_only = 1;
			if (strcmp(opt->name, "env") == 0)
				has_env = 1;
		}
	if (has_only)
		o->only = split_list(cmd_opt_all(ctx, "only"));
	if (!has_env)
		return 0;
	for (vals = cmd_opt_all(ctx, "env"); vals != NULL && *vals != NULL;
	     vals++) {
		if (strchr(*vals, '=') != NULL) {
			if (**vals == '=')
				return cmd_usage_error(ctx,
				    "invalid --env '%s' "
				    "(say KEY=VALUE, or an environment's name)",
				    *vals);
			o->cli_env = realloc(o->cli_env,
			    (n + 2) * sizeof *o->cli_env);
			o->cli_env[n++] = *vals;
			o->cli_env[n] = NULL;
		} else if (o->env_name != NULL &&
		    strcmp(o->env_name, *vals) != 0)
			return cmd_usage_error(ctx,
			    "--env names two "
			    "environments, '%s' and '%s'",
			    o->env_name, *vals);
		else
			o->env_name = *vals;
	}
	return 0;
}

void
procfile_opts_release(struct procfile_opts *o)
{
	char **p;

	for (p = o->only; p != NULL && *p != NULL; p++)
		free(*p);
	free(o->only);
	free(o->cli_env);
	memset(o, 0, sizeof *o);
}
