//! A loopback stand-in for Medusa v2's admin API, for the padded-SKU tests
//! (`padded_shop_skus.rs`, `review_s38.rs`, `review_s38b.rs`, `mutation_audit_s38.rs`):
//! inventory items with one level each at [`MEDUSA_LOCATION`]; `GET /admin/inventory-items`
//! in id order, paged by `offset` and `limit` (50 unless asked), where `sku[]` and `id[]`
//! compare exactly (as PostgreSQL does) and `q` finds the text anywhere in a SKU, case aside
//! (the framework's `ILIKE '%q%'`); and `POST /admin/inventory-items/location-levels/batch`,
//! which writes stocked counts. It counts the requests it answers and what each asked
//! ([`Asked`]); a test can make the whole listing fail ([`Medusa::fail_listing`]), have the
//! owner delete an item while it is read ([`Medusa::delete_while_listed`]), show a count that
//! cannot be read ([`Medusa::show_stocked`]), refuse large writes as a proxy does
//! ([`Medusa::limit_bodies`]), or answer the next writes its own way, applied or not
//! ([`Medusa::answer_next_write`]). One request a connection (as [`serve`] answers).

use super::{serve, Reply, MEDUSA_KEY, MEDUSA_LOCATION};
use inventory_sync::{CartId, Store};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// What a request to the stand-in asked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asked {
    /// The stock location's check.
    Location,
    /// Inventory items by `sku[]` (the exact lookup).
    BySku,
    /// Inventory items by `id[]`.
    ById,
    /// A `q` search.
    Search,
    /// A page of the whole listing (no filter).
    Listing,
    /// The batch write.
    Write,
    /// Anything else.
    Other,
}

/// How the stand-in answers a batch write in place of Medusa's own answer.
pub struct WriteAnswer {
    /// Whether the write's counts are applied before this answer.
    pub applied: bool,
    /// The answer: status, headers (a `content-type` or `content-length` here takes the
    /// place of the usual one: an HTML page, or a body cut short), body.
    pub reply: Reply,
    /// How many reads of inventory items after it answer 503 (a read-back that fails).
    pub then_failing_reads: usize,
}

/// The shop behind the stand-in.
#[derive(Default)]
pub struct Shop {
    /// Item id → (SKU, stocked at [`MEDUSA_LOCATION`]).
    pub items: BTreeMap<String, (String, i64)>,
    /// Requests answered since the count was reset.
    pub requests: usize,
    /// Each request answered since the count was reset, by what it asked.
    pub asked: Vec<Asked>,
    /// Whether the whole listing (no filter) answers 500.
    pub listing_fails: bool,
    /// An item the owner deletes just before the next request for a later page (offset past
    /// 0) of the whole listing; `None` once deleted, or where none is to be.
    pub deleted_while_listed: Option<String>,
    /// What the listing shows as an item's stocked (and available) count in place of its
    /// own: a count that cannot be read, such as `"n/a"`.
    pub shown: BTreeMap<String, Value>,
    /// The largest batch write body taken; a larger one is refused 413, nothing applied (a
    /// proxy's limit, as nginx's `client_max_body_size`).
    pub body_limit: Option<usize>,
    /// How the next batch writes are answered, in order; Medusa's own answer once none is
    /// left.
    pub write_answers: VecDeque<WriteAnswer>,
    /// How many reads of inventory items from now answer 503.
    pub failing_reads: usize,
}

/// A running stand-in: its base URL and its shop.
pub struct Medusa {
    pub url: String,
    shop: Arc<Mutex<Shop>>,
}

impl Medusa {
    /// Serves a shop of `items` (id, SKU, stocked) on a loopback port.
    pub fn start(items: &[(&str, &str, i64)]) -> Medusa {
        let mut shop = Shop::default();
        for (id, sku, n) in items {
            shop.items.insert((*id).into(), ((*sku).into(), *n));
        }
        let shop = Arc::new(Mutex::new(shop));
        let shared = shop.clone();
        let url = serve(move |method, target, body| {
            answer(&mut shared.lock().unwrap(), method, target, body)
        });
        Medusa { url, shop }
    }

    /// The shop, for a test to look at or change as it likes.
    pub fn shop(&self) -> MutexGuard<'_, Shop> {
        self.shop.lock().unwrap()
    }

    /// Item `id`'s stocked count (panics if the shop has no such item).
    pub fn stocked(&self, id: &str) -> i64 {
        self.shop().items[id].1
    }

    /// Whether the shop holds item `id`.
    pub fn holds(&self, id: &str) -> bool {
        self.shop().items.contains_key(id)
    }

    /// The shop's owner gives item `id` another SKU.
    pub fn rename(&self, id: &str, sku: &str) {
        self.shop().items.get_mut(id).unwrap().0 = sku.into();
    }

    /// Makes the whole listing (no filter) answer 500, or answer again.
    pub fn fail_listing(&self, fails: bool) {
        self.shop().listing_fails = fails;
    }

    /// Has the owner delete item `id` just before the next request for a page of the whole
    /// listing after its first.
    pub fn delete_while_listed(&self, id: &str) {
        self.shop().deleted_while_listed = Some(id.into());
    }

    /// Has the listing show `shown` as item `id`'s stocked count (one that cannot be read).
    pub fn show_stocked(&self, id: &str, shown: Value) {
        self.shop().shown.insert(id.into(), shown);
    }

    /// Refuses batch writes of more than `bytes` a body with 413, applying nothing.
    pub fn limit_bodies(&self, bytes: usize) {
        self.shop().body_limit = Some(bytes);
    }

    /// Answers the next batch write (after those already queued) with `answer`.
    pub fn answer_next_write(&self, answer: WriteAnswer) {
        self.shop().write_answers.push_back(answer);
    }

    /// Requests answered since the last reset.
    pub fn requests(&self) -> usize {
        self.shop().requests
    }

    /// Starts the counts of requests and of what they asked again.
    pub fn reset_requests(&self) {
        let mut shop = self.shop();
        shop.requests = 0;
        shop.asked.clear();
    }

    /// How many requests since the last reset asked `what`.
    pub fn asked(&self, what: Asked) -> usize {
        self.shop().asked.iter().filter(|a| **a == what).count()
    }

    /// The JSON of a cart "Medusa" on the stand-in, at [`MEDUSA_LOCATION`] with
    /// [`MEDUSA_KEY`], its other settings left to their defaults.
    pub fn cart_json(&self) -> Value {
        json!({"name": "Medusa", "adapter": "medusa", "url": self.url,
               "api_key": MEDUSA_KEY, "location_id": MEDUSA_LOCATION})
    }

    /// A cart "Medusa" on the stand-in in `store`, sending up to 100 records a request.
    pub fn cart(&self, store: &Store) -> CartId {
        let mut json = self.cart_json();
        json["max_items_to_send"] = json!(100);
        store.upsert_cart_json(&json.to_string()).unwrap()
    }
}

fn decoded(s: &str) -> String {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// The filters and page of a `GET /admin/inventory-items`.
struct ItemsQuery {
    ids: Vec<String>,
    skus: Vec<String>,
    /// The `q` search, lower-cased.
    q: Option<String>,
    offset: usize,
    limit: usize,
}

impl ItemsQuery {
    fn parse(query: &str) -> ItemsQuery {
        let mut out = ItemsQuery {
            ids: Vec::new(),
            skus: Vec::new(),
            q: None,
            offset: 0,
            limit: 50,
        };
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
            let (n, v) = (decoded(n), decoded(v));
            match n.as_str() {
                "id[]" | "id" => out.ids.push(v),
                "sku[]" | "sku" => out.skus.push(v),
                "q" => out.q = Some(v.to_lowercase()),
                "offset" => out.offset = v.parse().unwrap(),
                "limit" => out.limit = v.parse().unwrap(),
                _ => {}
            }
        }
        out
    }

    /// Whether it asks for the whole listing (no filter).
    fn whole(&self) -> bool {
        self.ids.is_empty() && self.skus.is_empty() && self.q.is_none()
    }

    fn asked(&self) -> Asked {
        if !self.skus.is_empty() {
            Asked::BySku
        } else if !self.ids.is_empty() {
            Asked::ById
        } else if self.q.is_some() {
            Asked::Search
        } else {
            Asked::Listing
        }
    }

    fn matches(&self, id: &str, sku: &str) -> bool {
        (self.ids.is_empty() || self.ids.iter().any(|i| i == id))
            && (self.skus.is_empty() || self.skus.iter().any(|s| s == sku))
            && self
                .q
                .as_ref()
                .map_or(true, |q| sku.to_lowercase().contains(q))
    }
}

fn level(id: &str, stocked: impl Into<Value>) -> Value {
    let stocked = stocked.into();
    json!({"id": format!("ilev_{id}"), "inventory_item_id": id, "location_id": MEDUSA_LOCATION,
           "stocked_quantity": stocked, "reserved_quantity": 0, "incoming_quantity": 0,
           "available_quantity": stocked})
}

fn answer(shop: &mut Shop, method: &str, target: &str, body: &str) -> Reply {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    shop.requests += 1;
    match (method, path) {
        ("GET", p) if p.starts_with("/admin/stock-locations/") => {
            shop.asked.push(Asked::Location);
            if p == format!("/admin/stock-locations/{MEDUSA_LOCATION}") {
                json_reply(200, json!({"stock_location": {"id": MEDUSA_LOCATION}}))
            } else {
                not_found()
            }
        }
        ("GET", "/admin/inventory-items") => {
            let query = ItemsQuery::parse(query);
            shop.asked.push(query.asked());
            if shop.failing_reads > 0 {
                shop.failing_reads -= 1;
                return json_reply(503, json!({"message": "unavailable"}));
            }
            if query.whole() && shop.listing_fails {
                return json_reply(500, json!({"type": "unknown_error", "message": "failed"}));
            }
            if query.whole() && query.offset > 0 {
                if let Some(id) = shop.deleted_while_listed.take() {
                    shop.items.remove(&id);
                }
            }
            let all: Vec<Value> = shop
                .items
                .iter()
                .filter(|(id, (sku, _))| query.matches(id, sku))
                .map(|(id, (sku, n))| {
                    let stocked = shop.shown.get(id).cloned().unwrap_or(json!(n));
                    json!({"id": id, "sku": sku, "location_levels": [level(id, stocked)]})
                })
                .collect();
            let count = all.len();
            let (offset, limit) = (query.offset, query.limit);
            let page: Vec<Value> = all.into_iter().skip(offset).take(limit).collect();
            json_reply(
                200,
                json!({"inventory_items": page, "count": count, "offset": offset, "limit": limit}),
            )
        }
        ("POST", "/admin/inventory-items/location-levels/batch") => {
            shop.asked.push(Asked::Write);
            if shop.body_limit.is_some_and(|limit| body.len() > limit) {
                return json_reply(413, json!({"message": "too large"}));
            }
            let scripted = shop.write_answers.pop_front();
            let b: Value = serde_json::from_str(body).unwrap();
            let mut updated = Vec::new();
            for u in b["update"].as_array().into_iter().flatten() {
                let id = u["inventory_item_id"].as_str().unwrap();
                let stocked = u["stocked_quantity"].as_i64().unwrap();
                if scripted.as_ref().map_or(true, |a| a.applied) {
                    shop.items.get_mut(id).unwrap().1 = stocked;
                }
                updated.push(level(id, stocked));
            }
            if let Some(a) = scripted {
                shop.failing_reads = a.then_failing_reads;
                return a.reply;
            }
            json_reply(
                200,
                json!({"created": [], "updated": updated, "deleted": []}),
            )
        }
        _ => {
            shop.asked.push(Asked::Other);
            not_found()
        }
    }
}

fn json_reply(status: u16, body: Value) -> Reply {
    (status, vec![], body.to_string())
}

fn not_found() -> Reply {
    json_reply(404, json!({"type": "not_found", "message": "Not found"}))
}
