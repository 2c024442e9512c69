/*
 * Starting an instance's process, in four steps: its environment (the
 * app's frozen one, then the instance's own variables), its argv (the
 * __exec shim's, then the program's), its descriptors (0 ignored, 1 and 2
 * log pipes, the --listen sockets, the exec status pipe, a Node channel),
 * and uv_spawn.  The handles are the instance's: instance.c gives their
 * callbacks and reads them once the process runs.
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core.h"

/*
 * The cluster-mode preload library: $CLUSTERCTL_PRELOAD_LIB, next to the
 * executable (build/), or in ../lib/clusterctl.  NULL when there is none.
 */
const char *
spawn_preload_path(void)
{
	static char path[PATH_MAX];
	static int looked;
	const char *env, *slash;
	int n;

	if (looked)
		return path[0] != '\0' ? path : NULL;
	looked = 1;
	if ((env = getenv("CLUSTERCTL_PRELOAD_LIB")) != NULL &&
	    access(env, R_OK) == 0) {
		snprintf(path, sizeof path, "%s", env);
		return path;
	}
	if ((slash = strrchr(self_exe, '/')) == NULL)
		return NULL;
	n = (int)(slash - self_exe);
	snprintf(path, sizeof path, "%.*s/%s", n, self_exe, SPAWN_PRELOAD_NAME);
	if (access(path, R_OK) == 0)
		return path;
	snprintf(path, sizeof path, "%.*s/../lib/clusterctl/%s", n, self_exe,
	    SPAWN_PRELOAD_NAME);
	if (access(path, R_OK) == 0)
		return path;
	log_warnx("no %s found: cluster mode cannot share sockets",
	    SPAWN_PRELOAD_NAME);
	path[0] = '\0';
	return NULL;
}

/* An environment being built: ours first (owned), then the app's
 * (borrowed). */
struct envb {
	char **v;
	size_t n;
	size_t owned;
};

static void env_add(struct envb *e, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Add KEY=VALUE (a value of at most 511 bytes). */
static void
env_add(struct envb *e, const char *key, const char *fmt, ...)
{
	char val[512], *kv;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(val, sizeof val, fmt, ap);
	va_end(ap);
	if (asprintf(&kv, "%s=%s", key, val) == -1)
		return;
	e->v[e->n++] = kv;
}

static void
env_release(struct envb *e)
{
	size_t i;

	if (e->v == NULL)
		return;
	for (i = 0; i < e->owned; i++)
		free(e->v[i]);
	free(e->v);
	e->v = NULL;
}

/*
 * Whether the app's own variable kv (KEY=VALUE) gives way: the daemon sets
 * KEY for the instance (one of own[0..n)), or KEY describes something only
 * the daemon can give (descriptors, its sockets, its cgroup): a stale copy
 * from the CLI's environment would lie to the app.
 */
static int
env_shadowed(const char *kv, char *const *own, size_t n)
{
	static const char *const daemons[] = {
		"LISTEN_FDS",
		"LISTEN_PID",
		"LISTEN_FDNAMES",
		"NOTIFY_SOCKET",
		"CLUSTERCTL_SHARE",
		"CLUSTERCTL_LD_PRELOAD",
		"CLUSTERCTL_NOFILE",
		"CLUSTERCTL_CGROUP",
		"NODE_CHANNEL_FD",
		"NODE_CHANNEL_SERIALIZATION_MODE",
	};
	size_t klen = strcspn(kv, "="), i;

	for (i = 0; i < sizeof daemons / sizeof daemons[0]; i++)
		if (strlen(daemons[i]) == klen &&
		    strncmp(kv, daemons[i], klen) == 0)
			return 1;
	for (i = 0; i < n; i++)
		if (strncmp(own[i], kv, klen + 1) == 0)
			return 1;
	return 0;
}

/*
 * The instance's environment; chanfd is the Node channel's fd, or -1.
 * The daemon's variables replace the app's copies: none appears twice.
 */
static int
env_build(struct envb *e, const struct instance *in, int chanfd)
{
	const struct app *a = in->app;
	const struct lsock *ls;
	char names[512];
	size_t i;
	int k, port = 0;

	if ((e->v = calloc(a->nenv + 20, sizeof *e->v)) == NULL)
		return UV_ENOMEM;
	env_add(e, "CLUSTERCTL_APP", "%s", a->name);
	env_add(e, "CLUSTERCTL_INSTANCE", "%d", in->index);
	env_add(e,
	    a->instance_var != NULL ? a->instance_var : "NODE_APP_INSTANCE",
	    "%d", in->index);
	if (a->increment_var != NULL)
		env_add(e, a->increment_var, "%lld",
		    a->increment_base + in->index);
	env_add(e, "CLUSTERCTL_HOME", "%s", home);
	env_add(e, "CLUSTERCTL_SOCK", "%s/sock", home);
	if (a->creds.set) {
		char creds[128];

		/* The shim drops to them, and removes the variable. */
		creds_env_value(&a->creds, creds, sizeof creds);
		env_add(e, "CLUSTERCTL_CREDS", "%s", creds);
	}
	/* The shim joins the instance's cgroup before it executes the app. */
	if (in->cgroup != NULL)
		env_add(e, "CLUSTERCTL_CGROUP", "%s", in->cgroup);
	if (notify_socket_path() != NULL)
		env_add(e, "NOTIFY_SOCKET", "%s", notify_socket_path());
	if (a->share && spawn_preload_path() != NULL) {
		env_add(e, "CLUSTERCTL_SHARE", "1");
		/* The shim moves it to LD_PRELOAD, after its own start. */
		env_add(e, "CLUSTERCTL_LD_PRELOAD", "%s", spawn_preload_path());
	}
	if (a->nlisten > 0) {
		names[0] = '\0';
		for (ls = a->socks, k = 0; ls != NULL && k < a->nlisten;
		     ls = ls->next, k++) {
			if (k > 0)
				strncat(names, ":",
				    sizeof names - strlen(names) - 1);
			strncat(names, ls->name,
			    sizeof names - strlen(names) - 1);
			if (port == 0 && ls->family != AF_UNIX)
				port = ls->port;
		}
		env_add(e, "LISTEN_FDS", "%d", a->nlisten);
		env_add(e, "LISTEN_FDNAMES", "%s", names);
		if (port != 0 &&
		    (a->increment_var == NULL ||
			strcmp(a->increment_var, "PORT") != 0))
			env_add(e, "PORT", "%d", port);
	}
	if (chanfd >= 0) {
		env_add(e, "NODE_CHANNEL_FD", "%d", chanfd);
		env_add(e, "NODE_CHANNEL_SERIALIZATION_MODE", "json");
	}
	/* The shim gives the app the caller's descriptor limit back. */
	if (daemon_nofile_orig() > 0)
		env_add(e, "CLUSTERCTL_NOFILE", "%lld", daemon_nofile_orig());
	e->owned = e->n;
	for (i = 0; i < a->nenv; i++)
		if (!env_shadowed(a->envp[i], e->v, e->owned))
			e->v[e->n++] = a->envp[i];
	return 0;
}

/*
 * The shim's argv: "clusterctl-exec __exec STATUSFD DAEMONPID FILE", then
 * the program's own argv.  The strings are borrowed.
 */
static char **
argv_build(const struct app *a, char *fdarg, char *pidarg)
{
	char **args;
	size_t nargs, i;

	for (nargs = 0; a->argv[nargs] != NULL; nargs++)
		;
	if ((args = calloc(nargs + 6, sizeof *args)) == NULL)
		return NULL;
	args[0] = (char *)"clusterctl-exec";
	args[1] = (char *)"__exec";
	args[2] = fdarg;
	args[3] = pidarg;
	args[4] = a->exec_path;
	for (i = 0; i < nargs; i++)
		args[5 + i] = a->argv[i];
	return args;
}

/*
 * Start in's process.  0: in->proc, in->status (and in->channel when
 * *chanfd >= 0) are open and counted in nhandles, lp[] ready to start.
 * Otherwise a libuv error, with the handles it opened given to uv_close
 * (cb->closed) and nothing else left.
 */
int
spawn_process(struct instance *in, const struct spawn_cbs *cb,
    struct logpipe *lp[2], int *chanfdp)
{
	struct app *a = in->app;
	uv_process_options_t o;
	uv_stdio_container_t *stdio = NULL;
	struct envb env = { NULL, 0, 0 };
	struct lsock *ls;
	int wfd[2] = { -1, -1 };
	char **args = NULL, fdarg[16], pidarg[32];
	int r, k, nfds, statusfd, chanfd = -1;

	lp[0] = lp[1] = NULL;
	/* 0-2, the --listen sockets, the exec status, a Node channel. */
	statusfd = 3 + a->nlisten;
	nfds = statusfd + 1;
	/* Node apps get an IPC channel, as under pm2: process.send() and
	 * process.on('message') work in every instance. */
	if (a->node_channel)
		chanfd = nfds++;
	snprintf(fdarg, sizeof fdarg, "%d", statusfd);
	snprintf(pidarg, sizeof pidarg, "%ld", (long)getpid());
	if (in->cgroup == NULL)
		in->cgroup = cgroup_instance(a, in->index);
	if ((r = env_build(&env, in, chanfd)) != 0)
		goto fail;
	args = argv_build(a, fdarg, pidarg);
	stdio = calloc((size_t)nfds, sizeof *stdio);
	if (args == NULL || stdio == NULL) {
		r = UV_ENOMEM;
		goto fail;
	}

	if ((chanfd >= 0 && in->channel == NULL &&
		(in->channel = malloc(sizeof *in->channel)) == NULL) ||
	    (a->stdin_messages && in->input == NULL &&
		(in->input = malloc(sizeof *in->input)) == NULL)) {
		r = UV_ENOMEM;
		goto fail;
	}
	stdio[0].flags = UV_IGNORE;
	for (k = 0; k < 2; k++) {
		if ((lp[k] = logpipe_new(in, k + 1)) == NULL) {
			r = UV_ENOMEM;
			goto fail;
		}
		if ((r = logpipe_open(lp[k], &wfd[k])) != 0)
			goto fail;
		stdio[k + 1].flags = UV_INHERIT_FD;
		stdio[k + 1].data.fd = wfd[k];
	}
	for (ls = a->socks, k = 0; ls != NULL && k < a->nlisten;
	     ls = ls->next, k++) {
		/* Checked (replaced if broken); a slot's own with reuseport. */
		if ((r = share_fd(a, ls, in->index)) < 0)
			goto fail;
		stdio[3 + k].flags = UV_INHERIT_FD;
		stdio[3 + k].data.fd = r;
	}
	if (a->stdin_messages) {
		/* send writes to it (core/deliver.c). */
		uv_pipe_init(loop, in->input, 0);
		in->input->data = in;
		in->nhandles++;
		stdio[0].flags = UV_CREATE_PIPE | UV_READABLE_PIPE;
		stdio[0].data.stream = (uv_stream_t *)in->input;
	}
	uv_pipe_init(loop, &in->status, 0);
	in->status.data = in;
	in->nhandles++;
	stdio[statusfd].flags = UV_CREATE_PIPE | UV_WRITABLE_PIPE;
	stdio[statusfd].data.stream = (uv_stream_t *)&in->status;
	if (chanfd >= 0) {
		uv_pipe_init(loop, in->channel, 1);
		in->channel->data = in;
		in->nhandles++;
		stdio[chanfd].flags = UV_CREATE_PIPE | UV_READABLE_PIPE |
		    UV_WRITABLE_PIPE;
		stdio[chanfd].data.stream = (uv_stream_t *)in->channel;
	}

	memset(&o, 0, sizeof o);
	o.file = self_exe;
	o.args = args;
	o.env = env.v;
	o.cwd = a->cwd;
	o.flags = UV_PROCESS_DETACHED;
	o.stdio = stdio;
	o.stdio_count = nfds;
	o.exit_cb = cb->exited;
	in->proc.data = in;
	r = uv_spawn(loop, &in->proc, &o);
	in->nhandles++; /* the process handle, closed on failure too */
	for (k = 0; k < 2; k++) {
		close(wfd[k]); /* the child's now */
		wfd[k] = -1;
	}
	if (r != 0) {
		uv_close((uv_handle_t *)&in->proc, cb->closed);
		uv_close((uv_handle_t *)&in->status, cb->closed);
		if (chanfd >= 0)
			uv_close((uv_handle_t *)in->channel, cb->closed);
		if (a->stdin_messages)
			uv_close((uv_handle_t *)in->input, cb->closed);
		goto fail;
	}
	env_release(&env);
	free(args);
	free(stdio);
	*chanfdp = chanfd;
	return 0;

fail:
	for (k = 0; k < 2; k++) {
		if (wfd[k] != -1)
			close(wfd[k]);
		if (lp[k] != NULL)
			logpipe_abort(lp[k]);
		lp[k] = NULL;
	}
	env_release(&env);
	free(args);
	free(stdio);
	return r;
}
