//! Tolerant query-string parsing for the Bridge API (A.10 of the compatibility notes).
//!
//! Real clients send query strings no strict parser accepts: pynuki joins `k=v` pairs by hand,
//! so callback URLs arrive with raw `:` and `/`; ioBroker encodes only part of a URL and starts
//! with an empty parameter (`?&ts=…`); a JS library sends a dummy `?1&…`; spellings differ
//! (`noWait`/`nowait`, `nonce`/`nounce`). Rules:
//!
//! * Pairs are split on `&`, each pair on its **first** `=` (so `=` inside a value survives).
//!   Empty segments are skipped; a segment without `=` is a key with an empty value.
//! * Keys match ASCII case-insensitively (no two Bridge parameters differ only by case).
//! * Values are percent-decoded leniently: a `%` not followed by two hex digits stays as is,
//!   and `+` stays `+` (no client form-encodes spaces, but RFC 3339 offsets such as `+00:00`
//!   arrive unencoded and must keep their sign for the hashed token).
//! * Duplicate keys: the **first** occurrence wins, later ones are ignored.
//! * Typed getters treat an empty value (`deviceType=`) like a missing one.
//!
//! Getter errors are [`QueryError`]s, which the router answers with HTTP 400 and
//! [`QueryError::body`]. They never echo the value received, so a mistyped secret cannot reach
//! a log or a response.

use serde_json::{json, Value};

/// Longest callback URL the Bridge API accepts (A.6).
pub const MAX_CALLBACK_URL_LEN: usize = 254;

/// Callback slots are the ids 0, 1 and 2 (A.6).
pub const CALLBACK_SLOTS: u8 = 3;

/// The parameters of one request, in arrival order.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct QueryParams {
    pairs: Vec<(String, String)>,
}

/// Values may be secrets (token, hash, ctoken): show only the keys.
impl std::fmt::Debug for QueryParams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryParams")
            .field(
                "keys",
                &self.pairs.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// A parameter that is missing or has a value of the wrong shape (→ HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryError {
    #[error("missing parameter {name}")]
    Missing { name: &'static str },
    #[error("invalid parameter {name}: expected {expected}")]
    Invalid {
        name: &'static str,
        expected: &'static str,
    },
    #[error("invalid url: {reason}")]
    InvalidUrl { reason: &'static str },
}

impl QueryError {
    /// The JSON body of the 400 answer.
    pub fn body(&self) -> Value {
        error_body(&self.to_string())
    }
}

/// `{"success":false,"error":message}`: the body of every 4xx answer we produce ourselves.
pub fn error_body(message: &str) -> Value {
    json!({ "success": false, "error": message })
}

impl QueryParams {
    /// Parses the query part of a URI (with or without its leading `?`). Never fails.
    pub fn parse(query: &str) -> Self {
        let query = query.strip_prefix('?').unwrap_or(query);
        let pairs = query
            .split('&')
            .filter(|segment| !segment.is_empty())
            .map(|segment| match segment.split_once('=') {
                Some((key, value)) => (percent_decode(key), percent_decode(value)),
                None => (percent_decode(segment), String::new()),
            })
            .collect();
        Self { pairs }
    }

    /// The first value of `key` (case-insensitive), possibly empty.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(name, _)| name.eq_ignore_ascii_case(key))
            .map(|(_, value)| value.as_str())
    }

    /// The first value of `key` unless it is missing or empty.
    pub fn non_empty(&self, key: &str) -> Option<&str> {
        self.get(key).filter(|value| !value.is_empty())
    }

    /// Whether `key` appears with a non-empty value.
    pub fn has(&self, key: &str) -> bool {
        self.non_empty(key).is_some()
    }

    /// A required non-empty text parameter.
    pub fn required(&self, name: &'static str) -> Result<&str, QueryError> {
        self.non_empty(name).ok_or(QueryError::Missing { name })
    }

    /// `nukiId`: the decimal 32-bit Nuki ID. A negative value is read as the two's complement
    /// of an id ≥ 2³¹, because openHAB parses ids as signed 32-bit integers (B.4).
    pub fn nuki_id(&self) -> Result<u32, QueryError> {
        const NAME: &str = "nukiId";
        let text = self.required(NAME)?;
        let value: i64 = text.trim().parse().map_err(|_| QueryError::Invalid {
            name: NAME,
            expected: "a decimal 32-bit integer",
        })?;
        if let Ok(id) = u32::try_from(value) {
            Ok(id)
        } else if let Ok(signed) = i32::try_from(value) {
            Ok(signed as u32)
        } else {
            Err(QueryError::Invalid {
                name: NAME,
                expected: "a decimal 32-bit integer",
            })
        }
    }

    /// `deviceType`: missing or empty means 0 (ioBroker omits it for Smart Locks 1/2).
    /// The value is not checked against the known types here; the device lookup does that.
    pub fn device_type(&self) -> Result<u8, QueryError> {
        self.small_number("deviceType", 0)
    }

    /// `action` of `/lockAction` (range checked by the action mapping, A.3).
    pub fn action(&self) -> Result<u8, QueryError> {
        const NAME: &str = "action";
        let text = self.required(NAME)?;
        text.trim().parse().map_err(|_| QueryError::Invalid {
            name: NAME,
            expected: "a small integer",
        })
    }

    /// `nowait` in any letter case (`noWait` from pynuki/HA), `0`/`1`/`true`/`false`;
    /// missing or empty means blocking (false), as the Bridge documents.
    pub fn no_wait(&self) -> Result<bool, QueryError> {
        match self.non_empty("nowait") {
            None => Ok(false),
            Some(text) => parse_flag(text).ok_or(QueryError::Invalid {
                name: "nowait",
                expected: "0, 1, true or false",
            }),
        }
    }

    /// `enable` of `/configAuth`: exactly 0 or 1 (A.4).
    pub fn enable(&self) -> Result<bool, QueryError> {
        const NAME: &str = "enable";
        match self.required(NAME)?.trim() {
            "0" => Ok(false),
            "1" => Ok(true),
            _ => Err(QueryError::Invalid {
                name: NAME,
                expected: "0 or 1",
            }),
        }
    }

    /// An optional non-negative integer with a default (`offset`, `count`, `scope`).
    pub fn u32_or(&self, name: &'static str, default: u32) -> Result<u32, QueryError> {
        match self.non_empty(name) {
            None => Ok(default),
            Some(text) => text.trim().parse().map_err(|_| QueryError::Invalid {
                name,
                expected: "a non-negative integer",
            }),
        }
    }

    /// `id` of `/callback/remove`: a slot number 0–2.
    pub fn callback_id(&self) -> Result<u8, QueryError> {
        const NAME: &str = "id";
        let invalid = QueryError::Invalid {
            name: NAME,
            expected: "a callback id 0, 1 or 2",
        };
        let id: u8 = self
            .required(NAME)?
            .trim()
            .parse()
            .map_err(|_| invalid.clone())?;
        if id < CALLBACK_SLOTS {
            Ok(id)
        } else {
            Err(invalid)
        }
    }

    /// `url` of `/callback/add`: decoded once more if it still looks encoded (some clients
    /// encode twice), then checked by [`parse_callback_url`]. Returned as received (clients
    /// find their callback in `/callback/list` by the text they registered).
    pub fn callback_url(&self) -> Result<String, QueryError> {
        let raw = self.required("url")?;
        let url = if starts_with_ignore_case(raw, "http%3a") {
            percent_decode(raw)
        } else {
            raw.to_owned()
        };
        parse_callback_url(&url)?;
        Ok(url)
    }

    fn small_number(&self, name: &'static str, default: u8) -> Result<u8, QueryError> {
        match self.non_empty(name) {
            None => Ok(default),
            Some(text) => text.trim().parse().map_err(|_| QueryError::Invalid {
                name,
                expected: "a small integer",
            }),
        }
    }
}

fn parse_flag(text: &str) -> Option<bool> {
    let text = text.trim();
    if text == "1" || text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text == "0" || text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Checks a callback URL: at most 254 characters, no whitespace or control characters,
/// `http://` only, and what a URL parser accepts with a host (a port ≤ 65535, a valid IPv4 or
/// bracketed IPv6 address). The checks before the parser exist because it is lenient where
/// receivers are not: it silently drops tabs and newlines and reads `http:///x` as host `x`.
pub fn parse_callback_url(text: &str) -> Result<url::Url, QueryError> {
    let invalid = |reason| QueryError::InvalidUrl { reason };
    if text.chars().count() > MAX_CALLBACK_URL_LEN {
        return Err(invalid("longer than 254 characters"));
    }
    if text.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid("contains whitespace or control characters"));
    }
    let after_scheme = strip_prefix_ignore_case(text, "http://")
        .ok_or(invalid("only http:// urls are supported"))?;
    if after_scheme.starts_with(['/', '?', '#', ':', '@']) || after_scheme.is_empty() {
        return Err(invalid("no host"));
    }
    let parsed = url::Url::parse(text).map_err(|error| invalid(parse_error_reason(error)))?;
    match parsed.host_str() {
        Some(host) if !host.is_empty() => Ok(parsed),
        _ => Err(invalid("no host")),
    }
}

fn parse_error_reason(error: url::ParseError) -> &'static str {
    match error {
        url::ParseError::EmptyHost => "no host",
        url::ParseError::InvalidPort => "invalid port",
        url::ParseError::InvalidIpv4Address => "invalid IPv4 address",
        url::ParseError::InvalidIpv6Address => "invalid IPv6 address",
        url::ParseError::InvalidDomainCharacter | url::ParseError::IdnaError => "invalid host",
        _ => "not a valid URL",
    }
}

/// `text` without `prefix` (ASCII, any letter case); never splits a character.
fn strip_prefix_ignore_case<'a>(text: &'a str, prefix: &str) -> Option<&'a str> {
    let head = text.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &text[prefix.len()..])
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    strip_prefix_ignore_case(text, prefix).is_some()
}

/// Decodes `%XX` escapes; anything else (including malformed escapes and `+`) stays as is.
/// Bytes that do not form UTF-8 become U+FFFD.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        let byte = bytes[index];
        if byte == b'%' {
            let high = bytes.get(index + 1).and_then(|b| hex_value(*b));
            let low = bytes.get(index + 2).and_then(|b| hex_value(*b));
            if let (Some(high), Some(low)) = (high, low) {
                out.push(high << 4 | low);
                index += 3;
                continue;
            }
        }
        out.push(byte);
        index += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        b'A'..=b'F' => Some(byte - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_callback_url_survives_unencoded() {
        let query =
            QueryParams::parse("url=http://192.168.1.10:8123/api/webhook/abc-123&token=123456");
        assert_eq!(
            query.callback_url().unwrap(),
            "http://192.168.1.10:8123/api/webhook/abc-123"
        );
        assert_eq!(query.get("token"), Some("123456"));
    }

    #[test]
    fn partly_and_fully_encoded_urls_decode_to_the_same() {
        let expected = "http://192.168.1.2:51988/api/nuki.0";
        for raw in [
            "http%3A%2F/192.168.1.2:51988/api/nuki.0",
            "http%3A%2F%2F192.168.1.2%3A51988%2Fapi%2Fnuki.0",
            "http%253A%252F%252F192.168.1.2%253A51988%252Fapi%252Fnuki.0",
        ] {
            let query = QueryParams::parse(&format!("?url={raw}&token=x"));
            assert_eq!(query.callback_url().unwrap(), expected, "{raw}");
        }
    }

    #[test]
    fn equals_sign_inside_a_value_is_kept() {
        let query = QueryParams::parse("url=http://oh:8080/nuki/bcb?callbackId=lock1&token=t");
        assert_eq!(
            query.callback_url().unwrap(),
            "http://oh:8080/nuki/bcb?callbackId=lock1"
        );
    }

    #[test]
    fn empty_and_dummy_segments_are_harmless() {
        let query = QueryParams::parse("?&ts=2024-01-01T12:00:00Z&&rnr=1");
        assert_eq!(query.get("ts"), Some("2024-01-01T12:00:00Z"));
        assert_eq!(query.get("rnr"), Some("1"));
        let query = QueryParams::parse("1&token=abc");
        assert_eq!(query.get("1"), Some(""));
        assert_eq!(query.get("token"), Some("abc"));
    }

    #[test]
    fn first_duplicate_wins() {
        let query = QueryParams::parse("nukiId=1&nukiId=2&NUKIID=3");
        assert_eq!(query.nuki_id().unwrap(), 1);
    }

    #[test]
    fn plus_and_malformed_escapes_stay_literal() {
        let query = QueryParams::parse("ts=2024-01-01T12:00:00+00:00&x=100%&y=%zz%4");
        assert_eq!(query.get("ts"), Some("2024-01-01T12:00:00+00:00"));
        assert_eq!(query.get("x"), Some("100%"));
        assert_eq!(query.get("y"), Some("%zz%4"));
        let query = QueryParams::parse("ts=2024-01-01T12%3A00%3A00%2B01%3A00");
        assert_eq!(query.get("ts"), Some("2024-01-01T12:00:00+01:00"));
    }

    #[test]
    fn no_wait_spellings_and_values() {
        for (raw, expected) in [
            ("noWait=1", true),
            ("nowait=1", true),
            ("NOWAIT=true", true),
            ("noWait=TRUE", true),
            ("nowait=0", false),
            ("noWait=false", false),
            ("nowait=", false),
            ("token=x", false),
        ] {
            assert_eq!(QueryParams::parse(raw).no_wait(), Ok(expected), "{raw}");
        }
        assert_eq!(
            QueryParams::parse("nowait=2").no_wait(),
            Err(QueryError::Invalid {
                name: "nowait",
                expected: "0, 1, true or false"
            })
        );
    }

    #[test]
    fn device_type_defaults_to_zero() {
        assert_eq!(QueryParams::parse("nukiId=5").device_type(), Ok(0));
        assert_eq!(QueryParams::parse("deviceType=").device_type(), Ok(0));
        assert_eq!(QueryParams::parse("deviceType=2").device_type(), Ok(2));
        assert!(QueryParams::parse("deviceType=x").device_type().is_err());
        assert!(QueryParams::parse("deviceType=300").device_type().is_err());
    }

    #[test]
    fn nuki_id_accepts_openhab_signed_form() {
        assert_eq!(
            QueryParams::parse("nukiId=4294967295").nuki_id(),
            Ok(u32::MAX)
        );
        assert_eq!(QueryParams::parse("nukiId=-1").nuki_id(), Ok(u32::MAX));
        assert_eq!(
            QueryParams::parse("nukiId=-2147483648").nuki_id(),
            Ok(0x8000_0000)
        );
        assert!(QueryParams::parse("nukiId=4294967296").nuki_id().is_err());
        assert!(QueryParams::parse("nukiId=1A2B").nuki_id().is_err());
        assert_eq!(
            QueryParams::parse("deviceType=0").nuki_id(),
            Err(QueryError::Missing { name: "nukiId" })
        );
    }

    #[test]
    fn callback_url_rules() {
        let check = |raw: &str| QueryParams::parse(&format!("url={raw}")).callback_url();
        assert!(check("http://h/x").is_ok());
        assert!(check("HTTP://h:80").is_ok());
        assert!(matches!(
            check("https://h/x"),
            Err(QueryError::InvalidUrl { .. })
        ));
        assert!(matches!(
            check("http:///x"),
            Err(QueryError::InvalidUrl { .. })
        ));
        assert!(matches!(
            check("http://a b"),
            Err(QueryError::InvalidUrl { .. })
        ));
        let long = format!("http://h/{}", "a".repeat(MAX_CALLBACK_URL_LEN - 9));
        assert!(check(&long).is_ok());
        let too_long = format!("{long}a");
        assert_eq!(
            check(&too_long),
            Err(QueryError::InvalidUrl {
                reason: "longer than 254 characters"
            })
        );
        assert_eq!(
            QueryParams::parse("").callback_url(),
            Err(QueryError::Missing { name: "url" })
        );
    }

    #[test]
    fn non_ascii_near_the_scheme_is_refused_not_sliced() {
        for raw in ["abcdef%C3%A9x", "http%C3%A9", "httpé://h/", "é", "http:/é"] {
            assert!(
                matches!(
                    QueryParams::parse(&format!("url={raw}")).callback_url(),
                    Err(QueryError::InvalidUrl { .. })
                ),
                "{raw}"
            );
        }
        assert!(QueryParams::parse("url=http://h/%C3%A9")
            .callback_url()
            .is_ok());
    }

    #[test]
    fn urls_the_parser_rejects_are_invalid_with_a_reason() {
        for (raw, reason) in [
            ("http://[::1", "invalid IPv6 address"),
            ("http://h:99999/", "invalid port"),
            ("http://999.999.999.999/", "invalid IPv4 address"),
            ("http://:80/", "no host"),
            ("http://@h/", "no host"),
        ] {
            assert_eq!(
                parse_callback_url(raw).map(drop),
                Err(QueryError::InvalidUrl { reason }),
                "{raw}"
            );
        }
        assert!(parse_callback_url("http://[::1]:8080/cb").is_ok());
    }

    #[test]
    fn callback_id_and_enable() {
        assert_eq!(QueryParams::parse("id=2").callback_id(), Ok(2));
        assert!(QueryParams::parse("id=3").callback_id().is_err());
        assert!(QueryParams::parse("id=-1").callback_id().is_err());
        assert_eq!(QueryParams::parse("enable=0").enable(), Ok(false));
        assert!(QueryParams::parse("enable=true").enable().is_err());
        assert_eq!(QueryParams::parse("").u32_or("count", 100), Ok(100));
        assert_eq!(QueryParams::parse("count=5").u32_or("count", 100), Ok(5));
    }

    #[test]
    fn error_body_shape_and_no_value_echo() {
        let error = QueryParams::parse("action=secretvalue")
            .action()
            .unwrap_err();
        let body = error.body();
        assert_eq!(body["success"], json!(false));
        let text = body["error"].as_str().unwrap();
        assert!(text.contains("action"));
        assert!(!text.contains("secretvalue"));
    }

    #[test]
    fn debug_shows_keys_only() {
        let query = QueryParams::parse("token=hunter2secret&nukiId=1");
        let shown = format!("{query:?}");
        assert!(shown.contains("token"));
        assert!(!shown.contains("hunter2secret"));
    }
}
