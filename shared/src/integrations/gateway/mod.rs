//! The carrier gateway (carrier-gateway.md). So far: its wire crypto.

pub mod client;
pub mod crypto;
pub mod fake;
pub mod types;
