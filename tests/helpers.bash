# Shared by every bats file: each test gets its own CLUSTERCTL_HOME (and so
# its own daemon), and its teardown fails the test if any process of that
# test survives.  Wait for conditions with wait_until, never a bare sleep.

bats_load_library bats-support
bats_load_library bats-assert

: "${CLUSTERCTL_BIN:=$BATS_TEST_DIRNAME/../build/clusterctl}"
EXAMPLES=$(cd "$BATS_TEST_DIRNAME/../examples" && pwd)
FIXTURES=$(cd "$BATS_TEST_DIRNAME/fixtures" && pwd)

setup() {
	export CLUSTERCTL_HOME="$BATS_TEST_TMPDIR/home"
	export NO_COLOR=1
	# A tag in every process's environment tells ours from others'.
	export CLUSTERCTL_TEST_TAG="$BATS_TEST_TMPDIR"
	cd "$BATS_TEST_TMPDIR" || return 1
	if declare -F local_setup >/dev/null; then local_setup; fi
}

clusterctl() {
	"$CLUSTERCTL_BIN" "$@"
}

# The pids of processes outside this test's own session whose environment
# carries this test's tag: the daemon, the apps and anything they started.
test_pids() {
	python3 - "$CLUSTERCTL_TEST_TAG" <<'PY'
import os, sys
tag = ("CLUSTERCTL_TEST_TAG=" + sys.argv[1]).encode()
def sid(pid):
    with open("/proc/%s/stat" % pid, "rb") as f:
        return f.read().rsplit(b")", 1)[1].split()[3]
mine = sid(os.getpid())
for pid in os.listdir("/proc"):
    if not pid.isdigit():
        continue
    try:
        with open("/proc/%s/environ" % pid, "rb") as f:
            if tag not in f.read().split(b"\0"):
                continue
        if sid(pid) != mine:
            print(pid)
    except OSError:
        pass
PY
}

no_test_pids() {
	[ -z "$(test_pids)" ]
}

teardown() {
	local left pid st=0
	if declare -F local_teardown >/dev/null; then local_teardown; fi
	if [ -S "$CLUSTERCTL_HOME/sock" ]; then
		timeout 20 "$CLUSTERCTL_BIN" kill >/dev/null 2>&1
	fi
	# Whatever the daemon stopped is gone at once; allow a moment for
	# the kernel to finish reaping.
	wait_until 5 no_test_pids 2>/dev/null || true
	left=$(test_pids)
	if [ -n "$left" ]; then
		echo "# processes left behind by the test:" >&3
		for pid in $left; do
			ps -o pid=,ppid=,stat=,args= -p "$pid" >&3 2>/dev/null
			kill -9 "$pid" 2>/dev/null
		done
		st=1
	fi
	if grep -qE 'AddressSanitizer|LeakSanitizer|runtime error:' \
		"$CLUSTERCTL_HOME/daemon.log" 2>/dev/null; then
		echo "# sanitizer report in daemon.log:" >&3
		grep -A30 -E 'AddressSanitizer|LeakSanitizer|runtime error:' \
			"$CLUSTERCTL_HOME/daemon.log" >&3
		st=1
	fi
	return $st
}

# wait_until SECONDS COMMAND...: poll COMMAND every 20 ms until it
# succeeds; fail after SECONDS.
wait_until() {
	local limit=$1 end
	shift
	end=$((SECONDS + limit))
	while ! "$@" >/dev/null 2>&1; do
		if [ "$SECONDS" -ge "$end" ]; then
			echo "# timed out after ${limit}s waiting for: $*" >&2
			return 1
		fi
		sleep 0.02
	done
}

# jq-free JSON access through python3: json_get 'expr' < json
json_get() {
	python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"
}

# status_of NAME INSTANCE: the instance's status from list --json.
status_of() {
	clusterctl list --json |
		json_get "[r['status'] for r in d if r['name']=='$1' and r['instance']==$2][0]"
}

# pid_of NAME INSTANCE
pid_of() {
	clusterctl list --json |
		json_get "[r['pid'] for r in d if r['name']=='$1' and r['instance']==$2][0]"
}

# all_status NAME STATUS: every instance of NAME has STATUS.
all_status() {
	clusterctl list --json |
		json_get "all(r['status']=='$2' for r in d if r['name']=='$1') and any(r['name']=='$1' for r in d)" |
		grep -qx True
}

# free_port: a TCP port on 127.0.0.1 nobody listens on right now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# alive PID: the process exists and is not a zombie.
alive() {
	local st
	st=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "${st#Z}" = "$st" ]
}
