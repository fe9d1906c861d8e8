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
#   scripts/tools.sh all         all of them
set -euo pipefail

cache=${DOCKER_MULTISTAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/docker_multistage}
dive_version=v0.13.1
compose_version=v5.6.0
kube_version=v1.37.2

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

# compose: built inside the downloaded module directory (go install
# refuses its go.mod's exclude directives). v5.6.0 is the newest release
# whose dependencies the module proxy serves: v5.7.x needs
# github.com/docker/secrets-engine, which it refuses (403).
compose() {
	local toolchain=local
	local dir="$cache/tools/compose-$compose_version"
	if [ ! -x "$dir/docker-compose" ]; then
		echo "tools: building docker compose $compose_version into $dir" >&2
		mkdir -p "$dir"
		local src
		src=$(GOTOOLCHAIN=$toolchain go mod download -json "github.com/docker/compose/v5@$compose_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
		local work
		work=$(mktemp -d)
		work_dirs+=("$work")
		cp -r "$src/." "$work"
		chmod -R u+w "$work"
		(cd "$work" && GOTOOLCHAIN=$toolchain GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath \
			-ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=$compose_version" \
			-o "$dir/docker-compose" ./cmd) >&2
		rm -rf "$work"
	fi
	echo "$dir/docker-compose"
}

# kube: kube-apiserver and kubectl from the k8s.io/kubernetes module, through
# a module of our own that replaces each staging module k8s.io/kubernetes
# takes from ./staging with its published version.
kube() {
	local dir="$cache/tools/kubernetes-$kube_version"
	if [ ! -x "$dir/kube-apiserver" ] || [ ! -x "$dir/kubectl" ]; then
		echo "tools: building kube-apiserver and kubectl $kube_version into $dir (several minutes)" >&2
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
		cat >"$work/tools.go" <<'GO'
//go:build tools

package kubetools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
		local minor=${kube_version#v1.}
		minor=${minor%%.*}
		local ldflags="-s -w -X k8s.io/component-base/version.gitVersion=$kube_version -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=$minor"
		(cd "$work" && GOFLAGS=-mod=mod go mod tidy -e >/dev/null 2>&1 || true
			cd "$work" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -tags tools -trimpath -ldflags "$ldflags" -o "$dir/kube-apiserver" k8s.io/kubernetes/cmd/kube-apiserver &&
			GOFLAGS=-mod=mod CGO_ENABLED=0 go build -tags tools -trimpath -ldflags "$ldflags" -o "$dir/kubectl" k8s.io/kubernetes/cmd/kubectl) >&2
		rm -rf "$work"
	fi
	echo "$dir"
}

case ${1:-} in
dive) build dive "$dive_version" github.com/wagoodman/dive ;;
compose) compose ;;
kube) kube ;;
all)
	build dive "$dive_version" github.com/wagoodman/dive
	compose
	kube
	;;
*)
	echo "usage: $0 dive|compose|kube|all" >&2
	exit 2
	;;
esac
