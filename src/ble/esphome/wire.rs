//! The client side of the ESPHome native API's transport: the Noise `NNpsk0` handshake and
//! encrypted frames, or plaintext frames when no key is configured. The crate
//! `esphome-native-api` brings the messages and the device side only, so the client side of
//! the framing lives here.

use esphome_native_api::error::FrameError;
use esphome_native_api::parser::{self, ProtoMessage};
use noise_protocol::patterns::noise_nn_psk0;
use noise_protocol::{CipherState, HandshakeState};
use noise_rust_crypto::{ChaCha20Poly1305, Sha256, X25519};
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

use super::key::ApiKey;

const ENCRYPTED: u8 = 0x01;
const PLAINTEXT: u8 = 0x00;
/// "NoiseAPIInit" and the two length bytes of the empty client hello.
const PROLOGUE: &[u8] = b"NoiseAPIInit\0\0";
/// A plaintext frame longer than this is a confused peer, not a message.
const MAX_PLAINTEXT_FRAME: usize = 1 << 20;
/// How much of a refusal text the proxy sends is kept for the error.
const MAX_REFUSAL_TEXT: usize = 120;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("connection closed by the proxy")]
    Closed,
    #[error("network error: {0}")]
    Io(String),
    #[error("encryption key rejected")]
    KeyRejected,
    #[error("handshake refused: {0}")]
    HandshakeRefused(String),
    #[error("the proxy's API is not encrypted, but an encryption key is configured")]
    ProxyPlaintext,
    #[error("the proxy's API requires an encryption key, but none is configured")]
    ProxyEncrypted,
    #[error("a frame failed to decrypt")]
    Decrypt,
    #[error("malformed frame: {0}")]
    Malformed(String),
}

impl From<std::io::Error> for WireError {
    fn from(error: std::io::Error) -> Self {
        match error.kind() {
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted
            | std::io::ErrorKind::BrokenPipe => WireError::Closed,
            _ => WireError::Io(error.to_string()),
        }
    }
}

type Cipher = CipherState<ChaCha20Poly1305>;

pub struct FrameReader {
    stream: BufReader<OwnedReadHalf>,
    cipher: Option<Cipher>,
}

pub struct FrameWriter {
    stream: OwnedWriteHalf,
    cipher: Option<Cipher>,
}

/// Runs the handshake (Noise with a key, none without) on a fresh TCP connection.
pub async fn open(
    stream: TcpStream,
    key: Option<&ApiKey>,
) -> Result<(FrameReader, FrameWriter), WireError> {
    // Small messages in both directions; waiting to batch them only adds latency.
    stream.set_nodelay(true)?;
    let (read, write) = stream.into_split();
    let mut reader = FrameReader {
        stream: BufReader::new(read),
        cipher: None,
    };
    let mut writer = FrameWriter {
        stream: write,
        cipher: None,
    };
    if let Some(key) = key {
        let (send, receive) = noise_handshake(&mut reader, &mut writer, key).await?;
        writer.cipher = Some(send);
        reader.cipher = Some(receive);
    }
    Ok((reader, writer))
}

async fn noise_handshake(
    reader: &mut FrameReader,
    writer: &mut FrameWriter,
    key: &ApiKey,
) -> Result<(Cipher, Cipher), WireError> {
    let mut state: HandshakeState<X25519, ChaCha20Poly1305, Sha256> =
        HandshakeState::new(noise_nn_psk0(), true, PROLOGUE, None, None, None, None);
    state.push_psk(key.bytes());
    let first = state
        .write_message_vec(&[])
        .map_err(|error| WireError::HandshakeRefused(format!("noise: {error:?}")))?;
    // The empty client hello, then the first handshake message behind its status byte.
    writer.send_encrypted_frame(&[]).await?;
    writer
        .send_encrypted_frame(&[&[0u8][..], &first].concat())
        .await?;

    let server_hello = reader.read_encrypted_frame().await?;
    if server_hello.first() != Some(&ENCRYPTED) {
        return Err(WireError::Malformed(
            "the proxy chose an unknown encryption protocol".into(),
        ));
    }
    let answer = reader.read_encrypted_frame().await?;
    match answer.split_first() {
        Some((0, message)) => {
            state
                .read_message_vec(message)
                .map_err(|_| WireError::KeyRejected)?;
        }
        Some((_, text)) => {
            let text = String::from_utf8_lossy(text);
            if text.contains("MAC failure") {
                return Err(WireError::KeyRejected);
            }
            let shown: String = text.chars().take(MAX_REFUSAL_TEXT).collect();
            return Err(WireError::HandshakeRefused(shown));
        }
        None => return Err(WireError::Malformed("empty handshake answer".into())),
    }
    Ok(state.get_ciphers())
}

impl FrameReader {
    /// The next message the crate knows; messages of newer firmware are skipped.
    pub async fn read(&mut self) -> Result<ProtoMessage, WireError> {
        loop {
            let (message_type, body) = match self.cipher.is_some() {
                true => self.read_encrypted_message().await?,
                false => self.read_plaintext_message().await?,
            };
            match parser::parse_proto_message(message_type, &body) {
                Ok(message) => return Ok(message),
                Err(FrameError::UnknownMessageType(kind)) => {
                    tracing::trace!(kind, "skipping an unknown ESPHome message");
                }
                Err(error) => return Err(WireError::Malformed(error.to_string())),
            }
        }
    }

    async fn read_encrypted_frame(&mut self) -> Result<Vec<u8>, WireError> {
        let indicator = self.stream.read_u8().await?;
        if indicator == PLAINTEXT {
            return Err(WireError::ProxyPlaintext);
        }
        if indicator != ENCRYPTED {
            return Err(WireError::Malformed(format!("frame marker {indicator}")));
        }
        let length = usize::from(self.stream.read_u16().await?);
        let mut frame = vec![0u8; length];
        self.stream.read_exact(&mut frame).await?;
        Ok(frame)
    }

    async fn read_encrypted_message(&mut self) -> Result<(usize, Vec<u8>), WireError> {
        let frame = self.read_encrypted_frame().await?;
        let cipher = self
            .cipher
            .as_mut()
            .ok_or_else(|| WireError::Malformed("no cipher".into()))?;
        let plain = cipher
            .decrypt_vec(&frame)
            .map_err(|()| WireError::Decrypt)?;
        let [t0, t1, l0, l1, body @ ..] = plain.as_slice() else {
            return Err(WireError::Malformed(
                "message shorter than its header".into(),
            ));
        };
        let length = usize::from(u16::from_be_bytes([*l0, *l1]));
        let body = body
            .get(..length)
            .ok_or_else(|| WireError::Malformed("message shorter than its length".into()))?;
        Ok((usize::from(u16::from_be_bytes([*t0, *t1])), body.to_vec()))
    }

    async fn read_plaintext_message(&mut self) -> Result<(usize, Vec<u8>), WireError> {
        let indicator = self.stream.read_u8().await?;
        if indicator == ENCRYPTED {
            return Err(WireError::ProxyEncrypted);
        }
        if indicator != PLAINTEXT {
            return Err(WireError::Malformed(format!("frame marker {indicator}")));
        }
        let length = usize::try_from(self.read_varint().await?)
            .map_err(|_| WireError::Malformed("frame length".into()))?;
        if length > MAX_PLAINTEXT_FRAME {
            return Err(WireError::Malformed(format!("frame of {length} bytes")));
        }
        let message_type = usize::try_from(self.read_varint().await?)
            .map_err(|_| WireError::Malformed("message type".into()))?;
        let mut body = vec![0u8; length];
        self.stream.read_exact(&mut body).await?;
        Ok((message_type, body))
    }

    async fn read_varint(&mut self) -> Result<u64, WireError> {
        let mut value = 0u64;
        for shift in (0..35).step_by(7) {
            let byte = self.stream.read_u8().await?;
            value |= u64::from(byte & 0x7F) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(WireError::Malformed("varint too long".into()))
    }
}

impl FrameWriter {
    pub async fn send(&mut self, message: &ProtoMessage) -> Result<(), WireError> {
        let body = parser::proto_to_vec(message).map_err(|e| WireError::Malformed(e.into()))?;
        let message_type =
            parser::message_to_num(message).map_err(|e| WireError::Malformed(e.into()))?;
        match self.cipher.as_mut() {
            Some(cipher) => {
                let length = u16::try_from(body.len())
                    .map_err(|_| WireError::Malformed("message too long".into()))?;
                let mut plain = Vec::with_capacity(body.len() + 4);
                plain.extend_from_slice(&u16::from(message_type).to_be_bytes());
                plain.extend_from_slice(&length.to_be_bytes());
                plain.extend_from_slice(&body);
                let sealed = cipher.encrypt_vec(&plain);
                self.send_encrypted_frame(&sealed).await
            }
            None => {
                let mut frame = vec![PLAINTEXT];
                push_varint(&mut frame, body.len() as u64);
                push_varint(&mut frame, u64::from(message_type));
                frame.extend_from_slice(&body);
                self.stream.write_all(&frame).await?;
                Ok(())
            }
        }
    }

    async fn send_encrypted_frame(&mut self, payload: &[u8]) -> Result<(), WireError> {
        let length = u16::try_from(payload.len())
            .map_err(|_| WireError::Malformed("frame too long".into()))?;
        let mut frame = Vec::with_capacity(payload.len() + 3);
        frame.push(ENCRYPTED);
        frame.extend_from_slice(&length.to_be_bytes());
        frame.extend_from_slice(payload);
        self.stream.write_all(&frame).await?;
        Ok(())
    }
}

fn push_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        // Truncation is the point: the low seven bits with the continuation bit.
        out.push((value as u8 & 0x7F) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_are_little_endian_groups_of_seven_bits() {
        let mut out = Vec::new();
        push_varint(&mut out, 300);
        assert_eq!(out, vec![0xAC, 0x02]);
        out.clear();
        push_varint(&mut out, 5);
        assert_eq!(out, vec![5]);
    }
}
