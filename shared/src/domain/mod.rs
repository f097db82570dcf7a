//! Pure types and rules: no I/O.

pub mod assets;
pub mod caller;
pub mod entities;
pub mod identifiers;
pub mod org;
pub mod password;
pub mod shop_path;
pub mod validate;
