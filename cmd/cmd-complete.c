/*
 * __complete: the words a shell may offer next, computed from the command
 * table (names, aliases, each entry's options and their values) and, for
 * targets, from a running daemon.  The scripts in completions/ are thin
 * wrappers around it, so a new command or flag cannot be forgotten in
 * one shell.
 *
 *	clusterctl __complete [--describe] -- WORD... CURRENT
 *
 * WORD... are the words after "clusterctl" before the cursor's, CURRENT
 * the (possibly empty) word being completed.  One candidate a line;
 * "@file" or "@dir" on a line of its own asks the shell to add file or
 * directory names.  With --describe a candidate may be followed by a tab
 * and a description (fish shows them).
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "cmd.h"
#include "procfile.h"

/* How long completion waits for the daemon before giving up silently. */
#define COMPLETE_TIMEOUT_MS 500

/* Words a command takes as positional arguments, when not targets. */
static const struct {
	const char *cmd;
	const char *values;
} positional[] = {
	{ "help", "@command" },
	{ "completion", "bash zsh fish" },
};

struct out {
	const char *cur;    /* the word being completed */
	const char *prefix; /* printed before each candidate ("--opt=") */
	int describe;
};

/* One candidate, if it extends the current word. */
static void
emit(const struct out *o, const char *word, const char *desc)
{
	if (strncmp(word, o->cur, strlen(o->cur)) != 0)
		return;
	if (o->describe && desc != NULL && *desc != '\0')
		printf("%s%s\t%s\n", o->prefix, word, desc);
	else
		printf("%s%s\n", o->prefix, word);
}

/* Each space separated word of list, as a candidate. */
static void
emit_words(const struct out *o, const char *list, const char *desc)
{
	char w[128];
	size_t n;

	while (list != NULL && *list != '\0') {
		n = strcspn(list, " ");
		if (n > 0 && n < sizeof w) {
			memcpy(w, list, n);
			w[n] = '\0';
			emit(o, w, desc);
		}
		list += n;
		list += strspn(list, " ");
	}
}

/* The visible commands and their aliases. */
static void
emit_commands(const struct out *o)
{
	const struct cmd_entry *e;
	size_t i;

	for (i = 0; (e = cmd_table[i]) != NULL; i++) {
		if (e->flags & CMD_HIDDEN)
			continue;
		emit(o, e->name, e->summary);
		emit_words(o, e->aliases, e->summary);
	}
}

/* The signals that have names (SIGHUP...), for VAL_SIGNAL. */
static void
emit_signals(const struct out *o)
{
	char num[16];
	const char *name;
	int sig;

	for (sig = 1; sig < 32; sig++) {
		name = util_signal_name(sig);
		snprintf(num, sizeof num, "SIG%d", sig);
		if (strcmp(name, num) != 0)
			emit(o, name, NULL);
	}
}

/*
 * Live targets: "all", each app's name and name:N.  Connects only (never
 * starts a daemon, never creates the home) and stays silent on any
 * failure, within COMPLETE_TIMEOUT_MS.
 */
static void
emit_targets(const struct out *o)
{
	struct ipc_client c;
	const char *home, *name;
	json_t *reply = NULL, *rows, *row, *seen;
	char sock[4096], w[512];
	uint32_t id;
	size_t i;

	emit(o, "all", "every app");
	if ((home = cmd_home_path()) == NULL ||
	    (size_t)snprintf(sock, sizeof sock, "%s/sock", home) >= sizeof sock)
		return;
	if (ipc_client_connect(&c, sock) != 0)
		return;
	if (ipc_client_send(&c, "list", NULL, &id) != 0 ||
	    ipc_client_recv(&c, &reply, COMPLETE_TIMEOUT_MS) != 0 ||
	    !util_json_bool(reply, "ok", 0)) {
		json_decref(reply);
		ipc_client_close(&c);
		return;
	}
	ipc_client_close(&c);
	rows = json_object_get(reply, "data");
	seen = json_object();
	json_array_foreach(rows, i, row) {
		name = util_json_str(row, "name", NULL);
		if (name == NULL)
			continue;
		if (json_object_get(seen, name) == NULL) {
			json_object_set_new(seen, name, json_true());
			emit(o, name, "app");
		}
		snprintf(w, sizeof w, "%s:%lld", name,
		    (long long)util_json_int(row, "instance", 0));
		emit(o, w, util_json_str(row, "status", NULL));
	}
	json_decref(seen);
	json_decref(reply);
}

/* The process file among the words typed so far, if any. */
static const char *typed_file;

/* The process files in the current directory (by name, as start tells). */
static void
emit_procfiles(const struct out *o)
{
	struct dirent *d;
	DIR *dir;

	if ((dir = opendir(".")) == NULL)
		return;
	while ((d = readdir(dir)) != NULL)
		if (d->d_name[0] != '.' && procfile_is_file(d->d_name))
			emit(o, d->d_name, "process file");
	closedir(dir);
}

/* The environment names (env_NAME) or the app names of the typed
 * process file, read quietly (no daemon is asked). */
static void
emit_from_file(const struct out *o, int envs)
{
	struct procfile_opts opts = { 0 };
	struct procfile pf;
	json_t *v;
	size_t i;
	int saved, null;

	if (typed_file == NULL || strcmp(typed_file, "-") == 0)
		return;
	opts.quiet_warnings = 1;
	fflush(stderr);
	saved = dup(2);
	if ((null = open("/dev/null", O_WRONLY)) != -1) {
		dup2(null, 2);
		close(null);
	}
	if (procfile_load(typed_file, &opts, &pf) == 0) {
		json_array_foreach(envs ? pf.env_names : pf.all_names, i, v)
			emit(o, json_string_value(v),
			    envs ? "environment" : "app");
	}
	procfile_release(&pf);
	if (saved != -1) {
		dup2(saved, 2);
		close(saved);
	}
}

/* The candidates for a value of kind or fixed choices `values`. */
static void
emit_values(const struct out *o, const char *values)
{
	if (values == NULL)
		return;
	if (strcmp(values, VAL_ENVNAME) == 0) {
		emit_from_file(o, 1);
		return;
	}
	if (strcmp(values, VAL_APPNAME) == 0) {
		emit_from_file(o, 0);
		return;
	}
	if (strcmp(values, VAL_FILE) == 0)
		printf("@file\n");
	else if (strcmp(values, VAL_DIR) == 0)
		printf("@dir\n");
	else if (strcmp(values, VAL_SIGNAL) == 0)
		emit_signals(o);
	else if (strcmp(values, VAL_TARGET) == 0)
		emit_targets(o);
	else if (strcmp(values, "@command") == 0)
		emit_commands(o);
	else
		emit_words(o, values, NULL);
}

/* A command's flags: long, and short unless "--" is typed. */
static void
emit_options(const struct out *o, const struct cmd_option *opt)
{
	char w[80];

	for (; opt != NULL && opt->name != NULL; opt++) {
		snprintf(w, sizeof w, "--%s", opt->name);
		emit(o, w, opt->help);
		if (cmd_option_alias(opt) != NULL) {
			snprintf(w, sizeof w, "--%s", cmd_option_alias(opt));
			emit(o, w, opt->help);
		}
		if (opt->short_name != 0 && strncmp(o->cur, "--", 2) != 0) {
			snprintf(w, sizeof w, "-%c", opt->short_name);
			emit(o, w, opt->help);
		}
	}
}

/* The option that word names (--name, -n), among e's and the global ones. */
static const struct cmd_option *
find_option(const struct cmd_entry *e, const char *word, size_t len)
{
	const struct cmd_option *sets[2] = { e->options, cmd_global_options };
	const struct cmd_option *opt;
	const char *alias;
	int s;

	for (s = 0; s < 2; s++)
		for (opt = sets[s]; opt != NULL && opt->name != NULL; opt++) {
			if (word[0] == '-' && word[1] == '-' &&
			    strlen(opt->name) == len - 2 &&
			    strncmp(word + 2, opt->name, len - 2) == 0)
				return opt;
			if (word[0] == '-' && word[1] == '-' &&
			    (alias = cmd_option_alias(opt)) != NULL &&
			    strlen(alias) == len - 2 &&
			    strncmp(word + 2, alias, len - 2) == 0)
				return opt;
			if (word[0] == '-' && word[1] != '-' && len == 2 &&
			    word[1] == opt->short_name)
				return opt;
		}
	return NULL;
}

/*
 * The candidates for w[n - 1], given the words w[0..n-2] before it:
 * walk them to know the command, a pending option value, the positional
 * arguments so far and whether "--" was passed.
 */
static void
complete(int n, char **w, int describe)
{
	const struct cmd_entry *e;
	const struct cmd_option *opt;
	const char *hint, *cur = w[n - 1], *eq;
	struct out o = { cur, "", describe };
	int i, npos = 0, rest = 0;
	size_t k;

	if (n == 1) {
		if (cur[0] == '-')
			emit_words(&o, "--help --version", NULL);
		else
			emit_commands(&o);
		return;
	}
	if ((e = cmd_find(w[0], &hint)) == NULL || (e->flags & CMD_HIDDEN))
		return;
	/* What the words before the current one are. */
	for (i = 1; i < n - 1; i++) {
		if (rest)
			continue;
		if (strcmp(w[i], "--") == 0) {
			rest = 1;
			continue;
		}
		if (w[i][0] == '-' && w[i][1] != '\0') {
			opt = find_option(e, w[i], strcspn(w[i], "="));
			/* Its value is the next word (bash splits "--a=b"
			 * into "--a", "=", "b"). */
			if (opt != NULL && opt->arg != NULL &&
			    strchr(w[i], '=') == NULL) {
				if (i + 1 < n - 1 && strcmp(w[i + 1], "=") == 0)
					i++;
				if (i + 1 == n - 1) {
					emit_values(&o, opt->values);
					return;
				}
				i++;
			}
			continue;
		}
		if (procfile_is_file(w[i]) && access(w[i], R_OK) == 0)
			typed_file = w[i];
		npos++;
	}
	if (rest) {
		printf("@file\n");
		return;
	}
	if (cur[0] == '-' && cur[1] == '-' && (eq = strchr(cur, '=')) != NULL) {
		opt = find_option(e, cur, (size_t)(eq - cur));
		if (opt != NULL && opt->arg != NULL) {
			char pre[80];

			snprintf(pre, sizeof pre, "%.*s", (int)(eq - cur + 1),
			    cur);
			o.prefix = pre;
			o.cur = eq + 1;
			emit_values(&o, opt->values);
		}
		return;
	}
	if (cur[0] == '-') {
		emit_options(&o, e->options);
		emit_options(&o, cmd_global_options);
		return;
	}
	if (e->max_args >= 0 && npos >= e->max_args)
		return;
	if (e->flags & CMD_TARGETS) {
		emit_targets(&o);
		if (npos == 0 && (e->flags & CMD_FILES))
			emit_procfiles(&o);
		return;
	}
	if (e->flags & CMD_REST) {
		/* start: a script or program (files), or a stopped app. */
		emit_targets(&o);
		printf("@file\n");
		return;
	}
	if (e->flags & CMD_FILES) {
		emit_procfiles(&o);
		printf("@file\n");
		return;
	}
	for (k = 0; k < sizeof positional / sizeof positional[0]; k++)
		if (strcmp(positional[k].cmd, e->name) == 0)
			emit_values(&o, positional[k].values);
}

static int
exec_complete(struct cmd_ctx *ctx)
{
	char *empty[] = { (char *)"" };

	if (ctx->nrest == 0)
		complete(1, empty, cmd_flag(ctx, "describe"));
	else
		complete(ctx->nrest, ctx->rest, cmd_flag(ctx, "describe"));
	return 0;
}

static const struct cmd_option options[] = {
	{ "describe", 0, NULL, "add a tab and a description to candidates",
	    NULL, 0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

const struct cmd_entry cmd_complete_entry = {
	.name = "__complete",
	.usage = "__complete [--describe] -- WORD... CURRENT",
	.summary = "Print completion candidates (used by the shell scripts)",
	.options = options,
	.flags = CMD_HIDDEN | CMD_NO_START | CMD_REST,
	.max_args = 0,
	.example = "clusterctl __complete -- st",
	.exec = exec_complete,
};
