#!/usr/bin/env bats
# Shell completion, driven for real: bash's programmable completion
# (COMP_WORDS/COMP_CWORD and the completion function), fish's
# `complete -C`, and zsh's function with a compadd that records.  Every
# word comes from the command table through `clusterctl __complete`.

load helpers

REPO=$(cd "$BATS_TEST_DIRNAME/.." && pwd)

local_setup() {
	# The scripts call `clusterctl` as typed: the one under test.
	PATH=$(dirname "$CLUSTERCTL_BIN"):$PATH
	export PATH
}

# bash_complete WORD...: COMPREPLY, one a line, for the line WORD... with
# the cursor at the end of the last word ("" for a new word).
bash_complete() {
	bash --norc --noprofile -c '
		source <(clusterctl completion bash) || exit 1
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		COMP_LINE="$*"
		COMP_POINT=${#COMP_LINE}
		COMPREPLY=()
		_clusterctl clusterctl "${COMP_WORDS[COMP_CWORD]}" \
		    "${COMP_WORDS[COMP_CWORD-1]}"
		printf "%s\n" "${COMPREPLY[@]}"
	' bash "$@"
}

# fish_complete LINE: fish's candidates for LINE, words only.
fish_complete() {
	fish --no-config -c 'clusterctl completion fish | source
		complete -C"$argv[1]"' "$1" | cut -f1
}

# zsh_complete WORD...: what _clusterctl hands to compadd (and _files).
zsh_complete() {
	zsh -f -c '
		source <(clusterctl completion zsh) || exit 1
		compadd() { print -rl -- "${@[$(( ${@[(i)--]} + 1 )),-1]}" }
		compset() { : }
		_files() { print -r -- "_files $*" }
		words=("$@")
		CURRENT=${#words}
		_clusterctl
	' zsh "$@"
}

# The visible commands and their aliases, from --help and help CMD.
all_command_words() {
	local c
	for c in $(clusterctl --help | sed -n '/^Commands:/,/^$/p' |
	    awk 'NF > 1 { print $1 }'); do
		echo "$c"
		clusterctl help "$c" | sed -n 's/^Aliases: //p' | tr ' ' '\n'
	done
}

# The long flags of a command, from its help.
help_flags() {
	clusterctl help "$1" | grep -oE '^  (-[a-zA-Z], )? *--[a-z][a-z-]*' |
		grep -oE -- '--[a-z-]+'
}

start_nap() {
	clusterctl start /bin/sleep --name nap -i 2 -q -- 1000
	clusterctl start /bin/sleep --name web -q -- 1000
}

@test "completion SHELL prints the scripts of completions/ (embedded)" {
	run clusterctl completion bash
	assert_success
	[ "$output" = "$(cat "$REPO/completions/clusterctl.bash")" ]
	[ "$(clusterctl completion zsh)" = "$(cat "$REPO/completions/_clusterctl")" ]
	[ "$(clusterctl completion fish)" = "$(cat "$REPO/completions/clusterctl.fish")" ]
}

@test "bash: the script registers a completion function for clusterctl" {
	run bash --norc -c 'source <(clusterctl completion bash); complete -p clusterctl'
	assert_success
	assert_output "complete -F _clusterctl clusterctl"
}

@test "bash: completes every command name and alias of the table" {
	run bash_complete clusterctl ""
	assert_success
	for w in $(all_command_words); do
		assert_line "$w"
	done
	refute_line "__complete"
	refute_line "__man"
	run bash_complete clusterctl re
	assert_success
	assert_line "restart"
	assert_line "reset"
	refute_line "start"
	refute_line "stop"
}

@test "bash: completes each command's flags, long and short" {
	local c f
	for c in $(clusterctl --help | sed -n '/^Commands:/,/^$/p' |
	    awk 'NF > 1 { print $1 }'); do
		run bash_complete clusterctl "$c" --
		assert_success
		for f in $(help_flags "$c"); do
			assert_line -- "$f"
		done
	done
	run bash_complete clusterctl start --kill-s
	assert_output -- "--kill-signal"
	run bash_complete clusterctl start -
	assert_line -- "-i"
	assert_line -- "--instances"
	run bash_complete clusterctl wait -
	assert_line -- "-t"
	assert_line -- "--timeout"
}

@test "bash: completes the values of flags with fixed choices" {
	run bash_complete clusterctl start -i ""
	assert_output "$(printf 'max\n-1\n1\n2\n4')"
	run bash_complete clusterctl start --interpreter py
	assert_output "python3"
	run bash_complete clusterctl start --kill-signal SIGTE
	assert_output "SIGTERM"
	run bash_complete clusterctl start --kill-signal ""
	assert_line "SIGINT"
	assert_line "SIGKILL"
	# --opt=value: bash splits at '=', the script glues it back.
	run bash_complete clusterctl start --instances = m
	assert_output "max"
	run bash_complete clusterctl completion ""
	assert_output "$(printf 'bash\nzsh\nfish')"
	run bash_complete clusterctl help sto
	assert_output "stop"
	# A value that is free text gets no candidates.
	run bash_complete clusterctl start --name ""
	assert_output ""
}

@test "bash: scripts and paths complete as files, --cwd as directories" {
	mkdir -p srvdir
	touch server.js
	run bash_complete clusterctl start ser
	assert_output "server.js"
	run bash_complete clusterctl start x --cwd sr
	assert_output "srvdir"
	run bash_complete clusterctl start x --cwd s
	assert_output "srvdir"
	run bash_complete clusterctl start x -o ser
	assert_output "server.js"
	run bash_complete clusterctl start x -- ser
	assert_output "server.js"
}

@test "bash: completes live app names, name:instance and all for targets" {
	start_nap
	run bash_complete clusterctl stop ""
	assert_output "$(printf 'all\nnap\nnap:0\nnap:1\nweb\nweb:0')"
	run bash_complete clusterctl restart n
	assert_output "$(printf 'nap\nnap:0\nnap:1')"
	# "nap:" is split at ':' by bash: only the part after it is offered.
	run bash_complete clusterctl describe nap :
	assert_output "$(printf '0\n1')"
	run bash_complete clusterctl describe nap : 1
	assert_output "1"
	run bash_complete clusterctl wait web ""
	assert_line "nap"
	# start offers stopped apps as well as files.
	run bash_complete clusterctl start na
	assert_line "nap"
	# A command without positional arguments offers none.
	run bash_complete clusterctl list ""
	assert_output ""
}

@test "without a daemon, completion offers only 'all', starts none, creates nothing" {
	run bash_complete clusterctl stop ""
	assert_success
	assert_output "all"
	[ ! -e "$CLUSTERCTL_HOME" ]
	run clusterctl __complete -- stop ""
	assert_success
	assert_output "all"
	[ ! -e "$CLUSTERCTL_HOME" ]
	CLUSTERCTL_HOME=/nonexistent/x run clusterctl __complete -- stop n
	assert_success
	assert_output ""
}

@test "__complete offers hidden commands to nobody and nothing for unknown ones" {
	run clusterctl __complete -- __
	assert_output ""
	run clusterctl __complete -- nosuchcommand ""
	assert_success
	assert_output ""
	run clusterctl __complete --describe -- sto
	assert_output "$(printf 'stop\tStop apps gracefully (kill signal, then SIGKILL after the timeout)')"
}

@test "fish: complete -C gives commands, flags, values and live apps" {
	command -v fish >/dev/null || skip "fish is not installed"
	run fish_complete "clusterctl st"
	assert_success
	assert_line "start"
	assert_line "stop"
	assert_line "status"
	run fish_complete "clusterctl start --kill-t"
	assert_output -- "--kill-timeout"
	run fish_complete "clusterctl start --kill-signal SIGH"
	assert_output "SIGHUP"
	run fish_complete "clusterctl start -i m"
	assert_output "max"
	mkdir -p srvdir
	run fish_complete "clusterctl start x --cwd=sr"
	assert_output "--cwd=srvdir/"
	start_nap
	run fish_complete "clusterctl stop n"
	assert_output "$(printf 'nap\nnap:0\nnap:1')"
}

@test "zsh: the function hands commands, flags, values and live apps to compadd" {
	command -v zsh >/dev/null || skip "zsh is not installed"
	run zsh -f -c 'source <(clusterctl completion zsh)'
	assert_success
	assert_output ""
	run zsh_complete clusterctl st
	assert_success
	assert_line "start"
	assert_line "stop"
	assert_line "status"
	refute_line "restart"
	run zsh_complete clusterctl restart --n
	assert_line -- "--no-wait"
	assert_line -- "--no-color"
	refute_line -- "--json"
	run zsh_complete clusterctl start --kill-signal SIGUS
	assert_output "$(printf 'SIGUSR1\nSIGUSR2')"
	run zsh_complete clusterctl start x --cwd ""
	assert_output "_files -/"
	run zsh_complete clusterctl start ""
	assert_line "_files "
	start_nap
	run zsh_complete clusterctl delete w
	assert_output "$(printf 'web\nweb:0')"
}

@test "zsh: the script autoloads from an fpath directory under compinit" {
	command -v zsh >/dev/null || skip "zsh is not installed"
	mkdir -p fp
	clusterctl completion zsh > fp/_clusterctl
	run zsh -f -c 'fpath=(./fp $fpath); autoload -Uz compinit;
		compinit -u -d ./zcompdump; print -r -- $_comps[clusterctl]'
	assert_success
	assert_output "_clusterctl"
}

# zpty_complete LINE WORD: type LINE and a tab into a real interactive zsh
# (compinit, the script autoloaded from fpath) and print the screen once
# WORD shows on it (at most 10 s), escape sequences removed.
zpty_complete() {
	mkdir -p fp
	clusterctl completion zsh > fp/_clusterctl
	zsh -f -c '
		zmodload zsh/zpty || exit 1
		zpty z zsh -f -i
		zpty -w z "PS1=\"%% \"; fpath=($PWD/fp \$fpath); autoload -Uz compinit; compinit -u -d $PWD/zcd; unsetopt beep; echo READY"
		zpty -r z out "*READY*"
		zpty -n -w z "$1"$'"'"'\t'"'"'
		out=
		for i in {1..500}; do
			while zpty -r -t z chunk; do out+=$chunk; done
			[[ $out == *"$2"* ]] && break
			sleep 0.02
		done
		zpty -d z
		print -r -- "$out"
	' zsh "$1" "$2" | sed 's/\x1b\[[0-9;?]*[a-zA-Z]//g' | tr -d '\r'
}

@test "zsh: real completion in an interactive zsh (zpty) lists and completes" {
	command -v zsh >/dev/null || skip "zsh is not installed"
	run zpty_complete "clusterctl sta" "status"
	assert_success
	for w in start startOrGracefulReload startOrReload startOrRestart status; do
		[[ $output =~ (^|[[:space:]])$w([[:space:]]|$) ]]
	done
	run zpty_complete "clusterctl start --kill-sig" "--kill-signal"
	assert_output --partial "clusterctl start --kill-signal"
	start_nap
	run zpty_complete "clusterctl stop nap:" "nap:1"
	assert_output --regexp "nap:0 +nap:1"
}
