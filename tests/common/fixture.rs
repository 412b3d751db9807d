//! A daemon that has paired every simulated device of its building: the usual starting point
//! of a test over real HTTP. The pairings stay in the config's store, so a second daemon on
//! the same [`TestConfig`] starts from them without pairing again.

use nuki_edge::config::IdType;

use super::config::{ConfigBuilder, TestConfig};
use super::daemon::Daemon;

/// Pairs (as a bridge, the way a Bridge replacement is paired) every device the builder
/// lists, and waits until each one's state was read once.
pub fn paired_daemon(builder: ConfigBuilder) -> (TestConfig, Daemon) {
    let config = builder.auto_pair(IdType::Bridge).build();
    let daemon = start_ready(&config);
    (config, daemon)
}

/// Starts a daemon on an existing configuration and waits until every device's state was
/// read (pairing first whatever the store does not know yet).
pub fn start_ready(config: &TestConfig) -> Daemon {
    let mut daemon = Daemon::start(config);
    daemon.wait_ready();
    daemon
}
