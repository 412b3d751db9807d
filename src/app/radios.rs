//! The radios the configuration adds beside the local ones (ESPHome proxies), and how the
//! set routes devices among them (`[ble]` routing settings and pins).

use std::collections::BTreeMap;
use std::time::Duration;

use std::sync::Arc;

use crate::ble::esphome::{CallLimits, EsphomeProxy};
use crate::ble::radios::{Radio, RadioKind, RoutingSettings};
use crate::ble::{BleError, DeviceAddress, RadioId};
use crate::config::Config;

/// One radio per `[[ble.proxies]]`; each connects (and reconnects) in the background, so
/// the gateway starts while a proxy is down.
pub fn proxies(config: &Config) -> Result<Vec<Radio>, BleError> {
    config
        .ble
        .proxies
        .iter()
        .map(|proxy| {
            let transport = EsphomeProxy::start(proxy, CallLimits::default())?;
            Ok(Radio {
                id: transport.radio(),
                kind: RadioKind::EsphomeProxy,
                transport: Arc::new(transport),
                link_slots: config.fleet.link_slots,
            })
        })
        .collect()
}

pub fn routing_settings(config: &Config) -> RoutingSettings {
    let ble = &config.ble;
    RoutingSettings {
        switch_margin_db: f64::from(ble.switch_margin_db),
        rssi_window: ble.rssi_window,
        silence: Duration::from_secs(ble.radio_silence_s),
        ..RoutingSettings::default()
    }
}

pub fn pins(config: &Config) -> BTreeMap<DeviceAddress, RadioId> {
    config
        .ble
        .pin
        .iter()
        .map(|(device, radio)| (DeviceAddress(device.clone()), RadioId(radio.clone())))
        .collect()
}
