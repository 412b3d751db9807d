//! Shares BlueZ discovery between its users. Discovery is one switch per D-Bus client, but
//! scans and advertisement feeds overlap, and a connect must pause it: many controllers cannot
//! scan and initiate a connection at the same time.

use btleplug::api::{Central, ScanFilter};
use btleplug::platform::Adapter;
use tokio::sync::Mutex;

use super::calls::{timed, CallLimits, Operation};

/// How often discovery is asked for again after the adapter came back, and the pause between.
const REASSERT_ATTEMPTS: u32 = 5;
const REASSERT_PAUSE: std::time::Duration = std::time::Duration::from_millis(500);
/// After this long without any advertisement while listening, discovery is asked for again.
pub(super) const DISCOVERY_SILENCE: std::time::Duration = std::time::Duration::from_secs(8);
use crate::ble::BleError;

/// What the radio has to do after a change of users.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Switch {
    Start,
    Stop,
    Keep,
}

#[derive(Debug, Default)]
struct Users {
    listeners: usize,
    paused: bool,
}

impl Users {
    fn listening(&self) -> bool {
        self.listeners > 0 && !self.paused
    }

    fn change(&mut self, change: impl FnOnce(&mut Self)) -> Switch {
        let before = self.listening();
        change(self);
        match (before, self.listening()) {
            (false, true) => Switch::Start,
            (true, false) => Switch::Stop,
            _ => Switch::Keep,
        }
    }
}

#[derive(Debug)]
pub(super) struct Discovery {
    users: Mutex<Users>,
    limits: CallLimits,
}

impl Discovery {
    pub(super) fn new(limits: CallLimits) -> Self {
        Self {
            users: Mutex::default(),
            limits,
        }
    }

    pub(super) async fn start_listening(&self, adapter: &Adapter) -> Result<(), BleError> {
        let mut users = self.users.lock().await;
        let switch = users.change(|users| users.listeners += 1);
        if let Err(error) = apply(adapter, &self.limits, switch).await {
            users.listeners -= 1;
            return Err(error);
        }
        Ok(())
    }

    pub(super) async fn stop_listening(&self, adapter: &Adapter) {
        let mut users = self.users.lock().await;
        let switch = users.change(|users| users.listeners = users.listeners.saturating_sub(1));
        report(apply(adapter, &self.limits, switch).await);
    }

    /// bluetoothd forgets every client's discovery when the adapter powers down or bluetoothd
    /// restarts; the adapter powering up again is the sign to ask anew if anyone listens.
    /// A freshly started bluetoothd may still be busy (or slow on a loaded machine) when its
    /// adapter reports powered: a failed request is asked again a few times, or the feed
    /// would stay silent until the next restart.
    pub(super) async fn reassert(&self, adapter: &Adapter) {
        for attempt in 1..=REASSERT_ATTEMPTS {
            let result = {
                let users = self.users.lock().await;
                if !users.listening() {
                    return;
                }
                apply(adapter, &self.limits, Switch::Start).await
            };
            match result {
                Ok(()) => return,
                Err(error) if attempt == REASSERT_ATTEMPTS => report(Err(error)),
                Err(error) => {
                    tracing::debug!(%error, attempt, "BlueZ discovery not restarted yet; asking again");
                    tokio::time::sleep(REASSERT_PAUSE).await;
                }
            }
        }
    }

    /// The feed heard nothing for a while although somebody listens: Nuki devices advertise
    /// all the time, so discovery is most likely gone without a word on D-Bus (a power-up
    /// signal missed, or every request after a restart refused). Asked for once more; BlueZ
    /// refusing because discovery does run is the good case, hence only a debug line.
    pub(super) async fn renew_after_silence(&self, adapter: &Adapter) {
        let users = self.users.lock().await;
        if !users.listening() {
            return;
        }
        if let Err(error) = apply(adapter, &self.limits, Switch::Start).await {
            tracing::debug!(%error, "BlueZ discovery renewal after silence refused");
        }
    }

    pub(super) async fn pause(&self, adapter: &Adapter) {
        let mut users = self.users.lock().await;
        let switch = users.change(|users| users.paused = true);
        report(apply(adapter, &self.limits, switch).await);
    }

    pub(super) async fn resume(&self, adapter: &Adapter) {
        let mut users = self.users.lock().await;
        let switch = users.change(|users| users.paused = false);
        report(apply(adapter, &self.limits, switch).await);
    }
}

async fn apply(adapter: &Adapter, limits: &CallLimits, switch: Switch) -> Result<(), BleError> {
    match switch {
        // Unfiltered: the Nuki iBeacon carries no service UUID.
        Switch::Start => {
            timed(
                limits,
                Operation::StartScan,
                None,
                adapter.start_scan(ScanFilter::default()),
            )
            .await
        }
        Switch::Stop => timed(limits, Operation::StopScan, None, adapter.stop_scan()).await,
        Switch::Keep => Ok(()),
    }
}

/// Stopping or restarting discovery on behalf of others has no caller to fail.
fn report(result: Result<(), BleError>) {
    if let Err(error) = result {
        tracing::warn!(%error, "could not switch BlueZ discovery");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn add(users: &mut Users) -> Switch {
        users.change(|users| users.listeners += 1)
    }

    fn remove(users: &mut Users) -> Switch {
        users.change(|users| users.listeners = users.listeners.saturating_sub(1))
    }

    #[test]
    fn the_first_listener_starts_and_the_last_stops_discovery() {
        let mut users = Users::default();
        assert_eq!(add(&mut users), Switch::Start);
        assert_eq!(add(&mut users), Switch::Keep);
        assert_eq!(remove(&mut users), Switch::Keep);
        assert_eq!(remove(&mut users), Switch::Stop);
        assert_eq!(remove(&mut users), Switch::Keep);
        assert_eq!(users.listeners, 0);
    }

    #[test]
    fn a_connect_pauses_discovery_and_restarts_it_only_if_still_wanted() {
        let mut users = Users::default();
        add(&mut users);
        assert_eq!(users.change(|users| users.paused = true), Switch::Stop);
        assert_eq!(add(&mut users), Switch::Keep);
        assert_eq!(users.change(|users| users.paused = false), Switch::Start);

        users.change(|users| users.paused = true);
        remove(&mut users);
        remove(&mut users);
        assert_eq!(users.change(|users| users.paused = false), Switch::Keep);
    }

    #[test]
    fn pausing_without_listeners_touches_nothing() {
        let mut users = Users::default();
        assert_eq!(users.change(|users| users.paused = true), Switch::Keep);
        assert_eq!(add(&mut users), Switch::Keep);
        assert_eq!(remove(&mut users), Switch::Keep);
        assert_eq!(users.change(|users| users.paused = false), Switch::Keep);
    }
}
