//! The fleet over simulated devices: typed outcomes within deadlines, link slots never
//! exceeded under a burst, idle links closed, state-changed flags followed.

use std::sync::Arc;
use std::time::Duration;

use nuki_edge::ble::sim::{Fault, RadioModel, SimControl, SimDeviceSpec, SimKind, SimTransport};
use nuki_edge::ble::{BleTransport, DeviceAddress};
use nuki_edge::devices::credentials::DeviceCredentials;
use nuki_edge::devices::fleet::{Fleet, FleetConfig, FleetEvent};
use nuki_edge::devices::link::{LinkTimeouts, NukiLink};
use nuki_edge::devices::outcome::Failure;
use nuki_edge::nuki::enums::{DeviceAction, DeviceLockState, IdType, LockAction, LockState};
use nuki_edge::nuki::messages::SecurityPin;
use nuki_edge::nuki::pairing::PairingRequest;

const DEADLINE: Duration = Duration::from_secs(20);

fn lock_spec(index: usize) -> SimDeviceSpec {
    let address = format!("sim:lock-{index:02}");
    let mut spec = SimDeviceSpec::new(
        &address,
        &address,
        0x2000_0000 + index as u32,
        SimKind::SmartLock4,
    );
    spec.pin = Some(1234);
    spec
}

async fn pair_all(
    transport: &SimTransport,
    control: &SimControl,
    specs: &[SimDeviceSpec],
) -> Vec<DeviceCredentials> {
    let mut credentials = Vec::new();
    for (index, spec) in specs.iter().enumerate() {
        control.press_button(&spec.address).expect("device exists");
        let mut link = NukiLink::connect(
            transport,
            &spec.address,
            LinkTimeouts::default(),
            Some(index as u64),
        )
        .await
        .expect("connect");
        let outcome = link
            .pair(PairingRequest {
                id_type: IdType::Bridge,
                app_id: 99,
                name: "fleet test".into(),
                security_pin: None,
            })
            .await
            .expect("pairing");
        link.disconnect().await;
        credentials.push(DeviceCredentials {
            address: spec.address.clone(),
            name: spec.name.clone(),
            nuki_id: spec.nuki_id,
            product: spec.kind,
            auth_id: outcome.auth_id,
            app_id: 99,
            key: outcome.key,
            security_pin: Some(SecurityPin::Short(1234)),
        });
    }
    credentials
}

async fn fleet_of(
    count: usize,
    config: FleetConfig,
) -> (
    Arc<Fleet>,
    SimControl,
    Arc<SimTransport>,
    Vec<DeviceAddress>,
) {
    let specs: Vec<SimDeviceSpec> = (0..count).map(lock_spec).collect();
    let (transport, control) =
        SimTransport::with_wall_clock(specs.clone(), RadioModel::default(), 1_764_417_600);
    let credentials = pair_all(&transport, &control, &specs).await;
    let transport = Arc::new(transport);
    let fleet = Fleet::start(transport.clone(), config, credentials);
    let addresses = specs.into_iter().map(|s| s.address).collect();
    (fleet, control, transport, addresses)
}

fn final_lock_state(outcome: &nuki_edge::devices::outcome::Outcome) -> Option<DeviceLockState> {
    outcome.as_ref().ok()?.state.as_ref().map(|s| s.lock_state)
}

#[tokio::test(start_paused = true)]
async fn actions_complete_with_the_final_state() {
    let (fleet, _control, _transport, addresses) = fleet_of(1, FleetConfig::default()).await;
    let unlock = fleet
        .act(
            &addresses[0],
            DeviceAction::Lock(LockAction::Unlock),
            DEADLINE,
        )
        .await;
    assert_eq!(
        final_lock_state(&unlock),
        Some(DeviceLockState::Lock(LockState::Unlocked))
    );
    assert_eq!(
        fleet.cached_state(&addresses[0]).map(|s| s.lock_state),
        Some(DeviceLockState::Lock(LockState::Unlocked))
    );
    // Already unlocked: the device completes at once and the fleet still reports the state.
    let again = fleet
        .act(
            &addresses[0],
            DeviceAction::Lock(LockAction::Unlock),
            DEADLINE,
        )
        .await;
    assert_eq!(
        final_lock_state(&again),
        Some(DeviceLockState::Lock(LockState::Unlocked))
    );
    let state = fleet.read_state(&addresses[0], DEADLINE).await;
    assert_eq!(
        final_lock_state(&state),
        Some(DeviceLockState::Lock(LockState::Unlocked))
    );
}

#[tokio::test(start_paused = true)]
async fn failures_are_typed() {
    let (fleet, control, _transport, addresses) = fleet_of(1, FleetConfig::default()).await;
    let device = &addresses[0];
    control.inject_fault(device, Fault::Busy).expect("exists");
    assert_eq!(
        fleet
            .act(device, DeviceAction::Lock(LockAction::Unlock), DEADLINE)
            .await,
        Err(Failure::Busy)
    );
    control.inject_fault(device, Fault::Jam).expect("exists");
    assert_eq!(
        fleet
            .act(device, DeviceAction::Lock(LockAction::Unlock), DEADLINE)
            .await,
        Err(Failure::MotorBlocked)
    );
    assert_eq!(
        fleet
            .act(
                &DeviceAddress("sim:nowhere".into()),
                DeviceAction::Lock(LockAction::Lock),
                DEADLINE
            )
            .await,
        Err(Failure::UnknownDevice)
    );
}

#[tokio::test(start_paused = true)]
async fn out_of_range_ends_within_the_deadline() {
    let (fleet, control, _transport, addresses) = fleet_of(1, FleetConfig::default()).await;
    control.set_in_range(&addresses[0], false).expect("exists");
    let deadline = Duration::from_secs(4);
    let started = tokio::time::Instant::now();
    let outcome = fleet
        .act(
            &addresses[0],
            DeviceAction::Lock(LockAction::Unlock),
            deadline,
        )
        .await;
    assert!(
        matches!(
            outcome,
            Err(Failure::Unreachable { .. }) | Err(Failure::TimedOut)
        ),
        "{outcome:?}"
    );
    assert!(started.elapsed() <= deadline);
}

#[tokio::test(start_paused = true)]
async fn a_link_dropped_mid_command_is_retried_for_repeatable_actions() {
    let (fleet, control, _transport, addresses) = fleet_of(1, FleetConfig::default()).await;
    control
        .inject_fault(&addresses[0], Fault::DropLinkMidCommand)
        .expect("exists");
    let unlock = fleet
        .act(
            &addresses[0],
            DeviceAction::Lock(LockAction::Unlock),
            DEADLINE,
        )
        .await;
    assert_eq!(
        final_lock_state(&unlock),
        Some(DeviceLockState::Lock(LockState::Unlocked)),
        "{unlock:?}"
    );
    // Unlatching twice is not harmless: a lost link is reported instead.
    control
        .inject_fault(&addresses[0], Fault::DropLinkMidCommand)
        .expect("exists");
    let unlatch = fleet
        .act(
            &addresses[0],
            DeviceAction::Lock(LockAction::Unlatch),
            DEADLINE,
        )
        .await;
    assert!(
        matches!(
            unlatch,
            Err(Failure::Unreachable { .. }) | Err(Failure::TimedOut)
        ),
        "{unlatch:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_burst_across_twenty_devices_never_exceeds_the_link_slots() {
    let config = FleetConfig {
        link_slots: 3,
        ..FleetConfig::default()
    };
    let (fleet, _control, _transport, addresses) = fleet_of(20, config).await;
    let mut events = fleet.subscribe();
    let peak = Arc::new(std::sync::atomic::AtomicI32::new(0));
    let watcher = {
        let peak = peak.clone();
        tokio::spawn(async move {
            let mut open = 0i32;
            while let Ok(event) = events.recv().await {
                match event {
                    FleetEvent::Connected { .. } => open += 1,
                    FleetEvent::Disconnected { .. } => open -= 1,
                    _ => {}
                }
                peak.fetch_max(open, std::sync::atomic::Ordering::SeqCst);
            }
        })
    };
    let requests: Vec<_> = (0..100)
        .map(|i| {
            let fleet = fleet.clone();
            let address = addresses[i % addresses.len()].clone();
            let action = if (i / addresses.len()).is_multiple_of(2) {
                LockAction::Unlock
            } else {
                LockAction::Lock
            };
            tokio::spawn(async move {
                let outcome = fleet
                    .act(
                        &address,
                        DeviceAction::Lock(action),
                        Duration::from_secs(120),
                    )
                    .await;
                (action, outcome)
            })
        })
        .collect();
    for request in requests {
        let (action, outcome) = request.await.expect("task");
        let expected = match action {
            LockAction::Unlock => LockState::Unlocked,
            _ => LockState::Locked,
        };
        assert_eq!(
            final_lock_state(&outcome),
            Some(DeviceLockState::Lock(expected)),
            "{outcome:?}"
        );
    }
    // Let the event watcher drain what is still in flight.
    tokio::time::sleep(Duration::from_millis(100)).await;
    watcher.abort();
    let peak = peak.load(std::sync::atomic::Ordering::SeqCst);
    assert!(
        (1..=3).contains(&peak),
        "at most 3 links at once, saw {peak}"
    );
}

#[tokio::test(start_paused = true)]
async fn idle_links_close_and_flags_bring_new_states() {
    let config = FleetConfig {
        idle_disconnect: Duration::from_secs(2),
        ..FleetConfig::default()
    };
    let (fleet, control, transport, addresses) = fleet_of(1, config).await;
    let device = addresses[0].clone();
    let mut events = fleet.subscribe();
    fleet.read_state(&device, DEADLINE).await.expect("state");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let mut saw_disconnect = false;
    while let Ok(event) = events.try_recv() {
        saw_disconnect |= matches!(event, FleetEvent::Disconnected { .. });
    }
    assert!(saw_disconnect, "idle link closed");
    assert!(!control.snapshot(&device).expect("exists").connected);

    // A resident turns the knob; the advertisement's flag leads the fleet to the new state.
    let mut adverts = transport.advertisements().await.expect("advert feed");
    let feeder = {
        let fleet = fleet.clone();
        tokio::spawn(async move {
            while let Some(advert) = adverts.recv().await {
                fleet.on_advertisement(&advert);
            }
        })
    };
    control.manual_action(&device, 0x01).expect("exists");
    let changed = tokio::time::timeout(Duration::from_secs(30), async {
        loop {
            match events.recv().await {
                Ok(FleetEvent::StateChanged { state, .. })
                    if state.lock_state == DeviceLockState::Lock(LockState::Unlocked) =>
                {
                    return state
                }
                Ok(_) => {}
                Err(error) => panic!("event stream: {error}"),
            }
        }
    })
    .await
    .expect("the flag brought the unlocked state");
    assert_eq!(
        changed.lock_state,
        DeviceLockState::Lock(LockState::Unlocked)
    );
    feeder.abort();
}

#[tokio::test(start_paused = true)]
async fn the_gateway_reports_every_action_on_its_bus() {
    use nuki_edge::gateway::{Gateway, GatewayEvent, GatewaySettings, Principal};
    let (fleet, _control, _transport, addresses) = fleet_of(1, FleetConfig::default()).await;
    let store_dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(
        nuki_edge::store::Store::open(&store_dir.path().join("gateway.redb")).unwrap(),
    );
    let gateway = Gateway::new(
        fleet,
        store,
        nuki_edge::clock::SystemClock::shared(),
        GatewaySettings::with_action_deadline(DEADLINE),
    );
    let mut events = gateway.subscribe();
    let device = &addresses[0];
    let outcome = gateway
        .act(
            &Principal::Local,
            device,
            DeviceAction::Lock(LockAction::Unlock),
        )
        .await;
    assert_eq!(
        outcome.unwrap().state.map(|s| s.lock_state),
        Some(DeviceLockState::Lock(LockState::Unlocked))
    );
    let mut seen = Vec::new();
    tokio::time::sleep(Duration::from_millis(10)).await;
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    let position = |wanted: fn(&GatewayEvent) -> bool| seen.iter().position(wanted);
    let requested = position(|e| matches!(e, GatewayEvent::ActionRequested { .. }));
    let connected = position(|e| matches!(e, GatewayEvent::DeviceConnected { .. }));
    let changed = position(|e| matches!(e, GatewayEvent::StateChanged { .. }));
    let finished = position(|e| matches!(e, GatewayEvent::ActionFinished { outcome: Ok(_), .. }));
    assert!(
        requested.is_some() && connected.is_some() && changed.is_some() && finished.is_some(),
        "{seen:#?}"
    );
    assert!(requested < finished, "{seen:#?}");
    assert_eq!(gateway.devices(&Principal::Local).len(), 1);
    assert_eq!(
        gateway
            .cached_state(&Principal::Local, device)
            .unwrap()
            .map(|s| s.lock_state),
        Some(DeviceLockState::Lock(LockState::Unlocked))
    );
}

/// A fleet over `specs` that hears the simulated advertisements, as the daemon does.
async fn listening_fleet(
    specs: Vec<SimDeviceSpec>,
    config: FleetConfig,
) -> (
    Arc<Fleet>,
    SimControl,
    Vec<DeviceAddress>,
    tokio::task::JoinHandle<()>,
) {
    let (transport, control) =
        SimTransport::with_wall_clock(specs.clone(), RadioModel::default(), 1_764_417_600);
    let credentials = pair_all(&transport, &control, &specs).await;
    let mut adverts = transport.advertisements().await.expect("advert feed");
    let fleet = Fleet::start(Arc::new(transport), config, credentials);
    let feeder = {
        let fleet = fleet.clone();
        tokio::spawn(async move {
            while let Some(advert) = adverts.recv().await {
                fleet.on_advertisement(&advert);
            }
        })
    };
    let addresses = specs.into_iter().map(|s| s.address).collect();
    (fleet, control, addresses, feeder)
}

/// Device A turns slowly, device B quickly; one link slot for both.
fn slow_and_quick() -> Vec<SimDeviceSpec> {
    let mut slow = lock_spec(0);
    slow.motor_time = Duration::from_secs(8);
    let mut quick = lock_spec(1);
    quick.motor_time = Duration::from_millis(500);
    vec![slow, quick]
}

fn one_slot() -> FleetConfig {
    FleetConfig {
        link_slots: 1,
        ..FleetConfig::default()
    }
}

/// Events until (and with) the first that `until` accepts.
async fn events_until(
    events: &mut tokio::sync::broadcast::Receiver<FleetEvent>,
    seen: &mut Vec<FleetEvent>,
    until: impl Fn(&FleetEvent) -> bool,
) {
    tokio::time::timeout(Duration::from_secs(60), async {
        loop {
            let event = events.recv().await.expect("event stream");
            let done = until(&event);
            seen.push(event);
            if done {
                return;
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("event not seen; saw {seen:#?}"));
}

fn is_state_of(event: &FleetEvent, device: &DeviceAddress, wanted: LockState) -> bool {
    matches!(event, FleetEvent::StateChanged { address, state }
        if address == device && state.lock_state == DeviceLockState::Lock(wanted))
}

#[tokio::test(start_paused = true)]
async fn a_nowait_action_frees_the_only_slot_while_its_motor_still_runs() {
    let (fleet, control, addresses, feeder) = listening_fleet(slow_and_quick(), one_slot()).await;
    let (slow, quick) = (&addresses[0], &addresses[1]);
    let mut events = fleet.subscribe();
    let mut seen = Vec::new();
    let started = fleet
        .start_action_releasing_link(slow, DeviceAction::Lock(LockAction::Unlock), DEADLINE)
        .expect("queued");
    events_until(
        &mut events,
        &mut seen,
        |e| matches!(e, FleetEvent::Disconnected { address } if address == slow),
    )
    .await;
    assert!(
        control.snapshot(slow).expect("exists").moving,
        "the link went with the motor still running"
    );
    // A blocking action on the other device gets the only slot and ends meanwhile.
    let quick_outcome = fleet
        .act(quick, DeviceAction::Lock(LockAction::Unlock), DEADLINE)
        .await;
    assert_eq!(
        final_lock_state(&quick_outcome),
        Some(DeviceLockState::Lock(LockState::Unlocked)),
        "{quick_outcome:?}"
    );
    assert!(
        control.snapshot(slow).expect("exists").moving,
        "the quick device's whole action ran during the slow one's motor run"
    );
    // The started action's end still comes, from a state read after the device's flag.
    let slow_outcome = started.outcome().await;
    assert_eq!(
        final_lock_state(&slow_outcome),
        Some(DeviceLockState::Lock(LockState::Unlocked)),
        "{slow_outcome:?}"
    );
    assert!(!control.snapshot(slow).expect("exists").moving);
    events_until(&mut events, &mut seen, |e| {
        is_state_of(e, slow, LockState::Unlocked)
    })
    .await;
    let position = |wanted: &dyn Fn(&FleetEvent) -> bool| seen.iter().position(wanted);
    let quick_connected =
        position(&|e| matches!(e, FleetEvent::Connected { address } if address == quick));
    let slow_done = position(&|e| is_state_of(e, slow, LockState::Unlocked));
    assert!(quick_connected < slow_done, "{seen:#?}");
    assert_eq!(
        fleet.cached_state(slow).map(|s| s.lock_state),
        Some(DeviceLockState::Lock(LockState::Unlocked))
    );
    feeder.abort();
}

#[tokio::test(start_paused = true)]
async fn a_blocking_action_holds_its_link_until_the_device_completed() {
    let (fleet, control, addresses, feeder) = listening_fleet(slow_and_quick(), one_slot()).await;
    let (slow, quick) = (addresses[0].clone(), addresses[1].clone());
    let mut events = fleet.subscribe();
    let mut seen = Vec::new();
    let blocking = {
        let fleet = fleet.clone();
        let slow = slow.clone();
        tokio::spawn(async move {
            fleet
                .act(&slow, DeviceAction::Lock(LockAction::Unlock), DEADLINE)
                .await
        })
    };
    events_until(
        &mut events,
        &mut seen,
        |e| matches!(e, FleetEvent::Connected { address } if *address == slow),
    )
    .await;
    let quick_outcome = fleet
        .act(&quick, DeviceAction::Lock(LockAction::Unlock), DEADLINE)
        .await;
    assert!(quick_outcome.is_ok(), "{quick_outcome:?}");
    assert!(
        !control.snapshot(&slow).expect("exists").moving,
        "the quick device waited for the slow one's whole motor run"
    );
    let slow_outcome = blocking.await.expect("task");
    assert_eq!(
        final_lock_state(&slow_outcome),
        Some(DeviceLockState::Lock(LockState::Unlocked))
    );
    events_until(
        &mut events,
        &mut seen,
        |e| matches!(e, FleetEvent::Connected { address } if *address == quick),
    )
    .await;
    let slow_done = seen
        .iter()
        .position(|e| is_state_of(e, &slow, LockState::Unlocked));
    let slow_released = seen
        .iter()
        .position(|e| matches!(e, FleetEvent::Disconnected { address } if *address == slow));
    let quick_connected = seen.len() - 1;
    assert!(
        slow_done.is_some() && slow_done < slow_released,
        "{seen:#?}"
    );
    assert!(slow_released < Some(quick_connected), "{seen:#?}");
    feeder.abort();
}

#[tokio::test(start_paused = true)]
async fn a_jam_after_an_early_release_is_reported() {
    let (fleet, control, addresses, feeder) = listening_fleet(slow_and_quick(), one_slot()).await;
    let slow = &addresses[0];
    control.inject_fault(slow, Fault::Jam).expect("exists");
    let mut events = fleet.subscribe();
    let mut seen = Vec::new();
    let started = fleet
        .start_action_releasing_link(slow, DeviceAction::Lock(LockAction::Unlock), DEADLINE)
        .expect("queued");
    events_until(
        &mut events,
        &mut seen,
        |e| matches!(e, FleetEvent::Disconnected { address } if address == slow),
    )
    .await;
    assert!(control.snapshot(slow).expect("exists").moving);
    assert_eq!(started.outcome().await, Err(Failure::MotorBlocked));
    assert_eq!(
        fleet.cached_state(slow).map(|s| s.lock_state),
        Some(DeviceLockState::Lock(LockState::MotorBlocked))
    );
    feeder.abort();
}

#[tokio::test(start_paused = true)]
async fn a_second_action_waits_for_the_end_of_a_started_one() {
    let (fleet, _control, addresses, feeder) = listening_fleet(slow_and_quick(), one_slot()).await;
    let slow = &addresses[0];
    let started = fleet
        .start_action_releasing_link(slow, DeviceAction::Lock(LockAction::Unlock), DEADLINE)
        .expect("queued");
    // Queued right behind: the device would refuse it as busy while it turns.
    let second = fleet
        .act(slow, DeviceAction::Lock(LockAction::Lock), DEADLINE)
        .await;
    assert_eq!(
        final_lock_state(&second),
        Some(DeviceLockState::Lock(LockState::Locked)),
        "{second:?}"
    );
    assert_eq!(
        final_lock_state(&started.outcome().await),
        Some(DeviceLockState::Lock(LockState::Unlocked))
    );
    feeder.abort();
}

#[tokio::test(start_paused = true)]
async fn without_a_flag_the_fleet_reads_the_end_of_a_started_action_itself() {
    let (fleet, control, addresses, feeder) = listening_fleet(slow_and_quick(), one_slot()).await;
    // Nobody hears the advertisements: only the fleet's own check can bring the end.
    feeder.abort();
    let slow = &addresses[0];
    let started = fleet
        .start_action_releasing_link(slow, DeviceAction::Lock(LockAction::Unlock), DEADLINE)
        .expect("queued");
    assert_eq!(
        final_lock_state(&started.outcome().await),
        Some(DeviceLockState::Lock(LockState::Unlocked))
    );
    assert!(!control.snapshot(slow).expect("exists").moving);
}

#[tokio::test(start_paused = true)]
async fn the_end_of_a_nowait_action_is_reported_on_the_gateway_bus() {
    use nuki_edge::gateway::{Gateway, GatewayEvent, GatewaySettings, Principal, Refusal};
    let (fleet, control, addresses, feeder) = listening_fleet(slow_and_quick(), one_slot()).await;
    let store_dir = tempfile::tempdir().unwrap();
    let store =
        Arc::new(nuki_edge::store::Store::open(&store_dir.path().join("gateway.redb")).unwrap());
    let gateway = Gateway::new(
        fleet,
        store,
        nuki_edge::clock::SystemClock::shared(),
        GatewaySettings::with_action_deadline(DEADLINE),
    );
    let slow = &addresses[0];
    let mut events = gateway.subscribe();
    let finished = |events: &mut tokio::sync::broadcast::Receiver<GatewayEvent>| {
        let mut events = events.resubscribe();
        async move {
            let mut seen = Vec::new();
            tokio::time::timeout(Duration::from_secs(60), async {
                loop {
                    let event = events.recv().await.expect("bus");
                    let done = matches!(event, GatewayEvent::ActionFinished { .. });
                    seen.push(event);
                    if done {
                        return;
                    }
                }
            })
            .await
            .unwrap_or_else(|_| panic!("no end reported; saw {seen:#?}"));
            seen
        }
    };

    let watching = tokio::spawn(finished(&mut events));
    gateway
        .start_action(
            &Principal::Local,
            slow,
            DeviceAction::Lock(LockAction::Unlock),
        )
        .expect("queued");
    let seen = watching.await.expect("watcher");
    let Some(GatewayEvent::ActionFinished {
        outcome,
        answered_early,
        ..
    }) = seen.last()
    else {
        panic!("{seen:#?}");
    };
    assert!(answered_early);
    assert_eq!(
        outcome
            .as_ref()
            .ok()
            .and_then(|r| r.state.as_ref())
            .map(|s| s.lock_state),
        Some(DeviceLockState::Lock(LockState::Unlocked)),
        "{seen:#?}"
    );
    let position = |wanted: &dyn Fn(&GatewayEvent) -> bool| seen.iter().position(wanted);
    let released =
        position(&|e| matches!(e, GatewayEvent::DeviceDisconnected { device } if device == slow));
    let unlocked = position(&|e| {
        matches!(e, GatewayEvent::StateChanged { device, state } if device == slow
            && state.lock_state == DeviceLockState::Lock(LockState::Unlocked))
    });
    assert!(
        released.is_some() && released < unlocked,
        "the link went before the end: {seen:#?}"
    );
    assert_eq!(
        gateway
            .cached_state(&Principal::Local, slow)
            .unwrap()
            .map(|s| s.lock_state),
        Some(DeviceLockState::Lock(LockState::Unlocked))
    );

    // A jam during a nowait action is reported as its outcome.
    control.inject_fault(slow, Fault::Jam).expect("exists");
    let watching = tokio::spawn(finished(&mut events));
    gateway
        .start_action(
            &Principal::Local,
            slow,
            DeviceAction::Lock(LockAction::Lock),
        )
        .expect("queued");
    let seen = watching.await.expect("watcher");
    assert!(
        matches!(
            seen.last(),
            Some(GatewayEvent::ActionFinished {
                outcome: Err(Refusal::MotorBlocked),
                answered_early: true,
                ..
            })
        ),
        "{seen:#?}"
    );
    feeder.abort();
}

/// Regression (found by `benches/radios.rs`, where 94 of 100 busy locks starved): a user's
/// action queued behind its device's own background read waited at background priority, and
/// holders of a slot hand it over only to waiting users, so a lock kept busy by its own
/// actions and flags kept the only slot for as long as its driver went on.
#[tokio::test(start_paused = true)]
async fn a_user_action_behind_its_devices_background_read_gets_a_slot_from_a_busy_lock() {
    let specs = vec![lock_spec(0), lock_spec(1)];
    let (fleet, control, addresses, feeder) = listening_fleet(specs, one_slot()).await;
    let (busy, waiting) = (addresses[0].clone(), addresses[1].clone());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let busy_actions = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // Two drivers, so the busy lock always has its next action queued when one ends.
    let drivers: Vec<_> = [LockAction::Unlock, LockAction::Lock]
        .into_iter()
        .map(|action| {
            let (fleet, busy, stop) = (fleet.clone(), busy.clone(), stop.clone());
            let done = busy_actions.clone();
            tokio::spawn(async move {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    fleet
                        .act(&busy, DeviceAction::Lock(action), DEADLINE)
                        .await
                        .expect("the busy lock's action");
                    done.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
            })
        })
        .collect();
    // The busy lock holds the slot; a resident turns the other lock's knob, and its flag
    // queues a background read before anyone asks that lock for anything.
    tokio::time::sleep(Duration::from_secs(3)).await;
    control.manual_action(&waiting, 0x01).expect("exists");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = busy_actions.load(std::sync::atomic::Ordering::SeqCst);
    let action = fleet
        .act(
            &waiting,
            DeviceAction::Lock(LockAction::Lock),
            Duration::from_secs(60),
        )
        .await;
    let overtaken = busy_actions.load(std::sync::atomic::Ordering::SeqCst) - before;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for driver in drivers {
        driver.await.expect("driver");
    }
    assert_eq!(
        final_lock_state(&action),
        Some(DeviceLockState::Lock(LockState::Locked)),
        "{action:?}"
    );
    // The busy lock finishes the action it holds the slot for, and perhaps the one queued
    // behind it before the hand-over; not more.
    assert!(
        overtaken <= 2,
        "{overtaken} actions of the busy lock went first"
    );
    feeder.abort();
}
