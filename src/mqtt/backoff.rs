//! Pauses between attempts to reach the broker: doubling from a first pause up to a maximum,
//! each with random jitter so that many gateways do not reconnect in step after a broker
//! restart.

use std::time::Duration;

use rand::Rng;

/// The first pause after a lost or failed connection.
pub const RECONNECT_BACKOFF_FIRST: Duration = Duration::from_millis(500);
/// The longest pause between two attempts.
pub const RECONNECT_BACKOFF_MAX: Duration = Duration::from_secs(30);
/// Each pause is the nominal one times a random factor in `1 ± RECONNECT_JITTER`.
pub const RECONNECT_JITTER: f64 = 0.25;

#[derive(Debug, Clone)]
pub struct Backoff {
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Self {
        Self {
            next: RECONNECT_BACKOFF_FIRST,
        }
    }
}

impl Backoff {
    /// The next pause (jittered); the one after it is twice as long, up to the maximum.
    pub fn next_pause(&mut self) -> Duration {
        let nominal = self.next;
        self.next = (self.next * 2).min(RECONNECT_BACKOFF_MAX);
        let factor = rand::thread_rng().gen_range(1.0 - RECONNECT_JITTER..=1.0 + RECONNECT_JITTER);
        nominal.mul_f64(factor)
    }

    /// After a successful connection the next failure starts over with the first pause.
    pub fn reset(&mut self) {
        self.next = RECONNECT_BACKOFF_FIRST;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_double_up_to_the_maximum_within_the_jitter() {
        let mut backoff = Backoff::default();
        let mut nominal = RECONNECT_BACKOFF_FIRST;
        for _ in 0..12 {
            let pause = backoff.next_pause();
            assert!(pause >= nominal.mul_f64(1.0 - RECONNECT_JITTER));
            assert!(pause <= nominal.mul_f64(1.0 + RECONNECT_JITTER));
            nominal = (nominal * 2).min(RECONNECT_BACKOFF_MAX);
        }
        backoff.reset();
        assert!(backoff.next_pause() <= RECONNECT_BACKOFF_FIRST.mul_f64(1.0 + RECONNECT_JITTER));
    }
}
