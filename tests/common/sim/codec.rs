//! Bytes, vector constants and the plain/sealed frame helpers of the minimal client.

use nuki_edge::nuki::crypto::SharedKey;
use nuki_edge::nuki::frame;
use nuki_edge::nuki::messages::{self, Message};
use nuki_edge::nuki::uuids::ServiceFamily;

/// 2024-05-01T12:34:56Z
pub const WALL_CLOCK: i64 = 1_714_566_896;
/// The Ultra pairing messages carry the bytes 7F FF FF FF (read little-endian here).
pub const ULTRA_PAIRING_AUTH_ID: u32 = u32::from_le_bytes([0x7F, 0xFF, 0xFF, 0xFF]);

pub fn bytes(text: &str) -> Vec<u8> {
    hex::decode(text).unwrap()
}

pub fn array<const N: usize>(text: &str) -> [u8; N] {
    bytes(text).try_into().unwrap()
}

/// 24 consecutive byte values starting at `first` (the vector file's transport nonces).
pub fn counting_nonce(first: u8) -> [u8; 24] {
    std::array::from_fn(|i| first + i as u8)
}

pub const OFFICIAL_CLIENT_SECRET: &str =
    "8CAA54672307BFFDF5EA183FC607158D2011D008ECA6A1088614FF0853A5AA07";

pub fn plain(message: &Message, family: ServiceFamily) -> Vec<u8> {
    frame::encode_plain(message.command(), &messages::encode(message, family, None))
}

pub fn decode_plain(bytes: &[u8], family: ServiceFamily) -> Message {
    let frame = frame::decode_plain(bytes).expect("valid plain frame");
    messages::decode(frame.command, &frame.payload, family)
        .expect("decodable payload")
        .message
}

pub fn decode_sealed(key: &SharedKey, bytes: &[u8], family: ServiceFamily) -> (u32, Message) {
    let frame = frame::decode_encrypted(key, bytes).expect("valid encrypted frame");
    let message = messages::decode(frame.command, &frame.payload, family)
        .expect("decodable payload")
        .message;
    (frame.auth_id, message)
}
