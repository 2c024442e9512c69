/*
 * Targets as values: the words a request names ("web", "3", "web:1",
 * "all", a namespace) resolve once into a struct targets, an array of
 * (app id, instance or every instance), which handlers, waiters and log
 * followers keep and walk.  An app that was deleted since is skipped by whoever
 * walks the targets later (target_app returns NULL).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ipc/util.h"
#include "core.h"

/* The most targets one request may name. */
#define MAX_TARGETS 4096

/* Set e to code and a formatted message. */
void
err_set(struct err *e, const char *code, const char *fmt, ...)
{
	va_list ap;

	e->code = code;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof e->msg, fmt, ap);
	va_end(ap);
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

/* One word: "all", an id, a name, or either with ":N". */
static int
resolve_word(const char *word, struct targets *ts, struct err *e)
{
	const char *s = word, *colon;
	char *end, name[128];
	struct app *a = NULL;
	long id, inst = -1;

	if (strcmp(s, "all") == 0) {
		TAILQ_FOREACH(a, &apps, entry)
			if (!a->deleting && targets_add(ts, a->id, -1) != 0)
				goto nomem;
		return 0;
	}
	if ((colon = strrchr(s, ':')) != NULL &&
	    (size_t)(colon - s) < sizeof name) {
		inst = strtol(colon + 1, &end, 10);
		if (colon[1] == '\0' || *end != '\0' || inst < 0 ||
		    inst > INT_MAX) {
			err_set(e, IPC_E_BAD_REQUEST, "invalid target '%s'",
			    word);
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
	if (a == NULL)
		a = app_find_name(s);
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
	if (a == NULL) {
		err_set(e, IPC_E_NOT_FOUND, "no app named '%s'", s);
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

/* Resolve r's "targets"; on failure reply with the error and return -1. */
int
req_targets(struct req *r, struct targets *ts)
{
	struct err e;

	if (targets_resolve(json_object_get(r->args, "targets"), ts, &e) == 0)
		return 0;
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
