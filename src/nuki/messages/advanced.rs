//! Advanced Config 0x0037 and Set Advanced Config 0x0035 (§4.2.32–4.2.33).

use serde::Serialize;

use super::super::codec::{DecodeError, Reader, TimeOfDay, Writer};
use super::super::enums::{BatteryType, ButtonPressAction, MotorSpeed, OpenerButtonPressAction};

/// Advanced Config 0x0037 in the layout of the device's family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum AdvancedConfig {
    Lock(LockAdvancedConfig),
    Opener(OpenerAdvancedConfig),
}

/// Set Advanced Config 0x0035 in the layout of the device's family.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum SetAdvancedConfig {
    Lock(LockAdvancedSettings),
    Opener(OpenerAdvancedSettings),
}

/// Smart Lock Advanced Config: the read-only total degrees, then the writable settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockAdvancedConfig {
    pub total_degrees: u16,
    #[serde(flatten)]
    pub settings: LockAdvancedSettings,
}

/// The writable Smart Lock advanced settings: 26 bytes (v2.1), 29 with the v2.2 auto-lock and
/// auto-update fields, 31 with the Ultra motor fields. Each later group is present as a whole
/// or not at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LockAdvancedSettings {
    pub unlocked_position_offset: i16,
    pub locked_position_offset: i16,
    pub single_locked_position_offset: i16,
    pub unlocked_to_locked_transition_offset: i16,
    pub lock_n_go_timeout: u8,
    pub single_button_press_action: ButtonPressAction,
    pub double_button_press_action: ButtonPressAction,
    pub detached_cylinder: bool,
    pub battery_type: BatteryType,
    pub automatic_battery_type_detection: bool,
    /// Seconds.
    pub unlatch_duration: u8,
    /// Seconds; 0 = no automatic relock.
    pub auto_lock_timeout: u16,
    pub auto_unlock_disabled: bool,
    pub nightmode_enabled: bool,
    pub nightmode_start_time: TimeOfDay,
    pub nightmode_end_time: TimeOfDay,
    pub nightmode_auto_lock_enabled: bool,
    pub nightmode_auto_unlock_disabled: bool,
    pub nightmode_immediate_lock_on_start: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_lock_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub immediate_auto_lock_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_update_enabled: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub motor_speed: Option<MotorSpeed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slow_speed_during_nightmode: Option<bool>,
}

impl LockAdvancedSettings {
    /// The lengths a Set Advanced Config body may have.
    pub const LENGTHS: [usize; 3] = [26, 29, 31];

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let unlocked_position_offset = reader.i16("unlocked position offset")?;
        let locked_position_offset = reader.i16("locked position offset")?;
        let single_locked_position_offset = reader.i16("single locked position offset")?;
        let unlocked_to_locked_transition_offset =
            reader.i16("unlocked to locked transition offset")?;
        let lock_n_go_timeout = reader.u8("lock n go timeout")?;
        let single_button_press_action =
            ButtonPressAction::from_u8(reader.u8("single button press action")?);
        let double_button_press_action =
            ButtonPressAction::from_u8(reader.u8("double button press action")?);
        let detached_cylinder = reader.bool("detached cylinder")?;
        let battery_type = BatteryType::from_u8(reader.u8("battery type")?);
        let automatic_battery_type_detection = reader.bool("automatic battery type detection")?;
        let unlatch_duration = reader.u8("unlatch duration")?;
        let auto_lock_timeout = reader.u16("auto lock timeout")?;
        let auto_unlock_disabled = reader.bool("auto unlock disabled")?;
        let nightmode_enabled = reader.bool("nightmode enabled")?;
        let nightmode_start_time = reader.time_of_day("nightmode start time")?;
        let nightmode_end_time = reader.time_of_day("nightmode end time")?;
        let nightmode_auto_lock_enabled = reader.bool("nightmode auto lock enabled")?;
        let nightmode_auto_unlock_disabled = reader.bool("nightmode auto unlock disabled")?;
        let nightmode_immediate_lock_on_start = reader.bool("nightmode immediate lock")?;
        let v2_2 = if reader.remaining() >= 3 {
            Some([
                reader.bool("auto lock enabled")?,
                reader.bool("immediate auto lock enabled")?,
                reader.bool("auto update enabled")?,
            ])
        } else {
            None
        };
        let ultra = if v2_2.is_some() && reader.remaining() >= 2 {
            Some((
                MotorSpeed::from_u8(reader.u8("motor speed")?),
                reader.bool("slow speed during nightmode")?,
            ))
        } else {
            None
        };
        Ok(Self {
            unlocked_position_offset,
            locked_position_offset,
            single_locked_position_offset,
            unlocked_to_locked_transition_offset,
            lock_n_go_timeout,
            single_button_press_action,
            double_button_press_action,
            detached_cylinder,
            battery_type,
            automatic_battery_type_detection,
            unlatch_duration,
            auto_lock_timeout,
            auto_unlock_disabled,
            nightmode_enabled,
            nightmode_start_time,
            nightmode_end_time,
            nightmode_auto_lock_enabled,
            nightmode_auto_unlock_disabled,
            nightmode_immediate_lock_on_start,
            auto_lock_enabled: v2_2.map(|group| group[0]),
            immediate_auto_lock_enabled: v2_2.map(|group| group[1]),
            auto_update_enabled: v2_2.map(|group| group[2]),
            motor_speed: ultra.map(|group| group.0),
            slow_speed_during_nightmode: ultra.map(|group| group.1),
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .i16(self.unlocked_position_offset)
            .i16(self.locked_position_offset)
            .i16(self.single_locked_position_offset)
            .i16(self.unlocked_to_locked_transition_offset)
            .u8(self.lock_n_go_timeout)
            .u8(self.single_button_press_action.to_u8())
            .u8(self.double_button_press_action.to_u8())
            .bool(self.detached_cylinder)
            .u8(self.battery_type.to_u8())
            .bool(self.automatic_battery_type_detection)
            .u8(self.unlatch_duration)
            .u16(self.auto_lock_timeout)
            .bool(self.auto_unlock_disabled)
            .bool(self.nightmode_enabled)
            .time_of_day(&self.nightmode_start_time)
            .time_of_day(&self.nightmode_end_time)
            .bool(self.nightmode_auto_lock_enabled)
            .bool(self.nightmode_auto_unlock_disabled)
            .bool(self.nightmode_immediate_lock_on_start);
        // A group is written only when complete, so the result is always a published length.
        if let (Some(auto_lock), Some(immediate), Some(update)) = (
            self.auto_lock_enabled,
            self.immediate_auto_lock_enabled,
            self.auto_update_enabled,
        ) {
            writer.bool(auto_lock).bool(immediate).bool(update);
            if let (Some(speed), Some(slow)) = (self.motor_speed, self.slow_speed_during_nightmode)
            {
                writer.u8(speed.to_u8()).bool(slow);
            }
        }
    }
}

impl LockAdvancedConfig {
    pub const MIN_LEN: usize = 28;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            total_degrees: reader.u16("total degrees")?,
            settings: LockAdvancedSettings::read(reader)?,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer.u16(self.total_degrees);
        self.settings.write(writer);
    }
}

/// Opener Advanced Config: the writable settings, then `auto update enabled` on newer firmware.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenerAdvancedConfig {
    #[serde(flatten)]
    pub settings: OpenerAdvancedSettings,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_update_enabled: Option<bool>,
}

impl OpenerAdvancedConfig {
    pub const MIN_LEN: usize = OpenerAdvancedSettings::LEN;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        let settings = OpenerAdvancedSettings::read(reader)?;
        let auto_update_enabled = if reader.remaining() > 0 {
            Some(reader.bool("auto update enabled")?)
        } else {
            None
        };
        Ok(Self {
            settings,
            auto_update_enabled,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        self.settings.write(writer);
        if let Some(enabled) = self.auto_update_enabled {
            writer.bool(enabled);
        }
    }
}

/// The writable Opener advanced settings (26 bytes). Byte 13 has no known meaning; it is kept
/// so that it is written back unchanged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OpenerAdvancedSettings {
    pub intercom_id: u16,
    pub bus_mode_switch: u8,
    pub short_circuit_duration: u16,
    pub electric_strike_delay: u16,
    pub random_electric_strike_delay: bool,
    pub electric_strike_duration: u16,
    pub disable_rto_after_ring: bool,
    pub rto_timeout: u8,
    pub reserved: u8,
    pub doorbell_suppression: u8,
    pub doorbell_suppression_duration: u16,
    pub sound_ring: u8,
    pub sound_open: u8,
    pub sound_rto: u8,
    pub sound_cm: u8,
    pub sound_confirmation: u8,
    pub sound_level: u8,
    pub single_button_press_action: OpenerButtonPressAction,
    pub double_button_press_action: OpenerButtonPressAction,
    pub battery_type: BatteryType,
    pub automatic_battery_type_detection: bool,
}

impl OpenerAdvancedSettings {
    pub const LEN: usize = 26;

    pub(crate) fn read(reader: &mut Reader<'_>) -> Result<Self, DecodeError> {
        Ok(Self {
            intercom_id: reader.u16("intercom id")?,
            bus_mode_switch: reader.u8("bus mode switch")?,
            short_circuit_duration: reader.u16("short circuit duration")?,
            electric_strike_delay: reader.u16("electric strike delay")?,
            random_electric_strike_delay: reader.bool("random electric strike delay")?,
            electric_strike_duration: reader.u16("electric strike duration")?,
            disable_rto_after_ring: reader.bool("disable rto after ring")?,
            rto_timeout: reader.u8("rto timeout")?,
            reserved: reader.u8("reserved")?,
            doorbell_suppression: reader.u8("doorbell suppression")?,
            doorbell_suppression_duration: reader.u16("doorbell suppression duration")?,
            sound_ring: reader.u8("sound ring")?,
            sound_open: reader.u8("sound open")?,
            sound_rto: reader.u8("sound rto")?,
            sound_cm: reader.u8("sound cm")?,
            sound_confirmation: reader.u8("sound confirmation")?,
            sound_level: reader.u8("sound level")?,
            single_button_press_action: OpenerButtonPressAction::from_u8(
                reader.u8("single button press action")?,
            ),
            double_button_press_action: OpenerButtonPressAction::from_u8(
                reader.u8("double button press action")?,
            ),
            battery_type: BatteryType::from_u8(reader.u8("battery type")?),
            automatic_battery_type_detection: reader.bool("automatic battery type detection")?,
        })
    }

    pub(crate) fn write(&self, writer: &mut Writer) {
        writer
            .u16(self.intercom_id)
            .u8(self.bus_mode_switch)
            .u16(self.short_circuit_duration)
            .u16(self.electric_strike_delay)
            .bool(self.random_electric_strike_delay)
            .u16(self.electric_strike_duration)
            .bool(self.disable_rto_after_ring)
            .u8(self.rto_timeout)
            .u8(self.reserved)
            .u8(self.doorbell_suppression)
            .u16(self.doorbell_suppression_duration)
            .u8(self.sound_ring)
            .u8(self.sound_open)
            .u8(self.sound_rto)
            .u8(self.sound_cm)
            .u8(self.sound_confirmation)
            .u8(self.sound_level)
            .u8(self.single_button_press_action.to_u8())
            .u8(self.double_button_press_action.to_u8())
            .u8(self.battery_type.to_u8())
            .bool(self.automatic_battery_type_detection);
    }
}
