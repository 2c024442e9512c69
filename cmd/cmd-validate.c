/*
 * validate: read a process file and have the daemon check every app, as
 * start would, starting nothing: errors with the file, line, app and
 * field; warnings for fields clusterctl does not know.
 */
#include "cmd.h"
#include "procfile.h"

static const struct cmd_option options[] = {
	PROCFILE_OPTIONS,
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

static int
exec_validate(struct cmd_ctx *ctx)
{
	return procfile_validate(ctx, ctx->argv[0]);
}

const struct cmd_entry cmd_validate_entry = {
	.name = "validate",
	.usage = "validate <file> [options]",
	.summary = "Check a process file (syntax, fields, programs) without "
		   "starting anything",
	.options = options,
	.flags = CMD_DAEMON | CMD_FILES,
	.min_args = 1,
	.max_args = 1,
	.example = "clusterctl validate ecosystem.json",
	.exec = exec_validate,
};
