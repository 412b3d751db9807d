//! The peripheral side of pairing on the pairing GDIO: the classic flow (§3.2) and the
//! Smart Lock Ultra flow with security PIN (§3.4).

use std::time::Duration;

use crate::nuki::codec::DecodeError;
use crate::nuki::command::CommandId;
use crate::nuki::crypto::{self, KeyPair, SharedKey};
use crate::nuki::enums::{ErrorCode, IdType, StatusCode};
use crate::nuki::frame::{self, OpenedFrame};
use crate::nuki::messages::{
    self, AuthorizationData, AuthorizationDataUltra, AuthorizationId, AuthorizationIdUltra, Message,
};
use crate::nuki::uuids::ServiceFamily;

use super::auth::{AuthorizationTable, NewAuthorization, TimeWindow};
use super::entropy::Entropy;
use super::pin::{PinGuard, PinRejection};

/// What pairing needs from the rest of the device for one message.
pub(crate) struct PairingContext<'a> {
    pub family: ServiceFamily,
    pub in_pairing_mode: bool,
    pub lock_keys: &'a KeyPair,
    pub lock_uuid: [u8; 16],
    pub entropy: &'a mut Entropy,
    pub authorizations: &'a mut AuthorizationTable,
    pub pins: &'a mut PinGuard,
    pub now: Duration,
    pub now_unix: i64,
}

/// The device's answer to one pairing message.
#[derive(Debug, Default)]
pub(crate) struct PairingOutput {
    pub reply: Vec<u8>,
    /// An authorization was stored by this message.
    pub stored: Option<u32>,
    /// Pairing finished; the device leaves pairing mode.
    pub complete: bool,
}

enum Stage {
    Idle,
    PublicKeySent,
    ChallengeSent {
        client_public: [u8; 32],
        key: SharedKey,
        challenge: [u8; 32],
    },
    /// Ultra: Authorization Info sent, waiting for the encrypted Authorization Data.
    InfoSent {
        key: SharedKey,
    },
    SecondChallengeSent {
        key: SharedKey,
        challenge: [u8; 32],
    },
    AuthorizationIdSent {
        key: SharedKey,
        auth_id: u32,
        challenge: [u8; 32],
    },
}

/// The authorization id of the Ultra's encrypted pairing messages, in ADATA and PDATA, as the
/// published layout gives it (§3.4). Spelled out here rather than taken from the client so
/// that the device checks the reference, not whatever our client happens to send.
const ULTRA_PAIRING_AUTH_ID_ON_WIRE: [u8; 4] = [0x7F, 0xFF, 0xFF, 0xFF];

/// A refused pairing message: error code and the command that caused it.
type Refusal = (ErrorCode, CommandId);

/// One connection's pairing state machine. Any error sends the client back to the start.
pub(crate) struct PairingSession {
    stage: Stage,
}

impl Default for PairingSession {
    fn default() -> Self {
        Self { stage: Stage::Idle }
    }
}

impl PairingSession {
    pub fn handle(&mut self, ctx: &mut PairingContext<'_>, bytes: &[u8]) -> PairingOutput {
        if let Stage::InfoSent { key } = &self.stage {
            if let Ok(opened) = frame::open_encrypted(key, bytes) {
                let key = key.clone();
                self.stage = Stage::Idle;
                if opened.header.auth_id.to_le_bytes() != ULTRA_PAIRING_AUTH_ID_ON_WIRE {
                    // An Ultra knows no other authorization during pairing, so it cannot
                    // answer encrypted: the report a lock sends for an unknown id.
                    return PairingOutput {
                        reply: plain(
                            ctx.family,
                            &Message::ErrorReport {
                                code: ErrorCode::KErrorNotAuthorized,
                                command: CommandId::Unknown(0),
                            },
                        ),
                        ..PairingOutput::default()
                    };
                }
                return ultra_authorization_data(ctx, &key, opened);
            }
        }
        match self.handle_plain(ctx, bytes) {
            Ok(output) => output,
            Err((code, command)) => {
                self.stage = Stage::Idle;
                PairingOutput {
                    reply: plain(ctx.family, &Message::ErrorReport { code, command }),
                    ..PairingOutput::default()
                }
            }
        }
    }

    fn handle_plain(
        &mut self,
        ctx: &mut PairingContext<'_>,
        bytes: &[u8],
    ) -> Result<PairingOutput, Refusal> {
        let inspected = frame::inspect_plain(bytes)
            .map_err(|_| (ErrorCode::ErrorBadLength, CommandId::Unknown(0)))?;
        let command = inspected.command;
        if !inspected.crc_valid {
            return Err((ErrorCode::ErrorBadCrc, command));
        }
        if !ctx.in_pairing_mode {
            return Err((ErrorCode::PErrorNotPairing, command));
        }
        let payload = inspected.payload.as_slice();
        let message = messages::decode(command, payload, ctx.family)
            .map_err(|error| (decode_error_code(&error), command))?
            .message;
        let stage = std::mem::replace(&mut self.stage, Stage::Idle);
        match (stage, message) {
            (
                _,
                Message::RequestData {
                    command: requested, ..
                },
            ) => {
                if requested != CommandId::PublicKey {
                    return Err((ErrorCode::PErrorBadParameter, command));
                }
                self.stage = Stage::PublicKeySent;
                Ok(reply(ctx, Message::PublicKey(ctx.lock_keys.public_key())))
            }
            (Stage::PublicKeySent, Message::PublicKey(client_public)) => {
                let key = ctx.lock_keys.shared_key(&client_public);
                let challenge = ctx.entropy.challenge();
                self.stage = Stage::ChallengeSent {
                    client_public,
                    key,
                    challenge,
                };
                Ok(reply(ctx, Message::Challenge(challenge)))
            }
            (
                Stage::ChallengeSent {
                    client_public,
                    key,
                    challenge,
                },
                Message::AuthorizationAuthenticator(authenticator),
            ) => {
                let lock_public = ctx.lock_keys.public_key();
                let parts: [&[u8]; 3] = [&client_public, &lock_public, &challenge];
                if !crypto::verify_authenticator(&key, &parts, &authenticator) {
                    return Err((ErrorCode::PErrorBadAuthenticator, command));
                }
                if ctx.family == ServiceFamily::Ultra {
                    self.stage = Stage::InfoSent { key };
                    // The Ultra always has a security PIN; the byte says so.
                    return Ok(reply(ctx, Message::AuthorizationInfo(1)));
                }
                let challenge = ctx.entropy.challenge();
                self.stage = Stage::SecondChallengeSent { key, challenge };
                Ok(reply(ctx, Message::Challenge(challenge)))
            }
            (Stage::SecondChallengeSent { key, challenge }, Message::AuthorizationData(data)) => {
                self.classic_authorization_data(ctx, key, &challenge, &data)
                    .map_err(|code| (code, command))
            }
            (
                Stage::AuthorizationIdSent {
                    key,
                    auth_id,
                    challenge,
                },
                Message::AuthorizationIdConfirmation {
                    authenticator,
                    auth_id: confirmed,
                },
            ) => {
                let auth_id_bytes = auth_id.to_le_bytes();
                let parts: [&[u8]; 2] = [&auth_id_bytes, &challenge];
                if confirmed != auth_id
                    || !crypto::verify_authenticator(&key, &parts, &authenticator)
                {
                    return Err((ErrorCode::PErrorBadAuthenticator, command));
                }
                Ok(PairingOutput {
                    reply: plain(ctx.family, &Message::Status(StatusCode::Complete)),
                    stored: None,
                    complete: true,
                })
            }
            _ => Err((ErrorCode::ErrorUnknown, command)),
        }
    }

    fn classic_authorization_data(
        &mut self,
        ctx: &mut PairingContext<'_>,
        key: SharedKey,
        challenge: &[u8; 32],
        data: &AuthorizationData,
    ) -> Result<PairingOutput, ErrorCode> {
        let signed = data.authenticated_fields();
        let parts: [&[u8]; 2] = [&signed, challenge];
        if !crypto::verify_authenticator(&key, &parts, &data.authenticator) {
            return Err(ErrorCode::PErrorBadAuthenticator);
        }
        if matches!(data.id_type, IdType::Unknown(_)) {
            return Err(ErrorCode::PErrorBadParameter);
        }
        let auth_id = store(ctx, &key, data.id_type, data.app_id, data.name.clone())?;
        let device_challenge = ctx.entropy.challenge();
        let auth_id_bytes = auth_id.to_le_bytes();
        let parts: [&[u8]; 4] = [
            &auth_id_bytes,
            &ctx.lock_uuid,
            &device_challenge,
            &data.nonce,
        ];
        let message = Message::AuthorizationId(AuthorizationId {
            authenticator: crypto::authenticator(&key, &parts),
            auth_id,
            uuid: ctx.lock_uuid,
            nonce: device_challenge,
        });
        self.stage = Stage::AuthorizationIdSent {
            key,
            auth_id,
            challenge: device_challenge,
        };
        Ok(PairingOutput {
            reply: plain(ctx.family, &message),
            stored: Some(auth_id),
            complete: false,
        })
    }
}

/// The Ultra's encrypted Authorization Data (its clear header already carries the fixed id):
/// check PIN, store, answer encrypted with that id.
fn ultra_authorization_data(
    ctx: &mut PairingContext<'_>,
    key: &SharedKey,
    opened: OpenedFrame,
) -> PairingOutput {
    let header_id = opened.header.auth_id;
    let command = opened.command;
    let outcome = check_ultra_data(ctx, key, &opened);
    let (message, stored) = match outcome {
        Ok(auth_id) => (
            Message::AuthorizationIdUltra(AuthorizationIdUltra {
                auth_id,
                uuid: ctx.lock_uuid,
            }),
            Some(auth_id),
        ),
        Err(code) => (Message::ErrorReport { code, command }, None),
    };
    let payload = messages::encode(&message, ctx.family, None);
    let nonce = ctx.entropy.transport_nonce();
    PairingOutput {
        reply: frame::encode_encrypted(key, &nonce, header_id, message.command(), &payload),
        stored,
        complete: stored.is_some(),
    }
}

fn check_ultra_data(
    ctx: &mut PairingContext<'_>,
    key: &SharedKey,
    opened: &OpenedFrame,
) -> Result<u32, ErrorCode> {
    if !opened.crc_valid {
        return Err(ErrorCode::ErrorBadCrc);
    }
    if opened.sealed_auth_id.to_le_bytes() != ULTRA_PAIRING_AUTH_ID_ON_WIRE {
        return Err(ErrorCode::KErrorNotAuthorized);
    }
    if opened.command != CommandId::AuthorizationData {
        return Err(ErrorCode::ErrorUnknown);
    }
    let decoded = messages::decode(opened.command, &opened.payload, ctx.family)
        .map_err(|error| decode_error_code(&error))?;
    let Message::AuthorizationDataUltra(AuthorizationDataUltra { app_id, name, pin }) =
        decoded.message
    else {
        return Err(ErrorCode::ErrorBadLength);
    };
    ctx.pins
        .check(pin, ctx.now)
        .map_err(|rejection| match rejection {
            PinRejection::Wrong => ErrorCode::KErrorBadPin,
            PinRejection::LockedOut => ErrorCode::KErrorTooManyPinAttempts,
        })?;
    store(ctx, key, IdType::App, app_id, name)
}

fn store(
    ctx: &mut PairingContext<'_>,
    key: &SharedKey,
    id_type: IdType,
    app_id: u32,
    name: String,
) -> Result<u32, ErrorCode> {
    ctx.authorizations
        .insert(NewAuthorization {
            id_type: id_type.to_u8(),
            app_id: Some(app_id),
            name,
            key: key.clone(),
            remote_allowed: true,
            window: TimeWindow::default(),
            created_unix: ctx.now_unix,
        })
        .map_err(|_| ErrorCode::PErrorMaxUser)
}

fn decode_error_code(error: &DecodeError) -> ErrorCode {
    match error {
        DecodeError::InvalidValue { .. } => ErrorCode::PErrorBadParameter,
        DecodeError::UnknownCommand(_) | DecodeError::WrongDirection { .. } => {
            ErrorCode::ErrorUnknown
        }
        DecodeError::TooShort { .. }
        | DecodeError::TrailingBytes { .. }
        | DecodeError::BadLength { .. } => ErrorCode::ErrorBadLength,
    }
}

fn plain(family: ServiceFamily, message: &Message) -> Vec<u8> {
    frame::encode_plain(message.command(), &messages::encode(message, family, None))
}

fn reply(ctx: &PairingContext<'_>, message: Message) -> PairingOutput {
    PairingOutput {
        reply: plain(ctx.family, &message),
        ..PairingOutput::default()
    }
}
