//! nuki-edge: a building gateway for Nuki Boxes, Smart Locks and Openers.
//!
//! Layers, bottom to top: `nuki` (protocol, pure), `ble` (radio), `store`, `devices` (fleet),
//! `config` and `app` (CLI and wiring).

pub mod app;
pub mod ble;
pub mod config;
pub mod devices;
pub mod http;
pub mod nuki;
pub mod store;
