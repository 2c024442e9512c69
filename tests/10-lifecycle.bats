#!/usr/bin/env bats
# The daemon on demand, start/stop/restart/delete/list, and clean stops.

load helpers

@test "ping starts a daemon on demand and it answers" {
	run clusterctl ping
	assert_success
	assert_output --partial "pong"
	[ -S "$CLUSTERCTL_HOME/sock" ]
	[ -f "$CLUSTERCTL_HOME/daemon.pid" ]
	alive "$(cat "$CLUSTERCTL_HOME/daemon.pid")"
}

@test "start runs N instances of a program with arguments after --" {
	run clusterctl start /bin/sleep --name nap -i 3 -- 1000
	assert_success
	run clusterctl list --json
	assert_success
	n=$(echo "$output" | json_get "len([r for r in d if r['name']=='nap' and r['status']=='online'])")
	[ "$n" -eq 3 ]
	for i in 0 1 2; do
		pid=$(pid_of nap $i)
		grep -q 1000 "/proc/$pid/cmdline"
	done
}
