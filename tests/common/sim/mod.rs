//! A minimal client of the simulated devices, built only from the public protocol functions
//! (frame, crypto, messages), so the simulator is checked against the protocol and not
//! against the gateway's own client code.

pub mod codec;
pub mod direct;
pub mod link_client;
pub mod messages;
pub mod pairing_script;
