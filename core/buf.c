/*
 * The growing byte buffer of buf.h, the one way the log mechanisms
 * (capture.c, logfile.c, console.c) keep bytes for later or format them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

/*
 * Make room for need bytes in b, growing it to first bytes the first
 * time and doubling it after: 0, or -ENOMEM (b unchanged).
 */
int
buf_reserve(struct buf *b, size_t need, size_t first)
{
	size_t cap;
	char *p;

	if (need <= b->cap)
		return 0;
	cap = b->cap ? b->cap : first;
	while (cap < need)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Append n bytes of src to b (growing as buf_reserve): 0 or -ENOMEM. */
int
buf_add(struct buf *b, const void *src, size_t n, size_t first)
{
	if (buf_reserve(b, b->len + n, first) != 0)
		return -ENOMEM;
	memcpy(b->p + b->len, src, n);
	b->len += n;
	return 0;
}

/* Free b's storage; b is empty and may be used again. */
void
buf_release(struct buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}
