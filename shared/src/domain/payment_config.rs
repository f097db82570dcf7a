//! Payment configurations (WechatConfig, domain.md §4.13, §5.15): one complete
//! "WeChat identity" (official account, mini program, payment credentials) paid
//! through WeChat Pay directly or through Fuiou. At most one is active.
//!
//! Secrets (app secrets, token, AES key, API keys, private keys) never leave the
//! process in clear: they are stored sealed (envelope encryption, see
//! `integrations::kms`) and answered masked (`abcd***7890`); long keys and
//! certificates answer only whether they are set (`[已配置]`/`[未配置]`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::validate::Invalid;

/// Which provider takes the payments of a configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProviderType {
    /// WeChat Pay direct (API v3).
    Wechat,
    /// The Fuiou aggregator.
    Fuiou,
}

impl ProviderType {
    /// The stored (and answered) name.
    pub fn as_str(self) -> &'static str {
        match self {
            ProviderType::Wechat => "wechat",
            ProviderType::Fuiou => "fuiou",
        }
    }
}

/// Answered for a long key or certificate that is set.
pub const CONFIGURED: &str = "[已配置]";
/// Answered for a long key or certificate that is not set.
pub const NOT_CONFIGURED: &str = "[未配置]";

/// The secret fields, sealed at rest. Empty strings are "not set".
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigSecrets {
    pub oa_app_secret: String,
    pub oa_token: String,
    pub oa_aes_key: String,
    pub miniapp_app_secret: String,
    pub wx_api_v3_key: String,
    pub wx_api_v2_key: String,
    /// The merchant's private key (PEM).
    pub wx_key_content: String,
    /// The merchant's private key at Fuiou (PEM or Base64 DER).
    pub fy_private_key: String,
}

impl std::fmt::Debug for ConfigSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfigSecrets(..)")
    }
}

/// Reads one secret of [`ConfigSecrets`].
type SecretField = fn(&ConfigSecrets) -> &String;

/// Names of the short secrets answered as `abcd***7890`, with their accessors.
const SHORT_SECRETS: [(&str, SecretField); 6] = [
    ("oa_app_secret", |s| &s.oa_app_secret),
    ("oa_token", |s| &s.oa_token),
    ("oa_aes_key", |s| &s.oa_aes_key),
    ("miniapp_app_secret", |s| &s.miniapp_app_secret),
    ("wx_api_v3_key", |s| &s.wx_api_v3_key),
    ("wx_api_v2_key", |s| &s.wx_api_v2_key),
];

/// Masks a short secret: its first and last 4 characters around `***`; a value of
/// 8 characters or fewer shows nothing but `***`; an empty one stays empty.
pub fn mask(secret: &str) -> String {
    let chars: Vec<char> = secret.chars().collect();
    match chars.len() {
        0 => String::new(),
        n if n <= 8 => "***".into(),
        n => {
            let head: String = chars.iter().take(4).collect();
            let tail: String = chars.iter().skip(n - 4).collect();
            format!("{head}***{tail}")
        }
    }
}

fn status(value: &str) -> String {
    if value.trim().is_empty() {
        NOT_CONFIGURED
    } else {
        CONFIGURED
    }
    .into()
}

/// The masked forms of `s`, kept beside the sealed secrets so that views need no
/// decryption: short secrets masked, the private keys as their status.
pub fn masks_of(s: &ConfigSecrets) -> BTreeMap<String, String> {
    let mut m: BTreeMap<String, String> = SHORT_SECRETS
        .iter()
        .map(|(name, get)| (name.to_string(), mask(get(s))))
        .collect();
    m.insert("wx_key_content".into(), status(&s.wx_key_content));
    m.insert("fy_private_key".into(), status(&s.fy_private_key));
    m
}

/// The fields of a configuration that are not secret (stored in clear).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigFields {
    pub name: String,
    pub description: String,
    pub oa_app_id: String,
    pub oa_oauth_redirect_url: String,
    pub miniapp_app_id: String,
    pub wx_mch_id: String,
    /// The merchant certificate (PEM); public.
    pub wx_cert_content: String,
    /// Serial number of the merchant certificate (signs our requests).
    pub wx_serial_no: String,
    pub wx_notify_url: String,
    /// Id of the WeChat Pay public key (`PUB_KEY_ID_…`): the `Wechatpay-Serial` of
    /// the platform's responses and notifications.
    pub wx_pay_public_key_id: String,
    /// The WeChat Pay public key (PEM) that verifies them.
    pub wx_pay_public_key: String,
    pub fy_ins_cd: String,
    pub fy_mchnt_cd: String,
    pub fy_term_id: String,
    /// Fuiou's public key (verifies its answers and notifications).
    pub fy_public_key: String,
    pub fy_api_url: String,
    pub fy_notify_url: String,
}

/// Create and update body: every field optional (create checks what its provider
/// needs). On update an omitted field keeps its value, and so does an empty secret.
#[derive(Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfigInput {
    /// 1–50 characters.
    pub name: Option<String>,
    pub description: Option<String>,
    /// Required on create.
    pub provider_type: Option<ProviderType>,
    pub oa_app_id: Option<String>,
    pub oa_app_secret: Option<String>,
    pub oa_token: Option<String>,
    pub oa_aes_key: Option<String>,
    pub oa_oauth_redirect_url: Option<String>,
    pub miniapp_app_id: Option<String>,
    pub miniapp_app_secret: Option<String>,
    pub wx_mch_id: Option<String>,
    /// 32 characters.
    pub wx_api_v3_key: Option<String>,
    pub wx_api_v2_key: Option<String>,
    pub wx_cert_content: Option<String>,
    pub wx_key_content: Option<String>,
    pub wx_serial_no: Option<String>,
    pub wx_notify_url: Option<String>,
    pub wx_pay_public_key_id: Option<String>,
    pub wx_pay_public_key: Option<String>,
    pub fy_ins_cd: Option<String>,
    pub fy_mchnt_cd: Option<String>,
    pub fy_term_id: Option<String>,
    pub fy_private_key: Option<String>,
    pub fy_public_key: Option<String>,
    pub fy_api_url: Option<String>,
    pub fy_notify_url: Option<String>,
}

impl std::fmt::Debug for ConfigInput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ConfigInput(..)")
    }
}

/// A configuration's content after a create or an update, checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigContent {
    pub provider_type: ProviderType,
    pub fields: ConfigFields,
    pub secrets: ConfigSecrets,
}

impl ConfigInput {
    /// `self` laid over `base` (a new configuration: the defaults): a given field
    /// replaces, an omitted one keeps, and an empty secret keeps too. The result is
    /// checked ([`ConfigContent::check`]).
    pub fn apply(self, base: Option<&ConfigContent>) -> Result<ConfigContent, Invalid> {
        let provider_type = match (self.provider_type, base) {
            (Some(p), _) => p,
            (None, Some(b)) => b.provider_type,
            (None, None) => {
                return Err(Invalid::new(
                    "provider_type不能为空(wechat或fuiou)",
                    "provider_type is required (wechat or fuiou)",
                ))
            }
        };
        let mut f = base.map(|b| b.fields.clone()).unwrap_or_default();
        let mut s = base.map(|b| b.secrets.clone()).unwrap_or_default();
        let plain = |slot: &mut String, v: Option<String>| {
            if let Some(v) = v {
                *slot = v.trim().to_string();
            }
        };
        let secret = |slot: &mut String, v: Option<String>| {
            if let Some(v) = v.map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
                *slot = v;
            }
        };
        plain(&mut f.name, self.name);
        plain(&mut f.description, self.description);
        plain(&mut f.oa_app_id, self.oa_app_id);
        plain(&mut f.oa_oauth_redirect_url, self.oa_oauth_redirect_url);
        plain(&mut f.miniapp_app_id, self.miniapp_app_id);
        plain(&mut f.wx_mch_id, self.wx_mch_id);
        plain(&mut f.wx_serial_no, self.wx_serial_no);
        plain(&mut f.wx_notify_url, self.wx_notify_url);
        plain(&mut f.wx_pay_public_key_id, self.wx_pay_public_key_id);
        plain(&mut f.fy_ins_cd, self.fy_ins_cd);
        plain(&mut f.fy_mchnt_cd, self.fy_mchnt_cd);
        plain(&mut f.fy_term_id, self.fy_term_id);
        plain(&mut f.fy_api_url, self.fy_api_url);
        plain(&mut f.fy_notify_url, self.fy_notify_url);
        // Long keys are answered as a status only: like secrets, empty keeps.
        secret(&mut f.wx_cert_content, self.wx_cert_content);
        secret(&mut f.wx_pay_public_key, self.wx_pay_public_key);
        secret(&mut f.fy_public_key, self.fy_public_key);
        secret(&mut s.oa_app_secret, self.oa_app_secret);
        secret(&mut s.oa_token, self.oa_token);
        secret(&mut s.oa_aes_key, self.oa_aes_key);
        secret(&mut s.miniapp_app_secret, self.miniapp_app_secret);
        secret(&mut s.wx_api_v3_key, self.wx_api_v3_key);
        secret(&mut s.wx_api_v2_key, self.wx_api_v2_key);
        secret(&mut s.wx_key_content, self.wx_key_content);
        secret(&mut s.fy_private_key, self.fy_private_key);
        let content = ConfigContent {
            provider_type,
            fields: f,
            secrets: s,
        };
        content.check()?;
        Ok(content)
    }
}

fn required(name: &str, value: &str) -> Result<(), Invalid> {
    if value.trim().is_empty() {
        return Err(Invalid::new(
            format!("{name}不能为空"),
            format!("{name} is required for this provider_type"),
        ));
    }
    Ok(())
}

fn url(name: &str, value: &str) -> Result<(), Invalid> {
    required(name, value)?;
    let ok = (value.starts_with("https://") || value.starts_with("http://"))
        && value.len() <= 512
        && !value.chars().any(char::is_whitespace);
    if !ok {
        return Err(Invalid::new(
            format!("{name}须为http(s)地址"),
            format!("{name} must be an http(s) URL"),
        ));
    }
    Ok(())
}

/// The error for key `name` that does not parse.
pub fn bad_key(name: &str) -> Invalid {
    Invalid::new(
        format!("{name}不是有效的RSA密钥"),
        format!("{name} is not a valid RSA key (PEM or Base64 DER)"),
    )
}

impl ConfigContent {
    /// Checks the name and the fields `provider_type` needs (§4.13): every WeChat
    /// Pay field but the v2 key, or every Fuiou field. Whether the keys parse is the
    /// caller's check ([`ConfigContent::keys`]).
    pub fn check(&self) -> Result<(), Invalid> {
        let f = &self.fields;
        let s = &self.secrets;
        let len = f.name.chars().count();
        if !(1..=50).contains(&len) {
            return Err(Invalid::new(
                "name须为1到50个字符",
                "name must be 1 to 50 characters",
            ));
        }
        if f.description.chars().count() > 500 {
            return Err(Invalid::new(
                "description不能超过500个字符",
                "description must be at most 500 characters",
            ));
        }
        match self.provider_type {
            ProviderType::Wechat => {
                required("wx_mch_id", &f.wx_mch_id)?;
                required("wx_serial_no", &f.wx_serial_no)?;
                required("wx_cert_content", &f.wx_cert_content)?;
                required("wx_pay_public_key_id", &f.wx_pay_public_key_id)?;
                url("wx_notify_url", &f.wx_notify_url)?;
                if s.wx_api_v3_key.len() != 32 || !s.wx_api_v3_key.is_ascii() {
                    return Err(Invalid::new(
                        "wx_api_v3_key须为32个字符",
                        "wx_api_v3_key must be 32 ASCII characters",
                    ));
                }
                required("wx_key_content", &s.wx_key_content)?;
                required("wx_pay_public_key", &f.wx_pay_public_key)?;
            }
            ProviderType::Fuiou => {
                required("fy_ins_cd", &f.fy_ins_cd)?;
                required("fy_mchnt_cd", &f.fy_mchnt_cd)?;
                required("fy_term_id", &f.fy_term_id)?;
                url("fy_api_url", &f.fy_api_url)?;
                url("fy_notify_url", &f.fy_notify_url)?;
                required("fy_private_key", &s.fy_private_key)?;
                required("fy_public_key", &f.fy_public_key)?;
            }
        }
        Ok(())
    }
}

impl ConfigContent {
    /// The RSA keys the provider uses, as (field name, text, private?).
    pub fn keys(&self) -> Vec<(&'static str, &str, bool)> {
        match self.provider_type {
            ProviderType::Wechat => vec![
                ("wx_key_content", self.secrets.wx_key_content.as_str(), true),
                (
                    "wx_pay_public_key",
                    self.fields.wx_pay_public_key.as_str(),
                    false,
                ),
            ],
            ProviderType::Fuiou => vec![
                ("fy_private_key", self.secrets.fy_private_key.as_str(), true),
                ("fy_public_key", self.fields.fy_public_key.as_str(), false),
            ],
        }
    }
}

/// A configuration as answered: plain fields, secrets masked, long keys as their
/// status.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ConfigView {
    pub id: u64,
    pub name: String,
    pub description: String,
    pub provider_type: ProviderType,
    pub is_active: bool,
    pub oa_app_id: String,
    /// Masked.
    pub oa_app_secret: String,
    /// Masked.
    pub oa_token: String,
    /// Masked.
    pub oa_aes_key: String,
    pub oa_oauth_redirect_url: String,
    pub miniapp_app_id: String,
    /// Masked.
    pub miniapp_app_secret: String,
    pub wx_mch_id: String,
    /// Masked.
    pub wx_api_v3_key: String,
    /// Masked.
    pub wx_api_v2_key: String,
    /// `[已配置]` or `[未配置]`.
    pub wx_cert_content: String,
    /// `[已配置]` or `[未配置]`.
    pub wx_key_content: String,
    pub wx_serial_no: String,
    pub wx_notify_url: String,
    pub wx_pay_public_key_id: String,
    /// `[已配置]` or `[未配置]`.
    pub wx_pay_public_key: String,
    pub fy_ins_cd: String,
    pub fy_mchnt_cd: String,
    pub fy_term_id: String,
    /// `[已配置]` or `[未配置]`.
    pub fy_private_key: String,
    /// `[已配置]` or `[未配置]`.
    pub fy_public_key: String,
    pub fy_api_url: String,
    pub fy_notify_url: String,
    pub creator: u64,
    pub updater: u64,
    pub created_at: String,
    pub updated_at: String,
}

/// Builds the answered form from the stored parts.
pub fn view(
    id: u64,
    provider_type: ProviderType,
    is_active: bool,
    f: &ConfigFields,
    masks: &BTreeMap<String, String>,
    audit: (u64, u64, &str, &str),
) -> ConfigView {
    let m = |name: &str| masks.get(name).cloned().unwrap_or_default();
    let (creator, updater, created_at, updated_at) = audit;
    ConfigView {
        id,
        name: f.name.clone(),
        description: f.description.clone(),
        provider_type,
        is_active,
        oa_app_id: f.oa_app_id.clone(),
        oa_app_secret: m("oa_app_secret"),
        oa_token: m("oa_token"),
        oa_aes_key: m("oa_aes_key"),
        oa_oauth_redirect_url: f.oa_oauth_redirect_url.clone(),
        miniapp_app_id: f.miniapp_app_id.clone(),
        miniapp_app_secret: m("miniapp_app_secret"),
        wx_mch_id: f.wx_mch_id.clone(),
        wx_api_v3_key: m("wx_api_v3_key"),
        wx_api_v2_key: m("wx_api_v2_key"),
        wx_cert_content: status(&f.wx_cert_content),
        wx_key_content: masks
            .get("wx_key_content")
            .cloned()
            .unwrap_or_else(|| NOT_CONFIGURED.into()),
        wx_serial_no: f.wx_serial_no.clone(),
        wx_notify_url: f.wx_notify_url.clone(),
        wx_pay_public_key_id: f.wx_pay_public_key_id.clone(),
        wx_pay_public_key: status(&f.wx_pay_public_key),
        fy_ins_cd: f.fy_ins_cd.clone(),
        fy_mchnt_cd: f.fy_mchnt_cd.clone(),
        fy_term_id: f.fy_term_id.clone(),
        fy_private_key: masks
            .get("fy_private_key")
            .cloned()
            .unwrap_or_else(|| NOT_CONFIGURED.into()),
        fy_public_key: status(&f.fy_public_key),
        fy_api_url: f.fy_api_url.clone(),
        fy_notify_url: f.fy_notify_url.clone(),
        creator,
        updater,
        created_at: created_at.into(),
        updated_at: updated_at.into(),
    }
}

#[cfg(test)]
mod tests;
