#!/usr/bin/env bash
# Makes, once, a real Debian root filesystem for the tests of imgcompare
# on distribution images: debootstrap's minbase variant of bookworm from
# Debian's mirror, with a compiler, Python and busybox, as a tar archive in
# the cache directory ($DOCKER_MULTISTAGE_CACHE, default
# ~/.cache/docker_multistage), keyed on the suite and the packages. Prints
# the archive's path. Needs root (debootstrap) and Debian's debootstrap.
set -euo pipefail
cd "$(dirname "$0")/.."

cache=${DOCKER_MULTISTAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/docker_multistage}
suite=bookworm
include=gcc-12,g++-12,python3.11,busybox
key=$(echo "$suite $include" | sha256sum | cut -c1-12)
out="$cache/debian/$suite-minbase-$key.tar"
if [ ! -s "$out" ]; then
	command -v debootstrap >/dev/null || { echo "debian-rootfs: debootstrap is missing (scripts/install-deps.sh)" >&2; exit 1; }
	[ "$(id -u)" -eq 0 ] || { echo "debian-rootfs: debootstrap needs root" >&2; exit 1; }
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	echo "debian-rootfs: debootstrap $suite (minbase, $include) into $out" >&2
	debootstrap --variant=minbase --include="$include" "$suite" "$work/root" http://deb.debian.org/debian >"$work/log" 2>&1 ||
		{ tail -20 "$work/log" >&2; exit 1; }
	mkdir -p "$(dirname "$out")"
	# As a layer holds it: names relative to the root, owners by number.
	tar --numeric-owner -C "$work/root" -cf "$out.tmp" .
	mv "$out.tmp" "$out"
fi
echo "$out"
