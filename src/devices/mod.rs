//! The fleet: links to paired devices.

pub mod client;
pub mod link;
