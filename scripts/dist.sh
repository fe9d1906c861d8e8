#!/usr/bin/env bash
# make dist: imgcompare's release binaries, static, for linux, darwin and
# windows on amd64 and arm64, each with an SPDX SBOM (Syft, through
# tools/sbom-scanner), and SHA256SUMS over them all, in dist/ (or $DIST_DIR).
# Reproducible: -trimpath, no build id, the commit's time as
# SOURCE_DATE_EPOCH for the SBOMs, so the same commit gives the same bytes.
#   VERSION=v1.2.3 scripts/dist.sh   (default: git describe)
set -euo pipefail
cd "$(dirname "$0")/.."

version=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
out=${DIST_DIR:-dist}
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct)}
scanner=$(scripts/tools.sh sbom-scanner)

rm -rf "$out"
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/core" "$work/extras" "$work/sbom"
for target in linux/amd64 linux/arm64 darwin/amd64 darwin/arm64 windows/amd64 windows/arm64; do
	os=${target%/*} arch=${target#*/}
	name=imgcompare-$version-$os-$arch
	[ "$os" = windows ] && name=$name.exe
	CGO_ENABLED=0 GOOS=$os GOARCH=$arch go build -trimpath -buildvcs=true \
		-ldflags "-s -w -buildid= -X main.version=$version" -o "$out/$name" ./cmd/imgcompare
	mkdir -p "$work/extras/$name"
	cp "$out/$name" "$work/extras/$name/"
done
# One scan per binary: each is a filesystem of its own to the scanner.
BUILDKIT_SCAN_SOURCE=$work/core BUILDKIT_SCAN_SOURCE_EXTRAS=$work/extras BUILDKIT_SCAN_DESTINATION=$work/sbom "$scanner"
for statement in "$work"/sbom/imgcompare-*.spdx.json; do
	# shellcheck disable=SC2094 # reads work/sbom, writes out: two directories
	go run ./scripts/spdxunwrap -root "$work/extras" <"$statement" >"$out/$(basename "$statement")"
done
(cd "$out" && sha256sum imgcompare-* >SHA256SUMS)
echo "dist: $version in $out:" >&2
(cd "$out" && ls -l imgcompare-* SHA256SUMS) >&2
