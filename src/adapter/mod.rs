//! The [`CartAdapter`] trait: how the library talks to one web cart.
//!
//! An adapter owns the HTTP (or other) details of one cart and nothing else: it leaves
//! retries to the controller (but for the two sends again below) and never touches the store. The stack controller owns retries, back-off, leases
//! and bookkeeping; manual sync owns batching. Within one call a built-in adapter sends again
//! only what the cart answered it did not process, never a write whose answer was lost: a
//! request refused as too large (413) goes again in smaller parts (below), and a Shopify
//! change Shopify answers that an earlier attempt under its key failed
//! (`PREVIOUS_ATTEMPT_FAILED`: nothing applied under it) goes again at once under the key's
//! next generation. (DESIGN §8 says adapters "never retry on their own"; these two apply nothing
//! twice and spare the item an attempt.)
//! A built-in adapter may also wait before a request to stay within the cart's published
//! budget (Shopify's cost, BigCommerce's quota): pacing, not a retry.
//!
//! # The contract of a call
//!
//! - **One [`SendOutcome`] per input, in the same order**, even for an item the cart skipped
//!   or left out of its answer (say [`SendOutcome::Retry`] or [`SendOutcome::Failed`] for
//!   it). Outcomes are matched to inputs by position only, so an answer of another length is
//!   read as a lost answer for the whole call (see [`UpdateMode`]).
//! - **A [`CartError`] means the whole call failed, and says what became of all of it**:
//!   every variant but [`CartError::Ambiguous`] promises that *nothing* in the call was
//!   applied. An adapter that makes several requests in one call must, once one of them was
//!   applied, answer `Ok` with per-item outcomes (the later items `Retry`, or `Uncertain`
//!   where a request's answer was lost) rather than return the later request's error: Send
//!   QOH would otherwise leave the applied counts' waiting records to be sent on top of them.
//! - **A write whose answer did not come back is [`CartError::Ambiguous`]** (or
//!   [`SendOutcome::Uncertain`] per item): a time-out after sending, a dropped connection, a
//!   2xx body that cannot be read, and a gateway's 502, 504 or 524 (the gateway gave up
//!   waiting for a cart that may have applied the change). Map them to `Unavailable` and a
//!   cart without keys is sent the change twice.
//! - **A panic is caught** (by the wrapper every registered adapter is called through) and
//!   read as a lost answer for the call: deltas are then handled as [`UpdateMode`] says;
//!   counts (`set_quantities`) go again one by one (an absolute count is safe to repeat), and
//!   each that is not then applied is in doubt (the call that panicked may have set it); a
//!   read (`fetch_quantities`, `fetch_catalogue`) fails Get QOH, while `describe` (the names
//!   of what Get QOH creates) only leaves those items uncreated, for a later run. `update_mode` is asked once, when the adapter
//!   is built; a panic there, or in the factory, is an error building it. A panic tells the
//!   operator less than a [`CartError`]; return one where you can.
//!
//! | the cart answered | return |
//! |---|---|
//! | 2xx, per-item results | `Ok`, one outcome per item |
//! | 400, 404, 422 for the whole request | [`CartError::Rejected`] (every record of the call is bypassed at once: prefer a per-item `Failed` where the cart names the item) |
//! | 413 (the request too large for the cart's server, or a proxy before it) | nothing was applied: send the items again in smaller requests (the built-in adapters halve the request until its parts pass; an item refused alone is [`SendOutcome::Retry`]), never a refusal that bypasses them |
//! | 401, 403 | [`CartError::Unauthorized`] |
//! | 429, a throttle, a 5xx with `Retry-After` | [`CartError::RateLimited`] with the cart's wait |
//! | 500, 503 from the cart itself | [`CartError::Unavailable`] (but a 500 to a write the cart saves item by item without a transaction, as WooCommerce's batch, may follow saved items: [`CartError::Ambiguous`], or read the counts back, as the WooCommerce adapter does after a 500 or a 503 naming no wait) |
//! | 502, 504, 524, a time-out or dropped connection after sending a write | [`CartError::Ambiguous`] |
//! | 303 See Other to a write without keys (the server processed it and points at its result) | [`CartError::Ambiguous`] (another 3xx, a moved url, pauses the cart: [`CartError::Unauthorized`]) |
//! | connection refused, DNS, TLS, a time-out before sending | [`CartError::Unreachable`] |
//! | a time-out or dropped connection after sending a read (a GET, a GraphQL query) | [`CartError::Unavailable`]: a read applies nothing, and a read before a write left the write unsent |
//!
//! # Writing your own adapter
//!
//! Three calls are required: [`CartAdapter::apply_deltas`], [`CartAdapter::set_quantities`]
//! and [`CartAdapter::fetch_quantities`] (with [`CartAdapter::update_mode`]). The others have
//! defaults: [`CartAdapter::fetch_catalogue`] (a page with what the listing says of its
//! items: variants' products, names, counts it cannot read), [`CartAdapter::describe`] (names
//! and products asked for the items Get QOH is about to create, for a cart whose listing
//! does not say them), [`CartAdapter::read_lag`] and [`CartAdapter::begin_manual_run`].
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
//!                 let Some(q) = qoh.get_mut(&d.sku) else {
//!                     // One outcome per input, even for an item the cart does not have.
//!                     return SendOutcome::Failed { message: format!("unknown SKU {}", d.sku) };
//!                 };
//!                 // A key seen before is a re-send of a change the cart has: applied.
//!                 if seen.insert(d.key.clone()) {
//!                     *q += d.delta;
//!                 }
//!                 SendOutcome::Applied { qoh: Some(*q) }
//!             })
//!             .collect())
//!     }
//!     fn set_quantities(&self, sets: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
//!         let mut qoh = self.qoh.lock().unwrap();
//!         Ok(sets
//!             .iter()
//!             .map(|s| match qoh.get_mut(&s.sku) {
//!                 None => SendOutcome::Failed { message: format!("unknown SKU {}", s.sku) },
//!                 // `expected` (a drift repair): a sale the cart made meanwhile is not
//!                 // overwritten; nothing is written.
//!                 Some(q) if s.expected.is_some_and(|e| e != *q) => {
//!                     SendOutcome::Conflict { current: *q }
//!                 }
//!                 Some(q) => {
//!                     *q = s.qoh;
//!                     SendOutcome::Applied { qoh: Some(s.qoh) }
//!                 }
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
//! # cart.qoh.lock().unwrap().insert("CAP".into(), 5);
//! # let set = |sku: &str, expected| QuantitySet {
//! #     key: "k1".into(), sku: sku.into(), remote_ref: None, qoh: 3, expected,
//! # };
//! # assert!(matches!(cart.set_quantities(&[set("CAP", Some(4))]).unwrap()[..],
//! #     [SendOutcome::Conflict { current: 5 }]));
//! # assert!(matches!(cart.set_quantities(&[set("NOPE", None)]).unwrap()[..],
//! #     [SendOutcome::Failed { .. }]));
//! # let delta = DeltaSend { key: "d1".into(), sku: "CAP".into(), remote_ref: None, delta: -1 };
//! # cart.apply_deltas(&[delta.clone()]).unwrap();
//! # cart.apply_deltas(&[delta]).unwrap();
//! # assert_eq!(cart.qoh.lock().unwrap()["CAP"], 4, "a re-sent key applies once");
//! # std::fs::remove_dir_all(&dir).ok();
//! # Ok(()) }
//! ```

pub mod bigcommerce;
pub(crate) mod common;
pub mod conformance;
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
/// The controller decides from this what may be sent again when it cannot know whether a
/// call landed: after its answer was lost ([`CartError::Ambiguous`]), an answer whose
/// outcomes do not match its items one for one, a panic in the adapter, or a lease that
/// lapsed while a controller was sending (it stopped or crashed). Only a `RelativeKeyed`
/// cart is asked again (under the same keys, which it de-duplicates; it is also the only
/// mode whose next batch is leased while a request is in flight). In every other mode the
/// re-send would read a count that may already hold the change and apply it again, so the
/// records become `uncertain` instead: an operator, or the drift report, decides. (An item
/// the adapter itself calls [`SendOutcome::Uncertain`] is uncertain in every mode: say
/// `Retry` for a keyed item that may go again.) Send QOH's absolute counts are safe to send
/// again in every mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateMode {
    /// Relative change with an idempotency key the cart de-duplicates: the cart's server
    /// remembers the keys it applied, whichever adapter instance, workstation or process
    /// sends one again (keys kept by the adapter de-duplicate nothing after a lost answer;
    /// `conformance::check_keys_across_adapters` tells). The only mode whose changes go
    /// again after a lost answer.
    RelativeKeyed,
    /// The adapter reads the count, then sets count + delta only if the cart still holds
    /// what it read (the cart compares). A cart that had changed answers
    /// [`SendOutcome::Conflict`]: nothing was written, and the change is tried again. A
    /// [`DeltaSend`] carries no expected count, so a re-send after a lost answer cannot tell
    /// the adapter's own earlier write from anyone else's: handled as unkeyed.
    CompareAndSet,
    /// Relative change the cart cannot de-duplicate.
    RelativeUnkeyed,
    /// Plain absolute set: the adapter reads the count, writes count + delta, and reads it
    /// back (verify): the count written is `Applied`; another (a sale the shop made after the
    /// write) is [`SendOutcome::Uncertain`], for the drift report. A sale the shop makes
    /// between the read and the write is overwritten: keep that to one request (read each
    /// request's counts just before it). For a cart that takes absolute counts only.
    Absolute,
}

impl UpdateMode {
    /// Whether a send that may have landed can go again as it is (see the type's doc).
    pub(crate) fn resends_safely(self) -> bool {
        self == UpdateMode::RelativeKeyed
    }
}

/// One real-time change to send: the net change of the published count of one item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeltaSend {
    /// The random idempotency key of this item's change: unique among a call's items, and
    /// the same on every re-send of it, by any controller, however late (a lease taken over
    /// after a crash, an operator's retry days later). A keyed cart must remember the keys it
    /// applied at least that long, and must not remember a key it refused.
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
        /// The cart's count afterwards, when it said: text only, in the record's Last
        /// Response and its history, never compared with the store's count nor applied to
        /// it (a check of it is the adapter's own, as the built-in `Absolute` adapters
        /// verify their deltas).
        qoh: Option<i64>,
    },
    /// Try again later. With `after`, the cart asked to wait (a rate limit): the record waits
    /// that long (at least a second: a wait of 0 would be asked again at once) and, as for a
    /// 429 (rule 10), no attempt is counted; without, the try counts
    /// as an attempt and the record backs off. It means the change was not applied: one that
    /// may have been is [`SendOutcome::Uncertain`]. A delta to a cart without keys would
    /// otherwise be applied twice; for a set (Send QOH), the waiting records its count
    /// included would be sent on top of it. (A keyed cart's `Retry` may follow a lost answer:
    /// its change goes again under its key.) To a cart without keys, a change answered
    /// `Retry` without a wait goes again with the item's changes made since, netted in: a
    /// sale a cart cannot take below 0 goes with the correction the import of its own order
    /// brings ([`crate::stack::Verdict::Refused`]).
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
    /// A compare-and-set found another count: nothing was written. From `apply_deltas` (a
    /// [`UpdateMode::CompareAndSet`] cart) the change is tried again, reading afresh; from a
    /// drift repair's set (`expected`), the item is reported and left as the cart has it.
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
    /// The cart itself answered 5xx or otherwise said "later", or a read came back
    /// unreadable or not at all: nothing in the call was applied. Not for a gateway's 502/504/524 after a
    /// write, nor for an unreadable answer to one: those are [`CartError::Ambiguous`].
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
    /// 401/403: credentials are wrong; or a setting the cart says it cannot serve, which only
    /// the owner can fix (Medusa: a stock location it does not have, a login URL that is not
    /// its). The cart is paused for `RetryMaxMs` (at least a second) and then tried again, or
    /// at once when the cart is updated; no attempt counts.
    Unauthorized(String),
    /// Another 4xx: permanent for the call; every record in it is bypassed at once.
    Rejected(String),
}

impl SendOutcome {
    /// Whether a keyed cart's outcome for an item (`None`: the item left out of the answer)
    /// leaves its change possibly on the cart though the answer does not say it is: an item
    /// left out, one in doubt, or a `Retry` naming no wait, which a keyed adapter gives the
    /// items of a later request of the call whose answer was lost
    /// ([`common::outcome_for_failed_request`]). The controller and Send QOH's keyed re-send
    /// mark such a change (see [`crate::stack::Transition::Pending`]).
    pub(crate) fn keyed_answer_lost(outcome: Option<&SendOutcome>) -> bool {
        matches!(
            outcome,
            None | Some(SendOutcome::Uncertain { .. } | SendOutcome::Retry { after: None, .. })
        )
    }

    /// The same outcome with its message, if it has one, passed through `f` (to scrub
    /// credentials from it).
    pub(crate) fn map_message(self, f: impl FnOnce(String) -> String) -> SendOutcome {
        match self {
            SendOutcome::Retry { message, after } => SendOutcome::Retry {
                message: f(message),
                after,
            },
            SendOutcome::Failed { message } => SendOutcome::Failed {
                message: f(message),
            },
            SendOutcome::Uncertain { message } => SendOutcome::Uncertain {
                message: f(message),
            },
            other => other,
        }
    }
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

/// One page of a cart's catalogue for *Get QOH*: its counts, and the product each variant it
/// lists belongs to, where the cart says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CataloguePage {
    /// The counts, as [`CartAdapter::fetch_quantities`] answers them.
    pub counts: QuantityPage,
    /// (variant SKU, its product's SKU) for the SKUs of `counts` the cart lists as variants
    /// of a product that has a SKU of its own. Get QOH's `create_new` makes such a SKU a
    /// variant of that product (created too, without stock, where the store lacks it), rather
    /// than an item of its own, which could not be moved under its product afterwards.
    pub products: Vec<(String, String)>,
    /// (SKU, why) for variants the cart has but lists no count of (the `shopify` adapter's
    /// variants not stocked at the cart's location). Get QOH applies nothing for them and,
    /// unless the listing counts the SKU elsewhere, lists each in its `not_applied` with the
    /// reason, so the owner sees it; the drift report lists it in `unlisted` and, with the
    /// reason, in `unlisted_why`, and the preflight's `unmapped` warning of it gives the
    /// reason (from 2026-12-05). Build the page with `..Default::default()`.
    pub unlisted: Vec<(String, String)>,
    /// (SKU, why) for entries the cart lists with a count that cannot be read (text that is
    /// no number, a fraction, none at all), left out of `counts`; `why` is the cause alone
    /// (the field and the value as the cart wrote it: `stock_quantity "n/a" is not a whole
    /// number`), each report adding what it did and what to do (until 2026-12-05 the adapters
    /// added Get QOH's "not applied", which the two reports repeated of counts they only
    /// compare). Get QOH applies nothing for
    /// them (nor another listing of the same SKU) and lists each in its `not_applied`, the
    /// store's SKU or not, while the rest of the listing is applied; the drift report lists
    /// each of the store's in its `unreadable`, neither compared nor repaired, and the
    /// preflight warns of it (kind `unreadable`). Failing the whole page
    /// instead stopped every count of the catalogue for one bad entry, with an error naming
    /// the answer's body rather than the SKU (the `http_json` adapter until 2026-12-05).
    pub unreadable: Vec<(String, String)>,
    /// (SKU, description, attributes) for SKUs of `counts`, and for products named in
    /// `products`, as the cart names them: the description the product's name (a variant's:
    /// its product's name and its own title or option values, `T-shirt - M / Red`), the
    /// attributes a variant's (option name, value) pairs (`[("Size","M"),("Colour","Red")]`).
    /// Get QOH's `create_new` gives them to the items it creates, so that new products pulled
    /// from the cart are not nameless records the owner must describe by hand (until
    /// 2026-12-05 every item it made had description `""` and attributes `{}`); an item the
    /// store has keeps its own. Text is taken as the store takes a host's, cleaned rather than
    /// refused: control characters, line separators and bidirectional overrides become
    /// spaces, a description or an attribute's name or value is cut at 255 bytes (on a
    /// character boundary), an attribute without a name is
    /// left out, as is a name given twice (the first is kept). A SKU given twice takes its
    /// first entry. Leave it empty where the cart says nothing of its products.
    pub details: Vec<ItemDetails>,
}

/// What a cart says of one SKU, for [`CataloguePage::details`]: (SKU, description, (option
/// name, value) pairs).
pub type ItemDetails = (String, String, Vec<(String, String)>);

/// The integrator's trait: one implementation per kind of cart.
///
/// Implementations must be `Send + Sync`: calls come from many threads, and may overlap.
/// Each controller pass calls a cart from a thread of its own, one request at a time; but
/// two controllers (two workstations, or a background one beside `run_stack`) may call the
/// same instance at once, and a preflight or drift report reads it while a controller sends.
/// The factory given to [`crate::Store::register_adapter`] is called for every manual run,
/// preflight and drift report, and by each controller whenever the cart's definition
/// changed; keep it cheap, and keep state that must outlive a call (a cache of the cart's
/// ids) outside the adapter, or shared through an `Arc` the factory hands out.
///
/// See [the module docs](self) for what a call must answer, and how panics are read.
pub trait CartAdapter: Send + Sync {
    /// The safest update this cart offers for deltas; decides the handling of ambiguous
    /// failures. It must always answer the same.
    fn update_mode(&self) -> UpdateMode;
    /// Apply relative changes; one outcome per delta, in order.
    fn apply_deltas(&self, deltas: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError>;
    /// Set absolute counts; one outcome per set, in order.
    fn set_quantities(&self, sets: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError>;
    /// Read one page of the cart's counts, starting at `cursor` (`None` = the first page).
    ///
    /// `limit` (500 today) is a hint: a page may hold more or fewer. The cursor is yours and
    /// opaque to the library; a cursor that comes back again, 10,000 empty pages in a row, or
    /// 100 pages in a row each naming a next one but listing only SKUs listed before (a cart
    /// that ignores the cursor), ends the run with an error (Get QOH applies no count of a
    /// listing it did not read to its end). SKUs are the order
    /// manager's, matched exactly (case counts) after trimming blanks (where a cart lists
    /// both " P" and "P", the preflight and the drift report keep " P" apart); a SKU listed
    /// twice (or padded and not) is applied by Get QOH at neither place, and listed. A count that would take the item's
    /// QOH outside 32 bits is listed as not applied. A negative count is taken as it is: the
    /// item's QOH goes below 0, and while `SynchQOH` and the cart's real-time sync are on,
    /// the difference to the count it should show (0) is queued to it.
    fn fetch_quantities(&self, cursor: Option<&str>, limit: u32)
        -> Result<QuantityPage, CartError>;
    /// A Send QOH or a drift repair starts with this adapter, holding the cart (a preflight
    /// or a report alone, which hold nothing, do not call it): what an adapter keeps for one
    /// run starts afresh (the built-in adapters note
    /// the cart records a Send QOH sets, so that two items reaching one record are found
    /// whatever the batch size). The registry builds an adapter for each run, but a factory
    /// may hand out one it keeps. The default does nothing.
    fn begin_manual_run(&self) {}
    /// How long after the cart took a change its reads may still answer the count from
    /// before it. Get QOH moves the store's QOH by how far the cart's count moved from what
    /// it was shown, so a read that does not yet hold a sale the controller just sent
    /// (shown 4, read 5) gives a unit the store sold back to it, and the shop can oversell.
    /// An item the store sent a change or a count to within this long before a page of
    /// counts was asked for (and five minutes more, for the clocks of the workstations that
    /// date the changes) is not applied by Get QOH (listed in its `not_applied`, to be
    /// read again later), nor compared or repaired by the drift report.
    ///
    /// Declare the longest delay the cart's documentation admits between a write's answer
    /// and reads that show it (an asynchronous inventory service, a search index or a cache
    /// the listing is read from); the built-in BigCommerce adapter declares one. The default,
    /// zero, is for a cart whose reads show every write they answered, as the library's other
    /// built-in adapters are taken to. Asked once, when the adapter is built.
    fn read_lag(&self) -> Duration {
        Duration::ZERO
    }
    /// [`Self::fetch_quantities`] with the product each variant listed belongs to, and the
    /// entries listed with a count that cannot be read: Get QOH, the drift report and the
    /// preflight read the catalogue through this (the latter two through
    /// `fetch_quantities` until 2026-12-05). The default says none: an adapter that knows its
    /// variants' products, or lists counts it cannot read, answers them here.
    fn fetch_catalogue(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<CataloguePage, CartError> {
        Ok(CataloguePage {
            counts: self.fetch_quantities(cursor, limit)?,
            ..Default::default()
        })
    }
    /// What the cart says of `skus`, asked only by Get QOH with `create_new`, after each page
    /// of [`Self::fetch_catalogue`] and before any count is applied, for the SKUs of that page
    /// it may create (those the store lacks and the page did not describe in
    /// [`CataloguePage::details`]), as they were listed: their [`CataloguePage::details`]
    /// (for products named too), and (variant SKU, its product's SKU) pairs as
    /// [`CataloguePage::products`] has them. Get QOH takes them as if the page had said them
    /// (what the page said comes first).
    ///
    /// For a cart whose listing does not name its items, where naming them costs requests that
    /// a drift report, a preflight or a Get QOH creating nothing should not pay: the
    /// `bigcommerce` adapter makes one catalogue read per 250 products here, where earlier on
    /// 2026-12-05 it made them for every page of every listing. An adapter may keep what its
    /// listing learnt (a product id per SKU) for it: Get QOH calls it on the instance that
    /// listed the page. A SKU may be asked about that Get QOH then does not create (one
    /// deleted from the store while the cart showed it, one differing from an item's only in
    /// case or accents, or in characters that do not show); none is asked about while the cart has items linked by `remote_ref` (Get QOH
    /// creates nothing then).
    ///
    /// An `Err` (or a panic) never fails Get QOH: the counts of the store's items are applied,
    /// and the SKUs asked about are not created (made without knowing, a variant would be an
    /// item of its own, which cannot be moved under its product afterwards): each is listed in
    /// `not_applied`, the report's `undescribed` says why, and a later Get QOH creates them. A rate limit
    /// is waited out as the listing's are. The default says nothing, for a cart whose
    /// listing says all it has.
    fn describe(&self, skus: &[&str]) -> Result<Described, CartError> {
        let _ = skus;
        Ok(Described::default())
    }
}

/// What [`CartAdapter::describe`] says of some SKUs: their [`CataloguePage::details`] and
/// their (variant SKU, its product's SKU) pairs as [`CataloguePage::products`] has them.
pub type Described = (Vec<ItemDetails>, Vec<(String, String)>);
