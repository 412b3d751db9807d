//! Bridge API token authentication in its three forms (A.2): plain `token`; hashed
//! `ts`,`rnr`,`hash`; encrypted `ctoken`,`nonce`.
//!
//! Hashed and encrypted requests must be fresh (|now − ts| ≤ 60 s) and are accepted once: a
//! bounded replay cache remembers (ts, rnr) of hashed and the ctoken of encrypted requests.
//! The clock is injected (`now_unix`), so this module does no I/O and is fully testable.
//! Every [`TokenError`] except [`TokenError::ReplayCacheFull`] is an HTTP 401 (pynuki/HA
//! turns only 401 into "invalid credentials"); the variants exist for logging, and none of
//! them carries the token or a value derived from it.

use std::collections::HashMap;

use rand::distributions::{Alphanumeric, Distribution};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use super::query::QueryParams;
use crate::nuki::crypto::{self, SharedKey, NONCE_LEN};

/// How far `ts` may be from our clock, either direction, in seconds.
pub const FRESHNESS_SECONDS: i64 = 60;

/// How long a used hash or ctoken is remembered, counted from the later of its `ts` and the
/// moment we first saw it. A request stays acceptable until now = ts + 60 s, so this outlasts
/// its freshness on both sides with a 60 s margin (a clock step of up to a minute backwards
/// cannot reopen it either).
pub const REPLAY_MEMORY_SECONDS: i64 = 2 * FRESHNESS_SECONDS;

/// Default bound of the replay cache. 4096 entries within 120 s allow 34 authenticated
/// requests per second, far above what Bridge clients send (pynuki paces itself to 2/s),
/// and stay well under a megabyte.
pub const DEFAULT_REPLAY_CAPACITY: usize = 4096;

/// Length of tokens we generate: the Bridge API's maximum, for the most entropy clients accept.
pub const GENERATED_TOKEN_LEN: usize = 20;

/// Shortest and longest token clients accept (HA: 6–20 characters).
pub const MIN_TOKEN_LEN: usize = 6;
pub const MAX_TOKEN_LEN: usize = 20;

/// The API token. Never printed: `Debug` is redacted and there is no `Display`.
#[derive(Clone)]
pub struct BridgeToken(Zeroizing<String>);

impl std::fmt::Debug for BridgeToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BridgeToken(<redacted>)")
    }
}

/// Why a configured token cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenFormatError {
    #[error("the API token must have {MIN_TOKEN_LEN} to {MAX_TOKEN_LEN} characters")]
    Length,
    #[error(
        "the API token may contain only letters, digits and - _ . ~ \
         (clients send it unencoded in the query string)"
    )]
    Character,
}

impl BridgeToken {
    /// Accepts 6–20 characters from the URL-safe unreserved set, because pynuki sends the
    /// plain token unencoded: `&`, `=`, `%`, `+`, `#` or spaces would break the query string.
    pub fn new(text: impl Into<String>) -> Result<Self, TokenFormatError> {
        let text = Zeroizing::new(text.into());
        if !(MIN_TOKEN_LEN..=MAX_TOKEN_LEN).contains(&text.chars().count()) {
            return Err(TokenFormatError::Length);
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '~');
        if !text.chars().all(allowed) {
            return Err(TokenFormatError::Character);
        }
        Ok(Self(text))
    }

    /// The token text, for `/auth` answers and the config file only.
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// Constant-time comparison with a received plain token.
    pub fn matches(&self, candidate: &str) -> bool {
        bool::from(self.0.as_bytes().ct_eq(candidate.as_bytes()))
    }

    /// Key of the encrypted form: SHA-256 of the token.
    fn secretbox_key(&self) -> SharedKey {
        SharedKey::from_bytes(Sha256::digest(self.0.as_bytes()).into())
    }

    /// Lowercase hex SHA-256 of `ts,rnr,token`, over the texts exactly as received.
    fn expected_hash(&self, ts: &str, rnr: &str) -> Zeroizing<String> {
        let mut hasher = Sha256::new();
        hasher.update(ts.as_bytes());
        hasher.update(b",");
        hasher.update(rnr.as_bytes());
        hasher.update(b",");
        hasher.update(self.0.as_bytes());
        Zeroizing::new(hex::encode(hasher.finalize()))
    }
}

/// A fresh random token: 20 alphanumeric characters (≈119 bits).
pub fn generate_token<R: rand::RngCore + rand::CryptoRng>(rng: &mut R) -> String {
    Alphanumeric
        .sample_iter(rng)
        .take(GENERATED_TOKEN_LEN)
        .map(char::from)
        .collect()
}

/// Which form a request authenticated with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenForm {
    Plain,
    Hashed,
    Encrypted,
}

impl TokenForm {
    pub fn name(self) -> &'static str {
        match self {
            TokenForm::Plain => "plain",
            TokenForm::Hashed => "hashed",
            TokenForm::Encrypted => "encrypted",
        }
    }
}

/// Why a request was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("no token parameters")]
    Missing,
    #[error("wrong {} token", .form.name())]
    Wrong { form: TokenForm },
    /// `skew_seconds` = ts − now: negative for an old request, positive for a clock ahead.
    #[error("{} token timestamp off by {skew_seconds} s", .form.name())]
    Stale { form: TokenForm, skew_seconds: i64 },
    #[error("{} token already used", .form.name())]
    Replayed { form: TokenForm },
    #[error("malformed {} token: {reason}", .form.name())]
    Malformed {
        form: TokenForm,
        reason: &'static str,
    },
    /// More fresh requests than the replay cache holds; refused rather than forgetting a
    /// fresh entry (which would reopen a replay window).
    #[error("too many authenticated requests; replay cache full")]
    ReplayCacheFull,
}

impl TokenError {
    /// 401 for every token problem; 503 (busy, clients retry) when the replay cache is full.
    pub fn http_status(&self) -> u16 {
        match self {
            TokenError::ReplayCacheFull => 503,
            _ => 401,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum ReplayKey {
    /// The SHA-256 the client sent, decoded (so letter case does not make a new request).
    Hashed([u8; 32]),
    Encrypted(Vec<u8>),
}

/// Used hashes and ctokens with their expiry; at most `capacity` entries.
#[derive(Clone)]
struct ReplayCache {
    expiries: HashMap<ReplayKey, i64>,
    capacity: usize,
}

impl ReplayCache {
    fn new(capacity: usize) -> Self {
        Self {
            expiries: HashMap::new(),
            capacity,
        }
    }

    /// Records `key`, signed for `ts_unix`, unless it is already remembered (and not yet
    /// expired).
    fn admit(
        &mut self,
        key: ReplayKey,
        form: TokenForm,
        ts_unix: i64,
        now: i64,
    ) -> Result<(), TokenError> {
        if let Some(expiry) = self.expiries.get(&key) {
            if *expiry > now {
                return Err(TokenError::Replayed { form });
            }
        }
        if self.expiries.len() >= self.capacity {
            self.expiries.retain(|_, expiry| *expiry > now);
            if self.expiries.len() >= self.capacity {
                return Err(TokenError::ReplayCacheFull);
            }
        }
        let expiry = ts_unix.max(now).saturating_add(REPLAY_MEMORY_SECONDS);
        self.expiries.insert(key, expiry);
        Ok(())
    }
}

/// Checks the token of each request; owns the secret and the replay cache.
pub struct TokenVerifier {
    token: BridgeToken,
    replay: ReplayCache,
}

impl std::fmt::Debug for TokenVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenVerifier")
            .field("token", &self.token)
            .field("remembered", &self.replay.expiries.len())
            .field("capacity", &self.replay.capacity)
            .finish()
    }
}

impl TokenVerifier {
    pub fn new(token: BridgeToken) -> Self {
        Self::with_replay_capacity(token, DEFAULT_REPLAY_CAPACITY)
    }

    pub fn with_replay_capacity(token: BridgeToken, capacity: usize) -> Self {
        Self {
            token,
            replay: ReplayCache::new(capacity),
        }
    }

    pub fn token(&self) -> &BridgeToken {
        &self.token
    }

    /// Switches to a new token (after `/auth`); used entries stay remembered.
    pub fn replace_token(&mut self, token: BridgeToken) {
        self.token = token;
    }

    /// Number of remembered (not yet purged) entries.
    pub fn remembered(&self) -> usize {
        self.replay.expiries.len()
    }

    /// Authenticates one request. The strongest form present decides: `ctoken`/`nonce`
    /// (`nounce` accepted, the PDF's spelling), then `hash` with `ts`/`rnr`, then `token`.
    /// A stray `ts` or `rnr` without `hash` is a missing hashed part (401, per the Bridge).
    pub fn verify(&mut self, params: &QueryParams, now_unix: i64) -> Result<TokenForm, TokenError> {
        let nonce = params
            .non_empty("nonce")
            .or_else(|| params.non_empty("nounce"));
        if let Some(ctoken) = params.non_empty("ctoken") {
            let nonce = nonce.ok_or(TokenError::Malformed {
                form: TokenForm::Encrypted,
                reason: "nonce missing",
            })?;
            return self.verify_encrypted(ctoken, nonce, now_unix);
        }
        if nonce.is_some() {
            return Err(TokenError::Malformed {
                form: TokenForm::Encrypted,
                reason: "ctoken missing",
            });
        }
        if let Some(hash) = params.non_empty("hash") {
            return self.verify_hashed(params, hash, now_unix);
        }
        if params.has("ts") || params.has("rnr") {
            return Err(TokenError::Malformed {
                form: TokenForm::Hashed,
                reason: "hash missing",
            });
        }
        match params.non_empty("token") {
            Some(candidate) if self.token.matches(candidate) => Ok(TokenForm::Plain),
            Some(_) => Err(TokenError::Wrong {
                form: TokenForm::Plain,
            }),
            None => Err(TokenError::Missing),
        }
    }

    fn verify_hashed(
        &mut self,
        params: &QueryParams,
        hash: &str,
        now: i64,
    ) -> Result<TokenForm, TokenError> {
        const FORM: TokenForm = TokenForm::Hashed;
        let malformed = |reason| TokenError::Malformed { form: FORM, reason };
        let ts = params.non_empty("ts").ok_or(malformed("ts missing"))?;
        let rnr = params.non_empty("rnr").ok_or(malformed("rnr missing"))?;
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed("hash is not 64 hex digits"));
        }
        let ts_unix = parse_timestamp(ts).ok_or(malformed("unreadable ts"))?;
        let expected = self.token.expected_hash(ts, rnr);
        let received = Zeroizing::new(hash.to_ascii_lowercase());
        if !bool::from(expected.as_bytes().ct_eq(received.as_bytes())) {
            return Err(TokenError::Wrong { form: FORM });
        }
        check_fresh(FORM, ts_unix, now)?;
        let mut digest = [0u8; 32];
        hex::decode_to_slice(received.as_str(), &mut digest)
            .map_err(|_| malformed("hash is not 64 hex digits"))?;
        self.replay
            .admit(ReplayKey::Hashed(digest), FORM, ts_unix, now)?;
        Ok(FORM)
    }

    fn verify_encrypted(
        &mut self,
        ctoken_hex: &str,
        nonce_hex: &str,
        now: i64,
    ) -> Result<TokenForm, TokenError> {
        const FORM: TokenForm = TokenForm::Encrypted;
        let malformed = |reason| TokenError::Malformed { form: FORM, reason };
        let ctoken = hex::decode(ctoken_hex).map_err(|_| malformed("ctoken is not hex"))?;
        let nonce = hex::decode(nonce_hex).map_err(|_| malformed("nonce is not hex"))?;
        let nonce: [u8; NONCE_LEN] = nonce
            .try_into()
            .map_err(|_| malformed("nonce is not 24 bytes"))?;
        if ctoken.len() <= 16 {
            return Err(malformed("ctoken shorter than its tag"));
        }
        let plaintext = crypto::open(&self.token.secretbox_key(), &nonce, &ctoken)
            .map(Zeroizing::new)
            .map_err(|_| TokenError::Wrong { form: FORM })?;
        let text = std::str::from_utf8(&plaintext).map_err(|_| malformed("plaintext not text"))?;
        let (ts, rnr) = text
            .split_once(',')
            .ok_or(malformed("plaintext is not ts,rnr"))?;
        if rnr.trim().is_empty() {
            return Err(malformed("rnr missing"));
        }
        let ts_unix = parse_timestamp(ts).ok_or(malformed("unreadable ts"))?;
        check_fresh(FORM, ts_unix, now)?;
        self.replay
            .admit(ReplayKey::Encrypted(ctoken), FORM, ts_unix, now)?;
        Ok(FORM)
    }
}

fn check_fresh(form: TokenForm, ts_unix: i64, now: i64) -> Result<(), TokenError> {
    let skew_seconds = ts_unix.saturating_sub(now);
    // unsigned_abs: the skew saturates to i64::MIN for a year-0000 ts on a far clock, and
    // i64::MIN has no positive counterpart.
    if skew_seconds.unsigned_abs() > FRESHNESS_SECONDS.unsigned_abs() {
        Err(TokenError::Stale { form, skew_seconds })
    } else {
        Ok(())
    }
}

/// Reads the `ts` formats clients send (A.2) as Unix seconds:
/// `2019-03-05T01:06:53Z` (pynuki, aionuki, openHAB in UTC), RFC 3339 with fraction and
/// offset (go client), basic `20190305T01:06:53Z` (beta forum post), `20190305T010653Z`,
/// a space instead of `T`, offsets `±HH`, `±HHMM`, `±HH:MM`, and no zone (read as UTC).
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, rest) = split_date(text)?;
    let rest = rest.strip_prefix(['T', 't', ' '])?;
    let (clock, zone) = split_clock(rest)?;
    let offset_seconds = parse_zone(zone)?;
    let moment = time::PrimitiveDateTime::new(date, clock).assume_utc();
    Some(moment.unix_timestamp() - offset_seconds)
}

fn digits(text: &str, count: usize) -> Option<(u32, &str)> {
    let head = text.get(..count)?;
    if !head.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((head.parse().ok()?, &text[count..]))
}

fn split_date(text: &str) -> Option<(time::Date, &str)> {
    let (year, rest) = digits(text, 4)?;
    let dashed = rest.starts_with('-');
    let rest = if dashed { &rest[1..] } else { rest };
    let (month, rest) = digits(rest, 2)?;
    let rest = if dashed {
        rest.strip_prefix('-')?
    } else {
        rest
    };
    let (day, rest) = digits(rest, 2)?;
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date =
        time::Date::from_calendar_date(i32::try_from(year).ok()?, month, u8::try_from(day).ok()?)
            .ok()?;
    Some((date, rest))
}

fn split_clock(text: &str) -> Option<(time::Time, &str)> {
    let (hour, rest) = digits(text, 2)?;
    let colon = rest.starts_with(':');
    let rest = if colon { &rest[1..] } else { rest };
    let (minute, rest) = digits(rest, 2)?;
    let rest = if colon { rest.strip_prefix(':')? } else { rest };
    let (second, mut rest) = digits(rest, 2)?;
    if let Some(fraction) = rest.strip_prefix(['.', ',']) {
        let end = fraction
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(fraction.len());
        if end == 0 {
            return None;
        }
        rest = &fraction[end..];
    }
    let clock = time::Time::from_hms(
        u8::try_from(hour).ok()?,
        u8::try_from(minute).ok()?,
        u8::try_from(second).ok()?,
    )
    .ok()?;
    Some((clock, rest))
}

/// Offset east of UTC in seconds.
fn parse_zone(zone: &str) -> Option<i64> {
    if zone.is_empty() || zone.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let sign = match zone.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (hours, rest) = digits(&zone[1..], 2)?;
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    let minutes = if rest.is_empty() {
        0
    } else {
        let (minutes, tail) = digits(rest, 2)?;
        if !tail.is_empty() {
            return None;
        }
        minutes
    };
    if hours > 23 || minutes > 59 {
        return None;
    }
    Some(sign * i64::from(hours * 3600 + minutes * 60))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    const DOC_TS: &str = "2019-03-05T01:06:53Z";
    /// 2019-03-05T01:06:53Z.
    const DOC_UNIX: i64 = 1_551_748_013;
    const DOC_HASH: &str = "f52eb5ce382e356c4239f8fb4d0a87402bb95b7b3124f0762b806ad7d0d01cb6";

    fn verifier() -> TokenVerifier {
        TokenVerifier::new(BridgeToken::new("123456").unwrap())
    }

    #[test]
    fn secret_is_sha256_of_token() {
        let token = BridgeToken::new("123456").unwrap();
        assert_eq!(
            hex::encode(token.secretbox_key().expose()),
            "8d969eef6ecad3c29a3a629280e686cf0c3f5d5a86aff3ca12020c923adc6c92"
        );
        assert_eq!(token.expected_hash(DOC_TS, "4711").as_str(), DOC_HASH);
    }

    #[test]
    fn timestamp_formats() {
        for text in [
            "2019-03-05T01:06:53Z",
            "2019-03-05t01:06:53z",
            "2019-03-05T01:06:53+00:00",
            "2019-03-05T01:06:53.123Z",
            "2019-03-05T02:06:53+01:00",
            "2019-03-05T02:06:53+0100",
            "2019-03-05T02:06:53+01",
            "2019-03-04T20:06:53-05:00",
            "20190305T01:06:53Z",
            "20190305T010653Z",
            "2019-03-05 01:06:53",
            "2019-03-05T01:06:53",
        ] {
            assert_eq!(parse_timestamp(text), Some(DOC_UNIX), "{text}");
        }
        for text in [
            "",
            "2019-03-05",
            "2019-13-05T01:06:53Z",
            "2019-02-30T01:06:53Z",
            "2019-03-05T25:06:53Z",
            "2019-03-05T01:06:53Q",
            "2019-03-05T01:06:53+1",
            "2019-03-05T01:06:53.Z",
            "1551748013",
        ] {
            assert_eq!(parse_timestamp(text), None, "{text}");
        }
    }

    #[test]
    fn token_format_rules() {
        assert!(BridgeToken::new("abc12").is_err());
        assert!(BridgeToken::new("abcdef").is_ok());
        assert!(BridgeToken::new("a".repeat(20)).is_ok());
        assert_eq!(
            BridgeToken::new("a".repeat(21)).unwrap_err(),
            TokenFormatError::Length
        );
        assert_eq!(
            BridgeToken::new("abc&def").unwrap_err(),
            TokenFormatError::Character
        );
    }

    #[test]
    fn generated_tokens_are_accepted_and_differ() {
        let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
        let first = generate_token(&mut rng);
        let second = generate_token(&mut rng);
        assert_eq!(first.len(), GENERATED_TOKEN_LEN);
        assert!(first.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(first, second);
        assert!(BridgeToken::new(first).is_ok());
    }

    #[test]
    fn debug_never_shows_the_token() {
        let token = BridgeToken::new("s3cretTok").unwrap();
        let verifier = TokenVerifier::new(token.clone());
        assert!(!format!("{token:?}").contains("s3cretTok"));
        assert!(!format!("{verifier:?}").contains("s3cretTok"));
    }

    #[test]
    fn plain_token() {
        let mut verifier = verifier();
        let ok = QueryParams::parse("token=123456");
        assert_eq!(verifier.verify(&ok, 0), Ok(TokenForm::Plain));
        assert_eq!(verifier.verify(&ok, 0), Ok(TokenForm::Plain));
        assert_eq!(
            verifier.verify(&QueryParams::parse("token=1234567"), 0),
            Err(TokenError::Wrong {
                form: TokenForm::Plain
            })
        );
        assert_eq!(
            verifier.verify(&QueryParams::parse("token="), 0),
            Err(TokenError::Missing)
        );
    }

    #[test]
    fn hashed_uppercase_hex_is_accepted() {
        let mut verifier = verifier();
        let query = QueryParams::parse(&format!(
            "ts={DOC_TS}&rnr=4711&hash={}",
            DOC_HASH.to_uppercase()
        ));
        assert_eq!(verifier.verify(&query, DOC_UNIX), Ok(TokenForm::Hashed));
    }

    #[test]
    fn hash_in_other_letter_case_is_the_same_request() {
        let mut verifier = verifier();
        let lower = QueryParams::parse(&format!("ts={DOC_TS}&rnr=4711&hash={DOC_HASH}"));
        let upper = QueryParams::parse(&format!(
            "ts={DOC_TS}&rnr=4711&hash={}",
            DOC_HASH.to_uppercase()
        ));
        assert_eq!(verifier.verify(&lower, DOC_UNIX), Ok(TokenForm::Hashed));
        assert_eq!(
            verifier.verify(&upper, DOC_UNIX),
            Err(TokenError::Replayed {
                form: TokenForm::Hashed
            })
        );
    }

    #[test]
    fn a_request_is_remembered_past_its_freshness() {
        let mut verifier = verifier();
        let query = QueryParams::parse(&format!("ts={DOC_TS}&rnr=4711&hash={DOC_HASH}"));
        // First seen 60 s before its ts: fresh until ts + 60 s, 120 s after first sight.
        assert_eq!(
            verifier.verify(&query, DOC_UNIX - 60),
            Ok(TokenForm::Hashed)
        );
        for now in DOC_UNIX - 60..=DOC_UNIX + FRESHNESS_SECONDS {
            assert_eq!(
                verifier.verify(&query, now),
                Err(TokenError::Replayed {
                    form: TokenForm::Hashed
                }),
                "at ts{:+} s",
                now - DOC_UNIX
            );
        }
    }

    /// Found by tests/bridge_fuzz.rs: `abs()` of the saturated skew overflowed.
    #[test]
    fn extreme_skew_is_stale_not_a_panic() {
        let mut verifier = verifier();
        let ts = "0000-01-01T00:00:00Z";
        let hash = verifier.token.expected_hash(ts, "a");
        let query = QueryParams::parse(&format!("ts={ts}&rnr=a&hash={}", hash.as_str()));
        assert_eq!(
            verifier.verify(&query, i64::MAX),
            Err(TokenError::Stale {
                form: TokenForm::Hashed,
                skew_seconds: i64::MIN
            })
        );
    }

    #[test]
    fn hash_is_over_the_received_text() {
        let mut verifier = verifier();
        // Same instant, other spelling: the doc hash no longer matches.
        let query = QueryParams::parse(&format!(
            "ts=2019-03-05T01:06:53%2B00:00&rnr=4711&hash={DOC_HASH}"
        ));
        assert_eq!(
            verifier.verify(&query, DOC_UNIX),
            Err(TokenError::Wrong {
                form: TokenForm::Hashed
            })
        );
    }

    #[test]
    fn replay_cache_refuses_when_full_and_recovers_after_expiry() {
        let token = BridgeToken::new("123456").unwrap();
        let mut verifier = TokenVerifier::with_replay_capacity(token.clone(), 2);
        let hashed = |rnr: u32| {
            let hash = token.expected_hash(DOC_TS, &rnr.to_string());
            QueryParams::parse(&format!("ts={DOC_TS}&rnr={rnr}&hash={}", hash.as_str()))
        };
        assert_eq!(verifier.verify(&hashed(1), DOC_UNIX), Ok(TokenForm::Hashed));
        assert_eq!(verifier.verify(&hashed(2), DOC_UNIX), Ok(TokenForm::Hashed));
        assert_eq!(
            verifier.verify(&hashed(3), DOC_UNIX + 10),
            Err(TokenError::ReplayCacheFull)
        );
        assert_eq!(TokenError::ReplayCacheFull.http_status(), 503);
        // The fresh entries were kept: a replay is still refused, not admitted.
        assert_eq!(
            verifier.verify(&hashed(1), DOC_UNIX + 10),
            Err(TokenError::Replayed {
                form: TokenForm::Hashed
            })
        );
        // After 120 s the old entries expire; ts must be fresh again, so use a new one.
        let later = DOC_UNIX + REPLAY_MEMORY_SECONDS + 1;
        let ts = "2019-03-05T01:08:54Z";
        let hash = token.expected_hash(ts, "9");
        let query = QueryParams::parse(&format!("ts={ts}&rnr=9&hash={}", hash.as_str()));
        assert_eq!(verifier.verify(&query, later), Ok(TokenForm::Hashed));
        assert_eq!(verifier.remembered(), 1);
    }

    #[test]
    fn stray_hashed_parts_are_malformed() {
        let mut verifier = verifier();
        for query in [
            format!("ts={DOC_TS}&token=123456"),
            "rnr=4711".to_owned(),
            format!("ts={DOC_TS}&rnr=4711"),
        ] {
            assert!(
                matches!(
                    verifier.verify(&QueryParams::parse(&query), DOC_UNIX),
                    Err(TokenError::Malformed {
                        form: TokenForm::Hashed,
                        ..
                    })
                ),
                "{query}"
            );
        }
    }

    #[test]
    fn replace_token_switches_secret() {
        let mut verifier = verifier();
        verifier.replace_token(BridgeToken::new("abcdef").unwrap());
        assert!(verifier
            .verify(&QueryParams::parse("token=123456"), 0)
            .is_err());
        assert_eq!(
            verifier.verify(&QueryParams::parse("token=abcdef"), 0),
            Ok(TokenForm::Plain)
        );
    }
}
