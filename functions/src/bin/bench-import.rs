//! Import benchmark against the local stack (run by `scripts/bench-import.sh`):
//! imports two generated card files through the real upload, queue and worker code
//! and prints the DynamoDB calls each costs per row (the figure that carries over to
//! DynamoDB): first `ROWS` fresh rows, then `ROWS` rows of which `DUP_PCT` percent
//! conflict (ICCIDs, MSISDNs and virtual numbers of the first file, ICCIDs repeated
//! within the file), then the first file again (every row a duplicate). Rows/s end to end and the CPU-only rate of the production parser
//! (`jobs::import::chunk::parse` and `jobs::import::rows::cards`) are side notes:
//! against the emulator, the former measures the emulator.

use std::time::Instant;

use shared::app::AppState;
use shared::config::Config;
use shared::domain::assets::{ImportTask, ImportType};
use shared::domain::caller::Caller;
use shared::domain::entities::Carrier;
use shared::domain::org::UserType;
use shared::jobs::import::{chunk, rows};
use shared::local::LocalError;
use shared::services::imports::{self, CreateImport, ImportRoute};
use shared::store::calls::counted;

const HEADER: &str = "iccid,msisdn,virtual_no,carrier_code,batch_no\n";

/// Row values of the second file start here (the first file's are `0..ROWS`).
const SECOND: u64 = 10_000_000;

#[tokio::main]
async fn main() -> Result<(), LocalError> {
    let env = |name: &str, default: u64| {
        std::env::var(name)
            .ok()
            .and_then(|r| r.parse().ok())
            .unwrap_or(default)
    };
    let rows = env("ROWS", 2_000);
    let dup_pct = env("DUP_PCT", 10).clamp(1, 50);
    let endpoint = std::env::var("CMP_AWS_ENDPOINT")?;
    let run = uuid_like();
    let mut cfg = Config::for_local(&format!("bench-{run}"), &endpoint);
    cfg.bucket = format!("bench-{run}");
    let state = shared::local::ensure(cfg, &endpoint, &format!("bench-{run}.fifo")).await?;
    let carrier = shared::local::scale::bench_carrier(&state.store).await?;

    let mut fresh = HEADER.to_string();
    for i in 0..rows {
        fresh.push_str(&row(i, i, i));
    }
    // Every `step`-th row conflicts, in turn: an ICCID, an MSISDN or a virtual number
    // of the first file, or the ICCID of the row before it.
    let step = 100 / dup_pct;
    let mut dups = HEADER.to_string();
    let mut conflicts = 0u64;
    for i in 0..rows {
        let own = SECOND + i;
        dups.push_str(&if i % step == step - 1 {
            conflicts += 1;
            match conflicts % 4 {
                1 => row(i, own, own),
                2 => row(own, i, own),
                3 => row(own, own, i),
                _ => row(own - 1, own, own),
            }
        } else {
            row(own, own, own)
        });
    }
    println!(
        "rows: {rows} per file ({:.2} MB); second file: {conflicts} conflicting rows ({dup_pct}%)",
        fresh.len() as f64 / 1e6
    );
    let cpu = parse_and_validate(fresh.as_bytes(), state.cfg.import_chunk_bytes, &carrier)?;
    let mut rates = Vec::new();
    let files = [
        ("fresh rows", fresh.clone()),
        ("with duplicates", dups),
        ("the first file again", fresh),
    ];
    for (name, csv) in files {
        let started = Instant::now();
        let (task, calls) = counted(import(&state, &run, name, csv)).await;
        let task = task?;
        rates.push(task.total_count as f64 / started.elapsed().as_secs_f64());
        println!(
            "{name}: {} rows, {} ok, {} failed ({:?}): {calls} DynamoDB calls = {:.3} per row",
            task.total_count,
            task.success_count,
            task.fail_count,
            task.status,
            calls as f64 / rows as f64
        );
    }
    let rates: Vec<String> = rates.iter().map(|r| format!("{r:.0}")).collect();
    println!(
        "side notes: end to end against the emulator {} rows/s; parse+validate (CPU only) {cpu:.0} rows/s",
        rates.join(" / ")
    );
    Ok(())
}

/// A card row with ICCID `iccid`, MSISDN `msisdn` and virtual number `vn` (numbers).
fn row(iccid: u64, msisdn: u64, vn: u64) -> String {
    format!(
        "8986{iccid:016},{},VN{vn:08},CMCC,BENCH\n",
        10_000_000_000u64 + msisdn
    )
}

/// Uploads `csv` and imports it through the queue.
async fn import(
    state: &AppState,
    run: &str,
    name: &str,
    csv: String,
) -> Result<ImportTask, LocalError> {
    let key = format!(
        "uploads/iot_card_import/1/bench/{run}-{}.csv",
        name.replace(' ', "-")
    );
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
    run_task(state, &caller, key).await
}

/// Registers the uploaded file as a card import and pumps the queue until the task
/// has finished.
async fn run_task(
    state: &AppState,
    caller: &Caller,
    file_key: String,
) -> Result<ImportTask, LocalError> {
    let req = CreateImport {
        file_key: Some(file_key),
        import_type: None,
        batch_no: None,
        carrier_id: None,
        shop_id: None,
        content_type: None,
        size: None,
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
/// `chunk_bytes`, as the worker reads it; returns the rows validated per second.
fn parse_and_validate(csv: &[u8], chunk_bytes: i64, carrier: &Carrier) -> Result<f64, LocalError> {
    let started = Instant::now();
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
            return Ok(valid as f64 / started.elapsed().as_secs_f64());
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
