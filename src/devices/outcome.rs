//! How a command on a device ends: exactly one of these, always within its deadline.

use serde::Serialize;

use crate::nuki::enums::ErrorCode;
use crate::nuki::messages::KeyturnerStates;

/// The command was carried out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Completed {
    /// The device's state afterwards, as it reported it.
    pub state: Option<KeyturnerStates>,
}

/// Why a command was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Failure {
    #[error("device unreachable: {reason}")]
    Unreachable { reason: String },
    #[error("device busy with another action")]
    Busy,
    #[error("motor blocked or jammed")]
    MotorBlocked,
    #[error("refused by the device: {code}")]
    Refused { code: ErrorCode },
    #[error("no result within the deadline")]
    TimedOut,
    #[error("no such paired device")]
    UnknownDevice,
    #[error("the fleet is shutting down")]
    ShuttingDown,
}

pub type Outcome = Result<Completed, Failure>;
