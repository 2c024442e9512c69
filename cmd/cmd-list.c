/* list: every instance, as a table or as the JSON contract. */
#include "cmd.h"

static int
exec_list(struct cmd_ctx *ctx)
{
	json_t *rows = NULL;
	int rc;

	if ((rc = cmd_call(ctx, "list", NULL, &rows)) != 0)
		return rc;
	if (ctx->json)
		cmd_print_json(rows);
	else if (!ctx->quiet) {
		if (json_array_size(rows) == 0)
			printf(
			    "no apps (start one: clusterctl start <script>)\n");
		else
			print_table(ctx, rows);
	}
	json_decref(rows);
	return 0;
}

const struct cmd_entry cmd_list_entry = {
	.name = "list",
	.aliases = "ls status ps l",
	.usage = "list [options]",
	.summary =
	    "List every instance: id, name, mode, pid, uptime, restarts, "
	    "status, "
	    "cpu, memory",
	.flags = CMD_DAEMON,
	.max_args = 0,
	.example = "clusterctl list --json",
	.exec = exec_list,
};
