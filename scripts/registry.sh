#!/usr/bin/env bash
# Starts or stops container registries for the tests and the release image,
# on 127.0.0.1 only: Debian's docker-registry (the CNCF distribution
# registry), storage in a temporary directory. Two of them: an open one,
# and one behind basic auth (htpasswd, bcrypt) with a generated user.
#
#   scripts/registry.sh start   start them unless they answer; prints the
#                               file of their settings (REGISTRY, AUTH_REGISTRY,
#                               AUTH_USER, AUTH_PASSWORD), for sourcing
#   scripts/registry.sh status  exit 0 when they answer (and print the file)
#   scripts/registry.sh stop    stop what start started
#   scripts/registry.sh config ROOT ADDR [HTPASSWD] [TLSDIR]
#                               print a registry's configuration: storage in
#                               ROOT, listening on ADDR, with basic auth from
#                               HTPASSWD, over TLS with TLSDIR/server.crt and
#                               server.key (the tests' TLS registry uses it)
set -euo pipefail
. "$(dirname "$0")/lib/daemon.sh"
. "$(dirname "$0")/lib/ports.sh"

state=${REGISTRY_STATE:-/tmp/docker_multistage-registry}
port=$registry_port
auth_port=$((port + 1))
env_file=$state/registry.env

answers() { # addr: the registry API answers (401 counts: it is up)
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' "http://$1/v2/" 2>/dev/null || true)
	[ "$code" = 200 ] || [ "$code" = 401 ]
}

config() { # root addr [htpasswd] [tls-dir]
	cat <<YAML
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $1
  delete:
    enabled: true
http:
  addr: $2
  secret: $(openssl rand -hex 16)
YAML
	if [ -n "${4:-}" ]; then
		cat <<YAML
  tls:
    certificate: $4/server.crt
    key: $4/server.key
YAML
	fi
	if [ -n "${3:-}" ]; then
		cat <<YAML
auth:
  htpasswd:
    realm: docker_multistage-test
    path: $3
YAML
	fi
}

running() { [ -f "$env_file" ] && answers "127.0.0.1:$port" && answers "127.0.0.1:$auth_port"; }

daemon_status() {
	running || exit 1
	echo "$env_file"
}

daemon_start() {
	if running; then
		echo "registry: already running" >&2
		echo "$env_file"
		exit 0
	fi
	command -v docker-registry >/dev/null || { echo "registry: docker-registry is missing (scripts/install-deps.sh installs it)" >&2; exit 1; }
	command -v htpasswd >/dev/null || { echo "registry: htpasswd is missing (scripts/install-deps.sh installs apache2-utils)" >&2; exit 1; }
	"$0" stop 2>/dev/null || true
	rm -rf "$state"
	mkdir -p "$state"
	user=imgcompare
	password=$(openssl rand -hex 12)
	htpasswd -Bbn "$user" "$password" >"$state/htpasswd" 2>/dev/null
	config "$state/open" "127.0.0.1:$port" >"$state/open.yml"
	config "$state/auth" "127.0.0.1:$auth_port" "$state/htpasswd" >"$state/auth.yml"
	for name in open auth; do
		nohup docker-registry serve "$state/$name.yml" >"$state/$name.log" 2>&1 &
		echo $! >"$state/$name.pid"
	done
	for _ in $(seq 100); do
		if answers "127.0.0.1:$port" && answers "127.0.0.1:$auth_port"; then
			settings "$env_file" "REGISTRY=127.0.0.1:$port" "AUTH_REGISTRY=127.0.0.1:$auth_port" \
				"AUTH_USER=$user" "AUTH_PASSWORD=$password"
			echo "registry: open on 127.0.0.1:$port, basic auth on 127.0.0.1:$auth_port (state $state)" >&2
			echo "$env_file"
			exit 0
		fi
		sleep 0.1
	done
	echo "registry: did not answer within 10s; its logs:" >&2
	tail -5 "$state/open.log" "$state/auth.log" >&2
	exit 1
}

daemon_config() {
	[ $# -ge 2 ] || { echo "usage: $0 config ROOT ADDR [HTPASSWD] [TLSDIR]" >&2; exit 2; }
	config "$@"
}

daemon_stop() {
	stop_pid "$state/open.pid"
	stop_pid "$state/auth.pid"
	echo "registry: stopped" >&2
}

dispatch "start|status|stop|config" "$@"
