//! Property tests of framing and reassembly: round trips, every split point, typed errors for
//! a wrong key, CRC or length, and no panic on arbitrary bytes.

use proptest::prelude::*;

use nuki_edge::nuki::command::CommandId;
use nuki_edge::nuki::crc::crc16;
use nuki_edge::nuki::crypto::{self, SharedKey};
use nuki_edge::nuki::frame::{self, FrameError, ADATA_LEN};
use nuki_edge::nuki::reassembly::{Framing, Reassembler};

fn any_command() -> impl Strategy<Value = CommandId> {
    prop::sample::select(CommandId::ALL.to_vec())
}

/// Splits `bytes` at the given cut points (sorted, deduplicated, inside the message).
fn split(bytes: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|c| c % bytes.len().max(1))
        .filter(|&c| c > 0)
        .collect();
    points.sort_unstable();
    points.dedup();
    let mut parts = Vec::new();
    let mut start = 0;
    for point in points {
        parts.push(bytes[start..point].to_vec());
        start = point;
    }
    parts.push(bytes[start..].to_vec());
    parts
}

fn reassemble(framing: Framing, parts: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut reassembler = Reassembler::new(framing);
    let mut messages = Vec::new();
    for part in parts {
        messages.extend(reassembler.push(part).expect("valid fragments"));
        messages.extend(std::iter::from_fn(|| reassembler.pop_ready()));
    }
    messages
}

proptest! {
    #[test]
    fn plain_frames_round_trip(command in any_command(), payload in prop::collection::vec(any::<u8>(), 0..200)) {
        let bytes = frame::encode_plain(command, &payload);
        let decoded = frame::decode_plain(&bytes).expect("own frame decodes");
        prop_assert_eq!(decoded.command, command);
        prop_assert_eq!(decoded.payload, payload);
    }

    #[test]
    fn encrypted_frames_round_trip(
        key in any::<[u8; 32]>(),
        nonce in any::<[u8; 24]>(),
        auth_id in any::<u32>(),
        command in any_command(),
        payload in prop::collection::vec(any::<u8>(), 0..200),
    ) {
        let key = SharedKey::from_bytes(key);
        let bytes = frame::encode_encrypted(&key, &nonce, auth_id, command, &payload);
        let decoded = frame::decode_encrypted(&key, &bytes).expect("own frame decodes");
        prop_assert_eq!(decoded.auth_id, auth_id);
        prop_assert_eq!(decoded.command, command);
        prop_assert_eq!(decoded.payload, payload);
    }

    #[test]
    fn encrypted_reassembly_at_any_split_points(
        payload in prop::collection::vec(any::<u8>(), 0..150),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let key = SharedKey::from_bytes([5; 32]);
        let bytes = frame::encode_encrypted(&key, &[1; 24], 3, CommandId::KeyturnerStates, &payload);
        let messages = reassemble(Framing::Encrypted, &split(&bytes, &cuts));
        prop_assert_eq!(messages, vec![bytes]);
    }

    #[test]
    fn encrypted_reassembly_of_two_back_to_back_messages(
        first in prop::collection::vec(any::<u8>(), 0..60),
        second in prop::collection::vec(any::<u8>(), 0..60),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
    ) {
        let key = SharedKey::from_bytes([6; 32]);
        let a = frame::encode_encrypted(&key, &[1; 24], 3, CommandId::Status, &first);
        let b = frame::encode_encrypted(&key, &[2; 24], 3, CommandId::Status, &second);
        let stream = [a.clone(), b.clone()].concat();
        prop_assert_eq!(reassemble(Framing::Encrypted, &split(&stream, &cuts)), vec![a, b]);
    }

    #[test]
    fn plain_reassembly_at_any_split_points(
        command in prop::sample::select(vec![
            CommandId::PublicKey, CommandId::Challenge, CommandId::AuthorizationId,
            CommandId::Status, CommandId::ErrorReport, CommandId::AuthorizationInfo,
        ]),
        fill in any::<u8>(),
        cuts in prop::collection::vec(any::<usize>(), 0..12),
    ) {
        let len = nuki_edge::nuki::reassembly::plain_payload_len(command).expect("fixed size");
        let bytes = frame::encode_plain(command, &vec![fill; len]);
        prop_assert_eq!(reassemble(Framing::Plain, &split(&bytes, &cuts)), vec![bytes]);
    }

    #[test]
    fn decoders_never_panic_on_arbitrary_bytes(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let key = SharedKey::from_bytes([9; 32]);
        let _ = frame::decode_plain(&bytes);
        let _ = frame::inspect_plain(&bytes);
        let _ = frame::decode_encrypted(&key, &bytes);
        let _ = frame::open_encrypted(&key, &bytes);
        let _ = frame::read_header(&bytes);
        for framing in [Framing::Plain, Framing::Encrypted] {
            let mut reassembler = Reassembler::new(framing);
            for chunk in bytes.chunks(20) {
                let _ = reassembler.push(chunk);
            }
        }
    }

    #[test]
    fn wrong_key_is_an_authentication_error(
        key in any::<[u8; 32]>(),
        other in any::<[u8; 32]>(),
        payload in prop::collection::vec(any::<u8>(), 0..64),
    ) {
        prop_assume!(key != other);
        let bytes = frame::encode_encrypted(&SharedKey::from_bytes(key), &[0; 24], 1, CommandId::Status, &payload);
        prop_assert_eq!(
            frame::decode_encrypted(&SharedKey::from_bytes(other), &bytes),
            Err(FrameError::Authentication)
        );
    }

    #[test]
    fn any_flipped_byte_of_a_plain_frame_is_a_crc_error(
        payload in prop::collection::vec(any::<u8>(), 1..64),
        position in any::<usize>(),
        flip in 1u8..=255,
    ) {
        let mut bytes = frame::encode_plain(CommandId::KeyturnerStates, &payload);
        let position = position % bytes.len();
        bytes[position] ^= flip;
        prop_assert_eq!(frame::decode_plain(&bytes), Err(FrameError::BadCrc));
    }

    #[test]
    fn any_flipped_byte_of_an_encrypted_frame_is_refused(
        payload in prop::collection::vec(any::<u8>(), 1..64),
        position in any::<usize>(),
        flip in 1u8..=255,
    ) {
        let key = SharedKey::from_bytes([4; 32]);
        let mut bytes = frame::encode_encrypted(&key, &[0; 24], 1, CommandId::Status, &payload);
        let position = position % bytes.len();
        bytes[position] ^= flip;
        prop_assert!(frame::decode_encrypted(&key, &bytes).is_err());
    }

    #[test]
    fn truncated_encrypted_frames_are_length_errors(
        payload in prop::collection::vec(any::<u8>(), 0..64),
        cut in 1usize..30,
    ) {
        let key = SharedKey::from_bytes([4; 32]);
        let bytes = frame::encode_encrypted(&key, &[0; 24], 1, CommandId::Status, &payload);
        let cut = cut.min(bytes.len() - 1);
        let error = frame::decode_encrypted(&key, &bytes[..bytes.len() - cut]).unwrap_err();
        prop_assert!(
            matches!(error, FrameError::LengthMismatch { .. } | FrameError::TooShort { .. }),
            "{:?}", error
        );
    }
}

#[test]
fn sealed_pdata_with_a_bad_crc_is_a_crc_error() {
    let key = SharedKey::from_bytes([4; 32]);
    let nonce = [8u8; 24];
    let mut pdata = vec![1, 0, 0, 0, 0x0E, 0x00, 0x00];
    let crc = crc16(&pdata) ^ 0x0101;
    pdata.extend_from_slice(&crc.to_le_bytes());
    let sealed = crypto::seal(&key, &nonce, &pdata);
    let mut bytes = nonce.to_vec();
    bytes.extend_from_slice(&1u32.to_le_bytes());
    bytes.extend_from_slice(&(sealed.len() as u16).to_le_bytes());
    bytes.extend_from_slice(&sealed);
    assert_eq!(bytes.len(), ADATA_LEN + sealed.len());
    assert_eq!(
        frame::decode_encrypted(&key, &bytes),
        Err(FrameError::BadCrc)
    );
}

#[test]
fn sealed_pdata_for_another_authorization_is_refused() {
    let key = SharedKey::from_bytes([4; 32]);
    let mut bytes = frame::encode_encrypted(&key, &[0; 24], 1, CommandId::Status, &[0]);
    bytes[24] = 2; // clear header now claims authorization 2
    assert_eq!(
        frame::decode_encrypted(&key, &bytes),
        Err(FrameError::AuthIdMismatch {
            clear: 2,
            sealed: 1
        })
    );
}
