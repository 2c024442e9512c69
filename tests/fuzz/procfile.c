/*
 * Fuzz target: the process-file parsers (cmd/procfile*.c: JSON by jansson
 * with pm2's JavaScript-object style read as YAML flow, YAML by libyaml,
 * foreman's Procfile and its .env) and the mapping of each app onto a
 * start spec through the field table, as `procfile_load` does them for
 * `start FILE`, `apply` and `validate`.  The input is written to a file
 * of the format's name (or given on stdin, where the format is guessed)
 * and loaded with the CLI's own loader.  The first byte picks the name
 * (.json, .yaml, Procfile, stdin) and the options (--env production,
 * --only web, --env A=1); for a Procfile, what follows the first NUL is
 * its .env.  Oracle besides the sanitizers: a load that succeeds gives
 * start specs that are JSON objects with a string script and an absolute
 * cwd, and that encode; a load that fails gives nothing.
 * The JavaScript form (procfile-js.c) runs node and is left out.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "../../cmd/cmd.h"
#include "../../cmd/procfile.h"
#include "tmpdir.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int LLVMFuzzerInitialize(int *, char ***);

/* What the loader needs of the rest of the CLI (cmd.c, main.c,
 * cmd-start.c), which brings the command table along. */
const char *progname = "clusterctl";

int
cmd_error(int code, const char *fmt, ...)
{
	(void)fmt;
	return code;
}

int
cmd_usage_error(const struct cmd_ctx *ctx, const char *fmt, ...)
{
	(void)ctx;
	(void)fmt;
	return EXIT_USAGE;
}

/* The harness gives the loader its options itself, not through a command
 * line: no command has option sets here. */
int
cmd_option_sets(const struct cmd_entry *e, const struct cmd_option *sets[3])
{
	(void)e;
	(void)sets;
	return 0;
}

char **
cmd_opt_all(const struct cmd_ctx *ctx, const char *name)
{
	(void)ctx;
	(void)name;
	return NULL;
}

static char dir[] = "/tmp/clusterctl-fuzz-procfile-XXXXXX";
static char homepath[sizeof dir + 16];

const char *
cmd_home_path(void)
{
	return homepath;
}

/* A fixed caller's environment, so that runs repeat. */
json_t *
cmd_environ_json(void)
{
	return json_pack("{s:s, s:s}", "PATH", "/usr/bin:/bin", "HOME",
	    "/root");
}

static void
cleanup(void)
{
	tmpdir_remove(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (mkdtemp(dir) == NULL)
		abort();
	snprintf(homepath, sizeof homepath, "%s/home", dir);
	atexit(cleanup);
	/* The loader's messages go to stdio's stderr; the sanitizers' reports
	 * to descriptor 2, which stays. */
	stderr = fopen("/dev/null", "w");
	if (stderr == NULL)
		abort();
	return 0;
}

/* The file dir/name, holding data. */
static void
put(const char *name, const uint8_t *data, size_t n)
{
	char p[sizeof dir + 32];
	int fd;

	snprintf(p, sizeof p, "%s/%s", dir, name);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd == -1)
		abort();
	if (n > 0 && write(fd, data, n) != (ssize_t)n)
		abort();
	close(fd);
}

static const char *names[] = { "eco.json", "eco.yaml", "Procfile", "-" };

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *only[] = { (char *)"web", NULL };
	static char *cli_env[] = { (char *)"A=1", NULL };
	struct procfile_opts opts = { 0 };
	struct procfile pf;
	const char *name;
	char path[sizeof dir + 32];
	const uint8_t *text, *nul;
	size_t n, i;
	json_t *spec;
	char *s;
	int fd, rc;

	if (size < 1)
		return 0;
	name = names[data[0] & 3];
	opts.env_name = data[0] & 4 ? "production" : NULL;
	opts.only = data[0] & 8 ? only : NULL;
	opts.cli_env = data[0] & 16 ? cli_env : NULL;
	opts.quiet_warnings = 1;
	text = data + 1;
	n = size - 1;
	snprintf(path, sizeof path, "%s/.env", dir);
	(void)unlink(path);
	if (strcmp(name, "Procfile") == 0 &&
	    (nul = memchr(text, '\0', n)) != NULL) {
		put(".env", nul + 1, n - (size_t)(nul + 1 - text));
		n = (size_t)(nul - text);
	}
	put(strcmp(name, "-") == 0 ? "stdin" : name, text, n);
	snprintf(path, sizeof path, "%s/%s", dir,
	    strcmp(name, "-") == 0 ? "stdin" : name);
	if (strcmp(name, "-") == 0) {
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1 ||
		    dup2(fd, 0) != 0)
			abort();
		close(fd);
	}

	rc = procfile_load(strcmp(name, "-") == 0 ? name : path, &opts, &pf);
	if (rc != 0) {
		/* procfile_load released it: nothing is left to use. */
		if (pf.apps != NULL || pf.path != NULL)
			abort();
		return 0;
	}
	if (!json_is_array(pf.apps) || pf.path == NULL || pf.dir == NULL)
		abort();
	json_array_foreach(pf.apps, i, spec) {
		if (!json_is_object(spec) ||
		    !json_is_string(json_object_get(spec, "script")) ||
		    !json_is_string(json_object_get(spec, "cwd")) ||
		    json_string_value(json_object_get(spec, "cwd"))[0] != '/')
			abort();
		if ((s = json_dumps(spec, JSON_COMPACT)) == NULL)
			abort(); /* a spec the CLI could not send */
		free(s);
		s = procfile_app_name(spec);
		free(s);
	}
	procfile_release(&pf);
	return 0;
}
