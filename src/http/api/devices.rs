//! `/api/v1/devices`: the paired devices the caller may see, with the gateway-side display
//! name and favorite flag and the last state each reported; operating them; "Manage Nuki
//! Box" (settings on the device itself). Listing needs no right beyond being known (a holder
//! sees the devices of their permission); changes need `manage_devices`; operating goes
//! through the access decision like every other interface.

use std::collections::HashMap;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{Capability, DeviceId, Principal};
use crate::gateway::{DeviceProfile, DeviceProfileChange, DeviceSettingsChange, DeviceView};
use crate::nuki::enums::DeviceAction;
use crate::nuki::messages::KeyturnerStates;

use super::auth::Caller;
use super::body::ApiJson;
use super::calls::{device_id, nullable, on_store, ApiQuery};
use super::error::{ApiError, ErrorBody};
use super::paging::{Page, PageQuery};
use super::SharedState;

/// The last state a device reported.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceStateBody {
    /// `locked`, `unlocked`, `online` (Opener) …
    pub lock_state: String,
    pub battery_critical: bool,
    /// `door_closed`, `door_opened` … when the device has a door sensor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub door_state: Option<String>,
}

impl From<&KeyturnerStates> for DeviceStateBody {
    fn from(states: &KeyturnerStates) -> Self {
        Self {
            lock_state: states.lock_state.name().to_owned(),
            battery_critical: states.battery_critical(),
            door_state: states.door_sensor_state.map(|s| s.name().to_owned()),
        }
    }
}

/// A paired device.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceBody {
    /// Nuki Web `smartlockId`: `(type << 32) | nukiId`.
    pub smartlock_id: u64,
    /// Nuki Web device type: 0 Smart Lock 1/2, 1 Box, 2 Opener, 3 Smart Door, 4 Smart Lock
    /// 3/4, 5 Smart Lock 5th generation.
    #[serde(rename = "type")]
    pub kind: u8,
    /// The Nuki ID in hex, as on the device's label.
    pub nuki_id: String,
    /// The name the device carries.
    pub name: String,
    /// `box`, `smart_lock_4`, `opener` …
    pub product: String,
    /// The gateway-side name people see, if one is set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub favorite: bool,
    /// The last state it reported; absent before its first report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<DeviceStateBody>,
}

fn device_body(
    view: &DeviceView,
    profile: DeviceProfile,
    state: Option<&KeyturnerStates>,
) -> DeviceBody {
    DeviceBody {
        smartlock_id: view.id.0,
        kind: view.product.web_api_type(),
        nuki_id: format!("{:08X}", view.nuki_id),
        name: view.name.clone(),
        product: serde_json::to_value(view.product)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default(),
        display_name: profile.display_name,
        favorite: profile.favorite,
        state: state.map(DeviceStateBody::from),
    }
}

/// Only the fields sent are changed; `displayName: null` clears it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DevicePatch {
    /// 1–64 characters, or null.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub display_name: Option<Option<String>>,
    #[serde(default)]
    pub favorite: Option<bool>,
}

/// "Manage Nuki Box": settings written to the device over BLE. Only the fields sent change.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceSettingsBody {
    /// The name on the device, at most 32 bytes.
    #[serde(default)]
    pub name: Option<String>,
    /// Degrees, −90 to 90; with `longitude`.
    #[serde(default)]
    pub latitude: Option<f32>,
    /// Degrees, −180 to 180; with `latitude`.
    #[serde(default)]
    pub longitude: Option<f32>,
    /// The new security PIN: 1–9999 (up to 999999 on a Smart Lock Ultra).
    #[serde(default)]
    pub security_pin: Option<u32>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceActionBody {
    /// Smart Locks and Boxes: `unlock`, `lock`, `unlatch`, `lock_n_go`,
    /// `lock_n_go_unlatch`, `full_lock`; Openers: `activate_rto`, `deactivate_rto`,
    /// `electric_strike_actuation`, `activate_cm`, `deactivate_cm`.
    pub action: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionDone {
    pub success: bool,
    /// The device's state afterwards, when it sent one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<DeviceStateBody>,
}

/// The device with `id` if `principal` may see it.
fn visible(
    state: &SharedState,
    principal: &Principal,
    id: DeviceId,
) -> Result<DeviceView, ApiError> {
    state
        .gateway
        .devices(principal)
        .into_iter()
        .find(|view| view.id == id)
        .ok_or_else(|| ApiError::not_found(format!("device {id} not found")))
}

async fn profiles(state: &SharedState) -> Result<HashMap<DeviceId, DeviceProfile>, ApiError> {
    on_store(state, |gateway| gateway.device_profiles()).await
}

/// The paired devices the caller may see, in `smartlockId` order.
#[utoipa::path(
    get,
    path = "/api/v1/devices",
    tag = "devices",
    params(PageQuery),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "A page of devices", body = Page<DeviceBody>),
        (status = 400, description = "Bad limit or cursor", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
    )
)]
pub(super) async fn list_devices(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<DeviceBody>>, ApiError> {
    let (limit, after) = (query.limit()?, query.after()?);
    let mut profiles = profiles(&state).await?;
    let mut views = state.gateway.devices(&principal);
    views.sort_by_key(|view| view.id);
    let keyed = views
        .into_iter()
        .map(|view| (format!("{:020}", view.id.0), view))
        .filter(|(key, _)| after.as_deref().is_none_or(|after| key.as_str() > after))
        .take(limit + 1)
        .map(|(key, view)| {
            let cached = state
                .gateway
                .cached_state(&principal, &view.address)
                .ok()
                .flatten();
            let profile = profiles.remove(&view.id).unwrap_or_default();
            (key, device_body(&view, profile, cached.as_ref()))
        })
        .collect();
    Ok(Json(Page::from_keyed(keyed, limit)))
}

/// One device.
#[utoipa::path(
    get,
    path = "/api/v1/devices/{smartlockId}",
    tag = "devices",
    params(("smartlockId" = u64, Path, description = "The device's Nuki Web smartlockId")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The device", body = DeviceBody),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 404, description = "No such device the caller may see", body = ErrorBody),
    )
)]
pub(super) async fn get_device(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<DeviceBody>, ApiError> {
    let id = device_id(&id)?;
    let view = visible(&state, &principal, id)?;
    let profile = on_store(&state, move |gateway| gateway.device_profile(id)).await?;
    let cached = state.gateway.cached_state(&principal, &view.address)?;
    Ok(Json(device_body(&view, profile, cached.as_ref())))
}

/// Changes the gateway-side display name or favorite flag.
#[utoipa::path(
    patch,
    path = "/api/v1/devices/{smartlockId}",
    tag = "devices",
    params(("smartlockId" = u64, Path, description = "The device's Nuki Web smartlockId")),
    request_body = DevicePatch,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Changed", body = DeviceBody),
        (status = 400, description = "Malformed id, or not JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_devices`", body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "A field unknown or of the wrong type; invalid name", body = ErrorBody),
    )
)]
pub(super) async fn patch_device(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DevicePatch>,
) -> Result<Json<DeviceBody>, ApiError> {
    let id = device_id(&id)?;
    let change = DeviceProfileChange {
        display_name: body.display_name,
        favorite: body.favorite,
    };
    let caller = principal.clone();
    let profile = on_store(&state, move |gateway| {
        gateway.change_device_profile(&caller, id, change)
    })
    .await?;
    let view = visible(&state, &principal, id)?;
    let cached = state.gateway.cached_state(&principal, &view.address)?;
    Ok(Json(device_body(&view, profile, cached.as_ref())))
}

/// "Manage Nuki Box": changes the name, location or security PIN on the device itself.
#[utoipa::path(
    post,
    path = "/api/v1/devices/{smartlockId}/settings",
    tag = "devices",
    params(("smartlockId" = u64, Path, description = "The device's Nuki Web smartlockId")),
    request_body = DeviceSettingsBody,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Written to the device"),
        (status = 400, description = "Malformed id, or not JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_devices`", body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
        (status = 409, description = "The device is busy", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "A field unknown or of the wrong type; invalid name, location or PIN", body = ErrorBody),
        (status = 502, description = "The device refused", body = ErrorBody),
        (status = 503, description = "The device is out of reach", body = ErrorBody),
        (status = 504, description = "No answer in time", body = ErrorBody),
    )
)]
pub(super) async fn device_settings(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DeviceSettingsBody>,
) -> Result<StatusCode, ApiError> {
    let id = device_id(&id)?;
    let gateway = &state.gateway;
    gateway
        .authorize(&principal, Capability::ManageDevices)
        .map_err(|reason| ApiError::denied(&reason))?;
    let device = gateway
        .device_by_id(id)
        .ok_or_else(|| ApiError::not_found(format!("device {id} not found")))?;
    let location = match (body.latitude, body.longitude) {
        (None, None) => None,
        (Some(latitude), Some(longitude)) => Some((latitude, longitude)),
        _ => return Err(ApiError::invalid("latitude and longitude go together")),
    };
    let change = DeviceSettingsChange {
        name: body.name,
        location,
        security_pin: body.security_pin,
    };
    // What the device would refuse is refused here, with the reason, before the radio.
    change
        .check(device.product)
        .map_err(|invalid| ApiError::invalid(invalid.to_string()))?;
    gateway.manage_device(&principal, id, change).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Operates a device (lock, unlock, unlatch …) on behalf of the caller, decided by the
/// access rules like any request: a holder's permission must cover the device and allow
/// this moment.
#[utoipa::path(
    post,
    path = "/api/v1/devices/{smartlockId}/action",
    tag = "devices",
    params(("smartlockId" = u64, Path, description = "The device's Nuki Web smartlockId")),
    request_body = DeviceActionBody,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Done", body = ActionDone),
        (status = 400, description = "Malformed id, or not JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Denied, with the reason", body = ErrorBody),
        (status = 404, description = "No such device", body = ErrorBody),
        (status = 409, description = "The device is busy", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "A field missing, unknown or of the wrong type; an action this device does not have", body = ErrorBody),
        (status = 502, description = "The device could not do it", body = ErrorBody),
        (status = 503, description = "The device is out of reach, or the gateway is stopping", body = ErrorBody),
        (status = 504, description = "No answer in time", body = ErrorBody),
    )
)]
pub(super) async fn device_action(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<DeviceActionBody>,
) -> Result<Json<ActionDone>, ApiError> {
    let id = device_id(&id)?;
    let view = state
        .gateway
        .device_by_id(id)
        .ok_or_else(|| ApiError::not_found(format!("device {id} not found")))?;
    let action = DeviceAction::from_name(&body.action, view.product.service_family())
        .filter(|action| action.name() != "unknown")
        .ok_or_else(|| {
            ApiError::invalid(format!("`{}` is not an action of this device", body.action))
        })?;
    let report = state.gateway.act(&principal, &view.address, action).await?;
    Ok(Json(ActionDone {
        success: true,
        state: report.state.as_ref().map(DeviceStateBody::from),
    }))
}
