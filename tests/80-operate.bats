#!/usr/bin/env bats
# Operating live apps: signal, send, metrics, monit.

load helpers

# lines_in FILE PATTERN N: FILE has N lines matching PATTERN.
lines_in() {
	[ "$(grep -c -- "$2" "$1" 2>/dev/null)" = "$3" ]
}

@test "signal delivers to every instance and names the pids" {
	clusterctl start "$FIXTURES/listener.js" -i 2 --name api \
		--env OUT="$BATS_TEST_TMPDIR/o"
	wait_until 10 all_status api online
	run clusterctl signal SIGUSR2 api
	assert_success
	assert_output --partial "api:0  pid $(pid_of api 0)  SIGUSR2 sent"
	assert_output --partial "api:1  pid $(pid_of api 1)  SIGUSR2 sent"
	wait_until 10 lines_in "$BATS_TEST_TMPDIR/o-0" SIGUSR2 1
	wait_until 10 lines_in "$BATS_TEST_TMPDIR/o-1" SIGUSR2 1
	# One instance by name:N, and a number for the signal.
	run clusterctl signal 12 api:1 --json
	assert_success
	[ "$(echo "$output" | json_get "[r['pid'] for r in d['done']]")" = "[$(pid_of api 1)]" ]
	wait_until 10 lines_in "$BATS_TEST_TMPDIR/o-1" SIGUSR2 2
	lines_in "$BATS_TEST_TMPDIR/o-0" SIGUSR2 1
}

@test "signal: a stopped instance is reported, an unknown signal refused" {
	clusterctl start "$FIXTURES/listener.js" -i 2 --name api \
		--env OUT="$BATS_TEST_TMPDIR/o"
	clusterctl stop api:0
	run clusterctl signal USR2 api
	assert_success
	assert_output --partial "api:0  stopped: not sent (not running)"
	run clusterctl signal USR2 api:0
	assert_failure 6
	assert_output --partial "SIGUSR2 reached no instance: api:0 is stopped"
	run clusterctl signal SIGNOPE api
	assert_failure 2
	assert_output --partial "unknown signal 'SIGNOPE'"
	run clusterctl signal USR2 nosuch
	assert_failure 3
}

@test "send: every Node instance gets the message on process.on('message')" {
	clusterctl start "$FIXTURES/listener.js" -i 3 --name api \
		--env OUT="$BATS_TEST_TMPDIR/o"
	# process.send exists without --wait-ready, and 'ready' works.
	for i in 0 1 2; do
		grep -qx 'channel function' "$BATS_TEST_TMPDIR/o-$i"
	done
	run clusterctl send api '{"type":"refresh"}'
	assert_success
	assert_output --partial "api:2  pid $(pid_of api 2)  message sent on ipc"
	for i in 0 1 2; do
		wait_until 10 lines_in "$BATS_TEST_TMPDIR/o-$i" 'message {"type":"refresh"}' 1
	done
	# Text that is not JSON goes as a string.
	clusterctl send api:1 hello
	wait_until 10 lines_in "$BATS_TEST_TMPDIR/o-1" 'message "hello"' 1
	lines_in "$BATS_TEST_TMPDIR/o-0" hello 0
}

@test "send: stdin lines only when asked; an app without a channel is an error" {
	clusterctl start "$FIXTURES/stdin_lines.sh" -i 2 --name sh \
		--env OUT="$BATS_TEST_TMPDIR/s" --stdin-messages --listen-timeout 0
	run clusterctl send sh 'hi there'
	assert_success
	assert_output --partial "sh:1  pid $(pid_of sh 1)  message sent on stdin"
	clusterctl send sh '{"a":1}'
	for i in 0 1; do
		wait_until 10 lines_in "$BATS_TEST_TMPDIR/s-$i" '^line hi there$' 1
		wait_until 10 lines_in "$BATS_TEST_TMPDIR/s-$i" '^line {"a":1}$' 1
	done
	clusterctl start "$FIXTURES/env.sh" --name plain --listen-timeout 0 -- "$BATS_TEST_TMPDIR"
	run clusterctl send plain x
	assert_failure 2
	assert_output --partial "'plain' has no message channel"
	run clusterctl describe sh --json
	[ "$(echo "$output" | json_get "d[0]['stdin_messages']")" = True ]
}
