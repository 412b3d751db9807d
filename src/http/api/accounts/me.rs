//! `/api/v1/account`: the caller's own account, its e-mail address and password.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::Json;

use super::super::auth::Caller;
use super::super::error::ErrorBody;
use super::super::{ApiJson, SharedState};
use super::schemas::{Account, EmailChange, PasswordChange};
use super::{presented_session, Refused};

/// The caller's own account.
#[utoipa::path(
    get,
    path = "/api/v1/account",
    tag = "account",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The caller's account", body = Account),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The credential is not an account's", body = ErrorBody),
    )
)]
pub(super) async fn own_account(
    State(state): State<SharedState>,
    Caller(principal): Caller,
) -> Result<Json<Account>, Refused> {
    Ok(Json(state.gateway.own_account(&principal)?.into()))
}

/// Changes the caller's e-mail address; the account's other sessions end.
#[utoipa::path(
    post,
    path = "/api/v1/account/email",
    tag = "account",
    request_body = EmailChange,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The changed account", body = Account),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The password is wrong, or the credential is not an account's", body = ErrorBody),
        (status = 409, description = "Another account has this e-mail address", body = ErrorBody),
        (status = 413, description = "The body is larger than the gateway accepts", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "A field is missing, unknown, of the wrong type, or the address is invalid", body = ErrorBody),
        (status = 429, description = "Locked after repeated failures", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the next attempt"))),
    )
)]
pub(super) async fn change_email(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<EmailChange>,
) -> Result<Json<Account>, Refused> {
    let session = presented_session(&headers);
    let view = state
        .gateway
        .change_own_email(
            &principal,
            session.as_deref(),
            body.password,
            &body.new_email,
        )
        .await?;
    Ok(Json(view.into()))
}

/// Changes the caller's password; the account's other sessions end.
#[utoipa::path(
    post,
    path = "/api/v1/account/password",
    tag = "account",
    request_body = PasswordChange,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The changed account", body = Account),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The current password is wrong, or the credential is not an account's", body = ErrorBody),
        (status = 413, description = "The body is larger than the gateway accepts", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "A field is missing, unknown, of the wrong type, or the new password is too short or too long", body = ErrorBody),
        (status = 429, description = "Locked after repeated failures", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the next attempt"))),
    )
)]
pub(super) async fn change_password(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<Json<Account>, Refused> {
    let session = presented_session(&headers);
    let view = state
        .gateway
        .change_own_password(
            &principal,
            session.as_deref(),
            body.current_password,
            body.new_password,
        )
        .await?;
    Ok(Json(view.into()))
}
