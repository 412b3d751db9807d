//! Movements of the simulated devices: lock actions with motor time, unlatch, lock 'n' go,
//! faults, the state-changed flag, door sensor, calibration and the Opener's modes.

mod common;

use std::time::Duration;

use common::sim::{direct::*, messages::*, pairing_script::*};
use nuki_edge::ble::sim::{Fault, InitialPosition, SimKind};
use nuki_edge::nuki::command::CommandId;
use nuki_edge::nuki::enums::{
    DeviceAction, DeviceLockState, ErrorCode, IdType, LockAction, LockState, NukiState,
    OpenerAction, OpenerLockState, SortOrder, StatusCode,
};
use nuki_edge::nuki::messages::{LogData, Message};
use nuki_edge::nuki::uuids::ServiceFamily;

#[test]
fn lock_action_reports_accepted_states_and_complete_with_motor_time() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    let replies = direct.command(&lock_action(LockAction::Lock));
    assert_eq!(replies[0], Message::Status(StatusCode::Accepted));
    assert_eq!(states_of(&replies), [LockState::Locking.to_u8()]);
    assert_eq!(replies.len(), 2);
    // A second action while the motor runs.
    assert_eq!(
        direct.command(&lock_action(LockAction::Unlock)),
        [error(ErrorCode::KErrorBusy, CommandId::LockAction)]
    );
    assert!(direct.advance(Duration::from_millis(1400)).is_empty());
    let replies = direct.advance(Duration::from_millis(100));
    assert_eq!(states_of(&replies), [LockState::Locked.to_u8()]);
    assert_eq!(replies.last(), Some(&Message::Status(StatusCode::Complete)));
    // Already locked: COMPLETE directly.
    assert_eq!(
        direct.command(&lock_action(LockAction::Lock)),
        [Message::Status(StatusCode::Complete)]
    );
    let states = direct.states();
    assert_eq!(
        states.last_lock_action,
        Some(DeviceAction::Lock(LockAction::Lock))
    );
    assert_eq!(direct.device.snapshot().authorizations[0].lock_count, 2);
    // Simple Lock Action takes the same route.
    let replies = direct.command(&Message::SimpleLockAction {
        action: DeviceAction::Lock(LockAction::Unlock),
    });
    assert_eq!(states_of(&replies), [LockState::Unlocking.to_u8()]);
}

#[test]
fn unlatch_and_lock_n_go_run_through_their_states() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    let mut seen = states_of(&direct.command(&lock_action(LockAction::Unlatch)));
    let mut complete = false;
    for _ in 0..20 {
        let replies = direct.advance(Duration::from_millis(500));
        seen.extend(states_of(&replies));
        complete |= replies.contains(&Message::Status(StatusCode::Complete));
    }
    assert!(complete);
    assert_eq!(
        seen,
        [
            LockState::Unlatching.to_u8(),
            LockState::Unlatched.to_u8(),
            LockState::Unlocked.to_u8()
        ]
    );
    let replies = direct.command(&lock_action(LockAction::LockNGo));
    assert_eq!(states_of(&replies), [LockState::UnlockedLockNGo.to_u8()]);
    assert_eq!(direct.states().lock_n_go_timer, 20);
    let mut seen = Vec::new();
    let mut complete = false;
    for _ in 0..30 {
        let replies = direct.advance(Duration::from_secs(1));
        seen.extend(states_of(&replies));
        complete |= replies.contains(&Message::Status(StatusCode::Complete));
    }
    assert!(complete);
    assert_eq!(
        seen,
        [LockState::Locking.to_u8(), LockState::Locked.to_u8()]
    );
}

#[test]
fn injected_faults_busy_and_jam() {
    let mut direct = Direct::new(SimKind::SmartLock2);
    direct.device.inject_fault(Fault::Busy);
    assert_eq!(
        direct.command(&lock_action(LockAction::Lock)),
        [error(ErrorCode::KErrorBusy, CommandId::LockAction)]
    );
    direct.device.inject_fault(Fault::Jam);
    let replies = direct.command(&lock_action(LockAction::Lock));
    assert_eq!(states_of(&replies), [LockState::Locking.to_u8()]);
    let replies = direct.advance(Duration::from_secs(2));
    assert_eq!(replies.len(), 2);
    let Message::KeyturnerStates(states) = &replies[0] else {
        panic!("states expected");
    };
    assert_eq!(
        states.lock_state,
        DeviceLockState::Lock(LockState::MotorBlocked)
    );
    assert_eq!(
        states.last_lock_action_completion_status.map(|c| c.to_u8()),
        Some(0x01)
    );
    assert_eq!(
        replies[1],
        error(ErrorCode::KErrorMotorBlocked, CommandId::LockAction)
    );
    // The jam was a one-off: the next try works.
    let replies = direct.command(&lock_action(LockAction::Lock));
    assert_eq!(replies[0], Message::Status(StatusCode::Accepted));
    assert!(direct.device.snapshot().pending_faults.is_empty());
}

#[test]
fn state_changed_flag_is_set_by_changes_and_cleared_by_a_bridge_read() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    direct.states();
    assert!(!flag(&direct.device, direct.now));
    direct.command(&lock_action(LockAction::Lock));
    assert!(flag(&direct.device, direct.now));
    direct.advance(Duration::from_secs(2));
    // An App reading the state does not clear it.
    let (app_key, app_id) = paired(direct.pair_another(IdType::App, 11, 0x71));
    let bridge = direct.switch(app_key, app_id);
    direct.states();
    assert!(flag(&direct.device, direct.now));
    direct.switch(bridge.0, bridge.1);
    direct.states();
    assert!(!flag(&direct.device, direct.now));
    // Manual turns and the door sensor count as changes too.
    direct.device.manual_action(0x01, direct.now).unwrap();
    assert!(flag(&direct.device, direct.now));
    assert_eq!(
        direct.device.snapshot().last_action.1,
        0x00,
        "not finished yet"
    );
    direct.advance(Duration::from_secs(2));
    assert_eq!(direct.device.snapshot().last_action, (0x01, 0x01, 0x00));
}

#[test]
fn door_sensor_changes_states_and_logs() {
    let mut spec = spec(SimKind::SmartLock4);
    spec.door_sensor = true;
    let mut direct = Direct::with_spec(spec, IdType::Bridge);
    assert_eq!(
        direct.states().door_sensor_state.map(|s| s.to_u8()),
        Some(0x02)
    );
    let out = direct.device.set_door(true, direct.now).unwrap();
    let unsolicited: Vec<Message> = out.iter().map(|o| direct.open(o)).collect();
    assert!(
        matches!(&unsolicited[..], [Message::KeyturnerStates(s)] if s.door_sensor_state.map(|d| d.to_u8()) == Some(0x03))
    );
    assert!(flag(&direct.device, direct.now));
    let replies = direct.command(&Message::RequestLogEntries {
        start_index: 0,
        count: 10,
        sort_order: SortOrder::Descending,
        total_count: false,
    });
    assert!(
        matches!(&replies[0], Message::LogEntry(entry) if matches!(entry.data, LogData::DoorSensor { .. }))
    );
    let without = fresh_device(self::spec(SimKind::SmartLock4));
    let mut without = without;
    assert!(without.set_door(true, Duration::ZERO).is_err());
}

#[test]
fn calibration_reports_calibration_state_then_completes() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    let replies = direct.command(&Message::RequestCalibration);
    assert_eq!(replies[0], Message::Status(StatusCode::Accepted));
    assert_eq!(states_of(&replies), [LockState::Calibration.to_u8()]);
    let replies = direct.advance(Duration::from_secs(6));
    assert_eq!(states_of(&replies), [LockState::Locked.to_u8()]);
    assert_eq!(replies.last(), Some(&Message::Status(StatusCode::Complete)));
}

#[test]
fn uncalibrated_lock_refuses_actions() {
    let mut spec = spec(SimKind::SmartLock2);
    spec.initial_position = InitialPosition::Uncalibrated;
    let mut direct = Direct::with_spec(spec, IdType::App);
    assert_eq!(
        direct.command(&lock_action(LockAction::Unlock)),
        [error(ErrorCode::KErrorNotCalibrated, CommandId::LockAction)]
    );
}

#[test]
fn opener_rto_strike_and_continuous_mode() {
    let mut direct = Direct::new(SimKind::Opener);
    assert_eq!(direct.chars, ServiceFamily::Opener.characteristics());
    let open = Message::LockAction {
        action: DeviceAction::Opener(OpenerAction::ElectricStrikeActuation),
        app_id: 42,
        flags: 0,
        name_suffix: None,
    };
    let mut seen = states_of(&direct.command(&open));
    let mut complete = false;
    for _ in 0..10 {
        let replies = direct.advance(Duration::from_secs(1));
        seen.extend(states_of(&replies));
        complete |= replies.contains(&Message::Status(StatusCode::Complete));
    }
    assert!(complete);
    assert_eq!(
        seen,
        [
            OpenerLockState::Opening.to_u8(),
            OpenerLockState::Open.to_u8(),
            OpenerLockState::Online.to_u8()
        ]
    );
    let rto = Message::LockAction {
        action: DeviceAction::Opener(OpenerAction::ActivateRto),
        app_id: 42,
        flags: 0,
        name_suffix: None,
    };
    let replies = direct.command(&rto);
    assert_eq!(
        replies,
        [
            Message::Status(StatusCode::Accepted),
            Message::KeyturnerStates(direct.states()),
            Message::Status(StatusCode::Complete)
        ]
    );
    assert_eq!(
        direct.states().lock_state,
        DeviceLockState::Opener(OpenerLockState::RtoActive)
    );
    let replies = direct.command(&Message::ContinuousModeAction {
        enabled: true,
        timeout: 0,
    });
    assert_eq!(replies.last(), Some(&Message::Status(StatusCode::Complete)));
    assert_eq!(direct.states().nuki_state, NukiState::ContinuousMode);
    // A ring in continuous mode opens the door.
    direct.device.ring_doorbell(direct.now).unwrap();
    assert_eq!(
        direct.device.snapshot().lock_state,
        OpenerLockState::Opening.to_u8()
    );
    assert!(flag(&direct.device, direct.now));
}

/// The newest entry of the device's own log.
fn newest_log_entry(direct: &mut Direct) -> nuki_edge::nuki::messages::LogEntry {
    let replies = direct.command(&Message::RequestLogEntries {
        start_index: 0,
        count: 1,
        sort_order: SortOrder::Descending,
        total_count: false,
    });
    replies
        .into_iter()
        .find_map(|message| match message {
            Message::LogEntry(entry) => Some(entry),
            _ => None,
        })
        .expect("a log entry")
}

/// A bridge that lets go of the link once the action was accepted (`nowait`): the lock keeps
/// turning, logs the action for its requester when done and raises its flag for the end.
#[test]
fn a_movement_goes_on_after_the_requester_disconnected_and_raises_the_flag_at_its_end() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    direct.states();
    let replies = direct.command(&lock_action(LockAction::Lock));
    assert_eq!(replies[0], Message::Status(StatusCode::Accepted));
    // The bridge reads once mid-motion (which clears the flag), then disconnects.
    assert_eq!(
        direct.states().lock_state,
        DeviceLockState::Lock(LockState::Locking)
    );
    assert!(!flag(&direct.device, direct.now));
    direct.device.on_disconnect(direct.now);
    assert!(
        direct.advance(Duration::from_secs(2)).is_empty(),
        "nobody to tell"
    );
    let snapshot = direct.device.snapshot();
    assert!(!snapshot.moving);
    assert_eq!(snapshot.lock_state, LockState::Locked.to_u8());
    assert!(flag(&direct.device, direct.now), "the end raises the flag");
    assert_eq!(snapshot.last_action, (LockAction::Lock.to_u8(), 0x00, 0x00));
    assert_eq!(snapshot.authorizations[0].lock_count, 1);
    direct.device.on_connect(direct.now);
    let entry = newest_log_entry(&mut direct);
    assert_eq!(entry.auth_id, direct.auth_id);
    assert_eq!(entry.auth_name, "Gateway");
    assert!(
        matches!(
            entry.data,
            LogData::LockAction {
                action: DeviceAction::Lock(LockAction::Lock),
                completion_status: nuki_edge::nuki::enums::CompletionStatus::Success,
                ..
            }
        ),
        "{:?}",
        entry.data
    );

    // A jam after the requester left is logged and flagged the same way.
    direct.device.inject_fault(Fault::Jam);
    let replies = direct.command(&lock_action(LockAction::Unlock));
    assert_eq!(replies[0], Message::Status(StatusCode::Accepted));
    direct.states();
    assert!(!flag(&direct.device, direct.now));
    direct.device.on_disconnect(direct.now);
    assert!(direct.advance(Duration::from_secs(2)).is_empty());
    assert_eq!(
        direct.device.snapshot().lock_state,
        LockState::MotorBlocked.to_u8()
    );
    assert!(flag(&direct.device, direct.now));
    direct.device.on_connect(direct.now);
    let entry = newest_log_entry(&mut direct);
    assert!(
        matches!(
            entry.data,
            LogData::LockAction {
                action: DeviceAction::Lock(LockAction::Unlock),
                completion_status: nuki_edge::nuki::enums::CompletionStatus::MotorBlocked,
                ..
            }
        ),
        "{:?}",
        entry.data
    );
}
