//! Plumbing shared by the platform adapters: base URLs, HTTP clients, and exchanges that map
//! failures to [`CartError`] without ever quoting a credential.

use super::http_json::{describe, excerpt, status_error, transport_error};
use super::{CartError, SendOutcome};
use crate::error::{Error, Result};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::Url;
use std::time::Duration;

/// Parses and checks a cart's base URL (http or https, a host, no credentials, query or
/// fragment) and makes it end with `/`. `what` names the adapter in messages.
pub(crate) fn base_url(url: &str, what: &str) -> Result<Url> {
    let mut base = Url::parse(url.trim())
        .map_err(|e| Error::invalid(format!("{what} url is not a valid URL: {e}")))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(Error::invalid(format!("{what} url must use http or https")));
    }
    if base.host_str().map_or(true, str::is_empty) {
        return Err(Error::invalid(format!("{what} url has no host")));
    }
    if base.password().is_some() || !base.username().is_empty() {
        return Err(Error::invalid(format!(
            "{what} url must not carry credentials"
        )));
    }
    if base.query().is_some() || base.fragment().is_some() {
        return Err(Error::invalid(format!(
            "{what} url must not have a query or fragment"
        )));
    }
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    Ok(base)
}

/// A header holding a credential, marked sensitive (reqwest keeps it out of `Debug`).
pub(crate) fn secret_header(
    headers: &mut HeaderMap,
    name: &'static str,
    value: &str,
    what: &str,
) -> Result<()> {
    let mut v = HeaderValue::from_str(value).map_err(|_| {
        Error::invalid(format!(
            "{what}: the credential holds characters not allowed in an HTTP header"
        ))
    })?;
    v.set_sensitive(true);
    headers.insert(HeaderName::from_static(name), v);
    Ok(())
}

/// One blocking client with the credential headers, no redirects, and `timeout` per request.
pub(crate) fn client(headers: HeaderMap, timeout: Duration, what: &str) -> Result<Client> {
    if timeout.is_zero() {
        return Err(Error::invalid(format!(
            "{what} timeout must be more than 0"
        )));
    }
    Client::builder()
        .default_headers(headers)
        .timeout(timeout)
        .connect_timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .tcp_nodelay(true)
        .build()
        .map_err(|e| {
            Error::invalid(format!(
                "{what}: could not build the HTTP client: {}",
                describe(e)
            ))
        })
}

/// Sends `request`; a 2xx answer comes back as (response headers, body), anything else as the
/// whole-request failure. `on_error` may turn a non-2xx answer into a platform-specific error
/// first (it gets the status and headers; `None` keeps the standard mapping).
pub(crate) fn exchange(
    request: RequestBuilder,
    on_error: impl FnOnce(&Response) -> Option<CartError>,
) -> std::result::Result<(HeaderMap, Vec<u8>), CartError> {
    let response = request.send().map_err(transport_error)?;
    let status = response.status();
    if status.is_success() {
        let headers = response.headers().clone();
        return response
            .bytes()
            .map(|b| (headers, b.to_vec()))
            .map_err(|e| {
                CartError::Ambiguous(format!(
                    "HTTP {status}: reading the answer failed: {}",
                    describe(e)
                ))
            });
    }
    if let Some(e) = on_error(&response) {
        return Err(e);
    }
    Err(status_error(status, response))
}

/// The body excerpt of a JSON answer that could not be understood.
pub(crate) fn malformed(what: &str, e: impl std::fmt::Display, body: &[u8]) -> String {
    format!("{what}: malformed answer: {e}; body: {}", excerpt(body))
}

/// What a later request of a multi-request call tells its items when it fails after earlier
/// requests applied: the controller then retries only these.
pub(crate) fn outcome_for_failed_request(
    e: &CartError,
    sku: &str,
    keyed: bool,
) -> super::SendOutcome {
    match e {
        CartError::RateLimited {
            retry_after,
            message,
        } => super::SendOutcome::Retry {
            message: format!("sku {sku}: rate limited: {message}"),
            after: *retry_after,
        },
        CartError::Ambiguous(m) if !keyed => super::SendOutcome::Uncertain {
            message: format!("sku {sku}: no answer after sending: {m}"),
        },
        CartError::Rejected(m) => super::SendOutcome::Failed {
            message: format!("sku {sku}: rejected: {m}"),
        },
        other => super::SendOutcome::Retry {
            message: format!("sku {sku}: {}", other.message()),
            after: None,
        },
    }
}

/// The outcomes of a call that fills them in item by item: an item left without one (which
/// would be a bug in the adapter) is retried rather than allowed to panic the controller.
pub(crate) fn outcomes(out: Vec<Option<SendOutcome>>) -> Vec<SendOutcome> {
    out.into_iter()
        .map(|o| {
            o.unwrap_or_else(|| SendOutcome::Retry {
                message: "the adapter gave no outcome for this item".into(),
                after: None,
            })
        })
        .collect()
}
