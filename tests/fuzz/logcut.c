/*
 * Fuzz target: the log line cutter (core/logs.c: take, cut_long,
 * flush_line, emit), fed any bytes an app may write (NUL, invalid UTF-8,
 * control characters, lines of megabytes) in reads of any size.  Included
 * whole to reach its static functions.  What the file gets is checked:
 * no line longer than the limit and its mark, and, when no line needed
 * cutting, exactly the bytes the app wrote (a partial last line gets its
 * newline).  The first byte picks the format, the second the read size.
 */
#include <ftw.h>

#include "../../core/logs.c"

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int LLVMFuzzerInitialize(int *, char ***);

static int
rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static char dir[] = "/tmp/clusterctl-fuzz-logcut-XXXXXX";
static struct logfile *out;
static int rfd; /* out, to read back */
static char *back;
static size_t backcap;

static void
cleanup(void)
{
	(void)nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct app_logs l;
	char path[sizeof dir + 16];

	(void)argc;
	(void)argv;
	if (mkdtemp(dir) == NULL)
		abort();
	home = dir;
	atexit(cleanup);
	(void)log_open("/dev/null");
	daemon_loop_init();
	memset(&l, 0, sizeof l);
	snprintf(path, sizeof path, "%s/out.log", dir);
	if ((out = file_get(path, &l)) == NULL || out->fd == -1 ||
	    (rfd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
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
	struct logpipe lp;
	const char *in, *p, *nl, *end;
	size_t n, step, off, got, longest = 0;

	if (size < 2)
		return 0;
	memset(&lp, 0, sizeof lp);
	lp.stream = 1;
	lp.app = (char *)"fz";
	lp.format = data[0] % 3;
	lp.sink[0].file = out;
	lp.sink[0].pipe = &lp;
	lp.nsinks = 1;
	if (ftruncate(out->fd, 0) != 0)
		abort();
	out->size = 0;
	step = (size_t)data[1] * 257 % 70001 + 1;
	in = (const char *)data + 2;
	n = size - 2;
	for (off = 0; off < n; off += step)
		take(&lp, in + off, n - off < step ? n - off : step);
	flush_line(&lp);
	free(lp.line);

	got = read_back();
	for (p = back, end = back + got; p < end; p = nl + 1) {
		if ((nl = memchr(p, '\n', (size_t)(end - p))) == NULL)
			abort(); /* every line ends */
		if (lp.format == LOGFMT_RAW &&
		    (size_t)(nl - p) > LINE_MAX_BYTES + CUT_MARK_LEN)
			abort();
	}
	if (lp.format != LOGFMT_RAW)
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
