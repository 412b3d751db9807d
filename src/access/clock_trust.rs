//! Whether the gateway may believe its clock. A Pi has no clock battery: after a power cut it
//! may start in 1970 or at the last time it saved. Time-limited permissions fail closed while
//! the clock is untrusted; unlimited ones and owner/admin access still work.

use serde::Serialize;

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
    /// No plausible clock is before this (the build date).
    pub floor: i64,
    /// `device time − system time` from the latest device report, used while the system
    /// clock is implausible.
    pub device_offset: Option<i64>,
}

impl TrustedTime {
    pub fn new(last_known: i64, floor: i64) -> Self {
        Self {
            last_known,
            floor,
            device_offset: None,
        }
    }

    /// The time to go by at system time `system_now`, and whether to trust it.
    pub fn assess(&self, system_now: i64) -> (i64, ClockTrust) {
        let system_untrusted = if system_now < self.floor {
            Some(UntrustedReason::BeforeBuildDate)
        } else if system_now < self.last_known {
            Some(UntrustedReason::BeforeLastKnownTime)
        } else {
            None
        };
        match (system_untrusted, self.device_offset) {
            (None, _) => (system_now, ClockTrust::Trusted),
            (Some(_), Some(offset)) => {
                let now = system_now.saturating_add(offset);
                if now >= self.floor && now >= self.last_known {
                    (now, ClockTrust::Trusted)
                } else {
                    (
                        self.last_known.max(now),
                        ClockTrust::Untrusted {
                            reason: UntrustedReason::BeforeLastKnownTime,
                        },
                    )
                }
            }
            (Some(reason), None) => (
                self.last_known.max(system_now),
                ClockTrust::Untrusted { reason },
            ),
        }
    }
}
