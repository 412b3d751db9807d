//! One synchronous simulated device plus the client side of a paired authorization.

use std::time::Duration;

use super::codec::*;
use super::pairing_script::*;
use nuki_edge::ble::sim::{InitialPosition, Outbound, SimDevice, SimDeviceSpec, SimKind};
use nuki_edge::nuki::advert;
use nuki_edge::nuki::command::CommandId;
use nuki_edge::nuki::crypto::SharedKey;
use nuki_edge::nuki::enums::IdType;
use nuki_edge::nuki::frame;
use nuki_edge::nuki::messages::{self, KeyturnerStates, Message, Proof, Protection, SecurityPin};
use nuki_edge::nuki::uuids::{Characteristics, ServiceFamily};

pub fn spec(kind: SimKind) -> SimDeviceSpec {
    let mut spec = SimDeviceSpec::new("sim-1", "Front door", 0x1122_3344, kind);
    spec.initial_position = InitialPosition::Unlocked;
    spec
}

/// The synchronous device plus the client side of one paired authorization.
pub struct Direct {
    pub device: SimDevice,
    pub family: ServiceFamily,
    pub chars: Characteristics,
    pub key: SharedKey,
    pub auth_id: u32,
    pub now: Duration,
    pub nonce_counter: u64,
    /// Nonces the device sent during the first pairing.
    pub pairing_nonces: Vec<[u8; 32]>,
}

impl Direct {
    /// Pairs a fresh client with `device`, which must be connected and in pairing mode.
    pub fn pair(device: &mut SimDevice, script: &mut PairingScript, now: Duration) -> PairingStep {
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

    pub fn new(kind: SimKind) -> Self {
        Self::with_spec(spec(kind), IdType::Bridge)
    }

    pub fn with_spec(spec: SimDeviceSpec, id_type: IdType) -> Self {
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

    pub fn nonce(&mut self) -> [u8; 24] {
        self.nonce_counter += 1;
        let mut nonce = [0u8; 24];
        nonce[..8].copy_from_slice(&self.nonce_counter.to_le_bytes());
        nonce
    }

    pub fn sealed(&mut self, message: &Message, proof: Option<&Proof>) -> Vec<u8> {
        let payload = messages::encode(message, self.family, proof);
        let nonce = self.nonce();
        frame::encode_encrypted(&self.key, &nonce, self.auth_id, message.command(), &payload)
    }

    pub fn write(&mut self, bytes: &[u8]) -> Vec<Outbound> {
        self.device
            .on_write(self.chars.keyturner_usdio, bytes, self.now)
    }

    pub fn open(&self, out: &Outbound) -> Message {
        assert_eq!(out.characteristic, self.chars.keyturner_usdio);
        let (auth_id, message) = decode_sealed(&self.key, &out.bytes, self.family);
        assert_eq!(auth_id, self.auth_id);
        message
    }

    pub fn send(&mut self, message: &Message, proof: Option<&Proof>) -> Vec<Message> {
        let request = self.sealed(message, proof);
        let out = self.write(&request);
        out.iter().map(|o| self.open(o)).collect()
    }

    pub fn challenge(&mut self) -> [u8; 32] {
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

    pub fn proof(&mut self, command: CommandId, pin: u32) -> Option<Proof> {
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
    pub fn command(&mut self, message: &Message) -> Vec<Message> {
        let pin = self.device.spec().effective_pin();
        self.command_with_pin(message, pin)
    }

    pub fn command_with_pin(&mut self, message: &Message, pin: u32) -> Vec<Message> {
        let proof = self.proof(message.command(), pin);
        self.send(message, proof.as_ref())
    }

    pub fn states(&mut self) -> KeyturnerStates {
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
    pub fn advance(&mut self, by: Duration) -> Vec<Message> {
        self.now += by;
        let out = self.device.on_timer(self.now);
        out.iter().map(|o| self.open(o)).collect()
    }
}

impl Direct {
    /// Pairs another client on the same connection (pressing the button first).
    pub fn pair_another(&mut self, id_type: IdType, app_id: u32, secret: u8) -> PairingStep {
        assert!(self.device.press_button(self.now));
        let mut script = PairingScript::new(self.family, [secret; 32], id_type, app_id);
        script.pin = self.device.spec().effective_pin();
        script.name = format!("Client {app_id}");
        Self::pair(&mut self.device, &mut script, self.now)
    }

    /// Talks as another authorization from now on; returns the previous identity.
    pub fn switch(&mut self, key: SharedKey, auth_id: u32) -> (SharedKey, u32) {
        let previous = (self.key.clone(), self.auth_id);
        self.key = key;
        self.auth_id = auth_id;
        previous
    }
}

pub fn flag(device: &SimDevice, now: Duration) -> bool {
    let advert = device.advertisement(now).expect("advertising");
    let data = &advert.manufacturer_data[&advert::APPLE_COMPANY_ID];
    advert::parse_beacon(data).expect("beacon").state_changed
}

pub fn fresh_device(spec: SimDeviceSpec) -> SimDevice {
    let mut device = SimDevice::new(spec, WALL_CLOCK);
    device.on_connect(Duration::ZERO);
    device
}

pub fn pairing_reply(device: &mut SimDevice, request: &[u8]) -> Message {
    let family = device.spec().family();
    let out = device.on_write(
        family.characteristics().pairing_gdio,
        request,
        Duration::ZERO,
    );
    assert_eq!(out.len(), 1);
    decode_plain(&out[0].bytes, family)
}
