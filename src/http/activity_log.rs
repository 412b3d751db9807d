//! The `/log` endpoint's lines, read from the stored activity log: lock actions through the
//! gateway and Bluetooth connects, newest first, as the Bridge writes them.

use std::sync::Arc;

use serde::Serialize;

use crate::events::{EventFilter, EventKind, EventLog, EventsError, OutcomeResult, StoredEvent};

use super::bridge_json::bridge_time;

/// The consumer cursor under which `/clearlog` remembers up to which event the log was
/// cleared (the stored log itself is shared, so it is only hidden from `/log`).
pub const CLEARED_CURSOR: &str = "bridge-log-cleared";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogLine {
    pub timestamp: String,
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Hex, as the Bridge writes it in its log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nuki_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<String>,
}

impl LogLine {
    fn from_event(stored: &StoredEvent) -> Option<Self> {
        let event = &stored.event;
        let nuki_id = event
            .device
            .as_ref()
            .and_then(|device| device.nuki_id)
            .map(|id| format!("{id:X}"));
        match event.kind {
            EventKind::Action => Some(LogLine {
                timestamp: bridge_time(event.time),
                kind: "lock-action",
                nuki_id,
                action: event.action.clone(),
                result: event.outcome.as_ref().map(|outcome| match outcome.result {
                    OutcomeResult::Success => "success".to_owned(),
                    _ => outcome
                        .reason
                        .clone()
                        .unwrap_or_else(|| "failed".to_owned()),
                }),
            }),
            EventKind::Connected => Some(LogLine {
                timestamp: bridge_time(event.time),
                kind: "ble-connect",
                nuki_id,
                action: None,
                result: None,
            }),
            _ => None,
        }
    }
}

/// Lines `offset..offset + count`, newest first.
pub fn page(log: &Arc<EventLog>, offset: usize, count: usize) -> Result<Vec<LogLine>, EventsError> {
    let filter = EventFilter {
        kinds: Some(vec![EventKind::Action, EventKind::Connected]),
        after_id: log.cursor(CLEARED_CURSOR)?,
        ..EventFilter::default()
    };
    let events = log.newest(&filter, None, offset.saturating_add(count))?;
    Ok(events
        .iter()
        .skip(offset)
        .filter_map(LogLine::from_event)
        .collect())
}

/// Hides every line so far from `/log`.
pub fn clear(log: &Arc<EventLog>) -> Result<(), EventsError> {
    log.save_cursor(CLEARED_CURSOR, log.latest_id())
}
