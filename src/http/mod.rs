//! The Nuki Bridge HTTP API (v1.13): pure parts (token checks, tolerant query parsing, the
//! JSON shapes clients expect) and the server on top of the gateway core.

pub mod activity_log;
pub mod api;
pub mod bridge_json;
mod callback_feed;
pub mod callbacks;
pub mod guard;
pub mod listener;
pub mod metrics;
pub mod query;
pub mod router;
pub mod server;
pub mod token;
