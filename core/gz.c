/*
 * zlib's gzip file functions, loaded with util_dlopen on first use.  They
 * are called on the loop's thread (follow.c reads a compressed tail) and
 * on the thread pool's (logfile.c compresses a rotated file): the library
 * is loaded once, under pthread_once.
 */
#include <errno.h>
#include <pthread.h>

#include "../ipc/util.h"
#include "gz.h"

static struct {
	void *so;
	__typeof__(gzdopen) *dopen;
	__typeof__(gzread) *read;
	__typeof__(gzwrite) *write;
	__typeof__(gzclose) *close;
	char err[256];
} z;

static pthread_once_t z_once = PTHREAD_ONCE_INIT;

static void
z_load(void)
{
	static const struct util_sym syms[] = {
		{ "gzdopen", (void **)&z.dopen },
		{ "gzread", (void **)&z.read },
		{ "gzwrite", (void **)&z.write },
		{ "gzclose", (void **)&z.close },
	};

	z.so = util_dlopen("libz.so.1", "zlib1g", syms,
	    sizeof syms / sizeof syms[0], z.err, sizeof z.err);
}

/* gzdopen(), or NULL with errno ENOSYS when zlib cannot be loaded
 * (gz_error says why). */
gzFile
gz_dopen(int fd, const char *mode)
{
	pthread_once(&z_once, z_load);
	if (z.so == NULL) {
		errno = ENOSYS;
		return NULL;
	}
	return z.dopen(fd, mode);
}

/* The rest take a file gz_dopen opened, so zlib is there. */
int
gz_read(gzFile gz, void *buf, unsigned len)
{
	return z.read(gz, buf, len);
}

int
gz_write(gzFile gz, const void *buf, unsigned len)
{
	return z.write(gz, buf, len);
}

int
gz_close(gzFile gz)
{
	return z.close(gz);
}

/* Why zlib could not be loaded, or NULL. */
const char *
gz_error(void)
{
	return z.so == NULL && z.err[0] != '\0' ? z.err : NULL;
}
