//! Following each device's own log: which entries are new, read newest first a page at a
//! time, and when a read is due. The device task runs the pages (see `task.rs`).
//!
//! Reading newest first (descending) until the last entry seen is met does not depend on index
//! values: the device's index counter may wrap past `u32::MAX` or restart after a reset, and
//! its full log drops the oldest entries, yet the entry we saw last is recognised by its index
//! and timestamp together. When it is no longer in the log (dropped, or a device never read),
//! everything the device still holds is new: one read then walks the whole log, page by page.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

use crate::nuki::codec::DateTime;
use crate::nuki::messages::LogEntry;

/// Entries asked for per request: small enough that a user's action queued meanwhile waits
/// for one short exchange at most, large enough that a busy log is read in few round trips.
pub const LOG_PAGE: u16 = 25;
/// The first request of a read that knows its position asks for this few: most reads follow
/// one flag and find one or two new entries, and a descending page always fills up with older,
/// already seen ones.
pub const LOG_FIRST_PAGE: u16 = 5;
/// A device's entry count is a u16, so no read needs more pages than this (it guards against
/// a device that keeps answering the same page).
const MAX_PAGES_PER_READ: usize = u16::MAX as usize / LOG_PAGE as usize + 2;
/// After a read failed for a reason that may pass (out of range, link lost), try again this
/// much later, a few times, instead of waiting for the slow schedule.
pub(crate) const LOG_RETRY_DELAY: Duration = Duration::from_secs(30);
const MAX_LOG_RETRIES: u32 = 3;

/// Where the gateway stands in a device's log: the newest entry it has passed on. Give it to
/// [`Fleet::resume_log`](super::fleet::Fleet::resume_log) at startup to continue after a
/// restart without repeating or skipping entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LogPosition {
    pub index: u32,
    /// The entry's timestamp as the device logged it (UTC); with the index it tells a
    /// re-used index (after the counter wrapped or restarted) from the entry seen.
    pub timestamp: DateTime,
}

impl LogPosition {
    pub fn of(entry: &LogEntry) -> Self {
        Self {
            index: entry.index,
            timestamp: entry.timestamp,
        }
    }

    fn is(&self, entry: &LogEntry) -> bool {
        entry.index == self.index && entry.timestamp == self.timestamp
    }
}

/// What the fleet and a device's task share about its log.
#[derive(Debug, Default)]
pub(crate) struct LogShared {
    /// The newest entry passed on (or resumed from); the task moves it when it emits.
    position: Mutex<Option<LogPosition>>,
    /// Someone asks for a read (the state-changed flag rose).
    pub requested: Notify,
}

impl LogShared {
    pub fn position(&self) -> Option<LogPosition> {
        *self.position.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn set_position(&self, position: Option<LogPosition>) {
        *self.position.lock().unwrap_or_else(|p| p.into_inner()) = position;
    }
}

/// What a page did to the read.
#[derive(Debug, PartialEq)]
pub(crate) enum PageStep {
    /// Ask for the next (older) page, from this index.
    More,
    /// The read is over; these entries are new, oldest first (maybe none).
    Done(Vec<LogEntry>),
}

/// One read of the entries newer than `since`, newest first, page by page.
#[derive(Debug)]
pub(crate) struct LogRead {
    since: Option<LogPosition>,
    /// Start index of the next request: 0 (the newest) first, then the oldest entry so far.
    next_start: u32,
    /// New entries, newest first.
    collected: Vec<LogEntry>,
    seen: HashSet<LogPosition>,
    pages: usize,
}

impl LogRead {
    pub fn new(since: Option<LogPosition>) -> Self {
        Self {
            since,
            next_start: 0,
            collected: Vec::new(),
            seen: HashSet::new(),
            pages: 0,
        }
    }

    pub fn next_start(&self) -> u32 {
        self.next_start
    }

    /// How many entries the next request asks for.
    pub fn next_count(&self) -> u16 {
        if self.pages == 0 && self.since.is_some() {
            LOG_FIRST_PAGE
        } else {
            LOG_PAGE
        }
    }

    /// Takes one page of a descending request. The read ends at the entry seen last, at an
    /// empty page (the oldest entry was reached: a device may answer fewer entries than asked
    /// without being at the end), or at an entry it already has (a device repeating itself).
    pub fn on_page(&mut self, page: Vec<LogEntry>) -> PageStep {
        self.pages += 1;
        if page.is_empty() {
            return PageStep::Done(self.finish());
        }
        for entry in page {
            let position = LogPosition::of(&entry);
            if self.since.is_some_and(|since| since.is(&entry)) || !self.seen.insert(position) {
                return PageStep::Done(self.finish());
            }
            self.next_start = entry.index;
            self.collected.push(entry);
        }
        if self.pages >= MAX_PAGES_PER_READ {
            return PageStep::Done(self.finish());
        }
        PageStep::More
    }

    fn finish(&mut self) -> Vec<LogEntry> {
        let mut entries = std::mem::take(&mut self.collected);
        entries.reverse();
        entries
    }
}

/// Why a read was refused for the security PIN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PinProblem {
    Missing,
    Refused,
}

/// When a device's log is read: on request (the flag), on the slow schedule, after a
/// passing failure; and the read in progress.
#[derive(Debug)]
pub(crate) struct LogFollow {
    pub shared: Arc<LogShared>,
    period: Duration,
    /// A read should start (again) once the current one, if any, is over.
    wanted: bool,
    not_before: Option<Instant>,
    retries: u32,
    pub read: Option<LogRead>,
    next_scheduled: Option<Instant>,
    /// The PIN was missing or refused: only the slow schedule tries again (a wrong PIN sent
    /// often locks the device's PIN entry for everyone).
    pin_problem: Option<PinProblem>,
    refusal_logged: bool,
}

impl LogFollow {
    /// `period`: the slow schedule (zero: none); `first_after`: when the first scheduled
    /// read is due.
    pub fn new(shared: Arc<LogShared>, period: Duration, first_after: Duration) -> Self {
        Self {
            shared,
            period,
            wanted: false,
            not_before: None,
            retries: 0,
            read: None,
            next_scheduled: (!period.is_zero()).then(|| Instant::now() + first_after),
            pin_problem: None,
            refusal_logged: false,
        }
    }

    pub fn next_scheduled(&self) -> Option<Instant> {
        self.next_scheduled
    }

    /// The flag rose or someone asked: a read is due unless the PIN is the problem.
    pub fn request(&mut self) {
        if self.pin_problem.is_none() {
            self.wanted = true;
            self.not_before = None;
            self.retries = 0;
        }
    }

    /// The slow schedule came round: a read is due, the PIN gets another try.
    pub fn on_schedule(&mut self) {
        self.pin_problem = None;
        self.wanted = true;
        self.not_before = None;
        self.retries = 0;
        self.next_scheduled = Some(Instant::now() + self.period);
    }

    /// Whether a page should run now (a read is going on, or one is wanted and may start).
    pub fn page_due(&self, now: Instant) -> bool {
        self.read.is_some() || (self.wanted && self.not_before.is_none_or(|at| now >= at))
    }

    /// When a wanted read waiting after a failure may start.
    pub fn retry_at(&self) -> Option<Instant> {
        self.not_before
            .filter(|_| self.wanted && self.read.is_none())
    }

    /// The read in progress, or a new one from the remembered position.
    pub fn current(&mut self) -> &mut LogRead {
        if self.read.is_none() {
            self.wanted = false;
        }
        let shared = &self.shared;
        self.read
            .get_or_insert_with(|| LogRead::new(shared.position()))
    }

    /// The read is over: the newest entry becomes the position.
    pub fn finish(&mut self, entries: &[LogEntry]) {
        self.read = None;
        self.retries = 0;
        self.not_before = None;
        self.refusal_logged = false;
        if let Some(newest) = entries.last() {
            self.shared.set_position(Some(LogPosition::of(newest)));
        }
    }

    /// A page failed for a reason that may pass: the read starts over a little later (what
    /// it had collected is not passed on, so nothing is skipped or repeated).
    pub fn on_failure(&mut self) {
        self.read = None;
        self.retries += 1;
        if self.retries <= MAX_LOG_RETRIES {
            self.wanted = true;
            self.not_before = Some(Instant::now() + LOG_RETRY_DELAY);
        } else {
            self.wanted = false;
            self.not_before = None;
        }
    }

    /// The PIN is missing or the device refused it; answers whether to log it (once, until
    /// a read succeeds).
    pub fn on_pin_problem(&mut self, problem: PinProblem) -> bool {
        self.read = None;
        self.wanted = false;
        self.not_before = None;
        self.pin_problem = Some(problem);
        !std::mem::replace(&mut self.refusal_logged, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nuki::enums::LogEntryType;
    use crate::nuki::messages::LogData;

    fn entry(index: u32, second: u8) -> LogEntry {
        LogEntry {
            index,
            timestamp: DateTime {
                year: 2026,
                month: 11,
                day: 2,
                hour: 8,
                minute: 0,
                second,
            },
            auth_id: 0,
            auth_name: String::new(),
            entry_type: LogEntryType::LockAction,
            data: LogData::Enabled { enabled: true },
        }
    }

    fn indexes(entries: &[LogEntry]) -> Vec<u32> {
        entries.iter().map(|e| e.index).collect()
    }

    #[test]
    fn a_read_stops_at_the_entry_seen_last_and_hands_out_oldest_first() {
        let mut read = LogRead::new(Some(LogPosition::of(&entry(3, 3))));
        let step = read.on_page(vec![entry(5, 5), entry(4, 4), entry(3, 3), entry(2, 2)]);
        assert_eq!(step, PageStep::Done(vec![entry(4, 4), entry(5, 5)]));
    }

    #[test]
    fn a_read_with_a_position_starts_small() {
        let mut read = LogRead::new(Some(LogPosition::of(&entry(1, 1))));
        assert_eq!(read.next_count(), LOG_FIRST_PAGE);
        assert_eq!(read.on_page(vec![entry(3, 3), entry(2, 2)]), PageStep::More);
        assert_eq!(read.next_count(), LOG_PAGE);
        assert_eq!(LogRead::new(None).next_count(), LOG_PAGE);
    }

    #[test]
    fn a_reused_index_with_another_time_is_not_the_entry_seen() {
        // The counter restarted: index 2 exists again, logged later.
        let mut read = LogRead::new(Some(LogPosition::of(&entry(2, 1))));
        assert_eq!(read.on_page(vec![entry(2, 9), entry(1, 8)]), PageStep::More);
        assert_eq!(read.next_start(), 1);
        assert_eq!(
            read.on_page(vec![entry(2, 1)]),
            PageStep::Done(vec![entry(1, 8), entry(2, 9)])
        );
    }

    #[test]
    fn without_the_entry_seen_the_whole_log_is_read_to_an_empty_page() {
        let mut read = LogRead::new(None);
        assert_eq!(
            read.on_page(vec![entry(1, 1), entry(u32::MAX, 0)]),
            PageStep::More
        );
        assert_eq!(read.next_start(), u32::MAX);
        match read.on_page(Vec::new()) {
            PageStep::Done(entries) => assert_eq!(indexes(&entries), [u32::MAX, 1]),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_device_repeating_a_page_ends_the_read() {
        let mut read = LogRead::new(None);
        assert_eq!(read.on_page(vec![entry(9, 9), entry(8, 8)]), PageStep::More);
        match read.on_page(vec![entry(9, 9), entry(8, 8)]) {
            PageStep::Done(entries) => assert_eq!(indexes(&entries), [8, 9]),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_pin_problem_waits_for_the_schedule_and_is_logged_once() {
        let mut follow = LogFollow::new(Arc::default(), Duration::from_secs(3600), Duration::ZERO);
        follow.request();
        assert!(follow.page_due(Instant::now()));
        follow.current();
        assert!(follow.on_pin_problem(PinProblem::Refused));
        follow.request();
        assert!(!follow.page_due(Instant::now()), "the flag does not retry");
        follow.on_schedule();
        assert!(follow.page_due(Instant::now()));
        follow.current();
        assert!(!follow.on_pin_problem(PinProblem::Refused), "logged once");
    }

    #[tokio::test(start_paused = true)]
    async fn passing_failures_are_retried_a_few_times() {
        let mut follow = LogFollow::new(Arc::default(), Duration::ZERO, Duration::ZERO);
        assert_eq!(follow.next_scheduled(), None);
        follow.request();
        for _ in 0..MAX_LOG_RETRIES {
            follow.current();
            follow.on_failure();
            assert!(!follow.page_due(Instant::now()));
            assert!(follow.retry_at().is_some());
            tokio::time::advance(LOG_RETRY_DELAY).await;
            assert!(follow.page_due(Instant::now()));
        }
        follow.current();
        follow.on_failure();
        assert!(!follow.page_due(Instant::now() + LOG_RETRY_DELAY));
    }
}
