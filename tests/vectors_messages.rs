//! Typed decoding and encoding of the published and generated vectors (copied from the
//! protocol notes: official §9 pairing example and the deterministic session).

use nuki_edge::app::decode::{decode_command_line, DecodeInputError, NOT_CHECKED};
use nuki_edge::nuki::codec::DateTime;
use nuki_edge::nuki::command::CommandId;
use nuki_edge::nuki::crypto::{self, SharedKey};
use nuki_edge::nuki::enums::{
    CompletionStatus, DeviceAction, DeviceLockState, DoorSensorState, ErrorCode, IdType,
    LockAction, LockState, NukiState, StatusCode, Trigger,
};
use nuki_edge::nuki::frame;
use nuki_edge::nuki::messages::{self, Message, Proof};
use nuki_edge::nuki::uuids::ServiceFamily;

const SESSION_KEY: &str = "240F211B9601AA3499561285DA52853106A80284C92FDF7BEB50AB2D5866D17A";
const OFFICIAL_KEY: &str = "217FCB0F18CAF284E9BDEA0B94B83B8D10867ED706BFDEDBD2381F4CB3B8F730";

/// (name, PDATA, full message) of the encrypted session, auth id 5.
const SESSION: [(&str, &str, &str); 7] = [
    (
        "E1",
        "0500000001000400F0C3",
        "000102030405060708090A0B0C0D0E0F1011121314151617050000001A0070AA68BCBA26DEB0D87A40BC243AEF1805C37DC429839E6D149A",
    ),
    (
        "E2",
        "05000000040055555555555555555555555555555555555555555555555555555555555555556ED4",
        "18191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F0500000038002CDEFD7D8BE40A15E10EE43278D813B4F64BB7ED7C3388E3AA97960AC7355F19D5271D6924E587C9503FEDA1AC8DDA47CFCD79E2CBE3811C",
    ),
    (
        "E3",
        "050000000D00020D0C0B0A00555555555555555555555555555555555555555555555555555555555555555534F7",
        "303132333435363738393A3B3C3D3E3F4041424344454647050000003E00741FF8466A7780E35731DC64BEDB4934347A43429FF358B201ED14245F76FB6520497F89ECA9AB8B5EAB267ED7F978429D567A92AB6A9B3A326200DCD903",
    ),
    (
        "E4",
        "050000000E00014983",
        "48494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F05000000190082926961DEC516DAE66CABDEE3C5E781A9DB40A66E2558D067",
    ),
    (
        "E5",
        "050000000C00020100E80705010C2238780064070002000002000002C401000000E0D3",
        "606162636465666768696A6B6C6D6E6F70717273747576770500000033004954C10CA79221B4341507635AAF9D8BFED493B878FCE1D8FEA11612032FA5E3C2831F831192E929A33C7BF56626FEB60356CF",
    ),
    (
        "E6",
        "050000000E00006893",
        "78797A7B7C7D7E7F808182838485868788898A8B8C8D8E8F0500000019000C2936DBCB425D9FEC14444405258E063A8808436C1FBBDA78",
    ),
    (
        "E7",
        "050000001200220D009DB1",
        "909192939495969798999A9B9C9D9E9FA0A1A2A3A4A5A6A7050000001B00E865BD4D1EFC9433FEE23ADCC813A52584CEB3720D542A81C422B1",
    ),
];

fn bytes(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

fn session_key() -> SharedKey {
    SharedKey::from_hex(SESSION_KEY).unwrap()
}

fn session_message(name: &str) -> (Vec<u8>, Vec<u8>) {
    let (_, pdata, full) = SESSION.iter().find(|(n, _, _)| *n == name).unwrap();
    (bytes(pdata), bytes(full))
}

/// Opens a session message and decodes its payload as a lock.
fn open_and_decode(name: &str) -> messages::Decoded {
    let (_, full) = session_message(name);
    let frame = frame::decode_encrypted(&session_key(), &full).unwrap();
    assert_eq!(frame.auth_id, 5);
    messages::decode(frame.command, &frame.payload, ServiceFamily::Keyturner).unwrap()
}

/// Frames a typed message with the vector's nonce, as a sender would.
fn seal_typed(name: &str, message: &Message, proof: Option<&Proof>) -> Vec<u8> {
    let (_, full) = session_message(name);
    let nonce: [u8; 24] = full[..24].try_into().unwrap();
    let payload = messages::encode(message, ServiceFamily::Keyturner, proof);
    frame::encode_encrypted(&session_key(), &nonce, 5, message.command(), &payload)
}

#[test]
fn every_session_message_decrypts_to_its_pdata_and_reseals_byte_for_byte() {
    let key = session_key();
    for (name, pdata, full) in SESSION {
        let full = bytes(full);
        let nonce: [u8; 24] = full[..24].try_into().unwrap();
        let opened = crypto::open(&key, &nonce, &full[frame::ADATA_LEN..]).unwrap();
        assert_eq!(hex::encode_upper(&opened), pdata, "{name}");
        let resealed = crypto::seal(&key, &nonce, &bytes(pdata));
        assert_eq!(resealed, full[frame::ADATA_LEN..], "{name}");
        // Every payload decodes, and re-encoding the typed message gives the same payload.
        let frame = frame::decode_encrypted(&key, &full).unwrap();
        let decoded = messages::decode(frame.command, &frame.payload, ServiceFamily::Keyturner)
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        let encoded = messages::encode(
            &decoded.message,
            ServiceFamily::Keyturner,
            decoded.proof.as_ref(),
        );
        assert_eq!(encoded, frame.payload, "{name}");
        assert_eq!(
            seal_typed(name, &decoded.message, decoded.proof.as_ref()),
            full,
            "{name}"
        );
    }
}

#[test]
fn e1_request_challenge() {
    let decoded = open_and_decode("E1");
    assert_eq!(
        decoded.message,
        Message::RequestData {
            command: CommandId::Challenge,
            extra: vec![]
        }
    );
    assert_eq!(decoded.proof, None);
}

#[test]
fn e2_challenge() {
    assert_eq!(
        open_and_decode("E2").message,
        Message::Challenge([0x55; 32])
    );
}

#[test]
fn e3_lock_action_typed_and_built_from_scratch() {
    let decoded = open_and_decode("E3");
    let expected = Message::LockAction {
        action: DeviceAction::Lock(LockAction::Lock),
        app_id: 0x0A0B_0C0D,
        flags: 0,
        name_suffix: None,
    };
    assert_eq!(decoded.message, expected);
    assert_eq!(decoded.proof, Some(Proof::challenge([0x55; 32])));
    let (_, full) = session_message("E3");
    assert_eq!(
        seal_typed("E3", &expected, Some(&Proof::challenge([0x55; 32]))),
        full
    );
}

#[test]
fn e4_e6_status() {
    assert_eq!(
        open_and_decode("E4").message,
        Message::Status(StatusCode::Accepted)
    );
    assert_eq!(
        open_and_decode("E6").message,
        Message::Status(StatusCode::Complete)
    );
}

#[test]
fn e5_keyturner_states_field_by_field() {
    let Message::KeyturnerStates(states) = open_and_decode("E5").message else {
        panic!("not keyturner states");
    };
    assert_eq!(states.nuki_state, NukiState::DoorMode);
    assert_eq!(states.lock_state, DeviceLockState::Lock(LockState::Locked));
    assert_eq!(states.trigger, Trigger::System);
    assert_eq!(
        states.current_time,
        DateTime {
            year: 2024,
            month: 5,
            day: 1,
            hour: 12,
            minute: 34,
            second: 56
        }
    );
    assert_eq!(
        states.current_time.to_iso8601().as_deref(),
        Some("2024-05-01T12:34:56Z")
    );
    assert_eq!(states.timezone_offset, 120);
    assert_eq!(states.battery_state, 0x64);
    assert!(!states.battery_critical());
    assert!(!states.battery_charging());
    assert_eq!(states.battery_percent(), 50);
    assert_eq!(states.config_update_count, 7);
    assert_eq!(states.lock_n_go_timer, 0);
    assert_eq!(
        states.last_lock_action,
        Some(DeviceAction::Lock(LockAction::Lock))
    );
    assert_eq!(states.last_lock_action_trigger, Some(Trigger::System));
    assert_eq!(
        states.last_lock_action_completion_status,
        Some(CompletionStatus::Success)
    );
    assert_eq!(states.door_sensor_state, Some(DoorSensorState::DoorClosed));
    assert_eq!(states.nightmode_active, Some(false));
    assert_eq!(states.accessory_battery_state, Some(0));
    assert_eq!(states.remote_access_status, Some(0x02));
    assert_eq!(states.ble_strength, Some(-60));
    assert_eq!(states.wifi_strength, Some(1));
    assert_eq!(states.wifi_status, Some(0));
    assert_eq!(states.mqtt_status, Some(0));
    assert_eq!(states.thread_status, Some(0));
    assert_eq!(states.encoded_len(), 27);
}

#[test]
fn e5_shorter_layouts_round_trip() {
    let (pdata, _) = session_message("E5");
    let payload = &pdata[6..pdata.len() - 2];
    for len in [15, 19, 21, 26, 27] {
        let decoded = messages::decode(
            CommandId::KeyturnerStates,
            &payload[..len],
            ServiceFamily::Keyturner,
        )
        .unwrap();
        let encoded = messages::encode(&decoded.message, ServiceFamily::Keyturner, None);
        assert_eq!(encoded, payload[..len], "length {len}");
    }
    // Extra bytes of a newer firmware are ignored.
    let mut longer = payload.to_vec();
    longer.extend_from_slice(&[9, 9]);
    let decoded = messages::decode(
        CommandId::KeyturnerStates,
        &longer,
        ServiceFamily::Keyturner,
    )
    .unwrap();
    assert_eq!(
        messages::encode(&decoded.message, ServiceFamily::Keyturner, None),
        payload
    );
    assert!(messages::decode(
        CommandId::KeyturnerStates,
        &payload[..14],
        ServiceFamily::Keyturner
    )
    .is_err());
}

#[test]
fn e7_error_report_bad_nonce_for_lock_action() {
    assert_eq!(
        open_and_decode("E7").message,
        Message::ErrorReport {
            code: ErrorCode::KErrorBadNonce,
            command: CommandId::LockAction
        }
    );
}

// ---- pairing (plain frames) ----

fn plain(fragments: &[&str]) -> (CommandId, messages::Decoded, Vec<u8>) {
    let joined = bytes(&fragments.concat());
    let frame = frame::decode_plain(&joined).unwrap();
    let decoded = messages::decode(frame.command, &frame.payload, ServiceFamily::Keyturner)
        .unwrap_or_else(|error| panic!("{:?}: {error}", frame.command));
    let encoded = messages::encode(&decoded.message, ServiceFamily::Keyturner, None);
    assert_eq!(
        frame::encode_plain(decoded.message.command(), &encoded),
        joined
    );
    (frame.command, decoded, frame.payload)
}

fn array32(text: &str) -> [u8; 32] {
    bytes(text).try_into().unwrap()
}

#[test]
fn official_pairing_messages_decode_typed() {
    let (_, request, _) = plain(&["0100030027A7"]);
    assert_eq!(
        request.message,
        Message::RequestData {
            command: CommandId::PublicKey,
            extra: vec![]
        }
    );

    let (_, lock_key, _) = plain(&[
        "03002FE57DA347CD62431528DAAC5FBB290730FF",
        "F684AFC4CFC2ED90995F58CB3B749DB9",
    ]);
    assert_eq!(
        lock_key.message,
        Message::PublicKey(array32(
            "2FE57DA347CD62431528DAAC5FBB290730FFF684AFC4CFC2ED90995F58CB3B74"
        ))
    );

    let (_, client_key, _) =
        plain(&["0300F88127CCF48023B5CBE9101D24BAA8A368DA94E8C2E3CDE2DED29CE96AB50C159241"]);
    assert_eq!(
        client_key.message,
        Message::PublicKey(array32(
            "F88127CCF48023B5CBE9101D24BAA8A368DA94E8C2E3CDE2DED29CE96AB50C15"
        ))
    );

    let (_, challenge, _) = plain(&[
        "04006CD4163D159050C798553EAA57E278A579AF",
        "FCBC56F09FC57FE879E51C42DF17C3DF",
    ]);
    assert_eq!(
        challenge.message,
        Message::Challenge(array32(
            "6CD4163D159050C798553EAA57E278A579AFFCBC56F09FC57FE879E51C42DF17"
        ))
    );

    let (_, authenticator, _) =
        plain(&["0500B09A0D3979A029E5FD027B519EAA200BC14AD3E163D3BE4563843E021073BCB1C357"]);
    assert_eq!(
        authenticator.message,
        Message::AuthorizationAuthenticator(array32(
            "B09A0D3979A029E5FD027B519EAA200BC14AD3E163D3BE4563843E021073BCB1"
        ))
    );

    let (_, data, _) = plain(&["0600CF1B9E7801E3196E6594E76D57908EE500AAD5C33F4B6E0BBEA0DDEF82967BFC00000000004D6172632028546573742900000000000000000000000000000000000000000052AFE0A664B4E9B56DC6BD4CB718A6C9FED6BE17A7411072AA0D31537814057769F2"]);
    let Message::AuthorizationData(data) = data.message else {
        panic!("not authorization data");
    };
    assert_eq!(data.name, "Marc (Test)");
    assert_eq!(data.id_type, IdType::App);
    assert_eq!(data.app_id, 0);
    assert_eq!(
        data.nonce,
        array32("52AFE0A664B4E9B56DC6BD4CB718A6C9FED6BE17A7411072AA0D315378140577")
    );
    // The typed fields are exactly what the authenticator a2 covers (before nK2).
    let key = SharedKey::from_hex(OFFICIAL_KEY).unwrap();
    let nk2 = bytes("E0742CFEA39CB46109385BF91286A3C02F40EE86B0B62FC34033094DE41E2C0D");
    assert!(crypto::verify_authenticator(
        &key,
        &[&data.authenticated_fields(), &nk2],
        &data.authenticator
    ));

    let (_, id, _) = plain(&[
        "07003A270A2E453443C3790E657CEBE634B03F01",
        "02F45681B4067C661D46E6E15EDF0200000083B3",
        "3643C6D97EF77ED51C02A277CBF7EA479915982F",
        "13C61D997A56678AD77791BFA7E95229A3DD34F8",
        "7132BF3E3C97DB9F",
    ]);
    let Message::AuthorizationId(id) = id.message else {
        panic!("not authorization id");
    };
    assert_eq!(id.auth_id, 2);
    assert_eq!(id.uuid.to_vec(), bytes("83B33643C6D97EF77ED51C02A277CBF7"));
    assert_eq!(
        id.nonce,
        array32("EA479915982F13C61D997A56678AD77791BFA7E95229A3DD34F87132BF3E3C97")
    );

    let (_, confirmation, _) = plain(&[
        "1E003A41B91A66FBC4D22EFEFBB7272140829695A3917433D5BEB981B76166D13F8A02000000CDF5",
    ]);
    assert_eq!(
        confirmation.message,
        Message::AuthorizationIdConfirmation {
            authenticator: array32(
                "3A41B91A66FBC4D22EFEFBB7272140829695A3917433D5BEB981B76166D13F8A"
            ),
            auth_id: 2
        }
    );

    let (_, status, _) = plain(&["0E00009DD7"]);
    assert_eq!(status.message, Message::Status(StatusCode::Complete));
}

#[test]
fn generated_pairing_messages_decode_typed() {
    let (_, data, _) = plain(&["06000B5D13AFB8517B8DA9AFC9EE15F847FC9D2B94C8B1E8BF9959E8C5610957DD84010D0C0B0A47617465776179000000000000000000000000000000000000000000000000003333333333333333333333333333333333333333333333333333333333333333F0F9"]);
    let Message::AuthorizationData(data) = data.message else {
        panic!("not authorization data");
    };
    assert_eq!(data.id_type, IdType::Bridge);
    assert_eq!(data.app_id, 0x0A0B_0C0D);
    assert_eq!(data.name, "Gateway");
    assert_eq!(data.nonce, [0x33; 32]);

    let (_, id, _) = plain(&["0700963236A92A07B7C74F25CD0A50A8D19E383D1BE7487EC50A08C04204F813CB4405000000A0A1A2A3A4A5A6A7A8A9AAABACADAEAF4444444444444444444444444444444444444444444444444444444444444444B7F2"]);
    let Message::AuthorizationId(id) = id.message else {
        panic!("not authorization id");
    };
    assert_eq!(id.auth_id, 5);
    assert_eq!(id.uuid.to_vec(), bytes("A0A1A2A3A4A5A6A7A8A9AAABACADAEAF"));
    assert_eq!(id.nonce, [0x44; 32]);
}

// ---- the decode command ----

fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|part| part.to_string()).collect()
}

#[test]
fn cli_decodes_e3_with_key() {
    let (_, full) = session_message("E3");
    let text = hex::encode_upper(&full);
    // Split like 20-byte indications.
    let fragments: Vec<String> = text
        .as_bytes()
        .chunks(40)
        .map(|chunk| String::from_utf8(chunk.to_vec()).unwrap())
        .collect();
    let report = decode_command_line(
        &fragments,
        Some(SESSION_KEY),
        false,
        ServiceFamily::Keyturner,
    )
    .unwrap();
    assert_eq!(report["framing"], "encrypted");
    assert_eq!(report["command"], "lock_action");
    assert_eq!(report["command_id"], "0x000d");
    assert_eq!(report["authorization_id"], 5);
    assert_eq!(report["crc_valid"], true);
    assert_eq!(report["authenticated"], true);
    assert_eq!(report["fields"]["action"], "lock");
    assert_eq!(report["fields"]["app_id"], 0x0A0B_0C0D);
    assert_eq!(report["fields"]["flags"], 0);
    assert_eq!(report["proof"]["nonce"], "55".repeat(32));
}

#[test]
fn cli_reports_states_with_named_fields() {
    let (_, full) = session_message("E5");
    let report = decode_command_line(
        &[hex::encode(&full)],
        Some(SESSION_KEY),
        false,
        ServiceFamily::Keyturner,
    )
    .unwrap();
    let fields = &report["fields"];
    assert_eq!(fields["nuki_state"], "door_mode");
    assert_eq!(fields["lock_state"], "locked");
    assert_eq!(fields["current_time"], "2024-05-01T12:34:56Z");
    assert_eq!(fields["battery_state"]["percent"], 50);
    assert_eq!(fields["door_sensor_state"], "door_closed");
    assert_eq!(fields["ble_strength"], -60);
}

#[test]
fn cli_wrong_key_reports_unauthenticated_header() {
    let (_, full) = session_message("E3");
    let report = decode_command_line(
        &[hex::encode(&full)],
        Some(OFFICIAL_KEY),
        false,
        ServiceFamily::Keyturner,
    )
    .unwrap();
    assert_eq!(report["framing"], "encrypted");
    assert_eq!(report["authenticated"], false);
    assert_eq!(report["authorization_id"], 5);
    assert_eq!(report["length"], 62);
    assert_eq!(report["nonce"], hex::encode_upper(&full[..24]));
    assert!(report.get("fields").is_none());
}

#[test]
fn cli_without_key_shows_the_clear_header() {
    let (_, full) = session_message("E7");
    let report =
        decode_command_line(&[hex::encode(&full)], None, false, ServiceFamily::Keyturner).unwrap();
    assert_eq!(report["framing"], "encrypted");
    assert_eq!(report["authenticated"], NOT_CHECKED);
    assert_eq!(report["authorization_id"], 5);
}

#[test]
fn cli_decodes_plain_pairing_fragments() {
    let report = decode_command_line(
        &args(&[
            "07003A270A2E453443C3790E657CEBE634B03F01",
            "02F45681B4067C661D46E6E15EDF0200000083B3",
            "3643C6D97EF77ED51C02A277CBF7EA479915982F",
            "13C61D997A56678AD77791BFA7E95229A3DD34F8",
            "7132BF3E3C97DB9F",
        ]),
        None,
        false,
        ServiceFamily::Keyturner,
    )
    .unwrap();
    assert_eq!(report["framing"], "plain");
    assert_eq!(report["command"], "authorization_id");
    assert_eq!(report["crc_valid"], true);
    assert_eq!(report["fields"]["auth_id"], 2);
    assert_eq!(report["fields"]["uuid"], "83B33643C6D97EF77ED51C02A277CBF7");

    let error = decode_command_line(
        &args(&["0E00009DD7", "0E00009DD7"]),
        None,
        false,
        ServiceFamily::Keyturner,
    )
    .unwrap_err();
    assert!(matches!(error, DecodeInputError::SeveralMessages { .. }));
}

#[test]
fn cli_never_prints_a_pin() {
    let nonce = [0x66; 32];
    let payload = messages::encode(
        &Message::VerifySecurityPin,
        ServiceFamily::Keyturner,
        Some(&Proof::with_pin(nonce, messages::SecurityPin::Short(4711))),
    );
    let key = session_key();
    let full = frame::encode_encrypted(&key, &[9; 24], 5, CommandId::VerifySecurityPin, &payload);
    let report = decode_command_line(
        &[hex::encode(&full)],
        Some(SESSION_KEY),
        false,
        ServiceFamily::Keyturner,
    )
    .unwrap();
    let text = report.to_string();
    assert_eq!(report["proof"]["pin"], messages::REDACTED);
    assert!(!text.contains("4711"));
    assert!(!text.contains(&hex::encode_upper(4711u16.to_le_bytes())));
}

#[test]
fn cli_decodes_adverts() {
    let report = decode_command_line(
        &args(&["4c000215a92ee200550111e4916c0800200c9a6633c335c5c8"]),
        None,
        true,
        ServiceFamily::Keyturner,
    )
    .unwrap();
    assert_eq!(report["beacon"]["nuki_id"], "33C335C5");
    assert_eq!(report["beacon"]["tx_power"], -56);
    assert_eq!(report["beacon"]["state_changed"], false);
    assert_eq!(report["beacon"]["family"], "keyturner");
    assert_eq!(report["name"], "Nuki_33C335C5");

    let report = decode_command_line(
        &args(&["4c000215a92ae200550111e4916c0800200c9a6634900792c4"]),
        None,
        true,
        ServiceFamily::Keyturner,
    )
    .unwrap();
    assert_eq!(report["beacon"]["family"], "opener");
    assert_eq!(report["beacon"]["nuki_id"], "34900792");
    assert_eq!(report["beacon"]["tx_power"], -60);

    // Raw AD structures: flags, name, manufacturer data with the beacon.
    let raw = "020106\
               0E094E756B695F3333433333354335\
               1AFF4c000215a92ee200550111e4916c0800200c9a6633c335c5c9";
    let report = decode_command_line(&args(&[raw]), None, true, ServiceFamily::Keyturner).unwrap();
    assert_eq!(report["advert"], "ad_structures");
    assert_eq!(report["flags"], 6);
    assert_eq!(report["local_name"], "Nuki_33C335C5");
    assert_eq!(report["beacon"]["state_changed"], true);
}

#[test]
fn cli_refuses_garbage_with_one_line() {
    let family = ServiceFamily::Keyturner;
    let cases: [(&[&str], Option<&str>, bool, DecodeInputError); 6] = [
        (
            &["zz"],
            None,
            false,
            DecodeInputError::InvalidHex { index: 0 },
        ),
        (
            &["0E0", ""],
            None,
            false,
            DecodeInputError::OddLength { index: 0 },
        ),
        (&[], None, false, DecodeInputError::Empty),
        (&["  "], None, false, DecodeInputError::Empty),
        (
            &["0E00009DD7"],
            Some("abcd"),
            false,
            DecodeInputError::BadKey,
        ),
        (
            &["0102"],
            None,
            true,
            DecodeInputError::Unrecognised {
                reason: String::new(),
            },
        ),
    ];
    for (fragments, key, advert, expected) in cases {
        let error = decode_command_line(&args(fragments), key, advert, family).unwrap_err();
        assert_eq!(
            std::mem::discriminant(&error),
            std::mem::discriminant(&expected),
            "{fragments:?}"
        );
        assert!(!error.to_string().contains('\n'));
    }
    let error = decode_command_line(&args(&["DEADBEEFCAFE"]), None, false, family).unwrap_err();
    assert!(matches!(error, DecodeInputError::Unrecognised { .. }));
    // A truncated encrypted message with a key is incomplete, not a crash.
    let (_, full) = session_message("E3");
    let error = decode_command_line(
        &[hex::encode(&full[..40])],
        Some(SESSION_KEY),
        false,
        family,
    )
    .unwrap_err();
    assert!(matches!(
        error,
        DecodeInputError::Incomplete {
            have: 40,
            need: Some(92)
        }
    ));
}

#[test]
fn cli_decodes_a_plain_gdio_error_even_with_a_key() {
    // The real lock's unencrypted "not authorized" on the keyturner GDIO.
    let report = decode_command_line(
        &args(&["12 00 20 00 00 13 D7"]),
        Some(SESSION_KEY),
        false,
        ServiceFamily::Keyturner,
    )
    .unwrap();
    assert_eq!(report["framing"], "plain");
    assert_eq!(report["command"], "error_report");
    assert_eq!(report["crc_valid"], true);
    assert_eq!(report["fields"]["code"], "k_error_not_authorized");
    assert_eq!(report["fields"]["command"], "unknown");
}

#[test]
fn cli_reports_bad_crc_and_truncation_of_plain_frames() {
    let report = decode_command_line(
        &args(&["0E00009DD8"]),
        None,
        false,
        ServiceFamily::Keyturner,
    )
    .unwrap();
    assert_eq!(report["framing"], "plain");
    assert_eq!(report["crc_valid"], false);
    assert_eq!(report["fields"]["status"], "complete");

    let error = decode_command_line(
        &args(&["03002FE57DA347CD62431528DAAC5FBB290730FF"]),
        None,
        false,
        ServiceFamily::Keyturner,
    )
    .unwrap_err();
    assert_eq!(
        error,
        DecodeInputError::Incomplete {
            have: 20,
            need: Some(36)
        }
    );
}
