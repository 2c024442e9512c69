/*
 * The message schema: requests {"v","id","cmd","args"}, replies
 * {"v","id","ok",...}.  See docs/protocol.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "proto.h"

/* A request; steals args (which may be NULL). */
json_t *
ipc_request_new(uint32_t id, const char *cmd, json_t *args)
{
	if (args == NULL)
		args = json_object();
	return json_pack("{s:i, s:I, s:s, s:o}", "v", IPC_VERSION, "id",
	    (json_int_t)id, "cmd", cmd, "args", args);
}

/*
 * Check a request's shape.  On success the id, command and args (borrowed
 * references into msg) are set.  On failure err says why and, when the id
 * could be read, *id holds it so the reply can name it.
 */
int
ipc_request_check(const json_t *msg, uint32_t *id, const char **cmd,
    json_t **args, char *err, size_t errlen)
{
	json_t *v, *jid, *jcmd, *jargs;

	*id = 0;
	jid = json_object_get(msg, "id");
	if (!json_is_integer(jid) || json_integer_value(jid) < 0 ||
	    json_integer_value(jid) > UINT32_MAX) {
		snprintf(err, errlen, "request has no valid 'id'");
		return -EBADMSG;
	}
	*id = (uint32_t)json_integer_value(jid);
	v = json_object_get(msg, "v");
	if (!json_is_integer(v)) {
		snprintf(err, errlen, "request has no protocol version 'v'");
		return -EBADMSG;
	}
	if (json_integer_value(v) != IPC_VERSION) {
		snprintf(err, errlen,
		    "protocol version %" JSON_INTEGER_FORMAT
		    " is not supported (this side speaks %d)",
		    json_integer_value(v), IPC_VERSION);
		return -EPROTO;
	}
	jcmd = json_object_get(msg, "cmd");
	if (!json_is_string(jcmd)) {
		snprintf(err, errlen, "request has no 'cmd'");
		return -EBADMSG;
	}
	jargs = json_object_get(msg, "args");
	if (jargs != NULL && !json_is_object(jargs)) {
		snprintf(err, errlen, "'args' is not an object");
		return -EBADMSG;
	}
	*cmd = json_string_value(jcmd);
	*args = jargs;
	return 0;
}

/* A successful reply; steals data (may be NULL).  more: a stream goes on. */
json_t *
ipc_reply_ok(uint32_t id, json_t *data, int more)
{
	json_t *r;

	r = json_pack("{s:i, s:I, s:b}", "v", IPC_VERSION, "id", (json_int_t)id,
	    "ok", 1);
	if (data != NULL)
		json_object_set_new(r, "data", data);
	if (more)
		json_object_set_new(r, "more", json_true());
	return r;
}

json_t *
ipc_reply_error(uint32_t id, const char *code, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	return json_pack("{s:i, s:I, s:b, s:{s:s, s:s}}", "v", IPC_VERSION,
	    "id", (json_int_t)id, "ok", 0, "error", "code", code, "message",
	    msg);
}

/*
 * Fill a Unix socket address for path.  A path too long for sun_path is
 * reached through its directory: the directory is opened and the address
 * becomes /proc/self/fd/N/NAME.  *dirfd is that descriptor (or -1), for the
 * caller to close once it has bound or connected.
 */
int
ipc_sockaddr(const char *path, struct sockaddr_un *sa, socklen_t *salen,
    int *dirfd)
{
	char dir[PATH_MAX];
	const char *base;
	size_t n;
	int fd;

	*dirfd = -1;
	memset(sa, 0, sizeof *sa);
	sa->sun_family = AF_UNIX;
	n = strlen(path);
	if (n < sizeof sa->sun_path) {
		memcpy(sa->sun_path, path, n + 1);
		*salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) +
		    n + 1);
		return 0;
	}
	if ((base = strrchr(path, '/')) == NULL || n >= sizeof dir)
		return -ENAMETOOLONG;
	memcpy(dir, path, (size_t)(base - path));
	dir[base - path] = '\0';
	if (dir[0] == '\0')
		strcpy(dir, "/");
	base++;
	if ((fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC)) == -1)
		return -errno;
	n = (size_t)snprintf(sa->sun_path, sizeof sa->sun_path,
	    "/proc/self/fd/%d/%s", fd, base);
	if (n >= sizeof sa->sun_path) {
		close(fd);
		return -ENAMETOOLONG;
	}
	*salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
	*dirfd = fd;
	return 0;
}
