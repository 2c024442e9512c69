/*
 * resurrect: start what a dump (save's dump.json, or --file) holds and is
 * not running, as it was saved: options, environment, instance counts,
 * stopped instances stopped.  Twice starts nothing twice.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "cmd.h"

static const struct cmd_option options[] = {
	{ "file", 'f', "FILE",
	    "the dump to read (default: dump.json in the "
	    "home)",
	    VAL_FILE, 0 },
	{ "update-env", 0, NULL,
	    "give the apps this shell's environment "
	    "instead of the saved one",
	    NULL, 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

/* Print "label: a, b" for a non-empty array of names (or objects). */
static void
print_names(const char *label, const json_t *arr)
{
	json_t *v;
	size_t i;

	if (json_array_size(arr) == 0)
		return;
	printf("%s ", label);
	json_array_foreach(arr, i, v)
		printf("%s%s", i > 0 ? ", " : "",
		    json_is_string(v) ? json_string_value(v) :
					util_json_str(v, "name", "?"));
	putchar('\n');
}

static int
exec_resurrect(struct cmd_ctx *ctx)
{
	char pathbuf[PATH_MAX];
	const char *path = cmd_dump_path(ctx, pathbuf, sizeof pathbuf);
	json_t *doc, *args, *data = NULL, *f;
	json_error_t je;
	size_t i;
	int rc;

	if ((doc = json_load_file(path, 0, &je)) == NULL) {
		if (access(path, F_OK) != 0)
			return cmd_error(EXIT_FAIL, "no dump at '%s'%s", path,
			    cmd_opt(ctx, "file") == NULL ?
				" (write one with 'clusterctl save')" :
				"");
		return cmd_error(EXIT_FAIL, "cannot read '%s': %s", path,
		    je.text);
	}
	args = json_pack("{s:o}", "dump", doc);
	if (cmd_flag(ctx, "update-env"))
		json_object_set_new(args, "env", cmd_environ_json());
	if ((rc = cmd_call(ctx, "resurrect", args, &data)) != 0)
		return rc;
	json_array_foreach(json_object_get(data, "failed"), i, f)
		cmd_error(0, "cannot resurrect '%s': %s",
		    util_json_str(f, "name", "?"),
		    util_json_str(f, "error", "?"));
	rc = json_array_size(json_object_get(data, "failed")) > 0 ? EXIT_FAIL :
								    0;
	if (ctx->json)
		cmd_print_json(data);
	else if (!ctx->quiet) {
		print_names("resurrected", json_object_get(data, "started"));
		print_names("already running:",
		    json_object_get(data, "running"));
		if (json_array_size(json_object_get(data, "started")) == 0 &&
		    json_array_size(json_object_get(data, "running")) == 0 &&
		    rc == 0)
			printf("the dump holds no app\n");
	}
	json_decref(data);
	return rc;
}

const struct cmd_entry cmd_resurrect_entry = {
	.name = "resurrect",
	.usage = "resurrect [options]",
	.summary = "Start the apps of a dump file that are not running",
	.options = options,
	.flags = CMD_DAEMON,
	.max_args = 0,
	.example = "clusterctl resurrect --update-env",
	.exec = exec_resurrect,
};
