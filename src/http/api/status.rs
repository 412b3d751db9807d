//! `GET /api/v1/status`: how the gateway is doing.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::access::{ClockTrust, UntrustedReason};
use crate::ble::radios::RadioKind;
use crate::gateway::RadiosView;

use super::auth::Caller;
use super::error::{ApiError, ErrorBody};
use super::SharedState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    /// The version of nuki-edge.
    pub version: String,
    /// The time the gateway goes by (Unix seconds): never before a time it already saw.
    pub time: i64,
    pub clock: ClockStatus,
    /// Paired devices the caller may see.
    pub devices: usize,
    /// The radios: local adapters, ESPHome proxies, simulated radios.
    pub radios: Vec<RadioStatus>,
    /// Which radio serves each paired device the caller may see, and why.
    pub routes: Vec<RouteStatus>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RadioStatus {
    pub name: String,
    /// `bluez`, `esphome_proxy` or `simulated`.
    #[schema(value_type = String)]
    pub kind: RadioKind,
    /// False once its advertisements stopped (the radio went away).
    pub up: bool,
    /// The gateway's links through it now.
    pub links: usize,
    /// The gateway's links it may hold at once (a proxy's own limit where it reports one).
    pub link_slots: usize,
    /// Slots the proxy itself reports free (other clients use them too); absent for radios
    /// that do not report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reported_free: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RouteStatus {
    /// The device's management id (Nuki Web `smartlockId`).
    pub device_id: u64,
    pub name: String,
    /// The radio serving it; absent while no radio hears it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub radio: Option<String>,
    /// Why that radio: pinned, hears it best, took over from another, …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Every radio that heard it lately, strongest first.
    pub heard_by: Vec<HearingStatus>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HearingStatus {
    pub radio: String,
    /// Smoothed signal strength, dBm.
    pub rssi: f64,
    /// The last advertisement's signal strength, dBm.
    pub last_rssi: i16,
    /// Milliseconds since it last heard the device.
    pub heard_ago_ms: u64,
    /// Its last connect to the device failed lately (it is tried last).
    pub connect_failed: bool,
}

fn radios_of(view: Option<RadiosView>) -> (Vec<RadioStatus>, Vec<RouteStatus>) {
    let Some(view) = view else {
        return (Vec::new(), Vec::new());
    };
    let radios = view
        .radios
        .into_iter()
        .map(|radio| RadioStatus {
            name: radio.id.0,
            kind: radio.kind,
            up: radio.up,
            links: radio.links,
            link_slots: radio.link_slots,
            reported_free: radio.reported_free,
        })
        .collect();
    let routes = view
        .routes
        .into_iter()
        .map(|(device, route)| RouteStatus {
            device_id: device.id.0,
            name: device.name,
            radio: route.radio.map(|radio| radio.0),
            reason: route.reason.map(|reason| reason.to_string()),
            heard_by: route
                .heard_by
                .into_iter()
                .map(|hearing| HearingStatus {
                    radio: hearing.radio.0,
                    rssi: (hearing.rssi * 10.0).round() / 10.0,
                    last_rssi: hearing.last_rssi,
                    heard_ago_ms: u64::try_from(hearing.heard_ago.as_millis()).unwrap_or(u64::MAX),
                    connect_failed: hearing.penalized,
                })
                .collect(),
        })
        .collect();
    (radios, routes)
}

/// Whether the gateway believes its clock. While it does not, time-limited permissions
/// are refused (fail closed); unlimited ones and account access still work.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClockStatus {
    pub trusted: bool,
    /// Why not: `before_last_known_time` or `before_build_date`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub reason: Option<UntrustedReason>,
}

impl From<ClockTrust> for ClockStatus {
    fn from(trust: ClockTrust) -> Self {
        match trust {
            ClockTrust::Trusted => ClockStatus {
                trusted: true,
                reason: None,
            },
            ClockTrust::Untrusted { reason } => ClockStatus {
                trusted: false,
                reason: Some(reason),
            },
        }
    }
}

/// How the gateway is doing.
#[utoipa::path(
    get,
    path = "/api/v1/status",
    tag = "status",
    security(("bearer" = []), ("session" = [])),
    responses(
        (status = 200, description = "The gateway's status", body = Status),
        (status = 401, description = "No valid credential", body = ErrorBody),
    )
)]
pub(super) async fn status(
    State(state): State<SharedState>,
    Caller(principal): Caller,
) -> Result<Json<Status>, ApiError> {
    let gateway = &state.gateway;
    let (time, trust) = gateway.time();
    let (radios, routes) = radios_of(gateway.radios(&principal));
    Ok(Json(Status {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        time,
        clock: trust.into(),
        devices: gateway.devices(&principal).len(),
        radios,
        routes,
    }))
}
