//! Secrets Manager: the JWT signing key, the carrier gateway's app secret and the
//! bootstrap super-admin password are read at cold start (one call for all a function
//! needs) and kept for the environment's life; they never sit in environment
//! variables or templates.

use std::collections::HashMap;

use aws_sdk_secretsmanager::error::DisplayErrorContext;

/// A secret could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    /// The call failed.
    #[error("secrets manager: {0}")]
    Call(String),
    /// A named secret is missing or has no string value.
    #[error("secret {0} not found or not a string")]
    Missing(String),
}

fn call_failed<E: std::error::Error + 'static>(e: E) -> SecretsError {
    SecretsError::Call(DisplayErrorContext(&e).to_string())
}

/// Handle on Secrets Manager.
#[derive(Clone, Debug)]
pub struct Secrets {
    client: aws_sdk_secretsmanager::Client,
}

impl Secrets {
    /// Secrets Manager through `client`.
    pub fn new(client: aws_sdk_secretsmanager::Client) -> Self {
        Self { client }
    }

    /// The values of `ids` (names or ARNs), read with one `BatchGetSecretValue`.
    pub async fn get_many(&self, ids: &[&str]) -> Result<HashMap<String, String>, SecretsError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let out = self
            .client
            .batch_get_secret_value()
            .set_secret_id_list(Some(ids.iter().map(|s| s.to_string()).collect()))
            .send()
            .await
            .map_err(call_failed)?;
        let mut found = HashMap::new();
        for v in out.secret_values() {
            let Some(value) = v.secret_string() else {
                continue;
            };
            for id in ids {
                if v.name() == Some(*id) || v.arn() == Some(*id) {
                    found.insert(id.to_string(), value.to_string());
                }
            }
        }
        match ids.iter().find(|id| !found.contains_key(**id)) {
            Some(missing) => Err(SecretsError::Missing(missing.to_string())),
            None => Ok(found),
        }
    }

    /// Creates or replaces secret `name` (the local stack seeds the emulator with it).
    pub async fn put(&self, name: &str, value: &str) -> Result<(), SecretsError> {
        let created = self
            .client
            .create_secret()
            .name(name)
            .secret_string(value)
            .send()
            .await;
        if let Err(e) = created {
            let exists = e
                .as_service_error()
                .is_some_and(|se| se.is_resource_exists_exception());
            if !exists {
                return Err(call_failed(e));
            }
            self.client
                .put_secret_value()
                .secret_id(name)
                .secret_string(value)
                .send()
                .await
                .map_err(call_failed)?;
        }
        Ok(())
    }
}
