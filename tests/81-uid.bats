#!/usr/bin/env bats
# --uid and --gid: instances as another user, only from a root daemon.

load helpers

local_teardown() {
	if [ -n "$LOGDIR" ]; then rm -rf "$LOGDIR"; fi
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

# owner FILE: its user:group
owner() {
	stat -c %U:%G "$1"
}

# nobody_dir: a directory of nobody's in LOGDIR (under /tmp, where nobody
# can reach it), removed by the teardown.
nobody_dir() {
	LOGDIR=$(mktemp -d /tmp/clusterctl-logs.XXXXXX)
	chown nobody:nogroup "$LOGDIR"
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
		# It joined its cgroup before it became nobody (where there are).
		if clusterctl describe who | grep -q "a cgroup per instance"; then
			grep -q "/clusterctl\.[0-9a-f]*/app-who\.$i-" "/proc/$pid/cgroup"
		fi
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

@test "the log files of a --uid app are created for its user, rotated and compressed ones too" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	clusterctl start /bin/sh --name lg --uid nobody --log-max-size 100 --log-compress -q -- \
		-c 'i=0; while [ $i -lt 20 ]; do echo "line-$i-xxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i+1)); done; echo oops >&2; exec sleep 1000'
	logs=$CLUSTERCTL_HOME/logs
	wait_until 10 test -f "$logs/lg-out-0.log.1.gz"
	wait_until 10 grep -q oops "$logs/lg-err-0.log"
	[ "$(owner "$logs/lg-out-0.log")" = nobody:nogroup ]
	[ "$(owner "$logs/lg-err-0.log")" = nobody:nogroup ]
	[ "$(owner "$logs/lg-out-0.log.1.gz")" = nobody:nogroup ]
	# The directory stays the daemon's: the user may not swap its files.
	[ "$(owner "$logs")" = root:root ]
	run clusterctl logs lg --out --nostream --raw --lines 1
	assert_output "line-19-xxxxxxxxxxxxxxxxxxxxxxxx"
	# A file of an app without --uid stays root's.
	clusterctl start /bin/sleep --name mine -q -- 1000
	[ "$(owner "$logs/mine-out-0.log")" = root:root ]
}

@test "in a directory of the --uid user, log files are made and rotated as that user, never through its links" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	nobody_dir
	echo secret > victim
	setpriv --reuid=nobody --regid=nogroup --clear-groups ln -s "$PWD/victim" "$LOGDIR/link.log"
	# A file root left there is not the user's to write: the daemon,
	# acting as the user, may not either.
	: > "$LOGDIR/roots.log"
	clusterctl start /bin/sh --name u1 --uid nobody --log-max-size 100 -q \
		-o "$LOGDIR/new/out.log" -e "$LOGDIR/link.log" -- \
		-c 'i=0; while [ $i -lt 20 ]; do echo "line-$i-xxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i+1)); done; echo oops >&2; exec sleep 1000'
	wait_until 10 test -f "$LOGDIR/new/out.log.1"
	[ "$(owner "$LOGDIR/new")" = nobody:nogroup ]
	[ "$(owner "$LOGDIR/new/out.log")" = nobody:nogroup ]
	[ "$(owner "$LOGDIR/new/out.log.1")" = nobody:nogroup ]
	run clusterctl describe u1
	assert_output --partial "link.log: it is a symbolic link"
	[ "$(cat victim)" = secret ]
	clusterctl start /bin/sh --name u2 --uid nobody -q -o "$LOGDIR/roots.log" -- -c "echo hi; exec sleep 1000"
	run clusterctl describe u2
	assert_output --partial "roots.log: Permission denied"
	[ ! -s "$LOGDIR/roots.log" ]
	# flush empties the file and removes the rotated ones, as the user.
	run clusterctl flush u1
	assert_success
	[ ! -e "$LOGDIR/new/out.log.1" ]
	# An app of the daemon's own user is refused the user's directory.
	clusterctl start /bin/sh --name r -q -o "$LOGDIR/r.log" -- -c "echo hi; exec sleep 1000"
	run clusterctl describe r
	assert_output --partial "may be changed by another user"
	[ ! -e "$LOGDIR/r.log" ]
}

@test "--uid apps in cluster mode share their port through the door, and are ready on it" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	nobody_dir
	port=$(free_port)
	echo "$port" > "$LOGDIR/ports"
	PORTS=$LOGDIR/ports clusterctl start "$FIXTURES/ports.py" --interpreter /usr/bin/python3 \
		--name web --uid nobody -i 2 --wait-ready --listen-timeout 1m -q
	run clusterctl describe web
	assert_output --partial "127.0.0.1:$port (shared)"
	[ "$(echo "$output" | grep -c "preload      loaded")" -eq 2 ]
	# Both instances hold the daemon's one socket (so does the daemon).
	for i in 0 1; do
		ss -ltnp "sport = :$port" | grep -q "pid=$(pid_of web $i),"
	done
	run curl -s "http://127.0.0.1:$port/"
	assert_output --regexp "^pid [0-9]+$"
	! grep -q "did not share" "$CLUSTERCTL_HOME"/logs/web-err-*.log
}

@test "a --uid app binds a Unix socket path itself: the daemon makes no file for it" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	nobody_dir
	SOCKPATH=$LOGDIR/app.sock clusterctl start /usr/bin/python3 --name us --uid nobody -q -- \
		-c 'import os, socket, time; s = socket.socket(socket.AF_UNIX); s.bind(os.environ["SOCKPATH"]); s.listen(); time.sleep(1000)'
	wait_until 10 test -S "$LOGDIR/app.sock"
	[ "$(owner "$LOGDIR/app.sock")" = nobody:nogroup ]
	wait_until 10 grep -q "did not share" "$CLUSTERCTL_HOME/logs/us-err-0.log"
}

@test "--uid apps say READY=1 on a notify socket of their own" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	nobody_dir
	GATE=$LOGDIR/gate clusterctl start "$FIXTURES/notify_app.py" --interpreter /usr/bin/python3 \
		--name n --uid nobody --wait-ready --listen-timeout 1m --no-wait -q
	wait_until 10 all_status n launching
	env=$(tr '\0' '\n' < "/proc/$(pid_of n 0)/environ")
	[[ "$env" == *"NOTIFY_SOCKET=@clusterctl/"* ]]
	[[ "$env" != *"NOTIFY_SOCKET=$CLUSTERCTL_HOME"* ]]
	touch "$LOGDIR/gate"
	wait_until 10 all_status n online
}

@test "through its door a --uid app may ask only for sockets" {
	[ "$(id -u)" -eq 0 ] || skip "needs root"
	clusterctl start "$FIXTURES/door_knock.py" --interpreter /usr/bin/python3 \
		--name knock --uid nobody --no-wait -q -- kill
	wait_until 10 grep -q '"ok"' "$CLUSTERCTL_HOME/logs/knock-out-0.log"
	grep -q '"code": *"denied"' "$CLUSTERCTL_HOME/logs/knock-out-0.log"
	run clusterctl ping
	assert_success
	# An app of the daemon's own user has no door.
	clusterctl start /bin/sh --name own -q -- -c 'echo "fd=${CLUSTERCTL_SHARE_FD:-none}"; exec sleep 1000'
	wait_until 10 grep -qx "fd=none" "$CLUSTERCTL_HOME/logs/own-out-0.log"
}
