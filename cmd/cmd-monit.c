/*
 * monit: a full-screen view of every instance (ncurses), with a log pane
 * following the selected app and keys that act on the selection.
 *
 * It asks the daemon for the list once a second and follows the selected
 * app's logs over a second connection; the screen is redrawn only when
 * what it shows changed (or the terminal was resized), so it costs next
 * to nothing while idle.  Every exit path (q, Ctrl-C, SIGTERM, the daemon
 * going away) ends curses mode before anything is printed.  --once prints
 * one frame as text, for scripts and for a terminal-less check.
 */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curses.h>

#include "../ipc/util.h"
#include "cmd.h"

/*
 * ncurses is loaded when the full screen starts, not linked: the binary
 * is also the daemon and every instance's exec shim, which would load it
 * (and libtinfo) at every exec for nothing (see util_dlopen).  The
 * curses.h macros used below (move, getch, attrset...) expand to the
 * functions and variables redefined after the loader, so the code reads
 * as curses.
 */
static struct {
	void *so;
	WINDOW **stdscr;
	int *lines, *cols;
	__typeof__(newterm) *newterm;
	__typeof__(delscreen) *delscreen;
	__typeof__(endwin) *endwin;
	__typeof__(cbreak) *cbreak;
	__typeof__(noecho) *noecho;
	__typeof__(nonl) *nonl;
	__typeof__(keypad) *keypad;
	__typeof__(nodelay) *nodelay;
	__typeof__(curs_set) *curs_set;
	__typeof__(wgetch) *wgetch;
	__typeof__(wmove) *wmove;
	__typeof__(wclrtoeol) *wclrtoeol;
	__typeof__(wclear) *wclear;
	__typeof__(wattrset) *wattrset;
	__typeof__(waddnstr) *waddnstr;
	__typeof__(wrefresh) *wrefresh;
} nc;

/* Load ncurses once: 0, or -1 with err saying why. */
static int
curses_load(char *err, size_t errlen)
{
	static const struct util_sym syms[] = {
		{ "stdscr", (void **)&nc.stdscr },
		{ "LINES", (void **)&nc.lines },
		{ "COLS", (void **)&nc.cols },
		{ "newterm", (void **)&nc.newterm },
		{ "delscreen", (void **)&nc.delscreen },
		{ "endwin", (void **)&nc.endwin },
		{ "cbreak", (void **)&nc.cbreak },
		{ "noecho", (void **)&nc.noecho },
		{ "nonl", (void **)&nc.nonl },
		{ "keypad", (void **)&nc.keypad },
		{ "nodelay", (void **)&nc.nodelay },
		{ "curs_set", (void **)&nc.curs_set },
		{ "wgetch", (void **)&nc.wgetch },
		{ "wmove", (void **)&nc.wmove },
		{ "wclrtoeol", (void **)&nc.wclrtoeol },
		{ "wclear", (void **)&nc.wclear },
		{ "wattrset", (void **)&nc.wattrset },
		{ "waddnstr", (void **)&nc.waddnstr },
		{ "wrefresh", (void **)&nc.wrefresh },
	};

	if (nc.so == NULL)
		nc.so = util_dlopen("libncursesw.so.6", "libncursesw6", syms,
		    sizeof syms / sizeof syms[0], err, errlen);
	return nc.so != NULL ? 0 : -1;
}

#undef stdscr
#undef LINES
#undef COLS
#undef wattrset
#define stdscr (*nc.stdscr)
#define LINES (*nc.lines)
#define COLS (*nc.cols)
#define newterm nc.newterm
#define delscreen nc.delscreen
#define endwin nc.endwin
#define cbreak nc.cbreak
#define noecho nc.noecho
#define nonl nc.nonl
#define keypad nc.keypad
#define nodelay nc.nodelay
#define curs_set nc.curs_set
#define wgetch nc.wgetch
#define wmove nc.wmove
#define wclrtoeol nc.wclrtoeol
#define wclear nc.wclear
#define wattrset nc.wattrset
#define waddnstr nc.waddnstr
#define wrefresh nc.wrefresh

#define REFRESH_MS 1000
#define LOG_KEEP 200	   /* log lines kept for the pane */
#define REPLY_WAIT_MS 3000 /* the longest a request may keep the screen */

static const struct cmd_option options[] = {
	{ "once", 0, NULL,
	    "print one frame as text and exit (no terminal "
	    "needed)",
	    NULL, 0 },
	{ "sort", 0, "KEY",
	    "sort instances by name, cpu, memory, restarts "
	    "or uptime (default name; 's' cycles)",
	    "name cpu memory restarts uptime", 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

static const char *sort_names[] = { "name", "cpu", "memory", "restarts",
	"uptime" };
#define NSORT (int)(sizeof sort_names / sizeof sort_names[0])

struct monit {
	struct cmd_ctx *ctx;
	json_t *rows;	   /* the list, sorted */
	int sel;	   /* the selected row */
	char selname[160]; /* its name:N, kept across refreshes */
	int sort;
	char msg[256];	 /* the last action's result */
	char prompt[64]; /* a signal being typed; "" when none */
	int prompting;
	struct ipc_client logc;
	int logon;
	char logapp[128]; /* whose logs the pane follows */
	uint32_t logid;
	char *log[LOG_KEEP];
	int nlog;     /* lines in log[], oldest first */
	char **frame; /* the last frame drawn, for "changed?" */
	int frame_h, frame_w;
};

static volatile sig_atomic_t got_signal;

static void
on_signal(int sig)
{
	got_signal = sig;
}

/* One request on client c, one final reply: 0 and *data, or -1 and err. */
static int
call(struct ipc_client *c, const char *cmd, json_t *args, json_t **data,
    char *err, size_t errlen)
{
	json_t *reply, *e;
	uint32_t id;
	int r;

	*data = NULL;
	if ((r = ipc_client_send(c, cmd, args, &id)) != 0) {
		snprintf(err, errlen, "the daemon went away (%s)",
		    strerror(-r));
		return -2;
	}
	for (;;) {
		if ((r = ipc_client_recv(c, &reply, REPLY_WAIT_MS)) != 0) {
			snprintf(err, errlen, "%s",
			    r == -ETIMEDOUT ?
				"the daemon did not answer in time" :
				"the daemon went away");
			return r == -ETIMEDOUT ? -1 : -2;
		}
		if (util_json_int(reply, "id", -1) == id &&
		    !util_json_bool(reply, "more", 0))
			break;
		if (util_json_int(reply, "id", -1) == id &&
		    !util_json_bool(reply, "ok", 0))
			break;
		json_decref(reply);
	}
	if (!util_json_bool(reply, "ok", 0)) {
		e = json_object_get(reply, "error");
		snprintf(err, errlen, "%s",
		    util_json_str(e, "message", "failed"));
		json_decref(reply);
		return -1;
	}
	*data = json_incref(json_object_get(reply, "data"));
	json_decref(reply);
	return 0;
}

static int
row_cmp_key(const json_t *a, const json_t *b, int sort)
{
	double x = 0, y = 0;

	switch (sort) {
	case 1:
		x = json_number_value(json_object_get(a, "cpu"));
		y = json_number_value(json_object_get(b, "cpu"));
		break;
	case 2:
		x = (double)util_json_int(a, "memory", 0);
		y = (double)util_json_int(b, "memory", 0);
		break;
	case 3:
		x = (double)util_json_int(a, "restarts", 0);
		y = (double)util_json_int(b, "restarts", 0);
		break;
	case 4:
		x = (double)util_json_int(a, "uptime_ms", 0);
		y = (double)util_json_int(b, "uptime_ms", 0);
		break;
	default:
		break;
	}
	if (x != y)
		return x > y ? -1 : 1; /* biggest first */
	x = (double)util_json_int(a, "id", 0);
	y = (double)util_json_int(b, "id", 0);
	if (x != y)
		return x < y ? -1 : 1;
	return (int)(util_json_int(a, "instance", 0) -
	    util_json_int(b, "instance", 0));
}

static int cur_sort;

static int
row_cmp(const void *pa, const void *pb)
{
	return row_cmp_key(*(json_t *const *)pa, *(json_t *const *)pb,
	    cur_sort);
}

static void
label_of(const json_t *row, char *buf, size_t len)
{
	snprintf(buf, len, "%s:%lld", util_json_str(row, "name", "?"),
	    (long long)util_json_int(row, "instance", 0));
}

/* Sort rows in place and find the selection again by its name. */
static void
sort_rows(struct monit *m)
{
	size_t n = json_array_size(m->rows), i;
	json_t **v, *sorted;
	char label[160];

	if (n == 0) {
		m->sel = 0;
		return;
	}
	if ((v = calloc(n, sizeof *v)) == NULL)
		return;
	for (i = 0; i < n; i++)
		v[i] = json_array_get(m->rows, i);
	cur_sort = m->sort;
	qsort(v, n, sizeof *v, row_cmp);
	sorted = json_array();
	for (i = 0; i < n; i++)
		json_array_append(sorted, v[i]);
	free(v);
	json_decref(m->rows);
	m->rows = sorted;
	for (i = 0; i < n; i++) {
		label_of(json_array_get(m->rows, i), label, sizeof label);
		if (strcmp(label, m->selname) == 0) {
			m->sel = (int)i;
			return;
		}
	}
	if (m->sel >= (int)n)
		m->sel = (int)n - 1;
	label_of(json_array_get(m->rows, (size_t)m->sel), m->selname,
	    sizeof m->selname);
}

/* Ask for the list: 0, or -1 when the daemon is gone (err says so). */
static int
refresh_list(struct monit *m, char *err, size_t errlen)
{
	json_t *rows;
	int r;

	r = call(&m->ctx->client, "list", NULL, &rows, err, errlen);
	if (r == -2)
		return -1;
	if (r != 0)
		return 0; /* a slow answer: try again next time */
	json_decref(m->rows);
	m->rows = rows;
	sort_rows(m);
	return 0;
}

static void
log_add(struct monit *m, const json_t *e)
{
	char *s;

	if (asprintf(&s, "%lld| %s", (long long)util_json_int(e, "instance", 0),
		util_json_str(e, "line", "")) == -1)
		return;
	if (m->nlog == LOG_KEEP) {
		free(m->log[0]);
		memmove(m->log, m->log + 1, (LOG_KEEP - 1) * sizeof *m->log);
		m->nlog--;
	}
	m->log[m->nlog++] = s;
}

static void
log_close(struct monit *m)
{
	int i;

	if (m->logon)
		ipc_client_close(&m->logc);
	m->logon = 0;
	for (i = 0; i < m->nlog; i++)
		free(m->log[i]);
	m->nlog = 0;
	m->logapp[0] = '\0';
}

/* Follow app's logs on the second connection (the last n lines first). */
static void
log_follow(struct monit *m, const char *app, int n)
{
	if (m->logon && strcmp(m->logapp, app) == 0)
		return;
	log_close(m);
	snprintf(m->logapp, sizeof m->logapp, "%s", app);
	if (ipc_client_connect(&m->logc, m->ctx->sock) != 0)
		return;
	m->logon = 1;
	if (ipc_client_send(&m->logc, "logs",
		json_pack("{s:[s], s:i, s:b}", "targets", app, "lines", n,
		    "follow", 1),
		&m->logid) != 0)
		log_close(m);
}

/* Take what the log connection has: 1 when lines came. */
static int
log_drain(struct monit *m)
{
	json_t *reply, *e;
	size_t i;
	int got = 0;

	while (m->logon && ipc_client_recv(&m->logc, &reply, 1) == 0) {
		json_array_foreach(json_object_get(json_object_get(reply,
						       "data"),
				       "lines"),
		    i, e) {
			log_add(m, e);
			got = 1;
		}
		json_decref(reply);
	}
	return got;
}

/* --- the frame ------------------------------------------------------------ */

/* Lines of the frame, each at most w characters; line 0 is the title. */
struct frame {
	char **line;
	int *attr; /* 0, 1 header, 2 selected, 3 title, 4 help */
	int h, w;
};

static void frame_set(struct frame *f, int y, int attr, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
frame_set(struct frame *f, int y, int attr, const char *fmt, ...)
{
	va_list ap;

	if (y < 0 || y >= f->h)
		return;
	va_start(ap, fmt);
	vsnprintf(f->line[y], (size_t)f->w + 1, fmt, ap);
	va_end(ap);
	f->attr[y] = attr;
}

static int
frame_init(struct frame *f, int h, int w)
{
	int y;

	f->h = h;
	f->w = w;
	f->line = calloc((size_t)h, sizeof *f->line);
	f->attr = calloc((size_t)h, sizeof *f->attr);
	if (f->line == NULL || f->attr == NULL)
		return -1;
	for (y = 0; y < h; y++)
		if ((f->line[y] = calloc((size_t)w + 1, 1)) == NULL)
			return -1;
	return 0;
}

static void
frame_release(struct frame *f)
{
	int y;

	for (y = 0; f->line != NULL && y < f->h; y++)
		free(f->line[y]);
	free(f->line);
	free(f->attr);
	f->line = NULL;
	f->attr = NULL;
}

/* How many log lines the pane shows in a frame of height h. */
static int
log_rows(int h)
{
	return h >= 16 ? (h - 4) / 3 : h >= 10 ? 2 : 0;
}

/* Render the whole screen for h rows and w columns. */
static void
frame_build(struct monit *m, struct frame *f)
{
	int h = f->h, w = f->w, nlog = log_rows(h), tab, y, i, first, apps = 0;
	size_t n = json_array_size(m->rows), k;
	char label[160], up[32], mem[32], last[16];
	const char *prev = NULL;
	json_t *r;

	json_array_foreach(m->rows, k, r) {
		if (prev == NULL ||
		    strcmp(prev, util_json_str(r, "name", "")) != 0)
			apps++;
		prev = util_json_str(r, "name", "");
	}
	frame_set(f, 0, 3,
	    "clusterctl monit  %d app%s, %zu instance%s  "
	    "sorted by %s",
	    apps, apps == 1 ? "" : "s", n, n == 1 ? "" : "s",
	    sort_names[m->sort]);
	frame_set(f, 1, 1, "%-18s %7s %-9s %7s %4s %-8s %5s %8s", "instance",
	    "pid", "status", "uptime", "rst", "last", "cpu", "memory");
	/* Rows for the table: all but title, header, log pane, help. */
	tab = h - 3 - (nlog > 0 ? nlog + 1 : 0);
	if (tab < 1)
		tab = 1;
	first = m->sel >= tab ? m->sel - tab + 1 : 0;
	for (y = 0; y < tab; y++) {
		if ((size_t)(first + y) >= n) {
			if (n == 0 && y == 0)
				frame_set(f, 2, 0,
				    "no apps (start one: "
				    "clusterctl start <script>)");
			continue;
		}
		r = json_array_get(m->rows, (size_t)(first + y));
		label_of(r, label, sizeof label);
		if (json_is_integer(json_object_get(r, "pid")))
			format_duration(up, sizeof up,
			    util_json_int(r, "uptime_ms", 0));
		else
			snprintf(up, sizeof up, "-");
		format_bytes(mem, sizeof mem, util_json_int(r, "memory", 0));
		snprintf(last, sizeof last, "%s",
		    util_json_str(r, "restart_reason", "-"));
		if (json_is_integer(json_object_get(r, "pid")))
			frame_set(f, 2 + y, first + y == m->sel ? 2 : 0,
			    "%-18.18s %7lld %-9s %7s %4lld %-8s %4.0f%% %8s",
			    label, (long long)util_json_int(r, "pid", 0),
			    util_json_str(r, "status", "?"), up,
			    (long long)util_json_int(r, "restarts", 0), last,
			    json_number_value(json_object_get(r, "cpu")), mem);
		else
			frame_set(f, 2 + y, first + y == m->sel ? 2 : 0,
			    "%-18.18s %7s %-9s %7s %4lld %-8s %5s %8s", label,
			    "-", util_json_str(r, "status", "?"), up,
			    (long long)util_json_int(r, "restarts", 0), last,
			    "-", "-");
	}
	if (nlog > 0) {
		y = 2 + tab;
		frame_set(f, y++, 1, "-- logs of %s %.*s",
		    m->logapp[0] != '\0' ? m->logapp : "(none)", w,
		    "----------------------------------"
		    "----------------------------------------------------------"
		    "----------------------------------------------------------");
		first = m->nlog > nlog ? m->nlog - nlog : 0;
		for (i = first; i < m->nlog && y < h - 1; i++)
			frame_set(f, y++, 0, "%s", m->log[i]);
	}
	if (m->prompting)
		frame_set(f, h - 1, 4,
		    "signal to %s: %s_  (Enter sends, Esc "
		    "cancels)",
		    m->selname, m->prompt);
	else if (m->msg[0] != '\0')
		frame_set(f, h - 1, 4, "%s", m->msg);
	else
		frame_set(f, h - 1, 4,
		    "up/down select  s sort  r restart  "
		    "l reload  x stop  +/- scale  K signal  q quit");
}

/* --- actions -------------------------------------------------------------- */

/*
 * One action on its own connection, so a long one (reload) never holds
 * the screen: the first reply (or error) is its result; the daemon goes
 * on when we hang up.
 */
static void
act(struct monit *m, const char *cmd, json_t *args, const char *what)
{
	struct ipc_client c;
	json_t *reply;
	uint32_t id;
	int r;

	if (ipc_client_connect(&c, m->ctx->sock) != 0) {
		json_decref(args);
		snprintf(m->msg, sizeof m->msg, "cannot reach the daemon");
		return;
	}
	if ((r = ipc_client_send(&c, cmd, args, &id)) != 0) {
		snprintf(m->msg, sizeof m->msg, "%s: %s", what, strerror(-r));
		ipc_client_close(&c);
		return;
	}
	r = ipc_client_recv(&c, &reply, REPLY_WAIT_MS);
	if (r == 0 && !util_json_bool(reply, "ok", 0))
		snprintf(m->msg, sizeof m->msg, "%s: %s", what,
		    util_json_str(json_object_get(reply, "error"), "message",
			"failed"));
	else if (r == 0 &&
	    json_is_array(
		json_object_get(json_object_get(reply, "data"), "done"))) {
		json_t
		    *d = json_array_get(json_object_get(json_object_get(reply,
							    "data"),
					    "done"),
			0);

		snprintf(m->msg, sizeof m->msg, "%s: sent to pid %lld", what,
		    (long long)util_json_int(d, "pid", 0));
	} else
		snprintf(m->msg, sizeof m->msg, "%s: %s", what,
		    r == 0 ? "done" : "under way");
	if (r == 0)
		json_decref(reply);
	ipc_client_close(&c);
}

static void
key(struct monit *m, int ch)
{
	json_t *row = json_array_get(m->rows, (size_t)m->sel);
	const char *app = util_json_str(row, "name", NULL);
	char what[256];
	size_t n = json_array_size(m->rows), len;

	if (m->prompting) {
		len = strlen(m->prompt);
		if (ch == 27) {
			m->prompting = 0;
		} else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
			m->prompting = 0;
			snprintf(what, sizeof what, "%s to %s", m->prompt,
			    m->selname);
			act(m, "signal",
			    json_pack("{s:s, s:[s]}", "signal", m->prompt,
				"targets", m->selname),
			    what);
		} else if ((ch == KEY_BACKSPACE || ch == 127 || ch == 8) &&
		    len > 0)
			m->prompt[len - 1] = '\0';
		else if (ch > ' ' && ch < 127 && len + 1 < sizeof m->prompt) {
			m->prompt[len] = (char)ch;
			m->prompt[len + 1] = '\0';
		}
		return;
	}
	m->msg[0] = '\0';
	switch (ch) {
	case KEY_UP:
	case 'k':
		if (m->sel > 0)
			m->sel--;
		break;
	case KEY_DOWN:
	case 'j':
		if ((size_t)m->sel + 1 < n)
			m->sel++;
		break;
	case KEY_HOME:
		m->sel = 0;
		break;
	case KEY_END:
		m->sel = n > 0 ? (int)n - 1 : 0;
		break;
	case 's':
		m->sort = (m->sort + 1) % NSORT;
		sort_rows(m);
		return;
	case 'r':
		if (app != NULL)
			act(m, "restart",
			    json_pack("{s:[s], s:b}", "targets", m->selname,
				"wait", 0),
			    "restart");
		return;
	case 'x':
		if (app != NULL)
			act(m, "stop",
			    json_pack("{s:[s], s:b}", "targets", m->selname,
				"wait", 0),
			    "stop");
		return;
	case 'l':
		if (app != NULL) {
			snprintf(what, sizeof what, "reload of %s", app);
			act(m, "reload", json_pack("{s:[s]}", "targets", app),
			    what);
		}
		return;
	case '+':
	case '-':
		if (app != NULL) {
			snprintf(what, sizeof what, "scale %s %c1", app, ch);
			act(m, "scale",
			    json_pack("{s:s, s:i, s:b, s:b}", "target", app,
				"count", ch == '+' ? 1 : -1, "relative", 1,
				"wait", 0),
			    what);
		}
		return;
	case 'K':
		if (app != NULL) {
			m->prompting = 1;
			snprintf(m->prompt, sizeof m->prompt, "SIG");
		}
		return;
	default:
		return;
	}
	row = json_array_get(m->rows, (size_t)m->sel);
	if (row != NULL)
		label_of(row, m->selname, sizeof m->selname);
}

/* --- the screen ----------------------------------------------------------- */

/* Draw f where it differs from the last frame: 1 when anything did. */
static int
draw(struct monit *m, struct frame *f)
{
	int y, changed = 0, resized = f->h != m->frame_h || f->w != m->frame_w;

	if (resized) {
		for (y = 0; m->frame != NULL && y < m->frame_h; y++)
			free(m->frame[y]);
		free(m->frame);
		m->frame = calloc((size_t)f->h, sizeof *m->frame);
		m->frame_h = f->h;
		m->frame_w = f->w;
		clear();
	}
	for (y = 0; y < f->h; y++) {
		char key[8];

		snprintf(key, sizeof key, "%d", f->attr[y]);
		if (!resized && m->frame != NULL && m->frame[y] != NULL &&
		    m->frame[y][0] == key[0] &&
		    strcmp(m->frame[y] + 1, f->line[y]) == 0)
			continue;
		changed = 1;
		if (m->frame != NULL) {
			free(m->frame[y]);
			if (asprintf(&m->frame[y], "%s%s", key, f->line[y]) ==
			    -1)
				m->frame[y] = NULL;
		}
		move(y, 0);
		clrtoeol();
		attrset(f->attr[y] == 1 ? A_BOLD :
			f->attr[y] == 2 ? A_REVERSE :
			f->attr[y] == 3 ? A_BOLD :
			f->attr[y] == 4 ? A_DIM :
					  A_NORMAL);
		mvaddnstr(y, 0, f->line[y], f->w);
		attrset(A_NORMAL);
	}
	if (changed) {
		move(f->h - 1, f->w - 1);
		refresh();
	}
	return changed;
}

static void
monit_release(struct monit *m)
{
	int y;

	log_close(m);
	json_decref(m->rows);
	for (y = 0; m->frame != NULL && y < m->frame_h; y++)
		free(m->frame[y]);
	free(m->frame);
}

/* One frame as text on stdout: the table and the selected app's logs. */
static int
print_once(struct monit *m)
{
	struct frame f;
	char err[256];
	int y, w = term_width(), h = 24;
	json_t *data = NULL, *e;
	size_t i;

	if (w <= 0)
		w = 80;
	if (refresh_list(m, err, sizeof err) != 0 || m->rows == NULL)
		return cmd_error(EXIT_UNREACHABLE, "%s", err);
	if (json_array_size(m->rows) > 0) {
		snprintf(m->logapp, sizeof m->logapp, "%s",
		    util_json_str(json_array_get(m->rows, 0), "name", ""));
		if (call(&m->ctx->client, "logs",
			json_pack("{s:[s], s:i}", "targets", m->logapp, "lines",
			    log_rows(h)),
			&data, err, sizeof err) == 0)
			json_array_foreach(json_object_get(data, "lines"), i, e)
				log_add(m, e);
		json_decref(data);
	}
	/* As tall as the table needs, not the screen. */
	h = (int)json_array_size(m->rows) + 4 + log_rows(24) + 1;
	if (h < 24)
		h = 24;
	if (frame_init(&f, h, w) != 0) {
		frame_release(&f);
		return cmd_error(EXIT_FAIL, "out of memory");
	}
	frame_build(m, &f);
	for (y = 0; y < f.h; y++)
		if (f.line[y][0] != '\0')
			printf("%s\n", f.line[y]);
	frame_release(&f);
	return 0;
}

static int
exec_monit(struct cmd_ctx *ctx)
{
	struct monit m;
	struct sigaction sa;
	struct pollfd pfd[2];
	struct frame f;
	SCREEN *scr;
	long long next = 0, now;
	const char *s = cmd_opt(ctx, "sort");
	char err[256] = "";
	int rc = 0, ch, i, gone = 0;

	memset(&m, 0, sizeof m);
	m.ctx = ctx;
	for (i = 0; s != NULL && i < NSORT; i++)
		if (strcmp(s, sort_names[i]) == 0 ||
		    (strcmp(s, "mem") == 0 && i == 2))
			break;
	if (s != NULL && i == NSORT)
		return cmd_usage_error(ctx,
		    "cannot sort by '%s' (name, cpu, "
		    "memory, restarts or uptime)",
		    s);
	m.sort = s != NULL ? i : 0;
	if (!cmd_flag(ctx, "once") && (!isatty(0) || !isatty(1)))
		return cmd_error(EXIT_FAIL,
		    "monit needs a terminal (for one "
		    "frame as text: clusterctl monit --once)");
	if ((rc = cmd_connect(ctx, 1)) != 0)
		return rc;
	if (cmd_flag(ctx, "once")) {
		rc = print_once(&m);
		monit_release(&m);
		return rc;
	}
	if (curses_load(err, sizeof err) != 0) {
		monit_release(&m);
		return cmd_error(EXIT_FAIL, "%s; monit --once needs no ncurses",
		    err);
	}
	/* Ours before curses starts, so it leaves them to us. */
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	if ((scr = newterm(NULL, stdout, stdin)) == NULL)
		return cmd_error(EXIT_FAIL,
		    "monit cannot use this terminal "
		    "(TERM=%s)",
		    getenv("TERM") != NULL ? getenv("TERM") : "");
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	nodelay(stdscr, TRUE);
	curs_set(0);
	while (!got_signal) {
		now = util_now_ms();
		if (now >= next) {
			if (refresh_list(&m, err, sizeof err) != 0) {
				gone = 1;
				break;
			}
			next = now + REFRESH_MS;
		}
		if (json_array_size(m.rows) > 0)
			log_follow(&m,
			    util_json_str(json_array_get(m.rows, (size_t)m.sel),
				"name", ""),
			    log_rows(LINES) + 1);
		else
			log_close(&m);
		log_drain(&m);
		if (frame_init(&f, LINES, COLS) == 0) {
			frame_build(&m, &f);
			draw(&m, &f);
		}
		frame_release(&f);
		pfd[0].fd = 0;
		pfd[0].events = POLLIN;
		pfd[1].fd = m.logon ? m.logc.fd : -1;
		pfd[1].events = POLLIN;
		now = util_now_ms();
		if (poll(pfd, 2, next > now ? (int)(next - now) : 0) == -1 &&
		    errno != EINTR)
			break;
		if (pfd[1].revents & (POLLHUP | POLLERR)) {
			log_drain(&m);
			log_close(&m); /* followed again next turn */
		}
		while ((ch = getch()) != ERR) {
			if (ch == 'q' || ch == 'Q' ? !m.prompting : 0)
				goto out;
			if (ch == KEY_RESIZE)
				continue; /* LINES and COLS are new */
			key(&m, ch);
			next = 0; /* show the action's effect now */
		}
	}
out:
	endwin();
	delscreen(scr);
	monit_release(&m);
	if (gone)
		return cmd_error(EXIT_UNREACHABLE, "%s", err);
	return got_signal == SIGINT ? 130 : 0;
}

const struct cmd_entry cmd_monit_entry = {
	.name = "monit",
	.aliases = "dashboard",
	.usage = "monit [options]",
	.summary =
	    "Watch every instance full-screen (cpu, memory, restarts, logs) and "
	    "act on them",
	.options = options,
	.flags = CMD_DAEMON,
	.max_args = 0,
	.example = "clusterctl monit",
	.exec = exec_monit,
};
