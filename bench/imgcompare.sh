#!/usr/bin/env bash
# Measures imgcompare's speed and memory on a generated image: the Go
# benchmark on 256 MiB in-process, and the CLI on a 1 GiB docker save
# tarball under /usr/bin/time -v for its peak RSS. Prints markdown.
#   bench/imgcompare.sh [MIB]      (default 1024)
set -euo pipefail
cd "$(dirname "$0")/.."
mib=${1:-1024}
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/imgcompare" ./cmd/imgcompare
go run ./bench/bigimage -mb "$mib" -o "$work/big.tar"
tar_bytes=$(stat -c %s "$work/big.tar")

/usr/bin/time -v "$work/imgcompare" -o json "$work/big.tar" >"$work/out.json" 2>"$work/time.txt"
peak_kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$work/time.txt")
elapsed=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$work/time.txt")
size=$(grep -m1 '"uncompressed"' "$work/out.json" | tr -dc 0-9)
compressed=$(grep -m1 '"compressed"' "$work/out.json" | tr -dc 0-9)

go_bench=$(go test -run '^$' -bench BenchmarkAnalyze -benchtime 3x ./internal/analysis/ | grep -E '^Benchmark')

cat <<DOC
## imgcompare: speed and memory

\`bench/imgcompare.sh $mib\`: \`go run ./bench/bigimage -mb $mib\` writes a generated image ($((mib / 256)) layers of
sixteen 16 MiB files, pseudo-random over 16 letters) as a docker save tarball of $tar_bytes bytes;
\`/usr/bin/time -v imgcompare -o json big.tar\` analyses it, gzip-compressing every layer:

| image (uncompressed) | compressed (computed) | wall time | peak RSS |
|---:|---:|---:|---:|
| $size bytes | $compressed bytes | $elapsed | $peak_kib KiB ($((peak_kib / 1024)) MiB) |

Layers stream through the tar reader and the gzip writer; nothing holds a layer in memory, so the
peak does not grow with the image. In-process, on a 256 MiB image
(\`go test -run '^\$' -bench BenchmarkAnalyze -benchtime 3x ./internal/analysis/\`):

\`\`\`
$go_bench
\`\`\`
DOC
