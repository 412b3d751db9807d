#!/usr/bin/env bash
# /list for 100 devices at 64 concurrent connections, against an axum hello-world served by the
# same process, both loaded with wrk in the same run. Prints requests/s and p99 of each and the
# throughput ratio (target: /list >= 50 % of hello-world).
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
command -v wrk >/dev/null || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq wrk >/dev/null; }
cargo bench --bench bridge --no-run -q 2>/dev/null
binary=$(ls -t target/release/deps/bridge-* | grep -v '\.d$' | head -n 1)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
list_port=$(free_port); hello_port=$(free_port)
log=$(mktemp)
"$binary" serve-list "$list_port" "$hello_port" >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 1 300); do grep -q ready "$log" && break; sleep 0.2; done
run() { wrk -t2 -c64 -d"$DURATION" --latency "$1" | awk '/Requests\/sec/ {rps=$2} / 99%/ {p99=$2} END {print rps, p99}'; }
read -r list_rps list_p99 < <(run "http://127.0.0.1:$list_port/list?token=benchtoken1")
read -r hello_rps hello_p99 < <(run "http://127.0.0.1:$hello_port/")
echo "list:  ${list_rps} req/s p99 ${list_p99}"
echo "hello: ${hello_rps} req/s p99 ${hello_p99}"
awk -v a="$list_rps" -v b="$hello_rps" 'BEGIN { printf "list/hello throughput ratio = %.2f (target >= 0.50)\n", a/b }'
