/*
 * The console of a daemon in the foreground (clusterctl run): the apps'
 * lines on its stdout and stderr, prefixed "name:N | " or as JSON lines,
 * and the daemon's own lines on stderr.  A container runtime or systemd
 * reads these; a reader that stalls must not stall the daemon, so the
 * streams are non-blocking, with a bounded buffer each: what does not
 * fit is dropped and counted, and the count is said once there is room.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core.h"

/* The most a stream buffers for a slow reader. */
#define CONSOLE_MAX_PENDING (1024 * 1024)
/* How long the last lines may take to leave at exit. */
#define CONSOLE_CLOSE_MS 2000

struct console_stream {
	int fd;		 /* -1: not open */
	int restore_fl;	 /* the shared file flags to restore, or -1 */
	struct buf out;	 /* what the reader did not take yet */
	int64_t dropped; /* lines that did not fit */
	uv_poll_t poll;
	int polling;
	int has_poll;
};

static struct console_stream streams[2]; /* stdout, stderr */
static int console_json;
static int console_quiet;
static int console_on;
static int console_muted; /* console_error logs what it says */

/*
 * Our own description of fd where we can have one (a pipe or terminal
 * opened again), so that O_NONBLOCK is ours alone; else a duplicate.
 */
static int
stream_open(struct console_stream *s, int fd)
{
	char path[64];
	struct stat st;
	int fl;

	s->fd = -1;
	s->restore_fl = -1;
	if (fstat(fd, &st) == -1)
		return -errno;
	if (S_ISFIFO(st.st_mode) || isatty(fd)) {
		snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
		s->fd = open(path,
		    O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
	}
	if (s->fd == -1) {
		if ((s->fd = fcntl(fd, F_DUPFD_CLOEXEC, 3)) == -1)
			return -errno;
		/* A socket (systemd's journal): shared flags, put back at
		 * exit.  A file or /dev/null never blocks. */
		if (S_ISSOCK(st.st_mode) &&
		    (fl = fcntl(s->fd, F_GETFL)) != -1 && !(fl & O_NONBLOCK) &&
		    fcntl(s->fd, F_SETFL, fl | O_NONBLOCK) != -1)
			s->restore_fl = fl;
	}
	return 0;
}

/*
 * Take the process's stdout and stderr as the console, before the daemon
 * points its fd 2 at daemon.log.  json: JSON lines; quiet: no daemon
 * lines.
 */
int
console_open(int json, int quiet)
{
	int r;

	console_json = json;
	console_quiet = quiet;
	if ((r = stream_open(&streams[0], 1)) != 0 ||
	    (r = stream_open(&streams[1], 2)) != 0)
		return r;
	console_on = 1;
	return 0;
}

int
console_active(void)
{
	return console_on;
}

static void stream_flush(struct console_stream *);

static void
poll_cb(uv_poll_t *h, int status, int events)
{
	(void)status;
	(void)events;
	stream_flush(h->data);
}

/* Write what is buffered; wait for room (poll) while some is left. */
static void
stream_flush(struct console_stream *s)
{
	char note[128];
	ssize_t n;
	int k;

	while (s->out.len > 0) {
		n = write(s->fd, s->out.p, s->out.len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0) {
			/* The reader is gone (EPIPE): nothing to keep. */
			s->out.len = 0;
			break;
		}
		memmove(s->out.p, s->out.p + n, s->out.len - (size_t)n);
		s->out.len -= (size_t)n;
	}
	if (s->out.len == 0 && s->dropped > 0) {
		k = snprintf(note, sizeof note,
		    "clusterctl: %lld line%s dropped: "
		    "the output was not read fast enough\n",
		    (long long)s->dropped, s->dropped == 1 ? "" : "s");
		s->dropped = 0;
		if (write(s->fd, note, (size_t)k) < 0)
			errno = 0;
	}
	if (s->out.len > 0 && !s->polling && loop != NULL) {
		if (!s->has_poll) {
			if (uv_poll_init(loop, &s->poll, s->fd) != 0)
				return;
			s->has_poll = 1;
			s->poll.data = s;
			uv_unref((uv_handle_t *)&s->poll);
		}
		if (uv_poll_start(&s->poll, UV_WRITABLE, poll_cb) == 0)
			s->polling = 1;
	} else if (s->out.len == 0 && s->polling) {
		uv_poll_stop(&s->poll);
		s->polling = 0;
	}
}

/* Queue n bytes of whole lines (nlines of them) on stream s. */
static void
stream_write(struct console_stream *s, const char *p, size_t n, int nlines)
{
	if (s->fd == -1 || n == 0)
		return;
	if (s->out.len + n > CONSOLE_MAX_PENDING) {
		s->dropped += nlines;
		stream_flush(s);
		return;
	}
	if (buf_add(&s->out, p, n, 16384) != 0) {
		s->dropped += nlines;
		return;
	}
	stream_flush(s);
}

/* Formatted lines, and how many. */
struct outbuf {
	struct buf b;
	int lines;
};

/* Append to o; what does not fit in memory is left out. */
static void
out_add(struct outbuf *o, const char *p, size_t n)
{
	(void)buf_add(&o->b, p, n, 4096);
}

static void
out_json(struct outbuf *o, json_t *obj)
{
	char *js = json_dumps(obj, JSON_COMPACT);

	json_decref(obj);
	if (js == NULL)
		return;
	out_add(o, js, strlen(js));
	out_add(o, "\n", 1);
	o->lines++;
	free(js);
}

/*
 * Whole lines (each ending in '\n') of an app's stream (1 out, 2 err):
 * to our stdout or stderr, as "name:N | line" or as JSON objects with
 * the fields of 'logs --json'.
 */
void
console_app_lines(const char *app, int index, int stream, const char *iso,
    const char *data, size_t len)
{
	const char *p, *nl, *end = data + len;
	struct outbuf o = { { NULL, 0, 0 }, 0 };
	char prefix[128];
	int k;

	if (!console_on)
		return;
	k = snprintf(prefix, sizeof prefix, "%s:%d | ", app, index);
	if (k < 0 || (size_t)k >= sizeof prefix)
		k = 0;
	for (p = data; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			break;
		if (console_json)
			out_json(&o,
			    json_pack("{s:s, s:i, s:s, s:s, s:o}", "app", app,
				"instance", index, "stream",
				stream == 1 ? "out" : "err", "time", iso,
				"line", logs_line_json(p, (size_t)(nl - p))));
		else {
			out_add(&o, prefix, (size_t)k);
			out_add(&o, p, (size_t)(nl - p) + 1);
			o.lines++;
		}
	}
	stream_write(&streams[stream == 1 ? 0 : 1], o.b.p, o.b.len, o.lines);
	buf_release(&o.b);
}

/*
 * One line of the daemon's log ("TIME LEVEL message\n"): on stderr as
 * "clusterctl: message", or a JSON object with stream "daemon".
 */
void
console_daemon_line(const char *line, size_t n)
{
	struct outbuf o = { { NULL, 0, 0 }, 0 };
	const char *sp1, *sp2, *end = line + n;
	char ts[64], level[16];

	if (!console_on || console_quiet || console_muted)
		return;
	if (n > 0 && end[-1] == '\n')
		end--;
	sp1 = memchr(line, ' ', (size_t)(end - line));
	sp2 = sp1 != NULL ? memchr(sp1 + 1, ' ', (size_t)(end - sp1 - 1)) :
			    NULL;
	if (sp1 == NULL || sp2 == NULL || (size_t)(sp1 - line) >= sizeof ts ||
	    (size_t)(sp2 - sp1 - 1) >= sizeof level)
		return;
	snprintf(ts, sizeof ts, "%.*s", (int)(sp1 - line), line);
	snprintf(level, sizeof level, "%.*s", (int)(sp2 - sp1 - 1), sp1 + 1);
	if (console_json)
		out_json(&o,
		    json_pack("{s:n, s:n, s:s, s:s, s:s, s:o}", "app",
			"instance", "stream", "daemon", "level", level, "time",
			ts, "line",
			logs_line_json(sp2 + 1, (size_t)(end - sp2 - 1))));
	else {
		out_add(&o, "clusterctl: ", 12);
		if (strcmp(level, "info") != 0) {
			out_add(&o, level, strlen(level));
			out_add(&o, ": ", 2);
		}
		out_add(&o, sp2 + 1, (size_t)(end - sp2 - 1));
		out_add(&o, "\n", 1);
		o.lines++;
	}
	stream_write(&streams[1], o.b.p, o.b.len, o.lines);
	buf_release(&o.b);
}

/*
 * A message for the user on stderr, in either mode, before the loop; the
 * daemon's log has it too, without a second copy on the console.
 */
void
console_error(const char *msg)
{
	struct outbuf o = { { NULL, 0, 0 }, 0 };

	if (!console_on)
		return;
	console_muted = 1;
	log_warnx("%s", msg);
	console_muted = 0;
	if (console_json)
		out_json(&o,
		    json_pack("{s:n, s:n, s:s, s:s, s:s}", "app", "instance",
			"stream", "daemon", "level", "error", "line", msg));
	else {
		out_add(&o, "clusterctl: ", 12);
		out_add(&o, msg, strlen(msg));
		out_add(&o, "\n", 1);
		o.lines++;
	}
	stream_write(&streams[1], o.b.p, o.b.len, o.lines);
	buf_release(&o.b);
}

/*
 * At exit: what is still buffered gets a bounded time to leave, and a
 * shared description gets its flags back.
 */
void
console_close(void)
{
	struct console_stream *s;
	struct pollfd pfd;
	int k, waited = 0;

	if (!console_on)
		return;
	console_on = 0;
	for (k = 0; k < 2; k++) {
		s = &streams[k];
		while (s->out.len > 0 && waited < CONSOLE_CLOSE_MS) {
			stream_flush(s);
			if (s->out.len == 0)
				break;
			pfd.fd = s->fd;
			pfd.events = POLLOUT;
			if (poll(&pfd, 1, 100) <= 0)
				waited += 100;
		}
		if (s->restore_fl != -1)
			(void)fcntl(s->fd, F_SETFL, s->restore_fl);
	}
}
