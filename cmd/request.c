/*
 * Requests to the daemon for the commands: send one (connecting, and
 * starting the daemon when the command may, through cmd_connect), read
 * its replies until the final one, and turn a failed reply into its
 * message on stderr and its exit code (docs/exit-codes.md).  Built on the
 * blocking client of ipc/client.c.
 */
#include <errno.h>
#include <string.h>

#include "../ipc/util.h"
#include "cmd.h"

/* The exit code for a failed reply's error code. */
static int
error_exit_code(const char *code)
{
	if (strcmp(code, IPC_E_NOT_FOUND) == 0)
		return EXIT_NOTFOUND;
	if (strcmp(code, IPC_E_APP_FAILED) == 0)
		return EXIT_APPFAILED;
	if (strcmp(code, IPC_E_TIMEOUT) == 0)
		return EXIT_TIMEOUT;
	if (strcmp(code, IPC_E_BAD_REQUEST) == 0)
		return EXIT_USAGE;
	return EXIT_FAIL;
}

/* Where cmd_call_capture wants an error's message instead of stderr. */
static char *capture_buf;
static size_t capture_len;

/*
 * Read a reply: 0 with *data (borrowed from reply) for success, or print
 * the error and return its exit code.
 */
int
cmd_reply_status(const json_t *reply, json_t **data)
{
	json_t *err;

	*data = json_object_get(reply, "data");
	/* The daemon tells the first client what it did by itself (it
	 * restored the apps of a daemon that died). */
	if (json_is_string(json_object_get(reply, "notice")))
		cmd_error(0, "%s", util_json_str(reply, "notice", ""));
	/* A condition of the daemon that lasts (docs/protocol.md). */
	if (json_is_string(json_object_get(reply, "warning")))
		cmd_error(0, "warning: %s",
		    util_json_str(reply, "warning", ""));
	if (util_json_bool(reply, "ok", 0))
		return 0;
	err = json_object_get(reply, "error");
	if (capture_buf != NULL)
		snprintf(capture_buf, capture_len, "%s",
		    util_json_str(err, "message", "unknown error"));
	else
		cmd_error(0, "%s",
		    util_json_str(err, "message", "unknown error"));
	return error_exit_code(util_json_str(err, "code", IPC_E_INTERNAL));
}

static int
recv_error(int r)
{
	if (r == -ECONNRESET)
		return cmd_error(EXIT_UNREACHABLE,
		    "the daemon closed the connection");
	if (r == -ETIMEDOUT)
		return cmd_error(EXIT_TIMEOUT,
		    "timed out waiting for the daemon");
	if (r == -EINTR)
		return 130;
	return cmd_error(EXIT_UNREACHABLE, "cannot read the daemon's reply: %s",
	    strerror(-r));
}

/*
 * Send one request (stealing args) and read replies until the final one,
 * calling each(ctx, data, arg) for every reply of a stream and for the
 * final one.  0, or an exit code.
 */
int
cmd_call_stream(struct cmd_ctx *ctx, const char *cmd, json_t *args,
    int (*each)(struct cmd_ctx *, json_t *, void *), void *arg, int timeout_ms)
{
	json_t *reply, *data;
	uint32_t id;
	int r, rc;

	if ((r = cmd_connect(ctx, !(ctx->entry->flags & CMD_NO_START))) != 0) {
		json_decref(args);
		return r;
	}
	if ((r = ipc_client_send(&ctx->client, cmd, args, &id)) != 0)
		return cmd_error(EXIT_UNREACHABLE,
		    "cannot talk to the daemon: %s", strerror(-r));
	for (;;) {
		if ((r = ipc_client_recv(&ctx->client, &reply, timeout_ms)) !=
		    0)
			return recv_error(r);
		if (util_json_int(reply, "id", -1) != id) {
			json_decref(reply);
			continue;
		}
		if ((rc = cmd_reply_status(reply, &data)) != 0) {
			json_decref(reply);
			return rc;
		}
		rc = each != NULL ? each(ctx, data, arg) : 0;
		if (!util_json_bool(reply, "more", 0) || rc != 0) {
			json_decref(reply);
			return rc < 0 ? 0 : rc;
		}
		json_decref(reply);
	}
}

static int
keep_data(struct cmd_ctx *ctx, json_t *data, void *arg)
{
	(void)ctx;
	json_decref(*(json_t **)arg);
	*(json_t **)arg = json_incref(data);
	return 0;
}

/* One request, one reply: *data (a new reference, may be NULL). */
int
cmd_call(struct cmd_ctx *ctx, const char *cmd, json_t *args, json_t **data)
{
	json_t *d = NULL;
	int rc;

	rc = cmd_call_stream(ctx, cmd, args, keep_data, &d, -1);
	if (data != NULL)
		*data = d;
	else
		json_decref(d);
	return rc;
}

/*
 * cmd_call, but a refusal's message goes into msg (empty when the failure
 * was not the daemon's answer, which is printed as usual) for the caller
 * to put in context.
 */
int
cmd_call_capture(struct cmd_ctx *ctx, const char *cmd, json_t *args,
    json_t **data, char *msg, size_t msglen)
{
	int rc;

	msg[0] = '\0';
	capture_buf = msg;
	capture_len = msglen;
	rc = cmd_call(ctx, cmd, args, data);
	capture_buf = NULL;
	return rc;
}

/* The positional arguments as a JSON array of targets. */
json_t *
cmd_targets(const struct cmd_ctx *ctx)
{
	json_t *t = json_array();
	int i;

	for (i = 0; i < ctx->argc; i++)
		json_array_append_new(t, json_string(ctx->argv[i]));
	return t;
}

/*
 * stop, restart, delete, reset: send the targets, then show what became
 * of them (the table, or JSON), unless quiet.
 */
int
cmd_act_on_targets(struct cmd_ctx *ctx, const char *cmd)
{
	return cmd_act_on(ctx, cmd, cmd_targets(ctx));
}

/* cmd_act_on_targets with the targets given (stolen). */
int
cmd_act_on(struct cmd_ctx *ctx, const char *cmd, json_t *targets)
{
	json_t *args, *data = NULL;
	int rc;

	args = json_pack("{s:o}", "targets", targets);
	if (cmd_flag(ctx, "no-wait"))
		json_object_set_new(args, "wait", json_false());
	rc = cmd_call(ctx, cmd, args, &data);
	if (rc == 0 && strcmp(cmd, "delete") == 0 && !ctx->quiet) {
		json_t *a;
		size_t i;

		if (ctx->json)
			cmd_print_json(data);
		else
			json_array_foreach(json_object_get(data, "apps"), i, a)
				printf("deleted %s\n",
				    util_json_str(a, "name", "?"));
	} else if (rc == 0 && data != NULL)
		rc = cmd_show_apps(ctx, data);
	else if (rc == 0 && ctx->json)
		cmd_print_json(data);
	json_decref(data);
	return rc;
}
