//! Durations in config files: a number of seconds (`30`, `1.5`) or text with a unit
//! (`"250ms"`, `"30s"`, `"2m"`).

use std::time::Duration;

use serde::de::{self, Deserializer, Visitor};

pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Duration, D::Error> {
    deserializer.deserialize_any(DurationVisitor)
}

struct DurationVisitor;

impl Visitor<'_> for DurationVisitor {
    type Value = Duration;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("seconds as a number, or text such as \"250ms\", \"30s\" or \"2m\"")
    }

    fn visit_u64<E: de::Error>(self, value: u64) -> Result<Duration, E> {
        Ok(Duration::from_secs(value))
    }

    fn visit_i64<E: de::Error>(self, value: i64) -> Result<Duration, E> {
        u64::try_from(value)
            .map(Duration::from_secs)
            .map_err(|_| E::custom("a duration cannot be negative"))
    }

    fn visit_f64<E: de::Error>(self, value: f64) -> Result<Duration, E> {
        Duration::try_from_secs_f64(value).map_err(|_| E::custom("invalid duration"))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Duration, E> {
        parse(text).ok_or_else(|| E::invalid_value(de::Unexpected::Str(text), &self))
    }
}

fn parse(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number.parse().ok()?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse("7"), Some(Duration::from_secs(7)));
        assert_eq!(parse("7h"), None);
        assert_eq!(parse("abc"), None);
    }
}
