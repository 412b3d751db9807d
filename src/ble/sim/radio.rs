//! The radio model: how long bytes take on air and how messages are cut into indications.

use std::time::Duration;

use serde::Deserialize;

use super::duration_serde;
use super::path_loss::PathLoss;

/// Timing and fragmentation of the simulated radio, shared by every device.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RadioModel {
    /// Payload bytes per ATT packet: 20 with the default MTU of 23. A large value delivers
    /// every message in one indication, as with a negotiated large MTU.
    #[serde(default = "default_fragment_len")]
    pub fragment_len: usize,
    /// One ATT packet per connection interval. Zero makes the radio instantaneous.
    #[serde(default = "default_connection_interval", with = "duration_serde")]
    pub connection_interval: Duration,
    /// Time to establish a link and discover services.
    #[serde(default = "default_connect_time", with = "duration_serde")]
    pub connect_time: Duration,
    /// How long a connection attempt to an unreachable device waits before failing.
    #[serde(default = "default_connect_timeout", with = "duration_serde")]
    pub connect_timeout: Duration,
    #[serde(default = "default_advert_interval", with = "duration_serde")]
    pub advert_interval: Duration,
    /// Largest RSSI deviation (dB) added to a device's nominal signal strength per advert.
    #[serde(default = "default_rssi_jitter")]
    pub rssi_jitter: u8,
    /// How radios with a position hear devices with one.
    #[serde(default)]
    pub path_loss: PathLoss,
}

fn default_fragment_len() -> usize {
    20
}
fn default_connection_interval() -> Duration {
    Duration::from_millis(30)
}
fn default_connect_time() -> Duration {
    Duration::from_millis(300)
}
fn default_connect_timeout() -> Duration {
    Duration::from_secs(5)
}
fn default_advert_interval() -> Duration {
    Duration::from_millis(500)
}
fn default_rssi_jitter() -> u8 {
    3
}

impl Default for RadioModel {
    fn default() -> Self {
        Self {
            fragment_len: default_fragment_len(),
            connection_interval: default_connection_interval(),
            connect_time: default_connect_time(),
            connect_timeout: default_connect_timeout(),
            advert_interval: default_advert_interval(),
            rssi_jitter: default_rssi_jitter(),
            path_loss: PathLoss::default(),
        }
    }
}

impl RadioModel {
    /// A radio without delays, for benchmarks.
    pub fn instant() -> Self {
        Self {
            connection_interval: Duration::ZERO,
            connect_time: Duration::ZERO,
            connect_timeout: Duration::ZERO,
            advert_interval: Duration::from_millis(1),
            ..Self::default()
        }
    }

    fn effective_fragment_len(&self) -> usize {
        self.fragment_len.max(1)
    }

    /// Number of ATT packets a message of `len` bytes needs (at least one).
    pub fn packets(&self, len: usize) -> u32 {
        let packets = len.div_ceil(self.effective_fragment_len()).max(1);
        u32::try_from(packets).unwrap_or(u32::MAX)
    }

    /// Air time of a written message: one connection interval per packet.
    pub fn write_time(&self, len: usize) -> Duration {
        self.connection_interval.saturating_mul(self.packets(len))
    }

    /// The indications that carry `message`.
    pub fn fragments<'a>(&self, message: &'a [u8]) -> impl Iterator<Item = &'a [u8]> {
        message.chunks(self.effective_fragment_len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fragments_of_twenty_bytes() {
        let radio = RadioModel::default();
        let message: Vec<u8> = (0..88).collect();
        let lens: Vec<usize> = radio.fragments(&message).map(<[u8]>::len).collect();
        assert_eq!(lens, [20, 20, 20, 20, 8]);
        assert_eq!(radio.packets(88), 5);
        assert_eq!(radio.write_time(88), Duration::from_millis(150));
        assert_eq!(radio.write_time(20), Duration::from_millis(30));
    }

    #[test]
    fn large_mtu_sends_one_indication() {
        let radio = RadioModel {
            fragment_len: 512,
            ..RadioModel::default()
        };
        assert_eq!(radio.fragments(&[0u8; 174]).count(), 1);
    }

    #[test]
    fn instant_radio_costs_nothing() {
        assert_eq!(RadioModel::instant().write_time(500), Duration::ZERO);
    }
}
