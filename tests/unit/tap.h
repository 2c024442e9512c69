/* A minimal TAP producer for the C unit tests. */
#ifndef TAP_H
#define TAP_H

#include <stdio.h>

static int tap_n, tap_failed;

#define ok(cond, ...)                                                     \
	do {                                                              \
		int tap_ok_ = (cond) ? 1 : 0;                             \
		tap_n++;                                                  \
		if (!tap_ok_)                                             \
			tap_failed++;                                     \
		printf("%sok %d - ", tap_ok_ ? "" : "not ", tap_n);       \
		printf(__VA_ARGS__);                                      \
		printf("\n");                                             \
		if (!tap_ok_)                                             \
			printf("#   failed at %s:%d: %s\n", __FILE__,         \
			    __LINE__, #cond);                             \
	} while (0)

#define tap_done() (printf("1..%d\n", tap_n), tap_failed != 0)

#endif
