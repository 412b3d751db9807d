//! redb trusts its file: a page damaged outside redb can make it panic instead of returning an
//! error. Every call into redb runs here, so damage becomes [`StoreError::Damaged`] and the
//! process can say so in one line and exit, instead of a panic that systemd restarts forever.

use std::cell::Cell;
use std::panic::{self, AssertUnwindSafe};
use std::path::Path;
use std::sync::Once;

use super::error::StoreError;

thread_local! {
    static INSIDE_REDB: Cell<bool> = const { Cell::new(false) };
}

static QUIET_HOOK: Once = Once::new();

/// Runs `work` (which calls redb) and turns a panic inside it into [`StoreError::Damaged`].
/// Damage reported by redb itself gets the store's path here too.
pub(crate) fn guarded<T>(
    path: &Path,
    work: impl FnOnce() -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    install_quiet_hook();
    let was_inside = INSIDE_REDB.with(|inside| inside.replace(true));
    // Nothing of ours is left half-updated by the unwind: the caller gets an error and the
    // redb handle is not trusted again for this operation.
    let outcome = panic::catch_unwind(AssertUnwindSafe(work));
    INSIDE_REDB.with(|inside| inside.set(was_inside));
    match outcome {
        Ok(result) => result.map_err(|error| error.at(path)),
        Err(_) => Err(StoreError::Damaged {
            path: path.to_owned(),
            // The panic message may quote page contents, so it stays out.
            reason: "the database engine stopped on inconsistent data".to_owned(),
        }),
    }
}

/// The default hook would print redb's panic and a backtrace on stderr, breaking the one-line
/// error contract; panics anywhere else still reach the previous hook.
fn install_quiet_hook() {
    QUIET_HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            if !INSIDE_REDB.with(Cell::get) {
                previous(info);
            }
        }));
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_damage_of_the_named_store() {
        let result: Result<(), StoreError> = guarded(Path::new("/s.redb"), || panic!("page 7"));
        let Err(StoreError::Damaged { path, reason }) = result else {
            panic!("not damage: {result:?}");
        };
        assert_eq!(path, Path::new("/s.redb"));
        assert!(!reason.contains("page 7"));
    }

    #[test]
    fn errors_and_values_pass_through() {
        assert_eq!(guarded(Path::new("/s.redb"), || Ok(5)), Ok(5));
        let result: Result<(), StoreError> = guarded(Path::new("/s.redb"), || {
            Err(StoreError::Database("x".into()))
        });
        assert_eq!(result, Err(StoreError::Database("x".into())));
    }
}
