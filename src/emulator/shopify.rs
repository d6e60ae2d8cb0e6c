//! Emulator mode [`super::Mode::Shopify`]: the part of the Shopify Admin GraphQL API the
//! `shopify` adapter uses, answered from the emulator's catalogue.
//!
//! Endpoint `POST /admin/api/{version}/graphql.json` with `X-Shopify-Access-Token` (401
//! without it when a token is set). It is not a GraphQL server: it recognises the five
//! operations the adapter sends, by their root fields, and reads their `variables`:
//!
//! - `location(id: $location) { id isActive deactivatedAt }`: the location, or `null` for an
//!   id the shop does not have; it costs 1. A deactivated location
//!   ([`Emulator::set_shopify_location_deactivated`]) answers `isActive: false`; without the
//!   `read_locations` scope ([`Emulator::set_shopify_read_locations`]) any field but `id`
//!   answers `ACCESS_DENIED`.
//! - `nodes(ids: $ids) { ... on InventoryItem { id inventoryLevel(locationId: $location) { id
//!   } } }`: per id the inventory item and its level there if active (`null` when not stocked
//!   there, never or deactivated), `null` for an id naming no item; it costs 2 per id, and
//!   more than 250 ids answer `MAX_INPUT_SIZE_EXCEEDED`.
//! - `productVariants(first:, after:, query:)` with `sku:"…" OR sku:"…"` searches; nodes with
//!   `sku` and `inventoryItem { id inventoryLevel(locationId:) { quantities(names:
//!   ["available"]) { name quantity } } }`, `pageInfo { hasNextPage endCursor }`; `first` at
//!   most 250. Each node answers too the variant's `title` (its option values joined by
//!   " / ", `Default Title` for a plain item), `selectedOptions { name value }` (`Title:
//!   Default Title` for a plain item) and `product { title }`
//!   ([`super::Emulator::set_item_details`]).
//! - any number of aliased `inventoryAdjustQuantities(input: $var) @idempotent(key: "…")`
//!   mutations in one document: a key seen before answers the original result and changes
//!   nothing. Without the directive the mutation fails from version `2026-04` on (Shopify made
//!   it mandatory there), as does a change without `changeFromQuantity` (`null` opts out of
//!   the check; a number other than the current count answers `CHANGE_FROM_QUANTITY_STALE`).
//! - `inventorySetQuantities(input: $var)`: all-or-nothing; `changeFromQuantity` (required
//!   from `2026-04`, `null` opts out) different from the current count answers the userError
//!   `CHANGE_FROM_QUANTITY_STALE` and nothing is set.
//!
//! Cost: a mutation field costs 10, a `productVariants` page `2 + 4 × first` (each variant
//! selects four objects; six, `2 + 6 × first`, where the query selects `selectedOptions` and
//! `product`, as the listing does), a `location` 1, a `nodes` check 2 an id. A request above 1000
//! answers `MAX_COST_EXCEEDED`; one above the bucket's `currentlyAvailable` answers the
//! `THROTTLED` error with `extensions.cost.throttleStatus`, as the rate-limit page shows. The
//! bucket refills at `restoreRate` points per second of wall time. Quantities beyond
//! ±1,000,000,000 answer `INVALID_QUANTITY_TOO_HIGH` / `_TOO_LOW`.
//!
//! Before version `2026-01` a document with `@idempotent` fails validation (a top-level error),
//! as on Shopify, where the directive came with that version.
//!
//! The shop has one location, [`LOCATION_GID`]. An item may be made *not stocked* there
//! ([`Emulator::set_shopify_not_stocked`]), with no inventory level at all or with an inactive
//! one keeping a count, as Shopify has them (read for this; nothing copied):
//!
//! - `inventoryLevel(locationId:)` answers `null` for it: by default only active levels are
//!   returned (changelog "Add includeInactive argument to inventoryLevels and inventoryLevel
//!   fields", 2026-04,
//!   <https://shopify.dev/changelog/add-includeinactive-argument-to-inventorylevels-and-inventorylevel-fields>).
//! - Before `2026-10`, an adjustment or set of an item with no level there is refused with the
//!   user error `ITEM_NOT_STOCKED_AT_LOCATION` ("The inventory item is not stocked at the
//!   location.", `InventoryAdjustQuantitiesUserErrorCode`,
//!   <https://shopify.dev/docs/api/admin-graphql/latest/enums/InventoryAdjustQuantitiesUserErrorCode>;
//!   the set's enum words it "The specified inventory item ...").
//! - From `2026-04` an inactive level keeps its quantities and "can be adjusted just like
//!   active ones" (changelog "Add isActive field to InventoryLevel",
//!   <https://shopify.dev/changelog/add-isactive-field-to-inventorylevel>); from `2026-10` the
//!   error is gone and quantities "can now be adjusted at any location" (changelog "Removal of
//!   ITEM_NOT_STOCKED_AT_LOCATION error",
//!   <https://shopify.dev/changelog/removal-of-itemnotstockedatlocation-error>). Such a write
//!   lands on the inactive level ([`Emulator::shopify_inactive_level`]), which a shop selling at
//!   the location never counts: applied, and nobody sees it.

use super::{note_batch, Answer, Cart, Emulator, Request, RequestKind, Shared};
use serde_json::{json, Map, Value};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// The one location of the emulated shop.
pub const LOCATION_GID: &str = "gid://shopify/Location/1";
const MAX_QUANTITY: i64 = 1_000_000_000;
const MAX_QUERY_COST: f64 = 1000.0;
const MUTATION_COST: f64 = 10.0;
/// The longest input list Shopify takes (its API limits page, "Input limits").
const MAX_INPUT: usize = 250;

pub(super) struct State {
    maximum: f64,
    restore_rate: f64,
    available: f64,
    refilled_at: Instant,
    /// Idempotency key → the input it was first sent with, and the payload answered.
    keys: HashMap<String, (Value, Value)>,
    /// SKUs not stocked at [`LOCATION_GID`]: the count of their inactive level there, `None`
    /// when they have no level there at all. Their catalogue count is the one at another
    /// location, which nothing sent to this one changes.
    not_stocked: HashMap<String, Option<i64>>,
    /// [`LOCATION_GID`] deactivated in Shopify admin: its `deactivatedAt`.
    deactivated_at: Option<String>,
    /// The token lacks the `read_locations` access scope.
    no_read_locations: bool,
}

impl Default for State {
    fn default() -> Self {
        State {
            maximum: 2000.0,
            restore_rate: 100.0,
            available: 2000.0,
            refilled_at: Instant::now(),
            keys: HashMap::new(),
            not_stocked: HashMap::new(),
            deactivated_at: None,
            no_read_locations: false,
        }
    }
}

impl State {
    pub(super) fn set_budget(&mut self, maximum: f64, restore_rate: f64) {
        self.maximum = maximum.max(1.0);
        self.restore_rate = restore_rate.max(0.001);
        self.available = self.maximum;
        self.refilled_at = Instant::now();
    }

    pub(super) fn drain(&mut self) {
        self.refill();
        self.available = 0.0;
    }

    fn refill(&mut self) {
        let now = Instant::now();
        let secs = now.duration_since(self.refilled_at).as_secs_f64();
        self.available = (self.available + secs * self.restore_rate).min(self.maximum);
        self.refilled_at = now;
    }

    fn cost(&self, requested: f64, actual: Option<f64>) -> Value {
        json!({
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": self.maximum,
                "currentlyAvailable": self.available,
                "restoreRate": self.restore_rate,
            }
        })
    }
}

impl Emulator {
    /// Shopify mode: `sku` (created first with [`Emulator::set_qoh`]) is not stocked at the
    /// shop's location: with no inventory level there (`inactive: None`: never stocked
    /// there), or with an inactive one keeping `inactive` (deactivated there, which from
    /// `2026-04` keeps the quantities). Reads answer its level `null`; writes are refused
    /// `ITEM_NOT_STOCKED_AT_LOCATION` before `2026-10` unless an inactive level takes them (from
    /// `2026-04`), and from `2026-10` land on an inactive level (module documentation).
    pub fn set_shopify_not_stocked(&self, sku: &str, inactive: Option<i64>) {
        let mut cart = self.shared.cart.lock();
        cart.id_of(sku);
        cart.shopify.not_stocked.insert(sku.to_owned(), inactive);
    }

    /// Shopify mode: the shop's location deactivated in Shopify admin (`true`) or active again.
    /// While deactivated, every item's level there is inactive: reads answer it `null` (as for
    /// an item not stocked there), `location(id:)` answers `isActive: false` and a
    /// `deactivatedAt`, and writes are taken from `2026-04` (an inactive level keeps and takes
    /// quantities; the emulator keeps one count per item, so a test sees them there) and
    /// refused `ITEM_NOT_STOCKED_AT_LOCATION` before.
    pub fn set_shopify_location_deactivated(&self, deactivated: bool) {
        self.shared.cart.lock().shopify.deactivated_at =
            deactivated.then(|| "2026-12-04T09:30:00Z".to_owned());
    }

    /// Shopify mode: whether the token has the `read_locations` access scope (it has by
    /// default). Without it, a `location(id:)` selecting more than its `id` answers
    /// `ACCESS_DENIED` in `errors` with `location: null` in `data` (its `isActive` is non-null,
    /// so the denied field nulls the location), as Shopify words it since 2020-07: "Access
    /// denied for `<field>` field. Required access: `<scope>` access scope."
    pub fn set_shopify_read_locations(&self, granted: bool) {
        self.shared.cart.lock().shopify.no_read_locations = !granted;
    }

    /// Shopify mode: the count of `sku`'s inactive level at the shop's location (`None`: it
    /// has none, or is stocked there): what writes to an item not stocked there changed.
    pub fn shopify_inactive_level(&self, sku: &str) -> Option<i64> {
        self.shared
            .cart
            .lock()
            .shopify
            .not_stocked
            .get(sku)
            .copied()
            .flatten()
    }
}

/// The count at [`LOCATION_GID`] a write to `sku` changes, and where it goes: `Ok(None)` the
/// catalogue (stocked there), `Ok(Some(n))` an inactive level holding `n`, `Err` refused as
/// not stocked (module documentation).
fn level_for_write(cart: &Cart, sku: &str, version: &str) -> Result<Option<i64>, ()> {
    match cart.shopify.not_stocked.get(sku) {
        // A deactivated location's levels are inactive, keeping the item's count.
        None if cart.shopify.deactivated_at.is_some() && version < "2026-04" => Err(()),
        None => Ok(None),
        Some(Some(n)) if version >= "2026-04" => Ok(Some(*n)),
        Some(n) if version >= "2026-10" => Ok(Some(n.unwrap_or(0))),
        Some(_) => Err(()),
    }
}

/// The count at [`LOCATION_GID`] a write to `sku` reads.
fn count_here(cart: &Cart, sku: &str, version: &str) -> i64 {
    match level_for_write(cart, sku, version) {
        Ok(Some(n)) => n,
        _ => cart.items[sku],
    }
}

/// Writes `quantity` where [`level_for_write`] says `sku`'s count at the location is.
fn write_level(cart: &mut Cart, sku: String, quantity: i64) {
    match cart.shopify.not_stocked.get_mut(&sku) {
        Some(level) => *level = Some(quantity),
        None => {
            cart.items.insert(sku, quantity);
        }
    }
}

fn api_version(path: &str) -> Option<&str> {
    path.strip_prefix("/admin/api/")?
        .strip_suffix("/graphql.json")
}

pub(super) fn kind(request: &Request) -> Option<RequestKind> {
    api_version(&request.path)?;
    let text = String::from_utf8_lossy(&request.body);
    if text.contains("inventoryAdjustQuantities") {
        Some(RequestKind::Adjust)
    } else if text.contains("inventorySetQuantities") {
        Some(RequestKind::Set)
    } else {
        Some(RequestKind::Get)
    }
}

fn top_error(message: impl Into<String>, code: &str) -> Answer {
    Answer::json(
        200,
        json!({"errors": [{"message": message.into(), "extensions": {"code": code}}]}),
    )
}

fn item_gid(id: u64) -> String {
    format!("gid://shopify/InventoryItem/{id}")
}

/// The SKU of an inventory item gid, when the catalogue has it (variants and plain items).
fn item_sku(cart: &Cart, gid: &str) -> Option<String> {
    let id: u64 = gid
        .strip_prefix("gid://shopify/InventoryItem/")?
        .parse()
        .ok()?;
    let sku = cart.sku_of(id)?;
    cart.items.contains_key(sku).then(|| sku.to_owned())
}

pub(super) fn handle(shared: &Shared, cart: &mut Cart, request: &Request) -> Answer {
    let Some(version) = api_version(&request.path) else {
        return Answer::error(404, format!("no such endpoint: {}", request.path));
    };
    let version = version.to_owned();
    if request.method != "POST" {
        return Answer::error(405, "method not allowed");
    }
    if let Some(token) = &cart.token {
        if request.header("x-shopify-access-token") != Some(token.as_str()) {
            return Answer::json(
                401,
                json!({"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}),
            );
        }
    }
    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
        return Answer::error(400, "body is not JSON");
    };
    let query = body["query"].as_str().unwrap_or("").to_owned();
    let variables = body["variables"].as_object().cloned().unwrap_or_default();

    let adjusts = find_fields(&query, "inventoryAdjustQuantities(");
    let is_set = query.contains("inventorySetQuantities(");
    let is_read = query.contains("productVariants(");
    let ids = variables.get("ids").and_then(Value::as_array).cloned();
    let is_nodes = !is_read && query.contains("nodes(ids:");
    let is_location = !is_read && !is_nodes && query.contains("location(id:");
    let first = variables.get("first").and_then(Value::as_i64).unwrap_or(50);
    let requested = if !adjusts.is_empty() {
        MUTATION_COST * adjusts.len() as f64
    } else if is_set {
        MUTATION_COST
    } else if is_read {
        // A connection is 2 + first × the node's cost; a node here selects four objects (the
        // variant, its inventory item, the level, the quantities list), six with the
        // listing's `product` and `selectedOptions`.
        let node = match query.contains("selectedOptions") {
            true => 6.0,
            false => 4.0,
        };
        2.0 + node * first.max(0) as f64
    } else if is_location {
        1.0
    } else if is_nodes {
        // Each inventory item and its level one object.
        let n = ids.as_ref().map_or(0, Vec::len);
        if n > MAX_INPUT {
            return top_error(
                format!("The input array size of {n} is greater than the maximum allowed of {MAX_INPUT}."),
                "MAX_INPUT_SIZE_EXCEEDED",
            );
        }
        2.0 * n as f64
    } else {
        return top_error("the emulator serves productVariants, nodes, location, inventoryAdjustQuantities and inventorySetQuantities only", "BAD_REQUEST");
    };
    if requested > MAX_QUERY_COST {
        return top_error(
            format!("Query cost is {requested}, which exceeds the single query max cost limit ({MAX_QUERY_COST})."),
            "MAX_COST_EXCEEDED",
        );
    }
    cart.shopify.refill();
    if requested > cart.shopify.available {
        shared.counters.throttled.fetch_add(1, Ordering::SeqCst);
        let cost = cart.shopify.cost(requested, None);
        return Answer::json(
            200,
            json!({
                "errors": [{"message": "Throttled", "extensions": {
                    "code": "THROTTLED",
                    "documentation": "https://shopify.dev/api/usage/rate-limits"}}],
                "extensions": {"cost": cost},
            }),
        );
    }
    // `@idempotent` exists from 2026-01 (Shopify changelog "Adding idempotency for inventory
    // adjustments and refund mutations"): before, a document using it fails validation.
    let dated = version.len() == 7 && version.as_bytes()[4] == b'-';
    if dated && version.as_str() < "2026-01" && query.contains("@idempotent") {
        return top_error("Directive 'idempotent' is undefined", "undefinedDirective");
    }
    cart.shopify.available -= requested;
    let data = if !adjusts.is_empty() {
        let mandatory = version.as_str() >= "2026-04";
        let mut data = Map::new();
        let mut total = 0;
        for a in &adjusts {
            let payload =
                match (&a.key, mandatory) {
                    (None, true) => return top_error(
                        "inventoryAdjustQuantities requires the @idempotent directive from 2026-04",
                        "BAD_REQUEST",
                    ),
                    (key, _) => {
                        let input = variables.get(&a.variable).cloned().unwrap_or(Value::Null);
                        match key.as_ref().and_then(|k| remembered(cart, k, &input)) {
                            Some(p) => p,
                            None => {
                                total += input["changes"].as_array().map_or(0, Vec::len);
                                let p = adjust(cart, &input, &version);
                                if let Some(k) = key {
                                    cart.shopify.keys.insert(k.clone(), (input, p.clone()));
                                }
                                p
                            }
                        }
                    }
                };
            data.insert(a.alias.clone(), payload);
        }
        note_batch(shared, total);
        Value::Object(data)
    } else if is_set {
        let mandatory = version.as_str() >= "2026-04";
        let key = find_fields(&query, "inventorySetQuantities(")
            .into_iter()
            .next()
            .and_then(|f| f.key);
        let payload = match key {
            None if mandatory => {
                return top_error(
                    "inventorySetQuantities requires the @idempotent directive from 2026-04",
                    "BAD_REQUEST",
                )
            }
            key => {
                let input = find_input_variable(&query, "inventorySetQuantities(")
                    .and_then(|v| variables.get(&v).cloned())
                    .unwrap_or(Value::Null);
                match key.as_ref().and_then(|k| remembered(cart, k, &input)) {
                    Some(p) => p,
                    None => {
                        note_batch(shared, input["quantities"].as_array().map_or(0, Vec::len));
                        let p = set(cart, &input, &version);
                        if let Some(k) = key {
                            cart.shopify.keys.insert(k, (input, p.clone()));
                        }
                        p
                    }
                }
            }
        };
        json!({ "inventorySetQuantities": payload })
    } else if is_nodes {
        json!({ "nodes": levels(cart, &variables, ids.unwrap_or_default()) })
    } else if is_location {
        // `location(id:)`: the shop's one location, or null for any other id; beyond its
        // `id`, the fields asked for, which need `read_locations`.
        let id = variables.get("location").and_then(Value::as_str);
        let asked = |f: &str| query.contains(f);
        let denied = ["isActive", "deactivatedAt"]
            .into_iter()
            .find(|f| asked(f) && cart.shopify.no_read_locations);
        if let Some(field) = denied {
            let cost = cart.shopify.cost(requested, Some(requested));
            return Answer::json(
                200,
                json!({
                    "data": {"location": null},
                    "errors": [{
                        "message": format!("Access denied for {field} field. Required access: `read_locations` access scope."),
                        "path": ["location", field],
                        "extensions": {"code": "ACCESS_DENIED",
                            "documentation": "https://shopify.dev/api/usage/access-scopes",
                            "requiredAccess": "`read_locations` access scope."},
                    }],
                    "extensions": {"cost": cost},
                }),
            );
        }
        let location = (id == Some(LOCATION_GID)).then(|| {
            let mut l = json!({"id": LOCATION_GID});
            if asked("isActive") {
                l["isActive"] = json!(cart.shopify.deactivated_at.is_none());
            }
            if asked("deactivatedAt") {
                l["deactivatedAt"] = json!(cart.shopify.deactivated_at);
            }
            l
        });
        json!({ "location": location })
    } else {
        match read(cart, &variables, first) {
            Ok(v) => json!({ "productVariants": v }),
            Err(message) => return top_error(message, "BAD_REQUEST"),
        }
    };
    let cost = cart.shopify.cost(requested, Some(requested));
    Answer::json(200, json!({"data": data, "extensions": {"cost": cost}}))
}

/// What Shopify answers a mutation sent again under idempotency key `key` (`None`: a key it
/// has not seen): the first answer again, if it applied; a user error that applies nothing if
/// it failed ("retry with a new idempotency key") or if the input differs.
fn remembered(cart: &Cart, key: &str, input: &Value) -> Option<Value> {
    let (first, payload) = cart.shopify.keys.get(key)?;
    let failed = payload["userErrors"]
        .as_array()
        .is_some_and(|e| !e.is_empty());
    let refused = |message: &str, code: &str| {
        json!({"inventoryAdjustmentGroup": null, "userErrors": [user_error(
            vec!["input".into()], message.into(), code)]})
    };
    Some(if first != input {
        refused(
            "The same idempotency key was used with different parameters.",
            "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
        )
    } else if failed {
        refused(
            "A previous request with this idempotency key failed. Retry with a new idempotency key.",
            "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED",
        )
    } else {
        payload.clone()
    })
}

struct AdjustField {
    alias: String,
    variable: String,
    key: Option<String>,
}

/// Finds every `alias: <needle>input: $var) @idempotent(key: "…")`, `needle` being a
/// mutation's name and its opening parenthesis.
fn find_fields(query: &str, needle: &str) -> Vec<AdjustField> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = query[from..].find(needle) {
        let start = from + pos;
        let before = query[..start].trim_end();
        let alias = before
            .strip_suffix(':')
            .map(|b| {
                b.trim_end()
                    .rsplit(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or("")
                    .to_owned()
            })
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| needle.trim_end_matches('(').to_owned());
        let args_start = start + needle.len();
        let Some(close) = query[args_start..].find(')') else {
            break;
        };
        let args = &query[args_start..args_start + close];
        let variable = args
            .split('$')
            .nth(1)
            .map(|v| {
                v.chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect()
            })
            .unwrap_or_default();
        let rest = query[args_start + close + 1..].trim_start();
        let key = rest
            .strip_prefix("@idempotent(")
            .and_then(|r| r.trim_start().strip_prefix("key:"))
            .and_then(|r| r.trim_start().strip_prefix('"'))
            .and_then(|r| r.split('"').next())
            .map(str::to_owned);
        out.push(AdjustField {
            alias,
            variable,
            key,
        });
        from = args_start + close;
    }
    out
}

fn find_input_variable(query: &str, field: &str) -> Option<String> {
    let pos = query.find(field)? + field.len();
    let args = &query[pos..pos + query[pos..].find(')')?];
    Some(
        args.split('$')
            .nth(1)?
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect(),
    )
}

fn user_error(field: Vec<String>, message: String, code: &str) -> Value {
    json!({"field": field, "message": message, "code": code})
}

/// The SKU of entry `i` of an input list, after the checks Shopify makes of every entry (a
/// known inventory item, the configured location); a failed check adds its user error.
fn entry_sku(
    cart: &Cart,
    entry: &Value,
    list: &str,
    i: usize,
    version: &str,
    errors: &mut Vec<Value>,
) -> Option<String> {
    let field = |f: &str| vec!["input".into(), list.to_owned(), i.to_string(), f.into()];
    let Some(sku) = entry["inventoryItemId"]
        .as_str()
        .and_then(|g| item_sku(cart, g))
    else {
        errors.push(user_error(
            field("inventoryItemId"),
            "The specified inventory item could not be found.".into(),
            "INVALID_INVENTORY_ITEM",
        ));
        return None;
    };
    if entry["locationId"].as_str() != Some(LOCATION_GID) {
        errors.push(user_error(
            field("locationId"),
            "The specified location could not be found.".into(),
            "INVALID_LOCATION",
        ));
        return None;
    }
    if level_for_write(cart, &sku, version).is_err() {
        let message = if list == "changes" {
            "The inventory item is not stocked at the location."
        } else {
            "The specified inventory item is not stocked at the location."
        };
        errors.push(user_error(
            field("locationId"),
            message.into(),
            "ITEM_NOT_STOCKED_AT_LOCATION",
        ));
        return None;
    }
    Some(sku)
}

fn adjust(cart: &mut Cart, input: &Value, version: &str) -> Value {
    let cfq_required = version >= "2026-04";
    let mut errors = Vec::new();
    if input["name"].as_str() != Some("available") {
        errors.push(user_error(
            vec!["input".into(), "name".into()],
            "The quantity name must be available".into(),
            "INVALID_QUANTITY_NAME",
        ));
    }
    let changes = input["changes"].as_array().cloned().unwrap_or_default();
    let mut planned = Vec::new();
    for (i, c) in changes.iter().enumerate() {
        let field = |f: &str| vec!["input".into(), "changes".into(), i.to_string(), f.into()];
        let Some(sku) = entry_sku(cart, c, "changes", i, version, &mut errors) else {
            continue;
        };
        let delta = c["delta"].as_i64().unwrap_or(0);
        let current = count_here(cart, &sku, version);
        let after = current.saturating_add(delta);
        if let Some(e) = compare_error(c, current, cfq_required, field("changeFromQuantity")) {
            errors.push(e);
        } else if after > MAX_QUANTITY {
            errors.push(user_error(
                field("delta"),
                format!("The quantity can't be higher than {MAX_QUANTITY}."),
                "INVALID_QUANTITY_TOO_HIGH",
            ));
        } else if after < -MAX_QUANTITY {
            errors.push(user_error(
                field("delta"),
                format!("The quantity can't be lower than -{MAX_QUANTITY}."),
                "INVALID_QUANTITY_TOO_LOW",
            ));
        } else {
            planned.push((sku, delta, after));
        }
    }
    if !errors.is_empty() {
        return json!({"inventoryAdjustmentGroup": null, "userErrors": errors});
    }
    let mut out = Vec::new();
    for (sku, delta, after) in planned {
        write_level(cart, sku, after);
        out.push(json!({"name": "available", "delta": delta, "quantityAfterChange": after}));
    }
    json!({"inventoryAdjustmentGroup": {"changes": out}, "userErrors": []})
}

/// The compare-and-swap check of one change: `changeFromQuantity` is required from `2026-04`
/// on adjusts and sets alike (`null` opts out), and a number other than the current count
/// refuses the change.
fn compare_error(
    change: &Value,
    current: i64,
    required: bool,
    field: Vec<String>,
) -> Option<Value> {
    match change.get("changeFromQuantity") {
        None if required => Some(user_error(
            field,
            "changeFromQuantity is required; pass null to opt out of the check.".into(),
            "INVALID_CHANGE_FROM_QUANTITY",
        )),
        Some(Value::Number(n)) if n.as_i64() != Some(current) => Some(user_error(
            field,
            "The specified compare quantity does not match the current quantity.".into(),
            "CHANGE_FROM_QUANTITY_STALE",
        )),
        _ => None,
    }
}

fn set(cart: &mut Cart, input: &Value, version: &str) -> Value {
    let cfq_required = version >= "2026-04";
    let mut errors = Vec::new();
    if input["name"].as_str() != Some("available") {
        errors.push(user_error(
            vec!["input".into(), "name".into()],
            "The quantity name must be available".into(),
            "INVALID_NAME",
        ));
    }
    let quantities = input["quantities"].as_array().cloned().unwrap_or_default();
    let mut planned = Vec::new();
    let mut named = std::collections::HashSet::new();
    for (i, q) in quantities.iter().enumerate() {
        let field = |f: &str| vec!["input".into(), "quantities".into(), i.to_string(), f.into()];
        let Some(sku) = entry_sku(cart, q, "quantities", i, version, &mut errors) else {
            continue;
        };
        let quantity = q["quantity"].as_i64().unwrap_or(i64::MIN);
        if quantity > MAX_QUANTITY {
            errors.push(user_error(
                field("quantity"),
                format!("The quantity can't be higher than {MAX_QUANTITY}."),
                "INVALID_QUANTITY_TOO_HIGH",
            ));
            continue;
        }
        if quantity < -MAX_QUANTITY {
            errors.push(user_error(
                field("quantity"),
                format!("The quantity can't be lower than -{MAX_QUANTITY}."),
                "INVALID_QUANTITY_TOO_LOW",
            ));
            continue;
        }
        // Shopify refuses a request naming one inventory item (at one location) twice.
        if !named.insert(sku.clone()) {
            errors.push(user_error(
                vec!["input".into(), "quantities".into()],
                "The combination of inventoryItemId and locationId must be unique.".into(),
                "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
            ));
            continue;
        }
        let current = count_here(cart, &sku, version);
        match compare_error(q, current, cfq_required, field("changeFromQuantity")) {
            Some(e) => errors.push(e),
            None => planned.push((sku, quantity, current)),
        }
    }
    if !errors.is_empty() {
        return json!({"inventoryAdjustmentGroup": null, "userErrors": errors});
    }
    let mut out = Vec::new();
    for (sku, quantity, current) in planned {
        write_level(cart, sku, quantity);
        out.push(json!({"name": "available", "delta": quantity - current, "quantityAfterChange": quantity}));
    }
    json!({"inventoryAdjustmentGroup": {"changes": out}, "userErrors": []})
}

/// The SKUs of a `sku:"A" OR sku:"B"` search; `None` for anything else. Read term by term
/// as Shopify's search grammar has it: within quotes a value is one string (`\"` and `\\`
/// escaped), so a SKU holding ` OR `, a colon or a parenthesis is one SKU (split at every
/// ` OR ` until 2026-12-05, such a SKU failed every lookup it was in).
fn parse_sku_search(q: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut rest = q.trim();
    loop {
        let v = rest.strip_prefix("sku:\"")?;
        let mut s = String::new();
        let mut chars = v.char_indices();
        let end = loop {
            match chars.next()? {
                (_, '\\') => s.push(chars.next()?.1),
                (i, '"') => break i,
                (_, c) => s.push(c),
            }
        };
        out.push(s);
        rest = v[end + 1..].trim_start();
        if rest.is_empty() {
            return Some(out);
        }
        rest = rest.strip_prefix("OR ")?.trim_start();
    }
}

fn read(cart: &mut Cart, variables: &Map<String, Value>, first: i64) -> Result<Value, String> {
    if !(1..=250).contains(&first) {
        return Err("first must be between 1 and 250".into());
    }
    let location = variables.get("location").and_then(Value::as_str);
    let filter = match variables.get("query").and_then(Value::as_str) {
        None => None,
        Some(q) => Some(parse_sku_search(q).ok_or("unsupported search query")?),
    };
    let after = variables
        .get("after")
        .and_then(Value::as_str)
        .map(|c| c.strip_prefix("sku:").unwrap_or("").to_owned());
    let mut skus: Vec<String> = cart
        .items
        .keys()
        .filter(|s| after.as_ref().is_none_or(|a| s.as_str() > a.as_str()))
        // Shopify's search ignores case (`sku:"tee-m"` finds `TEE-M`): the adapter must
        // take only the SKU it asked for.
        .filter(|s| {
            filter
                .as_ref()
                .is_none_or(|f| f.iter().any(|x| x.to_lowercase() == s.to_lowercase()))
        })
        .cloned()
        .collect();
    let more = skus.len() > first as usize;
    skus.truncate(first as usize);
    let nodes: Vec<Value> = skus
        .iter()
        .map(|sku| {
            let id = cart.id_of(sku);
            let stocked = !cart.shopify.not_stocked.contains_key(sku)
                && cart.shopify.deactivated_at.is_none();
            let level = (location == Some(LOCATION_GID) && stocked).then(
                || json!({"quantities": [{"name": "available", "quantity": cart.items[sku]}]}),
            );
            // A plain item is its product's one variant, titled `Default Title`.
            let product = cart.parents.get(sku).unwrap_or(sku);
            let options = cart.options_of(sku);
            let (title, selected) = match options.is_empty() {
                true => (
                    "Default Title".to_owned(),
                    vec![json!({"name": "Title", "value": "Default Title"})],
                ),
                false => (
                    options
                        .iter()
                        .map(|(_, v)| v.as_str())
                        .collect::<Vec<_>>()
                        .join(" / "),
                    options
                        .iter()
                        .map(|(n, v)| json!({"name": n, "value": v}))
                        .collect(),
                ),
            };
            json!({"sku": sku, "title": title, "selectedOptions": selected,
                   "product": {"title": cart.name_of(product)},
                   "inventoryItem": {"id": item_gid(id), "tracked": true, "inventoryLevel": level}})
        })
        .collect();
    Ok(json!({
        "nodes": nodes,
        "pageInfo": {"hasNextPage": more, "endCursor": skus.last().map(|s| format!("sku:{s}"))},
    }))
}

/// `nodes(ids:) { ... on InventoryItem { id inventoryLevel(locationId:) { id } } }`: per id,
/// the inventory item with its level at `location` when it is active there (only active
/// levels are answered without `includeInactive: true`, as on Shopify), `null` when it is
/// not; `null` for an id naming no item of the catalogue.
fn levels(cart: &Cart, variables: &Map<String, Value>, ids: Vec<Value>) -> Vec<Value> {
    let location = variables.get("location").and_then(Value::as_str);
    ids.iter()
        .map(|id| {
            let gid = id.as_str()?;
            let sku = item_sku(cart, gid)?;
            let stocked = location == Some(LOCATION_GID)
                && !cart.shopify.not_stocked.contains_key(&sku)
                && cart.shopify.deactivated_at.is_none();
            let number = gid.rsplit('/').next().unwrap_or("");
            let level = stocked.then(|| {
                json!({"id": format!("gid://shopify/InventoryLevel/{number}?inventory_item_id={number}")})
            });
            Some(json!({"id": gid, "inventoryLevel": level}))
        })
        .map(|node| node.unwrap_or(Value::Null))
        .collect()
}
