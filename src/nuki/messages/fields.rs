//! Serde helpers: byte strings as upper-case hex, secrets as a marker, and the single-value
//! message variants as one named field so that every message's `fields` is a JSON object.

use serde::ser::SerializeMap;
use serde::Serializer;

use super::super::codec::DateTime;
use super::super::enums::StatusCode;
use super::REDACTED;

pub fn hex_bytes<T: AsRef<[u8]>, S: Serializer>(
    bytes: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&hex::encode_upper(bytes.as_ref()))
}

pub fn redacted<T, S: Serializer>(_secret: &T, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(REDACTED)
}

fn one_field<T: serde::Serialize + ?Sized, S: Serializer>(
    name: &'static str,
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let mut map = serializer.serialize_map(Some(1))?;
    map.serialize_entry(name, value)?;
    map.end()
}

pub fn public_key<S: Serializer>(key: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
    one_field("public_key", &hex::encode_upper(key), serializer)
}

pub fn nonce<S: Serializer>(nonce: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
    one_field("nonce", &hex::encode_upper(nonce), serializer)
}

pub fn authenticator<S: Serializer>(value: &[u8; 32], serializer: S) -> Result<S::Ok, S::Error> {
    one_field("authenticator", &hex::encode_upper(value), serializer)
}

pub fn authorization_info<S: Serializer>(value: &u8, serializer: S) -> Result<S::Ok, S::Error> {
    one_field("security_pin_set", value, serializer)
}

pub fn status<S: Serializer>(value: &StatusCode, serializer: S) -> Result<S::Ok, S::Error> {
    one_field("status", value, serializer)
}

pub fn time<S: Serializer>(value: &DateTime, serializer: S) -> Result<S::Ok, S::Error> {
    one_field("time", value, serializer)
}
