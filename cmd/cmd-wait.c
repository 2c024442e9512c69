/*
 * wait: block until every targeted instance is online (and ready), for
 * scripts: exit 0, EXIT_TIMEOUT when --timeout passes first, EXIT_APPFAILED
 * when an instance is errored or stopped.  The daemon answers when the
 * state changes (no polling); the timeout is kept here.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "../ipc/util.h"
#include "cmd.h"

#define WAIT_DEFAULT_MS 30000

static const struct cmd_option options[] = {
	{ "timeout", 't', "DURATION",
	    "give up after this long, exit 5 "
	    "(default 30s; 0: wait for ever)",
	    NULL, 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

/* "web", "web and api" or "web, api and 2 more", for messages. */
static void
name_targets(const struct cmd_ctx *ctx, char *buf, size_t len)
{
	int i;

	buf[0] = '\0';
	for (i = 0; i < ctx->argc && i < 3; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s'%s'",
		    i == 0		   ? "" :
			i == ctx->argc - 1 ? " and " :
					     ", ",
		    ctx->argv[i]);
	if (ctx->argc > 3)
		snprintf(buf + strlen(buf), len - strlen(buf), " and %d more",
		    ctx->argc - 3);
}

/*
 * Send "wait" and read its one reply within the timeout; on timeout the
 * connection is closed and the daemon drops the waiter.
 */
static int
exec_wait(struct cmd_ctx *ctx)
{
	json_t *args, *reply = NULL, *data;
	int64_t timeout = WAIT_DEFAULT_MS;
	long long deadline;
	char what[256];
	uint32_t id;
	int r, rc, left;

	if ((rc = cmd_parse_ms(ctx, "timeout", &timeout)) != 0)
		return rc;
	if ((rc = cmd_connect(ctx, 0)) != 0)
		return cmd_error(EXIT_UNREACHABLE,
		    "no daemon is running (at "
		    "'%s')",
		    ctx->sock);
	args = json_pack("{s:o}", "targets", cmd_targets(ctx));
	if ((r = ipc_client_send(&ctx->client, "wait", args, &id)) != 0)
		return cmd_error(EXIT_UNREACHABLE,
		    "cannot talk to the daemon: %s", strerror(-r));
	deadline = util_now_ms() + timeout;
	for (;;) {
		left = -1;
		if (timeout > 0) {
			left = (int)(deadline - util_now_ms());
			if (left < 0)
				left = 0;
		}
		r = ipc_client_recv(&ctx->client, &reply, left);
		if (r == -ETIMEDOUT) {
			char d[32];

			name_targets(ctx, what, sizeof what);
			format_duration(d, sizeof d, timeout);
			return cmd_error(EXIT_TIMEOUT,
			    "timed out after %s waiting for %s to be online", d,
			    what);
		}
		if (r != 0)
			return cmd_error(r == -EINTR ? 130 : EXIT_UNREACHABLE,
			    "lost the daemon while waiting: %s", strerror(-r));
		if (util_json_int(reply, "id", -1) == id)
			break;
		json_decref(reply);
	}
	if ((rc = cmd_reply_status(reply, &data)) == 0 && data != NULL)
		rc = cmd_show_apps(ctx, data);
	json_decref(reply);
	return rc;
}

const struct cmd_entry cmd_wait_entry = {
	.name = "wait",
	.usage = "wait <target>... [--timeout 30s]",
	.summary =
	    "Wait until every instance of the targets is online and ready "
	    "(exit 5 on timeout, 6 if one is errored or stopped)",
	.options = options,
	.flags = CMD_DAEMON | CMD_NO_START | CMD_TARGETS,
	.min_args = 1,
	.max_args = -1,
	.example = "clusterctl start app.js --no-wait && clusterctl wait app "
		   "--timeout 1m",
	.exec = exec_wait,
};
