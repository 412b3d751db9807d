//! The limits of a permission, exactly as Nuki has them: enabled, allowed from/until date,
//! weekday mask, daily window in minutes after midnight, remote allowed.
//!
//! Dates are instants; weekdays and the daily window are read in the local time of the
//! address the device belongs to, so a daylight-saving change moves them with the wall clock.

use jiff::tz::TimeZone;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::decision::DenialReason;

/// Weekday bitmask: 64 = Monday, 32 = Tuesday, … 1 = Sunday. 0 and 127 both mean every day
/// (the devices read 0 that way).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Weekdays(pub u8);

impl Weekdays {
    pub const EVERY_DAY: Weekdays = Weekdays(127);

    /// The bit of a weekday numbered from Monday = 1 to Sunday = 7.
    pub fn bit_of_monday_based(day: i8) -> u8 {
        1 << (7 - day.clamp(1, 7))
    }

    pub fn is_every_day(self) -> bool {
        matches!(self.0 & 0x7F, 0 | 127)
    }

    pub fn contains_monday_based(self, day: i8) -> bool {
        self.is_every_day() || self.0 & Self::bit_of_monday_based(day) != 0
    }
}

impl Default for Weekdays {
    fn default() -> Self {
        Weekdays::EVERY_DAY
    }
}

/// A daily window in minutes after local midnight, from inclusive, until exclusive. A window
/// whose end is before its start runs over midnight; equal ends mean the whole day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct DailyWindow {
    pub from_minute: u16,
    pub until_minute: u16,
}

impl DailyWindow {
    pub const MINUTES_PER_DAY: u16 = 1440;

    pub fn is_whole_day(self) -> bool {
        self.from_minute == self.until_minute
    }

    pub fn contains(self, minute: u16) -> bool {
        match self.from_minute.cmp(&self.until_minute) {
            std::cmp::Ordering::Equal => true,
            std::cmp::Ordering::Less => (self.from_minute..self.until_minute).contains(&minute),
            std::cmp::Ordering::Greater => minute >= self.from_minute || minute < self.until_minute,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Limits {
    pub enabled: bool,
    /// Unix seconds; before it the permission is not valid yet.
    pub allowed_from: Option<i64>,
    /// Unix seconds; after it the permission has expired.
    pub allowed_until: Option<i64>,
    pub weekdays: Weekdays,
    pub daily: Option<DailyWindow>,
    /// May be used through the gateway (remotely), not only at the door.
    pub remote_allowed: bool,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed_from: None,
            allowed_until: None,
            weekdays: Weekdays::EVERY_DAY,
            daily: None,
            remote_allowed: true,
        }
    }
}

impl Limits {
    /// Whether any limit depends on the time, so an untrusted clock must refuse it.
    pub fn is_time_limited(&self) -> bool {
        self.allowed_from.is_some()
            || self.allowed_until.is_some()
            || !self.weekdays.is_every_day()
            || self.daily.is_some_and(|window| !window.is_whole_day())
    }

    /// The time limits at `now` (Unix seconds) in `zone`; `enabled` and remote use are
    /// checked by the decision.
    pub fn check_time(&self, now: i64, zone: &TimeZone) -> Result<(), DenialReason> {
        if self.allowed_from.is_some_and(|from| now < from) {
            return Err(DenialReason::NotYetValid);
        }
        if self.allowed_until.is_some_and(|until| now > until) {
            return Err(DenialReason::Expired);
        }
        let needs_local = !self.weekdays.is_every_day()
            || self.daily.is_some_and(|window| !window.is_whole_day());
        if !needs_local {
            return Ok(());
        }
        let Ok(instant) = Timestamp::from_second(now) else {
            return Err(DenialReason::ClockUntrusted);
        };
        let local = zone.to_datetime(instant);
        let day = local.weekday().to_monday_one_offset();
        if !self.weekdays.contains_monday_based(day) {
            return Err(DenialReason::WrongWeekday);
        }
        if let Some(window) = self.daily {
            let minute = u16::try_from(i32::from(local.hour()) * 60 + i32::from(local.minute()))
                .unwrap_or(0);
            if !window.contains(minute) {
                return Err(DenialReason::OutsideDailyWindow);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zurich() -> TimeZone {
        TimeZone::get("Europe/Zurich").unwrap()
    }

    // 2026-11-30 is a Monday; 12:00 UTC is 13:00 in Zurich.
    const MONDAY_NOON_UTC: i64 = 1_796_040_000;

    #[test]
    fn weekday_bits_follow_nuki() {
        assert_eq!(Weekdays::bit_of_monday_based(1), 64);
        assert_eq!(Weekdays::bit_of_monday_based(7), 1);
        let weekdays_only = Weekdays(124);
        assert!(weekdays_only.contains_monday_based(5));
        assert!(!weekdays_only.contains_monday_based(6));
    }

    #[test]
    fn daily_window_in_local_time() {
        let limits = Limits {
            daily: Some(DailyWindow {
                from_minute: 13 * 60,
                until_minute: 14 * 60,
            }),
            ..Limits::default()
        };
        assert_eq!(limits.check_time(MONDAY_NOON_UTC, &zurich()), Ok(()));
        assert_eq!(
            limits.check_time(MONDAY_NOON_UTC, &TimeZone::UTC),
            Err(DenialReason::OutsideDailyWindow)
        );
    }

    #[test]
    fn weekday_and_dates() {
        let monday_only = Limits {
            weekdays: Weekdays(64),
            ..Limits::default()
        };
        assert_eq!(monday_only.check_time(MONDAY_NOON_UTC, &zurich()), Ok(()));
        assert_eq!(
            monday_only.check_time(MONDAY_NOON_UTC + 86_400, &zurich()),
            Err(DenialReason::WrongWeekday)
        );
        let dated = Limits {
            allowed_from: Some(MONDAY_NOON_UTC),
            allowed_until: Some(MONDAY_NOON_UTC + 60),
            ..Limits::default()
        };
        assert!(dated.is_time_limited());
        assert_eq!(
            dated.check_time(MONDAY_NOON_UTC - 1, &zurich()),
            Err(DenialReason::NotYetValid)
        );
        assert_eq!(dated.check_time(MONDAY_NOON_UTC + 60, &zurich()), Ok(()));
        assert_eq!(
            dated.check_time(MONDAY_NOON_UTC + 61, &zurich()),
            Err(DenialReason::Expired)
        );
        assert!(!Limits::default().is_time_limited());
    }
}
