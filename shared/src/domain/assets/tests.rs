//! Table tests of the asset value types and import records.

use super::*;
use serde_json::json;

#[test]
fn failed_items_name_the_row_by_the_import_kind() {
    let cases = [
        (
            ImportType::Cards,
            serde_json::json!({"row": 3, "iccid": "8986", "reason": "r"}),
        ),
        (
            ImportType::VirtualNo,
            serde_json::json!({"row": 3, "iccid": "8986", "reason": "r"}),
        ),
        (
            ImportType::Devices,
            serde_json::json!({"row": 3, "virtual_no": "8986", "reason": "r"}),
        ),
    ];
    for (kind, want) in cases {
        let item = kind.failed(3, "8986", "r");
        assert_eq!(serde_json::to_value(&item).unwrap(), want, "{kind:?}");
        let back: FailedItem = serde_json::from_value(want).unwrap();
        assert_eq!(back, item, "{kind:?}");
    }
}

#[test]
fn new_tasks_are_numbered_by_day_and_id() {
    let t = ImportTask::new(
        42,
        ImportType::Cards,
        "k".into(),
        1,
        "2026-03-05T10:00:00+08:00".into(),
    );
    assert_eq!(
        (t.task_no.as_str(), t.status),
        ("IMP20260305000042", ImportStatus::Pending)
    );
}

#[test]
fn import_objects_name_their_task_exactly() {
    assert_eq!(import_object_key(42), "imports/42.csv");
    assert_eq!(import_task_of_key("imports/42.csv"), Some(42));
    for key in [
        "imports/042.csv",
        "imports/+42.csv",
        "imports/.csv",
        "imports/42.CSV",
        "imports/42.csv.csv",
        "imports/a/42.csv",
        "uploads/42.csv",
        "imports/18446744073709551616.csv",
    ] {
        assert_eq!(import_task_of_key(key), None, "{key}");
    }
}

#[test]
fn names_match_the_wire_format() {
    for t in [
        ImportType::Cards,
        ImportType::VirtualNo,
        ImportType::Devices,
    ] {
        assert_eq!(serde_json::to_value(t).unwrap(), t.as_str());
    }
    for s in [
        ImportStatus::AwaitingUpload,
        ImportStatus::Pending,
        ImportStatus::Processing,
        ImportStatus::Completed,
        ImportStatus::Failed,
    ] {
        assert_eq!(serde_json::to_value(s).unwrap(), s.as_str());
    }
}

#[test]
fn statuses_and_operations_keep_their_wire_values() {
    for (status, n) in [
        (AssetStatus::InStock, 1),
        (AssetStatus::Sold, 2),
        (AssetStatus::Exchanged, 3),
        (AssetStatus::Deactivated, 4),
    ] {
        assert_eq!(serde_json::to_value(status).unwrap(), json!(n));
        assert_eq!(
            serde_json::from_value::<AssetStatus>(json!(n)).unwrap(),
            status
        );
        assert_eq!(status.to_string(), n.to_string());
    }
    assert!(serde_json::from_value::<AssetStatus>(json!(5)).is_err());
    assert_eq!(
        serde_json::to_value(MoveOp::Recall).unwrap(),
        json!("recall")
    );
    assert_eq!(MoveOp::Allocate.as_str(), "allocate");
    assert_eq!(
        serde_json::to_value(ProtectStatus::None).unwrap(),
        json!("none")
    );
    assert_eq!(
        ProtectStatus::from(Some(Direction::Start)),
        ProtectStatus::Start
    );
    assert_eq!(AssetType::parse("device"), Some(AssetType::Device));
    assert_eq!(AssetType::parse("sim"), None);
}

#[test]
fn identifier_kinds_name_their_asset_type() {
    for kind in IdentifierKind::ALL {
        let cards = matches!(
            kind,
            IdentifierKind::Iccid | IdentifierKind::Msisdn | IdentifierKind::CardVirtualNo
        );
        assert_eq!(kind.asset_type() == AssetType::Card, cards, "{kind:?}");
    }
    assert_eq!(
        IdentifierKind::primary(AssetType::Card),
        IdentifierKind::Iccid
    );
    assert_eq!(AssetType::Card.normalise(" 8986ab "), "8986AB");
    assert_eq!(AssetType::Device.normalise(" dv-1 "), "dv-1");
}

#[test]
fn a_moves_subordinate_side_is_the_receiver_or_the_giver() {
    assert_eq!(MoveOp::Allocate.subordinate("from", "to"), "to");
    assert_eq!(MoveOp::Recall.subordinate("from", "to"), "from");
}
