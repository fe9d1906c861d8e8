#!/usr/bin/env bash
# Build times of the multi-stage image, by builder, in three cases:
#   cold       the builder's cache emptied first (cache mounts included)
#   no change  the same sources again
#   one line   a comment line added to cmd/echo_app/main.go since the last build
# Builders:
#   classic            the engine's classic builder (DOCKER_BUILDKIT=0)
#   BuildKit           buildkitd v0.34 through docker buildx (remote driver)
#   BuildKit + mounts  the same, with the Dockerfile's Go build cache mount
# The classic builder knows neither FROM --platform nor RUN --mount, so it
# and "BuildKit" build the Dockerfile with those two removed (sed below),
# which is the Dockerfile before BuildKit; "BuildKit + mounts" builds the
# Dockerfile as it is. All three build linux/amd64 only, on this machine's
# platform; the last rows time the release itself (make release-image's
# three platforms, with provenance and SBOM).
#
# Each case runs ROUNDS times (default 3), the builders alternating, and
# the median is reported. The markdown section goes to standard output, or
# with --write into docs/benchmarks.md; progress to standard error.
#
#   bench/build-times.sh [--write]
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${ROUNDS:-3}
work=$(mktemp -d)
main=cmd/echo_app/main.go
cp "$main" "$work/main.go"
trap 'cp "$work/main.go" "$main"; rm -rf "$work"' EXIT

# shellcheck disable=SC1090
. "$(scripts/registry.sh start)"
# shellcheck disable=SC1090
. "$(scripts/buildkit.sh start)"
builder=${BUILDER:?buildkit.sh start sets it}
# The classic builder takes the engine's image, buildkitd the pushed copy.
eval "$(BASE_IMAGES=${BASE_IMAGES:-standin} scripts/base-images.sh)"
remote_go=$(BASE_IMAGES=${BASE_IMAGES:-standin} scripts/base-images.sh --push "$REGISTRY" | sed -n 's/^GO_IMAGE=//p')

# The build context: the files the Dockerfile copies, in a directory of
# its own, so the one-line change never touches the work tree.
ctx=$work/ctx
mkdir -p "$ctx"
git ls-files -z go.mod go.sum cmd/echo_app internal/server Dockerfile | xargs -0 cp --parents -t "$ctx"
# shellcheck disable=SC2016 # sed patterns, not shell expansions
sed -e 's/^FROM --platform=\$BUILDPLATFORM /FROM /' -e 's/^RUN --mount=[^ ]* \\$/RUN \\/' Dockerfile >"$ctx/Dockerfile.plain"
if grep -v '^#' "$ctx/Dockerfile.plain" | grep -q -- '--mount\|--platform'; then
	echo "build-times: could not remove the BuildKit features from the Dockerfile" >&2
	exit 1
fi

now() { date +%s.%N; }
# build BUILDER: one build of the context; its seconds go to $took. A
# failed build ends the script (set -e), so no failure is timed.
build() {
	local start
	start=$(now)
	case $1 in
	classic)
		DOCKER_BUILDKIT=0 docker build -q --network none -f "$ctx/Dockerfile.plain" \
			--build-arg "GO_IMAGE=$GO_IMAGE" --build-arg "ALPINE_IMAGE=$ALPINE_IMAGE" \
			-t echo_app_multistage:bench-classic "$ctx" >/dev/null ;;
	buildkit)
		docker buildx build --builder "$builder" -q --provenance false -f "$ctx/Dockerfile.plain" \
			--build-arg "GO_IMAGE=$remote_go" --output "type=oci,dest=$work/out.tar" "$ctx" >/dev/null ;;
	mounts)
		docker buildx build --builder "$builder" -q --provenance false \
			--build-arg "GO_IMAGE=$remote_go" --output "type=oci,dest=$work/out.tar" "$ctx" >/dev/null ;;
	esac
	took=$(awk -v a="$(now)" -v b="$start" 'BEGIN {printf "%.2f", a - b}')
}
empty() {
	case $1 in
	classic)
		# The classic builder's cache is its intermediate images: the build
		# stage's are left dangling once the tag is gone.
		docker rmi -f echo_app_multistage:bench-classic >/dev/null 2>&1 || true
		docker image prune -f >/dev/null
		docker builder prune -af >/dev/null ;;
	*) docker buildx prune --builder "$builder" --all --force >/dev/null ;;
	esac
}
change=0
one_line() {
	change=$((change + 1))
	echo "// build-times change $change at $(now)" >>"$ctx/cmd/echo_app/main.go"
}
median() { sort -n | awk '{a[NR]=$1} END {printf "%.1f", (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

declare -A t
builders=(classic buildkit mounts)
for r in $(seq "$rounds"); do
	for b in "${builders[@]}"; do
		empty "$b"
		build "$b"
		t[$b,cold]+="$took "
		build "$b"
		t[$b,same]+="$took "
		one_line
		build "$b"
		t[$b,line]+="$took "
		echo "build-times: round $r $b: ${t[$b,cold]}/ ${t[$b,same]}/ ${t[$b,line]}" >&2
	done
done

# The release: three platforms, provenance and SBOM, OCI archive and push.
release() { # env...
	local start
	start=$(now)
	env "$@" OUT="$work/release.oci.tar" TAG=bench scripts/release-image.sh >/dev/null 2>"$work/release.log" ||
		{ cat "$work/release.log" >&2; exit 1; }
	took=$(awk -v a="$(now)" -v b="$start" 'BEGIN {printf "%.2f", a - b}')
}
for r in $(seq "$rounds"); do
	release COLD=1
	t[release,cold]+="$took "
	release
	t[release,same]+="$took "
	echo "// build-times release change $r at $(now)" >>"$main"
	release
	t[release,line]+="$took "
	cp "$work/main.go" "$main"
	echo "build-times: round $r release: ${t[release,cold]}/ ${t[release,same]}/ ${t[release,line]}" >&2
done

m() { tr ' ' '\n' <<<"${t[$1,$2]}" | grep . | median; }
all() { tr ' ' '\n' <<<"${t[$1,$2]}" | grep . | paste -sd/ -; }
row() { # builder label
	echo "| $2 | $(m "$1" cold) | $(m "$1" same) | $(m "$1" line) | $(all "$1" cold); $(all "$1" same); $(all "$1" line) |"
}
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
section=$(
	cat <<MD
<!-- build-times:start (bench/build-times.sh --write rewrites this section) -->
## Build times

\`bench/build-times.sh --write\` on $(date -u +%F), $(nproc) CPUs ($cpu), Docker engine
$(docker version --format '{{.Server.Version}}'), BuildKit $(docker buildx inspect "$builder" | sed -n 's/^BuildKit version: *//p'),
docker buildx $(docker buildx version | cut -d' ' -f2), base image \`$GO_IMAGE\`. Seconds, medians of $rounds
rounds (every round in the last column: cold; no change; one line). Cold empties the builder's
cache first, cache mounts included; "no change" builds the same sources again; "one line" adds a
comment line to \`cmd/echo_app/main.go\`. The classic builder reads neither \`FROM --platform\`
nor \`RUN --mount\`, so it and the second row build the Dockerfile with both removed; the third
row builds the Dockerfile as it is. The first three rows build linux/amd64 into the engine or an
OCI archive; the last is \`make release-image\`: three platforms, provenance, SBOM, the OCI archive
and the push.

| build | cold | no change | one-line change | rounds |
|---|---:|---:|---:|---|
$(row classic "classic builder (DOCKER_BUILDKIT=0)")
$(row buildkit "BuildKit, no cache mount")
$(row mounts "BuildKit, Go build cache mount (the Dockerfile)")
$(row release "make release-image (linux/amd64, arm64, arm/v7)")
<!-- build-times:end -->
MD
)
if [ "${1:-}" = --write ]; then
	doc=docs/benchmarks.md
	if grep -q '<!-- build-times:start' "$doc"; then
		SECTION=$section awk '
			/<!-- build-times:start/ { print ENVIRON["SECTION"]; skip = 1; next }
			/<!-- build-times:end/ { skip = 0; next }
			!skip' "$doc" >"$work/doc"
		cat "$work/doc" >"$doc"
	else
		printf '\n%s\n' "$section" >>"$doc"
	fi
	echo "build-times: wrote $doc" >&2
else
	echo "$section"
fi
