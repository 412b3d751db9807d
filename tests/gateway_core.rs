//! The gateway core over simulated devices: an orderly shutdown that closes every link,
//! pairing beside other work, fair link slots, fleet jobs of any kind, the injected clock.

mod common;

use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use nuki_edge::ble::sim::{RadioModel, SimControl, SimDeviceSpec, SimKind, SimTransport};
use nuki_edge::ble::{BleTransport, DeviceAddress};
use nuki_edge::clock::{SharedClock, SystemClock};
use nuki_edge::devices::fleet::{Fleet, FleetConfig};
use nuki_edge::devices::outcome::Failure;
use nuki_edge::devices::slots::Priority;
use nuki_edge::gateway::{
    Gateway, GatewayEvent, GatewaySettings, PairingOrder, PairingProgress, PairingSettings,
    Principal, Refusal,
};
use nuki_edge::nuki::enums::{DeviceAction, DeviceLockState, LockAction, LockState};
use nuki_edge::store::Store;
use tokio::sync::broadcast;

const DEADLINE: Duration = Duration::from_secs(15);
/// Sim devices' wall clocks start here.
const SIM_WALL_CLOCK: i64 = 1_764_417_600;

fn lock_spec(index: usize) -> SimDeviceSpec {
    let address = format!("sim:core-{index:02}");
    let mut spec = SimDeviceSpec::new(
        &address,
        &address,
        0x3000_0000 + index as u32,
        SimKind::SmartLock4,
    );
    spec.pin = Some(1234);
    spec
}

struct Building {
    gateway: Arc<Gateway>,
    fleet: Arc<Fleet>,
    control: SimControl,
    transport: Arc<SimTransport>,
    addresses: Vec<DeviceAddress>,
    _store_dir: tempfile::TempDir,
}

/// `paired` of `total` simulated locks are paired and in the fleet; the rest are factory new.
async fn building(
    total: usize,
    paired: usize,
    config: FleetConfig,
    clock: SharedClock,
) -> Building {
    let specs: Vec<SimDeviceSpec> = (0..total).map(lock_spec).collect();
    let (transport, control) =
        SimTransport::with_wall_clock(specs.clone(), RadioModel::default(), SIM_WALL_CLOCK);
    let mut credentials = Vec::new();
    for spec in specs.iter().take(paired) {
        credentials.push(common::core::pair_sim_device(&transport, &control, spec).await);
    }
    let transport = Arc::new(transport);
    let fleet = Fleet::start(transport.clone(), config, credentials);
    let store_dir = tempfile::tempdir().expect("store directory");
    let store = Arc::new(Store::open(&store_dir.path().join("core.redb")).expect("store"));
    let settings = GatewaySettings {
        action_deadline: DEADLINE,
        pairing: PairingSettings {
            wait_for_button: Duration::from_secs(60),
            app_id: Some(78),
            ..PairingSettings::default()
        },
        ..GatewaySettings::with_action_deadline(DEADLINE)
    };
    let gateway = Gateway::new(fleet.clone(), store, clock, settings);
    Building {
        gateway,
        fleet,
        control,
        transport,
        addresses: specs.into_iter().map(|s| s.address).collect(),
        _store_dir: store_dir,
    }
}

/// Hands the radio's advertisements to the gateway, as the daemon's watcher does.
async fn feed_advertisements(
    transport: Arc<SimTransport>,
    gateway: Arc<Gateway>,
) -> tokio::task::JoinHandle<()> {
    let mut adverts = transport
        .advertisements()
        .await
        .expect("advertisement feed");
    tokio::spawn(async move {
        while let Some(advert) = adverts.recv().await {
            gateway.on_advertisement(&advert);
        }
    })
}

fn unlock() -> DeviceAction {
    DeviceAction::Lock(LockAction::Unlock)
}

fn lock() -> DeviceAction {
    DeviceAction::Lock(LockAction::Lock)
}

#[tokio::test(start_paused = true)]
async fn shutdown_during_an_action_reports_it_and_closes_every_link() {
    let building = building(3, 3, FleetConfig::default(), SystemClock::shared()).await;
    let gateway = building.gateway.clone();
    // Device 1's link is open (idle) and device 0 is in the middle of an unlock.
    gateway
        .read_state(&Principal::Local, &building.addresses[1])
        .await
        .expect("state read");
    let running = {
        let (gateway, device) = (gateway.clone(), building.addresses[0].clone());
        tokio::spawn(async move { gateway.act(&Principal::Local, &device, unlock()).await })
    };
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(
        building
            .control
            .snapshot(&building.addresses[0])
            .expect("snapshot")
            .connected,
        "the unlock is running on its link"
    );
    let queued = {
        let (gateway, device) = (gateway.clone(), building.addresses[0].clone());
        tokio::spawn(async move { gateway.act(&Principal::Local, &device, lock()).await })
    };
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(
        gateway.shutdown(Duration::from_secs(10)).await,
        "everything ended in time"
    );
    let queued = queued
        .now_or_never()
        .expect("the queued action was answered")
        .expect("joined");
    assert_eq!(
        queued,
        Err(Refusal::ShuttingDown),
        "work still queued is not started"
    );
    let outcome = running
        .now_or_never()
        .expect("the action was answered")
        .expect("joined");
    match outcome {
        Ok(report) => assert_eq!(
            report.state.map(|s| s.lock_state),
            Some(DeviceLockState::Lock(LockState::Unlocked))
        ),
        Err(refusal) => assert_eq!(refusal, Refusal::ShuttingDown),
    }
    for address in &building.addresses {
        let snapshot = building.control.snapshot(address).expect("snapshot");
        assert!(
            !snapshot.connected,
            "{address} still connected after shutdown"
        );
    }
    assert_eq!(
        gateway
            .act(&Principal::Local, &building.addresses[2], lock())
            .await,
        Err(Refusal::ShuttingDown)
    );
}

#[tokio::test(start_paused = true)]
async fn pairing_and_operating_other_devices_do_not_wait_for_each_other() {
    let building = building(2, 1, FleetConfig::default(), SystemClock::shared()).await;
    let gateway = building.gateway.clone();
    let _feed = feed_advertisements(building.transport.clone(), gateway.clone()).await;
    let mut events = gateway.subscribe();
    let (paired, new) = (building.addresses[0].clone(), building.addresses[1].clone());
    gateway
        .start_pairing(
            &Principal::Local,
            PairingOrder {
                address: new.clone(),
                name: "new lock".into(),
                security_pin: None,
                as_bridge: Some(true),
            },
        )
        .expect("pairing started");
    wait_for(&mut events, |event| {
        matches!(event, GatewayEvent::Pairing { device, progress: PairingProgress::WaitingForButton { .. } } if *device == new)
    })
    .await;
    // The pairing waits for a button nobody pressed yet; the other door still works.
    let report = gateway
        .act(&Principal::Local, &paired, unlock())
        .await
        .expect("the paired device acts while another waits for its button");
    assert_eq!(
        report.state.map(|s| s.lock_state),
        Some(DeviceLockState::Lock(LockState::Unlocked))
    );
    assert!(!gateway.is_paired(&new), "the new device is still waiting");
    building.control.press_button(&new).expect("button");
    let mut added = false;
    let done = wait_for(&mut events, |event| {
        added |= matches!(event, GatewayEvent::DeviceAdded { device } if *device == new);
        matches!(event, GatewayEvent::Pairing { device, progress: PairingProgress::Done { .. } | PairingProgress::Failed { .. } } if *device == new)
    })
    .await;
    assert!(
        matches!(
            done,
            GatewayEvent::Pairing {
                progress: PairingProgress::Done {
                    nuki_id: 0x3000_0001,
                    ..
                },
                ..
            }
        ),
        "{done:?}"
    );
    if !added {
        // The fleet's event travels through the gateway's forwarder; it may come second.
        wait_for(
            &mut events,
            |event| matches!(event, GatewayEvent::DeviceAdded { device } if *device == new),
        )
        .await;
    }
    gateway
        .act(&Principal::Local, &new, unlock())
        .await
        .expect("the new device is operated right after pairing");
}

#[tokio::test(start_paused = true)]
async fn a_device_waiting_for_a_slot_is_served_while_others_have_queued_work() {
    // Three devices with back-to-back work hold the adapter's three slots; a user action on a
    // fourth must get a slot when the current commands end, not when their queues run dry.
    let building = building(4, 4, FleetConfig::default(), SystemClock::shared()).await;
    let fleet = building.fleet.clone();
    let mut busy = Vec::new();
    for address in &building.addresses[..3] {
        for index in 0..8u32 {
            let (fleet, address) = (fleet.clone(), address.clone());
            let action = if index.is_multiple_of(2) {
                unlock()
            } else {
                lock()
            };
            busy.push(tokio::spawn(async move {
                fleet.act(&address, action, Duration::from_secs(120)).await
            }));
        }
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let fourth = fleet.act(&building.addresses[3], unlock(), DEADLINE).await;
    assert!(fourth.is_ok(), "the fourth device was starved: {fourth:?}");
    for task in busy {
        let _ = task.await;
    }
}

#[tokio::test(start_paused = true)]
async fn any_operation_runs_on_the_fleet_with_its_rules() {
    let building = building(1, 1, FleetConfig::default(), SystemClock::shared()).await;
    let device = &building.addresses[0];
    let config = building
        .fleet
        .run(
            device,
            Priority::Background,
            DEADLINE,
            "read config",
            true,
            |client| async move { client.config().await }.boxed(),
        )
        .await
        .expect("config read as a fleet job");
    let nuki_id = match config {
        nuki_edge::nuki::messages::Config::Lock(config) => config.nuki_id,
        nuki_edge::nuki::messages::Config::Opener(config) => config.nuki_id,
    };
    assert_eq!(nuki_id, 0x3000_0000);
    let unknown = building
        .fleet
        .run(
            &DeviceAddress("sim:nobody".into()),
            Priority::User,
            DEADLINE,
            "read config",
            true,
            |client| async move { client.config().await }.boxed(),
        )
        .await;
    assert_eq!(unknown.err(), Some(Failure::UnknownDevice));
}

#[tokio::test(start_paused = true)]
async fn removing_a_device_is_announced_and_closes_its_link() {
    let building = building(1, 1, FleetConfig::default(), SystemClock::shared()).await;
    let gateway = building.gateway.clone();
    let mut events = gateway.subscribe();
    let device = building.addresses[0].clone();
    gateway
        .read_state(&Principal::Local, &device)
        .await
        .expect("read");
    assert!(building.fleet.remove(&device));
    wait_for(
        &mut events,
        |event| matches!(event, GatewayEvent::DeviceRemoved { device: d } if *d == device),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(
        !building
            .control
            .snapshot(&device)
            .expect("snapshot")
            .connected
    );
    assert_eq!(
        gateway.read_state(&Principal::Local, &device).await,
        Err(Refusal::UnknownDevice)
    );
    assert!(gateway.devices(&Principal::Local).is_empty());
}

async fn wait_for(
    events: &mut broadcast::Receiver<GatewayEvent>,
    mut wanted: impl FnMut(&GatewayEvent) -> bool,
) -> GatewayEvent {
    tokio::time::timeout(Duration::from_secs(120), async {
        loop {
            match events.recv().await {
                Ok(event) if wanted(&event) => return event,
                Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Err(broadcast::error::RecvError::Closed) => panic!("bus closed"),
            }
        }
    })
    .await
    .expect("event arrived")
}
