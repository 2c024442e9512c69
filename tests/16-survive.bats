#!/usr/bin/env bats
# The daemon survives every client, app and environment (issue 16): each
# test is the regression test of a way it used to crash, wedge, leak or
# lose something without a word.

load helpers

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
