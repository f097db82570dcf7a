//! A fake carrier gateway for tests and the local stack (carrier-gateway.md §7): it
//! speaks the real protocol (decrypts `data`, verifies `sign`, requires 10-digit
//! timestamps and the `{"params": ...}` wrapper), keeps per-card and per-device state,
//! logs every call, and can be told to delay, fail or misbehave on the next calls.
//!
//! Response shapes the upstream document leaves unknown (U6, U7) are this project's
//! assumptions: `/flow-card/status` answers `{iccid, status}` (1 started, 0 stopped);
//! `/device/info` answers `{deviceId, online, currentIccid, speedLimit, wifi}`;
//! `/device/slot-info` answers `{deviceId, slots: [{slot, iccid}]}`.

use std::collections::{HashMap, VecDeque};
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

/// A card as the carrier sees it.
#[derive(Clone, Debug, PartialEq)]
pub struct FakeCard {
    /// Network started (true) or stopped.
    pub started: bool,
    /// Real-name verified.
    pub verified: bool,
    /// Data used this month, MB.
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
    app_id: String,
    crypto: Arc<dyn GatewayCrypto>,
    cards: HashMap<String, FakeCard>,
    devices: HashMap<String, FakeDevice>,
    log: Vec<LoggedCall>,
    faults: VecDeque<Fault>,
    auto_register: bool,
}

/// A running fake gateway on 127.0.0.1.
#[derive(Clone, Debug)]
pub struct FakeGateway {
    /// Base URL to configure the client with.
    pub url: String,
    state: Arc<Mutex<FakeState>>,
}

type Shared = Arc<Mutex<FakeState>>;

impl FakeGateway {
    /// Starts a fake accepting `app_id` with `crypto`, on a free port (or `port`).
    pub async fn start(
        app_id: &str,
        crypto: Arc<dyn GatewayCrypto>,
        port: u16,
    ) -> std::io::Result<Self> {
        let state: Shared = Arc::new(Mutex::new(FakeState {
            app_id: app_id.into(),
            crypto,
            cards: HashMap::new(),
            devices: HashMap::new(),
            log: Vec::new(),
            faults: VecDeque::new(),
            auto_register: false,
        }));
        let app = Router::new()
            .route("/{*path}", post(handle))
            .with_state(state.clone());
        let url = crate::integrations::serve_local(app, port).await?;
        Ok(Self { url, state })
    }

    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Adds or replaces a card.
    pub fn set_card(&self, iccid: &str, card: FakeCard) {
        self.with(|s| s.cards.insert(iccid.into(), card));
    }

    /// The carrier's view of a card.
    pub fn card(&self, iccid: &str) -> Option<FakeCard> {
        self.with(|s| s.cards.get(iccid).cloned())
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
    /// started and unverified) instead of answering "not found".
    pub fn auto_register(&self, on: bool) {
        self.with(|s| s.auto_register = on);
    }

    /// Every call received so far.
    pub fn calls(&self) -> Vec<LoggedCall> {
        self.with(|s| s.log.clone())
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

async fn handle(State(state): State<Shared>, Path(path): Path<String>, body: String) -> Response {
    let path = format!("/{path}");
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
    let (fault, decoded) = {
        let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
        if env.app_id != s.app_id {
            return reply(401, "unknown appId", Value::Null);
        }
        if !(1_000_000_000..10_000_000_000).contains(&env.timestamp) {
            return reply(400, "timestamp must be 10-digit Unix seconds", Value::Null);
        }
        if !s
            .crypto
            .verify(&env.app_id, &env.data, env.timestamp, &env.sign)
        {
            return reply(401, "bad sign", Value::Null);
        }
        let params = s
            .crypto
            .decrypt(&env.data)
            .ok()
            .and_then(|p| serde_json::from_slice::<Value>(&p).ok())
            .and_then(|v| v.get("params").cloned());
        let Some(params) = params else {
            return reply(400, "data must decrypt to {\"params\": {...}}", Value::Null);
        };
        s.log.push(LoggedCall {
            path: path.clone(),
            params: params.clone(),
            data: env.data.clone(),
            sign: env.sign.clone(),
            timestamp: env.timestamp,
        });
        (s.faults.pop_front(), params)
    };
    match fault {
        Some(Fault::Delay(d)) => tokio::time::sleep(d).await,
        Some(Fault::Status(code)) => {
            return StatusCode::from_u16(code)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response()
        }
        Some(Fault::InvalidJson) => return (StatusCode::OK, "<html>oops</html>").into_response(),
        Some(Fault::Business(code, msg)) => return reply(code, &msg, Value::Null),
        None => {}
    }
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    match operate(&mut s, &path, &decoded) {
        Ok(data) => reply(200, "success", data),
        Err((code, msg)) => reply(code, &msg, Value::Null),
    }
}

fn text<'a>(p: &'a Value, name: &str) -> Option<&'a str> {
    p.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

fn operate(s: &mut FakeState, path: &str, p: &Value) -> Result<Value, (i64, String)> {
    let missing = |f: &str| (400, format!("{f} is required"));
    let card_no = || text(p, "cardNo").ok_or_else(|| missing("cardNo"));
    match path {
        "/flow-card/status"
        | "/flow-card/flow"
        | "/flow-card/realName"
        | "/flow-card/cardStop"
        | "/flow-card/cardStart"
        | "/flow-card/RealNameVerification" => {
            let iccid = card_no()?.to_string();
            if s.auto_register {
                let fresh = FakeCard {
                    started: true,
                    verified: false,
                    used_mb: 0.0,
                };
                s.cards.entry(iccid.clone()).or_insert(fresh);
            }
            let card = s
                .cards
                .get_mut(&iccid)
                .ok_or((404, "card not found".to_string()))?;
            Ok(match path {
                "/flow-card/status" => json!({"iccid": iccid, "status": card.started as i64}),
                "/flow-card/flow" => json!({"iccid": iccid, "used": card.used_mb, "unit": "MB"}),
                "/flow-card/realName" => json!({"iccid": iccid, "realStatus": card.verified}),
                "/flow-card/cardStop" => {
                    card.started = false;
                    Value::Null
                }
                "/flow-card/cardStart" => {
                    card.started = true;
                    Value::Null
                }
                _ => json!({"url": format!("https://realname.example/verify?iccid={iccid}")}),
            })
        }
        "/device/info"
        | "/device/slot-info"
        | "/device/speed-limit"
        | "/device/restart"
        | "/device/factory-reset" => {
            let id = text(p, "deviceId")
                .or_else(|| text(p, "cardNo"))
                .ok_or_else(|| missing("cardNo or deviceId"))?;
            if s.auto_register {
                s.devices.entry(id.to_string()).or_default();
            }
            let device = s
                .devices
                .get_mut(id)
                .ok_or((404, "device not found".to_string()))?;
            Ok(match path {
                "/device/info" => json!({
                    "deviceId": id, "online": true, "currentIccid": device.current_iccid,
                    "speedLimit": device.speed_limit, "wifi": device.wifi
                }),
                "/device/slot-info" => json!({
                    "deviceId": id,
                    "slots": device.slots.iter().enumerate().map(|(i, c)| json!({"slot": i + 1, "iccid": c})).collect::<Vec<_>>()
                }),
                "/device/speed-limit" => {
                    let limit = p
                        .get("speedLimit")
                        .and_then(Value::as_i64)
                        .filter(|l| *l >= 1)
                        .ok_or_else(|| missing("speedLimit >= 1"))?;
                    device.speed_limit = Some(limit);
                    Value::Null
                }
                "/device/restart" => {
                    device.reboots += 1;
                    Value::Null
                }
                _ => {
                    device.resets += 1;
                    Value::Null
                }
            })
        }
        "/device/wifi-config" => {
            card_no()?;
            let ssid = text(p, "ssid")
                .filter(|s| (1..=32).contains(&s.chars().count()))
                .ok_or_else(|| missing("ssid (1-32)"))?;
            let id = text(p, "deviceId").ok_or_else(|| missing("deviceId"))?;
            let device = s
                .devices
                .get_mut(id)
                .ok_or((404, "device not found".to_string()))?;
            device.wifi = Some(
                json!({"ssid": ssid, "password": p.get("password"), "enabled": p.get("enabled")}),
            );
            Ok(Value::Null)
        }
        "/device/card-switch" => {
            let imei = card_no()?.to_string();
            let iccid = text(p, "iccid")
                .ok_or_else(|| missing("iccid"))?
                .to_string();
            if p.get("operationType").and_then(Value::as_i64) != Some(2) {
                return Err((400, "operationType must be 2".into()));
            }
            let device = s
                .devices
                .get_mut(&imei)
                .ok_or((404, "device not found".to_string()))?;
            if !device.slots.contains(&iccid) {
                return Err((400, "card not in device".into()));
            }
            device.current_iccid = Some(iccid);
            Ok(Value::Null)
        }
        _ => Err((404, format!("no such path {path}"))),
    }
}
