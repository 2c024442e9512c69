# bash completion for clusterctl.  Every word comes from the binary
# (`clusterctl __complete`), generated from its command table.
#   source <(clusterctl completion bash)      or: make install

# Bash splits "web:0" and "--cwd=dir" at ':' and '='; glue the words back
# so clusterctl sees what was typed, then offer only the part after the
# last ':' or '=' (what bash replaces).
_clusterctl()
{
	local i w cur files= IFS=$'\n'
	local -a args cands
	for ((i = 1; i <= COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if ((i > 1)) && [[ $w == [:=] || ${COMP_WORDS[i-1]} == [:=] ]]; then
			args[${#args[@]}-1]+=$w
		else
			args+=("$w")
		fi
	done
	cur=${args[${#args[@]}-1]}
	unset 'args[${#args[@]}-1]'
	cands=($("${COMP_WORDS[0]}" __complete -- "${args[@]}" "$cur" 2>/dev/null))
	local head=${cur%"${cur##*[:=]}"}
	COMPREPLY=()
	for w in "${cands[@]}"; do
		case $w in
		@file) files=f ;;
		@dir) files=d ;;
		*) COMPREPLY+=("${w#"$head"}") ;;
		esac
	done
	if [[ -n $files ]]; then
		compopt -o filenames 2>/dev/null
		COMPREPLY+=($(compgen -"$files" -- "${cur##*[:=]}"))
	fi
	return 0
}
complete -F _clusterctl clusterctl
