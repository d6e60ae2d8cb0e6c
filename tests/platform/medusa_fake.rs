//! The one loopback stand-in for Medusa v2's admin API that the Medusa tests share
//! (`medusa_adapter.rs`, `getqoh_new_records.rs`, `padded_shop_skus.rs`, `api_drift_s42.rs`,
//! `http_edges.rs`, `readback200.rs`, `review_s38*.rs`, `mutation_audit_s38.rs`, the
//! unreadable-count tests).
//!
//! Its shop holds inventory items, each with one level at [`MEDUSA_LOCATION`] (stocked and
//! reserved). It answers:
//! - `GET /admin/stock-locations/{id}`: [`MEDUSA_LOCATION`] only, any other 404;
//! - `GET /admin/inventory-items` in id order, paged by `offset` and `limit` (50 unless
//!   asked), where `sku` and `id` compare exactly (as PostgreSQL does) and `q` finds the text
//!   anywhere in a SKU, case aside (the framework's `ILIKE '%q%'`); an item's `title` is
//!   shown, and its `variants` only where `fields` asks for them;
//! - `POST /admin/inventory-items/location-levels/batch`, which writes stocked counts (a
//!   level at another location is made there, as Medusa's batch workflow does without
//!   checking the location) and answers each level written with the available count from
//!   before the write, as a real Medusa 2 does;
//! - `POST /auth/user/emailpass`, a token for any email and password.
//!
//! It reads a query string as a Medusa 2.21 backend on Express 4.22.0 or 4.22.1 does:
//! - Express 4.22.0/4.22.1 parse `req.query` with qs `~6.14.0`, whose `arrayLimit` (20) from
//!   6.14.1 also caps bracket notation: `sku[]` given more than 20 times becomes an object,
//!   and Medusa's list validator (`AdminGetInventoryItemsParamsFields`, `.strict()`), which
//!   takes `sku` and `id` as a string or an array of strings only, answers 400
//!   `invalid_data`; as it does a field it does not know
//!   (<https://github.com/expressjs/express/issues/7147>,
//!   <https://github.com/ljharb/qs/pull/568>).
//! - Medusa's `normalizeQuery` splits a lone value (a string, or an array of one) on commas,
//!   its documented way of passing a list in one value: `sku[]=TEE,RED` alone asks for TEE
//!   and RED, never the SKU `TEE,RED`.
//!
//! It counts the requests it answers and what each asked ([`Asked`]), and the lookups it
//! refused ([`Medusa::refused_lookups`]). A test can queue faults ([`Fault`]: an answer lost,
//! a write answered its own way, applied or not, a key revoked, a fulfilment landing), make
//! the whole listing fail ([`Medusa::fail_listing`]), have the owner delete an item while it
//! is read ([`Medusa::delete_while_listed`]) or create one after every page
//! ([`Medusa::grow_while_listed`]), show a count that cannot be read
//! ([`Medusa::show_stocked`]), or refuse large writes as a proxy does
//! ([`Medusa::limit_bodies`]). One request a connection (as [`serve_or_drop`] answers).

use super::{serve_or_drop, Reply, MEDUSA_KEY, MEDUSA_LOCATION};
use inventory_sync::{CartId, Store};
use serde_json::{json, Value};
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

/// qs's default `arrayLimit`, as Express 4.22.0/4.22.1 leave it for `req.query`.
pub const ARRAY_LIMIT: usize = 20;

/// The query fields Medusa's inventory-item list validator knows; any other is refused.
const KNOWN_FIELDS: &[&str] = &[
    "id",
    "sku",
    "q",
    "fields",
    "offset",
    "limit",
    "order",
    "with_deleted",
    "origin_country",
    "mid_code",
    "hs_code",
    "material",
    "requires_shipping",
    "weight",
    "length",
    "height",
    "width",
    "location_levels",
];

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
    /// A login by email and password.
    Login,
    /// Anything else.
    Other,
}

/// How the stand-in answers a POST in place of Medusa's own answer.
#[derive(Debug, Clone)]
pub struct WriteAnswer {
    /// Whether a batch write's counts are applied before this answer.
    pub applied: bool,
    /// The answer: status, headers (a `content-type` or `content-length` here takes the
    /// place of the usual one: an HTML page, or a body cut short), body.
    pub reply: Reply,
    /// How many reads of inventory items after it answer 503 (a read-back that fails).
    pub then_failing_reads: usize,
}

impl WriteAnswer {
    /// A batch write applied, then answered `status` with `body` (a router in front of
    /// Medusa that gave up after forwarding the request, or Medusa's own 500).
    pub fn applied(status: u16, body: &str) -> WriteAnswer {
        WriteAnswer {
            applied: true,
            reply: (status, vec![], body.to_owned()),
            then_failing_reads: 0,
        }
    }

    /// A POST answered `status` with `body`, nothing applied (a login too: a maintenance
    /// page answers every POST).
    pub fn not_applied(status: u16, body: &str) -> WriteAnswer {
        WriteAnswer {
            applied: false,
            ..WriteAnswer::applied(status, body)
        }
    }
}

/// A fault queued for the stand-in. Only the first queued acts, on the first request it
/// fits; the others wait their turn.
#[derive(Debug, Clone)]
pub enum Fault {
    /// The next read of inventory items gets no answer: the connection is closed (nothing
    /// changes).
    DropRead,
    /// The next POST (a batch write, or a login) is answered so.
    Answer(WriteAnswer),
    /// The next batch write is applied; then each level it wrote changes by this many units
    /// (a fulfilment landing right after it); then it is answered with this status and body.
    ApplyChangeThen(i64, u16, &'static str),
    /// The next batch write is applied; then this many units of each item it wrote are
    /// shipped (stocked and reserved fall alike), and where the flag is set Medusa's undo
    /// then writes back the stocked count from before the write (erasing the shipment's
    /// change); then it is answered with this status and body.
    ApplyFulfilThen(i64, bool, u16, &'static str),
    /// The next batch write is applied and answered; from then on every admin request is
    /// 401 (the secret API key was revoked meanwhile).
    RevokeAfterWrite,
}

/// The shop behind the stand-in.
#[derive(Default)]
pub struct Shop {
    /// Item id → (SKU, stocked at [`MEDUSA_LOCATION`]).
    pub items: BTreeMap<String, (String, i64)>,
    /// Item id → units reserved at [`MEDUSA_LOCATION`] (none where absent).
    pub reserved: BTreeMap<String, i64>,
    /// Item id → (its `title`, its `variants`, shown where the listing asks for them).
    pub details: BTreeMap<String, (String, Value)>,
    /// Levels the batch endpoint made at other locations: (item id, location) → stocked.
    pub elsewhere: BTreeMap<(String, String), i64>,
    /// Requests answered since the count was reset.
    pub requests: usize,
    /// Each request answered since the count was reset, by what it asked.
    pub asked: Vec<Asked>,
    /// Lookups of inventory items refused 400 (as Medusa's validator refuses them).
    pub refused: usize,
    /// Whether the whole listing (no filter) answers 500.
    pub listing_fails: bool,
    /// An item the owner deletes just before the next request for a later page (offset past
    /// 0) of the whole listing; `None` once deleted, or where none is to be.
    pub deleted_while_listed: Option<String>,
    /// Whether an item is created after every page of the whole listing (a product import
    /// running): its id sorts after every other, as Medusa's do (they sort by creation).
    pub grows_while_listed: bool,
    /// What the listing shows as an item's stocked (and available) count in place of its
    /// own: a count that cannot be read, such as `"n/a"`.
    pub shown: BTreeMap<String, Value>,
    /// The largest batch write body taken; a larger one is refused 413, nothing applied (a
    /// proxy's limit, as nginx's `client_max_body_size`).
    pub body_limit: Option<usize>,
    /// Faults to come, in order ([`Fault`]).
    pub faults: VecDeque<Fault>,
    /// How many reads of inventory items from now answer 503.
    pub failing_reads: usize,
    /// Whether the API key was revoked: every admin request is 401.
    pub revoked: bool,
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
        let url = serve_or_drop(move |method, target, body| {
            answer(&mut shared.lock().unwrap(), method, target, body)
        });
        Medusa { url, shop }
    }

    /// The shop, for a test to look at or change as it likes.
    pub fn shop(&self) -> MutexGuard<'_, Shop> {
        self.shop.lock().unwrap()
    }

    /// Adds item `id` (SKU `sku`) stocked `stocked`, nothing reserved.
    pub fn add(&self, id: &str, sku: &str, stocked: i64) {
        self.add_held(id, sku, stocked, 0);
    }

    /// Adds item `id` (SKU `sku`) stocked `stocked`, `reserved` of them held for orders.
    pub fn add_held(&self, id: &str, sku: &str, stocked: i64, reserved: i64) {
        let mut shop = self.shop();
        shop.items.insert(id.into(), (sku.into(), stocked));
        shop.reserved.insert(id.into(), reserved);
    }

    /// Gives item `id` a `title` and the `variants` the listing shows where asked.
    pub fn describe(&self, id: &str, title: &str, variants: Value) {
        self.shop()
            .details
            .insert(id.into(), (title.into(), variants));
    }

    /// Item `id`'s stocked count (panics if the shop has no such item).
    pub fn stocked(&self, id: &str) -> i64 {
        self.shop().items[id].1
    }

    /// Sets item `id`'s stocked count (a change made in the shop).
    pub fn set_stocked(&self, id: &str, stocked: i64) {
        self.shop().items.get_mut(id).unwrap().1 = stocked;
    }

    /// Units of item `id` reserved for orders.
    pub fn reserved(&self, id: &str) -> i64 {
        self.shop().reserved.get(id).copied().unwrap_or(0)
    }

    /// Whether the shop holds item `id`.
    pub fn holds(&self, id: &str) -> bool {
        self.shop().items.contains_key(id)
    }

    /// The shop's owner gives item `id` another SKU.
    pub fn rename(&self, id: &str, sku: &str) {
        self.shop().items.get_mut(id).unwrap().0 = sku.into();
    }

    /// Queues `fault` after those already queued.
    pub fn fault(&self, fault: Fault) {
        self.shop().faults.push_back(fault);
    }

    /// Drops the faults still queued.
    pub fn clear_faults(&self) {
        self.shop().faults.clear();
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

    /// Has an item created after every page of the whole listing.
    pub fn grow_while_listed(&self) {
        self.shop().grows_while_listed = true;
    }

    /// Has the listing show `shown` as item `id`'s stocked count (one that cannot be read).
    pub fn show_stocked(&self, id: &str, shown: Value) {
        self.shop().shown.insert(id.into(), shown);
    }

    /// Refuses batch writes of more than `bytes` a body with 413, applying nothing.
    pub fn limit_bodies(&self, bytes: usize) {
        self.shop().body_limit = Some(bytes);
    }

    /// Answers the next POST (after the faults already queued) with `answer`.
    pub fn answer_next_write(&self, answer: WriteAnswer) {
        self.fault(Fault::Answer(answer));
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

    /// Lookups of inventory items refused 400 since the start.
    pub fn refused_lookups(&self) -> usize {
        self.shop().refused
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

/// A query string as qs parses it: each field's values, `sku` and `sku[]` alike.
struct Params(BTreeMap<String, Vec<String>>);

/// The filters and page of a `GET /admin/inventory-items`, as Medusa's validator takes them.
struct ItemsQuery {
    ids: Option<Vec<String>>,
    skus: Option<Vec<String>>,
    /// The `q` search, lower-cased.
    q: Option<String>,
    offset: usize,
    limit: usize,
    fields: String,
}

impl Params {
    fn parse(query: &str) -> Params {
        let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
            let n = super::form_decode(n);
            let n = n.strip_suffix("[]").unwrap_or(&n).to_owned();
            out.entry(n).or_default().push(super::form_decode(v));
        }
        Params(out)
    }

    fn asked(&self) -> Asked {
        if self.0.contains_key("sku") {
            Asked::BySku
        } else if self.0.contains_key("id") {
            Asked::ById
        } else if self.0.contains_key("q") {
            Asked::Search
        } else {
            Asked::Listing
        }
    }

    /// A field of strings (`sku`, `id`) as Medusa takes it, or why it refuses it.
    fn list(&self, name: &str) -> Result<Option<Vec<String>>, String> {
        match self.0.get(name).map(Vec::as_slice) {
            None => Ok(None),
            // qs past `arrayLimit`: an object, which the validator refuses.
            Some(v) if v.len() > ARRAY_LIMIT => Err(format!(
                "Invalid request: Expected type: 'array' for field '{name}', got: 'object'"
            )),
            // normalizeQuery: one string is a comma-separated list.
            Some([one]) => Ok(Some(one.split(',').map(str::to_owned).collect())),
            Some(v) => Ok(Some(v.to_vec())),
        }
    }

    /// A field of one value; given more than once it is an array, which is refused.
    fn one(&self, name: &str) -> Result<Option<&str>, String> {
        match self.0.get(name).map(Vec::as_slice) {
            None => Ok(None),
            Some([one]) => Ok(Some(one)),
            Some(_) => Err(format!(
                "Invalid request: Expected type: 'string' for field '{name}', got: 'array'"
            )),
        }
    }

    fn number(&self, name: &str, default: usize) -> Result<usize, String> {
        self.one(name)?.map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("Invalid request: Expected type: 'number' for field '{name}'"))
        })
    }

    fn items_query(&self) -> Result<ItemsQuery, String> {
        if let Some(other) = self.0.keys().find(|k| !KNOWN_FIELDS.contains(&k.as_str())) {
            return Err(format!("Invalid request: Unrecognized fields: '{other}'"));
        }
        Ok(ItemsQuery {
            ids: self.list("id")?,
            skus: self.list("sku")?,
            q: self.one("q")?.map(str::to_lowercase),
            offset: self.number("offset", 0)?,
            limit: self.number("limit", 50)?,
            fields: self.one("fields")?.unwrap_or_default().to_owned(),
        })
    }
}

impl ItemsQuery {
    /// Whether it asks for the whole listing (no filter).
    fn whole(&self) -> bool {
        self.ids.is_none() && self.skus.is_none() && self.q.is_none()
    }

    fn matches(&self, id: &str, sku: &str) -> bool {
        self.ids.as_ref().is_none_or(|f| f.iter().any(|i| i == id))
            && self
                .skus
                .as_ref()
                .is_none_or(|f| f.iter().any(|s| s == sku))
            && self
                .q
                .as_ref()
                .is_none_or(|q| sku.to_lowercase().contains(q))
    }

    /// Whether `fields` asks for the item's variants with their product's and options'
    /// titles (Medusa answers only the relations asked for).
    fn asks_variants(&self) -> bool {
        self.fields.contains("variants.product.title")
            && self.fields.contains("variants.options.option.title")
    }
}

fn level(id: &str, location: &str, stocked: Value, reserved: i64) -> Value {
    let available = stocked
        .as_i64()
        .map_or(stocked.clone(), |n| json!(n - reserved));
    json!({"id": format!("ilev_{id}"), "inventory_item_id": id, "location_id": location,
           "stocked_quantity": stocked, "reserved_quantity": reserved, "incoming_quantity": 0,
           "available_quantity": available})
}

/// The answer to one request; `None` closes the connection without one.
fn answer(shop: &mut Shop, method: &str, target: &str, body: &str) -> Option<Reply> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    shop.requests += 1;
    if shop.revoked && path.starts_with("/admin/") {
        shop.asked.push(Asked::Other);
        return Some(json_reply(
            401,
            json!({"type": "unauthorized", "message": "Unauthorized"}),
        ));
    }
    match (method, path) {
        ("POST", "/auth/user/emailpass") => {
            shop.asked.push(Asked::Login);
            // A maintenance page answers every POST; a write applied is a batch write's.
            if let Some(Fault::Answer(a)) = shop
                .faults
                .front()
                .filter(|f| matches!(f, Fault::Answer(a) if !a.applied))
            {
                let reply = a.reply.clone();
                shop.faults.pop_front();
                return Some(reply);
            }
            Some(json_reply(200, json!({"token": "jwt-1"})))
        }
        ("GET", p) if p.starts_with("/admin/stock-locations/") => {
            shop.asked.push(Asked::Location);
            if p == format!("/admin/stock-locations/{MEDUSA_LOCATION}") {
                Some(json_reply(
                    200,
                    json!({"stock_location": {"id": MEDUSA_LOCATION}}),
                ))
            } else {
                Some(not_found())
            }
        }
        ("GET", "/admin/inventory-items") => {
            let params = Params::parse(query);
            shop.asked.push(params.asked());
            if matches!(shop.faults.front(), Some(Fault::DropRead)) {
                shop.faults.pop_front();
                return None;
            }
            if shop.failing_reads > 0 {
                shop.failing_reads -= 1;
                return Some(json_reply(503, json!({"message": "unavailable"})));
            }
            let query = match params.items_query() {
                Ok(q) => q,
                Err(message) => {
                    shop.refused += 1;
                    return Some(json_reply(
                        400,
                        json!({"type": "invalid_data", "message": message}),
                    ));
                }
            };
            Some(list(shop, &query))
        }
        ("POST", "/admin/inventory-items/location-levels/batch") => {
            shop.asked.push(Asked::Write);
            if shop.body_limit.is_some_and(|limit| body.len() > limit) {
                return Some(json_reply(413, json!({"message": "too large"})));
            }
            let fault = match shop.faults.front() {
                Some(Fault::DropRead) | None => None,
                Some(_) => shop.faults.pop_front(),
            };
            Some(write(shop, body, fault))
        }
        _ => {
            shop.asked.push(Asked::Other);
            Some(not_found())
        }
    }
}

/// A page of inventory items.
fn list(shop: &mut Shop, query: &ItemsQuery) -> Reply {
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
            let reserved = shop.reserved.get(id).copied().unwrap_or(0);
            let mut item = json!({"id": id, "sku": sku,
                                  "location_levels": [level(id, MEDUSA_LOCATION, stocked, reserved)]});
            if let Some((title, variants)) = shop.details.get(id) {
                item["title"] = json!(title);
                if query.asks_variants() {
                    item["variants"] = variants.clone();
                }
            }
            item
        })
        .collect();
    let count = all.len();
    let (offset, limit) = (query.offset, query.limit);
    let page: Vec<Value> = all.into_iter().skip(offset).take(limit).collect();
    if query.whole() && shop.grows_while_listed {
        let n = shop.items.len();
        shop.items
            .insert(format!("iitem_z{n:05}"), (format!("NEW-{n}"), 1));
    }
    json_reply(
        200,
        json!({"inventory_items": page, "count": count, "offset": offset, "limit": limit}),
    )
}

/// A batch write of levels, applied and answered as `fault` says (Medusa's own way without).
fn write(shop: &mut Shop, body: &str, fault: Option<Fault>) -> Reply {
    let applied = !matches!(&fault, Some(Fault::Answer(a)) if !a.applied);
    let b: Value = serde_json::from_str(body).unwrap();
    let (mut created, mut updated) = (Vec::new(), Vec::new());
    // (item id, stocked before the write) of each level written at MEDUSA_LOCATION.
    let mut written = Vec::new();
    for (part, out) in [("create", &mut created), ("update", &mut updated)] {
        for u in b[part].as_array().into_iter().flatten() {
            let id = u["inventory_item_id"].as_str().unwrap().to_owned();
            let stocked = u["stocked_quantity"].as_i64().unwrap();
            let location = u["location_id"].as_str().unwrap_or(MEDUSA_LOCATION);
            if location != MEDUSA_LOCATION {
                if applied {
                    let at = (id.clone(), location.to_owned());
                    shop.elsewhere.insert(at, stocked);
                }
                out.push(level(&id, location, json!(stocked), 0));
                continue;
            }
            let before = shop.items[&id].1;
            let reserved = shop.reserved.get(&id).copied().unwrap_or(0);
            if applied {
                shop.items.get_mut(&id).unwrap().1 = stocked;
            }
            // As a real Medusa 2 answers: the stocked count written beside the available
            // count from before the write.
            let mut level = level(&id, MEDUSA_LOCATION, json!(stocked), reserved);
            level["available_quantity"] = json!(before - reserved);
            out.push(level);
            written.push((id, before));
        }
    }
    let own = json_reply(
        200,
        json!({"created": created, "updated": updated, "deleted": []}),
    );
    match fault {
        None | Some(Fault::DropRead) => own,
        Some(Fault::Answer(a)) => {
            shop.failing_reads = a.then_failing_reads;
            a.reply
        }
        Some(Fault::ApplyChangeThen(change, status, body)) => {
            for (id, _) in &written {
                shop.items.get_mut(id).unwrap().1 += change;
            }
            (status, vec![], body.to_owned())
        }
        Some(Fault::ApplyFulfilThen(units, undo, status, body)) => {
            for (id, before) in &written {
                let stocked = &mut shop.items.get_mut(id).unwrap().1;
                *stocked = if undo { *before } else { *stocked - units };
                *shop.reserved.entry(id.clone()).or_default() -= units;
            }
            (status, vec![], body.to_owned())
        }
        Some(Fault::RevokeAfterWrite) => {
            shop.revoked = true;
            own
        }
    }
}

fn json_reply(status: u16, body: Value) -> Reply {
    (status, vec![], body.to_string())
}

fn not_found() -> Reply {
    json_reply(404, json!({"type": "not_found", "message": "Not found"}))
}
