//! The pairing rules of the simulated devices: pairing mode, order, a full table, one
//! bridge, and the Ultra's security PIN.

mod common;

use std::time::Duration;

use common::sim::{codec::*, direct::*, messages::*, pairing_script::*};
use nuki_edge::ble::sim::SimKind;
use nuki_edge::nuki::command::CommandId;
use nuki_edge::nuki::crypto::KeyPair;
use nuki_edge::nuki::enums::{ErrorCode, IdType};
use nuki_edge::nuki::frame;
use nuki_edge::nuki::messages::Message;
use nuki_edge::nuki::uuids::ServiceFamily;

#[test]
fn pairing_outside_pairing_mode_out_of_order_and_malformed() {
    let mut device = fresh_device(spec(SimKind::SmartLock2));
    let family = ServiceFamily::Keyturner;
    let request_key = plain(
        &Message::RequestData {
            command: CommandId::PublicKey,
            extra: Vec::new(),
        },
        family,
    );
    assert_eq!(
        pairing_reply(&mut device, &request_key),
        error(ErrorCode::PErrorNotPairing, CommandId::RequestData)
    );
    assert!(device.press_button(Duration::ZERO));
    let authenticator = plain(&Message::AuthorizationAuthenticator([1; 32]), family);
    assert_eq!(
        pairing_reply(&mut device, &authenticator),
        error(
            ErrorCode::ErrorUnknown,
            CommandId::AuthorizationAuthenticator
        )
    );
    let mut corrupted = request_key.clone();
    *corrupted.last_mut().unwrap() ^= 0x01;
    assert_eq!(
        pairing_reply(&mut device, &corrupted),
        error(ErrorCode::ErrorBadCrc, CommandId::RequestData)
    );
    let short_key = frame::encode_plain(CommandId::PublicKey, &[7; 31]);
    assert_eq!(
        pairing_reply(&mut device, &short_key),
        error(ErrorCode::ErrorBadLength, CommandId::PublicKey)
    );
    // A wrong authenticator sends the client back to the start.
    assert!(matches!(
        pairing_reply(&mut device, &request_key),
        Message::PublicKey(_)
    ));
    let client = KeyPair::from_secret([3; 32]);
    assert!(matches!(
        pairing_reply(
            &mut device,
            &plain(&Message::PublicKey(client.public_key()), family)
        ),
        Message::Challenge(_)
    ));
    assert_eq!(
        pairing_reply(&mut device, &authenticator),
        error(
            ErrorCode::PErrorBadAuthenticator,
            CommandId::AuthorizationAuthenticator
        )
    );
    assert_eq!(device.snapshot().authorizations.len(), 0);
}

#[test]
fn pairing_mode_times_out() {
    let mut spec = spec(SimKind::SmartLock4);
    spec.pairing_mode_timeout = Duration::from_secs(30);
    let mut device = fresh_device(spec);
    assert!(device.press_button(Duration::ZERO));
    let advert = device.advertisement(Duration::ZERO).unwrap();
    let pairing_service = ServiceFamily::Keyturner.characteristics().pairing_service;
    assert_eq!(
        advert.service_data.get(&pairing_service),
        Some(&vec![0x11, 0x22, 0x33, 0x44])
    );
    assert_eq!(device.next_deadline(), Some(Duration::from_secs(30)));
    device.on_timer(Duration::from_secs(29));
    assert!(device.in_pairing_mode());
    device.on_timer(Duration::from_secs(30));
    assert!(!device.in_pairing_mode());
    let advert = device.advertisement(Duration::from_secs(30)).unwrap();
    assert!(advert.service_data.is_empty());
    let mut script = PairingScript::new(ServiceFamily::Keyturner, [8; 32], IdType::App, 1);
    let out = device.on_write(
        ServiceFamily::Keyturner.characteristics().pairing_gdio,
        &script.first(),
        Duration::from_secs(31),
    );
    assert_eq!(
        refused(script.on_reply(&out[0].bytes)),
        error(ErrorCode::PErrorNotPairing, CommandId::RequestData)
    );
}

#[test]
fn pairing_is_refused_when_the_table_is_full_but_the_same_app_may_pair_again() {
    let mut spec = spec(SimKind::SmartLock4);
    spec.max_authorizations = 2;
    let mut direct = Direct::with_spec(spec, IdType::App);
    let first_id = direct.auth_id;
    let (_, second_id) = paired(direct.pair_another(IdType::App, 2, 0x20));
    assert_eq!(
        refused(direct.pair_another(IdType::App, 3, 0x30)),
        error(ErrorCode::PErrorMaxUser, CommandId::AuthorizationData)
    );
    // App id 2 pairs again: its old authorization is replaced, not added.
    let (new_key, replaced_id) = paired(direct.pair_another(IdType::App, 2, 0x21));
    assert_ne!(replaced_id, second_id);
    let ids: Vec<u32> = direct
        .device
        .snapshot()
        .authorizations
        .iter()
        .map(|a| a.auth_id)
        .collect();
    assert_eq!(ids, [first_id, replaced_id]);
    // The replaced key no longer works: the device does not know its id.
    let old = direct.switch(new_key, second_id);
    let request = direct.sealed(
        &Message::RequestData {
            command: CommandId::Challenge,
            extra: Vec::new(),
        },
        None,
    );
    let out = direct.write(&request);
    assert_eq!(out[0].characteristic, direct.chars.keyturner_gdio);
    direct.switch(old.0, old.1);
}

#[test]
fn only_one_bridge_is_kept() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    let first_bridge = direct.auth_id;
    let (_, second_bridge) = paired(direct.pair_another(IdType::Bridge, 9000, 0x61));
    let snapshot = direct.device.snapshot();
    assert_eq!(snapshot.authorizations.len(), 1);
    assert_eq!(snapshot.authorizations[0].auth_id, second_bridge);
    assert_ne!(first_bridge, second_bridge);
}

#[test]
fn ultra_pairs_with_the_security_pin_and_locks_out_wrong_pins() {
    let ultra = spec(SimKind::SmartLockUltra);
    assert_eq!(ultra.effective_pin(), 123_456);
    let mut device = fresh_device(ultra);
    let chars = ServiceFamily::Ultra.characteristics();
    assert_eq!(
        device.characteristic_uuids(),
        [
            chars.pairing_gdio,
            chars.keyturner_gdio,
            chars.keyturner_usdio
        ]
    );
    assert_eq!(
        ServiceFamily::detect(&device.characteristic_uuids()),
        Some(ServiceFamily::Ultra)
    );
    assert!(device.press_button(Duration::ZERO));
    for _ in 0..3 {
        let mut script = PairingScript::new(ServiceFamily::Ultra, [4; 32], IdType::App, 1);
        script.pin = 654_321;
        assert_eq!(
            refused(Direct::pair(&mut device, &mut script, Duration::ZERO)),
            error(ErrorCode::KErrorBadPin, CommandId::AuthorizationData)
        );
    }
    let mut script = PairingScript::new(ServiceFamily::Ultra, [4; 32], IdType::App, 1);
    script.pin = 123_456;
    assert_eq!(
        refused(Direct::pair(
            &mut device,
            &mut script,
            Duration::from_secs(1)
        )),
        error(
            ErrorCode::KErrorTooManyPinAttempts,
            CommandId::AuthorizationData
        )
    );
    assert!(device.press_button(Duration::from_secs(61)));
    let mut script = PairingScript::new(ServiceFamily::Ultra, [4; 32], IdType::App, 1);
    script.pin = 123_456;
    let (_, auth_id) = paired(Direct::pair(
        &mut device,
        &mut script,
        Duration::from_secs(61),
    ));
    assert_eq!(device.snapshot().authorizations[0].auth_id, auth_id);
    assert!(!device.in_pairing_mode());
}
