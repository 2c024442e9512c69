/*
 * completion: print the bash, zsh or fish completion script, embedded in
 * the binary at build time (from completions/), for users who did not
 * run make install:  source <(clusterctl completion bash)
 */
#include <string.h>

#include "cmd.h"

/* $(BUILD)/gen/completions.c, made by the Makefile from completions/. */
extern const char cmd_completion_bash[], cmd_completion_zsh[],
    cmd_completion_fish[];

/* Print the embedded script for the shell named. */
static int
exec_completion(struct cmd_ctx *ctx)
{
	const char *sh = ctx->argv[0];

	if (strcmp(sh, "bash") == 0)
		fputs(cmd_completion_bash, stdout);
	else if (strcmp(sh, "zsh") == 0)
		fputs(cmd_completion_zsh, stdout);
	else if (strcmp(sh, "fish") == 0)
		fputs(cmd_completion_fish, stdout);
	else
		return cmd_usage_error(ctx,
		    "no completion for shell '%s' (bash, zsh or fish)", sh);
	return 0;
}

const struct cmd_entry cmd_completion_entry = {
	.name = "completion",
	.usage = "completion <bash|zsh|fish>",
	.summary =
	    "Print the shell completion script (source <(clusterctl completion "
	    "bash))",
	.min_args = 1,
	.max_args = 1,
	.example = "clusterctl completion bash > "
		   "~/.local/share/bash-completion/completions/clusterctl",
	.exec = exec_completion,
};
