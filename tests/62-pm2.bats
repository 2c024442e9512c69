#!/usr/bin/env bats
# What a pm2 user types, and pm2's behaviours where ours would differ for
# no reason (issue 17).  Each test is named after the pm2 behaviour.

load helpers

@test "pm2 start NAME of an app that is online restarts it" {
	clusterctl start /bin/sleep --name s -i 2 --listen-timeout 0 -- 1000
	before="$(pid_of s 0) $(pid_of s 1)"
	run clusterctl start s
	assert_success
	all_status s online
	after="$(pid_of s 0) $(pid_of s 1)"
	[ "$(pid_of s 0)" != "${before%% *}" ]
	[ "$(pid_of s 1)" != "${before##* }" ]
	[ "$(clusterctl list --json | json_get "d[0]['restart_reason']")" = manual ]
	# A stopped app starts, as before.
	clusterctl stop s
	run clusterctl start s
	assert_success
	all_status s online
}

@test "pm2 -i -N runs the CPUs minus N, at least one" {
	cpus=$(nproc)
	want=$((cpus - 2)); [ "$want" -ge 1 ] || want=1
	run clusterctl start /bin/sleep --name m -i -2 --listen-timeout 0 -- 1000
	assert_success
	n=$(clusterctl list --json | json_get "len([r for r in d if r['name']=='m'])")
	[ "$n" -eq "$want" ]
	run clusterctl start /bin/sleep --name big -i -4096 --listen-timeout 0 -- 1000
	assert_success
	n=$(clusterctl list --json | json_get "len([r for r in d if r['name']=='big'])")
	[ "$n" -eq 1 ]
	run clusterctl start /bin/sleep --name bad -i -5000 -- 1000
	assert_failure 2
	assert_output --partial "invalid instance count"
}

@test "pm2 restart all and stop all with no apps fail (exit 3)" {
	run clusterctl restart all
	assert_failure 3
	assert_output --partial "no apps"
	run clusterctl stop all
	assert_failure 3
	run clusterctl reload all
	assert_failure 3
	run clusterctl delete all
	assert_failure 3
	# With an app, all acts on it and succeeds.
	clusterctl start /bin/sleep --name s --listen-timeout 0 -- 1000
	run clusterctl stop all
	assert_success
}

@test "pm2 pid prints the running instances' pids, one a line" {
	clusterctl start /bin/sleep --name a -i 2 --listen-timeout 0 -- 1000
	clusterctl start /bin/sleep --name b --listen-timeout 0 -- 1000
	run clusterctl pid a
	assert_success
	assert_line "$(pid_of a 0)"
	assert_line "$(pid_of a 1)"
	[ "${#lines[@]}" -eq 2 ]
	run clusterctl pid a:1
	assert_output "$(pid_of a 1)"
	run clusterctl pid
	[ "${#lines[@]}" -eq 3 ]
	run clusterctl pid b --json
	assert_success
	[ "$(echo "$output" | json_get 'd')" = "[$(pid_of b 0)]" ]
	# A stopped app has no pid; an unknown one is an error.
	clusterctl stop b
	run clusterctl pid b
	assert_success
	assert_output ""
	run clusterctl pid nope
	assert_failure 3
}

@test "pm2 list --sort orders rows by a field, ascending or descending" {
	clusterctl start /bin/sleep --name bbb --listen-timeout 0 -- 1000
	clusterctl start /bin/sleep --name aaa --listen-timeout 0 -- 1000
	clusterctl start /bin/sleep --name ccc --listen-timeout 0 -- 1000
	names() { clusterctl list --json "$@" | json_get "' '.join(r['name'] for r in d)"; }
	[ "$(names --sort name)" = "aaa bbb ccc" ]
	[ "$(names --sort name:desc)" = "ccc bbb aaa" ]
	[ "$(names --sort id:desc)" = "ccc aaa bbb" ]
	run clusterctl list --sort name:desc
	assert_success
	[ "$(echo "$output" | sed -n 2p | awk '{print $2}')" = "ccc:0" ]
	run clusterctl list --sort size
	assert_failure 2
	assert_output --partial "invalid --sort 'size'"
}

@test "pm2 /regex/ targets every app whose name matches" {
	for n in api-1 api-2 worker; do
		clusterctl start /bin/sleep --name "$n" --listen-timeout 0 -- 1000
	done
	run clusterctl stop '/^api-/'
	assert_success
	all_status api-1 stopped
	all_status api-2 stopped
	all_status worker online
	run clusterctl stop '/^nomatch$/'
	assert_failure 3
	assert_output --partial "no app name matches '/^nomatch$/'"
	run clusterctl stop '/(/'
	assert_failure 2
	assert_output --partial "invalid regular expression"
}

@test "pm2 stop app.js targets the apps of that script" {
	printf '#!/bin/sh\nexec sleep 1000\n' > job.sh
	chmod +x job.sh
	clusterctl start ./job.sh --name j1 --listen-timeout 0
	clusterctl start /bin/sleep --name other --listen-timeout 0 -- 1000
	run clusterctl stop job.sh
	assert_success
	all_status j1 stopped
	all_status other online
	run clusterctl restart ./job.sh
	assert_success
	all_status j1 online
	run clusterctl stop "$BATS_TEST_TMPDIR/job.sh"
	assert_success
	all_status j1 stopped
	run clusterctl stop nosuch.js
	assert_failure 3
}

@test "pm2 --name 455: a name of digits works, and never means two apps" {
	run clusterctl start /bin/sleep --name 455 --listen-timeout 0 -- 1000
	assert_success
	all_status 455 online
	run clusterctl stop 455
	assert_success
	all_status 455 stopped
	# An id is never a name of digits, and such a name is never an id.
	run clusterctl start /bin/sleep --name 0 --listen-timeout 0 -- 1000
	assert_failure 2
	assert_output --partial "it is the id of app '455'"
	clusterctl start /bin/sleep --name s1 --listen-timeout 0 -- 1000
	clusterctl start /bin/sleep --name 3 --listen-timeout 0 -- 1000
	clusterctl start /bin/sleep --name s2 --listen-timeout 0 -- 1000
	ids=$(clusterctl list --json | json_get "' '.join('%s=%s' % (r['name'], r['id']) for r in d)")
	[[ "$ids" != *"s2=3"* ]]
	run clusterctl stop 3
	assert_success
	all_status 3 stopped
	all_status s2 online
}

@test "pm2 start \"python3 -m http.server\": a command line runs through /bin/sh -c" {
	port=$(free_port)
	run clusterctl start "python3 -m http.server $port --bind 127.0.0.1"
	assert_success
	wait_until 10 curl -sf "http://127.0.0.1:$port/"
	run clusterctl describe python3
	assert_output --partial "run through /bin/sh -c"
	[ "$(clusterctl describe python3 --json | json_get "d[0]['shell']")" = True ]
	# Arguments after -- stay words.
	run clusterctl start "printf '%s|' > out.txt" --name p --no-autorestart --no-wait -- "a b" c
	assert_success
	wait_until 5 grep -qx 'a b|c|' out.txt
	# A file with spaces in its name is a file, not a command line.
	printf '#!/bin/sh\nexec sleep 1000\n' > "my job.sh"
	run clusterctl start "./my job.sh" --name myjob --listen-timeout 0
	assert_success
	[ "$(clusterctl describe myjob --json | json_get "d[0].get('shell', False)")" = False ]
	[ "$(clusterctl describe myjob --json | json_get "d[0]['script']")" = "$BATS_TEST_TMPDIR/my job.sh" ]
}

@test "pm2 runs a script without an execute bit by its extension or its #! line" {
	printf '#!/usr/bin/env node\nrequire("fs").writeFileSync("ran", process.argv[0]); setInterval(() => {}, 1000)\n' > www
	chmod -x www
	run clusterctl start ./www --listen-timeout 0
	assert_success
	wait_until 5 test -s ran
	grep -q node ran
	printf 'puts "rb"\n$stdout.flush\nsleep 1000\n' > t.rb
	if command -v ruby >/dev/null; then
		run clusterctl start ./t.rb --listen-timeout 0
		assert_success
		[ "$(clusterctl describe t --json | json_get "d[0]['argv'][0]")" = ruby ]
	fi
	# A real binary without its execute bit is still "Permission denied".
	cp /bin/sleep ./nox
	chmod -x ./nox
	run clusterctl start ./nox -- 1000
	assert_failure
	assert_output --partial "Permission denied"
}

@test "pm2 start a.js b.js starts one app per script" {
	printf 'setInterval(() => {}, 1000)\n' > a.js
	cp a.js b.js
	run clusterctl start a.js b.js --listen-timeout 0
	assert_success
	all_status a online
	all_status b online
	# Each script is tried; the first failure gives the exit code.
	run clusterctl start nosuch.js c.js --listen-timeout 0
	assert_failure 1
	assert_output --partial "nosuch.js"
	run clusterctl start a.js b.js --name x
	assert_failure 2
}

@test "pm2 --shutdown-with-message stops a Node app by process.send('shutdown')" {
	cat > sdm.js <<'JS'
const fs = require('fs');
process.on('message', (m) => {
	if (m === 'shutdown') {
		fs.appendFileSync(process.env.OUT, 'message ' + process.env.NODE_APP_INSTANCE + '\n');
		process.exit(0);
	}
});
process.on('SIGINT', () => { fs.appendFileSync(process.env.OUT, 'SIGINT\n'); process.exit(0); });
fs.writeFileSync(process.env.OUT + '.up' + process.env.NODE_APP_INSTANCE, '');
setInterval(() => {}, 1000);
JS
	clusterctl start sdm.js -i 2 --shutdown-with-message --listen-timeout 0 --env OUT="$BATS_TEST_TMPDIR/out"
	wait_until 10 test -f out.up0 -a -f out.up1
	run clusterctl stop sdm
	assert_success
	[ "$(sort out)" = "$(printf 'message 0\nmessage 1')" ]
	[ "$(clusterctl describe sdm --json | json_get "d[0]['shutdown_with_message']")" = True ]
	# Without the flag, the kill signal as before.
	rm out out.up0
	clusterctl start sdm.js --name plain --listen-timeout 0 --env OUT="$BATS_TEST_TMPDIR/out"
	wait_until 10 test -f out.up0
	clusterctl stop plain
	[ "$(cat out)" = SIGINT ]
	# In a process file too.
	printf '{"apps": [{"name": "f", "script": "sdm.js", "shutdown_with_message": true, "listen_timeout": 0, "env": {"OUT": "%s"}}]}\n' "$BATS_TEST_TMPDIR/out2" > eco.json
	clusterctl start eco.json
	wait_until 10 test -f out2.up0
	clusterctl stop f
	[ "$(cat out2)" = "message 0" ]
}

@test "pm2 ecosystem fields watch, max_memory_restart and cron_restart reach the app" {
	printf 'setInterval(() => {}, 1000)\n' > w.js
	cat > eco.json <<'JSON'
{"apps": [{"name": "w", "script": "w.js", "listen_timeout": 0,
  "watch": false, "ignore_watch": ["uploads"], "watch_delay": 500,
  "max_memory_restart": "300M", "cron_restart": "0 3 * * *"}]}
JSON
	run clusterctl start eco.json
	assert_success
	refute_output --partial "not supported"
	d=$(clusterctl describe w --json)
	[ "$(echo "$d" | json_get "d[0]['cron_next'] is not None")" = True ]
	echo "$d" | grep -q '"max_memory_restart": 314572800'
}

@test "pm2 --instance-var and --increment-var name and number each instance" {
	run clusterctl start "$FIXTURES/env.sh" --name e -i 2 --listen-timeout 0 --no-autorestart \
		--instance-var ID --increment-var PORT --env PORT=8000 -- "$BATS_TEST_TMPDIR"
	wait_until 10 test -f env-0 -a -f env-1
	grep -qx 'ID=0' env-0
	grep -qx 'ID=1' env-1
	grep -qx 'PORT=8000' env-0
	grep -qx 'PORT=8001' env-1
	# Once each: the daemon's value replaces the app's copy.
	[ "$(grep -c '^PORT=' env-1)" -eq 1 ]
	run clusterctl start /bin/sleep --name bad --increment-var NOPE -- 1000
	assert_failure 2
	assert_output --partial "increment_var 'NOPE' needs a number"
}

@test "pm2 --pid FILE writes each instance's pid to FILE-N.pid while it runs" {
	export CLUSTERCTL_NO_KEEPER=1
	d="$BATS_TEST_TMPDIR/run/pids"
	clusterctl start /bin/sleep --name p -i 2 --listen-timeout 0 \
		--pid "$d/web.pid" -- 1000
	[ "$(cat "$d/web-0.pid")" = "$(pid_of p 0)" ]
	[ "$(cat "$d/web-1.pid")" = "$(pid_of p 1)" ]
	[ ! -e "$d/web.pid" ]
	run clusterctl describe p --json
	assert_output --partial "\"pid_file\": \"$d/web-1.pid\""
	# A restart writes the new pid; a stop removes the file.
	clusterctl restart p:1
	[ "$(cat "$d/web-1.pid")" = "$(pid_of p 1)" ]
	clusterctl stop p:0
	[ ! -e "$d/web-0.pid" ]
	[ -e "$d/web-1.pid" ]
	# The spec survives a daemon that died: the restored instance writes
	# its new pid there.
	old=$(pid_of p 1)
	kill -KILL "$(cat "$CLUSTERCTL_HOME/daemon.pid")"
	wait_until 10 eval "! alive $old"
	clusterctl ping
	wait_until 10 eval '[ "$(status_of p 1)" = online ]'
	wait_until 10 eval '[ "$(cat "$d/web-1.pid" 2>/dev/null)" = "$(pid_of p 1)" ]'
	[ ! -e "$d/web-0.pid" ]
	clusterctl delete p
	[ ! -e "$d/web-1.pid" ]
}

@test "pm2 pid_file in a process file, numbered as pm2 numbers it; a link is not followed" {
	cd "$BATS_TEST_TMPDIR"
	cat > eco.json <<-'JSON'
	{ "apps": [ { "name": "w", "script": "/bin/sleep", "args": "1000",
	  "listen_timeout": 0, "pid_file": "pids/w-7.pid" } ] }
	JSON
	clusterctl start eco.json
	[ "$(cat pids/w-0.pid)" = "$(pid_of w 0)" ]
	[ ! -e pids/w-7-0.pid ]
	# A name that does not end in .pid is numbered too.
	clusterctl start /bin/sleep --name x --listen-timeout 0 --pid x.pidfile -- 1000
	[ "$(cat x.pidfile-0)" = "$(pid_of x 0)" ]
	# A symbolic link in the file's place is left alone, and said.
	echo keep > target
	ln -s "$BATS_TEST_TMPDIR/target" y-0.pid
	clusterctl start /bin/sleep --name y --listen-timeout 0 --pid y.pid -- 1000
	[ "$(cat target)" = keep ]
	grep -q "y:0 cannot write the pid file '$BATS_TEST_TMPDIR/y-0.pid': it is a symbolic link" \
		"$CLUSTERCTL_HOME/daemon.log"
	clusterctl delete y
	[ -L y-0.pid ]
}

@test "pm2 start -f starts the same script again: another app of that name, its name targets both" {
	export CLUSTERCTL_NO_KEEPER=1
	clusterctl start /bin/sleep --name w --listen-timeout 0 -- 1000
	# Without -f, a clear refusal that says how.
	run clusterctl start /bin/sleep --name w --listen-timeout 0 -- 1000
	assert_failure 1
	assert_output --partial "an app named 'w' exists already and runs '/bin/sleep'"
	assert_output --partial "--force"
	run clusterctl start /bin/true --name w
	assert_failure 1
	assert_output --partial "an app named 'w' exists already (restart it, use --name, or --force"
	run clusterctl start /bin/sleep --name w -f -i 2 --listen-timeout 0 -- 1000
	assert_success
	ids=$(clusterctl list --json | json_get '" ".join(sorted(set(str(r["id"]) for r in d if r["name"]=="w")))')
	[ "$ids" = "0 1" ]
	run clusterctl pid w
	[ "${#lines[@]}" -eq 3 ]
	# The name acts on both, an id on one, name:N on each that has it.
	clusterctl stop w
	[ "$(clusterctl list --json | json_get 'sum(r["status"]=="stopped" for r in d)')" = 3 ]
	clusterctl start 1
	[ "$(clusterctl list --json | json_get '[r["status"] for r in d if r["id"]==0][0]')" = stopped ]
	[ "$(clusterctl list --json | json_get 'all(r["status"]=="online" for r in d if r["id"]==1)')" = True ]
	clusterctl start w
	all_status w online
	run clusterctl restart w:1
	assert_success
	run clusterctl scale w 3
	assert_failure
	assert_output --partial "scale takes one app"
	# Metrics keep the two apart.
	run clusterctl metrics
	assert_output --partial 'clusterctl_instance_up{app="w",id="1",instance="1"} 1'
	# Both come back after the daemon dies, and from a dump.
	old=$(pid_of w 1)
	kill -KILL "$(cat "$CLUSTERCTL_HOME/daemon.pid")"
	wait_until 10 eval "! alive $old"
	clusterctl ping
	wait_until 10 all_status w online
	[ "$(clusterctl list --json | json_get 'len(d)')" = 3 ]
	clusterctl save
	clusterctl delete w
	run clusterctl resurrect
	assert_success
	wait_until 10 all_status w online
	[ "$(clusterctl list --json | json_get 'len(d)')" = 3 ]
	# Resurrecting again starts nothing twice.
	clusterctl resurrect
	[ "$(clusterctl list --json | json_get 'len(d)')" = 3 ]
}

@test "pm2 restart NAME --name NEW renames the app as it restarts" {
	clusterctl start /bin/sleep --name old --listen-timeout 0 -- 1000
	clusterctl start /bin/sleep --name other --listen-timeout 0 -- 1000
	id=$(clusterctl list --json | json_get '[r["id"] for r in d if r["name"]=="old"][0]')
	before=$(pid_of old 0)
	run clusterctl restart old --name new
	assert_success
	assert_output --partial "new:0"
	[ "$(pid_of new 0)" != "$before" ]
	[ "$(clusterctl list --json | json_get '[r["id"] for r in d if r["name"]=="new"][0]')" = "$id" ]
	run clusterctl describe old
	assert_failure 3
	tr '\0' '\n' < "/proc/$(pid_of new 0)/environ" | grep -qx CLUSTERCTL_APP=new
	[ -e "$CLUSTERCTL_HOME/logs/new-out-0.log" ]
	# A taken or invalid name, or several apps, are refused; nothing changes.
	run clusterctl restart new --name other
	assert_failure
	assert_output --partial "an app named 'other' exists already"
	run clusterctl restart new --name 'a b'
	assert_failure
	run clusterctl restart all --name x
	assert_failure 2
	assert_output --partial "--name renames one app"
	all_status new online
	# --update-env and --name together.
	FOO=bar clusterctl restart new --name newer --update-env
	tr '\0' '\n' < "/proc/$(pid_of newer 0)/environ" | grep -qx FOO=bar
}

@test "pm2 start app.js of its stopped app starts that app again, as it was" {
	clusterctl start /bin/sleep --name nap -i 2 --listen-timeout 0 -- 1000
	clusterctl stop nap
	run clusterctl start /bin/sleep --name nap --listen-timeout 0 -- 1000
	assert_success
	all_status nap online
	[ "$(clusterctl list --json | json_get 'len(d)')" = 2 ]
	# With an instance running it is refused, and so is another script
	# under that name.
	clusterctl stop nap:1
	run clusterctl start /bin/sleep --name nap -- 1000
	assert_failure 1
	assert_output --partial "runs '/bin/sleep'"
	clusterctl stop nap
	run clusterctl start /bin/cat --name nap
	assert_failure 1
	assert_output --partial "exists already (restart it, use --name"
}
