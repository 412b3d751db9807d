//! One task per paired device: it owns the device's link, runs one command at a time, closes
//! an idle link (sooner when another device waits for a slot) and backs off after failures.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use futures::future::BoxFuture;
use rand::Rng;
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::time::{sleep_until, timeout_at, Instant};
use tokio_util::sync::CancellationToken;

use crate::ble::{BleTransport, DeviceAddress};
use crate::nuki::enums::{
    CompletionStatus, DeviceAction, DeviceLockState, ErrorCode, LockAction, LockState,
    OpenerAction, OpenerLockState, SortOrder,
};
use crate::nuki::exchange::ExchangeError;
use crate::nuki::messages::KeyturnerStates;

use super::client::DeviceClient;
use super::credentials::DeviceCredentials;
use super::device_log::{LogFollow, LogShared, PageStep, PinProblem};
use super::events::FleetEvent;
use super::link::LinkError;
use super::outcome::{Completed, Failure, Outcome, UnreachableReason};
use super::slots::{LinkSlots, Priority, SlotPermit};
use super::tuning::FleetConfig;

/// Pause before asking again when a retried command finds the device still moving.
const BUSY_RETRY_DELAY: Duration = Duration::from_millis(500);
/// A state read that found the device moving (unlocking, locking, …) is followed by another
/// this much later, so the final state is reported without waiting for the next flag (which
/// a device does not advertise while the link is open).
const TRANSITIONAL_REREAD_DELAY: Duration = Duration::from_secs(1);
/// Reads after a transitional state before giving up (a lock 'n' go waits about 20 s).
const MAX_TRANSITIONAL_REREADS: u32 = 40;
/// A device that finishes an action on its own (see [`Command::Start`]) is read again this
/// long after a read found it still moving, when no flag announced the end first: a flag can
/// go unnoticed when it never dropped between two advertisements the fleet heard.
const MOVING_RECHECK: Duration = Duration::from_secs(3);

/// Work on an open link that the fleet schedules like any other command; the value it
/// produces travels back through what the closure captured.
pub struct Operation {
    pub name: &'static str,
    /// Whether running it again after a lost link cannot do harm.
    pub repeatable: bool,
    pub run: OperationFn,
}

pub type OperationFn =
    Box<dyn for<'a> FnMut(&'a mut DeviceClient) -> BoxFuture<'a, Result<(), LinkError>> + Send>;

impl std::fmt::Debug for Operation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Operation")
            .field("name", &self.name)
            .field("repeatable", &self.repeatable)
            .finish_non_exhaustive()
    }
}

/// What a job asks of the device.
#[derive(Debug)]
pub enum Command {
    ReadState,
    /// An action whose link is held until the device completed it.
    Act(DeviceAction),
    /// An action whose link is given up once the device accepted it (Bridge `nowait`): the
    /// device finishes the movement on its own, and the job is answered from the first state
    /// read that finds it at rest (brought by the state-changed flag, or by a read of our own
    /// when no flag came).
    Start(DeviceAction),
    Run(Operation),
}

impl Command {
    /// Whether sending it again after a lost link cannot do harm (the device answers an
    /// action whose target state it is already in with COMPLETE).
    fn is_repeatable(&self) -> bool {
        match self {
            Command::ReadState => true,
            Command::Act(DeviceAction::Lock(action))
            | Command::Start(DeviceAction::Lock(action)) => {
                matches!(
                    action,
                    LockAction::Lock | LockAction::Unlock | LockAction::FullLock
                )
            }
            Command::Act(DeviceAction::Opener(action))
            | Command::Start(DeviceAction::Opener(action)) => {
                !matches!(action, OpenerAction::ElectricStrikeActuation)
            }
            Command::Run(operation) => operation.repeatable,
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Command::ReadState => "read state",
            Command::Act(action) | Command::Start(action) => action.name(),
            Command::Run(operation) => operation.name,
        }
    }
}

pub(crate) struct Job {
    pub command: Command,
    pub priority: Priority,
    pub deadline: Instant,
    pub reply: Option<oneshot::Sender<Outcome>>,
}

/// What callers of a device can know about its queue without asking its task.
#[derive(Debug, Default)]
pub(crate) struct QueueStats {
    /// Jobs sent and not yet taken up by the task.
    pub queued: AtomicUsize,
    /// How long a job has recently taken, smoothed; 0 until one finished.
    pub typical_ms: AtomicU64,
    /// Jobs of waiting users among the queued ones, and a wake-up when one is queued: the
    /// background work ahead of them then asks for its link slot as they would.
    queued_user: AtomicUsize,
    user_arrived: tokio::sync::Notify,
}

impl QueueStats {
    /// Queues `job` for the device's task, counted before the task can take it up so that
    /// the counts never run below zero.
    pub fn send(
        &self,
        jobs: &mpsc::Sender<Job>,
        job: Job,
    ) -> Result<(), mpsc::error::TrySendError<Job>> {
        let priority = job.priority;
        self.queued.fetch_add(1, Ordering::Relaxed);
        if priority == Priority::User {
            self.queued_user.fetch_add(1, Ordering::Relaxed);
        }
        let sent = jobs.try_send(job);
        match (&sent, priority) {
            (Ok(()), Priority::User) => self.user_arrived.notify_one(),
            (Ok(()), Priority::Background) => {}
            (Err(_), _) => self.taken(priority),
        }
        sent
    }

    /// A queued job left the queue.
    fn taken(&self, priority: Priority) {
        self.queued.fetch_sub(1, Ordering::Relaxed);
        if priority == Priority::User {
            self.queued_user.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn user_waits_in_queue(&self) -> bool {
        self.queued_user.load(Ordering::Relaxed) > 0
    }

    /// Whether a new job would wait longer than `budget` behind those already queued (plus
    /// the one running), judged by how long jobs have recently taken.
    pub fn cannot_start_within(&self, budget: Duration) -> bool {
        let typical = self.typical_ms.load(Ordering::Relaxed);
        let ahead = self.queued.load(Ordering::Relaxed) as u64 + 1;
        typical > 0 && Duration::from_millis(typical.saturating_mul(ahead)) > budget
    }

    fn record(&self, took: Duration) {
        let took = u64::try_from(took.as_millis()).unwrap_or(u64::MAX);
        let before = self.typical_ms.load(Ordering::Relaxed);
        // An exponential average: recent jobs count most, one outlier does not swing it.
        let smoothed = if before == 0 {
            took
        } else {
            (before.saturating_mul(3).saturating_add(took)) / 4
        };
        self.typical_ms.store(smoothed, Ordering::Relaxed);
    }
}

pub(crate) type StateCache = Arc<RwLock<HashMap<DeviceAddress, KeyturnerStates>>>;

/// An action the device accepted and finishes on its own, without our link.
struct Moving {
    name: &'static str,
    reply: Option<oneshot::Sender<Outcome>>,
    started: Instant,
    /// The caller's deadline: no answer after it.
    deadline: Instant,
    /// When to read the state ourselves if no flag brought the end before.
    check_at: Instant,
}

/// How far a command got.
enum Ran {
    /// It ended; the device's state afterwards, when the command reports one.
    Done(Option<KeyturnerStates>),
    /// The device accepted an action and is still carrying it out.
    Accepted,
}

struct OpenLink {
    client: DeviceClient,
    _slot: SlotPermit,
    last_used: Instant,
}

/// What a device task shares with the fleet.
pub(crate) struct TaskContext {
    pub transport: Arc<dyn BleTransport>,
    pub slots: LinkSlots,
    pub config: FleetConfig,
    pub events: broadcast::Sender<FleetEvent>,
    pub cache: StateCache,
    /// Cancelled when the fleet shuts down.
    pub shutdown: CancellationToken,
}

pub(crate) struct DeviceTask {
    credentials: DeviceCredentials,
    context: TaskContext,
    jobs: mpsc::Receiver<Job>,
    refresh_queued: Arc<AtomicBool>,
    stats: Arc<QueueStats>,
    link: Option<OpenLink>,
    failures: u32,
    retry_after: Option<Instant>,
    log: LogFollow,
    /// When to read the state again because the last one was transitional.
    settle_at: Option<Instant>,
    transitional_rereads: u32,
    /// A started action whose end is not known yet; at most one, since an action queued
    /// behind it waits for that end.
    moving: Option<Moving>,
}

impl DeviceTask {
    pub fn new(
        credentials: DeviceCredentials,
        context: TaskContext,
        jobs: mpsc::Receiver<Job>,
        refresh_queued: Arc<AtomicBool>,
        stats: Arc<QueueStats>,
        log: Arc<LogShared>,
    ) -> Self {
        let period = context.config.log_refresh;
        // Spread over the period so that devices started together do not all read at once.
        let first_read = period.mul_f64(rand::thread_rng().gen_range(0.5..=1.0));
        Self {
            credentials,
            log: LogFollow::new(log, period, first_read),
            context,
            jobs,
            refresh_queued,
            stats,
            link: None,
            failures: 0,
            retry_after: None,
            settle_at: None,
            transitional_rereads: 0,
            moving: None,
        }
    }

    fn address(&self) -> &DeviceAddress {
        &self.credentials.address
    }

    fn idle_limit(&self) -> Duration {
        if self.credentials.is_mains_powered() {
            self.context.config.mains_idle_disconnect
        } else {
            self.context.config.idle_disconnect
        }
    }

    /// Runs jobs until the fleet shuts down or drops the device; always ends with the link
    /// closed, so no device is left connected (a connected lock drains its battery and keeps
    /// its other users out).
    pub async fn run(mut self) {
        let mut contention = self.context.slots.contention();
        let shutdown = self.context.shutdown.clone();
        let grace = self.context.config.shutdown_grace;
        let log_requests = self.log.shared.clone();
        loop {
            let idle_at = self
                .link
                .as_ref()
                .map(|link| link.last_used + self.idle_limit());
            let settle_at = self.settle_at;
            let log_page_due = self.log.page_due(Instant::now());
            let log_scheduled = self.log.next_scheduled();
            let log_retry_at = self.log.retry_at();
            let moving_check_at = self
                .moving
                .as_ref()
                .map(|moving| moving.check_at.min(moving.deadline));
            tokio::select! {
                biased;
                () = shutdown.cancelled() => break,
                // Queued work before closing an idle link: closing a link that the next job
                // needs costs a reconnect. Fairness to other devices is kept after each job.
                job = self.jobs.recv() => match job {
                    Some(job) => {
                        let priority = job.priority;
                        let finished = tokio::select! {
                            () = self.handle(job) => true,
                            () = grace_after(&shutdown, grace) => false,
                        };
                        if !finished {
                            tracing::warn!(device = %self.credentials.name, "command still running at the end of the shutdown grace period; abandoned");
                            break;
                        }
                        self.yield_slot_if_others_wait(priority).await;
                    }
                    None => break,
                },
                // Background work comes after queued jobs, one short exchange at a time, so
                // a user's action waits for one page of a log read at most.
                () = sleep_until(settle_at.unwrap_or_else(far_future)), if settle_at.is_some() => {
                    let finished = tokio::select! {
                        () = self.settle_state() => true,
                        () = grace_after(&shutdown, grace) => false,
                    };
                    if !finished {
                        break;
                    }
                }
                () = sleep_until(moving_check_at.unwrap_or_else(far_future)), if moving_check_at.is_some() => {
                    let finished = tokio::select! {
                        () = self.check_movement() => true,
                        () = grace_after(&shutdown, grace) => false,
                    };
                    if !finished {
                        break;
                    }
                }
                () = log_requests.requested.notified() => self.log.request(),
                () = sleep_until(log_scheduled.unwrap_or_else(far_future)), if log_scheduled.is_some() => {
                    self.log.on_schedule();
                }
                () = std::future::ready(()), if log_page_due => {
                    let finished = tokio::select! {
                        () = self.read_log_page() => true,
                        () = grace_after(&shutdown, grace) => false,
                    };
                    if !finished {
                        break;
                    }
                }
                () = sleep_until(log_retry_at.unwrap_or_else(far_future)), if log_retry_at.is_some() => {}
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
        if let Some(reply) = self.moving.take().and_then(|moving| moving.reply) {
            let _ = reply.send(Err(Failure::ShuttingDown));
        }
        self.jobs.close();
        while let Ok(job) = self.jobs.try_recv() {
            self.stats.taken(job.priority);
            if let Some(reply) = job.reply {
                let _ = reply.send(Err(Failure::ShuttingDown));
            }
        }
        if self.close_link("shutdown").await {
            tracing::info!(device = %self.credentials.name, "link closed at shutdown");
        }
    }

    /// A device with more queued work would otherwise keep its slot for as long as work
    /// keeps coming, and a device waiting for a slot would starve: after each job, a holder
    /// hands its slot over when a device with work as urgent as its own waits. A background
    /// job with a user's job queued behind it got its slot for that user (see
    /// [`acquire_slot`]): the user's job runs next on the same link instead of reconnecting.
    async fn yield_slot_if_others_wait(&mut self, finished: Priority) {
        if self.link.is_none() || self.jobs.is_empty() {
            return;
        }
        if finished == Priority::Background && self.stats.user_waits_in_queue() {
            return;
        }
        if self.context.slots.waiting_at_least(Priority::User) > 0 {
            self.close_link("slot handed to a waiting device").await;
        }
    }

    async fn handle(&mut self, job: Job) {
        self.stats.taken(job.priority);
        if job.priority == Priority::Background {
            self.refresh_queued.store(false, Ordering::SeqCst);
        }
        let started = Instant::now();
        let name = job.command.name();
        let acts = matches!(job.command, Command::Act(_) | Command::Start(_));
        let starts = match &job.command {
            Command::Start(action) => Some(*action),
            _ => None,
        };
        if acts && self.moving.is_some() {
            // The device refuses a second action while it moves: this one waits for the end
            // of the first, as it would have behind an action that held the link.
            self.await_movement_end(job.priority, job.deadline).await;
        }
        let ran = if Instant::now() >= job.deadline {
            Err(Failure::TimedOut)
        } else {
            self.run_job(job.command, job.priority, job.deadline).await
        };
        let outcome = match (ran, starts) {
            (Ok(Ran::Accepted), Some(action)) => {
                // The motor run needs no link: the slot goes back to the pool at once
                // instead of after the idle time, and the flag or our own read brings the end.
                self.close_link("action accepted; the device finishes it on its own")
                    .await;
                // A device accepts an action only at rest: an earlier one whose end went
                // unseen is over, how is not known any more.
                self.end_movement(Err(Failure::TimedOut));
                // Its own checks follow the movement from now on.
                self.settle_at = None;
                self.transitional_rereads = 0;
                self.moving = Some(Moving {
                    name,
                    reply: job.reply,
                    started,
                    deadline: job.deadline,
                    check_at: Instant::now() + expected_motion(action),
                });
                return;
            }
            (Ok(Ran::Accepted), None) => Ok(Completed { state: None }),
            (Ok(Ran::Done(state)), _) => Ok(Completed { state }),
            (Err(failure), _) => Err(failure),
        };
        self.stats.record(started.elapsed());
        self.conclude(name, started, outcome, job.reply);
        self.release_while_moving().await;
    }

    /// Metrics, a log line for failures, and the answer to the job's caller.
    fn conclude(
        &self,
        name: &'static str,
        started: Instant,
        outcome: Outcome,
        reply: Option<oneshot::Sender<Outcome>>,
    ) {
        let kind = self.credentials.product.name();
        metrics::histogram!("nuki_edge_command_seconds", "kind" => kind, "command" => name)
            .record(started.elapsed().as_secs_f64());
        let result = outcome.as_ref().map_or_else(Failure::kind, |_| "ok");
        metrics::counter!("nuki_edge_command_outcomes_total", "kind" => kind, "command" => name, "outcome" => result)
            .increment(1);
        if let Err(failure) = &outcome {
            tracing::debug!(device = %self.credentials.name, command = name, %failure, "command failed");
        }
        if let Some(reply) = reply {
            // The caller may have given up; its loss.
            let _ = reply.send(outcome);
        }
    }

    /// A read that found a started action still running leaves the link alone no longer
    /// than it must: the end comes with the next flag or check, not over this link.
    async fn release_while_moving(&mut self) {
        if self.moving.is_some() && self.link.is_some() && self.jobs.is_empty() {
            self.close_link("device still moving on its own").await;
        }
    }

    /// Reads the state of a device finishing a started action on its own when no flag
    /// brought its end in time; gives the action up at its caller's deadline.
    async fn check_movement(&mut self) {
        let read_by = self.background_deadline();
        let Some(moving) = self.moving.as_mut() else {
            return;
        };
        let now = Instant::now();
        if now >= moving.deadline {
            self.end_movement(Err(Failure::TimedOut));
            return;
        }
        // Read again later if this read fails or finds the device still moving.
        moving.check_at = now + MOVING_RECHECK;
        let deadline = read_by.min(moving.deadline);
        if let Err(failure) = self
            .execute(Command::ReadState, Priority::User, deadline)
            .await
        {
            tracing::debug!(device = %self.credentials.name, %failure, "reading the state after a started action failed");
        }
        self.release_while_moving().await;
    }

    /// Holds a job until the started action before it ended: reads the state over one link
    /// until the device is at rest (or the job's deadline is near).
    async fn await_movement_end(&mut self, priority: Priority, deadline: Instant) {
        while self.moving.is_some() && Instant::now() + TRANSITIONAL_REREAD_DELAY < deadline {
            if self
                .execute(Command::ReadState, priority, deadline)
                .await
                .is_err()
            {
                return;
            }
            if self.moving.is_some() {
                tokio::time::sleep(TRANSITIONAL_REREAD_DELAY).await;
            }
        }
    }

    /// Answers the caller of the started action.
    fn end_movement(&mut self, outcome: Outcome) {
        if let Some(moving) = self.moving.take() {
            // An action queued behind this one waited for its end: the whole movement is
            // what the next caller's wait is judged by.
            self.stats.record(moving.started.elapsed());
            self.conclude(moving.name, moving.started, outcome, moving.reply);
        }
    }

    /// Runs a command that ends on the link (anything but [`Command::Start`]).
    async fn execute(
        &mut self,
        command: Command,
        priority: Priority,
        deadline: Instant,
    ) -> Outcome {
        match self.run_job(command, priority, deadline).await? {
            Ran::Done(state) => Ok(Completed { state }),
            // Only `handle` runs started actions; nothing else would wait for their end.
            Ran::Accepted => Ok(Completed { state: None }),
        }
    }

    async fn run_job(
        &mut self,
        mut command: Command,
        priority: Priority,
        deadline: Instant,
    ) -> Result<Ran, Failure> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.ensure_link(priority, deadline).await?;
            let Some(link) = self.link.as_mut() else {
                return Err(Failure::unreachable(UnreachableReason::LinkLost));
            };
            let result = timeout_at(deadline, run_command(&mut link.client, &mut command)).await;
            link.last_used = Instant::now();
            match result {
                Err(_) => {
                    // The device may still be answering; this link's state is unknown.
                    self.close_link("deadline passed mid-command").await;
                    return Err(Failure::TimedOut);
                }
                Ok(Ok(Ran::Accepted)) => return Ok(Ran::Accepted),
                Ok(Ok(Ran::Done(state))) => {
                    if let Some(state) = &state {
                        self.remember(state.clone());
                        let acted = matches!(command, Command::Act(_) | Command::Start(_));
                        if let Some(failure) = movement_failure(state).filter(|_| acted) {
                            return Err(failure);
                        }
                    }
                    return Ok(Ran::Done(state));
                }
                Ok(Err(error)) if error.is_link_failure() => {
                    self.close_link("link failed").await;
                    let retry =
                        attempt == 1 && command.is_repeatable() && Instant::now() < deadline;
                    if !retry {
                        tracing::debug!(device = %self.credentials.name, %error, "link failed mid-command");
                        return Err(match error {
                            LinkError::Timeout { .. } => Failure::TimedOut,
                            other => Failure::unreachable(UnreachableReason::of_link_error(&other)),
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

    /// Reads the state again after a transitional one; `remember` schedules the next read
    /// while the device keeps moving.
    async fn settle_state(&mut self) {
        self.settle_at = None;
        self.transitional_rereads += 1;
        let deadline = self.background_deadline();
        if let Err(failure) = self
            .execute(Command::ReadState, Priority::Background, deadline)
            .await
        {
            tracing::debug!(device = %self.credentials.name, %failure, "reading the state after a movement failed");
            self.transitional_rereads = 0;
        }
    }

    fn background_deadline(&self) -> Instant {
        Instant::now() + self.context.config.timeouts.connect + self.context.config.timeouts.command
    }

    /// One page of the device's log, newest first; at the end of a read, the new entries go
    /// out oldest first and the newest becomes the position.
    async fn read_log_page(&mut self) {
        if self.credentials.security_pin.is_none() {
            // Sending no PIN would send a wrong one, and wrong PINs lock the device's PIN.
            if self.log.on_pin_problem(PinProblem::Missing) {
                tracing::warn!(device = %self.credentials.name, "the device's log needs its security PIN, which is not known; not reading it");
            }
            return;
        }
        let read = self.log.current();
        let (start, count) = (read.next_start(), read.next_count());
        let page = Arc::new(Mutex::new(Vec::new()));
        let filled = page.clone();
        let run: OperationFn = Box::new(move |client| {
            let filled = filled.clone();
            Box::pin(async move {
                let entries = client.log_page(start, count, SortOrder::Descending).await?;
                *filled.lock().unwrap_or_else(|p| p.into_inner()) = entries;
                Ok(())
            })
        });
        let command = Command::Run(Operation {
            name: "read log page",
            repeatable: true,
            run,
        });
        let deadline = self.background_deadline();
        match self.execute(command, Priority::Background, deadline).await {
            Ok(_) => {
                let entries = std::mem::take(&mut *page.lock().unwrap_or_else(|p| p.into_inner()));
                match self.log.current().on_page(entries) {
                    PageStep::More => self.yield_slot_to_waiting_users().await,
                    PageStep::Done(entries) => {
                        self.log.finish(&entries);
                        if !entries.is_empty() {
                            let _ = self.context.events.send(FleetEvent::LogEntries {
                                address: self.address().clone(),
                                entries,
                            });
                        }
                    }
                }
            }
            Err(Failure::Refused {
                code: ErrorCode::KErrorBadPin | ErrorCode::KErrorTooManyPinAttempts,
            }) => {
                if self.log.on_pin_problem(PinProblem::Refused) {
                    tracing::warn!(device = %self.credentials.name, "the device refused the security PIN for reading its log; trying again on the slow schedule");
                }
            }
            Err(failure) => {
                tracing::debug!(device = %self.credentials.name, %failure, "reading the device log failed");
                self.log.on_failure();
            }
        }
    }

    /// Between pages of a long read: a device waiting for a slot for a user gets this one.
    async fn yield_slot_to_waiting_users(&mut self) {
        if self.link.is_some() && self.context.slots.waiting_at_least(Priority::User) > 0 {
            self.close_link("slot handed to a waiting device").await;
        }
    }

    async fn ensure_link(&mut self, priority: Priority, deadline: Instant) -> Result<(), Failure> {
        if self.link.is_some() {
            return Ok(());
        }
        if let Some(retry_after) = self.retry_after {
            // Background work respects the backoff; a waiting user gets a try right away.
            if priority == Priority::Background && Instant::now() < retry_after {
                return Err(Failure::unreachable(UnreachableReason::BackingOff));
            }
        }
        let waited_for = self.moving.is_some();
        let slot = timeout_at(
            deadline,
            acquire_slot(&self.context.slots, &self.stats, priority, waited_for),
        )
        .await
        .map_err(|_| Failure::TimedOut)?;
        let connecting = Instant::now();
        let connect_deadline = deadline.min(Instant::now() + self.context.config.timeouts.connect);
        let connected = timeout_at(
            connect_deadline,
            DeviceClient::connect(
                self.context.transport.as_ref(),
                &self.credentials,
                self.context.config.timeouts,
            ),
        )
        .await;
        match connected {
            Ok(Ok(client)) => {
                metrics::histogram!("nuki_edge_connect_seconds", "kind" => self.credentials.product.name())
                    .record(connecting.elapsed().as_secs_f64());
                self.failures = 0;
                self.retry_after = None;
                self.link = Some(OpenLink {
                    client,
                    _slot: slot,
                    last_used: Instant::now(),
                });
                let _ = self.context.events.send(FleetEvent::Connected {
                    address: self.address().clone(),
                });
                Ok(())
            }
            Ok(Err(error)) => {
                self.note_connect_failure();
                tracing::debug!(device = %self.credentials.name, %error, "connect failed");
                Err(Failure::unreachable(UnreachableReason::of_connect_error(
                    &error,
                )))
            }
            Err(_) => {
                self.note_connect_failure();
                Err(if Instant::now() >= deadline {
                    Failure::TimedOut
                } else {
                    Failure::unreachable(UnreachableReason::ConnectTimeout)
                })
            }
        }
    }

    /// Exponential backoff with full jitter: the wait doubles per failure up to the maximum.
    fn note_connect_failure(&mut self) {
        self.failures = self.failures.saturating_add(1);
        let exponent = self.failures.saturating_sub(1).min(16);
        let ceiling = self
            .context
            .config
            .backoff_base
            .saturating_mul(1 << exponent)
            .min(self.context.config.backoff_max);
        let jittered = ceiling.mul_f64(rand::thread_rng().gen_range(0.5..=1.0));
        self.retry_after = Some(Instant::now() + jittered);
    }

    /// Closes the link if one is open; answers whether one was.
    async fn close_link(&mut self, why: &'static str) -> bool {
        let Some(link) = self.link.take() else {
            return false;
        };
        tracing::debug!(device = %self.credentials.name, why, "closing link");
        link.client.close().await;
        let _ = self.context.events.send(FleetEvent::Disconnected {
            address: self.address().clone(),
        });
        true
    }

    fn remember(&mut self, state: KeyturnerStates) {
        let moving = self.moving.is_some();
        if is_transitional(state.lock_state) && moving {
            // A started action is followed by flags and checks with the link closed, not by
            // rereads that would keep it open for the whole motor run.
            if let Some(moving) = self.moving.as_mut() {
                moving.check_at = Instant::now() + MOVING_RECHECK;
            }
        } else if is_transitional(state.lock_state)
            && self.transitional_rereads < MAX_TRANSITIONAL_REREADS
        {
            self.settle_at = Some(Instant::now() + TRANSITIONAL_REREAD_DELAY);
        } else {
            if is_transitional(state.lock_state) {
                tracing::debug!(device = %self.credentials.name, state = %state.lock_state, "the device kept moving; no more reads");
            } else if self.settle_at.is_some() || self.transitional_rereads > 0 || moving {
                // The device logs a movement when it ends, after the flag that announced it.
                self.log.request();
            }
            self.settle_at = None;
            self.transitional_rereads = 0;
        }
        let previous = {
            let mut cache = self
                .context
                .cache
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            cache.insert(self.address().clone(), state.clone())
        };
        let device = self.credentials.name.clone();
        metrics::gauge!("nuki_edge_battery_critical", "device" => device.clone())
            .set(f64::from(u8::from(state.battery_critical())));
        metrics::gauge!("nuki_edge_battery_percent", "device" => device)
            .set(f64::from(state.battery_percent()));
        let was_critical = previous.as_ref().is_some_and(|p| p.battery_critical());
        // The device's clock ticks in every report; only a change of anything else counts.
        let unchanged = previous.is_some_and(|mut previous| {
            previous.current_time = state.current_time;
            previous == state
        });
        let _ = self.context.events.send(FleetEvent::ClockReported {
            address: self.address().clone(),
            current_time: state.current_time,
        });
        if !unchanged {
            let _ = self.context.events.send(FleetEvent::StateChanged {
                address: self.address().clone(),
                state: state.clone(),
            });
        }
        if state.battery_critical() && !was_critical {
            let _ = self.context.events.send(FleetEvent::BatteryCritical {
                address: self.address().clone(),
            });
        }
        if moving && !is_transitional(state.lock_state) {
            // The device is at rest: the started action ended, well or jammed.
            let outcome = match movement_failure(&state) {
                Some(failure) => Err(failure),
                None => Ok(Completed { state: Some(state) }),
            };
            self.end_movement(outcome);
        }
    }
}

/// How long after its acceptance a started action is checked on when no flag announced its
/// end: about the time a device takes for it (a lock 'n' go waits about 20 s before it locks).
fn expected_motion(action: DeviceAction) -> Duration {
    match action {
        DeviceAction::Lock(LockAction::LockNGo | LockAction::LockNGoUnlatch) => {
            Duration::from_secs(25)
        }
        _ => MOVING_RECHECK,
    }
}

fn far_future() -> Instant {
    Instant::now() + Duration::from_secs(365 * 24 * 3600)
}

async fn run_command(client: &mut DeviceClient, command: &mut Command) -> Result<Ran, LinkError> {
    let report = match command {
        Command::ReadState => return client.states().await.map(|s| Ran::Done(Some(s))),
        Command::Run(operation) => return (operation.run)(client).await.map(|()| Ran::Done(None)),
        Command::Act(action) => client.act(*action).await?,
        Command::Start(action) => {
            let report = client.start_act(*action).await?;
            if report.accepted {
                return Ok(Ran::Accepted);
            }
            report
        }
    };
    match report.final_state() {
        Some(state) => Ok(Ran::Done(Some(state.clone()))),
        // Already in the target state: the device completed without a state update.
        None => client.states().await.map(|s| Ran::Done(Some(s))),
    }
}

/// A link slot for work of `priority`. Background work that a user waits for behind it (a
/// user's job queued after it on this device, or the end of a started action: `waited_for`)
/// asks as the user would: otherwise the user's job waits behind every device's background
/// work, and behind users who keep other devices busy, for as long as they do.
async fn acquire_slot(
    slots: &LinkSlots,
    stats: &QueueStats,
    priority: Priority,
    waited_for: bool,
) -> SlotPermit {
    if priority == Priority::User || waited_for {
        return slots.acquire(Priority::User).await;
    }
    loop {
        if stats.user_waits_in_queue() {
            return slots.acquire(Priority::User).await;
        }
        tokio::select! {
            permit = slots.acquire(Priority::Background) => return permit,
            // Leaving the background wait is safe: a dropped waiter is skipped.
            () = stats.user_arrived.notified() => {}
        }
    }
}

/// Resolves once the fleet is shutting down and the grace period for running commands ran out.
async fn grace_after(shutdown: &CancellationToken, grace: Duration) {
    shutdown.cancelled().await;
    tokio::time::sleep(grace).await;
}

/// A state the device passes through while it moves; the final one follows by itself.
fn is_transitional(state: DeviceLockState) -> bool {
    match state {
        DeviceLockState::Lock(state) => matches!(
            state,
            LockState::Unlocking
                | LockState::Locking
                | LockState::Unlatching
                | LockState::UnlockedLockNGo
                | LockState::Calibration
                | LockState::BootRun
        ),
        DeviceLockState::Opener(state) => {
            matches!(state, OpenerLockState::Opening | OpenerLockState::BootRun)
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
        other => Failure::unreachable(UnreachableReason::of_link_error(other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_is_refused_only_when_the_queue_ahead_cannot_end_in_time() {
        let stats = QueueStats::default();
        stats.queued.store(15, Ordering::Relaxed);
        assert!(
            !stats.cannot_start_within(Duration::from_millis(1)),
            "nothing is known before the first job ended"
        );
        stats.record(Duration::from_secs(2));
        // 15 queued + the running one, about 2 s each: 32 s ahead.
        assert!(stats.cannot_start_within(Duration::from_secs(15)));
        assert!(!stats.cannot_start_within(Duration::from_secs(40)));
        stats.queued.store(0, Ordering::Relaxed);
        assert!(!stats.cannot_start_within(Duration::from_secs(15)));
    }

    #[test]
    fn the_typical_duration_follows_recent_jobs_without_jumping() {
        let stats = QueueStats::default();
        stats.record(Duration::from_millis(2000));
        stats.record(Duration::from_millis(6000));
        assert_eq!(stats.typical_ms.load(Ordering::Relaxed), 3000);
    }
}
