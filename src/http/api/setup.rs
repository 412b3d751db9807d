//! `/api/v1/setup`: "Set up Nuki Box" — start pairing a new device and follow it: waiting
//! for the button (with the seconds left) → exchanging keys → reading its configuration →
//! done, or failed with the reason. Needs `manage_devices`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ble::DeviceAddress;
use crate::gateway::{PairingFailure, PairingOrder, SetupId, SetupPhase};

use super::auth::Caller;
use super::body::ApiJson;
use super::calls::setup_id;
use super::error::{ApiError, ErrorBody};
use super::SharedState;

/// Longest Bluetooth address we accept (a MAC is 17 characters; simulated ones are longer).
const MAX_ADDRESS_CHARS: usize = 64;
/// Longest name given to a new device, as on the device.
const MAX_NAME_BYTES: usize = 32;

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSetup {
    /// The device's Bluetooth address, e.g. `54:D2:72:AB:CD:EF`.
    pub address: String,
    /// What to call it; default: its address.
    #[serde(default)]
    pub name: Option<String>,
    /// The device's security PIN, when it needs one (a Smart Lock Ultra does).
    #[serde(default)]
    pub security_pin: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SetupPhaseName {
    /// Hold the device's button for about 5 s until its LED ring lights up.
    WaitingForButton,
    ExchangingKeys,
    ReadingConfig,
    Done,
    Failed,
}

/// A set-up and how far it got.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SetupBody {
    /// 32 hex digits.
    pub id: String,
    pub phase: SetupPhaseName,
    /// While waiting for the button.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seconds_left: Option<u64>,
    /// When done: the new device.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub smartlock_id: Option<u64>,
    /// When failed: why, and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

fn setup_body(id: &SetupId, phase: SetupPhase) -> SetupBody {
    let mut body = SetupBody {
        id: id.0.clone(),
        phase: SetupPhaseName::WaitingForButton,
        seconds_left: None,
        smartlock_id: None,
        reason: None,
    };
    match phase {
        SetupPhase::WaitingForButton { seconds_left } => body.seconds_left = Some(seconds_left),
        SetupPhase::ExchangingKeys => body.phase = SetupPhaseName::ExchangingKeys,
        SetupPhase::ReadingConfig => body.phase = SetupPhaseName::ReadingConfig,
        SetupPhase::Done { device } => {
            body.phase = SetupPhaseName::Done;
            body.smartlock_id = Some(device.0);
        }
        SetupPhase::Failed { reason } => {
            body.phase = SetupPhaseName::Failed;
            body.reason = Some(reason);
        }
    }
    body
}

fn refused(failure: PairingFailure) -> ApiError {
    match failure {
        PairingFailure::AlreadyRunning => ApiError::conflict(failure.to_string()),
        PairingFailure::BadPin => ApiError::invalid(failure.to_string()),
        PairingFailure::Refused(refusal) => ApiError::from(refusal),
        other => ApiError::new(StatusCode::BAD_GATEWAY, "device_error", other.to_string()),
    }
}

/// Starts setting up (pairing) a device; follow it at `/api/v1/setup/{setupId}`.
#[utoipa::path(
    post,
    path = "/api/v1/setup",
    tag = "setup",
    request_body = NewSetup,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 202, description = "Started", body = SetupBody),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_devices`", body = ErrorBody),
        (status = 409, description = "The device is already paired, or a set-up of it is running", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "A field missing, unknown or of the wrong type; a bad address, name or PIN", body = ErrorBody),
        (status = 503, description = "The gateway is stopping", body = ErrorBody),
    )
)]
pub(super) async fn start_setup(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<NewSetup>,
) -> Result<(StatusCode, Json<SetupBody>), ApiError> {
    let gateway = &state.gateway;
    gateway
        .authorize(&principal, crate::access::Capability::ManageDevices)
        .map_err(|reason| ApiError::denied(&reason))?;
    let address = body.address.trim();
    if address.is_empty()
        || address.chars().count() > MAX_ADDRESS_CHARS
        || !address.chars().all(|c| c.is_ascii_graphic())
    {
        return Err(ApiError::invalid(
            "address must be a Bluetooth address like 54:D2:72:AB:CD:EF",
        ));
    }
    let address = DeviceAddress(address.to_owned());
    if gateway.is_paired(&address) {
        return Err(ApiError::conflict(format!("{address} is already paired")));
    }
    let name = body.name.unwrap_or_else(|| address.to_string());
    if name.trim().is_empty() || name.len() > MAX_NAME_BYTES {
        return Err(ApiError::invalid(format!(
            "name must be 1 to {MAX_NAME_BYTES} bytes"
        )));
    }
    if body.security_pin.as_deref().is_some_and(|pin| {
        pin.is_empty() || pin.len() > 6 || !pin.bytes().all(|b| b.is_ascii_digit())
    }) {
        return Err(ApiError::invalid(
            "securityPin must be 4 digits (6 on a Smart Lock Ultra)",
        ));
    }
    let order = PairingOrder {
        address,
        name,
        security_pin: body.security_pin,
        as_bridge: None,
    };
    let id = gateway.start_setup(&principal, order).map_err(refused)?;
    let phase = gateway.setup(&principal, &id)?;
    Ok((StatusCode::ACCEPTED, Json(setup_body(&id, phase))))
}

/// How far a set-up got.
#[utoipa::path(
    get,
    path = "/api/v1/setup/{setupId}",
    tag = "setup",
    params(("setupId" = String, Path, description = "The set-up's id (32 hex digits)")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Its phase", body = SetupBody),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_devices`", body = ErrorBody),
        (status = 404, description = "No such set-up (only the latest are kept)", body = ErrorBody),
    )
)]
pub(super) async fn get_setup(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<SetupBody>, ApiError> {
    let id = setup_id(&id)?;
    let phase = state
        .gateway
        .setup(&principal, &id)
        .map_err(ApiError::from)?;
    Ok(Json(setup_body(&id, phase)))
}
