/*
 * The instance state machine's decisions (core/fsm.c), without a loop:
 * every cell of the actions[state][event] table, the status list shows
 * for each state, what an exit leads to (backoff, crash loop), and what a
 * stopping instance does next.
 */
#include <string.h>

#include "../../core/fsm.h"
#include "tap.h"

/* The transitions, as docs/architecture.md draws them; every other cell
 * of the table must be A_NONE. */
static const struct {
	enum inst_state state;
	enum inst_event event;
	enum inst_action action;
} expected[] = {
	{ IS_STOPPED, EV_START, A_LAUNCH },
	{ IS_PENDING, EV_STOP, A_CANCEL },
	{ IS_PENDING, EV_CLOSED, A_SPAWN },
	{ IS_LAUNCHING, EV_STOP, A_SIGNAL },
	{ IS_LAUNCHING, EV_EXEC_OK, A_EXEC_OK },
	{ IS_LAUNCHING, EV_READY, A_ONLINE },
	{ IS_LAUNCHING, EV_STOPPING, A_SELF_STOP },
	{ IS_LAUNCHING, EV_EXIT, A_EXITED },
	{ IS_LAUNCHING, EV_TIMER, A_READY_LATE },
	{ IS_ONLINE, EV_STOP, A_SIGNAL },
	{ IS_ONLINE, EV_STOPPING, A_SELF_STOP },
	{ IS_ONLINE, EV_EXIT, A_EXITED },
	{ IS_EXITING, EV_STOP, A_DROP_SELF },
	{ IS_EXITING, EV_EXIT, A_EXITED },
	{ IS_EXITING, EV_TIMER, A_STOP_TIMER },
	{ IS_EXIT_KILLING, EV_STOP, A_DROP_SELF },
	{ IS_EXIT_KILLING, EV_EXIT, A_EXITED },
	{ IS_EXIT_KILLING, EV_TIMER, A_STOP_TIMER },
	{ IS_STOPPING, EV_START, A_WANT_UP },
	{ IS_STOPPING, EV_STOP, A_WANT_DOWN },
	{ IS_STOPPING, EV_EXIT, A_LEADER_GONE },
	{ IS_STOPPING, EV_TIMER, A_STOP_TIMER },
	{ IS_KILLING, EV_START, A_WANT_UP },
	{ IS_KILLING, EV_STOP, A_WANT_DOWN },
	{ IS_KILLING, EV_EXIT, A_LEADER_GONE },
	{ IS_KILLING, EV_TIMER, A_STOP_TIMER },
	{ IS_WAITING, EV_START, A_LAUNCH },
	{ IS_WAITING, EV_STOP, A_CANCEL },
	{ IS_WAITING, EV_TIMER, A_RESTART },
	{ IS_ERRORED, EV_START, A_LAUNCH },
};

static enum inst_action
expected_action(enum inst_state s, enum inst_event e)
{
	size_t i;

	for (i = 0; i < sizeof expected / sizeof expected[0]; i++)
		if (expected[i].state == s && expected[i].event == e)
			return expected[i].action;
	return A_NONE;
}

static void
test_table(void)
{
	int s, e, bad = 0;
	enum inst_action got, want;

	for (s = 0; s < IS_COUNT; s++)
		for (e = 0; e < EV_COUNT; e++) {
			got = fsm_action((enum inst_state)s,
			    (enum inst_event)e);
			want = expected_action((enum inst_state)s,
			    (enum inst_event)e);
			if (got != want) {
				printf("# %s + %s: %s, expected %s\n",
				    fsm_state_name((enum inst_state)s),
				    fsm_event_name((enum inst_event)e),
				    fsm_action_name(got),
				    fsm_action_name(want));
				bad++;
			}
		}
	ok(bad == 0, "every cell of the %d x %d table is as drawn",
	    IS_COUNT, EV_COUNT);
	for (e = 0; e < EV_COUNT; e++)
		if (fsm_action(IS_STOPPED, (enum inst_event)e) != A_NONE &&
		    e != EV_START)
			bad++;
	ok(bad == 0, "a stopped instance only answers start");
	for (s = 0; s < IS_COUNT; s++)
		if (fsm_action((enum inst_state)s, EV_EXEC_FAIL) != A_NONE)
			bad++;
	ok(bad == 0, "exec-fail does nothing anywhere (the exit says why)");
	ok(fsm_action(IS_COUNT, EV_START) == A_NONE &&
	    fsm_action(IS_STOPPED, EV_COUNT) == A_NONE,
	    "out of range is no action");
	for (s = 0; s < IS_COUNT; s++)
		for (e = 0; e < EV_COUNT; e++)
			if (strcmp(fsm_action_name(fsm_action(
			    (enum inst_state)s, (enum inst_event)e)), "?") == 0)
				bad++;
	ok(bad == 0, "every action has a name");
}

static void
test_status(void)
{
	ok(fsm_status(IS_STOPPED) == ST_STOPPED, "stopped shows stopped");
	ok(fsm_status(IS_PENDING) == ST_LAUNCHING &&
	    fsm_status(IS_LAUNCHING) == ST_LAUNCHING,
	    "pending and launching show launching");
	ok(fsm_status(IS_ONLINE) == ST_ONLINE, "online shows online");
	ok(fsm_status(IS_EXITING) == ST_STOPPING &&
	    fsm_status(IS_EXIT_KILLING) == ST_STOPPING &&
	    fsm_status(IS_STOPPING) == ST_STOPPING &&
	    fsm_status(IS_KILLING) == ST_STOPPING,
	    "exiting, stopping and killing show stopping");
	ok(fsm_status(IS_WAITING) == ST_WAITING, "waiting shows waiting");
	ok(fsm_status(IS_ERRORED) == ST_ERRORED, "errored shows errored");
	ok(strcmp(fsm_status_name(ST_WAITING), "waiting") == 0 &&
	    strcmp(fsm_status_name(ST_LAUNCHING), "launching") == 0,
	    "status names are list's words");
}

static void
test_verdict(void)
{
	struct restart_policy p = { 1, -1, 100, 15000, 30000, 1000, 2 };
	struct exit_facts f = { 0, 0, 0, 5000 };
	struct backoff b = { 0, 0, 0 };

	ok(fsm_exit_verdict(&p, &f, &b) == VERDICT_RESTART &&
	    b.delay_ms == 100 && b.crashes == 1,
	    "a crash restarts after the base delay");
	ok(fsm_exit_verdict(&p, &f, &b) == VERDICT_RESTART &&
	    b.delay_ms == 150 && b.crashes == 2, "then after 1.5 times it");
	f.uptime_ms = 40000;
	ok(fsm_exit_verdict(&p, &f, &b) == VERDICT_RESTART &&
	    b.delay_ms == 100, "a long run resets the backoff");
	f.uptime_ms = 10;
	b.unstable = 0;
	ok(fsm_exit_verdict(&p, &f, &b) == VERDICT_RESTART &&
	    b.unstable == 1, "an exit within min_uptime is unstable");
	ok(fsm_exit_verdict(&p, &f, &b) == VERDICT_RESTART &&
	    b.unstable == 2, "max_restarts unstable exits still restart");
	ok(fsm_exit_verdict(&p, &f, &b) == VERDICT_CRASH_LOOP,
	    "one more is a crash loop: errored");
	f.uptime_ms = 5000;
	b.unstable = 2;
	ok(fsm_exit_verdict(&p, &f, &b) == VERDICT_RESTART && b.unstable == 0,
	    "a stable run clears the unstable count");
	p.restart_delay_ms = 250;
	ok(fsm_exit_verdict(&p, &f, &b) == VERDICT_RESTART &&
	    b.delay_ms == 250, "a fixed restart_delay replaces the backoff");
	f.stop_code = 1;
	ok(fsm_exit_verdict(&p, &f, &b) == VERDICT_STOPPED,
	    "a stop exit code leaves it stopped");
	f.stop_code = 0;
	p.autorestart = 0;
	ok(fsm_exit_verdict(&p, &f, &b) == VERDICT_STOPPED,
	    "autorestart off leaves it stopped");
	p.autorestart = 1;
	f.retiring = 1;
	ok(fsm_exit_verdict(&p, &f, &b) == VERDICT_REPLACED,
	    "a replaced instance is never restarted");
	f.exec_failed = 1;
	ok(fsm_exit_verdict(&p, &f, &b) == VERDICT_CANNOT_EXEC,
	    "a failed exec is errored, before anything else");
}

static void
test_stop(void)
{
	struct stop_facts f;

	memset(&f, 0, sizeof f);
	f.deadline = 1000;
	f.grace_ms = 2000;
	f.leader_alive = 1;
	f.leader_found = 1;
	f.now = 500;
	ok(fsm_stop_step(&f) == STOP_WAIT, "a live leader before the deadline: wait");
	f.now = 1000;
	ok(fsm_stop_step(&f) == STOP_KILL, "at the deadline: SIGKILL");
	f.killed = 1;
	ok(fsm_stop_step(&f) == STOP_WAIT, "killed, still there: wait");
	f.leader_found = 0;
	ok(fsm_stop_step(&f) == STOP_LOST,
	    "killed and gone without an exit: lost");
	f.leader_alive = 0;
	f.killed = 0;
	f.group_alive = 0;
	f.now = 10;
	ok(fsm_stop_step(&f) == STOP_DONE, "leader and group gone: stopped");
	f.group_alive = 1;
	ok(fsm_stop_step(&f) == STOP_POLL, "group left before the deadline: poll");
	f.now = 1000;
	ok(fsm_stop_step(&f) == STOP_KILL, "group left at the deadline: SIGKILL");
	f.killed = 1;
	ok(fsm_stop_step(&f) == STOP_POLL, "killed group left: poll");
	f.now = 3000;
	ok(fsm_stop_step(&f) == STOP_DONE,
	    "the grace after the deadline passed: stopped anyway");
}

int
main(void)
{
	test_table();
	test_status();
	test_verdict();
	test_stop();
	return tap_done();
}
