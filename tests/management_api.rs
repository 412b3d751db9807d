//! The building through the management API over simulated devices and a real store: the
//! address-rename rule, a unit deleted with its residents' permissions, a resident's
//! permission refused outside its window and allowed inside, rights per capability,
//! malformed input refused with nothing stored, cursor paging.

mod common;

use common::building::{account_token, api_building, owner_token, ApiBuilding, MONDAY_NOON_UTC};
use nuki_edge::access::{
    AddressId, Capability, DailyWindow, Limits, PermissionKind, Principal, Rights, Scope, Weekdays,
};
use nuki_edge::gateway::{
    AddressChange, AddressDraft, BuildingError, PermissionDraft, PersonDraft, UnitDraft,
};
use serde_json::{json, Value};

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;

/// An address in Zurich with the entrance Box, a unit with Flat A's lock, and a resident.
struct Flat {
    address: AddressId,
    unit: nuki_edge::access::UnitId,
    resident: nuki_edge::access::PersonId,
}

fn flat(building: &ApiBuilding) -> Flat {
    let gateway = &building.gateway;
    let address = gateway
        .create_address(
            &Principal::Local,
            AddressDraft {
                name: "Seestrasse 1".into(),
                time_zone: Some("Europe/Zurich".into()),
                boxes: vec![building.entrance],
            },
        )
        .expect("address")
        .address
        .id;
    let unit = gateway
        .create_unit(
            &Principal::Local,
            address,
            UnitDraft {
                name: "Flat A".into(),
                locks: vec![building.flat_a],
            },
        )
        .expect("unit")
        .id;
    let resident = gateway
        .create_person(
            &Principal::Local,
            PersonDraft {
                name: "Resident A".into(),
                unit: Some(unit.clone()),
            },
        )
        .expect("resident")
        .id;
    Flat {
        address,
        unit,
        resident,
    }
}

/// Two weeks after the building's first noon: a Monday, 13:00 in Zurich. The gateway's time
/// never goes backwards (a clock that does is not trusted), so the test only moves forward.
const LUNCH: i64 = MONDAY_NOON_UTC + 14 * DAY;

/// Monday only, 13:00–14:00 Zurich time, valid from a day before to a week after [`LUNCH`].
fn monday_lunch() -> Limits {
    Limits {
        allowed_from: Some(LUNCH - DAY),
        allowed_until: Some(LUNCH + 7 * DAY),
        weekdays: Weekdays(64),
        daily: Some(DailyWindow {
            from_minute: 13 * 60,
            until_minute: 14 * 60,
        }),
        ..Limits::default()
    }
}

fn gateway_access(flat: &Flat, limits: Limits) -> PermissionDraft {
    PermissionDraft {
        person: flat.resident,
        name: "Door app".into(),
        scope: Scope::Unit {
            unit: flat.unit.clone(),
        },
        kind: PermissionKind::GatewayAccess,
        limits,
        code: None,
    }
}

async fn unlock(building: &ApiBuilding, token: &str, device: u64) -> common::building::Answer {
    building
        .call(
            "POST",
            &format!("/api/v1/devices/{device}/action"),
            Some(token),
            Some(json!({ "action": "unlock" })),
        )
        .await
}

#[tokio::test]
async fn a_residents_permission_opens_only_inside_its_window_and_says_why_not() {
    let building = api_building().await;
    let flat = flat(&building);
    let issued = building
        .gateway
        .create_permission(&Principal::Local, gateway_access(&flat, monday_lunch()))
        .expect("permission");
    let secret = issued.secret.clone().expect("a gateway-access secret");
    assert!(secret.starts_with("nep_") && secret.len() >= 4 + 64);
    let lock = building.flat_a.0;
    let refused = |answer: common::building::Answer, why: &str| {
        assert_eq!(answer.status, 403, "{:?}", answer.body);
        assert_eq!(answer.code(), "denied");
        assert!(answer.message().contains(why), "{:?}", answer.body);
    };

    // Two weeks before (a Monday at 13:00): not valid yet.
    refused(unlock(&building, &secret, lock).await, "not valid yet");

    // Monday 13:00 in Zurich: inside.
    building.clock.set(LUNCH);
    let inside = unlock(&building, &secret, lock).await;
    assert_eq!(inside.status, 200, "{:?}", inside.body);
    assert_eq!(inside.body["success"], true);
    // The entrance Box belongs to the unit's address: also inside.
    assert_eq!(
        unlock(&building, &secret, building.entrance.0).await.status,
        200
    );
    // Inside, but another flat's lock: no permission there.
    refused(
        unlock(&building, &secret, building.flat_b.0).await,
        "no permission",
    );

    // 15:00 in Zurich: outside the daily window; the denial is on the bus with its reason.
    let mut events = building.gateway.subscribe();
    building.clock.set(LUNCH + 2 * HOUR);
    refused(unlock(&building, &secret, lock).await, "daily time window");
    let denied = loop {
        match events.try_recv() {
            Ok(nuki_edge::gateway::GatewayEvent::ActionFinished { outcome, .. }) => break outcome,
            Ok(_) => continue,
            Err(error) => panic!("no denial on the bus: {error}"),
        }
    };
    assert_eq!(
        denied,
        Err(nuki_edge::gateway::Refusal::Denied {
            reason: nuki_edge::access::DenialReason::OutsideDailyWindow
        })
    );
    // Tuesday 13:00: the wrong weekday.
    building.clock.set(LUNCH + DAY);
    refused(unlock(&building, &secret, lock).await, "weekday");
    // A week and a day later (a Monday at 13:00 again): expired.
    building.clock.set(LUNCH + 14 * DAY);
    refused(unlock(&building, &secret, lock).await, "expired");

    // The holder sees the devices of the permission only, and nothing of the building.
    let devices = building
        .call("GET", "/api/v1/devices", Some(&secret), None)
        .await;
    assert_eq!(devices.status, 200);
    let seen: Vec<u64> = devices.body["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|d| d["smartlockId"].as_u64().expect("id"))
        .collect();
    let mut expected = vec![building.entrance.0, lock];
    expected.sort();
    assert_eq!(seen, expected);
    let building_list = building
        .call("GET", "/api/v1/addresses", Some(&secret), None)
        .await;
    assert_eq!(building_list.status, 403);
    assert_eq!(building_list.code(), "denied");

    // Disabled: refused for that; revoked: the secret is worth nothing any more.
    let id = issued.view.permission.id.clone();
    building
        .gateway
        .change_permission(
            &Principal::Local,
            &id,
            nuki_edge::gateway::PermissionChange {
                limits: nuki_edge::gateway::LimitsChange {
                    enabled: Some(false),
                    ..Default::default()
                },
                ..Default::default()
            },
        )
        .expect("disabled");
    refused(unlock(&building, &secret, lock).await, "disabled");
    building
        .gateway
        .delete_permission(&Principal::Local, &id)
        .expect("revoked");
    let revoked = unlock(&building, &secret, lock).await;
    assert_eq!(revoked.status, 401, "{:?}", revoked.body);
    let forged = unlock(&building, &format!("nep_{}", "0".repeat(64)), lock).await;
    assert_eq!(forged.status, 401);
}

#[tokio::test]
async fn an_address_keeps_its_name_once_it_has_units() {
    let building = api_building().await;
    let gateway = &building.gateway;
    let address = gateway
        .create_address(
            &Principal::Local,
            AddressDraft {
                name: "Old name".into(),
                time_zone: None,
                boxes: vec![building.entrance],
            },
        )
        .expect("address")
        .address;
    assert_eq!(address.time_zone, "UTC", "the gateway's zone by default");
    let rename = |name: &str| AddressChange {
        name: Some(name.into()),
        ..AddressChange::default()
    };
    let renamed = gateway
        .change_address(&Principal::Local, address.id, rename("New name"))
        .expect("renamed while it has no unit");
    assert_eq!(renamed.address.name, "New name");
    gateway
        .create_unit(
            &Principal::Local,
            address.id,
            UnitDraft {
                name: "Flat 1".into(),
                locks: vec![],
            },
        )
        .expect("unit");
    let before = building.stored();
    match gateway.change_address(&Principal::Local, address.id, rename("Third name")) {
        Err(BuildingError::Conflict(message)) => {
            assert!(message.contains("residential unit"), "{message}")
        }
        other => panic!("renamed with a unit: {other:?}"),
    }
    assert_eq!(building.stored(), before, "nothing changed");
    // The rest of the address may still change, and the same name is no rename.
    let zone = gateway
        .change_address(
            &Principal::Local,
            address.id,
            AddressChange {
                name: Some("New name".into()),
                time_zone: Some("Europe/Vienna".into()),
                boxes: None,
            },
        )
        .expect("zone changed");
    assert_eq!(zone.address.time_zone, "Europe/Vienna");
    assert!(matches!(
        gateway.delete_address(&Principal::Local, address.id),
        Err(BuildingError::Conflict(_))
    ));
}

#[tokio::test]
async fn deleting_a_unit_removes_its_residents_and_all_their_permissions() {
    let building = api_building().await;
    let gateway = &building.gateway;
    let flat = flat(&building);
    let second = gateway
        .create_person(
            &Principal::Local,
            PersonDraft {
                name: "Resident B".into(),
                unit: Some(flat.unit.clone()),
            },
        )
        .expect("second resident");
    let access = gateway
        .create_permission(&Principal::Local, gateway_access(&flat, Limits::default()))
        .expect("gateway access");
    let secret = access.secret.clone().expect("secret");
    gateway
        .create_permission(
            &Principal::Local,
            PermissionDraft {
                person: second.id,
                name: "Keypad".into(),
                scope: Scope::Device {
                    device: building.flat_a,
                },
                kind: PermissionKind::KeypadCode,
                limits: Limits::default(),
                code: Some(583_947),
            },
        )
        .expect("keypad code");
    // The owner's own caretaker keeps theirs.
    let caretaker = gateway
        .create_person(
            &Principal::Local,
            PersonDraft {
                name: "Caretaker".into(),
                unit: None,
            },
        )
        .expect("caretaker");
    let kept = gateway
        .create_permission(
            &Principal::Local,
            PermissionDraft {
                person: caretaker.id,
                name: "Entrance".into(),
                scope: Scope::AddressBoxes {
                    address: flat.address,
                },
                kind: PermissionKind::GatewayAccess,
                limits: Limits::default(),
                code: None,
            },
        )
        .expect("caretaker's permission");
    assert_eq!(
        unlock(&building, &secret, building.flat_a.0).await.status,
        200
    );

    let removed = gateway
        .delete_unit(&Principal::Local, &flat.unit)
        .expect("unit deleted");
    assert_eq!(removed, (2, 2));
    let people = gateway
        .people(&Principal::Local, None, 100)
        .expect("people");
    assert_eq!(
        people.iter().map(|(_, p)| p.id).collect::<Vec<_>>(),
        vec![caretaker.id]
    );
    let permissions = gateway
        .permissions(&Principal::Local, None, 100)
        .expect("permissions");
    assert_eq!(
        permissions
            .iter()
            .map(|(_, p)| p.permission.id.clone())
            .collect::<Vec<_>>(),
        vec![kept.view.permission.id.clone()]
    );
    let stored = building.stored();
    assert_eq!(
        stored["permission_secrets"].as_array().map(Vec::len),
        Some(1),
        "the removed permissions' secrets are gone too: {stored}"
    );
    // The rules follow at once: the resident's secret opens nothing any more.
    assert_eq!(
        unlock(&building, &secret, building.flat_a.0).await.status,
        401
    );
    let caretaker_secret = kept.secret.expect("secret");
    assert_eq!(
        unlock(&building, &caretaker_secret, building.entrance.0)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn residents_stay_within_their_unit_and_keypad_codes_follow_the_devices_rules() {
    let building = api_building().await;
    let gateway = &building.gateway;
    let flat = flat(&building);
    let before = building.stored();
    let outside = PermissionDraft {
        scope: Scope::Device {
            device: building.flat_b,
        },
        ..gateway_access(&flat, Limits::default())
    };
    assert!(matches!(
        gateway.create_permission(&Principal::Local, outside),
        Err(BuildingError::Invalid(message)) if message.contains("resident")
    ));
    let keypad = |code: Option<u32>| PermissionDraft {
        kind: PermissionKind::KeypadCode,
        code,
        ..gateway_access(&flat, Limits::default())
    };
    for bad in [123_456, 583_907, 58_394] {
        let refused = gateway.create_permission(&Principal::Local, keypad(Some(bad)));
        assert!(
            matches!(&refused, Err(BuildingError::Rejected(e)) if e.code() == "invalid_keypad_code"),
            "{refused:?}"
        );
        // The refusal never repeats the code.
        assert!(!format!("{refused:?}").contains(&bad.to_string()));
    }
    assert!(matches!(
        gateway.create_permission(
            &Principal::Local,
            PermissionDraft {
                code: Some(583_947),
                ..gateway_access(&flat, Limits::default())
            }
        ),
        Err(BuildingError::Invalid(_))
    ));
    assert_eq!(building.stored(), before, "nothing stored on any refusal");

    let first = gateway
        .create_permission(&Principal::Local, keypad(Some(583_947)))
        .expect("keypad code");
    assert_eq!(first.code, Some(583_947));
    assert!(first.secret.is_none());
    assert!(matches!(
        gateway.create_permission(&Principal::Local, keypad(Some(583_947))),
        Err(BuildingError::Conflict(_))
    ));
    let drawn = gateway
        .create_permission(&Principal::Local, keypad(None))
        .expect("drawn code")
        .code
        .expect("a code");
    let digits = drawn.to_string();
    assert_eq!(digits.len(), 6);
    assert!(
        !digits.contains('0') && !digits.starts_with("12"),
        "{digits}"
    );
    assert_ne!(drawn, 583_947);
    // The same code on a device of no shared scope is fine.
    let owner_person = gateway
        .create_person(
            &Principal::Local,
            PersonDraft {
                name: "Owner".into(),
                unit: None,
            },
        )
        .expect("person");
    gateway
        .create_permission(
            &Principal::Local,
            PermissionDraft {
                person: owner_person.id,
                name: "Flat B code".into(),
                scope: Scope::Device {
                    device: building.flat_b,
                },
                kind: PermissionKind::KeypadCode,
                limits: Limits::default(),
                code: Some(583_947),
            },
        )
        .expect("same code elsewhere");
}

#[tokio::test]
async fn each_capability_allows_its_own_part_of_the_building_and_nothing_else() {
    let building = api_building().await;
    let gateway = &building.gateway;
    let flat = flat(&building);
    let with = |capability: Capability| Principal::Account {
        id: nuki_edge::access::AccountId(7),
        owner: false,
        rights: Rights::of(&[capability]),
    };
    let address = || AddressDraft {
        name: "Annex".into(),
        time_zone: None,
        boxes: vec![],
    };
    let person = || PersonDraft {
        name: "Guest".into(),
        unit: None,
    };
    let profile = || nuki_edge::gateway::DeviceProfileChange {
        favorite: Some(true),
        ..Default::default()
    };
    let denied = |result: Result<(), BuildingError>, capability: Capability| match result {
        Err(BuildingError::Denied(reason)) => {
            assert!(reason.to_string().contains(capability.name()), "{reason}")
        }
        other => panic!("not denied: {other:?}"),
    };
    for capability in Capability::ALL {
        let principal = with(capability);
        let building_result = gateway.create_address(&principal, address()).map(|_| ());
        let users_result = gateway.create_person(&principal, person()).map(|_| ());
        let devices_result = gateway
            .change_device_profile(&principal, building.entrance, profile())
            .map(|_| ());
        match capability {
            Capability::ManageBuilding => building_result.expect("manage_building"),
            _ => denied(building_result, Capability::ManageBuilding),
        }
        match capability {
            Capability::ManageUsers => users_result.expect("manage_users"),
            _ => denied(users_result, Capability::ManageUsers),
        }
        match capability {
            Capability::ManageDevices => devices_result.expect("manage_devices"),
            _ => denied(devices_result, Capability::ManageDevices),
        }
        let views = gateway
            .units(&principal, flat.address, None, 10)
            .map(|_| ());
        match capability {
            Capability::ManageBuilding => views.expect("units"),
            _ => denied(views, Capability::ManageBuilding),
        }
        // Every account sees every device; operating needs operate_doors.
        assert_eq!(gateway.devices(&principal).len(), 3);
        let acted = gateway
            .act(
                &principal,
                &building.addresses[0],
                nuki_edge::nuki::enums::DeviceAction::Lock(
                    nuki_edge::nuki::enums::LockAction::Unlock,
                ),
            )
            .await;
        match capability {
            Capability::OperateDoors => {
                acted.expect("operate_doors");
            }
            _ => assert!(
                matches!(acted, Err(nuki_edge::gateway::Refusal::Denied { .. })),
                "{capability}: {acted:?}"
            ),
        }
    }
}

#[tokio::test]
async fn framework_refusals_under_api_have_the_apis_error_shape() {
    let building = api_building().await;
    let wrong_method = building.call("PUT", "/api/v1/addresses", None, None).await;
    assert_eq!(wrong_method.status, 405);
    assert_eq!(wrong_method.code(), "method_not_allowed");
    let oversized = building
        .call_raw(
            "POST",
            "/api/v1/addresses",
            None,
            "application/json",
            vec![b' '; 200 * 1024],
        )
        .await;
    assert_eq!(oversized.status, 413);
    assert_eq!(oversized.code(), "too_large");
    let unknown = building
        .call("GET", "/api/v1/nothing-here", None, None)
        .await;
    assert_eq!(unknown.status, 404);
    assert_eq!(unknown.code(), nuki_edge::http::api::NO_ROUTE);
    let anonymous = building.call("GET", "/api/v1/addresses", None, None).await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(anonymous.code(), "unauthorized");
}

// ---- Through HTTP as an account (needs the accounts part) -------------------------------

/// Creates the flat through the API as `token`; answers (address, unit, resident) ids.
async fn flat_over_http(building: &ApiBuilding, token: &str) -> (i64, String, i64) {
    let address = building
        .call(
            "POST",
            "/api/v1/addresses",
            Some(token),
            Some(json!({
                "name": "Seestrasse 1",
                "timeZone": "Europe/Zurich",
                "smartlockIds": [building.entrance.0],
            })),
        )
        .await;
    assert_eq!(address.status, 201, "{:?}", address.body);
    assert_eq!(address.body["timeZone"], "Europe/Zurich");
    let address = address.body["id"].as_i64().expect("address id");
    let unit = building
        .call(
            "POST",
            &format!("/api/v1/addresses/{address}/units"),
            Some(token),
            Some(json!({ "name": "Flat A", "smartlockIds": [building.flat_a.0] })),
        )
        .await;
    assert_eq!(unit.status, 201, "{:?}", unit.body);
    let unit = unit.body["id"].as_str().expect("unit id").to_owned();
    let resident = building
        .call(
            "POST",
            "/api/v1/people",
            Some(token),
            Some(json!({ "name": "Resident A", "unitId": unit })),
        )
        .await;
    assert_eq!(resident.status, 201, "{:?}", resident.body);
    (
        address,
        unit,
        resident.body["id"].as_i64().expect("person id"),
    )
}

#[tokio::test]
async fn the_building_through_http_with_the_rename_rule_and_a_windowed_resident() {
    let building = api_building().await;
    let owner = owner_token(&building.gateway).await;
    let (address, unit, resident) = flat_over_http(&building, &owner).await;

    let rename = building
        .call(
            "PATCH",
            &format!("/api/v1/addresses/{address}"),
            Some(&owner),
            Some(json!({ "name": "Lakeside 1" })),
        )
        .await;
    assert_eq!(rename.status, 409, "{:?}", rename.body);
    assert_eq!(rename.code(), "conflict");
    assert!(
        rename.message().contains("residential unit"),
        "{:?}",
        rename.body
    );

    let created = building
        .call(
            "POST",
            "/api/v1/permissions",
            Some(&owner),
            Some(json!({
                "personId": resident,
                "name": "Door app",
                "type": "gateway_access",
                "scope": { "kind": "unit", "unitId": unit },
                "allowedFromDate": "2026-11-29T12:00:00Z",
                "allowedUntilDate": "2026-12-07T12:00:00Z",
                "allowedWeekDays": 64,
                "allowedFromTime": 780,
                "allowedUntilTime": 840,
            })),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let secret = created.body["secret"]
        .as_str()
        .expect("secret once")
        .to_owned();
    let mut devices: Vec<u64> = vec![building.entrance.0, building.flat_a.0];
    devices.sort();
    assert_eq!(created.body["smartlockIds"], json!(devices));
    assert_eq!(created.body["allowedFromDate"], "2026-11-29T12:00:00Z");
    let id = created.body["id"].as_str().expect("id").to_owned();
    let shown = building
        .call(
            "GET",
            &format!("/api/v1/permissions/{id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(shown.status, 200);
    assert!(shown.body.get("secret").is_none(), "{:?}", shown.body);

    assert_eq!(
        unlock(&building, &secret, building.flat_a.0).await.status,
        200
    );
    building.clock.set(MONDAY_NOON_UTC + 2 * HOUR);
    let late = unlock(&building, &secret, building.flat_a.0).await;
    assert_eq!(late.status, 403);
    assert!(
        late.message().contains("daily time window"),
        "{:?}",
        late.body
    );

    let deleted = building
        .call(
            "DELETE",
            &format!("/api/v1/units/{unit}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(deleted.status, 200, "{:?}", deleted.body);
    assert_eq!(
        deleted.body,
        json!({ "residentsRemoved": 1, "permissionsRemoved": 1 })
    );
    let gone = building
        .call(
            "GET",
            &format!("/api/v1/permissions/{id}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(gone.status, 404);
}

#[tokio::test]
async fn keypad_codes_are_shown_once_then_masked() {
    let building = api_building().await;
    let owner = owner_token(&building.gateway).await;
    let (_, unit, resident) = flat_over_http(&building, &owner).await;
    let created = building
        .call(
            "POST",
            "/api/v1/permissions",
            Some(&owner),
            Some(json!({
                "personId": resident, "name": "Keypad", "type": "keypad_code",
                "scope": { "kind": "unit", "unitId": unit },
            })),
        )
        .await;
    assert_eq!(created.status, 201, "{:?}", created.body);
    let code = created.body["code"].as_str().expect("code").to_owned();
    assert_eq!(code.len(), 6);
    // Where it stands on each device of its scope (provisioning writes it over the radio).
    let provisioning = created.body["provisioning"]
        .as_array()
        .expect("provisioning");
    let on: std::collections::BTreeSet<u64> = provisioning
        .iter()
        .map(|p| p["smartlockId"].as_u64().expect("device"))
        .collect();
    let scope: std::collections::BTreeSet<u64> = created.body["smartlockIds"]
        .as_array()
        .expect("devices")
        .iter()
        .map(|d| d.as_u64().expect("device"))
        .collect();
    assert_eq!(on, scope, "{provisioning:?}");
    for entry in provisioning {
        assert!(
            ["pending", "applied", "failed"].contains(&entry["state"].as_str().unwrap_or("")),
            "{entry}"
        );
    }
    let listed = building
        .call("GET", "/api/v1/permissions", Some(&owner), None)
        .await;
    assert_eq!(listed.body["items"][0]["code"], "******");
    let text = listed.body.to_string();
    assert!(!text.contains(&code), "{text}");
    let duplicate = building
        .call(
            "POST",
            "/api/v1/permissions",
            Some(&owner),
            Some(json!({
                "personId": resident, "name": "Keypad 2", "type": "keypad_code",
                "scope": { "kind": "device", "smartlockId": building.flat_a.0 },
                "code": code.parse::<u32>().expect("digits"),
            })),
        )
        .await;
    assert_eq!(duplicate.status, 409, "{:?}", duplicate.body);
}

#[tokio::test]
async fn each_right_allows_exactly_its_routes_over_http() {
    let building = api_building().await;
    let owner = owner_token(&building.gateway).await;
    let (address, unit, resident) = flat_over_http(&building, &owner).await;
    for capability in Capability::ALL {
        let right = capability.name();
        let token = account_token(&building.gateway, false, Rights::of(&[capability])).await;
        let probes: [(&str, String, Option<Value>, &str); 7] = [
            ("GET", "/api/v1/addresses".into(), None, "manage_building"),
            (
                "GET",
                format!("/api/v1/units/{unit}"),
                None,
                "manage_building",
            ),
            ("GET", "/api/v1/people".into(), None, "manage_users"),
            (
                "GET",
                format!("/api/v1/people/{resident}"),
                None,
                "manage_users",
            ),
            ("GET", "/api/v1/permissions".into(), None, "manage_users"),
            (
                "PATCH",
                format!("/api/v1/devices/{}", building.entrance.0),
                Some(json!({ "favorite": true })),
                "manage_devices",
            ),
            (
                "POST",
                format!("/api/v1/devices/{}/action", building.entrance.0),
                Some(json!({ "action": "unlock" })),
                "operate_doors",
            ),
        ];
        for (method, path, body, needs) in probes {
            let answer = building.call(method, &path, Some(&token), body).await;
            if right == needs {
                assert_eq!(
                    answer.status, 200,
                    "{right}: {method} {path}: {:?}",
                    answer.body
                );
            } else {
                assert_eq!(
                    answer.status, 403,
                    "{right}: {method} {path}: {:?}",
                    answer.body
                );
                assert_eq!(answer.code(), "denied");
            }
        }
        let devices = building
            .call("GET", "/api/v1/devices", Some(&token), None)
            .await;
        assert_eq!(devices.status, 200, "every account sees every device");
        assert_eq!(devices.body["items"].as_array().map(Vec::len), Some(3));
    }
    let _ = address;
}

/// A request and the status a malformed version of it must get.
struct Probe {
    method: &'static str,
    path: String,
    body: Option<Value>,
    status: u16,
}

fn probe(method: &'static str, path: String, body: Option<Value>, status: u16) -> Probe {
    Probe {
        method,
        path,
        body,
        status,
    }
}

#[tokio::test]
async fn malformed_input_is_refused_with_the_right_status_and_nothing_stored() {
    let building = api_building().await;
    let owner = owner_token(&building.gateway).await;
    let (address, unit, resident) = flat_over_http(&building, &owner).await;
    let lock = building.flat_a.0;
    let permission = building
        .call(
            "POST",
            "/api/v1/permissions",
            Some(&owner),
            Some(json!({
                "personId": resident, "name": "App", "type": "gateway_access",
                "scope": { "kind": "unit", "unitId": unit },
            })),
        )
        .await;
    let permission = permission.body["id"]
        .as_str()
        .expect("permission")
        .to_owned();
    let missing_unit = "0".repeat(24);
    let before = building.stored();

    let mut probes = vec![
        // Wrong types.
        probe(
            "POST",
            "/api/v1/addresses".into(),
            Some(json!({ "name": 5 })),
            422,
        ),
        probe(
            "POST",
            "/api/v1/addresses".into(),
            Some(json!({ "name": "A", "smartlockIds": "x" })),
            422,
        ),
        probe(
            "PATCH",
            format!("/api/v1/addresses/{address}"),
            Some(json!({ "timeZone": [] })),
            422,
        ),
        probe(
            "POST",
            format!("/api/v1/addresses/{address}/units"),
            Some(json!({ "name": true })),
            422,
        ),
        probe(
            "PATCH",
            format!("/api/v1/units/{unit}"),
            Some(json!({ "smartlockIds": [-1] })),
            422,
        ),
        probe(
            "POST",
            "/api/v1/people".into(),
            Some(json!({ "name": ["x"] })),
            422,
        ),
        probe(
            "PATCH",
            format!("/api/v1/people/{resident}"),
            Some(json!({ "name": 1 })),
            422,
        ),
        probe(
            "POST",
            "/api/v1/permissions".into(),
            Some(json!({ "personId": "one" })),
            422,
        ),
        probe(
            "PATCH",
            format!("/api/v1/permissions/{permission}"),
            Some(json!({ "allowedWeekDays": 300 })),
            422,
        ),
        probe(
            "PATCH",
            format!("/api/v1/devices/{lock}"),
            Some(json!({ "favorite": "yes" })),
            422,
        ),
        probe(
            "POST",
            format!("/api/v1/devices/{lock}/settings"),
            Some(json!({ "latitude": "north" })),
            422,
        ),
        probe(
            "POST",
            format!("/api/v1/devices/{lock}/action"),
            Some(json!({ "action": 1 })),
            422,
        ),
        probe(
            "POST",
            "/api/v1/setup".into(),
            Some(json!({ "address": 7 })),
            422,
        ),
        // Unknown fields.
        probe(
            "POST",
            "/api/v1/addresses".into(),
            Some(json!({ "name": "A", "owner": "me" })),
            422,
        ),
        probe(
            "PATCH",
            format!("/api/v1/addresses/{address}"),
            Some(json!({ "id": 9 })),
            422,
        ),
        probe(
            "POST",
            format!("/api/v1/addresses/{address}/units"),
            Some(json!({ "name": "U", "x": 1 })),
            422,
        ),
        probe(
            "PATCH",
            format!("/api/v1/units/{unit}"),
            Some(json!({ "addressId": 2 })),
            422,
        ),
        probe(
            "POST",
            "/api/v1/people".into(),
            Some(json!({ "name": "P", "email": "p@x" })),
            422,
        ),
        probe(
            "PATCH",
            format!("/api/v1/people/{resident}"),
            Some(json!({ "unitId": unit })),
            422,
        ),
        probe(
            "POST",
            "/api/v1/permissions".into(),
            Some(json!({
                "personId": resident, "name": "X", "type": "gateway_access",
                "scope": { "kind": "unit", "unitId": unit }, "secret": "mine",
            })),
            422,
        ),
        probe(
            "PATCH",
            format!("/api/v1/permissions/{permission}"),
            Some(json!({ "type": "keypad_code" })),
            422,
        ),
        probe(
            "PATCH",
            format!("/api/v1/devices/{lock}"),
            Some(json!({ "name": "x" })),
            422,
        ),
        probe(
            "POST",
            format!("/api/v1/devices/{lock}/settings"),
            Some(json!({ "pin": 1 })),
            422,
        ),
        probe(
            "POST",
            format!("/api/v1/devices/{lock}/action"),
            Some(json!({ "action": "unlock", "force": true })),
            422,
        ),
        probe(
            "POST",
            "/api/v1/setup".into(),
            Some(json!({ "address": "sim:new", "x": 1 })),
            422,
        ),
        // Invalid values.
        probe(
            "POST",
            "/api/v1/addresses".into(),
            Some(json!({ "name": "A", "timeZone": "Mars/Base" })),
            422,
        ),
        probe(
            "POST",
            "/api/v1/addresses".into(),
            Some(json!({ "name": "A", "smartlockIds": [42] })),
            422,
        ),
        probe(
            "POST",
            "/api/v1/addresses".into(),
            Some(json!({ "name": "" })),
            422,
        ),
        probe(
            "POST",
            "/api/v1/people".into(),
            Some(json!({ "name": "P", "unitId": missing_unit })),
            422,
        ),
        probe(
            "POST",
            "/api/v1/permissions".into(),
            Some(json!({
                "personId": resident, "name": "X", "type": "gateway_access",
                "scope": { "kind": "device", "smartlockId": building.flat_b.0 },
            })),
            422,
        ),
        probe(
            "POST",
            "/api/v1/permissions".into(),
            Some(json!({
                "personId": resident, "name": "X", "type": "keypad_code", "code": 123456,
                "scope": { "kind": "unit", "unitId": unit },
            })),
            422,
        ),
        probe(
            "POST",
            "/api/v1/permissions".into(),
            Some(json!({
                "personId": resident, "name": "X", "type": "gateway_access",
                "scope": { "kind": "unit", "unitId": unit }, "allowedFromDate": "tomorrow",
            })),
            422,
        ),
        probe(
            "PATCH",
            format!("/api/v1/permissions/{permission}"),
            Some(json!({ "allowedFromTime": 1440 })),
            422,
        ),
        probe(
            "POST",
            format!("/api/v1/devices/{lock}/action"),
            Some(json!({ "action": "fly" })),
            422,
        ),
        probe(
            "POST",
            format!("/api/v1/devices/{lock}/settings"),
            Some(json!({ "latitude": 47.0 })),
            422,
        ),
        // Bad ids, and ids of nothing.
        probe("GET", "/api/v1/addresses/abc".into(), None, 400),
        probe("GET", "/api/v1/addresses/-1".into(), None, 400),
        probe(
            "PATCH",
            "/api/v1/addresses/0".into(),
            Some(json!({ "name": "A" })),
            400,
        ),
        probe("DELETE", "/api/v1/addresses/99".into(), None, 404),
        probe("GET", "/api/v1/addresses/1.5/units".into(), None, 400),
        probe(
            "POST",
            "/api/v1/addresses/99/units".into(),
            Some(json!({ "name": "U" })),
            404,
        ),
        probe("GET", "/api/v1/units/xyz".into(), None, 400),
        probe("DELETE", format!("/api/v1/units/{missing_unit}"), None, 404),
        probe(
            "GET",
            // Upper-case hex is not how ids are written.
            format!("/api/v1/units/{}A", "0".repeat(23)),
            None,
            400,
        ),
        probe("GET", "/api/v1/people/x1".into(), None, 400),
        probe("DELETE", "/api/v1/people/99".into(), None, 404),
        probe("GET", "/api/v1/permissions/short".into(), None, 400),
        probe(
            "DELETE",
            format!("/api/v1/permissions/{missing_unit}"),
            None,
            404,
        ),
        probe("GET", "/api/v1/devices/lock".into(), None, 400),
        probe("GET", "/api/v1/devices/99".into(), None, 404),
        probe(
            "PATCH",
            "/api/v1/devices/99".into(),
            Some(json!({ "favorite": true })),
            404,
        ),
        probe(
            "POST",
            "/api/v1/devices/99/action".into(),
            Some(json!({ "action": "unlock" })),
            404,
        ),
        probe("GET", "/api/v1/setup/nope".into(), None, 400),
        probe(
            "GET",
            format!("/api/v1/setup/{}", "a".repeat(32)),
            None,
            404,
        ),
        // Paging.
        probe("GET", "/api/v1/people?limit=0".into(), None, 400),
        probe("GET", "/api/v1/people?limit=many".into(), None, 400),
        probe("GET", "/api/v1/permissions?cursor=zz".into(), None, 400),
        probe("GET", "/api/v1/addresses?sort=name".into(), None, 400),
    ];
    // Not JSON, and oversized, at every endpoint that takes a body.
    let with_bodies: Vec<(&'static str, String)> = vec![
        ("POST", "/api/v1/addresses".into()),
        ("PATCH", format!("/api/v1/addresses/{address}")),
        ("POST", format!("/api/v1/addresses/{address}/units")),
        ("PATCH", format!("/api/v1/units/{unit}")),
        ("POST", "/api/v1/people".into()),
        ("PATCH", format!("/api/v1/people/{resident}")),
        ("POST", "/api/v1/permissions".into()),
        ("PATCH", format!("/api/v1/permissions/{permission}")),
        ("PATCH", format!("/api/v1/devices/{lock}")),
        ("POST", format!("/api/v1/devices/{lock}/settings")),
        ("POST", format!("/api/v1/devices/{lock}/action")),
        ("POST", "/api/v1/setup".into()),
    ];
    for probe in probes.drain(..) {
        let answer = building
            .call(probe.method, &probe.path, Some(&owner), probe.body.clone())
            .await;
        assert_eq!(
            answer.status, probe.status,
            "{} {} {:?}: {:?}",
            probe.method, probe.path, probe.body, answer.body
        );
        assert!(!answer.code().is_empty(), "{:?}", answer.body);
    }
    for (method, path) in &with_bodies {
        let broken = building
            .call_raw(
                method,
                path,
                Some(&owner),
                "application/json",
                b"{,}".to_vec(),
            )
            .await;
        assert_eq!(broken.status, 400, "{method} {path}: {:?}", broken.body);
        let text = building
            .call_raw(method, path, Some(&owner), "text/plain", b"{}".to_vec())
            .await;
        assert_eq!(text.status, 415, "{method} {path}: {:?}", text.body);
        let mut huge = b"{\"name\":\"".to_vec();
        huge.extend(std::iter::repeat_n(b'a', 100 * 1024));
        huge.extend(b"\"}");
        let oversized = building
            .call_raw(method, path, Some(&owner), "application/json", huge)
            .await;
        assert_eq!(
            oversized.status, 413,
            "{method} {path}: {:?}",
            oversized.body
        );
        assert!(!oversized.code().is_empty());
    }
    assert_eq!(building.stored(), before, "nothing was stored");
}

#[tokio::test]
async fn cursor_paging_walks_every_item_exactly_once() {
    let building = api_building().await;
    let owner = owner_token(&building.gateway).await;
    let (address, _, _) = flat_over_http(&building, &owner).await;
    for index in 0..23 {
        let created = building
            .call(
                "POST",
                "/api/v1/people",
                Some(&owner),
                Some(json!({ "name": format!("Person {index}") })),
            )
            .await;
        assert_eq!(created.status, 201);
        let unit = building
            .call(
                "POST",
                &format!("/api/v1/addresses/{address}/units"),
                Some(&owner),
                Some(json!({ "name": format!("Unit {index}") })),
            )
            .await;
        assert_eq!(unit.status, 201);
    }
    for (path, total) in [
        ("/api/v1/people".to_owned(), 24),
        (format!("/api/v1/addresses/{address}/units"), 24),
        ("/api/v1/devices".to_owned(), 3),
        ("/api/v1/addresses".to_owned(), 1),
    ] {
        for limit in [1, 5, 24, 100] {
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let query = match &cursor {
                    Some(cursor) => format!("{path}?limit={limit}&cursor={cursor}"),
                    None => format!("{path}?limit={limit}"),
                };
                let page = building.call("GET", &query, Some(&owner), None).await;
                assert_eq!(page.status, 200, "{query}: {:?}", page.body);
                let items = page.body["items"].as_array().expect("items");
                assert!(items.len() <= limit);
                seen.extend(items.iter().map(|item| {
                    item.get("id")
                        .or_else(|| item.get("smartlockId"))
                        .expect("id")
                        .to_string()
                }));
                match page.body["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
            }
            let unique: std::collections::BTreeSet<_> = seen.iter().collect();
            assert_eq!(seen.len(), total, "{path} limit {limit}: {seen:?}");
            assert_eq!(unique.len(), total, "{path} limit {limit}: repeats");
        }
    }
}

/// How long a set-up of a simulated device may take (a hang guard only).
const SETUP_LIMIT: std::time::Duration = std::time::Duration::from_secs(30);
const POLL: std::time::Duration = std::time::Duration::from_millis(20);

#[tokio::test]
async fn a_setup_is_followed_from_the_button_to_the_new_device() {
    use nuki_edge::gateway::{PairingOrder, SetupPhase};
    let building = api_building().await;
    let gateway = &building.gateway;
    let order = PairingOrder {
        address: building.new_lock.address.clone(),
        name: "New lock".into(),
        security_pin: None,
        as_bridge: None,
    };
    let id = gateway
        .start_setup(&Principal::Local, order.clone())
        .expect("started");
    assert!(matches!(
        gateway.setup(&Principal::Local, &id),
        Ok(SetupPhase::WaitingForButton { .. })
    ));
    assert!(matches!(
        gateway.start_setup(&Principal::Local, order),
        Err(nuki_edge::gateway::PairingFailure::AlreadyRunning)
    ));
    let holder = Principal::Holder {
        permission: nuki_edge::access::PermissionId("0".repeat(24)),
    };
    assert!(matches!(
        gateway.setup(&holder, &id),
        Err(BuildingError::Denied(_))
    ));
    building
        .control
        .press_button(&building.new_lock.address)
        .expect("device exists");
    let expected = nuki_edge::access::DeviceId::from_parts(
        building.new_lock.kind.web_api_type(),
        building.new_lock.nuki_id,
    );
    let done = tokio::time::timeout(SETUP_LIMIT, async {
        loop {
            match gateway.setup(&Principal::Local, &id).expect("known") {
                SetupPhase::Done { device } => break device,
                SetupPhase::Failed { reason } => panic!("failed: {reason}"),
                _ => tokio::time::sleep(POLL).await,
            }
        }
    })
    .await
    .expect("set up in time");
    assert_eq!(done, expected);
    assert!(gateway.device_by_id(expected).is_some());
}

#[tokio::test]
async fn a_setup_through_http() {
    let building = api_building().await;
    let owner = owner_token(&building.gateway).await;
    let address = building.new_lock.address.0.clone();
    let started = building
        .call(
            "POST",
            "/api/v1/setup",
            Some(&owner),
            Some(json!({ "address": address, "name": "New lock" })),
        )
        .await;
    assert_eq!(started.status, 202, "{:?}", started.body);
    assert_eq!(started.body["phase"], "waiting_for_button");
    assert!(started.body["secondsLeft"].as_u64().is_some());
    let id = started.body["id"].as_str().expect("id").to_owned();
    let paired_already = building
        .call(
            "POST",
            "/api/v1/setup",
            Some(&owner),
            Some(json!({ "address": building.addresses[0].0 })),
        )
        .await;
    assert_eq!(paired_already.status, 409);
    building
        .control
        .press_button(&building.new_lock.address)
        .expect("device exists");
    let device = tokio::time::timeout(SETUP_LIMIT, async {
        loop {
            let polled = building
                .call("GET", &format!("/api/v1/setup/{id}"), Some(&owner), None)
                .await;
            assert_eq!(polled.status, 200, "{:?}", polled.body);
            match polled.body["phase"].as_str() {
                Some("done") => break polled.body["smartlockId"].as_u64().expect("device"),
                Some("failed") => panic!("{:?}", polled.body),
                _ => tokio::time::sleep(POLL).await,
            }
        }
    })
    .await
    .expect("set up in time");
    let shown = building
        .call(
            "GET",
            &format!("/api/v1/devices/{device}"),
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(shown.status, 200, "{:?}", shown.body);
    assert_eq!(shown.body["name"], "New lock");
}

#[tokio::test]
async fn moving_devices_keeps_residents_within_their_unit_and_keypad_codes_unique() {
    use nuki_edge::gateway::UnitChange;
    let building = api_building().await;
    let gateway = &building.gateway;
    let flat = flat(&building);
    let locks = |locks: Vec<nuki_edge::access::DeviceId>| UnitChange {
        locks: Some(locks),
        ..UnitChange::default()
    };
    gateway
        .create_permission(
            &Principal::Local,
            PermissionDraft {
                scope: Scope::Device {
                    device: building.flat_a,
                },
                ..gateway_access(&flat, Limits::default())
            },
        )
        .expect("resident's permission on their lock");
    let before = building.stored();
    let take_lock = gateway.change_unit(&Principal::Local, &flat.unit, locks(vec![]));
    assert!(
        matches!(&take_lock, Err(BuildingError::Conflict(m)) if m.contains("resident")),
        "{take_lock:?}"
    );
    assert_eq!(building.stored(), before);

    // The resident's code on the whole unit, the caretaker's same code on Flat B's lock: fine
    // apart, but Flat B's lock may not join the unit while both codes would be on it.
    gateway
        .create_permission(
            &Principal::Local,
            PermissionDraft {
                kind: PermissionKind::KeypadCode,
                code: Some(583_947),
                ..gateway_access(&flat, Limits::default())
            },
        )
        .expect("resident's code");
    let caretaker = gateway
        .create_person(
            &Principal::Local,
            PersonDraft {
                name: "Caretaker".into(),
                unit: None,
            },
        )
        .expect("caretaker");
    gateway
        .create_permission(
            &Principal::Local,
            PermissionDraft {
                person: caretaker.id,
                name: "Code".into(),
                scope: Scope::Device {
                    device: building.flat_b,
                },
                kind: PermissionKind::KeypadCode,
                limits: Limits::default(),
                code: Some(583_947),
            },
        )
        .expect("the same code on another device");
    let before = building.stored();
    let joined = gateway.change_unit(
        &Principal::Local,
        &flat.unit,
        locks(vec![building.flat_a, building.flat_b]),
    );
    assert!(
        matches!(&joined, Err(BuildingError::Conflict(m)) if m.contains("keypad code")),
        "{joined:?}"
    );
    assert_eq!(building.stored(), before);
}
