//! A fake WeChat Pay (API v3, "WeChat Pay public key" mode) for tests and the local
//! stack. It checks every request as WeChat does (`Authorization` format, merchant,
//! serial, 5-minute timestamp window, signature over the exact method, path+query
//! and body; headers and required fields), keeps orders, signs every answer with its
//! own platform key, and posts signed, encrypted payment notifications on demand.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use rand::Rng;
use rsa::{PrivateKey, PublicKey};
use serde_json::{json, Value};

use super::sign::{encrypt_resource, nonce_str, platform_message, sign};
use crate::clock::rfc3339;
use crate::integrations::pay_keys::{generate_key_pair, parse_private_key};

mod api;

/// A registered merchant, as WeChat Pay knows it.
#[derive(Clone, Debug)]
struct FakeMerchant {
    serial_no: String,
    public_key: PublicKey,
    api_v3_key: String,
}

/// An order as the fake keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct FakeOrder {
    /// Merchant id.
    pub mchid: String,
    /// App id.
    pub appid: String,
    /// `NATIVE` or `JSAPI`.
    pub trade_type: String,
    /// Total, fen.
    pub total: i64,
    /// Where notifications go.
    pub notify_url: String,
    /// `time_expire` as sent, if any.
    pub time_expire: Option<String>,
    /// Payer of a JSAPI order.
    pub openid: Option<String>,
    /// `NOTPAY`, `SUCCESS` or `CLOSED`.
    pub state: String,
    /// The `code_url` or `prepay_id` answered.
    pub answer: String,
    /// The transaction id (reported once paid).
    pub transaction_id: String,
    /// Payment time, RFC 3339, once paid.
    pub success_time: Option<String>,
    /// The creation request's body (a repeat must be identical).
    pub request: Value,
    notify_id: String,
}

/// One API call received.
#[derive(Clone, Debug, PartialEq)]
pub struct LoggedCall {
    /// HTTP method.
    pub method: String,
    /// Path and query.
    pub path: String,
    /// Request body.
    pub body: String,
    /// Status answered.
    pub status: u16,
    /// Error code answered, if any.
    pub code: Option<String>,
}

/// One notification delivered by [`FakeWechatPay::deliver`].
#[derive(Clone, Debug, PartialEq)]
pub struct Delivery {
    /// Target URL.
    pub url: String,
    /// Status our endpoint answered.
    pub status: u16,
    /// Body our endpoint answered.
    pub body: String,
}

/// How [`FakeWechatPay::notification`] spoils a notification. Default: a valid one.
#[derive(Clone, Debug, Default)]
pub struct Tweak {
    /// `Wechatpay-Serial` names another key.
    pub wrong_serial: bool,
    /// The signature covers other content.
    pub bad_signature: bool,
    /// A ciphertext byte is flipped, and the body signed as sent (so only decryption fails).
    pub tampered_ciphertext: bool,
    /// Report this total (and payer total) instead of the order's.
    pub amount: Option<i64>,
    /// `Wechatpay-Timestamp` (epoch s) instead of now.
    pub timestamp: Option<i64>,
    /// Report this `out_trade_no` (e.g. an order we never placed).
    pub out_trade_no: Option<String>,
}

/// How the fake spoils its next API answers ([`FakeWechatPay::forge_next_responses`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forge {
    /// The signature covers other content.
    BadSignature,
    /// `Wechatpay-Serial` names another key.
    WrongSerial,
}

/// Why a test control failed.
#[derive(Debug, thiserror::Error)]
pub enum FakeError {
    /// No such order.
    #[error("no order {0}")]
    UnknownOrder(String),
    /// The order is closed and cannot be paid.
    #[error("order {0} is closed")]
    Closed(String),
    /// The notification could not be delivered.
    #[error("delivery failed: {0}")]
    Transport(String),
}

#[derive(Debug)]
struct FakeState {
    platform_key: PrivateKey,
    key_id: String,
    merchants: HashMap<String, FakeMerchant>,
    orders: HashMap<String, FakeOrder>,
    log: Vec<LoggedCall>,
    deliveries: Vec<Delivery>,
    forge: VecDeque<Forge>,
}

type Shared = Arc<Mutex<FakeState>>;

/// A running fake WeChat Pay on 127.0.0.1.
#[derive(Clone, Debug)]
pub struct FakeWechatPay {
    /// Base URL to give the client.
    pub url: String,
    key_id: String,
    platform_key: PrivateKey,
    public_pem: String,
    state: Shared,
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn digits(n: usize) -> String {
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

impl FakeWechatPay {
    /// Starts a fake with a newly generated platform key on `port` (0 = any free
    /// port). Key generation takes a moment; tests may prefer [`Self::start_with_key`].
    pub async fn start(port: u16) -> std::io::Result<Self> {
        let (private, _) = tokio::task::spawn_blocking(generate_key_pair)
            .await
            .map_err(std::io::Error::other)?
            .map_err(std::io::Error::other)?;
        Self::start_with_key(port, &private).await
    }

    /// Starts a fake whose platform private key is `private_pem`.
    pub async fn start_with_key(port: u16, private_pem: &str) -> std::io::Result<Self> {
        let platform_key = parse_private_key(private_pem).map_err(std::io::Error::other)?;
        let public_pem = {
            use rsa::pkcs8::{EncodePublicKey, LineEnding};
            platform_key
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .map_err(std::io::Error::other)?
        };
        let key_id = format!("PUB_KEY_ID_01{}", digits(26));
        let state: Shared = Arc::new(Mutex::new(FakeState {
            platform_key: platform_key.clone(),
            key_id: key_id.clone(),
            merchants: HashMap::new(),
            orders: HashMap::new(),
            log: Vec::new(),
            deliveries: Vec::new(),
            forge: VecDeque::new(),
        }));
        let app = Router::new()
            .fallback(api::handle)
            .with_state(state.clone());
        let url = crate::integrations::serve_local(app, port).await?;
        Ok(Self {
            url,
            key_id,
            platform_key,
            public_pem,
            state,
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The id of the platform key (`Wechatpay-Serial`), `PUB_KEY_ID_01…`.
    pub fn platform_key_id(&self) -> &str {
        &self.key_id
    }

    /// The platform public key, SPKI PEM (what the merchant downloads).
    pub fn platform_public_key_pem(&self) -> &str {
        &self.public_pem
    }

    /// The platform public key.
    pub fn platform_public_key(&self) -> PublicKey {
        self.platform_key.to_public_key()
    }

    /// The platform private key, for tests that forge answers.
    pub fn platform_private_key(&self) -> &PrivateKey {
        &self.platform_key
    }

    /// Registers (or replaces) a merchant with its certificate serial, public key and
    /// API v3 key.
    pub fn register_merchant(
        &self,
        mch_id: &str,
        serial_no: &str,
        merchant_public_key: PublicKey,
        api_v3_key: &str,
    ) {
        let merchant = FakeMerchant {
            serial_no: serial_no.into(),
            public_key: merchant_public_key,
            api_v3_key: api_v3_key.into(),
        };
        self.with(|s| s.merchants.insert(mch_id.into(), merchant));
    }

    /// Every API call received so far.
    pub fn calls(&self) -> Vec<LoggedCall> {
        self.with(|s| s.log.clone())
    }

    /// Every notification delivered so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.with(|s| s.deliveries.clone())
    }

    /// The order `out_trade_no`, if placed.
    pub fn order(&self, out_trade_no: &str) -> Option<FakeOrder> {
        self.with(|s| s.orders.get(out_trade_no).cloned())
    }

    /// `NOTPAY`, `SUCCESS` or `CLOSED`; `None` for an unknown order.
    pub fn order_state(&self, out_trade_no: &str) -> Option<String> {
        self.with(|s| s.orders.get(out_trade_no).map(|o| o.state.clone()))
    }

    /// Spoils the next `n` API answers with `forge`.
    pub fn forge_next_responses(&self, n: usize, forge: Forge) {
        self.with(|s| s.forge.extend(std::iter::repeat_n(forge, n)));
    }

    /// Marks the order paid without notifying (as if the notification were lost).
    pub fn mark_paid(&self, out_trade_no: &str) -> Result<(), FakeError> {
        self.with(|s| {
            let order = s
                .orders
                .get_mut(out_trade_no)
                .ok_or_else(|| FakeError::UnknownOrder(out_trade_no.into()))?;
            if order.state == "CLOSED" {
                return Err(FakeError::Closed(out_trade_no.into()));
            }
            order.state = "SUCCESS".into();
            if order.success_time.is_none() {
                order.success_time = Some(rfc3339(now()));
            }
            Ok(())
        })
    }

    /// The payer pays: marks the order SUCCESS and posts the signed, encrypted
    /// notification to its `notify_url`; returns our endpoint's status and body.
    /// Paying again redelivers the same notification id.
    pub async fn pay(&self, out_trade_no: &str) -> Result<(u16, String), FakeError> {
        self.mark_paid(out_trade_no)?;
        let url = self
            .order(out_trade_no)
            .map(|o| o.notify_url)
            .ok_or_else(|| FakeError::UnknownOrder(out_trade_no.into()))?;
        let (headers, body) = self.notification(out_trade_no, &Tweak::default());
        self.deliver(&url, &headers, &body).await
    }

    /// A payment notification (the order reported as paid) as WeChat would post it,
    /// spoiled as `tweak` says; (headers, body). An unknown order is reported with a
    /// total of 1 fen (or `tweak.amount`) under the first registered merchant.
    pub fn notification(
        &self,
        out_trade_no: &str,
        tweak: &Tweak,
    ) -> (Vec<(String, String)>, Vec<u8>) {
        let (order, merchant) = self.with(|s| {
            let order = s.orders.get(out_trade_no).cloned();
            let mch = order.as_ref().map(|o| o.mchid.clone()).or_else(|| {
                let mut ids: Vec<_> = s.merchants.keys().cloned().collect();
                ids.sort();
                ids.into_iter().next()
            });
            let merchant = mch.and_then(|m| s.merchants.get(&m).map(|x| (m, x.clone())));
            (order, merchant)
        });
        let (mchid, api_v3_key) = merchant
            .map(|(id, m)| (id, m.api_v3_key))
            .unwrap_or_default();
        let mut tx = match &order {
            Some(o) => paid_view(out_trade_no, o),
            None => json!({
                "appid": "wx0000000000000000", "mchid": mchid, "out_trade_no": out_trade_no,
                "transaction_id": format!("4200{}", digits(24)), "trade_type": "NATIVE",
                "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS",
                "attach": "", "success_time": rfc3339(now()),
                "payer": { "openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o" },
                "amount": { "total": 1, "payer_total": 1, "currency": "CNY", "payer_currency": "CNY" },
            }),
        };
        if let (Some(no), Some(fields)) = (&tweak.out_trade_no, tx.as_object_mut()) {
            fields.insert("out_trade_no".into(), json!(no));
        }
        if let (Some(total), Some(amount)) = (
            tweak.amount,
            tx.pointer_mut("/amount").and_then(Value::as_object_mut),
        ) {
            amount.insert("total".into(), json!(total));
            amount.insert("payer_total".into(), json!(total));
        }
        let nonce = nonce_str(12);
        let mut ciphertext = encrypt_resource(
            &api_v3_key,
            &nonce,
            "transaction",
            tx.to_string().as_bytes(),
        )
        .unwrap_or_default();
        if tweak.tampered_ciphertext {
            let mut raw = B64.decode(&ciphertext).unwrap_or_default();
            if let Some(b) = raw.first_mut() {
                *b ^= 0x01;
            }
            ciphertext = B64.encode(raw);
        }
        let id = order
            .map(|o| o.notify_id)
            .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
        let body = json!({
            "id": id,
            "create_time": rfc3339(now()),
            "resource_type": "encrypt-resource",
            "event_type": "TRANSACTION.SUCCESS",
            "summary": "支付成功",
            "resource": {
                "original_type": "transaction",
                "algorithm": "AEAD_AES_256_GCM",
                "ciphertext": ciphertext,
                "associated_data": "transaction",
                "nonce": nonce,
            },
        })
        .to_string()
        .into_bytes();
        let timestamp = tweak.timestamp.unwrap_or_else(now).to_string();
        let mut headers =
            self.signed_headers(&timestamp, &body, tweak.bad_signature, tweak.wrong_serial);
        headers.push(("Content-Type".into(), "application/json".into()));
        (headers, body)
    }

    fn signed_headers(
        &self,
        timestamp: &str,
        body: &[u8],
        bad_signature: bool,
        wrong_serial: bool,
    ) -> Vec<(String, String)> {
        signed_headers(
            &self.platform_key,
            &self.key_id,
            timestamp,
            body,
            bad_signature,
            wrong_serial,
        )
    }

    /// POSTs a notification to `url` (with the process's HTTP client); records and
    /// returns our endpoint's status and body. The generous timeout is for loaded
    /// test machines (a debug build verifies RSA-3072 slowly), not WeChat's.
    pub async fn deliver(
        &self,
        url: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> Result<(u16, String), FakeError> {
        let mut request = crate::integrations::http_client()
            .post(url)
            .timeout(Duration::from_secs(60))
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(name.as_str(), value.as_str());
        }
        let response = request
            .send()
            .await
            .map_err(|e| FakeError::Transport(e.to_string()))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| FakeError::Transport(e.to_string()))?;
        self.with(|s| {
            s.deliveries.push(Delivery {
                url: url.into(),
                status,
                body: text.clone(),
            })
        });
        Ok((status, text))
    }
}

/// `Wechatpay-*` headers signing `body` (or, when `bad_signature`, other content).
fn signed_headers(
    key: &PrivateKey,
    key_id: &str,
    timestamp: &str,
    body: &[u8],
    bad_signature: bool,
    wrong_serial: bool,
) -> Vec<(String, String)> {
    let nonce = nonce_str(32);
    let mut message = platform_message(timestamp, &nonce, body);
    if bad_signature {
        message.extend_from_slice(b"tampered");
    }
    let signature = sign(key, &message).unwrap_or_default();
    let serial = if wrong_serial {
        format!("PUB_KEY_ID_09{}", digits(26))
    } else {
        key_id.to_string()
    };
    vec![
        ("Wechatpay-Timestamp".into(), timestamp.into()),
        ("Wechatpay-Nonce".into(), nonce),
        ("Wechatpay-Signature".into(), signature),
        ("Wechatpay-Serial".into(), serial),
        (
            "Wechatpay-Signature-Type".into(),
            "WECHATPAY2-SHA256-RSA2048".into(),
        ),
        ("Request-ID".into(), uuid::Uuid::new_v4().to_string()),
    ]
}

/// The transaction JSON of a paid order.
fn paid_view(out_trade_no: &str, o: &FakeOrder) -> Value {
    let openid = o
        .openid
        .clone()
        .unwrap_or_else(|| "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o".into());
    json!({
        "appid": o.appid, "mchid": o.mchid, "out_trade_no": out_trade_no,
        "transaction_id": o.transaction_id, "trade_type": o.trade_type,
        "trade_state": "SUCCESS", "trade_state_desc": "支付成功", "bank_type": "OTHERS",
        "attach": "", "success_time": o.success_time.clone().unwrap_or_else(|| rfc3339(now())),
        "payer": { "openid": openid },
        "amount": { "total": o.total, "payer_total": o.total, "currency": "CNY", "payer_currency": "CNY" },
    })
}
