//! Time-based one-time codes (RFC 6238) as authenticator apps make them: HMAC-SHA1, six
//! digits, 30 s steps, one step of skew either way. A code is accepted once: its step must be
//! later than the last one used.

use rand::RngCore;
use subtle::ConstantTimeEq;
use totp_rs::{Algorithm, Builder, Secret, Totp};

pub const TOTP_DIGITS: usize = 6;
pub const TOTP_STEP_SECONDS: u64 = 30;
/// Steps accepted before and after the current one (clock drift, typing time).
pub const TOTP_SKEW_STEPS: u64 = 1;
/// RFC 4226 recommends 160 bits.
const SECRET_BYTES: usize = 20;
/// The issuer shown in authenticator apps.
pub const TOTP_ISSUER: &str = "nuki-edge";

/// A fresh secret, base32 (as authenticator apps take it).
pub fn new_secret() -> String {
    let mut bytes = vec![0u8; SECRET_BYTES];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    Secret::from(bytes).to_base32()
}

fn totp(secret_base32: &str) -> Option<Totp> {
    let secret = Secret::try_from_base32(secret_base32).ok()?;
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(TOTP_DIGITS as u8)
        .with_step_duration(TOTP_STEP_SECONDS)
        .with_skew(TOTP_SKEW_STEPS as u16)
        .with_secret(secret)
        .build()
        .ok()
}

/// The step `code` belongs to, if it is valid at `now` (Unix seconds) and later than `used`.
pub fn check(secret_base32: &str, code: &str, now: i64, used: Option<u64>) -> Option<u64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != TOTP_DIGITS || !code.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let totp = totp(secret_base32)?;
    let origin = u64::try_from(now).ok()? / TOTP_STEP_SECONDS;
    (origin.saturating_sub(TOTP_SKEW_STEPS)..=origin.saturating_add(TOTP_SKEW_STEPS))
        .filter(|step| used.is_none_or(|used| *step > used))
        .find(|step| {
            let expected = totp.generate(step * TOTP_STEP_SECONDS).to_string();
            bool::from(expected.as_bytes().ct_eq(code.as_bytes()))
        })
}

/// The code for `at` (Unix seconds); for tests and tools that play the authenticator app.
pub fn code_at(secret_base32: &str, at: i64) -> Option<String> {
    let at = u64::try_from(at).ok()?;
    Some(totp(secret_base32)?.generate(at).to_string())
}

/// The `otpauth://` URL authenticator apps read (usually from a QR code).
pub fn otpauth_url(secret_base32: &str, account: &str) -> String {
    let label = encode(&format!("{TOTP_ISSUER}:{account}"));
    format!(
        "otpauth://totp/{label}?secret={secret_base32}&issuer={}&algorithm=SHA1&digits={TOTP_DIGITS}&period={TOTP_STEP_SECONDS}",
        encode(TOTP_ISSUER)
    )
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn encode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                char::from(byte).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B: the SHA1 seed "12345678901234567890", T = 59 s → 94287082 (eight
    /// digits); six digits are its last six.
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn codes_match_rfc_6238() {
        assert_eq!(code_at(RFC_SECRET, 59).unwrap(), "287082");
        assert_eq!(code_at(RFC_SECRET, 1_111_111_109).unwrap(), "081804");
    }

    #[test]
    fn one_step_of_skew_either_way_and_never_twice() {
        let now = 1_111_111_109;
        let step = u64::try_from(now).unwrap() / TOTP_STEP_SECONDS;
        let code = code_at(RFC_SECRET, now).unwrap();
        assert_eq!(check(RFC_SECRET, &code, now, None), Some(step));
        assert_eq!(check(RFC_SECRET, &code, now + 30, None), Some(step));
        assert_eq!(check(RFC_SECRET, &code, now - 30, None), Some(step));
        assert_eq!(check(RFC_SECRET, &code, now + 60, None), None);
        assert_eq!(check(RFC_SECRET, &code, now, Some(step)), None, "reused");
        assert_eq!(check(RFC_SECRET, &code, now, Some(step - 1)), Some(step));
        assert_eq!(check(RFC_SECRET, "12345", now, None), None);
        assert_eq!(check(RFC_SECRET, "abcdef", now, None), None);
        assert_eq!(check("not base32!", &code, now, None), None);
    }

    #[test]
    fn fresh_secrets_make_a_url_for_the_app() {
        let secret = new_secret();
        assert_eq!(secret.len(), 32, "160 bits in base32");
        let url = otpauth_url(&secret, "ann@example.org");
        assert!(url.starts_with("otpauth://totp/nuki-edge%3Aann%40example.org?secret="));
        assert!(url.contains(&secret));
        assert!(url.ends_with("&digits=6&period=30"));
    }
}
