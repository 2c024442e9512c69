#!/bin/sh
# A tiny app for the demo: one line a second; stops cleanly on SIGINT
# (the daemon signals the whole process group, sleep included).
trap 'echo "instance $CLUSTERCTL_INSTANCE stopping"; exit 0' INT TERM
echo "instance $CLUSTERCTL_INSTANCE started (pid $$)"
while :; do
	echo "tick from instance $CLUSTERCTL_INSTANCE"
	sleep 1
done
