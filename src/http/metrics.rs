//! `GET /metrics`: the daemon's metrics in the Prometheus text format.
//!
//! Code everywhere records through the `metrics` facade (`counter!`, `gauge!`,
//! `histogram!`); this module installs the Prometheus recorder once per process and renders
//! it. Values that are cheaper to read than to track (the store's file size) are read at
//! scrape time. An optional bearer token (`[http] metrics_token[_file]`) guards the route.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use subtle::ConstantTimeEq;

use super::router::error_response;

/// The route.
pub const METRICS_PATH: &str = "/metrics";
/// Histogram buckets for durations in seconds: a BLE connect takes 0.2–3 s, a command from
/// tens of milliseconds (a state read on an open link) to 20 s (a slow motor run).
const SECONDS_BUCKETS: &[f64] = &[
    0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 20.0, 60.0,
];
/// Requests to routes that do not exist are counted under this label, not their raw path
/// (a scanner would otherwise create one time series per URL it tried).
const UNMATCHED_ROUTE: &str = "unmatched";

static RECORDER: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder on first use and returns its handle; None
/// when another recorder was installed first (metrics then go there, `/metrics` answers 503).
pub fn recorder() -> Option<PrometheusHandle> {
    RECORDER
        .get_or_init(|| {
            let builder = match PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
            {
                Ok(builder) => builder,
                Err(error) => {
                    tracing::warn!(%error, "metrics: histogram buckets refused; using summaries");
                    PrometheusBuilder::new()
                }
            };
            match builder.install_recorder() {
                Ok(handle) => Some(handle),
                Err(error) => {
                    tracing::warn!(%error, "metrics: cannot install the Prometheus recorder");
                    None
                }
            }
        })
        .clone()
}

struct MetricsState {
    handle: Option<PrometheusHandle>,
    /// Never logged; compared in constant time.
    token: Option<String>,
    store_path: PathBuf,
}

/// The `/metrics` part of the daemon's router.
pub fn router(token: Option<&str>, store_path: PathBuf) -> Router {
    let state = Arc::new(MetricsState {
        handle: recorder(),
        token: token.map(str::to_owned),
        store_path,
    });
    Router::new()
        .route(METRICS_PATH, get(scrape))
        .with_state(state)
}

async fn scrape(State(state): State<Arc<MetricsState>>, headers: HeaderMap) -> Response {
    if let Some(expected) = &state.token {
        if !bearer_matches(&headers, expected) {
            let mut refused = error_response(
                StatusCode::UNAUTHORIZED,
                "metrics need Authorization: Bearer <http.metrics_token>",
            );
            refused.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
            return refused;
        }
    }
    let Some(handle) = &state.handle else {
        return error_response(
            StatusCode::SERVICE_UNAVAILABLE,
            "metrics recorder not available in this process",
        );
    };
    if let Ok(metadata) = std::fs::metadata(&state.store_path) {
        metrics::gauge!("nuki_edge_store_bytes").set(metadata.len() as f64);
    }
    handle.run_upkeep();
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        handle.render(),
    )
        .into_response()
}

fn bearer_matches(headers: &HeaderMap, expected: &str) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    else {
        return false;
    };
    given.trim().as_bytes().ct_eq(expected.as_bytes()).into()
}

/// Middleware counting every answer by route (the matched pattern, never the raw URL with
/// its ids and tokens), method and status, and timing it.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or_else(
        || UNMATCHED_ROUTE.to_owned(),
        |path| path.as_str().to_owned(),
    );
    let method = request.method().as_str().to_owned();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(
        "nuki_edge_http_requests_total",
        "route" => route.clone(),
        "method" => method,
        "status" => status
    )
    .increment(1);
    metrics::histogram!("nuki_edge_http_request_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_recorder_is_installed_once_and_shared() {
        let first = recorder().expect("installed");
        let second = recorder().expect("the same recorder, not an \"already installed\" error");
        metrics::counter!("nuki_edge_test_total", "case" => "shared").increment(2);
        assert!(first
            .render()
            .contains("nuki_edge_test_total{case=\"shared\"} 2"));
        // Other tests record in parallel; both handles see this test's counter.
        assert!(second
            .render()
            .contains("nuki_edge_test_total{case=\"shared\"} 2"));
    }

    #[test]
    fn only_the_exact_bearer_token_passes() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::AUTHORIZATION, value.parse().unwrap());
            headers
        };
        assert!(bearer_matches(&with("Bearer scrape123"), "scrape123"));
        assert!(!bearer_matches(&with("Bearer scrape124"), "scrape123"));
        assert!(!bearer_matches(&with("Basic scrape123"), "scrape123"));
        assert!(!bearer_matches(&HeaderMap::new(), "scrape123"));
    }
}
