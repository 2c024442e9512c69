#!/usr/bin/env bash
# make demo: the Node example as a cluster, reloaded without downtime.
# Usage: examples/demo.sh [path/to/clusterctl]   (DEMO_KEEP=1 keeps it running)
set -u
bin=${1:-build/clusterctl}
bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
export CLUSTERCTL_HOME=$root/build/demo-home
export NO_COLOR=${NO_COLOR:-}
mkdir -p "$CLUSTERCTL_HOME" && chmod 700 "$CLUSTERCTL_HOME"
cc() { "$bin" "$@"; }
if [ -t 1 ]; then
	say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
else
	say() { printf '\n$ %s\n' "$*"; }
fi

# A free port (or DEMO_PORT).
port=${DEMO_PORT:-$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')}

cleanup() {
	if [ "${DEMO_KEEP:-0}" != 1 ]; then
		timeout 20 "$bin" kill >/dev/null 2>&1
	fi
}
trap cleanup EXIT

cc delete demo >/dev/null 2>&1
say "clusterctl start examples/node/server.js --name demo -i max --env PORT=$port"
cc start "$here/node/server.js" --name demo -i max --env PORT="$port" || exit 1

say "clusterctl list"
cc list

say "curl http://127.0.0.1:$port/   (x8: the instances share the one port)"
for i in 1 2 3 4 5 6 7 8; do
	curl -s --max-time 5 "http://127.0.0.1:$port/"
done

say "clusterctl reload demo   (while a client keeps asking)"
( for i in $(seq 400); do
	curl -s --max-time 5 -o /dev/null -w '%{http_code}\n' "http://127.0.0.1:$port/"
done ) >"$CLUSTERCTL_HOME/demo-codes" &
client=$!
cc reload demo
wait "$client"
echo "requests during the reload: $(sort "$CLUSTERCTL_HOME/demo-codes" | uniq -c | tr -s ' ' | sed 's/^ //')"

say "clusterctl list   (new pids, no downtime)"
cc list

say "clusterctl scale demo +1"
cc scale demo +1

say "clusterctl logs demo --lines 3 --nostream"
cc logs demo --lines 3 --nostream

say "clusterctl start /bin/sh --name crashy --max-restarts 3 -- -c 'exit 3'   (a crash loop)"
cc start /bin/sh --name crashy --max-restarts 3 --restart-delay 50 -- -c 'exit 3'
for i in $(seq 100); do
	cc list --json | grep -q '"errored"' && break
	sleep 0.1
done
cc list
cc delete crashy >/dev/null

cat <<MSG

Look around (with CLUSTERCTL_HOME=$CLUSTERCTL_HOME):
  $bin describe demo
  $bin scale demo +1
  curl http://127.0.0.1:$port/
  logs are in $CLUSTERCTL_HOME/logs/
Stop it with:
  CLUSTERCTL_HOME=$CLUSTERCTL_HOME $bin kill
MSG
if [ "${DEMO_KEEP:-0}" != 1 ]; then
	echo "(the demo daemon stops now; DEMO_KEEP=1 keeps it running)"
fi
