//! Clients of external services, each speaking the real wire protocol.

pub mod gateway;
