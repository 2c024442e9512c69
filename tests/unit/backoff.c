/* The restart delay arithmetic: core/backoff.c. */
#include <limits.h>

#include "../../core/core.h"
#include "tap.h"

int
main(void)
{
	int64_t d, prev;
	unsigned int n;
	int grows = 1;

	ok(backoff_next_delay(100, 1.5, 15000, 0) == 100, "first delay is d0");
	ok(backoff_next_delay(100, 1.5, 15000, 1) == 150, "then d0 * 1.5");
	ok(backoff_next_delay(100, 1.5, 15000, 2) == 225, "then d0 * 1.5^2");
	ok(backoff_next_delay(100, 1.5, 15000, 5) == 759, "d0 * 1.5^5 = 759");
	prev = 0;
	for (n = 0; n < 40; n++) {
		d = backoff_next_delay(100, 1.5, 15000, n);
		if (d < prev || d > 15000)
			grows = 0;
		prev = d;
	}
	ok(grows, "never shrinks, never passes the cap");
	ok(backoff_next_delay(100, 1.5, 15000, 13) == 15000,
	    "reaches the cap (100 * 1.5^13 > 15000)");
	ok(backoff_next_delay(100, 1.5, 15000, UINT_MAX) == 15000,
	    "a huge count gives the cap, no overflow");
	ok(backoff_next_delay(100, 1.5, INT64_MAX, 5000) == INT64_MAX ||
	    backoff_next_delay(100, 1.5, INT64_MAX, 5000) > 0,
	    "an unbounded cap does not wrap negative");
	ok(backoff_next_delay(0, 1.5, 15000, 7) == 0, "d0 of 0: no delay");
	ok(backoff_next_delay(20000, 1.5, 15000, 0) == 15000,
	    "d0 above the cap is capped");
	ok(backoff_next_delay(100, 1.0, 15000, 9) == 100, "factor 1: fixed");
	return tap_done();
}
