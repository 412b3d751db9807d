//! `GET /api/v1/events`: the activity log, newest first, anonymized when it was stored.
//! Needs `view_activity_log`.

use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::access::Capability;
use crate::events::{EventFilter, EventKind, StoredEvent};

use super::auth::Caller;
use super::calls::ApiQuery;
use super::error::{ApiError, ErrorBody};
use super::paging::{Page, DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE};
use super::SharedState;

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only events of this device (`smartlockId`).
    pub device: Option<u64>,
    /// Only events of devices of this address (building).
    pub address_id: Option<i64>,
    /// Only events of this kind (`action`, `device_action`, `state_changed`, …).
    pub kind: Option<String>,
    /// Only events at or after this time (RFC 3339).
    pub from: Option<String>,
    /// Only events at or before this time (RFC 3339).
    pub until: Option<String>,
    /// Items per page, 1–500 (default 100).
    pub limit: Option<usize>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

fn unix_time(name: &str, text: &str) -> Result<i64, ApiError> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|at| at.unix_timestamp())
        .map_err(|_| ApiError::bad_request(format!("{name} is not an RFC 3339 time")))
}

impl EventQuery {
    fn filter(&self) -> Result<EventFilter, ApiError> {
        let kinds = self
            .kind
            .as_deref()
            .map(|name| {
                EventKind::from_name(name)
                    .map(|kind| vec![kind])
                    .ok_or_else(|| ApiError::bad_request(format!("no event kind is called {name}")))
            })
            .transpose()?;
        Ok(EventFilter {
            device: self.device,
            address_id: self.address_id,
            kinds,
            from: self
                .from
                .as_deref()
                .map(|t| unix_time("from", t))
                .transpose()?,
            until: self
                .until
                .as_deref()
                .map(|t| unix_time("until", t))
                .transpose()?,
            after_id: None,
        })
    }

    fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_PAGE_SIZE),
            Some(limit @ 1..=MAX_PAGE_SIZE) => Ok(limit),
            Some(_) => Err(ApiError::bad_request(format!(
                "limit must be between 1 and {MAX_PAGE_SIZE}"
            ))),
        }
    }

    /// The page starts below this sequence id.
    fn before(&self) -> Result<Option<u64>, ApiError> {
        self.cursor
            .as_deref()
            .map(|cursor| {
                cursor
                    .parse::<u64>()
                    .ok()
                    .filter(|_| cursor.bytes().all(|b| b.is_ascii_digit()))
                    .ok_or_else(|| ApiError::bad_request("the cursor is not one this API gave out"))
            })
            .transpose()
    }
}

/// The activity log, newest first: actions through the gateway and the devices' own, state
/// and connectivity changes, battery warnings, permission changes and provisioning results.
/// Residents' actions carry no name or id.
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    params(EventQuery),
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "A page of events, newest first", body = Page<StoredEvent>),
        (status = 400, description = "Malformed filter, limit or cursor", body = ErrorBody),
        (status = 401, description = "No valid credential", body = ErrorBody),
        (status = 403, description = "Lacks `view_activity_log`", body = ErrorBody),
        (status = 503, description = "The activity log is not running", body = ErrorBody),
    )
)]
pub(super) async fn list_events(
    State(state): State<SharedState>,
    Caller(principal): Caller,
    ApiQuery(query): ApiQuery<EventQuery>,
) -> Result<Json<Page<StoredEvent>>, ApiError> {
    state
        .gateway
        .authorize(&principal, Capability::ViewActivityLog)
        .map_err(|reason| ApiError::denied(&reason))?;
    let (filter, limit, before) = (query.filter()?, query.limit()?, query.before()?);
    let Some(log) = state.events.clone() else {
        return Err(ApiError::new(
            axum::http::StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "the activity log is not running",
        ));
    };
    let mut events = tokio::task::spawn_blocking(move || log.newest(&filter, before, limit + 1))
        .await
        .map_err(|_| ApiError::internal("the request's work ended unexpectedly"))?
        .map_err(|error| {
            tracing::error!(%error, "activity log read failed");
            ApiError::internal("the activity log could not be read")
        })?;
    let more = events.len() > limit;
    events.truncate(limit);
    let next_cursor = more
        .then(|| events.last().map(|event| event.id.to_string()))
        .flatten();
    Ok(Json(Page {
        items: events,
        next_cursor,
    }))
}
