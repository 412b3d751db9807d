//! A gateway restarted with its system clock years back (a Pi without a clock battery after
//! a power cut): time-limited permissions fail closed, unlimited ones and the owner's access
//! still work, the API says the clock is untrusted; the first time a device reports its
//! clock, the gateway goes by it and the time-limited permission works again.

mod common;

use std::sync::Arc;
use std::time::Duration;

use nuki_edge::access::{
    ClockTrust, DenialReason, DeviceId, Limits, PermissionKind, Principal, Scope, UntrustedReason,
};
use nuki_edge::ble::sim::{RadioModel, SimDeviceSpec, SimKind, SimTransport};
use nuki_edge::clock::{Clock, ManualClock, SystemClock};
use nuki_edge::devices::fleet::{Fleet, FleetConfig};
use nuki_edge::gateway::{
    AddressDraft, Credential, Gateway, GatewaySettings, PermissionDraft, PersonDraft, Refusal,
    UnitDraft,
};
use nuki_edge::nuki::enums::{DeviceAction, LockAction};
use nuki_edge::store::Store;

const DEADLINE: Duration = Duration::from_secs(10);
const YEAR: i64 = 365 * 86_400;

fn unlock() -> DeviceAction {
    DeviceAction::Lock(LockAction::Unlock)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_set_years_back_fails_closed_for_time_limited_permissions_only() {
    let mut spec = SimDeviceSpec::new("sim:flat", "Flat", 0x7300_0001, SimKind::SmartLock4);
    spec.motor_time = Duration::from_millis(20);
    let radio = RadioModel {
        connection_interval: Duration::from_millis(5),
        connect_time: Duration::from_millis(10),
        ..RadioModel::default()
    };
    // The lock's own clock is right: it reads the machine's time.
    let (transport, control) = SimTransport::new(vec![spec.clone()], radio);
    let credentials = common::core::pair_sim_device(&transport, &control, &spec).await;
    let transport = Arc::new(transport);
    let lock = spec.address.clone();
    let lock_id = DeviceId::from_parts(spec.kind.web_api_type(), spec.nuki_id);
    let directory = tempfile::tempdir().expect("store directory");
    let store = Arc::new(Store::open(&directory.path().join("gateway.redb")).expect("store"));
    let now = SystemClock.now_unix();

    // First run, clock right: a resident with a time-limited and an unlimited permission.
    let clock = ManualClock::at(now);
    let fleet = Fleet::start(
        transport.clone(),
        FleetConfig::default(),
        vec![credentials.clone()],
    );
    let gateway = Gateway::new(
        fleet,
        store.clone(),
        clock.clone(),
        GatewaySettings::with_action_deadline(DEADLINE),
    );
    let address = gateway
        .create_address(
            &Principal::Local,
            AddressDraft {
                name: "Rosenweg 4".into(),
                time_zone: Some("Europe/Zurich".into()),
                boxes: Vec::new(),
            },
        )
        .expect("address")
        .address;
    let unit = gateway
        .create_unit(
            &Principal::Local,
            address.id,
            UnitDraft {
                name: "Flat".into(),
                locks: vec![lock_id],
            },
        )
        .expect("unit");
    let resident = gateway
        .create_person(
            &Principal::Local,
            PersonDraft {
                name: "Resident".into(),
                unit: Some(unit.id.clone()),
            },
        )
        .expect("resident");
    let permission = |name: &str, limits: Limits| PermissionDraft {
        person: resident.id,
        name: name.into(),
        scope: Scope::Unit {
            unit: unit.id.clone(),
        },
        kind: PermissionKind::GatewayAccess,
        limits,
        code: None,
    };
    let secret_of = |draft| {
        gateway
            .create_permission(&Principal::Local, draft)
            .expect("permission")
            .secret
            .expect("a secret")
    };
    let limited = secret_of(permission(
        "This month",
        Limits {
            allowed_until: Some(now + 30 * 86_400),
            ..Limits::default()
        },
    ));
    let unlimited = secret_of(permission("Always", Limits::default()));
    assert_eq!(gateway.clock_trust(), ClockTrust::Trusted);
    let holder = |secret: &str| {
        gateway
            .authenticate(&Credential::Bearer(secret.to_owned()))
            .expect("a valid secret")
    };
    gateway
        .act(&holder(&limited), &lock, unlock())
        .await
        .expect("inside its limits");
    assert!(gateway.shutdown(DEADLINE).await);
    drop(gateway);

    // Restart three years back, the lock out of range: nothing tells the time.
    control.set_in_range(&lock, false).expect("lock");
    let clock = ManualClock::at(now - 3 * YEAR);
    let fleet = Fleet::start(transport.clone(), FleetConfig::default(), vec![credentials]);
    let gateway = Gateway::new(
        fleet,
        store.clone(),
        clock.clone(),
        GatewaySettings::with_action_deadline(DEADLINE),
    );
    // Three years back is before this build was made, too: that is the first reason.
    assert_eq!(
        gateway.clock_trust(),
        ClockTrust::Untrusted {
            reason: UntrustedReason::BeforeBuildDate
        }
    );
    let (time, _) = gateway.time();
    assert!(
        time >= now,
        "the gateway's time never goes back: {time} < {now}"
    );
    let limited_holder = gateway
        .authenticate(&Credential::Bearer(limited.clone()))
        .expect("the secret still authenticates");
    let unlimited_holder = gateway
        .authenticate(&Credential::Bearer(unlimited.clone()))
        .expect("the secret still authenticates");
    assert_eq!(
        gateway.act(&limited_holder, &lock, unlock()).await,
        Err(Refusal::Denied {
            reason: DenialReason::ClockUntrusted
        }),
        "a time-limited permission fails closed"
    );
    // The others pass the rules and reach the radio, where the lock is out of range.
    for principal in [&unlimited_holder, &Principal::Local] {
        match gateway.act(principal, &lock, unlock()).await {
            Err(Refusal::Unreachable { .. }) => {}
            other => panic!("{principal} should pass the rules and find the lock away: {other:?}"),
        }
    }
    let api =
        common::core::serve_like_the_daemon(nuki_edge::http::api::router(gateway.clone())).await;
    let status: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{api}/api/v1/status"))
        .bearer_auth(&unlimited)
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("JSON");
    assert_eq!(status["clock"]["trusted"], false, "{status}");
    assert_eq!(status["clock"]["reason"], "before_build_date");

    // The lock comes back and reports its state, with its clock: trusted again.
    control.set_in_range(&lock, true).expect("lock");
    gateway
        .act(&unlimited_holder, &lock, unlock())
        .await
        .expect("an unlimited permission works");
    assert_eq!(gateway.clock_trust(), ClockTrust::Trusted);
    gateway
        .act(&limited_holder, &lock, unlock())
        .await
        .expect("the time-limited permission works again");
    let status: serde_json::Value = reqwest::Client::new()
        .get(format!("http://{api}/api/v1/status"))
        .bearer_auth(&unlimited)
        .send()
        .await
        .expect("status")
        .json()
        .await
        .expect("JSON");
    assert_eq!(status["clock"]["trusted"], true, "{status}");
    assert!(gateway.shutdown(DEADLINE).await);
}
