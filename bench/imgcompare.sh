#!/usr/bin/env bash
# Measures imgcompare beside dive (built from its module by
# scripts/tools.sh) on the project's single-stage image saved as a docker
# save tarball, and as skopeo copies it into an OCI layout: wall time and
# peak RSS, rounds alternating, medians; the
# estimated compressed size against the exact one; the same on a real
# Debian tree (scripts/debian-rootfs.sh, imported into the engine); then
# imgcompare alone on a generated 1 GiB image for its peak RSS. Prints
# markdown.
#   bench/imgcompare.sh [ROUNDS] [MIB]      (default 5 rounds, 1024 MiB)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-5}
mib=${2:-1024}
[ -x /usr/bin/time ] || { echo "bench: /usr/bin/time is missing (apt-get install time)" >&2; exit 1; }
docker image inspect echo_app >/dev/null 2>&1 || { echo "bench: no echo_app image (make images)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/imgcompare" ./cmd/imgcompare
dive=$(scripts/tools.sh dive)
docker save -o "$work/single.tar" echo_app
tar_bytes=$(stat -c %s "$work/single.tar")
# The same image as skopeo copies it into an OCI layout: gzip blobs, each
# checked against its digest as it is read.
skopeo copy --quiet "docker-archive:$work/single.tar" "oci:$work/oci-layout:single"
layout_bytes=$(du -sb "$work/oci-layout" | cut -f1)

# shellcheck source=scripts/lib/timed.sh
. scripts/lib/timed.sh
for _ in $(seq "$rounds"); do
	timed dive "$dive" --ci --source docker-archive "$work/single.tar"
	timed estimated "$work/imgcompare" -o json "$work/single.tar"
	timed exact "$work/imgcompare" --exact-compressed -o json "$work/single.tar"
	timed layout "$work/imgcompare" -o json "$work/oci-layout:single"
	timed dockerfile "$work/imgcompare" --dockerfile Dockerfile.single-stage -o json "$work/single.tar"
done
# The Debian tree as an image of one layer, as docker import makes it.
debian_rootfs=$(scripts/debian-rootfs.sh)
docker import "$debian_rootfs" imgcompare-bench/debian:latest >/dev/null
docker save -o "$work/debian.tar" imgcompare-bench/debian:latest
docker image rm imgcompare-bench/debian:latest >/dev/null
debian_bytes=$(stat -c %s "$work/debian.tar")
for _ in $(seq "$rounds"); do
	timed debian_dive "$dive" --ci --source docker-archive "$work/debian.tar"
	timed debian_estimated "$work/imgcompare" -o json "$work/debian.tar"
done
d=$(col dive 1)
e=$(col estimated 1)
x=$(col exact 1)
l=$(col layout 1)
f=$(col dockerfile 1)

"$work/imgcompare" -o json "$work/single.tar" >"$work/est.json"
"$work/imgcompare" --exact-compressed -o json "$work/single.tar" >"$work/exact.json"
field() { grep -m1 "\"$1\"" "$2" | tr -dc 0-9.; }
est=$(field compressed "$work/est.json")
exact=$(field compressed "$work/exact.json")
"$work/imgcompare" -o json "$work/debian.tar" >"$work/debian-est.json"
"$work/imgcompare" --exact-compressed -o json "$work/debian.tar" >"$work/debian-exact.json"
debian_est=$(field compressed "$work/debian-est.json")
debian_exact=$(field compressed "$work/debian-exact.json")
dd=$(col debian_dive 1)
de=$(col debian_estimated 1)
"$dive" --source docker-archive --json "$work/dive.json" "$work/single.tar" >/dev/null 2>&1
dive_eff=$(grep -m1 '"efficiencyScore"' "$work/dive.json" | tr -dc 0-9.)
dive_wasted=$(grep -m1 '"inefficientBytes"' "$work/dive.json" | tr -dc 0-9)
our_eff=$(field efficiency "$work/est.json")
our_wasted=$(field wasted_bytes "$work/est.json")

go run ./bench/bigimage -mb "$mib" -o "$work/big.tar"
big_bytes=$(stat -c %s "$work/big.tar")
/usr/bin/time -f '%e %M' -o "$work/big.time" "$work/imgcompare" -o json "$work/big.tar" >"$work/big.json"
read -r big_s big_kib <"$work/big.time"
/usr/bin/time -f '%e %M' -o "$work/diff.time" "$work/imgcompare" diff -o json "$work/big.tar" "$work/big.tar" >/dev/null || true
read -r diff_s diff_kib <"$work/diff.time"

# The same image from a registry (scripts/registry.sh), pushed by skopeo.
registry_log=$(scripts/registry.sh start 2>&1 >"$work/registry.env.path")
case $registry_log in
*"already running"*) ;;
*) trap 'scripts/registry.sh stop 2>/dev/null; rm -rf "$work"' EXIT ;; # stop what this started
esac
# shellcheck disable=SC1090
. "$(cat "$work/registry.env.path")"
skopeo copy --quiet --dest-tls-verify=false "docker-archive:$work/big.tar" "docker://$REGISTRY/bigimage:bench"
/usr/bin/time -f '%e %M' -o "$work/remote.time" "$work/imgcompare" -o json "docker://$REGISTRY/bigimage:bench" >/dev/null
read -r remote_s remote_kib <"$work/remote.time"
for _ in $(seq "$rounds"); do
	/usr/bin/time -f '%e %M' -a -o "$work/manifest" "$work/imgcompare" --manifest-only -o json "docker://$REGISTRY/bigimage:bench" >/dev/null
done
manifest_s=$(col manifest 1)

cat <<DOC
## imgcompare beside dive

\`bench/imgcompare.sh $rounds $mib\` on the project's single-stage image saved with \`docker save\`
($tar_bytes bytes), dive $(basename "$(dirname "$dive")" | sed s/^dive-//) built from its Go module by \`scripts/tools.sh dive\`. The five
commands alternate, $rounds rounds; medians of wall time, CPU time (user and system: imgcompare
uses every core, dive one) and peak RSS (\`/usr/bin/time\`):

| command | wall time | CPU time | peak RSS | against dive |
|---|---:|---:|---:|---:|
| \`dive --ci --source docker-archive single.tar\` | $d s | $(col dive 3) s | $(col dive 2) KiB | 1.00x |
| \`imgcompare single.tar\` (compressed size estimated) | $e s | $(col estimated 3) s | $(col estimated 2) KiB | $(awk -v a="$e" -v b="$d" 'BEGIN {printf "%.2fx", a/b}') |
| \`imgcompare --exact-compressed single.tar\` | $x s | $(col exact 3) s | $(col exact 2) KiB | $(awk -v a="$x" -v b="$d" 'BEGIN {printf "%.2fx", a/b}') |
| \`imgcompare layout:single\` (skopeo's OCI layout, $layout_bytes bytes: gzip blobs decompressed, each checked against its digest) | $l s | $(col layout 3) s | $(col layout 2) KiB | $(awk -v a="$l" -v b="$d" 'BEGIN {printf "%.2fx", a/b}') |
| \`imgcompare --dockerfile Dockerfile.single-stage single.tar\` (each layer's Dockerfile line in the advice) | $f s | $(col dockerfile 3) s | $(col dockerfile 2) KiB | $(awk -v a="$f" -v b="$d" 'BEGIN {printf "%.2fx", a/b}') |

Compressed size: estimated $est bytes, exact (gzip level 6 of every layer) $exact bytes:
$(awk -v a="$est" -v b="$exact" 'BEGIN {printf "%+.2f%%", 100*(a-b)/b}'). dive does not measure a compressed size; imgcompare's time beyond dive's is
that estimate (an s2-and-entropy proxy of every 16 KiB segment; level 6, by the standard library's
compressor, on 512 segments and 8 spans of 256 KiB per layer, the spans whole and in pieces).
Waste, as dive defines it: dive efficiency $dive_eff, wasted $dive_wasted bytes; imgcompare efficiency
$our_eff, wasted $our_wasted bytes.

On a real Debian bookworm tree (\`scripts/debian-rootfs.sh\`: debootstrap minbase with gcc-12, g++-12,
python3.11 and busybox, \`docker import\`ed and saved, $debian_bytes bytes), the same $rounds rounds:

| command | wall time | CPU time | peak RSS | against dive |
|---|---:|---:|---:|---:|
| \`dive --ci --source docker-archive debian.tar\` | $dd s | $(col debian_dive 3) s | $(col debian_dive 2) KiB | 1.00x |
| \`imgcompare debian.tar\` (compressed size estimated) | $de s | $(col debian_estimated 3) s | $(col debian_estimated 2) KiB | $(awk -v a="$de" -v b="$dd" 'BEGIN {printf "%.2fx", a/b}') |

Compressed size: estimated $debian_est bytes, exact $debian_exact bytes:
$(awk -v a="$debian_est" -v b="$debian_exact" 'BEGIN {printf "%+.2f%%", 100*(a-b)/b}').

On a generated image of $mib MiB (\`go run ./bench/bigimage -mb $mib\`, a $big_bytes-byte tarball),
\`imgcompare -o json big.tar\` takes $big_s s with a peak RSS of $big_kib KiB: layers stream, so the
peak does not grow with the image. \`imgcompare diff big.tar big.tar\` (every file hashed, per-file
digests kept, not contents) takes $diff_s s with a peak RSS of $diff_kib KiB. Pushed to the local
registry (\`skopeo copy docker-archive:big.tar docker://…\`), \`imgcompare docker://…/bigimage:bench\`
streams every layer from it in $remote_s s with a peak RSS of $remote_kib KiB, and
\`--manifest-only\` answers in $manifest_s s (median of $rounds, the process included).
DOC
