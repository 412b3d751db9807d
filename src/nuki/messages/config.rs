//! Config 0x0015 and Set Config 0x0013 (§4.2.21–4.2.24), Smart Lock and Opener layouts.

use serde::Serialize;

use super::super::codec::{DateTime, DecodeError, Reader, Writer};
use super::super::enums::{
    AdvertisingMode, DeviceType, DstMode, FobAction, HomeKitStatus, OpenerCapabilities,
    OperatingMode, TimeZoneId,
};
use super::common::{FirmwareVersion, HardwareRevision};
use super::pairing::NAME_LEN;
use super::states::{write_prefix, OptionalBytes};

/// Config 0x0015 in the layout of the device's family.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Config {
    Lock(LockConfig),
    Opener(OpenerConfig),
}

/// Set Config 0x0013 in the layout of the device's family.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum SetConfig {
    Lock(LockSetConfig),
    Opener(OpenerSetConfig),
}

/// Smart Lock Config: 74 bytes, newer firmware appends up to 5 more (`None` when absent).
/// Smart Lock 1.0/2.0 firmware stops before the HomeKit status (71 bytes) or before the time
/// zone id (72 bytes).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockConfig {
    pub nuki_id: u32,
    pub name: String,
    pub latitude: f32,
    pub longitude: f32,
    pub auto_unlatch: bool,
    pub pairing_enabled: bool,
    pub button_enabled: bool,
    pub led_enabled: bool,
    /// 0 (off) … 5.
    pub led_brightness: u8,
    pub current_time: DateTime,
    pub timezone_offset: i16,
    pub dst_mode: DstMode,
    pub has_fob: bool,
    pub fob_action_1: FobAction,
    pub fob_action_2: FobAction,
    pub fob_action_3: FobAction,
    pub single_lock: bool,
    pub advertising_mode: AdvertisingMode,
    pub has_keypad: bool,
    pub firmware_version: FirmwareVersion,
    pub hardware_revision: HardwareRevision,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub homekit_status: Option<HomeKitStatus>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timezone_id: Option<TimeZoneId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub device_type: Option<DeviceType>,
    /// Bit mask, meaning undocumented.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub capabilities: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_keypad_v2: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub matter_status: Option<u8>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub product_variant: Option<u8>,
}

impl LockConfig {
    /// Length of the oldest firmware's layout, up to the hardware revision.
    pub const MIN_LEN: usize = 71;
    /// Length of the official layout, up to the time zone id.
    pub const OFFICIAL_LEN: usize = 74;
    pub const MAX_LEN: usize = 79;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let nuki_id = reader.u32("nuki id")?;
        let name = reader.name("name", NAME_LEN)?;
        let latitude = reader.f32("latitude")?;
        let longitude = reader.f32("longitude")?;
        let auto_unlatch = reader.bool("auto unlatch")?;
        let pairing_enabled = reader.bool("pairing enabled")?;
        let button_enabled = reader.bool("button enabled")?;
        let led_enabled = reader.bool("led enabled")?;
        let led_brightness = reader.u8("led brightness")?;
        let current_time = reader.date_time("current time")?;
        let timezone_offset = reader.i16("timezone offset")?;
        let dst_mode = DstMode::from_u8(reader.u8("dst mode")?);
        let has_fob = reader.bool("has fob")?;
        let fob_action_1 = FobAction::from_u8(reader.u8("fob action 1")?);
        let fob_action_2 = FobAction::from_u8(reader.u8("fob action 2")?);
        let fob_action_3 = FobAction::from_u8(reader.u8("fob action 3")?);
        let single_lock = reader.bool("single lock")?;
        let advertising_mode = AdvertisingMode::from_u8(reader.u8("advertising mode")?);
        let has_keypad = reader.bool("has keypad")?;
        let firmware_version = FirmwareVersion::read(reader)?;
        let hardware_revision = HardwareRevision::read(reader)?;
        let homekit_status = OptionalBytes(reader).next().map(HomeKitStatus::from_u8);
        // Half a time zone id is malformed, not absent; with none, nothing newer follows.
        let timezone_id = match reader.remaining() {
            0 => None,
            _ => Some(TimeZoneId::from_u16(reader.u16("timezone id")?)),
        };
        let mut optional = OptionalBytes(reader);
        Ok(Self {
            nuki_id,
            name,
            latitude,
            longitude,
            auto_unlatch,
            pairing_enabled,
            button_enabled,
            led_enabled,
            led_brightness,
            current_time,
            timezone_offset,
            dst_mode,
            has_fob,
            fob_action_1,
            fob_action_2,
            fob_action_3,
            single_lock,
            advertising_mode,
            has_keypad,
            firmware_version,
            hardware_revision,
            homekit_status,
            timezone_id,
            device_type: optional.next().map(DeviceType::from_u8),
            capabilities: optional.next(),
            has_keypad_v2: optional.next().map(|b| b != 0),
            matter_status: optional.next(),
            product_variant: optional.next(),
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .u32(self.nuki_id)
            .name(&self.name, NAME_LEN)
            .f32(self.latitude)
            .f32(self.longitude)
            .bool(self.auto_unlatch)
            .bool(self.pairing_enabled)
            .bool(self.button_enabled)
            .bool(self.led_enabled)
            .u8(self.led_brightness)
            .date_time(&self.current_time)
            .i16(self.timezone_offset)
            .u8(self.dst_mode.to_u8())
            .bool(self.has_fob)
            .u8(self.fob_action_1.to_u8())
            .u8(self.fob_action_2.to_u8())
            .u8(self.fob_action_3.to_u8())
            .bool(self.single_lock)
            .u8(self.advertising_mode.to_u8())
            .bool(self.has_keypad);
        self.firmware_version.write(writer);
        self.hardware_revision.write(writer);
        let (Some(homekit_status), timezone_id) = (self.homekit_status, self.timezone_id) else {
            return;
        };
        writer.u8(homekit_status.to_u8());
        let Some(timezone_id) = timezone_id else {
            return;
        };
        writer.u16(timezone_id.to_u16());
        write_prefix(
            writer,
            &[
                self.device_type.map(DeviceType::to_u8),
                self.capabilities,
                self.has_keypad_v2.map(u8::from),
                self.matter_status,
                self.product_variant,
            ],
        );
    }
}

/// Opener Config: 72 bytes, then `has keypad 2.0` on newer firmware. The Opener's fob action
/// numbering is undocumented, so those bytes stay raw.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenerConfig {
    pub nuki_id: u32,
    pub name: String,
    pub latitude: f32,
    pub longitude: f32,
    pub capabilities: OpenerCapabilities,
    pub pairing_enabled: bool,
    pub button_enabled: bool,
    pub led_enabled: bool,
    pub current_time: DateTime,
    pub timezone_offset: i16,
    pub dst_mode: DstMode,
    pub has_fob: bool,
    pub fob_action_1: u8,
    pub fob_action_2: u8,
    pub fob_action_3: u8,
    pub operating_mode: OperatingMode,
    pub advertising_mode: AdvertisingMode,
    pub has_keypad: bool,
    pub firmware_version: FirmwareVersion,
    pub hardware_revision: HardwareRevision,
    pub timezone_id: TimeZoneId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub has_keypad_v2: Option<bool>,
}

impl OpenerConfig {
    pub const MIN_LEN: usize = 72;
    pub const MAX_LEN: usize = 73;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let nuki_id = reader.u32("nuki id")?;
        let name = reader.name("name", NAME_LEN)?;
        let latitude = reader.f32("latitude")?;
        let longitude = reader.f32("longitude")?;
        let capabilities = OpenerCapabilities::from_u8(reader.u8("capabilities")?);
        let pairing_enabled = reader.bool("pairing enabled")?;
        let button_enabled = reader.bool("button enabled")?;
        let led_enabled = reader.bool("led enabled")?;
        let current_time = reader.date_time("current time")?;
        let timezone_offset = reader.i16("timezone offset")?;
        let dst_mode = DstMode::from_u8(reader.u8("dst mode")?);
        let has_fob = reader.bool("has fob")?;
        let fob_action_1 = reader.u8("fob action 1")?;
        let fob_action_2 = reader.u8("fob action 2")?;
        let fob_action_3 = reader.u8("fob action 3")?;
        let operating_mode = OperatingMode::from_u8(reader.u8("operating mode")?);
        let advertising_mode = AdvertisingMode::from_u8(reader.u8("advertising mode")?);
        let has_keypad = reader.bool("has keypad")?;
        let firmware_version = FirmwareVersion::read(reader)?;
        let hardware_revision = HardwareRevision::read(reader)?;
        let timezone_id = TimeZoneId::from_u16(reader.u16("timezone id")?);
        let has_keypad_v2 = OptionalBytes(reader).next().map(|b| b != 0);
        Ok(Self {
            nuki_id,
            name,
            latitude,
            longitude,
            capabilities,
            pairing_enabled,
            button_enabled,
            led_enabled,
            current_time,
            timezone_offset,
            dst_mode,
            has_fob,
            fob_action_1,
            fob_action_2,
            fob_action_3,
            operating_mode,
            advertising_mode,
            has_keypad,
            firmware_version,
            hardware_revision,
            timezone_id,
            has_keypad_v2,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .u32(self.nuki_id)
            .name(&self.name, NAME_LEN)
            .f32(self.latitude)
            .f32(self.longitude)
            .u8(self.capabilities.to_u8())
            .bool(self.pairing_enabled)
            .bool(self.button_enabled)
            .bool(self.led_enabled)
            .date_time(&self.current_time)
            .i16(self.timezone_offset)
            .u8(self.dst_mode.to_u8())
            .bool(self.has_fob)
            .u8(self.fob_action_1)
            .u8(self.fob_action_2)
            .u8(self.fob_action_3)
            .u8(self.operating_mode.to_u8())
            .u8(self.advertising_mode.to_u8())
            .bool(self.has_keypad);
        self.firmware_version.write(writer);
        self.hardware_revision.write(writer);
        writer.u16(self.timezone_id.to_u16());
        write_prefix(writer, &[self.has_keypad_v2.map(u8::from)]);
    }
}

/// Smart Lock Set Config body (55 bytes before nonce and PIN).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LockSetConfig {
    pub name: String,
    pub latitude: f32,
    pub longitude: f32,
    pub auto_unlatch: bool,
    pub pairing_enabled: bool,
    pub button_enabled: bool,
    pub led_enabled: bool,
    pub led_brightness: u8,
    pub timezone_offset: i16,
    pub dst_mode: DstMode,
    pub fob_action_1: FobAction,
    pub fob_action_2: FobAction,
    pub fob_action_3: FobAction,
    pub single_lock: bool,
    pub advertising_mode: AdvertisingMode,
    pub timezone_id: TimeZoneId,
}

impl LockSetConfig {
    pub const LEN: usize = 55;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            name: reader.name("name", NAME_LEN)?,
            latitude: reader.f32("latitude")?,
            longitude: reader.f32("longitude")?,
            auto_unlatch: reader.bool("auto unlatch")?,
            pairing_enabled: reader.bool("pairing enabled")?,
            button_enabled: reader.bool("button enabled")?,
            led_enabled: reader.bool("led enabled")?,
            led_brightness: reader.u8("led brightness")?,
            timezone_offset: reader.i16("timezone offset")?,
            dst_mode: DstMode::from_u8(reader.u8("dst mode")?),
            fob_action_1: FobAction::from_u8(reader.u8("fob action 1")?),
            fob_action_2: FobAction::from_u8(reader.u8("fob action 2")?),
            fob_action_3: FobAction::from_u8(reader.u8("fob action 3")?),
            single_lock: reader.bool("single lock")?,
            advertising_mode: AdvertisingMode::from_u8(reader.u8("advertising mode")?),
            timezone_id: TimeZoneId::from_u16(reader.u16("timezone id")?),
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .name(&self.name, NAME_LEN)
            .f32(self.latitude)
            .f32(self.longitude)
            .bool(self.auto_unlatch)
            .bool(self.pairing_enabled)
            .bool(self.button_enabled)
            .bool(self.led_enabled)
            .u8(self.led_brightness)
            .i16(self.timezone_offset)
            .u8(self.dst_mode.to_u8())
            .u8(self.fob_action_1.to_u8())
            .u8(self.fob_action_2.to_u8())
            .u8(self.fob_action_3.to_u8())
            .bool(self.single_lock)
            .u8(self.advertising_mode.to_u8())
            .u16(self.timezone_id.to_u16());
    }
}

impl From<&LockConfig> for LockSetConfig {
    /// The writable part of a read Config, to change one field and write it back.
    fn from(config: &LockConfig) -> Self {
        Self {
            name: config.name.clone(),
            latitude: config.latitude,
            longitude: config.longitude,
            auto_unlatch: config.auto_unlatch,
            pairing_enabled: config.pairing_enabled,
            button_enabled: config.button_enabled,
            led_enabled: config.led_enabled,
            led_brightness: config.led_brightness,
            timezone_offset: config.timezone_offset,
            dst_mode: config.dst_mode,
            fob_action_1: config.fob_action_1,
            fob_action_2: config.fob_action_2,
            fob_action_3: config.fob_action_3,
            single_lock: config.single_lock,
            advertising_mode: config.advertising_mode,
            // Firmware that does not report a zone has none set.
            timezone_id: config.timezone_id.unwrap_or(TimeZoneId::NotSet),
        }
    }
}

/// Opener Set Config body (54 bytes before nonce and PIN).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpenerSetConfig {
    pub name: String,
    pub latitude: f32,
    pub longitude: f32,
    pub capabilities: OpenerCapabilities,
    pub pairing_enabled: bool,
    pub button_enabled: bool,
    pub led_enabled: bool,
    pub timezone_offset: i16,
    pub dst_mode: DstMode,
    pub fob_action_1: u8,
    pub fob_action_2: u8,
    pub fob_action_3: u8,
    pub operating_mode: OperatingMode,
    pub advertising_mode: AdvertisingMode,
    pub timezone_id: TimeZoneId,
}

impl OpenerSetConfig {
    pub const LEN: usize = 54;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            name: reader.name("name", NAME_LEN)?,
            latitude: reader.f32("latitude")?,
            longitude: reader.f32("longitude")?,
            capabilities: OpenerCapabilities::from_u8(reader.u8("capabilities")?),
            pairing_enabled: reader.bool("pairing enabled")?,
            button_enabled: reader.bool("button enabled")?,
            led_enabled: reader.bool("led enabled")?,
            timezone_offset: reader.i16("timezone offset")?,
            dst_mode: DstMode::from_u8(reader.u8("dst mode")?),
            fob_action_1: reader.u8("fob action 1")?,
            fob_action_2: reader.u8("fob action 2")?,
            fob_action_3: reader.u8("fob action 3")?,
            operating_mode: OperatingMode::from_u8(reader.u8("operating mode")?),
            advertising_mode: AdvertisingMode::from_u8(reader.u8("advertising mode")?),
            timezone_id: TimeZoneId::from_u16(reader.u16("timezone id")?),
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .name(&self.name, NAME_LEN)
            .f32(self.latitude)
            .f32(self.longitude)
            .u8(self.capabilities.to_u8())
            .bool(self.pairing_enabled)
            .bool(self.button_enabled)
            .bool(self.led_enabled)
            .i16(self.timezone_offset)
            .u8(self.dst_mode.to_u8())
            .u8(self.fob_action_1)
            .u8(self.fob_action_2)
            .u8(self.fob_action_3)
            .u8(self.operating_mode.to_u8())
            .u8(self.advertising_mode.to_u8())
            .u16(self.timezone_id.to_u16());
    }
}

impl From<&OpenerConfig> for OpenerSetConfig {
    fn from(config: &OpenerConfig) -> Self {
        Self {
            name: config.name.clone(),
            latitude: config.latitude,
            longitude: config.longitude,
            capabilities: config.capabilities,
            pairing_enabled: config.pairing_enabled,
            button_enabled: config.button_enabled,
            led_enabled: config.led_enabled,
            timezone_offset: config.timezone_offset,
            dst_mode: config.dst_mode,
            fob_action_1: config.fob_action_1,
            fob_action_2: config.fob_action_2,
            fob_action_3: config.fob_action_3,
            operating_mode: config.operating_mode,
            advertising_mode: config.advertising_mode,
            timezone_id: config.timezone_id,
        }
    }
}

impl Config {
    /// The writable part of this configuration, for a read-modify-write.
    pub fn to_set_config(&self) -> SetConfig {
        match self {
            Config::Lock(config) => SetConfig::Lock(config.into()),
            Config::Opener(config) => SetConfig::Opener(config.into()),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Config::Lock(c) => &c.name,
            Config::Opener(c) => &c.name,
        }
    }
}

impl SetConfig {
    pub fn set_name(&mut self, name: &str) {
        match self {
            SetConfig::Lock(c) => c.name = name.to_owned(),
            SetConfig::Opener(c) => c.name = name.to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn old_lock_firmware_stops_before_homekit_or_time_zone() {
        // Ones everywhere: valid flags, an unpadded name and finite floats re-encode exactly.
        let payload = [1u8; LockConfig::OFFICIAL_LEN];
        for (len, homekit, zone) in [(71, false, false), (72, true, false), (74, true, true)] {
            let config = LockConfig::read(&mut Reader::new(&payload[..len])).unwrap();
            assert_eq!(config.homekit_status.is_some(), homekit, "{len} bytes");
            assert_eq!(config.timezone_id.is_some(), zone, "{len} bytes");
            let mut writer = Writer::new();
            config.write(&mut writer);
            assert_eq!(writer.into_vec(), payload[..len], "{len} bytes");
        }
        assert!(LockConfig::read(&mut Reader::new(&payload[..73])).is_err());
        assert!(LockConfig::read(&mut Reader::new(&payload[..70])).is_err());
    }

    #[test]
    fn set_config_from_a_config_without_time_zone_sends_none_set() {
        let payload = [1u8; LockConfig::MIN_LEN];
        let config = LockConfig::read(&mut Reader::new(&payload)).unwrap();
        assert_eq!(LockSetConfig::from(&config).timezone_id, TimeZoneId::NotSet);
    }
}
