//! The `/log` endpoint's memory: the most recent gateway events, newest first.

use std::collections::VecDeque;
use std::sync::Mutex;

use serde::Serialize;

/// Entries kept for `/log`.
pub const LOG_CAPACITY: usize = 500;

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

#[derive(Default)]
pub struct ActivityLog {
    lines: Mutex<VecDeque<LogLine>>,
}

impl ActivityLog {
    pub fn record(&self, line: LogLine) {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        if lines.len() == LOG_CAPACITY {
            lines.pop_back();
        }
        lines.push_front(line);
    }

    pub fn page(&self, offset: usize, count: usize) -> Vec<LogLine> {
        let lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        lines.iter().skip(offset).take(count).cloned().collect()
    }

    pub fn clear(&self) {
        self.lines.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }
}
