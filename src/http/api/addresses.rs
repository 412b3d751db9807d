//! `/api/v1/addresses`: the building's locations, their time zones and Boxes. Needs
//! `manage_building`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::DeviceId;
use crate::gateway::{AddressChange, AddressDraft, AddressView};

use super::auth::Caller;
use super::body::ApiJson;
use super::calls::{address_id, on_store, ApiQuery};
use super::error::{ApiError, ErrorBody};
use super::paging::{Page, PageQuery};
use super::SharedState;

/// An address (a building), as in Nuki Web.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AddressBody {
    /// Nuki Web `addressId`.
    pub id: i64,
    pub name: String,
    /// IANA time zone; the permissions' weekday and daily windows are read in it.
    pub time_zone: String,
    /// The Boxes at this address.
    pub smartlock_ids: Vec<u64>,
    /// How many residential units it has; while it has any, its name is fixed.
    pub unit_count: usize,
}

impl From<AddressView> for AddressBody {
    fn from(view: AddressView) -> Self {
        Self {
            id: view.address.id.0,
            name: view.address.name,
            time_zone: view.address.time_zone,
            smartlock_ids: view.address.boxes.iter().map(|d| d.0).collect(),
            unit_count: view.units,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewAddress {
    /// 1–64 characters.
    pub name: String,
    /// IANA time zone; default: the gateway's (`gateway.time_zone`).
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Paired devices (the Boxes at the entrance doors).
    #[serde(default)]
    pub smartlock_ids: Vec<u64>,
}

/// Only the fields sent are changed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AddressPatch {
    /// Refused (409) while the address has residential units.
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub time_zone: Option<String>,
    #[serde(default)]
    pub smartlock_ids: Option<Vec<u64>>,
}

fn devices(ids: Vec<u64>) -> Vec<DeviceId> {
    ids.into_iter().map(DeviceId).collect()
}

/// The addresses, in id order.
#[utoipa::path(
    get,
    path = "/api/v1/addresses",
    tag = "addresses",
    params(PageQuery),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "A page of addresses", body = Page<AddressBody>),
        (status = 400, description = "Bad limit or cursor", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_building`", body = ErrorBody),
    )
)]
pub(super) async fn list_addresses(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<AddressBody>>, ApiError> {
    let (limit, after) = (query.limit()?, query.after()?);
    let keyed = on_store(&state, move |gateway| {
        gateway.addresses(&principal, after.as_deref(), limit + 1)
    })
    .await?;
    let keyed = keyed.into_iter().map(|(k, v)| (k, v.into())).collect();
    Ok(Json(Page::from_keyed(keyed, limit)))
}

/// Creates an address.
#[utoipa::path(
    post,
    path = "/api/v1/addresses",
    tag = "addresses",
    request_body = NewAddress,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Created", body = AddressBody),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_building`", body = ErrorBody),
        (status = 409, description = "A Box is already placed elsewhere", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "A field missing, unknown or of the wrong type; invalid name, time zone or device", body = ErrorBody),
    )
)]
pub(super) async fn create_address(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<NewAddress>,
) -> Result<(StatusCode, Json<AddressBody>), ApiError> {
    let draft = AddressDraft {
        name: body.name,
        time_zone: body.time_zone,
        boxes: devices(body.smartlock_ids),
    };
    let view = on_store(&state, move |gateway| {
        gateway.create_address(&principal, draft)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// One address.
#[utoipa::path(
    get,
    path = "/api/v1/addresses/{addressId}",
    tag = "addresses",
    params(("addressId" = i64, Path, description = "The address's id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The address", body = AddressBody),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_building`", body = ErrorBody),
        (status = 404, description = "No such address", body = ErrorBody),
    )
)]
pub(super) async fn get_address(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<AddressBody>, ApiError> {
    let id = address_id(&id)?;
    let view = on_store(&state, move |gateway| gateway.address(&principal, id)).await?;
    Ok(Json(view.into()))
}

/// Changes an address. Its name can be changed only while it has no residential unit.
#[utoipa::path(
    patch,
    path = "/api/v1/addresses/{addressId}",
    tag = "addresses",
    params(("addressId" = i64, Path, description = "The address's id")),
    request_body = AddressPatch,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Changed", body = AddressBody),
        (status = 400, description = "Malformed id or body", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_building`", body = ErrorBody),
        (status = 404, description = "No such address", body = ErrorBody),
        (status = 409, description = "Renaming an address with residential units, or a Box placed elsewhere", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "A field missing, unknown or of the wrong type; invalid name, time zone or device", body = ErrorBody),
    )
)]
pub(super) async fn patch_address(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AddressPatch>,
) -> Result<Json<AddressBody>, ApiError> {
    let id = address_id(&id)?;
    let change = AddressChange {
        name: body.name,
        time_zone: body.time_zone,
        boxes: body.smartlock_ids.map(devices),
    };
    let view = on_store(&state, move |gateway| {
        gateway.change_address(&principal, id, change)
    })
    .await?;
    Ok(Json(view.into()))
}

/// Deletes an address that has no residential unit and no permission on its Boxes.
#[utoipa::path(
    delete,
    path = "/api/v1/addresses/{addressId}",
    tag = "addresses",
    params(("addressId" = i64, Path, description = "The address's id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_building`", body = ErrorBody),
        (status = 404, description = "No such address", body = ErrorBody),
        (status = 409, description = "It still has residential units or permissions", body = ErrorBody),
    )
)]
pub(super) async fn delete_address(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = address_id(&id)?;
    on_store(&state, move |gateway| {
        gateway.delete_address(&principal, id)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
