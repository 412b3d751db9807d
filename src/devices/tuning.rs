//! How the fleet shares the radio and how long it waits; every value comes from the
//! configuration.

use std::time::Duration;

use super::link::LinkTimeouts;

/// Tuning of the fleet; every value comes from the configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FleetConfig {
    /// Simultaneous BLE links of the adapter.
    pub link_slots: usize,
    /// A battery device's link closes after this long without a command.
    pub idle_disconnect: Duration,
    /// A mains-powered device (a Box) may keep its link this long.
    pub mains_idle_disconnect: Duration,
    pub timeouts: LinkTimeouts,
    /// First wait after a failed connection; doubles per failure, with jitter.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// While a state-changed flag stays raised (nobody paired as Bridge clears it), read the
    /// device again no sooner than this.
    pub stuck_flag_refresh: Duration,
    /// On shutdown, how long a running command may go on before its link is closed anyway.
    pub shutdown_grace: Duration,
    /// Each device's own log is read this often besides on its state-changed flag; zero:
    /// only on the flag (or when asked).
    pub log_refresh: Duration,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            link_slots: 3,
            idle_disconnect: Duration::from_secs(2),
            mains_idle_disconnect: Duration::from_secs(60),
            timeouts: LinkTimeouts::default(),
            backoff_base: Duration::from_secs(1),
            backoff_max: Duration::from_secs(300),
            stuck_flag_refresh: Duration::from_secs(60),
            shutdown_grace: Duration::from_secs(8),
            log_refresh: Duration::from_secs(60 * 60),
        }
    }
}
