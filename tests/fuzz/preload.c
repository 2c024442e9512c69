/*
 * Fuzz target: the preload library's address handling (core/preload/share-
 * preload.c: share_args turns the address an app binds into the share
 * request's JSON, written by hand).  Included whole, its bind() and
 * listen() renamed so that they do not replace libc's here.  The first
 * byte picks the socket (TCP v4, v6, Unix), the second the address length
 * given, the rest is the address; whenever share_args says the address is
 * shared, what it wrote must be a JSON object naming the family (or, for
 * a Unix path that is not UTF-8, text that jansson refuses as such).
 */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <jansson.h>

#include "../../ipc/util.h"

/* Its interposers keep out of libc's way here. */
#define bind preload_bind
#define listen preload_listen
#define connect preload_connect
#define getsockname preload_getsockname
#define shutdown preload_shutdown
#define accept preload_accept
#define accept4 preload_accept4
#define fcntl preload_fcntl
#define fcntl64 preload_fcntl64
#define ioctl preload_ioctl
#define unlink preload_unlink
#define unlinkat preload_unlinkat
#include "../../core/preload/share-preload.c"
#undef bind
#undef listen
#undef connect
#undef getsockname
#undef shutdown
#undef accept
#undef accept4
#undef fcntl
#undef fcntl64
#undef ioctl
#undef unlink
#undef unlinkat

int LLVMFuzzerTestOneInput(const uint8_t *, size_t);
int LLVMFuzzerInitialize(int *, char ***);

static int socks[3];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	socks[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socks[1] = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	socks[2] = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int fams[3] = { AF_INET, AF_INET6, AF_UNIX };
	struct sockaddr_storage ss;
	char args[PATH_MAX + 256];
	socklen_t salen;
	json_error_t je;
	json_t *j;
	char *clean;
	struct rec r;
	size_t n;
	int k, valid;

	if (size < 2)
		return 0;
	k = data[0] % 3;
	memset(&ss, 0, sizeof ss);
	n = size - 2 < sizeof ss ? size - 2 : sizeof ss;
	memcpy(&ss, data + 2, n);
	/* The family the socket has, or now and then another one. */
	ss.ss_family = (sa_family_t)(data[0] < 240 ? fams[k] : data[2 % size]);
	salen = (socklen_t)(data[1] % (sizeof ss + 1));
	/* As bind() notes it, then as listen() asks for it. */
	if (!shareable(socks[k], (struct sockaddr *)&ss, salen))
		return 0;
	memset(&r, 0, sizeof r);
	memcpy(&r.sa, &ss, salen);
	r.salen = salen;
	if (ss.ss_family == AF_UNIX)
		(void)unix_path((const struct sockaddr_un *)&ss, salen, r.path,
		    sizeof r.path);
	if (!share_args(socks[k], &r, data[1], args, sizeof args))
		return 0;
	/* A Unix path that is not UTF-8 cannot be said in JSON: the daemon
	 * refuses the frame and the app binds alone, as documented. */
	clean = util_utf8_clean(args, strlen(args), NULL);
	valid = clean != NULL && strcmp(clean, args) == 0;
	free(clean);
	j = json_loads(args, 0, &je);
	if (j == NULL && !valid)
		return 0;
	if (j == NULL || !json_is_string(json_object_get(j, "family")))
		abort();
	json_decref(j);
	return 0;
}
