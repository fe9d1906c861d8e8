#!/usr/bin/env bash
# Writes docs/benchmarks.md: wrk against echo_app, a 10-line net/http server
# and nginx (bench/run.sh), and the handler's Go benchmarks.
#
#   bench/report.sh [ROUNDS] [SECONDS]     (make bench: 7 rounds of 8 s)
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-7}
seconds=${2:-8}
out=docs/benchmarks.md
mkdir -p docs

wrk_table=$(bench/run.sh "$rounds" "$seconds")
imgcompare_section=$(bench/imgcompare.sh 5 1024)
# The build times come from bench/build-times.sh --write, run apart (it
# takes a quarter of an hour); keep them.
build_section=$(awk '/<!-- build-times:start/,/<!-- build-times:end/' "$out" 2>/dev/null || true)
go_bench=$(go test -run '^$' -bench . -benchtime 1s -count 1 ./internal/server/ | grep -E '^(Benchmark|goos|goarch|cpu)')

cat >"$out" <<DOC
# Benchmarks

Produced by \`make bench\` (\`bench/report.sh $rounds $seconds\`) on $(date -u +%Y-%m-%d), $(nproc) CPUs
($(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)), $(go version | cut -d' ' -f3), $(wrk --version 2>&1 | head -1 | cut -d' ' -f1-2), $(nginx -v 2>&1 | cut -d' ' -f3).

## Throughput: echo_app, a 10-line net/http server, nginx

Each server runs pinned to CPU 0 (\`taskset -c 0\`, so Go runs with GOMAXPROCS=1 and nginx with one
worker), wrk pinned to CPU 1: \`wrk -t1 -c64 -d${seconds}s --latency http://127.0.0.1:PORT/alpacas\` after a
1-second warm-up. The three alternate, $rounds rounds each; the table shows medians. echo_app runs with
its shipped defaults (metrics on, access log off). The baseline is \`bench/baseline/main.go\`, the
original demo's handler; nginx (\`nginx-light\`) answers \`return 200 "I love alpacas!\n"\` with the access
log off. RSS is read from /proc at the end of the run (nginx: master plus worker); CPU per request is
the server's user plus system time over the requests wrk completed.

$wrk_table

Timings on this shared 2-CPU virtual machine move by 30% or more between rounds, in either
direction: read the medians and the per-round columns together, never a single figure.

What echo_app pays that the baseline does not: setting any response header makes net/http
allocate the header map and clone it when the status is written (the contract requires Content-Type, Vary and X-Content-Type-Options; the
baseline sets none and lets net/http sniff the type); the handler, a few hundred nanoseconds with
no allocation (below); the connection budget's bookkeeping, two lock operations a request. The
four timeouts cost almost nothing: the connection sets a socket deadline only when the one set is
off by more than its slack, a few times a second, where net/http would re-arm eight timers a
request. \`bench/profile.sh\` profiles echo_app and the baseline under the same load.

## Handler (Go benchmarks)

\`go test -run '^\$' -bench . ./internal/server/\`: one request through the handler into a
discarding ResponseWriter, so net/http's own parsing and writing are left out. The plain-text
greeting, what curl and wrk get, allocates nothing.

\`\`\`
$go_bench
\`\`\`

$imgcompare_section

$build_section
DOC
echo "wrote $out" >&2
