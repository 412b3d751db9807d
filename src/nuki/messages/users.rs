//! Authorization management payloads (§4.2.6–4.2.12).

use serde::Serialize;

use super::super::codec::{DateTime, DecodeError, Reader, Writer};
use super::super::crypto::SharedKey;
use super::super::enums::IdType;
use super::common::AllowedWindow;
use super::pairing::NAME_LEN;

/// Authorization Entry 0x000A: 75 bytes, or 56 when a device leaves out the time window
/// (`allowed` is then `None`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizationEntry {
    pub auth_id: u32,
    pub id_type: IdType,
    pub name: String,
    pub enabled: bool,
    pub remote_allowed: bool,
    pub created: DateTime,
    pub last_active: DateTime,
    pub lock_count: u16,
    pub time_limited: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<AllowedWindow>,
}

impl AuthorizationEntry {
    pub const SHORT_LEN: usize = 56;
    pub const LEN: usize = 75;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let auth_id = reader.u32("authorization id")?;
        let id_type = IdType::from_u8(reader.u8("id type")?);
        let name = reader.name("name", NAME_LEN)?;
        let enabled = reader.bool("enabled")?;
        let remote_allowed = reader.bool("remote allowed")?;
        let created = reader.date_time("date created")?;
        let last_active = reader.date_time("date last active")?;
        let lock_count = reader.u16("lock count")?;
        let time_limited = reader.bool("time limited")?;
        let allowed = if reader.remaining() >= AllowedWindow::LEN {
            Some(AllowedWindow::read(reader)?)
        } else {
            None
        };
        Ok(Self {
            auth_id,
            id_type,
            name,
            enabled,
            remote_allowed,
            created,
            last_active,
            lock_count,
            time_limited,
            allowed,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .u32(self.auth_id)
            .u8(self.id_type.to_u8())
            .name(&self.name, NAME_LEN)
            .bool(self.enabled)
            .bool(self.remote_allowed)
            .date_time(&self.created)
            .date_time(&self.last_active)
            .u16(self.lock_count)
            .bool(self.time_limited);
        if let Some(window) = &self.allowed {
            window.write(writer);
        }
    }
}

/// Authorization Data (Invite) 0x000B body (86 bytes): creates an authorization whose shared
/// key the sender chose. The key is never printed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuthorizationInvite {
    pub name: String,
    pub id_type: IdType,
    #[serde(serialize_with = "super::fields::redacted")]
    pub shared_key: SharedKey,
    pub remote_allowed: bool,
    pub time_limited: bool,
    pub allowed: AllowedWindow,
}

impl AuthorizationInvite {
    pub const LEN: usize = 86;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            name: reader.name("name", NAME_LEN)?,
            id_type: IdType::from_u8(reader.u8("id type")?),
            shared_key: SharedKey::from_bytes(reader.array("shared key")?),
            remote_allowed: reader.bool("remote allowed")?,
            time_limited: reader.bool("time limited")?,
            allowed: AllowedWindow::read(reader)?,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .name(&self.name, NAME_LEN)
            .u8(self.id_type.to_u8())
            .bytes(self.shared_key.expose())
            .bool(self.remote_allowed)
            .bool(self.time_limited);
        self.allowed.write(writer);
    }
}

/// Update User Authorization 0x0025 body (58 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UserAuthorizationUpdate {
    pub auth_id: u32,
    pub name: String,
    pub enabled: bool,
    pub remote_allowed: bool,
    pub time_limited: bool,
    pub allowed: AllowedWindow,
}

impl UserAuthorizationUpdate {
    pub const LEN: usize = 58;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            auth_id: reader.u32("authorization id")?,
            name: reader.name("name", NAME_LEN)?,
            enabled: reader.bool("enabled")?,
            remote_allowed: reader.bool("remote allowed")?,
            time_limited: reader.bool("time limited")?,
            allowed: AllowedWindow::read(reader)?,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .u32(self.auth_id)
            .name(&self.name, NAME_LEN)
            .bool(self.enabled)
            .bool(self.remote_allowed)
            .bool(self.time_limited);
        self.allowed.write(writer);
    }
}
