//! How the configuration spells a security PIN: a decimal number of up to six digits, as a TOML
//! number or string. The PIN itself is the protocol's [`SecurityPin`]; a configured one is not
//! tied to a device yet, so it is held in the wide form and narrowed for a device with
//! [`SecurityPin::for_family`] once it is known to fit.

use std::fmt;
use std::str::FromStr;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

pub use crate::nuki::messages::{PinError, SecurityPin};
pub use crate::nuki::product::{MAX_NARROW_PIN, MAX_WIDE_PIN};

impl FromStr for SecurityPin {
    type Err = PinError;

    /// Decimal digits only (as every client but one parses it), surrounding whitespace ignored.
    fn from_str(text: &str) -> Result<Self, PinError> {
        SecurityPin::parse(text, true)
    }
}

impl<'de> Deserialize<'de> for SecurityPin {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(PinVisitor)
    }
}

struct PinVisitor;

const EXPECTED: &str = "a security PIN of 1 to 6 decimal digits";

// Errors deliberately leave the offending value out: it is (nearly) a secret.
impl Visitor<'_> for PinVisitor {
    type Value = SecurityPin;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(EXPECTED)
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<SecurityPin, E> {
        u32::try_from(value)
            .ok()
            .filter(|&value| value <= MAX_WIDE_PIN)
            .map(SecurityPin::Long)
            .ok_or_else(|| E::custom(EXPECTED))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<SecurityPin, E> {
        u64::try_from(value)
            .map_err(|_| E::custom(EXPECTED))
            .and_then(|v| self.visit_u64(v))
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<SecurityPin, E> {
        value.parse().map_err(|_| E::custom(EXPECTED))
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> Result<SecurityPin, E> {
        Err(E::custom(EXPECTED))
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<SecurityPin, E> {
        Err(E::custom(EXPECTED))
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
        assert!("1234567".parse::<SecurityPin>().is_err());
        assert!("12a4".parse::<SecurityPin>().is_err());
        assert!("".parse::<SecurityPin>().is_err());
        assert!("-1".parse::<SecurityPin>().is_err());
    }

    #[test]
    fn numbers_up_to_six_digits() {
        let pin = |text: &str| serde_json::from_str::<SecurityPin>(text).map(SecurityPin::value);
        assert_eq!(pin("999999").ok(), Some(999_999));
        assert_eq!(pin("\"0042\"").ok(), Some(42));
        assert!(pin("1000000").is_err());
        assert!(pin("-1").is_err());
        assert!(pin("12.5").is_err());
    }

    #[test]
    fn errors_do_not_echo_the_pin() {
        let error = serde_json::from_str::<SecurityPin>("4242424").unwrap_err();
        assert!(!error.to_string().contains("4242424"), "{error}");
        let pin: SecurityPin = "424242".parse().unwrap();
        assert!(!format!("{pin:?}").contains("424242"));
    }
}
