/*
 * __man: the COMMANDS and COMMON OPTIONS sections of clusterctl(1) in
 * scdoc, generated from the command table; the Makefile splices them
 * into docs/clusterctl.1.scd to build the man page.
 */
#include <string.h>

#include "cmd.h"

/* s with scdoc's markup characters escaped. */
static void
put_text(const char *s)
{
	for (; s != NULL && *s != '\0'; s++) {
		if (*s == '*' || *s == '_' || *s == '\\')
			putchar('\\');
		putchar(*s);
	}
}

/* An option list as scdoc indented definitions. */
static void
put_options(const struct cmd_option *o)
{
	for (; o != NULL && o->name != NULL; o++) {
		putchar('\t');
		if (o->short_name != 0)
			printf("*-%c*, ", o->short_name);
		printf("*--");
		put_text(o->name);
		putchar('*');
		if (cmd_option_alias(o) != NULL) {
			printf(", *--");
			put_text(cmd_option_alias(o));
			putchar('*');
		}
		if (o->arg != NULL) {
			printf(" _");
			put_text(o->arg);
			putchar('_');
		}
		printf("\n\t\t");
		put_text(o->help);
		if (o->values != NULL && o->values[0] != '@') {
			printf(" (values: ");
			put_text(o->values);
			putchar(')');
		}
		printf("\n\n");
	}
}

static int
exec_man(struct cmd_ctx *ctx)
{
	const struct cmd_entry *e;
	size_t i;

	(void)ctx;
	printf("# COMMANDS\n\n");
	for (i = 0; (e = cmd_table[i]) != NULL; i++) {
		if (e->flags & CMD_HIDDEN)
			continue;
		printf("*clusterctl ");
		put_text(e->name);
		printf("*%s", strchr(e->usage, ' ') != NULL ? " " : "");
		if (strchr(e->usage, ' ') != NULL)
			put_text(strchr(e->usage, ' ') + 1);
		printf("\n\t");
		put_text(e->summary);
		printf(".\n\n");
		if (e->aliases != NULL) {
			printf("\tAliases: ");
			put_text(e->aliases);
			printf(".\n\n");
		}
		put_options(e->options);
		if (e->example != NULL) {
			printf("\tExample: *");
			put_text(e->example);
			printf("*\n\n");
		}
	}
	printf("# COMMON OPTIONS\n\nEvery command takes these.\n\n");
	put_options(cmd_global_options);
	return 0;
}

const struct cmd_entry cmd_man_entry = {
	.name = "__man",
	.usage = "__man",
	.summary = "Print the man page's command list in scdoc",
	.flags = CMD_HIDDEN,
	.max_args = 0,
	.example = "clusterctl __man",
	.exec = exec_man,
};
