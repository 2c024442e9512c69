/*
 * An instance's life (s6-supervise): one state, one timer, and inst_event()
 * the one way in.  Which action an event takes in a state is core/fsm.c's
 * table; this file gathers the facts and carries the actions out, one
 * function per action.  A process is started through the __exec shim in
 * its own session and process group, so a stop signals the whole tree and
 * a failed exec is reported rather than guessed.  The backoff counters are
 * this file's alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "core.h"
#include "proc.h"

/* How often a stopping instance whose leader is gone looks at its group. */
#define STOP_POLL_MS 20
/* How long after SIGKILL a group may take to disappear. */
#define KILL_GRACE_MS 2000

static void handle_closed(uv_handle_t *);
static void leader_lost(struct instance *);
static void group_reap(struct instance *);
static void inst_spawn(struct instance *);
static void timer_cb(uv_timer_t *);
static void statm_close(struct instance *);

static void
inst_free(struct instance *in)
{
	statm_close(in);
	free(in->error);
	free(in->status_text);
	free(in->chanline);
	free(in->channel);
	free(in->input);
	free(in->pid_file);
	free(in->exits);
	cgroup_remove(in->cgroup);
	free(in->cgroup);
	free(in);
}

/* Keep in from being freed (a reload looks at it later). */
void
inst_ref(struct instance *in)
{
	in->refs++;
}

/* Drop a reference; the last one frees a retired, closed instance. */
void
inst_unref(struct instance *in)
{
	if (--in->refs == 0 && in->dead && in->nhandles == 0)
		inst_free(in);
	daemon_changed();
}

static void
handle_closed(uv_handle_t *h)
{
	struct instance *in = h->data;

	in->nhandles--;
	if (in->nhandles == 0 && in->dead) {
		if (in->refs == 0)
			inst_free(in);
		return;
	}
	/* Only the timer is left: a pending start may spawn. */
	if (in->nhandles == 1 && !in->dead && !in->running)
		inst_event(in, EV_CLOSED);
}

/* A new, stopped instance of app a with number index. */
struct instance *
inst_new(struct app *a, int index)
{
	struct instance *in;

	if ((in = calloc(1, sizeof *in)) == NULL)
		return NULL;
	in->app = a;
	in->index = index;
	in->fsm_state = IS_STOPPED;
	in->statm_fd = -1;
	uv_timer_init(loop, &in->timer);
	in->timer.data = in;
	in->nhandles = 1;
	return in;
}

/* Whether the instance has no process and nothing pending. */
int
inst_idle(const struct instance *in)
{
	return !in->running &&
	    (in->fsm_state == IS_STOPPED || in->fsm_state == IS_ERRORED);
}

/* Free an idle instance once its handles are closed. */
void
inst_retire(struct instance *in)
{
	in->dead = 1;
	uv_timer_stop(&in->timer);
	uv_close((uv_handle_t *)&in->timer, handle_closed);
}

static void
set_state(struct instance *in, enum inst_state s)
{
	if (in->fsm_state == s)
		return;
	log_debug("%s:%d %s -> %s", in->app->name, in->index,
	    fsm_state_name(in->fsm_state), fsm_state_name(s));
	in->fsm_state = s;
	share_inst_changed(in);
	daemon_changed();
}

static void
set_error(struct instance *in, const char *msg)
{
	free(in->error);
	in->error = msg != NULL ? strdup(msg) : NULL;
}

static void
timer_start(struct instance *in, uint64_t ms)
{
	uv_timer_start(&in->timer, timer_cb, ms, 0);
}

static void
status_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char buf[64];

	(void)h;
	(void)hint;
	*b = uv_buf_init(buf, sizeof buf);
}

/* When both the exit and the exec status are known, the exit is handled. */
static void
maybe_exited(struct instance *in)
{
	if (in->exited && in->status_done && in->running) {
		in->running = 0;
		statm_close(in);
		pidfile_remove(in);
		/* A descendant may hold the Node channel open: not our wait. */
		if (in->has_channel) {
			in->has_channel = 0;
			uv_read_stop((uv_stream_t *)in->channel);
			uv_close((uv_handle_t *)in->channel, handle_closed);
		}
		if (in->has_input) {
			in->has_input = 0;
			uv_close((uv_handle_t *)in->input, handle_closed);
		}
		inst_event(in, EV_EXIT);
	}
}

static void
status_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct instance *in = s->data;
	int e;

	if (n == 0)
		return;
	if (n >= (ssize_t)sizeof e) {
		memcpy(&e, b->base, sizeof e);
		in->exec_errno = e;
		inst_event(in, EV_EXEC_FAIL);
		return;
	}
	if (n > 0)
		return;
	/* End of file: the shim executed the program, or failed and said. */
	uv_read_stop(s);
	uv_close((uv_handle_t *)s, handle_closed);
	in->status_done = 1;
	if (in->exec_errno == 0)
		inst_event(in, EV_EXEC_OK);
	maybe_exited(in);
}

static void
channel_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char buf[4096];

	(void)h;
	(void)hint;
	*b = uv_buf_init(buf, sizeof buf);
}

/* One line of a Node IPC channel (JSON serialization): "ready" is ready. */
static void
channel_line(struct instance *in, const char *line, size_t n)
{
	json_t *msg = json_loadb(line, n, JSON_DECODE_ANY, NULL);

	if (msg != NULL && json_is_string(msg) &&
	    strcmp(json_string_value(msg), "ready") == 0) {
		log_debug("%s:%d sent 'ready'", in->app->name, in->index);
		inst_event(in, EV_READY);
	}
	json_decref(msg);
}

/* What a Node app sends with process.send(): newline-separated JSON. */
static void
channel_read(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct instance *in = s->data;
	const char *p, *nl, *end;
	char *nb;

	if (n < 0) {
		uv_read_stop(s);
		in->has_channel = 0;
		uv_close((uv_handle_t *)s, handle_closed);
		return;
	}
	p = b->base;
	end = b->base + n;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL) {
			if (in->chanlen + (size_t)(end - p) > 65536)
				in->chanlen = 0; /* a runaway line: dropped */
			nb = realloc(in->chanline,
			    in->chanlen + (size_t)(end - p));
			if (nb == NULL)
				return;
			memcpy(nb + in->chanlen, p, (size_t)(end - p));
			in->chanline = nb;
			in->chanlen += (size_t)(end - p);
			return;
		}
		if (in->chanlen > 0) {
			nb = realloc(in->chanline,
			    in->chanlen + (size_t)(nl - p));
			if (nb != NULL) {
				memcpy(nb + in->chanlen, p, (size_t)(nl - p));
				in->chanline = nb;
				channel_line(in, nb,
				    in->chanlen + (size_t)(nl - p));
			}
			in->chanlen = 0;
		} else
			channel_line(in, p, (size_t)(nl - p));
		p = nl + 1;
	}
}

static void
exit_cb(uv_process_t *p, int64_t status, int termsig)
{
	struct instance *in = p->data;

	in->exited = 1;
	in->pgid_live = 1;
	in->exit_status = status;
	in->exit_termsig = termsig;
	uv_close((uv_handle_t *)p, handle_closed);
	maybe_exited(in);
}

/*
 * A start that failed for want of a resource (descriptors, memory,
 * processes): the instance waits for the backoff's next delay and tries
 * again (fsm_retry_delay); the error says why meanwhile.
 */
static void
spawn_retry_later(struct instance *in, const char *msg)
{
	struct app *a = in->app;
	struct restart_policy p = {
		.autorestart = 1,
		.restart_delay_ms = -1,
		.backoff_base_ms = a->backoff_base_ms,
		.backoff_max_ms = a->backoff_max_ms,
	};
	int64_t delay = fsm_retry_delay(&p, &in->backoff);

	in->next_start_wall = daemon_now_wall() + delay;
	log_warnx("%s:%d %s; tried again in %lld ms", a->name, in->index, msg,
	    (long long)delay);
	set_error(in, msg);
	set_state(in, IS_WAITING);
	timer_start(in, (uint64_t)delay);
}

/*
 * Start the instance's process: launching; errored when it fails, or
 * waiting when it is a shortage of the moment (spawn_retry_later).
 */
static void
inst_spawn(struct instance *in)
{
	static const struct spawn_cbs cbs = { exit_cb, handle_closed };
	struct app *a = in->app;
	struct logpipe *lp[2];
	char msg[512];
	int r, k, chanfd;

	if ((r = spawn_process(in, &cbs, lp, &chanfd)) != 0) {
		daemon_nofile_check(r == UV_EMFILE || r == UV_ENFILE);
		snprintf(msg, sizeof msg, "cannot start '%s': %s", a->exec_path,
		    uv_strerror(r));
		if (r == UV_EMFILE || r == UV_ENFILE || r == UV_EAGAIN ||
		    r == UV_ENOMEM) {
			/* A shortage of the moment, not the app's fault:
			 * tried again after the backoff, never errored. */
			spawn_retry_later(in, msg);
			return;
		}
		log_warnx("%s:%d %s", a->name, in->index, msg);
		set_error(in, msg);
		set_state(in, IS_ERRORED);
		return;
	}
	/* What the last process's group left is reaped now or never. */
	group_reap(in);
	in->pgid_live = 0;
	in->adopted = 0;
	in->pid = in->proc.pid;
	in->running = 1;
	in->exited = 0;
	in->status_done = 0;
	in->exec_errno = 0;
	in->started_mono = uv_now(loop);
	in->started_wall = daemon_now_wall();
	in->cpu_base += in->cpu_seen;
	in->cpu_seen = 0;
	in->stopped_by_exit = 0;
	in->ready_ms = -1;
	in->reason = in->next_reason;
	in->reason_wall = in->started_wall;
	if (in->reason != REASON_START && in->reason != REASON_SCALE)
		in->restarts_by[in->reason]++;
	in->ready_timeout = 0;
	in->chanlen = 0;
	free(in->status_text);
	in->status_text = NULL;
	uv_read_start((uv_stream_t *)&in->status, status_alloc, status_read);
	if (chanfd >= 0) {
		in->has_channel = 1;
		uv_read_start((uv_stream_t *)in->channel, channel_alloc,
		    channel_read);
	}
	in->has_input = a->stdin_messages;
	for (k = 0; k < 2; k++)
		logpipe_start(lp[k]);
	set_state(in, IS_LAUNCHING);
	log_info("%s:%d started, pid %ld", a->name, in->index, (long)in->pid);
	pidfile_write(in);
	daemon_nofile_check(0);
}

/*
 * Reap what is left of the group of an instance whose leader has exited:
 * the daemon is a subreaper, so orphaned members are its children.  Only
 * while the group may still exist (pgid_live): once no child of ours is
 * left in it, its number may be reused, by another instance too, whose
 * process libuv must reap, not us.
 */
static void
group_reap(struct instance *in)
{
	pid_t r;

	if (!in->pgid_live || !in->exited)
		return;
	while ((r = waitpid(-in->pid, NULL, WNOHANG)) > 0)
		;
	if (r == -1 && errno == ECHILD)
		in->pgid_live = 0;
}

/* Signal the instance's whole process group, while it may exist. */
static int
group_kill(struct instance *in, int sig)
{
	int r = -ESRCH;

	if (in->pid > 0) {
		if (in->exited)
			group_reap(in);
		if (!in->exited || in->pgid_live)
			r = kill(-in->pid, sig) == 0 ? 0 : -errno;
	}
	/* What left the group (setsid, a double fork) is still in the
	 * instance's cgroup, and goes with it. */
	if (cgroup_signal(in->cgroup, sig, r == 0 ? in->pid : 0) > 0)
		r = 0;
	return r;
}

/*
 * After SIGCHLD: an adopted process (an upgrade's, which libuv does not
 * know) is reaped here and its exit handled as exit_cb would; then the
 * orphans of every group whose leader is gone.
 */
void
inst_reap_orphans(struct instance *in)
{
	int st;
	pid_t r;

	if (in->adopted && in->running && !in->exited) {
		while ((r = waitpid(in->pid, &st, WNOHANG)) == -1 &&
		    errno == EINTR)
			;
		if (r == in->pid) {
			in->adopted = 0;
			in->exited = 1;
			in->pgid_live = 1;
			in->exit_status = WIFEXITED(st) ? WEXITSTATUS(st) : 0;
			in->exit_termsig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
			maybe_exited(in);
		} else if (r == -1 && errno == ECHILD)
			leader_lost(in);
	}
	group_reap(in);
}

static void
record_exit(struct instance *in)
{
	struct exit_record *e;

	in->have_exit = 1;
	if (in->exit_termsig != 0) {
		in->exit_code = -1;
		in->exit_signal = in->exit_termsig;
	} else {
		in->exit_code = (int)in->exit_status;
		in->exit_signal = 0;
	}
	/* Out of memory for the history: describe lacks this exit. */
	if (in->exits == NULL &&
	    (in->exits = calloc(EXIT_HISTORY, sizeof *in->exits)) == NULL)
		return;
	e = &in->exits[in->nexits % EXIT_HISTORY];
	e->when = daemon_now_wall();
	e->code = in->exit_code;
	e->signal = in->exit_signal;
	e->uptime_ms = (int64_t)(uv_now(loop) - in->started_mono);
	e->delay_ms = -1;
	in->nexits++;
}

static int
is_stop_exit_code(const struct app *a, int code)
{
	int i;

	for (i = 0; i < a->nstop_exit_codes; i++)
		if (a->stop_exit_codes[i] == code)
			return 1;
	return 0;
}

/* Spawn now, or once the last process's handles are closed (EV_CLOSED). */
static void
launch(struct instance *in)
{
	if (in->nhandles > 1 || in->running)
		set_state(in, IS_PENDING);
	else
		inst_spawn(in);
}

/* The one kill escalation: SIGKILL the group of a stopping instance. */
static void
kill_escalate(struct instance *in)
{
	log_warnx("%s:%d did not stop within %lld ms; SIGKILL", in->app->name,
	    in->index, (long long)in->app->kill_timeout_ms);
	(void)group_kill(in, SIGKILL);
	set_state(in,
	    in->fsm_state == IS_EXITING	     ? IS_EXIT_KILLING :
		in->fsm_state == IS_STOPPING ? IS_KILLING :
					       in->fsm_state);
}

/* The leader lives on after its exit was due: it is gone unreported. */
static void
leader_lost(struct instance *in)
{
	log_warnx("%s:%d pid %ld is gone without an exit status", in->app->name,
	    in->index, (long)in->pid);
	in->exited = 1;
	in->exit_status = 0;
	in->exit_termsig = SIGKILL;
	if (in->adopted)
		in->adopted = 0;
	else
		uv_close((uv_handle_t *)&in->proc, handle_closed);
	maybe_exited(in);
}

/* Ask fsm_stop_step what a stopping instance does next, and do it. */
static void
stop_next(struct instance *in)
{
	struct stop_facts f;
	uint64_t now = uv_now(loop);

	f.leader_alive = in->running;
	f.leader_found = in->exited || kill(in->pid, 0) == 0 || errno != ESRCH;
	f.group_alive = !in->running && group_kill(in, 0) == 0;
	f.killed = in->fsm_state == IS_KILLING ||
	    in->fsm_state == IS_EXIT_KILLING;
	f.now = now;
	f.deadline = in->stop_deadline;
	f.grace_ms = KILL_GRACE_MS;
	switch (fsm_stop_step(&f)) {
	case STOP_DONE:
		uv_timer_stop(&in->timer);
		log_info("%s:%d stopped", in->app->name, in->index);
		set_state(in, IS_STOPPED);
		if (in->want_up) {
			in->want_up = 0;
			inst_event(in, EV_START);
		}
		break;
	case STOP_KILL:
		kill_escalate(in);
		timer_start(in, in->running ? KILL_GRACE_MS : STOP_POLL_MS);
		break;
	case STOP_POLL:
		timer_start(in, STOP_POLL_MS);
		break;
	case STOP_WAIT:
		timer_start(in,
		    !f.killed && in->stop_deadline > now ?
			in->stop_deadline - now :
			KILL_GRACE_MS);
		break;
	case STOP_LOST:
		leader_lost(in);
		break;
	}
}

/* The process ended on its own: fsm_exit_verdict decides what follows. */
static void
exited_on_own(struct instance *in)
{
	struct app *a = in->app;
	struct restart_policy p = {
		.autorestart = a->autorestart,
		.restart_delay_ms = a->restart_delay_ms,
		.backoff_base_ms = a->backoff_base_ms,
		.backoff_max_ms = a->backoff_max_ms,
		.backoff_reset_ms = a->backoff_reset_ms,
		.min_uptime_ms = a->min_uptime_ms,
		.max_restarts = a->max_restarts,
	};
	struct exit_facts f;
	struct exit_record *e;
	int64_t uptime = (int64_t)(uv_now(loop) - in->started_mono);
	char msg[512], how[64];

	if (in->exit_signal != 0)
		snprintf(how, sizeof how, "was killed by %s",
		    util_signal_name(in->exit_signal));
	else
		snprintf(how, sizeof how, "exited with code %d", in->exit_code);
	/* Leftovers of the process's group go with it. */
	(void)group_kill(in, SIGKILL);
	f.exec_failed = in->exec_errno != 0;
	f.retiring = in->retiring;
	f.stop_code = in->exit_signal == 0 &&
	    is_stop_exit_code(a, in->exit_code);
	f.uptime_ms = uptime;
	switch (fsm_exit_verdict(&p, &f, &in->backoff)) {
	case VERDICT_CANNOT_EXEC:
		snprintf(msg, sizeof msg, "cannot execute '%s': %s", a->argv[0],
		    strerror(in->exec_errno));
		log_warnx("%s:%d %s", a->name, in->index, msg);
		set_error(in, msg);
		set_state(in, IS_ERRORED);
		break;
	case VERDICT_REPLACED:
		log_info("%s:%d (replaced) %s after %lld ms", a->name,
		    in->index, how, (long long)uptime);
		set_state(in, IS_STOPPED);
		break;
	case VERDICT_STOPPED:
		log_info("%s:%d %s after %lld ms; not restarted (%s)", a->name,
		    in->index, how, (long long)uptime,
		    a->autorestart ? "a stop exit code" : "autorestart is off");
		in->stopped_by_exit = 1;
		set_state(in, IS_STOPPED);
		break;
	case VERDICT_CRASH_LOOP:
		snprintf(msg, sizeof msg,
		    "%s %d times in a row within %lld ms "
		    "of starting; given up%s",
		    how, in->backoff.unstable, (long long)a->min_uptime_ms,
		    share_preload_note(in));
		log_warnx("%s:%d %s", a->name, in->index, msg);
		set_error(in, msg);
		set_state(in, IS_ERRORED);
		break;
	case VERDICT_RESTART:
		if ((e = inst_last_exit(in)) != NULL)
			e->delay_ms = in->backoff.delay_ms;
		in->next_start_wall = daemon_now_wall() + in->backoff.delay_ms;
		log_info("%s:%d %s after %lld ms; restart in %lld ms", a->name,
		    in->index, how, (long long)uptime,
		    (long long)in->backoff.delay_ms);
		set_state(in, IS_WAITING);
		timer_start(in, (uint64_t)in->backoff.delay_ms);
		break;
	}
}

static void
timer_cb(uv_timer_t *t)
{
	inst_event(t->data, EV_TIMER);
}

/* --- the actions of the table in core/fsm.c, one function each --------- */

static void
act_none(struct instance *in)
{
	(void)in;
}

static void
act_launch(struct instance *in)
{
	uv_timer_stop(&in->timer);
	set_error(in, NULL);
	launch(in);
}

static void
act_spawn(struct instance *in)
{
	launch(in);
}

static void
act_want_up(struct instance *in)
{
	in->want_up = 1;
}

/*
 * Ask the instance to stop: the kill signal to its group, or with
 * shutdown_with_message (pm2) the message 'shutdown' on its Node channel,
 * and the signal only when it has no channel to read it.  Either way the
 * kill timeout then escalates to SIGKILL.
 */
static void
act_signal(struct instance *in)
{
	json_t *msg;
	const char *why;
	int sent = -1;

	set_state(in, IS_STOPPING);
	in->stop_deadline = uv_now(loop) + (uint64_t)in->app->kill_timeout_ms;
	if (in->app->shutdown_with_message &&
	    (msg = json_string("shutdown")) != NULL) {
		sent = inst_send(in, msg, &why);
		json_decref(msg);
		if (sent != 0)
			log_warnx("%s:%d cannot be sent 'shutdown' (%s); %s "
				  "instead",
			    in->app->name, in->index, why,
			    util_signal_name(in->app->kill_signal));
	}
	if (sent != 0)
		(void)group_kill(in, in->app->kill_signal);
	timer_start(in, (uint64_t)in->app->kill_timeout_ms);
}

static void
act_want_down(struct instance *in)
{
	in->want_up = 0;
}

static void
act_cancel(struct instance *in)
{
	uv_timer_stop(&in->timer);
	set_state(in, IS_STOPPED);
}

static void
act_drop_self(struct instance *in)
{
	set_state(in,
	    in->fsm_state == IS_EXIT_KILLING ? IS_KILLING : IS_STOPPING);
}

static void
act_online(struct instance *in)
{
	uv_timer_stop(&in->timer);
	in->ready_ms = (int64_t)(uv_now(loop) - in->started_mono);
	in->app->ready_ms = in->ready_ms;
	set_state(in, IS_ONLINE);
	log_debug("%s:%d online", in->app->name, in->index);
}

/* Launching until a readiness signal, or listen_timeout. */
static void
act_exec_ok(struct instance *in)
{
	share_inst_exec(in);
	if (in->app->listen_timeout_ms == 0)
		act_online(in);
	else
		timer_start(in, (uint64_t)in->app->listen_timeout_ms);
}

static void
act_ready_late(struct instance *in)
{
	struct app *a = in->app;

	if (in->exited)
		return; /* its exit is being handled */
	if (a->wait_ready)
		log_warnx("%s:%d sent no ready signal within %lld ms; taken "
			  "as online",
		    a->name, in->index, (long long)a->listen_timeout_ms);
	in->ready_timeout = 1;
	act_online(in);
}

/* It stops by itself; its exit is then handled as any other. */
static void
act_self_stop(struct instance *in)
{
	log_info("%s:%d says it is stopping", in->app->name, in->index);
	set_state(in, IS_EXITING);
	in->stop_deadline = uv_now(loop) + (uint64_t)in->app->kill_timeout_ms;
	timer_start(in, (uint64_t)in->app->kill_timeout_ms);
}

static void
act_exited(struct instance *in)
{
	record_exit(in);
	uv_timer_stop(&in->timer);
	exited_on_own(in);
}

static void
act_leader_gone(struct instance *in)
{
	record_exit(in);
	uv_timer_stop(&in->timer);
	stop_next(in);
}

static void
act_stop_timer(struct instance *in)
{
	stop_next(in);
}

static void
act_restart(struct instance *in)
{
	in->restarts++;
	in->next_reason = REASON_CRASH;
	launch(in);
}

static void (*const act_fn[A_ACTION_COUNT])(struct instance *) = {
	[A_NONE] = act_none,
	[A_LAUNCH] = act_launch,
	[A_SPAWN] = act_spawn,
	[A_WANT_UP] = act_want_up,
	[A_WANT_DOWN] = act_want_down,
	[A_SIGNAL] = act_signal,
	[A_CANCEL] = act_cancel,
	[A_DROP_SELF] = act_drop_self,
	[A_EXEC_OK] = act_exec_ok,
	[A_ONLINE] = act_online,
	[A_READY_LATE] = act_ready_late,
	[A_SELF_STOP] = act_self_stop,
	[A_EXITED] = act_exited,
	[A_LEADER_GONE] = act_leader_gone,
	[A_STOP_TIMER] = act_stop_timer,
	[A_RESTART] = act_restart,
};

/* The one way an instance's life changes: the table picks the action. */
void
inst_event(struct instance *in, enum inst_event ev)
{
	enum inst_action act = fsm_action(in->fsm_state, ev);

	if (act != A_NONE)
		log_debug("%s:%d %s in %s: %s", in->app->name, in->index,
		    fsm_event_name(ev), fsm_state_name(in->fsm_state),
		    fsm_action_name(act));
	act_fn[act](in);
}

/* Start the instance (a running one stays as it is), for reason. */
void
inst_start(struct instance *in, enum inst_reason reason)
{
	in->next_reason = reason;
	inst_event(in, EV_START);
}

/* Stop the instance gracefully, and keep it stopped. */
void
inst_stop(struct instance *in)
{
	inst_event(in, EV_STOP);
}

/*
 * Stop the instance, then start it again for reason, with a fresh
 * backoff.  In every state that is a stop then a start: a stopped, errored
 * or waiting one starts at once, a running one when its process has gone.
 */
void
inst_restart(struct instance *in, enum inst_reason reason)
{
	inst_backoff_reset(in);
	inst_event(in, EV_STOP);
	inst_start(in, reason);
}

/* Forget the crash history: the next crash restarts after the base delay. */
void
inst_backoff_reset(struct instance *in)
{
	in->backoff.crashes = 0;
	in->backoff.unstable = 0;
	in->backoff.delay_ms = 0;
}

/* reset: clear the counters; one waiting or given up starts now. */
void
inst_reset(struct instance *in)
{
	inst_backoff_reset(in);
	in->restarts = 0;
	in->nexits = 0;
	in->have_exit = 0;
	if (in->fsm_state == IS_WAITING || in->fsm_state == IS_ERRORED)
		inst_start(in, REASON_MANUAL);
}

/* The status list shows. */
/*
 * Whether the instance is meant to run (what the user asked, not whether
 * it runs now): on its way up, up, waiting for a restart, given up, or
 * stopping for a restart.  The state file saves this.
 */
int
inst_wants_up(const struct instance *in)
{
	switch (in->fsm_state) {
	case IS_STOPPED:
		return 0;
	case IS_STOPPING:
	case IS_KILLING:
		return in->want_up;
	default:
		return 1;
	}
}

/* The status list shows: the state's, never worked out elsewhere. */
enum inst_status
inst_status(const struct instance *in)
{
	return fsm_status(in->fsm_state);
}

const char *
inst_status_name(const struct instance *in)
{
	return fsm_status_name(inst_status(in));
}

static const char *reason_names[REASON_COUNT] = {
	[REASON_START] = "start",
	[REASON_CRASH] = "crash",
	[REASON_MANUAL] = "manual",
	[REASON_RELOAD] = "reload",
	[REASON_SCALE] = "scale",
	[REASON_WATCH] = "watch",
	[REASON_MEMORY] = "memory",
	[REASON_CRON] = "cron",
	[REASON_UPGRADE] = "upgrade",
	[REASON_RESTORE] = "restore",
};

const char *
inst_reason_name(enum inst_reason r)
{
	return (unsigned)r < REASON_COUNT ? reason_names[r] : "unknown";
}

/*
 * Why an instance is not running, for an error message: its error, or
 * how its last process ended ("exited with code 1"), or "was stopped".
 */
void
inst_why_down(const struct instance *in, char *buf, size_t len)
{
	if (in->error != NULL)
		snprintf(buf, len, "%s", in->error);
	else if (in->have_exit && in->exit_signal != 0)
		snprintf(buf, len, "was killed by %s",
		    util_signal_name(in->exit_signal));
	else if (in->have_exit)
		snprintf(buf, len, "exited with code %d", in->exit_code);
	else
		snprintf(buf, len, "was stopped");
}

/* One row of list --json. */
json_t *
inst_json(struct instance *in)
{
	struct app *a = in->app;
	unsigned long long ticks;
	long hz = sysconf(_SC_CLK_TCK);
	double cpu = 0;
	int64_t mem = 0, uptime = 0;
	uint64_t now = uv_now(loop);
	json_t *o;

	if (in->running && !in->exited) {
		uptime = (int64_t)(now - in->started_mono);
		(void)inst_sample(in, &mem);
		ticks = in->cpu_seen;
		/* Since the last look, or since the start. */
		if (in->cpu_when > in->started_mono && now > in->cpu_when &&
		    ticks >= in->cpu_ticks)
			cpu = (double)(ticks - in->cpu_ticks) * 1000.0 / hz /
			    (double)(now - in->cpu_when) * 100.0;
		else if (uptime > 0)
			cpu = (double)ticks * 1000.0 / hz / (double)uptime *
			    100.0;
		in->cpu_ticks = ticks;
		in->cpu_when = now;
	}
	o = json_pack("{s:i, s:s, s:i, s:s, s:s, s:i, s:I, s:f, s:I}", "id",
	    a->id, "name", a->name, "instance", in->index, "mode",
	    util_json_str(a->spec, "mode", "fork"), "status",
	    inst_status_name(in), "restarts", in->restarts, "uptime_ms",
	    (json_int_t)uptime, "cpu", (double)((int)(cpu * 10 + 0.5)) / 10.0,
	    "memory", (json_int_t)mem);
	json_object_set_new(o, "pid",
	    in->running && !in->exited ? json_integer(in->pid) : json_null());
	json_object_set_new(o, "exit_code",
	    in->have_exit && in->exit_signal == 0 ?
		json_integer(in->exit_code) :
		json_null());
	json_object_set_new(o, "exit_signal",
	    in->have_exit && in->exit_signal != 0 ?
		json_string(util_signal_name(in->exit_signal)) :
		json_null());
	json_object_set_new(o, "started_at",
	    in->running ? json_integer(in->started_wall) : json_null());
	json_object_set_new(o, "next_start_at",
	    in->fsm_state == IS_WAITING ? json_integer(in->next_start_wall) :
					  json_null());
	json_object_set_new(o, "restart_delay_ms",
	    in->fsm_state == IS_WAITING ? json_integer(in->backoff.delay_ms) :
					  json_null());
	json_object_set_new(o, "error",
	    in->error != NULL ? json_string(in->error) : json_null());
	json_object_set_new(o, "restart_reason",
	    in->started_wall != 0 && in->reason != REASON_START ?
		json_string(inst_reason_name(in->reason)) :
		json_null());
	json_object_set_new(o, "restarted_at",
	    in->started_wall != 0 && in->reason != REASON_START ?
		json_integer(in->reason_wall) :
		json_null());
	return o;
}

/* One sd_notify datagram from the instance: READY=1, STOPPING=1, STATUS=. */
void
inst_notify(struct instance *in, const char *msg, size_t n)
{
	const char *p = msg, *end = msg + n, *nl;
	size_t len;

	for (; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		len = (size_t)(nl - p);
		if (len == 7 && memcmp(p, "READY=1", 7) == 0)
			inst_event(in, EV_READY);
		else if (len == 10 && memcmp(p, "STOPPING=1", 10) == 0)
			inst_event(in, EV_STOPPING);
		else if (len >= 7 && memcmp(p, "STATUS=", 7) == 0) {
			free(in->status_text);
			in->status_text = strndup(p + 7,
			    len - 7 > 200 ? 200 : len - 7);
			daemon_changed();
		}
	}
}

/* Send sig to the instance's process (its leader, as pm2's sendSignal). */
int
inst_signal(struct instance *in, int sig)
{
	if (!in->running || in->exited || in->pid <= 0)
		return -ESRCH;
	return kill(in->pid, sig) == 0 ? 0 : -errno;
}

struct send_req {
	uv_write_t w;
	char *buf;
};

static void
send_done(uv_write_t *w, int status)
{
	struct send_req *sr = (struct send_req *)w;

	(void)status; /* a process that went away: its exit says so */
	free(sr->buf);
	free(sr);
}

/* The most a channel may hold unread before send refuses. */
#define SEND_MAX_QUEUED (1u << 20)

/*
 * Deliver msg to the instance: one JSON line on its Node IPC channel, or
 * on its stdin (stdin_messages; a string goes as the bare line).  0, or a
 * negative errno with *why saying what is missing.
 */
int
inst_send(struct instance *in, const json_t *msg, const char **why)
{
	uv_stream_t *s;
	struct send_req *sr;
	const char *str = json_string_value(msg);
	char *line;
	size_t len;
	uv_buf_t b;
	int r;

	*why = NULL;
	if (!in->running || in->exited) {
		*why = "not running";
		return -ESRCH;
	}
	if (in->has_channel)
		s = (uv_stream_t *)in->channel;
	else if (in->has_input)
		s = (uv_stream_t *)in->input;
	else {
		*why = in->app->node_channel ? "closed its IPC channel" :
					       "has no message channel";
		return -ENOTCONN;
	}
	if (uv_stream_get_write_queue_size(s) > SEND_MAX_QUEUED) {
		*why = "does not read its messages";
		return -EAGAIN;
	}
	if (s == (uv_stream_t *)in->input && str != NULL &&
	    strchr(str, '\n') == NULL)
		line = strdup(str);
	else
		line = json_dumps(msg, JSON_COMPACT | JSON_ENCODE_ANY);
	if (line == NULL || (sr = calloc(1, sizeof *sr)) == NULL) {
		free(line);
		*why = "out of memory";
		return -ENOMEM;
	}
	len = strlen(line);
	sr->buf = realloc(line, len + 2);
	if (sr->buf == NULL) {
		free(line);
		free(sr);
		*why = "out of memory";
		return -ENOMEM;
	}
	sr->buf[len] = '\n';
	b = uv_buf_init(sr->buf, (unsigned int)len + 1);
	if ((r = uv_write(&sr->w, s, &b, 1, send_done)) != 0) {
		free(sr->buf);
		free(sr);
		*why = "its channel is closed";
		return r;
	}
	return 0;
}

/* Some instance's CPU time grew since inst_cpu_moved last looked. */
static int cpu_moved;

/* Close the statm descriptor of a process that is gone. */
static void
statm_close(struct instance *in)
{
	if (in->statm_fd != -1) {
		close(in->statm_fd);
		in->statm_fd = -1;
	}
}

/*
 * Sample the current process: its resident memory in bytes into rss, and
 * its CPU time into cpu_seen, which only ever grows.  Through a statm
 * descriptor kept open while it runs, so that list and a scrape of many
 * instances cost one read and one clock_gettime each: 0, or -1 (no
 * process, or it is gone: rss 0).
 */
int
inst_sample(struct instance *in, int64_t *rss)
{
	unsigned long long ticks;
	long pages;
	int fd, r;

	*rss = 0;
	if (!in->running || in->exited)
		return -1;
	/* Out of descriptors: this time's sample is lost, nothing else.
	 * Past half the limit the descriptor is not kept. */
	if ((fd = in->statm_fd) == -1 && (fd = proc_open_statm(in->pid)) == -1)
		return -1;
	r = proc_usage(in->pid, fd, &ticks, &pages);
	if (in->statm_fd == -1) {
		if (r == 0 && daemon_fds_plenty())
			in->statm_fd = fd;
		else
			close(fd);
	}
	if (r != 0)
		return -1;
	*rss = (int64_t)pages * sysconf(_SC_PAGESIZE);
	if (ticks > in->cpu_seen) {
		in->cpu_seen = ticks;
		cpu_moved = 1;
	}
	return 0;
}

/* Whether any instance's CPU time moved since the last call. */
int
inst_cpu_moved(void)
{
	int r = cpu_moved;

	cpu_moved = 0;
	return r;
}

/*
 * The instance's CPU time in ticks, of all its processes so far (a
 * counter: it carries over restarts), and its resident memory in bytes.
 */
void
inst_usage(struct instance *in, uint64_t *cpu, int64_t *rss)
{
	(void)inst_sample(in, rss);
	*cpu = in->cpu_base + in->cpu_seen;
}

/*
 * The instance's counters for the state file (docs/state.md): its
 * restarts, by reason, and, with cpu, its CPU time as last sampled (what
 * a scrape showed, never more), so that a daemon that dies and comes back
 * carries them on.  A new object.
 */
json_t *
inst_counters_json(const struct instance *in, int cpu)
{
	json_t *by = json_object(), *o;
	int r;

	for (r = 0; r < REASON_COUNT; r++)
		if (in->restarts_by[r] > 0)
			json_object_set_new(by, reason_names[r],
			    json_integer((json_int_t)in->restarts_by[r]));
	o = json_pack("{s:i, s:o}", "restarts", in->restarts, "restarts_by",
	    by);
	if (cpu && o != NULL)
		json_object_set_new(o, "cpu_ms",
		    json_integer((json_int_t)inst_cpu_ms(in)));
	return o;
}

/* The instance's CPU time as last sampled (inst_usage), in ms. */
uint64_t
inst_cpu_ms(const struct instance *in)
{
	return (in->cpu_base + in->cpu_seen) * 1000 /
	    (uint64_t)sysconf(_SC_CLK_TCK);
}

/* The instance's last exit as recorded, or NULL: none (or no memory). */
struct exit_record *
inst_last_exit(const struct instance *in)
{
	if (in->exits == NULL || in->nexits <= 0)
		return NULL;
	return &in->exits[(in->nexits - 1) % EXIT_HISTORY];
}

/* Take the counters a dead daemon saved (inst_counters_json's), before
 * the instance starts; what is not a count is ignored. */
void
inst_counters_restore(struct instance *in, const json_t *c)
{
	const json_t *by = json_object_get(c, "restarts_by"), *v;
	json_int_t n;
	int r;

	if ((v = json_object_get(c, "restarts")) != NULL &&
	    json_is_integer(v) && (n = json_integer_value(v)) >= 0 &&
	    n <= INT_MAX)
		in->restarts = (int)n;
	for (r = 0; r < REASON_COUNT; r++)
		if ((v = json_object_get(by, reason_names[r])) != NULL &&
		    json_is_integer(v) && (n = json_integer_value(v)) >= 0)
			in->restarts_by[r] = (uint64_t)n;
	if ((v = json_object_get(c, "cpu_ms")) != NULL && json_is_integer(v) &&
	    (n = json_integer_value(v)) >= 0 && n < INT64_MAX / 1000) {
		/* rounded up: never less than what was shown */
		in->cpu_base = ((uint64_t)n * (uint64_t)sysconf(_SC_CLK_TCK) +
				   999) /
		    1000;
		in->cpu_seen = 0;
	}
}

/* A replacement carries on the counters of the instance it replaces. */
void
inst_inherit(struct instance *repl, struct instance *old)
{
	uint64_t cpu;
	int64_t rss;

	inst_usage(old, &cpu, &rss);
	repl->restarts = old->restarts;
	memcpy(repl->restarts_by, old->restarts_by, sizeof repl->restarts_by);
	repl->cpu_base = cpu;
}

/* --- an in-place upgrade (core/upgrade.c) -------------------------------- */

static void
put_int(json_t *o, const char *k, json_int_t v)
{
	json_object_set_new(o, k, json_integer(v));
}

static void
put_str(json_t *o, const char *k, const char *v)
{
	if (v != NULL)
		json_object_set_new(o, k, json_string(v));
}

/*
 * Everything the next image needs to carry on the instance: its state,
 * process, counters, backoff and timer (what is left of it), and its
 * handles' descriptors ("*_fd").  NULL, with why, when it is in the
 * middle of something that cannot be handed over (try again soon).
 */
json_t *
inst_handover(struct instance *in, char *why, size_t len)
{
	json_t *o, *arr;
	int fd, i;

	if (in->fsm_state == IS_PENDING || (in->running && in->exited)) {
		snprintf(why, len, "instance %s:%d is being restarted",
		    in->app->name, in->index);
		return NULL;
	}
	o = json_object();
	put_int(o, "index", in->index);
	put_str(o, "state", fsm_state_name(in->fsm_state));
	put_int(o, "pid", in->pid);
	put_int(o, "running", in->running);
	put_int(o, "exited", in->exited);
	put_int(o, "pgid_live", in->pgid_live);
	put_int(o, "exec_errno", in->exec_errno);
	put_int(o, "started_mono", (json_int_t)in->started_mono);
	put_int(o, "started_wall", in->started_wall);
	put_int(o, "stop_deadline", (json_int_t)in->stop_deadline);
	put_int(o, "restarts", in->restarts);
	put_int(o, "crashes", in->backoff.crashes);
	put_int(o, "unstable", in->backoff.unstable);
	put_int(o, "delay_ms", in->backoff.delay_ms);
	put_int(o, "next_start_wall", in->next_start_wall);
	put_int(o, "timer_ms",
	    uv_is_active((uv_handle_t *)&in->timer) ?
		(json_int_t)uv_timer_get_due_in(&in->timer) :
		-1);
	put_int(o, "want_up", in->want_up);
	put_int(o, "next_reason", in->next_reason);
	put_int(o, "reason", in->reason);
	put_int(o, "reason_wall", in->reason_wall);
	put_int(o, "have_exit", in->have_exit);
	put_int(o, "exit_code", in->exit_code);
	put_int(o, "exit_signal", in->exit_signal);
	put_int(o, "nexits", in->nexits);
	put_int(o, "cpu_base", (json_int_t)in->cpu_base);
	put_int(o, "cpu_seen", (json_int_t)in->cpu_seen);
	put_int(o, "ready_ms", in->ready_ms);
	put_int(o, "ready_timeout", in->ready_timeout);
	put_int(o, "stopped_by_exit", in->stopped_by_exit);
	put_int(o, "preload", in->preload);
	put_str(o, "error", in->error);
	put_str(o, "status_text", in->status_text);
	put_str(o, "cgroup", in->cgroup);
	put_str(o, "pid_file", in->pid_file);
	arr = json_array();
	for (i = 0; in->exits != NULL && i < EXIT_HISTORY; i++)
		json_array_append_new(arr,
		    json_pack("[I, i, i, I, I]", (json_int_t)in->exits[i].when,
			in->exits[i].code, in->exits[i].signal,
			(json_int_t)in->exits[i].uptime_ms,
			(json_int_t)in->exits[i].delay_ms));
	json_object_set_new(o, "exits", arr);
	arr = json_array();
	for (i = 0; i < REASON_COUNT; i++)
		json_array_append_new(arr,
		    json_integer((json_int_t)in->restarts_by[i]));
	json_object_set_new(o, "restarts_by", arr);
	if (in->running && !in->status_done &&
	    uv_fileno((uv_handle_t *)&in->status, &fd) == 0)
		put_int(o, "status_fd", fd);
	if (in->has_channel &&
	    uv_fileno((uv_handle_t *)in->channel, &fd) == 0) {
		put_int(o, "channel_fd", fd);
		json_object_set_new(o, "chanline",
		    util_json_hex(in->chanline, in->chanlen));
	}
	if (in->has_input && uv_fileno((uv_handle_t *)in->input, &fd) == 0)
		put_int(o, "input_fd", fd);
	return o;
}

static int
state_by_name(const char *name)
{
	int s;

	for (s = 0; name != NULL && s < IS_COUNT; s++)
		if (strcmp(fsm_state_name((enum inst_state)s), name) == 0)
			return s;
	return -1;
}

static int
adopt_pipe(struct instance *in, uv_pipe_t *p, int ipc, int fd)
{
	uv_pipe_init(loop, p, ipc);
	p->data = in;
	in->nhandles++;
	if (uv_pipe_open(p, fd) != 0) {
		close(fd);
		uv_close((uv_handle_t *)p, handle_closed);
		return -1;
	}
	return 0;
}

/* The storage of a pipe only some instances have (channel, input),
 * allocated if need be: 0, or -1 with fd closed. */
static int
pipe_alloc(uv_pipe_t **pp, int fd)
{
	if (*pp == NULL && (*pp = malloc(sizeof **pp)) == NULL) {
		close(fd);
		return -1;
	}
	return 0;
}

static char *
dup_str(const json_t *o, const char *k)
{
	const char *v = util_json_str(o, k, NULL);

	return v != NULL ? strdup(v) : NULL;
}

/*
 * The next image takes an instance over from inst_handover's object: the
 * same process (it is still our child: execve kept the pid), its state
 * as it was, its timer re-armed with what was left of it.  Nothing is
 * started.  0, or -1 when o does not describe an instance.
 */
int
inst_adopt(struct instance *in, const json_t *o)
{
	json_t *v, *e;
	size_t i;
	int s = state_by_name(util_json_str(o, "state", NULL)), fd;
	int64_t timer_ms;
	char *line;

	if (s < 0)
		return -1;
	in->fsm_state = (enum inst_state)s;
	in->pid = (pid_t)util_json_int(o, "pid", 0);
	in->running = (int)util_json_int(o, "running", 0);
	in->adopted = in->running;
	in->exited = (int)util_json_int(o, "exited", 0);
	in->pgid_live = (int)util_json_int(o, "pgid_live", 0);
	in->exec_errno = (int)util_json_int(o, "exec_errno", 0);
	in->started_mono = (uint64_t)util_json_int(o, "started_mono", 0);
	in->started_wall = util_json_int(o, "started_wall", 0);
	in->stop_deadline = (uint64_t)util_json_int(o, "stop_deadline", 0);
	in->restarts = (int)util_json_int(o, "restarts", 0);
	in->backoff.crashes = (int)util_json_int(o, "crashes", 0);
	in->backoff.unstable = (int)util_json_int(o, "unstable", 0);
	in->backoff.delay_ms = util_json_int(o, "delay_ms", 0);
	in->next_start_wall = util_json_int(o, "next_start_wall", 0);
	in->want_up = (int)util_json_int(o, "want_up", 0);
	in->next_reason = (enum inst_reason)util_json_int(o, "next_reason", 0);
	in->reason = (enum inst_reason)util_json_int(o, "reason", 0);
	if ((unsigned)in->next_reason >= REASON_COUNT)
		in->next_reason = REASON_START;
	if ((unsigned)in->reason >= REASON_COUNT)
		in->reason = REASON_START;
	in->reason_wall = util_json_int(o, "reason_wall", 0);
	in->have_exit = (int)util_json_int(o, "have_exit", 0);
	in->exit_code = (int)util_json_int(o, "exit_code", 0);
	in->exit_signal = (int)util_json_int(o, "exit_signal", 0);
	in->nexits = (int)util_json_int(o, "nexits", 0);
	if (in->nexits > 0 && in->exits == NULL)
		in->exits = calloc(EXIT_HISTORY, sizeof *in->exits);
	if (in->nexits < 0 || in->exits == NULL)
		in->nexits = 0;
	in->cpu_base = (uint64_t)util_json_int(o, "cpu_base", 0);
	in->cpu_seen = (uint64_t)util_json_int(o, "cpu_seen", 0);
	in->ready_ms = util_json_int(o, "ready_ms", -1);
	in->ready_timeout = (int)util_json_int(o, "ready_timeout", 0);
	in->stopped_by_exit = (int)util_json_int(o, "stopped_by_exit", 0);
	in->preload = (enum preload_state)util_json_int(o, "preload", 0);
	in->error = dup_str(o, "error");
	in->status_text = dup_str(o, "status_text");
	free(in->cgroup);
	in->cgroup = dup_str(o, "cgroup");
	free(in->pid_file);
	in->pid_file = dup_str(o, "pid_file");
	json_array_foreach(json_object_get(o, "exits"), i, e) {
		if (i >= EXIT_HISTORY || in->exits == NULL)
			break;
		in->exits[i].when = json_integer_value(json_array_get(e, 0));
		in->exits[i].code = (int)json_integer_value(
		    json_array_get(e, 1));
		in->exits[i].signal = (int)json_integer_value(
		    json_array_get(e, 2));
		in->exits[i].uptime_ms = json_integer_value(
		    json_array_get(e, 3));
		in->exits[i].delay_ms = json_integer_value(
		    json_array_get(e, 4));
	}
	json_array_foreach(json_object_get(o, "restarts_by"), i, v)
		if (i < REASON_COUNT)
			in->restarts_by[i] = (uint64_t)json_integer_value(v);
	in->status_done = 1;
	if ((fd = (int)util_json_int(o, "status_fd", -1)) >= 0 &&
	    adopt_pipe(in, &in->status, 0, fd) == 0) {
		in->status_done = 0;
		uv_read_start((uv_stream_t *)&in->status, status_alloc,
		    status_read);
	}
	if ((fd = (int)util_json_int(o, "channel_fd", -1)) >= 0 &&
	    pipe_alloc(&in->channel, fd) == 0 &&
	    adopt_pipe(in, in->channel, 1, fd) == 0) {
		in->has_channel = 1;
		if ((line = util_hex_value(json_object_get(o, "chanline"),
			 &in->chanlen)) != NULL &&
		    in->chanlen > 0)
			in->chanline = line;
		else
			free(line);
		if (in->chanline == NULL)
			in->chanlen = 0;
		uv_read_start((uv_stream_t *)in->channel, channel_alloc,
		    channel_read);
	}
	if ((fd = (int)util_json_int(o, "input_fd", -1)) >= 0 &&
	    pipe_alloc(&in->input, fd) == 0 &&
	    adopt_pipe(in, in->input, 0, fd) == 0)
		in->has_input = 1;
	if ((timer_ms = util_json_int(o, "timer_ms", -1)) >= 0)
		timer_start(in, (uint64_t)timer_ms);
	return 0;
}
