#!/usr/bin/env python3
"""Workload 8: write BENCH_LINES numbered lines of 64 bytes to stdout, one
write(2) per line (as a logging app that flushes each line), then exit."""
import os

n = int(os.environ.get("BENCH_LINES", "1000000"))
fmt = b"%08d the quick brown fox jumps over the lazy dog 0123456789\n"
write = os.write
for i in range(n):
    write(1, fmt % i)
