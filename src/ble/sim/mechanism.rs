//! The moving parts: a Smart Lock's motor (or a Box's bolt) and an Opener's relays, as a
//! timed sequence of lock states. Pure: time comes in, events come out.
//!
//! State and action bytes are the wire values of §5.2 and §5.3; which table applies depends
//! on whether the mechanism belongs to an Opener.

use std::collections::VecDeque;
use std::time::Duration;

/// Lock states (§5.2). The Opener reuses 0x01, 0x03, 0x05 and 0x07 with its own meaning.
pub(crate) mod state {
    pub const UNCALIBRATED: u8 = 0x00;
    pub const LOCKED: u8 = 0x01;
    pub const UNLOCKING: u8 = 0x02;
    pub const UNLOCKED: u8 = 0x03;
    pub const LOCKING: u8 = 0x04;
    pub const UNLATCHED: u8 = 0x05;
    pub const UNLOCKED_LOCK_N_GO: u8 = 0x06;
    pub const UNLATCHING: u8 = 0x07;
    pub const CALIBRATION: u8 = 0xFC;
    pub const MOTOR_BLOCKED: u8 = 0xFE;
    pub const OPENER_ONLINE: u8 = 0x01;
    pub const OPENER_RTO_ACTIVE: u8 = 0x03;
    pub const OPENER_OPEN: u8 = 0x05;
    pub const OPENER_OPENING: u8 = 0x07;
}

/// Lock actions (§5.3), Smart Lock and Opener numbering.
pub(crate) mod action {
    pub const UNLOCK: u8 = 0x01;
    pub const LOCK: u8 = 0x02;
    pub const UNLATCH: u8 = 0x03;
    pub const LOCK_N_GO: u8 = 0x04;
    pub const LOCK_N_GO_UNLATCH: u8 = 0x05;
    pub const FULL_LOCK: u8 = 0x06;
    pub const OPENER_ACTIVATE_RTO: u8 = 0x01;
    pub const OPENER_DEACTIVATE_RTO: u8 = 0x02;
    pub const OPENER_ELECTRIC_STRIKE: u8 = 0x03;
    pub const OPENER_ACTIVATE_CM: u8 = 0x04;
    pub const OPENER_DEACTIVATE_CM: u8 = 0x05;
}

/// Completion status (§5.5).
pub(crate) mod completion {
    pub const SUCCESS: u8 = 0x00;
    pub const MOTOR_BLOCKED: u8 = 0x01;
}

/// Durations of the phases of a movement.
#[derive(Debug, Clone, Copy)]
pub(crate) struct MotionTimes {
    pub motor: Duration,
    /// How long the latch stays pulled before the lock reports unlocked again.
    pub unlatch_hold: Duration,
    /// Lock 'n' go: time in "unlocked (lock 'n' go)" before locking again.
    pub lock_n_go_wait: Duration,
    /// Opener: how long the electric strike stays open.
    pub strike_hold: Duration,
    pub calibration: Duration,
}

/// Who asked for a movement; events go back to them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Requester {
    pub auth_id: u32,
    /// The connection the request came in on; replies are only sent on that connection.
    pub connection: u64,
    pub command: u16,
    /// Name for the log entry (the authorization's name and an optional suffix).
    pub log_name: String,
    /// Set when the action came from a keypad code: (source, code id).
    pub keypad: Option<(u8, u16)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct MotionRequest {
    pub action: u8,
    pub trigger: u8,
    pub flags: u8,
    pub requester: Option<Requester>,
    /// The motor blocks on this movement (fault injection).
    pub jam: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum MotionKind {
    Action,
    Calibration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MechanismEvent {
    /// The reported state (lock state or continuous mode) changed.
    StateChanged {
        requester: Option<Requester>,
    },
    Finished(Finished),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Finished {
    pub kind: MotionKind,
    pub request: MotionRequest,
    pub completion: u8,
    /// Whether any part moved (for battery drain).
    pub moved: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum MechanismError {
    #[error("another movement is running")]
    Busy,
    #[error("the lock is not calibrated")]
    NotCalibrated,
    #[error("action {0:#04x} is not valid for this device")]
    BadAction(u8),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Started {
    /// Already in the target state: the action completes at once without moving.
    AlreadyThere(Finished),
    Moving(Vec<MechanismEvent>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Change {
    LockState(u8),
    ContinuousMode(bool),
    Blocked,
}

#[derive(Debug)]
struct Motion {
    kind: MotionKind,
    request: MotionRequest,
    steps: VecDeque<(Duration, Change)>,
    completion: u8,
}

#[derive(Debug)]
pub(crate) struct Mechanism {
    opener: bool,
    lock_state: u8,
    continuous_mode: bool,
    /// Trigger of the movement that produced the current state.
    trigger: u8,
    last_action: u8,
    last_trigger: u8,
    last_completion: u8,
    motion: Option<Motion>,
}

impl Mechanism {
    pub fn new(opener: bool, lock_state: u8) -> Self {
        Self {
            opener,
            lock_state,
            continuous_mode: false,
            trigger: 0,
            last_action: 0,
            last_trigger: 0,
            last_completion: completion::SUCCESS,
            motion: None,
        }
    }

    pub fn lock_state(&self) -> u8 {
        self.lock_state
    }

    pub fn continuous_mode(&self) -> bool {
        self.continuous_mode
    }

    pub fn trigger(&self) -> u8 {
        self.trigger
    }

    pub fn last_action(&self) -> (u8, u8, u8) {
        (self.last_action, self.last_trigger, self.last_completion)
    }

    pub fn is_busy(&self) -> bool {
        self.motion.is_some()
    }

    pub fn next_deadline(&self) -> Option<Duration> {
        self.motion
            .as_ref()
            .and_then(|motion| motion.steps.front().map(|(at, _)| *at))
    }

    /// Seconds until a lock 'n' go relocks (states byte 14), 0 when none is pending.
    pub fn lock_n_go_timer(&self, now: Duration) -> u8 {
        if self.opener || self.lock_state != state::UNLOCKED_LOCK_N_GO {
            return 0;
        }
        match self.next_deadline() {
            Some(at) => {
                let left = at.saturating_sub(now).as_secs_f64().ceil();
                // Bounded by the cast: the byte saturates at 255 s.
                left.clamp(0.0, 255.0) as u8
            }
            None => 0,
        }
    }

    /// Starts an action (§5.3 numbering of this device kind).
    pub fn start(
        &mut self,
        request: MotionRequest,
        times: &MotionTimes,
        now: Duration,
    ) -> Result<Started, MechanismError> {
        if self.motion.is_some() {
            return Err(MechanismError::Busy);
        }
        let plan = if self.opener {
            self.opener_plan(request.action, times)?
        } else {
            if self.lock_state == state::UNCALIBRATED {
                return Err(MechanismError::NotCalibrated);
            }
            self.lock_plan(request.action, times)?
        };
        let Some(plan) = plan else {
            let finished = Finished {
                kind: MotionKind::Action,
                request,
                completion: completion::SUCCESS,
                moved: false,
            };
            self.record(&finished);
            return Ok(Started::AlreadyThere(finished));
        };
        let plan = if request.jam && !self.opener {
            jammed(plan, times.motor)
        } else {
            plan
        };
        Ok(Started::Moving(self.begin(
            MotionKind::Action,
            request,
            plan,
            now,
        )))
    }

    pub fn calibrate(
        &mut self,
        request: MotionRequest,
        times: &MotionTimes,
        now: Duration,
    ) -> Result<Vec<MechanismEvent>, MechanismError> {
        if self.motion.is_some() {
            return Err(MechanismError::Busy);
        }
        let (first, rest) = if self.opener {
            (state::OPENER_ONLINE, state::OPENER_ONLINE)
        } else {
            (state::CALIBRATION, state::LOCKED)
        };
        let plan = vec![
            (Duration::ZERO, Change::LockState(first)),
            (times.calibration, Change::LockState(rest)),
        ];
        Ok(self.begin(MotionKind::Calibration, request, plan, now))
    }

    /// Applies every step due at `now`, in order.
    pub fn advance(&mut self, now: Duration) -> Vec<MechanismEvent> {
        let mut events = Vec::new();
        while let Some(motion) = self.motion.as_mut() {
            match motion.steps.front() {
                Some(&(at, change)) if at <= now => {
                    motion.steps.pop_front();
                    let requester = motion.request.requester.clone();
                    if self.apply(change) {
                        events.push(MechanismEvent::StateChanged { requester });
                    }
                }
                Some(_) => break,
                None => {
                    if let Some(finished) = self.finish() {
                        events.push(MechanismEvent::Finished(finished));
                    }
                }
            }
        }
        events
    }

    fn begin(
        &mut self,
        kind: MotionKind,
        request: MotionRequest,
        plan: Vec<(Duration, Change)>,
        now: Duration,
    ) -> Vec<MechanismEvent> {
        let mut at = now;
        let steps = plan
            .into_iter()
            .map(|(delay, change)| {
                at += delay;
                (at, change)
            })
            .collect();
        self.trigger = request.trigger;
        self.motion = Some(Motion {
            kind,
            request,
            steps,
            completion: completion::SUCCESS,
        });
        self.advance(now)
    }

    fn apply(&mut self, change: Change) -> bool {
        match change {
            Change::LockState(next) => {
                let changed = self.lock_state != next;
                self.lock_state = next;
                changed
            }
            Change::ContinuousMode(on) => {
                let changed = self.continuous_mode != on;
                self.continuous_mode = on;
                changed
            }
            Change::Blocked => {
                self.lock_state = state::MOTOR_BLOCKED;
                if let Some(motion) = self.motion.as_mut() {
                    motion.completion = completion::MOTOR_BLOCKED;
                    motion.steps.clear();
                }
                true
            }
        }
    }

    fn finish(&mut self) -> Option<Finished> {
        let motion = self.motion.take()?;
        let finished = Finished {
            kind: motion.kind,
            request: motion.request,
            completion: motion.completion,
            moved: true,
        };
        self.record(&finished);
        Some(finished)
    }

    fn record(&mut self, finished: &Finished) {
        if finished.kind == MotionKind::Action {
            self.last_action = finished.request.action;
            self.last_trigger = finished.request.trigger;
            self.last_completion = finished.completion;
        }
    }

    /// `None` when the lock is already where the action would take it.
    fn lock_plan(
        &self,
        action: u8,
        times: &MotionTimes,
    ) -> Result<Option<Vec<(Duration, Change)>>, MechanismError> {
        use state::*;
        let motor = times.motor;
        let from_locked = self.lock_state != UNLOCKED;
        // Unlatching from a locked bolt turns through unlocking first: two movements.
        let unlatch_time = if from_locked { motor * 2 } else { motor };
        let now = Duration::ZERO;
        let to = |s| Change::LockState(s);
        let plan = match action {
            action::UNLOCK if self.lock_state == UNLOCKED => return Ok(None),
            action::UNLOCK => vec![(now, to(UNLOCKING)), (motor, to(UNLOCKED))],
            action::LOCK | action::FULL_LOCK if self.lock_state == LOCKED => return Ok(None),
            action::LOCK | action::FULL_LOCK => vec![(now, to(LOCKING)), (motor, to(LOCKED))],
            action::UNLATCH => vec![
                (now, to(UNLATCHING)),
                (unlatch_time, to(UNLATCHED)),
                (times.unlatch_hold, to(UNLOCKED)),
            ],
            action::LOCK_N_GO => {
                let mut plan = if from_locked {
                    vec![(now, to(UNLOCKING)), (motor, to(UNLOCKED_LOCK_N_GO))]
                } else {
                    vec![(now, to(UNLOCKED_LOCK_N_GO))]
                };
                plan.extend([(times.lock_n_go_wait, to(LOCKING)), (motor, to(LOCKED))]);
                plan
            }
            action::LOCK_N_GO_UNLATCH => vec![
                (now, to(UNLATCHING)),
                (unlatch_time, to(UNLATCHED)),
                (times.unlatch_hold, to(UNLOCKED_LOCK_N_GO)),
                (times.lock_n_go_wait, to(LOCKING)),
                (motor, to(LOCKED)),
            ],
            other => return Err(MechanismError::BadAction(other)),
        };
        Ok(Some(plan))
    }

    fn opener_plan(
        &self,
        action: u8,
        times: &MotionTimes,
    ) -> Result<Option<Vec<(Duration, Change)>>, MechanismError> {
        use state::*;
        let now = Duration::ZERO;
        let plan = match action {
            action::OPENER_ACTIVATE_RTO if self.lock_state == OPENER_RTO_ACTIVE => return Ok(None),
            action::OPENER_ACTIVATE_RTO => vec![(now, Change::LockState(OPENER_RTO_ACTIVE))],
            action::OPENER_DEACTIVATE_RTO if self.lock_state == OPENER_ONLINE => return Ok(None),
            action::OPENER_DEACTIVATE_RTO => vec![(now, Change::LockState(OPENER_ONLINE))],
            action::OPENER_ELECTRIC_STRIKE => vec![
                (now, Change::LockState(OPENER_OPENING)),
                (times.motor, Change::LockState(OPENER_OPEN)),
                (times.strike_hold, Change::LockState(OPENER_ONLINE)),
            ],
            action::OPENER_ACTIVATE_CM if self.continuous_mode => return Ok(None),
            action::OPENER_ACTIVATE_CM => vec![(now, Change::ContinuousMode(true))],
            action::OPENER_DEACTIVATE_CM if !self.continuous_mode => return Ok(None),
            action::OPENER_DEACTIVATE_CM => vec![(now, Change::ContinuousMode(false))],
            other => return Err(MechanismError::BadAction(other)),
        };
        Ok(Some(plan))
    }
}

/// The first phase starts; after one motor time the motor blocks instead of arriving.
fn jammed(plan: Vec<(Duration, Change)>, motor: Duration) -> Vec<(Duration, Change)> {
    let mut steps = plan.into_iter();
    let mut out: Vec<(Duration, Change)> = steps.next().into_iter().collect();
    out.push((motor, Change::Blocked));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times() -> MotionTimes {
        MotionTimes {
            motor: Duration::from_millis(1500),
            unlatch_hold: Duration::from_secs(1),
            lock_n_go_wait: Duration::from_secs(20),
            strike_hold: Duration::from_secs(3),
            calibration: Duration::from_secs(6),
        }
    }

    fn request(action: u8) -> MotionRequest {
        MotionRequest {
            action,
            trigger: 0,
            flags: 0,
            requester: None,
            jam: false,
        }
    }

    fn states_over(mechanism: &mut Mechanism, until: Duration) -> Vec<(u8, bool)> {
        let mut seen = Vec::new();
        while let Some(at) = mechanism.next_deadline() {
            if at > until {
                break;
            }
            for event in mechanism.advance(at) {
                match event {
                    MechanismEvent::StateChanged { .. } => {
                        seen.push((mechanism.lock_state(), false))
                    }
                    MechanismEvent::Finished(_) => seen.push((mechanism.lock_state(), true)),
                }
            }
        }
        seen
    }

    #[test]
    fn unlock_moves_through_unlocking() {
        let mut lock = Mechanism::new(false, state::LOCKED);
        let started = lock
            .start(request(action::UNLOCK), &times(), Duration::ZERO)
            .unwrap();
        assert!(matches!(started, Started::Moving(ref events) if events.len() == 1));
        assert_eq!(lock.lock_state(), state::UNLOCKING);
        assert_eq!(lock.next_deadline(), Some(Duration::from_millis(1500)));
        assert_eq!(
            lock.start(request(action::LOCK), &times(), Duration::ZERO),
            Err(MechanismError::Busy)
        );
        let seen = states_over(&mut lock, Duration::from_secs(10));
        assert_eq!(seen, [(state::UNLOCKED, false), (state::UNLOCKED, true)]);
        assert_eq!(lock.last_action(), (action::UNLOCK, 0, completion::SUCCESS));
        assert!(!lock.is_busy());
    }

    #[test]
    fn already_there_completes_at_once() {
        let mut lock = Mechanism::new(false, state::LOCKED);
        let started = lock
            .start(request(action::LOCK), &times(), Duration::ZERO)
            .unwrap();
        assert!(matches!(started, Started::AlreadyThere(_)));
        assert!(!lock.is_busy());
    }

    #[test]
    fn unlatch_returns_to_unlocked() {
        let mut lock = Mechanism::new(false, state::LOCKED);
        lock.start(request(action::UNLATCH), &times(), Duration::ZERO)
            .unwrap();
        assert_eq!(lock.lock_state(), state::UNLATCHING);
        let seen = states_over(&mut lock, Duration::from_secs(10));
        assert_eq!(
            seen,
            [
                (state::UNLATCHED, false),
                (state::UNLOCKED, false),
                (state::UNLOCKED, true)
            ]
        );
    }

    #[test]
    fn lock_n_go_relocks_after_the_wait() {
        let mut lock = Mechanism::new(false, state::UNLOCKED);
        lock.start(request(action::LOCK_N_GO), &times(), Duration::ZERO)
            .unwrap();
        assert_eq!(lock.lock_state(), state::UNLOCKED_LOCK_N_GO);
        assert_eq!(lock.lock_n_go_timer(Duration::from_secs(5)), 15);
        let seen = states_over(&mut lock, Duration::from_secs(60));
        assert_eq!(
            seen,
            [
                (state::LOCKING, false),
                (state::LOCKED, false),
                (state::LOCKED, true)
            ]
        );
    }

    #[test]
    fn jam_blocks_the_motor() {
        let mut lock = Mechanism::new(false, state::UNLOCKED);
        let mut jam = request(action::LOCK);
        jam.jam = true;
        lock.start(jam, &times(), Duration::ZERO).unwrap();
        let events = lock.advance(Duration::from_secs(2));
        assert_eq!(lock.lock_state(), state::MOTOR_BLOCKED);
        let finished = events.iter().find_map(|event| match event {
            MechanismEvent::Finished(finished) => Some(finished.clone()),
            _ => None,
        });
        assert_eq!(finished.unwrap().completion, completion::MOTOR_BLOCKED);
        assert_eq!(lock.last_action().2, completion::MOTOR_BLOCKED);
    }

    #[test]
    fn uncalibrated_lock_refuses() {
        let mut lock = Mechanism::new(false, state::UNCALIBRATED);
        assert_eq!(
            lock.start(request(action::UNLOCK), &times(), Duration::ZERO),
            Err(MechanismError::NotCalibrated)
        );
        lock.calibrate(request(0), &times(), Duration::ZERO)
            .unwrap();
        assert_eq!(lock.lock_state(), state::CALIBRATION);
        lock.advance(Duration::from_secs(6));
        assert_eq!(lock.lock_state(), state::LOCKED);
        assert!(!lock.is_busy());
    }

    #[test]
    fn opener_strike_and_continuous_mode() {
        let mut opener = Mechanism::new(true, state::OPENER_ONLINE);
        opener
            .start(
                request(action::OPENER_ELECTRIC_STRIKE),
                &times(),
                Duration::ZERO,
            )
            .unwrap();
        assert_eq!(opener.lock_state(), state::OPENER_OPENING);
        let seen = states_over(&mut opener, Duration::from_secs(10));
        assert_eq!(
            seen,
            [
                (state::OPENER_OPEN, false),
                (state::OPENER_ONLINE, false),
                (state::OPENER_ONLINE, true)
            ]
        );
        opener
            .start(
                request(action::OPENER_ACTIVATE_CM),
                &times(),
                Duration::from_secs(11),
            )
            .unwrap();
        opener.advance(Duration::from_secs(11));
        assert!(opener.continuous_mode());
        assert!(matches!(
            opener.start(
                request(action::OPENER_ACTIVATE_CM),
                &times(),
                Duration::from_secs(12)
            ),
            Ok(Started::AlreadyThere(_))
        ));
        assert_eq!(
            opener.start(request(0x09), &times(), Duration::from_secs(12)),
            Err(MechanismError::BadAction(0x09))
        );
    }
}
