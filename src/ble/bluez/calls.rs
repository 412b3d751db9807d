//! Every BlueZ call goes through [`timed`]: D-Bus calls can hang forever, and btleplug's error
//! type must not leak above this backend.

use std::future::Future;
use std::time::Duration;

use crate::ble::{BleError, DeviceAddress};

/// Calls answered by the local BlueZ daemon alone.
const LOCAL_CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// Opening the session also asks BlueZ for its object tree.
const SESSION_TIMEOUT: Duration = Duration::from_secs(10);
/// BlueZ resolves services as part of connecting, so this covers the whole GATT discovery.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(20);
const DISCOVER_SERVICES_TIMEOUT: Duration = Duration::from_secs(10);
/// Writes and CCCD writes wait for the device's ATT response (several for a long write).
const RADIO_CALL_TIMEOUT: Duration = Duration::from_secs(10);
const DISCONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// btleplug enforces CONNECT_TIMEOUT/DISCOVER_SERVICES_TIMEOUT itself; our outer bound only
/// catches a call that ignores them, so it must not fire first.
const BACKSTOP_GRACE: Duration = Duration::from_secs(2);

/// The time limits of BlueZ calls: the named constants above, unless a caller (a test against
/// a fake BlueZ) needs shorter ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CallLimits {
    /// Calls answered by the local BlueZ daemon alone.
    pub local: Duration,
    pub session: Duration,
    /// Passed to btleplug, which enforces it; ours fires [`BACKSTOP_GRACE`] later.
    pub connect: Duration,
    pub discover_services: Duration,
    /// Writes and subscriptions, answered after the device's ATT response.
    pub radio: Duration,
    pub disconnect: Duration,
}

impl Default for CallLimits {
    fn default() -> Self {
        Self {
            local: LOCAL_CALL_TIMEOUT,
            session: SESSION_TIMEOUT,
            connect: CONNECT_TIMEOUT,
            discover_services: DISCOVER_SERVICES_TIMEOUT,
            radio: RADIO_CALL_TIMEOUT,
            disconnect: DISCONNECT_TIMEOUT,
        }
    }
}

/// The BlueZ calls this backend makes, named for errors and bounded in time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Operation {
    OpenSession,
    ListAdapters,
    AdapterInfo,
    Events,
    StartScan,
    StopScan,
    ListDevices,
    LookupDevice,
    Properties,
    Connect,
    DiscoverServices,
    Notifications,
    Subscribe,
    Write,
    ConnectionState,
    Disconnect,
}

impl Operation {
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::OpenSession => "open BlueZ session",
            Self::ListAdapters => "list adapters",
            Self::AdapterInfo => "read adapter info",
            Self::Events => "open adapter events",
            Self::StartScan => "start scan",
            Self::StopScan => "stop scan",
            Self::ListDevices => "list devices",
            Self::LookupDevice => "look up device",
            Self::Properties => "read device properties",
            Self::Connect => "connect",
            Self::DiscoverServices => "discover services",
            Self::Notifications => "open notification stream",
            Self::Subscribe => "subscribe",
            Self::Write => "write",
            Self::ConnectionState => "read connection state",
            Self::Disconnect => "disconnect",
        }
    }

    pub(super) fn time_limit(self, limits: &CallLimits) -> Duration {
        match self {
            Self::OpenSession => limits.session,
            Self::Connect => limits.connect + BACKSTOP_GRACE,
            Self::DiscoverServices => limits.discover_services + BACKSTOP_GRACE,
            Self::Subscribe | Self::Write => limits.radio,
            Self::Disconnect => limits.disconnect,
            Self::ListAdapters
            | Self::AdapterInfo
            | Self::Events
            | Self::StartScan
            | Self::StopScan
            | Self::ListDevices
            | Self::LookupDevice
            | Self::Properties
            | Self::Notifications
            | Self::ConnectionState => limits.local,
        }
    }

    fn is_connecting(self) -> bool {
        matches!(self, Self::Connect | Self::DiscoverServices)
    }
}

/// Runs one BlueZ call within its operation's time limit and maps its error.
pub(super) async fn timed<T>(
    limits: &CallLimits,
    operation: Operation,
    device: Option<&DeviceAddress>,
    call: impl Future<Output = btleplug::Result<T>>,
) -> Result<T, BleError> {
    let limit = operation.time_limit(limits);
    match tokio::time::timeout(limit, call).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(map_error(error, operation, device)),
        Err(_elapsed) => Err(BleError::Timeout {
            operation: operation.name(),
            after: limit,
        }),
    }
}

/// Maps by variant only; the message text is kept for people, never inspected.
pub(super) fn map_error(
    error: btleplug::Error,
    operation: Operation,
    device: Option<&DeviceAddress>,
) -> BleError {
    match (error, device) {
        (btleplug::Error::TimedOut(after), _) => BleError::Timeout {
            operation: operation.name(),
            after,
        },
        (btleplug::Error::NotConnected, _) => BleError::Disconnected,
        (btleplug::Error::DeviceNotFound, Some(address)) => BleError::NotFound(address.clone()),
        (error, Some(address)) if operation.is_connecting() => BleError::ConnectFailed {
            address: address.clone(),
            reason: error.to_string(),
        },
        (error, _) => BleError::Adapter(format!("{}: {error}", operation.name())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lock() -> DeviceAddress {
        DeviceAddress("54:D2:72:AA:BB:CC".into())
    }

    #[test]
    fn a_btleplug_timeout_keeps_its_duration_and_names_our_operation() {
        let mapped = map_error(
            btleplug::Error::TimedOut(Duration::from_secs(7)),
            Operation::Connect,
            Some(&lock()),
        );
        assert_eq!(
            mapped,
            BleError::Timeout {
                operation: "connect",
                after: Duration::from_secs(7)
            }
        );
    }

    #[test]
    fn not_connected_means_the_link_is_lost() {
        let mapped = map_error(
            btleplug::Error::NotConnected,
            Operation::Write,
            Some(&lock()),
        );
        assert_eq!(mapped, BleError::Disconnected);
    }

    #[test]
    fn an_unknown_device_is_not_found_when_we_know_its_address() {
        let mapped = map_error(
            btleplug::Error::DeviceNotFound,
            Operation::LookupDevice,
            Some(&lock()),
        );
        assert_eq!(mapped, BleError::NotFound(lock()));
        let without_address = map_error(
            btleplug::Error::DeviceNotFound,
            Operation::LookupDevice,
            None,
        );
        assert!(matches!(without_address, BleError::Adapter(_)));
    }

    #[test]
    fn failures_while_connecting_are_connect_failures_for_that_device() {
        let mapped = map_error(
            btleplug::Error::RuntimeError("page timeout".into()),
            Operation::DiscoverServices,
            Some(&lock()),
        );
        assert_eq!(
            mapped,
            BleError::ConnectFailed {
                address: lock(),
                reason: "Runtime Error: page timeout".into()
            }
        );
    }

    #[test]
    fn other_failures_are_adapter_problems_naming_the_operation() {
        let mapped = map_error(
            btleplug::Error::PermissionDenied,
            Operation::StartScan,
            None,
        );
        assert_eq!(
            mapped,
            BleError::Adapter("start scan: Permission denied".into())
        );
        let write = map_error(
            btleplug::Error::NotSupported("x".into()),
            Operation::Write,
            Some(&lock()),
        );
        assert!(matches!(write, BleError::Adapter(message) if message.starts_with("write: ")));
    }

    #[test]
    fn our_backstop_never_fires_before_btleplugs_own_timeouts() {
        let limits = CallLimits::default();
        assert!(Operation::Connect.time_limit(&limits) > limits.connect);
        assert!(Operation::DiscoverServices.time_limit(&limits) > limits.discover_services);
    }

    #[tokio::test(start_paused = true)]
    async fn a_hanging_call_times_out_with_the_operation_limit() {
        let hanging = std::future::pending::<btleplug::Result<()>>();
        let result = timed(&CallLimits::default(), Operation::Properties, None, hanging).await;
        assert_eq!(
            result,
            Err(BleError::Timeout {
                operation: "read device properties",
                after: LOCAL_CALL_TIMEOUT
            })
        );
    }

    #[tokio::test]
    async fn a_finished_call_passes_its_value_or_mapped_error_through() {
        assert_eq!(
            timed(&CallLimits::default(), Operation::Write, None, async {
                Ok(5u8)
            })
            .await,
            Ok(5)
        );
        let failed = timed(&CallLimits::default(), Operation::Write, None, async {
            Err::<(), _>(btleplug::Error::NotConnected)
        })
        .await;
        assert_eq!(failed, Err(BleError::Disconnected));
    }
}
