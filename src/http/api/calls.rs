//! What the building's handlers share: calling the gateway off the executor, refusals in the
//! API's shape, ids from the path, query strings, and `null` told apart from absent.

use std::sync::Arc;

use axum::extract::{FromRequestParts, Query};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::access::{AddressId, DeviceId, PermissionId, PersonId, UnitId};
use crate::gateway::{is_object_id, BuildingError, Gateway, SetupId};

use super::error::ApiError;
use super::SharedState;

impl From<BuildingError> for ApiError {
    fn from(error: BuildingError) -> Self {
        match error {
            BuildingError::Denied(reason) => ApiError::denied(&reason),
            BuildingError::NotFound(what) => ApiError::not_found(format!("{what} not found")),
            BuildingError::Conflict(message) => ApiError::conflict(message),
            BuildingError::Invalid(message) => ApiError::invalid(message),
            BuildingError::Rejected(error) => ApiError::new(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                error.code(),
                error.to_string(),
            ),
            BuildingError::Store(error) => {
                tracing::error!(%error, "store failed during a management request");
                ApiError::internal("the store failed; nothing was changed")
            }
        }
    }
}

/// Runs a gateway call that waits for the store on the blocking pool, so a commit's fsync
/// never stalls the threads that serve requests and radios.
pub(super) async fn on_store<T, F>(state: &SharedState, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Gateway) -> Result<T, BuildingError> + Send + 'static,
{
    let gateway: Arc<Gateway> = state.gateway.clone();
    tokio::task::spawn_blocking(move || work(&gateway))
        .await
        .map_err(|_| ApiError::internal("the request's work ended unexpectedly"))?
        .map_err(ApiError::from)
}

/// A query string, refused in the API's error shape (400) when it does not fit.
#[derive(Debug, Clone, Default)]
pub struct ApiQuery<T>(pub T);

impl<S, T> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| ApiError::bad_request(rejection.body_text()))
    }
}

pub(super) fn address_id(text: &str) -> Result<AddressId, ApiError> {
    positive(text)
        .map(AddressId)
        .ok_or_else(|| ApiError::bad_request("an address id is a positive integer"))
}

pub(super) fn person_id(text: &str) -> Result<PersonId, ApiError> {
    positive(text)
        .map(PersonId)
        .ok_or_else(|| ApiError::bad_request("a person id is a positive integer"))
}

pub(super) fn unit_id(text: &str) -> Result<UnitId, ApiError> {
    is_object_id(text)
        .then(|| UnitId(text.to_owned()))
        .ok_or_else(|| ApiError::bad_request("a unit id is 24 lowercase hex digits"))
}

pub(super) fn permission_id(text: &str) -> Result<PermissionId, ApiError> {
    is_object_id(text)
        .then(|| PermissionId(text.to_owned()))
        .ok_or_else(|| ApiError::bad_request("a permission id is 24 lowercase hex digits"))
}

pub(super) fn device_id(text: &str) -> Result<DeviceId, ApiError> {
    text.parse::<u64>()
        .ok()
        .filter(|_| text.bytes().all(|b| b.is_ascii_digit()))
        .map(DeviceId)
        .ok_or_else(|| ApiError::bad_request("a device id (smartlockId) is a positive integer"))
}

pub(super) fn setup_id(text: &str) -> Result<SetupId, ApiError> {
    SetupId::is_well_formed(text)
        .then(|| SetupId(text.to_owned()))
        .ok_or_else(|| ApiError::bad_request("a set-up id is 32 lowercase hex digits"))
}

fn positive(text: &str) -> Option<i64> {
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok().filter(|id| *id > 0)
}

/// For optional fields of a change: absent → `None` (keep), `null` → `Some(None)` (clear).
pub(super) fn nullable<'de, D, T>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(deserializer).map(Some)
}
