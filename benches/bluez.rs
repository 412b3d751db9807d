//! The BlueZ backend against the in-process simulator, measured in the same run:
//!
//! * `latency [ACTIONS]`: lock-action latency (p50/p99) through btleplug → D-Bus → the fake
//!   BlueZ (tests/fake_bluez) → the simulated lock, next to the same fleet driving the same
//!   simulated lock directly (same radio model, zero motor time, warm link). The ratio is the
//!   D-Bus overhead. The fake runs in this process, so its serving cost (bluetoothd's share on
//!   a Pi) is part of the BlueZ figure.
//! * `memory [DEVICES]`: resident memory (VmRSS, VmHWM) of the daemon binary with DEVICES
//!   paired devices on the BlueZ backend (fake BlueZ served from here) and on the sim backend.
//!
//! Without a mode (as `cargo test --all-targets` runs it) it does a short smoke run. Both need
//! `dbus-daemon` (Debian package `dbus`).

#[path = "../tests/fake_bluez/mod.rs"]
mod fake_bluez;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use fake_bluez::{dbus_daemon_available, FakeBluez};
use nuki_edge::ble::bluez::BluezTransport;
use nuki_edge::ble::sim::{RadioModel, SimDeviceSpec, SimKind, SimTransport};
use nuki_edge::ble::BleTransport;
use nuki_edge::devices::credentials::DeviceCredentials;
use nuki_edge::devices::fleet::{Fleet, FleetConfig};
use nuki_edge::devices::link::{LinkTimeouts, NukiLink};
use nuki_edge::nuki::enums::{DeviceAction, IdType, LockAction};
use nuki_edge::nuki::messages::SecurityPin;
use nuki_edge::nuki::pairing::PairingRequest;

const DEADLINE: Duration = Duration::from_secs(20);
const TOKEN: &str = "benchtoken1";
/// How long the memory run waits for the daemon to pair every device.
const PAIR_ALL_WAIT: Duration = Duration::from_secs(600);

/// The radio both backends share: a short connection interval, as with a negotiated fast
/// connection, so the per-message costs show.
fn radio() -> RadioModel {
    RadioModel {
        connection_interval: Duration::from_millis(2),
        connect_time: Duration::from_millis(20),
        advert_interval: Duration::from_millis(500),
        ..RadioModel::default()
    }
}

fn lock(index: u32) -> SimDeviceSpec {
    let address = format!("54:D2:72:01:{:02X}:{:02X}", index >> 8, index & 0xFF);
    let mut spec = SimDeviceSpec::new(
        &address,
        &format!("Door {index}"),
        0x3000_0000 + index,
        SimKind::SmartLock4,
    );
    spec.pin = Some(1234);
    spec.motor_time = Duration::from_millis(1);
    spec
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if !dbus_daemon_available() {
        eprintln!("dbus-daemon is not installed (Debian package dbus); nothing to measure");
        return;
    }
    let count = |default: usize| args.get(1).and_then(|n| n.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("latency") => {
            latency(count(200), radio(), "2 ms connection interval").await;
            latency(count(200), RadioModel::instant(), "instantaneous radio").await;
        }
        Some("memory") => memory(count(100)).await,
        _ => {
            latency(5, radio(), "2 ms connection interval").await;
            memory(2).await;
        }
    }
}

async fn pair(transport: &dyn BleTransport, spec: &SimDeviceSpec) -> DeviceCredentials {
    let mut link = NukiLink::connect(transport, &spec.address, LinkTimeouts::default(), Some(1))
        .await
        .expect("connect");
    let outcome = link
        .pair(PairingRequest {
            id_type: IdType::Bridge,
            app_id: 7,
            name: "bench".into(),
            security_pin: None,
        })
        .await
        .expect("pair");
    link.disconnect().await;
    DeviceCredentials {
        address: spec.address.clone(),
        name: spec.name.clone(),
        nuki_id: spec.nuki_id,
        product: spec.kind,
        auth_id: outcome.auth_id,
        app_id: 7,
        key: outcome.key,
        security_pin: Some(SecurityPin::Short(1234)),
    }
}

/// Latencies of `actions` lock actions, alternating lock and unlock, after one warm-up.
async fn run_actions(
    transport: Arc<dyn BleTransport>,
    spec: &SimDeviceSpec,
    actions: usize,
) -> Vec<Duration> {
    let credentials = pair(transport.as_ref(), spec).await;
    let fleet = Fleet::start(
        transport,
        FleetConfig {
            idle_disconnect: Duration::from_secs(60),
            ..FleetConfig::default()
        },
        vec![credentials],
    );
    let act = |index: usize| {
        let action = if index.is_multiple_of(2) {
            LockAction::Unlock
        } else {
            LockAction::Lock
        };
        fleet.act(&spec.address, DeviceAction::Lock(action), DEADLINE)
    };
    act(1).await.expect("warm-up action");
    let mut latencies = Vec::with_capacity(actions);
    for index in 0..actions {
        let started = Instant::now();
        act(index).await.expect("action");
        latencies.push(started.elapsed());
    }
    // Links closed while the bus still runs; the next measurement starts from a quiet radio.
    fleet.shutdown(Duration::from_secs(5)).await;
    latencies.sort();
    latencies
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

async fn latency(actions: usize, radio: RadioModel, label: &str) {
    let spec = lock(1);
    let (sim, control) = SimTransport::new(vec![spec.clone()], radio.clone());
    control.press_button(&spec.address).expect("exists");
    let direct = run_actions(Arc::new(sim), &spec, actions).await;

    let fake = FakeBluez::start(vec![spec.clone()], radio).await;
    std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", fake.bus_address());
    fake.control().press_button(&spec.address).expect("exists");
    let bluez = BluezTransport::new(Some("hci0"))
        .await
        .expect("backend on the fake");
    let through_bluez = run_actions(Arc::new(bluez), &spec, actions).await;

    let (sim50, sim99) = (percentile(&direct, 0.5), percentile(&direct, 0.99));
    let (bz50, bz99) = (
        percentile(&through_bluez, 0.5),
        percentile(&through_bluez, 0.99),
    );
    println!("lock-action latency over {actions} actions ({label}, warm link, 1 ms motor time)");
    println!(
        "  in-process simulator: p50 {:.2} ms  p99 {:.2} ms",
        ms(sim50),
        ms(sim99)
    );
    println!(
        "  through fake BlueZ:   p50 {:.2} ms  p99 {:.2} ms",
        ms(bz50),
        ms(bz99)
    );
    println!(
        "  D-Bus overhead ratio: p50 {:.2}x  p99 {:.2}x",
        ms(bz50) / ms(sim50).max(f64::EPSILON),
        ms(bz99) / ms(sim99).max(f64::EPSILON)
    );
}

/// The daemon binary with `devices` devices to auto-pair; `backend` is "sim" or "bluez".
struct DaemonRun {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl DaemonRun {
    fn start(backend: &str, devices: &[SimDeviceSpec]) -> DaemonRun {
        let dir = tempfile::tempdir().expect("temp dir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("free port")
            .port();
        let ble = if backend == "bluez" {
            "backend = \"bluez\"\nadapter = \"hci0\"\n"
        } else {
            "backend = \"sim\"\n"
        };
        let mut config = format!(
            "[store]\npath = \"{}\"\n[log]\nlevel = \"warn\"\n[ble]\n{ble}scan_seconds = 1\n\
             [pairing]\nid_type = \"bridge\"\nauto_pair = true\n[http]\nlisten = \"127.0.0.1:{port}\"\n\
             [bridge]\ntoken = \"{TOKEN}\"\n",
            dir.path().join("store.redb").display()
        );
        if backend == "sim" {
            // The same radio as the fake's devices.
            config.push_str("[sim]\nconnection_interval_ms = 2\nconnect_time_ms = 20\n");
            for spec in devices {
                config.push_str(&format!(
                    "[[sim.devices]]\naddress = \"{}\"\nname = \"{}\"\nnuki_id = {}\nkind = \"smart_lock_4\"\nsecurity_pin = 1234\nmotor_time_ms = 1\n",
                    spec.address, spec.name, spec.nuki_id
                ));
            }
        }
        let path = dir.path().join("config.toml");
        std::fs::write(&path, config).expect("write config");
        let child = Command::new(env!("CARGO_BIN_EXE_nuki-edge"))
            .args(["run", "--config"])
            .arg(&path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(
                std::fs::File::create(dir.path().join("log"))
                    .map_or_else(|_| Stdio::null(), Stdio::from),
            )
            .spawn()
            .expect("daemon starts");
        DaemonRun {
            child,
            port,
            _dir: dir,
        }
    }

    fn exited(&mut self) -> bool {
        let exited = !matches!(self.child.try_wait(), Ok(None));
        if exited {
            let log = std::fs::read_to_string(self._dir.path().join("log")).unwrap_or_default();
            eprintln!("the daemon exited early:\n{log}");
        }
        exited
    }

    async fn listed(&self) -> usize {
        let url = format!("http://127.0.0.1:{}/list?token={TOKEN}", self.port);
        let Ok(response) = reqwest::get(&url).await else {
            return 0;
        };
        let Ok(body) = response.json::<serde_json::Value>().await else {
            return 0;
        };
        body.as_array().map_or(0, Vec::len)
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|line| line.starts_with(field))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|kib| kib.parse().ok())
            .unwrap_or(0)
    }
}

impl Drop for DaemonRun {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until every device is paired and listed (re-pressing the button of the others, whose
/// pairing mode may time out meanwhile); then lets the feed run a while and reads the memory.
async fn settle(run: &mut DaemonRun, devices: usize, press: impl Fn()) -> (usize, u64, u64) {
    let started = Instant::now();
    let mut last_press = Instant::now();
    loop {
        let listed = run.listed().await;
        if listed >= devices || started.elapsed() > PAIR_ALL_WAIT || run.exited() {
            break;
        }
        if last_press.elapsed() > Duration::from_secs(20) {
            press();
            last_press = Instant::now();
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    tokio::time::sleep(Duration::from_secs(5)).await;
    (
        run.listed().await,
        run.status_kib("VmRSS:"),
        run.status_kib("VmHWM:"),
    )
}

async fn memory(devices: usize) {
    let specs: Vec<SimDeviceSpec> = (1..=devices as u32).map(lock).collect();

    let mut sim_run = DaemonRun::start("sim", &specs);
    let (sim_listed, sim_rss, sim_hwm) = settle(&mut sim_run, devices, || {}).await;
    drop(sim_run);

    let fake = FakeBluez::start(specs.clone(), radio()).await;
    std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", fake.bus_address());
    let press_all = || {
        for spec in &specs {
            let _ = fake.control().press_button(&spec.address);
        }
    };
    press_all();
    let mut bluez_run = DaemonRun::start("bluez", &specs);
    let (bz_listed, bz_rss, bz_hwm) = settle(&mut bluez_run, devices, press_all).await;
    drop(bluez_run);

    println!("daemon resident memory with {devices} devices (paired and listed)");
    println!(
        "  sim backend:   listed {sim_listed}  VmRSS {:.1} MiB  VmHWM {:.1} MiB",
        sim_rss as f64 / 1024.0,
        sim_hwm as f64 / 1024.0
    );
    println!(
        "  bluez backend: listed {bz_listed}  VmRSS {:.1} MiB  VmHWM {:.1} MiB",
        bz_rss as f64 / 1024.0,
        bz_hwm as f64 / 1024.0
    );
    println!(
        "  ratio bluez/sim: VmRSS {:.2}x",
        bz_rss as f64 / (sim_rss as f64).max(1.0)
    );
}
