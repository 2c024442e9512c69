#!/usr/bin/env bats
# The in-place upgrade: the daemon executes its binary again and adopts
# every app, pid, pipe and socket (core/upgrade.c, docs/state.md).

load helpers

# The pids of every instance, "name:instance=pid ..." (stopped: -).
pids() {
	clusterctl list --json |
		json_get '" ".join("%s:%d=%s" % (r["name"], r["instance"], r["pid"] or "-") for r in d)'
}

generation() {
	clusterctl ping --json | json_get 'd["generation"]'
}

# Numbers 1..N (or from the first line's on, with "any"), one a line,
# with no gap and no repeat (the last line may be cut: the app was stopped
# in the middle of it).
consecutive() {
	python3 - "$@" <<'PY'
import sys
lines = open(sys.argv[1], "rb").read().split(b"\n")[:-1]
whole = [int(l) for l in lines[:-1]]
first = whole[0] if len(sys.argv) > 2 and whole else 1
if whole != list(range(first, first + len(whole))):
    bad = next(i for i, v in enumerate(whole) if v != first + i)
    sys.exit("line %d is %r, not %d" % (bad + 1, lines[bad], first + bad))
print(len(whole))
PY
}

@test "upgrade keeps the daemon's pid and every instance's, and the generation goes up" {
	clusterctl start /bin/sleep --name a -i 3 --listen-timeout 0 -- 1000
	clusterctl start /bin/sleep --name b -i 2 --listen-timeout 0 -- 1000
	clusterctl stop b
	clusterctl stop a:2
	before=$(pids)
	daemon=$(cat "$CLUSTERCTL_HOME/daemon.pid")
	gen=$(generation)
	run clusterctl upgrade
	assert_success
	assert_output --partial "upgraded the daemon (pid $daemon)"
	assert_output --partial "generation $((gen + 1)): 2 apps and 2 processes kept"
	# list works at once, with the same processes; stopped ones stay so.
	[ "$(pids)" = "$before" ]
	[ "$(status_of b 0)" = stopped ] && [ "$(status_of b 1)" = stopped ]
	[ "$(status_of a 2)" = stopped ]
	[ "$(cat "$CLUSTERCTL_HOME/daemon.pid")" = "$daemon" ]
	[ "$(clusterctl ping --json | json_get 'd["pid"]')" = "$daemon" ]
	[ "$(generation)" = $((gen + 1)) ]
	[ "$(clusterctl ping --json | json_get 'd["upgraded"]["from_version"]')" = \
		"$(clusterctl version | awk '{print $2}')" ]
	run clusterctl ping
	assert_output --partial "generation $((gen + 1))"
	[ "$(json_get 'd["generation"]' < "$CLUSTERCTL_HOME/state.json")" = $((gen + 1)) ]
	clusterctl upgrade
	[ "$(pids)" = "$before" ]
	[ "$(generation)" = $((gen + 2)) ]
	# A pid file (--pid) is still the instance's: removed when it stops.
	clusterctl start /bin/sleep --name p --pid "$BATS_TEST_TMPDIR/p.pid" \
		--listen-timeout 0 -- 1000
	[ "$(cat "$BATS_TEST_TMPDIR/p-0.pid")" = "$(pid_of p 0)" ]
	clusterctl upgrade
	clusterctl stop p
	[ ! -e "$BATS_TEST_TMPDIR/p-0.pid" ]
	grep -q "upgraded in place from .* generation $((gen + 2)): adopted 2 apps and 2 running processes" \
		"$CLUSTERCTL_HOME/daemon.log"
}

@test "an adopted instance is still supervised: its crash restarts it, stop and kill stop it" {
	clusterctl start /bin/sleep --name a -i 2 --listen-timeout 0 -- 1000
	clusterctl upgrade
	old=$(pid_of a 0)
	kill -KILL "$old"
	wait_until 10 eval '[ "$(pid_of a 0)" != "$old" ] && [ "$(pid_of a 0)" != None ]'
	wait_until 10 all_status a online
	run clusterctl describe a --json
	assert_output --partial '"restart_reason": "crash"'
	other=$(pid_of a 1)
	clusterctl stop a:1
	! alive "$other"
	clusterctl kill
	wait_until 10 no_test_pids
}

@test "reload, scale and restart work on adopted instances" {
	port=$(free_port)
	clusterctl start "$EXAMPLES/python/server.py" --name web -i 2 --env PORT=$port
	wait_until 20 all_status web online
	clusterctl upgrade
	old="$(pid_of web 0) $(pid_of web 1)"
	clusterctl reload web
	wait_until 20 all_status web online
	for p in $old; do
		! alive "$p"
		[ "$(pid_of web 0)" != "$p" ] && [ "$(pid_of web 1)" != "$p" ]
	done
	clusterctl upgrade
	clusterctl scale web 3
	wait_until 20 all_status web online
	clusterctl scale web 1
	[ "$(clusterctl list --json | json_get 'len(d)')" = 1 ]
	clusterctl upgrade
	clusterctl restart web
	wait_until 20 all_status web online
	run python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$port/').read().decode())"
	assert_output --partial "pid $(pid_of web 0)"
}

@test "a shared port refuses and fails no request across upgrades" {
	port=$(free_port)
	clusterctl start "$EXAMPLES/python/server.py" --name web -i 2 --env PORT=$port
	wait_until 20 all_status web online
	before=$(pids)
	python3 "$FIXTURES/load.py" "$port" "$BATS_TEST_TMPDIR/load" \
		"$BATS_TEST_TMPDIR/stop" 20000 &
	loader=$!
	wait_until 20 test -e "$BATS_TEST_TMPDIR/load.started"
	for i in 1 2 3 4 5; do
		clusterctl upgrade
	done
	clusterctl list --json | json_get '" ".join(str(r["pid"]) for r in d)' \
		> "$BATS_TEST_TMPDIR/stop"
	wait "$loader"
	echo "# load: $(cat "$BATS_TEST_TMPDIR/load")" >&3
	[ "$(json_get 'd["failed"]' < "$BATS_TEST_TMPDIR/load")" = 0 ]
	[ "$(json_get 'd["ok"] > 0' < "$BATS_TEST_TMPDIR/load")" = True ]
	[ "$(pids)" = "$before" ]
	# The daemon still holds the port: a restarted instance gets it back.
	clusterctl restart web
	wait_until 20 all_status web online
	run python3 -c "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:$port/').read().decode())"
	assert_success
	assert_output --partial "pid "
}

@test "--listen sockets, one per slot, are kept; a closed slot stays closed" {
	port=$(free_port)
	clusterctl start "$(dirname "$CLUSTERCTL_BIN")/examples/server" \
		--name c -i 3 --listen "127.0.0.1:$port" --balance reuseport
	clusterctl stop c:2
	[ "$(ss -ltnH "sport = :$port" | wc -l)" = 2 ]
	a=$(readlink "/proc/$(pid_of c 0)/fd/3")
	clusterctl upgrade
	[ "$(ss -ltnH "sport = :$port" | wc -l)" = 2 ]
	# The daemon holds the slot's socket still: a restart gets it again.
	clusterctl restart c:0
	[ "$(readlink "/proc/$(pid_of c 0)/fd/3")" = "$a" ]
	clusterctl start c:2
	[ "$(ss -ltnH "sport = :$port" | wc -l)" = 3 ]
	run curl -sf -m 10 "http://127.0.0.1:$port/"
	assert_success
}

@test "no log line is lost or repeated across upgrades" {
	clusterctl start "$FIXTURES/numbered.py" --name n
	log="$CLUSTERCTL_HOME/logs/n-out-0.log"
	wait_until 10 test -s "$log"
	for i in 1 2 3 4 5; do
		clusterctl upgrade
	done
	size=$(stat -c %s "$log")
	# Lines written after the last upgrade reach the file too.
	wait_until 10 eval '[ "$(stat -c %s "$log")" -gt $((size + 1000)) ]'
	clusterctl stop n
	run consecutive "$log"
	assert_success
	echo "# $output consecutive lines" >&3
}

@test "logs --follow and wait go on across an upgrade, no line lost or repeated" {
	clusterctl start "$FIXTURES/numbered.py" --name n -- 0.005
	clusterctl start /bin/sleep --name late --listen-timeout 2000 --no-wait -- 1000
	"$CLUSTERCTL_BIN" logs n --out --raw --lines 0 \
		> "$BATS_TEST_TMPDIR/follow" 2> "$BATS_TEST_TMPDIR/follow.err" &
	follower=$!
	"$CLUSTERCTL_BIN" wait late > /dev/null 2>&1 &
	waiter=$!
	wait_until 10 test -s "$BATS_TEST_TMPDIR/follow"
	for i in 1 2 3; do
		clusterctl upgrade
	done
	# The wait was handled again by the new image: it ends once online.
	wait "$waiter"
	[ "$(status_of late 0)" = online ]
	size=$(stat -c %s "$BATS_TEST_TMPDIR/follow")
	wait_until 10 eval '[ "$(stat -c %s "$BATS_TEST_TMPDIR/follow")" -gt $((size + 200)) ]'
	kill -TERM "$follower"
	wait "$follower" || true
	run cat "$BATS_TEST_TMPDIR/follow.err"
	assert_output ""
	run consecutive "$BATS_TEST_TMPDIR/follow" any
	assert_success
}

@test "a waiting instance keeps its backoff, its restart count and the time of its next start" {
	clusterctl start "$FIXTURES/crash.sh" --name c --no-wait --restart-delay 4000 \
		--listen-timeout 0 -- "$BATS_TEST_TMPDIR/count" 1 up
	wait_until 10 eval '[ "$(status_of c 0)" = waiting ]'
	row() {
		clusterctl list --json | json_get '[(r["restarts"], r["next_start_at"], r["restart_delay_ms"]) for r in d][0]'
	}
	before=$(row)
	clusterctl upgrade
	[ "$(status_of c 0)" = waiting ]
	[ "$(row)" = "$before" ]
	# The timer was carried over: the restart comes.
	wait_until 20 eval '[ "$(status_of c 0)" = online ]'
	[ "$(clusterctl list --json | json_get 'd[0]["restarts"]')" = 1 ]
}

@test "a command that waits for its answer gets it before the upgrade" {
	clusterctl start /bin/sleep --name a --listen-timeout 4000 -- 1000
	clusterctl restart a > "$BATS_TEST_TMPDIR/restart.out" 2>&1 &
	restarter=$!
	wait_until 10 eval '[ "$(status_of a 0)" = launching ]'
	run clusterctl upgrade
	assert_success
	wait "$restarter"
	[ "$(status_of a 0)" = online ]
}

@test "a binary that cannot take the state is refused and the daemon runs on untouched" {
	clusterctl start /bin/sleep --name a -i 2 --listen-timeout 0 -- 1000
	clusterctl start /bin/sleep --name b --listen-timeout 0 -- 1000
	clusterctl stop b
	before=$(pids)
	gen=$(generation)
	daemon=$(cat "$CLUSTERCTL_HOME/daemon.pid")
	fake="$BATS_TEST_TMPDIR/fake"
	printf '#!/bin/sh\necho %s\n' \
		"'{\"format\": \"clusterctl-upgrade-check\", \"version\": \"9.0.0\", \"protocol\": 1, \"state\": {\"min\": 2, \"max\": 3}, \"handover\": {\"min\": 1, \"max\": 1}}'" \
		> "$fake"
	chmod +x "$fake"
	run clusterctl upgrade --binary "$fake"
	assert_failure
	assert_output --partial "'$fake' (clusterctl 9.0.0) reads state versions 2 to 3, this daemon's state is version 1; the daemon keeps running as it is"
	sed -i 's/"protocol": 1/"protocol": 7/; s/"min": 2/"min": 1/' "$fake"
	run clusterctl upgrade --binary "$fake"
	assert_failure
	assert_output --partial "speaks protocol version 7, this daemon version 1"
	run clusterctl upgrade --binary "$BATS_TEST_TMPDIR/missing"
	assert_failure
	assert_output --partial "cannot upgrade to '$BATS_TEST_TMPDIR/missing': No such file or directory"
	chmod -x "$fake"
	run clusterctl upgrade --binary "$fake"
	assert_failure
	assert_output --partial "Permission denied"
	run clusterctl upgrade --binary /bin/true
	assert_failure
	assert_output --partial "true' cannot take over this daemon: it does not answer '__upgrade-check'"
	# Nothing moved.
	[ "$(pids)" = "$before" ]
	[ "$(generation)" = "$gen" ]
	[ "$(cat "$CLUSTERCTL_HOME/daemon.pid")" = "$daemon" ]
	[ "$(status_of b 0)" = stopped ]
	grep -q "upgrade refused: .*reads state versions 2 to 3" "$CLUSTERCTL_HOME/daemon.log"
}

@test "a daemon running as root runs no binary another user could have changed" {
	[ "$(id -u)" = 0 ] || skip "the daemon does not run as root here"
	clusterctl start /bin/sleep --name a --listen-timeout 0 -- 1000
	before=$(pids)
	mkdir -m 0777 "$BATS_TEST_TMPDIR/shared"
	cp "$CLUSTERCTL_BIN" "$BATS_TEST_TMPDIR/shared/clusterctl"
	run clusterctl upgrade --binary "$BATS_TEST_TMPDIR/shared/clusterctl"
	assert_failure 1
	assert_output --partial "refusing to run '$BATS_TEST_TMPDIR/shared/clusterctl' as root: it or its directory may be changed by another user"
	chmod 0755 "$BATS_TEST_TMPDIR/shared"
	chmod 0777 "$BATS_TEST_TMPDIR/shared/clusterctl"
	run clusterctl upgrade --binary "$BATS_TEST_TMPDIR/shared/clusterctl"
	assert_failure 1
	assert_output --partial "as root"
	[ "$(pids)" = "$before" ]
}

@test "an exec that fails leaves the old image running as it was" {
	clusterctl start /bin/sleep --name a -i 2 --listen-timeout 0 -- 1000
	before=$(pids)
	gen=$(generation)
	# It takes the state, then is no longer executable when it is run.
	fake="$BATS_TEST_TMPDIR/vanishing"
	cat > "$fake" <<-EOF
		#!/bin/sh
		"$CLUSTERCTL_BIN" __upgrade-check
		chmod -x "\$0"
	EOF
	chmod +x "$fake"
	run clusterctl upgrade --binary "$fake"
	assert_failure 1
	assert_output --partial "cannot execute '$fake': Permission denied; the daemon keeps running as it is"
	[ "$(pids)" = "$before" ]
	[ "$(generation)" = "$gen" ]
	# Every descriptor it would have handed over is still in use.
	clusterctl restart a
	wait_until 20 all_status a online
	run clusterctl upgrade
	assert_success
}

@test "upgrade --binary runs another binary from then on, the keeper's next daemon too" {
	cp "$CLUSTERCTL_BIN" "$BATS_TEST_TMPDIR/clusterctl-new"
	for f in "$(dirname "$CLUSTERCTL_BIN")"/libclusterctl-share.so; do
		[ -e "$f" ] && cp "$f" "$BATS_TEST_TMPDIR/"
	done
	clusterctl start /bin/sleep --name a --listen-timeout 0 -- 1000
	before=$(pids)
	run clusterctl upgrade --binary "$BATS_TEST_TMPDIR/clusterctl-new"
	assert_success
	daemon=$(cat "$CLUSTERCTL_HOME/daemon.pid")
	[ "$(readlink /proc/$daemon/exe)" = "$BATS_TEST_TMPDIR/clusterctl-new" ]
	[ "$(clusterctl ping --json | json_get 'd["upgraded"]["binary"]')" = \
		"$BATS_TEST_TMPDIR/clusterctl-new" ]
	[ "$(pids)" = "$before" ]
	kill -KILL "$daemon"
	wait_until 10 eval '[ "$(cat "$CLUSTERCTL_HOME/daemon.pid" 2>/dev/null)" != "$daemon" ]'
	wait_until 10 all_status a online
	[ "$(readlink /proc/$(cat "$CLUSTERCTL_HOME/daemon.pid")/exe)" = \
		"$BATS_TEST_TMPDIR/clusterctl-new" ]
}

@test "an instance the new image cannot adopt is started again, for reason upgrade" {
	clusterctl start /bin/sleep --name a -i 2 --listen-timeout 0 -- 1000
	clusterctl start /bin/sleep --name b --listen-timeout 0 -- 1000
	clusterctl stop b
	old="$(pid_of a 0) $(pid_of a 1)"
	# A "new binary" that knows no state called online (as an older
	# clusterctl would not know a newer state): the handover is edited.
	wrapper="$BATS_TEST_TMPDIR/older"
	cat > "$wrapper" <<-EOF
		#!/bin/bash
		[ "\$1" = __upgrade-check ] && exec "$CLUSTERCTL_BIN" "\$@"
		sed 's/"state":"online"/"state":"bogus"/g' \
			/proc/self/fd/\$CLUSTERCTL_UPGRADE_FD > "$BATS_TEST_TMPDIR/handover"
		exec {fd}< "$BATS_TEST_TMPDIR/handover"
		CLUSTERCTL_UPGRADE_FD=\$fd exec "$CLUSTERCTL_BIN" "\$@"
	EOF
	chmod +x "$wrapper"
	run clusterctl upgrade --binary "$wrapper"
	assert_success
	assert_output --partial "2 apps and 0 processes kept"
	wait_until 10 all_status a online
	for p in $old; do
		! alive "$p"
	done
	[ "$(clusterctl list --json | json_get '[r["restart_reason"] for r in d if r["name"] == "a"]')" = \
		"['upgrade', 'upgrade']" ]
	[ "$(status_of b 0)" = stopped ]
	grep -q "a:0 cannot be adopted (state 'bogus'): started again" "$CLUSTERCTL_HOME/daemon.log"
}

@test "upgrade with no daemon says so and starts none" {
	run clusterctl upgrade
	assert_failure
	assert_output --partial "no daemon"
	[ ! -S "$CLUSTERCTL_HOME/sock" ]
	run clusterctl upgrade --bogus
	assert_failure 2
}
