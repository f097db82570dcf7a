//! Import benchmark against the local stack (run by `scripts/bench-import.sh`):
//! generates an N-row card CSV, uploads it, imports it through the real queue and
//! worker code, and prints rows/s end to end, DynamoDB calls per row, and the
//! CPU-only rate of the production parser (`jobs::import::chunk::parse` and
//! `jobs::import::rows::cards`, chunk by chunk as the worker reads the file).

use std::time::Instant;

use shared::config::Config;
use shared::domain::assets::{ImportTask, ImportType};
use shared::domain::caller::Caller;
use shared::domain::entities::{Carrier, RealnameLinkType};
use shared::domain::org::{Status, UserType};
use shared::jobs::import::{chunk, rows};
use shared::services::imports::{self, CreateImport, ImportRoute};
use shared::store::calls::counted;
use shared::store::org::carrier_item;

#[tokio::main]
async fn main() -> Result<(), shared::local::LocalError> {
    let rows: u64 = std::env::var("ROWS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(100_000);
    let endpoint = std::env::var("CMP_AWS_ENDPOINT")?;
    let run = uuid_like();
    let mut cfg = Config::for_local(&format!("bench-{run}"), &endpoint);
    cfg.bucket = format!("bench-{run}");
    let state = shared::local::ensure(cfg, &endpoint, &format!("bench-{run}.fifo")).await?;
    let carrier = Carrier {
        id: 1,
        carrier_name: "China Mobile".into(),
        carrier_type: "CMCC".into(),
        carrier_code: Some("CMCC".into()),
        billing_day: 1,
        realname_link_type: RealnameLinkType::None,
        realname_link_template: None,
        status: Status::Enabled,
        created_at: String::new(),
        updated_at: String::new(),
        deleted_at: None,
        creator: 0,
        updater: 0,
        version: 1,
    };
    state.store.put(carrier_item(&carrier)?).await?;

    let mut csv = String::from("iccid,msisdn,virtual_no,carrier_code,batch_no\n");
    for i in 0..rows {
        csv.push_str(&format!(
            "8986{i:016},{},VN{i:08},CMCC,BENCH\n",
            10_000_000_000u64 + i
        ));
    }
    println!("rows: {rows}  file: {:.1} MB", csv.len() as f64 / 1e6);

    // CPU only: parse and validate every row, chunk by chunk (no I/O).
    let started = Instant::now();
    let valid = parse_and_validate(csv.as_bytes(), state.cfg.import_chunk_bytes, &carrier)?;
    let cpu = started.elapsed().as_secs_f64();
    if valid != rows {
        return Err(format!("{valid} of {rows} rows valid").into());
    }
    println!("parse+validate (CPU only): {:.0} rows/s", rows as f64 / cpu);

    // End to end: upload, register, process every chunk through the queue.
    let key = format!("uploads/iot_card_import/1/bench/{run}.csv");
    state
        .s3()?
        .put_object()
        .bucket(&state.cfg.bucket)
        .key(&key)
        .body(csv.into_bytes().into())
        .send()
        .await?;
    let caller = Caller {
        account_id: 1,
        username: "bench".into(),
        user_type: UserType::SuperAdmin,
        shop_id: None,
        shop_path: None,
        enterprise_id: None,
        role_ids: Vec::new(),
        grants: shared::domain::permissions::Grants::Everything,
    };
    let started = Instant::now();
    let (task, calls) = counted(import(&state, &caller, key)).await;
    let task = task?;
    let wall = started.elapsed().as_secs_f64();
    println!(
        "end to end: {} rows in {wall:.1} s = {:.0} rows/s; status {:?}, {} ok, {} failed",
        task.total_count,
        task.total_count as f64 / wall,
        task.status,
        task.success_count,
        task.fail_count
    );
    println!(
        "DynamoDB calls: {calls} ({:.3} per row)",
        calls as f64 / rows as f64
    );
    Ok(())
}

/// Registers the uploaded file as a card import and pumps the queue until the task
/// has finished.
async fn import(
    state: &shared::app::AppState,
    caller: &Caller,
    file_key: String,
) -> Result<ImportTask, shared::local::LocalError> {
    let req = CreateImport {
        file_key,
        import_type: None,
        batch_no: None,
        carrier_id: None,
        shop_id: None,
    };
    let created = imports::create(state, caller, ImportRoute::Cards, req).await?;
    loop {
        shared::local::pump_import_queue(state, 1).await?;
        match state.store.import_task(created.task_id).await? {
            Some(t) if t.status.is_finished() => return Ok(t),
            Some(_) => continue,
            None => return Err("the import task disappeared".into()),
        }
    }
}

/// Runs the worker's parser and card validation over `csv` in chunks of
/// `chunk_bytes`, as the worker reads it; returns the number of valid rows.
fn parse_and_validate(
    csv: &[u8],
    chunk_bytes: i64,
    carrier: &Carrier,
) -> Result<u64, shared::local::LocalError> {
    let mut task = ImportTask::new(0, ImportType::Cards, String::new(), 1, String::new());
    let chunk_bytes = chunk_bytes.max(1) as usize;
    let mut valid = 0u64;
    loop {
        let start = task.next_offset as usize;
        let end = (start + chunk_bytes).min(csv.len());
        let bytes = csv.get(start..end).unwrap_or_default();
        let chunk = chunk::parse(&task, bytes, end >= csv.len())?;
        let checked = rows::cards(&chunk, &task, std::slice::from_ref(carrier), None, "now");
        valid += checked.valid.len() as u64;
        if chunk.eof {
            return Ok(valid);
        }
        task.next_offset = chunk.next_offset;
        task.next_row = chunk.last_row;
        task.columns = chunk.header;
    }
}

fn uuid_like() -> String {
    format!(
        "{:x}",
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos())
    )
}
