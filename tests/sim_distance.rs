//! Several simulated radios over one building: signal by distance, loss at the edge of range,
//! one central per device whichever radio it came through, radios switched off.

use std::time::Duration;

use nuki_edge::ble::sim::{
    PathLoss, Position, RadioModel, SimControl, SimDeviceSpec, SimError, SimKind, SimRadioSpec,
    SimTransport,
};
use nuki_edge::ble::{BleError, BleTransport, DeviceAddress, RadioId};
use tokio::time::Instant;

/// Shorter than one advertisement interval: a scan hears each device at most once.
const ONE_ADVERT: Duration = Duration::from_millis(100);

fn lock(address: &str, nuki_id: u32, position: Option<Position>) -> SimDeviceSpec {
    let mut spec = SimDeviceSpec::new(address, address, nuki_id, SimKind::SmartLock4);
    spec.position = position;
    spec
}

fn radio(name: &str) -> RadioId {
    RadioId(name.into())
}

fn device(address: &str) -> DeviceAddress {
    DeviceAddress(address.into())
}

/// Radios "a" at the origin and "b" 60 m along x; the given devices.
fn two_radios(devices: Vec<SimDeviceSpec>) -> (SimTransport, SimTransport, SimControl) {
    let (radios, control) = SimTransport::with_radios(
        devices,
        RadioModel::default(),
        vec![
            SimRadioSpec::new("a", Position::new(0.0, 0.0, 0.0)),
            SimRadioSpec::new("b", Position::new(60.0, 0.0, 0.0)),
        ],
    );
    let mut radios = radios.into_iter();
    let (Some((a_name, a)), Some((b_name, b)), None) =
        (radios.next(), radios.next(), radios.next())
    else {
        panic!("two radios expected");
    };
    assert_eq!((a_name, b_name), (radio("a"), radio("b")));
    (a, b, control)
}

async fn heard(transport: &SimTransport, address: &DeviceAddress) -> Option<i16> {
    transport
        .scan(ONE_ADVERT)
        .await
        .unwrap()
        .into_iter()
        .find(|advert| advert.address.as_ref() == Some(address))
        .and_then(|advert| advert.rssi)
}

#[tokio::test(start_paused = true)]
async fn rssi_falls_with_distance() {
    let door = device("door");
    let (a, _b, control) = two_radios(vec![lock("door", 1, Some(Position::new(1.0, 0.0, 0.0)))]);
    assert_eq!(control.rssi_at(&radio("a"), &door).unwrap(), Some(-50));
    let mut previous = i16::MAX;
    for metres in [1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 40.0] {
        control
            .move_device(&door, Position::new(metres, 0.0, 0.0))
            .unwrap();
        let rssi = control.rssi_at(&radio("a"), &door).unwrap().unwrap();
        assert!(
            rssi < previous,
            "{rssi} dBm at {metres} m, {previous} closer"
        );
        previous = rssi;
        // What the radio reports is the model's value within the jitter (when heard at all).
        if let Some(reported) = heard(&a, &door).await {
            assert!((reported - rssi).abs() <= 3, "{reported} vs {rssi}");
        }
    }
    // The same distance one floor up is quieter: a slab is in the way.
    control
        .move_device(&door, Position::new(0.0, 0.0, 3.0))
        .unwrap();
    let upstairs = control.rssi_at(&radio("a"), &door).unwrap().unwrap();
    control
        .move_device(&door, Position::new(3.0, 0.0, 0.0))
        .unwrap();
    let same_floor = control.rssi_at(&radio("a"), &door).unwrap().unwrap();
    assert_eq!(upstairs, same_floor - 10);
}

#[tokio::test(start_paused = true)]
async fn a_far_device_is_heard_by_the_near_radio_only() {
    let near_a = device("near-a");
    let nowhere = device("no-position");
    let (a, b, control) = two_radios(vec![
        lock("near-a", 1, Some(Position::new(5.0, 0.0, 0.0))),
        lock("no-position", 2, None),
    ]);
    assert!(heard(&a, &near_a).await.is_some());
    assert_eq!(heard(&b, &near_a).await, None);
    assert_eq!(control.rssi_at(&radio("b"), &near_a).unwrap(), None);
    // A device without a position is heard everywhere at its spec's strength.
    for transport in [&a, &b] {
        let rssi = heard(transport, &nowhere).await.unwrap();
        assert!((-65..=-59).contains(&rssi), "rssi {rssi}");
    }
    assert_eq!(control.rssi_at(&radio("b"), &nowhere).unwrap(), Some(-62));
    // Connecting through a radio that does not hear the device waits out the timeout.
    let started = Instant::now();
    assert!(matches!(
        b.connect(&near_a).await,
        Err(BleError::ConnectFailed { .. })
    ));
    assert_eq!(started.elapsed(), RadioModel::default().connect_timeout);
    assert!(a.connect(&near_a).await.is_ok());
    // Moving the device next to b turns the picture around.
    control
        .move_device(&near_a, Position::new(58.0, 0.0, 0.0))
        .unwrap();
    assert_eq!(heard(&a, &near_a).await, None);
    assert!(heard(&b, &near_a).await.is_some());
    assert!(matches!(
        control.rssi_at(&radio("c"), &near_a),
        Err(SimError::UnknownRadio(_))
    ));
}

/// Out of `attempts` scans of one advertisement and connect attempts, how many failed.
async fn losses_at(metres: f64, attempts: u32) -> (u32, u32) {
    let door = device("door");
    let (a, _b, _control) =
        two_radios(vec![lock("door", 1, Some(Position::new(metres, 0.0, 0.0)))]);
    let mut missed = 0;
    for _ in 0..attempts {
        if heard(&a, &door).await.is_none() {
            missed += 1;
        }
    }
    let mut failed = 0;
    for _ in 0..attempts {
        match a.connect(&door).await {
            Ok(mut link) => link.disconnect().await.unwrap(),
            Err(BleError::ConnectFailed { .. }) => failed += 1,
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    (missed, failed)
}

#[tokio::test(start_paused = true)]
async fn loss_grows_with_distance() {
    let attempts = 200;
    let model = PathLoss::default();
    let origin = Position::default();
    let mut previous = (0, 0);
    for metres in [5.0, 20.0, 35.0] {
        let (missed, failed) = losses_at(metres, attempts).await;
        let expected = model.loss_probability(model.rssi(origin, Position::new(metres, 0.0, 0.0)));
        for (count, what) in [(missed, "adverts missed"), (failed, "connects failed")] {
            let share = f64::from(count) / f64::from(attempts);
            assert!(
                (share - expected).abs() < 0.12,
                "{what} at {metres} m: {share}, model {expected}"
            );
        }
        assert!(
            missed >= previous.0 && failed >= previous.1,
            "at {metres} m"
        );
        previous = (missed, failed);
    }
    assert_eq!(losses_at(5.0, 50).await, (0, 0));
    assert!(previous.0 > attempts / 2 && previous.1 > attempts / 2);
    // Seeded: the same building loses the same packets.
    assert_eq!(losses_at(20.0, 50).await, losses_at(20.0, 50).await);
}

#[tokio::test(start_paused = true)]
async fn one_central_per_device_across_radios() {
    let door = device("door");
    let (radios, _control) = SimTransport::with_radios(
        vec![lock("door", 1, Some(Position::new(5.0, 0.0, 0.0)))],
        RadioModel::default(),
        vec![
            SimRadioSpec::new("a", Position::new(0.0, 0.0, 0.0)),
            SimRadioSpec::new("b", Position::new(10.0, 0.0, 0.0)),
        ],
    );
    let [(_, a), (_, b)] = <[_; 2]>::try_from(radios).unwrap();
    let mut link = a.connect(&door).await.unwrap();
    let started = Instant::now();
    match b.connect(&door).await {
        Err(BleError::ConnectFailed { reason, .. }) => assert!(reason.contains("busy"), "{reason}"),
        other => panic!("busy expected, got {:?}", other.map(|_| ())),
    }
    assert_eq!(started.elapsed(), Duration::ZERO);
    link.disconnect().await.unwrap();
    assert!(b.connect(&door).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn a_radio_switched_off_hears_nothing_and_drops_its_links() {
    let door = device("door");
    let gate = device("gate");
    let (radios, control) = SimTransport::with_radios(
        vec![
            lock("door", 1, Some(Position::new(2.0, 0.0, 0.0))),
            lock("gate", 2, Some(Position::new(8.0, 0.0, 0.0))),
        ],
        RadioModel::default(),
        vec![
            SimRadioSpec::new("a", Position::new(0.0, 0.0, 0.0)),
            SimRadioSpec::new("b", Position::new(10.0, 0.0, 0.0)),
        ],
    );
    let [(_, a), (_, b)] = <[_; 2]>::try_from(radios).unwrap();
    let mut feed = a.advertisements().await.unwrap();
    assert!(feed.recv().await.is_some());
    let mut through_a = a.connect(&door).await.unwrap();
    let mut through_b = b.connect(&gate).await.unwrap();

    control.set_radio_up(&radio("a"), false).unwrap();
    assert_eq!(
        through_a.next_indication().await,
        Err(BleError::Disconnected)
    );
    assert!(!control.snapshot(&door).unwrap().connected);
    assert!(a.scan(Duration::from_secs(1)).await.unwrap().is_empty());
    while feed.try_recv().is_ok() {}
    assert!(
        tokio::time::timeout(Duration::from_secs(5), feed.recv())
            .await
            .is_err(),
        "a radio that is off hears nothing"
    );
    assert_eq!(control.rssi_at(&radio("a"), &door).unwrap(), None);
    let started = Instant::now();
    assert!(matches!(a.connect(&door).await, Err(BleError::Adapter(_))));
    assert_eq!(started.elapsed(), Duration::ZERO);
    // The other radio carries on, its link included.
    assert!(control.snapshot(&gate).unwrap().connected);
    through_b.disconnect().await.unwrap();
    assert!(b.connect(&door).await.is_ok());

    control.set_radio_up(&radio("a"), true).unwrap();
    assert!(feed.recv().await.is_some());
    assert!(a.connect(&gate).await.is_ok());
    assert!(matches!(
        control.set_radio_up(&radio("c"), false),
        Err(SimError::UnknownRadio(_))
    ));
}

fn demo() -> nuki_edge::config::Config {
    let config = nuki_edge::config::Config::parse(
        include_str!("../config/demo.toml"),
        std::path::Path::new("demo.toml"),
        std::collections::HashMap::new(),
    )
    .unwrap();
    config.validate().unwrap();
    config
}

#[tokio::test(start_paused = true)]
async fn the_demo_building_needs_both_radios_and_each_door_has_a_good_one() {
    let mut config = demo();
    let dir = tempfile::tempdir().unwrap();
    config.sim.state_path = Some(dir.path().join("sim.json"));
    let (radios, control) = nuki_edge::app::backend::sim_radios(&config);
    let names: Vec<RadioId> = radios.iter().map(|(name, _)| name.clone()).collect();
    assert_eq!(names, [radio("entrance"), radio("stairwell")]);
    let model = PathLoss::default();
    let mut missed_by = [0; 2];
    for address in control.addresses() {
        let heard: Vec<Option<i16>> = names
            .iter()
            .map(|name| control.rssi_at(name, &address).unwrap())
            .collect();
        let best = heard.iter().flatten().max().copied();
        assert!(
            best.is_some_and(|rssi| f64::from(rssi) >= model.lossless_from),
            "{address} heard at {heard:?}"
        );
        for (missed, rssi) in missed_by.iter_mut().zip(&heard) {
            if rssi.is_none() {
                *missed += 1;
            }
        }
    }
    assert!(missed_by.iter().all(|missed| *missed > 0), "{missed_by:?}");
    // Without radios, the one radio hears every device, positions or not.
    config.sim.radios.clear();
    let (radios, _control) = nuki_edge::app::backend::sim_radios(&config);
    assert_eq!(radios.len(), 1);
    assert_eq!(radios[0].0, radio(nuki_edge::app::backend::SIM_RADIO));
    assert_eq!(radios[0].1.scan(ONE_ADVERT).await.unwrap().len(), 8);
}

#[tokio::test(start_paused = true)]
async fn the_gateways_set_of_radios_hears_the_demo_by_distance() {
    let mut config = demo();
    let dir = tempfile::tempdir().unwrap();
    config.sim.state_path = Some(dir.path().join("sim.json"));
    let backend = nuki_edge::app::backend::open(&config).await.unwrap();
    let adverts = backend
        .transport
        .scan(Duration::from_secs(2))
        .await
        .unwrap();
    let heard_by = |address: &str| -> Vec<RadioId> {
        adverts
            .iter()
            .find(|advert| advert.address == Some(device(address)))
            .map(|advert| advert.heard_by.iter().map(|h| h.radio.clone()).collect())
            .unwrap_or_default()
    };
    // A street door, the first floor (both, the nearer first) and the penthouse.
    assert_eq!(heard_by("54:D2:72:4E:00:01"), [radio("entrance")]);
    assert_eq!(
        heard_by("54:D2:72:2A:00:11"),
        [radio("entrance"), radio("stairwell")]
    );
    assert_eq!(heard_by("54:D2:72:5A:00:31"), [radio("stairwell")]);
}
