#!/usr/bin/env bash
# Measures what attributing files to packages costs imgcompare: the
# current build against one from BASELINE (default 635fe85, the last
# commit before the packages pass), alternating, on the project's
# single-stage image (docker save) and on an image of a node_modules
# tree of some 50,000 files installed from the npm registry
# (@mui/icons-material, date-fns, core-js, rxjs, lodash, lodash-es and
# ramda, with their dependencies). Medians of wall time, CPU time and
# peak RSS. Prints markdown.
#   bench/packages.sh [ROUNDS] [BASELINE]      (default 7 rounds)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-7}
baseline=${2:-635fe85}
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
docker image inspect echo_app >/dev/null 2>&1 || { echo "bench: no echo_app image (make images)" >&2; exit 1; }
command -v npm >/dev/null || { echo "bench: npm is missing" >&2; exit 1; }

work=$(mktemp -d)
trap 'git worktree remove --force "$work/baseline" 2>/dev/null; rm -rf "$work"' EXIT
go build -o "$work/new" ./cmd/imgcompare
git worktree add -q "$work/baseline" "$baseline"
(cd "$work/baseline" && go build -o "$work/old" ./cmd/imgcompare)
docker save -o "$work/single.tar" echo_app

mkdir -p "$work/npm"
cat >"$work/npm/package.json" <<'JSON'
{"name": "bench", "version": "1.0.0", "private": true, "dependencies": {"@mui/icons-material": "6.4.7", "date-fns": "2.30.0",
 "core-js": "3.39.0", "rxjs": "7.8.1", "lodash": "4.17.21", "lodash-es": "4.17.21", "ramda": "0.30.1"}}
JSON
(cd "$work/npm" && npm install --cache "$work/npm-cache" --no-audit --no-fund --ignore-scripts --logs-max=0 >/dev/null)
npm_files=$(find "$work/npm/node_modules" -type f | wc -l)
printf 'FROM scratch\nCOPY node_modules /app/node_modules\n' >"$work/npm/Dockerfile"
docker build -q --network none -t imgcompare-bench/node-modules:latest "$work/npm" >/dev/null
docker save -o "$work/npm.tar" imgcompare-bench/node-modules:latest
docker image rm imgcompare-bench/node-modules:latest >/dev/null

# shellcheck source=scripts/lib/timed.sh
. scripts/lib/timed.sh
for _ in $(seq "$rounds"); do
	for image in single npm; do
		timed "old-$image" "$work/old" -o json "$work/$image.tar"
		timed "new-$image" "$work/new" -o json "$work/$image.tar"
	done
done
"$work/new" -o json --packages 3 "$work/npm.tar" >"$work/npm.json"
attributed=$(jq '.images[0].packages | .attributed_bytes * 100 / .bytes' "$work/npm.json")
packages=$(jq '.images[0].packages.count' "$work/npm.json")

row() {
	local image=$1 what=$2
	local o n
	o=$(col "old-$image" 1)
	n=$(col "new-$image" 1)
	echo "| $what | $o s | $n s | $(awk -v a="$n" -v b="$o" 'BEGIN {printf "%+.1f%%", 100*(a-b)/b}') | $(col "old-$image" 3) s | $(col "new-$image" 3) s | $(col "old-$image" 2) KiB | $(col "new-$image" 2) KiB |"
}
cat <<DOC
## The packages pass

\`bench/packages.sh $rounds $baseline\`: \`imgcompare -o json IMAGE.tar\` built at $baseline (before the packages
pass) and now, alternating, $rounds rounds, medians of wall time, CPU time (user and system) and peak RSS:

| image | before | now | wall time | CPU before | CPU now | RSS before | RSS now |
|---|---:|---:|---:|---:|---:|---:|---:|
$(row single "the single-stage image ($(stat -c %s "$work/single.tar") bytes saved)")
$(row npm "node_modules from the npm registry: @mui/icons-material, date-fns, core-js, rxjs, lodash, lodash-es, ramda ($npm_files files, $(stat -c %s "$work/npm.tar") bytes saved)")

On the node_modules image, $packages npm packages own $(printf '%.2f' "$attributed")% of the bytes; the rest is npm's
hidden lockfile and its \`.bin\` links.
DOC
