/*
 * logs: the last lines of apps' log files, then every new line as the
 * daemon writes it (the daemon sends both over one streaming request).
 * Works in a pipe: a closed reader (logs | head) or Ctrl-C ends it quietly.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "cmd.h"

static const struct cmd_option options[] = {
	{ "lines", 0, "N", "how many last lines of each file (default 15)",
	    NULL, 0 },
	{ "out", 0, NULL, "only stdout", NULL, 0 },
	{ "err", 0, NULL, "only stderr", NULL, 0 },
	{ "raw", 0, NULL, "the lines only, without the 'name:N | ' prefix",
	    NULL, 0 },
	{ "nostream", 0, NULL, "print the last lines and exit (do not follow)",
	    NULL, 0 },
	{ "follow", 'f', NULL,
	    "then print new lines as they come (the "
	    "default)",
	    NULL, 0 },
	{ "daemon", 0, NULL, "the daemon's own log instead", NULL, 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

static volatile sig_atomic_t stop_signal;

static void
on_signal(int sig)
{
	stop_signal = sig;
}

/* A colour per app name, the same for it every time. */
static const char *
app_color(const char *name)
{
	static const char *colors[] = { "\033[36m", "\033[32m", "\033[35m",
		"\033[33m", "\033[34m", "\033[96m", "\033[92m", "\033[95m" };
	unsigned h = 5381;

	while (*name != '\0')
		h = h * 33 + (unsigned char)*name++;
	return colors[h % (sizeof colors / sizeof colors[0])];
}

static void
print_entry(const struct cmd_ctx *ctx, const json_t *e, int raw)
{
	const char *app = util_json_str(e, "app", NULL);
	const char *line = util_json_str(e, "line", "");
	const char *stamp = util_json_str(e, "stamp", NULL);
	json_t *inst = json_object_get(e, "instance"), *o;

	if (ctx->json) {
		o = json_pack("{s:O, s:O, s:O, s:O, s:O}", "app",
		    json_object_get(e, "app") ? json_object_get(e, "app") :
						json_null(),
		    "instance", inst ? inst : json_null(), "stream",
		    json_object_get(e, "stream"), "time",
		    json_object_get(e, "time") ? json_object_get(e, "time") :
						 json_null(),
		    "line", json_object_get(e, "line"));
		if (o != NULL) {
			json_dumpf(o, stdout, JSON_COMPACT);
			putchar('\n');
			json_decref(o);
		}
		return;
	}
	if (!raw && app != NULL) {
		if (ctx->color)
			fputs(app_color(app), stdout);
		if (json_is_integer(inst))
			printf("%s:%lld | ", app,
			    (long long)json_integer_value(inst));
		else
			printf("%s | ", app);
		if (ctx->color)
			fputs("\033[0m", stdout);
	}
	if (stamp != NULL)
		printf("%s: ", stamp);
	fwrite(line, 1, json_string_length(json_object_get(e, "line")), stdout);
	putchar('\n');
}

/*
 * One reply: print its lines.  1 when it was the last, 0 for more, or an
 * exit code + 100 for an error (already said).
 */
static int
handle_reply(struct cmd_ctx *ctx, json_t *reply, uint32_t id, int raw)
{
	json_t *data, *e;
	size_t i;
	int rc;

	if (util_json_int(reply, "id", -1) != id)
		return 0;
	if ((rc = cmd_reply_status(reply, &data)) != 0)
		return rc + 100;
	if (util_json_int(data, "missed", 0) > 0)
		fprintf(stderr,
		    "%s: missed %lld lines (this reader was too "
		    "slow)\n",
		    progname, (long long)util_json_int(data, "missed", 0));
	json_array_foreach(json_object_get(data, "lines"), i, e)
		print_entry(ctx, e, raw);
	return util_json_bool(reply, "more", 0) ? 0 : 1;
}

/* Read replies until the last, a signal, or a reader that went away. */
static int
stream(struct cmd_ctx *ctx, uint32_t id, int raw)
{
	struct ipc_client *c = &ctx->client;
	struct pollfd pfd[2];
	char buf[65536], err[256];
	json_t *reply;
	ssize_t n;
	int r;

	for (;;) {
		while ((r = ipc_decoder_next(&c->dec, &reply, err,
			    sizeof err)) == 1) {
			r = handle_reply(ctx, reply, id, raw);
			json_decref(reply);
			if (r != 0) {
				fflush(stdout);
				return r == 1 ? 0 : r - 100;
			}
		}
		if (r < 0)
			return cmd_error(EXIT_FAIL,
			    "bad reply from the daemon: "
			    "%s",
			    err);
		if (fflush(stdout) != 0 || ferror(stdout))
			return 0; /* the reader is gone (EPIPE) */
		pfd[0].fd = c->fd;
		pfd[0].events = POLLIN;
		pfd[1].fd = 1;
		pfd[1].events = 0; /* POLLERR: the pipe's reader is gone */
		if (poll(pfd, 2, -1) == -1) {
			if (errno == EINTR && stop_signal)
				return 0;
			if (errno == EINTR)
				continue;
			return cmd_error(EXIT_FAIL, "poll: %s",
			    strerror(errno));
		}
		if (stop_signal ||
		    (pfd[1].revents & (POLLERR | POLLHUP | POLLNVAL)))
			return 0;
		if (!(pfd[0].revents & (POLLIN | POLLHUP | POLLERR)))
			continue;
		n = read(c->fd, buf, sizeof buf);
		if (n == -1 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n <= 0)
			return cmd_error(EXIT_UNREACHABLE,
			    "the daemon closed the connection");
		if (ipc_decoder_feed(&c->dec, buf, (size_t)n) != 0)
			return cmd_error(EXIT_FAIL, "out of memory");
	}
}

static int
exec_logs(struct cmd_ctx *ctx)
{
	struct sigaction sa;
	const char *v;
	json_t *args;
	uint32_t id;
	char *end;
	long lines = 15;
	int r, follow;

	if ((v = cmd_opt(ctx, "lines")) != NULL) {
		errno = 0;
		lines = strtol(v, &end, 10);
		if (*v == '\0' || *end != '\0' || errno != 0 || lines < 0 ||
		    lines > 1000000)
			return cmd_usage_error(ctx,
			    "invalid line count '%s' "
			    "(0 to 1000000)",
			    v);
	}
	if (cmd_flag(ctx, "nostream") && cmd_flag(ctx, "follow"))
		return cmd_usage_error(ctx,
		    "--nostream and --follow do not "
		    "go together");
	if (cmd_flag(ctx, "daemon") && ctx->argc > 0)
		return cmd_usage_error(ctx, "--daemon takes no targets");
	follow = !cmd_flag(ctx, "nostream");
	args = json_pack("{s:o, s:i, s:s, s:b, s:b}", "targets",
	    cmd_targets(ctx), "lines", (int)lines, "stream",
	    cmd_flag(ctx, "out") && !cmd_flag(ctx, "err")     ? "out" :
		cmd_flag(ctx, "err") && !cmd_flag(ctx, "out") ? "err" :
								"all",
	    "follow", follow, "daemon", cmd_flag(ctx, "daemon"));
	if ((r = cmd_connect(ctx, 1)) != 0) {
		json_decref(args);
		return r;
	}
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal; /* no SA_RESTART: poll returns */
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	if ((r = ipc_client_send(&ctx->client, "logs", args, &id)) != 0)
		return cmd_error(EXIT_UNREACHABLE,
		    "cannot talk to the daemon: "
		    "%s",
		    strerror(-r));
	return stream(ctx, id, cmd_flag(ctx, "raw"));
}

const struct cmd_entry cmd_logs_entry = {
	.name = "logs",
	.aliases = "log",
	.usage = "logs [target...] [options]",
	.summary =
	    "Print apps' last log lines, then follow new ones (Ctrl-C to stop)",
	.options = options,
	.flags = CMD_DAEMON | CMD_TARGETS,
	.max_args = -1,
	.example = "clusterctl logs web --err --lines 100 --nostream",
	.exec = exec_logs,
};
