//! Radio coverage end to end: one simulated building heard by a local radio and by ESPHome
//! proxies (real TCP, real Noise encryption, the fake proxy in front of the building's other
//! radios), all behind one `RadioSet`, and the fleet operating the devices through it as the
//! daemon does. Each device goes through the radio nearest to it, moves on when its proxy
//! dies, stays on its pin, and does not flap while it is carried across the building.

mod common;
mod fake_esphome;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use fake_esphome::{FakeEsphomeProxy, FakeProxyOptions};
use nuki_edge::ble::esphome::{CallLimits, EsphomeProxy};
use nuki_edge::ble::radios::{
    FailoverCause, Radio, RadioKind, RadioSet, RadiosReport, RouteReason, RouteReport,
    RoutingSettings,
};
use nuki_edge::ble::sim::{
    Position, RadioModel, SimControl, SimDeviceSpec, SimKind, SimRadioSpec, SimTransport,
};
use nuki_edge::ble::{BleTransport, DeviceAddress, RadioId};
use nuki_edge::config::ProxyConfig;
use nuki_edge::devices::credentials::DeviceCredentials;
use nuki_edge::devices::fleet::{Fleet, FleetConfig};
use nuki_edge::devices::outcome::{Failure, Outcome};
use nuki_edge::nuki::enums::{DeviceAction, DeviceLockState, LockAction, LockState};

const KEY: &str = "px7tsbK3C7bpXHr2OevEV2ZMg/FrNBw2+O2pNPbedtA=";
const WRONG_KEY: &str = "0kGj0fC6JgpkV0WfE1rUh2E0yJgGPAn4ZmEFJYDC1aA=";
const PIN: u32 = 4711;
/// Hang guards only: nothing here waits this long on a healthy machine.
const HANG_GUARD: Duration = Duration::from_secs(90);
const ACTION_DEADLINE: Duration = Duration::from_secs(60);
const LOCAL: &str = "local";
const PORCH: &str = "porch";
const GARAGE: &str = "garage";

fn radio(name: &str) -> RadioId {
    RadioId(name.into())
}

fn at(x: f64, y: f64) -> Position {
    Position::new(x, y, 1.0)
}

fn lock(address: &str, n: u32, position: Position) -> SimDeviceSpec {
    let mut spec = SimDeviceSpec::new(
        address,
        &format!("Door {n}"),
        0x2FFF_9400 + n,
        SimKind::SmartLock4,
    );
    spec.pin = Some(PIN);
    spec.position = Some(position);
    spec
}

fn limits() -> CallLimits {
    CallLimits {
        connect: Duration::from_secs(10),
        discover_services: Duration::from_secs(10),
        radio: Duration::from_secs(10),
        disconnect: Duration::from_secs(3),
        keepalive: Duration::from_secs(3),
        reconnect_min: Duration::from_millis(100),
        reconnect_max: Duration::from_millis(500),
        ..CallLimits::default()
    }
}

/// A proxy in the building: the fake ESPHome device in front of one simulated radio, and the
/// gateway's client of it.
struct ProxyRadio {
    fake: Option<FakeEsphomeProxy>,
    client: Arc<EsphomeProxy>,
    _key_dir: tempfile::TempDir,
}

impl ProxyRadio {
    async fn start(name: &str, inner: SimTransport) -> Self {
        let fake = FakeEsphomeProxy::start(
            Arc::new(inner),
            FakeProxyOptions {
                name: name.into(),
                key: Some(KEY.into()),
                limit: 3,
                ..FakeProxyOptions::default()
            },
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join(format!("{name}.key"));
        std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
        let config = ProxyConfig {
            name: name.into(),
            host: "127.0.0.1".into(),
            port: fake.port(),
            encryption_key_file: Some(key_file),
        };
        let client = Arc::new(EsphomeProxy::start(&config, limits()).expect("key file reads"));
        client.wait_until_up(HANG_GUARD).await.expect("proxy up");
        Self {
            fake: Some(fake),
            client,
            _key_dir: dir,
        }
    }

    fn open_links(&self) -> usize {
        self.fake.as_ref().map_or(0, FakeEsphomeProxy::open_links)
    }

    fn radio(&self) -> Radio {
        Radio {
            id: self.client.radio(),
            kind: RadioKind::EsphomeProxy,
            transport: self.client.clone(),
            link_slots: 3,
        }
    }

    /// As a power cut, and it stays off.
    fn kill(&mut self) {
        if let Some(fake) = self.fake.take() {
            fake.kill();
        }
    }
}

/// One building heard by the named radios, at their positions.
fn building(
    devices: Vec<SimDeviceSpec>,
    radios: &[(&str, Position)],
) -> (BTreeMap<RadioId, SimTransport>, SimControl) {
    let specs = radios
        .iter()
        .map(|(name, position)| SimRadioSpec::new(name, *position))
        .collect();
    let (radios, control) = SimTransport::with_radios(devices, RadioModel::default(), specs);
    (radios.into_iter().collect(), control)
}

fn local_radio(transport: SimTransport) -> Radio {
    Radio {
        id: radio(LOCAL),
        kind: RadioKind::Simulated,
        transport: Arc::new(transport),
        link_slots: 3,
    }
}

/// The set's merged advertisement feed, drained as the daemon's listener drains it: routing
/// learns from what goes through.
async fn listen(set: &RadioSet) -> tokio::task::JoinHandle<()> {
    let mut feed = set.advertisements().await.expect("advertisement feed");
    tokio::spawn(async move { while feed.recv().await.is_some() {} })
}

fn route<'a>(report: &'a RadiosReport, device: &DeviceAddress) -> Option<&'a RouteReport> {
    report.routes.iter().find(|route| &route.device == device)
}

fn hears(report: &RadiosReport, device: &DeviceAddress, by: &RadioId) -> bool {
    route(report, device).is_some_and(|route| route.heard_by.iter().any(|h| &h.radio == by))
}

fn links_on(report: &RadiosReport, id: &RadioId) -> usize {
    report
        .radios
        .iter()
        .find(|radio| &radio.id == id)
        .map(|radio| radio.links)
        .unwrap_or_else(|| panic!("no radio {id} in {report:#?}"))
}

/// Polls the set's report until `done` holds (a hang guard, no timing assertion).
async fn report_until(
    set: &RadioSet,
    what: &str,
    done: impl Fn(&RadiosReport) -> bool,
) -> RadiosReport {
    let waited = tokio::time::timeout(HANG_GUARD, async {
        loop {
            let report = set.report();
            if done(&report) {
                return report;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    waited.unwrap_or_else(|_| panic!("never: {what}; last report {:#?}", set.report()))
}

/// Pairs each device through the set (the route decides the radio), as the daemon does.
async fn pair_all(
    set: &RadioSet,
    control: &SimControl,
    devices: &[SimDeviceSpec],
) -> Vec<DeviceCredentials> {
    let mut credentials = Vec::new();
    for spec in devices {
        credentials.push(common::core::pair_sim_device(set, control, spec).await);
    }
    credentials
}

/// The daemon's fleet over the set; links stay open after a command so that the test can
/// see which radio carries each one.
fn fleet(set: &RadioSet, credentials: Vec<DeviceCredentials>) -> Arc<Fleet> {
    let config = FleetConfig {
        link_slots: set.link_capacity(),
        idle_disconnect: Duration::from_secs(600),
        ..FleetConfig::default()
    };
    Fleet::start(Arc::new(set.clone()), config, credentials)
}

fn lock_state(outcome: &Outcome) -> Option<DeviceLockState> {
    outcome.as_ref().ok()?.state.as_ref().map(|s| s.lock_state)
}

/// The route chosen by strength: from the start, or taken over from a radio that heard the
/// device first but worse.
fn chosen_by_strength(reason: &Option<RouteReason>, radio: &RadioId) -> bool {
    match reason {
        Some(RouteReason::Strongest) => true,
        Some(RouteReason::Stronger { previous }) => previous != radio,
        _ => false,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_device_is_routed_to_and_operated_through_its_nearest_radio() {
    // Three radios about 16 m apart; every device 1.5 m from one of them, so the others still
    // hear it, only worse. One door by the local radio, two by the porch, three by the garage.
    let radios = [
        (LOCAL, at(0.0, 0.0)),
        (PORCH, at(16.0, 0.0)),
        (GARAGE, at(8.0, 14.0)),
    ];
    let placed = [
        ("54:D2:72:00:00:01", at(-1.5, 0.0), LOCAL),
        ("54:D2:72:00:00:02", at(17.5, 0.0), PORCH),
        ("54:D2:72:00:00:03", at(16.0, -1.5), PORCH),
        ("54:D2:72:00:00:04", at(8.0, 15.5), GARAGE),
        ("54:D2:72:00:00:05", at(9.5, 14.0), GARAGE),
        ("54:D2:72:00:00:06", at(6.5, 14.0), GARAGE),
    ];
    let specs: Vec<SimDeviceSpec> = placed
        .iter()
        .zip(1u32..)
        .map(|((address, position, _), n)| lock(address, n, *position))
        .collect();
    let nearest: BTreeMap<DeviceAddress, RadioId> = placed
        .iter()
        .map(|(address, _, near)| (DeviceAddress((*address).into()), radio(near)))
        .collect();
    let (mut sims, control) = building(specs.clone(), &radios);
    let porch = ProxyRadio::start(PORCH, sims.remove(&radio(PORCH)).unwrap()).await;
    let garage = ProxyRadio::start(GARAGE, sims.remove(&radio(GARAGE)).unwrap()).await;
    let local = local_radio(sims.remove(&radio(LOCAL)).unwrap());
    let set = RadioSet::new(
        vec![local, porch.radio(), garage.radio()],
        RoutingSettings::default(),
        BTreeMap::new(),
    );
    let listener = listen(&set).await;

    // Until every device was heard by its nearest radio and by some other one too.
    let report = report_until(&set, "every device heard near and far", |report| {
        nearest.iter().all(|(device, near)| {
            hears(report, device, near)
                && route(report, device).is_some_and(|route| route.heard_by.len() >= 2)
        })
    })
    .await;
    for (device, near) in &nearest {
        let route = route(&report, device).unwrap();
        assert_eq!(route.radio.as_ref(), Some(near), "{route:#?}");
        assert!(chosen_by_strength(&route.reason, near), "{route:#?}");
        assert_eq!(&route.heard_by[0].radio, near, "{route:#?}");
    }

    let credentials = pair_all(&set, &control, &specs).await;
    let fleet = fleet(&set, credentials);
    for device in nearest.keys() {
        let outcome = fleet
            .act(
                device,
                DeviceAction::Lock(LockAction::Unlock),
                ACTION_DEADLINE,
            )
            .await;
        assert_eq!(
            lock_state(&outcome),
            Some(DeviceLockState::Lock(LockState::Unlocked)),
            "{device}: {outcome:?}"
        );
    }
    // Every link is still open: each radio carries the links of the devices near it.
    let report = set.report();
    assert_eq!(links_on(&report, &radio(LOCAL)), 1, "{report:#?}");
    assert_eq!(links_on(&report, &radio(PORCH)), 2, "{report:#?}");
    assert_eq!(links_on(&report, &radio(GARAGE)), 3, "{report:#?}");
    assert_eq!((porch.open_links(), garage.open_links()), (2, 3));
    for (device, near) in &nearest {
        assert_eq!(
            route(&report, device).and_then(|r| r.radio.as_ref()),
            Some(near)
        );
    }
    assert!(fleet.shutdown(HANG_GUARD).await);
    listener.abort();
}

/// A door 2 m from the porch proxy and 6 m from the local radio: both hear it well, the
/// porch better.
fn porch_door(motor_time: Duration) -> (Vec<SimDeviceSpec>, [(&'static str, Position); 2]) {
    let mut door = lock("54:D2:72:00:00:11", 11, at(6.0, 0.0));
    door.motor_time = motor_time;
    (vec![door], [(LOCAL, at(0.0, 0.0)), (PORCH, at(8.0, 0.0))])
}

async fn porch_and_local(
    specs: &[SimDeviceSpec],
    radios: &[(&str, Position)],
    pins: BTreeMap<DeviceAddress, RadioId>,
) -> (RadioSet, ProxyRadio, SimControl) {
    let (mut sims, control) = building(specs.to_vec(), radios);
    let porch = ProxyRadio::start(PORCH, sims.remove(&radio(PORCH)).unwrap()).await;
    let local = local_radio(sims.remove(&radio(LOCAL)).unwrap());
    let set = RadioSet::new(vec![local, porch.radio()], RoutingSettings::default(), pins);
    (set, porch, control)
}

async fn wait_at_rest(control: &SimControl, device: &DeviceAddress) {
    tokio::time::timeout(HANG_GUARD, async {
        while control.snapshot(device).unwrap().moving {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .expect("the motor stops");
}

/// The porch door, routed to the porch proxy and heard by the local radio too, paired.
struct PorchScene {
    set: RadioSet,
    control: SimControl,
    fleet: Arc<Fleet>,
    listener: tokio::task::JoinHandle<()>,
    door: DeviceAddress,
}

/// Starts `action` on the porch door through the porch proxy and kills the proxy while the
/// motor runs; answers the action's outcome.
async fn porch_killed_during(action: LockAction) -> (PorchScene, Outcome) {
    let (specs, radios) = porch_door(Duration::from_secs(3));
    let door = specs[0].address.clone();
    let (set, mut porch, control) = porch_and_local(&specs, &radios, BTreeMap::new()).await;
    let listener = listen(&set).await;
    report_until(
        &set,
        "the door routed to the porch, heard locally too",
        |report| {
            hears(report, &door, &radio(LOCAL))
                && route(report, &door).and_then(|r| r.radio.as_ref()) == Some(&radio(PORCH))
        },
    )
    .await;
    let credentials = pair_all(&set, &control, &specs).await;
    let fleet = fleet(&set, credentials);
    let running = {
        let fleet = fleet.clone();
        let door = door.clone();
        tokio::spawn(async move {
            fleet
                .act(&door, DeviceAction::Lock(action), ACTION_DEADLINE)
                .await
        })
    };
    tokio::time::timeout(HANG_GUARD, async {
        while !control.snapshot(&door).unwrap().moving {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the door starts to move");
    assert_eq!(porch.open_links(), 1, "the action runs through the porch");
    assert_eq!(links_on(&set.report(), &radio(PORCH)), 1);
    porch.kill();
    let outcome = tokio::time::timeout(HANG_GUARD, running)
        .await
        .expect("the action ends instead of hanging")
        .expect("task");
    let scene = PorchScene {
        set,
        control,
        fleet,
        listener,
        door,
    };
    (scene, outcome)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_killed_mid_action_fails_the_action_and_the_next_one_goes_through_the_local_radio()
{
    // Unlatching twice is not harmless, so the fleet reports a lost link instead of retrying.
    let (scene, outcome) = porch_killed_during(LockAction::Unlatch).await;
    let PorchScene {
        set,
        control,
        fleet,
        listener,
        door,
    } = scene;
    assert!(
        matches!(
            outcome,
            Err(Failure::Unreachable { .. }) | Err(Failure::TimedOut)
        ),
        "{outcome:?}"
    );

    // The proxy's advertisement feed stays open; the set still learns that it is down.
    report_until(&set, "the killed proxy reported down", |report| {
        report
            .radios
            .iter()
            .any(|radio| radio.id.0 == PORCH && !radio.up)
    })
    .await;
    wait_at_rest(&control, &door).await;
    let next = fleet
        .act(&door, DeviceAction::Lock(LockAction::Lock), ACTION_DEADLINE)
        .await;
    assert_eq!(
        lock_state(&next),
        Some(DeviceLockState::Lock(LockState::Locked)),
        "{next:?}"
    );
    let report = set.report();
    assert_eq!(links_on(&report, &radio(LOCAL)), 1, "{report:#?}");
    assert_eq!(links_on(&report, &radio(PORCH)), 0, "{report:#?}");
    let route = route(&report, &door).unwrap();
    assert_eq!(route.radio, Some(radio(LOCAL)), "{route:#?}");
    assert!(
        route.reason
            == Some(RouteReason::Failover {
                previous: radio(PORCH),
                why: FailoverCause::RadioDown
            }),
        "{route:#?}"
    );
    assert!(fleet.shutdown(HANG_GUARD).await);
    listener.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lock_cut_off_with_its_proxy_is_retried_through_the_local_radio() {
    // Unlocking again cannot do harm: the fleet tries once more on a new link, which the
    // set opens through the local radio.
    let (scene, outcome) = porch_killed_during(LockAction::Unlock).await;
    assert_eq!(
        lock_state(&outcome),
        Some(DeviceLockState::Lock(LockState::Unlocked)),
        "{outcome:?}"
    );
    let report = scene.set.report();
    assert_eq!(links_on(&report, &radio(LOCAL)), 1, "{report:#?}");
    assert_eq!(
        route(&report, &scene.door).and_then(|r| r.radio.clone()),
        Some(radio(LOCAL)),
        "{report:#?}"
    );
    assert!(scene.fleet.shutdown(HANG_GUARD).await);
    scene.listener.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_device_uses_its_pin_although_another_radio_hears_it_better() {
    let (specs, radios) = porch_door(Duration::from_millis(500));
    let door = specs[0].address.clone();
    let pins = BTreeMap::from([(door.clone(), radio(LOCAL))]);
    let (set, porch, control) = porch_and_local(&specs, &radios, pins).await;
    let listener = listen(&set).await;
    let report = report_until(&set, "the door heard by both radios", |report| {
        hears(report, &door, &radio(LOCAL)) && hears(report, &door, &radio(PORCH))
    })
    .await;
    let routed = route(&report, &door).unwrap();
    assert_eq!(routed.radio, Some(radio(LOCAL)), "{routed:#?}");
    assert_eq!(routed.reason, Some(RouteReason::Pinned), "{routed:#?}");
    assert_eq!(routed.heard_by[0].radio, radio(PORCH), "{routed:#?}");

    let credentials = pair_all(&set, &control, &specs).await;
    let fleet = fleet(&set, credentials);
    let outcome = fleet
        .act(
            &door,
            DeviceAction::Lock(LockAction::Unlock),
            ACTION_DEADLINE,
        )
        .await;
    assert_eq!(
        lock_state(&outcome),
        Some(DeviceLockState::Lock(LockState::Unlocked)),
        "{outcome:?}"
    );
    let report = set.report();
    assert_eq!(links_on(&report, &radio(LOCAL)), 1, "{report:#?}");
    assert_eq!(links_on(&report, &radio(PORCH)), 0, "{report:#?}");
    assert_eq!(porch.open_links(), 0);
    assert_eq!(
        route(&report, &door).and_then(|r| r.reason.clone()),
        Some(RouteReason::Pinned)
    );
    assert!(fleet.shutdown(HANG_GUARD).await);
    listener.abort();
}

/// Simulated radios only (no sockets), so tokio's paused clock runs the walk.
#[tokio::test(start_paused = true)]
async fn a_device_carried_across_the_building_switches_radio_once() {
    let door = DeviceAddress("54:D2:72:00:00:21".into());
    let (mut sims, control) = building(
        vec![lock(&door.0, 21, at(2.0, 0.0))],
        &[("west", at(0.0, 0.0)), ("east", at(20.0, 0.0))],
    );
    let radios = ["west", "east"]
        .into_iter()
        .map(|name| Radio {
            id: radio(name),
            kind: RadioKind::Simulated,
            transport: Arc::new(sims.remove(&radio(name)).unwrap()),
            link_slots: 3,
        })
        .collect();
    let set = RadioSet::new(radios, RoutingSettings::default(), BTreeMap::new());
    let listener = listen(&set).await;
    let report = report_until(&set, "the door routed", |report| {
        route(report, &door).is_some_and(|route| route.radio.is_some())
    })
    .await;
    assert_eq!(
        route(&report, &door).and_then(|r| r.radio.clone()),
        Some(radio("west"))
    );

    // A quarter metre a second (two advertisements) from 2 m to 18 m, then a while at 18 m.
    let mut serving = radio("west");
    let mut switches = Vec::new();
    for step in 0..=64 {
        let x = 2.0 + f64::from(step) * 0.25;
        control.move_device(&door, at(x, 0.0)).unwrap();
        tokio::time::sleep(Duration::from_secs(1)).await;
        let report = set.report();
        let route = route(&report, &door).unwrap();
        let now = route.radio.clone().expect("always routed");
        if now != serving {
            switches.push((x, now.clone(), route.reason.clone()));
            serving = now;
        }
    }
    tokio::time::sleep(Duration::from_secs(10)).await;
    let report = set.report();
    assert_eq!(
        route(&report, &door).and_then(|r| r.radio.clone()),
        Some(radio("east"))
    );
    assert_eq!(switches.len(), 1, "{switches:?}");
    let (x, to, reason) = &switches[0];
    assert_eq!(to, &radio("east"));
    assert_eq!(
        reason,
        &Some(RouteReason::Stronger {
            previous: radio("west")
        })
    );
    // The margin kept the west radio past the middle, where both hear the door alike.
    assert!(*x > 10.5, "switched at {x} m");
    listener.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_starts_with_a_proxy_that_refuses_its_key_and_names_it_in_the_log() {
    use common::config::{ConfigBuilder, SimDeviceEntry};
    use common::daemon::Daemon;
    use nuki_edge::nuki::product::ProductType as DeviceKind;

    let (sims, _control) = building(
        vec![lock("54:D2:72:00:00:31", 31, at(1.0, 0.0))],
        &[("attic", at(0.0, 0.0))],
    );
    let inner = sims.into_values().next().unwrap();
    let fake = FakeEsphomeProxy::start(
        Arc::new(inner),
        FakeProxyOptions {
            name: "attic".into(),
            key: Some(KEY.into()),
            ..FakeProxyOptions::default()
        },
    )
    .await;
    let key_dir = tempfile::tempdir().unwrap();
    let key_file = key_dir.path().join("attic.key");
    std::fs::write(&key_file, format!("{WRONG_KEY}\n")).unwrap();
    let mut proxy = toml::Table::new();
    proxy.insert("name".into(), "attic".into());
    proxy.insert("host".into(), "127.0.0.1".into());
    proxy.insert("port".into(), i64::from(fake.port()).into());
    proxy.insert(
        "encryption_key_file".into(),
        key_file.to_string_lossy().into_owned().into(),
    );
    let config = ConfigBuilder::new()
        .auto_pair(nuki_edge::config::IdType::Bridge)
        .device(
            SimDeviceEntry::new(
                DeviceKind::SmartLock4,
                "Front",
                "54:D2:72:00:00:32",
                0x5400_0032,
            )
            .pin(PIN),
        )
        .set(
            "ble",
            "proxies",
            toml::Value::Array(vec![toml::Value::Table(proxy)]),
        )
        .build();
    // The daemon harness blocks on the process's output.
    let log = tokio::task::spawn_blocking(move || {
        let mut daemon = Daemon::start(&config);
        // The simulated radio works: the device is paired and its state read.
        daemon.wait_ready();
        daemon.wait_for_line("the proxy's key problem", |line| {
            line["proxy"] == "attic"
                && line["reason"]
                    .as_str()
                    .is_some_and(|reason| reason.contains("encryption key rejected"))
        });
        let (code, log) = daemon.stop();
        assert_eq!(code, Some(0));
        log
    })
    .await
    .expect("daemon thread");
    let text = log
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("\n");
    assert!(!text.contains(KEY) && !text.contains(WRONG_KEY));
    drop(fake);
}
