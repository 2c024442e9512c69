#!/usr/bin/env bats
# The control socket is for its owner only.

load helpers

@test "the home is created 0700 and the socket 0600" {
	clusterctl ping
	[ "$(stat -c %a "$CLUSTERCTL_HOME")" = 700 ]
	[ "$(stat -c %a "$CLUSTERCTL_HOME/sock")" = 600 ]
}

@test "a group or world writable home is refused" {
	mkdir -m 777 "$CLUSTERCTL_HOME"
	chmod 777 "$CLUSTERCTL_HOME"
	run clusterctl ping
	assert_failure 1
	assert_output --partial "refusing home '$CLUSTERCTL_HOME': it is group or world writable"
	[ ! -e "$CLUSTERCTL_HOME/sock" ]
	chmod 770 "$CLUSTERCTL_HOME"
	run clusterctl ping
	assert_failure 1
}

@test "a home owned by someone else is refused" {
	mkdir -m 700 "$CLUSTERCTL_HOME"
	chown nobody "$CLUSTERCTL_HOME"
	run clusterctl ping
	assert_failure 1
	assert_output --partial "owned by uid"
	chown "$(id -u)" "$CLUSTERCTL_HOME"
}

@test "the daemon refuses a peer of another uid" {
	# A home another user can reach (the test's tmpdir is 0700).
	export CLUSTERCTL_HOME=$(mktemp -d /tmp/clusterctl-peer.XXXXXX)
	clusterctl ping
	# Open the door on purpose to show that the uid check still holds.
	chmod 711 "$CLUSTERCTL_HOME"
	chmod 666 "$CLUSTERCTL_HOME/sock"
	client=$(mktemp /tmp/rawclient.XXXXXX)
	cp "$FIXTURES/rawclient.py" "$client"
	chmod 755 "$client"
	run setpriv --reuid=nobody --regid=nogroup --clear-groups \
		/usr/bin/python3 "$client" "$CLUSTERCTL_HOME/sock" twice
	rm -f "$client"
	assert_output --partial EOF
	refute_output --partial '"ok": true'
	grep -q "refused a client of uid" "$CLUSTERCTL_HOME/daemon.log"
	chmod 700 "$CLUSTERCTL_HOME"
	chmod 600 "$CLUSTERCTL_HOME/sock"
	clusterctl kill
	rm -rf "$CLUSTERCTL_HOME"
}

@test "nothing goes through a shell: arguments reach the program as they are" {
	clusterctl start /bin/sleep --name lit -- '1000;touch pwned' || true
	[ ! -e pwned ]
	clusterctl start "$FIXTURES/env.sh" --name lit2 -- "$BATS_TEST_TMPDIR" '$(touch pwned2)'
	wait_until 10 test -f "$BATS_TEST_TMPDIR/env-0"
	[ ! -e pwned2 ]
}
