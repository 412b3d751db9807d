//! A secret given as text in the configuration (the Bridge API token). Never printed.

use std::str::FromStr;

use serde::{Deserialize, Deserializer};
use zeroize::Zeroizing;

#[derive(Clone, PartialEq, Eq)]
pub struct SecretText(Zeroizing<String>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be 6 to 20 letters or digits")]
pub struct BadSecretText;

impl SecretText {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl FromStr for SecretText {
    type Err = BadSecretText;

    /// The Bridge API's clients accept tokens of 6 to 20 characters; letters and digits need
    /// no escaping in any of the three token forms.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let ok = (6..=20).contains(&text.len()) && text.chars().all(|c| c.is_ascii_alphanumeric());
        ok.then(|| Self(Zeroizing::new(text.to_owned())))
            .ok_or(BadSecretText)
    }
}

impl std::fmt::Debug for SecretText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<'de> Deserialize<'de> for SecretText {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = Zeroizing::new(String::deserialize(deserializer)?);
        text.parse()
            .map_err(|_| serde::de::Error::custom("must be 6 to 20 letters or digits"))
    }
}
