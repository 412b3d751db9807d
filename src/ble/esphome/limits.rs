//! Time limits of every exchange with a proxy: a proxy on Wi-Fi can stop answering at any
//! moment, and a request without an answer must end in an error, never a hang.

use std::future::Future;
use std::time::Duration;

use crate::ble::BleError;

/// TCP connect plus the Noise handshake, Hello, and the device info.
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);
/// The proxy connects to the device and ESP-IDF gives up after ~20 s on its own.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const DISCOVER_SERVICES_TIMEOUT: Duration = Duration::from_secs(10);
/// Writes and subscriptions wait for the device's ATT response relayed over Wi-Fi.
const RADIO_CALL_TIMEOUT: Duration = Duration::from_secs(10);
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// ESPHome pings idle clients about every 20 s too; a proxy silent for three of these is gone.
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(20);
const RECONNECT_MIN: Duration = Duration::from_millis(500);
const RECONNECT_MAX: Duration = Duration::from_secs(60);

/// The time limits of the calls to a proxy: the named constants above, unless a caller (a test
/// against a fake proxy) needs shorter ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    pub session: Duration,
    pub connect: Duration,
    pub discover_services: Duration,
    pub radio: Duration,
    pub disconnect: Duration,
    /// How often we ping; three intervals without any message end the API connection.
    pub keepalive: Duration,
    /// First and largest pause between reconnection attempts (doubled per failure, jittered).
    pub reconnect_min: Duration,
    pub reconnect_max: Duration,
}

impl Default for CallLimits {
    fn default() -> Self {
        Self {
            session: SESSION_TIMEOUT,
            connect: CONNECT_TIMEOUT,
            discover_services: DISCOVER_SERVICES_TIMEOUT,
            radio: RADIO_CALL_TIMEOUT,
            disconnect: DISCONNECT_TIMEOUT,
            keepalive: KEEPALIVE_INTERVAL,
            reconnect_min: RECONNECT_MIN,
            reconnect_max: RECONNECT_MAX,
        }
    }
}

/// The proxy calls this backend bounds in time, named for errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operation {
    Connect,
    DiscoverServices,
    Subscribe,
    Write,
    Disconnect,
}

impl Operation {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Connect => "connect through ESPHome proxy",
            Self::DiscoverServices => "discover services through ESPHome proxy",
            Self::Subscribe => "subscribe through ESPHome proxy",
            Self::Write => "write through ESPHome proxy",
            Self::Disconnect => "disconnect through ESPHome proxy",
        }
    }

    pub(super) fn time_limit(self, limits: &CallLimits) -> Duration {
        match self {
            Self::Connect => limits.connect,
            Self::DiscoverServices => limits.discover_services,
            Self::Subscribe | Self::Write => limits.radio,
            Self::Disconnect => limits.disconnect,
        }
    }
}

/// Runs one call within its operation's limit.
pub(super) async fn timed<T>(
    limits: &CallLimits,
    operation: Operation,
    call: impl Future<Output = Result<T, BleError>>,
) -> Result<T, BleError> {
    let limit = operation.time_limit(limits);
    tokio::time::timeout(limit, call)
        .await
        .unwrap_or(Err(BleError::Timeout {
            operation: operation.name(),
            after: limit,
        }))
}

/// The pause before reconnection attempt `failures` (1 for the first retry): doubled per
/// failure up to the maximum, then between half and all of it, so that several gateways
/// restarting together do not hit a proxy at the same instant.
pub(super) fn backoff(limits: &CallLimits, failures: u32, jitter: f64) -> Duration {
    let doubled = limits
        .reconnect_min
        .saturating_mul(1u32 << failures.saturating_sub(1).min(16));
    let capped = doubled.min(limits.reconnect_max);
    capped.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_maximum_with_jitter_below_it() {
        let limits = CallLimits::default();
        assert_eq!(backoff(&limits, 1, 1.0), RECONNECT_MIN);
        assert_eq!(backoff(&limits, 2, 1.0), RECONNECT_MIN * 2);
        assert_eq!(backoff(&limits, 40, 1.0), RECONNECT_MAX);
        assert_eq!(backoff(&limits, 40, 0.0), RECONNECT_MAX / 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_call_without_an_answer_times_out_with_its_name() {
        let result = timed(
            &CallLimits::default(),
            Operation::Write,
            std::future::pending::<Result<(), BleError>>(),
        )
        .await;
        assert_eq!(
            result,
            Err(BleError::Timeout {
                operation: "write through ESPHome proxy",
                after: RADIO_CALL_TIMEOUT
            })
        );
    }
}
