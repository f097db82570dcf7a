//! The merchant's side of Fuiou's aggregated-payment API: `/preCreate` (a QR code to
//! scan), `/wxPreCreate` (WeChat official-account JSAPI or mini-program LETPAY) and
//! `/commonQuery`. Every call is signed with the merchant key; every answer is checked
//! against Fuiou's public key before it is believed. Calls are not retried: placing an
//! order twice is Fuiou's "duplicate order" error, so the caller decides.

use std::sync::Arc;
use std::time::Duration;

use md5::Md5;
use rand::distributions::Alphanumeric;
use rand::Rng;
use rsa::pkcs1v15::{SigningKey, VerifyingKey};
use rsa::{PrivateKey, PublicKey};
use serde::Serialize;

use super::sign::{signed, verify_with};
use super::xml::{decode_body, to_form};
use super::{Fields, FuiouError, SUCCESS};

/// Default timeout of one call (connect + answer).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// One Fuiou merchant: the `fy_*` fields of a payment configuration (§4.13), keys
/// parsed (see `pay_keys`).
#[derive(Clone, Debug)]
pub struct Merchant {
    /// Institution code (`fy_ins_cd`).
    pub ins_cd: String,
    /// Merchant code (`fy_mchnt_cd`).
    pub mchnt_cd: String,
    /// Terminal id (`fy_term_id`; Fuiou's default is `88888888`).
    pub term_id: String,
    /// The merchant's private key (`fy_private_key`): signs our requests.
    pub private_key: PrivateKey,
    /// Fuiou's public key (`fy_public_key`): verifies Fuiou's answers and notifications.
    pub fuiou_public_key: PublicKey,
    /// Base URL (`fy_api_url`); a call goes to base + `/preCreate` etc.
    pub api_url: String,
    /// Where Fuiou posts payment notifications (`fy_notify_url`).
    pub notify_url: String,
}

/// Which WeChat payment `/wxPreCreate` prepares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TradeType {
    /// Official-account (公众号) payment inside WeChat's browser.
    Jsapi,
    /// Mini-program (小程序) payment.
    Letpay,
}

impl TradeType {
    /// The wire value of `trade_type`.
    pub fn as_str(self) -> &'static str {
        match self {
            TradeType::Jsapi => "JSAPI",
            TradeType::Letpay => "LETPAY",
        }
    }
}

/// What the payer's WeChat needs to start the payment (`WeixinJSBridge`
/// `getBrandWCPayRequest` / `wx.requestPayment`); serialised with WeChat's names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SdkParams {
    /// `sdk_appid`.
    #[serde(rename = "appId")]
    pub app_id: String,
    /// `sdk_timestamp`.
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    /// `sdk_noncestr`.
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    /// `sdk_package` (`prepay_id=…`).
    pub package: String,
    /// `sdk_signtype`.
    #[serde(rename = "signType")]
    pub sign_type: String,
    /// `sdk_paysign`.
    #[serde(rename = "paySign")]
    pub pay_sign: String,
    /// `reserved_pay_info`, when Fuiou sends it (not covered by Fuiou's signature).
    #[serde(skip)]
    pub reserved_pay_info: Option<String>,
}

/// The answer of `/commonQuery`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueryResult {
    /// `trans_stat`: `SUCCESS`, `NOTPAY`, `PAYERROR`, `CLOSED`, `REVOKED`,
    /// `USERPAYING`, `REFUND`.
    pub trans_stat: String,
    /// `order_amt`, fen.
    pub order_amt: i64,
    /// `transaction_id` (the channel's order number; empty until paid).
    pub transaction_id: String,
    /// Every field of the answer.
    pub fields: Fields,
}

impl QueryResult {
    /// Whether the order is paid.
    pub fn paid(&self) -> bool {
        self.trans_stat == "SUCCESS"
    }
}

/// A client of one merchant; cheap to clone.
#[derive(Clone, Debug)]
pub struct FuiouClient {
    http: reqwest::Client,
    merchant: Arc<Merchant>,
    signer: Arc<SigningKey<Md5>>,
    verifier: Arc<VerifyingKey<Md5>>,
    timeout: Duration,
}

/// A random 32-character `random_str`.
pub fn random_str() -> String {
    rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(32)
        .map(char::from)
        .collect()
}

/// `yyyyMMddHHmmss` in China time (UTC+8, no daylight saving) of epoch seconds.
pub fn china_time(epoch_s: i64) -> Result<String, FuiouError> {
    let offset = chrono::FixedOffset::east_opt(8 * 3600)
        .ok_or_else(|| FuiouError::Invalid("time zone".into()))?;
    let at = chrono::DateTime::from_timestamp(epoch_s, 0)
        .ok_or_else(|| FuiouError::Invalid("time out of range".into()))?;
    Ok(at.with_timezone(&offset).format("%Y%m%d%H%M%S").to_string())
}

impl FuiouClient {
    /// A client for `merchant`, with [`DEFAULT_TIMEOUT`].
    pub fn new(merchant: Merchant) -> Self {
        Self {
            http: crate::integrations::http_client(),
            signer: Arc::new(SigningKey::new(merchant.private_key.clone())),
            verifier: Arc::new(VerifyingKey::new(merchant.fuiou_public_key.clone())),
            merchant: Arc::new(merchant),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same client with another per-call timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The merchant this client speaks for.
    pub fn merchant(&self) -> &Merchant {
        &self.merchant
    }

    /// Places a WeChat order to be paid by scanning a QR code (`/preCreate`,
    /// `order_type` `WECHAT`): `order_amt` in fen, `now` in epoch seconds. Returns
    /// `qr_code`, the text to render as the QR code.
    pub async fn pre_create(
        &self,
        mchnt_order_no: &str,
        goods_des: &str,
        order_amt: i64,
        term_ip: &str,
        now: i64,
    ) -> Result<String, FuiouError> {
        let mut fields = self.order_fields(mchnt_order_no, goods_des, order_amt, term_ip, now)?;
        fields.insert("order_type".into(), "WECHAT".into());
        let answer = self.call("/preCreate", fields).await?;
        required(&answer, "qr_code")
    }

    /// Places a WeChat in-app order (`/wxPreCreate`): official-account JSAPI or
    /// mini-program LETPAY for the payer `sub_openid` of app `sub_appid`. Returns the
    /// parameters the payer's WeChat needs.
    #[allow(clippy::too_many_arguments)]
    pub async fn wx_pre_create(
        &self,
        mchnt_order_no: &str,
        goods_des: &str,
        order_amt: i64,
        term_ip: &str,
        now: i64,
        trade: TradeType,
        sub_appid: &str,
        sub_openid: &str,
    ) -> Result<SdkParams, FuiouError> {
        if sub_appid.is_empty() || sub_openid.is_empty() {
            return Err(FuiouError::Invalid(
                "sub_appid and sub_openid required".into(),
            ));
        }
        let mut fields = self.order_fields(mchnt_order_no, goods_des, order_amt, term_ip, now)?;
        fields.insert("trade_type".into(), trade.as_str().into());
        fields.insert("sub_appid".into(), sub_appid.into());
        fields.insert("sub_openid".into(), sub_openid.into());
        fields.insert("openid".into(), String::new());
        fields.insert("limit_pay".into(), String::new());
        fields.insert("product_id".into(), String::new());
        let answer = self.call("/wxPreCreate", fields).await?;
        Ok(SdkParams {
            app_id: required(&answer, "sdk_appid")?,
            time_stamp: required(&answer, "sdk_timestamp")?,
            nonce_str: required(&answer, "sdk_noncestr")?,
            package: required(&answer, "sdk_package")?,
            sign_type: required(&answer, "sdk_signtype")?,
            pay_sign: required(&answer, "sdk_paysign")?,
            reserved_pay_info: answer
                .get("reserved_pay_info")
                .filter(|v| !v.is_empty())
                .cloned(),
        })
    }

    /// Asks for the state of an order (`/commonQuery`); `order_type` as placed
    /// (`WECHAT` for [`FuiouClient::pre_create`], `JSAPI`/`LETPAY` for
    /// [`FuiouClient::wx_pre_create`]).
    pub async fn query(
        &self,
        mchnt_order_no: &str,
        order_type: &str,
    ) -> Result<QueryResult, FuiouError> {
        let mut fields = self.base_fields();
        fields.insert("order_type".into(), order_type.into());
        fields.insert("mchnt_order_no".into(), mchnt_order_no.into());
        let answer = self.call("/commonQuery", fields).await?;
        Ok(QueryResult {
            trans_stat: required(&answer, "trans_stat")?,
            order_amt: amount(&answer, "order_amt")?,
            transaction_id: answer.get("transaction_id").cloned().unwrap_or_default(),
            fields: answer,
        })
    }

    fn base_fields(&self) -> Fields {
        let m = &self.merchant;
        [
            ("version", "1.0".to_string()),
            ("ins_cd", m.ins_cd.clone()),
            ("mchnt_cd", m.mchnt_cd.clone()),
            ("term_id", m.term_id.clone()),
            ("random_str", random_str()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    fn order_fields(
        &self,
        mchnt_order_no: &str,
        goods_des: &str,
        order_amt: i64,
        term_ip: &str,
        now: i64,
    ) -> Result<Fields, FuiouError> {
        if mchnt_order_no.is_empty() || goods_des.is_empty() || term_ip.is_empty() {
            return Err(FuiouError::Invalid(
                "mchnt_order_no, goods_des and term_ip required".into(),
            ));
        }
        if order_amt <= 0 {
            return Err(FuiouError::Invalid("order_amt must be positive".into()));
        }
        // Documented fields go out even when empty (and are signed as `k=`), as
        // Fuiou's own SDKs send them.
        let mut fields = self.base_fields();
        for (k, v) in [
            ("goods_des", goods_des.to_string()),
            ("goods_detail", String::new()),
            ("goods_tag", String::new()),
            ("addn_inf", String::new()),
            ("mchnt_order_no", mchnt_order_no.to_string()),
            ("curr_type", "CNY".to_string()),
            ("order_amt", order_amt.to_string()),
            ("term_ip", term_ip.to_string()),
            ("txn_begin_ts", china_time(now)?),
            ("notify_url", self.merchant.notify_url.clone()),
        ] {
            fields.insert(k.to_string(), v);
        }
        Ok(fields)
    }

    /// Signs and posts `fields` to `path`; returns the answer's fields once its
    /// signature is checked and its `result_code` is success.
    pub async fn call(&self, path: &str, fields: Fields) -> Result<Fields, FuiouError> {
        let body = to_form(&signed(fields, &self.signer)?)?;
        let url = format!("{}{path}", self.merchant.api_url.trim_end_matches('/'));
        let started = std::time::Instant::now();
        let res = self
            .http
            .post(&url)
            .header(
                "content-type",
                "application/x-www-form-urlencoded;charset=GBK",
            )
            .timeout(self.timeout)
            .body(body)
            .send()
            .await
            .map_err(transport)?;
        let status = res.status().as_u16();
        if status != 200 {
            tracing::warn!(path, status, "Fuiou HTTP status");
            return Err(FuiouError::Transport(format!("HTTP status {status}")));
        }
        let bytes = res.bytes().await.map_err(transport)?;
        let answer = decode_body(&bytes)?;
        let code = answer.get("result_code").cloned().unwrap_or_default();
        let message = answer.get("result_msg").cloned().unwrap_or_default();
        // A refusal may come unsigned; it is reported, never acted upon.
        let unsigned = answer.get("sign").is_none_or(|s| s.is_empty());
        if code != SUCCESS && unsigned {
            tracing::warn!(path, code, message, "Fuiou refused (unsigned answer)");
            return Err(FuiouError::Rejected { code, message });
        }
        verify_with(&answer, &self.verifier).inspect_err(|_| {
            tracing::error!(path, "Fuiou answer with a bad signature");
        })?;
        if code != SUCCESS {
            tracing::warn!(path, code, message, "Fuiou refused");
            return Err(FuiouError::Rejected { code, message });
        }
        if answer.get("mchnt_cd") != Some(&self.merchant.mchnt_cd) {
            return Err(FuiouError::Malformed("answer for another merchant".into()));
        }
        tracing::debug!(
            path,
            elapsed_ms = started.elapsed().as_millis() as u64,
            "Fuiou call done"
        );
        Ok(answer)
    }
}

fn transport(e: reqwest::Error) -> FuiouError {
    if e.is_timeout() {
        FuiouError::Transport("timed out".into())
    } else {
        FuiouError::Transport(e.to_string())
    }
}

/// A field that must be present and non-empty.
pub(crate) fn required(fields: &Fields, name: &str) -> Result<String, FuiouError> {
    fields
        .get(name)
        .filter(|v| !v.is_empty())
        .cloned()
        .ok_or_else(|| FuiouError::Malformed(format!("{name} missing")))
}

/// A field holding an amount in fen.
pub(crate) fn amount(fields: &Fields, name: &str) -> Result<i64, FuiouError> {
    required(fields, name)?
        .parse()
        .map_err(|_| FuiouError::Malformed(format!("{name} is not an amount")))
}
