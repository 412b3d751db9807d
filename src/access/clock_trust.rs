//! Whether the gateway may believe its clock. A Pi has no clock battery: after a power cut it
//! may start in 1970 or at the last time it saved. Time-limited permissions fail closed while
//! the clock is untrusted; unlimited ones and owner/admin access still work.
//!
//! [`TrustedTime`] is the pure bookkeeping: the gateway feeds it the system time and the
//! times the devices report (their clocks have batteries), persists `last_known` when told
//! to, and goes by the time [`TrustedTime::assess`] returns, which never goes backwards.

use serde::Serialize;

/// No plausible clock reads earlier than the release of this version: 2026-11-01T00:00:00Z.
/// Raise it with each release; a constant (rather than the compile time) keeps builds
/// reproducible.
pub const BUILD_FLOOR_UNIX: i64 = 1_793_491_200;

/// How often (seconds) the gateway writes the last known good time to the store: often
/// enough that a restart loses little, rarely enough to spare the SD card.
pub const PERSIST_EVERY_S: i64 = 60;

/// How far (seconds) the system clock may step back below the last known time and still be
/// believed: NTP corrects small drifts by stepping, and that is not a clock reset. The time
/// returned stays at the last known time until the clock has caught up.
pub const STEP_BACK_TOLERANCE_S: i64 = 5;

/// How long (seconds of system clock) a device's report of its time is carried forward. A
/// system clock that is wrong may also jump (NTP, an operator) between reports, and an old
/// report carried over such a jump would put the time far off and could push `last_known`
/// into the future; bounding the carry bounds that error. While the system clock is
/// implausible the gateway takes a device's time at least this often.
pub const DEVICE_REPORT_VALID_S: i64 = 3_600;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "clock", rename_all = "snake_case")]
pub enum ClockTrust {
    Trusted,
    Untrusted { reason: UntrustedReason },
}

impl ClockTrust {
    pub fn is_trusted(self) -> bool {
        matches!(self, ClockTrust::Trusted)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UntrustedReason {
    /// The system clock is before a time the gateway already saw.
    BeforeLastKnownTime,
    /// The system clock is before this build was made.
    BeforeBuildDate,
}

/// What the gateway knows about time, and the time it goes by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TrustedTime {
    /// The newest time the gateway has seen and trusted (persisted).
    pub last_known: i64,
    /// No plausible clock is before this (the build date, [`BUILD_FLOOR_UNIX`]).
    pub floor: i64,
    /// The latest plausible device report, used while the system clock is implausible.
    device_report: Option<DeviceReport>,
    /// The `last_known` value last handed out for persisting.
    persisted: i64,
}

/// A device's time and the system time when it was read: the time keeps running with the
/// system clock's ticks between reports, even when the system clock's reading is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct DeviceReport {
    reported: i64,
    system: i64,
}

impl DeviceReport {
    /// The device's time at system time `system_now`, unless the report is too old or the
    /// system clock went back since it.
    fn carried_to(self, system_now: i64) -> Option<i64> {
        let elapsed = system_now.saturating_sub(self.system);
        (-STEP_BACK_TOLERANCE_S..=DEVICE_REPORT_VALID_S)
            .contains(&elapsed)
            .then(|| self.reported.saturating_add(elapsed.max(0)))
    }
}

impl TrustedTime {
    /// `last_known` is the time loaded from the store (0 when none was ever saved).
    pub fn new(last_known: i64, floor: i64) -> Self {
        Self {
            last_known,
            floor,
            device_report: None,
            persisted: last_known,
        }
    }

    /// [`TrustedTime::new`] with this build's floor.
    pub fn with_build_floor(last_known: i64) -> Self {
        Self::new(last_known, BUILD_FLOOR_UNIX)
    }

    /// Why a clock reading `time` can't be believed, if it can't.
    fn implausible(&self, time: i64) -> Option<UntrustedReason> {
        if time < self.floor {
            Some(UntrustedReason::BeforeBuildDate)
        } else if time < self.last_known.saturating_sub(STEP_BACK_TOLERANCE_S) {
            Some(UntrustedReason::BeforeLastKnownTime)
        } else {
            None
        }
    }

    /// The time to go by at system time `system_now`, and whether to trust it. The system
    /// clock when it is plausible, else the devices' time when that is, else the newest
    /// time known to have passed (untrusted). Never earlier than `last_known`.
    pub fn assess(&self, system_now: i64) -> (i64, ClockTrust) {
        let Some(system_reason) = self.implausible(system_now) else {
            return (system_now.max(self.last_known), ClockTrust::Trusted);
        };
        let device_now = self
            .device_report
            .and_then(|report| report.carried_to(system_now));
        let reason = match device_now {
            Some(device_now) => match self.implausible(device_now) {
                None => return (device_now.max(self.last_known), ClockTrust::Trusted),
                Some(reason) => reason,
            },
            None => system_reason,
        };
        (
            self.last_known.max(self.floor),
            ClockTrust::Untrusted { reason },
        )
    }

    /// A device reported `reported_unix` as its time while the system clock read
    /// `system_unix`. Reports before the build floor are ignored (a device that lost its
    /// time); returns whether the report was taken.
    pub fn observe_device_time(&mut self, reported_unix: i64, system_unix: i64) -> bool {
        if reported_unix < self.floor {
            return false;
        }
        self.device_report = Some(DeviceReport {
            reported: reported_unix,
            system: system_unix,
        });
        true
    }

    /// Whether a device's report is what the time currently rests on at `system_now`.
    pub fn uses_device_time(&self, system_now: i64) -> bool {
        self.implausible(system_now).is_some() && self.assess(system_now).1.is_trusted()
    }

    /// The `last_known` value last handed out for persisting (or loaded).
    pub fn persisted(&self) -> i64 {
        self.persisted
    }

    /// Moves the last known time up to `now` (a time [`TrustedTime::assess`] returned;
    /// never down) and says whether the gateway should persist `last_known` now: at most
    /// once per [`PERSIST_EVERY_S`].
    pub fn advance_last_known(&mut self, now: i64) -> bool {
        self.last_known = self.last_known.max(now);
        if self.last_known >= self.persisted.saturating_add(PERSIST_EVERY_S) {
            self.persisted = self.last_known;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-11-30T12:00:00Z, after the floor.
    const NOW: i64 = 1_796_040_000;
    const YEAR_S: i64 = 365 * 86_400;

    #[test]
    fn fresh_start_with_a_plausible_clock_is_trusted() {
        let time = TrustedTime::with_build_floor(0);
        assert_eq!(time.assess(NOW), (NOW, ClockTrust::Trusted));
    }

    #[test]
    fn fresh_start_in_1970_is_untrusted_and_goes_by_the_floor() {
        let time = TrustedTime::with_build_floor(0);
        assert_eq!(
            time.assess(1_000),
            (
                BUILD_FLOOR_UNIX,
                ClockTrust::Untrusted {
                    reason: UntrustedReason::BeforeBuildDate
                }
            )
        );
    }

    #[test]
    fn system_clock_set_years_back_is_untrusted() {
        let time = TrustedTime::new(NOW, BUILD_FLOOR_UNIX - 10 * YEAR_S);
        let (now, trust) = time.assess(NOW - 3 * YEAR_S);
        assert_eq!(now, NOW);
        assert_eq!(
            trust,
            ClockTrust::Untrusted {
                reason: UntrustedReason::BeforeLastKnownTime
            }
        );
        // Before the floor names the floor as the reason.
        let time = TrustedTime::with_build_floor(NOW);
        assert_eq!(
            time.assess(NOW - 3 * YEAR_S).1,
            ClockTrust::Untrusted {
                reason: UntrustedReason::BeforeBuildDate
            }
        );
    }

    #[test]
    fn a_device_report_restores_trust_and_time() {
        let mut time = TrustedTime::with_build_floor(NOW);
        let system = NOW - 3 * YEAR_S;
        assert!(!time.assess(system).1.is_trusted());
        // The lock says it is an hour after the last known time.
        assert!(time.observe_device_time(NOW + 3_600, system));
        assert_eq!(time.assess(system), (NOW + 3_600, ClockTrust::Trusted));
        assert!(time.uses_device_time(system));
        // And the time runs on with the system clock's ticks.
        assert_eq!(time.assess(system + 10), (NOW + 3_610, ClockTrust::Trusted));
    }

    #[test]
    fn a_device_report_is_not_carried_over_a_jump_or_for_ever() {
        let mut time = TrustedTime::with_build_floor(NOW);
        let system = 1_000;
        time.observe_device_time(NOW + 100, system);
        let untrusted = |time: &TrustedTime, system| !time.assess(system).1.is_trusted();
        // The system clock jumped forward by years but is still before the last known time.
        assert!(untrusted(&time, system + 5 * YEAR_S));
        // Or back.
        assert!(untrusted(&time, system - 60));
        // Or the report is simply old.
        assert!(!untrusted(&time, system + DEVICE_REPORT_VALID_S));
        assert!(untrusted(&time, system + DEVICE_REPORT_VALID_S + 1));
        // A fresh report helps again.
        time.observe_device_time(NOW + 7_200, system + 2 * DEVICE_REPORT_VALID_S);
        assert!(!untrusted(&time, system + 2 * DEVICE_REPORT_VALID_S + 1));
    }

    #[test]
    fn implausible_device_reports_are_ignored() {
        let mut time = TrustedTime::with_build_floor(NOW);
        assert!(!time.observe_device_time(1_000, 500));
        assert_eq!(time.device_report, None);
        assert!(!time.assess(500).1.is_trusted());
    }

    #[test]
    fn a_device_report_before_the_last_known_time_does_not_restore_trust() {
        let mut time = TrustedTime::with_build_floor(NOW);
        let system = 1_000;
        assert!(time.observe_device_time(NOW - 3_600, system));
        let (now, trust) = time.assess(system);
        assert_eq!(now, NOW);
        assert_eq!(
            trust,
            ClockTrust::Untrusted {
                reason: UntrustedReason::BeforeLastKnownTime
            }
        );
        // Once the device's time has passed the last known time, it is believed.
        assert_eq!(time.assess(system + 3_600).1, ClockTrust::Trusted);
    }

    #[test]
    fn a_plausible_system_clock_wins_over_device_reports() {
        let mut time = TrustedTime::with_build_floor(NOW);
        time.observe_device_time(NOW + 500, NOW);
        assert_eq!(time.assess(NOW + 1), (NOW + 1, ClockTrust::Trusted));
    }

    #[test]
    fn small_steps_back_stay_trusted_but_time_does_not_go_back() {
        let time = TrustedTime::with_build_floor(NOW);
        assert_eq!(
            time.assess(NOW - STEP_BACK_TOLERANCE_S),
            (NOW, ClockTrust::Trusted)
        );
        assert!(!time.assess(NOW - STEP_BACK_TOLERANCE_S - 1).1.is_trusted());
    }

    #[test]
    fn never_backwards() {
        let mut time = TrustedTime::with_build_floor(0);
        let readings = [
            NOW,
            NOW + 30,
            NOW - 2,
            NOW - 5 * YEAR_S,
            NOW + 100,
            0,
            NOW + 99,
            i64::MIN,
            NOW + 200,
        ];
        let mut previous = i64::MIN;
        for (step, system) in readings.into_iter().enumerate() {
            if step == 5 {
                time.observe_device_time(NOW + 150, system);
            }
            let (now, _) = time.assess(system);
            assert!(now >= previous, "went back from {previous} to {now}");
            assert!(now >= time.last_known);
            time.advance_last_known(now);
            previous = now;
        }
    }

    #[test]
    fn persists_at_most_once_per_interval() {
        let mut time = TrustedTime::with_build_floor(NOW);
        assert!(!time.advance_last_known(NOW + 1));
        assert!(!time.advance_last_known(NOW + PERSIST_EVERY_S - 1));
        assert!(time.advance_last_known(NOW + PERSIST_EVERY_S));
        assert_eq!(time.persisted(), NOW + PERSIST_EVERY_S);
        assert!(!time.advance_last_known(NOW + PERSIST_EVERY_S + 1));
        // Never moved down.
        assert!(!time.advance_last_known(0));
        assert_eq!(time.last_known, NOW + PERSIST_EVERY_S + 1);
        // A store that never held a time is written at once.
        let mut fresh = TrustedTime::with_build_floor(0);
        assert!(fresh.advance_last_known(NOW));
    }
}
