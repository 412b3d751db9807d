#!/usr/bin/env bash
# GET /api/v1/permissions?limit=100 (a page of 100 of 10 000 permissions in a real redb store,
# with the owner's API token) at 64 concurrent connections, against an axum hello-world served
# by the same process, both loaded with wrk in the same run. Prints requests/s, p50 and p99 of
# each and the throughput ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=${DURATION:-10s}
PERMISSIONS=${PERMISSIONS:-10000}
command -v wrk >/dev/null || { [ "$(id -u)" -eq 0 ] && apt-get install -y -qq wrk >/dev/null; }
cargo bench --bench management --no-run -q 2>/dev/null
binary=$(ls -t target/release/deps/management-* | grep -v '\.d$' | head -n 1)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
api_port=$(free_port); hello_port=$(free_port)
work=$(mktemp -d)
"$binary" serve-permissions "$api_port" "$hello_port" "$work/token" "$PERMISSIONS" >"$work/log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 1 600); do grep -q ready "$work/log" && break; sleep 0.2; done
grep -q ready "$work/log" || { cat "$work/log"; exit 1; }
token=$(cat "$work/token")
# Checks the page is a real answer (not a 401/400) before loading it.
curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$api_port/api/v1/permissions?limit=100" \
  | python3 -c 'import json,sys; p=json.load(sys.stdin); assert len(p["items"])==100, p; print("page: %d items, next cursor %s" % (len(p["items"]), p.get("next_cursor") or p.get("nextCursor")))'
run() {
  wrk -t2 -c64 -d"$DURATION" --latency "$@" \
    | awk '/Requests\/sec/ {rps=$2} / 50%/ {p50=$2} / 99%/ {p99=$2} /Non-2xx/ {bad=$NF} END {print rps, p50, p99, bad+0}'
}
read -r api_rps api_p50 api_p99 api_bad < <(run -H "Authorization: Bearer $token" "http://127.0.0.1:$api_port/api/v1/permissions?limit=100")
read -r hello_rps hello_p50 hello_p99 _ < <(run "http://127.0.0.1:$hello_port/")
echo "permissions page: ${api_rps} req/s p50 ${api_p50} p99 ${api_p99} (non-2xx: ${api_bad})"
echo "hello-world:      ${hello_rps} req/s p50 ${hello_p50} p99 ${hello_p99}"
awk -v a="$api_rps" -v b="$hello_rps" 'BEGIN { printf "permissions/hello throughput ratio = %.3f\n", a/b }'
