//! Plumbing shared by the platform adapters: base URLs, HTTP clients, and exchanges that map
//! failures to [`CartError`] without ever quoting a credential.

use super::http_json::{
    describe, excerpt, read_body, status_error, status_error_with_body, transport_error,
    MAX_ANSWER_BYTES,
};
use super::{CartError, SendOutcome};
use crate::error::{Error, Result};
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use std::cell::Cell;
use std::time::Duration;

/// Parses and checks a cart's base URL (http or https, a host, no credentials, query or
/// fragment) and makes it end with `/`. `what` names the adapter in messages.
pub(crate) fn base_url(url: &str, what: &str) -> Result<Url> {
    let mut base = Url::parse(url.trim())
        .map_err(|e| Error::invalid(format!("{what} url is not a valid URL: {e}")))?;
    if !matches!(base.scheme(), "http" | "https") {
        return Err(Error::invalid(format!(
            "{what} url must use http or https, not `{}`",
            base.scheme()
        )));
    }
    if base.host_str().is_none_or(str::is_empty) {
        return Err(Error::invalid(format!("{what} url has no host")));
    }
    if base.password().is_some() || !base.username().is_empty() {
        return Err(Error::invalid(format!(
            "{what} url must not carry credentials; give them in the cart's own settings"
        )));
    }
    if base.query().is_some() || base.fragment().is_some() {
        return Err(Error::invalid(format!(
            "{what} url must not have a query (`?…`) or fragment (`#…`)"
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
    headers.insert(HeaderName::from_static(name), secret_value(value, what)?);
    Ok(())
}

/// A credential as a header value, marked sensitive.
pub(crate) fn secret_value(value: &str, what: &str) -> Result<HeaderValue> {
    if value.trim().is_empty() {
        // Sent, it would be an empty `Bearer`: leave the key out for a cart that needs none.
        return Err(Error::invalid(format!("{what}: the credential is empty")));
    }
    // As its UTF-8 bytes: since http 1.6 `from_str` takes ASCII only, and an `http_json`
    // plugin's token holding an `é` was sent, and worked, before (tests/secrets.rs). Control
    // characters (a line break above all) are still refused.
    let mut v = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| {
        Error::invalid(format!(
            "{what}: the credential holds characters not allowed in an HTTP header"
        ))
    })?;
    v.set_sensitive(true);
    Ok(v)
}

/// A numeric page cursor (`None`: the first page, `first`); one that does not parse is a
/// rejected request, quoted at most in part.
pub(crate) fn number_cursor<T: std::str::FromStr>(
    cursor: Option<&str>,
    first: T,
    what: &str,
) -> std::result::Result<T, CartError> {
    match cursor {
        None => Ok(first),
        Some(c) => c.parse().map_err(|_| {
            CartError::Rejected(format!("bad {what} cursor {}", excerpt(c.as_bytes())))
        }),
    }
}

/// The `Authorization` value of HTTP Basic for `credentials` (`user:password`).
pub(crate) fn basic_auth(credentials: &str) -> String {
    format!("Basic {}", base64(credentials.as_bytes()))
}

/// Standard base64 with padding (for the HTTP Basic header).
pub(crate) fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// How long an idle connection is kept for reuse: under the shortest keep-alive timeout of
/// common servers (Node's default is 5 s; reqwest's own default of 90 s outlives most).
const POOL_IDLE: Duration = Duration::from_secs(4);

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
        // A connection idle this long is not reused. Servers close idle keep-alive
        // connections (Node's, under Medusa and many plugins, after 5 s); a request written
        // into one as the server closes it gets no answer, a lost answer for a write.
        .pool_idle_timeout(POOL_IDLE)
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
/// first (it gets the status and headers; `None` keeps the standard mapping). A GET or HEAD
/// whose answer is lost changed nothing: [`CartError::Unavailable`] (see [`read_lost`]).
pub(crate) fn exchange(
    request: RequestBuilder,
    on_error: impl FnOnce(&Response) -> Option<CartError>,
) -> std::result::Result<(HeaderMap, Vec<u8>), CartError> {
    match exchange_keeping(request, on_error, None)? {
        Ok((_, headers, body)) => Ok((headers, body)),
        Err(refusal) => Err(refusal.error),
    }
}

/// A refusal [`exchange_keeping`] gives back with its body.
pub(crate) struct Refusal {
    /// The error [`exchange`] gives for it (quoting an excerpt of the body).
    pub error: CartError,
    /// The whole body (up to 64 KiB), where the reason may lie past the excerpt (a long SKU
    /// before it).
    pub body: String,
}

/// A 2xx answer: its status, headers and body.
pub(crate) type Answered = (StatusCode, HeaderMap, Vec<u8>);

/// [`exchange`], giving the status of a 2xx answer too (a 207 is no plain success), and
/// giving back an answer of status `keep` (after `on_error`) as a [`Refusal`] with its body.
pub(crate) fn exchange_keeping(
    request: RequestBuilder,
    on_error: impl FnOnce(&Response) -> Option<CartError>,
    keep: Option<StatusCode>,
) -> std::result::Result<std::result::Result<Answered, Refusal>, CartError> {
    exchange_noting(request, on_error, keep, &Cell::new(None))
}

/// How the body of a 2xx answer ended: what a write's read-back may conclude from a 2xx
/// whose body could not be used (cut short, not JSON, JSON of another shape).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyEnd {
    /// Read to the end its framing named (a `Content-Length` met, chunked's last chunk, or
    /// HTTP/2's end of stream): the server finished the answer.
    Whole,
    /// Read to where the connection closed, with no framing to say that was its end: an
    /// answer cut short looks the same.
    Unframed,
    /// Reading it failed part-way (the connection dropped or timed out, or the answer ran
    /// past [`MAX_ANSWER_BYTES`]): whoever sent it may not have finished.
    Cut,
}

/// What [`exchange_seen`] notes of a 2xx answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Seen {
    pub status: StatusCode,
    /// How its body ended.
    pub end: BodyEnd,
    /// Whether its `Content-Type` is JSON, as the carts' APIs send it before anything else
    /// of the answer (WordPress's REST server sets it before it runs the handler; Express's
    /// `res.json` with the body): a proxy's own page (HTML) is not the cart's answer.
    pub json: bool,
}

/// [`exchange`], noting in `answered` what came of a 2xx answer (left `None` for any other
/// answer, and where none came). A write's caller reads it when the 2xx could not be used:
/// the request reached the cart, which may have applied it.
pub(crate) fn exchange_seen(
    request: RequestBuilder,
    on_error: impl FnOnce(&Response) -> Option<CartError>,
    answered: &Cell<Option<Seen>>,
) -> std::result::Result<(HeaderMap, Vec<u8>), CartError> {
    match exchange_noting(request, on_error, None, answered)? {
        Ok((_, headers, body)) => Ok((headers, body)),
        Err(refusal) => Err(refusal.error),
    }
}

fn exchange_noting(
    request: RequestBuilder,
    on_error: impl FnOnce(&Response) -> Option<CartError>,
    keep: Option<StatusCode>,
    answered: &Cell<Option<Seen>>,
) -> std::result::Result<std::result::Result<Answered, Refusal>, CartError> {
    answered.set(None);
    let (client, request) = request.build_split();
    let request = request.map_err(transport_error)?;
    let read = matches!(*request.method(), Method::GET | Method::HEAD);
    let lost = |e: CartError| if read { read_lost(e) } else { e };
    let response = client
        .execute(request)
        .map_err(|e| lost(transport_error(e)))?;
    let status = response.status();
    if status.is_success() {
        let headers = response.headers().clone();
        let framed = response.version() >= reqwest::Version::HTTP_2
            || response.content_length().is_some()
            || headers
                .get_all(reqwest::header::TRANSFER_ENCODING)
                .iter()
                .any(|v| {
                    v.to_str()
                        .is_ok_and(|v| v.to_ascii_lowercase().contains("chunked"))
                });
        let read = read_body(response, MAX_ANSWER_BYTES);
        let end = match (&read, framed) {
            (Err(_), _) => BodyEnd::Cut,
            (Ok(_), true) => BodyEnd::Whole,
            (Ok(_), false) => BodyEnd::Unframed,
        };
        let json = headers
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                let v = v.to_ascii_lowercase();
                v.starts_with("application/json") || v.contains("+json")
            });
        answered.set(Some(Seen { status, end, json }));
        return read.map(|b| Ok((status, headers, b))).map_err(|e| {
            lost(CartError::Ambiguous(format!(
                "HTTP {status}: reading the answer failed: {e}"
            )))
        });
    }
    if let Some(e) = on_error(&response) {
        return Err(e);
    }
    if Some(status) == keep {
        let (error, body) = status_error_with_body(status, response);
        let body = String::from_utf8_lossy(&body).into_owned();
        return Ok(Err(Refusal { error, body }));
    }
    Err(status_error(status, response))
}

/// A read's lost answer (a time-out or dropped connection after sending it) as what it is:
/// nothing was applied, so try again later ([`CartError::Unavailable`]). As
/// [`CartError::Ambiguous`] it would make a controller mark a batch `uncertain`, and Send QOH
/// settle waiting sales with a count that never left (the read comes before the write).
pub(crate) fn read_lost(e: CartError) -> CartError {
    match e {
        CartError::Ambiguous(m) => CartError::Unavailable(format!("no answer to a read: {m}")),
        e => e,
    }
}

/// The `on_error` of a write that is not safe to send twice (a relative change without a key,
/// or the write of a read-add-write): a gateway that gave up waiting for the cart (502, 504,
/// Cloudflare's 520 and 524) cannot say whether the cart applied it, so the answer is lost
/// ([`CartError::Ambiguous`]: the controller marks the record `uncertain` instead of sending
/// it again), not a refusal to try later.
pub(crate) fn gateway_lost_answer(r: &Response) -> Option<CartError> {
    // (Cloudflare's 520: the origin reset the connection, or answered nothing it could
    // read, after taking the request.)
    matches!(r.status().as_u16(), 502 | 504 | 520 | 524).then(|| {
        CartError::Ambiguous(format!(
            "HTTP {}: a gateway gave up waiting for the cart, which may have applied the change",
            r.status()
        ))
    })
}

/// The `on_error` part, for a write without keys (a relative change the cart cannot
/// de-duplicate, or the write of a read-add-write), of a 303 See Other: the server processed
/// the request and points at its result (RFC 9110 §15.4.4: "an indirect response to the
/// original request"; a PHP framework's post-redirect-get), so the change may have been
/// applied ([`CartError::Ambiguous`]). Read as the other redirects are (a moved url, before
/// anything ran: the cart pauses), it was sent again once the owner updated the cart, and
/// applied twice (until 2026-12-05). A keyed write may pause: its re-send is answered from
/// the cart's memory.
pub(crate) fn see_other_lost_answer(r: &Response) -> Option<CartError> {
    (r.status() == StatusCode::SEE_OTHER).then(|| {
        CartError::Ambiguous(format!(
            "HTTP {}: the cart answered the write with a pointer to its result (redirects are \
             not followed), so it may have applied it; if every write is answered so, set the \
             cart's url to where it redirects",
            r.status()
        ))
    })
}

/// The JSON of an answer from a PHP shop or plugin (WooCommerce, an `http_json` plugin), read
/// past what PHP writes around it: byte-order marks (one per source file saved with one),
/// the notices and warnings a host showing PHP's errors (`display_errors` on) prints before
/// the JSON, each ending a line, and one printed after it (a shutdown hook's). Read as
/// malformed, every answer of such a shop was a lost answer or an outage for as long as it
/// printed them (until 2026-12-04). The body is tried whole first; then, where it opens with
/// JSON, its first value followed by a notice; where it does not (a broken answer is not read
/// from its middle), each of the first few lines that open a JSON value. The error is the
/// whole body's.
pub(crate) fn php_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> serde_json::Result<T> {
    const TRIED_LINES: usize = 16;
    let body = without_marks(body);
    let whole = serde_json::from_slice(body);
    if whole.is_ok() {
        return whole;
    }
    let opens_json = |s: &[u8]| {
        s.iter()
            .find(|b| !b.is_ascii_whitespace())
            .is_some_and(|b| matches!(b, b'{' | b'['))
    };
    if opens_json(body) {
        return value_then_notice(body).map_or(whole, Ok);
    }
    body.iter()
        .enumerate()
        .filter(|&(i, _)| i > 0 && body[i - 1] == b'\n')
        .map(|(i, _)| without_marks(&body[i..]))
        .filter(|line| matches!(line.first(), Some(b'{' | b'[')))
        .take(TRIED_LINES)
        .find_map(value_then_notice)
        .map_or(whole, Ok)
}

/// `s` without the byte-order marks it opens with.
fn without_marks(mut s: &[u8]) -> &[u8] {
    while let Some(rest) = s.strip_prefix("\u{feff}".as_bytes()) {
        s = rest;
    }
    s
}

/// The JSON value `s` opens with, where nothing follows it but blanks or what PHP prints (a
/// notice opening with `<` or a capital: `<br />`, `Warning:`, `PHP Notice:`).
fn value_then_notice<T: serde::de::DeserializeOwned>(s: &[u8]) -> Option<T> {
    let mut values = serde_json::Deserializer::from_slice(s).into_iter::<T>();
    let value = values.next()?.ok()?;
    match s[values.byte_offset()..]
        .iter()
        .find(|b| !b.is_ascii_whitespace())
    {
        Some(b) if *b != b'<' && !b.is_ascii_uppercase() => None,
        _ => Some(value),
    }
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
        // A rate limit is no attempt (rule 10); one that names no wait waits a second.
        CartError::RateLimited {
            retry_after,
            message,
        } => super::SendOutcome::Retry {
            message: format!("sku {sku}: rate limited: {message}"),
            after: Some(retry_after.unwrap_or(Duration::from_secs(1))),
        },
        CartError::Ambiguous(m) if !keyed => super::SendOutcome::Uncertain {
            message: format!("sku {sku}: no answer after sending: {m}"),
        },
        // Too large (413) even alone, or in a request of a call that could not be halved
        // (a later request of it): nothing applied, and a refusal of the request's size, not
        // of the item. Tried again as an outage's is, and bypassed after the attempts.
        CartError::Rejected(m) if too_large(e) => super::SendOutcome::Retry {
            message: format!(
                "sku {sku}: not applied, the request was too large for the cart's server (lower \
                 the cart's max_items_to_send, or raise the server's body limit): {m}"
            ),
            after: None,
        },
        CartError::Rejected(m) => super::SendOutcome::Failed {
            message: format!("sku {sku}: rejected: {m}"),
        },
        // Credentials refused on a later request of the call (a key revoked, or expired,
        // between two requests): no attempt either (rule 10). After the wait the cart's next
        // request meets the refusal first, which pauses the cart. (A cart that refuses only
        // some later request every time, a proxy refusing one body, is tried once a minute
        // and never paused: no attempt is counted, so its changes are never bypassed.)
        CartError::Unauthorized(m) => super::SendOutcome::Retry {
            message: format!("sku {sku}: not sent, the cart refused the credentials: {m}"),
            after: Some(Duration::from_secs(60)),
        },
        other => super::SendOutcome::Retry {
            message: format!("sku {sku}: {}", other.message()),
            after: None,
        },
    }
}

/// Whether a failed request of a multi-request write ends the call: a request that got no
/// answer from a cart whose writes are not safe to repeat. Its items may have been applied
/// and are uncertain; the requests after it are not sent, their items surely not applied
/// ([`not_sent`]), rather than sent one after another to a cart that may be gone, or given
/// the whole call's error, which would make them uncertain too though none left. (A call of
/// one request still gives its error for the whole call.)
pub(crate) fn ends_unkeyed_write(e: &CartError) -> bool {
    matches!(e, CartError::Ambiguous(_))
}

/// Whether a failed request of a multi-request write ends the call, the items not yet sent
/// given [`not_sent_after`]: a lost answer to an unkeyed write ([`ends_unkeyed_write`]), or
/// a rate limit, which every later request of the call would meet again (BigCommerce calls
/// an integration that meets consecutive 429s abusive, and may throttle it or take it off
/// the store; a quota is shared with the store's other apps).
pub(crate) fn ends_write(e: &CartError) -> bool {
    ends_unkeyed_write(e) || matches!(e, CartError::RateLimited { .. })
}

/// The outcome of an item not sent because `e` ended the call ([`ends_write`]): after a rate
/// limit, its wait (no attempt, as for the items of the request it refused).
pub(crate) fn not_sent_after(e: &CartError, sku: &str) -> SendOutcome {
    match e {
        CartError::RateLimited { .. } => outcome_for_failed_request(e, sku, false),
        _ => not_sent(sku),
    }
}

/// Whether a failed request of a multi-request write is the whole call's error: when it is
/// the first to fail before any answer and nothing else is at stake: it carried every item
/// of the call (`carried_all`: not only every item the adapter wrote, as items settled
/// before any write, an unknown SKU or a change held behind another of its record, are in
/// the call too), or its error applies nothing to any item and refuses none (an outage, a
/// rate limit, refused credentials: the whole call goes again). A lost answer
/// ([`ends_unkeyed_write`]) or a refusal ([`CartError::Rejected`]) of a request that did not
/// carry the whole call is its items' alone: as the call's, it made a change never sent
/// uncertain, or bypassed it (until 2026-12-03).
pub(crate) fn fails_whole_call(e: &CartError, first: bool, carried_all: bool) -> bool {
    first && (carried_all || !(ends_unkeyed_write(e) || matches!(e, CartError::Rejected(_))))
}

/// What an absolute write came to when the cart answered it with an error only once it was
/// done with it (Medusa's 500 after its workflow ended, undo included; WordPress's 500 after
/// PHP died part-way through a batch), judged by the count read back afterwards: `Ok(())`
/// where the count written stands; not applied ([`SendOutcome::Retry`]) where the count read
/// before it does; otherwise in doubt. `answer` names the error for the message; `None` is
/// no count kept (for `before`, none before the write). A change in the cart between the
/// error and the read (a few milliseconds) that takes the count back to the one read before
/// reads as not applied, and the write goes again on top: the window of DESIGN §4's
/// read-add-write, which these carts have at every write.
pub(crate) fn after_failed_write(
    sku: &str,
    answer: &str,
    written: i64,
    before: Option<i64>,
    now: Option<i64>,
) -> std::result::Result<(), SendOutcome> {
    let count = |c: Option<i64>| c.map_or("no count".to_owned(), |c| c.to_string());
    match now {
        Some(n) if n == written => Ok(()),
        now if now == before => Err(SendOutcome::Retry {
            message: format!(
                "sku {sku}: not applied: the cart answered {answer}, and it still shows {}",
                count(before)
            ),
            after: None,
        }),
        now => Err(SendOutcome::Uncertain {
            message: format!(
                "sku {sku}: the cart answered {answer}; wrote {written} over {} and read back {}; left for the drift report",
                count(before),
                count(now)
            ),
        }),
    }
}

/// A count as a cart may write it: `9`; `9.0` (PHP's `json_encode` of a float, JavaScript's
/// numbers: JSON itself does not tell them apart); or text, `"9"` or `"9.0000"` (PHP code
/// handing on a database field, a DECIMAL column). `Err`: a count with a fraction. `None`: no
/// count (null, not a number, or past what a double holds exactly).
pub(crate) fn whole_count(v: &serde_json::Value) -> Option<std::result::Result<i64, f64>> {
    const EXACT: f64 = 9_007_199_254_740_992.0;
    if let Some(n) = v.as_i64() {
        return Some(Ok(n));
    }
    let f = match v {
        serde_json::Value::String(t) => match t.trim().parse::<i64>() {
            Ok(n) => return Some(Ok(n)),
            Err(_) => t.trim().parse::<f64>().ok()?,
        },
        v => v.as_f64()?,
    };
    if !f.is_finite() || f.abs() > EXACT {
        return None;
    }
    Some(match f.fract() == 0.0 {
        true => Ok(f as i64),
        false => Err(f),
    })
}

/// Why an item's count `value` (in the cart's field `field`) cannot be read, as each adapter
/// lists it in [`super::CataloguePage::unreadable`]: the field and the value as the cart wrote
/// it. The cause alone: Get QOH, the drift report and the preflight each add what they did.
pub(crate) fn unreadable_count(field: &str, value: &serde_json::Value) -> String {
    format!(
        "{field} {} is not a whole number",
        super::http_json::truncate(&value.to_string())
    )
}

/// Whether `e` is a 413 (Payload Too Large): the cart, or a proxy or firewall before it
/// (nginx's `client_max_body_size`, 1 MB by default; ModSecurity's request body limit, 128 KB),
/// refused the request for its size and processed none of it. Fewer items a request pass.
pub(crate) fn too_large(e: &CartError) -> bool {
    matches!(e, CartError::Rejected(m) if m.starts_with("HTTP 413"))
}

/// `send` for `items` in one request, or, where the cart answers 413 ([`too_large`]), in
/// halves, each halved again while it is refused so, down to one item (refused alone, it is
/// tried again later, and bypassed after the attempts, its message naming the setting). A
/// 413 applies nothing, so the halves carry what the refused request did, under the same
/// keys. Refused for good, a store whose `max_items_to_send` put more in one request than
/// the cart's server takes had every sale of every such batch bypassed at once (until
/// 2026-12-05). `keyed`: whether a half's lost answer may go again
/// ([`outcome_for_failed_request`]).
///
/// The contract of a call holds: an error is the whole call's only where nothing of it was
/// applied (the first half met it before any answer, and it applies nothing:
/// [`fails_whole_call`]); otherwise each item gets its half's outcome, and after a lost
/// answer or a rate limit ([`ends_write`]) the items not sent wait ([`not_sent_after`]).
pub(crate) fn halving_on_too_large<T>(
    items: &[T],
    sku: &impl Fn(&T) -> &str,
    keyed: bool,
    send: &mut impl FnMut(&[T]) -> std::result::Result<Vec<SendOutcome>, CartError>,
) -> std::result::Result<Vec<SendOutcome>, CartError> {
    let failed = |e: &CartError, part: &[T]| -> Vec<SendOutcome> {
        part.iter()
            .map(|i| outcome_for_failed_request(e, sku(i), keyed))
            .collect()
    };
    match send(items) {
        Err(e) if too_large(&e) && items.len() > 1 => {}
        // One item alone too large: tried again, bypassed after the attempts, as an item of
        // a larger call is ([`outcome_for_failed_request`]), not at once as a refusal.
        Err(e) if too_large(&e) => return Ok(failed(&e, items)),
        answer => return answer,
    }
    let (first, second) = items.split_at(items.len().div_ceil(2));
    let mut out = match halving_on_too_large(first, sku, keyed, send) {
        Ok(out) => out,
        Err(e) if fails_whole_call(&e, true, false) => return Err(e),
        Err(e) => {
            let mut out = failed(&e, first);
            if ends_write(&e) {
                out.extend(second.iter().map(|i| not_sent_after(&e, sku(i))));
                return Ok(out);
            }
            out
        }
    };
    match halving_on_too_large(second, sku, keyed, send) {
        Ok(rest) => out.extend(rest),
        Err(e) => out.extend(failed(&e, second)),
    }
    Ok(out)
}

/// The outcome of an item whose request was not sent (see [`ends_unkeyed_write`]).
pub(crate) fn not_sent(sku: &str) -> SendOutcome {
    SendOutcome::Retry {
        message: format!("sku {sku}: not sent: a request before it in the same call got no answer"),
        after: None,
    }
}

/// A call's answer with `secrets` scrubbed ([`scrub`]) from its error's message or from
/// every outcome's: for an adapter that knows credentials the registry does not (Medusa's
/// session JWTs), or that an integrator may use alone (`http_json`).
pub(crate) fn scrub_answer(
    r: std::result::Result<Vec<super::SendOutcome>, CartError>,
    secrets: &[impl AsRef<str>],
) -> std::result::Result<Vec<super::SendOutcome>, CartError> {
    Ok(r.map_err(|e| e.map_message(|m| scrub(m, secrets)))?
        .into_iter()
        .map(|o| o.map_message(|m| scrub(m, secrets)))
        .collect())
}

/// The three calls of [`CartAdapter`](super::CartAdapter) made through the adapter's own
/// `raw_*` methods, with `$secrets` (an expression of `$self`'s credentials) scrubbed from
/// what they return ([`scrub_answer`]): a cart, or a proxy before it, may quote a credential
/// back, and an integrator may use the adapter alone, without the registry's scrubbing.
macro_rules! scrubbed_calls {
    ($self:ident => $secrets:expr) => {
        fn apply_deltas(
            &$self,
            deltas: &[$crate::adapter::DeltaSend],
        ) -> std::result::Result<Vec<$crate::adapter::SendOutcome>, $crate::adapter::CartError> {
            $crate::adapter::common::scrub_answer($self.raw_apply_deltas(deltas), &$secrets)
        }
        fn set_quantities(
            &$self,
            sets: &[$crate::adapter::QuantitySet],
        ) -> std::result::Result<Vec<$crate::adapter::SendOutcome>, $crate::adapter::CartError> {
            $crate::adapter::common::scrub_answer($self.raw_set_quantities(sets), &$secrets)
        }
        fn fetch_quantities(
            &$self,
            cursor: Option<&str>,
            limit: u32,
        ) -> std::result::Result<$crate::adapter::QuantityPage, $crate::adapter::CartError> {
            $self
                .raw_fetch_quantities(cursor, limit)
                .map_err(|e| e.map_message(|m| $crate::adapter::common::scrub(m, &$secrets)))
        }
    };
}
pub(crate) use scrubbed_calls;

/// Each `(sku, why)` of a page's [`super::CataloguePage::unreadable`], its reason
/// [`scrub`]bed: a reason quotes what the cart wrote, which may quote its credentials.
pub(crate) fn scrub_reasons(
    reasons: Vec<(String, String)>,
    secrets: &[impl AsRef<str>],
) -> Vec<(String, String)> {
    reasons
        .into_iter()
        .map(|(sku, why)| (sku, scrub(why, secrets)))
        .collect()
}

/// `text` without any of `secrets` (those of 4 characters or more; shorter ones would garble
/// messages and hide nothing): each replaced by `***`, whole or where an excerpt cut it, as
/// given or as a JSON answer quotes it ([`json_forms`]).
pub(crate) fn scrub(mut text: String, secrets: &[impl AsRef<str>]) -> String {
    for secret in secrets.iter().map(AsRef::as_ref).filter(|s| s.len() >= 4) {
        // Longest first: a form that holds another is replaced whole.
        let mut forms = json_forms(secret);
        forms.sort_by_key(|f| std::cmp::Reverse(f.len()));
        for s in &forms {
            if let Some(scrubbed) = replace_any_case(&text, s) {
                text = scrubbed;
            }
            text = scrub_cut(text, s);
        }
    }
    text
}

/// `secret` as given, and as a cart's JSON error body may quote it: string-escaped as
/// `serde_json` escapes it (`"`, `\`, control characters), and with `/` escaped as well: as
/// `\/`, which PHP's `json_encode` does by default (a WordPress plugin echoing `tok/SECRET`
/// sends `tok\/SECRET`), or as `\u002f`/`\u002F`. Without duplicates.
fn json_forms(secret: &str) -> Vec<String> {
    let escaped = serde_json::to_string(secret).expect("a string serialises");
    let escaped = escaped[1..escaped.len() - 1].to_owned();
    let mut forms = vec![secret.to_owned()];
    // As a URL or a form quotes it (`%2F` for `/`): a cart echoing the request line or a
    // query string.
    let percent: String = secret
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect();
    for form in [
        percent,
        escaped.clone(),
        escaped.replace('/', "\\/"),
        escaped.replace('/', "\\u002f"),
        escaped.replace('/', "\\u002F"),
    ] {
        if !forms.contains(&form) {
            forms.push(form);
        }
    }
    // PHP's `json_encode` (WordPress, WooCommerce plugins) escapes every non-ASCII character
    // as `\uXXXX` (UTF-16, surrogate pairs beyond the BMP), and `/` as `\/`, by default.
    if !secret.is_ascii() {
        for base in [escaped.clone(), escaped.replace('/', "\\/")] {
            for upper in [false, true] {
                let mut form = String::with_capacity(base.len() * 2);
                for c in base.chars() {
                    if c.is_ascii() {
                        form.push(c);
                    } else {
                        for unit in c.encode_utf16(&mut [0; 2]) {
                            form.push_str(&if upper {
                                format!("\\u{unit:04X}")
                            } else {
                                format!("\\u{unit:04x}")
                            });
                        }
                    }
                }
                if !forms.contains(&form) {
                    forms.push(form);
                }
            }
        }
    }
    forms
}

/// `text` with every occurrence of `pattern` in any ASCII case replaced by `***` (a server
/// that logs headers lower-cased quotes a token so), or `None` where there is none.
fn replace_any_case(text: &str, pattern: &str) -> Option<String> {
    // ASCII case folding moves no byte, so the places found in the folded text are the
    // same in `text`, on character boundaries.
    let (hay, needle) = (text.to_ascii_lowercase(), pattern.to_ascii_lowercase());
    let mut found = hay.match_indices(&needle).map(|(at, _)| at).peekable();
    found.peek()?;
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for at in found {
        out.push_str(&text[last..at]);
        out.push_str("***");
        last = at + needle.len();
    }
    out.push_str(&text[last..]);
    Some(out)
}

/// Replaces what is left of `secret` where an excerpt of a cart's answer cut it (`…`, as
/// [`super::http_json::truncate`] ends one): its first 4 or more characters before the mark.
pub(crate) fn scrub_cut(mut m: String, secret: &str) -> String {
    let mut from = 0;
    while let Some(at) = m[from..].find('…').map(|i| from + i) {
        let cut = secret
            .char_indices()
            .map(|(k, _)| k)
            .filter(|k| *k >= 4)
            .rev()
            .find(|k| m[..at].ends_with(&secret[..*k]));
        if let Some(k) = cut {
            m.replace_range(at - k..at, "***");
            from = at - k + "***".len() + '…'.len_utf8();
        } else {
            from = at + '…'.len_utf8();
        }
    }
    m
}

/// An item the cart has no `what` for: by its SKU, or by the `remote_ref` the owner set on it,
/// which the cart reads instead of the SKU (a product deleted or made again leaves it naming
/// nothing: the message says so, where "no product has this SKU" sent the owner to a SKU that
/// is right).
pub(crate) fn not_found(sku: &str, remote_ref: Option<&str>, what: &str) -> SendOutcome {
    let message = match remote_ref {
        Some(r) => format!(
            "sku {sku}: no {what} has the item's remote_ref {r:?} on this cart (deleted, or made \
             again under another id?): correct or clear the item's remote_ref"
        ),
        None => format!("sku {sku}: no {what} has this SKU (unknown SKU)"),
    };
    SendOutcome::Failed { message }
}

/// A change of `record` of the cart (a product, an inventory item) that another item of the
/// same call already changes (two store items reaching it, one by its SKU, one by a
/// reference): added to the one count read, its write would replace the first's, and a sale
/// be lost. It goes in a later call, which reads the count the first leaves.
pub(crate) fn sent_after_another(sku: &str, record: &str) -> SendOutcome {
    SendOutcome::Retry {
        message: format!(
            "sku {sku}: not applied: another item of this call changes {record} too; sent after it"
        ),
        after: None,
    }
}

/// A count for `record` of the cart that item `first` of the same Send QOH already sets (two
/// store items reaching it): the cart holds one count for both. The first's goes; this one
/// fails by name (both were written, the last standing, both reported set). See [`SetOnce`].
pub(crate) fn set_by_another(sku: &str, record: &str, first: &str) -> SendOutcome {
    SendOutcome::Failed {
        message: format!(
            "sku {sku}: {record} is also item {first}'s, and holds one count for the two: link \
             one of them to one of its own"
        ),
    }
}

/// The records of the cart an adapter's Send QOH (or drift repair) set, each with the SKU of
/// the store item whose count it took, from the run's start
/// ([`super::CartAdapter::begin_manual_run`], which calls [`SetOnce::clear`]): one run sets a
/// record once whatever the batch size. Checked per call, two items reaching one record in
/// two batches (batches of one item) each set it, the last standing, both reported set.
#[derive(Debug, Default)]
pub(crate) struct SetOnce(parking_lot::Mutex<std::collections::HashMap<String, String>>);

impl SetOnce {
    /// A new run: no record set yet.
    pub(crate) fn clear(&self) {
        self.0.lock().clear();
    }
    /// `None` where item `sku` may set `record` (the first to, or its own count sent again);
    /// otherwise why not ([`set_by_another`]; `what` names the record in it).
    pub(crate) fn claim(&self, record: &str, sku: &str, what: &str) -> Option<SendOutcome> {
        let mut set = self.0.lock();
        match set.get(record) {
            Some(first) if first != sku => Some(set_by_another(sku, what, first)),
            Some(_) => None,
            None => {
                set.insert(record.to_owned(), sku.to_owned());
                None
            }
        }
    }
}

/// How long an adapter keeps its [`PaddedIndex`]: a SKU the shop does not have, sent again
/// within it, costs no read of the shop's whole listing. A SKU padded meanwhile is found once
/// it is past, or from the next manual run.
pub(crate) const PADDED_INDEX_TTL: Duration = Duration::from_secs(300);

/// The shop's items whose SKU is padded with blanks, by the SKU trimmed ([`unpadded`]).
pub(crate) type PaddedSkus<T> = std::collections::HashMap<String, Vec<T>>;

/// `sku` trimmed, where it is padded with blanks (`TEE ` for TEE: imported past the shop's
/// own trimming) and not blank: the store item Get QOH reads it as.
pub(crate) fn unpadded(sku: &str) -> Option<&str> {
    let trimmed = sku.trim();
    (trimmed != sku && !trimmed.is_empty()).then_some(trimmed)
}

/// The shop's padded SKUs ([`PaddedSkus`]), read from its whole listing once and kept for
/// [`PADDED_INDEX_TTL`] and until the next manual run ([`PaddedIndex::forget`]). Get QOH reads
/// `TEE ` as the store's TEE, so TEE's changes must reach it; but the shops' SKU filters
/// compare exactly, and a store holds many items its shop does not sell: looking each SKU
/// the filter misses up on its own cost a request per such item per call (90,000 on a Send
/// QOH of a store of 100,000 items to a shop of 10,000), where this costs the listing's
/// pages once per [`PADDED_INDEX_TTL`].
pub(crate) struct PaddedIndex<T>(parking_lot::Mutex<KeptIndex<T>>);

struct KeptIndex<T> {
    /// How many times it was forgotten: a listing read across a forget (a manual run begun
    /// meanwhile, for which the owner may have just fixed the shop's SKUs) is not kept.
    forgotten: u64,
    /// When the listing was read, and its padded SKUs.
    read: Option<(std::time::Instant, PaddedSkus<T>)>,
}

impl<T> Default for PaddedIndex<T> {
    fn default() -> Self {
        PaddedIndex(parking_lot::Mutex::new(KeptIndex {
            forgotten: 0,
            read: None,
        }))
    }
}

impl<T: Clone> PaddedIndex<T> {
    /// The items listed padded as each of `skus` (a SKU without any is left out), and
    /// whether they were read by this call: the index kept, or where there is none younger
    /// than [`PADDED_INDEX_TTL`], the one `read` makes of the whole listing (without this
    /// index's lock held: a read of the listing is many requests).
    pub(crate) fn find(
        &self,
        skus: &[&str],
        read: impl FnOnce() -> std::result::Result<PaddedSkus<T>, CartError>,
    ) -> std::result::Result<(PaddedSkus<T>, bool), CartError> {
        let pick = |index: &PaddedSkus<T>| -> PaddedSkus<T> {
            skus.iter()
                .filter_map(|s| Some(((*s).to_owned(), index.get(*s)?.clone())))
                .collect()
        };
        let forgotten = {
            let kept = self.0.lock();
            if let Some((at, index)) = &kept.read {
                if at.elapsed() < PADDED_INDEX_TTL {
                    return Ok((pick(index), false));
                }
            }
            kept.forgotten
        };
        // Aged from the read's start: the shop may have changed while it went on.
        let started = std::time::Instant::now();
        let index = read()?;
        let found = pick(&index);
        let mut kept = self.0.lock();
        if kept.forgotten == forgotten {
            kept.read = Some((started, index));
        }
        Ok((found, true))
    }

    /// A manual run begins: the next lookup reads the listing afresh (the owner may just
    /// have fixed the shop's SKUs).
    pub(crate) fn forget(&self) {
        let mut kept = self.0.lock();
        kept.forgotten += 1;
        kept.read = None;
    }
}

/// A [`PaddedSkus`] read from a listing page by page: each item once by its id (a listing
/// read again from its first page answers items twice), and all dropped when the read starts
/// again (an item of the pass before may be deleted since, and would stay its SKU's twin).
pub(crate) struct PaddedListing<T> {
    index: PaddedSkus<T>,
    seen: std::collections::HashSet<String>,
}

impl<T> Default for PaddedListing<T> {
    fn default() -> Self {
        PaddedListing {
            index: PaddedSkus::new(),
            seen: Default::default(),
        }
    }
}

impl<T> PaddedListing<T> {
    /// The listing is read again from its first page.
    pub(crate) fn restart(&mut self) {
        self.index.clear();
        self.seen.clear();
    }

    /// Keeps the item listed as `sku` under `id` (one without an id is kept each time), made
    /// by `item`, where `sku` is padded ([`unpadded`]).
    pub(crate) fn add(&mut self, id: Option<&str>, sku: &str, item: impl FnOnce() -> T) {
        let Some(trimmed) = unpadded(sku) else {
            return;
        };
        if id.is_none_or(|id| self.seen.insert(id.to_owned())) {
            self.index
                .entry(trimmed.to_owned())
                .or_default()
                .push(item());
        }
    }

    pub(crate) fn done(self) -> PaddedSkus<T> {
        self.index
    }
}

/// (SKU, why no change of it is sent) for SKUs held padded on more than one item.
pub(crate) type PaddedTwins<'a> = Vec<(&'a str, String)>;

/// The SKUs of `found` (each with the items listed padded as it) held padded on one item
/// alone, with that item; and for each held on more, why no change of it is sent: `TEE ` and
/// ` TEE` (each named by `name`) are neither surely the item's, and Get QOH applies neither
/// count. `shop` says who holds them (`Medusa holds`), `item` what they are.
pub(crate) fn padded_split<'a, T>(
    found: impl IntoIterator<Item = (&'a str, &'a [T])>,
    shop: &str,
    item: &str,
    name: impl Fn(&T) -> String,
) -> (Vec<(&'a str, &'a T)>, PaddedTwins<'a>) {
    let (mut single, mut twins) = (Vec::new(), Vec::new());
    for (sku, items) in found {
        match items {
            [] => {}
            [one] => single.push((sku, one)),
            many => {
                let names: Vec<String> = many.iter().map(&name).collect();
                twins.push((
                    sku,
                    format!(
                        "sku {sku}: {shop} it padded with blanks on more than one {item} ({}), \
                         none of them surely the item's; nothing was sent: fix the shop's SKUs",
                        names.join(", ")
                    ),
                ));
            }
        }
    }
    (single, twins)
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

/// A variant's description as an order manager shows it: its product's name and its option
/// values, `T-shirt - M / Red` (the product's name alone where no value is given, the
/// values alone where the product has no name). For `CataloguePage::details`.
pub(crate) fn variant_description(product: &str, values: &[&str]) -> String {
    let values: Vec<&str> = values
        .iter()
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
        .collect();
    let product = product.trim();
    match (product.is_empty(), values.is_empty()) {
        (_, true) => product.to_owned(),
        (true, false) => values.join(" / "),
        (false, false) => format!("{product} - {}", values.join(" / ")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_rfc4648_vectors() {
        assert_eq!(base64(b""), "");
        assert_eq!(base64(b"f"), "Zg==");
        assert_eq!(base64(b"fo"), "Zm8=");
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"foobar"), "Zm9vYmFy");
    }

    #[test]
    fn a_secret_quoted_back_json_escaped_is_scrubbed() {
        let secrets = ["tok/SECRET/4711", "pa\\ss\"word"];
        for quoted in [
            r#"{"error":"invalid token tok\/SECRET\/4711"}"#,
            r#"{"error":"invalid token tok\u002FSECRET\u002F4711"}"#,
            r#"{"error":"invalid token tok\u002fSECRET\u002f4711"}"#,
            r#"{"error":"invalid token tok/SECRET/4711"}"#,
            r#"{"error":"bad pa\\ss\"word"}"#,
        ] {
            let out = scrub(quoted.to_owned(), &secrets);
            assert!(
                !out.contains("SECRET") && !out.contains("ss"),
                "{quoted} -> {out}"
            );
            assert!(out.contains("***"), "{out}");
        }
        // Cut by an excerpt while escaped.
        let out = scrub("invalid token tok\\/SECR…".to_owned(), &secrets);
        assert_eq!(out, "invalid token ***…");
    }

    /// A broken answer that opens with JSON is not read from a line in its middle: a batch
    /// answer cut after its first product read as that product alone would be an answer
    /// naming no item written (the write's fate then unknown), not a malformed one.
    #[test]
    fn only_a_prefix_that_is_not_json_is_skipped() {
        let cut = b"{\"update\":[\n{\"id\":5,\"stock_quantity\":9}";
        assert!(php_json::<serde_json::Value>(cut).is_err());
        let noticed = b"PHP Warning:  Undefined array key in x.php on line 3\n{\"a\":1}";
        assert_eq!(
            php_json::<serde_json::Value>(noticed).unwrap(),
            serde_json::json!({"a": 1})
        );
        // Two files' marks; a notice, then a mark; a notice after the answer (from a review).
        let a1 = serde_json::json!({"a": 1});
        for body in [
            "\u{feff}\u{feff}{\"a\":1}",
            "<br />\n<b>Notice</b>: x<br />\n\u{feff}{\"a\":1}",
            "{\"a\":1}\n<br />\n<b>Deprecated</b>: y in z.php<br />",
            "{\"a\":1}PHP Warning: y",
        ] {
            assert_eq!(
                php_json::<serde_json::Value>(body.as_bytes()).ok(),
                Some(a1.clone()),
                "{body}"
            );
        }
        // Two answers, or an answer and text that is not PHP's, are no answer.
        for body in ["{\"a\":1}{\"a\":2}", "{\"a\":1} trailing", "{\"a\":1}[1]"] {
            assert!(
                php_json::<serde_json::Value>(body.as_bytes()).is_err(),
                "{body}"
            );
        }
    }
}
