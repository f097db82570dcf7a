//! Payment benchmarks against the local stack (run by `scripts/bench-expiry.sh` and
//! `scripts/bench-callbacks.sh`):
//!
//! - `expiry`: PENDING (default 100 000) online recharges not yet due and DUE (100)
//!   past their expiry; one run of the expiry job: records read, DynamoDB calls,
//!   cancellations, wall time. The run's cost follows the due items only.
//! - `callbacks`: NOTIFICATIONS (default 300) signed WeChat Pay notifications, built
//!   by the fake with its platform key, through the callback handler one at a time
//!   (verify + decrypt + transition: the recharge completes and the wallet is
//!   credited), then each replayed once (verify + decrypt + no-op); per second.

#![recursion_limit = "256"]

use std::time::Instant;

use shared::app::AppState;
use shared::config::Config;
use shared::domain::payment_config::{masks_of, ConfigContent, ConfigInput, ProviderType};
use shared::domain::recharge::{AgentRecharge, PaymentChannel, PaymentMethod, RechargeStatus};
use shared::integrations::pay_keys::{generate_key_pair, parse_private_key};
use shared::integrations::wechat_pay::fake::{FakeWechatPay, Tweak};
use shared::local::LocalError;
use shared::store::calls::measured;
use shared::store::payment_configs::{seal_context, ConfigRecord};
use shared::store::recharges::recharge_item;

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
    let table = format!("bench-pay-{unique}");
    let mut cfg = Config::for_local(&table, &endpoint);
    cfg.bucket = table.clone();
    shared::local::ensure(cfg, &endpoint, &format!("{table}.fifo")).await
}

fn recharge(id: u64, shop: u64, now: i64, expires: i64, config: u64) -> AgentRecharge {
    let at = shared::clock::rfc3339(now);
    AgentRecharge {
        id,
        recharge_no: shared::domain::recharge::recharge_no(id, now),
        shop_id: shop,
        agent_wallet_id: shop * 2,
        amount: 10_000,
        payment_method: PaymentMethod::Wechat,
        payment_channel: PaymentChannel::WechatDirect,
        payment_config_id: Some(config),
        status: RechargeStatus::Pending,
        expires_at: Some(shared::clock::rfc3339(expires)),
        paid_at: None,
        completed_at: None,
        creator: 1,
        created_at: at.clone(),
        updated_at: at,
        version: 1,
    }
}

async fn expiry() -> Result<(), LocalError> {
    let pending = env_number("PENDING", 100_000) as u64;
    let due = env_number("DUE", 100) as u64;
    let state = local_state().await?;
    let now = state.clock.now();
    let started = Instant::now();
    let mut items = Vec::new();
    for id in 1..=pending + due {
        let expires = if id <= pending { now + 1800 } else { now - 60 };
        items.push(recharge_item(
            &recharge(id, 1, now, expires, 1),
            now,
            Some(expires),
        )?);
        if items.len() == 2500 {
            state.store.put_all(std::mem::take(&mut items)).await?;
        }
    }
    state.store.put_all(items).await?;
    println!(
        "seeded {pending} pending recharges not yet due and {due} due in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let started = Instant::now();
    let (report, usage) = measured(shared::jobs::payment_expiry::run(&state)).await;
    let elapsed = started.elapsed();
    let report = report.map_err(|e| e.0)?;
    println!(
        "one expiry run: {} due read, {} cancelled, {} failed; {} DynamoDB calls, {} items read, {:.1} read units; {:.0} ms (emulator)",
        report.due,
        report.cancelled,
        report.failed,
        usage.calls,
        usage.items_read,
        usage.read_units,
        elapsed.as_secs_f64() * 1000.0
    );
    Ok(())
}

async fn callbacks() -> Result<(), LocalError> {
    let n = env_number("NOTIFICATIONS", 300) as u64;
    let state = local_state().await?;
    let (merchant_key, _) = generate_key_pair()?;
    let fake = FakeWechatPay::start(0).await?;
    let (mch, serial, v3) = (
        "1900000109",
        "BENCHSERIAL0001",
        "0123456789abcdefghijABCDEFGHIJ01",
    );
    fake.register_merchant(
        mch,
        serial,
        parse_private_key(&merchant_key)?.to_public_key(),
        v3,
    );
    // The configuration, sealed as the API would.
    let content: ConfigContent = ConfigInput {
        name: Some("bench".into()),
        provider_type: Some(ProviderType::Wechat),
        wx_mch_id: Some(mch.into()),
        wx_api_v3_key: Some(v3.into()),
        wx_cert_content: Some("cert".into()),
        wx_key_content: Some(merchant_key),
        wx_serial_no: Some(serial.into()),
        wx_notify_url: Some("http://127.0.0.1/api/callback/wechat-pay".into()),
        wx_pay_public_key_id: Some(fake.platform_key_id().into()),
        wx_pay_public_key: Some(fake.platform_public_key_pem().into()),
        ..Default::default()
    }
    .apply(None)?;
    let sealed = state
        .envelope()
        .seal(&serde_json::to_vec(&content.secrets)?, &seal_context(1))
        .await?;
    let now = state.clock.now();
    let record = ConfigRecord {
        id: 1,
        provider_type: ProviderType::Wechat,
        is_active: true,
        masks: masks_of(&content.secrets),
        sealed,
        fields: content.fields,
        creator: 1,
        updater: 1,
        created_at: shared::clock::rfc3339(now),
        updated_at: shared::clock::rfc3339(now),
        deleted_at: None,
        version: 1,
    };
    state.store.create_payment_config(&record).await?;
    // One shop's main wallet, credited by every notification.
    let wallet = shared::domain::entities::AgentWallet {
        shop_id: 7,
        wallet_type: "main".into(),
        balance: 0,
        frozen_balance: 0,
        currency: "CNY".into(),
        status: shared::domain::org::Status::Enabled,
        shop_id_tag: 7,
        created_at: shared::clock::rfc3339(now),
        updated_at: shared::clock::rfc3339(now),
        version: 1,
        ledger_at: 0,
    };
    let key = shared::store::keys::agent_wallet(7, "main");
    state
        .store
        .put(shared::store::to_item(&wallet, &key)?)
        .await?;
    let mut notes = Vec::new();
    for id in 1..=n {
        let r = recharge(id, 7, now, now + 1800, 1);
        state
            .store
            .put(recharge_item(&r, now, Some(now + 1800))?)
            .await?;
        let tweak = Tweak {
            out_trade_no: Some(r.recharge_no.clone()),
            amount: Some(r.amount),
            ..Default::default()
        };
        notes.push(fake.notification(&r.recharge_no, &tweak));
    }
    for (label, round) in [("first delivery (credit)", 0), ("replay (no-op)", 1)] {
        let started = Instant::now();
        let mut ok = 0;
        for (headers, body) in &notes {
            let lookup = |name: &str| {
                headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| v.clone())
            };
            let answer = shared::services::callbacks::wechat(&state, lookup, body).await;
            if answer.status == 200 {
                ok += 1;
            }
        }
        let secs = started.elapsed().as_secs_f64();
        println!(
            "{label}: {ok}/{} answered success, {:.0} notifications/s ({:.2} ms each; round {round})",
            notes.len(),
            notes.len() as f64 / secs,
            secs * 1000.0 / notes.len() as f64
        );
    }
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), LocalError> {
    match std::env::args().nth(1).as_deref() {
        Some("expiry") => expiry().await,
        Some("callbacks") => callbacks().await,
        _ => Err("usage: bench-payments expiry|callbacks".into()),
    }
}
