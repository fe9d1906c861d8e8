#!/usr/bin/env bash
# Profiles echo_app's handler and the 10-line baseline under the same wrk
# load (each pinned to CPU 0, wrk to CPU 1) and prints where echo_app
# spends more CPU: pprof's top functions of the difference.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/profile" ./bench/profile
for h in echo_app baseline; do
	taskset -c 0 "$work/profile" -handler "$h" -seconds 9 -o "$work/$h.prof" &
	pid=$!
	sleep 0.5
	echo "$h: $(taskset -c 1 wrk -t1 -c64 -d7s http://127.0.0.1:18601/alpacas | awk '/Requests\/sec/ {print $2}') req/s"
	wait "$pid"
done
go tool pprof -top -nodecount=15 -diff_base "$work/baseline.prof" "$work/profile" "$work/echo_app.prof" 2>/dev/null | sed -n '4,25p'
echo
go tool pprof -top -nodecount=8 -focus 'Header.Clone|setDeadline' "$work/profile" "$work/echo_app.prof" 2>/dev/null | sed -n '4,16p'
