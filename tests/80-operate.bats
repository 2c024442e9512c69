#!/usr/bin/env bats
# Operating live apps: signal, send, metrics, monit.

load helpers

local_teardown() {
	[ -n "$holder" ] && kill "$holder" 2>/dev/null
	[ -n "$loader" ] && kill "$loader" 2>/dev/null
	[ -S "$BATS_TEST_TMPDIR/tmux" ] && tmux -S "$BATS_TEST_TMPDIR/tmux" kill-server 2>/dev/null
	return 0
}

# In a real terminal: tmux on its own socket, 80x24.
tm() {
	tmux -S "$BATS_TEST_TMPDIR/tmux" "$@"
}

# monit_start: clusterctl monit in an 80x24 tmux pane; its exit status is
# printed as EXIT=N when it ends.
monit_start() {
	tm new-session -d -x 80 -y 24 -s "${SES:-t}" \
		"$CLUSTERCTL_BIN monit $*; echo EXIT=\$?; sleep 60"
}

# screen_has TEXT: the pane shows TEXT now.
screen_has() {
	tm capture-pane -p -t "${SES:-t}" | grep -qF -- "$1"
}

# lines_in FILE PATTERN N: FILE has N lines matching PATTERN.
lines_in() {
	[ "$(grep -c -- "$2" "$1" 2>/dev/null)" = "$3" ]
}

@test "signal delivers to every instance and names the pids" {
	clusterctl start "$FIXTURES/listener.js" -i 2 --name api \
		--env OUT="$BATS_TEST_TMPDIR/o"
	wait_until 10 all_status api online
	run clusterctl signal SIGUSR2 api
	assert_success
	assert_output --partial "api:0  pid $(pid_of api 0)  SIGUSR2 sent"
	assert_output --partial "api:1  pid $(pid_of api 1)  SIGUSR2 sent"
	wait_until 10 lines_in "$BATS_TEST_TMPDIR/o-0" SIGUSR2 1
	wait_until 10 lines_in "$BATS_TEST_TMPDIR/o-1" SIGUSR2 1
	# One instance by name:N, and a number for the signal.
	run clusterctl signal 12 api:1 --json
	assert_success
	[ "$(echo "$output" | json_get "[r['pid'] for r in d['done']]")" = "[$(pid_of api 1)]" ]
	wait_until 10 lines_in "$BATS_TEST_TMPDIR/o-1" SIGUSR2 2
	lines_in "$BATS_TEST_TMPDIR/o-0" SIGUSR2 1
}

@test "signal: a stopped instance is reported, an unknown signal refused" {
	clusterctl start "$FIXTURES/listener.js" -i 2 --name api \
		--env OUT="$BATS_TEST_TMPDIR/o"
	clusterctl stop api:0
	run clusterctl signal USR2 api
	assert_success
	assert_output --partial "api:0  stopped: not sent (not running)"
	run clusterctl signal USR2 api:0
	assert_failure 6
	assert_output --partial "SIGUSR2 reached no instance: api:0 is stopped"
	run clusterctl signal SIGNOPE api
	assert_failure 2
	assert_output --partial "unknown signal 'SIGNOPE'"
	run clusterctl signal USR2 nosuch
	assert_failure 3
}

@test "send: every Node instance gets the message on process.on('message')" {
	clusterctl start "$FIXTURES/listener.js" -i 3 --name api \
		--env OUT="$BATS_TEST_TMPDIR/o"
	# process.send exists without --wait-ready, and 'ready' works.
	for i in 0 1 2; do
		grep -qx 'channel function' "$BATS_TEST_TMPDIR/o-$i"
	done
	run clusterctl send api '{"type":"refresh"}'
	assert_success
	assert_output --partial "api:2  pid $(pid_of api 2)  message sent on ipc"
	for i in 0 1 2; do
		wait_until 10 lines_in "$BATS_TEST_TMPDIR/o-$i" 'message {"type":"refresh"}' 1
	done
	# Text that is not JSON goes as a string.
	clusterctl send api:1 hello
	wait_until 10 lines_in "$BATS_TEST_TMPDIR/o-1" 'message "hello"' 1
	lines_in "$BATS_TEST_TMPDIR/o-0" hello 0
}

@test "send: stdin lines only when asked; an app without a channel is an error" {
	clusterctl start "$FIXTURES/stdin_lines.sh" -i 2 --name sh \
		--env OUT="$BATS_TEST_TMPDIR/s" --stdin-messages --listen-timeout 0
	run clusterctl send sh 'hi there'
	assert_success
	assert_output --partial "sh:1  pid $(pid_of sh 1)  message sent on stdin"
	clusterctl send sh '{"a":1}'
	for i in 0 1; do
		wait_until 10 lines_in "$BATS_TEST_TMPDIR/s-$i" '^line hi there$' 1
		wait_until 10 lines_in "$BATS_TEST_TMPDIR/s-$i" '^line {"a":1}$' 1
	done
	clusterctl start "$FIXTURES/env.sh" --name plain --listen-timeout 0 -- "$BATS_TEST_TMPDIR"
	run clusterctl send plain x
	assert_failure 2
	assert_output --partial "'plain' has no message channel"
	run clusterctl describe sh --json
	[ "$(echo "$output" | json_get "d[0]['stdin_messages']")" = True ]
}

# scrape URL OUT: fetch URL, check it parses with prometheus_client's
# parser, and write "name{labels} value" lines to OUT.
scrape() {
	/usr/bin/python3 - "$1" >"$2" <<'PY'
import sys, urllib.request
from prometheus_client.parser import text_string_to_metric_families
r = urllib.request.urlopen(sys.argv[1], timeout=10)
assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4"), r.headers["Content-Type"]
for fam in text_string_to_metric_families(r.read().decode()):
    for s in fam.samples:
        labels = ",".join("%s=%s" % kv for kv in sorted(s.labels.items()))
        print("%s{%s} %s" % (s.name, labels, s.value))
PY
}

# value FILE SERIES: the value of one series from a scrape() file.
value() {
	awk -v k="$2" '$1 == k { print $2 }' "$1"
}

@test "metrics: a scrape parses as Prometheus text and counters only grow across restarts" {
	port=$(free_port)
	clusterctl start "$FIXTURES/listener.js" -i 2 --name api \
		--env OUT="$BATS_TEST_TMPDIR/o" --metrics "127.0.0.1:$port"
	m="$BATS_TEST_TMPDIR/m"
	scrape "http://127.0.0.1:$port/metrics" "$m.1"
	[ "$(value "$m.1" 'clusterctl_instance_up{app=api,instance=1}')" = 1.0 ]
	[ "$(value "$m.1" 'clusterctl_instance_status{app=api,instance=0,status=online}')" = 1.0 ]
	[ "$(value "$m.1" 'clusterctl_app_instances_desired{app=api}')" = 2.0 ]
	[ "$(value "$m.1" 'clusterctl_app_instances_online{app=api}')" = 2.0 ]
	[ "$(value "$m.1" 'clusterctl_daemon_clients{}')" != "" ]
	[ "$(value "$m.1" 'clusterctl_instance_memory_bytes{app=api,instance=0}')" != 0.0 ]
	grep -q '^clusterctl_instance_cpu_seconds_total{app=api,instance=0}' "$m.1"
	grep -q '^clusterctl_log_written_lines_total{}' "$m.1"
	grep -q '^clusterctl_daemon_open_fds{}' "$m.1"
	r1=$(value "$m.1" 'clusterctl_instance_restarts_total{app=api,instance=0,reason=crash}')
	c1=$(value "$m.1" 'clusterctl_instance_cpu_seconds_total{app=api,instance=0}')
	# A crash: the restart counter grows, the CPU counter does not drop.
	old=$(pid_of api 0)
	kill -9 "$old"
	wait_until 20 eval '[ "$(pid_of api 0)" != "$old" ] && [ "$(status_of api 0)" = online ]'
	scrape "http://127.0.0.1:$port/metrics" "$m.2"
	r2=$(value "$m.2" 'clusterctl_instance_restarts_total{app=api,instance=0,reason=crash}')
	c2=$(value "$m.2" 'clusterctl_instance_cpu_seconds_total{app=api,instance=0}')
	/usr/bin/python3 -c "import sys; a,b,c,d=map(float,sys.argv[1:]); assert b==a+1 and d>=c, sys.argv" "$r1" "$r2" "$c1" "$c2"
	# A manual restart counts under its own reason.
	clusterctl restart api:1
	scrape "http://127.0.0.1:$port/metrics" "$m.3"
	[ "$(value "$m.3" 'clusterctl_instance_restarts_total{app=api,instance=1,reason=manual}')" = 1.0 ]
	[ "$(value "$m.3" 'clusterctl_instance_restarts_total{app=api,instance=0,reason=crash}')" = "$r2" ]
	# The CLI prints the same text.
	run clusterctl metrics
	assert_success
	assert_output --partial 'clusterctl_instance_up{app="api",instance="0"} 1'
	run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/nope"
	assert_output 404
}

@test "metrics: restart and CPU counters and the endpoints survive a daemon killed with -9" {
	port=$(free_port)
	hport=$(free_port)
	clusterctl start 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; exec sleep 1000' \
		--name burn --listen-timeout 0 --metrics "127.0.0.1:$port" \
		--health "127.0.0.1:$hport"
	clusterctl restart burn
	clusterctl restart burn
	wait_until 30 eval '[ "$(cat /proc/$(pid_of burn 0)/comm)" = sleep ]'
	m="$BATS_TEST_TMPDIR/m"
	scrape "http://127.0.0.1:$port/metrics" "$m.1"
	[ "$(value "$m.1" 'clusterctl_instance_restarts_total{app=burn,instance=0,reason=manual}')" = 2.0 ]
	c1=$(value "$m.1" 'clusterctl_instance_cpu_seconds_total{app=burn,instance=0}')
	/usr/bin/python3 -c "import sys; assert float(sys.argv[1]) > 0" "$c1"
	daemon=$(cat "$CLUSTERCTL_HOME/daemon.pid")
	kill -9 "$daemon"
	# The keeper's next daemon serves the same address, nobody asking.
	wait_until 20 eval '[ "$(cat "$CLUSTERCTL_HOME/daemon.pid" 2>/dev/null)" != "$daemon" ]'
	wait_until 20 curl -sf -o /dev/null "http://127.0.0.1:$port/metrics"
	wait_until 20 curl -sf -o /dev/null "http://127.0.0.1:$hport/livez"
	wait_until 30 all_status burn online
	scrape "http://127.0.0.1:$port/metrics" "$m.2"
	[ "$(value "$m.2" 'clusterctl_instance_restarts_total{app=burn,instance=0,reason=manual}')" = 2.0 ]
	[ "$(value "$m.2" 'clusterctl_instance_restarts_total{app=burn,instance=0,reason=restore}')" = 1.0 ]
	c2=$(value "$m.2" 'clusterctl_instance_cpu_seconds_total{app=burn,instance=0}')
	/usr/bin/python3 -c "import sys; a, b = map(float, sys.argv[1:]); assert b >= a, sys.argv" "$c1" "$c2"
	grep -q "metrics on http://127.0.0.1:$port/metrics" "$CLUSTERCTL_HOME/daemon.log"
	# A clean kill forgets them, as it forgets the apps.
	clusterctl kill >/dev/null
	run clusterctl metrics --json
	[ "$(echo "$output" | json_get "d['listen']")" = None ]
}

@test "metrics: off by default, a bad or busy address is refused, off stops it" {
	port=$(free_port)
	run clusterctl metrics --json
	assert_success
	[ "$(echo "$output" | json_get "d['listen']")" = None ]
	run clusterctl metrics --listen nope
	assert_failure
	assert_output --partial "invalid metrics address 'nope'"
	python3 -c 'import socket,sys,time; s=socket.socket(); s.bind(("127.0.0.1",int(sys.argv[1]))); s.listen(); open(sys.argv[2],"w").close(); time.sleep(30)' "$port" "$BATS_TEST_TMPDIR/bound" &
	holder=$!
	wait_until 10 test -e "$BATS_TEST_TMPDIR/bound"
	run clusterctl metrics --listen "127.0.0.1:$port"
	assert_failure
	assert_output --partial "Address already in use"
	kill "$holder"; wait "$holder" || true; holder=
	port=$(free_port)
	run clusterctl metrics --listen "$port"
	assert_success
	assert_output "metrics on http://127.0.0.1:$port/metrics"
	curl -sf "http://127.0.0.1:$port/metrics" | grep -q clusterctl_daemon_memory_bytes
	clusterctl metrics --listen off
	run curl -s "http://127.0.0.1:$port/metrics"
	assert_failure
}

@test "health: start --health, CLUSTERCTL_HEALTH and metrics --health; one server with metrics, or two; off" {
	p1=$(free_port)
	CLUSTERCTL_HEALTH=$p1 clusterctl start /bin/sleep --name nap --listen-timeout 0 -q -- 1000
	run curl -s -w ' %{http_code}' "http://127.0.0.1:$p1/readyz"
	assert_output "ready: 1 app, 1 of 1 instance online
 200"
	# Metrics join the same server.
	clusterctl metrics --listen "$p1" -q
	curl -sf "http://127.0.0.1:$p1/metrics" | grep -q clusterctl_daemon_memory_bytes
	curl -sf "http://127.0.0.1:$p1/readyz"
	# Health moves to a server of its own; metrics stay.
	p2=$(free_port)
	run clusterctl metrics --health "$p2"
	assert_output "health on http://127.0.0.1:$p2/readyz and /livez"
	run curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p1/readyz"
	assert_output 404
	curl -sf "http://127.0.0.1:$p1/metrics" >/dev/null
	clusterctl stop nap -q
	run curl -s -w ' %{http_code}' "http://127.0.0.1:$p2/readyz"
	assert_output --partial "not ready: nap:0 is stopped"
	assert_output --partial " 503"
	p3=$(free_port)
	# A process file's start sets it too.
	echo '{"apps": [{"name": "other", "script": "/bin/sleep", "args": ["1000"]}]}' > eco.json
	clusterctl start eco.json --health "$p3" -q
	curl -sf "http://127.0.0.1:$p3/livez"
	run curl -s "http://127.0.0.1:$p2/livez"
	assert_failure
	run clusterctl metrics --json
	[ "$(echo "$output" | json_get "d['health']")" = "127.0.0.1:$p3" ]
	run clusterctl metrics --health nope
	assert_failure
	assert_output --partial "invalid health address 'nope'"
	clusterctl metrics --health off -q
	run curl -s "http://127.0.0.1:$p3/livez"
	assert_failure
	curl -sf "http://127.0.0.1:$p1/metrics" >/dev/null
}

@test "monit: in a terminal, keys act and the screen shows the change; q restores the terminal" {
	clusterctl start "$FIXTURES/listener.js" -i 2 --name api \
		--env OUT="$BATS_TEST_TMPDIR/o"
	p0=$(pid_of api 0)
	p1=$(pid_of api 1)
	monit_start
	wait_until 10 screen_has "api:1"
	wait_until 10 screen_has "$p1"
	screen_has "up/down select"
	# The log pane follows the selected app.
	clusterctl send api '{"hello":1}'
	wait_until 10 screen_has 'got {"hello":1}'
	# Down, r: api:1 restarts, and the screen shows its new pid.
	tm send-keys -t t Down r
	wait_until 20 eval '[ "$(pid_of api 1)" != "$p1" ] && [ "$(pid_of api 1)" != None ]'
	wait_until 10 screen_has "$(pid_of api 1)"
	[ "$(pid_of api 0)" = "$p0" ]
	# +: one more instance.
	tm send-keys -t t +
	wait_until 20 screen_has "api:2"
	wait_until 20 all_status api online
	# K, a signal name, Enter: the selected instance gets it.
	tm send-keys -t t K
	wait_until 10 screen_has "signal to api:1: SIG_"
	tm send-keys -t t USR2 Enter
	wait_until 10 lines_in "$BATS_TEST_TMPDIR/o-1" SIGUSR2 1
	wait_until 10 screen_has "SIGUSR2 to api:1: sent to pid"
	# x: stop it.
	tm send-keys -t t x
	wait_until 20 screen_has "stopped"
	[ "$(status_of api 1)" = stopped ]
	# s cycles the sort.
	tm send-keys -t t s
	wait_until 10 screen_has "sorted by cpu"
	tm send-keys -t t q
	wait_until 10 screen_has "EXIT=0"
	! screen_has "clusterctl monit"
	[ "$(tm display -p -t t '#{alternate_on}')" = 0 ]
}

@test "monit: Ctrl-C and the daemon going away end it with the terminal restored" {
	clusterctl start "$FIXTURES/listener.js" --name api \
		--env OUT="$BATS_TEST_TMPDIR/o"
	monit_start
	wait_until 10 screen_has "api:0"
	tm send-keys -t t C-c
	wait_until 10 screen_has "EXIT=130"
	[ "$(tm display -p -t t '#{alternate_on}')" = 0 ]
	SES=t2
	monit_start
	wait_until 10 screen_has "api:0"
	clusterctl kill
	wait_until 10 screen_has "EXIT=4"
	screen_has "clusterctl: the daemon went away"
	[ "$(tm display -p -t t2 '#{alternate_on}')" = 0 ]
}

@test "monit refuses without a terminal; --once prints one frame" {
	clusterctl start "$FIXTURES/listener.js" -i 2 --name api \
		--env OUT="$BATS_TEST_TMPDIR/o"
	run clusterctl monit </dev/null
	assert_failure 1
	assert_output --partial "monit needs a terminal"
	run clusterctl monit --once --sort memory
	assert_success
	assert_line --partial "sorted by memory"
	assert_output --partial "api:0"
	assert_output --partial "$(pid_of api 1)"
	run clusterctl monit --once --sort nope
	assert_failure 2
}

@test "--max-memory-restart: an instance whose tree grows past the limit is replaced by a reload, reason memory, no request fails" {
	port=$(free_port)
	clusterctl start "$FIXTURES/grow_server.py" -i 2 --name web \
		--max-memory-restart 60M --env PORT="$port" \
		--env GATE="$BATS_TEST_TMPDIR/grow"
	run clusterctl describe web --json
	[ "$(echo "$output" | json_get "d[0]['max_memory_restart']")" = 60M ]
	p0=$(pid_of web 0)
	p1=$(pid_of web 1)
	python3 "$FIXTURES/load.py" "$port" "$BATS_TEST_TMPDIR/load" \
		"$BATS_TEST_TMPDIR/load.stop" &
	loader=$!
	wait_until 20 test -e "$BATS_TEST_TMPDIR/load.started"
	# web:0 starts a child holding 80 MB: its tree is over the limit.
	touch "$BATS_TEST_TMPDIR/grow.$p0"
	wait_until 30 eval '[ "$(pid_of web 0)" != "$p0" ] && [ "$(status_of web 0)" = online ]'
	new=$(pid_of web 0)
	echo "$new" >"$BATS_TEST_TMPDIR/load.stop"
	wait "$loader"
	loader=
	[ "$(json_get "d['failed']" <"$BATS_TEST_TMPDIR/load")" = 0 ]
	[ "$(pid_of web 1)" = "$p1" ]
	grep -q "web:0 memory .* is over max_memory_restart 60.0M: replacing it" \
		"$CLUSTERCTL_HOME/daemon.log"
	grep -q "reload web:0 (memory): old pid $p0 stopped" "$CLUSTERCTL_HOME/daemon.log"
	run clusterctl list --json
	[ "$(echo "$output" | json_get "[r['restart_reason'] for r in d if r['instance']==0][0]")" = memory ]
	run clusterctl metrics
	assert_output --partial 'clusterctl_instance_restarts_total{app="web",instance="0",reason="memory"} 1'
	# Changed on the running app: removed, then refused when invalid.
	clusterctl set web --max-memory-restart 0
	run clusterctl describe web --json
	[ "$(echo "$output" | json_get "d[0].get('max_memory_restart')")" = None ]
	run clusterctl set web --max-memory-restart lots
	assert_failure 2
	run clusterctl set web:0 --max-memory-restart 1G
	assert_failure 2
	assert_output --partial "set takes apps"
}

# reloads_are N: the daemon log has N watch reloads.
reloads_are() {
	[ "$(grep -c "changed: reloading" "$CLUSTERCTL_HOME/daemon.log")" = "$1" ]
}

# replaced_all NAME: every instance of NAME has a pid not in $before.
replaced_all() {
	local p
	for p in $(clusterctl list --json | json_get "' '.join(str(r['pid']) for r in d if r['name']=='$1')"); do
		case " $before " in *" $p "*) return 1 ;; esac
	done
	all_status "$1" online
}

@test "--watch: one save gives one reload of every instance; ignored paths and the app's own log do not" {
	mkdir -p app/src app/uploads app/node_modules app/.git
	cp "$FIXTURES/ticker.sh" app/
	cd app
	# The app writes its log inside the watched directory all along.
	clusterctl start ./ticker.sh -i 2 --name w --watch --ignore-watch 'uploads/*' \
		--watch-delay 300 -o "$PWD/out.log" --listen-timeout 0
	wait_until 10 grep -q "w: watching '$PWD'" "$CLUSTERCTL_HOME/daemon.log"
	before=$(clusterctl list --json | json_get "' '.join(str(r['pid']) for r in d)")
	# An editor's save: several events on one file.
	echo a >src/main.sh; echo b >>src/main.sh; mv src/main.sh src/main2.sh
	wait_until 20 replaced_all w
	wait_until 10 reloads_are 1
	grep -q "w: '$PWD/src/main.sh' changed: reloading" "$CLUSTERCTL_HOME/daemon.log"
	grep -q "reload w:1 (watch): old pid" "$CLUSTERCTL_HOME/daemon.log"
	# Ignored paths first, then a watched one: the reload names the
	# watched one, and it is the second and last.
	touch uploads/photo.jpg node_modules/x.js .git/index
	before=$(clusterctl list --json | json_get "' '.join(str(r['pid']) for r in d)")
	mkdir src/lib
	touch src/lib/new.sh
	wait_until 20 replaced_all w
	wait_until 10 reloads_are 2
	grep -q "w: '$PWD/src/lib' changed: reloading" "$CLUSTERCTL_HOME/daemon.log"
	! grep -q "uploads\|node_modules\|\.git\|out.log" <(grep "changed: reloading" "$CLUSTERCTL_HOME/daemon.log")
	run clusterctl list --json
	[ "$(echo "$output" | json_get "set(r['restart_reason'] for r in d)")" = "{'watch'}" ]
	# Off on the running app: a change does nothing more.
	clusterctl set w --no-watch
	run clusterctl describe w --json
	[ "$(echo "$output" | json_get "d[0]['watching']")" = None ]
}

@test "--watch: at the inotify watch limit the daemon names the sysctl and the app keeps running" {
	# The limit (fs.inotify.max_user_watches) is global and root's: a
	# shim makes inotify_add_watch fail with ENOSPC after two watches.
	cc -shared -fPIC -O1 -o "$BATS_TEST_TMPDIR/inotify_limit.so" \
		"$FIXTURES/inotify_limit.c" -ldl
	mkdir -p app/a app/b app/c
	cp "$FIXTURES/ticker.sh" app/
	cd app
	LD_PRELOAD="$BATS_TEST_TMPDIR/inotify_limit.so" INOTIFY_LIMIT_AFTER=2 \
		ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
		clusterctl start ./ticker.sh --name w --watch --listen-timeout 0
	wait_until 10 grep -q "w: cannot watch '$PWD/[abc]': the inotify watch limit is reached; raise it with 'sysctl fs.inotify.max_user_watches=524288' (the app keeps running, watched in part)" \
		"$CLUSTERCTL_HOME/daemon.log"
	[ "$(grep -c 'inotify watch limit' "$CLUSTERCTL_HOME/daemon.log")" = 1 ]
	all_status w online
	run clusterctl describe w --json
	[ "$(echo "$output" | json_get "d[0]['watching']['directories']")" = 2 ]
}

@test "--watch takes its paths as pm2 does: the next word, repeated, or after =" {
	mkdir -p src lib
	clusterctl start /bin/sleep --name a --no-wait --watch src --watch lib -- 1000
	clusterctl start /bin/sleep --name b --no-wait --watch=src,lib -- 1000
	clusterctl start /bin/sleep --name c --no-wait --watch -- 1000
	clusterctl start /bin/sleep --watch --name d --no-wait -- 1000
	run clusterctl describe all --json
	[ "$(echo "$output" | json_get "[a['watch'] for a in d]")" = "[['src', 'lib'], ['src', 'lib'], True, True]" ]
	# Before the program it takes the program, as pm2's does: said so.
	run clusterctl start --watch /bin/sleep
	assert_failure 2
	assert_output --partial "--watch took '/bin/sleep' as its value, as pm2 does: put it after the program, or write --watch=VALUE"
}

# ran_times N: the batch job ran N times.
ran_times() {
	[ "$(wc -l <"$BATS_TEST_TMPDIR/batch.out")" = "$1" ]
}

@test "--cron-restart: at a match the app is reloaded, a batch job that exited runs again; describe shows the next run" {
	# A test clock: the daemon's time is 6 s before a minute whose
	# hour and minute the rule names.
	read -r off rule <<<"$(python3 -c '
import time
now = time.time(); target = (int(now) // 60 + 5) * 60
t = time.localtime(target)
print(int((target - 6 - now) * 1000), "%d %d * * *" % (t.tm_min, t.tm_hour))')"
	export CLUSTERCTL_TEST_CLOCK_OFFSET_MS=$off
	clusterctl start "$FIXTURES/batch.sh" --name batch --no-autorestart --no-wait \
		--cron-restart "$rule" --listen-timeout 0 -- "$BATS_TEST_TMPDIR/batch.out"
	clusterctl start "$FIXTURES/ticker.sh" -i 2 --name tk --cron-restart "$rule" \
		--listen-timeout 0
	wait_until 10 ran_times 1
	before=$(clusterctl list --json | json_get "' '.join(str(r['pid']) for r in d if r['name']=='tk')")
	run clusterctl describe tk
	assert_output --partial "cron restart   $rule, next "
	run clusterctl describe tk --json
	[ "$(echo "$output" | json_get "d[0]['cron_restart']")" = "$rule" ]
	[ "$(echo "$output" | json_get "type(d[0]['cron_next']).__name__")" = int ]
	wait_until 20 ran_times 2
	wait_until 20 replaced_all tk
	grep -qF "tk: cron '$rule': reloading 2 instances" "$CLUSTERCTL_HOME/daemon.log"
	grep -qF "batch: cron '$rule': reloading 0 instances, starting 1 that had exited" \
		"$CLUSTERCTL_HOME/daemon.log"
	run clusterctl list --json
	[ "$(echo "$output" | json_get "sorted(set(r['restart_reason'] for r in d if r['name']=='tk'))")" = "['cron']" ]
	run clusterctl metrics
	assert_output --partial 'clusterctl_instance_restarts_total{app="tk",instance="1",reason="cron"} 1'
	# Refused when invalid, removable on the running app.
	run clusterctl start "$FIXTURES/ticker.sh" --name bad --cron-restart '61 * * * *'
	assert_failure 2
	assert_output --partial "bad minute field '61'"
	run clusterctl set tk --cron-restart '* * * *'
	assert_failure 2
	clusterctl set tk --cron-restart none
	run clusterctl describe tk --json
	[ "$(echo "$output" | json_get "d[0]['cron_next']")" = None ]
}
