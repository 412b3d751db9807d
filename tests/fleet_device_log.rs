//! The fleet follows each simulated device's own log through the real task code path: every
//! entry is passed on once, in order, across index wraps, a full ring buffer and a restart of
//! the gateway; a PIN problem is refused cleanly; a user's action never waits behind a long
//! read. Also: a state read during a movement is followed until the final state.

mod common;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use common::core::pair_sim_device;
use nuki_edge::ble::sim::{RadioModel, SimControl, SimDeviceSpec, SimKind, SimTransport};
use nuki_edge::ble::DeviceAddress;
use nuki_edge::devices::admin_ops::{self, JobSpec};
use nuki_edge::devices::credentials::DeviceCredentials;
use nuki_edge::devices::device_log::LogPosition;
use nuki_edge::devices::fleet::{Fleet, FleetConfig, FleetEvent};
use nuki_edge::devices::slots::Priority;
use nuki_edge::nuki::enums::{
    DeviceAction, DeviceLockState, KeypadSource, LockAction, LockState, LogEntryType, Trigger,
};
use nuki_edge::nuki::messages::{
    AccessCode, AllowedWindow, LogData, LogEntry, NewKeypadCode, SecurityPin,
};

const DEADLINE: Duration = Duration::from_secs(20);
/// Simulated time to wait for something that must (or must not) happen.
const PATIENCE: Duration = Duration::from_secs(120);
/// 2026-11-18, after the clock trust's build-date floor.
const WALL_CLOCK_START: i64 = 1_795_000_000;
const PIN: u32 = 1234;
const KEYPAD_CODE: u32 = 246_813;

struct OneLock {
    fleet: Arc<Fleet>,
    control: SimControl,
    transport: Arc<SimTransport>,
    device: DeviceAddress,
    credentials: DeviceCredentials,
    events: broadcast::Receiver<FleetEvent>,
}

/// Reads only when asked, so each test decides when the log is read.
fn on_request_only() -> FleetConfig {
    FleetConfig {
        log_refresh: Duration::ZERO,
        ..FleetConfig::default()
    }
}

async fn one_lock(
    config: FleetConfig,
    stage: impl FnOnce(&mut SimDeviceSpec),
    credentials_pin: impl FnOnce(&mut DeviceCredentials),
) -> OneLock {
    let mut spec = SimDeviceSpec::new("sim:log-door", "Log Door", 0x3300_0001, SimKind::SmartLock4);
    spec.pin = Some(PIN);
    spec.keypad = true;
    stage(&mut spec);
    let (transport, control) =
        SimTransport::with_wall_clock(vec![spec.clone()], RadioModel::default(), WALL_CLOCK_START);
    let mut credentials = pair_sim_device(&transport, &control, &spec).await;
    credentials_pin(&mut credentials);
    let transport = Arc::new(transport);
    let fleet = Fleet::start(transport.clone(), config, vec![credentials.clone()]);
    let events = fleet.subscribe();
    OneLock {
        fleet,
        control,
        transport,
        device: spec.address,
        credentials,
        events,
    }
}

/// The next batch of log entries the fleet passes on.
async fn next_log_entries(events: &mut broadcast::Receiver<FleetEvent>) -> Vec<LogEntry> {
    tokio::time::timeout(PATIENCE, async {
        loop {
            match events.recv().await {
                Ok(FleetEvent::LogEntries { entries, .. }) => return entries,
                Ok(_) => {}
                Err(error) => panic!("event stream: {error}"),
            }
        }
    })
    .await
    .expect("log entries passed on")
}

/// Every event until the fleet has had ample time.
async fn events_for_a_while(events: &mut broadcast::Receiver<FleetEvent>) -> Vec<FleetEvent> {
    tokio::time::sleep(PATIENCE).await;
    let mut seen = Vec::new();
    while let Ok(event) = events.try_recv() {
        seen.push(event);
    }
    seen
}

fn log_batches(events: &[FleetEvent]) -> Vec<&Vec<LogEntry>> {
    events
        .iter()
        .filter_map(|event| match event {
            FleetEvent::LogEntries { entries, .. } => Some(entries),
            _ => None,
        })
        .collect()
}

/// Asks for a read and answers what it passed on.
async fn read_log(lock: &mut OneLock) -> Vec<LogEntry> {
    lock.fleet.request_log_read(&lock.device);
    next_log_entries(&mut lock.events).await
}

/// Asks for a read and checks that nothing new is passed on.
async fn assert_nothing_new(lock: &mut OneLock) {
    lock.fleet.request_log_read(&lock.device);
    let seen = events_for_a_while(&mut lock.events).await;
    assert!(log_batches(&seen).is_empty(), "{seen:#?}");
}

/// The device's log from its `count` newest entries, oldest first.
fn newest(control: &SimControl, device: &DeviceAddress, count: usize) -> Vec<LogEntry> {
    let all = control.log_entries(device).expect("device");
    all[all.len().saturating_sub(count)..].to_vec()
}

fn indexes(entries: &[LogEntry]) -> Vec<u32> {
    entries.iter().map(|e| e.index).collect()
}

/// Lets a movement started by the simulator's controls finish.
async fn let_the_motor_finish() {
    tokio::time::sleep(Duration::from_secs(10)).await;
}

#[tokio::test(start_paused = true)]
async fn every_action_appears_once_in_order() {
    let mut lock = one_lock(on_request_only(), |_| {}, |_| {}).await;
    let device = lock.device.clone();
    let ours = lock.credentials.auth_id;
    let job = JobSpec {
        address: device.clone(),
        priority: Priority::User,
        deadline: DEADLINE,
    };
    let code = NewKeypadCode {
        code: AccessCode(KEYPAD_CODE),
        name: "Cleaner".into(),
        time_limited: false,
        allowed: AllowedWindow::default(),
    };
    let code_id = admin_ops::add_keypad_code(&lock.fleet, &job, code)
        .await
        .expect("keypad code added");
    // Whatever the device logged before (a device never read: its whole log) comes first.
    let before = control_log_len(&lock);
    if before > 0 {
        assert_eq!(
            read_log(&mut lock).await,
            newest(&lock.control, &device, before)
        );
    }

    let unlock = lock
        .fleet
        .act(&device, DeviceAction::Lock(LockAction::Unlock), DEADLINE)
        .await;
    assert!(unlock.is_ok(), "{unlock:?}");
    let lock_action = lock
        .fleet
        .act(&device, DeviceAction::Lock(LockAction::Lock), DEADLINE)
        .await;
    assert!(lock_action.is_ok(), "{lock_action:?}");
    let ours_first = read_log(&mut lock).await;
    assert_eq!(
        ours_first
            .iter()
            .map(|e| (e.auth_id, e.entry_type, lock_action_of(e)))
            .collect::<Vec<_>>(),
        [
            (
                ours,
                LogEntryType::LockAction,
                Some((LockAction::Unlock, Trigger::System))
            ),
            (
                ours,
                LogEntryType::LockAction,
                Some((LockAction::Lock, Trigger::System))
            ),
        ],
        "{ours_first:#?}"
    );

    lock.control
        .enter_keypad_code(&device, KEYPAD_CODE)
        .expect("keypad");
    let_the_motor_finish().await;
    let keypad = read_log(&mut lock).await;
    assert_eq!(keypad.len(), 1, "{keypad:#?}");
    assert!(
        matches!(
            keypad[0].data,
            LogData::KeypadAction { source: KeypadSource::Code, code_id: id, .. } if id == code_id
        ),
        "{keypad:#?}"
    );

    lock.control.manual_action(&device, 0x02).expect("knob");
    let_the_motor_finish().await;
    let manual = read_log(&mut lock).await;
    assert_eq!(manual.len(), 1, "{manual:#?}");
    assert_eq!(manual[0].auth_id, 0, "a manual turn has no authorization");
    assert_eq!(
        lock_action_of(&manual[0]),
        Some((LockAction::Lock, Trigger::Manual))
    );

    // In order, each once: exactly the device's newest entries, consecutively indexed.
    let passed: Vec<LogEntry> = [ours_first, keypad, manual].concat();
    assert_eq!(passed, newest(&lock.control, &device, passed.len()));
    assert_eq!(
        indexes(&passed),
        (passed[0].index..passed[0].index + 4).collect::<Vec<_>>()
    );
    assert_nothing_new(&mut lock).await;
}

fn control_log_len(lock: &OneLock) -> usize {
    lock.control
        .log_entries(&lock.device)
        .expect("device")
        .len()
}

fn lock_action_of(entry: &LogEntry) -> Option<(LockAction, Trigger)> {
    match entry.data {
        LogData::LockAction {
            action: DeviceAction::Lock(action),
            trigger,
            ..
        } => Some((action, trigger)),
        _ => None,
    }
}

#[tokio::test(start_paused = true)]
async fn a_rising_flag_brings_a_manual_turn_without_being_asked() {
    let mut lock = one_lock(on_request_only(), |_| {}, |_| {}).await;
    let device = lock.device.clone();
    common::core::follow_advertisements(
        &lock.transport,
        common::core::gateway_over(lock.fleet.clone(), DEADLINE),
    )
    .await;
    lock.control.manual_action(&device, 0x01).expect("knob");
    let mut passed = Vec::new();
    while !passed
        .iter()
        .any(|e| lock_action_of(e) == Some((LockAction::Unlock, Trigger::Manual)))
    {
        passed.extend(next_log_entries(&mut lock.events).await);
    }
    assert_eq!(passed, newest(&lock.control, &device, passed.len()));
}

#[tokio::test(start_paused = true)]
async fn the_slow_schedule_reads_without_a_flag() {
    let config = FleetConfig {
        log_refresh: Duration::from_secs(600),
        ..FleetConfig::default()
    };
    let mut lock = one_lock(config, |_| {}, |_| {}).await;
    let device = lock.device.clone();
    lock.control.append_log_entries(&device, 7).expect("device");
    let scheduled = tokio::time::timeout(Duration::from_secs(1200), async {
        loop {
            match lock.events.recv().await {
                Ok(FleetEvent::LogEntries { entries, .. }) => return entries,
                Ok(_) => {}
                Err(error) => panic!("event stream: {error}"),
            }
        }
    })
    .await
    .expect("a scheduled read within two periods");
    assert_eq!(scheduled, newest(&lock.control, &device, scheduled.len()));
    assert!(scheduled.len() >= 7);
}

#[tokio::test(start_paused = true)]
async fn entries_across_the_index_wrap_are_passed_on_once() {
    let mut lock = one_lock(on_request_only(), |_| {}, |_| {}).await;
    let device = lock.device.clone();
    lock.control
        .set_next_log_index(&device, u32::MAX - 4)
        .expect("device");
    lock.control.append_log_entries(&device, 3).expect("device");
    let first = read_log(&mut lock).await;
    assert_eq!(
        indexes(&first[first.len() - 3..]),
        [u32::MAX - 4, u32::MAX - 3, u32::MAX - 2]
    );
    lock.control
        .append_log_entries(&device, 10)
        .expect("device");
    let across = read_log(&mut lock).await;
    // The counter skips 0, which means "start" in a request.
    assert_eq!(
        indexes(&across),
        [u32::MAX - 1, u32::MAX, 1, 2, 3, 4, 5, 6, 7, 8]
    );
    assert_eq!(across, newest(&lock.control, &device, 10));

    // A reset: the counter starts over at 1 while old entries with those indexes remain.
    lock.control.set_next_log_index(&device, 1).expect("device");
    lock.control.append_log_entries(&device, 4).expect("device");
    let restarted = read_log(&mut lock).await;
    assert_eq!(indexes(&restarted), [1, 2, 3, 4]);
    assert_eq!(restarted, newest(&lock.control, &device, 4));
    assert_nothing_new(&mut lock).await;
}

#[tokio::test(start_paused = true)]
async fn a_full_ring_buffer_passes_on_what_the_device_still_holds() {
    const CAPACITY: usize = 40;
    let mut lock = one_lock(
        on_request_only(),
        |spec| spec.max_log_entries = CAPACITY,
        |_| {},
    )
    .await;
    let device = lock.device.clone();
    lock.control
        .append_log_entries(&device, 10)
        .expect("device");
    let first = read_log(&mut lock).await;
    let last_seen = first.last().expect("entries").index;

    // The log wraps (drops its oldest), but the entry seen last is still held: only the
    // newer ones.
    lock.control
        .append_log_entries(&device, 35)
        .expect("device");
    let wrapped = read_log(&mut lock).await;
    assert_eq!(wrapped, newest(&lock.control, &device, 35));
    assert_eq!(wrapped[0].index, last_seen + 1);

    // Far more than the device holds while nobody read: the entry seen last is gone, and
    // everything the device still holds is newer than it.
    lock.control
        .append_log_entries(&device, 150)
        .expect("device");
    let overflowed = read_log(&mut lock).await;
    assert_eq!(overflowed.len(), CAPACITY);
    assert_eq!(overflowed, newest(&lock.control, &device, CAPACITY));
    assert!(overflowed[0].index > wrapped.last().expect("entries").index);
    assert_nothing_new(&mut lock).await;
}

#[tokio::test(start_paused = true)]
async fn a_restarted_gateway_resumes_after_500_entries_accumulated() {
    let mut lock = one_lock(on_request_only(), |_| {}, |_| {}).await;
    let device = lock.device.clone();
    lock.control.append_log_entries(&device, 5).expect("device");
    let before = read_log(&mut lock).await;
    let position = lock.fleet.log_position(&device).expect("position");
    assert_eq!(
        position,
        LogPosition::of(before.last().expect("entries")),
        "the position is the newest entry passed on"
    );
    assert!(lock.fleet.shutdown(Duration::from_secs(10)).await);

    // The gateway is off while the device logs 500 entries.
    lock.control
        .append_log_entries(&device, 500)
        .expect("device");

    let fleet = Fleet::start(
        lock.transport.clone(),
        on_request_only(),
        vec![lock.credentials.clone()],
    );
    assert!(fleet.resume_log(&device, position));
    lock.fleet = fleet;
    lock.events = lock.fleet.subscribe();
    let resumed = read_log(&mut lock).await;
    assert_eq!(resumed.len(), 500);
    assert_eq!(resumed, newest(&lock.control, &device, 500));
    assert_eq!(resumed[0].index, position.index + 1);
    assert_nothing_new(&mut lock).await;
}

#[tokio::test(start_paused = true)]
async fn a_user_action_goes_between_the_pages_of_a_long_read() {
    let mut lock = one_lock(on_request_only(), |_| {}, |_| {}).await;
    let device = lock.device.clone();
    lock.control
        .append_log_entries(&device, 500)
        .expect("device");
    lock.fleet.request_log_read(&device);
    // The read has begun once its link is up.
    tokio::time::timeout(PATIENCE, async {
        loop {
            match lock.events.recv().await {
                Ok(FleetEvent::Connected { .. }) => return,
                Ok(FleetEvent::LogEntries { .. }) => panic!("the read ended before it began"),
                Ok(_) => {}
                Err(error) => panic!("event stream: {error}"),
            }
        }
    })
    .await
    .expect("the read began");
    let unlock = lock
        .fleet
        .act(&device, DeviceAction::Lock(LockAction::Unlock), DEADLINE)
        .await;
    assert_eq!(
        unlock
            .as_ref()
            .ok()
            .and_then(|done| done.state.as_ref())
            .map(|s| s.lock_state),
        Some(DeviceLockState::Lock(LockState::Unlocked)),
        "{unlock:?}"
    );
    let mut before_the_end = Vec::new();
    while let Ok(event) = lock.events.try_recv() {
        before_the_end.push(event);
    }
    assert!(
        log_batches(&before_the_end).is_empty(),
        "the action finished before the read: {before_the_end:#?}"
    );
    let read = next_log_entries(&mut lock.events).await;
    assert_eq!(read.len(), 500, "the read began before the unlock");
    // The unlock, logged after the read had passed it, comes with the next read.
    let next = read_log(&mut lock).await;
    assert_eq!(next.len(), 1, "{next:#?}");
    assert_eq!(next[0].auth_id, lock.credentials.auth_id);
    assert_eq!(next, newest(&lock.control, &device, 1));
}

#[tokio::test(start_paused = true)]
async fn without_a_pin_the_log_is_not_asked_for() {
    let mut lock = one_lock(on_request_only(), |_| {}, |c| c.security_pin = None).await;
    let device = lock.device.clone();
    lock.control.append_log_entries(&device, 3).expect("device");
    lock.fleet.request_log_read(&device);
    let seen = events_for_a_while(&mut lock.events).await;
    assert!(
        !seen.iter().any(|e| matches!(
            e,
            FleetEvent::Connected { .. } | FleetEvent::LogEntries { .. }
        )),
        "nothing sent without a PIN: {seen:#?}"
    );
    // The device still serves its users.
    let unlock = lock
        .fleet
        .act(&device, DeviceAction::Lock(LockAction::Unlock), DEADLINE)
        .await;
    assert!(unlock.is_ok(), "{unlock:?}");
}

#[tokio::test(start_paused = true)]
async fn a_wrong_pin_is_not_tried_again_on_every_flag() {
    // Two wrong PINs in a row lock the device's PIN entry for everyone.
    let mut lock = one_lock(
        on_request_only(),
        |spec| {
            spec.max_wrong_pins = 2;
            spec.pin_lockout = Duration::from_secs(3600);
        },
        |c| c.security_pin = Some(SecurityPin::Short(4321)),
    )
    .await;
    let device = lock.device.clone();
    lock.control.append_log_entries(&device, 3).expect("device");
    for _ in 0..3 {
        lock.fleet.request_log_read(&device);
        let seen = events_for_a_while(&mut lock.events).await;
        assert!(log_batches(&seen).is_empty(), "{seen:#?}");
    }
    let unlock = lock
        .fleet
        .act(&device, DeviceAction::Lock(LockAction::Unlock), DEADLINE)
        .await;
    assert!(unlock.is_ok(), "actions need no PIN: {unlock:?}");

    // The right PIN arrives (the task restarts with it): one wrong attempt was all the
    // device saw, so it is not locked out, and the log is read from where it stood.
    let mut right = lock.credentials.clone();
    right.security_pin = Some(SecurityPin::Short(1234));
    lock.fleet.add(right);
    tokio::time::sleep(Duration::from_millis(100)).await;
    let read = read_log(&mut lock).await;
    assert_eq!(read, newest(&lock.control, &device, read.len()));
    assert!(
        read.len() >= 4,
        "the appended entries and the unlock: {read:#?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_state_read_during_a_movement_is_followed_to_the_final_state() {
    let config = FleetConfig {
        // The link stays open, so the device advertises no new flag, and a flag still
        // raised would not be read again for an hour: only the follow-up read can tell.
        idle_disconnect: Duration::from_secs(600),
        stuck_flag_refresh: Duration::from_secs(3600),
        ..on_request_only()
    };
    let mut lock = one_lock(
        config,
        |spec| spec.motor_time = Duration::from_secs(3),
        |_| {},
    )
    .await;
    let device = lock.device.clone();
    lock.fleet
        .read_state(&device, DEADLINE)
        .await
        .expect("state");
    while lock.events.try_recv().is_ok() {}
    lock.control.manual_action(&device, 0x01).expect("knob");
    tokio::time::sleep(Duration::from_millis(200)).await;
    // What a rising flag does.
    lock.fleet.request_refresh(&device);
    let states = tokio::time::timeout(PATIENCE, async {
        let mut states = Vec::new();
        loop {
            match lock.events.recv().await {
                Ok(FleetEvent::StateChanged { state, .. }) => {
                    states.push(state.lock_state);
                    if state.lock_state == DeviceLockState::Lock(LockState::Unlocked) {
                        return states;
                    }
                }
                Ok(_) => {}
                Err(error) => panic!("event stream: {error}"),
            }
        }
    })
    .await
    .expect("the final state was reported");
    assert_eq!(
        states,
        [
            DeviceLockState::Lock(LockState::Unlocking),
            DeviceLockState::Lock(LockState::Unlocked)
        ]
    );
}
