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
use crate::nuki::enums::DeviceType;
use crate::nuki::messages::SecurityPin;
use crate::nuki::product::ProductType;
use crate::nuki::uuids::ServiceFamily;

/// What the gateway keeps about a device it paired with.
#[derive(Clone, PartialEq, Eq)]
pub struct Pairing {
    pub address: DeviceAddress,
    pub nuki_id: u32,
    /// What the device reported itself to be at pairing (services and Config).
    pub product: ProductType,
    pub device_name: String,
    /// The authorization id the device assigned at pairing.
    pub auth_id: u32,
    /// The app/bridge id the gateway sent at pairing.
    pub app_id: u32,
    /// 0 app, 1 bridge.
    pub id_type: u8,
    pub key: SharedKey,
    pub security_pin: Option<SecurityPin>,
    pub paired_at_unix: i64,
}

impl Pairing {
    pub fn family(&self) -> ServiceFamily {
        self.product.service_family()
    }
}

impl fmt::Debug for Pairing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pairing")
            .field("address", &self.address)
            .field("nuki_id", &format_args!("{:08X}", self.nuki_id))
            .field("product", &self.product)
            .field("device_name", &self.device_name)
            .field("auth_id", &self.auth_id)
            .field("app_id", &self.app_id)
            .field("id_type", &self.id_type)
            .field("key", &"<redacted>")
            .field("security_pin", &self.security_pin)
            .field("paired_at_unix", &self.paired_at_unix)
            .finish()
    }
}

/// Records name the product. Records written before the product was kept name the GATT
/// family instead, with the Config's device type byte once that was kept too; they are read
/// as the product those two identify, and written back in the new form when next saved.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PairingRecord {
    address: DeviceAddress,
    nuki_id: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    product: Option<ProductType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    family: Option<ServiceFamily>,
    device_name: String,
    auth_id: u32,
    app_id: u32,
    id_type: u8,
    key: KeyHex,
    security_pin: Option<u32>,
    paired_at_unix: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_type: Option<u8>,
}

impl PairingRecord {
    fn product(&self) -> Option<ProductType> {
        self.product.or_else(|| {
            let device_type = self.device_type.map(DeviceType::from_u8);
            self.family
                .map(|family| ProductType::from_config_device_type(family, device_type))
        })
    }
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
        product: Some(pairing.product),
        family: None,
        device_name: pairing.device_name.clone(),
        auth_id: pairing.auth_id,
        app_id: pairing.app_id,
        id_type: pairing.id_type,
        key: KeyHex(hex::encode(pairing.key.expose())),
        security_pin: pairing.security_pin.map(SecurityPin::value),
        paired_at_unix: pairing.paired_at_unix,
        device_type: None,
    };
    serde_json::to_vec(&record).map(Zeroizing::new)
}

/// `None` when the bytes are not a valid record (the caller names the record).
pub(crate) fn decode(bytes: &[u8]) -> Option<Pairing> {
    let record: PairingRecord = serde_json::from_slice(bytes).ok()?;
    let product = record.product()?;
    let key = SharedKey::from_hex(&record.key.0).ok()?;
    let family = product.service_family();
    let security_pin = match record.security_pin {
        Some(value) if value > product.max_security_pin() => return None,
        Some(value) => Some(SecurityPin::for_family(value, family)),
        None => None,
    };
    Some(Pairing {
        address: record.address,
        nuki_id: record.nuki_id,
        product,
        device_name: record.device_name,
        auth_id: record.auth_id,
        app_id: record.app_id,
        id_type: record.id_type,
        key,
        security_pin,
        paired_at_unix: record.paired_at_unix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Pairing {
        Pairing {
            address: DeviceAddress("54:D2:72:00:00:01".to_owned()),
            nuki_id: 0x33C3_35C5,
            product: ProductType::SmartLockUltra,
            device_name: "Penthouse".to_owned(),
            auth_id: 7,
            app_id: 0x1234_5678,
            id_type: 1,
            key: SharedKey::from_bytes([0xAB; 32]),
            security_pin: Some(SecurityPin::Long(123_456)),
            paired_at_unix: 1_700_000_000,
        }
    }

    #[test]
    fn record_round_trip() {
        let pairing = sample();
        let bytes = encode(&pairing).unwrap();
        assert_eq!(decode(&bytes), Some(pairing));
    }

    #[test]
    fn records_name_the_product_and_no_family() {
        let bytes = encode(&sample()).unwrap();
        let record: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(record["product"], "smart_lock_ultra");
        assert!(record.get("family").is_none());
        assert!(record.get("device_type").is_none());
    }

    #[test]
    fn damaged_records_are_refused() {
        let bytes = encode(&sample()).unwrap();
        let text = String::from_utf8(bytes.to_vec()).unwrap();
        let short_key = text.replace(&"ab".repeat(32), "abcd");
        assert_eq!(decode(short_key.as_bytes()), None);
        assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
        let no_product = text.replace("\"product\":\"smart_lock_ultra\",", "");
        assert_eq!(decode(no_product.as_bytes()), None);
    }
}
