#!/usr/bin/env bats
# The benchmark harness still starts and reports (BENCH=smoke: workload 1,
# clusterctl only, a few iterations, no pm2, nothing installed, no
# thresholds: figures are never asserted here).

load helpers

@test "make bench harness runs its smoke workload and writes the table and JSON" {
	export BENCH_RESULTS="$BATS_TEST_TMPDIR/results"
	run env BENCH=smoke CLUSTERCTL_BIN="$CLUSTERCTL_BIN" \
		"$BATS_TEST_DIRNAME/bench/run"
	assert_success
	assert_output --partial "| # | figure | unit | clusterctl"
	assert_output --partial "\`ping\` round trip"
	[ -s "$BENCH_RESULTS/latest.md" ]
	python3 - "$BENCH_RESULTS/latest.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["mode"] == "smoke", d["mode"]
assert d["errors"] == [], d["errors"]
rows = [r for r in d["results"] if r["workload"] == 1]
assert len(rows) == 2, rows
for r in rows:
    assert r["clusterctl"]["median"] > 0, r
    assert "pm2" not in r, r
PY
}

@test "bench harness refuses an unknown BENCH mode with exit 2" {
	run env BENCH=huge "$BATS_TEST_DIRNAME/bench/run"
	assert_failure 2
	assert_output --partial "BENCH must be full, quick or smoke"
}
