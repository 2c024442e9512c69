#!/usr/bin/env bats
# The CLI for people and scripts: help generated from the command table,
# the man page, exit codes, --json, -q, colour only on a terminal, wait.

load helpers

REPO=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

# The visible commands, as --help lists them.
commands() {
	clusterctl --help | sed -n '/^Commands:/,/^$/p' | awk 'NF > 1 { print $1 }'
}

# in_pty COMMAND...: run COMMAND with stdout and stderr on a terminal and
# print what it wrote there.
in_pty() {
	python3 - "$@" <<'PY'
import os, pty, sys
pid, fd = pty.fork()
if pid == 0:
    os.execvp(sys.argv[1], sys.argv[1:])
out = b""
while True:
    try:
        b = os.read(fd, 4096)
    except OSError:
        break
    if not b:
        break
    out += b
os.waitpid(pid, 0)
sys.stdout.write(out.decode("utf-8", "replace"))
PY
}

is_json() {
	python3 -c 'import json, sys; json.load(sys.stdin)'
}

@test "--help lists every command of the table, with usage" {
	run clusterctl --help
	assert_success
	assert_line --partial "usage: clusterctl <command>"
	for c in start stop restart delete reset list describe ping kill \
	    version help wait completion; do
		assert_line --regexp "^  $c "
	done
	refute_output --partial "__complete"
	refute_output --partial "__man"
}

@test "clusterctl alone prints the help on stderr and exits 2" {
	run clusterctl
	assert_failure 2
	assert_output --partial "Commands:"
}

@test "help CMD and CMD --help give usage, options with defaults and an example" {
	local c
	for c in $(commands); do
		run clusterctl help "$c"
		assert_success
		assert_line --regexp "^usage: clusterctl $c"
		assert_line "Example:"
		assert_line --partial "--json"
		help_out=$output
		run clusterctl "$c" --help
		assert_success
		[ "$output" = "$help_out" ]
	done
}

@test "every flag that takes a value shows its default in the help" {
	local c
	for c in $(commands); do
		clusterctl help "$c" | python3 -c '
import re, sys
lines = sys.stdin.read().split("\n")
bad = []
for i, l in enumerate(lines):
    m = re.match(r"^  (-\w, )?\s*(--[\w-]+) ([A-Z][A-Z=_]*)(\s+(.*))?$", l)
    if not m:
        continue
    # The text, with its wrapped continuation lines.
    text = m.group(5) or ""
    for l2 in lines[i + 1:]:
        if not l2.startswith(" " * 32):
            break
        text += " " + l2.strip()
    if "default" not in text:
        bad.append(m.group(2))
if bad:
    print("'"$c"': no default for " + " ".join(bad))
    sys.exit(1)
'
	done
}

@test "flags with fixed choices list them in the help" {
	run clusterctl help start
	assert_success
	assert_line --regexp "^ +values: max -1"
}

@test "a mistyped command gets 'did you mean' and exit 2" {
	run clusterctl restrat web
	assert_failure 2
	assert_line "clusterctl: unknown command 'restrat'"
	assert_line "Did you mean 'restart'?"
	run clusterctl lsit
	assert_failure 2
	assert_line "Did you mean 'list'?"
	run clusterctl help stpo
	assert_failure 2
	assert_line "Did you mean 'stop'?"
	run clusterctl zzzzzzzz
	assert_failure 2
	refute_output --partial "Did you mean"
}

@test "a unique prefix or an alias runs the command" {
	run clusterctl vers
	assert_success
	assert_output --partial "clusterctl "
	run clusterctl ls
	assert_success
	assert_output --partial "no apps"
}

@test "usage errors exit 2 and name what is wrong" {
	run clusterctl list --bogus
	assert_failure 2
	assert_line "clusterctl: unknown option '--bogus'"
	run clusterctl stop
	assert_failure 2
	assert_output --partial "'stop' needs a target"
	run clusterctl start /bin/sleep -i zero
	assert_failure 2
	assert_output --partial "invalid instance count 'zero'"
	run clusterctl start /bin/sleep --kill-timeout soon
	assert_failure 2
	assert_output --partial "invalid duration 'soon' for --kill-timeout"
	run clusterctl wait web --timeout later
	assert_failure 2
	assert_output --partial "'later'"
	run clusterctl completion tcsh
	assert_failure 2
	assert_output --partial "'tcsh'"
}

@test "an unknown target exits 3 and names it" {
	clusterctl ping -q
	for c in stop restart reset delete describe wait; do
		run clusterctl "$c" nosuchapp
		assert_failure 3
		assert_output --partial "'nosuchapp'"
	done
}

@test "wait without a daemon exits 4 at once and starts none" {
	run clusterctl wait web
	assert_failure 4
	assert_output --partial "no daemon is running"
	[ ! -S "$CLUSTERCTL_HOME/sock" ]
}

@test "a program that cannot be executed exits 1 and names it" {
	printf '#!/bin/sh\n' > noexec.sh
	chmod 644 noexec.sh
	run clusterctl start ./noexec.sh --interpreter none
	assert_failure 1
	assert_output --partial "noexec.sh"
}

@test "wait exits 0 once every instance is online, with the table or JSON" {
	clusterctl start /bin/sleep --name nap -i 2 --no-wait -q -- 1000
	run clusterctl wait nap
	assert_success
	assert_line --partial "nap:1"
	run clusterctl wait nap:0 --json
	assert_success
	echo "$output" | is_json
	n=$(echo "$output" | json_get "len([r for r in d if r['status']=='online'])")
	[ "$n" -eq 2 ]
	run clusterctl wait nap -q
	assert_success
	assert_output ""
}

@test "wait exits 5 on timeout, naming what it waited for" {
	# Exits at once, then waits a minute in backoff: never online.
	clusterctl start /bin/false --name flaky --restart-delay 60s --no-wait -q
	wait_until 10 all_status flaky waiting
	run clusterctl wait flaky --timeout 200ms
	assert_failure 5
	assert_output --partial "timed out after 200ms waiting for 'flaky'"
}

@test "wait exits 6 for an errored instance and for a stopped one" {
	clusterctl start /bin/false --name broken --max-restarts 0 --no-wait -q
	wait_until 10 all_status broken errored
	run clusterctl wait broken --timeout 10s
	assert_failure 6
	assert_output --partial "broken:0 is errored"
	clusterctl start /bin/sleep --name nap -q -- 1000
	clusterctl stop nap -q
	run clusterctl wait nap --timeout 10s
	assert_failure 6
	assert_output --partial "nap:0 is stopped"
}

@test "start and restart exit 6 when an instance fails before it is online" {
	printf '#!/nonexistent/interpreter\n' > badshebang
	chmod 755 badshebang
	run clusterctl start ./badshebang --interpreter none
	assert_failure 6
	assert_output --partial "badshebang:0 cannot execute"
	run clusterctl restart badshebang
	assert_failure 6
	assert_output --partial "badshebang:0"
}

@test "--json prints one JSON document for every command that reports" {
	run clusterctl version --json
	assert_success
	echo "$output" | is_json
	for args in "ping" "start /bin/sleep --name nap -i 2 -- 1000" "list" \
	    "describe nap" "wait nap" "restart nap" "reset nap" "stop nap:1" \
	    "delete nap" "kill" "kill"; do
		set -- $args
		run clusterctl "$1" --json "${@:2}"
		assert_success
		echo "$output" | is_json || {
			echo "not JSON from '$args': $output"
			return 1
		}
	done
}

@test "-q prints nothing but errors" {
	for args in "ping" "start /bin/sleep --name nap -- 1000" "list" \
	    "describe nap" "wait nap" "restart nap" "reset nap" "stop nap" \
	    "delete nap" "version" "kill"; do
		set -- $args
		run clusterctl "$1" -q "${@:2}"
		assert_success
		[ -z "$output" ] || {
			echo "'$args -q' printed: $output"
			return 1
		}
	done
	run clusterctl stop nosuchapp -q
	assert_failure 3
	assert_output --partial "nosuchapp"
}

@test "colour only on a terminal, and never with NO_COLOR or --no-color" {
	clusterctl start /bin/sleep --name nap -q -- 1000
	esc=$'\033['
	unset NO_COLOR
	run clusterctl list
	assert_success
	[[ $output != *"$esc"* ]]
	run in_pty "$CLUSTERCTL_BIN" list
	[[ $output == *"$esc"* ]]
	run in_pty "$CLUSTERCTL_BIN" list --no-color
	[[ $output == *online* && $output != *"$esc"* ]]
	NO_COLOR=1 run in_pty "$CLUSTERCTL_BIN" describe nap
	[[ $output == *online* && $output != *"$esc"* ]]
	run clusterctl describe nap
	[[ $output == *online* && $output != *"$esc"* ]]
}

@test "nothing waits for input without a terminal" {
	clusterctl start /bin/sleep --name nap -q -- 1000
	for args in "list" "describe nap" "stop nap" "delete nap" "kill"; do
		run timeout 20 "$CLUSTERCTL_BIN" $args < /dev/null
		assert_success
	done
}

@test "__man gives every command and flag of the table in scdoc" {
	run clusterctl __man
	assert_success
	for c in $(commands); do
		assert_line --regexp "^\*clusterctl $c\*"
	done
	assert_output --partial "*--kill-signal* _SIG_"
	assert_output --partial "*-t*, *--timeout* _DURATION_"
	assert_line "# COMMON OPTIONS"
}

@test "make builds the man page with the command list" {
	local man=${CLUSTERCTL_BIN%/clusterctl}/clusterctl.1
	[ -s "$man" ]
	grep -q '^\.TH "clusterctl" "1"' "$man"
	for c in $(commands); do
		grep -q "clusterctl $c" "$man"
	done
	grep -q 'exp-backoff-restart-delay' "$man"
	run man -l "$man"
	[ "$status" -ne 0 ] || assert_output --partial "EXIT STATUS"
}

@test "make install puts binary, man page and completions in the standard places" {
	local b
	b=$(basename "$(dirname "$CLUSTERCTL_BIN")")
	run make -C "$REPO" --no-print-directory -s install BUILD="$b" \
	    PREFIX=/usr DESTDIR="$BATS_TEST_TMPDIR/root"
	assert_success
	r=$BATS_TEST_TMPDIR/root/usr
	[ -x "$r/bin/clusterctl" ]
	[ -s "$r/share/man/man1/clusterctl.1" ]
	cmp "$r/share/bash-completion/completions/clusterctl" \
	    "$REPO/completions/clusterctl.bash"
	cmp "$r/share/zsh/site-functions/_clusterctl" "$REPO/completions/_clusterctl"
	cmp "$r/share/fish/vendor_completions.d/clusterctl.fish" \
	    "$REPO/completions/clusterctl.fish"
}

@test "stop and wait answer when the last change happens as handles close" {
	# Ignores SIGINT: stopped by SIGKILL after the kill timeout; the
	# daemon must still wake its waiters (it used to sleep in poll).
	printf '#!/bin/sh\ntrap "" INT\nsleep 1000 &\nwait $!\n' > stubborn.sh
	chmod 755 stubborn.sh
	clusterctl start ./stubborn.sh --kill-timeout 200ms -q
	run timeout 20 "$CLUSTERCTL_BIN" stop stubborn
	assert_success
	assert_output --partial "stopped"
	run timeout 20 "$CLUSTERCTL_BIN" wait stubborn --timeout 0
	assert_failure 6
}

@test "start NAME, ID or NAME:N starts stopped apps again and waits" {
	clusterctl start /bin/sleep --name nap -i 2 -q -- 1000
	clusterctl stop nap -q
	run clusterctl start nap
	assert_success
	wait_until 5 all_status nap online
	clusterctl stop nap:1 -q
	run clusterctl start nap:1 --json
	assert_success
	echo "$output" | is_json
	wait_until 5 all_status nap online
	clusterctl stop all -q
	run clusterctl start 0 -q
	assert_success
	assert_output ""
	all_status nap online
	run clusterctl start nosuch:1
	assert_failure
}
