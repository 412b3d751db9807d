//! Identifiers, shaped like the Nuki Web API's so a cloud sync keeps them: addresses, people
//! (account users) and accounts are integers, residential units and permissions (Nuki's
//! authorizations) are strings, devices are `smartlockId`s.

use serde::{Deserialize, Serialize};

macro_rules! int_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, "{}", self.0)
            }
        }
    };
}

macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

int_id!(
    /// Nuki Web `addressId`.
    AddressId
);
int_id!(
    /// Nuki Web `accountUserId`: a person who holds permissions.
    PersonId
);
int_id!(
    /// Nuki Web `accountId`: the owner's account or one of its sub-accounts.
    AccountId
);
text_id!(
    /// Nuki Web residential unit `id` (an ObjectId in hex).
    UnitId
);
text_id!(
    /// Nuki Web authorization `id` (an ObjectId in hex), not the id on the device.
    PermissionId
);

/// Nuki Web `smartlockId`: `(web API device type << 32) | nukiId`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeviceId(pub u64);

impl DeviceId {
    pub fn from_parts(web_api_type: u8, nuki_id: u32) -> Self {
        DeviceId((u64::from(web_api_type) << 32) | u64::from(nuki_id))
    }

    pub fn nuki_id(self) -> u32 {
        (self.0 & 0xFFFF_FFFF) as u32
    }
}

impl std::fmt::Display for DeviceId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn smartlock_ids_as_nuki_web_computes_them() {
        // 18255246837 = 0x4_4018f5f5 (a Smart Lock 3.0/4.0), from the Web API notes.
        assert_eq!(DeviceId::from_parts(4, 0x4018_f5f5).0, 18_255_246_837);
        assert_eq!(DeviceId(18_255_246_837).nuki_id(), 0x4018_f5f5);
        // Smart Lock 1.0/2.0 (type 0): the smartlockId is the nukiId.
        assert_eq!(DeviceId::from_parts(0, 0x1234).0, 0x1234);
    }
}
