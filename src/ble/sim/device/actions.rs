//! Movements: lock actions, keypad actions, calibration, manual turns, door and doorbell
//! events, and how their progress is reported (§4.3 item 3).

use std::time::Duration;

use crate::nuki::command::CommandId;
use crate::nuki::enums::{
    CompletionStatus, DeviceAction, DoorSensorEvent, ErrorCode, KeypadActionKind, KeypadSource,
    LogEntryType, StatusCode, Trigger,
};
use crate::nuki::messages::{LogData, Message};

use super::keyturner::Origin;
use super::{ControlError, Fault, Outbound, SimDevice};
use crate::ble::sim::logbook::LogAuthor;
use crate::ble::sim::mechanism::{
    action, completion, state, Finished, MechanismError, MechanismEvent, MotionKind, MotionRequest,
    Requester, Started,
};

const TRIGGER_SYSTEM: u8 = 0x00;
const TRIGGER_MANUAL: u8 = 0x01;
const FOB_ACTIONS: std::ops::RangeInclusive<u8> = 0x81..=0x83;
/// The authorization id a code typed on the simulated keypad acts under: none exists, so
/// no answer is sealed for it.
const KEYPAD_AUTH_ID: u32 = 0;

/// What the keypad did with a typed code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeypadOutcome {
    /// The code is valid now; the lock opens (or already was open).
    Accepted,
    /// Unknown, disabled or outside its time window.
    Refused,
    /// The code was fine but the lock could not move (e.g. busy).
    NotNow(ErrorCode),
}

impl SimDevice {
    fn requester(&self, origin: Origin, suffix: Option<&str>) -> Requester {
        let name = self
            .authorizations
            .get(origin.auth_id)
            .map(|a| a.name.clone())
            .unwrap_or_default();
        let log_name = match suffix.filter(|s| !s.is_empty()) {
            Some(suffix) => format!("{name} {suffix}"),
            None => name,
        };
        Requester {
            auth_id: origin.auth_id,
            connection: origin.connection,
            command: origin.command.to_u16(),
            log_name,
            keypad: None,
        }
    }

    fn is_locked(&self) -> bool {
        self.mechanism.lock_state() == state::LOCKED
    }

    /// Maps fob buttons and the auto-unlatch setting to the action the motor performs.
    fn resolve_action(&self, requested: u8) -> Option<u8> {
        if FOB_ACTIONS.contains(&requested) {
            return self.settings.fob_action(requested - 0x80, self.is_locked());
        }
        if !self.spec.kind.is_opener()
            && requested == action::UNLOCK
            && self.settings.auto_unlatch()
        {
            return Some(action::UNLATCH);
        }
        Some(requested)
    }

    pub(super) fn lock_action(
        &mut self,
        origin: Origin,
        requested: u8,
        flags: u8,
        suffix: Option<String>,
        now: Duration,
    ) -> Vec<Outbound> {
        let Some(action) = self.resolve_action(requested) else {
            return self.sealed_error(
                origin.auth_id,
                ErrorCode::KErrorBadParameter,
                origin.command,
            );
        };
        if self.take_fault(Fault::Busy) {
            return self.sealed_error(origin.auth_id, ErrorCode::KErrorBusy, origin.command);
        }
        let request = MotionRequest {
            action,
            trigger: TRIGGER_SYSTEM,
            flags,
            requester: Some(self.requester(origin, suffix.as_deref())),
            jam: false,
        };
        self.start_motion(request, now)
            .unwrap_or_else(|code| self.sealed_error(origin.auth_id, code, origin.command))
    }

    pub(super) fn keypad_action(
        &mut self,
        origin: Origin,
        source: KeypadSource,
        code: u32,
        kind: KeypadActionKind,
        now: Duration,
    ) -> Vec<Outbound> {
        let requester = self.requester(origin, None);
        self.keypad_motion(requester, source, code, kind, now)
            .unwrap_or_else(|code| self.sealed_error(origin.auth_id, code, origin.command))
    }

    /// What the keypad does with a code or the arrow key: the code must be enabled and
    /// inside its time window in the device's local time, then the lock moves. Shared by
    /// Keypad Action over the protocol and by someone typing on the simulated keypad.
    fn keypad_motion(
        &mut self,
        mut requester: Requester,
        source: KeypadSource,
        code: u32,
        kind: KeypadActionKind,
        now: Duration,
    ) -> Result<Vec<Outbound>, ErrorCode> {
        let action = self
            .keypad_target(kind)
            .ok_or(ErrorCode::KErrorBadParameter)?;
        if source == KeypadSource::Code {
            let now_unix = self.clock.unix(now);
            let time = self.clock.date_time(now);
            let offset = self.settings.timezone_offset();
            match self.keypad.use_code(code, now_unix, offset) {
                Some(entry) => {
                    entry.lock_count = entry.lock_count.saturating_add(1);
                    entry.last_active = time;
                    requester.log_name = entry.name.clone();
                    requester.keypad = Some((source.to_u8(), entry.code_id));
                }
                None => {
                    let data = LogData::KeypadAction {
                        action: DeviceAction::from_u8(action, self.family),
                        source,
                        completion_status: CompletionStatus::InvalidCode,
                        code_id: 0,
                    };
                    let author = LogAuthor {
                        auth_id: requester.auth_id,
                        name: requester.log_name,
                    };
                    self.logbook
                        .record(time, &author, LogEntryType::KeypadAction, data);
                    return Err(ErrorCode::KErrorCodeInvalid);
                }
            }
        } else {
            requester.keypad = Some((source.to_u8(), 0));
        }
        let request = MotionRequest {
            action,
            trigger: TRIGGER_SYSTEM,
            flags: 0,
            requester: Some(requester),
            jam: false,
        };
        self.start_motion(request, now)
    }

    /// Someone types `code` on the device's keypad: it unlocks when the device accepts the
    /// code (enabled, inside its window), exactly as for a Keypad Action.
    pub fn enter_keypad_code(
        &mut self,
        code: u32,
        now: Duration,
    ) -> Result<(KeypadOutcome, Vec<Outbound>), ControlError> {
        if !self.spec.keypad {
            return Err(ControlError::NoKeypad);
        }
        let mut out = self.run_timers(now);
        // The keypad has no link of its own here: nothing is answered to anyone.
        let requester = Requester {
            auth_id: KEYPAD_AUTH_ID,
            connection: u64::MAX,
            command: CommandId::KeypadAction.to_u16(),
            log_name: "Keypad".into(),
            keypad: None,
        };
        let outcome = match self.keypad_motion(
            requester,
            KeypadSource::Code,
            code,
            KeypadActionKind::Unlock,
            now,
        ) {
            Ok(started) => {
                out.extend(started);
                KeypadOutcome::Accepted
            }
            Err(ErrorCode::KErrorCodeInvalid) => KeypadOutcome::Refused,
            Err(other) => KeypadOutcome::NotNow(other),
        };
        Ok((outcome, self.finish(out)))
    }

    fn keypad_target(&self, kind: KeypadActionKind) -> Option<u8> {
        if self.spec.kind.is_opener() {
            return match kind {
                KeypadActionKind::Intelligent
                | KeypadActionKind::Unlock
                | KeypadActionKind::Unlatch => Some(action::OPENER_ELECTRIC_STRIKE),
                KeypadActionKind::Lock => Some(action::OPENER_DEACTIVATE_RTO),
                KeypadActionKind::LockNGo => Some(action::OPENER_ACTIVATE_RTO),
                KeypadActionKind::Unknown(_) => None,
            };
        }
        match kind {
            KeypadActionKind::Intelligent if self.is_locked() => Some(action::UNLOCK),
            KeypadActionKind::Intelligent => Some(action::LOCK),
            KeypadActionKind::Unlock => self.resolve_action(action::UNLOCK),
            KeypadActionKind::Lock => Some(action::LOCK),
            KeypadActionKind::Unlatch => Some(action::UNLATCH),
            KeypadActionKind::LockNGo => Some(action::LOCK_N_GO),
            KeypadActionKind::Unknown(_) => None,
        }
    }

    pub(super) fn calibrate(&mut self, origin: Origin, now: Duration) -> Vec<Outbound> {
        let request = MotionRequest {
            action: 0,
            trigger: TRIGGER_SYSTEM,
            flags: 0,
            requester: Some(self.requester(origin, None)),
            jam: false,
        };
        let times = self.motion_times();
        match self.mechanism.calibrate(request, &times, now) {
            Ok(events) => {
                let mut out = self.sealed_status(origin.auth_id, StatusCode::Accepted);
                out.extend(self.on_mechanism_events(events, now));
                out
            }
            Err(_) => self.sealed_error(origin.auth_id, ErrorCode::KErrorBusy, origin.command),
        }
    }

    /// Starts a movement. ACCEPTED goes to the requester first unless the device is already
    /// where the action would take it.
    pub(super) fn start_motion(
        &mut self,
        mut request: MotionRequest,
        now: Duration,
    ) -> Result<Vec<Outbound>, ErrorCode> {
        let jam = !self.spec.kind.is_opener() && self.has_fault(Fault::Jam);
        request.jam = jam;
        let reply_to = request
            .requester
            .as_ref()
            .map(|requester| requester.auth_id);
        let times = self.motion_times();
        match self.mechanism.start(request, &times, now) {
            Err(MechanismError::Busy) => Err(ErrorCode::KErrorBusy),
            Err(MechanismError::NotCalibrated) => Err(ErrorCode::KErrorNotCalibrated),
            Err(MechanismError::BadAction(_)) => Err(ErrorCode::KErrorBadParameter),
            Ok(Started::AlreadyThere(finished)) => {
                Ok(self.on_mechanism_events(vec![MechanismEvent::Finished(finished)], now))
            }
            Ok(Started::Moving(events)) => {
                if jam {
                    self.take_fault(Fault::Jam);
                }
                let mut out = match reply_to {
                    Some(auth_id) => self.sealed_status(auth_id, StatusCode::Accepted),
                    None => Vec::new(),
                };
                out.extend(self.on_mechanism_events(events, now));
                Ok(out)
            }
        }
    }

    /// Reports movement progress: Keyturner States on every change, then COMPLETE (or
    /// MOTOR_BLOCKED) to the requester while it is still connected.
    pub(super) fn on_mechanism_events(
        &mut self,
        events: Vec<MechanismEvent>,
        now: Duration,
    ) -> Vec<Outbound> {
        let mut out = Vec::new();
        for event in events {
            match event {
                MechanismEvent::StateChanged { requester } => {
                    self.state_changed = true;
                    out.extend(self.send_states(requester.as_ref(), now));
                }
                MechanismEvent::Finished(finished) => out.extend(self.on_finished(finished, now)),
            }
        }
        out
    }

    fn reply_target(&self, requester: Option<&Requester>) -> Option<u32> {
        let current = self.connection_id()?;
        match requester {
            Some(requester) if requester.connection == current => Some(requester.auth_id),
            _ => self.session_auth(),
        }
    }

    fn send_states(&mut self, requester: Option<&Requester>, now: Duration) -> Vec<Outbound> {
        let Some(target) = self.reply_target(requester) else {
            return Vec::new();
        };
        let states = Message::KeyturnerStates(self.keyturner_states(now));
        self.sealed(target, &states).into_iter().collect()
    }

    fn on_finished(&mut self, finished: Finished, now: Duration) -> Vec<Outbound> {
        let request = &finished.request;
        let time = self.clock.date_time(now);
        let author = match &request.requester {
            Some(requester) => LogAuthor {
                auth_id: requester.auth_id,
                name: requester.log_name.clone(),
            },
            None => LogAuthor::device(),
        };
        let device_action = DeviceAction::from_u8(request.action, self.family);
        let completion_status = CompletionStatus::from_u8(finished.completion);
        let (entry_type, data) = match (finished.kind, request.requester.as_ref()) {
            (MotionKind::Calibration, _) => (
                LogEntryType::Calibration,
                LogData::LockAction {
                    action: device_action,
                    trigger: Trigger::from_u8(request.trigger),
                    flags: request.flags,
                    completion_status,
                },
            ),
            (
                MotionKind::Action,
                Some(Requester {
                    keypad: Some((source, code_id)),
                    ..
                }),
            ) => (
                LogEntryType::KeypadAction,
                LogData::KeypadAction {
                    action: device_action,
                    source: KeypadSource::from_u8(*source),
                    completion_status,
                    code_id: *code_id,
                },
            ),
            (MotionKind::Action, _) => (
                LogEntryType::LockAction,
                LogData::LockAction {
                    action: device_action,
                    trigger: Trigger::from_u8(request.trigger),
                    flags: request.flags,
                    completion_status,
                },
            ),
        };
        self.logbook.record(time, &author, entry_type, data);
        if finished.moved {
            self.battery.drain();
        }
        let Some(requester) = finished.request.requester else {
            return Vec::new();
        };
        if finished.kind == MotionKind::Action && finished.completion == completion::SUCCESS {
            if let Some(entry) = self.authorizations.get_mut(requester.auth_id) {
                entry.lock_count = entry.lock_count.saturating_add(1);
            }
        }
        if Some(requester.connection) != self.connection_id() {
            return Vec::new();
        }
        if finished.completion == completion::MOTOR_BLOCKED {
            self.sealed_error(
                requester.auth_id,
                ErrorCode::KErrorMotorBlocked,
                CommandId::from_u16(requester.command),
            )
        } else {
            self.sealed_status(requester.auth_id, StatusCode::Complete)
        }
    }

    /// Someone turned the knob or used a key: the lock moves with trigger "manual".
    pub fn manual_action(
        &mut self,
        requested: u8,
        now: Duration,
    ) -> Result<Vec<Outbound>, ControlError> {
        let mut out = self.run_timers(now);
        let action = self
            .resolve_action(requested)
            .ok_or(ControlError::Refused("fob button has no action"))?;
        let request = MotionRequest {
            action,
            trigger: TRIGGER_MANUAL,
            flags: 0,
            requester: None,
            jam: false,
        };
        let started = self
            .start_motion(request, now)
            .map_err(|code| ControlError::Refused(code.name()))?;
        out.extend(started);
        Ok(self.finish(out))
    }

    /// The door sensor reports the door opened or closed.
    pub fn set_door(&mut self, open: bool, now: Duration) -> Result<Vec<Outbound>, ControlError> {
        if !self.door.sensor {
            return Err(ControlError::NoDoorSensor);
        }
        let mut out = self.run_timers(now);
        if self.door.open != open {
            self.door.open = open;
            self.state_changed = true;
            if self.door.logging {
                let event = if open {
                    DoorSensorEvent::Opened
                } else {
                    DoorSensorEvent::Closed
                };
                self.logbook.record(
                    self.clock.date_time(now),
                    &LogAuthor::device(),
                    LogEntryType::DoorSensor,
                    LogData::DoorSensor { event },
                );
            }
            out.extend(self.send_states(None, now));
        }
        Ok(self.finish(out))
    }

    /// The paired keypad's battery becomes critical (or is replaced): the accessory battery
    /// byte of Keyturner States reports it.
    pub fn set_keypad_battery_critical(
        &mut self,
        critical: bool,
        now: Duration,
    ) -> Result<Vec<Outbound>, ControlError> {
        if !self.spec.keypad {
            return Err(ControlError::NoKeypad);
        }
        let out = self.run_timers(now);
        if self.keypad_battery_critical != critical {
            self.keypad_battery_critical = critical;
            self.state_changed = true;
        }
        Ok(self.finish(out))
    }

    /// Opener: someone rings. With ring to open or continuous mode active the door opens;
    /// otherwise only the state-changed flag tells a bridge about the ring.
    pub fn ring_doorbell(&mut self, now: Duration) -> Result<Vec<Outbound>, ControlError> {
        if !self.spec.kind.is_opener() {
            return Err(ControlError::NotAnOpener);
        }
        let mut out = self.run_timers(now);
        self.state_changed = true;
        let continuous = self.mechanism.continuous_mode();
        let rto = self.mechanism.lock_state() == state::OPENER_RTO_ACTIVE;
        let opens = continuous || rto;
        self.logbook.record(
            self.clock.date_time(now),
            &LogAuthor::device(),
            LogEntryType::DoorSensor,
            LogData::DoorbellRecognition {
                mode: if continuous { 2 } else { u8::from(rto) },
                source: 0,
                geofence: false,
                doorbell_suppression: false,
                sound_id: 0,
                completion_status: CompletionStatus::Success,
                code_id: 0,
            },
        );
        let request = MotionRequest {
            action: action::OPENER_ELECTRIC_STRIKE,
            trigger: TRIGGER_MANUAL,
            flags: 0,
            requester: None,
            jam: false,
        };
        match opens.then(|| self.start_motion(request, now)) {
            Some(Ok(started)) => out.extend(started),
            Some(Err(_)) | None => out.extend(self.send_states(None, now)),
        }
        Ok(self.finish(out))
    }
}
