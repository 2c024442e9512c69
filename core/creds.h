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

struct creds {
	int set; /* 0: the daemon's own */
	uid_t uid;
	gid_t gid;
	char user[64]; /* for initgroups; "": no user entry, groups = gid */
};

int creds_from_spec(const json_t *, struct creds *, struct err *);
void creds_env_value(const struct creds *, char *, size_t);
int creds_drop_from_env(void);

#endif
