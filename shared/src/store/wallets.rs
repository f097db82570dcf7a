//! Agent wallets and their append-only ledger (domain.md §5.8 "Ledger pattern").
//!
//! Every balance change is one transaction of two operations: the wallet updated on
//! condition of the `version` it was read at (and, for debits and freezes, of a
//! balance covering the frozen money plus the amount; unfreezes and frozen debits of
//! enough frozen money), and the line put with `attribute_not_exists(pk)` under the
//! key `LEDGER#<event id>`. A second application of the same event fails the line's
//! condition: the recorded line is the answer when it is the same movement of the
//! same wallet, a conflict otherwise. A version race is read again and retried.
//!
//! [`Store::ledger`] runs one entry on its own. [`ledger_ops`] adds the same two
//! operations to a caller's transaction (an order with its items and its payment);
//! when that transaction is cancelled, [`ledger_cancel`] says what the ledger's part
//! of the failure means:
//!
//! ```text
//! let wallet = store.wallet(shop, WalletKind::Main).await?.ok_or(..)?;
//! let (tx, line) = ledger_ops(order_ops(Tx::new()), &wallet, &entry)?;
//! match store.transact_each(tx).await? {
//!     TxOutcome::Written => /* done: `line` is the ledger line */,
//!     TxOutcome::Cancelled(failed) => match ledger_cancel(&entry, &failed)? {
//!         // the event was applied before (a retried request): answer as done
//!         LedgerCancel::Replayed(first) => ..,
//!         // the wallet moved meanwhile: read it again, rebuild the whole transaction
//!         LedgerCancel::WalletChanged(_) => ..,
//!         // one of the caller's own conditions failed
//!         LedgerCancel::NotLedger => ..,
//!     },
//! }
//! ```
//!
//! `ledger_cancel` answers `Err(EventConflict)` when the event id was used for
//! another movement. The wallet and line keys must not appear elsewhere in the
//! caller's transaction.

use super::cursor::{Cursor, Source};
use super::keys;
use super::lists::Filter;
use super::tx::{backoff, Cond, FailedCondition, Tx, TxOutcome, Upd};
use super::{from_item, n, s, to_item, Item, Key, On, SkCond, Store, StoreError};
use crate::clock::rfc3339;
use crate::codes::Code;
use crate::domain::entities::AgentWallet;
use crate::domain::validate::Invalid;
use crate::domain::wallet::{
    Balances, LedgerEntry, LedgerLine, Movement, MovementError, MovementKind, TxType, WalletKind,
};
use crate::paging::CursorPage;

/// Label of the wallet update in a ledger transaction.
pub const WALLET_LABEL: &str = "wallet";
/// Label of the line put in a ledger transaction.
pub const LINE_LABEL: &str = "ledger_line";
/// Attempts of [`Store::ledger`] when the wallet changed between read and write.
pub const LEDGER_ATTEMPTS: usize = 3;

/// A ledger entry applied, or found applied before.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LedgerOutcome {
    /// The entry's line (the first one, for a replay).
    pub line: LedgerLine,
    /// True when the event had been applied before and nothing changed now.
    pub replayed: bool,
}

/// Why a ledger entry was not applied.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A malformed entry (event id).
    #[error(transparent)]
    Invalid(#[from] Invalid),
    /// The shop has no wallet of that kind.
    #[error("wallet not found")]
    WalletNotFound,
    /// The movement breaks the rule (insufficient balance, not enough frozen money,
    /// a bad amount).
    #[error(transparent)]
    Refused(#[from] MovementError),
    /// The event id was recorded for another wallet, direction or amount.
    #[error("ledger event {0} was recorded with another wallet, direction or amount")]
    EventConflict(String),
    /// Storage failure, or a wallet that kept changing ([`StoreError::Contended`]).
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl LedgerError {
    /// The business code a request answers with.
    pub fn code(&self) -> Code {
        match self {
            LedgerError::Invalid(_) => Code::INVALID_PARAM,
            LedgerError::WalletNotFound => Code::NOT_FOUND,
            LedgerError::Refused(MovementError::Insufficient { .. }) => Code::INSUFFICIENT_BALANCE,
            LedgerError::Refused(MovementError::FrozenShort { .. }) => Code::FROZEN_INSUFFICIENT,
            LedgerError::Refused(MovementError::BadAmount(_) | MovementError::Overflow) => {
                Code::INVALID_PARAM
            }
            LedgerError::Refused(MovementError::Unsound) => Code::INTERNAL,
            LedgerError::EventConflict(_) => Code::LEDGER_EVENT_CONFLICT,
            LedgerError::Store(e) => e.code(),
        }
    }
}

/// What the ledger's operations say about a cancelled transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum LedgerCancel {
    /// The event had been applied: its first line. Nothing was written now.
    Replayed(LedgerLine),
    /// The wallet changed since it was read (its current state when DynamoDB gave
    /// it, `None` otherwise or when it is gone): read it again and retry.
    WalletChanged(Option<AgentWallet>),
    /// Neither ledger operation failed: one of the caller's own conditions did.
    NotLedger,
}

/// The item of `line` sorted at `at` in its wallet's ledger.
fn line_item(line: &LedgerLine, at: i64) -> Result<Item, StoreError> {
    let mut item = to_item(line, &keys::ledger_line(&line.event_id))?;
    let wallet = keys::wallet_lines(line.shop_id, &line.wallet_type);
    item.insert("gsi1pk".into(), s(wallet));
    item.insert(
        "gsi1sk".into(),
        s(keys::wallet_line_sort(at, line.wallet_version)),
    );
    item.insert("at".into(), n(at));
    Ok(item)
}

/// The attribute of a wallet that sums the amounts of its lines of `tx_type` and
/// `movement` (e.g. `sum_commission_credit_frozen`): what the commission summary
/// reads without reading the ledger.
pub fn sum_attr(tx_type: TxType, movement: MovementKind) -> String {
    format!("sum_{}_{}", tx_type.as_str(), movement.as_str())
}

/// The line of `entry` moving `wallet` from `before` to `after` as its version
/// `version`, at `at`.
fn line_of(
    wallet: &AgentWallet,
    entry: &LedgerEntry,
    (before, after): (Balances, Balances),
    version: i64,
    at: i64,
) -> LedgerLine {
    LedgerLine {
        event_id: entry.event_id.clone(),
        agent_wallet_id: wallet.id(),
        shop_id: entry.shop_id,
        wallet_type: entry.kind.as_str().to_string(),
        transaction_type: entry.tx_type,
        transaction_subtype: entry.subtype.clone(),
        movement: entry.movement.kind(),
        amount: entry.movement.amount(),
        balance_before: before.balance,
        balance_after: after.balance,
        frozen_before: before.frozen,
        frozen_after: after.frozen,
        related_shop_id: entry.related_shop_id,
        reference_type: entry.reference_type.clone(),
        reference_id: entry.reference_id,
        reference_no: entry.reference_no.clone(),
        remark: entry.remark.clone(),
        operator_id: entry.operator_id,
        wallet_version: version,
        created_at: rfc3339(at),
    }
}

/// Adds `entry`'s two operations (the wallet update, the line) to `tx`, computed
/// from `wallet` as read; answers the line they write. Refuses a movement the rule
/// refuses ([`Movement::apply`]) and a wallet that is not the entry's.
pub fn ledger_ops(
    tx: Tx,
    wallet: &AgentWallet,
    entry: &LedgerEntry,
) -> Result<(Tx, LedgerLine), LedgerError> {
    let before = wallet.balances();
    // DynamoDB conditions cannot subtract, so "balance − frozen ≥ amount" is written
    // as "balance ≥ frozen (as read) + amount"; the version pins the frozen amount.
    let extra = match entry.movement {
        Movement::Credit(_) | Movement::CreditFrozen(_) => None,
        Movement::Debit(a) | Movement::Freeze(a) => {
            Some(Cond::new("#balance >= :need").value(":need", n(before.frozen.saturating_add(a))))
        }
        Movement::Unfreeze(a) | Movement::DebitFrozen(a) => {
            Some(Cond::new("#frozen >= :need").value(":need", n(a)))
        }
    };
    let (tx, mut lines) = ledger_ops_with(tx, wallet, std::slice::from_ref(entry), extra)?;
    let line = lines.pop().ok_or(LedgerError::WalletNotFound)?;
    Ok((tx, line))
}

/// Adds several entries of one wallet to `tx`: one wallet update (to the balances
/// after the last entry, on condition of the version read, which pins the balances
/// every entry was checked against) and one line per entry, in order, each a
/// version of the wallet. Answers the lines.
pub fn ledger_ops_many(
    tx: Tx,
    wallet: &AgentWallet,
    entries: &[LedgerEntry],
) -> Result<(Tx, Vec<LedgerLine>), LedgerError> {
    ledger_ops_with(tx, wallet, entries, None)
}

fn ledger_ops_with(
    tx: Tx,
    wallet: &AgentWallet,
    entries: &[LedgerEntry],
    extra: Option<Cond>,
) -> Result<(Tx, Vec<LedgerLine>), LedgerError> {
    let mut lines = Vec::with_capacity(entries.len());
    let mut at = wallet.ledger_at;
    for e in entries {
        e.check()?;
        if wallet.shop_id != e.shop_id || wallet.kind() != Some(e.kind) {
            return Err(LedgerError::WalletNotFound);
        }
        at = at.max(e.at);
    }
    let mut balances = wallet.balances();
    let mut version = wallet.version;
    let mut sums: std::collections::BTreeMap<String, i64> = std::collections::BTreeMap::new();
    for e in entries {
        let after = e.movement.apply(balances)?;
        version += 1;
        lines.push(line_of(wallet, e, (balances, after), version, at));
        *sums
            .entry(sum_attr(e.tx_type, e.movement.kind()))
            .or_default() += e.movement.amount();
        balances = after;
    }
    let Some(first) = entries.first() else {
        return Ok((tx, lines));
    };
    let mut cond = Cond::version(wallet.version)
        .name("#balance", "balance")
        .name("#frozen", "frozen_balance");
    if let Some(extra) = extra {
        cond = cond.and(extra);
    }
    let adds: Vec<String> = (0..sums.len())
        .map(|i| format!("#sum{i} :sum{i}"))
        .collect();
    let mut upd = Upd::new(format!(
        "SET #balance = :balance, #frozen = :frozen, version = :next, updated_at = :updated, ledger_at = :at ADD {}",
        adds.join(", ")
    ))
    .value(":balance", n(balances.balance))
    .value(":frozen", n(balances.frozen))
    .value(":next", n(version))
    .value(":updated", s(rfc3339(at)))
    .value(":at", n(at));
    for (i, (k, v)) in sums.iter().enumerate() {
        upd = upd
            .name(&format!("#sum{i}"), k)
            .value(&format!(":sum{i}"), n(*v));
    }
    let key = keys::agent_wallet(first.shop_id, first.kind.as_str());
    let mut tx = tx.update(WALLET_LABEL, &key, upd, Some(cond));
    for line in &lines {
        tx = tx.put(LINE_LABEL, line_item(line, at)?, Some(Cond::absent()));
    }
    Ok((tx, lines))
}

/// What the failed conditions of a cancelled transaction holding [`ledger_ops`]
/// mean for `entry`: a replay (the line exists and records the same movement), a
/// conflict (`Err(EventConflict)`: it records another one), a wallet that changed,
/// or none of the ledger's business.
pub fn ledger_cancel(
    entry: &LedgerEntry,
    failed: &[FailedCondition],
) -> Result<LedgerCancel, LedgerError> {
    if let Some(f) = failed.iter().find(|f| f.label == LINE_LABEL) {
        let line: Option<LedgerLine> = f.old.clone().map(from_item).transpose()?;
        return match line {
            Some(line) if entry.matches(&line) => Ok(LedgerCancel::Replayed(line)),
            _ => Err(LedgerError::EventConflict(entry.event_id.clone())),
        };
    }
    if let Some(f) = failed.iter().find(|f| f.label == WALLET_LABEL) {
        let now: Option<AgentWallet> = f.old.clone().map(from_item).transpose()?;
        return Ok(LedgerCancel::WalletChanged(now));
    }
    Ok(LedgerCancel::NotLedger)
}

/// Filters of a wallet's ledger page.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LineQuery {
    /// Only lines of this type.
    pub tx_type: Option<TxType>,
    /// Only lines written at or after this time (epoch seconds).
    pub from: Option<i64>,
    /// Only lines written at or before this time (epoch seconds).
    pub to: Option<i64>,
}

impl Store {
    /// A shop's wallet of `kind` (strongly consistent).
    pub async fn wallet(
        &self,
        shop_id: u64,
        kind: WalletKind,
    ) -> Result<Option<AgentWallet>, StoreError> {
        self.get_as(&keys::agent_wallet(shop_id, kind.as_str()))
            .await
    }

    /// A shop's wallets, `main` first (one batch read).
    pub async fn shop_wallets(&self, shop_id: u64) -> Result<Vec<AgentWallet>, StoreError> {
        let kinds = [WalletKind::Main, WalletKind::Commission];
        let wanted: Vec<Key> = kinds
            .iter()
            .map(|k| keys::agent_wallet(shop_id, k.as_str()))
            .collect();
        let mut wallets: Vec<AgentWallet> = self
            .get_many(&wanted)
            .await?
            .into_iter()
            .map(from_item)
            .collect::<Result<_, _>>()?;
        wallets.sort_by_key(|w| w.kind().map(i64::from));
        Ok(wallets)
    }

    /// The line of event `event_id`, if it was applied.
    pub async fn ledger_line(&self, event_id: &str) -> Result<Option<LedgerLine>, StoreError> {
        self.get_as(&keys::ledger_line(event_id)).await
    }

    /// Applies `entry` in its own transaction (see the module documentation): the
    /// line written, or the first line of a replay. The wallet is read, the movement
    /// computed and written on condition of the version read; when the wallet moved
    /// meanwhile this is retried with its new state, [`LEDGER_ATTEMPTS`] times in
    /// all with jittered back-off, then answered as [`StoreError::Contended`]. A
    /// refusal (insufficient balance, missing wallet) is an answer only when the
    /// event was not applied before.
    pub async fn ledger(&self, entry: &LedgerEntry) -> Result<LedgerOutcome, LedgerError> {
        entry.check()?;
        let mut wallet = self.wallet(entry.shop_id, entry.kind).await?;
        for attempt in 1..=LEDGER_ATTEMPTS {
            let Some(current) = wallet.take() else {
                return self.replay_or(entry, LedgerError::WalletNotFound).await;
            };
            let (tx, line) = match ledger_ops(Tx::new(), &current, entry) {
                Ok(built) => built,
                Err(LedgerError::Refused(why)) => {
                    return self.replay_or(entry, LedgerError::Refused(why)).await
                }
                Err(e) => return Err(e),
            };
            let failed = match self.transact_each(tx).await? {
                TxOutcome::Written => {
                    return Ok(LedgerOutcome {
                        line,
                        replayed: false,
                    })
                }
                TxOutcome::Cancelled(failed) => failed,
            };
            match ledger_cancel(entry, &failed)? {
                LedgerCancel::Replayed(line) => {
                    return Ok(LedgerOutcome {
                        line,
                        replayed: true,
                    })
                }
                LedgerCancel::WalletChanged(Some(now)) => wallet = Some(now),
                LedgerCancel::WalletChanged(None) | LedgerCancel::NotLedger => {
                    wallet = self.wallet(entry.shop_id, entry.kind).await?;
                }
            }
            tracing::debug!(attempt, event = %entry.event_id, "wallet changed; ledger retried");
            if attempt < LEDGER_ATTEMPTS {
                tokio::time::sleep(backoff(attempt)).await;
            }
        }
        Err(StoreError::Contended {
            attempts: LEDGER_ATTEMPTS,
        }
        .into())
    }

    /// The first line of `entry`'s event when it records the same movement, a
    /// conflict when it records another, `refusal` when there is none.
    async fn replay_or(
        &self,
        entry: &LedgerEntry,
        refusal: LedgerError,
    ) -> Result<LedgerOutcome, LedgerError> {
        match self.ledger_line(&entry.event_id).await? {
            Some(line) if entry.matches(&line) => Ok(LedgerOutcome {
                line,
                replayed: true,
            }),
            Some(_) => Err(LedgerError::EventConflict(entry.event_id.clone())),
            None => Err(refusal),
        }
    }

    /// One page of a wallet's lines, newest first, within `q`'s time range (a key
    /// condition) and of its type (a filter in DynamoDB).
    pub async fn ledger_page(
        &self,
        shop_id: u64,
        kind: WalletKind,
        q: &LineQuery,
        page_size: u32,
        cursor: Cursor,
    ) -> Result<CursorPage<LedgerLine>, StoreError> {
        let (from, to) = keys::time_range(q.from.unwrap_or(0), q.to.unwrap_or(i64::MAX / 2));
        let source = Source::scope(
            On::Gsi1,
            keys::wallet_lines(shop_id, kind.as_str()),
            SkCond::Between(from, to),
        )
        .backward();
        let filter = Filter::new().eq_str("transaction_type", q.tx_type.map(TxType::as_str));
        self.read_page(
            &source,
            filter.cond(),
            page_size,
            cursor,
            |_: &LedgerLine| true,
        )
        .await
    }

    /// A wallet's balances just before `before` (epoch seconds): where its last
    /// earlier line left it, zero when it has none (one Query of one item).
    pub async fn wallet_balances_before(
        &self,
        shop_id: u64,
        kind: WalletKind,
        before: i64,
    ) -> Result<Balances, StoreError> {
        let (from, to) = keys::time_range(0, before - 1);
        let q = super::Query {
            on: On::Gsi1,
            pk: keys::wallet_lines(shop_id, kind.as_str()),
            sk: SkCond::Between(from, to),
            filter: None,
            limit: Some(1),
            start: None,
            backward: true,
        };
        let (items, _) = self.query(&q).await?;
        match items.into_iter().next() {
            Some(item) => Ok(from_item::<LedgerLine>(item)?.after()),
            None => Ok(Balances::default()),
        }
    }

    /// Every line of a wallet (all pages of its ledger partition; for the invariant
    /// check, never for a request).
    pub async fn wallet_lines(
        &self,
        shop_id: u64,
        kind: WalletKind,
    ) -> Result<Vec<LedgerLine>, StoreError> {
        let partition = keys::wallet_lines(shop_id, kind.as_str());
        self.query_prefix(On::Gsi1, &partition, "")
            .await?
            .into_iter()
            .map(from_item)
            .collect()
    }

    /// Every agent wallet of the table, by Scan: for the ledger check script only
    /// (an operations tool), never for a request or a job.
    pub async fn scan_wallets(&self) -> Result<Vec<AgentWallet>, StoreError> {
        let mut wallets = Vec::new();
        let mut start = None;
        loop {
            let out = self
                .client()
                .scan()
                .table_name(self.table())
                .filter_expression("begins_with(sk, :wallet)")
                .expression_attribute_values(":wallet", s(keys::WALLET_PREFIX))
                .consistent_read(true)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(StoreError::dynamo)?;
            for item in out.items.unwrap_or_default() {
                wallets.push(from_item(item)?);
            }
            match out.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(wallets),
            }
        }
    }
}
