/*
 * Rendering for people: the instance table, durations, sizes, colours.
 * Tables fit the terminal; colour only on a tty and never with NO_COLOR.
 */
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "../ipc/util.h"
#include "cmd.h"

/* The terminal's width, or 0 when stdout is not a terminal. */
int
term_width(void)
{
	struct winsize ws;

	if (!isatty(1))
		return 0;
	if (ioctl(1, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
		return ws.ws_col;
	return 80;
}

/* "850ms", "12s", "5m", "3h", "2d": short, as pm2 shows uptimes. */
void
format_duration(char *buf, size_t len, int64_t ms)
{
	if (ms < 1000)
		snprintf(buf, len, "%lldms", (long long)ms);
	else if (ms < 60000)
		snprintf(buf, len, "%llds", (long long)(ms / 1000));
	else if (ms < 3600000)
		snprintf(buf, len, "%lldm", (long long)(ms / 60000));
	else if (ms < 86400000)
		snprintf(buf, len, "%lldh", (long long)(ms / 3600000));
	else
		snprintf(buf, len, "%lldd", (long long)(ms / 86400000));
}

void
format_bytes(char *buf, size_t len, int64_t n)
{
	if (n < 1024)
		snprintf(buf, len, "%lldB", (long long)n);
	else if (n < 1024 * 1024)
		snprintf(buf, len, "%.1fK", (double)n / 1024);
	else if (n < 1024LL * 1024 * 1024)
		snprintf(buf, len, "%.1fM", (double)n / (1024 * 1024));
	else
		snprintf(buf, len, "%.1fG", (double)n / (1024 * 1024 * 1024));
}

const char *
color_status(const struct cmd_ctx *ctx, const char *status)
{
	if (!ctx->color)
		return "";
	if (strcmp(status, "online") == 0)
		return "\033[32m";
	if (strcmp(status, "errored") == 0)
		return "\033[31m";
	if (strcmp(status, "stopped") == 0)
		return "\033[90m";
	return "\033[33m";
}

const char *
color_reset(const struct cmd_ctx *ctx)
{
	return ctx->color ? "\033[0m" : "";
}

#define NCOLS 9

/* The list table: one row per instance, fitted to the terminal. */
void
print_table(const struct cmd_ctx *ctx, const json_t *rows)
{
	static const char *head[NCOLS] = { "id", "name", "mode", "pid",
		"uptime", "restarts", "status", "cpu", "mem" };
	char cell[NCOLS][80];
	size_t w[NCOLS], i, total;
	int width = term_width(), c;
	const char *st;
	json_t *r;

	for (c = 0; c < NCOLS; c++)
		w[c] = strlen(head[c]);
	/* ↺ is one column wide but three bytes: counted as "restarts". */
	w[5] = 1;
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1) {
			total = 0;
			for (c = 0; c < NCOLS; c++)
				total += w[c] + 2;
			/* Too wide: the name column gives way, down to 8. */
			if (width > 0 && total > (size_t)width) {
				size_t over = total - (size_t)width;
				w[1] = w[1] > over + 8 ? w[1] - over :
							 (w[1] < 8 ? w[1] : 8);
			}
			printf(
			    "%-*s  %-*s  %-*s  %-*s  %-*s  %s%*s  %-*s  %-*s  %s\n",
			    (int)w[0], head[0], (int)w[1], head[1], (int)w[2],
			    head[2], (int)w[3], head[3], (int)w[4], head[4],
			    "\xe2\x86\xba", (int)w[5] - 1, "", (int)w[6],
			    head[6], (int)w[7], head[7], head[8]);
		}
		json_array_foreach(rows, i, r) {
			json_t *pid = json_object_get(r, "pid");

			snprintf(cell[0], sizeof cell[0], "%lld",
			    (long long)util_json_int(r, "id", 0));
			snprintf(cell[1], sizeof cell[1], "%s:%lld",
			    util_json_str(r, "name", "?"),
			    (long long)util_json_int(r, "instance", 0));
			snprintf(cell[2], sizeof cell[2], "%s",
			    util_json_str(r, "mode", ""));
			if (json_is_integer(pid))
				snprintf(cell[3], sizeof cell[3], "%lld",
				    (long long)json_integer_value(pid));
			else
				strcpy(cell[3], "-");
			if (json_is_integer(pid))
				format_duration(cell[4], sizeof cell[4],
				    util_json_int(r, "uptime_ms", 0));
			else
				strcpy(cell[4], "-");
			snprintf(cell[5], sizeof cell[5], "%lld",
			    (long long)util_json_int(r, "restarts", 0));
			st = util_json_str(r, "status", "?");
			snprintf(cell[6], sizeof cell[6], "%s", st);
			snprintf(cell[7], sizeof cell[7], "%.0f%%",
			    json_number_value(json_object_get(r, "cpu")));
			format_bytes(cell[8], sizeof cell[8],
			    util_json_int(r, "memory", 0));
			if (pass == 0) {
				for (c = 0; c < NCOLS; c++)
					if (strlen(cell[c]) > w[c])
						w[c] = strlen(cell[c]);
				continue;
			}
			if (strlen(cell[1]) > w[1] && w[1] > 1) {
				cell[1][w[1] - 1] = '~';
				cell[1][w[1]] = '\0';
			}
			printf("%-*s  %-*s  %-*s  %-*s  %-*s  %-*s  %s%-*s%s  "
			       "%-*s  %s\n",
			    (int)w[0], cell[0], (int)w[1], cell[1], (int)w[2],
			    cell[2], (int)w[3], cell[3], (int)w[4], cell[4],
			    (int)w[5], cell[5], color_status(ctx, st),
			    (int)w[6], cell[6], color_reset(ctx), (int)w[7],
			    cell[7], cell[8]);
		}
	}
}

/* A JSON value as --json prints it: indented, one value per call. */
void
cmd_print_json(const json_t *j)
{
	if (j == NULL)
		fputs("null\n", stdout);
	else {
		json_dumpf(j, stdout, JSON_ENCODE_ANY | JSON_INDENT(2));
		fputc('\n', stdout);
	}
}
