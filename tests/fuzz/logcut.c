/*
 * Fuzz target: the log line cutter (core/capture.c: take, cut_long,
 * flush_line, emit), fed any bytes an app may write (NUL, invalid UTF-8,
 * control characters, lines of megabytes) in reads of any size, as
 * read_cb gets them (the carried line copied before each read, as
 * alloc_cb does).  Included whole to reach its static functions.  What
 * the file gets is checked: every line ends, none is longer than the
 * limit and its mark, and, when no line needed cutting, the file holds
 * exactly the bytes written (a partial last line gets its newline).  The
 * first byte picks the format, the second the read size.
 */

#include "../../core/capture.c"
#include "tmpdir.h"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int LLVMFuzzerInitialize(int *, char ***);

static char dir[] = "/tmp/clusterctl-fuzz-logcut-XXXXXX";
static char path[sizeof dir + 16];
static int rfd; /* the file, to read back */
static char *back;
static size_t backcap;

static void
cleanup(void)
{
	tmpdir_remove(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int fd;

	(void)argc;
	(void)argv;
	if (mkdtemp(dir) == NULL)
		abort();
	home = dir;
	atexit(cleanup);
	(void)log_open("/dev/null");
	daemon_loop_init();
	snprintf(path, sizeof path, "%s/out.log", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) == -1)
		abort();
	close(fd);
	if ((rfd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		abort();
	return 0;
}

/* What the file holds now. */
static size_t
read_back(void)
{
	struct stat st;
	ssize_t n;

	if (fstat(rfd, &st) != 0)
		abort();
	if ((size_t)st.st_size + 1 > backcap) {
		backcap = (size_t)st.st_size + 1;
		if ((back = realloc(back, backcap)) == NULL)
			abort();
	}
	n = pread(rfd, back, (size_t)st.st_size, 0);
	if (n != st.st_size)
		abort();
	return (size_t)n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct creds own; /* set 0: the daemon's own */
	struct app_logs l;
	struct logpipe lp;
	const char *in, *p, *nl, *end;
	size_t n, step, off, k, got, longest = 0;

	if (size < 2)
		return 0;
	memset(&l, 0, sizeof l);
	memset(&lp, 0, sizeof lp);
	lp.src.stream = 1;
	lp.src.app = (char *)"fz";
	lp.src.format = data[0] % 3;
	(void)logf_flush(path, &own);
	if (logf_sink_init(&lp.sink[0], path, &l) != 0)
		abort();
	lp.sink[0].owner = &lp;
	lp.nsinks = 1;
	step = (size_t)data[1] * 257 % READ_BYTES + 1;
	in = (const char *)data + 2;
	n = size - 2;
	for (off = 0; off < n; off += k) {
		k = n - off < step ? n - off : step;
		if (lp.line.len > 0)
			memcpy(rbuf, lp.line.p, lp.line.len);
		memcpy(rbuf + lp.line.len, in + off, k);
		take(&lp, rbuf, k);
	}
	flush_line(&lp);
	buf_release(&lp.line);
	logf_sink_release(&lp.sink[0]);

	got = read_back();
	for (p = back, end = back + got; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			abort(); /* every line ends */
		if (lp.src.format == LOGFMT_RAW &&
		    (size_t)(nl - p) > LINE_MAX_BYTES + CUT_MARK_LEN)
			abort();
	}
	if (lp.src.format != LOGFMT_RAW)
		return 0;
	for (p = in, end = in + n; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			nl = end;
		if ((size_t)(nl - p) > longest)
			longest = (size_t)(nl - p);
	}
	if (longest <= LINE_MAX_BYTES) {
		/* Nothing cut: the same bytes, and a newline at the end. */
		if (got != n + (n > 0 && in[n - 1] != '\n') ||
		    memcmp(back, in, n) != 0)
			abort();
	}
	return 0;
}
