/*
 * Targets as values: the words a request names ("web", "3", "web:1",
 * "all", a namespace) resolve once into a struct targets, an array of
 * (app id, instance or every instance), which handlers, waiters and log
 * followers keep and walk.  An app that was deleted since is skipped by whoever
 * walks the targets later (target_app returns NULL).
 */
#include <errno.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ipc/util.h"
#include "core.h"

/* The most targets one request may name. */
#define MAX_TARGETS 4096

/*
 * Set e to code and a formatted message; one too long for e->msg is cut
 * on a character boundary, then "...".
 */
void
err_set(struct err *e, const char *code, const char *fmt, ...)
{
	va_list ap;
	size_t n;
	int len;

	e->code = code;
	va_start(ap, fmt);
	len = vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
	if (len >= 0 && (size_t)len >= sizeof e->msg) {
		n = util_utf8_cut(e->msg, sizeof e->msg - 1, sizeof e->msg - 4);
		memcpy(e->msg + n, "...", 4);
	}
}

/* Append (app, instance) unless it is there already. */
static int
targets_add(struct targets *ts, int app_id, int instance)
{
	struct target *nv;
	size_t i;

	for (i = 0; i < ts->n; i++)
		if (ts->v[i].app_id == app_id && ts->v[i].instance == instance)
			return 0;
	if ((nv = realloc(ts->v, (ts->n + 1) * sizeof *nv)) == NULL)
		return -1;
	ts->v = nv;
	ts->v[ts->n].app_id = app_id;
	ts->v[ts->n].instance = instance;
	ts->n++;
	return 0;
}

/*
 * "/RE/" (pm2): every app whose name the extended regular expression
 * matches: 1 when the word is one (ts filled, or e set), 0 when not.
 */
static int
resolve_regex(const char *word, struct targets *ts, struct err *e, int *rc)
{
	size_t n = strlen(word);
	char *re, msg[128];
	struct app *a;
	regex_t rx;
	int r, found = 0;

	if (n < 3 || word[0] != '/' || word[n - 1] != '/')
		return 0;
	*rc = -1;
	if ((re = strndup(word + 1, n - 2)) == NULL) {
		err_set(e, IPC_E_INTERNAL, "out of memory");
		return 1;
	}
	r = regcomp(&rx, re, REG_EXTENDED | REG_NOSUB);
	free(re);
	if (r != 0) {
		regerror(r, &rx, msg, sizeof msg);
		err_set(e, IPC_E_BAD_REQUEST,
		    "invalid regular expression "
		    "'%.200s': %s",
		    word, msg);
		return 1;
	}
	TAILQ_FOREACH(a, &apps, entry) {
		if (a->deleting || regexec(&rx, a->name, 0, NULL, 0) != 0)
			continue;
		if (targets_add(ts, a->id, -1) != 0) {
			regfree(&rx);
			err_set(e, IPC_E_INTERNAL, "out of memory");
			return 1;
		}
		found = 1;
	}
	regfree(&rx);
	if (!found)
		err_set(e, IPC_E_NOT_FOUND, "no app name matches '%.200s'",
		    word);
	else
		*rc = 0;
	return 1;
}

/*
 * A script's file name (pm2's `stop app.js`): every app whose script is
 * that path, ends with "/WORD", or (a word without '/') has it as its base
 * name.  Whether any matched.
 */
static int
resolve_script(const char *word, struct targets *ts, int *nomem)
{
	const char *script, *base;
	size_t wl, sl;
	struct app *a;
	int found = 0;

	if (strncmp(word, "./", 2) == 0)
		word += 2;
	wl = strlen(word);
	TAILQ_FOREACH(a, &apps, entry) {
		if (a->deleting ||
		    (script = util_json_str(a->spec, "script", NULL)) == NULL)
			continue;
		sl = strlen(script);
		base = strrchr(script, '/') != NULL ? strrchr(script, '/') + 1 :
						      script;
		if (strcmp(script, word) == 0 ||
		    (word[0] != '/' && sl > wl && script[sl - wl - 1] == '/' &&
			strcmp(script + sl - wl, word) == 0) ||
		    (strchr(word, '/') == NULL && strcmp(base, word) == 0)) {
			if (targets_add(ts, a->id, -1) != 0) {
				*nomem = 1;
				return found;
			}
			found = 1;
		}
	}
	return found;
}

/*
 * Every app named name (several when started with --force, as pm2 keeps
 * processes of one name), instance inst (-1: all) of those that have it:
 * whether any matched.
 */
static int
resolve_name(const char *name, long inst, struct targets *ts, int *nomem)
{
	struct app *a;
	int found = 0;

	TAILQ_FOREACH(a, &apps, entry) {
		if (a->deleting || strcmp(a->name, name) != 0 ||
		    inst >= a->ninst)
			continue;
		if (targets_add(ts, a->id, (int)inst) != 0) {
			*nomem = 1;
			return found;
		}
		found = 1;
	}
	return found;
}

/*
 * One word: "all", "/RE/", an id, a name, either with ":N", or a script's
 * file name.  A word of digits is the app with that id first, then the
 * apps of that name (app_create keeps the two from meaning different
 * apps).
 */
static int
resolve_word(const char *word, struct targets *ts, struct err *e)
{
	const char *s = word, *colon;
	char *end, name[128], clip[68];
	struct app *a = NULL;
	long id, inst = -1;
	int rc, nomem = 0;

	if (strcmp(s, "all") == 0) {
		TAILQ_FOREACH(a, &apps, entry)
			if (!a->deleting && targets_add(ts, a->id, -1) != 0)
				goto nomem;
		return 0;
	}
	if (resolve_regex(word, ts, e, &rc))
		return rc;
	if ((colon = strrchr(s, ':')) != NULL &&
	    (size_t)(colon - s) < sizeof name) {
		inst = strtol(colon + 1, &end, 10);
		if (colon[1] == '\0' || *end != '\0' || inst < 0 ||
		    inst > INT_MAX) {
			err_set(e, IPC_E_BAD_REQUEST, "invalid target '%s'",
			    util_clip(word, clip, 64));
			return -1;
		}
		memcpy(name, s, (size_t)(colon - s));
		name[colon - s] = '\0';
		s = name;
	}
	errno = 0;
	id = strtol(s, &end, 10);
	if (*s != '\0' && *end == '\0' && errno == 0 && id >= 0 &&
	    id <= INT_MAX)
		a = app_find_id((int)id);
	if (a == NULL && app_find_name(s) != NULL) {
		if (resolve_name(s, inst, ts, &nomem))
			return 0;
		if (nomem)
			goto nomem;
		a = app_find_name(s); /* none has instance inst: said below */
	}
	if (a == NULL && inst == -1) {
		/* A namespace (pm2): every app in it. */
		int found = 0;

		TAILQ_FOREACH(a, &apps, entry)
			if (!a->deleting &&
			    strcmp(util_json_str(a->spec, "namespace",
				       "default"),
				s) == 0) {
				if (targets_add(ts, a->id, -1) != 0)
					goto nomem;
				found = 1;
			}
		if (found)
			return 0;
		a = NULL;
	}
	if (a == NULL && inst == -1 && resolve_script(word, ts, &nomem)) {
		if (nomem)
			goto nomem;
		return 0;
	}
	if (a == NULL) {
		err_set(e, IPC_E_NOT_FOUND, "no app named '%s'",
		    util_clip(s, clip, 64));
		return -1;
	}
	if (inst >= a->ninst) {
		err_set(e, IPC_E_NOT_FOUND, "app '%s' has no instance %ld",
		    a->name, inst);
		return -1;
	}
	if (targets_add(ts, a->id, (int)inst) != 0)
		goto nomem;
	return 0;
nomem:
	err_set(e, IPC_E_INTERNAL, "out of memory");
	return -1;
}

/*
 * Resolve target words (a JSON array of strings) into ts, in order and
 * without duplicates: 0, or -1 with e naming the first word that matches
 * nothing (and ts empty).
 */
int
targets_resolve(const json_t *words, struct targets *ts, struct err *e)
{
	json_t *w;
	size_t i;

	ts->v = NULL;
	ts->n = 0;
	if (!json_is_array(words) || json_array_size(words) == 0) {
		err_set(e, IPC_E_BAD_REQUEST, "%s",
		    json_is_array(words) || words == NULL ?
			"no target given" :
			"'targets' is not an array");
		return -1;
	}
	if (json_array_size(words) > MAX_TARGETS) {
		err_set(e, IPC_E_BAD_REQUEST, "more than %d targets",
		    MAX_TARGETS);
		return -1;
	}
	json_array_foreach(words, i, w) {
		if (!json_is_string(w)) {
			err_set(e, IPC_E_BAD_REQUEST,
			    "a target is not a string");
			targets_release(ts);
			return -1;
		}
		if (resolve_word(json_string_value(w), ts, e) != 0) {
			targets_release(ts);
			return -1;
		}
	}
	return 0;
}

/*
 * Resolve r's "targets"; on failure, or when a request that acts names no
 * app at all ("all" with none), reply with the error and return -1.
 */
int
req_targets(struct req *r, struct targets *ts)
{
	struct err e;

	if (targets_resolve(json_object_get(r->args, "targets"), ts, &e) == 0) {
		if (ts->n > 0 || !r->mutates)
			return 0;
		/* "all" with no app, for a request that acts: nothing was
		 * done, which pm2 reports as a failure too, so a deploy script
		 * notices.  One that only looks (describe all) gets none. */
		err_set(&e, IPC_E_NOT_FOUND, "no apps");
	}
	req_fail(r, &e);
	return -1;
}

/* The app t names, or NULL when it was deleted since. */
struct app *
target_app(const struct target *t)
{
	return app_find_id(t->app_id);
}

/* The instance numbers t names in a: lo <= k < hi (hi at most a->ninst). */
void
target_range(const struct target *t, const struct app *a, int *lo, int *hi)
{
	if (t->instance < 0) {
		*lo = 0;
		*hi = a->ninst;
	} else {
		*lo = t->instance;
		*hi = t->instance + 1 < a->ninst ? t->instance + 1 : a->ninst;
	}
}

/* Whether t names instance index of app app_id. */
int
target_has(const struct target *t, int app_id, int index)
{
	return t->app_id == app_id && (t->instance < 0 || t->instance == index);
}

/* Call fn on each instance the targets name (of apps still there). */
void
targets_each(const struct targets *ts, void (*fn)(struct instance *))
{
	struct app *a;
	size_t i;
	int k, lo, hi;

	for (i = 0; i < ts->n; i++) {
		if ((a = target_app(&ts->v[i])) == NULL)
			continue;
		target_range(&ts->v[i], a, &lo, &hi);
		for (k = lo; k < hi; k++)
			fn(a->inst[k]);
	}
}
