//! CLI commands and daemon wiring (in progress).

pub mod decode;
