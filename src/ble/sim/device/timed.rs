//! Time control: the device runs its scheduled lock actions at their local time of day,
//! whether or not anyone is connected (trigger "automatic").

use std::time::Duration;

use super::{Outbound, SimDevice};
use crate::ble::sim::mechanism::MotionRequest;

const TRIGGER_AUTOMATIC: u8 = 0x03;

impl SimDevice {
    fn local_unix(&self, now: Duration) -> i64 {
        self.clock.unix(now) + i64::from(self.settings.timezone_offset()) * 60
    }

    pub(super) fn next_schedule_deadline(&self) -> Option<Duration> {
        let checked = self.schedule_checked_local?;
        let fire_local = self.schedule.next_fire(checked)?;
        let fire_utc = fire_local - i64::from(self.settings.timezone_offset()) * 60;
        Some(self.clock.monotonic_at(fire_utc))
    }

    /// Starts the actions of entries that came due since the last check. One that finds the
    /// motor busy is skipped, as on a real lock.
    pub(super) fn run_schedule(&mut self, now: Duration) -> Vec<Outbound> {
        let local_now = self.local_unix(now);
        let checked = self
            .schedule_checked_local
            .filter(|checked| *checked <= local_now)
            .unwrap_or(local_now);
        self.schedule_checked_local = Some(local_now);
        let mut out = Vec::new();
        for action in self.schedule.due(checked, local_now) {
            let request = MotionRequest {
                action: action.to_u8(),
                trigger: TRIGGER_AUTOMATIC,
                flags: 0,
                requester: None,
                jam: false,
            };
            if let Ok(started) = self.start_motion(request, now) {
                out.extend(started);
            }
        }
        out
    }
}
