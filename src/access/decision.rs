//! What is asked and what the rules answer.

use serde::Serialize;

use super::rights::Capability;

/// What a principal wants to do with a device.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    /// See the device and its state.
    View,
    /// Lock, unlock, unlatch, or any other movement.
    Operate,
}

/// The answer: allowed, or denied with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny(DenialReason),
}

impl Decision {
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow)
    }

    pub fn into_result(self) -> Result<(), DenialReason> {
        match self {
            Decision::Allow => Ok(()),
            Decision::Deny(reason) => Err(reason),
        }
    }
}

/// Why a request was denied. Names no person, code or secret, so it may be shown, logged and
/// published as it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, thiserror::Error)]
#[serde(tag = "reason", rename_all = "snake_case")]
pub enum DenialReason {
    #[error("this account or integration lacks the right `{capability}`")]
    MissingRight { capability: Capability },
    #[error("no permission for this device")]
    NoPermission,
    #[error("the permission is disabled")]
    PermissionDisabled,
    #[error("the permission is not valid yet")]
    NotYetValid,
    #[error("the permission has expired")]
    Expired,
    #[error("the permission does not allow this weekday")]
    WrongWeekday,
    #[error("outside the permission's daily time window")]
    OutsideDailyWindow,
    #[error("the permission may not be used remotely")]
    RemoteNotAllowed,
    #[error("the gateway's clock is not trusted, so time-limited permissions are refused")]
    ClockUntrusted,
}
