//! Client side of pairing: the classic flow (§3.2) and the Smart Lock Ultra flow (§3.4).
//!
//! Pure: the caller moves bytes and supplies randomness (key pair, nonces).

use super::codec::DecodeError;
use super::command::CommandId;
use super::crypto::{authenticator, verify_authenticator, KeyPair, SharedKey, NONCE_LEN};
use super::enums::{ErrorCode, IdType};
use super::exchange::Session;
use super::frame::{self, FrameError, ADATA_LEN};
use super::messages::{self, AuthorizationData, AuthorizationDataUltra, Message, SecurityPin};
use super::reassembly::Framing;
use super::uuids::ServiceFamily;

/// The fixed authorization id of the encrypted Ultra pairing messages, as it goes on the wire
/// (ADATA and PDATA). The reference and the other clients give it as these bytes, not as the
/// number 0x7FFFFFFF, whose little-endian form `FF FF FF 7F` a real Ultra may refuse.
pub const ULTRA_PAIRING_AUTH_ID_BYTES: [u8; 4] = [0x7F, 0xFF, 0xFF, 0xFF];

/// [`ULTRA_PAIRING_AUTH_ID_BYTES`] as the number the framing functions write little-endian.
pub const ULTRA_PAIRING_AUTH_ID: u32 = u32::from_le_bytes(ULTRA_PAIRING_AUTH_ID_BYTES);

/// Who we pair as.
#[derive(Clone)]
pub struct PairingRequest {
    pub id_type: IdType,
    pub app_id: u32,
    pub name: String,
    /// The device's security PIN; required by the Smart Lock Ultra.
    pub security_pin: Option<SecurityPin>,
}

impl std::fmt::Debug for PairingRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PairingRequest")
            .field("id_type", &self.id_type)
            .field("app_id", &self.app_id)
            .field("name", &self.name)
            .field("security_pin", &self.security_pin.map(|_| "<redacted>"))
            .finish()
    }
}

/// What a successful pairing yields: everything needed to talk to the device afterwards.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PairingOutcome {
    pub auth_id: u32,
    pub key: SharedKey,
    pub device_uuid: [u8; 16],
    /// True when the Ultra flow was used (6-digit PIN in commands).
    pub ultra: bool,
}

impl PairingOutcome {
    /// The session for commands after pairing. `advertised` is the family read from the
    /// device's services; the Ultra flow proves an Ultra whatever they said.
    pub fn session(&self, advertised: ServiceFamily) -> Session {
        Session {
            auth_id: self.auth_id,
            key: self.key.clone(),
            family: if self.ultra {
                ServiceFamily::Ultra
            } else {
                advertised
            },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PairingError {
    #[error("malformed message: {0}")]
    Frame(#[from] FrameError),
    #[error("malformed payload: {0}")]
    Decode(#[from] DecodeError),
    #[error("device refused: {code} (for {command})")]
    Refused { code: ErrorCode, command: CommandId },
    #[error("device sent {got} while {expected} was expected")]
    Unexpected {
        expected: &'static str,
        got: CommandId,
    },
    #[error("device's authenticator does not verify: not the device we talked to, or tampering")]
    BadAuthenticator,
    #[error("this device requires its security PIN for pairing")]
    PinRequired,
    #[error("pairing already finished")]
    Finished,
}

impl PairingError {
    /// The device's error code, when the device itself refused.
    pub fn device_code(&self) -> Option<ErrorCode> {
        match self {
            PairingError::Refused { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// What to do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairingStep {
    /// Write these bytes to the pairing characteristic and wait for the next message.
    Send(Vec<u8>),
    Done(PairingOutcome),
}

enum State {
    Start,
    AwaitPublicKey,
    AwaitFirstChallenge { device_public: [u8; 32] },
    AwaitSecondChallenge,
    AwaitAuthorizationId,
    AwaitUltraAuthorizationId,
    AwaitStatus { outcome: PairingOutcome },
    Done,
}

/// The client pairing state machine.
pub struct PairingClient {
    request: PairingRequest,
    family: ServiceFamily,
    keypair: KeyPair,
    client_nonce: [u8; 32],
    key: Option<SharedKey>,
    state: State,
}

impl PairingClient {
    /// `client_nonce` is the random `nA` of the classic flow.
    pub fn new(
        request: PairingRequest,
        family: ServiceFamily,
        keypair: KeyPair,
        client_nonce: [u8; 32],
    ) -> Self {
        Self {
            request,
            family,
            keypair,
            client_nonce,
            key: None,
            state: State::Start,
        }
    }

    /// How the next message from the device is framed.
    pub fn expected_framing(&self) -> Framing {
        match self.state {
            State::AwaitUltraAuthorizationId => Framing::Encrypted,
            _ => Framing::Plain,
        }
    }

    /// The first message: Request Data (Public Key).
    pub fn start(&mut self) -> Vec<u8> {
        self.state = State::AwaitPublicKey;
        plain(&Message::RequestData {
            command: CommandId::PublicKey,
            extra: Vec::new(),
        })
    }

    /// Feeds one whole message from the device. `transport_nonce` is used only when the
    /// answer must be encrypted (Ultra); pass fresh random bytes every time.
    pub fn on_message(
        &mut self,
        bytes: &[u8],
        transport_nonce: [u8; NONCE_LEN],
    ) -> Result<PairingStep, PairingError> {
        let message = self.read(bytes)?;
        if let Message::ErrorReport { code, command } = message {
            self.state = State::Done;
            return Err(PairingError::Refused { code, command });
        }
        let state = std::mem::replace(&mut self.state, State::Done);
        match (state, message) {
            (State::AwaitPublicKey, Message::PublicKey(device_public)) => {
                self.key = Some(self.keypair.shared_key(&device_public));
                self.state = State::AwaitFirstChallenge { device_public };
                Ok(PairingStep::Send(plain(&Message::PublicKey(
                    self.keypair.public_key(),
                ))))
            }
            (State::AwaitFirstChallenge { device_public }, Message::Challenge(nonce)) => {
                let key = self.key()?;
                let a1 = authenticator(key, &[&self.keypair.public_key(), &device_public, &nonce]);
                self.state = State::AwaitSecondChallenge;
                Ok(PairingStep::Send(plain(
                    &Message::AuthorizationAuthenticator(a1),
                )))
            }
            (State::AwaitSecondChallenge, Message::Challenge(nonce)) => {
                let key = self.key()?;
                let mut data = AuthorizationData {
                    authenticator: [0; 32],
                    id_type: self.request.id_type,
                    app_id: self.request.app_id,
                    name: self.request.name.clone(),
                    nonce: self.client_nonce,
                };
                data.authenticator = authenticator(key, &[&data.authenticated_fields(), &nonce]);
                self.state = State::AwaitAuthorizationId;
                Ok(PairingStep::Send(plain(&Message::AuthorizationData(data))))
            }
            (State::AwaitSecondChallenge, Message::AuthorizationInfo(_)) => {
                let pin = self.request.security_pin.ok_or(PairingError::PinRequired)?;
                let key = self.key()?.clone();
                let data = Message::AuthorizationDataUltra(AuthorizationDataUltra {
                    app_id: self.request.app_id,
                    name: self.request.name.clone(),
                    pin,
                });
                let payload = messages::encode(&data, self.family, None);
                self.state = State::AwaitUltraAuthorizationId;
                Ok(PairingStep::Send(frame::encode_encrypted(
                    &key,
                    &transport_nonce,
                    ULTRA_PAIRING_AUTH_ID,
                    data.command(),
                    &payload,
                )))
            }
            (State::AwaitAuthorizationId, Message::AuthorizationId(id)) => {
                let key = self.key()?.clone();
                let id_bytes = id.auth_id.to_le_bytes();
                if !verify_authenticator(
                    &key,
                    &[&id_bytes, &id.uuid, &id.nonce, &self.client_nonce],
                    &id.authenticator,
                ) {
                    return Err(PairingError::BadAuthenticator);
                }
                let a4 = authenticator(&key, &[&id_bytes, &id.nonce]);
                self.state = State::AwaitStatus {
                    outcome: PairingOutcome {
                        auth_id: id.auth_id,
                        key,
                        device_uuid: id.uuid,
                        ultra: false,
                    },
                };
                Ok(PairingStep::Send(plain(
                    &Message::AuthorizationIdConfirmation {
                        authenticator: a4,
                        auth_id: id.auth_id,
                    },
                )))
            }
            (State::AwaitUltraAuthorizationId, Message::AuthorizationIdUltra(id)) => {
                Ok(PairingStep::Done(PairingOutcome {
                    auth_id: id.auth_id,
                    key: self.key()?.clone(),
                    device_uuid: id.uuid,
                    ultra: true,
                }))
            }
            (State::AwaitStatus { outcome }, Message::Status(_)) => Ok(PairingStep::Done(outcome)),
            (State::Done, _) => Err(PairingError::Finished),
            (state, message) => Err(PairingError::Unexpected {
                expected: state_expectation(&state),
                got: message.command(),
            }),
        }
    }

    fn key(&self) -> Result<&SharedKey, PairingError> {
        self.key.as_ref().ok_or(PairingError::Unexpected {
            expected: "public key",
            got: CommandId::Challenge,
        })
    }

    fn read(&self, bytes: &[u8]) -> Result<Message, PairingError> {
        // A refusal during the encrypted Ultra step may still come as a short plain report.
        let (command, payload) = match (self.expected_framing(), &self.key) {
            (Framing::Encrypted, Some(key)) if bytes.len() >= ADATA_LEN => {
                let opened = frame::decode_encrypted(key, bytes)?;
                (opened.command, opened.payload)
            }
            _ => {
                let opened = frame::decode_plain(bytes)?;
                (opened.command, opened.payload)
            }
        };
        Ok(messages::decode(command, &payload, self.family)?.message)
    }
}

fn plain(message: &Message) -> Vec<u8> {
    // Pairing messages are built for the classic family layout; the family only matters for
    // PIN width, which is carried by `SecurityPin` itself in the Ultra message.
    frame::encode_plain(
        message.command(),
        &messages::encode(message, ServiceFamily::Keyturner, None),
    )
}

fn state_expectation(state: &State) -> &'static str {
    match state {
        State::Start => "nothing (pairing not started)",
        State::AwaitPublicKey => "the device's public key",
        State::AwaitFirstChallenge { .. } => "a challenge",
        State::AwaitSecondChallenge => "the second challenge or authorization info",
        State::AwaitAuthorizationId | State::AwaitUltraAuthorizationId => "the authorization id",
        State::AwaitStatus { .. } => "the final status",
        State::Done => "nothing (pairing finished)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ultra_pairing_auth_id_goes_on_the_wire_as_7f_ff_ff_ff() {
        let key = SharedKey::from_bytes([9; 32]);
        let message = frame::encode_encrypted(
            &key,
            &[0; NONCE_LEN],
            ULTRA_PAIRING_AUTH_ID,
            CommandId::AuthorizationData,
            &[],
        );
        assert_eq!(message[24..28], [0x7F, 0xFF, 0xFF, 0xFF]);
        let opened = frame::open_encrypted(&key, &message).unwrap();
        assert_eq!(
            opened.sealed_auth_id.to_le_bytes(),
            [0x7F, 0xFF, 0xFF, 0xFF]
        );
    }
}
