//! Provisioning over BLE with the real gateway, a real store file and simulated devices: a
//! keypad code permission written to the store reaches the lock, which then enforces its
//! window on its own (in the address's time zone); revocations made while the lock is away
//! reach it when it is back, survive a restart, and win over changes queued before them; a
//! device's refusal shows as failed with its reason. And "Manage Nuki Box": name, location
//! and security PIN changed on the device.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use jiff::tz::TimeZone;
use nuki_edge::access::{
    AccountId, Address, AddressId, Capability, DailyWindow, DenialReason, DeviceId, Limits,
    Permission, PermissionId, PermissionKind, PersonId, Principal, Rights, Scope, Weekdays,
};
use nuki_edge::ble::sim::{
    KeypadOutcome, RadioModel, SimControl, SimDeviceSpec, SimKind, SimTransport,
};
use nuki_edge::ble::DeviceAddress;
use nuki_edge::clock::ManualClock;
use nuki_edge::devices::client::DeviceClient;
use nuki_edge::devices::credentials::DeviceCredentials;
use nuki_edge::devices::fleet::{Fleet, FleetConfig};
use nuki_edge::devices::link::{LinkError, LinkTimeouts};
use nuki_edge::gateway::{
    DeviceProvisioning, DeviceSettingsChange, Gateway, GatewaySettings, LinkRefusal,
    PermissionSecret, ProvisioningState, ProvisioningTuning, Refusal,
};
use nuki_edge::nuki::enums::{ErrorCode, IdType, TimeZoneId};
use nuki_edge::nuki::exchange::ExchangeError;
use nuki_edge::nuki::messages::{Config, SecurityPin};
use nuki_edge::store::{int_key, Pairing, Store, Table};

/// Monday 2026-01-05 07:30 UTC: 08:30 in Berlin (winter, UTC+1).
const MONDAY_0830_BERLIN: i64 = 1_767_598_200;
/// Monday 2026-07-06 06:30 UTC: 08:30 in Berlin (summer, UTC+2).
const MONDAY_0830_BERLIN_SUMMER: i64 = 1_783_319_400;
const HOUR: i64 = 3_600;
const DAY: i64 = 24 * HOUR;
const ZONE: &str = "Europe/Berlin";
const CODE: u32 = 123_456;
const OTHER_CODE: u32 = 654_321;
const PIN: u32 = 1_234;
const NUKI_ID: u32 = 0x4A00_0001;
/// How long a test waits for provisioning to settle before it fails.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);
const ACTION_DEADLINE: Duration = Duration::from_secs(10);

struct Building {
    gateway: Arc<Gateway>,
    control: SimControl,
    transport: Arc<SimTransport>,
    credentials: DeviceCredentials,
    lock: DeviceAddress,
    lock_id: DeviceId,
    store: Arc<Store>,
    store_path: PathBuf,
    clock: Arc<ManualClock>,
    _directory: tempfile::TempDir,
}

fn fleet_config() -> FleetConfig {
    FleetConfig {
        timeouts: LinkTimeouts {
            connect: Duration::from_secs(1),
            command: Duration::from_secs(3),
        },
        idle_disconnect: Duration::from_millis(300),
        backoff_base: Duration::from_millis(50),
        backoff_max: Duration::from_millis(400),
        ..FleetConfig::default()
    }
}

/// Retries come quickly unless a test wants to see a device's return do the work.
fn tuning(retry_base: Duration) -> ProvisioningTuning {
    ProvisioningTuning {
        retry_base,
        retry_max: retry_base * 4,
        heard_gap: Duration::from_millis(100),
        sweep: Duration::from_secs(3_600),
        step_deadline: Duration::from_secs(10),
    }
}

fn start_gateway(
    transport: &Arc<SimTransport>,
    credentials: &DeviceCredentials,
    store: Arc<Store>,
    clock: Arc<ManualClock>,
    retry_base: Duration,
) -> Arc<Gateway> {
    let fleet = Fleet::start(transport.clone(), fleet_config(), vec![credentials.clone()]);
    let settings = GatewaySettings {
        provisioning: tuning(retry_base),
        ..GatewaySettings::with_action_deadline(ACTION_DEADLINE)
    };
    Gateway::new(fleet, store, clock, settings)
}

/// One Smart Lock with a keypad, its own clock in UTC and no zone set, paired with the
/// gateway, belonging as a "Box" to an address in Berlin.
async fn building(retry_base: Duration) -> Building {
    let mut spec = SimDeviceSpec::new("sim:lock", "Front door", NUKI_ID, SimKind::SmartLock4);
    spec.keypad = true;
    spec.pin = Some(PIN);
    spec.timezone_offset_minutes = 0;
    spec.timezone_id = TimeZoneId::NotSet.to_u16();
    spec.motor_time = Duration::from_millis(20);
    let radio = RadioModel {
        connection_interval: Duration::from_millis(5),
        connect_time: Duration::from_millis(20),
        connect_timeout: Duration::from_millis(300),
        advert_interval: Duration::from_millis(100),
        ..RadioModel::default()
    };
    let (transport, control) =
        SimTransport::with_wall_clock(vec![spec.clone()], radio, MONDAY_0830_BERLIN);
    let credentials = common::core::pair_sim_device(&transport, &control, &spec).await;
    let transport = Arc::new(transport);
    let directory = tempfile::tempdir().expect("store directory");
    let store_path = directory.path().join("gateway.redb");
    let store = Arc::new(Store::open(&store_path).expect("store"));
    store
        .save_pairing(&pairing_of(&credentials))
        .expect("pairing stored");
    let lock_id = DeviceId::from_parts(SimKind::SmartLock4.web_api_type(), NUKI_ID);
    store
        .write(|tx| {
            tx.put(
                Table::Addresses,
                &int_key(1),
                &Address {
                    id: AddressId(1),
                    name: "Lindenstrasse 1".into(),
                    time_zone: ZONE.into(),
                    boxes: vec![lock_id],
                },
            )
        })
        .expect("address stored");
    let clock = ManualClock::at(MONDAY_0830_BERLIN);
    let gateway = start_gateway(
        &transport,
        &credentials,
        store.clone(),
        clock.clone(),
        retry_base,
    );
    assert_eq!(
        gateway.device_by_id(lock_id).map(|view| view.address),
        Some(spec.address.clone()),
        "the lock's management id"
    );
    Building {
        gateway,
        control,
        transport,
        credentials,
        lock: spec.address,
        lock_id,
        store,
        store_path,
        clock,
        _directory: directory,
    }
}

fn pairing_of(credentials: &DeviceCredentials) -> Pairing {
    Pairing {
        address: credentials.address.clone(),
        nuki_id: credentials.nuki_id,
        product: credentials.product,
        device_name: credentials.name.clone(),
        auth_id: credentials.auth_id,
        app_id: credentials.app_id,
        id_type: IdType::Bridge.to_u8(),
        key: credentials.key.clone(),
        security_pin: credentials.security_pin,
        paired_at_unix: MONDAY_0830_BERLIN,
    }
}

/// Weekdays 08:00–12:00 in the address's zone.
fn office_hours() -> Limits {
    Limits {
        weekdays: Weekdays(64 | 32 | 16 | 8 | 4),
        daily: Some(DailyWindow {
            from_minute: 8 * 60,
            until_minute: 12 * 60,
        }),
        ..Limits::default()
    }
}

fn keypad_permission(id: &str, name: &str, limits: Limits) -> Permission {
    Permission {
        id: PermissionId(id.into()),
        person: PersonId(1),
        name: name.into(),
        scope: Scope::AddressBoxes {
            address: AddressId(1),
        },
        kind: PermissionKind::KeypadCode,
        limits,
    }
}

impl Building {
    fn put(&self, permission: &Permission, code: Option<u32>) {
        self.store
            .write(|tx| {
                tx.put(Table::Permissions, &permission.id.0, permission)?;
                if let Some(code) = code {
                    tx.put(
                        Table::PermissionSecrets,
                        &permission.id.0,
                        &PermissionSecret {
                            access_hash: None,
                            keypad_code: Some(code),
                        },
                    )?;
                }
                Ok(())
            })
            .expect("permission stored");
        self.gateway.provisioning_changed();
    }

    fn delete(&self, permission: &PermissionId) {
        self.store
            .write(|tx| {
                tx.remove(Table::Permissions, &permission.0)?;
                tx.remove(Table::PermissionSecrets, &permission.0)?;
                Ok(())
            })
            .expect("permission deleted");
        self.gateway.provisioning_changed();
    }

    fn status(&self, permission: &PermissionId) -> Vec<DeviceProvisioning> {
        self.gateway.provisioning_status(permission)
    }

    /// Waits until `permission` stands on the lock as `wanted` says.
    async fn settle(
        &self,
        permission: &PermissionId,
        what: &str,
        wanted: impl Fn(&[DeviceProvisioning]) -> bool,
    ) -> Vec<DeviceProvisioning> {
        let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
        loop {
            let status = self.status(permission);
            if wanted(&status) {
                return status;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "{what}: provisioning did not settle; status {status:?}"
            );
            tokio::time::sleep(POLL).await;
        }
    }

    async fn applied(&self, permission: &PermissionId) {
        let lock = self.lock_id;
        self.settle(permission, "applied", |status| {
            status
                == [DeviceProvisioning {
                    device: lock,
                    state: ProvisioningState::Applied,
                }]
        })
        .await;
    }

    /// Waits until the lock has been tried (and could not be reached) at least once.
    async fn pending_after_a_try(&self, permission: &PermissionId) {
        let lock = self.lock_id;
        self.settle(permission, "pending after a try", |status| {
            matches!(
                status,
                [DeviceProvisioning { device, state: ProvisioningState::Pending { attempts } }]
                    if *device == lock && *attempts >= 1
            )
        })
        .await;
    }

    fn type_code(&self, code: u32) -> KeypadOutcome {
        self.control
            .enter_keypad_code(&self.lock, code)
            .expect("the lock has a keypad")
    }

    fn codes_on_lock(&self) -> usize {
        self.control.keypad_codes(&self.lock).expect("lock").len()
    }

    fn config(&self) -> Config {
        self.control.config(&self.lock).expect("lock")
    }

    fn lock_offset(&self) -> i16 {
        match self.config() {
            Config::Lock(config) => config.timezone_offset,
            Config::Opener(config) => config.timezone_offset,
        }
    }
}

fn zone() -> TimeZone {
    TimeZone::get(ZONE).expect("zone")
}

fn admin() -> Principal {
    Principal::Account {
        id: AccountId(1),
        owner: true,
        rights: Rights::ADMIN,
    }
}

fn door_operator() -> Principal {
    Principal::Account {
        id: AccountId(2),
        owner: false,
        rights: Rights::of(&[Capability::OperateDoors, Capability::ManageUsers]),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_lock_accepts_a_provisioned_code_inside_its_window_only() {
    let building = building(Duration::from_millis(200)).await;
    let limits = office_hours();
    let cleaner = keypad_permission("perm-cleaner", "Cleaner", limits.clone());
    assert_eq!(
        building.type_code(CODE),
        KeypadOutcome::Refused,
        "unknown before provisioning"
    );
    building.put(&cleaner, Some(CODE));
    building.applied(&cleaner.id).await;

    // The lock was put in the address's zone before it got a code with local-time limits.
    let config = building.config();
    let Config::Lock(lock_config) = &config else {
        panic!("a Smart Lock reports a lock config");
    };
    assert_eq!(lock_config.timezone_offset, 60);
    assert_eq!(lock_config.timezone_id, Some(TimeZoneId::EuropeBerlin));

    // The lock decides on its own clock; the gateway's rules must agree at every instant.
    let instants = [
        (MONDAY_0830_BERLIN, "Monday 08:30, inside"),
        (MONDAY_0830_BERLIN - HOUR, "Monday 07:30, before the window"),
        (MONDAY_0830_BERLIN + 3 * HOUR, "Monday 11:30, inside"),
        (
            MONDAY_0830_BERLIN + 4 * HOUR,
            "Monday 12:30, after the window",
        ),
        (
            MONDAY_0830_BERLIN + 5 * DAY,
            "Saturday 08:30, wrong weekday",
        ),
        (MONDAY_0830_BERLIN + 4 * DAY, "Friday 08:30, inside"),
    ];
    for (instant, what) in instants {
        building
            .control
            .set_wall_clock(&building.lock, instant)
            .expect("lock");
        let allowed = limits.check_time(instant, &zone()).is_ok();
        let expected = if allowed {
            KeypadOutcome::Accepted
        } else {
            KeypadOutcome::Refused
        };
        assert_eq!(building.type_code(CODE), expected, "{what}");
        // Let the bolt finish before the next code.
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert_eq!(building.type_code(OTHER_CODE), KeypadOutcome::Refused);

    // Summer time: the gateway keeps the lock's offset current, so 08:30 stays 08:30.
    building.clock.set(MONDAY_0830_BERLIN_SUMMER);
    building
        .control
        .set_wall_clock(&building.lock, MONDAY_0830_BERLIN_SUMMER)
        .expect("lock");
    building.gateway.provisioning_changed();
    let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
    while building.lock_offset() != 120 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the lock's offset did not follow daylight saving"
        );
        tokio::time::sleep(POLL).await;
    }
    building.applied(&cleaner.id).await;
    assert_eq!(building.type_code(CODE), KeypadOutcome::Accepted);
    tokio::time::sleep(Duration::from_millis(60)).await;
    building
        .control
        .set_wall_clock(&building.lock, MONDAY_0830_BERLIN_SUMMER - HOUR)
        .expect("lock");
    assert_eq!(
        building.type_code(CODE),
        KeypadOutcome::Refused,
        "07:30 summer time"
    );

    // A gateway-mediated permission lives on the gateway only.
    let holder = Permission {
        id: PermissionId("perm-holder".into()),
        kind: PermissionKind::GatewayAccess,
        ..keypad_permission("perm-holder", "Holder", Limits::default())
    };
    building.put(&holder, None);
    assert!(building.status(&holder.id).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_made_while_the_lock_is_away_reach_it_when_it_is_back() {
    // Retries are slow here: only hearing the lock again can bring the revocation promptly.
    let building = building(Duration::from_secs(120)).await;
    common::core::follow_advertisements(&building.transport, building.gateway.clone()).await;
    let cleaner = keypad_permission("perm-cleaner", "Cleaner", Limits::default());
    building.put(&cleaner, Some(CODE));
    building.applied(&cleaner.id).await;
    assert_eq!(building.type_code(CODE), KeypadOutcome::Accepted);

    // Disabled while away: the lock keeps accepting it until it hears of it.
    building
        .control
        .set_in_range(&building.lock, false)
        .expect("lock");
    let disabled = Permission {
        limits: Limits {
            enabled: false,
            ..Limits::default()
        },
        ..cleaner.clone()
    };
    building.put(&disabled, None);
    building.pending_after_a_try(&cleaner.id).await;
    assert_eq!(
        building.type_code(CODE),
        KeypadOutcome::Accepted,
        "the lock has not heard of it yet"
    );
    building
        .control
        .set_in_range(&building.lock, true)
        .expect("lock");
    building.applied(&cleaner.id).await;
    assert_eq!(building.type_code(CODE), KeypadOutcome::Refused);
    let codes = building.control.keypad_codes(&building.lock).expect("lock");
    assert_eq!(codes.len(), 1);
    assert!(
        !codes[0].enabled,
        "a disabled permission is a disabled code"
    );

    // Deleted while away: removed from the lock when it is back.
    building
        .control
        .set_in_range(&building.lock, false)
        .expect("lock");
    building.delete(&cleaner.id);
    building.pending_after_a_try(&cleaner.id).await;
    assert_eq!(building.codes_on_lock(), 1, "still on the lock while away");
    building
        .control
        .set_in_range(&building.lock, true)
        .expect("lock");
    building
        .settle(&cleaner.id, "removed", <[DeviceProvisioning]>::is_empty)
        .await;
    assert_eq!(building.codes_on_lock(), 0);
    assert_eq!(building.type_code(CODE), KeypadOutcome::Refused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_work_survives_a_restart() {
    let building = building(Duration::from_millis(200)).await;
    building
        .control
        .set_in_range(&building.lock, false)
        .expect("lock");
    let cleaner = keypad_permission("perm-cleaner", "Cleaner", Limits::default());
    building.put(&cleaner, Some(CODE));
    building.pending_after_a_try(&cleaner.id).await;
    assert!(building.gateway.shutdown(Duration::from_secs(5)).await);
    let Building {
        gateway,
        control,
        transport,
        credentials,
        lock,
        lock_id,
        store,
        store_path,
        clock,
        _directory,
    } = building;
    drop(gateway);
    drop(store);

    // A new gateway over the same store file, the lock back in range.
    control.set_in_range(&lock, true).expect("lock");
    let store = Arc::new(reopen(&store_path).await);
    let gateway = start_gateway(
        &transport,
        &credentials,
        store.clone(),
        clock.clone(),
        Duration::from_millis(200),
    );
    let building = Building {
        gateway,
        control,
        transport,
        credentials,
        lock,
        lock_id,
        store,
        store_path,
        clock,
        _directory,
    };
    building.applied(&cleaner.id).await;
    assert_eq!(building.type_code(CODE), KeypadOutcome::Accepted);
}

/// The old gateway's last store calls may still be letting go of the file.
async fn reopen(path: &Path) -> Store {
    let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
    loop {
        match Store::open(path) {
            Ok(store) => return store,
            Err(error) => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "store not released: {error}"
                );
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_wins_over_a_change_queued_before_it() {
    let building = building(Duration::from_millis(200)).await;
    let cleaner = keypad_permission("perm-cleaner", "Cleaner", Limits::default());
    building.put(&cleaner, Some(CODE));
    building.applied(&cleaner.id).await;

    let changed = Permission {
        name: "Cleaner (mornings)".into(),
        limits: office_hours(),
        ..cleaner.clone()
    };
    building.put(&changed, Some(OTHER_CODE));
    building.delete(&cleaner.id);
    building
        .settle(&cleaner.id, "removed", <[DeviceProvisioning]>::is_empty)
        .await;
    assert_eq!(building.codes_on_lock(), 0);
    assert_eq!(building.type_code(CODE), KeypadOutcome::Refused);
    assert_eq!(building.type_code(OTHER_CODE), KeypadOutcome::Refused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_by_the_device_shows_as_failed_until_the_permission_changes() {
    let building = building(Duration::from_millis(200)).await;
    let cleaner = keypad_permission("perm-cleaner", "Cleaner", Limits::default());
    building.put(&cleaner, Some(CODE));
    building.applied(&cleaner.id).await;

    let gardener = keypad_permission("perm-gardener", "Gardener", Limits::default());
    building.put(&gardener, Some(CODE));
    let lock = building.lock_id;
    let status = building
        .settle(&gardener.id, "failed", |status| {
            matches!(
                status,
                [DeviceProvisioning {
                    state: ProvisioningState::Failed { .. },
                    ..
                }]
            )
        })
        .await;
    let [DeviceProvisioning {
        device,
        state: ProvisioningState::Failed { reason, attempts },
    }] = status.as_slice()
    else {
        unreachable!("settled on failed");
    };
    assert_eq!(*device, lock);
    assert!(reason.contains("already"), "{reason}");
    assert!(!reason.contains(&CODE.to_string()), "no code in reasons");
    assert_eq!(*attempts, 1);

    // Another change provisions; the refused one is not tried again meanwhile.
    let painter = keypad_permission("perm-painter", "Painter", Limits::default());
    building.put(&painter, Some(777_777));
    building.applied(&painter.id).await;
    assert!(matches!(
        building.status(&gardener.id).as_slice(),
        [DeviceProvisioning {
            state: ProvisioningState::Failed { attempts: 1, .. },
            ..
        }]
    ));

    // A new code is a change: it is tried, and fits.
    building.put(&gardener, Some(OTHER_CODE));
    building.applied(&gardener.id).await;
    assert_eq!(building.type_code(OTHER_CODE), KeypadOutcome::Accepted);
    assert_eq!(building.codes_on_lock(), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_authorization_on_the_lock_is_linked_and_carries_the_limits() {
    let building = building(Duration::from_millis(200)).await;
    let phone = building
        .control
        .add_authorization(&building.lock, "Anna's phone", IdType::App)
        .expect("lock");
    let anna = Permission {
        id: PermissionId("perm-anna".into()),
        person: PersonId(2),
        name: "Anna".into(),
        scope: Scope::Device {
            device: building.lock_id,
        },
        kind: PermissionKind::DeviceAuthorization,
        limits: Limits {
            remote_allowed: false,
            ..office_hours()
        },
    };
    building.put(&anna, None);
    let status = building
        .settle(&anna.id, "failed while unlinked", |status| {
            matches!(
                status,
                [DeviceProvisioning {
                    state: ProvisioningState::Failed { .. },
                    ..
                }]
            )
        })
        .await;
    assert!(format!("{status:?}").contains("linked"), "{status:?}");

    let listed = building
        .gateway
        .device_authorizations(&admin(), building.lock_id)
        .await
        .expect("listed");
    assert!(listed
        .iter()
        .any(|entry| entry.auth_id == phone && !entry.gateway));
    let own = listed
        .iter()
        .find(|entry| entry.gateway)
        .expect("the gateway's own entry is listed");
    assert_eq!(
        building
            .gateway
            .link_device_authorization(&admin(), &anna.id, building.lock_id, own.auth_id)
            .await,
        Err(LinkRefusal::GatewayAuthorization)
    );
    let no_rights = Principal::Account {
        id: AccountId(3),
        owner: false,
        rights: Rights::of(&[Capability::OperateDoors]),
    };
    assert!(matches!(
        building
            .gateway
            .link_device_authorization(&no_rights, &anna.id, building.lock_id, phone)
            .await,
        Err(LinkRefusal::Denied { .. })
    ));
    building
        .gateway
        .link_device_authorization(&admin(), &anna.id, building.lock_id, phone)
        .await
        .expect("linked");
    building.applied(&anna.id).await;
    let entries = building
        .control
        .authorization_entries(&building.lock)
        .expect("lock");
    let entry = entries
        .iter()
        .find(|entry| entry.auth_id == phone)
        .expect("still there");
    assert_eq!(entry.name, "Anna");
    assert!(!entry.remote_allowed);
    assert!(entry.time_limited);
    let window = entry.allowed.expect("a window");
    assert_eq!(window.weekdays.0, 124);
    assert_eq!((window.from_time.hour, window.until_time.hour), (8, 12));

    building.delete(&anna.id);
    building
        .settle(&anna.id, "removed", <[DeviceProvisioning]>::is_empty)
        .await;
    let entries = building
        .control
        .authorization_entries(&building.lock)
        .expect("lock");
    assert!(entries.iter().all(|entry| entry.auth_id != phone));
    assert!(
        entries.iter().any(|entry| entry.auth_id == own.auth_id),
        "the gateway keeps its own"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn name_and_location_are_changed_on_the_device() {
    let building = building(Duration::from_millis(200)).await;
    let change = DeviceSettingsChange {
        name: Some("Hof Eingang".into()),
        location: Some((47.37, 8.54)),
        security_pin: None,
    };
    assert_eq!(
        building
            .gateway
            .manage_device(&door_operator(), building.lock_id, change.clone())
            .await,
        Err(Refusal::Denied {
            reason: DenialReason::MissingRight {
                capability: Capability::ManageDevices
            }
        })
    );
    assert_eq!(
        building
            .gateway
            .manage_device(&admin(), DeviceId(7), change.clone())
            .await,
        Err(Refusal::UnknownDevice)
    );
    building
        .gateway
        .manage_device(&admin(), building.lock_id, change)
        .await
        .expect("changed");
    let Config::Lock(config) = building.config() else {
        panic!("a lock config");
    };
    assert_eq!(config.name, "Hof Eingang");
    assert_eq!((config.latitude, config.longitude), (47.37, 8.54));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_security_pin_is_changed_and_used_from_then_on() {
    let building = building(Duration::from_millis(200)).await;
    let new_pin = DeviceSettingsChange {
        security_pin: Some(4_321),
        ..DeviceSettingsChange::default()
    };
    assert!(matches!(
        building
            .gateway
            .manage_device(&door_operator(), building.lock_id, new_pin.clone())
            .await,
        Err(Refusal::Denied { .. })
    ));
    let too_long = DeviceSettingsChange {
        security_pin: Some(12_345),
        ..DeviceSettingsChange::default()
    };
    assert_eq!(
        building
            .gateway
            .manage_device(&admin(), building.lock_id, too_long)
            .await,
        Err(Refusal::RefusedByDevice {
            code: ErrorCode::KErrorBadParameter
        })
    );
    building
        .gateway
        .manage_device(&admin(), building.lock_id, new_pin)
        .await
        .expect("PIN changed");
    let memory = building.control.memories();
    assert_eq!(memory[&building.lock].security_pin, 4_321);
    let stored = building
        .store
        .pairing(&building.lock)
        .expect("store")
        .expect("pairing");
    assert_eq!(stored.security_pin, Some(SecurityPin::Short(4_321)));

    // Later commands that need the PIN go through with the new one.
    building
        .gateway
        .manage_device(
            &admin(),
            building.lock_id,
            DeviceSettingsChange {
                name: Some("Renamed after the PIN".into()),
                ..DeviceSettingsChange::default()
            },
        )
        .await
        .expect("a command after the change");
    assert_eq!(building.config_name(), "Renamed after the PIN");
    let cleaner = keypad_permission("perm-cleaner", "Cleaner", Limits::default());
    building.put(&cleaner, Some(CODE));
    building.applied(&cleaner.id).await;

    // The old PIN is refused by the lock.
    assert!(building.gateway.shutdown(Duration::from_secs(5)).await);
    let old = building.credentials.clone();
    let mut client = connect(&building, &old).await;
    let refused = client.verify_security_pin().await;
    client.close().await;
    assert!(
        matches!(
            refused,
            Err(LinkError::Exchange(ExchangeError::Refused {
                code: ErrorCode::KErrorBadPin,
                ..
            }))
        ),
        "{refused:?}"
    );
    let current = DeviceCredentials {
        security_pin: Some(SecurityPin::Short(4_321)),
        ..old
    };
    let mut client = connect(&building, &current).await;
    client.verify_security_pin().await.expect("the new PIN");
    client.close().await;
}

impl Building {
    fn config_name(&self) -> String {
        self.config().name().to_owned()
    }
}

/// A client of our own, once the gateway has let go of the lock.
async fn connect(building: &Building, credentials: &DeviceCredentials) -> DeviceClient {
    let deadline = tokio::time::Instant::now() + SETTLE_LIMIT;
    loop {
        match DeviceClient::connect(
            building.transport.as_ref(),
            credentials,
            LinkTimeouts::default(),
        )
        .await
        {
            Ok(client) => return client,
            Err(error) => {
                assert!(tokio::time::Instant::now() < deadline, "no link: {error}");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}
