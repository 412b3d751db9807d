//! One router from parts (the Bridge API now; the management API, web UI and metrics later)
//! with the middleware every part shares: request ids, tracing, a body limit, a timeout, and
//! JSON error bodies for what the framework itself refuses (wrong method, oversized body).

use std::time::Duration;

use axum::extract::Request;
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::Next;
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
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        // Outside the layers that refuse requests, so their answers get the JSON body too.
        .layer(axum::middleware::from_fn(json_error_bodies))
        .layer(axum::middleware::from_fn(drain_oversized_bodies))
        .layer(RequestBodyLimitLayer::new(MAX_BODY_BYTES))
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            request_timeout,
        ))
        .service(routes);
    Router::new().fallback_service(shared)
}

/// An announced body this much too large is still read (and dropped) before the 413 goes
/// out; a larger one is refused at once and the connection closed.
const DRAIN_LIMIT: u64 = 1024 * 1024;
/// How long reading an oversized body for [`drain_oversized_bodies`] may take.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(5);

/// Refuses a body announced larger than [`MAX_BODY_BYTES`] after reading it. Answering
/// before the client has sent it all and closing would make the kernel reset the connection,
/// and the client would often lose the 413 and see only "connection reset".
async fn drain_oversized_bodies(request: Request, next: Next) -> Response {
    let announced = request
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    let Some(length) = announced.filter(|length| *length > MAX_BODY_BYTES as u64) else {
        return next.run(request).await;
    };
    let mut refused = StatusCode::PAYLOAD_TOO_LARGE.into_response();
    if length <= DRAIN_LIMIT {
        let body = request.into_body();
        let drained = tokio::time::timeout(
            DRAIN_TIMEOUT,
            axum::body::to_bytes(body, usize::try_from(DRAIN_LIMIT).unwrap_or(usize::MAX)),
        )
        .await;
        if matches!(drained, Ok(Ok(_))) {
            return refused;
        }
    }
    refused.headers_mut().insert(
        axum::http::header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    refused
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

/// The span of a request names its method and request id only: the URI carries the Bridge
/// token in its query and the ids of people and permissions in its path, and neither may
/// reach a log, at any level.
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("-");
    tracing::debug_span!("request", method = %request.method(), request_id)
}

async fn method_not_allowed(method: Method, uri: Uri) -> Response {
    let message = format!("method {method} not allowed here");
    if is_management_api(uri.path()) {
        management_error(StatusCode::METHOD_NOT_ALLOWED, &message)
    } else {
        error_response(StatusCode::METHOD_NOT_ALLOWED, &message)
    }
}

/// Paths of the management API, whose errors have its own shape.
fn is_management_api(path: &str) -> bool {
    path == "/api" || path.starts_with("/api/")
}

/// An error in the management API's shape, `{"error":{"code","message"}}`.
fn management_error(status: StatusCode, message: &str) -> Response {
    let code = match status {
        StatusCode::BAD_REQUEST => "bad_request",
        StatusCode::UNAUTHORIZED => "unauthorized",
        StatusCode::FORBIDDEN => "denied",
        StatusCode::NOT_FOUND => "not_found",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::REQUEST_TIMEOUT => "timed_out",
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::UNPROCESSABLE_ENTITY => "invalid",
        StatusCode::TOO_MANY_REQUESTS => "too_many_requests",
        StatusCode::SERVICE_UNAVAILABLE => "unavailable",
        status if status.is_server_error() => "internal",
        _ => "refused",
    };
    super::api::ApiError::new(status, code, message).into_response()
}

/// The JSON error body every answer of ours has.
pub fn error_response(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({ "success": false, "error": message }))).into_response()
}

/// Framework answers that are not JSON (a body over the limit, a timeout) get the same JSON
/// error body as the handlers' answers of that part (the management API's shape under
/// `/api/`, the Bridge's elsewhere), so clients parse every error the same way.
async fn json_error_bodies(request: Request, next: Next) -> Response {
    let management = is_management_api(request.uri().path());
    let response = next.run(request).await;
    let status = response.status();
    let is_json = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let reason = status
        .canonical_reason()
        .unwrap_or("request refused")
        .to_ascii_lowercase();
    let mut replaced = if management {
        management_error(status, &reason)
    } else {
        error_response(status, &reason)
    };
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
