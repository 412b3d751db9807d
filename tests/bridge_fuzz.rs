//! Fuzzing the Bridge API's query parsing and token checks without `cargo fuzz` (which needs
//! nightly): property tests over the pure parts, and a bounded, seeded storm of hostile
//! requests over real HTTP against the real server with a simulated lock behind it.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use nuki_edge::ble::sim::{RadioModel, SimDeviceSpec, SimKind, SimTransport};
use nuki_edge::devices::fleet::{Fleet, FleetConfig};
use nuki_edge::http::guard::AuthGuardPolicy;
use nuki_edge::http::query::{parse_callback_url, QueryError, QueryParams, MAX_CALLBACK_URL_LEN};
use nuki_edge::http::server::BridgeApi;
use nuki_edge::http::token::{parse_timestamp, BridgeToken, TokenError, TokenVerifier};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::Value;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TOKEN: &str = "fuzzToken_77";

// --- pure parts ----------------------------------------------------------------------------

/// Pieces that real and hostile clients put in query strings.
const FRAGMENTS: &[&str] = &[
    "&",
    "=",
    "?",
    "%",
    "%%",
    "%0",
    "%00",
    "%0A",
    "%0D",
    "%25",
    "%26",
    "%3D",
    "%3A",
    "%2F",
    "%C3",
    "%A9",
    "%C3%A9",
    "%FF",
    "%C3%28",
    "%F0%9F%98%80",
    "+",
    "é",
    "😀",
    "\u{0}",
    "\n",
    " ",
    "token",
    "TOKEN",
    "ts",
    "rnr",
    "hash",
    "ctoken",
    "nonce",
    "nounce",
    "nukiId",
    "deviceType",
    "action",
    "noWait",
    "url",
    "id",
    "enable",
    "offset",
    "count",
    "http://",
    "HTTP%3A%2F%2F",
    "http%253A",
    "[",
    "]",
    "::1",
    ":",
    "@",
    "/",
    "#",
    "99999",
    "-1",
    "4294967295",
    "2147483648",
    "0",
    "1",
    "2019-03-05T01:06:53Z",
    "20190305T010653Z",
    "+01:00",
    ",",
    ".",
    "999.999.999.999",
    "127.0.0.1",
    TOKEN,
];

fn hostile_query() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        prop::collection::vec(prop::sample::select(FRAGMENTS), 0..40)
            .prop_map(|parts| parts.concat()),
    ]
}

/// Every getter, so that none of them can panic; errors are typed by their signatures, and
/// the checks here pin what each may say.
fn exercise_getters(params: &QueryParams) {
    for key in ["token", "url", "", "%", "nukiId"] {
        let _ = params.get(key);
        let _ = params.has(key);
    }
    match params.nuki_id() {
        Ok(_) | Err(QueryError::Missing { .. }) | Err(QueryError::Invalid { .. }) => {}
        Err(other) => panic!("nukiId: {other:?}"),
    }
    let _ = params.device_type();
    let _ = params.action();
    let _ = params.no_wait();
    let _ = params.enable();
    let _ = params.u32_or("offset", 0);
    if let Ok(id) = params.callback_id() {
        assert!(id < 3);
    }
    match params.callback_url() {
        Ok(url) => {
            assert!(url.chars().count() <= MAX_CALLBACK_URL_LEN);
            assert!(parse_callback_url(&url).is_ok());
        }
        Err(QueryError::Missing { name }) => assert_eq!(name, "url"),
        Err(QueryError::InvalidUrl { .. }) => {}
        Err(other) => panic!("url: {other:?}"),
    }
}

fn check_refusal(error: &TokenError) {
    assert!(matches!(error.http_status(), 401 | 503), "{error:?}");
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains(TOKEN), "the token leaks: {shown}");
}

fn signed_hash(ts: &str, rnr: &str) -> String {
    hex::encode(Sha256::digest(format!("{ts},{rnr},{TOKEN}").as_bytes()))
}

proptest! {
    // Deterministic and without a regressions file: a failure found here becomes a unit
    // test with its literal input (see token.rs, extreme_skew_is_stale_not_a_panic).
    #![proptest_config(ProptestConfig {
        cases: 512,
        failure_persistence: None,
        rng_algorithm: proptest::test_runner::RngAlgorithm::ChaCha,
        rng_seed: proptest::test_runner::RngSeed::Fixed(0x00B1_D6E5),
        ..ProptestConfig::default()
    })]

    #[test]
    fn query_parsing_never_panics(query in hostile_query()) {
        let params = QueryParams::parse(&query);
        exercise_getters(&params);
        let _ = format!("{params:?}");
    }

    #[test]
    fn token_checks_never_panic_and_refuse_with_typed_errors(
        query in hostile_query(),
        now in any::<i64>(),
    ) {
        let mut verifier = TokenVerifier::new(BridgeToken::new(TOKEN).expect("token"));
        if let Err(error) = verifier.verify(&QueryParams::parse(&query), now) {
            check_refusal(&error);
        }
    }

    /// Correctly signed hashed tokens reach the freshness and replay checks, which random
    /// text never does: any `ts` text, any clock.
    #[test]
    fn signed_tokens_at_any_clock_never_panic(
        ts in prop_oneof![
            Just("2019-03-05T01:06:53Z".to_owned()),
            Just("0000-01-01T00:00:00Z".to_owned()),
            Just("9999-12-31T23:59:59-23:59".to_owned()),
            "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}([.,][0-9]{1,12})?(Z|[+-][0-9]{2}(:?[0-9]{2})?)?",
            any::<String>(),
        ],
        rnr in "[ -~]{0,20}",
        now in prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>(), -100_000_000_000i64..400_000_000_000],
    ) {
        let mut verifier = TokenVerifier::new(BridgeToken::new(TOKEN).expect("token"));
        let query = format!(
            "ts={}&rnr={}&hash={}",
            ts.replace(['&', '%'], ""),
            rnr.replace(['&', '%'], ""),
            signed_hash(&ts.replace(['&', '%'], ""), &rnr.replace(['&', '%'], "")),
        );
        let params = QueryParams::parse(&query);
        match verifier.verify(&params, now) {
            Ok(_) => {
                let second = verifier.verify(&params, now);
                prop_assert!(second.is_err(), "accepted twice");
            }
            Err(error) => check_refusal(&error),
        }
        let _ = parse_timestamp(&ts);
    }
}

// --- over real HTTP ------------------------------------------------------------------------

const NUKI_ID: u32 = 0x5500_0F0F;
/// Hostile requests sent by the storm, not counting the checks around it.
const REQUESTS: usize = 2_000;
/// Per request; generous, it only turns a hang into a failure.
const HANG_GUARD: Duration = Duration::from_secs(20);

struct Served {
    address: SocketAddr,
    api: Arc<BridgeApi>,
    _window: tempfile::TempDir,
}

async fn serve() -> Served {
    let mut spec = SimDeviceSpec::new("sim:fuzz", "Fuzz Door", NUKI_ID, SimKind::SmartLock4);
    spec.motor_time = Duration::from_millis(5);
    let _device = spec.address.clone();
    let radio = RadioModel {
        connection_interval: Duration::from_millis(2),
        connect_time: Duration::from_millis(5),
        connect_timeout: Duration::from_millis(500),
        ..RadioModel::default()
    };
    let (transport, control) = SimTransport::new(vec![spec.clone()], radio);
    let credentials = common::core::pair_sim_device(&transport, &control, &spec).await;
    let fleet = Fleet::start(
        Arc::new(transport),
        FleetConfig::default(),
        vec![credentials],
    );
    let gateway = common::core::gateway_over(fleet, Duration::from_secs(4));
    // `/auth` answers at once from an open window instead of waiting 30 s for one.
    let window = tempfile::tempdir().expect("tempdir");
    let window_file = window.path().join("auth-window");
    std::fs::write(&window_file, i64::MAX.to_string()).expect("window");
    let api = common::core::bridge_api(gateway, TOKEN, window_file);
    let address = common::core::serve_like_the_daemon(api.router()).await;
    Served {
        address,
        api,
        _window: window,
    }
}

struct Answer {
    status: u16,
    body: Vec<u8>,
}

impl Answer {
    fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// One request with a raw request target (any bytes), on its own connection from `local`.
async fn send(server: SocketAddr, local: &str, target: &[u8]) -> Answer {
    let exchange = async {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind(format!("{local}:0").parse().expect("local address"))
            .expect("bind");
        let mut stream = socket.connect(server).await.expect("connect");
        let mut request = b"GET ".to_vec();
        request.extend_from_slice(target);
        request.extend_from_slice(b" HTTP/1.1\r\nHost: fuzz\r\nConnection: close\r\n\r\n");
        stream.write_all(&request).await.expect("write");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await.expect("read");
        parse_answer(&raw)
    };
    tokio::time::timeout(HANG_GUARD, exchange)
        .await
        .unwrap_or_else(|_| panic!("no answer to {}", String::from_utf8_lossy(target)))
}

fn parse_answer(raw: &[u8]) -> Answer {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {head}"));
    let mut body = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Answer { status, body }
}

fn dechunk(mut chunked: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    while let Some(line_end) = chunked.windows(2).position(|w| w == b"\r\n") {
        let size_text = String::from_utf8_lossy(&chunked[..line_end]);
        let size = usize::from_str_radix(size_text.trim(), 16).expect("chunk size");
        if size == 0 {
            break;
        }
        let start = line_end + 2;
        body.extend_from_slice(&chunked[start..start + size]);
        chunked = &chunked[start + size + 2..];
    }
    body
}

const ENDPOINTS: &[&str] = &[
    "/info",
    "/list",
    "/lockState",
    "/lockAction",
    "/lock",
    "/unlock",
    "/callback/add",
    "/callback/list",
    "/callback/remove",
    "/auth",
    "/configAuth",
    "/log",
    "/clearlog",
    "/unpair",
    "/fwupdate",
    "/reboot",
    "/factoryReset",
];

const ODD_PATHS: &[&str] = &[
    "/",
    "//info",
    "/info/",
    "/INFO",
    "/info%00",
    "/%2e%2e/list",
    "/callback",
    "/callback/add/",
    "/lockAction;x=1",
    "/info/../list",
    "/%FF",
    "/%C3%28",
    "/nope",
    "*",
];

const KEYS: &[&str] = &[
    "token",
    "ts",
    "rnr",
    "hash",
    "ctoken",
    "nonce",
    "nounce",
    "nukiId",
    "deviceType",
    "action",
    "noWait",
    "nowait",
    "url",
    "id",
    "enable",
    "offset",
    "count",
    "scope",
    "",
    "%74oken",
    "NUKIID",
    "%00",
];

const ODD_VALUES: &[&str] = &[
    "",
    "%",
    "%%",
    "%ZZ",
    "%0",
    "%00",
    "%FF%FE",
    "%C3%28",
    "%E2%82",
    "%0D%0AX-Forged:%201",
    "%2526",
    "%C3%A9",
    "%F0%9F%98%80",
    "-1",
    "-0",
    "+1",
    "1e3",
    "0x10",
    "99999999999999999999999",
    "4294967295",
    "-2147483648",
    "true",
    "TRUE",
    "2",
    "255",
    "256",
    "2019-03-05T01:06:53Z",
    "9999-12-31T23:59:59Z",
    "0000-01-01T00:00:00%2B23:59",
    "http://127.0.0.1:9/cb",
    "http%3A%2F%2F127.0.0.1%3A9%2Fcb",
    "HTTP://user:pw@127.0.0.1:9/cb",
    "http://[::1",
    "http://h:99999/",
    "http://999.999.999.999/",
    "abcdef%C3%A9x",
    "abcdef%C3%A9%0Aforged",
    "http:///x",
    "http://a%20b/",
];

fn random_value(rng: &mut ChaCha8Rng) -> String {
    match rng.gen_range(0..10) {
        0 => TOKEN.to_owned(),
        1 => NUKI_ID.to_string(),
        2 => rng.gen::<i64>().to_string(),
        3 => "A".repeat(rng.gen_range(255..6_000)),
        4 => hex::encode(rng.gen::<[u8; 32]>()),
        // Printable ASCII, encoded where a client's encoder would.
        5 => (0..rng.gen_range(0..30))
            .map(|_| rng.gen_range(b'!'..=b'~'))
            .map(|b| {
                if is_valid_target(&[b]) {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect(),
        _ => ODD_VALUES[rng.gen_range(0..ODD_VALUES.len())].to_owned(),
    }
}

fn random_key(rng: &mut ChaCha8Rng) -> String {
    let key = KEYS[rng.gen_range(0..KEYS.len())];
    if rng.gen_bool(0.2) {
        key.to_ascii_uppercase()
    } else {
        key.to_owned()
    }
}

/// A request target: mostly a real endpoint, usually with the right token (so the handlers
/// behind the token check are reached too), then a pile of hostile parameters, some keys
/// repeated, sometimes raw bytes no encoder would produce.
fn random_target(rng: &mut ChaCha8Rng) -> Vec<u8> {
    let path = if rng.gen_bool(0.85) {
        ENDPOINTS[rng.gen_range(0..ENDPOINTS.len())]
    } else {
        ODD_PATHS[rng.gen_range(0..ODD_PATHS.len())]
    };
    let mut target = path.as_bytes().to_vec();
    if path == "*" {
        return target;
    }
    let mut pairs: Vec<Vec<u8>> = Vec::new();
    if rng.gen_bool(0.6) {
        pairs.push(format!("token={TOKEN}").into_bytes());
    }
    if rng.gen_bool(0.3) {
        pairs.push(format!("nukiId={NUKI_ID}").into_bytes());
    }
    for _ in 0..rng.gen_range(0..8) {
        let pair = match rng.gen_range(0..10) {
            0 => random_key(rng),
            1 => String::new(),
            _ => format!("{}={}", random_key(rng), random_value(rng)),
        };
        pairs.push(pair.into_bytes());
    }
    if rng.gen_bool(0.1) {
        // Non-ASCII and invalid UTF-8 bytes, unencoded.
        let raw: Vec<u8> = (0..rng.gen_range(1..6))
            .map(|_| rng.gen_range(0x80..=0xFF))
            .collect();
        pairs.push([b"url=http://h/".as_slice(), &raw].concat());
    }
    if !pairs.is_empty() || rng.gen_bool(0.5) {
        target.push(b'?');
    }
    target.extend_from_slice(&pairs.join(&b'&'));
    target
}

/// Whether every byte may appear in a request target (RFC 3986: unreserved, sub-delims,
/// `:`, `@`, `/`, `?`, `%`). A request with any other byte (raw non-ASCII, `"`, `{`, `|`…)
/// never reaches the handlers: the HTTP parser refuses its request line with a 400 (to which
/// the listener gives the same JSON error body as every other answer).
fn is_valid_target(target: &[u8]) -> bool {
    target
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@/?%".contains(b))
}

/// Checks one answer; returns false for a request the HTTP parser refused before the handlers.
fn check(target: &[u8], answer: &Answer) -> bool {
    let shown = String::from_utf8_lossy(target);
    let shown = shown.get(..200).unwrap_or(&shown);
    let refused_by_parser = !is_valid_target(target) && answer.status == 400;
    assert!(
        answer.status < 500,
        "{} for {shown}: {}",
        answer.status,
        String::from_utf8_lossy(&answer.body)
    );
    let body = answer.json();
    if !(200..300).contains(&answer.status) {
        assert!(
            body.as_ref().is_some_and(|b| b["error"].is_string()),
            "{} without a JSON error for {shown}: {:?}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
    } else {
        assert!(body.is_some(), "a 2xx that is not JSON for {shown}");
    }
    !refused_by_parser
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_never_break_the_server() {
    let served = serve().await;
    // The storm is about parsing and handlers; the lockout gets its own phase below.
    served.api.set_auth_guard_policy(AuthGuardPolicy {
        max_failures: u32::MAX,
        ..AuthGuardPolicy::default()
    });
    let mut rng = ChaCha8Rng::seed_from_u64(0x00B1_D6E5);
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    let mut refused_by_http = 0;
    for _ in 0..REQUESTS {
        let target = random_target(&mut rng);
        let answer = send(served.address, "127.0.0.1", &target).await;
        if check(&target, &answer) {
            *statuses.entry(answer.status).or_default() += 1;
        } else {
            refused_by_http += 1;
        }
    }
    println!(
        "{REQUESTS} hostile requests: {refused_by_http} refused by the HTTP layer, \
         the rest answered by status {statuses:?}"
    );
    assert!(
        refused_by_http < REQUESTS / 4,
        "most requests reach the API: {refused_by_http}"
    );
    assert!(
        statuses.get(&200).is_some_and(|n| *n > REQUESTS / 10),
        "the storm reached the handlers: {statuses:?}"
    );
    assert!(statuses.contains_key(&400) && statuses.contains_key(&401));

    // Under the default limits a guesser ends up locked out, with a JSON answer too.
    served.api.set_auth_guard_policy(AuthGuardPolicy::default());
    let guesses = AuthGuardPolicy::default().max_failures as usize + 1;
    let mut last = None;
    for _ in 0..guesses {
        last = Some(send(served.address, "127.0.0.3", b"/info?token=guess1").await);
    }
    let last = last.expect("sent");
    assert!(check(b"/info?token=guess1", &last));
    assert_eq!(last.status, 429);

    // And the server still answers.
    let info = format!("/info?token={TOKEN}");
    let answer = send(served.address, "127.0.0.2", info.as_bytes()).await;
    assert_eq!(answer.status, 200);
    assert!(answer.json().is_some_and(|b| b["ids"]["hardwareId"] == 7));
}
