//! Keypad codes stored on the device (§4.2.35).

use std::collections::BTreeMap;

use crate::nuki::codec::DateTime;
use crate::nuki::messages::{KeypadCode, KeypadCodeUpdate, NewKeypadCode};

use super::auth::TimeWindow;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum KeypadError {
    #[error("no space for another keypad code")]
    Full,
    #[error("the code already exists")]
    CodeExists,
    #[error("a keypad code has six digits 1–9")]
    InvalidCode,
    #[error("no keypad code with this id")]
    UnknownId,
}

/// Six digits, none of them 0 (the keypad has no 0 key).
pub(crate) fn valid_code(code: u32) -> bool {
    (111_111..=999_999).contains(&code) && {
        let mut rest = code;
        let mut ok = true;
        while rest > 0 {
            ok &= !rest.is_multiple_of(10);
            rest /= 10;
        }
        ok
    }
}

#[derive(Debug)]
pub(crate) struct KeypadCodes {
    codes: BTreeMap<u16, KeypadCode>,
    next_id: u16,
    capacity: usize,
}

impl KeypadCodes {
    pub fn new(capacity: usize) -> Self {
        Self {
            codes: BTreeMap::new(),
            next_id: 1,
            capacity,
        }
    }

    pub fn len(&self) -> usize {
        self.codes.len()
    }

    fn code_taken(&self, code: u32, except: Option<u16>) -> bool {
        self.codes
            .values()
            .any(|entry| entry.code.0 == code && Some(entry.code_id) != except)
    }

    pub fn add(&mut self, new: NewKeypadCode, created: DateTime) -> Result<u16, KeypadError> {
        if !valid_code(new.code.0) {
            return Err(KeypadError::InvalidCode);
        }
        if self.code_taken(new.code.0, None) {
            return Err(KeypadError::CodeExists);
        }
        if self.codes.len() >= self.capacity {
            return Err(KeypadError::Full);
        }
        while self.codes.contains_key(&self.next_id) || self.next_id == 0 {
            self.next_id = self.next_id.wrapping_add(1);
        }
        let code_id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        self.codes.insert(
            code_id,
            KeypadCode {
                code_id,
                code: new.code,
                name: new.name,
                enabled: true,
                created,
                last_active: DateTime::default(),
                lock_count: 0,
                time_limited: new.time_limited,
                allowed: Some(new.allowed),
            },
        );
        Ok(code_id)
    }

    pub fn update(&mut self, update: KeypadCodeUpdate) -> Result<(), KeypadError> {
        if !self.codes.contains_key(&update.code_id) {
            return Err(KeypadError::UnknownId);
        }
        if !valid_code(update.code.0) {
            return Err(KeypadError::InvalidCode);
        }
        if self.code_taken(update.code.0, Some(update.code_id)) {
            return Err(KeypadError::CodeExists);
        }
        if let Some(entry) = self.codes.get_mut(&update.code_id) {
            entry.code = update.code;
            entry.name = update.name;
            entry.enabled = update.enabled;
            entry.time_limited = update.time_limited;
            entry.allowed = Some(update.allowed);
        }
        Ok(())
    }

    pub fn remove(&mut self, code_id: u16) -> Result<(), KeypadError> {
        self.codes
            .remove(&code_id)
            .map(|_| ())
            .ok_or(KeypadError::UnknownId)
    }

    pub fn list(&self, offset: u16, count: u16) -> Vec<KeypadCode> {
        self.codes
            .values()
            .skip(usize::from(offset))
            .take(usize::from(count))
            .cloned()
            .collect()
    }

    /// The enabled code entered on the keypad, if it may be used now.
    pub fn use_code(
        &mut self,
        code: u32,
        now_unix: i64,
        timezone_offset: i16,
    ) -> Option<&mut KeypadCode> {
        let entry = self
            .codes
            .values_mut()
            .find(|entry| entry.code.0 == code && entry.enabled)?;
        let window = TimeWindow {
            time_limited: entry.time_limited,
            allowed: entry.allowed.unwrap_or_default(),
        };
        window.allows(now_unix, timezone_offset).then_some(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nuki::messages::{AccessCode, AllowedWindow};

    fn new_code(code: u32) -> NewKeypadCode {
        NewKeypadCode {
            code: AccessCode(code),
            name: "Cleaner".into(),
            time_limited: false,
            allowed: AllowedWindow::default(),
        }
    }

    #[test]
    fn code_rules() {
        assert!(valid_code(123_456));
        assert!(!valid_code(120_456), "no zero digit");
        assert!(!valid_code(12_345), "six digits");
        assert!(!valid_code(1_234_567));
    }

    #[test]
    fn add_update_remove() {
        let mut codes = KeypadCodes::new(2);
        let first = codes.add(new_code(123_456), DateTime::default()).unwrap();
        assert_eq!(
            codes.add(new_code(123_456), DateTime::default()),
            Err(KeypadError::CodeExists)
        );
        assert_eq!(
            codes.add(new_code(100_000), DateTime::default()),
            Err(KeypadError::InvalidCode)
        );
        let second = codes.add(new_code(654_321), DateTime::default()).unwrap();
        assert_eq!(
            codes.add(new_code(777_777), DateTime::default()),
            Err(KeypadError::Full)
        );
        let update = KeypadCodeUpdate {
            code_id: second,
            code: AccessCode(123_456),
            name: "Clash".into(),
            enabled: true,
            time_limited: false,
            allowed: AllowedWindow::default(),
        };
        assert_eq!(codes.update(update.clone()), Err(KeypadError::CodeExists));
        assert_eq!(
            codes.update(KeypadCodeUpdate {
                code_id: 99,
                ..update
            }),
            Err(KeypadError::UnknownId)
        );
        codes.remove(first).unwrap();
        assert_eq!(codes.remove(first), Err(KeypadError::UnknownId));
        assert_eq!(codes.list(0, 10).len(), 1);
        assert!(codes.use_code(654_321, 0, 0).is_some());
        assert!(codes.use_code(123_456, 0, 0).is_none());
    }
}
