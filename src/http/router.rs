//! One router from parts (the Bridge API now; the management API, web UI and metrics later)
//! with the middleware every part shares: request ids, tracing, a body limit, a timeout, and
//! JSON error bodies for what the framework itself refuses (wrong method, oversized body).

use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use serde_json::json;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

/// Bodies larger than this are refused (the Bridge API takes none at all).
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// A request still running after this long is answered 408, unless the actions it may run
/// need longer (see [`request_timeout`]); `/auth` waits up to 30 s for the installer.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Beyond the actions' own deadlines, time for the rest of a request.
const REQUEST_MARGIN: Duration = Duration::from_secs(10);

/// The request timeout for a gateway whose actions may take `action_deadline` each: a
/// request may run two (`/lock` on an Opener), and must never be cut off before they end.
pub fn request_timeout(action_deadline: Duration) -> Duration {
    REQUEST_TIMEOUT.max(action_deadline.saturating_mul(2) + REQUEST_MARGIN)
}

/// Joins the parts and wraps them in the shared middleware, once around the whole router
/// (`Router::layer` would wrap every route, and each request would clone that route's whole
/// stack).
pub fn compose(parts: impl IntoIterator<Item = Router>, request_timeout: Duration) -> Router {
    let routes = parts
        .into_iter()
        .fold(Router::new(), |router, part| router.merge(part))
        .method_not_allowed_fallback(method_not_allowed)
        // Inside the router, where the matched route is known; a light layer per route.
        .layer(axum::middleware::from_fn(super::metrics::track_requests));
    let shared = tower::ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(
            CountingRequestIds::default(),
        ))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http())
        // Outside the layers that refuse requests, so their answers get the JSON body too.
        .map_response(json_error_bodies)
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .service(routes);
    Router::new().fallback_service(shared)
}

/// Request ids numbered from the start of the process, unless the client sent its own: as
/// good as a UUID for following one request through the log, and free of a random-number
/// syscall per request.
#[derive(Debug, Clone, Default)]
struct CountingRequestIds {
    next: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl MakeRequestId for CountingRequestIds {
    fn make_request_id<B>(&mut self, _request: &axum::http::Request<B>) -> Option<RequestId> {
        let id = self
            .next
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            .wrapping_add(1);
        axum::http::HeaderValue::from_str(&id.to_string())
            .ok()
            .map(RequestId::new)
    }
}

async fn method_not_allowed(method: Method) -> Response {
    error_response(
        StatusCode::METHOD_NOT_ALLOWED,
        &format!("method {method} not allowed here"),
    )
}

/// The JSON error body every answer of ours has.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "success": false, "error": message }))).into_response()
}

/// Framework answers that are not JSON (a body over the limit, a timeout) get the same JSON
/// error body as the handlers' answers, so clients parse every error the same way.
fn json_error_bodies<B>(response: axum::http::Response<B>) -> Response
where
    axum::http::Response<B>: IntoResponse,
{
    let response = response.into_response();
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let reason = status.canonical_reason().unwrap_or("request refused");
    let mut replaced = error_response(status, &reason.to_ascii_lowercase());
    for (name, value) in response.headers() {
        if name != axum::http::header::CONTENT_LENGTH && name != axum::http::header::CONTENT_TYPE {
            replaced.headers_mut().insert(name.clone(), value.clone());
        }
    }
    replaced
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_outlast_the_actions_they_run() {
        assert_eq!(request_timeout(Duration::from_secs(15)), REQUEST_TIMEOUT);
        assert_eq!(
            request_timeout(Duration::from_secs(120)),
            Duration::from_secs(250)
        );
    }
}
