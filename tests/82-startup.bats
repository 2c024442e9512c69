#!/usr/bin/env bats
# startup / unstartup: the systemd unit, and the foreground daemon it runs
# (PID 1 here is not systemd: the file is checked, and the notifications
# go to a socket the test listens on).

load helpers
bats_require_minimum_version 1.5.0

local_teardown() {
	if [ -n "$LISTENER" ]; then kill "$LISTENER" 2>/dev/null; wait "$LISTENER" 2>/dev/null; fi
	if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then
		kill -TERM "$RUN_PID"
		wait "$RUN_PID" 2>/dev/null
	fi
	return 0
}

# verify FILE [--user]: systemd-analyze verify says nothing at all.
verify() {
	local dir
	dir=$(mktemp -d "$BATS_TEST_TMPDIR/unit.XXXX")
	cp "$1" "$dir/clusterctl.service"
	mkdir -p "$BATS_TEST_TMPDIR/xdg" && chmod 700 "$BATS_TEST_TMPDIR/xdg"
	shift
	run env XDG_RUNTIME_DIR="$BATS_TEST_TMPDIR/xdg" \
		systemd-analyze "$@" verify "$dir/clusterctl.service"
	assert_success
	assert_output ""
}

@test "startup --print writes a Type=notify unit that systemd-analyze verify accepts" {
	run clusterctl startup systemd --print
	assert_success
	echo "$output" > unit
	verify unit
	exe=$(readlink -f "$CLUSTERCTL_BIN")
	grep -qx "ExecStart=$exe run --takeover" unit
	grep -qx "ExecReload=$exe reload all" unit
	grep -qx "Type=notify" unit
	grep -qx "KillMode=mixed" unit
	grep -qx "Restart=on-failure" unit
	grep -qx "Environment=CLUSTERCTL_HOME=$CLUSTERCTL_HOME" unit
	grep -qx "WantedBy=multi-user.target" unit
	# Nothing of the caller's shell: no PATH, no other variable.
	[ "$(grep -c '^Environment=' unit)" -eq 1 ]
	! grep -q "PATH" unit
	! grep -q "^WatchdogSec" unit
	# No daemon was started to write it.
	[ ! -S "$CLUSTERCTL_HOME/sock" ]
}

@test "startup --user --watchdog writes a user unit with WatchdogSec" {
	run clusterctl startup --user --watchdog 30s --print
	assert_success
	echo "$output" > unit
	verify unit --user
	grep -qx "WatchdogSec=30" unit
	grep -qx "WantedBy=default.target" unit
	! grep -q "^User=" unit
	# Without --print it says how to install it, and about linger.
	run --separate-stderr clusterctl startup --user
	assert_success
	[[ "$stderr" == *"loginctl enable-linger"* ]]
	[[ "$output" == *"Type=notify"* ]]
}

@test "startup --run-as writes User= and that user's home" {
	run clusterctl startup --run-as www-data --print
	assert_success
	echo "$output" > unit
	verify unit
	grep -qx "User=www-data" unit
	grep -qx "Environment=CLUSTERCTL_HOME=$(getent passwd www-data | cut -d: -f6)/.clusterctl" unit
	run clusterctl startup --run-as no-such-user-here --print
	assert_failure
	assert_output --partial "no user named 'no-such-user-here'"
	run clusterctl startup --run-as www-data --user --print
	[ "$status" -eq 2 ]
}

@test "TimeoutStopSec leaves room for the apps' longest --kill-timeout" {
	run clusterctl startup --print
	assert_line "TimeoutStopSec=30"
	clusterctl start /bin/sleep --name slow --kill-timeout 50s -q -- 1000
	run clusterctl startup --print
	assert_line "TimeoutStopSec=65"
	run clusterctl startup --print --timeout-stop 2m
	assert_line "TimeoutStopSec=120"
	run clusterctl startup upstart
	[ "$status" -eq 2 ]
	assert_output --partial "only systemd is supported"
}

@test "startup --install enables the unit, unstartup removes it" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	command -v systemctl >/dev/null || skip "no systemctl"
	# A private /etc/systemd/system: the machine's is left alone.
	run unshare --mount sh -c '
		mount -t tmpfs tmpfs /etc/systemd/system || exit 99
		"$1" startup --install || exit 1
		test -f /etc/systemd/system/clusterctl.service || exit 2
		test -L /etc/systemd/system/multi-user.target.wants/clusterctl.service || exit 3
		"$1" unstartup || exit 4
		test ! -e /etc/systemd/system/clusterctl.service || exit 5
		test ! -e /etc/systemd/system/multi-user.target.wants/clusterctl.service || exit 6
		"$1" unstartup
		test $? -eq 3 || exit 7' sh "$CLUSTERCTL_BIN"
	assert_success
	assert_output --partial "enabled clusterctl.service"
	assert_output --partial "no unit at"
}

@test "the unit's daemon takes over a daemon started by hand: no duplicate apps, READY=1 once online" {
	clusterctl start /bin/sleep --name web -i 2 --listen-timeout 0 -q -- 1000
	clusterctl start /bin/sleep --name off -q -- 1000
	clusterctl stop off -q
	old=$(cat "$CLUSTERCTL_HOME/daemon.pid")
	python3 "$FIXTURES/notify_listen.py" "$BATS_TEST_TMPDIR/sd" "$BATS_TEST_TMPDIR/sd.log" 3>&- &
	LISTENER=$!
	wait_until 10 test -S "$BATS_TEST_TMPDIR/sd"
	NOTIFY_SOCKET=$BATS_TEST_TMPDIR/sd "$CLUSTERCTL_BIN" run --takeover \
		>out 2>err 3>&- &
	RUN_PID=$!
	wait_until 30 grep -qx "READY=1" sd.log
	grep -q "STATUS=2 apps, 2 of 3 instances online" sd.log
	! kill -0 "$old" 2>/dev/null
	[ "$(cat "$CLUSTERCTL_HOME/daemon.pid")" = "$RUN_PID" ]
	run clusterctl list --json
	[ "$(echo "$output" | json_get "len(d)")" -eq 3 ]
	[ "$(echo "$output" | json_get "sorted((r['name'], r['status']) for r in d)")" = \
		"[('off', 'stopped'), ('web', 'online'), ('web', 'online')]" ]
	grep -q "taking over 2 apps" err
	# Every app stays when they all stop: a service never exits on its own.
	clusterctl stop all -q
	kill -0 "$RUN_PID"
	kill -TERM "$RUN_PID"
	wait "$RUN_PID"
	RUN_PID=
}

@test "completion and help know startup, run and the start options run shares" {
	run clusterctl __complete -- startup ""
	assert_output "systemd"
	run clusterctl __complete -- run --exit
	assert_output "--exit-on"
	run clusterctl __complete -- run --kill-t
	assert_output "--kill-timeout"
	run clusterctl help run
	assert_output --partial "--takeover"
	assert_output --partial "--kill-timeout"
	run clusterctl help start
	assert_output --partial "--no-daemon"
	assert_output --partial "--uid"
}

@test "the unit's daemon starts the saved dump at boot, and its apps after its own death" {
	clusterctl start /bin/sleep --name kept -i 2 --listen-timeout 0 -q -- 1000
	clusterctl save -q
	clusterctl kill -q
	python3 "$FIXTURES/notify_listen.py" "$BATS_TEST_TMPDIR/sd" "$BATS_TEST_TMPDIR/sd.log" 3>&- &
	LISTENER=$!
	wait_until 10 test -S "$BATS_TEST_TMPDIR/sd"
	NOTIFY_SOCKET=$BATS_TEST_TMPDIR/sd "$CLUSTERCTL_BIN" run --takeover >out 2>err 3>&- &
	RUN_PID=$!
	wait_until 30 grep -qx "READY=1" sd.log
	wait_until 10 all_status kept online
	[ "$(clusterctl list --json | json_get "len(d)")" -eq 2 ]
	grep -q "resurrected 1 app" err
	# Killed (the OOM killer): systemd starts it again, the apps come back.
	kill -9 "$RUN_PID"
	wait "$RUN_PID" || true
	"$CLUSTERCTL_BIN" run --takeover >out 2>err 3>&- &
	RUN_PID=$!
	wait_until 30 all_status kept online
	[ "$(clusterctl list --json | json_get "len(d)")" -eq 2 ]
	grep -q "restored 1 app" err
	kill -TERM "$RUN_PID"
	wait "$RUN_PID"
	RUN_PID=
}
