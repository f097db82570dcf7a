//! The payment notification Fuiou posts to `notify_url`, and our acknowledgement.
//!
//! Decoding and verifying are two steps: the order number inside says which order,
//! hence which payment configuration (and Fuiou public key) to verify with (§5.15).
//!
//! Acknowledgement: Fuiou's documentation varies between versions (a plain `1`, or
//! an XML `result_code`). We answer, like the source's `BuildNotifyResponse`, HTTP 200
//! with GBK XML: `result_code` `000000` when we took the payment into account,
//! `000001` with a reason otherwise (Fuiou then notifies again later). A Fuiou
//! version that waits for `1` simply notifies again, which our handling tolerates
//! (payment is idempotent per order).

use super::client::required;
use super::xml::{decode_body, to_gbk_xml};
use super::{Fields, FuiouError, SUCCESS};

/// A decoded (not yet verified) payment notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notify {
    /// `result_code`: `000000` when the payment succeeded.
    pub result_code: String,
    /// `result_msg`.
    pub result_msg: String,
    /// `ins_cd`.
    pub ins_cd: String,
    /// `mchnt_cd`: the merchant the payment went to.
    pub mchnt_cd: String,
    /// `mchnt_order_no`: our order number.
    pub mchnt_order_no: String,
    /// `order_amt`, fen (0 when absent).
    pub order_amt: i64,
    /// `settle_order_amt`, fen (0 when absent).
    pub settle_order_amt: i64,
    /// `order_type` (`WECHAT`, `JSAPI`, `LETPAY`…).
    pub order_type: String,
    /// `transaction_id`: the channel's order number.
    pub transaction_id: String,
    /// `txn_fin_ts`: payment time, `yyyyMMddHHmmss` China time.
    pub txn_fin_ts: String,
    /// Every field, `sign` included.
    pub fields: Fields,
}

impl Notify {
    /// Whether the notification says the payment succeeded.
    pub fn paid(&self) -> bool {
        self.result_code == SUCCESS
    }
}

fn optional(fields: &Fields, name: &str) -> String {
    fields.get(name).cloned().unwrap_or_default()
}

fn optional_amount(fields: &Fields, name: &str) -> Result<i64, FuiouError> {
    match fields.get(name).map(String::as_str) {
        None | Some("") => Ok(0),
        Some(v) => v
            .parse()
            .map_err(|_| FuiouError::Malformed(format!("{name} is not an amount"))),
    }
}

/// Decodes the raw HTTP body of a notification (form `req=…`, URL-decoding,
/// GBK → UTF-8, XML) WITHOUT verifying it, so the caller can find the order and its
/// payment configuration first. Requires `result_code` and `mchnt_order_no`.
pub fn parse_notify(body: &[u8]) -> Result<Notify, FuiouError> {
    let fields = decode_body(body)?;
    Ok(Notify {
        result_code: required(&fields, "result_code")?,
        result_msg: optional(&fields, "result_msg"),
        ins_cd: optional(&fields, "ins_cd"),
        mchnt_cd: optional(&fields, "mchnt_cd"),
        mchnt_order_no: required(&fields, "mchnt_order_no")?,
        order_amt: optional_amount(&fields, "order_amt")?,
        settle_order_amt: optional_amount(&fields, "settle_order_amt")?,
        order_type: optional(&fields, "order_type"),
        transaction_id: optional(&fields, "transaction_id"),
        txn_fin_ts: optional(&fields, "txn_fin_ts"),
        fields,
    })
}

/// Checks the notification's signature with Fuiou's public key (`fy_public_key` of
/// the configuration the order was placed with). The signature only proves Fuiou
/// said it: the caller still compares `mchnt_cd`, `order_amt` and `result_code` with
/// the order.
pub fn verify_notify(n: &Notify, fuiou_public_key: &rsa::PublicKey) -> Result<(), FuiouError> {
    super::sign::verify(&n.fields, fuiou_public_key)
}

fn answer(code: &str, msg: &str) -> (u16, Vec<u8>) {
    let fields: Fields = [("result_code", code), ("result_msg", msg)]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    // Only a message outside GBK can fail: say so in ASCII instead.
    let body = to_gbk_xml(&fields).unwrap_or_else(|_| {
        let mut fallback = fields.clone();
        fallback.insert("result_msg".into(), "FAIL".into());
        to_gbk_xml(&fallback).unwrap_or_default()
    });
    (200, body)
}

/// Our answer to a notification we took into account: HTTP 200, GBK XML
/// `<xml><result_code>000000</result_code><result_msg>SUCCESS</result_msg></xml>`.
pub fn answer_success() -> (u16, Vec<u8>) {
    answer(SUCCESS, "SUCCESS")
}

/// Our answer to a notification we refused or could not handle: HTTP 200, GBK XML
/// with `result_code` `000001` and `msg`.
pub fn answer_failure(msg: &str) -> (u16, Vec<u8>) {
    answer("000001", msg)
}
