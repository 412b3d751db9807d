//! The gateway's time: the injected clock checked against what the gateway already knows.
//! A Pi has no clock battery, so after a power cut its clock may read 1970 or an old time.
//! The last known good time is persisted (never going backwards), the devices' own clocks
//! stand in while the system clock is implausible, and while neither can be believed the
//! gateway says so and time-limited permissions fail closed (see `access::TrustedTime`).

use std::sync::Mutex;

use crate::access::{ClockTrust, TrustedTime};
use crate::clock::SharedClock;
use crate::nuki::codec::DateTime;
use crate::store::Store;

/// The setting holding the last known good time (Unix seconds).
pub const SETTING_LAST_KNOWN_TIME: &str = "last_known_time";

pub(crate) struct TimeKeeper {
    trusted: Mutex<TrustedTime>,
}

impl TimeKeeper {
    /// Starts from the last known time saved in `store` (none: only the build date).
    pub fn load(store: &Store) -> Self {
        let last_known = match store.get_setting(SETTING_LAST_KNOWN_TIME) {
            Ok(value) => value.and_then(|text| text.parse::<i64>().ok()).unwrap_or(0),
            Err(error) => {
                tracing::warn!(%error, "could not read the last known time; trusting only the build date");
                0
            }
        };
        Self {
            trusted: Mutex::new(TrustedTime::with_build_floor(last_known)),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, TrustedTime> {
        self.trusted.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The time to go by and whether to trust it; saves the last known time now and then.
    pub fn now(&self, clock: &SharedClock, store: &Store) -> (i64, ClockTrust) {
        let system_now = clock.now_unix();
        let (now, trust, persist) = {
            let mut trusted = self.lock();
            let (now, trust) = trusted.assess(system_now);
            let persist = trust.is_trusted() && trusted.advance_last_known(now);
            (now, trust, persist)
        };
        if persist {
            if let Err(error) = store.set_setting(SETTING_LAST_KNOWN_TIME, &now.to_string()) {
                tracing::warn!(%error, "could not save the last known time");
            }
        }
        (now, trust)
    }

    /// A device reported its clock (UTC), as every state it sends carries it.
    pub fn observe(&self, clock: &SharedClock, current_time: &DateTime) {
        let Some(reported) = current_time.to_offset().map(|t| t.unix_timestamp()) else {
            return;
        };
        let system_now = clock.now_unix();
        let mut trusted = self.lock();
        let was_untrusted = !trusted.assess(system_now).1.is_trusted();
        if trusted.observe_device_time(reported, system_now)
            && was_untrusted
            && trusted.assess(system_now).1.is_trusted()
        {
            tracing::info!("the system clock is implausible; going by the time the devices report");
        }
    }
}
