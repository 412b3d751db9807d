//! The Bridge API when devices misbehave, with the simulator in the same process so that
//! faults can be injected: out of range, a link dropped mid-command, a jammed motor, a busy
//! device. Every request ends within the deadline with a clear answer.

mod common;

use std::time::{Duration, Instant};

use serde_json::Value;

use common::core::{one_lock_bridge, ONE_LOCK_NUKI_ID as NUKI_ID, ONE_LOCK_TOKEN as TOKEN};
use nuki_edge::ble::sim::{Fault, SimControl};
use nuki_edge::http::listener::ListenerLimits;

const DEADLINE: Duration = Duration::from_secs(4);

async fn serve() -> (String, SimControl, nuki_edge::ble::DeviceAddress) {
    let bridge = one_lock_bridge(
        Duration::from_millis(300),
        DEADLINE,
        ListenerLimits::default(),
    )
    .await;
    (bridge.base, bridge.control, bridge.device)
}

async fn action(base: &str, code: u8) -> (u16, Value, Duration) {
    let started = Instant::now();
    let response = reqwest::get(format!(
        "{base}/lockAction?nukiId={NUKI_ID}&action={code}&token={TOKEN}"
    ))
    .await
    .expect("request");
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        started.elapsed(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_end_in_clear_answers_within_the_deadline() {
    let (base, control, address) = serve().await;

    let (status, body, _) = action(&base, 1).await;
    assert_eq!(
        (status, body["success"].clone()),
        (200, Value::Bool(true)),
        "{body}"
    );

    // Link dropped mid-command: unlock is repeatable, so the gateway reconnects and finishes.
    control
        .inject_fault(&address, Fault::DropLinkMidCommand)
        .expect("exists");
    let (status, body, took) = action(&base, 2).await;
    assert_eq!(
        (status, body["success"].clone()),
        (200, Value::Bool(true)),
        "{body}"
    );
    // A guard against hanging, not a speed test: far beyond the deadline means it hung.
    assert!(took < 2 * DEADLINE, "answered after {took:?}");

    // A jammed motor and a busy device are reported as such.
    control.inject_fault(&address, Fault::Jam).expect("exists");
    let (status, body, _) = action(&base, 1).await;
    assert_eq!(status, 200);
    assert_eq!(body["success"], false);
    assert!(
        body["error"]
            .as_str()
            .is_some_and(|e| e.contains("motor blocked")),
        "{body}"
    );
    control.inject_fault(&address, Fault::Busy).expect("exists");
    let (status, body, _) = action(&base, 1).await;
    assert_eq!(status, 503, "busy: clients retry on 503: {body}");

    // Out of range: a clear error before the deadline, never a hang.
    control.set_in_range(&address, false).expect("exists");
    tokio::time::sleep(Duration::from_secs(3)).await; // the idle link closes
    let (status, body, took) = action(&base, 1).await;
    assert_eq!(status, 200);
    assert_eq!(body["success"], false, "{body}");
    let error = body["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("unreachable") || error.contains("deadline"),
        "{body}"
    );
    assert!(took < 2 * DEADLINE, "never hangs: answered after {took:?}");
}
