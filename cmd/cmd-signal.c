/*
 * signal and send: a signal (pm2's sendSignal) or a message to every
 * targeted instance; each prints which instances (and pids) got it.
 */
#include <string.h>

#include "../ipc/util.h"
#include "cmd.h"

/* One line per instance reached, then one per instance skipped. */
static void
print_delivered(const struct cmd_ctx *ctx, const json_t *data)
{
	json_t *o;
	size_t i;

	if (ctx->json) {
		cmd_print_json(data);
		return;
	}
	if (ctx->quiet)
		return;
	json_array_foreach(json_object_get(data, "done"), i, o)
		printf("%s:%lld  pid %lld  %s sent%s%s\n",
		    util_json_str(o, "name", "?"),
		    (long long)util_json_int(o, "instance", 0),
		    (long long)util_json_int(o, "pid", 0),
		    util_json_str(data, "delivered", "?"),
		    json_object_get(o, "via") != NULL ? " on " : "",
		    util_json_str(o, "via", ""));
	json_array_foreach(json_object_get(data, "skipped"), i, o)
		printf("%s:%lld  %s: not sent (%s)\n",
		    util_json_str(o, "name", "?"),
		    (long long)util_json_int(o, "instance", 0),
		    util_json_str(o, "status", "?"),
		    util_json_str(o, "reason", "?"));
}

static int
exec_signal(struct cmd_ctx *ctx)
{
	json_t *args, *targets, *data = NULL;
	int rc, i;

	if (util_signal_number(ctx->argv[0]) <= 0)
		return cmd_usage_error(ctx,
		    "unknown signal '%s' (say SIGUSR2, "
		    "USR2 or 12)",
		    ctx->argv[0]);
	targets = json_array();
	for (i = 1; i < ctx->argc; i++)
		json_array_append_new(targets, json_string(ctx->argv[i]));
	args = json_pack("{s:s, s:o}", "signal", ctx->argv[0], "targets",
	    targets);
	if ((rc = cmd_call(ctx, "signal", args, &data)) == 0)
		print_delivered(ctx, data);
	json_decref(data);
	return rc;
}

const struct cmd_entry cmd_signal_entry = {
	.name = "signal",
	.aliases = "sendSignal",
	.usage = "signal <SIG> <target>... [options]",
	.summary =
	    "Send a signal to every targeted instance's process and say which "
	    "pids got it",
	.flags = CMD_DAEMON | CMD_NO_START,
	.min_args = 2,
	.max_args = -1,
	.example = "clusterctl signal SIGUSR2 api",
	.exec = exec_signal,
};

static int
exec_send(struct cmd_ctx *ctx)
{
	json_t *args, *msg, *data = NULL;
	const char *text = ctx->argv[ctx->argc - 1];
	json_t *targets = json_array();
	int rc, i;

	/* JSON if it parses, otherwise the text as a JSON string. */
	msg = json_loads(text, JSON_DECODE_ANY, NULL);
	if (msg == NULL)
		msg = json_string(text);
	if (msg == NULL) {
		json_decref(targets);
		return cmd_usage_error(ctx, "the message is not UTF-8 text");
	}
	for (i = 0; i < ctx->argc - 1; i++)
		json_array_append_new(targets, json_string(ctx->argv[i]));
	args = json_pack("{s:o, s:o}", "targets", targets, "message", msg);
	if ((rc = cmd_call(ctx, "send", args, &data)) == 0)
		print_delivered(ctx, data);
	json_decref(data);
	return rc;
}

const struct cmd_entry cmd_send_entry = {
	.name = "send",
	.usage = "send <target>... <message> [options]",
	.summary =
	    "Send a message (JSON or text) to instances: Node's IPC channel, or "
	    "stdin (--stdin-messages)",
	.flags = CMD_DAEMON | CMD_NO_START,
	.min_args = 2,
	.max_args = -1,
	.example = "clusterctl send api '{\"type\":\"refresh\"}'",
	.exec = exec_send,
};
