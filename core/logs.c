/*
 * Capturing an instance's stdout and stderr: each stream is a pipe the
 * daemon reads, cut into whole lines, and appended to log files with one
 * write per batch of lines, so lines of two writers sharing a file never
 * interleave.  Open files live in a registry keyed by path with reference
 * counts: merged files share one fd and one rotation.
 *
 * Nothing is lost while the daemon lives.  Writes are synchronous: while
 * the disk is slow the daemon does not read, the pipes fill and the apps
 * wait.  A write that fails for want of room (ENOSPC) keeps what it could
 * not write in the writer's sink, the pipe is no longer read (the app
 * blocks on its full pipe), and a timer retries until there is room.
 *
 * Following (logs -f) is done here too: subscribers get each batch of
 * lines over the protocol's streaming replies, each with a bounded queue.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "../ipc/util.h"
#include "core.h"

/* A line longer than this is written in pieces, each marked. */
#define LINE_MAX_BYTES (64 * 1024)
/* The mark at the end of a cut piece and the start of the next one. */
#define CUT_MARK "[...]"
#define CUT_MARK_LEN (sizeof CUT_MARK - 1)
/* How often a file that had no room is tried again. */
#define RETRY_MS 500
/* A follower whose socket holds more than this unsent misses lines. */
#define SUB_MAX_QUEUE (1024 * 1024)
/* The most a tail reads back from one file. */
#define TAIL_MAX_BYTES (16 * 1024 * 1024)
/* The most a streamed reply of tail lines holds (the frame limit is 8M). */
#define TAIL_CHUNK_BYTES (1024 * 1024)

#define DEFAULT_MAX_SIZE (10 * 1024 * 1024)
#define DEFAULT_RETAIN 5

/* One open log file, shared by every pipe writing to its path. */
struct logfile {
	char *path;
	int fd; /* -1: could not be opened (writes are dropped) */
	int refs;
	int64_t size;
	int64_t max_size;
	int retain;
	int compress;
	int compressing;     /* a worker gzips NAME.log.1: no rotation now */
	int chown;	     /* a new file belongs to uid:gid (--uid) */
	uid_t uid;
	gid_t gid;
	int full;	     /* writes wait for room */
	int err;	     /* why: the errno of the failed write or open */
	int64_t err_since;   /* ms since the epoch */
	TAILQ_HEAD(, logsink) waitq; /* sinks with bytes to write, in order */
	TAILQ_ENTRY(logfile) entry;
};

/* A logs request that follows new lines. */
struct logsub {
	struct req *r;	 /* NULL once its client went away */
	struct targets targets; /* none: every app */
	int streams;	 /* bit 1: out, bit 2: err */
	int daemon;	 /* the daemon's own log instead */
	int64_t missed;	 /* lines dropped since the last notice */
	TAILQ_ENTRY(logsub) entry;
};

static TAILQ_HEAD(, logfile) files = TAILQ_HEAD_INITIALIZER(files);
static TAILQ_HEAD(, logsub) subs = TAILQ_HEAD_INITIALIZER(subs);
static uv_timer_t retry_timer;
static uv_timer_t missed_timer; /* tells behind followers what they missed */
static int64_t default_max_size = DEFAULT_MAX_SIZE;
static int default_retain = DEFAULT_RETAIN;

static void daemon_line(const char *, size_t);

/* The daemon-wide defaults (environment) and the retry timer. */
void
logs_init(void)
{
	const char *v;
	int64_t n;

	if ((v = getenv("CLUSTERCTL_LOG_MAX_SIZE")) != NULL &&
	    util_parse_size(v, &n) == 0)
		default_max_size = n;
	if ((v = getenv("CLUSTERCTL_LOG_RETAIN")) != NULL && atoi(v) >= 0)
		default_retain = atoi(v);
	uv_timer_init(loop, &retry_timer);
	uv_unref((uv_handle_t *)&retry_timer);
	uv_timer_init(loop, &missed_timer);
	uv_unref((uv_handle_t *)&missed_timer);
	log_hook = daemon_line;
}

static int
disabled(const char *path)
{
	return path != NULL &&
	    (strcmp(path, "/dev/null") == 0 || strcmp(path, "NULL") == 0);
}

/* The default log file of an app's instance: logs/NAME-out-N.log. */
char *
logs_path(const struct app *a, int index, int stream)
{
	char *p;

	if (asprintf(&p, "%s/logs/%s-%s-%d.log", home, a->name,
	    stream == 1 ? "out" : "err", index) == -1)
		return NULL;
	return p;
}

/* Where instance index's stream goes: a new string, NULL when disabled. */
static char *
stream_path(const struct app *a, int index, int stream)
{
	const char *file = stream == 1 ? a->out_file : a->err_file;
	char *p;

	if (disabled(file))
		return NULL;
	if (file != NULL)
		return strdup(file);
	if (!a->logs.merge)
		return logs_path(a, index, stream);
	if (asprintf(&p, "%s/logs/%s-%s.log", home, a->name,
	    stream == 1 ? "out" : "err") == -1)
		return NULL;
	return p;
}

/* Whether lines in stream's file carry no instance number. */
static int
stream_shared(const struct app *a, int stream)
{
	return a->logs.merge ||
	    (stream == 1 ? a->out_file : a->err_file) != NULL;
}

/* Read an app's log options from its start request (pm2's names). */
int
logs_app_init(struct app *a, const json_t *spec, char *err, size_t errlen)
{
	struct app_logs *l = &a->logs;
	const char *v;
	json_t *j;

	memset(l, 0, sizeof *l);
	l->max_size = default_max_size;
	l->retain = default_retain;
	if ((v = util_json_str(spec, "log_file", NULL)) != NULL &&
	    !disabled(v) && *v != '\0')
		l->log_file = strdup(v);
	l->merge = util_json_bool(spec, "merge_logs", 0) ||
	    util_json_bool(spec, "combine_logs", 0);
	if (util_json_bool(spec, "time", 0))
		l->format = LOGFMT_TIME;
	if ((v = util_json_str(spec, "log_date_format", NULL)) != NULL &&
	    *v != '\0') {
		l->format = LOGFMT_TIME;
		l->date_format = strdup(v);
	}
	v = util_json_str(spec, "log_type", NULL);
	if (v != NULL && strcmp(v, "json") == 0)
		l->format = LOGFMT_JSON;
	else if (v != NULL && strcmp(v, "raw") != 0 && *v != '\0') {
		snprintf(err, errlen, "invalid log type '%s' (say json or raw)",
		    v);
		return -1;
	}
	j = json_object_get(spec, "log_max_size");
	if (json_is_integer(j) && json_integer_value(j) >= 0)
		l->max_size = json_integer_value(j);
	else if (json_is_string(j)) {
		if (util_parse_size(json_string_value(j), &l->max_size) != 0) {
			snprintf(err, errlen,
			    "invalid log size '%s' (say 10M, 500K, 0 for never)",
			    json_string_value(j));
			return -1;
		}
	} else if (j != NULL) {
		snprintf(err, errlen, "'log_max_size' is not a size");
		return -1;
	}
	j = json_object_get(spec, "log_retain");
	if (json_is_integer(j) && json_integer_value(j) >= 0 &&
	    json_integer_value(j) <= 1000)
		l->retain = (int)json_integer_value(j);
	else if (j != NULL) {
		snprintf(err, errlen, "'log_retain' is not a count from 0 to 1000");
		return -1;
	}
	l->compress = util_json_bool(spec, "log_compress", 0);
	return 0;
}

void
logs_app_release(struct app *a)
{
	free(a->logs.log_file);
	free(a->logs.date_format);
	a->logs.log_file = NULL;
	a->logs.date_format = NULL;
}

/* The local time as ISO 8601 with ms and offset, or by a strftime format. */
static void
stamp(char *buf, size_t len, const char *fmt)
{
	struct timeval tv;
	struct tm tm;
	char off[8];
	size_t n;

	gettimeofday(&tv, NULL);
	localtime_r(&tv.tv_sec, &tm);
	if (fmt != NULL) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		/* The user's own format (--log-date-format). */
		if (strftime(buf, len, fmt, &tm) == 0)
			buf[0] = '\0';
#pragma GCC diagnostic pop
		return;
	}
	n = strftime(buf, len, "%Y-%m-%dT%H:%M:%S", &tm);
	strftime(off, sizeof off, "%z", &tm);
	snprintf(buf + n, len - n, ".%03ld%.3s:%s", (long)(tv.tv_usec / 1000),
	    off, off + 3);
}

/* --- the file registry ------------------------------------------------ */

static void
file_open_fd(struct logfile *f)
{
	struct stat st;

	f->fd = open(f->path, O_WRONLY | O_APPEND | O_CREAT | O_EXCL |
	    O_CLOEXEC, 0644);
	/* A file we created for an app run as another user is that user's. */
	if (f->fd != -1 && f->chown && fchown(f->fd, f->uid, f->gid) == -1)
		log_warn("cannot give log file %s to uid %ld", f->path,
		    (long)f->uid);
	if (f->fd == -1 && errno == EEXIST)
		f->fd = open(f->path, O_WRONLY | O_APPEND | O_CLOEXEC);
	if (f->fd == -1) {
		f->err = errno;
		f->err_since = daemon_now_wall();
		log_warn("cannot open log file %s; its lines are dropped",
		    f->path);
		return;
	}
	if (!f->full)
		f->err = 0;
	f->size = fstat(f->fd, &st) == 0 ? (int64_t)st.st_size : 0;
}

static struct logfile *
file_find(const char *path)
{
	struct logfile *f;

	TAILQ_FOREACH(f, &files, entry)
		if (strcmp(f->path, path) == 0)
			return f;
	return NULL;
}

/* The open file at path, opened on first use; the caller holds a ref. */
static struct logfile *
file_get(const char *path, const struct app_logs *l)
{
	struct logfile *f;

	if ((f = file_find(path)) != NULL) {
		f->refs++;
		return f;
	}
	if ((f = calloc(1, sizeof *f)) == NULL)
		return NULL;
	if ((f->path = strdup(path)) == NULL) {
		free(f);
		return NULL;
	}
	f->refs = 1;
	f->max_size = l->max_size;
	f->retain = l->retain;
	f->compress = l->compress;
	f->chown = l->chown;
	f->uid = l->uid;
	f->gid = l->gid;
	TAILQ_INIT(&f->waitq);
	file_open_fd(f);
	TAILQ_INSERT_TAIL(&files, f, entry);
	return f;
}

static void
file_unref(struct logfile *f)
{
	if (f == NULL || --f->refs > 0)
		return;
	TAILQ_REMOVE(&files, f, entry);
	if (f->fd != -1)
		close(f->fd);
	free(f->path);
	free(f);
}

/* Compress path into path.gz (then remove path); 0 or -1. */
static int
gzip_file(const char *path, const char *gzpath)
{
	char buf[65536], tmp[PATH_MAX];
	gzFile gz;
	ssize_t n;
	int fd, ok = 1;

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", gzpath) >= sizeof tmp)
		return -1;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	if ((gz = gzopen(tmp, "wb1")) == NULL) {
		close(fd);
		return -1;
	}
	while ((n = read(fd, buf, sizeof buf)) > 0)
		if (gzwrite(gz, buf, (unsigned)n) != (int)n) {
			ok = 0;
			break;
		}
	if (n < 0)
		ok = 0;
	close(fd);
	if (gzclose(gz) != Z_OK)
		ok = 0;
	if (!ok || rename(tmp, gzpath) == -1) {
		(void)unlink(tmp);
		return -1;
	}
	(void)unlink(path);
	return 0;
}

/* A rotated file being compressed off the loop's thread. */
struct gzjob {
	uv_work_t work;
	struct logfile *file; /* holds a reference */
	char from[PATH_MAX];
	char to[PATH_MAX];
	int rc;
};

static void file_rotate(struct logfile *);

static void
gz_work(uv_work_t *w)
{
	struct gzjob *j = w->data;

	j->rc = gzip_file(j->from, j->to);
}

static void
gz_done(uv_work_t *w, int status)
{
	struct gzjob *j = w->data;
	struct logfile *f = j->file;

	char kept[PATH_MAX + 32];

	if (status != 0 || j->rc != 0) {
		/* Out of the way of the next rotation, which reuses .1. */
		snprintf(kept, sizeof kept, "%s.%lld", j->from,
		    (long long)daemon_now_wall());
		if (rename(j->from, kept) == -1)
			snprintf(kept, sizeof kept, "%s", j->from);
		log_warnx("cannot compress %s; kept as %s", j->from, kept);
	}
	f->compressing = 0;
	if (f->refs > 1 && f->fd != -1 && !f->full && f->max_size > 0 &&
	    f->size >= f->max_size)
		file_rotate(f);
	file_unref(f);
	free(j);
}

/*
 * Rotate f: NAME.log.K becomes NAME.log.K+1 (the last one goes), NAME.log
 * becomes NAME.log.1 and a new NAME.log is opened.  The daemon holds the
 * only fd, and rotates between two writes: no line is lost or cut.
 */
static void
file_rotate(struct logfile *f)
{
	char from[PATH_MAX], to[PATH_MAX];
	const char *gz = f->compress ? ".gz" : "";
	struct gzjob *j;
	int k;

	if (f->compressing)
		return; /* once NAME.log.1 is compressed */
	if (f->retain == 0) {
		if (ftruncate(f->fd, 0) == -1)
			log_warn("cannot empty %s", f->path);
		f->size = 0;
		return;
	}
	snprintf(to, sizeof to, "%s.%d%s", f->path, f->retain, gz);
	(void)unlink(to);
	for (k = f->retain - 1; k >= 1; k--) {
		snprintf(from, sizeof from, "%s.%d%s", f->path, k, gz);
		snprintf(to, sizeof to, "%s.%d%s", f->path, k + 1, gz);
		if (rename(from, to) == -1 && errno != ENOENT)
			log_warn("cannot rename %s", from);
	}
	snprintf(to, sizeof to, "%s.1", f->path);
	if (rename(f->path, to) == -1) {
		log_warn("cannot rotate %s", f->path);
		f->size = 0; /* try again after as much again */
		return;
	}
	close(f->fd);
	file_open_fd(f);
	log_debug("rotated %s", f->path);
	if (f->compress && (j = calloc(1, sizeof *j)) != NULL) {
		j->file = f;
		j->work.data = j;
		snprintf(j->from, sizeof j->from, "%s", to);
		snprintf(j->to, sizeof j->to, "%s.1.gz", f->path);
		if (uv_queue_work(loop, &j->work, gz_work, gz_done) != 0) {
			log_warnx("cannot compress %s; kept as it is", to);
			free(j);
			return;
		}
		f->refs++;
		f->compressing = 1;
	}
}

static void retry_cb(uv_timer_t *);

/* f has no room: writes wait, and a timer tries again. */
static void
file_set_full(struct logfile *f, int err)
{
	if (!f->full) {
		f->full = 1;
		f->err = err;
		f->err_since = daemon_now_wall();
		log_warnx("cannot write log file %s: %s; its apps wait until "
		    "it can be written", f->path, strerror(err));
		daemon_changed();
	}
	if (!uv_is_active((uv_handle_t *)&retry_timer))
		uv_timer_start(&retry_timer, retry_cb, RETRY_MS, RETRY_MS);
}

/*
 * Write what can be written of buf to f: the bytes written; *err is set
 * when the write stopped short.
 */
static size_t
file_write(struct logfile *f, const char *buf, size_t n, int *err)
{
	size_t done = 0;
	ssize_t w;

	*err = 0;
	while (done < n) {
		w = write(f->fd, buf + done, n - done);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			*err = errno;
			break;
		}
		done += (size_t)w;
	}
	f->size += (int64_t)done;
	return done;
}

/* Whether a failed write should wait for the disk rather than drop. */
static int
worth_waiting(int err)
{
	return err == ENOSPC || err == EDQUOT || err == EIO || err == EAGAIN ||
	    err == EFBIG;
}

static int
sink_keep(struct logsink *s, const char *buf, size_t n)
{
	size_t cap;
	char *p;

	if (s->pendlen + n > s->pendcap) {
		cap = s->pendcap ? s->pendcap : 4096;
		while (cap < s->pendlen + n)
			cap *= 2;
		if ((p = realloc(s->pend, cap)) == NULL)
			return -ENOMEM;
		s->pend = p;
		s->pendcap = cap;
	}
	memcpy(s->pend + s->pendlen, buf, n);
	s->pendlen += n;
	if (!s->queued) {
		s->queued = 1;
		TAILQ_INSERT_TAIL(&s->file->waitq, s, wentry);
	}
	return 0;
}

/* Write whole lines to a sink's file, or keep them until there is room. */
static void
sink_write(struct logsink *s, const char *buf, size_t n)
{
	struct logfile *f = s->file;
	size_t done;
	int err;

	if (f->fd == -1 || n == 0)
		return;
	if (s->queued || f->full) {
		if (sink_keep(s, buf, n) != 0)
			log_warnx("out of memory: lines for %s dropped", f->path);
		s->pipe->blocked = 1;
		return;
	}
	done = file_write(f, buf, n, &err);
	if (done < n) {
		if (!worth_waiting(err)) {
			errno = err;
			log_warn("cannot write log file %s; lines dropped",
			    f->path);
			return;
		}
		if (sink_keep(s, buf + done, n - done) != 0)
			log_warnx("out of memory: lines for %s dropped", f->path);
		s->pipe->blocked = 1;
		file_set_full(f, err);
		return;
	}
	if (f->max_size > 0 && f->size >= f->max_size)
		file_rotate(f);
}

/* --- followers ---------------------------------------------------------- */

static void
subs_sweep(void)
{
	struct logsub *s, *next;

	TAILQ_FOREACH_SAFE(s, &subs, entry, next)
		if (s->r == NULL) {
			TAILQ_REMOVE(&subs, s, entry);
			targets_release(&s->targets);
			free(s);
		}
}

static int
sub_wants(const struct logsub *s, const struct logpipe *lp)
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
		if (s->r == NULL || s->r->client == NULL || s->missed == 0)
			continue;
		if (uv_stream_get_write_queue_size((uv_stream_t *)
		    &s->r->client->pipe) > SUB_MAX_QUEUE) {
			left = 1;
			continue;
		}
		req_more(s->r, json_pack("{s:I}", "missed",
		    (json_int_t)s->missed));
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
	queued = uv_stream_get_write_queue_size(
	    (uv_stream_t *)&r->client->pipe);
	if (queued > SUB_MAX_QUEUE) {
		s->missed += (int64_t)json_array_size(entries);
		if (!uv_is_active((uv_handle_t *)&missed_timer))
			uv_timer_start(&missed_timer, missed_cb, RETRY_MS,
			    RETRY_MS);
		return;
	}
	if (s->missed > 0) {
		req_more(r, json_pack("{s:I}", "missed", (json_int_t)s->missed));
		s->missed = 0;
		if (s->r == NULL)
			return;
	}
	req_more(r, json_pack("{s:O}", "lines", entries));
}

/* A copy of n bytes as valid UTF-8 (bad bytes become U+FFFD). */
static char *
utf8_clean(const char *p, size_t n, size_t *outlen)
{
	char *o = malloc(n * 3 + 1);
	size_t i = 0, k = 0, len, j;
	unsigned char c;

	if (o == NULL)
		return NULL;
	while (i < n) {
		c = (unsigned char)p[i];
		len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 && c >= 0xC2 ? 2 :
		    (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 && c <= 0xF4 ?
		    4 : 0;
		for (j = 1; len > 0 && j < len; j++)
			if (i + j >= n ||
			    ((unsigned char)p[i + j] & 0xC0) != 0x80)
				len = 0;
		if (len == 3 && ((c == 0xE0 && (unsigned char)p[i + 1] < 0xA0) ||
		    (c == 0xED && (unsigned char)p[i + 1] >= 0xA0)))
			len = 0;
		if (len == 4 && ((c == 0xF0 && (unsigned char)p[i + 1] < 0x90) ||
		    (c == 0xF4 && (unsigned char)p[i + 1] >= 0x90)))
			len = 0;
		if (len == 0) {
			memcpy(o + k, "\xEF\xBF\xBD", 3);
			k += 3;
			i++;
			continue;
		}
		memcpy(o + k, p + i, len);
		k += len;
		i += len;
	}
	o[k] = '\0';
	*outlen = k;
	return o;
}

/* A JSON string of n bytes of a line, made valid UTF-8. */
json_t *
logs_json_line(const char *p, size_t n)
{
	size_t len;
	char *c = utf8_clean(p, n, &len);
	json_t *j;

	if (c == NULL)
		return json_string("");
	j = json_stringn(c, len);
	free(c);
	return j != NULL ? j : json_string("");
}

static const char *
stream_name(int stream)
{
	return stream == 1 ? "out" : "err";
}

/* One entry of a logs reply. */
static json_t *
entry_new(const char *app, int index, const char *stream, const char *time,
    const char *line, size_t n)
{
	return json_pack("{s:s?, s:o, s:s, s:s?, s:o}", "app", app,
	    "instance", index >= 0 ? json_integer(index) : json_null(),
	    "stream", stream, "time", time, "line", logs_json_line(line, n));
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
			arr = json_pack("[o]", entry_new(NULL, -1, "daemon",
			    NULL, buf, n > 0 && buf[n - 1] == '\n' ? n - 1 : n));
		sub_send(s, arr);
	}
	json_decref(arr);
}

/* --- capture -------------------------------------------------------------- */

static char *fmtbuf;
static size_t fmtcap;

static int
fmt_reserve(size_t need)
{
	size_t cap = fmtcap ? fmtcap : 65536;
	char *p;

	if (need <= fmtcap)
		return 0;
	while (cap < need)
		cap *= 2;
	if ((p = realloc(fmtbuf, cap)) == NULL)
		return -ENOMEM;
	fmtbuf = p;
	fmtcap = cap;
	return 0;
}

/*
 * Whole lines (each ending in '\n') from lp: formatted for the files,
 * written to each sink, and sent to followers.
 */
static void
emit(struct logpipe *lp, const char *data, size_t len)
{
	const char *p, *end = data + len, *nl;
	const char *out = data;
	size_t outlen = len, k = 0, sl;
	char iso[64], ts[128], *js;
	struct logsub *s;
	json_t *o, *entries = NULL;
	int i, want = 0;

	iso[0] = ts[0] = '\0';
	if (lp->format != LOGFMT_RAW || !TAILQ_EMPTY(&subs) ||
	    console_active())
		stamp(iso, sizeof iso, NULL);
	if (lp->format == LOGFMT_TIME) {
		if (lp->date_format != NULL)
			stamp(ts, sizeof ts, lp->date_format);
		else
			memcpy(ts, iso, sizeof iso);
		sl = strlen(ts);
		/* At most one stamp and ": " per line. */
		for (p = data, i = 0; p < end; p = nl + 1, i++)
			nl = memchr(p, '\n', (size_t)(end - p));
		if (fmt_reserve(len + (size_t)i * (sl + 2)) == 0) {
			for (p = data; p < end; p = nl + 1) {
				nl = memchr(p, '\n', (size_t)(end - p));
				memcpy(fmtbuf + k, ts, sl);
				memcpy(fmtbuf + k + sl, ": ", 2);
				k += sl + 2;
				memcpy(fmtbuf + k, p, (size_t)(nl - p) + 1);
				k += (size_t)(nl - p) + 1;
			}
			out = fmtbuf;
			outlen = k;
		}
	} else if (lp->format == LOGFMT_JSON) {
		for (p = data; p < end; p = nl + 1) {
			nl = memchr(p, '\n', (size_t)(end - p));
			o = entry_new(lp->app, lp->index, stream_name(lp->stream),
			    iso, p, (size_t)(nl - p));
			js = json_dumps(o, JSON_COMPACT);
			json_decref(o);
			if (js == NULL)
				continue;
			sl = strlen(js);
			if (fmt_reserve(k + sl + 1) == 0) {
				memcpy(fmtbuf + k, js, sl);
				fmtbuf[k + sl] = '\n';
				k += sl + 1;
			}
			free(js);
		}
		out = fmtbuf;
		outlen = k;
	}
	for (i = 0; i < lp->nsinks; i++)
		sink_write(&lp->sink[i], out, outlen);
	/* In the foreground (run): on our own stdout or stderr too. */
	console_app_lines(lp->app, lp->index, lp->stream, iso, data, len);

	TAILQ_FOREACH(s, &subs, entry)
		if (sub_wants(s, lp)) {
			want = 1;
			break;
		}
	if (!want)
		return;
	entries = json_array();
	for (p = data; p < end; p = nl + 1) {
		nl = memchr(p, '\n', (size_t)(end - p));
		o = entry_new(lp->app, lp->index, stream_name(lp->stream),
		    iso, p, (size_t)(nl - p));
		/* The stamp the file's line has, for people. */
		if (lp->format == LOGFMT_TIME)
			json_object_set_new(o, "stamp", json_string(ts));
		json_array_append_new(entries, o);
	}
	TAILQ_FOREACH(s, &subs, entry)
		if (sub_wants(s, lp))
			sub_send(s, entries);
	json_decref(entries);
	subs_sweep();
}

/* A pipe for one stream of in's next process, not yet reading. */
struct logpipe *
logpipe_new(const struct instance *in, int stream)
{
	const struct app *a = in->app;
	struct logpipe *lp;
	char *path;
	int i;

	if ((lp = calloc(1, sizeof *lp)) == NULL)
		return NULL;
	lp->stream = stream;
	lp->app = strdup(a->name);
	lp->app_id = a->id;
	lp->index = in->index;
	lp->format = a->logs.format;
	if (a->logs.date_format != NULL)
		lp->date_format = strdup(a->logs.date_format);
	if ((path = stream_path(a, in->index, stream)) != NULL) {
		lp->sink[lp->nsinks].file = file_get(path, &a->logs);
		if (lp->sink[lp->nsinks].file != NULL)
			lp->nsinks++;
		free(path);
	}
	if (a->logs.log_file != NULL) {
		lp->sink[lp->nsinks].file = file_get(a->logs.log_file, &a->logs);
		if (lp->sink[lp->nsinks].file != NULL)
			lp->nsinks++;
	}
	for (i = 0; i < lp->nsinks; i++)
		lp->sink[i].pipe = lp;
	uv_pipe_init(loop, &lp->pipe, 0);
	lp->pipe.data = lp;
	return lp;
}

static void
logpipe_free(uv_handle_t *h)
{
	struct logpipe *lp = h->data;
	struct logsink *s;
	int i;

	for (i = 0; i < lp->nsinks; i++) {
		s = &lp->sink[i];
		if (s->queued)
			TAILQ_REMOVE(&s->file->waitq, s, wentry);
		free(s->pend);
		file_unref(s->file);
	}
	free(lp->app);
	free(lp->date_format);
	free(lp->line);
	free(lp);
}

static int
carry(struct logpipe *lp, const char *p, size_t n)
{
	char *nl;
	size_t cap;

	if (lp->linelen + n > lp->linecap) {
		cap = lp->linecap ? lp->linecap : 256;
		while (cap < lp->linelen + n)
			cap *= 2;
		if ((nl = realloc(lp->line, cap)) == NULL)
			return -ENOMEM;
		lp->line = nl;
		lp->linecap = cap;
	}
	memcpy(lp->line + lp->linelen, p, n);
	lp->linelen += n;
	return 0;
}

/*
 * While the carried line is longer than the maximum, write its head as a
 * piece ending in the cut mark; the rest starts with the mark.  A piece
 * ends on a UTF-8 character boundary.
 */
static void
cut_long(struct logpipe *lp)
{
	char piece[LINE_MAX_BYTES + CUT_MARK_LEN + 1];
	size_t k, body;

	for (;;) {
		body = lp->linelen;
		if (body > 0 && lp->line[body - 1] == '\n')
			body--;
		if (body <= LINE_MAX_BYTES)
			return;
		k = LINE_MAX_BYTES;
		while (k > LINE_MAX_BYTES - 4 &&
		    ((unsigned char)lp->line[k] & 0xC0) == 0x80)
			k--;
		memcpy(piece, lp->line, k);
		memcpy(piece + k, CUT_MARK "\n", CUT_MARK_LEN + 1);
		emit(lp, piece, k + CUT_MARK_LEN + 1);
		memmove(lp->line + CUT_MARK_LEN, lp->line + k, lp->linelen - k);
		memcpy(lp->line, CUT_MARK, CUT_MARK_LEN);
		lp->linelen = lp->linelen - k + CUT_MARK_LEN;
	}
}

/* Cut n bytes read into whole lines and emit them; carry the rest. */
static void
take(struct logpipe *lp, const char *p, size_t n)
{
	const char *nl, *last;
	size_t k;

	while (n > 0) {
		if (lp->linelen > 0) {
			nl = memchr(p, '\n', n);
			k = nl != NULL ? (size_t)(nl - p) + 1 : n;
			if (carry(lp, p, k) != 0) {
				/* No memory left for a carried line. */
				log_warnx("%s:%d out of memory: a line dropped",
				    lp->app, lp->index);
				lp->linelen = 0;
				continue;
			}
			p += k;
			n -= k;
			cut_long(lp);
			if (nl != NULL) {
				emit(lp, lp->line, lp->linelen);
				lp->linelen = 0;
			}
			continue;
		}
		last = memrchr(p, '\n', n);
		if (last == NULL) {
			if (carry(lp, p, n) == 0)
				cut_long(lp);
			return;
		}
		k = (size_t)(last - p) + 1;
		emit(lp, p, k);
		p += k;
		n -= k;
	}
}

/* Emit the carried line (a partial one gets its newline). */
static void
flush_line(struct logpipe *lp)
{
	if (lp->linelen == 0)
		return;
	if (lp->line[lp->linelen - 1] != '\n' && carry(lp, "\n", 1) != 0)
		return;
	emit(lp, lp->line, lp->linelen);
	lp->linelen = 0;
}

static void
alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	static char buf[65536];

	(void)h;
	(void)hint;
	*b = uv_buf_init(buf, sizeof buf);
}

static int
pipe_pending(const struct logpipe *lp)
{
	int i;

	for (i = 0; i < lp->nsinks; i++)
		if (lp->sink[i].queued)
			return 1;
	return 0;
}

static void
read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct logpipe *lp = s->data;

	if (n < 0) {
		flush_line(lp);
		uv_read_stop(s);
		if (pipe_pending(lp))
			lp->eof = 1; /* closed once written */
		else
			uv_close((uv_handle_t *)s, logpipe_free);
		return;
	}
	if (n == 0)
		return;
	take(lp, b->base, (size_t)n);
	if (pipe_pending(lp)) {
		/* The app now waits on its full pipe: nothing is lost. */
		uv_read_stop(s);
		lp->blocked = 1;
	}
}

/* A pipe whose sinks are all written reads (or closes) again. */
static void
pipe_resume(struct logpipe *lp)
{
	if (!lp->blocked || pipe_pending(lp))
		return;
	lp->blocked = 0;
	if (lp->eof)
		uv_close((uv_handle_t *)&lp->pipe, logpipe_free);
	else
		uv_read_start((uv_stream_t *)&lp->pipe, alloc_cb, read_cb);
}

/* Try the files that had no room again, oldest waiting writer first. */
static void
retry_cb(uv_timer_t *t)
{
	struct logfile *f;
	struct logsink *s;
	size_t done;
	int err = 0, left = 0;

	(void)t;
	TAILQ_FOREACH(f, &files, entry) {
		if (!f->full)
			continue;
		while ((s = TAILQ_FIRST(&f->waitq)) != NULL) {
			done = f->fd == -1 ? s->pendlen :
			    file_write(f, s->pend, s->pendlen, &err);
			memmove(s->pend, s->pend + done, s->pendlen - done);
			s->pendlen -= done;
			if (s->pendlen > 0) {
				if (!worth_waiting(err)) {
					errno = err;
					log_warn("cannot write log file %s; "
					    "lines dropped", f->path);
					s->pendlen = 0;
				} else
					break;
			}
			TAILQ_REMOVE(&f->waitq, s, wentry);
			s->queued = 0;
			pipe_resume(s->pipe);
		}
		if (TAILQ_EMPTY(&f->waitq)) {
			f->full = 0;
			f->err = 0;
			log_info("log file %s can be written again", f->path);
			daemon_changed();
			if (f->max_size > 0 && f->size >= f->max_size)
				file_rotate(f);
		} else
			left = 1;
	}
	if (!left)
		uv_timer_stop(&retry_timer);
}

/*
 * Give lp a real pipe and return its write end for the child (-1 and
 * *err on failure).  A pipe, not the socketpair libuv would make: a small
 * write to a pipe costs the writer far less than one to a socket, which
 * matters to an app that logs a line per write.
 */
int
logpipe_open(struct logpipe *lp, int *wfd)
{
	int fds[2], r;

	*wfd = -1;
	if (pipe2(fds, O_CLOEXEC) == -1)
		return -errno;
	if ((r = uv_pipe_open(&lp->pipe, fds[0])) != 0) {
		close(fds[0]);
		close(fds[1]);
		return r;
	}
	*wfd = fds[1];
	return 0;
}

int
logpipe_start(struct logpipe *lp)
{
	return uv_read_start((uv_stream_t *)&lp->pipe, alloc_cb, read_cb);
}

/* A pipe that was never used (the spawn failed). */
void
logpipe_abort(struct logpipe *lp)
{
	uv_close((uv_handle_t *)&lp->pipe, logpipe_free);
}

/* --- describe, reload, flush ---------------------------------------------- */

static json_t *
path_json(char *p)
{
	json_t *j = p != NULL ? json_string(p) : json_null();

	free(p);
	return j;
}

/* An instance's log paths and the trouble its files are in, for describe. */
void
logs_describe(const struct app *a, int index, json_t *row)
{
	struct logfile *f;
	char *paths[3], msg[PATH_MAX + 128];
	int i;

	paths[0] = stream_path(a, index, 1);
	paths[1] = stream_path(a, index, 2);
	paths[2] = a->logs.log_file != NULL ? strdup(a->logs.log_file) : NULL;
	msg[0] = '\0';
	for (i = 0; i < 3; i++)
		if (paths[i] != NULL && msg[0] == '\0' &&
		    (f = file_find(paths[i])) != NULL && f->err != 0)
			snprintf(msg, sizeof msg, "%s: %s%s", f->path,
			    strerror(f->err), f->full ? " (the app waits)" : "");
	json_object_set_new(row, "out_log", path_json(paths[0]));
	json_object_set_new(row, "err_log", path_json(paths[1]));
	json_object_set_new(row, "log_file", path_json(paths[2]));
	json_object_set_new(row, "log_error",
	    msg[0] != '\0' ? json_string(msg) : json_null());
}

/* Reopen every log file by its path (after an external logrotate). */
void
logs_reopen_all(void)
{
	struct logfile *f;

	(void)log_reopen();
	TAILQ_FOREACH(f, &files, entry) {
		if (f->fd != -1)
			close(f->fd);
		file_open_fd(f);
	}
}

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
		if (json_is_string(v) && strcmp(json_string_value(v), "all") == 0)
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
 * the targets' chosen streams.  index is -1 for a file instances share;
 * want is then the instance the target names (-1: all), to filter lines
 * that say which instance wrote them.
 */
static void
each_file(const struct targets *targets, int streams, int combined,
    void (*fn)(const struct app *, int, int, int, const char *, void *),
    void *arg)
{
	json_t *seen = json_object();
	struct app *a;
	size_t i;
	int k, lo, hi, st, inst;
	char *p, key[PATH_MAX + 16];

	for (i = 0; i < targets->n; i++) {
		if ((a = target_app(&targets->v[i])) == NULL)
			continue;
		inst = targets->v[i].instance;
		target_range(&targets->v[i], a, &lo, &hi);
		for (k = lo; k < hi; k++)
			for (st = 1; st <= 2; st++) {
				if (!(streams & st) ||
				    (p = stream_path(a, k, st)) == NULL)
					continue;
				snprintf(key, sizeof key, "%s#%d", p,
				    stream_shared(a, st) ? inst : k);
				if (json_object_get(seen, key) == NULL) {
					json_object_set_new(seen, key,
					    json_true());
					fn(a, stream_shared(a, st) ? -1 : k,
					    inst, st, p, arg);
				}
				free(p);
			}
		p = a->logs.log_file;
		if (combined && p != NULL && json_object_get(seen, p) == NULL) {
			json_object_set_new(seen, p, json_true());
			fn(a, -1, inst, 0, p, arg);
		}
	}
	json_decref(seen);
}

static void
flush_one(const struct app *a, int index, int want, int stream,
    const char *path, void *arg)
{
	struct logfile *f = file_find(path);
	json_t *v;
	size_t i;

	(void)a;
	(void)index;
	(void)want;
	(void)stream;
	json_array_foreach((json_t *)arg, i, v)
		if (strcmp(json_string_value(v), path) == 0)
			return;
	if (f != NULL && f->fd != -1) {
		if (ftruncate(f->fd, 0) == -1)
			log_warn("cannot empty %s", path);
		f->size = 0;
	} else if (truncate(path, 0) == -1 && errno != ENOENT)
		log_warn("cannot empty %s", path);
	json_array_append_new(arg, json_string(path));
}

/* flush {"targets"}: empty the apps' log files. */
void
logs_handle_flush(struct req *r)
{
	struct targets targets;
	json_t *done;
	int all;

	if (resolve(r, &targets, &all) != 0)
		return;
	done = json_array();
	each_file(&targets, 3, 1, flush_one, done);
	targets_release(&targets);
	log_info("flushed %zu log files", json_array_size(done));
	req_reply(r, json_pack("{s:o}", "files", done));
}

/* reload-logs: reopen every file, as SIGUSR1 does. */
void
logs_handle_reload(struct req *r)
{
	struct logfile *f;
	int n = 0;

	logs_reopen_all();
	TAILQ_FOREACH(f, &files, entry)
		n++;
	log_info("reopened %d log files", n);
	req_reply(r, json_pack("{s:i}", "files", n));
}

/* --- logs: the tail, then following ---------------------------------------- */

/*
 * The last n lines of the file at path, as a malloc'd buffer of whole
 * lines (*len bytes); NULL when it cannot be read or is empty.
 */
static char *
tail_read(const char *path, int n, size_t *len)
{
	struct stat st;
	char *buf = NULL, *nb;
	size_t have = 0, k, i;
	off_t off;
	ssize_t got;
	int fd, lines = 0;

	*len = 0;
	if (n <= 0 || (fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
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
	/* Back from the end (past the last newline) over n line ends. */
	k = have;
	if (k > 0 && buf[k - 1] == '\n')
		k--;
	lines = 0;
	while (k > 0) {
		if (buf[k - 1] == '\n' && ++lines == n)
			break;
		k--;
	}
	if (k == 0 && off > 0) {
		/* Stopped reading mid-line: drop the partial first line. */
		char *nl = memchr(buf, '\n', have);
		k = nl != NULL ? (size_t)(nl - buf) + 1 : have;
	}
	memmove(buf, buf + k, have - k);
	*len = have - k;
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

struct tail_ctx {
	int lines;
	json_t *entries;
	int timed; /* every entry has a time */
};

/* The tail of one file as entries. */
static void
tail_one(const struct app *a, int index, int want, int stream,
    const char *path, void *arg)
{
	struct tail_ctx *tc = arg;
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
		if (a->logs.format == LOGFMT_JSON && (j = json_loadb(p,
		    (size_t)(nl - p), 0, NULL)) != NULL) {
			if (json_is_string(json_object_get(j, "line")))
				o = json_pack("{s:s, s:O, s:s, s:O, s:O}", "app",
				    a->name, "instance", json_object_get(j,
				    "instance") ? json_object_get(j, "instance") :
				    json_null(), "stream", util_json_str(j,
				    "stream", stream_name(stream)), "time",
				    json_object_get(j, "time") ?
				    json_object_get(j, "time") : json_null(),
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
			o = entry_new(a->name, index, stream != 0 ?
			    stream_name(stream) : "log", NULL, p,
			    (size_t)(nl - p));
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
				    logs_json_line(p + k, (size_t)(nl - p) - k));
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
	int c = strcmp(util_json_str(a, "time", ""), util_json_str(b, "time",
	    ""));

	if (c != 0)
		return c;
	return util_json_int(a, "seq", 0) < util_json_int(b, "seq", 0) ? -1 : 1;
}

/* Send entries in replies of bounded size. */
static void
send_chunked(struct req *r, json_t *entries)
{
	json_t *chunk = json_array(), *e;
	size_t i, bytes = 0;

	json_array_foreach(entries, i, e) {
		json_object_del(e, "seq");
		bytes += strlen(util_json_str(e, "line", "")) + 64;
		json_array_append(chunk, e);
		if (bytes >= TAIL_CHUNK_BYTES) {
			req_more(r, json_pack("{s:o}", "lines", chunk));
			chunk = json_array();
			bytes = 0;
		}
	}
	if (json_array_size(chunk) > 0)
		req_more(r, json_pack("{s:o}", "lines", chunk));
	else
		json_decref(chunk);
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
 * logs {"targets", "lines", "stream", "follow", "daemon"}: the last lines
 * of the chosen files (in time order when every line has a time), then,
 * when following, every new line as it is written.
 */
void
logs_handle(struct req *r)
{
	struct tail_ctx tc;
	struct logsub *s;
	struct targets targets = { NULL, 0 };
	json_t *e;
	const char *stream = util_json_str(r->args, "stream", "all");
	int64_t lines = util_json_int(r->args, "lines", 15);
	int follow = util_json_bool(r->args, "follow", 0);
	int daemon = util_json_bool(r->args, "daemon", 0);
	int streams, all = 0;
	char path[PATH_MAX];
	const json_t **v;
	size_t i, n;

	subs_sweep();
	if (lines < 0 || lines > 1000000) {
		req_error(r, IPC_E_BAD_REQUEST,
		    "invalid line count %lld (0 to 1000000)", (long long)lines);
		return;
	}
	streams = strcmp(stream, "out") == 0 ? 1 :
	    strcmp(stream, "err") == 0 ? 2 : strcmp(stream, "all") == 0 ? 3 : 0;
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
		if (lines > 0) {
			size_t len;
			char *buf = tail_read(path, (int)lines, &len), *p, *nl;

			for (p = buf; buf != NULL && p < buf + len; p = nl + 1) {
				if ((nl = memchr(p, '\n', (size_t)(buf + len -
				    p))) == NULL)
					nl = buf + len;
				json_array_append_new(tc.entries, entry_new(NULL,
				    -1, "daemon", NULL, p, (size_t)(nl - p)));
			}
			free(buf);
		}
	} else {
		if (resolve(r, &targets, &all) != 0) {
			json_decref(tc.entries);
			return;
		}
		each_file(&targets, streams, 0, tail_one, &tc);
		n = json_array_size(tc.entries);
		if (tc.timed && n > 1) {
			/* Sort a copy of the pointers, then rebuild. */
			if ((v = calloc(n, sizeof *v)) != NULL) {
				json_array_foreach(tc.entries, i, e)
					v[i] = json_incref(e);
				qsort(v, n, sizeof *v, by_time);
				json_array_clear(tc.entries);
				for (i = 0; i < n; i++)
					json_array_append_new(tc.entries,
					    (json_t *)v[i]);
				free(v);
			}
		}
	}
	send_chunked(r, tc.entries);
	json_decref(tc.entries);
	if (!follow) {
		targets_release(&targets);
		req_reply(r, json_pack("{s:[]}", "lines"));
		return;
	}
	if (r->client == NULL || (s = calloc(1, sizeof *s)) == NULL) {
		targets_release(&targets);
		req_reply(r, json_pack("{s:[]}", "lines"));
		return;
	}
	s->r = r;
	s->daemon = daemon;
	s->streams = streams;
	if (all)
		targets_release(&targets);
	else
		s->targets = targets;
	TAILQ_INSERT_TAIL(&subs, s, entry);
	r->on_close = sub_closed;
}
