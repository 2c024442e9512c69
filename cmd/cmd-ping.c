/* ping: start the daemon if needed and check that it answers. */
#include <string.h>

#include "../ipc/util.h"
#include "cmd.h"

static int
exec_ping(struct cmd_ctx *ctx)
{
	json_t *data = NULL;
	const char *v;
	int rc;

	if ((rc = cmd_call(ctx, "ping", NULL, &data)) != 0)
		return rc;
	v = util_json_str(data, "version", "?");
	if (ctx->json)
		cmd_print_json(data);
	else if (!ctx->quiet)
		printf("pong (daemon %s, pid %lld, generation %lld)\n", v,
		    (long long)util_json_int(data, "pid", 0),
		    (long long)util_json_int(data, "generation", 1));
	if (strcmp(v, CLUSTERCTL_VERSION) != 0)
		cmd_error(0,
		    "the daemon runs version %s but this is %s; "
		    "'clusterctl upgrade' replaces it in place",
		    v, CLUSTERCTL_VERSION);
	json_decref(data);
	return 0;
}

const struct cmd_entry cmd_ping_entry = {
	.name = "ping",
	.usage = "ping [options]",
	.summary = "Check that the daemon answers (starting it if needed)",
	.flags = CMD_DAEMON,
	.max_args = 0,
	.example = "clusterctl ping",
	.exec = exec_ping,
};
