/* The restart delay arithmetic (pure: tests/unit/backoff.c). */
#include "fsm.h"

/*
 * The delay before restart number n (0 for the first) of a crashing
 * instance: base * factor^n, capped at max.  Exact for every n, however
 * large: it stops multiplying once the cap is reached.
 */
int64_t
backoff_next_delay(int64_t base_ms, double factor, int64_t max_ms,
    unsigned int n)
{
	double d = (double)base_ms;
	unsigned int i;

	if (base_ms <= 0)
		return 0;
	if (max_ms < base_ms)
		return max_ms < 0 ? 0 : max_ms;
	if (factor <= 1.0)
		return base_ms;
	for (i = 0; i < n && d < (double)max_ms; i++)
		d *= factor;
	if (d >= (double)max_ms)
		return max_ms;
	return (int64_t)(d + 0.5);
}
