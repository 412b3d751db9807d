//! TLS to the broker: rustls with the `ring` provider, the broker's certificate checked
//! against the configured CA only (not the system's roots), an optional client certificate.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

/// The PEM files of a TLS connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub ca: PathBuf,
    /// Client certificate and its key, both or neither.
    pub client: Option<(PathBuf, PathBuf)>,
}

/// Why the TLS set-up failed. Names files, never their content.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    #[error("cannot read the certificates in {path}: {reason}")]
    Certificates { path: PathBuf, reason: String },
    #[error("{path} holds no certificate")]
    NoCertificate { path: PathBuf },
    #[error("cannot read the private key in {path}")]
    Key { path: PathBuf },
    #[error("the CA certificate in {path} is not usable: {reason}")]
    BadCa { path: PathBuf, reason: String },
    #[error("the TLS client configuration is not usable: {0}")]
    Config(String),
}

/// Installs rustls' process-level crypto provider (`ring`), once. rustls panics with "no
/// process-level CryptoProvider" when a config is built with `ClientConfig::builder()` and
/// none is installed, and refuses to guess when two providers are compiled in. Calling it
/// again, or after somebody else installed one, changes nothing.
pub fn install_crypto_provider() {
    let _ = ring_provider().install_default();
}

/// rustls with `ring` (no aws-lc build, which needs cmake and a C toolchain). rustls
/// 0.23.48 deprecates ring's provider for lacking post-quantum key exchange; the classic
/// groups are what MQTT brokers offer today.
#[allow(deprecated)]
fn ring_provider() -> rustls::crypto::CryptoProvider {
    rustls::crypto::ring::default_provider()
}

fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let unreadable = |reason: String| TlsSetupError::Certificates {
        path: path.to_owned(),
        reason,
    };
    let certificates = CertificateDer::pem_file_iter(path)
        .map_err(|error| unreadable(error.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| unreadable(error.to_string()))?;
    if certificates.is_empty() {
        return Err(TlsSetupError::NoCertificate {
            path: path.to_owned(),
        });
    }
    Ok(certificates)
}

/// The rustls client configuration for `files`.
pub fn client_config(files: &TlsFiles) -> Result<Arc<rustls::ClientConfig>, TlsSetupError> {
    let mut roots = rustls::RootCertStore::empty();
    for certificate in certificates(&files.ca)? {
        roots
            .add(certificate)
            .map_err(|error| TlsSetupError::BadCa {
                path: files.ca.clone(),
                reason: error.to_string(),
            })?;
    }
    let provider = Arc::new(ring_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|error| TlsSetupError::Config(error.to_string()))?
        .with_root_certificates(roots);
    let config = match &files.client {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = certificates(cert)?;
            // The key's parse error could quote key material; only the path is reported.
            let key_der = PrivateKeyDer::from_pem_file(key)
                .map_err(|_| TlsSetupError::Key { path: key.clone() })?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|error| TlsSetupError::Config(error.to_string()))?
        }
    };
    Ok(Arc::new(config))
}
