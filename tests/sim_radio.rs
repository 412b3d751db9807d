//! The simulated transport: radio timing, fragments, subscriptions, faults and adverts, under a
//! paused tokio clock.

mod common;

use std::time::Duration;

use common::sim::{link_client::*, messages::*};
use nuki_edge::ble::sim::{Fault, RadioModel, SimKind};
use nuki_edge::ble::{BleError, BleTransport, DeviceAddress};
use nuki_edge::nuki::advert;
use nuki_edge::nuki::command::CommandId;
use nuki_edge::nuki::enums::{
    DeviceLockState, ErrorCode, IdType, LockAction, LockState, NukiState, StatusCode,
};
use nuki_edge::nuki::frame;
use nuki_edge::nuki::messages::{Message, Proof, SecurityPin};
use nuki_edge::nuki::uuids::ServiceFamily;
use tokio::time::Instant;

#[tokio::test(start_paused = true)]
async fn lock_action_over_the_radio_takes_motor_time() {
    let (transport, control) = building(&[SimKind::SmartLock4], RadioModel::default());
    let started = Instant::now();
    let mut client = LinkClient::connect(&transport, &address()).await;
    // Connect time plus three CCCD writes of one interval each.
    assert_eq!(started.elapsed(), Duration::from_millis(300 + 3 * 30));
    client.pair_as(&control, &address(), IdType::Bridge).await;
    client.lock_action(LockAction::Lock).await;
    assert_eq!(
        client.recv().await.unwrap(),
        Message::Status(StatusCode::Accepted)
    );
    let locking = client.recv().await.unwrap();
    assert_eq!(lock_state(&locking), Some(LockState::Locking.to_u8()));
    let moving_since = Instant::now();
    let locked = client.recv().await.unwrap();
    assert_eq!(lock_state(&locked), Some(LockState::Locked.to_u8()));
    let motor = moving_since.elapsed();
    assert!(
        motor >= Duration::from_millis(1400) && motor <= Duration::from_millis(1700),
        "motor took {motor:?}"
    );
    assert_eq!(
        client.recv().await.unwrap(),
        Message::Status(StatusCode::Complete)
    );
    assert_eq!(
        control.snapshot(&address()).unwrap().lock_state,
        LockState::Locked.to_u8()
    );
    // Every indication fits the default ATT payload.
    assert!(client.fragments.iter().all(|(_, len, _)| *len <= 20));
    // Busy while moving: a second action is refused.
    client.lock_action(LockAction::Unlock).await;
    assert_eq!(
        client.recv().await.unwrap(),
        Message::Status(StatusCode::Accepted)
    );
    let unlocking = client.recv().await.unwrap();
    assert_eq!(lock_state(&unlocking), Some(LockState::Unlocking.to_u8()));
    client.lock_action(LockAction::Lock).await;
    assert_eq!(
        client.recv().await.unwrap(),
        error(ErrorCode::KErrorBusy, CommandId::LockAction)
    );
}

#[tokio::test(start_paused = true)]
async fn messages_arrive_as_twenty_byte_indications_one_interval_apart() {
    let (transport, control) = building(&[SimKind::SmartLock4], RadioModel::default());
    let mut client = LinkClient::connect(&transport, &address()).await;
    client.pair_as(&control, &address(), IdType::App).await;
    client.fragments.clear();
    let started = Instant::now();
    client.request_states().await;
    let (_, message) = client.recv_raw(WAIT).await.unwrap();
    // 27-byte states: 30 ADATA + 16 tag + 8 PDATA overhead + 27 = 81 bytes.
    assert_eq!(message.len(), 81);
    let lens: Vec<usize> = client.fragments.iter().map(|(_, len, _)| *len).collect();
    assert_eq!(lens, [20, 20, 20, 20, 1]);
    let arrivals: Vec<Duration> = client
        .fragments
        .iter()
        .map(|(_, _, at)| at.duration_since(started))
        .collect();
    // The 56-byte request takes three intervals; each fragment one more.
    let expected: Vec<Duration> = (4..=8).map(|n| Duration::from_millis(30 * n)).collect();
    assert_eq!(arrivals, expected);

    // With a large MTU the same message is one indication.
    let (transport, control) = building(
        &[SimKind::SmartLock4],
        RadioModel {
            fragment_len: 512,
            ..RadioModel::default()
        },
    );
    let mut client = LinkClient::connect(&transport, &address()).await;
    client.pair_as(&control, &address(), IdType::App).await;
    client.fragments.clear();
    client.request_states().await;
    client.recv_raw(WAIT).await.unwrap();
    assert_eq!(client.fragments.len(), 1);
    assert_eq!(client.fragments[0].1, 81);
}

#[tokio::test(start_paused = true)]
async fn indications_on_unsubscribed_characteristics_are_lost() {
    let (transport, control) = building(&[SimKind::SmartLock2], RadioModel::default());
    let mut client = LinkClient::connect(&transport, &address()).await;
    client.pair_as(&control, &address(), IdType::App).await;
    let (key, auth_id) = (client.key.clone(), client.auth_id);
    client.link.disconnect().await.unwrap();
    drop(client);
    // Reconnect and forget to enable indications on USDIO.
    let mut client = LinkClient::connect_unsubscribed(&transport, &address()).await;
    client.key = key;
    client.auth_id = auth_id;
    client
        .link
        .subscribe(client.chars.keyturner_gdio)
        .await
        .unwrap();
    client.request_states().await;
    assert!(matches!(
        client.recv_raw(Duration::from_secs(10)).await,
        Err(Silence::Timeout)
    ));
    client
        .link
        .subscribe(client.chars.keyturner_usdio)
        .await
        .unwrap();
    assert_eq!(client.states().await.nuki_state, NukiState::DoorMode);
    // Writes to a characteristic the device lacks fail at once.
    let opener_usdio = ServiceFamily::Opener.characteristics().keyturner_usdio;
    assert_eq!(
        client.link.write(opener_usdio, &[0]).await,
        Err(BleError::NoSuchCharacteristic(opener_usdio))
    );
}

#[tokio::test(start_paused = true)]
async fn one_central_at_a_time_and_out_of_range_devices() {
    let (transport, control) = building(
        &[SimKind::SmartLock4, SimKind::Opener],
        RadioModel::default(),
    );
    let opener = DeviceAddress("sim-2".into());
    let mut client = LinkClient::connect(&transport, &address()).await;
    assert!(matches!(
        transport.connect(&address()).await,
        Err(BleError::ConnectFailed { .. })
    ));
    assert!(matches!(
        transport.connect(&DeviceAddress("nowhere".into())).await,
        Err(BleError::NotFound(_))
    ));
    let adverts = transport.scan(Duration::from_secs(1)).await.unwrap();
    assert_eq!(adverts.len(), 2);
    // Leaving range drops the link and silences the device.
    control.set_in_range(&address(), false).unwrap();
    assert!(matches!(
        client.recv_raw(WAIT).await,
        Err(Silence::Link(BleError::Disconnected))
    ));
    let adverts = transport.scan(Duration::from_secs(1)).await.unwrap();
    let names: Vec<_> = adverts
        .iter()
        .filter_map(|a| a.local_name.clone())
        .collect();
    assert_eq!(names, ["Nuki_Opener_11223345"]);
    assert!(matches!(
        transport.connect(&address()).await,
        Err(BleError::ConnectFailed { .. })
    ));
    control.set_in_range(&address(), true).unwrap();
    // A one-shot fault: the next attempt fails, the one after works.
    control.inject_fault(&opener, Fault::OutOfRange).unwrap();
    assert!(transport.connect(&opener).await.is_err());
    let client = LinkClient::connect(&transport, &opener).await;
    assert_eq!(client.family, ServiceFamily::Opener);
}

#[tokio::test(start_paused = true)]
async fn a_link_dropped_mid_command_still_executes_the_command() {
    let (transport, control) = building(&[SimKind::SmartLock4], RadioModel::default());
    let mut client = LinkClient::connect(&transport, &address()).await;
    client.pair_as(&control, &address(), IdType::Bridge).await;
    control
        .inject_fault(&address(), Fault::DropLinkMidCommand)
        .unwrap();
    client.lock_action(LockAction::Lock).await;
    assert!(matches!(
        client.recv().await,
        Err(Silence::Link(BleError::Disconnected))
    ));
    assert!(matches!(
        client
            .link
            .write(client.chars.keyturner_usdio, &[0; 40])
            .await,
        Err(BleError::Disconnected)
    ));
    // The motor kept running without a link.
    tokio::time::sleep(Duration::from_secs(3)).await;
    let snapshot = control.snapshot(&address()).unwrap();
    assert_eq!(snapshot.lock_state, LockState::Locked.to_u8());
    assert!(!snapshot.connected);
    let (key, auth_id) = (client.key.clone(), client.auth_id);
    let mut client = LinkClient::connect(&transport, &address()).await;
    client.key = key;
    client.auth_id = auth_id;
    assert_eq!(
        client.states().await.lock_state,
        DeviceLockState::Lock(LockState::Locked)
    );
}

#[tokio::test(start_paused = true)]
async fn lost_requests_and_corrupted_replies() {
    let (transport, control) = building(&[SimKind::SmartLock4], RadioModel::default());
    let mut client = LinkClient::connect(&transport, &address()).await;
    client.pair_as(&control, &address(), IdType::App).await;
    control.inject_fault(&address(), Fault::NoAnswer).unwrap();
    client.request_states().await;
    assert!(matches!(
        client.recv_raw(Duration::from_secs(5)).await,
        Err(Silence::Timeout)
    ));
    control
        .inject_fault(&address(), Fault::CorruptByte)
        .unwrap();
    client.request_states().await;
    let (_, corrupted) = client.recv_raw(WAIT).await.unwrap();
    assert_eq!(
        frame::decode_encrypted(&client.key, &corrupted),
        Err(frame::FrameError::Authentication)
    );
    // Faults are one-offs.
    assert_eq!(client.states().await.nuki_state, NukiState::DoorMode);
    assert!(control
        .snapshot(&address())
        .unwrap()
        .pending_faults
        .is_empty());
}

#[tokio::test(start_paused = true)]
async fn reboot_drops_the_link_and_the_device_comes_back() {
    let (transport, control) = building(&[SimKind::SmartLock4], RadioModel::default());
    let mut client = LinkClient::connect(&transport, &address()).await;
    client.pair_as(&control, &address(), IdType::App).await;
    let challenge = client.challenge().await;
    client
        .send(
            &Message::RequestReboot,
            Some(&Proof::with_pin(challenge, SecurityPin::Short(1234))),
        )
        .await;
    assert_eq!(
        client.recv().await.unwrap(),
        Message::Status(StatusCode::Complete)
    );
    assert!(matches!(
        client.recv().await,
        Err(Silence::Link(BleError::Disconnected))
    ));
    assert!(transport
        .scan(Duration::from_millis(100))
        .await
        .unwrap()
        .is_empty());
    let refused_at = Instant::now();
    assert!(transport.connect(&address()).await.is_err());
    // The failed attempt waited for the connect timeout; by then the device is back.
    assert_eq!(refused_at.elapsed(), RadioModel::default().connect_timeout);
    assert!(transport.connect(&address()).await.is_ok());
}

#[tokio::test(start_paused = true)]
async fn adverts_show_pairing_mode_state_flag_and_timeouts_without_a_link() {
    let (transport, control) = building(&[SimKind::SmartLock4], RadioModel::default());
    let mut feed = transport.advertisements().await.unwrap();
    let advert = feed.recv().await.unwrap();
    assert_eq!(advert.address, Some(address()));
    assert_eq!(advert.local_name.as_deref(), Some("Nuki_11223344"));
    let rssi = advert.rssi.unwrap();
    assert!((-65..=-59).contains(&rssi), "rssi {rssi}");
    let beacon =
        advert::parse_beacon(&advert.manufacturer_data[&advert::APPLE_COMPANY_ID]).unwrap();
    assert_eq!(beacon.nuki_id, 0x1122_3344);
    assert!(!beacon.state_changed);
    assert!(control.press_button(&address()).unwrap());
    let advert = transport
        .scan(Duration::from_secs(1))
        .await
        .unwrap()
        .remove(0);
    let pairing = ServiceFamily::Keyturner.characteristics().pairing_service;
    let parsed =
        advert::parse_pairing_service_data(pairing, &advert.service_data[&pairing]).unwrap();
    assert_eq!(parsed.nuki_id, 0x1122_3344);
    // Nobody pairs: pairing mode ends by itself.
    tokio::time::sleep(Duration::from_secs(30)).await;
    let advert = transport
        .scan(Duration::from_secs(1))
        .await
        .unwrap()
        .remove(0);
    assert!(advert.service_data.is_empty());
    assert!(!control.snapshot(&address()).unwrap().pairing_mode);
    // A manual turn sets the flag; a Bridge reading the state clears it.
    control.manual_action(&address(), 0x02).unwrap();
    let beacon_flag = |advert: &nuki_edge::ble::Advertisement| {
        advert::parse_beacon(&advert.manufacturer_data[&advert::APPLE_COMPANY_ID])
            .unwrap()
            .state_changed
    };
    tokio::time::sleep(Duration::from_secs(3)).await;
    let advert = transport
        .scan(Duration::from_secs(1))
        .await
        .unwrap()
        .remove(0);
    assert!(beacon_flag(&advert));
    let mut client = LinkClient::connect(&transport, &address()).await;
    client.pair_as(&control, &address(), IdType::Bridge).await;
    client.states().await;
    let advert = transport
        .scan(Duration::from_secs(1))
        .await
        .unwrap()
        .remove(0);
    assert!(!beacon_flag(&advert));
}

#[tokio::test(start_paused = true)]
async fn the_same_seed_produces_the_same_indications() {
    async fn session() -> Vec<Vec<u8>> {
        let (transport, control) = building(&[SimKind::SmartLock4], RadioModel::default());
        let mut client = LinkClient::connect(&transport, &address()).await;
        client.pair_as(&control, &address(), IdType::App).await;
        let mut received = Vec::new();
        client.lock_action(LockAction::Lock).await;
        for _ in 0..4 {
            received.push(client.recv_raw(WAIT).await.unwrap().1);
        }
        received
    }
    assert_eq!(session().await, session().await);
}

#[tokio::test(start_paused = true)]
async fn a_closed_link_delivers_nothing_more_and_frees_the_device() {
    let (transport, control) = building(&[SimKind::SmartLock4], RadioModel::default());
    let mut client = LinkClient::connect(&transport, &address()).await;
    client.pair_as(&control, &address(), IdType::App).await;
    client.request_states().await;
    client.link.disconnect().await.unwrap();
    assert_eq!(
        client.link.next_indication().await,
        Err(BleError::Disconnected)
    );
    assert_eq!(
        client.link.subscribe(client.chars.keyturner_usdio).await,
        Err(BleError::Disconnected)
    );
    assert!(!control.snapshot(&address()).unwrap().connected);
    // Dropping a link without disconnecting frees the device too.
    let other = LinkClient::connect(&transport, &address()).await;
    drop(other);
    assert!(transport.connect(&address()).await.is_ok());
}
