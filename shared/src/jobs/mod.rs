//! Background job handlers (SQS, schedules): imports, bulk moves, sweeps. Each is invoked by its Lambda binary
//! and, locally, by the dev server.

pub mod alert_webhooks;
pub mod audit_writer;
pub mod bulk;
pub mod bulk_sweeper;
pub mod commission;
pub mod commission_sweeper;
pub mod data_cleanup;
pub mod data_reset;
pub mod grant_sweeper;
pub mod import;
pub mod import_sweeper;
pub mod package_activation;
pub mod package_activation_check;
pub mod passes;
pub mod payment_expiry;
pub mod polling;
pub mod polling_alerts;
pub mod sqs;
pub mod tasks;
