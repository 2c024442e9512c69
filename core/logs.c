/*
 * Capturing an instance's stdout and stderr: each stream is a pipe the
 * daemon reads, cut into whole lines, and appended to the instance's log
 * file with one write per batch of lines, so lines of two writers sharing a
 * file never interleave.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"

/* A line longer than this is written in pieces, each marked. */
#define LINE_MAX_BYTES (64 * 1024)

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

static int
disabled(const char *path)
{
	return path != NULL &&
	    (strcmp(path, "/dev/null") == 0 || strcmp(path, "NULL") == 0);
}

/* A pipe for one stream of in's next process, not yet reading. */
struct logpipe *
logpipe_new(const struct instance *in, int stream)
{
	const char *file = stream == 1 ? in->app->out_file : in->app->err_file;
	struct logpipe *lp;
	char *path = NULL;

	if ((lp = calloc(1, sizeof *lp)) == NULL)
		return NULL;
	lp->stream = stream;
	lp->fd = -1;
	if (!disabled(file)) {
		path = file != NULL ? strdup(file) :
		    logs_path(in->app, in->index, stream);
		if (path != NULL) {
			lp->fd = open(path,
			    O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
			if (lp->fd == -1)
				log_warn("cannot open log file %s", path);
		}
		free(path);
	}
	uv_pipe_init(loop, &lp->pipe, 0);
	lp->pipe.data = lp;
	return lp;
}

static void
logpipe_free(uv_handle_t *h)
{
	struct logpipe *lp = h->data;

	if (lp->fd != -1)
		close(lp->fd);
	free(lp->line);
	free(lp);
}

/* Write all of buf, or give up on this batch (and say so) on error. */
static void
write_all(struct logpipe *lp, const char *buf, size_t n)
{
	ssize_t w;

	if (lp->fd == -1)
		return;
	while (n > 0) {
		w = write(lp->fd, buf, n);
		if (w == -1) {
			if (errno == EINTR)
				continue;
			log_warn("log write failed");
			return;
		}
		buf += w;
		n -= (size_t)w;
	}
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

/* Emit the carried line (a partial one gets its newline). */
static void
flush_line(struct logpipe *lp)
{
	if (lp->linelen == 0)
		return;
	if (lp->line[lp->linelen - 1] != '\n' && carry(lp, "\n", 1) != 0)
		return;
	write_all(lp, lp->line, lp->linelen);
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

static void
read_cb(uv_stream_t *s, ssize_t n, const uv_buf_t *b)
{
	struct logpipe *lp = s->data;
	const char *p, *last;
	size_t head, tail;

	if (n < 0) {
		flush_line(lp);
		uv_close((uv_handle_t *)s, logpipe_free);
		return;
	}
	if (n == 0)
		return;
	p = b->base;
	last = memrchr(p, '\n', (size_t)n);
	if (last == NULL) {
		if (carry(lp, p, (size_t)n) == 0 &&
		    lp->linelen >= LINE_MAX_BYTES)
			flush_line(lp);
		return;
	}
	head = (size_t)(last - p) + 1;
	tail = (size_t)n - head;
	if (lp->linelen > 0) {
		if (carry(lp, p, head) == 0) {
			write_all(lp, lp->line, lp->linelen);
			lp->linelen = 0;
		}
	} else
		write_all(lp, p, head);
	if (tail > 0)
		(void)carry(lp, last + 1, tail);
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
