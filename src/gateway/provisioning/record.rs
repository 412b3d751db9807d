//! What the gateway knows a device holds of one permission, kept in `Table::Provisioning`
//! under `<permission id>/<device id, 20 digits>`, and where writing it stands.
//!
//! The desired side is never stored here: it is worked out from the permissions whenever
//! provisioning runs, so a revocation stored after a change always wins over it.

use serde::{Deserialize, Serialize};

use crate::access::{DeviceId, PermissionId};

/// The `target` of a record whose entry is to be removed and whose removal the device
/// refused: not retried until the permission comes back.
pub const REMOVAL: &str = "removal";

/// Which list of the device an entry lives in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntryKind {
    KeypadCode,
    Authorization,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum RecordState {
    Pending,
    Applied,
    Failed { reason: String },
}

/// One permission on one device. `Debug` leaves the code out.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Record {
    pub device: DeviceId,
    pub permission: PermissionId,
    pub entry: EntryKind,
    /// The id the device gave the entry (keypad code id or authorization id), once known.
    pub device_entry: Option<u32>,
    /// Fingerprint of the entry last aimed at; a different desired fingerprint is new work.
    pub target: String,
    #[serde(flatten)]
    pub state: RecordState,
    /// Attempts at `target` so far.
    pub attempts: u32,
    /// Gateway time (Unix seconds) of the last attempt.
    pub last_attempt: Option<i64>,
    /// The keypad code written, so the entry is recognised (and removed) on the device even
    /// after the permission and its secret are gone.
    pub written_code: Option<u32>,
}

impl Record {
    pub fn key(&self) -> String {
        key(&self.permission, self.device)
    }

    /// A record that knows nothing yet.
    pub fn new(device: DeviceId, permission: PermissionId, entry: EntryKind) -> Self {
        Self {
            device,
            permission,
            entry,
            device_entry: None,
            target: String::new(),
            state: RecordState::Pending,
            attempts: 0,
            last_attempt: None,
            written_code: None,
        }
    }
}

impl std::fmt::Debug for Record {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Record")
            .field("device", &self.device)
            .field("permission", &self.permission)
            .field("entry", &self.entry)
            .field("device_entry", &self.device_entry)
            .field("state", &self.state)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

pub fn key(permission: &PermissionId, device: DeviceId) -> String {
    format!("{}/{:020}", permission, device.0)
}

/// The first key of a permission's records, for a range read.
pub fn prefix(permission: &PermissionId) -> String {
    format!("{permission}/")
}

/// Whether `key` is one of `permission`'s (and not of a permission whose id merely starts
/// with it and a slash).
pub fn belongs_to(key: &str, permission: &PermissionId) -> bool {
    key.strip_prefix(&prefix(permission))
        .is_some_and(|rest| rest.len() == 20 && rest.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_sort_by_permission_then_device() {
        let permission = PermissionId("p1".into());
        let key = key(&permission, DeviceId(42));
        assert_eq!(key, "p1/00000000000000000042");
        assert!(belongs_to(&key, &permission));
        assert!(!belongs_to(
            "p1/x/00000000000000000042",
            &PermissionId("p1".into())
        ));
    }

    #[test]
    fn debug_leaves_the_code_out() {
        let mut record = Record::new(DeviceId(1), PermissionId("p".into()), EntryKind::KeypadCode);
        record.written_code = Some(654_321);
        assert!(!format!("{record:?}").contains("654321"));
    }
}
