/*
 * What the commands do with a process file's apps: start, restart, reload,
 * stop or delete them, apply the file (start what is new, reload what
 * changed, delete what left it), and --update-env.  Every app of the file
 * is checked by the daemon (start with "check") before any is touched, so
 * a file with an error starts nothing.  An app that exists takes the
 * file's spec with an update request, then goes through the ordinary
 * restart, reload or scale: no path of its own.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "cmd.h"
#include "procfile.h"

/* Whether the command's single argument is a process file to act on. */
int
procfile_target(const struct cmd_ctx *ctx)
{
	if (ctx->argc != 1 || !procfile_is_file(ctx->argv[0]))
		return 0;
	if (strcmp(ctx->argv[0], "-") == 0)
		return 1;
	/* start reads it (and says so when it is missing); the others act
	 * on an app by that name when there is no such file. */
	return strcmp(ctx->entry->name, "start") == 0 ||
	    access(ctx->argv[0], F_OK) == 0;
}

/* Every app the daemon has, described (a new array). */
static int
describe_all(struct cmd_ctx *ctx, json_t **out)
{
	int rc;

	*out = NULL;
	rc = cmd_call(ctx, "describe", json_pack("{s:[s]}", "targets", "all"),
	    out);
	if (rc == 0 && !json_is_array(*out)) {
		json_decref(*out);
		*out = json_array();
	}
	return rc;
}

static json_t *
find_app(const json_t *described, const char *name)
{
	json_t *a;
	size_t i;

	json_array_foreach(described, i, a)
		if (strcmp(util_json_str(a, "name", ""), name) == 0)
			return a;
	return NULL;
}

/* Ask the daemon whether each app of pf could start: 0, or an exit code. */
static int
check_all(struct cmd_ctx *ctx, const struct procfile *pf)
{
	json_t *spec, *args;
	char msg[1024];
	size_t i;
	int rc, bad = 0, code = 0;

	json_array_foreach(pf->apps, i, spec) {
		args = json_deep_copy(spec);
		json_object_set_new(args, "check", json_true());
		if ((rc = cmd_call_capture(ctx, "start", args, NULL, msg,
			 sizeof msg)) != 0) {
			if (msg[0] == '\0')
				return rc;
			procfile_error(pf, spec, msg, "%s", "");
			bad++;
			code = rc;
		}
	}
	if (bad > 0) {
		fprintf(stderr, "%s: %s: %d error%s; nothing was done\n",
		    progname, pf->display, bad, bad > 1 ? "s" : "");
		return code == EXIT_USAGE ? EXIT_USAGE : EXIT_FAIL;
	}
	return 0;
}

/* Start one app of the file; its summary joins done. */
static int
start_one(struct cmd_ctx *ctx, const struct procfile *pf, const json_t *spec,
    json_t *done)
{
	json_t *data = NULL, *args = json_deep_copy(spec);
	char msg[1024];
	int rc;

	if (cmd_flag(ctx, "no-wait"))
		json_object_set_new(args, "wait", json_false());
	rc = cmd_call_capture(ctx, "start", args, &data, msg, sizeof msg);
	if (rc != 0 && msg[0] != '\0')
		procfile_error(pf, spec, msg, "%s", "");
	if (rc == 0)
		json_array_extend(done, json_object_get(data, "apps"));
	json_decref(data);
	return rc;
}

/* Give an existing app the file's spec: 0 and *wanted (its instance
 * count), or an exit code. */
static int
update_one(struct cmd_ctx *ctx, const struct procfile *pf, const json_t *spec,
    const char *name, int *wanted)
{
	json_t *data = NULL, *s = json_deep_copy(spec);
	char msg[1024];
	int rc;

	json_object_set_new(s, "name", json_string(name));
	rc = cmd_call_capture(ctx, "update", json_pack("{s:o}", "spec", s),
	    &data, msg, sizeof msg);
	if (rc != 0 && msg[0] != '\0')
		procfile_error(pf, spec, msg, "%s", "");
	*wanted = (int)util_json_int(data, "instances_wanted", -1);
	json_decref(data);
	return rc;
}

static int
scale_to(struct cmd_ctx *ctx, const char *name, int n)
{
	return cmd_call(ctx, "scale",
	    json_pack("{s:s, s:i}", "target", name, "count", n), NULL);
}

static int
reload_one(struct cmd_ctx *ctx, const char *name, int quiet)
{
	int q = ctx->quiet, rc;

	ctx->quiet = q || quiet;
	rc = cmd_call_stream(ctx, "reload",
	    json_pack("{s:[s]}", "targets", name), cmd_reload_show, NULL, -1);
	ctx->quiet = q;
	return rc;
}

/*
 * An existing app takes the file's spec, then is restarted or reloaded,
 * and scaled to the file's count (down before, up after).
 */
static int
refresh_one(struct cmd_ctx *ctx, const struct procfile *pf, const json_t *spec,
    const json_t *cur, int reload, int quiet)
{
	const char *name = util_json_str(cur, "name", "?");
	int have = (int)util_json_int(cur, "instances", 1), want, rc;

	if ((rc = update_one(ctx, pf, spec, name, &want)) != 0)
		return rc;
	if (want > 0 && want < have && (rc = scale_to(ctx, name, want)) != 0)
		return rc;
	if (reload)
		rc = reload_one(ctx, name, quiet);
	else
		rc = cmd_call(ctx, "restart",
		    json_pack("{s:[s]}", "targets", name), NULL);
	if (rc == 0 && want > have)
		rc = scale_to(ctx, name, want);
	return rc;
}

/* Load arg with ctx's --env and --only; quiet: no warnings. */
static int
load(struct cmd_ctx *ctx, const char *arg, struct procfile *pf, int quiet)
{
	struct procfile_opts o;
	int rc;

	if ((rc = procfile_opts_from_ctx(ctx, &o)) != 0)
		return rc;
	o.quiet_warnings = ctx->quiet || quiet;
	rc = procfile_load(arg, &o, pf);
	procfile_opts_release(&o);
	return rc;
}

/*
 * start|restart|reload|stop|delete FILE: act on the file's apps (those
 * of --only).  start restarts the apps that exist, as pm2 does; restart
 * and reload start those that do not.
 */
int
procfile_run(struct cmd_ctx *ctx, const char *arg, enum procfile_action act)
{
	struct procfile pf;
	json_t *described = NULL, *spec, *cur, *done, *targets;
	char *name;
	size_t i;
	int rc, reload = act == PF_RELOAD || act == PF_START_OR_RELOAD;

	if ((rc = load(ctx, arg, &pf, act == PF_STOP || act == PF_DELETE)) != 0)
		return rc;
	if ((rc = describe_all(ctx, &described)) != 0) {
		procfile_release(&pf);
		return rc;
	}
	if (act == PF_STOP || act == PF_DELETE) {
		targets = json_array();
		json_array_foreach(pf.apps, i, spec) {
			name = procfile_app_name(spec);
			if (find_app(described, name) != NULL)
				json_array_append_new(targets,
				    json_string(name));
			else if (!ctx->quiet)
				fprintf(stderr,
				    "%s: %s: no app named '%s' is "
				    "running; skipped\n",
				    progname, pf.display, name);
			free(name);
		}
		if (json_array_size(targets) == 0) {
			json_decref(targets);
			rc = cmd_error(EXIT_NOTFOUND,
			    "%s: none of its apps "
			    "exists",
			    pf.display);
		} else
			rc = cmd_act_on(ctx, act == PF_STOP ? "stop" : "delete",
			    targets);
		goto out;
	}
	if ((rc = check_all(ctx, &pf)) != 0)
		goto out;
	done = json_array();
	json_array_foreach(pf.apps, i, spec) {
		name = procfile_app_name(spec);
		cur = find_app(described, name);
		free(name);
		if (cur == NULL)
			rc = start_one(ctx, &pf, spec, done);
		else if ((rc = refresh_one(ctx, &pf, spec, cur, reload,
			      ctx->json)) == 0)
			json_array_append_new(done,
			    json_pack("{s:O}", "id",
				json_object_get(cur, "id")));
		if (rc != 0)
			break;
	}
	if (rc == 0) {
		json_t *shown = json_pack("{s:o}", "apps", done);

		rc = cmd_show_apps(ctx, shown);
		json_decref(shown);
	} else
		json_decref(done);
out:
	json_decref(described);
	procfile_release(&pf);
	return rc;
}

/* --- apply ------------------------------------------------------------ */

/* A value, short, for a plan line. */
static void
show_value(char *buf, size_t len, const json_t *v)
{
	char *s;

	if (v == NULL) {
		snprintf(buf, len, "(none)");
		return;
	}
	s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
	if (s != NULL && strlen(s) <= 40)
		snprintf(buf, len, "%s",
		    json_is_string(v) ? json_string_value(v) : s);
	else
		snprintf(buf, len, "...");
	free(s);
}

/*
 * Members of a spec that say nothing about how the app runs, or that the
 * daemon derives from the others (exec, shell, log_per_instance).
 */
static int
not_compared(const char *k)
{
	static const char *skip[] = { "instances", "exec", "name", "env",
		"env_source", "env_name", "wait", "check", "process_file",
		"shell", "log_per_instance", NULL };
	int i;

	for (i = 0; skip[i] != NULL; i++)
		if (strcmp(skip[i], k) == 0)
			return 1;
	return 0;
}

/* The instance count a spec asks for, resolved as the daemon does. */
static int
instances_wanted(const json_t *spec)
{
	int64_t n = util_json_int(spec, "instances", 1);
	cpu_set_t set;
	int cpus = 1;

	if (sched_getaffinity(0, sizeof set, &set) == 0)
		cpus = CPU_COUNT(&set);
	if (n == 0)
		n = cpus;
	else if (n < 0)
		n = cpus + n;
	return n < 1 ? 1 : n > 4096 ? 4096 : (int)n;
}

/*
 * What differs between the running app's spec and the file's: an array
 * of {"field", "from", "to"} and {"field": "env", "variables": [...]}.
 * The caller's environment is not compared (it differs from shell to
 * shell); what the file and --env set is.
 */
static json_t *
spec_changes(const json_t *old, const json_t *new, int ninst)
{
	json_t *ch = json_array(), *vars = json_array(), *v;
	const json_t *os = json_object_get(old, "env_source"),
		     *ns = json_object_get(new, "env_source"),
		     *oe = json_object_get(old, "env"),
		     *ne = json_object_get(new, "env");
	const char *k;
	int want = instances_wanted(new);

	/* The count, as both sides resolve it ('max' is the CPU count). */
	if (want != ninst)
		json_array_append_new(ch,
		    json_pack("{s:s, s:i, s:i}", "field", "instances", "from",
			ninst, "to", want));
	json_object_foreach((json_t *)new, k, v) {
		if (!not_compared(k) && !json_equal(v, json_object_get(old, k)))
			json_array_append_new(ch,
			    json_pack("{s:s, s:O?, s:O}", "field", k, "from",
				json_object_get(old, k), "to", v));
	}
	json_object_foreach((json_t *)old, k, v) {
		if (!not_compared(k) && json_object_get(new, k) == NULL &&
		    procfile_spec_member(k))
			json_array_append_new(ch,
			    json_pack("{s:s, s:O, s:n}", "field", k, "from", v,
				"to"));
	}
	json_object_foreach((json_t *)ns, k, v) {
		if (!json_equal(json_object_get(ne, k), json_object_get(oe, k)))
			json_array_append_new(vars, json_string(k));
	}
	json_object_foreach((json_t *)os, k, v) {
		if (json_object_get(ns, k) == NULL &&
		    !json_equal(json_object_get(ne, k), json_object_get(oe, k)))
			json_array_append_new(vars, json_string(k));
	}
	if (json_array_size(vars) > 0)
		json_array_append_new(ch,
		    json_pack("{s:s, s:o}", "field", "env", "variables", vars));
	else
		json_decref(vars);
	return ch;
}

static void
print_plan_line(const json_t *step)
{
	const char *act = util_json_str(step, "action", "?");
	json_t *c, *v;
	size_t i, j;
	char a[64], b[64];
	int first = 1;

	printf("%s %s %s",
	    strcmp(act, "start") == 0	   ? "+" :
		strcmp(act, "delete") == 0 ? "-" :
		strcmp(act, "keep") == 0   ? "=" :
					     "~",
	    act, util_json_str(step, "app", "?"));
	json_array_foreach(json_object_get(step, "changes"), i, c) {
		printf("%s", first ? " (" : ", ");
		first = 0;
		if (json_object_get(c, "variables") != NULL) {
			printf("env");
			json_array_foreach(json_object_get(c, "variables"), j,
			    v)
				printf(" %s", json_string_value(v));
			continue;
		}
		show_value(a, sizeof a, json_object_get(c, "from"));
		show_value(b, sizeof b, json_object_get(c, "to"));
		printf("%s %s -> %s", util_json_str(c, "field", "?"), a, b);
	}
	printf("%s\n", first ? "" : ")");
}

/* The plan: what apply does to make the running apps match pf. */
static json_t *
apply_plan(const struct procfile *pf, const json_t *described)
{
	json_t *plan = json_array(), *spec, *cur, *ch, *a, *n;
	const char *act;
	size_t i, j;
	char *name;
	int listed;

	json_array_foreach(pf->apps, i, spec) {
		name = procfile_app_name(spec);
		cur = find_app(described, name);
		if (cur == NULL) {
			json_array_append_new(plan,
			    json_pack("{s:s, s:s, s:O}", "action", "start",
				"app", name, "spec", spec));
			free(name);
			continue;
		}
		ch = spec_changes(json_object_get(cur, "spec"), spec,
		    (int)util_json_int(cur, "instances", 1));
		act = "keep";
		json_array_foreach(ch, j, a) {
			const char *f = util_json_str(a, "field", "");

			if (strcmp(f, "listen") == 0 ||
			    strcmp(f, "mode") == 0) {
				act = "replace";
				break;
			}
			act = "reload";
		}
		/* the app now belongs to this file (or still does) */
		if (strcmp(act, "keep") == 0 &&
		    strcmp(util_json_str(json_object_get(cur, "spec"),
			       "process_file", ""),
			pf->path) != 0)
			act = "reload";
		json_array_append_new(plan,
		    json_pack("{s:s, s:s, s:o, s:O, "
			      "s:O}",
			"action", act, "app", name, "changes", ch, "spec", spec,
			"current", cur));
		free(name);
	}
	if (strcmp(pf->path, "-") == 0)
		return plan;
	json_array_foreach(described, i, cur) {
		if (strcmp(util_json_str(json_object_get(cur, "spec"),
			       "process_file", ""),
			pf->path) != 0)
			continue;
		listed = 0;
		json_array_foreach(pf->all_names, j, n)
			if (strcmp(json_string_value(n),
				util_json_str(cur, "name", "")) == 0)
				listed = 1;
		if (!listed)
			json_array_append_new(plan,
			    json_pack("{s:s, s:s}", "action", "delete", "app",
				util_json_str(cur, "name", "?")));
	}
	return plan;
}

/*
 * apply FILE [--dry-run]: make the running apps match the file.  New apps
 * start, changed ones reload (zero downtime; a socket change needs a
 * delete and start), apps this file started that left it are deleted,
 * the rest are left alone.
 */
int
procfile_apply(struct cmd_ctx *ctx, const char *arg, int dry_run)
{
	struct procfile pf;
	json_t *described = NULL, *plan = NULL, *step, *out, *done, *pub;
	const char *act, *name;
	size_t i;
	int rc, nstart = 0, nreload = 0, ndelete = 0, nkeep = 0;

	if ((rc = load(ctx, arg, &pf, 0)) != 0)
		return rc;
	if ((rc = describe_all(ctx, &described)) != 0 ||
	    (rc = check_all(ctx, &pf)) != 0)
		goto out;
	plan = apply_plan(&pf, described);
	pub = json_array();
	json_array_foreach(plan, i, step) {
		json_array_append_new(pub,
		    json_pack("{s:O, s:O, s:O*}", "action",
			json_object_get(step, "action"), "app",
			json_object_get(step, "app"), "changes",
			json_object_get(step, "changes")));
		if (!ctx->json && !ctx->quiet)
			print_plan_line(step);
	}
	if (dry_run) {
		if (ctx->json) {
			out = json_pack("{s:o, s:b}", "plan", pub, "dry_run",
			    1);
			cmd_print_json(out);
			json_decref(out);
		} else
			json_decref(pub);
		goto out;
	}
	done = json_array();
	json_array_foreach(plan, i, step) {
		act = util_json_str(step, "action", "");
		name = util_json_str(step, "app", "");
		if (strcmp(act, "start") == 0) {
			rc = start_one(ctx, &pf, json_object_get(step, "spec"),
			    done);
			nstart++;
		} else if (strcmp(act, "reload") == 0) {
			rc = refresh_one(ctx, &pf,
			    json_object_get(step, "spec"),
			    json_object_get(step, "current"), 1, 1);
			nreload++;
		} else if (strcmp(act, "replace") == 0) {
			rc = cmd_call(ctx, "delete",
			    json_pack("{s:[s]}", "targets", name), NULL);
			if (rc == 0)
				rc = start_one(ctx, &pf,
				    json_object_get(step, "spec"), done);
			nreload++;
		} else if (strcmp(act, "delete") == 0) {
			rc = cmd_call(ctx, "delete",
			    json_pack("{s:[s]}", "targets", name), NULL);
			ndelete++;
		} else
			nkeep++;
		if (rc != 0) {
			fprintf(stderr, "%s: %s: apply stopped at '%s %s'\n",
			    progname, pf.display, act, name);
			break;
		}
	}
	json_decref(done);
	if (ctx->json) {
		out = json_pack("{s:o, s:b, s:b}", "plan", pub, "dry_run", 0,
		    "done", rc == 0);
		cmd_print_json(out);
		json_decref(out);
	} else
		json_decref(pub);
	if (rc == 0 && !ctx->json && !ctx->quiet)
		printf("applied: %d started, %d reloaded, %d deleted, %d "
		       "unchanged\n",
		    nstart, nreload, ndelete, nkeep);
out:
	json_decref(plan);
	json_decref(described);
	procfile_release(&pf);
	return rc;
}

/* validate FILE: load and check it, start nothing. */
int
procfile_validate(struct cmd_ctx *ctx, const char *arg)
{
	struct procfile pf;
	json_t *spec, *out;
	size_t i;
	int rc;

	if ((rc = load(ctx, arg, &pf, 0)) != 0)
		return rc;
	if ((rc = check_all(ctx, &pf)) == 0 && !ctx->quiet) {
		if (ctx->json) {
			out = json_pack("{s:s, s:O, s:O, s:i}", "file", pf.path,
			    "apps", pf.apps, "environments", pf.env_names,
			    "warnings", pf.nwarnings);
			cmd_print_json(out);
			json_decref(out);
		} else {
			printf("%s: %zu app%s", pf.display,
			    json_array_size(pf.apps),
			    json_array_size(pf.apps) == 1 ? "" : "s");
			json_array_foreach(pf.apps, i, spec) {
				char *n = procfile_app_name(spec);

				printf("%s%s", i == 0 ? " (" : ", ", n);
				free(n);
			}
			printf("%s, %d warning%s\n",
			    json_array_size(pf.apps) ? ")" : "", pf.nwarnings,
			    pf.nwarnings == 1 ? "" : "s");
		}
	}
	procfile_release(&pf);
	return rc;
}

/*
 * restart and reload of apps by name: --env and --only are for a file,
 * --update-env applies.  0, or an exit code.
 */
int
procfile_by_name(struct cmd_ctx *ctx)
{
	if (cmd_opt_all(ctx, "env") != NULL || cmd_opt_all(ctx, "only") != NULL)
		return cmd_usage_error(ctx,
		    "--env and --only are for a process "
		    "file (use --update-env for the current environment)");
	if (cmd_flag(ctx, "update-env"))
		return procfile_update_specs(ctx, NULL, NULL);
	return 0;
}

/* --update-env: spec takes the caller's environment, keeping what its
 * file or --env set. */
static void
take_caller_env(json_t *spec)
{
	json_t *env, *src, *layer, *layers, *k2;
	const char *k;

	layer = json_object();
	src = json_object_get(spec, "env_source");
	json_object_foreach(src, k, k2)
		if (json_object_get(json_object_get(spec, "env"), k) != NULL)
			json_object_set(layer, k,
			    json_object_get(json_object_get(spec, "env"), k));
	layers = json_pack("[{s:o, s:s}]", "env", layer, "source", "file");
	env = procfile_env_with_sources(NULL, layers, NULL, &k2);
	json_decref(layers);
	json_decref(k2);
	json_object_set_new(spec, "env", env);
}

/*
 * --update-env on restart/reload of apps: each takes the caller's
 * environment; restart --name NEW (rename not NULL): the one app named
 * takes that name, its id in *id.  0, or an exit code.
 */
int
procfile_update_specs(struct cmd_ctx *ctx, const char *rename, int *id)
{
	json_t *described = NULL, *a, *spec;
	size_t i;
	int rc;

	if ((rc = cmd_call(ctx, "describe",
		 json_pack("{s:o}", "targets", cmd_targets(ctx)),
		 &described)) != 0)
		return rc;
	if (rename != NULL && json_array_size(described) != 1) {
		rc = cmd_usage_error(ctx,
		    "--name renames one app; '%s' names %zu", ctx->argv[0],
		    json_array_size(described));
		json_decref(described);
		return rc;
	}
	json_array_foreach(described, i, a) {
		spec = json_deep_copy(json_object_get(a, "spec"));
		if (rename != NULL) {
			json_object_set_new(spec, "name", json_string(rename));
			*id = (int)util_json_int(a, "id", -1);
		}
		if (cmd_flag(ctx, "update-env"))
			take_caller_env(spec);
		rc = cmd_call(ctx, "update",
		    json_pack("{s:o, s:I}", "spec", spec, "id",
			util_json_int(a, "id", -1)),
		    NULL);
		if (rc != 0)
			break;
	}
	json_decref(described);
	return rc;
}
