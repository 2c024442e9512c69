/*
 * metrics: print the Prometheus text exposition the daemon serves on
 * /metrics, or set where it serves it (--listen ADDR, off), and where it
 * serves /readyz and /livez (--health ADDR, off).
 */
#include <stdio.h>
#include <string.h>

#include "../ipc/util.h"
#include "cmd.h"

static const struct cmd_option options[] = {
	{ "listen", 0, "ADDR",
	    "serve GET /metrics on PORT, HOST:PORT or "
	    "[V6]:PORT for the daemon's lifetime; 'off' stops it (default: "
	    "off, or $CLUSTERCTL_METRICS when the daemon starts)",
	    "off", 0 },
	{ "health", 0, "ADDR",
	    "serve GET /readyz and /livez on ADDR (the "
	    "same as --listen's: one server); 'off' stops it (default: off, or "
	    "$CLUSTERCTL_HEALTH when the daemon starts)",
	    "off", 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

static int
exec_metrics(struct cmd_ctx *ctx)
{
	const char *addr = cmd_opt(ctx, "listen"),
		   *health = cmd_opt(ctx, "health");
	json_t *args = json_object(), *data = NULL;
	int rc;

	if (addr != NULL)
		json_object_set_new(args, "listen", json_string(addr));
	if (health != NULL)
		json_object_set_new(args, "health", json_string(health));
	if (addr != NULL || health != NULL)
		json_object_set_new(args, "text", json_false());
	if ((rc = cmd_call(ctx, "metrics", args, &data)) != 0)
		return rc;
	if (ctx->json)
		cmd_print_json(data);
	else if (ctx->quiet)
		;
	else if (addr == NULL && health == NULL)
		fputs(util_json_str(data, "text", ""), stdout);
	else {
		if (addr != NULL &&
		    json_is_string(json_object_get(data, "listen")))
			printf("metrics on http://%s/metrics\n",
			    util_json_str(data, "listen", ""));
		else if (addr != NULL)
			printf("metrics endpoint off\n");
		if (health != NULL &&
		    json_is_string(json_object_get(data, "health")))
			printf("health on http://%s/readyz and /livez\n",
			    util_json_str(data, "health", ""));
		else if (health != NULL)
			printf("health endpoint off\n");
	}
	json_decref(data);
	return 0;
}

const struct cmd_entry cmd_metrics_entry = {
	.name = "metrics",
	.usage = "metrics [options]",
	.summary =
	    "Print the Prometheus metrics of every instance, app and the daemon, "
	    "or serve them over HTTP (--listen), and the health probes (--health)",
	.options = options,
	.flags = CMD_DAEMON,
	.max_args = 0,
	.example = "clusterctl metrics --listen 127.0.0.1:9209",
	.exec = exec_metrics,
};
