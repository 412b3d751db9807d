//! The radios listening to the simulated building: which of them hears which device, how
//! loud, and which packets each misses.
//!
//! Every radio draws its losses and jitter from its own seeded streams, so that what one radio
//! hears does not depend on how often another one listened.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha20Rng;

use crate::ble::sim::path_loss::{PathLoss, Position};
use crate::ble::RadioId;

/// Keeps a radio's connect draws apart from its advertisement draws.
const CONNECT_STREAM: u64 = 0xC0_4E_C7;

/// One positioned radio.
pub(super) struct Radio {
    pub(super) position: Position,
    pub(super) up: bool,
    adverts: ChaCha20Rng,
    connects: ChaCha20Rng,
}

/// How a radio receives one device at this moment.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Reception {
    /// No geometry to go by (the device or the listener has no position): the spec's RSSI,
    /// never a packet lost, as a single simulated radio always behaved.
    Nominal(i16),
    /// Heard at a mean RSSI (dBm), losing each packet with probability `loss`.
    Faded { rssi: f64, loss: f64 },
    /// Not heard at all: too far, or the radio is off.
    Deaf,
}

impl Reception {
    /// The RSSI a test would see on average, `None` when not heard.
    pub(super) fn mean_rssi(self) -> Option<i16> {
        match self {
            Reception::Nominal(rssi) => Some(rssi),
            Reception::Faded { rssi, .. } => Some(to_dbm(rssi)),
            Reception::Deaf => None,
        }
    }
}

impl Radio {
    pub(super) fn new(name: &RadioId, position: Position, world_seed: u64) -> Self {
        let seed = world_seed ^ fnv1a(name.0.as_bytes());
        Self {
            position,
            up: true,
            adverts: ChaCha20Rng::seed_from_u64(seed),
            connects: ChaCha20Rng::seed_from_u64(seed ^ CONNECT_STREAM),
        }
    }

    pub(super) fn reception(
        &self,
        model: &PathLoss,
        nominal: i16,
        device: Option<Position>,
    ) -> Reception {
        if !self.up {
            return Reception::Deaf;
        }
        let Some(device) = device else {
            return Reception::Nominal(nominal);
        };
        let rssi = model.rssi(self.position, device);
        if model.heard(rssi) {
            Reception::Faded {
                rssi,
                loss: model.loss_probability(rssi),
            }
        } else {
            Reception::Deaf
        }
    }

    /// The RSSI of a device heard during `chances` of its advertisements, `None` when the
    /// radio missed every one of them.
    pub(super) fn hear(&mut self, reception: Reception, jitter: u8, chances: u32) -> Option<i16> {
        match reception {
            Reception::Deaf => None,
            Reception::Nominal(rssi) => Some(jittered(rssi, jitter, &mut self.adverts)),
            Reception::Faded { rssi, loss } => {
                let all_lost = loss.powi(i32::try_from(chances.max(1)).unwrap_or(i32::MAX));
                if self.adverts.gen::<f64>() < all_lost {
                    return None;
                }
                Some(jittered(to_dbm(rssi), jitter, &mut self.adverts))
            }
        }
    }

    /// Whether a connect attempt at this reception is lost on the air.
    pub(super) fn connect_lost(&mut self, reception: Reception) -> bool {
        match reception {
            Reception::Nominal(_) => false,
            Reception::Deaf => true,
            Reception::Faded { loss, .. } => self.connects.gen::<f64>() < loss,
        }
    }
}

/// `rssi` moved by up to `jitter` dB either way.
pub(super) fn jittered(rssi: i16, jitter: u8, rng: &mut ChaCha20Rng) -> i16 {
    let jitter = i16::from(jitter);
    if jitter == 0 {
        return rssi;
    }
    rssi.saturating_add(rng.gen_range(-jitter..=jitter))
}

fn to_dbm(rssi: f64) -> i16 {
    // The path-loss model stays within a few hundred dB; the clamp only guards the cast.
    rssi.round().clamp(f64::from(i16::MIN), f64::from(i16::MAX)) as i16
}

/// A stable hash of a radio's name: std's hasher may change between Rust releases, and the
/// seeds must not.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn radios_by_name_draw_their_own_streams() {
        let (a, b) = (RadioId("a".into()), RadioId("b".into()));
        let model = PathLoss::default();
        let far = Position::new(25.0, 0.0, 0.0);
        let draws = |name: &RadioId| {
            let mut radio = Radio::new(name, Position::default(), 7);
            let reception = radio.reception(&model, -62, Some(far));
            (0..64)
                .map(|_| radio.hear(reception, 3, 1))
                .collect::<Vec<_>>()
        };
        assert_eq!(draws(&a), draws(&a));
        assert_ne!(draws(&a), draws(&b));
    }

    #[test]
    fn a_radio_that_is_off_hears_nothing() {
        let model = PathLoss::default();
        let mut radio = Radio::new(&RadioId("r".into()), Position::default(), 1);
        assert_eq!(radio.reception(&model, -62, None), Reception::Nominal(-62));
        radio.up = false;
        assert_eq!(radio.reception(&model, -62, None), Reception::Deaf);
        assert_eq!(radio.hear(Reception::Deaf, 3, 10), None);
        assert!(radio.connect_lost(Reception::Deaf));
    }
}
