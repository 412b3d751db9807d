//! The fleet: links to paired devices.

pub mod link;
