//! Commands over MQTT: the payloads Nuki's MQTT API accepts, and the `commandResponse` code
//! for every outcome. `0` is success; 1-255 are the device's own BLE error codes, and the
//! gateway's own refusals use codes the devices never send (224-230, documented in README).

use crate::gateway::Refusal;
use crate::nuki::enums::{DeviceAction, ErrorCode, LockAction, OpenerAction};

use super::topics::CommandKind;

/// `commandResponse` of a command that was carried out.
pub const RESPONSE_SUCCESS: u8 = 0;
/// The payload is no action this device accepts (not a number in range, not `true`).
pub const RESPONSE_MALFORMED: u8 = 224;
/// The access rules refuse the MQTT integration (`mqtt.rights` lacks `operate_doors`, or the
/// device is outside its grant).
pub const RESPONSE_DENIED: u8 = 225;
/// No paired device has this Nuki ID.
pub const RESPONSE_UNKNOWN_DEVICE: u8 = 226;
/// The device is busy with another action.
pub const RESPONSE_BUSY: u8 = 227;
/// The device cannot be reached over Bluetooth.
pub const RESPONSE_UNREACHABLE: u8 = 228;
/// The device did not finish within the gateway's action deadline.
pub const RESPONSE_TIMED_OUT: u8 = 229;
/// The gateway is shutting down.
pub const RESPONSE_SHUTTING_DOWN: u8 = 230;

/// The highest action id Nuki's MQTT API accepts for a lock (6, full lock) and for an Opener
/// (5, deactivate continuous mode).
const MAX_LOCK_ACTION: u8 = 6;
const MAX_OPENER_ACTION: u8 = 5;

/// A payload that is no command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("malformed command payload")]
pub struct MalformedCommand;

/// The action a command asks of a device (`opener`: the device is an Opener, whose action
/// ids and meaning of lock/unlock differ: unlock activates ring-to-open, lock deactivates it).
pub fn parse_command(
    kind: CommandKind,
    payload: &[u8],
    opener: bool,
) -> Result<DeviceAction, MalformedCommand> {
    let text = std::str::from_utf8(payload)
        .map_err(|_| MalformedCommand)?
        .trim();
    match kind {
        CommandKind::LockAction => {
            let id: u8 = text.parse().map_err(|_| MalformedCommand)?;
            let max = if opener {
                MAX_OPENER_ACTION
            } else {
                MAX_LOCK_ACTION
            };
            if !(1..=max).contains(&id) {
                return Err(MalformedCommand);
            }
            Ok(if opener {
                DeviceAction::Opener(OpenerAction::from_u8(id))
            } else {
                DeviceAction::Lock(LockAction::from_u8(id))
            })
        }
        CommandKind::Lock | CommandKind::Unlock => {
            if text != "true" {
                return Err(MalformedCommand);
            }
            let lock = kind == CommandKind::Lock;
            Ok(match (opener, lock) {
                (false, true) => DeviceAction::Lock(LockAction::Lock),
                (false, false) => DeviceAction::Lock(LockAction::Unlock),
                (true, true) => DeviceAction::Opener(OpenerAction::DeactivateRto),
                (true, false) => DeviceAction::Opener(OpenerAction::ActivateRto),
            })
        }
    }
}

/// The `commandResponse` code of a refusal: the device's own error code where it sent one.
pub fn refusal_code(refusal: &Refusal) -> u8 {
    match refusal {
        Refusal::RefusedByDevice { code } => code.to_u8(),
        Refusal::MotorBlocked => ErrorCode::KErrorMotorBlocked.to_u8(),
        Refusal::Denied { .. } => RESPONSE_DENIED,
        Refusal::UnknownDevice => RESPONSE_UNKNOWN_DEVICE,
        Refusal::Busy => RESPONSE_BUSY,
        Refusal::Unreachable { .. } => RESPONSE_UNREACHABLE,
        Refusal::TimedOut => RESPONSE_TIMED_OUT,
        Refusal::ShuttingDown => RESPONSE_SHUTTING_DOWN,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_actions_one_to_six_only() {
        for id in 1..=6u8 {
            let action = parse_command(CommandKind::LockAction, id.to_string().as_bytes(), false);
            assert_eq!(action.map(DeviceAction::to_u8), Ok(id));
        }
        for bad in ["0", "7", "80", "-1", "lock", "", "2.0", "256"] {
            assert_eq!(
                parse_command(CommandKind::LockAction, bad.as_bytes(), false),
                Err(MalformedCommand),
                "{bad:?}"
            );
        }
        assert_eq!(
            parse_command(CommandKind::LockAction, b"6", true),
            Err(MalformedCommand)
        );
        assert_eq!(
            parse_command(CommandKind::LockAction, b" 2\n", false),
            Ok(DeviceAction::Lock(LockAction::Lock))
        );
    }

    #[test]
    fn lock_and_unlock_take_true_only() {
        assert_eq!(
            parse_command(CommandKind::Lock, b"true", false),
            Ok(DeviceAction::Lock(LockAction::Lock))
        );
        assert_eq!(
            parse_command(CommandKind::Unlock, b"true", false),
            Ok(DeviceAction::Lock(LockAction::Unlock))
        );
        assert_eq!(
            parse_command(CommandKind::Unlock, b"true", true),
            Ok(DeviceAction::Opener(OpenerAction::ActivateRto))
        );
        for bad in [&b"false"[..], b"1", b"\xff"] {
            assert_eq!(
                parse_command(CommandKind::Lock, bad, false),
                Err(MalformedCommand)
            );
        }
    }

    #[test]
    fn gateway_refusals_never_look_like_success_or_a_device_code() {
        let device_codes = [0x10u8, 0x20, 0x2E, 0x40, 0x50, 0xFD, 0xFE, 0xFF];
        for refusal in [
            Refusal::UnknownDevice,
            Refusal::Busy,
            Refusal::TimedOut,
            Refusal::ShuttingDown,
        ] {
            let code = refusal_code(&refusal);
            assert_ne!(code, RESPONSE_SUCCESS);
            assert!(!device_codes.contains(&code));
        }
        assert_eq!(
            refusal_code(&Refusal::RefusedByDevice {
                code: ErrorCode::KErrorBadPin
            }),
            0x21
        );
    }
}
