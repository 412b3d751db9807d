//! CRC-16/CCITT-FALSE (catalogue name CRC-16/IBM-3740), appended little-endian to every frame.

use crc::{Crc, CRC_16_IBM_3740};

const NUKI_CRC: Crc<u16> = Crc::<u16>::new(&CRC_16_IBM_3740);

/// CRC over `bytes` as the Nuki protocol computes it.
pub fn crc16(bytes: &[u8]) -> u16 {
    NUKI_CRC.checksum(bytes)
}

/// True when the last two bytes of `frame` are the little-endian CRC of everything before them.
pub fn crc_matches(frame: &[u8]) -> bool {
    match frame.len().checked_sub(2) {
        Some(body_len) => {
            let expected = u16::from_le_bytes([frame[body_len], frame[body_len + 1]]);
            crc16(&frame[..body_len]) == expected
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_vectors() {
        assert_eq!(crc16(b"123456789"), 0x29B1);
        assert_eq!(crc16(&[0x01, 0x00, 0x03, 0x00]), 0xA727);
        assert_eq!(crc16(&[0x4C, 0x00, 0x01]), 0xB471);
        assert_eq!(
            crc16(&[0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x0C, 0x00]),
            0x8D41
        );
    }

    #[test]
    fn matches_detects_corruption() {
        assert!(crc_matches(&[0x01, 0x00, 0x03, 0x00, 0x27, 0xA7]));
        assert!(!crc_matches(&[0x01, 0x00, 0x03, 0x01, 0x27, 0xA7]));
        assert!(!crc_matches(&[0x27]));
    }
}
