#!/usr/bin/env bash
# Start-up time to ready: wall time from spawning `nuki-edge run --config F` to its
# "Bridge API ready" log line (the listener is bound and the rules are loaded), with 100 paired
# simulated devices and 10 000 permissions stored, against two baselines measured in the same
# run: the same 100 devices with an empty building, and the spawn of `nuki-edge --version`.
# The runs alternate between the three. Prints p50 and max of each and the ratios.
#
# The 100 devices are paired once by the daemon itself (auto_pair over the simulated radio,
# the demo's path: pairings in the store, the devices' keys in STORE.sim.json), then
# `benches/management.rs seed-building` adds the building to a copy of that store.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${RUNS:-15}
DEVICES=${DEVICES:-100}
PERMISSIONS=${PERMISSIONS:-10000}
cargo build --release -q --bin nuki-edge
cargo bench --bench management --no-run -q 2>/dev/null
seeder=$(ls -t target/release/deps/management-* | grep -v '\.d$' | head -n 1)
daemon=$PWD/target/release/nuki-edge
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Writes the config of the simulated building for the store in directory $1.
write_config() {
  local dir=$1
  {
    printf '[gateway]\nname = "startup-bench"\n\n[store]\npath = "%s/store.redb"\n\n' "$dir"
    printf '[log]\nlevel = "info"\nformat = "text"\n\n[ble]\nbackend = "sim"\n\n'
    printf '[pairing]\nid_type = "bridge"\nname = "startup bench"\nauto_pair = true\n\n'
    printf '[http]\nlisten = "127.0.0.1:0"\n\n[bridge]\ntoken = "startupbench1"\n\n'
    printf '[sim]\nseed = 7\nconnection_interval_ms = 1\nconnect_time_ms = 1\nactivity_interval_s = 86400\n'
    for i in $(seq 1 "$DEVICES"); do
      # One Box per ten devices at the street doors, Smart Locks on the flats.
      if [ $((i % 10)) -eq 1 ]; then kind=box; else kind=smart_lock_4; fi
      printf '\n[[sim.devices]]\naddress = "54:D2:72:BE:%02X:%02X"\nname = "Door %d"\n' $((i / 256)) $((i % 256)) "$i"
      printf 'nuki_id = "0x%08X"\nkind = "%s"\nsecurity_pin = %d\nstart_in_pairing_mode = true\n' $((0x4B000000 + i)) "$kind" $((1000 + i))
    done
  } >"$dir/config.toml"
}

mkdir -p "$work/empty" "$work/full"
write_config "$work/empty"
write_config "$work/full"

echo "pairing $DEVICES simulated devices through the daemon…"
"$daemon" run --config "$work/empty/config.toml" >"$work/pairing.log" 2>&1 &
pid=$!
for _ in $(seq 1 1200); do
  [ "$(grep -c 'device added to the fleet' "$work/pairing.log" || true)" -ge "$DEVICES" ] && break
  kill -0 "$pid" 2>/dev/null || { tail -n 20 "$work/pairing.log"; exit 1; }
  sleep 0.5
done
kill -TERM "$pid"; wait "$pid" || true
paired=$(grep -c 'device added to the fleet' "$work/pairing.log" || true)
[ "$paired" -ge "$DEVICES" ] || { echo "only $paired devices paired"; tail -n 20 "$work/pairing.log"; exit 1; }
cp "$work/empty/store.redb" "$work/full/store.redb"
cp "$work/empty/store.redb.sim.json" "$work/full/store.redb.sim.json"
"$seeder" seed-building "$work/full/store.redb" "$PERMISSIONS"

python3 - "$daemon" "$work" "$RUNS" "$PERMISSIONS" "$DEVICES" <<'PY'
import os, signal, statistics, subprocess, sys, time

daemon, work, runs, permissions, devices = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
READY = b"Bridge API ready"
READY_LIMIT_S = 60

def to_ready(config):
    started = time.perf_counter()
    process = subprocess.Popen([daemon, "run", "--config", config],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    elapsed = None
    for line in process.stdout:
        if READY in line:
            elapsed = time.perf_counter() - started
            break
        if time.perf_counter() - started > READY_LIMIT_S:
            break
    process.send_signal(signal.SIGTERM)
    # Drains the log so the daemon never blocks on a full pipe while it winds down.
    for _ in process.stdout:
        pass
    process.wait()
    if elapsed is None:
        sys.exit(f"{config}: no ready line")
    return elapsed

def spawn_version():
    started = time.perf_counter()
    subprocess.run([daemon, "--version"], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started

cases = {
    f"{permissions} permissions, {devices} devices": lambda: to_ready(f"{work}/full/config.toml"),
    f"0 permissions, {devices} devices (baseline)": lambda: to_ready(f"{work}/empty/config.toml"),
    "nuki-edge --version spawn (baseline)": spawn_version,
}
times = {name: [] for name in cases}
for name, case in cases.items():
    case()  # warm the page cache
for _ in range(runs):
    for name, case in cases.items():
        times[name].append(case())
for name, samples in times.items():
    print(f"{name}: n={len(samples)} p50={statistics.median(samples)*1e3:.1f} ms max={max(samples)*1e3:.1f} ms")
full, empty, spawn = (statistics.median(times[name]) for name in cases)
print(f"p50 ratio full/empty building = {full/empty:.2f}; full/--version spawn = {full/spawn:.1f}; "
      f"the building costs {(full-empty)*1e3:.1f} ms at p50")
PY
