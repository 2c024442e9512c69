/*
 * Reading logs back: the tail of a file (the last N lines, read backwards
 * in growing chunks), several tails merged in time order, and followers
 * (logs -f): each logs request that follows gets every new line written
 * by the pipes it asked for (capture.c publishes them), or the daemon's
 * own log's lines, over the protocol's streaming replies.  A follower
 * whose socket is behind by more than SUB_MAX_QUEUE misses lines and is
 * told how many, rather than growing the daemon without bound.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "core.h"
#include "gz.h"

/* How often a follower that missed lines is tried again. */
#define MISSED_RETRY_MS 500
/* A follower whose socket holds more than this unsent misses lines. */
#define SUB_MAX_QUEUE (1024 * 1024)
/* The most a tail reads back from one file. */
#define TAIL_MAX_BYTES (16 * 1024 * 1024)
/* The most a streamed reply of tail lines holds (the frame limit is 8M). */
#define TAIL_CHUNK_BYTES (1024 * 1024)

/* A logs request that follows new lines. */
struct logsub {
	struct req *r;		/* NULL once its client went away */
	struct targets targets; /* none: every app */
	int streams;		/* bit 1: out, bit 2: err */
	int daemon;		/* the daemon's own log instead */
	int64_t missed;		/* lines dropped since the last notice */
	json_t *held; /* while its tail is sent: new lines, sent after */
	TAILQ_ENTRY(logsub) entry;
};

/* The most new lines a follower holds while its tail is sent. */
#define SUB_MAX_HELD 10000

static TAILQ_HEAD(, logsub) subs = TAILQ_HEAD_INITIALIZER(subs);
static uv_timer_t missed_timer; /* tells behind followers what they missed */

static void daemon_line(const char *, size_t);

void
follow_init(void)
{
	uv_timer_init(loop, &missed_timer);
	uv_unref((uv_handle_t *)&missed_timer);
	log_hook = daemon_line;
}

/* Whether anyone follows (then lines get a time even when raw). */
int
follow_active(void)
{
	return !TAILQ_EMPTY(&subs);
}

static void
subs_sweep(void)
{
	struct logsub *s, *next;

	TAILQ_FOREACH_SAFE(s, &subs, entry, next)
		if (s->r == NULL) {
			TAILQ_REMOVE(&subs, s, entry);
			targets_release(&s->targets);
			json_decref(s->held);
			free(s);
		}
}

static int
sub_wants(const struct logsub *s, const struct logsrc *lp)
{
	size_t i;

	if (s->r == NULL || s->daemon || !(s->streams & lp->stream))
		return 0;
	if (s->targets.n == 0)
		return 1;
	for (i = 0; i < s->targets.n; i++)
		if (target_has(&s->targets.v[i], lp->app_id, lp->index))
			return 1;
	return 0;
}

/* Followers that missed lines and caught up are told how many. */
static void
missed_cb(uv_timer_t *t)
{
	struct logsub *s;
	int left = 0;

	TAILQ_FOREACH(s, &subs, entry) {
		if (s->r == NULL || s->r->client == NULL || s->missed == 0 ||
		    s->held != NULL)
			continue;
		if (uv_stream_get_write_queue_size(
			(uv_stream_t *)&s->r->client->pipe) > SUB_MAX_QUEUE) {
			left = 1;
			continue;
		}
		req_more(s->r,
		    json_pack("{s:I}", "missed", (json_int_t)s->missed));
		s->missed = 0;
	}
	if (!left)
		uv_timer_stop(t);
}

/* Send a batch of entries to s, or count them missed if s is behind. */
static void
sub_send(struct logsub *s, json_t *entries)
{
	struct req *r = s->r;
	size_t queued;

	if (r == NULL || r->client == NULL)
		return;
	if (s->held != NULL) {
		/* Its tail is still being sent: these come after it. */
		if (json_array_size(s->held) + json_array_size(entries) >
		    SUB_MAX_HELD)
			s->missed += (int64_t)json_array_size(entries);
		else
			json_array_extend(s->held, entries);
		return;
	}
	queued = uv_stream_get_write_queue_size(
	    (uv_stream_t *)&r->client->pipe);
	if (queued > SUB_MAX_QUEUE) {
		s->missed += (int64_t)json_array_size(entries);
		if (!uv_is_active((uv_handle_t *)&missed_timer))
			uv_timer_start(&missed_timer, missed_cb,
			    MISSED_RETRY_MS, MISSED_RETRY_MS);
		return;
	}
	if (s->missed > 0) {
		req_more(r,
		    json_pack("{s:I}", "missed", (json_int_t)s->missed));
		s->missed = 0;
		if (s->r == NULL)
			return;
	}
	req_more(r, json_pack("{s:O}", "lines", entries));
}

/* The daemon's log has a new line: tell whoever follows it. */
static void
daemon_line(const char *buf, size_t n)
{
	struct logsub *s;
	json_t *arr = NULL;

	TAILQ_FOREACH(s, &subs, entry) {
		if (s->r == NULL || !s->daemon)
			continue;
		if (arr == NULL)
			arr = json_pack("[o]",
			    logs_entry(NULL, -1, "daemon", NULL, buf,
				n > 0 && buf[n - 1] == '\n' ? n - 1 : n));
		sub_send(s, arr);
	}
	json_decref(arr);
}

/*
 * Whole lines (each ending in '\n') that src wrote: to every follower of
 * theirs.  iso is the time they were read, stamp the one the file's lines
 * got (--time), or "".
 */
void
follow_publish(const struct logsrc *src, const char *data, size_t len,
    const char *iso, const char *stamp)
{
	const char *p, *end = data + len, *nl;
	struct logsub *s;
	json_t *o, *entries;
	int want = 0;

	TAILQ_FOREACH(s, &subs, entry)
		if (sub_wants(s, src)) {
			want = 1;
			break;
		}
	if (!want)
		return;
	entries = json_array();
	for (p = data; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		o = logs_entry(src->app, src->index,
		    logs_stream_name(src->stream), iso, p, (size_t)(nl - p));
		/* The stamp the file's line has, for people. */
		if (src->format == LOGFMT_TIME)
			json_object_set_new(o, "stamp", json_string(stamp));
		json_array_append_new(entries, o);
	}
	TAILQ_FOREACH(s, &subs, entry)
		if (sub_wants(s, src))
			sub_send(s, entries);
	json_decref(entries);
	subs_sweep();
}

/*
 * Keep the last n lines of buf (have bytes, *len set to what is kept);
 * when front_cut, buf does not start at a line's start, and a first
 * partial line is dropped.
 */
static void
keep_last(char *buf, size_t have, int n, int front_cut, size_t *len)
{
	size_t k = have;
	int lines = 0;

	/* Back from the end (past the last newline) over n line ends. */
	if (k > 0 && buf[k - 1] == '\n')
		k--;
	while (k > 0) {
		if (buf[k - 1] == '\n' && ++lines == n)
			break;
		k--;
	}
	if (k == 0 && front_cut) {
		/* Stopped reading mid-line: drop the partial first line. */
		char *nl = memchr(buf, '\n', have);
		k = nl != NULL ? (size_t)(nl - buf) + 1 : have;
	}
	memmove(buf, buf + k, have - k);
	*len = have - k;
}

/*
 * The last n lines of the plain file at path, as a malloc'd buffer of
 * whole lines (*len bytes), read backwards; NULL when it cannot be read.
 */
static char *
tail_plain(const char *path, int n, size_t *len)
{
	struct stat st;
	char *buf = NULL, *nb;
	size_t have = 0, k, i;
	off_t off;
	ssize_t got;
	int fd, lines = 0;

	*len = 0;
	if ((fd = logf_open(path, O_RDONLY)) == -1)
		return NULL;
	if (fstat(fd, &st) == -1) {
		close(fd);
		return NULL;
	}
	off = st.st_size;
	while (off > 0 && lines <= n && have < TAIL_MAX_BYTES) {
		/* Chunks that double: copying stays linear. */
		k = have > 65536 ? have : 65536;
		if ((off_t)k > off)
			k = (size_t)off;
		if ((nb = malloc(have + k)) == NULL)
			break;
		off -= (off_t)k;
		got = pread(fd, nb, k, off);
		if (got != (ssize_t)k) {
			free(nb);
			break;
		}
		if (have > 0)
			memcpy(nb + k, buf, have);
		free(buf);
		buf = nb;
		have += k;
		for (i = 0; i < k; i++)
			if (buf[i] == '\n')
				lines++;
	}
	close(fd);
	if (buf == NULL)
		return NULL;
	keep_last(buf, have, n, off > 0, len);
	return buf;
}

/*
 * The last n lines of the gzip file at path (a rotated log), read
 * through, keeping at most the last 2 * TAIL_MAX_BYTES; NULL when it
 * cannot be read.
 */
static char *
tail_gz(const char *path, int n, size_t *len)
{
	size_t have = 0, cap = 2 * TAIL_MAX_BYTES;
	int got, fd, cut = 0;
	char *buf;
	gzFile gz;

	*len = 0;
	if ((fd = logf_open(path, O_RDONLY)) == -1)
		return NULL;
	if ((gz = gz_dopen(fd, "rb")) == NULL) {
		close(fd);
		return NULL;
	}
	if ((buf = malloc(cap)) == NULL) {
		gz_close(gz);
		return NULL;
	}
	for (;;) {
		if (have == cap) {
			/* Keep the later half. */
			memmove(buf, buf + cap / 2, cap / 2);
			have = cap / 2;
			cut = 1;
		}
		if ((got = gz_read(gz, buf + have, (unsigned)(cap - have))) <=
		    0)
			break;
		have += (size_t)got;
	}
	gz_close(gz);
	keep_last(buf, have, n, cut, len);
	return buf;
}

/* How many lines (newlines) buf holds. */
static int
count_lines(const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	int n = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

/*
 * The last n lines of the log at path, as a malloc'd buffer of whole
 * lines (*len bytes); NULL when it cannot be read or is empty.  When the
 * file has fewer (it was just rotated, or flushed), they are completed
 * from its rotated files, NAME.log.1 (or .1.gz), then .2 and on.
 */
static char *
tail_read(const char *path, int n, size_t *len)
{
	char *buf, *older, *nb, rpath[PATH_MAX + 32];
	size_t olen;
	int k, have;

	*len = 0;
	if (n <= 0)
		return NULL;
	if ((buf = tail_plain(path, n, len)) == NULL) {
		/* Empty (just rotated), or not there at all. */
		if (access(path, F_OK) != 0 || (buf = malloc(1)) == NULL)
			return NULL;
		*len = 0;
	}
	have = count_lines(buf, *len);
	for (k = 1; have < n && *len < TAIL_MAX_BYTES && k <= 1000; k++) {
		snprintf(rpath, sizeof rpath, "%s.%d", path, k);
		if ((older = tail_plain(rpath, n - have, &olen)) == NULL) {
			snprintf(rpath, sizeof rpath, "%s.%d.gz", path, k);
			if ((older = tail_gz(rpath, n - have, &olen)) == NULL)
				break;
		}
		if ((nb = realloc(older, olen + *len + 1)) == NULL) {
			free(older);
			break;
		}
		memcpy(nb + olen, buf, *len);
		free(buf);
		buf = nb;
		*len += olen;
		have += count_lines(nb, olen);
	}
	if (*len == 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Whether s starts with our ISO 8601 stamp and ": " (its length, or 0). */
static size_t
iso_prefix(const char *s, size_t n)
{
	static const char pat[] = "dddd-dd-ddTdd:dd:dd.ddd+dd:dd: ";
	size_t i;

	if (n < sizeof pat - 1)
		return 0;
	for (i = 0; i < sizeof pat - 1; i++) {
		if (pat[i] == 'd' && (s[i] < '0' || s[i] > '9'))
			return 0;
		if (pat[i] == '+' && s[i] != '+' && s[i] != '-')
			return 0;
		if (pat[i] != 'd' && pat[i] != '+' && s[i] != pat[i])
			return 0;
	}
	return sizeof pat - 1;
}

/*
 * The tail of the file at path, which has a's stream (0: both) of
 * instance index (-1: shared by all), as entries in tc.  want is the
 * instance a target names (-1: all), to pick lines from a shared file.
 */
void
follow_tail_file(struct follow_tail *tc, const struct app *a, int index,
    int want, int stream, const char *path)
{
	const char *p, *end, *nl;
	char *buf, tbuf[40];
	size_t len, k;
	json_t *o, *j;

	if ((buf = tail_read(path, tc->lines, &len)) == NULL)
		return;
	end = buf + len;
	for (p = buf; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		o = NULL;
		if (a->logs.format == LOGFMT_JSON &&
		    (j = json_loadb(p, (size_t)(nl - p), 0, NULL)) != NULL) {
			if (json_is_string(json_object_get(j, "line")))
				o = json_pack("{s:s, s:O, s:s, s:O, s:O}",
				    "app", a->name, "instance",
				    json_object_get(j, "instance") ?
					json_object_get(j, "instance") :
					json_null(),
				    "stream",
				    util_json_str(j, "stream",
					logs_stream_name(stream)),
				    "time",
				    json_object_get(j, "time") ?
					json_object_get(j, "time") :
					json_null(),
				    "line", json_object_get(j, "line"));
			json_decref(j);
			if (o != NULL && want >= 0 && index < 0 &&
			    util_json_int(o, "instance", want) != want) {
				/* Another instance's line in a shared file. */
				json_decref(o);
				if (nl == end)
					break;
				continue;
			}
		}
		if (o == NULL) {
			o = logs_entry(a->name, index,
			    stream != 0 ? logs_stream_name(stream) : "log",
			    NULL, p, (size_t)(nl - p));
			if (a->logs.format == LOGFMT_TIME &&
			    a->logs.date_format == NULL &&
			    (k = iso_prefix(p, (size_t)(nl - p))) > 0) {
				snprintf(tbuf, sizeof tbuf, "%.*s", (int)k - 2,
				    p);
				json_object_set_new(o, "time",
				    json_string(tbuf));
				json_object_set_new(o, "stamp",
				    json_string(tbuf));
				json_object_set_new(o, "line",
				    logs_line_json(p + k,
					(size_t)(nl - p) - k));
			}
			if (a->logs.format == LOGFMT_TIME &&
			    a->logs.date_format != NULL)
				/* Stamps we cannot read: keep them shown. */
				tc->timed = 0;
		}
		if (!json_is_string(json_object_get(o, "time")))
			tc->timed = 0;
		json_object_set_new(o, "seq",
		    json_integer((json_int_t)json_array_size(tc->entries)));
		json_array_append_new(tc->entries, o);
		if (nl == end)
			break;
	}
	free(buf);
}

static int
by_time(const void *x, const void *y)
{
	const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	int c = strcmp(util_json_str(a, "time", ""),
	    util_json_str(b, "time", ""));

	if (c != 0)
		return c;
	return util_json_int(a, "seq", 0) < util_json_int(b, "seq", 0) ? -1 : 1;
}

static void
sub_closed(struct req *r)
{
	struct logsub *s;

	TAILQ_FOREACH(s, &subs, entry)
		if (s->r == r)
			s->r = NULL;
	req_reply(r, NULL); /* frees r; nobody to tell */
}

/*
 * A tail being sent: in replies of about TAIL_CHUNK_BYTES, each once the
 * client has read most of the ones before (req_room, on_drain), so that a
 * tail of any size never piles up in the daemon's queue nor gets its
 * client dropped.  A follower is subscribed from the start and holds the
 * new lines meanwhile: none falls between the tail and what follows.
 */
struct tailsend {
	json_t *entries;
	size_t next;
	struct logsub *sub; /* following, or NULL */
	int pumping;	    /* in tail_pump: a close waits for it */
	int closed;	    /* the client went away during tail_pump */
};

static void
tailsend_free(struct tailsend *t)
{
	json_decref(t->entries);
	free(t);
}

/* The tail is out: the request ends, or follows from now on. */
static void
tail_done(struct req *r)
{
	struct tailsend *t = r->ctx;
	struct logsub *s = t->sub;
	json_t *held;

	r->ctx = NULL;
	r->on_drain = NULL;
	r->on_close = NULL;
	tailsend_free(t);
	if (s == NULL || r->client == NULL || r->ended) {
		if (s != NULL)
			s->r = NULL; /* subs_sweep frees it */
		req_reply(r, json_pack("{s:[]}", "lines"));
		return;
	}
	r->on_close = sub_closed;
	held = s->held;
	s->held = NULL;
	if (s->missed > 0) {
		req_more(r,
		    json_pack("{s:I}", "missed", (json_int_t)s->missed));
		s->missed = 0;
		if (s->r == NULL) {
			json_decref(held);
			return;
		}
	}
	if (json_array_size(held) > 0)
		req_more(r, json_pack("{s:o}", "lines", held));
	else
		json_decref(held);
}

static void
tail_pump(struct req *r)
{
	struct tailsend *t = r->ctx;
	json_t *chunk, *e;
	size_t bytes, n = json_array_size(t->entries);

	t->pumping = 1;
	while (t->next < n && !t->closed && req_room(r)) {
		chunk = json_array();
		for (bytes = 0; t->next < n && bytes < TAIL_CHUNK_BYTES;
		     t->next++) {
			e = json_array_get(t->entries, t->next);
			json_object_del(e, "seq");
			bytes += json_dumpb(e, NULL, 0, JSON_COMPACT) + 1;
			json_array_append(chunk, e);
		}
		req_more(r, json_pack("{s:o}", "lines", chunk));
	}
	t->pumping = 0;
	if (t->closed) {
		r->ctx = NULL;
		tailsend_free(t);
		req_reply(r, NULL); /* frees r; nobody to tell */
		return;
	}
	if (t->next >= n || r->client == NULL || r->ended)
		tail_done(r);
}

static void
tail_closed(struct req *r)
{
	struct tailsend *t = r->ctx;

	if (t->sub != NULL)
		t->sub->r = NULL; /* subs_sweep frees it */
	t->sub = NULL;
	if (t->pumping) {
		t->closed = 1; /* tail_pump frees */
		return;
	}
	r->ctx = NULL;
	tailsend_free(t);
	req_reply(r, NULL); /* frees r; nobody to tell */
}

/* The tail of the daemon's own log at path, as entries in tc. */
void
follow_tail_daemon(struct follow_tail *tc, const char *path)
{
	size_t len;
	char *buf, *p, *nl;

	if (tc->lines <= 0)
		return;
	buf = tail_read(path, tc->lines, &len);
	for (p = buf; buf != NULL && p < buf + len; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(buf + len - p))) == NULL)
			nl = buf + len;
		json_array_append_new(tc->entries,
		    logs_entry(NULL, -1, "daemon", NULL, p, (size_t)(nl - p)));
	}
	free(buf);
}

/* Put tc's entries in time order, when every one has a time. */
void
follow_tail_sort(struct follow_tail *tc)
{
	size_t i, n = json_array_size(tc->entries);
	const json_t **v;
	json_t *e;

	if (!tc->timed || n < 2)
		return;
	/* Sort a copy of the pointers, then rebuild. */
	if ((v = calloc(n, sizeof *v)) == NULL)
		return;
	json_array_foreach(tc->entries, i, e)
		v[i] = json_incref(e);
	qsort(v, n, sizeof *v, by_time);
	json_array_clear(tc->entries);
	for (i = 0; i < n; i++)
		json_array_append_new(tc->entries, (json_t *)v[i]);
	free(v);
}

/*
 * Send r the tail entries (stolen), then, when following, the new lines
 * of streams (bits: 1 out, 2 err) of targets (taken over; none: every
 * app), or of the daemon's own log.  r is answered in every case.
 */
void
follow_start(struct req *r, json_t *entries, struct targets *targets,
    int streams, int daemon, int follow)
{
	struct tailsend *t;
	struct logsub *s;

	subs_sweep();
	if ((t = calloc(1, sizeof *t)) == NULL) {
		json_decref(entries);
		targets_release(targets);
		req_error(r, IPC_E_INTERNAL, "out of memory");
		return;
	}
	t->entries = entries;
	if (follow && r->client != NULL && (s = calloc(1, sizeof *s)) != NULL) {
		s->r = r;
		s->daemon = daemon;
		s->streams = streams;
		s->targets = *targets;
		targets->v = NULL;
		targets->n = 0;
		s->held = json_array();
		TAILQ_INSERT_TAIL(&subs, s, entry);
		t->sub = s;
	}
	targets_release(targets);
	r->ctx = t;
	r->on_close = tail_closed;
	r->on_drain = tail_pump;
	tail_pump(r);
}
