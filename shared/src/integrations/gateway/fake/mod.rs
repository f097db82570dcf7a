//! A fake carrier gateway for tests and the local stack (carrier-gateway.md §7): it
//! speaks the real protocol (decrypts `data`, verifies `sign`, requires 10-digit
//! timestamps and the `{"params": ...}` wrapper), keeps per-card and per-device state,
//! logs every call, and can be told to delay, fail or misbehave on the next calls.
//!
//! For polling tests and benchmarks it also simulates time and load: card usage grows
//! at a per-card rate over a [`Clock`] (only while the card is started, restarting on
//! each billing-period start), real-name status can flip now or at a set time, every
//! call can be slowed by a fixed latency or fail at a deterministic HTTP 500 rate,
//! and lock-free counters report requests in flight (and the most ever seen) and
//! requests per path. The state mutex is never held across a sleep.
//!
//! Response shapes the upstream document leaves unknown (U6, U7) are this project's
//! assumptions: `/flow-card/status` answers `{iccid, status}` (1 started, 0 stopped);
//! `/device/info` answers `{deviceId, online, currentIccid, speedLimit, wifi}`;
//! `/device/slot-info` answers `{deviceId, slots: [{slot, iccid}]}`.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::client::Envelope;
use super::crypto::GatewayCrypto;
use crate::clock::Clock;

mod cards;
mod ops;
mod stats;
#[cfg(test)]
mod tests;

use cards::CardState;
use stats::Stats;

/// A card as the carrier sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct FakeCard {
    /// Network started (true) or stopped.
    pub started: bool,
    /// Real-name verified.
    pub verified: bool,
    /// Data used this billing period, MB (given: the base usage as of now; read: the
    /// usage now, growth included).
    pub used_mb: f64,
}

/// A device as the carrier sees it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FakeDevice {
    /// ICCIDs by slot (index 0 = slot 1).
    pub slots: Vec<String>,
    pub current_iccid: Option<String>,
    pub speed_limit: Option<i64>,
    pub wifi: Option<Value>,
    pub reboots: u32,
    pub resets: u32,
}

/// What the next call(s) should suffer.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer normally, but only after this delay (longer than the client's timeout
    /// makes a retryable timeout).
    Delay(Duration),
    /// Answer with this HTTP status and an empty body.
    Status(u16),
    /// Answer 200 with a body that is not JSON.
    InvalidJson,
    /// Answer 200 with this business code and message.
    Business(i64, String),
}

/// One received call, as decoded.
#[derive(Clone, Debug)]
pub struct LoggedCall {
    pub path: String,
    pub params: Value,
    pub data: String,
    pub sign: String,
    pub timestamp: i64,
}

#[derive(Debug)]
struct FakeState {
    clock: Clock,
    cards: HashMap<String, CardState>,
    devices: HashMap<String, FakeDevice>,
    log: Vec<LoggedCall>,
    faults: VecDeque<Fault>,
    auto_register: bool,
    default_growth: f64,
    default_billing_day: u32,
}

/// Everything the server shares: the immutable protocol settings and the counters
/// outside the mutex, the carrier state inside it.
#[derive(Debug)]
struct Inner {
    app_id: String,
    crypto: Arc<dyn GatewayCrypto>,
    stats: Stats,
    state: Mutex<FakeState>,
}

/// A running fake gateway on 127.0.0.1.
#[derive(Clone, Debug)]
pub struct FakeGateway {
    /// Base URL to configure the client with.
    pub url: String,
    inner: Arc<Inner>,
}

impl FakeGateway {
    /// Starts a fake accepting `app_id` with `crypto`, on a free port (or `port`).
    /// Its clock is the wall clock until [`FakeGateway::set_clock`].
    pub async fn start(
        app_id: &str,
        crypto: Arc<dyn GatewayCrypto>,
        port: u16,
    ) -> std::io::Result<Self> {
        let inner = Arc::new(Inner {
            app_id: app_id.into(),
            crypto,
            stats: Stats::default(),
            state: Mutex::new(FakeState {
                clock: Clock::default(),
                cards: HashMap::new(),
                devices: HashMap::new(),
                log: Vec::new(),
                faults: VecDeque::new(),
                auto_register: false,
                default_growth: 0.0,
                default_billing_day: 1,
            }),
        });
        let app = Router::new()
            .route("/{*path}", post(handle))
            .with_state(inner.clone());
        let url = crate::integrations::serve_local(app, port).await?;
        Ok(Self { url, inner })
    }

    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.inner.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Runs `f` on a known card brought up to now; false when the card is unknown.
    fn with_card(&self, iccid: &str, f: impl FnOnce(&mut CardState, i64)) -> bool {
        self.with(|s| {
            let now = s.clock.now();
            s.cards.get_mut(iccid).map(|c| {
                c.settle(now);
                f(c, now)
            })
        })
        .is_some()
    }

    /// Adds or replaces a card; `card.used_mb` is its usage as of now. A replaced
    /// card keeps its growth rate, billing day and scheduled verification; a new one
    /// has no growth and billing day 1.
    pub fn set_card(&self, iccid: &str, card: FakeCard) {
        self.with(|s| {
            let now = s.clock.now();
            match s.cards.get_mut(iccid) {
                Some(c) => c.replace(&card, now),
                None => {
                    s.cards
                        .insert(iccid.into(), CardState::new(&card, 0.0, 1, now));
                }
            }
        });
    }

    /// The carrier's view of a card now (usage grown up to the clock's now).
    pub fn card(&self, iccid: &str) -> Option<FakeCard> {
        self.with(|s| {
            let now = s.clock.now();
            s.cards.get_mut(iccid).map(|c| {
                c.settle(now);
                c.view()
            })
        })
    }

    /// Adds or replaces a device (keyed by IMEI / device id).
    pub fn set_device(&self, id: &str, device: FakeDevice) {
        self.with(|s| s.devices.insert(id.into(), device));
    }

    /// The carrier's view of a device.
    pub fn device(&self, id: &str) -> Option<FakeDevice> {
        self.with(|s| s.devices.get(id).cloned())
    }

    /// Applies `fault` to each of the next `n` calls.
    pub fn fail_next(&self, n: usize, fault: Fault) {
        self.with(|s| s.faults.extend(std::iter::repeat_n(fault, n)));
    }

    /// Local stack: unknown cards and devices are created on first use (cards
    /// started, unverified, with no usage, the default growth rate and billing day)
    /// instead of answering "not found".
    pub fn auto_register(&self, on: bool) {
        self.with(|s| s.auto_register = on);
    }

    /// Every call received so far.
    pub fn calls(&self) -> Vec<LoggedCall> {
        self.with(|s| s.log.clone())
    }

    /// Makes `clock` the fake's time source (tests pass the simulated clock they
    /// advance). Usage until now is settled on the old clock; from now on every card
    /// counts from the new clock's now.
    pub fn set_clock(&self, clock: Clock) {
        self.with(|s| {
            let (old, new) = (s.clock.now(), clock.now());
            for card in s.cards.values_mut() {
                card.settle(old);
                card.rebase(new);
            }
            s.clock = clock;
        });
    }

    /// Sets a card's usage growth from now on, MB per simulated hour while started
    /// (negative or non-finite: none); false when the card is unknown.
    pub fn set_growth(&self, iccid: &str, mb_per_hour: f64) -> bool {
        self.with_card(iccid, |c, now| c.set_rate(mb_per_hour, now))
    }

    /// Growth rate (MB per hour) given to cards auto-registered from now on.
    pub fn set_default_growth(&self, mb_per_hour: f64) {
        self.with(|s| s.default_growth = cards::rate_or_zero(mb_per_hour));
    }

    /// Sets the day of month (1–31, clamped; past a month's end = its last day) on
    /// which a card's usage restarts at 0, at 00:00 Asia/Shanghai: 27 for China
    /// Unicom, 1 (the default) for others. False when the card is unknown.
    pub fn set_billing_day(&self, iccid: &str, day: u32) -> bool {
        self.with_card(iccid, |c, now| c.set_billing_day(day, now))
    }

    /// Billing day given to cards auto-registered from now on (default 1).
    pub fn set_default_billing_day(&self, day: u32) {
        self.with(|s| s.default_billing_day = cards::day_in_range(day));
    }

    /// Starts or stops a card's network as the carrier would (usage stops growing
    /// while stopped); false when the card is unknown.
    pub fn set_started(&self, iccid: &str, started: bool) -> bool {
        self.with_card(iccid, |c, now| c.set_started(started, now))
    }

    /// Sets a card's real-name status now (cancels a scheduled verification); false
    /// when the card is unknown.
    pub fn set_verified(&self, iccid: &str, verified: bool) -> bool {
        self.with_card(iccid, |c, _| {
            c.verified = verified;
            c.verify_at = None;
        })
    }

    /// Makes a card real-name verified once the clock reaches `at` (epoch seconds;
    /// at once if already past); false when the card is unknown.
    pub fn verify_at(&self, iccid: &str, at: i64) -> bool {
        self.with_card(iccid, |c, now| {
            c.verify_at = Some(at);
            c.settle(now);
        })
    }

    /// Adds `latency` to every call from now on (slept outside the state mutex, so
    /// concurrent calls overlap); zero removes it.
    pub fn set_latency(&self, latency: Duration) {
        self.inner.stats.set_latency(latency);
    }

    /// Makes a fraction `rate` (0.0–1.0, rounded to millionths) of the calls that
    /// pass the protocol checks answer HTTP 500 (logged, no effect on the state),
    /// deterministically: call `n` after this setting fails when `⌊n × rate⌋` grows
    /// (0.25: the 4th, 8th, 12th… call). A queued [`Fault`] takes precedence but the
    /// call still counts in the sequence.
    pub fn set_error_rate(&self, rate: f64) {
        self.inner.stats.set_error_rate(rate);
    }

    /// Requests being handled now (latency sleeps included).
    pub fn in_flight(&self) -> u64 {
        self.inner.stats.in_flight()
    }

    /// The most requests ever handled at once (since the last reset).
    pub fn max_in_flight(&self) -> u64 {
        self.inner.stats.max_in_flight()
    }

    /// Restarts [`FakeGateway::max_in_flight`] from the requests in flight now.
    pub fn reset_max_in_flight(&self) {
        self.inner.stats.reset_max_in_flight();
    }

    /// Requests received for `path` (one of [`PATHS`]; 0 for any other).
    pub fn count(&self, path: &str) -> u64 {
        self.inner.stats.count(path)
    }

    /// Requests received per path, paths with none left out.
    pub fn calls_by_path(&self) -> BTreeMap<String, u64> {
        self.inner.stats.by_path()
    }

    /// Every request received, unknown paths included.
    pub fn requests(&self) -> u64 {
        self.inner.stats.total()
    }

    /// Zeroes [`FakeGateway::requests`] and the per-path counts (not the call log).
    pub fn reset_counts(&self) {
        self.inner.stats.reset_counts();
    }
}

fn reply(code: i64, msg: &str, data: Value) -> Response {
    (
        StatusCode::OK,
        Json(json!({ "code": code, "msg": msg, "data": data })),
    )
        .into_response()
}

/// Every path of carrier-gateway.md §5.1–5.2 (exact, case-sensitive).
pub const PATHS: &[&str] = &[
    "/flow-card/status",
    "/flow-card/flow",
    "/flow-card/realName",
    "/flow-card/cardStop",
    "/flow-card/cardStart",
    "/flow-card/RealNameVerification",
    "/device/info",
    "/device/slot-info",
    "/device/speed-limit",
    "/device/wifi-config",
    "/device/card-switch",
    "/device/factory-reset",
    "/device/restart",
];

/// What a verified call gets before its effect.
enum Outcome {
    Fault(Fault),
    Error500,
    Answer(Result<Value, (i64, String)>),
}

async fn handle(
    State(inner): State<Arc<Inner>>,
    Path(path): Path<String>,
    body: String,
) -> Response {
    let path = format!("/{path}");
    let _in_flight = inner.stats.enter(&path);
    let latency = inner.stats.latency();
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    if !PATHS.contains(&path.as_str()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let Ok(env) = serde_json::from_str::<Envelope>(&body) else {
        return reply(
            400,
            "envelope must carry appId, data, sign and timestamp",
            Value::Null,
        );
    };
    if env.app_id != inner.app_id {
        return reply(401, "unknown appId", Value::Null);
    }
    if !(1_000_000_000..10_000_000_000).contains(&env.timestamp) {
        return reply(400, "timestamp must be 10-digit Unix seconds", Value::Null);
    }
    if !inner
        .crypto
        .verify(&env.app_id, &env.data, env.timestamp, &env.sign)
    {
        return reply(401, "bad sign", Value::Null);
    }
    let params = inner
        .crypto
        .decrypt(&env.data)
        .ok()
        .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
        .and_then(|v| v.get("params").cloned());
    let Some(params) = params else {
        return reply(400, "data must decrypt to {\"params\": {...}}", Value::Null);
    };
    let error = inner.stats.next_is_error();
    let outcome = {
        let mut s = inner.state.lock().unwrap_or_else(|e| e.into_inner());
        let fault = s.faults.pop_front();
        s.log.push(LoggedCall {
            path: path.clone(),
            params: params.clone(),
            data: env.data,
            sign: env.sign,
            timestamp: env.timestamp,
        });
        match fault {
            Some(f) => Outcome::Fault(f),
            None if error => Outcome::Error500,
            None => Outcome::Answer(ops::operate(&mut s, &path, &params)),
        }
    };
    let result = match outcome {
        Outcome::Answer(result) => result,
        Outcome::Error500 => return StatusCode::INTERNAL_SERVER_ERROR.into_response(),
        Outcome::Fault(Fault::Delay(d)) => {
            tokio::time::sleep(d).await;
            let mut s = inner.state.lock().unwrap_or_else(|e| e.into_inner());
            ops::operate(&mut s, &path, &params)
        }
        Outcome::Fault(Fault::Status(code)) => {
            return StatusCode::from_u16(code)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response()
        }
        Outcome::Fault(Fault::InvalidJson) => {
            return (StatusCode::OK, "<html>oops</html>").into_response()
        }
        Outcome::Fault(Fault::Business(code, msg)) => return reply(code, &msg, Value::Null),
    };
    match result {
        Ok(data) => reply(200, "success", data),
        Err((code, msg)) => reply(code, &msg, Value::Null),
    }
}
