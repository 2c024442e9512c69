/* kill: stop every app gracefully, then the daemon. */
#include <errno.h>
#include <stdio.h>
#include <signal.h>
#include <time.h>

#include "../ipc/util.h"
#include "cmd.h"

static int
exec_kill(struct cmd_ctx *ctx)
{
	json_t *data = NULL, *v;
	long long pid;
	size_t i;
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
	if ((rc = cmd_call(ctx, "kill", NULL, &data)) != 0)
		return rc;
	/* What the daemon could not write before exiting (a full disk). */
	json_array_foreach(json_object_get(data, "lost"), i, v)
		fprintf(stderr,
		    "clusterctl: %lld lines (%lld bytes) for '%s' "
		    "were lost: %s\n",
		    (long long)util_json_int(v, "lines", 0),
		    (long long)util_json_int(v, "bytes", 0),
		    util_json_str(v, "file", "?"),
		    util_json_str(v, "error", "?"));
	json_decref(data);
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
