#!/usr/bin/env bats
# Crash supervision: exponential backoff, crash-loop give-up, exit policy.

load helpers

# delays NAME: the restart delays the daemon chose, oldest first.
delays() {
	clusterctl describe "$1" --json |
		json_get "' '.join(str(e['restart_delay_ms']) for e in reversed(d[0]['processes'][0]['exits']))"
}

nexits() {
	clusterctl describe "$1" --json |
		json_get "len(d[0]['processes'][0]['exits'])"
}

@test "delays of a crash-at-once app grow by 1.5 up to the cap" {
	# Seven crashes, then it stays up: exactly seven delays, however
	# slow the machine (an endless crash loop outruns a slow poll).
	clusterctl start "$FIXTURES/crash.sh" --name c --no-wait \
		--exp-backoff-restart-delay 20 --max-backoff 100 --min-uptime 0 \
		-- "$BATS_TEST_TMPDIR/n" 3 3 3 3 3 3 3 up
	wait_until 20 eval '[ "$(nexits c)" -ge 7 ] && [ "$(status_of c 0)" = online ]'
	clusterctl stop c
	run delays c
	# 20, 30, 45, 67.5 -> 68, 101.25 capped to 100, then the cap.
	assert_output --regexp '^20 30 45 68 100 100 100'
	grep -q "c:0 exited with code 3 after [0-9]* ms; restart in 45 ms" \
		"$CLUSTERCTL_HOME/daemon.log"
}

@test "the defaults are d0 100 ms and factor 1.5" {
	clusterctl start "$FIXTURES/crash.sh" --name dflt --no-wait \
		-- "$BATS_TEST_TMPDIR/n" 1 1 1 up
	wait_until 20 eval '[ "$(nexits dflt)" -ge 3 ]'
	clusterctl stop dflt
	run delays dflt
	assert_output --regexp '^100 150 225'
}

@test "the backoff starts over after a stable run" {
	# Three crashes at once, then a run longer than --backoff-reset.
	clusterctl start "$FIXTURES/crash.sh" --name r --no-wait \
		--exp-backoff-restart-delay 20 --backoff-reset 300ms --min-uptime 0 \
		-- "$BATS_TEST_TMPDIR/n" 1 1 1 s0.5 1 1 up
	wait_until 30 eval '[ "$(nexits r)" -ge 6 ] && [ "$(status_of r 0)" = online ]'
	clusterctl stop r
	run delays r
	assert_output --regexp '^20 30 45 20 30'
}

@test "a waiting instance shows when its next start will be" {
	clusterctl start "$FIXTURES/crash.sh" --name w --no-wait \
		--restart-delay 60s -- "$BATS_TEST_TMPDIR/n" 1
	wait_until 10 eval '[ "$(status_of w 0)" = waiting ]'
	run clusterctl list --json
	[ "$(echo "$output" | json_get "d[0]['restart_delay_ms']")" -eq 60000 ]
	[ "$(echo "$output" | json_get "d[0]['next_start_at'] > d[0]['restart_delay_ms']")" = True ]
	run clusterctl describe w
	assert_output --partial "next start"
	assert_output --partial "delay 60000ms"
	# Stopping a waiting instance cancels its timer.
	clusterctl stop w
	[ "$(status_of w 0)" = stopped ]
}

@test "--restart-delay gives a fixed delay" {
	clusterctl start "$FIXTURES/crash.sh" --name fixed --no-wait \
		--restart-delay 30 --min-uptime 0 -- "$BATS_TEST_TMPDIR/n" 1
	wait_until 20 eval '[ "$(nexits fixed)" -ge 4 ]'
	clusterctl stop fixed
	run delays fixed
	assert_output --regexp '^30 30 30 30'
}

@test "after --max-restarts unstable restarts the instance is errored" {
	run clusterctl start "$FIXTURES/crash.sh" --name loop --restart-delay 0 \
		--max-restarts 3 -- "$BATS_TEST_TMPDIR/n" 1
	wait_until 20 eval '[ "$(status_of loop 0)" = errored ]'
	run clusterctl list --json
	[ "$(echo "$output" | json_get "d[0]['restarts']")" -eq 3 ]
	[ "$(cat "$BATS_TEST_TMPDIR/n")" -eq 4 ]
	assert_output --partial "given up"
	# Errored stays errored: no timer, no more starts.
	run clusterctl describe loop
	assert_output --partial "errored"
	grep -q "loop:0 .*given up" "$CLUSTERCTL_HOME/daemon.log"
}

@test "crashes after a stable run never count toward the give-up" {
	clusterctl start "$FIXTURES/crash.sh" --name stable --no-wait \
		--restart-delay 0 --max-restarts 1 --min-uptime 200ms \
		-- "$BATS_TEST_TMPDIR/n" 1 s0.3 1 s0.3 1 up
	wait_until 30 eval '[ "$(status_of stable 0)" = online ] && [ "$(cat "$BATS_TEST_TMPDIR/n")" -ge 6 ]'
	run clusterctl list --json
	[ "$(echo "$output" | json_get "d[0]['restarts']")" -eq 5 ]
}

@test "--no-autorestart leaves an exited instance stopped" {
	clusterctl start "$FIXTURES/crash.sh" --name once --no-wait \
		--no-autorestart -- "$BATS_TEST_TMPDIR/n" s0.1
	wait_until 10 eval '[ "$(status_of once 0)" = stopped ]'
	run clusterctl list --json
	[ "$(echo "$output" | json_get "d[0]['restarts']")" -eq 0 ]
	[ "$(echo "$output" | json_get "d[0]['exit_code']")" -eq 1 ]
	[ "$(cat "$BATS_TEST_TMPDIR/n")" -eq 1 ]
}

@test "--stop-exit-codes: those codes stop, others restart" {
	clusterctl start "$FIXTURES/crash.sh" --name codes --no-wait \
		--stop-exit-codes 0,42 --restart-delay 0 \
		-- "$BATS_TEST_TMPDIR/n" 1 42
	wait_until 10 eval '[ "$(status_of codes 0)" = stopped ]'
	run clusterctl list --json
	[ "$(echo "$output" | json_get "d[0]['exit_code']")" -eq 42 ]
	[ "$(echo "$output" | json_get "d[0]['restarts']")" -eq 1 ]
	grep -q "a stop exit code" "$CLUSTERCTL_HOME/daemon.log"
}

@test "a stop by the user never triggers a restart" {
	clusterctl start /bin/sleep --name quiet -- 1000
	clusterctl stop quiet
	run clusterctl list --json
	[ "$(echo "$output" | json_get "d[0]['restarts']")" -eq 0 ]
	[ "$(echo "$output" | json_get "d[0]['status']")" = stopped ]
	! grep -q "restart in" "$CLUSTERCTL_HOME/daemon.log"
}

@test "an exit by signal is recorded as a signal, not an exit code" {
	clusterctl start "$FIXTURES/crash.sh" --name sig --no-wait \
		--no-autorestart -- "$BATS_TEST_TMPDIR/n" TERM
	wait_until 10 eval '[ "$(status_of sig 0)" = stopped ]'
	run clusterctl list --json
	[ "$(echo "$output" | json_get "d[0]['exit_signal']")" = SIGTERM ]
	[ "$(echo "$output" | json_get "d[0]['exit_code']")" = None ]
	run clusterctl describe sig
	assert_output --partial "signal SIGTERM"
	refute_output --partial "code"
	grep -q "was killed by SIGTERM" "$CLUSTERCTL_HOME/daemon.log"
}

@test "reset clears counters and backoff and starts an errored instance" {
	clusterctl start "$FIXTURES/crash.sh" --name re --no-wait \
		--restart-delay 0 --max-restarts 2 -- "$BATS_TEST_TMPDIR/n" 1 1 1 up
	wait_until 20 eval '[ "$(status_of re 0)" = errored ]'
	run clusterctl reset re
	assert_success
	wait_until 10 eval '[ "$(status_of re 0)" = online ]'
	run clusterctl describe re --json
	[ "$(echo "$output" | json_get "d[0]['processes'][0]['restarts']")" -eq 0 ]
	[ "$(echo "$output" | json_get "d[0]['processes'][0]['unstable_restarts']")" -eq 0 ]
}

@test "a manual restart clears the backoff" {
	clusterctl start "$FIXTURES/crash.sh" --name mr --no-wait \
		--exp-backoff-restart-delay 20 --min-uptime 0 \
		-- "$BATS_TEST_TMPDIR/n" 1 1 1 1 up
	wait_until 20 eval '[ "$(nexits mr)" -ge 3 ]'
	run clusterctl describe mr --json
	[ "$(echo "$output" | json_get "d[0]['processes'][0]['consecutive_crashes']")" -ge 3 ]
	clusterctl restart mr --no-wait
	run clusterctl describe mr --json
	[ "$(echo "$output" | json_get "d[0]['processes'][0]['consecutive_crashes']")" -le 1 ]
}

@test "a crash loop of many instances leaves the daemon answering" {
	clusterctl start "$FIXTURES/crash.sh" --name many -i 8 --no-wait \
		--exp-backoff-restart-delay 10 --max-backoff 200ms --min-uptime 0 \
		-- "$BATS_TEST_TMPDIR/n" 1
	daemon=$(cat "$CLUSTERCTL_HOME/daemon.pid")
	wait_until 30 eval '[ "$(clusterctl describe many --json | json_get "min(len(p[\"exits\"]) for p in d[0][\"processes\"])")" -ge 5 ]'
	alive "$daemon"
	clusterctl ping
	run clusterctl delete many
	assert_success
}

# reason_of NAME INSTANCE: restart_reason from list --json ("None": null).
reason_of() {
	clusterctl list --json |
		json_get "[r['restart_reason'] for r in d if r['name']=='$1' and r['instance']==$2][0]"
}

@test "every restart says why: crash, manual, scale; a plain start says none" {
	clusterctl start "$FIXTURES/crash.sh" --name why \
		--exp-backoff-restart-delay 20 --min-uptime 0 \
		-- "$BATS_TEST_TMPDIR/n" up
	run reason_of why 0
	assert_output "None"
	kill -KILL "$(pid_of why 0)"
	wait_until 20 eval '[ "$(reason_of why 0)" = crash ] && [ "$(status_of why 0)" = online ]'
	run clusterctl describe why
	assert_output --partial "(crash)"
	clusterctl restart why
	run reason_of why 0
	assert_output "manual"
	run clusterctl describe why --json
	[ "$(echo "$output" | json_get "d[0]['processes'][0]['restarted_at'] > 0")" = True ]
	clusterctl scale why 2
	run reason_of why 1
	assert_output "scale"
	clusterctl stop why
	clusterctl start why
	run reason_of why 0
	assert_output "None"
}
