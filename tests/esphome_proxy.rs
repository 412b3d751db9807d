//! The ESPHome proxy backend end to end: real TCP, real Noise encryption, a fake proxy in
//! front of a simulated building, and the project's own pairing and device client on top.

mod fake_esphome;

use std::sync::Arc;
use std::time::Duration;

use fake_esphome::{FakeEsphomeProxy, FakeProxyOptions};
use nuki_edge::ble::esphome::{CallLimits, EsphomeProxy};
use nuki_edge::ble::sim::{RadioModel, SimControl, SimDeviceSpec, SimKind, SimTransport};
use nuki_edge::ble::{BleError, BleTransport, DeviceAddress, SlotReport};
use nuki_edge::config::ProxyConfig;
use nuki_edge::devices::client::DeviceClient;
use nuki_edge::devices::link::{LinkTimeouts, NukiLink};
use nuki_edge::nuki::enums::{DeviceAction, DeviceLockState, IdType, LockAction, LockState};
use nuki_edge::nuki::exchange::Session;
use nuki_edge::nuki::messages::SecurityPin;
use nuki_edge::nuki::pairing::PairingRequest;

const KEY: &str = "px7tsbK3C7bpXHr2OevEV2ZMg/FrNBw2+O2pNPbedtA=";
const OTHER_KEY: &str = "0kGj0fC6JgpkV0WfE1rUh2E0yJgGPAn4ZmEFJYDC1aA=";
const LOCK: &str = "54:D2:72:00:00:01";
const SECOND_LOCK: &str = "54:D2:72:00:00:02";
const PIN: u32 = 4711;
const APP_ID: u32 = 0x1234_5678;
const UP_WITHIN: Duration = Duration::from_secs(10);

fn building(addresses: &[&str]) -> (Arc<SimTransport>, SimControl) {
    let specs = addresses
        .iter()
        .zip(1u32..)
        .map(|(address, n)| {
            let mut spec = SimDeviceSpec::new(
                address,
                &format!("Door {n}"),
                0x2FFF_9400 + n,
                SimKind::SmartLock4,
            );
            spec.pin = Some(PIN);
            spec
        })
        .collect();
    let (transport, control) =
        SimTransport::with_wall_clock(specs, RadioModel::default(), 1_764_417_600);
    (Arc::new(transport), control)
}

fn limits() -> CallLimits {
    CallLimits {
        connect: Duration::from_secs(5),
        discover_services: Duration::from_secs(5),
        radio: Duration::from_secs(5),
        disconnect: Duration::from_secs(2),
        keepalive: Duration::from_secs(2),
        reconnect_min: Duration::from_millis(50),
        reconnect_max: Duration::from_millis(400),
        ..CallLimits::default()
    }
}

struct Backend {
    proxy: EsphomeProxy,
    _key_dir: tempfile::TempDir,
}

fn backend(port: u16, key: &str) -> Backend {
    let dir = tempfile::tempdir().unwrap();
    let key_file = dir.path().join("hall.key");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let config = ProxyConfig {
        name: "hall".into(),
        host: "127.0.0.1".into(),
        port,
        encryption_key_file: Some(key_file),
    };
    Backend {
        proxy: EsphomeProxy::start(&config, limits()).expect("key file reads"),
        _key_dir: dir,
    }
}

async fn fake(inner: Arc<SimTransport>, limit: usize) -> FakeEsphomeProxy {
    let options = FakeProxyOptions {
        key: Some(KEY.into()),
        limit,
        ..FakeProxyOptions::default()
    };
    FakeEsphomeProxy::start(inner, options).await
}

async fn pair(
    proxy: &EsphomeProxy,
    control: &SimControl,
    address: &DeviceAddress,
) -> (DeviceClient, Session) {
    control.press_button(address).expect("device exists");
    let mut link = NukiLink::connect(proxy, address, LinkTimeouts::default(), Some(7))
        .await
        .expect("link through the proxy");
    let request = PairingRequest {
        id_type: IdType::Bridge,
        app_id: APP_ID,
        name: "nuki-edge test".into(),
        security_pin: None,
    };
    let outcome = link.pair(request).await.expect("pairing through the proxy");
    let session = outcome.session(link.family());
    let pin = SecurityPin::for_family(PIN, link.family());
    (
        DeviceClient::new(link, session.clone(), APP_ID, Some(pin)),
        session,
    )
}

fn final_lock_state(report: &nuki_edge::devices::client::ActionReport) -> Option<DeviceLockState> {
    report.final_state().map(|state| state.lock_state)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pairing_and_every_lock_action_run_through_the_proxy() {
    let (sim, control) = building(&[LOCK]);
    let fake = fake(Arc::clone(&sim), 3).await;
    let backend = backend(fake.port(), KEY);
    backend
        .proxy
        .wait_until_up(UP_WITHIN)
        .await
        .expect("proxy up");
    let address = DeviceAddress(LOCK.into());

    let mut feed = backend.proxy.advertisements().await.unwrap();
    let heard = tokio::time::timeout(UP_WITHIN, feed.recv())
        .await
        .expect("an advertisement within the limit")
        .expect("feed open");
    assert_eq!(heard.address, Some(address.clone()));
    assert!(
        heard.manufacturer_data.contains_key(&0x004C),
        "iBeacon: {heard:?}"
    );
    assert!(heard.rssi.is_some());

    let (mut client, _) = pair(&backend.proxy, &control, &address).await;
    let states = client.states().await.expect("state read");
    assert!(matches!(states.lock_state, DeviceLockState::Lock(_)));
    for (action, reached) in [
        (LockAction::Unlock, LockState::Unlocked),
        (LockAction::Lock, LockState::Locked),
    ] {
        let report = client
            .act(DeviceAction::Lock(action))
            .await
            .unwrap_or_else(|error| panic!("{action:?}: {error}"));
        assert_eq!(
            final_lock_state(&report),
            Some(DeviceLockState::Lock(reached)),
            "{action:?}"
        );
    }
    let unlatched = client
        .act(DeviceAction::Lock(LockAction::Unlatch))
        .await
        .expect("unlatch");
    assert!(unlatched
        .states
        .iter()
        .any(|s| s.lock_state == DeviceLockState::Lock(LockState::Unlatched)));
    let lock_n_go = client
        .act(DeviceAction::Lock(LockAction::LockNGo))
        .await
        .expect("lock 'n' go");
    assert_eq!(
        final_lock_state(&lock_n_go),
        Some(DeviceLockState::Lock(LockState::Locked))
    );
    client.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_encryption_key_is_reported_with_the_proxy_name() {
    let (sim, _control) = building(&[LOCK]);
    let fake = fake(sim, 3).await;
    let backend = backend(fake.port(), OTHER_KEY);
    let error = backend
        .proxy
        .wait_until_up(Duration::from_secs(3))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("ESPHome proxy hall") && text.contains("encryption key rejected"),
        "{text}"
    );
    assert!(!text.contains(KEY) && !text.contains(OTHER_KEY), "{text}");
    let connect = backend
        .proxy
        .connect(&DeviceAddress(LOCK.into()))
        .await
        .err()
        .expect("refused");
    assert!(
        connect.to_string().contains("encryption key rejected"),
        "{connect}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_proxy_is_reported_with_its_address_and_connect_fails_fast() {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let backend = backend(port, KEY);
    let error = backend
        .proxy
        .wait_until_up(Duration::from_secs(2))
        .await
        .unwrap_err();
    let text = error.to_string();
    assert!(
        text.contains("ESPHome proxy hall") && text.contains(&format!("127.0.0.1:{port}")),
        "{text}"
    );
    assert!(text.contains("unreachable"), "{text}");
    let started = std::time::Instant::now();
    let connect = backend.proxy.connect(&DeviceAddress(LOCK.into())).await;
    assert!(matches!(connect, Err(BleError::Adapter(_))));
    assert!(started.elapsed() < Duration::from_secs(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_proxy_killed_mid_action_fails_the_action_and_the_next_one_succeeds_after_restart() {
    let (sim, control) = building(&[LOCK]);
    let first = fake(Arc::clone(&sim), 3).await;
    let port = first.port();
    let backend = backend(port, KEY);
    backend
        .proxy
        .wait_until_up(UP_WITHIN)
        .await
        .expect("proxy up");
    let address = DeviceAddress(LOCK.into());
    let (mut client, session) = pair(&backend.proxy, &control, &address).await;

    let action = tokio::spawn(async move {
        let outcome = client.act(DeviceAction::Lock(LockAction::Unlock)).await;
        (outcome.map(|_| ()), client)
    });
    tokio::time::sleep(Duration::from_millis(30)).await;
    first.kill();
    let (outcome, client) = tokio::time::timeout(Duration::from_secs(15), action)
        .await
        .expect("the action ends instead of hanging")
        .unwrap();
    assert!(
        outcome.is_err(),
        "the action cannot succeed without its proxy"
    );
    drop(client);
    let down = backend
        .proxy
        .connect(&address)
        .await
        .err()
        .expect("proxy down");
    assert!(down.to_string().contains("ESPHome proxy hall"), "{down}");

    let _second = FakeEsphomeProxy::start_on(
        Arc::clone(&sim) as Arc<dyn BleTransport>,
        FakeProxyOptions {
            key: Some(KEY.into()),
            ..FakeProxyOptions::default()
        },
        port,
    )
    .await;
    backend
        .proxy
        .wait_until_up(UP_WITHIN)
        .await
        .expect("reconnected");
    let link = NukiLink::connect(&backend.proxy, &address, LinkTimeouts::default(), None)
        .await
        .expect("link after the restart");
    let pin = SecurityPin::for_family(PIN, link.family());
    let mut client = DeviceClient::new(link, session, APP_ID, Some(pin));
    // Whether the killed unlock reached the lock is open, so lock first, then unlock.
    client
        .act(DeviceAction::Lock(LockAction::Lock))
        .await
        .expect("lock after restart");
    let unlocked = client
        .act(DeviceAction::Lock(LockAction::Unlock))
        .await
        .expect("unlock after restart");
    assert_eq!(
        final_lock_state(&unlocked),
        Some(DeviceLockState::Lock(LockState::Unlocked))
    );
    client.close().await;
}

async fn next_report(reports: &mut tokio::sync::watch::Receiver<SlotReport>, wanted: SlotReport) {
    let arrived = tokio::time::timeout(UP_WITHIN, reports.wait_for(|r| *r == wanted))
        .await
        .is_ok();
    assert!(
        arrived,
        "no slot report {wanted:?}; last {:?}",
        *reports.borrow()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slot_reports_follow_links_and_a_connect_beyond_the_free_slots_fails() {
    let (sim, _control) = building(&[LOCK, SECOND_LOCK]);
    let fake = fake(sim, 1).await;
    let backend = backend(fake.port(), KEY);
    backend
        .proxy
        .wait_until_up(UP_WITHIN)
        .await
        .expect("proxy up");
    let mut reports = backend
        .proxy
        .slot_reports()
        .expect("a proxy reports its slots");
    next_report(&mut reports, SlotReport { free: 1, limit: 1 }).await;

    let mut first = backend
        .proxy
        .connect(&DeviceAddress(LOCK.into()))
        .await
        .expect("first link");
    assert!(!first.characteristics().is_empty());
    next_report(&mut reports, SlotReport { free: 0, limit: 1 }).await;

    let refused = backend
        .proxy
        .connect(&DeviceAddress(SECOND_LOCK.into()))
        .await
        .err()
        .expect("no slot");
    let text = refused.to_string();
    assert!(
        text.contains("ESPHome proxy hall") && text.contains("no free connection slot"),
        "{text}"
    );

    first.disconnect().await.expect("disconnect");
    next_report(&mut reports, SlotReport { free: 1, limit: 1 }).await;
    assert_eq!(fake.open_links(), 0);
    let mut second = backend
        .proxy
        .connect(&DeviceAddress(SECOND_LOCK.into()))
        .await
        .expect("slot again");
    second.disconnect().await.expect("disconnect");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_links_run_at_once_through_one_proxy() {
    let (sim, control) = building(&[LOCK, SECOND_LOCK]);
    let fake = fake(sim, 3).await;
    let backend = backend(fake.port(), KEY);
    backend
        .proxy
        .wait_until_up(UP_WITHIN)
        .await
        .expect("proxy up");
    let (mut one, _) = pair(&backend.proxy, &control, &DeviceAddress(LOCK.into())).await;
    let (mut two, _) = pair(&backend.proxy, &control, &DeviceAddress(SECOND_LOCK.into())).await;
    let (a, b) = tokio::join!(
        one.act(DeviceAction::Lock(LockAction::Unlock)),
        two.act(DeviceAction::Lock(LockAction::Unlock)),
    );
    assert_eq!(
        final_lock_state(&a.expect("first")),
        Some(DeviceLockState::Lock(LockState::Unlocked))
    );
    assert_eq!(
        final_lock_state(&b.expect("second")),
        Some(DeviceLockState::Lock(LockState::Unlocked))
    );
    assert_eq!(fake.open_links(), 2);
}
