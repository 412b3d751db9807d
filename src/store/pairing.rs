//! One pairing as the app uses it, and its stored form.
//!
//! Stored form: the JSON object of [`PairingRecord`] (UTF-8 bytes) under the device address.
//! The shared key is 64 hex digits. The layout belongs to the store's schema version; a
//! change of the layout needs a new version and a migration (see `schema.rs`).

use std::fmt;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::ble::DeviceAddress;
use crate::nuki::crypto::SharedKey;
use crate::nuki::uuids::ServiceFamily;

/// What the gateway keeps about a device it paired with.
#[derive(Clone, PartialEq, Eq)]
pub struct Pairing {
    pub address: DeviceAddress,
    pub nuki_id: u32,
    pub family: ServiceFamily,
    pub device_name: String,
    /// The authorization id the device assigned at pairing.
    pub auth_id: u32,
    /// The app/bridge id the gateway sent at pairing.
    pub app_id: u32,
    /// 0 app, 1 bridge.
    pub id_type: u8,
    pub key: SharedKey,
    pub security_pin: Option<u32>,
    pub paired_at_unix: i64,
    /// The device-type byte of the device's Config, when it could be read after pairing.
    pub device_type: Option<u8>,
}

impl fmt::Debug for Pairing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let pin = self.security_pin.map(|_| "<redacted>");
        f.debug_struct("Pairing")
            .field("address", &self.address)
            .field("nuki_id", &format_args!("{:08X}", self.nuki_id))
            .field("family", &self.family)
            .field("device_name", &self.device_name)
            .field("auth_id", &self.auth_id)
            .field("app_id", &self.app_id)
            .field("id_type", &self.id_type)
            .field("key", &"<redacted>")
            .field("security_pin", &pin)
            .field("paired_at_unix", &self.paired_at_unix)
            .finish()
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PairingRecord {
    address: DeviceAddress,
    nuki_id: u32,
    family: ServiceFamily,
    device_name: String,
    auth_id: u32,
    app_id: u32,
    id_type: u8,
    key: KeyHex,
    security_pin: Option<u32>,
    paired_at_unix: i64,
    /// Absent in records written before it was recorded.
    #[serde(default)]
    device_type: Option<u8>,
}

/// The key's hex text, wiped when dropped.
#[derive(Serialize, Deserialize)]
#[serde(transparent)]
struct KeyHex(String);

impl Drop for KeyHex {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

pub(crate) fn encode(pairing: &Pairing) -> Result<Zeroizing<Vec<u8>>, serde_json::Error> {
    let record = PairingRecord {
        address: pairing.address.clone(),
        nuki_id: pairing.nuki_id,
        family: pairing.family,
        device_name: pairing.device_name.clone(),
        auth_id: pairing.auth_id,
        app_id: pairing.app_id,
        id_type: pairing.id_type,
        key: KeyHex(hex::encode(pairing.key.expose())),
        security_pin: pairing.security_pin,
        paired_at_unix: pairing.paired_at_unix,
        device_type: pairing.device_type,
    };
    serde_json::to_vec(&record).map(Zeroizing::new)
}

/// `None` when the bytes are not a valid record (the caller names the record).
pub(crate) fn decode(bytes: &[u8]) -> Option<Pairing> {
    let record: PairingRecord = serde_json::from_slice(bytes).ok()?;
    let key = SharedKey::from_hex(&record.key.0).ok()?;
    Some(Pairing {
        address: record.address,
        nuki_id: record.nuki_id,
        family: record.family,
        device_name: record.device_name,
        auth_id: record.auth_id,
        app_id: record.app_id,
        id_type: record.id_type,
        key,
        security_pin: record.security_pin,
        paired_at_unix: record.paired_at_unix,
        device_type: record.device_type,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Pairing {
        Pairing {
            address: DeviceAddress("54:D2:72:00:00:01".to_owned()),
            nuki_id: 0x33C3_35C5,
            family: ServiceFamily::Ultra,
            device_name: "Penthouse".to_owned(),
            auth_id: 7,
            app_id: 0x1234_5678,
            id_type: 1,
            key: SharedKey::from_bytes([0xAB; 32]),
            security_pin: Some(123_456),
            paired_at_unix: 1_700_000_000,
            device_type: Some(5),
        }
    }

    /// Records written before the Config device type was kept still load.
    #[test]
    fn records_without_a_device_type_load() {
        let mut pairing = sample();
        pairing.device_type = None;
        let mut record: serde_json::Value =
            serde_json::from_slice(&encode(&pairing).unwrap()).unwrap();
        record.as_object_mut().unwrap().remove("device_type");
        let old = serde_json::to_vec(&record).unwrap();
        assert_eq!(decode(&old), Some(pairing));
    }

    #[test]
    fn record_round_trip() {
        let pairing = sample();
        let bytes = encode(&pairing).unwrap();
        assert_eq!(decode(&bytes), Some(pairing));
    }

    #[test]
    fn damaged_records_are_refused() {
        let bytes = encode(&sample()).unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let short_key = text.replace(&"ab".repeat(32), "abcd");
        assert_eq!(decode(short_key.as_bytes()), None);
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
    }
}
