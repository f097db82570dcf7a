//! Use cases: each module combines domain rules and the store for one aggregate and
//! has its own error type, mapped to a business code by [`BusinessError`].

pub mod accounts;
pub mod asset_ops;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod cards;
pub mod carriers;
pub mod catalog;
pub mod devices;
pub mod enterprises;
pub mod grants;
pub mod imports;
pub mod org;
pub mod resolve;
pub mod roles;
pub mod shops;
pub mod storage;

use crate::codes::Code;

/// An error a use case can answer with: its business code decides the HTTP status.
pub trait BusinessError: std::error::Error {
    /// The business code for the envelope.
    fn code(&self) -> Code;

    /// Whether the message may be shown to the client. By default only for client
    /// errors (4xx); server errors answer the code's generic message and are logged.
    fn shows_message(&self) -> bool {
        !self.code().http_status().is_server_error()
    }
}
