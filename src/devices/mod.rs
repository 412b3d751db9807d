//! The fleet: links to paired devices.

pub mod admin_ops;
pub mod client;
pub mod credentials;
pub mod device_log;
pub mod events;
pub mod fleet;
pub mod link;
pub mod outcome;
pub mod pairing;
pub mod slots;
mod task;
pub mod tuning;

use crate::ble::Advertisement;
use crate::nuki::advert::{self, AdvertSummary};

/// What an advertisement heard by the radio says in Nuki terms (beacon with the
/// state-changed flag, pairing mode).
pub fn read_advertisement(heard: &Advertisement) -> AdvertSummary {
    advert::summarize(
        heard.local_name.as_deref(),
        heard
            .manufacturer_data
            .iter()
            .map(|(company, data)| (*company, data.as_slice())),
        heard
            .service_data
            .iter()
            .map(|(uuid, data)| (*uuid, data.as_slice())),
    )
}
