//! Emulator mode [`super::Mode::BigCommerce`]: the BigCommerce v3 Inventory API as the
//! `bigcommerce` adapter uses it, under `/stores/{store_hash}/v3/inventory/` (any hash).
//!
//! - `X-Auth-Token` (401 without it when a token is set).
//! - `POST adjustments/relative` and `PUT adjustments/absolute`:
//!   `{"reason":…,"items":[{"location_id":1,"sku":…,"quantity":n}]}` (also `variant_id` or
//!   `product_id`), at most 2000 items; answer `{"transaction_id":…}`. A request with an unknown
//!   item or location, or a quantity outside 0..=2,147,483,647 after the change, answers 422
//!   and changes nothing; the 422 names the refused items by identity in its `title`
//!   (`Items with identity: [sku A, sku B] …`) with an empty `errors`, as the reference shows. Relative adjustments carry no idempotency key.
//! - `GET locations/{location_id}/items?page=&limit=&sku:in=&variant_id:in=` → `data` of
//!   `identity`, `available_to_sell`, `total_inventory_onhand`, `settings`, and
//!   `meta.pagination`; limit 1–1000 (default 50). `sku:in` compares each SKU exactly, blanks
//!   and case included: a SKU held padded ([`super::Emulator::set_qoh`] with `"TEE "`, as a
//!   CSV import past BigCommerce's own trimming leaves one) answers only its padded form.
//!   BigCommerce documents no other comparison, so the adapter may rely on no other (it finds
//!   padded SKUs by the whole listing and `variant_id:in`).
//! - `GET /stores/{store_hash}/v3/catalog/products?id:in=&include=variants&include_fields=`:
//!   the products asked for, with `name` and `sku`, and their variants' `sku` and
//!   `option_values` (`option_display_name`, `label`) as
//!   [`super::Emulator::set_item_details`] gave them; a plain item has one base variant
//!   without option values. Not counted as a `Get` (no count is read there), but as a
//!   [`super::Emulator::catalogue_requests`]; [`super::Emulator::refuse_bigcommerce_catalogue`]
//!   makes it answer a status of its own.
//! - Every answer carries `X-Rate-Limit-Requests-Quota`, `X-Rate-Limit-Requests-Left`,
//!   `X-Rate-Limit-Time-Window-Ms` and `X-Rate-Limit-Time-Reset-Ms`; past the quota the answer
//!   is 429 and nothing is done.
//!
//! - Reads may trail writes, as BigCommerce documents its asynchronous Inventory API ("a
//!   short delay before data is updated"): with a read lag set
//!   ([`super::Emulator::set_bigcommerce_read_lag`]), a `GET` answers each count as it stood
//!   before the adjustments of that last stretch of time. None by default.
//!
//! The store has one location, id 1.

use super::{note_batch, Answer, Cart, Request, RequestKind, Shared};
use serde_json::{json, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

const MAX_ITEMS: usize = 2000;
const MAX_LIMIT: usize = 1000;
const MAX_QUANTITY: i64 = 2_147_483_647;

pub(super) struct State {
    quota: u32,
    window: Duration,
    window_start: Instant,
    used: u32,
    transactions: u64,
    /// How far reads trail adjustments (zero: not at all).
    read_lag: Duration,
    /// (when, SKU, its count before) of each change made within `read_lag`, oldest first.
    journal: VecDeque<(Instant, String, i64)>,
    /// The status the catalogue's products endpoint answers instead of its products, if any
    /// ([`super::Emulator::refuse_bigcommerce_catalogue`]).
    catalogue_refused: Option<u16>,
    /// The status the location's unfiltered listing answers instead of its items, if any
    /// ([`super::Emulator::refuse_bigcommerce_listing`]).
    listing_refused: Option<u16>,
    /// An item deleted just before the next request for a page after the first of the
    /// location's whole listing ([`super::Emulator::delete_while_bigcommerce_lists`]).
    pub(super) deleted_while_listed: Option<String>,
}

impl Default for State {
    fn default() -> Self {
        State {
            quota: 150,
            window: Duration::from_secs(30),
            window_start: Instant::now(),
            used: 0,
            transactions: 0,
            read_lag: Duration::ZERO,
            journal: VecDeque::new(),
            catalogue_refused: None,
            listing_refused: None,
            deleted_while_listed: None,
        }
    }
}

impl State {
    pub(super) fn set_quota(&mut self, quota: u32, window_ms: u64) {
        self.quota = quota.max(1);
        self.window = Duration::from_millis(window_ms.max(1));
        self.window_start = Instant::now();
        self.used = 0;
    }

    /// The catalogue's products endpoint answers `status` (a token without its read scope:
    /// 403), or its products again (`None`).
    pub(super) fn refuse_catalogue(&mut self, status: Option<u16>) {
        self.catalogue_refused = status;
    }

    /// The location's listing read without a filter answers `status` (a page the platform
    /// fails to serve), or its items again (`None`); filtered reads are answered as ever.
    pub(super) fn refuse_listing(&mut self, status: Option<u16>) {
        self.listing_refused = status;
    }

    /// Reads answer counts from before the changes of the last `lag`; zero: reads show
    /// every change (the cart has caught up, and a lag set later trails only changes made
    /// after).
    pub(super) fn set_read_lag(&mut self, lag: Duration) {
        self.read_lag = lag;
        if lag.is_zero() {
            self.journal.clear();
        }
    }

    /// Notes that `sku` held `before` until now, for reads that trail: kept whatever the lag
    /// now (a test may make reads trail after the change), for ten minutes at most.
    fn note_change(&mut self, sku: &str, before: i64) {
        let now = Instant::now();
        let kept = self.read_lag.max(Duration::from_secs(600));
        while self
            .journal
            .front()
            .is_some_and(|(at, ..)| now.duration_since(*at) >= kept)
        {
            self.journal.pop_front();
        }
        self.journal.push_back((now, sku.to_owned(), before));
    }

    /// The counts as a read sees them: `items` with the changes made within the read lag
    /// undone, newest first.
    fn as_read<'a>(&self, items: &'a BTreeMap<String, i64>) -> Cow<'a, BTreeMap<String, i64>> {
        if self.read_lag.is_zero() {
            return Cow::Borrowed(items);
        }
        let mut seen = items.clone();
        let now = Instant::now();
        for (at, sku, before) in self.journal.iter().rev() {
            if now.duration_since(*at) >= self.read_lag {
                break;
            }
            // (A SKU taken off the catalogue since stays off.)
            if let Some(count) = seen.get_mut(sku) {
                *count = *before;
            }
        }
        Cow::Owned(seen)
    }

    /// Takes one unit of quota; `false` when none is left. Returns the headers to send.
    fn take(&mut self) -> (bool, Vec<(String, String)>) {
        let now = Instant::now();
        if now.duration_since(self.window_start) >= self.window {
            self.window_start = now;
            self.used = 0;
        }
        let ok = self.used < self.quota;
        if ok {
            self.used += 1;
        }
        let reset = self
            .window
            .saturating_sub(now.duration_since(self.window_start))
            .as_millis()
            .max(1);
        let headers = vec![
            ("X-Rate-Limit-Requests-Quota".into(), self.quota.to_string()),
            (
                "X-Rate-Limit-Requests-Left".into(),
                (self.quota - self.used).to_string(),
            ),
            (
                "X-Rate-Limit-Time-Window-Ms".into(),
                self.window.as_millis().to_string(),
            ),
            ("X-Rate-Limit-Time-Reset-Ms".into(), reset.to_string()),
        ];
        (ok, headers)
    }
}

fn inventory_path(path: &str) -> Option<&str> {
    let at = path.find("/v3/inventory/")?;
    Some(&path[at + "/v3/inventory/".len()..])
}

/// The catalogue's products endpoint: no count is read there, so it is no `Get`
/// ([`super::Emulator::get_requests`] counts the inventory's pages).
fn is_catalogue(path: &str) -> bool {
    path.ends_with("/v3/catalog/products")
}

pub(super) fn kind(request: &Request) -> Option<RequestKind> {
    match (request.method.as_str(), inventory_path(&request.path)?) {
        ("POST", "adjustments/relative") => Some(RequestKind::Adjust),
        ("PUT", "adjustments/absolute") => Some(RequestKind::Set),
        ("GET", _) => Some(RequestKind::Get),
        _ => None,
    }
}

fn bc_error(status: u16, title: impl Into<String>) -> Answer {
    Answer::json(
        status,
        json!({"status": status, "title": title.into(), "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes"}),
    )
}

pub(super) fn handle(shared: &Shared, cart: &mut Cart, request: &Request) -> Answer {
    if request.method == "GET" && is_catalogue(&request.path) {
        shared.counters.catalogue.fetch_add(1, Ordering::SeqCst);
    }
    let (ok, headers) = cart.bigcommerce.take();
    let mut answer = if !ok {
        shared.counters.throttled.fetch_add(1, Ordering::SeqCst);
        bc_error(
            429,
            "Too many requests: the API quota is used up for this window",
        )
    } else {
        serve(shared, cart, request)
    };
    answer.headers.extend(headers);
    answer
}

fn serve(shared: &Shared, cart: &mut Cart, request: &Request) -> Answer {
    if let Some(token) = &cart.token {
        if request.header("x-auth-token") != Some(token.as_str()) {
            return bc_error(401, "Unauthorized: missing or wrong X-Auth-Token");
        }
    }
    if request.method == "GET" && is_catalogue(&request.path) {
        if let Some(status) = cart.bigcommerce.catalogue_refused {
            return bc_error(
                status,
                "You don't have a required scope to access the endpoint",
            );
        }
        return products(cart, request);
    }
    let Some(rest) = inventory_path(&request.path) else {
        return bc_error(404, format!("no such endpoint: {}", request.path));
    };
    match (request.method.as_str(), rest) {
        ("POST", "adjustments/relative") => adjust(shared, cart, request, true),
        ("PUT", "adjustments/absolute") => adjust(shared, cart, request, false),
        ("GET", r) if r.starts_with("locations/") && r.ends_with("/items") => {
            let loc = &r["locations/".len()..r.len() - "/items".len()];
            if loc != "1" {
                return bc_error(404, format!("location {loc} not found"));
            }
            items(cart, request)
        }
        _ => bc_error(404, format!("no such endpoint: {}", request.path)),
    }
}

/// The SKU an adjustment item names, if the catalogue has it.
fn resolve(cart: &Cart, item: &Value) -> Option<String> {
    if let Some(sku) = item["sku"].as_str() {
        return cart.items.contains_key(sku).then(|| sku.to_owned());
    }
    let id = item["variant_id"]
        .as_u64()
        .or_else(|| item["product_id"].as_u64())?;
    let sku = cart.sku_of(id)?;
    cart.items.contains_key(sku).then(|| sku.to_owned())
}

fn adjust(shared: &Shared, cart: &mut Cart, request: &Request, relative: bool) -> Answer {
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return bc_error(400, "The request body is not valid JSON");
    };
    let items = body["items"].as_array().cloned().unwrap_or_default();
    if items.is_empty() || items.len() > MAX_ITEMS {
        return bc_error(422, format!("items must hold 1 to {MAX_ITEMS} entries"));
    }
    note_batch(shared, items.len());
    // A 422 names the refused items by identity in its title, with an empty `errors`, as the
    // reference's examples do ("Items with identity: [product_id 113] requires absolute
    // adjustment before relative"); it never says which entry of the payload they were.
    let mut refused: Vec<String> = Vec::new();
    let mut reason = "";
    let mut planned = Vec::new();
    for item in &items {
        let identity = match (item["sku"].as_str(), item["variant_id"].as_u64()) {
            (Some(sku), _) => format!("sku {sku}"),
            (None, Some(v)) => format!("variant_id {v}"),
            (None, None) => format!("product_id {}", item["product_id"]),
        };
        let mut refuse = |why: &'static str| {
            refused.push(identity.clone());
            if reason.is_empty() {
                reason = why;
            }
        };
        if item["location_id"].as_u64() != Some(1) {
            refuse("location not found");
            continue;
        }
        let Some(sku) = resolve(cart, item) else {
            refuse("inventory item not found");
            continue;
        };
        let Some(q) = item["quantity"].as_i64() else {
            refuse("quantity must be an integer");
            continue;
        };
        let after = if relative {
            cart.items[&sku].saturating_add(q)
        } else {
            q
        };
        // A relative adjustment BigCommerce cannot take for want of stock, in its words.
        if relative && after < 0 {
            refuse("insufficient stock");
            continue;
        }
        if !(0..=MAX_QUANTITY).contains(&after) {
            refuse("the quantity would leave 0..=2147483647");
            continue;
        }
        planned.push((sku, after));
    }
    if !refused.is_empty() {
        return Answer::json(
            422,
            json!({"status": 422,
                   "title": format!("Items with identity: [{}] {reason}", refused.join(", ")),
                   "type": "https://developer.bigcommerce.com/api-docs/getting-started/api-status-codes",
                   "errors": {}}),
        );
    }
    for (sku, after) in planned {
        let before = cart.items.insert(sku.clone(), after).unwrap_or(0);
        cart.bigcommerce.note_change(&sku, before);
    }
    cart.bigcommerce.transactions += 1;
    Answer::json(
        200,
        json!({"transaction_id": format!("emu-{}", cart.bigcommerce.transactions)}),
    )
}

fn items(cart: &mut Cart, request: &Request) -> Answer {
    let Some(pairs) = request.query_pairs() else {
        return bc_error(400, "bad query string");
    };
    let mut page = 1usize;
    let mut limit = 50usize;
    let mut skus: Option<Vec<String>> = None;
    let mut variants: Option<Vec<u64>> = None;
    for (k, v) in pairs {
        match k.as_str() {
            "page" => match v.parse() {
                Ok(p) if p >= 1 => page = p,
                _ => return bc_error(422, "page must be a whole number from 1"),
            },
            "limit" => match v.parse() {
                Ok(l) if (1..=MAX_LIMIT).contains(&l) => limit = l,
                _ => return bc_error(422, format!("limit must be 1 to {MAX_LIMIT}")),
            },
            "sku:in" => skus = Some(v.split(',').map(str::to_owned).collect()),
            "variant_id:in" => {
                match v
                    .split(',')
                    .map(str::parse)
                    .collect::<Result<Vec<u64>, _>>()
                {
                    Ok(ids) => variants = Some(ids),
                    Err(_) => return bc_error(422, "variant_id:in must list whole numbers"),
                }
            }
            _ => {}
        }
    }
    if let (None, None, Some(status)) = (&skus, &variants, cart.bigcommerce.listing_refused) {
        return bc_error(status, "the listing could not be read");
    }
    if page > 1 && skus.is_none() && variants.is_none() {
        if let Some(sku) = cart.bigcommerce.deleted_while_listed.take() {
            cart.items.remove(&sku);
        }
    }
    let counts = cart.bigcommerce.as_read(&cart.items);
    let list: Vec<String> = counts
        .keys()
        .filter(|s| skus.as_ref().is_none_or(|f| f.contains(s)))
        .filter(|s| {
            variants
                .as_ref()
                .is_none_or(|v| cart.ids.get(s.as_str()).is_some_and(|id| v.contains(id)))
        })
        .cloned()
        .collect();
    let total = list.len();
    let total_pages = total.div_ceil(limit);
    let data: Vec<Value> = list
        .iter()
        .skip((page - 1) * limit)
        .take(limit)
        .map(|sku| {
            let id = cart.ids.get(sku).copied().unwrap_or(0);
            let product_id = cart
                .parents
                .get(sku)
                .and_then(|p| cart.ids.get(p).copied())
                .unwrap_or(id);
            let q = counts[sku];
            json!({
                "identity": {"sku": sku, "variant_id": id, "product_id": product_id, "sku_id": id},
                "available_to_sell": q,
                "total_inventory_onhand": cart.written.get(sku).cloned().unwrap_or(json!(q)),
                "settings": {"safety_stock": 0, "is_in_stock": q > 0, "warning_level": 0,
                             "bin_picking_number": ""},
            })
        })
        .collect();
    let count = data.len();
    Answer::json(
        200,
        json!({"data": data, "meta": {"pagination": {
            "total": total, "count": count, "per_page": limit,
            "current_page": page, "total_pages": total_pages}}}),
    )
}

/// `GET /v3/catalog/products?id:in=&include=variants&include_fields=`: the products among
/// the ids asked (plain items, and the parents of variants), each with `id` and the fields
/// `include_fields` names (`name`, `sku`; all of them without it), and with `include=variants`
/// its `variants`: a plain item its one base variant (its own id and SKU, no option values),
/// a parent its variants with their `option_values` (`[{id, label, option_id,
/// option_display_name}]`). At most 250 a page.
fn products(cart: &Cart, request: &Request) -> Answer {
    let Some(pairs) = request.query_pairs() else {
        return bc_error(400, "bad query string");
    };
    let (mut ids, mut variants, mut fields, mut limit) = (None, false, None, 50usize);
    for (k, v) in pairs {
        match k.as_str() {
            "id:in" => {
                ids = Some(
                    v.split(',')
                        .filter_map(|i| i.parse::<u64>().ok())
                        .collect::<Vec<_>>(),
                )
            }
            "include" => variants = v.split(',').any(|i| i == "variants"),
            "include_fields" => fields = Some(v.split(',').map(str::to_owned).collect::<Vec<_>>()),
            "limit" => match v.parse() {
                Ok(l) if (1..=250).contains(&l) => limit = l,
                _ => return bc_error(422, "limit must be 1 to 250"),
            },
            _ => {}
        }
    }
    // Products: SKUs no variant of another, with stock or variants of their own.
    let mut list: Vec<(u64, &str)> = cart
        .ids
        .iter()
        .filter(|(sku, _)| !cart.parents.contains_key(*sku))
        .filter(|(sku, _)| {
            cart.items.contains_key(*sku) || cart.parents.values().any(|p| p == *sku)
        })
        .filter(|(_, id)| ids.as_ref().is_none_or(|ids| ids.contains(*id)))
        .map(|(sku, id)| (*id, sku.as_str()))
        .collect();
    list.sort();
    let total = list.len();
    let data: Vec<Value> = list
        .into_iter()
        .take(limit)
        .map(|(id, sku)| {
            let all = json!({"id": id, "name": cart.name_of(sku), "sku": sku});
            let mut p = match &fields {
                None => all,
                Some(f) => {
                    let mut p = json!({"id": id});
                    for k in ["name", "sku"] {
                        if f.iter().any(|x| x == k) {
                            p[k] = all[k].clone();
                        }
                    }
                    p
                }
            };
            if variants {
                let mut of: Vec<(u64, &str)> = cart
                    .parents
                    .iter()
                    .filter(|(v, parent)| parent.as_str() == sku && cart.items.contains_key(*v))
                    .map(|(v, _)| (cart.ids[v], v.as_str()))
                    .collect();
                of.sort();
                p["variants"] = match of.is_empty() {
                    true => json!([{"id": id, "product_id": id, "sku": sku, "option_values": []}]),
                    false => of
                        .iter()
                        .map(|(vid, v)| {
                            let values: Vec<Value> = cart
                                .options_of(v)
                                .iter()
                                .enumerate()
                                .map(|(i, (name, label))| {
                                    json!({"id": i + 1, "label": label, "option_id": i + 1,
                                           "option_display_name": name})
                                })
                                .collect();
                            json!({"id": vid, "product_id": id, "sku": v, "option_values": values})
                        })
                        .collect(),
                };
            }
            p
        })
        .collect();
    let count = data.len();
    Answer::json(
        200,
        json!({"data": data, "meta": {"pagination": {
            "total": total, "count": count, "per_page": limit,
            "current_page": 1, "total_pages": total.div_ceil(limit)}}}),
    )
}
