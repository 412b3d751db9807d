//! The security PIN and its lockout after repeated wrong attempts.

use std::time::Duration;

use crate::nuki::messages::SecurityPin;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PinRejection {
    /// `K_ERROR_BAD_PIN`
    Wrong,
    /// `K_ERROR_TOO_MANY_PIN_ATTEMPTS`
    LockedOut,
}

pub(crate) struct PinGuard {
    pin: SecurityPin,
    wrong_in_a_row: u8,
    locked_until: Option<Duration>,
    max_wrong: u8,
    lockout: Duration,
}

impl PinGuard {
    pub fn new(pin: SecurityPin, max_wrong: u8, lockout: Duration) -> Self {
        Self {
            pin,
            wrong_in_a_row: 0,
            locked_until: None,
            max_wrong: max_wrong.max(1),
            lockout,
        }
    }

    /// Checks a PIN. The attempt that reaches the limit is still reported as wrong; the
    /// following ones are refused as locked out until the lockout ends, even when correct.
    pub fn check(&mut self, given: SecurityPin, now: Duration) -> Result<(), PinRejection> {
        if let Some(until) = self.locked_until {
            if now < until {
                return Err(PinRejection::LockedOut);
            }
            self.locked_until = None;
            self.wrong_in_a_row = 0;
        }
        // The width is the family's, so equal values are the same PIN.
        if given.value() == self.pin.value() {
            self.wrong_in_a_row = 0;
            return Ok(());
        }
        self.wrong_in_a_row = self.wrong_in_a_row.saturating_add(1);
        if self.wrong_in_a_row >= self.max_wrong {
            self.locked_until = Some(now + self.lockout);
        }
        Err(PinRejection::Wrong)
    }

    pub fn current(&self) -> SecurityPin {
        self.pin
    }

    pub fn set(&mut self, pin: SecurityPin) {
        self.pin = pin;
    }
}

impl Drop for PinGuard {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.pin);
    }
}

impl std::fmt::Debug for PinGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PinGuard")
            .field("wrong_in_a_row", &self.wrong_in_a_row)
            .field("locked_until", &self.locked_until)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_out_after_the_limit_and_recovers() {
        let (right, wrong) = (SecurityPin::Short(1234), SecurityPin::Short(1));
        let mut guard = PinGuard::new(right, 3, Duration::from_secs(60));
        let t = Duration::from_secs(1);
        assert_eq!(guard.check(wrong, t), Err(PinRejection::Wrong));
        assert_eq!(guard.check(right, t), Ok(()));
        for _ in 0..3 {
            assert_eq!(guard.check(wrong, t), Err(PinRejection::Wrong));
        }
        assert_eq!(guard.check(right, t), Err(PinRejection::LockedOut));
        assert_eq!(guard.check(right, Duration::from_secs(62)), Ok(()));
    }

    #[test]
    fn debug_hides_the_pin() {
        let guard = PinGuard::new(SecurityPin::Short(4711), 3, Duration::ZERO);
        assert!(!format!("{guard:?}").contains("4711"));
    }
}
