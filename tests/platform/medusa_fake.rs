//! A loopback stand-in for Medusa v2's admin API, for the padded-SKU tests
//! (`padded_shop_skus.rs`, `review_s38.rs`, `review_s38b.rs`, `mutation_audit_s38.rs`):
//! inventory items with one level each at [`MEDUSA_LOCATION`]; `GET /admin/inventory-items`
//! in id order, paged by `offset` and `limit` (50 unless asked), where `sku[]` and `id[]`
//! compare exactly (as PostgreSQL does) and `q` finds the text anywhere in a SKU, case aside
//! (the framework's `ILIKE '%q%'`); and `POST /admin/inventory-items/location-levels/batch`,
//! which writes stocked counts. It counts the requests it answers and what each asked
//! ([`Asked`]); a test can make the whole listing fail ([`Medusa::fail_listing`]) or have the
//! owner delete an item while it is read ([`Medusa::delete_while_listed`]).

use super::{serve, MEDUSA_KEY, MEDUSA_LOCATION};
use inventory_sync::{CartId, Store};
use serde_json::{json, Value};
use std::collections::BTreeMap;
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
            let mut shop = shared.lock().unwrap();
            let (status, json) = answer(&mut shop, method, target, body);
            (status, vec![], json.to_string())
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

    /// A cart "Medusa" on the stand-in in `store`, sending up to 100 records a request.
    pub fn cart(&self, store: &Store) -> CartId {
        store
            .upsert_cart_json(
                &json!({"name": "Medusa", "adapter": "medusa", "url": self.url,
                        "api_key": MEDUSA_KEY, "location_id": MEDUSA_LOCATION,
                        "max_items_to_send": 100})
                .to_string(),
            )
            .unwrap()
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

fn level(id: &str, stocked: i64) -> Value {
    json!({"id": format!("ilev_{id}"), "inventory_item_id": id, "location_id": MEDUSA_LOCATION,
           "stocked_quantity": stocked, "reserved_quantity": 0, "incoming_quantity": 0,
           "available_quantity": stocked})
}

fn answer(shop: &mut Shop, method: &str, target: &str, body: &str) -> (u16, Value) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    shop.requests += 1;
    match (method, path) {
        ("GET", p) if p.starts_with("/admin/stock-locations/") => {
            shop.asked.push(Asked::Location);
            if p == format!("/admin/stock-locations/{MEDUSA_LOCATION}") {
                (200, json!({"stock_location": {"id": MEDUSA_LOCATION}}))
            } else {
                not_found()
            }
        }
        ("GET", "/admin/inventory-items") => {
            let query = ItemsQuery::parse(query);
            shop.asked.push(query.asked());
            if query.whole() && shop.listing_fails {
                return (500, json!({"type": "unknown_error", "message": "failed"}));
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
                .map(|(id, (sku, n))| json!({"id": id, "sku": sku, "location_levels": [level(id, *n)]}))
                .collect();
            let count = all.len();
            let (offset, limit) = (query.offset, query.limit);
            let page: Vec<Value> = all.into_iter().skip(offset).take(limit).collect();
            (
                200,
                json!({"inventory_items": page, "count": count, "offset": offset, "limit": limit}),
            )
        }
        ("POST", "/admin/inventory-items/location-levels/batch") => {
            shop.asked.push(Asked::Write);
            let b: Value = serde_json::from_str(body).unwrap();
            let mut updated = Vec::new();
            for u in b["update"].as_array().into_iter().flatten() {
                let id = u["inventory_item_id"].as_str().unwrap();
                let stocked = u["stocked_quantity"].as_i64().unwrap();
                shop.items.get_mut(id).unwrap().1 = stocked;
                updated.push(level(id, stocked));
            }
            (
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

fn not_found() -> (u16, Value) {
    (404, json!({"type": "not_found", "message": "Not found"}))
}
