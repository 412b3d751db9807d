//! Regressions for defects an adversarial test found in the Bridge API: callback URLs that
//! crashed the handler or slipped past the duplicate check, a hashed token replayable once,
//! unlimited token guessing, and removed callbacks that kept firing. Everything runs over real
//! HTTP against the real router, served with the client's address as the daemon serves it.

mod common;

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use nuki_edge::ble::sim::{RadioModel, SimTransport};
use nuki_edge::devices::fleet::{Fleet, FleetConfig};
use nuki_edge::http::callbacks::{Callbacks, DeliveryPolicy};
use nuki_edge::http::guard::AuthGuardPolicy;
use nuki_edge::http::query::QueryParams;
use nuki_edge::http::server::BridgeApi;
use nuki_edge::http::token::{BridgeToken, TokenError, TokenForm, TokenVerifier};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const TOKEN: &str = "hardtoken42";
/// Generous guard against a hang; never a speed requirement.
const HANG_GUARD: Duration = Duration::from_secs(20);

struct Served {
    base: String,
    api: Arc<BridgeApi>,
}

async fn serve() -> Served {
    let (transport, _control) = SimTransport::new(Vec::new(), RadioModel::default());
    let fleet = Fleet::start(Arc::new(transport), FleetConfig::default(), Vec::new());
    let gateway = common::core::gateway_over(fleet, Duration::from_secs(4));
    let api = common::core::bridge_api(
        gateway,
        TOKEN,
        std::env::temp_dir().join("nuki-edge-hardening-auth-window"),
    );
    let base = format!(
        "http://{}",
        common::core::serve_like_the_daemon(api.router()).await
    );
    Served { base, api }
}

/// A client whose requests come from `local` (any 127.x address reaches the loopback server),
/// so that tests can play several clients.
fn client_from(local: Ipv4Addr) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(IpAddr::V4(local))
        .timeout(HANG_GUARD)
        .build()
        .expect("client")
}

async fn get_with(client: &reqwest::Client, url: &str) -> (u16, Option<String>, Value) {
    let response = client.get(url).send().await.expect("the server answers");
    let status = response.status().as_u16();
    let retry_after = response
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body = response.json().await.unwrap_or(Value::Null);
    (status, retry_after, body)
}

async fn get(url: &str) -> (u16, Value) {
    let (status, _, body) = get_with(&client_from(Ipv4Addr::LOCALHOST), url).await;
    (status, body)
}

// --- 1. callback URLs --------------------------------------------------------------------

#[tokio::test]
async fn non_ascii_callback_url_gets_a_json_refusal_not_a_dropped_connection() {
    let served = serve().await;
    // `é` straddles byte 7, where the old code sliced; `%0A` would have forged a log line.
    for url in ["abcdef%C3%A9x", "abcdef%C3%A9%0A2026-01-01%20INFO%20forged"] {
        let (status, body) = get(&format!(
            "{}/callback/add?url={url}&token={TOKEN}",
            served.base
        ))
        .await;
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(body["success"], false, "{url}: {body}");
        assert!(body["error"].is_string(), "{url}: {body}");
    }
    let (status, _) = get(&format!("{}/info?token={TOKEN}", served.base)).await;
    assert_eq!(status, 200, "the server lives on");
}

#[tokio::test]
async fn urls_the_parser_rejects_are_refused_with_the_bridge_error() {
    let served = serve().await;
    for url in [
        "http://[::1",
        "http://[::1/cb",
        "http://127.0.0.1:99999/cb",
        "http://999.999.999.999/cb",
        "http%3A%2F%2F999.999.999.999%2Fcb",
    ] {
        let (status, body) = get(&format!(
            "{}/callback/add?url={url}&token={TOKEN}",
            served.base
        ))
        .await;
        assert_eq!(status, 400, "{url}: {body}");
        assert_eq!(body["success"], false, "{url}: {body}");
        assert!(
            body["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("invalid url")),
            "{url}: {body}"
        );
    }
    let (_, listed) = get(&format!("{}/callback/list?token={TOKEN}", served.base)).await;
    assert_eq!(listed["callbacks"], json!([]), "nothing was registered");
}

#[tokio::test]
async fn spelling_variants_of_a_registered_url_are_duplicates() {
    let served = serve().await;
    let add = |url: &str| format!("{}/callback/add?url={url}&token={TOKEN}", served.base);
    let (_, body) = get(&add("http://cb.example/hook")).await;
    assert_eq!(body, json!({ "success": true }));
    for variant in [
        "HTTP://cb.example/hook",
        "http://CB.Example/hook",
        "http://cb.example:80/hook",
        "http://user:secret@cb.example/hook",
        "http://user@cb.example:80/hook",
    ] {
        let (status, body) = get(&add(variant)).await;
        assert_eq!(status, 200, "{variant}");
        assert_eq!(
            body,
            json!({ "success": false, "message": "callback already added" }),
            "{variant}"
        );
    }
    let (_, listed) = get(&format!("{}/callback/list?token={TOKEN}", served.base)).await;
    assert_eq!(
        listed["callbacks"],
        json!([{ "id": 0, "url": "http://cb.example/hook" }])
    );
}

// --- 2. replay of hashed tokens ------------------------------------------------------------

const NOW: i64 = 1_551_748_013; // 2019-03-05T01:06:53Z

fn hashed_query(token: &str, ts: &str, rnr: &str) -> QueryParams {
    let hash = hex::encode(Sha256::digest(format!("{ts},{rnr},{token}").as_bytes()));
    QueryParams::parse(&format!("ts={ts}&rnr={rnr}&hash={hash}"))
}

#[test]
fn token_from_the_future_is_never_accepted_twice_while_fresh() {
    let mut verifier = TokenVerifier::new(BridgeToken::new(TOKEN).expect("token"));
    // ts = now + 60 s: fresh from now − … until now + 120 s.
    let query = hashed_query(TOKEN, "2019-03-05T01:07:53Z", "4711");
    assert_eq!(verifier.verify(&query, NOW), Ok(TokenForm::Hashed));
    for later in NOW..=NOW + 200 {
        let replay = verifier.verify(&query, later);
        assert!(
            matches!(
                replay,
                Err(TokenError::Replayed { .. }) | Err(TokenError::Stale { .. })
            ),
            "replay at now+{} s: {replay:?}",
            later - NOW
        );
    }
}

#[test]
fn token_from_the_past_is_never_accepted_twice_while_fresh() {
    let mut verifier = TokenVerifier::new(BridgeToken::new(TOKEN).expect("token"));
    // ts = now − 60 s, first seen at the last moment it is fresh.
    let query = hashed_query(TOKEN, "2019-03-05T01:05:53Z", "17");
    assert_eq!(verifier.verify(&query, NOW), Ok(TokenForm::Hashed));
    for later in NOW - 60..=NOW + 200 {
        let replay = verifier.verify(&query, later);
        assert!(replay.is_err(), "replay at {later}: {replay:?}");
    }
}

#[test]
fn moving_the_comma_between_ts_and_rnr_is_a_replay() {
    let mut verifier = TokenVerifier::new(BridgeToken::new(TOKEN).expect("token"));
    // Both hash "2019-03-05T01:06:53,123Z,R,<token>": the same signed text.
    let first = hashed_query(TOKEN, "2019-03-05T01:06:53,123Z", "R");
    let shifted = hashed_query(TOKEN, "2019-03-05T01:06:53", "123Z,R");
    assert_eq!(first.get("hash"), shifted.get("hash"));
    assert_eq!(verifier.verify(&first, NOW), Ok(TokenForm::Hashed));
    assert_eq!(
        verifier.verify(&shifted, NOW),
        Err(TokenError::Replayed {
            form: TokenForm::Hashed
        })
    );
}

#[tokio::test]
async fn a_replayed_hashed_request_is_refused_over_http() {
    let served = serve().await;
    let ts = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .expect("format");
    let hash = hex::encode(Sha256::digest(format!("{ts},99,{TOKEN}").as_bytes()));
    let url = format!("{}/info?ts={ts}&rnr=99&hash={hash}", served.base);
    assert_eq!(get(&url).await.0, 200);
    assert_eq!(get(&url).await.0, 401);
}

// --- 3. repeated 401s ----------------------------------------------------------------------

const GUESSER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const NEIGHBOUR: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

#[tokio::test]
async fn a_client_that_keeps_guessing_is_slowed_down_and_others_are_not() {
    let served = serve().await;
    let defaults = AuthGuardPolicy::default();
    let guesser = client_from(GUESSER);
    let wrong = format!("{}/info?token=wrongtoken", served.base);
    for attempt in 1..=defaults.max_failures {
        let (status, _, body) = get_with(&guesser, &wrong).await;
        assert_eq!(status, 401, "failure {attempt}: {body}");
    }
    let (status, retry_after, body) = get_with(&guesser, &wrong).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(
        body,
        json!({ "success": false, "error": "too many failed authentications; retry later" })
    );
    let seconds: u64 = retry_after.expect("Retry-After").parse().expect("seconds");
    assert!(
        (1..=defaults.window.as_secs()).contains(&seconds),
        "{seconds}"
    );
    // While locked out even the right token is refused: a 200 would confirm a guess.
    let right = format!("{}/info?token={TOKEN}", served.base);
    assert_eq!(get_with(&guesser, &right).await.0, 429);
    // Another client is not affected.
    assert_eq!(get_with(&client_from(NEIGHBOUR), &right).await.0, 200);
}

#[tokio::test]
async fn correct_tokens_never_count_and_the_lockout_ends_with_its_window() {
    let served = serve().await;
    served.api.set_auth_guard_policy(AuthGuardPolicy {
        max_failures: 3,
        window: Duration::from_millis(800),
        ..AuthGuardPolicy::default()
    });
    let client = client_from(GUESSER);
    let right = format!("{}/info?token={TOKEN}", served.base);
    let wrong = format!("{}/info?token=wrongtoken", served.base);
    for _ in 0..20 {
        assert_eq!(get_with(&client, &right).await.0, 200);
    }
    for _ in 0..2 {
        assert_eq!(get_with(&client, &wrong).await.0, 401);
        assert_eq!(get_with(&client, &right).await.0, 200, "successes are free");
    }
    assert_eq!(get_with(&client, &wrong).await.0, 401, "the third failure");
    assert_eq!(get_with(&client, &wrong).await.0, 429);
    assert_eq!(get_with(&client, &right).await.0, 429);
    // Waiting out the window (plus a margin) unlocks the client; this sleeps to pass the
    // server's window, it measures nothing.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(get_with(&client, &right).await.0, 200);
    assert_eq!(
        get_with(&client, &wrong).await.0,
        401,
        "counting starts over"
    );
}

// --- 4. removed callbacks ------------------------------------------------------------------

#[derive(Default)]
struct Received {
    bodies: Mutex<Vec<Value>>,
}

/// A receiver that fails (500) every body whose `phase` is "before", so that those are
/// retried, and accepts the rest.
async fn receiver() -> (String, Arc<Received>) {
    async fn hook(State(received): State<Arc<Received>>, Json(body): Json<Value>) -> StatusCode {
        let fail = body["phase"] == "before";
        received
            .bodies
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(body);
        if fail {
            StatusCode::INTERNAL_SERVER_ERROR
        } else {
            StatusCode::OK
        }
    }
    let received = Arc::new(Received::default());
    let router = Router::new()
        .route("/hook", post(hook))
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, router).await });
    (url, received)
}

fn snapshot(received: &Received) -> Vec<Value> {
    received
        .bodies
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
}

async fn wait_until(received: &Received, done: impl Fn(&[Value]) -> bool) {
    tokio::time::timeout(HANG_GUARD, async {
        while !done(&snapshot(received)) {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the receiver got what it waited for");
}

fn retrying_policy() -> DeliveryPolicy {
    DeliveryPolicy {
        attempts: 1000,
        first_pause: Duration::from_millis(5),
        timeout: Duration::from_secs(2),
    }
}

#[tokio::test]
async fn removal_stops_pending_retries_at_once() {
    let (url, received) = receiver().await;
    let callbacks = Callbacks::new(retrying_policy());
    assert_eq!(callbacks.add(url.clone()), Ok(0));
    callbacks.publish(&json!({ "phase": "before" }));
    wait_until(&received, |bodies| bodies.len() >= 3).await;
    callbacks.remove(0).expect("removed");
    let at_removal = snapshot(&received).len();
    // Retries were due every few tens of ms; a second is many of them.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let later = snapshot(&received).len();
    assert!(
        later <= at_removal + 1,
        "{} POSTs after the removal (one may have been on the wire)",
        later - at_removal
    );
}

#[tokio::test]
async fn remove_then_add_keeps_one_ordered_queue_per_url() {
    let (url, received) = receiver().await;
    let callbacks = Callbacks::new(retrying_policy());
    assert_eq!(callbacks.add(url.clone()), Ok(0));
    callbacks.publish(&json!({ "phase": "before" }));
    wait_until(&received, |bodies| bodies.len() >= 2).await;
    callbacks.remove(0).expect("removed");
    assert_eq!(callbacks.add(url.clone()), Ok(0));
    for sequence in 0..5 {
        callbacks.publish(&json!({ "phase": "after", "sequence": sequence }));
    }
    wait_until(&received, |bodies| {
        bodies.iter().filter(|b| b["phase"] == "after").count() == 5
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let bodies = snapshot(&received);
    let first_after = bodies
        .iter()
        .position(|b| b["phase"] == "after")
        .expect("delivered");
    assert!(
        bodies[first_after..].iter().all(|b| b["phase"] == "after"),
        "the removed registration's retries interleave with the new one: {bodies:?}"
    );
    let sequences: Vec<&Value> = bodies[first_after..]
        .iter()
        .map(|b| &b["sequence"])
        .collect();
    assert_eq!(
        sequences,
        [0, 1, 2, 3, 4].map(|n| json!(n)).iter().collect::<Vec<_>>()
    );
}
