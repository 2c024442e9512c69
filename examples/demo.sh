#!/bin/sh
# make demo: a short tour of clusterctl in a throwaway CLUSTERCTL_HOME
# (its daemon is stopped and the directory removed at the end).
bin=${1:-build/clusterctl}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
here=$(cd "$(dirname "$0")" && pwd)
CLUSTERCTL_HOME=$(mktemp -d "${TMPDIR:-/tmp}/clusterctl-demo.XXXXXX") || exit 1
export CLUSTERCTL_HOME
trap '"$bin" kill -q >/dev/null 2>&1; rm -rf "$CLUSTERCTL_HOME"' EXIT INT TERM

run() {
	printf '\n\033[1m$ clusterctl %s\033[0m\n' "$*" | {
		if [ -t 1 ] && [ -z "$NO_COLOR" ]; then cat; else
			sed 's/\x1b\[[0-9]*m//g'; fi
	}
	"$bin" "$@"
	st=$?
	[ $st -eq 0 ] || echo "(exit code $st)"
	return $st
}

echo "clusterctl demo (home: $CLUSTERCTL_HOME)"
run start "$here/ticker.sh" --name ticker -i 3
run list
run stop ticker:2
run restart all
run describe ticker:0
run wait ticker --timeout 10s -q && echo "(wait returned 0: every instance is online)"

# A program that crashes at once: restarted with backoff, then errored.
run start /bin/sh --name crashy --max-restarts 3 --no-wait -- -c 'exit 3'
i=0
while [ $i -lt 100 ] && ! "$bin" list --json | grep -q '"errored"'; do
	sleep 0.1
	i=$((i + 1))
done
run list
run wait crashy --timeout 5s
run delete crashy
run list --json
run kill
