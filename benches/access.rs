//! The access decision with a large building: 10 000 permissions over 100 devices, 20
//! addresses in several time zones and 500 residential units, mixed scopes and limits.
//! Each decision of a random principal (mostly holders, some accounts) on a random device at
//! a random instant is timed on its own; the percentiles are printed next to a baseline
//! measured in the same run with the same timer: a plain `HashMap<PermissionId, _>` lookup
//! of the same ids, and the timer's own cost.
//!
//! `cargo bench --bench access` runs the full measurement; without `--bench` (as
//! `cargo test --all-targets` runs it) a short smoke run.

use std::collections::HashMap;
use std::hint::black_box;
use std::time::Instant;

use jiff::tz::TimeZone;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

use nuki_edge::access::{
    AccessRules, AccountId, Action, Address, AddressId, Capability, ClockTrust, DailyWindow,
    DeviceId, Limits, Permission, PermissionId, PermissionKind, PersonId, Principal, Rights, Scope,
    Unit, UnitId, UntrustedReason, Weekdays,
};

const PERMISSIONS: usize = 10_000;
const DEVICES: u64 = 100;
const ADDRESSES: i64 = 20;
const UNITS: usize = 500;
/// Two Boxes per address; the other devices are the units' Smart Locks.
const BOXES_PER_ADDRESS: u64 = 2;
const DECISIONS: usize = 200_000;
const SMOKE_DECISIONS: usize = 2_000;
const TARGET_P99_NS: u64 = 5_000;
const ZONES: [&str; 8] = [
    "Europe/Zurich",
    "America/New_York",
    "Australia/Lord_Howe",
    "Pacific/Chatham",
    "America/Sao_Paulo",
    "UTC",
    "Asia/Tokyo",
    "Europe/London",
];
/// 2026-11-01T00:00:00Z and two years after: where the instants and dates fall.
const START: i64 = 1_793_491_200;
const SPAN: i64 = 2 * 365 * 86_400;

struct Building {
    addresses: Vec<Address>,
    units: Vec<Unit>,
    permissions: Vec<Permission>,
}

fn building(rng: &mut ChaCha8Rng, permissions: usize) -> Building {
    let addresses: Vec<Address> = (0..ADDRESSES)
        .map(|index| Address {
            id: AddressId(index + 1),
            name: format!("address {index}"),
            time_zone: ZONES[index as usize % ZONES.len()].into(),
            boxes: (0..BOXES_PER_ADDRESS)
                .map(|n| DeviceId(index as u64 * BOXES_PER_ADDRESS + n + 1))
                .collect(),
        })
        .collect();
    let first_lock = ADDRESSES as u64 * BOXES_PER_ADDRESS + 1;
    let units: Vec<Unit> = (0..UNITS)
        .map(|index| {
            let lock = first_lock + index as u64;
            Unit {
                id: UnitId(format!("{index:024x}")),
                address: AddressId(index as i64 % ADDRESSES + 1),
                name: format!("unit {index}"),
                // As many units with a Smart Lock as there are locks left; the others
                // reach only their address's Boxes.
                locks: if lock <= DEVICES {
                    vec![DeviceId(lock)]
                } else {
                    vec![]
                },
            }
        })
        .collect();
    let permissions = (0..permissions)
        .map(|index| {
            let scope = match rng.gen_range(0..100) {
                0..60 => Scope::Unit {
                    unit: units[rng.gen_range(0..UNITS)].id.clone(),
                },
                60..85 => Scope::AddressBoxes {
                    address: AddressId(rng.gen_range(1..=ADDRESSES)),
                },
                _ => Scope::Device {
                    device: DeviceId(rng.gen_range(1..=DEVICES)),
                },
            };
            Permission {
                id: permission_id(index),
                person: PersonId(index as i64),
                name: format!("permission {index}"),
                scope,
                kind: PermissionKind::GatewayAccess,
                limits: limits(rng),
            }
        })
        .collect();
    Building {
        addresses,
        units,
        permissions,
    }
}

fn permission_id(index: usize) -> PermissionId {
    PermissionId(format!("{index:024x}"))
}

fn limits(rng: &mut ChaCha8Rng) -> Limits {
    if rng.gen_bool(0.4) {
        return Limits::default();
    }
    let from = START + rng.gen_range(0..SPAN);
    Limits {
        enabled: rng.gen_bool(0.95),
        allowed_from: rng.gen_bool(0.5).then_some(from),
        allowed_until: rng.gen_bool(0.5).then(|| from + rng.gen_range(0..SPAN / 2)),
        weekdays: Weekdays(if rng.gen_bool(0.3) {
            127
        } else {
            rng.gen_range(0..=127)
        }),
        daily: rng.gen_bool(0.6).then(|| DailyWindow {
            // Wrapping over midnight when from > until.
            from_minute: rng.gen_range(0..DailyWindow::MINUTES_PER_DAY),
            until_minute: rng.gen_range(0..DailyWindow::MINUTES_PER_DAY),
        }),
        remote_allowed: rng.gen_bool(0.95),
    }
}

struct Query {
    principal: Principal,
    device: DeviceId,
    action: Action,
    now: i64,
    trust: ClockTrust,
    /// The permission id the baseline looks up.
    id: PermissionId,
}

fn queries(rng: &mut ChaCha8Rng, count: usize, permissions: usize) -> Vec<Query> {
    (0..count)
        .map(|_| {
            // A few ids that don't exist (revoked permissions).
            let id = permission_id(rng.gen_range(0..permissions + permissions / 50));
            let principal = match rng.gen_range(0..100) {
                0..80 => Principal::Holder {
                    permission: id.clone(),
                },
                80..95 => Principal::Account {
                    id: AccountId(2),
                    owner: false,
                    rights: Rights::of(&[Capability::ViewActivityLog, Capability::OperateDoors]),
                },
                _ => Principal::bridge_api(),
            };
            Query {
                principal,
                device: DeviceId(rng.gen_range(1..=DEVICES)),
                action: if rng.gen_bool(0.9) {
                    Action::Operate
                } else {
                    Action::View
                },
                now: START + rng.gen_range(0..SPAN),
                trust: if rng.gen_bool(0.95) {
                    ClockTrust::Trusted
                } else {
                    ClockTrust::Untrusted {
                        reason: UntrustedReason::BeforeLastKnownTime,
                    }
                },
                id,
            }
        })
        .collect()
}

/// Nanoseconds per call of `f` on each query, one timing each, sorted.
fn time_each(queries: &[Query], mut f: impl FnMut(&Query)) -> Vec<u64> {
    // Warm the caches and the branch predictors once.
    queries.iter().for_each(&mut f);
    let mut samples: Vec<u64> = queries
        .iter()
        .map(|query| {
            let start = Instant::now();
            f(query);
            u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
        })
        .collect();
    samples.sort_unstable();
    samples
}

fn percentile(sorted: &[u64], per_mille: usize) -> u64 {
    let rank = (sorted.len() * per_mille / 1000).min(sorted.len() - 1);
    sorted[rank]
}

fn report(name: &str, sorted: &[u64]) -> u64 {
    let p99 = percentile(sorted, 990);
    println!(
        "{name:<28} p50 {:>6} ns   p99 {:>6} ns   p999 {:>6} ns   max {:>8} ns",
        percentile(sorted, 500),
        p99,
        percentile(sorted, 999),
        sorted[sorted.len() - 1],
    );
    p99
}

fn main() {
    let full = std::env::args().any(|arg| arg == "--bench");
    let decisions = if full { DECISIONS } else { SMOKE_DECISIONS };
    let mut rng = ChaCha8Rng::seed_from_u64(8);

    let started = Instant::now();
    let building = building(&mut rng, PERMISSIONS);
    let baseline_map: HashMap<PermissionId, Permission> = building
        .permissions
        .iter()
        .map(|permission| (permission.id.clone(), permission.clone()))
        .collect();
    let rules = match AccessRules::build(
        TimeZone::UTC,
        &building.addresses,
        &building.units,
        building.permissions,
    ) {
        Ok(rules) => rules,
        Err(error) => panic!("the bench building is valid: {error}"),
    };
    let built = started.elapsed();
    let queries = queries(&mut rng, decisions, PERMISSIONS);

    let timer = time_each(&queries, |query| {
        black_box(query);
    });
    let baseline = time_each(&queries, |query| {
        black_box(baseline_map.get(black_box(&query.id)));
    });
    let mut allowed = 0usize;
    let decide = time_each(&queries, |query| {
        let decision = rules.decide(
            black_box(&query.principal),
            query.device,
            query.action,
            query.now,
            query.trust,
        );
        allowed += usize::from(black_box(decision).is_allowed());
    });

    println!(
        "access decision: {PERMISSIONS} permissions, {DEVICES} devices, {ADDRESSES} addresses, \
         {UNITS} units; {decisions} decisions timed one by one{}",
        if full { "" } else { " (smoke run)" }
    );
    println!("rules built in {} ms", built.as_millis());
    report("timer alone", &timer);
    let baseline_p99 = report("baseline HashMap lookup", &baseline);
    let p99 = report("decide", &decide);
    println!(
        "decide p99 / baseline p99: {:.1}x; allowed {:.1} % (warm-up run included); \
         target p99 < {TARGET_P99_NS} ns: {}",
        p99 as f64 / baseline_p99.max(1) as f64,
        allowed as f64 * 100.0 / (2 * decisions) as f64,
        if p99 < TARGET_P99_NS { "met" } else { "MISSED" }
    );
}
