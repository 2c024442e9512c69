/*
 * signal and send: deliver something to every targeted instance and say
 * which got it.  A signal goes to the instance's process (pm2's
 * sendSignal); a message goes on the instance's Node IPC channel, or on its
 * stdin for an app started with stdin_messages.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../ipc/util.h"
#include "core.h"

/* Call fn on every instance r's targets name; rows of what happened. */
static void
each_target(const struct targets *ts,
    void (*fn)(struct instance *, void *, json_t *, json_t *), void *arg,
    json_t *done, json_t *skipped)
{
	struct app *a;
	size_t i;
	int k, lo, hi;

	for (i = 0; i < ts->n; i++) {
		if ((a = target_app(&ts->v[i])) == NULL)
			continue;
		target_range(&ts->v[i], a, &lo, &hi);
		for (k = lo; k < hi && k < a->ninst; k++)
			fn(a->inst[k], arg, done, skipped);
	}
}

static json_t *
row(const struct instance *in)
{
	return json_pack("{s:s, s:i, s:i}", "name", in->app->name, "instance",
	    in->index, "id", in->app->id);
}

static void
signal_one(struct instance *in, void *arg, json_t *done, json_t *skipped)
{
	int sig = *(int *)arg, r;
	json_t *o = row(in);

	if ((r = inst_signal(in, sig)) == 0) {
		json_object_set_new(o, "pid", json_integer(in->pid));
		json_array_append_new(done, o);
		return;
	}
	json_object_set_new(o, "status", json_string(inst_status_name(in)));
	json_object_set_new(o, "reason",
	    json_string(r == -ESRCH ? "not running" : strerror(-r)));
	json_array_append_new(skipped, o);
}

/* Reply with what was delivered, or fail when nothing was. */
static void
reply_delivered(struct req *r, const char *what, json_t *done, json_t *skipped)
{
	json_t *s;

	if (json_array_size(done) == 0) {
		s = json_array_get(skipped, 0);
		if (s == NULL)
			req_error(r, IPC_E_APP_FAILED, "%s reached no instance",
			    what);
		else
			req_error(r, IPC_E_APP_FAILED,
			    "%s reached no instance: "
			    "%s:%lld is %s (%s)",
			    what, util_json_str(s, "name", "?"),
			    (long long)util_json_int(s, "instance", 0),
			    util_json_str(s, "status", "?"),
			    util_json_str(s, "reason", "?"));
		json_decref(done);
		json_decref(skipped);
		return;
	}
	req_reply(r,
	    json_pack("{s:s, s:o, s:o}", "delivered", what, "done", done,
		"skipped", skipped));
}

/* signal {"signal": "SIGUSR2" or a number, "targets"} */
void
deliver_handle_signal(struct req *r)
{
	json_t *js = json_object_get(r->args, "signal");
	int sig = -1;

	if (json_is_string(js))
		sig = util_signal_number(json_string_value(js));
	else if (json_is_integer(js) && json_integer_value(js) > 0 &&
	    json_integer_value(js) < 65)
		sig = (int)json_integer_value(js);
	if (sig <= 0) {
		req_error(r, IPC_E_BAD_REQUEST, "unknown signal '%s'",
		    json_is_string(js) ? json_string_value(js) : "?");
		return;
	}
	if (req_targets(r, &r->targets) != 0)
		return;
	{
		json_t *done = json_array(), *skipped = json_array();

		each_target(&r->targets, signal_one, &sig, done, skipped);
		reply_delivered(r, util_signal_name(sig), done, skipped);
	}
}

static void
send_one(struct instance *in, void *arg, json_t *done, json_t *skipped)
{
	const char *why;
	json_t *o = row(in);

	if (inst_send(in, arg, &why) == 0) {
		json_object_set_new(o, "pid", json_integer(in->pid));
		json_object_set_new(o, "via",
		    json_string(in->has_channel ? "ipc" : "stdin"));
		json_array_append_new(done, o);
		return;
	}
	json_object_set_new(o, "status", json_string(inst_status_name(in)));
	json_object_set_new(o, "reason", json_string(why));
	json_array_append_new(skipped, o);
}

/*
 * send {"targets", "message": any JSON}: an app without a channel (not
 * Node, no stdin_messages) is an error before anything is sent.
 */
void
deliver_handle_send(struct req *r)
{
	json_t *msg = json_object_get(r->args, "message");
	struct app *a;
	size_t i;

	if (msg == NULL) {
		req_error(r, IPC_E_BAD_REQUEST, "send needs a 'message'");
		return;
	}
	if (req_targets(r, &r->targets) != 0)
		return;
	for (i = 0; i < r->targets.n; i++) {
		a = target_app(&r->targets.v[i]);
		if (a != NULL && !a->stdin_messages && !a->node_channel) {
			req_error(r, IPC_E_BAD_REQUEST,
			    "'%s' has no message "
			    "channel: it is not a Node app (start it with "
			    "--stdin-messages to get messages on stdin)",
			    a->name);
			return;
		}
	}
	{
		json_t *done = json_array(), *skipped = json_array();

		each_target(&r->targets, send_one, msg, done, skipped);
		reply_delivered(r, "message", done, skipped);
	}
}
