//! Protocol hot paths: building a Lock Action, reading Keyturner States, a whole pairing
//! against a simulated device without radio delay.

use criterion::{black_box, criterion_group, criterion_main, Criterion};

use nuki_edge::nuki::command::CommandId;
use nuki_edge::nuki::crypto::SharedKey;
use nuki_edge::nuki::enums::{DeviceAction, LockAction};
use nuki_edge::nuki::frame;
use nuki_edge::nuki::messages::{self, Message, Proof};
use nuki_edge::nuki::uuids::ServiceFamily;

const KEY: [u8; 32] = [0x24; 32];

/// Keyturner States in the 27-byte layout, as sent by a 4th-generation lock.
const STATES_PAYLOAD: &str = "020100E80705010C2238780064070002000002000002C401000000";

fn lock_action_build_and_encrypt(c: &mut Criterion) {
    let key = SharedKey::from_bytes(KEY);
    let request = Message::LockAction {
        action: DeviceAction::Lock(LockAction::Lock),
        app_id: 0x0A0B_0C0D,
        flags: 0,
        name_suffix: None,
    };
    let proof = Proof::challenge([0x55; 32]);
    c.bench_function("lock_action_build_encrypt", |b| {
        b.iter(|| {
            let payload =
                messages::encode(black_box(&request), ServiceFamily::Keyturner, Some(&proof));
            frame::encode_encrypted(&key, &[7; 24], 5, CommandId::LockAction, &payload)
        })
    });
}

fn keyturner_states_decrypt_and_decode(c: &mut Criterion) {
    let key = SharedKey::from_bytes(KEY);
    let payload = hex::decode(STATES_PAYLOAD).unwrap_or_default();
    let message = frame::encode_encrypted(&key, &[9; 24], 5, CommandId::KeyturnerStates, &payload);
    c.bench_function("keyturner_states_decrypt_decode", |b| {
        b.iter(|| {
            let opened = frame::decode_encrypted(&key, black_box(&message)).ok()?;
            messages::decode(opened.command, &opened.payload, ServiceFamily::Keyturner).ok()
        })
    });
}

/// One whole classic pairing: the client state machine against the simulated device's
/// peripheral state machine, bytes handed over directly (no radio, no async runtime).
fn full_pairing_without_radio(c: &mut Criterion) {
    use std::time::Duration;

    use nuki_edge::ble::sim::{SimDevice, SimDeviceSpec, SimKind};
    use nuki_edge::nuki::crypto::KeyPair;
    use nuki_edge::nuki::enums::IdType;
    use nuki_edge::nuki::pairing::{PairingClient, PairingRequest, PairingStep};

    let spec = SimDeviceSpec::new("bench:lock", "Bench", 0x0BE7C401, SimKind::SmartLock4);
    let characteristic = ServiceFamily::Keyturner.characteristics().pairing_gdio;
    let pair_once = || {
        let mut device = SimDevice::new(spec.clone(), 1_764_417_600);
        device.press_button(Duration::ZERO);
        device.on_connect(Duration::ZERO);
        let request = PairingRequest {
            id_type: IdType::Bridge,
            app_id: 7,
            name: "bench".into(),
            security_pin: None,
        };
        let mut client = PairingClient::new(
            request,
            ServiceFamily::Keyturner,
            KeyPair::from_secret([0x42; 32]),
            [0x33; 32],
        );
        let mut outgoing = client.start();
        loop {
            let replies = device.on_write(characteristic, &outgoing, Duration::ZERO);
            let reply = replies.into_iter().next()?;
            match client.on_message(&reply.bytes, [0; 24]).ok()? {
                PairingStep::Send(next) => outgoing = next,
                PairingStep::Done(outcome) => return Some(outcome.auth_id),
            }
        }
    };
    // Measure only a pairing that really completes.
    assert!(
        pair_once().is_some(),
        "pairing against the simulated device failed"
    );
    c.bench_function("full_pairing_no_radio", |b| b.iter(pair_once));
}

/// Baselines measured in the same run: the cryptography alone, which is the floor of each
/// path above (seal / open of the same PDATA; the four X25519 operations of a pairing).
fn crypto_baselines(c: &mut Criterion) {
    use nuki_edge::nuki::crypto::{self, KeyPair};

    let key = SharedKey::from_bytes(KEY);
    let lock_pdata = [0u8; 46];
    c.bench_function("baseline_seal_lock_action_pdata", |b| {
        b.iter(|| crypto::seal(&key, &[7; 24], black_box(&lock_pdata)))
    });
    let states_pdata = [0u8; 35];
    let sealed = crypto::seal(&key, &[9; 24], &states_pdata);
    c.bench_function("baseline_open_states_pdata", |b| {
        b.iter(|| crypto::open(&key, &[9; 24], black_box(&sealed)))
    });
    c.bench_function("baseline_pairing_x25519", |b| {
        b.iter(|| {
            let client = KeyPair::from_secret(black_box([1; 32]));
            let device = KeyPair::from_secret(black_box([2; 32]));
            (
                client.shared_key(&device.public_key()),
                device.shared_key(&client.public_key()),
            )
        })
    });
}

criterion_group!(
    benches,
    crypto_baselines,
    lock_action_build_and_encrypt,
    keyturner_states_decrypt_and_decode,
    full_pairing_without_radio
);
criterion_main!(benches);
