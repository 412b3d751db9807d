//! `GET /api/v1/status`: how the gateway is doing.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::SharedState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// The version of nuki-edge.
    pub version: String,
    /// The gateway's time (Unix seconds).
    pub time: i64,
    /// Paired devices the caller may see.
    pub devices: usize,
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
    Ok(Json(Status {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        time: gateway.now_unix(),
        devices: gateway.devices(&principal).len(),
    }))
}
