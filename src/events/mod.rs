//! The activity log: every action through the gateway, every entry of the devices' own logs,
//! state and connectivity changes, battery warnings, permission changes and provisioning
//! results, anonymized once here before anything is stored, kept in the store with retention
//! by count and by age, and read by the interfaces (`GET /api/v1/events`, the Bridge `/log`)
//! and by publishers through a persisted cursor (the log is their outbox).
//!
//! Privacy: an action of a resident (a person with a residential unit) is stored without
//! anything that tells which resident it was; see [`anonymize`].

mod anonymize;
mod directory;
mod error;
mod log;
mod model;
mod outbox;
mod recorder;
mod settings;
mod translate;

pub use error::EventsError;
pub use log::{EventFilter, EventLog};
pub use model::{
    Actor, DeviceLogPosition, DeviceRef, Event, EventKind, Outcome, OutcomeResult, PermissionRef,
    StateFields, StoredEvent,
};
pub use outbox::{CursorWriter, Subscription, DROPPED_METRIC};
pub use recorder::{Recorder, MAX_BATCH};
pub use settings::EventSettings;
