/*
 * validate: read a process file and have the daemon check every app, as
 * start would, starting nothing: errors with the file, line, app and
 * field; warnings for fields clusterctl does not know.
 */
#include "cmd.h"
#include "procfile.h"

static const struct cmd_option options[] = {
    PROCFILE_OPTIONS,
    {NULL, 0, NULL, NULL, NULL, 0},
};

static int
exec_validate(struct cmd_ctx *ctx)
{
	return procfile_validate(ctx, ctx->argv[0]);
}

const struct cmd_entry cmd_validate_entry = {
    "validate",
    NULL,
    "validate <file> [options]",
    "Check a process file (syntax, fields, programs) without starting "
    "anything",
    options,
    CMD_DAEMON | CMD_FILES,
    1,
    1,
    "clusterctl validate ecosystem.json",
    exec_validate,
};
