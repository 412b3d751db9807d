//! CLI commands and daemon wiring.

pub mod cli;
pub mod logging;
pub mod shutdown;
