//! CLI commands and daemon wiring.

pub mod cli;
pub mod decode;
pub mod logging;
pub mod shutdown;
