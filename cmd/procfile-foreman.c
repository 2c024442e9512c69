/*
 * foreman's Procfile ("name: command" a line) and the .env file beside it
 * (KEY=VALUE lines).  A command is split into words like a shell would;
 * one that needs a shell ($VARS, pipes, redirections, globs) runs as
 * `/bin/sh -c 'exec COMMAND'`, as foreman runs every command.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "procfile.h"

/* Whether a command line needs a shell to mean what it says. */
static int
needs_shell(const char *cmd)
{
	return strpbrk(cmd, "$|&;<>()`*?[]{}~\n") != NULL;
}

static json_t *
app_for(const char *name, const char *cmd, char *err, size_t errlen)
{
	json_t *app, *words;

	app = json_pack("{s:s, s:s}", "name", name, "interpreter", "none");
	if (needs_shell(cmd)) {
		char *c;

		if (asprintf(&c, "exec %s", cmd) == -1)
			return NULL;
		json_object_set_new(app, "script", json_string("/bin/sh"));
		json_object_set_new(app, "args", json_pack("[s, s]", "-c", c));
		free(c);
		return app;
	}
	if (procfile_split_words(cmd, &words, err, errlen) != 0 ||
	    json_array_size(words) == 0) {
		if (json_array_size(words) == 0 && words != NULL)
			snprintf(err, errlen, "no command");
		json_decref(words);
		json_decref(app);
		return NULL;
	}
	json_object_set(app, "script", json_array_get(words, 0));
	json_array_remove(words, 0);
	json_object_set_new(app, "args", words);
	return app;
}

/* A Procfile's text into doc: 0, or -1 with err ("line N: ..."). */
int
procfile_foreman_parse(const char *text, size_t len, struct procfile_doc *doc,
    char *err, size_t errlen)
{
	json_t *apps = json_array(), *app, *utf8;
	const char *p = text, *end = text + len, *eol, *colon, *c;
	char name[128], *cmd, why[256], path[160];
	int line = 0;
	size_t n;

	doc->lines = json_object();
	for (; p < end; p = eol + 1) {
		line++;
		if ((eol = memchr(p, '\n', (size_t)(end - p))) == NULL)
			eol = end;
		while (p < eol && isspace((unsigned char)*p))
			p++;
		if (p == eol || *p == '#')
			continue;
		if ((utf8 = json_stringn(p, (size_t)(eol - p))) == NULL) {
			snprintf(err, errlen, "line %d: not UTF-8 text", line);
			goto fail;
		}
		json_decref(utf8);
		colon = memchr(p, ':', (size_t)(eol - p));
		n = colon != NULL ? (size_t)(colon - p) : 0;
		if (colon == NULL || n == 0 || n >= sizeof name) {
			snprintf(err, errlen, "line %d: say 'name: command'",
			    line);
			goto fail;
		}
		memcpy(name, p, n);
		name[n] = '\0';
		for (c = colon + 1; c < eol && isspace((unsigned char)*c); c++)
			;
		cmd = strndup(c, (size_t)(eol - c));
		while (cmd != NULL && *cmd != '\0' &&
		    isspace((unsigned char)cmd[strlen(cmd) - 1]))
			cmd[strlen(cmd) - 1] = '\0';
		if (cmd == NULL || *cmd == '\0') {
			snprintf(err, errlen, "line %d: '%s' has no command",
			    line, name);
			free(cmd);
			goto fail;
		}
		why[0] = '\0';
		if ((app = app_for(name, cmd, why, sizeof why)) == NULL) {
			snprintf(err, errlen, "line %d: %s", line, why);
			free(cmd);
			goto fail;
		}
		free(cmd);
		snprintf(path, sizeof path, "/apps/%zu", json_array_size(apps));
		json_object_set_new(doc->lines, path, json_integer(line));
		json_array_append_new(apps, app);
		if (eol == end)
			break;
	}
	if (json_array_size(apps) == 0) {
		snprintf(err, errlen, "no process in it (say 'name: command')");
		goto fail;
	}
	doc->root = json_pack("{s:o}", "apps", apps);
	doc->procfile = 1;
	return 0;
fail:
	json_decref(apps);
	json_decref(doc->lines);
	doc->lines = NULL;
	return -1;
}

/*
 * A .env file: KEY=VALUE lines, "export " allowed, values bare (a " #"
 * starts a comment), 'single-quoted' (as is) or "double-quoted" (\n, \",
 * \\).  0 and *out, or -1 with err.
 */
int
procfile_dotenv_parse(const char *text, json_t **out, char *err, size_t errlen)
{
	json_t *env = json_object();
	const char *p = text, *eol, *eq, *v;
	char key[256], *val, *w;
	int line = 0;
	size_t n;

	for (; *p != '\0'; p = *eol != '\0' ? eol + 1 : eol) {
		line++;
		eol = strchr(p, '\n');
		if (eol == NULL)
			eol = p + strlen(p);
		while (p < eol && isspace((unsigned char)*p))
			p++;
		if (p == eol || *p == '#')
			continue;
		if (strncmp(p, "export ", 7) == 0)
			for (p += 7; p < eol && (*p == ' ' || *p == '\t'); p++)
				;
		eq = memchr(p, '=', (size_t)(eol - p));
		n = eq != NULL ? (size_t)(eq - p) : 0;
		while (n > 0 && isspace((unsigned char)p[n - 1]))
			n--;
		if (eq == NULL || n == 0 || n >= sizeof key) {
			snprintf(err, errlen, "line %d: say KEY=VALUE", line);
			json_decref(env);
			return -1;
		}
		memcpy(key, p, n);
		key[n] = '\0';
		for (v = eq + 1; v < eol && (*v == ' ' || *v == '\t'); v++)
			;
		if ((val = calloc(1, (size_t)(eol - v) + 1)) == NULL) {
			json_decref(env);
			return -1;
		}
		w = val;
		if (*v == '\'' || *v == '"') {
			char q = *v++;

			for (; v < eol && *v != q; v++) {
				if (q == '"' && *v == '\\' && v + 1 < eol) {
					v++;
					*w++ = *v == 'n' ? '\n' :
					    *v == 't'	 ? '\t' :
							   *v;
				} else
					*w++ = *v;
			}
			if (v >= eol) {
				snprintf(err, errlen,
				    "line %d: the quote of %s "
				    "is not closed",
				    line, key);
				free(val);
				json_decref(env);
				return -1;
			}
		} else {
			for (; v < eol; v++) {
				if (*v == '#' && w > val &&
				    isspace((unsigned char)w[-1]))
					break;
				*w++ = *v;
			}
			while (w > val && isspace((unsigned char)w[-1]))
				w--;
		}
		*w = '\0';
		if (json_object_set_new(env, key, json_string(val)) != 0) {
			snprintf(err, errlen, "line %d: not UTF-8 text", line);
			free(val);
			json_decref(env);
			return -1;
		}
		free(val);
	}
	*out = env;
	return 0;
}
