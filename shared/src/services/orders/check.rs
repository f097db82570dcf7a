//! `POST /api/admin/orders/purchase-check`: would this purchase go through, what does
//! it cost, and does the series require a forced recharge first (§5.3.2)? Nothing is
//! written.

use serde::{Deserialize, Serialize};

use super::{orderer_of, packages, prices, scenario_for, target, OrderError};
use crate::app::AppState;
use crate::codes::BusinessError;
use crate::domain::assets::AssetType;
use crate::domain::caller::Caller;
use crate::domain::catalog::PackageSeries;
use crate::domain::orders::{Orderer, PaymentMethod};
use crate::domain::pricing::{force_recharge_requirement, ForceBy, RechargeProgress};
use crate::domain::validate::Invalid;
use crate::services::catalog::grant_in_effect;
use crate::store::keys;

/// `POST /api/admin/orders/purchase-check` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PurchaseCheckRequest {
    #[serde(default)]
    pub iot_card_id: Option<u64>,
    #[serde(default)]
    pub device_id: Option<u64>,
    /// 1..=10 distinct packages.
    pub package_ids: Vec<u64>,
}

/// What a purchase would do.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PurchaseCheck {
    /// Whether the order would be accepted now (balance aside).
    pub allowed: bool,
    /// Why not, when refused: the code and message the order would answer.
    pub reason: Option<String>,
    pub reason_code: Option<i64>,
    /// The order's total (fen); 0 when refused before pricing.
    pub total_amount: i64,
    /// What the caller's wallet would pay (agents), or `null`.
    pub actual_paid_amount: Option<i64>,
    /// The series requires a recharge of the asset before buying (client orders).
    pub need_force_recharge: bool,
    pub force_recharge_amount: i64,
    /// `first_recharge` or `accumulated_recharge` when a recharge is required.
    pub trigger_type: Option<String>,
    /// Whose rule requires it: `platform` or `agent`.
    pub required_by: Option<String>,
}

/// Checks a purchase as the caller would place it (agents by wallet, the platform
/// offline) without writing anything. Asset recharges are not recorded yet, so the
/// forced-recharge rule sees an asset that never recharged.
pub async fn purchase_check(
    state: &AppState,
    caller: &Caller,
    req: PurchaseCheckRequest,
) -> Result<PurchaseCheck, OrderError> {
    let (t, id) = match (req.iot_card_id, req.device_id) {
        (Some(id), None) if id > 0 => (AssetType::Card, id),
        (None, Some(id)) if id > 0 => (AssetType::Device, id),
        _ => {
            return Err(Invalid::new(
                "需且仅需iot_card_id或device_id之一",
                "exactly one of iot_card_id and device_id is required",
            )
            .into())
        }
    };
    let orderer = orderer_of(caller)?;
    let method = match orderer {
        Orderer::Platform => PaymentMethod::Offline,
        Orderer::Agent { .. } => PaymentMethod::Wallet,
    };
    let target = target(state, caller, t, id).await?;
    let sc = scenario_for(&orderer, &target, method)?;
    super::checked_ids(&req.package_ids)?;
    let priced = async {
        let list = packages(state, &req.package_ids).await?;
        let prices = prices(state, &sc, &list).await?;
        Ok::<_, OrderError>((list, prices))
    }
    .await;
    let (list, prices) = match priced {
        Ok(p) => p,
        Err(e @ (OrderError::NotSellable(_) | OrderError::Mixed)) => {
            return Ok(PurchaseCheck {
                allowed: false,
                reason: Some(e.to_string()),
                reason_code: Some(i64::from(e.code().0)),
                total_amount: 0,
                actual_paid_amount: None,
                need_force_recharge: false,
                force_recharge_amount: 0,
                trigger_type: None,
                required_by: None,
            })
        }
        Err(e) => return Err(e),
    };
    let total = prices.iter().map(|(t, _)| t).sum();
    let paid = sc
        .debit_shop
        .map(|_| prices.iter().filter_map(|(_, p)| *p).sum());
    // The forced-recharge rule of the first package's series, with the asset's shop
    // as the seller.
    let mut force = None;
    if let Some(first) = list.first() {
        let series: Option<PackageSeries> = state
            .store
            .get_as(&keys::series(first.package_series_id))
            .await?;
        if let Some(series) = series {
            let seller = match &target.owner {
                Some((shop, _)) => grant_in_effect(&state.store, *shop, series.id).await?,
                None => None,
            };
            let rule =
                force_recharge_requirement(&series, seller.as_ref(), RechargeProgress::default());
            force = Some((rule, series.one_time_commission_trigger));
        }
    }
    let need = force.as_ref().is_some_and(|(r, _)| r.need);
    Ok(PurchaseCheck {
        allowed: true,
        reason: None,
        reason_code: None,
        total_amount: total,
        actual_paid_amount: paid,
        need_force_recharge: need,
        force_recharge_amount: force.as_ref().map_or(0, |(r, _)| r.amount),
        trigger_type: force
            .as_ref()
            .filter(|(r, _)| r.need)
            .and_then(|(_, t)| serde_json::to_value(t).ok())
            .and_then(|v| v.as_str().map(String::from)),
        required_by: force.and_then(|(r, _)| r.by).map(|b| {
            match b {
                ForceBy::Platform => "platform",
                ForceBy::Agent => "agent",
            }
            .to_string()
        }),
    })
}
