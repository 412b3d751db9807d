//! Simulated Nuki Boxes, Smart Locks and Openers: the peripheral side of the protocol behind
//! the [`BleTransport`](super::BleTransport) trait, so that the gateway's client code can be
//! tested end to end without hardware.
//!
//! The protocol logic ([`SimDevice`]) is synchronous and driven by simulated time; the
//! transport is a thin tokio layer that adds radio delays, fragmentation and faults.

mod auth;
mod clock;
mod device;
mod duration_serde;
mod entropy;
mod keypad;
mod logbook;
mod mechanism;
mod memory;
mod pairing;
mod pin;
mod radio;
mod schedule;
mod settings;
mod spec;
mod transport;

pub use device::{AuthorizationSnapshot, ControlError, Fault, Outbound, SimDevice, SimSnapshot};
pub use entropy::ForcedSecrets;
pub use memory::{DeviceMemory, StoredAuthorization};
pub use radio::RadioModel;
pub use spec::{InitialPosition, SimDeviceSpec, SimKind};
pub use transport::{SimControl, SimError, SimLink, SimTransport};
