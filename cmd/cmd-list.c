/* list: every instance, as a table or as the JSON contract. */
#include <stdlib.h>
#include <string.h>

#include "../ipc/util.h"
#include "cmd.h"

static const struct cmd_option options[] = {
	{ "sort", 0, "FIELD[:asc|desc]",
	    "order the rows by id, name, pid, "
	    "uptime, restarts, status, cpu or memory (pm2's --sort; default: "
	    "id then instance, ascending)",
	    "id name pid uptime restarts status cpu memory name:desc cpu:desc "
	    "memory:desc",
	    0 },
	{ NULL, 0, NULL, NULL, NULL, 0 },
};

/* The fields --sort takes, and the list --json member each one reads. */
static const struct {
	const char *name;
	const char *member;
} sort_fields[] = {
	{ "id", "id" },
	{ "name", "name" },
	{ "pid", "pid" },
	{ "uptime", "uptime_ms" },
	{ "restarts", "restarts" },
	{ "status", "status" },
	{ "cpu", "cpu" },
	{ "memory", "memory" },
	{ "mem", "memory" },
};

static const char *sort_member;
static int sort_desc;

/* Compare two rows by sort_member, then by id and instance. */
static int
row_cmp(const void *x, const void *y)
{
	const json_t *a = *(json_t *const *)x, *b = *(json_t *const *)y;
	const json_t *va = json_object_get(a, sort_member);
	const json_t *vb = json_object_get(b, sort_member);
	int c = 0;

	if (json_is_string(va) && json_is_string(vb))
		c = strcmp(json_string_value(va), json_string_value(vb));
	else if (json_is_number(va) && json_is_number(vb))
		c = json_number_value(va) < json_number_value(vb) ?
		    -1 :
		    json_number_value(va) > json_number_value(vb);
	else /* a null (no pid) sorts first */
		c = json_is_null(va) || va == NULL ?
		    (json_is_null(vb) || vb == NULL ? 0 : -1) :
		    1;
	if (sort_desc)
		c = -c;
	if (c == 0)
		c = (int)(util_json_int(a, "id", 0) -
		    util_json_int(b, "id", 0));
	if (c == 0)
		c = (int)(util_json_int(a, "instance", 0) -
		    util_json_int(b, "instance", 0));
	return c;
}

/* Sort rows in place by spec (FIELD[:asc|desc]): 0, or a usage error. */
static int
sort_rows(struct cmd_ctx *ctx, json_t *rows, const char *spec)
{
	const char *colon = strchr(spec, ':');
	size_t n = colon != NULL ? (size_t)(colon - spec) : strlen(spec), i;
	json_t **v;

	sort_member = NULL;
	for (i = 0; i < sizeof sort_fields / sizeof sort_fields[0]; i++)
		if (strlen(sort_fields[i].name) == n &&
		    strncmp(spec, sort_fields[i].name, n) == 0)
			sort_member = sort_fields[i].member;
	if (sort_member == NULL ||
	    (colon != NULL && strcmp(colon + 1, "asc") != 0 &&
		strcmp(colon + 1, "desc") != 0))
		return cmd_usage_error(ctx,
		    "invalid --sort '%s' (a field: id, "
		    "name, pid, uptime, restarts, status, cpu, memory; then "
		    ":asc or :desc)",
		    spec);
	sort_desc = colon != NULL && strcmp(colon + 1, "desc") == 0;
	n = json_array_size(rows);
	if (n < 2)
		return 0;
	if ((v = calloc(n, sizeof *v)) == NULL)
		return cmd_error(EXIT_FAIL, "out of memory");
	for (i = 0; i < n; i++)
		v[i] = json_incref(json_array_get(rows, i));
	qsort(v, n, sizeof *v, row_cmp);
	json_array_clear(rows);
	for (i = 0; i < n; i++)
		json_array_append_new(rows, v[i]);
	free(v);
	return 0;
}

static int
exec_list(struct cmd_ctx *ctx)
{
	const char *sort = cmd_opt(ctx, "sort");
	json_t *rows = NULL;
	int rc;

	if ((rc = cmd_call(ctx, "list", NULL, &rows)) != 0)
		return rc;
	if (sort != NULL && (rc = sort_rows(ctx, rows, sort)) != 0) {
		json_decref(rows);
		return rc;
	}
	if (ctx->json)
		cmd_print_json(rows);
	else if (!ctx->quiet) {
		if (json_array_size(rows) == 0)
			printf(
			    "no apps (start one: clusterctl start <script>)\n");
		else
			print_table(ctx, rows);
	}
	json_decref(rows);
	return 0;
}

const struct cmd_entry cmd_list_entry = {
	.name = "list",
	.aliases = "ls status ps l",
	.usage = "list [options]",
	.summary =
	    "List every instance: id, name, mode, pid, uptime, restarts, "
	    "status, "
	    "cpu, memory",
	.options = options,
	.flags = CMD_DAEMON,
	.max_args = 0,
	.example = "clusterctl list --sort memory:desc",
	.exec = exec_list,
};
