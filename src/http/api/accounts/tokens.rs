//! `/api/v1/account/tokens`: the caller's API tokens. A token acts with its account's
//! rights; it is shown once, at its creation, and stored only as a hash.

use axum::extract::{Path, State};
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::Json;

use super::super::auth::Caller;
use super::super::error::ErrorBody;
use super::super::{ApiJson, SharedState};
use super::schemas::{ApiToken, ApiTokenList, IssuedApiToken, NewApiToken};
use super::{parse_id, Refused};

/// The caller's API tokens, oldest first; never the tokens themselves.
#[utoipa::path(
    get,
    path = "/api/v1/account/tokens",
    tag = "account",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The caller's API tokens", body = ApiTokenList),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The credential is not an account's", body = ErrorBody),
    )
)]
pub(super) async fn list_tokens(
    State(state): State<SharedState>,
    Caller(principal): Caller,
) -> Result<Json<ApiTokenList>, Refused> {
    let tokens = state.gateway.own_api_tokens(&principal)?;
    Ok(Json(ApiTokenList {
        items: tokens.into_iter().map(ApiToken::from).collect(),
    }))
}

/// Issues an API token for the caller's account; the answer is the only time it is shown.
#[utoipa::path(
    post,
    path = "/api/v1/account/tokens",
    tag = "account",
    request_body = NewApiToken,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "The new token, shown this once", body = IssuedApiToken),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The credential is not an account's", body = ErrorBody),
        (status = 413, description = "The body is larger than the gateway accepts", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "The name is missing or invalid, or a field is unknown or of the wrong type", body = ErrorBody),
    )
)]
pub(super) async fn create_token(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<NewApiToken>,
) -> Result<
    (
        StatusCode,
        [(HeaderName, HeaderValue); 1],
        Json<IssuedApiToken>,
    ),
    Refused,
> {
    let issued = state.gateway.issue_own_api_token(&principal, &body.name)?;
    Ok((
        StatusCode::CREATED,
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(IssuedApiToken {
            id: issued.info.id,
            name: issued.info.name,
            created: issued.info.created,
            token: issued.token,
        }),
    ))
}

/// Revokes one of the caller's API tokens; it stops working at once.
#[utoipa::path(
    delete,
    path = "/api/v1/account/tokens/{id}",
    tag = "account",
    params(("id" = u64, Path, description = "The token's id")),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 204, description = "The token is revoked"),
        (status = 400, description = "The id is not a positive integer", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The credential is not an account's", body = ErrorBody),
        (status = 404, description = "The account has no such token", body = ErrorBody),
    )
)]
pub(super) async fn revoke_token(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    Path(id): Path<String>,
) -> Result<StatusCode, Refused> {
    let id = parse_id(&id, "token")?;
    state.gateway.revoke_own_api_token(&principal, id)?;
    Ok(StatusCode::NO_CONTENT)
}
