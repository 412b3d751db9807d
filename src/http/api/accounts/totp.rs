//! `/api/v1/account/totp`: two-factor login of the caller's account.

use axum::extract::State;
use axum::http::header::CACHE_CONTROL;
use axum::http::{HeaderValue, StatusCode};
use axum::Json;

use crate::gateway::Proof;

use super::super::auth::Caller;
use super::super::error::{ApiError, ErrorBody};
use super::super::{ApiJson, SharedState};
use super::schemas::{Account, TotpCode, TotpDisable, TotpEnrollmentJson};
use super::Refused;

/// Starts two-factor enrolment: a new secret, shown this once. Login needs codes only after
/// the confirmation. A pending enrolment is replaced.
#[utoipa::path(
    post,
    path = "/api/v1/account/totp",
    tag = "account",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 201, description = "The secret for the authenticator app", body = TotpEnrollmentJson),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The credential is not an account's", body = ErrorBody),
        (status = 409, description = "Two-factor login is on already", body = ErrorBody),
    )
)]
pub(super) async fn enroll(
    State(state): State<SharedState>,
    Caller(principal): Caller,
) -> Result<
    (
        StatusCode,
        [(axum::http::HeaderName, HeaderValue); 1],
        Json<TotpEnrollmentJson>,
    ),
    Refused,
> {
    let enrollment = state.gateway.enroll_totp(&principal)?;
    Ok((
        StatusCode::CREATED,
        [(CACHE_CONTROL, HeaderValue::from_static("no-store"))],
        Json(TotpEnrollmentJson {
            secret: enrollment.secret,
            otpauth_url: enrollment.otpauth_url,
        }),
    ))
}

/// Turns two-factor login on with a current code of the enrolled secret.
#[utoipa::path(
    post,
    path = "/api/v1/account/totp/confirm",
    tag = "account",
    request_body = TotpCode,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Two-factor login is on", body = Account),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The code is wrong or was used already, or the credential is not an account's", body = ErrorBody),
        (status = 409, description = "No enrolment was started, or two-factor login is on already", body = ErrorBody),
        (status = 413, description = "The body is larger than the gateway accepts", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "A field is missing, unknown or of the wrong type", body = ErrorBody),
        (status = 429, description = "Locked after repeated failures", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the next attempt"))),
    )
)]
pub(super) async fn confirm(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<TotpCode>,
) -> Result<Json<Account>, Refused> {
    Ok(Json(
        state.gateway.confirm_totp(&principal, &body.code)?.into(),
    ))
}

/// Turns two-factor login off, proven with a current code or the password.
#[utoipa::path(
    delete,
    path = "/api/v1/account/totp",
    tag = "account",
    request_body = TotpDisable,
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "Two-factor login is off", body = Account),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "The code or password is wrong, or the credential is not an account's", body = ErrorBody),
        (status = 409, description = "Two-factor login is not on", body = ErrorBody),
        (status = 413, description = "The body is larger than the gateway accepts", body = ErrorBody),
        (status = 415, description = "The body is not JSON", body = ErrorBody),
        (status = 422, description = "Not exactly one of `code` and `password`, or a field unknown or of the wrong type", body = ErrorBody),
        (status = 429, description = "Locked after repeated failures", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds until the next attempt"))),
    )
)]
pub(super) async fn disable(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<TotpDisable>,
) -> Result<Json<Account>, Refused> {
    let proof = match (body.code, body.password) {
        (Some(code), None) => Proof::TotpCode(code),
        (None, Some(password)) => Proof::Password(password),
        _ => return Err(ApiError::invalid("send exactly one of `code` and `password`").into()),
    };
    Ok(Json(
        state.gateway.disable_totp(&principal, proof).await?.into(),
    ))
}
