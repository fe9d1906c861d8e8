#!/usr/bin/env bash
# Starts or stops a Kubernetes API server for the tests, on 127.0.0.1 only:
# Debian's etcd and kube-apiserver built by scripts/tools.sh kube, with a
# self-signed serving certificate, a service-account key pair and a static
# token. No controller manager, scheduler or kubelet: objects are admitted,
# validated, defaulted and stored, never run.
#
#   scripts/kube-apiserver.sh start   start etcd and the API server unless one answers;
#                                     prints the file of its settings (KUBECONFIG, KUBECTL)
#   scripts/kube-apiserver.sh status  exit 0 when it answers (and print the file)
#   scripts/kube-apiserver.sh stop    stop what start started (the API server before etcd)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/daemon.sh
. scripts/lib/pki.sh
. scripts/lib/ports.sh

state=${KUBE_STATE:-/tmp/docker_multistage-kube}
etcd_port=$kube_etcd_port
peer_port=$((etcd_port + 1))
api_port=$kube_api_port
kubeconfig=$state/kubeconfig
env_file=$state/kube-apiserver.env

answers() { [ -f "$kubeconfig" ] && "$kube/kubectl" --kubeconfig "$kubeconfig" get --raw /readyz >/dev/null 2>&1; }

daemon_status() {
	[ -f "$env_file" ] || exit 1
	# shellcheck disable=SC1090
	kube=$(. "$env_file" && dirname "$KUBECTL")
	answers || exit 1
	echo "$env_file"
}

daemon_start() {
	kube=$(scripts/tools.sh kube)
	if answers && [ -f "$env_file" ]; then
		echo "kube-apiserver: already running" >&2
		echo "$env_file"
		exit 0
	fi
	command -v etcd >/dev/null || { echo "kube-apiserver: etcd is missing (scripts/install-deps.sh installs etcd-server)" >&2; exit 1; }
	command -v openssl >/dev/null || { echo "kube-apiserver: openssl is missing" >&2; exit 1; }
	# Whatever an earlier start left running goes first: its state is
	# about to be removed, and an etcd left behind would hold the port.
	stop_pid "$state/apiserver.pid"
	stop_pid "$state/etcd.pid"
	rm -rf "$state"
	mkdir -p "$state/pki"
	pki=$state/pki
	pki_ca "$pki" docker_multistage-test-ca
	pki_cert "$pki" apiserver /CN=kube-apiserver IP:127.0.0.1,DNS:localhost
	pki_sa "$pki"
	token=$(openssl rand -hex 16)
	echo "$token,admin,admin,system:masters" >"$state/tokens.csv"

	nohup etcd --name default --data-dir "$state/etcd" \
		--listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
		--listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
		--initial-cluster "default=http://127.0.0.1:$peer_port" >"$state/etcd.log" 2>&1 &
	echo $! >"$state/etcd.pid"

	# The service IP range is only where Services get their cluster IPs
	# allocated in etcd; nothing routes or sends traffic to it here.
	# Privileged containers are allowed, as in a kubeadm cluster, so that
	# Pod Security, not the server's own switch, is what refuses them.
	nohup "$kube/kube-apiserver" \
		--etcd-servers "http://127.0.0.1:$etcd_port" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
		--tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
		--token-auth-file "$state/tokens.csv" --authorization-mode RBAC \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
		--service-cluster-ip-range 10.96.0.0/24 \
		--endpoint-reconciler-type none \
		--allow-privileged=true \
		>"$state/apiserver.log" 2>&1 &
	echo $! >"$state/apiserver.pid"

	cat >"$kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: https://127.0.0.1:$api_port
    certificate-authority: $pki/ca.crt
users:
- name: admin
  user:
    token: $token
contexts:
- name: test
  context:
    cluster: test
    user: admin
current-context: test
YAML
	for _ in $(seq 120); do
		if answers; then
			settings "$env_file" "KUBECONFIG=$kubeconfig" "KUBECTL=$kube/kubectl"
			echo "kube-apiserver: ready on https://127.0.0.1:$api_port (state $state)" >&2
			echo "$env_file"
			exit 0
		fi
		kill -0 "$(cat "$state/apiserver.pid")" 2>/dev/null || break
		sleep 0.5
	done
	echo "kube-apiserver: not ready within 60s; its log:" >&2
	tail -30 "$state/apiserver.log" >&2
	echo "etcd's log:" >&2
	tail -10 "$state/etcd.log" >&2
	exit 1
}

daemon_stop() {
	stop_pid "$state/apiserver.pid"
	stop_pid "$state/etcd.pid"
	echo "kube-apiserver: stopped" >&2
}

dispatch "start|status|stop" "$@"
