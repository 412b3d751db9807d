//! Client side of one command exchange on the encrypted characteristic (§4.3).
//!
//! An exchange fetches a challenge when the command needs one, sends the command with the
//! challenge nonce (and PIN), then collects replies until the pattern of that command is
//! complete. Pure: the caller moves bytes, supplies transport nonces and enforces deadlines.

use super::codec::DecodeError;
use super::command::CommandId;
use super::crypto::{SharedKey, NONCE_LEN};
use super::enums::{ErrorCode, StatusCode};
use super::frame::{self, FrameError};
use super::messages::{self, Message, Proof, Protection, SecurityPin};
use super::uuids::ServiceFamily;

/// The long-term relationship with one device, established by pairing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    pub auth_id: u32,
    pub key: SharedKey,
    pub family: ServiceFamily,
}

/// How a device answers a given request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyPattern {
    /// One message of this command.
    Single(CommandId),
    /// Status COMPLETE.
    Complete,
    /// Status ACCEPTED, Keyturner States as the state changes, Status COMPLETE.
    Action,
    /// An optional count, then items, then Status COMPLETE.
    List { item: CommandId, count: CommandId },
}

pub fn reply_pattern(request: &Message) -> ReplyPattern {
    use CommandId as C;
    match request {
        Message::RequestData { command, .. } => ReplyPattern::Single(*command),
        Message::LockAction { .. }
        | Message::SimpleLockAction { .. }
        | Message::KeypadAction { .. }
        | Message::RequestCalibration => ReplyPattern::Action,
        Message::RequestConfig => ReplyPattern::Single(C::Config),
        Message::RequestAdvancedConfig => ReplyPattern::Single(C::AdvancedConfig),
        Message::AddKeypadCode(_) => ReplyPattern::Single(C::KeypadCodeId),
        Message::AddTimeControlEntry { .. } => ReplyPattern::Single(C::TimeControlEntryId),
        Message::AuthorizationDataInvite(_) => ReplyPattern::Single(C::AuthorizationIdInvite),
        Message::RequestAuthorizationEntries { .. } => ReplyPattern::List {
            item: C::AuthorizationEntry,
            count: C::AuthorizationEntryCount,
        },
        Message::RequestLogEntries { .. } => ReplyPattern::List {
            item: C::LogEntry,
            count: C::LogEntryCount,
        },
        Message::RequestKeypadCodes { .. } => ReplyPattern::List {
            item: C::KeypadCode,
            count: C::KeypadCodeCount,
        },
        Message::RequestTimeControlEntries => ReplyPattern::List {
            item: C::TimeControlEntry,
            count: C::TimeControlEntryCount,
        },
        _ => ReplyPattern::Complete,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExchangeError {
    #[error("malformed message from the device: {0}")]
    Frame(#[from] FrameError),
    #[error("malformed payload from the device: {0}")]
    Decode(#[from] DecodeError),
    #[error("device refused {command}: {code}")]
    Refused { code: ErrorCode, command: CommandId },
    #[error("device sent {got} while waiting for {waiting_for}")]
    Unexpected {
        waiting_for: &'static str,
        got: CommandId,
    },
    #[error("message for authorization {got}, ours is {ours}")]
    WrongAuthorization { ours: u32, got: u32 },
}

/// What to do after feeding a message.
#[derive(Debug, Clone, PartialEq)]
pub enum ExchangeStep {
    /// Write these bytes to the encrypted characteristic.
    Send(Vec<u8>),
    /// Keep waiting.
    Continue,
    /// The exchange is complete.
    Done(ExchangeResult),
}

/// Everything the device answered, in order (without Status and challenge messages).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ExchangeResult {
    pub replies: Vec<Message>,
    /// The device accepted an action before completing it.
    pub accepted: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    AwaitChallenge,
    AwaitReplies,
    Finished,
}

/// One command exchange.
pub struct Exchange {
    request: Message,
    pin: Option<SecurityPin>,
    pattern: ReplyPattern,
    phase: Phase,
    result: ExchangeResult,
    /// An action ends at Status ACCEPTED instead of COMPLETE.
    until_accepted: bool,
}

impl Exchange {
    pub fn new(request: Message, pin: Option<SecurityPin>) -> Self {
        Self {
            pattern: reply_pattern(&request),
            request,
            pin,
            phase: Phase::AwaitChallenge,
            result: ExchangeResult::default(),
            until_accepted: false,
        }
    }

    /// Ends an action's exchange as soon as the device accepted it: the device finishes the
    /// movement on its own and announces the result in its advertisement, so the caller can
    /// give the link up instead of holding it for the motor run. A device already in the
    /// target state answers COMPLETE without ACCEPTED, which still ends the exchange.
    /// Requests that are not actions are not affected.
    pub fn until_accepted(mut self) -> Self {
        self.until_accepted = true;
        self
    }

    pub fn request(&self) -> &Message {
        &self.request
    }

    /// Seconds the device said it will wait before it moves again (the lock 'n' go timer of
    /// its last reported state); the caller extends its deadline by that much.
    pub fn announced_wait_secs(&self) -> u8 {
        match self.result.replies.last() {
            Some(Message::KeyturnerStates(states)) => states.lock_n_go_timer,
            _ => 0,
        }
    }

    /// The first message to write. `transport_nonce` must be fresh random bytes.
    pub fn start(&mut self, session: &Session, transport_nonce: [u8; NONCE_LEN]) -> Vec<u8> {
        match messages::protection(self.request.command()) {
            Protection::None => {
                self.phase = Phase::AwaitReplies;
                seal(session, transport_nonce, &self.request, None)
            }
            Protection::Challenge | Protection::ChallengeAndPin => {
                self.phase = Phase::AwaitChallenge;
                let challenge = Message::RequestData {
                    command: CommandId::Challenge,
                    extra: Vec::new(),
                };
                seal(session, transport_nonce, &challenge, None)
            }
        }
    }

    /// Feeds one whole encrypted message from the device.
    pub fn on_encrypted(
        &mut self,
        session: &Session,
        bytes: &[u8],
        transport_nonce: [u8; NONCE_LEN],
    ) -> Result<ExchangeStep, ExchangeError> {
        let opened = frame::decode_encrypted(&session.key, bytes)?;
        if opened.auth_id != session.auth_id {
            return Err(ExchangeError::WrongAuthorization {
                ours: session.auth_id,
                got: opened.auth_id,
            });
        }
        let message = messages::decode(opened.command, &opened.payload, session.family)?.message;
        self.on_message(session, message, transport_nonce)
    }

    /// Feeds one whole plain message (the device's unencrypted error channel).
    pub fn on_plain(&mut self, bytes: &[u8]) -> Result<ExchangeStep, ExchangeError> {
        let opened = frame::decode_plain(bytes)?;
        match messages::decode(opened.command, &opened.payload, ServiceFamily::Keyturner)?.message {
            Message::ErrorReport { code, command } => {
                self.phase = Phase::Finished;
                Err(ExchangeError::Refused { code, command })
            }
            // The Bridge-only change notification (0xF1) and anything else plain is not ours.
            _ => Ok(ExchangeStep::Continue),
        }
    }

    fn on_message(
        &mut self,
        session: &Session,
        message: Message,
        transport_nonce: [u8; NONCE_LEN],
    ) -> Result<ExchangeStep, ExchangeError> {
        if let Message::ErrorReport { code, command } = message {
            self.phase = Phase::Finished;
            return Err(ExchangeError::Refused { code, command });
        }
        match self.phase {
            Phase::AwaitChallenge => match message {
                Message::Challenge(nonce) => {
                    self.phase = Phase::AwaitReplies;
                    let proof = match messages::protection(self.request.command()) {
                        Protection::ChallengeAndPin => {
                            Proof::with_pin(nonce, self.pin.unwrap_or(SecurityPin::Short(0)))
                        }
                        _ => Proof::challenge(nonce),
                    };
                    Ok(ExchangeStep::Send(seal(
                        session,
                        transport_nonce,
                        &self.request,
                        Some(&proof),
                    )))
                }
                // Devices send state updates at any time; they are not an answer.
                Message::KeyturnerStates(_) => Ok(ExchangeStep::Continue),
                other => Err(ExchangeError::Unexpected {
                    waiting_for: "a challenge",
                    got: other.command(),
                }),
            },
            Phase::AwaitReplies => self.on_reply(message),
            Phase::Finished => Ok(ExchangeStep::Continue),
        }
    }

    fn on_reply(&mut self, message: Message) -> Result<ExchangeStep, ExchangeError> {
        let command = message.command();
        match (self.pattern, message) {
            (_, Message::Status(StatusCode::BridgeNotify)) => Ok(ExchangeStep::Continue),
            (ReplyPattern::Single(expected), message) if command == expected => {
                self.result.replies.push(message);
                Ok(self.finish())
            }
            (ReplyPattern::Single(_), Message::KeyturnerStates(_)) => Ok(ExchangeStep::Continue),
            (ReplyPattern::Complete, Message::Status(StatusCode::Complete)) => Ok(self.finish()),
            (ReplyPattern::Complete, Message::KeyturnerStates(_)) => Ok(ExchangeStep::Continue),
            (ReplyPattern::Action, Message::Status(StatusCode::Accepted)) => {
                self.result.accepted = true;
                if self.until_accepted {
                    return Ok(self.finish());
                }
                Ok(ExchangeStep::Continue)
            }
            (ReplyPattern::Action, Message::Status(StatusCode::Complete)) => Ok(self.finish()),
            (ReplyPattern::Action, states @ Message::KeyturnerStates(_)) => {
                self.result.replies.push(states);
                Ok(ExchangeStep::Continue)
            }
            (ReplyPattern::List { .. }, Message::Status(StatusCode::Complete)) => Ok(self.finish()),
            (ReplyPattern::List { item, count }, message)
                if command == item || command == count =>
            {
                self.result.replies.push(message);
                Ok(ExchangeStep::Continue)
            }
            (ReplyPattern::List { .. }, Message::KeyturnerStates(_)) => Ok(ExchangeStep::Continue),
            (_, other) => Err(ExchangeError::Unexpected {
                waiting_for: "the reply",
                got: other.command(),
            }),
        }
    }

    fn finish(&mut self) -> ExchangeStep {
        self.phase = Phase::Finished;
        ExchangeStep::Done(std::mem::take(&mut self.result))
    }
}

fn seal(
    session: &Session,
    transport_nonce: [u8; NONCE_LEN],
    message: &Message,
    proof: Option<&Proof>,
) -> Vec<u8> {
    let payload = messages::encode(message, session.family, proof);
    frame::encode_encrypted(
        &session.key,
        &transport_nonce,
        session.auth_id,
        message.command(),
        &payload,
    )
}
