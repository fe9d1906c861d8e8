#!/usr/bin/env bash
# Builds the project's three images, as in the original demo:
#   echo_app                    Dockerfile.single-stage
#   echo_app_multistage         Dockerfile (scratch, the default target)
#   echo_app_multistage:alpine  Dockerfile --target alpine
# Base images come from scripts/base-images.sh (upstream, or local
# stand-ins where no registry answers). Builds run on the engine's own
# BuildKit (buildx's docker driver, the builder `docker build` uses), with
# --network none. Concurrent runs (tests of several packages) take turns.
set -euo pipefail
cd "$(dirname "$0")/.."

exec 9>/tmp/docker_multistage-build-images.lock
flock 9

eval "$(scripts/base-images.sh)"
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
revision=${REVISION:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
args=(--network none --build-arg "GO_IMAGE=$GO_IMAGE" --build-arg "ALPINE_IMAGE=$ALPINE_IMAGE"
	--build-arg "VERSION=$version" --build-arg "REVISION=$revision")
scripts/tools.sh buildx >/dev/null

build() {
	echo "build-images: $*" >&2
	docker buildx build --builder default --load -q "${args[@]}" "$@" . >/dev/null 2>"${TMPDIR:-/tmp}/docker_multistage-build.log" || {
		cat "${TMPDIR:-/tmp}/docker_multistage-build.log" >&2
		exit 1
	}
}
build -f Dockerfile.single-stage -t echo_app
build -t echo_app_multistage
build --target alpine -t echo_app_multistage:alpine

echo "GO_IMAGE=$GO_IMAGE"
echo "ALPINE_IMAGE=$ALPINE_IMAGE"
