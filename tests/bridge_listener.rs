//! The HTTP side as the daemon serves it: `nowait` accepts only work the device's queue took,
//! HEAD never acts, every refusal below the handlers has a JSON body, and the listener caps
//! connections and closes slow or idle ones.

mod common;

use std::time::Duration;

use common::bridge_client::urlencode;
use common::core::{one_lock_bridge, ONE_LOCK_NUKI_ID as NUKI_ID, ONE_LOCK_TOKEN as TOKEN};
use nuki_edge::http::listener::ListenerLimits;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Generous guard against a hang; never a speed requirement.
const HANG_GUARD: Duration = Duration::from_secs(30);
const DEADLINE: Duration = Duration::from_secs(4);

async fn get(base: &str, path_and_query: &str) -> (u16, Value) {
    let response = reqwest::get(format!("{base}{path_and_query}"))
        .await
        .expect("request");
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

async fn lock_actions_logged(base: &str) -> Vec<Value> {
    let (_, log) = get(base, &format!("/log?count=500&token={TOKEN}")).await;
    log.as_array()
        .map(|lines| {
            lines
                .iter()
                .filter(|line| line["type"] == "lock-action")
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nowait_accepts_only_what_the_queue_took_and_reports_every_outcome() {
    let bridge = one_lock_bridge(
        Duration::from_millis(100),
        DEADLINE,
        ListenerLimits::default(),
    )
    .await;
    let requests = (0..40).map(|index| {
        let base = bridge.base.clone();
        let action = 1 + (index % 2);
        async move {
            get(
                &base,
                &format!("/lockAction?nukiId={NUKI_ID}&action={action}&nowait=1&token={TOKEN}"),
            )
            .await
        }
    });
    let answers = futures::future::join_all(requests).await;
    let accepted = answers
        .iter()
        .filter(|(status, body)| *status == 200 && body["success"] == true)
        .count();
    let refused = answers.iter().filter(|(status, _)| *status == 503).count();
    assert_eq!(accepted + refused, 40, "{answers:?}");
    assert!(accepted >= 1, "the queue took some: {answers:?}");
    assert!(
        refused >= 1,
        "more than the queue holds at once cannot all be accepted: {answers:?}"
    );
    for (_, body) in answers.iter().filter(|(status, _)| *status == 503) {
        assert_eq!(body["success"], false);
        assert!(body["error"].is_string(), "{body}");
    }
    // Every request, accepted or refused, ends up in /log with how it ended.
    let logged = tokio::time::timeout(HANG_GUARD, async {
        loop {
            let logged = lock_actions_logged(&bridge.base).await;
            if logged.len() >= 40 {
                return logged;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await
    .expect("every outcome was logged");
    let succeeded = logged
        .iter()
        .filter(|line| line["result"] == "success")
        .count();
    assert!(succeeded <= accepted, "{logged:?}");
    assert!(succeeded >= 1, "{logged:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn head_never_acts_and_wrong_methods_get_json_errors() {
    let bridge = one_lock_bridge(
        Duration::from_millis(50),
        DEADLINE,
        ListenerLimits::default(),
    )
    .await;
    let before = bridge.control.snapshot(&bridge.device).expect("snapshot");
    let client = reqwest::Client::new();
    let head = client
        .head(format!(
            "{}/lockAction?nukiId={NUKI_ID}&action=1&token={TOKEN}",
            bridge.base
        ))
        .send()
        .await
        .expect("HEAD");
    assert_eq!(head.status().as_u16(), 405);
    assert_eq!(
        head.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("GET")
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = bridge.control.snapshot(&bridge.device).expect("snapshot");
    assert_eq!(after.lock_state, before.lock_state, "HEAD moved the bolt");
    assert_eq!(lock_actions_logged(&bridge.base).await.len(), 0);

    let post = client
        .post(format!("{}/list?token={TOKEN}", bridge.base))
        .send()
        .await
        .expect("POST");
    assert_eq!(post.status().as_u16(), 405);
    let body: Value = post.json().await.expect("JSON body");
    assert_eq!(body["success"], false);
    assert!(body["error"].is_string(), "{body}");

    let huge = client
        .get(format!("{}/info?token={TOKEN}", bridge.base))
        .body(vec![b'x'; 200 * 1024])
        .send()
        .await
        .expect("oversized body");
    assert_eq!(huge.status().as_u16(), 413);
    let body: Value = huge.json().await.expect("JSON body");
    assert!(body["error"].is_string(), "{body}");
}

/// Reads until the server closes the connection; what it sent before.
async fn read_until_closed(stream: &mut TcpStream) -> String {
    let mut received = Vec::new();
    tokio::time::timeout(HANG_GUARD, stream.read_to_end(&mut received))
        .await
        .expect("the server closed the connection")
        .ok();
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_refused_politely_and_slow_or_idle_ones_closed() {
    // Long enough that the three connections below are surely open together when the fourth
    // arrives, even on a loaded machine; the test only waits for them to be closed.
    let limits = ListenerLimits {
        max_connections: 3,
        header_read_timeout: Duration::from_secs(3),
    };
    let bridge = one_lock_bridge(Duration::from_millis(50), DEADLINE, limits).await;

    // Slowloris: headers that never end. The connection is closed, not kept forever.
    let mut slow = TcpStream::connect(bridge.address).await.expect("connect");
    slow.write_all(b"GET /info HTTP/1.1\r\nHost: gateway\r\nX-Slow: ")
        .await
        .expect("write");
    let mut idle = TcpStream::connect(bridge.address).await.expect("connect");
    let mut kept_alive = TcpStream::connect(bridge.address).await.expect("connect");
    kept_alive
        .write_all(format!("GET /info?token={TOKEN} HTTP/1.1\r\nHost: gateway\r\n\r\n").as_bytes())
        .await
        .expect("write");

    // Three connections are open: a fourth is answered 503 with the JSON error and closed.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut fourth = TcpStream::connect(bridge.address).await.expect("connect");
    let refusal = read_until_closed(&mut fourth).await;
    assert!(refusal.starts_with("HTTP/1.1 503"), "{refusal}");
    let body = refusal.split("\r\n\r\n").nth(1).unwrap_or_default();
    let body: Value = serde_json::from_str(body).expect("JSON body");
    assert_eq!(body["success"], false);
    assert!(body["error"].is_string());

    // The slow, the silent and the kept-alive connection are all closed by the server.
    read_until_closed(&mut slow).await;
    read_until_closed(&mut idle).await;
    let answered = read_until_closed(&mut kept_alive).await;
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");

    // Their slots are free again.
    let (status, _) = get(&bridge.base, &format!("/info?token={TOKEN}")).await;
    assert_eq!(status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_the_http_parser_refuses_gets_the_json_error_body_too() {
    let bridge = one_lock_bridge(
        Duration::from_millis(50),
        DEADLINE,
        ListenerLimits::default(),
    )
    .await;
    let cases: [(&[u8], &str); 3] = [
        (b"GARBAGE\r\n\r\n", "HTTP/1.1 400"),
        (
            b"GET /info?token=\"quoted\" HTTP/1.1\r\nHost: gateway\r\n\r\n",
            "HTTP/1.1 400",
        ),
        (
            &[
                b"GET /info HTTP/1.1\r\nHost: gateway\r\nX-Big: ".as_slice(),
                &[b'a'; 40 * 1024],
                b"\r\n\r\n",
            ]
            .concat(),
            "HTTP/1.1 431",
        ),
    ];
    for (request, status) in cases {
        let mut stream = TcpStream::connect(bridge.address).await.expect("connect");
        let _ = stream.write_all(request).await;
        let answer = read_until_closed(&mut stream).await;
        assert!(answer.starts_with(status), "{answer}");
        let (head, body) = answer.split_once("\r\n\r\n").expect("head and body");
        assert!(head.contains("content-type: application/json"), "{head}");
        let body: Value = serde_json::from_str(body).expect("JSON body");
        assert_eq!(body["success"], false);
        assert!(body["error"].is_string(), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_nowait_action_reaches_the_callbacks() {
    let bridge = one_lock_bridge(
        Duration::from_millis(50),
        DEADLINE,
        ListenerLimits::default(),
    )
    .await;
    let receiver = common::callback_receiver::CallbackReceiver::start().await;
    let (status, _) = get(
        &bridge.base,
        &format!(
            "/callback/add?url={}&token={TOKEN}",
            urlencode(receiver.url())
        ),
    )
    .await;
    assert_eq!(status, 200);
    bridge
        .control
        .inject_fault(&bridge.device, nuki_edge::ble::sim::Fault::Jam)
        .expect("device exists");
    let (status, body) = get(
        &bridge.base,
        &format!("/lockAction?nukiId={NUKI_ID}&action=1&nowait=1&token={TOKEN}"),
    )
    .await;
    assert_eq!((status, body["success"].clone()), (200, Value::Bool(true)));
    let failed = receiver
        .wait_for(HANG_GUARD, |body| body["success"] == false)
        .await;
    assert_eq!(failed["nukiId"], NUKI_ID);
    assert!(
        failed["error"]
            .as_str()
            .is_some_and(|error| error.contains("motor blocked")),
        "{failed}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_a_request_id() {
    let bridge = one_lock_bridge(
        Duration::from_millis(50),
        DEADLINE,
        ListenerLimits::default(),
    )
    .await;
    let client = reqwest::Client::new();
    let id = |response: &reqwest::Response| {
        response
            .headers()
            .get("x-request-id")
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    let first = client
        .get(format!("{}/info?token={TOKEN}", bridge.base))
        .send()
        .await
        .expect("request");
    let second = client
        .get(format!("{}/nowhere", bridge.base))
        .send()
        .await
        .expect("request");
    let (first, second) = (id(&first), id(&second));
    assert!(
        first.is_some() && second.is_some() && first != second,
        "{first:?} {second:?}"
    );
    let echoed = client
        .get(format!("{}/info?token={TOKEN}", bridge.base))
        .header("x-request-id", "ha-4711")
        .send()
        .await
        .expect("request");
    assert_eq!(
        id(&echoed).as_deref(),
        Some("ha-4711"),
        "a client's own id is kept"
    );
}
