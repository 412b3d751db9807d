//! Pairing over the radio: connect to a device in pairing mode, exchange keys, read what the
//! device says it is, disconnect. Used by the one-shot `pair` command and by the fleet.

use crate::ble::{BleTransport, DeviceAddress};
use crate::nuki::enums::DeviceType;
use crate::nuki::exchange::Session;
use crate::nuki::messages::{Config as DeviceConfig, Message};
use crate::nuki::pairing::{PairingOutcome, PairingRequest};
use crate::nuki::product::ProductType;
use crate::nuki::uuids::ServiceFamily;

use super::link::{LinkError, LinkTimeouts, NukiLink};

/// Where a pairing is, for whoever follows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum PairingStep {
    /// The device is not in pairing mode yet: somebody has to hold its button.
    WaitingForButton {
        seconds_left: u64,
    },
    ExchangingKeys,
    ReadingConfig,
}

/// A new pairing, before it is stored.
#[derive(Debug)]
pub struct PairedDevice {
    pub outcome: PairingOutcome,
    /// The service family the session runs on (an Ultra pairs on the keyturner services'
    /// successor and is told apart only by its pairing flow).
    pub family: ServiceFamily,
    /// What the device is, from the family and the device type its Config reports.
    pub product: ProductType,
}

/// Pairs with a device that advertises pairing mode. Always disconnects.
pub async fn pair_over_link(
    transport: &dyn BleTransport,
    address: &DeviceAddress,
    advertised: ServiceFamily,
    request: PairingRequest,
    timeouts: LinkTimeouts,
    progress: &(dyn Fn(PairingStep) + Send + Sync),
) -> Result<PairedDevice, LinkError> {
    let mut link = NukiLink::connect(transport, address, timeouts, None).await?;
    progress(PairingStep::ExchangingKeys);
    let paired = link.pair(request).await;
    let result = match paired {
        Ok(outcome) => {
            progress(PairingStep::ReadingConfig);
            let session = outcome.session(advertised);
            let device_type = read_device_type(&mut link, &session).await;
            Ok(PairedDevice {
                family: session.family,
                product: ProductType::from_config_device_type(session.family, device_type),
                outcome,
            })
        }
        Err(error) => Err(error),
    };
    link.disconnect().await;
    result
}

/// The device-type byte of the Config, read on the pairing link (newer firmware only; it tells
/// a Smart Lock 3.0/4th gen from a 2.0, and a Box from both).
async fn read_device_type(link: &mut NukiLink, session: &Session) -> Option<DeviceType> {
    let result = link
        .execute(session, Message::RequestConfig, None)
        .await
        .ok()?;
    result.replies.into_iter().find_map(|reply| match reply {
        Message::Config(DeviceConfig::Lock(config)) => config.device_type,
        Message::Config(DeviceConfig::Opener(_)) => Some(DeviceType::Opener),
        _ => None,
    })
}
