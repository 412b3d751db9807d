//! The device's activity log and the selection rules of Request Log Entries (§4.2.28).

use std::collections::VecDeque;

use crate::nuki::codec::DateTime;
use crate::nuki::enums::{LogEntryType, SortOrder};
use crate::nuki::messages::{LogData, LogEntry};

#[derive(Debug)]
pub(crate) struct Logbook {
    entries: VecDeque<LogEntry>,
    next_index: u32,
    capacity: usize,
    enabled: bool,
}

/// Who caused a log entry.
#[derive(Debug, Clone)]
pub(crate) struct LogAuthor {
    pub auth_id: u32,
    pub name: String,
}

impl LogAuthor {
    /// Entries without an authorization (manual turns, door sensor) carry id 0.
    pub fn device() -> Self {
        Self {
            auth_id: 0,
            name: String::new(),
        }
    }
}

impl Logbook {
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            next_index: 1,
            capacity: capacity.max(1),
            enabled: true,
        }
    }

    pub fn enabled(&self) -> bool {
        self.enabled
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Adds an entry when logging is enabled; the oldest entry goes when the log is full.
    pub fn record(
        &mut self,
        time: DateTime,
        author: &LogAuthor,
        entry_type: LogEntryType,
        data: LogData,
    ) {
        if self.enabled {
            self.push(time, author, entry_type, data);
        }
    }

    /// Enable Logging: the switch itself is always logged.
    pub fn set_enabled(&mut self, enabled: bool, time: DateTime, author: &LogAuthor) {
        self.enabled = enabled;
        self.push(
            time,
            author,
            LogEntryType::LoggingEnabled,
            LogData::Enabled { enabled },
        );
    }

    fn push(
        &mut self,
        time: DateTime,
        author: &LogAuthor,
        entry_type: LogEntryType,
        data: LogData,
    ) {
        if self.entries.len() == self.capacity {
            self.entries.pop_front();
        }
        self.entries.push_back(LogEntry {
            index: self.next_index,
            timestamp: time,
            auth_id: author.auth_id,
            auth_name: author.name.clone(),
            entry_type,
            data,
        });
        self.next_index = self.next_index.wrapping_add(1).max(1);
    }

    /// The index the next entry gets (a test starts it near `u32::MAX` to see the counter
    /// wrap, or at 1 to act out a reset). 0 means "start" in requests and is never used.
    pub fn set_next_index(&mut self, index: u32) {
        self.next_index = index.max(1);
    }

    /// Every entry the device holds, oldest first.
    pub fn entries(&self) -> Vec<LogEntry> {
        self.entries.iter().cloned().collect()
    }

    /// Entries strictly newer (ascending) or older (descending) than the entry with
    /// `start_index`; 0 starts at the oldest or newest entry. "Newer" and "older" are
    /// positions in the log, not index values: the index counter wraps past `u32::MAX` and
    /// restarts after a reset, and a real device still answers by position then. An index
    /// the device no longer holds (dropped from the full log) is older than every entry.
    pub fn select(&self, start_index: u32, count: u16, order: SortOrder) -> Vec<LogEntry> {
        let count = usize::from(count);
        // The newest entry with that index: after a restart of the counter, the recent one.
        let start = (start_index != 0)
            .then(|| self.entries.iter().rposition(|e| e.index == start_index))
            .flatten();
        if order == SortOrder::Descending {
            let end = match (start_index, start) {
                (0, _) => self.entries.len(),
                (_, Some(position)) => position,
                (_, None) => 0,
            };
            self.entries
                .range(..end)
                .rev()
                .take(count)
                .cloned()
                .collect()
        } else {
            let begin = start.map_or(0, |position| position + 1);
            self.entries.range(begin..).take(count).cloned().collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn book(entries: u32) -> Logbook {
        let mut book = Logbook::new(100);
        for _ in 0..entries {
            book.record(
                DateTime::default(),
                &LogAuthor::device(),
                LogEntryType::DoorSensorLogging,
                LogData::Enabled { enabled: true },
            );
        }
        book
    }

    fn indexes(entries: &[LogEntry]) -> Vec<u32> {
        entries.iter().map(|entry| entry.index).collect()
    }

    #[test]
    fn selection_excludes_the_start_index() {
        let book = book(5);
        assert_eq!(indexes(&book.select(0, 3, SortOrder::Ascending)), [1, 2, 3]);
        assert_eq!(
            indexes(&book.select(2, 10, SortOrder::Ascending)),
            [3, 4, 5]
        );
        assert_eq!(indexes(&book.select(0, 2, SortOrder::Descending)), [5, 4]);
        assert_eq!(
            indexes(&book.select(4, 10, SortOrder::Descending)),
            [3, 2, 1]
        );
        assert!(book.select(5, 10, SortOrder::Ascending).is_empty());
    }

    #[test]
    fn selection_follows_positions_across_the_index_wrap() {
        let mut book = Logbook::new(100);
        book.set_next_index(u32::MAX - 1);
        for _ in 0..4 {
            book.record(
                DateTime::default(),
                &LogAuthor::device(),
                LogEntryType::DoorSensorLogging,
                LogData::Enabled { enabled: true },
            );
        }
        // The counter skips 0, which means "start" in a request.
        assert_eq!(
            indexes(&book.select(0, 10, SortOrder::Ascending)),
            [u32::MAX - 1, u32::MAX, 1, 2]
        );
        assert_eq!(
            indexes(&book.select(1, 10, SortOrder::Descending)),
            [u32::MAX, u32::MAX - 1]
        );
        assert_eq!(
            indexes(&book.select(u32::MAX, 10, SortOrder::Ascending)),
            [1, 2]
        );
    }

    #[test]
    fn an_index_no_longer_held_is_older_than_every_entry() {
        let mut book = Logbook::new(3);
        for _ in 0..5 {
            book.record(
                DateTime::default(),
                &LogAuthor::device(),
                LogEntryType::LockAction,
                LogData::Enabled { enabled: true },
            );
        }
        assert_eq!(
            indexes(&book.select(1, 10, SortOrder::Ascending)),
            [3, 4, 5]
        );
        assert!(book.select(1, 10, SortOrder::Descending).is_empty());
    }

    #[test]
    fn disabled_logging_records_only_the_switch() {
        let mut book = book(1);
        book.set_enabled(false, DateTime::default(), &LogAuthor::device());
        book.record(
            DateTime::default(),
            &LogAuthor::device(),
            LogEntryType::LockAction,
            LogData::Enabled { enabled: true },
        );
        assert_eq!(book.len(), 2);
        assert!(!book.enabled());
    }

    #[test]
    fn full_log_drops_the_oldest() {
        let mut book = Logbook::new(2);
        for _ in 0..3 {
            book.record(
                DateTime::default(),
                &LogAuthor::device(),
                LogEntryType::LockAction,
                LogData::Enabled { enabled: true },
            );
        }
        assert_eq!(indexes(&book.select(0, 10, SortOrder::Ascending)), [2, 3]);
    }
}
