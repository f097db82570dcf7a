//! Use cases: each module combines domain rules and the store for one aggregate and
//! has its own error type, mapped to a business code by [`BusinessError`].

pub mod accounts;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod cards;
pub mod carriers;
pub mod devices;
pub mod enterprises;
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
}
