//! A shop's monthly commission statement: where its commission wallet stood at the
//! start and end of the month (from the ledger) and what moved it in between (the
//! month's totals, kept by the transactions that move the wallet). It closes when
//! the opening balances plus the month's movements give the closing balances.

use serde::{Deserialize, Serialize};

use super::CommissionKind;
use crate::domain::wallet::Balances;

/// The month's movements of a commission wallet (fen).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MonthTotals {
    /// Commissions credited, per kind and series.
    pub commissions: Vec<(CommissionKind, u64, i64)>,
    /// Commissions unfrozen (frozen → available).
    pub unfrozen: i64,
    /// Withdrawals requested (available → frozen).
    pub withdrawal_requested: i64,
    /// Withdrawals approved (paid out of the wallet, fee included).
    pub withdrawn: i64,
    /// Withdrawals rejected (frozen → available).
    pub withdrawal_returned: i64,
    /// Fees of the approved withdrawals (part of `withdrawn`).
    pub fees: i64,
}

/// One line of commissions in a statement.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct StatementLine {
    pub commission_type: CommissionKind,
    pub series_id: u64,
    pub series_name: Option<String>,
    pub amount: i64,
}

/// A monthly statement (fen throughout).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Statement {
    pub shop_id: u64,
    pub shop_name: String,
    /// `YYYY-MM` (Asia/Shanghai).
    pub month: String,
    pub opening_balance: i64,
    pub opening_frozen: i64,
    pub commissions: Vec<StatementLine>,
    pub commission_total: i64,
    pub unfrozen: i64,
    pub withdrawal_requested: i64,
    pub withdrawn: i64,
    pub withdrawal_returned: i64,
    pub fees: i64,
    /// What the shop received: `withdrawn − fees`.
    pub paid_out: i64,
    pub closing_balance: i64,
    pub closing_frozen: i64,
    /// True when opening + movements = closing for both balances.
    pub reconciled: bool,
}

impl Statement {
    /// The statement of `totals` between `opening` and `closing`.
    pub fn new(
        (shop_id, shop_name, month): (u64, String, String),
        opening: Balances,
        closing: Balances,
        totals: &MonthTotals,
        series_name: impl Fn(u64) -> Option<String>,
    ) -> Statement {
        let mut commissions: Vec<StatementLine> = totals
            .commissions
            .iter()
            .filter(|(_, _, a)| *a != 0)
            .map(|&(kind, series_id, amount)| StatementLine {
                commission_type: kind,
                series_id,
                series_name: series_name(series_id),
                amount,
            })
            .collect();
        commissions.sort_by_key(|l| (l.commission_type, l.series_id));
        let commission_total: i64 = commissions.iter().map(|l| l.amount).sum();
        let t = totals;
        let balance = opening.balance + commission_total - t.withdrawn;
        let frozen = opening.frozen + commission_total - t.unfrozen + t.withdrawal_requested
            - t.withdrawn
            - t.withdrawal_returned;
        Statement {
            shop_id,
            shop_name,
            month,
            opening_balance: opening.balance,
            opening_frozen: opening.frozen,
            commissions,
            commission_total,
            unfrozen: t.unfrozen,
            withdrawal_requested: t.withdrawal_requested,
            withdrawn: t.withdrawn,
            withdrawal_returned: t.withdrawal_returned,
            fees: t.fees,
            paid_out: t.withdrawn - t.fees,
            closing_balance: closing.balance,
            closing_frozen: closing.frozen,
            reconciled: balance == closing.balance && frozen == closing.frozen,
        }
    }

    /// The statement as CSV (UTF-8 with a byte-order mark, so spreadsheet programs
    /// read the Chinese names): one `item,series,amount` row per figure.
    pub fn csv(&self) -> String {
        let mut out = String::from("\u{feff}item,series_id,series_name,amount_fen\n");
        let mut row = |item: &str, series: String, name: &str, amount: i64| {
            let name = name.replace('"', "\"\"");
            out.push_str(&format!("{item},{series},\"{name}\",{amount}\n"));
        };
        row("opening_balance", String::new(), "", self.opening_balance);
        row("opening_frozen", String::new(), "", self.opening_frozen);
        for l in &self.commissions {
            let name = l.series_name.clone().unwrap_or_default();
            row(
                l.commission_type.as_str(),
                l.series_id.to_string(),
                &name,
                l.amount,
            );
        }
        row("commission_total", String::new(), "", self.commission_total);
        row("unfrozen", String::new(), "", self.unfrozen);
        row(
            "withdrawal_requested",
            String::new(),
            "",
            self.withdrawal_requested,
        );
        row("withdrawn", String::new(), "", self.withdrawn);
        row(
            "withdrawal_returned",
            String::new(),
            "",
            self.withdrawal_returned,
        );
        row("fees", String::new(), "", self.fees);
        row("paid_out", String::new(), "", self.paid_out);
        row("closing_balance", String::new(), "", self.closing_balance);
        row("closing_frozen", String::new(), "", self.closing_frozen);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_month_closes_when_its_movements_explain_it() {
        let totals = MonthTotals {
            commissions: vec![
                (CommissionKind::PriceDifference, 1, 300),
                (CommissionKind::OneTime, 1, 200),
            ],
            unfrozen: 400,
            withdrawal_requested: 250,
            withdrawn: 200,
            withdrawal_returned: 50,
            fees: 2,
        };
        let opening = Balances {
            balance: 1000,
            frozen: 100,
        };
        // Balance 1000 + 500 − 200; frozen 100 + 500 − 400 + 250 − 200 − 50.
        let closing = Balances {
            balance: 1300,
            frozen: 200,
        };
        let s = Statement::new(
            (7, "A".into(), "2026-02".into()),
            opening,
            closing,
            &totals,
            |_| Some("S\"1".into()),
        );
        assert!(s.reconciled);
        assert_eq!(s.commission_total, 500);
        assert_eq!(s.paid_out, 198);
        assert_eq!(
            s.commissions[0].commission_type,
            CommissionKind::PriceDifference
        );
        let off = Statement::new(
            (7, "A".into(), "2026-02".into()),
            opening,
            Balances {
                balance: 1301,
                frozen: 200,
            },
            &totals,
            |_| None,
        );
        assert!(!off.reconciled);
        let csv = s.csv();
        assert!(csv.contains("price_difference,1,\"S\"\"1\",300\n"));
        assert!(csv.ends_with("closing_frozen,,\"\",200\n"));
    }
}
