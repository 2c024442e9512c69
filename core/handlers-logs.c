/*
 * The requests about apps' log files: logs (the tails, then following),
 * flush (empty the files) and reload-logs (reopen them).  This is the one
 * log file that looks apps up: it turns targets into the files they
 * write, then asks logfile.c and follow.c to act on those files.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ipc/util.h"
#include "core.h"

/* r's targets (default: every app); on failure reply and return -1. */
static int
resolve(struct req *r, struct targets *targets, int *all)
{
	json_t *t = json_object_get(r->args, "targets"), *v, *every = NULL;
	struct err e;
	size_t i;
	int rc;

	if (t != NULL && !json_is_array(t)) {
		req_error(r, IPC_E_BAD_REQUEST, "'targets' is not an array");
		return -1;
	}
	*all = t == NULL || json_array_size(t) == 0;
	json_array_foreach(t, i, v)
		if (json_is_string(v) &&
		    strcmp(json_string_value(v), "all") == 0)
			*all = 1;
	if (t == NULL || json_array_size(t) == 0)
		t = every = json_pack("[s]", "all");
	rc = targets_resolve(t, targets, &e);
	json_decref(every);
	if (rc == 0)
		return 0;
	req_fail(r, &e);
	return -1;
}

/*
 * Call fn(app, index, want, stream, path, arg) for each distinct file of
 * the targets' chosen streams (bits: 1 out, 2 err), and their combined
 * files (-l, stream 0) when combined.  index is -1 for a file instances
 * share; want is then the instance the target names (-1: all), to filter
 * lines that say which instance wrote them.
 */
static void
each_file(const struct targets *targets, int streams, int combined,
    void (*fn)(const struct app *, int, int, int, const char *, void *),
    void *arg)
{
	json_t *seen = json_object();
	struct app *a;
	size_t i;
	int k, lo, hi, st, inst, shared;
	char *p, key[PATH_MAX + 16];

	for (i = 0; i < targets->n; i++) {
		if ((a = target_app(&targets->v[i])) == NULL)
			continue;
		inst = targets->v[i].instance;
		target_range(&targets->v[i], a, &lo, &hi);
		for (k = lo; k < hi; k++)
			for (st = 0; st <= 2; st++) {
				if (!(st == 0 ? combined : streams & st) ||
				    (p = logs_stream_path(a, k, st)) == NULL)
					continue;
				shared = logs_stream_shared(a, st);
				snprintf(key, sizeof key, "%s#%d", p,
				    shared ? inst : k);
				if (json_object_get(seen, key) == NULL) {
					json_object_set_new(seen, key,
					    json_true());
					fn(a, shared ? -1 : k, inst, st, p,
					    arg);
				}
				free(p);
			}
	}
	json_decref(seen);
}

/* What a flush did: the files emptied, how many rotated ones went. */
struct flushed {
	json_t *files;
	int rotated;
};

static void
flush_one(const struct app *a, int index, int want, int stream,
    const char *path, void *arg)
{
	struct flushed *fl = arg;
	json_t *v;
	size_t i;

	(void)index;
	(void)want;
	(void)stream;
	json_array_foreach(fl->files, i, v)
		if (strcmp(json_string_value(v), path) == 0)
			return;
	fl->rotated += logf_flush(path, &a->logs.owner);
	json_array_append_new(fl->files, json_string(path));
}

/* flush {"targets"}: empty the apps' log files, remove rotated ones. */
void
handle_flush(struct req *r)
{
	struct targets targets;
	struct flushed fl;
	int all;

	if (resolve(r, &targets, &all) != 0)
		return;
	fl.files = json_array();
	fl.rotated = 0;
	each_file(&targets, 3, 1, flush_one, &fl);
	targets_release(&targets);
	log_info("flushed %zu log files, removed %d rotated ones",
	    json_array_size(fl.files), fl.rotated);
	req_reply(r,
	    json_pack("{s:o, s:i}", "files", fl.files, "rotated", fl.rotated));
}

/* reload-logs: reopen every file, as SIGUSR1 does. */
void
handle_reload_logs(struct req *r)
{
	int n = logf_reopen_all();

	log_info("reopened %d log files", n);
	req_reply(r, json_pack("{s:i}", "files", n));
}

/* each_file's call for the tails: the tail of one file. */
static void
tail_one(const struct app *a, int index, int want, int stream, const char *path,
    void *arg)
{
	follow_tail_file(arg, a, index, want, stream, path);
}

/*
 * logs {"targets", "lines", "stream", "follow", "daemon"}: the last lines
 * of the chosen files (in time order when every line has a time), then,
 * when following, every new line as it is written.
 */
void
handle_logs(struct req *r)
{
	struct follow_tail tc;
	struct targets targets = { NULL, 0 };
	const char *stream = util_json_str(r->args, "stream", "all");
	int64_t lines = util_json_int(r->args, "lines", 15);
	int follow = util_json_bool(r->args, "follow", 0);
	int daemon = util_json_bool(r->args, "daemon", 0);
	int streams, all = 0;
	char path[PATH_MAX];

	if (lines < 0 || lines > 1000000) {
		req_error(r, IPC_E_BAD_REQUEST,
		    "invalid line count %lld (0 to 1000000)", (long long)lines);
		return;
	}
	streams = strcmp(stream, "out") == 0 ? 1 :
	    strcmp(stream, "err") == 0	     ? 2 :
	    strcmp(stream, "all") == 0	     ? 3 :
					       0;
	if (streams == 0) {
		req_error(r, IPC_E_BAD_REQUEST,
		    "invalid stream '%s' (out, err or all)", stream);
		return;
	}
	tc.lines = (int)lines;
	tc.entries = json_array();
	tc.timed = 1;
	if (daemon) {
		snprintf(path, sizeof path, "%s/daemon.log", home);
		follow_tail_daemon(&tc, path);
	} else {
		if (resolve(r, &targets, &all) != 0) {
			json_decref(tc.entries);
			return;
		}
		each_file(&targets, streams, 0, tail_one, &tc);
		follow_tail_sort(&tc);
	}
	if (all)
		targets_release(&targets);
	follow_start(r, tc.entries, &targets, streams, daemon, follow);
}
