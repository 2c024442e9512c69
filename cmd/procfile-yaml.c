/*
 * YAML process files through libyaml, into a JSON document with the line
 * of every member (so an error can say "ecosystem.yaml:12").  Scalars are
 * typed as YAML 1.2's core schema does (js-yaml, pm2's parser, does the
 * same): quoted ones are strings; plain ones are null, booleans, integers
 * or floats when they look like one.  Anchors, aliases and the `<<` merge
 * key work.  Also used on JSON files, whose flow style is YAML: it gives
 * their lines, and reads pm2's JavaScript-object style "JSON" (unquoted
 * keys, single quotes) that strict JSON refuses.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "../ipc/util.h"
#include "procfile.h"

/*
 * libyaml is loaded when a process file is first read, not linked: the
 * binary is also the daemon and every instance's exec shim, which would
 * load it at every exec for nothing (see util_dlopen).
 */
static struct {
	void *so;
	__typeof__(yaml_parser_initialize) *parser_initialize;
	__typeof__(yaml_parser_set_input_string) *parser_set_input_string;
	__typeof__(yaml_parser_parse) *parser_parse;
	__typeof__(yaml_parser_delete) *parser_delete;
	__typeof__(yaml_event_delete) *event_delete;
} yl;

#define yaml_parser_initialize yl.parser_initialize
#define yaml_parser_set_input_string yl.parser_set_input_string
#define yaml_parser_parse yl.parser_parse
#define yaml_parser_delete yl.parser_delete
#define yaml_event_delete yl.event_delete

/* Load libyaml once: 0, or -1 with err saying why. */
static int
yaml_load(char *err, size_t errlen)
{
	static const struct util_sym syms[] = {
		{ "yaml_parser_initialize", (void **)&yl.parser_initialize },
		{ "yaml_parser_set_input_string",
		    (void **)&yl.parser_set_input_string },
		{ "yaml_parser_parse", (void **)&yl.parser_parse },
		{ "yaml_parser_delete", (void **)&yl.parser_delete },
		{ "yaml_event_delete", (void **)&yl.event_delete },
	};

	if (yl.so == NULL)
		yl.so = util_dlopen("libyaml-0.so.2", "libyaml-0-2", syms,
		    sizeof syms / sizeof syms[0], err, errlen);
	return yl.so != NULL ? 0 : -1;
}

/* Nesting deeper than this is refused (the parser recurses). */
#define MAX_DEPTH 64

struct yp {
	yaml_parser_t parser;
	json_t *anchors;
	json_t *lines;
	char *err;
	size_t errlen;
	int depth;
};

static int
next_event(struct yp *y, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&y->parser, ev)) {
		snprintf(y->err, y->errlen, "line %lu: %s%s%s",
		    (unsigned long)y->parser.problem_mark.line + 1,
		    y->parser.problem != NULL ? y->parser.problem :
						"syntax error",
		    y->parser.context != NULL ? " " : "",
		    y->parser.context != NULL ? y->parser.context : "");
		return -1;
	}
	return 0;
}

/* A plain scalar as YAML 1.2's core schema types it. */
static json_t *
plain_scalar(const char *s, size_t len)
{
	const char *p = s;
	char *end;
	long long ll;
	double d;

	if (len == 0 || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 ||
	    strcmp(s, "Null") == 0 || strcmp(s, "NULL") == 0)
		return json_null();
	if (strcmp(s, "true") == 0 || strcmp(s, "True") == 0 ||
	    strcmp(s, "TRUE") == 0)
		return json_true();
	if (strcmp(s, "false") == 0 || strcmp(s, "False") == 0 ||
	    strcmp(s, "FALSE") == 0)
		return json_false();
	if (*p == '-' || *p == '+')
		p++;
	if (*p >= '0' && *p <= '9') {
		errno = 0;
		if (strncmp(p, "0x", 2) == 0 || strncmp(p, "0o", 2) == 0) {
			ll = strtoll(p + 2, &end, p[1] == 'x' ? 16 : 8);
			if (*end == '\0' && errno == 0 && end != p + 2)
				return json_integer(*s == '-' ? -ll : ll);
			return json_stringn(s, len);
		}
		ll = strtoll(s, &end, 10);
		if (*end == '\0' && errno == 0)
			return json_integer(ll);
	}
	if ((*p >= '0' && *p <= '9') ||
	    (*p == '.' && p[1] >= '0' && p[1] <= '9')) {
		errno = 0;
		d = strtod(s, &end);
		if (*end == '\0' && errno == 0 && isfinite(d) &&
		    strpbrk(s, "xXpPnNiI") == NULL)
			return json_real(d);
	}
	return json_stringn(s, len);
}

static void
note_line(struct yp *y, const char *path, const yaml_event_t *ev)
{
	json_object_set_new(y->lines, path,
	    json_integer((json_int_t)ev->start_mark.line + 1));
}

static int parse_node(struct yp *, yaml_event_t *, const char *, json_t **);

static int
parse_mapping(struct yp *y, const char *path, json_t *obj)
{
	yaml_event_t ev;
	json_t *val, *merge;
	char sub[1024], *key;
	const char *k;
	json_t *mv;

	for (;;) {
		if (next_event(y, &ev) != 0)
			return -1;
		if (ev.type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(&ev);
			return 0;
		}
		if (ev.type != YAML_SCALAR_EVENT) {
			snprintf(y->err, y->errlen,
			    "line %lu: a key must be a "
			    "plain name, not a list or mapping",
			    (unsigned long)ev.start_mark.line + 1);
			yaml_event_delete(&ev);
			return -1;
		}
		key = strdup((const char *)ev.data.scalar.value);
		snprintf(sub, sizeof sub, "%s/%s", path, key);
		note_line(y, sub, &ev);
		yaml_event_delete(&ev);
		if (key == NULL)
			return -1;
		if (next_event(y, &ev) != 0) {
			free(key);
			return -1;
		}
		if (parse_node(y, &ev, sub, &val) != 0) {
			free(key);
			return -1;
		}
		if (strcmp(key, "<<") == 0 &&
		    (json_is_object(val) || json_is_array(val))) {
			/* The merge key: members not set here come from
			 * the aliased mapping(s). */
			size_t i;

			json_t *mval;

			if (json_is_object(val))
				merge = json_pack("[o]", val);
			else
				merge = val;
			json_array_foreach(merge, i, mv)
				json_object_foreach(mv, k, mval)
					if (json_object_get(obj, k) == NULL)
						json_object_set(obj, k, mval);
			json_decref(merge);
			free(key);
			continue;
		}
		json_object_set_new(obj, key, val);
		free(key);
	}
}

/* The node that ev starts (ev is consumed), into *out. */
static int
parse_node(struct yp *y, yaml_event_t *ev, const char *path, json_t **out)
{
	const char *anchor = NULL, *tag = NULL;
	yaml_event_t item;
	char sub[1024], *a = NULL;
	json_t *j = NULL, *v;
	size_t i = 0;
	int rc = 0;

	*out = NULL;
	if (++y->depth > MAX_DEPTH) {
		snprintf(y->err, y->errlen, "line %lu: nested too deeply",
		    (unsigned long)ev->start_mark.line + 1);
		yaml_event_delete(ev);
		return -1;
	}
	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		v = json_object_get(y->anchors,
		    (const char *)ev->data.alias.anchor);
		if (v == NULL) {
			snprintf(y->err, y->errlen,
			    "line %lu: unknown alias "
			    "'*%s'",
			    (unsigned long)ev->start_mark.line + 1,
			    ev->data.alias.anchor);
			rc = -1;
		} else
			j = json_deep_copy(v);
		break;
	case YAML_SCALAR_EVENT:
		anchor = (const char *)ev->data.scalar.anchor;
		tag = (const char *)ev->data.scalar.tag;
		if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
		    (tag != NULL && strcmp(tag, YAML_STR_TAG) == 0))
			j = json_stringn((const char *)ev->data.scalar.value,
			    ev->data.scalar.length);
		else
			j = plain_scalar((const char *)ev->data.scalar.value,
			    ev->data.scalar.length);
		if (j == NULL) { /* not UTF-8 */
			snprintf(y->err, y->errlen, "line %lu: not UTF-8 text",
			    (unsigned long)ev->start_mark.line + 1);
			rc = -1;
		}
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = (const char *)ev->data.sequence_start.anchor;
		j = json_array();
		for (;;) {
			if (next_event(y, &item) != 0) {
				rc = -1;
				break;
			}
			if (item.type == YAML_SEQUENCE_END_EVENT) {
				yaml_event_delete(&item);
				break;
			}
			snprintf(sub, sizeof sub, "%s/%zu", path, i++);
			note_line(y, sub, &item);
			if (parse_node(y, &item, sub, &v) != 0) {
				rc = -1;
				break;
			}
			json_array_append_new(j, v);
		}
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = (const char *)ev->data.mapping_start.anchor;
		j = json_object();
		rc = parse_mapping(y, path, j);
		break;
	default:
		snprintf(y->err, y->errlen, "line %lu: unexpected YAML event",
		    (unsigned long)ev->start_mark.line + 1);
		rc = -1;
	}
	if (anchor != NULL)
		a = strdup(anchor);
	yaml_event_delete(ev);
	y->depth--;
	if (rc != 0) {
		json_decref(j);
		free(a);
		return -1;
	}
	if (a != NULL)
		json_object_set_new(y->anchors, a, json_deep_copy(j));
	free(a);
	*out = j;
	return 0;
}

/*
 * Parse text (YAML, or JSON) into doc->root and doc->lines: 0, or -1 with
 * err ("line N: ...").
 */
int
procfile_yaml_parse(const char *text, size_t len, struct procfile_doc *doc,
    char *err, size_t errlen)
{
	struct yp y;
	yaml_event_t ev;
	int rc = -1;

	if (yaml_load(err, errlen) != 0)
		return -1;
	memset(&y, 0, sizeof y);
	y.err = err;
	y.errlen = errlen;
	if (!yaml_parser_initialize(&y.parser)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)text,
	    len);
	y.anchors = json_object();
	y.lines = json_object();
	doc->root = NULL;
	/* stream start, document start (or stream end: empty) */
	if (next_event(&y, &ev) != 0)
		goto out;
	yaml_event_delete(&ev);
	if (next_event(&y, &ev) != 0)
		goto out;
	if (ev.type != YAML_DOCUMENT_START_EVENT) {
		yaml_event_delete(&ev);
		snprintf(err, errlen, "the file is empty");
		goto out;
	}
	yaml_event_delete(&ev);
	if (next_event(&y, &ev) != 0)
		goto out;
	if (parse_node(&y, &ev, "", &doc->root) != 0)
		goto out;
	rc = 0;
out:
	yaml_parser_delete(&y.parser);
	json_decref(y.anchors);
	if (rc == 0)
		doc->lines = y.lines;
	else
		json_decref(y.lines);
	return rc;
}
