//! WeChat Pay API v3 (direct merchant, "WeChat Pay public key" mode): the client
//! (Native and JSAPI orders, query, close), the verification and decryption of
//! payment notifications, and a fake WeChat Pay server speaking the same protocol.
//!
//! Requests carry `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=..,nonce_str=..,
//! signature=..,timestamp=..,serial_no=..` signed with the merchant's private key;
//! responses and notifications are signed by the platform (`Wechatpay-*` headers)
//! with the key whose id (`PUB_KEY_ID_…`) is `Wechatpay-Serial`. Notification
//! resources are AES-256-GCM encrypted with the API v3 key.

pub mod client;
pub mod fake;
pub mod notify;
pub mod sign;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize};

pub use client::WechatPayClient;
pub use notify::{
    answer_failure, answer_failure_with, answer_success, decrypt_transaction, parse_notification,
    verify_notification, Notification, NotifyHeaders, Resource,
};

/// Base URL of WeChat Pay's production API.
pub const PRODUCTION_URL: &str = "https://api.mch.weixin.qq.com";

/// A merchant's WeChat Pay credentials. `Debug` shows no key material.
#[derive(Clone)]
pub struct Merchant {
    /// Merchant id (`mchid`).
    pub mch_id: String,
    /// App id (official account or mini program) the orders are paid in.
    pub app_id: String,
    /// Serial number of the merchant API certificate (`serial_no` of `Authorization`).
    pub serial_no: String,
    /// The merchant API private key (signs requests and JSAPI pay parameters).
    pub private_key: rsa::PrivateKey,
    /// The API v3 key: 32 ASCII characters (decrypts notification resources).
    pub api_v3_key: String,
    /// Id of the WeChat Pay public key (`PUB_KEY_ID_…`), expected as `Wechatpay-Serial`.
    pub platform_key_id: String,
    /// The WeChat Pay public key (verifies responses and notifications).
    pub platform_key: rsa::PublicKey,
    /// Where WeChat Pay posts payment notifications.
    pub notify_url: String,
}

impl std::fmt::Debug for Merchant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Merchant")
            .field("mch_id", &self.mch_id)
            .field("app_id", &self.app_id)
            .field("serial_no", &self.serial_no)
            .field("platform_key_id", &self.platform_key_id)
            .field("notify_url", &self.notify_url)
            .finish_non_exhaustive()
    }
}

/// Amount of a transaction, in fen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Amount {
    /// Order total.
    pub total: i64,
    /// What the payer paid (absent until paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_total: Option<i64>,
    /// Currency of `total` (`CNY`).
    pub currency: String,
    /// Currency the payer paid in (absent until paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer_currency: Option<String>,
}

/// The payer of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Payer {
    /// The payer's OpenID under `appid`.
    pub openid: String,
}

/// A transaction as WeChat Pay reports it (query answer or decrypted notification).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Transaction {
    /// App id the order was placed for.
    pub appid: String,
    /// Merchant id.
    pub mchid: String,
    /// Our order number.
    pub out_trade_no: String,
    /// WeChat Pay's transaction id (absent until paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transaction_id: Option<String>,
    /// `NATIVE`, `JSAPI`, ... (absent until paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trade_type: Option<String>,
    /// `SUCCESS`, `NOTPAY`, `CLOSED`, `REFUND`, `REVOKED`, `USERPAYING`, `PAYERROR`.
    pub trade_state: String,
    /// Human-readable state.
    #[serde(default)]
    pub trade_state_desc: String,
    /// Paying bank (absent until paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_type: Option<String>,
    /// Merchant data attached to the order.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach: Option<String>,
    /// Payment time, RFC 3339 (absent until paid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub success_time: Option<String>,
    /// The payer (absent until paid for Native orders).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payer: Option<Payer>,
    /// Amounts.
    pub amount: Amount,
}

/// What a JSAPI page passes to `WeixinJSBridge.invoke('getBrandWCPayRequest', ...)` /
/// `wx.requestPayment` (field names as WeChat spells them).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsapiParams {
    /// The app id.
    #[serde(rename = "appId")]
    pub app_id: String,
    /// Epoch seconds, as a string.
    #[serde(rename = "timeStamp")]
    pub time_stamp: String,
    /// Random string.
    #[serde(rename = "nonceStr")]
    pub nonce_str: String,
    /// `prepay_id=wx...`.
    pub package: String,
    /// Always `RSA`.
    #[serde(rename = "signType")]
    pub sign_type: String,
    /// Base64 RSA-SHA256 over `appId\ntimeStamp\nnonceStr\npackage\n`.
    #[serde(rename = "paySign")]
    pub pay_sign: String,
}

/// Why a call to WeChat Pay failed. Never carries key material.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum PayError {
    /// WeChat Pay answered 4xx/5xx with `{"code", "message"}`.
    #[error("WeChat Pay rejected the request: HTTP {status} {code}: {message}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// WeChat Pay's error code (`SIGN_ERROR`, `PARAM_ERROR`, `ORDER_CLOSED`, ...).
        code: String,
        /// WeChat Pay's message.
        message: String,
    },
    /// The request did not get an answer (connection, timeout, ...).
    #[error("WeChat Pay request failed: {0}")]
    Transport(String),
    /// A 2xx answer whose body is not what the API documents.
    #[error("invalid WeChat Pay response: {0}")]
    BadResponse(String),
    /// A 2xx answer whose platform signature, serial or timestamp does not verify.
    #[error("WeChat Pay response signature does not verify")]
    BadSignature,
    /// Our own arguments cannot be sent (bad order number, unusable key, ...).
    #[error("invalid WeChat Pay request: {0}")]
    Invalid(String),
}

/// Why a notification was refused. Never carries key material.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
pub enum NotifyError {
    /// A `Wechatpay-*` header is absent or empty.
    #[error("notification header {0} is missing")]
    MissingHeader(&'static str),
    /// `Wechatpay-Serial` is not our WeChat Pay public key's id.
    #[error("notification signed with an unknown key")]
    WrongSerial,
    /// `Wechatpay-Timestamp` is more than 5 minutes away from now.
    #[error("notification timestamp is stale")]
    Stale,
    /// The signature does not verify.
    #[error("notification signature does not verify")]
    BadSignature,
    /// Body or header that does not parse.
    #[error("malformed notification: {0}")]
    Malformed(String),
    /// The resource does not decrypt (wrong key, tampered ciphertext, bad nonce).
    #[error("notification resource does not decrypt")]
    Decrypt,
}
