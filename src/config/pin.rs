//! The security PIN as configured: a decimal number of up to six digits, never printed.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use zeroize::Zeroize;

/// The largest PIN a Smart Lock Ultra accepts (six digits).
pub const MAX_WIDE_PIN: u32 = 999_999;
/// The largest PIN of every other device (four digits, sent as u16).
pub const MAX_NARROW_PIN: u32 = 9_999;

/// A security PIN. Debug is redacted and there is no Display, so it cannot end up in a log
/// line by accident; [`SecurityPin::value`] is for building protocol messages only.
#[derive(Clone, Copy, PartialEq, Eq, Zeroize)]
pub struct SecurityPin(u32);

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a security PIN is 1 to 6 decimal digits")]
pub struct BadPin;

impl SecurityPin {
    pub fn new(value: u32) -> Result<Self, BadPin> {
        if value > MAX_WIDE_PIN {
            return Err(BadPin);
        }
        Ok(Self(value))
    }

    pub fn value(self) -> u32 {
        self.0
    }

    /// Whether the PIN fits the four-digit (u16) field of Smart Locks 1–4, Boxes and Openers.
    pub fn fits_narrow(self) -> bool {
        self.0 <= MAX_NARROW_PIN
    }
}

impl FromStr for SecurityPin {
    type Err = BadPin;

    /// Decimal digits only (as every client but one parses it), surrounding whitespace ignored.
    fn from_str(text: &str) -> Result<Self, BadPin> {
        let digits = text.trim();
        if digits.is_empty() || digits.len() > 6 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(BadPin);
        }
        digits
            .parse::<u32>()
            .map_err(|_| BadPin)
            .and_then(Self::new)
    }
}

impl fmt::Debug for SecurityPin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecurityPin(<redacted>)")
    }
}

impl<'de> Deserialize<'de> for SecurityPin {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PinVisitor)
    }
}

struct PinVisitor;

// Errors deliberately leave the offending value out: it is (nearly) a secret.
impl Visitor<'_> for PinVisitor {
    type Value = SecurityPin;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a PIN of 1 to 6 decimal digits")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<SecurityPin, E> {
        u32::try_from(value)
            .ok()
            .and_then(|v| SecurityPin::new(v).ok())
            .ok_or_else(|| E::custom(BadPin))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<SecurityPin, E> {
        u64::try_from(value)
            .map_err(|_| E::custom(BadPin))
            .and_then(|v| self.visit_u64(v))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<SecurityPin, E> {
        value.parse().map_err(|_| E::custom(BadPin))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<SecurityPin, E> {
        Err(E::custom(BadPin))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<SecurityPin, E> {
        Err(E::custom(BadPin))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_decimal_digits_only() {
        assert_eq!("0042".parse::<SecurityPin>().map(|p| p.value()), Ok(42));
        assert_eq!(
            " 123456\n".parse::<SecurityPin>().map(|p| p.value()),
            Ok(123_456)
        );
        assert_eq!("1234567".parse::<SecurityPin>(), Err(BadPin));
        assert_eq!("12a4".parse::<SecurityPin>(), Err(BadPin));
        assert_eq!("".parse::<SecurityPin>(), Err(BadPin));
        assert_eq!("-1".parse::<SecurityPin>(), Err(BadPin));
    }

    #[test]
    fn narrow_limit() {
        assert!(SecurityPin::new(9999).is_ok_and(|p| p.fits_narrow()));
        assert!(SecurityPin::new(10_000).is_ok_and(|p| !p.fits_narrow()));
        assert_eq!(SecurityPin::new(1_000_000), Err(BadPin));
    }

    #[test]
    fn debug_is_redacted() {
        let pin = SecurityPin::new(424_242).unwrap();
        assert!(!format!("{pin:?}").contains("424242"));
    }
}
