//! Writing the device rows of a chunk (jobs.md J17): one transaction per device with
//! its uniqueness items, its slot bindings and the bound cards' updates.

use super::{conflict_reason, rows, target_shop, Outcome};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::assets::{Device, ImportTask, IotCard, SimBinding};
use crate::jobs::import::chunk::Chunk;
use crate::jobs::sqs::JobError;
use crate::store::assets::{bind_ops, device_item};
use crate::store::imports::{import_unique, Holder, Unique};
use crate::store::tx::Tx;

/// Validates and writes the device rows of a chunk (without recording progress).
pub async fn import(
    state: &AppState,
    task: &ImportTask,
    chunk: &Chunk,
) -> Result<Outcome, JobError> {
    let store = &state.store;
    let shop = target_shop(store, task).await?;
    let now = rfc3339(state.clock.now());
    let checked = rows::devices(chunk, task, shop.as_ref(), &now);
    let mut out = Outcome::rejected(checked.failed);
    // Slot cards and existing virtual numbers, each looked up in one pass.
    let slot_iccids: Vec<String> = checked
        .valid
        .iter()
        .flat_map(|(_, d)| d.slots.iter().map(|(_, iccid)| iccid.clone()))
        .collect();
    let cards = store.live_cards_by_iccid(&slot_iccids).await?;
    let vnos: Vec<String> = checked
        .valid
        .iter()
        .map(|(_, d)| d.device.virtual_no.clone())
        .collect();
    let existing = store.unique_holders(Unique::DeviceVirtualNo, &vnos).await?;
    let mut todo = Vec::new();
    'rows: for (row, new) in checked.valid {
        let vno = new.device.virtual_no.as_str();
        match existing.get(vno) {
            Some(h) if h.written_by(task.id, row) => {
                out.success += 1;
                continue;
            }
            Some(h) => {
                out.fail(task, row, vno, conflict_reason(h, task.id, "virtual_no"));
                continue;
            }
            None => {}
        }
        let mut bound: Vec<(u32, IotCard)> = Vec::new();
        for (slot, iccid) in &new.slots {
            let reason = match cards.get(iccid) {
                None => format!("slot {slot}: card {iccid} not found"),
                Some(card) if !card.is_standalone => {
                    format!("slot {slot}: card {iccid} is already bound to a device")
                }
                Some(card) if card.shop_id != new.device.shop_id => {
                    format!("slot {slot}: card {iccid} belongs to another owner")
                }
                Some(card) => {
                    bound.push((*slot, card.clone()));
                    continue;
                }
            };
            out.fail(task, row, vno, reason);
            continue 'rows;
        }
        todo.push((row, new.device, bound));
    }
    if todo.is_empty() {
        return Ok(out);
    }
    let first_id = store.next_ids("device", todo.len() as u64).await?;
    for ((row, mut device, bound), id) in todo.into_iter().zip(first_id..) {
        device.id = id;
        device.bound_card_count = bound.len() as u32;
        let tx = device_tx(&device, &bound, task.id, row, &now)?;
        match store.transact(tx).await {
            Ok(()) => out.success += 1,
            Err(e) => {
                let Some((label, holder)) = Holder::of_conflict(&e) else {
                    return Err(e.into());
                };
                let reason = match label {
                    "virtual_no" if holder.written_by(task.id, row) => {
                        out.success += 1;
                        continue;
                    }
                    "virtual_no" | "imei" | "sn" => conflict_reason(&holder, task.id, label),
                    "card" => "a slot card was bound meanwhile".to_string(),
                    _ => "could not be written".to_string(),
                };
                out.fail(task, row, &device.virtual_no, reason);
            }
        }
    }
    Ok(out)
}

/// The transaction creating `device` (row `row` of task `task`): the device, its
/// unique values (labelled by field) and the bindings of its slot cards.
fn device_tx(
    device: &Device,
    bound: &[(u32, IotCard)],
    task: u64,
    row: u64,
    now: &str,
) -> Result<Tx, crate::store::StoreError> {
    let values = [
        (Unique::DeviceVirtualNo, Some(device.virtual_no.as_str())),
        (Unique::Imei, device.imei.as_deref()),
        (Unique::Sn, device.sn.as_deref()),
    ];
    let mut tx = Tx::new().put_new("device", device_item(device)?);
    for (kind, value) in values {
        if let Some(value) = value {
            tx = tx.put_new(
                kind.field(),
                import_unique(kind, value, device.id, task, row),
            );
        }
    }
    for (slot, card) in bound {
        let binding = SimBinding {
            device_id: device.id,
            iot_card_id: card.id,
            iccid: card.iccid.clone(),
            slot_position: *slot,
            bound_at: now.to_string(),
        };
        tx = bind_ops(tx, &binding, card.shop_id)?;
    }
    Ok(tx)
}
