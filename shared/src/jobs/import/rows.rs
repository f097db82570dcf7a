//! Rows of a chunk → the entities they create, validated (jobs.md J16, J17).
//!
//! Pure: nothing is read or written here. What needs the table (values already
//! taken, slot cards, cards to fill) is checked by the writers in `cards`, `devices`
//! and `fill`.

use std::collections::{HashMap, HashSet};

use super::chunk::{Chunk, Row};
use crate::domain::assets::{AssetStatus, Device, FailedItem, ImportTask, IotCard};
use crate::domain::entities::{Carrier, Shop};
use crate::domain::identifiers::{Iccid, Imei, Imsi, Msisdn, Sn, VirtualNo};
use crate::domain::validate::{self, Invalid};

/// Rows that passed validation, with their row numbers, and the rejected ones.
#[derive(Debug)]
pub struct Checked<T> {
    /// (row number, what the row creates), in row order.
    pub valid: Vec<(u64, T)>,
    /// Rejected rows, in row order.
    pub failed: Vec<FailedItem>,
}

impl<T> Default for Checked<T> {
    fn default() -> Self {
        Self {
            valid: Vec::new(),
            failed: Vec::new(),
        }
    }
}

/// First row of each value seen so far in a chunk (a later row repeating a value is
/// a duplicate, and a transaction may not touch one item twice).
#[derive(Default)]
struct Seen(HashMap<(&'static str, String), u64>);

impl Seen {
    /// The row that first had `value` of `what`, if any.
    fn first(&self, what: &'static str, value: &str) -> Option<u64> {
        self.0.get(&(what, value.to_string())).copied()
    }

    /// Remembers `value` of `what` at `row` unless an earlier row had it.
    fn note(&mut self, what: &'static str, value: &str, row: u64) {
        self.0.entry((what, value.to_string())).or_insert(row);
    }
}

pub(super) fn duplicated(what: &str, first: u64) -> String {
    format!("{what} duplicated in the file (row {first})")
}

/// New cards from a chunk (ids assigned later); rows repeating an ICCID, MSISDN
/// or virtual number of an earlier row are rejected.
pub fn cards(
    chunk: &Chunk,
    task: &ImportTask,
    carriers: &[Carrier],
    shop: Option<&Shop>,
    now: &str,
) -> Checked<IotCard> {
    let mut out = Checked::default();
    let mut seen = Seen::default();
    'rows: for row in &chunk.rows {
        let fail = |reason: String, iccid: &str| task.import_type.failed(row.number, iccid, reason);
        let card = match card_from_row(chunk, row, task, carriers, shop, now) {
            Ok(card) => card,
            Err(reason) => {
                let raw = chunk.field(row, "iccid").unwrap_or_default();
                out.failed.push(fail(reason, raw));
                continue;
            }
        };
        let values = [
            ("iccid", Some(card.iccid.as_str())),
            ("msisdn", card.msisdn.as_deref()),
            ("virtual_no", card.virtual_no.as_deref()),
        ];
        for (what, value) in values {
            if let Some(first) = value.and_then(|v| seen.first(what, v)) {
                out.failed.push(fail(duplicated(what, first), &card.iccid));
                continue 'rows;
            }
        }
        for (what, value) in values {
            if let Some(v) = value {
                seen.note(what, v, row.number);
            }
        }
        out.valid.push((row.number, card));
    }
    out
}

/// An optional column parsed into its type; the rejection is the row's reason.
fn optional<T>(
    value: Option<&str>,
    parse: fn(&str) -> Result<T, Invalid>,
) -> Result<Option<T>, String> {
    value.map(parse).transpose().map_err(|e| e.to_string())
}

/// A new card from a CSV row (id assigned later), or why the row is rejected.
pub fn card_from_row(
    chunk: &Chunk,
    row: &Row,
    task: &ImportTask,
    carriers: &[Carrier],
    shop: Option<&Shop>,
    now: &str,
) -> Result<IotCard, String> {
    let get = |name: &str| chunk.field(row, name);
    let iccid =
        Iccid::parse(get("iccid").ok_or("iccid is required")?).map_err(|e| e.to_string())?;
    let msisdn = optional(get("msisdn"), Msisdn::parse)?;
    let imsi = optional(get("imsi"), Imsi::parse)?;
    let virtual_no = optional(get("virtual_no"), VirtualNo::parse)?;
    let carrier = match (get("carrier_id"), get("carrier_code"), task.carrier_id) {
        (Some(id), _, _) => {
            let id: u64 = id
                .parse()
                .map_err(|_| "carrier_id must be a number".to_string())?;
            carriers.iter().find(|c| c.id == id)
        }
        (None, Some(code), _) => carriers
            .iter()
            .find(|c| c.carrier_code.as_deref() == Some(code)),
        (None, None, Some(id)) => carriers.iter().find(|c| c.id == id),
        (None, None, None) => return Err("carrier_id or carrier_code is required".into()),
    }
    .ok_or("carrier not found")?;
    let opt = |name: &str, max| validate::opt_text(name, get(name), max).map_err(|e| e.to_string());
    Ok(IotCard {
        id: 0,
        iccid: iccid.to_string(),
        msisdn: msisdn.map(|m| m.to_string()),
        imsi: imsi.map(|m| m.to_string()),
        virtual_no: virtual_no.map(|v| v.to_string()),
        carrier_id: carrier.id,
        carrier_type: carrier.carrier_type.clone(),
        carrier_name: carrier.carrier_name.clone(),
        card_category: opt("card_category", 50)?,
        supplier: opt("supplier", 100)?,
        batch_no: opt("batch_no", 50)?.or_else(|| task.batch_no.clone()),
        shop_id: shop.map(|s| s.id),
        owner_path: shop.map(|s| s.path.clone()),
        series_id: None,
        status: 1,
        asset_status: AssetStatus::InStock,
        generation: 1,
        network_status: 0,
        real_name_status: 0,
        activation_status: 0,
        activated_at: None,
        enable_polling: true,
        // The import joins the card to its cohorts (`schedule_cards`).
        polling_scheduled: true,
        current_month_usage_mb: rust_decimal::Decimal::ZERO,
        last_data_check_at: None,
        last_sync_time: None,
        is_standalone: true,
        bound_device_id: None,
        slot_position: None,
        stopped_at: None,
        resumed_at: None,
        stop_reason: None,
        rule_stop: None,
        remark: None,
        authorization: None,
        import_task_id: Some(task.id),
        created_at: now.to_string(),
        updated_at: now.to_string(),
        deleted_at: None,
        creator: task.created_by,
        updater: task.created_by,
        version: 1,
    })
}

/// A new device and the cards to bind into its slots.
#[derive(Clone, Debug, PartialEq)]
pub struct NewDevice {
    /// The device (id assigned later).
    pub device: Device,
    /// (slot, ICCID) of each `iccid_<slot>` column, by slot.
    pub slots: Vec<(u32, String)>,
}

/// New devices from a chunk; rows repeating a virtual number of an earlier row are
/// rejected.
pub fn devices(
    chunk: &Chunk,
    task: &ImportTask,
    shop: Option<&Shop>,
    now: &str,
) -> Checked<NewDevice> {
    let mut out = Checked::default();
    let mut seen = Seen::default();
    for row in &chunk.rows {
        match device_from_row(chunk, row, task, shop, now) {
            Err(reason) => {
                let raw = chunk.field(row, "virtual_no").unwrap_or_default();
                out.failed
                    .push(task.import_type.failed(row.number, raw, reason));
            }
            Ok(new) => {
                let vno = new.device.virtual_no.as_str();
                if let Some(first) = seen.first("virtual_no", vno) {
                    let reason = duplicated("virtual_no", first);
                    out.failed
                        .push(task.import_type.failed(row.number, vno, reason));
                    continue;
                }
                seen.note("virtual_no", vno, row.number);
                out.valid.push((row.number, new));
            }
        }
    }
    out
}

/// A new device and its slot ICCIDs from a CSV row, or why the row is rejected.
pub fn device_from_row(
    chunk: &Chunk,
    row: &Row,
    task: &ImportTask,
    shop: Option<&Shop>,
    now: &str,
) -> Result<NewDevice, String> {
    let get = |name: &str| chunk.field(row, name);
    let vno = VirtualNo::parse(get("virtual_no").ok_or("virtual_no is required")?)
        .map_err(|e| e.to_string())?;
    let imei = optional(get("imei"), Imei::parse)?;
    let sn = optional(get("sn"), Sn::parse)?;
    let max_sim_slots: u32 = match get("max_sim_slots") {
        None => 1,
        Some(v) => v
            .parse()
            .ok()
            .filter(|n| (1..=8).contains(n))
            .ok_or("max_sim_slots must be 1-8")?,
    };
    let mut slots = Vec::new();
    let mut seen = HashSet::new();
    for name in &chunk.header {
        let Some(slot) = name
            .strip_prefix("iccid_")
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Some(raw) = get(name) else { continue };
        let iccid = Iccid::parse(raw)
            .map_err(|e| format!("{name}: {e}"))?
            .to_string();
        if slot == 0 || slot > max_sim_slots {
            return Err(format!(
                "{name}: slot {slot} exceeds max_sim_slots {max_sim_slots}"
            ));
        }
        if !seen.insert(iccid.clone()) {
            return Err(format!("{name}: card {iccid} appears in two slots"));
        }
        slots.push((slot, iccid));
    }
    slots.sort();
    let opt = |name: &str, max| validate::opt_text(name, get(name), max).map_err(|e| e.to_string());
    let device = Device {
        id: 0,
        virtual_no: vno.to_string(),
        imei: imei.map(|v| v.to_string()),
        sn: sn.map(|v| v.to_string()),
        device_name: opt("device_name", 100)?,
        device_model: opt("device_model", 50)?,
        device_type: opt("device_type", 50)?,
        manufacturer: opt("manufacturer", 100)?,
        max_sim_slots,
        batch_no: opt("batch_no", 50)?.or_else(|| task.batch_no.clone()),
        shop_id: shop.map(|s| s.id),
        owner_path: shop.map(|s| s.path.clone()),
        series_id: None,
        status: 1,
        asset_status: AssetStatus::InStock,
        generation: 1,
        activated_at: None,
        bound_card_count: 0,
        authorization: None,
        import_task_id: Some(task.id),
        created_at: now.to_string(),
        updated_at: now.to_string(),
        deleted_at: None,
        creator: task.created_by,
        updater: task.created_by,
        version: 1,
    };
    Ok(NewDevice { device, slots })
}

/// One row of a virtual-number fill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fill {
    /// The card.
    pub iccid: String,
    /// The number it gets.
    pub virtual_no: String,
}

/// The rows of a virtual-number fill; rows repeating an ICCID or a number of an
/// earlier row are rejected.
pub fn fills(chunk: &Chunk, task: &ImportTask) -> Checked<Fill> {
    let mut out = Checked::default();
    let mut seen = Seen::default();
    for row in &chunk.rows {
        let fail = |iccid: &str, reason: String| task.import_type.failed(row.number, iccid, reason);
        let raw = chunk.field(row, "iccid").unwrap_or_default();
        let iccid = match Iccid::parse(raw) {
            Ok(i) => i.to_string(),
            Err(e) => {
                out.failed.push(fail(raw, e.to_string()));
                continue;
            }
        };
        let vno = match chunk.field(row, "virtual_no").map(VirtualNo::parse) {
            Some(Ok(v)) => v.to_string(),
            Some(Err(e)) => {
                out.failed.push(fail(&iccid, e.to_string()));
                continue;
            }
            None => {
                out.failed
                    .push(fail(&iccid, "virtual_no is required".into()));
                continue;
            }
        };
        if let Some(first) = seen.first("iccid", &iccid) {
            out.failed.push(fail(&iccid, duplicated("iccid", first)));
            continue;
        }
        seen.note("iccid", &iccid, row.number);
        if let Some(first) = seen.first("virtual_no", &vno) {
            let reason = duplicated(&format!("virtual_no {vno}"), first);
            out.failed.push(fail(&iccid, reason));
            continue;
        }
        seen.note("virtual_no", &vno, row.number);
        out.valid.push((
            row.number,
            Fill {
                iccid,
                virtual_no: vno,
            },
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::assets::ImportType;
    use crate::domain::shop_path::ShopPath;
    use crate::jobs::import::chunk::{parse, tests::task_at};

    fn chunk_of(import_type: ImportType, csv: &str) -> (ImportTask, Chunk) {
        let task = task_at(import_type, 0, 0, &[]);
        let chunk = parse(&task, csv.as_bytes(), true).unwrap();
        (task, chunk)
    }

    fn carrier(id: u64, code: &str) -> Carrier {
        serde_json::from_value(serde_json::json!({
            "id": id, "carrier_name": format!("Carrier {id}"), "carrier_type": "CMCC",
            "carrier_code": code, "billing_day": 1, "realname_link_type": "none", "status": 1,
            "created_at": "", "updated_at": "", "creator": 1, "updater": 1, "version": 1
        }))
        .unwrap()
    }

    fn shop() -> Shop {
        serde_json::from_value(serde_json::json!({
            "id": 5, "shop_name": "S", "shop_code": "S", "parent_id": null, "level": 1,
            "path": ShopPath::top(5), "status": 1, "contact_name": null, "contact_phone": null,
            "province": null, "city": null, "district": null, "address": null,
            "created_at": "", "updated_at": "", "creator": 1, "updater": 1, "version": 1
        }))
        .unwrap()
    }

    const A: &str = "89860000000000000001";
    const B: &str = "89860000000000000002";
    const C: &str = "89860000000000000003";

    /// Checks each rejected row: its number, the value naming it (under the field
    /// `named_by`), and a part of its reason.
    fn assert_failed(failed: &[FailedItem], named_by: ImportType, want: &[(u64, &str, &str)]) {
        assert_eq!(failed.len(), want.len(), "{failed:?}");
        for (f, (row, value, part)) in failed.iter().zip(want) {
            assert_eq!(*f, named_by.failed(*row, value, f.reason.clone()));
            assert!(f.reason.contains(part), "row {row}: {}", f.reason);
        }
    }

    #[test]
    fn card_rows() {
        let carriers = [carrier(1, "CMCC"), carrier(2, "CUCC")];
        let header = "iccid,msisdn,imsi,virtual_no,carrier_id,carrier_code,supplier,batch_no";
        let long = "x".repeat(101);
        // (row, Ok(carrier id) or Err(reason part))
        let cases: Vec<(String, Result<u64, &str>)> = vec![
            (
                format!("{A},13800000000,460001234567890,V1,,CMCC,Acme,B"),
                Ok(1),
            ),
            (format!("{A},,,,2,CMCC,,"), Ok(2)),
            (format!("{},,,,,CUCC,,", A.to_lowercase()), Ok(2)),
            (format!("{A},,,,,,,"), Err("or carrier_code is required")),
            (",13800000000,,,,CMCC,,".into(), Err("iccid is required")),
            ("8986-bad,,,,,CMCC,,".into(), Err("iccid must be 19-20")),
            (format!("{A},12ab,,,,CMCC,,"), Err("msisdn")),
            (format!("{A},,123,,,CMCC,,"), Err("imsi must be exactly")),
            (format!("{A},,,V 1,,CMCC,,"), Err("virtual_no")),
            (format!("{A},,,,x,CMCC,,"), Err("carrier_id must be a")),
            (format!("{A},,,,9,,,"), Err("carrier not found")),
            (format!("{A},,,,,NOPE,,"), Err("carrier not found")),
            (format!("{A},,,,,CMCC,{long},"), Err("supplier")),
        ];
        for (line, want) in cases {
            let (task, chunk) = chunk_of(ImportType::Cards, &format!("{header}\n{line}\n"));
            let got = card_from_row(&chunk, &chunk.rows[0], &task, &carriers, None, "now");
            match (got, want) {
                (Ok(c), Ok(carrier_id)) => assert_eq!(
                    (c.iccid.as_str(), c.carrier_id, c.asset_status, c.generation),
                    (A, carrier_id, AssetStatus::InStock, 1),
                    "{line}"
                ),
                (Err(reason), Err(part)) => assert!(reason.contains(part), "{line}: {reason}"),
                (got, want) => panic!("{line}: got {got:?}, want {want:?}"),
            }
        }
    }

    #[test]
    fn card_defaults_come_from_the_task_and_shop() {
        let (mut task, chunk) = chunk_of(ImportType::Cards, &format!("iccid\n{A}\n"));
        task.carrier_id = Some(1);
        task.batch_no = Some("TB".into());
        let shop = shop();
        let card = card_from_row(
            &chunk,
            &chunk.rows[0],
            &task,
            &[carrier(1, "C")],
            Some(&shop),
            "now",
        )
        .unwrap();
        assert_eq!(
            (
                card.carrier_id,
                card.batch_no.as_deref(),
                card.shop_id,
                card.owner_path
            ),
            (1, Some("TB"), Some(5), Some(ShopPath::top(5)))
        );
        assert_eq!(
            (card.is_standalone, card.import_task_id),
            (true, Some(task.id))
        );
    }

    #[test]
    fn card_chunks_reject_values_repeated_in_the_file() {
        let csv = format!(
            "iccid,msisdn,virtual_no,carrier_code\n\
             {a},100001,V1,CMCC\n\
             bad,100002,,CMCC\n\
             {a},100003,,CMCC\n\
             {b},100001,,CMCC\n\
             {c},,V1,CMCC\n\
             {d},100004,V4,CMCC\n",
            a = A,
            b = B,
            c = C,
            d = "89860000000000000004"
        );
        let (task, chunk) = chunk_of(ImportType::Cards, &csv);
        let out = cards(&chunk, &task, &[carrier(1, "CMCC")], None, "now");
        let rows: Vec<u64> = out.valid.iter().map(|(r, _)| *r).collect();
        assert_eq!(rows, vec![1, 6]);
        let want = [
            (2, "bad", "iccid must be"),
            (3, A, "iccid duplicated in the file (row 1)"),
            (4, B, "msisdn duplicated in the file (row 1)"),
            (5, C, "virtual_no duplicated in the file (row 1)"),
        ];
        assert_failed(&out.failed, task.import_type, &want);
    }

    #[test]
    fn device_rows() {
        let header = "virtual_no,imei,sn,max_sim_slots,iccid_2,iccid_1";
        // (row, Ok(slots) or Err(reason part))
        type Want<'a> = Result<Vec<(u32, &'a str)>, &'a str>;
        let cases: Vec<(String, Want)> = vec![
            ("D1,490154203237518,SN-1,,,".into(), Ok(vec![])),
            (format!("D1,,,2,{B},{A}"), Ok(vec![(1, A), (2, B)])),
            (format!("D1,,,,,{A}"), Ok(vec![(1, A)])),
            (",,SN-1,,,".into(), Err("virtual_no is required")),
            ("D 1,,,,,".into(), Err("virtual_no must be")),
            (
                "D1,490154203237517,,,,".into(),
                Err("imei has an invalid check digit"),
            ),
            ("D1,,bad sn,,,".into(), Err("sn must be")),
            ("D1,,,9,,".into(), Err("max_sim_slots must be 1-8")),
            ("D1,,,0,,".into(), Err("max_sim_slots must be 1-8")),
            (
                format!("D1,,,1,{B},"),
                Err("iccid_2: slot 2 exceeds max_sim_slots 1"),
            ),
            (format!("D1,,,2,{A},{A}"), Err("appears in two slots")),
            ("D1,,,2,,bad".into(), Err("iccid_1: iccid must be")),
        ];
        for (line, want) in cases {
            let (task, chunk) = chunk_of(ImportType::Devices, &format!("{header}\n{line}\n"));
            let got = device_from_row(&chunk, &chunk.rows[0], &task, None, "now");
            match (got, want) {
                (Ok(new), Ok(slots)) => {
                    let got: Vec<(u32, &str)> =
                        new.slots.iter().map(|(s, i)| (*s, i.as_str())).collect();
                    assert_eq!(got, slots, "{line}");
                    assert_eq!(new.device.virtual_no, "D1", "{line}");
                }
                (Err(reason), Err(part)) => assert!(reason.contains(part), "{line}: {reason}"),
                (got, want) => panic!("{line}: got {got:?}, want {want:?}"),
            }
        }
        // A slot column named `iccid_0` is no slot.
        let (task, chunk) = chunk_of(
            ImportType::Devices,
            &format!("virtual_no,iccid_0\nD1,{A}\n"),
        );
        let got = device_from_row(&chunk, &chunk.rows[0], &task, None, "now");
        assert!(got.is_err_and(|e| e.contains("slot 0")));
    }

    #[test]
    fn device_chunks_reject_repeated_virtual_numbers() {
        let csv = "virtual_no,imei\nD1,\nD2,123\nD1,\nD3,\nD1,\n";
        let (task, chunk) = chunk_of(ImportType::Devices, csv);
        let out = devices(&chunk, &task, None, "now");
        let rows: Vec<u64> = out.valid.iter().map(|(r, _)| *r).collect();
        assert_eq!(rows, vec![1, 4]);
        let want = [
            (2, "D2", "imei"),
            (3, "D1", "virtual_no duplicated in the file (row 1)"),
            (5, "D1", "virtual_no duplicated in the file (row 1)"),
        ];
        assert_failed(&out.failed, ImportType::Devices, &want);
    }

    #[test]
    fn fill_rows() {
        let csv =
            format!("iccid,virtual_no\n{A},V1\nbad,V2\n{B},\n{B},V 2\n{A},V3\n{C},V1\n{B},V2\n");
        let (task, chunk) = chunk_of(ImportType::VirtualNo, &csv);
        let out = fills(&chunk, &task);
        let valid: Vec<(u64, &str, &str)> = out
            .valid
            .iter()
            .map(|(r, f)| (*r, f.iccid.as_str(), f.virtual_no.as_str()))
            .collect();
        assert_eq!(valid, vec![(1, A, "V1"), (7, B, "V2")]);
        let want = [
            (2, "bad", "iccid must be"),
            (3, B, "virtual_no is required"),
            (4, B, "virtual_no must be"),
            (5, A, "iccid duplicated in the file (row 1)"),
            (6, C, "virtual_no V1 duplicated in the file (row 1)"),
        ];
        assert_failed(&out.failed, task.import_type, &want);
    }
}
