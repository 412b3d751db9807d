//! A client of the Bridge API over real HTTP, as home-automation systems call it: GET
//! requests with the token in the query, in any of its three forms.

use std::net::SocketAddr;

use serde_json::Value;
use sha2::{Digest, Sha256};

#[derive(Clone)]
pub struct BridgeClient {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl BridgeClient {
    pub fn new(address: SocketAddr, token: &str) -> Self {
        Self {
            base: format!("http://{address}"),
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    /// `http://127.0.0.1:PORT`
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.base)
    }

    /// `token=…`, the plain form.
    pub fn plain_token(&self) -> String {
        format!("token={}", self.token)
    }

    /// `ts=…&rnr=…&hash=…`: SHA-256 over `ts,rnr,token`.
    pub fn hashed_token(&self, ts: &str, rnr: u16) -> String {
        let hash = hex::encode(Sha256::digest(format!("{ts},{rnr},{}", self.token)));
        format!("ts={ts}&rnr={rnr}&hash={hash}")
    }

    /// `ctoken=…&nonce=…`: `ts,rnr` sealed with SHA-256(token) as the secretbox key.
    pub fn encrypted_token(&self, ts: &str, rnr: u16, nonce: [u8; 24]) -> String {
        let key: [u8; 32] = Sha256::digest(&self.token).into();
        let sealed = nuki_edge::nuki::crypto::seal(
            &nuki_edge::nuki::crypto::SharedKey::from_bytes(key),
            &nonce,
            format!("{ts},{rnr}").as_bytes(),
        );
        format!(
            "ctoken={}&nonce={}",
            hex::encode(sealed),
            hex::encode(nonce)
        )
    }

    /// GET exactly this path and query; the status and the body as JSON (`null` when the
    /// body is not JSON).
    pub async fn get(&self, path_and_query: &str) -> (u16, Value) {
        let (status, text) = self.get_text(path_and_query).await;
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    /// GET with the plain token appended to `path_and_query`.
    pub async fn get_authorized(&self, path_and_query: &str) -> (u16, Value) {
        let separator = if path_and_query.contains('?') {
            '&'
        } else {
            '?'
        };
        self.get(&format!(
            "{path_and_query}{separator}{}",
            self.plain_token()
        ))
        .await
    }

    /// GET; the status and the body as text.
    pub async fn get_text(&self, path_and_query: &str) -> (u16, String) {
        let response = self
            .http
            .get(self.url(path_and_query))
            .send()
            .await
            .expect("HTTP request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("HTTP body");
        (status, text)
    }
}

/// The Bridge's `ts` format (UTC, seconds) for now plus `offset_seconds`.
pub fn bridge_ts(offset_seconds: i64) -> String {
    let now = time::OffsetDateTime::now_utc() + time::Duration::seconds(offset_seconds);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        now.second()
    )
}

/// `text` percent-encoded for a query value (a callback URL handed to `/callback/add`).
pub fn urlencode(text: &str) -> String {
    text.bytes()
        .map(|byte| match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (byte as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}
