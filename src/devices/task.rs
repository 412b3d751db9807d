//! One task per paired device: it owns the device's link, runs one command at a time, closes
//! an idle link (sooner when another device waits for a slot) and backs off after failures.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use rand::Rng;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::{sleep_until, timeout_at, Instant};

use crate::ble::{BleTransport, DeviceAddress};
use crate::nuki::enums::{
    CompletionStatus, DeviceAction, DeviceLockState, ErrorCode, LockAction, LockState, OpenerAction,
};
use crate::nuki::exchange::ExchangeError;
use crate::nuki::messages::KeyturnerStates;

use super::client::DeviceClient;
use super::credentials::DeviceCredentials;
use super::fleet::{FleetConfig, FleetEvent};
use super::link::LinkError;
use super::outcome::{Completed, Failure, Outcome};
use super::slots::{LinkSlots, Priority, SlotPermit};

/// Pause before asking again when a retried command finds the device still moving.
const BUSY_RETRY_DELAY: Duration = Duration::from_millis(500);

/// What a job asks of the device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    ReadState,
    Act(DeviceAction),
}

impl Command {
    /// Whether sending it again after a lost link cannot do harm (the device answers an
    /// action whose target state it is already in with COMPLETE).
    fn is_repeatable(self) -> bool {
        match self {
            Command::ReadState => true,
            Command::Act(DeviceAction::Lock(action)) => {
                matches!(
                    action,
                    LockAction::Lock | LockAction::Unlock | LockAction::FullLock
                )
            }
            Command::Act(DeviceAction::Opener(action)) => {
                !matches!(action, OpenerAction::ElectricStrikeActuation)
            }
        }
    }
}

pub(crate) struct Job {
    pub command: Command,
    pub priority: Priority,
    pub deadline: Instant,
    pub reply: Option<oneshot::Sender<Outcome>>,
}

pub(crate) type StateCache = Arc<RwLock<HashMap<DeviceAddress, KeyturnerStates>>>;

struct OpenLink {
    client: DeviceClient,
    _slot: SlotPermit,
    last_used: Instant,
}

pub(crate) struct DeviceTask {
    credentials: DeviceCredentials,
    transport: Arc<dyn BleTransport>,
    slots: LinkSlots,
    config: FleetConfig,
    jobs: mpsc::Receiver<Job>,
    events: broadcast::Sender<FleetEvent>,
    cache: StateCache,
    refresh_queued: Arc<std::sync::atomic::AtomicBool>,
    link: Option<OpenLink>,
    failures: u32,
    retry_after: Option<Instant>,
}

impl DeviceTask {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        credentials: DeviceCredentials,
        transport: Arc<dyn BleTransport>,
        slots: LinkSlots,
        config: FleetConfig,
        jobs: mpsc::Receiver<Job>,
        events: broadcast::Sender<FleetEvent>,
        cache: StateCache,
        refresh_queued: Arc<std::sync::atomic::AtomicBool>,
    ) -> Self {
        Self {
            credentials,
            transport,
            slots,
            config,
            jobs,
            events,
            cache,
            refresh_queued,
            link: None,
            failures: 0,
            retry_after: None,
        }
    }

    fn address(&self) -> &DeviceAddress {
        &self.credentials.address
    }

    fn idle_limit(&self) -> Duration {
        if self.credentials.is_mains_powered() {
            self.config.mains_idle_disconnect
        } else {
            self.config.idle_disconnect
        }
    }

    pub async fn run(mut self) {
        let mut contention = self.slots.contention();
        loop {
            let idle_at = self
                .link
                .as_ref()
                .map(|link| link.last_used + self.idle_limit());
            tokio::select! {
                // Queued work first: closing a link that the next job needs costs a reconnect.
                biased;
                job = self.jobs.recv() => match job {
                    Some(job) => self.handle(job).await,
                    None => break,
                },
                () = sleep_until(idle_at.unwrap_or_else(far_future)), if idle_at.is_some() => {
                    self.close_link("idle").await;
                }
                changed = contention.changed(), if self.link.is_some() => {
                    if changed.is_err() {
                        break;
                    }
                    if *contention.borrow_and_update() > 0 {
                        self.close_link("slot needed by another device").await;
                    }
                }
            }
        }
        self.close_link("shutdown").await;
    }

    async fn handle(&mut self, job: Job) {
        if job.priority == Priority::Background {
            self.refresh_queued
                .store(false, std::sync::atomic::Ordering::SeqCst);
        }
        let outcome = if Instant::now() >= job.deadline {
            Err(Failure::TimedOut)
        } else {
            self.execute(job.command, job.priority, job.deadline).await
        };
        if let Err(failure) = &outcome {
            tracing::debug!(device = %self.credentials.name, command = ?job.command, %failure, "command failed");
        }
        if let Some(reply) = job.reply {
            // The caller may have given up; its loss.
            let _ = reply.send(outcome);
        }
    }

    async fn execute(
        &mut self,
        command: Command,
        priority: Priority,
        deadline: Instant,
    ) -> Outcome {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.ensure_link(priority, deadline).await?;
            let Some(link) = self.link.as_mut() else {
                return Err(Failure::Unreachable {
                    reason: "no link".into(),
                });
            };
            let result = timeout_at(deadline, run_command(&mut link.client, command)).await;
            link.last_used = Instant::now();
            match result {
                Err(_) => {
                    // The device may still be answering; this link's state is unknown.
                    self.close_link("deadline passed mid-command").await;
                    return Err(Failure::TimedOut);
                }
                Ok(Ok(state)) => {
                    if let Some(state) = &state {
                        self.remember(state.clone());
                        let acted = matches!(command, Command::Act(_));
                        if let Some(failure) = movement_failure(state).filter(|_| acted) {
                            return Err(failure);
                        }
                    }
                    return Ok(Completed { state });
                }
                Ok(Err(error)) if error.is_link_failure() => {
                    self.close_link("link failed").await;
                    let retry =
                        attempt == 1 && command.is_repeatable() && Instant::now() < deadline;
                    if !retry {
                        return Err(match error {
                            LinkError::Timeout { .. } => Failure::TimedOut,
                            other => Failure::Unreachable {
                                reason: other.to_string(),
                            },
                        });
                    }
                    tracing::info!(device = %self.credentials.name, %error, "link lost mid-command; trying again");
                }
                Ok(Err(error)) => {
                    let failure = refusal(&error);
                    // After a lost link the device is often still finishing our own first
                    // attempt; wait for it instead of reporting our own action as "busy".
                    let recovering = attempt > 1 && failure == Failure::Busy;
                    if recovering && Instant::now() + BUSY_RETRY_DELAY < deadline {
                        tokio::time::sleep(BUSY_RETRY_DELAY).await;
                        continue;
                    }
                    return Err(failure);
                }
            }
        }
    }

    async fn ensure_link(&mut self, priority: Priority, deadline: Instant) -> Result<(), Failure> {
        if self.link.is_some() {
            return Ok(());
        }
        if let Some(retry_after) = self.retry_after {
            // Background work respects the backoff; a waiting user gets a try right away.
            if priority == Priority::Background && Instant::now() < retry_after {
                return Err(Failure::Unreachable {
                    reason: "backing off after failed connections".into(),
                });
            }
        }
        let slot = timeout_at(deadline, self.slots.acquire(priority))
            .await
            .map_err(|_| Failure::TimedOut)?;
        let connect_deadline = deadline.min(Instant::now() + self.config.timeouts.connect);
        let connected = timeout_at(
            connect_deadline,
            DeviceClient::connect(
                self.transport.as_ref(),
                &self.credentials,
                self.config.timeouts,
            ),
        )
        .await;
        match connected {
            Ok(Ok(client)) => {
                self.failures = 0;
                self.retry_after = None;
                self.link = Some(OpenLink {
                    client,
                    _slot: slot,
                    last_used: Instant::now(),
                });
                let _ = self.events.send(FleetEvent::Connected {
                    address: self.address().clone(),
                });
                Ok(())
            }
            Ok(Err(error)) => {
                self.note_connect_failure();
                Err(Failure::Unreachable {
                    reason: error.to_string(),
                })
            }
            Err(_) => {
                self.note_connect_failure();
                Err(if Instant::now() >= deadline {
                    Failure::TimedOut
                } else {
                    Failure::Unreachable {
                        reason: "connect timed out".into(),
                    }
                })
            }
        }
    }

    /// Exponential backoff with full jitter: the wait doubles per failure up to the maximum.
    fn note_connect_failure(&mut self) {
        self.failures = self.failures.saturating_add(1);
        let exponent = self.failures.saturating_sub(1).min(16);
        let ceiling = self
            .config
            .backoff_base
            .saturating_mul(1 << exponent)
            .min(self.config.backoff_max);
        let jittered = ceiling.mul_f64(rand::thread_rng().gen_range(0.5..=1.0));
        self.retry_after = Some(Instant::now() + jittered);
    }

    async fn close_link(&mut self, why: &'static str) {
        if let Some(link) = self.link.take() {
            tracing::debug!(device = %self.credentials.name, why, "closing link");
            link.client.close().await;
            let _ = self.events.send(FleetEvent::Disconnected {
                address: self.address().clone(),
            });
        }
    }

    fn remember(&self, state: KeyturnerStates) {
        let previous = {
            let mut cache = self
                .cache
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            cache.insert(self.address().clone(), state.clone())
        };
        let was_critical = previous.as_ref().is_some_and(|p| p.battery_critical());
        // The device's clock ticks in every report; only a change of anything else counts.
        let unchanged = previous.is_some_and(|mut previous| {
            previous.current_time = state.current_time;
            previous == state
        });
        if !unchanged {
            let _ = self.events.send(FleetEvent::StateChanged {
                address: self.address().clone(),
                state: state.clone(),
            });
        }
        if state.battery_critical() && !was_critical {
            let _ = self.events.send(FleetEvent::BatteryCritical {
                address: self.address().clone(),
            });
        }
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(365 * 24 * 3600)
}

async fn run_command(
    client: &mut DeviceClient,
    command: Command,
) -> Result<Option<KeyturnerStates>, LinkError> {
    match command {
        Command::ReadState => client.states().await.map(Some),
        Command::Act(action) => {
            let report = client.act(action).await?;
            match report.final_state() {
                Some(state) => Ok(Some(state.clone())),
                // Already in the target state: the device completed without a state update.
                None => client.states().await.map(Some),
            }
        }
    }
}

/// A completed action whose final state says the motor did not get there.
fn movement_failure(state: &KeyturnerStates) -> Option<Failure> {
    let blocked = state.lock_state == DeviceLockState::Lock(LockState::MotorBlocked)
        || state.last_lock_action_completion_status == Some(CompletionStatus::MotorBlocked);
    blocked.then_some(Failure::MotorBlocked)
}

fn refusal(error: &LinkError) -> Failure {
    match error {
        LinkError::Exchange(ExchangeError::Refused { code, .. }) => match *code {
            ErrorCode::KErrorBusy => Failure::Busy,
            ErrorCode::KErrorMotorBlocked => Failure::MotorBlocked,
            code => Failure::Refused { code },
        },
        other => Failure::Unreachable {
            reason: other.to_string(),
        },
    }
}
