//! The local stack's payment providers: a fake WeChat Pay and a fake Fuiou, each
//! with a merchant registered under freshly generated keys, and a description of
//! both for people and black-box clients: the ready-made bodies of
//! `POST /api/admin/wechat-configs` that point at the fakes, and the fakes' own
//! private keys (to sign notifications the way the providers would).

use serde_json::{json, Value};

use super::LocalError;
use crate::integrations::fuiou::fake::FakeFuiou;
use crate::integrations::pay_keys::{generate_key_pair, parse_private_key};
use crate::integrations::wechat_pay::fake::FakeWechatPay;

/// The local WeChat Pay merchant.
pub const WECHAT_MCH_ID: &str = "1900000109";
/// Serial number of the local merchant's certificate.
pub const WECHAT_SERIAL: &str = "3775B6A45ACD588826D15E583A95F5DD4C9F3DB1";
/// The local merchant's API v3 key (32 characters).
pub const WECHAT_V3_KEY: &str = "cmpLocalApiV3Key0123456789abcdef";
/// The local Fuiou institution, merchant and terminal.
pub const FUIOU_IDS: (&str, &str, &str) = ("08A9999999", "0002900F0370542", "88888888");

/// The running fakes and their description.
pub struct PaymentFakes {
    pub wechat: FakeWechatPay,
    pub fuiou: FakeFuiou,
    /// What `.dev/payment-fakes.json` holds.
    pub info: Value,
}

/// Starts both fakes on `wechat_port` and `fuiou_port` (0: any) with merchants whose
/// notifications go to the API at `api_url`.
pub async fn start(
    api_url: &str,
    wechat_port: u16,
    fuiou_port: u16,
) -> Result<PaymentFakes, LocalError> {
    let (wx_private, _) = generate_key_pair()?;
    let (fy_private, _) = generate_key_pair()?;
    let wechat = FakeWechatPay::start(wechat_port).await?;
    wechat.register_merchant(
        WECHAT_MCH_ID,
        WECHAT_SERIAL,
        parse_private_key(&wx_private)?.to_public_key(),
        WECHAT_V3_KEY,
    );
    let fuiou = FakeFuiou::start(fuiou_port).await?;
    let (ins, mchnt, term) = FUIOU_IDS;
    fuiou.register_merchant(
        ins,
        mchnt,
        term,
        parse_private_key(&fy_private)?.to_public_key(),
    );
    let info = json!({
        "about": "Local fakes of WeChat Pay and Fuiou. POST a config body below to /api/admin/wechat-configs as the super admin, activate it, then create an online agent recharge; the fakes' private keys sign notifications as the providers would.",
        "wechat": {
            "url": wechat.url,
            "platform_key_id": wechat.platform_key_id(),
            "platform_private_key": private_pem(wechat.platform_private_key())?,
            "config": {
                "name": "本地微信支付(fake)",
                "provider_type": "wechat",
                "oa_app_id": "wxcmplocal0000001",
                "wx_mch_id": WECHAT_MCH_ID,
                "wx_api_v3_key": WECHAT_V3_KEY,
                "wx_cert_content": "-----BEGIN CERTIFICATE-----\nlocal fake merchant certificate\n-----END CERTIFICATE-----",
                "wx_key_content": wx_private,
                "wx_serial_no": WECHAT_SERIAL,
                "wx_notify_url": format!("{api_url}/api/callback/wechat-pay"),
                "wx_pay_public_key_id": wechat.platform_key_id(),
                "wx_pay_public_key": wechat.platform_public_key_pem(),
            },
        },
        "fuiou": {
            "url": fuiou.url,
            "fuiou_private_key": fuiou.fuiou_private_key_pem(),
            "config": {
                "name": "本地富友(fake)",
                "provider_type": "fuiou",
                "fy_ins_cd": ins,
                "fy_mchnt_cd": mchnt,
                "fy_term_id": term,
                "fy_private_key": fy_private,
                "fy_public_key": fuiou.fuiou_public_key_pem(),
                "fy_api_url": fuiou.url,
                "fy_notify_url": format!("{api_url}/api/callback/fuiou-pay"),
            },
        },
    });
    Ok(PaymentFakes {
        wechat,
        fuiou,
        info,
    })
}

fn private_pem(key: &rsa::PrivateKey) -> Result<String, LocalError> {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    Ok(key.to_pkcs8_pem(LineEnding::LF)?.to_string())
}
