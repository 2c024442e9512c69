/*
 * gzip files through zlib, loaded the first time one is written or read
 * (a rotated log compressed, the tail of a compressed one): only a daemon
 * that rotates with compression pays for it, not every exec of the binary.
 */
#ifndef CORE_GZ_H
#define CORE_GZ_H

#include <zlib.h>

gzFile gz_dopen(int, const char *);
int gz_read(gzFile, void *, unsigned);
int gz_write(gzFile, const void *, unsigned);
int gz_close(gzFile);
const char *gz_error(void);

#endif
