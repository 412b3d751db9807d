//! A building set up over the management API of a running daemon, as an installer does it:
//! the devices' ids by name, an address with its Boxes, a unit with its locks, a resident.

use serde_json::{json, Value};

use super::accounts::ApiClient;

/// The `smartlockId` of the device named `name` in a `GET /api/v1/devices` body.
pub fn smartlock_id(devices: &Value, name: &str) -> u64 {
    devices["items"]
        .as_array()
        .and_then(|items| items.iter().find(|device| device["name"] == name))
        .and_then(|device| device["smartlockId"].as_u64())
        .unwrap_or_else(|| panic!("{name} in {devices}"))
}

/// Every device the owner sees, as `GET /api/v1/devices` answers.
pub async fn devices(owner: &ApiClient) -> Value {
    let devices = owner.get("/api/v1/devices").await;
    assert_eq!(devices.status, 200, "{:?}", devices.body);
    devices.body
}

/// An address in `zone` with `boxes` at its entrance, and a unit there with `locks`;
/// answers the address id and the unit id.
pub async fn address_with_unit(
    owner: &ApiClient,
    (address_name, zone, boxes): (&str, &str, &[u64]),
    (unit_name, locks): (&str, &[u64]),
) -> (i64, String) {
    let address = owner
        .post(
            "/api/v1/addresses",
            json!({"name": address_name, "timeZone": zone, "smartlockIds": boxes}),
        )
        .await;
    assert_eq!(address.status, 201, "{:?}", address.body);
    let address_id = address.body["id"].as_i64().expect("address id");
    let unit = owner
        .post(
            &format!("/api/v1/addresses/{address_id}/units"),
            json!({"name": unit_name, "smartlockIds": locks}),
        )
        .await;
    assert_eq!(unit.status, 201, "{:?}", unit.body);
    let unit_id = unit.body["id"].as_str().expect("unit id").to_owned();
    (address_id, unit_id)
}

/// A person living in `unit` (a resident); answers the person id.
pub async fn resident(owner: &ApiClient, name: &str, unit: &str) -> i64 {
    let person = owner
        .post("/api/v1/people", json!({"name": name, "unitId": unit}))
        .await;
    assert_eq!(person.status, 201, "{:?}", person.body);
    person.body["id"].as_i64().expect("person id")
}
