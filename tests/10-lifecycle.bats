#!/usr/bin/env bats
# The daemon on demand, start/stop/restart/delete/list, and clean stops.

load helpers

@test "ping starts a daemon on demand, detached, under a recognisable name" {
	run clusterctl ping
	assert_success
	assert_output --partial "pong"
	[ -S "$CLUSTERCTL_HOME/sock" ]
	pid=$(cat "$CLUSTERCTL_HOME/daemon.pid")
	alive "$pid"
	run ps -o args= -p "$pid"
	assert_output --partial "clusterctl-daemon"
	# Its own session: not the CLI's, and no controlling terminal.
	[ "$(ps -o sid= -p "$pid")" != "$(ps -o sid= -p $$)" ]
	[ "$(ps -o tty= -p "$pid" | tr -d ' ')" = "?" ]
	grep -q "daemon .* started" "$CLUSTERCTL_HOME/daemon.log"
}

@test "two CLIs racing at start-up start one daemon" {
	for i in 1 2 3 4 5 6; do clusterctl ping >/dev/null & done
	wait
	n=$(pgrep -f "clusterctl-daemon __daemon $CLUSTERCTL_HOME\$" | wc -l)
	[ "$n" -eq 1 ]
}

@test "start runs N instances of a program with arguments after --" {
	run clusterctl start /bin/sleep --name nap -i 3 -- 1000
	assert_success
	assert_output --partial "nap:2"
	n=$(clusterctl list --json | json_get "len([r for r in d if r['name']=='nap' and r['status']=='online'])")
	[ "$n" -eq 3 ]
	for i in 0 1 2; do
		pid=$(pid_of nap $i)
		[ "$(tr '\0' ' ' < "/proc/$pid/cmdline")" = "/bin/sleep 1000 " ]
		# Each instance leads its own process group.
		[ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ]
	done
}

@test "-i max starts one instance per CPU and -i -1 one fewer" {
	cpus=$(nproc)
	clusterctl start /bin/sleep --name m -i max -- 1000
	clusterctl start /bin/sleep --name m1 -i -1 -- 1000
	rows=$(clusterctl list --json)
	[ "$(echo "$rows" | json_get "len([r for r in d if r['name']=='m'])")" -eq "$cpus" ]
	want=$((cpus - 1))
	[ "$want" -ge 1 ] || want=1
	[ "$(echo "$rows" | json_get "len([r for r in d if r['name']=='m1'])")" -eq "$want" ]
}

@test "the default name is the script's base name, and .sh runs under bash" {
	cp "$FIXTURES/env.sh" ./myworker.sh
	chmod -x ./myworker.sh
	run clusterctl start ./myworker.sh -- "$BATS_TEST_TMPDIR"
	assert_success
	wait_until 10 test -f "$BATS_TEST_TMPDIR/env-0"
	run clusterctl list --json
	assert_output --partial '"name": "myworker"'
	pid=$(pid_of myworker 0)
	[ "$(cat /proc/$pid/comm)" = "sleep" ]
}

@test "instances get the CLI's environment, --env, and their instance vars" {
	export FROM_CLI=hello
	run clusterctl start "$FIXTURES/env.sh" --name envy -i 2 --env EXTRA=1 \
		--env FROM_CLI=overridden -- "$BATS_TEST_TMPDIR"
	assert_success
	wait_until 10 test -f "$BATS_TEST_TMPDIR/env-1"
	wait_until 10 test -f "$BATS_TEST_TMPDIR/env-0"
	grep -qx "CLUSTERCTL_APP=envy" "$BATS_TEST_TMPDIR/env-1"
	grep -qx "CLUSTERCTL_INSTANCE=1" "$BATS_TEST_TMPDIR/env-1"
	grep -qx "NODE_APP_INSTANCE=1" "$BATS_TEST_TMPDIR/env-1"
	grep -qx "CLUSTERCTL_INSTANCE=0" "$BATS_TEST_TMPDIR/env-0"
	grep -qx "EXTRA=1" "$BATS_TEST_TMPDIR/env-0"
	grep -qx "FROM_CLI=overridden" "$BATS_TEST_TMPDIR/env-0"
	# The environment is frozen at start: a later CLI's does not matter.
	export FROM_CLI=changed
	clusterctl restart envy
	grep -qx "FROM_CLI=overridden" "$BATS_TEST_TMPDIR/env-0"
}

@test "the daemon's own descriptors never leak into apps" {
	clusterctl start /bin/sleep --name fds -i 2 -- 1000
	for i in 0 1; do
		run ls "/proc/$(pid_of fds $i)/fd"
		assert_output "$(printf '0\n1\n2')"
	done
}

@test "--cwd sets the working directory" {
	mkdir -p "$BATS_TEST_TMPDIR/wd"
	clusterctl start /bin/sleep --name wd --cwd "$BATS_TEST_TMPDIR/wd" -- 1000
	pid=$(pid_of wd 0)
	[ "$(readlink /proc/$pid/cwd)" = "$BATS_TEST_TMPDIR/wd" ]
}

@test "stop, start, restart and delete by name, id, several targets and all" {
	clusterctl start /bin/sleep --name a -- 1000
	clusterctl start /bin/sleep --name b -- 1000
	clusterctl start /bin/sleep --name c -- 1000
	pa=$(pid_of a 0)
	run clusterctl stop a 1
	assert_success
	[ "$(status_of a 0)" = stopped ]
	[ "$(status_of b 0)" = stopped ]
	[ "$(status_of c 0)" = online ]
	! alive "$pa"
	run clusterctl start a
	assert_success
	[ "$(status_of a 0)" = online ]
	pc=$(pid_of c 0)
	run clusterctl restart c
	assert_success
	[ "$(status_of c 0)" = online ]
	[ "$(pid_of c 0)" != "$pc" ]
	run clusterctl stop all
	assert_success
	run clusterctl list --json
	[ "$(echo "$output" | json_get "sorted(set(r['status'] for r in d))")" = "['stopped']" ]
	run clusterctl restart all
	assert_success
	all_status a online
	all_status b online
	run clusterctl delete a b
	assert_success
	assert_output --partial "deleted a"
	run clusterctl list --json
	[ "$(echo "$output" | json_get "sorted(set(r['name'] for r in d))")" = "['c']" ]
	run clusterctl delete all
	assert_success
	[ "$(clusterctl list --json)" = "[]" ]
}

@test "a name that exists already is refused, unless restarting" {
	clusterctl start /bin/sleep --name dup -- 1000
	run clusterctl start /bin/sleep --name dup -- 1000
	assert_failure 1
	assert_output --partial "'dup' exists already"
	[ "$(clusterctl list --json | json_get 'len(d)')" -eq 1 ]
	run clusterctl restart dup
	assert_success
}

@test "an instance that exits on its own is started again" {
	clusterctl start /bin/sleep --name short --restart-delay 0 -- 1000
	pid=$(pid_of short 0)
	kill -TERM "$pid"
	wait_until 10 eval '[ "$(pid_of short 0)" != "$pid" ] && [ "$(status_of short 0)" = online ]'
	run clusterctl list --json
	[ "$(echo "$output" | json_get "d[0]['restarts']")" -eq 1 ]
	[ "$(echo "$output" | json_get "d[0]['exit_signal']")" = SIGTERM ]
	[ "$(echo "$output" | json_get "d[0]['exit_code']")" = None ]
}

@test "stop sends the kill signal, then SIGKILLs the whole group after --kill-timeout" {
	clusterctl start "$FIXTURES/stubborn.sh" --name stub --kill-timeout 300 \
		-- "$BATS_TEST_TMPDIR/child.pid"
	wait_until 10 test -s "$BATS_TEST_TMPDIR/child.pid"
	leader=$(pid_of stub 0)
	child=$(cat "$BATS_TEST_TMPDIR/child.pid")
	alive "$child"
	clusterctl stop stub --no-wait
	# While it ignores SIGINT, it is stopping.
	run status_of stub 0
	assert_output stopping
	wait_until 20 eval '[ "$(status_of stub 0)" = stopped ]'
	! alive "$leader"
	! alive "$child"
	grep -q "SIGKILL" "$CLUSTERCTL_HOME/daemon.log"
}

@test "a child left behind by an exiting instance does not survive it" {
	clusterctl start "$FIXTURES/stubborn.sh" --name orphan --restart-delay 0 \
		-- "$BATS_TEST_TMPDIR/child.pid"
	wait_until 10 test -s "$BATS_TEST_TMPDIR/child.pid"
	child=$(cat "$BATS_TEST_TMPDIR/child.pid")
	rm "$BATS_TEST_TMPDIR/child.pid"
	kill -KILL "$(pid_of orphan 0)"
	wait_until 10 eval '! alive '"$child"
	wait_until 10 test -s "$BATS_TEST_TMPDIR/child.pid"
}

@test "delete and kill leave no process and no zombie" {
	clusterctl start "$FIXTURES/stubborn.sh" --name z --kill-timeout 200 \
		-i 2 -- "$BATS_TEST_TMPDIR/child.pid"
	clusterctl start /bin/sleep --name zz -i 2 -- 1000
	wait_until 10 test -s "$BATS_TEST_TMPDIR/child.pid"
	daemon=$(cat "$CLUSTERCTL_HOME/daemon.pid")
	run clusterctl delete z
	assert_success
	run clusterctl kill
	assert_success
	! alive "$daemon"
	[ ! -e "$CLUSTERCTL_HOME/sock" ]
	[ -z "$(test_pids)" ]
	# No zombie children anywhere under this test's session either.
	run ps -o stat= --ppid $$
	refute_output --partial Z
}

@test "killing the daemon takes its apps with it; the next sweeps their children" {
	# A daemon the CLI starts without a keeper (no automatic restart).
	export CLUSTERCTL_NO_KEEPER=1
	clusterctl start /bin/sleep --name dies -i 2 -- 1000
	clusterctl start "$FIXTURES/stubborn.sh" --name kid \
		-- "$BATS_TEST_TMPDIR/child.pid"
	wait_until 10 test -s "$BATS_TEST_TMPDIR/child.pid"
	child=$(cat "$BATS_TEST_TMPDIR/child.pid")
	p0=$(pid_of dies 0)
	kill -KILL "$(cat "$CLUSTERCTL_HOME/daemon.pid")"
	wait_until 10 eval '! alive '"$p0"
	# The leader's child outlived the daemon; a new daemon removes it.
	alive "$child"
	run clusterctl ping
	assert_success
	wait_until 10 eval '! alive '"$child"
	grep -q "left running by a previous daemon" "$CLUSTERCTL_HOME/daemon.log"
}

@test "while an instance stops, list shows stopping" {
	clusterctl start "$FIXTURES/stubborn.sh" --name slow --kill-timeout 5000 \
		-- "$BATS_TEST_TMPDIR/child.pid"
	wait_until 10 test -s "$BATS_TEST_TMPDIR/child.pid"
	clusterctl stop slow --no-wait
	run clusterctl list
	assert_output --partial stopping
	run clusterctl list --json
	assert_output --partial '"status": "stopping"'
}

@test "kill stops every app gracefully, then the daemon; a next command starts anew" {
	clusterctl start /bin/sleep --name k -- 1000
	old=$(cat "$CLUSTERCTL_HOME/daemon.pid")
	run clusterctl kill
	assert_success
	! alive "$old"
	run clusterctl kill
	assert_success
	assert_output --partial "no daemon"
	run clusterctl ping
	assert_success
	[ "$(cat "$CLUSTERCTL_HOME/daemon.pid")" != "$old" ]
	[ "$(clusterctl list --json)" = "[]" ]
}

@test "the daemon stops its apps and exits on SIGTERM" {
	clusterctl start /bin/sleep --name t -- 1000
	daemon=$(cat "$CLUSTERCTL_HOME/daemon.pid")
	p=$(pid_of t 0)
	kill -TERM "$daemon"
	wait_until 10 eval '! alive '"$daemon"
	! alive "$p"
	[ ! -e "$CLUSTERCTL_HOME/sock" ]
}

@test "describe shows everything about an app" {
	clusterctl start /bin/sleep --name d -i 2 --kill-signal TERM -- 1000
	run clusterctl describe d
	assert_success
	assert_output --partial "/bin/sleep"
	assert_output --partial "SIGTERM"
	assert_output --partial "instance 1: online"
	assert_output --partial "d-out-1.log"
	run clusterctl describe d --json
	assert_success
	[ "$(echo "$output" | json_get "d[0]['processes'][1]['status']")" = online ]
	[ "$(echo "$output" | json_get "d[0]['kill_signal']")" = SIGTERM ]
}

@test "a home path too long for a socket address still works" {
	long="$BATS_TEST_TMPDIR/$(printf 'x%.0s' {1..60})/$(printf 'y%.0s' {1..60})"
	mkdir -p "$(dirname "$long")"
	export CLUSTERCTL_HOME="$long"
	run clusterctl start /bin/sleep --name longhome -- 1000
	assert_success
	run clusterctl list --json
	assert_output --partial longhome
	clusterctl kill
}
