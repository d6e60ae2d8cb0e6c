//! The [`CartAdapter`] trait: how the library talks to one web cart.
//!
//! An adapter owns the HTTP (or other) details of one cart and nothing else: it never retries
//! on its own and never touches the store. The stack controller owns retries, back-off, leases
//! and bookkeeping; manual sync owns batching. Every call answers with one [`SendOutcome`] per
//! input, in the same order, or with a [`CartError`] when the whole request failed.
//!
//! # Writing your own adapter
//!
//! ```
//! use inventory_sync::adapter::{
//!     CartAdapter, CartError, DeltaSend, QuantityPage, QuantitySet, SendOutcome, UpdateMode,
//! };
//! use std::collections::HashMap;
//! use std::sync::Mutex;
//!
//! /// A cart kept in memory: deduplicates by idempotency key, as a real cart should.
//! #[derive(Default)]
//! struct MemoryCart {
//!     qoh: Mutex<HashMap<String, i64>>,
//!     seen_keys: Mutex<std::collections::HashSet<String>>,
//! }
//!
//! impl CartAdapter for MemoryCart {
//!     fn update_mode(&self) -> UpdateMode {
//!         UpdateMode::RelativeKeyed
//!     }
//!     fn apply_deltas(&self, deltas: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
//!         let mut qoh = self.qoh.lock().unwrap();
//!         let mut seen = self.seen_keys.lock().unwrap();
//!         Ok(deltas
//!             .iter()
//!             .map(|d| {
//!                 if !seen.insert(d.key.clone()) {
//!                     return SendOutcome::Applied { qoh: qoh.get(&d.sku).copied() };
//!                 }
//!                 let q = qoh.entry(d.sku.clone()).or_insert(0);
//!                 *q += d.delta;
//!                 SendOutcome::Applied { qoh: Some(*q) }
//!             })
//!             .collect())
//!     }
//!     fn set_quantities(&self, sets: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
//!         let mut qoh = self.qoh.lock().unwrap();
//!         Ok(sets
//!             .iter()
//!             .map(|s| {
//!                 qoh.insert(s.sku.clone(), s.qoh);
//!                 SendOutcome::Applied { qoh: Some(s.qoh) }
//!             })
//!             .collect())
//!     }
//!     fn fetch_quantities(&self, _cursor: Option<&str>, _limit: u32) -> Result<QuantityPage, CartError> {
//!         let qoh = self.qoh.lock().unwrap();
//!         let mut items: Vec<(String, i64)> = qoh.iter().map(|(k, v)| (k.clone(), *v)).collect();
//!         items.sort();
//!         Ok(QuantityPage { items, next_cursor: None })
//!     }
//! }
//!
//! // Register it under an adapter name; carts whose JSON says `"adapter":"memory"` use it.
//! # fn main() -> inventory_sync::Result<()> {
//! # let dir = std::env::temp_dir().join(format!("invsync-doc-{}", std::process::id()));
//! # std::fs::create_dir_all(&dir).unwrap();
//! let store = inventory_sync::Store::open(dir.join("store.db"))?;
//! let cart = std::sync::Arc::new(MemoryCart::default());
//! let shared = cart.clone();
//! store.register_adapter("memory", move |_cart| Ok(shared.clone() as std::sync::Arc<dyn CartAdapter>));
//! store.upsert_cart_json(r#"{"name":"Mem","adapter":"memory",
//!     "capabilities":{"send":true,"get":true,"realtime":"attribute"}}"#)?;
//! # Ok(()) }
//! ```

pub mod bigcommerce;
pub(crate) mod common;
pub mod http_json;
pub mod medusa;
pub mod registry;
#[cfg(test)]
pub(crate) mod scripted;
pub mod shopify;
pub mod woocommerce;

use std::time::Duration;

/// The safest kind of update a cart offers for real-time deltas (DESIGN §4), best first.
///
/// The controller decides what to do after an ambiguous failure (a time-out or a dropped
/// connection after the request was sent) from this: a keyed cart is simply asked again with
/// the same key; an unkeyed relative cart is never blindly re-sent (the record becomes
/// `uncertain`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// Relative change with an idempotency key the cart de-duplicates.
    RelativeKeyed,
    /// Absolute compare-and-set: the adapter reads, then sets only if unchanged.
    CompareAndSet,
    /// Relative change the cart cannot de-duplicate.
    RelativeUnkeyed,
    /// Plain absolute set: read-modify-write with verify.
    Absolute,
}

/// One real-time change to send: the net change of the published count of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaSend {
    /// The random idempotency key of the send group; the same on every retry.
    pub key: String,
    /// The item's SKU in the order manager.
    pub sku: String,
    /// The cart's own reference for the item (web fields), when one is known.
    pub remote_ref: Option<String>,
    /// The signed change of the published count; never 0.
    pub delta: i64,
}

/// One absolute count to publish (Send QOH, drift repair).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantitySet {
    /// A random key for this set request.
    pub key: String,
    /// The item's SKU in the order manager.
    pub sku: String,
    /// The cart's own reference for the item, when one is known.
    pub remote_ref: Option<String>,
    /// The count to publish.
    pub qoh: i64,
    /// Compare-and-set: apply only if the cart's count is still this.
    pub expected: Option<i64>,
}

/// What became of one delta or set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// The cart has the change (or had it already: a duplicate key counts as applied).
    Applied {
        /// The cart's count afterwards, when it said.
        qoh: Option<i64>,
    },
    /// Try again later. With `after`, the cart asked to wait (a rate limit): the record waits
    /// that long and, as for a 429 (rule 10), no attempt is counted; without, the try counts
    /// as an attempt and the record backs off. For a set (Send QOH) it means the count was
    /// not applied: one that may have been is [`SendOutcome::Uncertain`], or Send QOH would
    /// leave the waiting records its count included to be sent on top of it.
    Retry {
        /// Why, as the cart said it (no secrets).
        message: String,
        /// The cart's requested wait, if any.
        after: Option<Duration>,
    },
    /// Retrying cannot help (unknown SKU, a rejected value, another 4xx).
    Failed {
        /// Why, as the cart said it (no secrets).
        message: String,
    },
    /// A compare-and-set found another count: nothing was written.
    Conflict {
        /// The cart's current count.
        current: i64,
    },
    /// The request may or may not have been applied and the cart cannot be asked.
    Uncertain {
        /// What is known.
        message: String,
    },
}

/// A failure of a whole request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CartError {
    /// No request reached the cart (refused connection, DNS, TLS, time-out before sending).
    Unreachable(String),
    /// The cart answered 5xx or otherwise said "later", or a read came back unreadable; the
    /// request did not apply.
    Unavailable(String),
    /// The request was sent but no answer came (time-out, dropped connection): it may have
    /// been applied.
    Ambiguous(String),
    /// 429 or a throttle: wait, this is no attempt.
    RateLimited {
        /// The cart's requested wait.
        retry_after: Option<Duration>,
        /// What the cart said.
        message: String,
    },
    /// 401/403: credentials are wrong; the cart is paused.
    Unauthorized(String),
    /// Another 4xx: permanent for the batch.
    Rejected(String),
}

impl CartError {
    /// The same error with its message passed through `f` (to scrub credentials from it).
    pub(crate) fn map_message(self, f: impl FnOnce(String) -> String) -> CartError {
        match self {
            CartError::Unreachable(m) => CartError::Unreachable(f(m)),
            CartError::Unavailable(m) => CartError::Unavailable(f(m)),
            CartError::Ambiguous(m) => CartError::Ambiguous(f(m)),
            CartError::RateLimited {
                retry_after,
                message,
            } => CartError::RateLimited {
                retry_after,
                message: f(message),
            },
            CartError::Unauthorized(m) => CartError::Unauthorized(f(m)),
            CartError::Rejected(m) => CartError::Rejected(f(m)),
        }
    }

    /// The operator-facing text (never a secret: adapters build these from status lines and
    /// the cart's own messages only).
    pub fn message(&self) -> String {
        match self {
            CartError::Unreachable(m) => format!("cart unreachable: {m}"),
            CartError::Unavailable(m) => format!("cart unavailable: {m}"),
            CartError::Ambiguous(m) => format!("no answer after sending: {m}"),
            CartError::RateLimited { message, .. } => format!("rate limited: {message}"),
            CartError::Unauthorized(m) => format!("not authorised: {m}"),
            CartError::Rejected(m) => format!("rejected: {m}"),
        }
    }
}

/// One page of a cart's catalogue counts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct QuantityPage {
    /// (SKU, published count) pairs.
    pub items: Vec<(String, i64)>,
    /// Where the next page starts; `None` on the last page.
    pub next_cursor: Option<String>,
}

/// The integrator's trait: one implementation per kind of cart.
///
/// Implementations must be `Send + Sync`: the controller calls different carts from different
/// threads at once (one cart is only ever called from one thread at a time by one controller,
/// but two controllers may call the same adapter instance).
///
/// A panic in an adapter registered with [`crate::Store::register_adapter`] is caught and
/// read as a lost answer: a batch of deltas that panics goes again item by item when the
/// mode makes that safe (`RelativeKeyed`, `CompareAndSet`; each item that panics again is a
/// counted try, bypassed after the tenth), and is uncertain otherwise; sets that panic are
/// in doubt; a read that panics fails Get QOH. Return a [`CartError`] instead where you can.
pub trait CartAdapter: Send + Sync {
    /// The safest update this cart offers for deltas; decides the handling of ambiguous
    /// failures.
    fn update_mode(&self) -> UpdateMode;
    /// Apply relative changes; one outcome per delta, in order.
    fn apply_deltas(&self, deltas: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError>;
    /// Set absolute counts; one outcome per set, in order.
    fn set_quantities(&self, sets: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError>;
    /// Read one page of the cart's counts, starting at `cursor` (`None` = the first page).
    fn fetch_quantities(&self, cursor: Option<&str>, limit: u32)
        -> Result<QuantityPage, CartError>;
}
