/*
 * The apps' log files (docs/logs.md), one job per file:
 *
 *   logs.c           an app's log settings, where each stream goes, and
 *                    the shape of one line as JSON
 *   logfile.c        the registry of open files: writing, waiting for
 *                    room on the disk, rotation and compression
 *   capture.c        reading an instance's stdout and stderr pipes:
 *                    cutting lines, formats, the bulk path
 *   follow.c         tails of files and followers (logs, logs -f)
 *   handlers-logs.c  the logs, flush and reload-logs requests
 *
 * Only handlers-logs.c looks apps up (app.c); the others read an app's
 * settings and an instance's number, and call nothing above them.
 */
#ifndef CORE_LOGS_H
#define CORE_LOGS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>
#include <sys/types.h>

#include <jansson.h>

#include "buf.h"

struct app;
struct instance;
struct req;
struct targets;

/* How an app's lines are written. */
#define LOGFMT_RAW 0  /* the line as the app wrote it */
#define LOGFMT_TIME 1 /* a timestamp (--time, --log-date-format), then it */
#define LOGFMT_JSON 2 /* one JSON object per line (--log-type json) */

/* An app's log settings, from the start request (logs_app_init). */
struct app_logs {
	char *log_file;	   /* -l: out and err combined, or NULL */
	int merge;	   /* one file per stream for all instances */
	int per_instance;  /* -o, -e, -l name one file per instance */
	int format;	   /* LOGFMT_* */
	char *date_format; /* strftime, for LOGFMT_TIME; NULL: ISO 8601 */
	int64_t max_size;  /* rotate at this size; 0: never */
	int retain;	   /* rotated files kept */
	int compress;	   /* gzip rotated files */
	int chown;	   /* files it creates belong to uid:gid (--uid) */
	uid_t uid;
	gid_t gid;
};

/* Who wrote a line: copies, as a pipe may outlive its app. */
struct logsrc {
	char *app;
	int app_id;
	int index;
	int stream; /* 1 stdout, 2 stderr */
	int format; /* LOGFMT_* */
	char *date_format;
};

struct logfile;

/*
 * One writer's way into a file (logfile.c): what it could not write yet
 * waits here, and drained(sink) is called once it is all written.
 */
struct logsink {
	struct logfile *file;
	void (*drained)(struct logsink *);
	void *owner;
	struct buf pend; /* bytes waiting for room on the disk */
	int queued;	 /* in file's wait queue */
	TAILQ_ENTRY(logsink) wentry;
};

/* logs.c */
void logs_init(void);
char *logs_path(const struct app *, int, int);
char *logs_stream_path(const struct app *, int, int);
int logs_stream_shared(const struct app *, int);
const char *logs_stream_name(int);
int logs_app_init(struct app *, const json_t *, char *, size_t);
void logs_spec(const struct app *, json_t *);
void logs_app_release(struct app *);
void logs_describe(const struct app *, int, json_t *);
json_t *logs_entry(const char *, int, const char *, const char *, const char *,
    size_t);
json_t *logs_line_json(const char *, size_t);

/* logfile.c */
struct logs_stats {
	uint64_t bytes_written; /* to log files */
	uint64_t lines_written; /* captured from apps */
	uint64_t bytes_dropped; /* lost: a write error, no memory */
	uint64_t lines_dropped;
};
extern struct logs_stats logs_stats;
uint64_t logs_count_lines(const char *, size_t);
void logf_init(void);
int logf_sink_init(struct logsink *, const char *, const struct app_logs *);
int logf_sink_write(struct logsink *, const char *, size_t);
void logf_sink_release(struct logsink *);
int logf_flush(const char *);
int logf_error(const char *, char *, size_t);
int logf_reopen_all(void);
int logf_open(const char *, int);
int logf_unlink(const char *);
const char *logf_strerror(int);
int logf_refused(int);
json_t *logs_drop_pending(void);
int logf_compressing(void);

/* capture.c */
struct logpipe;
struct logpipe *logpipe_new(const struct instance *, int);
int logpipe_open(struct logpipe *, int *);
int logpipe_start(struct logpipe *);
void logpipe_abort(struct logpipe *);
int logpipe_busy(void);
json_t *logpipe_handover(void);
int logpipe_adopt(const struct app *, int, int, int, const char *, size_t, int);

/* follow.c */
struct follow_tail {
	int lines;	 /* how many last lines of each file */
	json_t *entries; /* what was read, in file order */
	int timed;	 /* every entry has a time */
};

void follow_init(void);
int follow_active(void);
void follow_publish(const struct logsrc *, const char *, size_t, const char *,
    const char *);
void follow_tail_file(struct follow_tail *, const struct app *, int, int, int,
    const char *);
void follow_tail_daemon(struct follow_tail *, const char *);
void follow_tail_sort(struct follow_tail *);
void follow_start(struct req *, json_t *, struct targets *, int, int, int);

/* handlers-logs.c */
void handle_logs(struct req *);
void handle_flush(struct req *);
void handle_reload_logs(struct req *);

#endif
