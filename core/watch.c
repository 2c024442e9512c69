/*
 * --watch (watch, ignore_watch, watch_delay): reload an app when a file
 * under its watched paths changes.  libuv's fs events are inotify on
 * Linux, one watch per directory (recursion is ours: every directory
 * under a watched path, and each new one as it appears).  .git,
 * node_modules, the app's own log files and everything under the daemon's
 * home are never watched; ignore_watch adds glob patterns.  Events are
 * debounced: a reload comes watch_delay ms after the last change, so one
 * save (several events) gives one reload, logged with the path that
 * triggered it.  The reload goes through the reload path (reason
 * "watch"), so a cluster keeps serving.
 */
#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../ipc/util.h"
#include "core.h"

#define WATCH_DELAY_MS 1000 /* pm2's default */
#define MAX_DIRS 8192	    /* directories one app may watch */

struct wdir {
	uv_fs_event_t ev;
	struct watcher *w;
	char *path;
};

struct watcher {
	int app_id;
	char **roots; /* absolute */
	size_t nroots;
	char **ignore; /* glob patterns */
	size_t nignore;
	int64_t delay_ms;
	struct wdir **dirs;
	size_t ndirs, dircap;
	uv_timer_t timer;
	char *changed;	/* the first path changed since the last reload */
	uint64_t first; /* uv_now of that change */
	int nhandles;	/* the timer and each directory's handle */
	int closing;
	int warned; /* the inotify limit was reported */
};

static const char *always_ignored[] = { ".git", "node_modules" };

/* A string or an array of strings from spec[key] as a new vector. */
static char **
strings(const json_t *v, size_t *n)
{
	char **out;
	json_t *x;
	size_t i;

	*n = 0;
	if (json_is_string(v)) {
		if ((out = calloc(2, sizeof *out)) == NULL)
			return NULL;
		out[0] = strdup(json_string_value(v));
		*n = 1;
		return out;
	}
	if ((out = calloc(json_array_size(v) + 1, sizeof *out)) == NULL)
		return NULL;
	json_array_foreach(v, i, x)
		out[(*n)++] = strdup(json_string_value(x));
	return out;
}

static void
strings_free(char **v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

static int
string_or_strings(const json_t *v)
{
	json_t *x;
	size_t i;

	if (json_is_string(v))
		return 1;
	if (!json_is_array(v))
		return 0;
	json_array_foreach(v, i, x)
		if (!json_is_string(x))
			return 0;
	return 1;
}

/*
 * Check the watch fields of a spec: watch (true, false, a path or an
 * array of paths), ignore_watch (a pattern or an array), watch_delay (ms).
 */
int
watch_parse(const json_t *spec, struct err *e)
{
	json_t *w = json_object_get(spec, "watch");
	json_t *ig = json_object_get(spec, "ignore_watch");
	json_t *d = json_object_get(spec, "watch_delay");

	if (w != NULL && !json_is_boolean(w) && !json_is_null(w) &&
	    !string_or_strings(w)) {
		err_set(e, IPC_E_BAD_REQUEST,
		    "'watch' is true, false, a path "
		    "or an array of paths");
		return -1;
	}
	if (ig != NULL && !json_is_null(ig) && !string_or_strings(ig)) {
		err_set(e, IPC_E_BAD_REQUEST,
		    "'ignore_watch' is a pattern or "
		    "an array of patterns");
		return -1;
	}
	if (d != NULL && !json_is_null(d) &&
	    (!json_is_integer(d) || json_integer_value(d) < 0 ||
		json_integer_value(d) > 3600000)) {
		err_set(e, IPC_E_BAD_REQUEST,
		    "'watch_delay' is a number of ms "
		    "(0 to 3600000)");
		return -1;
	}
	return 0;
}

/* Whether path (absolute) is one the app never watches. */
static int
ignored(const struct watcher *w, const struct app *a, const char *path)
{
	const char *rel = path, *base = strrchr(path, '/'), *p, *q;
	char comp[NAME_MAX + 1], *lp;
	size_t i, n;
	int k, st, hit;

	base = base != NULL ? base + 1 : path;
	/* The daemon's own files, and the app's logs. */
	n = strlen(home);
	if (strncmp(path, home, n) == 0 && (path[n] == '/' || path[n] == '\0'))
		return 1;
	/* Each instance's log files, rotated ones too (out-0.log.1.gz). */
	for (k = 0; k < a->ninst; k++)
		for (st = 0; st <= 2; st++) {
			if ((lp = logs_stream_path(a, k, st)) == NULL)
				continue;
			n = strlen(lp);
			hit = strncmp(path, lp, n) == 0 &&
			    (path[n] == '\0' || path[n] == '.');
			free(lp);
			if (hit)
				return 1;
		}
	for (i = 0; i < w->nroots; i++) {
		n = strlen(w->roots[i]);
		if (strncmp(path, w->roots[i], n) == 0 && path[n] == '/') {
			rel = path + n + 1;
			break;
		}
	}
	/* Any component named .git or node_modules. */
	for (p = rel; *p != '\0'; p = *q != '\0' ? q + 1 : q) {
		q = p + strcspn(p, "/");
		if ((size_t)(q - p) >= sizeof comp)
			continue;
		memcpy(comp, p, (size_t)(q - p));
		comp[q - p] = '\0';
		for (k = 0; k <
		     (int)(sizeof always_ignored / sizeof always_ignored[0]);
		     k++)
			if (strcmp(comp, always_ignored[k]) == 0)
				return 1;
		for (i = 0; i < w->nignore; i++)
			if (fnmatch(w->ignore[i], comp, 0) == 0)
				return 1;
	}
	/* ignore_watch: a glob against the relative path, the whole path,
	 * the base name; a directory pattern covers what is under it. */
	for (i = 0; i < w->nignore; i++) {
		n = strlen(w->ignore[i]);
		if (fnmatch(w->ignore[i], rel, 0) == 0 ||
		    fnmatch(w->ignore[i], path, 0) == 0 ||
		    fnmatch(w->ignore[i], base, 0) == 0 ||
		    (strncmp(rel, w->ignore[i], n) == 0 && rel[n] == '/'))
			return 1;
	}
	return 0;
}

static void add_tree(struct watcher *, struct app *, const char *);

static void
handle_closed(uv_handle_t *h)
{
	struct watcher *w = h->data;

	if (h->type == UV_FS_EVENT) {
		struct wdir *d = (struct wdir *)h;

		free(d->path);
		free(d);
	}
	if (--w->nhandles == 0) {
		strings_free(w->roots, w->nroots);
		strings_free(w->ignore, w->nignore);
		free(w->dirs);
		free(w->changed);
		free(w);
	}
}

/* The debounce timer: the last change was watch_delay ago. */
static void
fire(uv_timer_t *t)
{
	struct watcher *w = t->data;
	struct app *a = app_find_id(w->app_id);

	if (a == NULL || w->changed == NULL)
		return;
	if (a->reloading) {
		/* After the running reload, so the change is not lost. */
		uv_timer_start(&w->timer, fire, (uint64_t)w->delay_ms + 100, 0);
		return;
	}
	log_info("%s: '%s' changed: reloading", a->name, w->changed);
	free(w->changed);
	w->changed = NULL;
	server_self_request("reload",
	    json_pack("{s:[s], s:s}", "targets", a->name, "reason", "watch"));
}

static void
event_cb(uv_fs_event_t *h, const char *name, int events, int status)
{
	struct wdir *d = (struct wdir *)h;
	struct watcher *w = d->w;
	struct app *a = app_find_id(w->app_id);
	char path[PATH_MAX];
	struct stat st;

	(void)events;
	if (a == NULL || w->closing || status != 0 || name == NULL)
		return;
	if ((size_t)snprintf(path, sizeof path, "%s/%s", d->path, name) >=
		sizeof path ||
	    ignored(w, a, path))
		return;
	/* A new directory is watched too. */
	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
		add_tree(w, a, path);
	if (w->changed == NULL) {
		w->changed = strdup(path);
		w->first = uv_now(loop);
	}
	/* watch_delay after the last change; but files that never stop
	 * changing do not hold the reload back beyond 4 delays. */
	if (uv_now(loop) < w->first + 4 * (uint64_t)w->delay_ms)
		uv_timer_start(&w->timer, fire, (uint64_t)w->delay_ms, 0);
}

/* Watch one directory (not recursively); 0, or a libuv error. */
static int
add_dir(struct watcher *w, struct app *a, const char *path)
{
	struct wdir *d, **nd;
	size_t i;
	int r;

	for (i = 0; i < w->ndirs; i++)
		if (strcmp(w->dirs[i]->path, path) == 0)
			return 0;
	if (w->ndirs >= MAX_DIRS) {
		if (!w->warned++)
			log_warnx("%s: more than %d directories to watch; "
				  "'%s' and others are not watched (use "
				  "--ignore-watch)",
			    a->name, MAX_DIRS, path);
		return UV_ENOSPC;
	}
	if (w->ndirs == w->dircap) {
		nd = realloc(w->dirs, (w->dircap * 2 + 16) * sizeof *nd);
		if (nd == NULL)
			return UV_ENOMEM;
		w->dirs = nd;
		w->dircap = w->dircap * 2 + 16;
	}
	if ((d = calloc(1, sizeof *d)) == NULL ||
	    (d->path = strdup(path)) == NULL) {
		free(d);
		return UV_ENOMEM;
	}
	d->w = w;
	uv_fs_event_init(loop, &d->ev);
	d->ev.data = w;
	w->nhandles++;
	if ((r = uv_fs_event_start(&d->ev, event_cb, path, 0)) != 0) {
		if (r == UV_ENOSPC && !w->warned++)
			log_warnx(
			    "%s: cannot watch '%s': the inotify watch "
			    "limit is reached; raise it with 'sysctl "
			    "fs.inotify.max_user_watches=524288' (the app keeps "
			    "running, watched in part)",
			    a->name, path);
		else if (r != UV_ENOSPC)
			log_warnx("%s: cannot watch '%s': %s", a->name, path,
			    uv_strerror(r));
		uv_close((uv_handle_t *)&d->ev, handle_closed);
		return r;
	}
	w->dirs[w->ndirs++] = d;
	return 0;
}

/* Watch path and every directory under it that is not ignored. */
static void
add_tree(struct watcher *w, struct app *a, const char *path)
{
	char sub[PATH_MAX];
	struct dirent *e;
	struct stat st;
	DIR *dir;

	if (add_dir(w, a, path) != 0)
		return;
	if ((dir = opendir(path)) == NULL)
		return;
	while ((e = readdir(dir)) != NULL) {
		if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
			continue;
		if ((size_t)snprintf(sub, sizeof sub, "%s/%s", path,
			e->d_name) >= sizeof sub)
			continue;
		if (lstat(sub, &st) != 0 || !S_ISDIR(st.st_mode) ||
		    ignored(w, a, sub))
			continue;
		add_tree(w, a, sub);
	}
	closedir(dir);
}

/* Stop watching for a (its handles close; the rest frees itself). */
void
watch_stop(struct app *a)
{
	struct watcher *w = a->watch;
	size_t i;

	if (w == NULL)
		return;
	a->watch = NULL;
	w->closing = 1;
	uv_timer_stop(&w->timer);
	for (i = 0; i < w->ndirs; i++)
		uv_close((uv_handle_t *)&w->dirs[i]->ev, handle_closed);
	w->ndirs = 0;
	uv_close((uv_handle_t *)&w->timer, handle_closed);
}

/*
 * (Re)start watching for a from its spec (after start, or set): watch
 * true watches the app's working directory; relative paths are under it.
 */
void
watch_start(struct app *a)
{
	json_t *wv = json_object_get(a->spec, "watch");
	struct watcher *w;
	char **paths, path[PATH_MAX];
	size_t n = 0, i;

	watch_stop(a);
	if (wv == NULL || json_is_false(wv) || json_is_null(wv))
		return;
	if ((w = calloc(1, sizeof *w)) == NULL)
		return;
	w->app_id = a->id;
	w->delay_ms = util_json_int(a->spec, "watch_delay", WATCH_DELAY_MS);
	w->ignore = strings(json_object_get(a->spec, "ignore_watch"),
	    &w->nignore);
	paths = json_is_true(wv) ? NULL : strings(wv, &n);
	w->roots = calloc(n + 2, sizeof *w->roots);
	if (w->roots == NULL) {
		strings_free(paths, n);
		strings_free(w->ignore, w->nignore);
		free(w);
		return;
	}
	if (paths == NULL)
		w->roots[w->nroots++] = strdup(a->cwd);
	for (i = 0; i < n; i++) {
		if (paths[i][0] == '/')
			snprintf(path, sizeof path, "%s", paths[i]);
		else
			snprintf(path, sizeof path, "%s/%s", a->cwd, paths[i]);
		w->roots[w->nroots++] = strdup(path);
	}
	strings_free(paths, n);
	uv_timer_init(loop, &w->timer);
	w->timer.data = w;
	w->nhandles = 1;
	a->watch = w;
	for (i = 0; i < w->nroots; i++) {
		if (w->roots[i] == NULL)
			continue;
		add_tree(w, a, w->roots[i]);
		log_info("%s: watching '%s' (%zu directories)", a->name,
		    w->roots[i], w->ndirs);
	}
}

/* For describe: what is watched. */
json_t *
watch_describe(const struct app *a)
{
	const struct watcher *w = a->watch;
	json_t *o;
	size_t i;

	if (w == NULL)
		return json_null();
	o = json_pack("{s:[], s:i, s:I}", "paths", "directories", (int)w->ndirs,
	    "delay_ms", (json_int_t)w->delay_ms);
	for (i = 0; i < w->nroots; i++)
		json_array_append_new(json_object_get(o, "paths"),
		    json_string(w->roots[i]));
	return o;
}
