/*
 * Who an app's instances run as (--uid, --gid): core/creds.c, used by the
 * daemon (resolving a spec) and by the __exec shim (dropping to them).
 */
#ifndef CORE_CREDS_H
#define CORE_CREDS_H

#include <stddef.h>
#include <sys/types.h>

#include <jansson.h>

struct err;

/* At most this many groups of the user are kept for file access. */
#define CREDS_GROUPS 32

struct creds {
	int set; /* 0: the daemon's own */
	uid_t uid;
	gid_t gid;
	char user[64]; /* for initgroups; "": no user entry, groups = gid */
	int ngroups;   /* the user's groups (gid first), for creds_fs_enter */
	gid_t groups[CREDS_GROUPS];
};

/* A thread's file-system credentials, saved by creds_fs_enter. */
struct creds_fs {
	int on;
	uid_t fsuid;
	gid_t fsgid;
	int ngroups;
	gid_t groups[CREDS_GROUPS * 2];
};

int creds_from_spec(const json_t *, struct creds *, struct err *);
int creds_other_user(const struct creds *, long long);
void creds_env_value(const struct creds *, char *, size_t);
int creds_drop_from_env(void);
int creds_fs_enter(const struct creds *, struct creds_fs *);
void creds_fs_leave(struct creds_fs *);

#endif
