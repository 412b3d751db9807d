//! The simulated devices driven by a minimal client built only from the public protocol
//! functions (frame, crypto, messages): first the synchronous state machine, then the whole
//! transport with radio timing under a paused tokio clock.

use std::collections::HashMap;
use std::time::Duration;

use nuki_edge::ble::sim::{
    Fault, ForcedSecrets, InitialPosition, Outbound, RadioModel, SimControl, SimDevice,
    SimDeviceSpec, SimKind, SimTransport,
};
use nuki_edge::ble::{BleError, BleLink, BleTransport, DeviceAddress};
use nuki_edge::nuki::advert;
use nuki_edge::nuki::codec::DateTime;
use nuki_edge::nuki::command::CommandId;
use nuki_edge::nuki::crypto::{self, KeyPair, SharedKey};
use nuki_edge::nuki::enums::{
    DeviceAction, DeviceLockState, ErrorCode, IdType, LockAction, LockState, NukiState,
    OpenerAction, OpenerLockState, SortOrder, StatusCode,
};
use nuki_edge::nuki::frame;
use nuki_edge::nuki::messages::{
    self, AccessCode, AllowedWindow, AuthorizationData, AuthorizationDataUltra,
    AuthorizationInvite, Config, KeyturnerStates, LogData, Message, NewKeypadCode, Proof,
    Protection, SecurityPin, SetConfig, UserAuthorizationUpdate,
};
use nuki_edge::nuki::reassembly::{Framing, Reassembler};
use nuki_edge::nuki::uuids::{Characteristics, ServiceFamily};
use uuid::Uuid;

/// 2024-05-01T12:34:56Z
const WALL_CLOCK: i64 = 1_714_566_896;
const ULTRA_PAIRING_AUTH_ID: u32 = u32::from_le_bytes([0x7F, 0xFF, 0xFF, 0xFF]);

fn bytes(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

fn array<const N: usize>(text: &str) -> [u8; N] {
    bytes(text).try_into().unwrap()
}

/// 24 consecutive byte values starting at `first` (the vector file's transport nonces).
fn counting_nonce(first: u8) -> [u8; 24] {
    std::array::from_fn(|i| first + i as u8)
}

const OFFICIAL_CLIENT_SECRET: &str =
    "8CAA54672307BFFDF5EA183FC607158D2011D008ECA6A1088614FF0853A5AA07";

// ---------------------------------------------------------------------------------------------
// A minimal client: pairing scripts and message helpers on top of the public codec.
// ---------------------------------------------------------------------------------------------

fn plain(message: &Message, family: ServiceFamily) -> Vec<u8> {
    frame::encode_plain(message.command(), &messages::encode(message, family, None))
}

fn decode_plain(bytes: &[u8], family: ServiceFamily) -> Message {
    let frame = frame::decode_plain(bytes).expect("valid plain frame");
    messages::decode(frame.command, &frame.payload, family)
        .expect("decodable payload")
        .message
}

fn decode_sealed(key: &SharedKey, bytes: &[u8], family: ServiceFamily) -> (u32, Message) {
    let frame = frame::decode_encrypted(key, bytes).expect("valid encrypted frame");
    let message = messages::decode(frame.command, &frame.payload, family)
        .expect("decodable payload")
        .message;
    (frame.auth_id, message)
}

/// What a pairing script does next.
enum PairingStep {
    Send(Vec<u8>),
    Done { key: SharedKey, auth_id: u32 },
    Refused(Message),
}

/// The client side of pairing (classic §3.2 or Ultra §3.4), as a script fed with replies.
struct PairingScript {
    family: ServiceFamily,
    client: KeyPair,
    id_type: IdType,
    app_id: u32,
    name: String,
    client_nonce: [u8; 32],
    pin: u32,
    lock_public: [u8; 32],
    key: Option<SharedKey>,
    authenticator_sent: bool,
    auth_id: u32,
    /// Every nonce the device sent (challenges and nK3), to check they never repeat.
    device_nonces: Vec<[u8; 32]>,
}

impl PairingScript {
    fn new(family: ServiceFamily, client_secret: [u8; 32], id_type: IdType, app_id: u32) -> Self {
        Self {
            family,
            client: KeyPair::from_secret(client_secret),
            id_type,
            app_id,
            name: "Gateway".into(),
            client_nonce: [0x33; 32],
            pin: 0,
            lock_public: [0; 32],
            key: None,
            authenticator_sent: false,
            auth_id: 0,
            device_nonces: Vec::new(),
        }
    }

    fn first(&self) -> Vec<u8> {
        plain(
            &Message::RequestData {
                command: CommandId::PublicKey,
                extra: Vec::new(),
            },
            self.family,
        )
    }

    fn key(&self) -> SharedKey {
        self.key.clone().expect("key agreed")
    }

    fn on_reply(&mut self, reply: &[u8]) -> PairingStep {
        let message = match (&self.key, frame::decode_plain(reply)) {
            (_, Ok(frame)) => {
                messages::decode(frame.command, &frame.payload, self.family)
                    .expect("decodable pairing reply")
                    .message
            }
            (Some(key), Err(_)) => {
                let (auth_id, message) = decode_sealed(key, reply, self.family);
                assert_eq!(
                    auth_id, ULTRA_PAIRING_AUTH_ID,
                    "Ultra reply echoes the header id"
                );
                message
            }
            (None, Err(error)) => panic!("undecodable pairing reply: {error}"),
        };
        match message {
            Message::PublicKey(lock_public) => {
                self.lock_public = lock_public;
                self.key = Some(self.client.shared_key(&lock_public));
                PairingStep::Send(plain(
                    &Message::PublicKey(self.client.public_key()),
                    self.family,
                ))
            }
            Message::Challenge(challenge) if !self.authenticator_sent => {
                self.device_nonces.push(challenge);
                let key = self.key();
                let client_public = self.client.public_key();
                let parts: [&[u8]; 3] = [&client_public, &self.lock_public, &challenge];
                self.authenticator_sent = true;
                PairingStep::Send(plain(
                    &Message::AuthorizationAuthenticator(crypto::authenticator(&key, &parts)),
                    self.family,
                ))
            }
            Message::Challenge(challenge) => {
                self.device_nonces.push(challenge);
                let key = self.key();
                let mut data = AuthorizationData {
                    authenticator: [0; 32],
                    id_type: self.id_type,
                    app_id: self.app_id,
                    name: self.name.clone(),
                    nonce: self.client_nonce,
                };
                let signed = data.authenticated_fields();
                let parts: [&[u8]; 2] = [&signed, &challenge];
                data.authenticator = crypto::authenticator(&key, &parts);
                PairingStep::Send(plain(&Message::AuthorizationData(data), self.family))
            }
            Message::AuthorizationInfo(_) => {
                let key = self.key();
                let data = Message::AuthorizationDataUltra(AuthorizationDataUltra {
                    app_id: self.app_id,
                    name: self.name.clone(),
                    pin: SecurityPin::Long(self.pin),
                });
                let payload = messages::encode(&data, self.family, None);
                PairingStep::Send(frame::encode_encrypted(
                    &key,
                    &[0x77; 24],
                    ULTRA_PAIRING_AUTH_ID,
                    CommandId::AuthorizationData,
                    &payload,
                ))
            }
            Message::AuthorizationId(id) => {
                self.device_nonces.push(id.nonce);
                let key = self.key();
                let auth_id = id.auth_id.to_le_bytes();
                let parts: [&[u8]; 4] = [&auth_id, &id.uuid, &id.nonce, &self.client_nonce];
                assert!(
                    crypto::verify_authenticator(&key, &parts, &id.authenticator),
                    "the device's authenticator a3 verifies"
                );
                self.auth_id = id.auth_id;
                let parts: [&[u8]; 2] = [&auth_id, &id.nonce];
                PairingStep::Send(plain(
                    &Message::AuthorizationIdConfirmation {
                        authenticator: crypto::authenticator(&key, &parts),
                        auth_id: id.auth_id,
                    },
                    self.family,
                ))
            }
            Message::AuthorizationIdUltra(id) => PairingStep::Done {
                key: self.key(),
                auth_id: id.auth_id,
            },
            Message::Status(StatusCode::Complete) => PairingStep::Done {
                key: self.key(),
                auth_id: self.auth_id,
            },
            other => PairingStep::Refused(other),
        }
    }
}

fn forced_vector_secrets() -> ForcedSecrets {
    ForcedSecrets {
        lock_secret_key: Some(array(
            "404142434445464748494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F",
        )),
        lock_uuid: Some(array("A0A1A2A3A4A5A6A7A8A9AAABACADAEAF")),
        next_authorization_id: Some(5),
        challenges: vec![[0x11; 32], [0x22; 32], [0x44; 32], [0x55; 32]],
        transport_nonces: vec![
            counting_nonce(0x18),
            counting_nonce(0x48),
            counting_nonce(0x60),
            [0xEE; 24],
            counting_nonce(0x78),
            counting_nonce(0x90),
        ],
    }
}

fn spec(kind: SimKind) -> SimDeviceSpec {
    let mut spec = SimDeviceSpec::new("sim-1", "Front door", 0x1122_3344, kind);
    spec.initial_position = InitialPosition::Unlocked;
    spec
}

/// The synchronous device plus the client side of one paired authorization.
struct Direct {
    device: SimDevice,
    family: ServiceFamily,
    chars: Characteristics,
    key: SharedKey,
    auth_id: u32,
    now: Duration,
    nonce_counter: u64,
    /// Nonces the device sent during the first pairing.
    pairing_nonces: Vec<[u8; 32]>,
}

impl Direct {
    /// Pairs a fresh client with `device`, which must be connected and in pairing mode.
    fn pair(device: &mut SimDevice, script: &mut PairingScript, now: Duration) -> PairingStep {
        let chars = script.family.characteristics();
        let mut request = script.first();
        loop {
            let out = device.on_write(chars.pairing_gdio, &request, now);
            assert_eq!(out.len(), 1, "one reply per pairing message");
            assert_eq!(out[0].characteristic, chars.pairing_gdio);
            match script.on_reply(&out[0].bytes) {
                PairingStep::Send(next) => request = next,
                done => return done,
            }
        }
    }

    fn new(kind: SimKind) -> Self {
        Self::with_spec(spec(kind), IdType::Bridge)
    }

    fn with_spec(spec: SimDeviceSpec, id_type: IdType) -> Self {
        let family = spec.family();
        let pin = spec.effective_pin();
        let mut device = SimDevice::new(spec, WALL_CLOCK);
        device.on_connect(Duration::ZERO);
        assert!(device.press_button(Duration::ZERO));
        let mut script = PairingScript::new(family, array(OFFICIAL_CLIENT_SECRET), id_type, 42);
        script.pin = pin;
        let PairingStep::Done { key, auth_id } =
            Self::pair(&mut device, &mut script, Duration::ZERO)
        else {
            panic!("pairing failed");
        };
        Self {
            device,
            family,
            chars: family.characteristics(),
            key,
            auth_id,
            now: Duration::ZERO,
            nonce_counter: 0,
            pairing_nonces: script.device_nonces,
        }
    }

    fn nonce(&mut self) -> [u8; 24] {
        self.nonce_counter += 1;
        let mut nonce = [0u8; 24];
        nonce[..8].copy_from_slice(&self.nonce_counter.to_le_bytes());
        nonce
    }

    fn sealed(&mut self, message: &Message, proof: Option<&Proof>) -> Vec<u8> {
        let payload = messages::encode(message, self.family, proof);
        let nonce = self.nonce();
        frame::encode_encrypted(&self.key, &nonce, self.auth_id, message.command(), &payload)
    }

    fn write(&mut self, bytes: &[u8]) -> Vec<Outbound> {
        self.device
            .on_write(self.chars.keyturner_usdio, bytes, self.now)
    }

    fn open(&self, out: &Outbound) -> Message {
        assert_eq!(out.characteristic, self.chars.keyturner_usdio);
        let (auth_id, message) = decode_sealed(&self.key, &out.bytes, self.family);
        assert_eq!(auth_id, self.auth_id);
        message
    }

    fn send(&mut self, message: &Message, proof: Option<&Proof>) -> Vec<Message> {
        let request = self.sealed(message, proof);
        let out = self.write(&request);
        out.iter().map(|o| self.open(o)).collect()
    }

    fn challenge(&mut self) -> [u8; 32] {
        let reply = self.send(
            &Message::RequestData {
                command: CommandId::Challenge,
                extra: Vec::new(),
            },
            None,
        );
        match reply.as_slice() {
            [Message::Challenge(nonce)] => *nonce,
            other => panic!("expected a challenge, got {other:?}"),
        }
    }

    fn proof(&mut self, command: CommandId, pin: u32) -> Option<Proof> {
        match messages::protection(command) {
            Protection::None => None,
            Protection::Challenge => Some(Proof::challenge(self.challenge())),
            Protection::ChallengeAndPin => Some(Proof::with_pin(
                self.challenge(),
                SecurityPin::for_family(pin, self.family),
            )),
        }
    }

    /// Sends a command with a fresh challenge and the right PIN where the table needs them.
    fn command(&mut self, message: &Message) -> Vec<Message> {
        let pin = self.device.spec().effective_pin();
        self.command_with_pin(message, pin)
    }

    fn command_with_pin(&mut self, message: &Message, pin: u32) -> Vec<Message> {
        let proof = self.proof(message.command(), pin);
        self.send(message, proof.as_ref())
    }

    fn states(&mut self) -> KeyturnerStates {
        match self
            .send(
                &Message::RequestData {
                    command: CommandId::KeyturnerStates,
                    extra: Vec::new(),
                },
                None,
            )
            .as_slice()
        {
            [Message::KeyturnerStates(states)] => states.clone(),
            other => panic!("expected states, got {other:?}"),
        }
    }

    /// Lets simulated time pass and returns what the device sent meanwhile.
    fn advance(&mut self, by: Duration) -> Vec<Message> {
        self.now += by;
        let out = self.device.on_timer(self.now);
        out.iter().map(|o| self.open(o)).collect()
    }
}

fn error(code: ErrorCode, command: CommandId) -> Message {
    Message::ErrorReport { code, command }
}

fn lock_action(action: LockAction) -> Message {
    Message::LockAction {
        action: DeviceAction::Lock(action),
        app_id: 42,
        flags: 0,
        name_suffix: None,
    }
}

fn lock_state(message: &Message) -> Option<u8> {
    match message {
        Message::KeyturnerStates(states) => Some(states.lock_state.to_u8()),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The state machine against the published vectors.
// ---------------------------------------------------------------------------------------------

#[test]
fn classic_pairing_and_session_reproduce_the_generated_vectors() {
    let mut spec = spec(SimKind::SmartLock4);
    spec.motor_time = Duration::from_millis(1500);
    let mut device = SimDevice::with_forced_secrets(spec, WALL_CLOCK, forced_vector_secrets());
    let chars = ServiceFamily::Keyturner.characteristics();
    device.on_connect(Duration::ZERO);
    assert!(device.press_button(Duration::ZERO));
    let pairing = [
        ("0100030027A7", "030079A631EEDE1BF9C98F12032CDEADD0E7A079398FC786B88CC846EC89AF85A51A17D9"),
        (
            "0300F88127CCF48023B5CBE9101D24BAA8A368DA94E8C2E3CDE2DED29CE96AB50C159241",
            "0400111111111111111111111111111111111111111111111111111111111111111121D0",
        ),
        (
            "0500BB4FF15C202F2BC634B9A82A7DF907D15C79381B578195BC059F58C48A41DC041233",
            "04002222222222222222222222222222222222222222222222222222222222222222F0AB",
        ),
        (
            "06000B5D13AFB8517B8DA9AFC9EE15F847FC9D2B94C8B1E8BF9959E8C5610957DD84010D0C0B0A47617465776179000000000000000000000000000000000000000000000000003333333333333333333333333333333333333333333333333333333333333333F0F9",
            "0700963236A92A07B7C74F25CD0A50A8D19E383D1BE7487EC50A08C04204F813CB4405000000A0A1A2A3A4A5A6A7A8A9AAABACADAEAF4444444444444444444444444444444444444444444444444444444444444444B7F2",
        ),
        (
            "1E0063496892852C4ED700ED7184A2F2611CDE14DF65B8955B6086EF5F094779599E050000008981",
            "0E00009DD7",
        ),
    ];
    for (request, expected) in pairing {
        let out = device.on_write(chars.pairing_gdio, &bytes(request), Duration::ZERO);
        assert_eq!(
            out,
            [Outbound {
                characteristic: chars.pairing_gdio,
                bytes: bytes(expected)
            }],
            "reply to {request}"
        );
    }
    assert!(
        !device.in_pairing_mode(),
        "a completed pairing ends pairing mode"
    );
    let snapshot = device.snapshot();
    assert_eq!(snapshot.authorizations.len(), 1);
    assert_eq!(snapshot.authorizations[0].auth_id, 5);
    assert_eq!(snapshot.authorizations[0].name, "Gateway");
    assert_eq!(snapshot.authorizations[0].id_type, 1);

    let usdio = |hex: &str| Outbound {
        characteristic: chars.keyturner_usdio,
        bytes: bytes(hex),
    };
    // E1 → E2: Request Data(Challenge) answered with nK = 32×55.
    let out = device.on_write(
        chars.keyturner_usdio,
        &bytes("000102030405060708090A0B0C0D0E0F1011121314151617050000001A0070AA68BCBA26DEB0D87A40BC243AEF1805C37DC429839E6D149A"),
        Duration::ZERO,
    );
    assert_eq!(out, [usdio("18191A1B1C1D1E1F202122232425262728292A2B2C2D2E2F0500000038002CDEFD7D8BE40A15E10EE43278D813B4F64BB7ED7C3388E3AA97960AC7355F19D5271D6924E587C9503FEDA1AC8DDA47CFCD79E2CBE3811C")]);
    // E3 → E4 (ACCEPTED) and the "locking" states.
    let e3 = bytes("303132333435363738393A3B3C3D3E3F4041424344454647050000003E00741FF8466A7780E35731DC64BEDB4934347A43429FF358B201ED14245F76FB6520497F89ECA9AB8B5EAB267ED7F978429D567A92AB6A9B3A326200DCD903");
    let out = device.on_write(chars.keyturner_usdio, &e3, Duration::ZERO);
    assert_eq!(out.len(), 2);
    assert_eq!(out[0], usdio("48494A4B4C4D4E4F505152535455565758595A5B5C5D5E5F05000000190082926961DEC516DAE66CABDEE3C5E781A9DB40A66E2558D067"));
    let key =
        SharedKey::from_hex("240F211B9601AA3499561285DA52853106A80284C92FDF7BEB50AB2D5866D17A")
            .unwrap();
    let (_, locking) = decode_sealed(&key, &out[1].bytes, ServiceFamily::Keyturner);
    assert_eq!(lock_state(&locking), Some(LockState::Locking.to_u8()));
    // Nothing happens before the motor arrives.
    assert_eq!(device.next_deadline(), Some(Duration::from_millis(1500)));
    assert!(device.on_timer(Duration::from_millis(1499)).is_empty());
    // Locked states, then E6 (COMPLETE).
    let out = device.on_timer(Duration::from_millis(1500));
    assert_eq!(out.len(), 2);
    let (_, locked) = decode_sealed(&key, &out[0].bytes, ServiceFamily::Keyturner);
    let Message::KeyturnerStates(states) = locked else {
        panic!("states expected");
    };
    assert_eq!(states.lock_state, DeviceLockState::Lock(LockState::Locked));
    assert_eq!(states.nuki_state, NukiState::DoorMode);
    assert_eq!(
        states.last_lock_action,
        Some(DeviceAction::Lock(LockAction::Lock))
    );
    assert_eq!(
        states.current_time.to_iso8601().as_deref(),
        Some("2024-05-01T12:34:57Z")
    );
    assert_eq!(
        states.remote_access_status,
        Some(0x02),
        "a Bridge is paired"
    );
    assert_eq!(states.encoded_len(), 27);
    assert_eq!(out[1], usdio("78797A7B7C7D7E7F808182838485868788898A8B8C8D8E8F0500000019000C2936DBCB425D9FEC14444405258E063A8808436C1FBBDA78"));
    // Replaying E3: the challenge was used → E7 (BAD_NONCE for Lock Action).
    let out = device.on_write(chars.keyturner_usdio, &e3, Duration::from_secs(2));
    assert_eq!(out, [usdio("909192939495969798999A9B9C9D9E9FA0A1A2A3A4A5A6A7050000001B00E865BD4D1EFC9433FEE23ADCC813A52584CEB3720D542A81C422B1")]);
}

#[test]
fn same_seed_gives_the_same_bytes() {
    let run = || {
        let mut direct = Direct::new(SimKind::SmartLock2);
        direct.nonce_counter = 100;
        let challenge = direct.challenge();
        let request = direct.sealed(
            &Message::RequestData {
                command: CommandId::KeyturnerStates,
                extra: Vec::new(),
            },
            None,
        );
        (challenge, direct.write(&request))
    };
    assert_eq!(run(), run());
    let mut other = spec(SimKind::SmartLock2);
    other.seed = Some(99);
    let mut direct = Direct::with_spec(other, IdType::App);
    assert_ne!(direct.challenge(), run().0);
}

impl Direct {
    /// Pairs another client on the same connection (pressing the button first).
    fn pair_another(&mut self, id_type: IdType, app_id: u32, secret: u8) -> PairingStep {
        assert!(self.device.press_button(self.now));
        let mut script = PairingScript::new(self.family, [secret; 32], id_type, app_id);
        script.pin = self.device.spec().effective_pin();
        script.name = format!("Client {app_id}");
        Self::pair(&mut self.device, &mut script, self.now)
    }

    /// Talks as another authorization from now on; returns the previous identity.
    fn switch(&mut self, key: SharedKey, auth_id: u32) -> (SharedKey, u32) {
        let previous = (self.key.clone(), self.auth_id);
        self.key = key;
        self.auth_id = auth_id;
        previous
    }
}

fn paired(step: PairingStep) -> (SharedKey, u32) {
    match step {
        PairingStep::Done { key, auth_id } => (key, auth_id),
        PairingStep::Refused(message) => panic!("pairing refused: {message:?}"),
        PairingStep::Send(_) => unreachable!(),
    }
}

fn refused(step: PairingStep) -> Message {
    match step {
        PairingStep::Refused(message) => message,
        PairingStep::Done { .. } => panic!("pairing should have been refused"),
        PairingStep::Send(_) => unreachable!(),
    }
}

fn flag(device: &SimDevice, now: Duration) -> bool {
    let advert = device.advertisement(now).expect("advertising");
    let data = &advert.manufacturer_data[&advert::APPLE_COMPANY_ID];
    advert::parse_beacon(data).expect("beacon").state_changed
}

// ---------------------------------------------------------------------------------------------
// Keyturner checks.
// ---------------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------------
// Pairing rules.
// ---------------------------------------------------------------------------------------------

fn fresh_device(spec: SimDeviceSpec) -> SimDevice {
    let mut device = SimDevice::new(spec, WALL_CLOCK);
    device.on_connect(Duration::ZERO);
    device
}

fn pairing_reply(device: &mut SimDevice, request: &[u8]) -> Message {
    let family = device.spec().family();
    let out = device.on_write(
        family.characteristics().pairing_gdio,
        request,
        Duration::ZERO,
    );
    assert_eq!(out.len(), 1);
    decode_plain(&out[0].bytes, family)
}

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

// ---------------------------------------------------------------------------------------------
// Movements.
// ---------------------------------------------------------------------------------------------

fn states_of(messages: &[Message]) -> Vec<u8> {
    messages.iter().filter_map(lock_state).collect()
}

#[test]
fn lock_action_reports_accepted_states_and_complete_with_motor_time() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    let replies = direct.command(&lock_action(LockAction::Lock));
    assert_eq!(replies[0], Message::Status(StatusCode::Accepted));
    assert_eq!(states_of(&replies), [LockState::Locking.to_u8()]);
    assert_eq!(replies.len(), 2);
    // A second action while the motor runs.
    assert_eq!(
        direct.command(&lock_action(LockAction::Unlock)),
        [error(ErrorCode::KErrorBusy, CommandId::LockAction)]
    );
    assert!(direct.advance(Duration::from_millis(1400)).is_empty());
    let replies = direct.advance(Duration::from_millis(100));
    assert_eq!(states_of(&replies), [LockState::Locked.to_u8()]);
    assert_eq!(replies.last(), Some(&Message::Status(StatusCode::Complete)));
    // Already locked: COMPLETE directly.
    assert_eq!(
        direct.command(&lock_action(LockAction::Lock)),
        [Message::Status(StatusCode::Complete)]
    );
    let states = direct.states();
    assert_eq!(
        states.last_lock_action,
        Some(DeviceAction::Lock(LockAction::Lock))
    );
    assert_eq!(direct.device.snapshot().authorizations[0].lock_count, 2);
    // Simple Lock Action takes the same route.
    let replies = direct.command(&Message::SimpleLockAction {
        action: DeviceAction::Lock(LockAction::Unlock),
    });
    assert_eq!(states_of(&replies), [LockState::Unlocking.to_u8()]);
}

#[test]
fn unlatch_and_lock_n_go_run_through_their_states() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    let mut seen = states_of(&direct.command(&lock_action(LockAction::Unlatch)));
    let mut complete = false;
    for _ in 0..20 {
        let replies = direct.advance(Duration::from_millis(500));
        seen.extend(states_of(&replies));
        complete |= replies.contains(&Message::Status(StatusCode::Complete));
    }
    assert!(complete);
    assert_eq!(
        seen,
        [
            LockState::Unlatching.to_u8(),
            LockState::Unlatched.to_u8(),
            LockState::Unlocked.to_u8()
        ]
    );
    let replies = direct.command(&lock_action(LockAction::LockNGo));
    assert_eq!(states_of(&replies), [LockState::UnlockedLockNGo.to_u8()]);
    assert_eq!(direct.states().lock_n_go_timer, 20);
    let mut seen = Vec::new();
    let mut complete = false;
    for _ in 0..30 {
        let replies = direct.advance(Duration::from_secs(1));
        seen.extend(states_of(&replies));
        complete |= replies.contains(&Message::Status(StatusCode::Complete));
    }
    assert!(complete);
    assert_eq!(
        seen,
        [LockState::Locking.to_u8(), LockState::Locked.to_u8()]
    );
}

#[test]
fn injected_faults_busy_and_jam() {
    let mut direct = Direct::new(SimKind::SmartLock2);
    direct.device.inject_fault(Fault::Busy);
    assert_eq!(
        direct.command(&lock_action(LockAction::Lock)),
        [error(ErrorCode::KErrorBusy, CommandId::LockAction)]
    );
    direct.device.inject_fault(Fault::Jam);
    let replies = direct.command(&lock_action(LockAction::Lock));
    assert_eq!(states_of(&replies), [LockState::Locking.to_u8()]);
    let replies = direct.advance(Duration::from_secs(2));
    assert_eq!(replies.len(), 2);
    let Message::KeyturnerStates(states) = &replies[0] else {
        panic!("states expected");
    };
    assert_eq!(
        states.lock_state,
        DeviceLockState::Lock(LockState::MotorBlocked)
    );
    assert_eq!(
        states.last_lock_action_completion_status.map(|c| c.to_u8()),
        Some(0x01)
    );
    assert_eq!(
        replies[1],
        error(ErrorCode::KErrorMotorBlocked, CommandId::LockAction)
    );
    // The jam was a one-off: the next try works.
    let replies = direct.command(&lock_action(LockAction::Lock));
    assert_eq!(replies[0], Message::Status(StatusCode::Accepted));
    assert!(direct.device.snapshot().pending_faults.is_empty());
}

#[test]
fn state_changed_flag_is_set_by_changes_and_cleared_by_a_bridge_read() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    direct.states();
    assert!(!flag(&direct.device, direct.now));
    direct.command(&lock_action(LockAction::Lock));
    assert!(flag(&direct.device, direct.now));
    direct.advance(Duration::from_secs(2));
    // An App reading the state does not clear it.
    let (app_key, app_id) = paired(direct.pair_another(IdType::App, 11, 0x71));
    let bridge = direct.switch(app_key, app_id);
    direct.states();
    assert!(flag(&direct.device, direct.now));
    direct.switch(bridge.0, bridge.1);
    direct.states();
    assert!(!flag(&direct.device, direct.now));
    // Manual turns and the door sensor count as changes too.
    direct.device.manual_action(0x01, direct.now).unwrap();
    assert!(flag(&direct.device, direct.now));
    assert_eq!(
        direct.device.snapshot().last_action.1,
        0x00,
        "not finished yet"
    );
    direct.advance(Duration::from_secs(2));
    assert_eq!(direct.device.snapshot().last_action, (0x01, 0x01, 0x00));
}

#[test]
fn door_sensor_changes_states_and_logs() {
    let mut spec = spec(SimKind::SmartLock4);
    spec.door_sensor = true;
    let mut direct = Direct::with_spec(spec, IdType::Bridge);
    assert_eq!(
        direct.states().door_sensor_state.map(|s| s.to_u8()),
        Some(0x02)
    );
    let out = direct.device.set_door(true, direct.now).unwrap();
    let unsolicited: Vec<Message> = out.iter().map(|o| direct.open(o)).collect();
    assert!(
        matches!(&unsolicited[..], [Message::KeyturnerStates(s)] if s.door_sensor_state.map(|d| d.to_u8()) == Some(0x03))
    );
    assert!(flag(&direct.device, direct.now));
    let replies = direct.command(&Message::RequestLogEntries {
        start_index: 0,
        count: 10,
        sort_order: SortOrder::Descending,
        total_count: false,
    });
    assert!(
        matches!(&replies[0], Message::LogEntry(entry) if matches!(entry.data, LogData::DoorSensor { .. }))
    );
    let without = fresh_device(self::spec(SimKind::SmartLock4));
    let mut without = without;
    assert!(without.set_door(true, Duration::ZERO).is_err());
}

#[test]
fn calibration_reports_calibration_state_then_completes() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    let replies = direct.command(&Message::RequestCalibration);
    assert_eq!(replies[0], Message::Status(StatusCode::Accepted));
    assert_eq!(states_of(&replies), [LockState::Calibration.to_u8()]);
    let replies = direct.advance(Duration::from_secs(6));
    assert_eq!(states_of(&replies), [LockState::Locked.to_u8()]);
    assert_eq!(replies.last(), Some(&Message::Status(StatusCode::Complete)));
}

#[test]
fn uncalibrated_lock_refuses_actions() {
    let mut spec = spec(SimKind::SmartLock2);
    spec.initial_position = InitialPosition::Uncalibrated;
    let mut direct = Direct::with_spec(spec, IdType::App);
    assert_eq!(
        direct.command(&lock_action(LockAction::Unlock)),
        [error(ErrorCode::KErrorNotCalibrated, CommandId::LockAction)]
    );
}

#[test]
fn opener_rto_strike_and_continuous_mode() {
    let mut direct = Direct::new(SimKind::Opener);
    assert_eq!(direct.chars, ServiceFamily::Opener.characteristics());
    let open = Message::LockAction {
        action: DeviceAction::Opener(OpenerAction::ElectricStrikeActuation),
        app_id: 42,
        flags: 0,
        name_suffix: None,
    };
    let mut seen = states_of(&direct.command(&open));
    let mut complete = false;
    for _ in 0..10 {
        let replies = direct.advance(Duration::from_secs(1));
        seen.extend(states_of(&replies));
        complete |= replies.contains(&Message::Status(StatusCode::Complete));
    }
    assert!(complete);
    assert_eq!(
        seen,
        [
            OpenerLockState::Opening.to_u8(),
            OpenerLockState::Open.to_u8(),
            OpenerLockState::Online.to_u8()
        ]
    );
    let rto = Message::LockAction {
        action: DeviceAction::Opener(OpenerAction::ActivateRto),
        app_id: 42,
        flags: 0,
        name_suffix: None,
    };
    let replies = direct.command(&rto);
    assert_eq!(
        replies,
        [
            Message::Status(StatusCode::Accepted),
            Message::KeyturnerStates(direct.states()),
            Message::Status(StatusCode::Complete)
        ]
    );
    assert_eq!(
        direct.states().lock_state,
        DeviceLockState::Opener(OpenerLockState::RtoActive)
    );
    let replies = direct.command(&Message::ContinuousModeAction {
        enabled: true,
        timeout: 0,
    });
    assert_eq!(replies.last(), Some(&Message::Status(StatusCode::Complete)));
    assert_eq!(direct.states().nuki_state, NukiState::ContinuousMode);
    // A ring in continuous mode opens the door.
    direct.device.ring_doorbell(direct.now).unwrap();
    assert_eq!(
        direct.device.snapshot().lock_state,
        OpenerLockState::Opening.to_u8()
    );
    assert!(flag(&direct.device, direct.now));
}

// ---------------------------------------------------------------------------------------------
// Administration.
// ---------------------------------------------------------------------------------------------

fn only(mut messages: Vec<Message>) -> Message {
    assert_eq!(messages.len(), 1, "one reply expected: {messages:?}");
    messages.remove(0)
}

fn complete() -> Vec<Message> {
    vec![Message::Status(StatusCode::Complete)]
}

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

fn set_config_from(config: &messages::LockConfig) -> Option<SetConfig> {
    Some(SetConfig::Lock(config.into()))
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

// ---------------------------------------------------------------------------------------------
// The transport: radio timing, fragments, subscriptions, faults (paused tokio clock).
// ---------------------------------------------------------------------------------------------

use tokio::time::Instant;

const WAIT: Duration = Duration::from_secs(60);

#[derive(Debug)]
enum Silence {
    Timeout,
    Link(BleError),
}

/// The client side of one link, built from the public protocol functions only.
struct LinkClient {
    link: Box<dyn BleLink>,
    family: ServiceFamily,
    chars: Characteristics,
    reassemblers: HashMap<Uuid, Reassembler>,
    key: SharedKey,
    auth_id: u32,
    nonce_counter: u64,
    /// (characteristic, fragment length, arrival) of every indication.
    fragments: Vec<(Uuid, usize, Instant)>,
}

impl LinkClient {
    async fn connect(transport: &SimTransport, address: &DeviceAddress) -> Self {
        let mut client = Self::connect_unsubscribed(transport, address).await;
        for characteristic in [
            client.chars.pairing_gdio,
            client.chars.keyturner_gdio,
            client.chars.keyturner_usdio,
        ] {
            client.link.subscribe(characteristic).await.unwrap();
        }
        client
    }

    async fn connect_unsubscribed(transport: &SimTransport, address: &DeviceAddress) -> Self {
        let link = transport.connect(address).await.expect("connect");
        let family = ServiceFamily::detect(&link.characteristics()).expect("Nuki services");
        Self {
            link,
            family,
            chars: family.characteristics(),
            reassemblers: HashMap::new(),
            key: SharedKey::from_bytes([0; 32]),
            auth_id: 0,
            nonce_counter: 0,
            fragments: Vec::new(),
        }
    }

    async fn recv_raw(&mut self, within: Duration) -> Result<(Uuid, Vec<u8>), Silence> {
        let deadline = Instant::now() + within;
        loop {
            let indication =
                match tokio::time::timeout_at(deadline, self.link.next_indication()).await {
                    Err(_) => return Err(Silence::Timeout),
                    Ok(Err(error)) => return Err(Silence::Link(error)),
                    Ok(Ok(indication)) => indication,
                };
            let characteristic = indication.characteristic;
            self.fragments
                .push((characteristic, indication.value.len(), Instant::now()));
            let framing = if characteristic == self.chars.keyturner_usdio {
                Framing::Encrypted
            } else {
                Framing::Plain
            };
            let reassembler = self
                .reassemblers
                .entry(characteristic)
                .or_insert_with(|| Reassembler::new(framing));
            if let Some(message) = reassembler.push(&indication.value).expect("reassembly") {
                return Ok((characteristic, message));
            }
        }
    }

    async fn recv(&mut self) -> Result<Message, Silence> {
        let (characteristic, bytes) = self.recv_raw(WAIT).await?;
        Ok(if characteristic == self.chars.keyturner_usdio {
            let (auth_id, message) = decode_sealed(&self.key, &bytes, self.family);
            assert_eq!(auth_id, self.auth_id);
            message
        } else {
            decode_plain(&bytes, self.family)
        })
    }

    async fn pair(&mut self, script: &mut PairingScript) -> PairingStep {
        let mut request = script.first();
        loop {
            self.link
                .write(self.chars.pairing_gdio, &request)
                .await
                .expect("write");
            let (_, reply) = self.recv_raw(WAIT).await.expect("pairing reply");
            match script.on_reply(&reply) {
                PairingStep::Send(next) => request = next,
                done => return done,
            }
        }
    }

    async fn pair_as(&mut self, control: &SimControl, address: &DeviceAddress, id_type: IdType) {
        assert!(control.press_button(address).unwrap());
        let mut script =
            PairingScript::new(self.family, array(OFFICIAL_CLIENT_SECRET), id_type, 42);
        let (key, auth_id) = paired(self.pair(&mut script).await);
        self.key = key;
        self.auth_id = auth_id;
    }

    async fn send(&mut self, message: &Message, proof: Option<&Proof>) {
        self.nonce_counter += 1;
        let mut nonce = [0u8; 24];
        nonce[..8].copy_from_slice(&self.nonce_counter.to_le_bytes());
        let payload = messages::encode(message, self.family, proof);
        let bytes =
            frame::encode_encrypted(&self.key, &nonce, self.auth_id, message.command(), &payload);
        self.link
            .write(self.chars.keyturner_usdio, &bytes)
            .await
            .expect("write");
    }

    async fn challenge(&mut self) -> [u8; 32] {
        self.send(
            &Message::RequestData {
                command: CommandId::Challenge,
                extra: Vec::new(),
            },
            None,
        )
        .await;
        match self.recv().await {
            Ok(Message::Challenge(nonce)) => nonce,
            other => panic!("challenge expected, got {other:?}"),
        }
    }

    async fn request_states(&mut self) {
        self.send(
            &Message::RequestData {
                command: CommandId::KeyturnerStates,
                extra: Vec::new(),
            },
            None,
        )
        .await;
    }

    async fn states(&mut self) -> KeyturnerStates {
        self.request_states().await;
        match self.recv().await {
            Ok(Message::KeyturnerStates(states)) => states,
            other => panic!("states expected, got {other:?}"),
        }
    }

    async fn lock_action(&mut self, action: LockAction) {
        let challenge = self.challenge().await;
        self.send(&lock_action(action), Some(&Proof::challenge(challenge)))
            .await;
    }
}

fn address() -> DeviceAddress {
    DeviceAddress("sim-1".into())
}

fn building(kinds: &[SimKind], radio: RadioModel) -> (SimTransport, SimControl) {
    let specs = kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let mut spec = spec(*kind);
            spec.address = DeviceAddress(format!("sim-{}", i + 1));
            spec.nuki_id += i as u32;
            spec
        })
        .collect();
    SimTransport::with_wall_clock(specs, radio, WALL_CLOCK)
}

#[tokio::test(start_paused = true)]
async fn lock_action_over_the_radio_takes_motor_time() {
    let (transport, control) = building(&[SimKind::SmartLock4], RadioModel::default());
    let started = Instant::now();
    let mut client = LinkClient::connect(&transport, &address()).await;
    // Connect time plus three CCCD writes of one interval each.
    assert_eq!(started.elapsed(), Duration::from_millis(300 + 3 * 30));
    client.pair_as(&control, &address(), IdType::Bridge).await;
    client.lock_action(LockAction::Lock).await;
    assert_eq!(
        client.recv().await.unwrap(),
        Message::Status(StatusCode::Accepted)
    );
    let locking = client.recv().await.unwrap();
    assert_eq!(lock_state(&locking), Some(LockState::Locking.to_u8()));
    let moving_since = Instant::now();
    let locked = client.recv().await.unwrap();
    assert_eq!(lock_state(&locked), Some(LockState::Locked.to_u8()));
    let motor = moving_since.elapsed();
    assert!(
        motor >= Duration::from_millis(1400) && motor <= Duration::from_millis(1700),
        "motor took {motor:?}"
    );
    assert_eq!(
        client.recv().await.unwrap(),
        Message::Status(StatusCode::Complete)
    );
    assert_eq!(
        control.snapshot(&address()).unwrap().lock_state,
        LockState::Locked.to_u8()
    );
    // Every indication fits the default ATT payload.
    assert!(client.fragments.iter().all(|(_, len, _)| *len <= 20));
    // Busy while moving: a second action is refused.
    client.lock_action(LockAction::Unlock).await;
    assert_eq!(
        client.recv().await.unwrap(),
        Message::Status(StatusCode::Accepted)
    );
    let unlocking = client.recv().await.unwrap();
    assert_eq!(lock_state(&unlocking), Some(LockState::Unlocking.to_u8()));
    client.lock_action(LockAction::Lock).await;
    assert_eq!(
        client.recv().await.unwrap(),
        error(ErrorCode::KErrorBusy, CommandId::LockAction)
    );
}

#[tokio::test(start_paused = true)]
async fn messages_arrive_as_twenty_byte_indications_one_interval_apart() {
    let (transport, control) = building(&[SimKind::SmartLock4], RadioModel::default());
    let mut client = LinkClient::connect(&transport, &address()).await;
    client.pair_as(&control, &address(), IdType::App).await;
    client.fragments.clear();
    let started = Instant::now();
    client.request_states().await;
    let (_, message) = client.recv_raw(WAIT).await.unwrap();
    // 27-byte states: 30 ADATA + 16 tag + 8 PDATA overhead + 27 = 81 bytes.
    assert_eq!(message.len(), 81);
    let lens: Vec<usize> = client.fragments.iter().map(|(_, len, _)| *len).collect();
    assert_eq!(lens, [20, 20, 20, 20, 1]);
    let arrivals: Vec<Duration> = client
        .fragments
        .iter()
        .map(|(_, _, at)| at.duration_since(started))
        .collect();
    // The 56-byte request takes three intervals; each fragment one more.
    let expected: Vec<Duration> = (4..=8).map(|n| Duration::from_millis(30 * n)).collect();
    assert_eq!(arrivals, expected);

    // With a large MTU the same message is one indication.
    let (transport, control) = building(
        &[SimKind::SmartLock4],
        RadioModel {
            fragment_len: 512,
            ..RadioModel::default()
        },
    );
    let mut client = LinkClient::connect(&transport, &address()).await;
    client.pair_as(&control, &address(), IdType::App).await;
    client.fragments.clear();
    client.request_states().await;
    client.recv_raw(WAIT).await.unwrap();
    assert_eq!(client.fragments.len(), 1);
    assert_eq!(client.fragments[0].1, 81);
}

#[tokio::test(start_paused = true)]
async fn indications_on_unsubscribed_characteristics_are_lost() {
    let (transport, control) = building(&[SimKind::SmartLock2], RadioModel::default());
    let mut client = LinkClient::connect(&transport, &address()).await;
    client.pair_as(&control, &address(), IdType::App).await;
    let (key, auth_id) = (client.key.clone(), client.auth_id);
    client.link.disconnect().await.unwrap();
    drop(client);
    // Reconnect and forget to enable indications on USDIO.
    let mut client = LinkClient::connect_unsubscribed(&transport, &address()).await;
    client.key = key;
    client.auth_id = auth_id;
    client
        .link
        .subscribe(client.chars.keyturner_gdio)
        .await
        .unwrap();
    client.request_states().await;
    assert!(matches!(
        client.recv_raw(Duration::from_secs(10)).await,
        Err(Silence::Timeout)
    ));
    client
        .link
        .subscribe(client.chars.keyturner_usdio)
        .await
        .unwrap();
    assert_eq!(client.states().await.nuki_state, NukiState::DoorMode);
    // Writes to a characteristic the device lacks fail at once.
    let opener_usdio = ServiceFamily::Opener.characteristics().keyturner_usdio;
    assert_eq!(
        client.link.write(opener_usdio, &[0]).await,
        Err(BleError::NoSuchCharacteristic(opener_usdio))
    );
}

#[tokio::test(start_paused = true)]
async fn one_central_at_a_time_and_out_of_range_devices() {
    let (transport, control) = building(
        &[SimKind::SmartLock4, SimKind::Opener],
        RadioModel::default(),
    );
    let opener = DeviceAddress("sim-2".into());
    let mut client = LinkClient::connect(&transport, &address()).await;
    assert!(matches!(
        transport.connect(&address()).await,
        Err(BleError::ConnectFailed { .. })
    ));
    assert!(matches!(
        transport.connect(&DeviceAddress("nowhere".into())).await,
        Err(BleError::NotFound(_))
    ));
    let adverts = transport.scan(Duration::from_secs(1)).await.unwrap();
    assert_eq!(adverts.len(), 2);
    // Leaving range drops the link and silences the device.
    control.set_in_range(&address(), false).unwrap();
    assert!(matches!(
        client.recv_raw(WAIT).await,
        Err(Silence::Link(BleError::Disconnected))
    ));
    let adverts = transport.scan(Duration::from_secs(1)).await.unwrap();
    let names: Vec<_> = adverts
        .iter()
        .filter_map(|a| a.local_name.clone())
        .collect();
    assert_eq!(names, ["Nuki_Opener_11223345"]);
    assert!(matches!(
        transport.connect(&address()).await,
        Err(BleError::ConnectFailed { .. })
    ));
    control.set_in_range(&address(), true).unwrap();
    // A one-shot fault: the next attempt fails, the one after works.
    control.inject_fault(&opener, Fault::OutOfRange).unwrap();
    assert!(transport.connect(&opener).await.is_err());
    let client = LinkClient::connect(&transport, &opener).await;
    assert_eq!(client.family, ServiceFamily::Opener);
}

#[tokio::test(start_paused = true)]
async fn a_link_dropped_mid_command_still_executes_the_command() {
    let (transport, control) = building(&[SimKind::SmartLock4], RadioModel::default());
    let mut client = LinkClient::connect(&transport, &address()).await;
    client.pair_as(&control, &address(), IdType::Bridge).await;
    control
        .inject_fault(&address(), Fault::DropLinkMidCommand)
        .unwrap();
    client.lock_action(LockAction::Lock).await;
    assert!(matches!(
        client.recv().await,
        Err(Silence::Link(BleError::Disconnected))
    ));
    assert!(matches!(
        client
            .link
            .write(client.chars.keyturner_usdio, &[0; 40])
            .await,
        Err(BleError::Disconnected)
    ));
    // The motor kept running without a link.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let snapshot = control.snapshot(&address()).unwrap();
    assert_eq!(snapshot.lock_state, LockState::Locked.to_u8());
    assert!(!snapshot.connected);
    let (key, auth_id) = (client.key.clone(), client.auth_id);
    let mut client = LinkClient::connect(&transport, &address()).await;
    client.key = key;
    client.auth_id = auth_id;
    assert_eq!(
        client.states().await.lock_state,
        DeviceLockState::Lock(LockState::Locked)
    );
}

#[tokio::test(start_paused = true)]
async fn lost_requests_and_corrupted_replies() {
    let (transport, control) = building(&[SimKind::SmartLock4], RadioModel::default());
    let mut client = LinkClient::connect(&transport, &address()).await;
    client.pair_as(&control, &address(), IdType::App).await;
    control.inject_fault(&address(), Fault::NoAnswer).unwrap();
    client.request_states().await;
    assert!(matches!(
        client.recv_raw(Duration::from_secs(5)).await,
        Err(Silence::Timeout)
    ));
    control
        .inject_fault(&address(), Fault::CorruptByte)
        .unwrap();
    client.request_states().await;
    let (_, corrupted) = client.recv_raw(WAIT).await.unwrap();
    assert_eq!(
        frame::decode_encrypted(&client.key, &corrupted),
        Err(frame::FrameError::Authentication)
    );
    // Faults are one-offs.
    assert_eq!(client.states().await.nuki_state, NukiState::DoorMode);
    assert!(control
        .snapshot(&address())
        .unwrap()
        .pending_faults
        .is_empty());
}

#[tokio::test(start_paused = true)]
async fn reboot_drops_the_link_and_the_device_comes_back() {
    let (transport, control) = building(&[SimKind::SmartLock4], RadioModel::default());
    let mut client = LinkClient::connect(&transport, &address()).await;
    client.pair_as(&control, &address(), IdType::App).await;
    let challenge = client.challenge().await;
    client
        .send(
            &Message::RequestReboot,
            Some(&Proof::with_pin(challenge, SecurityPin::Short(1234))),
        )
        .await;
    assert_eq!(
        client.recv().await.unwrap(),
        Message::Status(StatusCode::Complete)
    );
    assert!(matches!(
        client.recv().await,
        Err(Silence::Link(BleError::Disconnected))
    ));
    assert!(transport
        .scan(Duration::from_millis(100))
        .await
        .unwrap()
        .is_empty());
    let refused_at = Instant::now();
    assert!(transport.connect(&address()).await.is_err());
    // The failed attempt waited for the connect timeout; by then the device is back.
    assert_eq!(refused_at.elapsed(), RadioModel::default().connect_timeout);
    assert!(transport.connect(&address()).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn adverts_show_pairing_mode_state_flag_and_timeouts_without_a_link() {
    let (transport, control) = building(&[SimKind::SmartLock4], RadioModel::default());
    let mut feed = transport.advertisements().await.unwrap();
    let advert = feed.recv().await.unwrap();
    assert_eq!(advert.address, Some(address()));
    assert_eq!(advert.local_name.as_deref(), Some("Nuki_11223344"));
    let rssi = advert.rssi.unwrap();
    assert!((-65..=-59).contains(&rssi), "rssi {rssi}");
    let beacon =
        advert::parse_beacon(&advert.manufacturer_data[&advert::APPLE_COMPANY_ID]).unwrap();
    assert_eq!(beacon.nuki_id, 0x1122_3344);
    assert!(!beacon.state_changed);
    assert!(control.press_button(&address()).unwrap());
    let advert = transport
        .scan(Duration::from_secs(1))
        .await
        .unwrap()
        .remove(0);
    let pairing = ServiceFamily::Keyturner.characteristics().pairing_service;
    let parsed =
        advert::parse_pairing_service_data(pairing, &advert.service_data[&pairing]).unwrap();
    assert_eq!(parsed.nuki_id, 0x1122_3344);
    // Nobody pairs: pairing mode ends by itself.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let advert = transport
        .scan(Duration::from_secs(1))
        .await
        .unwrap()
        .remove(0);
    assert!(advert.service_data.is_empty());
    assert!(!control.snapshot(&address()).unwrap().pairing_mode);
    // A manual turn sets the flag; a Bridge reading the state clears it.
    control.manual_action(&address(), 0x02).unwrap();
    let beacon_flag = |advert: &nuki_edge::ble::Advertisement| {
        advert::parse_beacon(&advert.manufacturer_data[&advert::APPLE_COMPANY_ID])
            .unwrap()
            .state_changed
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let advert = transport
        .scan(Duration::from_secs(1))
        .await
        .unwrap()
        .remove(0);
    assert!(beacon_flag(&advert));
    let mut client = LinkClient::connect(&transport, &address()).await;
    client.pair_as(&control, &address(), IdType::Bridge).await;
    client.states().await;
    let advert = transport
        .scan(Duration::from_secs(1))
        .await
        .unwrap()
        .remove(0);
    assert!(!beacon_flag(&advert));
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_produces_the_same_indications() {
    async fn session() -> Vec<Vec<u8>> {
        let (transport, control) = building(&[SimKind::SmartLock4], RadioModel::default());
        let mut client = LinkClient::connect(&transport, &address()).await;
        client.pair_as(&control, &address(), IdType::App).await;
        let mut received = Vec::new();
        client.lock_action(LockAction::Lock).await;
        for _ in 0..4 {
            received.push(client.recv_raw(WAIT).await.unwrap().1);
        }
        received
    }
    assert_eq!(session().await, session().await);
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

#[test]
fn memory_survives_a_power_cycle_without_repeating_nonces() {
    let mut direct = Direct::new(SimKind::SmartLock4);
    direct.command(&lock_action(LockAction::Lock));
    direct.advance(Duration::from_secs(2));
    let mut issued = direct.pairing_nonces.clone();
    issued.push(direct.challenge());
    let memory = direct.device.memory();
    let json = serde_json::to_string(&memory).unwrap();
    assert!(!format!("{memory:?}").contains(&hex::encode(direct.key.expose())));
    let restored: nuki_edge::ble::sim::DeviceMemory = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, memory);

    let mut rebooted = SimDevice::new(spec(SimKind::SmartLock4), WALL_CLOCK);
    rebooted.restore(&restored);
    rebooted.on_connect(Duration::ZERO);
    let mut direct = Direct {
        device: rebooted,
        ..direct
    };
    // The old key still works, the random stream moved on (no nonce of the first run comes
    // back), and the bolt is where it was.
    for _ in 0..3 {
        assert!(!issued.contains(&direct.challenge()));
    }
    assert_eq!(
        direct.states().lock_state,
        DeviceLockState::Lock(LockState::Locked)
    );
    let (_, next) = paired(direct.pair_another(IdType::App, 5, 0x55));
    assert!(next > direct.auth_id);
}

#[tokio::test(start_paused = true)]
async fn a_closed_link_delivers_nothing_more_and_frees_the_device() {
    let (transport, control) = building(&[SimKind::SmartLock4], RadioModel::default());
    let mut client = LinkClient::connect(&transport, &address()).await;
    client.pair_as(&control, &address(), IdType::App).await;
    client.request_states().await;
    client.link.disconnect().await.unwrap();
    assert_eq!(
        client.link.next_indication().await,
        Err(BleError::Disconnected)
    );
    assert_eq!(
        client.link.subscribe(client.chars.keyturner_usdio).await,
        Err(BleError::Disconnected)
    );
    assert!(!control.snapshot(&address()).unwrap().connected);
    // Dropping a link without disconnecting frees the device too.
    let other = LinkClient::connect(&transport, &address()).await;
    drop(other);
    assert!(transport.connect(&address()).await.is_ok());
}
