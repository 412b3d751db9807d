//! nuki-edge: a building gateway for Nuki Boxes, Smart Locks and Openers.
//!
//! Layers, bottom to top: `nuki` (protocol, pure), `ble` (radio), `devices` (fleet), `store`,
//! `gateway` (the core), the interfaces (`http`, `mqtt`), and `config` + `app` (CLI and wiring).

pub mod access;
pub mod app;
pub mod ble;
pub mod clock;
pub mod config;
pub mod devices;
pub mod events;
pub mod gateway;
pub mod http;
pub mod mqtt;
pub mod nuki;
pub mod store;
