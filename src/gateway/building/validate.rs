//! Checks of what people type in: names, time zones, keypad codes, limits. Each says what is
//! wrong in words a user understands, and never repeats a code.
//
// The `access` layer is getting its own validation (`access::validate`); the integrator folds
// these into it.

use crate::access::{DailyWindow, Limits, PermissionKind};

use super::BuildingError;

/// Names on the devices are 32 bytes; we hold every name to the same bound.
pub const MAX_NAME_CHARS: usize = 32;
/// Keypad codes carry shorter names on the devices (Nuki Web refuses longer ones).
pub const MAX_KEYPAD_NAME_CHARS: usize = 20;
/// Daily windows end at most at midnight (minute 1440).
const MINUTES_PER_DAY: u16 = DailyWindow::MINUTES_PER_DAY;

/// A name: 1–`max` characters, not only spaces, no control characters.
pub fn name(field: &str, text: &str, max: usize) -> Result<(), BuildingError> {
    if text.trim().is_empty() {
        return Err(invalid(format!("{field} must not be empty")));
    }
    if text.chars().count() > max {
        return Err(invalid(format!("{field} must be at most {max} characters")));
    }
    if text.chars().any(char::is_control) {
        return Err(invalid(format!(
            "{field} must not contain control characters"
        )));
    }
    Ok(())
}

/// The longest name a permission of `kind` may have.
pub fn max_permission_name(kind: PermissionKind) -> usize {
    match kind {
        PermissionKind::KeypadCode => MAX_KEYPAD_NAME_CHARS,
        _ => MAX_NAME_CHARS,
    }
}

/// An IANA time zone name known to the bundled database.
pub fn time_zone(text: &str) -> Result<(), BuildingError> {
    jiff::tz::TimeZone::get(text).map(|_| ()).map_err(|_| {
        invalid(format!(
            "timeZone `{text}` is not an IANA time zone name (like \"Europe/Zurich\")"
        ))
    })
}

/// A keypad code as the devices take it: six digits 1–9, not starting with "12".
pub fn keypad_code(code: u32) -> Result<(), BuildingError> {
    let digits = code.to_string();
    if digits.len() != 6 || digits.contains('0') {
        return Err(invalid("code must be six digits, each 1 to 9"));
    }
    if digits.starts_with("12") {
        return Err(invalid("code must not start with 12"));
    }
    Ok(())
}

/// Limits as Nuki takes them: dates in order, a weekday mask of 7 bits, a daily window
/// within the day. Whole-day windows are stored as none, so they never count as a time
/// limit.
pub fn limits(mut limits: Limits) -> Result<Limits, BuildingError> {
    if let (Some(from), Some(until)) = (limits.allowed_from, limits.allowed_until) {
        if from > until {
            return Err(invalid(
                "allowedFromDate must not be after allowedUntilDate",
            ));
        }
    }
    if limits.weekdays.0 > 127 {
        return Err(invalid(
            "allowedWeekDays is a bitmask 0-127 (64 Monday … 1 Sunday)",
        ));
    }
    if let Some(window) = limits.daily {
        if window.from_minute >= MINUTES_PER_DAY || window.until_minute > MINUTES_PER_DAY {
            return Err(invalid(
                "allowedFromTime must be 0-1439 and allowedUntilTime 0-1440 (minutes after midnight)",
            ));
        }
        let whole_day = window.is_whole_day()
            || (window.from_minute == 0 && window.until_minute == MINUTES_PER_DAY);
        if whole_day {
            limits.daily = None;
        }
    }
    Ok(limits)
}

fn invalid(message: impl Into<String>) -> BuildingError {
    BuildingError::Invalid(message.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Weekdays;

    #[test]
    fn keypad_codes_as_the_devices_take_them() {
        assert!(keypad_code(583_947).is_ok());
        assert!(keypad_code(123_456).is_err(), "starts with 12");
        assert!(keypad_code(583_907).is_err(), "contains 0");
        assert!(keypad_code(58_394).is_err(), "five digits");
        assert!(keypad_code(5_839_471).is_err(), "seven digits");
        assert!(keypad_code(213_456).is_ok());
    }

    #[test]
    fn names() {
        assert!(name("name", "Flat 3", MAX_NAME_CHARS).is_ok());
        assert!(name("name", "  ", MAX_NAME_CHARS).is_err());
        assert!(name("name", "a\nb", MAX_NAME_CHARS).is_err());
        assert!(name("name", &"ä".repeat(32), MAX_NAME_CHARS).is_ok());
        assert!(name("name", &"ä".repeat(33), MAX_NAME_CHARS).is_err());
    }

    #[test]
    fn limits_are_checked_and_whole_days_dropped() {
        let window = |from_minute, until_minute| Limits {
            daily: Some(DailyWindow {
                from_minute,
                until_minute,
            }),
            ..Limits::default()
        };
        assert_eq!(limits(window(0, 1440)).unwrap().daily, None);
        assert_eq!(limits(window(600, 600)).unwrap().daily, None);
        assert!(limits(window(600, 720)).unwrap().daily.is_some());
        assert!(limits(window(1440, 10)).is_err());
        assert!(limits(window(10, 1441)).is_err());
        let reversed = Limits {
            allowed_from: Some(10),
            allowed_until: Some(5),
            ..Limits::default()
        };
        assert!(limits(reversed).is_err());
        let weekdays = Limits {
            weekdays: Weekdays(128),
            ..Limits::default()
        };
        assert!(limits(weekdays).is_err());
        assert!(time_zone("Europe/Zurich").is_ok());
        assert!(time_zone("Mars/Olympus").is_err());
    }
}
