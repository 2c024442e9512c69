#!/bin/bash
# Workload 4: writes "start PID TIME" when it runs and "exit PID TIME" just
# before it exits with status 1, BENCH_CRASHES times; the start after that
# stays up (sleeps) so the run ends.  Times are wall-clock seconds with
# microseconds (bash's EPOCHREALTIME, no fork).
echo "start $$ $EPOCHREALTIME" >>"$BENCH_CRASH_LOG"
mapfile -t seen <"$BENCH_CRASH_LOG"
starts=0
for l in "${seen[@]}"; do
	[[ $l == start* ]] && starts=$((starts + 1))
done
if [ "$starts" -gt "$BENCH_CRASHES" ]; then
	exec sleep 1000
fi
echo "exit $$ $EPOCHREALTIME" >>"$BENCH_CRASH_LOG"
exit 1
