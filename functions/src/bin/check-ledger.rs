//! Ledger check (run by `scripts/check-ledger.sh`): for every agent wallet of the
//! table `CMP_TABLE` (at `CMP_AWS_ENDPOINT` when set, else AWS), or only those of the
//! shop ids given as arguments, checks that the balances are sound (never negative,
//! frozen ≤ balance) and equal the sums of the wallet's ledger lines, which chain
//! from zero. Prints one JSON line per wallet that breaks it; exits 0 when none
//! does, 1 when some do, 2 when the check could not run. Reading every wallet is a
//! Scan: run it as an operations tool, not on a schedule against a busy table.

use std::process::ExitCode;

use shared::app::{AppState, Clients};
use shared::config::Config;
use shared::services::wallets::check_wallet_invariants;

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let mut shops = Vec::new();
    for arg in std::env::args().skip(1) {
        match arg.parse::<u64>() {
            Ok(id) if id > 0 => shops.push(id),
            _ => {
                eprintln!("usage: check-ledger [shop id ...] (not a shop id: {arg})");
                return ExitCode::from(2);
            }
        }
    }
    let state = match Config::from_env() {
        Ok(cfg) => AppState::connect(cfg, Clients::TABLE).await,
        Err(e) => Err(e),
    };
    let state = match state {
        Ok(state) => state,
        Err(e) => {
            eprintln!("check-ledger: {e}");
            return ExitCode::from(2);
        }
    };
    let scope = (!shops.is_empty()).then_some(shops.as_slice());
    match check_wallet_invariants(&state.store, scope).await {
        Ok(violations) => {
            for v in &violations {
                println!("{}", serde_json::to_string(v).unwrap_or_default());
            }
            eprintln!(
                "check-ledger: {} wallet(s) break the ledger invariant",
                violations.len()
            );
            if violations.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(e) => {
            eprintln!("check-ledger: {e}");
            ExitCode::from(2)
        }
    }
}
