//! A snapshot of the building's rules, indexed for the decision: built by the gateway from
//! the store whenever addresses, units or permissions change.

use std::collections::{HashMap, HashSet};

use jiff::tz::TimeZone;

use super::clock_trust::ClockTrust;
use super::decision::{Action, Decision, DenialReason};
use super::ids::{AddressId, DeviceId, PermissionId, UnitId};
use super::model::{Address, Permission, Scope, Unit};
use super::principal::Principal;
use super::rights::Capability;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    #[error("address {address} has an unknown time zone `{zone}`")]
    UnknownTimeZone { address: AddressId, zone: String },
}

#[derive(Debug, Clone)]
pub struct AccessRules {
    default_zone: TimeZone,
    zones: HashMap<AddressId, TimeZone>,
    /// The address each device belongs to (as a Box of it, or as a lock of one of its units).
    device_address: HashMap<DeviceId, AddressId>,
    address_boxes: HashMap<AddressId, HashSet<DeviceId>>,
    unit_address: HashMap<UnitId, AddressId>,
    unit_locks: HashMap<UnitId, HashSet<DeviceId>>,
    permissions: HashMap<PermissionId, Permission>,
}

impl AccessRules {
    /// Rules with no building: only principals with rights may do anything.
    pub fn empty(default_zone: TimeZone) -> Self {
        Self {
            default_zone,
            zones: HashMap::new(),
            device_address: HashMap::new(),
            address_boxes: HashMap::new(),
            unit_address: HashMap::new(),
            unit_locks: HashMap::new(),
            permissions: HashMap::new(),
        }
    }

    pub fn build(
        default_zone: TimeZone,
        addresses: &[Address],
        units: &[Unit],
        permissions: impl IntoIterator<Item = Permission>,
    ) -> Result<Self, RulesError> {
        let mut rules = Self::empty(default_zone);
        for address in addresses {
            let zone =
                TimeZone::get(&address.time_zone).map_err(|_| RulesError::UnknownTimeZone {
                    address: address.id,
                    zone: address.time_zone.clone(),
                })?;
            rules.zones.insert(address.id, zone);
            rules
                .address_boxes
                .insert(address.id, address.boxes.iter().copied().collect());
            // A device belongs to one address; should the records name it twice, the first
            // address listing it as a Box wins, then the first unit listing it as a lock, so
            // the zone its windows are read in does not depend on hashing.
            for device in &address.boxes {
                rules.device_address.entry(*device).or_insert(address.id);
            }
        }
        for unit in units {
            rules.unit_address.insert(unit.id.clone(), unit.address);
            rules
                .unit_locks
                .insert(unit.id.clone(), unit.locks.iter().copied().collect());
            for device in &unit.locks {
                rules.device_address.entry(*device).or_insert(unit.address);
            }
        }
        rules.permissions = permissions
            .into_iter()
            .map(|permission| (permission.id.clone(), permission))
            .collect();
        Ok(rules)
    }

    /// The time zone a device's time windows are read in: its address's, else the default.
    pub fn zone_of(&self, device: DeviceId) -> &TimeZone {
        self.device_address
            .get(&device)
            .and_then(|address| self.zones.get(address))
            .unwrap_or(&self.default_zone)
    }

    /// The address a device belongs to: as one of its Boxes, or as a lock of one of its units.
    pub fn address_of(&self, device: DeviceId) -> Option<AddressId> {
        self.device_address.get(&device).copied()
    }

    pub fn permission(&self, id: &PermissionId) -> Option<&Permission> {
        self.permissions.get(id)
    }

    /// Every permission, in no particular order.
    pub fn permissions(&self) -> impl Iterator<Item = &Permission> {
        self.permissions.values()
    }

    /// Whether a permission's scope includes `device`.
    pub fn covers(&self, scope: &Scope, device: DeviceId) -> bool {
        match scope {
            Scope::Device { device: own } => *own == device,
            Scope::AddressBoxes { address } => self
                .address_boxes
                .get(address)
                .is_some_and(|boxes| boxes.contains(&device)),
            Scope::Unit { unit } => {
                self.unit_locks
                    .get(unit)
                    .is_some_and(|locks| locks.contains(&device))
                    || self
                        .unit_address
                        .get(unit)
                        .and_then(|address| self.address_boxes.get(address))
                        .is_some_and(|boxes| boxes.contains(&device))
            }
        }
    }

    /// The devices a scope names, sorted.
    pub fn devices_of(&self, scope: &Scope) -> Vec<DeviceId> {
        let mut devices: Vec<DeviceId> = match scope {
            Scope::Device { device } => vec![*device],
            Scope::AddressBoxes { address } => self
                .address_boxes
                .get(address)
                .map(|boxes| boxes.iter().copied().collect())
                .unwrap_or_default(),
            Scope::Unit { unit } => {
                let mut all: Vec<DeviceId> = self
                    .unit_locks
                    .get(unit)
                    .map(|locks| locks.iter().copied().collect())
                    .unwrap_or_default();
                if let Some(boxes) = self
                    .unit_address
                    .get(unit)
                    .and_then(|address| self.address_boxes.get(address))
                {
                    all.extend(boxes.iter().copied());
                }
                all
            }
        };
        devices.sort();
        devices.dedup();
        devices
    }

    /// Whether `principal` has `capability` (management operations).
    pub fn authorize(&self, principal: &Principal, capability: Capability) -> Decision {
        if principal.rights().allows(capability) {
            Decision::Allow
        } else {
            Decision::Deny(DenialReason::MissingRight { capability })
        }
    }

    /// The decision for one request on one device at `now` (Unix seconds, the gateway's
    /// time), given how far that time may be trusted.
    ///
    /// Accounts, integrations and local operators see every device and operate with the
    /// right [`Capability::OperateDoors`]. A holder gets exactly its permission, checked in
    /// this order, the first failure being the reason: the permission exists and its scope
    /// covers the device (else [`DenialReason::NoPermission`]), it is enabled, it may be used
    /// remotely (a request through the gateway is remote); for [`Action::Operate`] also a
    /// trusted clock if it is time-limited, then its dates, weekdays and daily window in the
    /// time zone of the device's address.
    pub fn decide(
        &self,
        principal: &Principal,
        device: DeviceId,
        action: Action,
        now: i64,
        trust: ClockTrust,
    ) -> Decision {
        let Principal::Holder { permission } = principal else {
            return match action {
                // Every account and integration sees every device, as in the Nuki Box
                // management account; rights are per capability.
                Action::View => Decision::Allow,
                Action::Operate => self.authorize(principal, Capability::OperateDoors),
            };
        };
        let Some(permission) = self.permissions.get(permission) else {
            return Decision::Deny(DenialReason::NoPermission);
        };
        if !self.covers(&permission.scope, device) {
            return Decision::Deny(DenialReason::NoPermission);
        }
        let limits = &permission.limits;
        if !limits.enabled {
            return Decision::Deny(DenialReason::PermissionDisabled);
        }
        if !limits.remote_allowed {
            return Decision::Deny(DenialReason::RemoteNotAllowed);
        }
        // Seeing the device and its state outside the time window lets the holder learn
        // why opening is refused; operating it is what the window limits.
        if action == Action::View {
            return Decision::Allow;
        }
        if limits.is_time_limited() && !trust.is_trusted() {
            return Decision::Deny(DenialReason::ClockUntrusted);
        }
        match limits.check_time(now, self.zone_of(device)) {
            Ok(()) => Decision::Allow,
            Err(reason) => Decision::Deny(reason),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::{
        AccountId, Address, Capability, DailyWindow, Limits, PermissionKind, PersonId, Rights,
        Unit, UntrustedReason, Weekdays,
    };

    // 2026-11-30 is a Monday; 12:00 UTC is 13:00 in Zurich, 07:00 in New York.
    const MONDAY_NOON_UTC: i64 = 1_796_040_000;
    const UNTRUSTED: ClockTrust = ClockTrust::Untrusted {
        reason: UntrustedReason::BeforeBuildDate,
    };
    const ENTRANCE: DeviceId = DeviceId(1);
    const FLAT_LOCK: DeviceId = DeviceId(2);
    const OTHER_BOX: DeviceId = DeviceId(3);

    fn permission(id: &str, scope: Scope, limits: Limits) -> Permission {
        Permission {
            id: PermissionId(id.into()),
            person: PersonId(1),
            name: id.into(),
            scope,
            kind: PermissionKind::GatewayAccess,
            limits,
        }
    }

    fn holder(id: &str) -> Principal {
        Principal::Holder {
            permission: PermissionId(id.into()),
        }
    }

    fn rules() -> AccessRules {
        let addresses = [
            Address {
                id: AddressId(1),
                name: "Zurich".into(),
                time_zone: "Europe/Zurich".into(),
                boxes: vec![ENTRANCE],
            },
            Address {
                id: AddressId(2),
                name: "New York".into(),
                time_zone: "America/New_York".into(),
                boxes: vec![OTHER_BOX, ENTRANCE],
            },
        ];
        let units = [Unit {
            id: UnitId("flat".into()),
            address: AddressId(1),
            name: "Flat 1".into(),
            locks: vec![FLAT_LOCK],
        }];
        let lunch = Limits {
            daily: Some(DailyWindow {
                from_minute: 13 * 60,
                until_minute: 14 * 60,
            }),
            ..Limits::default()
        };
        let permissions = [
            permission(
                "resident",
                Scope::Unit {
                    unit: UnitId("flat".into()),
                },
                Limits::default(),
            ),
            permission(
                "lunch",
                Scope::AddressBoxes {
                    address: AddressId(1),
                },
                lunch,
            ),
            permission(
                "disabled",
                Scope::Device { device: ENTRANCE },
                Limits {
                    enabled: false,
                    ..Limits::default()
                },
            ),
            permission(
                "at-the-door-only",
                Scope::Device { device: ENTRANCE },
                Limits {
                    remote_allowed: false,
                    ..Limits::default()
                },
            ),
            permission(
                "tuesdays",
                Scope::Device { device: ENTRANCE },
                Limits {
                    weekdays: Weekdays(32),
                    ..Limits::default()
                },
            ),
        ];
        AccessRules::build(TimeZone::UTC, &addresses, &units, permissions).unwrap()
    }

    fn decide(principal: &Principal, device: DeviceId, action: Action) -> Decision {
        rules().decide(
            principal,
            device,
            action,
            MONDAY_NOON_UTC,
            ClockTrust::Trusted,
        )
    }

    #[test]
    fn zones_follow_the_first_address_naming_the_device() {
        let rules = rules();
        assert_eq!(rules.zone_of(ENTRANCE).iana_name(), Some("Europe/Zurich"));
        assert_eq!(rules.zone_of(FLAT_LOCK).iana_name(), Some("Europe/Zurich"));
        assert_eq!(
            rules.zone_of(OTHER_BOX).iana_name(),
            Some("America/New_York")
        );
        assert_eq!(rules.zone_of(DeviceId(99)), &TimeZone::UTC);
        assert_eq!(rules.address_of(FLAT_LOCK), Some(AddressId(1)));
    }

    #[test]
    fn unknown_time_zone_is_refused() {
        let address = Address {
            id: AddressId(7),
            name: "x".into(),
            time_zone: "Mars/Olympus".into(),
            boxes: vec![],
        };
        assert!(matches!(
            AccessRules::build(TimeZone::UTC, &[address], &[], []),
            Err(RulesError::UnknownTimeZone { .. })
        ));
    }

    #[test]
    fn rights_based_principals() {
        let sub_account = |rights| Principal::Account {
            id: AccountId(2),
            owner: false,
            rights,
        };
        let viewer = sub_account(Rights::of(&[Capability::ViewActivityLog]));
        assert_eq!(decide(&viewer, ENTRANCE, Action::View), Decision::Allow);
        assert_eq!(
            decide(&viewer, ENTRANCE, Action::Operate),
            Decision::Deny(DenialReason::MissingRight {
                capability: Capability::OperateDoors
            })
        );
        let operator = sub_account(Rights::of(&[Capability::OperateDoors]));
        assert_eq!(
            decide(&operator, DeviceId(99), Action::Operate),
            Decision::Allow
        );
        let owner = Principal::Account {
            id: AccountId(1),
            owner: true,
            rights: Rights::NONE,
        };
        for principal in [owner, Principal::Local, Principal::bridge_api()] {
            // Untrusted clocks don't matter to rights.
            let decision = rules().decide(&principal, ENTRANCE, Action::Operate, 0, UNTRUSTED);
            assert_eq!(decision, Decision::Allow, "{principal}");
        }
    }

    #[test]
    fn holders_get_exactly_their_permission() {
        let resident = holder("resident");
        for device in [ENTRANCE, FLAT_LOCK] {
            assert_eq!(decide(&resident, device, Action::Operate), Decision::Allow);
        }
        assert_eq!(
            decide(&resident, OTHER_BOX, Action::Operate),
            Decision::Deny(DenialReason::NoPermission)
        );
        assert_eq!(
            decide(&resident, OTHER_BOX, Action::View),
            Decision::Deny(DenialReason::NoPermission)
        );
        assert_eq!(
            decide(&holder("revoked"), ENTRANCE, Action::View),
            Decision::Deny(DenialReason::NoPermission)
        );
        assert_eq!(
            decide(&holder("disabled"), ENTRANCE, Action::View),
            Decision::Deny(DenialReason::PermissionDisabled)
        );
        assert_eq!(
            decide(&holder("at-the-door-only"), ENTRANCE, Action::Operate),
            Decision::Deny(DenialReason::RemoteNotAllowed)
        );
        // The lunch window is read in Zurich: 13:00 there.
        assert_eq!(
            decide(&holder("lunch"), ENTRANCE, Action::Operate),
            Decision::Allow
        );
        assert_eq!(
            decide(&holder("tuesdays"), ENTRANCE, Action::Operate),
            Decision::Deny(DenialReason::WrongWeekday)
        );
        // Outside its window a holder still sees the device.
        assert_eq!(
            decide(&holder("tuesdays"), ENTRANCE, Action::View),
            Decision::Allow
        );
    }

    #[test]
    fn untrusted_clock_refuses_time_limited_permissions_only() {
        let rules = rules();
        let at = |principal: &Principal| {
            rules.decide(
                principal,
                ENTRANCE,
                Action::Operate,
                MONDAY_NOON_UTC,
                UNTRUSTED,
            )
        };
        assert_eq!(
            at(&holder("lunch")),
            Decision::Deny(DenialReason::ClockUntrusted)
        );
        assert_eq!(at(&holder("resident")), Decision::Allow);
        assert_eq!(
            rules.decide(&holder("lunch"), ENTRANCE, Action::View, 0, UNTRUSTED),
            Decision::Allow
        );
    }
}
