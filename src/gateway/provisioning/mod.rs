//! Provisioning: keeps the keypad codes and authorization entries on the devices in
//! agreement with the stored permissions, so the devices enforce them on their own.
//!
//! Desired state is recomputed from the store on every run (permissions of kind keypad code
//! and device authorization, their secrets, the building's scopes and zones); applied state
//! is a record per permission and device in `Table::Provisioning`. Because both sides are in
//! the store, queued work survives a restart, and a revocation stored after a change always
//! wins over it. Writes run as background jobs of the device tasks, so users go first.
//!
//! Choices:
//! - A disabled permission stays on the devices as a disabled entry (keypad codes and
//!   authorizations alike): enabling it again needs no new code id, and a mirrored app or
//!   fob authorization, which the gateway cannot create, survives a pause.
//! - A deleted permission, a shrunk scope or a deleted unit removes the entry.
//! - Device authorizations are mirrored, not created: the gateway cannot hand a new app or
//!   fob its key, so an entry made by pairing the app or fob is linked to a permission
//!   ([`Gateway::link_device_authorization`]) and from then on carries its limits, and goes
//!   when the permission goes. Unlinked, the permission shows as failed with that reason.
//! - Devices read weekdays and times of day in their own zone; before an entry with such
//!   limits is written, the device is put in the address's zone (see `window.rs`).

mod desired;
mod record;
mod scheduler;
mod window;
mod worker;

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use crate::access::{Capability, DeviceId, Permission, PermissionId, PermissionKind, Principal};
use crate::devices::admin_ops::{self, JobSpec};
use crate::devices::slots::Priority;
use crate::store::{Store, StoreError, Table};

use super::{DenialReason, Gateway, GatewayResult, Refusal};

pub use scheduler::{Provisioner, ProvisioningTuning};

/// Where one permission stands on one device.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ProvisioningState {
    /// Waiting to be written (the device may be out of range).
    Pending { attempts: u32 },
    /// On the device as stored.
    Applied,
    /// The device refused it; retried only after the permission changes.
    Failed { reason: String, attempts: u32 },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceProvisioning {
    pub device: DeviceId,
    #[serde(flatten)]
    pub state: ProvisioningState,
}

/// An authorization entry as a device lists it, for choosing one to link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeviceAuthorizationEntry {
    pub auth_id: u32,
    /// 0 app, 1 bridge, 2 fob, 3 keypad.
    pub id_type: u8,
    pub name: String,
    pub enabled: bool,
    pub remote_allowed: bool,
    pub time_limited: bool,
    /// The gateway's own authorization: never linked, never changed.
    pub gateway: bool,
    /// The permission it is linked to.
    pub permission: Option<PermissionId>,
}

/// Why an authorization entry could not be linked to a permission.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    #[error("denied: {reason}")]
    Denied { reason: DenialReason },
    #[error("no such permission")]
    UnknownPermission,
    #[error("only device authorization permissions are linked to entries on a device")]
    NotADeviceAuthorization,
    #[error("the device is not in the permission's scope")]
    NotInScope,
    #[error("this is the gateway's own authorization")]
    GatewayAuthorization,
    #[error("the entry is already linked to permission {0}")]
    AlreadyLinked(PermissionId),
    #[error("the store failed: {0}")]
    Store(String),
}

impl Gateway {
    /// Tells provisioning that stored permissions (or the building) changed; it works out
    /// what the devices need from the store.
    pub fn provisioning_changed(&self) {
        self.provisioning.wake();
    }

    /// Where `permission` stands on each device in its scope, and on devices it is still to
    /// be removed from (empty for permissions that live on the gateway only, and for a
    /// deleted permission once every device is rid of it).
    pub fn provisioning_status(&self, permission: &PermissionId) -> Vec<DeviceProvisioning> {
        let now = self.now_unix();
        let zone = &self.provisioning.default_zone;
        match self
            .store
            .read(|tx| desired::status(tx, zone, now, permission))
        {
            Ok(status) => status,
            Err(error) => {
                tracing::warn!(%error, "provisioning status unreadable");
                Vec::new()
            }
        }
    }

    /// [`Self::provisioning_status`] of each of `permissions` (stored ones), in one read.
    pub fn provisioning_statuses(
        &self,
        permissions: &[Permission],
    ) -> Vec<Vec<DeviceProvisioning>> {
        let now = self.now_unix();
        let zone = &self.provisioning.default_zone;
        match self
            .store
            .read(|tx| desired::statuses(tx, zone, now, permissions))
        {
            Ok(statuses) => statuses,
            Err(error) => {
                tracing::warn!(%error, "provisioning status unreadable");
                vec![Vec::new(); permissions.len()]
            }
        }
    }

    /// The authorization entries on a device, read over the radio (for `manage_users`).
    pub async fn device_authorizations(
        &self,
        principal: &Principal,
        device: DeviceId,
    ) -> GatewayResult<Vec<DeviceAuthorizationEntry>> {
        require(principal, Capability::ManageUsers)?;
        let view = self.device_by_id(device).ok_or(Refusal::UnknownDevice)?;
        let own = self.fleet.credentials(&view.address).map(|c| c.auth_id);
        let job = JobSpec {
            address: view.address,
            priority: Priority::User,
            deadline: self.settings.action_deadline,
        };
        let entries = admin_ops::authorizations(&self.fleet, &job).await?;
        let links = self.authorization_links(device).await;
        Ok(entries
            .into_iter()
            .map(|entry| DeviceAuthorizationEntry {
                auth_id: entry.auth_id,
                id_type: entry.id_type.to_u8(),
                name: entry.name,
                enabled: entry.enabled,
                remote_allowed: entry.remote_allowed,
                time_limited: entry.time_limited,
                gateway: Some(entry.auth_id) == own,
                permission: links.get(&entry.auth_id).cloned(),
            })
            .collect())
    }

    /// Links the authorization entry `auth_id` on `device` (an app or fob paired with it) to
    /// a device-authorization permission: from then on the entry carries the permission's
    /// name and limits, and is removed from the device when the permission goes.
    pub async fn link_device_authorization(
        &self,
        principal: &Principal,
        permission: &PermissionId,
        device: DeviceId,
        auth_id: u32,
    ) -> Result<(), LinkRefusal> {
        require(principal, Capability::ManageUsers).map_err(|refusal| match refusal {
            Refusal::Denied { reason } => LinkRefusal::Denied { reason },
            other => LinkRefusal::Store(other.to_string()),
        })?;
        let own = self
            .device_by_id(device)
            .and_then(|view| self.fleet.credentials(&view.address))
            .map(|c| c.auth_id);
        if own == Some(auth_id) {
            return Err(LinkRefusal::GatewayAuthorization);
        }
        let zone = self.provisioning.default_zone.clone();
        let permission = permission.clone();
        let linked = in_store(self.store.clone(), move |store| {
            store.write(|tx| link(tx, &zone, &permission, device, auth_id))
        })
        .await
        .map_err(|error| LinkRefusal::Store(error.to_string()))?;
        linked?;
        self.provisioning_changed();
        Ok(())
    }

    /// A device was heard: if provisioning waits for it, it is tried now.
    pub(super) fn provisioning_heard(&self, address: &crate::ble::DeviceAddress) {
        self.provisioning.heard(address);
    }

    /// Starts provisioning's loop on the gateway's tasks.
    pub(super) fn start_provisioning(self: &Arc<Self>) {
        self.tasks.spawn(scheduler::run(
            Arc::downgrade(self),
            self.provisioning.clone(),
            self.fleet.subscribe(),
            self.shutdown.clone(),
        ));
    }

    /// Works out every device's plan and starts a worker for each paired device with work
    /// that is due.
    async fn provisioning_pass(self: &Arc<Self>) {
        let now = self.now_unix();
        let zone = self.provisioning.default_zone.clone();
        let plans = match in_store(self.store.clone(), move |store| {
            store.read(|tx| desired::plans(tx, &zone, now))
        })
        .await
        {
            Ok(plans) => plans,
            Err(error) => {
                tracing::warn!(%error, "provisioning could not read the store; retried later");
                return;
            }
        };
        let paired: HashMap<DeviceId, crate::ble::DeviceAddress> = self
            .fleet
            .devices()
            .into_iter()
            .map(super::DeviceView::from)
            .map(|view| (view.id, view.address))
            .collect();
        let mut waiting = HashMap::new();
        for plan in plans.into_iter().filter(desired::DevicePlan::has_work) {
            // A device not paired yet is tried when it joins the fleet.
            let Some(address) = paired.get(&plan.device) else {
                continue;
            };
            waiting.insert(address.clone(), plan.device);
            if !self.provisioning.try_start(plan.device) {
                continue;
            }
            let gateway = Arc::clone(self);
            let address = address.clone();
            self.tasks.spawn(async move {
                let device = plan.device;
                let work_left = worker::reconcile(&gateway, plan, address).await;
                gateway.provisioning.finished(device, work_left);
            });
        }
        self.provisioning.set_waiting(waiting);
    }

    /// Which permission each authorization entry of `device` is linked to.
    async fn authorization_links(&self, device: DeviceId) -> HashMap<u32, PermissionId> {
        let found = in_store(self.store.clone(), move |store| {
            store.read(|tx| tx.list::<record::Record>(Table::Provisioning))
        })
        .await
        .unwrap_or_default();
        found
            .into_iter()
            .filter(|r| r.device == device && r.entry == record::EntryKind::Authorization)
            .filter_map(|r| r.device_entry.map(|id| (id, r.permission)))
            .collect()
    }
}

fn link(
    tx: &crate::store::WriteTx,
    zone: &jiff::tz::TimeZone,
    permission: &PermissionId,
    device: DeviceId,
    auth_id: u32,
) -> Result<Result<(), LinkRefusal>, StoreError> {
    let Some(found) = tx.get::<crate::access::Permission>(Table::Permissions, &permission.0)?
    else {
        return Ok(Err(LinkRefusal::UnknownPermission));
    };
    if found.kind != PermissionKind::DeviceAuthorization {
        return Ok(Err(LinkRefusal::NotADeviceAuthorization));
    }
    let addresses: Vec<crate::access::Address> = tx.list(Table::Addresses)?;
    let units: Vec<crate::access::Unit> = tx.list(Table::Units)?;
    let covered = crate::access::AccessRules::build(zone.clone(), &addresses, &units, Vec::new())
        .is_ok_and(|rules| rules.covers(&found.scope, device));
    if !covered {
        return Ok(Err(LinkRefusal::NotInScope));
    }
    let others: Vec<record::Record> = tx.list(Table::Provisioning)?;
    if let Some(other) = others.iter().find(|r| {
        r.device == device
            && r.entry == record::EntryKind::Authorization
            && r.device_entry == Some(auth_id)
            && r.permission != *permission
    }) {
        return Ok(Err(LinkRefusal::AlreadyLinked(other.permission.clone())));
    }
    let mut linked =
        record::Record::new(device, permission.clone(), record::EntryKind::Authorization);
    linked.device_entry = Some(auth_id);
    tx.put(Table::Provisioning, &linked.key(), &linked)?;
    Ok(Ok(()))
}

fn require(principal: &Principal, capability: Capability) -> GatewayResult<()> {
    if principal.rights().allows(capability) {
        Ok(())
    } else {
        Err(Refusal::Denied {
            reason: DenialReason::MissingRight { capability },
        })
    }
}

/// Runs a store call on the blocking pool: redb commits fsync.
pub(super) async fn in_store<T, F>(store: Arc<Store>, call: F) -> Result<T, StoreError>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
{
    tokio::task::spawn_blocking(move || call(&store))
        .await
        .unwrap_or_else(|_| Err(StoreError::Database("a store call panicked".into())))
}
