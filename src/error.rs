//! The one error type of the library.
//!
//! Every failure carries an [`ErrorKind`] (which maps one-to-one onto the C ABI's status codes,
//! DESIGN §9) and a message that names the item, cart or parameter at fault. Messages never
//! contain a secret: the code that builds them only ever sees cart names and ids, never configs.

use std::fmt;

/// What kind of failure happened; decides the C status code a host sees. In JSON (the
/// controller status's `last_error_kind`) it is written in snake case: `invalid_argument`,
/// `not_found`, `refused`, `cancelled`, `busy`, `database`, `network`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// Malformed or out-of-range input: bad JSON, an unknown parameter or value, delta 0,
    /// an unknown reason, a URL that is not http(s).
    InvalidArgument,
    /// The SKU, cart or record named does not exist.
    NotFound,
    /// A well-formed request that the store's state forbids (manual sync while real-time is
    /// on, adjusting a product that has variants, a `qoh` for an existing item, …).
    Refused,
    /// A progress callback asked to stop; the partial report is kept. The C ABI's
    /// `INVSYNC_CANCELLED` only: in Rust, [`crate::Store::send_qoh`] and
    /// [`crate::Store::get_qoh`] return `Ok` with the report's `cancelled` set, so a Rust host
    /// checks that field and never sees this kind from them.
    Cancelled,
    /// The store file stayed locked by another writer past the busy timeout, or a manual run
    /// (Send or Get QOH, a drift repair) holds the cart the call needs.
    Busy,
    /// The store file could not be read or written.
    Database,
    /// No request reached the cart at all.
    Network,
}

impl ErrorKind {
    /// Whether the same call, made again later unchanged, may succeed: [`ErrorKind::Busy`]
    /// (another writer held the store past the busy timeout, or a Send QOH, Get QOH or drift
    /// repair holds the cart: wait and call again) and [`ErrorKind::Network`] (no request
    /// reached the cart, so nothing was applied there): the call may be made again as it was
    /// (what a manual run settled before it failed stays settled, and an
    /// [`crate::Adjustment`] retried under its [`crate::Adjustment::host_ref`] is applied at
    /// most once whatever happened).
    ///
    /// The others are not: the input ([`ErrorKind::InvalidArgument`]), the store's state
    /// ([`ErrorKind::NotFound`], [`ErrorKind::Refused`]) or the caller
    /// ([`ErrorKind::Cancelled`]) must change first, and a [`ErrorKind::Database`] error (a
    /// full disk, a damaged file) needs the owner. Inside a host transaction, check
    /// [`crate::Store::in_host_transaction`] before calling again: a store failure may have
    /// rolled the transaction back.
    pub fn is_retryable(self) -> bool {
        matches!(self, ErrorKind::Busy | ErrorKind::Network)
    }
}

/// A failure with a message fit to show an operator.
#[derive(Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// The library's result type.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// A new error of `kind`; `message` must name what was wrong and hold no secret.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidArgument, message)
    }
    pub(crate) fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::NotFound, message)
    }
    pub(crate) fn refused(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Refused, message)
    }
    /// The kind, for matching and for the C status code.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
    /// The operator-facing message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.message)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ffi::ErrorCode;
        match &e {
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(f.code, ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) =>
            {
                Error::new(
                    ErrorKind::Busy,
                    "the store file is locked by another writer past the busy timeout",
                )
            }
            _ => Error::new(ErrorKind::Database, format!("store database error: {e}")),
        }
    }
}
