//! What the fake gateway does with a verified call: the carrier-side effect on its
//! cards and devices, and the answer's `data` (or a business error).

use std::collections::hash_map::Entry;

use serde_json::{json, Value};

use super::cards::CardState;
use super::{FakeCard, FakeState};

fn text<'a>(p: &'a Value, name: &str) -> Option<&'a str> {
    p.get(name)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
}

/// Applies a call to `path` with decoded `params` to the state; `Err` is a business
/// error (code, message).
pub(super) fn operate(s: &mut FakeState, path: &str, p: &Value) -> Result<Value, (i64, String)> {
    let missing = |f: &str| (400, format!("{f} is required"));
    let card_no = || text(p, "cardNo").ok_or_else(|| missing("cardNo"));
    match path {
        "/flow-card/status"
        | "/flow-card/flow"
        | "/flow-card/realName"
        | "/flow-card/cardStop"
        | "/flow-card/cardStart"
        | "/flow-card/RealNameVerification" => {
            let now = s.clock.now();
            let card = match s.cards.entry(card_no()?.to_string()) {
                Entry::Occupied(e) => e.into_mut(),
                Entry::Vacant(e) if s.auto_register => {
                    let fresh = FakeCard {
                        started: true,
                        verified: false,
                        used_mb: 0.0,
                    };
                    e.insert(CardState::new(
                        &fresh,
                        s.default_growth,
                        s.default_billing_day,
                        now,
                    ))
                }
                Entry::Vacant(_) => return Err((404, "card not found".to_string())),
            };
            card.settle(now);
            let iccid = card_no()?;
            Ok(match path {
                "/flow-card/status" => json!({"iccid": iccid, "status": card.started as i64}),
                "/flow-card/flow" => json!({"iccid": iccid, "used": card.used_mb(), "unit": "MB"}),
                "/flow-card/realName" => json!({"iccid": iccid, "realStatus": card.verified}),
                "/flow-card/cardStop" => {
                    card.set_started(false, now);
                    Value::Null
                }
                "/flow-card/cardStart" => {
                    card.set_started(true, now);
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
