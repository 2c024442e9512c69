#!/bin/sh
# Workload 12: BENCH_LINES numbered lines of 64 bytes through awk's
# block-buffered stdout (as a logger with a 4-64 KiB buffer writes), then
# exit: the bulk capture path, beside workload 8's one write per line.
exec awk -v n="${BENCH_LINES:-1000000}" 'BEGIN {
	for (i = 0; i < n; i++)
		printf "%08d the quick brown fox jumps over the lazy dog 0123456789\n", i
}'
