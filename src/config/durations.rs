//! Every duration key has a range: 0 would spin or never wait, and a huge value overflows
//! the clock arithmetic (an `Instant` plus `u64::MAX` seconds panics) or parks a task for
//! good. The bounds are far beyond any sensible setting, so they only catch mistakes.

use super::error::ConfigError;
use super::Config;

/// One duration key, its value and its allowed range (in the key's own unit).
struct Bounded {
    key: &'static str,
    value: u64,
    min: u64,
    max: u64,
}

const MINUTE_S: u64 = 60;
const HOUR_S: u64 = 60 * MINUTE_S;
const DAY_S: u64 = 24 * HOUR_S;
const MINUTE_MS: u64 = 1_000 * MINUTE_S;
const HOUR_MS: u64 = 1_000 * HOUR_S;

impl Config {
    pub(crate) fn validate_durations(&self) -> Result<(), ConfigError> {
        let (ble, fleet, bridge, sim) = (&self.ble, &self.fleet, &self.bridge, &self.sim);
        let bounded = |key, value, min, max| Bounded {
            key,
            value,
            min,
            max,
        };
        let keys = [
            bounded("ble.scan_seconds", ble.scan_seconds, 1, 5 * MINUTE_S),
            bounded(
                "ble.connect_timeout_ms",
                ble.connect_timeout_ms,
                1,
                2 * MINUTE_MS,
            ),
            bounded(
                "ble.command_timeout_ms",
                ble.command_timeout_ms,
                1,
                5 * MINUTE_MS,
            ),
            bounded(
                "ble.pairing_timeout_s",
                ble.pairing_timeout_s,
                1,
                10 * MINUTE_S,
            ),
            bounded(
                "fleet.idle_disconnect_ms",
                fleet.idle_disconnect_ms,
                1,
                HOUR_MS,
            ),
            bounded(
                "fleet.mains_idle_disconnect_s",
                fleet.mains_idle_disconnect_s,
                1,
                DAY_S,
            ),
            bounded(
                "fleet.reconnect_backoff_ms",
                fleet.reconnect_backoff_ms,
                1,
                10 * MINUTE_MS,
            ),
            bounded(
                "fleet.reconnect_backoff_max_s",
                fleet.reconnect_backoff_max_s,
                1,
                DAY_S,
            ),
            bounded(
                "fleet.safety_refresh_min",
                fleet.safety_refresh_min,
                1,
                24 * 60,
            ),
            bounded(
                "fleet.stuck_flag_refresh_s",
                fleet.stuck_flag_refresh_s,
                1,
                DAY_S,
            ),
            // 0 means "only when the state-changed flag rises".
            bounded(
                "fleet.log_refresh_min",
                fleet.log_refresh_min,
                0,
                7 * 24 * 60,
            ),
            bounded(
                "bridge.action_deadline_ms",
                bridge.action_deadline_ms,
                1,
                10 * MINUTE_MS,
            ),
            bounded(
                "bridge.callback_retry_ms",
                bridge.callback_retry_ms,
                1,
                10 * MINUTE_MS,
            ),
            bounded(
                "bridge.callback_timeout_ms",
                bridge.callback_timeout_ms,
                1,
                2 * MINUTE_MS,
            ),
            bounded(
                "sim.connection_interval_ms",
                sim.connection_interval_ms,
                1,
                4_000,
            ),
            bounded("sim.connect_time_ms", sim.connect_time_ms, 1, MINUTE_MS),
            // 0 means "no simulated residents".
            bounded("sim.activity_interval_s", sim.activity_interval_s, 0, DAY_S),
        ];
        let motor_keys: Vec<(String, u64)> = sim
            .devices
            .iter()
            .enumerate()
            .filter_map(|(index, device)| {
                let key = format!("sim.devices[{index}].motor_time_ms");
                device.motor_time_ms.map(|value| (key, value))
            })
            .collect();
        for bounds in keys {
            check(bounds.key, bounds.value, bounds.min, bounds.max)?;
        }
        for (key, value) in motor_keys {
            check(&key, value, 1, MINUTE_MS)?;
        }
        Ok(())
    }
}

fn check(key: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    Err(ConfigError::invalid(
        key,
        format!("must be between {min} and {max}"),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_are_within_bounds() {
        assert_eq!(Config::default().validate_durations(), Ok(()));
    }

    #[test]
    fn zero_and_huge_values_name_their_key() {
        let mut config = Config::default();
        config.fleet.stuck_flag_refresh_s = 0;
        let err = config.validate_durations().unwrap_err();
        assert_eq!(err.key(), Some("fleet.stuck_flag_refresh_s"));

        let mut config = Config::default();
        config.bridge.callback_retry_ms = u64::MAX;
        let err = config.validate_durations().unwrap_err();
        assert_eq!(err.key(), Some("bridge.callback_retry_ms"));
    }
}
