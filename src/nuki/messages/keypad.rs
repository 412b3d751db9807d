//! Keypad code payloads (§4.2.35).

use serde::Serialize;

use super::super::codec::{DateTime, DecodeError, Reader, Writer};
use super::common::{AccessCode, AllowedWindow};

/// Width of keypad code names.
pub const KEYPAD_NAME_LEN: usize = 20;

/// Keypad Code 0x0045: 63 bytes, or 44 when a device leaves out the time window.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeypadCode {
    pub code_id: u16,
    pub code: AccessCode,
    pub name: String,
    pub enabled: bool,
    pub created: DateTime,
    pub last_active: DateTime,
    pub lock_count: u16,
    pub time_limited: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed: Option<AllowedWindow>,
}

impl KeypadCode {
    pub const SHORT_LEN: usize = 44;
    pub const LEN: usize = 63;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let code_id = reader.u16("code id")?;
        let code = AccessCode(reader.u32("code")?);
        let name = reader.name("name", KEYPAD_NAME_LEN)?;
        let enabled = reader.bool("enabled")?;
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
            code_id,
            code,
            name,
            enabled,
            created,
            last_active,
            lock_count,
            time_limited,
            allowed,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .u16(self.code_id)
            .u32(self.code.0)
            .name(&self.name, KEYPAD_NAME_LEN)
            .bool(self.enabled)
            .date_time(&self.created)
            .date_time(&self.last_active)
            .u16(self.lock_count)
            .bool(self.time_limited);
        if let Some(window) = &self.allowed {
            window.write(writer);
        }
    }
}

/// Add Keypad Code 0x0041 body (44 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NewKeypadCode {
    pub code: AccessCode,
    pub name: String,
    pub time_limited: bool,
    pub allowed: AllowedWindow,
}

impl NewKeypadCode {
    pub const LEN: usize = 44;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            code: AccessCode(reader.u32("code")?),
            name: reader.name("name", KEYPAD_NAME_LEN)?,
            time_limited: reader.bool("time limited")?,
            allowed: AllowedWindow::read(reader)?,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .u32(self.code.0)
            .name(&self.name, KEYPAD_NAME_LEN)
            .bool(self.time_limited);
        self.allowed.write(writer);
    }
}

/// Update Keypad Code 0x0046 body (47 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeypadCodeUpdate {
    pub code_id: u16,
    pub code: AccessCode,
    pub name: String,
    pub enabled: bool,
    pub time_limited: bool,
    pub allowed: AllowedWindow,
}

impl KeypadCodeUpdate {
    pub const LEN: usize = 47;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            code_id: reader.u16("code id")?,
            code: AccessCode(reader.u32("code")?),
            name: reader.name("name", KEYPAD_NAME_LEN)?,
            enabled: reader.bool("enabled")?,
            time_limited: reader.bool("time limited")?,
            allowed: AllowedWindow::read(reader)?,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .u16(self.code_id)
            .u32(self.code.0)
            .name(&self.name, KEYPAD_NAME_LEN)
            .bool(self.enabled)
            .bool(self.time_limited);
        self.allowed.write(writer);
    }
}
