#!/usr/bin/env bats
# Logs: capture into files, whole lines under a flood, rotation, follow,
# flush, reload-logs, and waiting (never losing a line) when the disk is full.

load helpers

LOGS() { echo "$CLUSTERCTL_HOME/logs"; }

# An app that prints N numbered lines ("line 1"...), then waits for the
# file "go" to print "after go", then sleeps.
write_lines_app() {
	cat >"$BATS_TEST_TMPDIR/lines.sh" <<'SH'
n=$1
i=1
while [ "$i" -le "$n" ]; do echo "line $i"; i=$((i + 1)); done
while [ ! -e go ]; do sleep 0.05; done
echo "after go"
exec sleep 1000
SH
}

checklines() {
	python3 "$FIXTURES/checklines.py" "$@"
}

count_lines() {
	[ "$(cat "$@" 2>/dev/null | wc -l)" -eq "$N" ]
}

# The files are globbed at each try: rotation makes new ones.
count_rotated() {
	count_lines "$(LOGS)"/rot-out-0.log*
}

# gz's flood is all written, no compression is under way, and no
# rotation is due.
gz_settled() {
	[ ! -e "$(LOGS)/gz-out-0.log.1" ] &&
		[ "$(stat -c %s "$(LOGS)/gz-out-0.log")" -lt 16384 ] &&
		{ zcat "$(LOGS)/gz-out-0.log.1.gz"; cat "$(LOGS)/gz-out-0.log"; } 2>/dev/null |
		grep -q "^0 $LAST "
}

local_teardown() {
	if [ -n "$TMPFS" ]; then
		timeout 20 "$CLUSTERCTL_BIN" kill >/dev/null 2>&1
		umount -l "$TMPFS" 2>/dev/null || true
	fi
}

@test "two instances flooding one merged file: every line whole, none lost, none interleaved" {
	clusterctl start "$FIXTURES/flood.py" --name fl -i 2 --merge-logs \
		--no-autorestart -- 20000 40 stay
	[ -f "$(LOGS)/fl-out.log" ]
	[ ! -e "$(LOGS)/fl-out-0.log" ]
	N=40000
	wait_until 60 count_lines "$(LOGS)/fl-out.log"
	run checklines 2 20000 40 "$(LOGS)/fl-out.log"
	assert_success
	assert_output 40000
	run clusterctl describe fl --json
	echo "$output" | json_get "d[0]['processes'][1]['out_log']" |
		grep -qx "$(LOGS)/fl-out.log"
}

@test "rotation under a flood loses no line: the rotated files hold every line once" {
	clusterctl start "$FIXTURES/flood.py" --name rot --log-max-size 64K \
		--log-retain 1000 -- 30000 30 stay
	N=30000
	wait_until 60 count_rotated
	files=("$(LOGS)"/rot-out-0.log*)
	[ "${#files[@]}" -gt 10 ]
	run checklines 1 30000 30 "${files[@]}"
	assert_success
	assert_output 30000
	# No file grew much past the limit (a batch may end it).
	for f in "${files[@]}"; do
		[ "$(stat -c %s "$f")" -lt $((64 * 1024 + 70000)) ]
	done
}

@test "rotation keeps --log-retain files, gzip-compressed with --log-compress" {
	# Five rounds of 1000 lines (37K each): each round rotates at least
	# once, whenever the compression in the background is done.
	cat >"$BATS_TEST_TMPDIR/rounds.py" <<'PY'
import os, sys, time
n = 0
for r in range(1, 6):
    while not os.path.exists("go%d" % r):
        time.sleep(0.02)
    for i in range(1000):
        sys.stdout.write("0 %d %s\n" % (n, "x" * 30))
        n += 1
    sys.stdout.flush()
time.sleep(1000)
PY
	clusterctl start "$BATS_TEST_TMPDIR/rounds.py" --name gz \
		--log-max-size 16K --log-retain 3 --log-compress
	for r in 1 2 3 4 5; do
		touch "go$r"
		LAST=$((r * 1000 - 1))
		wait_until 60 gz_settled
	done
	[ -f "$(LOGS)/gz-out-0.log.3.gz" ]
	[ ! -e "$(LOGS)/gz-out-0.log.4.gz" ]
	for k in 1 2 3; do gzip -t "$(LOGS)/gz-out-0.log.$k.gz"; done
	# The newest lines are in order across the rotated files and the current one.
	zcat "$(LOGS)/gz-out-0.log.3.gz" "$(LOGS)/gz-out-0.log.2.gz" \
		"$(LOGS)/gz-out-0.log.1.gz" | cat - "$(LOGS)/gz-out-0.log" |
		awk '{ if (NR > 1 && $2 != prev + 1) exit 1; prev = $2 } END { if (prev != 4999) exit 1 }'
}

@test "logs --lines N --nostream prints the last N lines and exits" {
	write_lines_app
	clusterctl start "$BATS_TEST_TMPDIR/lines.sh" --name ln -- 30
	wait_until 10 grep -q 'line 30' "$(LOGS)/ln-out-0.log"
	run clusterctl logs ln --lines 5 --nostream --raw
	assert_success
	assert_output "$(printf 'line %s\n' 26 27 28 29 30)"
	run clusterctl logs ln --lines 2 --nostream
	assert_output "$(printf 'ln:0 | line %s\n' 29 30)"
	run clusterctl logs ln --lines 0 --nostream
	assert_success
	assert_output ""
	run clusterctl logs nosuch --nostream
	assert_failure 3
	assert_output --partial "no app named 'nosuch'"
}

@test "logs -f prints a new line as it is written, and exits 0 on SIGINT" {
	write_lines_app
	clusterctl start "$BATS_TEST_TMPDIR/lines.sh" --name fo -- 3
	wait_until 10 grep -q 'line 3' "$(LOGS)/fo-out-0.log"
	"$CLUSTERCTL_BIN" logs fo -f --raw --lines 1 >"$BATS_TEST_TMPDIR/follow.out" 2>&1 &
	pid=$!
	wait_until 10 grep -q 'line 3' "$BATS_TEST_TMPDIR/follow.out"
	touch go
	wait_until 10 grep -q 'after go' "$BATS_TEST_TMPDIR/follow.out"
	kill -INT "$pid"
	wait "$pid"
	run cat "$BATS_TEST_TMPDIR/follow.out"
	assert_output "$(printf 'line 3\nafter go')"
}

@test "logs | head -n 3 exits at once with status 0" {
	write_lines_app
	clusterctl start "$BATS_TEST_TMPDIR/lines.sh" --name hd -- 10
	wait_until 10 grep -q 'line 10' "$(LOGS)/hd-out-0.log"
	# The app is idle now: logs must notice head is gone by itself.
	run bash -c 'timeout 20 "$CLUSTERCTL_BIN" logs hd --raw | head -n 3;
		echo "status ${PIPESTATUS[0]}"'
	assert_output "$(printf 'line 1\nline 2\nline 3\nstatus 0')"
}

@test "logs --json prints one JSON object per line with app, instance, stream, time, line" {
	write_lines_app
	clusterctl start "$BATS_TEST_TMPDIR/lines.sh" --name js -i 2 --time -- 2
	wait_until 10 grep -q 'line 2' "$(LOGS)/js-out-1.log"
	grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\.[0-9]{3}[+-][0-9]{2}:[0-9]{2}: line 1$' \
		"$(LOGS)/js-out-0.log"
	run clusterctl logs js --json --nostream
	assert_success
	echo "$output" | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert len(rows) == 4, rows
for r in rows:
    assert set(r) == {"app", "instance", "stream", "time", "line"}, r
    assert r["app"] == "js" and r["stream"] == "out", r
    assert r["line"] in ("line 1", "line 2"), r
    assert r["time"][:2] == "20", r
assert sorted(r["instance"] for r in rows) == [0, 0, 1, 1]
times = [r["time"] for r in rows]
assert times == sorted(times), times
'
	run clusterctl logs js:1 --json --nostream
	[ "$(echo "$output" | grep -c '"instance":1,')" -eq 2 ]
	[ "${#lines[@]}" -eq 2 ]
}

@test "--log-type json writes JSON lines to the file; name:N picks an instance's lines" {
	write_lines_app
	clusterctl start "$BATS_TEST_TMPDIR/lines.sh" --name jt --log-type json \
		-i 2 --merge-logs -- 2
	N=4
	wait_until 10 count_lines "$(LOGS)/jt-out.log"
	python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
for i in (0, 1):
    mine = [r for r in rows if r["instance"] == i]
    assert [r["line"] for r in mine] == ["line 1", "line 2"], rows
    assert all(r["app"] == "jt" and r["stream"] == "out" for r in mine)
' "$(LOGS)/jt-out.log"
	run clusterctl logs jt:1 --nostream
	assert_output "$(printf 'jt:1 | line 1\njt:1 | line 2')"
	run clusterctl logs jt --nostream --raw
	[ "${#lines[@]}" -eq 4 ]
}

@test "--log-date-format prefixes lines with a strftime time; logs shows it" {
	write_lines_app
	clusterctl start "$BATS_TEST_TMPDIR/lines.sh" --name df \
		--log-date-format '%Y/%m/%d' -- 1
	wait_until 10 grep -q 'line 1' "$(LOGS)/df-out-0.log"
	run cat "$(LOGS)/df-out-0.log"
	assert_output --regexp '^[0-9]{4}/[0-9]{2}/[0-9]{2}: line 1$'
	run clusterctl logs df --nostream --raw
	assert_output --regexp '^[0-9]{4}/[0-9]{2}/[0-9]{2}: line 1$'
	run clusterctl start /bin/true --name bad --log-type xml
	assert_failure 2
	assert_output --partial "invalid --log-type 'xml'"
	run clusterctl start /bin/true --name bad --log-max-size 10Q
	assert_failure 2
}

@test "flush empties the app's log files, and new lines still arrive" {
	write_lines_app
	clusterctl start "$BATS_TEST_TMPDIR/lines.sh" --name fl -- 5
	wait_until 10 grep -q 'line 5' "$(LOGS)/fl-out-0.log"
	run clusterctl flush fl
	assert_success
	assert_output --partial "fl-out-0.log"
	[ ! -s "$(LOGS)/fl-out-0.log" ]
	touch go
	wait_until 10 grep -q 'after go' "$(LOGS)/fl-out-0.log"
	run cat "$(LOGS)/fl-out-0.log"
	assert_output "after go"
}

@test "reload-logs reopens a log file that was moved away" {
	write_lines_app
	clusterctl start "$BATS_TEST_TMPDIR/lines.sh" --name rl -- 2
	wait_until 10 grep -q 'line 2' "$(LOGS)/rl-out-0.log"
	mv "$(LOGS)/rl-out-0.log" "$(LOGS)/rl-out-0.log.old"
	run clusterctl reload-logs
	assert_success
	[ -f "$(LOGS)/rl-out-0.log" ]
	touch go
	wait_until 10 grep -q 'after go' "$(LOGS)/rl-out-0.log"
	run cat "$(LOGS)/rl-out-0.log.old"
	assert_output "$(printf 'line 1\nline 2')"
}

@test "SIGUSR1 to the daemon reopens the log files too" {
	write_lines_app
	clusterctl start "$BATS_TEST_TMPDIR/lines.sh" --name su -- 1
	wait_until 10 grep -q 'line 1' "$(LOGS)/su-out-0.log"
	mv "$(LOGS)/su-out-0.log" "$(LOGS)/moved.log"
	kill -USR1 "$(cat "$CLUSTERCTL_HOME/daemon.pid")"
	wait_until 10 test -f "$(LOGS)/su-out-0.log"
	touch go
	wait_until 10 grep -q 'after go' "$(LOGS)/su-out-0.log"
	! grep -q 'after go' "$(LOGS)/moved.log"
}

@test "a partial last line is written when the instance exits" {
	printf 'printf "first\\nno newline at the end"\n' >"$BATS_TEST_TMPDIR/p.sh"
	clusterctl start "$BATS_TEST_TMPDIR/p.sh" --name pa --no-autorestart \
		--no-wait
	wait_until 10 grep -q 'no newline at the end' "$(LOGS)/pa-out-0.log"
	run cat "$(LOGS)/pa-out-0.log"
	assert_output "$(printf 'first\nno newline at the end')"
	[ "$(tail -c 1 "$(LOGS)/pa-out-0.log" | od -An -c | tr -d ' ')" = '\n' ]
}

@test "a block-buffered flood reaches the file byte for byte, lines cut across reads included" {
	# Lines of 2 to 150 bytes from awk's 4 KiB writes: most reads end
	# inside a line, whose head is carried into the next write.
	cat >"$BATS_TEST_TMPDIR/block.sh" <<'SH'
exec awk 'BEGIN { for (i = 0; i < 200000; i++) {
	printf "%d ", i; for (k = 0; k < i % 140; k++) printf "x"; printf "\n" } }'
SH
	sh "$BATS_TEST_TMPDIR/block.sh" >"$BATS_TEST_TMPDIR/want"
	size=$(stat -c %s "$BATS_TEST_TMPDIR/want")
	clusterctl start "$BATS_TEST_TMPDIR/block.sh" --name blk \
		--no-autorestart --no-wait --log-max-size 0
	has_size() { [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -ge "$2" ]; }
	wait_until 30 has_size "$(LOGS)/blk-out-0.log" "$size"
	cmp "$BATS_TEST_TMPDIR/want" "$(LOGS)/blk-out-0.log"
}

@test "a line longer than 64 KiB is cut into marked pieces, nothing lost" {
	cat >"$BATS_TEST_TMPDIR/long.py" <<'PY'
import sys, time
sys.stdout.write("short\n" + "".join(chr(97 + i % 26) for i in range(200000)) + "\nend\n")
sys.stdout.flush()
time.sleep(1000)
PY
	clusterctl start "$BATS_TEST_TMPDIR/long.py" --name lo
	wait_until 10 grep -qx 'end' "$(LOGS)/lo-out-0.log"
	python3 -c '
import sys
lines = open(sys.argv[1]).read().split("\n")[:-1]
assert lines[0] == "short" and lines[-1] == "end", lines[:1]
pieces = lines[1:-1]
assert len(pieces) == 4, len(pieces)
for p in pieces:
    assert len(p) <= 65536 + 10, len(p)
for p in pieces[:-1]:
    assert p.endswith("[...]"), p[-10:]
for p in pieces[1:]:
    assert p.startswith("[...]"), p[:10]
whole = "".join(p.removeprefix("[...]").removesuffix("[...]") for p in pieces)
assert whole == "".join(chr(97 + i % 26) for i in range(200000))
' "$(LOGS)/lo-out-0.log"
}

@test "/dev/null and NULL disable a stream; -l writes both streams to one file" {
	cat >"$BATS_TEST_TMPDIR/both.sh" <<'SH'
echo to-out; echo to-err >&2
exec sleep 1000
SH
	clusterctl start "$BATS_TEST_TMPDIR/both.sh" --name dn -o /dev/null -e NULL
	clusterctl start "$BATS_TEST_TMPDIR/both.sh" --name cb -l comb.log \
		-o NULL
	wait_until 10 grep -q to-err "$BATS_TEST_TMPDIR/comb.log"
	wait_until 10 grep -q to-out "$BATS_TEST_TMPDIR/comb.log"
	[ -f "$(LOGS)/cb-err-0.log" ]
	[ ! -e "$(LOGS)/cb-out-0.log" ]
	[ ! -e "$(LOGS)/dn-out-0.log" ]
	[ ! -e "$(LOGS)/dn-err-0.log" ]
	run clusterctl describe dn
	assert_output --partial "out log      /dev/null"
	run clusterctl describe cb --json
	echo "$output" | json_get "d[0]['processes'][0]['log_file']" |
		grep -qx "$BATS_TEST_TMPDIR/comb.log"
}

@test "logs --daemon prints the daemon's own log" {
	clusterctl start /bin/sleep --name zz -- 1000 >/dev/null
	run clusterctl logs --daemon --nostream --lines 50
	assert_success
	assert_output --partial "zz created"
}

@test "a follower that stops reading misses lines (and is told) but never blocks the app" {
	cat >"$BATS_TEST_TMPDIR/floodgo.sh" <<SH
echo ready
while [ ! -e go ]; do sleep 0.05; done
exec python3 "$FIXTURES/flood.py" 200000 60 stay
SH
	clusterctl start "$BATS_TEST_TMPDIR/floodgo.sh" --name sl --log-max-size 0
	wait_until 10 grep -q ready "$(LOGS)/sl-out-0.log"
	"$CLUSTERCTL_BIN" logs sl --raw --lines 1 -f >"$BATS_TEST_TMPDIR/sl.out" \
		2>"$BATS_TEST_TMPDIR/sl.err" &
	pid=$!
	wait_until 10 grep -q ready "$BATS_TEST_TMPDIR/sl.out"
	# A reader that reads nothing: its socket and its queue fill up.
	kill -STOP "$pid"
	touch go
	N=200001
	# All of it reaches the file although the follower reads nothing.
	wait_until 60 count_lines "$(LOGS)/sl-out-0.log"
	kill -CONT "$pid"
	wait_until 30 grep -q 'missed [0-9]* lines' "$BATS_TEST_TMPDIR/sl.err"
	kill -INT "$pid"
	wait "$pid"
	# What it got are whole lines.
	grep -v ready "$BATS_TEST_TMPDIR/sl.out" | grep -cvE '^0 [0-9]+ x{60}$' |
		grep -qx 0
}

@test "a full disk: the app waits, the daemon says so, and no line is lost when space returns" {
	TMPFS="$BATS_TEST_TMPDIR/small"
	mkdir -p "$TMPFS"
	if ! mount -t tmpfs -o size=256k tmpfs "$TMPFS" 2>/dev/null; then
		TMPFS=
		skip "cannot mount a small tmpfs here (needs root)"
	fi
	dd if=/dev/zero of="$TMPFS/filler" bs=4k 2>/dev/null || true
	clusterctl start "$FIXTURES/flood.py" --name full -o "$TMPFS/out.log" \
		--no-wait -- 3000 30 stay
	wait_until 20 grep -q 'cannot write log file.*No space left' \
		"$CLUSTERCTL_HOME/daemon.log"
	run clusterctl describe full
	assert_output --partial "log error    $TMPFS/out.log: No space left on device"
	# Blocked on a full pipe, the app is alive: online by its listen
	# timeout like any program that never says it is ready.
	wait_until 20 eval 'clusterctl list | grep -q online'
	rm "$TMPFS/filler"
	N=3000
	wait_until 30 count_lines "$TMPFS/out.log"
	run checklines 1 3000 30 "$TMPFS/out.log"
	assert_success
	wait_until 10 grep -q 'can be written again' "$CLUSTERCTL_HOME/daemon.log"
	run clusterctl describe full
	refute_output --partial "log error"
}

# --- pm2's log behaviours (issue 17) -----------------------------------------

# An app that writes "out N" to stdout and "err N" to stderr, N its
# instance number, then sleeps.
write_both_app() {
	cat >"$BATS_TEST_TMPDIR/both.sh" <<'SH'
echo "out $CLUSTERCTL_INSTANCE"; echo "err $CLUSTERCTL_INSTANCE" >&2
exec sleep 1000
SH
}

@test "pm2: -o/-e in cluster mode without --merge-logs write one file per instance (out-0.log, out-1.log)" {
	write_both_app
	D=$BATS_TEST_TMPDIR
	clusterctl start "$D/both.sh" --name pi -i 2 -o "$D/out.log" \
		-e "$D/err.log" -l "$D/all.log"
	for k in 0 1; do
		wait_until 10 grep -qx "out $k" "$D/out-$k.log"
		wait_until 10 grep -qx "err $k" "$D/err-$k.log"
		wait_until 10 grep -qx "err $k" "$D/all-$k.log"
		[ "$(wc -l <"$D/out-$k.log")" -eq 1 ]
	done
	[ ! -e "$D/out.log" ] && [ ! -e "$D/err.log" ] && [ ! -e "$D/all.log" ]
	run clusterctl describe pi --json
	echo "$output" | json_get "d[0]['processes'][1]['out_log']" |
		grep -qx "$D/out-1.log"
	run clusterctl logs pi --nostream --out
	assert_output --partial "pi:0 | out 0"
	assert_output --partial "pi:1 | out 1"
	# --merge-logs, or no instance count (pm2's fork mode): the file as named.
	clusterctl start "$D/both.sh" --name mg -i 2 -o "$D/m.log" --merge-logs
	clusterctl start "$D/both.sh" --name fk -o "$D/f.log"
	wait_until 10 grep -qx "out 1" "$D/m.log"
	wait_until 10 grep -qx "out 0" "$D/m.log"
	wait_until 10 grep -qx "out 0" "$D/f.log"
	[ ! -e "$D/m-0.log" ] && [ ! -e "$D/f-0.log" ]
}

@test "pm2: -l/--log holds the lines of stdout and of stderr" {
	write_both_app
	clusterctl start "$BATS_TEST_TMPDIR/both.sh" --name lg \
		--log "$BATS_TEST_TMPDIR/lg.log" --output "$BATS_TEST_TMPDIR/o.log" \
		--error "$BATS_TEST_TMPDIR/e.log"
	wait_until 10 grep -qx "err 0" "$BATS_TEST_TMPDIR/lg.log"
	wait_until 10 grep -qx "out 0" "$BATS_TEST_TMPDIR/lg.log"
	grep -qx "out 0" "$BATS_TEST_TMPDIR/o.log"
	grep -qx "err 0" "$BATS_TEST_TMPDIR/e.log"
	run clusterctl help start
	assert_output --partial "also --log"
}

@test "pm2: missing directories of -o/-e/-l paths are created" {
	write_both_app
	D=$BATS_TEST_TMPDIR/new
	clusterctl start "$BATS_TEST_TMPDIR/both.sh" --name md \
		-o "$D/a/b/out.log" -e "$D/c/err.log" -l "$D/d/e/f/all.log"
	wait_until 10 grep -qx "out 0" "$D/a/b/out.log"
	wait_until 10 grep -qx "err 0" "$D/c/err.log"
	wait_until 10 grep -qx "err 0" "$D/d/e/f/all.log"
	[ "$(stat -c %U "$D/a/b")" = "$(id -un)" ]
	run clusterctl describe md --json
	echo "$output" | json_get "d[0]['processes'][0]['log_error']" |
		grep -qx None
}

@test "a log path that is a symbolic link is not followed" {
	write_both_app
	: >"$BATS_TEST_TMPDIR/target"
	ln -s "$BATS_TEST_TMPDIR/target" "$BATS_TEST_TMPDIR/link.log"
	clusterctl start "$BATS_TEST_TMPDIR/both.sh" --name sl \
		-o "$BATS_TEST_TMPDIR/link.log"
	wait_until 10 grep -qx "err 0" "$(LOGS)/sl-err-0.log"
	run clusterctl describe sl
	assert_output --partial "link.log"
	assert_output --regexp "log error .*(symbolic link|Too many levels)"
	[ ! -s "$BATS_TEST_TMPDIR/target" ]
}

@test "pm2: flush empties the log files, and removes their rotated files too" {
	write_lines_app
	clusterctl start "$BATS_TEST_TMPDIR/lines.sh" --name fr \
		--log-max-size 1K -- 400
	wait_until 10 grep -q 'line 400' "$(LOGS)/fr-out-0.log" \
		"$(LOGS)/fr-out-0.log.1"
	[ -e "$(LOGS)/fr-out-0.log.1" ]
	run clusterctl flush fr
	assert_success
	assert_output --partial "rotated log files"
	[ ! -s "$(LOGS)/fr-out-0.log" ]
	run ls "$(LOGS)"
	refute_output --partial "fr-out-0.log."
	touch go
	wait_until 10 grep -q 'after go' "$(LOGS)/fr-out-0.log"
}

@test "logs reads on into the rotated files when the current one has fewer lines" {
	write_lines_app
	# 40 lines of 9 bytes: rotated at 200 bytes, .1.gz then .2.gz.
	clusterctl start "$BATS_TEST_TMPDIR/lines.sh" --name tr \
		--log-max-size 200 --log-compress -- 40
	last_line_is() {
		[ "$(clusterctl logs "$1" --lines 1 --nostream --raw)" = "$2" ]
	}
	wait_until 10 last_line_is tr 'line 40'
	wait_until 10 test -e "$(LOGS)/tr-out-0.log.1.gz"
	run clusterctl logs tr --lines 30 --nostream --raw --out
	assert_success
	assert_output "$(printf 'line %s\n' $(seq 11 40))"
	# Without --log-compress: .1, .2 as they are.
	clusterctl start "$BATS_TEST_TMPDIR/lines.sh" --name tp \
		--log-max-size 200 -- 40
	wait_until 10 last_line_is tp 'line 40'
	[ -e "$(LOGS)/tp-out-0.log.1" ]
	run clusterctl logs tp --lines 25 --nostream --raw --out
	assert_output "$(printf 'line %s\n' $(seq 16 40))"
}

@test "per-instance log files stay the same after the daemon restores an app" {
	write_both_app
	D=$BATS_TEST_TMPDIR
	clusterctl start "$D/both.sh" --name ri -i 2 -o "$D/ri.log"
	clusterctl start "$D/both.sh" --name rf -o "$D/rf.log"
	wait_until 10 grep -qx "out 1" "$D/ri-1.log"
	wait_until 10 grep -qx "out 0" "$D/rf.log"
	run clusterctl describe rf --json
	echo "$output" | json_get "d[0]['log_per_instance']" | grep -qx False
	kill -KILL "$(cat "$CLUSTERCTL_HOME/daemon.pid")"
	wait_until 20 eval '[ "$(status_of rf 0)" = online ] && [ "$(status_of ri 1)" = online ]'
	wait_until 10 eval '[ "$(grep -cx "out 0" "$D/rf.log")" -ge 2 ]'
	wait_until 10 eval '[ "$(grep -cx "out 1" "$D/ri-1.log")" -ge 2 ]'
	[ ! -e "$D/rf-0.log" ] && [ ! -e "$D/ri.log" ]
}
