#!/usr/bin/env bash
# Starts or stops a Docker engine for the tests, on a machine where none
# runs: no bridge network and no iptables rules, so containers run with
# --network host and talk to 127.0.0.1 only.
#
#   scripts/docker-engine.sh start   start dockerd unless one answers; prints the
#                                    file of its settings (DOCKER_HOST)
#   scripts/docker-engine.sh status  exit 0 when an engine answers (and print the file)
#   scripts/docker-engine.sh stop    stop the dockerd that start started
set -euo pipefail
. "$(dirname "$0")/lib/daemon.sh"

state=${DOCKER_ENGINE_STATE:-/tmp/docker_multistage-dockerd}
sock=/var/run/docker.sock
env_file=$state/docker-engine.env

# answers: an engine answers, and the settings say where.
answers() {
	docker info >/dev/null 2>&1 || return 1
	mkdir -p "$state"
	settings "$env_file" "DOCKER_HOST=unix://$sock"
}

daemon_status() {
	answers || exit 1
	echo "$env_file"
}

daemon_start() {
	if answers; then
		echo "docker-engine: an engine is already running" >&2
		echo "$env_file"
		exit 0
	fi
	command -v dockerd >/dev/null || { echo "docker-engine: dockerd is missing (scripts/install-deps.sh installs docker.io)" >&2; exit 1; }
	mkdir -p "$state"
	nohup dockerd --bridge=none --iptables=false --ip6tables=false >"$state/dockerd.log" 2>&1 &
	echo $! >"$state/pid"
	for _ in $(seq 120); do
		if [ -S "$sock" ] && answers; then
			echo "docker-engine: started (pid $(cat "$state/pid"), log $state/dockerd.log)" >&2
			echo "$env_file"
			exit 0
		fi
		sleep 0.5
	done
	echo "docker-engine: dockerd did not answer within 60s; its log:" >&2
	tail -20 "$state/dockerd.log" >&2
	exit 1
}

daemon_stop() {
	stop_pid "$state/pid" 30
	echo "docker-engine: stopped" >&2
}

dispatch "start|status|stop" "$@"
