//! The one error shape of the management API: `{"error":{"code":"…","message":"…"}}` with
//! the status that fits (400 malformed, 401 who are you, 403 not allowed, 404 no such object,
//! 409 conflicts with the current state, 422 well-formed but invalid).

use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::DenialReason;
use crate::gateway::{AuthFailure, Refusal};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// Stable, machine-readable (`not_found`, `conflict`, `denied`, …).
    pub code: String,
    /// For people; never contains a secret.
    pub message: String,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }

    pub fn denied(reason: &DenialReason) -> Self {
        Self::new(StatusCode::FORBIDDEN, "denied", reason.to_string())
    }

    pub fn not_found(what: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", what)
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", message)
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
            },
        };
        (self.status, Json(body)).into_response()
    }
}

impl From<AuthFailure> for ApiError {
    fn from(failure: AuthFailure) -> Self {
        match failure {
            AuthFailure::Invalid => ApiError::unauthorized(failure.to_string()),
            AuthFailure::LockedOut { .. } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "locked_out",
                failure.to_string(),
            ),
            AuthFailure::Store => ApiError::internal(failure.to_string()),
        }
    }
}

impl From<Refusal> for ApiError {
    fn from(refusal: Refusal) -> Self {
        let message = refusal.to_string();
        match refusal {
            Refusal::Denied { reason } => ApiError::denied(&reason),
            Refusal::UnknownDevice => ApiError::not_found(message),
            Refusal::Busy => ApiError::new(StatusCode::CONFLICT, "busy", message),
            Refusal::ShuttingDown => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "shutting_down", message)
            }
            Refusal::Unreachable { .. } => {
                ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unreachable", message)
            }
            Refusal::TimedOut => ApiError::new(StatusCode::GATEWAY_TIMEOUT, "timed_out", message),
            Refusal::MotorBlocked | Refusal::RefusedByDevice { .. } => {
                ApiError::new(StatusCode::BAD_GATEWAY, "device_error", message)
            }
        }
    }
}

/// The code of the answer to a path no route has (told apart from a missing object).
pub const NO_ROUTE: &str = "no_route";

pub(super) async fn unknown_route(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        NO_ROUTE,
        format!("no route {}", uri.path()),
    )
}
