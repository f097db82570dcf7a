//! Background job handlers (SQS, schedules). Each is invoked by its Lambda binary
//! and, locally, by the dev server.

pub mod grant_sweeper;
pub mod import;
pub mod import_sweeper;
pub mod sqs;
