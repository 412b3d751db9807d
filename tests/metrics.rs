//! `GET /metrics` on a running daemon after a few actions, parsed by a Prometheus
//! text-format parser: the families an installer's dashboard needs, with their labels, and
//! the optional bearer token.

mod common;

use std::collections::HashSet;

use common::config::{ConfigBuilder, SimDeviceEntry};
use common::fixture::paired_daemon;
use prometheus_parse::{Sample, Scrape, Value};

use nuki_edge::nuki::product::ProductType;

const TOKEN: &str = "metrics4242";
const SCRAPE_TOKEN: &str = "scrape12345";
const FLAT: u32 = 0x6601_0001;
const ENTRANCE: u32 = 0x6601_0002;

fn building() -> ConfigBuilder {
    ConfigBuilder::new()
        .bridge_token(TOKEN)
        .set("http", "metrics_token", SCRAPE_TOKEN)
        .devices([
            SimDeviceEntry::new(ProductType::SmartLock4, "Flat 1", "sim:metrics-1", FLAT)
                .pin(1234)
                .motor_time_ms(50),
            SimDeviceEntry::new(ProductType::Box, "Entrance", "sim:metrics-2", ENTRANCE).pin(1234),
        ])
}

async fn scrape(base: &str, bearer: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(format!("{base}/metrics"));
    if let Some(token) = bearer {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("scrape");
    let status = response.status().as_u16();
    (status, response.text().await.expect("body"))
}

fn parse(text: &str) -> Scrape {
    Scrape::parse(text.lines().map(|line| Ok(line.to_owned()))).expect("Prometheus text format")
}

fn samples<'a>(scrape: &'a Scrape, family: &str) -> Vec<&'a Sample> {
    scrape
        .samples
        .iter()
        .filter(|sample| sample.metric == family)
        .collect()
}

fn label_values(scrape: &Scrape, family: &str, label: &str) -> HashSet<String> {
    samples(scrape, family)
        .iter()
        .filter_map(|sample| sample.labels.get(label).map(str::to_owned))
        .collect()
}

fn number(value: &Value) -> f64 {
    match value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => *v,
        other => panic!("not a single number: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_scrape_after_some_actions_has_every_family() {
    let (config, daemon) = paired_daemon(building());
    let bridge = daemon.bridge();
    let (status, body) = bridge
        .get_authorized(&format!("/lockAction?nukiId={FLAT}&deviceType=4&action=1"))
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = bridge.get_authorized("/list").await;
    assert_eq!(status, 200);
    let (status, _) = bridge.get("/no/such/route?token=secret-in-url").await;
    assert_eq!(status, 404);

    let (status, _) = scrape(&daemon.base_url(), None).await;
    assert_eq!(status, 401, "the token guards /metrics");
    let (status, _) = scrape(&daemon.base_url(), Some("wrongtoken1")).await;
    assert_eq!(status, 401);
    let (status, text) = scrape(&daemon.base_url(), Some(SCRAPE_TOKEN)).await;
    assert_eq!(status, 200, "{text}");
    assert!(!text.contains(TOKEN), "no secret in the metrics");
    assert!(!text.contains("secret-in-url"), "routes, never raw URLs");
    let metrics = parse(&text);

    // HTTP requests by matched route and status.
    let requests = samples(&metrics, "nuki_edge_http_requests_total");
    let seen: HashSet<(String, String)> = requests
        .iter()
        .map(|s| {
            (
                s.labels.get("route").unwrap_or_default().to_owned(),
                s.labels.get("status").unwrap_or_default().to_owned(),
            )
        })
        .collect();
    for expected in [
        ("/lockAction", "200"),
        ("/list", "200"),
        ("unmatched", "404"),
        ("/metrics", "401"),
    ] {
        assert!(
            seen.contains(&(expected.0.to_owned(), expected.1.to_owned())),
            "{expected:?} in {seen:?}"
        );
    }

    // Commands: latency histograms and outcomes per device kind.
    let kinds = label_values(&metrics, "nuki_edge_command_seconds", "kind");
    assert!(
        kinds.contains("smart_lock_4") && kinds.contains("box"),
        "{kinds:?}"
    );
    assert!(samples(&metrics, "nuki_edge_command_seconds")
        .iter()
        .all(|s| matches!(s.value, Value::Histogram(_))));
    let outcomes = samples(&metrics, "nuki_edge_command_outcomes_total");
    assert!(
        outcomes
            .iter()
            .any(|s| s.labels.get("kind") == Some("smart_lock_4")
                && s.labels.get("command") == Some("unlock")
                && s.labels.get("outcome") == Some("ok")),
        "the lock action's outcome: {outcomes:?}"
    );
    let connect_kinds = label_values(&metrics, "nuki_edge_connect_seconds", "kind");
    assert!(connect_kinds.contains("smart_lock_4"), "{connect_kinds:?}");

    // Link slots, advertisements, per-device radio and battery, the store.
    for gauge in [
        "nuki_edge_link_slots_in_use",
        "nuki_edge_link_slots_waiting",
        "nuki_edge_link_slots_capacity",
    ] {
        assert_eq!(samples(&metrics, gauge).len(), 1, "{gauge}");
    }
    assert_eq!(
        number(&samples(&metrics, "nuki_edge_link_slots_capacity")[0].value),
        3.0
    );
    let adverts: f64 = samples(&metrics, "nuki_edge_advertisements_total")
        .iter()
        .map(|s| number(&s.value))
        .sum();
    assert!(adverts > 0.0);
    let heard = label_values(&metrics, "nuki_edge_rssi_dbm", "device");
    assert!(
        heard.contains("Flat 1") && heard.contains("Entrance"),
        "{heard:?}"
    );
    let batteries = label_values(&metrics, "nuki_edge_battery_percent", "device");
    assert!(
        batteries.contains("Flat 1") && batteries.contains("Entrance"),
        "{batteries:?}"
    );
    let store = samples(&metrics, "nuki_edge_store_bytes");
    assert!(number(&store[0].value) > 0.0);
    assert!(config.store_path().exists());
    drop(daemon);
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_token_metrics_are_open_on_the_listener() {
    let builder = ConfigBuilder::new().bridge_token(TOKEN).device(
        SimDeviceEntry::new(ProductType::Box, "Entrance", "sim:metrics-3", ENTRANCE).pin(1234),
    );
    let (_config, daemon) = paired_daemon(builder);
    let (status, text) = scrape(&daemon.base_url(), None).await;
    assert_eq!(status, 200);
    let metrics = parse(&text);
    assert!(!samples(&metrics, "nuki_edge_store_bytes").is_empty());
}
