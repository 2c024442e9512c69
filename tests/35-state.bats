#!/usr/bin/env bats
# The desired state on disk (state.json), its restore after the daemon's
# death, and save / resurrect (dump.json).  docs/state.md.

load helpers

# state_get EXPR: evaluate EXPR on state.json (as d).
state_get() {
	json_get "$1" < "$CLUSTERCTL_HOME/state.json"
}

# The app options that describe shows, without what changes at each run.
options_of() {
	clusterctl describe "$1" --json | python3 -c '
import json, sys
d = json.load(sys.stdin)[0]
# "spec" is the request as the daemon keeps it: a resurrect sends the
# saved instance count in it (the same count is in "instances").
for k in ("processes", "wait", "spec"):
    d.pop(k, None)
print(json.dumps(d, sort_keys=True))'
}

local_teardown() {
	if mountpoint -q "$BATS_TEST_TMPDIR/fs" 2>/dev/null; then
		timeout 20 "$CLUSTERCTL_BIN" kill >/dev/null 2>&1
		umount -l "$BATS_TEST_TMPDIR/fs"
	fi
}

@test "every change reaches state.json before the reply: start, stop, scale, delete" {
	clusterctl start /bin/sleep --name a -i 2 -- 1000
	[ "$(state_get 'd["format"], d["version"]')" = "('clusterctl-state', 1)" ]
	[ "$(state_get '[(x["name"], x["instances"], x["desired"]) for x in d["apps"]]')" = \
		"[('a', 2, ['running', 'running'])]" ]
	clusterctl stop a:1
	[ "$(state_get 'd["apps"][0]["desired"]')" = "['running', 'stopped']" ]
	clusterctl scale a 3
	[ "$(state_get 'd["apps"][0]["instances"]')" = 3 ]
	clusterctl start /bin/sleep --name b --no-wait -- 1000
	[ "$(state_get '[x["name"] for x in d["apps"]]')" = "['a', 'b']" ]
	clusterctl delete a
	[ "$(state_get '[x["name"] for x in d["apps"]]')" = "['b']" ]
	# Written atomically: no temporary file is left, only owner-readable.
	[ ! -e "$CLUSTERCTL_HOME/state.json.tmp" ]
	[ "$(stat -c %a "$CLUSTERCTL_HOME/state.json")" = 600 ]
}

@test "a crash loop's restart counts reach state.json a moment later; a stop in that moment is written before its reply" {
	# Each crash is not a write with its fsyncs: the counts follow within
	# about a second, what the user changes is on disk before the reply.
	clusterctl start /bin/sh --name loop --restart-delay 0 --listen-timeout 0 \
		--max-restarts 3 -- -c 'sleep 0.2; exit 1'
	wait_until 30 eval '[ "$(clusterctl list --json | json_get "d[0][\"status\"]")" = errored ]'
	wait_until 10 eval '[ "$(state_get "d[\"apps\"][0][\"counters\"][0][\"restarts\"]")" = 3 ]'
	[ "$(state_get 'd["apps"][0]["counters"][0]["restarts_by"]')" = "{'crash': 3}" ]
	clusterctl start /bin/sh --name loop2 --restart-delay 0 --listen-timeout 0 \
		-- -c 'exit 1'
	clusterctl stop loop2
	[ "$(state_get '[x["desired"] for x in d["apps"] if x["name"] == "loop2"]')" = "[['stopped']]" ]
}

@test "the state keeps the environment an app was given, not the daemon's" {
	ONLY_DAEMON=1 clusterctl ping
	ONLY_APP=yes clusterctl start /bin/sleep --name e --env EXTRA=1 -- 1000
	[ "$(state_get 'd["apps"][0]["spec"]["env"].get("ONLY_APP")')" = yes ]
	[ "$(state_get 'd["apps"][0]["spec"]["env"].get("EXTRA")')" = 1 ]
	[ "$(state_get '"ONLY_DAEMON" in d["apps"][0]["spec"]["env"]')" = False ]
}

@test "a full disk: the client and daemon.log say so, the old state stays, the daemon goes on" {
	mkdir "$BATS_TEST_TMPDIR/fs"
	mount -t tmpfs -o size=256k tmpfs "$BATS_TEST_TMPDIR/fs"
	export CLUSTERCTL_HOME="$BATS_TEST_TMPDIR/fs/home"
	clusterctl start /bin/sleep --name small -- 1000
	cp "$CLUSTERCTL_HOME/state.json" "$BATS_TEST_TMPDIR/before.json"
	# Leave a few pages: room for log lines, not for the new state.
	dd if=/dev/zero of="$BATS_TEST_TMPDIR/fs/fill" bs=4k 2>/dev/null || true
	truncate -s -16k "$BATS_TEST_TMPDIR/fs/fill"
	big=$(head -c 60000 /dev/zero | tr '\0' x)
	run clusterctl start /bin/sleep --name big --env "BIG=$big" -- 1000
	assert_failure 1
	assert_output --partial "could not save its state"
	assert_output --partial "No space left on device"
	cmp "$CLUSTERCTL_HOME/state.json" "$BATS_TEST_TMPDIR/before.json"
	[ ! -e "$CLUSTERCTL_HOME/state.json.tmp" ]
	grep -q "cannot save the state.*No space left on device" \
		"$CLUSTERCTL_HOME/daemon.log"
	run clusterctl ping
	assert_success
	# Room again: the next change saves everything, big included.
	rm -f "$BATS_TEST_TMPDIR/fs/fill"
	clusterctl stop big
	[ "$(state_get '[x["name"] for x in d["apps"]]')" = "['small', 'big']" ]
	grep -q "the state is saved again" "$CLUSTERCTL_HOME/daemon.log"
}

@test "a daemon killed by SIGKILL: the next one restores its apps as they were, old processes gone" {
	# Without a keeper: the next command's daemon restores.
	export CLUSTERCTL_NO_KEEPER=1
	clusterctl start /bin/sleep --name up -i 3 -- 1000
	clusterctl start /bin/sleep --name half -i 2 -- 1000
	clusterctl start /bin/sleep --name off -- 1000
	clusterctl start /bin/sleep --name gone -- 1000
	clusterctl stop half:1
	clusterctl stop off
	clusterctl delete gone
	old=$(clusterctl list --json | json_get '" ".join(str(r["pid"]) for r in d if r["pid"])')
	id_off=$(clusterctl list --json | json_get '[r["id"] for r in d if r["name"]=="off"][0]')
	kill -KILL "$(cat "$CLUSTERCTL_HOME/daemon.pid")"
	for p in $old; do wait_until 10 eval "! alive $p"; done
	run clusterctl ping
	assert_success
	assert_output --partial "restored"
	assert_output --partial "up, half, off"
	assert_output --partial "generation 2"
	wait_until 10 all_status up online
	[ "$(clusterctl list --json | json_get '[r["restart_reason"] for r in d if r["name"]=="up"][0]')" = restore ]
	[ "$(status_of half 0)" = online ]
	[ "$(status_of half 1)" = stopped ]
	[ "$(status_of off 0)" = stopped ]
	run clusterctl list --json
	refute_output --partial '"gone"'
	# Same ids, new processes.
	[ "$(clusterctl list --json | json_get '[r["id"] for r in d if r["name"]=="off"][0]')" = "$id_off" ]
	for p in $old; do ! alive "$p"; done
	grep -q "did not exit through 'kill': restored 3 apps (up, half, off)" \
		"$CLUSTERCTL_HOME/daemon.log"
	# Told once, not at every command.
	run clusterctl list
	refute_output --partial "restored"
}

@test "the old generation's leftovers are gone before the restored apps start" {
	export CLUSTERCTL_NO_KEEPER=1
	clusterctl start "$FIXTURES/stubborn.sh" --name kid \
		-- "$BATS_TEST_TMPDIR/child.pid"
	wait_until 10 test -s "$BATS_TEST_TMPDIR/child.pid"
	child=$(cat "$BATS_TEST_TMPDIR/child.pid")
	rm "$BATS_TEST_TMPDIR/child.pid"
	dpid=$(cat "$CLUSTERCTL_HOME/daemon.pid")
	kill -KILL "$dpid"
	# Gone, not dying: a CLI that connects in between reads a reset.
	wait_until 10 eval "! alive $dpid"
	clusterctl ping
	wait_until 10 test -s "$BATS_TEST_TMPDIR/child.pid"
	! alive "$child"
	# The sweep is logged before the restored instance starts.
	swept=$(grep -n "left running by a previous daemon" "$CLUSTERCTL_HOME/daemon.log" | tail -1 | cut -d: -f1)
	started=$(grep -n "kid:0 started" "$CLUSTERCTL_HOME/daemon.log" | tail -1 | cut -d: -f1)
	[ "$swept" -lt "$started" ]
}

@test "a daemon that exited through kill restores nothing" {
	clusterctl start /bin/sleep --name k -- 1000
	clusterctl kill
	run clusterctl list --json
	assert_success
	assert_output "[]"
	[ -e "$CLUSTERCTL_HOME/state.exited.json" ]
}

@test "an unreadable or newer state file is kept aside, never overwritten" {
	mkdir -p "$CLUSTERCTL_HOME"
	chmod 700 "$CLUSTERCTL_HOME"
	echo '{"format": "clusterctl-state", "version": 99, "apps": []}' \
		> "$CLUSTERCTL_HOME/state.json"
	run clusterctl ping
	assert_success
	grep -q "newer clusterctl" "$CLUSTERCTL_HOME/daemon.log"
	grep -q '"version": 99' "$CLUSTERCTL_HOME/state.json.unreadable"
}

@test "save and resurrect: every option of an app comes back, stopped instances stopped" {
	port=$(free_port)
	mkdir "$BATS_TEST_TMPDIR/wd"
	clusterctl start "$FIXTURES/env.sh" --name full -i 2 --interpreter bash \
		--cwd "$BATS_TEST_TMPDIR/wd" --env A=1 --kill-signal SIGTERM \
		--kill-timeout 900 --no-autorestart --restart-delay 300 \
		--exp-backoff-restart-delay 50 --max-backoff 2000 --backoff-reset 4000 \
		--min-uptime 700 --max-restarts 4 --stop-exit-codes 3 \
		--out-file "$BATS_TEST_TMPDIR/o.log" --error-file "$BATS_TEST_TMPDIR/e.log" \
		--log-file "$BATS_TEST_TMPDIR/all.log" --time --log-type json \
		--log-max-size 1M --log-retain 2 --log-compress \
		--listen "web=127.0.0.1:$port" --listen-timeout 0 --no-wait \
		-- "$BATS_TEST_TMPDIR/wd"
	clusterctl start /bin/sleep --name plain --no-share --merge-logs \
		--log-date-format '%H' --wait-ready --listen-timeout 100 -- 1000
	clusterctl stop plain
	before_full=$(options_of full)
	before_plain=$(options_of plain)
	run clusterctl save
	assert_success
	assert_output --partial "saved 2 apps to $CLUSTERCTL_HOME/dump.json"
	clusterctl kill
	run clusterctl resurrect
	assert_success
	assert_output --partial "resurrected full, plain"
	[ "$(options_of full)" = "$before_full" ]
	[ "$(options_of plain)" = "$before_plain" ]
	[ "$(status_of plain 0)" = stopped ]
}

@test "resurrect twice starts nothing twice" {
	clusterctl start /bin/sleep --name twice -i 2 -- 1000
	clusterctl save --file "$BATS_TEST_TMPDIR/d.json"
	pids=$(clusterctl list --json | json_get 'sorted(r["pid"] for r in d)')
	run clusterctl resurrect --file "$BATS_TEST_TMPDIR/d.json"
	assert_success
	assert_output --partial "already running: twice"
	run clusterctl resurrect --file "$BATS_TEST_TMPDIR/d.json"
	assert_success
	[ "$(clusterctl list --json | json_get 'sorted(r["pid"] for r in d)')" = "$pids" ]
	[ "$(clusterctl list --json | json_get 'len(d)')" = 2 ]
}

@test "save never replaces a dump holding apps with an empty one without --force, and keeps a backup" {
	clusterctl start /bin/sleep --name one -- 1000
	clusterctl save
	clusterctl delete one
	run clusterctl save
	assert_failure 1
	assert_output --partial "holds 1 app, with an empty dump"
	[ "$(json_get 'len(d["apps"])' < "$CLUSTERCTL_HOME/dump.json")" = 1 ]
	run clusterctl save --force
	assert_success
	[ "$(json_get 'len(d["apps"])' < "$CLUSTERCTL_HOME/dump.json")" = 0 ]
	[ "$(json_get 'd["apps"][0]["name"]' < "$CLUSTERCTL_HOME/dump.json.bak")" = one ]
}

@test "resurrect --update-env gives this shell's environment instead of the saved one" {
	clusterctl start "$FIXTURES/env.sh" --name envy --no-autorestart \
		--env OUT="$BATS_TEST_TMPDIR/env1" -- 1000
	clusterctl save
	clusterctl delete envy
	OUT="$BATS_TEST_TMPDIR/env2" NEWVAR=fresh clusterctl resurrect --update-env
	run clusterctl describe envy --json
	assert_output --partial '"NEWVAR": "fresh"'
	clusterctl delete envy
	clusterctl resurrect
	run clusterctl describe envy --json
	refute_output --partial NEWVAR
}

@test "resurrect says what is wrong with a missing or malformed dump" {
	run clusterctl resurrect
	assert_failure 1
	assert_output --partial "no dump at '$CLUSTERCTL_HOME/dump.json' (write one with 'clusterctl save')"
	echo '{"format": "clusterctl-dump", "version": 2, "apps": []}' > "$BATS_TEST_TMPDIR/new.json"
	run clusterctl resurrect --file "$BATS_TEST_TMPDIR/new.json"
	assert_failure 2
	assert_output --partial "format version 2"
	echo '{' > "$BATS_TEST_TMPDIR/bad.json"
	run clusterctl resurrect -f "$BATS_TEST_TMPDIR/bad.json"
	assert_failure 1
	assert_output --partial "cannot read"
}

@test "with no human action a daemon killed by SIGKILL is back with its apps, and the shared port refuses nothing" {
	port=$(free_port)
	clusterctl start "$EXAMPLES/python/server.py" --name web -i 2 --env PORT=$port
	clusterctl start /bin/sleep --name idle -i 2 -- 1000
	clusterctl stop idle:1
	wait_until 20 all_status web online
	old=$(clusterctl list --json | json_get '" ".join(str(r["pid"]) for r in d if r["pid"])')
	daemon=$(cat "$CLUSTERCTL_HOME/daemon.pid")
	python3 "$FIXTURES/load.py" "$port" "$BATS_TEST_TMPDIR/load" \
		"$BATS_TEST_TMPDIR/stop" 5000 &
	loader=$!
	wait_until 20 test -e "$BATS_TEST_TMPDIR/load.started"
	kill -KILL "$daemon"
	# Nobody runs a command: the keeper starts a new daemon by itself.
	wait_until 10 eval '[ "$(cat "$CLUSTERCTL_HOME/daemon.pid" 2>/dev/null)" != "$daemon" ]'
	wait_until 20 all_status web online
	new=$(clusterctl list --json | json_get '" ".join(str(r["pid"]) for r in d if r["name"]=="web")')
	echo "$new" > "$BATS_TEST_TMPDIR/stop"
	wait "$loader"
	echo "# load: $(cat "$BATS_TEST_TMPDIR/load")" >&3
	# A request in flight in a killed instance may be cut; none is refused.
	run json_get 'd["errors"]' < "$BATS_TEST_TMPDIR/load"
	refute_output --partial "Refused"
	[ "$(json_get 'd["failed"] <= 1' < "$BATS_TEST_TMPDIR/load")" = True ]
	[ "$(json_get 'len(d["pids"]) >= 3' < "$BATS_TEST_TMPDIR/load")" = True ]
	wait_until 20 eval '[ "$(status_of idle 0)" = online ]'
	[ "$(status_of idle 1)" = stopped ]
	[ "$(clusterctl list --json | json_get 'len(d)')" = 4 ]
	for p in $old $daemon; do ! alive "$p"; done
	grep -q "keeper: the daemon (pid $daemon) was killed by SIGKILL; starting a new one" \
		"$CLUSTERCTL_HOME/daemon.log"
	grep -q "the keeper handed over 2 listening sockets" "$CLUSTERCTL_HOME/daemon.log"
}

@test "the keeper goes with the daemon on kill, and holds nothing a client can use" {
	clusterctl ping
	keeper=$(pgrep -f "clusterctl-keeper __keeper $CLUSTERCTL_HOME\$")
	[ -n "$keeper" ]
	# No socket of its own: only duplicates of the daemon's listeners.
	run ls -l /proc/$keeper/fd
	refute_output --partial "$CLUSTERCTL_HOME/sock"
	clusterctl kill
	wait_until 10 eval "! alive $keeper"
}

@test "a daemon that cannot start is not started again and again" {
	clusterctl ping
	clusterctl kill
	# An unwritable log makes the daemon fail at start.
	mkdir "$CLUSTERCTL_HOME/daemon.log.d"
	rm -f "$CLUSTERCTL_HOME/daemon.log"
	ln -s "$CLUSTERCTL_HOME/daemon.log.d" "$CLUSTERCTL_HOME/daemon.log"
	run timeout 20 "$CLUSTERCTL_BIN" ping
	assert_failure 4
	wait_until 10 no_test_pids
}

@test "a daemon killed while kill stops its apps is not brought back" {
	clusterctl start "$FIXTURES/stubborn.sh" --name slow --kill-timeout 30000 \
		-- "$BATS_TEST_TMPDIR/child.pid"
	wait_until 10 test -s "$BATS_TEST_TMPDIR/child.pid"
	daemon=$(cat "$CLUSTERCTL_HOME/daemon.pid")
	keeper=$(pgrep -f "clusterctl-keeper __keeper $CLUSTERCTL_HOME\$")
	"$CLUSTERCTL_BIN" kill >/dev/null 2>&1 &
	wait_until 10 eval '[ "$(status_of slow 0)" = stopping ]'
	[ -e "$CLUSTERCTL_HOME/state.exited.json" ]
	kill -KILL "$daemon"
	wait
	wait_until 10 eval "! alive $keeper"
	[ ! -e "$CLUSTERCTL_HOME/state.json" ]
	# The next daemon starts empty, as after a kill that finished.
	run clusterctl list --json
	assert_output "[]"
}
