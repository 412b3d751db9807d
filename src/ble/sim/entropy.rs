//! Every random byte a simulated device uses, from one seeded ChaCha stream, with optional
//! scripted values first so that tests can reproduce published vectors.

use std::collections::VecDeque;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::nuki::crypto::NONCE_LEN;

/// Values a test forces into a device instead of random ones.
#[derive(Clone, Default)]
pub struct ForcedSecrets {
    /// The device's Curve25519 secret key.
    pub lock_secret_key: Option<[u8; 32]>,
    pub lock_uuid: Option<[u8; 16]>,
    /// The authorization id given to the next pairing.
    pub next_authorization_id: Option<u32>,
    /// 32-byte challenges, handed out in order before random ones.
    pub challenges: Vec<[u8; 32]>,
    /// 24-byte transport nonces of encrypted messages, in order before random ones.
    pub transport_nonces: Vec<[u8; NONCE_LEN]>,
}

impl std::fmt::Debug for ForcedSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForcedSecrets")
            .field(
                "lock_secret_key",
                &self.lock_secret_key.map(|_| "<redacted>"),
            )
            .field("challenges", &self.challenges.len())
            .field("transport_nonces", &self.transport_nonces.len())
            .finish_non_exhaustive()
    }
}

pub(crate) struct Entropy {
    rng: ChaCha20Rng,
    challenges: VecDeque<[u8; 32]>,
    transport_nonces: VecDeque<[u8; NONCE_LEN]>,
}

impl Entropy {
    pub fn new(seed: u64, forced: &ForcedSecrets) -> Self {
        Self {
            rng: ChaCha20Rng::seed_from_u64(seed),
            challenges: forced.challenges.iter().copied().collect(),
            transport_nonces: forced.transport_nonces.iter().copied().collect(),
        }
    }

    /// Continues from a fresh stream after a power cycle, so no nonce of an earlier run
    /// comes back.
    pub fn reseed_for_boot(&mut self, seed: u64, boots: u64) {
        self.rng = ChaCha20Rng::seed_from_u64(seed ^ boots.rotate_left(32) ^ 0xB007);
    }

    pub fn challenge(&mut self) -> [u8; 32] {
        self.challenges.pop_front().unwrap_or_else(|| {
            let mut nonce = [0u8; 32];
            self.rng.fill_bytes(&mut nonce);
            nonce
        })
    }

    pub fn transport_nonce(&mut self) -> [u8; NONCE_LEN] {
        self.transport_nonces.pop_front().unwrap_or_else(|| {
            let mut nonce = [0u8; NONCE_LEN];
            self.rng.fill_bytes(&mut nonce);
            nonce
        })
    }

    pub fn bytes<const N: usize>(&mut self) -> [u8; N] {
        let mut out = [0u8; N];
        self.rng.fill_bytes(&mut out);
        out
    }

    pub fn rng(&mut self) -> &mut ChaCha20Rng {
        &mut self.rng
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripted_values_come_first_then_seeded_ones() {
        let forced = ForcedSecrets {
            challenges: vec![[0x11; 32]],
            ..ForcedSecrets::default()
        };
        let mut a = Entropy::new(7, &forced);
        let mut b = Entropy::new(7, &forced);
        assert_eq!(a.challenge(), [0x11; 32]);
        assert_eq!(b.challenge(), [0x11; 32]);
        assert_eq!(a.challenge(), b.challenge());
        assert_ne!(
            a.transport_nonce(),
            Entropy::new(8, &forced).transport_nonce()
        );
    }
}
