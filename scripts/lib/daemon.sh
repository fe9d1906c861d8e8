# shellcheck shell=bash
# Shared by the scripts that start and stop the test daemons (the Docker
# engine, the registries, buildkitd, the API server and etcd, the
# cluster). Each has the same three commands: start (stop what an earlier
# start left, launch, wait until it answers, print the settings file),
# status (exit 0 when it answers, and print the settings file) and stop,
# each a function (daemon_start, daemon_status, daemon_stop) that
# dispatch runs. Source it.

# dispatch USAGE COMMAND [ARG...]: runs the function daemon_COMMAND that
# the script defines, with the ARGs; without one, prints USAGE and exits 2.
dispatch() {
	local usage=$1 cmd=${2:-}
	if [ -z "$cmd" ] || ! declare -F "daemon_$cmd" >/dev/null; then
		echo "usage: $0 $usage" >&2
		exit 2
	fi
	shift 2
	"daemon_$cmd" "$@"
}

# stop_pid FILE [SECONDS]: stops the process whose pid FILE holds and
# removes FILE: TERM, up to SECONDS (default 10) for it to exit, then KILL,
# and waits until it is gone. Nothing to do when FILE is missing or the
# process has already exited.
stop_pid() {
	local file=$1 seconds=${2:-10} pid
	[ -f "$file" ] || return 0
	pid=$(cat "$file")
	rm -f "$file"
	kill "$pid" 2>/dev/null || return 0
	for _ in $(seq $((seconds * 10))); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$pid" 2>/dev/null || return 0
	for _ in $(seq 50); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	echo "$(basename "$0"): process $pid did not exit" >&2
	return 1
}

# settings FILE KEY=VALUE...: writes a daemon's settings, one KEY=value a
# line, for sourcing: what its start and status print the path of.
settings() {
	local file=$1
	shift
	printf '%s\n' "$@" >"$file.tmp"
	mv "$file.tmp" "$file"
}
