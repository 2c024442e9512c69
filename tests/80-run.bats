#!/usr/bin/env bats
# run (start --no-daemon): the daemon in the foreground, as a container's
# main process (PID 1 in its own PID namespace) or a systemd service.

load helpers
bats_require_minimum_version 1.5.0

local_teardown() {
	if [ -n "$LISTENER" ]; then kill "$LISTENER" 2>/dev/null; wait "$LISTENER" 2>/dev/null; fi
	if [ -n "$RUN_PID" ] && kill -0 "$RUN_PID" 2>/dev/null; then
		kill -TERM "$(inner_pid)" "$RUN_PID" 2>/dev/null
		wait "$RUN_PID" 2>/dev/null
	fi
	return 0
}

# bg_run ARGS...: clusterctl ARGS in the background, output in out and err.
bg_run() {
	"$CLUSTERCTL_BIN" "$@" >"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	RUN_PID=$!
}

# ns_run ARGS...: the same as PID 1 of a new PID namespace.
ns_run() {
	unshare --pid --fork --mount-proc "$CLUSTERCTL_BIN" "$@" \
		>"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	RUN_PID=$!
}

# The daemon's pid seen from here: unshare's child, or bg_run's own.
inner_pid() {
	local c
	c=$(pgrep -P "$RUN_PID" 2>/dev/null | head -1)
	echo "${c:-$RUN_PID}"
}

# wait_run: wait for the background run; its exit status in RUN_RC.
wait_run() {
	RUN_RC=0
	wait "$RUN_PID" || RUN_RC=$?
	RUN_PID=
}

@test "run prints the app's lines prefixed name:N and exits 0 when it ends well" {
	printf 'echo "out $CLUSTERCTL_INSTANCE"\necho "err $CLUSTERCTL_INSTANCE" >&2\n' > job.sh
	run --separate-stderr clusterctl run ./job.sh -i 2 --no-autorestart
	assert_success
	[[ "$output" == *"job:0 | out 0"* ]]
	[[ "$output" == *"job:1 | out 1"* ]]
	[[ "$stderr" == *"job:0 | err 0"* ]]
	# The daemon's own lines go to stderr, not among the app's output.
	[[ "$stderr" == *"clusterctl: job:0 started"* ]]
	[[ "$output" != *"clusterctl:"* ]]
	# The control socket is gone with it.
	[ ! -e "$CLUSTERCTL_HOME/sock" ]
}

@test "run --json prints the lines as JSON objects" {
	printf 'echo hello\necho oops >&2\n' > job.sh
	run --separate-stderr clusterctl run ./job.sh --no-autorestart --json -q
	assert_success
	echo "$output" | python3 -c '
import json, sys
d = json.loads(sys.stdin.readline())
assert d["app"] == "job" and d["instance"] == 0 and d["stream"] == "out", d
assert d["line"] == "hello" and d["time"], d'
	echo "$stderr" | python3 -c '
import json, sys
d = [json.loads(l) for l in sys.stdin]
assert [e["line"] for e in d] == ["oops"], d'
}

@test "start --no-daemon is run" {
	printf 'echo fg\nexit 0\n' > job.sh
	run clusterctl start ./job.sh --no-daemon --no-autorestart -q
	assert_success
	assert_output "job:0 | fg"
}

@test "an app that exits 3 with autorestart off makes run exit 3 (PID 1)" {
	printf 'echo working\nexit 3\n' > job.sh
	ns_run run ./job.sh --no-autorestart
	wait_run
	[ "$RUN_RC" -eq 3 ]
	grep -q "job:0 | working" out
}

@test "a crash-looping app makes run exit 6, the code of an errored app" {
	printf 'echo crash >&2\nexit 1\n' > crash.sh
	run clusterctl run ./crash.sh --restart-delay 0 --max-restarts 2 --min-uptime 1m
	[ "$status" -eq 6 ]
	assert_output --partial "crash:0 | crash"
	assert_output --partial "given up"
	assert_output --partial "an app is errored"
}

@test "--exit-on any ends run when one app ends, and stops the others" {
	printf 'exit 0\n' > short.sh
	# The app that ends is one of two instances whose other sleeps.
	printf 'if [ "$CLUSTERCTL_INSTANCE" = 1 ]; then exec sleep 1000; fi\nexit 4\n' > mixed.sh
	run clusterctl run ./mixed.sh -i 2 --no-autorestart --exit-on any
	[ "$status" -eq 4 ]
	assert_output --partial "mixed:1 stopped"
}

@test "run refuses a bad --exit-on and a script it cannot execute" {
	run clusterctl run /bin/true --exit-on sometimes
	[ "$status" -eq 2 ]
	assert_output --partial "invalid --exit-on 'sometimes'"
	run clusterctl run ./missing.sh
	[ "$status" -eq 1 ]
	assert_output --partial "missing.sh"
	[ ! -e "$CLUSTERCTL_HOME/sock" ]
}

@test "SIGTERM to run as PID 1 stops every app gracefully and exits 0" {
	ns_run run "$FIXTURES/graceful.sh" -i 3 --kill-timeout 10s -- "$BATS_TEST_TMPDIR"
	wait_until 20 test -f started-0 -a -f started-1 -a -f started-2
	[ "$(ps -o comm= -p "$(inner_pid)")" != "unshare" ]
	kill -TERM "$(inner_pid)"
	wait_run
	[ "$RUN_RC" -eq 0 ]
	for i in 0 1 2; do [ -f "stopped-$i" ]; done
	grep -q "got SIGTERM" err
}

@test "run as PID 1 reaps the zombies a double-forking app leaves" {
	ns_run run "$FIXTURES/doublefork.py" --name forker -- "$BATS_TEST_TMPDIR" 5
	wait_until 20 test -f gone-0 -a -f gone-1 -a -f gone-2 -a -f gone-3 -a -f gone-4
	pid=$(inner_pid)
	# Only the app itself is left among the daemon's children.
	only_app() { [ "$(ps -o pid= --ppid "$pid" | wc -l)" -eq 1 ]; }
	wait_until 10 only_app
	! ps -o stat= --ppid "$pid" | grep -q Z
	kill -TERM "$pid"
	wait_run
	[ "$RUN_RC" -eq 0 ]
}

@test "clusterctl list and kill work beside a running run" {
	bg_run run /bin/sleep --name nap -i 2 -- 1000
	# list starts a daemon of its own if none listens yet: wait for run's.
	wait_until 20 test -S "$CLUSTERCTL_HOME/sock"
	wait_until 20 all_status nap online
	run clusterctl list --json
	assert_success
	[ "$(echo "$output" | json_get "len([r for r in d if r['name']=='nap'])")" -eq 2 ]
	run clusterctl start /bin/sleep --name other -- 1000
	assert_success
	run clusterctl run /bin/true
	[ "$status" -eq 1 ]
	assert_output --partial "a daemon already runs"
	run clusterctl kill
	assert_success
	wait_run
	[ "$RUN_RC" -eq 0 ]
}

@test "run tells NOTIFY_SOCKET READY=1 once its apps are online, and WATCHDOG=1" {
	python3 "$FIXTURES/notify_listen.py" "$BATS_TEST_TMPDIR/sd" "$BATS_TEST_TMPDIR/sd.log" 3>&- &
	LISTENER=$!
	wait_until 10 test -S "$BATS_TEST_TMPDIR/sd"
	NOTIFY_SOCKET=$BATS_TEST_TMPDIR/sd WATCHDOG_USEC=100000 GATE=$BATS_TEST_TMPDIR/gate \
		bg_run run "$FIXTURES/notify_app.py" --name gated --wait-ready --listen-timeout 1m
	wait_until 20 grep -q "STATUS=1 app, 0 of 1 instance online" sd.log
	wait_until 10 grep -qx "WATCHDOG=1" sd.log
	! grep -q "READY=1" sd.log
	touch gate
	wait_until 20 grep -qx "READY=1" sd.log
	grep -q "STATUS=1 app, 1 of 1 instance online" sd.log
	# The app got the daemon's notify socket, not the service manager's.
	run clusterctl describe gated --json
	[[ "$output" != *"$BATS_TEST_TMPDIR/sd\""* ]]
	kill -TERM "$RUN_PID"
	wait_run
	[ "$RUN_RC" -eq 0 ]
	wait_until 10 grep -qx "STOPPING=1" sd.log
}

@test "run FILE runs the apps of a process file, with --env NAME and --only" {
	cat > ecosystem.json <<'JSON'
{"apps": [
  {"name": "greet", "script": "/bin/sh", "args": ["-c", "echo \"$GREETING $CLUSTERCTL_INSTANCE\""],
   "instances": 2, "autorestart": false,
   "env": {"GREETING": "hello"}, "env_production": {"GREETING": "bonjour"}},
  {"name": "fail", "script": "/bin/sh", "args": ["-c", "exit 5"], "autorestart": false}
]}
JSON
	run --separate-stderr clusterctl run ecosystem.json --only greet --json
	assert_success
	echo "$output" | python3 -c '
import json, sys
d = sorted((e["app"], e["instance"], e["line"]) for e in map(json.loads, sys.stdin))
assert d == [("greet", 0, "hello 0"), ("greet", 1, "hello 1")], d'
	run --separate-stderr clusterctl run ecosystem.json --env production
	# The app of the file that exits 5 gives run its code.
	[ "$status" -eq 5 ]
	[[ "$output" == *"greet:0 | bonjour 0"* ]]
	[[ "$output" == *"greet:1 | bonjour 1"* ]]
	# A YAML file is a process file as well.
	printf 'apps:\n  - name: y\n    script: /bin/echo\n    args: [from yaml]\n    autorestart: false\n' > app.yaml
	run clusterctl run app.yaml -q
	assert_success
	assert_output "y:0 | from yaml"
}

@test "run FILE with a bad app names the file and the app, and starts nothing" {
	printf 'apps:\n  - name: fine\n    script: /bin/sleep\n    args: ["1000"]\n  - name: broken\n    script: ./nope.sh\n' > bad.yaml
	run clusterctl run bad.yaml
	[ "$status" -eq 1 ]
	assert_output --partial "bad.yaml: app 'broken': cannot read"
	refute_output --partial "fine:0 started"
	run clusterctl run bad.yaml --only nothing
	[ "$status" -eq 2 ]
	assert_output --partial "--only names 'nothing'"
	run clusterctl run missing.json
	[ "$status" -eq 3 ]
	assert_output --partial "cannot read 'missing.json'"
	run clusterctl run bad.yaml -- extra
	[ "$status" -eq 2 ]
	run clusterctl start /bin/true /bin/false --no-daemon
	[ "$status" -eq 2 ]
	assert_output --partial "run takes one script or process file"
	[ ! -e "$CLUSTERCTL_HOME/sock" ]
}

@test "run --health: /readyz is 503 until every instance is online, then 200; /livez answers" {
	port=$(free_port)
	GATE=$BATS_TEST_TMPDIR/gate bg_run run "$FIXTURES/notify_app.py" --name gated -i 2 \
		--wait-ready --listen-timeout 1m --health "$port"
	wait_until 20 curl -sf "http://127.0.0.1:$port/livez"
	run curl -s "http://127.0.0.1:$port/livez"
	assert_output --regexp "^alive: pid [0-9]+$"
	run curl -s -w '%{http_code}' "http://127.0.0.1:$port/readyz"
	assert_output --partial "not ready: gated:0 is launching"
	assert_output --partial "not ready: 1 app, 0 of 2 instances online"
	[[ "$output" == *503 ]]
	touch gate
	wait_until 20 curl -sf "http://127.0.0.1:$port/readyz"
	run curl -s "http://127.0.0.1:$port/readyz"
	assert_output "ready: 1 app, 2 of 2 instances online"
	# Only what was asked for is served.
	run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/metrics"
	assert_output 404
	kill -TERM "$RUN_PID"
	wait_run
	[ "$RUN_RC" -eq 0 ]
	run curl -s "http://127.0.0.1:$port/livez"
	assert_failure
}

@test "run FILE --health and --metrics on one address: one server for both" {
	port=$(free_port)
	echo '{"apps": [{"name": "nap", "script": "/bin/sleep", "args": ["1000"], "listen_timeout": 0}]}' > eco.json
	# A bad address is refused before anything starts.
	run clusterctl run eco.json --health nowhere
	[ "$status" -eq 1 ]
	assert_output --partial "invalid health address 'nowhere'"
	refute_output --partial "nap:0 started"
	bg_run run eco.json --health "127.0.0.1:$port" --metrics "$port"
	wait_until 20 curl -sf "http://127.0.0.1:$port/readyz"
	curl -sf "http://127.0.0.1:$port/metrics" | grep -q 'clusterctl_instance_up{app="nap",instance="0"} 1'
	[ "$(ss -ltn "sport = :$port" | grep -c LISTEN)" -eq 1 ]
	kill -TERM "$RUN_PID"
	wait_run
	[ "$RUN_RC" -eq 0 ]
}
