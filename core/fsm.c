/*
 * The instance state machine's decisions, apart from their effects: the
 * actions[state][event] table, what a process's own exit leads to (the
 * backoff and the crash loop), and what a stopping instance does next.
 * Nothing here touches a process, a timer or an app: core/instance.c
 * gathers the facts, asks, and acts.
 */
#include <stddef.h>

#include "fsm.h"

static const char *const status_names[] = {
	[ST_LAUNCHING] = "launching",
	[ST_ONLINE] = "online",
	[ST_STOPPING] = "stopping",
	[ST_STOPPED] = "stopped",
	[ST_WAITING] = "waiting",
	[ST_ERRORED] = "errored",
};

static const struct {
	const char *name;
	enum inst_status status;
} states[IS_COUNT] = {
	[IS_STOPPED] = { "stopped", ST_STOPPED },
	[IS_PENDING] = { "pending", ST_LAUNCHING },
	[IS_LAUNCHING] = { "launching", ST_LAUNCHING },
	[IS_ONLINE] = { "online", ST_ONLINE },
	[IS_EXITING] = { "exiting", ST_STOPPING },
	[IS_EXIT_KILLING] = { "exit-killing", ST_STOPPING },
	[IS_STOPPING] = { "stopping", ST_STOPPING },
	[IS_KILLING] = { "killing", ST_STOPPING },
	[IS_WAITING] = { "waiting", ST_WAITING },
	[IS_ERRORED] = { "errored", ST_ERRORED },
};

static const char *const event_names[EV_COUNT] = {
	[EV_START] = "start",
	[EV_STOP] = "stop",
	[EV_CLOSED] = "closed",
	[EV_EXEC_OK] = "exec-ok",
	[EV_EXEC_FAIL] = "exec-fail",
	[EV_READY] = "ready",
	[EV_STOPPING] = "stopping",
	[EV_EXIT] = "exit",
	[EV_TIMER] = "timer",
};

static const char *const action_names[A_ACTION_COUNT] = {
	[A_NONE] = "none",
	[A_LAUNCH] = "launch",
	[A_SPAWN] = "spawn",
	[A_WANT_UP] = "want-up",
	[A_WANT_DOWN] = "want-down",
	[A_SIGNAL] = "signal",
	[A_CANCEL] = "cancel",
	[A_DROP_SELF] = "drop-self",
	[A_EXEC_OK] = "exec-ok",
	[A_ONLINE] = "online",
	[A_READY_LATE] = "ready-late",
	[A_SELF_STOP] = "self-stop",
	[A_EXITED] = "exited",
	[A_LEADER_GONE] = "leader-gone",
	[A_STOP_TIMER] = "stop-timer",
	[A_RESTART] = "restart",
};

/*
 * The one table.  A row per state, a column per event; an empty cell
 * (A_NONE) means the event changes nothing in that state.  EV_EXEC_FAIL
 * does nothing anywhere: the exit that follows says why.
 */
static const enum inst_action actions[IS_COUNT][EV_COUNT] = {
	[IS_STOPPED] = {
		[EV_START] = A_LAUNCH,
	},
	[IS_PENDING] = {
		[EV_STOP] = A_CANCEL,
		[EV_CLOSED] = A_SPAWN,
	},
	[IS_LAUNCHING] = {
		[EV_STOP] = A_SIGNAL,
		[EV_EXEC_OK] = A_EXEC_OK,
		[EV_READY] = A_ONLINE,
		[EV_STOPPING] = A_SELF_STOP,
		[EV_EXIT] = A_EXITED,
		[EV_TIMER] = A_READY_LATE,
	},
	[IS_ONLINE] = {
		[EV_STOP] = A_SIGNAL,
		[EV_STOPPING] = A_SELF_STOP,
		[EV_EXIT] = A_EXITED,
	},
	[IS_EXITING] = {
		[EV_STOP] = A_DROP_SELF,
		[EV_EXIT] = A_EXITED,
		[EV_TIMER] = A_STOP_TIMER,
	},
	[IS_EXIT_KILLING] = {
		[EV_STOP] = A_DROP_SELF,
		[EV_EXIT] = A_EXITED,
		[EV_TIMER] = A_STOP_TIMER,
	},
	[IS_STOPPING] = {
		[EV_START] = A_WANT_UP,
		[EV_STOP] = A_WANT_DOWN,
		[EV_EXIT] = A_LEADER_GONE,
		[EV_TIMER] = A_STOP_TIMER,
	},
	[IS_KILLING] = {
		[EV_START] = A_WANT_UP,
		[EV_STOP] = A_WANT_DOWN,
		[EV_EXIT] = A_LEADER_GONE,
		[EV_TIMER] = A_STOP_TIMER,
	},
	[IS_WAITING] = {
		[EV_START] = A_LAUNCH,
		[EV_STOP] = A_CANCEL,
		[EV_TIMER] = A_RESTART,
	},
	[IS_ERRORED] = {
		[EV_START] = A_LAUNCH,
	},
};

enum inst_status
fsm_status(enum inst_state s)
{
	return (unsigned)s < IS_COUNT ? states[s].status : ST_ERRORED;
}

const char *
fsm_state_name(enum inst_state s)
{
	return (unsigned)s < IS_COUNT ? states[s].name : "?";
}

const char *
fsm_status_name(enum inst_status s)
{
	return (unsigned)s <= ST_ERRORED ? status_names[s] : "?";
}

const char *
fsm_event_name(enum inst_event e)
{
	return (unsigned)e < EV_COUNT ? event_names[e] : "?";
}

const char *
fsm_action_name(enum inst_action a)
{
	return (unsigned)a < A_ACTION_COUNT ? action_names[a] : "?";
}

/* What event e does in state s. */
enum inst_action
fsm_action(enum inst_state s, enum inst_event e)
{
	if ((unsigned)s >= IS_COUNT || (unsigned)e >= EV_COUNT)
		return A_NONE;
	return actions[s][e];
}

/*
 * A process exited on its own: restart it after a delay (updating the
 * backoff), leave it stopped, or give up.  A crash loop is more than
 * max_restarts exits in a row, each within min_uptime of its start; an
 * instance that stayed up backoff_reset starts its backoff afresh.
 */
enum exit_verdict
fsm_exit_verdict(const struct restart_policy *p, const struct exit_facts *f,
    struct backoff *b)
{
	if (f->exec_failed)
		return VERDICT_CANNOT_EXEC;
	if (f->retiring)
		return VERDICT_REPLACED;
	if (!p->autorestart || f->stop_code)
		return VERDICT_STOPPED;
	if (f->uptime_ms < p->min_uptime_ms) {
		if (++b->unstable > p->max_restarts)
			return VERDICT_CRASH_LOOP;
	} else
		b->unstable = 0;
	if (f->uptime_ms >= p->backoff_reset_ms)
		b->crashes = 0;
	if (p->restart_delay_ms >= 0)
		b->delay_ms = p->restart_delay_ms;
	else
		b->delay_ms = backoff_next_delay(p->backoff_base_ms,
		    BACKOFF_FACTOR, p->backoff_max_ms, (unsigned)b->crashes);
	b->crashes++;
	return VERDICT_RESTART;
}

/*
 * A start failed for want of a resource (descriptors, memory): the delay
 * before trying again, the backoff's next one, as after a crash.
 */
int64_t
fsm_retry_delay(const struct restart_policy *p, struct backoff *b)
{
	b->delay_ms = backoff_next_delay(p->backoff_base_ms, BACKOFF_FACTOR,
	    p->backoff_max_ms, (unsigned)b->crashes);
	b->crashes++;
	return b->delay_ms;
}

/*
 * A stopping instance's next step.  Its leader's exit is waited for
 * (SIGKILL once the deadline passes; one whose exit never comes is lost);
 * then the rest of its group, polled, until it is gone or, SIGKILL sent
 * at the deadline, the grace after it has passed too.
 */
enum stop_step
fsm_stop_step(const struct stop_facts *f)
{
	if (f->leader_alive) {
		if (!f->killed)
			return f->now >= f->deadline ? STOP_KILL : STOP_WAIT;
		return f->leader_found ? STOP_WAIT : STOP_LOST;
	}
	if (!f->group_alive || f->now >= f->deadline + f->grace_ms)
		return STOP_DONE;
	if (f->now >= f->deadline && !f->killed)
		return STOP_KILL;
	return STOP_POLL;
}
