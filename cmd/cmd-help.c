/* help: the command list, or one command's help. */
#include "cmd.h"

static int
exec_help(struct cmd_ctx *ctx)
{
	const struct cmd_entry *e;
	const char *hint;

	if (ctx->argc == 0) {
		cmd_help_all(stdout);
		return 0;
	}
	if ((e = cmd_find(ctx->argv[0], &hint)) == NULL) {
		cmd_error(0, "unknown command '%s'", ctx->argv[0]);
		if (hint != NULL)
			fprintf(stderr, "Did you mean '%s'?\n", hint);
		return EXIT_USAGE;
	}
	cmd_help(e, stdout);
	return 0;
}

const struct cmd_entry cmd_help_entry = {
	.name = "help",
	.usage = "help [command]",
	.summary = "Show help for clusterctl or a command",
	.max_args = 1,
	.example = "clusterctl help start",
	.exec = exec_help,
};
