/*
 * reload and scale.  A reload replaces instances one at a time (or k at a
 * time): a new instance for the same number is started while the old one
 * keeps serving from app->gone, and the old one is stopped gracefully only
 * once the new one is ready, so serving capacity never drops.  A
 * replacement that fails stops the reload and is rolled back: the old
 * instance goes back to its slot, still serving.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ipc/util.h"
#include "core.h"

enum slot_phase {
	SLOT_PENDING,
	SLOT_STARTING, /* waiting for the replacement to be ready */
	SLOT_STOPPING, /* waiting for the old instance to stop */
	SLOT_DONE,
};

/* One instance being replaced.  Both instances are held (inst_ref). */
struct slot {
	int app_id;
	int index;
	char label[96]; /* name:N */
	struct instance *old;
	struct instance *repl;
	enum slot_phase phase;
};

struct reload {
	struct req *req;
	struct slot *slots;
	int nslots;
	int parallel;
	int force;
	int nfailed;
	int nreplaced;
	char why[512]; /* the first failure */
	struct reload *next;
};

static struct reload *reloads;

static void progress(struct reload *rl, const char *event, const struct slot *s,
    const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* One line of progress to the client (a reply with "more"). */
static void
progress(struct reload *rl, const char *event, const struct slot *s,
    const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	log_info("reload %s: %s", s->label, msg);
	req_more(rl->req,
	    json_pack("{s:s, s:s, s:s}", "event", event, "instance", s->label,
		"message", msg));
}

/* Why an instance that should have become ready did not. */
static void
failure_reason(const struct instance *in, char *buf, size_t len)
{
	char why[400];

	inst_why_down(in, why, sizeof why);
	if (in->error != NULL)
		snprintf(buf, len, "%s", why);
	else
		snprintf(buf, len, "%s before it was ready", why);
}

static void
slot_release(struct slot *s)
{
	if (s->old != NULL)
		inst_unref(s->old);
	if (s->repl != NULL)
		inst_unref(s->repl);
	s->old = s->repl = NULL;
	s->phase = SLOT_DONE;
}

/* Begin replacing one instance. */
static void
slot_start(struct reload *rl, struct slot *s)
{
	struct app *a = app_find_id(s->app_id);
	struct instance *old, *repl;

	if (a == NULL || s->index >= a->ninst) {
		s->phase = SLOT_DONE; /* deleted or scaled away meanwhile */
		return;
	}
	old = a->inst[s->index];
	if (inst_status(old) == ST_STOPPED || inst_status(old) == ST_STOPPING) {
		/* Stopped on purpose: a reload does not start it. */
		progress(rl, "skip", s, "%s; left alone",
		    inst_status_name(old));
		s->phase = SLOT_DONE;
		return;
	}
	/* A reload clears the backoff, as a restart does. */
	if (inst_status(old) == ST_ERRORED || inst_status(old) == ST_WAITING) {
		/* Nothing serves here: just start it. */
		progress(rl, "start", s, "starting (it was %s)",
		    inst_status_name(old));
		inst_backoff_reset(old);
		s->repl = old;
		inst_ref(old);
		s->phase = SLOT_STARTING;
		inst_start(old, REASON_RELOAD);
		return;
	}
	if ((repl = inst_new(a, s->index)) == NULL) {
		rl->nfailed++;
		snprintf(rl->why, sizeof rl->why, "%s: out of memory",
		    s->label);
		s->phase = SLOT_DONE;
		return;
	}
	repl->restarts = old->restarts;
	app_retire_instance(a, s->index);
	a->inst[s->index] = repl;
	s->old = old;
	s->repl = repl;
	inst_ref(old);
	inst_ref(repl);
	s->phase = SLOT_STARTING;
	inst_start(repl, REASON_RELOAD);
	if (repl->running)
		progress(rl, "start", s, "started pid %ld to replace pid %ld",
		    (long)repl->pid, (long)old->pid);
	else
		progress(rl, "start", s, "starting a replacement for pid %ld",
		    (long)old->pid);
}

/* The replacement failed: put the old instance back, unless forced. */
static void
slot_failed(struct reload *rl, struct slot *s, const char *why)
{
	struct app *a = app_find_id(s->app_id);
	struct instance *repl = s->repl;

	rl->nfailed++;
	if (rl->nfailed == 1)
		snprintf(rl->why, sizeof rl->why, "%s %s", s->label, why);
	if (rl->force && s->old != NULL && !s->old->dead) {
		progress(rl, "failed", s,
		    "%s; --force: stopping pid %ld anyway", why,
		    (long)s->old->pid);
		inst_stop(s->old);
		s->phase = SLOT_STOPPING;
		return;
	}
	progress(rl, "failed", s, "%s", why);
	if (a != NULL && s->old != NULL && !s->old->dead &&
	    !inst_idle(s->old) && inst_status(s->old) != ST_STOPPING &&
	    s->index < a->ninst && a->inst[s->index] == repl) {
		/* Roll back: the old one serves on, the new one goes. */
		TAILQ_REMOVE(&a->gone, s->old, retired);
		s->old->retiring = 0;
		app_retire_instance(a, s->index);
		a->inst[s->index] = s->old;
		inst_stop(repl);
		progress(rl, "rollback", s, "pid %ld keeps serving",
		    (long)s->old->pid);
	}
	slot_release(s);
}

/* Advance one slot; 1 while it is still busy. */
static int
slot_step(struct reload *rl, struct slot *s)
{
	struct instance *repl = s->repl;
	struct app *a;
	char why[512];

	switch (s->phase) {
	case SLOT_STARTING:
		if (repl->dead) {
			slot_failed(rl, s, "was deleted");
			return 0;
		}
		if (inst_status(repl) == ST_LAUNCHING)
			return 1;
		a = repl->app;
		if (inst_status(repl) == ST_ONLINE) {
			if (a->wait_ready && repl->ready_timeout) {
				snprintf(why, sizeof why,
				    "sent no ready signal "
				    "within %lld ms",
				    (long long)a->listen_timeout_ms);
				slot_failed(rl, s, why);
				return s->phase != SLOT_DONE;
			}
			progress(rl, "ready", s, "pid %ld is %s",
			    (long)repl->pid,
			    repl->ready_timeout ?
				"online (listen timeout passed)" :
				"ready");
			rl->nreplaced++;
			if (s->old == NULL || s->old->dead) {
				slot_release(s);
				return 0;
			}
			inst_stop(s->old);
			s->phase = SLOT_STOPPING;
			return 1;
		}
		failure_reason(repl, why, sizeof why);
		slot_failed(rl, s, why);
		return s->phase != SLOT_DONE;
	case SLOT_STOPPING:
		if (!s->old->dead && !inst_idle(s->old))
			return 1;
		progress(rl, "stopped", s, "old pid %ld stopped",
		    (long)s->old->pid);
		slot_release(s);
		return 0;
	case SLOT_PENDING:
	case SLOT_DONE:
		break;
	}
	return 0;
}

static void
reload_free(struct reload *rl)
{
	struct reload **pp;
	struct app *a;
	int i;

	for (pp = &reloads; *pp != NULL; pp = &(*pp)->next)
		if (*pp == rl) {
			*pp = rl->next;
			break;
		}
	for (i = 0; i < rl->nslots; i++) {
		slot_release(&rl->slots[i]);
		if ((a = app_find_id(rl->slots[i].app_id)) != NULL)
			a->reloading = 0;
	}
	free(rl->slots);
	free(rl);
}

/* The waiter: advance every slot, start more, reply when done. */
static int
check_reload(struct req *r)
{
	struct reload *rl;
	int i, busy = 0;

	for (rl = reloads; rl != NULL && rl->req != r; rl = rl->next)
		;
	if (rl == NULL) {
		req_error(r, IPC_E_INTERNAL, "lost track of the reload");
		return 1;
	}
	for (i = 0; i < rl->nslots; i++)
		busy += slot_step(rl, &rl->slots[i]);
	for (i = 0; i < rl->nslots && busy < rl->parallel &&
	     (rl->nfailed == 0 || rl->force);
	     i++) {
		if (rl->slots[i].phase != SLOT_PENDING)
			continue;
		slot_start(rl, &rl->slots[i]);
		busy += slot_step(rl, &rl->slots[i]);
	}
	for (i = 0; i < rl->nslots; i++)
		if (rl->slots[i].phase != SLOT_DONE &&
		    (rl->slots[i].phase != SLOT_PENDING || rl->nfailed == 0 ||
			rl->force))
			return 0;
	if (rl->nfailed > 0 && rl->force)
		req_error(r, IPC_E_APP_FAILED,
		    "reload finished with %d "
		    "failure%s, the first: %s",
		    rl->nfailed, rl->nfailed > 1 ? "s" : "", rl->why);
	else if (rl->nfailed > 0)
		req_error(r, IPC_E_APP_FAILED,
		    "reload stopped: %s; the old "
		    "instances keep serving",
		    rl->why);
	else
		req_reply(r, json_pack("{s:i}", "replaced", rl->nreplaced));
	reload_free(rl);
	return 1;
}

/* reload {"targets", "parallel", "force"}: progress, then the result. */
void
reload_handle(struct req *r)
{
	const struct target *t;
	struct reload *rl;
	struct app *a;
	size_t i;
	int k, lo, hi, n = 0, j, dup, parallel = 1, force = 0;

	if (quitting) {
		req_error(r, IPC_E_BUSY, "the daemon is shutting down");
		return;
	}
	if (req_args(r, "{s?i, s?b}", "parallel", &parallel, "force", &force) !=
		0 ||
	    req_targets(r, &r->targets) != 0)
		return;
	for (i = 0; i < r->targets.n; i++) {
		a = target_app(&r->targets.v[i]);
		if (a->reloading) {
			req_error(r, IPC_E_BUSY,
			    "a reload of '%s' is running "
			    "already",
			    a->name);
			return;
		}
		target_range(&r->targets.v[i], a, &lo, &hi);
		n += hi - lo;
	}
	if ((rl = calloc(1, sizeof *rl)) == NULL ||
	    (rl->slots = calloc((size_t)n + 1, sizeof *rl->slots)) == NULL) {
		free(rl);
		req_error(r, IPC_E_INTERNAL, "out of memory");
		return;
	}
	rl->req = r;
	rl->parallel = parallel < 1 ? 1 : parallel;
	rl->force = force;
	for (i = 0; i < r->targets.n; i++) {
		t = &r->targets.v[i];
		a = target_app(t);
		target_range(t, a, &lo, &hi);
		for (k = lo; k < hi; k++) {
			for (j = 0, dup = 0; j < rl->nslots; j++)
				if (rl->slots[j].app_id == a->id &&
				    rl->slots[j].index == k)
					dup = 1;
			if (dup)
				continue;
			rl->slots[rl->nslots].app_id = a->id;
			rl->slots[rl->nslots].index = k;
			snprintf(rl->slots[rl->nslots].label,
			    sizeof rl->slots[0].label, "%s:%d", a->name, k);
			rl->nslots++;
		}
		a->reloading = 1;
	}
	rl->next = reloads;
	reloads = rl;
	req_wait(r, check_reload, NULL);
}

/* Waiting for a scale: new instances online, removed ones stopped. */
static int
check_scaled(struct req *r)
{
	struct app *a = app_find_id((int)util_json_int(r->wait, "app", -1));
	struct instance *in;
	int k, from = (int)util_json_int(r->wait, "from", 0);
	char why[512];

	if (r->client == NULL) { /* nobody to tell any more */
		req_reply(r, NULL);
		return 1;
	}
	if (a == NULL) {
		req_error(r, IPC_E_APP_FAILED, "the app was deleted");
		return 1;
	}
	TAILQ_FOREACH(in, &a->gone, retired)
		if (!inst_idle(in))
			return 0;
	for (k = from; k < a->ninst; k++) {
		in = a->inst[k];
		if (inst_status(in) == ST_LAUNCHING ||
		    inst_status(in) == ST_STOPPING)
			return 0;
		if (inst_status(in) != ST_ONLINE) {
			failure_reason(in, why, sizeof why);
			req_error(r, IPC_E_APP_FAILED, "%s:%d %s", a->name, k,
			    why);
			return 1;
		}
	}
	req_reply(r,
	    json_pack("{s:[{s:i, s:s, s:i}]}", "apps", "id", a->id, "name",
		a->name, "instances", a->ninst));
	return 1;
}

/* scale {"target", "count", "relative", "wait"} */
void
scale_handle(struct req *r)
{
	const char *word;
	json_t *words;
	struct instance *in;
	struct app *a;
	json_int_t count = 0;
	int64_t n;
	int k, from, relative = 0, wait = 1, rc;
	struct err e;

	if (quitting) {
		req_error(r, IPC_E_BUSY, "the daemon is shutting down");
		return;
	}
	if (json_unpack(r->args, "{s:s, s:I}", "target", &word, "count",
		&count) != 0) {
		req_error(r, IPC_E_BAD_REQUEST,
		    "scale needs a target and a "
		    "count");
		return;
	}
	if (req_args(r, "{s?b, s?b}", "relative", &relative, "wait", &wait) !=
	    0)
		return;
	words = json_pack("[s]", word);
	rc = targets_resolve(words, &r->targets, &e);
	json_decref(words);
	if (rc != 0) {
		req_fail(r, &e);
		return;
	}
	if (r->targets.n != 1 || r->targets.v[0].instance >= 0 ||
	    (a = target_app(&r->targets.v[0])) == NULL) {
		req_error(r, IPC_E_BAD_REQUEST, "scale takes one app");
		return;
	}
	if (a->reloading) {
		req_error(r, IPC_E_BUSY,
		    "'%s' is being reloaded; scale it "
		    "afterwards",
		    a->name);
		return;
	}
	if (count < -4096 || count > 4096) {
		req_error(r, IPC_E_BAD_REQUEST,
		    "cannot scale '%s' by or to "
		    "%lld instances (at most 4096)",
		    a->name, (long long)count);
		return;
	}
	n = relative ? a->ninst + count : count;
	if (n < 1 || n > 4096) {
		req_error(r, IPC_E_BAD_REQUEST,
		    "cannot scale '%s' to %lld "
		    "instances (1 to 4096; to stop it all, use stop)",
		    a->name, (long long)n);
		return;
	}
	from = a->ninst;
	if (n > a->ninst) {
		if (app_set_instances(a, (int)n) != 0) {
			req_error(r, IPC_E_INTERNAL, "out of memory");
			return;
		}
		for (k = from; k < n; k++)
			inst_start(a->inst[k], REASON_SCALE);
	} else {
		/* The highest numbers go, gracefully. */
		for (k = a->ninst - 1; k >= n; k--) {
			in = a->inst[k];
			app_retire_instance(a, k);
			inst_stop(in);
		}
		a->ninst = (int)n;
	}
	log_info("%s scaled from %d to %d instances", a->name, from, a->ninst);
	if (!wait) {
		req_reply(r,
		    json_pack("{s:[{s:i, s:s, s:i}]}", "apps", "id", a->id,
			"name", a->name, "instances", a->ninst));
		return;
	}
	req_wait(r, check_scaled,
	    json_pack("{s:i, s:i}", "app", a->id, "from",
		from < n ? from : (int)n));
}
