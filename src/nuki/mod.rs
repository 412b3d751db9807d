//! The Nuki BLE protocol: framing, CRC, crypto, payloads, pairing and command exchanges.
//!
//! Pure and synchronous: no I/O, no tokio, no logging of secrets.

pub mod advert;
pub mod bridge_numbers;
pub mod codec;
pub mod command;
pub mod crc;
pub mod crypto;
pub mod enums;
pub mod exchange;
pub mod frame;
pub mod messages;
pub mod pairing;
pub mod product;
pub mod reassembly;
pub mod uuids;
