//! The one device model: which Nuki product a device is. Everything else that names a kind of
//! device (BLE service family, Bridge `deviceType`, Web API `type`, config `kind`, the
//! simulator's product) is derived from [`ProductType`], so the views cannot disagree.
//!
//! Only products a device can be told apart by are modelled: a device identifies itself by its
//! GATT services and the `device type` byte of its Config, and Smart Lock 3.0, 3.0 Pro and 4th
//! gen all report byte 4 (1.0 and 2.0 both report 0 or nothing), so each group is one product.
//! The Keypad is not a product here: it pairs with a lock, never with the gateway.

use serde::{Deserialize, Serialize};

use super::enums::DeviceType;
use super::uuids::ServiceFamily;

/// The largest security PIN of a Smart Lock Ultra (six digits, sent as u32).
pub const MAX_WIDE_PIN: u32 = 999_999;
/// The largest security PIN of every other product (four digits, sent as u16).
pub const MAX_NARROW_PIN: u32 = 9_999;

/// A Nuki product. Serialized (store, config, JSON) by its snake_case name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ProductType {
    /// Smart Lock 1.0 or 2.0 (Config device type 0, or no device type byte at all).
    #[serde(rename = "smart_lock_2", alias = "smart_lock_1")]
    SmartLock2,
    /// Smart Lock 3.0, 3.0 Pro or 4th generation (Config device type 4).
    #[serde(
        rename = "smart_lock_4",
        alias = "smart_lock_3",
        alias = "smart_lock_3_pro"
    )]
    SmartLock4,
    /// Smart Lock Ultra: pairing service `…e300`, 6-digit PIN (Config device type 5).
    #[serde(rename = "smart_lock_ultra")]
    SmartLockUltra,
    /// Opener for intercoms (Config device type 2).
    #[serde(rename = "opener")]
    Opener,
    /// Smart Door: a door with a built-in keyturner (Config device type 3).
    #[serde(rename = "smart_door")]
    SmartDoor,
    /// Box for a building's entrance door: keyturner protocol, mains powered (Config device
    /// type 1, the number the Web API also gives it).
    #[serde(rename = "box")]
    Box,
}

impl ProductType {
    pub const ALL: [ProductType; 6] = [
        ProductType::SmartLock2,
        ProductType::SmartLock4,
        ProductType::SmartLockUltra,
        ProductType::Opener,
        ProductType::SmartDoor,
        ProductType::Box,
    ];

    /// The product a device is, from the family its GATT services showed and the device type
    /// byte of its Config (`None` when the firmware does not send one).
    ///
    /// The family is what the radio proved, so it wins over the byte: a result always speaks
    /// `family`. A keyturner-family device reporting 5 (a 5th-gen lock without the Ultra's
    /// pairing service) is a 4th gen as far as the protocol goes. Keyturner devices without a
    /// byte, or with one we do not know, are a Smart Lock 1.0/2.0: the firmware of every
    /// newer product sends the byte.
    pub fn from_config_device_type(family: ServiceFamily, device_type: Option<DeviceType>) -> Self {
        match family {
            ServiceFamily::Opener => ProductType::Opener,
            ServiceFamily::Ultra => ProductType::SmartLockUltra,
            ServiceFamily::Keyturner => match device_type {
                Some(DeviceType::Box) => ProductType::Box,
                Some(DeviceType::SmartDoor) => ProductType::SmartDoor,
                Some(DeviceType::SmartLock3And4 | DeviceType::SmartLockUltra) => {
                    ProductType::SmartLock4
                }
                Some(DeviceType::SmartLock1And2 | DeviceType::Opener | DeviceType::Unknown(_))
                | None => ProductType::SmartLock2,
            },
        }
    }

    /// The device type byte the product's Config carries.
    pub fn config_device_type(self) -> DeviceType {
        match self {
            ProductType::SmartLock2 => DeviceType::SmartLock1And2,
            ProductType::SmartLock4 => DeviceType::SmartLock3And4,
            ProductType::SmartLockUltra => DeviceType::SmartLockUltra,
            ProductType::Opener => DeviceType::Opener,
            ProductType::SmartDoor => DeviceType::SmartDoor,
            ProductType::Box => DeviceType::Box,
        }
    }

    /// The GATT layout and payload numbering the product speaks.
    pub fn service_family(self) -> ServiceFamily {
        match self {
            ProductType::Opener => ServiceFamily::Opener,
            ProductType::SmartLockUltra => ServiceFamily::Ultra,
            ProductType::SmartLock2
            | ProductType::SmartLock4
            | ProductType::SmartDoor
            | ProductType::Box => ServiceFamily::Keyturner,
        }
    }

    pub fn is_opener(self) -> bool {
        self == ProductType::Opener
    }

    /// Whether the device runs from the mains, so that keeping its link open costs no battery.
    /// The protocol has no power-source field, so this follows from the type the device
    /// reports: only the Box is wired. An Opener may run on batteries, so it counts as battery
    /// powered (the choice that cannot drain one).
    pub fn is_mains_powered(self) -> bool {
        self == ProductType::Box
    }

    /// The largest security PIN the product's PIN field holds.
    pub fn max_security_pin(self) -> u32 {
        if self.service_family().pin_is_wide() {
            MAX_WIDE_PIN
        } else {
            MAX_NARROW_PIN
        }
    }

    /// `deviceType` in the Bridge API (see [`BridgeDeviceType`] for why a Box is 0 and an
    /// Ultra 4).
    pub fn bridge_device_type(self) -> BridgeDeviceType {
        match self {
            ProductType::SmartLock2 | ProductType::Box => BridgeDeviceType::SmartLock,
            ProductType::Opener => BridgeDeviceType::Opener,
            ProductType::SmartDoor => BridgeDeviceType::SmartDoor,
            ProductType::SmartLock4 | ProductType::SmartLockUltra => BridgeDeviceType::SmartLock3,
        }
    }

    /// `type` of a Web API Smartlock object: 0 Smart Lock 1.0/2.0, 1 Box, 2 Opener, 3 Smart
    /// Door, 4 Smart Lock 3.0/4th gen, 5 Smart Lock 5th gen (the Ultra).
    pub fn web_api_type(self) -> u8 {
        match self {
            ProductType::SmartLock2 => 0,
            ProductType::Box => 1,
            ProductType::Opener => 2,
            ProductType::SmartDoor => 3,
            ProductType::SmartLock4 => 4,
            ProductType::SmartLockUltra => 5,
        }
    }

    /// The name used in config files, the store and JSON.
    pub fn name(self) -> &'static str {
        match self {
            ProductType::SmartLock2 => "smart_lock_2",
            ProductType::SmartLock4 => "smart_lock_4",
            ProductType::SmartLockUltra => "smart_lock_ultra",
            ProductType::Opener => "opener",
            ProductType::SmartDoor => "smart_door",
            ProductType::Box => "box",
        }
    }

    /// The product's name for people (CLI tables, log lines).
    pub fn label(self) -> &'static str {
        match self {
            ProductType::SmartLock2 => "Smart Lock 1.0/2.0",
            ProductType::SmartLock4 => "Smart Lock 3.0/4th gen",
            ProductType::SmartLockUltra => "Smart Lock Ultra",
            ProductType::Opener => "Opener",
            ProductType::SmartDoor => "Smart Door",
            ProductType::Box => "Box",
        }
    }
}

impl std::fmt::Display for ProductType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.label())
    }
}

/// `deviceType` of the Bridge API (A.3).
///
/// * **Box** → **0**. The Bridge API has no type 1 (only a JS client's comment calls it
///   "box"), and pynuki/Home Assistant turn unknown types into generic devices without a lock
///   entity; aionuki operates only types 0 and 2. Type 0 is the one every client (HA, openHAB,
///   ioBroker, aionuki, scripts) shows as a lock and operates with actions 1–5, whose numbering
///   the Box shares with the keyturner family. Nuki IDs of keyturner-family devices are
///   assigned from one pool, so a Box id does not collide with a Smart Lock 1/2 id under type
///   0; `colliding_ids` in the Bridge API lets the fleet check that anyway.
/// * **Ultra** → **4**. A real Bridge cannot pair it, so there is no precedent; it is a
///   current-generation lock with a rechargeable battery like the 4th gen, which pynuki/HA and
///   openHAB operate as type 4 with the same action numbering.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BridgeDeviceType {
    /// 0: Smart Lock 1.0/2.0, and the Box.
    SmartLock,
    /// 2: Opener.
    Opener,
    /// 3: Smart Door.
    SmartDoor,
    /// 4: Smart Lock 3.0/4th gen, and the Ultra.
    SmartLock3,
}

impl BridgeDeviceType {
    pub const ALL: [BridgeDeviceType; 4] = [
        BridgeDeviceType::SmartLock,
        BridgeDeviceType::Opener,
        BridgeDeviceType::SmartDoor,
        BridgeDeviceType::SmartLock3,
    ];

    pub fn to_u8(self) -> u8 {
        match self {
            BridgeDeviceType::SmartLock => 0,
            BridgeDeviceType::Opener => 2,
            BridgeDeviceType::SmartDoor => 3,
            BridgeDeviceType::SmartLock3 => 4,
        }
    }

    /// `None` for values we never report (1 and 5+), which the router answers with 404.
    pub fn from_u8(value: u8) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.to_u8() == value)
    }

    pub fn is_opener(self) -> bool {
        self == BridgeDeviceType::Opener
    }
}

impl Serialize for BridgeDeviceType {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u8(self.to_u8())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_product_speaks_the_family_it_was_detected_by() {
        let families = [
            ServiceFamily::Keyturner,
            ServiceFamily::Ultra,
            ServiceFamily::Opener,
        ];
        for family in families {
            for byte in 0..=u8::MAX {
                let product =
                    ProductType::from_config_device_type(family, Some(DeviceType::from_u8(byte)));
                assert_eq!(product.service_family(), family, "{family:?} {byte}");
            }
            let product = ProductType::from_config_device_type(family, None);
            assert_eq!(product.service_family(), family);
        }
    }

    #[test]
    fn config_byte_round_trips_through_the_product() {
        for product in ProductType::ALL {
            let byte = product.config_device_type();
            assert_eq!(
                ProductType::from_config_device_type(product.service_family(), Some(byte)),
                product
            );
        }
    }

    #[test]
    fn names_round_trip_and_are_unique() {
        for product in ProductType::ALL {
            let json = serde_json::to_string(&product).unwrap();
            assert_eq!(json, format!("\"{}\"", product.name()));
            assert_eq!(serde_json::from_str::<ProductType>(&json).unwrap(), product);
        }
        let names: std::collections::HashSet<_> =
            ProductType::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names.len(), ProductType::ALL.len());
    }
}
