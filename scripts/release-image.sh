#!/usr/bin/env bash
# Builds the release image the way a Docker user releases one: docker
# buildx build on BuildKit, for several platforms, with SLSA provenance
# (mode=max) and an SPDX SBOM attached, written to an OCI archive and
# pushed to a registry. Here the builder is our own buildkitd
# (scripts/buildkit.sh) behind a buildx remote-driver builder, and the
# registry is the local one of scripts/registry.sh; whichever of the two
# does not run already is started, and stopped again at the end.
#
#   scripts/release-image.sh
#
# Settings, from the environment:
#   DOCKERFILE   Dockerfile (echo_app_multistage), or Dockerfile.imgcompare
#                (imgcompare's own image)
#   NAME         the image's name: echo_app_multistage, or imgcompare for
#                Dockerfile.imgcompare
#   PLATFORMS    linux/amd64,linux/arm64,linux/arm/v7 (the default)
#   OUT          the OCI archive (out/image/NAME.oci.tar)
#   TAG          the tag pushed (the git describe of HEAD)
#   NO_CACHE=1   build without BuildKit's cache
#   COLD=1       empty the builder's cache first, cache mounts included
#   PROVENANCE=0 no provenance attestation (provenance records the build's
#                times, so only without it is the index the same from one
#                build to the next); SBOM=0 likewise for the SBOM
#
# It prints the pushed reference by digest (REF@sha256:...) on standard
# output, and writes buildx's metadata beside the archive.
set -euo pipefail
cd "$(dirname "$0")/.."

dockerfile=${DOCKERFILE:-Dockerfile}
case $dockerfile in
Dockerfile.imgcompare) name=${NAME:-imgcompare} ;;
*) name=${NAME:-echo_app_multistage} ;;
esac
platforms=${PLATFORMS:-linux/amd64,linux/arm64,linux/arm/v7}
out=${OUT:-out/image/$name.oci.tar}
version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
revision=${REVISION:-$(git rev-parse HEAD 2>/dev/null || echo unknown)}
tag=${TAG:-$version}

started=()
cleanup() {
	local s
	for s in "${started[@]}"; do "scripts/$s.sh" stop 2>/dev/null || true; done
}
trap cleanup EXIT

# The registry and buildkitd: reuse running ones, start the others.
scripts/registry.sh status >/dev/null || started+=(registry)
# shellcheck disable=SC1090
. "$(scripts/registry.sh start)"
scripts/buildkit.sh status >/dev/null || started+=(buildkit)
# shellcheck disable=SC1090
. "$(scripts/buildkit.sh start)"
builder=${BUILDER:?buildkit.sh start sets it}

# Base images: buildkitd cannot see the engine's images, so a local
# stand-in goes to the registry first.
eval "$(scripts/base-images.sh --push "$REGISTRY")"

image=$REGISTRY/docker_multistage/$name
args=(--builder "$builder" --platform "$platforms" --file "$dockerfile"
	--build-arg "GO_IMAGE=$GO_IMAGE" --build-arg "VERSION=$version" --build-arg "REVISION=$revision")
# imgcompare's build takes a CA bundle, and downloads its modules through
# this machine's proxy.
if [ "$dockerfile" = Dockerfile.imgcompare ]; then
	args+=(--build-arg "CERTS_IMAGE=$CERTS_IMAGE" --build-arg "GOPROXY=$(go env GOPROXY)")
fi
[ "${NO_CACHE:-0}" = 1 ] && args+=(--no-cache)
if [ "${COLD:-0}" = 1 ]; then
	docker buildx prune --builder "$builder" --all --force >/dev/null
fi

# The build is reproducible: SOURCE_DATE_EPOCH (the commit's time) sets
# every timestamp, rewrite-timestamp clamps the files' times to it.
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || echo 0)}
export SOURCE_DATE_EPOCH

if [ "${PROVENANCE:-1}" = 1 ]; then
	args+=(--provenance mode=max)
else
	args+=(--provenance false)
fi
if [ "${SBOM:-1}" = 1 ]; then
	# The SBOM generator image: tools/sbom-scanner (Syft), built once and
	# pushed where buildkitd can pull it.
	scanner_bin=$(scripts/tools.sh sbom-scanner)
	scanner=$REGISTRY/docker_multistage/sbom-scanner:$(basename "$(dirname "$scanner_bin")" | sed 's/^sbom-scanner-//')
	if ! docker buildx imagetools inspect "$scanner" >/dev/null 2>&1; then
		context=$(mktemp -d)
		cp "$scanner_bin" "$context/sbom-scanner"
		printf 'FROM scratch\nCOPY sbom-scanner /sbom-scanner\nENTRYPOINT ["/sbom-scanner"]\n' >"$context/Dockerfile"
		docker buildx build --builder "$builder" --quiet --provenance false \
			--output "type=image,name=$scanner,push=true" "$context" >/dev/null
		rm -rf "$context"
	fi
	args+=(--sbom "generator=$scanner,SOURCE_DATE_EPOCH=$SOURCE_DATE_EPOCH")
else
	args+=(--sbom false)
fi

mkdir -p "$(dirname "$out")"
metadata=${out%.tar}.metadata.json
echo "release-image: docker buildx build --platform $platforms ... -> $out and $image:$tag" >&2
docker buildx build "${args[@]}" \
	--output "type=oci,dest=$out,rewrite-timestamp=true" \
	--output "type=image,name=$image:$tag,push=true,rewrite-timestamp=true" \
	--metadata-file "$metadata" .

digest=$(docker buildx imagetools inspect "$image:$tag" --format '{{.Manifest.Digest}}')
[[ $digest == sha256:* ]] || { echo "release-image: $image:$tag is not in the registry" >&2; exit 1; }
docker buildx imagetools inspect "$image@$digest" >&2
echo "$image@$digest"
