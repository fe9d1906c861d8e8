#!/usr/bin/env bash
# Takes the screenshots of imgcompare's HTML report that docs/ shows:
# the single-stage image (make images) and the project's Debian tree
# (scripts/debian-rootfs.sh, imported into the engine), each page as
# headless Chromium draws it at 1280x800, into docs/img/.
#   scripts/report-screenshots.sh
set -euo pipefail
cd "$(dirname "$0")/.."
docker image inspect echo_app >/dev/null 2>&1 || { echo "report-screenshots: no echo_app image (make images)" >&2; exit 1; }
command -v chromium >/dev/null || { echo "report-screenshots: chromium is missing (apt-get install chromium)" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/imgcompare" ./cmd/imgcompare
docker import "$(scripts/debian-rootfs.sh)" imgcompare-screenshots/debian:latest >/dev/null
"$work/imgcompare" -o html echo_app >"$work/single-stage.html"
"$work/imgcompare" -o html imgcompare-screenshots/debian:latest >"$work/debian.html"
docker image rm imgcompare-screenshots/debian:latest >/dev/null
mkdir -p docs/img
for page in single-stage debian; do
	chromium --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
		--disable-component-update --disable-sync --user-data-dir="$work/profile-$page" --hide-scrollbars \
		--window-size=1280,800 --screenshot="docs/img/report-$page.png" "file://$work/$page.html" 2>/dev/null
	echo "report-screenshots: docs/img/report-$page.png ($(stat -c %s "$work/$page.html") bytes of HTML)" >&2
done
