//! The rules in force, rebuilt from the store at start and after every change, with the
//! index of gateway-access secrets (by their SHA-256) that finds a holder's permission.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use jiff::tz::TimeZone;

use crate::access::{AccessRules, PermissionId, PermissionKind};
use crate::store::{ReadTx, Store, Table};

use super::super::rules::{load_rules, LoadRulesError};
use super::super::secrets::PermissionSecret;

/// One consistent view: the rules and the holders' secret hashes of the same store state.
pub(in crate::gateway) struct Snapshot {
    pub rules: Arc<AccessRules>,
    /// SHA-256 of each gateway-access secret → its permission.
    pub holders: HashMap<[u8; 32], PermissionId>,
}

pub(in crate::gateway) struct RulesCache {
    current: RwLock<Arc<Snapshot>>,
    /// Held across a change and the rebuild after it.
    changes: Mutex<()>,
    default_zone: TimeZone,
}

impl RulesCache {
    /// The stored rules; if they cannot be read, none at all (every holder is refused, which
    /// is the safe side) and the reason is logged.
    pub fn load(store: &Store, default_zone: TimeZone) -> Self {
        let snapshot = read_snapshot(store, &default_zone).unwrap_or_else(|error| {
            tracing::error!(%error, "cannot load the access rules; permissions are refused until the next change");
            empty(&default_zone)
        });
        Self {
            current: RwLock::new(Arc::new(snapshot)),
            changes: Mutex::new(()),
            default_zone,
        }
    }

    pub fn current(&self) -> Arc<Snapshot> {
        self.current
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    pub fn changes(&self) -> &Mutex<()> {
        &self.changes
    }

    /// Rebuilds from the store; keeps the old snapshot (and logs) if that fails.
    pub fn reload(&self, store: &Store) {
        match read_snapshot(store, &self.default_zone) {
            Ok(snapshot) => {
                *self
                    .current
                    .write()
                    .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(snapshot);
            }
            Err(error) => {
                tracing::error!(%error, "cannot rebuild the access rules; the previous ones stay in force");
            }
        }
    }
}

fn empty(zone: &TimeZone) -> Snapshot {
    Snapshot {
        rules: Arc::new(AccessRules::empty(zone.clone())),
        holders: HashMap::new(),
    }
}

fn read_snapshot(store: &Store, zone: &TimeZone) -> Result<Snapshot, LoadRulesError> {
    store.read(|tx| Ok(build(tx, zone)))?
}

fn build(tx: &ReadTx, zone: &TimeZone) -> Result<Snapshot, LoadRulesError> {
    let rules = load_rules(tx, zone.clone())?;
    let secrets: Vec<(String, PermissionSecret)> =
        tx.page(Table::PermissionSecrets, None, usize::MAX)?;
    let holders = secrets
        .into_iter()
        .filter_map(|(id, secret)| {
            let id = PermissionId(id);
            let gateway_access = rules
                .permission(&id)
                .is_some_and(|p| p.kind == PermissionKind::GatewayAccess);
            let hash = secret.access_hash.as_deref().and_then(decode_hash)?;
            gateway_access.then_some((hash, id))
        })
        .collect();
    Ok(Snapshot {
        rules: Arc::new(rules),
        holders,
    })
}

fn decode_hash(text: &str) -> Option<[u8; 32]> {
    let mut hash = [0u8; 32];
    hex::decode_to_slice(text, &mut hash).ok()?;
    Some(hash)
}
