//! The challenge nonce and security PIN that end protected requests, and which commands need
//! them (Chal/PIN columns of the master table).

use serde::Serialize;

use super::super::codec::{DecodeError, Reader, Writer};
use super::super::command::CommandId;
use super::super::uuids::ServiceFamily;
use super::REDACTED;

/// Length of the challenge nonce `nK`.
pub const CHALLENGE_NONCE_LEN: usize = 32;

/// The security PIN: 4 digits as u16 (Smart Lock 1–4, Opener) or 6 digits as u32 (Ultra).
/// Never printed: `Debug` and JSON show a marker only.
#[derive(Clone, Copy, PartialEq, Eq, Hash, zeroize::Zeroize)]
pub enum SecurityPin {
    Short(u16),
    Long(u32),
}

/// Why a PIN text was refused. Never contains the text itself.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PinError {
    #[error("the security PIN is empty")]
    Empty,
    #[error("the security PIN must contain decimal digits only")]
    NotDecimal,
    #[error("the security PIN has more than {max_digits} digits")]
    TooLong { max_digits: usize },
}

impl SecurityPin {
    /// Parses a decimal PIN: at most 4 digits, or at most 6 when `wide` (Smart Lock Ultra).
    pub fn parse(text: &str, wide: bool) -> Result<SecurityPin, PinError> {
        let digits = text.trim();
        if digits.is_empty() {
            return Err(PinError::Empty);
        }
        if !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PinError::NotDecimal);
        }
        let max_digits = if wide { 6 } else { 4 };
        if digits.len() > max_digits {
            return Err(PinError::TooLong { max_digits });
        }
        let value = digits
            .bytes()
            .fold(0u32, |acc, b| acc * 10 + u32::from(b - b'0'));
        Ok(if wide {
            SecurityPin::Long(value)
        } else {
            // At most 4 digits, so at most 9999.
            SecurityPin::Short(value as u16)
        })
    }

    /// The PIN in the width of `family`; `value` must fit it (at most 9999 or 999999).
    pub fn for_family(value: u32, family: ServiceFamily) -> SecurityPin {
        if family.pin_is_wide() {
            SecurityPin::Long(value)
        } else {
            SecurityPin::Short(value as u16)
        }
    }

    pub fn value(self) -> u32 {
        match self {
            SecurityPin::Short(value) => u32::from(value),
            SecurityPin::Long(value) => value,
        }
    }

    pub fn is_wide(self) -> bool {
        matches!(self, SecurityPin::Long(_))
    }

    /// Wire width in bytes.
    pub fn wire_len(self) -> usize {
        if self.is_wide() {
            4
        } else {
            2
        }
    }

    /// Writes the PIN in its own width.
    pub(crate) fn write(self, writer: &mut Writer) {
        match self {
            SecurityPin::Short(value) => writer.u16(value),
            SecurityPin::Long(value) => writer.u32(value),
        };
    }

    /// Writes the PIN in the width `family` uses.
    pub(crate) fn write_for(self, family: ServiceFamily, writer: &mut Writer) {
        if family.pin_is_wide() {
            writer.u32(self.value());
        } else {
            writer.u16(self.value() as u16);
        }
    }

    pub(crate) fn read_for(
        family: ServiceFamily,
        reader: &mut Reader<'_>,
    ) -> Result<SecurityPin, DecodeError> {
        Ok(if family.pin_is_wide() {
            SecurityPin::Long(reader.u32("security pin")?)
        } else {
            SecurityPin::Short(reader.u16("security pin")?)
        })
    }
}

/// Wire width of the PIN in `family`.
pub fn pin_len(family: ServiceFamily) -> usize {
    if family.pin_is_wide() {
        4
    } else {
        2
    }
}

impl std::fmt::Debug for SecurityPin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecurityPin(<redacted>)")
    }
}

impl Serialize for SecurityPin {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(REDACTED)
    }
}

/// The trailing challenge nonce (and PIN) of a protected request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Proof {
    #[serde(serialize_with = "super::fields::hex_bytes")]
    pub nonce: [u8; CHALLENGE_NONCE_LEN],
    pub pin: Option<SecurityPin>,
}

impl Proof {
    pub fn challenge(nonce: [u8; CHALLENGE_NONCE_LEN]) -> Self {
        Self { nonce, pin: None }
    }

    pub fn with_pin(nonce: [u8; CHALLENGE_NONCE_LEN], pin: SecurityPin) -> Self {
        Self {
            nonce,
            pin: Some(pin),
        }
    }
}

/// What a request must carry after its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Protection {
    None,
    Challenge,
    ChallengeAndPin,
}

impl Protection {
    /// Bytes the proof adds to the payload in `family`.
    pub fn wire_len(self, family: ServiceFamily) -> usize {
        match self {
            Protection::None => 0,
            Protection::Challenge => CHALLENGE_NONCE_LEN,
            Protection::ChallengeAndPin => CHALLENGE_NONCE_LEN + pin_len(family),
        }
    }
}

/// The Chal/PIN columns of the master table. Start Bus Signal Recording has no published
/// layout; it is treated like the other Opener administration commands (challenge and PIN).
pub fn protection(command: CommandId) -> Protection {
    use CommandId as C;
    match command {
        C::LockAction
        | C::SimpleLockAction
        | C::KeypadAction
        | C::RequestConfig
        | C::RequestAdvancedConfig => Protection::Challenge,
        C::RemoveUserAuthorization
        | C::RequestAuthorizationEntries
        | C::AuthorizationDataInvite
        | C::SetConfig
        | C::SetSecurityPin
        | C::RequestCalibration
        | C::RequestReboot
        | C::VerifySecurityPin
        | C::UpdateTime
        | C::UpdateUserAuthorization
        | C::RequestLogEntries
        | C::EnableLogging
        | C::SetAdvancedConfig
        | C::AddTimeControlEntry
        | C::RemoveTimeControlEntry
        | C::RequestTimeControlEntries
        | C::UpdateTimeControlEntry
        | C::AddKeypadCode
        | C::RequestKeypadCodes
        | C::UpdateKeypadCode
        | C::RemoveKeypadCode
        | C::ContinuousModeAction
        | C::StartBusSignalRecording => Protection::ChallengeAndPin,
        _ => Protection::None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_parse_decimal_and_never_print() {
        assert_eq!(
            SecurityPin::parse("1234", false),
            Ok(SecurityPin::Short(1234))
        );
        assert_eq!(
            SecurityPin::parse("0042", false),
            Ok(SecurityPin::Short(42))
        );
        assert_eq!(
            SecurityPin::parse("123456", true),
            Ok(SecurityPin::Long(123_456))
        );
        assert_eq!(
            SecurityPin::parse("12345", false),
            Err(PinError::TooLong { max_digits: 4 })
        );
        assert_eq!(SecurityPin::parse("12a4", false), Err(PinError::NotDecimal));
        assert_eq!(SecurityPin::parse(" ", true), Err(PinError::Empty));
        let pin = SecurityPin::Short(4321);
        assert_eq!(format!("{pin:?}"), "SecurityPin(<redacted>)");
        let proof = Proof::with_pin([0; 32], pin);
        assert!(!format!("{proof:?}").contains("4321"));
        assert!(!serde_json::to_string(&proof).unwrap().contains("4321"));
    }

    #[test]
    fn protection_follows_the_table() {
        assert_eq!(protection(CommandId::LockAction), Protection::Challenge);
        assert_eq!(
            protection(CommandId::SetConfig),
            Protection::ChallengeAndPin
        );
        assert_eq!(protection(CommandId::RequestData), Protection::None);
        assert_eq!(protection(CommandId::KeyturnerStates), Protection::None);
        assert_eq!(
            Protection::ChallengeAndPin.wire_len(ServiceFamily::Ultra),
            36
        );
    }
}
