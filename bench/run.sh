#!/usr/bin/env bash
# Measures echo_app against a 10-line net/http server and nginx, in one run:
# the three alternate, ROUNDS rounds each, on loopback, each server pinned to
# CPU 0 and wrk to CPU 1. Prints a markdown report; medians decide.
#
#   bench/run.sh [ROUNDS] [SECONDS]        (make bench runs it with 3 and 8)
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=${1:-3}
seconds=${2:-8}
connections=64
for tool in wrk nginx taskset go; do
	command -v "$tool" >/dev/null || { echo "bench: $tool is missing (apt-get install wrk nginx-light util-linux)" >&2; exit 1; }
done
[ "$(nproc)" -ge 2 ] || { echo "bench: needs 2 CPUs (server on one, wrk on the other)" >&2; exit 1; }

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT

# The release build, exactly as the Dockerfile makes it.
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$work/echo_app" ./cmd/echo_app
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$work/baseline" ./bench/baseline
binary_size=$(stat -c %s "$work/echo_app")
baseline_size=$(stat -c %s "$work/baseline")

mkdir -p "$work/nginx/logs"
cat >"$work/nginx/nginx.conf" <<CONF
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/logs/error.log;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $work/nginx/body;
	proxy_temp_path $work/nginx/proxy;
	fastcgi_temp_path $work/nginx/fastcgi;
	uwsgi_temp_path $work/nginx/uwsgi;
	scgi_temp_path $work/nginx/scgi;
	server {
		listen 127.0.0.1:18093;
		location / { default_type text/plain; return 200 "I love alpacas!\n"; }
	}
}
CONF

port_of() { case $1 in echo_app) echo 18091 ;; baseline) echo 18092 ;; nginx) echo 18093 ;; esac; }

start_server() {
	case $1 in
	echo_app) PORT=18091 taskset -c 0 "$work/echo_app" -listen 127.0.0.1:18091 2>"$work/echo_app.log" & ;;
	baseline) PORT=18092 taskset -c 0 "$work/baseline" & ;;
	nginx) taskset -c 0 nginx -p "$work/nginx" -c "$work/nginx/nginx.conf" & ;;
	esac
	server_pid=$!
	for _ in $(seq 100); do
		curl -fsS -o /dev/null "http://127.0.0.1:$(port_of "$1")/alpacas" 2>/dev/null && return
		sleep 0.05
	done
	echo "bench: $1 did not start" >&2
	exit 1
}

# tree_sum FILE AWK sums what AWK prints from /proc/PID/FILE over the
# server and its children (nginx's worker).
tree_sum() {
	local pid=$1 file=$2 program=$3 total=0 p
	for p in $pid $(pgrep -P "$pid" || true); do
		total=$((total + $(awk "$program" "/proc/$p/$file")))
	done
	echo "$total"
}
# shellcheck disable=SC2016 # awk programs, not shell expansions
rss_kb() { tree_sum "$1" status '/^VmRSS/ {print $2}'; }     # resident memory, KiB
# shellcheck disable=SC2016 # awk programs, not shell expansions
cpu_ticks() { tree_sum "$1" stat '{print $14 + $15}'; }     # user + system CPU, clock ticks
hz=$(getconf CLK_TCK)

# to_ms converts a wrk latency (850.00us, 1.20ms, 1.01s) to milliseconds.
to_ms() { awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n += 0; else if (v ~ /s$/) n *= 1000; printf "%.3f", n }'; }

results="$work/results.tsv"
for round in $(seq "$rounds"); do
	for server in echo_app baseline nginx; do
		start_server "$server"
		url="http://127.0.0.1:$(port_of "$server")/alpacas"
		taskset -c 1 wrk -t1 -c"$connections" -d1s "$url" >/dev/null # warm-up
		ticks_before=$(cpu_ticks "$server_pid")
		out=$(taskset -c 1 wrk -t1 -c"$connections" -d"${seconds}s" --latency "$url")
		ticks=$(($(cpu_ticks "$server_pid") - ticks_before))
		rss=$(rss_kb "$server_pid")
		kill "$server_pid"
		wait "$server_pid" 2>/dev/null || true
		rps=$(awk '/^Requests\/sec/ {print $2}' <<<"$out")
		p50=$(to_ms "$(awk '$1 == "50%" {print $2}' <<<"$out")")
		p99=$(to_ms "$(awk '$1 == "99%" {print $2}' <<<"$out")")
		requests=$(awk '/requests in/ {print $1}' <<<"$out")
		cpu_us=$(awk -v t="$ticks" -v hz="$hz" -v n="$requests" 'BEGIN { printf "%.2f", t / hz * 1e6 / n }')
		errors=$(awk '/Socket errors|Non-2xx/ {print}' <<<"$out" | tr '\n' ' ')
		[ -z "$errors" ] || echo "bench: $server round $round: $errors" >&2
		printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$server" "$round" "$rps" "$p50" "$p99" "$rss" "$cpu_us" >>"$results"
		echo "round $round $server: $rps req/s, p50 $p50 ms, p99 $p99 ms, RSS $rss KiB, $cpu_us CPU us/request" >&2
	done
done

median() { sort -g | awk '{a[NR] = $1} END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
col() { awk -F'\t' -v s="$1" -v c="$2" '$1 == s {print $c}' "$results" | median; }

echo "| server | req/s (median of $rounds) | p50 ms | p99 ms | RSS under load (KiB) | CPU µs per request | req/s per round |"
echo "|---|---:|---:|---:|---:|---:|---|"
for server in echo_app baseline nginx; do
	per_round=$(awk -F'\t' -v s="$server" '$1 == s {printf "%s%.0f", sep, $3; sep = ", "}' "$results")
	printf '| %s | %.0f | %s | %s | %s | %s | %s |\n' "$server" "$(col "$server" 3)" "$(col "$server" 4)" "$(col "$server" 5)" "$(col "$server" 6)" "$(col "$server" 7)" "$per_round"
done
echo
awk -v e="$(col echo_app 3)" -v b="$(col baseline 3)" -v n="$(col nginx 3)" \
	-v ec="$(col echo_app 7)" -v bc="$(col baseline 7)" -v nc="$(col nginx 7)" \
	'BEGIN { printf "echo_app/baseline: **%.2fx** req/s, %.2fx CPU per request; echo_app/nginx: **%.2fx** req/s, %.2fx CPU per request\n", e / b, ec / bc, e / n, ec / nc }'
echo
echo "Release binary (\`CGO_ENABLED=0 go build -trimpath -ldflags=\"-s -w\"\`): echo_app $binary_size bytes, 10-line baseline $baseline_size bytes."
