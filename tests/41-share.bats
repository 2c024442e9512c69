#!/usr/bin/env bats
# Cluster mode, part two: what one instance does to a shared socket stays
# its own; per-instance listeners (--balance reuseport); --sticky.

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

# index_of NAME PID: the instance number PID runs as.
index_of() {
	clusterctl list --json |
		json_get "[r['instance'] for r in d if r['name']=='$1' and r['pid']==$2][0]"
}

# answers N URL [CURL ARGS]: N requests, every one answered.
answers() {
	local n=$1 i
	shift
	for i in $(seq "$n"); do
		curl -sf -m 20 "$@" >/dev/null || return 1
	done
}

# refused PORT: nothing listens on 127.0.0.1:PORT.
refused() {
	run curl -s -m 5 "http://127.0.0.1:$1/"
	[ "$status" -eq 7 ]
}

status_is() {
	[ "$(status_of "$1" "$2")" = "$3" ]
}

# free_ports N: N distinct free ports, one a line.
free_ports() {
	python3 -c 'import socket,sys
ss=[socket.socket() for _ in range(int(sys.argv[1]))]
for s in ss: s.bind(("127.0.0.1",0))
print("\n".join(str(s.getsockname()[1]) for s in ss))' "$1"
}

@test "WEBrick's shutdown() of its socket on stop leaves the port to the other instance" {
	port=$(free_port)
	clusterctl start "$FIXTURES/webrick.rb" --name rb -i 2 --env PORT=$port
	wait_until 20 all_status rb online
	live=$(pid_of rb 1)
	# WEBrick stops with shutdown() then close() of its listening socket.
	clusterctl stop rb:0
	for i in $(seq 20); do
		run curl -sf -m 10 "http://127.0.0.1:$port/"
		assert_success
		assert_output "pid $live"
	done
	# Its replacement gets a socket that listens too.
	clusterctl start rb:0
	wait_until 20 status_is rb 0 online
	new=$(pid_of rb 0)
	seen=""
	for i in $(seq 60); do
		seen="$seen $(curl -sf -m 10 "http://127.0.0.1:$port/" | cut -d' ' -f2)"
	done
	[[ "$seen" == *" $new"* ]]
	[[ "$seen" == *" $live"* ]]
}

@test "ruby -run -e httpd: restarts and reloads never break the port" {
	port=$(free_port)
	mkdir "$BATS_TEST_TMPDIR/www"
	echo hello >"$BATS_TEST_TMPDIR/www/index.html"
	run clusterctl start /usr/bin/ruby --name httpd -i 2 -- -run -e httpd -- \
		--bind-address=127.0.0.1 --port=$port "$BATS_TEST_TMPDIR/www"
	assert_success
	wait_until 20 all_status httpd online
	run curl -sf -m 10 "http://127.0.0.1:$port/"
	assert_output hello
	clusterctl restart httpd:0
	answers 20 "http://127.0.0.1:$port/"
	clusterctl reload httpd
	answers 20 "http://127.0.0.1:$port/"
	run clusterctl describe httpd --json
	[ "$(echo "$output" | json_get "len(d[0]['sockets'])")" = 1 ]
}

@test "a Node server on a Unix socket that removes its path on close(): reload and scale keep it" {
	sock="$BATS_TEST_TMPDIR/web.sock"
	clusterctl start "$FIXTURES/unix_close.js" --name us -i 2 --env SOCK="$sock"
	wait_until 20 all_status us online
	answers 5 --unix-socket "$sock" http://x/
	run clusterctl reload us
	assert_success
	[ -S "$sock" ]
	answers 10 --unix-socket "$sock" http://x/
	run clusterctl scale us -1
	assert_success
	[ -S "$sock" ]
	run curl -sf -m 10 --unix-socket "$sock" http://x/
	assert_output "pid $(pid_of us 0)"
	clusterctl restart us
	answers 5 --unix-socket "$sock" http://x/
	# The daemon removes it when the app goes.
	clusterctl delete us
	[ ! -e "$sock" ]
}

@test "Python asyncio started from a blocking socket does not make its siblings' socket blocking" {
	port=$(free_port)
	out="$BATS_TEST_TMPDIR/out"
	gate="$BATS_TEST_TMPDIR/gate"
	touch "$gate.0"
	clusterctl start "$FIXTURES/blocking_asyncio.py" --name aio -i 2 \
		--env PORT=$port --env OUT="$out" --env GATE="$gate" --no-wait
	wait_until 20 test -s "$out.1"
	# Instance 1 holds a blocking socket in its own view, waiting...
	run cat "$out.1"
	assert_output "blocking True"
	# ...while the socket itself stays non-blocking for everyone.
	p1=$(pid_of aio 1)
	fd=$(ls -l "/proc/$p1/fd" | awk -v want="$(ls -l /proc/$(pid_of aio 0)/fd |
		awk '/socket:/ { print $NF }' | sort -u | tr '\n' ' ')" \
		'/socket:/ && index(want, $NF) { print $(NF-2); exit }')
	[ -n "$fd" ]
	flags=$(awk '/^flags:/ { print $2 }' "/proc/$p1/fdinfo/$fd")
	[ $((8#$flags & 8#4000)) -ne 0 ]
	answers 10 "http://127.0.0.1:$port/"
	touch "$gate.1"
	wait_until 20 all_status aio online
	seen=""
	for i in $(seq 60); do
		seen="$seen $(curl -sf -m 10 "http://127.0.0.1:$port/" | cut -d' ' -f2)"
	done
	for p in $(pids aio); do
		[[ "$seen" == *" $p"* ]]
	done
}

@test "curl --local-port inside an instance connects: a client's bind is left alone" {
	tport=$(free_port)
	lport=$(free_port)
	python3 -m http.server --bind 127.0.0.1 "$tport" >/dev/null 2>&1 &
	holder=$!
	wait_until 20 curl -sf "http://127.0.0.1:$tport/"
	run clusterctl start "$FIXTURES/curl_local.sh" --name cl --listen-timeout 0 \
		--env LPORT=$lport --env TPORT=$tport --env OUT="$BATS_TEST_TMPDIR/got"
	assert_success
	wait_until 20 test -e "$BATS_TEST_TMPDIR/got"
	run tail -1 "$BATS_TEST_TMPDIR/got"
	assert_output "rc=0"
	# No listening socket was made for the client's port.
	refused "$lport"
	run clusterctl describe cl --json
	[ "$(echo "$output" | json_get "d[0]['sockets']")" = "[]" ]
}

@test "a port no instance binds any more is closed after a reload" {
	read -r a b <<<"$(free_ports 2 | tr '\n' ' ')"
	echo "$a" >"$BATS_TEST_TMPDIR/ports"
	clusterctl start "$FIXTURES/ports.py" --name pp -i 2 \
		--env PORTS="$BATS_TEST_TMPDIR/ports"
	answers 3 "http://127.0.0.1:$a/"
	echo "$b" >"$BATS_TEST_TMPDIR/ports"
	run clusterctl reload pp
	assert_success
	answers 3 "http://127.0.0.1:$b/"
	wait_until 20 refused "$a"
	run clusterctl describe pp --json
	[ "$(echo "$output" | json_get "[s['address'] for s in d[0]['sockets']]")" = "['127.0.0.1:$b']" ]
}

@test "70 ports in one app: all shared, the app's listen(5) backlog does not reach them" {
	free_ports 70 >"$BATS_TEST_TMPDIR/ports"
	clusterctl start "$FIXTURES/ports.py" --name many --env BACKLOG=5 \
		--env PORTS="$BATS_TEST_TMPDIR/ports" --listen-timeout 60s
	last=$(tail -1 "$BATS_TEST_TMPDIR/ports")
	wait_until 20 curl -sf "http://127.0.0.1:$last/"
	run clusterctl describe many --json
	[ "$(echo "$output" | json_get "len(d[0]['sockets'])")" = 70 ]
	# The daemon's backlog (listen()'s Send-Q in ss) on every one.
	somax=$(cat /proc/sys/net/core/somaxconn)
	[ "$somax" -gt 5 ]
	while read -r p; do
		run ss -ltnH "sport = :$p"
		[ "$(echo "$output" | awk '{ print $3 }')" = "$somax" ]
	done <"$BATS_TEST_TMPDIR/ports"
}

@test "an app's own SO_REUSEPORT is kept on the daemon's socket" {
	port=$(free_port)
	echo "$port" >"$BATS_TEST_TMPDIR/ports"
	clusterctl start "$FIXTURES/ports.py" --name rp --env REUSEPORT=1 \
		--env PORTS="$BATS_TEST_TMPDIR/ports"
	answers 2 "http://127.0.0.1:$port/"
	# Another SO_REUSEPORT socket of the same user may join, as alone.
	run python3 -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); print("joined")' "$port"
	assert_success
	assert_output joined
}

@test "a static binary: describe and the crash loop's error say the preload was not loaded" {
	cc -static -O1 -o "$BATS_TEST_TMPDIR/bind_port" "$FIXTURES/bind_port.c"
	port=$(free_port)
	clusterctl start "$BATS_TEST_TMPDIR/bind_port" --name st -i 2 \
		--env PORT=$port --restart-delay 0 --max-restarts 2 \
		--listen-timeout 0 --no-wait
	# Whichever instance binds first serves; the other crash-loops.
	wait_until 30 eval 'clusterctl list --json | json_get "[r[\"status\"] for r in d].count(\"errored\")" | grep -qx 1'
	run clusterctl describe st --json
	bad=$(echo "$output" | json_get "[p['instance'] for p in d[0]['processes'] if p['status']=='errored'][0]")
	good=$((1 - bad))
	echo "$output" | json_get "d[0]['processes'][$bad]['error']" |
		grep -q "static binary: the preload library cannot share"
	[ "$(echo "$output" | json_get "d[0]['processes'][$good]['preload']")" = "not loaded (static binary)" ]
	run clusterctl describe st
	assert_output --partial "preload      not loaded (static binary)"
}

@test "a cleared LD_PRELOAD: describe says the preload is not loaded" {
	port=$(free_port)
	echo "$port" >"$BATS_TEST_TMPDIR/ports"
	clusterctl start "$FIXTURES/noenv.sh" --name ne --listen-timeout 0 \
		--env PORTS="$BATS_TEST_TMPDIR/ports" -- python3 "$FIXTURES/ports.py"
	wait_until 20 curl -sf "http://127.0.0.1:$port/"
	run clusterctl describe ne --json
	[ "$(echo "$output" | json_get "d[0]['processes'][0]['preload']")" = "not loaded (LD_PRELOAD cleared)" ]
	# The port is the app's own: the daemon holds nothing.
	[ "$(echo "$output" | json_get "d[0]['sockets']")" = "[]" ]
}

@test "--balance reuseport: each instance has its own socket, kept while it restarts" {
	port=$(free_port)
	run clusterctl start "$EXAMPLES/node/server.js" --name rp -i 2 \
		--balance reuseport --env PORT=$port --restart-delay 500
	assert_success
	wait_until 20 all_status rp online
	run clusterctl describe rp
	assert_output --partial "balance        reuseport"
	assert_output --partial "listener     [::]:$port (own socket)"
	run clusterctl describe rp --json
	[ "$(echo "$output" | json_get "d[0]['sockets'][0]['sockets']")" = 2 ]
	[ "$(echo "$output" | json_get "d[0]['balance']")" = reuseport ]
	# Two different listening sockets for the one port.
	[ "$(ss -ltnH "sport = :$port" | wc -l)" = 2 ]
	# A crashed instance's connections wait for its replacement.
	kill -9 "$(pid_of rp 0)"
	answers 20 "http://127.0.0.1:$port/"
	wait_until 20 all_status rp online
}

@test "--listen with --balance reuseport: each instance gets its own slot's socket as LISTEN_FDS" {
	port=$(free_port)
	run clusterctl start "$(dirname "$CLUSTERCTL_BIN")/examples/server" \
		--name c -i 2 --listen "127.0.0.1:$port" --balance reuseport
	assert_success
	[ "$(ss -ltnH "sport = :$port" | wc -l)" = 2 ]
	# fd 3 of each instance is a different socket.
	a=$(readlink "/proc/$(pid_of c 0)/fd/3")
	b=$(readlink "/proc/$(pid_of c 1)/fd/3")
	[[ "$a" == socket:* ]]
	[ "$a" != "$b" ]
	answers 10 "http://127.0.0.1:$port/"
	# A restarted instance gets the same slot's socket again.
	clusterctl restart c:0
	[ "$(readlink "/proc/$(pid_of c 0)/fd/3")" = "$a" ]
}

@test "--sticky with 4 instances: each client address reaches one instance, also after a crash" {
	port=$(free_port)
	run clusterctl start "$EXAMPLES/node/server.js" --name st -i 4 --sticky \
		--env PORT=$port --restart-delay 300
	assert_success
	wait_until 20 all_status st online
	declare -A first
	for a in 2 3 4 5 6 7 8 9; do
		for i in $(seq 5); do
			p=$(curl -sf -m 10 --interface 127.0.0.$a "http://127.0.0.1:$port/" |
				cut -d' ' -f2)
			[ -n "$p" ]
			[ -z "${first[$a]}" ] || [ "${first[$a]}" = "$p" ]
			first[$a]=$p
		done
	done
	# More than one instance got clients.
	[ "$(printf '%s\n' "${first[@]}" | sort -u | wc -l)" -gt 1 ]
	victim=${first[2]}
	k=$(index_of st "$victim")
	kill -9 "$victim"
	# Its clients wait for the replacement; nobody is refused.
	for a in 2 3 4 5 6 7 8 9; do
		p=$(curl -sf -m 20 --interface 127.0.0.$a "http://127.0.0.1:$port/" |
			cut -d' ' -f2)
		[ -n "$p" ]
		if [ "${first[$a]}" = "$victim" ]; then
			[ "$p" != "$victim" ]
			[ "$p" = "$(pid_of st "$k")" ]
		else
			[ "$p" = "${first[$a]}" ]
		fi
	done
	# IPv6 clients too: ::1 always reaches one instance.
	v6=$(curl -sf -m 10 "http://[::1]:$port/" | cut -d' ' -f2)
	[ -n "$v6" ]
	for i in $(seq 5); do
		run curl -sf -m 10 "http://[::1]:$port/"
		assert_output "pid $v6"
	done
	run clusterctl scale st 3
	assert_success
	assert_output --partial "is sticky: with 3 instances, client addresses map to instances anew"
}

# sticky_reload NAME PORT: reload under clients from 8 addresses: nothing
# lost, every client stays with its instance slot.
sticky_reload() {
	local name=$1 port=$2 before after
	wait_until 20 all_status "$name" online
	before=$(clusterctl list --json)
	python3 "$FIXTURES/sticky_load.py" "$port" "$BATS_TEST_TMPDIR/load" \
		"$BATS_TEST_TMPDIR/load.stop" 127.0.0.{2..9} &
	loader=$!
	wait_until 20 test -e "$BATS_TEST_TMPDIR/load.started"
	run clusterctl reload "$name"
	assert_success
	after=$(clusterctl list --json)
	echo "$(pids "$name")" >"$BATS_TEST_TMPDIR/load.stop"
	wait "$loader"
	loader=
	echo "# load: $(cat "$BATS_TEST_TMPDIR/load")" >&3
	python3 - "$BATS_TEST_TMPDIR/load" "$before" "$after" <<'PY'
import json, sys
load = json.load(open(sys.argv[1]))
slot = {str(r["pid"]): r["instance"] for t in sys.argv[2:] for r in json.loads(t)}
assert load["failed"] == 0, load["errors"]
for src, pids in load["seen"].items():
    slots = {slot.get(p) for p in pids}
    assert len(slots) == 1 and None not in slots, (src, pids, slot)
# The new instances answered too.
new = {str(r["pid"]) for r in json.loads(sys.argv[3])}
assert new & {p for pids in load["seen"].values() for p in pids}
PY
}

@test "--sticky: a reload under a client loop loses nothing and keeps each client on its slot" {
	port=$(free_port)
	clusterctl start "$EXAMPLES/node/server.js" --name st -i 4 --sticky \
		--env PORT=$port
	sticky_reload st "$port"
}

@test "--sticky: the same for a Python app that binds the port itself" {
	port=$(free_port)
	clusterctl start "$EXAMPLES/python/server.py" --name py -i 4 --sticky \
		--env PORT=$port
	sticky_reload py "$port"
}

@test "--sticky and --balance: bad combinations are refused before anything starts" {
	run clusterctl start /bin/sleep --name x --sticky --balance shared -- 100
	assert_failure 2
	assert_output --partial "--sticky needs one socket per instance"
	run clusterctl start /bin/sleep --name x --sticky --no-share -- 100
	assert_failure 2
	assert_output --partial "needs cluster mode"
	run clusterctl start /bin/sleep --name x --balance roundrobin -- 100
	assert_failure 2
	assert_output --partial "invalid --balance 'roundrobin'"
	run clusterctl list --json
	assert_output "[]"
}
