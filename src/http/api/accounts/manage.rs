//! `/api/v1/accounts`: list, create, read, change and delete accounts (`manage_accounts`).

use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::Json;

use crate::access::AccountId;
use crate::gateway::{AccountChange, NewAccount};

use super::super::auth::Caller;
use super::super::error::{ApiError, ErrorBody};
use super::super::{ApiJson, Page, PageQuery, SharedState};
use super::schemas::{Account, AccountPage, AccountPatch, NewAccountBody};
use super::{parse_id, presented_session, Refused};

/// Lists the accounts, by id.
#[utoipa::path(
    get,
    path = "/api/v1/accounts",
    tag = "accounts",
    params(PageQuery),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "A page of accounts", body = AccountPage),
        (status = 400, description = "Bad limit or cursor, or an unknown parameter", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The caller lacks `manage_accounts`", body = ErrorBody),
    )
)]
pub(super) async fn list_accounts(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<AccountPage>, Refused> {
    let Query(query) = query.map_err(|rejection| ApiError::bad_request(rejection.body_text()))?;
    let limit = query.limit()?;
    let after = query.after()?;
    let keyed = state
        .gateway
        .accounts_page(&principal, after.as_deref(), limit + 1)?;
    let page = Page::from_keyed(keyed, limit);
    Ok(Json(AccountPage {
        items: page.items.into_iter().map(Account::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// Creates a sub-account.
#[utoipa::path(
    post,
    path = "/api/v1/accounts",
    tag = "accounts",
    request_body = NewAccountBody,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "The account was created", body = Account),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The caller lacks `manage_accounts`, or a right it grants", body = ErrorBody),
        (status = 409, description = "Another account has this e-mail address", body = ErrorBody),
        (status = 413, description = "The body is larger than the gateway accepts", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "A field is missing, unknown, of the wrong type or invalid (e-mail address, name, password shorter than 10 characters)", body = ErrorBody),
    )
)]
pub(super) async fn create_account(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<NewAccountBody>,
) -> Result<(StatusCode, Json<Account>), Refused> {
    let new = NewAccount {
        email: body.email,
        name: body.name,
        password: body.password,
        rights: body.rights,
    };
    let view = state.gateway.create_account(&principal, new).await?;
    Ok((StatusCode::CREATED, Json(view.into())))
}

/// One account.
#[utoipa::path(
    get,
    path = "/api/v1/accounts/{id}",
    tag = "accounts",
    params(("id" = u64, Path, description = "The account's id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The account", body = Account),
        (status = 400, description = "The id is not a positive integer", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The caller lacks `manage_accounts`", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
    )
)]
pub(super) async fn get_account(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<Json<Account>, Refused> {
    let id = account_id(&id)?;
    Ok(Json(state.gateway.account(&principal, id)?.into()))
}

/// Changes an account's name, e-mail address, rights or password.
#[utoipa::path(
    patch,
    path = "/api/v1/accounts/{id}",
    tag = "accounts",
    params(("id" = u64, Path, description = "The account's id")),
    request_body = AccountPatch,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The changed account", body = Account),
        (status = 400, description = "Malformed JSON, or the id is not a positive integer", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The caller lacks `manage_accounts`, a right it grants or one the account has; or the account is the owner and the caller is not", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "Another account has this e-mail address, or the owner would lose rights", body = ErrorBody),
        (status = 413, description = "The body is larger than the gateway accepts", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "A field is unknown, of the wrong type or invalid", body = ErrorBody),
    )
)]
pub(super) async fn update_account(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    Path(id): Path<String>,
    ApiJson(body): ApiJson<AccountPatch>,
) -> Result<Json<Account>, Refused> {
    let id = account_id(&id)?;
    let change = AccountChange {
        name: body.name,
        email: body.email,
        rights: body.rights,
        password: body.password,
    };
    let session = presented_session(&headers);
    let view = state
        .gateway
        .update_account(&principal, id, change, session.as_deref())
        .await?;
    Ok(Json(view.into()))
}

/// Deletes a sub-account; its sessions and API tokens stop working at once.
#[utoipa::path(
    delete,
    path = "/api/v1/accounts/{id}",
    tag = "accounts",
    params(("id" = u64, Path, description = "The account's id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "The account is gone"),
        (status = 400, description = "The id is not a positive integer", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The caller lacks `manage_accounts` or a right the account has", body = ErrorBody),
        (status = 404, description = "No such account", body = ErrorBody),
        (status = 409, description = "The owner account cannot be deleted", body = ErrorBody),
    )
)]
pub(super) async fn delete_account(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Refused> {
    let id = account_id(&id)?;
    state.gateway.delete_account(&principal, id)?;
    Ok(StatusCode::NO_CONTENT)
}

fn account_id(text: &str) -> Result<AccountId, ApiError> {
    let id = parse_id(text, "account")?;
    Ok(AccountId(i64::try_from(id).unwrap_or(i64::MAX)))
}
