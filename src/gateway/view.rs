//! What the gateway answers: its own view of a device and its own result type, so the
//! interfaces never see the fleet's types.

use serde::Serialize;

pub use crate::access::DenialReason;

use crate::access::DeviceId;
use crate::ble::DeviceAddress;
use crate::devices::fleet::DeviceInfo;
use crate::devices::outcome::{Completed, Failure};
use crate::nuki::enums::ErrorCode;
use crate::nuki::messages::KeyturnerStates;
use crate::nuki::product::ProductType;

pub use crate::devices::outcome::UnreachableReason;

/// A paired device as the interfaces see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceView {
    /// Nuki Web `smartlockId`, the id the management API uses.
    pub id: DeviceId,
    pub address: DeviceAddress,
    pub name: String,
    pub nuki_id: u32,
    pub product: ProductType,
}

impl From<DeviceInfo> for DeviceView {
    fn from(info: DeviceInfo) -> Self {
        Self {
            id: DeviceId::from_parts(info.product.web_api_type(), info.nuki_id),
            address: info.address,
            name: info.name,
            nuki_id: info.nuki_id,
            product: info.product,
        }
    }
}

/// What a device reported after a command the gateway ran for somebody.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DeviceReport {
    /// The device's state afterwards, when it sent one.
    pub state: Option<KeyturnerStates>,
}

/// Why the gateway did not do what was asked. Every interface maps these to its own
/// answers (HTTP status, MQTT availability, CLI exit code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "refusal", rename_all = "snake_case")]
pub enum Refusal {
    #[error("denied: {reason}")]
    Denied { reason: DenialReason },
    #[error("no such paired device")]
    UnknownDevice,
    #[error("device busy with another action")]
    Busy,
    #[error("the fleet is shutting down")]
    ShuttingDown,
    #[error("device unreachable: {reason}")]
    Unreachable { reason: UnreachableReason },
    #[error("motor blocked or jammed")]
    MotorBlocked,
    #[error("refused by the device: {code}")]
    RefusedByDevice { code: ErrorCode },
    #[error("no result within the deadline")]
    TimedOut,
}

impl From<Failure> for Refusal {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Unreachable { reason } => Refusal::Unreachable { reason },
            Failure::Busy => Refusal::Busy,
            Failure::MotorBlocked => Refusal::MotorBlocked,
            Failure::Refused { code } => Refusal::RefusedByDevice { code },
            Failure::TimedOut => Refusal::TimedOut,
            Failure::UnknownDevice => Refusal::UnknownDevice,
            Failure::ShuttingDown => Refusal::ShuttingDown,
        }
    }
}

impl From<Completed> for DeviceReport {
    fn from(completed: Completed) -> Self {
        Self {
            state: completed.state,
        }
    }
}

/// Every answer of the gateway.
pub type GatewayResult<T> = Result<T, Refusal>;

/// The radios and the routes of the devices a caller may see.
#[derive(Debug, Clone)]
pub struct RadiosView {
    pub radios: Vec<crate::ble::radios::RadioReport>,
    /// Each visible paired device some radio heard (or that is pinned), with its route.
    pub routes: Vec<(DeviceView, crate::ble::radios::RouteReport)>,
}
