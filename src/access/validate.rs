//! The rules input must follow before it is stored: what the devices can hold (name lengths,
//! keypad codes as the keypads accept them), what the limits mean (minutes of a day, the
//! weekday mask), and time zones the database knows. Used by the management API before any
//! change; pure, so the same checks run wherever a record is made.
//!
//! Messages name the field (as the API's JSON names it) and the rule, never the value of a
//! secret: a keypad code is never repeated back.

use jiff::tz::TimeZone;

use super::limits::{DailyWindow, Limits};
use super::model::{Address, Permission, PermissionKind, Person, Unit};

/// Names of people, permissions and devices: the devices' name fields hold 32 bytes.
pub const NAME_MAX: usize = 32;
/// Keypad code names: the keypad's name field holds 20 bytes.
pub const KEYPAD_NAME_MAX: usize = 20;
/// Names of addresses and residential units (gateway-side only).
pub const PLACE_NAME_MAX: usize = 64;
/// Longest IANA time zone name accepted (the longest in the database has 32 characters).
pub const TIME_ZONE_MAX: usize = 64;
/// A keypad code has this many digits.
pub const KEYPAD_CODE_DIGITS: usize = 6;
/// The last minute of a day a daily window may name.
pub const LAST_MINUTE: u16 = DailyWindow::MINUTES_PER_DAY - 1;
/// Every weekday bit set.
pub const WEEKDAYS_MAX: u8 = 127;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValidationError {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} has {length} characters; at most {max} are allowed")]
    TooManyCharacters {
        field: &'static str,
        length: usize,
        max: usize,
    },
    #[error(
        "{field} takes {length} bytes in UTF-8; the devices store at most {max} \
         (letters such as ü take two)"
    )]
    TooManyBytes {
        field: &'static str,
        length: usize,
        max: usize,
    },
    #[error("{field} must not contain control characters (line breaks, tabs, NUL)")]
    ControlCharacter { field: &'static str },
    #[error("a keypad code has exactly 6 digits")]
    KeypadCodeLength,
    #[error("a keypad code uses only the digits 1 to 9 (no 0)")]
    KeypadCodeDigit,
    #[error("a keypad code must not start with 12")]
    KeypadCodeStartsWith12,
    #[error("{field} is {minute}; minutes of the day run from 0 to 1439")]
    MinuteOutOfRange { field: &'static str, minute: u16 },
    #[error("limits.weekdays is {mask}; the mask runs from 0 to 127 (64 = Monday … 1 = Sunday)")]
    WeekdaysOutOfRange { mask: u8 },
    #[error("limits.allowed_from is after limits.allowed_until")]
    DatesReversed,
    #[error("{field} is outside the years this gateway can represent")]
    DateOutOfRange { field: &'static str },
    #[error("unknown time zone `{name}`; use an IANA name such as Europe/Zurich")]
    UnknownTimeZone { name: String },
    #[error("time zone `{given}` is spelled `{canonical}`")]
    TimeZoneSpelling { given: String, canonical: String },
}

impl ValidationError {
    /// The field the error is about, as the API's JSON names it.
    pub fn field(&self) -> &'static str {
        match self {
            ValidationError::Empty { field }
            | ValidationError::TooManyCharacters { field, .. }
            | ValidationError::TooManyBytes { field, .. }
            | ValidationError::ControlCharacter { field }
            | ValidationError::MinuteOutOfRange { field, .. }
            | ValidationError::DateOutOfRange { field } => field,
            ValidationError::KeypadCodeLength
            | ValidationError::KeypadCodeDigit
            | ValidationError::KeypadCodeStartsWith12 => "code",
            ValidationError::WeekdaysOutOfRange { .. } => "limits.weekdays",
            ValidationError::DatesReversed => "limits.allowed_from",
            ValidationError::UnknownTimeZone { .. } | ValidationError::TimeZoneSpelling { .. } => {
                "time_zone"
            }
        }
    }

    /// A stable machine-readable code for the API's error body.
    pub fn code(&self) -> &'static str {
        match self {
            ValidationError::Empty { .. }
            | ValidationError::TooManyCharacters { .. }
            | ValidationError::TooManyBytes { .. }
            | ValidationError::ControlCharacter { .. } => "invalid_name",
            ValidationError::KeypadCodeLength
            | ValidationError::KeypadCodeDigit
            | ValidationError::KeypadCodeStartsWith12 => "invalid_keypad_code",
            ValidationError::MinuteOutOfRange { .. }
            | ValidationError::WeekdaysOutOfRange { .. }
            | ValidationError::DatesReversed
            | ValidationError::DateOutOfRange { .. } => "invalid_limits",
            ValidationError::UnknownTimeZone { .. } | ValidationError::TimeZoneSpelling { .. } => {
                "invalid_time_zone"
            }
        }
    }
}

fn text(field: &'static str, value: &str) -> Result<(), ValidationError> {
    if value.trim().is_empty() {
        return Err(ValidationError::Empty { field });
    }
    if value.chars().any(char::is_control) {
        return Err(ValidationError::ControlCharacter { field });
    }
    Ok(())
}

fn max_characters(field: &'static str, value: &str, max: usize) -> Result<(), ValidationError> {
    text(field, value)?;
    let length = value.chars().count();
    if length > max {
        return Err(ValidationError::TooManyCharacters { field, length, max });
    }
    Ok(())
}

/// A name that is written into a device's fixed-size field, which counts bytes.
fn device_name(field: &'static str, value: &str, max: usize) -> Result<(), ValidationError> {
    max_characters(field, value, max)?;
    let length = value.len();
    if length > max {
        return Err(ValidationError::TooManyBytes { field, length, max });
    }
    Ok(())
}

/// A person's name: non-empty, at most 32 characters.
pub fn person_name(name: &str) -> Result<(), ValidationError> {
    max_characters("name", name, NAME_MAX)
}

/// A device's display name, as written to the device: at most 32 bytes.
pub fn device_display_name(name: &str) -> Result<(), ValidationError> {
    device_name("name", name, NAME_MAX)
}

/// A permission's name, as written to the devices: at most 32 bytes, 20 for keypad codes.
pub fn permission_name(name: &str, kind: PermissionKind) -> Result<(), ValidationError> {
    let max = match kind {
        PermissionKind::KeypadCode => KEYPAD_NAME_MAX,
        PermissionKind::GatewayAccess | PermissionKind::DeviceAuthorization => NAME_MAX,
    };
    device_name("name", name, max)
}

/// The name of an address or a residential unit: non-empty, at most 64 characters.
pub fn place_name(name: &str) -> Result<(), ValidationError> {
    max_characters("name", name, PLACE_NAME_MAX)
}

/// A keypad code as the keypads accept it: 6 digits, each 1–9, not starting with 12.
pub fn keypad_code(code: u32) -> Result<(), ValidationError> {
    // The decimal digits, most significant first, without formatting (no String holding
    // the secret).
    let mut digits = [0u8; 10];
    let mut count = 0;
    let mut rest = code;
    loop {
        digits[count] = (rest % 10) as u8;
        count += 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    if count != KEYPAD_CODE_DIGITS {
        return Err(ValidationError::KeypadCodeLength);
    }
    digits[..count].reverse();
    keypad_digits(&digits[..count])
}

/// A keypad code given as text (the API takes it as a string so leading digits are kept):
/// checked like [`keypad_code`], then returned as the number the devices store.
pub fn parse_keypad_code(code: &str) -> Result<u32, ValidationError> {
    if code.chars().count() != KEYPAD_CODE_DIGITS {
        return Err(ValidationError::KeypadCodeLength);
    }
    let mut digits = [0u8; KEYPAD_CODE_DIGITS];
    for (slot, c) in digits.iter_mut().zip(code.chars()) {
        *slot = c
            .to_digit(10)
            .and_then(|d| u8::try_from(d).ok())
            .ok_or(ValidationError::KeypadCodeDigit)?;
    }
    keypad_digits(&digits)?;
    Ok(digits
        .iter()
        .fold(0u32, |value, digit| value * 10 + u32::from(*digit)))
}

fn keypad_digits(digits: &[u8]) -> Result<(), ValidationError> {
    if digits.contains(&0) {
        return Err(ValidationError::KeypadCodeDigit);
    }
    if digits.starts_with(&[1, 2]) {
        return Err(ValidationError::KeypadCodeStartsWith12);
    }
    Ok(())
}

/// Limits as Nuki has them: minutes of the day 0–1439, weekday mask 0–127, dates in order
/// and representable.
pub fn limits(limits: &Limits) -> Result<(), ValidationError> {
    if let Some(window) = limits.daily {
        for (field, minute) in [
            ("limits.daily.from_minute", window.from_minute),
            ("limits.daily.until_minute", window.until_minute),
        ] {
            if minute > LAST_MINUTE {
                return Err(ValidationError::MinuteOutOfRange { field, minute });
            }
        }
    }
    if limits.weekdays.0 > WEEKDAYS_MAX {
        return Err(ValidationError::WeekdaysOutOfRange {
            mask: limits.weekdays.0,
        });
    }
    for (field, date) in [
        ("limits.allowed_from", limits.allowed_from),
        ("limits.allowed_until", limits.allowed_until),
    ] {
        if date.is_some_and(|seconds| jiff::Timestamp::from_second(seconds).is_err()) {
            return Err(ValidationError::DateOutOfRange { field });
        }
    }
    if let (Some(from), Some(until)) = (limits.allowed_from, limits.allowed_until) {
        if from > until {
            return Err(ValidationError::DatesReversed);
        }
    }
    Ok(())
}

/// An IANA time zone name the database knows, spelled as the database spells it (so what
/// is stored compares and syncs as one name).
pub fn time_zone(name: &str) -> Result<(), ValidationError> {
    let unknown = || ValidationError::UnknownTimeZone {
        name: name.chars().take(TIME_ZONE_MAX).collect(),
    };
    if name.is_empty() || name.len() > TIME_ZONE_MAX || name.chars().any(char::is_control) {
        return Err(unknown());
    }
    let zone = TimeZone::get(name).map_err(|_| unknown())?;
    // `Etc/Unknown` is found but is no IANA zone: it has no name.
    let canonical = zone.iana_name().ok_or_else(unknown)?;
    if canonical != name {
        return Err(ValidationError::TimeZoneSpelling {
            given: name.to_owned(),
            canonical: canonical.to_owned(),
        });
    }
    Ok(())
}

/// A whole address: its name and time zone.
pub fn address(address: &Address) -> Result<(), ValidationError> {
    place_name(&address.name)?;
    time_zone(&address.time_zone)
}

/// A whole residential unit: its name.
pub fn unit(unit: &Unit) -> Result<(), ValidationError> {
    place_name(&unit.name)
}

/// A whole person: its name.
pub fn person(person: &Person) -> Result<(), ValidationError> {
    person_name(&person.name)
}

/// A whole permission: its name for its kind and its limits. The secret (access secret or
/// keypad code) is kept apart and checked with [`keypad_code`].
pub fn permission(permission: &Permission) -> Result<(), ValidationError> {
    permission_name(&permission.name, permission.kind)?;
    limits(&permission.limits)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{AddressId, PermissionId, PersonId, Scope, UnitId, Weekdays};

    #[test]
    fn names() {
        assert_eq!(person_name("Anna"), Ok(()));
        assert_eq!(
            person_name(""),
            Err(ValidationError::Empty { field: "name" })
        );
        assert_eq!(
            person_name("   "),
            Err(ValidationError::Empty { field: "name" })
        );
        assert_eq!(
            person_name("a\nb"),
            Err(ValidationError::ControlCharacter { field: "name" })
        );
        assert_eq!(person_name(&"x".repeat(32)), Ok(()));
        assert_eq!(
            person_name(&"x".repeat(33)),
            Err(ValidationError::TooManyCharacters {
                field: "name",
                length: 33,
                max: 32
            })
        );
        // People stay on the gateway: characters count, not bytes.
        assert_eq!(person_name(&"ü".repeat(32)), Ok(()));
    }

    #[test]
    fn permission_names_fit_the_devices() {
        let access = PermissionKind::GatewayAccess;
        let keypad = PermissionKind::KeypadCode;
        assert_eq!(permission_name(&"x".repeat(32), access), Ok(()));
        assert!(permission_name(&"x".repeat(33), access).is_err());
        assert_eq!(permission_name(&"x".repeat(20), keypad), Ok(()));
        assert_eq!(
            permission_name(&"x".repeat(21), keypad),
            Err(ValidationError::TooManyCharacters {
                field: "name",
                length: 21,
                max: 20
            })
        );
        // 11 characters, 22 bytes: too long for a keypad's 20-byte field.
        let error = permission_name(&"ü".repeat(11), keypad).unwrap_err();
        assert_eq!(
            error,
            ValidationError::TooManyBytes {
                field: "name",
                length: 22,
                max: 20
            }
        );
        assert!(error.to_string().contains("at most 20"));
        assert_eq!(
            permission_name("", PermissionKind::DeviceAuthorization),
            Err(ValidationError::Empty { field: "name" })
        );
        assert_eq!(device_display_name("Haustür"), Ok(()));
        assert!(device_display_name(&"x".repeat(33)).is_err());
    }

    #[test]
    fn place_names() {
        assert_eq!(place_name("Bahnhofstrasse 1"), Ok(()));
        assert_eq!(place_name(&"x".repeat(64)), Ok(()));
        assert!(place_name(&"x".repeat(65)).is_err());
        assert!(place_name("").is_err());
    }

    #[test]
    fn keypad_codes_as_the_keypads_take_them() {
        for good in [111_111, 999_999, 131_313, 211_111, 345_678] {
            assert_eq!(keypad_code(good), Ok(()), "{good}");
        }
        assert_eq!(
            keypad_code(123_456),
            Err(ValidationError::KeypadCodeStartsWith12)
        );
        assert_eq!(
            keypad_code(129_999),
            Err(ValidationError::KeypadCodeStartsWith12)
        );
        assert_eq!(keypad_code(102_345), Err(ValidationError::KeypadCodeDigit));
        assert_eq!(keypad_code(345_670), Err(ValidationError::KeypadCodeDigit));
        assert_eq!(keypad_code(0), Err(ValidationError::KeypadCodeLength));
        assert_eq!(keypad_code(99_999), Err(ValidationError::KeypadCodeLength));
        assert_eq!(
            keypad_code(1_111_111),
            Err(ValidationError::KeypadCodeLength)
        );
        assert_eq!(
            keypad_code(u32::MAX),
            Err(ValidationError::KeypadCodeLength)
        );
        assert_eq!(parse_keypad_code("345678"), Ok(345_678));
        assert_eq!(
            parse_keypad_code("123456"),
            Err(ValidationError::KeypadCodeStartsWith12)
        );
        assert_eq!(
            parse_keypad_code("012345"),
            Err(ValidationError::KeypadCodeDigit)
        );
        assert_eq!(
            parse_keypad_code("34567a"),
            Err(ValidationError::KeypadCodeDigit)
        );
        assert_eq!(
            parse_keypad_code("3456789"),
            Err(ValidationError::KeypadCodeLength)
        );
        assert_eq!(
            parse_keypad_code(""),
            Err(ValidationError::KeypadCodeLength)
        );
        // Other scripts' digits are not keypad digits.
        assert_eq!(
            parse_keypad_code("٣٤٥٦٧٨"),
            Err(ValidationError::KeypadCodeDigit)
        );
    }

    #[test]
    fn keypad_errors_never_repeat_the_code() {
        for code in ["345670", "123456", "34567"] {
            let error = parse_keypad_code(code).unwrap_err();
            assert!(!error.to_string().contains(code));
            assert!(!format!("{error:?}").contains(code));
            assert_eq!(error.field(), "code");
            assert_eq!(error.code(), "invalid_keypad_code");
        }
    }

    #[test]
    fn limits_in_range() {
        let window = |from_minute, until_minute| Limits {
            daily: Some(DailyWindow {
                from_minute,
                until_minute,
            }),
            ..Limits::default()
        };
        assert_eq!(limits(&Limits::default()), Ok(()));
        assert_eq!(limits(&window(0, 1439)), Ok(()));
        assert_eq!(limits(&window(1320, 360)), Ok(()));
        assert_eq!(
            limits(&window(0, 1440)),
            Err(ValidationError::MinuteOutOfRange {
                field: "limits.daily.until_minute",
                minute: 1440
            })
        );
        assert_eq!(
            limits(&window(1440, 0)).unwrap_err().field(),
            "limits.daily.from_minute"
        );
        let weekdays = |mask| Limits {
            weekdays: Weekdays(mask),
            ..Limits::default()
        };
        assert_eq!(limits(&weekdays(0)), Ok(()));
        assert_eq!(limits(&weekdays(127)), Ok(()));
        assert_eq!(
            limits(&weekdays(128)),
            Err(ValidationError::WeekdaysOutOfRange { mask: 128 })
        );
        let dates = |from, until| Limits {
            allowed_from: from,
            allowed_until: until,
            ..Limits::default()
        };
        assert_eq!(limits(&dates(Some(10), Some(10))), Ok(()));
        assert_eq!(limits(&dates(Some(11), None)), Ok(()));
        assert_eq!(
            limits(&dates(Some(11), Some(10))),
            Err(ValidationError::DatesReversed)
        );
        assert_eq!(
            limits(&dates(None, Some(i64::MAX))),
            Err(ValidationError::DateOutOfRange {
                field: "limits.allowed_until"
            })
        );
        assert_eq!(
            limits(&dates(Some(11), Some(10))).unwrap_err().code(),
            "invalid_limits"
        );
    }

    #[test]
    fn time_zones() {
        for good in [
            "Europe/Zurich",
            "America/New_York",
            "Australia/Lord_Howe",
            "UTC",
        ] {
            assert_eq!(time_zone(good), Ok(()), "{good}");
        }
        assert_eq!(
            time_zone("Europe/Atlantis"),
            Err(ValidationError::UnknownTimeZone {
                name: "Europe/Atlantis".into()
            })
        );
        assert_eq!(
            time_zone("europe/zurich"),
            Err(ValidationError::TimeZoneSpelling {
                given: "europe/zurich".into(),
                canonical: "Europe/Zurich".into()
            })
        );
        for bad in [
            "",
            "Etc/Unknown",
            "/etc/localtime",
            "EST5EDT,M3.2.0,M11.1.0",
        ] {
            assert!(time_zone(bad).is_err(), "{bad:?}");
        }
        let long = "A".repeat(1000);
        let message = time_zone(&long).unwrap_err().to_string();
        assert!(message.len() < 200, "the message quotes all of it");
    }

    #[test]
    fn whole_records() {
        let address_record = Address {
            id: AddressId(1),
            name: "Hauptstrasse 3".into(),
            time_zone: "Europe/Zurich".into(),
            boxes: vec![],
        };
        assert_eq!(address(&address_record), Ok(()));
        assert!(address(&Address {
            time_zone: "Mars/Olympus".into(),
            ..address_record.clone()
        })
        .is_err());
        assert!(unit(&Unit {
            id: UnitId("u".into()),
            address: AddressId(1),
            name: String::new(),
            locks: vec![],
        })
        .is_err());
        assert!(person(&Person {
            id: PersonId(1),
            name: "Ben".into(),
            unit: None,
        })
        .is_ok());
        let mut record = Permission {
            id: PermissionId("p".into()),
            person: PersonId(1),
            name: "Ben's keypad code!!!".into(),
            scope: Scope::AddressBoxes {
                address: AddressId(1),
            },
            kind: PermissionKind::KeypadCode,
            limits: Limits::default(),
        };
        assert_eq!(permission(&record), Ok(()));
        record.limits.weekdays = Weekdays(200);
        assert!(permission(&record).is_err());
    }
}
