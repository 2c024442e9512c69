#!/usr/bin/env python3
"""Grows by 20 MB a second once the gate file exists ($GATE, or
/tmp/bench-grow-PID): for the memory limit's reaction time."""
import os
import time

gate = os.environ.get("GATE") or "/tmp/bench-grow-%d" % os.getpid()
hog = []
while True:
    if os.path.exists(gate):
        hog.append(bytearray(2 * 1024 * 1024))
        for i in range(0, len(hog[-1]), 4096):
            hog[-1][i] = 1
    time.sleep(0.1)
