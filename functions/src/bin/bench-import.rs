//! Import benchmark against the local stack (run by `scripts/bench-import.sh`):
//! generates an N-row card CSV, uploads it, imports it through the real queue and
//! worker code, and prints rows/s end to end, DynamoDB calls, and the CPU-only
//! parse+validate rate.

use std::collections::HashMap;
use std::time::Instant;

use shared::config::Config;
use shared::domain::assets::{ImportStatus, ImportTask, ImportType};
use shared::domain::caller::Caller;
use shared::domain::entities::{Carrier, RealnameLinkType};
use shared::domain::org::{Status, UserType};
use shared::jobs::import::{card_from_row, Chunk};
use shared::services::imports::{self, CreateImport, ImportRoute};
use shared::store::assets::import_key;
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

    // CPU only: parse and validate every row (no I/O).
    let started = Instant::now();
    let task = fake_task();
    let header = ["iccid", "msisdn", "virtual_no", "carrier_code", "batch_no"]
        .map(String::from)
        .to_vec();
    let columns: HashMap<String, usize> = header
        .iter()
        .enumerate()
        .map(|(i, c)| (c.clone(), i))
        .collect();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(csv.as_bytes());
    let mut parsed = Vec::new();
    for (n, record) in reader.records().enumerate() {
        parsed.push((
            n as u64 + 1,
            record?.iter().map(str::to_string).collect::<Vec<_>>(),
        ));
    }
    let chunk = Chunk {
        columns,
        header,
        rows: parsed,
        next_offset: 0,
        last_row: 0,
        eof: true,
    };
    let mut valid = 0u64;
    for (_, fields) in &chunk.rows {
        valid += card_from_row(
            &chunk,
            fields,
            &task,
            std::slice::from_ref(&carrier),
            None,
            "now",
        )
        .is_ok() as u64;
    }
    let cpu = started.elapsed().as_secs_f64();
    assert_eq!(valid, rows);
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
    };
    let started = Instant::now();
    let (task, calls) = counted(async {
        let req = CreateImport {
            file_key: key,
            import_type: None,
            batch_no: None,
            carrier_id: None,
            shop_id: None,
        };
        let task = imports::create(&state, &caller, ImportRoute::Cards, req)
            .await
            .expect("create");
        loop {
            let n = shared::local::pump_import_queue(&state, 1)
                .await
                .expect("pump");
            let t: ImportTask = state
                .store
                .get_as(&import_key(task.id))
                .await
                .expect("read")
                .expect("task");
            if n == 0 && matches!(t.status, ImportStatus::Completed | ImportStatus::Failed) {
                return t;
            }
        }
    })
    .await;
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

fn fake_task() -> ImportTask {
    ImportTask {
        id: 0,
        task_no: String::new(),
        import_type: ImportType::Cards,
        file_key: String::new(),
        status: ImportStatus::Processing,
        carrier_id: None,
        batch_no: None,
        shop_id: None,
        total_count: 0,
        success_count: 0,
        fail_count: 0,
        next_offset: 0,
        next_row: 0,
        columns: Vec::new(),
        error: None,
        created_by: 1,
        created_at: String::new(),
        started_at: None,
        finished_at: None,
        version: 1,
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
