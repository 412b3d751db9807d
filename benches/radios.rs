//! Radio coverage benchmarks: what a proxy costs per action, and what more radios buy.
//!
//! * `latency`: lock-action latency (p50/p99, blocking, warm link) of one simulated lock
//!   through the local simulated radio and through an ESPHome proxy (`EsphomeProxy` over real
//!   TCP + Noise on 127.0.0.1 to the fake proxy of tests/fake_esphome in front of the same
//!   kind of simulated lock), alternated action by action in the same run: the ratio
//!   proxy/local is the proxy's cost.
//! * `throughput`: sustained lock actions per second of 100 simulated locks spread evenly
//!   over 1, 2 and 4 radios of 3 link slots each (each lock next to one radio, out of the
//!   others' range), as one `RadioSet` under the fleet (`link_slots = set.link_capacity()`),
//!   with blocking actions (`act`) and Bridge `nowait` ones (`start_action_releasing_link`);
//!   every lock gets its next action as soon as its previous one ended (blocking: `act`
//!   returned; nowait: its final state arrived). The window opens once every lock's first
//!   action ended: the queue of 100 first actions is no steady state. Also the 2-radio case
//!   with ESPHome proxies. The ratio is to the 1-radio blocking row of the same run (the
//!   gateway with one adapter, as before).
//!
//! Both use the demo's radio (config/demo.toml: 20-byte fragments, 30 ms connection interval,
//! its connect time) and the simulator's default motor time (1.5 s), so the 1-radio blocking
//! row is comparable with `cargo bench --bench bridge -- mixed` (3 slots, about 1.4 actions/s).
//!
//! `cargo bench --bench radios` runs both in full (about 15 minutes); `-- latency [N]` or
//! `-- throughput` runs one. Without `--bench` (as `cargo test --all-targets` runs it) every
//! part runs small, with a short motor time, as a smoke test.

#[path = "../tests/fake_esphome/mod.rs"]
mod fake_esphome;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fake_esphome::{FakeEsphomeProxy, FakeProxyOptions};
use nuki_edge::ble::esphome::{ApiKey, CallLimits, EsphomeProxy};
use nuki_edge::ble::radios::{Radio, RadioKind, RadioSet, RoutingSettings};
use nuki_edge::ble::sim::{
    Position, RadioModel, SimControl, SimDeviceSpec, SimKind, SimRadioSpec, SimTransport,
};
use nuki_edge::ble::{BleTransport, DeviceAddress, RadioId};
use nuki_edge::config::ProxyConfig;
use nuki_edge::devices::credentials::DeviceCredentials;
use nuki_edge::devices::fleet::{Fleet, FleetConfig, FleetEvent};
use nuki_edge::devices::link::{LinkTimeouts, NukiLink};
use nuki_edge::devices::slots::Priority;
use nuki_edge::nuki::enums::{DeviceAction, IdType, LockAction};
use nuki_edge::nuki::pairing::PairingRequest;
use tokio::sync::broadcast;

/// The Noise key of the fake proxies (base64 of 32 bytes).
const PROXY_KEY: &str = "px7tsbK3C7bpXHr2OevEV2ZMg/FrNBw2+O2pNPbedtA=";
/// Link slots of each radio: a local adapter's default (`fleet.link_slots`) and ESPHome's.
const SLOTS_PER_RADIO: usize = 3;
/// Far beyond any wait in the queue: 100 devices behind 3 slots wait about 80 s for a turn.
const ACTION_DEADLINE: Duration = Duration::from_secs(600);
const PROXY_UP_WITHIN: Duration = Duration::from_secs(10);
/// How long the radios may take to hear every device once (adverts every 500 ms).
const ROUTES_WITHIN: Duration = Duration::from_secs(15);
const ROUTE_POLL: Duration = Duration::from_millis(50);
/// How often the warm-up checks whether every lock's first action ended.
const WARM_UP_POLL: Duration = Duration::from_millis(100);
/// How often the links in use are sampled during the window.
const LINK_SAMPLE: Duration = Duration::from_millis(50);
/// Pause after a failed action before the device's next one (a failure can come at once).
const AFTER_FAILURE: Duration = Duration::from_millis(200);
const SHUTDOWN_LIMIT: Duration = Duration::from_secs(10);
/// Radios stand this far apart: a lock near one is out of every other's range.
const RADIO_SPACING_M: f64 = 100.0;
const RADIO_HEIGHT_M: f64 = 2.5;
const LOCK_HEIGHT_M: f64 = 1.0;

/// How much of everything a run does.
struct Scale {
    full: bool,
    latency_actions: usize,
    devices: usize,
    radio_counts: &'static [usize],
    /// Radios of the proxy run (none: no proxy run).
    proxy_radios: Option<usize>,
    /// Measuring starts once every lock's first action ended (the queue of first actions is
    /// no steady state), or after this at the latest.
    warm_up_limit: Duration,
    window: Duration,
    /// `None`: the simulator's default.
    motor_time: Option<Duration>,
}

const FULL: Scale = Scale {
    full: true,
    latency_actions: 15,
    devices: 100,
    radio_counts: &[1, 2, 4],
    proxy_radios: Some(2),
    warm_up_limit: Duration::from_secs(150),
    window: Duration::from_secs(40),
    motor_time: None,
};

/// Under `cargo test`: every path once, small and quick.
const SMOKE: Scale = Scale {
    full: false,
    latency_actions: 1,
    devices: 4,
    radio_counts: &[1],
    proxy_radios: Some(2),
    warm_up_limit: Duration::from_millis(3000),
    window: Duration::from_millis(1500),
    motor_time: Some(Duration::from_millis(100)),
};

/// The demo building's radio model, read from config/demo.toml.
fn demo_radio() -> RadioModel {
    let config = nuki_edge::config::Config::parse(
        include_str!("../config/demo.toml"),
        std::path::Path::new("demo.toml"),
        std::collections::HashMap::new(),
    )
    .expect("demo config parses");
    nuki_edge::app::backend::radio_model(&config)
}

fn lock_spec(index: usize, position: Option<Position>, scale: &Scale) -> SimDeviceSpec {
    let address = format!("54:D2:72:BE:{:02X}:{:02X}", index >> 8, index & 0xFF);
    let mut spec = SimDeviceSpec::new(
        &address,
        &format!("Bench door {index}"),
        0x3BE0_0000 + index as u32,
        SimKind::SmartLock4,
    );
    spec.position = position;
    if let Some(motor_time) = scale.motor_time {
        spec.motor_time = motor_time;
    }
    spec
}

async fn pair(transport: &dyn BleTransport, spec: &SimDeviceSpec) -> DeviceCredentials {
    let mut link = NukiLink::connect(transport, &spec.address, LinkTimeouts::default(), None)
        .await
        .expect("connect for pairing");
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

/// A fake ESPHome proxy in front of `inner` and our client of it, up and hearing adverts.
async fn proxy_in_front_of(
    inner: Arc<dyn BleTransport>,
    name: &str,
) -> (FakeEsphomeProxy, Arc<EsphomeProxy>) {
    let fake = FakeEsphomeProxy::start(
        inner,
        FakeProxyOptions {
            name: name.into(),
            key: Some(PROXY_KEY.into()),
            limit: SLOTS_PER_RADIO,
            ..FakeProxyOptions::default()
        },
    )
    .await;
    let config = ProxyConfig {
        name: name.into(),
        host: "127.0.0.1".into(),
        port: fake.port(),
        encryption_key_file: None,
    };
    let key = ApiKey::from_base64(PROXY_KEY).expect("key");
    let proxy = EsphomeProxy::with_key(&config, Some(key), CallLimits::default());
    proxy
        .wait_until_up(PROXY_UP_WITHIN)
        .await
        .expect("proxy up");
    (fake, Arc::new(proxy))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn lock_action(index: usize) -> DeviceAction {
    // A simulated lock starts locked: unlocking first makes every action move the bolt.
    DeviceAction::Lock(if index.is_multiple_of(2) {
        LockAction::Unlock
    } else {
        LockAction::Lock
    })
}

// ---------------------------------------------------------------------------------------
// 1. Latency through a proxy against the local radio

/// One paired lock on `transport` under a fleet whose link stays open between actions.
async fn single_lock_fleet(
    transport: Arc<dyn BleTransport>,
    control: &SimControl,
    spec: &SimDeviceSpec,
) -> Arc<Fleet> {
    control.press_button(&spec.address).expect("lock exists");
    let credentials = pair(transport.as_ref(), spec).await;
    let config = FleetConfig {
        idle_disconnect: Duration::from_secs(3600),
        ..FleetConfig::default()
    };
    Fleet::start(transport, config, vec![credentials])
}

async fn latency(scale: &Scale, actions: usize) {
    let radio = demo_radio();
    let spec = lock_spec(1, None, scale);

    let (local_sim, local_control) = SimTransport::new(vec![spec.clone()], radio.clone());
    let local = single_lock_fleet(Arc::new(local_sim), &local_control, &spec).await;

    let (proxied_sim, proxied_control) = SimTransport::new(vec![spec.clone()], radio.clone());
    let (_fake, proxy) = proxy_in_front_of(Arc::new(proxied_sim), "bench-proxy").await;
    // The proxy learns the lock's address type from its adverts, as before a real connect.
    let mut adverts = proxy.advertisements().await.expect("proxy adverts");
    tokio::time::timeout(PROXY_UP_WITHIN, adverts.recv())
        .await
        .expect("an advert through the proxy")
        .expect("advert feed open");
    drop(adverts);
    let proxied = single_lock_fleet(proxy, &proxied_control, &spec).await;

    let mut local_latencies = Vec::with_capacity(actions);
    let mut proxy_latencies = Vec::with_capacity(actions);
    // One warm-up action each opens the link; then the two alternate, action by action.
    for index in 0..=actions {
        for (fleet, latencies) in [
            (&local, &mut local_latencies),
            (&proxied, &mut proxy_latencies),
        ] {
            let started = Instant::now();
            fleet
                .act(&spec.address, lock_action(index), ACTION_DEADLINE)
                .await
                .expect("lock action");
            if index > 0 {
                latencies.push(started.elapsed());
            }
        }
    }
    local.shutdown(SHUTDOWN_LIMIT).await;
    proxied.shutdown(SHUTDOWN_LIMIT).await;
    local_latencies.sort();
    proxy_latencies.sort();

    let motor = spec.motor_time;
    println!(
        "lock-action latency, one lock, blocking, warm link, {actions} actions each, alternated \
         (demo radio: {} ms connection interval, {}-byte fragments; {} ms motor)",
        radio.connection_interval.as_millis(),
        radio.fragment_len,
        motor.as_millis()
    );
    println!("| path | p50 ms | p99 ms |");
    println!("| --- | ---: | ---: |");
    for (name, sorted) in [
        ("local simulated radio (baseline)", &local_latencies),
        ("ESPHome proxy (TCP + Noise, fake proxy)", &proxy_latencies),
    ] {
        println!(
            "| {name} | {:.1} | {:.1} |",
            ms(percentile(sorted, 0.5)),
            ms(percentile(sorted, 0.99))
        );
    }
    let ratio = |p: f64| {
        percentile(&proxy_latencies, p).as_secs_f64()
            / percentile(&local_latencies, p)
                .as_secs_f64()
                .max(f64::EPSILON)
    };
    println!(
        "| ratio proxy / local | {:.3} | {:.3} |",
        ratio(0.5),
        ratio(0.99)
    );
    println!();
}

// ---------------------------------------------------------------------------------------
// 2. Sustained actions per second over 1, 2 and 4 radios

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Blocking,
    NoWait,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Blocking => "blocking",
            Mode::NoWait => "nowait",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Radios {
    /// Simulated radios of the gateway itself.
    Local,
    /// Fake ESPHome proxies in front of simulated radios, over TCP + Noise.
    Proxies,
}

impl Radios {
    fn name(self) -> &'static str {
        match self {
            Radios::Local => "local",
            Radios::Proxies => "proxy",
        }
    }
}

/// The building of one throughput run: radios, the set, the fleet listening to adverts.
struct Building {
    fleet: Arc<Fleet>,
    set: RadioSet,
    addresses: Vec<DeviceAddress>,
    feeder: tokio::task::JoinHandle<()>,
    _proxies: Vec<(FakeEsphomeProxy, Arc<EsphomeProxy>)>,
}

fn radio_position(radio: usize) -> Position {
    Position::new(radio as f64 * RADIO_SPACING_M, 0.0, RADIO_HEIGHT_M)
}

/// Lock `index` of `radios` stands 2–4 m from radio `index % radios` (well heard, no loss).
fn lock_position(index: usize, radios: usize) -> Position {
    let near = radio_position(index % radios);
    let angle = index as f64 * 2.399_963; // the golden angle spreads them around the radio
    let distance = 2.0 + (index % 3) as f64;
    Position::new(
        near.x + distance * angle.cos(),
        near.y + distance * angle.sin(),
        LOCK_HEIGHT_M,
    )
}

async fn building(scale: &Scale, radios: usize, kind: Radios) -> Building {
    let specs: Vec<SimDeviceSpec> = (0..scale.devices)
        .map(|index| lock_spec(index, Some(lock_position(index, radios)), scale))
        .collect();
    let radio_specs = (0..radios)
        .map(|radio| SimRadioSpec::new(&format!("radio-{radio}"), radio_position(radio)))
        .collect();
    let (sims, control) = SimTransport::with_radios(specs.clone(), demo_radio(), radio_specs);
    let sims: Vec<(RadioId, Arc<SimTransport>)> = sims
        .into_iter()
        .map(|(id, sim)| (id, Arc::new(sim)))
        .collect();
    // Every lock pairs at once through the radio next to it.
    let pairings = specs.iter().enumerate().map(|(index, spec)| {
        let radio = Arc::clone(&sims[index % radios].1);
        let control = control.clone();
        async move {
            control.press_button(&spec.address).expect("lock exists");
            pair(radio.as_ref(), spec).await
        }
    });
    let credentials = futures::future::join_all(pairings).await;

    let mut proxies = Vec::new();
    let mut members = Vec::new();
    for (id, sim) in sims {
        let (kind, transport): (RadioKind, Arc<dyn BleTransport>) = match kind {
            Radios::Local => (RadioKind::Simulated, sim),
            Radios::Proxies => {
                let (fake, proxy) = proxy_in_front_of(sim, &id.0).await;
                let transport: Arc<dyn BleTransport> = proxy.clone();
                proxies.push((fake, proxy));
                (RadioKind::EsphomeProxy, transport)
            }
        };
        members.push(Radio {
            id,
            kind,
            transport,
            link_slots: SLOTS_PER_RADIO,
        });
    }
    let set = RadioSet::new(members, RoutingSettings::default(), BTreeMap::new());
    let config = FleetConfig {
        link_slots: set.link_capacity(),
        ..FleetConfig::default()
    };
    let fleet = Fleet::start(Arc::new(set.clone()), config, credentials);
    // As the daemon: the set's merged adverts route the devices and reach the fleet.
    let mut adverts = set.advertisements().await.expect("advert feed");
    let feeder = {
        let fleet = fleet.clone();
        tokio::spawn(async move {
            while let Some(advert) = adverts.recv().await {
                fleet.on_advertisement(&advert);
            }
        })
    };
    let addresses: Vec<DeviceAddress> = specs.iter().map(|spec| spec.address.clone()).collect();
    let routed_by = Instant::now() + ROUTES_WITHIN;
    loop {
        let report = set.report();
        let routed = report
            .routes
            .iter()
            .filter(|route| route.radio.is_some())
            .count();
        if routed >= addresses.len() {
            break;
        }
        assert!(
            Instant::now() < routed_by,
            "only {routed} of {} locks heard by a radio",
            addresses.len()
        );
        tokio::time::sleep(ROUTE_POLL).await;
    }
    Building {
        fleet,
        set,
        addresses,
        feeder,
        _proxies: proxies,
    }
}

#[derive(Default)]
struct Tally {
    /// Locks whose first action ended (either way).
    first_ended: AtomicUsize,
    /// Whether the window is open: only actions ending in it count.
    measuring: AtomicBool,
    completed: AtomicUsize,
    failed: AtomicUsize,
    latencies: Mutex<Vec<Duration>>,
}

struct Row {
    radios: usize,
    kind: Radios,
    mode: Mode,
    slots: usize,
    completed: usize,
    failed: usize,
    /// Until every lock's first action ended.
    warm_up: Duration,
    per_second: f64,
    p50: Duration,
    /// Mean links open over all radios during the window, and per radio.
    mean_links: f64,
    mean_links_per_radio: Vec<f64>,
    /// Mean fleet link slots taken (open links and connects waiting for their radio).
    mean_fleet_slots: f64,
    /// Links opened, and state reports (reads and actions' final states), per action.
    connects_per_action: f64,
    reports_per_action: f64,
    user_link_s: f64,
    background_link_s: f64,
}

async fn sustain(scale: &Scale, radios: usize, kind: Radios, mode: Mode) -> Row {
    let building = building(scale, radios, kind).await;
    let fleet = &building.fleet;
    let tally = Arc::new(Tally::default());
    let drivers: Vec<_> = building
        .addresses
        .iter()
        .cloned()
        .map(|address| {
            let (fleet, tally) = (fleet.clone(), tally.clone());
            tokio::spawn(async move {
                let mut index = 0;
                loop {
                    let action = lock_action(index);
                    index += 1;
                    let started = Instant::now();
                    let outcome = match mode {
                        Mode::Blocking => fleet.act(&address, action, ACTION_DEADLINE).await,
                        Mode::NoWait => {
                            match fleet.start_action_releasing_link(
                                &address,
                                action,
                                ACTION_DEADLINE,
                            ) {
                                Ok(pending) => pending.outcome().await,
                                Err(failure) => Err(failure),
                            }
                        }
                    };
                    let ended = Instant::now();
                    if index == 1 {
                        tally.first_ended.fetch_add(1, Ordering::Relaxed);
                    }
                    let counted = tally.measuring.load(Ordering::Relaxed);
                    match outcome {
                        Ok(_) if counted => {
                            tally.completed.fetch_add(1, Ordering::Relaxed);
                            tally
                                .latencies
                                .lock()
                                .expect("latencies")
                                .push(ended - started);
                        }
                        Ok(_) => {}
                        Err(failure) => {
                            if counted {
                                tally.failed.fetch_add(1, Ordering::Relaxed);
                            }
                            eprintln!("{address}: {failure}");
                            tokio::time::sleep(AFTER_FAILURE).await;
                        }
                    }
                }
            })
        })
        .collect();
    let warm_up_started = Instant::now();
    while tally.first_ended.load(Ordering::Relaxed) < building.addresses.len()
        && warm_up_started.elapsed() < scale.warm_up_limit
    {
        tokio::time::sleep(WARM_UP_POLL).await;
    }
    let warm_up = warm_up_started.elapsed();
    let connects = Arc::new(AtomicUsize::new(0));
    let reports = Arc::new(AtomicUsize::new(0));
    let counter = {
        let (connects, reports) = (connects.clone(), reports.clone());
        let measuring = tally.clone();
        let mut events = fleet.subscribe();
        tokio::spawn(async move {
            loop {
                match events.recv().await {
                    Ok(event) if measuring.measuring.load(Ordering::Relaxed) => match event {
                        FleetEvent::Connected { .. } => {
                            connects.fetch_add(1, Ordering::Relaxed);
                        }
                        FleetEvent::ClockReported { .. } => {
                            reports.fetch_add(1, Ordering::Relaxed);
                        }
                        _ => {}
                    },
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        })
    };
    tally.measuring.store(true, Ordering::Relaxed);
    let window_started = Instant::now();
    let until = window_started + scale.window;
    let user_before = fleet.slots().held_time(Priority::User);
    let background_before = fleet.slots().held_time(Priority::Background);
    let capacity = fleet.slots().capacity();
    let mut per_radio = vec![0usize; radios];
    let (mut samples, mut fleet_taken) = (0usize, 0usize);
    while Instant::now() < until {
        let report = building.set.report();
        for (sum, radio) in per_radio.iter_mut().zip(&report.radios) {
            *sum += radio.links;
        }
        fleet_taken += capacity - fleet.slots().free();
        samples += 1;
        tokio::time::sleep(LINK_SAMPLE).await;
    }
    let samples_f = samples.max(1) as f64;
    let mean_links_per_radio: Vec<f64> = per_radio
        .iter()
        .map(|sum| *sum as f64 / samples_f)
        .collect();
    tally.measuring.store(false, Ordering::Relaxed);
    let window = window_started.elapsed();
    let user = fleet.slots().held_time(Priority::User) - user_before;
    let background = fleet.slots().held_time(Priority::Background) - background_before;
    let completed = tally.completed.load(Ordering::Relaxed);
    let failed = tally.failed.load(Ordering::Relaxed);
    let mut latencies = std::mem::take(&mut *tally.latencies.lock().expect("latencies"));
    latencies.sort();
    for driver in &drivers {
        driver.abort();
    }
    building.feeder.abort();
    counter.abort();
    fleet.shutdown(SHUTDOWN_LIMIT).await;
    let per_action = |link: Duration| link.as_secs_f64() / completed.max(1) as f64;
    Row {
        radios,
        kind,
        mode,
        slots: building.set.link_capacity(),
        completed,
        failed,
        warm_up,
        per_second: completed as f64 / window.as_secs_f64(),
        p50: percentile(&latencies, 0.5),
        mean_links: mean_links_per_radio.iter().sum(),
        mean_links_per_radio,
        mean_fleet_slots: fleet_taken as f64 / samples_f,
        connects_per_action: connects.load(Ordering::Relaxed) as f64 / completed.max(1) as f64,
        reports_per_action: reports.load(Ordering::Relaxed) as f64 / completed.max(1) as f64,
        user_link_s: per_action(user),
        background_link_s: per_action(background),
    }
}

/// Every (radios, kind) of the scale, both modes.
fn every_run(scale: &Scale) -> Vec<(usize, Radios, Mode)> {
    let mut sets: Vec<(usize, Radios)> = scale
        .radio_counts
        .iter()
        .map(|&radios| (radios, Radios::Local))
        .collect();
    if let Some(radios) = scale.proxy_radios {
        sets.push((radios, Radios::Proxies));
    }
    sets.into_iter()
        .flat_map(|(radios, kind)| [Mode::Blocking, Mode::NoWait].map(|mode| (radios, kind, mode)))
        .collect()
}

async fn throughput(scale: &Scale, runs: Vec<(usize, Radios, Mode)>) {
    let mut rows = Vec::new();
    for (radios, kind, mode) in runs {
        let row = sustain(scale, radios, kind, mode).await;
        eprintln!(
            "  {radios} {} radio(s), {}: {} actions",
            kind.name(),
            mode.name(),
            row.completed
        );
        rows.push(row);
    }
    let baseline = rows
        .iter()
        .find(|row| row.radios == 1 && row.kind == Radios::Local && row.mode == Mode::Blocking)
        .map_or(f64::NAN, |row| row.per_second);
    let motor = lock_spec(0, None, scale).motor_time;
    println!(
        "sustained lock actions, {} locks kept busy, {SLOTS_PER_RADIO} link slots per radio, \
         {:.1} s window after a warm-up until every lock's first action ended (at most {:.0} s; \
         demo radio, {} ms motor); ratio to 1 local radio, blocking, of the same run",
        scale.devices,
        scale.window.as_secs_f64(),
        scale.warm_up_limit.as_secs_f64(),
        motor.as_millis()
    );
    println!(
        "| radios | mode | slots | warm-up s | actions | actions/s | ratio | p50 latency s | \
         links open (per radio) | fleet slots taken | link s/action user + background | \
         connects/action | state reports/action | failed |"
    );
    println!(
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
    );
    for row in &rows {
        let per_radio: Vec<String> = row
            .mean_links_per_radio
            .iter()
            .map(|links| format!("{links:.1}"))
            .collect();
        println!(
            "| {} {} | {} | {} | {:.1} | {} | {:.2} | {:.2} | {:.1} | {:.2} ({}) | {:.2} | {:.2} + {:.2} | {:.2} | {:.2} | {} |",
            row.radios,
            row.kind.name(),
            row.mode.name(),
            row.slots,
            row.warm_up.as_secs_f64(),
            row.completed,
            row.per_second,
            row.per_second / baseline,
            row.p50.as_secs_f64(),
            row.mean_links,
            per_radio.join(" / "),
            row.mean_fleet_slots,
            row.user_link_s,
            row.background_link_s,
            row.connects_per_action,
            row.reports_per_action,
            row.failed
        );
    }
    println!();
}

/// `one RADIOS blocking|nowait [proxy]`: a single throughput run, to look into one case.
fn one_run(args: &[&str]) -> Option<(usize, Radios, Mode)> {
    let radios = args.first()?.parse().ok()?;
    let mode = match *args.get(1)? {
        "blocking" => Mode::Blocking,
        "nowait" => Mode::NoWait,
        _ => return None,
    };
    let kind = if args.get(2) == Some(&"proxy") {
        Radios::Proxies
    } else {
        Radios::Local
    };
    Some((radios, kind, mode))
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let full = args.iter().any(|arg| arg == "--bench");
    let scale = if full { &FULL } else { &SMOKE };
    let modes: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|arg| !arg.starts_with("--"))
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        match modes.as_slice() {
            ["latency", rest @ ..] => {
                let actions = rest
                    .first()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(scale.latency_actions);
                latency(scale, actions).await;
            }
            ["throughput", ..] => throughput(scale, every_run(scale)).await,
            ["one", rest @ ..] => match one_run(rest) {
                Some(run) => throughput(scale, vec![run]).await,
                None => eprintln!("usage: one RADIOS blocking|nowait [proxy]"),
            },
            _ => {
                latency(scale, scale.latency_actions).await;
                throughput(scale, every_run(scale)).await;
            }
        }
        if !scale.full {
            println!("(smoke run: small sizes and a short motor time; `cargo bench --bench radios` measures)");
        }
    });
}
