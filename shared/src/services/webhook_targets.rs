//! Webhook targets of rules (polling alert rules, usage rules): the URL and the
//! secret signing the deliveries, sealed with KMS under the rule's context,
//! answered in full once (by the request that generated or set it) and masked
//! afterwards.

use crate::app::AppState;
use crate::domain::payment_config::mask;
use crate::domain::polling_alerts::{
    new_secret, webhook_secret, webhook_url, NotifyInput, NotifyView,
};
use crate::domain::validate::Invalid;
use crate::integrations::kms::SealError;
use crate::store::polling_alerts::StoredNotify;

/// Why a target could not be set.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("secrets: {0}")]
    Seal(#[from] SealError),
}

async fn stored(
    state: &AppState,
    context: &str,
    url: &str,
    secret: &str,
) -> Result<StoredNotify, TargetError> {
    Ok(StoredNotify {
        webhook_url: webhook_url(url)?,
        secret_mask: mask(secret),
        sealed: state.envelope().seal(secret.as_bytes(), context).await?,
    })
}

/// The target after a request that gave `given` (`None`: omitted, keeps `kept`;
/// `Some(None)`: removed), sealed under `context`, and the secret to reveal if
/// this request generated or set one. An omitted or empty secret keeps the stored
/// one, or is generated when there is none.
pub async fn target(
    state: &AppState,
    context: &str,
    given: Option<&Option<NotifyInput>>,
    kept: Option<StoredNotify>,
) -> Result<(Option<StoredNotify>, Option<String>), TargetError> {
    let Some(given) = given else {
        return Ok((kept, None));
    };
    let Some(given) = given else {
        return Ok((None, None));
    };
    let url = webhook_url(&given.webhook_url)?;
    match (webhook_secret(given.secret.as_deref())?, kept) {
        (Some(secret), _) => Ok((
            Some(stored(state, context, &url, &secret).await?),
            Some(secret),
        )),
        (None, Some(mut kept)) => {
            kept.webhook_url = url;
            Ok((Some(kept), None))
        }
        (None, None) => {
            let secret = new_secret();
            Ok((
                Some(stored(state, context, &url, &secret).await?),
                Some(secret),
            ))
        }
    }
}

/// The answered form of `notify`: the secret masked, or `revealed` in full.
pub fn answered(notify: &StoredNotify, revealed: Option<&str>) -> NotifyView {
    NotifyView {
        webhook_url: notify.webhook_url.clone(),
        secret: revealed.map_or_else(|| notify.secret_mask.clone(), str::to_string),
    }
}

/// Opens the secret of `notify`, sealed under `context`.
pub async fn open(
    state: &AppState,
    notify: &StoredNotify,
    context: &str,
) -> Result<String, SealError> {
    let plain = state.envelope().open(&notify.sealed, context).await?;
    String::from_utf8(plain).map_err(|_| SealError::Corrupt)
}
