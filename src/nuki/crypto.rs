//! Key agreement, the shared key, XSalsa20-Poly1305 sealing and the pairing authenticators.
//!
//! `dh1` + `kdf1` of the Nuki protocol are exactly NaCl `crypto_box_beforenm`; `e1` is
//! `crypto_secretbox_easy` (16-byte tag in front of the ciphertext).

use crypto_secretbox::aead::{Aead, KeyInit};
use crypto_secretbox::XSalsa20Poly1305;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// Length of the Poly1305 tag that precedes every ciphertext.
pub const TAG_LEN: usize = 16;
/// Length of the per-message transport nonce.
pub const NONCE_LEN: usize = 24;

/// The 32-byte key shared by a client and a device after pairing. Never printed.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct SharedKey([u8; 32]);

impl SharedKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// Parses a key given as 64 hex digits.
    pub fn from_hex(text: &str) -> Result<Self, CryptoError> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text.trim(), &mut bytes).map_err(|_| CryptoError::BadKeyText)?;
        Ok(Self(bytes))
    }

    /// The raw key, for storage only.
    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for SharedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SharedKey(<redacted>)")
    }
}

/// A Curve25519 key pair, used only during pairing to derive the [`SharedKey`].
pub struct KeyPair {
    secret: x25519_dalek::StaticSecret,
    public: [u8; 32],
}

impl KeyPair {
    pub fn from_secret(secret: [u8; 32]) -> Self {
        let secret = x25519_dalek::StaticSecret::from(secret);
        let public = x25519_dalek::PublicKey::from(&secret).to_bytes();
        Self { secret, public }
    }

    pub fn generate<R: rand::RngCore + rand::CryptoRng>(rng: &mut R) -> Self {
        let mut bytes = [0u8; 32];
        rng.fill_bytes(&mut bytes);
        let pair = Self::from_secret(bytes);
        bytes.zeroize();
        pair
    }

    pub fn public_key(&self) -> [u8; 32] {
        self.public
    }

    /// `kdf1(dh1(own secret, peer public))`: NaCl `crypto_box_beforenm`.
    pub fn shared_key(&self, peer_public: &[u8; 32]) -> SharedKey {
        let dh = self
            .secret
            .diffie_hellman(&x25519_dalek::PublicKey::from(*peer_public));
        SharedKey(hsalsa20_expand(dh.as_bytes()))
    }
}

impl std::fmt::Debug for KeyPair {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyPair")
            .field("public", &hex::encode_upper(self.public))
            .finish_non_exhaustive()
    }
}

fn hsalsa20_expand(dh: &[u8; 32]) -> [u8; 32] {
    use salsa20::cipher::consts::U10;
    let key = salsa20::Key::from_slice(dh);
    let input = [0u8; 16];
    let out = salsa20::hsalsa::<U10>(key, (&input).into());
    let mut bytes = [0u8; 32];
    bytes.copy_from_slice(&out);
    bytes
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    #[error("authentication failed: wrong key or tampered message")]
    AuthenticationFailed,
    #[error("a key must be 64 hex digits")]
    BadKeyText,
}

/// `crypto_secretbox_easy`: tag ‖ ciphertext.
pub fn seal(key: &SharedKey, nonce: &[u8; NONCE_LEN], plain: &[u8]) -> Vec<u8> {
    let cipher = XSalsa20Poly1305::new(key.0.as_ref().into());
    // Encryption with a valid key and nonce cannot fail for in-memory buffers.
    cipher
        .encrypt(nonce.into(), plain)
        .unwrap_or_else(|_| unreachable!("secretbox encryption is infallible"))
}

/// Opens a `crypto_secretbox_easy` box.
pub fn open(
    key: &SharedKey,
    nonce: &[u8; NONCE_LEN],
    sealed: &[u8],
) -> Result<Vec<u8>, CryptoError> {
    let cipher = XSalsa20Poly1305::new(key.0.as_ref().into());
    cipher
        .decrypt(nonce.into(), sealed)
        .map_err(|_| CryptoError::AuthenticationFailed)
}

type HmacSha256 = Hmac<Sha256>;

/// HMAC-SHA256 keyed with the shared key over the concatenation of `parts`.
pub fn authenticator(key: &SharedKey, parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <HmacSha256 as hmac::KeyInit>::new_from_slice(&key.0)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    for part in parts {
        mac.update(part);
    }
    let mut out = [0u8; 32];
    out.copy_from_slice(&mac.finalize().into_bytes());
    out
}

/// Constant-time check of an authenticator.
pub fn verify_authenticator(key: &SharedKey, parts: &[&[u8]], received: &[u8]) -> bool {
    use subtle::ConstantTimeEq;
    let expected = authenticator(key, parts);
    received.len() == 32 && bool::from(expected.ct_eq(received))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h32(text: &str) -> [u8; 32] {
        let mut out = [0u8; 32];
        hex::decode_to_slice(text, &mut out).unwrap();
        out
    }

    #[test]
    fn official_example_shared_key() {
        let client = KeyPair::from_secret(h32(
            "8CAA54672307BFFDF5EA183FC607158D2011D008ECA6A1088614FF0853A5AA07",
        ));
        assert_eq!(
            client.public_key(),
            h32("F88127CCF48023B5CBE9101D24BAA8A368DA94E8C2E3CDE2DED29CE96AB50C15")
        );
        let lock_pk = h32("2FE57DA347CD62431528DAAC5FBB290730FFF684AFC4CFC2ED90995F58CB3B74");
        assert_eq!(
            client.shared_key(&lock_pk).expose(),
            &h32("217FCB0F18CAF284E9BDEA0B94B83B8D10867ED706BFDEDBD2381F4CB3B8F730")
        );
    }

    #[test]
    fn debug_never_shows_key() {
        let key = SharedKey::from_bytes([0xAB; 32]);
        let text = format!("{key:?}");
        assert!(!text.to_lowercase().contains("abab"));
    }
}
