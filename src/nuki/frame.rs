//! Plain and encrypted message framing.
//!
//! Plain: `command id u16 ‖ payload ‖ CRC u16`.
//! Encrypted: ADATA `nonce 24 ‖ auth id u32 ‖ length u16` then the secretbox of
//! PDATA `auth id u32 ‖ command id u16 ‖ payload ‖ CRC u16`; `length` counts the sealed bytes.

use super::command::CommandId;
use super::crc::{crc16, crc_matches};
use super::crypto::{self, SharedKey, NONCE_LEN, TAG_LEN};

/// Bytes of the clear header of an encrypted message.
pub const ADATA_LEN: usize = NONCE_LEN + 4 + 2;
/// Command id plus CRC around a plain payload.
pub const PLAIN_OVERHEAD: usize = 4;
/// Auth id, command id and CRC inside PDATA.
pub const PDATA_OVERHEAD: usize = 8;
/// Upper bound on any message this gateway accepts; the largest real one is 176 bytes.
pub const MAX_MESSAGE_LEN: usize = 512;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("message of {len} bytes is shorter than the minimum of {min}")]
    TooShort { len: usize, min: usize },
    #[error("message of {len} bytes exceeds the maximum of {MAX_MESSAGE_LEN}")]
    TooLong { len: usize },
    #[error("CRC mismatch")]
    BadCrc,
    #[error("declared length {declared} does not match the {actual} bytes received")]
    LengthMismatch { declared: usize, actual: usize },
    #[error("authentication failed: wrong key or tampered message")]
    Authentication,
    #[error(
        "authorization id in the clear header ({clear}) differs from the encrypted one ({sealed})"
    )]
    AuthIdMismatch { clear: u32, sealed: u32 },
}

/// A verified plain message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainFrame {
    pub command: CommandId,
    pub payload: Vec<u8>,
}

pub fn encode_plain(command: CommandId, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + PLAIN_OVERHEAD);
    out.extend_from_slice(&command.to_u16().to_le_bytes());
    out.extend_from_slice(payload);
    let crc = crc16(&out);
    out.extend_from_slice(&crc.to_le_bytes());
    out
}

pub fn decode_plain(bytes: &[u8]) -> Result<PlainFrame, FrameError> {
    let inspected = inspect_plain(bytes)?;
    if !inspected.crc_valid {
        return Err(FrameError::BadCrc);
    }
    Ok(PlainFrame {
        command: inspected.command,
        payload: inspected.payload,
    })
}

/// A plain message split into its parts, whether or not its CRC is valid (for diagnostics).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InspectedPlain {
    pub command: CommandId,
    pub payload: Vec<u8>,
    pub crc_valid: bool,
}

pub fn inspect_plain(bytes: &[u8]) -> Result<InspectedPlain, FrameError> {
    check_bounds(bytes.len(), PLAIN_OVERHEAD)?;
    Ok(InspectedPlain {
        command: CommandId::from_u16(u16::from_le_bytes([bytes[0], bytes[1]])),
        payload: bytes[2..bytes.len() - 2].to_vec(),
        crc_valid: crc_matches(bytes),
    })
}

/// The clear header of an encrypted message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EncryptedHeader {
    pub nonce: [u8; NONCE_LEN],
    pub auth_id: u32,
    /// Number of sealed bytes following the header.
    pub sealed_len: usize,
}

impl EncryptedHeader {
    pub fn total_len(&self) -> usize {
        ADATA_LEN + self.sealed_len
    }
}

/// Reads the clear header; needs only the first [`ADATA_LEN`] bytes.
pub fn read_header(bytes: &[u8]) -> Result<EncryptedHeader, FrameError> {
    if bytes.len() < ADATA_LEN {
        return Err(FrameError::TooShort {
            len: bytes.len(),
            min: ADATA_LEN,
        });
    }
    let mut nonce = [0u8; NONCE_LEN];
    nonce.copy_from_slice(&bytes[..NONCE_LEN]);
    let auth_id = u32::from_le_bytes([bytes[24], bytes[25], bytes[26], bytes[27]]);
    let sealed_len = usize::from(u16::from_le_bytes([bytes[28], bytes[29]]));
    Ok(EncryptedHeader {
        nonce,
        auth_id,
        sealed_len,
    })
}

pub fn encode_encrypted(
    key: &SharedKey,
    nonce: &[u8; NONCE_LEN],
    auth_id: u32,
    command: CommandId,
    payload: &[u8],
) -> Vec<u8> {
    let mut pdata = Vec::with_capacity(payload.len() + PDATA_OVERHEAD);
    pdata.extend_from_slice(&auth_id.to_le_bytes());
    pdata.extend_from_slice(&command.to_u16().to_le_bytes());
    pdata.extend_from_slice(payload);
    let crc = crc16(&pdata);
    pdata.extend_from_slice(&crc.to_le_bytes());
    let sealed = crypto::seal(key, nonce, &pdata);
    let sealed_len = u16::try_from(sealed.len()).unwrap_or(u16::MAX);
    let mut out = Vec::with_capacity(ADATA_LEN + sealed.len());
    out.extend_from_slice(nonce);
    out.extend_from_slice(&auth_id.to_le_bytes());
    out.extend_from_slice(&sealed_len.to_le_bytes());
    out.extend_from_slice(&sealed);
    out
}

/// An encrypted message after decryption, with the outcome of every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenedFrame {
    pub header: EncryptedHeader,
    pub sealed_auth_id: u32,
    pub command: CommandId,
    pub payload: Vec<u8>,
    pub crc_valid: bool,
}

/// Decrypts; fails only on length or authentication problems. The CRC and the auth-id
/// agreement are reported, not enforced (for diagnostics).
pub fn open_encrypted(key: &SharedKey, bytes: &[u8]) -> Result<OpenedFrame, FrameError> {
    check_bounds(bytes.len(), ADATA_LEN + TAG_LEN + PDATA_OVERHEAD)?;
    let header = read_header(bytes)?;
    let actual = bytes.len() - ADATA_LEN;
    if header.sealed_len != actual {
        return Err(FrameError::LengthMismatch {
            declared: header.sealed_len,
            actual,
        });
    }
    let pdata = crypto::open(key, &header.nonce, &bytes[ADATA_LEN..])
        .map_err(|_| FrameError::Authentication)?;
    // The tag verified, so PDATA has the length the sender sealed; still guard it.
    check_bounds(pdata.len(), PDATA_OVERHEAD)?;
    Ok(OpenedFrame {
        header,
        sealed_auth_id: u32::from_le_bytes([pdata[0], pdata[1], pdata[2], pdata[3]]),
        command: CommandId::from_u16(u16::from_le_bytes([pdata[4], pdata[5]])),
        payload: pdata[6..pdata.len() - 2].to_vec(),
        crc_valid: crc_matches(&pdata),
    })
}

/// A verified encrypted message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecryptedFrame {
    pub auth_id: u32,
    pub command: CommandId,
    pub payload: Vec<u8>,
}

pub fn decode_encrypted(key: &SharedKey, bytes: &[u8]) -> Result<DecryptedFrame, FrameError> {
    let opened = open_encrypted(key, bytes)?;
    if !opened.crc_valid {
        return Err(FrameError::BadCrc);
    }
    if opened.sealed_auth_id != opened.header.auth_id {
        return Err(FrameError::AuthIdMismatch {
            clear: opened.header.auth_id,
            sealed: opened.sealed_auth_id,
        });
    }
    Ok(DecryptedFrame {
        auth_id: opened.header.auth_id,
        command: opened.command,
        payload: opened.payload,
    })
}

fn check_bounds(len: usize, min: usize) -> Result<(), FrameError> {
    if len < min {
        Err(FrameError::TooShort { len, min })
    } else if len > MAX_MESSAGE_LEN {
        Err(FrameError::TooLong { len })
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_request_public_key() {
        let bytes = encode_plain(CommandId::RequestData, &[0x03, 0x00]);
        assert_eq!(bytes, [0x01, 0x00, 0x03, 0x00, 0x27, 0xA7]);
        let frame = decode_plain(&bytes).unwrap();
        assert_eq!(frame.command, CommandId::RequestData);
        assert_eq!(frame.payload, [0x03, 0x00]);
    }

    #[test]
    fn encrypted_round_trip_and_wrong_key() {
        let key = SharedKey::from_bytes([7; 32]);
        let bytes = encode_encrypted(&key, &[1; 24], 9, CommandId::RequestData, &[0x0C, 0x00]);
        assert_eq!(read_header(&bytes).unwrap().total_len(), bytes.len());
        let frame = decode_encrypted(&key, &bytes).unwrap();
        assert_eq!(frame.auth_id, 9);
        assert_eq!(frame.payload, [0x0C, 0x00]);
        let wrong = SharedKey::from_bytes([8; 32]);
        assert_eq!(
            decode_encrypted(&wrong, &bytes),
            Err(FrameError::Authentication)
        );
    }
}
