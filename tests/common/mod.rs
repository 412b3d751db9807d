//! The one harness of the integration tests: a typed config builder, the real daemon on any
//! free port, a Bridge API client, the installer CLI, a pairing fixture, and a minimal
//! protocol client for the simulated devices. Each test target compiles this module and uses
//! only some of it, hence the blanket `dead_code` allowance.
#![allow(dead_code)]

pub mod accounts;
pub mod bridge_client;
pub mod bridge_states;
pub mod building;
pub mod building_api;
pub mod callback_receiver;
pub mod cli;
pub mod config;
pub mod core;
pub mod daemon;
pub mod fixture;
pub mod mosquitto;
pub mod sim;
