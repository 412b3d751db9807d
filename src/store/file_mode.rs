//! The store holds pairing keys: only the gateway's user may read it.

use std::fs::{DirBuilder, Metadata, OpenOptions, Permissions};
use std::io::ErrorKind;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use super::error::StoreError;

pub(crate) const STORE_FILE_MODE: u32 = 0o600;
const STORE_DIR_MODE: u32 = 0o700;

/// Whether the store file was created just now or was there before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum StoreFile {
    New,
    Existing,
}

/// Creates missing parent directories (0700) and the file itself (0600), or checks an existing
/// file (a regular, non-empty file) and tightens it if others could read it.
pub(crate) fn prepare_store_file(path: &Path) -> Result<StoreFile, StoreError> {
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
        Ok(_) => Ok(StoreFile::New),
        Err(err) if err.kind() == ErrorKind::AlreadyExists => {
            let metadata = existing_store_metadata(path)?;
            tighten_existing(path, &metadata)?;
            Ok(StoreFile::Existing)
        }
        Err(err) => Err(StoreError::Open {
            path: path.to_owned(),
            reason: err.to_string(),
        }),
    }
}

/// An existing store must be a regular file with content. redb would initialise an empty file
/// as a new database, which here would silently drop every pairing and the Bridge identity:
/// nuki-edge never leaves a store empty, so an empty one was damaged.
pub(crate) fn existing_store_metadata(path: &Path) -> Result<Metadata, StoreError> {
    let metadata = std::fs::metadata(path).map_err(|err| StoreError::Open {
        path: path.to_owned(),
        reason: err.to_string(),
    })?;
    if !metadata.is_file() {
        return Err(StoreError::NotAFile {
            path: path.to_owned(),
        });
    }
    if metadata.len() == 0 {
        return Err(StoreError::Damaged {
            path: path.to_owned(),
            reason: "the file is empty, so its pairings are gone; it is not treated as a new \
                     store"
                .to_owned(),
        });
    }
    Ok(metadata)
}

fn tighten_existing(path: &Path, metadata: &Metadata) -> Result<(), StoreError> {
    let permissions_error = |err: std::io::Error| StoreError::Permissions {
        path: path.to_owned(),
        reason: err.to_string(),
    };
    let mode = metadata.permissions().mode();
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
