/*
 * Cron expressions (see cron.h).  The day rule is cron's: when both the
 * day of month and the day of week are restricted, a day matching either
 * matches; otherwise both must.
 */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cron.h"

static const char *month_names[] = { "jan", "feb", "mar", "apr", "may", "jun",
	"jul", "aug", "sep", "oct", "nov", "dec" };
static const char *dow_names[] = { "sun", "mon", "tue", "wed", "thu", "fri",
	"sat" };

static const struct {
	const char *name;
	const char *expr;
} macros[] = {
	{ "@yearly", "0 0 1 1 *" },
	{ "@annually", "0 0 1 1 *" },
	{ "@monthly", "0 0 1 * *" },
	{ "@weekly", "0 0 * * 0" },
	{ "@daily", "0 0 * * *" },
	{ "@midnight", "0 0 * * *" },
	{ "@hourly", "0 * * * *" },
};

/* A number or (names != NULL) a three-letter name at *p; -1 if none. */
static long
value(const char **p, const char **names, int nnames, int base)
{
	char *end;
	long v;
	int i;

	if (names != NULL && isalpha((unsigned char)**p)) {
		for (i = 0; i < nnames; i++)
			if (strncasecmp(*p, names[i], 3) == 0 &&
			    !isalpha((unsigned char)(*p)[3])) {
				*p += 3;
				return i + base;
			}
		return -1;
	}
	if (!isdigit((unsigned char)**p))
		return -1;
	v = strtol(*p, &end, 10);
	*p = end;
	return v;
}

/*
 * One field into a bit set of lo..hi: "*", "N", "A-B", "*\/S", "A-B/S",
 * "N/S" (N to hi), joined by commas.  0, or -1.
 */
static int
field(const char *s, int lo, int hi, const char **names, int nnames, int base,
    uint64_t *bits, int *any)
{
	const char *p = s;
	long a, b, step, v;

	*bits = 0;
	*any = strcmp(s, "*") == 0;
	for (;;) {
		step = 1;
		if (*p == '*') {
			a = lo;
			b = hi;
			p++;
		} else {
			if ((a = value(&p, names, nnames, base)) < 0)
				return -1;
			b = a;
			if (*p == '-') {
				p++;
				if ((b = value(&p, names, nnames, base)) < 0)
					return -1;
			} else if (*p == '/')
				b = hi;
		}
		if (*p == '/') {
			p++;
			if (!isdigit((unsigned char)*p))
				return -1;
			step = strtol(p, (char **)&p, 10);
			if (step < 1)
				return -1;
		}
		/* Sunday is 0 or 7. */
		if (hi == 6 && a == 7 && b == 7)
			a = b = 0;
		if (hi == 6 && b == 7)
			b = 6, *bits |= 1;
		if (a < lo || b > hi || a > b)
			return -1;
		for (v = a; v <= b; v += step)
			*bits |= 1ULL << v;
		if (*p == '\0')
			return 0;
		if (*p++ != ',')
			return -1;
	}
}

/* Parse expr into c: 0, or -1 with err saying what is wrong. */
int
cron_parse(const char *expr, struct cron *c, char *err, size_t errlen)
{
	static const char *what[] = { "minute", "hour", "day of month", "month",
		"day of week" };
	char buf[256], *f[6], *save = NULL, *t;
	uint64_t bits[5];
	int any[5], n = 0;
	size_t i;

	memset(c, 0, sizeof *c);
	for (i = 0; i < sizeof macros / sizeof macros[0]; i++)
		if (strcasecmp(expr, macros[i].name) == 0)
			return cron_parse(macros[i].expr, c, err, errlen);
	if (expr[0] == '@') {
		snprintf(err, errlen,
		    "unknown schedule '%s' (@hourly, @daily, "
		    "@weekly, @monthly, @yearly)",
		    expr);
		return -1;
	}
	if (strlen(expr) >= sizeof buf) {
		snprintf(err, errlen, "cron expression too long");
		return -1;
	}
	strcpy(buf, expr);
	for (t = strtok_r(buf, " \t", &save); t != NULL && n < 6;
	     t = strtok_r(NULL, " \t", &save))
		f[n++] = t;
	if (n != 5) {
		snprintf(err, errlen,
		    "invalid cron expression '%s': it needs 5 "
		    "fields (minute hour day month weekday), not %d%s",
		    expr, n, n == 6 ? " (no seconds field)" : "");
		return -1;
	}
	if (field(f[0], 0, 59, NULL, 0, 0, &bits[0], &any[0]) != 0 ||
	    field(f[1], 0, 23, NULL, 0, 0, &bits[1], &any[1]) != 0 ||
	    field(f[2], 1, 31, NULL, 0, 0, &bits[2], &any[2]) != 0 ||
	    field(f[3], 1, 12, month_names, 12, 1, &bits[3], &any[3]) != 0 ||
	    field(f[4], 0, 6, dow_names, 7, 0, &bits[4], &any[4]) != 0) {
		for (n = 0; n < 5; n++) {
			static const int lo[] = { 0, 0, 1, 1, 0 };
			static const int hi[] = { 59, 23, 31, 12, 6 };

			if (field(f[n], lo[n], hi[n],
				n == 3	   ? month_names :
				    n == 4 ? dow_names :
					     NULL,
				n == 3 ? 12 : 7, n == 3 ? 1 : 0, &bits[n],
				&any[n]) != 0)
				break;
		}
		snprintf(err, errlen,
		    "invalid cron expression '%s': bad %s "
		    "field '%s'",
		    expr, what[n < 5 ? n : 0], f[n < 5 ? n : 0]);
		return -1;
	}
	c->minute = bits[0];
	c->hour = (uint32_t)bits[1];
	c->dom = (uint32_t)bits[2];
	c->month = (uint32_t)bits[3];
	c->dow = (uint32_t)bits[4];
	c->dom_any = any[2];
	c->dow_any = any[4];
	return 0;
}

static int
day_matches(const struct cron *c, const struct tm *tm)
{
	int d = (c->dom >> tm->tm_mday) & 1, w = (c->dow >> tm->tm_wday) & 1;

	if (!c->dom_any && !c->dow_any)
		return d || w;
	return d && w;
}

/* The first minute after t (local time) that c matches, or -1. */
time_t
cron_next(const struct cron *c, time_t t)
{
	struct tm tm;
	int i;

	t = t - t % 60 + 60;
	localtime_r(&t, &tm);
	tm.tm_sec = 0;
	/* Jump by month, day, hour, minute: a few hundred steps at most
	 * over the years a rule like "0 0 29 2 *" may take. */
	for (i = 0; i < 100000; i++) {
		tm.tm_isdst = -1;
		if (!((c->month >> (tm.tm_mon + 1)) & 1)) {
			tm.tm_mon++;
			tm.tm_mday = 1;
			tm.tm_hour = tm.tm_min = 0;
		} else if (!day_matches(c, &tm)) {
			tm.tm_mday++;
			tm.tm_hour = tm.tm_min = 0;
		} else if (!((c->hour >> tm.tm_hour) & 1)) {
			tm.tm_hour++;
			tm.tm_min = 0;
		} else if (!((c->minute >> tm.tm_min) & 1)) {
			tm.tm_min++;
		} else {
			return mktime(&tm);
		}
		t = mktime(&tm); /* normalise (and follow daylight saving) */
		localtime_r(&t, &tm);
	}
	return (time_t)-1;
}
