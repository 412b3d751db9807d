//! CLI commands and daemon wiring.

pub mod backend;
pub mod bridge;
pub mod cli;
pub mod decode;
pub mod logging;
pub mod ops;
pub mod run;
pub mod shutdown;
