//! Signal over distance: where things stand, how loud a device is heard from a radio, and how
//! likely a weak signal loses a packet. Pure arithmetic, so that tests can pin it down.
//!
//! The model is the log-distance path loss of indoor radio planning,
//! `rssi(d) = tx_power_at_1m - 10 · n · log10(d)`, plus a fixed loss for every storey between
//! radio and device (concrete slabs absorb far more than the distance says).

use serde::Deserialize;

use crate::ble::RadioId;

/// A point in the building, in metres; `z` is the height, so that floors count. Written
/// `[x, y, z]` in specs and config files.
#[derive(Debug, Clone, Copy, PartialEq, Default, Deserialize)]
#[serde(from = "[f64; 3]")]
pub struct Position {
    pub x: f64,
    pub y: f64,
    pub z: f64,
}

impl Position {
    pub const fn new(x: f64, y: f64, z: f64) -> Self {
        Self { x, y, z }
    }

    pub fn distance(&self, other: &Position) -> f64 {
        let (dx, dy, dz) = (self.x - other.x, self.y - other.y, self.z - other.z);
        (dx * dx + dy * dy + dz * dz).sqrt()
    }

    pub fn is_finite(&self) -> bool {
        self.x.is_finite() && self.y.is_finite() && self.z.is_finite()
    }
}

impl From<[f64; 3]> for Position {
    fn from([x, y, z]: [f64; 3]) -> Self {
        Self { x, y, z }
    }
}

/// One simulated radio (an adapter or a proxy) and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct SimRadioSpec {
    pub name: RadioId,
    pub position: Position,
}

impl SimRadioSpec {
    pub fn new(name: &str, position: Position) -> Self {
        Self {
            name: RadioId(name.to_owned()),
            position,
        }
    }
}

/// Below half a metre the logarithm would promise ever louder signals; a real receiver
/// saturates instead.
const MIN_DISTANCE_M: f64 = 0.5;

/// How signal fades with distance and when packets get lost. The defaults describe a BLE
/// lock heard through the walls of a residential building.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PathLoss {
    /// RSSI heard one metre from the device, in dBm.
    pub tx_power_at_1m: f64,
    /// Path-loss exponent: 2 in free space, about 2.7 through a flat's walls.
    pub exponent: f64,
    /// Height of one storey, in metres.
    pub floor_height: f64,
    /// Extra loss for every storey between radio and device, in dB.
    pub floor_loss: f64,
    /// Signals weaker than this (dBm) are not decoded at all.
    pub sensitivity: f64,
    /// Signals at least this strong (dBm) lose nothing.
    pub lossless_from: f64,
    /// Probability of losing a packet at the sensitivity floor; falls linearly to zero at
    /// `lossless_from`.
    pub max_loss: f64,
}

impl Default for PathLoss {
    fn default() -> Self {
        Self {
            tx_power_at_1m: -50.0,
            exponent: 2.7,
            floor_height: 3.0,
            floor_loss: 10.0,
            sensitivity: -95.0,
            lossless_from: -75.0,
            max_loss: 0.9,
        }
    }
}

impl PathLoss {
    /// Mean RSSI (dBm) a radio at `radio` hears from a device at `device`, before jitter.
    pub fn rssi(&self, radio: Position, device: Position) -> f64 {
        let distance = radio.distance(&device).max(MIN_DISTANCE_M);
        self.tx_power_at_1m
            - 10.0 * self.exponent * distance.log10()
            - self.floors_between(radio, device) * self.floor_loss
    }

    /// Slabs between two heights: storey `k` spans heights `k·h` to `(k+1)·h`, so a radio
    /// under the ceiling and a lock at handle height share a storey.
    fn floors_between(&self, a: Position, b: Position) -> f64 {
        if self.floor_height > 0.0 {
            let storey = |z: f64| (z / self.floor_height).floor();
            (storey(a.z) - storey(b.z)).abs()
        } else {
            0.0
        }
    }

    /// Whether a signal of `rssi` dBm is decoded at all.
    pub fn heard(&self, rssi: f64) -> bool {
        rssi >= self.sensitivity
    }

    /// Probability that one packet (an advertisement, a connect attempt) at `rssi` dBm is
    /// lost: 0 when strong, rising linearly to `max_loss` at the floor, 1 below it.
    pub fn loss_probability(&self, rssi: f64) -> f64 {
        if !self.heard(rssi) {
            return 1.0;
        }
        let span = self.lossless_from - self.sensitivity;
        if rssi >= self.lossless_from || span <= 0.0 {
            return 0.0;
        }
        (self.max_loss * (self.lossless_from - rssi) / span).clamp(0.0, 1.0)
    }

    /// Probability that all of `chances` independent packets are lost (a scan listens to
    /// several advertisements of each device).
    pub fn loss_over(&self, rssi: f64, chances: u32) -> f64 {
        let chances = i32::try_from(chances.max(1)).unwrap_or(i32::MAX);
        self.loss_probability(rssi).powi(chances)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn at(x: f64) -> Position {
        Position::new(x, 0.0, 0.0)
    }

    #[test]
    fn reference_values() {
        let model = PathLoss::default();
        let origin = Position::default();
        assert!((model.rssi(origin, at(1.0)) - -50.0).abs() < 1e-9);
        assert!((model.rssi(origin, at(10.0)) - -77.0).abs() < 1e-9);
        // Closer than half a metre is as loud as half a metre.
        assert_eq!(model.rssi(origin, at(0.1)), model.rssi(origin, at(0.5)));
        // One floor up costs the slab on top of the three metres; the same height difference
        // within a storey costs no slab.
        let upstairs = Position::new(0.0, 0.0, 3.0);
        let expected = -50.0 - 27.0 * 3f64.log10() - 10.0;
        assert!((model.rssi(origin, upstairs) - expected).abs() < 1e-9);
        let ceiling = Position::new(0.0, 0.0, 2.9);
        let expected = -50.0 - 27.0 * 2.9f64.log10();
        assert!((model.rssi(Position::new(0.0, 0.0, 0.0), ceiling) - expected).abs() < 1e-9);
        let basement = Position::new(0.0, 0.0, -0.5);
        let expected = -50.0 - 27.0 * 0.5f64.log10() - 10.0;
        assert!((model.rssi(origin, basement) - expected).abs() < 1e-9);
        assert_eq!(model.loss_probability(-60.0), 0.0);
        assert_eq!(model.loss_probability(-75.0), 0.0);
        assert!((model.loss_probability(-85.0) - 0.45).abs() < 1e-9);
        assert!((model.loss_probability(-95.0) - 0.9).abs() < 1e-9);
        assert_eq!(model.loss_probability(-95.1), 1.0);
        assert!((model.loss_over(-95.0, 2) - 0.81).abs() < 1e-9);
        assert!(model.loss_over(-60.0, 0) == 0.0);
    }

    #[test]
    fn positions_parse_from_three_numbers() {
        let position: Position = serde_json::from_str("[1.5, -2, 6]").unwrap();
        assert_eq!(position, Position::new(1.5, -2.0, 6.0));
        assert!(serde_json::from_str::<Position>("[1, 2]").is_err());
        assert!(!Position::new(f64::NAN, 0.0, 0.0).is_finite());
    }

    proptest! {
        #[test]
        fn rssi_falls_with_distance(
            near in 0.0f64..200.0,
            extra in 0.0f64..200.0,
            dz in 0.0f64..30.0,
        ) {
            let model = PathLoss::default();
            let radio = Position::default();
            let close = model.rssi(radio, Position::new(near, 0.0, dz));
            let far = model.rssi(radio, Position::new(near + extra, 0.0, dz));
            prop_assert!(far <= close);
            let higher = model.rssi(radio, Position::new(near, 0.0, dz + extra));
            prop_assert!(higher <= close);
            prop_assert!(close <= model.tx_power_at_1m - 10.0 * model.exponent * MIN_DISTANCE_M.log10());
        }

        #[test]
        fn loss_grows_as_the_signal_weakens(strong in -120.0f64..0.0, drop in 0.0f64..60.0) {
            let model = PathLoss::default();
            let weak = strong - drop;
            let (p_strong, p_weak) = (model.loss_probability(strong), model.loss_probability(weak));
            prop_assert!(p_weak >= p_strong);
            prop_assert!((0.0..=1.0).contains(&p_weak));
            // The floor: below it nothing is heard; at or above it something may be.
            prop_assert_eq!(model.heard(strong), strong >= model.sensitivity);
            if model.heard(strong) {
                prop_assert!(p_strong <= model.max_loss);
            } else {
                prop_assert_eq!(p_strong, 1.0);
            }
            prop_assert!(model.loss_over(strong, 3) <= p_strong);
        }
    }
}
