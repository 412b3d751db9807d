//! The `bluez` backend end to end: btleplug → bluez-async → a private D-Bus → a fake BlueZ
//! (tests/fake_bluez) backed by simulated Nuki devices. Pairing, actions, state reads, the
//! advertisement flag, link loss and the faults BlueZ shows, all through the real backend.
//!
//! The backend finds the bus through `DBUS_SYSTEM_BUS_ADDRESS`, which is process-wide, so the
//! tests here take turns. They need `dbus-daemon` (Debian package `dbus`; `.ci/test` installs
//! it); without it they say so and pass.

mod common;
mod fake_bluez;

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use fake_bluez::{dbus_daemon_available, ConnectAnswer, FakeBluez};
use nuki_edge::app::backend;
use nuki_edge::ble::bluez::{BluezTransport, CallLimits};
use nuki_edge::ble::sim::{RadioModel, SimDeviceSpec, SimKind};
use nuki_edge::ble::{BleError, BleTransport, DeviceAddress};
use nuki_edge::config::Config;
use nuki_edge::devices::credentials::DeviceCredentials;
use nuki_edge::devices::fleet::{Fleet, FleetConfig, FleetEvent};
use nuki_edge::devices::link::{LinkTimeouts, NukiLink};
use nuki_edge::nuki::enums::{DeviceAction, DeviceLockState, IdType, LockAction, LockState};
use nuki_edge::nuki::messages::SecurityPin;
use nuki_edge::nuki::pairing::PairingRequest;

const LOCK: &str = "54:D2:72:00:00:01";
const DEADLINE: Duration = Duration::from_secs(20);
/// Hang guard for the advertisement feed to come back after a bluetoothd restart.
const RESTART_RECOVERY_GUARD: Duration = Duration::from_secs(90);
/// Long enough for the simulated devices to advertise a few times.
const SCAN: Duration = Duration::from_millis(1500);
/// Short BlueZ call limits for the tests where a call never answers.
const SHORT_LIMITS: CallLimits = CallLimits {
    local: Duration::from_secs(1),
    session: Duration::from_secs(2),
    connect: Duration::from_secs(1),
    discover_services: Duration::from_secs(1),
    radio: Duration::from_secs(1),
    disconnect: Duration::from_secs(1),
};

static TURN: Mutex<()> = Mutex::new(());

/// One test at a time owns `DBUS_SYSTEM_BUS_ADDRESS`.
struct Turn {
    _guard: MutexGuard<'static, ()>,
}

fn take_turn() -> Option<Turn> {
    if !dbus_daemon_available() {
        eprintln!("dbus-daemon is not installed (Debian package dbus); skipping");
        return None;
    }
    let guard = TURN.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    Some(Turn { _guard: guard })
}

fn lock_spec(address: &str, nuki_id: u32) -> SimDeviceSpec {
    let mut spec = SimDeviceSpec::new(address, "Front door", nuki_id, SimKind::SmartLock4);
    spec.pin = Some(1234);
    spec
}

/// A fast radio so the D-Bus path, not simulated air time, dominates.
fn radio() -> RadioModel {
    RadioModel {
        connect_time: Duration::from_millis(20),
        connection_interval: Duration::from_millis(2),
        advert_interval: Duration::from_millis(100),
        ..RadioModel::default()
    }
}

async fn start(specs: Vec<SimDeviceSpec>) -> FakeBluez {
    let fake = FakeBluez::start(specs, radio()).await;
    std::env::set_var("DBUS_SYSTEM_BUS_ADDRESS", fake.bus_address());
    fake
}

/// The backend exactly as the daemon builds it for `ble.backend = "bluez"`.
async fn daemon_backend() -> Arc<dyn BleTransport> {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = format!(
        "[store]\npath = \"{}\"\n[ble]\nbackend = \"bluez\"\nadapter = \"hci0\"\n",
        dir.path().join("store.redb").display()
    );
    let config = Config::parse(&text, Path::new("bluez-test.toml"), HashMap::new())
        .expect("test config parses");
    backend::open(&config)
        .await
        .expect("the bluez backend opens on the fake")
        .transport
}

async fn short_limit_backend() -> Arc<dyn BleTransport> {
    Arc::new(
        BluezTransport::with_limits(Some("hci0"), SHORT_LIMITS)
            .await
            .expect("the bluez backend opens on the fake"),
    )
}

fn address() -> DeviceAddress {
    DeviceAddress(LOCK.into())
}

async fn pair(fake: &FakeBluez, transport: &dyn BleTransport) -> DeviceCredentials {
    fake.control()
        .press_button(&address())
        .expect("simulated lock exists");
    let mut link = NukiLink::connect(transport, &address(), LinkTimeouts::default(), Some(7))
        .await
        .expect("connect through BlueZ");
    let outcome = link
        .pair(PairingRequest {
            id_type: IdType::Bridge,
            app_id: 99,
            name: "bluez test".into(),
            security_pin: None,
        })
        .await
        .expect("pairing through BlueZ");
    link.disconnect().await;
    DeviceCredentials {
        address: address(),
        name: "Front door".into(),
        nuki_id: 0x1122_3344,
        product: SimKind::SmartLock4,
        auth_id: outcome.auth_id,
        app_id: 99,
        key: outcome.key,
        security_pin: Some(SecurityPin::Short(1234)),
    }
}

async fn paired_fleet(fake: &FakeBluez, transport: Arc<dyn BleTransport>) -> Arc<Fleet> {
    let credentials = pair(fake, transport.as_ref()).await;
    Fleet::start(transport, FleetConfig::default(), vec![credentials])
}

fn final_lock_state(outcome: &nuki_edge::devices::outcome::Outcome) -> Option<DeviceLockState> {
    outcome.as_ref().ok()?.state.as_ref().map(|s| s.lock_state)
}

async fn act(fleet: &Fleet, action: LockAction) -> Option<DeviceLockState> {
    let outcome = fleet
        .act(&address(), DeviceAction::Lock(action), DEADLINE)
        .await;
    let state = final_lock_state(&outcome);
    assert!(state.is_some(), "{action:?} failed: {outcome:?}");
    state
}

const UNLOCKED: Option<DeviceLockState> = Some(DeviceLockState::Lock(LockState::Unlocked));
const LOCKED: Option<DeviceLockState> = Some(DeviceLockState::Lock(LockState::Locked));

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scan_lists_the_nuki_beacon_and_pairing_mode() {
    let Some(_turn) = take_turn() else { return };
    let fake = start(vec![lock_spec(LOCK, 0x1122_3344)]).await;
    let transport = daemon_backend().await;

    let heard = transport.scan(SCAN).await.expect("scan");
    let lock = heard
        .iter()
        .find(|advert| advert.address == Some(address()))
        .expect("the lock is heard");
    assert!(lock.manufacturer_data.contains_key(&0x004C), "{lock:?}");
    assert!(lock.service_data.is_empty(), "not in pairing mode yet");
    assert!(!fake.discovering(), "a finished scan stops discovery");

    fake.control().press_button(&address()).expect("exists");
    let heard = transport.scan(SCAN).await.expect("scan");
    let lock = heard
        .iter()
        .find(|advert| advert.address == Some(address()))
        .expect("the lock is heard");
    assert!(
        !lock.service_data.is_empty(),
        "pairing mode shows in ServiceData"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairing_actions_and_state_reads_run_through_bluez() {
    let Some(_turn) = take_turn() else { return };
    let fake = start(vec![lock_spec(LOCK, 0x1122_3344)]).await;
    let transport = daemon_backend().await;
    let fleet = paired_fleet(&fake, transport).await;

    assert_eq!(act(&fleet, LockAction::Unlock).await, UNLOCKED);
    assert_eq!(act(&fleet, LockAction::Lock).await, LOCKED);
    assert_eq!(act(&fleet, LockAction::Unlatch).await, UNLOCKED);
    let state = fleet.read_state(&address(), DEADLINE).await;
    assert_eq!(final_lock_state(&state), UNLOCKED, "{state:?}");
    assert!(fake.calls_of("org.bluez.GattCharacteristic1.WriteValue") > 0);
    assert!(fake.calls_of("org.bluez.GattCharacteristic1.StartNotify") > 0);
}

/// Feeds the backend's advertisements to the fleet, as the daemon's run loop does.
async fn follow_advertisements(transport: &Arc<dyn BleTransport>, fleet: &Arc<Fleet>) {
    let mut feed = transport
        .advertisements()
        .await
        .expect("advertisement feed");
    let fleet = Arc::clone(fleet);
    tokio::spawn(async move {
        while let Some(advert) = feed.recv().await {
            fleet.on_advertisement(&advert);
        }
    });
}

async fn next_event(
    events: &mut tokio::sync::broadcast::Receiver<FleetEvent>,
    wanted: impl Fn(&FleetEvent) -> bool,
) -> FleetEvent {
    tokio::time::timeout(DEADLINE, async {
        loop {
            match events.recv().await {
                Ok(event) if wanted(&event) => return event,
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                Err(closed) => panic!("fleet events ended: {closed}"),
            }
        }
    })
    .await
    .expect("the event comes")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_advertisement_flag_triggers_a_state_refresh() {
    let Some(_turn) = take_turn() else { return };
    let fake = start(vec![lock_spec(LOCK, 0x1122_3344)]).await;
    let transport = daemon_backend().await;
    let fleet = paired_fleet(&fake, Arc::clone(&transport)).await;
    let mut events = fleet.subscribe();
    assert_eq!(act(&fleet, LockAction::Lock).await, LOCKED);
    // The idle link closes first, so only the advertisement can tell the fleet.
    next_event(
        &mut events,
        |event| matches!(event, FleetEvent::Disconnected { address: a } if *a == address()),
    )
    .await;
    follow_advertisements(&transport, &fleet).await;

    // Someone unlocks by hand: the lock raises its state-changed flag in ManufacturerData,
    // BlueZ reports the change, the fleet reads the new state.
    fake.control()
        .manual_action(&address(), LockAction::Unlock.to_u8())
        .expect("exists");
    next_event(&mut events, |event| {
        matches!(event, FleetEvent::StateChanged { address: a, state }
            if *a == address() && state.lock_state == DeviceLockState::Lock(LockState::Unlocked))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_link_loss_the_next_action_reconnects() {
    let Some(_turn) = take_turn() else { return };
    let fake = start(vec![lock_spec(LOCK, 0x1122_3344)]).await;
    let transport = daemon_backend().await;
    let fleet = paired_fleet(&fake, transport).await;
    let mut events = fleet.subscribe();
    assert_eq!(act(&fleet, LockAction::Unlock).await, UNLOCKED);
    assert!(fake.is_connected(LOCK), "the link stays open while idle");

    fake.lose_link(LOCK);
    next_event(
        &mut events,
        |event| matches!(event, FleetEvent::Disconnected { address: a } if *a == address()),
    )
    .await;
    assert!(!fake.is_connected(LOCK));
    assert_eq!(act(&fleet, LockAction::Lock).await, LOCKED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failed_and_in_progress_connects_are_connect_failures_and_the_next_works() {
    let Some(_turn) = take_turn() else { return };
    let fake = start(vec![lock_spec(LOCK, 0x1122_3344)]).await;
    let transport = short_limit_backend().await;
    transport.scan(SCAN).await.expect("scan finds the lock");

    for answer in [ConnectAnswer::Failed, ConnectAnswer::InProgress] {
        fake.answer_next_connect(LOCK, answer);
        let refused = transport.connect(&address()).await.map(|_| ());
        assert!(
            matches!(refused, Err(BleError::ConnectFailed { ref address, .. }) if *address == self::address()),
            "{answer:?}: {refused:?}"
        );
    }
    let mut link = transport
        .connect(&address())
        .await
        .expect("then it connects");
    assert!(fake.is_connected(LOCK));
    link.disconnect().await.expect("disconnect");
    assert!(!fake.is_connected(LOCK));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_vanishing_mid_connect_fails_that_connect_only() {
    let Some(_turn) = take_turn() else { return };
    let fake = start(vec![lock_spec(LOCK, 0x1122_3344)]).await;
    let transport = short_limit_backend().await;
    transport.scan(SCAN).await.expect("scan finds the lock");

    fake.answer_next_connect(LOCK, ConnectAnswer::Vanish);
    let vanished = transport.connect(&address()).await.map(|_| ());
    assert!(
        matches!(vanished, Err(BleError::ConnectFailed { .. })),
        "{vanished:?}"
    );
    // BlueZ forgot the device; the backend listens for it again and connects.
    let mut link = transport
        .connect(&address())
        .await
        .expect("found again and connected");
    link.disconnect().await.expect("disconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_that_never_answer_end_at_their_time_limits() {
    let Some(_turn) = take_turn() else { return };
    let fake = start(vec![lock_spec(LOCK, 0x1122_3344)]).await;
    let transport = short_limit_backend().await;
    transport.scan(SCAN).await.expect("scan finds the lock");

    fake.answer_next_connect(LOCK, ConnectAnswer::Hang);
    let hung = transport.connect(&address()).await.map(|_| ());
    assert_eq!(
        hung,
        Err(BleError::Timeout {
            operation: "connect",
            after: SHORT_LIMITS.connect
        })
    );

    let mut link = transport.connect(&address()).await.expect("connects");
    let keyturner = link
        .characteristics()
        .into_iter()
        .find(|uuid| uuid.as_u128() >> 96 == 0xa92e_e202)
        .expect("keyturner USDIO is discovered");
    fake.never_answer("WriteValue");
    let write = link.write(keyturner, &[0u8; 8]).await;
    assert_eq!(
        write,
        Err(BleError::Timeout {
            operation: "write",
            after: SHORT_LIMITS.radio
        })
    );
    fake.answer_again("WriteValue");

    link.disconnect().await.expect("disconnect");

    // Looking the device up in BlueZ's object tree hangs: the connect gives up at the local
    // call limit, naming the call.
    fake.never_answer("GetManagedObjects");
    let lookup = transport.connect(&address()).await.map(|_| ());
    fake.answer_again("GetManagedObjects");
    assert_eq!(
        lookup,
        Err(BleError::Timeout {
            operation: "list devices",
            after: SHORT_LIMITS.local
        })
    );
    let mut link = transport.connect(&address()).await.expect("answered again");
    link.disconnect().await.expect("disconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bluetoothd_restarting_is_survived() {
    let Some(_turn) = take_turn() else { return };
    let fake = start(vec![lock_spec(LOCK, 0x1122_3344)]).await;
    let transport = daemon_backend().await;
    let fleet = paired_fleet(&fake, Arc::clone(&transport)).await;
    let mut feed = transport.advertisements().await.expect("feed");
    assert_eq!(act(&fleet, LockAction::Unlock).await, UNLOCKED);
    assert!(fake.discovering());

    fake.restart_bluetoothd().await;
    assert!(!fake.is_connected(LOCK), "links die with bluetoothd");

    // The feed asks the new bluetoothd for discovery again and hears the lock. A hang guard,
    // not a timing check: on a loaded CI machine this took longer than DEADLINE (why is not
    // understood yet; a background connect pausing discovery is the suspect).
    while feed.try_recv().is_ok() {}
    let heard = tokio::time::timeout(RESTART_RECOVERY_GUARD, async {
        while let Some(advert) = feed.recv().await {
            if advert.address == Some(address()) {
                return true;
            }
        }
        false
    })
    .await;
    assert_eq!(heard, Ok(true), "advertisements flow after the restart");
    assert!(fake.discovering());
    assert_eq!(act(&fleet, LockAction::Lock).await, LOCKED);
}

/// The daemon binary itself on `ble.backend = "bluez"`, against the fake: it pairs the lock
/// it hears in pairing mode, lists it, locks it through the Bridge API, and unlocks it after
/// bluetoothd restarted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_on_the_bluez_backend_pairs_lists_locks_and_survives_a_bluetoothd_restart() {
    use common::config::ConfigBuilder;
    use common::daemon::Daemon;
    use nuki_edge::config::IdType;

    let Some(_turn) = take_turn() else { return };
    let fake = start(vec![lock_spec(LOCK, 0x1122_3344)]).await;
    fake.control().press_button(&address()).expect("exists");
    let config = ConfigBuilder::new()
        .bridge_token("bluezE2E42")
        .set("ble", "backend", "bluez")
        .set("ble", "adapter", "hci0")
        .set("ble", "scan_seconds", 1)
        .log_level("debug")
        .auto_pair(IdType::Bridge)
        .build();
    // The child inherits DBUS_SYSTEM_BUS_ADDRESS, so its BlueZ is the fake.
    let daemon = tokio::task::spawn_blocking(move || {
        let mut daemon = Daemon::start(&config);
        daemon.wait_for("paired", 1);
        (daemon, config)
    })
    .await
    .expect("daemon started");
    let bridge = daemon.0.bridge();

    let (status, list) = bridge.get_authorized("/list").await;
    assert_eq!(status, 200, "{list}");
    let listed = list.as_array().expect("a list");
    assert_eq!(listed.len(), 1, "{list}");
    assert_eq!(listed[0]["nukiId"], 0x1122_3344, "{list}");

    let (status, body) = bridge
        .get_authorized("/lockAction?nukiId=287454020&deviceType=4&action=2")
        .await;
    assert_eq!(
        (status, &body["success"]),
        (200, &serde_json::json!(true)),
        "{body}"
    );
    assert!(fake.calls_of("org.bluez.Device1.Connect") > 0);

    // bluetoothd restarts under the running daemon: it carries on (the next action connects
    // through the new bluetoothd) instead of needing systemd.
    fake.restart_bluetoothd().await;
    // As after a real restart, bluetoothd knows the lock again only once the daemon's
    // discovery heard it; an action before that is answered "unreachable" (a loaded CI
    // machine got there first once). A hang guard, as in `bluetoothd_restarting_is_survived`:
    // on the loaded CI machine hearing it again took longer than DEADLINE once more.
    let heard_again = tokio::time::timeout(RESTART_RECOVERY_GUARD, async {
        while !fake.knows_device(LOCK) {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        heard_again.is_ok(),
        "the daemon's discovery hears the lock again; its log:\n{}",
        daemon.0.log_text()
    );
    let (status, body) = bridge
        .get_authorized("/lockAction?nukiId=287454020&deviceType=4&action=1")
        .await;
    assert_eq!(
        (status, &body["success"]),
        (200, &serde_json::json!(true)),
        "{body}"
    );

    let (code, _log) = tokio::task::spawn_blocking(move || daemon.0.stop())
        .await
        .expect("stopped");
    assert_eq!(code, Some(0));
    drop(daemon.1);
}
