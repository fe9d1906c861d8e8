#!/usr/bin/env bash
# Starts or stops a Docker engine for the tests, on a machine where none
# runs: no bridge network and no iptables rules, so containers run with
# --network host and talk to 127.0.0.1 only.
#
#   scripts/docker-engine.sh start   start dockerd unless one answers
#   scripts/docker-engine.sh stop    stop the dockerd that start started
set -euo pipefail
. "$(dirname "$0")/lib/daemon.sh"

state=${DOCKER_ENGINE_STATE:-/tmp/docker_multistage-dockerd}
sock=/var/run/docker.sock

case ${1:-} in
start)
	if docker info >/dev/null 2>&1; then
		echo "docker-engine: an engine is already running"
		exit 0
	fi
	command -v dockerd >/dev/null || { echo "docker-engine: dockerd is missing (scripts/install-deps.sh installs docker.io)" >&2; exit 1; }
	mkdir -p "$state"
	nohup dockerd --bridge=none --iptables=false --ip6tables=false >"$state/dockerd.log" 2>&1 &
	echo $! >"$state/pid"
	for _ in $(seq 120); do
		if [ -S "$sock" ] && docker info >/dev/null 2>&1; then
			echo "docker-engine: started (pid $(cat "$state/pid"), log $state/dockerd.log)"
			exit 0
		fi
		sleep 0.5
	done
	echo "docker-engine: dockerd did not answer within 60s; its log:" >&2
	tail -20 "$state/dockerd.log" >&2
	exit 1
	;;
stop)
	stop_pid "$state/pid" 30
	echo "docker-engine: stopped"
	;;
*)
	echo "usage: $0 start|stop" >&2
	exit 2
	;;
esac
