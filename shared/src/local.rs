//! Local stack bootstrap for the dev server, tests and tools: creates the table, the
//! bucket, the import queue and the bulk-move queue (FIFO, each with a dead-letter
//! queue), the standard queue of import file arrivals (with its dead-letter queue)
//! and the bucket's notification of `ObjectCreated` under `imports/` to it, on the
//! emulator, and returns the finished state. On AWS the SAM template creates them.

pub mod payment_fakes;
pub mod scale;
pub mod webhook_receiver;

use aws_sdk_sqs::types::QueueAttributeName;

use crate::app::{AppState, Clients};
use crate::config::{Config, JobQueue};
use crate::domain::assets::IMPORT_OBJECT_PREFIX;
use crate::integrations::fifo::SqsQueue;
use crate::store::{schema, StoreError};

/// Receives before a message goes to the dead-letter queue.
pub const MAX_RECEIVE_COUNT: u32 = 4;

/// Failures of the local set-up.
pub type LocalError = Box<dyn std::error::Error + Send + Sync>;

/// Moves the secrets given in `cfg` into the emulator's Secrets Manager as
/// `<prefix>/jwt-secret`, `<prefix>/gateway-app-secret` and
/// `<prefix>/super-admin-password` (the template's names for prefix `cmp`) and names
/// them instead, so the local stack reads them the way a deployed function does.
pub async fn seed_secrets(
    mut cfg: Config,
    endpoint: &str,
    prefix: &str,
) -> Result<Config, LocalError> {
    let local = AppState::local(cfg.clone(), endpoint);
    let secrets = local.secrets().ok_or("no Secrets Manager client")?;
    if !cfg.jwt_secret.is_empty() {
        let name = format!("{prefix}/jwt-secret");
        secrets.put(&name, &cfg.jwt_secret).await?;
        cfg.jwt_secret = String::new();
        cfg.jwt_secret_id = Some(name);
    }
    if !cfg.gateway_app_secret.is_empty() {
        let name = format!("{prefix}/gateway-app-secret");
        secrets.put(&name, &cfg.gateway_app_secret).await?;
        cfg.gateway_app_secret = String::new();
        cfg.gateway_secret_id = Some(name);
    }
    if let Some(pass) = cfg.super_admin_password.take() {
        let name = format!("{prefix}/super-admin-password");
        secrets.put(&name, &pass).await?;
        cfg.super_admin_secret_id = Some(name);
    }
    Ok(cfg)
}

/// State for `cfg` on the emulator at `endpoint` (secrets named in `cfg` read from
/// the emulator), with the table, the bucket, the import queue `queue_name`, the
/// bulk-move queue (`<queue_name>` with `-bulk` before `.fifo`) and the standard
/// import events queue (`-events` instead of `.fifo`, notified by the bucket of
/// every object created under `imports/`) created if missing.
pub async fn ensure(cfg: Config, endpoint: &str, queue_name: &str) -> Result<AppState, LocalError> {
    let mut cfg = cfg;
    if cfg.payment_kms_key.is_empty() {
        cfg.payment_kms_key = LOCAL_PAYMENT_KEY.into();
    }
    let state = AppState::connect_local(cfg, endpoint, Clients::ALL)?;
    ensure_kms_key(state.envelope().client(), &state.cfg.payment_kms_key).await?;
    schema::create_table(state.store.client(), state.store.table()).await?;
    let s3 = state.s3().map_err(StoreError::dynamo)?;
    let bucket = &state.cfg.bucket;
    if s3.head_bucket().bucket(bucket).send().await.is_err() {
        s3.create_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(StoreError::dynamo)?;
    }
    let sqs = state.import_queue().map_err(StoreError::dynamo)?.client();
    let base = queue_name.trim_end_matches(".fifo");
    let import_url = queue_with_dlq(sqs, base, Kind::Fifo).await?;
    let bulk_url = queue_with_dlq(sqs, &format!("{base}-bulk"), Kind::Fifo).await?;
    let events_url = queue_with_dlq(sqs, &format!("{base}-events"), Kind::Standard).await?;
    let audit_url = queue_with_dlq(sqs, &format!("{base}-audit"), Kind::Standard).await?;
    notify_imports(s3, bucket, &queue_arn(sqs, &events_url).await?).await?;
    let mut job_urls = Vec::new();
    for q in JobQueue::ALL {
        let urls = queues_with_dlq(sqs, &format!("{base}-{}", q.name()), Kind::Standard).await?;
        job_urls.push((q, urls));
    }
    let state = job_urls.iter().fold(state.clone(), |s, (q, (url, dlq))| {
        s.with_job_queue_url(*q, url).with_job_dlq_url(*q, dlq)
    });
    Ok(state
        .with_audit_queue_url(&audit_url)
        .with_import_queue_url(&import_url)
        .with_import_events_queue_url(&events_url)
        .with_bulk_queue_url(&bulk_url))
}

/// The KMS key alias sealing payment secrets on the local stack (the template's
/// alias on AWS).
pub const LOCAL_PAYMENT_KEY: &str = "alias/cmp-payments";

/// Creates KMS key `alias` (a symmetric key behind that alias) if it does not exist.
async fn ensure_kms_key(kms: &aws_sdk_kms::Client, alias: &str) -> Result<(), LocalError> {
    if kms.describe_key().key_id(alias).send().await.is_ok() {
        return Ok(());
    }
    let key = kms
        .create_key()
        .description("CMP payment configuration secrets (local)")
        .send()
        .await
        .map_err(StoreError::dynamo)?;
    let id = key
        .key_metadata()
        .map(|m| m.key_id().to_string())
        .ok_or("KMS CreateKey answered no key id")?;
    let created = kms
        .create_alias()
        .alias_name(alias)
        .target_key_id(id)
        .send()
        .await;
    // Another process may have created the alias meanwhile: then it is there.
    if let Err(e) = created {
        if kms.describe_key().key_id(alias).send().await.is_err() {
            return Err(StoreError::dynamo(e).into());
        }
    }
    Ok(())
}

/// Has `bucket` notify the queue `queue_arn` of every object created under
/// `imports/` (as the template does on AWS). The emulator then sends an
/// `s3:TestEvent` to the queue.
async fn notify_imports(
    s3: &aws_sdk_s3::Client,
    bucket: &str,
    queue_arn: &str,
) -> Result<(), LocalError> {
    use aws_sdk_s3::types::{
        Event, FilterRule, FilterRuleName, NotificationConfiguration,
        NotificationConfigurationFilter, QueueConfiguration, S3KeyFilter,
    };
    let rule = FilterRule::builder()
        .name(FilterRuleName::Prefix)
        .value(IMPORT_OBJECT_PREFIX)
        .build();
    let filter = NotificationConfigurationFilter::builder()
        .key(S3KeyFilter::builder().filter_rules(rule).build())
        .build();
    let queue = QueueConfiguration::builder()
        .id("import-arrivals")
        .queue_arn(queue_arn)
        .events(Event::from("s3:ObjectCreated:*"))
        .filter(filter)
        .build()
        .map_err(StoreError::dynamo)?;
    let config = NotificationConfiguration::builder()
        .queue_configurations(queue)
        .build();
    s3.put_bucket_notification_configuration()
        .bucket(bucket)
        .notification_configuration(config)
        .send()
        .await
        .map_err(StoreError::dynamo)?;
    Ok(())
}

/// The ARN of the queue at `url`.
async fn queue_arn(sqs: &aws_sdk_sqs::Client, url: &str) -> Result<String, LocalError> {
    Ok(sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(StoreError::dynamo)?
        .attributes
        .and_then(|a| a.get(&QueueAttributeName::QueueArn).cloned())
        .unwrap_or_default())
}

/// Whether a local queue is FIFO (SQS then wants the `.fifo` suffix).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Standard,
    Fifo,
}

/// Creates queue `<name>` (`<name>.fifo` for a FIFO queue) with its dead-letter queue
/// `<name>-dlq` of the same kind (after [`MAX_RECEIVE_COUNT`] receives); returns its
/// URL.
async fn queue_with_dlq(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    kind: Kind,
) -> Result<String, LocalError> {
    Ok(queues_with_dlq(sqs, name, kind).await?.0)
}

/// [`queue_with_dlq`], answering the dead-letter queue's URL too.
async fn queues_with_dlq(
    sqs: &aws_sdk_sqs::Client,
    name: &str,
    kind: Kind,
) -> Result<(String, String), LocalError> {
    let suffix = match kind {
        Kind::Standard => "",
        Kind::Fifo => ".fifo",
    };
    let create = |queue: String| {
        let req = sqs.create_queue().queue_name(queue);
        if kind == Kind::Fifo {
            req.attributes(QueueAttributeName::FifoQueue, "true")
        } else {
            req
        }
    };
    let dlq = create(format!("{name}-dlq{suffix}"))
        .send()
        .await
        .map_err(StoreError::dynamo)?;
    let dlq_url = dlq.queue_url.unwrap_or_default();
    let dlq_arn = queue_arn(sqs, &dlq_url).await?;
    let redrive =
        format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":"{MAX_RECEIVE_COUNT}"}}"#);
    let queue = create(format!("{name}{suffix}"))
        .attributes(QueueAttributeName::VisibilityTimeout, "180")
        .attributes(QueueAttributeName::RedrivePolicy, redrive)
        .send()
        .await
        .map_err(StoreError::dynamo)?;
    Ok((queue.queue_url.unwrap_or_default(), dlq_url))
}

/// Receives up to 10 messages from the import queue, hands them to the import
/// handler as an SQS event (as Lambda's event source mapping would) and deletes the
/// ones it did not report failed; the handler itself makes the failed ones visible
/// again after their back-off. Returns how many messages were received.
pub async fn pump_import_queue(state: &AppState, wait_seconds: i32) -> Result<usize, StoreError> {
    let queue = state.import_queue().map_err(StoreError::dynamo)?;
    pump(queue, wait_seconds, |event| {
        crate::jobs::import::handle(state, event)
    })
    .await
}

/// Like [`pump_import_queue`], for the queue of import file arrivals (the bucket's
/// notifications), handed to the same handler.
pub async fn pump_import_events(state: &AppState, wait_seconds: i32) -> Result<usize, StoreError> {
    let queue = state.import_events_queue().map_err(StoreError::dynamo)?;
    pump(queue, wait_seconds, |event| {
        crate::jobs::import::handle(state, event)
    })
    .await
}

/// Like [`pump_import_queue`], for the audit-log queue and its writer.
pub async fn pump_audit_queue(state: &AppState, wait_seconds: i32) -> Result<usize, StoreError> {
    pump(state.audit_queue(), wait_seconds, |event| {
        crate::jobs::audit_writer::handle(state, event)
    })
    .await
}

/// Like [`pump_import_queue`], for job queue `q` and its `handler`.
pub async fn pump_job_queue<F, Fut>(
    state: &AppState,
    q: JobQueue,
    wait_seconds: i32,
    handler: F,
) -> Result<usize, StoreError>
where
    F: FnOnce(aws_lambda_events::event::sqs::SqsEvent) -> Fut,
    Fut: std::future::Future<Output = aws_lambda_events::event::sqs::SqsBatchResponse>,
{
    pump(&state.job_queue(q), wait_seconds, handler).await
}

/// Like [`pump_import_queue`], for the bulk-move queue and its worker.
pub async fn pump_bulk_queue(state: &AppState, wait_seconds: i32) -> Result<usize, StoreError> {
    let queue = state.bulk_queue().map_err(StoreError::dynamo)?;
    pump(queue, wait_seconds, |event| {
        crate::jobs::bulk::handle(state, event)
    })
    .await
}

async fn pump<F, Fut>(queue: &SqsQueue, wait_seconds: i32, handle: F) -> Result<usize, StoreError>
where
    F: FnOnce(aws_lambda_events::event::sqs::SqsEvent) -> Fut,
    Fut: std::future::Future<Output = aws_lambda_events::event::sqs::SqsBatchResponse>,
{
    let messages = queue
        .receive(wait_seconds)
        .await
        .map_err(StoreError::dynamo)?;
    if messages.is_empty() {
        return Ok(0);
    }
    let response = handle(sqs_event(&messages)).await;
    let failed: Vec<String> = response
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect();
    for m in &messages {
        let id = m.message_id.clone().unwrap_or_default();
        if failed.contains(&id) {
            continue;
        }
        let receipt = m.receipt_handle.as_deref().unwrap_or_default();
        queue.delete(receipt).await.map_err(StoreError::dynamo)?;
    }
    Ok(messages.len())
}

/// An SQS Lambda event carrying `messages` (with their system attributes, such as
/// `ApproximateReceiveCount`).
pub fn sqs_event(
    messages: &[aws_sdk_sqs::types::Message],
) -> aws_lambda_events::event::sqs::SqsEvent {
    let mut event = aws_lambda_events::event::sqs::SqsEvent::default();
    for m in messages {
        let mut record = aws_lambda_events::event::sqs::SqsMessage::default();
        record.message_id = m.message_id.clone();
        record.receipt_handle = m.receipt_handle.clone();
        record.body = m.body.clone();
        for (name, value) in m.attributes.iter().flatten() {
            record
                .attributes
                .insert(name.as_str().to_string(), value.clone());
        }
        record.event_source = Some("aws:sqs".into());
        event.records.push(record);
    }
    event
}
