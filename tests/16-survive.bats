#!/usr/bin/env bats
# The daemon survives every client, app and environment (issue 16): each
# test is the regression test of a way it used to crash, wedge, leak or
# lose something without a word.

load helpers
bats_require_minimum_version 1.5.0

raw() {
	python3 "$FIXTURES/rawclient.py" "$CLUSTERCTL_HOME/sock" "$@"
}

local_setup() {
	clusterctl ping >/dev/null
	DAEMON=$(cat "$CLUSTERCTL_HOME/daemon.pid")
}

# The same daemon still answers.
same_daemon() {
	alive "$DAEMON"
	[ "$(cat "$CLUSTERCTL_HOME/daemon.pid")" = "$DAEMON" ]
	clusterctl ping >/dev/null
}

@test "an unknown target of many non-ASCII characters gets a valid error, every time" {
	local name
	name=$(python3 -c 'print("é" * 300)')
	for _ in 1 2 3 4 5; do
		run clusterctl stop "$name"
		assert_failure 3
		assert_output --partial "no app named 'éééé"
		assert_output --partial "...'"
	done
	run clusterctl describe "x${name}:1"
	assert_failure 3
	# Cut on a character boundary: no replacement character.
	refute_output --partial $'\xef\xbf\xbd'
	same_daemon
}

@test "an error message quoting client text is cut on a character boundary" {
	local long
	long=$(python3 -c 'print("€" * 2000)')
	run raw req '{"v":1,"id":3,"cmd":"'"$long"'"}'
	assert_output --partial '"code": "unknown_command"'
	assert_output --partial '...'
	refute_output --partial 'ufffd'
	same_daemon
}

@test "logs --lines 1000000 --nostream sends a tail larger than any reply, in full" {
	clusterctl start /bin/sleep --name big --listen-timeout 0 -- 1000
	# 600,000 lines: about 60 MB of replies, past the frame limit and
	# past what a client may leave queued.
	python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(600000):
        f.write("line %d\n" % i)' "$CLUSTERCTL_HOME/logs/big-out-0.log"
	run clusterctl logs big --lines 1000000 --nostream --raw
	assert_success
	[ "${#lines[@]}" -eq 600000 ]
	[ "${lines[0]}" = "line 0" ]
	[ "${lines[599999]}" = "line 599999" ]
	same_daemon
}

@test "a client that goes away in the middle of a long tail costs nothing" {
	clusterctl start /bin/sleep --name big --listen-timeout 0 -- 1000
	python3 -c '
import sys
with open(sys.argv[1], "w") as f:
    for i in range(300000):
        f.write("line %d\n" % i)' "$CLUSTERCTL_HOME/logs/big-out-0.log"
	for _ in 1 2 3; do
		run raw readone '{"v":1,"id":1,"cmd":"logs","args":{"targets":["big"],"lines":1000000}}'
		assert_output --partial GOT
	done
	clusterctl logs big --lines 1000000 --nostream --raw | head -1
	same_daemon
}

@test "a client that never reads its replies is dropped alone" {
	run raw bigapp fat 1000000
	assert_output --partial '"ok": true'
	run raw noread '{"v":1,"id":2,"cmd":"describe","args":{"targets":["fat"]}}' 200 "$CLUSTERCTL_HOME/daemon.log"
	assert_output DROPPED
	same_daemon
	clusterctl describe fat --json >/dev/null
}

@test "a reply past the frame limit is refused with an error; the connection lives" {
	for n in a b c; do
		run raw bigapp $n 3000000
		assert_output --partial '"ok": true'
	done
	run raw req2 '{"v":1,"id":7,"cmd":"describe","args":{"targets":["all"]}}' '{"v":1,"id":8,"cmd":"ping"}'
	assert_line --index 0 --partial '"code": "too_large"'
	assert_line --index 0 --partial '"id": 7'
	assert_line --index 1 --partial '"id": 8'
	assert_line --index 1 --partial '"ok": true'
	run clusterctl describe all
	assert_failure 1
	assert_output --partial "larger than 8388608 bytes"
	run clusterctl describe a --json
	assert_success
	same_daemon
}

# log_error NAME: the log error describe shows for instance 0.
log_error() {
	clusterctl describe "$1" --json |
		json_get "d[0]['processes'][0]['log_error']"
}

@test "a log path that is a symbolic link is never followed; its target is untouched" {
	echo secret >"$BATS_TEST_TMPDIR/victim"
	ln -s "$BATS_TEST_TMPDIR/victim" "$BATS_TEST_TMPDIR/out.log"
	clusterctl start "$FIXTURES/flood.py" --name ln --listen-timeout 0 \
		-o "$BATS_TEST_TMPDIR/out.log" -- 10 10 stay
	wait_until 10 eval 'log_error ln | grep -q "it is a symbolic link, which the daemon does not follow"'
	[ "$(cat "$BATS_TEST_TMPDIR/victim")" = secret ]
	same_daemon
}

@test "a link put in place of a log file is never written or flushed through" {
	echo secret >"$BATS_TEST_TMPDIR/victim"
	clusterctl start /bin/sleep --name sw -o "$BATS_TEST_TMPDIR/out.log" \
		--listen-timeout 0 -- 1000
	rm "$BATS_TEST_TMPDIR/out.log"
	ln -s "$BATS_TEST_TMPDIR/victim" "$BATS_TEST_TMPDIR/out.log"
	clusterctl reload-logs
	run clusterctl describe sw --json
	assert_output --partial "symbolic link"
	run clusterctl flush sw
	assert_success
	[ "$(cat "$BATS_TEST_TMPDIR/victim")" = secret ]
	grep -q "cannot empty $BATS_TEST_TMPDIR/out.log: it is a symbolic link" \
		"$CLUSTERCTL_HOME/daemon.log"
	same_daemon
}

@test "a log path that is a FIFO is refused without blocking the daemon" {
	mkfifo "$BATS_TEST_TMPDIR/fifo"
	clusterctl start /bin/sleep --name ff --listen-timeout 0 \
		-e "$BATS_TEST_TMPDIR/fifo" -- 1000
	wait_until 10 eval 'log_error ff | grep -q "it is not a regular file"'
	# With a reader on it, too: never opened, never blocking.
	sleep 1000 <"$BATS_TEST_TMPDIR/fifo" &
	local reader=$!
	exec 9>"$BATS_TEST_TMPDIR/fifo"
	clusterctl start /bin/sleep --name f2 --listen-timeout 0 \
		-e "$BATS_TEST_TMPDIR/fifo" -- 1000
	wait_until 10 eval 'log_error f2 | grep -q "it is not a regular file"'
	exec 9>&-
	kill "$reader"
	same_daemon
}

@test "as root, a log directory another user may write is refused" {
	mkdir -m 0777 "$BATS_TEST_TMPDIR/open"
	chmod 0777 "$BATS_TEST_TMPDIR/open"
	clusterctl start /bin/sleep --name od --listen-timeout 0 \
		-o "$BATS_TEST_TMPDIR/open/out.log" -- 1000
	if [ "$(id -u)" -eq 0 ]; then
		wait_until 10 eval 'log_error od | grep -q "its directory may be changed by another user"'
		[ ! -e "$BATS_TEST_TMPDIR/open/out.log" ]
		# A sticky one (like /tmp) is fine: nobody can swap our file.
		chmod 1777 "$BATS_TEST_TMPDIR/open"
		clusterctl reload-logs
	fi
	wait_until 10 test -e "$BATS_TEST_TMPDIR/open/out.log"
	[ "$(log_error od)" = None ]
	same_daemon
}

@test "the daemon's own variables replace copies from the caller's environment, never twice" {
	CLUSTERCTL_APP=fake NODE_APP_INSTANCE=9 NOTIFY_SOCKET=/nowhere/notify \
		LISTEN_FDS=3 LISTEN_PID=1 LISTEN_FDNAMES=x KEEP_ME=yes \
		clusterctl start "$FIXTURES/env.sh" --name envy --no-share \
		--env CLUSTERCTL_INSTANCE=9 --env CLUSTERCTL_HOME=/nowhere \
		--env CLUSTERCTL_NOFILE=7 --env CLUSTERCTL_LD_PRELOAD=/nowhere.so \
		-- "$BATS_TEST_TMPDIR"
	wait_until 10 test -s "$BATS_TEST_TMPDIR/env-0"
	local e="$BATS_TEST_TMPDIR/env-0"
	[ "$(grep -c '^CLUSTERCTL_APP=' "$e")" -eq 1 ]
	grep -qx 'CLUSTERCTL_APP=envy' "$e"
	grep -qx 'CLUSTERCTL_INSTANCE=0' "$e"
	grep -qx 'NODE_APP_INSTANCE=0' "$e"
	[ "$(grep -c '^NODE_APP_INSTANCE=' "$e")" -eq 1 ]
	grep -qx "CLUSTERCTL_HOME=$CLUSTERCTL_HOME" "$e"
	[ "$(grep -c '^NOTIFY_SOCKET=' "$e")" -eq 1 ]
	! grep -q '^NOTIFY_SOCKET=/nowhere' "$e"
	! grep -q '^LISTEN_' "$e"
	! grep -q '^CLUSTERCTL_NOFILE=' "$e"
	! grep -q '^LD_PRELOAD=/nowhere' "$e"
	grep -qx 'KEEP_ME=yes' "$e"
}

@test "the daemon raises its descriptor limit; apps get the caller's back" {
	clusterctl kill >/dev/null
	local hard
	hard=$(ulimit -Hn)
	[ "$hard" = unlimited ] || [ "$hard" -gt 512 ]
	(ulimit -Sn 512 && clusterctl start "$FIXTURES/env.sh" --name lim \
		--no-share -- "$BATS_TEST_TMPDIR")
	wait_until 10 test -s "$BATS_TEST_TMPDIR/env-0"
	local pid
	pid=$(pid_of lim 0)
	grep -E '^Max open files +512 ' "/proc/$pid/limits"
	grep -E '^Max open files' "/proc/$(cat "$CLUSTERCTL_HOME/daemon.pid")/limits" |
		grep -v ' 512 '
	grep -q 'raised the descriptor limit (RLIMIT_NOFILE) from 512' \
		"$CLUSTERCTL_HOME/daemon.log"
}

@test "near the descriptor limit the daemon says so, naming the limit" {
	clusterctl kill >/dev/null
	# A hard limit of 64: a few instances take the daemon near it.
	(ulimit -n 64 && clusterctl start /bin/sleep --name many -i 12 \
		--listen-timeout 0 -- 1000) || true
	wait_until 10 grep -q 'descriptors (RLIMIT_NOFILE, hard limit 64' \
		"$CLUSTERCTL_HOME/daemon.log"
	run clusterctl describe many
	assert_output --partial "warning        the daemon ran out of its 64 descriptors (RLIMIT_NOFILE)"
	# ping and list say it on stderr, ping --json and the metrics too.
	run --separate-stderr clusterctl ping
	assert_success
	[[ "$stderr" == *"clusterctl: warning: the daemon ran out of its 64 descriptors (RLIMIT_NOFILE)"* ]]
	run --separate-stderr clusterctl list
	[[ "$stderr" == *"warning: the daemon ran out of its 64 descriptors"* ]]
	[ "$(clusterctl ping --json 2>/dev/null | json_get "d['warning']")" = "the daemon ran out of its 64 descriptors (RLIMIT_NOFILE)" ]
	run clusterctl metrics
	assert_output --partial "clusterctl_daemon_max_fds 64"
	assert_output --partial "clusterctl_daemon_fds_warning 1"
}

@test "a start that finds no free descriptor waits and retries, never errored for it" {
	clusterctl kill >/dev/null
	(ulimit -n 64 && clusterctl start /bin/sleep --name hog -i 8 \
		--listen-timeout 0 -- 1000) || true
	clusterctl start /bin/sleep --name late -i 4 --listen-timeout 0 \
		--no-wait -- 1000
	wait_until 10 grep -q 'late:[0-9] cannot start .*too many open files; tried again in' \
		"$CLUSTERCTL_HOME/daemon.log"
	run clusterctl list --json
	refute_output --partial '"status": "errored"'
	clusterctl delete hog
	wait_until 30 all_status late online
}

@test "a request during shutdown is refused with busy or completes; kill finishes" {
	clusterctl start "$FIXTURES/stubborn.sh" --name st --kill-timeout 3000 \
		--listen-timeout 0 -- "$BATS_TEST_TMPDIR/child.pid"
	clusterctl start /bin/false --name cr --no-wait
	"$CLUSTERCTL_BIN" kill >"$BATS_TEST_TMPDIR/kill.out" 2>&1 &
	local killer=$!
	wait_until 10 grep -q 'asked to exit' "$CLUSTERCTL_HOME/daemon.log"
	for cmd in "reset cr" "restart st" "start cr" "scale st 2" "reload st"; do
		run clusterctl $cmd
		assert_failure 1
		assert_output --partial "the daemon is shutting down"
	done
	run clusterctl list
	assert_success
	wait "$killer"
	! alive "$DAEMON"
}

local_teardown() {
	if [ -n "$TMPFS" ]; then
		timeout 20 "$CLUSTERCTL_BIN" kill >/dev/null 2>&1
		umount -l "$TMPFS" 2>/dev/null || true
	fi
}

@test "kill with the log disk full says which lines it lost, on stderr and in daemon.log" {
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
	run clusterctl kill
	assert_success
	assert_output --regexp "clusterctl: [1-9][0-9]* lines \([0-9]+ bytes\) for '$TMPFS/out.log' were lost: No space left on device"
	grep -qE "[1-9][0-9]* lines \([0-9]+ bytes\) for $TMPFS/out.log are lost: No space left on device, and the daemon exits" \
		"$CLUSTERCTL_HOME/daemon.log"
}

# held_by NAME: what holds the app's processes, from describe.
held_by() {
	clusterctl describe "$1" --json | json_get "d[0]['held_by']"
}

escaped() {
	[ -s "$BATS_TEST_TMPDIR/gc.pid" ] && alive "$(cat "$BATS_TEST_TMPDIR/gc.pid")"
}

start_escaper() {
	rm -f "$BATS_TEST_TMPDIR/gc.pid"
	clusterctl start "$FIXTURES/escape.sh" --name esc --listen-timeout 0 \
		--kill-timeout 500 -- "$BATS_TEST_TMPDIR/gc.pid"
	wait_until 10 escaped
}

@test "a process that double-forks, calls setsid and drops its environment is stopped with its app" {
	start_escaper
	if [ "$(held_by esc)" != cgroup ]; then
		# Without a cgroup v2 the daemon may create, the process group
		# holds the app, and this process escapes: said in describe.
		run clusterctl describe esc
		assert_output --partial "held by        its process group (a process that leaves it escapes a stop)"
		kill -9 "$(cat "$BATS_TEST_TMPDIR/gc.pid")"
		skip "no cgroup v2 for the daemon here"
	fi
	run clusterctl describe esc
	assert_output --partial "held by        a cgroup per instance"
	local gc
	gc=$(cat "$BATS_TEST_TMPDIR/gc.pid")
	clusterctl stop esc
	! alive "$gc"
	clusterctl start esc
	wait_until 10 escaped
	gc=$(cat "$BATS_TEST_TMPDIR/gc.pid")
	clusterctl delete esc
	! alive "$gc"
	start_escaper
	gc=$(cat "$BATS_TEST_TMPDIR/gc.pid")
	clusterctl kill
	! alive "$gc"
}

@test "where cgroup v2 is not ours, v1's freezer (or pids) hierarchy holds the app: nothing escapes" {
	clusterctl kill >/dev/null
	# v2 skipped, as on a host that does not mount it for us.
	export CLUSTERCTL_CGROUP_VERSION=1
	start_escaper
	local kind gc
	kind=$(clusterctl describe esc --json | json_get "d[0]['cgroup']")
	if [ "$kind" = None ]; then
		kill -9 "$(cat "$BATS_TEST_TMPDIR/gc.pid")"
		skip "no cgroup v1 freezer or pids hierarchy the daemon may write here"
	fi
	[[ "$kind" = "v1 freezer" || "$kind" = "v1 pids" ]]
	run clusterctl describe esc
	assert_output --partial "held by        a cgroup per instance (cgroup $kind; nothing it starts escapes a stop)"
	grep -q "each instance runs in a cgroup of its own under .* ($kind)" \
		"$CLUSTERCTL_HOME/daemon.log"
	gc=$(cat "$BATS_TEST_TMPDIR/gc.pid")
	clusterctl stop esc
	! alive "$gc"
	# A daemon killed with -9: the next one kills what it left.
	clusterctl start esc
	wait_until 10 escaped
	gc=$(cat "$BATS_TEST_TMPDIR/gc.pid")
	DAEMON=$(cat "$CLUSTERCTL_HOME/daemon.pid")
	kill -9 "$DAEMON"
	wait_until 10 eval '! alive "$DAEMON"'
	clusterctl ping
	wait_until 10 eval '! alive "$gc"'
}

@test "after the daemon is killed with -9, the next one stops what escaped" {
	start_escaper
	[ "$(held_by esc)" = cgroup ] || {
		kill -9 "$(cat "$BATS_TEST_TMPDIR/gc.pid")"
		skip "no cgroup v2 for the daemon here"
	}
	local gc
	gc=$(cat "$BATS_TEST_TMPDIR/gc.pid")
	kill -9 "$DAEMON"
	wait_until 10 eval '! alive "$DAEMON"'
	# The next daemon (the keeper's, or the one this ping starts).
	clusterctl ping
	wait_until 10 eval '! alive "$gc"'
	grep -q "killed 1 process left running by a previous daemon (in " \
		"$CLUSTERCTL_HOME/daemon.log"
}

@test "bytes JSON cannot carry reach the file as they are and every follower, without breaking other lines" {
	clusterctl start "$FIXTURES/garbage.py" --name junk --listen-timeout 0 --no-share
	clusterctl start "$FIXTURES/flood.py" --name clean --listen-timeout 0 \
		--no-share -- 500 20 stay
	# The tail, then what follows: no line falls between the two.
	"$CLUSTERCTL_BIN" logs -f --json --lines 1000 >"$BATS_TEST_TMPDIR/follow.json" 2>&1 &
	local follower=$!
	wait_until 20 grep -q '"line":"0 499 x' "$BATS_TEST_TMPDIR/follow.json"
	wait_until 20 grep -q '"line":"end"' "$BATS_TEST_TMPDIR/follow.json"
	kill -INT "$follower"
	wait "$follower" || true
	# The file has the bytes as written.
	grep -qaF $'bad \xff\xfe\xc3 utf8' "$CLUSTERCTL_HOME/logs/junk-out-0.log"
	[ "$(tr -d '\n' < "$CLUSTERCTL_HOME/logs/junk-out-0.log" | tr -cd '\0' | wc -c)" -eq 1 ]
	# The follower got valid JSON lines, every clean line in order.
	python3 - "$BATS_TEST_TMPDIR/follow.json" <<'PY'
import json, sys
clean = []
for raw in open(sys.argv[1], "rb").read().split(b"\n"):
    if not raw.strip():
        continue
    e = json.loads(raw)
    if e.get("app") == "clean":
        clean.append(e["line"])
assert clean == ["0 %d %s" % (i, "x" * 20) for i in range(500)], clean[:3]
PY
}
