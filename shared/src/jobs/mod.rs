//! Background job handlers (SQS, schedules): imports, bulk moves, sweeps. Each is invoked by its Lambda binary
//! and, locally, by the dev server.

pub mod alert_webhooks;
pub mod audit_writer;
pub mod bulk;
pub mod bulk_sweeper;
pub mod grant_sweeper;
pub mod import;
pub mod import_sweeper;
pub mod payment_expiry;
pub mod polling_alerts;
pub mod sqs;
