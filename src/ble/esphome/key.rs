//! The proxy's API encryption key: read once from its file, wiped on drop, never shown.

use std::path::Path;

use base64::prelude::*;
use zeroize::Zeroizing;

/// The Noise pre-shared key (32 bytes). `Debug` shows nothing of it.
#[derive(Clone)]
pub struct ApiKey(Zeroizing<[u8; 32]>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read encryption key file {path}: {reason}")]
    Unreadable { path: String, reason: String },
    // The decoder's message could quote the input, so only the kind of fault is kept.
    #[error("encryption key file {path} does not hold base64 of 32 bytes")]
    Malformed { path: String },
}

impl ApiKey {
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let shown = path.display().to_string();
        let text = Zeroizing::new(std::fs::read_to_string(path).map_err(|error| {
            KeyError::Unreadable {
                path: shown.clone(),
                reason: error.kind().to_string(),
            }
        })?);
        Self::from_base64(text.trim()).ok_or(KeyError::Malformed { path: shown })
    }

    pub fn from_base64(text: &str) -> Option<Self> {
        let decoded = Zeroizing::new(BASE64_STANDARD.decode(text).ok()?);
        let mut key = Zeroizing::new([0u8; 32]);
        if decoded.len() != key.len() {
            return None;
        }
        key.copy_from_slice(&decoded);
        Some(Self(key))
    }

    pub(super) fn bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl std::fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "px7tsbK3C7bpXHr2OevEV2ZMg/FrNBw2+O2pNPbedtA=";

    #[test]
    fn a_key_file_with_a_newline_reads_and_never_shows_in_debug() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, format!("{KEY}\n")).unwrap();
        let key = ApiKey::from_file(&path).unwrap();
        assert_eq!(key.bytes()[0], 0xa7);
        let shown = format!("{key:?}");
        assert!(
            !shown.contains("px7t") && shown.contains("redacted"),
            "{shown}"
        );
    }

    #[test]
    fn a_short_or_garbled_key_is_refused_without_quoting_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("key");
        std::fs::write(&path, "c2hvcnQ=").unwrap();
        let error = ApiKey::from_file(&path).unwrap_err();
        assert!(matches!(error, KeyError::Malformed { .. }));
        assert!(!error.to_string().contains("c2hvcnQ"));
        assert!(ApiKey::from_base64("not base64!").is_none());
        let missing = ApiKey::from_file(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(missing, KeyError::Unreadable { .. }), "{missing}");
    }
}
