/*
 * save: write the daemon's apps to a dump (dump.json in the home, or
 * --file), which resurrect reads.  A dump holding apps is never replaced
 * by an empty one without --force, and the previous dump is kept beside
 * it as FILE.bak.  The format is docs/state.md's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "cmd.h"

static const struct cmd_option options[] = {
	{ "file", 'f', "FILE",
	    "the dump to write (default: dump.json in the "
	    "home)",
	    VAL_FILE, 0 },
	{ "force", 0, NULL, "replace a dump holding apps with an empty one",
	    NULL, 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

/* The dump's path: --file, or dump.json in the home. */
const char *
cmd_dump_path(const struct cmd_ctx *ctx, char *buf, size_t len)
{
	const char *f = cmd_opt(ctx, "file");

	if (f != NULL)
		return f;
	snprintf(buf, len, "%s/dump.json", ctx->home);
	return buf;
}

static int
exec_save(struct cmd_ctx *ctx)
{
	char pathbuf[PATH_MAX], bak[PATH_MAX + 8];
	const char *path = cmd_dump_path(ctx, pathbuf, sizeof pathbuf);
	json_t *doc = NULL, *old;
	size_t napps, nold = 0;
	char *text;
	int rc, backup = 0;

	if ((rc = cmd_call(ctx, "dump", NULL, &doc)) != 0)
		return rc;
	napps = json_array_size(json_object_get(doc, "apps"));
	if ((old = json_load_file(path, 0, NULL)) != NULL)
		nold = json_array_size(json_object_get(old, "apps"));
	json_decref(old);
	if (napps == 0 && nold > 0 && !cmd_flag(ctx, "force")) {
		json_decref(doc);
		return cmd_error(EXIT_FAIL,
		    "refusing to replace '%s', which "
		    "holds %zu app%s, with an empty dump (--force to do it)",
		    path, nold, nold == 1 ? "" : "s");
	}
	/* The previous dump stays as FILE.bak: a link costs no room. */
	snprintf(bak, sizeof bak, "%s.bak", path);
	if (access(path, F_OK) == 0) {
		(void)unlink(bak);
		if (link(path, bak) == 0)
			backup = 1;
		else
			cmd_error(0, "cannot keep '%s' as '%s': %s", path, bak,
			    strerror(errno));
	}
	text = json_dumps(doc, JSON_INDENT(1));
	rc = text == NULL ? -ENOMEM : 0;
	if (text != NULL) {
		size_t len = strlen(text);
		char *t2 = realloc(text, len + 2);

		if (t2 == NULL)
			rc = -ENOMEM;
		else {
			text = t2;
			text[len++] = '\n';
			rc = util_write_atomic(path, text, len, 0600);
		}
	}
	free(text);
	json_decref(doc);
	if (rc != 0)
		return cmd_error(EXIT_FAIL, "cannot write '%s': %s%s", path,
		    strerror(-rc),
		    access(path, F_OK) == 0 ? " (the previous dump is intact)" :
					      "");
	if (ctx->quiet)
		return 0;
	if (ctx->json) {
		json_t *o = json_pack("{s:s, s:I, s:o}", "file", path, "apps",
		    (json_int_t)napps, "backup",
		    backup ? json_string(bak) : json_null());

		cmd_print_json(o);
		json_decref(o);
	} else
		printf("saved %zu app%s to %s%s%s%s\n", napps,
		    napps == 1 ? "" : "s", path,
		    backup ? " (previous dump: " : "", backup ? bak : "",
		    backup ? ")" : "");
	return 0;
}

const struct cmd_entry cmd_save_entry = {
	.name = "save",
	.aliases = "dump",
	.usage = "save [options]",
	.summary = "Write the apps to a dump file that resurrect brings back",
	.options = options,
	.flags = CMD_DAEMON,
	.max_args = 0,
	.example = "clusterctl save --file /srv/apps.json",
	.exec = exec_save,
};
