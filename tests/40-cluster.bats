#!/usr/bin/env bats
# Cluster mode: shared listening sockets, --listen, readiness, reload, scale.

load helpers

local_teardown() {
	[ -n "$holder" ] && kill "$holder" 2>/dev/null
	[ -n "$loader" ] && kill "$loader" 2>/dev/null
	return 0
}

# pids NAME: the pids of NAME's instances, sorted, one line.
pids() {
	clusterctl list --json |
		json_get "' '.join(sorted(str(r['pid']) for r in d if r['name']=='$1'))"
}

# load_start PORT: a bounded client loop in the background.
load_start() {
	python3 "$FIXTURES/load.py" "$1" "$BATS_TEST_TMPDIR/load" \
		"$BATS_TEST_TMPDIR/load.stop" &
	loader=$!
	wait_until 20 test -e "$BATS_TEST_TMPDIR/load.started"
}

# load_stop [PID...]: stop the client once these pids have answered; its
# summary is in $BATS_TEST_TMPDIR/load.
load_stop() {
	echo "$*" >"$BATS_TEST_TMPDIR/load.stop"
	wait "$loader"
	loader=
	echo "# load: $(cat "$BATS_TEST_TMPDIR/load")" >&3
}

# status_is NAME INSTANCE STATUS (for wait_until: evaluated each time)
status_is() {
	[ "$(status_of "$1" "$2")" = "$3" ]
}

# has_pid NAME INSTANCE: the instance has a process
has_pid() {
	[ "$(pid_of "$1" "$2")" != None ]
}

# rows_are N: list shows N rows
rows_are() {
	[ "$(clusterctl list --json | json_get 'len(d)')" = "$1" ]
}

load_get() {
	json_get "$1" <"$BATS_TEST_TMPDIR/load"
}

# Reload under load: every request answered, every pid replaced, and the
# answers came from old and new instances alike.
reload_under_load() {
	local name=$1 port=$2 before after p
	wait_until 20 all_status "$name" online
	before=$(pids "$name")
	load_start "$port"
	run clusterctl reload "$name"
	assert_success
	assert_output --partial "reloaded: 2 instances replaced"
	after=$(pids "$name")
	load_stop $after
	[ "$(load_get "d['failed']")" -eq 0 ]
	[ "$(load_get "d['ok']")" -gt 0 ]
	for p in $before; do
		[[ " $after " != *" $p "* ]]
		[ "$(load_get "d['pids'].get('$p', 0) > 0")" = True ]
	done
	for p in $after; do
		[ "$(load_get "d['pids'].get('$p', 0) > 0")" = True ]
	done
}

@test "an unmodified Node server.listen app shares one port over -i 2" {
	port=$(free_port)
	run clusterctl start "$EXAMPLES/node/server.js" --name web -i 2 --env PORT=$port
	assert_success
	assert_output --partial cluster
	wait_until 20 all_status web online
	seen=""
	for i in $(seq 40); do
		seen="$seen $(curl -sf "http://127.0.0.1:$port/" | cut -d' ' -f2)"
	done
	# Both instances answered on the one port.
	for p in $(pids web); do
		[[ "$seen" == *" $p"* ]]
	done
	run clusterctl list --json
	[ "$(echo "$output" | json_get "sorted(set(r['mode'] for r in d))")" = "['cluster']" ]
}

@test "reload of a Node app under load loses no request and replaces every pid" {
	port=$(free_port)
	clusterctl start "$EXAMPLES/node/server.js" --name web -i 2 --env PORT=$port
	reload_under_load web "$port"
}

@test "reload of an unmodified Python http.server app under load loses no request" {
	port=$(free_port)
	clusterctl start "$EXAMPLES/python/server.py" --name py -i 2 --env PORT=$port
	run curl -sf "http://127.0.0.1:$port/"
	assert_success
	reload_under_load py "$port"
}

@test "a crashed instance of a shared-socket app: the others keep answering" {
	port=$(free_port)
	clusterctl start "$EXAMPLES/node/server.js" --name web -i 2 \
		--env PORT=$port --restart-delay 60000
	wait_until 20 all_status web online
	dead=$(pid_of web 0)
	live=$(pid_of web 1)
	kill -9 "$dead"
	wait_until 20 status_is web 0 waiting
	# The port stays open (the daemon holds it): nothing is refused.
	for i in $(seq 30); do
		run curl -sf "http://127.0.0.1:$port/"
		assert_success
		assert_output "pid $live"
	done
}

@test "--listen passes sockets the systemd way and LISTEN_PID is the instance" {
	port=$(free_port)
	run clusterctl start "$FIXTURES/listen_fds.py" --name fds -i 2 \
		--listen "http=127.0.0.1:$port" --env OUT="$BATS_TEST_TMPDIR/seen" \
		--listen-timeout 0
	assert_success
	wait_until 20 test -e "$BATS_TEST_TMPDIR/seen.1"
	for i in 0 1; do
		wait_until 20 test -s "$BATS_TEST_TMPDIR/seen.$i"
		read -r verdict names lpid <"$BATS_TEST_TMPDIR/seen.$i"
		[ "$verdict" = good ]
		[ "$names" = http ]
		[ "$lpid" = "$(pid_of fds $i)" ]
	done
	run curl -sf "http://127.0.0.1:$port/"
	assert_success
	assert_output --partial "pid "
}

@test "the C example serves --listen sockets and says READY=1 and STATUS=" {
	port=$(free_port)
	run clusterctl start "$(dirname "$CLUSTERCTL_BIN")/examples/server" \
		--name c -i 2 --listen "$port" --listen-timeout 60s
	assert_success
	run clusterctl list --json
	[ "$(echo "$output" | json_get "[r['status'] for r in d]")" = "['online', 'online']" ]
	run curl -sf "http://127.0.0.1:$port/"
	assert_success
	run clusterctl describe c --json
	assert_output --partial '"status_text": "serving"'
}

@test "a busy port, a malformed --listen: clear errors before anything starts" {
	port=$(free_port)
	python3 -c 'import socket,sys,time
s=socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
open(sys.argv[2], "w").close(); time.sleep(120)' "$port" "$BATS_TEST_TMPDIR/held" &
	holder=$!
	wait_until 10 test -e "$BATS_TEST_TMPDIR/held"
	run clusterctl start /bin/sleep --name busy --listen "127.0.0.1:$port" -- 100
	assert_failure 1
	assert_output "clusterctl: cannot listen on '127.0.0.1:$port': Address already in use"
	run clusterctl start /bin/sleep --name bad --listen "nonsense:x" -- 100
	assert_failure 2
	assert_output --partial "invalid --listen 'nonsense:x'"
	run clusterctl list --json
	assert_output "[]"
}

@test "a shared bind of a busy port fails in the app with EADDRINUSE" {
	port=$(free_port)
	python3 -c 'import socket,sys,time
s=socket.socket(socket.AF_INET6); s.bind(("::", int(sys.argv[1]))); s.listen()
open(sys.argv[2], "w").close(); time.sleep(120)' "$port" "$BATS_TEST_TMPDIR/held" &
	holder=$!
	wait_until 10 test -e "$BATS_TEST_TMPDIR/held"
	run clusterctl start "$EXAMPLES/node/server.js" --name web --env PORT=$port
	assert_failure 6
	grep -q EADDRINUSE "$CLUSTERCTL_HOME/logs/web-err-0.log"
}

@test "--no-share: fork mode, instances bind alone and collide" {
	port=$(free_port)
	run clusterctl start "$EXAMPLES/node/server.js" --name web -i 2 \
		--env PORT=$port --no-share --no-wait
	assert_success
	run clusterctl list --json
	[ "$(echo "$output" | json_get "sorted(set(r['mode'] for r in d))")" = "['fork']" ]
	# One of the two finds the port taken: nobody shares it.
	wait_until 20 grep -qs EADDRINUSE "$CLUSTERCTL_HOME/logs/web-err-0.log" \
		"$CLUSTERCTL_HOME/logs/web-err-1.log"
}

@test "sd_notify readiness: a slow-to-ready replacement holds the reload" {
	gate="$BATS_TEST_TMPDIR/gate"
	touch "$gate"
	run clusterctl start "$FIXTURES/notify_app.py" --name slow \
		--env GATE="$gate" --listen-timeout 60s
	assert_success
	run clusterctl describe slow --json
	assert_output --partial '"status_text": "serving"'
	old=$(pid_of slow 0)
	rm "$gate"
	clusterctl reload slow >"$BATS_TEST_TMPDIR/reload.out" 2>&1 &
	rl=$!
	# The replacement is launching (waiting for the gate), the old
	# instance still online: two rows, the old one serving.
	wait_until 20 grep -q started "$BATS_TEST_TMPDIR/reload.out"
	run clusterctl list --json
	[ "$(echo "$output" | json_get "sorted(r['status'] for r in d)")" = "['launching', 'online']" ]
	alive "$old"
	# A second reload of the same app meanwhile is refused, clearly.
	run clusterctl reload slow
	assert_failure 1
	assert_output "clusterctl: a reload of 'slow' is running already"
	run clusterctl scale slow 2
	assert_failure 1
	! grep -q ready "$BATS_TEST_TMPDIR/reload.out"
	touch "$gate"
	wait "$rl"
	sed 's/^/# /' "$BATS_TEST_TMPDIR/reload.out" >&3
	# Ready first, then the old one stopped.
	run grep -n -e 'is ready' -e 'stopped' "$BATS_TEST_TMPDIR/reload.out"
	assert_line --index 0 --partial "is ready"
	assert_line --index 1 --partial "old pid $old stopped"
	[ "$(pid_of slow 0)" != "$old" ]
	[ "$(status_of slow 0)" = online ]
}

@test "a failing replacement stops the reload; the old instances keep serving" {
	port=$(free_port)
	clusterctl start "$FIXTURES/crash_if.js" --name web -i 2 \
		--env PORT=$port --env FAIL="$BATS_TEST_TMPDIR/fail"
	before=$(pids web)
	touch "$BATS_TEST_TMPDIR/fail"
	run clusterctl reload web
	assert_failure 6
	assert_output --partial "reload stopped: web:0 exited with code 3 before it was ready"
	wait_until 20 rows_are 2
	[ "$(pids web)" = "$before" ]
	all_status web online
	for i in $(seq 10); do
		run curl -sf "http://127.0.0.1:$port/"
		assert_success
	done
	# --force goes on, and says what failed.
	run clusterctl reload web --force
	assert_failure 6
	assert_output --partial "reload finished with 2 failures"
}

@test "reload works for apps without sockets (start before stop)" {
	clusterctl start /bin/sleep --name nap -i 3 --listen-timeout 0 -- 1000
	before=$(pids nap)
	run clusterctl reload nap --parallel 2
	assert_success
	assert_output --partial "reloaded: 3 instances replaced"
	for p in $before; do
		[[ " $(pids nap) " != *" $p "* ]]
		! alive "$p"
	done
	all_status nap online
	# Each replacement says why it was started.
	clusterctl list --json |
		json_get "all(r['restart_reason']=='reload' for r in d if r['name']=='nap')" |
		grep -qx True
}

@test "--wait-ready: a Node app is online once it calls process.send('ready')" {
	gate="$BATS_TEST_TMPDIR/gate"
	run clusterctl start "$FIXTURES/ready_send.js" --name rs --wait-ready \
		--listen-timeout 60s --env GATE="$gate" --no-wait
	assert_success
	wait_until 20 has_pid rs 0
	[ "$(status_of rs 0)" = launching ]
	touch "$gate"
	wait_until 20 status_is rs 0 online
}

@test "scale up takes the lowest free numbers, scale down stops the highest" {
	clusterctl start /bin/sleep --name nap --listen-timeout 0 -- 1000
	first=$(pid_of nap 0)
	run clusterctl scale nap 3
	assert_success
	[ "$(clusterctl list --json | json_get "[r['instance'] for r in d]")" = "[0, 1, 2]" ]
	all_status nap online
	two=$(pid_of nap 2)
	run clusterctl scale nap -1
	assert_success
	[ "$(clusterctl list --json | json_get "[r['instance'] for r in d]")" = "[0, 1]" ]
	! alive "$two"
	run clusterctl scale nap +2
	assert_success
	[ "$(clusterctl list --json | json_get "[r['instance'] for r in d]")" = "[0, 1, 2, 3]" ]
	run clusterctl scale nap 1
	assert_success
	[ "$(clusterctl list --json | json_get "[r['instance'] for r in d]")" = "[0]" ]
	[ "$(pid_of nap 0)" = "$first" ]
	run clusterctl scale nap 0
	assert_failure 2
	run clusterctl scale nap x
	assert_failure 2
}

@test "the daemon closes an app's shared socket when the app is stopped" {
	port=$(free_port)
	clusterctl start "$EXAMPLES/node/server.js" --name web --env PORT=$port
	run curl -sf "http://127.0.0.1:$port/"
	assert_success
	clusterctl stop web
	run curl -s "http://127.0.0.1:$port/"
	assert_failure
	# And a restart binds it again.
	clusterctl restart web
	run curl -sf "http://127.0.0.1:$port/"
	assert_success
}

@test "--listen with names, a Unix socket and a TCP one: LISTEN_FDNAMES in order" {
	port=$(free_port)
	sock="$BATS_TEST_TMPDIR/srv.sock"
	run clusterctl start "$(dirname "$CLUSTERCTL_BIN")/examples/server" \
		--name c --listen "web=127.0.0.1:$port" --listen "admin=unix:$sock"
	assert_success
	pid=$(pid_of c 0)
	tr '\0' '\n' <"/proc/$pid/environ" | grep -qx "LISTEN_FDNAMES=web:admin"
	tr '\0' '\n' <"/proc/$pid/environ" | grep -qx "LISTEN_FDS=2"
	tr '\0' '\n' <"/proc/$pid/environ" | grep -qx "PORT=$port"
	run curl -sf --unix-socket "$sock" http://x/
	assert_success
	assert_output "pid $pid"
	run curl -sf "http://127.0.0.1:$port/"
	assert_output "pid $pid"
	clusterctl delete c
	[ ! -e "$sock" ]
}

@test "reload all replaces the instances of every app" {
	clusterctl start /bin/sleep --name a --listen-timeout 0 -- 1000
	clusterctl start /bin/sleep --name b -i 2 --listen-timeout 0 -- 1000
	before="$(pids a) $(pids b)"
	run clusterctl reload all
	assert_success
	assert_output --partial "reloaded: 3 instances replaced"
	after="$(pids a) $(pids b)"
	for p in $before; do
		[[ " $after " != *" $p "* ]]
	done
}

@test "STOPPING=1: the instance shows stopping, then its exit is restarted" {
	run clusterctl start "$FIXTURES/stopping_app.py" --name st \
		--env GATE="$BATS_TEST_TMPDIR/g1" --env GATE2="$BATS_TEST_TMPDIR/g2" \
		--listen-timeout 60s --kill-timeout 60s --restart-delay 0
	assert_success
	first=$(pid_of st 0)
	touch "$BATS_TEST_TMPDIR/g1"
	wait_until 20 status_is st 0 stopping
	alive "$first"
	touch "$BATS_TEST_TMPDIR/g2"
	wait_until 20 status_is st 0 online
	[ "$(pid_of st 0)" != "$first" ]
}

@test "--wait-ready: a replacement without a ready signal fails the reload" {
	run clusterctl start "$FIXTURES/ready_send.js" --name rs --wait-ready \
		--listen-timeout 300 --env GATE="$BATS_TEST_TMPDIR/never"
	assert_success
	old=$(pid_of rs 0)
	run clusterctl reload rs
	assert_failure 6
	assert_output --partial "rs:0 sent no ready signal within 300 ms"
	wait_until 20 rows_are 1
	[ "$(pid_of rs 0)" = "$old" ]
	[ "$(status_of rs 0)" = online ]
}
