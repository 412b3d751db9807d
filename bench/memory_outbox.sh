#!/usr/bin/env bash
# Resident memory of the daemon with 100 simulated devices, right after start-up and again
# once its activity log (the outbox) is full while the MQTT broker is away, so nothing of it
# can be delivered. Events are made quickly with refused Bridge actions (bridge.rights = [],
# each /lockAction is an asked and a denied action in the log) driven by wrk. Prints both
# figures and their ratio. Needs wrk (apt-get install wrk).
set -euo pipefail
cd "$(dirname "$0")/.."
DEVICES=${DEVICES:-100}
MAX_ENTRIES=${MAX_ENTRIES:-100000}
cargo build --release -q
work=$(mktemp -d)
trap 'kill -TERM "${pid:-0}" 2>/dev/null && wait "${pid:-0}" 2>/dev/null; rm -rf "$work"' EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
broker_port=$(free_port) # nobody listens there: the broker is away for the whole run
{
  printf '[store]\npath = "%s/store.redb"\n[log]\nlevel = "warn"\n[ble]\nbackend = "sim"\n' "$work"
  printf '[events]\nmax_entries = %s\n' "$MAX_ENTRIES"
  printf '[mqtt]\nhost = "127.0.0.1"\nport = %s\n' "$broker_port"
  printf '[pairing]\nid_type = "bridge"\nauto_pair = true\n[http]\nlisten = "127.0.0.1:%s"\n' "$port"
  printf '[bridge]\ntoken = "benchtoken1"\nrights = []\n[sim]\nconnection_interval_ms = 5\nconnect_time_ms = 20\n'
  for i in $(seq 1 "$DEVICES"); do
    printf '[[sim.devices]]\naddress = "sim:%03d"\nname = "Door %03d"\nnuki_id = %d\nkind = "smart_lock_4"\nsecurity_pin = 1234\n' "$i" "$i" $((0x30000000 + i))
  done
} > "$work/config.toml"
./target/release/nuki-edge run --config "$work/config.toml" 2>"$work/log" &
pid=$!
for _ in $(seq 1 600); do
  listed=$(curl -s "http://127.0.0.1:$port/list?token=benchtoken1" | grep -o '"nukiId"' | wc -l || true)
  [ "$listed" -ge "$DEVICES" ] && break
  sleep 1
done
sleep 5
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
start_kib=$(rss)
# Two events per refused action; fill the log one and a half times over, so pruning runs.
requests=$((MAX_ENTRIES * 3 / 4))
started=$SECONDS
url="http://127.0.0.1:$port/lockAction?nukiId=$((0x30000001))&deviceType=4&action=1&token=benchtoken1"
while :; do
  wrk -t2 -c8 -d10s "$url" > "$work/wrk.txt" 2>&1 || true
  done_requests=$((${done_requests:-0} + $(awk '/requests in/ {print $1}' "$work/wrk.txt")))
  [ "$done_requests" -ge "$requests" ] && break
done
sleep 5
full_kib=$(rss)
peak_kib=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
store_kib=$(du -k "$work/store.redb" | cut -f1)
echo "devices=$DEVICES listed=$listed max_entries=$MAX_ENTRIES refused_actions=$done_requests fill_seconds=$((SECONDS - started))"
echo "rss_after_start_kib=$start_kib rss_outbox_full_kib=$full_kib peak_kib=$peak_kib store_kib=$store_kib"
awk -v a="$start_kib" -v b="$full_kib" 'BEGIN { printf "rss_outbox_full_mib=%.1f ratio_vs_start=%.2f\n", b/1024, b/a }'
