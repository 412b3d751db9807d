//! Bridge callbacks follow the stored activity log, like MQTT: a state change reaches the
//! callback receivers from the log after a persisted cursor, and the in-memory bus only
//! wakes the reader. A burst that outruns the bus loses no callback, and state changes
//! stored while the gateway was stopping (or had crashed after storing them) are posted
//! after the next start.
//!
//! The body is rendered from the device's cached state with the fields the log kept for
//! that change (lock state, door sensor, battery) put back, so a backlog posts each change
//! as it was, not the newest state several times.

use crate::events::{CursorWriter, EventKind, EventLog, StateFields, StoredEvent, Subscription};
use crate::nuki::enums::{DeviceLockState, DoorSensorState, LockState, OpenerLockState};
use crate::nuki::messages::KeyturnerStates;
use crate::nuki::uuids::ServiceFamily;
use std::sync::Arc;
use std::time::Duration;

/// The activity log consumer whose cursor the Bridge callbacks keep.
pub const CALLBACK_CONSUMER: &str = "bridge_callbacks";
/// Events read from the log at a time.
const CALLBACK_BATCH: usize = 256;
/// Pause before the log is read again after a store error.
const STORE_RETRY: Duration = Duration::from_secs(1);

/// Opens the callbacks' way through the log, retrying while the store refuses.
pub(super) async fn open(log: &Arc<EventLog>) -> Subscription {
    loop {
        match Subscription::open(log.clone(), CALLBACK_CONSUMER) {
            Ok(subscription) => return subscription,
            Err(error) => {
                tracing::warn!(%error, "cannot open the Bridge callbacks' activity log cursor");
                tokio::time::sleep(STORE_RETRY).await;
            }
        }
    }
}

/// The next state changes of the log (after the subscription's cursor); waits for some.
/// `None` when the log is gone. Batches without a state change are noted as handled; a
/// store error is logged and read again after a pause.
pub(super) async fn next_state_changes(
    subscription: &mut Subscription,
    cursor: &CursorWriter,
) -> Option<Vec<StoredEvent>> {
    loop {
        match subscription.next_batch(CALLBACK_BATCH).await {
            Ok(batch) if batch.is_empty() => return None,
            Ok(batch) => {
                let last = batch.last().map(|stored| stored.id);
                let changes: Vec<StoredEvent> = batch
                    .into_iter()
                    .filter(|stored| stored.event.kind == EventKind::StateChanged)
                    .collect();
                if !changes.is_empty() {
                    return Some(changes);
                }
                if let Some(last) = last {
                    cursor.note(last);
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot read the activity log for Bridge callbacks");
                tokio::time::sleep(STORE_RETRY).await;
            }
        }
    }
}

/// `cached` with the fields the log kept for one state change put back.
pub(super) fn states_as_logged(
    mut cached: KeyturnerStates,
    logged: &StateFields,
    family: ServiceFamily,
) -> KeyturnerStates {
    let lock_state = if family.is_opener() {
        OpenerLockState::from_name(&logged.lock_state).map(DeviceLockState::Opener)
    } else {
        LockState::from_name(&logged.lock_state).map(DeviceLockState::Lock)
    };
    if let Some(lock_state) = lock_state {
        cached.lock_state = lock_state;
    }
    if let Some(door) = logged
        .door_state
        .as_deref()
        .and_then(DoorSensorState::from_name)
    {
        cached.door_sensor_state = Some(door);
    }
    cached.battery_state = battery_byte(logged);
    cached
}

/// The Keyturner States battery byte: bit 0 critical, bit 1 charging, bits 2–7 percent / 2.
fn battery_byte(logged: &StateFields) -> u8 {
    let percent_bits = (logged.battery_charge / 2).min(0x3F) << 2;
    percent_bits | (u8::from(logged.battery_charging) << 1) | u8::from(logged.battery_critical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nuki::messages as states;

    #[test]
    fn the_battery_byte_reads_back_as_logged() {
        for raw in 0..=u8::MAX {
            let logged = StateFields {
                lock_state: "locked".to_owned(),
                door_state: None,
                battery_critical: states::battery_critical(raw),
                battery_charge: states::battery_percent(raw),
                battery_charging: states::battery_charging(raw),
            };
            assert_eq!(battery_byte(&logged), raw, "{raw:#04x}");
        }
    }
}
