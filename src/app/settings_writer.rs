//! Writes settings that change at run time (Bridge callbacks, later more) off the async
//! executor, in order, and coalesced: a burst of changes becomes one commit, since every
//! redb commit is an fsync and many small ones wear an SD card.

use std::collections::BTreeMap;
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::store::Store;

/// The sending side; cheap to clone.
#[derive(Clone)]
pub struct SettingsWriter {
    sender: mpsc::UnboundedSender<(String, String)>,
}

impl SettingsWriter {
    /// Starts the writer task. It ends after `shutdown`, once what was queued is written.
    pub fn start(
        store: Arc<Store>,
        shutdown: CancellationToken,
    ) -> (Self, tokio::task::JoinHandle<()>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let task = tokio::spawn(write_settings(store, receiver, shutdown));
        (Self { sender }, task)
    }

    /// Queues a setting; the newest value of a key wins.
    pub fn set(&self, key: &str, value: String) {
        if self.sender.send((key.to_owned(), value)).is_err() {
            tracing::warn!(key, "settings writer has stopped; setting not saved");
        }
    }
}

async fn write_settings(
    store: Arc<Store>,
    mut receiver: mpsc::UnboundedReceiver<(String, String)>,
    shutdown: CancellationToken,
) {
    loop {
        let first = tokio::select! {
            received = receiver.recv() => received,
            () = shutdown.cancelled() => None,
        };
        let mut batch = BTreeMap::new();
        if let Some((key, value)) = first {
            batch.insert(key, value);
        }
        while let Ok((key, value)) = receiver.try_recv() {
            batch.insert(key, value);
        }
        if batch.is_empty() {
            return;
        }
        let batch: Vec<(String, String)> = batch.into_iter().collect();
        let store = store.clone();
        let written = tokio::task::spawn_blocking(move || store.set_settings(&batch)).await;
        match written {
            Ok(Ok(())) => {}
            Ok(Err(error)) => tracing::warn!(%error, "could not save settings"),
            Err(error) => tracing::warn!(%error, "settings write did not finish"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_newest_value_of_each_key_is_written_before_the_writer_ends() {
        let directory = tempfile::tempdir().expect("tempdir");
        let store = Arc::new(Store::open(&directory.path().join("s.redb")).expect("store"));
        let shutdown = CancellationToken::new();
        let (writer, finished) = SettingsWriter::start(store.clone(), shutdown.clone());
        writer.set("bridge.callbacks", "[\"first\"]".into());
        writer.set("bridge.auth_enabled", "false".into());
        writer.set("bridge.callbacks", "[\"second\"]".into());
        shutdown.cancel();
        finished.await.expect("writer ended");
        assert_eq!(
            store
                .get_setting("bridge.callbacks")
                .expect("read")
                .as_deref(),
            Some("[\"second\"]")
        );
        assert_eq!(
            store
                .get_setting("bridge.auth_enabled")
                .expect("read")
                .as_deref(),
            Some("false")
        );
    }
}
