//! Password hashes (argon2id) and the random tokens of sessions and API tokens, which are
//! stored only as their SHA-256.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::RngCore;
use sha2::{Digest, Sha256};

/// OWASP's argon2id recommendation (Password Storage Cheat Sheet): 19 MiB, two passes, one
/// lane — about 50 ms on a Raspberry Pi 4, slow enough for a guesser, fast enough to log in.
pub const ARGON2_MEMORY_KIB: u32 = 19_456;
pub const ARGON2_ITERATIONS: u32 = 2;
pub const ARGON2_LANES: u32 = 1;
/// Random bytes in a session or API token (256 bits).
pub const TOKEN_BYTES: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the password could not be hashed")]
pub struct HashingFailed;

fn hasher() -> Result<Argon2<'static>, HashingFailed> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_ITERATIONS, ARGON2_LANES, None)
        .map_err(|_| HashingFailed)?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// The PHC string (`$argon2id$v=19$m=19456,t=2,p=1$salt$hash`) of `password`, with a fresh
/// random salt.
pub fn hash_password(password: &str) -> Result<String, HashingFailed> {
    hasher()?
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|_| HashingFailed)
}

/// Whether `password` matches `phc` (with the parameters recorded in `phc`, so hashes made
/// with older parameters keep working).
pub fn verify_password(password: &str, phc: &str) -> bool {
    let Ok(argon2) = hasher() else {
        return false;
    };
    PasswordVerifier::<str>::verify_password(&argon2, password.as_bytes(), phc).is_ok()
}

/// Spends the time a verification takes, for an e-mail address nobody has: an unknown
/// address must not answer faster than a wrong password.
pub fn verify_nobody(password: &str) {
    static NOBODY: OnceLock<Option<String>> = OnceLock::new();
    if let Some(phc) = NOBODY.get_or_init(|| hash_password("no account has this password").ok()) {
        let _ = verify_password(password, phc);
    }
}

/// A fresh token: `prefix` and 64 hex digits from the operating system's random source.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; TOKEN_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", hex::encode(bytes))
}

/// What is stored of a token, and how it is found again: its SHA-256, hex. A token carries
/// 256 random bits, so a fast hash is enough (no guesser gets anywhere near a preimage).
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_argon2id_with_the_owasp_parameters() {
        let phc = hash_password("correct horse battery").unwrap();
        assert!(phc.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{phc}");
        assert!(!phc.contains("correct horse"));
        assert!(verify_password("correct horse battery", &phc));
        assert!(!verify_password("correct horse battery!", &phc));
        assert!(!verify_password(
            "correct horse battery",
            "not a PHC string"
        ));
        assert_ne!(
            phc,
            hash_password("correct horse battery").unwrap(),
            "salted"
        );
    }

    #[test]
    fn tokens_carry_256_random_bits() {
        let token = new_token("nea_");
        assert_eq!(token.len(), 4 + 2 * TOKEN_BYTES);
        assert!(token[4..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(token, new_token("nea_"));
        assert_eq!(token_hash(&token).len(), 64);
        assert_ne!(token_hash(&token), token_hash(&new_token("nea_")));
    }
}
