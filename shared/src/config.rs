//! One typed configuration, read from the environment once per cold start.

use std::env;

/// Largest accepted request body by default (64 KiB).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// Lambda timeout of every function behind the HTTP API, in seconds: API Gateway HTTP
/// APIs give up on an integration after 30 s, so a function may use 29 s
/// (`template.yaml` states the same number).
pub const API_LAMBDA_TIMEOUT_SECS: u64 = 29;

/// Default per-attempt timeout of a carrier gateway call in ms
/// (`CMP_GATEWAY_TIMEOUT_MS`). One call: 3 attempts × 6 s + 0.1 s + 0.2 s back-off =
/// 18.3 s, which leaves the 29 s Lambda more than 10 s for its table calls.
pub const DEFAULT_GATEWAY_TIMEOUT_MS: i64 = 6000;

/// Retries of a gateway call after its first attempt (network errors and timeouts).
pub const GATEWAY_MAX_RETRIES: u32 = 2;

/// Least time a gateway-calling request keeps for its table calls, cold start and
/// response after the gateway's worst case, in seconds (a unit test checks that the
/// gateway's worst case plus this fits in [`API_LAMBDA_TIMEOUT_SECS`]).
pub const GATEWAY_TABLE_MARGIN_SECS: u64 = 8;

/// Connect timeout of every AWS SDK client on AWS (DynamoDB, S3, SQS, Secrets
/// Manager), in ms: a connection inside the region takes milliseconds.
pub const SDK_CONNECT_TIMEOUT_MS: u64 = 1000;

/// Timeout of one attempt of an AWS SDK call on AWS, in ms: DynamoDB, SQS and
/// Secrets Manager answer in milliseconds, S3 sends a GET's headers as fast; a stuck
/// attempt is abandoned and retried by the SDK (3 attempts in all).
pub const SDK_ATTEMPT_TIMEOUT_MS: u64 = 3000;

/// Timeout of a whole AWS SDK call on AWS, retries and back-off included, in ms.
/// S3 presigning makes no call and a GET's body is read after it; long polls set
/// their own (see `integrations::import_queue`).
pub const SDK_OPERATION_TIMEOUT_MS: u64 = 8000;

/// The same three timeouts against the local emulator, in ms: it serialises every
/// DynamoDB request behind one lock, so under parallel tests a call can queue behind
/// many others (still finite: a hung emulator fails a test instead of blocking it).
pub const LOCAL_SDK_TIMEOUTS_MS: SdkTimeoutsMs = SdkTimeoutsMs {
    connect: 2000,
    attempt: 30_000,
    operation: 90_000,
};

/// AWS SDK timeouts in ms.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SdkTimeoutsMs {
    /// Establishing a connection.
    pub connect: u64,
    /// One attempt of a call.
    pub attempt: u64,
    /// A whole call, retries included.
    pub operation: u64,
}

/// The SDK timeouts on AWS.
pub const SDK_TIMEOUTS_MS: SdkTimeoutsMs = SdkTimeoutsMs {
    connect: SDK_CONNECT_TIMEOUT_MS,
    attempt: SDK_ATTEMPT_TIMEOUT_MS,
    operation: SDK_OPERATION_TIMEOUT_MS,
};

/// Default back-off of a failed import message per receive, in seconds: 30 s, 60 s,
/// 90 s after the first three failures (the fourth sends it to the dead-letter queue).
pub const DEFAULT_IMPORT_RETRY_SECS: i64 = 30;

/// Longest back-off of a failed import message, in seconds.
pub const IMPORT_RETRY_MAX_SECS: i64 = 300;

/// Everything the functions need to know about their environment.
#[derive(Clone, Debug)]
pub struct Config {
    /// DynamoDB table holding every entity (`CMP_TABLE`).
    pub table: String,
    /// AWS endpoint override for the local emulator (`CMP_AWS_ENDPOINT`); `None` on AWS.
    pub aws_endpoint: Option<String>,
    /// AWS region (`AWS_REGION`, default `us-east-1`).
    pub region: String,
    /// HS256 secret for admin tokens, at least 32 bytes: read at cold start from the
    /// Secrets Manager secret `CMP_JWT_SECRET_ID` (or given as `CMP_JWT_SECRET` locally).
    pub jwt_secret: String,
    /// Secrets Manager secret holding the JWT key (`CMP_JWT_SECRET_ID`).
    pub jwt_secret_id: Option<String>,
    /// Admin access token lifetime in seconds (`CMP_ACCESS_TOKEN_TTL`, default 2 h).
    pub access_token_ttl: i64,
    /// Admin refresh token lifetime in seconds (`CMP_REFRESH_TOKEN_TTL`, default 7 days).
    pub refresh_token_ttl: i64,
    /// Absolute lifetime of a login session in seconds, however often it is refreshed
    /// (`CMP_SESSION_MAX_AGE`, default 30 days).
    pub session_max_age: i64,
    /// Whether responses carry the `x-ddb-calls` header (`CMP_EXPOSE_DDB_CALLS=1`; the
    /// dev server and tests set it, deployed functions do not).
    pub expose_ddb_calls: bool,
    /// Username of the bootstrap super admin (`CMP_SUPER_ADMIN_USERNAME`, default `admin`).
    pub super_admin_username: String,
    /// Password of the bootstrap super admin given directly (`CMP_SUPER_ADMIN_PASSWORD`,
    /// local use).
    pub super_admin_password: Option<String>,
    /// Secrets Manager secret holding the bootstrap password, read only while no super
    /// admin exists (`CMP_SUPER_ADMIN_SECRET_ID`); no bootstrap without one of the two.
    pub super_admin_secret_id: Option<String>,
    /// Failed logins allowed per username and client IP per window
    /// (`CMP_LOGIN_LIMIT_PER_USER`, default 10).
    pub login_limit_per_user: i64,
    /// Failed logins allowed per username from all IPs per window, a ceiling against
    /// distributed guessing (`CMP_LOGIN_LIMIT_PER_USERNAME`, default 100).
    pub login_limit_per_username: i64,
    /// Window of the failed-login limits in seconds (`CMP_LOGIN_USER_WINDOW`, default 900).
    pub login_user_window: i64,
    /// Login attempts allowed per client IP per window (`CMP_LOGIN_LIMIT_PER_IP`, default 60).
    pub login_limit_per_ip: i64,
    /// Window of the per-IP login limit in seconds (`CMP_LOGIN_IP_WINDOW`, default 60).
    pub login_ip_window: i64,
    /// Largest accepted request body in bytes (`CMP_MAX_BODY_BYTES`, default 64 KiB).
    pub max_body_bytes: usize,
    /// Bucket for uploads, imports and exports (`CMP_BUCKET`).
    pub bucket: String,
    /// FIFO queue of import chunks (`CMP_IMPORT_QUEUE_URL`).
    pub import_queue_url: String,
    /// Standard queue of the bucket's `s3:ObjectCreated:*` notifications under
    /// `imports/` (`CMP_IMPORT_EVENTS_QUEUE_URL`): an import file's arrival starts its
    /// task. The import worker consumes it with the import queue.
    pub import_events_queue_url: String,
    /// FIFO queue of bulk-move slices (`CMP_BULK_QUEUE_URL`).
    pub bulk_queue_url: String,
    /// Upload URLs one account may ask for per minute (`CMP_UPLOAD_URL_LIMIT`, default 30).
    pub upload_url_limit: i64,
    /// Largest accepted upload in bytes (`CMP_MAX_UPLOAD_BYTES`, default 50 MiB).
    pub max_upload_bytes: i64,
    /// Bytes of CSV processed per import chunk (`CMP_IMPORT_CHUNK_BYTES`, default 256 KiB).
    pub import_chunk_bytes: i64,
    /// Back-off of a failed import message per receive, in seconds
    /// (`CMP_IMPORT_RETRY_SECS`, default 30): the worker makes it visible again after
    /// this × its receive count, at most [`IMPORT_RETRY_MAX_SECS`].
    pub import_retry_secs: i64,
    /// Carrier gateway base URL (`CMP_GATEWAY_URL`); gateway features answer 1110 without it.
    pub gateway_url: Option<String>,
    /// Gateway app id (`CMP_GATEWAY_APP_ID`).
    pub gateway_app_id: String,
    /// Gateway app secret, at least 16 bytes: read at cold start from the Secrets
    /// Manager secret `CMP_GATEWAY_SECRET_ID` (or given as `CMP_GATEWAY_APP_SECRET`).
    pub gateway_app_secret: String,
    /// Secrets Manager secret holding the gateway app secret (`CMP_GATEWAY_SECRET_ID`).
    pub gateway_secret_id: Option<String>,
    /// Per-attempt gateway timeout on API routes in ms (`CMP_GATEWAY_TIMEOUT_MS`, default
    /// [`DEFAULT_GATEWAY_TIMEOUT_MS`]: three attempts plus back-off stay well inside
    /// API Gateway's 29 s).
    pub gateway_timeout_ms: i64,
    /// KMS key sealing payment configurations' secrets (`CMP_PAYMENT_KMS_KEY`: id,
    /// ARN or `alias/…`).
    pub payment_kms_key: String,
    /// WeChat Pay's API (`CMP_WECHAT_PAY_URL`; production by default, the fake locally).
    pub wechat_pay_url: String,
    /// The audit-log queue (`CMP_AUDIT_QUEUE_URL`).
    pub audit_queue_url: String,
    /// The standard queues of the background jobs, by [`JobQueue`] name
    /// (`CMP_<NAME>_QUEUE_URL`, e.g. `CMP_POLLING_CARDDATA_QUEUE_URL`).
    pub job_queue_urls: std::collections::BTreeMap<&'static str, String>,
    /// Their dead-letter queues, where the monitoring reads them
    /// (`CMP_<NAME>_DLQ_URL`, e.g. `CMP_POLLING_CARDDATA_DLQ_URL`).
    pub job_dlq_urls: std::collections::BTreeMap<&'static str, String>,
}

/// A standard SQS queue feeding a background job (polling, package lifecycle,
/// notifications, run-now tasks); each has its dead-letter queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum JobQueue {
    /// Real-name checks (J5).
    PollingRealname,
    /// Card data checks (J6).
    PollingCarddata,
    /// Package checks (J7).
    PollingPackage,
    /// Protect consistency checks (J8).
    PollingProtect,
    /// Queued main-package and first activations (J11, J12).
    PackageActivation,
    /// Alert notification deliveries (signed webhooks).
    AlertWebhooks,
    /// Run-now requests of scheduled work (data cleanup, data reset).
    Tasks,
    /// Commission calculations of paid orders (J14).
    CommissionCalculation,
}

impl JobQueue {
    /// Every job queue.
    pub const ALL: [JobQueue; 8] = [
        JobQueue::PollingRealname,
        JobQueue::PollingCarddata,
        JobQueue::PollingPackage,
        JobQueue::PollingProtect,
        JobQueue::PackageActivation,
        JobQueue::AlertWebhooks,
        JobQueue::Tasks,
        JobQueue::CommissionCalculation,
    ];

    /// The queue's name (the template's and the local stack's suffix).
    pub fn name(self) -> &'static str {
        match self {
            JobQueue::PollingRealname => "polling-realname",
            JobQueue::PollingCarddata => "polling-carddata",
            JobQueue::PollingPackage => "polling-package",
            JobQueue::PollingProtect => "polling-protect",
            JobQueue::PackageActivation => "package-activation",
            JobQueue::AlertWebhooks => "alert-webhooks",
            JobQueue::Tasks => "tasks",
            JobQueue::CommissionCalculation => "commission-calculation",
        }
    }

    /// The environment variable holding the queue's URL.
    pub fn env_var(self) -> String {
        format!(
            "CMP_{}_QUEUE_URL",
            self.name().replace('-', "_").to_ascii_uppercase()
        )
    }

    /// The environment variable holding its dead-letter queue's URL.
    pub fn dlq_env_var(self) -> String {
        format!(
            "CMP_{}_DLQ_URL",
            self.name().replace('-', "_").to_ascii_uppercase()
        )
    }
}

/// WeChat Pay's production API.
pub const WECHAT_PAY_PRODUCTION_URL: &str = "https://api.mch.weixin.qq.com";

/// A missing or malformed environment variable or secret.
#[derive(Debug, thiserror::Error)]
#[error("configuration error: {0}")]
pub struct ConfigError(pub String);

impl Config {
    /// Reads the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let jwt_secret = optional("CMP_JWT_SECRET").unwrap_or_default();
        Ok(Self {
            table: required("CMP_TABLE")?,
            aws_endpoint: optional("CMP_AWS_ENDPOINT"),
            region: optional("AWS_REGION").unwrap_or_else(|| "us-east-1".into()),
            jwt_secret,
            jwt_secret_id: optional("CMP_JWT_SECRET_ID"),
            access_token_ttl: number("CMP_ACCESS_TOKEN_TTL", 2 * 3600)?,
            refresh_token_ttl: number("CMP_REFRESH_TOKEN_TTL", 7 * 86400)?,
            session_max_age: number("CMP_SESSION_MAX_AGE", 30 * 86400)?,
            expose_ddb_calls: optional("CMP_EXPOSE_DDB_CALLS").is_some_and(|v| v == "1"),
            super_admin_username: optional("CMP_SUPER_ADMIN_USERNAME")
                .unwrap_or_else(|| "admin".into()),
            super_admin_password: optional("CMP_SUPER_ADMIN_PASSWORD"),
            super_admin_secret_id: optional("CMP_SUPER_ADMIN_SECRET_ID"),
            login_limit_per_user: number("CMP_LOGIN_LIMIT_PER_USER", 10)?,
            login_limit_per_username: number("CMP_LOGIN_LIMIT_PER_USERNAME", 100)?,
            login_user_window: number("CMP_LOGIN_USER_WINDOW", 900)?,
            login_limit_per_ip: number("CMP_LOGIN_LIMIT_PER_IP", 60)?,
            login_ip_window: number("CMP_LOGIN_IP_WINDOW", 60)?,
            max_body_bytes: number("CMP_MAX_BODY_BYTES", DEFAULT_MAX_BODY_BYTES as i64)? as usize,
            bucket: optional("CMP_BUCKET").unwrap_or_default(),
            import_queue_url: optional("CMP_IMPORT_QUEUE_URL").unwrap_or_default(),
            import_events_queue_url: optional("CMP_IMPORT_EVENTS_QUEUE_URL").unwrap_or_default(),
            bulk_queue_url: optional("CMP_BULK_QUEUE_URL").unwrap_or_default(),
            upload_url_limit: number("CMP_UPLOAD_URL_LIMIT", 30)?,
            max_upload_bytes: number("CMP_MAX_UPLOAD_BYTES", 50 * 1024 * 1024)?,
            import_chunk_bytes: number("CMP_IMPORT_CHUNK_BYTES", 256 * 1024)?,
            import_retry_secs: number("CMP_IMPORT_RETRY_SECS", DEFAULT_IMPORT_RETRY_SECS)?,
            gateway_url: optional("CMP_GATEWAY_URL"),
            gateway_app_id: optional("CMP_GATEWAY_APP_ID").unwrap_or_default(),
            gateway_app_secret: optional("CMP_GATEWAY_APP_SECRET").unwrap_or_default(),
            gateway_secret_id: optional("CMP_GATEWAY_SECRET_ID"),
            gateway_timeout_ms: number("CMP_GATEWAY_TIMEOUT_MS", DEFAULT_GATEWAY_TIMEOUT_MS)?,
            payment_kms_key: optional("CMP_PAYMENT_KMS_KEY").unwrap_or_default(),
            wechat_pay_url: optional("CMP_WECHAT_PAY_URL")
                .unwrap_or_else(|| WECHAT_PAY_PRODUCTION_URL.into()),
            audit_queue_url: optional("CMP_AUDIT_QUEUE_URL").unwrap_or_default(),
            job_queue_urls: JobQueue::ALL
                .iter()
                .filter_map(|q| optional(&q.env_var()).map(|url| (q.name(), url)))
                .collect(),
            job_dlq_urls: JobQueue::ALL
                .iter()
                .filter_map(|q| optional(&q.dlq_env_var()).map(|url| (q.name(), url)))
                .collect(),
        })
    }

    /// A configuration for tests and tools: the given table, local endpoint, defaults elsewhere.
    pub fn for_local(table: &str, endpoint: &str) -> Self {
        Self {
            table: table.into(),
            aws_endpoint: Some(endpoint.into()),
            region: "us-east-1".into(),
            jwt_secret: "local-development-secret-at-least-32-bytes".into(),
            jwt_secret_id: None,
            access_token_ttl: 2 * 3600,
            refresh_token_ttl: 7 * 86400,
            session_max_age: 30 * 86400,
            expose_ddb_calls: true,
            super_admin_username: "admin".into(),
            super_admin_password: None,
            super_admin_secret_id: None,
            login_limit_per_user: 10,
            login_limit_per_username: 100,
            login_user_window: 900,
            login_limit_per_ip: 60,
            login_ip_window: 60,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            bucket: String::new(),
            import_queue_url: String::new(),
            import_events_queue_url: String::new(),
            bulk_queue_url: String::new(),
            upload_url_limit: 30,
            max_upload_bytes: 50 * 1024 * 1024,
            import_chunk_bytes: 256 * 1024,
            // Tests and tools retry a failed import message after seconds, not minutes.
            import_retry_secs: 1,
            gateway_url: None,
            gateway_app_id: String::new(),
            gateway_app_secret: String::new(),
            gateway_secret_id: None,
            gateway_timeout_ms: DEFAULT_GATEWAY_TIMEOUT_MS,
            payment_kms_key: String::new(),
            wechat_pay_url: WECHAT_PAY_PRODUCTION_URL.into(),
            audit_queue_url: String::new(),
            job_queue_urls: Default::default(),
            job_dlq_urls: Default::default(),
        }
    }
}

fn optional(name: &str) -> Option<String> {
    env::var(name).ok().filter(|v| !v.is_empty())
}

/// Smallest accepted JWT signing key.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

fn required(name: &str) -> Result<String, ConfigError> {
    optional(name).ok_or_else(|| ConfigError(format!("{name} is not set")))
}

fn number(name: &str, default: i64) -> Result<i64, ConfigError> {
    match optional(name) {
        None => Ok(default),
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0)
            .ok_or_else(|| ConfigError(format!("{name} must be a positive integer, got {v:?}"))),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::integrations::gateway::client::worst_case;

    /// The block of the two-space-indented key `name` in the template (its lines up
    /// to the next key at that depth).
    fn resource(template: &str, name: &str) -> String {
        let head = format!("  {name}:");
        template
            .lines()
            .skip_while(|l| *l != head)
            .enumerate()
            .take_while(|(i, l)| *i == 0 || l.is_empty() || l.starts_with("   "))
            .map(|(_, l)| format!("{l}\n"))
            .collect()
    }

    #[test]
    fn a_gateway_call_at_worst_fits_the_lambda_budget_with_room_for_table_calls() {
        let attempt = Duration::from_millis(DEFAULT_GATEWAY_TIMEOUT_MS as u64);
        let gateway = worst_case(attempt, GATEWAY_MAX_RETRIES);
        // 3 attempts × 6 s + 100 ms + 200 ms back-off.
        assert_eq!(GATEWAY_MAX_RETRIES + 1, 3);
        assert_eq!(gateway, Duration::from_millis(18_300));
        let budget = Duration::from_secs(API_LAMBDA_TIMEOUT_SECS);
        let margin = Duration::from_secs(GATEWAY_TABLE_MARGIN_SECS);
        assert!(
            gateway + margin < budget,
            "{gateway:?} + {margin:?} >= {budget:?}"
        );
        // The margin holds at least one table call cut at its operation timeout, and
        // that timeout allows the SDK's retries of short attempts.
        assert!(Duration::from_millis(SDK_OPERATION_TIMEOUT_MS) <= margin);
        const { assert!(SDK_ATTEMPT_TIMEOUT_MS * 2 <= SDK_OPERATION_TIMEOUT_MS) };
        const { assert!(SDK_CONNECT_TIMEOUT_MS < SDK_ATTEMPT_TIMEOUT_MS) };
    }

    #[test]
    fn the_template_states_the_same_numbers() {
        let template = include_str!("../../template.yaml");
        let timeout = format!("Timeout: {API_LAMBDA_TIMEOUT_SECS}\n");
        for f in ["AdminDevicesFunction", "AdminAssetsFunction"] {
            let block = resource(template, f);
            assert!(block.contains(&timeout), "{f} must say {timeout}");
            assert!(block.contains("18.3 s"), "{f} must state the arithmetic");
        }
        let globals = resource(template, "Function");
        assert!(globals.contains(&format!("    {timeout}")), "{globals}");
        assert!(globals.contains(&format!(
            "CMP_GATEWAY_TIMEOUT_MS: '{DEFAULT_GATEWAY_TIMEOUT_MS}'"
        )));
        assert!(resource(template, "ImportWorkerFunction").contains("sqs:ChangeMessageVisibility"));
    }
}
