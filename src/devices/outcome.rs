//! How a command on a device ends: exactly one of these, always within its deadline.

use serde::Serialize;

use crate::ble::BleError;
use crate::nuki::enums::ErrorCode;
use crate::nuki::messages::KeyturnerStates;

use super::link::LinkError;

/// The command was carried out.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Completed {
    /// The device's state afterwards, as it reported it.
    pub state: Option<KeyturnerStates>,
}

/// Why a device could not be reached; metrics, availability and the UI tell these apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, thiserror::Error)]
#[serde(rename_all = "snake_case")]
pub enum UnreachableReason {
    /// The radio does not hear the device.
    #[error("out of range")]
    OutOfRange,
    /// Earlier connections failed; background work waits before trying again.
    #[error("backing off after failed connections")]
    BackingOff,
    #[error("connect timed out")]
    ConnectTimeout,
    /// The device was heard but refused or broke off the connection.
    #[error("connection failed")]
    ConnectFailed,
    /// The link broke while a command was running.
    #[error("link lost")]
    LinkLost,
    /// The link stayed up but the device did not answer in time.
    #[error("no answer")]
    NoAnswer,
    #[error("not a Nuki device")]
    NotNuki,
    /// The adapter or its driver failed.
    #[error("radio error")]
    Radio,
    /// The device answered something the protocol does not allow here.
    #[error("protocol error")]
    Protocol,
}

impl UnreachableReason {
    /// What a link failure means for the device's reachability.
    pub fn of_link_error(error: &LinkError) -> Self {
        match error {
            LinkError::Ble(ble) => Self::of_ble_error(ble),
            LinkError::NotNuki(_) => Self::NotNuki,
            LinkError::Timeout { .. } => Self::NoAnswer,
            LinkError::Pairing(_) | LinkError::Exchange(_) | LinkError::MissingReply => {
                Self::Protocol
            }
        }
    }

    /// The same, for a failure while the link was being opened: any timeout there is a
    /// connect timeout.
    pub fn of_connect_error(error: &LinkError) -> Self {
        match error {
            LinkError::Timeout { .. } | LinkError::Ble(BleError::Timeout { .. }) => {
                Self::ConnectTimeout
            }
            other => Self::of_link_error(other),
        }
    }

    pub fn of_ble_error(error: &BleError) -> Self {
        match error {
            BleError::NotFound(_) => Self::OutOfRange,
            BleError::ConnectFailed { .. } => Self::ConnectFailed,
            BleError::Timeout { .. } => Self::NoAnswer,
            BleError::Disconnected => Self::LinkLost,
            BleError::NoSuchCharacteristic(_) => Self::NotNuki,
            BleError::Adapter(_) => Self::Radio,
        }
    }
}

/// Why a command was not carried out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Failure {
    #[error("device unreachable: {reason}")]
    Unreachable { reason: UnreachableReason },
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

impl Failure {
    pub fn unreachable(reason: UnreachableReason) -> Self {
        Failure::Unreachable { reason }
    }

    /// A short fixed name of the kind of failure, for metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            Failure::Unreachable { .. } => "unreachable",
            Failure::Busy => "busy",
            Failure::MotorBlocked => "motor_blocked",
            Failure::Refused { .. } => "refused",
            Failure::TimedOut => "timed_out",
            Failure::UnknownDevice => "unknown_device",
            Failure::ShuttingDown => "shutting_down",
        }
    }
}

pub type Outcome = Result<Completed, Failure>;
