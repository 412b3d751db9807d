//! How much of the activity log is kept (`[events]` in the configuration).

/// Default of `events.max_entries`.
pub const DEFAULT_MAX_ENTRIES: u64 = 100_000;
/// Default of `events.max_age_days`.
pub const DEFAULT_MAX_AGE_DAYS: u64 = 90;

/// Retention: the oldest events go once there are more than `max_entries`, and every event
/// older than `max_age_days` goes, whether or not every consumer has read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventSettings {
    pub max_entries: u64,
    pub max_age_days: u64,
}

impl Default for EventSettings {
    fn default() -> Self {
        Self {
            max_entries: DEFAULT_MAX_ENTRIES,
            max_age_days: DEFAULT_MAX_AGE_DAYS,
        }
    }
}

impl EventSettings {
    /// The oldest recording time (Unix seconds) still kept at `now`.
    pub fn oldest_kept(&self, now: i64) -> i64 {
        let age = i64::try_from(self.max_age_days.saturating_mul(86_400)).unwrap_or(i64::MAX);
        now.saturating_sub(age)
    }
}
