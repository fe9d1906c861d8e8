#!/usr/bin/env bash
# The action's first step: puts imgcompare on the runner and sets the
# step's output path. A release (INPUT_VERSION, or the action's own ref
# when it is a tag v*) is downloaded from INPUT_DOWNLOAD_URL/VERSION/ with
# its SHA256SUMS, and a binary that does not match its sum is an error.
# Without a release, or when the release has no binary for the runner,
# imgcompare is built with go from the action's own source, at the ref
# the workflow named: go install at that ref, without the module proxy.
set -euo pipefail

dir="${RUNNER_TEMP:-${TMPDIR:-/tmp}}/imgcompare-action"
bin="$dir/bin"
mkdir -p "$bin"
case ${RUNNER_OS:-Linux} in
Linux) os=linux ;;
macOS) os=darwin ;;
Windows) os=windows ;;
*) echo "::error::imgcompare: no binary for runner OS ${RUNNER_OS}" && exit 1 ;;
esac
case ${RUNNER_ARCH:-X64} in
X64) arch=amd64 ;;
ARM64) arch=arm64 ;;
*) echo "::error::imgcompare: no binary for runner architecture ${RUNNER_ARCH}" && exit 1 ;;
esac
exe=imgcompare
[ "$os" = windows ] && exe=imgcompare.exe

version=${INPUT_VERSION:-}
if [ -z "$version" ]; then
	case ${ACTION_REF:-} in v[0-9]*) version=$ACTION_REF ;; esac
fi

sha256() {
	if command -v sha256sum >/dev/null; then sha256sum "$1" | cut -d' ' -f1; else shasum -a 256 "$1" | cut -d' ' -f1; fi
}

installed=""
if [ -n "$version" ]; then
	asset=imgcompare-$version-$os-$arch
	[ "$os" = windows ] && asset=$asset.exe
	base=${INPUT_DOWNLOAD_URL%/}/$version
	code=$(curl -sSL -o "$dir/SHA256SUMS" -w '%{http_code}' "$base/SHA256SUMS") ||
		{ echo "::error::imgcompare: downloading $base/SHA256SUMS failed"; exit 1; }
	case $code in
	200)
		want=$(awk -v a="$asset" '$2 == a || $2 == "*" a { print $1 }' "$dir/SHA256SUMS")
		if [ -z "$want" ]; then
			echo "::notice::imgcompare $version has no $asset; building it from the action's source"
		else
			curl -fsSL -o "$dir/$asset" "$base/$asset" ||
				{ echo "::error::imgcompare: downloading $base/$asset failed"; exit 1; }
			got=$(sha256 "$dir/$asset")
			if [ "$got" != "$want" ]; then
				echo "::error::imgcompare: $asset has SHA-256 $got, but SHA256SUMS of $version says $want"
				exit 1
			fi
			mv "$dir/$asset" "$bin/$exe"
			chmod +x "$bin/$exe"
			installed="release $version, $asset, SHA-256 $got"
		fi
		;;
	404) echo "::notice::imgcompare: no release $version at $base; building it from the action's source" ;;
	*) echo "::error::imgcompare: $base/SHA256SUMS answered HTTP $code" && exit 1 ;;
	esac
fi
if [ -z "$installed" ]; then
	command -v go >/dev/null ||
		{ echo "::error::imgcompare: no release binary to install and no Go toolchain to build one (add actions/setup-go, or set version)"; exit 1; }
	(cd "$GITHUB_ACTION_PATH" && CGO_ENABLED=0 go build -trimpath -o "$bin/$exe" ./cmd/imgcompare)
	installed="built from $GITHUB_ACTION_PATH with $(go env GOVERSION)"
fi
echo "imgcompare: installed ($installed)"
"$bin/$exe" --version
echo "path=$bin/$exe" >>"$GITHUB_OUTPUT"
