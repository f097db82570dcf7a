//! Commission benchmark against the local stack (run by
//! `scripts/bench-commission.sh`): ORDERS (default 10 000) paid client orders sold by
//! the last shop of a 7-level chain L1 → … → L7, each one message on the
//! `commission-calculation` queue, drained by CONSUMERS (2) concurrent handler
//! invocations of BATCH (10, at most 10) messages each, as Lambda's event source
//! mapping would run them. Prints calculations and commission records per second,
//! DynamoDB calls per order (with what the calculation retried), then checks that
//! every order settled, the seven commission wallets against ORDERS × each level's
//! share, and their ledgers against the wallets.
//!
//! Set-up (not measured) goes through the HTTP router in process, as the integration
//! tests do: the shops with their agents, a series, a package, the series grants
//! down the chain (cost 8 000 fen at L1, 500 more at each level), L7's retail price
//! 15 000, CARDS (16) cards imported through the import queue and allocated level by
//! level to L7. The orders are written straight to the table (what the client
//! purchase flow writes: paid, commission `due`), CARDS at a time, one lane per card
//! (an order moves its card's usage head).
//!
//! The messages are fed as orders settle, at most [`BACKLOG`] (100) in the queue: the
//! emulator's SQS scans every message it holds on each send, receive and delete, so
//! 10 000 queued messages would measure that (seconds per receive), not the
//! consumer. SQS's cost does not grow with the queue's depth.
//!
//! Every calculation writes the same seven commission wallets, so concurrent
//! consumers contend: a calculation whose wallets moved is read and built again
//! (counted from the calculation's own debug event). The emulator (one Python
//! process, DynamoDB requests serialised) serves every call; it, not DynamoDB, is the
//! limit of the absolute figures.

#![recursion_limit = "256"]

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

use shared::api::extract::ClientIp;
use shared::app::AppState;
use shared::config::{Config, JobQueue};
use shared::domain::assets::AssetType;
use shared::domain::orders::{Order, OrderItem, PaymentMethod, PaymentStatus, PurchaseRole};
use shared::domain::wallet::WalletKind;
use shared::jobs::commission::CalculationMessage;
use shared::local::LocalError;
use shared::store::calls::measured;
use shared::store::keys::{ORDERS_COMMISSION_DUE, ORDERS_COMMISSION_FAILED};

const ADMIN_PASSWORD: &str = "Bench#2026admin";
/// Chain length (the commission chain's maximum).
const LEVELS: usize = 7;
/// L1's cost price (fen); each level below pays `STEP` more.
const L1_COST: i64 = 8_000;
const STEP: i64 = 500;
/// L7's retail price, the price of every order.
const RETAIL: i64 = 15_000;
/// A consumer gives up after this long without a settled order (a failed message
/// comes back only after the queue's visibility timeout, 180 s).
const STALL: Duration = Duration::from_secs(240);
/// Messages at most in the queue, not yet settled (see [`feed`]), unless the
/// consumers hold more at once: then twice what they hold.
const BACKLOG: usize = 100;

fn env_number(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

async fn local_state() -> Result<AppState, LocalError> {
    let endpoint = std::env::var("CMP_AWS_ENDPOINT").map_err(|_| "CMP_AWS_ENDPOINT is not set")?;
    let unique = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_nanos();
    let table = format!("bench-comm-{unique}");
    let mut cfg = Config::for_local(&table, &endpoint);
    cfg.bucket = table.clone();
    cfg.super_admin_password = Some(ADMIN_PASSWORD.into());
    let state = shared::local::ensure(cfg, &endpoint, &format!("{table}.fifo")).await?;
    shared::services::auth::bootstrap(&state).await?;
    Ok(state)
}

/// The router in process, called as the integration tests call it.
struct Api {
    router: axum::Router,
}

impl Api {
    /// Sends a JSON request; answers the envelope's data, or an error unless it
    /// succeeded.
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Result<Value, LocalError> {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header("authorization", format!("Bearer {t}"));
        }
        let body = match body {
            Some(b) => {
                req = req.header("content-type", "application/json");
                Body::from(b.to_string())
            }
            None => Body::empty(),
        };
        let mut req = req.body(body)?;
        req.extensions_mut().insert(ClientIp("127.0.0.1".into()));
        let res = self.router.clone().oneshot(req).await?;
        let status = res.status();
        let bytes = res.into_body().collect().await?.to_bytes();
        let answer: Value = serde_json::from_slice(&bytes)?;
        if status != StatusCode::OK || answer.get("code").and_then(Value::as_i64) != Some(0) {
            return Err(format!("{method} {path}: {status} {answer}").into());
        }
        Ok(answer.get("data").cloned().unwrap_or(Value::Null))
    }

    async fn post(&self, path: &str, token: &str, body: Value) -> Result<Value, LocalError> {
        self.call("POST", path, Some(token), Some(body)).await
    }

    async fn get(&self, path: &str, token: &str) -> Result<Value, LocalError> {
        self.call("GET", path, Some(token), None).await
    }

    async fn login(&self, username: &str, password: &str) -> Result<String, LocalError> {
        let body = json!({"username": username, "password": password});
        let data = self
            .call("POST", "/api/admin/login", None, Some(body))
            .await?;
        Ok(text(&data, "access_token")?.to_string())
    }
}

fn id(v: &Value, field: &str) -> Result<u64, LocalError> {
    v.get(field)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("no {field} in {v}").into())
}

fn text<'a>(v: &'a Value, field: &str) -> Result<&'a str, LocalError> {
    v.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| format!("no {field} in {v}").into())
}

fn iccid(n: u64) -> String {
    format!("8986{n:016}")
}

/// The chain as set up: shop ids and agent tokens, L1 first.
struct Chain {
    sa: String,
    shops: Vec<u64>,
    agents: Vec<String>,
    package: u64,
    /// Card ids in L7's stock.
    cards: Vec<u64>,
}

impl Chain {
    /// The token that allocates to level `i` (0-based): the platform for L1, the
    /// agent of the level above otherwise.
    fn above(&self, i: usize) -> &str {
        match i.checked_sub(1).and_then(|j| self.agents.get(j)) {
            Some(t) => t,
            None => &self.sa,
        }
    }
}

/// Cost price of level `i` (0-based).
fn cost(i: usize) -> i64 {
    L1_COST + STEP * i as i64
}

/// The commission of level `i` (0-based) per order: the price of the level below
/// (L7's retail price for L7) less its own cost.
fn share(i: usize) -> i64 {
    if i + 1 == LEVELS {
        RETAIL - cost(i)
    } else {
        cost(i + 1) - cost(i)
    }
}

async fn set_up(state: &AppState, cards: usize) -> Result<Chain, LocalError> {
    let api = Api {
        router: shared::api::app(state.clone()),
    };
    let sa = api.login("admin", ADMIN_PASSWORD).await?;
    let roles = api.get("/api/admin/roles", &sa).await?;
    let role = roles
        .get("list")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find(|r| r.get("role_name").and_then(Value::as_str) == Some("代理商管理员"))
        .ok_or("the built-in agent role is missing")?;
    let role = id(role, "id")?;
    let mut shops = Vec::new();
    let mut agents = Vec::new();
    for level in 1..=LEVELS {
        let code = format!("L{level}");
        let body = json!({
            "shop_name": format!("Shop {code}"),
            "shop_code": code,
            "parent_id": shops.last(),
            "default_role_id": role,
            "contact_phone": "13800138000",
            "initial_account": {"username": format!("{code}-agent"), "password": format!("password-{code}")}
        });
        shops.push(id(&api.post("/api/admin/shops", &sa, body).await?, "id")?);
        agents.push(
            api.login(&format!("{code}-agent"), &format!("password-{code}"))
                .await?,
        );
    }
    let series = id(
        &api.post(
            "/api/admin/package-series",
            &sa,
            json!({"series_name": "S", "series_code": "S", "commission_type": "fixed", "commission_amount": 1000}),
        )
        .await?,
        "id",
    )?;
    let package = id(
        &api.post(
            "/api/admin/packages",
            &sa,
            json!({
                "package_code": "P", "package_name": "Package P",
                "package_series_id": series, "package_type": "formal",
                "real_data_mb": 10240, "virtual_data_mb": 8000, "enable_virtual_data": true,
                "calendar_type": "natural_month", "duration_months": 1,
                "data_reset_cycle": "monthly", "suggested_retail_price": RETAIL, "cost_price": 5000
            }),
        )
        .await?,
        "id",
    )?;
    let mut chain = Chain {
        sa,
        shops,
        agents,
        package,
        cards: Vec::new(),
    };
    for (i, shop) in chain.shops.iter().enumerate() {
        let body = json!({
            "shop_id": shop, "series_id": series, "one_time_commission_amount": 0,
            "packages": [{"package_id": package, "cost_price": cost(i)}]
        });
        api.post("/api/admin/shop-series-grants", chain.above(i), body)
            .await?;
    }
    let l7 = chain.agents.last().ok_or("no L7 agent")?;
    api.call(
        "PATCH",
        &format!("/api/admin/packages/{package}/retail-price"),
        Some(l7),
        Some(json!({"retail_price": RETAIL})),
    )
    .await?;

    // Cards: imported through the import queue, then allocated down the chain.
    api.post(
        "/api/admin/carriers",
        &chain.sa,
        json!({"carrier_name": "China Mobile", "carrier_type": "CMCC", "carrier_code": "CMCC", "billing_day": 1}),
    )
    .await?;
    let mut csv = String::from("iccid,msisdn,imsi,virtual_no,carrier_code,batch_no\n");
    for n in 1..=cards as u64 {
        csv.push_str(&format!("{},{},,,CMCC,B1\n", iccid(n), 13_800_000_000 + n));
    }
    let upload = api
        .post(
            "/api/admin/storage/upload-url",
            &chain.sa,
            json!({"file_name": "cards.csv", "content_type": "text/csv", "purpose": "iot_card_import", "size": csv.len()}),
        )
        .await?;
    let key = text(&upload, "file_key")?.to_string();
    state
        .s3()?
        .put_object()
        .bucket(&state.cfg.bucket)
        .key(&key)
        .content_type("text/csv")
        .body(csv.into_bytes().into())
        .send()
        .await?;
    let task = api
        .post(
            "/api/admin/iot-cards/import",
            &chain.sa,
            json!({"file_key": key}),
        )
        .await?;
    let task = id(&task, "task_id")?;
    let mut finished = None;
    for _ in 0..500 {
        let t = api
            .get(
                &format!("/api/admin/iot-cards/import/tasks/{task}"),
                &chain.sa,
            )
            .await?;
        if matches!(text(&t, "status")?, "completed" | "failed") {
            finished = Some(t);
            break;
        }
        shared::local::pump_import_events(state, 0).await?;
        shared::local::pump_import_queue(state, 1).await?;
    }
    let finished = finished.ok_or("the card import did not finish")?;
    if finished.get("success_count").and_then(Value::as_u64) != Some(cards as u64) {
        return Err(format!("card import: {finished}").into());
    }
    let iccids: Vec<String> = (1..=cards as u64).map(iccid).collect();
    for (i, shop) in chain.shops.iter().enumerate() {
        let r = api
            .post(
                "/api/admin/iot-cards/allocate",
                chain.above(i),
                json!({"to_shop_id": shop, "iccids": iccids}),
            )
            .await?;
        if r.get("failed") != Some(&json!([])) {
            return Err(format!("allocation to L{}: {r}", i + 1).into());
        }
    }
    for c in &iccids {
        let page = api
            .get(&format!("/api/admin/iot-cards?iccid={c}"), &chain.sa)
            .await?;
        let card = page
            .get("list")
            .and_then(Value::as_array)
            .and_then(|l| l.first())
            .ok_or_else(|| format!("card {c} not found"))?;
        chain.cards.push(id(card, "id")?);
    }
    Ok(chain)
}

/// A paid client order of L7 at its retail price for `card`, commission due (what
/// the client purchase flow writes; as `client_order` of the commission tests).
fn client_order(id: u64, seller: u64, package: u64, card: u64, now: i64) -> Order {
    Order {
        id,
        order_no: shared::domain::orders::order_no(id, now),
        order_type: 1,
        buyer_type: "personal".into(),
        buyer_id: None,
        iot_card_id: Some(card),
        device_id: None,
        seller_shop_id: Some(seller),
        total_amount: RETAIL,
        actual_paid_amount: Some(RETAIL),
        payment_method: PaymentMethod::Wechat,
        payment_status: PaymentStatus::Paid,
        payment_config_id: None,
        paid_at: Some(now),
        pay_by: None,
        source: "client".into(),
        generation: 1,
        operator_id: None,
        operator_account_id: 0,
        operator_type: "personal_customer".into(),
        operator_name: "customer".into(),
        purchase_role: PurchaseRole::SelfPurchase,
        is_purchase_on_behalf: false,
        buyer_name: None,
        frozen_amount: 0,
        items: vec![OrderItem {
            package_id: package,
            package_name: "Package P".into(),
            unit_price: RETAIL,
            quantity: 1,
            amount: RETAIL,
        }],
        usage_ids: vec![],
        commission_status: Some("due".into()),
        commission_error: None,
        created_at: now,
        version: 1,
    }
}

/// Writes `orders` orders, one lane per card (each order moves its card's usage
/// head, so a lane writes its card's orders one after another); answers their ids.
async fn write_orders(
    state: &AppState,
    chain: &Chain,
    orders: usize,
) -> Result<Vec<u64>, LocalError> {
    let first = state.store.next_ids("order", orders as u64).await?;
    let ids: Vec<u64> = (first..first + orders as u64).collect();
    let seller = *chain.shops.last().ok_or("no L7")?;
    let lanes = chain.cards.len().max(1);
    let mut set = tokio::task::JoinSet::new();
    for (lane, &card) in chain.cards.iter().enumerate() {
        let mine: Vec<u64> = ids.iter().copied().skip(lane).step_by(lanes).collect();
        let (state, package) = (state.clone(), chain.package);
        set.spawn(async move {
            let store = &state.store;
            let (mut head, _) = store
                .usage_head_and_shop_names(AssetType::Card, card, &[])
                .await?;
            for id in mine {
                let now = state.clock.now();
                let order = client_order(id, seller, package, card, now);
                let tx = shared::store::orders::new_order_ops(
                    shared::store::tx::Tx::new(),
                    &order,
                    &format!("client-{id}"),
                    (AssetType::Card, card, head),
                    now,
                )?;
                store.transact(tx).await?;
                head += 1;
            }
            Ok::<_, LocalError>(())
        });
    }
    while let Some(done) = set.join_next().await {
        done??;
    }
    Ok(ids)
}

/// Sends the calculation messages of `ids` from the `from`-th on (one per order,
/// SendMessageBatch of 10), keeping at most `backlog` messages not yet settled in
/// the queue; answers the batches sent. The emulator's queue scans every message it holds on each send,
/// receive and delete (SQS does not), so a deep queue would measure the emulator.
async fn feed(
    queue: shared::integrations::fifo::SqsQueue,
    ids: Arc<Vec<u64>>,
    settled: Arc<AtomicUsize>,
    (from, backlog): (usize, usize),
) -> Result<usize, LocalError> {
    let mut sent = from;
    let mut batches = 0;
    while sent < ids.len() {
        let queued = sent.saturating_sub(settled.load(Ordering::Relaxed));
        if queued + 10 > backlog {
            tokio::time::sleep(Duration::from_millis(5)).await;
            continue;
        }
        let n = (backlog - queued).min(ids.len() - sent);
        let bodies: Vec<(CalculationMessage, i32)> = ids
            .iter()
            .skip(sent)
            .take(n)
            .map(|&order_id| (CalculationMessage { order_id }, 0))
            .collect();
        queue.send_batch(&bodies).await?;
        sent += n;
        batches += n.div_ceil(10);
    }
    Ok(batches)
}

/// What one receive did.
struct Pumped {
    received: usize,
    failed: usize,
    /// The orders of the messages handled and deleted.
    done: Vec<u64>,
    /// Time in the handler.
    handling: Duration,
}

/// Receives up to `batch` messages of the commission queue, hands them to the
/// handler as one SQS event and deletes those it did not report failed (as
/// `shared::local::pump_job_queue`, which always receives up to 10), with a 1 s long
/// poll as Lambda's event source mapping makes.
async fn pump(state: &AppState, url: &str, batch: i32) -> Result<Pumped, LocalError> {
    let queue = state.job_queue(JobQueue::CommissionCalculation);
    let out = queue
        .client()
        .receive_message()
        .queue_url(url)
        .max_number_of_messages(batch)
        .wait_time_seconds(1)
        .message_system_attribute_names("ApproximateReceiveCount".into())
        .send()
        .await?;
    let messages = out.messages.unwrap_or_default();
    if messages.is_empty() {
        return Ok(Pumped {
            received: 0,
            failed: 0,
            done: Vec::new(),
            handling: Duration::ZERO,
        });
    }
    let event = shared::local::sqs_event(&messages);
    let t = Instant::now();
    let response = shared::jobs::commission::handle(state, event).await;
    let handling = t.elapsed();
    let failed: Vec<String> = response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    let mut done = Vec::with_capacity(messages.len());
    for m in &messages {
        if failed.contains(&m.message_id.clone().unwrap_or_default()) {
            continue;
        }
        queue
            .delete(m.receipt_handle.as_deref().unwrap_or_default())
            .await?;
        let body = m.body.as_deref().unwrap_or_default();
        if let Ok(c) = serde_json::from_str::<CalculationMessage>(body) {
            done.push(c.order_id);
        }
    }
    Ok(Pumped {
        received: messages.len(),
        failed: failed.len(),
        done,
        handling,
    })
}

/// Counts the warnings and errors the service logs, and the calculation's debug
/// events (its recalculations), by level, target and message; prints nothing.
#[derive(Default)]
struct EventCounter;

static EVENTS: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

struct Message(String);

impl Message {
    /// Keeps the message first and the error or reason after it.
    fn add(&mut self, field: &str, value: String) {
        match field {
            "message" => self.0.insert_str(0, &value),
            "error" | "reason" => self.0.push_str(&format!(" ({field}: {value})")),
            _ => {}
        }
    }
}

impl tracing::field::Visit for Message {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.add(field.name(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.add(field.name(), value.to_string());
    }
}

impl tracing::Subscriber for EventCounter {
    fn enabled(&self, meta: &tracing::Metadata<'_>) -> bool {
        meta.is_event()
            && (*meta.level() <= tracing::Level::WARN
                || meta.target().starts_with("shared::services::commissions"))
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let mut message = Message(String::new());
        event.record(&mut message);
        let meta = event.metadata();
        let key = format!("{} {}: {}", meta.level(), meta.target(), message.0);
        if let Ok(mut map) = EVENTS.lock() {
            *map.entry(key).or_default() += 1;
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

fn take_events() -> BTreeMap<String, usize> {
    EVENTS
        .lock()
        .map(|mut m| std::mem::take(&mut *m))
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> Result<(), LocalError> {
    let orders = env_number("ORDERS", 10_000).max(1);
    let consumers = env_number("CONSUMERS", 2).max(1);
    let batch = env_number("BATCH", 10).clamp(1, 10);
    let cards = env_number("CARDS", 16).clamp(1, 1000);
    let _ = tracing::subscriber::set_global_default(EventCounter);
    let state = local_state().await?;

    let started = Instant::now();
    let chain = set_up(&state, cards).await?;
    println!(
        "set up a {LEVELS}-level chain (costs {}..{} fen, L7 retail {RETAIL}) and {cards} cards \
         in L7's stock in {:.1} s",
        cost(0),
        cost(LEVELS - 1),
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let ids = write_orders(&state, &chain, orders).await?;
    println!(
        "wrote {orders} paid client orders ({cards} at a time) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    // The first BACKLOG messages (not measured); the feeder sends the rest as the
    // consumers settle orders.
    let queue = state.job_queue(JobQueue::CommissionCalculation);
    let backlog = BACKLOG.max(2 * consumers * batch);
    let first: Vec<(CalculationMessage, i32)> = ids
        .iter()
        .take(backlog)
        .map(|&order_id| (CalculationMessage { order_id }, 0))
        .collect();
    queue.send_batch(&first).await?;
    println!(
        "sent the first {} calculation messages; the rest follow as orders settle \
         (at most {backlog} in the queue)",
        first.len()
    );
    let setup_events = take_events();
    for (k, n) in &setup_events {
        println!("  (set-up logged {n} × {k})");
    }

    // Measured: CONSUMERS handler loops draining the queue.
    let url = state
        .cfg
        .job_queue_urls
        .get(JobQueue::CommissionCalculation.name())
        .cloned()
        .ok_or("no commission queue")?;
    // Orders whose message was handled and deleted (SQS delivers at least once: a
    // message may come twice, the second finding its order settled).
    let done_set: Arc<Mutex<HashSet<u64>>> = Arc::new(Mutex::new(HashSet::new()));
    let settled = Arc::new(AtomicUsize::new(0));
    let deliveries = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let receives = Arc::new(AtomicUsize::new(0));
    let errors = Arc::new(AtomicUsize::new(0));
    let in_handler = Arc::new(AtomicUsize::new(0));
    let finished_at: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let started = Instant::now();
    let feeder = tokio::spawn(feed(
        queue.clone(),
        Arc::new(ids.clone()),
        settled.clone(),
        (first.len(), backlog),
    ));
    let mut set = tokio::task::JoinSet::new();
    for _ in 0..consumers {
        let (state, url) = (state.clone(), url.clone());
        let (done_set, deliveries) = (done_set.clone(), deliveries.clone());
        let (settled, failed, receives, errors, in_handler, finished_at) = (
            settled.clone(),
            failed.clone(),
            receives.clone(),
            errors.clone(),
            in_handler.clone(),
            finished_at.clone(),
        );
        set.spawn(measured(async move {
            let mut progress = Instant::now();
            while settled.load(Ordering::Relaxed) < orders && progress.elapsed() < STALL {
                receives.fetch_add(1, Ordering::Relaxed);
                match pump(&state, &url, batch as i32).await {
                    Ok(p) if p.received > 0 => {
                        in_handler.fetch_add(p.handling.as_micros() as usize, Ordering::Relaxed);
                        failed.fetch_add(p.failed, Ordering::Relaxed);
                        deliveries.fetch_add(p.done.len(), Ordering::Relaxed);
                        if !p.done.is_empty() {
                            progress = Instant::now();
                        }
                        let (before, after) = match done_set.lock() {
                            Ok(mut set) => {
                                let before = set.len();
                                set.extend(p.done);
                                (before, set.len())
                            }
                            Err(_) => (0, 0),
                        };
                        settled.fetch_max(after, Ordering::Relaxed);
                        if before < orders && after >= orders {
                            if let Ok(mut at) = finished_at.lock() {
                                *at = Some(Instant::now());
                            }
                        }
                    }
                    Ok(_) => {}
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        }));
    }
    // Progress every 60 s: whether the rate holds as the table grows.
    let monitor = {
        let settled = settled.clone();
        tokio::spawn(async move {
            let mut last = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(60)).await;
                let now = settled.load(Ordering::Relaxed);
                println!(
                    "  … {now} settled after {:.0} s ({:.1}/s over the last minute)",
                    started.elapsed().as_secs_f64(),
                    (now - last) as f64 / 60.0
                );
                last = now;
            }
        })
    };
    let mut usage = shared::store::calls::Usage::default();
    while let Some(done) = set.join_next().await {
        if let Ok((_, u)) = done {
            usage.calls += u.calls;
            usage.items_read += u.items_read;
            usage.read_units += u.read_units;
        }
    }
    let end = finished_at
        .lock()
        .ok()
        .and_then(|at| *at)
        .unwrap_or_else(Instant::now);
    let secs = end.duration_since(started).as_secs_f64();
    monitor.abort();
    // The feeder has sent everything unless the consumers gave up.
    if !feeder.is_finished() {
        feeder.abort();
    }
    let sends = first.len().div_ceil(10)
        + match feeder.await {
            Ok(batches) => batches?,
            Err(_) => 0,
        };
    let events = take_events();
    let settled = settled.load(Ordering::Relaxed);
    let deliveries = deliveries.load(Ordering::Relaxed);
    let failed = failed.load(Ordering::Relaxed);
    let receives = receives.load(Ordering::Relaxed);
    let per_order = |x: f64| x / settled.max(1) as f64;

    println!();
    println!(
        "orders {orders}, consumers {consumers}, batch {batch}: {settled} settled in {secs:.1} s"
    );
    println!(
        "  {:.1} calculations/s, {:.1} commission records/s ({LEVELS} per order)",
        settled as f64 / secs,
        (settled * LEVELS) as f64 / secs
    );
    println!(
        "  consumers spent {:.1} s in the handler (of {secs:.1} s each)",
        in_handler.load(Ordering::Relaxed) as f64 / 1e6 / consumers as f64
    );
    println!(
        "  DynamoDB calls per order: {:.2} ({} in all; an uncontended calculation makes 4: \
         the order, two batch reads, one transaction); items read per order {:.1}, \
         read units per order {:.1}",
        per_order(usage.calls as f64),
        usage.calls,
        per_order(usage.items_read as f64),
        per_order(usage.read_units)
    );
    println!(
        "  SQS: {sends} batch sends, {receives} receives, {deliveries} deletes ({} \
         duplicate deliveries); {failed} messages reported failed; {} receive errors",
        deliveries.saturating_sub(settled),
        errors.load(Ordering::Relaxed)
    );
    let recalculated: usize = events
        .iter()
        .filter(|(k, _)| k.contains("commission chain moved"))
        .map(|(_, n)| n)
        .sum();
    println!(
        "  recalculations (a wallet of the chain moved meanwhile): {recalculated} \
         ({:.2} per order)",
        per_order(recalculated as f64)
    );
    for (k, n) in events
        .iter()
        .filter(|(k, _)| !k.contains("commission chain moved"))
    {
        println!("  logged {n} × {k}");
    }

    // Checks (not measured).
    println!();
    let store = &state.store;
    let later = state.clock.now() + 86_400;
    let (due, _) = store
        .commission_orders(ORDERS_COMMISSION_DUE, later, 10, None)
        .await?;
    let (failed_orders, _) = store
        .commission_orders(ORDERS_COMMISSION_FAILED, later, 10, None)
        .await?;
    println!(
        "orders still due: {}{}; failed: {}{}",
        due.len(),
        if due.len() == 10 { "+" } else { "" },
        failed_orders.len(),
        if failed_orders.len() == 10 { "+" } else { "" },
    );
    let mut all_ok = due.is_empty() && failed_orders.is_empty();
    let step = (ids.len() / 20).max(1);
    let mut sampled = 0;
    let mut sample_ok = 0;
    for id in ids.iter().step_by(step) {
        sampled += 1;
        let done = store
            .order(*id)
            .await?
            .is_some_and(|o| o.commission_status.as_deref() == Some("done"));
        let mut got: Vec<(u64, i64)> = store
            .order_commissions(*id)
            .await?
            .into_iter()
            .map(|r| (r.shop_id, r.amount))
            .collect();
        got.sort_unstable();
        let mut want: Vec<(u64, i64)> = chain
            .shops
            .iter()
            .enumerate()
            .map(|(i, s)| (*s, share(i)))
            .collect();
        want.sort_unstable();
        if done && got == want {
            sample_ok += 1;
        }
    }
    println!("sampled orders done with their {LEVELS} records: {sample_ok}/{sampled}");
    all_ok &= sample_ok == sampled;
    for (i, shop) in chain.shops.iter().enumerate() {
        let want = share(i) * orders as i64;
        let (balance, frozen) = store
            .wallet(*shop, WalletKind::Commission)
            .await?
            .map_or((0, 0), |w| (w.balance, w.frozen_balance));
        let ok = balance == want && frozen == want;
        all_ok &= ok;
        println!(
            "L{} commission wallet: balance {balance}, frozen {frozen}; expected {want} \
             ({orders} × {}): {}",
            i + 1,
            share(i),
            if ok { "OK" } else { "MISMATCH" }
        );
    }
    let started = Instant::now();
    let violations =
        shared::services::wallets::check_wallet_invariants(store, Some(&chain.shops)).await?;
    println!(
        "wallet invariants over every ledger line ({:.1} s): {}",
        started.elapsed().as_secs_f64(),
        if violations.is_empty() {
            "OK".to_string()
        } else {
            format!("{} VIOLATIONS {violations:?}", violations.len())
        }
    );
    all_ok &= violations.is_empty();
    if all_ok {
        println!("result: OK");
        Ok(())
    } else {
        Err("result: MISMATCH (see above)".into())
    }
}
