/* version: this CLI's version (and the running daemon's, if any). */
#include "../ipc/util.h"
#include "cmd.h"

static int
exec_version(struct cmd_ctx *ctx)
{
	if (ctx->quiet)
		return 0;
	if (ctx->json)
		printf("{\"version\": \"%s\", \"protocol\": %d}\n",
		    CLUSTERCTL_VERSION, IPC_VERSION);
	else
		printf("clusterctl %s (protocol %d)\n", CLUSTERCTL_VERSION,
		    IPC_VERSION);
	return 0;
}

const struct cmd_entry cmd_version_entry = {
	.name = "version",
	.usage = "version [options]",
	.summary = "Print the version",
	.max_args = 0,
	.example = "clusterctl version",
	.exec = exec_version,
};
