/*
 * pm2's --pid FILE (pid_file): each running instance's pid in a file of
 * its own, written once the process is spawned and removed when it ends.
 * The file of instance N is FILE with "-N" before ".pid" (pm2's rule,
 * numbered by instance where pm2 numbers by its process id; a "-M.pid"
 * already there is replaced), or with "-N" added to a name that does not
 * end in ".pid", so two instances never share one.  The file is opened by
 * logf_open, the daemon's one way to open a file a user named (no link
 * followed, no unsafe directory as root); it is removed only while it
 * still holds this process's pid, since a reload's replacement of the
 * same slot writes its own before the old process ends.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core.h"
#include "logs.h"

/* The pid file of a's instance index: a new string, or NULL (none). */
char *
pidfile_path(const struct app *a, int index)
{
	const char *f = a->pid_file, *end;
	char *p;
	size_t n;

	if (f == NULL)
		return NULL;
	n = strlen(f);
	if (n > 4 && strcmp(f + n - 4, ".pid") == 0) {
		end = f + n - 4;
		while (end > f && end[-1] >= '0' && end[-1] <= '9')
			end--;
		/* "web-3.pid": the number pm2 would have put there goes. */
		if (end < f + n - 4 && end > f && end[-1] == '-')
			n = (size_t)(end - 1 - f);
		else
			n -= 4;
		if (asprintf(&p, "%.*s-%d.pid", (int)n, f, index) == -1)
			return NULL;
	} else if (asprintf(&p, "%s-%d", f, index) == -1)
		return NULL;
	return p;
}

/*
 * Write the pid of in's new process to its pid file, if it has one; in
 * keeps the path (its app's may change before the process ends).
 */
void
pidfile_write(struct instance *in)
{
	char *path = pidfile_path(in->app, in->index), buf[32];
	int fd, n, err = 0;

	free(in->pid_file);
	if ((in->pid_file = path) == NULL)
		return;
	n = snprintf(buf, sizeof buf, "%ld\n", (long)in->pid);
	if ((fd = logf_open(path, O_WRONLY | O_CREAT | O_TRUNC)) == -1)
		err = errno;
	else {
		if (write(fd, buf, (size_t)n) != n)
			err = errno != 0 ? errno : EIO;
		if (close(fd) != 0 && err == 0)
			err = errno;
	}
	if (err != 0)
		log_warnx("%s:%d cannot write the pid file '%s': %s",
		    in->app->name, in->index, path, logf_strerror(err));
}

/* Remove in's pid file, when it still holds in's pid. */
void
pidfile_remove(struct instance *in)
{
	char *path = in->pid_file, buf[32];
	ssize_t n;
	int fd;

	if (path == NULL)
		return;
	in->pid_file = NULL;
	if ((fd = logf_open(path, O_RDONLY)) != -1) {
		n = read(fd, buf, sizeof buf - 1);
		close(fd);
		buf[n > 0 ? n : 0] = '\0';
		if (n > 0 && strtol(buf, NULL, 10) == (long)in->pid &&
		    logf_unlink(path) != 0 && errno != ENOENT)
			log_warnx("%s:%d cannot remove the pid file '%s': %s",
			    in->app->name, in->index, path,
			    logf_strerror(errno));
	}
	free(path);
}
