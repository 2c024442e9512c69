/* describe: everything known about apps and their instances. */
#include <string.h>
#include <time.h>

#include "../ipc/util.h"
#include "cmd.h"

static void
print_time(const char *label, int64_t ms)
{
	char buf[64];
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
	printf("%s%s.%03lld", label, buf, (long long)(ms % 1000));
}

static void
describe_one(const struct cmd_ctx *ctx, const json_t *a)
{
	json_t *p, *e, *v;
	const char *k;
	size_t i, j;
	char d[32];

	printf("%s (id %lld)\n", util_json_str(a, "name", "?"),
	    (long long)util_json_int(a, "id", 0));
	printf("  exec           %s%s\n", util_json_str(a, "exec", "?"),
	    util_json_bool(a, "shell", 0) ? " (a command line: run through "
					    "/bin/sh -c)" :
					    "");
	printf("  argv          ");
	json_array_foreach(json_object_get(a, "argv"), i, v)
		printf(" %s", json_string_value(v));
	printf("\n  cwd            %s\n", util_json_str(a, "cwd", "?"));
	if (json_is_string(json_object_get(a, "process_file")))
		printf("  process file   %s%s%s\n",
		    util_json_str(a, "process_file", ""),
		    json_is_string(json_object_get(a, "env_name")) ? ", env_" :
								     "",
		    util_json_str(a, "env_name", ""));
	if (json_is_string(json_object_get(a, "namespace")))
		printf("  namespace      %s\n",
		    util_json_str(a, "namespace", ""));
	/* The variables set on purpose (the rest is the caller's
	 * environment), and where each came from. */
	json_object_foreach(json_object_get(a, "env_source"), k, v)
		printf("  env            %s=%s (%s)\n", k,
		    util_json_str(json_object_get(a, "env"), k, "(unset)"),
		    json_string_value(v));
	printf("  instances      %lld\n",
	    (long long)util_json_int(a, "instances", 0));
	printf("  kill           %s, then SIGKILL after %lldms\n",
	    util_json_str(a, "kill_signal", "?"),
	    (long long)util_json_int(a, "kill_timeout", 0));
	printf("  autorestart    %s\n",
	    util_json_bool(a, "autorestart", 1) ? "yes" : "no");
	printf("  mode           %s, ready %s (listen timeout %lldms)\n",
	    util_json_str(a, "mode", "fork"),
	    util_json_bool(a, "wait_ready", 0) ? "on a signal only" :
						 "on a signal or the timeout",
	    (long long)util_json_int(a, "listen_timeout", 0));
	if (strcmp(util_json_str(a, "mode", "fork"), "cluster") == 0)
		printf("  balance        %s%s\n",
		    util_json_str(a, "balance", "shared"),
		    util_json_bool(a, "sticky", 0) ?
			", sticky "
			"(the client's address picks the instance)" :
			strcmp(util_json_str(a, "balance", ""), "reuseport") ==
			    0 ?
			" (one socket per instance, kernel hash)" :
			" (one queue for all instances)");
	if (json_is_string(json_object_get(a, "max_memory_restart")) ||
	    json_is_integer(json_object_get(a, "max_memory_restart"))) {
		v = json_object_get(a, "max_memory_restart");
		if (json_is_string(v))
			printf("  memory limit   %s (whole process tree)\n",
			    json_string_value(v));
		else
			printf("  memory limit   %lld bytes (whole process "
			       "tree)\n",
			    (long long)json_integer_value(v));
	}
	if (json_is_object(json_object_get(a, "watching"))) {
		v = json_object_get(a, "watching");
		printf("  watching      ");
		json_array_foreach(json_object_get(v, "paths"), i, e)
			printf(" %s", json_string_value(e));
		printf(" (%lld directories, delay %lldms)\n",
		    (long long)util_json_int(v, "directories", 0),
		    (long long)util_json_int(v, "delay_ms", 0));
	}
	if (json_is_string(json_object_get(a, "cron_restart"))) {
		printf("  cron restart   %s",
		    util_json_str(a, "cron_restart", ""));
		if (json_is_integer(json_object_get(a, "cron_next")))
			print_time(", next ", util_json_int(a, "cron_next", 0));
		printf("\n");
	}
	json_array_foreach(json_object_get(a, "sockets"), i, v)
		printf("  socket         %s (%s%s%s)\n",
		    util_json_str(v, "address", "?"),
		    util_json_str(v, "kind", "?"),
		    *util_json_str(v, "name", "") != '\0' &&
			    strcmp(util_json_str(v, "kind", ""), "listen") ==
				0 ?
			", " :
			"",
		    strcmp(util_json_str(v, "kind", ""), "listen") == 0 ?
			util_json_str(v, "name", "") :
			"");
	if (json_is_string(json_object_get(a, "held_by")) &&
	    strcmp(util_json_str(a, "held_by", ""), "cgroup") == 0)
		printf("  held by        a cgroup per instance (%s%s%snothing "
		       "it starts escapes a stop)\n",
		    json_is_string(json_object_get(a, "cgroup")) ? "cgroup " :
								   "",
		    util_json_str(a, "cgroup", ""),
		    json_is_string(json_object_get(a, "cgroup")) ? "; " : "");
	else if (json_is_string(json_object_get(a, "held_by")))
		printf("  held by        its process group (a process "
		       "that leaves it escapes a stop)\n");
	if (json_is_string(json_object_get(a, "daemon_warning")))
		printf("  warning        %s\n",
		    util_json_str(a, "daemon_warning", ""));
	json_array_foreach(json_object_get(a, "processes"), i, p) {
		const char *st = util_json_str(p, "status", "?");

		printf("  instance %lld: %s%s%s",
		    (long long)util_json_int(p, "instance", 0),
		    color_status(ctx, st), st, color_reset(ctx));
		if (json_is_integer(json_object_get(p, "pid"))) {
			format_duration(d, sizeof d,
			    util_json_int(p, "uptime_ms", 0));
			printf(", pid %lld, up %s",
			    (long long)util_json_int(p, "pid", 0), d);
		}
		printf(", %lld restarts\n",
		    (long long)util_json_int(p, "restarts", 0));
		if (json_is_integer(json_object_get(p, "next_start_at"))) {
			print_time("    next start   ",
			    util_json_int(p, "next_start_at", 0));
			printf(" (delay %lldms)\n",
			    (long long)util_json_int(p, "restart_delay_ms", 0));
		}
		if (json_is_string(json_object_get(p, "restart_reason"))) {
			print_time("    restarted    ",
			    util_json_int(p, "restarted_at", 0));
			printf(" (%s)\n",
			    util_json_str(p, "restart_reason", "?"));
		}
		if (json_is_string(json_object_get(p, "error")))
			printf("    error        %s\n",
			    util_json_str(p, "error", ""));
		if (json_is_string(json_object_get(p, "status_text")))
			printf("    says         %s\n",
			    util_json_str(p, "status_text", ""));
		json_array_foreach(json_object_get(p, "listeners"), j, e)
			printf("    listener     %s (%s socket%s)\n",
			    util_json_str(e, "address", "?"),
			    util_json_str(e, "socket", "?"),
			    util_json_bool(e, "open", 1) ? "" : ", closed");
		if (json_array_size(json_object_get(p, "listeners")) > 0)
			printf("    share        %s\n",
			    util_json_str(p, "share", "?"));
		if (json_is_string(json_object_get(p, "preload")))
			printf("    preload      %s\n",
			    util_json_str(p, "preload", ""));
		printf("    out log      %s\n    err log      %s\n",
		    util_json_str(p, "out_log", "/dev/null"),
		    util_json_str(p, "err_log", "/dev/null"));
		if (json_is_string(json_object_get(p, "log_file")))
			printf("    log file     %s\n",
			    util_json_str(p, "log_file", ""));
		if (json_is_string(json_object_get(p, "log_error")))
			printf("    log error    %s\n",
			    util_json_str(p, "log_error", ""));
		json_array_foreach(json_object_get(p, "exits"), j, e) {
			if (j == 0)
				printf("    last exits\n");
			print_time("      ", util_json_int(e, "time", 0));
			if (json_is_string(json_object_get(e, "exit_signal")))
				printf("  signal %s",
				    util_json_str(e, "exit_signal", "?"));
			else
				printf("  code %lld",
				    (long long)util_json_int(e, "exit_code",
					0));
			format_duration(d, sizeof d,
			    util_json_int(e, "uptime_ms", 0));
			printf(" after %s\n", d);
		}
	}
}

static int
exec_describe(struct cmd_ctx *ctx)
{
	json_t *args, *data = NULL, *a;
	size_t i;
	int rc;

	args = json_pack("{s:o}", "targets", cmd_targets(ctx));
	if ((rc = cmd_call(ctx, "describe", args, &data)) != 0)
		return rc;
	if (ctx->json)
		cmd_print_json(data);
	else if (!ctx->quiet)
		json_array_foreach(data, i, a) {
			if (i > 0)
				putchar('\n');
			describe_one(ctx, a);
		}
	json_decref(data);
	return 0;
}

const struct cmd_entry cmd_describe_entry = {
	.name = "describe",
	.aliases = "show info",
	.usage = "describe <target>... [options]",
	.summary = "Show everything known about apps and their instances",
	.flags = CMD_DAEMON | CMD_TARGETS,
	.min_args = 1,
	.max_args = -1,
	.example = "clusterctl describe web --json",
	.exec = exec_describe,
};
