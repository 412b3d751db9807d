//! A permission's limits as the devices hold them, and the time zone a device must be in to
//! read them as the gateway does.
//!
//! Devices compare the allowed dates in UTC and read weekdays and times of day in their own
//! local time (the Config's offset, or its zone id on real firmware). The gateway reads them
//! in the address's zone. So before a device gets an entry with weekday or daily limits, it is
//! put in the address's zone: the Nuki zone id when the address's zone is one of Nuki's (or
//! follows the same rules as one, e.g. Europe/Zurich like Europe/Berlin), and always the
//! current offset, which provisioning keeps current across daylight-saving changes.

use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};

use crate::access::{DailyWindow, Limits};
use crate::devices::admin_ops::DeviceZone;
use crate::nuki::codec::{DateTime, TimeOfDay};
use crate::nuki::enums::TimeZoneId;
use crate::nuki::messages::{AllowedWindow, Weekdays};

/// How far ahead two zones must agree on every transition to count as the same.
const ZONE_HORIZON: SignedDuration = SignedDuration::from_hours(2 * 366 * 24);
/// Nuki's zone ids run from 0 to this.
const LAST_NUKI_ZONE_ID: u16 = 45;

/// The limits as a device's time restriction: whether it is time-limited, and the window.
pub fn device_window(limits: &Limits) -> (bool, AllowedWindow) {
    let date = |instant: Option<i64>| instant.map(DateTime::from_unix).unwrap_or_default();
    let weekdays = if limits.weekdays.is_every_day() {
        Weekdays::EVERY_DAY
    } else {
        Weekdays(limits.weekdays.0 & 0x7F)
    };
    let (from_time, until_time) = match limits.daily {
        Some(window) if !window.is_whole_day() => (
            time_of_day(window.from_minute),
            time_of_day(window.until_minute),
        ),
        // Equal from and until mean the whole day, on the devices as here.
        _ => (TimeOfDay::default(), TimeOfDay::default()),
    };
    let window = AllowedWindow {
        from_date: date(limits.allowed_from),
        until_date: date(limits.allowed_until),
        weekdays,
        from_time,
        until_time,
    };
    (limits.is_time_limited(), window)
}

/// Whether the device must read local time to enforce these limits.
pub fn needs_local_time(limits: &Limits) -> bool {
    !limits.weekdays.is_every_day() || limits.daily.is_some_and(|window| !window.is_whole_day())
}

/// Minutes after midnight as a time of day; the end of the day (1440) is midnight.
fn time_of_day(minute: u16) -> TimeOfDay {
    let minute = minute % DailyWindow::MINUTES_PER_DAY;
    TimeOfDay {
        hour: u8::try_from(minute / 60).unwrap_or(0),
        minute: u8::try_from(minute % 60).unwrap_or(0),
    }
}

/// The zone a device in `zone` must be set to at `now` (Unix seconds).
pub fn device_zone(zone: &TimeZone, now: i64) -> DeviceZone {
    let instant = Timestamp::from_second(now).unwrap_or(Timestamp::UNIX_EPOCH);
    let offset_minutes = i16::try_from(zone.to_offset(instant).seconds() / 60).unwrap_or(0);
    DeviceZone {
        offset_minutes,
        zone_id: nuki_zone_id(zone, instant).to_u16(),
    }
}

/// Nuki's id for the zone, or for a zone with the same offsets and transitions from `now`
/// on; `NotSet` when none matches.
fn nuki_zone_id(zone: &TimeZone, now: Timestamp) -> TimeZoneId {
    if let Some(id) = zone.iana_name().and_then(TimeZoneId::from_iana_name) {
        return id;
    }
    let own = transitions(zone, now);
    (0..=LAST_NUKI_ZONE_ID)
        .map(TimeZoneId::from_u16)
        .find(|candidate| {
            candidate
                .iana_name()
                .and_then(|name| TimeZone::get(name).ok())
                .is_some_and(|other| {
                    other.to_offset(now) == zone.to_offset(now) && transitions(&other, now) == own
                })
        })
        .unwrap_or(TimeZoneId::NotSet)
}

fn transitions(zone: &TimeZone, now: Timestamp) -> Vec<(Timestamp, i32)> {
    let horizon = now.saturating_add(ZONE_HORIZON).unwrap_or(now);
    zone.following(now)
        .take_while(|transition| transition.timestamp() < horizon)
        .map(|transition| (transition.timestamp(), transition.offset().seconds()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Weekdays as AccessWeekdays;

    // 2026-01-05 is a Monday.
    const MONDAY_WINTER: i64 = 1_767_571_200;
    // 2026-07-06, a Monday in summer.
    const MONDAY_SUMMER: i64 = 1_783_296_000;

    #[test]
    fn limits_become_the_device_window() {
        let limits = Limits {
            allowed_from: Some(MONDAY_WINTER),
            allowed_until: Some(MONDAY_SUMMER),
            weekdays: AccessWeekdays(124),
            daily: Some(DailyWindow {
                from_minute: 8 * 60 + 30,
                until_minute: 1440,
            }),
            ..Limits::default()
        };
        let (limited, window) = device_window(&limits);
        assert!(limited);
        assert_eq!(window.from_date, DateTime::from_unix(MONDAY_WINTER));
        assert_eq!(window.until_date, DateTime::from_unix(MONDAY_SUMMER));
        assert_eq!(window.weekdays, Weekdays(124));
        assert_eq!(
            window.from_time,
            TimeOfDay {
                hour: 8,
                minute: 30
            }
        );
        assert_eq!(window.until_time, TimeOfDay { hour: 0, minute: 0 });
        assert!(needs_local_time(&limits));
    }

    #[test]
    fn unlimited_is_every_day_and_whole_days() {
        let (limited, window) = device_window(&Limits::default());
        assert!(!limited);
        assert_eq!(window, AllowedWindow::default());
        let whole_day = Limits {
            daily: Some(DailyWindow {
                from_minute: 600,
                until_minute: 600,
            }),
            weekdays: AccessWeekdays(0),
            ..Limits::default()
        };
        assert!(!needs_local_time(&whole_day));
        assert_eq!(device_window(&whole_day).1.weekdays, Weekdays::EVERY_DAY);
    }

    #[test]
    fn zones_follow_daylight_saving_and_map_to_nuki_ids() {
        let berlin = TimeZone::get("Europe/Berlin").unwrap();
        assert_eq!(
            device_zone(&berlin, MONDAY_WINTER),
            DeviceZone {
                offset_minutes: 60,
                zone_id: TimeZoneId::EuropeBerlin.to_u16()
            }
        );
        assert_eq!(device_zone(&berlin, MONDAY_SUMMER).offset_minutes, 120);
        // Not one of Nuki's zones, but the same rules as Berlin.
        let zurich = TimeZone::get("Europe/Zurich").unwrap();
        assert_eq!(
            device_zone(&zurich, MONDAY_WINTER).zone_id,
            TimeZoneId::EuropeBerlin.to_u16()
        );
        // Same offset in winter as Berlin, but no daylight saving: no Nuki zone fits.
        let lagos_like = TimeZone::get("Africa/Algiers").unwrap();
        let zone = device_zone(&lagos_like, MONDAY_SUMMER);
        assert_eq!(zone.offset_minutes, 60);
        assert_ne!(zone.zone_id, TimeZoneId::EuropeBerlin.to_u16());
        let kathmandu = TimeZone::get("Asia/Kathmandu").unwrap();
        assert_eq!(device_zone(&kathmandu, MONDAY_WINTER).offset_minutes, 345);
    }
}
