//! Protocol defects found by checking our code against independent implementations and the
//! published layouts. Every test carries the literal bytes of its defect, so it fails on the
//! code that had it.

use std::time::Duration;

use nuki_edge::ble::sim::{
    ControlError, RadioModel, SimControl, SimDevice, SimDeviceSpec, SimKind, SimTransport,
};
use nuki_edge::ble::DeviceAddress;
use nuki_edge::devices::client::DeviceClient;
use nuki_edge::devices::link::{LinkError, LinkTimeouts, NukiLink};
use nuki_edge::nuki::command::CommandId;
use nuki_edge::nuki::crypto::{KeyPair, SharedKey};
use nuki_edge::nuki::enums::IdType;
use nuki_edge::nuki::exchange::Session;
use nuki_edge::nuki::frame;
use nuki_edge::nuki::messages::{
    self, AuthorizationDataUltra, Config, KeyturnerStates, Message, SecurityPin,
};
use nuki_edge::nuki::pairing::{PairingClient, PairingRequest, PairingStep};
use nuki_edge::nuki::reassembly::Framing;
use nuki_edge::nuki::uuids::ServiceFamily;

const WALL_CLOCK: i64 = 1_714_566_896;
const ULTRA_PIN: u32 = 123_456;
const CLIENT_SECRET: [u8; 32] = [0x21; 32];

fn bytes(text: &str) -> Vec<u8> {
    hex::decode(text.replace(' ', "")).unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1. Smart Lock Ultra pairing: the fixed authorization id is the bytes 7F FF FF FF.
// ---------------------------------------------------------------------------------------------

fn ultra_in_pairing_mode() -> SimDevice {
    let mut spec = SimDeviceSpec::new("sim:ultra", "Ultra", 0x5A00_0031, SimKind::SmartLockUltra);
    spec.pin = Some(ULTRA_PIN);
    let mut device = SimDevice::new(spec, WALL_CLOCK);
    device.on_connect(Duration::ZERO);
    assert!(device.press_button(Duration::ZERO));
    device
}

fn pairing_write(device: &mut SimDevice, message: &[u8]) -> Vec<u8> {
    let gdio = ServiceFamily::Ultra.characteristics().pairing_gdio;
    let mut out = device.on_write(gdio, message, Duration::ZERO);
    assert_eq!(out.len(), 1, "one reply per pairing message");
    assert_eq!(
        out[0].characteristic, gdio,
        "pairing replies come on the pairing GDIO"
    );
    out.remove(0).bytes
}

/// Runs our pairing client against the simulated Ultra until it has produced the encrypted
/// Authorization Data. Returns the client, those bytes and the shared key.
fn client_up_to_ultra_authorization_data(
    device: &mut SimDevice,
) -> (PairingClient, Vec<u8>, SharedKey) {
    let request = PairingRequest {
        id_type: IdType::App,
        app_id: 0x1234_5678,
        name: "nuki-edge".into(),
        security_pin: Some(SecurityPin::Long(ULTRA_PIN)),
    };
    let mut client = PairingClient::new(
        request,
        ServiceFamily::Ultra,
        KeyPair::from_secret(CLIENT_SECRET),
        [0x33; 32],
    );
    let mut outgoing = client.start();
    let mut key = None;
    loop {
        let reply = pairing_write(device, &outgoing);
        if let Ok(plain) = frame::decode_plain(&reply) {
            if plain.command == CommandId::PublicKey {
                let device_public: [u8; 32] = plain.payload.as_slice().try_into().unwrap();
                key = Some(KeyPair::from_secret(CLIENT_SECRET).shared_key(&device_public));
            }
        }
        match client.on_message(&reply, [0x55; 24]).expect("pairing step") {
            PairingStep::Send(next) if client.expected_framing() == Framing::Encrypted => {
                return (client, next, key.expect("public key seen"));
            }
            PairingStep::Send(next) => outgoing = next,
            PairingStep::Done(_) => panic!("done before the Ultra step"),
        }
    }
}

#[test]
fn ultra_pairing_client_sends_the_fixed_auth_id_as_7f_ff_ff_ff() {
    let mut device = ultra_in_pairing_mode();
    let (mut client, authorization_data, key) = client_up_to_ultra_authorization_data(&mut device);
    // ADATA: nonce 24 ‖ authorization id 4 ‖ length 2.
    assert_eq!(authorization_data[24..28], [0x7F, 0xFF, 0xFF, 0xFF]);
    let opened = frame::open_encrypted(&key, &authorization_data).unwrap();
    assert_eq!(
        opened.sealed_auth_id.to_le_bytes(),
        [0x7F, 0xFF, 0xFF, 0xFF]
    );
    assert_eq!(opened.command, CommandId::AuthorizationData);
    // The simulated Ultra accepts it and the pairing completes.
    let reply = pairing_write(&mut device, &authorization_data);
    let PairingStep::Done(outcome) = client.on_message(&reply, [0x56; 24]).unwrap() else {
        panic!("pairing should be complete");
    };
    assert!(outcome.ultra);
    assert_eq!(
        device.snapshot().authorizations[0].auth_id,
        outcome.auth_id,
        "the device stored the authorization it reported"
    );
}

/// Encrypted Ultra Authorization Data with chosen authorization ids in ADATA and PDATA.
fn ultra_authorization_data(key: &SharedKey, clear_id: [u8; 4], sealed_id: [u8; 4]) -> Vec<u8> {
    let data = Message::AuthorizationDataUltra(AuthorizationDataUltra {
        app_id: 0x1234_5678,
        name: "nuki-edge".into(),
        pin: SecurityPin::Long(ULTRA_PIN),
    });
    let payload = messages::encode(&data, ServiceFamily::Ultra, None);
    let mut message = frame::encode_encrypted(
        key,
        &[0x77; 24],
        u32::from_le_bytes(sealed_id),
        CommandId::AuthorizationData,
        &payload,
    );
    message[24..28].copy_from_slice(&clear_id);
    message
}

#[test]
fn simulated_ultra_refuses_any_other_pairing_auth_id() {
    let byte_swapped = [0xFF, 0xFF, 0xFF, 0x7F];
    let app_id = 0x1234_5678u32.to_le_bytes();
    for refused_id in [byte_swapped, app_id] {
        let mut device = ultra_in_pairing_mode();
        let (_, _, key) = client_up_to_ultra_authorization_data(&mut device);
        let reply = pairing_write(
            &mut device,
            &ultra_authorization_data(&key, refused_id, refused_id),
        );
        // K_ERROR_NOT_AUTHORIZED, unencrypted, command id 0: the device does not know this
        // authorization, exactly the report a real lock sends for one.
        assert_eq!(reply, bytes("12 00 20 00 00 13 D7"), "{refused_id:02X?}");
        assert!(device.snapshot().authorizations.is_empty());
        assert!(device.in_pairing_mode());
    }
}

#[test]
fn simulated_ultra_refuses_a_sealed_auth_id_that_differs_from_the_clear_one() {
    let mut device = ultra_in_pairing_mode();
    let (_, _, key) = client_up_to_ultra_authorization_data(&mut device);
    let message =
        ultra_authorization_data(&key, [0x7F, 0xFF, 0xFF, 0xFF], [0xFF, 0xFF, 0xFF, 0x7F]);
    let reply = pairing_write(&mut device, &message);
    let opened = frame::decode_encrypted(&key, &reply).expect("an encrypted error report");
    assert_eq!(opened.auth_id.to_le_bytes(), [0x7F, 0xFF, 0xFF, 0xFF]);
    assert_eq!(opened.command, CommandId::ErrorReport);
    // K_ERROR_NOT_AUTHORIZED for Authorization Data 0x0006.
    assert_eq!(opened.payload, [0x20, 0x06, 0x00]);
    assert!(device.snapshot().authorizations.is_empty());
}

#[test]
fn simulated_ultra_accepts_the_published_auth_id_from_any_client() {
    let mut device = ultra_in_pairing_mode();
    let (_, _, key) = client_up_to_ultra_authorization_data(&mut device);
    let published = [0x7F, 0xFF, 0xFF, 0xFF];
    let reply = pairing_write(
        &mut device,
        &ultra_authorization_data(&key, published, published),
    );
    let opened = frame::decode_encrypted(&key, &reply).expect("encrypted Authorization-ID");
    assert_eq!(opened.auth_id.to_le_bytes(), published);
    assert_eq!(opened.command, CommandId::AuthorizationId);
    assert_eq!(opened.payload.len(), 20, "authorization id 4 ‖ UUID 16");
    assert_eq!(device.snapshot().authorizations.len(), 1);
}

// ---------------------------------------------------------------------------------------------
// 2. Opener Keyturner States: bytes 19–24 unused, accessory battery state at byte 25.
// ---------------------------------------------------------------------------------------------

/// An Opener in door mode with ring to open active, after byte 18: six unused bytes (the first
/// one set, which the lock layout reads as "night mode active"), then the accessory battery
/// state 0x03 (keypad present, keypad battery critical).
const OPENER_STATES: &str = "02 03 00 E8 07 05 01 0C 22 38 3C 00 00 07 00 01 00 00 00 \
                             01 00 00 00 00 00 03";

fn decode_states(payload: &[u8], family: ServiceFamily) -> KeyturnerStates {
    match messages::decode(CommandId::KeyturnerStates, payload, family)
        .unwrap()
        .message
    {
        Message::KeyturnerStates(states) => states,
        other => panic!("not states: {other:?}"),
    }
}

#[test]
fn opener_states_read_the_keypad_battery_at_byte_25() {
    let payload = bytes(OPENER_STATES);
    assert_eq!(payload.len(), 26);
    let states = decode_states(&payload, ServiceFamily::Opener);
    assert_eq!(states.keypad_battery_critical(), Some(true));
    assert_eq!(states.accessory_battery_state, Some(0x03));
    assert_eq!(
        states.nightmode_active, None,
        "an Opener has no night mode byte"
    );
    assert_eq!(states.remote_access_status, None);
    assert_eq!(states.ble_strength, None);
    let json = serde_json::to_value(Message::KeyturnerStates(states.clone())).unwrap();
    assert!(json["fields"].get("nightmode_active").is_none(), "{json}");
    assert_eq!(
        messages::encode(
            &Message::KeyturnerStates(states),
            ServiceFamily::Opener,
            None
        ),
        payload,
        "re-encoding reproduces the Opener's bytes"
    );
    // The same bytes from a Smart Lock keep the lock layout.
    let lock = decode_states(&payload, ServiceFamily::Keyturner);
    assert_eq!(lock.nightmode_active, Some(true));
    assert_eq!(lock.accessory_battery_state, Some(0x00));
}

#[test]
fn short_opener_states_keep_what_was_sent() {
    let full = bytes(OPENER_STATES);
    for len in KeyturnerStates::MIN_LEN..full.len() {
        let states = decode_states(&full[..len], ServiceFamily::Opener);
        assert_eq!(states.accessory_battery_state, None, "{len} bytes");
        assert_eq!(states.nightmode_active, None, "{len} bytes");
        assert_eq!(
            messages::encode(
                &Message::KeyturnerStates(states),
                ServiceFamily::Opener,
                None
            ),
            full[..len],
            "{len} bytes"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 3. Config of Smart Lock 1.0/2.0 firmware without HomeKit status and time zone id.
// ---------------------------------------------------------------------------------------------

/// Smart Lock Config up to the hardware revision (71 bytes): Nuki ID 33C335C5, "Front door",
/// 52.52 / 13.405, pairing, button and LED on, brightness 3, 2024-05-01 12:34:56, +60 min,
/// European DST, no fob, fob actions 1 2 4, firmware 2.12.4, hardware 2.5.
const CONFIG_71: &str = "C535C33346726F6E7420646F6F7200000000000000000000\
                         0000000000000000000000007B145242E17A564100010101\
                         03E80705010C22383C000100010204000000020C040205";

fn decode_config(payload: &[u8]) -> Message {
    messages::decode(CommandId::Config, payload, ServiceFamily::Keyturner)
        .unwrap_or_else(|error| panic!("{} bytes refused: {error}", payload.len()))
        .message
}

#[test]
fn config_without_homekit_and_time_zone_is_accepted() {
    let short = bytes(CONFIG_71);
    assert_eq!(short.len(), 71);
    let message = decode_config(&short);
    let Message::Config(Config::Lock(config)) = &message else {
        panic!("lock config expected");
    };
    assert_eq!(config.nuki_id, 0x33C3_35C5);
    assert_eq!(config.name, "Front door");
    assert_eq!(config.hardware_revision.major, 2);
    assert_eq!(config.homekit_status, None);
    assert_eq!(config.timezone_id, None);
    assert_eq!(
        messages::encode(&message, ServiceFamily::Keyturner, None),
        short
    );
    let json = serde_json::to_value(&message).unwrap();
    assert!(json["fields"].get("timezone_id").is_none(), "{json}");
}

#[test]
fn config_with_homekit_but_without_time_zone_is_accepted() {
    let mut payload = bytes(CONFIG_71);
    payload.push(0x01); // HomeKit disabled
    let message = decode_config(&payload);
    let Message::Config(Config::Lock(config)) = &message else {
        panic!("lock config expected");
    };
    assert_eq!(config.homekit_status.map(|s| s.to_u8()), Some(0x01));
    assert_eq!(config.timezone_id, None);
    assert_eq!(
        messages::encode(&message, ServiceFamily::Keyturner, None),
        payload
    );
    // Half a time zone id is still malformed.
    payload.push(0x25);
    assert!(messages::decode(CommandId::Config, &payload, ServiceFamily::Keyturner).is_err());
    // The full official layout (74 bytes) still has both.
    payload.push(0x00);
    let Message::Config(Config::Lock(config)) = decode_config(&payload) else {
        panic!("lock config expected");
    };
    assert_eq!(config.timezone_id.map(|id| id.to_u16()), Some(37));
    assert_eq!(config.device_type, None);
}

#[test]
fn config_shorter_than_the_hardware_revision_is_still_refused() {
    let short = bytes(CONFIG_71);
    assert!(messages::decode(CommandId::Config, &short[..70], ServiceFamily::Keyturner).is_err());
}

// ---------------------------------------------------------------------------------------------
// 4. Log Entry Count in the 4-byte form (no "door sensor logging enabled").
// ---------------------------------------------------------------------------------------------

#[test]
fn four_byte_log_entry_count_is_accepted() {
    // Logging enabled, 42 entries, door sensor enabled.
    let short = bytes("01 2A 00 01");
    let message = messages::decode(CommandId::LogEntryCount, &short, ServiceFamily::Keyturner)
        .expect("4-byte Log Entry Count")
        .message;
    let Message::LogEntryCount(count) = &message else {
        panic!("log entry count expected");
    };
    assert!(count.logging_enabled);
    assert_eq!(count.count, 42);
    assert!(count.door_sensor_enabled);
    assert_eq!(count.door_sensor_logging_enabled, None);
    assert_eq!(
        messages::encode(&message, ServiceFamily::Keyturner, None),
        short
    );
    let full = bytes("01 2A 00 01 01");
    let Message::LogEntryCount(count) =
        messages::decode(CommandId::LogEntryCount, &full, ServiceFamily::Keyturner)
            .unwrap()
            .message
    else {
        panic!("log entry count expected");
    };
    assert_eq!(count.door_sensor_logging_enabled, Some(true));
    assert!(messages::decode(
        CommandId::LogEntryCount,
        &full[..3],
        ServiceFamily::Keyturner
    )
    .is_err());
}

// ---------------------------------------------------------------------------------------------
// The simulated devices send the layouts above, and our client reads them over the radio.
// ---------------------------------------------------------------------------------------------

async fn paired_client(
    spec: SimDeviceSpec,
    pin: SecurityPin,
) -> Result<(DeviceClient, SimControl, DeviceAddress), LinkError> {
    let address = spec.address.clone();
    let (transport, control) =
        SimTransport::with_wall_clock(vec![spec], RadioModel::default(), WALL_CLOCK);
    control.press_button(&address).expect("device exists");
    let mut link =
        NukiLink::connect(&transport, &address, LinkTimeouts::default(), Some(3)).await?;
    let request = PairingRequest {
        id_type: IdType::Bridge,
        app_id: 0x0BAD_CAFE,
        name: "nuki-edge regression".into(),
        security_pin: Some(pin),
    };
    let outcome = link.pair(request).await?;
    let session: Session = outcome.session(link.family());
    Ok((
        DeviceClient::new(link, session, 0x0BAD_CAFE, Some(pin)),
        control,
        address,
    ))
}

#[tokio::test(start_paused = true)]
async fn simulated_opener_sends_the_opener_states_layout() {
    let mut spec = SimDeviceSpec::new("sim:opener", "Entrance", 0x3490_0792, SimKind::Opener);
    spec.keypad = true;
    spec.pin = Some(4711);
    let (mut client, control, address) = paired_client(spec, SecurityPin::Short(4711))
        .await
        .expect("paired");
    let states = client.states().await.expect("states");
    let payload = messages::encode(
        &Message::KeyturnerStates(states.clone()),
        ServiceFamily::Opener,
        None,
    );
    assert_eq!(payload.len(), 26);
    assert_eq!(payload[19..25], [0; 6], "bytes 19–24 are unused");
    assert_eq!(payload[25], 0x01, "keypad present, its battery fine");
    assert_eq!(states.keypad_battery_critical(), Some(false));
    assert_eq!(states.nightmode_active, None);

    control
        .set_keypad_battery_critical(&address, true)
        .expect("the Opener has a keypad");
    let states = client.states().await.expect("states");
    assert_eq!(states.accessory_battery_state, Some(0x03));
    assert_eq!(
        states.keypad_battery_critical(),
        Some(true),
        "the warning arrives"
    );
}

#[tokio::test(start_paused = true)]
async fn simulated_smart_lock_keeps_the_keypad_battery_at_byte_20() {
    let mut spec = SimDeviceSpec::new("sim:sl4", "Flat 3", 0x4400_0003, SimKind::SmartLock4);
    spec.keypad = true;
    spec.pin = Some(4711);
    let (mut client, control, address) = paired_client(spec, SecurityPin::Short(4711))
        .await
        .expect("paired");
    control
        .set_keypad_battery_critical(&address, true)
        .expect("the lock has a keypad");
    let states = client.states().await.expect("states");
    let payload = messages::encode(
        &Message::KeyturnerStates(states.clone()),
        ServiceFamily::Keyturner,
        None,
    );
    assert_eq!(payload.len(), 27);
    assert_eq!(payload[19], 0x00, "night mode off");
    assert_eq!(payload[20], 0x03, "keypad present, its battery critical");
    assert_eq!(states.keypad_battery_critical(), Some(true));
}

#[test]
fn keypad_battery_needs_a_keypad() {
    let spec = SimDeviceSpec::new("sim:opener", "Entrance", 0x3490_0792, SimKind::Opener);
    let mut device = SimDevice::new(spec, WALL_CLOCK);
    assert!(matches!(
        device.set_keypad_battery_critical(true, Duration::ZERO),
        Err(ControlError::NoKeypad)
    ));
}

#[tokio::test(start_paused = true)]
async fn simulated_old_smart_lock_sends_the_short_config_and_the_client_reads_it() {
    for (len, homekit) in [(71, false), (72, true)] {
        let mut spec = SimDeviceSpec::new("sim:sl2", "Old door", 0x2200_0001, SimKind::SmartLock2);
        spec.config_layout_len = Some(len);
        spec.pin = Some(4711);
        let (mut client, _control, _address) = paired_client(spec, SecurityPin::Short(4711))
            .await
            .expect("paired");
        let config = client.config().await.expect("config");
        let Config::Lock(lock) = &config else {
            panic!("lock config expected");
        };
        assert_eq!(lock.homekit_status.is_some(), homekit, "{len} bytes");
        assert_eq!(lock.timezone_id, None, "{len} bytes");
        assert_eq!(
            messages::encode(&Message::Config(config), ServiceFamily::Keyturner, None).len(),
            len
        );
    }
}
