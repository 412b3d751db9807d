//! How a simulated keyturner checks what it receives: undecryptable or unknown
//! authorizations, bad CRCs and lengths, challenges, PINs and limited authorizations.

mod common;

use std::time::Duration;

use common::sim::{codec::*, direct::*, messages::*, pairing_script::*};
use nuki_edge::ble::sim::{Outbound, SimKind};
use nuki_edge::nuki::codec::DateTime;
use nuki_edge::nuki::command::CommandId;
use nuki_edge::nuki::crypto::{self, SharedKey};
use nuki_edge::nuki::enums::{
    DeviceLockState, ErrorCode, IdType, LockAction, LockState, StatusCode,
};
use nuki_edge::nuki::frame;
use nuki_edge::nuki::messages::{self, AllowedWindow, Message, Proof, UserAuthorizationUpdate};

#[test]
fn undecryptable_or_unknown_authorization_gets_a_plain_error_on_gdio() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    // Exactly what a real lock sent in the forum capture: 12 00 20 00 00 13 D7.
    let expected = [Outbound {
        characteristic: direct.chars.keyturner_gdio,
        bytes: bytes("120020000013D7"),
    }];
    let real_key = direct.key.clone();
    direct.key = SharedKey::from_bytes([9; 32]);
    let request = direct.sealed(
        &Message::RequestData {
            command: CommandId::Challenge,
            extra: Vec::new(),
        },
        None,
    );
    assert_eq!(direct.write(&request), expected);
    direct.key = real_key;
    direct.auth_id += 100;
    let request = direct.sealed(
        &Message::RequestData {
            command: CommandId::Challenge,
            extra: Vec::new(),
        },
        None,
    );
    assert_eq!(direct.write(&request), expected);
}

#[test]
fn bad_crc_auth_id_mismatch_and_length_are_reported_encrypted() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    let usdio = direct.chars.keyturner_usdio;
    // A PDATA whose CRC is wrong: build it by hand and seal it.
    let mut pdata = Vec::new();
    pdata.extend_from_slice(&direct.auth_id.to_le_bytes());
    pdata.extend_from_slice(&CommandId::RequestData.to_u16().to_le_bytes());
    pdata.extend_from_slice(&[0x04, 0x00, 0x00, 0x00]);
    let seal = |key: &SharedKey, header_id: u32, pdata: &[u8]| {
        let nonce = [5u8; 24];
        let sealed = crypto::seal(key, &nonce, pdata);
        let mut message = nonce.to_vec();
        message.extend_from_slice(&header_id.to_le_bytes());
        message.extend_from_slice(&(sealed.len() as u16).to_le_bytes());
        message.extend_from_slice(&sealed);
        message
    };
    let out = direct.device.on_write(
        usdio,
        &seal(&direct.key, direct.auth_id, &pdata),
        direct.now,
    );
    assert_eq!(
        out.iter().map(|o| direct.open(o)).collect::<Vec<_>>(),
        [error(ErrorCode::ErrorBadCrc, CommandId::RequestData)]
    );
    // Valid PDATA naming another authorization id than the clear header.
    let mut pdata = (direct.auth_id + 1).to_le_bytes().to_vec();
    pdata.extend_from_slice(&CommandId::RequestData.to_u16().to_le_bytes());
    pdata.extend_from_slice(&[0x04, 0x00]);
    let crc = nuki_edge::nuki::crc::crc16(&pdata);
    pdata.extend_from_slice(&crc.to_le_bytes());
    let out = direct.device.on_write(
        usdio,
        &seal(&direct.key, direct.auth_id, &pdata),
        direct.now,
    );
    assert_eq!(
        out.iter().map(|o| direct.open(o)).collect::<Vec<_>>(),
        [error(
            ErrorCode::KErrorNotAuthorized,
            CommandId::RequestData
        )]
    );
    // A Request Data with a 1-byte payload.
    let request = frame::encode_encrypted(
        &direct.key,
        &[2; 24],
        direct.auth_id,
        CommandId::RequestData,
        &[0x04],
    );
    assert_eq!(
        direct
            .write(&request)
            .iter()
            .map(|o| direct.open(o))
            .collect::<Vec<_>>(),
        [error(ErrorCode::ErrorBadLength, CommandId::RequestData)]
    );
    // Lock Action with a payload one byte short.
    let challenge = direct.challenge();
    let mut payload = messages::encode(
        &lock_action(LockAction::Lock),
        direct.family,
        Some(&Proof::challenge(challenge)),
    );
    payload.pop();
    let request = frame::encode_encrypted(
        &direct.key,
        &[3; 24],
        direct.auth_id,
        CommandId::LockAction,
        &payload,
    );
    assert_eq!(
        direct
            .write(&request)
            .iter()
            .map(|o| direct.open(o))
            .collect::<Vec<_>>(),
        [error(ErrorCode::ErrorBadLength, CommandId::LockAction)]
    );
}

/// One step of the challenge property: fetch a challenge, or spend one fetched earlier
/// (by index), or spend made-up bytes.
#[derive(Debug, Clone)]
enum ChallengeStep {
    Fetch,
    Spend(usize),
    Forge([u8; 32]),
}

fn challenge_step() -> impl proptest::strategy::Strategy<Value = ChallengeStep> {
    use proptest::prelude::*;
    prop_oneof![
        Just(ChallengeStep::Fetch),
        any::<usize>().prop_map(ChallengeStep::Spend),
        any::<[u8; 32]>().prop_map(ChallengeStep::Forge),
    ]
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    /// Whatever the order of fetches and attempts, the device accepts a protected command only
    /// with the last challenge it issued, and only once: replayed and stale challenges fail.
    #[test]
    fn only_the_last_unspent_challenge_is_accepted(
        steps in proptest::collection::vec(challenge_step(), 1..24),
    ) {
        let mut direct = Direct::new(SimKind::SmartLock4);
        let mut fetched: Vec<[u8; 32]> = Vec::new();
        let mut pending: Option<[u8; 32]> = None;
        for step in steps {
            let nonce = match step {
                ChallengeStep::Fetch => {
                    let nonce = direct.challenge();
                    proptest::prop_assert!(!fetched.contains(&nonce), "a challenge repeated");
                    fetched.push(nonce);
                    pending = Some(nonce);
                    continue;
                }
                ChallengeStep::Spend(_) if fetched.is_empty() => continue,
                ChallengeStep::Spend(index) => fetched[index % fetched.len()],
                ChallengeStep::Forge(bytes) => bytes,
            };
            let replies = direct.send(&Message::RequestConfig, Some(&Proof::challenge(nonce)));
            let accepted = matches!(replies.as_slice(), [Message::Config(_)]);
            proptest::prop_assert_eq!(accepted, pending == Some(nonce), "{:?}", replies);
            if !accepted {
                proptest::prop_assert_eq!(
                    replies,
                    vec![error(ErrorCode::KErrorBadNonce, CommandId::RequestConfig)]
                );
            }
            pending = None;
        }
    }
}

#[test]
fn challenges_are_single_use_per_authorization_and_only_the_last_counts() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    let lock = lock_action(LockAction::Lock);
    // A stale challenge (an older one than the last issued) is refused.
    let stale = direct.challenge();
    let _latest = direct.challenge();
    assert_eq!(
        direct.send(&lock, Some(&Proof::challenge(stale))),
        [error(ErrorCode::KErrorBadNonce, CommandId::LockAction)]
    );
    // A fresh one works once; replaying it fails.
    let fresh = direct.challenge();
    let replies = direct.send(&lock, Some(&Proof::challenge(fresh)));
    assert_eq!(replies[0], Message::Status(StatusCode::Accepted));
    direct.advance(Duration::from_secs(5));
    assert_eq!(
        direct.send(&lock, Some(&Proof::challenge(fresh))),
        [error(ErrorCode::KErrorBadNonce, CommandId::LockAction)]
    );
    // A challenge issued to one authorization is worthless to another.
    let other = paired(direct.pair_another(IdType::App, 77, 0x42));
    let mine = direct.challenge();
    let first = direct.switch(other.0, other.1);
    assert_eq!(
        direct.send(&lock, Some(&Proof::challenge(mine))),
        [error(ErrorCode::KErrorBadNonce, CommandId::LockAction)]
    );
    direct.switch(first.0, first.1);
    // Challenges do not survive a reconnect.
    let before = direct.challenge();
    direct.device.on_disconnect(direct.now);
    direct.device.on_connect(direct.now);
    assert_eq!(
        direct.send(&Message::RequestConfig, Some(&Proof::challenge(before))),
        [error(ErrorCode::KErrorBadNonce, CommandId::RequestConfig)]
    );
}

#[test]
fn wrong_pins_are_refused_then_locked_out_for_a_while() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    for _ in 0..3 {
        assert_eq!(
            direct.command_with_pin(&Message::VerifySecurityPin, 1111),
            [error(ErrorCode::KErrorBadPin, CommandId::VerifySecurityPin)]
        );
    }
    assert_eq!(
        direct.command(&Message::VerifySecurityPin),
        [error(
            ErrorCode::KErrorTooManyPinAttempts,
            CommandId::VerifySecurityPin
        )]
    );
    direct.now += Duration::from_secs(61);
    assert_eq!(
        direct.command(&Message::VerifySecurityPin),
        [Message::Status(StatusCode::Complete)]
    );
}

#[test]
fn disabled_and_time_limited_authorizations_are_refused() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    let (guest_key, guest_id) = paired(direct.pair_another(IdType::App, 500, 0x51));
    let update = |enabled: bool, time_limited: bool, window: AllowedWindow| {
        Message::UpdateUserAuthorization(UserAuthorizationUpdate {
            auth_id: guest_id,
            name: "Guest".into(),
            enabled,
            remote_allowed: true,
            time_limited,
            allowed: window,
        })
    };
    assert_eq!(
        direct.command(&update(false, false, AllowedWindow::default())),
        [Message::Status(StatusCode::Complete)]
    );
    let admin = direct.switch(guest_key.clone(), guest_id);
    assert_eq!(
        direct.command(&lock_action(LockAction::Lock)),
        [error(ErrorCode::KErrorDisabled, CommandId::LockAction)]
    );
    direct.switch(admin.0.clone(), admin.1);
    // Allowed only until yesterday.
    let window = AllowedWindow {
        until_date: DateTime::from_unix(WALL_CLOCK - 86_400),
        ..AllowedWindow::default()
    };
    assert_eq!(
        direct.command(&update(true, true, window)),
        [Message::Status(StatusCode::Complete)]
    );
    direct.switch(guest_key, guest_id);
    assert_eq!(
        direct.command(&lock_action(LockAction::Lock)),
        [error(
            ErrorCode::KErrorTimeNotAllowed,
            CommandId::LockAction
        )]
    );
    // Reading the state needs no challenge and stays allowed.
    assert_eq!(
        direct.states().lock_state,
        DeviceLockState::Lock(LockState::Unlocked)
    );
    direct.switch(admin.0, admin.1);
    let unknown = Message::RemoveUserAuthorization { auth_id: 999 };
    assert_eq!(
        direct.command(&unknown),
        [error(
            ErrorCode::KErrorInvalidAuthId,
            CommandId::RemoveUserAuthorization
        )]
    );
}
