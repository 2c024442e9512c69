/*
 * init: write a sample process file to start from, as pm2 init does:
 * ecosystem.config.js by default, or JSON or YAML by the name given.
 * An existing file is never overwritten without --force.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "procfile.h"

static const char sample_js
    [] = "// clusterctl process file (pm2's ecosystem format).\n"
	 "// Every field: docs/process-files.md, or `man clusterctl`.\n"
	 "//   clusterctl start ecosystem.config.js [--env production]\n"
	 "//   clusterctl apply ecosystem.config.js --dry-run\n"
	 "module.exports = {\n"
	 "  apps: [\n"
	 "    {\n"
	 "      name: 'web',\n"
	 "      script: 'server.js',\n"
	 "      instances: 'max',        // one per CPU; they share the port\n"
	 "      exec_mode: 'cluster',\n"
	 "      env: {\n"
	 "        NODE_ENV: 'development',\n"
	 "        PORT: 3000,\n"
	 "      },\n"
	 "      env_production: {\n"
	 "        NODE_ENV: 'production',\n"
	 "      },\n"
	 "    },\n"
	 "    {\n"
	 "      name: 'worker',\n"
	 "      script: 'worker.js',\n"
	 "      args: '--queue default',\n"
	 "      kill_timeout: '5s',\n"
	 "    },\n"
	 "  ],\n"
	 "};\n";

static const char sample_json
    [] = "{\n"
	 "  \"apps\": [\n"
	 "    {\n"
	 "      \"name\": \"web\",\n"
	 "      \"script\": \"server.js\",\n"
	 "      \"instances\": \"max\",\n"
	 "      \"exec_mode\": \"cluster\",\n"
	 "      \"env\": { \"NODE_ENV\": \"development\", \"PORT\": 3000 },\n"
	 "      \"env_production\": { \"NODE_ENV\": \"production\" }\n"
	 "    },\n"
	 "    {\n"
	 "      \"name\": \"worker\",\n"
	 "      \"script\": \"worker.js\",\n"
	 "      \"args\": \"--queue default\",\n"
	 "      \"kill_timeout\": \"5s\"\n"
	 "    }\n"
	 "  ]\n"
	 "}\n";

static const char sample_yaml
    [] = "# clusterctl process file (pm2's ecosystem format).\n"
	 "# Every field: docs/process-files.md, or `man clusterctl`.\n"
	 "apps:\n"
	 "  - name: web\n"
	 "    script: server.js\n"
	 "    instances: max        # one per CPU; they share the port\n"
	 "    exec_mode: cluster\n"
	 "    env:\n"
	 "      NODE_ENV: development\n"
	 "      PORT: 3000\n"
	 "    env_production:\n"
	 "      NODE_ENV: production\n"
	 "  - name: worker\n"
	 "    script: worker.js\n"
	 "    args: --queue default\n"
	 "    kill_timeout: 5s\n";

static const struct cmd_option options[] = {
	{ "force", 'f', NULL, "overwrite the file if it exists", NULL, 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

static int
exec_init(struct cmd_ctx *ctx)
{
	const char *path = ctx->argc > 0 ? ctx->argv[0] : "ecosystem.config.js";
	const char *text;
	size_t len;
	int fd, flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW;

	if (procfile_ends_with(path, ".json"))
		text = sample_json;
	else if (procfile_ends_with(path, ".yaml") ||
	    procfile_ends_with(path, ".yml"))
		text = sample_yaml;
	else if (procfile_ends_with(path, ".js") ||
	    procfile_ends_with(path, ".cjs"))
		text = sample_js;
	else
		return cmd_usage_error(ctx,
		    "say a name ending in .config.js, "
		    ".json, .yaml or .yml, not '%s'",
		    path);
	flags |= cmd_flag(ctx, "force") ? O_TRUNC : O_EXCL;
	if ((fd = open(path, flags, 0644)) == -1)
		return cmd_error(EXIT_FAIL, "cannot write '%s': %s%s", path,
		    strerror(errno),
		    errno == EEXIST ? " (--force overwrites "
				      "it)" :
				      "");
	len = strlen(text);
	if (write(fd, text, len) != (ssize_t)len || close(fd) != 0)
		return cmd_error(EXIT_FAIL, "cannot write '%s': %s", path,
		    strerror(errno));
	if (!ctx->quiet)
		printf("wrote %s: edit it, then 'clusterctl start %s'\n", path,
		    path);
	return 0;
}

const struct cmd_entry cmd_init_entry = {
	.name = "init",
	.usage = "init [file] [options]",
	.summary = "Write a sample process file (default ecosystem.config.js)",
	.options = options,
	.min_args = 0,
	.max_args = 1,
	.example = "clusterctl init ecosystem.yaml",
	.exec = exec_init,
};
