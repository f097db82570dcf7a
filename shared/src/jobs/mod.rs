//! Background job handlers (SQS, schedules). Each is invoked by its Lambda binary
//! and, locally, by the dev server.

pub mod import;
pub mod sqs;
