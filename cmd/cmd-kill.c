/* kill: stop every app gracefully, then the daemon. */
#include <errno.h>
#include <signal.h>
#include <time.h>

#include "../ipc/util.h"
#include "cmd.h"

static int
exec_kill(struct cmd_ctx *ctx)
{
	json_t *data = NULL;
	long long pid;
	int rc;

	if ((rc = cmd_connect(ctx, 0)) != 0) {
		if (ctx->json && !ctx->quiet)
			printf("{\"stopped\": false}\n");
		else if (!ctx->quiet)
			printf("no daemon is running\n");
		return 0;
	}
	if ((rc = cmd_call(ctx, "ping", NULL, &data)) != 0)
		return rc;
	pid = util_json_int(data, "pid", 0);
	json_decref(data);
	if ((rc = cmd_call(ctx, "kill", NULL, NULL)) != 0)
		return rc;
	/*
	 * Return once the daemon is gone, so a next command starts anew: its
	 * exit closes our connection (its pid may linger as a zombie where
	 * nobody reaps it, so the pid says nothing).
	 */
	for (;;) {
		json_t *msg = NULL;

		if (ipc_client_recv(&ctx->client, &msg, 10000) != 0)
			break;
		json_decref(msg);
	}
	if (ctx->json && !ctx->quiet)
		printf("{\"stopped\": true, \"pid\": %lld}\n", pid);
	else if (!ctx->quiet)
		printf("daemon stopped\n");
	return 0;
}

const struct cmd_entry cmd_kill_entry = {
	.name = "kill",
	.usage = "kill [options]",
	.summary = "Stop every app gracefully, then the daemon",
	.flags = CMD_DAEMON | CMD_NO_START,
	.max_args = 0,
	.example = "clusterctl kill",
	.exec = exec_kill,
};
