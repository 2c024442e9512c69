/*
 * upgrade: the daemon executes its binary again (or --binary PATH) in
 * place, handing its whole state over: every app and instance keeps
 * running with the same pid, no port closes, no log line is lost
 * (core/upgrade.c, docs/state.md).  A binary that cannot take the state
 * is refused and the daemon keeps running as it was.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "cmd.h"

static const struct cmd_option options[] = {
	{ "binary", 'b', "PATH",
	    "the clusterctl to run from now on (default: the daemon's own "
	    "binary, at the path it was started from)",
	    VAL_FILE, 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

static int
exec_upgrade(struct cmd_ctx *ctx)
{
	const char *bin = cmd_opt(ctx, "binary");
	char path[PATH_MAX], cwd[PATH_MAX];
	json_t *args = json_object(), *data = NULL, *v;
	size_t i;
	int rc;

	if (bin != NULL) {
		if (*bin == '\0')
			return cmd_usage_error(ctx, "--binary needs a path");
		/* The daemon runs elsewhere ("/"): an absolute path. */
		if (realpath(bin, path) == NULL) {
			if (bin[0] == '/' || getcwd(cwd, sizeof cwd) == NULL)
				snprintf(path, sizeof path, "%s", bin);
			else if ((size_t)snprintf(path, sizeof path, "%s/%s",
				     cwd, bin) >= sizeof path)
				return cmd_error(EXIT_USAGE,
				    "the path '%s' is too long", bin);
		}
		json_object_set_new(args, "binary", json_string(path));
	}
	/* No daemon: nothing to upgrade, and none is started for it. */
	if ((rc = cmd_connect(ctx, 0)) != 0) {
		json_decref(args);
		return cmd_error(EXIT_UNREACHABLE,
		    "no daemon is running (at '%s'): nothing to upgrade",
		    ctx->sock);
	}
	if ((rc = cmd_call(ctx, "upgrade", args, &data)) != 0)
		return rc;
	if (ctx->json)
		cmd_print_json(data);
	else if (!ctx->quiet)
		printf("upgraded the daemon (pid %lld) from %s to %s, "
		       "generation %lld: %lld app%s and %lld process%s kept\n",
		    (long long)util_json_int(data, "pid", 0),
		    util_json_str(data, "from_version", "?"),
		    util_json_str(data, "version", "?"),
		    (long long)util_json_int(data, "generation", 0),
		    (long long)util_json_int(data, "apps", 0),
		    util_json_int(data, "apps", 0) == 1 ? "" : "s",
		    (long long)util_json_int(data, "processes", 0),
		    util_json_int(data, "processes", 0) == 1 ? "" : "es");
	rc = 0;
	json_array_foreach(json_object_get(data, "failed"), i, v) {
		cmd_error(0,
		    "'%s' could not be taken over, its processes "
		    "were stopped: %s",
		    util_json_str(v, "name", "?"),
		    util_json_str(v, "error", "?"));
		rc = EXIT_FAIL;
	}
	json_decref(data);
	return rc;
}

const struct cmd_entry cmd_upgrade_entry = {
	.name = "upgrade",
	.usage = "upgrade [options]",
	.summary = "Replace the daemon's binary in place: no app restarts, "
		   "no port closes",
	.options = options,
	.flags = CMD_DAEMON | CMD_NO_START,
	.max_args = 0,
	.example = "clusterctl upgrade --binary /usr/local/bin/clusterctl",
	.exec = exec_upgrade,
};
