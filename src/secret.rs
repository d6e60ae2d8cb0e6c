//! Secrets (cart tokens, passwords) kept out of every `Debug`, log line, error and report.

use crate::error::{Error, Result};
use std::fmt;

/// A credential. Its `Debug` and `Display` print `***`; the value comes out only through
/// [`Secret::expose`], which adapters call when they build a request.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a credential given literally.
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// Reads a configured secret: a literal value, or `env:NAME` for an environment variable
    /// (so a config file can be shared without the credential in it). `field` names the
    /// config key in the error, never the value.
    pub fn from_config(field: &str, value: &str) -> Result<Self> {
        match value.strip_prefix("env:") {
            Some(name) => match std::env::var(name) {
                Ok(v) if v.trim().is_empty() => Err(Error::invalid(format!(
                    "{field}: environment variable {name} is empty"
                ))),
                Ok(v) => Ok(Secret(v)),
                Err(_) => Err(Error::invalid(format!(
                    "{field}: environment variable {name} is not set or not UTF-8"
                ))),
            },
            None => Ok(Secret(value.to_owned())),
        }
    }

    /// The credential itself, for building a request. Never log or format the result.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}
