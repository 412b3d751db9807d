//! `/api/v1/people`: who holds permissions, the owner's own people or residents of a unit.
//! Needs `manage_users`.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::access::{Person, UnitId};
use crate::gateway::{PersonChange, PersonDraft};

use super::auth::Caller;
use super::body::ApiJson;
use super::calls::{on_store, person_id, ApiQuery};
use super::error::{ApiError, ErrorBody};
use super::paging::{Page, PageQuery};
use super::SharedState;

/// A person (Nuki Web account user).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonBody {
    /// Nuki Web `accountUserId`.
    pub id: i64,
    pub name: String,
    /// Set for residents: their permissions stay within this unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit_id: Option<String>,
}

impl From<Person> for PersonBody {
    fn from(person: Person) -> Self {
        Self {
            id: person.id.0,
            name: person.name,
            unit_id: person.unit.map(|unit| unit.0),
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewPerson {
    /// 1–32 characters.
    pub name: String,
    /// Makes the person a resident of this unit (fixed afterwards).
    #[serde(default)]
    pub unit_id: Option<String>,
}

/// Only the fields sent are changed; a person's unit is fixed.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PersonPatch {
    #[serde(default)]
    pub name: Option<String>,
}

/// What went with a deleted person.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PersonRemoved {
    pub permissions_removed: usize,
}

/// The people, in id order.
#[utoipa::path(
    get,
    path = "/api/v1/people",
    tag = "people",
    params(PageQuery),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "A page of people", body = Page<PersonBody>),
        (status = 400, description = "Bad limit or cursor", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_users`", body = ErrorBody),
    )
)]
pub(super) async fn list_people(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Page<PersonBody>>, ApiError> {
    let (limit, after) = (query.limit()?, query.after()?);
    let keyed = on_store(&state, move |gateway| {
        gateway.people(&principal, after.as_deref(), limit + 1)
    })
    .await?;
    let keyed = keyed.into_iter().map(|(k, v)| (k, v.into())).collect();
    Ok(Json(Page::from_keyed(keyed, limit)))
}

/// Adds a person.
#[utoipa::path(
    post,
    path = "/api/v1/people",
    tag = "people",
    request_body = NewPerson,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "Created", body = PersonBody),
        (status = 400, description = "Not JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_users`", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "A field missing, unknown or of the wrong type; invalid name or unknown unit", body = ErrorBody),
    )
)]
pub(super) async fn create_person(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<NewPerson>,
) -> Result<(StatusCode, Json<PersonBody>), ApiError> {
    let draft = PersonDraft {
        name: body.name,
        unit: body.unit_id.map(UnitId),
    };
    let person = on_store(&state, move |gateway| {
        gateway.create_person(&principal, draft)
    })
    .await?;
    Ok((StatusCode::CREATED, Json(person.into())))
}

/// One person.
#[utoipa::path(
    get,
    path = "/api/v1/people/{personId}",
    tag = "people",
    params(("personId" = i64, Path, description = "The person's id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The person", body = PersonBody),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_users`", body = ErrorBody),
        (status = 404, description = "No such person", body = ErrorBody),
    )
)]
pub(super) async fn get_person(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<PersonBody>, ApiError> {
    let id = person_id(&id)?;
    let person = on_store(&state, move |gateway| gateway.person(&principal, id)).await?;
    Ok(Json(person.into()))
}

/// Renames a person.
#[utoipa::path(
    patch,
    path = "/api/v1/people/{personId}",
    tag = "people",
    params(("personId" = i64, Path, description = "The person's id")),
    request_body = PersonPatch,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Changed", body = PersonBody),
        (status = 400, description = "Malformed id, or not JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_users`", body = ErrorBody),
        (status = 404, description = "No such person", body = ErrorBody),
        (status = 413, description = "Body too large", body = ErrorBody),
        (status = 415, description = "Not `application/json`", body = ErrorBody),
        (status = 422, description = "A field unknown or of the wrong type; invalid name", body = ErrorBody),
    )
)]
pub(super) async fn patch_person(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<PersonPatch>,
) -> Result<Json<PersonBody>, ApiError> {
    let id = person_id(&id)?;
    let change = PersonChange { name: body.name };
    let person = on_store(&state, move |gateway| {
        gateway.change_person(&principal, id, change)
    })
    .await?;
    Ok(Json(person.into()))
}

/// Deletes a person with every permission of theirs.
#[utoipa::path(
    delete,
    path = "/api/v1/people/{personId}",
    tag = "people",
    params(("personId" = i64, Path, description = "The person's id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Deleted, with how many permissions went", body = PersonRemoved),
        (status = 400, description = "Malformed id", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `manage_users`", body = ErrorBody),
        (status = 404, description = "No such person", body = ErrorBody),
    )
)]
pub(super) async fn delete_person(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<PersonRemoved>, ApiError> {
    let id = person_id(&id)?;
    let removed = on_store(&state, move |gateway| gateway.delete_person(&principal, id)).await?;
    Ok(Json(PersonRemoved {
        permissions_removed: removed,
    }))
}
