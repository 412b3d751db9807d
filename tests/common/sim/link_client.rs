//! The client side of one simulated radio link, built from the public protocol functions
//! only, for tests that run the transport under a paused tokio clock.

use std::collections::HashMap;
use std::time::Duration;

use super::codec::*;
use super::direct::*;
use super::messages::*;
use super::pairing_script::*;
use nuki_edge::ble::sim::{RadioModel, SimControl, SimKind, SimTransport};
use nuki_edge::ble::{BleError, BleLink, BleTransport, DeviceAddress};
use nuki_edge::nuki::command::CommandId;
use nuki_edge::nuki::crypto::SharedKey;
use nuki_edge::nuki::enums::{IdType, LockAction};
use nuki_edge::nuki::frame;
use nuki_edge::nuki::messages::{self, KeyturnerStates, Message, Proof};
use nuki_edge::nuki::reassembly::{Framing, Reassembler};
use nuki_edge::nuki::uuids::{Characteristics, ServiceFamily};
use tokio::time::Instant;
use uuid::Uuid;

pub const WAIT: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub enum Silence {
    Timeout,
    Link(BleError),
}

/// The client side of one link, built from the public protocol functions only.
pub struct LinkClient {
    pub link: Box<dyn BleLink>,
    pub family: ServiceFamily,
    pub chars: Characteristics,
    pub reassemblers: HashMap<Uuid, Reassembler>,
    pub key: SharedKey,
    pub auth_id: u32,
    pub nonce_counter: u64,
    /// (characteristic, fragment length, arrival) of every indication.
    pub fragments: Vec<(Uuid, usize, Instant)>,
}

impl LinkClient {
    pub async fn connect(transport: &SimTransport, address: &DeviceAddress) -> Self {
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

    pub async fn connect_unsubscribed(transport: &SimTransport, address: &DeviceAddress) -> Self {
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

    pub async fn recv_raw(&mut self, within: Duration) -> Result<(Uuid, Vec<u8>), Silence> {
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

    pub async fn recv(&mut self) -> Result<Message, Silence> {
        let (characteristic, bytes) = self.recv_raw(WAIT).await?;
        Ok(if characteristic == self.chars.keyturner_usdio {
            let (auth_id, message) = decode_sealed(&self.key, &bytes, self.family);
            assert_eq!(auth_id, self.auth_id);
            message
        } else {
            decode_plain(&bytes, self.family)
        })
    }

    pub async fn pair(&mut self, script: &mut PairingScript) -> PairingStep {
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

    pub async fn pair_as(
        &mut self,
        control: &SimControl,
        address: &DeviceAddress,
        id_type: IdType,
    ) {
        assert!(control.press_button(address).unwrap());
        let mut script =
            PairingScript::new(self.family, array(OFFICIAL_CLIENT_SECRET), id_type, 42);
        let (key, auth_id) = paired(self.pair(&mut script).await);
        self.key = key;
        self.auth_id = auth_id;
    }

    pub async fn send(&mut self, message: &Message, proof: Option<&Proof>) {
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

    pub async fn challenge(&mut self) -> [u8; 32] {
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

    pub async fn request_states(&mut self) {
        self.send(
            &Message::RequestData {
                command: CommandId::KeyturnerStates,
                extra: Vec::new(),
            },
            None,
        )
        .await;
    }

    pub async fn states(&mut self) -> KeyturnerStates {
        self.request_states().await;
        match self.recv().await {
            Ok(Message::KeyturnerStates(states)) => states,
            other => panic!("states expected, got {other:?}"),
        }
    }

    pub async fn lock_action(&mut self, action: LockAction) {
        let challenge = self.challenge().await;
        self.send(&lock_action(action), Some(&Proof::challenge(challenge)))
            .await;
    }
}

pub fn address() -> DeviceAddress {
    DeviceAddress("sim-1".into())
}

pub fn building(kinds: &[SimKind], radio: RadioModel) -> (SimTransport, SimControl) {
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
