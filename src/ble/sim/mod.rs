//! Simulated Nuki Boxes, Smart Locks and Openers: the peripheral side of the protocol behind
//! the [`BleTransport`](super::BleTransport) trait, so that the gateway's client code can be
//! tested end to end without hardware.
//!
//! The protocol logic ([`SimDevice`]) is synchronous and driven by simulated time; the
//! transport is a thin tokio layer that adds radio delays, fragmentation and faults.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use nuki_edge::ble::sim::{Fault, RadioModel, SimDeviceSpec, SimKind, SimTransport};
//! use nuki_edge::ble::BleTransport;
//!
//! let door = SimDeviceSpec::new("sim:door", "Front door", 0x1122_3344, SimKind::SmartLock4);
//! let address = door.address.clone();
//! let (transport, control) = SimTransport::new(vec![door], RadioModel::default());
//! control.press_button(&address)?; // pairing mode for 30 s
//! let link = transport.connect(&address).await?; // the gateway's client takes it from here
//! control.inject_fault(&address, Fault::Jam)?; // the next movement blocks
//! # drop(link);
//! # Ok(())
//! # }
//! ```
//!
//! Several radios may listen to one building from their own positions
//! ([`SimTransport::with_radios`]); how loud each hears a device, and how often it misses one,
//! follows [`PathLoss`].
//!
//! Everything random (keys, nonces, RSSI jitter, packet loss) comes from ChaCha streams seeded per device,
//! so the same seeds give the same bytes. [`SimControl`] never reaches into a link: what the
//! gateway knows, it learned over the radio.

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
mod path_loss;
mod pin;
mod radio;
mod schedule;
mod settings;
mod spec;
mod transport;

pub use device::{
    AuthorizationSnapshot, ControlError, Fault, KeypadOutcome, Outbound, SimDevice, SimSnapshot,
};
pub use entropy::ForcedSecrets;
pub use memory::{DeviceMemory, StoredAuthorization};
pub use path_loss::{PathLoss, Position, SimRadioSpec};
pub use radio::RadioModel;
pub use spec::{InitialPosition, SimDeviceSpec, SimKind};
pub use transport::{SimControl, SimError, SimLink, SimTransport};
