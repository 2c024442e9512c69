/*
 * A growing byte buffer: bytes appended at the end, the storage doubled
 * when they do not fit.  The log mechanisms keep what they cannot pass on
 * yet in one (a partial line, bytes waiting for the disk or the console).
 */
#ifndef CORE_BUF_H
#define CORE_BUF_H

#include <stddef.h>

struct buf {
	char *p;
	size_t len; /* bytes in p */
	size_t cap; /* bytes allocated */
};

int buf_reserve(struct buf *, size_t, size_t);
int buf_add(struct buf *, const void *, size_t, size_t);
void buf_release(struct buf *);

#endif
