#!/usr/bin/env bash
# A single-node Kubernetes cluster for the end-to-end tests, wholly inside
# a network namespace of its own that has no interface to the outside:
# loopback, and the pods' bridge. etcd, the API server, the controller
# manager, the scheduler, containerd, the kubelet and kube-proxy all run in
# it, and so must every client that talks to a pod or a Service
# (nsenter --net=/run/netns/NAME, or ip netns exec). The Kubernetes components and containerd come from
# scripts/tools.sh cluster, runc and the CNI plugins from Debian; the
# sandbox (pause) image is built here and imported into containerd, so
# nothing is pulled.
#
#   scripts/cluster.sh start    start it unless it answers; prints the file of its settings
#   scripts/cluster.sh status   exit 0 when it answers (and print that file)
#   scripts/cluster.sh stop     stop everything start started and remove the namespace
#   scripts/cluster.sh import IMAGE...   copy images from the Docker engine into containerd
#
# The settings file (KEY=value, for sourcing) names the namespace
# (NETNS), the kubeconfig (KUBECONFIG), kubectl (KUBECTL), ctr and
# containerd's socket (CTR, CONTAINERD_ADDRESS), the node (NODE) and the
# ranges (POD_CIDR, SERVICE_CIDR).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/lib/daemon.sh
. scripts/lib/daemon.sh
# shellcheck source=scripts/lib/pki.sh
. scripts/lib/pki.sh

state=${CLUSTER_STATE:-/tmp/docker_multistage-cluster}
netns=${CLUSTER_NETNS:-docker_multistage}
env_file=$state/cluster.env
node="node-1"
pod_cidr=10.244.0.0/24
bridge_ip=10.244.0.1
service_cidr=10.96.0.0/24
api=https://127.0.0.1:6443
pause_image=localhost/docker_multistage/pause:1
daemons=(kube-proxy kubelet kube-scheduler kube-controller-manager containerd kube-apiserver etcd) # stop order

# in_ns COMMAND...: runs COMMAND in the namespace's network, and nothing
# else of it: ip netns exec would also give it a mount namespace with a
# fresh /sys, where the kubelet finds no cgroup.
in_ns() { nsenter --net="/run/netns/$netns" "$@"; }

answers() {
	[ -f "$env_file" ] || return 1
	# shellcheck disable=SC1090
	. "$env_file"
	ip netns list 2>/dev/null | grep -qw "$netns" || return 1
	in_ns "$KUBECTL" --kubeconfig "$KUBECONFIG" get --raw /readyz >/dev/null 2>&1 &&
		[ "$(in_ns "$KUBECTL" --kubeconfig "$KUBECONFIG" get node "$node" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' 2>/dev/null)" = True ]
}

stop_all() {
	local d
	for d in "${daemons[@]}"; do stop_pid "$state/$d.pid" 20 || true; done
	# The pods' processes, by their cgroups (the kubelet's cgroupfs tree),
	# then the cgroups and the pods' network namespaces.
	local procs
	procs=$(find /sys/fs/cgroup/pids/kubepods -name cgroup.procs -exec cat {} + 2>/dev/null || true)
	# shellcheck disable=SC2086 # one pid per word
	if [ -n "$procs" ]; then kill -9 $procs 2>/dev/null || true; fi
	local c
	for c in /sys/fs/cgroup/*/kubepods; do
		if [ -d "$c" ]; then find "$c" -depth -type d -exec rmdir {} + 2>/dev/null || true; fi
	done
	for d in /run/netns/cni-*; do
		if [ -e "$d" ]; then ip netns delete "${d#/run/netns/}" 2>/dev/null || true; fi
	done
	# Pods' containers outlive containerd: their shims are in the
	# namespace's process list, found by the namespace.
	if ip netns list 2>/dev/null | grep -qw "$netns"; then
		local pids
		pids=$(ip netns pids "$netns" 2>/dev/null || true)
		# shellcheck disable=SC2086 # one pid per word
		if [ -n "$pids" ]; then kill -9 $pids 2>/dev/null || true; fi
		sleep 0.5
		ip netns delete "$netns" 2>/dev/null || true
	fi
	# The kubelet's and containerd's mounts under the state directory.
	if [ -d "$state" ]; then
		{ grep -o " ${state}[^ ]*" /proc/mounts || true; } | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	fi
}

# kubeconfig NAME USER TOKEN: a kubeconfig for a token of the API server.
kubeconfig() {
	cat >"$state/$1.kubeconfig" <<YAML
apiVersion: v1
kind: Config
clusters:
- name: cluster
  cluster:
    server: $api
    certificate-authority: $state/pki/ca.crt
users:
- name: $2
  user:
    token: $3
contexts:
- name: cluster
  context:
    cluster: cluster
    user: $2
current-context: cluster
YAML
}

# wait_for WHAT SECONDS COMMAND...: retries COMMAND until it succeeds.
wait_for() {
	local what=$1 seconds=$2
	shift 2
	for _ in $(seq $((seconds * 2))); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.5
	done
	echo "cluster: $what not ready within ${seconds}s" >&2
	return 1
}

fail_logs() {
	local d
	for d in "${daemons[@]}"; do
		[ -f "$state/$d.log" ] && { echo "--- $d" >&2; tail -15 "$state/$d.log" >&2; }
	done
	exit 1
}

daemon_status() {
	answers || exit 1
	echo "$env_file"
}

daemon_start() {
	if answers; then
		echo "cluster: already running" >&2
		echo "$env_file"
		exit 0
	fi
	[ "$(id -u)" -eq 0 ] || { echo "cluster: needs root (network namespaces, containers)" >&2; exit 1; }
	for c in etcd openssl runc iptables ip nsenter docker; do
		command -v "$c" >/dev/null || { echo "cluster: $c is missing (scripts/install-deps.sh)" >&2; exit 1; }
	done
	for p in bridge host-local loopback; do
		[ -x "/usr/lib/cni/$p" ] || { echo "cluster: the CNI plugin /usr/lib/cni/$p is missing (scripts/install-deps.sh installs containernetworking-plugins)" >&2; exit 1; }
	done
	eval "$(scripts/tools.sh cluster)"
	stop_all
	rm -rf "$state"
	mkdir -p "$state"/{pki,cni,kubelet,containerd,pod-logs}

	# The namespace: loopback, and the pods' bridge, made here so that the
	# route to the Services' range can point at it before the first pod.
	# No default route: nothing in it can reach off the machine.
	ip netns add "$netns"
	in_ns ip link set lo up
	in_ns ip link add cni0 type bridge
	in_ns ip addr add "$bridge_ip/24" dev cni0
	in_ns ip link set cni0 up
	in_ns ip route add "$service_cidr" dev cni0 src "$bridge_ip"
	if in_ns ip route show default | grep -q .; then
		echo "cluster: the namespace has a default route" >&2
		exit 1
	fi

	pki=$state/pki
	pki_ca "$pki" docker_multistage-cluster-ca
	pki_cert "$pki" apiserver /CN=kube-apiserver IP:127.0.0.1,IP:10.96.0.1,DNS:localhost,DNS:kubernetes.default.svc
	# The API server's client certificate for the kubelet (logs, exec).
	pki_cert "$pki" kubelet-client /O=system:masters/CN=kube-apiserver-kubelet-client
	pki_sa "$pki"
	# Static tokens, one identity per component, with the users and
	# groups the API server's bootstrap roles are bound to.
	: >"$state/tokens.csv"
	for who in admin:system:masters kubelet:system:nodes controller-manager: scheduler: proxy:; do
		name=${who%%:*} group=${who#*:}
		token=$(openssl rand -hex 16)
		case $name in
		admin) user="admin" ;;
		kubelet) user=system:node:$node ;;
		controller-manager) user=system:kube-controller-manager ;;
		scheduler) user=system:kube-scheduler ;;
		proxy) user=system:kube-proxy ;;
		esac
		echo "$token,$user,$user${group:+,\"$group\"}" >>"$state/tokens.csv"
		kubeconfig "$name" "$user" "$token"
	done

	in_ns nohup etcd --name default --data-dir "$state/etcd" \
		--listen-client-urls http://127.0.0.1:2379 --advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 --initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster default=http://127.0.0.1:2380 >"$state/etcd.log" 2>&1 &
	echo $! >"$state/etcd.pid"
	in_ns nohup "$KUBE_BIN/kube-apiserver" \
		--etcd-servers http://127.0.0.1:2379 \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port 6443 \
		--tls-cert-file "$pki/apiserver.crt" --tls-private-key-file "$pki/apiserver.key" \
		--client-ca-file "$pki/ca.crt" \
		--token-auth-file "$state/tokens.csv" --authorization-mode Node,RBAC \
		--enable-admission-plugins NodeRestriction \
		--service-account-issuer https://kubernetes.default.svc.cluster.local \
		--service-account-key-file "$pki/sa.pub" --service-account-signing-key-file "$pki/sa.key" \
		--service-cluster-ip-range "$service_cidr" \
		--endpoint-reconciler-type none \
		--kubelet-preferred-address-types InternalIP \
		--kubelet-client-certificate "$pki/kubelet-client.crt" --kubelet-client-key "$pki/kubelet-client.key" \
		>"$state/kube-apiserver.log" 2>&1 &
	echo $! >"$state/kube-apiserver.pid"
	wait_for "the API server" 90 in_ns "$KUBE_BIN/kubectl" --kubeconfig "$state/admin.kubeconfig" get --raw /readyz || fail_logs

	in_ns nohup "$KUBE_BIN/kube-controller-manager" \
		--kubeconfig "$state/controller-manager.kubeconfig" \
		--authentication-kubeconfig "$state/controller-manager.kubeconfig" \
		--authorization-kubeconfig "$state/controller-manager.kubeconfig" \
		--bind-address 127.0.0.1 \
		--service-account-private-key-file "$pki/sa.key" --root-ca-file "$pki/ca.crt" \
		--service-cluster-ip-range "$service_cidr" \
		--use-service-account-credentials=true --leader-elect=false \
		>"$state/kube-controller-manager.log" 2>&1 &
	echo $! >"$state/kube-controller-manager.pid"
	in_ns nohup "$KUBE_BIN/kube-scheduler" \
		--kubeconfig "$state/scheduler.kubeconfig" \
		--authentication-kubeconfig "$state/scheduler.kubeconfig" \
		--authorization-kubeconfig "$state/scheduler.kubeconfig" \
		--bind-address 127.0.0.1 --leader-elect=false \
		>"$state/kube-scheduler.log" 2>&1 &
	echo $! >"$state/kube-scheduler.pid"

	# containerd, its CRI plugin using the CNI bridge of the namespace.
	cat >"$state/cni/10-bridge.conflist" <<JSON
{
  "cniVersion": "1.0.0",
  "name": "pods",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "ranges": [[{"subnet": "$pod_cidr", "gateway": "$bridge_ip"}]],
              "dataDir": "$state/cni/ipam"}},
    {"type": "loopback"}
  ]
}
JSON
	cat >"$state/containerd/config.toml" <<TOML
version = 3
root = "$state/containerd/root"
state = "$state/containerd/state"
[grpc]
  address = "$state/containerd/containerd.sock"
[plugins.'io.containerd.cri.v1.images'.pinned_images]
  sandbox = "$pause_image"
# This machine refuses to lower a process's oom_score_adj (the kubelet's
# -998 for sandboxes): containers get no less than containerd's own.
[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
  BinaryName = "$(command -v runc)"
  SystemdCgroup = false
[plugins.'io.containerd.cri.v1.runtime'.cni]
  bin_dirs = ["/usr/lib/cni"]
  conf_dir = "$state/cni"
TOML
	PATH=$CONTAINERD_BIN:$PATH in_ns nohup "$CONTAINERD_BIN/containerd" --config "$state/containerd/config.toml" \
		>"$state/containerd.log" 2>&1 &
	echo $! >"$state/containerd.pid"
	ctr=("$CONTAINERD_BIN/ctr" --address "$state/containerd/containerd.sock" --namespace k8s.io)
	wait_for containerd 30 "${ctr[@]}" version || fail_logs

	# The sandbox image: the pause of test/cluster/pause on scratch.
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$work/pause" ./test/cluster/pause
	printf 'FROM scratch\nCOPY pause /pause\nUSER 65535:65535\nENTRYPOINT ["/pause"]\n' >"$work/Dockerfile"
	docker build -q --network none -t "$pause_image" "$work" >/dev/null
	docker save "$pause_image" | "${ctr[@]}" images import --local - >/dev/null

	cat >"$state/kubelet/config.yaml" <<YAML
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://$state/containerd/containerd.sock
address: $bridge_ip
healthzBindAddress: 127.0.0.1
authentication:
  anonymous:
    enabled: false
  webhook:
    enabled: true
  x509:
    clientCAFile: $pki/ca.crt
authorization:
  mode: Webhook
failSwapOn: false
podLogsDir: $state/pod-logs
resolvConf: ""
imageGCHighThresholdPercent: 100
evictionHard:
  memory.available: "100Mi"
  nodefs.available: "1%"
  imagefs.available: "1%"
YAML
	in_ns nohup "$KUBE_BIN/kubelet" \
		--config "$state/kubelet/config.yaml" \
		--kubeconfig "$state/kubelet.kubeconfig" \
		--root-dir "$state/kubelet" \
		--hostname-override "$node" --node-ip "$bridge_ip" \
		>"$state/kubelet.log" 2>&1 &
	echo $! >"$state/kubelet.pid"

	cat >"$state/kube-proxy.yaml" <<YAML
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: iptables
clientConnection:
  kubeconfig: $state/proxy.kubeconfig
hostnameOverride: $node
bindAddress: 127.0.0.1
healthzBindAddress: 127.0.0.1:10256
metricsBindAddress: 127.0.0.1:10249
clusterCIDR: $pod_cidr
conntrack:
  maxPerCore: 0
YAML
	in_ns nohup "$KUBE_BIN/kube-proxy" --config "$state/kube-proxy.yaml" >"$state/kube-proxy.log" 2>&1 &
	echo $! >"$state/kube-proxy.pid"

	settings "$env_file" "NETNS=$netns" "KUBECONFIG=$state/admin.kubeconfig" "KUBECTL=$KUBE_BIN/kubectl" \
		"CTR=$CONTAINERD_BIN/ctr" "CONTAINERD_ADDRESS=$state/containerd/containerd.sock" \
		"NODE=$node" "POD_CIDR=$pod_cidr" "SERVICE_CIDR=$service_cidr"
	wait_for "the node" 120 answers || fail_logs
	# Pods need their namespace's service account, which the controller
	# manager makes, and a node without the not-ready taint.
	wait_for "the default service account" 60 in_ns "$KUBE_BIN/kubectl" --kubeconfig "$state/admin.kubeconfig" get serviceaccount default || fail_logs
	wait_for "the node's taints to go" 60 sh -c "[ -z \"\$(nsenter --net=/run/netns/$netns '$KUBE_BIN/kubectl' --kubeconfig '$state/admin.kubeconfig' get node $node -o jsonpath='{.spec.taints}')\" ]" || fail_logs
	echo "cluster: $node Ready in network namespace $netns (state $state)" >&2
	echo "$env_file"
}

daemon_import() {
	answers || { echo "cluster: not running (scripts/cluster.sh start)" >&2; exit 1; }
	for image in "$@"; do
		docker save "$image" | "$CTR" --address "$CONTAINERD_ADDRESS" --namespace k8s.io images import --local - >/dev/null
		echo "cluster: imported $image" >&2
	done
}

daemon_stop() {
	stop_all
	echo "cluster: stopped" >&2
}

dispatch "start|status|stop|import IMAGE..." "$@"
