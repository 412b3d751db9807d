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

use nuki_edge::ble::sim::{RadioModel, SimControl, SimDeviceSpec, SimKind, SimTransport};
use nuki_edge::ble::{Advertisement, BleError, BleLink, BleTransport, DeviceAddress, Indication};
use nuki_edge::clock::SystemClock;
use nuki_edge::devices::credentials::DeviceCredentials;
use nuki_edge::devices::fleet::{Fleet, FleetConfig};
use nuki_edge::devices::link::{LinkTimeouts, NukiLink};
use nuki_edge::devices::slots::Priority;
use nuki_edge::gateway::{Gateway, GatewaySettings};
use nuki_edge::http::bridge_json::BridgeIdentity;
use nuki_edge::http::callbacks::{Callbacks, DeliveryPolicy};
use nuki_edge::http::server::{AuthWindow, BridgeApi};
use nuki_edge::http::token::BridgeToken;
use nuki_edge::nuki::enums::IdType;
use nuki_edge::nuki::enums::{DeviceAction, LockAction};
use nuki_edge::nuki::pairing::PairingRequest;
use nuki_edge::store::Store;

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
    let (fleet, clock, _control, _transport) =
        paired_fleet_with(devices, config, RadioModel::instant(), Duration::ZERO).await;
    (fleet, clock)
}

async fn paired_fleet_with(
    devices: usize,
    config: FleetConfig,
    radio: RadioModel,
    motor_time: Duration,
) -> (
    Arc<Fleet>,
    Arc<RadioClock>,
    SimControl,
    Arc<dyn BleTransport>,
) {
    let specs: Vec<SimDeviceSpec> = (0..devices)
        .map(|i| {
            let address = format!("bench:{i:03}");
            let mut spec = SimDeviceSpec::new(
                &address,
                &address,
                0x3000_0000 + i as u32,
                SimKind::SmartLock4,
            );
            spec.motor_time = motor_time;
            spec
        })
        .collect();
    let (transport, control) = SimTransport::new(specs.clone(), radio);
    // Pair all devices at once: each has its own simulated radio link.
    let transport = Arc::new(transport);
    let pairings = specs.iter().map(|spec| {
        let (transport, control, spec) = (transport.clone(), control.clone(), spec.clone());
        async move {
            control.press_button(&spec.address).expect("device exists");
            let mut link = NukiLink::connect(
                transport.as_ref(),
                &spec.address,
                LinkTimeouts::default(),
                None,
            )
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
            DeviceCredentials {
                address: spec.address.clone(),
                name: spec.name.clone(),
                nuki_id: spec.nuki_id,
                product: spec.kind,
                auth_id: outcome.auth_id,
                app_id: 1,
                key: outcome.key,
                security_pin: None,
            }
        }
    });
    let credentials = futures::future::join_all(pairings).await;
    let transport =
        Arc::try_unwrap(transport).unwrap_or_else(|_| panic!("pairing links still open"));
    let clock = Arc::new(RadioClock::default());
    let timed = TimedTransport {
        inner: transport,
        clock: clock.clone(),
    };
    let transport: Arc<dyn BleTransport> = Arc::new(timed);
    let fleet = Fleet::start(transport.clone(), config, credentials);
    fleet.refresh_all();
    (fleet, clock, control, transport)
}

async fn serve_bridge(fleet: Arc<Fleet>, listener: tokio::net::TcpListener) {
    let store_dir = tempfile::tempdir().expect("store directory");
    let store = Arc::new(Store::open(&store_dir.path().join("bench.redb")).expect("store"));
    let gateway = Gateway::new(
        fleet,
        store,
        SystemClock::shared(),
        GatewaySettings::with_action_deadline(Duration::from_secs(15)),
    );
    let callbacks = Callbacks::new(DeliveryPolicy {
        attempts: 1,
        first_pause: Duration::from_millis(10),
        timeout: Duration::from_secs(1),
    });
    // The activity log and its recorder, as the daemon runs them (`/log` reads the log).
    let events = nuki_edge::events::EventLog::open(
        gateway.store().clone(),
        nuki_edge::events::EventSettings::default(),
    )
    .expect("event log");
    let recorder = nuki_edge::events::Recorder::new(events.clone(), gateway.clone());
    tokio::spawn(recorder.run(gateway.stopping()));
    let api = BridgeApi::new(
        gateway,
        BridgeToken::new(TOKEN).expect("token"),
        BridgeIdentity::new(1, 2).expect("identity"),
        callbacks,
        AuthWindow {
            path: std::env::temp_dir().join("nuki-edge-bench-auth-window"),
        },
        events,
    );
    // Served as the daemon serves it: the composed router on the limited listener.
    let _ = nuki_edge::http::listener::serve(
        listener,
        nuki_edge::http::router::compose([api.router()], nuki_edge::http::router::REQUEST_TIMEOUT),
        nuki_edge::http::listener::ListenerLimits::default(),
        tokio_util::sync::CancellationToken::new(),
        Duration::from_secs(1),
    )
    .await;
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

/// Radio packets of each message of an unlock on a warm link (Smart Lock 4, 27-byte states):
/// challenge request 56 bytes, challenge 86, lock action 92, then ACCEPTED 55 and the
/// "unlocking" states 81 while the motor runs, and after it the "unlocked" states 81 and
/// COMPLETE 55.
const UNLOCK_PACKETS_BEFORE_MOTOR: [usize; 3] = [56, 86, 92];
const UNLOCK_PACKETS_AFTER_MOTOR: [usize; 2] = [81, 55];

fn unlock_floor(radio: &RadioModel, motor: Duration, cold: bool) -> Duration {
    let packets = |lens: &[usize]| -> u32 {
        lens.iter()
            .map(|len| len.div_ceil(radio.fragment_len.max(1)) as u32)
            .sum()
    };
    let air = radio.connection_interval
        * (packets(&UNLOCK_PACKETS_BEFORE_MOTOR) + packets(&UNLOCK_PACKETS_AFTER_MOTOR));
    air + motor
        + if cold {
            radio.connect_time
        } else {
            Duration::ZERO
        }
}

/// c. Lock-action latency at a 30 ms connection interval, warm and cold link, against the
/// protocol's floor from the same radio model.
async fn latency(samples: usize) {
    let radio = RadioModel {
        connection_interval: Duration::from_millis(30),
        ..RadioModel::default()
    };
    let motor = Duration::from_millis(1500);
    for (cold, idle) in [
        (false, Duration::from_secs(3600)),
        (true, Duration::from_millis(1)),
    ] {
        let config = FleetConfig {
            idle_disconnect: idle,
            ..FleetConfig::default()
        };
        let (fleet, _clock, _control, _transport) =
            paired_fleet_with(1, config, radio.clone(), motor).await;
        let device = fleet.addresses()[0].clone();
        fleet
            .read_state(&device, Duration::from_secs(30))
            .await
            .expect("first read");
        let mut latencies = Vec::new();
        for round in 0..samples {
            if cold {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let action = if round.is_multiple_of(2) {
                LockAction::Unlock
            } else {
                LockAction::Lock
            };
            let started = Instant::now();
            fleet
                .act(&device, DeviceAction::Lock(action), Duration::from_secs(30))
                .await
                .expect("action");
            latencies.push(started.elapsed());
        }
        latencies.sort();
        let floor = unlock_floor(&radio, motor, cold);
        let name = if cold { "cold link" } else { "warm link" };
        report(&format!("lock action, {name}"), &latencies);
        println!(
            "  floor {:.1} ms; p50/floor = {:.3}, p99/floor = {:.3} (target <= 1.10)",
            floor.as_secs_f64() * 1e3,
            percentile(&latencies, 0.5).as_secs_f64() / floor.as_secs_f64(),
            percentile(&latencies, 0.99).as_secs_f64() / floor.as_secs_f64()
        );
    }
}

/// d. 100 devices, 3 link slots, user actions at random at 2/s while residents turn knobs
/// (raising state-changed flags) at 2/s: user-action latency and the share of link time used
/// by background reads.
async fn mixed(seconds: u64, user_interval: Duration) {
    use rand::Rng;
    let radio = RadioModel {
        connection_interval: Duration::from_millis(30),
        ..RadioModel::default()
    };
    let config = FleetConfig {
        link_slots: 3,
        ..FleetConfig::default()
    };
    let (fleet, _clock, control, transport) =
        paired_fleet_with(100, config, radio.clone(), Duration::from_millis(1500)).await;
    let addresses = fleet.addresses();
    // Let the initial refresh of all devices finish before measuring.
    while fleet
        .devices()
        .iter()
        .any(|d| fleet.cached_state(&d.address).is_none())
    {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let user_before = fleet.slots().held_time(Priority::User);
    let background_before = fleet.slots().held_time(Priority::Background);
    let adverts = feed_adverts(transport, fleet.clone()).await;
    let residents = {
        let (control, addresses) = (control.clone(), addresses.clone());
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(Duration::from_millis(500)).await;
                let index = rand::thread_rng().gen_range(0..addresses.len());
                let _ =
                    control.manual_action(&addresses[index], rand::thread_rng().gen_range(1..=2));
            }
        })
    };
    let mut users = Vec::new();
    let end = Instant::now() + Duration::from_secs(seconds);
    while Instant::now() < end {
        tokio::time::sleep(user_interval).await;
        let (fleet, address) = (
            fleet.clone(),
            addresses[rand::thread_rng().gen_range(0..addresses.len())].clone(),
        );
        let action = if rand::thread_rng().gen_bool(0.5) {
            LockAction::Unlock
        } else {
            LockAction::Lock
        };
        users.push(tokio::spawn(async move {
            let started = Instant::now();
            let outcome = fleet
                .act(
                    &address,
                    DeviceAction::Lock(action),
                    Duration::from_secs(60),
                )
                .await;
            (started.elapsed(), outcome.is_ok())
        }));
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    for user in users {
        let (latency, ok) = user.await.expect("task");
        latencies.push(latency);
        failed += usize::from(!ok);
    }
    residents.abort();
    adverts.abort();
    latencies.sort();
    report(
        &format!(
            "user action among 100 devices, 3 slots, one action every {} ms + 2 knob turns/s",
            user_interval.as_millis()
        ),
        &latencies,
    );
    println!(
        "  offered user load: {:.2} link-seconds per second of {} slots (an unlock holds a link for its {:.1} s floor)",
        unlock_floor(&radio, Duration::from_millis(1500), false).as_secs_f64() / user_interval.as_secs_f64(),
        fleet.slots().capacity(),
        unlock_floor(&radio, Duration::from_millis(1500), false).as_secs_f64()
    );
    let user = fleet.slots().held_time(Priority::User) - user_before;
    let background = fleet.slots().held_time(Priority::Background) - background_before;
    println!(
        "  failed actions {failed}; link time: user {:.1} s, background {:.1} s, background share {:.2}",
        user.as_secs_f64(),
        background.as_secs_f64(),
        background.as_secs_f64() / (user + background).as_secs_f64().max(f64::EPSILON)
    );
}

/// e. Three devices operated back to back hold the adapter's three link slots while a user
/// operates a fourth device every 3 s: that user's latency and failures (15 s deadline).
async fn starvation(seconds: u64) {
    let radio = RadioModel {
        connection_interval: Duration::from_millis(30),
        ..RadioModel::default()
    };
    let config = FleetConfig {
        link_slots: 3,
        ..FleetConfig::default()
    };
    let (fleet, _clock, _control, _transport) =
        paired_fleet_with(4, config, radio.clone(), Duration::from_millis(1500)).await;
    let addresses = fleet.addresses();
    let end = Instant::now() + Duration::from_secs(seconds);
    // Three submitters per busy device, each sending its next action as soon as the last one
    // ended: the device's queue never runs dry, as with an automation that keeps sending.
    let busy: Vec<_> = addresses[..3]
        .iter()
        .flat_map(|address| std::iter::repeat_n(address.clone(), 3))
        .enumerate()
        .map(|(index, address)| {
            let fleet = fleet.clone();
            tokio::spawn(async move {
                let mut unlock = index.is_multiple_of(2);
                while Instant::now() < end {
                    let action = if unlock {
                        LockAction::Unlock
                    } else {
                        LockAction::Lock
                    };
                    unlock = !unlock;
                    let _ = fleet
                        .act(
                            &address,
                            DeviceAction::Lock(action),
                            Duration::from_secs(60),
                        )
                        .await;
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fourth = addresses[3].clone();
    let mut latencies = Vec::new();
    let mut failed = 0;
    let mut unlock = true;
    while Instant::now() < end {
        let action = if unlock {
            LockAction::Unlock
        } else {
            LockAction::Lock
        };
        unlock = !unlock;
        let started = Instant::now();
        let outcome = fleet
            .act(&fourth, DeviceAction::Lock(action), Duration::from_secs(15))
            .await;
        latencies.push(started.elapsed());
        failed += usize::from(outcome.is_err());
        tokio::time::sleep(Duration::from_secs(3)).await;
    }
    for task in busy {
        let _ = task.await;
    }
    latencies.sort();
    report(
        "user action on a 4th device while 3 devices work back to back (3 slots)",
        &latencies,
    );
    println!("  failed {failed} of {}", latencies.len());
}

/// Feeds the simulated advertisements into the fleet, as the daemon does.
async fn feed_adverts(
    transport: Arc<dyn BleTransport>,
    fleet: Arc<Fleet>,
) -> tokio::task::JoinHandle<()> {
    let mut feed = transport.advertisements().await.expect("advertisements");
    tokio::spawn(async move {
        while let Some(advert) = feed.recv().await {
            fleet.on_advertisement(&advert);
        }
    })
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
        args if args.contains(&"latency") => runtime.block_on(latency(20)),
        args if args.contains(&"starvation") => runtime.block_on(starvation(90)),
        ["mixed", interval_ms, ..] => {
            let interval = Duration::from_millis(interval_ms.parse().unwrap_or(500));
            runtime.block_on(mixed(120, interval))
        }
        args if args.contains(&"mixed") => runtime.block_on(mixed(120, Duration::from_millis(500))),
        // `cargo bench` without a mode, and `cargo test --all-targets`: a quick smoke run.
        _ => runtime.block_on(overhead(50)),
    }
}
