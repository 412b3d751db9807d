//! Property tests: every message round-trips through encode/decode in every family, decoding
//! never panics, and requests of the wrong length are refused.

use std::collections::BTreeSet;

use proptest::prelude::*;
use proptest::strategy::{Union, ValueTree};
use proptest::test_runner::TestRunner;

use nuki_edge::nuki::codec::{DateTime, DecodeError, TimeOfDay};
use nuki_edge::nuki::command::CommandId;
use nuki_edge::nuki::crypto::SharedKey;
use nuki_edge::nuki::enums::*;
use nuki_edge::nuki::messages::*;
use nuki_edge::nuki::uuids::ServiceFamily;

const FAMILIES: [ServiceFamily; 3] = [
    ServiceFamily::Keyturner,
    ServiceFamily::Ultra,
    ServiceFamily::Opener,
];

// ---- field strategies ----

fn family() -> impl Strategy<Value = ServiceFamily> {
    proptest::sample::select(FAMILIES.to_vec())
}

fn date_time() -> impl Strategy<Value = DateTime> {
    (
        any::<u16>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
        any::<u8>(),
    )
        .prop_map(|(year, month, day, hour, minute, second)| DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
}

fn time_of_day() -> impl Strategy<Value = TimeOfDay> {
    (any::<u8>(), any::<u8>()).prop_map(|(hour, minute)| TimeOfDay { hour, minute })
}

/// Names that fit `width` bytes (some characters take two bytes) and contain no NUL.
fn name(width: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!("[a-zA-Z0-9 ()_äöüß-]{{0,{}}}", width / 2)).unwrap()
}

fn coordinate() -> impl Strategy<Value = f32> {
    -180.0f32..180.0
}

fn weekdays() -> impl Strategy<Value = Weekdays> {
    any::<u8>().prop_map(Weekdays)
}

fn window() -> impl Strategy<Value = AllowedWindow> {
    (
        date_time(),
        date_time(),
        weekdays(),
        time_of_day(),
        time_of_day(),
    )
        .prop_map(
            |(from_date, until_date, weekdays, from_time, until_time)| AllowedWindow {
                from_date,
                until_date,
                weekdays,
                from_time,
                until_time,
            },
        )
}

fn action(family: ServiceFamily) -> impl Strategy<Value = DeviceAction> {
    any::<u8>().prop_map(move |value| DeviceAction::from_u8(value, family))
}

fn pin(family: ServiceFamily) -> impl Strategy<Value = SecurityPin> {
    any::<u32>().prop_map(move |value| {
        if family.pin_is_wide() {
            SecurityPin::Long(value)
        } else {
            SecurityPin::Short(value as u16)
        }
    })
}

fn any_width_pin() -> impl Strategy<Value = SecurityPin> {
    prop_oneof![
        any::<u16>().prop_map(SecurityPin::Short),
        any::<u32>().prop_map(SecurityPin::Long),
    ]
}

fn firmware() -> impl Strategy<Value = FirmwareVersion> {
    any::<[u8; 3]>().prop_map(|[major, minor, patch]| FirmwareVersion {
        major,
        minor,
        patch,
    })
}

fn hardware() -> impl Strategy<Value = HardwareRevision> {
    any::<[u8; 2]>().prop_map(|[major, minor]| HardwareRevision { major, minor })
}

/// `count` optional trailing values where only a prefix is present.
fn present_prefix<T: Copy>(values: &[T], present: usize) -> Vec<Option<T>> {
    values
        .iter()
        .enumerate()
        .map(|(index, value)| (index < present).then_some(*value))
        .collect()
}

// ---- payload strategies ----

fn keyturner_states(family: ServiceFamily) -> impl Strategy<Value = KeyturnerStates> {
    (
        (
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            date_time(),
            any::<i16>(),
        ),
        (any::<u8>(), any::<u8>(), any::<u8>()),
        (any::<[u8; 12]>(), 0usize..=12),
    )
        .prop_map(
            move |(
                (nuki_state, lock_state, trigger, current_time, timezone_offset),
                (battery_state, config_update_count, lock_n_go_timer),
                (trailing, present),
            )| {
                let t = present_prefix(&trailing, present);
                // The Opener keeps bytes 19–24 raw and has its accessory byte at 25.
                let opener = family.is_opener();
                let lock_only = |index: usize| if opener { None } else { t[index] };
                let opener_unused = if opener {
                    trailing[4..present.clamp(4, 10)].to_vec()
                } else {
                    Vec::new()
                };
                KeyturnerStates {
                    nuki_state: NukiState::from_u8(nuki_state),
                    lock_state: DeviceLockState::from_u8(lock_state, family),
                    trigger: Trigger::from_u8(trigger),
                    current_time,
                    timezone_offset,
                    battery_state,
                    config_update_count,
                    lock_n_go_timer,
                    last_lock_action: t[0].map(|b| DeviceAction::from_u8(b, family)),
                    last_lock_action_trigger: t[1].map(Trigger::from_u8),
                    last_lock_action_completion_status: t[2].map(CompletionStatus::from_u8),
                    door_sensor_state: t[3].map(DoorSensorState::from_u8),
                    nightmode_active: lock_only(4).map(|b| b & 1 == 1),
                    accessory_battery_state: if opener { t[10] } else { t[5] },
                    remote_access_status: lock_only(6),
                    ble_strength: lock_only(7).map(|b| b as i8),
                    wifi_strength: lock_only(8).map(|b| b as i8),
                    wifi_status: lock_only(9),
                    mqtt_status: lock_only(10),
                    thread_status: lock_only(11),
                    opener_unused,
                }
            },
        )
}

fn lock_config() -> impl Strategy<Value = Config> {
    (
        (
            any::<u32>(),
            name(32),
            coordinate(),
            coordinate(),
            any::<[bool; 4]>(),
        ),
        (
            any::<u8>(),
            date_time(),
            any::<i16>(),
            any::<u8>(),
            any::<bool>(),
        ),
        (any::<[u8; 3]>(), any::<bool>(), any::<u8>(), any::<bool>()),
        (firmware(), hardware(), any::<u8>(), any::<u16>()),
        // 0: ends after the hardware revision, 1: after HomeKit, 2: official, then newer.
        (any::<[u8; 5]>(), 0usize..=7),
    )
        .prop_map(
            |(
                (nuki_id, name, latitude, longitude, flags),
                (led_brightness, current_time, timezone_offset, dst, has_fob),
                (fobs, single_lock, advertising, has_keypad),
                (firmware_version, hardware_revision, homekit, timezone),
                (trailing, present),
            )| {
                let t = present_prefix(&trailing, present.saturating_sub(2));
                Config::Lock(LockConfig {
                    nuki_id,
                    name,
                    latitude,
                    longitude,
                    auto_unlatch: flags[0],
                    pairing_enabled: flags[1],
                    button_enabled: flags[2],
                    led_enabled: flags[3],
                    led_brightness,
                    current_time,
                    timezone_offset,
                    dst_mode: DstMode::from_u8(dst),
                    has_fob,
                    fob_action_1: FobAction::from_u8(fobs[0]),
                    fob_action_2: FobAction::from_u8(fobs[1]),
                    fob_action_3: FobAction::from_u8(fobs[2]),
                    single_lock,
                    advertising_mode: AdvertisingMode::from_u8(advertising),
                    has_keypad,
                    firmware_version,
                    hardware_revision,
                    homekit_status: (present >= 1).then(|| HomeKitStatus::from_u8(homekit)),
                    timezone_id: (present >= 2).then(|| TimeZoneId::from_u16(timezone)),
                    device_type: t[0].map(DeviceType::from_u8),
                    capabilities: t[1],
                    has_keypad_v2: t[2].map(|b| b & 1 == 1),
                    matter_status: t[3],
                    product_variant: t[4],
                })
            },
        )
}

fn opener_config() -> impl Strategy<Value = Config> {
    (
        (
            any::<u32>(),
            name(32),
            coordinate(),
            coordinate(),
            any::<u8>(),
        ),
        (
            any::<[bool; 3]>(),
            date_time(),
            any::<i16>(),
            any::<u8>(),
            any::<bool>(),
        ),
        (any::<[u8; 3]>(), any::<u8>(), any::<u8>(), any::<bool>()),
        (
            firmware(),
            hardware(),
            any::<u16>(),
            proptest::option::of(any::<bool>()),
        ),
    )
        .prop_map(
            |(
                (nuki_id, name, latitude, longitude, capabilities),
                (flags, current_time, timezone_offset, dst, has_fob),
                (fobs, operating_mode, advertising, has_keypad),
                (firmware_version, hardware_revision, timezone, has_keypad_v2),
            )| {
                Config::Opener(OpenerConfig {
                    nuki_id,
                    name,
                    latitude,
                    longitude,
                    capabilities: OpenerCapabilities::from_u8(capabilities),
                    pairing_enabled: flags[0],
                    button_enabled: flags[1],
                    led_enabled: flags[2],
                    current_time,
                    timezone_offset,
                    dst_mode: DstMode::from_u8(dst),
                    has_fob,
                    fob_action_1: fobs[0],
                    fob_action_2: fobs[1],
                    fob_action_3: fobs[2],
                    operating_mode: OperatingMode::from_u8(operating_mode),
                    advertising_mode: AdvertisingMode::from_u8(advertising),
                    has_keypad,
                    firmware_version,
                    hardware_revision,
                    timezone_id: TimeZoneId::from_u16(timezone),
                    has_keypad_v2,
                })
            },
        )
}

fn set_config(family: ServiceFamily) -> BoxedStrategy<SetConfig> {
    let common = (
        name(32),
        coordinate(),
        coordinate(),
        any::<[bool; 4]>(),
        any::<u8>(),
        any::<i16>(),
        any::<u8>(),
        any::<[u8; 3]>(),
        any::<u8>(),
        any::<u8>(),
        any::<u16>(),
    );
    if family.is_opener() {
        common
            .prop_map(
                |(
                    name,
                    latitude,
                    longitude,
                    flags,
                    capabilities,
                    offset,
                    dst,
                    fobs,
                    mode,
                    adv,
                    tz,
                )| {
                    SetConfig::Opener(OpenerSetConfig {
                        name,
                        latitude,
                        longitude,
                        capabilities: OpenerCapabilities::from_u8(capabilities),
                        pairing_enabled: flags[0],
                        button_enabled: flags[1],
                        led_enabled: flags[2],
                        timezone_offset: offset,
                        dst_mode: DstMode::from_u8(dst),
                        fob_action_1: fobs[0],
                        fob_action_2: fobs[1],
                        fob_action_3: fobs[2],
                        operating_mode: OperatingMode::from_u8(mode),
                        advertising_mode: AdvertisingMode::from_u8(adv),
                        timezone_id: TimeZoneId::from_u16(tz),
                    })
                },
            )
            .boxed()
    } else {
        common
            .prop_map(
                |(
                    name,
                    latitude,
                    longitude,
                    flags,
                    brightness,
                    offset,
                    dst,
                    fobs,
                    single,
                    adv,
                    tz,
                )| {
                    SetConfig::Lock(LockSetConfig {
                        name,
                        latitude,
                        longitude,
                        auto_unlatch: flags[0],
                        pairing_enabled: flags[1],
                        button_enabled: flags[2],
                        led_enabled: flags[3],
                        led_brightness: brightness,
                        timezone_offset: offset,
                        dst_mode: DstMode::from_u8(dst),
                        fob_action_1: FobAction::from_u8(fobs[0]),
                        fob_action_2: FobAction::from_u8(fobs[1]),
                        fob_action_3: FobAction::from_u8(fobs[2]),
                        single_lock: single & 1 == 1,
                        advertising_mode: AdvertisingMode::from_u8(adv),
                        timezone_id: TimeZoneId::from_u16(tz),
                    })
                },
            )
            .boxed()
    }
}

fn lock_advanced_settings() -> impl Strategy<Value = LockAdvancedSettings> {
    (
        any::<[i16; 4]>(),
        (
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
            any::<u8>(),
        ),
        (
            any::<u16>(),
            any::<[bool; 6]>(),
            time_of_day(),
            time_of_day(),
        ),
        (any::<[bool; 3]>(), any::<u8>(), any::<bool>(), 0usize..=2),
    )
        .prop_map(
            |(
                offsets,
                (lock_n_go_timeout, single, double, battery, unlatch_duration),
                (auto_lock_timeout, flags, start, end),
                (v2_2, speed, slow, groups),
            )| LockAdvancedSettings {
                unlocked_position_offset: offsets[0],
                locked_position_offset: offsets[1],
                single_locked_position_offset: offsets[2],
                unlocked_to_locked_transition_offset: offsets[3],
                lock_n_go_timeout,
                single_button_press_action: ButtonPressAction::from_u8(single),
                double_button_press_action: ButtonPressAction::from_u8(double),
                detached_cylinder: flags[0],
                battery_type: BatteryType::from_u8(battery),
                automatic_battery_type_detection: flags[1],
                unlatch_duration,
                auto_lock_timeout,
                auto_unlock_disabled: flags[2],
                nightmode_enabled: flags[3],
                nightmode_start_time: start,
                nightmode_end_time: end,
                nightmode_auto_lock_enabled: flags[4],
                nightmode_auto_unlock_disabled: flags[5],
                nightmode_immediate_lock_on_start: v2_2[0] ^ v2_2[1],
                auto_lock_enabled: (groups >= 1).then_some(v2_2[0]),
                immediate_auto_lock_enabled: (groups >= 1).then_some(v2_2[1]),
                auto_update_enabled: (groups >= 1).then_some(v2_2[2]),
                motor_speed: (groups >= 2).then_some(MotorSpeed::from_u8(speed)),
                slow_speed_during_nightmode: (groups >= 2).then_some(slow),
            },
        )
}

fn opener_advanced_settings() -> impl Strategy<Value = OpenerAdvancedSettings> {
    (
        (
            any::<u16>(),
            any::<u8>(),
            any::<[u16; 3]>(),
            any::<[bool; 4]>(),
        ),
        (any::<u8>(), any::<u8>(), any::<u8>(), any::<u16>()),
        (any::<[u8; 6]>(), any::<[u8; 3]>()),
    )
        .prop_map(
            |(
                (intercom_id, bus_mode_switch, durations, flags),
                (rto_timeout, reserved, doorbell_suppression, suppression_duration),
                (sounds, actions),
            )| OpenerAdvancedSettings {
                intercom_id,
                bus_mode_switch,
                short_circuit_duration: durations[0],
                electric_strike_delay: durations[1],
                random_electric_strike_delay: flags[0],
                electric_strike_duration: durations[2],
                disable_rto_after_ring: flags[1],
                rto_timeout,
                reserved,
                doorbell_suppression,
                doorbell_suppression_duration: suppression_duration,
                sound_ring: sounds[0],
                sound_open: sounds[1],
                sound_rto: sounds[2],
                sound_cm: sounds[3],
                sound_confirmation: sounds[4],
                sound_level: sounds[5],
                single_button_press_action: OpenerButtonPressAction::from_u8(actions[0]),
                double_button_press_action: OpenerButtonPressAction::from_u8(actions[1]),
                battery_type: BatteryType::from_u8(actions[2]),
                automatic_battery_type_detection: flags[2] && flags[3],
            },
        )
}

fn advanced_config(family: ServiceFamily) -> BoxedStrategy<Message> {
    if family.is_opener() {
        (
            opener_advanced_settings(),
            proptest::option::of(any::<bool>()),
        )
            .prop_map(|(settings, auto_update_enabled)| {
                Message::AdvancedConfig(AdvancedConfig::Opener(OpenerAdvancedConfig {
                    settings,
                    auto_update_enabled,
                }))
            })
            .boxed()
    } else {
        (any::<u16>(), lock_advanced_settings())
            .prop_map(|(total_degrees, settings)| {
                Message::AdvancedConfig(AdvancedConfig::Lock(LockAdvancedConfig {
                    total_degrees,
                    settings,
                }))
            })
            .boxed()
    }
}

fn set_advanced_config(family: ServiceFamily) -> BoxedStrategy<Message> {
    if family.is_opener() {
        opener_advanced_settings()
            .prop_map(|settings| Message::SetAdvancedConfig(SetAdvancedConfig::Opener(settings)))
            .boxed()
    } else {
        lock_advanced_settings()
            .prop_map(|settings| Message::SetAdvancedConfig(SetAdvancedConfig::Lock(settings)))
            .boxed()
    }
}

fn battery_report(family: ServiceFamily) -> impl Strategy<Value = Message> {
    (
        any::<[u16; 2]>(),
        any::<u8>(),
        action(family),
        any::<[u16; 3]>(),
        any::<i8>(),
        any::<[u16; 2]>(),
    )
        .prop_map(
            |(first, battery_state, lock_action, voltages, temperature, last)| {
                Message::BatteryReport(BatteryReport {
                    battery_drain: first[0],
                    battery_voltage: first[1],
                    battery_state,
                    lock_action,
                    start_voltage: voltages[0],
                    lowest_voltage: voltages[1],
                    lock_distance: voltages[2],
                    start_temperature: temperature,
                    max_turn_current: last[0],
                    battery_resistance: last[1],
                })
            },
        )
}

fn log_data(family: ServiceFamily) -> BoxedStrategy<(LogEntryType, LogData)> {
    let completion = || any::<u8>().prop_map(CompletionStatus::from_u8);
    let door = if family.is_opener() {
        (
            any::<[u8; 3]>(),
            any::<[bool; 2]>(),
            completion(),
            any::<u16>(),
        )
            .prop_map(|(bytes, flags, completion_status, code_id)| {
                (
                    LogEntryType::DoorSensor,
                    LogData::DoorbellRecognition {
                        mode: bytes[0],
                        source: bytes[1],
                        geofence: flags[0],
                        doorbell_suppression: flags[1],
                        sound_id: bytes[2],
                        completion_status,
                        code_id,
                    },
                )
            })
            .boxed()
    } else {
        any::<u8>()
            .prop_map(|event| {
                (
                    LogEntryType::DoorSensor,
                    LogData::DoorSensor {
                        event: DoorSensorEvent::from_u8(event),
                    },
                )
            })
            .boxed()
    };
    prop_oneof![
        (
            prop_oneof![
                Just(LogEntryType::LoggingEnabled),
                Just(LogEntryType::DoorSensorLogging)
            ],
            any::<bool>()
        )
            .prop_map(|(kind, enabled)| (kind, LogData::Enabled { enabled })),
        (
            prop_oneof![
                Just(LogEntryType::LockAction),
                Just(LogEntryType::Calibration),
                Just(LogEntryType::InitializationRun)
            ],
            action(family),
            any::<[u8; 2]>(),
            completion()
        )
            .prop_map(|(kind, action, bytes, completion_status)| (
                kind,
                LogData::LockAction {
                    action,
                    trigger: Trigger::from_u8(bytes[0]),
                    flags: bytes[1],
                    completion_status,
                }
            )),
        (action(family), any::<u8>(), completion(), any::<u16>()).prop_map(
            |(action, source, completion_status, code_id)| (
                LogEntryType::KeypadAction,
                LogData::KeypadAction {
                    action,
                    source: KeypadSource::from_u8(source),
                    completion_status,
                    code_id,
                }
            )
        ),
        door,
        firmware().prop_map(|version| (
            LogEntryType::FirmwareUpdate,
            LogData::FirmwareUpdate { version }
        )),
        (
            any::<u8>().prop_filter("unknown type", |value| matches!(
                LogEntryType::from_u8(*value),
                LogEntryType::Unknown(_)
            )),
            proptest::collection::vec(any::<u8>(), 0..12)
        )
            .prop_map(|(kind, bytes)| (LogEntryType::from_u8(kind), LogData::Raw { bytes })),
    ]
    .boxed()
}

fn log_entry(family: ServiceFamily) -> impl Strategy<Value = Message> {
    (
        any::<u32>(),
        date_time(),
        any::<u32>(),
        name(32),
        log_data(family),
    )
        .prop_map(
            |(index, timestamp, auth_id, auth_name, (entry_type, data))| {
                Message::LogEntry(LogEntry {
                    index,
                    timestamp,
                    auth_id,
                    auth_name,
                    entry_type,
                    data,
                })
            },
        )
}

fn authorization_entry() -> impl Strategy<Value = Message> {
    (
        (any::<u32>(), any::<u8>(), name(32), any::<[bool; 3]>()),
        (date_time(), date_time(), any::<u16>()),
        proptest::option::of(window()),
    )
        .prop_map(
            |((auth_id, id_type, name, flags), (created, last_active, lock_count), allowed)| {
                Message::AuthorizationEntry(AuthorizationEntry {
                    auth_id,
                    id_type: IdType::from_u8(id_type),
                    name,
                    enabled: flags[0],
                    remote_allowed: flags[1],
                    created,
                    last_active,
                    lock_count,
                    time_limited: flags[2],
                    allowed,
                })
            },
        )
}

fn keypad_code() -> impl Strategy<Value = Message> {
    (
        (any::<u16>(), any::<u32>(), name(20), any::<[bool; 2]>()),
        (date_time(), date_time(), any::<u16>()),
        proptest::option::of(window()),
    )
        .prop_map(
            |((code_id, code, name, flags), (created, last_active, lock_count), allowed)| {
                Message::KeypadCode(KeypadCode {
                    code_id,
                    code: AccessCode(code),
                    name,
                    enabled: flags[0],
                    created,
                    last_active,
                    lock_count,
                    time_limited: flags[1],
                    allowed,
                })
            },
        )
}

fn time_control_entry(family: ServiceFamily) -> impl Strategy<Value = TimeControlEntry> {
    (
        any::<u8>(),
        any::<bool>(),
        weekdays(),
        time_of_day(),
        action(family),
    )
        .prop_map(
            |(entry_id, enabled, weekdays, time, action)| TimeControlEntry {
                entry_id,
                enabled,
                weekdays,
                time,
                action,
            },
        )
}

/// Every variant of [`Message`] with arbitrary field values, in the layouts of `family`.
fn message(family: ServiceFamily) -> BoxedStrategy<Message> {
    let bytes32 = || any::<[u8; 32]>();
    let arms: Vec<BoxedStrategy<Message>> = vec![
        (any::<u16>(), proptest::collection::vec(any::<u8>(), 0..6))
            .prop_map(|(command, extra)| Message::RequestData {
                command: CommandId::from_u16(command),
                extra,
            })
            .boxed(),
        bytes32().prop_map(Message::PublicKey).boxed(),
        bytes32().prop_map(Message::Challenge).boxed(),
        bytes32()
            .prop_map(Message::AuthorizationAuthenticator)
            .boxed(),
        (bytes32(), any::<u8>(), any::<u32>(), name(32), bytes32())
            .prop_map(|(authenticator, id_type, app_id, name, nonce)| {
                Message::AuthorizationData(AuthorizationData {
                    authenticator,
                    id_type: IdType::from_u8(id_type),
                    app_id,
                    name,
                    nonce,
                })
            })
            .boxed(),
        (any::<u32>(), name(32), any_width_pin())
            .prop_map(|(app_id, name, pin)| {
                Message::AuthorizationDataUltra(AuthorizationDataUltra { app_id, name, pin })
            })
            .boxed(),
        (bytes32(), any::<u32>(), any::<[u8; 16]>(), bytes32())
            .prop_map(|(authenticator, auth_id, uuid, nonce)| {
                Message::AuthorizationId(AuthorizationId {
                    authenticator,
                    auth_id,
                    uuid,
                    nonce,
                })
            })
            .boxed(),
        (any::<u32>(), any::<[u8; 16]>())
            .prop_map(|(auth_id, uuid)| {
                Message::AuthorizationIdUltra(AuthorizationIdUltra { auth_id, uuid })
            })
            .boxed(),
        (bytes32(), any::<u32>())
            .prop_map(
                |(authenticator, auth_id)| Message::AuthorizationIdConfirmation {
                    authenticator,
                    auth_id,
                },
            )
            .boxed(),
        any::<u8>().prop_map(Message::AuthorizationInfo).boxed(),
        any::<u8>()
            .prop_map(|value| Message::Status(StatusCode::from_u8(value)))
            .boxed(),
        (any::<u8>(), any::<u16>())
            .prop_map(|(code, command)| Message::ErrorReport {
                code: ErrorCode::from_u8(code),
                command: CommandId::from_u16(command),
            })
            .boxed(),
        keyturner_states(family)
            .prop_map(Message::KeyturnerStates)
            .boxed(),
        (
            action(family),
            any::<u32>(),
            any::<u8>(),
            proptest::option::of(name(20)),
        )
            .prop_map(|(action, app_id, flags, name_suffix)| Message::LockAction {
                action,
                app_id,
                flags,
                name_suffix,
            })
            .boxed(),
        action(family)
            .prop_map(|action| Message::SimpleLockAction { action })
            .boxed(),
        if family.is_opener() {
            opener_config().prop_map(Message::Config).boxed()
        } else {
            lock_config().prop_map(Message::Config).boxed()
        },
        set_config(family).prop_map(Message::SetConfig).boxed(),
        Just(Message::RequestConfig).boxed(),
        advanced_config(family),
        set_advanced_config(family),
        Just(Message::RequestAdvancedConfig).boxed(),
        battery_report(family).boxed(),
        log_entry(family).boxed(),
        (
            any::<bool>(),
            any::<u16>(),
            any::<bool>(),
            proptest::option::of(any::<bool>()),
        )
            .prop_map(
                |(logging_enabled, count, door_sensor_enabled, door_sensor_logging_enabled)| {
                    Message::LogEntryCount(LogEntryCount {
                        logging_enabled,
                        count,
                        door_sensor_enabled,
                        door_sensor_logging_enabled,
                    })
                },
            )
            .boxed(),
        (any::<u32>(), any::<u16>(), any::<u8>(), any::<bool>())
            .prop_map(
                |(start_index, count, order, total_count)| Message::RequestLogEntries {
                    start_index,
                    count,
                    sort_order: SortOrder::from_u8(order),
                    total_count,
                },
            )
            .boxed(),
        any::<bool>()
            .prop_map(|enabled| Message::EnableLogging { enabled })
            .boxed(),
        authorization_entry().boxed(),
        any::<u16>()
            .prop_map(|count| Message::AuthorizationEntryCount { count })
            .boxed(),
        (any::<u16>(), any::<u16>())
            .prop_map(|(offset, count)| Message::RequestAuthorizationEntries { offset, count })
            .boxed(),
        (
            name(32),
            any::<u8>(),
            bytes32(),
            any::<[bool; 2]>(),
            window(),
        )
            .prop_map(|(name, id_type, key, flags, allowed)| {
                Message::AuthorizationDataInvite(AuthorizationInvite {
                    name,
                    id_type: IdType::from_u8(id_type),
                    shared_key: SharedKey::from_bytes(key),
                    remote_allowed: flags[0],
                    time_limited: flags[1],
                    allowed,
                })
            })
            .boxed(),
        (any::<u32>(), date_time())
            .prop_map(|(auth_id, created)| Message::AuthorizationIdInvite { auth_id, created })
            .boxed(),
        (any::<u32>(), name(32), any::<[bool; 3]>(), window())
            .prop_map(|(auth_id, name, flags, allowed)| {
                Message::UpdateUserAuthorization(UserAuthorizationUpdate {
                    auth_id,
                    name,
                    enabled: flags[0],
                    remote_allowed: flags[1],
                    time_limited: flags[2],
                    allowed,
                })
            })
            .boxed(),
        any::<u32>()
            .prop_map(|auth_id| Message::RemoveUserAuthorization { auth_id })
            .boxed(),
        keypad_code().boxed(),
        any::<u16>()
            .prop_map(|count| Message::KeypadCodeCount { count })
            .boxed(),
        (any::<u16>(), date_time())
            .prop_map(|(code_id, created)| Message::KeypadCodeId { code_id, created })
            .boxed(),
        (any::<u32>(), name(20), any::<bool>(), window())
            .prop_map(|(code, name, time_limited, allowed)| {
                Message::AddKeypadCode(NewKeypadCode {
                    code: AccessCode(code),
                    name,
                    time_limited,
                    allowed,
                })
            })
            .boxed(),
        (
            any::<u16>(),
            any::<u32>(),
            name(20),
            any::<[bool; 2]>(),
            window(),
        )
            .prop_map(|(code_id, code, name, flags, allowed)| {
                Message::UpdateKeypadCode(KeypadCodeUpdate {
                    code_id,
                    code: AccessCode(code),
                    name,
                    enabled: flags[0],
                    time_limited: flags[1],
                    allowed,
                })
            })
            .boxed(),
        any::<u16>()
            .prop_map(|code_id| Message::RemoveKeypadCode { code_id })
            .boxed(),
        (any::<u16>(), any::<u16>())
            .prop_map(|(offset, count)| Message::RequestKeypadCodes { offset, count })
            .boxed(),
        (any::<u8>(), any::<u32>(), any::<u8>())
            .prop_map(|(source, code, action)| Message::KeypadAction {
                source: KeypadSource::from_u8(source),
                code: AccessCode(code),
                action: KeypadActionKind::from_u8(action),
            })
            .boxed(),
        time_control_entry(family)
            .prop_map(Message::TimeControlEntry)
            .boxed(),
        any::<u8>()
            .prop_map(|count| Message::TimeControlEntryCount { count })
            .boxed(),
        any::<u8>()
            .prop_map(|entry_id| Message::TimeControlEntryId { entry_id })
            .boxed(),
        (weekdays(), time_of_day(), action(family))
            .prop_map(|(weekdays, time, action)| Message::AddTimeControlEntry {
                weekdays,
                time,
                action,
            })
            .boxed(),
        time_control_entry(family)
            .prop_map(Message::UpdateTimeControlEntry)
            .boxed(),
        any::<u8>()
            .prop_map(|entry_id| Message::RemoveTimeControlEntry { entry_id })
            .boxed(),
        Just(Message::RequestTimeControlEntries).boxed(),
        pin(family)
            .prop_map(|new_pin| Message::SetSecurityPin { new_pin })
            .boxed(),
        Just(Message::VerifySecurityPin).boxed(),
        Just(Message::RequestCalibration).boxed(),
        Just(Message::RequestReboot).boxed(),
        date_time().prop_map(Message::UpdateTime).boxed(),
        any::<u16>()
            .prop_map(|command| Message::MostRecentCommand {
                command: CommandId::from_u16(command),
            })
            .boxed(),
        any::<[u16; 4]>()
            .prop_map(|counts| {
                Message::OpeningsClosingsSummary(OpeningsClosingsSummary {
                    openings_total: counts[0],
                    closings_total: counts[1],
                    openings_since_boot: counts[2],
                    closings_since_boot: counts[3],
                })
            })
            .boxed(),
        (firmware(), proptest::collection::vec(any::<u8>(), 0..8))
            .prop_map(|(version, unknown)| Message::FirmwareStatus { version, unknown })
            .boxed(),
        (any::<bool>(), any::<u8>())
            .prop_map(|(enabled, timeout)| Message::ContinuousModeAction { enabled, timeout })
            .boxed(),
        Just(Message::StartBusSignalRecording).boxed(),
    ];
    Union::new(arms).boxed()
}

/// The proof a sender attaches to `message` in `family`.
fn proof_for(message: &Message, family: ServiceFamily) -> BoxedStrategy<Option<Proof>> {
    match protection(message.command()) {
        Protection::None => Just(None).boxed(),
        Protection::Challenge => any::<[u8; 32]>()
            .prop_map(|nonce| Some(Proof::challenge(nonce)))
            .boxed(),
        Protection::ChallengeAndPin => (any::<[u8; 32]>(), pin(family))
            .prop_map(|(nonce, pin)| Some(Proof::with_pin(nonce, pin)))
            .boxed(),
    }
}

fn message_with_proof() -> impl Strategy<Value = (ServiceFamily, Message, Option<Proof>)> {
    family()
        .prop_flat_map(|family| (Just(family), message(family)))
        .prop_flat_map(|(family, message)| {
            let proof = proof_for(&message, family);
            (Just(family), Just(message), proof)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn every_message_round_trips((family, message, proof) in message_with_proof()) {
        let payload = encode(&message, family, proof.as_ref());
        let decoded = decode(message.command(), &payload, family)
            .map_err(|error| TestCaseError::fail(format!("{message:?}: {error}")))?;
        prop_assert_eq!(&decoded.message, &message);
        prop_assert_eq!(decoded.proof, proof);
        // JSON output always works and is tagged with the layout name.
        let json = serde_json::to_value(&message).unwrap();
        prop_assert_eq!(json["command"].as_str(), Some(message_name(&message)));
    }

}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(600))]

    #[test]
    fn requests_of_the_wrong_length_are_refused(
        (family, message, proof) in message_with_proof().prop_filter(
            // Request Data carries free-form extra data, so any length is valid.
            "request with a fixed layout",
            |(_, message, _)| {
                !sent_by_device(message.command()) && message.command() != CommandId::RequestData
            },
        ),
        extra in 1u8..=255,
        cut in 1usize..=3,
    ) {
        let command = message.command();
        let payload = encode(&message, family, proof.as_ref());
        let valid = valid_lengths(&message, family);
        let mut longer = payload.clone();
        longer.push(extra);
        prop_assert!(
            valid.contains(&longer.len())
                || matches!(decode(command, &longer, family), Err(DecodeError::BadLength { .. })),
            "{:?} accepted one extra byte", command
        );
        if payload.len() >= cut && !valid.contains(&(payload.len() - cut)) {
            let shorter = &payload[..payload.len() - cut];
            prop_assert!(
                matches!(decode(command, shorter, family), Err(DecodeError::BadLength { .. })),
                "{:?} accepted {} missing byte(s)", command, cut
            );
        }
    }

    #[test]
    fn device_messages_tolerate_trailing_bytes(
        (family, message, _proof) in message_with_proof().prop_filter(
            "lenient device message in its newest layout",
            |(_, message, _)| is_lenient(message.command()) && is_newest_layout(message),
        ),
        padding in proptest::collection::vec(any::<u8>(), 1..8),
    ) {
        let command = message.command();
        let mut payload = encode(&message, family, None);
        payload.extend_from_slice(&padding);
        let decoded = decode(command, &payload, family)
            .map_err(|error| TestCaseError::fail(format!("{message:?}: {error}")))?;
        prop_assert_eq!(decoded.message, message);
    }

    #[test]
    fn decode_never_panics(
        command in proptest::sample::select(CommandId::ALL.to_vec()),
        family in family(),
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
    ) {
        let _ = decode(command, &bytes, family);
        let _ = decode(CommandId::Unknown(command.to_u16() | 0x8000), &bytes, family);
    }
}

/// Fixed crypto layouts and free-form tails are exact; every other device message is lenient.
fn is_lenient(command: CommandId) -> bool {
    sent_by_device(command)
        && !matches!(
            command,
            CommandId::Challenge
                | CommandId::AuthorizationId
                | CommandId::LogEntry
                | CommandId::FirmwareStatus
        )
}

/// Payload lengths that are a valid layout of the message's command in `family` (requests
/// with several published layouts).
fn valid_lengths(message: &Message, family: ServiceFamily) -> Vec<usize> {
    let proof = protection(message.command()).wire_len(family);
    let bodies: &[usize] = match message {
        Message::AuthorizationData(_) | Message::AuthorizationDataUltra(_) => &[101, 40, 38],
        Message::LockAction { .. } => &[6, 26],
        Message::SetAdvancedConfig(SetAdvancedConfig::Lock(_)) => &LockAdvancedSettings::LENGTHS,
        _ => &[],
    };
    bodies.iter().map(|body| body + proof).collect()
}

/// The serde tag of a message: the command name, except for the Ultra pairing layouts.
fn message_name(message: &Message) -> &'static str {
    message.layout_name()
}

/// Whether a device message already has every optional field (so padding is really extra).
fn is_newest_layout(message: &Message) -> bool {
    match message {
        Message::KeyturnerStates(states) => match states.lock_state {
            DeviceLockState::Opener(_) => states.accessory_battery_state.is_some(),
            DeviceLockState::Lock(_) => states.thread_status.is_some(),
        },
        Message::LogEntryCount(count) => count.door_sensor_logging_enabled.is_some(),
        Message::Config(Config::Lock(config)) => config.product_variant.is_some(),
        Message::Config(Config::Opener(config)) => config.has_keypad_v2.is_some(),
        Message::AdvancedConfig(AdvancedConfig::Lock(config)) => {
            config.settings.slow_speed_during_nightmode.is_some()
        }
        Message::AdvancedConfig(AdvancedConfig::Opener(config)) => {
            config.auto_update_enabled.is_some()
        }
        Message::AuthorizationEntry(entry) => entry.allowed.is_some(),
        Message::KeypadCode(code) => code.allowed.is_some(),
        _ => true,
    }
}

#[test]
fn generators_cover_every_command_in_every_family() {
    let mut runner = TestRunner::deterministic();
    let all: BTreeSet<CommandId> = CommandId::ALL.iter().copied().collect();
    for family in FAMILIES {
        let strategy = message(family);
        let mut seen = BTreeSet::new();
        let mut layouts = BTreeSet::new();
        for _ in 0..4000 {
            let message = strategy.new_tree(&mut runner).unwrap().current();
            seen.insert(message.command());
            layouts.insert(message.layout_name());
        }
        assert_eq!(seen, all, "{family:?}");
        assert!(layouts.contains("authorization_data_ultra"));
        assert!(layouts.contains("authorization_id_ultra"));
    }
}

#[test]
fn decode_never_panics_on_any_length() {
    let pattern: Vec<u8> = (0..=255u8).cycle().take(300).collect();
    for &command in CommandId::ALL {
        for family in FAMILIES {
            for len in 0..=200 {
                let _ = decode(command, &pattern[..len], family);
                let _ = decode(command, &vec![0xFF; len], family);
            }
        }
    }
}

#[test]
fn unknown_commands_are_typed_errors() {
    assert_eq!(
        decode(CommandId::Unknown(0x7777), &[], ServiceFamily::Keyturner),
        Err(DecodeError::UnknownCommand(0x7777))
    );
}

#[test]
fn lock_action_name_suffix_and_opener_actions() {
    let nonce = [7u8; 32];
    let message = Message::LockAction {
        action: DeviceAction::Opener(OpenerAction::ElectricStrikeActuation),
        app_id: 1,
        flags: 0b10,
        name_suffix: Some("Door 3".into()),
    };
    let payload = encode(
        &message,
        ServiceFamily::Opener,
        Some(&Proof::challenge(nonce)),
    );
    assert_eq!(payload.len(), 6 + 20 + 32);
    assert_eq!(payload[0], 0x03);
    assert_eq!(&payload[6..12], b"Door 3");
    let decoded = decode(CommandId::LockAction, &payload, ServiceFamily::Opener).unwrap();
    assert_eq!(decoded.message, message);
    // The same byte means "unlatch" to a Smart Lock.
    let as_lock = decode(CommandId::LockAction, &payload, ServiceFamily::Keyturner).unwrap();
    let Message::LockAction { action, .. } = as_lock.message else {
        panic!("not a lock action");
    };
    assert_eq!(action, DeviceAction::Lock(LockAction::Unlatch));
}

#[test]
fn pins_follow_the_family_width() {
    let proof = Proof::with_pin([1; 32], SecurityPin::Long(123_456));
    let ultra = encode(
        &Message::VerifySecurityPin,
        ServiceFamily::Ultra,
        Some(&proof),
    );
    assert_eq!(ultra.len(), 36);
    assert_eq!(&ultra[32..], &123_456u32.to_le_bytes());
    let short = Proof::with_pin([1; 32], SecurityPin::Short(1234));
    let lock = encode(
        &Message::VerifySecurityPin,
        ServiceFamily::Keyturner,
        Some(&short),
    );
    assert_eq!(&lock[32..], &1234u16.to_le_bytes());
    // A 34-byte payload is a bad length for the Ultra.
    assert!(matches!(
        decode(CommandId::VerifySecurityPin, &lock, ServiceFamily::Ultra),
        Err(DecodeError::BadLength { .. })
    ));
    let set_pin = Message::SetSecurityPin {
        new_pin: SecurityPin::Long(654_321),
    };
    let payload = encode(&set_pin, ServiceFamily::Ultra, Some(&proof));
    assert_eq!(payload.len(), 4 + 32 + 4);
    let json = serde_json::to_string(&set_pin).unwrap();
    assert!(!json.contains("654321"));
    assert!(!format!("{set_pin:?}").contains("654321"));
}

#[test]
fn secrets_never_appear_in_json_or_debug() {
    let invite = Message::AuthorizationDataInvite(AuthorizationInvite {
        name: "Guest".into(),
        id_type: IdType::App,
        shared_key: SharedKey::from_bytes([0xAB; 32]),
        remote_allowed: true,
        time_limited: false,
        allowed: AllowedWindow::default(),
    });
    let code = Message::AddKeypadCode(NewKeypadCode {
        code: AccessCode(987_654),
        name: "Cleaner".into(),
        time_limited: false,
        allowed: AllowedWindow::default(),
    });
    for message in [invite, code] {
        let json = serde_json::to_string(&message).unwrap();
        let debug = format!("{message:?}");
        for text in [&json, &debug] {
            assert!(!text.to_lowercase().contains("abab"), "{text}");
            assert!(!text.contains("987654"), "{text}");
        }
        assert!(json.contains(REDACTED));
    }
}

#[test]
fn json_is_readable() {
    let json = serde_json::to_value(Message::Status(StatusCode::Accepted)).unwrap();
    assert_eq!(json["command"], "status");
    assert_eq!(json["fields"]["status"], "accepted");
    let json = serde_json::to_value(Message::ErrorReport {
        code: ErrorCode::KErrorBadNonce,
        command: CommandId::LockAction,
    })
    .unwrap();
    assert_eq!(json["fields"]["code"], "k_error_bad_nonce");
    assert_eq!(json["fields"]["command"], "lock_action");
    let json = serde_json::to_value(Message::AddTimeControlEntry {
        weekdays: Weekdays(0x41),
        time: TimeOfDay { hour: 7, minute: 5 },
        action: DeviceAction::Lock(LockAction::Unlock),
    })
    .unwrap();
    assert_eq!(
        json["fields"]["weekdays"],
        serde_json::json!(["monday", "sunday"])
    );
    assert_eq!(json["fields"]["time"], "07:05");
    assert_eq!(json["fields"]["action"], "unlock");
    let json = serde_json::to_value(Message::RequestConfig).unwrap();
    assert_eq!(json, serde_json::json!({"command": "request_config"}));
}

fn log_entry_bytes(entry_type: u8, data: &[u8]) -> Vec<u8> {
    let mut bytes = vec![7, 0, 0, 0];
    bytes.extend_from_slice(&[0xE8, 0x07, 5, 1, 12, 34, 56]);
    bytes.extend_from_slice(&5u32.to_le_bytes());
    let mut name = b"Gateway".to_vec();
    name.resize(32, 0);
    bytes.extend_from_slice(&name);
    bytes.push(entry_type);
    bytes.extend_from_slice(data);
    bytes
}

#[test]
fn log_entries_ignore_device_padding() {
    let family = ServiceFamily::Keyturner;
    // SL 3.0 pads "logging enabled" to 5 bytes and lock actions with one byte.
    let padded = log_entry_bytes(0x01, &[1, 0, 0, 0, 0]);
    let Message::LogEntry(entry) = decode(CommandId::LogEntry, &padded, family)
        .unwrap()
        .message
    else {
        panic!("not a log entry");
    };
    assert_eq!(entry.index, 7);
    assert_eq!(entry.auth_id, 5);
    assert_eq!(entry.auth_name, "Gateway");
    assert_eq!(entry.entry_type, LogEntryType::LoggingEnabled);
    assert_eq!(entry.data, LogData::Enabled { enabled: true });

    let padded = log_entry_bytes(0x02, &[0x02, 0x00, 0x00, 0x00, 0xAA]);
    let decoded = decode(CommandId::LogEntry, &padded, family)
        .unwrap()
        .message;
    let Message::LogEntry(entry) = &decoded else {
        panic!("not a log entry");
    };
    assert_eq!(
        entry.data,
        LogData::LockAction {
            action: DeviceAction::Lock(LockAction::Lock),
            trigger: Trigger::System,
            flags: 0,
            completion_status: CompletionStatus::Success,
        }
    );
    assert_eq!(encode(&decoded, family, None), padded[..padded.len() - 1]);

    // Data too short for its type is kept raw rather than refused.
    let short = log_entry_bytes(0x05, &[0x01, 0x01]);
    let Message::LogEntry(entry) = decode(CommandId::LogEntry, &short, family).unwrap().message
    else {
        panic!("not a log entry");
    };
    assert_eq!(entry.data, LogData::Raw { bytes: vec![1, 1] });

    // Type 0x06 is a doorbell on the Opener.
    let ring = log_entry_bytes(0x06, &[0x01, 0x00, 0, 0, 3, 0, 0, 0]);
    let Message::LogEntry(entry) = decode(CommandId::LogEntry, &ring, ServiceFamily::Opener)
        .unwrap()
        .message
    else {
        panic!("not a log entry");
    };
    assert!(matches!(
        entry.data,
        LogData::DoorbellRecognition {
            mode: 1,
            source: 0,
            sound_id: 3,
            ..
        }
    ));
    assert!(decode(CommandId::LogEntry, &ring[..40], family).is_err());
}

#[test]
fn short_authorization_and_keypad_layouts() {
    let entry = AuthorizationEntry {
        auth_id: 9,
        id_type: IdType::Fob,
        name: "Fob".into(),
        enabled: true,
        remote_allowed: false,
        created: DateTime::default(),
        last_active: DateTime::default(),
        lock_count: 3,
        time_limited: false,
        allowed: None,
    };
    let message = Message::AuthorizationEntry(entry.clone());
    let short = encode(&message, ServiceFamily::Keyturner, None);
    assert_eq!(short.len(), AuthorizationEntry::SHORT_LEN);
    assert_eq!(
        decode(
            CommandId::AuthorizationEntry,
            &short,
            ServiceFamily::Keyturner
        )
        .unwrap()
        .message,
        message
    );
    let full = Message::AuthorizationEntry(AuthorizationEntry {
        allowed: Some(AllowedWindow::default()),
        ..entry
    });
    assert_eq!(
        encode(&full, ServiceFamily::Keyturner, None).len(),
        AuthorizationEntry::LEN
    );

    let code = Message::KeypadCode(KeypadCode {
        code_id: 1,
        code: AccessCode(123_456),
        name: "Cleaner".into(),
        enabled: true,
        created: DateTime::default(),
        last_active: DateTime::default(),
        lock_count: 0,
        time_limited: false,
        allowed: None,
    });
    let short = encode(&code, ServiceFamily::Keyturner, None);
    assert_eq!(short.len(), KeypadCode::SHORT_LEN);
    assert_eq!(
        decode(CommandId::KeypadCode, &short, ServiceFamily::Keyturner)
            .unwrap()
            .message,
        code
    );
}

#[test]
fn config_lengths_follow_the_family() {
    // Ones everywhere: a valid flag, a name without padding and a finite float, so every
    // field re-encodes to the same bytes.
    let payload = [1u8; 79];
    // 71 and 72 bytes: Smart Lock 1.0/2.0 firmware without HomeKit status and time zone id.
    for len in (LockConfig::MIN_LEN..=LockConfig::MAX_LEN).filter(|&len| len != 73) {
        let decoded = decode(CommandId::Config, &payload[..len], ServiceFamily::Keyturner)
            .unwrap()
            .message;
        assert!(matches!(decoded, Message::Config(Config::Lock(_))));
        assert_eq!(
            encode(&decoded, ServiceFamily::Keyturner, None),
            payload[..len]
        );
    }
    assert!(decode(CommandId::Config, &payload[..73], ServiceFamily::Keyturner).is_err());
    for len in OpenerConfig::MIN_LEN..=OpenerConfig::MAX_LEN {
        let decoded = decode(CommandId::Config, &payload[..len], ServiceFamily::Opener)
            .unwrap()
            .message;
        let Message::Config(Config::Opener(config)) = &decoded else {
            panic!("not an Opener config");
        };
        assert_eq!(config.nuki_id, 0x0101_0101);
        assert_eq!(
            encode(&decoded, ServiceFamily::Opener, None),
            payload[..len]
        );
    }
    // Advanced Config: 28, 31 and 33 bytes on locks.
    for len in [28, 31, 33] {
        let decoded = decode(
            CommandId::AdvancedConfig,
            &payload[..len],
            ServiceFamily::Ultra,
        )
        .unwrap();
        assert_eq!(
            encode(&decoded.message, ServiceFamily::Ultra, None),
            payload[..len]
        );
    }
}
