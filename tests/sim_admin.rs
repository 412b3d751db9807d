//! Administration of the simulated devices: config, security PIN, time, log entries,
//! authorizations, keypad codes, time control, reboot, states layouts.

mod common;

use std::time::Duration;

use common::sim::{direct::*, messages::*, pairing_script::*};
use nuki_edge::ble::sim::SimKind;
use nuki_edge::nuki::advert;
use nuki_edge::nuki::codec::DateTime;
use nuki_edge::nuki::command::CommandId;
use nuki_edge::nuki::crypto::SharedKey;
use nuki_edge::nuki::enums::{
    DeviceAction, ErrorCode, IdType, LockAction, LockState, NukiState, SortOrder, StatusCode,
};
use nuki_edge::nuki::messages::{
    self, AccessCode, AllowedWindow, AuthorizationInvite, Config, LogData, Message, NewKeypadCode,
    SecurityPin, SetConfig, UserAuthorizationUpdate,
};
use nuki_edge::nuki::uuids::ServiceFamily;

#[test]
fn set_config_changes_the_config_and_the_update_counter() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    let count_before = direct.states().config_update_count;
    let Message::Config(Config::Lock(config)) = only(direct.command(&Message::RequestConfig))
    else {
        panic!("lock config expected");
    };
    assert_eq!(config.name, "Front door");
    assert_eq!(config.nuki_id, 0x1122_3344);
    assert_eq!(config.device_type.map(|t| t.to_u8()), Some(4));
    assert_eq!(
        config.current_time.to_iso8601().as_deref(),
        Some("2024-05-01T12:34:56Z")
    );
    let Some(SetConfig::Lock(mut update)) = set_config_from(&config) else {
        panic!("lock layout");
    };
    update.name = "Back door".into();
    update.led_brightness = 1;
    assert_eq!(
        direct.command(&Message::SetConfig(SetConfig::Lock(update.clone()))),
        complete()
    );
    assert_eq!(
        direct.states().config_update_count,
        count_before.wrapping_add(1)
    );
    let Message::Config(Config::Lock(after)) = only(direct.command(&Message::RequestConfig)) else {
        panic!("lock config expected");
    };
    assert_eq!(after.name, "Back door");
    assert_eq!(after.led_brightness, 1);
    update.led_brightness = 9;
    assert_eq!(
        direct.command(&Message::SetConfig(SetConfig::Lock(update))),
        [error(ErrorCode::KErrorBadParameter, CommandId::SetConfig)]
    );
    // Advanced config round trip.
    let Message::AdvancedConfig(messages::AdvancedConfig::Lock(advanced)) =
        only(direct.command(&Message::RequestAdvancedConfig))
    else {
        panic!("lock advanced config expected");
    };
    let mut settings = advanced.settings.clone();
    settings.lock_n_go_timeout = 7;
    assert_eq!(
        direct.command(&Message::SetAdvancedConfig(
            messages::SetAdvancedConfig::Lock(settings)
        )),
        complete()
    );
    direct.command(&lock_action(LockAction::LockNGo));
    assert_eq!(direct.states().lock_n_go_timer, 7);
}

#[test]
fn disabling_pairing_in_the_config_keeps_the_button_from_starting_pairing() {
    let mut direct = Direct::new(SimKind::SmartLock2);
    let Message::Config(Config::Lock(config)) = only(direct.command(&Message::RequestConfig))
    else {
        panic!("lock config expected");
    };
    assert_eq!(
        messages::encode(
            &Message::Config(Config::Lock(config.clone())),
            direct.family,
            None
        )
        .len(),
        74
    );
    let Some(SetConfig::Lock(mut update)) = set_config_from(&config) else {
        panic!("lock layout");
    };
    update.pairing_enabled = false;
    assert_eq!(
        direct.command(&Message::SetConfig(SetConfig::Lock(update))),
        complete()
    );
    assert!(!direct.device.press_button(direct.now));
}

#[test]
fn security_pin_change_time_update_and_status_reads() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    assert_eq!(
        direct.command(&Message::SetSecurityPin {
            new_pin: SecurityPin::Short(4321)
        }),
        complete()
    );
    assert_eq!(
        direct.command_with_pin(&Message::VerifySecurityPin, 1234),
        [error(ErrorCode::KErrorBadPin, CommandId::VerifySecurityPin)]
    );
    assert_eq!(
        direct.command_with_pin(&Message::VerifySecurityPin, 4321),
        complete()
    );
    assert_eq!(
        direct.command_with_pin(
            &Message::SetSecurityPin {
                new_pin: SecurityPin::Short(10_000)
            },
            4321
        ),
        [error(
            ErrorCode::KErrorBadParameter,
            CommandId::SetSecurityPin
        )]
    );
    let target = DateTime::from_unix(1_800_000_000);
    assert_eq!(
        direct.command_with_pin(&Message::UpdateTime(target), 4321),
        complete()
    );
    assert_eq!(direct.states().current_time, target);
    let replies = direct.send(
        &Message::RequestData {
            command: CommandId::MostRecentCommand,
            extra: Vec::new(),
        },
        None,
    );
    assert_eq!(
        replies,
        [Message::MostRecentCommand {
            command: CommandId::UpdateTime
        }]
    );
    let replies = direct.send(
        &Message::RequestData {
            command: CommandId::BatteryReport,
            extra: Vec::new(),
        },
        None,
    );
    let [Message::BatteryReport(report)] = replies.as_slice() else {
        panic!("battery report expected");
    };
    assert_eq!(messages::battery_percent(report.battery_state), 90);
    assert!(report.battery_voltage > 4600);
    let replies = direct.send(
        &Message::RequestData {
            command: CommandId::FirmwareStatus,
            extra: Vec::new(),
        },
        None,
    );
    assert!(
        matches!(&replies[..], [Message::FirmwareStatus { version, .. }] if version.major == 4)
    );
    assert_eq!(
        direct.send(
            &Message::RequestData {
                command: CommandId::Config,
                extra: Vec::new(),
            },
            None,
        ),
        [error(ErrorCode::KErrorBadParameter, CommandId::RequestData)]
    );
}

#[test]
fn log_entries_follow_start_index_count_and_order() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    for action in [LockAction::Lock, LockAction::Unlock, LockAction::Lock] {
        direct.command(&lock_action(action));
        direct.advance(Duration::from_secs(3));
    }
    let request = |start_index, count, sort_order, total_count| Message::RequestLogEntries {
        start_index,
        count,
        sort_order,
        total_count,
    };
    let replies = direct.command(&request(0, 10, SortOrder::Ascending, true));
    let Message::LogEntryCount(count) = &replies[0] else {
        panic!("count first");
    };
    assert_eq!(count.count, 3);
    assert!(count.logging_enabled);
    let indexes = |replies: &[Message]| -> Vec<u32> {
        replies
            .iter()
            .filter_map(|m| match m {
                Message::LogEntry(entry) => Some(entry.index),
                _ => None,
            })
            .collect()
    };
    assert_eq!(indexes(&replies), [1, 2, 3]);
    assert_eq!(replies.last(), Some(&Message::Status(StatusCode::Complete)));
    let Message::LogEntry(first) = &replies[1] else {
        panic!("entry");
    };
    assert_eq!(first.auth_id, direct.auth_id);
    assert_eq!(first.auth_name, "Gateway");
    assert!(matches!(
        first.data,
        LogData::LockAction {
            action: DeviceAction::Lock(LockAction::Lock),
            ..
        }
    ));
    let replies = direct.command(&request(3, 10, SortOrder::Descending, false));
    assert_eq!(indexes(&replies), [2, 1]);
    assert!(!matches!(replies[0], Message::LogEntryCount(_)));
    let replies = direct.command(&request(1, 1, SortOrder::Ascending, false));
    assert_eq!(indexes(&replies), [2]);
    // Disabling logging is itself logged; later actions are not.
    assert_eq!(
        direct.command(&Message::EnableLogging { enabled: false }),
        complete()
    );
    direct.command(&lock_action(LockAction::Unlock));
    direct.advance(Duration::from_secs(3));
    assert_eq!(direct.device.snapshot().log_count, 4);
}

#[test]
fn authorization_entries_invites_updates_and_removal() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    let (_, app) = paired(direct.pair_another(IdType::App, 21, 0x21));
    let invited_key = SharedKey::from_bytes([0x99; 32]);
    let invite = Message::AuthorizationDataInvite(AuthorizationInvite {
        name: "Invited".into(),
        id_type: IdType::App,
        shared_key: invited_key.clone(),
        remote_allowed: false,
        time_limited: false,
        allowed: AllowedWindow::default(),
    });
    let Message::AuthorizationIdInvite {
        auth_id: invited,
        created,
    } = only(direct.command(&invite))
    else {
        panic!("invite id expected");
    };
    assert_eq!(
        created.to_iso8601().as_deref(),
        Some("2024-05-01T12:34:56Z")
    );
    // The requester comes first, then the others by id.
    let admin_id = direct.auth_id;
    let replies = direct.command(&Message::RequestAuthorizationEntries {
        offset: 0,
        count: 10,
    });
    assert_eq!(replies[0], Message::AuthorizationEntryCount { count: 3 });
    let ids: Vec<u32> = replies
        .iter()
        .filter_map(|m| match m {
            Message::AuthorizationEntry(entry) => Some(entry.auth_id),
            _ => None,
        })
        .collect();
    assert_eq!(ids, [admin_id, app, invited]);
    assert_eq!(replies.last(), Some(&Message::Status(StatusCode::Complete)));
    let encoded = messages::encode(&replies[1], direct.family, None);
    assert_eq!(encoded.len(), 75, "full entry layout");
    // The invited key works right away.
    let admin = direct.switch(invited_key, invited);
    assert_eq!(direct.states().nuki_state, NukiState::DoorMode);
    direct.switch(admin.0, admin.1);
    // Update and removal.
    let update = Message::UpdateUserAuthorization(UserAuthorizationUpdate {
        auth_id: app,
        name: "Renamed".into(),
        enabled: true,
        remote_allowed: false,
        time_limited: false,
        allowed: AllowedWindow::default(),
    });
    assert_eq!(direct.command(&update), complete());
    let names: Vec<String> = direct
        .device
        .snapshot()
        .authorizations
        .iter()
        .map(|a| a.name.clone())
        .collect();
    assert!(names.contains(&"Renamed".to_string()));
    assert_eq!(
        direct.command(&Message::RemoveUserAuthorization { auth_id: app }),
        complete()
    );
    assert_eq!(direct.device.snapshot().authorizations.len(), 2);
}

#[test]
fn keypad_codes_are_validated_listed_updated_and_removed() {
    let mut spec = spec(SimKind::SmartLock4);
    spec.max_keypad_codes = 2;
    spec.keypad = true;
    let mut direct = Direct::with_spec(spec, IdType::Bridge);
    let add = |code: u32| {
        Message::AddKeypadCode(NewKeypadCode {
            code: AccessCode(code),
            name: "Cleaner".into(),
            time_limited: false,
            allowed: AllowedWindow::default(),
        })
    };
    let Message::KeypadCodeId { code_id: first, .. } = only(direct.command(&add(123_456))) else {
        panic!("code id expected");
    };
    assert_eq!(
        direct.command(&add(123_456)),
        [error(
            ErrorCode::KErrorCodeAlreadyExists,
            CommandId::AddKeypadCode
        )]
    );
    assert_eq!(
        direct.command(&add(123_406)),
        [error(
            ErrorCode::KErrorBadParameter,
            CommandId::AddKeypadCode
        )]
    );
    assert!(matches!(
        direct.command(&add(654_321))[0],
        Message::KeypadCodeId { .. }
    ));
    assert_eq!(
        direct.command(&add(777_777)),
        [error(
            ErrorCode::KErrorTooManyEntries,
            CommandId::AddKeypadCode
        )]
    );
    let replies = direct.command(&Message::RequestKeypadCodes {
        offset: 0,
        count: 10,
    });
    assert_eq!(replies[0], Message::KeypadCodeCount { count: 2 });
    assert_eq!(replies.len(), 4);
    assert_eq!(messages::encode(&replies[1], direct.family, None).len(), 63);
    let update = |code_id: u16| {
        Message::UpdateKeypadCode(messages::KeypadCodeUpdate {
            code_id,
            code: AccessCode(111_111),
            name: "Renamed".into(),
            enabled: true,
            time_limited: false,
            allowed: AllowedWindow::default(),
        })
    };
    assert_eq!(direct.command(&update(first)), complete());
    assert_eq!(
        direct.command(&update(999)),
        [error(
            ErrorCode::KErrorBadParameter,
            CommandId::UpdateKeypadCode
        )]
    );
    assert_eq!(
        direct.command(&Message::RemoveKeypadCode { code_id: first }),
        complete()
    );
    assert_eq!(
        direct.command(&Message::RemoveKeypadCode { code_id: first }),
        [error(
            ErrorCode::KErrorBadParameter,
            CommandId::RemoveKeypadCode
        )]
    );
    assert_eq!(direct.device.snapshot().keypad_code_count, 1);
    // A keypad entering the remaining code unlocks.
    let replies = direct.command(&Message::KeypadAction {
        source: nuki_edge::nuki::enums::KeypadSource::Code,
        code: AccessCode(654_321),
        action: nuki_edge::nuki::enums::KeypadActionKind::Lock,
    });
    assert_eq!(replies[0], Message::Status(StatusCode::Accepted));
    let replies = direct.command(&Message::KeypadAction {
        source: nuki_edge::nuki::enums::KeypadSource::Code,
        code: AccessCode(999_999),
        action: nuki_edge::nuki::enums::KeypadActionKind::Lock,
    });
    assert_eq!(
        replies,
        [error(ErrorCode::KErrorCodeInvalid, CommandId::KeypadAction)]
    );
}

#[test]
fn time_control_entries_round_trip() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    let add = Message::AddTimeControlEntry {
        weekdays: messages::Weekdays(0),
        time: nuki_edge::nuki::codec::TimeOfDay {
            hour: 22,
            minute: 30,
        },
        action: DeviceAction::Lock(LockAction::Lock),
    };
    let Message::TimeControlEntryId { entry_id } = only(direct.command(&add)) else {
        panic!("entry id expected");
    };
    let replies = direct.command(&Message::RequestTimeControlEntries);
    assert_eq!(replies[0], Message::TimeControlEntryCount { count: 1 });
    let Message::TimeControlEntry(mut entry) = replies[1].clone() else {
        panic!("entry expected");
    };
    assert_eq!(entry.entry_id, entry_id);
    entry.enabled = false;
    assert_eq!(
        direct.command(&Message::UpdateTimeControlEntry(entry)),
        complete()
    );
    assert_eq!(
        direct.command(&Message::RemoveTimeControlEntry { entry_id }),
        complete()
    );
    assert_eq!(
        direct.command(&Message::RemoveTimeControlEntry { entry_id }),
        [error(
            ErrorCode::KErrorBadParameter,
            CommandId::RemoveTimeControlEntry
        )]
    );
    let bad = Message::AddTimeControlEntry {
        weekdays: messages::Weekdays(0),
        time: nuki_edge::nuki::codec::TimeOfDay {
            hour: 24,
            minute: 0,
        },
        action: DeviceAction::Lock(LockAction::Lock),
    };
    assert_eq!(
        direct.command(&bad),
        [error(
            ErrorCode::KErrorBadParameter,
            CommandId::AddTimeControlEntry
        )]
    );
}

#[test]
fn reboot_answers_then_asks_to_drop_the_link_and_is_unreachable_for_a_while() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    assert_eq!(direct.command(&Message::RequestReboot), complete());
    assert!(direct.device.take_disconnect_request());
    assert!(!direct.device.is_reachable(direct.now));
    assert!(direct.device.advertisement(direct.now).is_none());
    direct.device.on_timer(direct.now + Duration::from_secs(5));
    assert!(direct
        .device
        .is_reachable(direct.now + Duration::from_secs(5)));
}

#[test]
fn states_layouts_and_device_kinds() {
    for (kind, layout, expected) in [
        (SimKind::SmartLock2, Some(19), 19),
        (SimKind::SmartLock2, None, 21),
        (SimKind::SmartLock4, None, 27),
        (SimKind::SmartLockUltra, None, 27),
        (SimKind::Box, None, 27),
    ] {
        let mut spec = spec(kind);
        spec.states_layout_len = layout;
        let mut direct = Direct::with_spec(spec, IdType::App);
        assert_eq!(direct.states().encoded_len(), expected, "{kind:?}");
    }
    let mut direct = Direct::new(SimKind::Box);
    let states = direct.states();
    assert!(
        messages::battery_charging(states.battery_state),
        "mains powered"
    );
    assert_eq!(messages::battery_percent(states.battery_state), 90);
    let Message::Config(Config::Lock(config)) = only(direct.command(&Message::RequestConfig))
    else {
        panic!("lock config expected");
    };
    assert_eq!(config.device_type.map(|t| t.to_u8()), Some(1));
    // The oldest Config layout stops before the device type.
    let mut old_firmware = spec(SimKind::Box);
    old_firmware.config_layout_len = Some(74);
    let mut direct = Direct::with_spec(old_firmware, IdType::App);
    let Message::Config(Config::Lock(config)) = only(direct.command(&Message::RequestConfig))
    else {
        panic!("lock config expected");
    };
    assert_eq!(config.device_type, None);
    let opener = fresh_device(spec(SimKind::Opener));
    let advert = opener.advertisement(Duration::ZERO).unwrap();
    assert_eq!(advert.local_name.as_deref(), Some("Nuki_Opener_11223344"));
    let beacon =
        advert::parse_beacon(&advert.manufacturer_data[&advert::APPLE_COMPANY_ID]).unwrap();
    assert_eq!(beacon.family, ServiceFamily::Opener);
    assert_eq!(beacon.nuki_id, 0x1122_3344);
}

#[test]
fn time_control_entries_run_at_their_local_time() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    // The device runs UTC+60 min: 12:34:56 UTC is 13:34:56 local.
    let add = Message::AddTimeControlEntry {
        weekdays: messages::Weekdays(0),
        time: nuki_edge::nuki::codec::TimeOfDay {
            hour: 13,
            minute: 36,
        },
        action: DeviceAction::Lock(LockAction::Lock),
    };
    assert!(matches!(
        only(direct.command(&add)),
        Message::TimeControlEntryId { .. }
    ));
    assert_eq!(direct.device.next_deadline(), Some(Duration::from_secs(64)));
    assert!(direct.advance(Duration::from_secs(63)).is_empty());
    // Unsolicited states to the connected authorization; no ACCEPTED/COMPLETE (nobody asked).
    let replies = direct.advance(Duration::from_secs(1));
    assert_eq!(states_of(&replies), [LockState::Locking.to_u8()]);
    let replies = direct.advance(Duration::from_secs(2));
    assert_eq!(states_of(&replies), [LockState::Locked.to_u8()]);
    assert!(!replies.contains(&Message::Status(StatusCode::Complete)));
    // Trigger "automatic".
    assert_eq!(direct.device.snapshot().last_action, (0x02, 0x03, 0x00));
    // Tomorrow, same time.
    assert_eq!(
        direct.device.next_deadline(),
        Some(Duration::from_secs(64 + 86_400))
    );
}
