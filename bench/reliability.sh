#!/usr/bin/env bash
# make reliability: echo_app under sustained load, 10,000 idle connections,
# slow clients, clients that abuse the connection budget, shutdown under
# load (process and container), a memory limit, and a bounded fuzzing run.
# Writes docs/reliability.md.
#
# All traffic goes to 127.0.0.1; every step is bounded in time.
#   bench/reliability.sh [SUSTAINED_SECONDS]    (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."

sustained=${1:-60}
port=18400
for tool in wrk slowhttptest taskset go curl; do
	command -v "$tool" >/dev/null || { echo "reliability: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done
ulimit -n "$(ulimit -Hn)"
[ "$(ulimit -n)" -ge 10500 ] || { echo "reliability: needs 10,500 open files per process (ulimit -n), has $(ulimit -n)" >&2; exit 1; }

work=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$work"' EXIT
CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o "$work/echo_app" ./cmd/echo_app
go build -o "$work/hammer" ./bench/hammer
# The memory limit the image's documented configuration sets
# (compose.yaml, deploy/kubernetes).
memlimit=$(awk '/GOMEMLIMIT:/ {print $2}' compose.yaml)
memlimit_kib=$(( ${memlimit%MiB} * 1024 ))

start_server() { # extra flags...; server_memlimit= runs with no memory limit
	GOMEMLIMIT=${server_memlimit-$memlimit} taskset -c 0 "$work/echo_app" -listen "127.0.0.1:$port" "$@" 2>>"$work/server.log" &
	server_pid=$!
	for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && return; sleep 0.05; done
	echo "reliability: echo_app did not start" >&2
	exit 1
}
stop_server() { kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; }
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
kv() { tr ' ' '\n' <<<"$2" | awk -F= -v k="$1" '$1 == k {print $2}'; }

report="$work/report.md"
say() { printf '%s\n' "$*" >>"$report"; }

# 1. Sustained load, in 10-second windows, RSS every second.
echo "reliability: sustained load, ${sustained}s" >&2
start_server
(for _ in $(seq $((sustained + 5))); do rss "$server_pid" 2>/dev/null || break; sleep 1; done) >"$work/rss.txt" &
sampler=$!
say "## Sustained load"
say ""
say "\`GOMEMLIMIT=$memlimit echo_app\` pinned to CPU 0 (a budget of 163 connections); wrk on CPU 1, 128"
say "keep-alive connections, back-to-back 10-second windows:"
say "\`taskset -c 1 wrk -t1 -c128 -d10s --latency http://127.0.0.1:$port/alpacas\`."
say ""
say "| window | req/s | p50 ms | p99 ms | socket errors | non-2xx |"
say "|---:|---:|---:|---:|---|---:|"
total_errors=0
for w in $(seq $((sustained / 10))); do
	out=$(taskset -c 1 wrk -t1 -c128 -d10s --latency "http://127.0.0.1:$port/alpacas")
	rps=$(awk '/^Requests\/sec/ {printf "%.0f", $2}' <<<"$out")
	p50=$(awk '$1 == "50%" {print $2}' <<<"$out")
	p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
	sock=$(awk '/Socket errors/ {sub(/^ *Socket errors: */, ""); print}' <<<"$out")
	non2xx=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
	[ -z "$sock$non2xx" ] || total_errors=$((total_errors + 1))
	say "| $((w * 10 - 10))-$((w * 10))s | $rps | $p50 | $p99 | ${sock:-0} | ${non2xx:-0} |"
done
wait "$sampler" 2>/dev/null || true
stop_server
mapfile -t samples <"$work/rss.txt"
n=${#samples[@]}
max=$(printf '%s\n' "${samples[@]}" | sort -n | tail -1)
after_warmup=${samples[10]:-${samples[0]}}
last=${samples[$((n - 1))]}
say ""
say "RSS, sampled every second ($n samples): at 10 s $after_warmup KiB, last $last KiB, peak $max KiB"
say "(growth after warm-up: $((last - after_warmup)) KiB). The documented \`GOMEMLIMIT=$memlimit\` is"
say "$memlimit_kib KiB: the peak is $((max * 100 / memlimit_kib))% of it. Windows with socket errors or non-2xx responses: $total_errors."
say ""

# 2. 10,000 idle keep-alive connections, and a normal client meanwhile,
# with the budget lifted (no memory limit, which would lower it): what an
# idle connection costs.
echo "reliability: 10,000 idle connections" >&2
server_memlimit='' start_server -max-conns 20000
result=$("$work/hammer" idle -addr "127.0.0.1:$port" -pid "$server_pid" -conns 10000 -probes 2000)
stop_server
say "## Connection scale"
say ""
say "\`hammer idle -conns 10000 -probes 2000\`: 10,000 keep-alive connections, each after one answered"
say "request, held open while a normal client sends 2,000 requests on fresh connections. The"
say "connection budget is lifted (\`-max-conns 20000\`, no \`GOMEMLIMIT\`) to measure what an idle connection"
say "costs. The default budget rests on the worst case instead (docs/server.md, Connection budget)."
say ""
say "| idle connections | RSS before | RSS holding them | per connection | normal client p50 | p99 | max | failed | held connections still answering |"
say "|---:|---:|---:|---:|---:|---:|---:|---:|---|"
say "| $(kv idle_conns "$result") | $(kv rss_before_kib "$result") KiB | $(kv rss_held_kib "$result") KiB | $(kv rss_per_conn_bytes "$result") bytes | $(kv probe_p50_ms "$result") ms | $(kv probe_p99_ms "$result") ms | $(kv probe_max_ms "$result") ms | $(kv probe_failed "$result") | $(kv sample_alive "$result") sampled |"
say ""

# 2b. A connection flood against the container as compose.yaml runs it.
say "## Connection flood"
say ""
if docker image inspect echo_app_multistage >/dev/null 2>&1; then
	echo "reliability: connection flood (container)" >&2
	memory=$(awk '/limits:/ {l=1} l && /memory:/ {print $2; exit}' compose.yaml)
	name="echo-app-flood-$$"
	docker run -d --name "$name" --network host --read-only --cap-drop ALL --security-opt no-new-privileges \
		--memory "$memory" -e GOMEMLIMIT="$memlimit" -e "PORT=$port" echo_app_multistage >/dev/null
	for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
	budget=$(curl -fs "http://127.0.0.1:$port/metrics" | awk '/^echo_app_connections_max / {print $2}')
	r=$("$work/hammer" flood -addr "127.0.0.1:$port" -pid "$(docker inspect --format '{{.State.Pid}}' "$name")" -conns 10000 -silent 2000 -settle 10s || true)
	state=$(docker inspect --format 'running={{.State.Running}} oom_killed={{.State.OOMKilled}}' "$name")
	docker rm -f "$name" >/dev/null
	say "The shipped image with compose.yaml's limits (\`--memory $memory\`, \`GOMEMLIMIT=$memlimit\`), so a"
	say "default budget of $budget connections; \`hammer flood -conns 10000 -silent 2000\`: 2,000 connections"
	say "that send nothing, then 10,000 that each send one request and stay open, 32 opened at a time,"
	say "all held 2 s more, while a live client sends a request every 5 ms on one keep-alive connection."
	say "RSS after: 10 s after every connection is closed."
	say ""
	say "| flood took | answered | evicted | refused | RSS before | peak RSS | RSS after | container after | live requests | live failed | live p50 | live p99 | live max |"
	say "|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|---:|"
	say "| $(kv flood_s "$r") s | $(kv answered "$r") | $(kv evicted "$r") | $(kv refused "$r") | $(kv rss_before_kib "$r") KiB | **$(kv rss_peak_kib "$r") KiB** | $(kv rss_after_kib "$r") KiB | $state | $(kv live_requests "$r") | **$(kv live_failed "$r")** | $(kv live_p50_ms "$r") ms | $(kv live_p99_ms "$r") ms | $(kv live_max_ms "$r") ms |"
else
	say "Not run: no echo_app_multistage image (make images)."
fi
say ""

# 3. Slow clients, with a prober measuring availability throughout.
say "## Slow clients"
say ""
say "Debian's slowhttptest, 1,000 connections each, against the shipped timeouts (header 5s, read 10s,"
say "write 10s, idle 60s), while \`hammer probe\` sends a normal request every 100 ms on a new connection."
say ""
say "| attack | slowhttptest | peak connections open at the server | open at the server at the end | normal requests answered | probe p99 | probe max |"
say "|---|---|---:|---:|---:|---:|---:|"
slow() { # name, seconds, slowhttptest flags...
	local name=$1 secs=$2
	shift 2
	echo "reliability: slowhttptest $name" >&2
	start_server
	"$work/hammer" probe -url "http://127.0.0.1:$port/alpacas" -duration "${secs}s" >"$work/probe.txt" &
	local prober=$!
	# Connections the server holds, counted by the kernel every second.
	(for _ in $(seq "$secs"); do ss -Htn state established "( sport = :$port )" | wc -l; sleep 1; done) >"$work/conns.txt" &
	local counter=$!
	slowhttptest -c 1000 -r 200 -u "http://127.0.0.1:$port/alpacas" -l "$secs" >/dev/null 2>&1 || true
	wait "$prober" "$counter"
	stop_server
	local p peak open
	p=$(cat "$work/probe.txt")
	peak=$(sort -n "$work/conns.txt" | tail -1)
	open=$(tail -1 "$work/conns.txt")
	say "| $name | \`slowhttptest -c 1000 -r 200 -l $secs $*\` | $peak | $open | $(kv probes "$p") of $(( $(kv probes "$p") )) sent, $(kv available "$p") | $(kv p99_ms "$p") ms | $(kv max_ms "$p") ms |"
}
slow "slowloris (headers)" 15 -H -i 2 -x 24 -p 3
slow "slow body" 15 -B -i 2 -s 8192 -x 24 -p 3
slow "slow read" 75 -X -w 512 -y 1024 -n 5 -z 32 -k 3 -p 3
say ""
say "Connections are counted at the server (\`ss\`, established, on its port) every second. The slowloris"
say "connections are closed by the 5-second header timeout however fast they trickle; a slow body gets"
say "its answer at once (no route reads a body), and the connection is closed when the 10-second read"
say "timeout ends the trickle (net/http reads what is left of a small body before closing); slow readers get their"
say "small responses into the socket buffer at once, and the server closes them at the 60-second idle"
say "timeout (slowhttptest itself counts them open until it has read the buffered bytes)."
say ""

# 3b. The budget under abuse: clients that hold a connection while sending
# almost nothing, at ten times the budget, beside a live client.
say "## The budget under abuse"
say ""
say "\`echo_app -max-conns 64\`; \`hammer abuse -conns 640\` runs ten times the budget of clients of one kind"
say "(or a mix, 160 of each), each reconnecting as soon as the server closes it, for 14 s. From the"
say "second second, \`hammer probe\` sends a normal request every 10 ms on a new connection for 10 s, and"
say "\`echo_app -healthcheck\` runs 20 times. Kinds: slowloris (one header byte a second), silent"
say "(connects, sends nothing), threebytes (a request answered on keep-alive, then \`GET\` of the next),"
say "bodytrickle (a POST answered 405, then its body a byte a second)."
say ""
say "| attackers | connections they made | live requests | failed | answered | live p50 | live p99 | live max | health checks healthy | evicted | refused |"
say "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for kind in slowloris silent threebytes bodytrickle mix; do
	echo "reliability: budget abuse, $kind" >&2
	start_server -max-conns 64
	"$work/hammer" abuse -addr "127.0.0.1:$port" -kind "$kind" -conns 640 -duration 14s >"$work/abuse.txt" &
	abuser=$!
	sleep 2
	"$work/hammer" probe -url "http://127.0.0.1:$port/alpacas" -interval 10ms -duration 10s >"$work/probe.txt" &
	prober=$!
	healthy=0
	for _ in $(seq 20); do
		"$work/echo_app" -listen "127.0.0.1:$port" -healthcheck >/dev/null 2>&1 && healthy=$((healthy + 1))
		sleep 0.4
	done
	wait "$prober" "$abuser"
	m=$(curl -fsS "http://127.0.0.1:$port/metrics")
	stop_server
	p=$(cat "$work/probe.txt")
	a=$(cat "$work/abuse.txt")
	evicted=$(awk '/^echo_app_connections_evicted_total/ {print $2}' <<<"$m")
	refused=$(awk '/^echo_app_connections_refused_total/ {print $2}' <<<"$m")
	say "| 640 $kind | $(kv connections_made "$a") | $(kv probes "$p") | **$(kv failed "$p")** | $(kv available "$p") | $(kv p50_ms "$p") ms | $(kv p99_ms "$p") ms | $(kv max_ms "$p") ms | $healthy of 20 | $evicted | $refused |"
done
say ""
say "At the budget a newcomer takes the place of, in order: the connection answered longest ago; one"
say "whose answer has waited 20 ms or more on a client that takes none; one"
say "silent for a second or more since it connected; the one sending its headers longest; the one silent"
say "longest; a request pipelined behind an answered one. A connection is closed only if what has"
say "arrived by then does not complete a request (docs/server.md, Connection budget)."
say ""

# 3c. The budget's memory arithmetic, in the container as compose.yaml
# runs it: clients that pipeline and take no answers, and clients that
# spend the header allowance the costliest way, each at ten times the
# default budget, beside live clients and the health check.
say "## The budget's memory, in the 64 MiB container"
say ""
if docker image inspect echo_app_multistage >/dev/null 2>&1; then
	memory=$(awk '/limits:/ {l=1} l && /memory:/ {print $2; exit}' compose.yaml)
	say "The shipped image with compose.yaml's limits (\`--memory $memory\`, \`GOMEMLIMIT=$memlimit\`) and its"
	say "default budget. \`hammer abuse\` runs ten times the budget of one kind for 14 s, each client"
	say "reconnecting as soon as the server closes it: noread (2,000 pipelined \`GET /metrics\`, no answer"
	say "read), headers (100 fields of distinct names, about 200 bytes each, the headers never ended: the"
	say "costliest use of the default header allowance, \`TestConnectionCost\`). From the second second,"
	say "\`hammer probe\` sends a request every 10 ms on a new connection for 10 s, and \`echo_app -healthcheck\`"
	say "runs 20 times. Peak RSS is the process's VmHWM; TCP memory is the host's, from \`/proc/net/sockstat\`"
	say "(both sides of every connection), at its highest over the run."
	say ""
	say "| attackers | budget | connections they made | live requests | failed | live p50 | live p99 | health checks healthy | evicted | peak RSS | peak TCP memory | container after |"
	say "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"
	for kind in noread headers; do
		echo "reliability: the budget's memory, $kind (container)" >&2
		name="echo-app-memory-$$"
		docker run -d --name "$name" --network host --read-only --cap-drop ALL --security-opt no-new-privileges \
			--memory "$memory" -e GOMEMLIMIT="$memlimit" -e "PORT=$port" echo_app_multistage >/dev/null
		for _ in $(seq 100); do curl -fs -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
		budget=$(curl -fs "http://127.0.0.1:$port/metrics" | awk '/^echo_app_connections_max / {print $2}')
		pid=$(docker inspect --format '{{.State.Pid}}' "$name")
		"$work/hammer" abuse -addr "127.0.0.1:$port" -kind "$kind" -conns $((10 * budget)) -duration 14s >"$work/abuse.txt" &
		abuser=$!
		sleep 2
		"$work/hammer" probe -url "http://127.0.0.1:$port/alpacas" -interval 10ms -duration 10s >"$work/probe.txt" &
		prober=$!
		healthy=0 tcp_peak=0
		for _ in $(seq 20); do
			"$work/echo_app" -listen "127.0.0.1:$port" -healthcheck >/dev/null 2>&1 && healthy=$((healthy + 1))
			tcp=$(awk '/^TCP:/ {for (i = 1; i < NF; i++) if ($i == "mem") print $(i + 1)}' /proc/net/sockstat)
			[ "$tcp" -gt "$tcp_peak" ] && tcp_peak=$tcp
			sleep 0.4
		done
		wait "$prober" "$abuser"
		hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
		m=$(curl -fsS "http://127.0.0.1:$port/metrics")
		state=$(docker inspect --format 'running={{.State.Running}} oom_killed={{.State.OOMKilled}}' "$name")
		docker rm -f "$name" >/dev/null
		p=$(cat "$work/probe.txt")
		a=$(cat "$work/abuse.txt")
		evicted=$(awk '/^echo_app_connections_evicted_total/ {print $2}' <<<"$m")
		say "| $((10 * budget)) $kind | $budget | $(kv connections_made "$a") | $(kv probes "$p") | **$(kv failed "$p")** | $(kv p50_ms "$p") ms | $(kv p99_ms "$p") ms | $healthy of 20 | $evicted | **$hwm KiB** | $((tcp_peak * 4)) KiB | $state |"
	done
	say ""
	say "A connection costs at most 32 KiB plus twice the header allowance in the Go runtime and 128 KiB in"
	say "the kernel, so the budget is \`(limit - 16 MiB) / 200 KiB\` at the default header limit (docs/server.md,"
	say "Connection budget). A client that takes no answers is evicted once an answer has waited on it for"
	say "20 ms, and a connection answered 4 pipelined requests in a row yields its place while a newcomer"
	say "waits."
else
	say "Not run: no echo_app_multistage image (make images)."
fi
say ""

# 4. Shutdown under load: the process, then the container.
say "## Shutdown under load"
say ""
say "\`hammer shutdown\`: 64 keep-alive clients load the server for 3 s, then it is stopped (SIGTERM to"
say "the process; \`docker stop\` for the container) with a 1 s drain delay. Each request is classified:"
say "complete, refused (the listener was closed: never accepted), unsent (the server closed the"
say "idle connection before reading it), partial (a response broken off: a request lost)."
say ""
say "| server | complete | refused | unsent | partial | other status | exit status | stop to exit | /readyz 503 before the listener closed |"
say "|---|---:|---:|---:|---:|---:|---:|---:|---|"
shutdown_row() { # name, result
	say "| $1 | $(kv complete "$2") | $(kv refused "$2") | $(kv unsent "$2") | **$(kv partial "$2")** | $(kv other_status "$2") | $(kv exit_status "$2") | $(kv stop_to_exit_ms "$2") ms | $(kv readiness_503_before_listener_closed "$2") |"
}
echo "reliability: shutdown under load (process)" >&2
r=$("$work/hammer" shutdown -addr "127.0.0.1:$port" -after 3s -- "$work/echo_app" -listen "127.0.0.1:$port" -drain-delay 1s 2>>"$work/server.log")
shutdown_row "process, SIGTERM" "$r"
if docker image inspect echo_app_multistage >/dev/null 2>&1; then
	echo "reliability: shutdown under load (container)" >&2
	name="echo-app-reliability-$$"
	r=$("$work/hammer" shutdown -addr "127.0.0.1:$port" -after 3s -stop "docker stop --time 15 $name" -- \
		docker run --rm --name "$name" --network host --read-only --cap-drop ALL --security-opt no-new-privileges \
		-e "PORT=$port" -e ECHO_APP_DRAIN_DELAY=1s echo_app_multistage 2>>"$work/server.log")
	shutdown_row "container, docker stop" "$r"
else
	say "| container | not run: no echo_app_multistage image (make images) |||||||"
fi
say ""

# 5. Fuzzing, bounded.
echo "reliability: fuzzing 60s" >&2
fuzz=$(go test -run '^$' -fuzz FuzzNoun -fuzztime 60s ./internal/server/ 2>&1 | tee "$work/fuzz.txt" | tail -5)
execs=$(grep -o 'execs: [0-9]*' "$work/fuzz.txt" | tail -1 | awk '{print $2}')
say "## Fuzzing"
say ""
say "\`go test -run '^\$' -fuzz FuzzNoun -fuzztime 60s ./internal/server/\`: $execs executions,"
say "result: $(grep -E '^(ok|FAIL|PASS)' <<<"$fuzz" | head -1 | awk '{print $1}')."

{
	echo "# Reliability"
	echo
	echo "Produced by \`make reliability\` (\`bench/reliability.sh $sustained\`) on $(date -u +%Y-%m-%d), $(nproc) CPUs,"
	echo "$(go version | cut -d' ' -f3), commit \`$(git rev-parse --short HEAD)\`. All traffic on 127.0.0.1."
	echo
	cat "$report"
} >docs/reliability.md
echo "wrote docs/reliability.md" >&2
