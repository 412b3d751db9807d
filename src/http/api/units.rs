//! Residential units: `/api/v1/addresses/{addressId}/units` and `/api/v1/units/{unitId}`.
//! Needs `manage_building`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{DeviceId, Unit};
use crate::gateway::{UnitChange, UnitDraft};

use super::auth::Caller;
use super::body::ApiJson;
use super::calls::{address_id, on_store, unit_id, ApiQuery};
use super::error::{ApiError, ErrorBody};
use super::paging::{Page, PageQuery};
use super::SharedState;

/// A residential unit (a flat), as Nuki Web's AddressUnit.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnitBody {
    /// 24 hex digits.
    pub id: String,
    pub address_id: i64,
    pub name: String,
    /// The Smart Locks added for this party.
    pub smartlock_ids: Vec<u64>,
}

impl From<Unit> for UnitBody {
    fn from(unit: Unit) -> Self {
        Self {
            id: unit.id.0,
            address_id: unit.address.0,
            name: unit.name,
            smartlock_ids: unit.locks.iter().map(|d| d.0).collect(),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewUnit {
    /// 1–64 characters.
    pub name: String,
    /// Paired Smart Locks, none placed elsewhere.
    #[serde(default)]
    pub smartlock_ids: Vec<u64>,
}

/// Only the fields sent are changed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct UnitPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub smartlock_ids: Option<Vec<u64>>,
}

/// What went with a deleted unit.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UnitRemoved {
    pub residents_removed: usize,
    pub permissions_removed: usize,
}

fn devices(ids: Vec<u64>) -> Vec<DeviceId> {
    ids.into_iter().map(DeviceId).collect()
}

/// The residential units of an address, in id order.
#[utoipa::path(
    get,
    path = "/api/v1/addresses/{addressId}/units",
    tag = "units",
    params(("addressId" = i64, Path, description = "The address's id"), PageQuery),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "A page of units", body = Page<UnitBody>),
        (status = 400, description = "Malformed id, limit or cursor", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_building`", body = ErrorBody),
        (status = 404, description = "No such address", body = ErrorBody),
    )
)]
pub(super) async fn list_units(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(address): Path<String>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<UnitBody>>, ApiError> {
    let address = address_id(&address)?;
    let (limit, after) = (query.limit()?, query.after()?);
    let keyed = on_store(&state, move |gateway| {
        gateway.units(&principal, address, after.as_deref(), limit + 1)
    })
    .await?;
    let keyed = keyed.into_iter().map(|(k, v)| (k, v.into())).collect();
    Ok(Json(Page::from_keyed(keyed, limit)))
}

/// Adds a residential unit to an address.
#[utoipa::path(
    post,
    path = "/api/v1/addresses/{addressId}/units",
    tag = "units",
    params(("addressId" = i64, Path, description = "The address's id")),
    request_body = NewUnit,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Created", body = UnitBody),
        (status = 400, description = "Malformed id, or not JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_building`", body = ErrorBody),
        (status = 404, description = "No such address", body = ErrorBody),
        (status = 409, description = "A lock is already placed elsewhere", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "A field missing, unknown or of the wrong type; invalid name or device", body = ErrorBody),
    )
)]
pub(super) async fn create_unit(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(address): Path<String>,
    ApiJson(body): ApiJson<NewUnit>,
) -> Result<(StatusCode, Json<UnitBody>), ApiError> {
    let address = address_id(&address)?;
    let draft = UnitDraft {
        name: body.name,
        locks: devices(body.smartlock_ids),
    };
    let unit = on_store(&state, move |gateway| {
        gateway.create_unit(&principal, address, draft)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(unit.into())))
}

/// One residential unit.
#[utoipa::path(
    get,
    path = "/api/v1/units/{unitId}",
    tag = "units",
    params(("unitId" = String, Path, description = "The unit's id (24 hex digits)")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The unit", body = UnitBody),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_building`", body = ErrorBody),
        (status = 404, description = "No such unit", body = ErrorBody),
    )
)]
pub(super) async fn get_unit(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<UnitBody>, ApiError> {
    let id = unit_id(&id)?;
    let unit = on_store(&state, move |gateway| gateway.unit(&principal, &id)).await?;
    Ok(Json(unit.into()))
}

/// Changes a unit's name or locks.
#[utoipa::path(
    patch,
    path = "/api/v1/units/{unitId}",
    tag = "units",
    params(("unitId" = String, Path, description = "The unit's id (24 hex digits)")),
    request_body = UnitPatch,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Changed", body = UnitBody),
        (status = 400, description = "Malformed id, or not JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_building`", body = ErrorBody),
        (status = 404, description = "No such unit", body = ErrorBody),
        (status = 409, description = "A lock is placed elsewhere, or a resident's permission names a lock being removed", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "A field missing, unknown or of the wrong type; invalid name or device", body = ErrorBody),
    )
)]
pub(super) async fn patch_unit(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<UnitPatch>,
) -> Result<Json<UnitBody>, ApiError> {
    let id = unit_id(&id)?;
    let change = UnitChange {
        name: body.name,
        locks: body.smartlock_ids.map(devices),
    };
    let unit = on_store(&state, move |gateway| {
        gateway.change_unit(&principal, &id, change)
    })
    .await?;
    Ok(Json(unit.into()))
}

/// Deletes a unit with its residents and every permission of theirs; the devices follow
/// through provisioning.
#[utoipa::path(
    delete,
    path = "/api/v1/units/{unitId}",
    tag = "units",
    params(("unitId" = String, Path, description = "The unit's id (24 hex digits)")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Deleted, with what went with it", body = UnitRemoved),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_building`", body = ErrorBody),
        (status = 404, description = "No such unit", body = ErrorBody),
    )
)]
pub(super) async fn delete_unit(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<UnitRemoved>, ApiError> {
    let id = unit_id(&id)?;
    let (residents, permissions) =
        on_store(&state, move |gateway| gateway.delete_unit(&principal, &id)).await?;
    Ok(Json(UnitRemoved {
        residents_removed: residents,
        permissions_removed: permissions,
    }))
}
