//! A loopback web cart speaking the `http_json` protocol v1 (DESIGN §9a), with fault injection.
//!
//! Built with the `emulator` cargo feature, for tests, examples and demos: it needs no network
//! beyond `127.0.0.1`. [`Emulator::start`] binds a free port and serves a small hand-written
//! HTTP/1.1 server (one thread per connection, keep-alive with `Content-Length` bodies,
//! `Connection: close` honoured) over an in-memory catalogue of SKU → quantity on hand.
//!
//! ```no_run
//! use inventory_sync::emulator::{Emulator, Fault};
//! let cart = Emulator::start().unwrap();
//! cart.set_qoh("TEE-M", 5);
//! cart.inject(Fault::Status { status: 503, count: 1, retry_after: None });
//! // point an `HttpJsonAdapter` at `cart.url()` …
//! ```
//!
//! Protocol behaviour, exactly as §9a says:
//! - `POST qoh/adjust`: a key applied before answers `duplicate` and changes nothing; a key
//!   whose adjustment was not applied (`unknown_sku`, `rejected`) is not remembered.
//!   Adjustments with `|delta| > 1_000_000_000`, or that would overflow the count, are
//!   `rejected`.
//! - `POST qoh/set`: `expected` not null and different from the current count → `conflict`
//!   with the current `qoh`; an unknown SKU → `unknown_sku`; `|qoh| > 1_000_000_000` →
//!   `rejected`. Set keys are not de-duplicated (a set is absolute).
//! - `GET qoh?cursor=C&limit=N`: pages through the catalogue sorted by SKU; the cursor is the
//!   last SKU of the previous page; `limit` defaults to 100 and is capped at 1000.
//! - With a token set ([`Emulator::set_token`]), a request without
//!   `Authorization: Bearer <token>` answers 401.
//!
//! It is more lenient than §9a on what it is sent, so it does not prove the adapter's requests
//! exact: it takes a `GET qoh` without `limit` (100), a set without `expected` (as null), a
//! body without `Content-Type: application/json`, and the `Bearer` scheme in any letter case
//! with spaces around the token. `tests/http_json_protocol_audit.rs` checks the requests
//! against a cart written from §9a alone.

mod bigcommerce;
mod shopify;
mod woocommerce;

use crate::adapter::conformance::{CartFault, TestCart};
use parking_lot::{Condvar, Mutex};
use serde::Deserialize;
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// The largest `|delta|` or `|qoh|` the emulator accepts; larger values answer `rejected`.
pub const MAX_ABS_QUANTITY: i64 = 1_000_000_000;
/// The page size when a `GET qoh` names no `limit`.
pub const DEFAULT_PAGE_LIMIT: usize = 100;
/// The largest page size served; larger `limit`s are capped to it.
pub const MAX_PAGE_LIMIT: usize = 1000;

/// How long an idle keep-alive connection is kept open by the emulator.
const IDLE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long a [`Fault::Hang`] holds a request before closing the connection.
const HANG_TIMEOUT: Duration = Duration::from_secs(30);
/// Limits on what one request may send.
const MAX_HEADER_BYTES: usize = 64 * 1024;
const MAX_BODY_BYTES: usize = 32 * 1024 * 1024;

/// A misbehaviour to apply to the next requests, queued with [`Emulator::inject`].
///
/// Faults apply in the order they were injected: the first queued fault applies to the next
/// `count` requests (of any kind), then the next fault, and so on. A `count` of 0 is ignored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Answer the next `count` requests with HTTP `status` (and a `Retry-After: <seconds>`
    /// header when `retry_after` is given), changing nothing.
    Status {
        /// The HTTP status to answer, e.g. 429, 500, 503, 400.
        status: u16,
        /// How many requests get it.
        count: usize,
        /// The `Retry-After` header value in seconds, if any.
        retry_after: Option<u32>,
    },
    /// Delay the answers of the next `count` requests by `ms` milliseconds; they apply
    /// normally (the change is made before the delay).
    Delay {
        /// The delay in milliseconds.
        ms: u64,
        /// How many requests are delayed.
        count: usize,
    },
    /// Apply the next `count` requests, then close their connections without any answer.
    ApplyThenDrop {
        /// How many requests.
        count: usize,
    },
    /// Apply the next `count` requests that change counts (reads pass untouched), then answer
    /// HTTP `status` as a gateway does that gave up waiting for a slow write (502, 504,
    /// Cloudflare's 524): the change was made all the same.
    ApplyThenStatus {
        /// The HTTP status to answer.
        status: u16,
        /// How many requests.
        count: usize,
    },
    /// Apply the next `count` requests, then answer 200 with a body that is not JSON.
    MalformedJson {
        /// How many requests.
        count: usize,
    },
    /// Read the next `count` requests and never answer them (nothing is applied); the
    /// connection closes when the client gives up, after 30 s, or on shutdown.
    Hang {
        /// How many requests.
        count: usize,
    },
    /// [`Fault::ApplyThenDrop`] for the next `count` requests that change counts only (reads
    /// pass untouched): a write whose answer is lost, to an adapter that reads first.
    ApplyWriteThenDrop {
        /// How many write requests.
        count: usize,
    },
    /// Answer the next `count` requests that change counts (reads pass untouched) 200 with a
    /// body the adapter cannot use, as a proxy cutting the answer, a PHP notice in place of
    /// the JSON, or a plugin rewriting it leaves it: the request reached the cart.
    BrokenWriteAnswer {
        /// Whether the change is made first (else nothing is).
        applied: bool,
        /// Whether the answer is cut short: its `Content-Length` names more than is sent
        /// before the connection closes. Else a whole answer that is not JSON.
        cut: bool,
        /// How many write requests.
        count: usize,
    },
    /// Let the next `count` requests that change counts through untouched (reads pass too,
    /// uncounted), so that the fault queued after it meets a later write: a call of several
    /// requests failing after its first was applied.
    PassWrites {
        /// How many write requests pass.
        count: usize,
    },
    /// Read the next `count` requests that set absolute counts (a Send QOH's or a drift
    /// repair's; every other request passes untouched, so a controller's deltas go on) and
    /// never answer them, as [`Fault::Hang`], having applied them first if `applied`: a run
    /// whose request is on its way, taken or not, when its process is killed. Nothing of
    /// such a request lands later.
    HangSets {
        /// Whether the counts are set first (else nothing is).
        applied: bool,
        /// How many set requests.
        count: usize,
    },
}

impl Fault {
    fn count_mut(&mut self) -> &mut usize {
        match self {
            Fault::Status { count, .. }
            | Fault::Delay { count, .. }
            | Fault::ApplyThenDrop { count }
            | Fault::ApplyThenStatus { count, .. }
            | Fault::MalformedJson { count }
            | Fault::Hang { count }
            | Fault::ApplyWriteThenDrop { count }
            | Fault::BrokenWriteAnswer { count, .. }
            | Fault::PassWrites { count }
            | Fault::HangSets { count, .. } => count,
        }
    }
}

/// Which cart's protocol an [`Emulator`] speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The library's own `http_json` protocol v1 (DESIGN §9a).
    #[default]
    HttpJson,
    /// Shopify Admin GraphQL: `POST /admin/api/{version}/graphql.json`. The shop has one
    /// location: a `shopify` cart names it `"location_id":"1"` (or
    /// `gid://shopify/Location/1`), with [`Emulator::url`] as its `url` and, once
    /// [`Emulator::set_token`] sets one, that token.
    Shopify,
    /// WooCommerce REST v3 under `/wp-json/wc/v3/`: a `woocommerce` cart takes
    /// [`Emulator::url`] as its `url` (plain `http` is accepted on loopback only) and any
    /// `consumer_key` and `consumer_secret` until [`Emulator::set_token`] sets `"key:secret"`.
    WooCommerce,
    /// BigCommerce v3 inventory under `/v3/inventory/` (see `bigcommerce.rs`).
    BigCommerce,
}

/// The catalogue and protocol state.
#[derive(Default)]
struct Cart {
    token: Option<String>,
    items: BTreeMap<String, i64>,
    applied_keys: HashSet<String>,
    failing_skus: HashMap<String, String>,
    /// Platform ids by SKU, handed out in order of creation (platform modes).
    ids: HashMap<String, u64>,
    next_id: u64,
    /// Variant SKU → its parent product's SKU (platform modes). A parent holds no stock.
    parents: BTreeMap<String, String>,
    /// Counts a `GET qoh` page writes as given rather than as the SKU's number
    /// ([`Emulator::set_qoh_json`]).
    written: HashMap<String, Value>,
    /// Product names by SKU (a plain item's, a parent's; a variant's own title where the
    /// platform has one): `""` where none was given ([`Emulator::set_item_details`]).
    names: HashMap<String, String>,
    /// A variant's (option name, value) pairs, by its SKU.
    options: HashMap<String, Vec<(String, String)>>,
    shopify: shopify::State,
    bigcommerce: bigcommerce::State,
}

impl Cart {
    /// `sku`'s name ([`Emulator::set_item_details`]), `""` where none was given.
    fn name_of(&self, sku: &str) -> &str {
        self.names.get(sku).map_or("", String::as_str)
    }

    /// A variant's (option name, value) pairs ([`Emulator::set_item_details`]).
    fn options_of(&self, sku: &str) -> &[(String, String)] {
        self.options.get(sku).map_or(&[], Vec::as_slice)
    }

    /// The platform id of `sku`, handed out on first use.
    fn id_of(&mut self, sku: &str) -> u64 {
        if let Some(id) = self.ids.get(sku) {
            return *id;
        }
        self.next_id += 1;
        self.ids.insert(sku.to_owned(), self.next_id);
        self.next_id
    }

    /// The SKU whose platform id is `id`.
    fn sku_of(&self, id: u64) -> Option<&str> {
        self.ids
            .iter()
            .find(|(_, v)| **v == id)
            .map(|(k, _)| k.as_str())
    }
}

#[derive(Default)]
struct Counters {
    requests: AtomicUsize,
    adjust: AtomicUsize,
    set: AtomicUsize,
    get: AtomicUsize,
    applied_keys: AtomicUsize,
    duplicate_hits: AtomicUsize,
    max_batch: AtomicUsize,
    throttled: AtomicUsize,
    catalogue: AtomicUsize,
}

/// An open connection: a handle to shut it down, and its serving thread once started.
type Connection = (TcpStream, Option<JoinHandle<()>>);

struct Shared {
    mode: Mode,
    cart: Mutex<Cart>,
    faults: Mutex<VecDeque<Fault>>,
    counters: Counters,
    shutting_down: AtomicBool,
    /// Open connections: a handle to shut each down and its thread, keyed by a serial id.
    connections: Mutex<HashMap<u64, Connection>>,
    /// Signalled whenever a connection closes.
    connection_closed: Condvar,
    next_connection: AtomicU64,
    /// The largest request body served (0: [`MAX_BODY_BYTES`]); see
    /// [`Emulator::set_max_body_bytes`].
    max_body: AtomicUsize,
}

/// A running loopback cart. Stops when dropped (or on [`Emulator::shutdown`]).
///
/// All methods take `&self` and are safe to call from any thread while requests are served.
pub struct Emulator {
    shared: Arc<Shared>,
    addr: SocketAddr,
    acceptor: Mutex<Option<JoinHandle<()>>>,
}

impl std::fmt::Debug for Emulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Emulator")
            .field("addr", &self.addr)
            .finish_non_exhaustive()
    }
}

/// The emulator as the conformance kit's test cart, faults included: counts are put and read
/// behind the adapter's back, and [`CartFault`]s are made with this emulator's own
/// [`Fault`]s (a lost answer: [`Fault::ApplyWriteThenDrop`]; a call failing after its first
/// write: [`Fault::PassWrites`], then a 503).
impl TestCart for Emulator {
    fn put(&self, sku: &str, count: i64) -> Result<(), String> {
        self.set_qoh(sku, count);
        Ok(())
    }
    fn count(&self, sku: &str) -> Result<Option<i64>, String> {
        Ok(self.qoh(sku))
    }
    fn inject(&self, fault: CartFault) -> Result<bool, String> {
        match fault {
            CartFault::ApplyThenLoseAnswer => {
                Emulator::inject(self, Fault::ApplyWriteThenDrop { count: 1 })
            }
            CartFault::FailAfterFirstWrite => {
                Emulator::inject(self, Fault::PassWrites { count: 1 });
                Emulator::inject(
                    self,
                    Fault::Status {
                        status: 503,
                        count: 1,
                        retry_after: None,
                    },
                );
            }
        }
        Ok(true)
    }
    fn clear_faults(&self) -> Result<(), String> {
        Emulator::clear_faults(self);
        Ok(())
    }
}

impl Emulator {
    /// Binds `127.0.0.1` on a free port and starts serving, with an empty catalogue, no token
    /// and no faults.
    pub fn start() -> io::Result<Emulator> {
        Emulator::start_mode(Mode::HttpJson)
    }

    /// Like [`Emulator::start`], speaking the protocol of `mode`. Every mode shares the
    /// catalogue methods ([`Emulator::set_qoh`], [`Emulator::qoh`], …), the faults and the
    /// counters: `adjust_requests` counts relative writes, `set_requests` absolute writes,
    /// `get_requests` reads, and `max_batch_seen` the most items written by one request.
    pub fn start_mode(mode: Mode) -> io::Result<Emulator> {
        let listener = TcpListener::bind(("127.0.0.1", 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            mode,
            cart: Mutex::new(Cart::default()),
            faults: Mutex::new(VecDeque::new()),
            counters: Counters::default(),
            shutting_down: AtomicBool::new(false),
            connections: Mutex::new(HashMap::new()),
            connection_closed: Condvar::new(),
            next_connection: AtomicU64::new(0),
            max_body: AtomicUsize::new(0),
        });
        let acceptor = {
            let shared = shared.clone();
            std::thread::Builder::new()
                .name(format!("emulator-accept-{}", addr.port()))
                .spawn(move || accept_loop(listener, shared))?
        };
        Ok(Emulator {
            shared,
            addr,
            acceptor: Mutex::new(Some(acceptor)),
        })
    }

    /// The cart's base URL, `http://127.0.0.1:PORT/` (with the trailing slash).
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// The socket address served.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Answers 413 Payload Too Large, applying nothing, to every request whose body is longer
    /// than `bytes` (0: no limit but the emulator's own), as a web server or firewall in front
    /// of a cart does (nginx's `client_max_body_size`, 1 MB by default).
    pub fn set_max_body_bytes(&self, bytes: usize) {
        self.shared.max_body.store(bytes, Ordering::SeqCst);
    }

    /// Requires `Authorization: Bearer <token>` on every request from now on (`None`: no
    /// authentication). Requests without it answer 401.
    pub fn set_token(&self, token: Option<&str>) {
        self.shared.cart.lock().token = token.map(str::to_owned);
    }

    /// The protocol this emulator speaks.
    pub fn mode(&self) -> Mode {
        self.shared.mode
    }

    /// Creates the item `sku` with count `qoh`, or overwrites its count.
    pub fn set_qoh(&self, sku: &str, qoh: i64) {
        let mut cart = self.shared.cart.lock();
        cart.id_of(sku);
        cart.written.remove(sku);
        cart.items.insert(sku.to_owned(), qoh);
    }

    /// `http_json` mode: lists `sku` (made with count 0 where the catalogue lacks it) with
    /// `qoh` as its count on `GET qoh` pages (WooCommerce: its `stock_quantity` in product
    /// and variation listings; BigCommerce: its `total_inventory_onhand`), written as given (`"n/a"`, `null`, `4.5`), as
    /// a plugin reading a damaged field may; writes still change its number. Undone by
    /// [`Emulator::set_qoh`].
    pub fn set_qoh_json(&self, sku: &str, qoh: Value) {
        let mut cart = self.shared.cart.lock();
        cart.id_of(sku);
        cart.items.entry(sku.to_owned()).or_insert(0);
        cart.written.insert(sku.to_owned(), qoh);
    }

    /// Creates (or updates) `sku` as a variant of the product `parent_sku` with count `qoh`
    /// (platform modes: a WooCommerce variation, a Shopify or BigCommerce variant). The parent
    /// is created without stock of its own.
    pub fn set_variant_qoh(&self, parent_sku: &str, sku: &str, qoh: i64) {
        let mut cart = self.shared.cart.lock();
        cart.id_of(parent_sku);
        cart.id_of(sku);
        cart.items.remove(parent_sku);
        cart.parents.insert(sku.to_owned(), parent_sku.to_owned());
        cart.items.insert(sku.to_owned(), qoh);
    }

    /// Platform modes: names `sku` (a plain item or a product: its name or title; `""` until
    /// set, as a product saved without one) and gives a variant its option values, as
    /// `[("Size", "M"), ("Colour", "Red")]`. Listings answer them in the platform's fields:
    /// WooCommerce a product's `name` and a variation's `attributes`; Shopify a variant's
    /// `title` (its values joined by " / ", `Default Title` without any), `selectedOptions`
    /// and `product { title }`; BigCommerce a product's `name` and a variant's
    /// `option_values`.
    pub fn set_item_details(&self, sku: &str, name: &str, options: &[(&str, &str)]) {
        let mut cart = self.shared.cart.lock();
        cart.names.insert(sku.to_owned(), name.to_owned());
        cart.options.insert(
            sku.to_owned(),
            options
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
        );
    }

    /// The platform id the emulator gave `sku` (platform modes), if the SKU exists.
    pub fn platform_id(&self, sku: &str) -> Option<u64> {
        self.shared.cart.lock().ids.get(sku).copied()
    }

    /// Shopify mode: the calculated-cost bucket (`maximumAvailable` points, refilled at
    /// `restore_rate` points per second). A request whose cost exceeds what is available
    /// answers `THROTTLED`. The default is Shopify's standard plan: 2000 points, 100/s.
    pub fn set_shopify_budget(&self, maximum: f64, restore_rate: f64) {
        self.shared
            .cart
            .lock()
            .shopify
            .set_budget(maximum, restore_rate);
    }

    /// BigCommerce mode: at most `quota` requests per window of `window_ms` milliseconds;
    /// beyond it the answer is 429 with the `X-Rate-Limit-*` headers. The default is
    /// 150 requests per 30 s (the Standard and Plus plans).
    pub fn set_bigcommerce_quota(&self, quota: u32, window_ms: u64) {
        self.shared
            .cart
            .lock()
            .bigcommerce
            .set_quota(quota, window_ms);
    }

    /// BigCommerce mode: reads (listings and `sku:in` look-ups alike) answer each count as it
    /// stood before the adjustments made in the last `lag`, as BigCommerce's asynchronous
    /// Inventory API may; zero (the default) makes every change readable at once.
    pub fn set_bigcommerce_read_lag(&self, lag: Duration) {
        self.shared.cart.lock().bigcommerce.set_read_lag(lag);
    }

    /// BigCommerce mode: deletes `sku` just before the next request for a page after the
    /// first of the location's whole listing, as an owner deleting a product in the admin
    /// while the listing is read: the items after it move one place toward the first page.
    pub fn delete_while_bigcommerce_lists(&self, sku: &str) {
        self.shared.cart.lock().bigcommerce.deleted_while_listed = Some(sku.to_owned());
    }

    /// BigCommerce mode: the catalogue's products endpoint (the names Get QOH gives what it
    /// creates) answers `status` instead, as to a token without the catalogue's read scope
    /// (403); `None` serves it again. The inventory endpoints are not touched.
    pub fn refuse_bigcommerce_catalogue(&self, status: Option<u16>) {
        self.shared.cart.lock().bigcommerce.refuse_catalogue(status);
    }

    /// BigCommerce mode: the location's items read without a filter (Get QOH's listing, a
    /// search of the whole listing) answer HTTP `status`, as a listing the platform fails to
    /// serve part of does; reads by `sku:in` or `variant_id:in` are answered as ever. `None`
    /// serves it again.
    pub fn refuse_bigcommerce_listing(&self, status: Option<u16>) {
        self.shared.cart.lock().bigcommerce.refuse_listing(status);
    }

    /// The shop's owner gives the item `old` the SKU `new` (made anew where `old` is
    /// missing): it keeps its count and its platform id, which now names `new`.
    pub fn rename_sku(&self, old: &str, new: &str) {
        let mut cart = self.shared.cart.lock();
        let qoh = cart.items.remove(old).unwrap_or(0);
        cart.items.insert(new.to_owned(), qoh);
        if let Some(id) = cart.ids.remove(old) {
            cart.ids.insert(new.to_owned(), id);
        }
        if let Some(w) = cart.written.remove(old) {
            cart.written.insert(new.to_owned(), w);
        }
        if let Some(p) = cart.parents.remove(old) {
            cart.parents.insert(new.to_owned(), p);
        }
    }

    /// BigCommerce mode: `GET v3/catalog/products` requests received (including throttled
    /// ones), which no listing of counts needs.
    pub fn catalogue_requests(&self) -> usize {
        self.shared.counters.catalogue.load(Ordering::SeqCst)
    }

    /// Shopify mode: empties the cost bucket now, as another client of the same app and shop
    /// would (the next request that costs anything answers `THROTTLED`).
    pub fn drain_shopify_budget(&self) {
        self.shared.cart.lock().shopify.drain();
    }

    /// Requests answered with the platform's own throttle (Shopify `THROTTLED`, BigCommerce
    /// 429); injected faults are not counted.
    pub fn throttled_requests(&self) -> usize {
        self.shared.counters.throttled.load(Ordering::SeqCst)
    }

    /// The item's count, `None` when the catalogue has no such SKU.
    pub fn qoh(&self, sku: &str) -> Option<i64> {
        self.shared.cart.lock().items.get(sku).copied()
    }

    /// The whole catalogue, sorted by SKU.
    pub fn catalogue(&self) -> Vec<(String, i64)> {
        let cart = self.shared.cart.lock();
        cart.items.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// Removes the item `sku` from the catalogue (later requests for it answer `unknown_sku`).
    pub fn remove(&self, sku: &str) {
        self.shared.cart.lock().items.remove(sku);
    }

    /// Makes every adjustment and set of `sku` answer the result status `status` (typically
    /// `"rejected"`; any string is answered verbatim, so a test can also send statuses outside
    /// the protocol) with a message, changing nothing and remembering no key.
    ///
    /// [`Mode::HttpJson`] only: a platform mode ignores it. There, [`Emulator::remove`] makes
    /// the shop refuse the SKU as one it does not have.
    pub fn fail_sku(&self, sku: &str, status: &str) {
        self.shared
            .cart
            .lock()
            .failing_skus
            .insert(sku.to_owned(), status.to_owned());
    }

    /// Undoes [`Emulator::fail_sku`] for `sku`.
    pub fn unfail_sku(&self, sku: &str) {
        self.shared.cart.lock().failing_skus.remove(sku);
    }

    /// Queues `fault` after any faults already queued (see [`Fault`]).
    pub fn inject(&self, fault: Fault) {
        let mut fault = fault;
        if *fault.count_mut() > 0 {
            self.shared.faults.lock().push_back(fault);
        }
    }

    /// Drops every queued fault.
    pub fn clear_faults(&self) {
        self.shared.faults.lock().clear();
    }

    /// Faults still queued (each with its remaining count).
    pub fn pending_faults(&self) -> Vec<Fault> {
        self.shared.faults.lock().iter().cloned().collect()
    }

    /// HTTP requests received since the start (or the last [`Emulator::reset_counters`]),
    /// including faulted and unauthorised ones.
    pub fn requests(&self) -> usize {
        self.shared.counters.requests.load(Ordering::SeqCst)
    }

    /// `POST qoh/adjust` requests received (including faulted ones).
    pub fn adjust_requests(&self) -> usize {
        self.shared.counters.adjust.load(Ordering::SeqCst)
    }

    /// `POST qoh/set` requests received (including faulted ones).
    pub fn set_requests(&self) -> usize {
        self.shared.counters.set.load(Ordering::SeqCst)
    }

    /// `GET qoh` requests received (including faulted ones).
    pub fn get_requests(&self) -> usize {
        self.shared.counters.get.load(Ordering::SeqCst)
    }

    /// Distinct adjustment keys applied (each answered `applied` once).
    pub fn applied_keys(&self) -> usize {
        self.shared.counters.applied_keys.load(Ordering::SeqCst)
    }

    /// How many adjustments were answered `duplicate`.
    pub fn duplicate_hits(&self) -> usize {
        self.shared.counters.duplicate_hits.load(Ordering::SeqCst)
    }

    /// The largest number of adjustments or quantities seen in one request.
    pub fn max_batch_seen(&self) -> usize {
        self.shared.counters.max_batch.load(Ordering::SeqCst)
    }

    /// Sets every counter to 0. The catalogue and the remembered keys are kept (a key applied
    /// before still answers `duplicate`).
    pub fn reset_counters(&self) {
        let c = &self.shared.counters;
        for a in [
            &c.requests,
            &c.adjust,
            &c.set,
            &c.get,
            &c.applied_keys,
            &c.duplicate_hits,
            &c.max_batch,
            &c.throttled,
            &c.catalogue,
        ] {
            a.store(0, Ordering::SeqCst);
        }
    }

    /// Connections currently open (each has one serving thread).
    pub fn open_connections(&self) -> usize {
        self.shared.connections.lock().len()
    }

    /// Connections accepted since the start (a keep-alive client reuses a few for many
    /// requests). Not reset by [`Emulator::reset_counters`].
    pub fn connections_accepted(&self) -> usize {
        self.shared.next_connection.load(Ordering::SeqCst) as usize
    }

    /// Waits until no connection is open (every serving thread has ended), at most `timeout`;
    /// `true` when none is open. For leak checks after the clients have closed.
    pub fn wait_for_no_connections(&self, timeout: Duration) -> bool {
        let deadline = std::time::Instant::now() + timeout;
        let mut connections = self.shared.connections.lock();
        while !connections.is_empty() {
            if self
                .shared
                .connection_closed
                .wait_until(&mut connections, deadline)
                .timed_out()
            {
                return connections.is_empty();
            }
        }
        true
    }

    /// Stops accepting, closes every open connection and waits for all serving threads to
    /// end. Idempotent; also done on drop.
    pub fn shutdown(&self) {
        let acceptor = self.acceptor.lock().take();
        let Some(acceptor) = acceptor else { return };
        self.shared.shutting_down.store(true, Ordering::SeqCst);
        // Unblock `accept` with a connection of our own; it sees the flag and stops.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        let _ = acceptor.join();
        // No new connection threads can start now.
        let connections: Vec<_> = self.shared.connections.lock().drain().collect();
        for (_, (stream, _)) in &connections {
            let _ = stream.shutdown(Shutdown::Both);
        }
        for (_, (_, handle)) in connections {
            if let Some(handle) = handle {
                let _ = handle.join();
            }
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        if shared.shutting_down.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = stream else {
            // Out of file descriptors or similar: keep serving the connections we have, without
            // spinning on the failing accept.
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let Ok(registered) = stream.try_clone() else {
            continue;
        };
        let id = shared.next_connection.fetch_add(1, Ordering::SeqCst);
        // Register before the thread starts so shutdown always finds it.
        shared.connections.lock().insert(id, (registered, None));
        let conn_shared = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("emulator-conn".into())
            .stack_size(256 * 1024)
            .spawn(move || {
                serve_connection(stream, &conn_shared);
                // Detach: dropping our own handle lets the thread end without a join.
                conn_shared.connections.lock().remove(&id);
                conn_shared.connection_closed.notify_all();
            });
        match spawned {
            Ok(handle) => {
                if let Some(entry) = shared.connections.lock().get_mut(&id) {
                    entry.1 = Some(handle);
                }
            }
            Err(_) => {
                shared.connections.lock().remove(&id);
            }
        }
    }
}

/// One parsed HTTP request.
struct Request {
    method: String,
    path: String,
    query: Option<String>,
    http10: bool,
    close: bool,
    keep_alive: bool,
    authorization: Option<String>,
    /// Every header, names in lower case.
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    /// The first header named `name` (lower case).
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The query string's pairs, percent-decoded; `None` when malformed.
    fn query_pairs(&self) -> Option<Vec<(String, String)>> {
        let mut out = Vec::new();
        for pair in self
            .query
            .as_deref()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            out.push((percent_decode(name)?, percent_decode(value)?));
        }
        Some(out)
    }
}

/// One answer to write.
struct Answer {
    status: u16,
    body: Vec<u8>,
    retry_after: Option<u32>,
    /// Extra headers (pagination, rate limits).
    headers: Vec<(String, String)>,
}

impl Answer {
    fn json(status: u16, value: Value) -> Answer {
        Answer {
            status,
            body: serde_json::to_vec(&value).expect("serialising a json value"),
            retry_after: None,
            headers: Vec::new(),
        }
    }

    fn with_header(mut self, name: &str, value: impl ToString) -> Answer {
        self.headers.push((name.to_owned(), value.to_string()));
        self
    }
    fn error(status: u16, message: impl Into<String>) -> Answer {
        Answer::json(status, json!({ "error": message.into() }))
    }
}

enum ReadError {
    /// The peer closed, or the socket failed: just stop.
    Closed,
    /// A request we cannot serve: answer this status and close.
    Bad(u16, &'static str),
}

fn read_request(reader: &mut BufReader<TcpStream>) -> Result<Request, ReadError> {
    let mut head_bytes = 0usize;
    let mut line = String::new();
    // Skip stray empty lines between requests (RFC 9112 §2.2).
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(|_| ReadError::Closed)?;
        if n == 0 {
            return Err(ReadError::Closed);
        }
        head_bytes += n;
        if head_bytes > MAX_HEADER_BYTES {
            return Err(ReadError::Bad(431, "request head too large"));
        }
        if !line.trim().is_empty() {
            break;
        }
    }
    let mut parts = line.split_whitespace();
    let (Some(method), Some(target), Some(version)) = (parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad(400, "malformed request line"));
    };
    if !version.starts_with("HTTP/1.") {
        return Err(ReadError::Bad(505, "only HTTP/1.x is served"));
    }
    let http10 = version == "HTTP/1.0";
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_owned(), Some(q.to_owned())),
        None => (target.to_owned(), None),
    };
    let mut request = Request {
        method: method.to_owned(),
        path,
        query,
        http10,
        close: false,
        keep_alive: false,
        authorization: None,
        headers: Vec::new(),
        body: Vec::new(),
    };
    let mut content_length = 0usize;
    loop {
        line.clear();
        let n = reader.read_line(&mut line).map_err(|_| ReadError::Closed)?;
        if n == 0 {
            return Err(ReadError::Closed);
        }
        head_bytes += n;
        if head_bytes > MAX_HEADER_BYTES {
            return Err(ReadError::Bad(431, "request head too large"));
        }
        let header = line.trim_end_matches(['\r', '\n']);
        if header.is_empty() {
            break;
        }
        let Some((name, value)) = header.split_once(':') else {
            return Err(ReadError::Bad(400, "malformed header line"));
        };
        let value = value.trim();
        request
            .headers
            .push((name.trim().to_ascii_lowercase(), value.to_owned()));
        match name.trim().to_ascii_lowercase().as_str() {
            "content-length" => {
                content_length = value
                    .parse()
                    .map_err(|_| ReadError::Bad(400, "bad Content-Length"))?;
                if content_length > MAX_BODY_BYTES {
                    return Err(ReadError::Bad(413, "body too large"));
                }
            }
            "transfer-encoding" => {
                return Err(ReadError::Bad(
                    501,
                    "chunked bodies are not served; send Content-Length",
                ))
            }
            "connection" => {
                for token in value.split(',') {
                    let token = token.trim();
                    if token.eq_ignore_ascii_case("close") {
                        request.close = true;
                    } else if token.eq_ignore_ascii_case("keep-alive") {
                        request.keep_alive = true;
                    }
                }
            }
            "authorization" => request.authorization = Some(value.to_owned()),
            _ => {}
        }
    }
    request.body = vec![0; content_length];
    reader
        .read_exact(&mut request.body)
        .map_err(|_| ReadError::Closed)?;
    Ok(request)
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        409 => "Conflict",
        413 => "Payload Too Large",
        422 => "Unprocessable Entity",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        505 => "HTTP Version Not Supported",
        _ => "Status",
    }
}

fn write_answer(stream: &mut TcpStream, answer: &Answer, close: bool) -> io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
        answer.status,
        reason(answer.status),
        answer.body.len()
    );
    if let Some(secs) = answer.retry_after {
        out.push_str(&format!("Retry-After: {secs}\r\n"));
    }
    for (name, value) in &answer.headers {
        out.push_str(&format!("{name}: {value}\r\n"));
    }
    out.push_str(if close {
        "Connection: close\r\n\r\n"
    } else {
        "Connection: keep-alive\r\n\r\n"
    });
    let mut bytes = out.into_bytes();
    bytes.extend_from_slice(&answer.body);
    stream.write_all(&bytes)?;
    stream.flush()
}

/// The fault the next request meets, if any (see [`take_fault`]).
#[cfg(test)]
fn next_fault(shared: &Shared, kind: Option<RequestKind>) -> Option<Fault> {
    take_fault(shared, kind, None)
}

/// Takes the fault `request` (of `kind`) meets, if any. A write-only fault at the front lets
/// a read through untouched, as [`Fault::HangSets`] lets through all but sets, applying one
/// it takes before it leaves the queue where it says so.
fn take_fault(
    shared: &Shared,
    kind: Option<RequestKind>,
    request: Option<&Request>,
) -> Option<Fault> {
    let mut faults = shared.faults.lock();
    let front = faults.front_mut()?;
    let write = matches!(kind, Some(RequestKind::Adjust | RequestKind::Set));
    let write_only = matches!(
        front,
        Fault::ApplyThenStatus { .. }
            | Fault::ApplyWriteThenDrop { .. }
            | Fault::BrokenWriteAnswer { .. }
            | Fault::PassWrites { .. }
    );
    if write_only && !write {
        return None;
    }
    match front {
        Fault::HangSets { .. } if !matches!(kind, Some(RequestKind::Set)) => return None,
        // Applied before the fault leaves the queue: once `pending_faults` no longer lists
        // it, the counts are set.
        Fault::HangSets { applied: true, .. } => {
            if let Some(request) = request {
                let _ = handle(shared, request);
            }
        }
        _ => {}
    }
    let count = front.count_mut();
    *count -= 1;
    let fault = front.clone();
    if *front.count_mut() == 0 {
        faults.pop_front();
    }
    Some(fault)
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_read_timeout(Some(IDLE_TIMEOUT));
    let Ok(mut writer) = stream.try_clone() else {
        return;
    };
    let mut reader = BufReader::new(stream);
    loop {
        if shared.shutting_down.load(Ordering::SeqCst) {
            return;
        }
        let request = match read_request(&mut reader) {
            Ok(r) => r,
            Err(ReadError::Closed) => return,
            Err(ReadError::Bad(status, message)) => {
                shared.counters.requests.fetch_add(1, Ordering::SeqCst);
                let _ = write_answer(&mut writer, &Answer::error(status, message), true);
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
        };
        let close = request.close || (request.http10 && !request.keep_alive);
        let c = &shared.counters;
        c.requests.fetch_add(1, Ordering::SeqCst);
        let limit = shared.max_body.load(Ordering::SeqCst);
        if limit > 0 && request.body.len() > limit {
            let answer = Answer::error(413, "request entity too large");
            if write_answer(&mut writer, &answer, close).is_err() || close {
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            continue;
        }
        let kind = match shared.mode {
            Mode::HttpJson => match (request.method.as_str(), request.path.as_str()) {
                ("POST", "/qoh/adjust") => Some(RequestKind::Adjust),
                ("POST", "/qoh/set") => Some(RequestKind::Set),
                ("GET", "/qoh") => Some(RequestKind::Get),
                _ => None,
            },
            Mode::Shopify => shopify::kind(&request),
            Mode::WooCommerce => woocommerce::kind(&request),
            Mode::BigCommerce => bigcommerce::kind(&request),
        };
        match kind {
            Some(RequestKind::Adjust) => c.adjust.fetch_add(1, Ordering::SeqCst),
            Some(RequestKind::Set) => c.set.fetch_add(1, Ordering::SeqCst),
            Some(RequestKind::Get) => c.get.fetch_add(1, Ordering::SeqCst),
            None => 0,
        };

        let answer = match take_fault(shared, kind, Some(&request)) {
            Some(Fault::Status {
                status,
                retry_after,
                ..
            }) => Answer {
                retry_after,
                ..Answer::error(status, format!("injected fault: HTTP {status}"))
            },
            Some(Fault::Hang { .. }) => {
                hang(reader.get_mut());
                return;
            }
            Some(Fault::HangSets { .. }) => {
                hang(reader.get_mut());
                return;
            }
            Some(Fault::ApplyThenDrop { .. } | Fault::ApplyWriteThenDrop { .. }) => {
                let _ = handle(shared, &request);
                let _ = writer.shutdown(Shutdown::Both);
                return;
            }
            Some(Fault::ApplyThenStatus { status, .. }) => {
                let _ = handle(shared, &request);
                Answer::error(
                    status,
                    format!("injected fault: applied, then HTTP {status}"),
                )
            }
            Some(Fault::MalformedJson { .. }) => {
                let _ = handle(shared, &request);
                Answer {
                    status: 200,
                    body: b"{\"results\": [ this is not json".to_vec(),
                    retry_after: None,
                    headers: Vec::new(),
                }
            }
            Some(Fault::BrokenWriteAnswer { applied, cut, .. }) => {
                if applied {
                    let _ = handle(shared, &request);
                }
                // What PHP prints when it dies after the headers went (display_errors on).
                let body = b"<br />\n<b>Fatal error</b>:  Allowed memory size exhausted in <b>wp-includes/class-wpdb.php</b><br />\n{\"update\":[{\"id\"".to_vec();
                if cut {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len() + 4096
                    );
                    let _ = writer.write_all(head.as_bytes());
                    let _ = writer.write_all(&body);
                    let _ = writer.flush();
                    let _ = writer.shutdown(Shutdown::Both);
                    return;
                }
                Answer {
                    status: 200,
                    body,
                    retry_after: None,
                    headers: Vec::new(),
                }
            }
            Some(Fault::Delay { ms, .. }) => {
                let answer = handle(shared, &request);
                std::thread::sleep(Duration::from_millis(ms));
                answer
            }
            None | Some(Fault::PassWrites { .. }) => handle(shared, &request),
        };
        if write_answer(&mut writer, &answer, close).is_err() || close {
            let _ = writer.shutdown(Shutdown::Both);
            return;
        }
    }
}

/// Holds a read request unanswered until the client closes, 30 s pass, or shutdown.
fn hang(stream: &mut TcpStream) {
    let _ = stream.set_read_timeout(Some(HANG_TIMEOUT));
    let mut buf = [0u8; 1024];
    // Reads end with 0 when the client gives up or shutdown closes the socket.
    while let Ok(n) = stream.read(&mut buf) {
        if n == 0 {
            break;
        }
    }
    let _ = stream.shutdown(Shutdown::Both);
}

// ---- the protocol ----

#[derive(Deserialize)]
struct AdjustBody {
    adjustments: Vec<AdjustItem>,
}

#[derive(Deserialize)]
struct AdjustItem {
    key: String,
    sku: String,
    delta: i64,
}

#[derive(Deserialize)]
struct SetBody {
    quantities: Vec<SetItem>,
}

#[derive(Deserialize)]
struct SetItem {
    key: String,
    sku: String,
    qoh: i64,
    #[serde(default)]
    expected: Option<i64>,
}

/// What a request does, for the counters.
#[derive(Clone, Copy)]
enum RequestKind {
    Adjust,
    Set,
    Get,
}

fn handle(shared: &Shared, request: &Request) -> Answer {
    let mut cart = shared.cart.lock();
    match shared.mode {
        Mode::HttpJson => {}
        Mode::Shopify => return shopify::handle(shared, &mut cart, request),
        Mode::WooCommerce => return woocommerce::handle(shared, &mut cart, request),
        Mode::BigCommerce => return bigcommerce::handle(shared, &mut cart, request),
    }
    if let Some(token) = &cart.token {
        let authorised = request
            .authorization
            .as_deref()
            // (The scheme's name is case-insensitive: RFC 9110 §11.1.)
            .and_then(|v| v.split_once(' '))
            .is_some_and(|(scheme, t)| scheme.eq_ignore_ascii_case("bearer") && t.trim() == token);
        if !authorised {
            return Answer::error(401, "missing or wrong bearer token");
        }
    }
    match (request.method.as_str(), request.path.as_str()) {
        ("POST", "/qoh/adjust") => match serde_json::from_slice::<AdjustBody>(&request.body) {
            Ok(body) => adjust(shared, &mut cart, body),
            Err(e) => Answer::error(400, format!("bad adjust body: {e}")),
        },
        ("POST", "/qoh/set") => match serde_json::from_slice::<SetBody>(&request.body) {
            Ok(body) => set(shared, &mut cart, body),
            Err(e) => Answer::error(400, format!("bad set body: {e}")),
        },
        ("GET", "/qoh") => page(&cart, request.query.as_deref()),
        (_, "/qoh/adjust" | "/qoh/set" | "/qoh") => Answer::error(405, "method not allowed"),
        (_, path) => Answer::error(404, format!("no such endpoint: {path}")),
    }
}

fn note_batch(shared: &Shared, len: usize) {
    shared.counters.max_batch.fetch_max(len, Ordering::SeqCst);
}

fn adjust(shared: &Shared, cart: &mut Cart, body: AdjustBody) -> Answer {
    note_batch(shared, body.adjustments.len());
    let c = &shared.counters;
    let results: Vec<Value> = body
        .adjustments
        .into_iter()
        .map(|a| {
            if cart.applied_keys.contains(&a.key) {
                c.duplicate_hits.fetch_add(1, Ordering::SeqCst);
                return json!({"key": a.key, "status": "duplicate", "qoh": cart.items.get(&a.sku)});
            }
            if let Some(status) = cart.failing_skus.get(&a.sku) {
                return json!({"key": a.key, "status": status,
                    "message": format!("sku {} is set to fail (injected)", a.sku)});
            }
            let Some(current) = cart.items.get(&a.sku).copied() else {
                return json!({"key": a.key, "status": "unknown_sku",
                    "message": format!("no item with sku {}", a.sku)});
            };
            if a.delta.unsigned_abs() > MAX_ABS_QUANTITY as u64 {
                return json!({"key": a.key, "status": "rejected", "qoh": current,
                    "message": format!("delta {} is absurd (more than {MAX_ABS_QUANTITY} either way)", a.delta)});
            }
            let Some(new) = current.checked_add(a.delta) else {
                return json!({"key": a.key, "status": "rejected", "qoh": current,
                    "message": format!("delta {} would overflow the count {current}", a.delta)});
            };
            cart.items.insert(a.sku, new);
            cart.applied_keys.insert(a.key.clone());
            c.applied_keys.fetch_add(1, Ordering::SeqCst);
            json!({"key": a.key, "status": "applied", "qoh": new})
        })
        .collect();
    Answer::json(200, json!({ "results": results }))
}

fn set(shared: &Shared, cart: &mut Cart, body: SetBody) -> Answer {
    note_batch(shared, body.quantities.len());
    let results: Vec<Value> = body
        .quantities
        .into_iter()
        .map(|s| {
            if let Some(status) = cart.failing_skus.get(&s.sku) {
                return json!({"key": s.key, "status": status,
                    "message": format!("sku {} is set to fail (injected)", s.sku)});
            }
            let Some(current) = cart.items.get(&s.sku).copied() else {
                return json!({"key": s.key, "status": "unknown_sku",
                    "message": format!("no item with sku {}", s.sku)});
            };
            if s.qoh.unsigned_abs() > MAX_ABS_QUANTITY as u64 {
                return json!({"key": s.key, "status": "rejected", "qoh": current,
                    "message": format!("qoh {} is absurd (more than {MAX_ABS_QUANTITY} either way)", s.qoh)});
            }
            if let Some(expected) = s.expected {
                if expected != current {
                    return json!({"key": s.key, "status": "conflict", "qoh": current,
                        "message": format!("expected {expected}, the count is {current}")});
                }
            }
            cart.items.insert(s.sku, s.qoh);
            json!({"key": s.key, "status": "applied", "qoh": s.qoh})
        })
        .collect();
    Answer::json(200, json!({ "results": results }))
}

fn page(cart: &Cart, query: Option<&str>) -> Answer {
    let mut cursor: Option<String> = None;
    let mut limit = DEFAULT_PAGE_LIMIT;
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let Some(value) = percent_decode(value) else {
            return Answer::error(400, format!("bad percent-encoding in {name}"));
        };
        match name {
            "cursor" if !value.is_empty() => cursor = Some(value),
            "cursor" => {}
            "limit" => match value.parse::<usize>() {
                Ok(0) => return Answer::error(400, "limit must be at least 1"),
                Ok(n) => limit = n.min(MAX_PAGE_LIMIT),
                Err(_) => return Answer::error(400, format!("bad limit: {value}")),
            },
            _ => {}
        }
    }
    let range = match &cursor {
        Some(c) => cart
            .items
            .range::<String, _>((std::ops::Bound::Excluded(c), std::ops::Bound::Unbounded)),
        None => cart.items.range::<String, _>(..),
    };
    let mut items: Vec<(&String, &i64)> = range.take(limit + 1).collect();
    let more = items.len() > limit;
    items.truncate(limit);
    let next_cursor = if more {
        items.last().map(|(sku, _)| (*sku).clone())
    } else {
        None
    };
    let items: Vec<Value> = items
        .into_iter()
        .map(|(sku, qoh)| match cart.written.get(sku) {
            Some(written) => json!({"sku": sku, "qoh": written}),
            None => json!({"sku": sku, "qoh": qoh}),
        })
        .collect();
    Answer::json(200, json!({ "items": items, "next_cursor": next_cursor }))
}

/// Decodes `application/x-www-form-urlencoded` text (`+` is a space); `None` when malformed.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_decoding() {
        assert_eq!(percent_decode("a%2Fb+c").as_deref(), Some("a/b c"));
        assert_eq!(percent_decode("%E2%82%AC").as_deref(), Some("€"));
        assert_eq!(percent_decode("%2"), None);
    }

    #[test]
    fn faults_are_consumed_in_order() {
        let e = Emulator::start().unwrap();
        e.inject(Fault::Hang { count: 0 });
        e.inject(Fault::Status {
            status: 500,
            count: 2,
            retry_after: None,
        });
        e.inject(Fault::MalformedJson { count: 1 });
        assert!(matches!(
            next_fault(&e.shared, None),
            Some(Fault::Status { status: 500, .. })
        ));
        assert!(matches!(
            next_fault(&e.shared, None),
            Some(Fault::Status { status: 500, .. })
        ));
        assert!(matches!(
            next_fault(&e.shared, None),
            Some(Fault::MalformedJson { .. })
        ));
        assert!(next_fault(&e.shared, None).is_none());
        // A write-only fault lets reads through and waits for a write.
        e.inject(Fault::ApplyThenStatus {
            status: 504,
            count: 1,
        });
        assert!(next_fault(&e.shared, Some(RequestKind::Get)).is_none());
        assert!(next_fault(&e.shared, None).is_none());
        assert!(matches!(
            next_fault(&e.shared, Some(RequestKind::Set)),
            Some(Fault::ApplyThenStatus { status: 504, .. })
        ));
        assert!(next_fault(&e.shared, Some(RequestKind::Adjust)).is_none());
    }
}
