/*
 * JavaScript process files (ecosystem.config.js, .cjs, .mjs): evaluated by
 * node, as the calling user, in the caller's directory and environment
 * (the file may read process.env), never through a shell.  node writes the
 * file's module.exports (or its default export: ESM works, whichever way
 * node loads it) as JSON on a pipe at fd 3; what the file prints, and
 * node's own errors, go to our stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "procfile.h"

/* The most output node may give (a process file, not a data dump). */
#define MAX_OUTPUT (16 * 1024 * 1024)

/* Loads argv[1] with require(), or import() for ESM, and prints it. */
static const char loader
    [] = "const f = process.argv[1];\n"
	 "const fail = (e) => { process.stderr.write(String(e && e.stack || e)"
	 " + '\\n'); process.exit(1); };\n"
	 "const out = (c) => {\n"
	 "  if (c && typeof c === 'object' && 'default' in c &&\n"
	 "      (c.__esModule || c[Symbol.toStringTag] === 'Module'))\n"
	 "    c = c.default;\n"
	 "  if (typeof c === 'function') c = c();\n"
	 "  Promise.resolve(c).then((v) => require('fs').writeSync(3,\n"
	 "    JSON.stringify(v === undefined ? null : v)), fail);\n"
	 "};\n"
	 "const esm = () => import(require('url').pathToFileURL(f).href)"
	 ".then(out, fail);\n"
	 "if (/\\.mjs$/.test(f)) esm();\n"
	 "else { let c; try { c = require(f); } catch (e) {\n"
	 "  if (e && (e.code === 'ERR_REQUIRE_ESM' || e.code === "
	 "'ERR_REQUIRE_ASYNC_MODULE' || (e instanceof SyntaxError &&\n"
	 "      /import|export/.test(e.message)))) { esm(); c = esm; }\n"
	 "  else fail(e); }\n"
	 "  if (c !== esm) out(c); }\n";

/* Whether name is an executable file in PATH. */
static int
in_path(const char *name)
{
	const char *path = getenv("PATH"), *p, *e;
	char buf[PATH_MAX];

	if (path == NULL)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (p = path;; p = e + 1) {
		e = strchr(p, ':');
		if (e == NULL)
			e = p + strlen(p);
		if (e > p &&
		    snprintf(buf, sizeof buf, "%.*s/%s", (int)(e - p), p,
			name) < (int)sizeof buf &&
		    access(buf, X_OK) == 0)
			return 1;
		if (*e == '\0')
			return 0;
	}
}

/*
 * Evaluate the process file at path (absolute) with node: 0 and
 * doc->root, or -1 with err.
 */
int
procfile_js_eval(const char *path, struct procfile_doc *doc, char *err,
    size_t errlen)
{
	int fds[2], status, devnull;
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0;
	ssize_t n;
	pid_t pid;
	json_error_t je;

	if (!in_path("node")) {
		snprintf(err, errlen,
		    "node is not installed (not found in "
		    "PATH): a .js process file needs node; write it as JSON or "
		    "YAML instead");
		return -1;
	}
	if (pipe2(fds, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "cannot run node: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "cannot run node: %s", strerror(errno));
		close(fds[0]);
		close(fds[1]);
		return -1;
	}
	if (pid == 0) {
		signal(SIGPIPE, SIG_DFL);
		if (fds[1] == 3)
			fcntl(3, F_SETFD, 0);
		else
			dup2(fds[1], 3);
		dup2(2, 1);
		if ((devnull = open("/dev/null", O_RDONLY)) != -1)
			dup2(devnull, 0);
		execlp("node", "node", "-e", loader, path, (char *)NULL);
		fprintf(stderr, "clusterctl: cannot execute node: %s\n",
		    strerror(errno));
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		if (len + 65536 > cap) {
			if (cap >= MAX_OUTPUT)
				break;
			cap = cap == 0 ? 65536 : cap * 2;
			if ((nb = realloc(buf, cap + 1)) == NULL)
				break;
			buf = nb;
		}
		n = read(fds[0], buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fds[0]);
	while (waitpid(pid, &status, 0) == -1 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		snprintf(err, errlen,
		    "node could not evaluate it (%s %d; its "
		    "error is above)",
		    WIFEXITED(status) ? "exit code" : "signal",
		    WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		free(buf);
		return -1;
	}
	if (buf == NULL || len >= MAX_OUTPUT) {
		snprintf(err, errlen, "node gave %s",
		    buf == NULL ? "nothing" : "too much");
		free(buf);
		return -1;
	}
	doc->root = json_loadb(buf, len, JSON_DECODE_ANY, &je);
	free(buf);
	if (doc->root == NULL) {
		snprintf(err, errlen, "node gave no JSON: %s", je.text);
		return -1;
	}
	doc->lines = json_object();
	return 0;
}
