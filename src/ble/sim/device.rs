//! One simulated device as a synchronous peripheral state machine.
//!
//! The transport calls [`SimDevice::on_connect`], [`SimDevice::on_write`] and
//! [`SimDevice::on_timer`] with simulated monotonic time and sends the returned [`Outbound`]
//! messages as indications. Nothing here knows about tokio or the radio.

mod actions;
mod admin;
mod battery;
mod controls;
mod keyturner;
mod report;
mod states;
mod timed;

use std::time::Duration;

use uuid::Uuid;

use crate::ble::DeviceAddress;
use crate::nuki::command::CommandId;
use crate::nuki::crypto::KeyPair;
use crate::nuki::enums::{DeviceLockState, ErrorCode, NukiState, StatusCode};
use crate::nuki::frame;
use crate::nuki::messages::{self, Message, SecurityPin};
use crate::nuki::uuids::{Characteristics, ServiceFamily};

use self::battery::Battery;
use super::auth::AuthorizationTable;
use super::clock::WallClock;
use super::entropy::{Entropy, ForcedSecrets};
use super::keypad::KeypadCodes;
use super::logbook::Logbook;
use super::mechanism::{state, Mechanism, MotionTimes};
use super::memory::{DeviceMemory, StoredAuthorization};
use super::pairing::{PairingContext, PairingSession};
use super::pin::PinGuard;
use super::schedule::Schedule;
use super::settings::Settings;
use super::spec::{InitialPosition, SimDeviceSpec};

/// A whole message the device sends as indications on `characteristic`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outbound {
    pub characteristic: Uuid,
    pub bytes: Vec<u8>,
}

/// A fault a test injects into one device. Each one applies once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fault {
    /// The next command written (any message but Request Data) reaches the device and is
    /// executed, then the link drops before any answer.
    DropLinkMidCommand,
    /// The next written message is lost on the air.
    NoAnswer,
    /// One byte of the next message the device sends is flipped.
    CorruptByte,
    /// The next connection attempt fails as if the device were out of range.
    OutOfRange,
    /// The next lock action is refused with `K_ERROR_BUSY`.
    Busy,
    /// The next motor movement blocks (`K_ERROR_MOTOR_BLOCKED`).
    Jam,
}

pub use self::actions::KeypadOutcome;
pub use self::report::{AuthorizationSnapshot, SimSnapshot};

/// Why a control action was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ControlError {
    #[error("the device has no door sensor")]
    NoDoorSensor,
    #[error("the device is not an Opener")]
    NotAnOpener,
    #[error("the device has no keypad")]
    NoKeypad,
    #[error("the device refused the action: {0}")]
    Refused(&'static str),
}

struct Connection {
    id: u64,
    pairing: PairingSession,
    /// The authorization that last talked on this connection; unsolicited states go to it.
    session_auth: Option<u32>,
}

#[derive(Debug)]
struct Door {
    sensor: bool,
    open: bool,
    logging: bool,
}

/// A simulated Box, Smart Lock or Opener.
pub struct SimDevice {
    spec: SimDeviceSpec,
    family: ServiceFamily,
    characteristics: Characteristics,
    clock: WallClock,
    entropy: Entropy,
    lock_keys: KeyPair,
    lock_uuid: [u8; 16],
    authorizations: AuthorizationTable,
    pins: PinGuard,
    mechanism: Mechanism,
    settings: Settings,
    logbook: Logbook,
    keypad: KeypadCodes,
    schedule: Schedule,
    battery: Battery,
    door: Door,
    keypad_battery_critical: bool,
    pairing_mode_until: Option<Duration>,
    connection: Option<Connection>,
    connections_opened: u64,
    state_changed: bool,
    faults: Vec<Fault>,
    rebooting_until: Option<Duration>,
    disconnect_requested: bool,
    most_recent_command: CommandId,
    boots: u64,
    /// Local time up to which time control entries have run; `None` after the clock moved.
    schedule_checked_local: Option<i64>,
}

impl std::fmt::Debug for SimDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDevice")
            .field("address", &self.spec.address)
            .field("kind", &self.spec.kind)
            .field("lock_state", &self.mechanism.lock_state())
            .finish_non_exhaustive()
    }
}

impl SimDevice {
    /// A device whose wall clock reads `wall_clock_start` (UTC Unix seconds) at time zero,
    /// unless the spec sets its own start.
    pub fn new(spec: SimDeviceSpec, wall_clock_start: i64) -> Self {
        Self::with_forced_secrets(spec, wall_clock_start, ForcedSecrets::default())
    }

    /// A device whose key pair, UUID, authorization ids and nonces are fixed by the test.
    pub fn with_forced_secrets(
        spec: SimDeviceSpec,
        wall_clock_start: i64,
        forced: ForcedSecrets,
    ) -> Self {
        let mut entropy = Entropy::new(spec.effective_seed(), &forced);
        let lock_keys = match forced.lock_secret_key {
            Some(secret) => KeyPair::from_secret(secret),
            None => KeyPair::generate(entropy.rng()),
        };
        let lock_uuid = forced.lock_uuid.unwrap_or_else(|| entropy.bytes());
        let mut authorizations = AuthorizationTable::new(spec.max_authorizations, 1);
        if let Some(id) = forced.next_authorization_id {
            authorizations.set_next_id(id);
        }
        let family = spec.family();
        let opener = spec.kind.is_opener();
        let lock_state = match (opener, spec.initial_position) {
            (true, _) => state::OPENER_ONLINE,
            (false, InitialPosition::Locked) => state::LOCKED,
            (false, InitialPosition::Unlocked) => state::UNLOCKED,
            (false, InitialPosition::Uncalibrated) => state::UNCALIBRATED,
        };
        Self {
            family,
            characteristics: family.characteristics(),
            clock: WallClock::new(spec.wall_clock_start.unwrap_or(wall_clock_start)),
            entropy,
            lock_keys,
            lock_uuid,
            authorizations,
            pins: PinGuard::new(spec.security_pin(), spec.max_wrong_pins, spec.pin_lockout),
            mechanism: Mechanism::new(opener, lock_state),
            settings: Settings::new(&spec),
            logbook: Logbook::new(spec.max_log_entries),
            keypad: KeypadCodes::new(spec.max_keypad_codes),
            schedule: Schedule::new(spec.max_time_control_entries),
            battery: Battery {
                mains: spec.is_mains_powered(),
                permille: u16::from(spec.battery_percent.min(100)) * 10,
                last_drain_mws: 0,
            },
            door: Door {
                sensor: spec.door_sensor,
                open: false,
                logging: true,
            },
            keypad_battery_critical: false,
            pairing_mode_until: None,
            connection: None,
            connections_opened: 0,
            state_changed: false,
            faults: Vec::new(),
            rebooting_until: None,
            disconnect_requested: false,
            most_recent_command: CommandId::Unknown(0),
            boots: 0,
            schedule_checked_local: None,
            spec,
        }
    }

    /// What the device keeps across a power cycle.
    pub fn memory(&self) -> DeviceMemory {
        DeviceMemory {
            authorizations: self
                .authorizations
                .iter()
                .map(StoredAuthorization::from_live)
                .collect(),
            next_authorization_id: self.authorizations.next_id(),
            security_pin: self.pins.current().value(),
            name: self.settings.name().to_owned(),
            lock_state: self.mechanism.lock_state(),
            boots: self.boots,
        }
    }

    /// Powers the device up with `memory`: authorizations, PIN, name and bolt position come
    /// back; a movement in progress at power loss ends where it was.
    pub fn restore(&mut self, memory: &DeviceMemory) {
        let entries = memory
            .authorizations
            .iter()
            .filter_map(StoredAuthorization::to_live)
            .collect();
        self.authorizations
            .restore(entries, memory.next_authorization_id);
        self.pins
            .set(SecurityPin::for_family(memory.security_pin, self.family));
        self.settings.config.set_name(&memory.name);
        self.mechanism = Mechanism::new(self.spec.kind.is_opener(), memory.lock_state);
        self.boots = memory.boots.wrapping_add(1);
        self.entropy
            .reseed_for_boot(self.spec.effective_seed(), self.boots);
    }

    pub fn spec(&self) -> &SimDeviceSpec {
        &self.spec
    }

    pub fn address(&self) -> &DeviceAddress {
        &self.spec.address
    }

    /// The GATT characteristics a central discovers on connect.
    pub fn characteristic_uuids(&self) -> Vec<Uuid> {
        let c = self.characteristics;
        vec![c.pairing_gdio, c.keyturner_gdio, c.keyturner_usdio]
    }

    /// Whether the device can be connected to (it is not rebooting).
    pub fn is_reachable(&self, now: Duration) -> bool {
        self.rebooting_until.is_none_or(|until| now >= until)
    }

    pub fn is_connected(&self) -> bool {
        self.connection.is_some()
    }

    pub fn in_pairing_mode(&self) -> bool {
        self.pairing_mode_until.is_some()
    }

    pub fn on_connect(&mut self, _now: Duration) {
        self.connections_opened += 1;
        self.connection = Some(Connection {
            id: self.connections_opened,
            pairing: PairingSession::default(),
            session_auth: None,
        });
        self.disconnect_requested = false;
    }

    /// The link is gone: per-connection state and unused challenges are forgotten.
    pub fn on_disconnect(&mut self, _now: Duration) {
        self.connection = None;
        self.authorizations.forget_challenges();
        self.disconnect_requested = false;
    }

    /// The device wants the link closed (after a reboot command); asked once.
    pub fn take_disconnect_request(&mut self) -> bool {
        std::mem::take(&mut self.disconnect_requested)
    }

    /// One whole message written by the central.
    pub fn on_write(&mut self, characteristic: Uuid, bytes: &[u8], now: Duration) -> Vec<Outbound> {
        let mut out = self.run_timers(now);
        if self.connection.is_some() {
            let c = self.characteristics;
            if characteristic == c.pairing_gdio {
                out.extend(self.on_pairing_write(bytes, now));
            } else if characteristic == c.keyturner_usdio {
                out.extend(self.on_usdio_write(bytes, now));
            } else if characteristic == c.keyturner_gdio {
                out.extend(self.on_gdio_write(bytes));
            }
        }
        self.finish(out)
    }

    /// Runs everything due at `now` (motor phases, pairing-mode timeout, reboot end).
    pub fn on_timer(&mut self, now: Duration) -> Vec<Outbound> {
        let out = self.run_timers(now);
        self.finish(out)
    }

    pub fn next_deadline(&self) -> Option<Duration> {
        [
            self.pairing_mode_until,
            self.rebooting_until,
            self.mechanism.next_deadline(),
            self.next_schedule_deadline(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn run_timers(&mut self, now: Duration) -> Vec<Outbound> {
        if self.pairing_mode_until.is_some_and(|until| until <= now) {
            self.pairing_mode_until = None;
            self.state_changed = true;
        }
        if self.rebooting_until.is_some_and(|until| until <= now) {
            self.rebooting_until = None;
        }
        let events = self.mechanism.advance(now);
        let mut out = self.on_mechanism_events(events, now);
        out.extend(self.run_schedule(now));
        out
    }

    /// Applies a pending byte corruption to the first outgoing message.
    fn finish(&mut self, mut out: Vec<Outbound>) -> Vec<Outbound> {
        if let Some(first) = out.first_mut() {
            if self.take_fault(Fault::CorruptByte) {
                if let Some(last) = first.bytes.last_mut() {
                    *last ^= 0xFF;
                }
            }
        }
        out
    }

    pub fn inject_fault(&mut self, fault: Fault) {
        self.faults.push(fault);
    }

    /// Consumes one pending `fault`; true when there was one.
    pub fn take_fault(&mut self, fault: Fault) -> bool {
        match self.faults.iter().position(|f| *f == fault) {
            Some(index) => {
                self.faults.remove(index);
                true
            }
            None => false,
        }
    }

    /// Whether a written message is a command rather than a Request Data (which only reads).
    /// Messages the device cannot read count as commands.
    pub fn is_command(&self, characteristic: Uuid, bytes: &[u8]) -> bool {
        let command = if characteristic == self.characteristics.keyturner_usdio {
            frame::read_header(bytes)
                .ok()
                .and_then(|header| self.authorizations.get(header.auth_id))
                .and_then(|entry| frame::open_encrypted(entry.key(), bytes).ok())
                .map(|opened| opened.command)
        } else {
            frame::inspect_plain(bytes).ok().map(|plain| plain.command)
        };
        command != Some(CommandId::RequestData)
    }

    fn has_fault(&self, fault: Fault) -> bool {
        self.faults.contains(&fault)
    }

    /// The pairing button: enters pairing mode for the spec's timeout, when the Config allows
    /// pairing. Returns whether the device is now in pairing mode.
    pub fn press_button(&mut self, now: Duration) -> bool {
        if !self.settings.pairing_enabled() || !self.is_reachable(now) {
            return false;
        }
        if self.pairing_mode_until.is_none() {
            self.state_changed = true;
        }
        self.pairing_mode_until = Some(now + self.spec.pairing_mode_timeout);
        true
    }

    fn on_pairing_write(&mut self, bytes: &[u8], now: Duration) -> Vec<Outbound> {
        let Some(connection) = self.connection.as_mut() else {
            return Vec::new();
        };
        let mut ctx = PairingContext {
            family: self.family,
            in_pairing_mode: self.pairing_mode_until.is_some(),
            lock_keys: &self.lock_keys,
            lock_uuid: self.lock_uuid,
            entropy: &mut self.entropy,
            authorizations: &mut self.authorizations,
            pins: &mut self.pins,
            now,
            now_unix: self.clock.unix(now),
        };
        let output = connection.pairing.handle(&mut ctx, bytes);
        if output.stored.is_some() {
            self.state_changed = true;
        }
        if output.complete {
            self.pairing_mode_until = None;
        }
        vec![Outbound {
            characteristic: self.characteristics.pairing_gdio,
            bytes: output.reply,
        }]
    }

    /// Plain messages on the keyturner GDIO are never accepted: the device only answers there
    /// when it cannot use a key.
    fn on_gdio_write(&mut self, bytes: &[u8]) -> Vec<Outbound> {
        let (code, command) = match frame::inspect_plain(bytes) {
            Ok(inspected) => (ErrorCode::KErrorNotAuthorized, inspected.command),
            Err(_) => (ErrorCode::ErrorBadLength, CommandId::Unknown(0)),
        };
        vec![self.plain_error(code, command)]
    }

    fn plain_error(&self, code: ErrorCode, command: CommandId) -> Outbound {
        let message = Message::ErrorReport { code, command };
        Outbound {
            characteristic: self.characteristics.keyturner_gdio,
            bytes: frame::encode_plain(
                CommandId::ErrorReport,
                &messages::encode(&message, self.family, None),
            ),
        }
    }

    /// An encrypted message to `auth_id` on USDIO; `None` when the authorization is gone.
    fn sealed(&mut self, auth_id: u32, message: &Message) -> Option<Outbound> {
        let key = self.authorizations.get(auth_id)?.key().clone();
        let payload = messages::encode(message, self.family, None);
        let nonce = self.entropy.transport_nonce();
        Some(Outbound {
            characteristic: self.characteristics.keyturner_usdio,
            bytes: frame::encode_encrypted(&key, &nonce, auth_id, message.command(), &payload),
        })
    }

    fn sealed_error(&mut self, auth_id: u32, code: ErrorCode, command: CommandId) -> Vec<Outbound> {
        self.sealed(auth_id, &Message::ErrorReport { code, command })
            .into_iter()
            .collect()
    }

    fn sealed_status(&mut self, auth_id: u32, status: StatusCode) -> Vec<Outbound> {
        self.sealed(auth_id, &Message::Status(status))
            .into_iter()
            .collect()
    }

    fn nuki_state(&self) -> NukiState {
        if self.pairing_mode_until.is_some() {
            NukiState::PairingMode
        } else if self.mechanism.continuous_mode() {
            NukiState::ContinuousMode
        } else {
            NukiState::DoorMode
        }
    }

    fn motion_times(&self) -> MotionTimes {
        MotionTimes {
            motor: self.spec.motor_time,
            unlatch_hold: self.settings.unlatch_hold(),
            lock_n_go_wait: self.settings.lock_n_go_wait(),
            strike_hold: self.settings.strike_hold(),
            calibration: self.spec.calibration_time,
        }
    }

    fn connection_id(&self) -> Option<u64> {
        self.connection.as_ref().map(|connection| connection.id)
    }

    fn session_auth(&self) -> Option<u32> {
        self.connection
            .as_ref()
            .and_then(|connection| connection.session_auth)
    }

    fn lock_state_enum(&self) -> DeviceLockState {
        DeviceLockState::from_u8(self.mechanism.lock_state(), self.family)
    }
}
