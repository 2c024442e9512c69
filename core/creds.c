/*
 * Running an app as another user (--uid, --gid; pm2's uid and gid): the
 * daemon resolves the spec's names once, when the app is made, and a
 * daemon that is not root refuses them.  The __exec shim drops to the
 * user and its groups (initgroups) before it executes the program: that
 * cannot be done between libuv's fork and exec, where no lookup in the
 * group database is safe.  The daemon tells it through CLUSTERCTL_CREDS,
 * which the shim removes.
 *
 * The daemon itself touches files for such an app (its log files) with
 * the user's file-system credentials where the user controls the
 * directory (creds_fs_enter): the kernel then checks the user's rights,
 * so a link the user planted leads nowhere the user could not go.
 */
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core.h"

/* A user or group given as a name or a number: its number, or -1. */
static long long
id_number(const json_t *v)
{
	const char *s, *p;

	if (json_is_integer(v))
		return json_integer_value(v) >= 0 &&
			json_integer_value(v) < 0xFFFFFFFFLL ?
		    json_integer_value(v) :
		    -1;
	s = json_string_value(v);
	for (p = s; *p >= '0' && *p <= '9'; p++)
		;
	if (*s == '\0' || *p != '\0' || p - s > 10)
		return -1;
	return strtoll(s, NULL, 10) < 0xFFFFFFFFLL ? strtoll(s, NULL, 10) : -1;
}

/*
 * The credentials of spec's uid and gid members into c: 0 (c->set is 0
 * when there are none), or -1 with e.
 */
int
creds_from_spec(const json_t *spec, struct creds *c, struct err *e)
{
	const json_t *ju = json_object_get(spec, "uid");
	const json_t *jg = json_object_get(spec, "gid");
	struct passwd *pw = NULL;
	struct group *gr;
	long long n;

	memset(c, 0, sizeof *c);
	if (ju != NULL && json_is_null(ju))
		ju = NULL;
	if (jg != NULL && json_is_null(jg))
		jg = NULL;
	if (ju == NULL && jg == NULL)
		return 0;
	if ((ju != NULL && !json_is_string(ju) && !json_is_integer(ju)) ||
	    (jg != NULL && !json_is_string(jg) && !json_is_integer(jg))) {
		err_set(e, IPC_E_BAD_REQUEST, "'%s' is not a name or a number",
		    ju != NULL && !json_is_string(ju) && !json_is_integer(ju) ?
			"uid" :
			"gid");
		return -1;
	}
	c->set = 1;
	c->uid = geteuid();
	c->gid = getegid();
	if (ju != NULL) {
		errno = 0;
		if ((n = id_number(ju)) >= 0)
			pw = getpwuid((uid_t)n);
		else if ((pw = getpwnam(json_string_value(ju))) == NULL) {
			err_set(e, IPC_E_BAD_REQUEST, "no user named '%s'",
			    json_string_value(ju));
			return -1;
		}
		c->uid = pw != NULL ? pw->pw_uid : (uid_t)n;
		if (pw != NULL) {
			snprintf(c->user, sizeof c->user, "%s", pw->pw_name);
			c->gid = pw->pw_gid;
		} else if (jg == NULL) {
			err_set(e, IPC_E_BAD_REQUEST,
			    "uid %lld has no user "
			    "entry: give its group with --gid too",
			    n);
			return -1;
		}
	}
	if (jg != NULL) {
		if ((n = id_number(jg)) >= 0)
			c->gid = (gid_t)n;
		else if ((gr = getgrnam(json_string_value(jg))) != NULL)
			c->gid = gr->gr_gid;
		else {
			err_set(e, IPC_E_BAD_REQUEST, "no group named '%s'",
			    json_string_value(jg));
			return -1;
		}
	}
	/* Only root may change who runs a program; the daemon's own user
	 * is no change. */
	if (geteuid() != 0 && (c->uid != geteuid() || c->gid != getegid())) {
		err_set(e, IPC_E_BAD_REQUEST,
		    "--uid and --gid need a daemon "
		    "running as root, and this one runs as uid %ld: leave them "
		    "out, or run clusterctl as root",
		    (long)geteuid());
		return -1;
	}
	if (geteuid() != 0)
		c->set = 0;
	/* The groups the shim's initgroups gives it (or the one gid). */
	c->ngroups = CREDS_GROUPS;
	if (c->user[0] == '\0' ||
	    getgrouplist(c->user, c->gid, c->groups, &c->ngroups) == -1) {
		/* none, or more than we keep: the gid alone, never more */
		c->groups[0] = c->gid;
		c->ngroups = 1;
	}
	return 0;
}

/*
 * Whether c runs its app as a user other than the daemon's (which cannot
 * reach the owner-only home), and, unless uid is -1, as that uid.
 */
int
creds_other_user(const struct creds *c, long long uid)
{
	return c->set && c->uid != geteuid() &&
	    (uid == -1 || (long long)c->uid == uid);
}

/* CLUSTERCTL_CREDS's value for the shim: "UID GID [USER]". */
void
creds_env_value(const struct creds *c, char *buf, size_t len)
{
	snprintf(buf, len, "%lu %lu%s%s", (unsigned long)c->uid,
	    (unsigned long)c->gid, c->user[0] != '\0' ? " " : "", c->user);
}

/*
 * In the shim: drop to CLUSTERCTL_CREDS's user, its groups (the user's
 * from the group database, or the one gid), then remove the variable.
 * 0, or a positive errno.
 */
int
creds_drop_from_env(void)
{
	const char *v = getenv("CLUSTERCTL_CREDS");
	char user[256];
	unsigned long uid, gid;
	gid_t g;
	int n;

	if (v == NULL)
		return 0;
	user[0] = '\0';
	n = sscanf(v, "%lu %lu %255s", &uid, &gid, user);
	unsetenv("CLUSTERCTL_CREDS");
	if (n < 2)
		return EINVAL;
	g = (gid_t)gid;
	if ((user[0] != '\0' ? initgroups(user, g) : setgroups(1, &g)) == -1 ||
	    setgid(g) == -1 || setuid((uid_t)uid) == -1)
		return errno;
	/* Whatever happened, never run on as root by mistake. */
	if (uid != 0 && (setuid(0) != -1 || geteuid() == 0))
		return EPERM;
	return 0;
}

/*
 * Make this thread's file-system calls as c's user, its groups and gid
 * (a root daemon only), saving what they were into saved; undone by
 * creds_fs_leave.  Raw system calls: they change the calling thread only,
 * where glibc's setgroups would change every thread of the daemon.  The
 * kernel drops the file capabilities (CAP_DAC_OVERRIDE...) while the
 * fsuid is not 0.  0, or -1 and errno (nothing changed).
 */
int
creds_fs_enter(const struct creds *c, struct creds_fs *saved)
{
	int n;

	memset(saved, 0, sizeof *saved);
	if (c == NULL || !c->set || geteuid() != 0)
		return 0;
	n = getgroups(CREDS_GROUPS * 2, saved->groups);
	if (n == -1)
		return -1;
	saved->ngroups = n;
	saved->fsuid = (uid_t)setfsuid((uid_t)-1);
	saved->fsgid = (gid_t)setfsgid((gid_t)-1);
	if (syscall(SYS_setgroups, (size_t)c->ngroups, c->groups) == -1)
		return -1;
	saved->on = 1;
	(void)setfsgid(c->gid);
	(void)setfsuid(c->uid);
	/* setfsuid says nothing of a failure: ask again */
	if ((uid_t)setfsuid((uid_t)-1) != c->uid ||
	    (gid_t)setfsgid((gid_t)-1) != c->gid) {
		creds_fs_leave(saved);
		errno = EPERM;
		return -1;
	}
	return 0;
}

/* Back to the file-system credentials creds_fs_enter saved. */
void
creds_fs_leave(struct creds_fs *saved)
{
	if (!saved->on)
		return;
	(void)setfsuid(saved->fsuid);
	(void)setfsgid(saved->fsgid);
	if (syscall(SYS_setgroups, (size_t)saved->ngroups, saved->groups) ==
		-1 ||
	    (uid_t)setfsuid((uid_t)-1) != saved->fsuid)
		fatal("cannot take back the daemon's own file credentials");
	saved->on = 0;
}
