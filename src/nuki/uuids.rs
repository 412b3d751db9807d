//! GATT UUIDs. Every Nuki UUID is `a92eXXXX-5501-11e4-916c-0800200c9a66` (Opener: `a92aXXXX-…`).

use uuid::Uuid;

const fn nuki_uuid(prefix: u32) -> Uuid {
    Uuid::from_u128(((prefix as u128) << 96) | 0x0000_5501_11e4_916c_0800_200c_9a66)
}

/// Smart Lock 1.0–4th gen and Box: initialization service (advertising only).
pub const LOCK_INIT_SERVICE: Uuid = nuki_uuid(0xa92e_e000);
pub const LOCK_PAIRING_SERVICE: Uuid = nuki_uuid(0xa92e_e100);
pub const LOCK_PAIRING_GDIO: Uuid = nuki_uuid(0xa92e_e101);
pub const LOCK_KEYTURNER_SERVICE: Uuid = nuki_uuid(0xa92e_e200);
pub const LOCK_KEYTURNER_GDIO: Uuid = nuki_uuid(0xa92e_e201);
pub const LOCK_KEYTURNER_USDIO: Uuid = nuki_uuid(0xa92e_e202);
/// Smart Lock Ultra moves only the pairing service.
pub const ULTRA_PAIRING_SERVICE: Uuid = nuki_uuid(0xa92e_e300);
pub const ULTRA_PAIRING_GDIO: Uuid = nuki_uuid(0xa92e_e301);
pub const OPENER_INIT_SERVICE: Uuid = nuki_uuid(0xa92a_e000);
pub const OPENER_PAIRING_SERVICE: Uuid = nuki_uuid(0xa92a_e100);
pub const OPENER_PAIRING_GDIO: Uuid = nuki_uuid(0xa92a_e101);
pub const OPENER_KEYTURNER_SERVICE: Uuid = nuki_uuid(0xa92a_e200);
pub const OPENER_KEYTURNER_GDIO: Uuid = nuki_uuid(0xa92a_e201);
pub const OPENER_KEYTURNER_USDIO: Uuid = nuki_uuid(0xa92a_e202);
/// Client Characteristic Configuration descriptor; indications are enabled with `02 00`.
pub const CCCD: Uuid = Uuid::from_u128(0x0000_2902_0000_1000_8000_0080_5f9b_34fb);

/// Which protocol family a device speaks, read from its GATT services.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceFamily {
    /// Smart Lock 1.0–4th gen, and the Box.
    Keyturner,
    /// Smart Lock Ultra: keyturner service, pairing at `…e300`, 6-digit PIN.
    Ultra,
    Opener,
}

/// The characteristics of one device family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Characteristics {
    pub pairing_service: Uuid,
    pub pairing_gdio: Uuid,
    pub keyturner_service: Uuid,
    pub keyturner_gdio: Uuid,
    pub keyturner_usdio: Uuid,
}

impl ServiceFamily {
    pub fn characteristics(self) -> Characteristics {
        match self {
            ServiceFamily::Keyturner => Characteristics {
                pairing_service: LOCK_PAIRING_SERVICE,
                pairing_gdio: LOCK_PAIRING_GDIO,
                keyturner_service: LOCK_KEYTURNER_SERVICE,
                keyturner_gdio: LOCK_KEYTURNER_GDIO,
                keyturner_usdio: LOCK_KEYTURNER_USDIO,
            },
            ServiceFamily::Ultra => Characteristics {
                pairing_service: ULTRA_PAIRING_SERVICE,
                pairing_gdio: ULTRA_PAIRING_GDIO,
                keyturner_service: LOCK_KEYTURNER_SERVICE,
                keyturner_gdio: LOCK_KEYTURNER_GDIO,
                keyturner_usdio: LOCK_KEYTURNER_USDIO,
            },
            ServiceFamily::Opener => Characteristics {
                pairing_service: OPENER_PAIRING_SERVICE,
                pairing_gdio: OPENER_PAIRING_GDIO,
                keyturner_service: OPENER_KEYTURNER_SERVICE,
                keyturner_gdio: OPENER_KEYTURNER_GDIO,
                keyturner_usdio: OPENER_KEYTURNER_USDIO,
            },
        }
    }

    /// Detects the family from discovered characteristic UUIDs (Opener, then Ultra, then lock).
    pub fn detect(characteristics: &[Uuid]) -> Option<Self> {
        if characteristics.contains(&OPENER_PAIRING_GDIO) {
            Some(ServiceFamily::Opener)
        } else if characteristics.contains(&ULTRA_PAIRING_GDIO) {
            Some(ServiceFamily::Ultra)
        } else if characteristics.contains(&LOCK_PAIRING_GDIO)
            || characteristics.contains(&LOCK_KEYTURNER_USDIO)
        {
            Some(ServiceFamily::Keyturner)
        } else {
            None
        }
    }

    /// The security PIN is a u32 (6 digits) on the Ultra, a u16 elsewhere.
    pub fn pin_is_wide(self) -> bool {
        self == ServiceFamily::Ultra
    }

    /// Whether payloads use the Opener layouts.
    pub fn is_opener(self) -> bool {
        self == ServiceFamily::Opener
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_text() {
        assert_eq!(
            LOCK_PAIRING_GDIO.to_string(),
            "a92ee101-5501-11e4-916c-0800200c9a66"
        );
        assert_eq!(
            OPENER_KEYTURNER_USDIO.to_string(),
            "a92ae202-5501-11e4-916c-0800200c9a66"
        );
    }
}
