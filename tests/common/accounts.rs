//! Accounts for tests: the owner created the way an installer does it (the CLI, with a
//! password file), API tokens from the CLI, and a client of the management API that
//! authenticates with a bearer token or a session cookie.

use std::path::PathBuf;
use std::process::Output;

use reqwest::header::{HeaderMap, AUTHORIZATION, CONTENT_TYPE, COOKIE};
use reqwest::Method;
use serde_json::Value;

use super::cli::{run_guarded, stderr, stdout};
use super::config::TestConfig;

pub const OWNER_EMAIL: &str = "owner@building.example";
pub const OWNER_PASSWORD: &str = "Correct horse battery staple 7";
/// The session cookie's name.
pub const SESSION_COOKIE: &str = "nuki_edge_session";

/// Writes `password` (with a trailing newline, as editors leave it) into a file of mode 0600
/// in the config's directory.
pub fn password_file(config: &TestConfig, password: &str) -> PathBuf {
    use std::os::unix::fs::OpenOptionsExt;
    let path = config
        .dir()
        .join(format!("password-{}.txt", next_file_number()));
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
        .expect("password file");
    std::io::Write::write_all(&mut file, format!("{password}\n").as_bytes())
        .expect("write the password file");
    path
}

fn next_file_number() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// `nuki-edge account create-owner --email EMAIL --password-file …` (daemon stopped or
/// running), as run.
pub fn run_create_owner(config: &TestConfig, email: &str, password: &str) -> Output {
    let file = password_file(config, password);
    let file = file.to_str().expect("temporary paths are UTF-8");
    run_guarded(&[
        "account",
        "create-owner",
        "--config",
        config.arg(),
        "--email",
        email,
        "--password-file",
        file,
    ])
}

/// `nuki-edge account token --email EMAIL --name NAME`, as run.
pub fn run_issue_token(config: &TestConfig, email: &str, name: &str) -> Output {
    run_guarded(&[
        "account",
        "token",
        "--config",
        config.arg(),
        "--email",
        email,
        "--name",
        name,
    ])
}

/// An API token for the account `email`, from the CLI.
pub fn issue_token(config: &TestConfig, email: &str, name: &str) -> String {
    let output = run_issue_token(config, email, name);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let token = stdout(&output).trim().to_owned();
    assert!(
        token.starts_with("nea_"),
        "a token on stdout, got {token:?}"
    );
    token
}

/// Creates the owner ([`OWNER_EMAIL`], [`OWNER_PASSWORD`]) with the CLI and answers an API
/// token for it; works with the daemon stopped or running.
pub fn create_owner(config: &TestConfig) -> String {
    let output = run_create_owner(config, OWNER_EMAIL, OWNER_PASSWORD);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    issue_token(config, OWNER_EMAIL, "tests")
}

/// A reqwest client that sends `Authorization: Bearer <token>` with every request.
pub fn authorized_client(token: &str) -> reqwest::Client {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        format!("Bearer {token}").parse().expect("a header value"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("HTTP client")
}

/// How a client authenticates.
#[derive(Clone)]
pub enum Auth {
    Nobody,
    Bearer(String),
    /// The session token, sent as the cookie.
    Session(String),
}

/// An answer: status, headers and the body as JSON (`null` when empty or not JSON).
#[derive(Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

/// A client of the management API under `base` (`http://127.0.0.1:PORT`).
#[derive(Clone)]
pub struct ApiClient {
    base: String,
    auth: Auth,
    http: reqwest::Client,
}

impl ApiClient {
    pub fn new(base: &str, auth: Auth) -> Self {
        Self {
            base: base.trim_end_matches('/').to_owned(),
            auth,
            http: reqwest::Client::new(),
        }
    }

    pub fn bearer(base: &str, token: &str) -> Self {
        Self::new(base, Auth::Bearer(token.to_owned()))
    }

    pub fn with_auth(&self, auth: Auth) -> Self {
        Self {
            auth,
            ..self.clone()
        }
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.send(Method::POST, path, Some(body)).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> Answer {
        self.send(Method::PATCH, path, Some(body)).await
    }

    pub async fn delete(&self, path: &str) -> Answer {
        self.send(Method::DELETE, path, None).await
    }

    pub async fn delete_with(&self, path: &str, body: Value) -> Answer {
        self.send(Method::DELETE, path, Some(body)).await
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Answer {
        let bytes = body.map(|body| body.to_string().into_bytes());
        self.send_raw(method, path, bytes, "application/json").await
    }

    /// Any bytes as the body, with `content_type`.
    pub async fn send_raw(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        content_type: &str,
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base));
        request = match &self.auth {
            Auth::Nobody => request,
            Auth::Bearer(token) => request.header(AUTHORIZATION, format!("Bearer {token}")),
            Auth::Session(token) => request.header(COOKIE, format!("{SESSION_COOKIE}={token}")),
        };
        if let Some(body) = body {
            request = request.header(CONTENT_TYPE, content_type).body(body);
        }
        let response = request.send().await.expect("the API answers");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("the whole body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Answer {
            status,
            headers,
            body,
        }
    }

    /// Logs in; the answer and the session token from its `Set-Cookie`.
    pub async fn login(
        &self,
        email: &str,
        password: &str,
        totp: Option<&str>,
    ) -> (Answer, Option<String>) {
        let mut body = serde_json::json!({ "email": email, "password": password });
        if let Some(code) = totp {
            body["totp"] = code.into();
        }
        let answer = self
            .with_auth(Auth::Nobody)
            .post("/api/v1/session", body)
            .await;
        let token = session_cookie(&answer.headers).map(|cookie| cookie.value);
        (answer, token)
    }
}

/// A `Set-Cookie` of the session cookie, taken apart.
#[derive(Debug, Clone)]
pub struct SetCookie {
    pub value: String,
    /// The attributes as written (`HttpOnly`, `SameSite=Strict`, `Max-Age=…`).
    pub attributes: Vec<String>,
}

impl SetCookie {
    pub fn has(&self, attribute: &str) -> bool {
        self.attributes
            .iter()
            .any(|a| a.eq_ignore_ascii_case(attribute))
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find_map(|a| {
            let (key, value) = a.split_once('=')?;
            key.trim()
                .eq_ignore_ascii_case(name)
                .then_some(value.trim())
        })
    }
}

pub fn session_cookie(headers: &HeaderMap) -> Option<SetCookie> {
    headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .find_map(|text| {
            let mut parts = text.split(';').map(str::trim);
            let (name, value) = parts.next()?.split_once('=')?;
            (name == SESSION_COOKIE).then(|| SetCookie {
                value: value.to_owned(),
                attributes: parts.map(str::to_owned).collect(),
            })
        })
}
