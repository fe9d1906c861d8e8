#!/usr/bin/env bash
# Starts or stops a BuildKit daemon for the release image, listening on a
# unix socket only: buildkitd (built by scripts/tools.sh buildkit) with the
# OCI worker on the machine's runc, host networking, and plain HTTP to the
# local registries of scripts/registry.sh (127.0.0.1). It must run as root.
# Beside it, the docker buildx builder docker_multistage (remote driver)
# builds on it.
#
#   scripts/buildkit.sh start   start it unless it answers, make the builder;
#                               prints the file of its settings (BUILDKIT_HOST,
#                               BUILDER: the buildx builder's name)
#   scripts/buildkit.sh status  exit 0 when it answers (and print the file)
#   scripts/buildkit.sh stop    stop what start started
#
# BUILDKIT_STATE (default /tmp/docker_multistage-buildkit) holds the socket,
# the configuration and the log; the daemon's cache lives in
# $DOCKER_MULTISTAGE_CACHE/buildkit, so a later run reuses it.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/daemon.sh
. scripts/lib/ports.sh

state=${BUILDKIT_STATE:-/tmp/docker_multistage-buildkit}
cache=${DOCKER_MULTISTAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/docker_multistage}
sock=$state/buildkitd.sock
addr=unix://$sock
builder=docker_multistage
env_file=$state/buildkit.env

answers() {
	[ -S "$sock" ] && timeout 10 "$(scripts/tools.sh buildkit)/buildctl" --addr "$addr" debug workers >/dev/null 2>&1
}

# builder: the buildx builder on the daemon, made once, and the settings.
builder() {
	scripts/tools.sh buildx >/dev/null
	if ! docker buildx inspect "$builder" >/dev/null 2>&1; then
		docker buildx create --name "$builder" --driver remote "$addr" >/dev/null
	fi
	settings "$env_file" "BUILDKIT_HOST=$addr" "BUILDER=$builder"
	echo "$env_file"
}

daemon_status() {
	answers && [ -f "$env_file" ] || exit 1
	echo "$env_file"
}

daemon_start() {
	bin=$(scripts/tools.sh buildkit)
	if answers; then
		echo "buildkit: already running at $addr" >&2
		builder
		exit 0
	fi
	command -v runc >/dev/null || { echo "buildkit: runc is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
	[ "$(id -u)" = 0 ] || { echo "buildkit: buildkitd runs as root here" >&2; exit 1; }
	"$0" stop 2>/dev/null || true
	mkdir -p "$state" "$cache/buildkit"
	cat >"$state/buildkitd.toml" <<TOML
root = "$cache/buildkit"

[grpc]
  address = ["$addr"]

[worker.oci]
  enabled = true
  snapshotter = "overlayfs"
  networkMode = "host"
  gc = true
  reservedSpace = "2GB"
  maxUsedSpace = "10GB"

[worker.containerd]
  enabled = false

[registry."127.0.0.1:$registry_port"]
  http = true

[registry."127.0.0.1:$((registry_port + 1))"]
  http = true
TOML
	nohup "$bin/buildkitd" --config "$state/buildkitd.toml" >"$state/buildkitd.log" 2>&1 &
	echo $! >"$state/buildkitd.pid"
	for _ in $(seq 300); do
		if answers; then
			echo "buildkit: buildkitd $(basename "$bin") at $addr (log $state/buildkitd.log)" >&2
			builder
			exit 0
		fi
		if ! kill -0 "$(cat "$state/buildkitd.pid")" 2>/dev/null; then
			break
		fi
		sleep 0.1
	done
	echo "buildkit: buildkitd did not answer within 30s; its log:" >&2
	tail -20 "$state/buildkitd.log" >&2
	exit 1
}

daemon_stop() {
	stop_pid "$state/buildkitd.pid"
	echo "buildkit: stopped" >&2
}

dispatch "start|status|stop" "$@"
