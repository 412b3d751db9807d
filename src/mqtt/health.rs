//! `<prefix>/gateway/health`: a small JSON report published every `mqtt.health_interval_s`.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Health {
    /// Seconds since the MQTT interface started.
    pub uptime_s: u64,
    /// Paired devices.
    pub devices: usize,
    /// Paired devices that answered their last contact.
    pub devices_reachable: usize,
    /// Connections to the broker after the first one.
    pub broker_reconnects: u64,
    /// Commands received over MQTT, answered or not.
    pub commands_received: u64,
    /// Activity log events the broker acknowledged on `<prefix>/gateway/events`.
    pub events_delivered: u64,
    /// Activity log events retention pruned before they were delivered.
    pub events_dropped: u64,
    /// Activity log events stored but not delivered yet.
    pub events_backlog: u64,
    pub version: &'static str,
}

impl Health {
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}
