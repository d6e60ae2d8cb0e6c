//! The `shopify` adapter: Shopify Admin GraphQL API.
//!
//! Follows these public pages (read for this adapter; nothing copied):
//! - `inventoryAdjustQuantities` and its `@idempotent(key:)` directive — optional from
//!   2026-01, mandatory from 2026-04:
//!   <https://shopify.dev/docs/api/admin-graphql/latest/mutations/inventoryAdjustQuantities>,
//!   <https://shopify.dev/changelog/adding-idempotency-for-inventory-adjustments-and-refund-mutations>,
//!   <https://shopify.dev/changelog/making-idempotency-mandatory-for-inventory-adjustments-and-refund-mutations>,
//!   <https://shopify.dev/docs/api/usage/idempotent-requests>
//! - `inventorySetQuantities` with compare-and-swap: `changeFromQuantity` on each quantity
//!   and, like adjustments, `@idempotent(key:)` (mandatory from 2026-04, same changelog)
//!   (2026-01 on; required from 2026-04, `null` opts out; a mismatch is
//!   `CHANGE_FROM_QUANTITY_STALE`), replacing `compareQuantity`/`ignoreCompareQuantity`:
//!   <https://shopify.dev/docs/api/admin-graphql/latest/mutations/inventorySetQuantities>,
//!   <https://shopify.dev/docs/api/admin-graphql/latest/input-objects/InventoryQuantityInput>,
//!   <https://shopify.dev/changelog/compare-and-swap-redesign-for-inventory-set-quantities>
//! - calculated query cost, `extensions.cost.throttleStatus` and the `THROTTLED` error:
//!   <https://shopify.dev/docs/apps/build/apis/graphql-admin/rate-limits>,
//!   <https://shopify.dev/docs/api/usage/rate-limits>
//! - `productVariants` (search `sku:`) → `inventoryItem { id tracked inventoryLevel(locationId:) }`;
//!   Get QOH skips untracked inventory (`tracked: false`), and takes no count of a variant not
//!   stocked at the location, listing it by SKU in its `not_applied` with the reason where
//!   the store has the item and no other variant of the SKU is counted there:
//!   <https://shopify.dev/docs/api/admin-graphql/latest/objects/InventoryItem>.
//! - a variant's `title`, `selectedOptions { name value }` and `product { title }`, which
//!   Get QOH gives the items it creates:
//!   <https://shopify.dev/docs/api/admin-graphql/latest/objects/ProductVariant>,
//!   <https://shopify.dev/docs/api/admin-graphql/latest/objects/SelectedOption>.
//!
//! # What it publishes
//!
//! Shopify's `available` quantity at the cart's `location_id` (DESIGN §8): setting `on_hand`
//! while orders are committed would subtract them twice.
//!
//! # How it updates
//!
//! - Deltas ([`UpdateMode::RelativeKeyed`]): one aliased `inventoryAdjustQuantities` per send
//!   group in one document, each with `@idempotent(key: <the group's key>)`, so a re-send after
//!   a lost answer is answered from Shopify's memory and applies nothing twice. At most
//!   [`MAX_MUTATIONS_PER_REQUEST`] per request, under the 1000-point single-query limit with
//!   room to spare: a mutation field costs 10, and the objects its answer selects
//!   (`inventoryAdjustmentGroup`, its `changes`, `userErrors`) may cost one each on top (a
//!   request over the limit is refused whole, `MAX_COST_EXCEEDED`).
//! - Sets: one `inventorySetQuantities` per at most [`MAX_SETS_PER_REQUEST`] quantities (our
//!   own bound: the reference names none), `changeFromQuantity` = the expected count or
//!   `null`. Shopify applies all or nothing: items it names in `userErrors` get their outcome
//!   (a stale compare is a [`SendOutcome::Conflict`] with the count read back) and the others
//!   are sent once more without them. Each request carries `@idempotent(key:)` made from its
//!   sets' keys; a request whose answer was lost is remembered, and goes again exactly as it
//!   was (so under the same key, answered from Shopify's memory if it landed) when its sets
//!   come again, whatever other sets come with them.
//! - `IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED` (a key sent again whose earlier attempt failed:
//!   nothing applied) sends the change again at once under the next of up to
//!   3 keys derived from its own, the same each time, so a later re-send
//!   walks them and finds the one that landed.
//! - A variant not stocked at the cart's location (its `inventoryLevel(locationId:)` null:
//!   never stocked there, or deactivated) is never written, by a sale or by Send QOH, and
//!   never stocked there by the adapter (no `inventoryActivate`: where an item is stocked is
//!   the owner's choice): the change fails by name (`ITEM_NOT_STOCKED_AT_LOCATION`), saying
//!   to stock it there in Shopify admin and retry. The lookup finds it so for a SKU; for an
//!   item linked by `remote_ref`, which is never looked up, a check before the write does:
//!   one `nodes(ids:) { ... on InventoryItem { id inventoryLevel(locationId:) { id } } }`
//!   for the call's linked items (up to 250 a query, 2 points each), which without
//!   `includeInactive: true` answers only an active level. Shopify takes such writes silently
//!   from 2026-04 for a deactivated level, which keeps and takes quantities, and from 2026-10
//!   at any location:
//!   <https://shopify.dev/changelog/add-isactive-field-to-inventorylevel>,
//!   <https://shopify.dev/changelog/add-includeinactive-argument-to-inventorylevels-and-inventorylevel-fields>,
//!   <https://shopify.dev/changelog/removal-of-itemnotstockedatlocation-error>,
//!   <https://shopify.dev/docs/api/admin-graphql/latest/mutations/inventoryActivate>. Before
//!   2026-04 no check is asked: Shopify refuses the write `ITEM_NOT_STOCKED_AT_LOCATION`
//!   itself, and the change fails by name all the same. Get QOH takes no count for it.
//!   Where it is still written (from 2026-04): a SKU or linked item deactivated at the
//!   location within the quarter hour a lookup or check that found it stocked there is
//!   trusted. Its writes land on the inactive level and are reported applied, the shop's
//!   count that sells unchanged, until the next lookup or check. Shopify's answer to the write does not say the level was
//!   inactive (an adjustment's `changes` and a set's group name no level's state), so the
//!   adapter cannot tell; an owner deactivating an item at the cart's location should expect
//!   up to a quarter hour of its changes to go there. An id naming no inventory item (the
//!   check answers `null`) is written as before: Shopify refuses it `INVALID_INVENTORY_ITEM`.
//!   When a lookup or check finds no level at the location and no item of the call has one,
//!   the adapter asks whether the shop has the location at all, and whether it is active
//!   (`location(id:) { id isActive deactivatedAt }`): if the shop has none, the cart pauses as
//!   for `INVALID_LOCATION`; if the owner deactivated it in Shopify admin (every level there
//!   inactive, which from 2026-04 still takes writes), the cart pauses too, with its sales
//!   waiting and nothing written, the message naming the location and saying to reactivate
//!   it or set another `location_id` (until 2026-12-04 each sale was bypassed as not stocked).
//!   **Grant the token the `read_locations` access scope**: `isActive` and `deactivatedAt` need
//!   it. Without it Shopify answers `ACCESS_DENIED`, the adapter asks the `id` alone, and a
//!   deactivated location cannot be told from items not stocked there: each sale fails as
//!   not stocked, as before. The adapter never activates an item or a location, nor uses
//!   another location than the cart's.
//! - SKU → inventory item: a `productVariants` search, cached for a quarter hour; a
//!   `remote_ref` (`gid://shopify/InventoryItem/N` or `N`) skips the search (its level at
//!   the location is checked, above; found stocked, trusted for a quarter hour too). A SKU on no
//!   variant, or on several, fails that item with a clear message. A cached item Shopify
//!   answers `INVALID_INVENTORY_ITEM` (its variant deleted, perhaps created again) is
//!   forgotten and the change retried, so the SKU is looked up afresh.
//! - `INVALID_LOCATION` before any change of the call applied (the cart's `location_id` is not the shop's),
//!   and HTTP 402 (a frozen shop), 423 (a locked one) or 404 (no Admin API at the url and
//!   version), pause the cart ([`CartError::Unauthorized`]) with its sales waiting.
//!   `api_version` must be `2026-01` or later ([`MIN_API_VERSION`]), written `YYYY-MM`, or
//!   `unstable`.
//! - A mutation answered HTTP 500, or with a top-level error not naming a wrong request
//!   (`INTERNAL_SERVER_ERROR`: "an internal error while processing the request"), may have
//!   been made: a lost answer ([`CartError::Ambiguous`]), sent again under its key. An answer
//!   without the field's result is one too (for a read, a try again).
//! - Quantities: a set outside `0..=1,000,000,000` or a delta beyond ±1,000,000,000 fails
//!   locally; Shopify's `INVALID_QUANTITY_TOO_HIGH`/`_TOO_LOW` are reported as failures.
//! - User errors that mean "try again" are [`SendOutcome::Retry`], never a failure (which
//!   would bypass the change): for an adjustment `ADJUST_QUANTITIES_FAILED`,
//!   `SERVICE_UNAVAILABLE` and `IDEMPOTENCY_CONCURRENT_REQUEST`, for a set
//!   `IDEMPOTENCY_CONCURRENT_REQUEST` and `IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED`. A change goes
//!   again under the same key (a "try again" says nothing of an earlier attempt whose answer
//!   was lost, which a new key could apply twice) until Shopify says an attempt under it
//!   failed (`IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED`, or an adjustment's own
//!   `ADJUST_QUANTITIES_FAILED`, which Shopify would answer again to the same key); then under
//!   the next derived key, which the adapter remembers per change:
//!   <https://shopify.dev/docs/api/admin-graphql/latest/enums/InventoryAdjustQuantitiesUserErrorCode>,
//!   <https://shopify.dev/docs/api/admin-graphql/latest/enums/InventorySetQuantitiesUserErrorCode>.
//!   Any other code fails the item.
//! - A call refused as too large (HTTP 413, from a proxy before the shop with a body limit)
//!   applied nothing: it goes again in halves, down to single changes, each of which, still
//!   refused, is tried again later (and bypassed only after the controller's attempts).
//! - Throttling: a `THROTTLED` answer is [`CartError::RateLimited`] with the wait
//!   `(requested − currentlyAvailable) / restoreRate`; before a request the adapter also waits
//!   (at most [`MAX_PACING`]) when the last `throttleStatus` says the bucket cannot pay for it.
//!
//! The token goes in `X-Shopify-Access-Token` (a sensitive header), never in a message (one
//! quoted back, by a proxy echoing the request, is scrubbed from the adapter's errors).

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
use reqwest::Url;
use serde_json::{json, Value};
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::{Duration, Instant};

/// The API version used unless the cart says `api_version`.
pub const DEFAULT_API_VERSION: &str = "2026-04";
/// The oldest API version the adapter works with (see [`ShopifyAdapter::new`]).
pub const MIN_API_VERSION: &str = "2026-01";
/// Aliased adjust mutations per HTTP request: 70 at up to 14 points each stay under 1000.
pub const MAX_MUTATIONS_PER_REQUEST: usize = 70;
/// Quantities per `inventorySetQuantities`.
pub const MAX_SETS_PER_REQUEST: usize = 250;
/// The largest count the adapter publishes.
pub const MAX_QUANTITY: i64 = 1_000_000_000;
/// The longest the adapter waits for the cost bucket before a request.
pub const MAX_PACING: Duration = Duration::from_secs(10);
const SKUS_PER_LOOKUP: usize = 50;
/// Variants per read page: each node selects four objects (the variant, its inventory item,
/// the level, the quantities list), so a page costs `2 + 4 × first` points; 200 keep it at
/// 802, under the single-query limit of 1,000 (250 would be 1,002, refused whole).
const READ_PAGE: i64 = 200;
/// The calculated cost of a read page of `first` variants.
fn read_cost(first: i64) -> f64 {
    (2 + 4 * first) as f64
}
/// Variants per listing page (Get QOH, the drift report, the preflight): each node selects
/// six objects (a look-up's four, its `product` for the title and its `selectedOptions`), so a
/// page costs `2 + 6 × first` points; 166 keep it at 998, under the single-query limit. The
/// names cost a listing a fifth more pages (200 a page until 2026-12-05).
const LIST_PAGE: i64 = 166;
/// The calculated cost of a listing page of `first` variants.
fn list_cost(first: i64) -> f64 {
    (2 + 6 * first) as f64
}
const MUTATION_COST: f64 = 10.0;

/// How long a SKU's inventory item, once looked up, is used without looking it up again. An
/// owner who moves a SKU to another variant (a product made again, the old one's SKUs
/// renamed) leaves the old variant in place, so Shopify answers no error: a sale would go on
/// to the old variant, for the controller's life, and the new one oversell. A lookup a SKU
/// every quarter hour (batched, as every lookup) bounds that.
const IDS_FRESH: Duration = Duration::from_secs(15 * 60);

/// The Shopify adapter of one cart.
pub struct ShopifyAdapter {
    endpoint: Url,
    location: String,
    api_version: String,
    client: Client,
    /// SKU → inventory item gid, and until when it is used without a lookup ([`IDS_FRESH`]
    /// after the lookup that found it).
    ids: Mutex<HashMap<String, (String, Instant)>>,
    /// SKUs found on more than one variant.
    duplicates: Mutex<HashSet<String>>,
    /// SKUs whose variants, found, are none of them stocked at the cart's location.
    not_stocked: Mutex<HashSet<String>>,
    /// Inventory items linked by `remote_ref` found stocked (an active level) at the cart's
    /// location, and until when that is trusted without asking again ([`IDS_FRESH`], as a
    /// SKU's lookup). An item found not stocked is not remembered: once the owner stocks it,
    /// the operator's retry asks again and goes.
    linked_here: Mutex<HashMap<String, Instant>>,
    /// The last throttle status: (available, maximum, restore rate, when).
    budget: Mutex<Option<(f64, f64, f64, Instant)>>,
    /// The set keys of each `inventorySetQuantities` request whose answer was lost (oldest
    /// first, at most [`LOST_REMEMBERED`]): sent again, such a request goes as it was, so under
    /// the same key, whatever other sets come with it.
    lost_sets: Mutex<Vec<Vec<String>>>,
    /// Per change key (a send group's, or a set request's), the first generation of key
    /// ([`generation_key`]) not known to have failed: a re-send starts there, so a change
    /// Shopify failed under several keys still gets a new one each time.
    next_generation: Mutex<HashMap<String, u32>>,
    /// The inventory items this adapter's Send QOH set, by SKU.
    set_once: common::SetOnce,
    /// Kept to scrub from what the shop (or a proxy before it) answers: an integrator may use
    /// the adapter alone, without the registry's scrubbing.
    token: Secret,
}

/// How many lost set requests an adapter remembers.
const LOST_REMEMBERED: usize = 64;

impl fmt::Debug for ShopifyAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ShopifyAdapter")
            .field("endpoint", &self.endpoint.as_str())
            .field("location", &self.location)
            .field("token", &"***")
            .finish_non_exhaustive()
    }
}

/// A Shopify location id as a gid (`123` → `gid://shopify/Location/123`).
fn location_gid(id: &str) -> String {
    if id.starts_with("gid://") {
        id.to_owned()
    } else {
        format!("gid://shopify/Location/{id}")
    }
}

/// The inventory item a `remote_ref` names: `gid://shopify/InventoryItem/<digits>` or the
/// digits alone; `None` for any other form (a variant's id, a padded or empty one).
pub(crate) fn item_gid(remote_ref: &str) -> Option<String> {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match remote_ref.strip_prefix("gid://shopify/InventoryItem/") {
        Some(n) if digits(n) => Some(remote_ref.to_owned()),
        None if digits(remote_ref) => Some(format!("gid://shopify/InventoryItem/{remote_ref}")),
        _ => None,
    }
}

/// One key for a request carrying the changes keyed `keys`: the key itself for one, else a
/// digest of them all (128 bits, order-blind, UUID-shaped), the same for the same changes in
/// every build (FNV-1a written out here: a re-send after an upgrade must find the key a lost
/// attempt went under).
fn request_key<'a>(keys: impl Iterator<Item = &'a str>) -> String {
    let mut keys: Vec<&str> = keys.collect();
    if let [one] = keys[..] {
        return one.to_owned();
    }
    keys.sort_unstable();
    let half = |salt: u8| {
        let mut h: u64 = 0xcbf2_9ce4_8422_2325;
        for b in std::iter::once(salt).chain(
            keys.iter()
                .flat_map(|k| k.bytes().chain(std::iter::once(0))),
        ) {
            h = (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        h
    };
    let (a, b) = (half(1), half(2));
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

/// Shopify's answer to a mutation sent again under a key whose earlier attempt failed
/// ("retry with a new idempotency key"): nothing was applied under it.
const PREVIOUS_ATTEMPT_FAILED: &str = "IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED";

/// Shopify's answer to a mutation sent under an idempotency key used before with other
/// parameters: nothing applied by it.
const KEY_PARAMETER_MISMATCH: &str = "IDEMPOTENCY_KEY_PARAMETER_MISMATCH";

/// How many keys a change is tried under in one call (each after Shopify said
/// [`PREVIOUS_ATTEMPT_FAILED`] of the one before); a change still refused so is a
/// [`SendOutcome::Retry`], never a failure, and starts at the next key when sent again.
const KEY_GENERATIONS: u32 = 4;

/// How many change keys [`ShopifyAdapter`] remembers a generation for.
const GENERATIONS_REMEMBERED: usize = 10_000;

/// `key`'s `generation`-th key: itself, then keys derived from it alone, so a later re-send
/// walks the same keys, and one that landed with its answer lost is answered from memory.
fn generation_key(key: &str, generation: u32) -> String {
    match generation {
        0 => key.to_owned(),
        g => request_key([key, &format!("generation {g}")].into_iter()),
    }
}

/// What an answer makes of the key it came under.
#[derive(Clone, Copy, PartialEq, Eq)]
enum KeyNote {
    /// Shopify said an earlier attempt under it failed ([`PREVIOUS_ATTEMPT_FAILED`]): the
    /// change goes under the next generation from now on.
    Spent,
    /// Sent again under it: still being processed, or not applied by this request ("try
    /// again", which says nothing of an earlier attempt whose answer was lost and that may
    /// have landed: a new key would apply it twice; if the key is spent, Shopify says so).
    Keep,
    /// Refused for a cause the owner fixes, by changing what is sent (the cart's location, a
    /// SKU's inventory item) or the shop: nothing applied under the key, which Shopify now
    /// holds as failed. A later send goes under the next generation, not sent again now; under
    /// the same key with other parameters Shopify would refuse it for good
    /// (`IDEMPOTENCY_KEY_PARAMETER_MISMATCH`).
    Refused,
    /// Not applied under it, by Shopify's own account (`ADJUST_QUANTITIES_FAILED`: "try
    /// again"): the adjustment's result under its key, as an attempt still being processed
    /// is answered `IDEMPOTENCY_CONCURRENT_REQUEST` and one applied with its success. Shopify
    /// answers a key sent again with the original operation's result, and its adjustments
    /// have no `IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED` to say so: the change goes again later
    /// (a [`SendOutcome::Retry`]) under the next generation. (Until 2026-12-04 it went under
    /// the same key, got the failure again at every try, and was bypassed after its attempts.)
    FailedUnder,
    /// Applied: nothing to remember.
    Done,
}

/// What `payload` (one mutation's result) makes of its key.
fn key_note(payload: &Value) -> KeyNote {
    let codes: Vec<&str> = payload["userErrors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["code"].as_str())
        .collect();
    // A key sent before with other parameters (the cart's `location_id` corrected after
    // INVALID_LOCATION, a SKU's inventory item looked up afresh; the adapter that noted the
    // key refused was rebuilt or restarted since): nothing applied by this request, and
    // whatever the earlier one did, it did to another inventory level: as for a failed
    // attempt, the next generation.
    if codes.contains(&PREVIOUS_ATTEMPT_FAILED) || codes.contains(&KEY_PARAMETER_MISMATCH) {
        KeyNote::Spent
    } else if codes.contains(&"ADJUST_QUANTITIES_FAILED") {
        KeyNote::FailedUnder
    } else if codes
        .iter()
        .any(|c| ADJUST_TRY_AGAIN.contains(c) || SET_TRY_AGAIN.contains(c))
    {
        KeyNote::Keep
    } else if !codes.is_empty() {
        KeyNote::Refused
    } else {
        KeyNote::Done
    }
}

/// The user-error code of a change whose cart setting (`location_id`) the shop does not have.
const INVALID_LOCATION: &str = "INVALID_LOCATION";
/// The user-error code of an inventory item the shop no longer has (its variant deleted).
const INVALID_INVENTORY_ITEM: &str = "INVALID_INVENTORY_ITEM";

/// The user-error code of an inventory item with no inventory level at the cart's location
/// (Shopify's adjust and set enums, until `2026-10`, which drops it: from then a write there
/// is taken, so the adapter's own check before a write is what keeps it from going there).
const ITEM_NOT_STOCKED_AT_LOCATION: &str = "ITEM_NOT_STOCKED_AT_LOCATION";

/// Whether `payload` (one mutation's result) carries the user error `code`.
fn has_code(payload: &Value, code: &str) -> bool {
    payload["userErrors"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["code"] == code)
}

/// One change's answer in [`ShopifyAdapter::adjust_request`].
type Adjusted = (SendOutcome, KeyNote, Option<&'static str>);

/// A GraphQL string literal.
fn gql_string(s: &str) -> String {
    serde_json::to_string(s).expect("a string serialises")
}

/// A Shopify search term for one SKU: `sku:"…"` with `"` and `\` escaped.
fn sku_term(sku: &str) -> String {
    let mut out = String::from("sku:\"");
    for c in sku.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

const READ_QUERY: &str =
    "query InvSyncRead($first: Int!, $after: String, $query: String, $location: ID!) {
  productVariants(first: $first, after: $after, query: $query) {
    nodes { sku inventoryItem { id tracked inventoryLevel(locationId: $location) {
      quantities(names: [\"available\"]) { name quantity } } } }
    pageInfo { hasNextPage endCursor }
  }
}";

/// [`READ_QUERY`] with what Get QOH gives an item it creates (`CataloguePage::details`): the
/// variant's `title` (its option values joined by " / ", `Default Title` for a product
/// without options), its `selectedOptions { name value }` and its product's `title`.
const LIST_QUERY: &str =
    "query InvSyncList($first: Int!, $after: String, $query: String, $location: ID!) {
  productVariants(first: $first, after: $after, query: $query) {
    nodes { sku title selectedOptions { name value } product { title }
      inventoryItem { id tracked inventoryLevel(locationId: $location) {
      quantities(names: [\"available\"]) { name quantity } } } }
    pageInfo { hasNextPage endCursor }
  }
}";

/// The title Shopify gives the one variant of a product without options (and the value of
/// its one option, `Title`): no option of the owner's.
const DEFAULT_TITLE: &str = "Default Title";

/// What Get QOH gives an item it creates of a listed variant (`CataloguePage::details`):
/// its product's title and the variant's own (`T-shirt - M / Red`), and its option pairs,
/// without Shopify's `Default Title`.
fn details_of(node: &Value) -> (String, Vec<(String, String)>) {
    let product = node["product"]["title"].as_str().unwrap_or("");
    let options: Vec<(String, String)> = node["selectedOptions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| Some((o["name"].as_str()?, o["value"].as_str()?)))
        .filter(|(_, v)| *v != DEFAULT_TITLE)
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    let title = node["title"].as_str().filter(|t| *t != DEFAULT_TITLE);
    let description = match title {
        Some(t) => common::variant_description(product, &[t]),
        None => product.trim().to_owned(),
    };
    (description, options)
}

/// Whether the shop has the cart's location, and whether it is active
/// ([`ShopifyAdapter::location_state`]). `isActive` and `deactivatedAt` need the
/// `read_locations` access scope; without it Shopify answers `ACCESS_DENIED`, and
/// [`LOCATION_ID_QUERY`] is asked instead.
const LOCATION_QUERY: &str = "query InvSyncLocation($location: ID!) { location(id: $location) { id isActive deactivatedAt } }";
/// Whether the shop has the cart's location: its `id` alone, which the inventory scopes read.
const LOCATION_ID_QUERY: &str =
    "query InvSyncLocation($location: ID!) { location(id: $location) { id } }";
/// Their calculated cost: one object.
const LOCATION_COST: f64 = 1.0;

/// Added to each "not stocked" failure of a call none of whose items is stocked at the
/// location, when the token may not read whether the location is active.
const UNREAD_LOCATION: &str = "; nor is any other item sent with it, as when the location \
    itself is deactivated, which this token cannot read: grant the app the read_locations \
    access scope, and such a location then pauses the cart instead";

/// What [`ShopifyAdapter::location_state`] found of the cart's location.
#[derive(Debug, Clone, PartialEq, Eq)]
enum LocationState {
    /// The shop has no location of that id.
    Missing,
    /// Deactivated in Shopify admin (`isActive: false`, or a `deactivatedAt`): when, if said.
    Inactive(Option<String>),
    /// Active, or not known otherwise.
    Usable,
    /// The token may not read whether it is active (no `read_locations`); the shop has it.
    Unread,
}

/// Whether each inventory item linked by `remote_ref` has an *active* level at the cart's
/// location ([`ShopifyAdapter::check_linked`]). `inventoryLevel(locationId:)` without
/// `includeInactive: true` answers only an active level (changelog "Add includeInactive
/// argument to inventoryLevels and inventoryLevel fields", 2026-04): `null` is "not stocked
/// there", never stocked or deactivated alike, as for the SKU lookup. Only the level's `id`
/// is asked, the cheapest thing that says it exists.
const LEVELS_QUERY: &str = "query InvSyncLevels($ids: [ID!]!, $location: ID!) {
  nodes(ids: $ids) { ... on InventoryItem { id inventoryLevel(locationId: $location) { id } } }
}";
/// Inventory items per [`LEVELS_QUERY`]: Shopify refuses an input list longer than 250
/// (<https://shopify.dev/docs/api/usage/limits>, "Input limits").
const LEVELS_PER_QUERY: usize = 250;
/// The calculated cost of [`LEVELS_QUERY`] for `n` items: one point for each item and one for
/// its level, at most 500, half the single-query limit.
fn levels_cost(n: usize) -> f64 {
    (2 * n) as f64
}

impl ShopifyAdapter {
    /// How it sends changes.
    pub(crate) const UPDATE_MODE: UpdateMode = UpdateMode::RelativeKeyed;

    /// An adapter for the shop whose admin base is `url` (e.g. `https://example.myshopify.com/`;
    /// requests go to `{url}admin/api/{api_version}/graphql.json`), the location `location_id`
    /// (`123` or `gid://shopify/Location/123`), with the Admin API access token `token`.
    pub fn new(
        url: &str,
        token: Secret,
        location_id: &str,
        api_version: Option<&str>,
        timeout: Duration,
    ) -> Result<Self> {
        let base = common::base_url(url, "shopify")?;
        let api_version = api_version.unwrap_or(DEFAULT_API_VERSION).trim().to_owned();
        // "All supported API versions have a date-based (YYYY-MM) or unstable handle"
        // (Shopify's `ApiVersion`): `2026-4` was taken, and its version check skipped.
        let dated = api_version.len() == 7
            && api_version.bytes().enumerate().all(|(i, b)| {
                if i == 4 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        if !dated && api_version != "unstable" {
            return Err(Error::invalid(
                "shopify api_version must look like 2026-04 (or unstable)",
            ));
        }
        // `@idempotent` (the only thing keeping a re-sent sale from applying twice) and
        // `changeFromQuantity`, which every document this adapter writes carries, exist from
        // 2026-01: under an older version each of them fails GraphQL validation, and every
        // change would be bypassed as rejected.
        if dated && api_version.as_str() < MIN_API_VERSION {
            return Err(Error::invalid(format!(
                "shopify api_version {api_version} is older than {MIN_API_VERSION}, the first \
                 with the @idempotent directive and changeFromQuantity this adapter sends"
            )));
        }
        if location_id.trim().is_empty() {
            return Err(Error::invalid("shopify location_id is required"));
        }
        // Any other text names no location: each sale would be refused for it.
        let number = location_id.trim();
        let number = number
            .strip_prefix("gid://shopify/Location/")
            .unwrap_or(number);
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::invalid(
                "shopify location_id must be a location's number (123, as in the location's \
                 admin address) or gid://shopify/Location/123",
            ));
        }
        let endpoint = base
            .join(&format!("admin/api/{api_version}/graphql.json"))
            .map_err(|e| Error::invalid(format!("shopify url: {e}")))?;
        let mut headers = HeaderMap::new();
        common::secret_header(
            &mut headers,
            "x-shopify-access-token",
            token.expose(),
            "shopify token",
        )?;
        Ok(ShopifyAdapter {
            endpoint,
            location: location_gid(location_id.trim()),
            api_version,
            client: common::client(headers, timeout, "shopify")?,
            ids: Mutex::new(HashMap::new()),
            duplicates: Mutex::new(HashSet::new()),
            not_stocked: Mutex::new(HashSet::new()),
            linked_here: Mutex::new(HashMap::new()),
            budget: Mutex::new(None),
            lost_sets: Mutex::new(Vec::new()),
            next_generation: Mutex::new(HashMap::new()),
            set_once: Default::default(),
            token,
        })
    }

    /// The GraphQL endpoint requests go to.
    pub fn endpoint(&self) -> &str {
        self.endpoint.as_str()
    }

    /// Why a change of `sku` (to inventory item `gid`, when known) was not sent, and what its
    /// owner does: a variant not stocked at the cart's location.
    ///
    /// The adapter never stocks it there itself (`inventoryActivate`), not even for Send QOH:
    /// which items a location stocks is the owner's choice (a shop may stock an item only at a
    /// warehouse, or a fulfilment service's location, where activating it elsewhere can
    /// deactivate it there), an activation from 2026-04 brings back the quantities a
    /// deactivated level kept, and a wrong guess puts stock on sale at a location that does
    /// not hold it. A clear failure (bypassed, rule 10) is retried by the operator once the
    /// owner has chosen. (`inventoryActivate`:
    /// <https://shopify.dev/docs/api/admin-graphql/latest/mutations/inventoryActivate>;
    /// changelog "inventoryActivate now preserves available quantity":
    /// <https://shopify.dev/changelog/inventoryactivate-now-preserves-available-quantity>.)
    fn not_stocked_message(&self, sku: &str, gid: Option<&str>) -> String {
        format!(
            "sku {sku}: its Shopify variant{} is not stocked at the cart's location {} \
             ({ITEM_NOT_STOCKED_AT_LOCATION}); nothing was sent, and the adapter never stocks \
             an item at a location itself: in Shopify admin, open the variant's inventory and \
             stock it at that location (or set the item's web fields to not sync with this \
             cart), then retry the change",
            gid.map(|g| format!(" (inventory item {g})"))
                .unwrap_or_default(),
            self.location
        )
    }

    /// The cart's error for a `location_id` the shop does not have.
    fn no_location(&self) -> CartError {
        CartError::Unauthorized(format!(
            "shopify has no location {} (or it is not active): check the cart's location_id",
            self.location
        ))
    }

    /// The cart's error for a location deactivated in Shopify admin: every item's level there
    /// is inactive, so each would otherwise fail as not stocked (bypassed), and from 2026-04
    /// Shopify takes writes at an inactive level, so nothing is written there. `since` is
    /// Shopify's `deactivatedAt`.
    fn inactive_location(&self, since: Option<&str>) -> CartError {
        CartError::Unauthorized(format!(
            "shopify location {} is deactivated{}: nothing is sent to it; reactivate it in \
             Shopify admin (Settings > Locations), or set another location_id on the cart",
            self.location,
            since.map(|s| format!(" (since {s})")).unwrap_or_default()
        ))
    }

    /// Whether the shop has the cart's location, and whether it is active.
    ///
    /// `isActive` and `deactivatedAt` need the `read_locations` access scope (changelog "The
    /// location object requires read_locations scope", 2024-07; the Location object's
    /// reference); the inventory scopes the adapter needs read only its `id` (changelog
    /// "Location ID Queryable with Inventory Scopes",
    /// <https://shopify.dev/changelog/location-id-queryable-with-inventory-scopes>). A token
    /// without it is answered `ACCESS_DENIED` in `errors` ("Access denied for isActive field.
    /// Required access: ..."; changelog "New error messages for GraphQL operations without
    /// necessary access scopes"), and since `isActive` is non-null its `location` comes back
    /// `null` beside the error, which must not be read as "no such location": the `id` alone is
    /// asked then, as before 2026-12-04, and a deactivated location is not told apart from
    /// items not stocked there. A token refused even that says nothing of the location:
    /// usable, as far as anyone knows.
    fn location_state(&self) -> std::result::Result<LocationState, CartError> {
        let variables = json!({ "location": self.location });
        let data = match self.graphql(LOCATION_QUERY, variables.clone(), LOCATION_COST, false) {
            Ok(data) => data,
            // (An error's message names its codes.)
            Err(CartError::Unauthorized(m)) if m.contains("ACCESS_DENIED") => {
                return match self.graphql(LOCATION_ID_QUERY, variables, LOCATION_COST, false) {
                    Ok(data) if data.get("location").is_some_and(Value::is_null) => {
                        Ok(LocationState::Missing)
                    }
                    Ok(_) => Ok(LocationState::Unread),
                    Err(CartError::Unauthorized(_)) => Ok(LocationState::Usable),
                    Err(e) => Err(e),
                };
            }
            Err(CartError::Unauthorized(_)) => return Ok(LocationState::Usable),
            Err(e) => return Err(e),
        };
        let location = match data.get("location") {
            Some(Value::Null) => return Ok(LocationState::Missing),
            Some(l) => l,
            None => return Ok(LocationState::Usable),
        };
        let since = location["deactivatedAt"]
            .as_str()
            .filter(|s| !s.is_empty())
            .map(str::to_owned);
        if location["isActive"] == false || since.is_some() {
            return Ok(LocationState::Inactive(since));
        }
        Ok(LocationState::Usable)
    }

    /// Forgets `sku`'s cached inventory item when it is `gid` and the change did not name it
    /// by `remote_ref`: the next change of the SKU looks it up afresh.
    /// When it did name it so, forgets that the item was found stocked at the location: the
    /// next change of it asks again.
    fn forget_cached(&self, sku: &str, remote_ref: Option<&str>, gid: &str) {
        if remote_ref.and_then(item_gid).is_none() {
            let mut ids = self.ids.lock();
            if ids.get(sku).is_some_and(|(cached, _)| cached == gid) {
                ids.remove(sku);
            }
        } else {
            self.linked_here.lock().remove(gid);
        }
    }

    /// Whether a write at a level Shopify does not answer as active at the location can land:
    /// from `2026-04` a deactivated level takes writes, and from `2026-10` any location does.
    /// Before, Shopify refuses such a write `ITEM_NOT_STOCKED_AT_LOCATION` itself, which the
    /// adapter fails by name, so no check is asked for.
    fn inactive_takes_writes(&self) -> bool {
        self.api_version == "unstable" || self.api_version.as_str() >= "2026-04"
    }

    /// The inventory items among `gids` (linked by `remote_ref`, so never looked up) that
    /// Shopify answers with no active level at the cart's location, and whether any it asked
    /// about has one (the location is then the shop's). One [`LEVELS_QUERY`] per
    /// [`LEVELS_PER_QUERY`] items not found stocked in the last [`IDS_FRESH`].
    ///
    /// Without it, from `2026-04` a sale or count of a linked item whose level was deactivated
    /// landed on that level and was reported applied while the count the shop sells from
    /// never moved (until 2026-12-04). An id Shopify answers `null` (no such item) is neither:
    /// the write goes, and Shopify's `INVALID_INVENTORY_ITEM` answer says so, as before.
    fn check_linked(
        &self,
        gids: &[&str],
    ) -> std::result::Result<(HashSet<String>, bool), CartError> {
        let now = Instant::now();
        let (mut ask, mut some_here) = {
            let here = self.linked_here.lock();
            let fresh = |g: &str| here.get(g).is_some_and(|until| now < *until);
            let ask: Vec<&str> = gids.iter().copied().filter(|g| !fresh(g)).collect();
            (ask, gids.iter().any(|g| fresh(g)))
        };
        ask.sort_unstable();
        ask.dedup();
        let mut not_here = HashSet::new();
        for chunk in ask.chunks(LEVELS_PER_QUERY) {
            let data = self.graphql(
                LEVELS_QUERY,
                json!({"ids": chunk, "location": self.location}),
                levels_cost(chunk.len()),
                false,
            )?;
            // An answer without the list (a proxy's `{}`) says nothing of any level: read as
            // "none found", every linked item would be failed as not stocked, bypassed.
            let Some(nodes) = data["nodes"].as_array() else {
                return Err(CartError::Unavailable(
                    "shopify: the answer to a level check has no nodes".into(),
                ));
            };
            for node in nodes {
                let Some(id) = node["id"].as_str().filter(|id| chunk.contains(id)) else {
                    continue;
                };
                match node.get("inventoryLevel") {
                    Some(Value::Object(_)) => {
                        some_here = true;
                        self.linked_here
                            .lock()
                            .insert(id.to_owned(), Instant::now() + IDS_FRESH);
                    }
                    Some(Value::Null) => {
                        not_here.insert(id.to_owned());
                    }
                    _ => {}
                }
            }
        }
        Ok((not_here, some_here))
    }

    /// Waits (at most [`MAX_PACING`]) until the last known bucket can pay `cost`.
    fn pace(&self, cost: f64) {
        let wait = {
            let b = self.budget.lock();
            match *b {
                Some((available, maximum, rate, at)) if rate > 0.0 => {
                    let now = (available + at.elapsed().as_secs_f64() * rate).min(maximum);
                    let need = cost.min(maximum);
                    // A wait past what a `Duration` holds (a `throttleStatus` out of all
                    // measure: a restore rate of 1e-300) panicked here, before every request,
                    // for as long as the adapter kept that status: the longest pace instead.
                    (need > now).then(|| {
                        Duration::try_from_secs_f64((need - now) / rate).unwrap_or(MAX_PACING)
                    })
                }
                _ => None,
            }
        };
        if let Some(w) = wait {
            std::thread::sleep(w.min(MAX_PACING));
        }
    }

    /// Runs one GraphQL document; returns its `data`. `mutation` decides how an answer that
    /// cannot be read is classed (a mutation may have applied). An error quoting the token
    /// (a proxy echoing the request's headers) has it scrubbed.
    fn graphql(
        &self,
        query: &str,
        variables: Value,
        cost: f64,
        mutation: bool,
    ) -> std::result::Result<Value, CartError> {
        self.graphql_unscrubbed(query, variables, cost, mutation)
            .map_err(|e| e.map_message(|m| common::scrub(m, &[self.token.expose()])))
    }

    fn graphql_unscrubbed(
        &self,
        query: &str,
        variables: Value,
        cost: f64,
        mutation: bool,
    ) -> std::result::Result<Value, CartError> {
        self.pace(cost);
        let (_, bytes) = common::exchange(
            self.client
                .post(self.endpoint.clone())
                .header(CONTENT_TYPE, "application/json")
                .body(
                    serde_json::to_vec(&json!({"query": query, "variables": variables}))
                        .expect("json serialises"),
                ),
            // A frozen (402: an unpaid bill) or locked (423) shop: a state of the whole shop
            // that only its owner ends, as for a refused token the cart pauses; read as any
            // other 4xx, every sale of every pass would be bypassed meanwhile
            // (<https://shopify.dev/docs/api/usage/response-codes>).
            // A 404 of the one GraphQL endpoint is never about an item (GraphQL names items
            // in `userErrors`): the shop, its domain or the API version is not there, and the
            // cart pauses too; read as a refusal, every waiting sale was bypassed at once.
            // A mutation a gateway gave up on may have been applied; so may one Shopify
            // answered 500 ("an internal error occurred in Shopify", nothing saying it was not
            // made): each is keyed, so sending it again as a lost answer costs nothing.
            |r| match r.status().as_u16() {
                402 | 423 => Some(CartError::Unauthorized(format!(
                    "HTTP {}: shopify says the shop is frozen (an unpaid bill) or locked; its \
                     owner must resolve it in the shop's admin",
                    r.status()
                ))),
                404 => Some(CartError::Unauthorized(format!(
                    "HTTP {}: no Shopify Admin API answers at {}; check the cart's url (the \
                     shop's myshopify.com address) and api_version",
                    r.status(),
                    self.endpoint
                ))),
                500 if mutation => Some(CartError::Ambiguous(format!(
                    "HTTP {}: shopify failed while it processed the change, which it may have made",
                    r.status()
                ))),
                _ => mutation.then(|| common::gateway_lost_answer(r)).flatten(),
            },
        )
        // Queries go as POST too: a lost answer to one changed nothing.
        .map_err(|e| if mutation { e } else { common::read_lost(e) })?;
        let answer: Value = serde_json::from_slice(&bytes).map_err(|e| {
            let m = common::malformed("shopify", e, &bytes);
            // A mutation whose answer cannot be read may have applied; a read that comes back
            // garbled (a proxy's error page) is worth another try, like a 5xx.
            if mutation {
                CartError::Ambiguous(m)
            } else {
                CartError::Unavailable(m)
            }
        })?;
        let cost_info = &answer["extensions"]["cost"];
        let status = &cost_info["throttleStatus"];
        if let (Some(a), Some(m), Some(r)) = (
            status["currentlyAvailable"].as_f64(),
            status["maximumAvailable"].as_f64(),
            status["restoreRate"].as_f64(),
        ) {
            *self.budget.lock() = Some((a, m, r, Instant::now()));
        }
        if let Some(errors) = answer["errors"].as_array() {
            let codes: Vec<&str> = errors
                .iter()
                .filter_map(|e| e["extensions"]["code"].as_str())
                .collect();
            let messages: Vec<String> = errors
                .iter()
                .filter_map(|e| e["message"].as_str())
                .map(truncate)
                .collect();
            let message = format!("{} ({})", messages.join("; "), codes.join(", "));
            // Shopify's older throttle answer names no code: `{"errors":[{"message":
            // "Throttled"}]}` (its rate-limit documentation, quoted on its community forum).
            let throttled = codes.contains(&"THROTTLED")
                || (codes.is_empty()
                    && messages.iter().any(|m| m.eq_ignore_ascii_case("throttled")));
            if throttled {
                let requested = cost_info["requestedQueryCost"].as_f64().unwrap_or(cost);
                let available = status["currentlyAvailable"].as_f64().unwrap_or(0.0);
                let rate = status["restoreRate"].as_f64().unwrap_or(0.0);
                // A wait beyond the bound a `Retry-After` is believed to (1e9 s) is none the
                // shop means: the controller's own back-off instead. Computed as given, one
                // past what a `Duration` holds panicked, and the throttled call was read as a
                // lost answer.
                let retry_after = (rate > 0.0)
                    .then(|| {
                        Duration::try_from_secs_f64(
                            ((requested - available).max(0.0) / rate).max(0.001),
                        )
                        .ok()
                    })
                    .flatten()
                    .filter(|d| d.as_secs_f64() < 1e9);
                return Err(CartError::RateLimited {
                    retry_after,
                    message: format!("shopify THROTTLED: {message}"),
                });
            }
            if codes.contains(&"ACCESS_DENIED") {
                return Err(CartError::Unauthorized(format!("shopify: {message}")));
            }
            // "The shop is not active. This can happen when stores repeatedly exceed API rate
            // limits or due to fraud risk" (the GraphQL reference's status and error codes): a
            // state of the whole shop, as a frozen one (402) is; read as a refusal, every sale
            // of every pass was bypassed until Shopify lifted it, and none reached it then.
            if codes.contains(&"SHOP_INACTIVE") {
                return Err(CartError::Unauthorized(format!(
                    "shopify says the shop is not active (after repeated rate-limit breaches or a \
                     fraud check); its owner must resolve it with Shopify: {message}"
                )));
            }
            // Aliased mutations (a batch of adjustments) answer each for itself: an error
            // beside results in `data` belongs to the aliases left null, which are sent again
            // under their keys. Failing the whole request would bypass changes the shop made.
            if mutation
                && answer["data"]
                    .as_object()
                    .is_some_and(|d| d.values().any(|v| !v.is_null()))
            {
                return Ok(answer["data"].clone());
            }
            // A request this build made wrong (a parse error names no code; a validation
            // error a lowercase one; `BAD_REQUEST`, `MAX_COST_EXCEEDED`) would fail again. Any
            // other code is a state of the shop's that "additional error codes may also be
            // shown" leaves open, tried again later rather than bypassed at once: a read's
            // as after a 5xx; a mutation's as a lost answer, since the error may have come
            // while it ran (`INTERNAL_SERVER_ERROR`: "an internal error while processing the
            // request ... returned instead of 500"), and its key makes the re-send safe. Read
            // as nothing applied, a count Shopify had set was followed by the sale it
            // included (until 2026-12-03).
            let wrong_request = codes.is_empty()
                || codes.iter().any(|c| {
                    matches!(*c, "BAD_REQUEST" | "MAX_COST_EXCEEDED")
                        || c.starts_with(|ch: char| ch.is_ascii_lowercase())
                });
            if !wrong_request {
                let message = format!("shopify: {message}");
                return Err(if mutation {
                    CartError::Ambiguous(message)
                } else {
                    CartError::Unavailable(message)
                });
            }
            return Err(CartError::Rejected(format!("shopify: {message}")));
        }
        if let Some(errors) = answer["errors"].as_str() {
            return Err(CartError::Rejected(format!(
                "shopify: {}",
                truncate(errors)
            )));
        }
        Ok(answer["data"].clone())
    }

    /// Looks up SKUs: inventory item and available count at the location, caching the ids.
    fn lookup(
        &self,
        skus: &[&str],
    ) -> std::result::Result<HashMap<String, (String, Option<i64>)>, CartError> {
        // By (SKU, whether the variant has it exactly): a variant whose SKU is the item's
        // but for blanks around it is the item's, as Get QOH matches a listed SKU (looked up
        // exactly, every sale of it failed as unknown while Get QOH set it); one that has it
        // exactly comes first (a shop holding "TEE" and "TEE " sells TEE from the first).
        //
        // Among a SKU's variants, those Get QOH reads count first: tracked, and stocked at the
        // cart's location. A twin that is not (a gift-wrap variant keeping no count, one
        // stocked only at another location) does not make the SKU ambiguous: until
        // 2026-12-04 every sale of it was refused as "more than one variant", though Get QOH
        // had read its count from the one. Only a SKU none of whose variants count here is
        // taken from all of them.
        //
        // A SKU none of whose variants has an inventory level here (`inventoryLevel` null: never
        // stocked at the location, or deactivated there) is no target at all, whatever its
        // variants: it fails by name ([`ShopifyAdapter::not_stocked_message`]). Taken as its
        // one variant's, until 2026-12-04 each sale and count went there: refused
        // `ITEM_NOT_STOCKED_AT_LOCATION` before 2026-04 with no word of what to do, and from
        // then taken silently by a deactivated level (which keeps and takes quantities from
        // 2026-04) or, from 2026-10, at any location: reported sent, while the shop's count
        // that sells never moved.
        type Key = (String, bool);
        #[derive(Default)]
        struct Tally {
            all: usize,
            here: usize,
            counted: usize,
            any: Option<(String, Option<i64>)>,
            counting: Option<(String, Option<i64>)>,
        }
        let mut seen: HashMap<Key, Tally> = HashMap::new();
        for chunk in skus.chunks(SKUS_PER_LOOKUP) {
            let search = chunk
                .iter()
                .map(|s| sku_term(s))
                .collect::<Vec<_>>()
                .join(" OR ");
            // A page sized to the SKUs asked for (two variants each, and a few more), not
            // the largest: Shopify charges a query by the `first` it asks, and a lookup of one
            // SKU at 200 cost 802 points, most of a shop's bucket (1,000 on a standard plan,
            // refilled at 50 a second), for every sale of a SKU not looked up in the last
            // quarter hour. More variants than that go on in further pages.
            let first = (2 * chunk.len() as i64 + 8).min(READ_PAGE);
            let mut after: Option<String> = None;
            loop {
                let data = self.graphql(
                    READ_QUERY,
                    json!({"first": first, "after": after, "query": search, "location": self.location}),
                    read_cost(first),
                    false,
                )?;
                let page = variants(&data)?;
                for node in page["nodes"].as_array().into_iter().flatten() {
                    let Some(raw) = node["sku"].as_str() else {
                        continue;
                    };
                    let Some(&sku) = chunk.iter().find(|c| c.trim() == raw.trim()) else {
                        continue; // the search matched more loosely than the exact SKU
                    };
                    let Some(id) = node["inventoryItem"]["id"].as_str() else {
                        continue;
                    };
                    let t = seen.entry((sku.to_owned(), raw == sku)).or_default();
                    let level = (id.to_owned(), available(node));
                    t.all += 1;
                    t.here += usize::from(level.1.is_some());
                    if node["inventoryItem"]["tracked"].as_bool() != Some(false)
                        && level.1.is_some()
                    {
                        t.counted += 1;
                        t.counting = Some(level.clone());
                    }
                    t.any = Some(level);
                }
                if page["pageInfo"]["hasNextPage"].as_bool() == Some(true) {
                    after = page["pageInfo"]["endCursor"].as_str().map(str::to_owned);
                    if after.is_some() {
                        continue;
                    }
                }
                break;
            }
        }
        let mut found = HashMap::new();
        let mut ids = self.ids.lock();
        let mut dups = self.duplicates.lock();
        let mut not_stocked = self.not_stocked.lock();
        for sku in skus {
            // What an earlier lookup found of it is replaced by this one's, found or not: a
            // SKU now on no variant (deleted in Shopify) is unknown, not still "not stocked"
            // or "on more than one variant" (until 2026-12-04 its sales were failed so, the
            // operator told to stock a variant that no longer exists).
            dups.remove(*sku);
            not_stocked.remove(*sku);
            // The exact spelling first, unless only the other's variants count here.
            let t = match (
                seen.get(&(sku.to_string(), true)),
                seen.get(&(sku.to_string(), false)),
            ) {
                (Some(exact), Some(loose)) if exact.counted == 0 && loose.counted > 0 => loose,
                (Some(exact), _) => exact,
                (None, Some(loose)) => loose,
                (None, None) => continue,
            };
            if t.here == 0 {
                not_stocked.insert(sku.to_string());
                continue;
            }
            let one = match t.counted {
                1 => t.counting.clone(),
                0 if t.all == 1 => t.any.clone(),
                _ => None,
            };
            match one {
                None => {
                    dups.insert(sku.to_string());
                }
                Some((id, available)) => {
                    ids.insert(sku.to_string(), (id.clone(), Instant::now() + IDS_FRESH));
                    found.insert(sku.to_string(), (id, available));
                }
            }
        }
        Ok(found)
    }

    /// The inventory item of each SKU (from `remote_ref`, the cache, or a lookup); `Err` with
    /// the reason for a SKU that has none.
    fn resolve<'a>(
        &self,
        items: impl Iterator<Item = (&'a str, Option<&'a str>)> + Clone,
    ) -> std::result::Result<HashMap<String, std::result::Result<String, String>>, CartError> {
        let mut out = HashMap::new();
        let mut missing: Vec<&str> = Vec::new();
        let mut linked: Vec<(&str, String)> = Vec::new();
        // Whether an item of the call was found stocked at the location by a lookup still
        // trusted: the location is then the shop's.
        let mut cached_here = false;
        {
            let ids = self.ids.lock();
            for (sku, remote) in items.clone() {
                // A blank reference is none (the store's reading: an older build kept one).
                if let Some(r) = remote.filter(|r| !r.trim().is_empty()) {
                    // Never a search by SKU instead: another variant may have the SKU.
                    let gid = item_gid(r).ok_or_else(|| {
                        format!(
                            "sku {sku}: remote_ref {r:?} names no Shopify inventory item: set it \
                             to the inventory item's id (gid://shopify/InventoryItem/123), or clear it"
                        )
                    });
                    if let Ok(g) = &gid {
                        linked.push((sku, g.clone()));
                    }
                    out.insert(sku.to_owned(), gid);
                } else if let Some((gid, _)) =
                    ids.get(sku).filter(|(_, until)| Instant::now() < *until)
                {
                    cached_here = true;
                    out.insert(sku.to_owned(), Ok(gid.clone()));
                } else if !missing.contains(&sku) {
                    missing.push(sku);
                }
            }
        }
        // A linked item is not looked up, so nothing else finds it not stocked at the location
        // before a write that Shopify, from 2026-04, takes at an inactive level.
        let (linked_not_here, linked_here) = if linked.is_empty() || !self.inactive_takes_writes() {
            (HashSet::new(), false)
        } else {
            let gids: Vec<&str> = linked.iter().map(|(_, g)| g.as_str()).collect();
            self.check_linked(&gids)?
        };
        let found = match missing.is_empty() {
            true => HashMap::new(),
            false => self.lookup(&missing)?,
        };
        // A SKU or linked item with no level at the location: so has every item at a location
        // the shop does not have, or one deactivated, which pauses the cart (as
        // `INVALID_LOCATION` does) rather than bypass each sale as not stocked. Asked only
        // then, and not when an item of the call has a level there, so a shop never pays for
        // it.
        let none_here = !linked_not_here.is_empty()
            || missing.iter().any(|s| self.not_stocked.lock().contains(*s));
        let some_here = linked_here || cached_here || !found.is_empty();
        // Said with each "not stocked" failure when the token cannot read whether the location
        // is deactivated, which would explain them all.
        let mut unread = "";
        if none_here && !some_here {
            match self.location_state()? {
                LocationState::Missing => return Err(self.no_location()),
                LocationState::Inactive(since) => {
                    return Err(self.inactive_location(since.as_deref()))
                }
                LocationState::Unread => unread = UNREAD_LOCATION,
                LocationState::Usable => {}
            }
        }
        for (sku, gid) in &linked {
            if linked_not_here.contains(gid) {
                out.insert(
                    (*sku).to_owned(),
                    Err(self.not_stocked_message(sku, Some(gid)) + unread),
                );
            }
        }
        if !missing.is_empty() {
            let dups = self.duplicates.lock();
            let not_stocked = self.not_stocked.lock();
            for sku in missing {
                let r = match found.get(sku) {
                    Some((gid, _)) => Ok(gid.clone()),
                    None if not_stocked.contains(sku) => {
                        Err(self.not_stocked_message(sku, None) + unread)
                    }
                    None if dups.contains(sku) => Err(format!(
                        "sku {sku}: more than one Shopify variant has this SKU; make it unique or set the item's remote_ref to its inventory item id"
                    )),
                    None => Err(format!(
                        "sku {sku}: no Shopify product variant has this SKU (unknown SKU)"
                    )),
                };
                out.insert(sku.to_owned(), r);
            }
        }
        Ok(out)
    }

    /// One request of aliased adjust mutations, each under the given generation of its
    /// change's key; with each outcome, what the answer makes of that key, and the user error
    /// that names a cause the owner fixes ([`INVALID_LOCATION`], [`INVALID_INVENTORY_ITEM`]).
    fn adjust_request(
        &self,
        batch: &[(&DeltaSend, String, u32)],
    ) -> std::result::Result<Vec<Adjusted>, CartError> {
        let mut decl = Vec::new();
        let mut fields = String::new();
        let mut variables = serde_json::Map::new();
        for (i, (d, gid, generation)) in batch.iter().enumerate() {
            decl.push(format!("$c{i}: InventoryAdjustQuantitiesInput!"));
            fields.push_str(&format!(
                "  c{i}: inventoryAdjustQuantities(input: $c{i}) @idempotent(key: {}) {{ inventoryAdjustmentGroup {{ changes {{ name delta quantityAfterChange }} }} userErrors {{ field message code }} }}\n",
                gql_string(&generation_key(&d.key, *generation))
            ));
            variables.insert(
                format!("c{i}"),
                json!({
                    "reason": "correction",
                    "name": "available",
                    "referenceDocumentUri": format!("inventory-sync://send-group/{}", d.key),
                    // Required from 2026-04; null opts out of the compare: a delta is
                    // relative, and the idempotency key, not a compare, keeps it from
                    // applying twice.
                    "changes": [{"delta": d.delta, "changeFromQuantity": null,
                                 "inventoryItemId": gid, "locationId": self.location}],
                }),
            );
        }
        let query = format!("mutation InvSyncAdjust({}) {{\n{fields}}}", decl.join(", "));
        let data = self.graphql(
            &query,
            Value::Object(variables),
            MUTATION_COST * batch.len() as f64,
            true,
        )?;
        Ok(batch
            .iter()
            .enumerate()
            .map(|(i, (d, _, _))| {
                let payload = &data[format!("c{i}")];
                if payload.is_null() {
                    // Keyed: a re-send is answered from Shopify's memory.
                    return (
                        SendOutcome::Retry {
                            message: format!(
                                "sku {}: the answer has no result for this change",
                                d.sku
                            ),
                            after: None,
                        },
                        KeyNote::Keep,
                        None,
                    );
                }
                let note = key_note(payload);
                let cause = [
                    INVALID_LOCATION,
                    INVALID_INVENTORY_ITEM,
                    ITEM_NOT_STOCKED_AT_LOCATION,
                ]
                .into_iter()
                .find(|c| has_code(payload, c));
                let outcome = match user_errors(payload) {
                    // Nothing applied: sent again later, under a new key.
                    Some((e, _)) if note == KeyNote::Spent => SendOutcome::Retry {
                        message: format!("sku {}: not applied, shopify says try again: {e}", d.sku),
                        after: None,
                    },
                    // Not done, and the key makes a re-send safe: tried again under it.
                    Some((e, true)) => SendOutcome::Retry {
                        message: format!("sku {}: not applied, shopify says try again: {e}", d.sku),
                        after: None,
                    },
                    Some((e, false)) => SendOutcome::Failed {
                        message: format!("sku {}: shopify refused the change: {e}", d.sku),
                    },
                    // The `available` change: adjusting it moves `on_hand` too, and the group
                    // lists a change for each.
                    None => SendOutcome::Applied {
                        qoh: payload["inventoryAdjustmentGroup"]["changes"]
                            .as_array()
                            .and_then(|c| c.iter().find(|c| c["name"] == "available"))
                            .and_then(|c| c["quantityAfterChange"].as_i64()),
                    },
                };
                (outcome, note, cause)
            })
            .collect())
    }

    /// The generation of key `key`'s change starts at.
    fn first_generation(&self, key: &str) -> u32 {
        self.next_generation.lock().get(key).copied().unwrap_or(0)
    }

    /// Notes what the answer to `key`'s change under `generation` makes of that key.
    fn note_generation(&self, key: &str, generation: u32, note: KeyNote) {
        let mut next = self.next_generation.lock();
        match note {
            KeyNote::Spent | KeyNote::Refused | KeyNote::FailedUnder => {
                if next.len() >= GENERATIONS_REMEMBERED {
                    next.clear();
                }
                next.insert(key.to_owned(), generation + 1);
            }
            KeyNote::Done => {
                next.remove(key);
            }
            KeyNote::Keep => {}
        }
    }

    /// `ready` in requests of at most [`MAX_SETS_PER_REQUEST`]: first each earlier request
    /// whose answer was lost and whose sets all came again, as it was (the same sets in the
    /// same order, so the same key: answered from Shopify's memory if it landed, rather than
    /// set again over a sale the shop made since), then the others.
    fn set_requests<'a>(
        &self,
        mut ready: Vec<(usize, (&'a QuantitySet, String))>,
    ) -> Vec<Vec<(usize, (&'a QuantitySet, String))>> {
        let mut requests = Vec::new();
        for keys in self.lost_sets.lock().iter() {
            let at: Option<Vec<usize>> = keys
                .iter()
                .map(|k| ready.iter().position(|(_, (s, _))| s.key == *k))
                .collect();
            if let Some(at) = at {
                requests.push(at.iter().map(|&p| ready[p].clone()).collect());
                let taken: HashSet<usize> = at.into_iter().collect();
                ready = ready
                    .into_iter()
                    .enumerate()
                    .filter_map(|(p, r)| (!taken.contains(&p)).then_some(r))
                    .collect();
            }
        }
        requests.extend(ready.chunks(MAX_SETS_PER_REQUEST).map(<[_]>::to_vec));
        requests
    }

    /// One `inventorySetQuantities`; per item `None` = applied, or the user error (code,
    /// message) Shopify named for it. `Ok(Err(()))`-like: an error not tied to an item fails
    /// them all.
    fn set_request(
        &self,
        batch: &[(&QuantitySet, String)],
    ) -> std::result::Result<std::result::Result<(), Vec<SetUserError>>, CartError> {
        let quantities: Vec<Value> = batch
            .iter()
            .map(|(s, gid)| {
                json!({"inventoryItemId": gid, "locationId": self.location,
                       "quantity": s.qoh, "changeFromQuantity": s.expected})
            })
            .collect();
        // Mandatory from 2026-04. The key is the sets': Send QOH sends a set whose answer was
        // lost again as it was (same key, same count), and Shopify must answer it from memory
        // rather than set the count again over a sale the shop made since. Other sets (the
        // second try without the items Shopify named) make another key, so a key never comes
        // with other quantities (`IDEMPOTENCY_KEY_PARAMETER_MISMATCH`).
        // An earlier attempt under the key that failed applied nothing: the same sets go
        // again under the key's next generation.
        let key = request_key(batch.iter().map(|(s, _)| s.key.as_str()));
        let mut generation = self.first_generation(&key);
        let mut step = 0;
        let data = loop {
            let query = format!(
                "mutation InvSyncSet($input: InventorySetQuantitiesInput!) {{
  inventorySetQuantities(input: $input) @idempotent(key: {}) {{ inventoryAdjustmentGroup {{ id }} userErrors {{ field message code }} }}
}}",
                gql_string(&generation_key(&key, generation))
            );
            let data = self.graphql(
                &query,
                json!({"input": {"name": "available", "reason": "correction",
                                  "referenceDocumentUri": "inventory-sync://send-qoh",
                                  "quantities": quantities}}),
                MUTATION_COST,
                true,
            )?;
            // GraphQL never leaves a field that ran null without an error beside it: an
            // answer without the result (a proxy's `{}`, a wrong host) says nothing of the
            // counts, and read as "no user errors" they were reported set.
            if !data["inventorySetQuantities"].is_object() {
                return Err(CartError::Ambiguous(
                    "shopify: the answer has no inventorySetQuantities result".into(),
                ));
            }
            let note = key_note(&data["inventorySetQuantities"]);
            self.note_generation(&key, generation, note);
            (generation, step) = (generation + 1, step + 1);
            if step == KEY_GENERATIONS || note != KeyNote::Spent {
                break data;
            }
        };
        let errors = data["inventorySetQuantities"]["userErrors"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if errors.is_empty() {
            return Ok(Ok(()));
        }
        Ok(Err(errors
            .iter()
            .map(|e| {
                let index = e["field"]
                    .as_array()
                    .filter(|f| f.len() >= 3 && f[1] == "quantities")
                    .and_then(|f| {
                        f[2].as_str()
                            .and_then(|i| i.parse().ok())
                            .or(f[2].as_u64().map(|i| i as usize))
                    });
                (
                    index,
                    e["code"].as_str().unwrap_or("").to_owned(),
                    truncate(e["message"].as_str().unwrap_or("")),
                )
            })
            .collect()))
    }
}

/// A user error of `inventorySetQuantities`: the index of the quantity it names (if any),
/// its code and its message.
type SetUserError = (Option<usize>, String, String);

/// The `productVariants` of a read's answer; an answer without it (a proxy's `{}`, a wrong
/// host) is no answer: read as an empty page, a lookup failed every sale as an unknown SKU,
/// bypassed at once.
fn variants(data: &Value) -> std::result::Result<&Value, CartError> {
    let page = &data["productVariants"];
    if page.is_object() {
        Ok(page)
    } else {
        Err(CartError::Unavailable(
            "shopify: the answer to a read has no productVariants".into(),
        ))
    }
}

fn available(node: &Value) -> Option<i64> {
    node["inventoryItem"]["inventoryLevel"]["quantities"]
        .as_array()?
        .iter()
        .find(|q| q["name"] == "available")?["quantity"]
        .as_i64()
}

/// The `inventoryAdjustQuantities` user-error codes that mean "not done, try again"
/// (`InventoryAdjustQuantitiesUserErrorCode`): the adjustment failed, the service is
/// unavailable, or the same idempotency key is still being processed. Nothing was applied by
/// the request so answered, and the key makes the re-send safe.
const ADJUST_TRY_AGAIN: [&str; 3] = [
    "ADJUST_QUANTITIES_FAILED",
    "SERVICE_UNAVAILABLE",
    "IDEMPOTENCY_CONCURRENT_REQUEST",
];

/// The `inventorySetQuantities` user-error codes that mean "try again"
/// (`InventorySetQuantitiesUserErrorCode`; a set is absolute, safe to send again): the same
/// key still being processed, or an earlier attempt under it failed (tried under new keys
/// first, [`KEY_GENERATIONS`]).
const SET_TRY_AGAIN: [&str; 2] = ["IDEMPOTENCY_CONCURRENT_REQUEST", PREVIOUS_ATTEMPT_FAILED];

/// The user errors of one adjust payload, as text, and whether every one of them is a
/// try-again code ([`ADJUST_TRY_AGAIN`]); `None` when there are none.
fn user_errors(payload: &Value) -> Option<(String, bool)> {
    let errors = payload["userErrors"].as_array()?;
    if errors.is_empty() {
        return None;
    }
    let try_again = errors
        .iter()
        .all(|e| ADJUST_TRY_AGAIN.contains(&e["code"].as_str().unwrap_or("")));
    let text = errors
        .iter()
        .map(|e| {
            format!(
                "{} ({})",
                truncate(e["message"].as_str().unwrap_or("")),
                e["code"].as_str().unwrap_or("")
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    Some((text, try_again))
}

impl CartAdapter for ShopifyAdapter {
    fn begin_manual_run(&self) {
        self.set_once.clear();
    }
    fn update_mode(&self) -> UpdateMode {
        Self::UPDATE_MODE
    }

    // A call the shop refuses as too large (HTTP 413: a proxy before the shop with a body
    // limit) goes again in halves (`common::halving_on_too_large`); refused, every sale of
    // it was bypassed at once.
    fn apply_deltas(
        &self,
        deltas: &[DeltaSend],
    ) -> std::result::Result<Vec<SendOutcome>, CartError> {
        common::halving_on_too_large(deltas, &|d: &DeltaSend| d.sku.as_str(), true, &mut |part| {
            self.deltas(part)
        })
    }

    // In halves where the shop answers 413, as `apply_deltas`.
    fn set_quantities(
        &self,
        sets: &[QuantitySet],
    ) -> std::result::Result<Vec<SendOutcome>, CartError> {
        common::halving_on_too_large(
            sets,
            &|s: &QuantitySet| s.sku.as_str(),
            false,
            &mut |part| self.sets(part),
        )
    }

    fn fetch_quantities(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> std::result::Result<QuantityPage, CartError> {
        self.read_page(cursor, limit).map(|page| page.counts)
    }

    /// The counts, and the tracked variants not stocked at the cart's location, each with why
    /// no count is taken for it: Get QOH lists them in its `not_applied`, so that the owner
    /// sees an item that is never read (until 2026-12-04 it was left out without a word).
    fn fetch_catalogue(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> std::result::Result<CataloguePage, CartError> {
        let page = self.read_page(cursor, limit)?;
        Ok(CataloguePage {
            counts: page.counts,
            unlisted: page.unlisted,
            details: page.details,
            ..Default::default()
        })
    }
}

impl ShopifyAdapter {
    /// [`CartAdapter::apply_deltas`] as one call (in requests of at most
    /// [`MAX_MUTATIONS_PER_REQUEST`]).
    fn deltas(&self, deltas: &[DeltaSend]) -> std::result::Result<Vec<SendOutcome>, CartError> {
        let mut out: Vec<Option<SendOutcome>> = vec![None; deltas.len()];
        let ids = self.resolve(
            deltas
                .iter()
                .map(|d| (d.sku.as_str(), d.remote_ref.as_deref())),
        )?;
        let mut ready: Vec<(usize, (&DeltaSend, String))> = Vec::new();
        for (i, d) in deltas.iter().enumerate() {
            if d.delta.unsigned_abs() > MAX_QUANTITY as u64 {
                out[i] = Some(SendOutcome::Failed {
                    message: format!(
                        "sku {}: a change of {} is beyond Shopify's ±{MAX_QUANTITY}",
                        d.sku, d.delta
                    ),
                });
                continue;
            }
            match &ids[&d.sku] {
                Ok(gid) => ready.push((i, (d, gid.clone()))),
                Err(m) => out[i] = Some(SendOutcome::Failed { message: m.clone() }),
            }
        }
        let mut first = true;
        // Whether a request of this call applied a change: the location is then the shop's.
        let mut applied = false;
        for chunk in ready.chunks(MAX_MUTATIONS_PER_REQUEST) {
            // The changes Shopify said an earlier attempt failed for go again under their
            // next generation of key.
            let mut pending: Vec<(usize, (&DeltaSend, String, u32))> = chunk
                .iter()
                .map(|(i, (d, gid))| (*i, (*d, gid.clone(), self.first_generation(&d.key))))
                .collect();
            for step in 0..KEY_GENERATIONS {
                let batch: Vec<(&DeltaSend, String, u32)> =
                    pending.iter().map(|(_, b)| b.clone()).collect();
                match self.adjust_request(&batch) {
                    Ok(outcomes) => {
                        // The cart's location is one the shop does not have (mistyped,
                        // deactivated, deleted): every change of the call is refused so, and
                        // only the owner can fix it. The cart pauses with its sales waiting
                        // (their keys noted as failed), rather than each being bypassed.
                        // (Not only on the first request: after a restart the first
                        // answers IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED for the keys refused so
                        // before, and the next generation's request meets the location.)
                        if !applied
                            && outcomes
                                .iter()
                                .any(|(_, _, c)| *c == Some(INVALID_LOCATION))
                            && !outcomes
                                .iter()
                                .any(|(o, _, _)| matches!(o, SendOutcome::Applied { .. }))
                        {
                            for ((_, (d, _, generation)), (_, note, _)) in
                                pending.iter().zip(&outcomes)
                            {
                                self.note_generation(&d.key, *generation, *note);
                            }
                            return Err(self.no_location());
                        }
                        applied |= outcomes
                            .iter()
                            .any(|(o, _, _)| matches!(o, SendOutcome::Applied { .. }));
                        let last = step + 1 == KEY_GENERATIONS;
                        let mut again = Vec::new();
                        for ((i, (d, gid, generation)), (o, note, cause)) in
                            pending.into_iter().zip(outcomes)
                        {
                            self.note_generation(&d.key, generation, note);
                            if note == KeyNote::Spent && !last {
                                again.push((i, (d, gid, generation + 1)));
                            } else if cause == Some(ITEM_NOT_STOCKED_AT_LOCATION) {
                                // Refused, nothing applied: by name, with what to do; the SKU
                                // is looked up afresh next time (another of its variants may
                                // be the one stocked here by then).
                                self.forget_cached(&d.sku, d.remote_ref.as_deref(), &gid);
                                out[i] = Some(SendOutcome::Failed {
                                    message: self.not_stocked_message(&d.sku, Some(&gid)),
                                });
                            } else if cause == Some(INVALID_INVENTORY_ITEM)
                                && d.remote_ref.as_deref().and_then(item_gid).is_none()
                            {
                                // The SKU's inventory item, looked up earlier and cached, is
                                // gone (its variant deleted, perhaps created again): looked up
                                // afresh when the change goes again, not bypassed.
                                let mut ids = self.ids.lock();
                                if ids.get(&d.sku).is_some_and(|(cached, _)| *cached == gid) {
                                    ids.remove(&d.sku);
                                }
                                out[i] = Some(SendOutcome::Retry {
                                    message: format!(
                                        "sku {}: shopify no longer has its inventory item {gid}; the SKU is looked up again",
                                        d.sku
                                    ),
                                    after: None,
                                });
                            } else {
                                out[i] = Some(o);
                            }
                        }
                        pending = again;
                    }
                    // A first request too large (413) applied nothing, as nothing before it
                    // did: the whole call's, which `apply_deltas` halves.
                    Err(e)
                        if common::fails_whole_call(&e, first, pending.len() == out.len())
                            || (first && common::too_large(&e)) =>
                    {
                        return Err(e)
                    }
                    Err(e) => {
                        for (i, (d, _, _)) in pending {
                            out[i] = Some(outcome_for_failed_request(&e, &d.sku, true));
                        }
                        pending = Vec::new();
                    }
                }
                first = false;
                if pending.is_empty() {
                    break;
                }
            }
        }
        Ok(common::outcomes(out))
    }

    /// [`CartAdapter::set_quantities`] as one call.
    fn sets(&self, sets: &[QuantitySet]) -> std::result::Result<Vec<SendOutcome>, CartError> {
        let mut out: Vec<Option<SendOutcome>> = vec![None; sets.len()];
        let ids = self.resolve(
            sets.iter()
                .map(|s| (s.sku.as_str(), s.remote_ref.as_deref())),
        )?;
        let mut ready: Vec<(usize, (&QuantitySet, String))> = Vec::new();
        // Two items reaching one inventory item: Shopify refuses a request setting it twice,
        // and in two requests the last would stand.
        for (i, s) in sets.iter().enumerate() {
            if !(0..=MAX_QUANTITY).contains(&s.qoh) {
                out[i] = Some(SendOutcome::Failed {
                    message: format!(
                        "sku {}: {} is outside the 0 to {MAX_QUANTITY} Shopify takes",
                        s.sku, s.qoh
                    ),
                });
                continue;
            }
            match &ids[&s.sku] {
                Ok(gid) => {
                    let what = format!("shopify's inventory item {gid}");
                    match self.set_once.claim(gid, &s.sku, &what) {
                        Some(refused) => out[i] = Some(refused),
                        None => ready.push((i, (s, gid.clone()))),
                    }
                }
                Err(m) => out[i] = Some(SendOutcome::Failed { message: m.clone() }),
            }
        }
        let mut first = true;
        for chunk in self.set_requests(ready) {
            let mut pending: Vec<(usize, (&QuantitySet, String))> = chunk;
            // At most two tries: the second without the items the first named in userErrors.
            for attempt in 0..2 {
                let batch: Vec<(&QuantitySet, String)> =
                    pending.iter().map(|(_, b)| b.clone()).collect();
                let keys: Vec<String> = batch.iter().map(|(s, _)| s.key.clone()).collect();
                let answer = self.set_request(&batch);
                // Forgotten once Shopify answered under the request's key; an answer that
                // did not reach it (throttled, an outage, unreachable) says nothing of it,
                // nor does one saying the key is still being processed, or (after the last
                // generation tried) that an earlier attempt failed.
                let mut lost = self.lost_sets.lock();
                match &answer {
                    Ok(Err(errors))
                        if errors.iter().any(|(_, c, _)| {
                            c == "IDEMPOTENCY_CONCURRENT_REQUEST" || c == PREVIOUS_ATTEMPT_FAILED
                        }) => {}
                    Ok(_) => lost.retain(|k| *k != keys),
                    Err(CartError::Ambiguous(_)) => {
                        lost.retain(|k| *k != keys);
                        if lost.len() == LOST_REMEMBERED {
                            lost.remove(0);
                        }
                        lost.push(keys);
                    }
                    Err(_) => {}
                }
                drop(lost);
                match answer {
                    Err(e) => {
                        // A lost answer to one request of several is its items' alone: the
                        // counts of the others are sent (keyed, they are safe to send), and
                        // never taken for counts the shop may have (their waiting records
                        // would be settled as included).
                        if common::fails_whole_call(
                            &e,
                            first && attempt == 0,
                            pending.len() == out.len(),
                        ) || (first && attempt == 0 && common::too_large(&e))
                        {
                            return Err(e);
                        }
                        for (i, (s, _)) in &pending {
                            out[*i] = Some(outcome_for_failed_request(&e, &s.sku, false));
                        }
                        break;
                    }
                    Ok(Ok(())) => {
                        for (i, (s, _)) in &pending {
                            out[*i] = Some(SendOutcome::Applied { qoh: Some(s.qoh) });
                        }
                        break;
                    }
                    Ok(Err(errors)) => {
                        let named: HashSet<usize> =
                            errors.iter().filter_map(|(i, _, _)| *i).collect();
                        let stale: Vec<&str> = errors
                            .iter()
                            .filter(|(i, c, _)| {
                                i.is_some()
                                    && matches!(
                                        c.as_str(),
                                        "CHANGE_FROM_QUANTITY_STALE" | "COMPARE_QUANTITY_STALE"
                                    )
                            })
                            .filter_map(|(i, _, _)| {
                                pending.get(i.unwrap()).map(|p| p.1 .0.sku.as_str())
                            })
                            .collect();
                        // Read again to say what the count is now: a read that fails (a
                        // throttle) leaves those sets to go again, not refused (until
                        // 2026-12-04 its error was dropped, and a passing throttle made a
                        // stale compare a refusal).
                        let (current, unread) = match stale.is_empty() {
                            true => (HashMap::new(), None),
                            false => match self.lookup(&stale) {
                                Ok(current) => (current, None),
                                Err(e) => (HashMap::new(), Some(e)),
                            },
                        };
                        for (idx, code, message) in &errors {
                            let Some((i, (s, gid))) = idx.and_then(|x| pending.get(x)) else {
                                continue;
                            };
                            // The SKU's count only where the SKU is the inventory item the
                            // set went to: an item linked by `remote_ref` may differ from the
                            // variant that carries its SKU, whose count is not its own.
                            let now = current.get(&s.sku).filter(|c| c.0 == *gid);
                            let is_stale = stale.contains(&s.sku.as_str());
                            out[*i] = Some(match now.and_then(|c| c.1) {
                                Some(now) if is_stale => SendOutcome::Conflict { current: now },
                                // The count changed meanwhile, and what it is now is not
                                // known (the read failed, or the item goes by its
                                // `remote_ref`, not the variant its SKU names): nothing was
                                // set, and the set goes again later (read afresh then).
                                _ if is_stale => SendOutcome::Retry {
                                    message: format!(
                                        "sku {}: the count {} was not set: the cart's count changed meanwhile ({code}){}",
                                        s.sku,
                                        s.qoh,
                                        unread
                                            .as_ref()
                                            .map(|e| format!("; reading it again failed: {}", e.message()))
                                            .unwrap_or_default()
                                    ),
                                    after: match &unread {
                                        Some(CartError::RateLimited { retry_after, .. }) => *retry_after,
                                        _ => None,
                                    },
                                },
                                _ if code == ITEM_NOT_STOCKED_AT_LOCATION => {
                                    self.forget_cached(&s.sku, s.remote_ref.as_deref(), gid);
                                    SendOutcome::Failed {
                                        message: self.not_stocked_message(&s.sku, Some(gid)),
                                    }
                                }
                                // The SKU's inventory item, looked up earlier and cached, is
                                // gone (its variant deleted, perhaps made again): looked up
                                // afresh at the next set, as for a change (until 2026-12-04
                                // every Send QOH for a quarter hour set the deleted item).
                                _ if code == INVALID_INVENTORY_ITEM
                                    && s.remote_ref.as_deref().and_then(item_gid).is_none() =>
                                {
                                    let mut ids = self.ids.lock();
                                    if ids.get(&s.sku).is_some_and(|(cached, _)| cached == gid) {
                                        ids.remove(&s.sku);
                                    }
                                    SendOutcome::Retry {
                                        message: format!(
                                            "sku {}: the count {} was not set: shopify no longer has its inventory item {gid}; the SKU is looked up again",
                                            s.sku, s.qoh
                                        ),
                                        after: None,
                                    }
                                }
                                _ if SET_TRY_AGAIN.contains(&code.as_str()) => {
                                    SendOutcome::Retry {
                                        message: format!(
                                            "sku {}: the count {} was not set, shopify says try again: {message} ({code})",
                                            s.sku, s.qoh
                                        ),
                                        after: None,
                                    }
                                }
                                _ => SendOutcome::Failed {
                                    message: format!(
                                        "sku {}: shopify refused the count {}: {message} ({code})",
                                        s.sku, s.qoh
                                    ),
                                },
                            });
                        }
                        let unnamed: Vec<&String> = errors
                            .iter()
                            .filter(|(i, _, _)| i.is_none())
                            .map(|(_, _, m)| m)
                            .collect();
                        let rest: Vec<(usize, (&QuantitySet, String))> = pending
                            .iter()
                            .enumerate()
                            .filter(|(x, _)| !named.contains(x))
                            .map(|(_, p)| p.clone())
                            .collect();
                        if !unnamed.is_empty() || attempt == 1 {
                            for (i, (s, _)) in &rest {
                                out[*i] = Some(SendOutcome::Retry {
                                    message: format!(
                                        "sku {}: not applied: shopify refused the request{}",
                                        s.sku,
                                        if unnamed.is_empty() {
                                            String::from(" for other items")
                                        } else {
                                            format!(
                                                ": {}",
                                                unnamed
                                                    .iter()
                                                    .map(|m| m.as_str())
                                                    .collect::<Vec<_>>()
                                                    .join("; ")
                                            )
                                        }
                                    ),
                                    after: None,
                                });
                            }
                            break;
                        }
                        if rest.is_empty() {
                            break;
                        }
                        pending = rest;
                    }
                }
            }
            first = false;
        }
        Ok(common::outcomes(out))
    }
}

/// One page of the listing as [`ShopifyAdapter::read_page`] reads it.
struct ListPage {
    counts: QuantityPage,
    /// (SKU, why) of each tracked variant with no level at the cart's location.
    unlisted: Vec<(String, String)>,
    /// (SKU, description, option pairs) of each tracked variant (`CataloguePage::details`).
    details: Vec<super::ItemDetails>,
}

impl ShopifyAdapter {
    /// One page of the listing: the counts, and (SKU, why) of each tracked variant read with
    /// no level at the cart's location.
    fn read_page(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> std::result::Result<ListPage, CartError> {
        let first = i64::from(limit).clamp(1, LIST_PAGE);
        let data = self.graphql(
            LIST_QUERY,
            json!({"first": first, "after": cursor, "query": null, "location": self.location}),
            list_cost(first),
            false,
        )?;
        let page = variants(&data)?;
        let mut items = Vec::new();
        let mut unlisted = Vec::new();
        let mut details = Vec::new();
        // No inventory item ids are cached from a read: a SKU on two variants (perhaps on
        // different pages) would be cached as one of them. The lookup before a write finds
        // them and refuses an ambiguous SKU.
        for node in page["nodes"].as_array().into_iter().flatten() {
            let Some(sku) = node["sku"].as_str().filter(|s| !s.is_empty()) else {
                continue;
            };
            // Untracked inventory (`tracked: false`) keeps a level Shopify never moves on a
            // sale: its number is no stock count, and taking it would overwrite the store's.
            if node["inventoryItem"]["tracked"].as_bool() == Some(false) {
                continue;
            }
            let (description, options) = details_of(node);
            details.push((sku.to_owned(), description, options));
            // Not stocked at this location: nothing to publish there.
            match available(node) {
                Some(q) => items.push((sku.to_owned(), q)),
                None => unlisted.push((
                    sku.to_owned(),
                    format!(
                        "its Shopify variant is not stocked at the cart's location {} (no \
                         active inventory level there: never stocked, or deactivated), so it \
                         has no count there to take; stock it at that location in Shopify \
                         admin, or set the item's web fields to not sync with this cart",
                        self.location
                    ),
                )),
            }
        }
        let next_cursor = if page["pageInfo"]["hasNextPage"].as_bool() == Some(true) {
            page["pageInfo"]["endCursor"].as_str().map(str::to_owned)
        } else {
            None
        };
        Ok(ListPage {
            counts: QuantityPage { items, next_cursor },
            unlisted,
            details,
        })
    }
}

impl ShopifyAdapter {
    /// The API version in use.
    pub fn api_version(&self) -> &str {
        &self.api_version
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::scripted::Scripted;

    /// Two variants share the SKU `DUP`, as a shop may have by mistake.
    const TWO_VARIANTS: &str = r#"{"data":{"productVariants":{"nodes":[
        {"sku":"DUP","inventoryItem":{"id":"gid://shopify/InventoryItem/1",
          "inventoryLevel":{"quantities":[{"name":"available","quantity":3}]}}},
        {"sku":"DUP","inventoryItem":{"id":"gid://shopify/InventoryItem/2",
          "inventoryLevel":{"quantities":[{"name":"available","quantity":3}]}}}],
        "pageInfo":{"hasNextPage":false,"endCursor":null}}}}"#;

    fn scripted_adapter(server: &Scripted) -> ShopifyAdapter {
        ShopifyAdapter::new(
            &server.url,
            Secret::new("shpat_test"),
            "1",
            None,
            Duration::from_secs(5),
        )
        .unwrap()
    }

    /// A request's key is the same for the same changes in any order, in every build (a
    /// re-send after an upgrade must find the key a lost attempt went under), and another
    /// for other changes; one change's key is its own.
    #[test]
    fn request_keys_are_stable_and_order_blind() {
        let k = request_key(["b-key", "a-key"].into_iter());
        assert_eq!(k, request_key(["a-key", "b-key"].into_iter()));
        assert_eq!(k, "7f62eeff-bccf-99af-401c-dab8c65dfba6");
        assert_ne!(k, request_key(["a-key", "c-key"].into_iter()));
        assert_eq!(request_key(["only"].into_iter()), "only");
        assert_ne!(generation_key("only", 1), generation_key("only", 2));
    }

    /// Queries go as POST, yet a lost answer to one applied nothing: try again, not "may
    /// have applied" (Send QOH settled waiting sales with a count never written).
    #[test]
    fn a_lost_answer_to_a_query_is_a_try_again() {
        let server = Scripted::start(vec![(0, "")]);
        let e = scripted_adapter(&server)
            .fetch_quantities(None, 250)
            .unwrap_err();
        server.finish();
        assert!(matches!(e, CartError::Unavailable(_)), "{e:?}");
    }

    #[test]
    fn an_error_beside_other_aliases_results_fails_only_its_own_change() {
        let answer = r#"{"data":{
            "c0":{"inventoryAdjustmentGroup":{"changes":[{"name":"available","delta":-1,"quantityAfterChange":4}]},"userErrors":[]},
            "c1":null},
            "errors":[{"message":"Internal error. Looks like something went wrong on our end.","path":["c1"],
                       "extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#;
        // Both items stocked at the location, as the check before the write finds.
        let levels = r#"{"data":{"nodes":[
            {"id":"gid://shopify/InventoryItem/77","inventoryLevel":{"id":"gid://shopify/InventoryLevel/1"}},
            {"id":"gid://shopify/InventoryItem/78","inventoryLevel":{"id":"gid://shopify/InventoryLevel/2"}}]}}"#;
        let server = Scripted::start(vec![(200, levels), (200, answer)]);
        let a = scripted_adapter(&server);
        let delta = |key: &str, sku: &str, item: &str| DeltaSend {
            key: key.into(),
            sku: sku.into(),
            remote_ref: Some(item.into()),
            delta: -1,
        };
        let out = a
            .apply_deltas(&[delta("k0", "A", "77"), delta("k1", "B", "78")])
            .unwrap();
        server.finish();
        assert_eq!(out[0], SendOutcome::Applied { qoh: Some(4) });
        assert!(matches!(out[1], SendOutcome::Retry { .. }), "{out:?}");
    }

    /// A SKU moved to another variant while the old one stays (a product made again, the
    /// old one's SKUs renamed) gives no error for the old inventory item: its lookup is used
    /// for a quarter hour only, and the next sale after that goes to the new variant (for the
    /// controller's life until 2026-12-02, while the new variant oversold).
    #[test]
    fn a_skus_inventory_item_is_looked_up_again_after_a_quarter_hour() {
        let on = |item: u32| -> &'static str {
            // (The scripted server answers for as long as the test runs.)
            Box::leak(
                format!(
                    r#"{{"data":{{"productVariants":{{"nodes":[
                    {{"sku":"TEE","inventoryItem":{{"id":"gid://shopify/InventoryItem/{item}",
                      "tracked":true,"inventoryLevel":{{"quantities":[{{"name":"available","quantity":5}}]}}}}}}],
                    "pageInfo":{{"hasNextPage":false,"endCursor":null}}}}}}}}"#
                )
                .into_boxed_str(),
            )
        };
        let applied = r#"{"data":{"c0":{"inventoryAdjustmentGroup":{"changes":[{"name":"available","delta":-1,"quantityAfterChange":4}]},"userErrors":[]}}}"#;
        let server = Scripted::start(vec![
            (200, on(1)),
            (200, applied),
            (200, applied),
            (200, on(2)),
            (200, applied),
        ]);
        let a = scripted_adapter(&server);
        let sale = |key: &str| DeltaSend {
            key: key.into(),
            sku: "TEE".into(),
            remote_ref: None,
            delta: -1,
        };
        for key in ["k1", "k2"] {
            assert_eq!(
                a.apply_deltas(&[sale(key)]).unwrap()[0],
                SendOutcome::Applied { qoh: Some(4) }
            );
        }
        // A quarter hour on.
        for (_, until) in a.ids.lock().values_mut() {
            *until = Instant::now();
        }
        a.apply_deltas(&[sale("k3")]).unwrap();
        let seen = server.finish();
        assert_eq!(seen.len(), 5, "a lookup, two sales, a lookup, a sale");
        assert!(seen[2].2.contains("InventoryItem/1"), "{:?}", seen[2]);
        assert!(seen[4].2.contains("InventoryItem/2"), "{:?}", seen[4]);
    }

    #[test]
    fn a_sku_on_two_variants_is_never_written_to_one_of_them() {
        // Get QOH reads both variants; a later change of DUP must still find the SKU
        // ambiguous rather than go to whichever variant was read last.
        let server = Scripted::start(vec![(200, TWO_VARIANTS), (200, TWO_VARIANTS)]);
        let a = scripted_adapter(&server);
        a.fetch_quantities(None, 250).unwrap();
        let out = a
            .apply_deltas(&[DeltaSend {
                key: "k1".into(),
                sku: "DUP".into(),
                remote_ref: None,
                delta: -1,
            }])
            .unwrap();
        assert!(
            matches!(&out[0], SendOutcome::Failed { message } if message.contains("more than one")),
            "{out:?}"
        );
        assert_eq!(server.finish().len(), 2, "a read, a lookup: no write");
    }
}
