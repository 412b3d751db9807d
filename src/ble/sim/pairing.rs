//! The peripheral side of pairing on the pairing GDIO: the classic flow (§3.2) and the
//! Smart Lock Ultra flow with security PIN (§3.4).

use std::time::Duration;

use zeroize::Zeroize;

use crate::nuki::codec::{Reader, Writer};
use crate::nuki::command::CommandId;
use crate::nuki::crypto::{self, KeyPair, SharedKey};
use crate::nuki::frame::{self, FrameError};
use crate::nuki::uuids::ServiceFamily;

use super::auth::{AuthorizationTable, NewAuthorization, TimeWindow};
use super::codes::*;
use super::entropy::Entropy;
use super::pin::{PinGuard, PinRejection};

/// The fixed authorization id an Ultra client puts in its encrypted Authorization Data.
pub(crate) const ULTRA_PAIRING_AUTH_ID: u32 = 0x7FFF_FFFF;
const ID_TYPE_APP: u8 = 0;
const MAX_ID_TYPE: u8 = 3;
const AUTHORIZATION_DATA_LEN: usize = 101;
const AUTHORIZATION_CONFIRMATION_LEN: usize = 36;
const NAME_LEN: usize = 32;

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

/// One connection's pairing state machine.
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
                return self.ultra_authorization_data(ctx, &key, opened);
            }
        }
        let result = self.handle_plain(ctx, bytes);
        result.unwrap_or_else(|(code, command)| {
            self.stage = Stage::Idle;
            PairingOutput {
                reply: plain_error(code, command),
                ..PairingOutput::default()
            }
        })
    }

    fn handle_plain(
        &mut self,
        ctx: &mut PairingContext<'_>,
        bytes: &[u8],
    ) -> Result<PairingOutput, (u8, u16)> {
        let inspected = frame::inspect_plain(bytes).map_err(|_| (ERROR_BAD_LENGTH, 0))?;
        let command = inspected.command;
        let id = command.to_u16();
        if !inspected.crc_valid {
            return Err((ERROR_BAD_CRC, id));
        }
        if !ctx.in_pairing_mode {
            return Err((P_ERROR_NOT_PAIRING, id));
        }
        let payload = inspected.payload.as_slice();
        let stage = std::mem::replace(&mut self.stage, Stage::Idle);
        match (stage, command) {
            (_, CommandId::RequestData) => {
                let requested = exact::<2>(payload, id)?;
                if u16::from_le_bytes(requested) != CommandId::PublicKey.to_u16() {
                    return Err((P_ERROR_BAD_PARAMETER, id));
                }
                self.stage = Stage::PublicKeySent;
                Ok(reply(CommandId::PublicKey, &ctx.lock_keys.public_key()))
            }
            (Stage::PublicKeySent, CommandId::PublicKey) => {
                let client_public = exact::<32>(payload, id)?;
                let key = ctx.lock_keys.shared_key(&client_public);
                let challenge = ctx.entropy.challenge();
                self.stage = Stage::ChallengeSent {
                    client_public,
                    key,
                    challenge,
                };
                Ok(reply(CommandId::Challenge, &challenge))
            }
            (
                Stage::ChallengeSent {
                    client_public,
                    key,
                    challenge,
                },
                CommandId::AuthorizationAuthenticator,
            ) => {
                let authenticator = exact::<32>(payload, id)?;
                let lock_public = ctx.lock_keys.public_key();
                let parts: [&[u8]; 3] = [&client_public, &lock_public, &challenge];
                if !crypto::verify_authenticator(&key, &parts, &authenticator) {
                    return Err((P_ERROR_BAD_AUTHENTICATOR, id));
                }
                if ctx.family == ServiceFamily::Ultra {
                    self.stage = Stage::InfoSent { key };
                    // The Ultra always has a security PIN; the byte says so.
                    return Ok(reply(CommandId::AuthorizationInfo, &[1]));
                }
                let challenge = ctx.entropy.challenge();
                self.stage = Stage::SecondChallengeSent { key, challenge };
                Ok(reply(CommandId::Challenge, &challenge))
            }
            (Stage::SecondChallengeSent { key, challenge }, CommandId::AuthorizationData) => {
                self.classic_authorization_data(ctx, &key, &challenge, payload, id)
            }
            (
                Stage::AuthorizationIdSent {
                    key,
                    auth_id,
                    challenge,
                },
                CommandId::AuthorizationIdConfirmation,
            ) => {
                let confirmation = exact::<AUTHORIZATION_CONFIRMATION_LEN>(payload, id)?;
                let (authenticator, confirmed_id) = confirmation.split_at(32);
                let auth_id_bytes = auth_id.to_le_bytes();
                let parts: [&[u8]; 2] = [&auth_id_bytes, &challenge];
                if confirmed_id != auth_id_bytes
                    || !crypto::verify_authenticator(&key, &parts, authenticator)
                {
                    return Err((P_ERROR_BAD_AUTHENTICATOR, id));
                }
                Ok(PairingOutput {
                    reply: frame::encode_plain(CommandId::Status, &[STATUS_COMPLETE]),
                    stored: None,
                    complete: true,
                })
            }
            _ => Err((ERROR_UNKNOWN, id)),
        }
    }

    fn classic_authorization_data(
        &mut self,
        ctx: &mut PairingContext<'_>,
        key: &SharedKey,
        challenge: &[u8; 32],
        payload: &[u8],
        id: u16,
    ) -> Result<PairingOutput, (u8, u16)> {
        let data = exact::<AUTHORIZATION_DATA_LEN>(payload, id)?;
        let (authenticator, signed) = data.split_at(32);
        let parts: [&[u8]; 2] = [signed, challenge];
        if !crypto::verify_authenticator(key, &parts, authenticator) {
            return Err((P_ERROR_BAD_AUTHENTICATOR, id));
        }
        let mut reader = Reader::new(signed);
        let parsed = (|| {
            Ok::<_, crate::nuki::codec::DecodeError>((
                reader.u8("id type")?,
                reader.u32("app id")?,
                reader.name("name", NAME_LEN)?,
                reader.array::<32>("nonce")?,
            ))
        })();
        let (id_type, app_id, name, client_nonce) = parsed.map_err(|_| (ERROR_BAD_LENGTH, id))?;
        if id_type > MAX_ID_TYPE {
            return Err((P_ERROR_BAD_PARAMETER, id));
        }
        let auth_id = store(ctx, key, id_type, app_id, name).map_err(|code| (code, id))?;
        let device_challenge = ctx.entropy.challenge();
        let auth_id_bytes = auth_id.to_le_bytes();
        let parts: [&[u8]; 4] = [
            &auth_id_bytes,
            &ctx.lock_uuid,
            &device_challenge,
            &client_nonce,
        ];
        let authenticator = crypto::authenticator(key, &parts);
        let mut writer = Writer::with_capacity(84);
        writer
            .bytes(&authenticator)
            .u32(auth_id)
            .bytes(&ctx.lock_uuid)
            .bytes(&device_challenge);
        self.stage = Stage::AuthorizationIdSent {
            key: key.clone(),
            auth_id,
            challenge: device_challenge,
        };
        Ok(PairingOutput {
            reply: frame::encode_plain(CommandId::AuthorizationId, &writer.into_vec()),
            stored: Some(auth_id),
            complete: false,
        })
    }

    fn ultra_authorization_data(
        &mut self,
        ctx: &mut PairingContext<'_>,
        key: &SharedKey,
        opened: frame::OpenedFrame,
    ) -> PairingOutput {
        let header_id = opened.header.auth_id;
        let command = opened.command.to_u16();
        let sealed_error = |ctx: &mut PairingContext<'_>, code: u8| {
            let mut payload = Writer::with_capacity(3);
            payload.u8(code).u16(command);
            let nonce = ctx.entropy.transport_nonce();
            frame::encode_encrypted(
                key,
                &nonce,
                header_id,
                CommandId::ErrorReport,
                &payload.into_vec(),
            )
        };
        let outcome = (|| {
            if !opened.crc_valid {
                return Err(ERROR_BAD_CRC);
            }
            if opened.sealed_auth_id != header_id {
                return Err(P_ERROR_BAD_PARAMETER);
            }
            if opened.command != CommandId::AuthorizationData {
                return Err(ERROR_UNKNOWN);
            }
            let mut reader = Reader::new(&opened.payload);
            let app_id = reader.u32("app id").map_err(|_| ERROR_BAD_LENGTH)?;
            let name = reader
                .name("name", NAME_LEN)
                .map_err(|_| ERROR_BAD_LENGTH)?;
            // A 4-digit PIN may come as u16, as one client sends it.
            let mut pin = match reader.remaining() {
                4 => reader.u32("pin").map_err(|_| ERROR_BAD_LENGTH)?,
                2 => u32::from(reader.u16("pin").map_err(|_| ERROR_BAD_LENGTH)?),
                _ => return Err(ERROR_BAD_LENGTH),
            };
            let checked = ctx.pins.check(pin, ctx.now);
            pin.zeroize();
            match checked {
                Ok(()) => {}
                Err(PinRejection::Wrong) => return Err(K_ERROR_BAD_PIN),
                Err(PinRejection::LockedOut) => return Err(K_ERROR_TOO_MANY_PIN_ATTEMPTS),
            }
            store(ctx, key, ID_TYPE_APP, app_id, name)
        })();
        self.stage = Stage::Idle;
        match outcome {
            Ok(auth_id) => {
                let mut payload = Writer::with_capacity(20);
                payload.u32(auth_id).bytes(&ctx.lock_uuid);
                let nonce = ctx.entropy.transport_nonce();
                PairingOutput {
                    reply: frame::encode_encrypted(
                        key,
                        &nonce,
                        header_id,
                        CommandId::AuthorizationId,
                        &payload.into_vec(),
                    ),
                    stored: Some(auth_id),
                    complete: true,
                }
            }
            Err(code) => PairingOutput {
                reply: sealed_error(ctx, code),
                ..PairingOutput::default()
            },
        }
    }
}

fn store(
    ctx: &mut PairingContext<'_>,
    key: &SharedKey,
    id_type: u8,
    app_id: u32,
    name: String,
) -> Result<u32, u8> {
    ctx.authorizations
        .insert(NewAuthorization {
            id_type,
            app_id: Some(app_id),
            name,
            key: key.clone(),
            remote_allowed: true,
            window: TimeWindow::default(),
            created_unix: ctx.now_unix,
        })
        .map_err(|_| P_ERROR_MAX_USER)
}

fn exact<const N: usize>(payload: &[u8], id: u16) -> Result<[u8; N], (u8, u16)> {
    <[u8; N]>::try_from(payload).map_err(|_| (ERROR_BAD_LENGTH, id))
}

fn reply(command: CommandId, payload: &[u8]) -> PairingOutput {
    PairingOutput {
        reply: frame::encode_plain(command, payload),
        ..PairingOutput::default()
    }
}

pub(crate) fn plain_error(code: u8, command: u16) -> Vec<u8> {
    let mut payload = Writer::with_capacity(3);
    payload.u8(code).u16(command);
    frame::encode_plain(CommandId::ErrorReport, &payload.into_vec())
}

impl From<FrameError> for PairingOutput {
    fn from(_: FrameError) -> Self {
        PairingOutput {
            reply: plain_error(ERROR_BAD_LENGTH, 0),
            ..PairingOutput::default()
        }
    }
}
