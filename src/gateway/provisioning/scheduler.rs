//! When provisioning runs: after a change, when a device with work left is heard, connected
//! or (re)added, on a retry timer with backoff and jitter per device, and on a slow sweep
//! that also catches daylight-saving changes. One worker per device at a time; a change
//! arriving while it runs makes it run again right after.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use rand::Rng;
use tokio::sync::{broadcast, Notify};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::access::DeviceId;
use crate::ble::DeviceAddress;
use crate::devices::fleet::FleetEvent;

use super::super::Gateway;

/// First wait before a device with work left is tried again; doubles per failed run.
pub const PROVISIONING_RETRY_BASE: Duration = Duration::from_secs(30);
/// Longest wait between runs for a device with work left.
pub const PROVISIONING_RETRY_MAX: Duration = Duration::from_secs(30 * 60);
/// A device with work left that is heard again is tried at most this often.
pub const PROVISIONING_HEARD_GAP: Duration = Duration::from_secs(20);
/// Every device is checked against the store this often, even without a change (a
/// daylight-saving change moves the offset the devices must hold).
pub const PROVISIONING_SWEEP: Duration = Duration::from_secs(10 * 60);
/// How long one provisioning command may take, queueing behind users' work included.
pub const PROVISIONING_STEP_DEADLINE: Duration = Duration::from_secs(60);

/// How provisioning paces itself; the defaults are the named constants above.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProvisioningTuning {
    pub retry_base: Duration,
    pub retry_max: Duration,
    pub heard_gap: Duration,
    pub sweep: Duration,
    pub step_deadline: Duration,
}

impl Default for ProvisioningTuning {
    fn default() -> Self {
        Self {
            retry_base: PROVISIONING_RETRY_BASE,
            retry_max: PROVISIONING_RETRY_MAX,
            heard_gap: PROVISIONING_HEARD_GAP,
            sweep: PROVISIONING_SWEEP,
            step_deadline: PROVISIONING_STEP_DEADLINE,
        }
    }
}

#[derive(Debug, Default)]
struct DeviceSchedule {
    running: bool,
    /// Something changed while the worker ran: run again once it ends.
    dirty: bool,
    failed_runs: u32,
    next_try: Option<Instant>,
    last_try: Option<Instant>,
}

#[derive(Debug, Default)]
struct Schedules {
    devices: HashMap<DeviceId, DeviceSchedule>,
    /// Devices with work left, by address, so hearing one is a cheap lookup.
    waiting: HashMap<DeviceAddress, DeviceId>,
}

/// Provisioning's share of the gateway.
#[derive(Debug)]
pub struct Provisioner {
    pub(super) tuning: ProvisioningTuning,
    /// The zone of devices that belong to no address.
    pub(super) default_zone: jiff::tz::TimeZone,
    wake: Notify,
    /// A retry time changed: the loop recomputes when to wake, without a pass.
    reschedule: Notify,
    schedules: Mutex<Schedules>,
}

impl Provisioner {
    pub fn new(tuning: ProvisioningTuning) -> Self {
        Self {
            tuning,
            default_zone: jiff::tz::TimeZone::system(),
            wake: Notify::new(),
            reschedule: Notify::new(),
            schedules: Mutex::new(Schedules::default()),
        }
    }

    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// A device was heard (or connected): if it has work left and was not tried lately, it
    /// is tried now.
    pub fn heard(&self, address: &DeviceAddress) {
        let now = Instant::now();
        let due = {
            let mut schedules = self.lock();
            let Some(device) = schedules.waiting.get(address).copied() else {
                return;
            };
            let gap = self.tuning.heard_gap;
            let schedule = schedules.devices.entry(device).or_default();
            let waiting = schedule.next_try.is_some_and(|next| next > now);
            let rested = schedule
                .last_try
                .is_none_or(|last| now.duration_since(last) >= gap);
            if !schedule.running && waiting && rested {
                schedule.next_try = None;
                true
            } else {
                false
            }
        };
        if due {
            self.wake();
        }
    }

    /// Claims a device for a worker when it is due; a running one is marked to run again.
    pub(super) fn try_start(&self, device: DeviceId) -> bool {
        let now = Instant::now();
        let mut schedules = self.lock();
        let schedule = schedules.devices.entry(device).or_default();
        if schedule.running {
            schedule.dirty = true;
            return false;
        }
        if schedule.next_try.is_some_and(|next| next > now) {
            return false;
        }
        schedule.running = true;
        schedule.last_try = Some(now);
        true
    }

    /// A worker ended; `work_left`: it could not finish (device away or busy).
    pub(super) fn finished(&self, device: DeviceId, work_left: bool) {
        let rerun = {
            let mut schedules = self.lock();
            let schedule = schedules.devices.entry(device).or_default();
            schedule.running = false;
            if work_left {
                schedule.failed_runs = schedule.failed_runs.saturating_add(1);
                schedule.next_try = Some(Instant::now() + self.backoff(schedule.failed_runs));
            } else {
                schedule.failed_runs = 0;
                schedule.next_try = None;
            }
            if std::mem::take(&mut schedule.dirty) {
                // A change arrived meanwhile; it deserves a try of its own.
                schedule.next_try = None;
                true
            } else {
                false
            }
        };
        if rerun {
            self.wake();
        } else {
            self.reschedule.notify_one();
        }
    }

    /// After a pass: the devices that still have work, by address.
    pub(super) fn set_waiting(&self, waiting: HashMap<DeviceAddress, DeviceId>) {
        let mut schedules = self.lock();
        let keep: std::collections::HashSet<DeviceId> = waiting.values().copied().collect();
        schedules
            .devices
            .retain(|device, schedule| schedule.running || keep.contains(device));
        schedules.waiting = waiting;
    }

    /// The earliest retry among the devices with work left.
    fn next_due(&self) -> Option<Instant> {
        let schedules = self.lock();
        schedules
            .waiting
            .values()
            .filter_map(|device| schedules.devices.get(device))
            .filter(|schedule| !schedule.running)
            .filter_map(|schedule| schedule.next_try)
            .min()
    }

    /// Exponential backoff with jitter (half to full), capped.
    fn backoff(&self, failed_runs: u32) -> Duration {
        let exponent = failed_runs.saturating_sub(1).min(16);
        let ceiling = self
            .tuning
            .retry_base
            .saturating_mul(1 << exponent)
            .min(self.tuning.retry_max);
        ceiling.mul_f64(rand::thread_rng().gen_range(0.5..=1.0))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Schedules> {
        self.schedules
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The provisioning loop; holds the gateway only while a pass runs.
pub(super) async fn run(
    gateway: Weak<Gateway>,
    provisioner: Arc<Provisioner>,
    mut fleet_events: broadcast::Receiver<FleetEvent>,
    shutdown: CancellationToken,
) {
    let mut next_sweep = Instant::now();
    let mut events_open = true;
    loop {
        let wake_at = provisioner
            .next_due()
            .map_or(next_sweep, |due| due.min(next_sweep));
        tokio::select! {
            biased;
            () = shutdown.cancelled() => return,
            () = provisioner.wake.notified() => {}
            () = provisioner.reschedule.notified() => continue,
            () = tokio::time::sleep_until(wake_at) => {}
            event = fleet_events.recv(), if events_open => match event {
                Ok(FleetEvent::Connected { address }) => {
                    provisioner.heard(&address);
                    continue;
                }
                // A device (re)joined: it may have had no address to be heard by before.
                Ok(FleetEvent::Added { .. }) | Err(broadcast::error::RecvError::Lagged(_)) => {}
                Ok(_) => continue,
                Err(broadcast::error::RecvError::Closed) => {
                    events_open = false;
                    continue;
                }
            },
        }
        let now = Instant::now();
        if now >= next_sweep {
            next_sweep = now + provisioner.tuning.sweep;
        }
        let Some(gateway) = gateway.upgrade() else {
            return;
        };
        gateway.provisioning_pass().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provisioner(heard_gap: Duration) -> Provisioner {
        Provisioner::new(ProvisioningTuning {
            retry_base: Duration::from_secs(10),
            retry_max: Duration::from_secs(60),
            heard_gap,
            ..ProvisioningTuning::default()
        })
    }

    fn next_try(provisioner: &Provisioner, device: DeviceId) -> Option<Instant> {
        provisioner
            .lock()
            .devices
            .get(&device)
            .and_then(|s| s.next_try)
    }

    #[tokio::test]
    async fn a_device_runs_once_at_a_time_and_again_after_a_change_meanwhile() {
        let provisioner = provisioner(Duration::ZERO);
        let device = DeviceId(1);
        assert!(provisioner.try_start(device));
        assert!(!provisioner.try_start(device), "already running");
        provisioner.finished(device, true);
        assert_eq!(
            next_try(&provisioner, device),
            None,
            "the change that came meanwhile is tried at once"
        );
        assert!(provisioner.try_start(device));
        provisioner.finished(device, true);
        assert!(!provisioner.try_start(device), "backing off");
    }

    #[tokio::test]
    async fn retries_back_off_with_jitter_up_to_the_maximum() {
        let provisioner = provisioner(Duration::ZERO);
        for failed_runs in 1..=8u32 {
            let ceiling =
                (Duration::from_secs(10) * 2u32.pow(failed_runs - 1)).min(Duration::from_secs(60));
            for _ in 0..20 {
                let wait = provisioner.backoff(failed_runs);
                assert!(wait <= ceiling && wait >= ceiling / 2, "{wait:?}");
            }
        }
        let device = DeviceId(2);
        assert!(provisioner.try_start(device));
        provisioner.finished(device, true);
        assert!(next_try(&provisioner, device).is_some());
        provisioner
            .lock()
            .devices
            .entry(device)
            .or_default()
            .next_try = None;
        assert!(provisioner.try_start(device));
        provisioner.finished(device, false);
        assert_eq!(next_try(&provisioner, device), None, "success resets");
    }

    #[tokio::test]
    async fn hearing_a_waiting_device_makes_it_due_but_not_too_often() {
        let address = DeviceAddress("sim:lock".into());
        let device = DeviceId(3);
        let eager = provisioner(Duration::ZERO);
        eager.set_waiting(HashMap::from([(address.clone(), device)]));
        assert!(eager.try_start(device));
        eager.finished(device, true);
        assert!(next_try(&eager, device).is_some());
        eager.heard(&address);
        assert_eq!(next_try(&eager, device), None);

        let patient = provisioner(Duration::from_secs(3_600));
        patient.set_waiting(HashMap::from([(address.clone(), device)]));
        assert!(patient.try_start(device));
        patient.finished(device, true);
        patient.heard(&address);
        assert!(next_try(&patient, device).is_some(), "tried too recently");
        patient.heard(&DeviceAddress("sim:other".into()));
    }
}
