/*
 * The CLI: a table of commands (tmux cmd-*.c), each one file exporting one
 * entry.  Help, the man page's command list and the completions are
 * generated from the same table.
 */
#ifndef CMD_H
#define CMD_H

#include <stdio.h>

#include <jansson.h>

#include "../ipc/proto.h"

/* Exit codes: docs/exit-codes.md. */
#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_NOTFOUND 3
#define EXIT_UNREACHABLE 4
#define EXIT_TIMEOUT 5
#define EXIT_APPFAILED 6

/* What a flag's value is, for completion. */
#define VAL_NONE NULL
#define VAL_FILE "@file"
#define VAL_DIR "@dir"
#define VAL_SIGNAL "@signal"
#define VAL_TARGET "@target"
#define VAL_ENVNAME "@envname" /* env_NAME of the process file typed */
#define VAL_APPNAME "@appname" /* an app of the process file typed */

/* An option whose value is optional (--watch or --watch=PATHS): its arg
 * is written "[=NAME]". */
#define OPT_OPTIONAL(o) ((o)->arg != NULL && (o)->arg[0] == '[')

struct cmd_option {
	const char *name;   /* long name, without "--" */
	char short_name;    /* or 0 */
	const char *arg;    /* the value's name in help, NULL for a flag */
	const char *help;   /* what it does, with its default */
	const char *values; /* fixed choices ("max -1") or a VAL_ kind */
	int repeat;	    /* may be given more than once */
};

/* Preconditions. */
#define CMD_DAEMON 0x1	 /* talks to the daemon */
#define CMD_NO_START 0x2 /* ... but never starts one */
#define CMD_TARGETS 0x4	 /* positional arguments are targets */
#define CMD_REST 0x8	 /* takes arguments after -- */
#define CMD_HIDDEN 0x10	 /* not in help or completion */
#define CMD_NEGNUM 0x20	 /* "-1" is an argument, not an option */
#define CMD_FILES 0x40	 /* takes a process file (completion offers them) */

struct cmd_ctx;

struct cmd_entry {
	const char *name;
	const char *aliases; /* space separated, or NULL */
	const char *usage;   /* after "clusterctl " */
	const char *summary;
	const struct cmd_option *options; /* ends with a zeroed entry */
	int flags;
	int min_args;
	int max_args; /* -1: any */
	const char *example;
	int (*exec)(struct cmd_ctx *);
};

struct cmd_ctx {
	const struct cmd_entry *entry;
	int argc; /* positional arguments */
	char **argv;
	int nrest; /* arguments after -- */
	char **rest;
	char ***vals; /* per option: NULL-terminated values given */
	int json;
	int quiet;
	int color;  /* colour on stdout */
	int ecolor; /* colour on stderr */
	const char *home;
	char sock[4096];
	struct ipc_client client;
	int connected;
};

extern const struct cmd_entry *cmd_table[];
extern const struct cmd_option cmd_global_options[];
extern const char *progname;

const struct cmd_entry *cmd_find(const char *, const char **);
int cmd_option_sets(const struct cmd_entry *, const struct cmd_option *[3]);
const struct cmd_entry *cmd_shares_options(const struct cmd_entry *);
const char *cmd_option_alias(const struct cmd_option *);
int cmd_parse(const struct cmd_entry *, int, char **, struct cmd_ctx *);
void cmd_ctx_release(struct cmd_ctx *);
const char *cmd_opt(const struct cmd_ctx *, const char *);
char **cmd_opt_all(const struct cmd_ctx *, const char *);
int cmd_flag(const struct cmd_ctx *, const char *);
void cmd_usage(const struct cmd_entry *, FILE *);
void cmd_help(const struct cmd_entry *, FILE *);
void cmd_help_all(FILE *);

int cmd_error(int, const char *, ...) __attribute__((format(printf, 2, 3)));
int cmd_usage_error(const struct cmd_ctx *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* cmd.c: a duration option */
int cmd_parse_ms(const struct cmd_ctx *, const char *, int64_t *);

/* main.c: the home and the daemon connection */
int cmd_connect(struct cmd_ctx *, int);
const char *cmd_home_path(void);

/* request.c: requests and replies */
int cmd_call(struct cmd_ctx *, const char *, json_t *, json_t **);
int cmd_call_capture(struct cmd_ctx *, const char *, json_t *, json_t **,
    char *, size_t);
int cmd_call_stream(struct cmd_ctx *, const char *, json_t *,
    int (*)(struct cmd_ctx *, json_t *, void *), void *, int);
int cmd_reply_status(const json_t *, json_t **);
json_t *cmd_targets(const struct cmd_ctx *);
int cmd_act_on_targets(struct cmd_ctx *, const char *);
int cmd_act_on(struct cmd_ctx *, const char *, json_t *);

/* cmd-reload.c: one step of a reload, printed */
int cmd_reload_show(struct cmd_ctx *, json_t *, void *);

/* cmd-start.c: the table of apps a command acted on; the environment */
int cmd_show_apps(struct cmd_ctx *, const json_t *);
json_t *cmd_environ_json(void);

/* cmd-save.c */
const char *cmd_dump_path(const struct cmd_ctx *, char *, size_t);

/* operate.c: the options of the triggers that replace instances, which
 * start and set share. */
#define OPERATE_OPTIONS                                                               \
	{ "max-memory-restart", 0, "SIZE",                                            \
		"replace an instance (through a "                                     \
		"reload) when its process tree uses more than SIZE (300M, 1G; "       \
		"set: 0 removes it); sampled every second (default: no limit)",       \
		NULL, 0 },                                                            \
	    { "watch", 0, "[=PATHS]",                                                 \
		    "reload the app when a file changes under "                       \
		    "its working directory, or under PATHS (comma separated or "      \
		    "repeated; as with pm2, --watch PATHS takes the next word when "  \
		    "it is not an option); .git, node_modules and its logs are "      \
		    "ignored",                                                        \
		    VAL_DIR, 1 },                                                     \
	    { "ignore-watch", 0, "GLOB",                                              \
		    "do not watch paths matching GLOB "                               \
		    "(e.g. 'uploads/*', '*.log'; repeatable; default: none besides "  \
		    ".git, node_modules and the app's logs)",                         \
		    NULL, 1 },                                                        \
	    { "watch-delay", 0, "MS",                                                 \
		    "reload this long after the last change "                         \
		    "(default 1000ms): one save, one reload",                         \
		    NULL, 0 },                                                        \
	    { "no-watch", 0, NULL, "stop watching (set)", NULL, 0 },                  \
	{                                                                             \
		"cron-restart", 0, "EXPR",                                            \
		    "reload the app at each match of a cron "                         \
		    "expression ('0 3 * * *', '@hourly'; local time), and start it "  \
		    "again if it had exited (set: 'none' removes it; default: none)", \
		    NULL, 0                                                           \
	}
int cmd_operate_spec(struct cmd_ctx *, json_t *);

/* cmd-start.c, cmd-run.c: run takes start's options */
int cmd_start_build(struct cmd_ctx *, json_t *);
int cmd_run_exec(struct cmd_ctx *);

/* output.c */
void cmd_print_json(const json_t *);
int term_width(void);
void print_table(const struct cmd_ctx *, const json_t *);
void format_duration(char *, size_t, int64_t);
void format_bytes(char *, size_t, int64_t);
const char *color_status(const struct cmd_ctx *, const char *);
const char *color_reset(const struct cmd_ctx *);

#endif
