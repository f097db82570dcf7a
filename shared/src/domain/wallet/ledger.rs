//! The ledger's entry (what a use case asks to apply) and line (what is recorded),
//! and the invariant a wallet and its lines keep.

use serde::{Deserialize, Serialize};

use super::{Balances, Movement, MovementKind, TxType, WalletKind, MAX_EVENT_ID};
use crate::domain::validate::Invalid;

/// What a use case asks the ledger to apply: one movement of one wallet, caused by
/// the event `event_id` (e.g. `recharge:{id}`, `order:{id}:pay`). The same event id
/// applied twice changes the balance once.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerEntry {
    /// Unique id of the cause; the line's key.
    pub event_id: String,
    /// Owner of the wallet.
    pub shop_id: u64,
    /// Which of its wallets.
    pub kind: WalletKind,
    /// The change.
    pub movement: Movement,
    /// Why (`transaction_type`).
    pub tx_type: TxType,
    /// Finer reason (orders: `self_purchase`, `purchase_for_subordinate`).
    pub subtype: Option<String>,
    /// The subordinate shop bought for, if any.
    pub related_shop_id: Option<u64>,
    /// Kind of the object the line belongs to (`recharge`, `order`, ...).
    pub reference_type: Option<String>,
    /// Its id.
    pub reference_id: Option<u64>,
    /// Its number (`ARCH…`, `ORD…`).
    pub reference_no: Option<String>,
    /// Text shown with the line.
    pub remark: String,
    /// The account that caused it (`None` for the system, e.g. a payment callback).
    pub operator_id: Option<u64>,
    /// When (epoch seconds).
    pub at: i64,
}

impl LedgerEntry {
    /// An entry with no subtype, related shop, reference or operator.
    pub fn new(
        event_id: impl Into<String>,
        shop_id: u64,
        kind: WalletKind,
        movement: Movement,
        tx_type: TxType,
        at: i64,
    ) -> Self {
        LedgerEntry {
            event_id: event_id.into(),
            shop_id,
            kind,
            movement,
            tx_type,
            subtype: None,
            related_shop_id: None,
            reference_type: None,
            reference_id: None,
            reference_no: None,
            remark: String::new(),
            operator_id: None,
            at,
        }
    }

    /// Refuses an event id that is empty, longer than [`MAX_EVENT_ID`] or not
    /// printable ASCII without spaces.
    pub fn check(&self) -> Result<(), Invalid> {
        let id = &self.event_id;
        if id.is_empty() || id.len() > MAX_EVENT_ID || !id.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(Invalid::new(
                format!("流水事件ID无效: {id}"),
                format!("invalid ledger event id: {id}"),
            ));
        }
        Ok(())
    }

    /// Whether `line` records this entry: same wallet, direction and amount. A
    /// replayed event with these equal returns its first line; anything else is a
    /// conflict.
    pub fn matches(&self, line: &LedgerLine) -> bool {
        line.event_id == self.event_id
            && line.shop_id == self.shop_id
            && line.wallet_type == self.kind.as_str()
            && line.movement == self.movement.kind()
            && line.amount == self.movement.amount()
            && line.transaction_type == self.tx_type
    }
}

/// One append-only ledger line (AgentWalletTransaction), as stored and answered.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq, utoipa::ToSchema)]
pub struct LedgerLine {
    /// The cause's unique id.
    pub event_id: String,
    /// The wallet ([`wallet_id`]).
    pub agent_wallet_id: u64,
    pub shop_id: u64,
    /// `main` or `commission`.
    pub wallet_type: String,
    pub transaction_type: TxType,
    pub transaction_subtype: Option<String>,
    pub movement: MovementKind,
    /// Amount moved (fen, positive; `movement` gives the direction).
    pub amount: i64,
    pub balance_before: i64,
    pub balance_after: i64,
    pub frozen_before: i64,
    pub frozen_after: i64,
    pub related_shop_id: Option<u64>,
    pub reference_type: Option<String>,
    pub reference_id: Option<u64>,
    pub reference_no: Option<String>,
    pub remark: String,
    pub operator_id: Option<u64>,
    /// The wallet's `version` after this line (lines of a wallet count up from 2).
    pub wallet_version: i64,
    pub created_at: String,
}

impl LedgerLine {
    /// The balances before the line.
    pub fn before(&self) -> Balances {
        Balances {
            balance: self.balance_before,
            frozen: self.frozen_before,
        }
    }

    /// The balances after the line.
    pub fn after(&self) -> Balances {
        Balances {
            balance: self.balance_after,
            frozen: self.frozen_after,
        }
    }
}

/// Why a wallet breaks the invariant, in words (empty: it holds).
///
/// The invariant: the balances are sound ([`Balances::is_sound`], so never
/// negative and frozen ≤ balance); every line is its movement applied to its
/// "before" balances; the lines, in wallet-version order, chain from zero (each
/// starts where the previous ended), so the wallet's balance and frozen amount are
/// the sums of its lines' changes.
pub fn invariant_problems(wallet: Balances, lines: &[LedgerLine]) -> Vec<String> {
    let mut problems = Vec::new();
    if !wallet.is_sound() {
        problems.push(format!(
            "unsound balances: balance {} frozen {}",
            wallet.balance, wallet.frozen
        ));
    }
    let mut sorted: Vec<&LedgerLine> = lines.iter().collect();
    sorted.sort_by_key(|l| l.wallet_version);
    let mut at = Balances::default();
    for line in sorted {
        if line.before() != at {
            problems.push(format!(
                "line {} starts at {:?}, the previous line ended at {at:?}",
                line.event_id,
                line.before()
            ));
        }
        match Movement::new(line.movement, line.amount).apply(line.before()) {
            Ok(after) if after == line.after() => {}
            Ok(after) => problems.push(format!(
                "line {} records {:?}, its movement gives {after:?}",
                line.event_id,
                line.after()
            )),
            Err(e) => problems.push(format!(
                "line {} is refused by the rule: {e}",
                line.event_id
            )),
        }
        at = line.after();
    }
    let sums = Balances {
        balance: lines
            .iter()
            .map(|l| l.balance_after - l.balance_before)
            .sum(),
        frozen: lines.iter().map(|l| l.frozen_after - l.frozen_before).sum(),
    };
    if sums != wallet {
        problems.push(format!(
            "the wallet holds {wallet:?}, its lines sum to {sums:?}"
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(balance: i64, frozen: i64) -> Balances {
        Balances { balance, frozen }
    }

    fn line(version: i64, m: Movement, before: Balances) -> LedgerLine {
        let after = m.apply(before).unwrap();
        LedgerLine {
            event_id: format!("e{version}"),
            agent_wallet_id: 2,
            shop_id: 1,
            wallet_type: "main".into(),
            transaction_type: TxType::Recharge,
            transaction_subtype: None,
            movement: m.kind(),
            amount: m.amount(),
            balance_before: before.balance,
            balance_after: after.balance,
            frozen_before: before.frozen,
            frozen_after: after.frozen,
            related_shop_id: None,
            reference_type: None,
            reference_id: None,
            reference_no: None,
            remark: String::new(),
            operator_id: None,
            wallet_version: version,
            created_at: String::new(),
        }
    }

    #[test]
    fn the_invariant_holds_for_a_chain_and_names_each_break() {
        let l2 = line(2, Movement::Credit(100), b(0, 0));
        let l3 = line(3, Movement::Freeze(40), b(100, 0));
        let l4 = line(4, Movement::DebitFrozen(40), b(100, 40));
        let lines = vec![l4.clone(), l2.clone(), l3.clone()];
        assert!(invariant_problems(b(60, 0), &lines).is_empty());
        assert!(invariant_problems(b(0, 0), &[]).is_empty());
        // The wallet moved without a line.
        assert_eq!(invariant_problems(b(70, 0), &lines).len(), 1);
        // A line missing from the middle breaks the chain and the sums.
        let gap = invariant_problems(b(60, 0), &[l2.clone(), l4.clone()]);
        assert_eq!(gap.len(), 2, "{gap:?}");
        // A line whose "after" is not its movement's result.
        let mut forged = l3.clone();
        forged.frozen_after = 10;
        assert!(!invariant_problems(b(60, 0), &[l2, forged, l4]).is_empty());
        assert!(!invariant_problems(b(-1, 0), &[]).is_empty());
        assert!(!invariant_problems(b(1, 2), &[]).is_empty());
    }

    #[test]
    fn an_entry_matches_only_its_own_line() {
        let entry = LedgerEntry::new(
            "recharge:1",
            1,
            WalletKind::Main,
            Movement::Credit(100),
            TxType::Recharge,
            0,
        );
        let first = line(2, Movement::Credit(100), b(0, 0));
        let mut first = first;
        first.event_id = "recharge:1".into();
        assert!(entry.matches(&first));
        let mut other = entry.clone();
        other.movement = Movement::Credit(101);
        assert!(!other.matches(&first));
        other = entry.clone();
        other.kind = WalletKind::Commission;
        assert!(!other.matches(&first));
        other = entry.clone();
        other.movement = Movement::Debit(100);
        assert!(!other.matches(&first));
        assert!(entry.check().is_ok());
        for bad in ["", "has space", "é"] {
            let mut e = entry.clone();
            e.event_id = bad.into();
            assert!(e.check().is_err(), "{bad:?}");
        }
    }
}
