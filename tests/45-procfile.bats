#!/usr/bin/env bats
# Process files: pm2 ecosystem files (JSON, YAML, .config.js in CommonJS and
# ESM), Procfiles and stdin; --only, --env; the environment after a reload
# from the file; --update-env; apply; validate; errors that start nothing.

load helpers

local_teardown() {
	[ -n "$loader" ] && kill "$loader" 2>/dev/null
	return 0
}

# What runs, one line per app: name, instance count, argv, GREETING.
summary() {
	clusterctl describe all --json | json_get "'\n'.join(sorted('%s %d %s %s' % (a['name'], a['instances'], ' '.join(a['argv']), a['env'].get('GREETING', '-')) for a in d))"
}

# The same two apps, as each format says them.
expected="web 1 sleep 1000 hello
worker 1 sleep 2000 -"

write_json() {
	cat >"${1:-eco.json}" <<'J'
{
  // comments are allowed
  "apps": [
    { "name": "web", "script": "sleep", "args": "1000",
      "listen_timeout": 0, "env": { "GREETING": "hello" } },
    { "name": "worker", "script": "sleep", "args": ["2000"],
      "listen_timeout": "0s" }
  ]
}
J
}

# env_of NAME INSTANCE VAR: VAR in the running process's environment.
env_of() {
	tr '\0' '\n' <"/proc/$(pid_of "$1" "$2")/environ" | sed -n "s/^$3=//p"
}

@test "a JSON process file starts its apps" {
	write_json
	run clusterctl start eco.json
	assert_success
	assert_output --partial "web:0"
	[ "$(summary)" = "$expected" ]
	[ "$(clusterctl describe web --json | json_get "d[0]['process_file']")" = "$PWD/eco.json" ]
}

@test "a YAML process file starts the same apps" {
	cat >eco.yaml <<'Y'
defaults: &defaults
  listen_timeout: 0
apps:
  - name: web
    script: sleep
    args: 1000
    <<: *defaults
    env:
      GREETING: hello
  - name: worker
    script: sleep
    args: ['2000']
    <<: *defaults
Y
	run clusterctl start eco.yaml
	assert_success
	[ "$(summary)" = "$expected" ]
}

@test "an ecosystem.config.js in CommonJS starts the same apps" {
	cat >ecosystem.config.js <<'J'
console.log('a config that prints');
const greeting = ['hel', 'lo'].join('');
module.exports = {
  apps: [
    { name: 'web', script: 'sleep', args: '1000', listen_timeout: 0,
      env: { GREETING: greeting } },
    { name: 'worker', script: 'sleep', args: ['2000'], listen_timeout: 0 },
  ],
};
J
	run clusterctl start ecosystem.config.js
	assert_success
	[ "$(summary)" = "$expected" ]
	# what the file prints goes to stderr, never into --json
	clusterctl validate ecosystem.config.js --json 2>/dev/null | json_get "len(d['apps'])"
}

@test "an ESM process file (.mjs, and export default in .config.js) starts the same apps" {
	cat >ecosystem.config.mjs <<'J'
export default {
  apps: [
    { name: 'web', script: 'sleep', args: '1000', listen_timeout: 0,
      env: { GREETING: process.env.FROM_SHELL } },
    { name: 'worker', script: 'sleep', args: ['2000'], listen_timeout: 0 },
  ],
};
J
	FROM_SHELL=hello run clusterctl start ecosystem.config.mjs
	assert_success
	[ "$(summary)" = "$expected" ]
	clusterctl delete all
	mkdir esm && sed 's/process.env.FROM_SHELL/"hello"/' ecosystem.config.mjs >esm/app.config.js
	run clusterctl start esm/app.config.js
	assert_success
	[ "$(summary)" = "$expected" ]
}

@test "a Procfile with a .env beside it starts the same apps" {
	mkdir proj
	printf '# foreman style\nweb: sleep 1000\nworker:   sleep 2000\n' >proj/Procfile
	printf 'export GREETING="hello"\n' >proj/.env
	run clusterctl start proj/Procfile --no-wait
	assert_success
	[ "$(clusterctl describe all --json | json_get "'\n'.join(sorted('%s %d %s' % (a['name'], a['instances'], ' '.join(a['argv'])) for a in d))")" = "web 1 sleep 1000
worker 1 sleep 2000" ]
	[ "$(clusterctl describe web --json | json_get "d[0]['env']['GREETING'], d[0]['env_source']['GREETING']")" = "('hello', '.env')" ]
}

@test "start - reads a process file on stdin" {
	write_json
	run clusterctl start - <eco.json
	assert_success
	[ "$(summary)" = "$expected" ]
	clusterctl delete all
	printf 'web: sleep 1000\n' | clusterctl start - --no-wait
	[ "$(clusterctl describe web --json | json_get "' '.join(d[0]['argv'])")" = "sleep 1000" ]
}

@test "--only starts some apps; --env NAME takes env_NAME over env" {
	cat >eco.json <<'J'
{ "apps": [
  { "name": "web", "script": "sleep", "args": "1000", "listen_timeout": 0,
    "env": { "GREETING": "hello", "A": "1" },
    "env_production": { "GREETING": "prod" } },
  { "name": "worker", "script": "sleep", "args": "2000", "listen_timeout": 0 }
] }
J
	run clusterctl start eco.json --only web --env production
	assert_success
	[ "$(clusterctl list --json | json_get "' '.join(sorted(set(r['name'] for r in d)))")" = web ]
	[ "$(env_of web 0 GREETING)" = prod ]
	[ "$(env_of web 0 A)" = 1 ]
	[ "$(clusterctl describe web --json | json_get "d[0]['env_source']['GREETING']")" = env_production ]
	run clusterctl describe web
	assert_output --partial "GREETING=prod (env_production)"
	run clusterctl start eco.json --only nosuch
	assert_failure
	assert_output --partial "--only names 'nosuch'"
}

@test "a variable removed from the file is gone after a reload from the file" {
	cat >eco.json <<'J'
{ "apps": [ { "name": "web", "script": "sleep", "args": "1000", "instances": 2,
  "listen_timeout": 0, "env": { "KEEP": "1", "DROP": "2" } } ] }
J
	clusterctl start eco.json
	[ "$(env_of web 0 DROP)" = 2 ]
	before=$(pid_of web 0)
	sed -i 's/, "DROP": "2"//; s/"KEEP": "1"/"KEEP": "3"/' eco.json
	run clusterctl reload eco.json
	assert_success
	[ "$(pid_of web 0)" != "$before" ]
	for i in 0 1; do
		[ "$(env_of web $i KEEP)" = 3 ]
		[ -z "$(env_of web $i DROP)" ]
	done
	# restart from the file too
	sed -i 's/"KEEP": "3"/"KEEP": "4"/' eco.json
	clusterctl restart eco.json
	[ "$(env_of web 1 KEEP)" = 4 ]
}

@test "restart --update-env takes the caller's environment, as pm2 does" {
	FOO=1 clusterctl start sleep --name s --listen-timeout 0 --env SET=cli -- 1000
	FOO=2 clusterctl restart s
	[ "$(env_of s 0 FOO)" = 1 ]
	FOO=2 clusterctl restart s --update-env
	[ "$(env_of s 0 FOO)" = 2 ]
	# what --env set at start stays
	[ "$(env_of s 0 SET)" = cli ]
	FOO=3 clusterctl reload s --update-env
	[ "$(env_of s 0 FOO)" = 3 ]
}

@test "stop, restart and delete act on the file's apps" {
	write_json
	clusterctl start eco.json
	clusterctl start sleep --name other --listen-timeout 0 -- 1000
	run clusterctl stop eco.json
	assert_success
	[ "$(status_of web 0)" = stopped ]
	[ "$(status_of other 0)" = online ]
	clusterctl restart eco.json
	[ "$(status_of worker 0)" = online ]
	run clusterctl delete eco.json
	assert_success
	assert_output --partial "deleted web"
	[ "$(clusterctl list --json | json_get "' '.join(r['name'] for r in d)")" = other ]
}

@test "startOrRestart and startOrReload start what is missing and refresh the rest" {
	write_json
	clusterctl start eco.json --only web
	web=$(pid_of web 0)
	run clusterctl startOrReload eco.json
	assert_success
	[ "$(pid_of web 0)" != "$web" ]
	[ "$(status_of worker 0)" = online ]
	worker=$(pid_of worker 0)
	run clusterctl startOrRestart eco.json
	assert_success
	[ "$(pid_of worker 0)" != "$worker" ]
	run clusterctl startOrGracefulReload eco.json
	assert_success
	run clusterctl startOrRestart nosuch.js
	assert_failure 2
	assert_output --partial "not a process file"
}

# apply_file PORT VERSION: web (2 instances, node), worker, and a third app
apply_file() {
	cat >eco.json <<J
{ "apps": [
  { "name": "web", "script": "$EXAMPLES/node/server.js", "instances": $3,
    "env": { "PORT": "$1", "VERSION": "$2" } },
  { "name": "worker", "script": "sleep", "args": "1000", "listen_timeout": 0 },
  { "name": "$4", "script": "sleep", "args": "1001", "listen_timeout": 0 }
] }
J
}

@test "apply starts, reloads under load without a failed request, deletes and leaves alone" {
	port=$(free_port)
	apply_file "$port" 1 2 old
	run clusterctl apply eco.json
	assert_success
	assert_line "+ start web"
	assert_line "+ start old"
	clusterctl start sleep --name mine --listen-timeout 0 -- 1000
	worker=$(pid_of worker 0)
	web="$(pid_of web 0) $(pid_of web 1)"

	apply_file "$port" 2 3 new
	run clusterctl apply eco.json --dry-run
	assert_success
	assert_line "~ reload web (instances 2 -> 3, env VERSION)"
	assert_line "= keep worker"
	assert_line "+ start new"
	assert_line "- delete old"
	run clusterctl apply eco.json --dry-run --json
	[ "$(echo "$output" | json_get "[s['action'] for s in d['plan']]")" = "['reload', 'keep', 'start', 'delete']" ]
	# --dry-run changed nothing
	[ "$(pid_of web 0) $(pid_of web 1)" = "$web" ]
	[ "$(status_of old 0)" = online ]

	python3 "$FIXTURES/load.py" "$port" "$BATS_TEST_TMPDIR/load" \
		"$BATS_TEST_TMPDIR/load.stop" &
	loader=$!
	wait_until 20 test -e "$BATS_TEST_TMPDIR/load.started"
	run clusterctl apply eco.json
	assert_success
	assert_output --partial "applied: 1 started, 1 reloaded, 1 deleted, 1 unchanged"
	after="$(pid_of web 0) $(pid_of web 1) $(pid_of web 2)"
	echo "$after" >"$BATS_TEST_TMPDIR/load.stop"
	wait "$loader"
	loader=
	[ "$(json_get "d['failed']" <"$BATS_TEST_TMPDIR/load")" -eq 0 ]
	for p in $web; do [[ " $after " != *" $p "* ]]; done
	[ "$(env_of web 2 VERSION)" = 2 ]
	[ "$(pid_of worker 0)" = "$worker" ]
	[ "$(status_of new 0)" = online ]
	[ "$(status_of mine 0)" = online ]
	run clusterctl describe old
	assert_failure 3
	# the file is the state: apply again does nothing
	run clusterctl apply eco.json
	assert_output --partial "applied: 0 started, 0 reloaded, 0 deleted, 3 unchanged"
}

@test "a JSON syntax error names the line and starts nothing" {
	printf '{ "apps": [\n  { "name": "web", "script": "sleep" },\n  { "name": "x" "script": "sleep" }\n] }\n' >bad.json
	run clusterctl start bad.json
	assert_failure 2
	assert_output --partial "bad.json: line 3"
	[ ! -S "$CLUSTERCTL_HOME/sock" ]
}

@test "a Procfile or .env that is not UTF-8, an empty export, a number too large: an error naming the line (fuzz findings)" {
	mkdir a b
	printf 'web: sleep 1000\nworker: sleep \351t\351\n' >a/Procfile
	run clusterctl validate a/Procfile
	assert_failure 2
	assert_output --partial "line 2: not UTF-8 text"
	printf 'web: sleep 1000\n' >b/Procfile
	printf 'export \n\nGREETING=hello\n' >b/.env
	run clusterctl validate b/Procfile
	assert_failure 2
	assert_output --partial ".env: line 1: say KEY=VALUE"
	printf 'A=\351\n' >b/.env
	run clusterctl validate b/Procfile
	assert_failure 2
	assert_output --partial ".env: line 1: not UTF-8 text"
	# A number past a whole number's range is refused, never cast.
	printf 'apps:\n  - name: web\n    script: sleep\n    instances: 1e40\n' >big.yaml
	run clusterctl validate big.yaml
	assert_failure 2
	assert_output --partial "big.yaml:4: app 'web': 'instances': say a number, or 'max' (one per CPU), not a fraction or a number too large"
	[ ! -S "$CLUSTERCTL_HOME/sock" ]
}

@test "a YAML syntax error names the line" {
	printf 'apps:\n  - name: web\n    script: [sleep\n' >bad.yaml
	run clusterctl validate bad.yaml
	assert_failure 2
	assert_output --regexp "bad.yaml: line [34]"
}

@test "a wrong type names the file, line, app and field, and starts nothing" {
	printf 'apps:\n  - name: web\n    script: sleep\n    args: "1000"\n  - name: api\n    script: sleep\n    instances: lots\n' >bad.yaml
	run clusterctl start bad.yaml
	assert_failure 2
	assert_output --partial "bad.yaml:7: app 'api': 'instances': say a number, or 'max'"
	assert_output --partial "nothing was done"
	run clusterctl list --json
	[ "$output" = "[]" ]
}

@test "a value the daemon refuses names the app, and starts nothing" {
	printf '{"apps": [{"name": "web", "script": "sleep", "args": "1000"},\n {"name": "api", "script": "/nonexistent/x", "interpreter": "none"}]}\n' >bad.json
	run clusterctl start bad.json
	assert_failure
	assert_output --partial "bad.json: app 'api': cannot execute '/nonexistent/x'"
	run clusterctl list --json
	[ "$output" = "[]" ]
}

@test "an unknown field warns, naming it, and the app starts" {
	printf '{"apps": [{"name": "web", "script": "sleep", "args": "1000",\n "listen_timeout": 0, "colour": "blue"}]}\n' >eco.json
	run clusterctl start eco.json
	assert_success
	assert_output --partial "warning: eco.json:2: app 'web': 'colour': unknown field; ignored"
	[ "$(status_of web 0)" = online ]
}

@test "a missing script and duplicate names are errors" {
	printf 'apps:\n  - name: web\n    args: 1\n' >a.yaml
	run clusterctl validate a.yaml
	assert_failure 2
	assert_output --partial "a.yaml:2: app 'web': no 'script'"
	printf 'apps:\n  - name: web\n    script: sleep\n  - name: web\n    script: sleep\n' >b.yaml
	run clusterctl start b.yaml
	assert_failure 2
	assert_output --partial "b.yaml:4: app 'web': 'name': 'web' is the name of another app"
	run clusterctl list --json
	[ "$output" = "[]" ]
}

@test "pm2's own example process file works unchanged" {
	cp "$FIXTURES/procfile/pm2-process.json" process.json
	port=$(free_port)
	echo "require('http').createServer((q, r) => r.end(process.env.NODE_ENV)).listen(process.env.PORT)" >http.js
	echo "setInterval(() => {}, 1000)" >worker.js
	printf 'while true; do sleep 1; done\n' >connection_check.sh
	PORT=$port run clusterctl start process.json --env production
	assert_success
	refute_output --partial "not supported"
	[ "$(curl -sf "http://127.0.0.1:$port/")" = production ]
	[ "$(clusterctl describe HTTP-API --json | json_get "d[0]['max_memory_restart']")" -gt 0 ]
	[ "$(clusterctl describe HTTP-API --json | json_get "d[0]['instances'] == len(__import__('os').sched_getaffinity(0))")" = True ]
	wait_until 20 all_status Checks online
	wait_until 20 all_status Worker online
}

@test "a .config.js without node installed names node" {
	echo "module.exports = { apps: [] }" >ecosystem.config.js
	mkdir bin
	PATH=$PWD/bin run "$CLUSTERCTL_BIN" start ecosystem.config.js
	assert_failure
	assert_output --partial "node is not installed"
}

@test "validate checks a file and starts nothing; init writes one that validates" {
	run clusterctl init
	assert_success
	[ -f ecosystem.config.js ]
	run clusterctl init
	assert_failure
	assert_output --partial "--force"
	run clusterctl validate ecosystem.config.js
	assert_failure
	assert_output --partial "app 'web': cannot read"
	touch server.js worker.js
	run clusterctl validate ecosystem.config.js --env production
	assert_success
	assert_output --partial "2 apps (web, worker)"
	run clusterctl list --json
	[ "$output" = "[]" ]
	clusterctl init eco.yaml
	clusterctl init eco.json
	run clusterctl validate eco.yaml
	assert_success
	run clusterctl validate eco.json
	assert_success
}

@test "a namespace works as a target" {
	clusterctl start sleep --name a --namespace batch --listen-timeout 0 -- 1000
	clusterctl start sleep --name b --namespace batch --listen-timeout 0 -- 1000
	clusterctl start sleep --name c --listen-timeout 0 -- 1000
	run clusterctl stop batch
	assert_success
	[ "$(status_of a 0)" = stopped ]
	[ "$(status_of b 0)" = stopped ]
	[ "$(status_of c 0)" = online ]
	printf 'apps:\n  - name: d\n    script: sleep\n    args: 1000\n    namespace: batch\n    listen_timeout: 0\n' >ns.yaml
	clusterctl start ns.yaml
	run clusterctl restart batch
	assert_success
	[ "$(status_of a 0)" = online ]
}

@test "--node-args and interpreter_args go to the interpreter" {
	echo "setInterval(() => {}, 1000)" >app.js
	clusterctl start app.js --node-args "--max-old-space-size=100 --no-warnings" --listen-timeout 0
	[ "$(clusterctl describe app --json | json_get "' '.join(d[0]['argv'][1:3])")" = "--max-old-space-size=100 --no-warnings" ]
	tr '\0' ' ' <"/proc/$(pid_of app 0)/cmdline" | grep -q -- "--max-old-space-size=100 --no-warnings $PWD/app.js"
	printf 'apps:\n  - name: b\n    script: app.js\n    node_args: [--no-warnings]\n    instances: "1"\n    listen_timeout: 0\n' >eco.yaml
	clusterctl start eco.yaml
	[ "$(clusterctl describe b --json | json_get "d[0]['argv'][1]")" = "--no-warnings" ]
}

@test "completion offers process files, and --env names and --only apps from the file" {
	printf 'apps:\n  - name: api\n    script: sleep\n    env_production: {A: 1}\n    env_staging: {A: 2}\n' >eco.yaml
	touch server.js
	run clusterctl __complete -- stop ""
	assert_line eco.yaml
	refute_line server.js
	run clusterctl __complete -- start eco.yaml --env ""
	assert_line production
	assert_line staging
	run clusterctl __complete -- apply eco.yaml --only ""
	assert_line api
	[ ! -S "$CLUSTERCTL_HOME/sock" ]
}

@test "--env NAME and --only without a process file are usage errors" {
	run clusterctl start sleep --env production -- 1
	assert_failure 2
	assert_output --partial "an environment's name is for a process file"
	run clusterctl restart web --only web
	assert_failure 2
	assert_output --partial "--env and --only are for a process file"
	run clusterctl stop web --only web
	assert_failure 2
	[ ! -S "$CLUSTERCTL_HOME/sock" ]
}
