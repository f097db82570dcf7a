//! How value types that serde carries as a plain integer or string (`try_from`,
//! `into`) appear in the OpenAPI document: their wire form, not their Rust shape.

use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::openapi::RefOr;

/// An integer taking one of `values`.
pub fn integer_enum(values: &[i64], description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some(values.iter().copied()))
        .description(Some(description))
        .into()
}

/// A string taking one of `values`.
pub fn string_enum(values: &[&str], description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(values.iter().copied()))
        .description(Some(description))
        .into()
}

/// A string matching `pattern` (an ECMA regular expression, empty for none).
pub fn string(pattern: &str, description: &str) -> RefOr<Schema> {
    let schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description));
    let schema = if pattern.is_empty() {
        schema
    } else {
        schema.pattern(Some(pattern))
    };
    schema.into()
}

/// A non-negative integer.
pub fn unsigned(description: &str) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .minimum(Some(0))
        .description(Some(description))
        .into()
}

/// Implements `ToSchema` for a type from one of this module's schema builders:
/// `wire_schema!(Type, integer_enum(&[1, 2], "…"))`.
#[macro_export]
macro_rules! wire_schema {
    ($ty:ty, $builder:ident($($arg:expr),* $(,)?)) => {
        impl utoipa::PartialSchema for $ty {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::domain::wire::$builder($($arg),*)
            }
        }
        impl utoipa::ToSchema for $ty {}
    };
}

/// An enum carried as an integer: serde through `i64`, `TryFrom<i64>`, `From<_> for
/// i64`, and its OpenAPI schema (the values with their names).
#[macro_export]
macro_rules! int_enum {
    ($(#[$doc:meta])* $name:ident { $($(#[$vdoc:meta])* $variant:ident = $value:expr),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
        #[serde(try_from = "i64", into = "i64")]
        pub enum $name { $($(#[$vdoc])* $variant = $value),* }

        impl TryFrom<i64> for $name {
            type Error = String;
            fn try_from(v: i64) -> Result<Self, String> {
                match v {
                    $($value => Ok(Self::$variant),)*
                    _ => Err(format!("invalid {} value {v}", stringify!($name))),
                }
            }
        }

        impl From<$name> for i64 {
            fn from(v: $name) -> i64 { v as i64 }
        }

        $crate::wire_schema!($name, integer_enum(
            &[$($value),*],
            concat!($(stringify!($value), " = ", stringify!($variant), "; "),*),
        ));
    };
}
