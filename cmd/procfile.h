/*
 * Process files (docs/process-files.md): pm2 ecosystem files in JSON, YAML
 * or JavaScript, and foreman's Procfile.  Each loader turns its format into
 * one JSON document; procfile.c maps the document's apps onto start specs
 * (the start request's object, docs/protocol.md) through one field table.
 * The daemon validates the specs' values (app_create); this side adds the
 * file, the line, the app and the field to what goes wrong.
 */
#ifndef PROCFILE_H
#define PROCFILE_H

#include <stddef.h>

#include <jansson.h>

struct cmd_ctx;

/* What the user asked for besides the file. */
struct procfile_opts {
	const char *env_name; /* --env NAME: env_NAME over env */
	char **only;	      /* --only a,b (NULL-terminated words), or NULL */
	char **cli_env;	      /* --env KEY=VAL, NULL-terminated, or NULL */
	int quiet_warnings;
};

struct procfile {
	char *path;    /* absolute, or "-" for stdin */
	char *display; /* as the user wrote it */
	char *dir;     /* the file's directory (relative paths start there) */
	json_t *apps;  /* start specs, in file order (after --only) */
	json_t *all_names; /* every app name in the file, before --only */
	json_t *env_names; /* the NAMEs of env_NAME seen, for completion */
	int nwarnings;
};

/* The raw document and where its members are (loaders fill these). */
struct procfile_doc {
	json_t *root;
	json_t *lines;	/* "/apps/0/name" -> line (may be missing) */
	int procfile;	/* foreman's format: a mapping of name to command */
	json_t *dotenv; /* Procfile's .env beside it: KEY -> value */
};

/* procfile.c */
int procfile_is_file(const char *);
int procfile_ends_with(const char *, const char *);
char *procfile_app_name(const json_t *);

/* procfile-fields.c: the field table and pm2's value forms */
int procfile_field(const char *, const json_t *, const char *, json_t *,
    json_t *, char *, size_t);
int procfile_spec_member(const char *);
int procfile_split_words(const char *, json_t **, char *, size_t);
char *procfile_resolve_path(const char *, const char *);
json_t *procfile_scalar_string(const json_t *);
const char *procfile_type_name(const json_t *);
int procfile_load(const char *, const struct procfile_opts *,
    struct procfile *);
void procfile_release(struct procfile *);
int procfile_opts_from_ctx(const struct cmd_ctx *, struct procfile_opts *);
void procfile_opts_release(struct procfile_opts *);
void procfile_error(const struct procfile *, const json_t *, const char *,
    const char *, ...) __attribute__((format(printf, 4, 5)));

/* procfile-yaml.c: YAML (and JSON) with line numbers */
int procfile_yaml_parse(const char *, size_t, struct procfile_doc *, char *,
    size_t);

/* procfile-js.c: a .js/.cjs/.mjs file evaluated by node */
int procfile_js_eval(const char *, struct procfile_doc *, char *, size_t);

/* procfile-foreman.c: Procfile and .env */
int procfile_foreman_parse(const char *, size_t, struct procfile_doc *, char *,
    size_t);
int procfile_dotenv_parse(const char *, json_t **, char *, size_t);

/* procfile-run.c: the commands' work on a file's apps */
enum procfile_action {
	PF_START,   /* start new, restart running (pm2's start FILE) */
	PF_RESTART, /* restart (start those not running) */
	PF_RELOAD,  /* reload, zero downtime (start those not running) */
	PF_STOP,
	PF_DELETE,
	PF_START_OR_RELOAD, /* = PF_RELOAD, pm2's name */
};
int procfile_run(struct cmd_ctx *, const char *, enum procfile_action);
int procfile_apply(struct cmd_ctx *, const char *, int);
int procfile_validate(struct cmd_ctx *, const char *);
int procfile_update_specs(struct cmd_ctx *, const char *, int *);
int procfile_by_name(struct cmd_ctx *);

/* The options of every command that takes a process file. */
#define PROCFILE_OPTIONS                                                       \
	{ "env", 0, "NAME|KEY=VAL",                                            \
		"with a process file: its env_NAME, or "                       \
		"a variable (repeatable; default: none)",                      \
		VAL_ENVNAME, 1 },                                              \
	{                                                                      \
		"only", 0, "APPS",                                             \
		    "with a process file: only these apps (comma "             \
		    "separated, repeatable; default: all)",                    \
		    VAL_APPNAME, 1                                             \
	}
int procfile_target(const struct cmd_ctx *);
json_t *procfile_env_with_sources(const json_t *, const json_t *, char **,
    json_t **);

#endif
