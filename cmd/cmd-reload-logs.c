/* reload-logs: the daemon reopens every log file (after a logrotate). */
#include "../ipc/util.h"
#include "cmd.h"

static int
exec_reload_logs(struct cmd_ctx *ctx)
{
	json_t *data = NULL;
	int rc;

	/* Nothing is open without a daemon: nothing to reopen. */
	if (cmd_connect(ctx, 0) != 0) {
		if (!ctx->quiet)
			printf("no daemon is running\n");
		return 0;
	}
	if ((rc = cmd_call(ctx, "reload-logs", NULL, &data)) != 0)
		return rc;
	if (ctx->json)
		cmd_print_json(data);
	else if (!ctx->quiet)
		printf("reopened %lld log files\n",
		    (long long)util_json_int(data, "files", 0));
	json_decref(data);
	return 0;
}

const struct cmd_entry cmd_reload_logs_entry = {
	.name = "reload-logs",
	.aliases = "reloadLogs",
	.usage = "reload-logs [options]",
	.summary =
	    "Reopen every log file (for an external logrotate; SIGUSR1 too)",
	.flags = CMD_DAEMON | CMD_NO_START,
	.max_args = 0,
	.example = "clusterctl reload-logs",
	.exec = exec_reload_logs,
};
