//! Payments that arrived for a record no longer payable (expired or cancelled): the
//! money was taken, nothing was credited, and platform staff refund it by hand.
//! One item per merchant order number (`REFUND#<out_trade_no>`), so a notification
//! delivered ten times records one refund; listed newest first (`gsi2pk = REFUNDS`).

use serde::{Deserialize, Serialize};

use super::cursor::{Cursor, Source};
use super::lists::Filter;
use super::tx::{Cond, Upd};
use super::{s, to_item, Key, On, SkCond, Store, StoreError};
use crate::paging::CursorPage;

const REFUNDS: &str = "REFUNDS";

fn refund_key(out_trade_no: &str) -> Key {
    Key::new(format!("REFUND#{out_trade_no}"), super::keys::ENTITY)
}

/// A late payment to refund by hand.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, utoipa::ToSchema)]
pub struct ManualRefund {
    /// The merchant order number paid (`ARCH…`, `ORD…`, `CRCH…`).
    pub out_trade_no: String,
    /// `wechat` or `fuiou`.
    pub provider: String,
    /// The provider's transaction id.
    pub transaction_id: String,
    /// Paid amount, fen.
    pub amount: i64,
    /// The payment configuration that took the money.
    pub payment_config_id: u64,
    /// Why nothing was credited.
    pub reason: String,
    /// `open` until platform staff close it.
    pub status: String,
    pub created_at: String,
    pub closed_at: Option<String>,
    pub closed_by: Option<u64>,
    pub remark: Option<String>,
}

impl Store {
    /// Records `r` once per order number; a repeat changes nothing.
    pub async fn record_manual_refund(
        &self,
        r: &ManualRefund,
        nanos: u128,
    ) -> Result<(), StoreError> {
        let mut item = to_item(r, &refund_key(&r.out_trade_no))?;
        item.insert("gsi2pk".into(), s(REFUNDS));
        item.insert(
            "gsi2sk".into(),
            s(format!("{nanos:024}#{}", r.out_trade_no)),
        );
        match self.put_new("manual_refund", item).await {
            Ok(()) | Err(StoreError::ConditionFailed { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The refund of `out_trade_no`.
    pub async fn manual_refund(
        &self,
        out_trade_no: &str,
    ) -> Result<Option<ManualRefund>, StoreError> {
        self.get_as(&refund_key(out_trade_no)).await
    }

    /// Closes the open refund of `out_trade_no`; `ConditionFailed` when it is missing
    /// or closed already.
    pub async fn close_manual_refund(
        &self,
        out_trade_no: &str,
        at: &str,
        by: u64,
        remark: Option<&str>,
    ) -> Result<(), StoreError> {
        let upd =
            Upd::new("SET #status = :closed, closed_at = :at, closed_by = :by, remark = :remark")
                .name("#status", "status")
                .value(":closed", s("closed"))
                .value(":at", s(at))
                .value(":by", super::n(by))
                .value(":remark", s(remark.unwrap_or_default()));
        let cond = Cond::new("attribute_exists(pk) AND #status = :open").value(":open", s("open"));
        self.update_if("manual_refund", &refund_key(out_trade_no), upd, cond)
            .await
    }

    /// One page of refunds, newest first, of `status` when given.
    pub async fn manual_refund_page(
        &self,
        status: Option<&str>,
        page_size: u32,
        cursor: Cursor,
    ) -> Result<CursorPage<ManualRefund>, StoreError> {
        let source = Source::scope(On::Gsi2, REFUNDS.to_string(), SkCond::Any).backward();
        let filter = Filter::new().eq_str("status", status);
        self.read_page(
            &source,
            filter.cond(),
            page_size,
            cursor,
            |_: &ManualRefund| true,
        )
        .await
    }
}
