//! The numbers and texts the Nuki Bridge HTTP API (A.3) and Nuki's own MQTT give states
//! and times. Both interfaces render with them, so they live below both.

use time::macros::format_description;

use crate::nuki::enums::{DeviceLockState, DoorSensorState, LockState, NukiState, OpenerLockState};

/// `mode`: 3 for an Opener in continuous mode, else 2 (door mode); the API knows no others.
pub fn bridge_mode(state: NukiState) -> u8 {
    match state {
        NukiState::ContinuousMode => 3,
        _ => 2,
    }
}

/// `state` and `stateName` (A.3), lowercase as real Bridges send them. State 6 is spelled
/// `unlocked (lock 'n' go)` with ASCII apostrophes: the PDF's curly quotes are typesetting,
/// and the action names elsewhere in the API text use plain `lock 'n' go`; no client reads
/// `stateName` for logic (HA uses `state`). Values outside the Bridge table (lock calibration
/// 252, unknown bytes) become 255 `undefined`, which Home Assistant shows as unavailable
/// instead of guessing "unlocked".
pub fn bridge_state(state: DeviceLockState) -> (u8, &'static str) {
    match state {
        DeviceLockState::Lock(lock) => match lock {
            LockState::Uncalibrated => (0, "uncalibrated"),
            LockState::Locked => (1, "locked"),
            LockState::Unlocking => (2, "unlocking"),
            LockState::Unlocked => (3, "unlocked"),
            LockState::Locking => (4, "locking"),
            LockState::Unlatched => (5, "unlatched"),
            LockState::UnlockedLockNGo => (6, "unlocked (lock 'n' go)"),
            LockState::Unlatching => (7, "unlatching"),
            LockState::BootRun => (253, "boot run"),
            LockState::MotorBlocked => (254, "motor blocked"),
            LockState::Calibration | LockState::Undefined | LockState::Unknown(_) => {
                (255, "undefined")
            }
        },
        DeviceLockState::Opener(opener) => match opener {
            OpenerLockState::Untrained => (0, "untrained"),
            OpenerLockState::Online => (1, "online"),
            OpenerLockState::RtoActive => (3, "rto active"),
            OpenerLockState::Open => (5, "open"),
            OpenerLockState::Opening => (7, "opening"),
            OpenerLockState::BootRun => (253, "boot run"),
            OpenerLockState::Undefined | OpenerLockState::Unknown(_) => (255, "undefined"),
        },
    }
}

/// `doorsensorState` and `doorsensorStateName` (A.3), or `None` when the lock has no door
/// sensor (state 0 "unavailable"). 240 is "removed" in the Bridge API ("tampered" over BLE).
pub fn bridge_door_sensor(state: DoorSensorState) -> Option<(u8, &'static str)> {
    let name = match state {
        DoorSensorState::Unavailable => return None,
        DoorSensorState::Deactivated => "deactivated",
        DoorSensorState::DoorClosed => "door closed",
        DoorSensorState::DoorOpened => "door opened",
        DoorSensorState::DoorStateUnknown => "door state unknown",
        DoorSensorState::Calibrating => "calibrating",
        DoorSensorState::Uncalibrated => "uncalibrated",
        DoorSensorState::Tampered => "removed",
        DoorSensorState::Unspecified | DoorSensorState::Unknown(_) => "unknown",
    };
    Some((state.to_u8(), name))
}

/// Bridge time text: `2018-10-03T06:49:00+00:00` (as real Bridges write `timestamp`).
pub fn bridge_time(unix: i64) -> String {
    let format = format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]+00:00");
    time::OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|moment| moment.format(&format).ok())
        .unwrap_or_else(|| "1970-01-01T00:00:00+00:00".to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nuki::uuids::ServiceFamily;

    #[test]
    fn state_names() {
        let lock = |v| bridge_state(DeviceLockState::from_u8(v, ServiceFamily::Keyturner));
        let opener = |v| bridge_state(DeviceLockState::from_u8(v, ServiceFamily::Opener));
        assert_eq!(lock(6), (6, "unlocked (lock 'n' go)"));
        assert_eq!(lock(254), (254, "motor blocked"));
        assert_eq!(lock(252), (255, "undefined"));
        assert_eq!(lock(9), (255, "undefined"));
        assert_eq!(opener(3), (3, "rto active"));
        assert_eq!(opener(253), (253, "boot run"));
        assert_eq!(opener(2), (255, "undefined"));
        for value in [0u8, 1, 2, 3, 4, 5, 7, 253, 254, 255] {
            assert_eq!(lock(value).0, value);
        }
    }

    #[test]
    fn door_sensor_names() {
        assert_eq!(bridge_door_sensor(DoorSensorState::Unavailable), None);
        assert_eq!(
            bridge_door_sensor(DoorSensorState::DoorOpened),
            Some((3, "door opened"))
        );
        assert_eq!(
            bridge_door_sensor(DoorSensorState::Tampered),
            Some((240, "removed"))
        );
        assert_eq!(
            bridge_door_sensor(DoorSensorState::Unspecified),
            Some((255, "unknown"))
        );
    }
}
