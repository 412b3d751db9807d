//! Rebuilding messages from indications.
//!
//! There is no fragment header: a message arrives either in one large indication or split into
//! MTU-sized pieces. Encrypted messages carry their length at offset 28. Plain messages do not,
//! so they are complete when the payload size known for their command id has arrived, or — for
//! ids without a fixed size — when the buffer ends in a valid CRC.

use super::command::CommandId;
use super::frame::{self, FrameError, ADATA_LEN, MAX_MESSAGE_LEN, PLAIN_OVERHEAD};

/// How the characteristic frames its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    Plain,
    Encrypted,
}

/// Accumulates indications of one characteristic until a whole message is present.
#[derive(Debug)]
pub struct Reassembler {
    framing: Framing,
    buffer: Vec<u8>,
}

impl Reassembler {
    pub fn new(framing: Framing) -> Self {
        Self {
            framing,
            buffer: Vec::with_capacity(200),
        }
    }

    pub fn framing(&self) -> Framing {
        self.framing
    }

    pub fn is_empty(&self) -> bool {
        self.buffer.is_empty()
    }

    /// Drops a partial message (after a timeout or a reconnect).
    pub fn reset(&mut self) {
        self.buffer.clear();
    }

    /// Adds one indication. Returns a complete message when one is ready; an error when the
    /// buffer cannot become a valid message (the buffer is then cleared).
    pub fn push(&mut self, fragment: &[u8]) -> Result<Option<Vec<u8>>, FrameError> {
        self.buffer.extend_from_slice(fragment);
        if self.buffer.len() > MAX_MESSAGE_LEN {
            let len = self.buffer.len();
            self.buffer.clear();
            return Err(FrameError::TooLong { len });
        }
        Ok(self.pop_ready())
    }

    /// Takes a complete message that is already buffered. A push may complete more than one
    /// message (two back to back in one indication); call this until it returns `None`.
    pub fn pop_ready(&mut self) -> Option<Vec<u8>> {
        let complete_len = match self.framing {
            Framing::Encrypted => self.encrypted_len(),
            Framing::Plain => self.plain_len(),
        }?;
        if self.buffer.len() < complete_len {
            return None;
        }
        let rest = self.buffer.split_off(complete_len);
        Some(std::mem::replace(&mut self.buffer, rest))
    }

    fn encrypted_len(&self) -> Option<usize> {
        if self.buffer.len() < ADATA_LEN {
            // A device that cannot decrypt answers with a plain 7-byte Error Report even on an
            // encrypted characteristic; no encrypted message is ever that short.
            return self.is_plain_error_report().then_some(self.buffer.len());
        }
        frame::read_header(&self.buffer)
            .ok()
            .map(|header| header.total_len())
    }

    fn is_plain_error_report(&self) -> bool {
        self.buffer.len() == PLAIN_ERROR_REPORT_LEN
            && self.buffer[..2] == CommandId::ErrorReport.to_u16().to_le_bytes()
            && crate::nuki::crc::crc_matches(&self.buffer)
    }

    fn plain_len(&self) -> Option<usize> {
        if self.buffer.len() < PLAIN_OVERHEAD {
            return None;
        }
        let command = CommandId::from_u16(u16::from_le_bytes([self.buffer[0], self.buffer[1]]));
        match plain_payload_len(command) {
            Some(payload) => Some(payload + PLAIN_OVERHEAD),
            None if crate::nuki::crc::crc_matches(&self.buffer) => Some(self.buffer.len()),
            None => None,
        }
    }
}

/// A plain Error Report: command id, code, failed command id, CRC.
pub const PLAIN_ERROR_REPORT_LEN: usize = 7;

/// Payload size of the plain messages a device sends, where it is fixed.
pub fn plain_payload_len(command: CommandId) -> Option<usize> {
    match command {
        CommandId::PublicKey | CommandId::Challenge | CommandId::AuthorizationAuthenticator => {
            Some(32)
        }
        CommandId::AuthorizationId => Some(84),
        CommandId::Status | CommandId::AuthorizationInfo => Some(1),
        CommandId::ErrorReport => Some(3),
        CommandId::AuthorizationData => Some(101),
        CommandId::AuthorizationIdConfirmation => Some(36),
        CommandId::RequestData => Some(2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn official_public_key_in_two_indications() {
        let mut reassembler = Reassembler::new(Framing::Plain);
        let part1 = hex::decode("03002FE57DA347CD62431528DAAC5FBB290730FF").unwrap();
        let part2 = hex::decode("F684AFC4CFC2ED90995F58CB3B749DB9").unwrap();
        assert_eq!(reassembler.push(&part1).unwrap(), None);
        let message = reassembler.push(&part2).unwrap().unwrap();
        assert_eq!(message.len(), 36);
        assert!(frame::decode_plain(&message).is_ok());
        assert!(reassembler.is_empty());
    }

    #[test]
    fn plain_error_report_on_encrypted_characteristic() {
        let mut reassembler = Reassembler::new(Framing::Encrypted);
        let report = hex::decode("120020000013D7").unwrap();
        assert_eq!(reassembler.push(&report).unwrap(), Some(report));
    }

    /// Regression: two messages in one indication; the second used to wait for another push.
    #[test]
    fn two_messages_in_one_indication_are_both_delivered() {
        let key = crate::nuki::crypto::SharedKey::from_bytes([6; 32]);
        let first = frame::encode_encrypted(&key, &[1; 24], 3, CommandId::Status, &[]);
        let second = frame::encode_encrypted(&key, &[2; 24], 3, CommandId::Status, &[]);
        let mut reassembler = Reassembler::new(Framing::Encrypted);
        assert_eq!(
            reassembler
                .push(&[first.clone(), second.clone()].concat())
                .unwrap(),
            Some(first)
        );
        assert_eq!(reassembler.pop_ready(), Some(second));
        assert_eq!(reassembler.pop_ready(), None);
    }

    #[test]
    fn encrypted_message_at_every_split_point() {
        let key = crate::nuki::crypto::SharedKey::from_bytes([3; 32]);
        let message = frame::encode_encrypted(&key, &[9; 24], 1, CommandId::Status, &[0]);
        for split in 1..message.len() {
            let mut reassembler = Reassembler::new(Framing::Encrypted);
            assert_eq!(
                reassembler.push(&message[..split]).unwrap(),
                None,
                "split {split}"
            );
            assert_eq!(
                reassembler.push(&message[split..]).unwrap(),
                Some(message.clone())
            );
        }
    }
}
