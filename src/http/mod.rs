//! The Nuki Bridge HTTP API (v1.13), pure parts: token checks, tolerant query parsing and the
//! JSON shapes clients (pynuki/Home Assistant, openHAB, ioBroker, scripts) expect. No I/O:
//! the router calls these with the request's query string and the current time.

pub mod bridge_json;
pub mod query;
pub mod token;
