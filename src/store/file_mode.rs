//! The store holds pairing keys: only the gateway's user may read it.

use std::fs::{DirBuilder, OpenOptions, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::error::StoreError;

pub(crate) const STORE_FILE_MODE: u32 = 0o600;
const STORE_DIR_MODE: u32 = 0o700;

/// Creates missing parent directories (0700) and the file itself (0600), or tightens an
/// existing file that others could read.
pub(crate) fn prepare_store_file(path: &Path) -> Result<(), StoreError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        DirBuilder::new()
            .recursive(true)
            .mode(STORE_DIR_MODE)
            .create(parent)
            .map_err(|err| StoreError::CreateDir {
                path: parent.to_owned(),
                reason: err.to_string(),
            })?;
    }
    // create_new with the mode set races with nobody: the file never exists with a wider mode.
    match OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(STORE_FILE_MODE)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == ErrorKind::AlreadyExists => tighten_existing(path),
        Err(err) => Err(StoreError::Open {
            path: path.to_owned(),
            reason: err.to_string(),
        }),
    }
}

fn tighten_existing(path: &Path) -> Result<(), StoreError> {
    let permissions_error = |err: std::io::Error| StoreError::Permissions {
        path: path.to_owned(),
        reason: err.to_string(),
    };
    let mode = std::fs::metadata(path)
        .map_err(permissions_error)?
        .permissions()
        .mode();
    if mode & 0o077 == 0 {
        return Ok(());
    }
    std::fs::set_permissions(path, Permissions::from_mode(STORE_FILE_MODE))
        .map_err(permissions_error)?;
    tracing::warn!(
        path = %path.display(),
        old_mode = format_args!("{:o}", mode & 0o777),
        "store file was readable by others; restricted it to mode 600"
    );
    Ok(())
}
