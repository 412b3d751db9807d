//! `GET /api/v1/status`: how the gateway is doing.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::{ClockTrust, UntrustedReason};

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::SharedState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// The version of nuki-edge.
    pub version: String,
    /// The time the gateway goes by (Unix seconds): never before a time it already saw.
    pub time: i64,
    pub clock: ClockStatus,
    /// Paired devices the caller may see.
    pub devices: usize,
}

/// Whether the gateway believes its clock. While it does not, time-limited permissions
/// are refused (fail closed); unlimited ones and account access still work.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClockStatus {
    pub trusted: bool,
    /// Why not: `before_last_known_time` or `before_build_date`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub reason: Option<UntrustedReason>,
}

impl From<ClockTrust> for ClockStatus {
    fn from(trust: ClockTrust) -> Self {
        match trust {
            ClockTrust::Trusted => ClockStatus {
                trusted: true,
                reason: None,
            },
            ClockTrust::Untrusted { reason } => ClockStatus {
                trusted: false,
                reason: Some(reason),
            },
        }
    }
}

/// How the gateway is doing.
#[utoipa::path(
    get,
    path = "/api/v1/status",
    tag = "status",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The gateway's status", body = Status),
        (status = 401, description = "No valid credential", body = ErrorBody),
    )
)]
pub(super) async fn status(
    State(state): State<SharedState>,
    Caller(principal): Caller,
) -> Result<Json<Status>, ApiError> {
    let gateway = &state.gateway;
    let (time, trust) = gateway.time();
    Ok(Json(Status {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        time,
        clock: trust.into(),
        devices: gateway.devices(&principal).len(),
    }))
}
