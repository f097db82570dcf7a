//! Usage automation rules (beyond the seed): platform staff and agents define, per
//! shop subtree, "when a card's package usage passes N % → notify / stop / stop and
//! resume on renewal". Platform staff may also define rules for every card. An agent
//! sees and manages the rules of its own subtree only; other rules answer as not
//! found. The card data check fires them (`fire`).

pub mod fire;

use serde::Serialize;

use super::audit::{audit, Audited};
use super::webhook_targets::{answered, target, TargetError};
use crate::app::AppState;
use crate::clock::rfc3339;
use crate::codes::{BusinessError, Code, Text};
use crate::domain::caller::{Caller, NotAllowed, Scope, SA_PL_AG};
use crate::domain::entities::Shop;
use crate::domain::polling_alerts::NotifyView;
use crate::domain::shop_path::ShopPath;
use crate::domain::usage_rules::{
    UsageAction, UsageRuleFields, UsageRuleInput, MAX_RULES_PER_SCOPE,
};
use crate::domain::validate::Invalid;
use crate::integrations::kms::SealError;
use crate::paging::{CursorPage, PageQuery};
use crate::store::polling_alerts::StoredNotify;
use crate::store::usage_rules::{secret_context, Firing, RuleRefusal, UsageRuleRecord};
use crate::store::{keys, StoreError};

/// Failures of usage-rule use cases.
#[derive(Debug, thiserror::Error)]
pub enum UsageRuleError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("insufficient permission")]
    NotAllowed(#[from] NotAllowed),
    #[error("usage rule not found")]
    NotFound,
    #[error("shop not found")]
    ShopNotFound,
    #[error("the scope holds the most usage rules allowed")]
    Full,
    #[error("the rule was changed concurrently")]
    Changed,
    #[error("secrets: {0}")]
    Seal(#[from] SealError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl BusinessError for UsageRuleError {
    fn code(&self) -> Code {
        match self {
            UsageRuleError::Invalid(_) => Code::INVALID_PARAM,
            UsageRuleError::NotAllowed(_) => Code::FORBIDDEN,
            UsageRuleError::NotFound => Code::USAGE_RULE_NOT_FOUND,
            UsageRuleError::ShopNotFound => Code::NOT_FOUND,
            UsageRuleError::Full => Code::USAGE_RULES_FULL,
            UsageRuleError::Changed => Code::VERSION_CONFLICT,
            UsageRuleError::Seal(_) => Code::INTERNAL,
            UsageRuleError::Store(e) => e.code(),
        }
    }

    fn detail(&self) -> Option<Text> {
        match self {
            UsageRuleError::Invalid(i) => Some(i.text().clone()),
            UsageRuleError::ShopNotFound => Some(Text::new("店铺不存在", "shop not found")),
            UsageRuleError::Full => Some(Text::new(
                format!("每个范围最多{MAX_RULES_PER_SCOPE}条用量规则"),
                format!("a scope holds at most {MAX_RULES_PER_SCOPE} usage rules"),
            )),
            _ => None,
        }
    }
}

impl From<TargetError> for UsageRuleError {
    fn from(e: TargetError) -> Self {
        match e {
            TargetError::Invalid(i) => UsageRuleError::Invalid(i),
            TargetError::Seal(s) => UsageRuleError::Seal(s),
        }
    }
}

impl From<RuleRefusal> for UsageRuleError {
    fn from(r: RuleRefusal) -> Self {
        match r {
            RuleRefusal::Missing => UsageRuleError::NotFound,
            RuleRefusal::Changed => UsageRuleError::Changed,
            RuleRefusal::Full => UsageRuleError::Full,
        }
    }
}

/// A usage rule as answered.
#[derive(Clone, Debug, PartialEq, Serialize, utoipa::ToSchema)]
pub struct UsageRuleView {
    pub id: u64,
    /// The shop whose subtree's cards it watches; `null`: every card.
    pub shop_id: Option<u64>,
    pub rule_name: String,
    pub threshold_pct: u8,
    pub action: UsageAction,
    pub resume_on_renewal: bool,
    pub enabled: bool,
    pub notify: Option<NotifyView>,
    pub creator: u64,
    pub updater: u64,
    pub created_at: String,
    pub updated_at: String,
    pub version: i64,
}

/// The answered form of `r`; `revealed` is the secret in full (only the request
/// that generated or set it answers it).
pub fn view(r: &UsageRuleRecord, revealed: Option<&str>) -> UsageRuleView {
    UsageRuleView {
        id: r.id,
        shop_id: r.shop_id,
        rule_name: r.fields.rule_name.clone(),
        threshold_pct: r.fields.threshold_pct,
        action: r.fields.action,
        resume_on_renewal: r.fields.resume_on_renewal,
        enabled: r.fields.enabled,
        notify: r.notify.as_ref().map(|n| answered(n, revealed)),
        creator: r.creator,
        updater: r.updater,
        created_at: r.created_at.clone(),
        updated_at: r.updated_at.clone(),
        version: r.version,
    }
}

fn audited(caller: &Caller, ip: &str, action: &'static str, id: u64) -> Audited {
    Audited {
        operator_id: caller.account_id,
        ip: ip.to_string(),
        operation_type: action,
        target_type: "usage_rule",
        target_id: id,
    }
}

/// Whether `caller` sees rule `r`: platform staff every rule, an agent those of its
/// subtree (not the platform's).
fn sees(caller: &Caller, r: &UsageRuleRecord) -> bool {
    caller.is_platform()
        || (r.scope_path.is_some() && caller.sees_shop_owned(r.scope_path.as_ref()))
}

/// The scope a new rule of `caller` watches: the shop named (in the caller's
/// subtree), an agent's own shop, or every card (platform staff).
async fn scope_of(
    state: &AppState,
    caller: &Caller,
    shop_id: Option<u64>,
) -> Result<(Option<u64>, Option<ShopPath>), UsageRuleError> {
    let shop_id = match (shop_id, caller.scope()) {
        (Some(id), _) => id,
        (None, Scope::All) => return Ok((None, None)),
        (None, _) => caller.shop_id.ok_or(UsageRuleError::ShopNotFound)?,
    };
    let shop: Shop = state
        .store
        .live_entity(&keys::shop(shop_id))
        .await?
        .filter(|s: &Shop| caller.sees_shop_owned(Some(&s.path)))
        .ok_or(UsageRuleError::ShopNotFound)?;
    Ok((Some(shop.id), Some(shop.path)))
}

/// The webhook after `input` and the secret to reveal; `notify` rules need one.
async fn notify_of(
    state: &AppState,
    id: u64,
    fields: &UsageRuleFields,
    input: &UsageRuleInput,
    kept: Option<StoredNotify>,
) -> Result<(Option<StoredNotify>, Option<String>), UsageRuleError> {
    let (notify, revealed) =
        target(state, &secret_context(id), input.notify.as_ref(), kept).await?;
    if fields.action == UsageAction::Notify && notify.is_none() {
        return Err(Invalid::new(
            "notify 动作须配置 notify.webhook_url",
            "the notify action needs notify.webhook_url",
        )
        .into());
    }
    Ok((notify, revealed))
}

/// Creates a rule.
pub async fn create(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    input: UsageRuleInput,
) -> Result<UsageRuleView, UsageRuleError> {
    caller.require(SA_PL_AG)?;
    let fields = input.fields()?;
    let (shop_id, scope_path) = scope_of(state, caller, input.shop_id).await?;
    let id = state.store.next_id("usage_rule").await?;
    let (notify, revealed) = notify_of(state, id, &fields, &input, None).await?;
    let now = rfc3339(state.clock.now());
    let record = UsageRuleRecord {
        id,
        shop_id,
        scope_path,
        fields,
        notify,
        creator: caller.account_id,
        updater: caller.account_id,
        created_at: now.clone(),
        updated_at: now,
        version: 1,
    };
    state.store.create_usage_rule(&record).await??;
    let masked = view(&record, None);
    audit(
        state,
        audited(caller, ip, "create", id),
        format!("创建用量规则 {}", record.fields.rule_name),
        None,
        Some(&masked),
    )
    .await;
    Ok(view(&record, revealed.as_deref()))
}

async fn visible(
    state: &AppState,
    caller: &Caller,
    id: u64,
) -> Result<UsageRuleRecord, UsageRuleError> {
    caller.require(SA_PL_AG)?;
    state
        .store
        .usage_rule(id)
        .await?
        .filter(|r| sees(caller, r))
        .ok_or(UsageRuleError::NotFound)
}

/// Rule `id`.
pub async fn get(
    state: &AppState,
    caller: &Caller,
    id: u64,
) -> Result<UsageRuleView, UsageRuleError> {
    Ok(view(&visible(state, caller, id).await?, None))
}

/// One page of the rules the caller sees, by scope then id.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    page: &PageQuery,
) -> Result<CursorPage<UsageRuleView>, UsageRuleError> {
    caller.require(SA_PL_AG)?;
    let (cursor, size) = page.parse()?;
    let under = match caller.scope() {
        Scope::All => None,
        Scope::Subtree(path) => Some(path),
        Scope::Enterprise(_) => return Err(NotAllowed(caller.user_type).into()),
    };
    let page = state.store.usage_rule_page(under, size, cursor).await?;
    Ok(page.map(|r| view(&r, None)))
}

/// Replaces a rule's fields (its scope stays); an omitted `notify` keeps the
/// webhook, `null` removes it, an omitted or empty secret keeps the stored one.
pub async fn update(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    id: u64,
    input: UsageRuleInput,
) -> Result<UsageRuleView, UsageRuleError> {
    let fields = input.fields()?;
    let before = visible(state, caller, id).await?;
    let (notify, revealed) = notify_of(state, id, &fields, &input, before.notify.clone()).await?;
    let mut record = before.clone();
    record.fields = fields;
    record.notify = notify;
    record.updater = caller.account_id;
    record.updated_at = rfc3339(state.clock.now());
    record.version += 1;
    state.store.replace_usage_rule(&record).await??;
    audit(
        state,
        audited(caller, ip, "update", id),
        format!("修改用量规则 {}", record.fields.rule_name),
        Some(&view(&before, None)),
        Some(&view(&record, None)),
    )
    .await;
    Ok(view(&record, revealed.as_deref()))
}

/// Deletes a rule; its firings stay (their pending actions find it gone).
pub async fn delete(
    state: &AppState,
    caller: &Caller,
    ip: &str,
    id: u64,
) -> Result<(), UsageRuleError> {
    let before = visible(state, caller, id).await?;
    state.store.delete_usage_rule(&before).await??;
    audit(
        state,
        audited(caller, ip, "delete", id),
        format!("删除用量规则 {}", before.fields.rule_name),
        Some(&view(&before, None)),
        None,
    )
    .await;
    Ok(())
}

/// One page of rule `id`'s firings, newest first.
pub async fn firings(
    state: &AppState,
    caller: &Caller,
    id: u64,
    page: &PageQuery,
) -> Result<CursorPage<Firing>, UsageRuleError> {
    let (cursor, size) = page.parse()?;
    visible(state, caller, id).await?;
    Ok(state.store.firing_page(id, size, cursor).await?)
}
