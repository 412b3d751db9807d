//! The core: the single door through which every interface reads and operates devices, with
//! the principal who asks, and the internal event bus.
//!
//! Nothing above this module talks to the fleet: interfaces get [`DeviceView`]s, reports and
//! [`Refusal`]s. The permission rules of the next issue go in front of the fleet here
//! ([`Gateway::check`]), so no interface can bypass them.

pub mod accounts;
mod authenticate;
mod building;
mod events;
mod holders;
mod manage;
mod pairing;
mod provisioning;
mod rules;
mod secrets;
mod time_keeper;
mod view;

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::broadcast;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::access::{AccessRules, Action, Capability, ClockTrust, DeviceId};
use crate::ble::{Advertisement, DeviceAddress};
use crate::clock::SharedClock;
use crate::devices::fleet::Fleet;
use crate::devices::read_advertisement;
use crate::nuki::advert::PairingAdvert;
use crate::nuki::enums::DeviceAction;
use crate::nuki::messages::KeyturnerStates;
use crate::store::Store;

pub use crate::access::Principal;
pub use accounts::{
    AccountBook, AccountChange, AccountError, AccountView, ApiTokenView, IssuedToken, LoggedIn,
    LoginAttempt, NewAccount, NewSession, PolicyError, Proof, TotpEnrollment,
};
pub use authenticate::{
    AuthFailure, Credential, API_TOKEN_PREFIX, PERMISSION_SECRET_PREFIX, SESSION_PREFIX,
};
pub use building::{
    is_object_id, AddressChange, AddressDraft, AddressView, BuildingError, DeviceProfile,
    DeviceProfileChange, IssuedPermission, LimitsChange, PermissionChange, PermissionDraft,
    PermissionView, PersonChange, PersonDraft, SetupId, SetupPhase, UnitChange, UnitDraft,
    MAX_SETUPS_KEPT,
};
pub use events::{
    GatewayEvent, PairingProgress, PermissionChangeKind, PermissionSubject, ProvisioningOutcome,
};
pub use manage::{DeviceSettingsChange, InvalidSetting};
pub use pairing::{
    credentials_of, default_pin_for, pairing_advice, PairingFailure, PairingOrder, PairingSettings,
};
pub use provisioning::{
    DeviceAuthorizationEntry, DeviceProvisioning, LinkRefusal, ProvisioningState,
    ProvisioningTuning,
};
pub use rules::{load_rules, LoadRulesError};
pub use secrets::PermissionSecret;
pub use time_keeper::SETTING_LAST_KNOWN_TIME;
pub use view::{
    DenialReason, DeviceReport, DeviceView, GatewayResult, RadiosView, Refusal, UnreachableReason,
};

/// Tuning of the core; every value comes from the configuration.
#[derive(Debug, Clone)]
pub struct GatewaySettings {
    /// How long a user's action may take, queueing included.
    pub action_deadline: Duration,
    pub pairing: PairingSettings,
    /// The zone of time windows on devices that belong to no address (`gateway.time_zone`).
    pub time_zone: jiff::tz::TimeZone,
    pub provisioning: ProvisioningTuning,
}

impl GatewaySettings {
    /// Defaults for everything but the action deadline.
    pub fn with_action_deadline(action_deadline: Duration) -> Self {
        Self {
            action_deadline,
            pairing: PairingSettings::default(),
            time_zone: jiff::tz::TimeZone::UTC,
            provisioning: ProvisioningTuning::default(),
        }
    }
}

/// The core of the gateway.
pub struct Gateway {
    fleet: Arc<Fleet>,
    store: Arc<Store>,
    clock: SharedClock,
    settings: GatewaySettings,
    events: events::Bus,
    /// Work the gateway started that outlives a request (background actions, pairings).
    tasks: TaskTracker,
    shutdown: CancellationToken,
    pairing_adverts: broadcast::Sender<(DeviceAddress, PairingAdvert)>,
    /// The newest pairing-mode advertisement of each device not paired yet, so a pairing
    /// started just after the device was heard does not wait for the next one.
    recent_pairing_adverts: Mutex<HashMap<DeviceAddress, (tokio::time::Instant, PairingAdvert)>>,
    pairings_running: Mutex<HashSet<DeviceAddress>>,
    /// The access rules as stored, rebuilt after every change of the building.
    rules: building::RulesCache,
    /// Set-ups (pairings started through the management API) and how far they got.
    setups: building::SetupBook,
    /// Failed logins per client address, and the turn of login checks.
    logins: accounts::LoginState,
    provisioning: Arc<provisioning::Provisioner>,
    time: time_keeper::TimeKeeper,
}

impl Gateway {
    /// Forwards the fleet's events onto the gateway bus. Must run inside a tokio runtime.
    pub fn new(
        fleet: Arc<Fleet>,
        store: Arc<Store>,
        clock: SharedClock,
        settings: GatewaySettings,
    ) -> Arc<Self> {
        let events = events::Bus::new();
        let (pairing_adverts, _) = broadcast::channel(64);
        let rules = building::RulesCache::load(&store, settings.time_zone.clone());
        let provisioning = Arc::new(provisioning::Provisioner::new(settings.provisioning));
        let time = time_keeper::TimeKeeper::load(&store);
        let gateway = Arc::new(Self {
            fleet,
            store,
            clock,
            settings,
            events,
            tasks: TaskTracker::new(),
            shutdown: CancellationToken::new(),
            pairing_adverts,
            recent_pairing_adverts: Mutex::new(HashMap::new()),
            pairings_running: Mutex::new(HashSet::new()),
            rules,
            setups: building::SetupBook::default(),
            logins: accounts::LoginState::default(),
            provisioning,
            time,
        });
        gateway.tasks.spawn(forward_fleet_events(
            Arc::downgrade(&gateway),
            gateway.fleet.subscribe(),
            gateway.events.clone(),
            gateway.shutdown.clone(),
        ));
        gateway.start_provisioning();
        gateway
    }

    pub fn fleet(&self) -> &Arc<Fleet> {
        &self.fleet
    }

    /// Follows the bus; a follower that falls behind misses events (`Lagged`).
    pub fn subscribe(&self) -> broadcast::Receiver<GatewayEvent> {
        self.events.subscribe()
    }

    /// Every event of the bus from now on, never dropped however far behind the receiver
    /// is: for the activity log, which must not lose any. Unbounded: the receiver must keep
    /// reading.
    pub fn event_feed(&self) -> tokio::sync::mpsc::UnboundedReceiver<GatewayEvent> {
        self.events.feed()
    }

    /// The authorization id the gateway itself holds on a paired device: entries of the
    /// device's own log made with it are actions the gateway already reported.
    pub fn own_authorization(&self, device: &DeviceAddress) -> Option<u32> {
        self.fleet
            .credentials(device)
            .map(|credentials| credentials.auth_id)
    }

    /// The gateway's store, for the layers above that keep tables of their own in it (the
    /// activity log).
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// Cancelled when the gateway shuts down; interfaces stop following the bus then.
    pub fn stopping(&self) -> CancellationToken {
        self.shutdown.clone()
    }

    /// The clock the gateway and its rules go by.
    pub fn clock(&self) -> &SharedClock {
        &self.clock
    }

    /// The time the gateway goes by: the clock's, unless it is implausible (see
    /// [`Self::time`]).
    pub fn now_unix(&self) -> i64 {
        self.time().0
    }

    /// The time the gateway goes by and whether it can be trusted: never before the last
    /// known good time, the devices' time while the system clock is implausible.
    pub fn time(&self) -> (i64, ClockTrust) {
        self.time.now(&self.clock, &self.store)
    }

    pub fn clock_trust(&self) -> ClockTrust {
        self.time().1
    }

    /// The access rules in force (a snapshot; the next change of the building replaces it).
    pub fn rules(&self) -> Arc<AccessRules> {
        self.rules.current().rules.clone()
    }

    /// Whether `principal` may do a management operation that needs `capability`.
    pub fn authorize(
        &self,
        principal: &Principal,
        capability: Capability,
    ) -> Result<(), crate::access::DenialReason> {
        self.rules().authorize(principal, capability).into_result()
    }

    /// Whether `principal` may do `action` on `device`, decided by the access rules.
    fn check(
        &self,
        principal: &Principal,
        device: &DeviceAddress,
        action: Action,
    ) -> GatewayResult<()> {
        let id = self
            .fleet
            .info(device)
            .map(|info| DeviceView::from(info).id)
            .ok_or(Refusal::UnknownDevice)?;
        self.check_id(principal, id, action)
    }

    fn check_id(
        &self,
        principal: &Principal,
        device: DeviceId,
        action: Action,
    ) -> GatewayResult<()> {
        let (now, trust) = self.time();
        self.rules()
            .decide(principal, device, action, now, trust)
            .into_result()
            .map_err(|reason| Refusal::Denied { reason })
    }

    /// The devices `principal` may see, sorted by address.
    pub fn devices(&self, principal: &Principal) -> Vec<DeviceView> {
        self.fleet
            .devices()
            .into_iter()
            .map(DeviceView::from)
            .filter(|device| self.check_id(principal, device.id, Action::View).is_ok())
            .collect()
    }

    /// The radios, and the routes of the paired devices `principal` may see; `None` when the
    /// transport is no set of radios.
    pub fn radios(&self, principal: &Principal) -> Option<RadiosView> {
        let report = self.fleet.radios_report()?;
        let visible = self.devices(principal);
        let routes = report
            .routes
            .into_iter()
            .filter_map(|route| {
                let device = visible.iter().find(|d| d.address == route.device)?;
                Some((device.clone(), route))
            })
            .collect();
        Some(RadiosView {
            radios: report.radios,
            routes,
        })
    }

    /// The paired device with management id `id`.
    pub fn device_by_id(&self, id: crate::access::DeviceId) -> Option<DeviceView> {
        self.fleet
            .devices()
            .into_iter()
            .map(DeviceView::from)
            .find(|device| device.id == id)
    }

    /// The last state a device reported (no radio traffic); `None` before its first report.
    pub fn cached_state(
        &self,
        principal: &Principal,
        device: &DeviceAddress,
    ) -> GatewayResult<Option<KeyturnerStates>> {
        self.check(principal, device, Action::View)?;
        Ok(self.fleet.cached_state(device))
    }

    /// Reads a device's state over the radio (costs battery; prefer [`Self::cached_state`]).
    pub async fn read_state(
        &self,
        principal: &Principal,
        device: &DeviceAddress,
    ) -> GatewayResult<DeviceReport> {
        self.check(principal, device, Action::View)?;
        let completed = self
            .fleet
            .read_state(device, self.settings.action_deadline)
            .await?;
        let report = DeviceReport::from(completed);
        self.observe_device_clock(&report);
        Ok(report)
    }

    /// Operates a device on behalf of `principal` and waits for the outcome.
    pub async fn act(
        &self,
        principal: &Principal,
        device: &DeviceAddress,
        action: DeviceAction,
    ) -> GatewayResult<DeviceReport> {
        let pending = self.queue_action(principal, device, action, Hold::UntilComplete)?;
        let outcome = pending.outcome().await.map(DeviceReport::from);
        if let Ok(report) = &outcome {
            self.observe_device_clock(report);
        }
        self.finish_action(
            principal,
            device,
            action,
            outcome.clone().map_err(Refusal::from),
        );
        outcome.map_err(Refusal::from)
    }

    /// Queues an action and answers at once: `Ok` means it is queued on the device, not that
    /// it happened. Its outcome is reported on the bus (`ActionFinished`) like any other.
    /// Nobody waits for the motor, so the device's link is given up once the device accepted
    /// the action; the outcome comes from the state read after the device's flag.
    pub fn start_action(
        &self,
        principal: &Principal,
        device: &DeviceAddress,
        action: DeviceAction,
    ) -> GatewayResult<()> {
        let pending = self.queue_action(principal, device, action, Hold::UntilAccepted)?;
        let events = self.events.clone();
        let (principal, device) = (principal.clone(), device.clone());
        self.tasks.spawn(async move {
            let outcome = pending
                .outcome()
                .await
                .map(DeviceReport::from)
                .map_err(Refusal::from);
            let _ = events.send(GatewayEvent::ActionFinished {
                principal,
                device,
                action,
                outcome,
                answered_early: true,
            });
        });
        Ok(())
    }

    fn queue_action(
        &self,
        principal: &Principal,
        device: &DeviceAddress,
        action: DeviceAction,
        hold: Hold,
    ) -> GatewayResult<crate::devices::fleet::PendingOutcome> {
        let allowed = self.check(principal, device, Action::Operate);
        let _ = self.events.send(GatewayEvent::ActionRequested {
            principal: principal.clone(),
            device: device.clone(),
            action,
        });
        if let Err(refusal) = allowed {
            // A denial is an outcome of its own, reported on the bus with its reason.
            self.finish_action(principal, device, action, Err(refusal.clone()));
            return Err(refusal);
        }
        let deadline = self.settings.action_deadline;
        let queued = match hold {
            Hold::UntilComplete => self.fleet.start_action(device, action, deadline),
            Hold::UntilAccepted => self
                .fleet
                .start_action_releasing_link(device, action, deadline),
        };
        match queued {
            Ok(pending) => Ok(pending),
            Err(failure) => {
                let refusal = Refusal::from(failure);
                self.finish_action(principal, device, action, Err(refusal.clone()));
                Err(refusal)
            }
        }
    }

    /// The fleet reports every device clock on its bus too, but that arrives a moment later;
    /// a caller who just got an answer must see the time it carried already counted.
    fn observe_device_clock(&self, report: &DeviceReport) {
        if let Some(state) = &report.state {
            self.time.observe(&self.clock, &state.current_time);
        }
    }

    fn finish_action(
        &self,
        principal: &Principal,
        device: &DeviceAddress,
        action: DeviceAction,
        outcome: GatewayResult<DeviceReport>,
    ) {
        let _ = self.events.send(GatewayEvent::ActionFinished {
            principal: principal.clone(),
            device: device.clone(),
            action,
            outcome,
            answered_early: false,
        });
    }

    /// Hears an advertisement: state-changed flags of paired devices reach the fleet, and
    /// pairing-mode adverts reach pairings waiting for them. Answers with the pairing advert
    /// of a device that is not paired yet, so the caller need not read the advert again.
    pub fn on_advertisement(&self, heard: &Advertisement) -> Option<PairingAdvert> {
        let address = heard.address.as_ref()?;
        if self.fleet.contains(address) {
            self.fleet.on_advertisement(heard);
            self.provisioning_heard(address);
            return None;
        }
        let pairing = read_advertisement(heard).pairing?;
        let now = tokio::time::Instant::now();
        {
            let mut recent = lock(&self.recent_pairing_adverts);
            // Neighbours' devices in pairing mode come and go; keep only what is still fresh.
            recent.retain(|_, (heard, _)| {
                now.duration_since(*heard) < pairing::RECENT_PAIRING_ADVERT
            });
            recent.insert(address.clone(), (now, pairing));
        }
        let _ = self.pairing_adverts.send((address.clone(), pairing));
        Some(pairing)
    }

    /// Whether the device is paired and in the fleet.
    pub fn is_paired(&self, device: &DeviceAddress) -> bool {
        self.fleet.contains(device)
    }

    /// Refreshes every device in the background (the slow safety net).
    pub fn refresh_all(&self) {
        self.fleet.refresh_all();
    }

    /// Stops background work and every device task; each link is closed. Returns whether
    /// everything ended within `limit`.
    pub async fn shutdown(&self, limit: Duration) -> bool {
        self.shutdown.cancel();
        self.tasks.close();
        let own_tasks = async { tokio::time::timeout(limit, self.tasks.wait()).await.is_ok() };
        let (fleet_done, tasks_done) = tokio::join!(self.fleet.shutdown(limit), own_tasks);
        fleet_done && tasks_done
    }
}

/// How long an action keeps the device's link.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Hold {
    UntilComplete,
    UntilAccepted,
}

async fn forward_fleet_events(
    gateway: std::sync::Weak<Gateway>,
    mut fleet_events: broadcast::Receiver<crate::devices::fleet::FleetEvent>,
    bus: events::Bus,
    shutdown: CancellationToken,
) {
    loop {
        let event = tokio::select! {
            () = shutdown.cancelled() => break,
            event = fleet_events.recv() => event,
        };
        match event {
            Ok(crate::devices::fleet::FleetEvent::ClockReported { current_time, .. }) => {
                let Some(gateway) = gateway.upgrade() else {
                    break;
                };
                gateway.time.observe(&gateway.clock, &current_time);
            }
            Ok(event) => {
                if let Some(event) = GatewayEvent::from_fleet(event) {
                    let _ = bus.send(event);
                }
            }
            Err(broadcast::error::RecvError::Lagged(missed)) => {
                tracing::warn!(missed, "gateway bus fell behind the fleet");
            }
            Err(broadcast::error::RecvError::Closed) => break,
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
