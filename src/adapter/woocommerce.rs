//! The `woocommerce` adapter: WooCommerce REST API v3 (`/wp-json/wc/v3/`).
//!
//! Follows these public pages (read for this adapter; nothing copied):
//! - REST API v3 reference, products and product variations (`stock_quantity`,
//!   `manage_stock`, `type`, `variations`, batch endpoints; a product's `name` and a variation's
//!   `attributes` `[{id, name, option}]`, which Get QOH gives the items it creates):
//!   <https://developer.woocommerce.com/docs/apis/rest-api/v3/>,
//!   <https://woocommerce.github.io/woocommerce-rest-api-docs/#products>,
//!   <https://woocommerce.github.io/woocommerce-rest-api-docs/#product-variations>
//! - batch requests are limited to 100 objects by default (`woocommerce_rest_batch_items_limit`;
//!   more answers 413, nothing applied: the request goes again in halves, and later ones no
//!   larger): <https://woocommerce.github.io/woocommerce-rest-api-docs/#batch-update-products>
//! - HTTP Basic authentication only over https ("cannot be used over plain HTTP as the keys
//!   are susceptible to interception"): a plain-http url is refused unless it is loopback
//!   (127.0.0.1, localhost).
//! - pagination (`page`, `per_page` 1–100, `X-WP-Total`, `X-WP-TotalPages`; products listed
//!   with `orderby=id&order=asc`):
//!   <https://developer.wordpress.org/rest-api/using-the-rest-api/pagination/>,
//!   <https://woocommerce.github.io/woocommerce-rest-api-docs/#pagination>
//! - authentication with the consumer key and secret as HTTP Basic credentials over HTTPS:
//!   <https://woocommerce.github.io/woocommerce-rest-api-docs/#authentication>
//! - the `sku` parameter of the products listing ("specific SKU(s); use commas to
//!   separate"; `status` defaults to `any`):
//!   <https://woocommerce.github.io/woocommerce-rest-api-docs/#list-all-products>, and its
//!   handling in WooCommerce's source (`plugins/woocommerce/includes/rest-api/Controllers/`
//!   `Version3/class-wc-rest-products-controller.php` and `Version2/…-v2-controller.php`,
//!   `prepare_objects_query`, `get_collection_params`, `get_product_data`; read, not copied)
//!
//! # What it publishes
//!
//! `stock_quantity` of simple products and of variations that manage stock, writing
//! `manage_stock: true` with it (one that does not is left so, and its count fails by name:
//! until 2026-12-04 Send QOH turned its stock management on, and a count of 0 took a service
//! or a made-to-order product off sale); and of a variable product that manages stock for its variations ("Manage stock?" on
//! the product), under the product's own SKU. A variable product that does not holds no
//! stock: its variations do, so `Attribute`-level carts are the natural fit, and a
//! `Sku`-level cart publishes plain products and such pooled products only.
//!
//! A variation can share its product's stock instead: it answers `manage_stock: "parent"` and
//! the product's `stock_quantity` (`WC_Product_Variation::get_manage_stock`; the reference
//! calls the field a boolean). Such a variation has no count of its own: a real-time delta to
//! it is a change of the pool, written to its product's count (as WooCommerce's own sale of
//! it is; until 2026-12-04 it failed by name, and the shop went on selling the unit), and Get
//! QOH skips it; Send QOH, an absolute count for the variation's SKU, gives it a count of its
//! own, as for any SKU it publishes.
//!
//! # The read-add-write window (DESIGN §4, §8)
//!
//! WooCommerce has no relative stock change and no compare-and-set, so the adapter reports
//! [`UpdateMode::Absolute`] and a real-time delta is: read the current `stock_quantity`s, add,
//! write them with the batch endpoint, then read back (verify). A sale that WooCommerce
//! records between our read and our write is overwritten. That window is one read and one
//! batch request (typically well under a second): a call's changes go in groups of one
//! batch request each (each product's variations, then the products, at most 100 a
//! request), and each group's counts are read (one `GET`, which also checks their SKUs)
//! right before its write, not all at the start of the call, where the window was every
//! request of the call until 2026-12-04. (The first half of a batch the shop refuses as too
//! large, 413, goes on that batch's read, only the refused request between; the second
//! half is read again after the first went.) The read-back catches a
//! change that landed between write and verify: such an item is
//! [`SendOutcome::Uncertain`], left for the drift report, never re-sent blindly; an answer
//! lost after the write is [`CartError::Ambiguous`], which the controller also marks
//! `uncertain` for this mode. A 500 to a batch write (deltas and sets alike) may follow saved
//! items (WooCommerce saves a batch item by item with no transaction, and a PHP fatal may
//! come part-way), but comes once PHP is done with the request, so the counts are read back
//! and each item judged: the count written stands (applied), the count read before does (not
//! applied: [`SendOutcome::Retry`]), or neither (uncertain); a read-back that fails leaves
//! the batch a lost answer. So is a 200 whose body cannot be used (cut short, not JSON, JSON
//! of another shape: a proxy, a PHP notice, a plugin rewriting it), except that an answer
//! that did not come whole, or not as JSON (a proxy's own page), is settled only where the
//! count written stands: PHP may still be saving the batch
//! (`WooCommerceAdapter::read_back_200`; uncertain until 2026-12-05). A 503 is read back the
//! same way, whether or not it names a wait (a PHP worker killed mid-batch gets one too);
//! where the read fails as well, the shop is down (maintenance, overload):
//! [`CartError::Unavailable`], or the wait it named. Where that window is unacceptable, an `http_json` plugin inside WordPress (keyed, relative) is
//! the safe path. A set with an `expected` count is checked
//! the same way (read, compare, write) and answers [`SendOutcome::Conflict`] on a mismatch.
//!
//! SKU → ids: a `remote_ref` of `"123"` (product) or `"123/456"` (product/variation) is used
//! as is; otherwise a SKU not in the adapter's cache is looked up with WooCommerce's `sku`
//! filter (`GET products?sku=A,B,…`, up to 50 SKUs and some 3,000 bytes a request, exact
//! match: see `WooCommerceAdapter::find`), and its ids cached. Until 2026-12-04 an unknown
//! SKU made the adapter crawl the whole catalogue (every page of products, and the
//! variations of each variable product): a store sends every item's change to every cart,
//! and a shop lists only some items, so nearly every sale cost hundreds of requests to a
//! large shop. A SKU the shop does not have is remembered absent for five minutes
//! (`ABSENT_FOR`; a manual run starts afresh): a product added to the shop is found by its
//! first change after that at the latest, and an item the shop never lists costs a dozen
//! lookups an hour at most. A change of a SKU answered absent from that memory, the shop not
//! asked, is not failed for good but tried again (`remembered_absent`). A shop that ignores the filter (it answers products of other
//! SKUs) is not trusted to say what it lacks: its answer is read as the catalogue's
//! listing and indexed as before. Every write reads its ids first, and a cached id whose
//! product now answers another SKU (the owner moved the SKU to another product) or none (it
//! went to the bin) makes the SKU be looked up again, so a change never lands on a product
//! that no longer has the SKU. A SKU on two products or variations fails by name (a
//! `remote_ref` says which), and is looked up again five minutes on. A variation without a
//! SKU of its own answers its product's, which is not taken as the variation's. A count
//! WooCommerce answers it did not keep (a grouped or external product, the store's Manage
//! stock option off) is not applied.

use super::common::{self, outcome_for_failed_request};
use super::http_json::truncate;
use super::{
    CartAdapter, CartError, CataloguePage, DeltaSend, QuantityPage, QuantitySet, SendOutcome,
    UpdateMode,
};
use crate::error::{Error, Result};
use crate::secret::Secret;
use parking_lot::Mutex;
use reqwest::blocking::Client;
use reqwest::header::{HeaderMap, CONTENT_TYPE};
use reqwest::{StatusCode, Url};
use serde_json::{json, Value};
use std::cell::Cell;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// WooCommerce's default limit of objects per batch request.
pub const MAX_BATCH: usize = 100;
/// The largest `per_page`.
pub const MAX_PER_PAGE: u32 = 100;
/// Pages in a row with nothing after the last id read that stop a listing (see
/// `page_after`): more than entries joining behind the cursor during one run make.
const EMPTY_PAGES: u32 = 3;
/// How long a SKU the shop was found not to have is taken as absent without asking again
/// (and a SKU found on two products or variations as such). A store sends every item's
/// change to every cart, and a shop lists only some of the store's items: a sale of an item
/// the shop does not list cost a crawl of the whole catalogue until 2026-12-04 (for 5,000
/// products, 500 of them variable, some 550 requests a sale), and would cost a lookup a
/// batch without this. Five minutes bounds that to a dozen lookups an hour whatever the
/// sales, and a product the owner adds to the shop (or a SKU given to one) is found by the
/// first change of it at most five minutes after the SKU was last looked up. A manual run
/// (Send QOH, a drift repair) starts with nothing remembered (its adapter is built for it,
/// or `begin_manual_run` forgets), and Get QOH listing the product ends its absence.
const ABSENT_FOR: Duration = Duration::from_secs(5 * 60);
/// The most bytes, percent-encoded, of the SKUs of one `sku=` lookup: with the rest of the
/// URL (the shop's address, the path and the other parameters, a few hundred bytes) it stays
/// under 4,000, below the 8 KiB request line Apache and nginx take by default and the
/// shorter limits of some proxies and WAFs in front of shops.
const SKU_QUERY_BYTES: usize = 3_000;
/// The most SKUs of one lookup: half a page of [`MAX_PER_PAGE`], so that a SKU found on two
/// products still fits one page (more go on in further pages).
const SKUS_PER_LOOKUP: usize = 50;

/// Where a SKU's stock lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct WooRef {
    product: u64,
    variation: Option<u64>,
}

impl WooRef {
    /// The product of a variation (itself for a product): where the count a variation
    /// shares with its product (`manage_stock: "parent"`) is kept.
    fn pool(self) -> WooRef {
        WooRef {
            product: self.product,
            variation: None,
        }
    }
}

/// Where a listing by ascending id goes on: the `offset` of the next entry, and the last id
/// read (entries at or before it were read).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Position {
    offset: u64,
    after: u64,
}

impl Position {
    const START: Position = Position {
        offset: 0,
        after: 0,
    };
}

/// What WooCommerce says of a product's or variation's stock.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Stock {
    /// It keeps a count of its own.
    Own(i64),
    /// It keeps a count with a fraction (a plugin selling by weight or length).
    Fraction(f64),
    /// `manage_stock` is off: it keeps no count.
    NotManaged,
    /// `manage_stock` is on with no count yet (`stock_quantity: null`: made through the API
    /// or an import without one): WooCommerce shows it out of stock and a change counts from
    /// 0 (`wc_stock_amount(null)`), so a delta does; Get QOH reads no count there.
    Unset,
    /// A variation answering `manage_stock: "parent"`: its `stock_quantity` is its parent
    /// product's, shared by every such variation of the product.
    Parent,
}

impl Stock {
    fn of(entry: &Value) -> Stock {
        match &entry["manage_stock"] {
            Value::String(s) if s == "parent" => Stock::Parent,
            Value::Bool(false) => Stock::NotManaged,
            // Until 2026-12-04 taken for stock not managed: a receiving failed.
            Value::Bool(true) if entry["stock_quantity"].is_null() => Stock::Unset,
            // A whole number, unless a plugin made `wc_stock_amount` `floatval`
            // (WooCommerce's is `intval`: a shop selling by weight or length).
            _ => match common::whole_count(&entry["stock_quantity"]) {
                Some(Ok(n)) => Stock::Own(n),
                Some(Err(f)) => Stock::Fraction(f),
                None => Stock::NotManaged,
            },
        }
    }
    fn own(self) -> Option<i64> {
        match self {
            Stock::Own(n) => Some(n),
            _ => None,
        }
    }
    /// The count a write changes: its own, or 0 where a managed one has none yet (as
    /// WooCommerce counts it): what a read-back compares the count written with.
    fn counting(self) -> Option<i64> {
        match self {
            Stock::Unset => Some(0),
            s => s.own(),
        }
    }
    /// The count Get QOH takes: its own, or one with a fraction rounded down (the store keeps
    /// whole units; fewer, never units the shop does not have).
    fn counted(self) -> Option<i64> {
        match self {
            Stock::Own(n) => Some(n),
            Stock::Fraction(f) => Some(f.floor() as i64),
            _ => None,
        }
    }
}

/// Why Get QOH cannot take the count of `entry`, one that manages its stock with a
/// `stock_quantity` that is no number (a plugin or import writing a damaged field): listed in
/// `CataloguePage::unreadable`, by its SKU, rather than skipped as stock not managed (the
/// owner never learnt that item was not read). A fraction is read ([`Stock::counted`]).
fn unreadable(entry: &Value) -> Option<String> {
    let q = &entry["stock_quantity"];
    if entry["manage_stock"] != Value::Bool(true) || q.is_null() || common::whole_count(q).is_some()
    {
        return None;
    }
    Some(common::unreadable_count("stock_quantity", q))
}

/// A product's or variation's id: a number, or a string of one (as a proxy or plugin
/// rewriting the JSON may give it).
fn id_of(v: &Value) -> Option<u64> {
    v["id"]
        .as_u64()
        .or_else(|| v["id"].as_str().and_then(|s| s.trim().parse().ok()))
}

/// Whether `s` is a reference this adapter can use (see [`parse_ref`]).
pub(crate) fn is_ref(s: &str) -> bool {
    parse_ref(s).is_some()
}

/// `s` spelled one way (`123` or `123/456`), so that ` 123 / 456` is seen to name the same
/// variation; `None` when it is not a reference.
pub(crate) fn ref_key(s: &str) -> Option<String> {
    parse_ref(s).map(|r| match r.variation {
        None => r.product.to_string(),
        Some(v) => format!("{}/{v}", r.product),
    })
}

fn parse_ref(s: &str) -> Option<WooRef> {
    match s.split_once('/') {
        None => Some(WooRef {
            product: s.trim().parse().ok()?,
            variation: None,
        }),
        Some((p, v)) => Some(WooRef {
            product: p.trim().parse().ok()?,
            variation: Some(v.trim().parse().ok()?),
        }),
    }
}

/// The WooCommerce adapter of one cart.
pub struct WooCommerceAdapter {
    base: Url,
    client: Client,
    ids: Mutex<HashMap<String, WooRef>>,
    /// SKUs found on more than one product or variation: not written by SKU (a `remote_ref`
    /// says which); each looked up again when met after the time given ([`ABSENT_FOR`] on),
    /// so that one the owner made unique is written again.
    twice: Mutex<HashMap<String, Instant>>,
    /// SKUs the shop was found not to have, and until when that stands ([`ABSENT_FOR`]).
    absent: Mutex<HashMap<String, Instant>>,
    /// For a SKU the shop was last found not to have, the SKU of a product or variation it
    /// has that its collation takes for it ([`collation_fold`]: `TEE-M` for the store's
    /// `tee-m`), named when a change of the SKU fails ([`WooCommerceAdapter::unknown`]).
    taken_for: Mutex<HashMap<String, String>>,
    /// Items a batch request carries: [`MAX_BATCH`], or fewer once the shop answered 413.
    batch_limit: AtomicUsize,
    /// The products and variations this adapter's Send QOH set, by SKU.
    set_once: common::SetOnce,
    /// The credentials, to scrub from what the shop (or a proxy before it) answers.
    secrets: Vec<String>,
}

impl fmt::Debug for WooCommerceAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WooCommerceAdapter")
            .field("url", &self.base.as_str())
            .field("consumer_secret", &"***")
            .finish_non_exhaustive()
    }
}

impl WooCommerceAdapter {
    /// How it sends changes.
    pub(crate) const UPDATE_MODE: UpdateMode = UpdateMode::Absolute;

    /// An adapter for the WordPress site at `url` with a REST API key. Use https: WooCommerce
    /// accepts Basic credentials only over TLS (plain http is for loopback tests).
    pub fn new(
        url: &str,
        consumer_key: &str,
        consumer_secret: Secret,
        timeout: Duration,
    ) -> Result<Self> {
        let base = common::base_url(url, "woocommerce")?;
        // "HTTP Basic authentication cannot be used over plain HTTP as the keys are
        // susceptible to interception" (WooCommerce's REST API docs): the consumer secret
        // would cross the network in clear text, to be refused. A shop on this machine (a
        // test shop, the emulator) is the exception.
        let host = base.host_str().unwrap_or_default();
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let loopback = host.eq_ignore_ascii_case("localhost")
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|a| a.is_loopback());
        if base.scheme() == "http" && !loopback {
            return Err(Error::invalid(
                "woocommerce url must use https: WooCommerce takes keys by HTTP Basic only \
                 over https, and over http the consumer secret would be sent in clear text",
            ));
        }
        if consumer_key.trim().is_empty() {
            return Err(Error::invalid("woocommerce consumer_key is empty"));
        }
        if consumer_key.contains(':') {
            return Err(Error::invalid(
                "woocommerce consumer_key must not contain ':'",
            ));
        }
        common::secret_value(consumer_secret.expose(), "woocommerce consumer_secret")?;
        let mut headers = HeaderMap::new();
        let basic = common::basic_auth(&format!("{consumer_key}:{}", consumer_secret.expose()));
        common::secret_header(&mut headers, "authorization", &basic, "woocommerce")?;
        Ok(WooCommerceAdapter {
            // The secret, and the Basic credentials made of it.
            secrets: vec![
                consumer_secret.expose().to_owned(),
                common::base64(format!("{consumer_key}:{}", consumer_secret.expose()).as_bytes()),
            ],
            base,
            client: common::client(headers, timeout, "woocommerce")?,
            ids: Mutex::new(HashMap::new()),
            twice: Mutex::new(HashMap::new()),
            absent: Mutex::new(HashMap::new()),
            taken_for: Mutex::new(HashMap::new()),
            set_once: Default::default(),
            batch_limit: AtomicUsize::new(MAX_BATCH),
        })
    }

    fn url(&self, path: &str) -> Url {
        self.base
            .join("wp-json/wc/v3/")
            .and_then(|u| u.join(path))
            .expect("fixed relative path")
    }

    /// One page of a list, and its `X-WP-TotalPages` (`None` where a proxy or cache stripped
    /// it).
    fn get(
        &self,
        path: &str,
        query: &[(&str, String)],
    ) -> std::result::Result<(Vec<Value>, Option<u64>), CartError> {
        let mut url = self.url(path);
        url.query_pairs_mut()
            .extend_pairs(query.iter().map(|(k, v)| (*k, v.as_str())));
        let (headers, bytes) =
            common::exchange(self.client.get(url), |_| None).map_err(no_route)?;
        let list: Vec<Value> = common::php_json(&bytes)
            .map_err(|e| CartError::Unavailable(common::malformed("woocommerce", e, &bytes)))?;
        let total = headers
            .get("x-wp-total")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        Ok((list, total))
    }

    /// Every page of a list, oldest first.
    fn get_all(
        &self,
        path: &str,
        extra: &[(&str, String)],
        fields: &str,
    ) -> std::result::Result<Vec<Value>, CartError> {
        let (mut out, mut at) = (Vec::new(), Position::START);
        loop {
            let (list, next) = self.page_after(path, extra, at, MAX_PER_PAGE, fields)?;
            out.extend(list);
            match next {
                Some(next) => at = next,
                None => return Ok(out),
            }
        }
    }

    /// The page of a list at `at`, by ascending id (`orderby=id&order=asc`: an entry created
    /// meanwhile goes at the end rather than pushing every later entry one on, as the default
    /// newest-first order would), without the entries at or before `at.after`, and where the
    /// next page starts (`None`: this was the last).
    ///
    /// Pages go by `offset`, and each asks from one entry before where the last ended, so its
    /// first entry is the last one read. An entry that joined behind the cursor (a draft
    /// published, a product restored from the bin) pushes the list one on: its repeats are
    /// dropped by id. One that left it (trashed, deleted) pulls the list one back, so the
    /// entry the next page would start with slid behind the offset and would never be read;
    /// a page whose first entry comes after the last one read shows that, and is asked again
    /// from further back, by as many rows as the shop answers a page (from the start, at
    /// worst). Another page follows while `X-WP-Total`
    /// says more are left or, where a proxy or cache stripped it, while pages come full (a
    /// last page that happens to be full costs one more request; reading only the first page
    /// would end a Get QOH early, reported as done); after a short page with nothing new
    /// (a shop capping its pages, or leaving out products the total counts) the listing looks
    /// once just past it, and ends if nothing is there. Entries without an id
    /// are dropped, so every page returned moves the last id read on, and a walk ends. A full
    /// page with nothing new is passed over;
    /// [`EMPTY_PAGES`] of them in a row mean the pages do not move on (a cache in front of
    /// the shop that ignores the offset, answering the first page every time), which stops
    /// the listing with an error instead of reading the same page for ever.
    fn page_after(
        &self,
        path: &str,
        extra: &[(&str, String)],
        at: Position,
        per_page: u32,
        fields: &str,
    ) -> std::result::Result<(Vec<Value>, Option<Position>), CartError> {
        // One back: the last entry read, to see that nothing behind it left the list.
        let mut offset = if at.after > 0 {
            at.offset.saturating_sub(1)
        } else {
            at.offset
        };
        let mut empty = 0;
        // Looking once just past a short page with nothing new (below): whether it was done,
        // and whether this request is it.
        let mut probing = false;
        let mut probe_now = false;
        // The most rows a page held in this call: a shop may answer fewer than asked (a host
        // or plugin lowering the REST maximum), and a step back goes back by what it answers.
        let mut shop_page = 0u64;
        loop {
            let probe = std::mem::take(&mut probe_now);
            let mut query = vec![
                ("per_page", per_page.to_string()),
                ("offset", offset.to_string()),
                ("orderby", "id".to_string()),
                ("order", "asc".to_string()),
                // Only what the adapter reads: a product's answer holds its descriptions,
                // images and attributes, and a page of 100 can run to megabytes.
                ("_fields", fields.to_string()),
            ];
            query.extend(extra.iter().cloned());
            let (mut list, total) = self.get(path, &query)?;
            let read = list.len() as u64;
            shop_page = shop_page.max(read);
            // Nothing, or nothing read before, where the last product read should be: entries
            // behind the cursor left the list (an empty page: more of them than were unread).
            let first = list.first().and_then(id_of);
            let gap = read == 0 || first.is_some_and(|id| id > at.after);
            if !probe && offset > 0 && at.after > 0 && gap {
                let step = match shop_page {
                    0 => u64::from(per_page),
                    rows => rows,
                };
                offset = offset.saturating_sub(step);
                continue;
            }
            let full = read >= u64::from(per_page);
            let more = read > 0
                && match total {
                    Some(total) => offset + read < total,
                    None => full,
                };
            // Only entries with an id are kept (nothing without one can be written), and only
            // those after the last read: each page returned moves `after` on, so a walk ends.
            list.retain(|v| id_of(v).is_some_and(|id| id > at.after));
            if more && list.is_empty() && !full && !probing {
                // A short page with nothing new: the shop caps its pages below `per_page`, or
                // leaves out of its answers products `X-WP-Total` counts (one a plugin hides,
                // one that fails to load). Asked once from just past it: nothing there is the
                // end, whatever the total says.
                offset += read;
                probing = true;
                probe_now = true;
                continue;
            }
            if more && list.is_empty() {
                empty += 1;
                if empty == EMPTY_PAGES {
                    return Err(CartError::Unavailable(format!(
                        "woocommerce: {EMPTY_PAGES} pages of {path} in a row list nothing \
                         after id {} (the last read): the pages do not move on, as when a \
                         cache in front of the shop ignores the offset asked for; the listing \
                         was stopped",
                        at.after
                    )));
                }
                offset += read - 1;
                continue;
            }
            let after = list.iter().filter_map(id_of).max().unwrap_or(at.after);
            let next = more.then_some(Position {
                offset: offset + read,
                after,
            });
            return Ok((list, next));
        }
    }

    /// Indexes the whole catalogue from `products`, the listing of every product (read
    /// already: the answer of a shop that ignored a `sku` filter is that listing), reading
    /// the variations of each variable product: SKU → ids, and the SKUs found twice. The
    /// cache is replaced, not added to: a SKU the shop no longer gives any product is
    /// forgotten. Each of `asked` not found is remembered absent ([`ABSENT_FOR`]).
    fn index(&self, products: Vec<Value>, asked: &[&str]) -> std::result::Result<(), CartError> {
        let mut found = Found::default();
        for p in products {
            let Some(id) = id_of(&p) else { continue };
            // A shop answering a `sku` filter it ignores lists variations too where SKUs
            // are turned off (`wc_product_sku_enabled`): they are read below, by product.
            if p["type"] == "variation" {
                continue;
            }
            if p["type"] == "variable" {
                let parent_sku = p["sku"].as_str().unwrap_or("").trim();
                if let Some(r) = pooled(&p, id) {
                    found.add(parent_sku, r);
                }
                for v in self.get_all(&format!("products/{id}/variations"), &[], LISTED_FIELDS)? {
                    if let (Some(sku), Some(vid)) = (v["sku"].as_str().map(str::trim), id_of(&v)) {
                        // A variation without a SKU of its own answers its product's
                        // (`WC_Product_Variation::get_sku`): not the variation's SKU.
                        if !sku.is_empty() && sku != parent_sku {
                            found.add(
                                sku,
                                WooRef {
                                    product: id,
                                    variation: Some(vid),
                                },
                            );
                        }
                    }
                }
            } else if let Some(sku) = p["sku"].as_str().map(str::trim).filter(|s| !s.is_empty()) {
                found.add(
                    sku,
                    WooRef {
                        product: id,
                        variation: None,
                    },
                );
            }
        }
        let until = Instant::now() + ABSENT_FOR;
        let folded: HashMap<String, &String> =
            found.ids.keys().map(|s| (collation_fold(s), s)).collect();
        let mut taken_for = HashMap::new();
        for sku in asked.iter().filter(|s| !found.ids.contains_key(**s)) {
            if let Some(theirs) = folded.get(&collation_fold(sku)) {
                taken_for.insert((*sku).to_owned(), (*theirs).clone());
            }
        }
        // Locked in the order `find` and `resolve` lock them: ids, twice, absent.
        let (mut ids, mut twice, mut absent) =
            (self.ids.lock(), self.twice.lock(), self.absent.lock());
        for sku in asked {
            if !found.ids.contains_key(*sku) {
                absent.insert((*sku).to_owned(), until);
            }
        }
        *self.taken_for.lock() = taken_for;
        absent.retain(|sku, _| !found.ids.contains_key(sku));
        *twice = found.twice.into_iter().map(|s| (s, until)).collect();
        *ids = found.ids;
        Ok(())
    }

    /// Looks `skus` up in the shop and caches what it finds: each SKU's ids, whether it is on
    /// more than one product or variation, and which the shop does not have (remembered
    /// [`ABSENT_FOR`]). One `GET products?sku=…` a chunk of SKUs ([`sku_chunks`]), not the
    /// whole catalogue: WooCommerce's `sku` filter (`prepare_objects_query` of
    /// `WC_REST_Products_Controller` and of `WC_REST_Products_V2_Controller`) takes SKUs
    /// separated by commas, matches them as whole values (a meta query `_sku IN (…)`, not
    /// the `LIKE` of `search_sku`), and lists variations too (the post types asked become
    /// `product` and `product_variation`), each with `type: "variation"` and its
    /// `parent_id` (`get_product_data`). A variation without a SKU of its own has none
    /// stored, so the filter never lists it under its product's. The statuses listed are
    /// the listing's default, `any` (drafts, pending, private; not the bin), as the
    /// catalogue's listing reads them. Each answer's SKU, trimmed as the store reads SKUs, is
    /// compared exactly with the one asked: MySQL compares the `IN` by the table's collation,
    /// so `abc` finds `ABC` (and `CAFE` finds `CAFÉ`) too, and that is not the SKU.
    ///
    /// A shop that ignores the filter (SKUs turned off by the `wc_product_sku_enabled`
    /// filter, an old WooCommerce, a plugin rewriting the query) lists its whole catalogue:
    /// an answer holding a product whose SKU is none of those asked, even loosely, or a
    /// variation that names no product, is not trusted to say which SKUs the shop lacks. It
    /// is read to its end as the catalogue's listing and the catalogue indexed from it
    /// ([`Self::index`]), as before 2026-12-04 every unknown SKU did.
    fn find(&self, skus: &[&str]) -> std::result::Result<(), CartError> {
        let until = Instant::now() + ABSENT_FOR;
        // A SKU the filter cannot be asked for exactly (see `searchable`) is found by a
        // crawl, as before.
        if skus.iter().any(|s| !s.is_empty() && !searchable(s)) {
            return self.index(self.get_all("products", &[], LISTED_FIELDS)?, skus);
        }
        let asked: Vec<&str> = skus.iter().copied().filter(|s| !s.is_empty()).collect();
        let mut found = Found::default();
        // What the chunks before answered, for a later one whose answer is not trusted.
        let mut answered: Vec<Value> = Vec::new();
        // The SKUs asked, by their collation's form, for the shop's SKUs answered for them.
        let mut by_fold: HashMap<String, Vec<&str>> = HashMap::new();
        for sku in &asked {
            by_fold.entry(collation_fold(sku)).or_default().push(sku);
        }
        let mut taken_for: HashMap<String, String> = HashMap::new();
        for chunk in sku_chunks(&asked) {
            let value = chunk.join(",");
            // What WooCommerce matches for this value: each part, and (more than one) the
            // whole value, so that a SKU with a comma asked alone is matched.
            let mut parts: Vec<&str> = value.split(',').collect();
            if parts.len() > 1 {
                parts.push(&value);
            }
            // Loosely, as MySQL's collation compares ([`collation_fold`]): `sku=CAFE`
            // answers `CAFÉ`, and `sku=STRASSE` answers `STRAßE`, which is no sign of a
            // filter ignored. Folded once a chunk, not once a product answered.
            let folded: HashSet<String> = parts.iter().map(|p| collation_fold(p)).collect();
            let matched = |sku: &str| folded.contains(&collation_fold(sku));
            let query = [("sku", value.clone())];
            let (mut listed, mut at) = (Vec::new(), Some(Position::START));
            let mut ignored = false;
            while let Some(here) = at {
                let (page, next) =
                    self.page_after("products", &query, here, MAX_PER_PAGE, LOOKUP_FIELDS)?;
                ignored = ignored
                    || page.iter().any(|v| {
                        !matched(v["sku"].as_str().unwrap_or(""))
                            || (v["type"] == "variation" && parent_of(v).is_none())
                    });
                listed.extend(page);
                at = next;
            }
            if ignored {
                // With what the earlier chunks answered: indexed from this chunk's answer
                // alone, their SKUs were taken as absent and each change of them failed as
                // an unknown SKU (until 2026-12-05).
                answered.extend(listed);
                return self.index(answered, skus);
            }
            // The products answered, for a variation's SKU inherited from its product.
            let products: HashMap<u64, &str> = listed
                .iter()
                .filter(|v| v["type"] != "variation")
                .filter_map(|v| Some((id_of(v)?, v["sku"].as_str().unwrap_or("").trim())))
                .collect();
            for v in &listed {
                // Trimmed, as the store reads SKUs (`items::check_sku`) and Get QOH reads the
                // listing: `TEE ` (a SKU imported into the database past `wc_clean`) is item
                // TEE, which MySQL's padding collation answers `sku=TEE` with; taken as
                // another SKU (until 2026-12-05), every change of TEE failed as unknown while
                // Get QOH read its count.
                let (Some(id), Some(sku)) = (id_of(v), v["sku"].as_str().map(str::trim)) else {
                    continue;
                };
                for other in by_fold.get(&collation_fold(sku)).into_iter().flatten() {
                    if *other != sku {
                        taken_for.insert((*other).to_owned(), sku.to_owned());
                    }
                }
                // Exactly a SKU asked (the filter matches by collation: case aside).
                if !chunk.contains(&sku) {
                    continue;
                }
                if v["type"] == "variation" {
                    let Some(parent) = parent_of(v) else { continue };
                    if products.get(&parent) == Some(&sku) {
                        continue;
                    }
                    found.add(
                        sku,
                        WooRef {
                            product: parent,
                            variation: Some(id),
                        },
                    );
                } else if v["type"] == "variable" {
                    // A variable product holds a count under its SKU only where it keeps
                    // its variations' stock; else its SKU has none, as in the index.
                    if let Some(r) = pooled(v, id) {
                        found.add(sku, r);
                    }
                } else {
                    found.add(
                        sku,
                        WooRef {
                            product: id,
                            variation: None,
                        },
                    );
                }
            }
            answered.extend(listed);
        }
        let (mut ids, mut twice, mut absent) =
            (self.ids.lock(), self.twice.lock(), self.absent.lock());
        let mut taken = self.taken_for.lock();
        for sku in skus {
            match taken_for.remove(*sku) {
                Some(theirs) if !found.ids.contains_key(*sku) => {
                    taken.insert((*sku).to_owned(), theirs);
                }
                _ => {
                    taken.remove(*sku);
                }
            }
            match found.ids.get(*sku) {
                Some(r) => {
                    ids.insert((*sku).to_owned(), *r);
                    absent.remove(*sku);
                    if found.twice.contains(*sku) {
                        twice.insert((*sku).to_owned(), until);
                    } else {
                        twice.remove(*sku);
                    }
                }
                None => {
                    ids.remove(*sku);
                    twice.remove(*sku);
                    absent.insert((*sku).to_owned(), until);
                }
            }
        }
        Ok(())
    }

    /// A change of `sku` (by `remote_ref`, if given) that no product or variation of the shop
    /// takes: failed. Where the shop's `sku` filter answered another SKU for it, one its
    /// collation takes for the same (`TEE-M` for `tee-m`, `CAFÉ` for `CAFE`: WordPress's
    /// `utf8mb4_unicode_ci`, case and accents aside), that SKU is named: the shop refuses a
    /// second product with it (woocommerce/woocommerce#5552), so "no product has this SKU"
    /// alone sent the owner to make one the shop refuses (until 2026-12-05). The change is
    /// not written to that product, which is another SKU's (the store may hold both as two
    /// items).
    fn unknown(&self, sku: &str, remote_ref: Option<&str>) -> SendOutcome {
        let taken = match remote_ref {
            Some(_) => None,
            None => self.taken_for.lock().get(sku).cloned(),
        };
        match taken {
            Some(theirs) => SendOutcome::Failed {
                message: format!(
                    "sku {sku}: no WooCommerce product or variation has this SKU (unknown SKU); \
                     the shop has {theirs:?}, which it takes for the same SKU (WooCommerce \
                     compares SKUs without case or accents, and refuses a second product whose \
                     SKU differs only so), not written to as it is another SKU's: give this \
                     item that product's SKU if they are one item, or another SKU"
                ),
            },
            None => common::not_found(sku, remote_ref, "WooCommerce product or variation"),
        }
    }

    /// Why `sku` is not written by SKU, when the last index found it on more than one product
    /// or variation (one restored from the bin after its SKU was given to another, a
    /// uniqueness check a plugin turned off, a database import): written to the one indexed
    /// last until 2026-12-04, whichever the owner meant. `None` with a `remote_ref`.
    fn found_twice(&self, sku: &str, remote_ref: Option<&str>) -> Option<SendOutcome> {
        (remote_ref.and_then(parse_ref).is_none() && self.twice.lock().contains_key(sku)).then(|| {
            SendOutcome::Failed {
                message: format!(
                    "sku {sku}: more than one WooCommerce product or variation has this SKU; make it unique, or set the item's remote_ref to the one to sync"
                ),
            }
        })
    }

    /// Each item's ids: its `remote_ref`, or the cache's (looked up first, [`Self::find`],
    /// for a SKU not in it and not found absent in the last [`ABSENT_FOR`], or found twice
    /// more than that ago). Also the SKUs looked up.
    fn resolve(
        &self,
        items: &[(&str, Option<&str>)],
    ) -> std::result::Result<(Vec<Option<WooRef>>, HashSet<String>), CartError> {
        let now = Instant::now();
        let mut wanted: Vec<&str> = Vec::new();
        {
            let (ids, twice, absent) = (self.ids.lock(), self.twice.lock(), self.absent.lock());
            for (sku, r) in items {
                if r.and_then(parse_ref).is_some() || wanted.contains(sku) {
                    continue;
                }
                let stale = match ids.contains_key(*sku) {
                    true => twice.get(*sku).is_some_and(|until| *until <= now),
                    false => absent.get(*sku).is_none_or(|until| *until <= now),
                };
                if stale {
                    wanted.push(sku);
                }
            }
        }
        if !wanted.is_empty() {
            self.find(&wanted)?;
        }
        let looked = wanted.into_iter().map(str::to_owned).collect();
        Ok((self.lookup(items), looked))
    }

    fn lookup(&self, items: &[(&str, Option<&str>)]) -> Vec<Option<WooRef>> {
        let ids = self.ids.lock();
        items
            .iter()
            .map(|(sku, r)| r.and_then(parse_ref).or_else(|| ids.get(*sku).copied()))
            .collect()
    }

    /// Each item's ids, and the stock the shop holds there now. Ids from the cached index
    /// are checked against the SKU the read answers: the owner may since have given the
    /// product another SKU (and this one to another product), or put it in the bin and made
    /// a new one. Written on trust, a sale would move another product's stock, or fail as
    /// an unknown SKU while the SKU is on sale. On a mismatch or a missing id the SKU is
    /// looked up again ([`Self::find`]), once, unless this call just did; an item whose SKU
    /// no product has then is `None` (unknown). A `remote_ref` is the owner's word, and not
    /// checked. Also the SKUs this call asked the shop for: an unknown SKU not among them is
    /// one remembered absent ([`ABSENT_FOR`]), which the shop was not asked about.
    #[allow(clippy::type_complexity)]
    fn locate(
        &self,
        items: &[(&str, Option<&str>)],
    ) -> std::result::Result<
        (Vec<Option<WooRef>>, HashMap<WooRef, Stock>, HashSet<String>),
        CartError,
    > {
        let (mut refs, mut looked) = self.resolve(items)?;
        let known: Vec<WooRef> = refs.iter().flatten().copied().collect();
        let mut seen = self.read(&known)?;
        let stale = |refs: &[Option<WooRef>], seen: &HashMap<WooRef, (String, Stock)>| {
            items
                .iter()
                .zip(refs)
                .enumerate()
                .filter(|(_, ((sku, given), r))| {
                    r.is_some_and(|r| {
                        given.and_then(parse_ref).is_none()
                            && seen.get(&r).is_none_or(|(now, _)| now != sku)
                    })
                })
                .map(|(i, _)| i)
                .collect::<Vec<usize>>()
        };
        let mut wrong = stale(&refs, &seen);
        let mut moved: Vec<&str> = Vec::new();
        for &i in &wrong {
            let sku = items[i].0;
            if !looked.contains(sku) && !moved.contains(&sku) {
                moved.push(sku);
            }
        }
        if !moved.is_empty() {
            self.find(&moved)?;
            let again = self.lookup(items);
            let fresh: Vec<WooRef> = wrong
                .iter()
                .filter_map(|&i| again[i])
                .filter(|r| !seen.contains_key(r))
                .collect();
            for &i in &wrong {
                refs[i] = again[i];
            }
            seen.extend(self.read(&fresh)?);
            wrong = stale(&refs, &seen);
            looked.extend(moved.into_iter().map(str::to_owned));
        }
        for i in wrong {
            refs[i] = None;
        }
        let current = seen.into_iter().map(|(r, (_, s))| (r, s)).collect();
        Ok((refs, current, looked))
    }

    /// The SKU the shop gives each ref now (a variation without its own answers its
    /// product's), and its stock; a ref the shop does not list (deleted, in the bin) is
    /// missing.
    fn read(
        &self,
        refs: &[WooRef],
    ) -> std::result::Result<HashMap<WooRef, (String, Stock)>, CartError> {
        let mut groups: BTreeMap<Option<u64>, Vec<u64>> = BTreeMap::new();
        for r in refs {
            match r.variation {
                None => groups.entry(None).or_default().push(r.product),
                Some(v) => groups.entry(Some(r.product)).or_default().push(v),
            }
        }
        let mut out = HashMap::new();
        for (parent, ids) in groups {
            for chunk in ids.chunks(MAX_PER_PAGE as usize) {
                let include = chunk
                    .iter()
                    .map(u64::to_string)
                    .collect::<Vec<_>>()
                    .join(",");
                let path = match parent {
                    None => "products".to_owned(),
                    Some(p) => format!("products/{p}/variations"),
                };
                for v in self.get_all(&path, &[("include", include)], LISTED_FIELDS)? {
                    let Some(id) = id_of(&v) else { continue };
                    let r = match parent {
                        None => WooRef {
                            product: id,
                            variation: None,
                        },
                        Some(p) => WooRef {
                            product: p,
                            variation: Some(id),
                        },
                    };
                    let sku = v["sku"].as_str().unwrap_or("").trim().to_owned();
                    out.insert(r, (sku, Stock::of(&v)));
                }
            }
        }
        Ok(out)
    }

    /// Writes absolute counts through the batch endpoints (≤ 100 per request). Per item:
    /// `Ok(count now)` or `Err(message)`. A failed request after an earlier one applied gives
    /// its items the request's error as an outcome. `progress` carries what earlier requests
    /// of the same call came to (a call of deltas writes its groups one after another).
    ///
    /// A change (`Write::delta`) is written as the count read right before its request: the
    /// caller reads the items just before this call, and a request that follows another one
    /// of this call (the items past a shop's lower limit, learnt from a 413 earlier in the
    /// call) reads its items again first, then adds. Planned from the first read, its count
    /// would overwrite a sale WooCommerce recorded while the requests before it ran. So is
    /// the second half of a batch answered 413 (the first half went since the batch's read,
    /// and a sale during it was overwritten until 2026-12-04); the first half goes on the
    /// batch's read: only the refused request, which applied nothing, went since.
    fn write(
        &self,
        items: &mut [Write<'_>],
        call_len: usize,
        progress: &mut Progress,
    ) -> std::result::Result<Vec<std::result::Result<Option<i64>, SendOutcome>>, CartError> {
        let mut out: Vec<Option<std::result::Result<Option<i64>, SendOutcome>>> =
            vec![None; items.len()];
        let mut groups: BTreeMap<Option<u64>, Vec<usize>> = BTreeMap::new();
        for (i, Write { r, .. }) in items.iter().enumerate() {
            groups
                .entry(r.variation.map(|_| r.product))
                .or_default()
                .push(i);
        }
        // Whether a request of this call that may have taken time to apply went since the
        // last read of the next request's items (a 413 applied nothing).
        let mut sent = false;
        'requests: for (parent, idx) in groups {
            if progress.ended.is_some() {
                break;
            }
            let path = match parent {
                None => "products/batch".to_owned(),
                Some(p) => format!("products/{p}/variations/batch"),
            };
            // Each request's items.
            let mut parts: VecDeque<Vec<usize>> = idx
                .chunks(self.batch_limit.load(Ordering::Relaxed))
                .map(<[usize]>::to_vec)
                .collect();
            while let Some(mut chunk) = parts.pop_front() {
                if sent && chunk.iter().any(|i| items[*i].delta.is_some()) {
                    let refs: Vec<WooRef> = chunk.iter().map(|i| items[*i].r).collect();
                    match self.read(&refs) {
                        Ok(now) => chunk.retain(|i| match recount(&mut items[*i], &now) {
                            Ok(()) => true,
                            Err(o) => {
                                out[*i] = Some(Err(o));
                                false
                            }
                        }),
                        // Nothing of this chunk was sent.
                        Err(e) if progress.first => return Err(e),
                        Err(e) => {
                            if progress.failed(e, &chunk, items, &mut out) {
                                break 'requests;
                            }
                            continue;
                        }
                    }
                    if chunk.is_empty() {
                        continue;
                    }
                }
                sent = true;
                let update: Vec<Value> = chunk
                    .iter()
                    .map(|i| {
                        let Write { r, count, .. } = items[*i];
                        json!({"id": r.variation.unwrap_or(r.product), "manage_stock": true, "stock_quantity": count})
                    })
                    .collect();
                let status = Cell::new(None);
                let answered = Cell::new(None);
                let result = common::exchange_seen(
                    self.client
                        .post(self.url(&path))
                        .header(CONTENT_TYPE, "application/json")
                        .body(serde_json::to_vec(&json!({ "update": update })).expect("json")),
                    // Read, add, write: the write sent twice adds the delta twice.
                    |r| {
                        status.set(Some(r.status()));
                        batch_write_error(r)
                    },
                    &answered,
                )
                .map_err(no_route)
                .and_then(|(_, bytes)| {
                    common::php_json::<Value>(&bytes).map_err(|e| {
                        CartError::Ambiguous(common::malformed("woocommerce", e, &bytes))
                    })
                });
                let answer = match result {
                    Ok(a) => a,
                    // A 200 whose body could not be read (cut short, or not JSON): the batch
                    // reached WordPress, which may have saved any of it. Read back
                    // (`read_back_200`); where the read fails, a lost answer as before. (Another
                    // 2xx, a 202 "accepted" from something queueing the request, may come
                    // before anything was saved: left a lost answer.)
                    Err(CartError::Ambiguous(m))
                        if answered.get().is_some_and(|seen| {
                            seen.status == StatusCode::OK
                                && self.read_back_200(items, &chunk, &mut out, seen, &m)
                        }) =>
                    {
                        progress.first = false;
                        continue;
                    }
                    // A shop that takes fewer items a request (its
                    // `woocommerce_rest_batch_items_limit` filter, or a web server's body
                    // limit) answers 413, nothing applied: the request goes again in halves,
                    // and later ones no larger. Refused, every sale of the batch was bypassed.
                    Err(CartError::Rejected(m)) if m.starts_with("HTTP 413") && chunk.len() > 1 => {
                        let (a, b) = chunk.split_at(chunk.len().div_ceil(2));
                        self.batch_limit.fetch_min(a.len(), Ordering::Relaxed);
                        parts.push_front(b.to_vec());
                        parts.push_front(a.to_vec());
                        // The first half goes on the read this batch was planned from: only
                        // this refused request went since. The second is read again after it.
                        sent = false;
                        continue;
                    }
                    // PHP died part-way (a 500 from WordPress): it is done with the batch, so
                    // the counts read now say which items it saved. A 503 naming no wait is
                    // read back too: LiteSpeed and Apache's PHP-FPM proxy answer it when the
                    // PHP worker is killed mid-batch (a memory or time limit), after items
                    // were saved; read as "nothing saved", a sale was read, added and written
                    // again on top of itself. Where the read fails too, the shop is down
                    // (an overloaded server answers 503 before PHP runs): nothing applied.
                    // (`read_back` fills `out` with the chunk's outcomes where it could read.)
                    Err(CartError::Ambiguous(_))
                        if status.get() == Some(StatusCode::INTERNAL_SERVER_ERROR)
                            && self.read_back(items, &chunk, &mut out, "HTTP 500") =>
                    {
                        progress.first = false;
                        continue;
                    }
                    Err(CartError::Unavailable(_))
                        if status.get() == Some(StatusCode::SERVICE_UNAVAILABLE)
                            && self.read_back(items, &chunk, &mut out, "HTTP 503") =>
                    {
                        progress.first = false;
                        continue;
                    }
                    // The same 503 naming a wait (a host's error page that adds `Retry-After`
                    // to every 503): the items may be saved all the same, so they are read
                    // back too; those not saved wait what it named, and the call ends there.
                    // Taken as a rate limit, nothing saved (until 2026-12-05), a saved sale was
                    // read, added and written again after the wait. Where the read fails as
                    // well (maintenance mode answers every request so), it is the rate limit.
                    Err(e @ CartError::RateLimited { .. })
                        if status.get() == Some(StatusCode::SERVICE_UNAVAILABLE)
                            && self.read_back(items, &chunk, &mut out, "HTTP 503") =>
                    {
                        let wait = match &e {
                            CartError::RateLimited { retry_after, .. } => *retry_after,
                            _ => None,
                        };
                        for i in &chunk {
                            if let Some(Err(SendOutcome::Retry { after, .. })) = &mut out[*i] {
                                *after = wait.or(Some(Duration::from_secs(1)));
                            }
                        }
                        progress.first = false;
                        progress.ended = Some(e);
                        break 'requests;
                    }
                    // One item too large for the shop's server even alone: not a refusal of
                    // the item (bypassed at once, for a call of one), but tried again, and
                    // bypassed after the attempts (`common::outcome_for_failed_request`).
                    Err(e) if common::too_large(&e) => {
                        if progress.failed(e, &chunk, items, &mut out) {
                            break 'requests;
                        }
                        continue;
                    }
                    Err(e)
                        if common::fails_whole_call(
                            &e,
                            progress.first,
                            chunk.len() == call_len,
                        ) =>
                    {
                        return Err(e)
                    }
                    Err(e) => {
                        if progress.failed(e, &chunk, items, &mut out) {
                            break 'requests;
                        }
                        continue;
                    }
                };
                progress.first = false;
                let entries = answer["update"].as_array().cloned().unwrap_or_default();
                // JSON of another shape (a plugin or proxy rewriting the answer), or without
                // an entry for some items: those items are read back as for an unreadable
                // 200 (`read_back_200`); where the read fails, they stay in doubt below.
                let unanswered: Vec<usize> = chunk.iter().skip(entries.len()).copied().collect();
                if let (false, Some(seen)) = (unanswered.is_empty(), answered.get()) {
                    let shape = match answer["update"].is_array() {
                        true => "a batch answer without an entry for it",
                        false => "JSON without the batch's `update` list",
                    };
                    if seen.status == StatusCode::OK {
                        self.read_back_200(items, &unanswered, &mut out, seen, shape);
                    }
                }
                // An entry's error may come after WooCommerce saved the count: it saves, then
                // runs the `woocommerce_rest_insert_*` hooks, whose exception becomes the
                // entry's error. Where the count read now is the one written, it was saved
                // (taken as refused, Send QOH's count had the sale it included sent on top).
                let refused: Vec<WooRef> = chunk
                    .iter()
                    .enumerate()
                    .filter(|(n, _)| entries.get(*n).is_some_and(|e| !e["error"].is_null()))
                    .map(|(_, i)| items[*i].r)
                    .collect();
                // A read-back that fails says nothing: the count may be saved (a hook's
                // exception after the save), so it is in doubt, not refused (until
                // 2026-12-04 refused, and Send QOH's count had its sale sent on top).
                let (saved_anyway, unread) = match refused.is_empty() {
                    true => (HashMap::new(), None),
                    false => match self.read(&refused) {
                        Ok(read) => (read, None),
                        Err(e) => (HashMap::new(), Some(e)),
                    },
                };
                for (n, i) in chunk.iter().enumerate() {
                    if out[*i].is_some() {
                        // Judged by the read-back above.
                        continue;
                    }
                    let sku = items[*i].sku;
                    let w = &items[*i];
                    let saved = saved_anyway.get(&w.r).and_then(|(_, s)| s.own());
                    out[*i] = Some(match entries.get(n) {
                        Some(e) if !e["error"].is_null() && saved == Some(w.count) => Ok(saved),
                        Some(e) if !e["error"].is_null() && unread.is_some() => {
                            Err(SendOutcome::Uncertain {
                                message: format!(
                                    "sku {sku}: woocommerce answered an error for the count ({}), and reading it back failed ({}): it may have been saved",
                                    truncate(e["error"]["message"].as_str().unwrap_or("")),
                                    unread.as_ref().map(CartError::message).unwrap_or_default()
                                ),
                            })
                        }
                        Some(e) if !e["error"].is_null() => Err(SendOutcome::Failed {
                            message: format!(
                                "sku {sku}: woocommerce refused the count: {} ({})",
                                truncate(e["error"]["message"].as_str().unwrap_or("")),
                                e["error"]["code"].as_str().unwrap_or("")
                            ),
                        }),
                        // The count the product keeps now: none where WooCommerce did not
                        // save one (a grouped or external product, or the store-wide "Manage
                        // stock" option off: it answers 200 with `manage_stock` false).
                        Some(e) => Ok(Stock::of(e).own()),
                        None => Err(SendOutcome::Uncertain {
                            message: format!("sku {sku}: the batch answer has no entry for it"),
                        }),
                    });
                }
            }
        }
        Ok(out
            .into_iter()
            .zip(items.iter())
            .map(|(o, w)| {
                o.unwrap_or_else(|| {
                    Err(match &progress.ended {
                        Some(e) => common::not_sent_after(e, w.sku),
                        None => common::not_sent(w.sku),
                    })
                })
            })
            .collect())
    }

    /// Judges the writes `chunk` (indexes into `items`) of a batch WordPress answered
    /// `answer` (a 500, a 503 naming no wait) by the counts read now
    /// ([`common::after_failed_write`]), into `out`. False when the read fails: nothing is
    /// judged, and the batch stays what its answer said.
    fn read_back(
        &self,
        items: &[Write<'_>],
        chunk: &[usize],
        out: &mut [Option<std::result::Result<Option<i64>, SendOutcome>>],
        answer: &str,
    ) -> bool {
        let refs: Vec<WooRef> = chunk.iter().map(|i| items[*i].r).collect();
        let Ok(now) = self.read(&refs) else {
            return false;
        };
        for i in chunk {
            let w = &items[*i];
            let count = now.get(&w.r).and_then(|(_, s)| s.counting());
            out[*i] = Some(
                common::after_failed_write(
                    w.sku,
                    &format!("{answer} (WordPress may have stopped part-way through the batch)"),
                    w.count,
                    w.before,
                    count,
                )
                .map(|()| count),
            );
        }
        true
    }

    /// Judges the writes `chunk` of a batch answered 200 with a body that could not be used
    /// (`why`: cut short, not JSON, JSON of another shape), whose body ended as `end`, by the
    /// counts read now, into `out`; false (nothing judged) when the read fails, and the batch
    /// stays a lost answer (uncertain). Until 2026-12-05 every such batch was left uncertain
    /// for the owner to check by hand.
    ///
    /// The request reached WordPress, which may have saved any of it; the counts read now
    /// settle it as a 500's do (`read_back`, [`common::after_failed_write`]): the count
    /// written stands (applied), the count read before does (not applied, sent again), or
    /// neither (uncertain). Where the read-back could be fooled:
    ///
    /// - A write still being saved when the read comes. WordPress sends its status line with
    ///   the first byte PHP prints, and the REST server prints the JSON only once the batch
    ///   handler returned; but a notice or a plugin's stray `echo` during the batch
    ///   (`display_errors` on, no output buffer) sends a 200 before the items are saved, and a
    ///   proxy whose time-out then cuts the answer leaves PHP saving on (it notices the
    ///   client gone only when it prints again, if at all). The count read before then means
    ///   "not saved yet", and sent again the change would be applied twice. So "not applied"
    ///   is believed only from an answer that came whole ([`common::BodyEnd::Whole`]: the end
    ///   its `Content-Length` or chunked framing named, which PHP-FPM's web server sends only
    ///   once the script ended): PHP was done with the batch, as at a 500. An answer that
    ///   broke off ([`common::BodyEnd::Cut`]) or ended only with the connection
    ///   ([`common::BodyEnd::Unframed`], as a cut one does) is settled only where the count
    ///   written stands (a count saved is saved, whatever PHP does next: a batch writes each
    ///   item once); otherwise it stays uncertain.
    /// - A 200 that is not WordPress's: a proxy's own page, sent 200 where it gave up
    ///   waiting (an `error_page … =200` in nginx) while PHP saves on. WordPress's REST server
    ///   sets `Content-Type: application/json` before it runs the handler, so the answer
    ///   PHP sends has it, notices and all; a whole answer without it (an HTML page) is
    ///   treated as one cut short ([`common::Seen::json`]).
    /// - WooCommerce's object cache (a persistent Redis or Memcached one): the save updates
    ///   the database, then deletes the product's cached entries, within the same request. A
    ///   stale entry can be read only while that request runs, the case above; once PHP is
    ///   done the read sees what it saved.
    /// - A storefront sale between the write and the read takes the count off the one
    ///   written, which then stands nowhere: uncertain, as at a 500. A sale that takes a
    ///   saved count back exactly to the one read before reads as not applied, and the write
    ///   goes again on top: the read-add-write window every WooCommerce write has (DESIGN
    ///   §4), a few milliseconds here, which the 500's read-back accepts too.
    /// - A read from a lagging replica (a database or cache replica behind the one written)
    ///   shows the count from before: the 500's read-back takes that risk as well; a shop
    ///   reading from replicas is one where `http_json` (keyed) is the safe path.
    fn read_back_200(
        &self,
        items: &[Write<'_>],
        chunk: &[usize],
        out: &mut [Option<std::result::Result<Option<i64>, SendOutcome>>],
        seen: common::Seen,
        why: &str,
    ) -> bool {
        let refs: Vec<WooRef> = chunk.iter().map(|i| items[*i].r).collect();
        let Ok(now) = self.read(&refs) else {
            return false;
        };
        let why = truncate(why);
        for i in chunk {
            let w = &items[*i];
            let count = now.get(&w.r).and_then(|(_, s)| s.counting());
            let judged = match seen.end {
                common::BodyEnd::Whole if seen.json => common::after_failed_write(
                    w.sku,
                    &format!("HTTP 200 with an answer that could not be read ({why})"),
                    w.count,
                    w.before,
                    count,
                ),
                // PHP may still be saving the batch: a count not yet saved is no count not
                // saved, and sent again it would be applied twice.
                _ if count == Some(w.count) => Ok(()),
                _ => Err(SendOutcome::Uncertain {
                    message: format!(
                        "sku {}: the batch was answered 200, but not with a whole answer of WordPress's ({why}); it shows {} where {} was written over {}, and WordPress may still have been saving the batch when read, so the count is not sent again; left for the drift report",
                        w.sku,
                        count.map_or("no count".to_owned(), |c| c.to_string()),
                        w.count,
                        w.before.map_or("no count".to_owned(), |c| c.to_string()),
                    ),
                }),
            };
            out[*i] = Some(judged.map(|()| count));
        }
        true
    }
}

/// Where variable product `p` (id `id`) keeps one stock count for its variations ("Manage
/// stock?" ticked on the product: its variations answer `manage_stock: "parent"`), the
/// product itself, under its own SKU: that pool is the SKU's count, as a `Sku`-level cart
/// publishes a product with variants. `None` for a product without a SKU or not managing
/// stock. (Until 2026-12-03 its SKU was unknown to the adapter: every sale failed as an
/// unknown SKU, and Get QOH never read the count.)
fn pooled(p: &Value, id: u64) -> Option<WooRef> {
    let sku = p["sku"].as_str().filter(|s| !s.is_empty());
    (sku.is_some() && p["manage_stock"].as_bool() == Some(true)).then_some(WooRef {
        product: id,
        variation: None,
    })
}

/// The fields of a product or variation the adapter reads (WordPress's `_fields`).
const LISTED_FIELDS: &str = "id,sku,type,manage_stock,stock_quantity";
/// The fields a lookup by SKU reads: a variation listed among products names its product.
const LOOKUP_FIELDS: &str = "id,sku,type,parent_id,manage_stock,stock_quantity";
/// The fields of a product Get QOH's listing reads: with its `name`, which Get QOH gives an
/// item it creates (`CataloguePage::details`).
const PRODUCT_FIELDS: &str = "id,sku,type,manage_stock,stock_quantity,name";
/// The fields of a variation Get QOH's listing reads: with its `attributes`
/// (`[{id, name, option}]`, the option values that make it).
const VARIATION_FIELDS: &str = "id,sku,type,manage_stock,stock_quantity,attributes";

/// A variation's (attribute name, option) pairs, those with both, as the owner typed them
/// ([`plain_text`]). `name` is the attribute's label (`Colour`, not its slug `pa_colour`:
/// WooCommerce's `get_attribute_taxonomy_name` answers a global attribute's
/// `attribute_label` and a custom one's name as typed, the slug only where the product no
/// longer has the attribute). An attribute set to "any" value is not listed at all
/// (WooCommerce skips an empty value), so such a variation is named by its other options.
fn options_of(v: &Value) -> Vec<(String, String)> {
    v["attributes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| Some((a["name"].as_str()?, a["option"].as_str()?)))
        .map(|(n, o)| (plain_text(n), plain_text(o)))
        .filter(|(n, o)| !n.is_empty() && !o.is_empty())
        .collect()
}

/// Named character references a WordPress name may hold: those WordPress writes itself
/// (`_wp_specialchars`: `&amp;` `&lt;` `&gt;` `&quot;`; kses keeps any valid one typed) and
/// the typographic ones, besides [`LATIN1`].
const NAMED: [(&str, char); 37] = [
    ("amp", '&'),
    ("lt", '<'),
    ("gt", '>'),
    ("quot", '"'),
    ("apos", '\''),
    ("ndash", '\u{2013}'),
    ("mdash", '\u{2014}'),
    ("lsquo", '\u{2018}'),
    ("rsquo", '\u{2019}'),
    ("sbquo", '\u{201A}'),
    ("ldquo", '\u{201C}'),
    ("rdquo", '\u{201D}'),
    ("bdquo", '\u{201E}'),
    ("dagger", '\u{2020}'),
    ("Dagger", '\u{2021}'),
    ("bull", '\u{2022}'),
    ("hellip", '\u{2026}'),
    ("permil", '\u{2030}'),
    ("prime", '\u{2032}'),
    ("Prime", '\u{2033}'),
    ("lsaquo", '\u{2039}'),
    ("rsaquo", '\u{203A}'),
    ("euro", '\u{20AC}'),
    ("trade", '\u{2122}'),
    ("ensp", '\u{2002}'),
    ("emsp", '\u{2003}'),
    ("thinsp", '\u{2009}'),
    ("OElig", '\u{152}'),
    ("oelig", '\u{153}'),
    ("Scaron", '\u{160}'),
    ("scaron", '\u{161}'),
    ("Yuml", '\u{178}'),
    ("fnof", '\u{192}'),
    ("circ", '\u{2C6}'),
    ("tilde", '\u{2DC}'),
    ("larr", '\u{2190}'),
    ("rarr", '\u{2192}'),
];

/// HTML's names for U+00A0..=U+00FF, in order (`&eacute;` is U+00E9).
const LATIN1: [&str; 96] = [
    "nbsp", "iexcl", "cent", "pound", "curren", "yen", "brvbar", "sect", "uml", "copy", "ordf",
    "laquo", "not", "shy", "reg", "macr", "deg", "plusmn", "sup2", "sup3", "acute", "micro",
    "para", "middot", "cedil", "sup1", "ordm", "raquo", "frac14", "frac12", "frac34", "iquest",
    "Agrave", "Aacute", "Acirc", "Atilde", "Auml", "Aring", "AElig", "Ccedil", "Egrave", "Eacute",
    "Ecirc", "Euml", "Igrave", "Iacute", "Icirc", "Iuml", "ETH", "Ntilde", "Ograve", "Oacute",
    "Ocirc", "Otilde", "Ouml", "times", "Oslash", "Ugrave", "Uacute", "Ucirc", "Uuml", "Yacute",
    "THORN", "szlig", "agrave", "aacute", "acirc", "atilde", "auml", "aring", "aelig", "ccedil",
    "egrave", "eacute", "ecirc", "euml", "igrave", "iacute", "icirc", "iuml", "eth", "ntilde",
    "ograve", "oacute", "ocirc", "otilde", "ouml", "divide", "oslash", "ugrave", "uacute", "ucirc",
    "uuml", "yacute", "thorn", "yuml",
];

/// What a browser shows for `&#128;`..`&#159;`: Windows-1252's characters there (text
/// pasted from old word processors is stored so); `None` where it has none.
const CP1252: [Option<char>; 32] = [
    Some('\u{20AC}'),
    None,
    Some('\u{201A}'),
    Some('\u{192}'),
    Some('\u{201E}'),
    Some('\u{2026}'),
    Some('\u{2020}'),
    Some('\u{2021}'),
    Some('\u{2C6}'),
    Some('\u{2030}'),
    Some('\u{160}'),
    Some('\u{2039}'),
    Some('\u{152}'),
    None,
    Some('\u{17D}'),
    None,
    None,
    Some('\u{2018}'),
    Some('\u{2019}'),
    Some('\u{201C}'),
    Some('\u{201D}'),
    Some('\u{2022}'),
    Some('\u{2013}'),
    Some('\u{2014}'),
    Some('\u{2DC}'),
    Some('\u{2122}'),
    Some('\u{161}'),
    Some('\u{203A}'),
    Some('\u{153}'),
    None,
    Some('\u{17E}'),
    Some('\u{178}'),
];

/// The character a reference names, without its `&` and `;` (`amp`, `#8217`, `#x2019`).
fn referenced(entity: &str) -> Option<char> {
    if let Some(number) = entity.strip_prefix('#') {
        // Digits only: Rust's parsers would also take a sign (`&#+65;` is no reference).
        let code = match number.strip_prefix(['x', 'X']) {
            Some(hex)
                if (1..=6).contains(&hex.len()) && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
            {
                u32::from_str_radix(hex, 16)
            }
            None if (1..=7).contains(&number.len())
                && number.bytes().all(|b| b.is_ascii_digit()) =>
            {
                number.parse()
            }
            _ => return None,
        }
        .ok()?;
        return match code {
            0 => None,
            0x80..=0x9F => CP1252[(code - 0x80) as usize].or_else(|| char::from_u32(code)),
            _ => char::from_u32(code),
        };
    }
    NAMED
        .iter()
        .find(|(n, _)| *n == entity)
        .map(|(_, c)| *c)
        .or_else(|| {
            let i = LATIN1.iter().position(|n| *n == entity)?;
            char::from_u32(0xA0 + i as u32)
        })
}

/// A product name or attribute as the owner typed it. WordPress answers them as it stores
/// them, HTML-escaped: "Tea & Cake" is `Tea &amp; Cake` (kses and `_wp_specialchars` on
/// save; a global attribute's value is a term name, escaped the same way), and quotes or
/// dashes may be `&#8217;` or `&#8211;`. Each reference is read once, left to right, and
/// its result is not read again: `&amp;amp;` is `&amp;`, the name the owner typed. A `&`
/// that starts no known reference (`R&D`, `&unknown;`, `&#0;`) is kept as it is. The
/// result is still raw cart text: `items::cart_text` cleans it (a decoded `&#x202E;` or
/// `&#10;` is a space there), which is why this runs before it, in the adapter.
fn plain_text(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        rest = &rest[at..];
        // The longest reference known is 10 bytes with its `&` and `;` (`&#x10FFFF;`).
        let decoded = rest
            .char_indices()
            .take(12)
            .find(|(_, c)| *c == ';')
            .and_then(|(end, _)| Some((referenced(&rest[1..end])?, end)));
        match decoded {
            Some((c, end)) => {
                out.push(c);
                rest = &rest[end + 1..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The product of a variation listed among products (`parent_id`; a number, or a string of
/// one); `None` where it names none.
fn parent_of(v: &Value) -> Option<u64> {
    let p = &v["parent_id"];
    p.as_u64()
        .or_else(|| p.as_str().and_then(|s| s.trim().parse().ok()))
        .filter(|p| *p > 0)
}

/// Whether WooCommerce's `sku` filter can be asked for `sku` exactly. The parameter is
/// cleaned by `sanitize_text_field` before the query (its `sanitize_callback` in
/// `get_collection_params`): whitespace trimmed, runs of spaces, tabs and line breaks made
/// one space, `%` and two hex digits removed, tags stripped; and a value PHP takes as empty
/// (`""`, `"0"`) sets no filter at all. A SKU WooCommerce saved went through the same
/// cleaning (`wc_clean`), so such a SKU is on no product saved by WooCommerce, but one
/// imported into the database may have it: it is found by a crawl, as before.
fn searchable(sku: &str) -> bool {
    let b = sku.as_bytes();
    let percent = b
        .windows(3)
        .any(|w| w[0] == b'%' && w[1].is_ascii_hexdigit() && w[2].is_ascii_hexdigit());
    sku != "0"
        && sku.trim() == sku
        && !sku.contains("  ")
        && !sku.contains(['\t', '\r', '\n', '<'])
        && !percent
}

/// `skus` in chunks for one `sku=` lookup each: at most [`SKUS_PER_LOOKUP`], and
/// [`SKU_QUERY_BYTES`] percent-encoded. A SKU with a comma goes alone: WooCommerce splits
/// the value at commas, and matches the whole value as one SKU only besides (the SKU
/// `A,B` asked alone is matched, and so are `A` and `B`, which the exact comparison drops).
fn sku_chunks<'a>(skus: &[&'a str]) -> Vec<Vec<&'a str>> {
    // As `application/x-www-form-urlencoded` writes it: unreserved bytes and a space (`+`)
    // one byte, others three.
    let encoded = |s: &str| {
        s.bytes()
            .map(|b| match b {
                b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' | b' ' => 1,
                _ => 3,
            })
            .sum::<usize>()
    };
    let mut out: Vec<Vec<&str>> = Vec::new();
    let (mut chunk, mut bytes): (Vec<&str>, usize) = (Vec::new(), 0);
    for sku in skus {
        if sku.contains(',') {
            out.push(vec![sku]);
            continue;
        }
        // The comma between two SKUs is 3 bytes (`%2C`).
        let len = encoded(sku) + 3;
        if !chunk.is_empty() && (chunk.len() == SKUS_PER_LOOKUP || bytes + len > SKU_QUERY_BYTES) {
            out.push(std::mem::take(&mut chunk));
            bytes = 0;
        }
        chunk.push(sku);
        bytes += len;
    }
    if !chunk.is_empty() {
        out.push(chunk);
    }
    out
}

/// A 404 that names no WooCommerce error (WordPress's `rest_no_route`, a web server's own
/// page) means no WooCommerce REST API answers at the cart's url: WooCommerce deactivated (a
/// plugin update does so for a while), permalinks set to plain, a mistyped url. The cart
/// pauses with its records waiting, as for refused credentials, until its settings change:
/// taken as a refusal of the items, it had every record of the batch bypassed at once. A 404
/// naming a WooCommerce error (`woocommerce_rest_product_invalid_id`: a product gone) stays
/// the refusal it is.
fn no_route(e: CartError) -> CartError {
    match e {
        CartError::Rejected(m) if m.starts_with("HTTP 404") && !m.contains("woocommerce_rest_") => {
            CartError::Unauthorized(format!(
                "no WooCommerce REST API answers at this url: check the cart's url, that \
                 WooCommerce is active, and that permalinks are not plain ({m})"
            ))
        }
        e => e,
    }
}

/// The `on_error` of a batch write. WooCommerce saves a batch's items one after another with
/// no transaction (`WC_REST_Controller::batch_items`), and WordPress answers 500 when PHP
/// dies part-way (a time or memory limit, a plugin's fatal error on save): items before the
/// failure may be saved, so a 500 is a lost answer ([`CartError::Ambiguous`], which
/// `WooCommerceAdapter::write` then settles by reading the counts back), not "nothing
/// applied" (a delta read as not applied is read, added and written again; a set's waiting
/// records would be sent on top of it). A gateway's 502/504/524 likewise
/// ([`common::gateway_lost_answer`]). A 503 stays [`CartError::Unavailable`] here (an
/// overloaded server answers it before WordPress runs the handler; maintenance mode names a
/// wait, a rate limit), but `WooCommerceAdapter::write` reads the counts back before it
/// believes it: a PHP worker killed mid-batch gets a 503 from LiteSpeed or Apache too.
fn batch_write_error(r: &reqwest::blocking::Response) -> Option<CartError> {
    if r.status().as_u16() == 500 {
        return Some(CartError::Ambiguous(format!(
            "HTTP {}: WooCommerce saves a batch item by item, so items before the failure may have been saved",
            r.status()
        )));
    }
    common::gateway_lost_answer(r).or_else(|| common::see_other_lost_answer(r))
}

/// `sku` (trimmed) at least as loosely as WordPress's MySQL collations (`utf8mb4_unicode_ci`,
/// `utf8mb4_unicode_520_ci`) compare it, for telling whether a shop honoured a `sku` filter:
/// [`crate::items::sku_fold`], and the letters they expand or take for another (`ß` = `ss`,
/// `æ` = `ae`, `œ` = `oe`, `þ` = `th`; `ø`, `đ`, `ł`, `ı` their base letter). Compared by
/// `sku_fold` alone, `sku=STRASSE` answered with `STRAßE` was taken for a filter ignored, and
/// every SKU of the lookup's later chunks as absent: each change of them failed as an unknown
/// SKU (until 2026-12-05). Looser than the shop costs nothing: a shop that ignores the filter
/// lists its whole catalogue, and the products are matched exactly after.
pub(crate) fn collation_fold(sku: &str) -> String {
    let mut out = String::new();
    for c in crate::items::sku_fold(sku.trim()).chars() {
        match c {
            'ß' => out.push_str("ss"),
            'æ' => out.push_str("ae"),
            'œ' => out.push_str("oe"),
            'þ' => out.push_str("th"),
            'ø' => out.push('o'),
            'đ' => out.push('d'),
            'ł' => out.push('l'),
            'ı' => out.push('i'),
            c => out.push(c),
        }
    }
    out
}

/// What an index of the catalogue found: each SKU's ids, and the SKUs it met twice.
#[derive(Default)]
struct Found {
    ids: HashMap<String, WooRef>,
    twice: HashSet<String>,
}

impl Found {
    fn add(&mut self, sku: &str, r: WooRef) {
        if self
            .ids
            .insert(sku.to_owned(), r)
            .is_some_and(|was| was != r)
        {
            self.twice.insert(sku.to_owned());
        }
    }
}

/// A change of a SKU the shop was found not to have in the last [`ABSENT_FOR`], which it was
/// not asked about again: not applied, and tried again (an attempt), so that a product the
/// owner lists meanwhile takes it once the absence runs out. Failed for good on memory alone
/// (until 2026-12-04), the sale of an item listed in the shop within five minutes of an
/// earlier change of it was bypassed, the shop kept offering the unit, and an operator's
/// retry after listing it failed the same way.
fn remembered_absent(sku: &str) -> SendOutcome {
    SendOutcome::Retry {
        message: format!(
            "sku {sku}: unknown SKU when the shop was last asked (within {} minutes); not \
             asked again before then, so the change waits and is tried again (a product \
             given this SKU meanwhile is found then)",
            ABSENT_FOR.as_secs() / 60
        ),
        after: None,
    }
}

/// One count to write, as planned from the count read before it.
#[derive(Clone, Copy)]
struct Write<'a> {
    /// The item's place in the call.
    at: usize,
    r: WooRef,
    /// The count to write.
    count: i64,
    /// The count read (`None`: none of its own: stock not managed, or its product's).
    before: Option<i64>,
    /// The change a count of a real-time delta adds to the count read (`None`: an absolute
    /// count, Send QOH's): what `WooCommerceAdapter::write` adds again to a count it reads
    /// right before a later request ([`recount`]).
    delta: Option<i64>,
    sku: &'a str,
}

/// What the requests of one call came to so far, across the groups a call of deltas writes
/// one after another.
struct Progress {
    /// No request of the call has been answered in a way that may have applied anything: an
    /// error now is the whole call's ([`common::fails_whole_call`]).
    first: bool,
    /// The error that ended the call, if one did ([`common::ends_write`]): nothing more is
    /// sent.
    ended: Option<CartError>,
}

impl Progress {
    /// A request of `chunk` (a read before it, or its write) failed with `e` after the call
    /// may have applied something: each of its items gets the request's outcome. Returns
    /// whether `e` ends the call (kept in `ended`), or the next request goes on.
    fn failed(
        &mut self,
        e: CartError,
        chunk: &[usize],
        items: &[Write<'_>],
        out: &mut [Option<std::result::Result<Option<i64>, SendOutcome>>],
    ) -> bool {
        for &i in chunk {
            out[i] = Some(Err(outcome_for_failed_request(&e, items[i].sku, false)));
        }
        let ends = common::ends_write(&e);
        if ends {
            self.ended = Some(e);
        }
        ends
    }
}

impl Default for Progress {
    fn default() -> Self {
        Progress {
            first: true,
            ended: None,
        }
    }
}

/// `w`'s count planned again from `now`, a read made right before its request: the count
/// read plus the change. A count that is no longer one a change adds to (stock management
/// turned off, a fraction, the product gone, all in the moment since the call's first read)
/// is not written: tried again, the next call's read says what it is.
fn recount(
    w: &mut Write<'_>,
    now: &HashMap<WooRef, (String, Stock)>,
) -> std::result::Result<(), SendOutcome> {
    let Some(delta) = w.delta else { return Ok(()) };
    let read = match now.get(&w.r).map(|(_, s)| *s) {
        Some(Stock::Own(n)) => n,
        Some(Stock::Unset) => 0,
        other => {
            return Err(SendOutcome::Retry {
                message: format!(
                    "sku {}: not sent: its WooCommerce stock changed while the call ran (read again: {}); tried again",
                    w.sku,
                    match other {
                        None => "not listed".to_owned(),
                        Some(s) => format!("{s:?}"),
                    }
                ),
                after: None,
            })
        }
    };
    match read.checked_add(delta) {
        Some(count) => {
            w.before = Some(read);
            w.count = count;
            Ok(())
        }
        None => Err(SendOutcome::Failed {
            message: format!("sku {}: the count would overflow", w.sku),
        }),
    }
}

/// The items of a call of deltas read together right before their write: one group's (the
/// products', or one product's variations'), at most a batch of counts.
struct Entry {
    group: Option<u64>,
    /// (the item's place in the call, the count it changes, whether that is the shared count
    /// of the item's variation's product, `manage_stock: "parent"`).
    items: Vec<(usize, WooRef, bool)>,
}

impl Entry {
    fn counts(&self) -> usize {
        self.items
            .iter()
            .map(|x| x.1)
            .collect::<HashSet<WooRef>>()
            .len()
    }
}

/// The batch endpoint a count is written through: the products' (`None`), or the variations'
/// of a product.
fn group_of(r: WooRef) -> Option<u64> {
    r.variation.map(|_| r.product)
}

/// Puts item `(place, count, shared)` of a call of deltas in the entry that reads its count:
/// one already reading that count (one write a call per count: the changes of variations
/// sharing it add up there, and another change of it is sent after), else one of its group
/// with room, else a new one. Variations' groups go first, by product, the products last:
/// a variation read as sharing its product's stock joins the products read after it.
fn enqueue(queue: &mut VecDeque<Entry>, limit: usize, item: (usize, WooRef, bool)) {
    let group = group_of(item.1);
    let at = queue
        .iter()
        .position(|e| e.group == group && e.items.iter().any(|x| x.1 == item.1))
        .or_else(|| {
            queue
                .iter()
                .position(|e| e.group == group && e.counts() < limit.max(1))
        });
    match at {
        Some(at) => queue[at].items.push(item),
        None => {
            let order = |g: Option<u64>| (g.is_none(), g);
            let at = queue
                .iter()
                .position(|e| order(e.group) > order(group))
                .unwrap_or(queue.len());
            queue.insert(
                at,
                Entry {
                    group,
                    items: vec![item],
                },
            );
        }
    }
}

/// The adapter's answers with its credentials scrubbed (a proxy or an error page may quote
/// the request's headers back): an integrator may use the adapter alone, without the
/// registry's scrubbing.
impl CartAdapter for WooCommerceAdapter {
    fn begin_manual_run(&self) {
        self.set_once.clear();
        // An owner runs Send QOH after adding products to the shop: they are looked up at
        // once, not after the absent SKUs' time runs out; a SKU found twice is too.
        self.absent.lock().clear();
        let now = Instant::now();
        self.twice
            .lock()
            .values_mut()
            .for_each(|until| *until = now);
    }
    fn update_mode(&self) -> UpdateMode {
        Self::UPDATE_MODE
    }

    common::scrubbed_calls!(self => self.secrets);

    fn fetch_catalogue(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> std::result::Result<CataloguePage, CartError> {
        let mut page = self
            .raw_fetch_catalogue(cursor, limit)
            .map_err(|e| e.map_message(|m| common::scrub(m, &self.secrets)))?;
        page.unreadable =
            common::scrub_reasons(std::mem::take(&mut page.unreadable), &self.secrets);
        Ok(page)
    }
}

impl WooCommerceAdapter {
    /// A call of deltas: its items in groups of one batch endpoint each (the variations of
    /// each product, then the products: a variation sharing its product's stock is found so
    /// by the first, and its change goes with the second), and per group: read the counts,
    /// add, write; then the counts written are read back. Each group's read is made right
    /// before its write, so the read-add-write window of DESIGN §4 is one request, not the
    /// call: until 2026-12-04 every count was read first and the groups written after, one
    /// request each, and a sale WooCommerce recorded meanwhile in a product written later
    /// was overwritten (the shop then offered a unit the store had sold).
    fn raw_apply_deltas(
        &self,
        deltas: &[DeltaSend],
    ) -> std::result::Result<Vec<SendOutcome>, CartError> {
        let items: Vec<(&str, Option<&str>)> = deltas
            .iter()
            .map(|d| (d.sku.as_str(), d.remote_ref.as_deref()))
            .collect();
        let (refs, mut looked) = self.resolve(&items)?;
        let limit = self.batch_limit.load(Ordering::Relaxed);
        let by_ref = |i: usize| {
            deltas[i]
                .remote_ref
                .as_deref()
                .and_then(parse_ref)
                .is_some()
        };
        let mut out: Vec<Option<SendOutcome>> = vec![None; deltas.len()];
        let mut queue: VecDeque<Entry> = VecDeque::new();
        for (i, (d, r)) in deltas.iter().zip(&refs).enumerate() {
            if let Some(twice) = self.found_twice(&d.sku, d.remote_ref.as_deref()) {
                out[i] = Some(twice);
                continue;
            }
            let Some(r) = r else {
                let remembered = !by_ref(i) && !looked.contains(d.sku.as_str());
                out[i] = Some(match remembered {
                    true => remembered_absent(&d.sku),
                    false => self.unknown(d.sku.as_str(), d.remote_ref.as_deref()),
                });
                continue;
            };
            enqueue(&mut queue, limit, (i, *r, false));
        }
        let mut plan: Vec<Write> = Vec::new();
        let mut written: Vec<std::result::Result<Option<i64>, SendOutcome>> = Vec::new();
        // Variations' changes added into a write of their shared stock: (change, write), each
        // answered as that write is. One write a call per count, the others answered "send
        // again" (as for two items on one product), had the 11th size of a product with a
        // backlog of sales wait ten passes, each counted an attempt, and bypassed.
        let mut pooled_into: Vec<(usize, usize)> = Vec::new();
        let mut progress = Progress::default();
        'entries: while let Some(mut entry) = queue.pop_front() {
            // Planned in the call's order: of two changes of one count, the later waits.
            entry.items.sort_by_key(|x| x.0);
            if let Some(e) = &progress.ended {
                for (i, _, _) in &entry.items {
                    out[*i] = Some(common::not_sent_after(e, &deltas[*i].sku));
                }
                continue;
            }
            // Read, add, write: the window of DESIGN §4 is between this read and the write
            // right after it. The ids are checked against the SKUs read (see `locate`): a SKU
            // moved to another product is looked up again (once a call), and its item goes
            // with that product's group (this one read again, so that every count of the
            // request is the one read just before it).
            let (current, failed) = loop {
                let mut refs: Vec<WooRef> = Vec::new();
                for (_, r, _) in &entry.items {
                    if !refs.contains(r) {
                        refs.push(*r);
                    }
                }
                let seen = match self.read(&refs) {
                    Ok(seen) => seen,
                    Err(e) => break (HashMap::new(), Some(e)),
                };
                let stale: Vec<(usize, WooRef, bool)> = entry
                    .items
                    .iter()
                    .filter(|(i, r, pooled)| {
                        !pooled
                            && !by_ref(*i)
                            && seen.get(r).is_none_or(|(now, _)| *now != deltas[*i].sku)
                    })
                    .copied()
                    .collect();
                let wrong: Vec<usize> = stale.iter().map(|x| x.0).collect();
                if wrong.is_empty() {
                    break (seen, None);
                }
                entry.items.retain(|x| !wrong.contains(&x.0));
                let mut moved: Vec<&str> = Vec::new();
                for &i in &wrong {
                    let sku = deltas[i].sku.as_str();
                    if !looked.contains(sku) && !moved.contains(&sku) {
                        moved.push(sku);
                    }
                }
                if !moved.is_empty() {
                    if let Err(e) = self.find(&moved) {
                        entry.items.extend(stale);
                        break (HashMap::new(), Some(e));
                    }
                    looked.extend(moved.iter().map(|s| (*s).to_owned()));
                }
                let again = self.lookup(&items);
                let mut back = false;
                for &i in &wrong {
                    let d = &deltas[i];
                    let Some(r) = again[i].filter(|_| moved.contains(&d.sku.as_str())) else {
                        out[i] = Some(self.unknown(d.sku.as_str(), d.remote_ref.as_deref()));
                        continue;
                    };
                    if let Some(twice) = self.found_twice(&d.sku, d.remote_ref.as_deref()) {
                        out[i] = Some(twice);
                    } else if group_of(r) == entry.group
                        && (entry.items.iter().any(|x| x.1 == r) || entry.counts() < limit)
                    {
                        entry.items.push((i, r, false));
                        back = true;
                    } else {
                        enqueue(&mut queue, limit, (i, r, false));
                    }
                }
                if !back {
                    break (seen, None);
                }
                entry.items.sort_by_key(|x| x.0);
            };
            if let Some(e) = failed {
                // Nothing of this group was sent.
                if progress.first {
                    return Err(e);
                }
                for (i, _, _) in &entry.items {
                    out[*i] = Some(outcome_for_failed_request(&e, &deltas[*i].sku, false));
                }
                if common::ends_write(&e) {
                    progress.ended = Some(e);
                }
                continue 'entries;
            }
            let start = plan.len();
            for &(i, r, pooled) in &entry.items {
                let d = &deltas[i];
                let stock = match current.get(&r).map(|(_, s)| *s) {
                    Some(Stock::Unset) => Some(Stock::Own(0)),
                    stock => stock,
                };
                // A variation sharing its product's stock (`manage_stock: "parent"`) sells
                // from the product's count, the pool of all of them: its change is that
                // count's change (the changes of the variations add up to the change of the
                // pool), read and written with the products. Until 2026-12-04 it failed, the
                // sale bypassed, and the shop went on selling the unit from the pool.
                if !pooled && stock == Some(Stock::Parent) {
                    enqueue(&mut queue, limit, (i, r.pool(), true));
                    continue;
                }
                let planned = plan[start..]
                    .iter()
                    .position(|w| w.r == r)
                    .map(|p| p + start);
                match stock {
                    // Its product keeps no count to share (or was not listed).
                    _ if pooled && !matches!(stock, Some(Stock::Own(_))) => {
                        out[i] = Some(SendOutcome::Failed {
                            message: format!(
                                "sku {}: this WooCommerce variation has no stock of its own (manage_stock is \"parent\"), and its product keeps no count to share; turn on Manage stock for the variation or its product",
                                d.sku
                            ),
                        })
                    }
                    None | Some(Stock::Parent) => {
                        out[i] = Some(self.unknown(d.sku.as_str(), d.remote_ref.as_deref()))
                    }
                    Some(Stock::NotManaged | Stock::Unset) => {
                        out[i] = Some(SendOutcome::Failed {
                            message: format!(
                            "sku {}: WooCommerce does not manage stock for it (manage_stock is off)",
                            d.sku
                        ),
                        })
                    }
                    // A whole change written over a fraction would keep the fraction, and the
                    // read-back could not tell it from a count in step.
                    Some(Stock::Fraction(f)) => {
                        out[i] = Some(SendOutcome::Failed {
                            message: format!(
                                "sku {}: WooCommerce keeps a count with a fraction ({f}) for it, and this adapter sends whole units: set a whole count in the shop, or send one with Send QOH",
                                d.sku
                            ),
                        })
                    }
                    // Written by an earlier request of this call (a variation's shared count
                    // reached after its product's own SKU went): checked against the one
                    // count written, both were "applied".
                    Some(Stock::Own(_)) if plan[..start].iter().any(|w| w.r == r) => {
                        out[i] = Some(common::sent_after_another(&d.sku, "its WooCommerce product"))
                    }
                    Some(Stock::Own(_)) if pooled && planned.is_some() => {
                        let p = planned.expect("matched above");
                        match (
                            plan[p].count.checked_add(d.delta),
                            plan[p].delta.and_then(|s| s.checked_add(d.delta)),
                        ) {
                            (Some(sum), Some(change)) => {
                                plan[p].count = sum;
                                plan[p].delta = Some(change);
                                pooled_into.push((i, p));
                            }
                            _ => {
                                out[i] = Some(SendOutcome::Failed {
                                    message: format!("sku {}: the count would overflow", d.sku),
                                })
                            }
                        }
                    }
                    // Checked against the one count written, both were "applied".
                    Some(Stock::Own(_)) if planned.is_some() => {
                        out[i] = Some(common::sent_after_another(&d.sku, "its WooCommerce product"))
                    }
                    Some(Stock::Own(now)) => match now.checked_add(d.delta) {
                        Some(target) => plan.push(Write {
                            at: i,
                            r,
                            count: target,
                            before: Some(now),
                            delta: Some(d.delta),
                            sku: &d.sku,
                        }),
                        None => {
                            out[i] = Some(SendOutcome::Failed {
                                message: format!("sku {}: the count would overflow", d.sku),
                            })
                        }
                    },
                }
            }
            if plan.len() > start {
                written.extend(self.write(&mut plan[start..], deltas.len(), &mut progress)?);
            }
        }
        if !plan.is_empty() {
            let to_verify: Vec<WooRef> = plan
                .iter()
                .zip(&written)
                .filter(|(_, w)| w.is_ok())
                .map(|(w, _)| w.r)
                .collect();
            let verified = match self.read(&to_verify) {
                Ok(v) => Ok(v),
                Err(e) => Err(e.message()),
            };
            for (p, (w, result)) in plan.iter().zip(written).enumerate() {
                let (sku, target) = (w.sku, w.count);
                let outcome = match result {
                    Err(outcome) => outcome,
                    Ok(_) => match &verified {
                        Ok(v) => match v.get(&w.r).and_then(|(_, s)| s.own()) {
                            Some(now) if now == target => SendOutcome::Applied { qoh: Some(now) },
                            other => SendOutcome::Uncertain {
                                message: format!(
                                    "sku {sku}: wrote {target} but read back {} (another change raced ours); left for the drift report",
                                    other.map_or("nothing".to_owned(), |n| n.to_string())
                                ),
                            },
                        },
                        Err(m) => SendOutcome::Uncertain {
                            message: format!("sku {sku}: wrote {target}; the verify read failed: {m}"),
                        },
                    },
                };
                for &(i, _) in pooled_into.iter().filter(|(_, into)| *into == p) {
                    out[i] = Some(outcome.clone());
                }
                out[w.at] = Some(outcome);
            }
        }
        Ok(common::outcomes(out))
    }

    fn raw_set_quantities(
        &self,
        sets: &[QuantitySet],
    ) -> std::result::Result<Vec<SendOutcome>, CartError> {
        // Read first, for every set: a count written to a cached id whose product now has
        // another SKU would set another product's stock.
        let (refs, current, _) = self.locate(
            &sets
                .iter()
                .map(|s| (s.sku.as_str(), s.remote_ref.as_deref()))
                .collect::<Vec<_>>(),
        )?;
        let mut out: Vec<Option<SendOutcome>> = vec![None; sets.len()];
        let mut plan: Vec<Write> = Vec::new();
        for (i, (s, r)) in sets.iter().zip(&refs).enumerate() {
            if let Some(twice) = self.found_twice(&s.sku, s.remote_ref.as_deref()) {
                out[i] = Some(twice);
                continue;
            }
            // Not listed by the shop (deleted, in the bin): nothing to set.
            let Some(r) = r.filter(|r| current.contains_key(r)) else {
                out[i] = Some(self.unknown(s.sku.as_str(), s.remote_ref.as_deref()));
                continue;
            };
            // A product the owner keeps no stock count for (a service, made to order, a gift
            // card) is left so: the write turned its stock management on, and a count of 0
            // took it off sale. A change to it fails the same way.
            if current.get(&r) == Some(&Stock::NotManaged) {
                out[i] = Some(SendOutcome::Failed {
                    message: format!(
                        "sku {}: WooCommerce does not manage stock for it (manage_stock is off), and Send QOH does not turn that on: turn on Manage stock for it in WooCommerce to have its count set, or stop syncing the item to this cart",
                        s.sku
                    ),
                });
                continue;
            }
            if let Some(expected) = s.expected {
                match current.get(&r).and_then(|s| s.own()) {
                    Some(now) if now != expected => {
                        out[i] = Some(SendOutcome::Conflict { current: now });
                        continue;
                    }
                    // No count of its own to compare (stock not managed, or shared with its
                    // product): never set blindly.
                    None => {
                        out[i] = Some(SendOutcome::Failed {
                            message: format!(
                                "sku {}: WooCommerce keeps no count of its own for it, so the expected count cannot be compared; not set",
                                s.sku
                            ),
                        });
                        continue;
                    }
                    Some(_) => {}
                }
            }
            let record = format!("{}/{}", r.product, r.variation.unwrap_or(0));
            if let Some(refused) = self
                .set_once
                .claim(&record, &s.sku, "its WooCommerce product")
            {
                out[i] = Some(refused);
                continue;
            }
            plan.push(Write {
                at: i,
                r,
                count: s.qoh,
                before: current.get(&r).and_then(|s| s.counting()),
                delta: None,
                sku: &s.sku,
            });
        }
        if !plan.is_empty() {
            let written = self.write(&mut plan, sets.len(), &mut Progress::default())?;
            for (w, result) in plan.iter().zip(written) {
                let (sku, sent) = (w.sku, w.count);
                out[w.at] = Some(match result {
                    Ok(Some(q)) if q == sent => SendOutcome::Applied { qoh: Some(q) },
                    // WooCommerce answers the product as saved: another count there was made
                    // by something in the shop (a plugin hooked on the save, one holding
                    // stock back), and the shop sells by it, not by the count sent.
                    Ok(Some(q)) => SendOutcome::Uncertain {
                        message: format!(
                            "sku {sku}: sent {sent}, but WooCommerce saved {q} (a plugin in the shop may rewrite stock counts); left for the drift report"
                        ),
                    },
                    // Answered 200, but the product keeps no count: nothing was set.
                    Ok(None) => SendOutcome::Failed {
                        message: format!(
                            "sku {sku}: WooCommerce did not keep the count (its answer shows no stock managed: a grouped or external product, or the store's Manage stock option is off)"
                        ),
                    },
                    Err(o) => o,
                });
            }
        }
        Ok(common::outcomes(out))
    }

    fn raw_fetch_quantities(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> std::result::Result<QuantityPage, CartError> {
        self.raw_fetch_catalogue(cursor, limit).map(|c| c.counts)
    }

    /// A variation whose product has a SKU of its own is listed with it.
    fn raw_fetch_catalogue(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> std::result::Result<CataloguePage, CartError> {
        // `offset:after` (see `Position`).
        let at = match cursor.map(|c| c.split_once(':').unwrap_or((c, "0"))) {
            None => Position::START,
            Some((offset, after)) => Position {
                offset: common::number_cursor(Some(offset), 0, "woocommerce")?,
                after: common::number_cursor(Some(after), 0, "woocommerce")?,
            },
        };
        // Two at least: each page after the first starts with the last product read.
        let per_page = limit.clamp(2, MAX_PER_PAGE);
        let (listed, next) = self.page_after("products", &[], at, per_page, PRODUCT_FIELDS)?;
        let (mut items, mut products, mut unread) = (Vec::new(), Vec::new(), Vec::new());
        let mut details = Vec::new();
        let mut ids = HashMap::new();
        for p in listed {
            let Some(id) = id_of(&p) else { continue };
            let name = plain_text(p["name"].as_str().unwrap_or(""));
            let name = name.as_str();
            if p["type"] == "variable" {
                let parent_sku = p["sku"].as_str().unwrap_or("");
                if !parent_sku.is_empty() {
                    details.push((parent_sku.to_owned(), name.to_owned(), Vec::new()));
                }
                if let Some(r) = pooled(&p, id) {
                    ids.insert(parent_sku.to_owned(), r);
                    if let Some(q) = Stock::of(&p).counted() {
                        items.push((parent_sku.to_owned(), q));
                    } else if let Some(why) = unreadable(&p).filter(|_| !parent_sku.is_empty()) {
                        unread.push((parent_sku.to_owned(), why));
                    }
                }
                for v in
                    self.get_all(&format!("products/{id}/variations"), &[], VARIATION_FIELDS)?
                {
                    let (Some(sku), Some(vid)) = (v["sku"].as_str(), id_of(&v)) else {
                        continue;
                    };
                    // Empty, or inherited from the product (a variation without a SKU of
                    // its own answers its product's): not the variation's SKU.
                    if sku.is_empty() || sku == parent_sku {
                        continue;
                    }
                    ids.insert(
                        sku.to_owned(),
                        WooRef {
                            product: id,
                            variation: Some(vid),
                        },
                    );
                    let options = options_of(&v);
                    let values: Vec<&str> = options.iter().map(|(_, o)| o.as_str()).collect();
                    details.push((
                        sku.to_owned(),
                        common::variant_description(name, &values),
                        options,
                    ));
                    // A variation sharing its parent's stock answers the parent's count:
                    // taken as its own, every such variation would hold the whole pool.
                    if let Some(q) = Stock::of(&v).counted() {
                        items.push((sku.to_owned(), q));
                        if !parent_sku.is_empty() {
                            products.push((sku.to_owned(), parent_sku.to_owned()));
                        }
                    } else if let Some(why) = unreadable(&v) {
                        unread.push((sku.to_owned(), why));
                    }
                }
            } else if let Some(sku) = p["sku"].as_str().filter(|s| !s.is_empty()) {
                ids.insert(
                    sku.to_owned(),
                    WooRef {
                        product: id,
                        variation: None,
                    },
                );
                details.push((sku.to_owned(), name.to_owned(), Vec::new()));
                if p["manage_stock"].as_bool() == Some(true) {
                    if let Some(q) = Stock::of(&p).counted() {
                        items.push((sku.to_owned(), q));
                    } else if let Some(why) = unreadable(&p) {
                        unread.push((sku.to_owned(), why));
                    }
                }
            }
        }
        self.absent.lock().retain(|sku, _| !ids.contains_key(sku));
        self.ids.lock().extend(ids);
        Ok(CataloguePage {
            counts: QuantityPage {
                items,
                next_cursor: next.map(|n| format!("{}:{}", n.offset, n.after)),
            },
            products,
            unreadable: unread,
            details,
            ..Default::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_reads_each_reference_once() {
        assert_eq!(plain_text("Tea &amp; Cake"), "Tea & Cake");
        assert_eq!(plain_text("&amp;amp;"), "&amp;");
        assert_eq!(
            plain_text("Owner&#8217;s &#x2013; &#X2F;&quot;"),
            "Owner\u{2019}s \u{2013} /\""
        );
        assert_eq!(
            plain_text("Caf&eacute; &yuml;&nbsp;&times;&divide;"),
            "Caf\u{e9} \u{ff}\u{a0}\u{d7}\u{f7}"
        );
        assert_eq!(plain_text("&#150;&#128;&#129;"), "\u{2013}\u{20ac}\u{81}");
        // The longest references: five and six hex digits, seven decimal ones.
        assert_eq!(
            plain_text("&#x1F600;&#x10FFFF;&#1114111;&#128512;"),
            "\u{1F600}\u{10FFFF}\u{10FFFF}\u{1F600}"
        );
        // Not references: kept as they are.
        for kept in [
            "R&D",
            "&",
            "a &amp",
            "&unknown;",
            "&#0;",
            "&#;",
            "&#x;",
            "&#+65;",
            "&#xD800;",
            "&#x110000;",
            "&#12345678;",
            "& amp;",
            "&AMP;",
            "\u{e9}&\u{e9};",
        ] {
            assert_eq!(plain_text(kept), kept);
        }
        assert_eq!(plain_text("&&amp;;"), "&&;");
        // The Latin-1 table is in order: a name out of place would misspell every name after.
        for (name, c) in [
            ("iquest", '\u{bf}'),
            ("Agrave", '\u{c0}'),
            ("Ouml", '\u{d6}'),
            ("szlig", '\u{df}'),
            ("agrave", '\u{e0}'),
            ("thorn", '\u{fe}'),
        ] {
            assert_eq!(plain_text(&format!("&{name};")), c.to_string(), "{name}");
        }
    }
    use crate::adapter::scripted::Scripted;

    fn adapter(server: &Scripted) -> WooCommerceAdapter {
        WooCommerceAdapter::new(
            &server.url,
            "ck_x",
            Secret::new("cs_x"),
            Duration::from_secs(5),
        )
        .unwrap()
    }

    /// A variation sharing its product's stock answers like this (the product's count).
    const SHARED_AND_OWN: &str = r#"[
        {"id":101,"sku":"TEE-M","manage_stock":"parent","stock_quantity":10},
        {"id":102,"sku":"TEE-L","manage_stock":true,"stock_quantity":3}]"#;

    /// A delta to a variation sharing its product's stock is the pool's change: written to
    /// the product's count, never to the variation (which would give it a count of its own,
    /// the whole pool, while the pool kept selling for the others).
    #[test]
    fn a_delta_to_a_variation_sharing_its_products_stock_is_written_to_the_product() {
        let server = Scripted::start(vec![
            (200, SHARED_AND_OWN),
            (
                200,
                r#"[{"id":100,"sku":"TEE","type":"variable","manage_stock":true,"stock_quantity":10}]"#,
            ),
            (
                200,
                r#"{"update":[{"id":100,"sku":"TEE","type":"variable","manage_stock":true,"stock_quantity":9}]}"#,
            ),
            (
                200,
                r#"[{"id":100,"sku":"TEE","type":"variable","manage_stock":true,"stock_quantity":9}]"#,
            ),
        ]);
        let out = adapter(&server)
            .apply_deltas(&[DeltaSend {
                key: "k1".into(),
                sku: "TEE-M".into(),
                remote_ref: Some("100/101".into()),
                delta: -1,
            }])
            .unwrap();
        assert_eq!(out, vec![SendOutcome::Applied { qoh: Some(9) }]);
        let seen = server.finish();
        let writes: Vec<_> = seen.iter().filter(|r| !r.0.starts_with("GET ")).collect();
        assert_eq!(writes.len(), 1, "{seen:?}");
        assert!(writes[0].0.contains("/products/batch"), "{seen:?}");
        assert!(writes[0].2.contains(r#""id":100"#), "{seen:?}");
    }

    /// The shared pool is listed once, as the product's own count (`pooled`), not again as
    /// the count of each variation sharing it.
    #[test]
    fn get_qoh_skips_a_variation_sharing_its_products_stock() {
        let products = r#"[{"id":100,"sku":"TEE","type":"variable","manage_stock":true,
                            "stock_quantity":10,"variations":[101,102]}]"#;
        let server = Scripted::start(vec![(200, products), (200, SHARED_AND_OWN)]);
        let page = adapter(&server).fetch_quantities(None, 100).unwrap();
        assert_eq!(
            page.items,
            vec![("TEE".to_owned(), 10), ("TEE-L".to_owned(), 3)]
        );
        server.finish();
    }

    /// WooCommerce answers a batch update with the product as saved; a shop whose plugin
    /// rewrites the count on save (one holding a unit back) sells by the count it saved.
    /// Until 2026-12-03 Send QOH reported the count applied, whatever was saved.
    #[test]
    fn a_count_the_shop_saves_otherwise_than_sent_is_not_reported_applied() {
        let saved =
            r#"{"update":[{"id":102,"sku":"TEE-L","manage_stock":true,"stock_quantity":4}]}"#;
        let set = |qoh| QuantitySet {
            key: "k1".into(),
            sku: "TEE-L".into(),
            remote_ref: Some("100/102".into()),
            qoh,
            expected: None,
        };
        let server = Scripted::start(vec![(200, SHARED_AND_OWN), (200, saved)]);
        let out = adapter(&server).set_quantities(&[set(5)]).unwrap();
        server.finish();
        assert!(
            matches!(&out[0], SendOutcome::Uncertain { message }
                if message.contains("sent 5") && message.contains("saved 4")),
            "{out:?}"
        );
        let server = Scripted::start(vec![(200, SHARED_AND_OWN), (200, saved)]);
        let out = adapter(&server).set_quantities(&[set(4)]).unwrap();
        server.finish();
        assert_eq!(out, vec![SendOutcome::Applied { qoh: Some(4) }]);
    }

    /// A decimal-quantity plugin makes WooCommerce write stock as floats (`3.0`); some
    /// plugins hand on the database's text. Until 2026-12-03 such a product was left out of
    /// Get QOH's page without a word (and its sales failed as "stock not managed"). A count
    /// with a fraction is taken rounded down; a delta on it fails, naming the fraction.
    #[test]
    fn stock_written_as_a_float_or_text_is_read_and_a_fraction_rounded_down() {
        let page = r#"[
            {"id":5,"sku":"MUG","type":"simple","manage_stock":true,"stock_quantity":3.0},
            {"id":6,"sku":"CUP","type":"simple","manage_stock":true,"stock_quantity":"4"},
            {"id":7,"sku":"ROPE","type":"simple","manage_stock":true,"stock_quantity":2.5},
            {"id":8,"sku":"BAG","type":"simple","manage_stock":true,"stock_quantity":null}]"#;
        let server = Scripted::start(vec![(200, page)]);
        let got = adapter(&server).fetch_quantities(None, 100).unwrap();
        server.finish();
        let want: Vec<(String, i64)> = [("MUG", 3), ("CUP", 4), ("ROPE", 2)]
            .iter()
            .map(|(s, q)| (s.to_string(), *q))
            .collect();
        assert_eq!(got.items, want);

        let read = r#"[{"id":7,"sku":"ROPE","type":"simple","manage_stock":true,"stock_quantity":2.5},
                       {"id":5,"sku":"MUG","type":"simple","manage_stock":true,"stock_quantity":3.0}]"#;
        let wrote = r#"{"update":[{"id":5,"sku":"MUG","manage_stock":true,"stock_quantity":2}]}"#;
        let after =
            r#"[{"id":5,"sku":"MUG","type":"simple","manage_stock":true,"stock_quantity":2.0}]"#;
        let server = Scripted::start(vec![(200, read), (200, wrote), (200, after)]);
        let delta = |sku: &str, id: &str| DeltaSend {
            key: format!("k-{sku}"),
            sku: sku.into(),
            remote_ref: Some(id.into()),
            delta: -1,
        };
        let out = adapter(&server)
            .apply_deltas(&[delta("ROPE", "7"), delta("MUG", "5")])
            .unwrap();
        server.finish();
        assert!(
            matches!(&out[0], SendOutcome::Failed { message } if message.contains("fraction (2.5)")),
            "{out:?}"
        );
        assert_eq!(out[1], SendOutcome::Applied { qoh: Some(2) }, "{out:?}");
    }

    #[test]
    fn refs_parse() {
        assert_eq!(
            parse_ref("12"),
            Some(WooRef {
                product: 12,
                variation: None
            })
        );
        assert_eq!(
            parse_ref("12/34"),
            Some(WooRef {
                product: 12,
                variation: Some(34)
            })
        );
        assert_eq!(parse_ref("x"), None);
    }
}
