//! Agent wallets and their ledger (domain.md §4.8, §5.8 "Ledger pattern"): the pure
//! rule of a balance movement, the entry a use case asks the store to apply, the
//! append-only line the store writes with it, and the invariant every wallet keeps.
//!
//! A wallet holds `balance` (everything it owns, frozen money included) and
//! `frozen_balance` (reserved for pending operations); `balance − frozen_balance` is
//! what may be spent or frozen. Every change is one [`Movement`] recorded by one
//! [`LedgerLine`] whose key is an event id derived from its cause, so a replay is
//! recognised and a conflicting replay refused.

use serde::{Deserialize, Serialize};

pub use super::org::WalletKind;
use super::validate::MAX_MONEY;

mod ledger;
pub use ledger::{invariant_problems, LedgerEntry, LedgerLine};

/// Largest balance a wallet may reach (fen): far above any real balance, below
/// 2^53 so every amount stays exact as a JSON number.
pub const MAX_BALANCE: i64 = 1_000_000_000_000_000;

/// Longest event id accepted.
pub const MAX_EVENT_ID: usize = 200;

impl WalletKind {
    /// The kind named `name` (`main`, `commission`).
    pub fn from_name(name: &str) -> Option<WalletKind> {
        match name {
            "main" => Some(WalletKind::Main),
            "commission" => Some(WalletKind::Commission),
            _ => None,
        }
    }
}

/// The id of a shop's wallet of `kind`: `2 × shop id` for `main`, `2 × shop id + 1`
/// for `commission`. Wallets are keyed by shop and kind, so their ids are derived
/// rather than counted and [`wallet_of`] finds the wallet without a lookup item.
pub fn wallet_id(shop_id: u64, kind: WalletKind) -> u64 {
    let offset = u64::from(kind == WalletKind::Commission);
    shop_id.saturating_mul(2).saturating_add(offset)
}

/// The shop and kind of wallet `id` ([`wallet_id`] reversed); `None` for ids no
/// wallet can have.
pub fn wallet_of(id: u64) -> Option<(u64, WalletKind)> {
    let shop_id = id / 2;
    let kind = if id % 2 == 0 {
        WalletKind::Main
    } else {
        WalletKind::Commission
    };
    (shop_id > 0).then_some((shop_id, kind))
}

/// Why a line was written (`transaction_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TxType {
    /// Money paid in (agent recharge).
    Recharge,
    /// An order paid from the wallet.
    OrderPayment,
    /// Money given back for an order.
    Refund,
    /// A commission credited.
    Commission,
    /// A commission withdrawal.
    Withdrawal,
    /// Money reserved for a pending operation.
    Freeze,
    /// A reservation released.
    Unfreeze,
}

impl TxType {
    /// The stored (and answered) name.
    pub fn as_str(self) -> &'static str {
        match self {
            TxType::Recharge => "recharge",
            TxType::OrderPayment => "order_payment",
            TxType::Refund => "refund",
            TxType::Commission => "commission",
            TxType::Withdrawal => "withdrawal",
            TxType::Freeze => "freeze",
            TxType::Unfreeze => "unfreeze",
        }
    }
}

/// The direction of a movement, as stored on its line (`movement`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum MovementKind {
    /// `balance += amount`.
    Credit,
    /// `balance -= amount`, from the available part.
    Debit,
    /// `frozen_balance += amount`, from the available part.
    Freeze,
    /// `frozen_balance -= amount`.
    Unfreeze,
    /// `balance -= amount` and `frozen_balance -= amount`: frozen money spent.
    DebitFrozen,
    /// `balance += amount` and `frozen_balance += amount`: money in, frozen.
    CreditFrozen,
}

impl MovementKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            MovementKind::Credit => "credit",
            MovementKind::Debit => "debit",
            MovementKind::Freeze => "freeze",
            MovementKind::Unfreeze => "unfreeze",
            MovementKind::DebitFrozen => "debit_frozen",
            MovementKind::CreditFrozen => "credit_frozen",
        }
    }
}

/// One change of a wallet's balances, with its amount in fen (positive).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Movement {
    /// Money in.
    Credit(i64),
    /// Available money out.
    Debit(i64),
    /// Available money reserved.
    Freeze(i64),
    /// Reserved money released.
    Unfreeze(i64),
    /// Reserved money spent.
    DebitFrozen(i64),
    /// Money in, reserved at once (a commission before it is unfrozen).
    CreditFrozen(i64),
}

/// A wallet's two balances.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Balances {
    /// Everything the wallet holds (fen), frozen money included.
    pub balance: i64,
    /// The reserved part of `balance`.
    pub frozen: i64,
}

impl Balances {
    /// What may be spent or frozen.
    pub fn available(self) -> i64 {
        self.balance - self.frozen
    }

    /// Whether the balances keep the wallet's invariant: nothing negative, frozen
    /// within the balance, the balance within [`MAX_BALANCE`].
    pub fn is_sound(self) -> bool {
        self.frozen >= 0 && self.frozen <= self.balance && self.balance <= MAX_BALANCE
    }
}

/// Why a movement is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum MovementError {
    /// The amount is not in 1..=[`MAX_MONEY`].
    #[error("the amount {0} is not between 1 and {MAX_MONEY} fen")]
    BadAmount(i64),
    /// Debits and freezes need that much available (unfrozen) money.
    #[error("insufficient balance: {available} fen available, {amount} needed")]
    Insufficient {
        /// Available before the movement.
        available: i64,
        /// Amount asked for.
        amount: i64,
    },
    /// Unfreezing or spending more than is frozen.
    #[error("only {frozen} fen are frozen, {amount} needed")]
    FrozenShort {
        /// Frozen before the movement.
        frozen: i64,
        /// Amount asked for.
        amount: i64,
    },
    /// The balance would exceed [`MAX_BALANCE`].
    #[error("the balance would exceed {MAX_BALANCE} fen")]
    Overflow,
    /// The stored balances already break the invariant (never expected).
    #[error("the wallet's stored balances are inconsistent")]
    Unsound,
}

impl Movement {
    /// The movement of `kind` for `amount`.
    pub fn new(kind: MovementKind, amount: i64) -> Movement {
        match kind {
            MovementKind::Credit => Movement::Credit(amount),
            MovementKind::Debit => Movement::Debit(amount),
            MovementKind::Freeze => Movement::Freeze(amount),
            MovementKind::Unfreeze => Movement::Unfreeze(amount),
            MovementKind::DebitFrozen => Movement::DebitFrozen(amount),
            MovementKind::CreditFrozen => Movement::CreditFrozen(amount),
        }
    }

    /// Its direction.
    pub fn kind(self) -> MovementKind {
        match self {
            Movement::Credit(_) => MovementKind::Credit,
            Movement::Debit(_) => MovementKind::Debit,
            Movement::Freeze(_) => MovementKind::Freeze,
            Movement::Unfreeze(_) => MovementKind::Unfreeze,
            Movement::DebitFrozen(_) => MovementKind::DebitFrozen,
            Movement::CreditFrozen(_) => MovementKind::CreditFrozen,
        }
    }

    /// Its amount in fen.
    pub fn amount(self) -> i64 {
        match self {
            Movement::Credit(a)
            | Movement::Debit(a)
            | Movement::Freeze(a)
            | Movement::Unfreeze(a)
            | Movement::DebitFrozen(a)
            | Movement::CreditFrozen(a) => a,
        }
    }

    /// The balances after the movement, or why it is refused: the amount must be
    /// 1..=[`MAX_MONEY`]; debits and freezes need the amount available, unfreezes and
    /// frozen debits need it frozen; the result keeps [`Balances::is_sound`].
    pub fn apply(self, before: Balances) -> Result<Balances, MovementError> {
        let amount = self.amount();
        if !(1..=MAX_MONEY).contains(&amount) {
            return Err(MovementError::BadAmount(amount));
        }
        if !before.is_sound() {
            return Err(MovementError::Unsound);
        }
        let needs_available = || {
            if before.available() < amount {
                Err(MovementError::Insufficient {
                    available: before.available(),
                    amount,
                })
            } else {
                Ok(())
            }
        };
        let needs_frozen = || {
            if before.frozen < amount {
                Err(MovementError::FrozenShort {
                    frozen: before.frozen,
                    amount,
                })
            } else {
                Ok(())
            }
        };
        let after = match self {
            Movement::Credit(a) => Balances {
                balance: before.balance + a,
                ..before
            },
            Movement::Debit(a) => {
                needs_available()?;
                Balances {
                    balance: before.balance - a,
                    ..before
                }
            }
            Movement::Freeze(a) => {
                needs_available()?;
                Balances {
                    frozen: before.frozen + a,
                    ..before
                }
            }
            Movement::Unfreeze(a) => {
                needs_frozen()?;
                Balances {
                    frozen: before.frozen - a,
                    ..before
                }
            }
            Movement::DebitFrozen(a) => {
                needs_frozen()?;
                Balances {
                    balance: before.balance - a,
                    frozen: before.frozen - a,
                }
            }
            Movement::CreditFrozen(a) => Balances {
                balance: before.balance + a,
                frozen: before.frozen + a,
            },
        };
        if after.balance > MAX_BALANCE {
            return Err(MovementError::Overflow);
        }
        Ok(after)
    }
}

impl super::entities::AgentWallet {
    /// Its kind (`None` for a name no kind has, never expected).
    pub fn kind(&self) -> Option<WalletKind> {
        WalletKind::from_name(&self.wallet_type)
    }

    /// Its id ([`wallet_id`]).
    pub fn id(&self) -> u64 {
        self.kind().map_or(0, |kind| wallet_id(self.shop_id, kind))
    }

    /// Its balances.
    pub fn balances(&self) -> Balances {
        Balances {
            balance: self.balance,
            frozen: self.frozen_balance,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b(balance: i64, frozen: i64) -> Balances {
        Balances { balance, frozen }
    }

    #[test]
    fn movements_move_the_right_balance_and_refuse_overdrafts() {
        let start = b(100, 30);
        assert_eq!(Movement::Credit(5).apply(start), Ok(b(105, 30)));
        assert_eq!(Movement::Debit(70).apply(start), Ok(b(30, 30)));
        assert_eq!(
            Movement::Debit(71).apply(start),
            Err(MovementError::Insufficient {
                available: 70,
                amount: 71
            })
        );
        assert_eq!(Movement::Freeze(70).apply(start), Ok(b(100, 100)));
        assert!(Movement::Freeze(71).apply(start).is_err());
        assert_eq!(Movement::Unfreeze(30).apply(start), Ok(b(100, 0)));
        assert_eq!(
            Movement::Unfreeze(31).apply(start),
            Err(MovementError::FrozenShort {
                frozen: 30,
                amount: 31
            })
        );
        assert_eq!(Movement::DebitFrozen(30).apply(start), Ok(b(70, 0)));
        assert_eq!(Movement::CreditFrozen(5).apply(start), Ok(b(105, 35)));
        assert!(Movement::DebitFrozen(31).apply(start).is_err());
        for bad in [0, -1, MAX_MONEY + 1] {
            assert_eq!(
                Movement::Credit(bad).apply(start),
                Err(MovementError::BadAmount(bad))
            );
        }
        assert_eq!(
            Movement::Credit(1).apply(b(MAX_BALANCE, 0)),
            Err(MovementError::Overflow)
        );
        assert_eq!(
            Movement::Credit(1).apply(b(5, 6)),
            Err(MovementError::Unsound)
        );
        for m in [
            Movement::Credit(1),
            Movement::Debit(2),
            Movement::Freeze(3),
            Movement::Unfreeze(4),
            Movement::DebitFrozen(5),
            Movement::CreditFrozen(6),
        ] {
            assert_eq!(Movement::new(m.kind(), m.amount()), m);
        }
    }

    #[test]
    fn wallet_ids_name_shop_and_kind() {
        for shop in [1, 2, 77, 1 << 40] {
            for kind in [WalletKind::Main, WalletKind::Commission] {
                assert_eq!(wallet_of(wallet_id(shop, kind)), Some((shop, kind)));
            }
        }
        assert_eq!(wallet_of(0), None);
        assert_eq!(wallet_of(1), None);
        assert_eq!(
            WalletKind::from_name("commission"),
            Some(WalletKind::Commission)
        );
        assert_eq!(WalletKind::from_name("x"), None);
    }
}
