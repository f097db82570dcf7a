//! Stopping and starting a card at the carrier for protect consistency (J8),
//! recorded on the card conditioned on the version read. Stops and resumes for data
//! exhaustion are `services::card_network`'s.

use crate::app::AppState;
use crate::clock::rfc3339;
use crate::domain::assets::IotCard;
use crate::domain::stamp::Stamped;
use crate::integrations::gateway::client::GatewayError;
use crate::store::assets::card_item;
use crate::store::StoreError;

/// Account id recorded on changes made by the system (polling, jobs).
pub const SYSTEM: u64 = 0;

/// A stop or start that failed.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no carrier gateway is configured")]
    NoGateway,
}

/// Applies `change` to `card` after the gateway carried out the stop (`stop`) or
/// start, and stores it; answers the stored card.
async fn switch(
    state: &AppState,
    card: &IotCard,
    stop: bool,
    change: impl FnOnce(&mut IotCard, String),
) -> Result<IotCard, NetworkError> {
    let gw = state
        .gateway()
        .await
        .map_err(|e| StoreError::Dynamo(e.to_string()))?
        .ok_or(NetworkError::NoGateway)?;
    gw.switch_card_network(&card.iccid, stop).await?;
    let now = state.clock.now();
    let mut c = card.clone();
    change(&mut c, rfc3339(now));
    c.touch(SYSTEM, now);
    state
        .store
        .save_asset(card_item(&c)?, card.version, c.id, &[])
        .await?;
    Ok(c)
}

/// Stops (`stop`) or starts a verified card to match its device's protect period.
pub async fn enforce_protect(
    state: &AppState,
    card: &IotCard,
    stop: bool,
) -> Result<bool, NetworkError> {
    if !card.is_verified() || card.is_started() != stop {
        return Ok(false);
    }
    let dir = if stop {
        crate::domain::assets::Direction::Stop
    } else {
        crate::domain::assets::Direction::Start
    };
    switch(state, card, stop, |c, at| c.switch(dir, at)).await?;
    Ok(true)
}
