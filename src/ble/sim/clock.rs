//! The device's wall clock: UTC seconds derived from simulated monotonic time.

use std::time::Duration;

use crate::nuki::codec::{DateTime, TimeOfDay};

#[derive(Debug, Clone, Copy)]
pub(crate) struct WallClock {
    /// UTC Unix seconds at simulated time zero.
    unix_at_origin: i64,
}

impl WallClock {
    pub fn new(unix_at_origin: i64) -> Self {
        Self { unix_at_origin }
    }

    pub fn unix(&self, now: Duration) -> i64 {
        self.unix_at_origin
            .saturating_add(i64::try_from(now.as_secs()).unwrap_or(i64::MAX))
    }

    pub fn date_time(&self, now: Duration) -> DateTime {
        DateTime::from_unix(self.unix(now))
    }

    /// The simulated time at which the clock reads `unix` (zero if that lies before the start).
    pub fn monotonic_at(&self, unix: i64) -> Duration {
        let seconds = unix.saturating_sub(self.unix_at_origin).max(0);
        Duration::from_secs(u64::try_from(seconds).unwrap_or(0))
    }

    /// Update Time: from now on the clock reads `value`.
    pub fn set(&mut self, now: Duration, value: &DateTime) -> bool {
        match value.to_offset() {
            Some(time) => {
                let elapsed = i64::try_from(now.as_secs()).unwrap_or(i64::MAX);
                self.unix_at_origin = time.unix_timestamp().saturating_sub(elapsed);
                true
            }
            None => false,
        }
    }
}

/// Weekday bit of the protocol's weekday mask (bit 6 Monday … bit 0 Sunday).
pub(crate) fn weekday_bit(unix: i64) -> u8 {
    let Ok(time) = time::OffsetDateTime::from_unix_timestamp(unix) else {
        return 0;
    };
    let days_from_monday = time.weekday().number_days_from_monday();
    1 << (6 - days_from_monday)
}

pub(crate) fn time_of_day(unix: i64) -> TimeOfDay {
    let date_time = DateTime::from_unix(unix);
    TimeOfDay {
        hour: date_time.hour,
        minute: date_time.minute,
    }
}

pub(crate) fn unix_of(value: &DateTime) -> Option<i64> {
    value.to_offset().map(time::OffsetDateTime::unix_timestamp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn set_moves_the_clock() {
        let mut clock = WallClock::new(1_714_566_896);
        assert_eq!(
            clock.date_time(Duration::ZERO).to_iso8601().as_deref(),
            Some("2024-05-01T12:34:56Z")
        );
        let target = DateTime::from_unix(1_800_000_000);
        assert!(clock.set(Duration::from_secs(100), &target));
        assert_eq!(clock.unix(Duration::from_secs(110)), 1_800_000_010);
        assert!(!clock.set(Duration::ZERO, &DateTime::default()));
    }

    #[test]
    fn weekday_bits() {
        // 2024-05-01 was a Wednesday: bit 4.
        assert_eq!(weekday_bit(1_714_566_896), 0b0001_0000);
        // 2024-05-05 was a Sunday: bit 0.
        assert_eq!(weekday_bit(1_714_566_896 + 4 * 86_400), 0b0000_0001);
    }
}
