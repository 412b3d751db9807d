//! Pairing payloads (§3.2, §3.4, §4.2.3–4.2.4).

use serde::Serialize;

use super::super::codec::{DecodeError, Reader, Writer};
use super::super::enums::IdType;
use super::proof::SecurityPin;

/// Width of device and authorization names.
pub const NAME_LEN: usize = 32;

/// Authorization Data 0x0006, classic flow (101 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizationData {
    #[serde(serialize_with = "super::fields::hex_bytes")]
    pub authenticator: [u8; 32],
    pub id_type: IdType,
    pub app_id: u32,
    pub name: String,
    #[serde(serialize_with = "super::fields::hex_bytes")]
    pub nonce: [u8; 32],
}

impl AuthorizationData {
    pub const LEN: usize = 101;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            authenticator: reader.array("authenticator")?,
            id_type: IdType::from_u8(reader.u8("id type")?),
            app_id: reader.u32("app id")?,
            name: reader.name("name", NAME_LEN)?,
            nonce: reader.array("nonce")?,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .bytes(&self.authenticator)
            .u8(self.id_type.to_u8())
            .u32(self.app_id)
            .name(&self.name, NAME_LEN)
            .bytes(&self.nonce);
    }

    /// The bytes the authenticator `a2` covers, before the lock's challenge `nK2`.
    pub fn authenticated_fields(&self) -> Vec<u8> {
        let mut writer = Writer::with_capacity(69);
        writer
            .u8(self.id_type.to_u8())
            .u32(self.app_id)
            .name(&self.name, NAME_LEN)
            .bytes(&self.nonce);
        writer.into_vec()
    }
}

/// Authorization Data 0x0006 of the Smart Lock Ultra (sent encrypted): app id, name, PIN.
/// 40 bytes with the 6-digit PIN, 38 with a 4-digit one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizationDataUltra {
    pub app_id: u32,
    pub name: String,
    pub pin: SecurityPin,
}

impl AuthorizationDataUltra {
    pub const LEN: usize = 40;
    pub const SHORT_PIN_LEN: usize = 38;

    pub(crate) fn read(reader: &mut Reader<'_>, wide_pin: bool) -> Result<Self, DecodeError> {
        let app_id = reader.u32("app id")?;
        let name = reader.name("name", NAME_LEN)?;
        let pin = if wide_pin {
            SecurityPin::Long(reader.u32("security pin")?)
        } else {
            SecurityPin::Short(reader.u16("security pin")?)
        };
        Ok(Self { app_id, name, pin })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer.u32(self.app_id).name(&self.name, NAME_LEN);
        self.pin.write(writer);
    }
}

/// Authorization-ID 0x0007, classic flow (84 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizationId {
    #[serde(serialize_with = "super::fields::hex_bytes")]
    pub authenticator: [u8; 32],
    pub auth_id: u32,
    #[serde(serialize_with = "super::fields::hex_bytes")]
    pub uuid: [u8; 16],
    #[serde(serialize_with = "super::fields::hex_bytes")]
    pub nonce: [u8; 32],
}

impl AuthorizationId {
    pub const LEN: usize = 84;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            authenticator: reader.array("authenticator")?,
            auth_id: reader.u32("authorization id")?,
            uuid: reader.array("uuid")?,
            nonce: reader.array("nonce")?,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .bytes(&self.authenticator)
            .u32(self.auth_id)
            .bytes(&self.uuid)
            .bytes(&self.nonce);
    }
}

/// Authorization-ID 0x0007 of the Smart Lock Ultra (sent encrypted, 20 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizationIdUltra {
    pub auth_id: u32,
    #[serde(serialize_with = "super::fields::hex_bytes")]
    pub uuid: [u8; 16],
}

impl AuthorizationIdUltra {
    pub const LEN: usize = 20;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            auth_id: reader.u32("authorization id")?,
            uuid: reader.array("uuid")?,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer.u32(self.auth_id).bytes(&self.uuid);
    }
}
