#!/usr/bin/env bash
# Resident memory of the daemon serving 100 simulated devices, right after start-up and after
# MINUTES minutes (default 10) of residents operating doors every 2 s and a client reading
# /list every second. Prints both and their ratio. Needs nothing beyond the Rust toolchain.
set -euo pipefail
cd "$(dirname "$0")/.."
MINUTES=${1:-10}
DEVICES=${DEVICES:-100}
cargo build --release -q
work=$(mktemp -d)
trap 'kill -TERM "${pid:-0}" 2>/dev/null && wait "${pid:-0}" 2>/dev/null; rm -rf "$work"' EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
{
  printf '[store]\npath = "%s/store.redb"\n[log]\nlevel = "warn"\n[ble]\nbackend = "sim"\n' "$work"
  printf '[pairing]\nid_type = "bridge"\nauto_pair = true\n[http]\nlisten = "127.0.0.1:%s"\n' "$port"
  printf '[bridge]\ntoken = "benchtoken1"\n[sim]\nactivity_interval_s = 2\nconnection_interval_ms = 5\nconnect_time_ms = 20\n'
  for i in $(seq 1 "$DEVICES"); do
    printf '[[sim.devices]]\naddress = "sim:%03d"\nname = "Door %03d"\nnuki_id = %d\nkind = "smart_lock_4"\nsecurity_pin = 1234\n' "$i" "$i" $((0x30000000 + i))
  done
} > "$work/config.toml"
./target/release/nuki-edge run --config "$work/config.toml" 2>"$work/log" &
pid=$!
# Wait until every device is paired and listed.
for _ in $(seq 1 600); do
  listed=$(curl -s "http://127.0.0.1:$port/list?token=benchtoken1" | grep -o '"nukiId"' | wc -l || true)
  [ "$listed" -ge "$DEVICES" ] && break
  sleep 1
done
rss() { awk '/^VmRSS/ {print $2}' "/proc/$pid/status"; }
start_kib=$(rss)
end=$((SECONDS + MINUTES * 60))
while [ $SECONDS -lt $end ]; do
  curl -s -o /dev/null "http://127.0.0.1:$port/list?token=benchtoken1" || true
  sleep 1
done
end_kib=$(rss)
peak_kib=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
echo "devices=$DEVICES listed=$listed minutes=$MINUTES"
echo "rss_after_start_kib=$start_kib rss_after_run_kib=$end_kib peak_kib=$peak_kib"
awk -v a="$start_kib" -v b="$end_kib" 'BEGIN { printf "rss_after_run_mib=%.1f growth_ratio=%.2f\n", b/1024, b/a }'
