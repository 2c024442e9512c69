#!/usr/bin/env bats
# The control protocol survives whatever a client sends.

load helpers

raw() {
	python3 "$FIXTURES/rawclient.py" "$CLUSTERCTL_HOME/sock" "$1"
}

local_setup() {
	clusterctl ping >/dev/null
	DAEMON=$(cat "$CLUSTERCTL_HOME/daemon.pid")
}

still_fine() {
	alive "$DAEMON"
	clusterctl ping >/dev/null
}

@test "a malformed frame gets an error reply and a closed connection" {
	run raw malformed
	assert_line --index 0 --partial '"code": "bad_request"'
	assert_line --index 0 --partial 'malformed JSON'
	assert_line --index 1 EOF
	still_fine
}

@test "a frame that is not a JSON object is refused" {
	run raw notobject
	assert_line --index 0 --partial '"code": "bad_request"'
	assert_line --index 1 EOF
	still_fine
}

@test "an oversized frame is refused without reading it" {
	run raw oversized
	assert_line --index 0 --partial '"code": "too_large"'
	assert_line --index 1 EOF
	still_fine
}

@test "a truncated frame and a hang-up harm nothing" {
	run raw truncated
	assert_success
	still_fine
}

@test "another protocol version is refused in words" {
	run raw version
	assert_output --partial '"code": "version"'
	assert_output --partial 'protocol version 99 is not supported'
	assert_output --partial '"id": 5'
	still_fine
}

@test "an unknown command and a request without id get error replies" {
	run raw unknown
	assert_output --partial '"code": "unknown_command"'
	assert_output --partial '"id": 6'
	run raw noid
	assert_output --partial '"code": "bad_request"'
	still_fine
}

@test "several requests on one connection each get their reply" {
	run raw twice
	assert_line --index 0 --partial '"id": 1'
	assert_line --index 1 --partial '"id": 2'
}

@test "a client that disconnects mid-request harms nothing" {
	clusterctl start /bin/sleep --name h --kill-timeout 100 -- 1000
	run raw hangup
	assert_success
	wait_until 10 all_status h stopped
	still_fine
	run clusterctl start h
	assert_success
}

@test "garbage bytes on the socket do not crash the daemon" {
	head -c 100000 /dev/urandom | python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
try:
    s.sendall(sys.stdin.buffer.read())
    s.recv(100)
except OSError:
    pass' "$CLUSTERCTL_HOME/sock"
	still_fine
}
