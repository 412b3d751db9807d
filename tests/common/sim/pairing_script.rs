//! The client side of pairing (classic and Ultra) as a script fed with the device's replies.

use super::codec::*;
use nuki_edge::ble::sim::ForcedSecrets;
use nuki_edge::nuki::command::CommandId;
use nuki_edge::nuki::crypto::{self, KeyPair, SharedKey};
use nuki_edge::nuki::enums::{IdType, StatusCode};
use nuki_edge::nuki::frame;
use nuki_edge::nuki::messages::{
    self, AuthorizationData, AuthorizationDataUltra, Message, SecurityPin,
};
use nuki_edge::nuki::uuids::ServiceFamily;

/// What a pairing script does next.
pub enum PairingStep {
    Send(Vec<u8>),
    Done { key: SharedKey, auth_id: u32 },
    Refused(Message),
}

/// The client side of pairing (classic §3.2 or Ultra §3.4), as a script fed with replies.
pub struct PairingScript {
    pub family: ServiceFamily,
    pub client: KeyPair,
    pub id_type: IdType,
    pub app_id: u32,
    pub name: String,
    pub client_nonce: [u8; 32],
    pub pin: u32,
    pub lock_public: [u8; 32],
    pub key: Option<SharedKey>,
    pub authenticator_sent: bool,
    pub auth_id: u32,
    /// Every nonce the device sent (challenges and nK3), to check they never repeat.
    pub device_nonces: Vec<[u8; 32]>,
}

impl PairingScript {
    pub fn new(
        family: ServiceFamily,
        client_secret: [u8; 32],
        id_type: IdType,
        app_id: u32,
    ) -> Self {
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

    pub fn first(&self) -> Vec<u8> {
        plain(
            &Message::RequestData {
                command: CommandId::PublicKey,
                extra: Vec::new(),
            },
            self.family,
        )
    }

    pub fn key(&self) -> SharedKey {
        self.key.clone().expect("key agreed")
    }

    pub fn on_reply(&mut self, reply: &[u8]) -> PairingStep {
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

pub fn forced_vector_secrets() -> ForcedSecrets {
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

pub fn paired(step: PairingStep) -> (SharedKey, u32) {
    match step {
        PairingStep::Done { key, auth_id } => (key, auth_id),
        PairingStep::Refused(message) => panic!("pairing refused: {message:?}"),
        PairingStep::Send(_) => unreachable!(),
    }
}

pub fn refused(step: PairingStep) -> Message {
    match step {
        PairingStep::Refused(message) => message,
        PairingStep::Done { .. } => panic!("pairing should have been refused"),
        PairingStep::Send(_) => unreachable!(),
    }
}
