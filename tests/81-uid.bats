#!/usr/bin/env bats
# --uid and --gid: instances as another user, only from a root daemon.

load helpers

local_teardown() {
	if [ -n "$NOBODY_HOME" ]; then
		as_nobody "$CLUSTERCTL_BIN" kill >/dev/null 2>&1
		rm -rf "$NOBODY_HOME"
	fi
	return 0
}

# as_nobody CMD...: CMD as nobody, with a home of its own.
as_nobody() {
	setpriv --reuid=nobody --regid=nogroup --clear-groups \
		env HOME="$NOBODY_HOME" CLUSTERCTL_HOME="$NOBODY_HOME/cc" "$@"
}

# ids PID FIELD: the four numbers of /proc/PID/status's Uid or Gid line.
ids() {
	awk -v f="$2:" '$1 == f { print $2, $3, $4, $5 }' "/proc/$1/status"
}

@test "--uid nobody runs the instances as nobody, with nobody's groups" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	run clusterctl start /bin/sh --name who --uid nobody -i 2 -- -c 'id -u; id -G; exec sleep 1000'
	assert_success
	for i in 0 1; do
		pid=$(pid_of who $i)
		[ "$(ids "$pid" Uid)" = "65534 65534 65534 65534" ]
		[ "$(ids "$pid" Gid)" = "65534 65534 65534 65534" ]
		[ "$(awk '$1 == "Groups:" { print $2 }' "/proc/$pid/status")" = 65534 ]
	done
	log="$CLUSTERCTL_HOME/logs/who-out-0.log"
	wait_until 10 grep -qx 65534 "$log"
	run clusterctl describe who --json
	assert_output --partial '"uid": "nobody"'
}

@test "--gid alone changes the group and keeps the daemon's user" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	clusterctl start /bin/sleep --name g --gid nogroup -- 1000
	pid=$(pid_of g 0)
	[ "$(ids "$pid" Uid)" = "0 0 0 0" ]
	[ "$(ids "$pid" Gid)" = "65534 65534 65534 65534" ]
}

@test "an unknown user or group is refused before anything starts" {
	run clusterctl start /bin/sleep --name x --uid no-such-user-here -- 1000
	assert_failure
	assert_output --partial "no user named 'no-such-user-here'"
	run clusterctl start /bin/sleep --name x --gid no-such-group-here -- 1000
	assert_failure
	assert_output --partial "no group named 'no-such-group-here'"
	run clusterctl list --json
	assert_output "[]"
}

@test "a daemon that is not root refuses --uid with a clear error" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	NOBODY_HOME=$(mktemp -d /tmp/clusterctl-nobody.XXXXXX)
	chown nobody:nogroup "$NOBODY_HOME"
	run as_nobody "$CLUSTERCTL_BIN" start /bin/sleep --name s --uid root --cwd "$NOBODY_HOME" -- 1000
	assert_failure
	assert_output --partial "--uid and --gid need a daemon running as root"
	run as_nobody "$CLUSTERCTL_BIN" list --json
	assert_output "[]"
	# Its own user is no change, and allowed.
	run as_nobody "$CLUSTERCTL_BIN" start /bin/sleep --name s --uid nobody --cwd "$NOBODY_HOME" -q -- 1000
	assert_success
}

@test "a process file's uid and gid fields run the app as that user" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	echo '{"apps": [{"name": "pf", "script": "/bin/sleep", "args": ["1000"], "uid": "nobody", "gid": 65534}]}' > eco.json
	run clusterctl start eco.json
	assert_success
	[ "$(ids "$(pid_of pf 0)" Uid)" = "65534 65534 65534 65534" ]
	[ "$(ids "$(pid_of pf 0)" Gid)" = "65534 65534 65534 65534" ]
}
