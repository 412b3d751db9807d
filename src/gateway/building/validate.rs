//! The building's input checks: those of `access::validate`, with their refusals as the
//! building's, and the one normalization the store relies on (a whole-day window is no
//! window, so it never counts as a time limit).

use crate::access::validate::{self as rules, ValidationError};
use crate::access::{Limits, PermissionKind};

use super::BuildingError;

fn checked(result: Result<(), ValidationError>) -> Result<(), BuildingError> {
    result.map_err(BuildingError::Rejected)
}

/// The name of an address or a unit, or a device's gateway-side display name.
pub fn place_name(name: &str) -> Result<(), BuildingError> {
    checked(rules::place_name(name))
}

pub fn person_name(name: &str) -> Result<(), BuildingError> {
    checked(rules::person_name(name))
}

pub fn permission_name(name: &str, kind: PermissionKind) -> Result<(), BuildingError> {
    checked(rules::permission_name(name, kind))
}

pub fn time_zone(name: &str) -> Result<(), BuildingError> {
    checked(rules::time_zone(name))
}

pub fn keypad_code(code: u32) -> Result<(), BuildingError> {
    checked(rules::keypad_code(code))
}

/// Checked limits, with a whole-day window dropped.
pub fn limits(mut limits: Limits) -> Result<Limits, BuildingError> {
    checked(rules::limits(&limits))?;
    if limits.daily.is_some_and(|window| window.is_whole_day()) {
        limits.daily = None;
    }
    Ok(limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::DailyWindow;

    #[test]
    fn whole_day_windows_are_no_limit() {
        let window = |from_minute, until_minute| Limits {
            daily: Some(DailyWindow {
                from_minute,
                until_minute,
            }),
            ..Limits::default()
        };
        assert_eq!(limits(window(600, 600)).unwrap().daily, None);
        assert!(limits(window(600, 720)).unwrap().daily.is_some());
        assert!(matches!(
            limits(window(10, 1440)),
            Err(BuildingError::Rejected(_))
        ));
    }
}
