//! The composition root: configuration, the table, the clients a function uses and
//! the clock, built once per cold start and handed to every handler and job.
//!
//! A function names the clients it uses ([`Clients`]); the others are never built,
//! and a use case reaching for one answers an internal error ([`Unavailable`]).
//! A cold start builds only the configuration and the SDK clients' shells, with no
//! I/O: the secrets (one Secrets Manager read for all the function names), the token
//! keys, object storage, the queues and the carrier gateway are built on their first
//! use and then shared by every clone of the state. In AWS the SDK trusts the Amazon
//! Trust Services roots compiled in ([`aws_tls`]), so no certificate store is read.

use std::sync::{Arc, OnceLock};

use crate::auth::TokenKeys;
use crate::clock::Clock;
use crate::codes::{BusinessError, Code};
use crate::config::{
    Config, ConfigError, JobQueue, SdkTimeoutsMs, GATEWAY_MAX_RETRIES, LOCAL_SDK_TIMEOUTS_MS,
    MIN_JWT_SECRET_BYTES, SDK_TIMEOUTS_MS,
};
use crate::domain::payment_config::ConfigSecrets;
use crate::integrations::aws_tls;
use crate::integrations::bulk_queue::BulkQueue;
use crate::integrations::fifo::SqsQueue;
use crate::integrations::gateway::client::{GatewayClient, GatewayConfig};
use crate::integrations::gateway::crypto::AesEcbMd5;
use crate::integrations::import_queue::ImportQueue;
use crate::integrations::kms::Envelope;
use crate::integrations::secrets::Secrets;
use crate::store::Store;

/// Which clients beyond the table a function builds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Clients {
    /// Token keys (every HTTP group that authenticates): the JWT secret is read.
    pub tokens: bool,
    /// Object storage (uploads, import files, bulk results).
    pub s3: bool,
    /// The import queue and the queue of import file arrivals (the import worker
    /// consumes both).
    pub import_queue: bool,
    /// The bulk-move queue.
    pub bulk_queue: bool,
    /// The carrier gateway (when configured).
    pub gateway: bool,
    /// Creates the permission catalogue and the super admin, if missing, before the
    /// first login of each process (the auth function).
    pub bootstrap: bool,
}

impl Clients {
    /// Only the table (background jobs).
    pub const TABLE: Clients = Clients {
        tokens: false,
        s3: false,
        import_queue: false,
        bulk_queue: false,
        gateway: false,
        bootstrap: false,
    };
    /// The table and the token keys (HTTP groups).
    pub const API: Clients = Clients {
        tokens: true,
        ..Clients::TABLE
    };
    /// Every client (the dev server, tests, tools).
    pub const ALL: Clients = Clients {
        tokens: true,
        s3: true,
        import_queue: true,
        bulk_queue: true,
        gateway: true,
        bootstrap: false,
    };

    /// These clients plus object storage.
    pub const fn s3(self) -> Self {
        Clients { s3: true, ..self }
    }

    /// These clients plus the import queue.
    pub const fn import_queue(self) -> Self {
        Clients {
            import_queue: true,
            ..self
        }
    }

    /// These clients plus the bulk-move queue.
    pub const fn bulk_queue(self) -> Self {
        Clients {
            bulk_queue: true,
            ..self
        }
    }

    /// These clients plus the carrier gateway.
    pub const fn gateway(self) -> Self {
        Clients {
            gateway: true,
            ..self
        }
    }

    /// These clients, bootstrapping before the first login.
    pub const fn bootstrap(self) -> Self {
        Clients {
            bootstrap: true,
            ..self
        }
    }
}

/// A client the function was not built with (a deployment mistake; answers `2001`).
#[derive(Debug, thiserror::Error)]
#[error("{0} is not available in this function")]
pub struct Unavailable(pub &'static str);

impl BusinessError for Unavailable {
    fn code(&self) -> Code {
        Code::INTERNAL
    }
}

/// A secret the function needs could not be read or is unusable (answers `2001`; the
/// next use tries again).
#[derive(Debug, thiserror::Error)]
#[error("secrets unavailable: {0}")]
pub struct KeysUnavailable(pub String);

impl BusinessError for KeysUnavailable {
    fn code(&self) -> Code {
        Code::INTERNAL
    }
}

/// Everything a handler or job needs; cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    /// Configuration.
    pub cfg: Arc<Config>,
    /// The table.
    pub store: Store,
    /// Time source.
    pub clock: Clock,
    /// The clients this function may build.
    clients: Clients,
    /// The SDK configuration the lazily built clients are made from.
    sdk: Arc<aws_config::SdkConfig>,
    lazy: Arc<LazyClients>,
    keys: Arc<LazyKeys>,
    secrets: Option<Secrets>,
}

/// What the secrets give, built on first use: a failed read is not kept, so the next
/// use tries again.
#[derive(Debug, Default)]
struct LazyKeys {
    values: tokio::sync::OnceCell<SecretValues>,
    tokens: tokio::sync::OnceCell<TokenKeys>,
    /// `None` inside: the gateway is not configured (or its client failed to build).
    gateway: tokio::sync::OnceCell<Option<GatewayClient>>,
    bootstrapped: tokio::sync::OnceCell<()>,
}

/// The secret values a function uses: read from Secrets Manager (one call) when the
/// configuration names them, else the configuration's own (local runs, tests).
struct SecretValues {
    jwt: String,
    gateway_app: String,
}

impl std::fmt::Debug for SecretValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretValues(..)")
    }
}

/// The clients built on first use (cold starts skip them; most invocations of a
/// function that has them never need them).
#[derive(Debug, Default)]
struct LazyClients {
    s3: OnceLock<aws_sdk_s3::Client>,
    /// One SQS client for both queues.
    sqs: OnceLock<aws_sdk_sqs::Client>,
    import_queue: OnceLock<ImportQueue>,
    import_events: OnceLock<SqsQueue>,
    bulk_queue: OnceLock<BulkQueue>,
    envelope: OnceLock<Envelope>,
    audit_queue: OnceLock<SqsQueue>,
    opened: OpenedConfigs,
}

/// Secrets of payment configurations opened by this process, by configuration id,
/// with the nonce of the seal they came from (a re-sealed configuration opens again).
pub type OpenedConfigs =
    Arc<std::sync::Mutex<std::collections::HashMap<u64, (String, Arc<ConfigSecrets>)>>>;

impl AppState {
    /// Loads the AWS configuration from the environment and builds the table handle;
    /// nothing is read over the network (secrets and clients come on first use).
    pub async fn connect(cfg: Config, clients: Clients) -> Result<Self, ConfigError> {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(cfg.region.clone()))
            .timeout_config(timeouts(SDK_TIMEOUTS_MS));
        if let Some(endpoint) = &cfg.aws_endpoint {
            loader = loader.endpoint_url(endpoint);
        }
        // AWS endpoints, and plain-HTTP local ones, need no system certificate store;
        // an HTTPS endpoint of our own choosing may use any CA.
        let own_tls = cfg
            .aws_endpoint
            .as_deref()
            .is_some_and(|e| e.starts_with("https://"));
        if !own_tls {
            loader = loader.http_client(aws_tls::https_client());
        }
        let sdk = loader.load().await;
        Self::checked(cfg, &sdk, clients)
    }

    /// The state for `cfg`, refusing a JWT key given in the configuration that is too
    /// short (one named in Secrets Manager is checked when it is read).
    fn checked(
        cfg: Config,
        sdk: &aws_config::SdkConfig,
        clients: Clients,
    ) -> Result<Self, ConfigError> {
        if clients.tokens && cfg.jwt_secret_id.is_none() {
            check_jwt_secret(&cfg.jwt_secret).map_err(|e| ConfigError(e.0))?;
        }
        Ok(Self::from_sdk(cfg, sdk, clients))
    }

    /// Every client pointed at a local endpoint with dummy credentials (tests and
    /// tools; nothing is read from the environment).
    pub fn local(cfg: Config, endpoint: &str) -> Self {
        Self::from_sdk(cfg, &local_sdk(endpoint), Clients::ALL)
    }

    /// Like [`AppState::connect`] against a local endpoint with dummy credentials:
    /// the secrets named in `cfg` are read from the emulator on first use.
    pub fn connect_local(
        cfg: Config,
        endpoint: &str,
        clients: Clients,
    ) -> Result<Self, ConfigError> {
        Self::checked(cfg, &local_sdk(endpoint), clients)
    }

    fn from_sdk(cfg: Config, sdk: &aws_config::SdkConfig, clients: Clients) -> Self {
        let uses_secrets = cfg.jwt_secret_id.is_some()
            || cfg.gateway_secret_id.is_some()
            || cfg.super_admin_secret_id.is_some()
            || clients == Clients::ALL;
        Self {
            store: Store::from_sdk(sdk, &cfg.table),
            cfg: Arc::new(cfg),
            clock: Clock::default(),
            clients,
            sdk: Arc::new(sdk.clone()),
            lazy: Arc::default(),
            keys: Arc::default(),
            secrets: uses_secrets.then(|| Secrets::new(aws_sdk_secretsmanager::Client::new(sdk))),
        }
    }

    /// The secret values this function uses, read once (one `BatchGetSecretValue`
    /// for every secret it names).
    async fn secret_values(&self) -> Result<&SecretValues, KeysUnavailable> {
        self.keys
            .values
            .get_or_try_init(|| async {
                let jwt_id = self
                    .cfg
                    .jwt_secret_id
                    .as_deref()
                    .filter(|_| self.clients.tokens);
                let gateway_id = self
                    .cfg
                    .gateway_secret_id
                    .as_deref()
                    .filter(|_| self.clients.gateway);
                let ids: Vec<&str> = jwt_id.iter().chain(gateway_id.iter()).copied().collect();
                let mut values = match (&self.secrets, ids.is_empty()) {
                    (_, true) => Default::default(),
                    (Some(secrets), false) => secrets.get_many(&ids).await.map_err(|e| {
                        tracing::error!(error = %e, "secrets unreadable");
                        KeysUnavailable(e.to_string())
                    })?,
                    (None, false) => {
                        return Err(KeysUnavailable("no Secrets Manager client".into()))
                    }
                };
                let mut value = |id: Option<&str>, own: &String| {
                    id.and_then(|id| values.remove(id))
                        .unwrap_or_else(|| own.clone())
                };
                Ok(SecretValues {
                    jwt: value(jwt_id, &self.cfg.jwt_secret),
                    gateway_app: value(gateway_id, &self.cfg.gateway_app_secret),
                })
            })
            .await
    }

    /// The token signing keys (the JWT key read on first use).
    pub async fn tokens(&self) -> Result<&TokenKeys, KeysUnavailable> {
        if !self.clients.tokens {
            return Err(KeysUnavailable("this function has no token keys".into()));
        }
        self.keys
            .tokens
            .get_or_try_init(|| async {
                let values = self.secret_values().await?;
                check_jwt_secret(&values.jwt).inspect_err(|e| tracing::error!(error = %e))?;
                Ok(TokenKeys::new(&values.jwt))
            })
            .await
    }

    /// Runs `bootstrap` once per process before its result is needed, when this
    /// function bootstraps (a failure is not kept: the next call runs it again).
    pub async fn bootstrapped<E, F>(&self, bootstrap: impl FnOnce() -> F) -> Result<(), E>
    where
        F: std::future::Future<Output = Result<(), E>>,
    {
        if !self.clients.bootstrap {
            return Ok(());
        }
        self.keys.bootstrapped.get_or_try_init(bootstrap).await?;
        Ok(())
    }

    fn sqs(&self) -> &aws_sdk_sqs::Client {
        self.lazy
            .sqs
            .get_or_init(|| aws_sdk_sqs::Client::new(&self.sdk))
    }

    /// Secrets Manager, when the function names any secret.
    pub fn secrets(&self) -> Option<&Secrets> {
        self.secrets.as_ref()
    }

    /// The same state with the import queue at `url` (the local stack creates it).
    pub fn with_import_queue_url(mut self, url: &str) -> Self {
        Arc::make_mut(&mut self.cfg).import_queue_url = url.to_string();
        self.lazy = Arc::new(self.lazy.without_queues());
        self
    }

    /// The same state with the queue of import file arrivals at `url` (the local
    /// stack creates it).
    pub fn with_import_events_queue_url(mut self, url: &str) -> Self {
        Arc::make_mut(&mut self.cfg).import_events_queue_url = url.to_string();
        self.lazy = Arc::new(self.lazy.without_queues());
        self
    }

    /// The same state with the bulk-move queue at `url` (the local stack creates it).
    pub fn with_bulk_queue_url(mut self, url: &str) -> Self {
        Arc::make_mut(&mut self.cfg).bulk_queue_url = url.to_string();
        self.lazy = Arc::new(self.lazy.without_queues());
        self
    }

    /// Object storage (built on first use).
    pub fn s3(&self) -> Result<&aws_sdk_s3::Client, Unavailable> {
        if !self.clients.s3 {
            return Err(Unavailable("object storage"));
        }
        Ok(self.lazy.s3.get_or_init(|| {
            aws_sdk_s3::Client::from_conf(
                aws_sdk_s3::config::Builder::from(self.sdk.as_ref())
                    .force_path_style(self.cfg.aws_endpoint.is_some())
                    .build(),
            )
        }))
    }

    /// The import queue (built on first use).
    pub fn import_queue(&self) -> Result<&ImportQueue, Unavailable> {
        if !self.clients.import_queue {
            return Err(Unavailable("the import queue"));
        }
        Ok(self
            .lazy
            .import_queue
            .get_or_init(|| ImportQueue::new(self.sqs().clone(), &self.cfg.import_queue_url)))
    }

    /// The standard queue of import file arrivals (S3 notifications; built on first
    /// use, with the import queue).
    pub fn import_events_queue(&self) -> Result<&SqsQueue, Unavailable> {
        if !self.clients.import_queue {
            return Err(Unavailable("the import events queue"));
        }
        Ok(self
            .lazy
            .import_events
            .get_or_init(|| SqsQueue::new(self.sqs().clone(), &self.cfg.import_events_queue_url)))
    }

    /// The bulk-move queue (built on first use).
    pub fn bulk_queue(&self) -> Result<&BulkQueue, Unavailable> {
        if !self.clients.bulk_queue {
            return Err(Unavailable("the bulk-move queue"));
        }
        Ok(self
            .lazy
            .bulk_queue
            .get_or_init(|| BulkQueue::new(self.sqs().clone(), &self.cfg.bulk_queue_url)))
    }

    /// The carrier gateway, when this function uses it and it is configured (built on
    /// first use, its app secret read then).
    /// The envelope sealing payment configurations' secrets (KMS key
    /// `CMP_PAYMENT_KMS_KEY`), built on first use.
    pub fn envelope(&self) -> &Envelope {
        self.lazy.envelope.get_or_init(|| {
            Envelope::new(
                aws_sdk_kms::Client::new(&self.sdk),
                &self.cfg.payment_kms_key,
            )
        })
    }

    /// The payment configurations' secrets this process has opened.
    pub fn opened_configs(&self) -> &OpenedConfigs {
        &self.lazy.opened
    }

    /// The audit-log queue (`CMP_AUDIT_QUEUE_URL`), built on first use.
    pub fn audit_queue(&self) -> &SqsQueue {
        self.lazy
            .audit_queue
            .get_or_init(|| SqsQueue::new(self.sqs().clone(), &self.cfg.audit_queue_url))
    }

    /// Job queue `q` (its URL from `CMP_<NAME>_QUEUE_URL`; empty when not configured,
    /// so a send fails with the SDK's error).
    pub fn job_queue(&self, q: JobQueue) -> SqsQueue {
        let url = self
            .cfg
            .job_queue_urls
            .get(q.name())
            .map_or("", String::as_str);
        SqsQueue::new(self.sqs().clone(), url)
    }

    /// Job queue `q`'s dead-letter queue, when its URL is configured (the monitoring
    /// and the alert check read its depth).
    pub fn job_dlq(&self, q: JobQueue) -> Option<SqsQueue> {
        let url = self.cfg.job_dlq_urls.get(q.name())?;
        Some(SqsQueue::new(self.sqs().clone(), url))
    }

    /// This state with job queue `q`'s dead-letter queue at `url` (tests and the local
    /// stack).
    pub fn with_job_dlq_url(mut self, q: JobQueue, url: &str) -> Self {
        Arc::make_mut(&mut self.cfg)
            .job_dlq_urls
            .insert(q.name(), url.to_string());
        self
    }

    /// This state with job queue `q` at `url` (tests and the local stack).
    pub fn with_job_queue_url(mut self, q: JobQueue, url: &str) -> Self {
        Arc::make_mut(&mut self.cfg)
            .job_queue_urls
            .insert(q.name(), url.to_string());
        self
    }

    /// This state with the audit-log queue at `url` (tests and the local stack).
    pub fn with_audit_queue_url(mut self, url: &str) -> Self {
        Arc::make_mut(&mut self.cfg).audit_queue_url = url.to_string();
        self.lazy = Arc::new(self.lazy.without_queues());
        self
    }

    pub async fn gateway(&self) -> Result<Option<&GatewayClient>, KeysUnavailable> {
        if !self.clients.gateway || self.cfg.gateway_url.is_none() {
            return Ok(None);
        }
        let values = self.secret_values().await?;
        Ok(self
            .keys
            .gateway
            .get_or_init(|| async { gateway_client(&self.cfg, &values.gateway_app, &self.clock) })
            .await
            .as_ref())
    }
}

/// Refuses a JWT key shorter than [`MIN_JWT_SECRET_BYTES`].
fn check_jwt_secret(secret: &str) -> Result<(), KeysUnavailable> {
    if secret.len() < MIN_JWT_SECRET_BYTES {
        return Err(KeysUnavailable(format!(
            "the JWT secret (CMP_JWT_SECRET_ID or CMP_JWT_SECRET) must be at least \
             {MIN_JWT_SECRET_BYTES} bytes"
        )));
    }
    Ok(())
}

impl LazyClients {
    /// The same clients without the queue handles (their URLs changed); the SQS
    /// client itself is kept.
    fn without_queues(&self) -> Self {
        Self {
            s3: kept(&self.s3),
            sqs: kept(&self.sqs),
            import_queue: OnceLock::new(),
            import_events: OnceLock::new(),
            bulk_queue: OnceLock::new(),
            envelope: kept(&self.envelope),
            audit_queue: OnceLock::new(),
            opened: self.opened.clone(),
        }
    }
}

/// A copy of `cell` (built or not).
fn kept<T: Clone>(cell: &OnceLock<T>) -> OnceLock<T> {
    let fresh = OnceLock::new();
    if let Some(v) = cell.get() {
        let _ = fresh.set(v.clone());
    }
    fresh
}

/// The SDK timeout configuration of `ms` (every client built from the SDK
/// configuration inherits it).
pub fn timeouts(ms: SdkTimeoutsMs) -> aws_config::timeout::TimeoutConfig {
    use std::time::Duration;
    aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(Duration::from_millis(ms.connect))
        .operation_attempt_timeout(Duration::from_millis(ms.attempt))
        .operation_timeout(Duration::from_millis(ms.operation))
        .build()
}

/// SDK configuration for a local endpoint with dummy credentials.
fn local_sdk(endpoint: &str) -> aws_config::SdkConfig {
    use aws_sdk_dynamodb::config::{BehaviorVersion, Credentials, Region};
    let creds = Credentials::new("test", "test", None, None, "local");
    aws_config::SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .timeout_config(timeouts(LOCAL_SDK_TIMEOUTS_MS))
        .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(
            creds,
        ))
        .build()
}

/// The gateway client for `cfg`, or `None` when no gateway is configured (its
/// features then answer `1110`).
fn gateway_client(cfg: &Config, app_secret: &str, clock: &Clock) -> Option<GatewayClient> {
    let url = cfg.gateway_url.as_ref()?;
    let crypto = AesEcbMd5::new(app_secret)
        .map_err(|e| tracing::error!(error = %e, "gateway disabled"))
        .ok()?;
    let gcfg = GatewayConfig {
        base_url: url.clone(),
        app_id: cfg.gateway_app_id.clone(),
        attempt_timeout: std::time::Duration::from_millis(cfg.gateway_timeout_ms as u64),
        max_retries: GATEWAY_MAX_RETRIES,
    };
    GatewayClient::new(gcfg, Arc::new(crypto), clock.clone())
        .map_err(|e| tracing::error!(error = %e, "gateway disabled: no HTTP client"))
        .ok()
}
