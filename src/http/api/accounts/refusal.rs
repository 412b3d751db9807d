//! Account refusals in the API's error shape, with `Retry-After` on a lockout.

use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::gateway::AccountError;

use super::super::ApiError;

/// An error answer of the account routes.
#[derive(Debug)]
pub struct Refused {
    error: ApiError,
    retry_after_s: Option<u64>,
}

impl From<ApiError> for Refused {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            retry_after_s: None,
        }
    }
}

impl From<AccountError> for Refused {
    fn from(refusal: AccountError) -> Self {
        let message = refusal.to_string();
        let error = match &refusal {
            AccountError::Denied(reason) => ApiError::denied(reason),
            AccountError::NotAnAccount => {
                ApiError::new(StatusCode::FORBIDDEN, "not_an_account", message)
            }
            AccountError::OwnerOnly => ApiError::new(StatusCode::FORBIDDEN, "owner_only", message),
            AccountError::LocalOnly => ApiError::new(StatusCode::FORBIDDEN, "local_only", message),
            AccountError::WrongPassword => {
                ApiError::new(StatusCode::FORBIDDEN, "wrong_password", message)
            }
            AccountError::WrongCode => ApiError::new(StatusCode::FORBIDDEN, "wrong_code", message),
            AccountError::UnknownAccount(_)
            | AccountError::UnknownEmail
            | AccountError::UnknownToken(_) => ApiError::not_found(message),
            AccountError::EmailTaken
            | AccountError::OwnerExists
            | AccountError::OwnerUndeletable
            | AccountError::OwnerRights
            | AccountError::TotpEnabled
            | AccountError::TotpDisabled
            | AccountError::TotpNotEnrolled => ApiError::conflict(message),
            AccountError::Invalid(_) => ApiError::invalid(message),
            AccountError::LoginFailed => {
                ApiError::new(StatusCode::UNAUTHORIZED, "login_failed", message)
            }
            AccountError::TotpRequired => {
                ApiError::new(StatusCode::UNAUTHORIZED, "totp_required", message)
            }
            AccountError::LockedOut { .. } => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "locked_out", message)
            }
            AccountError::Store(error) => {
                tracing::error!(%error, "account request failed in the store");
                ApiError::internal("the store failed; see the gateway's log")
            }
            AccountError::Hashing(_) => ApiError::internal(message),
        };
        let retry_after_s = match refusal {
            AccountError::LockedOut { retry_after_s } => Some(retry_after_s),
            _ => None,
        };
        Self {
            error,
            retry_after_s,
        }
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        let mut response = self.error.into_response();
        if let Some(seconds) = self.retry_after_s {
            if let Ok(value) = HeaderValue::from_str(&seconds.max(1).to_string()) {
                response.headers_mut().insert(RETRY_AFTER, value);
            }
        }
        response
    }
}
