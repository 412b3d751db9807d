//! The published and generated vectors, driven through the client state machines.
//! Sources: the official "Smart Lock API V2.1" §9 example (with its rendering fault repaired)
//! and a deterministic generated session with a known lock key.

use nuki_edge::nuki::crypto::{KeyPair, SharedKey};
use nuki_edge::nuki::enums::{
    DeviceAction, DeviceLockState, ErrorCode, IdType, LockAction, LockState,
};
use nuki_edge::nuki::exchange::{Exchange, ExchangeError, ExchangeStep, Session};
use nuki_edge::nuki::messages::Message;
use nuki_edge::nuki::pairing::{PairingClient, PairingRequest, PairingStep};
use nuki_edge::nuki::reassembly::{Framing, Reassembler};
use nuki_edge::nuki::uuids::ServiceFamily;

fn h(text: &str) -> Vec<u8> {
    hex::decode(text).expect("test vector hex")
}

fn h32(text: &str) -> [u8; 32] {
    h(text).try_into().expect("32 bytes")
}

fn nonce24(start: u8) -> [u8; 24] {
    std::array::from_fn(|i| start + i as u8)
}

/// Reassembles indications the way they were printed, one message at a time.
fn reassemble(parts: &[&str]) -> Vec<u8> {
    let mut reassembler = Reassembler::new(Framing::Plain);
    let mut message = None;
    for part in parts {
        assert!(message.is_none(), "message completed before its last part");
        message = reassembler.push(&h(part)).expect("valid fragment");
    }
    message.expect("message complete after the last part")
}

fn expect_send(step: PairingStep) -> Vec<u8> {
    match step {
        PairingStep::Send(bytes) => bytes,
        PairingStep::Done(_) => panic!("pairing finished early"),
    }
}

#[test]
fn official_example_pairing() {
    let keypair = KeyPair::from_secret(h32(
        "8CAA54672307BFFDF5EA183FC607158D2011D008ECA6A1088614FF0853A5AA07",
    ));
    let request = PairingRequest {
        id_type: IdType::App,
        app_id: 0,
        name: "Marc (Test)".into(),
        security_pin: None,
    };
    let client_nonce = h32("52AFE0A664B4E9B56DC6BD4CB718A6C9FED6BE17A7411072AA0D315378140577");
    let mut client = PairingClient::new(request, ServiceFamily::Keyturner, keypair, client_nonce);
    let unused = [0u8; 24];

    assert_eq!(client.start(), h("0100030027A7"));
    let public_key = reassemble(&[
        "03002FE57DA347CD62431528DAAC5FBB290730FF",
        "F684AFC4CFC2ED90995F58CB3B749DB9",
    ]);
    assert_eq!(
        expect_send(client.on_message(&public_key, unused).unwrap()),
        h("0300F88127CCF48023B5CBE9101D24BAA8A368DA94E8C2E3CDE2DED29CE96AB50C159241")
    );
    let challenge = reassemble(&[
        "04006CD4163D159050C798553EAA57E278A579AF",
        "FCBC56F09FC57FE879E51C42DF17C3DF",
    ]);
    assert_eq!(
        expect_send(client.on_message(&challenge, unused).unwrap()),
        h("0500B09A0D3979A029E5FD027B519EAA200BC14AD3E163D3BE4563843E021073BCB1C357")
    );
    let challenge2 = reassemble(&[
        "0400E0742CFEA39CB46109385BF91286A3C02F40",
        "EE86B0B62FC34033094DE41E2C0D7FE1",
    ]);
    assert_eq!(
        expect_send(client.on_message(&challenge2, unused).unwrap()),
        h("0600CF1B9E7801E3196E6594E76D57908EE500AAD5C33F4B6E0BBEA0DDEF82967BFC00000000004D6172632028546573742900000000000000000000000000000000000000000052AFE0A664B4E9B56DC6BD4CB718A6C9FED6BE17A7411072AA0D31537814057769F2")
    );
    // Fragment 19b as repaired: the PDF lost the digits "C66".
    let authorization_id = reassemble(&[
        "07003A270A2E453443C3790E657CEBE634B03F01",
        "02F45681B4067C661D46E6E15EDF0200000083B3",
        "3643C6D97EF77ED51C02A277CBF7EA479915982F",
        "13C61D997A56678AD77791BFA7E95229A3DD34F8",
        "7132BF3E3C97DB9F",
    ]);
    assert_eq!(
        expect_send(client.on_message(&authorization_id, unused).unwrap()),
        h("1E003A41B91A66FBC4D22EFEFBB7272140829695A3917433D5BEB981B76166D13F8A02000000CDF5")
    );
    match client.on_message(&h("0E00009DD7"), unused).unwrap() {
        PairingStep::Done(outcome) => {
            assert_eq!(outcome.auth_id, 2);
            assert_eq!(
                outcome.device_uuid.to_vec(),
                h("83B33643C6D97EF77ED51C02A277CBF7")
            );
            assert_eq!(
                outcome.key,
                SharedKey::from_bytes(h32(
                    "217FCB0F18CAF284E9BDEA0B94B83B8D10867ED706BFDEDBD2381F4CB3B8F730"
                ))
            );
            assert!(!outcome.ultra);
        }
        PairingStep::Send(_) => panic!("expected the end of pairing"),
    }
}

#[test]
fn official_example_with_tampered_authorization_id_is_refused() {
    let keypair = KeyPair::from_secret(h32(
        "8CAA54672307BFFDF5EA183FC607158D2011D008ECA6A1088614FF0853A5AA07",
    ));
    let request = PairingRequest {
        id_type: IdType::App,
        app_id: 0,
        name: "Marc (Test)".into(),
        security_pin: None,
    };
    // A different client nonce makes the lock's authenticator a3 fail to verify.
    let mut client = PairingClient::new(request, ServiceFamily::Keyturner, keypair, [0x99; 32]);
    let unused = [0u8; 24];
    client.start();
    for message in [
        "03002FE57DA347CD62431528DAAC5FBB290730FFF684AFC4CFC2ED90995F58CB3B749DB9",
        "04006CD4163D159050C798553EAA57E278A579AFFCBC56F09FC57FE879E51C42DF17C3DF",
        "0400E0742CFEA39CB46109385BF91286A3C02F40EE86B0B62FC34033094DE41E2C0D7FE1",
    ] {
        expect_send(client.on_message(&h(message), unused).unwrap());
    }
    let authorization_id = h("07003A270A2E453443C3790E657CEBE634B03F0102F45681B4067C661D46E6E15EDF0200000083B33643C6D97EF77ED51C02A277CBF7EA479915982F13C61D997A56678AD77791BFA7E95229A3DD34F87132BF3E3C97DB9F");
    assert_eq!(
        client.on_message(&authorization_id, unused),
        Err(nuki_edge::nuki::pairing::PairingError::BadAuthenticator)
    );
}

const GEN_KEY: &str = "240F211B9601AA3499561285DA52853106A80284C92FDF7BEB50AB2D5866D17A";

#[test]
fn generated_session_pairing() {
    let keypair = KeyPair::from_secret(h32(
        "8CAA54672307BFFDF5EA183FC607158D2011D008ECA6A1088614FF0853A5AA07",
    ));
    let request = PairingRequest {
        id_type: IdType::Bridge,
        app_id: 0x0A0B_0C0D,
        name: "Gateway".into(),
        security_pin: None,
    };
    let mut client = PairingClient::new(request, ServiceFamily::Keyturner, keypair, [0x33; 32]);
    let unused = [0u8; 24];
    assert_eq!(client.start(), h("0100030027A7"));
    let exchanges = [
        ("030079A631EEDE1BF9C98F12032CDEADD0E7A079398FC786B88CC846EC89AF85A51A17D9",
         "0300F88127CCF48023B5CBE9101D24BAA8A368DA94E8C2E3CDE2DED29CE96AB50C159241"),
        ("0400111111111111111111111111111111111111111111111111111111111111111121D0",
         "0500BB4FF15C202F2BC634B9A82A7DF907D15C79381B578195BC059F58C48A41DC041233"),
        ("04002222222222222222222222222222222222222222222222222222222222222222F0AB",
         "06000B5D13AFB8517B8DA9AFC9EE15F847FC9D2B94C8B1E8BF9959E8C5610957DD84010D0C0B0A47617465776179000000000000000000000000000000000000000000000000003333333333333333333333333333333333333333333333333333333333333333F0F9"),
        ("0700963236A92A07B7C74F25CD0A50A8D19E383D1BE7487EC50A08C04204F813CB4405000000A0A1A2A3A4A5A6A7A8A9AAABACADAEAF4444444444444444444444444444444444444444444444444444444444444444B7F2",
         "1E0063496892852C4ED700ED7184A2F2611CDE14DF65B8955B6086EF5F094779599E050000008981"),
    ];
    for (incoming, expected) in exchanges {
        assert_eq!(
            expect_send(client.on_message(&h(incoming), unused).unwrap()),
            h(expected)
        );
    }
    match client.on_message(&h("0E00009DD7"), unused).unwrap() {
        PairingStep::Done(outcome) => {
            assert_eq!(outcome.auth_id, 5);
            assert_eq!(outcome.key, SharedKey::from_bytes(h32(GEN_KEY)));
        }
        PairingStep::Send(_) => panic!("expected the end of pairing"),
    }
}

fn generated_session() -> Session {
    Session {
        auth_id: 5,
        key: SharedKey::from_bytes(h32(GEN_KEY)),
        family: ServiceFamily::Keyturner,
    }
}

fn lock_request() -> Message {
    Message::LockAction {
        action: DeviceAction::Lock(LockAction::Lock),
        app_id: 0x0A0B_0C0D,
        flags: 0,
        name_suffix: None,
    }
}

const E1: &str = "000102030405060708090A0B0C0D0E0F1011121314151617050000001A0070AA68BCBA26DEB0D87A40BC243AEF1805C37DC429839E6D149A";
const E2: &str = "18191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F0500000038002CDEFD7D8BE40A15E10EE43278D813B4F64BB7ED7C3388E3AA97960AC7355F19D5271D6924E587C9503FEDA1AC8DDA47CFCD79E2CBE3811C";
const E3: &str = "303132333435363738393A3B3C3D3E3F4041424344454647050000003E00741FF8466A7780E35731DC64BEDB4934347A43429FF358B201ED14245F76FB6520497F89ECA9AB8B5EAB267ED7F978429D567A92AB6A9B3A326200DCD903";
const E4: &str = "48494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F05000000190082926961DEC516DAE66CABDEE3C5E781A9DB40A66E2558D067";
const E5: &str = "606162636465666768696A6B6C6D6E6F70717273747576770500000033004954C10CA79221B4341507635AAF9D8BFED493B878FCE1D8FEA11612032FA5E3C2831F831192E929A33C7BF56626FEB60356CF";
const E6: &str = "78797A7B7C7D7E7F808182838485868788898A8B8C8D8E8F0500000019000C2936DBCB425D9FEC14444405258E063A8808436C1FBBDA78";
const E7: &str = "909192939495969798999A9B9C9D9E9FA0A1A2A3A4A5A6A7050000001B00E865BD4D1EFC9433FEE23ADCC813A52584CEB3720D542A81C422B1";

#[test]
fn generated_session_lock_action() {
    let session = generated_session();
    let mut exchange = Exchange::new(lock_request(), None);
    assert_eq!(exchange.start(&session, nonce24(0x00)), h(E1));
    match exchange
        .on_encrypted(&session, &h(E2), nonce24(0x30))
        .unwrap()
    {
        ExchangeStep::Send(bytes) => assert_eq!(bytes, h(E3)),
        other => panic!("expected the lock action, got {other:?}"),
    }
    assert_eq!(
        exchange.on_encrypted(&session, &h(E4), nonce24(0)).unwrap(),
        ExchangeStep::Continue
    );
    assert_eq!(
        exchange.on_encrypted(&session, &h(E5), nonce24(0)).unwrap(),
        ExchangeStep::Continue
    );
    match exchange.on_encrypted(&session, &h(E6), nonce24(0)).unwrap() {
        ExchangeStep::Done(result) => {
            assert!(result.accepted);
            assert_eq!(result.replies.len(), 1);
            match &result.replies[0] {
                Message::KeyturnerStates(states) => {
                    assert_eq!(states.lock_state, DeviceLockState::Lock(LockState::Locked));
                }
                other => panic!("expected states, got {other:?}"),
            }
        }
        other => panic!("expected completion, got {other:?}"),
    }
}

/// Bridge `nowait`: the exchange ends at ACCEPTED; the states and COMPLETE that follow are
/// not waited for.
#[test]
fn generated_session_lock_action_until_accepted() {
    let session = generated_session();
    let mut exchange = Exchange::new(lock_request(), None).until_accepted();
    assert_eq!(exchange.start(&session, nonce24(0x00)), h(E1));
    match exchange
        .on_encrypted(&session, &h(E2), nonce24(0x30))
        .unwrap()
    {
        ExchangeStep::Send(bytes) => assert_eq!(bytes, h(E3)),
        other => panic!("expected the lock action, got {other:?}"),
    }
    match exchange.on_encrypted(&session, &h(E4), nonce24(0)).unwrap() {
        ExchangeStep::Done(result) => {
            assert!(result.accepted);
            assert!(result.replies.is_empty());
        }
        other => panic!("expected the end at ACCEPTED, got {other:?}"),
    }
    // A device already in the target state answers COMPLETE alone: that ends it too.
    let mut exchange = Exchange::new(lock_request(), None).until_accepted();
    exchange.start(&session, nonce24(0x00));
    exchange
        .on_encrypted(&session, &h(E2), nonce24(0x30))
        .unwrap();
    match exchange.on_encrypted(&session, &h(E6), nonce24(0)).unwrap() {
        ExchangeStep::Done(result) => assert!(!result.accepted),
        other => panic!("expected completion, got {other:?}"),
    }
    // An error is still an error.
    let mut exchange = Exchange::new(lock_request(), None).until_accepted();
    exchange.start(&session, nonce24(0x00));
    exchange
        .on_encrypted(&session, &h(E2), nonce24(0x30))
        .unwrap();
    assert!(matches!(
        exchange.on_encrypted(&session, &h(E7), nonce24(0)),
        Err(ExchangeError::Refused { .. })
    ));
}

#[test]
fn generated_session_bad_nonce_is_a_typed_refusal() {
    let session = generated_session();
    let mut exchange = Exchange::new(lock_request(), None);
    exchange.start(&session, nonce24(0x00));
    exchange
        .on_encrypted(&session, &h(E2), nonce24(0x30))
        .unwrap();
    assert_eq!(
        exchange.on_encrypted(&session, &h(E7), nonce24(0)),
        Err(ExchangeError::Refused {
            code: ErrorCode::KErrorBadNonce,
            command: nuki_edge::nuki::command::CommandId::LockAction,
        })
    );
}

#[test]
fn wrong_key_is_a_typed_error_not_a_panic() {
    let mut session = generated_session();
    session.key = SharedKey::from_bytes([0; 32]);
    let mut exchange = Exchange::new(lock_request(), None);
    exchange.start(&session, nonce24(0x00));
    assert!(matches!(
        exchange.on_encrypted(&session, &h(E2), nonce24(0)),
        Err(ExchangeError::Frame(_))
    ));
}

#[test]
fn encrypted_messages_reassemble_from_20_byte_indications() {
    for message in [E1, E2, E3, E4, E5, E6, E7] {
        let bytes = h(message);
        let mut reassembler = Reassembler::new(Framing::Encrypted);
        let mut out = None;
        for chunk in bytes.chunks(20) {
            assert!(out.is_none());
            out = reassembler.push(chunk).unwrap();
        }
        assert_eq!(out, Some(bytes));
    }
}

/// Crypto constants from the simulator project's unit tests (not Nuki's).
#[test]
fn simulator_project_crypto_constants() {
    let lock = KeyPair::from_secret(h32(
        "e7b0ed4e3fd53beb1ace91475b4a9eabc4d7c47f19c84193ebddac953ff9bc45",
    ));
    let client = KeyPair::from_secret(h32(
        "4122ac9fd03aed655010583c279507577981fa6738a90a16fb05a87475954ba4",
    ));
    assert_eq!(
        lock.public_key(),
        h32("0d4105dbc4dd1e9ff474bd28ef9539b1b0b09fa5444c0d1adabc590f4b5e2e56")
    );
    assert_eq!(
        client.public_key(),
        h32("76541d1e8bddfa8bb545e5172734c35653761ccbddc5536ef5bf544bde99b427")
    );
    let shared = SharedKey::from_bytes(h32(
        "fadc14fc1cbb2813e0c5bc29b9411370a76b85e3983783aadfa1f11c5aa6aa25",
    ));
    assert_eq!(lock.shared_key(&client.public_key()), shared);
    assert_eq!(client.shared_key(&lock.public_key()), shared);

    let plaintext = h("1234567890abcdef");
    let nonce: [u8; 24] = h("8c34a5503c40cfae7184b296f58fbaa2f6f9d3ccff58f103")
        .try_into()
        .expect("24 bytes");
    let sealed = nuki_edge::nuki::crypto::seal(&shared, &nonce, &plaintext);
    assert_eq!(
        sealed,
        h("e0c19497e5e8dc6d1f444ffb1efebca6a977b136f5846e18")
    );
    assert_eq!(
        nuki_edge::nuki::crypto::open(&shared, &nonce, &sealed).expect("opens"),
        plaintext
    );
    assert_eq!(
        nuki_edge::nuki::crypto::authenticator(&shared, &[&plaintext, &nonce]).to_vec(),
        h("7d5dac4faf9dae6a1e18d9a62e31137f187c920a389a828602d86ba234362285")
    );
}

/// The generated session's derivation: dh1 and kdf1 from the published lock key.
#[test]
fn generated_session_key_derivation() {
    let lock = KeyPair::from_secret(h32(
        "404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F",
    ));
    assert_eq!(
        lock.public_key(),
        h32("79A631EEDE1BF9C98F12032CDEADD0E7A079398FC786B88CC846EC89AF85A51A")
    );
    let client = KeyPair::from_secret(h32(
        "8CAA54672307BFFDF5EA183FC607158D2011D008ECA6A1088614FF0853A5AA07",
    ));
    assert_eq!(
        client.shared_key(&lock.public_key()),
        SharedKey::from_bytes(h32(GEN_KEY))
    );
}

/// Our HSalsa20 + secretbox path against the independent `crypto_box` implementation.
#[test]
fn shared_key_matches_the_crypto_box_oracle() {
    use crypto_box::aead::Aead;
    let client_secret = [0x11u8; 32];
    let lock_secret = [0x22u8; 32];
    let ours = KeyPair::from_secret(client_secret)
        .shared_key(&KeyPair::from_secret(lock_secret).public_key());
    let oracle = crypto_box::SalsaBox::new(
        &crypto_box::SecretKey::from(lock_secret).public_key(),
        &crypto_box::SecretKey::from(client_secret),
    );
    let nonce = [0x33u8; 24];
    let expected = oracle
        .encrypt((&nonce).into(), &b"nuki-edge"[..])
        .expect("oracle seals");
    assert_eq!(
        nuki_edge::nuki::crypto::seal(&ours, &nonce, b"nuki-edge"),
        expected
    );
}
