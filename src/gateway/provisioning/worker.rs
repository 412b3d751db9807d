//! Brings one device in line with its plan: its time zone first (when an entry reads local
//! time), then its keypad codes and authorization entries, each checked against what the
//! device lists, so an entry whose first write was cut off is found again instead of doubled.
//! Every outcome is stored at once, so a restart knows what the device holds.

use crate::access::DeviceId;
use crate::ble::DeviceAddress;
use crate::devices::admin_ops::{self, ConfigChange, JobSpec};
use crate::devices::outcome::Failure;
use crate::devices::slots::Priority;
use crate::nuki::enums::ErrorCode;
use crate::nuki::messages::{
    AccessCode, AuthorizationEntry, KeypadCode, KeypadCodeUpdate, NewKeypadCode,
    UserAuthorizationUpdate,
};
use crate::store::Table;

use super::super::{Gateway, GatewayEvent, ProvisioningOutcome};
use super::desired::{Desired, DevicePlan, Item};
use super::record::{EntryKind, Record, RecordState, REMOVAL};

/// How one item ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Applied {
        device_entry: u32,
    },
    Removed,
    /// Not done; try again later.
    Pending {
        device_entry: Option<u32>,
    },
    /// The device (or the permission itself) says no; wait for a change.
    Failed {
        reason: String,
        device_entry: Option<u32>,
    },
}

/// What became of a step that could not run: retried later, or refused for good.
#[derive(Debug, Clone)]
enum Setback {
    Retry,
    Refused(String),
}

impl Setback {
    fn of(failure: &Failure, what: &str) -> Self {
        match failure {
            Failure::Refused { code } if !worth_retrying(*code) => {
                Setback::Refused(format!("{what}: {} ({})", code.meaning(), code.name()))
            }
            _ => Setback::Retry,
        }
    }

    fn step(&self, device_entry: Option<u32>) -> Step {
        match self {
            Setback::Retry => Step::Pending { device_entry },
            Setback::Refused(reason) => Step::Failed {
                reason: reason.clone(),
                device_entry,
            },
        }
    }
}

/// Refusals about the gateway's own session rather than the entry: they pass.
fn worth_retrying(code: ErrorCode) -> bool {
    matches!(
        code,
        ErrorCode::KErrorNotAuthorized
            | ErrorCode::KErrorBadPin
            | ErrorCode::KErrorBadNonce
            | ErrorCode::KErrorTooManyPinAttempts
            | ErrorCode::KErrorDisabled
            | ErrorCode::KErrorTimeNotAllowed
            | ErrorCode::KErrorBusy
            | ErrorCode::ErrorBadCrc
            | ErrorCode::ErrorBadLength
    )
}

/// Works through the device's plan; answers whether work is left to retry later.
pub(super) async fn reconcile(gateway: &Gateway, plan: DevicePlan, address: DeviceAddress) -> bool {
    let items: Vec<Item> = plan.items.into_iter().filter(Item::needs_work).collect();
    if items.is_empty() {
        return false;
    }
    let own_authorization = gateway.fleet.credentials(&address).map(|c| c.auth_id);
    let mut run = Run {
        gateway,
        device: plan.device,
        job: JobSpec {
            address,
            priority: Priority::Background,
            deadline: gateway.provisioning.tuning.step_deadline,
        },
        own_authorization,
        pending_left: false,
        overtaken: false,
    };
    let zone = items
        .iter()
        .filter_map(|item| item.desired.as_ref().and_then(|d| d.zone))
        .next();
    let mut zone_setback = None;
    if let Some(zone) = zone {
        let change = ConfigChange {
            zone: Some(zone),
            ..ConfigChange::default()
        };
        match admin_ops::change_config(&gateway.fleet, &run.job, change).await {
            Ok(true) => {
                tracing::info!(device = %plan.device, offset_minutes = zone.offset_minutes, zone_id = zone.zone_id, "device time zone set for its permissions")
            }
            Ok(false) => {}
            Err(failure) => {
                zone_setback = Some(Setback::of(
                    &failure,
                    "the device refused the address's time zone",
                ))
            }
        }
    }
    let (keypad, authorizations): (Vec<Item>, Vec<Item>) = items
        .into_iter()
        .partition(|item| item.entry() == Some(EntryKind::KeypadCode));
    if !keypad.is_empty() {
        run.keypad(keypad, zone_setback.as_ref()).await;
    }
    if !authorizations.is_empty() {
        run.authorizations(authorizations, zone_setback.as_ref())
            .await;
    }
    if run.overtaken {
        gateway.provisioning.wake();
    }
    run.pending_left
}

struct Run<'a> {
    gateway: &'a Gateway,
    device: DeviceId,
    job: JobSpec,
    own_authorization: Option<u32>,
    pending_left: bool,
    /// A record changed under this run; another run follows.
    overtaken: bool,
}

impl Run<'_> {
    async fn keypad(&mut self, items: Vec<Item>, zone_setback: Option<&Setback>) {
        let codes = match admin_ops::keypad_codes(&self.gateway.fleet, &self.job).await {
            Ok(codes) => codes,
            Err(failure) => {
                let setback = Setback::of(&failure, "the device refused to list its keypad codes");
                for item in items {
                    let entry = item.record.as_ref().and_then(|r| r.device_entry);
                    self.conclude(&item, setback.step(entry), None).await;
                }
                return;
            }
        };
        for item in items {
            let record = item.record.as_ref();
            let (step, code) = match (&item.desired, zone_setback) {
                (Some(desired), Some(setback)) if desired.zone.is_some() => {
                    (setback.step(record.and_then(|r| r.device_entry)), None)
                }
                (Some(desired), _) => self.write_code(desired, record, &codes).await,
                (None, _) => (self.remove_code(record, &codes).await, None),
            };
            self.conclude(&item, step, code).await;
        }
    }

    /// Adds or updates one keypad code; answers the step and the code now possibly on the
    /// device.
    async fn write_code(
        &self,
        desired: &Desired,
        record: Option<&Record>,
        codes: &[KeypadCode],
    ) -> (Step, Option<u32>) {
        let known_entry = record.and_then(|r| r.device_entry);
        if let Some(problem) = &desired.problem {
            return (
                Step::Failed {
                    reason: problem.clone(),
                    device_entry: known_entry,
                },
                None,
            );
        }
        let Some(code) = desired.code else {
            return (Setback::Retry.step(known_entry), None);
        };
        let written = record.and_then(|r| r.written_code);
        let by_id = known_entry.and_then(|id| {
            codes.iter().find(|entry| {
                u32::from(entry.code_id) == id
                    && (Some(entry.code.0) == written || entry.code.0 == code)
            })
        });
        let found = by_id.or_else(|| codes.iter().find(|entry| entry.code.0 == code));
        let Some(existing) = found else {
            return (self.add_code(desired, code).await, Some(code));
        };
        let ours = by_id.is_some() || existing.name == desired.name || written == Some(code);
        if !ours {
            return (
                Step::Failed {
                    reason: "the keypad code is already in use on the device".into(),
                    device_entry: None,
                },
                None,
            );
        }
        let code_id = existing.code_id;
        if code_matches(existing, desired, code) {
            return (
                Step::Applied {
                    device_entry: u32::from(code_id),
                },
                Some(code),
            );
        }
        let step = self.update_code(desired, code, code_id).await;
        (step, Some(code))
    }

    async fn add_code(&self, desired: &Desired, code: u32) -> Step {
        let new = NewKeypadCode {
            code: AccessCode(code),
            name: desired.name.clone(),
            time_limited: desired.time_limited,
            allowed: desired.window,
        };
        match admin_ops::add_keypad_code(&self.gateway.fleet, &self.job, new).await {
            // A new code starts enabled; a disabled permission needs one more write.
            Ok(code_id) if !desired.enabled => self.update_code(desired, code, code_id).await,
            Ok(code_id) => Step::Applied {
                device_entry: u32::from(code_id),
            },
            Err(failure) => Setback::of(&failure, "the device refused the keypad code").step(None),
        }
    }

    async fn update_code(&self, desired: &Desired, code: u32, code_id: u16) -> Step {
        let update = KeypadCodeUpdate {
            code_id,
            code: AccessCode(code),
            name: desired.name.clone(),
            enabled: desired.enabled,
            time_limited: desired.time_limited,
            allowed: desired.window,
        };
        match admin_ops::update_keypad_code(&self.gateway.fleet, &self.job, update).await {
            Ok(()) => Step::Applied {
                device_entry: u32::from(code_id),
            },
            Err(failure) => Setback::of(&failure, "the device refused the keypad code change")
                .step(Some(u32::from(code_id))),
        }
    }

    async fn remove_code(&self, record: Option<&Record>, codes: &[KeypadCode]) -> Step {
        let Some(record) = record else {
            return Step::Removed;
        };
        let written = record.written_code;
        let found = record
            .device_entry
            .and_then(|id| {
                codes.iter().find(|entry| {
                    u32::from(entry.code_id) == id
                        && written.is_none_or(|code| entry.code.0 == code)
                })
            })
            .or_else(|| written.and_then(|code| codes.iter().find(|entry| entry.code.0 == code)));
        let Some(existing) = found else {
            return Step::Removed;
        };
        let code_id = existing.code_id;
        match admin_ops::remove_keypad_code(&self.gateway.fleet, &self.job, code_id).await {
            Ok(()) => Step::Removed,
            Err(failure) => Setback::of(&failure, "the device refused to remove the keypad code")
                .step(Some(u32::from(code_id))),
        }
    }

    async fn authorizations(&mut self, items: Vec<Item>, zone_setback: Option<&Setback>) {
        let entries = match admin_ops::authorizations(&self.gateway.fleet, &self.job).await {
            Ok(entries) => entries,
            Err(failure) => {
                let setback =
                    Setback::of(&failure, "the device refused to list its authorizations");
                for item in items {
                    let entry = item.record.as_ref().and_then(|r| r.device_entry);
                    self.conclude(&item, setback.step(entry), None).await;
                }
                return;
            }
        };
        for item in items {
            let linked = item
                .record
                .as_ref()
                .and_then(|r| r.device_entry)
                .filter(|id| Some(*id) != self.own_authorization);
            let found = linked.and_then(|id| entries.iter().find(|e| e.auth_id == id));
            let step = match (&item.desired, zone_setback) {
                (Some(desired), Some(setback)) if desired.zone.is_some() => setback.step(linked),
                (Some(desired), _) => self.write_authorization(desired, linked, found).await,
                (None, _) => match found {
                    None => Step::Removed,
                    Some(entry) => self.remove_authorization(entry.auth_id).await,
                },
            };
            self.conclude(&item, step, None).await;
        }
    }

    async fn write_authorization(
        &self,
        desired: &Desired,
        linked: Option<u32>,
        found: Option<&AuthorizationEntry>,
    ) -> Step {
        let failed = |reason: &str| Step::Failed {
            reason: reason.into(),
            device_entry: linked,
        };
        if linked.is_none() {
            return failed(
                "no authorization entry on the device is linked to this permission (pair the app or fob with the device, then link its entry)",
            );
        }
        let Some(entry) = found else {
            return failed("the linked authorization entry is no longer on the device");
        };
        if authorization_matches(entry, desired) {
            return Step::Applied {
                device_entry: entry.auth_id,
            };
        }
        let update = UserAuthorizationUpdate {
            auth_id: entry.auth_id,
            name: desired.name.clone(),
            enabled: desired.enabled,
            remote_allowed: desired.remote_allowed,
            time_limited: desired.time_limited,
            allowed: desired.window,
        };
        match admin_ops::update_authorization(&self.gateway.fleet, &self.job, update).await {
            Ok(()) => Step::Applied {
                device_entry: entry.auth_id,
            },
            Err(failure) => Setback::of(&failure, "the device refused the authorization change")
                .step(Some(entry.auth_id)),
        }
    }

    async fn remove_authorization(&self, auth_id: u32) -> Step {
        match admin_ops::remove_authorization(&self.gateway.fleet, &self.job, auth_id).await {
            Ok(()) => Step::Removed,
            // Gone already (someone removed it in the app): what removal wanted.
            Err(Failure::Refused {
                code: ErrorCode::KErrorInvalidAuthId,
            }) => Step::Removed,
            Err(failure) => Setback::of(&failure, "the device refused to remove the authorization")
                .step(Some(auth_id)),
        }
    }

    /// Stores how an item ended. `code`: the keypad code that may now be on the device.
    async fn conclude(&mut self, item: &Item, step: Step, code: Option<u32>) {
        let Some(permission) = item.permission().cloned() else {
            return;
        };
        let Some(entry) = item.entry() else {
            return;
        };
        let now = self.gateway.now_unix();
        let key = super::record::key(&permission, self.device);
        // The permission is not named: a resident's permission id in the log would tell who
        // holds which entry. Its provisioning state is in the management API.
        match &step {
            Step::Applied { .. } | Step::Removed => {
                tracing::info!(device = %self.device, ?entry, outcome = ?step_name(&step), "provisioned")
            }
            Step::Pending { .. } => {
                tracing::debug!(device = %self.device, "provisioning left pending")
            }
            Step::Failed { reason, .. } => {
                tracing::warn!(device = %self.device, %reason, "provisioning refused")
            }
        }
        let reported = match &step {
            Step::Applied { .. } => Some(ProvisioningOutcome::Applied),
            Step::Removed => Some(ProvisioningOutcome::Removed),
            Step::Failed { reason, .. } => Some(ProvisioningOutcome::Failed {
                reason: reason.clone(),
            }),
            Step::Pending { .. } => None,
        };
        let (state, device_entry) = match step {
            Step::Removed => (None, None),
            Step::Applied { device_entry } => (Some(RecordState::Applied), Some(device_entry)),
            Step::Pending { device_entry } => {
                self.pending_left = true;
                (Some(RecordState::Pending), device_entry)
            }
            Step::Failed {
                reason,
                device_entry,
            } => (Some(RecordState::Failed { reason }), device_entry),
        };
        let record = state.map(|state| {
            self.next_record(item, &permission, entry, now, state, device_entry, code)
        });
        // Written only over what the plan saw: a link made or a record written by an earlier
        // run meanwhile is newer than this run's view, and the next run starts from it.
        let expected = item.record.clone();
        let stored = super::in_store(self.gateway.store.clone(), move |store| {
            store.write(|tx| {
                let current: Option<Record> = tx.get(Table::Provisioning, &key)?;
                if current != expected {
                    return Ok(false);
                }
                match &record {
                    Some(record) => tx.put(Table::Provisioning, &key, record)?,
                    None => {
                        tx.remove(Table::Provisioning, &key)?;
                    }
                }
                Ok(true)
            })
        })
        .await;
        match stored {
            Ok(true) => {
                if let Some(outcome) = reported {
                    let _ = self.gateway.events.send(GatewayEvent::ProvisioningResult {
                        permission,
                        device: self.device,
                        outcome,
                    });
                }
            }
            Ok(false) => {
                self.overtaken = true;
                tracing::debug!(device = %self.device, "provisioning record changed during the run; run again");
            }
            Err(error) => {
                // The device changed but the gateway forgot: the next run lists the device
                // and finds its entry again.
                self.pending_left = true;
                tracing::warn!(device = %self.device, %error, "provisioning outcome not stored");
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn next_record(
        &self,
        item: &Item,
        permission: &crate::access::PermissionId,
        entry: EntryKind,
        now: i64,
        state: RecordState,
        device_entry: Option<u32>,
        code: Option<u32>,
    ) -> Record {
        let mut record = item
            .record
            .clone()
            .unwrap_or_else(|| Record::new(self.device, permission.clone(), entry));
        let target = item
            .desired
            .as_ref()
            .map_or_else(|| REMOVAL.to_owned(), Desired::fingerprint);
        record.attempts = if record.target == target {
            record.attempts.saturating_add(1)
        } else {
            1
        };
        record.target = target;
        record.state = state;
        record.last_attempt = Some(now);
        if device_entry.is_some() {
            record.device_entry = device_entry;
        }
        if code.is_some() {
            record.written_code = code;
        }
        record
    }
}

fn step_name(step: &Step) -> &'static str {
    match step {
        Step::Applied { .. } => "applied",
        Step::Removed => "removed",
        Step::Pending { .. } => "pending",
        Step::Failed { .. } => "failed",
    }
}

fn code_matches(existing: &KeypadCode, desired: &Desired, code: u32) -> bool {
    existing.code.0 == code
        && existing.name == desired.name
        && existing.enabled == desired.enabled
        && existing.time_limited == desired.time_limited
        && (!desired.time_limited || existing.allowed == Some(desired.window))
}

fn authorization_matches(existing: &AuthorizationEntry, desired: &Desired) -> bool {
    existing.name == desired.name
        && existing.enabled == desired.enabled
        && existing.remote_allowed == desired.remote_allowed
        && existing.time_limited == desired.time_limited
        && (!desired.time_limited || existing.allowed == Some(desired.window))
}
