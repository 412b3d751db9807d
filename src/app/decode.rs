//! `nuki-edge decode`: turns captured hex (indications, writes or advertising data) into JSON.
//!
//! Secrets never reach the output: PINs, keys and keypad codes are shown as a marker, and the
//! raw payload of a message that carries one is not printed.

use serde_json::{json, Map, Value};

use crate::nuki::advert;
use crate::nuki::command::CommandId;
use crate::nuki::crypto::SharedKey;
use crate::nuki::frame::{self, FrameError, ADATA_LEN, PDATA_OVERHEAD, PLAIN_OVERHEAD};
use crate::nuki::messages::{self, Protection};
use crate::nuki::reassembly::{plain_payload_len, Framing, Reassembler};
use crate::nuki::uuids::ServiceFamily;

/// What the report says about authentication when no key was given.
pub const NOT_CHECKED: &str = "not checked (no --key)";

/// Input that cannot be decoded at all. Displays as one line and never echoes a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeInputError {
    #[error("no input: give the message as hex")]
    Empty,
    #[error("fragment {index} is not hex (digits 0-9, a-f; spaces and colons are ignored)")]
    InvalidHex { index: usize },
    #[error("fragment {index} has an odd number of hex digits")]
    OddLength { index: usize },
    #[error("the key must be 64 hex digits")]
    BadKey,
    #[error("the fragments end in the middle of a message ({have} bytes{})",
        need.map(|need| format!(" of {need}")).unwrap_or_default())]
    Incomplete { have: usize, need: Option<usize> },
    #[error("the fragments hold more than one message ({extra} byte(s) after the first)")]
    SeveralMessages { extra: usize },
    #[error("nothing recognisable: {reason}")]
    Unrecognised { reason: String },
}

/// Decodes one captured message given as hex fragments (concatenated in order).
///
/// * `advert`: the bytes are advertising data (raw AD structures or manufacturer data).
/// * a plain frame (known command, valid CRC) is decoded as such, key or not;
/// * with `key_hex` an encrypted message is opened (a wrong key is reported, not an error);
/// * without a key, an encrypted message shows its clear header only.
pub fn decode_command_line(
    fragments_hex: &[String],
    key_hex: Option<&str>,
    advert: bool,
    family: ServiceFamily,
) -> Result<Value, DecodeInputError> {
    let fragments = parse_fragments(fragments_hex)?;
    if advert {
        return decode_advert(&fragments.concat());
    }
    let key = key_hex
        .map(|text| SharedKey::from_hex(text).map_err(|_| DecodeInputError::BadKey))
        .transpose()?;
    decode_frame(&fragments, key.as_ref(), family)
}

fn parse_fragments(fragments_hex: &[String]) -> Result<Vec<Vec<u8>>, DecodeInputError> {
    let mut fragments = Vec::with_capacity(fragments_hex.len());
    for (index, text) in fragments_hex.iter().enumerate() {
        let trimmed = text.trim();
        let without_prefix = trimmed
            .strip_prefix("0x")
            .or_else(|| trimmed.strip_prefix("0X"))
            .unwrap_or(trimmed);
        let digits: String = without_prefix
            .chars()
            .filter(|c| !c.is_whitespace() && *c != ':')
            .collect();
        if !digits.chars().all(|c| c.is_ascii_hexdigit()) {
            return Err(DecodeInputError::InvalidHex { index });
        }
        if !digits.len().is_multiple_of(2) {
            return Err(DecodeInputError::OddLength { index });
        }
        let bytes = hex::decode(&digits).map_err(|_| DecodeInputError::InvalidHex { index })?;
        if !bytes.is_empty() {
            fragments.push(bytes);
        }
    }
    if fragments.is_empty() {
        return Err(DecodeInputError::Empty);
    }
    Ok(fragments)
}

fn decode_frame(
    fragments: &[Vec<u8>],
    key: Option<&SharedKey>,
    family: ServiceFamily,
) -> Result<Value, DecodeInputError> {
    let bytes = fragments.concat();
    let encrypted_shape = looks_encrypted(&bytes);
    if let (Some(key), true) = (key, encrypted_shape) {
        return decode_with_key(fragments, key, family);
    }
    let plain_problem = match reassemble(fragments, Framing::Plain) {
        Ok(message) => match frame::inspect_plain(&message) {
            Ok(inspected) if inspected.crc_valid && is_known(inspected.command) => {
                return Ok(plain_report(&inspected, family));
            }
            _ => None,
        },
        Err(problem) => Some(problem),
    };
    if let Some(key) = key {
        // Not a plain frame: let the encrypted reassembly say what is wrong.
        return decode_with_key(fragments, key, family);
    }
    if encrypted_shape {
        let mut report = encrypted_header_report(&bytes)?;
        report.insert("authenticated".into(), json!(NOT_CHECKED));
        return Ok(Value::Object(report));
    }
    if let Some(problem @ DecodeInputError::SeveralMessages { .. }) = plain_problem {
        return Err(problem);
    }
    if let Ok(inspected) = frame::inspect_plain(&bytes) {
        let fits =
            plain_payload_len(inspected.command).is_none_or(|len| len == inspected.payload.len());
        if fits && is_known(inspected.command) {
            return Ok(plain_report(&inspected, family));
        }
    }
    if let Some(problem @ DecodeInputError::Incomplete { need: Some(_), .. }) = plain_problem {
        return Err(problem);
    }
    Err(DecodeInputError::Unrecognised {
        reason: format!(
            "{} bytes are neither a plain frame (known command, CRC) nor an encrypted one \
             (length at offset 28)",
            bytes.len()
        ),
    })
}

fn is_known(command: CommandId) -> bool {
    !matches!(command, CommandId::Unknown(_))
}

/// Feeds the fragments to a [`Reassembler`]; they must form exactly one message.
fn reassemble(fragments: &[Vec<u8>], framing: Framing) -> Result<Vec<u8>, DecodeInputError> {
    let total: usize = fragments.iter().map(Vec::len).sum();
    let mut reassembler = Reassembler::new(framing);
    for (index, fragment) in fragments.iter().enumerate() {
        let complete =
            reassembler
                .push(fragment)
                .map_err(|error| DecodeInputError::Unrecognised {
                    reason: error.to_string(),
                })?;
        if let Some(message) = complete {
            let extra = total - message.len();
            if index + 1 != fragments.len() || extra != 0 {
                return Err(DecodeInputError::SeveralMessages { extra });
            }
            return Ok(message);
        }
    }
    let bytes = fragments.concat();
    let need = match framing {
        Framing::Encrypted => Some(
            frame::read_header(&bytes)
                .map(|header| header.total_len())
                .unwrap_or(ADATA_LEN),
        ),
        Framing::Plain => match bytes.as_slice() {
            [low, high, ..] => {
                plain_payload_len(CommandId::from_u16(u16::from_le_bytes([*low, *high])))
                    .map(|len| len + PLAIN_OVERHEAD)
            }
            _ => None,
        },
    };
    Err(DecodeInputError::Incomplete { have: total, need })
}

fn decode_with_key(
    fragments: &[Vec<u8>],
    key: &SharedKey,
    family: ServiceFamily,
) -> Result<Value, DecodeInputError> {
    let message = reassemble(fragments, Framing::Encrypted)?;
    let mut report = encrypted_header_report(&message)?;
    match frame::open_encrypted(key, &message) {
        Ok(opened) => {
            report.insert("authenticated".into(), json!(true));
            if opened.sealed_auth_id != opened.header.auth_id {
                report.insert(
                    "sealed_authorization_id".into(),
                    json!(opened.sealed_auth_id),
                );
            }
            add_command(
                &mut report,
                opened.command,
                &opened.payload,
                opened.crc_valid,
                family,
            );
        }
        Err(FrameError::Authentication) => {
            report.insert("authenticated".into(), json!(false));
        }
        Err(error) => {
            return Err(DecodeInputError::Unrecognised {
                reason: error.to_string(),
            })
        }
    }
    Ok(Value::Object(report))
}

fn looks_encrypted(bytes: &[u8]) -> bool {
    frame::read_header(bytes).is_ok_and(|header| {
        header.total_len() == bytes.len()
            && header.sealed_len >= crate::nuki::crypto::TAG_LEN + PDATA_OVERHEAD
    })
}

fn encrypted_header_report(bytes: &[u8]) -> Result<Map<String, Value>, DecodeInputError> {
    let header = frame::read_header(bytes).map_err(|error| DecodeInputError::Unrecognised {
        reason: error.to_string(),
    })?;
    let mut report = Map::new();
    report.insert("framing".into(), json!("encrypted"));
    report.insert("nonce".into(), json!(hex::encode_upper(header.nonce)));
    report.insert("authorization_id".into(), json!(header.auth_id));
    report.insert("length".into(), json!(header.sealed_len));
    Ok(report)
}

fn plain_report(inspected: &frame::InspectedPlain, family: ServiceFamily) -> Value {
    let mut report = Map::new();
    report.insert("framing".into(), json!("plain"));
    add_command(
        &mut report,
        inspected.command,
        &inspected.payload,
        inspected.crc_valid,
        family,
    );
    Value::Object(report)
}

fn add_command(
    report: &mut Map<String, Value>,
    command: CommandId,
    payload: &[u8],
    crc_valid: bool,
    family: ServiceFamily,
) {
    report.insert("command".into(), json!(command.name()));
    report.insert(
        "command_id".into(),
        json!(format!("{:#06x}", command.to_u16())),
    );
    report.insert("crc_valid".into(), json!(crc_valid));
    match messages::decode(command, payload, family) {
        Ok(decoded) => {
            if decoded.message.layout_name() != command.name() {
                report.insert("layout".into(), json!(decoded.message.layout_name()));
            }
            let mut value = serde_json::to_value(&decoded.message).unwrap_or(Value::Null);
            let fields = value
                .get_mut("fields")
                .map(Value::take)
                .unwrap_or_else(|| Value::Object(Map::new()));
            report.insert("fields".into(), fields);
            if let Some(proof) = decoded.proof {
                report.insert(
                    "proof".into(),
                    serde_json::to_value(proof).unwrap_or(Value::Null),
                );
            }
        }
        Err(error) => {
            report.insert("decode_error".into(), json!(error.to_string()));
            report.insert("payload_length".into(), json!(payload.len()));
            if !carries_secret(command) {
                report.insert("payload".into(), json!(hex::encode_upper(payload)));
            }
        }
    }
}

/// Commands whose payload holds a PIN, a key or a keypad code.
fn carries_secret(command: CommandId) -> bool {
    messages::protection(command) == Protection::ChallengeAndPin
        || matches!(
            command,
            CommandId::AuthorizationData
                | CommandId::KeypadCode
                | CommandId::KeypadAction
                | CommandId::AuthorizationDataInvite
        )
}

fn decode_advert(bytes: &[u8]) -> Result<Value, DecodeInputError> {
    if let Some(beacon) = advert::parse_beacon_with_company_id(bytes) {
        return Ok(beacon_report("manufacturer_data", &beacon));
    }
    if let Some(beacon) = advert::parse_beacon(bytes) {
        return Ok(beacon_report("beacon", &beacon));
    }
    match advert::parse_ad_structures(bytes) {
        Ok(summary) if !summary.is_nuki() => Err(DecodeInputError::Unrecognised {
            reason: "the advertising data holds no Nuki beacon, pairing data or name".into(),
        }),
        Ok(summary) => {
            let mut report = Map::new();
            report.insert("advert".into(), json!("ad_structures"));
            if let Value::Object(fields) = serde_json::to_value(&summary).unwrap_or(Value::Null) {
                report.extend(fields);
            }
            Ok(Value::Object(report))
        }
        Err(error) => Err(DecodeInputError::Unrecognised {
            reason: format!("not a Nuki beacon and not AD structures ({error})"),
        }),
    }
}

fn beacon_report(kind: &str, beacon: &advert::Beacon) -> Value {
    json!({
        "advert": kind,
        "beacon": beacon,
        "name": beacon.device_name(),
    })
}
