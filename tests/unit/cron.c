/* Cron expressions: core/cron.c. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../core/cron.h"
#include "tap.h"

/* The next match after the UTC time "YYYY-MM-DD HH:MM" as the same. */
static const char *
next(const char *expr, const char *after)
{
	static char out[32];
	struct cron c;
	struct tm tm;
	char err[256];
	time_t t;

	if (cron_parse(expr, &c, err, sizeof err) != 0)
		return "refused";
	memset(&tm, 0, sizeof tm);
	strptime(after, "%Y-%m-%d %H:%M", &tm);
	tm.tm_isdst = -1;
	t = cron_next(&c, mktime(&tm));
	localtime_r(&t, &tm);
	strftime(out, sizeof out, "%Y-%m-%d %H:%M", &tm);
	return out;
}

static int
bad(const char *expr)
{
	struct cron c;
	char err[256];

	return cron_parse(expr, &c, err, sizeof err) != 0;
}

int
main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	ok(strcmp(next("* * * * *", "2026-11-30 12:00"), "2026-11-30 12:01")
	    == 0, "every minute: the next minute");
	ok(strcmp(next("0 3 * * *", "2026-11-30 12:00"), "2026-12-01 03:00")
	    == 0, "0 3 * * *: 3 am tomorrow");
	ok(strcmp(next("0 3 * * *", "2026-11-30 02:59"), "2026-11-30 03:00")
	    == 0, "0 3 * * *: 3 am today");
	ok(strcmp(next("*/15 * * * *", "2026-11-30 12:01"), "2026-11-30 12:15")
	    == 0, "*/15");
	ok(strcmp(next("30 9 * * mon-fri", "2026-11-28 10:00"),
	    "2026-11-30 09:30") == 0, "weekday names: Saturday to Monday");
	ok(strcmp(next("0 0 1 jan *", "2026-11-30 12:00"), "2027-01-01 00:00")
	    == 0, "month names");
	ok(strcmp(next("0 0 29 2 *", "2026-11-30 12:00"), "2028-02-29 00:00")
	    == 0, "29 February: the next leap year");
	ok(strcmp(next("0 12 13 * 5", "2026-11-30 00:00"), "2026-12-04 12:00")
	    == 0, "day of month OR day of week when both are given");
	ok(strcmp(next("0 0 * * 7", "2026-11-30 00:00"), "2026-12-06 00:00")
	    == 0, "7 is Sunday");
	ok(strcmp(next("@hourly", "2026-11-30 12:00"), "2026-11-30 13:00")
	    == 0, "@hourly");
	ok(strcmp(next("@daily", "2026-11-30 12:00"), "2026-12-01 00:00")
	    == 0, "@daily");
	ok(strcmp(next("@weekly", "2026-11-30 12:00"), "2026-12-06 00:00")
	    == 0, "@weekly: Sunday midnight");
	ok(strcmp(next("5,10-12 * * * *", "2026-11-30 12:10"),
	    "2026-11-30 12:11") == 0, "lists and ranges");
	ok(bad("* * * *"), "four fields are refused");
	ok(bad("0 * * * * *"), "six fields (seconds) are refused");
	ok(bad("60 * * * *"), "minute 60 is refused");
	ok(bad("* 24 * * *"), "hour 24 is refused");
	ok(bad("* * 0 * *"), "day 0 is refused");
	ok(bad("* * * 13 *"), "month 13 is refused");
	ok(bad("*/0 * * * *"), "a step of 0 is refused");
	ok(bad("5-1 * * * *"), "a backward range is refused");
	ok(bad("@often"), "an unknown @name is refused");
	ok(bad("* * * foo *"), "an unknown month name is refused");
	return tap_done();
}
