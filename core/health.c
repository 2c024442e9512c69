/*
 * The health endpoint's answers (served by http.c on --health ADDR), for
 * a Kubernetes pod's probes or a load balancer:
 *
 *   /readyz  200 when every instance of every app is online, the gate
 *            'clusterctl wait all' waits for; else 503 and which
 *            instances are not, one a line (and 503 once the daemon is
 *            shutting down, so traffic goes elsewhere first);
 *   /livez   200 whenever it answers: the answer comes from the daemon's
 *            own loop, so a wedged loop answers nothing and the probe's
 *            timeout catches it.
 *
 * Each answer is a short text built from memory.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core.h"

/* How many instances that are not ready /readyz names. */
#define READYZ_MAX_NAMED 20

/* The body of /readyz (a new string, *len bytes); *ready: 200 or 503. */
char *
health_readyz(int *ready, size_t *len)
{
	struct instance *in;
	struct app *a;
	char *buf = NULL, why[256];
	int k, napps = 0, total = 0, online = 0, named = 0;
	FILE *f;

	*ready = 0;
	if ((f = open_memstream(&buf, len)) == NULL)
		return NULL;
	if (quitting)
		fprintf(f, "not ready: the daemon is shutting down\n");
	TAILQ_FOREACH(a, &apps, entry) {
		if (a->deleting)
			continue;
		napps++;
		for (k = 0; k < a->ninst; k++) {
			in = a->inst[k];
			total++;
			if (inst_status(in) == ST_ONLINE) {
				online++;
				continue;
			}
			if (named++ >= READYZ_MAX_NAMED)
				continue;
			fprintf(f, "not ready: %s:%d is %s", a->name, k,
			    inst_status_name(in));
			if (inst_status(in) != ST_LAUNCHING &&
			    inst_status(in) != ST_STOPPING) {
				inst_why_down(in, why, sizeof why);
				fprintf(f, " (%s)", why);
			}
			fputc('\n', f);
		}
	}
	if (named > READYZ_MAX_NAMED)
		fprintf(f, "not ready: %d more\n", named - READYZ_MAX_NAMED);
	if (napps == 0)
		fprintf(f, "not ready: no apps\n");
	*ready = !quitting && napps > 0 && online == total;
	fprintf(f, "%s: %d app%s, %d of %d instance%s online\n",
	    *ready ? "ready" : "not ready", napps, napps == 1 ? "" : "s",
	    online, total, total == 1 ? "" : "s");
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* The body of /livez (a new string, *len bytes). */
char *
health_livez(size_t *len)
{
	char *buf = NULL;
	int n;

	n = asprintf(&buf, "alive: pid %ld\n", (long)getpid());
	if (n < 0)
		return NULL;
	*len = (size_t)n;
	return buf;
}
