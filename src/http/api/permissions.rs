//! `/api/v1/permissions`: Nuki's authorizations, each belonging to a person. Limits carry
//! Nuki Web's names and units (RFC 3339 dates, weekday bitmask 64 = Monday … 1 = Sunday,
//! minutes after midnight). Needs `manage_users`.
//!
//! A gateway-access permission's secret and a keypad code are in the answer that creates
//! them, and never again (a keypad code shows as `******`).

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{
    AddressId, DailyWindow, DeviceId, Limits, PermissionKind, PersonId, Scope, UnitId, Weekdays,
};
use crate::gateway::{
    DeviceProvisioning, IssuedPermission, LimitsChange, PermissionChange, PermissionDraft,
    PermissionView, ProvisioningState,
};

use super::auth::Caller;
use super::body::ApiJson;
use super::calls::{nullable, on_store, permission_id, ApiQuery};
use super::error::{ApiError, ErrorBody};
use super::paging::{Page, PageQuery};
use super::SharedState;

/// What a stored keypad code looks like in answers.
const MASKED_CODE: &str = "******";

/// How the holder uses the permission.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PermissionType {
    /// A secret (`nep_…`) the holder presents to this API as a bearer token.
    GatewayAccess,
    /// A keypad code (Nuki Web type 13), provisioned to the devices.
    KeypadCode,
    /// An app or fob authorization on the devices.
    DeviceAuthorization,
}

impl From<PermissionType> for PermissionKind {
    fn from(kind: PermissionType) -> Self {
        match kind {
            PermissionType::GatewayAccess => PermissionKind::GatewayAccess,
            PermissionType::KeypadCode => PermissionKind::KeypadCode,
            PermissionType::DeviceAuthorization => PermissionKind::DeviceAuthorization,
        }
    }
}

impl From<PermissionKind> for PermissionType {
    fn from(kind: PermissionKind) -> Self {
        match kind {
            PermissionKind::GatewayAccess => PermissionType::GatewayAccess,
            PermissionKind::KeypadCode => PermissionType::KeypadCode,
            PermissionKind::DeviceAuthorization => PermissionType::DeviceAuthorization,
        }
    }
}

/// Where a permission applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ScopeBody {
    /// One device.
    Device {
        #[serde(rename = "smartlockId")]
        smartlock_id: u64,
    },
    /// Every Box of an address.
    AddressBoxes {
        #[serde(rename = "addressId")]
        address_id: i64,
    },
    /// A unit's Smart Locks plus its address's Boxes.
    Unit {
        #[serde(rename = "unitId")]
        unit_id: String,
    },
}

impl From<ScopeBody> for Scope {
    fn from(scope: ScopeBody) -> Self {
        match scope {
            ScopeBody::Device { smartlock_id } => Scope::Device {
                device: DeviceId(smartlock_id),
            },
            ScopeBody::AddressBoxes { address_id } => Scope::AddressBoxes {
                address: AddressId(address_id),
            },
            ScopeBody::Unit { unit_id } => Scope::Unit {
                unit: UnitId(unit_id),
            },
        }
    }
}

impl From<Scope> for ScopeBody {
    fn from(scope: Scope) -> Self {
        match scope {
            Scope::Device { device } => ScopeBody::Device {
                smartlock_id: device.0,
            },
            Scope::AddressBoxes { address } => ScopeBody::AddressBoxes {
                address_id: address.0,
            },
            Scope::Unit { unit } => ScopeBody::Unit { unit_id: unit.0 },
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProvisioningStateName {
    /// Waiting to be written (the device may be out of range).
    Pending,
    /// On the device as stored.
    Applied,
    /// The device refused it.
    Failed,
}

/// Where the permission stands on one device.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProvisioningBody {
    pub smartlock_id: u64,
    pub state: ProvisioningStateName,
    pub attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl From<DeviceProvisioning> for ProvisioningBody {
    fn from(provisioning: DeviceProvisioning) -> Self {
        let (state, attempts, reason) = match provisioning.state {
            ProvisioningState::Pending { attempts } => {
                (ProvisioningStateName::Pending, attempts, None)
            }
            ProvisioningState::Applied => (ProvisioningStateName::Applied, 0, None),
            ProvisioningState::Failed { reason, attempts } => {
                (ProvisioningStateName::Failed, attempts, Some(reason))
            }
        };
        Self {
            smartlock_id: provisioning.device.0,
            state,
            attempts,
            reason,
        }
    }
}

/// A permission, shaped like a Nuki Web authorization. (No `Debug`: it may carry a secret.)
#[derive(Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PermissionBody {
    /// 24 hex digits.
    pub id: String,
    /// The person holding it (Nuki Web `accountUserId`).
    pub person_id: i64,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: PermissionType,
    pub scope: ScopeBody,
    pub enabled: bool,
    /// May be used through the gateway, not only at the door.
    pub remote_allowed: bool,
    /// RFC 3339; before it the permission is not valid yet.
    pub allowed_from_date: Option<String>,
    /// RFC 3339; after it the permission has expired.
    pub allowed_until_date: Option<String>,
    /// 64 Monday, 32 Tuesday … 1 Sunday; 0 and 127 mean every day.
    pub allowed_week_days: u8,
    /// Minutes after midnight in the address's time zone; equal ends mean the whole day.
    pub allowed_from_time: u16,
    pub allowed_until_time: u16,
    /// The devices the scope covers now.
    pub smartlock_ids: Vec<u64>,
    /// Keypad codes: the code in the answer that sets it, `******` everywhere else.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// Gateway access: the bearer secret, only in the answer that creates the permission.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// Where the permission stands on each device (empty for gateway access).
    pub provisioning: Vec<ProvisioningBody>,
}

fn rfc3339(seconds: Option<i64>) -> Option<String> {
    seconds
        .and_then(|s| jiff::Timestamp::from_second(s).ok())
        .map(|t| t.to_string())
}

fn unix_seconds(field: &str, text: &str) -> Result<i64, ApiError> {
    text.parse::<jiff::Timestamp>()
        .map(|t| t.as_second())
        .map_err(|_| {
            ApiError::invalid(format!(
                "{field} must be an RFC 3339 date-time like 2026-05-01T08:00:00Z"
            ))
        })
}

fn optional_seconds(field: &str, text: Option<String>) -> Result<Option<i64>, ApiError> {
    text.map(|text| unix_seconds(field, &text)).transpose()
}

impl PermissionBody {
    fn from_view(view: PermissionView, code: Option<u32>, secret: Option<String>) -> Self {
        let permission = view.permission;
        let limits = permission.limits;
        let window = limits.daily.unwrap_or(DailyWindow {
            from_minute: 0,
            until_minute: 0,
        });
        let code = match (permission.kind, code) {
            (PermissionKind::KeypadCode, Some(code)) => Some(code.to_string()),
            (PermissionKind::KeypadCode, None) => Some(MASKED_CODE.to_owned()),
            _ => None,
        };
        Self {
            id: permission.id.0,
            person_id: permission.person.0,
            name: permission.name,
            kind: permission.kind.into(),
            scope: permission.scope.into(),
            enabled: limits.enabled,
            remote_allowed: limits.remote_allowed,
            allowed_from_date: rfc3339(limits.allowed_from),
            allowed_until_date: rfc3339(limits.allowed_until),
            allowed_week_days: limits.weekdays.0,
            allowed_from_time: window.from_minute,
            allowed_until_time: window.until_minute,
            smartlock_ids: view.devices.iter().map(|d| d.0).collect(),
            code,
            secret,
            provisioning: view.provisioning.into_iter().map(Into::into).collect(),
        }
    }
}

impl From<IssuedPermission> for PermissionBody {
    fn from(issued: IssuedPermission) -> Self {
        PermissionBody::from_view(issued.view, issued.code, issued.secret)
    }
}

fn yes() -> bool {
    true
}

fn every_day() -> u8 {
    Weekdays::EVERY_DAY.0
}

#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPermission {
    pub person_id: i64,
    /// At most 32 bytes (20 for keypad codes), as the devices store it.
    pub name: String,
    #[serde(rename = "type")]
    pub kind: PermissionType,
    /// A resident's permission must stay within their unit.
    pub scope: ScopeBody,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "yes")]
    pub remote_allowed: bool,
    #[serde(default)]
    pub allowed_from_date: Option<String>,
    #[serde(default)]
    pub allowed_until_date: Option<String>,
    /// Default 127 (every day).
    #[serde(default = "every_day")]
    pub allowed_week_days: u8,
    /// Minutes after midnight, 0–1439, like `allowedUntilTime`. Equal ends (the default) mean
    /// the whole day; an end before the start runs over midnight.
    #[serde(default)]
    pub allowed_from_time: u16,
    #[serde(default)]
    pub allowed_until_time: u16,
    /// Keypad codes only: six digits 1–9, not starting with 12, unique on every device in
    /// scope. Drawn at random when absent.
    #[serde(default)]
    pub code: Option<u32>,
}

/// Only the fields sent are changed; `null` clears a date.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PermissionPatch {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub scope: Option<ScopeBody>,
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub remote_allowed: Option<bool>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub allowed_from_date: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub allowed_until_date: Option<Option<String>>,
    #[serde(default)]
    pub allowed_week_days: Option<u8>,
    #[serde(default)]
    pub allowed_from_time: Option<u16>,
    #[serde(default)]
    pub allowed_until_time: Option<u16>,
    /// Keypad codes only; shown in this answer, never again.
    #[serde(default)]
    pub code: Option<u32>,
}

/// The permissions, in id order.
#[utoipa::path(
    get,
    path = "/api/v1/permissions",
    tag = "permissions",
    params(PageQuery),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "A page of permissions", body = Page<PermissionBody>),
        (status = 400, description = "Bad limit or cursor", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_users`", body = ErrorBody),
    )
)]
pub(super) async fn list_permissions(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<PermissionBody>>, ApiError> {
    let (limit, after) = (query.limit()?, query.after()?);
    let keyed = on_store(&state, move |gateway| {
        gateway.permissions(&principal, after.as_deref(), limit + 1)
    })
    .await?;
    let keyed = keyed
        .into_iter()
        .map(|(k, v)| (k, PermissionBody::from_view(v, None, None)))
        .collect();
    Ok(Json(Page::from_keyed(keyed, limit)))
}

/// Creates a permission. A gateway-access permission's `secret` and a keypad `code` are in
/// this answer only.
#[utoipa::path(
    post,
    path = "/api/v1/permissions",
    tag = "permissions",
    request_body = NewPermission,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Created", body = PermissionBody),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_users`", body = ErrorBody),
        (status = 409, description = "The keypad code is in use on a device in scope", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "A field missing, unknown or of the wrong type; invalid limits, code or name; unknown person, device, address or unit; a resident's scope outside their unit", body = ErrorBody),
    )
)]
pub(super) async fn create_permission(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<NewPermission>,
) -> Result<(StatusCode, Json<PermissionBody>), ApiError> {
    let limits = Limits {
        enabled: body.enabled,
        allowed_from: optional_seconds("allowedFromDate", body.allowed_from_date)?,
        allowed_until: optional_seconds("allowedUntilDate", body.allowed_until_date)?,
        weekdays: Weekdays(body.allowed_week_days),
        daily: Some(DailyWindow {
            from_minute: body.allowed_from_time,
            until_minute: body.allowed_until_time,
        }),
        remote_allowed: body.remote_allowed,
    };
    let draft = PermissionDraft {
        person: PersonId(body.person_id),
        name: body.name,
        scope: body.scope.into(),
        kind: body.kind.into(),
        limits,
        code: body.code,
    };
    let issued = on_store(&state, move |gateway| {
        gateway.create_permission(&principal, draft)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(issued.into())))
}

/// One permission.
#[utoipa::path(
    get,
    path = "/api/v1/permissions/{permissionId}",
    tag = "permissions",
    params(("permissionId" = String, Path, description = "The permission's id (24 hex digits)")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The permission", body = PermissionBody),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_users`", body = ErrorBody),
        (status = 404, description = "No such permission", body = ErrorBody),
    )
)]
pub(super) async fn get_permission(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<PermissionBody>, ApiError> {
    let id = permission_id(&id)?;
    let view = on_store(&state, move |gateway| gateway.permission(&principal, &id)).await?;
    Ok(Json(PermissionBody::from_view(view, None, None)))
}

/// Changes a permission's name, scope, limits or keypad code.
#[utoipa::path(
    patch,
    path = "/api/v1/permissions/{permissionId}",
    tag = "permissions",
    params(("permissionId" = String, Path, description = "The permission's id (24 hex digits)")),
    request_body = PermissionPatch,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Changed", body = PermissionBody),
        (status = 400, description = "Malformed id, or not JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_users`", body = ErrorBody),
        (status = 404, description = "No such permission", body = ErrorBody),
        (status = 409, description = "The keypad code is in use on a device in scope", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "A field unknown or of the wrong type; invalid limits, code, name or scope", body = ErrorBody),
    )
)]
pub(super) async fn patch_permission(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PermissionPatch>,
) -> Result<Json<PermissionBody>, ApiError> {
    let id = permission_id(&id)?;
    let limits = LimitsChange {
        enabled: body.enabled,
        allowed_from: body
            .allowed_from_date
            .map(|date| optional_seconds("allowedFromDate", date))
            .transpose()?,
        allowed_until: body
            .allowed_until_date
            .map(|date| optional_seconds("allowedUntilDate", date))
            .transpose()?,
        weekdays: body.allowed_week_days.map(Weekdays),
        daily_from: body.allowed_from_time,
        daily_until: body.allowed_until_time,
        remote_allowed: body.remote_allowed,
    };
    let change = PermissionChange {
        name: body.name,
        scope: body.scope.map(Into::into),
        limits,
        code: body.code,
    };
    let issued = on_store(&state, move |gateway| {
        gateway.change_permission(&principal, &id, change)
    })
    .await?;
    Ok(Json(issued.into()))
}

/// Revokes a permission: refused by the gateway at once, removed from the devices through
/// provisioning.
#[utoipa::path(
    delete,
    path = "/api/v1/permissions/{permissionId}",
    tag = "permissions",
    params(("permissionId" = String, Path, description = "The permission's id (24 hex digits)")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_users`", body = ErrorBody),
        (status = 404, description = "No such permission", body = ErrorBody),
    )
)]
pub(super) async fn delete_permission(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = permission_id(&id)?;
    on_store(&state, move |gateway| {
        gateway.delete_permission(&principal, &id)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}
