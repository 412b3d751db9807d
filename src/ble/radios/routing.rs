//! Which radio serves which device: smoothed signal strength per (device, radio), a margin
//! before another radio takes a device over, failover when the serving radio falls silent,
//! goes down or fails a connect, and installer pins. Pure: time comes in as an argument.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Duration;

use crate::ble::{DeviceAddress, RadioId};

/// How routing weighs what it hears.
#[derive(Debug, Clone, PartialEq)]
pub struct RoutingSettings {
    /// Another radio takes a device over only when it hears it this much better (dB).
    pub switch_margin_db: f64,
    /// Advertisements the smoothed signal averages over (exponentially weighted).
    pub rssi_window: u16,
    /// A radio that has not heard a device for this long no longer serves it.
    pub silence: Duration,
    /// After a failed connect, the radio is the device's last choice for this long.
    pub failure_penalty: Duration,
}

impl Default for RoutingSettings {
    fn default() -> Self {
        Self {
            switch_margin_db: 6.0,
            rssi_window: 8,
            silence: Duration::from_secs(15),
            failure_penalty: Duration::from_secs(60),
        }
    }
}

impl RoutingSettings {
    fn smoothing(&self) -> f64 {
        2.0 / (f64::from(self.rssi_window.max(1)) + 1.0)
    }
}

/// Why a device is served by the radio it is served by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteReason {
    /// The installer pinned the device to this radio.
    Pinned,
    /// The first radio that heard it, or the strongest when the route was chosen.
    Strongest,
    /// This radio heard it better than the previous one by more than the margin.
    Stronger { previous: RadioId },
    /// The previous radio fell silent, went down or failed a connect.
    Failover {
        previous: RadioId,
        why: FailoverCause,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailoverCause {
    Silent,
    RadioDown,
    ConnectFailed,
}

impl std::fmt::Display for RouteReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RouteReason::Pinned => f.write_str("pinned by the installer"),
            RouteReason::Strongest => f.write_str("hears it best"),
            RouteReason::Stronger { previous } => {
                write!(f, "hears it better than {previous} by more than the margin")
            }
            RouteReason::Failover { previous, why } => {
                let why = match why {
                    FailoverCause::Silent => "stopped hearing it",
                    FailoverCause::RadioDown => "went down",
                    FailoverCause::ConnectFailed => "failed to connect",
                };
                write!(f, "took over: {previous} {why}")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
struct Signal {
    smoothed: f64,
    last: i16,
    heard_at: Duration,
}

#[derive(Debug, Default)]
struct DeviceRoute {
    signals: BTreeMap<RadioId, Signal>,
    serving: Option<(RadioId, RouteReason)>,
    /// Radios whose last connect failed, until when they are the last choice.
    failed_until: BTreeMap<RadioId, Duration>,
}

/// One radio's view of a device, for status and `scan`.
#[derive(Debug, Clone, PartialEq)]
pub struct HearingReport {
    pub radio: RadioId,
    /// Smoothed signal strength (dBm).
    pub rssi: f64,
    /// The last advertisement's signal strength.
    pub last_rssi: i16,
    pub heard_ago: Duration,
    /// The radio's last connect to the device failed lately.
    pub penalized: bool,
}

/// Where a device is routed and why.
#[derive(Debug, Clone, PartialEq)]
pub struct RouteReport {
    pub device: DeviceAddress,
    pub radio: Option<RadioId>,
    pub reason: Option<RouteReason>,
    /// Strongest first.
    pub heard_by: Vec<HearingReport>,
}

/// The routing table of a set of radios.
#[derive(Debug)]
pub struct Router {
    settings: RoutingSettings,
    /// Every radio, in configuration order (the order tried for devices nobody heard yet).
    radios: Vec<RadioId>,
    down: BTreeSet<RadioId>,
    pins: BTreeMap<DeviceAddress, RadioId>,
    devices: HashMap<DeviceAddress, DeviceRoute>,
}

impl Router {
    pub fn new(
        settings: RoutingSettings,
        radios: Vec<RadioId>,
        pins: BTreeMap<DeviceAddress, RadioId>,
    ) -> Self {
        Self {
            settings,
            radios,
            down: BTreeSet::new(),
            pins,
            devices: HashMap::new(),
        }
    }

    /// A radio heard the device's advertisement.
    pub fn heard(&mut self, device: &DeviceAddress, radio: &RadioId, rssi: i16, now: Duration) {
        let alpha = self.settings.smoothing();
        let route = self.devices.entry(device.clone()).or_default();
        route
            .signals
            .entry(radio.clone())
            .and_modify(|signal| {
                // After a silence the old average says nothing about where the device is now.
                let stale = now.saturating_sub(signal.heard_at) > self.settings.silence;
                signal.smoothed = if stale {
                    f64::from(rssi)
                } else {
                    signal.smoothed + alpha * (f64::from(rssi) - signal.smoothed)
                };
                signal.last = rssi;
                signal.heard_at = now;
            })
            .or_insert(Signal {
                smoothed: f64::from(rssi),
                last: rssi,
                heard_at: now,
            });
        self.update(device, now);
    }

    /// The radio serving the device now, if any radio can.
    pub fn serving(&mut self, device: &DeviceAddress, now: Duration) -> Option<RadioId> {
        self.update(device, now);
        self.devices
            .get(device)
            .and_then(|route| route.serving.as_ref())
            .map(|(radio, _)| radio.clone())
            .or_else(|| self.pins.get(device).cloned())
    }

    /// Whether an advertisement heard by `radio` should go on to the fleet: the serving
    /// radio's do; another radio's only while the serving one has not heard the device for
    /// `quiet` (a radio about to be replaced must not hide a state change meanwhile).
    pub fn forwards(
        &mut self,
        device: &DeviceAddress,
        radio: &RadioId,
        now: Duration,
        quiet: Duration,
    ) -> bool {
        let Some(serving) = self.serving(device, now) else {
            return true;
        };
        if &serving == radio {
            return true;
        }
        let serving_heard = self
            .devices
            .get(device)
            .and_then(|route| route.signals.get(&serving))
            .map(|signal| signal.heard_at);
        serving_heard.is_none_or(|at| now.saturating_sub(at) > quiet)
    }

    /// The radios to try for a connect, best first: the serving radio, the others that hear
    /// the device by strength, then radios that never heard it, then those whose last
    /// connect failed. Radios that are down are left out; a pinned device has only its pin.
    pub fn candidates(&mut self, device: &DeviceAddress, now: Duration) -> Vec<RadioId> {
        if let Some(pin) = self.pins.get(device) {
            return if self.down.contains(pin) {
                Vec::new()
            } else {
                vec![pin.clone()]
            };
        }
        self.update(device, now);
        let route = self.devices.get(device);
        let penalized = |radio: &RadioId| {
            route
                .and_then(|route| route.failed_until.get(radio))
                .is_some_and(|until| *until > now)
        };
        let mut order: Vec<RadioId> = Vec::new();
        if let Some((serving, _)) = route.and_then(|route| route.serving.as_ref()) {
            order.push(serving.clone());
        }
        let mut heard: Vec<(&RadioId, f64)> = route
            .map(|route| {
                route
                    .signals
                    .iter()
                    .map(|(radio, signal)| (radio, signal.smoothed))
                    .collect()
            })
            .unwrap_or_default();
        heard.sort_by(|a, b| b.1.total_cmp(&a.1));
        for (radio, _) in heard {
            if !order.contains(radio) {
                order.push(radio.clone());
            }
        }
        for radio in &self.radios {
            if !order.contains(radio) {
                order.push(radio.clone());
            }
        }
        order.retain(|radio| !self.down.contains(radio));
        let (fresh, failed): (Vec<_>, Vec<_>) = order.into_iter().partition(|r| !penalized(r));
        fresh.into_iter().chain(failed).collect()
    }

    /// Whether `radio` heard the device within the silence limit.
    pub fn hears(&self, device: &DeviceAddress, radio: &RadioId, now: Duration) -> bool {
        self.devices
            .get(device)
            .and_then(|route| route.signals.get(radio))
            .is_some_and(|signal| now.saturating_sub(signal.heard_at) <= self.settings.silence)
    }

    /// A connect through `radio` failed: another radio that hears the device takes over.
    pub fn connect_failed(&mut self, device: &DeviceAddress, radio: &RadioId, now: Duration) {
        let until = now + self.settings.failure_penalty;
        let route = self.devices.entry(device.clone()).or_default();
        route.failed_until.insert(radio.clone(), until);
        if route.serving.as_ref().is_some_and(|(r, _)| r == radio) {
            route.serving = None;
            let next = self.strongest_live(device, now);
            if let (Some(route), Some(next)) = (self.devices.get_mut(device), next) {
                route.serving = Some((
                    next,
                    RouteReason::Failover {
                        previous: radio.clone(),
                        why: FailoverCause::ConnectFailed,
                    },
                ));
            }
        }
    }

    /// A connect through `radio` worked: it serves the device from now on.
    pub fn connected(&mut self, device: &DeviceAddress, radio: &RadioId, now: Duration) {
        let down = &self.down;
        let route = self.devices.entry(device.clone()).or_default();
        route.failed_until.remove(radio);
        let previous = route.serving.take();
        let reason = match previous {
            Some((previous, reason)) if &previous == radio => reason,
            Some((previous, reason)) => {
                let why = if down.contains(&previous) {
                    FailoverCause::RadioDown
                } else if route.failed_until.get(&previous).is_some_and(|u| *u > now) {
                    FailoverCause::ConnectFailed
                } else {
                    // Connected elsewhere while the serving radio was neither down nor
                    // failing: its link slots were all taken. It still hears the device
                    // best and stays its route for the next connect.
                    route.serving = Some((previous, reason));
                    return;
                };
                RouteReason::Failover { previous, why }
            }
            None => RouteReason::Strongest,
        };
        route.serving = Some((radio.clone(), reason));
    }

    pub fn set_radio_up(&mut self, radio: &RadioId, up: bool) {
        if up {
            self.down.remove(radio);
        } else {
            self.down.insert(radio.clone());
        }
    }

    pub fn radio_up(&self, radio: &RadioId) -> bool {
        !self.down.contains(radio)
    }

    /// Every device some radio heard or that is pinned, with its route.
    pub fn report(&mut self, now: Duration) -> Vec<RouteReport> {
        let mut devices: BTreeSet<DeviceAddress> = self.devices.keys().cloned().collect();
        devices.extend(self.pins.keys().cloned());
        devices
            .into_iter()
            .map(|device| self.report_of(&device, now))
            .collect()
    }

    pub fn report_of(&mut self, device: &DeviceAddress, now: Duration) -> RouteReport {
        self.update(device, now);
        let pinned = self.pins.get(device).cloned();
        let route = self.devices.get(device);
        let mut heard_by: Vec<HearingReport> = route
            .map(|route| {
                route
                    .signals
                    .iter()
                    .filter(|(_, signal)| {
                        now.saturating_sub(signal.heard_at) <= self.settings.silence
                    })
                    .map(|(radio, signal)| HearingReport {
                        radio: radio.clone(),
                        rssi: signal.smoothed,
                        last_rssi: signal.last,
                        heard_ago: now.saturating_sub(signal.heard_at),
                        penalized: route
                            .failed_until
                            .get(radio)
                            .is_some_and(|until| *until > now),
                    })
                    .collect()
            })
            .unwrap_or_default();
        heard_by.sort_by(|a, b| b.rssi.total_cmp(&a.rssi));
        let (radio, reason) = match (pinned, route.and_then(|r| r.serving.clone())) {
            (Some(pin), _) => (Some(pin), Some(RouteReason::Pinned)),
            (None, Some((radio, reason))) => (Some(radio), Some(reason)),
            (None, None) => (None, None),
        };
        RouteReport {
            device: device.clone(),
            radio,
            reason,
            heard_by,
        }
    }

    /// Re-decides the device's serving radio from what is known at `now`.
    fn update(&mut self, device: &DeviceAddress, now: Duration) {
        if self.pins.contains_key(device) {
            return;
        }
        let Some(route) = self.devices.get(device) else {
            return;
        };
        let live = |radio: &RadioId| self.is_live(route, radio, now);
        let decision = match &route.serving {
            Some((serving, _)) if !live(serving) => {
                let why = if self.down.contains(serving) {
                    FailoverCause::RadioDown
                } else if route.failed_until.get(serving).is_some_and(|u| *u > now) {
                    FailoverCause::ConnectFailed
                } else {
                    FailoverCause::Silent
                };
                self.strongest_live(device, now).map(|next| {
                    (
                        next,
                        RouteReason::Failover {
                            previous: serving.clone(),
                            why,
                        },
                    )
                })
            }
            Some((serving, _)) => {
                let current = route.signals.get(serving).map(|s| s.smoothed);
                let best = self.strongest_live(device, now);
                match (best, current) {
                    (Some(best), Some(current)) if &best != serving => {
                        let best_rssi = route.signals.get(&best).map_or(f64::MIN, |s| s.smoothed);
                        (best_rssi >= current + self.settings.switch_margin_db).then(|| {
                            (
                                best,
                                RouteReason::Stronger {
                                    previous: serving.clone(),
                                },
                            )
                        })
                    }
                    _ => None,
                }
            }
            None => self
                .strongest_live(device, now)
                .map(|radio| (radio, RouteReason::Strongest)),
        };
        if let (Some(decision), Some(route)) = (decision, self.devices.get_mut(device)) {
            route.serving = Some(decision);
        }
    }

    fn is_live(&self, route: &DeviceRoute, radio: &RadioId, now: Duration) -> bool {
        !self.down.contains(radio)
            && route
                .failed_until
                .get(radio)
                .is_none_or(|until| *until <= now)
            && route
                .signals
                .get(radio)
                .is_some_and(|signal| now.saturating_sub(signal.heard_at) <= self.settings.silence)
    }

    fn strongest_live(&self, device: &DeviceAddress, now: Duration) -> Option<RadioId> {
        let route = self.devices.get(device)?;
        route
            .signals
            .iter()
            .filter(|(radio, _)| self.is_live(route, radio, now))
            .max_by(|a, b| a.1.smoothed.total_cmp(&b.1.smoothed))
            .map(|(radio, _)| radio.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn radio(name: &str) -> RadioId {
        RadioId(name.to_owned())
    }

    fn door() -> DeviceAddress {
        DeviceAddress("54:D2:72:00:00:01".to_owned())
    }

    fn router(radios: &[&str]) -> Router {
        Router::new(
            RoutingSettings::default(),
            radios.iter().map(|r| radio(r)).collect(),
            BTreeMap::new(),
        )
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn the_strongest_radio_serves_and_a_small_lead_does_not_move_the_device() {
        let mut router = router(&["a", "b"]);
        router.heard(&door(), &radio("a"), -70, secs(0));
        assert_eq!(router.serving(&door(), secs(0)), Some(radio("a")));
        // b is 4 dB better: inside the margin, a keeps serving.
        for t in 1..20 {
            router.heard(&door(), &radio("a"), -70, secs(t) / 2);
            router.heard(&door(), &radio("b"), -66, secs(t) / 2);
        }
        assert_eq!(router.serving(&door(), secs(10)), Some(radio("a")));
        // b pulls away by 10 dB: it takes over, and says why.
        for t in 20..60 {
            router.heard(&door(), &radio("a"), -76, secs(t) / 2);
            router.heard(&door(), &radio("b"), -66, secs(t) / 2);
        }
        assert_eq!(router.serving(&door(), secs(30)), Some(radio("b")));
        let report = router.report_of(&door(), secs(30));
        assert_eq!(
            report.reason,
            Some(RouteReason::Stronger {
                previous: radio("a")
            })
        );
        assert_eq!(report.heard_by[0].radio, radio("b"));
    }

    #[test]
    fn jitter_around_equal_strength_never_flaps() {
        let mut router = router(&["a", "b"]);
        let mut switches = 0;
        let mut serving = None;
        for t in 0..2000u64 {
            // ±5 dB of alternating noise on two radios at the same distance.
            let noise = if t % 2 == 0 { 5 } else { -5 };
            let now = Duration::from_millis(t * 250);
            router.heard(&door(), &radio("a"), -70 + noise, now);
            router.heard(&door(), &radio("b"), -70 - noise, now);
            let now_serving = router.serving(&door(), now);
            if serving.is_some() && now_serving != serving {
                switches += 1;
            }
            serving = now_serving;
        }
        assert_eq!(switches, 0);
    }

    #[test]
    fn a_silent_radio_hands_the_device_to_one_that_still_hears_it() {
        let mut router = router(&["a", "b"]);
        router.heard(&door(), &radio("a"), -60, secs(0));
        router.heard(&door(), &radio("b"), -80, secs(0));
        assert_eq!(router.serving(&door(), secs(1)), Some(radio("a")));
        for t in 1..30 {
            router.heard(&door(), &radio("b"), -80, secs(t));
        }
        assert_eq!(router.serving(&door(), secs(29)), Some(radio("b")));
        assert_eq!(
            router.report_of(&door(), secs(29)).reason,
            Some(RouteReason::Failover {
                previous: radio("a"),
                why: FailoverCause::Silent
            })
        );
    }

    #[test]
    fn a_failed_connect_moves_the_device_to_the_next_radio_and_tries_the_failed_one_last() {
        let mut router = router(&["a", "b", "c"]);
        router.heard(&door(), &radio("a"), -60, secs(0));
        router.heard(&door(), &radio("b"), -75, secs(0));
        assert_eq!(
            router.candidates(&door(), secs(0)),
            [radio("a"), radio("b"), radio("c")]
        );
        router.connect_failed(&door(), &radio("a"), secs(1));
        assert_eq!(router.serving(&door(), secs(1)), Some(radio("b")));
        assert_eq!(
            router.candidates(&door(), secs(1)),
            [radio("b"), radio("c"), radio("a")]
        );
        // Still stronger at a, but a failed lately: b keeps the device.
        router.heard(&door(), &radio("a"), -55, secs(2));
        assert_eq!(router.serving(&door(), secs(2)), Some(radio("b")));
        router.connected(&door(), &radio("b"), secs(3));
        assert_eq!(router.serving(&door(), secs(3)), Some(radio("b")));
    }

    #[test]
    fn a_device_connected_elsewhere_because_its_radio_was_full_keeps_its_route() {
        let mut router = router(&["a", "b"]);
        router.heard(&door(), &radio("a"), -60, secs(0));
        router.heard(&door(), &radio("b"), -75, secs(0));
        router.connected(&door(), &radio("b"), secs(1));
        let report = router.report_of(&door(), secs(1));
        assert_eq!(report.radio, Some(radio("a")));
        assert_eq!(report.reason, Some(RouteReason::Strongest));
        assert_eq!(router.candidates(&door(), secs(1))[0], radio("a"));
    }

    #[test]
    fn a_radio_that_goes_down_is_skipped_and_its_devices_move() {
        let mut router = router(&["a", "b"]);
        router.heard(&door(), &radio("a"), -60, secs(0));
        router.heard(&door(), &radio("b"), -80, secs(0));
        router.set_radio_up(&radio("a"), false);
        assert_eq!(router.serving(&door(), secs(1)), Some(radio("b")));
        assert_eq!(router.candidates(&door(), secs(1)), [radio("b")]);
        router.set_radio_up(&radio("a"), true);
        assert_eq!(router.candidates(&door(), secs(1)).len(), 2);
    }

    #[test]
    fn a_pinned_device_uses_its_pin_only() {
        let pins = BTreeMap::from([(door(), radio("b"))]);
        let mut router = Router::new(
            RoutingSettings::default(),
            vec![radio("a"), radio("b")],
            pins,
        );
        router.heard(&door(), &radio("a"), -50, secs(0));
        router.heard(&door(), &radio("b"), -90, secs(0));
        assert_eq!(router.serving(&door(), secs(0)), Some(radio("b")));
        assert_eq!(router.candidates(&door(), secs(0)), [radio("b")]);
        assert_eq!(
            router.report_of(&door(), secs(0)).reason,
            Some(RouteReason::Pinned)
        );
        assert!(router.forwards(&door(), &radio("b"), secs(0), secs(3)));
    }

    #[test]
    fn a_device_nobody_heard_is_tried_on_every_radio_in_order() {
        let mut router = router(&["a", "b"]);
        assert_eq!(
            router.candidates(&door(), secs(0)),
            [radio("a"), radio("b")]
        );
        assert_eq!(router.serving(&door(), secs(0)), None);
    }

    #[test]
    fn only_the_serving_radio_forwards_while_it_hears_the_device() {
        let mut router = router(&["a", "b"]);
        router.heard(&door(), &radio("a"), -60, secs(0));
        router.heard(&door(), &radio("b"), -70, secs(0));
        assert!(router.forwards(&door(), &radio("a"), secs(1), secs(3)));
        assert!(!router.forwards(&door(), &radio("b"), secs(1), secs(3)));
        // a has not heard it for longer than the quiet time: b's adverts go on.
        router.heard(&door(), &radio("b"), -70, secs(5));
        assert!(router.forwards(&door(), &radio("b"), secs(5), secs(3)));
    }
}
