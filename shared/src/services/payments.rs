//! Starting and closing online payments with the provider of a payment configuration
//! (WeChat Pay direct or Fuiou): the admin web page shows a QR code, so payments
//! started here are WeChat Pay Native (`code_url`) or Fuiou's pre-create (`qr_code`).

use serde::{Deserialize, Serialize};

use super::payment_configs::OpenConfig;
use crate::app::AppState;
use crate::codes::{BusinessError, Code};
use crate::domain::payment_config::ProviderType;
use crate::integrations::fuiou::{self, FuiouClient};
use crate::integrations::pay_keys::{parse_private_key, parse_public_key};
use crate::integrations::wechat_pay::{self, WechatPayClient};

/// The provider refused or could not be reached (`1173`), or the configuration's
/// keys do not parse (`2001`; they were checked when saved).
#[derive(Debug, thiserror::Error)]
pub enum PaymentError {
    #[error("payment provider: {0}")]
    Provider(String),
    #[error("payment config {0} is unusable: {1}")]
    Config(u64, String),
}

impl BusinessError for PaymentError {
    fn code(&self) -> Code {
        match self {
            PaymentError::Provider(_) => Code::PAYMENT_PROVIDER_FAILED,
            PaymentError::Config(..) => Code::INTERNAL,
        }
    }
}

/// What the payer's page needs: a QR code to scan with WeChat.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct PaymentParams {
    /// `wechat_direct` or `fuyou`.
    pub channel: String,
    /// The content of the QR code (`weixin://wxpay/bizpayurl?…` for WeChat Pay).
    pub code_url: String,
    /// When the payment stops being accepted (RFC 3339).
    pub expires_at: String,
}

/// The WeChat Pay merchant of configuration `c`.
pub fn wechat_merchant(c: &OpenConfig) -> Result<wechat_pay::Merchant, PaymentError> {
    let f = &c.record.fields;
    let bad = |what: &str| PaymentError::Config(c.record.id, what.into());
    Ok(wechat_pay::Merchant {
        mch_id: f.wx_mch_id.clone(),
        app_id: if f.oa_app_id.is_empty() {
            f.miniapp_app_id.clone()
        } else {
            f.oa_app_id.clone()
        },
        serial_no: f.wx_serial_no.clone(),
        private_key: parse_private_key(&c.secrets.wx_key_content)
            .map_err(|_| bad("wx_key_content"))?,
        api_v3_key: c.secrets.wx_api_v3_key.clone(),
        platform_key_id: f.wx_pay_public_key_id.clone(),
        platform_key: parse_public_key(&f.wx_pay_public_key)
            .map_err(|_| bad("wx_pay_public_key"))?,
        notify_url: f.wx_notify_url.clone(),
    })
}

/// The Fuiou merchant of configuration `c`.
pub fn fuiou_merchant(c: &OpenConfig) -> Result<fuiou::Merchant, PaymentError> {
    let f = &c.record.fields;
    let bad = |what: &str| PaymentError::Config(c.record.id, what.into());
    Ok(fuiou::Merchant {
        ins_cd: f.fy_ins_cd.clone(),
        mchnt_cd: f.fy_mchnt_cd.clone(),
        term_id: f.fy_term_id.clone(),
        private_key: parse_private_key(&c.secrets.fy_private_key)
            .map_err(|_| bad("fy_private_key"))?,
        fuiou_public_key: parse_public_key(&f.fy_public_key).map_err(|_| bad("fy_public_key"))?,
        api_url: f.fy_api_url.clone(),
        notify_url: f.fy_notify_url.clone(),
    })
}

/// Starts a QR-code payment of `amount` fen for `out_trade_no`, open until `expires`
/// (epoch seconds), with the provider of configuration `c`.
pub async fn start_qr(
    state: &AppState,
    c: &OpenConfig,
    out_trade_no: &str,
    description: &str,
    amount: i64,
    expires: i64,
) -> Result<PaymentParams, PaymentError> {
    let provider = |e: &dyn std::fmt::Display| PaymentError::Provider(e.to_string());
    let (channel, code_url) = match c.record.provider_type {
        ProviderType::Wechat => {
            let client = WechatPayClient::new(&state.cfg.wechat_pay_url, wechat_merchant(c)?);
            let url = client
                .native(out_trade_no, description, amount, expires)
                .await
                .map_err(|e| provider(&e))?;
            ("wechat_direct", url)
        }
        ProviderType::Fuiou => {
            let client = FuiouClient::new(fuiou_merchant(c)?);
            let url = client
                .pre_create(
                    out_trade_no,
                    description,
                    amount,
                    "127.0.0.1",
                    state.clock.now(),
                )
                .await
                .map_err(|e| provider(&e))?;
            ("fuyou", url)
        }
    };
    Ok(PaymentParams {
        channel: channel.into(),
        code_url,
        expires_at: crate::clock::rfc3339(expires),
    })
}

/// Closes `out_trade_no` at the provider so it can no longer be paid (WeChat Pay;
/// Fuiou orders simply time out). Best effort: a failure is logged.
pub async fn close(state: &AppState, c: &OpenConfig, out_trade_no: &str) {
    if c.record.provider_type != ProviderType::Wechat {
        return;
    }
    let result = match wechat_merchant(c) {
        Ok(m) => WechatPayClient::new(&state.cfg.wechat_pay_url, m)
            .close(out_trade_no)
            .await
            .map_err(|e| e.to_string()),
        Err(e) => Err(e.to_string()),
    };
    if let Err(e) = result {
        tracing::warn!(out_trade_no, error = %e, "closing the payment at the provider failed");
    }
}
