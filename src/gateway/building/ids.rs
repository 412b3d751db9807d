//! Ids the gateway hands out, shaped like Nuki Web's so a cloud sync can keep them: integers
//! for addresses and people, 24 hex digits (an ObjectId's size) for units and permissions.
//! Numbered from store counters, so keys sort in creation order and pages stay stable.

use crate::access::{AddressId, DeviceId, PermissionId, PersonId, UnitId};
use crate::store::{int_key, StoreError, WriteTx};

/// Length of unit and permission ids.
pub const TEXT_ID_LEN: usize = 24;

const ADDRESS_COUNTER: &str = "address";
const PERSON_COUNTER: &str = "person";
const UNIT_COUNTER: &str = "unit";
const PERMISSION_COUNTER: &str = "permission";

fn number(tx: &WriteTx, counter: &str) -> Result<i64, StoreError> {
    let next = tx.next_number(counter)?;
    i64::try_from(next).map_err(|_| StoreError::Database(format!("counter {counter} overflowed")))
}

pub fn new_address_id(tx: &WriteTx) -> Result<AddressId, StoreError> {
    number(tx, ADDRESS_COUNTER).map(AddressId)
}

pub fn new_person_id(tx: &WriteTx) -> Result<PersonId, StoreError> {
    number(tx, PERSON_COUNTER).map(PersonId)
}

pub fn new_unit_id(tx: &WriteTx) -> Result<UnitId, StoreError> {
    Ok(UnitId(format!("{:024x}", tx.next_number(UNIT_COUNTER)?)))
}

pub fn new_permission_id(tx: &WriteTx) -> Result<PermissionId, StoreError> {
    Ok(PermissionId(format!(
        "{:024x}",
        tx.next_number(PERMISSION_COUNTER)?
    )))
}

/// Whether `text` has the shape of a unit or permission id (ours or Nuki Web's): 24
/// lowercase hex digits.
pub fn is_object_id(text: &str) -> bool {
    text.len() == TEXT_ID_LEN && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

pub fn address_key(id: AddressId) -> String {
    int_key(id.0)
}

pub fn person_key(id: PersonId) -> String {
    int_key(id.0)
}

pub fn device_key(id: DeviceId) -> String {
    format!("{:020}", id.0)
}
