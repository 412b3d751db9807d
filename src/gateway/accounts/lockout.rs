//! Login throttling: after a run of failures an account, or a client address, is locked for a
//! while. Pure state machines over the gateway's time; the caller keeps them (an account's in
//! its record, so a restart does not reset it; a client's in memory).

use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// Consecutive failed attempts on one account before it is locked.
pub const MAX_ACCOUNT_FAILURES: u32 = 5;
/// Consecutive failed attempts from one client address (on any accounts) before it is
/// locked; higher than an account's, since several people may share an address.
pub const MAX_CLIENT_FAILURES: u32 = 10;
/// How long a lockout lasts.
pub const LOCKOUT_SECONDS: i64 = 15 * 60;
/// Client addresses remembered at most; beyond this, those not locked are forgotten first.
const MAX_TRACKED_CLIENTS: usize = 4096;

/// Failures since the last success, and the lockout they led to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LoginGuard {
    pub failures: u32,
    /// Unix seconds (the gateway's time) until which every attempt is refused.
    pub locked_until: Option<i64>,
}

impl LoginGuard {
    /// Seconds until attempts are accepted again; `None` when they are now.
    pub fn retry_after(&self, now: i64) -> Option<u64> {
        let until = self.locked_until?;
        (until > now).then(|| u64::try_from(until - now).unwrap_or(u64::MAX))
    }

    /// Counts a failure; answers the lockout it started, if it started one.
    pub fn failed(&mut self, now: i64, max_failures: u32) -> Option<u64> {
        if self.locked_until.is_some_and(|until| until <= now) {
            // A lockout that ran out starts a fresh run.
            *self = LoginGuard::default();
        }
        self.failures = self.failures.saturating_add(1);
        if self.failures < max_failures {
            return None;
        }
        self.failures = 0;
        self.locked_until = Some(now.saturating_add(LOCKOUT_SECONDS));
        self.retry_after(now)
    }

    pub fn succeeded(&mut self) {
        *self = LoginGuard::default();
    }

    fn is_idle(&self, now: i64) -> bool {
        self.retry_after(now).is_none()
    }
}

/// The guards of client addresses.
#[derive(Debug, Default)]
pub struct ClientThrottle {
    clients: HashMap<IpAddr, LoginGuard>,
}

impl ClientThrottle {
    pub fn retry_after(&self, client: IpAddr, now: i64) -> Option<u64> {
        self.clients.get(&client)?.retry_after(now)
    }

    pub fn failed(&mut self, client: IpAddr, now: i64) -> Option<u64> {
        if self.clients.len() >= MAX_TRACKED_CLIENTS && !self.clients.contains_key(&client) {
            self.clients.retain(|_, guard| !guard.is_idle(now));
            if self.clients.len() >= MAX_TRACKED_CLIENTS {
                // Every slot holds a locked address: an attack from many addresses. Forget the
                // oldest lockouts rather than grow without bound.
                self.clients.clear();
            }
        }
        self.clients
            .entry(client)
            .or_default()
            .failed(now, MAX_CLIENT_FAILURES)
    }

    pub fn succeeded(&mut self, client: IpAddr) {
        self.clients.remove(&client);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T0: i64 = 1_700_000_000;

    #[test]
    fn the_fifth_failure_locks_for_the_lockout_time() {
        let mut guard = LoginGuard::default();
        for _ in 1..MAX_ACCOUNT_FAILURES {
            assert_eq!(guard.failed(T0, MAX_ACCOUNT_FAILURES), None);
            assert_eq!(guard.retry_after(T0), None);
        }
        let lockout = u64::try_from(LOCKOUT_SECONDS).unwrap();
        assert_eq!(guard.failed(T0, MAX_ACCOUNT_FAILURES), Some(lockout));
        assert_eq!(guard.retry_after(T0 + 60), Some(lockout - 60));
        assert_eq!(guard.retry_after(T0 + LOCKOUT_SECONDS), None);
    }

    #[test]
    fn a_success_resets_and_an_expired_lockout_starts_afresh() {
        let mut guard = LoginGuard::default();
        for _ in 1..MAX_ACCOUNT_FAILURES {
            guard.failed(T0, MAX_ACCOUNT_FAILURES);
        }
        guard.succeeded();
        assert_eq!(guard.failed(T0, MAX_ACCOUNT_FAILURES), None);
        assert_eq!(guard.failures, 1);

        let mut locked = LoginGuard {
            failures: 0,
            locked_until: Some(T0),
        };
        assert_eq!(locked.failed(T0 + 1, MAX_ACCOUNT_FAILURES), None);
        assert_eq!(locked.locked_until, None);
        assert_eq!(locked.failures, 1);
    }

    #[test]
    fn clients_are_throttled_apart() {
        let mut throttle = ClientThrottle::default();
        let (a, b): (IpAddr, IpAddr) = ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap());
        for _ in 1..MAX_CLIENT_FAILURES {
            assert_eq!(throttle.failed(a, T0), None);
        }
        assert!(throttle.failed(a, T0).is_some());
        assert!(throttle.retry_after(a, T0).is_some());
        assert_eq!(throttle.retry_after(b, T0), None);
        throttle.succeeded(a);
        assert_eq!(throttle.retry_after(a, T0), None);
    }

    #[test]
    fn the_client_table_stays_bounded() {
        let mut throttle = ClientThrottle::default();
        for n in 0..(MAX_TRACKED_CLIENTS as u32 + 10) {
            throttle.failed(IpAddr::from(n.to_be_bytes()), T0);
        }
        assert!(throttle.clients.len() <= MAX_TRACKED_CLIENTS);
    }
}
