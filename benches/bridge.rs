//! Bridge API benchmarks over simulated devices with an instantaneous radio.
//!
//! * `overhead`: the gateway's own time per `/lockAction` (zero radio delay, zero motor time, a
//!   warm link), as request latency percentiles, next to an axum hello-world on the same
//!   machine measured in the same run with the same client.
//! * `serve-list PORT_LIST PORT_HELLO`: serves `/list` for 100 devices and a hello-world
//!   until killed, for `bench/list_throughput.sh` to load with wrk.
//!
//! Without a mode (as `cargo test --all-targets` runs it) it does a short smoke run.

use std::sync::Arc;
use std::time::{Duration, Instant};

use nuki_edge::ble::sim::{RadioModel, SimDeviceSpec, SimKind, SimTransport};
use nuki_edge::ble::{Advertisement, BleError, BleLink, BleTransport, DeviceAddress, Indication};
use nuki_edge::devices::credentials::DeviceCredentials;
use nuki_edge::devices::fleet::{Fleet, FleetConfig};
use nuki_edge::devices::link::{LinkTimeouts, NukiLink};
use nuki_edge::gateway::Gateway;
use nuki_edge::http::bridge_json::BridgeIdentity;
use nuki_edge::http::callbacks::{Callbacks, DeliveryPolicy};
use nuki_edge::http::server::{AuthWindow, BridgeApi};
use nuki_edge::http::token::BridgeToken;
use nuki_edge::nuki::enums::IdType;
use nuki_edge::nuki::pairing::PairingRequest;

const TOKEN: &str = "benchtoken1";

/// When the radio was last written to and last heard from, to split a request's latency into
/// the gateway's part and the radio's part.
#[derive(Default)]
struct RadioClock {
    writes: std::sync::Mutex<Vec<Instant>>,
    indications: std::sync::Mutex<Vec<Instant>>,
}

impl RadioClock {
    fn clear(&self) {
        self.writes.lock().expect("lock").clear();
        self.indications.lock().expect("lock").clear();
    }

    fn first_write(&self) -> Option<Instant> {
        self.writes.lock().expect("lock").first().copied()
    }

    fn last_indication(&self) -> Option<Instant> {
        self.indications.lock().expect("lock").last().copied()
    }
}

/// The simulator's transport with every write and indication time-stamped.
struct TimedTransport {
    inner: SimTransport,
    clock: Arc<RadioClock>,
}

struct TimedLink {
    inner: Box<dyn BleLink>,
    clock: Arc<RadioClock>,
}

#[async_trait::async_trait]
impl BleTransport for TimedTransport {
    async fn scan(&self, duration: Duration) -> Result<Vec<Advertisement>, BleError> {
        self.inner.scan(duration).await
    }

    async fn advertisements(&self) -> Result<tokio::sync::mpsc::Receiver<Advertisement>, BleError> {
        self.inner.advertisements().await
    }

    async fn connect(&self, address: &DeviceAddress) -> Result<Box<dyn BleLink>, BleError> {
        let inner = self.inner.connect(address).await?;
        Ok(Box::new(TimedLink {
            inner,
            clock: self.clock.clone(),
        }))
    }
}

#[async_trait::async_trait]
impl BleLink for TimedLink {
    fn characteristics(&self) -> Vec<uuid::Uuid> {
        self.inner.characteristics()
    }

    async fn subscribe(&mut self, characteristic: uuid::Uuid) -> Result<(), BleError> {
        self.inner.subscribe(characteristic).await
    }

    async fn write(&mut self, characteristic: uuid::Uuid, value: &[u8]) -> Result<(), BleError> {
        self.clock.writes.lock().expect("lock").push(Instant::now());
        self.inner.write(characteristic, value).await
    }

    async fn next_indication(&mut self) -> Result<Indication, BleError> {
        let indication = self.inner.next_indication().await?;
        self.clock
            .indications
            .lock()
            .expect("lock")
            .push(Instant::now());
        Ok(indication)
    }

    async fn disconnect(&mut self) -> Result<(), BleError> {
        self.inner.disconnect().await
    }
}

async fn paired_fleet(devices: usize, config: FleetConfig) -> (Arc<Fleet>, Arc<RadioClock>) {
    let specs: Vec<SimDeviceSpec> = (0..devices)
        .map(|i| {
            let address = format!("bench:{i:03}");
            let mut spec = SimDeviceSpec::new(
                &address,
                &address,
                0x3000_0000 + i as u32,
                SimKind::SmartLock4,
            );
            spec.motor_time = Duration::ZERO;
            spec
        })
        .collect();
    let (transport, control) = SimTransport::new(specs.clone(), RadioModel::instant());
    let mut credentials = Vec::new();
    for spec in &specs {
        control.press_button(&spec.address).expect("device exists");
        let mut link = NukiLink::connect(&transport, &spec.address, LinkTimeouts::default(), None)
            .await
            .expect("connect");
        let outcome = link
            .pair(PairingRequest {
                id_type: IdType::Bridge,
                app_id: 1,
                name: "bench".into(),
                security_pin: None,
            })
            .await
            .expect("pair");
        link.disconnect().await;
        credentials.push(DeviceCredentials {
            address: spec.address.clone(),
            name: spec.name.clone(),
            nuki_id: spec.nuki_id,
            family: spec.family(),
            auth_id: outcome.auth_id,
            app_id: 1,
            key: outcome.key,
            security_pin: None,
            mains_powered: false,
        });
    }
    let clock = Arc::new(RadioClock::default());
    let timed = TimedTransport {
        inner: transport,
        clock: clock.clone(),
    };
    let fleet = Fleet::start(Arc::new(timed), config, credentials);
    fleet.refresh_all();
    (fleet, clock)
}

async fn serve_bridge(fleet: Arc<Fleet>, listener: tokio::net::TcpListener) {
    let gateway = Gateway::new(fleet, Duration::from_secs(15));
    let callbacks = Callbacks::new(DeliveryPolicy {
        attempts: 1,
        first_pause: Duration::from_millis(10),
        timeout: Duration::from_secs(1),
    });
    let api = BridgeApi::new(
        gateway,
        BridgeToken::new(TOKEN).expect("token"),
        BridgeIdentity::new(1, 2).expect("identity"),
        callbacks,
        AuthWindow {
            path: std::env::temp_dir().join("nuki-edge-bench-auth-window"),
        },
    );
    let _ = axum::serve(listener, api.router()).await;
}

async fn serve_hello(listener: tokio::net::TcpListener) {
    let router = axum::Router::new().route("/", axum::routing::get(|| async { "Hello, World!" }));
    let _ = axum::serve(listener, router).await;
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

async fn measure(client: &reqwest::Client, urls: &[String], rounds: usize) -> Vec<Duration> {
    let mut latencies = Vec::with_capacity(rounds);
    for round in 0..rounds {
        let url = &urls[round % urls.len()];
        let started = Instant::now();
        let response = client.get(url).send().await.expect("request");
        let _ = response.bytes().await.expect("body");
        latencies.push(started.elapsed());
    }
    latencies.sort();
    latencies
}

fn report(name: &str, sorted: &[Duration]) {
    println!(
        "{name}: n={} p50={:.1} µs p99={:.1} µs",
        sorted.len(),
        percentile(sorted, 0.5).as_secs_f64() * 1e6,
        percentile(sorted, 0.99).as_secs_f64() * 1e6
    );
}

async fn overhead(rounds: usize) {
    let config = FleetConfig {
        idle_disconnect: Duration::from_secs(3600),
        ..FleetConfig::default()
    };
    let (fleet, clock) = paired_fleet(1, config).await;
    let bridge = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let hello = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let (bridge_addr, hello_addr) = (
        bridge.local_addr().expect("addr"),
        hello.local_addr().expect("addr"),
    );
    tokio::spawn(serve_bridge(fleet, bridge));
    tokio::spawn(serve_hello(hello));
    let client = reqwest::Client::new();
    let action = |code: u8| {
        format!(
            "http://{bridge_addr}/lockAction?nukiId={}&action={code}&token={TOKEN}",
            0x3000_0000u32
        )
    };
    let urls = vec![action(1), action(2)];
    let hello_urls = vec![format!("http://{hello_addr}/")];
    measure(&client, &urls, rounds / 10 + 2).await; // warm the link and the connection pool
    measure(&client, &hello_urls, rounds / 10 + 2).await;
    let mut overheads = Vec::with_capacity(rounds);
    let mut totals = Vec::with_capacity(rounds);
    for round in 0..rounds {
        clock.clear();
        let started = Instant::now();
        let response = client
            .get(&urls[round % urls.len()])
            .send()
            .await
            .expect("request");
        let _ = response.bytes().await.expect("body");
        let finished = Instant::now();
        let (Some(first_write), Some(last_indication)) =
            (clock.first_write(), clock.last_indication())
        else {
            panic!("the request did not reach the radio");
        };
        overheads.push((first_write - started) + (finished - last_indication));
        totals.push(finished - started);
    }
    overheads.sort();
    totals.sort();
    let hellos = measure(&client, &hello_urls, rounds).await;
    report(
        "lockAction request->first BLE write + last indication->response",
        &overheads,
    );
    report(
        "lockAction whole request (zero-delay radio, zero motor time)",
        &totals,
    );
    report(
        "axum hello-world round trip, same client (baseline)",
        &hellos,
    );
    println!(
        "overhead p99 / hello-world p99 = {:.2} (target: overhead p99 < 1000 µs)",
        percentile(&overheads, 0.99).as_secs_f64() / percentile(&hellos, 0.99).as_secs_f64()
    );
}

async fn serve_list(list_port: u16, hello_port: u16) {
    let (fleet, _clock) = paired_fleet(100, FleetConfig::default()).await;
    // Let the initial refreshes fill the cache before clients come.
    for _ in 0..200 {
        if fleet
            .devices()
            .iter()
            .all(|d| fleet.cached_state(&d.address).is_some())
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let bridge = tokio::net::TcpListener::bind(("127.0.0.1", list_port))
        .await
        .expect("bind");
    let hello = tokio::net::TcpListener::bind(("127.0.0.1", hello_port))
        .await
        .expect("bind");
    println!("ready");
    tokio::join!(serve_bridge(fleet, bridge), serve_hello(hello));
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["serve-list", list, hello, ..] => {
            let (list, hello) = (list.parse().expect("port"), hello.parse().expect("port"));
            runtime.block_on(serve_list(list, hello));
        }
        args if args.contains(&"overhead") => runtime.block_on(overhead(5000)),
        // `cargo bench` without a mode, and `cargo test --all-targets`: a quick smoke run.
        _ => runtime.block_on(overhead(50)),
    }
}
