//! The CMP domain crate: pure rules (`domain`), DynamoDB access (`store`), use cases
//! (`services`) and the HTTP routers (`api`) that the Lambda binaries and the local
//! dev server serve.

pub mod api;
pub mod app;
pub mod auth;
pub mod clock;
pub mod codes;
pub mod config;
pub mod domain;
pub mod integrations;
pub mod jobs;
pub mod local;
pub mod paging;
pub mod services;
pub mod store;
pub mod telemetry;
