//! Slows down clients that keep failing the token check, and keeps their 401s from flooding
//! the log.
//!
//! Per client address: once `max_failures` requests failed authentication within `window`
//! (counted from the first of them), every request from that address is answered 429 until
//! the window ends, without looking at its token, so a guesser learns nothing from the
//! refusals and gets at most `max_failures` guesses per window. A correct token never counts
//! and never resets the count (a legitimate client behind the same NAT must not reopen the
//! door for a guesser). Warnings are limited to one per client per `warn_every`, carrying the
//! number of failures since the previous one. At most `max_clients` addresses are tracked;
//! when full, forgotten windows are purged first, then the oldest window is evicted. IPv6
//! clients are tracked by their /64, which one subscriber usually owns whole.
//!
//! The clock is injected, so the logic is tested without sleeping.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

/// Limits of the failed-authentication guard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthGuardPolicy {
    pub max_failures: u32,
    pub window: Duration,
    pub max_clients: usize,
    pub warn_every: Duration,
}

impl Default for AuthGuardPolicy {
    /// Ten guesses a minute: a client with a mistyped token sees its 401s long before, and
    /// at that rate a 20-character token outlives every attacker.
    fn default() -> Self {
        Self {
            max_failures: 10,
            window: Duration::from_secs(60),
            max_clients: 4096,
            warn_every: Duration::from_secs(60),
        }
    }
}

/// Whether a request from a client may be checked at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admission {
    Allowed,
    LockedOut { retry_after: Duration },
}

/// What to warn about after a failure, at most once per client per `warn_every`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailureReport {
    /// Failures from this client since the previous warning, this one included.
    pub failures: u32,
    /// The client is now locked out until its window ends.
    pub locked_out: bool,
}

#[derive(Debug, Clone, Copy)]
struct ClientRecord {
    window_start: Instant,
    failures: u32,
    last_warning: Option<Instant>,
    unreported: u32,
}

/// Failed authentications by client address.
#[derive(Debug, Default)]
pub struct AuthGuard {
    policy: AuthGuardPolicy,
    clients: HashMap<IpAddr, ClientRecord>,
}

impl AuthGuard {
    pub fn new(policy: AuthGuardPolicy) -> Self {
        Self {
            policy,
            clients: HashMap::new(),
        }
    }

    pub fn policy(&self) -> AuthGuardPolicy {
        self.policy
    }

    /// Takes effect for the next request; counts so far are kept.
    pub fn set_policy(&mut self, policy: AuthGuardPolicy) {
        self.policy = policy;
    }

    /// Number of client addresses currently remembered.
    pub fn tracked(&self) -> usize {
        self.clients.len()
    }

    pub fn admit(&self, client: IpAddr, now: Instant) -> Admission {
        let Some(record) = self.clients.get(&tracking_key(client)) else {
            return Admission::Allowed;
        };
        let window_end = record.window_start + self.policy.window;
        if record.failures >= self.policy.max_failures && now < window_end {
            Admission::LockedOut {
                retry_after: window_end - now,
            }
        } else {
            Admission::Allowed
        }
    }

    /// Counts one failed authentication; returns what to warn about when a warning is due.
    pub fn record_failure(&mut self, client: IpAddr, now: Instant) -> Option<FailureReport> {
        let key = tracking_key(client);
        if !self.clients.contains_key(&key) {
            self.make_room(now);
        }
        let policy = self.policy;
        let record = self.clients.entry(key).or_insert(ClientRecord {
            window_start: now,
            failures: 0,
            last_warning: None,
            unreported: 0,
        });
        if now >= record.window_start + policy.window {
            record.window_start = now;
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1);
        record.unreported = record.unreported.saturating_add(1);
        let warning_due = record
            .last_warning
            .is_none_or(|warned| now >= warned + policy.warn_every);
        if !warning_due {
            return None;
        }
        let report = FailureReport {
            failures: record.unreported,
            locked_out: record.failures >= policy.max_failures,
        };
        record.last_warning = Some(now);
        record.unreported = 0;
        Some(report)
    }

    fn make_room(&mut self, now: Instant) {
        if self.clients.len() < self.policy.max_clients.max(1) {
            return;
        }
        let policy = self.policy;
        self.clients.retain(|_, record| {
            let counting = now < record.window_start + policy.window;
            let warning_pending = record
                .last_warning
                .is_some_and(|warned| now < warned + policy.warn_every);
            counting || warning_pending
        });
        if self.clients.len() < policy.max_clients.max(1) {
            return;
        }
        let oldest = self
            .clients
            .iter()
            .min_by_key(|(_, record)| record.window_start)
            .map(|(key, _)| *key);
        if let Some(oldest) = oldest {
            self.clients.remove(&oldest);
        }
    }
}

/// IPv4 (also mapped into IPv6) by address, IPv6 by /64.
fn tracking_key(client: IpAddr) -> IpAddr {
    match client.to_canonical() {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => {
            let prefix = u128::from(v6) & !u128::from(u64::MAX);
            IpAddr::V6(Ipv6Addr::from(prefix))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn policy() -> AuthGuardPolicy {
        AuthGuardPolicy {
            max_failures: 3,
            window: Duration::from_secs(60),
            max_clients: 4,
            warn_every: Duration::from_secs(60),
        }
    }

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn locks_out_after_max_failures_until_the_window_ends() {
        let mut guard = AuthGuard::new(policy());
        let start = Instant::now();
        for second in 0..3 {
            assert_eq!(
                guard.admit(ip(1), start + Duration::from_secs(second)),
                Admission::Allowed
            );
            guard.record_failure(ip(1), start + Duration::from_secs(second));
        }
        assert_eq!(
            guard.admit(ip(1), start + Duration::from_secs(10)),
            Admission::LockedOut {
                retry_after: Duration::from_secs(50)
            }
        );
        assert_eq!(guard.admit(ip(2), start), Admission::Allowed);
        assert_eq!(
            guard.admit(ip(1), start + Duration::from_secs(60)),
            Admission::Allowed
        );
        // A new window counts from zero.
        guard.record_failure(ip(1), start + Duration::from_secs(61));
        assert_eq!(
            guard.admit(ip(1), start + Duration::from_secs(62)),
            Admission::Allowed
        );
    }

    #[test]
    fn failures_spread_over_windows_never_lock_out() {
        let mut guard = AuthGuard::new(policy());
        let start = Instant::now();
        for minute in 0..100 {
            let at = start + Duration::from_secs(60 * minute);
            guard.record_failure(ip(1), at);
            guard.record_failure(ip(1), at + Duration::from_secs(1));
            assert_eq!(
                guard.admit(ip(1), at + Duration::from_secs(2)),
                Admission::Allowed
            );
        }
    }

    #[test]
    fn warnings_are_limited_to_one_per_period_with_a_count() {
        let mut guard = AuthGuard::new(AuthGuardPolicy {
            max_failures: 100,
            ..policy()
        });
        let start = Instant::now();
        assert_eq!(
            guard.record_failure(ip(1), start),
            Some(FailureReport {
                failures: 1,
                locked_out: false
            })
        );
        for second in 1..40 {
            assert_eq!(
                guard.record_failure(ip(1), start + Duration::from_secs(second)),
                None
            );
        }
        assert_eq!(
            guard.record_failure(ip(1), start + Duration::from_secs(60)),
            Some(FailureReport {
                failures: 40,
                locked_out: false
            })
        );
    }

    #[test]
    fn the_lockout_is_reported() {
        let mut guard = AuthGuard::new(AuthGuardPolicy {
            warn_every: Duration::ZERO,
            ..policy()
        });
        let now = Instant::now();
        let reports: Vec<bool> = (0..3)
            .filter_map(|_| guard.record_failure(ip(1), now))
            .map(|report| report.locked_out)
            .collect();
        assert_eq!(reports, [false, false, true]);
    }

    #[test]
    fn memory_is_bounded_and_the_oldest_window_goes_first() {
        let mut guard = AuthGuard::new(policy());
        let start = Instant::now();
        for last in 0..=200u8 {
            guard.record_failure(ip(last), start + Duration::from_millis(u64::from(last)));
            assert!(guard.tracked() <= 4);
        }
        // The newest clients are remembered.
        for _ in 0..2 {
            guard.record_failure(ip(200), start + Duration::from_secs(1));
        }
        assert!(matches!(
            guard.admit(ip(200), start + Duration::from_secs(2)),
            Admission::LockedOut { .. }
        ));
        // Expired records are purged before a live one is evicted.
        let later = start + Duration::from_secs(3600);
        guard.record_failure(ip(1), later);
        assert_eq!(guard.tracked(), 1);
    }

    #[test]
    fn ipv6_clients_are_tracked_by_their_64_prefix_and_mapped_v4_as_v4() {
        let mut guard = AuthGuard::new(policy());
        let now = Instant::now();
        for suffix in 1..=3u16 {
            let address = Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 0, 0, 0, suffix);
            guard.record_failure(IpAddr::V6(address), now);
        }
        let sibling = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 1, 9, 9, 9, 9));
        assert!(matches!(
            guard.admit(sibling, now),
            Admission::LockedOut { .. }
        ));
        for _ in 0..3 {
            guard.record_failure(ip(9), now);
        }
        let mapped = IpAddr::V6(Ipv4Addr::new(192, 0, 2, 9).to_ipv6_mapped());
        assert!(matches!(
            guard.admit(mapped, now),
            Admission::LockedOut { .. }
        ));
    }
}
