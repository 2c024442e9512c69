#!/usr/bin/env bats
# Bad input gets a clear error, its own exit code, and loses nothing.

load helpers

@test "a missing binary fails at once with the path and the reason" {
	run clusterctl start /nonexistent/srv --name srv
	assert_failure 1
	assert_output "clusterctl: cannot execute '/nonexistent/srv': No such file or directory"
	run clusterctl ping
	assert_success
	[ "$(clusterctl list --json)" = "[]" ]
}

@test "a file that is not executable fails with the reason" {
	# A script without an execute bit runs under its #! line (pm2), so
	# this is a file with none: a program, or text with no #! line.
	printf 'sleep 100\n' > ./noexec
	chmod 644 ./noexec
	run clusterctl start ./noexec
	assert_failure 1
	assert_output --partial "cannot execute '$BATS_TEST_TMPDIR/noexec': Permission denied"
}

@test "a program that cannot be executed (bad interpreter) errors with the reason" {
	printf '#!/nonexistent/interp\n' > ./badshebang
	chmod 755 ./badshebang
	run clusterctl start ./badshebang
	assert_failure 6
	assert_output --partial "cannot execute"
	assert_output --partial "No such file or directory"
	[ "$(status_of badshebang 0)" = errored ]
	run clusterctl describe badshebang
	assert_output --partial "error"
}

@test "a name not in PATH says so" {
	run clusterctl start no-such-program-here
	assert_failure 1
	assert_output --partial "'no-such-program-here': not found in PATH"
}

@test "an interpreter that is missing says so" {
	echo 'print(1)' > ./x.py
	run clusterctl start ./x.py --interpreter no-such-python
	assert_failure 1
	assert_output --partial "interpreter 'no-such-python': not found in PATH"
}

@test "an unknown target exits 3 with 'no app named'" {
	clusterctl start /bin/sleep --name real -- 1000
	for cmd in stop restart delete describe reset; do
		run clusterctl $cmd ghost
		assert_failure 3
		assert_output "clusterctl: no app named 'ghost'"
	done
	# Several targets, one unknown: nothing is done.
	run clusterctl stop real ghost
	assert_failure 3
	[ "$(status_of real 0)" = online ]
	run clusterctl stop real:7
	assert_failure 3
	assert_output --partial "has no instance 7"
}

@test "usage errors exit 2 with the usage line" {
	run clusterctl start
	assert_failure 2
	assert_output --partial "usage: clusterctl start"
	run clusterctl start /bin/sleep --bogus
	assert_failure 2
	assert_output --partial "unknown option '--bogus'"
	assert_output --partial "usage: clusterctl start"
	run clusterctl start /bin/sleep -i zero
	assert_failure 2
	assert_output --partial "invalid instance count 'zero'"
	run clusterctl start /bin/sleep --kill-signal SIGNOPE
	assert_failure 2
	assert_output --partial "unknown signal 'SIGNOPE'"
	run clusterctl start /bin/sleep --kill-timeout soon
	assert_failure 2
	assert_output --partial "invalid duration 'soon'"
	run clusterctl start /bin/sleep --env NOEQUALS
	assert_failure 2
	run clusterctl stop
	assert_failure 2
	assert_output --partial "needs a target"
	run clusterctl list extra
	assert_failure 2
	run clusterctl start /bin/sleep --name
	assert_failure 2
	assert_output --partial "needs a value"
}

@test "an unknown command exits 2 and suggests the close one" {
	run clusterctl restrat web
	assert_failure 2
	assert_output --partial "unknown command 'restrat'"
	assert_output --partial "Did you mean 'restart'?"
}

@test "invalid names are refused" {
	run clusterctl start /bin/sleep --name "a b"
	assert_failure 2
	run clusterctl start /bin/sleep --name all
	assert_failure 2
	# Digits are a name (pm2), but not another app's id.
	clusterctl start /bin/sleep --name first --listen-timeout 0 -- 1000
	run clusterctl start /bin/sleep --name 0 -- 1000
	assert_failure 2
	run clusterctl start /bin/sleep --name web:1
	assert_failure 2
}

@test "a working directory that does not exist is refused" {
	run clusterctl start /bin/sleep --cwd ./nowhere -- 1
	assert_failure 2
	assert_output --partial "nowhere"
}

@test "a command run with its standard input and error closed starts the daemon" {
	# Descriptors 0, 2 and 3 free: the start lock and the keeper's pipe take
	# the low numbers, and the pipe must still reach the keeper.
	run bash -c '"$CLUSTERCTL_BIN" ping <&- 2>&- 3>&-'
	assert_success
	assert_output --partial "pong"
}

@test "an unreachable daemon has its own exit code and message" {
	mkdir -p "$CLUSTERCTL_HOME"
	chmod 700 "$CLUSTERCTL_HOME"
	# A socket file nobody listens on, and a daemon that cannot start
	# because its log cannot be opened.
	python3 -c "import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])" "$CLUSTERCTL_HOME/sock"
	mkdir "$CLUSTERCTL_HOME/daemon.log"
	run clusterctl list
	assert_failure 4
	assert_output --partial "the daemon did not start"
	rmdir "$CLUSTERCTL_HOME/daemon.log"
}

@test "an app that crashes before it is online fails start with exit 6" {
	run clusterctl start /bin/false --name f
	assert_failure 6
	assert_output --partial "f:0 exited with code 1 before it was online"
	run clusterctl start /bin/sleep --name ok -- 1000
	assert_success
}
