/*
 * Capturing an instance's stdout and stderr: each stream is a real pipe
 * the daemon reads, cut into whole lines and handed to the stream's files
 * (logfile.c) with one write per read, and to the followers (follow.c).
 * A line without its newline yet is carried to the next read; one longer
 * than LINE_MAX_BYTES is written in marked pieces.  With --time or
 * --log-type json each line is rewritten first; without (the bulk path)
 * the bytes read go to the file as they are, up to the last newline.
 *
 * A writer that floods (a read brought FLOOD_BYTES or more and emptied
 * the pipe) gets a bigger pipe, and its pipe rests for REST_MS before it
 * is read again: its next writes then wake nobody, and one read takes
 * them all.  An app that writes a line now and then is read at once.
 *
 * A pipe owns itself: it outlives the instance when a leftover process
 * still holds the pipe, and frees itself at end of file (once all it read
 * is written).  While a file has no room, the pipe is not read.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "core.h"

/* A line longer than this is written in pieces, each marked. */
#define LINE_MAX_BYTES (64 * 1024)
/* The mark at the end of a cut piece and the start of the next one. */
#define CUT_MARK "[...]"
#define CUT_MARK_LEN (sizeof CUT_MARK - 1)
/* The most one read takes from a pipe. */
#define READ_BYTES (64 * 1024)
/* A read this big that emptied the pipe: the writer floods. */
#define FLOOD_BYTES 4096
/* A flooding writer's pipe grows to this, enough for REST_MS of writing. */
#define FLOOD_PIPE_BYTES (1024 * 1024)
/* How long a flooding writer's pipe rests between reads. */
#define REST_MS 1
/* How many pipes may be grown at a time: they count against the user's
 * pipe-user-pages-soft (64 MiB), past which the kernel gives new pipes
 * one page. */
#define MAX_GROWN 16

/* One captured output stream of one process. */
struct logpipe {
	uv_pipe_t pipe;
	struct logsrc src;
	struct logsink sink[2]; /* the stream's file, the combined file */
	int nsinks;
	int blocked; /* not reading: a sink waits for room */
	int eof;     /* end of file seen while blocked */
	int grown;   /* its capacity was raised to FLOOD_PIPE_BYTES */
	int resting; /* not reading until the rest timer fires */
	TAILQ_ENTRY(logpipe) rentry;
	TAILQ_ENTRY(logpipe) entry; /* in pipes */
	struct buf line; /* an incomplete line carried between reads */
	char app[];	 /* src.app: the name in the pipe's own block */
};

static TAILQ_HEAD(, logpipe) resting = TAILQ_HEAD_INITIALIZER(resting);
/* Every pipe, for an upgrade's handover. */
static TAILQ_HEAD(, logpipe) pipes = TAILQ_HEAD_INITIALIZER(pipes);
static uv_timer_t rest_timer;
static int ngrown; /* pipes grown to FLOOD_PIPE_BYTES */

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

/* Where lines are formatted (a timestamp, JSON) before they are written. */
static struct buf fmt;

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
	int i, followed = follow_active(), console = console_active();
	json_t *o;

	iso[0] = ts[0] = '\0';
	if (lp->src.format != LOGFMT_RAW || followed || console)
		stamp(iso, sizeof iso, NULL);
	if (lp->src.format == LOGFMT_TIME) {
		if (lp->src.date_format != NULL)
			stamp(ts, sizeof ts, lp->src.date_format);
		else
			memcpy(ts, iso, sizeof iso);
		sl = strlen(ts);
		/* At most one stamp and ": " per line. */
		for (p = data, i = 0; p < end; p = nl + 1, i++)
			nl = memchr(p, '\n', (size_t)(end - p));
		if (buf_reserve(&fmt, len + (size_t)i * (sl + 2), 65536) == 0) {
			for (p = data; p < end; p = nl + 1) {
				nl = memchr(p, '\n', (size_t)(end - p));
				memcpy(fmt.p + k, ts, sl);
				memcpy(fmt.p + k + sl, ": ", 2);
				k += sl + 2;
				memcpy(fmt.p + k, p, (size_t)(nl - p) + 1);
				k += (size_t)(nl - p) + 1;
			}
			out = fmt.p;
			outlen = k;
		}
	} else if (lp->src.format == LOGFMT_JSON) {
		for (p = data; p < end; p = nl + 1) {
			nl = memchr(p, '\n', (size_t)(end - p));
			o = logs_entry(lp->src.app, lp->src.index,
			    logs_stream_name(lp->src.stream), iso, p,
			    (size_t)(nl - p));
			js = json_dumps(o, JSON_COMPACT);
			json_decref(o);
			if (js == NULL)
				continue;
			sl = strlen(js);
			if (buf_reserve(&fmt, k + sl + 1, 65536) == 0) {
				memcpy(fmt.p + k, js, sl);
				fmt.p[k + sl] = '\n';
				k += sl + 1;
			}
			free(js);
		}
		out = fmt.p;
		outlen = k;
	}
	logs_stats.lines_written += logs_count_lines(data, len);
	for (i = 0; i < lp->nsinks; i++)
		if (logf_sink_write(&lp->sink[i], out, outlen))
			lp->blocked = 1;
	if (followed)
		follow_publish(&lp->src, data, len, iso, ts);
	/* In the foreground (run): on our own stdout or stderr too. */
	if (console)
		console_app_lines(lp->src.app, lp->src.index, lp->src.stream,
		    iso, data, len);
}

static void pipe_resume(struct logpipe *);

/* A sink of lp's has written all it kept: lp may read again. */
static void
sink_drained(struct logsink *s)
{
	pipe_resume(s->owner);
}

/* Add a sink writing to path; 0 or -ENOMEM. */
static int
add_sink(struct logpipe *lp, const char *path, const struct app_logs *l)
{
	struct logsink *s = &lp->sink[lp->nsinks];

	if (logf_sink_init(s, path, l) != 0)
		return -ENOMEM;
	s->drained = sink_drained;
	s->owner = lp;
	lp->nsinks++;
	return 0;
}

/* A pipe for one stream of instance index of a, not yet reading. */
static struct logpipe *
pipe_make(const struct app *a, int index, int stream)
{
	struct logpipe *lp;
	size_t n = strlen(a->name) + 1;
	char *path;

	/* The name in the same block: a pipe for each of a thousand
	 * instances' two streams does not carry a small block of its own. */
	if ((lp = calloc(1, sizeof *lp + n)) == NULL)
		return NULL;
	memcpy(lp->app, a->name, n);
	lp->src.stream = stream;
	lp->src.app = lp->app;
	lp->src.app_id = a->id;
	lp->src.index = index;
	lp->src.format = a->logs.format;
	if (a->logs.date_format != NULL)
		lp->src.date_format = strdup(a->logs.date_format);
	if ((path = logs_stream_path(a, index, stream)) != NULL) {
		(void)add_sink(lp, path, &a->logs);
		free(path);
	}
	if ((path = logs_stream_path(a, index, 0)) != NULL) {
		(void)add_sink(lp, path, &a->logs);
		free(path);
	}
	uv_pipe_init(loop, &lp->pipe, 0);
	lp->pipe.data = lp;
	TAILQ_INSERT_TAIL(&pipes, lp, entry);
	return lp;
}

/* A pipe for one stream of in's next process, not yet reading. */
struct logpipe *
logpipe_new(const struct instance *in, int stream)
{
	return pipe_make(in->app, in->index, stream);
}

static void
logpipe_free(uv_handle_t *h)
{
	struct logpipe *lp = h->data;
	int i;

	for (i = 0; i < lp->nsinks; i++)
		logf_sink_release(&lp->sink[i]);
	if (lp->grown)
		ngrown--;
	if (lp->resting)
		TAILQ_REMOVE(&resting, lp, rentry);
	TAILQ_REMOVE(&pipes, lp, entry);
	free(lp->src.date_format);
	buf_release(&lp->line);
	free(lp);
}

/* Carry n bytes of an incomplete line to the next read: 0 or -ENOMEM. */
static int
carry(struct logpipe *lp, const char *p, size_t n)
{
	return buf_add(&lp->line, p, n, 256);
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
		body = lp->line.len;
		if (body > 0 && lp->line.p[body - 1] == '\n')
			body--;
		if (body <= LINE_MAX_BYTES)
			return;
		k = LINE_MAX_BYTES;
		while (k > LINE_MAX_BYTES - 4 &&
		    ((unsigned char)lp->line.p[k] & 0xC0) == 0x80)
			k--;
		memcpy(piece, lp->line.p, k);
		memcpy(piece + k, CUT_MARK "\n", CUT_MARK_LEN + 1);
		emit(lp, piece, k + CUT_MARK_LEN + 1);
		memmove(lp->line.p + CUT_MARK_LEN, lp->line.p + k,
		    lp->line.len - k);
		memcpy(lp->line.p, CUT_MARK, CUT_MARK_LEN);
		lp->line.len = lp->line.len - k + CUT_MARK_LEN;
	}
}

/*
 * n bytes were read into rbuf after the carried line (alloc_cb put a copy
 * of it there): emit every whole line in one go, carried line included,
 * and carry what follows the last newline.  Only the carried line can be
 * longer than LINE_MAX_BYTES (a read is at most READ_BYTES): when it is,
 * it goes the slow way, cut into pieces.
 */
static void
take(struct logpipe *lp, char *buf, size_t n)
{
	char *fresh = buf + lp->line.len, *start = buf, *nl, *last;
	size_t k;

	if ((last = memrchr(fresh, '\n', n)) == NULL) {
		if (carry(lp, fresh, n) == 0)
			cut_long(lp);
		return;
	}
	if (lp->line.len > 0) {
		nl = memchr(fresh, '\n', n);
		k = (size_t)(nl - fresh) + 1;
		if (lp->line.len + k > LINE_MAX_BYTES) {
			if (carry(lp, fresh, k) == 0) {
				cut_long(lp);
				emit(lp, lp->line.p, lp->line.len);
			} else
				log_warnx("%s:%d out of memory: a line dropped",
				    lp->src.app, lp->src.index);
			start = nl + 1;
		}
		lp->line.len = 0;
	}
	if (last + 1 > start)
		emit(lp, start, (size_t)(last + 1 - start));
	k = (size_t)(fresh + n - (last + 1));
	if (k > 0 && carry(lp, last + 1, k) != 0)
		log_warnx("%s:%d out of memory: a line dropped", lp->src.app,
		    lp->src.index);
}

/* Emit the carried line (a partial one gets its newline). */
static void
flush_line(struct logpipe *lp)
{
	if (lp->line.len == 0)
		return;
	if (lp->line.p[lp->line.len - 1] != '\n' && carry(lp, "\n", 1) != 0)
		return;
	emit(lp, lp->line.p, lp->line.len);
	lp->line.len = 0;
}

/*
 * The one read buffer of every pipe: the carried line is copied to its
 * start before each read, so that a read's lines follow it and all go to
 * the file in one write (the bulk path).
 */
static char rbuf[LINE_MAX_BYTES + READ_BYTES];

static void
alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *b)
{
	struct logpipe *lp = h->data;

	(void)hint;
	if (lp->line.len > 0)
		memcpy(rbuf, lp->line.p, lp->line.len);
	*b = uv_buf_init(rbuf + lp->line.len, READ_BYTES);
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

static void read_cb(uv_stream_t *, ssize_t, const uv_buf_t *);

/* The resting pipes read again. */
static void
rest_cb(uv_timer_t *t)
{
	struct logpipe *lp;

	(void)t;
	while ((lp = TAILQ_FIRST(&resting)) != NULL) {
		TAILQ_REMOVE(&resting, lp, rentry);
		lp->resting = 0;
		uv_read_start((uv_stream_t *)&lp->pipe, alloc_cb, read_cb);
	}
}

/*
 * A read of n bytes emptied lp's pipe: if the writer floods, its pipe
 * grows (once), and rests when it is big enough to hold the writes of
 * the rest.
 */
static void
maybe_rest(struct logpipe *lp, size_t n)
{
	int fd;

	if (n < FLOOD_BYTES || n >= READ_BYTES)
		return;
	if (!lp->grown && ngrown < MAX_GROWN &&
	    uv_fileno((uv_handle_t *)&lp->pipe, &fd) == 0 &&
	    fcntl(fd, F_SETPIPE_SZ, FLOOD_PIPE_BYTES) >= FLOOD_PIPE_BYTES) {
		lp->grown = 1;
		ngrown++;
	}
	if (!lp->grown)
		return;
	uv_read_stop((uv_stream_t *)&lp->pipe);
	lp->resting = 1;
	TAILQ_INSERT_TAIL(&resting, lp, rentry);
	if (!uv_is_active((uv_handle_t *)&rest_timer))
		uv_timer_start(&rest_timer, rest_cb, REST_MS, 0);
}

static void
read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct logpipe *lp = s->data;

	if (n < 0) {
		flush_line(lp);
		uv_read_stop(s);
		if (pipe_pending(lp)) {
			lp->eof = 1; /* closed once written */
			lp->blocked = 1;
		} else
			uv_close((uv_handle_t *)s, logpipe_free);
		return;
	}
	if (n == 0)
		return;
	take(lp, b->base - lp->line.len, (size_t)n);
	if (pipe_pending(lp)) {
		/* The app now waits on its full pipe: nothing is lost. */
		uv_read_stop(s);
		lp->blocked = 1;
	} else
		maybe_rest(lp, (size_t)n);
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
	if (rest_timer.loop == NULL)
		uv_timer_init(loop, &rest_timer);
	return uv_read_start((uv_stream_t *)&lp->pipe, alloc_cb, read_cb);
}

/* A pipe that was never used (the spawn failed). */
void
logpipe_abort(struct logpipe *lp)
{
	uv_close((uv_handle_t *)&lp->pipe, logpipe_free);
}

/*
 * Whether a pipe keeps bytes it could not write yet (a file waits for
 * room on the disk): an upgrade waits until they are written.
 */
int
logpipe_busy(void)
{
	struct logpipe *lp;

	TAILQ_FOREACH(lp, &pipes, entry)
		if (lp->blocked || pipe_pending(lp))
			return 1;
	return 0;
}

/*
 * Every pipe being read, for an upgrade (core/upgrade.c): its descriptor
 * and whose stream it is, with the line it carries (no byte is lost: the
 * rest is still in the pipe, for the next image to read).
 */
json_t *
logpipe_handover(void)
{
	json_t *arr = json_array();
	struct logpipe *lp;
	int fd;

	TAILQ_FOREACH(lp, &pipes, entry) {
		if (uv_is_closing((uv_handle_t *)&lp->pipe) ||
		    uv_fileno((uv_handle_t *)&lp->pipe, &fd) != 0)
			continue;
		json_array_append_new(arr,
		    json_pack("{s:i, s:i, s:i, s:i, s:o, s:b}", "fd", fd,
			"app_id", lp->src.app_id, "index", lp->src.index,
			"stream", lp->src.stream, "line",
			util_json_hex(lp->line.p, lp->line.len), "grown",
			lp->grown));
	}
	return arr;
}

/*
 * After an upgrade: read fd again as stream of instance index of a, the
 * line it carried first.  0, or a negative errno with fd closed.
 */
int
logpipe_adopt(const struct app *a, int index, int stream, int fd,
    const char *line, size_t len, int grown)
{
	struct logpipe *lp;
	int r;

	if ((lp = pipe_make(a, index, stream)) == NULL) {
		close(fd);
		return -ENOMEM;
	}
	if ((r = uv_pipe_open(&lp->pipe, fd)) != 0) {
		close(fd);
		logpipe_abort(lp);
		return r;
	}
	if (len > 0 && carry(lp, line, len) != 0)
		log_warnx("%s:%d out of memory: a line dropped", lp->src.app,
		    lp->src.index);
	if (grown && ngrown < MAX_GROWN) {
		lp->grown = 1;
		ngrown++;
	}
	return logpipe_start(lp);
}
