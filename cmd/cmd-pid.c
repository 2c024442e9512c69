/* pid: the pids of running instances, one a line (pm2 pid). */
#include <stdlib.h>

#include "../ipc/util.h"
#include "cmd.h"

/*
 * Every running instance's pid, or those of the targets' apps (a name, an
 * id, name:N, all).  An app with nothing running prints nothing, as in
 * pm2, so `kill $(clusterctl pid web)` is safe to script; an unknown name
 * is an error (exit 3).
 */
/* The instance number a target word names ("web:2"), or -1: every one. */
static long
word_instance(const char *w)
{
	const char *colon = strrchr(w, ':');
	char *end;
	long n;

	if (colon == NULL || colon[1] == '\0')
		return -1;
	n = strtol(colon + 1, &end, 10);
	return *end == '\0' && n >= 0 ? n : -1;
}

static int
exec_pid(struct cmd_ctx *ctx)
{
	json_t *rows = NULL, *desc, *row, *app, *pids;
	size_t i, j;
	long inst;
	int rc, k, want;

	if ((rc = cmd_call(ctx, "list", NULL, &rows)) != 0)
		return rc;
	pids = json_array();
	for (k = 0; k < (ctx->argc > 0 ? ctx->argc : 1); k++) {
		desc = NULL;
		inst = -1;
		if (ctx->argc > 0) {
			/* describe resolves the word as every command does. */
			rc = cmd_call(ctx, "describe",
			    json_pack("{s:[s]}", "targets", ctx->argv[k]),
			    &desc);
			if (rc != 0)
				goto out;
			inst = word_instance(ctx->argv[k]);
		}
		json_array_foreach(rows, i, row) {
			json_t *pid = json_object_get(row, "pid");

			want = ctx->argc == 0;
			json_array_foreach(desc, j, app)
				if (util_json_int(app, "id", -1) ==
				    util_json_int(row, "id", -2))
					want = 1;
			if (inst >= 0 &&
			    util_json_int(row, "instance", -1) != inst)
				want = 0;
			if (want && json_is_integer(pid))
				json_array_append(pids, pid);
		}
		json_decref(desc);
	}
	if (ctx->json)
		cmd_print_json(pids);
	else if (!ctx->quiet)
		json_array_foreach(pids, i, row)
			printf("%lld\n", (long long)json_integer_value(row));
out:
	json_decref(pids);
	json_decref(rows);
	return rc;
}

const struct cmd_entry cmd_pid_entry = {
	.name = "pid",
	.usage = "pid [target]... [options]",
	.summary = "Print the pids of the running instances, one a line",
	.flags = CMD_DAEMON | CMD_TARGETS,
	.min_args = 0,
	.max_args = -1,
	.example = "clusterctl pid web",
	.exec = exec_pid,
};
