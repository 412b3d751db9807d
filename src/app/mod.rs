//! CLI commands and daemon wiring.

pub mod accounts_cli;
pub mod backend;
pub mod bridge;
pub mod cli;
pub mod control;
pub mod decode;
pub mod device_command;
pub mod doctor;
pub mod logging;
pub mod mqtt;
pub mod ops;
pub mod radios;
pub mod run;
pub mod settings_writer;
pub mod shutdown;
pub mod sim_cli;
pub mod supervisor;
pub mod systemd;
