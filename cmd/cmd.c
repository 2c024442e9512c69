/*
 * The command table, lookup (exact name, alias, then unique prefix),
 * option parsing and help, all driven by the entries.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../ipc/util.h"
#include "cmd.h"

extern const struct cmd_entry cmd_start_entry, cmd_stop_entry,
    cmd_restart_entry, cmd_delete_entry, cmd_reset_entry, cmd_list_entry,
    cmd_describe_entry, cmd_ping_entry, cmd_version_entry, cmd_kill_entry,
    cmd_help_entry, cmd_reload_entry, cmd_scale_entry;
extern const struct cmd_entry cmd_wait_entry, cmd_completion_entry,
    cmd_complete_entry, cmd_man_entry;
extern const struct cmd_entry cmd_logs_entry, cmd_flush_entry,
    cmd_reload_logs_entry;
extern const struct cmd_entry cmd_run_entry, cmd_startup_entry,
    cmd_unstartup_entry;
extern const struct cmd_entry cmd_signal_entry, cmd_send_entry,
    cmd_metrics_entry, cmd_monit_entry, cmd_set_entry;
extern const struct cmd_entry cmd_apply_entry, cmd_validate_entry,
    cmd_init_entry, cmd_start_or_restart_entry, cmd_start_or_reload_entry;
extern const struct cmd_entry cmd_save_entry, cmd_resurrect_entry;
extern const struct cmd_entry cmd_pid_entry, cmd_upgrade_entry;

const struct cmd_entry *cmd_table[] = {
	&cmd_start_entry,
	&cmd_run_entry,
	&cmd_stop_entry,
	&cmd_restart_entry,
	&cmd_reload_entry,
	&cmd_scale_entry,
	&cmd_delete_entry,
	&cmd_reset_entry,
	&cmd_list_entry,
	&cmd_describe_entry,
	&cmd_pid_entry,
	&cmd_set_entry,
	&cmd_monit_entry,
	&cmd_signal_entry,
	&cmd_send_entry,
	&cmd_metrics_entry,
	&cmd_logs_entry,
	&cmd_flush_entry,
	&cmd_reload_logs_entry,
	&cmd_wait_entry,
	&cmd_apply_entry,
	&cmd_validate_entry,
	&cmd_init_entry,
	&cmd_start_or_restart_entry,
	&cmd_start_or_reload_entry,
	&cmd_save_entry,
	&cmd_resurrect_entry,
	&cmd_ping_entry,
	&cmd_upgrade_entry,
	&cmd_kill_entry,
	&cmd_startup_entry,
	&cmd_unstartup_entry,
	&cmd_version_entry,
	&cmd_completion_entry,
	&cmd_help_entry,
	&cmd_complete_entry,
	&cmd_man_entry,
	NULL,
};

/* Options every command takes. */
const struct cmd_option cmd_global_options[] = {
	{ "help", 'h', NULL, "show this help", NULL, 0 },
	{ "json", 0, NULL, "print JSON (where the command reports something)",
	    NULL, 0 },
	{ "quiet", 'q', NULL, "print nothing but errors", NULL, 0 },
	{ "no-color", 0, NULL, "no colour (also: NO_COLOR set)", NULL, 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

static int
has_alias(const struct cmd_entry *e, const char *name)
{
	const char *p = e->aliases;
	size_t n = strlen(name);

	while (p != NULL && *p != '\0') {
		const char *sp = strchr(p, ' ');
		size_t len = sp != NULL ? (size_t)(sp - p) : strlen(p);

		if (len == n && strncmp(p, name, n) == 0)
			return 1;
		p = sp != NULL ? sp + 1 : p + len;
	}
	return 0;
}

static size_t
edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), i, j, prev, cur, tmp;
	size_t row[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		prev = row[0];
		row[0] = i;
		for (j = 1; j <= lb; j++) {
			tmp = row[j];
			cur = prev + (a[i - 1] != b[j - 1]);
			if (row[j] + 1 < cur)
				cur = row[j] + 1;
			if (row[j - 1] + 1 < cur)
				cur = row[j - 1] + 1;
			row[j] = cur;
			prev = tmp;
		}
	}
	return row[lb];
}

/*
 * Find a command by exact name, alias, then unique prefix.  On failure
 * *hint is a close command name ("did you mean") or NULL.
 */
const struct cmd_entry *
cmd_find(const char *name, const char **hint)
{
	const struct cmd_entry *e, *found = NULL;
	size_t i, n = strlen(name), best = 3, d;

	*hint = NULL;
	for (i = 0; (e = cmd_table[i]) != NULL; i++)
		if (strcmp(e->name, name) == 0 || has_alias(e, name))
			return e;
	for (i = 0; n > 0 && (e = cmd_table[i]) != NULL; i++) {
		if (e->flags & CMD_HIDDEN)
			continue;
		if (strncmp(e->name, name, n) == 0) {
			if (found != NULL) {
				found = NULL;
				break;
			}
			found = e;
		}
	}
	if (found != NULL)
		return found;
	for (i = 0; (e = cmd_table[i]) != NULL; i++) {
		if (e->flags & CMD_HIDDEN)
			continue;
		if ((d = edit_distance(name, e->name)) < best) {
			best = d;
			*hint = e->name;
		}
	}
	return NULL;
}

/* pm2's long names for options that have another name here. */
static const struct {
	const char *name;
	const char *alias;
} option_aliases[] = {
	{ "out-file", "output" },
	{ "error-file", "error" },
	{ "log-file", "log" },
};

/* The other long name o may be given by (pm2's), or NULL. */
const char *
cmd_option_alias(const struct cmd_option *o)
{
	size_t i;

	for (i = 0; i < sizeof option_aliases / sizeof option_aliases[0]; i++)
		if (strcmp(o->name, option_aliases[i].name) == 0)
			return option_aliases[i].alias;
	return NULL;
}

static size_t
count_options(const struct cmd_option *o)
{
	size_t n = 0;

	while (o != NULL && o[n].name != NULL)
		n++;
	return n;
}

/* Commands that take every option of another one too. */
static const struct {
	const struct cmd_entry *cmd, *from;
} shared_options[] = {
	{ &cmd_run_entry, &cmd_start_entry },
};

/* The command whose options e takes too, or NULL. */
const struct cmd_entry *
cmd_shares_options(const struct cmd_entry *e)
{
	size_t i;

	for (i = 0; i < sizeof shared_options / sizeof shared_options[0]; i++)
		if (shared_options[i].cmd == e)
			return shared_options[i].from;
	return NULL;
}

/*
 * The option tables a command takes, in order: its own, another
 * command's it shares (run takes start's), the global ones.  How many.
 */
int
cmd_option_sets(const struct cmd_entry *e, const struct cmd_option *sets[3])
{
	const struct cmd_entry *from = cmd_shares_options(e);
	int n = 0;

	if (e->options != NULL)
		sets[n++] = e->options;
	if (from != NULL && from->options != NULL)
		sets[n++] = from->options;
	sets[n++] = cmd_global_options;
	return n;
}

/* How many options a command takes, every table included. */
static size_t
count_all_options(const struct cmd_entry *e)
{
	const struct cmd_option *sets[3];
	size_t n = 0;
	int k, nsets = cmd_option_sets(e, sets);

	for (k = 0; k < nsets; k++)
		n += count_options(sets[k]);
	return n;
}

/* The n-th option of a command, counting through its tables. */
static const struct cmd_option *
option_at(const struct cmd_entry *e, size_t i)
{
	const struct cmd_option *sets[3];
	int k, nsets = cmd_option_sets(e, sets);

	for (k = 0; k < nsets; k++) {
		if (i < count_options(sets[k]))
			return &sets[k][i];
		i -= count_options(sets[k]);
	}
	return NULL;
}

/*
 * Parse argv (argv[0] is the command word) against e's options into ctx.
 * 0, or EXIT_USAGE after saying what is wrong.
 */
int
cmd_parse(const struct cmd_entry *e, int argc, char **argv, struct cmd_ctx *ctx)
{
	size_t nopt = count_all_options(e);
	struct option *lo;
	const struct cmd_option *o;
	char shorts[256], *p = shorts, **v;
	const char *alias, *took = NULL, *took_opt = NULL;
	size_t i, n, nlo;
	int c, k, idx, rc = 0;

	ctx->entry = e;
	ctx->vals = calloc(nopt, sizeof *ctx->vals);
	/* Each option's name, then the aliases after them. */
	lo = calloc(2 * nopt + 1, sizeof *lo);
	if (ctx->vals == NULL || lo == NULL) {
		free(lo);
		return cmd_error(EXIT_FAIL, "out of memory");
	}
	*p++ = ':';
	for (i = 0; i < nopt; i++) {
		o = option_at(e, i);
		lo[i].name = o->name;
		lo[i].has_arg = OPT_OPTIONAL(o) ? optional_argument :
		    o->arg != NULL		? required_argument :
						  no_argument;
		lo[i].val = 256 + (int)i;
		if (o->short_name != 0) {
			*p++ = o->short_name;
			if (o->arg != NULL)
				*p++ = ':';
			if (OPT_OPTIONAL(o))
				*p++ = ':';
		}
	}
	*p = '\0';
	for (i = 0, nlo = nopt; i < nopt; i++)
		if ((alias = cmd_option_alias(option_at(e, i))) != NULL) {
			lo[nlo] = lo[i];
			lo[nlo++].name = alias;
		}
	/* What follows the first "--" is the program's, not ours. */
	for (k = 1; k < argc; k++)
		if (strcmp(argv[k], "--") == 0) {
			ctx->rest = argv + k + 1;
			ctx->nrest = argc - k - 1;
			argc = k;
			break;
		}
	/* "scale web -1": a negative number is an argument there; it is
	 * hidden from getopt as "1" and given its sign back below. */
	for (k = 1; (e->flags & CMD_NEGNUM) && k < argc; k++)
		if (argv[k][0] == '-' && argv[k][1] >= '0' && argv[k][1] <= '9')
			argv[k]++;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, shorts, lo, &idx)) != -1) {
		if (c == '?' || c == ':') {
			const char *bad = argv[optind - 1];
			char sb[3] = { '-', (char)optopt, '\0' };

			if (optopt != 0 && optopt < 256)
				bad = sb;
			rc = cmd_usage_error(ctx,
			    c == ':' ? "option '%s' needs a value" :
				       "unknown option '%s'",
			    bad);
			goto out;
		}
		if (c < 256) {
			for (i = 0; i < nopt; i++)
				if (option_at(e, i)->short_name == c)
					break;
		} else
			i = (size_t)(c - 256);
		if (i >= nopt)
			continue;
		o = option_at(e, i);
		/* pm2 (commander's "--watch [paths]") takes the next word as
		 * an optional value when it is not an option: --watch src. */
		if (OPT_OPTIONAL(o) && optarg == NULL && optind < argc &&
		    argv[optind][0] != '-' && argv[optind][0] != '\0') {
			optarg = argv[optind++];
			took = optarg;
			took_opt = o->name;
		}
		v = ctx->vals[i];
		for (n = 0; v != NULL && v[n] != NULL; n++)
			;
		if (n > 0 && !o->repeat) {
			/* The last one wins, as with most tools. */
			n = 0;
		}
		v = realloc(v, (n + 2) * sizeof *v);
		if (v == NULL) {
			rc = cmd_error(EXIT_FAIL, "out of memory");
			goto out;
		}
		v[n] = optarg != NULL ? optarg :
		    OPT_OPTIONAL(o)   ? (char *)"" :
					(char *)"1";
		v[n + 1] = NULL;
		ctx->vals[i] = v;
	}
	ctx->argv = argv + optind;
	ctx->argc = argc - optind;
	for (k = 0; (e->flags & CMD_NEGNUM) && k < ctx->argc; k++)
		if (ctx->argv[k][-1] == '-' && ctx->argv[k][0] >= '0' &&
		    ctx->argv[k][0] <= '9')
			ctx->argv[k]--;
	ctx->json = cmd_flag(ctx, "json");
	ctx->quiet = cmd_flag(ctx, "quiet");
	if (cmd_flag(ctx, "help"))
		goto out;
	if (ctx->nrest > 0 && !(e->flags & CMD_REST)) {
		rc = cmd_usage_error(ctx, "'%s' takes no arguments after --",
		    e->name);
		goto out;
	}
	if (ctx->argc < e->min_args && took != NULL) {
		rc = cmd_usage_error(ctx,
		    "'%s' needs more arguments (--%s took '%s' as its value, "
		    "as pm2 does: put it after the program, or write "
		    "--%s=VALUE)",
		    e->name, took_opt, took, took_opt);
		goto out;
	}
	if (ctx->argc < e->min_args) {
		rc = cmd_usage_error(ctx, "'%s' needs %s", e->name,
		    e->flags & CMD_TARGETS ?
			"a target (a name, an id or 'all')" :
			"more arguments");
		goto out;
	}
	if (e->max_args >= 0 && ctx->argc > e->max_args) {
		rc = cmd_usage_error(ctx, "unexpected argument '%s'",
		    ctx->argv[e->max_args]);
		goto out;
	}
out:
	free(lo);
	return rc;
}

void
cmd_ctx_release(struct cmd_ctx *ctx)
{
	size_t i, n;

	if (ctx->entry != NULL && ctx->vals != NULL) {
		n = count_all_options(ctx->entry);
		for (i = 0; i < n; i++)
			free(ctx->vals[i]);
	}
	free(ctx->vals);
	ctx->vals = NULL;
	if (ctx->connected)
		ipc_client_close(&ctx->client);
	ctx->connected = 0;
}

static ssize_t
option_index(const struct cmd_ctx *ctx, const char *name)
{
	size_t i, n;

	n = count_all_options(ctx->entry);
	for (i = 0; i < n; i++)
		if (strcmp(option_at(ctx->entry, i)->name, name) == 0)
			return (ssize_t)i;
	return -1;
}

/* The value of an option (the last given), or NULL. */
const char *
cmd_opt(const struct cmd_ctx *ctx, const char *name)
{
	ssize_t i = option_index(ctx, name);
	char **v;
	size_t n;

	if (i < 0 || ctx->vals == NULL || (v = ctx->vals[i]) == NULL)
		return NULL;
	for (n = 0; v[n] != NULL; n++)
		;
	return n > 0 ? v[n - 1] : NULL;
}

/* Every value of a repeatable option, NULL-terminated, or NULL. */
char **
cmd_opt_all(const struct cmd_ctx *ctx, const char *name)
{
	ssize_t i = option_index(ctx, name);

	return i < 0 || ctx->vals == NULL ? NULL : ctx->vals[i];
}

int
cmd_flag(const struct cmd_ctx *ctx, const char *name)
{
	return cmd_opt(ctx, name) != NULL;
}

int
cmd_error(int code, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return code;
}

/* A usage error: the message, then the usage line; exit code 2. */
int
cmd_usage_error(const struct cmd_ctx *ctx, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", progname);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	if (ctx != NULL && ctx->entry != NULL) {
		cmd_usage(ctx->entry, stderr);
		fprintf(stderr, "Try '%s %s --help' for more.\n", progname,
		    ctx->entry->name);
	}
	return EXIT_USAGE;
}

void
cmd_usage(const struct cmd_entry *e, FILE *f)
{
	fprintf(f, "usage: %s %s\n", progname, e->usage);
}

/*
 * text from column col (the cursor is there) to the help's width, wrapped
 * at spaces, continued at column col.
 */
static void
put_wrapped(FILE *f, const char *text, size_t col)
{
	size_t width = f == stdout && term_width() > 0 ? (size_t)term_width() :
							 80,
	       room, n, len;

	if (width > 100)
		width = 100;
	room = width > col + 20 ? width - col - 1 : 20;
	while (*text != '\0') {
		len = strlen(text);
		if (len <= room) {
			fprintf(f, "%s\n", text);
			return;
		}
		for (n = room; n > 0 && text[n] != ' '; n--)
			;
		if (n == 0)
			n = strcspn(text, " ");
		fprintf(f, "%.*s\n%*s", (int)n, text, (int)col, "");
		text += n;
		text += strspn(text, " ");
	}
	fputc('\n', f);
}

static void
print_options(const struct cmd_option *o, FILE *f)
{
	char left[64], values[256];

	for (; o != NULL && o->name != NULL; o++) {
		if (o->short_name != 0)
			snprintf(left, sizeof left, "-%c, --%s%s%s",
			    o->short_name, o->name,
			    o->arg && !OPT_OPTIONAL(o) ? " " : "",
			    o->arg ? o->arg : "");
		else
			snprintf(left, sizeof left, "    --%s%s%s", o->name,
			    o->arg && !OPT_OPTIONAL(o) ? " " : "",
			    o->arg ? o->arg : "");
		if (strlen(left) > 28)
			fprintf(f, "  %s\n  %-28s  ", left, "");
		else
			fprintf(f, "  %-28s  ", left);
		put_wrapped(f, o->help, 32);
		if (cmd_option_alias(o) != NULL) {
			snprintf(values, sizeof values, "also --%s",
			    cmd_option_alias(o));
			fprintf(f, "%32s", "");
			put_wrapped(f, values, 32);
		}
		if (o->values != NULL && o->values[0] != '@') {
			snprintf(values, sizeof values, "values: %s",
			    o->values);
			fprintf(f, "%32s", "");
			put_wrapped(f, values, 32);
		}
	}
}

/* Help for one command: usage, summary, options, example. */
void
cmd_help(const struct cmd_entry *e, FILE *f)
{
	cmd_usage(e, f);
	fputc('\n', f);
	put_wrapped(f, e->summary, 0);
	if (e->aliases != NULL)
		fprintf(f, "Aliases: %s\n", e->aliases);
	if (count_options(e->options) > 0) {
		fprintf(f, "\nOptions:\n");
		print_options(e->options, f);
	}
	if (cmd_shares_options(e) != NULL) {
		fprintf(f, "\nOptions of %s:\n", cmd_shares_options(e)->name);
		print_options(cmd_shares_options(e)->options, f);
	}
	fprintf(f, "\nCommon options:\n");
	print_options(cmd_global_options, f);
	if (e->example != NULL)
		fprintf(f, "\nExample:\n  %s\n", e->example);
}

void
cmd_help_all(FILE *f)
{
	const struct cmd_entry *e;
	size_t i;

	fprintf(f,
	    "usage: %s <command> [options] [targets]\n\n"
	    "A process manager: keeps named apps running as clusters of\n"
	    "instances, restarts them when they crash, shares their ports.\n\n"
	    "Commands:\n",
	    progname);
	for (i = 0; (e = cmd_table[i]) != NULL; i++)
		if (!(e->flags & CMD_HIDDEN))
			fprintf(f, "  %-12s  %s\n", e->name, e->summary);
	fprintf(f,
	    "\nTargets: an app name, an app id, name:instance, a namespace, 'all',\n"
	    "/regex/ or a script's file name; start, stop, restart, reload and\n"
	    "delete also take a process file (ecosystem.config.js, .json, .yaml,\n"
	    "Procfile, -).\n"
	    "Environment: CLUSTERCTL_HOME (default ~/.clusterctl), NO_COLOR.\n"
	    "Run '%s help <command>' for a command's options.\n",
	    progname);
}

/* An option that is a duration: 0 (and *ms, unchanged if absent) or 2. */
int
cmd_parse_ms(const struct cmd_ctx *ctx, const char *name, int64_t *ms)
{
	const char *v = cmd_opt(ctx, name);

	if (v == NULL)
		return 0;
	if (util_parse_duration_ms(v, ms) != 0)
		return cmd_usage_error(ctx,
		    "invalid duration '%s' for --%s (say 1600, 500ms, 2s, 1m)",
		    v, name);
	return 0;
}
