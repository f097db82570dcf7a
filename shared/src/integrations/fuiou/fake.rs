//! A fake Fuiou for tests and the local stack. It reads every request as Fuiou does
//! (form field `req`, URL-decoding, GBK, XML), requires a registered merchant whose
//! `ins_cd`/`term_id` match and whose signature verifies, checks the required fields,
//! keeps the orders, and answers signed GBK XML with its own key pair. Tests then
//! make orders paid: [`FakeFuiou::pay`] posts the signed notification to the order's
//! `notify_url`, [`FakeFuiou::notification`] builds one with [`Tweak`]s.
//!
//! Error codes are this fake's own (Fuiou's tables are longer): `1001` unreadable
//! request, `1002` missing field, `1010` bad signature, `1011` unknown merchant or
//! ins_cd/term_id mismatch, `1012` bad field value, `2001` duplicate order number,
//! `2002` no such order.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use md5::Md5;
use rsa::pkcs1v15::{SigningKey, VerifyingKey};
use rsa::{PrivateKey, PublicKey};

use super::client::{china_time, random_str};
use super::sign::{sign_with, signed, verify_with};
use super::xml::{decode_body, to_form, to_gbk_xml, url_encode};
use super::{Fields, FuiouError, SUCCESS};
use crate::integrations::pay_keys::{generate_key_pair, parse_private_key, BadKey};

/// Paths the fake serves (appended to `fy_api_url`).
pub const PATHS: &[&str] = &["/preCreate", "/wxPreCreate", "/commonQuery"];

/// Where an order stands at the fake.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FakeOrderState {
    /// Placed, not paid.
    NotPaid,
    /// Paid ([`FakeFuiou::pay`]).
    Paid,
}

/// An order as the fake keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FakeOrder {
    pub mchnt_cd: String,
    /// Fen.
    pub amount: i64,
    pub notify_url: String,
    /// `order_type` of `/preCreate`, or `trade_type` of `/wxPreCreate`.
    pub order_type: String,
    /// The payer (`sub_openid`), empty for QR-code orders.
    pub sub_openid: String,
    pub goods_des: String,
    pub state: FakeOrderState,
    /// The channel's order number, set when paid.
    pub transaction_id: String,
}

/// What the next answer should suffer.
#[derive(Clone, Debug)]
pub enum Fault {
    /// Answer normally, but with a signature that does not verify.
    BadSignature,
    /// Answer with this HTTP status and an empty body.
    Status(u16),
    /// Answer 200 with a body that is not a Fuiou message.
    Garbage,
}

/// One received request.
#[derive(Clone, Debug)]
pub struct LoggedCall {
    pub path: String,
    /// The request's fields (empty when it did not decode).
    pub fields: Fields,
    /// The `result_code` answered.
    pub result_code: String,
}

/// Knobs of [`FakeFuiou::notification`]; the default is the genuine notification.
#[derive(Clone, Debug, Default)]
pub struct Tweak {
    /// Sign something else: the signature does not verify.
    pub bad_signature: bool,
    /// Notify this amount (signed: the signature verifies).
    pub amount: Option<i64>,
    /// Change `order_amt` after signing: the signature no longer verifies.
    pub tampered_amount: Option<i64>,
    /// Notify this order number instead (signed).
    pub order_no: Option<String>,
    /// Notify this `result_code` (signed), e.g. `010001` for a failed payment.
    pub result_code: Option<String>,
    /// URL-encode the XML once instead of twice.
    pub encoded_once: bool,
}

struct Registered {
    ins_cd: String,
    term_id: String,
    verifier: VerifyingKey<Md5>,
}

struct FakeState {
    signer: SigningKey<Md5>,
    merchants: HashMap<String, Registered>,
    orders: HashMap<String, FakeOrder>,
    log: Vec<LoggedCall>,
    faults: VecDeque<Fault>,
}

type Shared = Arc<Mutex<FakeState>>;

/// A running fake Fuiou on 127.0.0.1.
#[derive(Clone)]
pub struct FakeFuiou {
    /// Base URL to configure merchants with (`fy_api_url`).
    pub url: String,
    state: Shared,
    private_pem: String,
    public_pem: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for FakeFuiou {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FakeFuiou").field("url", &self.url).finish()
    }
}

fn key_error(e: BadKey) -> std::io::Error {
    std::io::Error::other(e.to_string())
}

impl FakeFuiou {
    /// Starts a fake with a fresh key pair on `port` (0: any free port).
    pub async fn start(port: u16) -> std::io::Result<Self> {
        let (private_pem, _) = generate_key_pair().map_err(key_error)?;
        Self::start_with_key(port, &private_pem).await
    }

    /// Starts a fake signing with `private_key` (PEM or Base64 DER), on `port`.
    pub async fn start_with_key(port: u16, private_key: &str) -> std::io::Result<Self> {
        use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
        let key = parse_private_key(private_key).map_err(key_error)?;
        let private_pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(std::io::Error::other)?
            .to_string();
        let public_pem = key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(std::io::Error::other)?;
        let state: Shared = Arc::new(Mutex::new(FakeState {
            signer: SigningKey::new(key),
            merchants: HashMap::new(),
            orders: HashMap::new(),
            log: Vec::new(),
            faults: VecDeque::new(),
        }));
        let app = Router::new()
            .route("/{*path}", post(handle))
            .with_state(state.clone());
        let url = crate::integrations::serve_local(app, port).await?;
        Ok(Self {
            url,
            state,
            private_pem,
            public_pem,
            http: crate::integrations::http_client(),
        })
    }

    fn with<T>(&self, f: impl FnOnce(&mut FakeState) -> T) -> T {
        f(&mut self.state.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Fuiou's public key (SPKI PEM): what merchants configure as `fy_public_key`.
    pub fn fuiou_public_key_pem(&self) -> String {
        self.public_pem.clone()
    }

    /// Fuiou's public key.
    pub fn fuiou_public_key(&self) -> PublicKey {
        self.with(|s| s.signer.as_ref().to_public_key())
    }

    /// Fuiou's private key (tests sign their own messages with it).
    pub fn fuiou_private_key(&self) -> PrivateKey {
        self.with(|s| s.signer.as_ref().clone())
    }

    /// Fuiou's private key as PKCS#8 PEM (to start another fake with the same key).
    pub fn fuiou_private_key_pem(&self) -> String {
        self.private_pem.clone()
    }

    /// Registers (or replaces) a merchant and the public key of its private key.
    pub fn register_merchant(
        &self,
        ins_cd: &str,
        mchnt_cd: &str,
        term_id: &str,
        merchant_public_key: PublicKey,
    ) {
        let registered = Registered {
            ins_cd: ins_cd.into(),
            term_id: term_id.into(),
            verifier: VerifyingKey::new(merchant_public_key),
        };
        self.with(|s| s.merchants.insert(mchnt_cd.into(), registered));
    }

    /// Applies `fault` to the next answer (faults queue up).
    pub fn fail_next(&self, fault: Fault) {
        self.with(|s| s.faults.push_back(fault));
    }

    /// Every request received so far.
    pub fn calls(&self) -> Vec<LoggedCall> {
        self.with(|s| s.log.clone())
    }

    /// An order the fake keeps.
    pub fn order(&self, mchnt_order_no: &str) -> Option<FakeOrder> {
        self.with(|s| s.orders.get(mchnt_order_no).cloned())
    }

    /// Where an order stands.
    pub fn order_state(&self, mchnt_order_no: &str) -> Option<FakeOrderState> {
        self.order(mchnt_order_no).map(|o| o.state)
    }

    /// The form body of a payment notification for an order, signed by Fuiou, with
    /// `tweak` applied. An unknown order gives a notification with empty merchant
    /// fields and amount 0 (unless tweaked).
    pub fn notification(&self, mchnt_order_no: &str, tweak: &Tweak) -> Vec<u8> {
        self.with(|s| notification_of(s, mchnt_order_no, tweak))
            .unwrap_or_default()
    }

    /// Pays an order: marks it paid and posts the genuine notification to its
    /// `notify_url`. Returns our server's answer (HTTP status, body).
    pub async fn pay(&self, mchnt_order_no: &str) -> Result<(u16, Vec<u8>), FuiouError> {
        let (url, body) = self.with(|s| {
            let order = s
                .orders
                .get_mut(mchnt_order_no)
                .ok_or_else(|| FuiouError::Invalid("no such order".into()))?;
            order.state = FakeOrderState::Paid;
            if order.transaction_id.is_empty() {
                order.transaction_id = format!("4200{}", digits(24));
            }
            let url = order.notify_url.clone();
            Ok::<_, FuiouError>((url, notification_of(s, mchnt_order_no, &Tweak::default())?))
        })?;
        self.deliver(&url, body).await
    }

    /// Posts a notification body to `url` as Fuiou does; returns (HTTP status, body).
    pub async fn deliver(&self, url: &str, body: Vec<u8>) -> Result<(u16, Vec<u8>), FuiouError> {
        let res = self
            .http
            .post(url)
            .header(
                "content-type",
                "application/x-www-form-urlencoded;charset=GBK",
            )
            .body(body)
            .send()
            .await
            .map_err(|e| FuiouError::Transport(e.to_string()))?;
        let status = res.status().as_u16();
        let bytes = res
            .bytes()
            .await
            .map_err(|e| FuiouError::Transport(e.to_string()))?;
        Ok((status, bytes.to_vec()))
    }
}

fn digits(n: usize) -> String {
    use rand::Rng;
    let mut rng = rand::thread_rng();
    (0..n)
        .map(|_| char::from(b'0' + rng.gen_range(0..10u8)))
        .collect()
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

fn fields_of(pairs: Vec<(&str, String)>) -> Fields {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

fn notification_of(
    s: &FakeState,
    mchnt_order_no: &str,
    tweak: &Tweak,
) -> Result<Vec<u8>, FuiouError> {
    let order = s.orders.get(mchnt_order_no);
    let merchant = order.and_then(|o| s.merchants.get(&o.mchnt_cd).map(|m| (o, m)));
    let (ins_cd, mchnt_cd, term_id) = merchant
        .map(|(o, m)| (m.ins_cd.clone(), o.mchnt_cd.clone(), m.term_id.clone()))
        .unwrap_or_default();
    let amount = tweak
        .amount
        .unwrap_or_else(|| order.map_or(0, |o| o.amount));
    let code = tweak.result_code.clone().unwrap_or_else(|| SUCCESS.into());
    let msg = if code == SUCCESS {
        "SUCCESS"
    } else {
        "支付失败"
    };
    let time = china_time(now())?;
    let fields = fields_of(vec![
        ("result_code", code),
        ("result_msg", msg.into()),
        ("ins_cd", ins_cd),
        ("mchnt_cd", mchnt_cd),
        ("term_id", term_id),
        ("random_str", random_str()),
        (
            "user_id",
            order.map(|o| o.sub_openid.clone()).unwrap_or_default(),
        ),
        ("order_amt", amount.to_string()),
        ("settle_order_amt", amount.to_string()),
        ("curr_type", "CNY".into()),
        (
            "transaction_id",
            order.map(|o| o.transaction_id.clone()).unwrap_or_default(),
        ),
        ("txn_fin_ts", time.clone()),
        (
            "mchnt_order_no",
            tweak
                .order_no
                .clone()
                .unwrap_or_else(|| mchnt_order_no.into()),
        ),
        (
            "order_type",
            order.map(|o| o.order_type.clone()).unwrap_or_default(),
        ),
        ("reserved_fy_settle_dt", time.chars().take(8).collect()),
        ("reserved_fy_trace_no", digits(12)),
    ]);
    let mut fields = signed(fields, &s.signer)?;
    if tweak.bad_signature {
        let mut other = fields.clone();
        other.insert("random_str".into(), random_str());
        fields.insert("sign".into(), sign_with(&other, &s.signer)?);
    }
    if let Some(amount) = tweak.tampered_amount {
        fields.insert("order_amt".into(), amount.to_string());
    }
    if tweak.encoded_once {
        Ok(format!("req={}", url_encode(&to_gbk_xml(&fields)?)).into_bytes())
    } else {
        to_form(&fields)
    }
}

type Refusal = (&'static str, String);

fn need<'a>(f: &'a Fields, name: &str) -> Result<&'a str, Refusal> {
    f.get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
        .ok_or(("1002", format!("缺少必填字段 {name}")))
}

fn bad(name: &str) -> Refusal {
    ("1012", format!("字段格式错误 {name}"))
}

async fn handle(State(state): State<Shared>, Path(path): Path<String>, body: Bytes) -> Response {
    let path = format!("/{path}");
    if !PATHS.contains(&path.as_str()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    let mut s = state.lock().unwrap_or_else(|e| e.into_inner());
    let request = decode_body(&body);
    let outcome = match &request {
        Ok(fields) => operate(&mut s, &path, fields),
        Err(e) => Err(("1001", format!("报文解析失败: {e}"))),
    };
    let request = request.unwrap_or_default();
    let (code, msg, extra) = match outcome {
        Ok(extra) => (SUCCESS, "SUCCESS".to_string(), extra),
        Err((code, msg)) => (code, msg, Fields::new()),
    };
    s.log.push(LoggedCall {
        path: path.clone(),
        fields: request.clone(),
        result_code: code.into(),
    });
    let mut answer = fields_of(vec![
        ("result_code", code.into()),
        ("result_msg", msg),
        ("random_str", random_str()),
    ]);
    for name in ["ins_cd", "mchnt_cd", "term_id"] {
        answer.insert(name.into(), request.get(name).cloned().unwrap_or_default());
    }
    answer.extend(extra);
    let fault = s.faults.pop_front();
    let Ok(mut answer) = signed(answer, &s.signer) else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    match fault {
        Some(Fault::Status(code)) => {
            return StatusCode::from_u16(code)
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
                .into_response()
        }
        Some(Fault::Garbage) => return (StatusCode::OK, "<html>oops</html>").into_response(),
        Some(Fault::BadSignature) => {
            answer.insert("random_str".into(), random_str());
        }
        None => {}
    }
    match to_gbk_xml(&answer) {
        Ok(xml) => (
            StatusCode::OK,
            [("content-type", "text/plain;charset=GBK")],
            url_encode(&xml),
        )
            .into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

fn operate(s: &mut FakeState, path: &str, f: &Fields) -> Result<Fields, Refusal> {
    let mchnt_cd = need(f, "mchnt_cd")?;
    let merchant = s
        .merchants
        .get(mchnt_cd)
        .filter(|m| f.get("ins_cd") == Some(&m.ins_cd) && f.get("term_id") == Some(&m.term_id))
        .ok_or(("1011", "商户不存在或机构号、终端号不符".to_string()))?;
    if verify_with(f, &merchant.verifier).is_err() {
        return Err(("1010", "验签失败".into()));
    }
    need(f, "version")?;
    need(f, "random_str")?;
    let order_no = need(f, "mchnt_order_no")?;
    if !(5..=30).contains(&order_no.len()) || !order_no.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(bad("mchnt_order_no"));
    }
    if path == "/commonQuery" {
        let order = s
            .orders
            .get(order_no)
            .filter(|o| o.mchnt_cd == mchnt_cd)
            .ok_or(("2002", "订单不存在".to_string()))?;
        if need(f, "order_type")? != order.order_type {
            return Err(bad("order_type"));
        }
        let paid = order.state == FakeOrderState::Paid;
        return Ok(fields_of(vec![
            ("order_type", order.order_type.clone()),
            ("mchnt_order_no", order_no.into()),
            ("order_amt", order.amount.to_string()),
            ("trans_stat", if paid { "SUCCESS" } else { "NOTPAY" }.into()),
            ("transaction_id", order.transaction_id.clone()),
        ]));
    }
    for name in ["goods_des", "term_ip", "notify_url"] {
        need(f, name)?;
    }
    let amount: i64 = need(f, "order_amt")?
        .parse()
        .ok()
        .filter(|a| *a > 0)
        .ok_or_else(|| bad("order_amt"))?;
    let ts = need(f, "txn_begin_ts")?;
    if ts.len() != 14 || !ts.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("txn_begin_ts"));
    }
    if !matches!(
        f.get("curr_type").map(String::as_str),
        None | Some("" | "CNY")
    ) {
        return Err(bad("curr_type"));
    }
    let (order_type, extra) = if path == "/preCreate" {
        let order_type = need(f, "order_type")?;
        if !matches!(order_type, "WECHAT" | "ALIPAY" | "UNIONPAY") {
            return Err(bad("order_type"));
        }
        let extra = fields_of(vec![
            ("order_type", order_type.into()),
            ("session_id", digits(20)),
            (
                "qr_code",
                format!("weixin://wxpay/bizpayurl?pr={}", digits(7)),
            ),
            ("reserved_fy_order_no", digits(18)),
        ]);
        (order_type, extra)
    } else {
        let trade_type = need(f, "trade_type")?;
        if !matches!(trade_type, "JSAPI" | "LETPAY") {
            return Err(bad("trade_type"));
        }
        let sub_appid = need(f, "sub_appid")?;
        let sub_openid = need(f, "sub_openid")?;
        let prepay = format!("wx{}", digits(30));
        let extra = fields_of(vec![
            ("session_id", prepay.clone()),
            ("sub_appid", sub_appid.into()),
            ("sub_openid", sub_openid.into()),
            ("sdk_appid", sub_appid.into()),
            ("sdk_timestamp", now().to_string()),
            ("sdk_noncestr", random_str()),
            ("sdk_package", format!("prepay_id={prepay}")),
            ("sdk_signtype", "RSA".into()),
            ("sdk_paysign", format!("{}==", random_str())),
            ("reserved_fy_order_no", digits(18)),
            ("reserved_pay_info", String::new()),
        ]);
        (trade_type, extra)
    };
    if s.orders.contains_key(order_no) {
        return Err(("2001", "订单号重复".into()));
    }
    let order = FakeOrder {
        mchnt_cd: mchnt_cd.into(),
        amount,
        notify_url: need(f, "notify_url")?.into(),
        order_type: order_type.into(),
        sub_openid: f.get("sub_openid").cloned().unwrap_or_default(),
        goods_des: need(f, "goods_des")?.into(),
        state: FakeOrderState::NotPaid,
        transaction_id: String::new(),
    };
    s.orders.insert(order_no.into(), order);
    Ok(extra)
}
