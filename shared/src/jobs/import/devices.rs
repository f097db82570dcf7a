//! Writing the device rows of a chunk (jobs.md J17): each device with its uniqueness
//! items, its slot bindings and the bound cards' updates, many devices per
//! transaction ([`group`]); a device naming a slot card an earlier row of the chunk
//! binds is written after it, and fails as that card is no longer standalone.

use super::group::{self, GroupRow, Verdict};
use super::{conflict_reason, rows, target_shop, Outcome};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::assets::{Device, ImportTask, IotCard, SimBinding};
use crate::jobs::import::chunk::Chunk;
use crate::jobs::sqs::JobError;
use crate::store::assets::{bind_ops, device_item};
use crate::store::imports::{import_unique, Holder, Unique};
use crate::store::tx::{FailedCondition, Tx};
use crate::store::StoreError;

/// A valid device row to write.
struct DeviceRow {
    row: u64,
    device: Device,
    /// The cards to bind, by slot.
    bound: Vec<(u32, IotCard)>,
    now: String,
}

impl GroupRow for DeviceRow {
    fn row(&self) -> u64 {
        self.row
    }

    fn name(&self) -> &str {
        &self.device.virtual_no
    }

    fn ops(&self, tx: Tx, task: u64) -> Result<Tx, StoreError> {
        device_ops(tx, &self.device, &self.bound, task, self.row, &self.now)
    }

    fn verdict(&mut self, failed: &FailedCondition, task: u64) -> Verdict {
        let holder = Holder::of_failed(failed);
        Verdict::Failed(match failed.label {
            "virtual_no" if holder.written_by(task, self.row) => return Verdict::Done,
            "virtual_no" | "imei" | "sn" => conflict_reason(&holder, task, failed.label),
            "card" => "a slot card was bound meanwhile".to_string(),
            _ => "could not be written".to_string(),
        })
    }
}

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
    let rows = todo
        .into_iter()
        .zip(first_id..)
        .map(|((row, mut device, bound), id)| {
            device.id = id;
            device.bound_card_count = bound.len() as u32;
            DeviceRow {
                row,
                device,
                bound,
                now: now.clone(),
            }
        })
        .collect();
    let written = group::write_all(store, task, rows).await?;
    out.success += written.success;
    out.failed.extend(written.failed);
    Ok(out)
}

/// Adds to `tx` the operations creating `device` (row `row` of task `task`): the
/// device, its unique values (labelled by field) and the bindings of its slot cards.
fn device_ops(
    tx: Tx,
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
    let mut tx = tx.put_new("device", device_item(device)?);
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
        tx = bind_ops(tx, &binding, card.shop_id, None)?;
    }
    Ok(tx)
}
