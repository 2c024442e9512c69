/*
 * An instance's life as a table (s6-supervise's actions[state][event]):
 * the states, the events, and which action each event takes in each
 * state.  The decisions here are pure (no loop, no process, no app), so
 * tests/unit/fsm.c checks every transition; core/instance.c carries the
 * actions out.  docs/architecture.md draws the diagram.
 */
#ifndef CORE_FSM_H
#define CORE_FSM_H

#include <stdint.h>

/* What list shows: each state below is shown as one of these. */
enum inst_status {
	ST_LAUNCHING,
	ST_ONLINE,
	ST_STOPPING,
	ST_STOPPED,
	ST_WAITING,
	ST_ERRORED,
};

/* Where an instance is in its life. */
enum inst_state {
	IS_STOPPED,	 /* no process; stays so */
	IS_PENDING,	 /* to start once the last process's handles close */
	IS_LAUNCHING,	 /* spawned, not ready yet (readiness timer) */
	IS_ONLINE,	 /* ready */
	IS_EXITING,	 /* said STOPPING=1: exits by itself (kill timer) */
	IS_EXIT_KILLING, /* ... did not in time: SIGKILL sent */
	IS_STOPPING,	 /* kill_signal sent to its group (kill timer) */
	IS_KILLING,	 /* SIGKILL sent to its group (grace timer) */
	IS_WAITING,	 /* crashed: restart when the backoff timer fires */
	IS_ERRORED,	 /* cannot run, or crashed too often: given up */
	IS_COUNT
};

/* What happens to an instance. */
enum inst_event {
	EV_START,     /* wanted running (start, restart, scale, reload) */
	EV_STOP,      /* wanted stopped */
	EV_CLOSED,    /* the last process's handles are all closed */
	EV_EXEC_OK,   /* the program was executed */
	EV_EXEC_FAIL, /* the program could not be executed (EV_EXIT follows) */
	EV_READY,     /* it said it is ready (READY=1, "ready", a bind) */
	EV_STOPPING,  /* it said it is stopping (STOPPING=1) */
	EV_EXIT,      /* its process exited (and its exec status is known) */
	EV_TIMER,     /* its one timer fired */
	EV_COUNT
};

/* What an event does in a state: instance.c has one function for each. */
enum inst_action {
	A_NONE,	       /* nothing */
	A_LAUNCH,      /* clear the error, spawn (or wait for the handles) */
	A_SPAWN,       /* the handles are closed: spawn now */
	A_WANT_UP,     /* start again once stopped */
	A_WANT_DOWN,   /* stay stopped once stopped */
	A_SIGNAL,      /* send kill_signal to the group, arm the kill timer */
	A_CANCEL,      /* drop the pending start or restart: stopped */
	A_DROP_SELF,   /* a stop while exiting: its exit is no crash */
	A_EXEC_OK,     /* online now, or arm the readiness timer */
	A_ONLINE,      /* online */
	A_READY_LATE,  /* the readiness timer: online anyway */
	A_SELF_STOP,   /* it exits by itself: arm the kill timer */
	A_EXITED,      /* it exited on its own: restart, stop or give up */
	A_LEADER_GONE, /* a stopped process exited: wait for its group */
	A_STOP_TIMER,  /* check the group; SIGKILL when the time is up */
	A_RESTART,     /* the backoff passed: spawn again */
	A_ACTION_COUNT
};

enum inst_status fsm_status(enum inst_state);
const char *fsm_state_name(enum inst_state);
const char *fsm_status_name(enum inst_status);
const char *fsm_event_name(enum inst_event);
const char *fsm_action_name(enum inst_action);
enum inst_action fsm_action(enum inst_state, enum inst_event);

/* An app's restart policy (docs/supervision.md), as the verdict needs it. */
struct restart_policy {
	int autorestart;
	int64_t restart_delay_ms; /* fixed; -1: exponential backoff */
	int64_t backoff_base_ms;
	int64_t backoff_max_ms;
	int64_t backoff_reset_ms;
	int64_t min_uptime_ms;
	int max_restarts;
};

/* An instance's backoff: owned by instance.c, decided here. */
struct backoff {
	int crashes;	  /* consecutive exits, the backoff's exponent */
	int unstable;	  /* consecutive exits within min_uptime */
	int64_t delay_ms; /* the current (or last) restart delay */
};

/* What becomes of an instance whose process exited on its own. */
enum exit_verdict {
	VERDICT_RESTART,     /* waiting, then started again (delay_ms) */
	VERDICT_STOPPED,     /* autorestart off, or a stop exit code */
	VERDICT_REPLACED,    /* retired by a reload or scale: stopped */
	VERDICT_CANNOT_EXEC, /* errored: the program cannot be executed */
	VERDICT_CRASH_LOOP,  /* errored: too many unstable restarts */
};

/* One exit, as the verdict needs it. */
struct exit_facts {
	int exec_failed; /* the shim could not execute the program */
	int retiring;	 /* replaced (app->gone): never restarted */
	int stop_code;	 /* exited with one of stop_exit_codes */
	int64_t uptime_ms;
};

enum exit_verdict fsm_exit_verdict(const struct restart_policy *,
    const struct exit_facts *, struct backoff *);

/* What a stopping instance's timer (or its leader's exit) leads to. */
enum stop_step {
	STOP_DONE, /* the group is gone, or the grace passed: stopped */
	STOP_KILL, /* the time is up: SIGKILL the group */
	STOP_POLL, /* the leader is gone, the group not yet: look again */
	STOP_WAIT, /* the leader lives: wait for its exit */
	STOP_LOST, /* the leader is gone without an exit status */
};

/* A stopping instance, as stop_step needs it. */
struct stop_facts {
	int leader_alive; /* its exit was not reported yet */
	int leader_found; /* kill(pid, 0) finds it */
	int group_alive;  /* kill(-pgid, 0) finds a member */
	int killed;	  /* SIGKILL was sent */
	uint64_t now, deadline, grace_ms;
};

enum stop_step fsm_stop_step(const struct stop_facts *);

int64_t backoff_next_delay(int64_t, double, int64_t, unsigned int);
#define BACKOFF_FACTOR 1.5

#endif
