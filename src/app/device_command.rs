//! The commands an installer gives a paired device from the command line, in the daemon's
//! and the device's terms.

use serde::{Deserialize, Serialize};

use crate::nuki::enums::{DeviceAction, LockAction, OpenerAction};
use crate::nuki::uuids::ServiceFamily;

/// A command on a paired device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceCommand {
    State,
    Lock,
    Unlock,
    Unlatch,
}

impl DeviceCommand {
    /// The device action, in the device's own action set (an Opener's "unlock" activates ring
    /// to open, its "unlatch" opens the door, as in the Bridge API).
    pub fn action(self, family: ServiceFamily) -> Option<DeviceAction> {
        let lock = |action| Some(DeviceAction::Lock(action));
        let opener = |action| Some(DeviceAction::Opener(action));
        match (self, family.is_opener()) {
            (DeviceCommand::State, _) => None,
            (DeviceCommand::Lock, false) => lock(LockAction::Lock),
            (DeviceCommand::Unlock, false) => lock(LockAction::Unlock),
            (DeviceCommand::Unlatch, false) => lock(LockAction::Unlatch),
            (DeviceCommand::Lock, true) => opener(OpenerAction::DeactivateRto),
            (DeviceCommand::Unlock, true) => opener(OpenerAction::ActivateRto),
            (DeviceCommand::Unlatch, true) => opener(OpenerAction::ElectricStrikeActuation),
        }
    }
}
