use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum EventsError {
    #[error("activity log: {0}")]
    Store(#[from] StoreError),
    #[error("activity log: the recorder was started twice")]
    StartedTwice,
    #[error("activity log: the work ended unexpectedly")]
    Interrupted,
}
