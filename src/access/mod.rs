//! The rules: who may do what, on which device, when. Pure: no tokio, no I/O, no wall clock.
//!
//! The gateway builds an [`AccessRules`] snapshot from the store (addresses with their time
//! zones, residential units, permissions) and asks [`AccessRules::decide`] before every action,
//! for every interface. Owners, admins and local operators are principals with full grants,
//! not a bypass: they go through the same decision.
//!
//! The objects follow the Nuki Web API (addresses, residential units, authorizations), so a
//! later cloud sync maps them one to one: weekday bitmask 64 = Monday … 1 = Sunday, daily
//! windows in minutes after midnight, dates as instants.
//!
//! Input is checked by [`validate`] before it is stored; [`TrustedTime`] decides which time
//! the gateway goes by and whether time-limited permissions may be honoured.

mod clock_trust;
mod decision;
mod ids;
mod limits;
mod model;
mod principal;
mod rights;
mod rules;
pub mod validate;

pub use clock_trust::{
    ClockTrust, TrustedTime, UntrustedReason, BUILD_FLOOR_UNIX, DEVICE_REPORT_VALID_S,
    PERSIST_EVERY_S, STEP_BACK_TOLERANCE_S,
};
pub use decision::{Action, Decision, DenialReason};
pub use ids::{AccountId, AddressId, DeviceId, PermissionId, PersonId, UnitId};
pub use limits::{DailyWindow, Limits, Weekdays};
pub use model::{Address, Permission, PermissionKind, Person, Scope, Unit};
pub use principal::Principal;
pub use rights::{Capability, Rights};
pub use rules::{AccessRules, RulesError};
