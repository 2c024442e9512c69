/*
 * The daemon in the foreground (clusterctl run, start --no-daemon): the
 * one entry point the CLI calls to become a container's main process or
 * a systemd service's.  Everything else of the daemon stays in core.h.
 */
#ifndef CORE_RUN_H
#define CORE_RUN_H

#include <jansson.h>

/* When run leaves on its own (docs/containers.md). */
enum run_exit_on {
	RUN_EXIT_ALL,	  /* no instance is running or on its way back */
	RUN_EXIT_ANY,	  /* one instance has ended for good or is errored */
	RUN_EXIT_ERRORED, /* one instance is errored, or none runs */
	RUN_EXIT_NEVER,	  /* only a signal or 'clusterctl kill' */
};

/* Exit codes of run of its own (beside an app's), docs/exit-codes.md. */
#define RUN_EXIT_FAIL 1	       /* could not start: a bad app, a busy home */
#define RUN_EXIT_APP_ERRORED 6 /* an app was errored (a crash loop...) */

struct run_opts {
	json_t *apps; /* start requests (borrowed); may be empty */
	json_t *idle; /* names of those to make but not start, or NULL */
	int service;  /* no app given: restore the apps of a daemon that
		       * died, else resurrect the dump (a boot) */
	enum run_exit_on exit_on;
	const char *metrics; /* --metrics ADDR, or NULL */
	const char *health;  /* --health ADDR, or NULL */
	int json;	     /* lines on stdout and stderr as JSON objects */
	int quiet;	     /* not the daemon's own lines */
};

/* Run the daemon of home h in this process; returns its exit code. */
int run_main(const char *h, const struct run_opts *);

#endif
