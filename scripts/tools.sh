#!/usr/bin/env bash
# Builds the tools the tests and benchmarks run beside the project, from
# their Go modules at pinned versions, into a cache directory outside the
# repository ($DOCKER_MULTISTAGE_CACHE, default ~/.cache/docker_multistage),
# keyed on the version, and prints the path of the binary. A tool already
# built is not built again.
#
#   scripts/tools.sh dive        wagoodman/dive, for the waste figures and timing
#   scripts/tools.sh compose     Docker Compose, as a docker CLI plugin
#   scripts/tools.sh kube        kube-apiserver and kubectl (prints their directory)
#   scripts/tools.sh cluster     kube-apiserver's node: controller manager,
#                                scheduler, kubelet, kube-proxy, containerd
#                                (prints KUBE_BIN=... and CONTAINERD_BIN=...)
#   scripts/tools.sh buildkit    buildkitd and buildctl (prints their directory)
#   scripts/tools.sh buildx      docker buildx, as a docker CLI plugin
#   scripts/tools.sh act         nektos/act, which runs the GitHub Action's
#                                workflow here
#   scripts/tools.sh sbom-scanner  the SBOM generator of the release image
#                                (tools/sbom-scanner, on Syft)
#   scripts/tools.sh all         all of them
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${DOCKER_MULTISTAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/docker_multistage}
dive_version=v0.13.1
compose_version=v5.6.0
kube_version=v1.37.2
buildkit_version=v0.34.2
buildx_version=v0.38.2
act_version=v0.2.89
containerd_version=v2.4.2

# Work directories are removed however the script ends.
work_dirs=()
trap 'rm -rf "${work_dirs[@]}"' EXIT
build() { # name version module
	local dir="$cache/tools/$1-$2"
	if [ ! -x "$dir/$1" ]; then
		echo "tools: building $1 $2 into $dir" >&2
		mkdir -p "$dir"
		GOBIN="$dir" GOFLAGS=-trimpath go install "$3@$2" >&2
	fi
	echo "$dir/$1"
}

# in_module DIR MODULE VERSION LDFLAGS OUT=PACKAGE...: builds packages
# inside a writable copy of the downloaded module directory, since go
# install refuses a go.mod with exclude or replace directives.
in_module() {
	local dir=$1 module=$2 version=$3 ldflags=$4
	shift 4
	mkdir -p "$dir"
	local src work
	src=$(go mod download -json "$module@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	work=$(mktemp -d)
	work_dirs+=("$work")
	cp -r "$src/." "$work"
	chmod -R u+w "$work"
	local target
	for target in "$@"; do
		(cd "$work" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath -ldflags "-s -w $ldflags" \
			-o "$dir/${target%%=*}" "${target#*=}") >&2
	done
	rm -rf "$work"
}

# compose: v5.6.0 is the newest release whose dependencies the module
# proxy serves: v5.7.x needs github.com/docker/secrets-engine, which it
# refuses (403).
compose() {
	local dir="$cache/tools/compose-$compose_version"
	if [ ! -x "$dir/docker-compose" ]; then
		echo "tools: building docker compose $compose_version into $dir" >&2
		in_module "$dir" github.com/docker/compose/v5 "$compose_version" \
			"-X github.com/docker/compose/v5/internal.Version=$compose_version" docker-compose=./cmd
	fi
	echo "$dir/docker-compose"
}

# buildkit: the daemon and its client. buildkitd runs the OCI worker on the
# machine's runc (scripts/buildkit.sh).
buildkit() {
	local dir="$cache/tools/buildkit-$buildkit_version"
	if [ ! -x "$dir/buildkitd" ] || [ ! -x "$dir/buildctl" ]; then
		echo "tools: building buildkitd and buildctl $buildkit_version into $dir" >&2
		in_module "$dir" github.com/moby/buildkit "$buildkit_version" \
			"-X github.com/moby/buildkit/version.Version=$buildkit_version -X github.com/moby/buildkit/version.Package=github.com/moby/buildkit" \
			buildkitd=./cmd/buildkitd buildctl=./cmd/buildctl
	fi
	echo "$dir"
}

# buildx: a docker CLI plugin. Unless `docker buildx` works already, it is
# installed where the docker CLI looks for plugins,
# $DOCKER_CONFIG/cli-plugins (~/.docker/cli-plugins), as a link to the
# cache. With it, `docker build` is BuildKit.
buildx() {
	local dir="$cache/tools/buildx-$buildx_version"
	if [ ! -x "$dir/docker-buildx" ]; then
		echo "tools: building docker buildx $buildx_version into $dir" >&2
		mkdir -p "$dir"
		GOBIN="$dir" GOFLAGS=-trimpath CGO_ENABLED=0 go install \
			-ldflags "-s -w -X github.com/docker/buildx/version.Version=$buildx_version -X github.com/docker/buildx/version.Package=github.com/docker/buildx" \
			"github.com/docker/buildx/cmd/buildx@$buildx_version" >&2
		mv "$dir/buildx" "$dir/docker-buildx"
	fi
	if ! docker buildx version >/dev/null 2>&1; then
		local plugins=${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins
		mkdir -p "$plugins"
		ln -sf "$dir/docker-buildx" "$plugins/docker-buildx"
		echo "tools: docker buildx $buildx_version installed in $plugins" >&2
	fi
	echo "$dir/docker-buildx"
}

# kube_build NAME...: builds k8s.io/kubernetes/cmd/NAME for each NAME into
# the Kubernetes directory of the cache, through a module of our own that
# replaces each staging module k8s.io/kubernetes takes from ./staging with
# its published version.
kube_build() {
	local dir="$cache/tools/kubernetes-$kube_version"
	mkdir -p "$dir"
	local work
	work=$(mktemp -d)
	work_dirs+=("$work")
	local gomod
	gomod=$(go mod download -json "k8s.io/kubernetes@$kube_version" | sed -n 's/^[[:space:]]*"GoMod": "\(.*\)",$/\1/p')
	local staging="v0${kube_version#v1}"
	{
		echo "module kubetools"
		echo
		echo "go $(go env GOVERSION | sed 's/^go//; s/\.[0-9]*$//')"
		echo
		echo "require k8s.io/kubernetes $kube_version"
		echo
		grep -E '^[[:space:]]*k8s.io/[a-z0-9-]+ => ./staging/' "$gomod" |
			awk -v v="$staging" '{print "replace " $1 " => " $1 " " v}'
	} >"$work/go.mod"
	local cmd
	{
		printf '//go:build tools\n\npackage kubetools\n\nimport (\n'
		for cmd in "$@"; do printf '\t_ "k8s.io/kubernetes/cmd/%s"\n' "$cmd"; done
		printf ')\n'
	} >"$work/tools.go"
	local minor=${kube_version#v1.}
	minor=${minor%%.*}
	local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$kube_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
	(cd "$work" && { GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true; }) >&2
	for cmd in "$@"; do
		(cd "$work" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -tags tools -trimpath -ldflags "$ldflags" -o "$dir/$cmd" "k8s.io/kubernetes/cmd/$cmd") >&2
	done
	rm -rf "$work"
}

# kube: kube-apiserver and kubectl.
kube() {
	local dir="$cache/tools/kubernetes-$kube_version"
	if [ ! -x "$dir/kube-apiserver" ] || [ ! -x "$dir/kubectl" ]; then
		echo "tools: building kube-apiserver and kubectl $kube_version into $dir (several minutes)" >&2
		kube_build kube-apiserver kubectl
	fi
	echo "$dir"
}

# kube_node: what runs a node beside the API server: kube-controller-manager,
# kube-scheduler, kubelet and kube-proxy, from the same Kubernetes.
kube_node() {
	local dir="$cache/tools/kubernetes-$kube_version"
	kube >/dev/null
	local missing=() c
	for c in kube-controller-manager kube-scheduler kubelet kube-proxy; do
		[ -x "$dir/$c" ] || missing+=("$c")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "tools: building ${missing[*]} $kube_version into $dir (several minutes)" >&2
		kube_build "${missing[@]}"
	fi
	echo "$dir"
}

# containerd: the container runtime of the test cluster, with its runc
# shim and ctr.
containerd_tools() {
	local dir="$cache/tools/containerd-$containerd_version"
	if [ ! -x "$dir/containerd" ] || [ ! -x "$dir/containerd-shim-runc-v2" ] || [ ! -x "$dir/ctr" ]; then
		echo "tools: building containerd $containerd_version into $dir" >&2
		in_module "$dir" github.com/containerd/containerd/v2 "$containerd_version" \
			"-X github.com/containerd/containerd/v2/version.Version=$containerd_version" \
			containerd=./cmd/containerd containerd-shim-runc-v2=./cmd/containerd-shim-runc-v2 ctr=./cmd/ctr
	fi
	echo "$dir"
}

# cluster: the node's Kubernetes components and containerd. runc and the
# CNI plugins come from Debian (scripts/install-deps.sh).
cluster() {
	echo "KUBE_BIN=$(kube_node)"
	echo "CONTAINERD_BIN=$(containerd_tools)"
}

# sbom-scanner: our module in tools/sbom-scanner, keyed on its Syft version
# and a digest of its source.
sbom_scanner() {
	local src=tools/sbom-scanner
	local syft key
	syft=$(sed -n 's/^[[:space:]]*github.com\/anchore\/syft \(v[^ ]*\).*/\1/p' "$src/go.mod")
	key=$(cat "$src/go.mod" "$src/go.sum" "$src"/*.go | sha256sum | cut -c1-12)
	local dir="$cache/tools/sbom-scanner-syft-$syft-$key"
	if [ ! -x "$dir/sbom-scanner" ]; then
		echo "tools: building sbom-scanner (syft $syft) into $dir" >&2
		mkdir -p "$dir"
		(cd "$src" && CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o "$dir/sbom-scanner" .) >&2
	fi
	echo "$dir/sbom-scanner"
}

case ${1:-} in
dive) build dive "$dive_version" github.com/wagoodman/dive ;;
act) build act "$act_version" github.com/nektos/act ;;
compose) compose ;;
kube) kube ;;
cluster) cluster ;;
buildkit) buildkit ;;
buildx) buildx ;;
sbom-scanner) sbom_scanner ;;
all)
	# Two lanes, so one build's downloads and links overlap another's
	# compiling: Kubernetes (the longest) beside the rest.
	kube_node >/dev/null &
	kube_pid=$!
	containerd_tools >/dev/null
	build dive "$dive_version" github.com/wagoodman/dive
	build act "$act_version" github.com/nektos/act
	compose
	buildkit
	buildx
	sbom_scanner
	wait "$kube_pid" || { echo "tools: building Kubernetes failed" >&2; exit 1; }
	;;
*)
	echo "usage: $0 dive|act|compose|kube|cluster|buildkit|buildx|sbom-scanner|all" >&2
	exit 2
	;;
esac
