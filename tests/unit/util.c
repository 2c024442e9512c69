/* Durations, sizes and signal names: ipc/util.c. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "../../ipc/util.h"
#include "tap.h"

int
main(void)
{
	int64_t v;

	ok(util_parse_duration_ms("1600", &v) == 0 && v == 1600, "bare ms");
	ok(util_parse_duration_ms("500ms", &v) == 0 && v == 500, "ms suffix");
	ok(util_parse_duration_ms("1.5s", &v) == 0 && v == 1500, "seconds");
	ok(util_parse_duration_ms("2m", &v) == 0 && v == 120000, "minutes");
	ok(util_parse_duration_ms("1h", &v) == 0 && v == 3600000, "hours");
	ok(util_parse_duration_ms("-1", &v) != 0, "negative refused");
	ok(util_parse_duration_ms("5x", &v) != 0, "unknown unit refused");
	ok(util_parse_duration_ms("", &v) != 0, "empty refused");
	ok(util_parse_duration_ms("1e30", &v) != 0, "absurd refused");
	ok(util_parse_size("10M", &v) == 0 && v == 10485760, "10M");
	ok(util_parse_size("512k", &v) == 0 && v == 524288, "512k");
	ok(util_parse_size("1GB", &v) == 0 && v == 1073741824, "1GB");
	ok(util_parse_size("1MiB", &v) == 0 && v == 1048576, "1MiB");
	ok(util_parse_size("12", &v) == 0 && v == 12, "bytes");
	ok(util_parse_size("1Q", &v) != 0, "unknown unit refused");
	ok(util_signal_number("SIGINT") == SIGINT, "SIGINT");
	ok(util_signal_number("term") == SIGTERM, "term");
	ok(util_signal_number("9") == SIGKILL, "9");
	ok(util_signal_number("SIGNOPE") == -1, "unknown signal");
	ok(util_signal_number("99") == -1, "out of range");
	ok(strcmp(util_signal_name(SIGTERM), "SIGTERM") == 0, "name of 15");
	ok(strcmp(util_signal_name(40), "SIG40") == 0, "a nameless number");
	{
		char buf[80], *c;
		size_t n;
		const char *e2 = "\xc3\xa9\xc3\xa9\xc3\xa9"; /* three é */

		ok(util_utf8_cut(e2, 6, 3) == 2, "cut backs off a split é");
		ok(util_utf8_cut(e2, 6, 4) == 4, "cut on a boundary stays");
		ok(util_utf8_cut(e2, 6, 10) == 6, "short text is not cut");
		ok(strcmp(util_clip("abc", buf, 64), "abc") == 0,
		    "clip keeps short text");
		ok(strcmp(util_clip(e2, buf, 3), "\xc3\xa9...") == 0,
		    "clip cuts on a character and says so");
		c = util_utf8_clean("a\xff" "b\0c\xc3", 6, &n);
		ok(c != NULL && n == 12 && memcmp(c, "a\xef\xbf\xbd" "b"
		    "\xef\xbf\xbd" "c\xef\xbf\xbd", 12) == 0,
		    "clean: bad bytes, NUL and a cut character become U+FFFD");
		free(c);
		c = util_utf8_clean("\xed\xa0\x80\xc0\xaf", 5, &n);
		ok(c != NULL && n == 15, "clean: surrogates and overlongs go");
		free(c);
	}
	return tap_done();
}
