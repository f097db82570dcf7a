//! SQS batch handling with partial batch failures (style.md): every message is
//! decoded into its typed payload and handled in a span tagged with its message id;
//! failures are reported back so only they are retried, never swallowed.

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use serde::de::DeserializeOwned;
use tracing::Instrument;

use crate::integrations::fifo::SqsQueue;

/// A failed message: retried by SQS (then dead-lettered after the receive limit).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct JobError(pub String);

impl From<crate::store::StoreError> for JobError {
    fn from(e: crate::store::StoreError) -> Self {
        JobError(e.to_string())
    }
}

impl From<crate::integrations::fifo::QueueError> for JobError {
    fn from(e: crate::integrations::fifo::QueueError) -> Self {
        JobError(e.to_string())
    }
}

impl From<crate::app::Unavailable> for JobError {
    fn from(e: crate::app::Unavailable) -> Self {
        JobError(e.to_string())
    }
}

/// Handles the messages of a FIFO batch in order. After the first failure the rest
/// of the batch is reported failed too, so a message group never runs out of order.
pub async fn handle_fifo<T, F, Fut>(event: SqsEvent, handler: F) -> SqsBatchResponse
where
    T: DeserializeOwned,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<(), JobError>>,
{
    let decode = |body: &str| serde_json::from_str::<T>(body).map_err(|e| e.to_string());
    handle_batch(event, decode, |_: &T| true, handler).await
}

/// Handles the messages of a batch in order, each decoded by `decode`. After the
/// failure of an ordered message (`ordered`; an undecodable one counts as ordered)
/// the batch's later ordered messages are reported failed too, unhandled; unordered
/// ones are handled whatever failed before them, and their failures hold nothing
/// back.
pub async fn handle_batch<T, D, O, F, Fut>(
    event: SqsEvent,
    decode: D,
    ordered: O,
    handler: F,
) -> SqsBatchResponse
where
    D: Fn(&str) -> Result<T, String>,
    O: Fn(&T) -> bool,
    F: Fn(T) -> Fut,
    Fut: std::future::Future<Output = Result<(), JobError>>,
{
    let mut response = SqsBatchResponse::default();
    let mut held = false;
    for message in event.records {
        let id = message.message_id.clone().unwrap_or_default();
        let body = message.body.as_deref().unwrap_or_default();
        let decoded = decode(body);
        let in_order = decoded.as_ref().map_or(true, &ordered);
        if held && in_order {
            response.batch_item_failures.push(failure(id));
            continue;
        }
        let span = tracing::info_span!("message", message_id = %id);
        let result = async {
            match decoded {
                Ok(payload) => handler(payload).await,
                Err(e) => {
                    // Never dropped silently: it fails until SQS moves it to the
                    // dead-letter queue (after the receive limit), where it can be read.
                    tracing::error!(error = %e, body, "undecodable message");
                    Err(JobError(format!("undecodable message: {e}")))
                }
            }
        }
        .instrument(span.clone())
        .await;
        if let Err(e) = result {
            span.in_scope(|| tracing::warn!(error = %e, "message failed; will be retried"));
            held |= in_order;
            response.batch_item_failures.push(failure(id));
        }
    }
    response
}

/// The records of a batch that `response` reports failed (those SQS redelivers).
pub fn failed_records<'a>(
    records: &'a [SqsMessage],
    response: &SqsBatchResponse,
) -> Vec<&'a SqsMessage> {
    records
        .iter()
        .filter(|r| {
            let id = r.message_id.as_deref().unwrap_or_default();
            response
                .batch_item_failures
                .iter()
                .any(|f| f.item_identifier == id)
        })
        .collect()
}

/// How many times SQS delivered `record` (its `ApproximateReceiveCount`; 1 if absent).
pub fn receive_count(record: &SqsMessage) -> i64 {
    record
        .attributes
        .get("ApproximateReceiveCount")
        .and_then(|n| n.parse::<i64>().ok())
        .unwrap_or(1)
        .max(1)
}

/// Seconds until a message received `receive_count` times is retried: `base` per
/// receive, at most `max` (and within SQS's 12 hours).
pub fn backoff_secs(base: i64, receive_count: i64, max: i64) -> i32 {
    let secs = base
        .max(0)
        .saturating_mul(receive_count.max(1))
        .min(max)
        .clamp(0, 43_200);
    i32::try_from(secs).unwrap_or(43_200)
}

/// Makes each of `failed` visible again on `queue` after `base_secs` × its receive
/// count (at most `max_secs`) instead of the queue's visibility timeout. A message
/// this cannot reach simply waits for the visibility timeout, as without it.
pub async fn retry_later(queue: &SqsQueue, failed: &[&SqsMessage], base_secs: i64, max_secs: i64) {
    for record in failed {
        let Some(receipt) = record.receipt_handle.as_deref() else {
            continue;
        };
        let count = receive_count(record);
        let delay = backoff_secs(base_secs, count, max_secs);
        match queue.retry_after(receipt, delay).await {
            Ok(()) => tracing::info!(
                message_id = record.message_id.as_deref().unwrap_or_default(),
                receive_count = count,
                delay_secs = delay,
                "message retried later"
            ),
            Err(e) => tracing::warn!(error = %e, "could not shorten a message's retry"),
        }
    }
}

fn failure(id: String) -> BatchItemFailure {
    let mut f = BatchItemFailure::default();
    f.item_identifier = id;
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(id: &str, body: &str) -> SqsMessage {
        let mut m = SqsMessage::default();
        m.message_id = Some(id.into());
        m.body = Some(body.into());
        m
    }

    #[tokio::test]
    async fn an_undecodable_message_fails_and_holds_back_the_rest_of_its_batch() {
        let mut event = SqsEvent::default();
        event.records = vec![
            message("a", "7"),
            message("b", "not json"),
            message("c", "8"),
        ];
        let seen = std::sync::Mutex::new(Vec::new());
        let response = handle_fifo(event, |n: u32| {
            seen.lock().unwrap().push(n);
            async { Ok(()) }
        })
        .await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        assert_eq!(failed, vec!["b", "c"]);
        assert_eq!(*seen.lock().unwrap(), vec![7]);
    }

    #[tokio::test]
    async fn unordered_messages_neither_wait_for_nor_hold_back_others() {
        let mut event = SqsEvent::default();
        // Odd numbers are ordered; 0 fails.
        event.records = ["1", "0", "2", "3", "4", "x"]
            .iter()
            .enumerate()
            .map(|(i, b)| message(&i.to_string(), b))
            .collect();
        let seen = std::sync::Mutex::new(Vec::new());
        let decode = |b: &str| b.parse::<u32>().map_err(|e| e.to_string());
        let response = handle_batch(
            event,
            decode,
            |n| n % 2 == 1 || *n == 0,
            |n: u32| {
                seen.lock().unwrap().push(n);
                async move {
                    match n {
                        0 => Err(JobError("no".into())),
                        _ => Ok(()),
                    }
                }
            },
        )
        .await;
        let failed: Vec<&str> = response
            .batch_item_failures
            .iter()
            .map(|f| f.item_identifier.as_str())
            .collect();
        // "0" failed (ordered), so "3" and the undecodable "x" are held back; "2"
        // and "4" are handled.
        assert_eq!(failed, vec!["1", "3", "5"]);
        assert_eq!(*seen.lock().unwrap(), vec![1, 0, 2, 4]);
    }

    #[test]
    fn backoff_grows_with_the_receive_count_up_to_its_cap() {
        let got: Vec<i32> = (1..=12).map(|n| backoff_secs(30, n, 300)).collect();
        assert_eq!(
            got,
            vec![30, 60, 90, 120, 150, 180, 210, 240, 270, 300, 300, 300]
        );
        assert_eq!(backoff_secs(30, 0, 300), 30);
        assert_eq!(backoff_secs(i64::MAX, i64::MAX, i64::MAX), 43_200);
    }

    #[test]
    fn the_receive_count_and_the_failed_records_come_from_the_event() {
        let mut a = message("a", "1");
        a.attributes
            .insert("ApproximateReceiveCount".into(), "3".into());
        let b = message("b", "2");
        assert_eq!((receive_count(&a), receive_count(&b)), (3, 1));
        let records = vec![a, b];
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures.push(failure("b".into()));
        let failed = failed_records(&records, &response);
        assert_eq!(failed.len(), 1);
        assert_eq!(failed[0].message_id.as_deref(), Some("b"));
    }
}
