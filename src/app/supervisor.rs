//! Starts and joins every long-running task of the daemon. A core task (HTTP listener, fleet
//! advertisement watcher, control socket) that ends before shutdown was asked for is a fault:
//! the daemon logs it and exits non-zero, so systemd restarts it instead of leaving it running
//! without its API.

use std::fmt::Display;
use std::future::Future;

use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// A core task that ended on its own, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("core task '{task}' ended: {reason}")]
pub struct CoreTaskEnded {
    pub task: &'static str,
    pub reason: String,
}

pub struct Supervisor {
    shutdown: CancellationToken,
    tasks: TaskTracker,
    ended: mpsc::UnboundedSender<CoreTaskEnded>,
    ended_receiver: mpsc::UnboundedReceiver<CoreTaskEnded>,
}

impl Default for Supervisor {
    fn default() -> Self {
        Self::new()
    }
}

impl Supervisor {
    pub fn new() -> Self {
        let (ended, ended_receiver) = mpsc::unbounded_channel();
        Self {
            shutdown: CancellationToken::new(),
            tasks: TaskTracker::new(),
            ended,
            ended_receiver,
        }
    }

    /// Cancelled when the daemon shuts down; tasks watch it to wind down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// A task the daemon cannot run without: ending before shutdown (with an error or not) is
    /// reported by [`Self::core_task_ended`].
    pub fn spawn_core<E, F>(&self, task: &'static str, work: F)
    where
        E: Display,
        F: Future<Output = Result<(), E>> + Send + 'static,
    {
        let shutdown = self.shutdown.clone();
        let ended = self.ended.clone();
        self.tasks.spawn(async move {
            let result = work.await;
            if shutdown.is_cancelled() {
                if let Err(error) = result {
                    tracing::warn!(task, %error, "task failed while shutting down");
                }
                return;
            }
            let reason = match result {
                Ok(()) => "stopped without being asked to".to_owned(),
                Err(error) => error.to_string(),
            };
            let _ = ended.send(CoreTaskEnded { task, reason });
        });
    }

    /// A helper task whose end is nobody's concern (the demo's simulated residents, loggers).
    pub fn spawn<F>(&self, work: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        self.tasks.spawn(work);
    }

    /// Resolves when a core task ended on its own.
    pub async fn core_task_ended(&mut self) -> CoreTaskEnded {
        match self.ended_receiver.recv().await {
            Some(ended) => ended,
            // The supervisor holds a sender itself, so the channel never closes.
            None => std::future::pending().await,
        }
    }

    /// Asks every task to stop and waits up to `limit` for them; returns whether all ended.
    pub async fn stop(&self, limit: std::time::Duration) -> bool {
        self.shutdown.cancel();
        self.tasks.close();
        let ended = tokio::time::timeout(limit, self.tasks.wait()).await.is_ok();
        if !ended {
            tracing::warn!(
                still_running = self.tasks.len(),
                "tasks still running at the end of the shutdown limit"
            );
        }
        ended
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn a_core_task_that_fails_is_reported() {
        let mut supervisor = Supervisor::new();
        supervisor.spawn_core("listener", async { Err::<(), _>("address in use") });
        let ended = tokio::time::timeout(Duration::from_secs(5), supervisor.core_task_ended())
            .await
            .unwrap();
        assert_eq!(ended.task, "listener");
        assert_eq!(ended.reason, "address in use");
    }

    #[tokio::test]
    async fn a_core_task_that_returns_unasked_is_reported() {
        let mut supervisor = Supervisor::new();
        supervisor.spawn_core("fleet", async { Ok::<(), String>(()) });
        let ended = tokio::time::timeout(Duration::from_secs(5), supervisor.core_task_ended())
            .await
            .unwrap();
        assert_eq!(ended.reason, "stopped without being asked to");
    }

    #[tokio::test]
    async fn stopping_cancels_and_joins_every_task() {
        let mut supervisor = Supervisor::new();
        let token = supervisor.shutdown_token();
        supervisor.spawn_core("waits", async move {
            token.cancelled().await;
            Ok::<(), String>(())
        });
        assert!(supervisor.stop(Duration::from_secs(5)).await);
        let nothing =
            tokio::time::timeout(Duration::from_millis(50), supervisor.core_task_ended()).await;
        assert!(
            nothing.is_err(),
            "a task that ended because it was asked to is no fault"
        );
    }
}
