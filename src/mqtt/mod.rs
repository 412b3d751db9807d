//! MQTT: Nuki's MQTT API layout (`<prefix>/<NUKI ID>/state`, `lockAction`, …), Home
//! Assistant discovery, commands decided by the access rules as the integration `mqtt`, and
//! the gateway's own topics (`<prefix>/gateway/state|health|events`).
//!
//! The pure parts (topics, state payloads, command parsing, discovery JSON) are apart from
//! the thin client loop in [`client`], which alone talks to rumqttc.

pub mod backoff;
pub mod client;
pub mod commands;
pub mod delivery;
pub mod discovery;
pub mod health;
mod in_flight;
pub mod log_actions;
pub mod message;
pub mod state;
pub mod tls;
pub mod topics;

pub use client::{start, MqttError, MqttHandle, MqttSettings, MqttTask, MQTT_PRINCIPAL};
pub use message::Message;
pub use state::EventTrigger;
pub use topics::Topics;
