//! The device's writable settings (Config and Advanced Config) with defaults per kind, the
//! checks Set Config applies, and the layouts the device reports.

use std::time::Duration;

use crate::nuki::codec::{DateTime, TimeOfDay};
use crate::nuki::enums::{
    AdvertisingMode, BatteryType, ButtonPressAction, DstMode, FobAction, HomeKitStatus, MotorSpeed,
    OpenerButtonPressAction, OpenerCapabilities, OperatingMode, TimeZoneId,
};
use crate::nuki::messages::{
    AdvancedConfig, Config, FirmwareVersion, HardwareRevision, LockAdvancedConfig,
    LockAdvancedSettings, LockConfig, LockSetConfig, OpenerAdvancedConfig, OpenerAdvancedSettings,
    OpenerConfig, OpenerSetConfig, SetAdvancedConfig, SetConfig,
};

use super::spec::{SimDeviceSpec, SimKind, SimulatedProduct};

/// Total turning range a calibrated lock reports (read-only in Advanced Config).
const TOTAL_DEGREES: u16 = 540;
const MAX_LED_BRIGHTNESS: u8 = 5;
const LAST_TIMEZONE_ID: u16 = 45;

/// Why a settings write was refused (`K_ERROR_BAD_PARAMETER`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("setting {0} is out of range")]
pub(crate) struct BadSetting(pub &'static str);

/// Settings of one device.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    kind: SimKind,
    nuki_id: u32,
    has_fob: bool,
    config_layout_len: usize,
    pub config: SetConfig,
    pub advanced: SetAdvancedConfig,
    /// Keyturner States byte 13: changes whenever a setting changes.
    pub config_update_count: u8,
}

impl Settings {
    pub fn new(spec: &SimDeviceSpec) -> Self {
        let config = if spec.kind.is_opener() {
            SetConfig::Opener(OpenerSetConfig {
                name: spec.name.clone(),
                latitude: 52.52,
                longitude: 13.405,
                capabilities: OpenerCapabilities::Both,
                pairing_enabled: true,
                button_enabled: true,
                led_enabled: true,
                timezone_offset: spec.timezone_offset_minutes,
                dst_mode: DstMode::European,
                fob_action_1: 1,
                fob_action_2: 3,
                fob_action_3: 0,
                operating_mode: OperatingMode::GenericDoorOpener,
                advertising_mode: AdvertisingMode::Automatic,
                timezone_id: TimeZoneId::from_u16(spec.timezone_id),
            })
        } else {
            SetConfig::Lock(LockSetConfig {
                name: spec.name.clone(),
                latitude: 52.52,
                longitude: 13.405,
                auto_unlatch: false,
                pairing_enabled: true,
                button_enabled: true,
                led_enabled: true,
                led_brightness: 3,
                timezone_offset: spec.timezone_offset_minutes,
                dst_mode: DstMode::European,
                fob_action_1: FobAction::Unlock,
                fob_action_2: FobAction::Lock,
                fob_action_3: FobAction::LockNGo,
                single_lock: false,
                advertising_mode: AdvertisingMode::Automatic,
                timezone_id: TimeZoneId::from_u16(spec.timezone_id),
            })
        };
        Self {
            kind: spec.kind,
            nuki_id: spec.nuki_id,
            has_fob: spec.fob,
            config_layout_len: spec.effective_config_layout_len(),
            config,
            advanced: default_advanced(spec.kind),
            config_update_count: 0,
        }
    }

    fn changed(&mut self) {
        self.config_update_count = self.config_update_count.wrapping_add(1);
    }

    pub fn name(&self) -> &str {
        match &self.config {
            SetConfig::Lock(config) => &config.name,
            SetConfig::Opener(config) => &config.name,
        }
    }

    pub fn pairing_enabled(&self) -> bool {
        match &self.config {
            SetConfig::Lock(config) => config.pairing_enabled,
            SetConfig::Opener(config) => config.pairing_enabled,
        }
    }

    pub fn timezone_offset(&self) -> i16 {
        match &self.config {
            SetConfig::Lock(config) => config.timezone_offset,
            SetConfig::Opener(config) => config.timezone_offset,
        }
    }

    pub fn auto_unlatch(&self) -> bool {
        matches!(&self.config, SetConfig::Lock(config) if config.auto_unlatch)
    }

    /// The configured action of fob button 1–3, in the device's action numbering (None when
    /// the fob button does nothing). "Intelligent" unlocks a locked lock and locks otherwise.
    pub fn fob_action(&self, button: u8, locked: bool) -> Option<u8> {
        match &self.config {
            SetConfig::Lock(config) => {
                let action = match button {
                    1 => config.fob_action_1,
                    2 => config.fob_action_2,
                    _ => config.fob_action_3,
                };
                match action {
                    FobAction::Unlock => Some(0x01),
                    FobAction::Lock => Some(0x02),
                    FobAction::LockNGo => Some(0x04),
                    FobAction::Intelligent if locked => Some(0x01),
                    FobAction::Intelligent => Some(0x02),
                    _ => None,
                }
            }
            SetConfig::Opener(config) => {
                let action = match button {
                    1 => config.fob_action_1,
                    2 => config.fob_action_2,
                    _ => config.fob_action_3,
                };
                (action != 0).then_some(action)
            }
        }
    }

    pub fn lock_n_go_wait(&self) -> Duration {
        match &self.advanced {
            SetAdvancedConfig::Lock(settings) => {
                Duration::from_secs(u64::from(settings.lock_n_go_timeout.max(1)))
            }
            SetAdvancedConfig::Opener(_) => Duration::ZERO,
        }
    }

    pub fn unlatch_hold(&self) -> Duration {
        match &self.advanced {
            SetAdvancedConfig::Lock(settings) => {
                Duration::from_secs(u64::from(settings.unlatch_duration.max(1)))
            }
            SetAdvancedConfig::Opener(_) => Duration::ZERO,
        }
    }

    pub fn strike_hold(&self) -> Duration {
        match &self.advanced {
            SetAdvancedConfig::Opener(settings) => {
                Duration::from_millis(u64::from(settings.electric_strike_duration.max(100)))
            }
            SetAdvancedConfig::Lock(_) => Duration::ZERO,
        }
    }

    /// Set Config: validates every field, then replaces the settings.
    pub fn apply_config(&mut self, update: SetConfig) -> Result<(), BadSetting> {
        match (&self.config, &update) {
            (SetConfig::Lock(_), SetConfig::Lock(new)) => validate_lock_config(new)?,
            (SetConfig::Opener(_), SetConfig::Opener(new)) => validate_opener_config(new)?,
            _ => return Err(BadSetting("layout")),
        }
        self.config = update;
        self.changed();
        Ok(())
    }

    /// Set Advanced Config. Fields a shorter layout leaves out keep their values.
    pub fn apply_advanced(&mut self, update: SetAdvancedConfig) -> Result<(), BadSetting> {
        match (&mut self.advanced, update) {
            (SetAdvancedConfig::Lock(current), SetAdvancedConfig::Lock(new)) => {
                validate_lock_advanced(&new)?;
                *current = merge_lock_advanced(current, new);
            }
            (SetAdvancedConfig::Opener(current), SetAdvancedConfig::Opener(new)) => {
                validate_opener_advanced(&new)?;
                *current = new;
            }
            _ => return Err(BadSetting("layout")),
        }
        self.changed();
        Ok(())
    }

    pub fn firmware(&self) -> FirmwareVersion {
        firmware(self.kind)
    }

    /// Config 0x0015 in the layout length of the simulated firmware.
    pub fn config(&self, now: DateTime, has_keypad: bool) -> Config {
        let firmware = firmware(self.kind);
        let hardware = hardware(self.kind);
        match &self.config {
            SetConfig::Lock(c) => {
                let len = self.config_layout_len;
                let extra = len.saturating_sub(LockConfig::OFFICIAL_LEN);
                let present = |position: usize| extra > position;
                Config::Lock(LockConfig {
                    nuki_id: self.nuki_id,
                    name: c.name.clone(),
                    latitude: c.latitude,
                    longitude: c.longitude,
                    auto_unlatch: c.auto_unlatch,
                    pairing_enabled: c.pairing_enabled,
                    button_enabled: c.button_enabled,
                    led_enabled: c.led_enabled,
                    led_brightness: c.led_brightness,
                    current_time: now,
                    timezone_offset: c.timezone_offset,
                    dst_mode: c.dst_mode,
                    has_fob: self.has_fob,
                    fob_action_1: c.fob_action_1,
                    fob_action_2: c.fob_action_2,
                    fob_action_3: c.fob_action_3,
                    single_lock: c.single_lock,
                    advertising_mode: c.advertising_mode,
                    has_keypad,
                    firmware_version: firmware,
                    hardware_revision: hardware,
                    // Smart Lock 1.0/2.0 firmware ends after the hardware revision (71
                    // bytes) or the HomeKit status (72).
                    homekit_status: (len > LockConfig::MIN_LEN)
                        .then_some(HomeKitStatus::NotAvailable),
                    timezone_id: (len >= LockConfig::OFFICIAL_LEN).then_some(c.timezone_id),
                    device_type: present(0).then(|| self.kind.config_device_type()),
                    capabilities: present(1).then_some(0x01),
                    has_keypad_v2: present(2).then_some(false),
                    matter_status: present(3).then_some(0),
                    product_variant: present(4).then_some(0),
                })
            }
            SetConfig::Opener(c) => Config::Opener(OpenerConfig {
                nuki_id: self.nuki_id,
                name: c.name.clone(),
                latitude: c.latitude,
                longitude: c.longitude,
                capabilities: c.capabilities,
                pairing_enabled: c.pairing_enabled,
                button_enabled: c.button_enabled,
                led_enabled: c.led_enabled,
                current_time: now,
                timezone_offset: c.timezone_offset,
                dst_mode: c.dst_mode,
                has_fob: self.has_fob,
                fob_action_1: c.fob_action_1,
                fob_action_2: c.fob_action_2,
                fob_action_3: c.fob_action_3,
                operating_mode: c.operating_mode,
                advertising_mode: c.advertising_mode,
                has_keypad,
                firmware_version: firmware,
                hardware_revision: hardware,
                timezone_id: c.timezone_id,
                has_keypad_v2: (self.config_layout_len > OpenerConfig::MIN_LEN).then_some(false),
            }),
        }
    }

    pub fn advanced_config(&self) -> AdvancedConfig {
        match &self.advanced {
            SetAdvancedConfig::Lock(settings) => AdvancedConfig::Lock(LockAdvancedConfig {
                total_degrees: TOTAL_DEGREES,
                settings: settings.clone(),
            }),
            SetAdvancedConfig::Opener(settings) => AdvancedConfig::Opener(OpenerAdvancedConfig {
                settings: settings.clone(),
                auto_update_enabled: Some(true),
            }),
        }
    }
}

fn firmware(kind: SimKind) -> FirmwareVersion {
    let [major, minor, patch] = kind.firmware_version();
    FirmwareVersion {
        major,
        minor,
        patch,
    }
}

fn hardware(kind: SimKind) -> HardwareRevision {
    let [major, minor] = kind.hardware_revision();
    HardwareRevision { major, minor }
}

fn default_advanced(kind: SimKind) -> SetAdvancedConfig {
    if kind.is_opener() {
        return SetAdvancedConfig::Opener(OpenerAdvancedSettings {
            intercom_id: 0,
            bus_mode_switch: 0,
            short_circuit_duration: 0,
            electric_strike_delay: 0,
            random_electric_strike_delay: false,
            electric_strike_duration: 3000,
            disable_rto_after_ring: true,
            rto_timeout: 20,
            reserved: 0,
            doorbell_suppression: 0,
            doorbell_suppression_duration: 500,
            sound_ring: 1,
            sound_open: 1,
            sound_rto: 1,
            sound_cm: 1,
            sound_confirmation: 1,
            sound_level: 100,
            single_button_press_action: OpenerButtonPressAction::ToggleRto,
            double_button_press_action: OpenerButtonPressAction::Open,
            battery_type: BatteryType::Alkali,
            automatic_battery_type_detection: true,
        });
    }
    // SL 2.0 firmware stops after the nightmode fields; newer models add v2.2 fields and the
    // Ultra its motor speed.
    let v2_2 = !matches!(kind, SimKind::SmartLock2);
    let ultra = kind == SimKind::SmartLockUltra;
    SetAdvancedConfig::Lock(LockAdvancedSettings {
        unlocked_position_offset: 0,
        locked_position_offset: 0,
        single_locked_position_offset: 0,
        unlocked_to_locked_transition_offset: 0,
        lock_n_go_timeout: 20,
        single_button_press_action: ButtonPressAction::Intelligent,
        double_button_press_action: ButtonPressAction::LockNGo,
        detached_cylinder: false,
        battery_type: if kind == SimKind::Box {
            BatteryType::Accumulators
        } else {
            BatteryType::Alkali
        },
        automatic_battery_type_detection: true,
        unlatch_duration: 3,
        auto_lock_timeout: 0,
        auto_unlock_disabled: false,
        nightmode_enabled: false,
        nightmode_start_time: TimeOfDay {
            hour: 22,
            minute: 0,
        },
        nightmode_end_time: TimeOfDay { hour: 6, minute: 0 },
        nightmode_auto_lock_enabled: false,
        nightmode_auto_unlock_disabled: false,
        nightmode_immediate_lock_on_start: false,
        auto_lock_enabled: v2_2.then_some(false),
        immediate_auto_lock_enabled: v2_2.then_some(false),
        auto_update_enabled: v2_2.then_some(true),
        motor_speed: ultra.then_some(MotorSpeed::Standard),
        slow_speed_during_nightmode: ultra.then_some(false),
    })
}

fn merge_lock_advanced(
    current: &LockAdvancedSettings,
    new: LockAdvancedSettings,
) -> LockAdvancedSettings {
    LockAdvancedSettings {
        auto_lock_enabled: new.auto_lock_enabled.or(current.auto_lock_enabled),
        immediate_auto_lock_enabled: new
            .immediate_auto_lock_enabled
            .or(current.immediate_auto_lock_enabled),
        auto_update_enabled: new.auto_update_enabled.or(current.auto_update_enabled),
        motor_speed: new.motor_speed.or(current.motor_speed),
        slow_speed_during_nightmode: new
            .slow_speed_during_nightmode
            .or(current.slow_speed_during_nightmode),
        ..new
    }
}

fn check(ok: bool, field: &'static str) -> Result<(), BadSetting> {
    if ok {
        Ok(())
    } else {
        Err(BadSetting(field))
    }
}

fn valid_coordinates(latitude: f32, longitude: f32) -> bool {
    latitude.is_finite()
        && longitude.is_finite()
        && (-90.0..=90.0).contains(&latitude)
        && (-180.0..=180.0).contains(&longitude)
}

fn valid_timezone(id: TimeZoneId) -> bool {
    let value = id.to_u16();
    value <= LAST_TIMEZONE_ID || value == 0xFFFF
}

fn valid_time(time: &TimeOfDay) -> bool {
    time.hour < 24 && time.minute < 60
}

fn validate_lock_config(c: &LockSetConfig) -> Result<(), BadSetting> {
    check(valid_coordinates(c.latitude, c.longitude), "coordinates")?;
    check(c.led_brightness <= MAX_LED_BRIGHTNESS, "led brightness")?;
    check(!matches!(c.dst_mode, DstMode::Unknown(_)), "dst mode")?;
    for action in [c.fob_action_1, c.fob_action_2, c.fob_action_3] {
        check(!matches!(action, FobAction::Unknown(_)), "fob action")?;
    }
    check(
        !matches!(c.advertising_mode, AdvertisingMode::Unknown(_)),
        "advertising mode",
    )?;
    check(valid_timezone(c.timezone_id), "timezone id")
}

fn validate_opener_config(c: &OpenerSetConfig) -> Result<(), BadSetting> {
    check(valid_coordinates(c.latitude, c.longitude), "coordinates")?;
    check(
        !matches!(c.capabilities, OpenerCapabilities::Unknown(_)),
        "capabilities",
    )?;
    check(!matches!(c.dst_mode, DstMode::Unknown(_)), "dst mode")?;
    for action in [c.fob_action_1, c.fob_action_2, c.fob_action_3] {
        check(action <= 0x05, "fob action")?;
    }
    check(
        !matches!(c.operating_mode, OperatingMode::Unknown(_)),
        "operating mode",
    )?;
    check(
        !matches!(c.advertising_mode, AdvertisingMode::Unknown(_)),
        "advertising mode",
    )?;
    check(valid_timezone(c.timezone_id), "timezone id")
}

fn validate_lock_advanced(s: &LockAdvancedSettings) -> Result<(), BadSetting> {
    for action in [s.single_button_press_action, s.double_button_press_action] {
        check(
            !matches!(action, ButtonPressAction::Unknown(_)),
            "button press action",
        )?;
    }
    check(
        !matches!(s.battery_type, BatteryType::Unknown(_)),
        "battery type",
    )?;
    check(
        valid_time(&s.nightmode_start_time) && valid_time(&s.nightmode_end_time),
        "nightmode time",
    )?;
    check(
        !matches!(s.motor_speed, Some(MotorSpeed::Unknown(_))),
        "motor speed",
    )
}

fn validate_opener_advanced(s: &OpenerAdvancedSettings) -> Result<(), BadSetting> {
    for action in [s.single_button_press_action, s.double_button_press_action] {
        check(
            !matches!(action, OpenerButtonPressAction::Unknown(_)),
            "button press action",
        )?;
    }
    check(
        !matches!(s.battery_type, BatteryType::Unknown(_)),
        "battery type",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nuki::messages::{self, Message};
    use crate::nuki::uuids::ServiceFamily;

    fn encoded_config_len(kind: SimKind, layout: Option<usize>) -> usize {
        let mut spec = SimDeviceSpec::new("a", "Door", 1, kind);
        spec.config_layout_len = layout;
        let settings = Settings::new(&spec);
        let message = Message::Config(settings.config(DateTime::default(), false));
        messages::encode(&message, kind.service_family(), None).len()
    }

    #[test]
    fn config_layout_lengths_follow_the_spec() {
        assert_eq!(encoded_config_len(SimKind::SmartLock2, None), 74);
        assert_eq!(encoded_config_len(SimKind::SmartLock4, None), 79);
        assert_eq!(encoded_config_len(SimKind::SmartLock4, Some(76)), 76);
        assert_eq!(encoded_config_len(SimKind::SmartLock2, Some(71)), 71);
        assert_eq!(encoded_config_len(SimKind::SmartLock2, Some(72)), 72);
        assert_eq!(encoded_config_len(SimKind::Opener, None), 73);
        assert_eq!(encoded_config_len(SimKind::Opener, Some(72)), 72);
    }

    #[test]
    fn set_config_validates_and_counts() {
        let spec = SimDeviceSpec::new("a", "Door", 1, SimKind::SmartLock4);
        let mut settings = Settings::new(&spec);
        let SetConfig::Lock(mut config) = settings.config.clone() else {
            panic!("lock layout expected");
        };
        config.led_brightness = 9;
        assert_eq!(
            settings.apply_config(SetConfig::Lock(config.clone())),
            Err(BadSetting("led brightness"))
        );
        assert_eq!(settings.config_update_count, 0);
        config.led_brightness = 5;
        config.name = "Renamed".into();
        settings.apply_config(SetConfig::Lock(config)).unwrap();
        assert_eq!(settings.name(), "Renamed");
        assert_eq!(settings.config_update_count, 1);
    }

    #[test]
    fn advanced_config_keeps_fields_a_short_layout_omits() {
        let spec = SimDeviceSpec::new("a", "Door", 1, SimKind::SmartLockUltra);
        let mut settings = Settings::new(&spec);
        let SetAdvancedConfig::Lock(mut short) = settings.advanced.clone() else {
            panic!("lock layout expected");
        };
        short.motor_speed = None;
        short.slow_speed_during_nightmode = None;
        short.lock_n_go_timeout = 5;
        settings
            .apply_advanced(SetAdvancedConfig::Lock(short))
            .unwrap();
        let AdvancedConfig::Lock(reported) = settings.advanced_config() else {
            panic!("lock layout expected");
        };
        assert_eq!(reported.settings.motor_speed, Some(MotorSpeed::Standard));
        assert_eq!(settings.lock_n_go_wait(), Duration::from_secs(5));
        let encoded = messages::encode(
            &Message::AdvancedConfig(settings.advanced_config()),
            ServiceFamily::Ultra,
            None,
        );
        assert_eq!(encoded.len(), 33);
    }
}
