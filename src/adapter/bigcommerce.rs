//! The `bigcommerce` adapter: BigCommerce v3 Inventory API.
//!
//! Follows these public pages (read for this adapter; nothing copied):
//! - inventory adjustments, `POST /v3/inventory/adjustments/relative` and
//!   `PUT /v3/inventory/adjustments/absolute`, items by `sku`/`variant_id`/`product_id` at a
//!   `location_id`, at most 2000 items per payload:
//!   <https://developer.bigcommerce.com/docs/rest-management/inventory/adjustments>,
//!   <https://developer.bigcommerce.com/docs/store-operations/catalog/inventory-adjustments>
//! - reading levels, `GET /v3/inventory/locations/{location_id}/items` (`page`, `limit`,
//!   `sku:in`; `available_to_sell`, `total_inventory_onhand`, `meta.pagination`):
//!   <https://developer.bigcommerce.com/docs/rest-management/inventory/items>
//! - products' `name` and `sku`, and their variants' `sku` and `option_values`
//!   (`option_display_name`, `label`), `GET /v3/catalog/products` with `id:in`,
//!   `include=variants` and `include_fields`, which Get QOH gives the items it creates (one
//!   more read per 250 products it creates, through [`CartAdapter::describe`]; none for a
//!   listing alone):
//!   <https://developer.bigcommerce.com/docs/rest-catalog/products>,
//!   <https://developer.bigcommerce.com/docs/rest-catalog/product-variants>
//! - rate limits: `X-Rate-Limit-Requests-Left`, `X-Rate-Limit-Time-Reset-Ms`,
//!   `X-Rate-Limit-Time-Window-Ms`, `X-Rate-Limit-Requests-Quota`, and 429:
//!   <https://docs.bigcommerce.com/developer/docs/overview/api-fundamentals/rate-limits>
//!
//! `url` is the store's API base with its hash, e.g.
//! `https://api.bigcommerce.com/stores/abc123/`; the token goes in `X-Auth-Token` (a sensitive
//! header), never in a message. `location_id` defaults to 1 (the default location).
//!
//! # What it publishes and how
//!
//! The location's on-hand count (`total_inventory_onhand`): what absolute adjustments set and
//! relative adjustments change; Get QOH reads the same number back. Deltas go as relative
//! adjustments ([`UpdateMode::RelativeUnkeyed`]: BigCommerce takes no idempotency key, so an
//! ambiguous failure is never re-sent blindly — the controller marks the record `uncertain`).
//! Send QOH uses absolute adjustments; a set with an `expected` count first reads the level
//! and answers [`SendOutcome::Conflict`] on a mismatch (the API has no compare-and-set: the
//! window between that read and the write is one request; where the write would first wait
//! for a used-up quota, the level is read again after the wait instead).
//!
//! Items go by SKU. Unknown SKUs are found before writing, with one `sku:in` read per 50 SKUs
//! not yet seen by this adapter, so one unknown SKU fails alone instead of a 422 for the whole
//! batch. A SKU `sku:in` does not find is looked for padded with blanks (`TEE ` for TEE, as
//! Get QOH reads it), by one read of the location's whole listing kept five minutes, and
//! written by its variant id (`BigCommerceAdapter::padded`; until 2026-12-05 every change of
//! such a SKU failed as unknown while Get QOH took its count, and the shop oversold). Should a 422 still come (an item that needs an absolute count before a relative one,
//! a quantity out of range), the refused part is halved and sent again until the refused
//! items stand alone; the others are applied. An item refused alone as "tracked by product,
//! please update stock by product id" goes again, and from then on, by the product id its
//! listing showed (a lookup's or Get QOH's); refused by that id later (the product made
//! again), it is looked up afresh and tried again ([`SendOutcome::Retry`]). Any other fails ([`SendOutcome::Failed`]), except a relative adjustment
//! refused for insufficient stock (the 422's text says "insufficient stock" or "insufficient
//! inventory": BigCommerce queues concurrent adjustments, and may refuse one for stock that
//! suffices once the queue settles, the reference's "concurrent adjustment handling") or for
//! an item without a count yet ("requires absolute adjustment before relative": a new product
//! or location, whose count Send QOH sets): each is [`SendOutcome::Retry`], tried again with
//! back-off, and bypassed only after the controller's attempts, with the refusal as its last
//! response. A sale refused for stock where the count, read after the refusal, would stay at
//! or above 0 but fall below the item's safety stock (which BigCommerce takes no relative
//! adjustment below, and no absolute one is refused for) is set as an absolute count
//! instead (one request after the read). A 423 (a resource locked for now) is [`CartError::Unavailable`]: nothing was
//! applied, and the changes wait. A 413 (a request too large for a front end before the API)
//! applied nothing either: the request is halved until its parts pass.
//! A 422's reason is read from its whole body (a SKU of up to
//! 255 characters named before it). A 207 ("a partial failure") to an adjustment is a lost
//! answer: some of it may be applied, and this adapter does not read which.
//!
//! Rate limits: a 429 is [`CartError::RateLimited`] with `X-Rate-Limit-Time-Reset-Ms` (or
//! `Retry-After`, or `X-Retry-After`) as the wait; when an answer (a refusal too) says
//! `X-Rate-Limit-Requests-Left: 0` the next request waits out the window first (at most
//! [`MAX_PACING`]). A 429 to one request of a call ends the call: the items not yet sent wait
//! the same time (BigCommerce calls consecutive 429s abusive, and the quota is shared with the
//! store's other apps).
//!
//! Send QOH sets each record of the cart once a run: two items reaching one (variants of a
//! product tracked by product, both sent by its id) set it with the first's count, and the
//! second fails naming the first.
//!
//! # Reads trail writes
//!
//! BigCommerce calls its Inventory API asynchronous: "there may be a short delay before data
//! is updated after the endpoints are called" (the inventory adjustments page above; the
//! BOPIS known limitations say the same of every inventory endpoint), and names no bound. A
//! read right after a sale was adjusted may still count the unit sold, and Get QOH would give
//! it back to the store. So the adapter declares a [`CartAdapter::read_lag`], a minute
//! ([`DEFAULT_READ_LAG`]) unless the cart's `read_lag_ms` setting says otherwise: Get QOH
//! leaves an item changed on the store within it (and five minutes more, for workstations'
//! clocks) for a later run, and the drift report
//! neither compares nor repairs it.
//!
//! Get QOH pages the location's items by number (the only paging the endpoint has), and
//! starts again from the first page when the listing's total changes under it (a product
//! deleted behind the page read hid the item that opened the next page), returning each item
//! once by its identity.

use super::common::{self, outcome_for_failed_request, Refusal};
use super::http_json::parse_retry_after;
use super::{
    CartAdapter, CartError, CataloguePage, DeltaSend, QuantityPage, QuantitySet, SendOutcome,
    UpdateMode,
};
use crate::error::Result;
use crate::secret::Secret;
use parking_lot::Mutex;
use reqwest::blocking::{Client, RequestBuilder, Response};
use reqwest::header::{HeaderMap, CONTENT_TYPE, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::{Duration, Instant};

/// Items per adjustment request (the platform's payload limit).
pub const MAX_ITEMS: usize = 2000;
/// Items per page when reading.
pub const MAX_LIMIT: u32 = 1000;
/// The largest count at one location.
pub const MAX_QUANTITY: i64 = 2_147_483_647;
/// The longest the adapter waits for a used-up quota window before a request.
pub const MAX_PACING: Duration = Duration::from_secs(30);
/// [`CartAdapter::read_lag`] unless the cart's `read_lag_ms` says otherwise. BigCommerce
/// documents a "short delay" before an adjustment shows in reads, and names no bound: a
/// minute is a guess well above what "short" suggests, paid for only by Get QOH leaving the
/// items changed in the last minute for a later run.
pub const DEFAULT_READ_LAG: Duration = Duration::from_secs(60);
const SKUS_PER_CHECK: usize = 50;
/// At most this many bytes of SKUs in one `sku:in` query, as the query writes them: with the
/// rest of the URL, well within the 8 KB request line front ends take.
const SKU_QUERY_BYTES: usize = 4000;

/// The BigCommerce adapter of one cart.
pub struct BigCommerceAdapter {
    base: Url,
    location: u64,
    client: Client,
    known: Mutex<HashSet<String>>,
    /// The product of each SKU a listing showed with one.
    products: Mutex<HashMap<String, Product>>,
    not_before: Mutex<Option<Instant>>,
    /// The records a Send QOH run set: an item sent by SKU reaches its own, one sent by
    /// product id its product's, which every variant of a product tracked by product shares.
    set_once: common::SetOnce,
    /// The items (by identity) the listing under way has returned: see
    /// [`CartAdapter::fetch_quantities`] below.
    listed: Mutex<HashSet<String>>,
    /// The token, to scrub from what the store (or a proxy before it) answers.
    secrets: Vec<String>,
    /// See [`CartAdapter::read_lag`] and [`BigCommerceAdapter::with_read_lag`].
    read_lag: Duration,
    /// The variant id of each SKU found only padded on the shop (`TEE ` for TEE) by the
    /// call's lookup, which its changes are written by ([`BigCommerceAdapter::padded`]).
    aliases: Mutex<HashMap<String, u64>>,
    /// The location's listing's padded SKUs ([`BigCommerceAdapter::padded_listing`]).
    padded_index: common::PaddedIndex<Listed>,
}

/// What a lookup asks the location's items for.
#[derive(Clone, Copy)]
enum Filter<'a> {
    /// Every item (Get QOH's listing, the padded index).
    All,
    /// `sku:in`.
    Skus(&'a [&'a str]),
    /// `variant_id:in`.
    Variants(&'a [u64]),
}

/// What [`BigCommerceAdapter::lookup`] found: each SKU's listing by the SKU asked, and why a
/// SKU listed only padded on more than one item is not sent.
#[derive(Default)]
struct Found {
    listed: HashMap<String, Listed>,
    twins: HashMap<String, String>,
    /// Why the SKUs not found exactly could not be looked for padded (the listing's read
    /// failed): they are neither found nor known to be missing.
    unsearched: Option<CartError>,
}

/// One page of the location's items, and what BigCommerce says of the whole listing.
struct ItemsPage {
    items: Vec<Listed>,
    pages: u32,
    /// `meta.pagination.total`: how many items the listing holds now.
    total: Option<u64>,
    /// Items listed with a `total_inventory_onhand` that is not a whole number (a proxy or
    /// app rewriting the answer): their identity as in [`Listed`], SKU, and why. Left out
    /// of `items`, so no count is taken or written from them.
    unreadable: Vec<(Option<String>, String, String)>,
}

/// An item as listed: its SKU, its on-hand count, and its identity (variant or product).
#[derive(Clone)]
struct Listed {
    sku: String,
    count: i64,
    id: Option<String>,
    /// `identity.variant_id`: how a SKU found only padded is written and read again
    /// ([`BigCommerceAdapter::padded`]).
    variant: Option<u64>,
    /// `identity.product_id`.
    product: Option<u64>,
    /// The location's safety stock for the item (`settings.safety_stock`): kept off the
    /// storefront, and below which BigCommerce takes no relative adjustment.
    safety: i64,
}

/// A SKU's product as a listing showed it, and whether the SKU goes by it: BigCommerce
/// refused it by SKU as "tracked by product".
struct Product {
    id: u64,
    by_id: bool,
}

/// How often a Get QOH listing starts again because the catalogue changed under it, before
/// it gives up.
const RESTARTS: u32 = 5;

/// Where a Get QOH listing stands: the page to read, how many items the listing held when
/// it started (or last started again), and how often it started again.
///
/// BigCommerce pages the location's items by number only, in an order it does not document.
/// An item that leaves the listing behind the page read (a product deleted meanwhile) pulls
/// every later item one place back, so the item that would have opened the next page is
/// never read: Get QOH would leave its QOH as it was, reported as done. One that joins it
/// pushes an item read onto the next page again. So a listing whose total changes starts
/// again from the first page (up to [`RESTARTS`] times), and an item, by its identity, is
/// returned once per listing. A change that leaves the total as it was (one product deleted,
/// another made) is not seen.
struct Cursor {
    page: u32,
    total: Option<u64>,
    restarts: u32,
}

impl Cursor {
    fn parse(c: &str) -> std::result::Result<Cursor, CartError> {
        let bad = || {
            CartError::Rejected(format!(
                "bad bigcommerce cursor {}",
                super::http_json::excerpt(c.as_bytes())
            ))
        };
        let mut parts = c.split(':');
        let mut next = || parts.next().ok_or_else(bad);
        let page = next()?.parse().map_err(|_| bad())?;
        let total = match next()? {
            "" => None,
            t => Some(t.parse().map_err(|_| bad())?),
        };
        let restarts = next()?.parse().map_err(|_| bad())?;
        Ok(Cursor {
            page,
            total,
            restarts,
        })
    }
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.total.map(|t| t.to_string()).unwrap_or_default();
        write!(f, "{}:{total}:{}", self.page, self.restarts)
    }
}

impl fmt::Debug for BigCommerceAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BigCommerceAdapter")
            .field("url", &self.base.as_str())
            .field("location_id", &self.location)
            .field("token", &"***")
            .finish_non_exhaustive()
    }
}

/// A header's milliseconds, within the bound a `Retry-After` is believed to (under 1e9 s,
/// [`parse_retry_after`]): a larger one is no wait the cart means, and taken as none. Taken
/// as given (until 2026-12-05), a 429 naming `u64::MAX` held the cart's sales for ever, no
/// attempt counted, so never bypassed either.
fn header_ms(headers: &HeaderMap, name: &str) -> Option<Duration> {
    headers
        .get(name)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_millis)
        .filter(|d| d.as_secs_f64() < 1e9)
}

impl BigCommerceAdapter {
    /// How it sends changes.
    pub(crate) const UPDATE_MODE: UpdateMode = UpdateMode::RelativeUnkeyed;

    /// An adapter for the store API base `url` (with the store hash), the API account's
    /// `token`, writing at `location_id`.
    pub fn new(url: &str, token: Secret, location_id: u64, timeout: Duration) -> Result<Self> {
        let base = common::base_url(url, "bigcommerce")?;
        let mut headers = HeaderMap::new();
        common::secret_header(
            &mut headers,
            "x-auth-token",
            token.expose(),
            "bigcommerce token",
        )?;
        headers.insert(
            reqwest::header::ACCEPT,
            reqwest::header::HeaderValue::from_static("application/json"),
        );
        Ok(BigCommerceAdapter {
            base,
            location: location_id,
            client: common::client(headers, timeout, "bigcommerce")?,
            known: Mutex::new(HashSet::new()),
            products: Mutex::new(HashMap::new()),
            not_before: Mutex::new(None),
            set_once: Default::default(),
            listed: Mutex::new(HashSet::new()),
            secrets: vec![token.expose().to_owned()],
            read_lag: DEFAULT_READ_LAG,
            aliases: Mutex::new(HashMap::new()),
            padded_index: Default::default(),
        })
    }

    /// The same adapter declaring `lag` as its [`CartAdapter::read_lag`] instead of
    /// [`DEFAULT_READ_LAG`] (the cart's `read_lag_ms`): longer where a store's reads are seen
    /// to trail its adjustments by more; zero only where they never do.
    pub fn with_read_lag(mut self, lag: Duration) -> Self {
        self.read_lag = lag;
        self
    }

    fn url(&self, path: &str) -> Url {
        self.base
            .join("v3/inventory/")
            .and_then(|u| u.join(path))
            .expect("fixed relative path")
    }

    /// Sends `request` with quota pacing and BigCommerce's 429 mapping. An adjustment
    /// (`write`) answered 500, or 502/504 by a gateway, is a lost answer
    /// ([`common::gateway_lost_answer`]): the Inventory API applies adjustments
    /// asynchronously, so an internal error says nothing of whether this one was taken; a
    /// relative one sent twice applies twice (it carries no key a re-send could be known by),
    /// and an absolute one may carry counts that include waiting records, which would then
    /// be sent again on top.
    fn send(
        &self,
        request: RequestBuilder,
        write: bool,
    ) -> std::result::Result<Vec<u8>, CartError> {
        match self.send_keeping(request, write, None)? {
            Ok((_, body)) => Ok(body),
            Err(refusal) => Err(refusal.error),
        }
    }

    /// [`send`](Self::send), with the status of a 2xx answer, and an answer of status `keep`
    /// given back with its whole body ([`common::exchange_keeping`]).
    fn send_keeping(
        &self,
        request: RequestBuilder,
        write: bool,
        keep: Option<StatusCode>,
    ) -> std::result::Result<std::result::Result<(StatusCode, Vec<u8>), Refusal>, CartError> {
        let wait = self.not_before.lock().take();
        if let Some(until) = wait {
            let now = Instant::now();
            if until > now {
                std::thread::sleep((until - now).min(MAX_PACING));
            }
        }
        let on_error = |r: &Response| -> Option<CartError> {
            self.pace(r.headers());
            if write {
                if let Some(e) =
                    common::gateway_lost_answer(r).or_else(|| common::see_other_lost_answer(r))
                {
                    return Some(e);
                }
            }
            if write && r.status().as_u16() == 500 {
                return Some(CartError::Ambiguous(format!(
                    "HTTP {}: the cart may have applied the change before failing",
                    r.status()
                )));
            }
            // "The requested resource is currently locked and unavailable" (the API's status
            // codes): nothing was applied, and a lock passes; refused, every change of the
            // request was bypassed at once.
            if r.status().as_u16() == 423 {
                return Some(CartError::Unavailable(format!(
                    "HTTP {}: bigcommerce says the resource is locked for now",
                    r.status()
                )));
            }
            // The wait: the window's reset, else `Retry-After`, else BigCommerce's own
            // `X-Retry-After` ("the number of seconds before the quota refreshes"; taken as
            // none, the change went again within the spent window, and BigCommerce calls
            // consecutive 429s abusive).
            (r.status().as_u16() == 429).then(|| CartError::RateLimited {
                retry_after: header_ms(r.headers(), "x-rate-limit-time-reset-ms").or_else(|| {
                    [RETRY_AFTER.as_str(), "x-retry-after"]
                        .iter()
                        .find_map(|h| {
                            r.headers()
                                .get(*h)
                                .and_then(|v| v.to_str().ok())
                                .and_then(parse_retry_after)
                        })
                }),
                message: "HTTP 429: the store's API quota is used up for this window".into(),
            })
        };
        Ok(match common::exchange_keeping(request, on_error, keep)? {
            Ok((status, headers, body)) => {
                self.pace(&headers);
                Ok((status, body))
            }
            Err(refusal) => Err(refusal),
        })
    }

    /// Notes the quota an answer reports, whatever its status (a 422 or a 429 counts against
    /// the window as a success does): used up, the next request waits out the window.
    fn pace(&self, headers: &HeaderMap) {
        let left = headers
            .get("x-rate-limit-requests-left")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        if left == Some(0) {
            if let Some(reset) = header_ms(headers, "x-rate-limit-time-reset-ms") {
                *self.not_before.lock() = Some(Instant::now() + reset);
            }
        }
    }

    /// `None` where this run's Send QOH may set `sku`'s count: the first item to reach the
    /// record it is written to, or that item again; otherwise why not
    /// ([`common::SetOnce::claim`]). Asked as each part goes, since an item refused as
    /// "tracked by product" goes again to its product's record.
    fn claim(&self, sku: &str) -> Option<SendOutcome> {
        let product = self
            .products
            .lock()
            .get(sku)
            .filter(|p| p.by_id)
            .map(|p| p.id);
        match product {
            Some(id) => self.set_once.claim(
                &format!("product {id}"),
                sku,
                &format!("bigcommerce's product {id} (its stock tracked by product)"),
            ),
            None => self
                .set_once
                .claim(&format!("sku {sku}"), sku, "its bigcommerce item"),
        }
    }

    /// One page of levels at the location.
    fn items_page(
        &self,
        page: u32,
        limit: u32,
        filter: Filter<'_>,
    ) -> std::result::Result<ItemsPage, CartError> {
        let mut url = self.url(&format!("locations/{}/items", self.location));
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("page", &page.to_string());
            q.append_pair("limit", &limit.to_string());
            match filter {
                Filter::All => {}
                Filter::Skus(s) => {
                    q.append_pair("sku:in", &s.join(","));
                }
                Filter::Variants(v) => {
                    let ids: Vec<String> = v.iter().map(u64::to_string).collect();
                    q.append_pair("variant_id:in", &ids.join(","));
                }
            }
        }
        // 404: the store has no such location (or no such store hash): a setting only the
        // owner can fix. The cart pauses with its records waiting, as for refused
        // credentials, rather than have every record bypassed as permanently refused.
        let bytes = self.send(self.client.get(url), false).map_err(|e| match e {
            CartError::Rejected(m) if m.starts_with("HTTP 404") => CartError::Unauthorized(format!(
                "bigcommerce has no inventory location {} at this url: check the cart's location_id and url ({m})",
                self.location
            )),
            e => e,
        })?;
        let v: Value = serde_json::from_slice(&bytes)
            .map_err(|e| CartError::Unavailable(common::malformed("bigcommerce", e, &bytes)))?;
        let mut products = self.products.lock();
        let mut unreadable = Vec::new();
        let items = v["data"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| {
                let identity = &d["identity"];
                // The variant (every product has at least its base one), else the product.
                let id = match (
                    identity["variant_id"].as_u64(),
                    identity["product_id"].as_u64(),
                ) {
                    (Some(v), _) => Some(format!("v{v}")),
                    (None, Some(p)) => Some(format!("p{p}")),
                    _ => None,
                };
                let sku = identity["sku"].as_str().filter(|s| !s.is_empty())?;
                // (A product made again under a new id keeps the SKU going by id.)
                if let Some(id) = identity["product_id"].as_u64() {
                    products
                        .entry(sku.to_owned())
                        .and_modify(|p| p.id = id)
                        .or_insert(Product { id, by_id: false });
                }
                let onhand = &d["total_inventory_onhand"];
                let count = match common::whole_count(onhand) {
                    Some(Ok(n)) => n,
                    _ => {
                        unreadable.push((
                            id,
                            sku.to_owned(),
                            common::unreadable_count("total_inventory_onhand", onhand),
                        ));
                        return None;
                    }
                };
                Some(Listed {
                    sku: sku.to_owned(),
                    count,
                    id,
                    variant: identity["variant_id"].as_u64(),
                    product: identity["product_id"].as_u64(),
                    safety: d["settings"]["safety_stock"].as_i64().unwrap_or(0),
                })
            })
            .collect();
        drop(products);
        let pagination = &v["meta"]["pagination"];
        Ok(ItemsPage {
            items,
            pages: pagination["total_pages"].as_u64().unwrap_or(1) as u32,
            total: pagination["total"].as_u64(),
            unreadable,
        })
    }

    /// The current on-hand count of the SKUs that exist (all pages), marking them known.
    ///
    /// A read this adapter makes for its own checks that BigCommerce refuses (a 4xx other
    /// than those with a meaning of their own) is [`CartError::Unavailable`], its message
    /// saying what the read was `for_what` (a send's check: nothing was sent, and the changes
    /// go again later). As [`CartError::Rejected`], every change of the call was bypassed at
    /// once for a read.
    fn levels(
        &self,
        skus: &[&str],
        for_what: &str,
    ) -> std::result::Result<HashMap<String, i64>, CartError> {
        Ok(self
            .looked_up(skus, for_what)?
            .listed
            .into_iter()
            .map(|(sku, l)| (sku, l.count))
            .collect())
    }

    /// [`Self::lookup`], a refusal made [`CartError::Unavailable`] as [`Self::levels`] says,
    /// and a failed search for padded SKUs an error of the call: its caller needs every SKU.
    fn looked_up(&self, skus: &[&str], for_what: &str) -> std::result::Result<Found, CartError> {
        let found = self.lookup(skus).map_err(|e| read_refused(e, for_what))?;
        match found.unsearched {
            Some(e) => Err(read_refused(e, for_what)),
            None => Ok(found),
        }
    }

    /// The listing of each of `skus` the location has (all pages), by the SKU asked, marking
    /// them known: first exactly as `sku:in` answers (one read per [`query_chunks`] run, the
    /// requests of a catalogue whose SKUs all match); then, only for the SKUs not found so,
    /// an item whose SKU is the one asked padded with blanks ([`Self::padded`]).
    fn lookup(&self, skus: &[&str]) -> std::result::Result<Found, CartError> {
        let mut found = Found::default();
        // Items a `sku:in` answered with the SKU asked padded (a filter comparing as MySQL's
        // padding collations do would): candidates for free, should the exact one be missing.
        let mut padded: HashMap<String, Vec<Listed>> = HashMap::new();
        for chunk in query_chunks(skus) {
            let mut page = 1;
            loop {
                let listing = self.items_page(page, MAX_LIMIT, Filter::Skus(chunk))?;
                for i in listing.items {
                    if chunk.contains(&i.sku.as_str()) {
                        found.listed.insert(i.sku.clone(), i);
                    } else if chunk.contains(&i.sku.trim()) {
                        padded.entry(i.sku.trim().to_owned()).or_default().push(i);
                    }
                }
                if page >= listing.pages {
                    break;
                }
                page += 1;
            }
        }
        let missing: Vec<&str> = skus
            .iter()
            .copied()
            .filter(|s| !found.listed.contains_key(*s))
            .collect();
        // A SKU found exactly takes its changes by SKU, as BigCommerce itself names the item:
        // one found padded before (the owner has made the SKU exactly since) no longer does.
        let exact: Vec<String> = found.listed.keys().cloned().collect();
        {
            let mut aliases = self.aliases.lock();
            for sku in &exact {
                aliases.remove(sku);
            }
        }
        if !missing.is_empty() {
            match self.padded(&missing, padded, &mut found) {
                Ok(()) => {}
                // A rate limit or refused credentials hold the whole cart (rule 10).
                Err(e @ (CartError::RateLimited { .. } | CartError::Unauthorized(_))) => {
                    return Err(e)
                }
                // Any other failure of the listing's read leaves only the SKUs it was for
                // unsent: the SKUs found exactly go on, as before padded SKUs were looked for
                // (until 2026-12-05 a page of the listing failing stopped every change of a
                // call with one SKU the shop lacks).
                Err(e) => found.unsearched = Some(e),
            }
        }
        // Only SKUs found exactly are known: one found padded is looked up again at every
        // call, exactly first, so that an exact item made since takes its changes and an item
        // renamed or deleted since stops taking them (until 2026-12-05 it kept its variant id
        // until the controller stopped: the changes went to whatever the variant had become).
        self.known.lock().extend(exact);
        Ok(found)
    }

    /// Finds the items of `missing` (SKUs `sku:in` did not answer exactly) whose SKU is the
    /// one asked with blanks around it (`TEE ` for TEE: imported by CSV past BigCommerce's own
    /// trimming), as Get QOH reads such a listing (trimmed, as the store reads SKUs), so the
    /// store's changes reach the item Get QOH takes counts from.
    ///
    /// BigCommerce documents `sku:in` only as "a list of `sku` separated by comma" on the
    /// location's items (and the catalogue's `sku` and `sku:in` filters of variants no
    /// better): not whether it pads, trims the listed values, or compares exactly, and it has
    /// no filter by part of a SKU. So nothing is asked in a padded form: the location's whole
    /// listing (`GET locations/{id}/items`, [`MAX_LIMIT`] a page, one request per thousand
    /// items) is read once and kept as an index of its padded SKUs for
    /// [`common::PADDED_INDEX_TTL`] (and until the next manual run: [`common::PaddedIndex`]);
    /// an item found there is read again by its `variant_id:in` (documented and exact) where
    /// the index is older than this call, and written by its `variant_id`, which the
    /// adjustments take as they take a `sku`; it is not kept as known, so each call looks the
    /// SKU up exactly first (an exact item made since takes over). A catalogue whose SKUs all match exactly never reads the listing; an unknown
    /// SKU costs the listing's read at most once per [`common::PADDED_INDEX_TTL`].
    ///
    /// A SKU found so on two items (`TEE ` and ` TEE`) is refused, naming both: neither is
    /// surely the item's (Get QOH applies neither count either). A SKU also listed exactly is
    /// never looked up here: the exact item takes the change, as it did before padded SKUs
    /// were looked for, and the padded twin none. Finding that twin would take this lookup for
    /// every SKU of every call; and the exact item is the one BigCommerce itself names by the
    /// SKU (an adjustment by `sku`, the storefront's search by SKU), so no count lands on an
    /// item whose SKU is not the store's.
    fn padded(
        &self,
        missing: &[&str],
        mut candidates: HashMap<String, Vec<Listed>>,
        found: &mut Found,
    ) -> std::result::Result<(), CartError> {
        // Each is aliased again below only if found again.
        {
            let mut aliases = self.aliases.lock();
            for s in missing {
                aliases.remove(*s);
            }
        }
        let mut fresh = !candidates.is_empty();
        if missing.iter().any(|s| !candidates.contains_key(*s)) {
            let (index, read_now) = self.padded_index.find(missing, || self.padded_listing())?;
            fresh = read_now;
            for s in missing {
                if let Some(c) = index.get(*s) {
                    candidates
                        .entry((*s).to_owned())
                        .or_insert_with(|| c.clone());
                }
            }
        }
        let (single, twins) = common::padded_split(
            missing
                .iter()
                .filter_map(|s| Some((*s, candidates.get(*s)?.as_slice()))),
            "bigcommerce lists",
            "item",
            |l| format!("{:?}", l.sku),
        );
        for (s, why) in twins {
            found.twins.insert(s.to_owned(), why);
        }
        if single.is_empty() {
            return Ok(());
        }
        // Read again by variant id where the index is older than this call: its counts are
        // the index's, and the item may have changed its SKU since.
        let now: HashMap<u64, Listed> = if fresh {
            single
                .iter()
                .filter_map(|(_, l)| Some((l.variant?, (*l).clone())))
                .collect()
        } else {
            let ids: Vec<u64> = single.iter().filter_map(|(_, l)| l.variant).collect();
            let mut now = HashMap::new();
            for chunk in ids.chunks(SKUS_PER_CHECK) {
                let listing = self.items_page(1, MAX_LIMIT, Filter::Variants(chunk))?;
                now.extend(
                    listing
                        .items
                        .into_iter()
                        .filter_map(|l| Some((l.variant?, l))),
                );
            }
            now
        };
        let mut products = self.products.lock();
        let mut aliases = self.aliases.lock();
        for (s, l) in single {
            let Some(variant) = l.variant else { continue };
            let Some(item) = now.get(&variant).filter(|i| i.sku.trim() == s) else {
                continue;
            };
            aliases.insert(s.to_owned(), variant);
            if let Some(id) = item.product {
                products
                    .entry(s.to_owned())
                    .and_modify(|p| p.id = id)
                    .or_insert(Product { id, by_id: false });
            }
            found.listed.insert(s.to_owned(), item.clone());
        }
        Ok(())
    }

    /// The padded SKUs of the location's whole listing, by their trimmed form: the index
    /// [`Self::padded`] keeps for [`common::PADDED_INDEX_TTL`].
    ///
    /// Where the listing's total changes while it is read (a product made or deleted in the
    /// admin meanwhile), an item may have moved across a page's edge into a page already
    /// read: the listing is read again from the first page (up to [`RESTARTS`] times), as Get
    /// QOH's is, each item kept once by its identity. Until 2026-12-05 such an item was
    /// missed, and every change of its SKU failed as unknown while the index was kept. What
    /// the pass before found is dropped: an item deleted since stayed in the index, a twin of
    /// its SKU's other padded item (an owner deleting one of two twins), and every change of
    /// the SKU was refused (bypassed) while the index was kept.
    fn padded_listing(&self) -> std::result::Result<common::PaddedSkus<Listed>, CartError> {
        let mut index = common::PaddedListing::default();
        let (mut page, mut total, mut restarts) = (1, None, 0);
        loop {
            let listing = self.items_page(page, MAX_LIMIT, Filter::All)?;
            match (total, listing.total) {
                (Some(was), Some(now)) if was != now => {
                    if restarts >= RESTARTS {
                        return Err(CartError::Unavailable(format!(
                            "the bigcommerce catalogue changed while its padded SKUs were \
                             read, {} times (it lists {now} items, {was} before): try again \
                             when it is not being changed",
                            restarts + 1
                        )));
                    }
                    // Read whole again: an item of the pass before may be deleted since.
                    index.restart();
                    (page, total, restarts) = (1, Some(now), restarts + 1);
                    continue;
                }
                (None, now) => total = now,
                _ => {}
            }
            for i in listing.items {
                if common::unpadded(&i.sku).is_some() {
                    let (id, sku) = (i.id.clone(), i.sku.clone());
                    index.add(id.as_deref(), &sku, || i);
                }
            }
            if page >= listing.pages {
                break;
            }
            page += 1;
        }
        Ok(index.done())
    }

    /// Why each SKU this adapter has not seen yet cannot be sent: the store does not have it,
    /// or has it only padded on more than one item ([`Self::padded`]). SKUs holding a comma
    /// cannot go in `sku:in`: they are sent unchecked.
    fn unknown_skus(
        &self,
        skus: &[&str],
    ) -> std::result::Result<HashMap<String, SendOutcome>, CartError> {
        let unchecked: Vec<&str> = {
            let known = self.known.lock();
            let mut v: Vec<&str> = skus
                .iter()
                .copied()
                .filter(|s| !known.contains(*s) && !s.contains(','))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        if unchecked.is_empty() {
            return Ok(HashMap::new());
        }
        let mut found = self
            .lookup(&unchecked)
            .map_err(|e| read_refused(e, SEND_CHECK))?;
        Ok(unchecked
            .into_iter()
            .filter(|s| !found.listed.contains_key(*s))
            .map(|s| {
                let outcome = match (found.twins.remove(s), &found.unsearched) {
                    (Some(why), _) => SendOutcome::Failed { message: why },
                    // Nothing was sent: tried again, as a change the cart could not take now.
                    (None, Some(e)) => SendOutcome::Retry {
                        message: format!(
                            "sku {s}: not listed exactly, and the listing where it is looked \
                             for padded with blanks could not be read: {}",
                            e.message()
                        ),
                        after: None,
                    },
                    (None, None) => SendOutcome::Failed {
                        message: unknown_message(s),
                    },
                };
                (s.to_owned(), outcome)
            })
            .collect())
    }

    /// Sends `sku` by its product id from now on, if a listing showed one and it is not sent
    /// so already: whether it changed.
    fn go_by_product(&self, sku: &str) -> bool {
        match self.products.lock().get_mut(sku) {
            Some(p) if !p.by_id => {
                p.by_id = true;
                true
            }
            _ => false,
        }
    }

    /// Stops sending `sku` by product id, forgetting what was learnt of it: whether it was.
    fn forget_product(&self, sku: &str) -> bool {
        let mut products = self.products.lock();
        if !products.get(sku).is_some_and(|p| p.by_id) {
            return false;
        }
        products.remove(sku);
        drop(products);
        self.known.lock().remove(sku);
        self.aliases.lock().remove(sku);
        true
    }

    /// A sale (`delta`) BigCommerce refused as a relative adjustment for stock, where it
    /// would take the count below the item's safety stock but not below 0: BigCommerce takes
    /// no relative adjustment below the safety stock ("would bring the item's stock below the
    /// safety buffer ... would error"), while it "never return[s] insufficient stock error in
    /// absolute adjustment" (its inventory-adjustments guide). The count is read and set to
    /// itself plus the sale; until 2026-12-04 the sale was tried until bypassed, and the shop
    /// kept the units the store had sold at its counter. `None` where the refusal is not the
    /// safety stock's (a queue of concurrent adjustments, a count below the sale): tried
    /// again. The read and the write are one request apart, the window of every read, add and
    /// write (a storefront order landing between them is overwritten).
    fn below_safety_stock(
        &self,
        sku: &str,
        delta: i64,
    ) -> std::result::Result<Option<SendOutcome>, CartError> {
        // A read refused (a 4xx of its own) says nothing of the sale: tried again, as a
        // refusal for stock is, not failed by it.
        let listed = match self.lookup(&[sku]).and_then(|f| match f.unsearched {
            Some(e) => Err(e),
            None => Ok(f),
        }) {
            Err(CartError::Rejected(_)) => return Ok(None),
            read => read?,
        };
        let Some(item) = listed.listed.get(sku) else {
            return Ok(None);
        };
        let target = item.count + delta;
        if target < 0 || target >= item.safety {
            return Ok(None);
        }
        Ok(Some(match self.adjust(false, &[(sku, target)])? {
            Ok(()) => SendOutcome::Applied { qoh: Some(target) },
            Err((message, _)) => SendOutcome::Failed {
                message: format!(
                    "sku {sku}: bigcommerce refused the sale below its safety stock, and the \
                     count {target} it would leave: {message}"
                ),
            },
        }))
    }

    /// Whether the next request waits for the quota's window first.
    fn pacing_pending(&self) -> bool {
        self.not_before
            .lock()
            .is_some_and(|until| until > Instant::now())
    }

    /// Reads again the counts of `part`'s compared SKUs (`expected_of`) while its write would
    /// wait for the quota first (the read waits instead), and takes out of `part` each whose
    /// count is no longer the one expected ([`SendOutcome::Conflict`]). A quota so small that
    /// each read uses it up is read three times, then written after its wait.
    fn compare_again(
        &self,
        part: &mut Vec<(usize, &str, i64)>,
        expected_of: &HashMap<&str, i64>,
        out: &mut [Option<SendOutcome>],
    ) -> std::result::Result<(), CartError> {
        for _ in 0..3 {
            let compared: Vec<&str> = part
                .iter()
                .map(|(_, sku, _)| *sku)
                .filter(|sku| expected_of.contains_key(sku))
                .collect();
            if compared.is_empty() || !self.pacing_pending() {
                return Ok(());
            }
            let now = self.levels(&compared, SEND_CHECK)?;
            part.retain(|(i, sku, _)| match (expected_of.get(sku), now.get(*sku)) {
                (None, _) => true,
                (Some(expected), Some(current)) if current == expected => true,
                (Some(_), Some(current)) => {
                    out[*i] = Some(SendOutcome::Conflict { current: *current });
                    false
                }
                (Some(_), None) => {
                    out[*i] = Some(SendOutcome::Failed {
                        message: format!(
                            "sku {sku}: BigCommerce no longer lists it at this location, so \
                             the count was not set"
                        ),
                    });
                    false
                }
            });
        }
        Ok(())
    }

    /// One adjustment request. `Ok(Err((message, body)))`: a 422 (nothing applied), its
    /// message quoting an excerpt, and its whole body, which says why (a long SKU before the
    /// reason put it past the excerpt, and a refusal to be tried again failed for good).
    fn adjust(
        &self,
        relative: bool,
        items: &[(&str, i64)],
    ) -> std::result::Result<std::result::Result<(), (String, String)>, CartError> {
        let products = self.products.lock();
        let aliases = self.aliases.lock();
        // A SKU found only padded (`TEE ` for TEE) by the variant id it was found with: its
        // own SKU, as the store writes it, names no item.
        let body = json!({
            "reason": "inventory_sync",
            "items": items.iter().map(|(sku, q)| {
                match (products.get(*sku).filter(|p| p.by_id), aliases.get(*sku)) {
                    (Some(p), _) => json!({"location_id": self.location, "product_id": p.id, "quantity": q}),
                    (None, Some(v)) => json!({"location_id": self.location, "variant_id": v, "quantity": q}),
                    (None, None) => json!({"location_id": self.location, "sku": sku, "quantity": q}),
                }
            }).collect::<Vec<_>>(),
        });
        drop(aliases);
        drop(products);
        let url = self.url(if relative {
            "adjustments/relative"
        } else {
            "adjustments/absolute"
        });
        let request = if relative {
            self.client.post(url)
        } else {
            self.client.put(url)
        };
        let request = request
            .header(CONTENT_TYPE, "application/json")
            .body(serde_json::to_vec(&body).expect("json"));
        match self.send_keeping(request, true, Some(StatusCode::UNPROCESSABLE_ENTITY))? {
            // "Multiple operations have taken place ... Typically indicates that a partial
            // failure has occurred" (BigCommerce's status codes): some of the request may
            // have been applied, and it is not known which; read as every item applied
            // (until 2026-12-04), the ones refused were taken as on the cart.
            Ok((StatusCode::MULTI_STATUS, body)) => Err(CartError::Ambiguous(format!(
                "HTTP 207: bigcommerce applied part of the request, and says which only in a form this adapter does not read: {}",
                super::http_json::excerpt(&body)
            ))),
            Ok(_) => Ok(Ok(())),
            Err(refusal) => match refusal.error {
                CartError::Rejected(m) if refusal.body.is_empty() => Ok(Err((m.clone(), m))),
                CartError::Rejected(m) => Ok(Err((m, refusal.body))),
                e => Err(e),
            },
        }
    }

    /// Writes in requests of at most [`MAX_ITEMS`]. A 422 applies nothing, and names the items
    /// it refused only by identity in its title (`Items with identity: [product_id 113] …`),
    /// which need not be how the request named them; so a refused part is halved and each
    /// half sent again, until each refused item stands alone and fails by itself (or, a
    /// relative one refused for insufficient stock, is tried again later). One bad item
    /// among 50 costs about a dozen requests, and the other 49 are applied.
    ///
    /// `expected_of`: the count each SKU set with a compare was read at. A part is written
    /// right after the read it was compared with, or read again: where the quota's window
    /// was used up meanwhile, the write would wait for it (up to [`MAX_PACING`]), and a sale
    /// made on the cart in that time would be overwritten.
    fn write(
        &self,
        relative: bool,
        items: &[(usize, &str, i64)],
        expected_of: &HashMap<&str, i64>,
        out: &mut [Option<SendOutcome>],
    ) -> std::result::Result<(), CartError> {
        let mut answered = false;
        for chunk in items.chunks(MAX_ITEMS) {
            let mut parts = vec![chunk.to_vec()];
            while let Some(mut part) = parts.pop() {
                if let Err(e) = self.compare_again(&mut part, expected_of, out) {
                    if !answered {
                        return Err(e);
                    }
                    for (i, sku, _) in items {
                        out[*i].get_or_insert_with(|| common::not_sent_after(&e, sku));
                    }
                    return Ok(());
                }
                if part.is_empty() {
                    continue;
                }
                // Two items reaching one record (two variants of a product tracked by
                // product): the first's count is set, the second fails naming it, in this
                // request or any later one of the run (the last written would stand, both
                // reported set).
                if !relative {
                    part.retain(|(i, sku, _)| match self.claim(sku) {
                        Some(refused) => {
                            out[*i] = Some(refused);
                            false
                        }
                        None => true,
                    });
                    if part.is_empty() {
                        continue;
                    }
                }
                let body: Vec<(&str, i64)> = part.iter().map(|(_, s, q)| (*s, *q)).collect();
                match self.adjust(relative, &body) {
                    // Too large for a front end before the API (413): nothing was applied,
                    // and the part is halved, as a 422's refused part is; one item refused so
                    // alone is tried again, and bypassed only after the attempts
                    // (`common::outcome_for_failed_request`). Refused for good, every change
                    // of the request was bypassed at once.
                    Err(e) if common::too_large(&e) => {
                        if part.len() > 1 {
                            let second = part.split_off(part.len() / 2);
                            parts.push(second);
                            parts.push(part);
                        } else {
                            for (i, sku, _) in &part {
                                out[*i] = Some(outcome_for_failed_request(&e, sku, false));
                            }
                        }
                        continue;
                    }
                    Err(e)
                        if common::fails_whole_call(&e, !answered, part.len() == out.len()) =>
                    {
                        return Err(e)
                    }
                    Err(e) => {
                        for (i, sku, _) in &part {
                            out[*i] = Some(outcome_for_failed_request(&e, sku, false));
                        }
                        if common::ends_write(&e) {
                            for (i, sku, _) in items {
                                out[*i].get_or_insert_with(|| common::not_sent_after(&e, sku));
                            }
                            return Ok(());
                        }
                    }
                    Ok(Ok(())) => {
                        for (i, _, q) in &part {
                            out[*i] = Some(SendOutcome::Applied {
                                qoh: (!relative).then_some(*q),
                            });
                        }
                    }
                    Ok(Err((message, why))) => match part.as_slice() {
                        // "Item with variant_id 106 is tracked by product, please update stock
                        // by product id" (the adjustments reference's 422): the item is sent
                        // again, and from then on, by the product id its listing showed.
                        [(_, sku, _)] if tracked_by_product(&why) && self.go_by_product(sku) => {
                            parts.push(part)
                        }
                        // A relative adjustment refused for stock: where it would take the
                        // count below the item's safety stock (not below 0), which BigCommerce
                        // refuses a relative adjustment for good, the count is set instead;
                        // otherwise it may pass once BigCommerce's queue of concurrent
                        // adjustments settles: tried again (with back-off, bypassed only after
                        // the controller's attempts), not failed at once.
                        [(i, sku, delta)] if relative && insufficient_stock(&why) => {
                            match self.below_safety_stock(sku, *delta) {
                                Ok(Some(outcome)) => out[*i] = Some(outcome),
                                Ok(None) => {
                                    out[*i] = Some(SendOutcome::Retry {
                                        message: format!(
                                            "sku {sku}: not applied, bigcommerce refused it for stock (may pass once concurrent adjustments settle): {message}"
                                        ),
                                        after: None,
                                    })
                                }
                                Err(e) => {
                                    out[*i] = Some(outcome_for_failed_request(&e, sku, false));
                                    if common::ends_write(&e) {
                                        for (i, sku, _) in items {
                                            out[*i].get_or_insert_with(|| {
                                                common::not_sent_after(&e, sku)
                                            });
                                        }
                                        return Ok(());
                                    }
                                }
                            }
                        }
                        // A new product (or location) holds no count until an absolute
                        // adjustment sets one ("You must make an absolute adjustment to a
                        // product's inventory before you can make a relative adjustment"), and
                        // one Send QOH made may still wait in BigCommerce's queue: tried again,
                        // and the message says what sets the count.
                        [(i, sku, _)] if relative && absolute_first(&why) => {
                            out[*i] = Some(SendOutcome::Retry {
                                message: format!(
                                    "sku {sku}: not applied, bigcommerce holds no count of it yet, which a Send QOH to the cart sets (forced while real-time sync is on); tried again meanwhile: {message}"
                                ),
                                after: None,
                            })
                        }
                        // Refused by its product id: the product may have been made again
                        // (a new id) or be tracked by variant again. Forgotten, the item is
                        // looked up afresh and sent by SKU at the next try; failed, it would
                        // go to the old id, refused, for as long as the adapter lives.
                        [(i, sku, _)] if self.forget_product(sku) => {
                            out[*i] = Some(SendOutcome::Retry {
                                message: format!(
                                    "sku {sku}: not applied, bigcommerce refused it by its product id, which is looked up again at the next try: {message}"
                                ),
                                after: None,
                            })
                        }
                        [(i, sku, _)] => {
                            out[*i] = Some(SendOutcome::Failed {
                                message: format!("sku {sku}: bigcommerce refused it: {message}"),
                            })
                        }
                        _ => {
                            let second = part.split_off(part.len() / 2);
                            parts.push(second);
                            parts.push(part);
                        }
                    },
                }
                answered = true;
            }
        }
        Ok(())
    }
}

/// `skus` in runs for one `sku:in` query each: at most [`SKUS_PER_CHECK`] SKUs, and at
/// most [`SKU_QUERY_BYTES`] of them as the query writes them (one SKU longer goes alone).
/// BigCommerce takes SKUs of up to 255 characters; 50 such made a request line of 13 KB,
/// which front ends refuse past 8 KB (Apache's `LimitRequestLine`, nginx's header buffers).
fn query_chunks<'a, 'b>(skus: &'b [&'a str]) -> Vec<&'b [&'a str]> {
    // As `application/x-www-form-urlencoded` writes a byte: as is, `+` for a blank, or %XX.
    let encoded = |sku: &str| -> usize {
        sku.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' | b' ' => 1,
                _ => 3,
            })
            .sum::<usize>()
            + 3 // the comma between SKUs, written %2C
    };
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, sku) in skus.iter().enumerate() {
        let len = encoded(sku);
        if i > start && (i - start == SKUS_PER_CHECK || bytes + len > SKU_QUERY_BYTES) {
            chunks.push(&skus[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += len;
    }
    if start < skus.len() {
        chunks.push(&skus[start..]);
    }
    chunks
}

/// Whether a 422's text says the item is tracked by product, to be sent by product id.
fn tracked_by_product(message: &str) -> bool {
    message.to_ascii_lowercase().contains("tracked by product")
}

/// Whether a 422's text says the item needs an absolute adjustment before a relative one.
fn absolute_first(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("absolute adjustment before relative")
        || m.contains("absolute adjustment to a product's inventory before")
}

/// Whether a 422's text says the stock did not suffice (BigCommerce's title, or its body).
fn insufficient_stock(message: &str) -> bool {
    let m = message.to_ascii_lowercase();
    m.contains("insufficient stock") || m.contains("insufficient inventory")
}

/// A read for a send's own check that BigCommerce refused (a 4xx other than those with a
/// meaning of their own), as [`CartError::Unavailable`] naming `for_what` it was: as
/// [`CartError::Rejected`] every change of the call would be bypassed at once for a read.
fn read_refused(e: CartError, for_what: &str) -> CartError {
    match e {
        CartError::Rejected(m) => {
            CartError::Unavailable(format!("bigcommerce refused the read of {for_what}: {m}"))
        }
        e => e,
    }
}

fn unknown_message(sku: &str) -> String {
    format!("sku {sku}: no BigCommerce product or variant has this SKU (unknown SKU)")
}

/// The adapter's answers with its credentials scrubbed (a proxy or an error page may quote
/// the request's headers back): an integrator may use the adapter alone, without the
/// registry's scrubbing.
impl CartAdapter for BigCommerceAdapter {
    fn begin_manual_run(&self) {
        self.set_once.clear();
        // A manual run reads the padded SKUs afresh: the owner may just have fixed them, or
        // made the SKU exactly, which then takes the changes (`padded`). Each SKU found
        // padded is looked up again, exactly first.
        self.padded_index.forget();
        let padded: Vec<String> = self.aliases.lock().drain().map(|(sku, _)| sku).collect();
        let mut known = self.known.lock();
        let mut products = self.products.lock();
        for sku in padded {
            known.remove(&sku);
            products.remove(&sku);
        }
    }
    fn update_mode(&self) -> UpdateMode {
        Self::UPDATE_MODE
    }
    fn read_lag(&self) -> Duration {
        self.read_lag
    }

    common::scrubbed_calls!(self => self.secrets);

    /// The counts, and each item listed with an on-hand count that is not a whole number
    /// (scrubbed as every text of the cart's is): Get QOH names it in its `not_applied` and
    /// applies the rest. Until 2026-12-05 such an item was skipped without a word.
    ///
    /// One request a page: the names and products are [`CartAdapter::describe`]'s, asked
    /// only for what Get QOH creates. (For part of 2026-12-05 every page read the catalogue
    /// too, and a drift report or a Get QOH creating nothing cost up to five times the
    /// requests of the store's quota.)
    fn fetch_catalogue(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> std::result::Result<CataloguePage, CartError> {
        let (counts, unreadable) = self
            .read_page(cursor, limit)
            .map_err(|e| e.map_message(|m| common::scrub(m, &self.secrets)))?;
        Ok(CataloguePage {
            counts,
            unreadable: common::scrub_reasons(unreadable, &self.secrets),
            ..Default::default()
        })
    }

    /// The products of `skus` as the catalogue names them (a product's `name`, a variant's
    /// `option_values`, and its product's SKU), one `GET /v3/catalog/products` per 250
    /// products, by the product ids the listing showed them with (a SKU this adapter has not
    /// listed is looked up first, one `sku:in` read per 50). A refusal (a token without the
    /// catalogue's read scope: 401, 403) is an error: Get QOH leaves the items uncreated and
    /// says why.
    fn describe(&self, skus: &[&str]) -> std::result::Result<super::Described, CartError> {
        self.describe_skus(skus)
            .map_err(|e| e.map_message(|m| common::scrub(m, &self.secrets)))
    }
}

/// What a send's own read of the counts is for, as a refusal of it says.
const SEND_CHECK: &str = "the current counts, so nothing was sent";

impl BigCommerceAdapter {
    fn raw_apply_deltas(
        &self,
        deltas: &[DeltaSend],
    ) -> std::result::Result<Vec<SendOutcome>, CartError> {
        let skus: Vec<&str> = deltas.iter().map(|d| d.sku.as_str()).collect();
        let unknown_skus = self.unknown_skus(&skus)?;
        let mut out: Vec<Option<SendOutcome>> = vec![None; deltas.len()];
        let mut items = Vec::new();
        for (i, d) in deltas.iter().enumerate() {
            if let Some(outcome) = unknown_skus.get(&d.sku) {
                out[i] = Some(outcome.clone());
            } else if d.delta.unsigned_abs() > MAX_QUANTITY as u64 {
                out[i] = Some(SendOutcome::Failed {
                    message: format!(
                        "sku {}: a change of {} is beyond BigCommerce's limit",
                        d.sku, d.delta
                    ),
                });
            } else {
                items.push((i, d.sku.as_str(), d.delta));
            }
        }
        self.write(true, &items, &HashMap::new(), &mut out)?;
        Ok(common::outcomes(out))
    }

    fn raw_set_quantities(
        &self,
        sets: &[QuantitySet],
    ) -> std::result::Result<Vec<SendOutcome>, CartError> {
        let skus: Vec<&str> = sets.iter().map(|s| s.sku.as_str()).collect();
        let unknown_skus = self.unknown_skus(&skus)?;
        let checked: Vec<&str> = sets
            .iter()
            .filter(|s| s.expected.is_some() && !unknown_skus.contains_key(&s.sku))
            .map(|s| s.sku.as_str())
            .collect();
        let current = if checked.is_empty() {
            HashMap::new()
        } else {
            self.levels(&checked, SEND_CHECK)?
        };
        let mut out: Vec<Option<SendOutcome>> = vec![None; sets.len()];
        let mut items = Vec::new();
        let mut expected_of = HashMap::new();
        for (i, s) in sets.iter().enumerate() {
            if let Some(outcome) = unknown_skus.get(&s.sku) {
                out[i] = Some(outcome.clone());
            } else if !(0..=MAX_QUANTITY).contains(&s.qoh) {
                out[i] = Some(SendOutcome::Failed {
                    message: format!(
                        "sku {}: {} is outside 0 to {MAX_QUANTITY}, what BigCommerce takes",
                        s.sku, s.qoh
                    ),
                });
            } else if let Some(expected) = s.expected {
                match current.get(&s.sku) {
                    Some(now) if *now != expected => {
                        out[i] = Some(SendOutcome::Conflict { current: *now })
                    }
                    Some(_) => {
                        items.push((i, s.sku.as_str(), s.qoh));
                        expected_of.insert(s.sku.as_str(), expected);
                    }
                    // Without the current count there is no compare: never set blindly.
                    None => {
                        out[i] = Some(SendOutcome::Failed {
                            message: format!(
                                "sku {}: BigCommerce did not return its current count (a SKU \
                                 holding a comma cannot be looked up), so the count was not set",
                                s.sku
                            ),
                        })
                    }
                }
            } else {
                items.push((i, s.sku.as_str(), s.qoh));
            }
        }
        self.write(false, &items, &expected_of, &mut out)?;
        Ok(common::outcomes(out))
    }

    /// A page of counts; an item whose count cannot be read is left out, as before
    /// 2026-12-05 (Get QOH, the drift report and the preflight read
    /// [`BigCommerceAdapter::read_page`] through `fetch_catalogue`, and name it).
    fn raw_fetch_quantities(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> std::result::Result<QuantityPage, CartError> {
        self.read_page(cursor, limit).map(|(page, _)| page)
    }

    /// One page of counts, and (SKU, why) for each item listed whose count cannot be read.
    /// Each SKU's product id is kept ([`BigCommerceAdapter::items_page`]) for
    /// [`CartAdapter::describe`].
    fn read_page(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> std::result::Result<ReadPage, CartError> {
        let limit = limit.clamp(1, MAX_LIMIT);
        let mut at = match cursor {
            None => {
                self.listed.lock().clear();
                Cursor {
                    page: 1,
                    total: None,
                    restarts: 0,
                }
            }
            Some(c) => Cursor::parse(c)?,
        };
        let listing = loop {
            let listing = self.items_page(at.page, limit, Filter::All)?;
            match (at.total, listing.total) {
                (Some(was), Some(now)) if was != now => {
                    if at.restarts >= RESTARTS {
                        return Err(CartError::Unavailable(format!(
                            "the bigcommerce catalogue changed while it was read, {} times \
                             (it lists {now} items, {was} before): run Get QOH again",
                            at.restarts + 1
                        )));
                    }
                    at = Cursor {
                        page: 1,
                        total: Some(now),
                        restarts: at.restarts + 1,
                    };
                }
                _ => break listing,
            }
        };
        let kept: Vec<Listed> = {
            let mut listed = self.listed.lock();
            listing
                .items
                .into_iter()
                .filter(|i| i.id.as_ref().is_none_or(|id| listed.insert(id.clone())))
                .collect()
        };
        let items: Vec<(String, i64)> = kept.into_iter().map(|i| (i.sku, i.count)).collect();
        let unreadable: Vec<(String, String)> = {
            let mut listed = self.listed.lock();
            listing
                .unreadable
                .into_iter()
                .filter(|(id, _, _)| id.as_ref().is_none_or(|id| listed.insert(id.clone())))
                .map(|(_, sku, why)| (sku, why))
                .collect()
        };
        self.known
            .lock()
            .extend(items.iter().map(|(s, _)| s.clone()));
        let next = Cursor {
            page: at.page + 1,
            total: at.total.or(listing.total),
            restarts: at.restarts,
        };
        Ok((
            QuantityPage {
                items,
                next_cursor: (at.page < listing.pages).then(|| next.to_string()),
            },
            unreadable,
        ))
    }

    /// [`CartAdapter::describe`], unscrubbed: each SKU's product id as a listing showed it,
    /// else as a `sku:in` read finds it (a SKU holding a comma cannot go in one, nor is one
    /// without a product described).
    fn describe_skus(&self, skus: &[&str]) -> std::result::Result<Described, CartError> {
        let missing: Vec<&str> = {
            let products = self.products.lock();
            let mut v: Vec<&str> = skus
                .iter()
                .copied()
                .filter(|s| !s.is_empty() && !s.contains(',') && !products.contains_key(*s))
                .collect();
            v.sort_unstable();
            v.dedup();
            v
        };
        if !missing.is_empty() {
            self.levels(&missing, "the products of the items to create")?;
        }
        let products = self.products.lock();
        let of: Vec<(String, u64)> = skus
            .iter()
            .filter_map(|s| products.get(*s).map(|p| ((*s).to_owned(), p.id)))
            .collect();
        drop(products);
        self.describe_products(&of)
    }

    /// What the catalogue says of the products of `listed`, (SKU, product id) pairs
    /// (`CataloguePage::details` and `products`): a product's `name`; a variant's product
    /// name and option values (`option_values`, each `option_display_name` and `label`), and
    /// its product's SKU where that differs from its own. The Inventory API names neither, so
    /// this is `GET /v3/catalog/products?id:in=…&include=variants&include_fields=name,sku`
    /// per [`PRODUCTS_PER_READ`] products. A refusal of the read (401, 403: a token without
    /// the catalogue's read scope; another 4xx) or an answer that cannot be read is an error.
    fn describe_products(
        &self,
        listed: &[(String, u64)],
    ) -> std::result::Result<Described, CartError> {
        let mut ids: Vec<u64> = listed.iter().map(|(_, id)| *id).collect();
        ids.sort_unstable();
        ids.dedup();
        let mut found: HashMap<u64, Value> = HashMap::new();
        for chunk in ids.chunks(PRODUCTS_PER_READ) {
            let mut url = self
                .base
                .join("v3/catalog/products")
                .expect("fixed relative path");
            let list: Vec<String> = chunk.iter().map(u64::to_string).collect();
            url.query_pairs_mut()
                .append_pair("id:in", &list.join(","))
                .append_pair("include", "variants")
                .append_pair("include_fields", "name,sku")
                .append_pair("limit", &PRODUCTS_PER_READ.to_string());
            let bytes = self.send(self.client.get(url), false)?;
            let v: Value = serde_json::from_slice(&bytes)
                .map_err(|e| CartError::Unavailable(common::malformed("bigcommerce", e, &bytes)))?;
            for p in v["data"].as_array().into_iter().flatten() {
                if let Some(id) = p["id"].as_u64() {
                    found.insert(id, p.clone());
                }
            }
        }
        let (mut details, mut products) = (Vec::new(), Vec::new());
        let mut named = HashSet::new();
        for (sku, id) in listed {
            let Some(p) = found.get(id) else {
                continue;
            };
            let name = p["name"].as_str().unwrap_or("");
            let product_sku = p["sku"].as_str().unwrap_or("").trim();
            let variant = p["variants"]
                .as_array()
                .into_iter()
                .flatten()
                // Trimmed: a SKU found only padded (`TEE ` for TEE) is its variant's too.
                .find(|v| v["sku"].as_str().map(str::trim) == Some(sku.trim()));
            let options: Vec<(String, String)> = variant
                .and_then(|v| v["option_values"].as_array())
                .into_iter()
                .flatten()
                .filter_map(|o| Some((o["option_display_name"].as_str()?, o["label"].as_str()?)))
                .map(|(n, l)| (n.to_owned(), l.to_owned()))
                .collect();
            // A product's base variant (no option values) is the product itself.
            if options.is_empty() || sku.trim() == product_sku {
                details.push((sku.clone(), name.to_owned(), Vec::new()));
                continue;
            }
            let values: Vec<&str> = options.iter().map(|(_, l)| l.as_str()).collect();
            details.push((
                sku.clone(),
                common::variant_description(name, &values),
                options,
            ));
            if !product_sku.is_empty() {
                products.push((sku.clone(), product_sku.to_owned()));
                if named.insert(product_sku.to_owned()) {
                    details.push((product_sku.to_owned(), name.to_owned(), Vec::new()));
                }
            }
        }
        Ok((details, products))
    }
}

/// A page of counts, and (SKU, why) for each item listed whose count cannot be read.
type ReadPage = (QuantityPage, Vec<(String, String)>);
use super::Described;

/// Products per catalogue read (BigCommerce's largest page).
const PRODUCTS_PER_READ: usize = 250;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::scripted::Scripted;

    /// A listing reads no catalogue; a token without the catalogue's read scope (403 to
    /// `GET /v3/catalog/products`) still lists its counts, and `describe` says why it has no
    /// names (Get QOH creates the items without them, and says so).
    #[test]
    fn a_catalogue_refused_leaves_the_counts_listed_and_describe_failed() {
        let server = Scripted::start(vec![
            (
                200,
                r#"{"data":[{"identity":{"sku":"TEE-M","variant_id":2,"product_id":1},
                    "total_inventory_onhand":4,"settings":{"safety_stock":0}}],
                    "meta":{"pagination":{"total":1,"total_pages":1}}}"#,
            ),
            (
                403,
                r#"{"status":403,"title":"You don't have a required scope"}"#,
            ),
        ]);
        let adapter = BigCommerceAdapter::new(
            &server.url,
            Secret::new("bc_token"),
            1,
            Duration::from_secs(5),
        )
        .unwrap();
        let page = adapter.fetch_catalogue(None, 50).unwrap();
        assert_eq!(page.counts.items, vec![("TEE-M".to_owned(), 4)]);
        assert!(
            page.details.is_empty() && page.products.is_empty(),
            "{page:?}"
        );
        let refused = adapter.describe(&["TEE-M"]).unwrap_err();
        assert!(
            matches!(refused, CartError::Unauthorized(ref m) if m.contains("required scope")),
            "{refused:?}"
        );
        let seen = server.finish();
        assert_eq!(seen.len(), 2, "{seen:?}");
        assert!(
            seen[1].0.contains("/v3/catalog/products?id%3Ain=1"),
            "{seen:?}"
        );
    }
}
