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

req() {
	python3 "$FIXTURES/rawclient.py" "$CLUSTERCTL_HOME/sock" req "$1"
}

@test "arguments of the wrong type are refused, never taken for 'all'" {
	clusterctl start /bin/sleep --name w --listen-timeout 0 -- 1000
	echo hello > "$CLUSTERCTL_HOME/logs/w-out-0.log"
	for cmd in stop restart delete describe flush logs reset; do
		run req '{"v":1,"id":1,"cmd":"'$cmd'","args":{"targets":5}}'
		assert_output --partial '"code": "bad_request"'
	done
	[ "$(status_of w 0)" = online ]
	grep -q hello "$CLUSTERCTL_HOME/logs/w-out-0.log"
	# A start member or a request option of the wrong type is named.
	run req '{"v":1,"id":1,"cmd":"start","args":{"script":"/bin/sleep","name":"t","kill_timeout":"5s"}}'
	assert_output --partial '"code": "bad_request"'
	assert_output --partial "'kill_timeout' is not an integer"
	run req '{"v":1,"id":1,"cmd":"stop","args":{"targets":["w"],"wait":"yes"}}'
	assert_output --partial '"code": "bad_request"'
	run req '{"v":1,"id":1,"cmd":"reload","args":{"targets":["w"],"parallel":"2"}}'
	assert_output --partial '"code": "bad_request"'
	[ "$(status_of w 0)" = online ]
	run clusterctl list --json
	refute_output --partial '"t"'
	still_fine
}

@test "a huge list of targets is refused at once" {
	clusterctl start /bin/sleep --name w --listen-timeout 0 -- 1000
	run req '{"v":1,"id":1,"cmd":"describe","args":{"targets":['"$(printf '"w",%.0s' {1..5000})"'"w"]}}'
	assert_output --partial "more than 4096 targets"
	still_fine
}

@test "out-of-range numbers are refused or bounded, never overflowed" {
	clusterctl start /bin/sleep --name w --listen-timeout 0 -- 1000
	run req '{"v":1,"id":1,"cmd":"scale","args":{"targets":["w"],"target":"w","count":9223372036854775807,"relative":true}}'
	assert_output --partial '"ok": false'
	run req '{"v":1,"id":1,"cmd":"stop","args":{"targets":["4294967296"]}}'
	assert_output --partial "no app named '4294967296'"
	[ "$(status_of w 0)" = online ]
	run req '{"v":1,"id":2,"cmd":"start","args":{"script":"/bin/false","name":"big","restart_delay":9223372036854775807,"kill_timeout":9223372036854775807,"instances":-9223372036854775807,"wait":false}}'
	assert_output --partial '"ok": true'
	wait_until 10 eval '[ "$(status_of big 0)" = waiting ]'
	run clusterctl describe big --json
	[ "$(echo "$output" | json_get "d[0]['kill_timeout']")" -eq 604800000 ]
	still_fine
}
