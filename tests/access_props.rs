//! `AccessRules::decide` against a reference written here the plain way: linear scans of the
//! records, local civil time through jiff's zoned date-time API by zone name, weekday names
//! mapped to Nuki's bits by a table. Random buildings, permissions, principals and instants
//! (over decades, and bunched around the daylight-saving changes of zones with odd rules),
//! plus explicit daylight-saving cases with instants written out by hand.

use std::sync::OnceLock;

use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use jiff::Timestamp;
use proptest::prelude::*;

use nuki_edge::access::{
    AccessRules, AccountId, Action, Address, AddressId, Capability, ClockTrust, DailyWindow,
    Decision, DenialReason, DeviceId, Limits, Permission, PermissionId, PermissionKind, PersonId,
    Principal, Rights, Scope, TrustedTime, Unit, UnitId, UntrustedReason, Weekdays,
    BUILD_FLOOR_UNIX,
};

/// Zones with daylight saving in both hemispheres, a 30-minute shift (Lord Howe), a 45-minute
/// offset (Chatham), daylight saving that ended in 2019 (São Paulo), and none at all.
const ZONES: [&str; 6] = [
    "Europe/Zurich",
    "America/New_York",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Sao_Paulo",
    "UTC",
];

/// Devices 1..=DEVICES exist in buildings; DEVICES + 1 is in none.
const DEVICES: u64 = 8;
/// Permissions p0..p(PERMISSIONS-1) may exist; holders may name one more that doesn't.
const PERMISSIONS: usize = 8;
const YEAR_2000: i64 = 946_684_800;
const YEAR_2040: i64 = 2_208_988_800;
const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;

/// The transitions of each of [`ZONES`] from 2000 to 2040, as Unix seconds.
fn transitions(zone: usize) -> &'static [i64] {
    static ALL: OnceLock<Vec<Vec<i64>>> = OnceLock::new();
    let all = ALL.get_or_init(|| {
        let start = Timestamp::from_second(YEAR_2000).unwrap();
        ZONES
            .iter()
            .map(|name| {
                TimeZone::get(name)
                    .unwrap()
                    .following(start)
                    .map(|transition| transition.timestamp().as_second())
                    .take_while(|second| *second < YEAR_2040)
                    .collect()
            })
            .collect()
    });
    &all[zone]
}

/// The local minute of the day at `instant` in `zone`.
fn local_minute(instant: i64, zone: &str) -> i32 {
    let local = Timestamp::from_second(instant)
        .unwrap()
        .in_tz(zone)
        .unwrap();
    i32::from(local.hour()) * 60 + i32::from(local.minute())
}

// ---------------------------------------------------------------------------------------
// The reference.

struct World {
    default_zone: &'static str,
    addresses: Vec<Address>,
    units: Vec<Unit>,
    permissions: Vec<Permission>,
}

/// Who asks, with the capabilities the reference judges by.
#[derive(Debug, Clone)]
enum Asker {
    Owner,
    Local,
    SubAccount(Vec<Capability>),
    Integration(Vec<Capability>),
    Holder(usize),
}

impl Asker {
    fn principal(&self) -> Principal {
        match self {
            Asker::Owner => Principal::Account {
                id: AccountId(1),
                owner: true,
                rights: Rights::NONE,
            },
            Asker::Local => Principal::Local,
            Asker::SubAccount(capabilities) => Principal::Account {
                id: AccountId(2),
                owner: false,
                rights: Rights::of(capabilities),
            },
            Asker::Integration(capabilities) => Principal::Integration {
                name: "home".into(),
                rights: Rights::of(capabilities),
            },
            Asker::Holder(index) => Principal::Holder {
                permission: permission_id(*index),
            },
        }
    }
}

fn permission_id(index: usize) -> PermissionId {
    PermissionId(format!("p{index}"))
}

fn weekday_bit(day: Weekday) -> u8 {
    match day {
        Weekday::Monday => 64,
        Weekday::Tuesday => 32,
        Weekday::Wednesday => 16,
        Weekday::Thursday => 8,
        Weekday::Friday => 4,
        Weekday::Saturday => 2,
        Weekday::Sunday => 1,
    }
}

impl World {
    fn zone_name(&self, device: DeviceId) -> &str {
        let address = self
            .addresses
            .iter()
            .find(|address| address.boxes.contains(&device))
            .map(|address| address.id)
            .or_else(|| {
                self.units
                    .iter()
                    .find(|unit| unit.locks.contains(&device))
                    .map(|unit| unit.address)
            });
        address
            .and_then(|id| self.addresses.iter().find(|address| address.id == id))
            .map_or(self.default_zone, |address| address.time_zone.as_str())
    }

    fn boxes_of(&self, id: AddressId) -> Vec<DeviceId> {
        self.addresses
            .iter()
            .filter(|address| address.id == id)
            .flat_map(|address| address.boxes.iter().copied())
            .collect()
    }

    fn scope_devices(&self, scope: &Scope) -> Vec<DeviceId> {
        let mut devices = match scope {
            Scope::Device { device } => vec![*device],
            Scope::AddressBoxes { address } => self.boxes_of(*address),
            Scope::Unit { unit } => self
                .units
                .iter()
                .filter(|candidate| candidate.id == *unit)
                .flat_map(|unit| {
                    let mut devices = unit.locks.clone();
                    devices.extend(self.boxes_of(unit.address));
                    devices
                })
                .collect(),
        };
        devices.sort();
        devices.dedup();
        devices
    }

    fn decide(
        &self,
        asker: &Asker,
        device: DeviceId,
        action: Action,
        now: i64,
        trusted: bool,
    ) -> Decision {
        let may_operate = |capabilities: &[Capability]| {
            if action == Action::View || capabilities.contains(&Capability::OperateDoors) {
                Decision::Allow
            } else {
                Decision::Deny(DenialReason::MissingRight {
                    capability: Capability::OperateDoors,
                })
            }
        };
        let index = match asker {
            Asker::Owner | Asker::Local => return Decision::Allow,
            Asker::SubAccount(capabilities) | Asker::Integration(capabilities) => {
                return may_operate(capabilities)
            }
            Asker::Holder(index) => *index,
        };
        let wanted = permission_id(index);
        let Some(permission) = self.permissions.iter().find(|p| p.id == wanted) else {
            return Decision::Deny(DenialReason::NoPermission);
        };
        if !self.scope_devices(&permission.scope).contains(&device) {
            return Decision::Deny(DenialReason::NoPermission);
        }
        let limits = &permission.limits;
        if !limits.enabled {
            return Decision::Deny(DenialReason::PermissionDisabled);
        }
        if !limits.remote_allowed {
            return Decision::Deny(DenialReason::RemoteNotAllowed);
        }
        if action == Action::View {
            return Decision::Allow;
        }
        let mask = limits.weekdays.0;
        let every_day = mask == 0 || mask == 127;
        let whole_day = limits
            .daily
            .is_none_or(|window| window.from_minute == window.until_minute);
        let time_limited = limits.allowed_from.is_some()
            || limits.allowed_until.is_some()
            || !every_day
            || !whole_day;
        if time_limited && !trusted {
            return Decision::Deny(DenialReason::ClockUntrusted);
        }
        if let Some(from) = limits.allowed_from {
            if now < from {
                return Decision::Deny(DenialReason::NotYetValid);
            }
        }
        if let Some(until) = limits.allowed_until {
            if now > until {
                return Decision::Deny(DenialReason::Expired);
            }
        }
        let local = Timestamp::from_second(now)
            .unwrap()
            .in_tz(self.zone_name(device))
            .unwrap();
        if !every_day && mask & weekday_bit(local.weekday()) == 0 {
            return Decision::Deny(DenialReason::WrongWeekday);
        }
        if let Some(window) = limits.daily {
            let minute = i32::from(local.hour()) * 60 + i32::from(local.minute());
            let from = i32::from(window.from_minute);
            let until = i32::from(window.until_minute);
            let inside = if from == until {
                true
            } else if from < until {
                from <= minute && minute < until
            } else {
                // Over midnight: the evening part or the morning part.
                minute >= from || minute < until
            };
            if !inside {
                return Decision::Deny(DenialReason::OutsideDailyWindow);
            }
        }
        Decision::Allow
    }

    fn rules(&self) -> AccessRules {
        AccessRules::build(
            TimeZone::get(self.default_zone).unwrap(),
            &self.addresses,
            &self.units,
            self.permissions.clone(),
        )
        .unwrap()
    }
}

// ---------------------------------------------------------------------------------------
// Strategies.

fn zone() -> impl Strategy<Value = &'static str> {
    (0..ZONES.len()).prop_map(|index| ZONES[index])
}

fn devices(sizes: std::ops::RangeInclusive<usize>) -> impl Strategy<Value = Vec<DeviceId>> {
    prop::collection::vec((1..=DEVICES).prop_map(DeviceId), sizes)
}

/// Mostly an address that exists (1 and 2 always do, 3 may), sometimes one that never
/// does (4).
fn address_id() -> impl Strategy<Value = AddressId> {
    prop_oneof![8 => 1..=2i64, 2 => Just(3i64), 1 => Just(4i64)].prop_map(AddressId)
}

fn capabilities() -> impl Strategy<Value = Vec<Capability>> {
    prop::collection::vec(prop::sample::select(Capability::ALL.to_vec()), 0..4)
}

/// An instant: anywhere in four decades, or near a daylight-saving change of `zone` (for
/// UTC, which has none, anywhere).
fn instant_for(zone: usize) -> impl Strategy<Value = i64> {
    prop_oneof![
        1 => YEAR_2000..YEAR_2040,
        3 => (any::<prop::sample::Index>(), -6 * HOUR..6 * HOUR, YEAR_2000..YEAR_2040).prop_map(
            move |(index, offset, anywhere)| {
                let all = transitions(zone);
                if all.is_empty() {
                    anywhere
                } else {
                    *index.get(all) + offset
                }
            }
        ),
    ]
}

/// An instant for any of the zones.
fn instant() -> impl Strategy<Value = i64> {
    (0..ZONES.len()).prop_flat_map(instant_for)
}

/// A minute of the day for a daily window: anywhere, or within three hours of the local
/// time of the scenario's centre (where the daylight-saving change is).
#[derive(Debug, Clone, Copy)]
enum MinuteSpec {
    Any(u16),
    NearCentre(i32),
}

fn minute_spec() -> impl Strategy<Value = MinuteSpec> {
    prop_oneof![
        1 => (0u16..DailyWindow::MINUTES_PER_DAY).prop_map(MinuteSpec::Any),
        2 => (-180..=180i32).prop_map(MinuteSpec::NearCentre),
    ]
}

#[derive(Debug, Clone)]
struct LimitsSpec {
    enabled: bool,
    remote_allowed: bool,
    from: Option<i64>,
    until: Option<i64>,
    weekdays: u8,
    daily: Option<(MinuteSpec, MinuteSpec)>,
}

fn limits_spec() -> impl Strategy<Value = LimitsSpec> {
    let date = prop::option::weighted(0.4, -3 * DAY..3 * DAY);
    let weekdays = prop_oneof![Just(0u8), Just(127u8), 0u8..=127];
    let window = prop_oneof![
        3 => (minute_spec(), minute_spec()),
        1 => minute_spec().prop_map(|m| (m, m)),
    ];
    (
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.9),
        date.clone(),
        date,
        weekdays,
        prop::option::weighted(0.6, window),
    )
        .prop_map(
            |(enabled, remote_allowed, from, until, weekdays, daily)| LimitsSpec {
                enabled,
                remote_allowed,
                from,
                until,
                weekdays,
                daily,
            },
        )
}

fn scope() -> impl Strategy<Value = Scope> {
    prop_oneof![
        (1..=DEVICES + 1).prop_map(|device| Scope::Device {
            device: DeviceId(device)
        }),
        // Address 4 and unit u5 never exist; 1, 2, u0 and u1 always do; the others may.
        address_id().prop_map(|address| Scope::AddressBoxes { address }),
        prop_oneof![8 => 0..=1usize, 3 => 2..=4usize, 1 => Just(5usize)].prop_map(|unit| {
            Scope::Unit {
                unit: UnitId(format!("u{unit}")),
            }
        }),
    ]
}

fn asker() -> impl Strategy<Value = Asker> {
    prop_oneof![
        1 => Just(Asker::Owner),
        1 => Just(Asker::Local),
        2 => capabilities().prop_map(Asker::SubAccount),
        1 => capabilities().prop_map(Asker::Integration),
        8 => (0..PERMISSIONS).prop_map(Asker::Holder),
        // A permission id that never exists.
        1 => Just(Asker::Holder(PERMISSIONS)),
    ]
}

#[derive(Debug, Clone)]
enum When {
    /// Seconds from the scenario's centre.
    Near(i64),
    Anywhere(i64),
    /// At an edge of one of the permissions' limits, give or take `delta` seconds: its
    /// `allowed_from`/`allowed_until`, or the local start/end minute of its daily window on
    /// the centre's local date (shifted by `days`) in the zone of the device asked about.
    Edge {
        permission: prop::sample::Index,
        edge: Edge,
        days: i64,
        delta: i64,
    },
}

#[derive(Debug, Clone, Copy)]
enum Edge {
    From,
    Until,
    WindowStart,
    WindowEnd,
}

/// Which device a query is about: any, or (for holders) one their permission covers, so
/// most holder queries get past the scope and exercise the limits.
#[derive(Debug, Clone)]
enum DeviceChoice {
    Any(u64),
    Covered(prop::sample::Index),
}

#[derive(Debug, Clone)]
struct Query {
    asker: Asker,
    device: DeviceChoice,
    operate: bool,
    when: When,
    trusted: bool,
}

fn query() -> impl Strategy<Value = Query> {
    let when = prop_oneof![
        4 => (-3 * HOUR..3 * HOUR).prop_map(When::Near),
        2 => (-8 * HOUR..8 * HOUR).prop_map(When::Near),
        2 => (-4 * DAY..4 * DAY).prop_map(When::Near),
        1 => instant().prop_map(When::Anywhere),
        3 => (
            any::<prop::sample::Index>(),
            prop::sample::select(vec![Edge::From, Edge::Until, Edge::WindowStart, Edge::WindowEnd]),
            -1..=1i64,
            prop_oneof![Just(0i64), Just(-1), Just(1), Just(-60), Just(60), -90..=90i64],
        )
            .prop_map(|(permission, edge, days, delta)| When::Edge {
                permission,
                edge,
                days,
                delta,
            }),
    ];
    (
        asker(),
        prop_oneof![
            1 => (1..=DEVICES + 1).prop_map(DeviceChoice::Any),
            5 => any::<prop::sample::Index>().prop_map(DeviceChoice::Covered),
        ],
        prop::bool::weighted(0.8),
        when,
        prop::bool::weighted(0.8),
    )
        .prop_map(|(asker, device, operate, when, trusted)| Query {
            asker,
            device,
            operate,
            when,
            trusted,
        })
}

/// The zone (`None`: the scenario's focus zone) and the Boxes.
type AddressSpec = (Option<&'static str>, Vec<DeviceId>);
type UnitSpec = (AddressId, Vec<DeviceId>);
type PermissionSpec = (Scope, PermissionKind, LimitsSpec);

#[derive(Debug, Clone)]
struct Scenario {
    /// The zone most addresses are in, near one of whose daylight-saving changes `centre`
    /// mostly lies.
    focus: usize,
    centre: i64,
    default_zone: &'static str,
    addresses: Vec<AddressSpec>,
    units: Vec<UnitSpec>,
    /// `None` leaves a gap: that permission id doesn't exist (revoked).
    permissions: Vec<Option<PermissionSpec>>,
    queries: Vec<Query>,
}

fn scenario() -> impl Strategy<Value = Scenario> {
    let kind = prop::sample::select(vec![
        PermissionKind::GatewayAccess,
        PermissionKind::KeypadCode,
        PermissionKind::DeviceAuthorization,
    ]);
    (0..ZONES.len())
        .prop_flat_map(|focus| (Just(focus), instant_for(focus)))
        .prop_flat_map(move |(focus, centre)| scenario_at(focus, centre, kind.clone()))
}

fn scenario_at(
    focus: usize,
    centre: i64,
    kind: impl Strategy<Value = PermissionKind>,
) -> impl Strategy<Value = Scenario> {
    (
        Just(focus),
        Just(centre),
        zone(),
        prop::collection::vec((prop::option::weighted(0.3, zone()), devices(1..=4)), 2..=3),
        prop::collection::vec((address_id(), devices(0..=3)), 2..=5),
        prop::collection::vec(
            prop::option::weighted(0.95, (scope(), kind, limits_spec())),
            PERMISSIONS,
        ),
        prop::collection::vec(query(), 1..=24),
    )
        .prop_map(
            |(focus, centre, default_zone, addresses, units, permissions, queries)| Scenario {
                focus,
                centre,
                default_zone,
                addresses,
                units,
                permissions,
                queries,
            },
        )
}

impl Query {
    fn instant(&self, world: &World, centre: i64) -> i64 {
        let (permission, edge, days, delta) = match &self.when {
            When::Near(offset) => return centre + offset,
            When::Anywhere(instant) => return *instant,
            When::Edge {
                permission,
                edge,
                days,
                delta,
            } => (permission, *edge, *days, *delta),
        };
        // The edges of the asker's own permission, if it has one, else of any.
        let own = match self.asker {
            Asker::Holder(index) => world
                .permissions
                .iter()
                .find(|p| p.id == permission_id(index)),
            _ => None,
        };
        let any = (!world.permissions.is_empty())
            .then(|| &world.permissions[permission.index(world.permissions.len())]);
        let Some(permission) = own.or(any) else {
            return centre + delta;
        };
        let limits = &permission.limits;
        let minute = match edge {
            Edge::From => return limits.allowed_from.unwrap_or(centre) + delta,
            Edge::Until => return limits.allowed_until.unwrap_or(centre) + delta,
            Edge::WindowStart => limits.daily.map(|window| window.from_minute),
            Edge::WindowEnd => limits.daily.map(|window| window.until_minute),
        };
        let Some(minute) = minute else {
            return centre + delta;
        };
        let zone = world.zone_name(self.device(world));
        let date = Timestamp::from_second(centre + days * DAY)
            .unwrap()
            .in_tz(zone)
            .unwrap()
            .date();
        let hour = i8::try_from(minute / 60).unwrap();
        let minute = i8::try_from(minute % 60).unwrap();
        // A local time skipped by a daylight-saving change resolves to the instant after the
        // gap, a repeated one to its first occurrence.
        date.at(hour, minute, 0, 0)
            .in_tz(zone)
            .unwrap()
            .timestamp()
            .as_second()
            + delta
    }

    fn device(&self, world: &World) -> DeviceId {
        let covered = match (&self.asker, &self.device) {
            (&Asker::Holder(index), DeviceChoice::Covered(choice)) => world
                .permissions
                .iter()
                .find(|p| p.id == permission_id(index))
                .map(|p| world.scope_devices(&p.scope))
                .filter(|devices| !devices.is_empty())
                .map(|devices| *choice.get(&devices)),
            _ => None,
        };
        covered.unwrap_or(match self.device {
            DeviceChoice::Any(device) => DeviceId(device),
            DeviceChoice::Covered(choice) => DeviceId(choice.index(DEVICES as usize) as u64 + 1),
        })
    }
}

impl Scenario {
    fn world(&self) -> World {
        let addresses = self
            .addresses
            .iter()
            .enumerate()
            .map(|(index, (zone, boxes))| Address {
                id: AddressId(index as i64 + 1),
                name: format!("address {index}"),
                time_zone: zone.unwrap_or(ZONES[self.focus]).into(),
                boxes: boxes.clone(),
            })
            .collect();
        let units = self
            .units
            .iter()
            .enumerate()
            .map(|(index, (address, locks))| Unit {
                id: UnitId(format!("u{index}")),
                address: *address,
                name: format!("unit {index}"),
                locks: locks.clone(),
            })
            .collect();
        let centre = self.centre;
        let centre_minute = local_minute(centre, ZONES[self.focus]);
        let minute = |spec| match spec {
            MinuteSpec::Any(minute) => minute,
            MinuteSpec::NearCentre(offset) => u16::try_from(
                (centre_minute + offset).rem_euclid(i32::from(DailyWindow::MINUTES_PER_DAY)),
            )
            .unwrap(),
        };
        let permissions = self
            .permissions
            .iter()
            .enumerate()
            .filter_map(|(index, spec)| {
                let (scope, kind, limits) = spec.as_ref()?;
                Some(Permission {
                    id: permission_id(index),
                    person: PersonId(index as i64),
                    name: format!("permission {index}"),
                    scope: scope.clone(),
                    kind: *kind,
                    limits: Limits {
                        enabled: limits.enabled,
                        remote_allowed: limits.remote_allowed,
                        allowed_from: limits.from.map(|offset| centre + offset),
                        allowed_until: limits.until.map(|offset| centre + offset),
                        weekdays: Weekdays(limits.weekdays),
                        daily: limits.daily.map(|(from, until)| DailyWindow {
                            from_minute: minute(from),
                            until_minute: minute(until),
                        }),
                    },
                })
            })
            .collect();
        World {
            default_zone: self.default_zone,
            addresses,
            units,
            permissions,
        }
    }
}

const UNTRUSTED: ClockTrust = ClockTrust::Untrusted {
    reason: UntrustedReason::BeforeLastKnownTime,
};

fn trust(trusted: bool) -> ClockTrust {
    if trusted {
        ClockTrust::Trusted
    } else {
        UNTRUSTED
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn decide_matches_the_reference(scenario in scenario()) {
        let world = scenario.world();
        let rules = world.rules();
        for query in &scenario.queries {
            let now = query.instant(&world, scenario.centre);
            let device = query.device(&world);
            let action = if query.operate { Action::Operate } else { Action::View };
            let expected = world.decide(&query.asker, device, action, now, query.trusted);
            let actual = rules.decide(
                &query.asker.principal(),
                device,
                action,
                now,
                trust(query.trusted),
            );
            prop_assert_eq!(
                &actual, &expected,
                "{:?} on {} ({}) at {} ({:?})",
                query.asker, device.0, world.zone_name(device), now, action
            );
        }
    }

    #[test]
    fn scopes_match_the_reference(scenario in scenario(), extra in scope()) {
        let world = scenario.world();
        let rules = world.rules();
        let scopes = world.permissions.iter().map(|p| p.scope.clone()).chain([extra]);
        for scope in scopes {
            let expected = world.scope_devices(&scope);
            prop_assert_eq!(rules.devices_of(&scope), expected.clone());
            for device in (1..=DEVICES + 1).map(DeviceId) {
                prop_assert_eq!(rules.covers(&scope, device), expected.contains(&device));
            }
        }
        for device in (1..=DEVICES + 1).map(DeviceId) {
            prop_assert_eq!(rules.zone_of(device).iana_name(), Some(world.zone_name(device)));
        }
    }

    /// An untrusted clock never lets a holder through a time-limited permission, and never
    /// changes anything for unlimited permissions or rights-based principals.
    #[test]
    fn an_untrusted_clock_only_refuses_time_limits(scenario in scenario()) {
        let world = scenario.world();
        let rules = world.rules();
        for query in &scenario.queries {
            let now = scenario.centre;
            let device = query.device(&world);
            let principal = query.asker.principal();
            let trusted = rules.decide(&principal, device, Action::Operate, now, ClockTrust::Trusted);
            let untrusted = rules.decide(&principal, device, Action::Operate, now, UNTRUSTED);
            let time_limited = match &query.asker {
                Asker::Holder(index) => rules
                    .permission(&permission_id(*index))
                    .is_some_and(|p| p.limits.is_time_limited()),
                _ => false,
            };
            if untrusted == Decision::Deny(DenialReason::ClockUntrusted) {
                prop_assert!(time_limited);
            } else {
                prop_assert_eq!(untrusted, trusted);
            }
        }
    }
}

/// A step of the gateway's clock bookkeeping: read the time at a system clock reading, or
/// take a device's report.
#[derive(Debug, Clone)]
enum ClockStep {
    Read { system: i64 },
    Device { reported: i64, system: i64 },
}

fn clock_steps() -> impl Strategy<Value = Vec<ClockStep>> {
    // System clocks: plausible, set years back, 1970, or anything.
    let system = prop_oneof![
        BUILD_FLOOR_UNIX..BUILD_FLOOR_UNIX + 10 * 365 * DAY,
        BUILD_FLOOR_UNIX - 10 * 365 * DAY..BUILD_FLOOR_UNIX,
        0..DAY,
        any::<i64>(),
    ];
    let step = prop_oneof![
        4 => system.clone().prop_map(|system| ClockStep::Read { system }),
        1 => (system.clone(), system)
            .prop_map(|(reported, system)| ClockStep::Device { reported, system }),
    ];
    prop::collection::vec(step, 1..40)
}

proptest! {
    /// Whatever the system clock and the devices say, the time the gateway goes by never
    /// goes back, and a trusted time is never before the build floor.
    #[test]
    fn trusted_time_never_goes_back(
        last_known in prop_oneof![Just(0i64), BUILD_FLOOR_UNIX..BUILD_FLOOR_UNIX + 365 * DAY],
        steps in clock_steps(),
    ) {
        let mut time = TrustedTime::with_build_floor(last_known);
        let mut previous = last_known;
        for step in steps {
            match step {
                ClockStep::Read { system } => {
                    let (now, trust) = time.assess(system);
                    prop_assert!(now >= previous, "went back from {} to {}", previous, now);
                    prop_assert!(now >= BUILD_FLOOR_UNIX);
                    if trust.is_trusted() && system >= BUILD_FLOOR_UNIX && system >= previous {
                        prop_assert_eq!(now, system, "a plausible system clock is used as it is");
                    }
                    time.advance_last_known(now);
                    prop_assert!(time.persisted() <= time.last_known);
                    previous = now;
                }
                ClockStep::Device { reported, system } => {
                    let taken = time.observe_device_time(reported, system);
                    prop_assert_eq!(taken, reported >= BUILD_FLOOR_UNIX);
                }
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Explicit daylight-saving and weekday cases, instants written out.

fn at(utc: &str) -> i64 {
    utc.parse::<Timestamp>().unwrap().as_second()
}

/// One device (1) as the Box of an address in `zone`, one permission `p0` with `limits`.
fn single(zone: &str, limits: Limits) -> AccessRules {
    let address = Address {
        id: AddressId(1),
        name: "a".into(),
        time_zone: zone.into(),
        boxes: vec![DeviceId(1)],
    };
    let permission = Permission {
        id: permission_id(0),
        person: PersonId(1),
        name: "p".into(),
        scope: Scope::AddressBoxes {
            address: AddressId(1),
        },
        kind: PermissionKind::GatewayAccess,
        limits,
    };
    AccessRules::build(TimeZone::UTC, &[address], &[], [permission]).unwrap()
}

fn window(from: (u16, u16), until: (u16, u16)) -> Limits {
    Limits {
        daily: Some(DailyWindow {
            from_minute: from.0 * 60 + from.1,
            until_minute: until.0 * 60 + until.1,
        }),
        ..Limits::default()
    }
}

fn operate(rules: &AccessRules, now: i64) -> Decision {
    rules.decide(
        &Principal::Holder {
            permission: permission_id(0),
        },
        DeviceId(1),
        Action::Operate,
        now,
        ClockTrust::Trusted,
    )
}

/// The minutes from `start` for `hours` hours at which the holder may operate.
fn allowed_minutes(rules: &AccessRules, start: i64, hours: i64) -> Vec<i64> {
    (0..hours * 60)
        .map(|minute| start + minute * 60)
        .filter(|now| operate(rules, *now).is_allowed())
        .collect()
}

#[test]
fn spring_forward_hour_never_matches() {
    // Zurich, 2027-03-28: 02:00 CET does not happen, the clocks go to 03:00 CEST at 01:00 UTC.
    let rules = single("Europe/Zurich", window((2, 0), (3, 0)));
    let local_midnight = at("2027-03-27T23:00:00Z");
    assert!(allowed_minutes(&rules, local_midnight, 23).is_empty());
    // The day before, the window is an hour long: 01:00–02:00 UTC.
    let allowed = allowed_minutes(&rules, local_midnight - DAY, 24);
    assert_eq!(allowed.len(), 60);
    assert_eq!(allowed[0], at("2027-03-27T01:00:00Z"));
    assert_eq!(
        operate(&rules, at("2027-03-28T01:00:00Z")),
        Decision::Deny(DenialReason::OutsideDailyWindow)
    );
}

#[test]
fn fall_back_hour_matches_twice() {
    // Zurich, 2027-10-31: 02:30 happens at 00:30 UTC (CEST) and again at 01:30 UTC (CET).
    let rules = single("Europe/Zurich", window((2, 0), (3, 0)));
    assert_eq!(operate(&rules, at("2027-10-31T00:30:00Z")), Decision::Allow);
    assert_eq!(operate(&rules, at("2027-10-31T01:30:00Z")), Decision::Allow);
    assert_eq!(
        allowed_minutes(&rules, at("2027-10-30T22:00:00Z"), 25).len(),
        120
    );
    // New York, 2026-11-01: 01:30 at 05:30 UTC (EDT) and 06:30 UTC (EST).
    let rules = single("America/New_York", window((1, 30), (1, 31)));
    assert_eq!(
        allowed_minutes(&rules, at("2026-11-01T04:00:00Z"), 25),
        vec![at("2026-11-01T05:30:00Z"), at("2026-11-01T06:30:00Z")]
    );
}

#[test]
fn half_hour_shift_on_lord_howe() {
    // Lord Howe, 2026-10-04: 02:00 (+10:30) becomes 02:30 (+11) at 15:30 UTC the day before.
    let rules = single("Australia/Lord_Howe", window((2, 0), (2, 30)));
    assert!(allowed_minutes(&rules, at("2026-10-03T13:30:00Z"), 24).is_empty());
    let allowed = allowed_minutes(&rules, at("2026-10-02T13:30:00Z"), 24);
    assert_eq!(allowed.len(), 30);
    assert_eq!(allowed[0], at("2026-10-02T15:30:00Z"));
    // 02:30 itself happens: it is the first minute after the change.
    let rules = single("Australia/Lord_Howe", window((2, 30), (2, 31)));
    assert_eq!(operate(&rules, at("2026-10-03T15:30:00Z")), Decision::Allow);
}

#[test]
fn weekdays_turn_at_local_midnight() {
    let monday_only = Limits {
        weekdays: Weekdays(64),
        ..Limits::default()
    };
    let zurich = single("Europe/Zurich", monday_only.clone());
    let utc = single("UTC", monday_only);
    // Sunday 23:30 UTC is Monday 00:30 in Zurich (CET, +1).
    let sunday_late_utc = at("2026-11-29T23:30:00Z");
    assert_eq!(operate(&zurich, sunday_late_utc), Decision::Allow);
    assert_eq!(
        operate(&utc, sunday_late_utc),
        Decision::Deny(DenialReason::WrongWeekday)
    );
    // Monday 23:00 UTC is Tuesday 00:00 in Zurich.
    assert_eq!(
        operate(&zurich, at("2026-11-30T22:59:59Z")),
        Decision::Allow
    );
    assert_eq!(
        operate(&zurich, at("2026-11-30T23:00:00Z")),
        Decision::Deny(DenialReason::WrongWeekday)
    );
    assert_eq!(operate(&utc, at("2026-11-30T23:00:00Z")), Decision::Allow);
    assert_eq!(
        operate(&utc, at("2026-12-01T00:00:00Z")),
        Decision::Deny(DenialReason::WrongWeekday)
    );
}

#[test]
fn a_window_over_midnight_belongs_to_each_day_it_touches() {
    // 22:00–06:00 on Mondays: Monday night until midnight, and Monday's early morning; the
    // weekday is the one of the local date at the instant.
    let limits = Limits {
        weekdays: Weekdays(64),
        ..window((22, 0), (6, 0))
    };
    let rules = single("UTC", limits);
    assert_eq!(operate(&rules, at("2026-11-30T05:59:00Z")), Decision::Allow);
    assert_eq!(operate(&rules, at("2026-11-30T23:00:00Z")), Decision::Allow);
    assert_eq!(
        operate(&rules, at("2026-11-30T12:00:00Z")),
        Decision::Deny(DenialReason::OutsideDailyWindow)
    );
    assert_eq!(
        operate(&rules, at("2026-12-01T02:00:00Z")),
        Decision::Deny(DenialReason::WrongWeekday)
    );
}

#[test]
fn dates_are_inclusive_instants() {
    let from = at("2026-12-01T08:00:00Z");
    let until = at("2026-12-01T18:00:00Z");
    let rules = single(
        "Pacific/Chatham",
        Limits {
            allowed_from: Some(from),
            allowed_until: Some(until),
            ..Limits::default()
        },
    );
    assert_eq!(
        operate(&rules, from - 1),
        Decision::Deny(DenialReason::NotYetValid)
    );
    assert_eq!(operate(&rules, from), Decision::Allow);
    assert_eq!(operate(&rules, until), Decision::Allow);
    assert_eq!(
        operate(&rules, until + 1),
        Decision::Deny(DenialReason::Expired)
    );
}

#[test]
fn extreme_instants_do_not_panic() {
    let rules = single("Europe/Zurich", window((2, 0), (3, 0)));
    for now in [i64::MIN, i64::MAX, -1, 0] {
        assert!(!operate(&rules, now).is_allowed());
    }
}
