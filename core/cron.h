/*
 * Cron expressions: five fields (minute hour day-of-month month
 * day-of-week) with lists, ranges, steps and names, or @hourly-style
 * names; the next matching minute in local time.  Plain libc, no loop:
 * tests/unit/cron.c links it alone.
 */
#ifndef CORE_CRON_H
#define CORE_CRON_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct cron {
	uint64_t minute; /* bit m: minute m matches (0-59) */
	uint32_t hour;	 /* 0-23 */
	uint32_t dom;	 /* 1-31 */
	uint32_t month;	 /* 1-12 */
	uint32_t dow;	 /* 0-6, Sunday 0 */
	int dom_any;	 /* the field was '*' (for the day rule) */
	int dow_any;
};

int cron_parse(const char *, struct cron *, char *, size_t);
time_t cron_next(const struct cron *, time_t);

#endif
