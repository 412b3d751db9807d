//! The client code that drives BlueZ, driven here against every simulated device kind:
//! pairing (classic and Ultra), actions, state, logs, keypad codes, authorizations, config and
//! the security PIN; faults end in typed errors within the deadline, never a hang.

use std::time::Duration;

use nuki_edge::ble::sim::{Fault, RadioModel, SimControl, SimDeviceSpec, SimKind, SimTransport};
use nuki_edge::ble::{BleError, DeviceAddress};
use nuki_edge::devices::client::DeviceClient;
use nuki_edge::devices::link::{LinkError, LinkTimeouts, NukiLink};
use nuki_edge::nuki::enums::{
    DeviceAction, DeviceLockState, ErrorCode, IdType, LockAction, LockState, NukiState,
    OpenerAction, OpenerLockState, SortOrder,
};
use nuki_edge::nuki::exchange::{ExchangeError, Session};
use nuki_edge::nuki::messages::{
    AccessCode, AllowedWindow, LogData, NewKeypadCode, SecurityPin, UserAuthorizationUpdate,
};
use nuki_edge::nuki::pairing::{PairingError, PairingRequest};
use nuki_edge::nuki::uuids::ServiceFamily;

const ULTRA_PIN: u32 = 482_913;
const CLASSIC_PIN: u32 = 4711;
const APP_ID: u32 = 0x1234_5678;

fn spec(kind: SimKind) -> SimDeviceSpec {
    let (address, pin) = match kind {
        SimKind::Box => ("sim:box", CLASSIC_PIN),
        SimKind::SmartLock2 => ("sim:sl2", CLASSIC_PIN),
        SimKind::SmartLock4 => ("sim:sl4", CLASSIC_PIN),
        SimKind::SmartLockUltra => ("sim:ultra", ULTRA_PIN),
        SimKind::Opener => ("sim:opener", CLASSIC_PIN),
        SimKind::SmartDoor => ("sim:door", CLASSIC_PIN),
    };
    let mut spec = SimDeviceSpec::new(address, address, 0x1000_0000 + kind as u32, kind);
    spec.pin = Some(pin);
    spec
}

fn building(specs: Vec<SimDeviceSpec>) -> (SimTransport, SimControl) {
    SimTransport::with_wall_clock(specs, RadioModel::default(), 1_764_417_600)
}

fn pin_for(family: ServiceFamily, kind: SimKind) -> SecurityPin {
    let value = if kind == SimKind::SmartLockUltra {
        ULTRA_PIN
    } else {
        CLASSIC_PIN
    };
    SecurityPin::for_family(value, family)
}

async fn pair(
    transport: &SimTransport,
    control: &SimControl,
    address: &DeviceAddress,
    id_type: IdType,
    pin: Option<SecurityPin>,
) -> Result<(NukiLink, Session), LinkError> {
    static SEED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(7);
    let seed = SEED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    control.press_button(address).expect("device exists");
    let mut link =
        NukiLink::connect(transport, address, LinkTimeouts::default(), Some(seed)).await?;
    let request = PairingRequest {
        id_type,
        app_id: APP_ID,
        name: "nuki-edge test".into(),
        security_pin: pin,
    };
    let outcome = link.pair(request).await?;
    let session = outcome.session(link.family());
    Ok((link, session))
}

fn lock_state(client_state: &nuki_edge::nuki::messages::KeyturnerStates) -> DeviceLockState {
    client_state.lock_state
}

async fn exercise_every_operation(kind: SimKind) {
    let spec = spec(kind);
    let address = spec.address.clone();
    let (transport, control) = building(vec![spec]);
    let family = kind.service_family();
    let pin = pin_for(family, kind);
    let ultra_pin = (kind == SimKind::SmartLockUltra).then_some(pin);
    let (link, session) = pair(&transport, &control, &address, IdType::Bridge, ultra_pin)
        .await
        .expect("pairing succeeds");
    assert_eq!(session.family, family, "{kind:?}");
    let mut client = DeviceClient::new(link, session, APP_ID, Some(pin));

    let states = client.states().await.expect("state read");
    assert_eq!(states.nuki_state, NukiState::DoorMode, "{kind:?}");

    if family.is_opener() {
        let report = client
            .act(DeviceAction::Opener(OpenerAction::ActivateRto))
            .await
            .expect("ring to open");
        assert_eq!(
            report.final_state().map(lock_state),
            Some(DeviceLockState::Opener(OpenerLockState::RtoActive))
        );
        let report = client
            .act(DeviceAction::Opener(OpenerAction::ElectricStrikeActuation))
            .await
            .expect("open");
        assert!(report.states.iter().any(|s| s.lock_state
            == DeviceLockState::Opener(OpenerLockState::Open)
            || s.lock_state == DeviceLockState::Opener(OpenerLockState::Opening)));
        client
            .act(DeviceAction::Opener(OpenerAction::DeactivateRto))
            .await
            .expect("deactivate ring to open");
    } else {
        let report = client
            .act(DeviceAction::Lock(LockAction::Unlock))
            .await
            .expect("unlock");
        assert!(report.accepted);
        assert_eq!(
            report.final_state().map(lock_state),
            Some(DeviceLockState::Lock(LockState::Unlocked)),
            "{kind:?}"
        );
        assert!(report
            .states
            .iter()
            .any(|s| s.lock_state == DeviceLockState::Lock(LockState::Unlocking)));
        let report = client
            .act(DeviceAction::Lock(LockAction::Lock))
            .await
            .expect("lock");
        assert_eq!(
            report.final_state().map(lock_state),
            Some(DeviceLockState::Lock(LockState::Locked))
        );
        let report = client
            .act(DeviceAction::Lock(LockAction::Unlatch))
            .await
            .expect("unlatch");
        assert!(report
            .states
            .iter()
            .any(|s| s.lock_state == DeviceLockState::Lock(LockState::Unlatched)));
        let report = client
            .act(DeviceAction::Lock(LockAction::LockNGo))
            .await
            .expect("lock 'n' go");
        assert_eq!(
            report.final_state().map(lock_state),
            Some(DeviceLockState::Lock(LockState::Locked)),
            "lock 'n' go ends locked"
        );
    }

    let log = client
        .log_entries(0, 20, SortOrder::Descending)
        .await
        .expect("log read");
    assert!(
        log.iter()
            .any(|entry| entry.auth_id == client.session().auth_id
                && matches!(entry.data, LogData::LockAction { .. })),
        "our actions are logged: {log:?}"
    );

    let new_code = NewKeypadCode {
        code: AccessCode(246_813),
        name: "Cleaner".into(),
        time_limited: false,
        allowed: AllowedWindow::default(),
    };
    let code_id = client.add_keypad_code(new_code).await.expect("add code");
    let codes = client.keypad_codes().await.expect("list codes");
    assert!(codes
        .iter()
        .any(|c| c.code_id == code_id && c.name == "Cleaner"));
    client
        .remove_keypad_code(code_id)
        .await
        .expect("remove code");
    assert!(client
        .keypad_codes()
        .await
        .expect("list codes")
        .iter()
        .all(|c| c.code_id != code_id));

    let authorizations = client.authorizations().await.expect("list authorizations");
    let own = authorizations.first().expect("own authorization first");
    assert_eq!(own.auth_id, client.session().auth_id);
    assert_eq!(own.name, "nuki-edge test");
    let update = UserAuthorizationUpdate {
        auth_id: own.auth_id,
        name: "Gateway Lindenhof".into(),
        enabled: true,
        remote_allowed: true,
        time_limited: false,
        allowed: AllowedWindow::default(),
    };
    client
        .update_authorization(update)
        .await
        .expect("update authorization");
    let authorizations = client.authorizations().await.expect("list authorizations");
    assert_eq!(authorizations[0].name, "Gateway Lindenhof");

    let config = client.config().await.expect("config read");
    let mut writable = config.to_set_config();
    writable.set_name("Renamed Door");
    client.set_config(writable).await.expect("config write");
    assert_eq!(
        client.config().await.expect("config read").name(),
        "Renamed Door"
    );
    client
        .advanced_config()
        .await
        .expect("advanced config read");

    let new_pin = if family.pin_is_wide() {
        SecurityPin::Long(135_792)
    } else {
        SecurityPin::Short(2468)
    };
    client.set_security_pin(new_pin).await.expect("PIN change");
    client.verify_security_pin().await.expect("new PIN works");
    client.battery().await.expect("battery report");
    client.close().await;
}

#[tokio::test(start_paused = true)]
async fn box_supports_every_operation() {
    exercise_every_operation(SimKind::Box).await;
}

#[tokio::test(start_paused = true)]
async fn smart_lock_2_supports_every_operation() {
    exercise_every_operation(SimKind::SmartLock2).await;
}

#[tokio::test(start_paused = true)]
async fn smart_lock_4_supports_every_operation() {
    exercise_every_operation(SimKind::SmartLock4).await;
}

#[tokio::test(start_paused = true)]
async fn smart_lock_ultra_supports_every_operation() {
    exercise_every_operation(SimKind::SmartLockUltra).await;
}

#[tokio::test(start_paused = true)]
async fn opener_supports_every_operation() {
    exercise_every_operation(SimKind::Opener).await;
}

#[tokio::test(start_paused = true)]
async fn ultra_pairing_without_pin_is_refused_clearly() {
    let spec = spec(SimKind::SmartLockUltra);
    let address = spec.address.clone();
    let (transport, control) = building(vec![spec]);
    let error = pair(&transport, &control, &address, IdType::App, None)
        .await
        .expect_err("pairing must fail without PIN");
    assert_eq!(error, LinkError::Pairing(PairingError::PinRequired));
}

#[tokio::test(start_paused = true)]
async fn ultra_pairing_with_wrong_pin_is_refused_with_bad_pin() {
    let spec = spec(SimKind::SmartLockUltra);
    let address = spec.address.clone();
    let (transport, control) = building(vec![spec]);
    let error = pair(
        &transport,
        &control,
        &address,
        IdType::App,
        Some(SecurityPin::Long(111_111)),
    )
    .await
    .expect_err("wrong PIN must fail");
    match error {
        LinkError::Pairing(pairing) => {
            assert_eq!(pairing.device_code(), Some(ErrorCode::KErrorBadPin))
        }
        other => panic!("expected a refused pairing, got {other}"),
    }
}

#[tokio::test(start_paused = true)]
async fn pairing_outside_pairing_mode_is_refused() {
    let spec = spec(SimKind::SmartLock4);
    let address = spec.address.clone();
    let (transport, _control) = building(vec![spec]);
    let mut link = NukiLink::connect(&transport, &address, LinkTimeouts::default(), Some(1))
        .await
        .expect("connect");
    let request = PairingRequest {
        id_type: IdType::App,
        app_id: APP_ID,
        name: "late".into(),
        security_pin: None,
    };
    match link.pair(request).await {
        Err(LinkError::Pairing(error)) => {
            assert_eq!(error.device_code(), Some(ErrorCode::PErrorNotPairing))
        }
        other => panic!(
            "expected P_ERROR_NOT_PAIRING, got {:?}",
            other.map(|o| o.auth_id)
        ),
    }
}

#[tokio::test(start_paused = true)]
async fn second_pairing_with_the_same_app_id_replaces_the_first() {
    let spec = spec(SimKind::SmartLock4);
    let address = spec.address.clone();
    let (transport, control) = building(vec![spec]);
    let (link, first) = pair(&transport, &control, &address, IdType::App, None)
        .await
        .expect("first pairing");
    link.disconnect().await;
    let (link, second) = pair(&transport, &control, &address, IdType::App, None)
        .await
        .expect("second pairing");
    link.disconnect().await;
    assert_ne!(first.key, second.key);
    let snapshot = control.snapshot(&address).expect("snapshot");
    let ours: Vec<_> = snapshot
        .authorizations
        .iter()
        .filter(|a| a.app_id == Some(APP_ID))
        .collect();
    assert_eq!(
        ours.len(),
        1,
        "one authorization per app id: {:?}",
        snapshot.authorizations
    );

    // The old key no longer opens the door; the new one does.
    let link = NukiLink::connect(&transport, &address, LinkTimeouts::default(), Some(2))
        .await
        .expect("connect");
    let mut old_client = DeviceClient::new(link, first, APP_ID, None);
    let refused = old_client.states().await.expect_err("old key refused");
    assert!(
        matches!(
            refused,
            LinkError::Exchange(ExchangeError::Refused {
                code: ErrorCode::KErrorNotAuthorized,
                ..
            })
        ),
        "got {refused}"
    );
    old_client.close().await;
    let link = NukiLink::connect(&transport, &address, LinkTimeouts::default(), Some(3))
        .await
        .expect("connect");
    let mut new_client = DeviceClient::new(link, second, APP_ID, None);
    new_client.states().await.expect("new key works");
    new_client.close().await;
}

#[tokio::test(start_paused = true)]
async fn out_of_range_device_fails_within_the_deadline() {
    let spec = spec(SimKind::SmartLock4);
    let address = spec.address.clone();
    let (transport, control) = building(vec![spec]);
    control
        .set_in_range(&address, false)
        .expect("device exists");
    let timeouts = LinkTimeouts {
        connect: Duration::from_secs(3),
        command: Duration::from_secs(5),
    };
    let started = tokio::time::Instant::now();
    let error = NukiLink::connect(&transport, &address, timeouts, None)
        .await
        .expect_err("unreachable");
    assert!(error.is_link_failure(), "{error}");
    assert!(started.elapsed() <= timeouts.connect + Duration::from_millis(1));
}

#[tokio::test(start_paused = true)]
async fn link_dropped_mid_command_is_reported_not_hung() {
    let spec = spec(SimKind::SmartLock4);
    let address = spec.address.clone();
    let (transport, control) = building(vec![spec]);
    let (link, session) = pair(&transport, &control, &address, IdType::App, None)
        .await
        .expect("pairing");
    let mut client = DeviceClient::new(link, session, APP_ID, None);
    control
        .inject_fault(&address, Fault::DropLinkMidCommand)
        .expect("device exists");
    let error = client
        .act(DeviceAction::Lock(LockAction::Unlock))
        .await
        .expect_err("link drop must surface");
    assert!(error.is_link_failure(), "{error}");
    assert!(matches!(
        error,
        LinkError::Ble(BleError::Disconnected) | LinkError::Timeout { .. }
    ));
}

#[tokio::test(start_paused = true)]
async fn corrupted_answer_is_dropped_and_counted_then_times_out() {
    let spec = spec(SimKind::SmartLock4);
    let address = spec.address.clone();
    let (transport, control) = building(vec![spec]);
    let (link, session) = pair(&transport, &control, &address, IdType::App, None)
        .await
        .expect("pairing");
    let mut client = DeviceClient::new(link, session, APP_ID, None);
    control
        .inject_fault(&address, Fault::CorruptByte)
        .expect("device exists");
    let error = client.states().await.expect_err("corrupt answer");
    assert!(matches!(error, LinkError::Timeout { .. }), "{error}");
    assert_eq!(client.link().dropped_frames(), 1);
    // The next command on the same link works again.
    client.states().await.expect("state after a corrupt frame");
}

#[tokio::test(start_paused = true)]
async fn busy_and_jammed_devices_answer_with_typed_errors() {
    let spec = spec(SimKind::SmartLock4);
    let address = spec.address.clone();
    let (transport, control) = building(vec![spec]);
    let (link, session) = pair(&transport, &control, &address, IdType::App, None)
        .await
        .expect("pairing");
    let mut client = DeviceClient::new(link, session, APP_ID, None);
    control.inject_fault(&address, Fault::Busy).expect("exists");
    let busy = client.act(DeviceAction::Lock(LockAction::Unlock)).await;
    assert!(matches!(
        busy,
        Err(LinkError::Exchange(ExchangeError::Refused {
            code: ErrorCode::KErrorBusy,
            ..
        }))
    ));
    control.inject_fault(&address, Fault::Jam).expect("exists");
    let jammed = client.act(DeviceAction::Lock(LockAction::Unlock)).await;
    assert!(
        matches!(
            jammed,
            Err(LinkError::Exchange(ExchangeError::Refused {
                code: ErrorCode::KErrorMotorBlocked,
                ..
            }))
        ),
        "{jammed:?}"
    );
    let states = client.states().await.expect("state after jam");
    assert_eq!(
        states.lock_state,
        DeviceLockState::Lock(LockState::MotorBlocked)
    );
}

#[tokio::test(start_paused = true)]
async fn wrong_pin_is_refused_for_admin_commands() {
    let spec = spec(SimKind::SmartLock4);
    let address = spec.address.clone();
    let (transport, control) = building(vec![spec]);
    let (link, session) = pair(&transport, &control, &address, IdType::App, None)
        .await
        .expect("pairing");
    let mut client = DeviceClient::new(link, session, APP_ID, Some(SecurityPin::Short(1)));
    let refused = client.keypad_codes().await;
    assert!(matches!(
        refused,
        Err(LinkError::Exchange(ExchangeError::Refused {
            code: ErrorCode::KErrorBadPin,
            ..
        }))
    ));
}
