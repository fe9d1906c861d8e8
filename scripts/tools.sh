#!/usr/bin/env bash
# Builds the tools the tests and benchmarks run beside the project, from
# their Go modules at pinned versions, into a cache directory outside the
# repository ($DOCKER_MULTISTAGE_CACHE, default ~/.cache/docker_multistage),
# keyed on the version, and prints the path of the binary. A tool already
# built is not built again.
#
#   scripts/tools.sh dive        wagoodman/dive, for the waste figures and timing
set -euo pipefail

cache=${DOCKER_MULTISTAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/docker_multistage}
dive_version=v0.13.1

build() { # name version module
	local dir="$cache/tools/$1-$2"
	if [ ! -x "$dir/$1" ]; then
		echo "tools: building $1 $2 into $dir" >&2
		mkdir -p "$dir"
		GOBIN="$dir" GOFLAGS=-trimpath go install "$3@$2" >&2
	fi
	echo "$dir/$1"
}

case ${1:-} in
dive) build dive "$dive_version" github.com/wagoodman/dive ;;
*)
	echo "usage: $0 dive" >&2
	exit 2
	;;
esac
