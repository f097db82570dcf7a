//! The WeChat Pay API v3 client: every request signed with the merchant key, every
//! 2xx response's platform signature, serial and timestamp verified before its body
//! is used. Non-2xx answers become [`PayError::Rejected`] (as WeChat's own SDKs do,
//! their signature is not required: an error triggers no state change).

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use super::notify::{verify_notification, NotifyHeaders};
use super::sign::{authorization, nonce_str, pay_sign};
use super::{JsapiParams, Merchant, PayError, Transaction};
use crate::clock::{rfc3339, Clock};

/// Timeout of one request unless [`WechatPayClient::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A WeChat Pay client for one merchant; cheap to clone.
#[derive(Clone, Debug)]
pub struct WechatPayClient {
    http: reqwest::Client,
    base_url: String,
    merchant: Arc<Merchant>,
    clock: Clock,
    timeout: Duration,
}

#[derive(Deserialize)]
struct ErrorBody {
    code: String,
    #[serde(default)]
    message: String,
}

/// Whether `no` is a valid `out_trade_no`: 6–32 characters of `0-9A-Za-z_-*`.
pub fn valid_out_trade_no(no: &str) -> bool {
    (6..=32).contains(&no.len())
        && no
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-*".contains(&b))
}

impl WechatPayClient {
    /// A client for `merchant` against `base_url` ([`super::PRODUCTION_URL`] or a fake's
    /// URL), using the process's HTTP client, the wall clock and [`DEFAULT_TIMEOUT`].
    pub fn new(base_url: &str, merchant: Merchant) -> Self {
        Self {
            http: crate::integrations::http_client(),
            base_url: base_url.trim_end_matches('/').to_string(),
            merchant: Arc::new(merchant),
            clock: Clock::default(),
            timeout: DEFAULT_TIMEOUT,
        }
    }

    /// The same client reading time from `clock` (request and JSAPI timestamps,
    /// response freshness).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }

    /// The same client with another per-request timeout.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The merchant this client signs for.
    pub fn merchant(&self) -> &Merchant {
        &self.merchant
    }

    fn order_body(
        &self,
        out_trade_no: &str,
        description: &str,
        total_fen: i64,
        time_expire: i64,
    ) -> Result<Value, PayError> {
        if !valid_out_trade_no(out_trade_no) {
            return Err(PayError::Invalid(
                "out_trade_no must be 6-32 characters of 0-9A-Za-z_-*".into(),
            ));
        }
        let m = &self.merchant;
        Ok(json!({
            "appid": m.app_id,
            "mchid": m.mch_id,
            "description": description,
            "out_trade_no": out_trade_no,
            "time_expire": rfc3339(time_expire),
            "notify_url": m.notify_url,
            "amount": { "total": total_fen, "currency": "CNY" },
        }))
    }

    /// Places a Native order (QR code payment) expiring at `time_expire` (epoch s);
    /// returns its `code_url`. The same order placed again returns the same URL.
    pub async fn native(
        &self,
        out_trade_no: &str,
        description: &str,
        total_fen: i64,
        time_expire: i64,
    ) -> Result<String, PayError> {
        #[derive(Deserialize)]
        struct Answer {
            code_url: String,
        }
        let body = self.order_body(out_trade_no, description, total_fen, time_expire)?;
        let answer: Answer = self
            .call_json(Method::POST, "/v3/pay/transactions/native", Some(&body))
            .await?;
        Ok(answer.code_url)
    }

    /// Places a JSAPI order for `openid` and returns the signed parameters the page
    /// hands to WeChat's payment sheet.
    pub async fn jsapi(
        &self,
        out_trade_no: &str,
        description: &str,
        total_fen: i64,
        time_expire: i64,
        openid: &str,
    ) -> Result<JsapiParams, PayError> {
        #[derive(Deserialize)]
        struct Answer {
            prepay_id: String,
        }
        let mut body = self.order_body(out_trade_no, description, total_fen, time_expire)?;
        if let Some(fields) = body.as_object_mut() {
            fields.insert("payer".into(), json!({ "openid": openid }));
        }
        let answer: Answer = self
            .call_json(Method::POST, "/v3/pay/transactions/jsapi", Some(&body))
            .await?;
        self.jsapi_params(&answer.prepay_id)
    }

    /// The JSAPI payment parameters for `prepay_id`, signed now.
    pub fn jsapi_params(&self, prepay_id: &str) -> Result<JsapiParams, PayError> {
        let m = &self.merchant;
        let time_stamp = self.clock.now().to_string();
        let nonce = nonce_str(32);
        let package = format!("prepay_id={prepay_id}");
        let pay_sign = pay_sign(&m.private_key, &m.app_id, &time_stamp, &nonce, &package)?;
        Ok(JsapiParams {
            app_id: m.app_id.clone(),
            time_stamp,
            nonce_str: nonce,
            package,
            sign_type: "RSA".into(),
            pay_sign,
        })
    }

    /// The transaction of order `out_trade_no` (`404 ORDER_NOT_EXIST` when unknown).
    pub async fn query(&self, out_trade_no: &str) -> Result<Transaction, PayError> {
        if !valid_out_trade_no(out_trade_no) {
            return Err(PayError::Invalid("bad out_trade_no".into()));
        }
        let path = format!(
            "/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={}",
            self.merchant.mch_id
        );
        self.call_json(Method::GET, &path, None).await
    }

    /// Closes unpaid order `out_trade_no` (WeChat answers 204).
    pub async fn close(&self, out_trade_no: &str) -> Result<(), PayError> {
        if !valid_out_trade_no(out_trade_no) {
            return Err(PayError::Invalid("bad out_trade_no".into()));
        }
        let path = format!("/v3/pay/transactions/out-trade-no/{out_trade_no}/close");
        let body = json!({ "mchid": self.merchant.mch_id });
        self.call(Method::POST, &path, Some(&body)).await?;
        Ok(())
    }

    async fn call_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<T, PayError> {
        let bytes = self.call(method, path_and_query, body).await?;
        serde_json::from_slice(&bytes).map_err(|e| PayError::BadResponse(e.to_string()))
    }

    /// Sends one signed request; returns the verified body of a 2xx answer.
    async fn call(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> Result<Vec<u8>, PayError> {
        let body = body.map(Value::to_string).unwrap_or_default();
        let url = reqwest::Url::parse(&format!("{}{path_and_query}", self.base_url))
            .map_err(|e| PayError::Invalid(format!("bad URL: {e}")))?;
        // Sign exactly what goes on the wire (after the URL parser's normalisation).
        let signed_path = match url.query() {
            Some(q) => format!("{}?{q}", url.path()),
            None => url.path().to_string(),
        };
        let header = authorization(
            &self.merchant,
            method.as_str(),
            &signed_path,
            &body,
            self.clock.now(),
            &nonce_str(32),
        )?;
        let mut request = self
            .http
            .request(method.clone(), url)
            .timeout(self.timeout)
            .header(AUTHORIZATION, header)
            .header(ACCEPT, "application/json")
            .header(CONTENT_TYPE, "application/json")
            .header(
                USER_AGENT,
                concat!("cmp/", env!("CARGO_PKG_VERSION"), " (WechatPay-APIv3)"),
            );
        if method != Method::GET {
            request = request.body(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| PayError::Transport(e.without_url().to_string()))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| PayError::Transport(e.without_url().to_string()))?
            .to_vec();
        if !(200..300).contains(&status) {
            let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(e) => (e.code, e.message),
                Err(_) => (
                    "UNKNOWN".to_string(),
                    String::from_utf8_lossy(&bytes).chars().take(200).collect(),
                ),
            };
            tracing::warn!(path = %signed_path, status, %code, %message, "WeChat Pay rejected a request");
            return Err(PayError::Rejected {
                status,
                code,
                message,
            });
        }
        let lookup = |name: &str| {
            headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_string)
        };
        let verified = NotifyHeaders::from_lookup(lookup).and_then(|h| {
            verify_notification(
                &h,
                &bytes,
                &self.merchant.platform_key_id,
                &self.merchant.platform_key,
                self.clock.now(),
            )
        });
        if let Err(e) = verified {
            tracing::warn!(path = %signed_path, status, reason = %e, "WeChat Pay response does not verify");
            return Err(PayError::BadSignature);
        }
        Ok(bytes)
    }
}
