//! The `medusa` adapter: Medusa v2's admin API, inventory levels per stock location.
//!
//! Follows these public pages (read for this adapter; nothing copied), checked against the
//! request validators and auth middleware of `@medusajs/medusa` 2.21.2, which the
//! integration tests run (`tests/medusa_it.rs`):
//! - authentication: a JWT from `POST /auth/user/emailpass` sent as a bearer token, or a
//!   secret API key (`sk_…`) sent as the user name of HTTP Basic credentials:
//!   <https://www.mintlify.com/medusajs/medusa/api/authentication>,
//!   <https://docs.medusajs.com/user-guide/settings/developer/secret-api-keys>,
//!   <https://docs.medusajs.com/resources/commerce-modules/api-key/concepts>
//! - inventory items and their location levels (`GET /admin/inventory-items` with `sku`, `id`,
//!   `fields`, `limit`, `offset`, `order`; `count`; `stocked_quantity`, `reserved_quantity`,
//!   `available_quantity` per level): <https://docs.medusajs.com/api/admin/inventory-items.md>,
//!   <https://docs.medusajs.com/api/admin/inventory-items/list-inventory-items>
//! - the batch endpoint, `POST /admin/inventory-items/location-levels/batch` with `create`,
//!   `update` (`inventory_item_id`, `location_id`, `stocked_quantity` ≥ 0) and `delete`,
//!   answering `created`, `updated`, `deleted`; and one level,
//!   `POST /admin/inventory-items/{id}/location-levels/{location_id}` (renderings of Medusa's
//!   OpenAPI spec): <https://docs.mercurjs.com/api-reference/admin-inventory-items/manage-inventory-levels>,
//!   <https://docs.mercurjs.com/api-reference/admin-inventory-items/update-an-inventory-level-of-an-inventory-item>
//! - an inventory item's variants (`*variants`, as Medusa's admin reads them for an inventory
//!   item's page), with their `title`, product `title` and `options` (each `value` and its
//!   option's `title`), which Get QOH gives the items it creates:
//!   <https://docs.medusajs.com/api/admin/inventory-items/list-inventory-items>,
//!   <https://docs.medusajs.com/resources/commerce-modules/product>
//! - inventory concepts (levels per stock location, reservations):
//!   <https://docs.medusajs.com/resources/commerce-modules/inventory/concepts>
//!
//! # What it publishes (DESIGN §8)
//!
//! Medusa's *available* count at the configured stock location: `stocked_quantity` minus
//! `reserved_quantity` (Medusa's holds for placed orders). Get QOH reads
//! `available_quantity`; Send QOH writes `stocked_quantity = target + reserved_quantity`, so
//! what shoppers can buy is the order manager's count and the holds stay on top of it. An
//! inventory item with no level at the location is not published there: Get QOH skips it,
//! Send QOH creates its level, a real-time delta fails with a message saying so. Before its
//! first request the adapter asks `GET /admin/stock-locations/{id}` whether the location
//! exists (the batch endpoint would create levels at a mistyped one): if not, the cart is
//! paused as for refused credentials, its records untried, until `location_id` is fixed.
//! Quantities with a fraction (Medusa keeps big numbers) are read as whole units rounded
//! down; a delta is not written over one (it fails, naming it), as WooCommerce's adapter does.
//!
//! # The read-add-write window (DESIGN §4)
//!
//! Medusa's admin API has no relative stock change and no compare-and-set, so the adapter
//! reports [`UpdateMode::Absolute`] and a real-time delta is: read the levels (one `GET` per
//! 20 items, as Express 4.22.0–4.22.1 take no more values of one query key), add the delta to
//! `stocked_quantity`, write them with the batch endpoint, and verify by the levels its answer
//! shows (an item it leaves out is read back). A change Medusa records between our read and
//! our write is overwritten: that window is the time of one request, well under a second on
//! loopback.
//! Placing an order changes only `reserved_quantity`, which we do not write; but a
//! fulfilment takes the shipped units off `stocked_quantity` and drops their reservation
//! (core-flows' create-fulfillment runs `adjustInventoryLevelsStep`), and a received return
//! adds to it, so one landing in the window would be undone by our write. The read-back
//! catches what it can: a stocked count other than the one written (a change between write
//! and verify), or holds that fell since our read (a fulfilment in the window, whose stock
//! change our write may have undone). Such an item is [`SendOutcome::Uncertain`], left for
//! the drift report, never re-sent blindly. An
//! answer lost after the write is [`CartError::Ambiguous`], which the controller marks
//! `uncertain` for this mode; so is a 503 to a write (Medusa never answers 503 itself: a
//! router in front of it that gave up on a write it forwarded does). A set with an `expected` count is checked the same way (read,
//! compare the available count, write) and answers [`SendOutcome::Conflict`] on a mismatch.
//! A set whose batch answer shows holds that fell since the read, or another stocked count
//! than the one written, is `Uncertain` too: the shop may offer more than the count sent.
//!
//! Medusa writes a batch's levels in one database transaction, rolled back whole when one
//! item fails. Its own 500 may come with that write standing (the step failed after its
//! commit, or its undo failed) or undone (a later step failed and the undo wrote the levels
//! read before it back), but only once the workflow has ended (the route awaits the run,
//! undo included), so the levels are read back:
//! the count written stands (applied, judged as a batch answer's level is), the count read
//! before does (not applied: [`SendOutcome::Retry`]), or neither (uncertain). A read-back
//! that fails leaves the batch a lost answer. So is a 200 whose body cannot be used (cut
//! short, not JSON, JSON of another shape): Medusa sends it, too, only once the workflow has
//! ended (`read_back_200`; uncertain until 2026-12-05). A 4xx that
//! names items of the batch ("Item iitem_… is not stocked at location …") fails those items
//! alone; the others were not applied and are tried again ([`SendOutcome::Retry`]).
//!
//! A call whose first write is refused as too large (HTTP 413: Medusa's body limit, or a
//! proxy's before it) applied nothing: it goes again in halves, down to single changes.
//!
//! # Ids and credentials
//!
//! SKU → inventory item id: a `remote_ref` (`iitem_…`) is used as is; otherwise the id comes
//! from `GET /admin/inventory-items?sku=…` and is cached; every write reads its items first,
//! and a cached id Medusa now answers another SKU for (the owner gave the SKU to another
//! item) is looked up by SKU again. A SKU the exact lookup does not find is looked for padded
//! with blanks (`TEE ` for TEE, as Get QOH reads it) in an index of the padded SKUs of the
//! whole inventory-item listing, read once and kept five minutes and until the next manual
//! run (`MedusaAdapter::padded`; until 2026-12-05 every change of such a SKU failed as unknown
//! while Get QOH took its count, and the shop oversold). With
//! `email` + `password` the adapter logs in once, keeps the JWT in memory, and logs in again
//! once when Medusa answers 401 (an expired token); a secret `api_key` is sent on every
//! request instead (Medusa checks it with scrypt each time: slower). The password, the key
//! and the JWT never appear in `Debug`, errors or `last_response`.

use super::common::{self, outcome_for_failed_request};
use super::http_json::truncate;
use super::{
    CartAdapter, CartError, CataloguePage, DeltaSend, ItemDetails, QuantityPage, QuantitySet,
    SendOutcome, UpdateMode,
};
use crate::error::{Error, Result};
use crate::secret::Secret;
use parking_lot::Mutex;
use reqwest::blocking::Client;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode, Url};
use serde_json::{json, Value};
use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Duration;

/// Items per batch write (Medusa names no limit; this keeps transactions small). Lookups name
/// at most 20 SKUs or ids a request (the module docs say why).
pub const MAX_BATCH: usize = 100;
/// Values of one `sku[]` or `id[]` filter in a lookup. Express 4.22.0 and 4.22.1 (a Medusa 2
/// installed from December 2025 to May 2026 keeps them in its lockfile) parse a query with qs
/// 6.14.1 or later, whose `arrayLimit` of 20 caps `sku[]=…` too: past it the list becomes an
/// object, which Medusa's validator refuses (400). Until 2026-12-05 a lookup named up to
/// [`MAX_BATCH`] values, and a call of more than 20 SKUs was refused whole: every sale of the
/// batch bypassed, the units sold left on the shop (Express 4.22.2 raised the cap to 1000).
const LOOKUP_VALUES: usize = 20;
/// What a lookup read of one item: found (`Ok(Some)`), unknown (`Ok(None)`), or not to be
/// sent now (`Err`, the change's outcome): held only padded on more than one item, or not
/// found exactly where the listing that padded SKUs are looked for in could not be read.
type Looked = std::result::Result<Option<Found>, SendOutcome>;

/// The largest page Get QOH asks for.
pub const MAX_PAGE: u32 = 200;
/// How often a Get QOH listing starts again because the inventory changed under it, before
/// it gives up.
const RESTARTS: u32 = 5;

/// `offset:restarts:last id` (see `MedusaAdapter::page`); a bare offset, as an older build
/// made, is read as one without a last id (its page is not checked).
fn page_cursor(c: &str) -> std::result::Result<(u64, u32, Option<String>), CartError> {
    let bad = || CartError::Rejected(format!("bad medusa cursor {}", truncate(c)));
    let mut parts = c.splitn(3, ':');
    let offset = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
    let restarts = match parts.next() {
        None => 0,
        Some(r) => r.parse().map_err(|_| bad())?,
    };
    let last = parts.next().filter(|l| !l.is_empty()).map(str::to_owned);
    Ok((offset, restarts, last))
}

/// The fields asked for with every inventory item.
const FIELDS: &str = "id,sku,*location_levels";

/// The fields the index of padded SKUs reads of each item (`MedusaAdapter::padded_listing`):
/// an item found there is read again by id before it is written.
const PADDED_FIELDS: &str = "id,sku";

/// An inventory item listed with a SKU padded with blanks (`MedusaAdapter::padded_listing`).
#[derive(Debug, Clone)]
struct Padded {
    id: String,
    /// As listed, blanks and all.
    sku: String,
}

/// [`FIELDS`] with what Get QOH gives an item it creates (`CataloguePage::details`): the
/// inventory item's variants (the link the admin's inventory page reads, `*variants`), each
/// with its `title`, its product's `title`, and its option values with their option's
/// `title`. Medusa's list of inventory items takes any field of the item and its links.
const LIST_FIELDS: &str = "id,sku,title,*location_levels,variants.title,variants.product.title,\
variants.options.value,variants.options.option.title";

/// The option Medusa gives a product made without options, and its one value: no option of
/// the owner's.
const DEFAULT_OPTION: &str = "Default option";

/// What Get QOH gives an item it creates of inventory item `i` (`CataloguePage::details`): its
/// variant's product title and own title (`T-shirt - M / Red`; the inventory item's `title`
/// where it is linked to no variant), and the variant's (option title, value) pairs. An
/// inventory item shared by several variants is described by the first.
fn details_of(i: &Value) -> (String, Vec<(String, String)>) {
    let Some(v) = i["variants"].as_array().and_then(|v| v.first()) else {
        return (
            i["title"].as_str().unwrap_or("").trim().to_owned(),
            Vec::new(),
        );
    };
    let options: Vec<(String, String)> = v["options"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|o| Some((o["option"]["title"].as_str()?, o["value"].as_str()?)))
        .filter(|(name, _)| *name != DEFAULT_OPTION)
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect();
    let product = v["product"]["title"].as_str().unwrap_or("");
    let title = v["title"].as_str().unwrap_or("");
    // A product's only variant, titled as its product or as Medusa's default: the product's name.
    let description = match options.is_empty() && (title == product || title == "Default variant") {
        true => product.trim().to_owned(),
        false => common::variant_description(product, &[title]),
    };
    (description, options)
}

/// How the adapter proves who it is.
pub enum MedusaAuth {
    /// A secret API key (`sk_…`), sent as the user name of HTTP Basic credentials.
    ApiKey(Secret),
    /// An admin user's email and password, exchanged for a JWT.
    EmailPass {
        /// The admin user's email (not a secret).
        email: String,
        /// The admin user's password.
        password: Secret,
    },
}

impl fmt::Debug for MedusaAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MedusaAuth::ApiKey(_) => f.write_str("ApiKey(***)"),
            MedusaAuth::EmailPass { email, .. } => f
                .debug_struct("EmailPass")
                .field("email", email)
                .field("password", &"***")
                .finish(),
        }
    }
}

/// One inventory level at the configured location.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Level {
    stocked: i64,
    reserved: i64,
    available: i64,
    /// Whether `stocked_quantity` or `reserved_quantity` holds a fraction (Medusa keeps
    /// quantities as big numbers: a shop selling by weight or length). The counts above are
    /// then whole units, fewer rather than more (stocked and available rounded down,
    /// reserved rounded down too, so a count Send QOH writes offers no unit the shop lacks),
    /// and a change is not written over it ([`fraction_kept`]).
    fractional: bool,
}

/// What a lookup found for one inventory item.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    id: String,
    sku: Option<String>,
    /// `None`: the item has no level at the configured location.
    level: Option<Level>,
}

/// Reads the level at `location` out of an inventory item as the admin API returns it
/// (`Ok(None)`: an entry without an id). A level there whose counts cannot be read is an
/// error naming the item: read as 0, a delta was written as the whole count (stocked 0 + 2
/// set the shop's stock to 2), and Get QOH took 0 for the cart's count.
fn parse_item(item: &Value, location: &str) -> std::result::Result<Option<Found>, CartError> {
    let Some(id) = item["id"].as_str() else {
        return Ok(None);
    };
    let sku = item["sku"]
        .as_str()
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    let level = item["location_levels"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["location_id"].as_str() == Some(location))
        .map(|l| {
            level(l).ok_or_else(|| {
                CartError::Unavailable(format!(
                    "medusa: inventory item {id}: its level at {location} has no readable \
                     stocked_quantity or reserved_quantity: {}",
                    truncate(&l.to_string())
                ))
            })
        })
        .transpose()?;
    Ok(Some(Found {
        id: id.to_owned(),
        sku,
        level,
    }))
}

/// A location level's counts (`None` when they are missing or not numbers); `available` is
/// stocked less reserved when Medusa leaves it out. Until 2026-12-05 a fraction was cut off
/// without a word, and a sale written over 10.5 stocked wrote 9.
fn level(l: &Value) -> Option<Level> {
    // JSON numbers only: Medusa sends its big-number fields as plain numbers, so text there
    // is not Medusa's.
    let number = |v: &Value| v.is_number().then(|| common::whole_count(v)).flatten();
    let stocked = number(&l["stocked_quantity"])?;
    let reserved = number(&l["reserved_quantity"])?;
    let down = |c: std::result::Result<i64, f64>| c.unwrap_or_else(|f| f.floor() as i64);
    let exact = |c: std::result::Result<i64, f64>| c.map_or_else(|f| f, |n| n as f64);
    let fractional = stocked.is_err() || reserved.is_err();
    let available = match number(&l["available_quantity"]) {
        Some(a) => down(a),
        None if fractional => (exact(stocked) - exact(reserved)).floor() as i64,
        None => down(stocked) - down(reserved),
    };
    Some(Level {
        stocked: down(stocked),
        reserved: down(reserved),
        available,
        fractional,
    })
}

/// Why a change of `sku` is not written over a level with a fraction: a whole change
/// written there would keep the fraction (or, written as whole units, drop it), and the
/// read-back could not tell it from a count in step. As WooCommerce's adapter says of its
/// own fractions.
fn fraction_kept(sku: &str) -> SendOutcome {
    SendOutcome::Failed {
        message: format!(
            "sku {sku}: Medusa keeps a stocked or reserved quantity with a fraction for it, and this adapter sends whole units: set a whole count in Medusa, or send one with Send QOH"
        ),
    }
}

/// Why the level of `item` at `location` cannot be read ([`level`] cannot read it): the cause
/// alone, as [`super::CataloguePage::unreadable`] asks.
fn unreadable_level(item: &Value, location: &str) -> String {
    let l = item["location_levels"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|l| l["location_id"].as_str() == Some(location))
        .cloned()
        .unwrap_or_default();
    format!(
        "stocked_quantity {} or reserved_quantity {} at {location} is not a number",
        truncate(&l["stocked_quantity"].to_string()),
        truncate(&l["reserved_quantity"].to_string()),
    )
}

/// The `stocked_quantity` that publishes `available` while `reserved` units are held.
fn stocked_for(available: i64, reserved: i64) -> Option<i64> {
    available.checked_add(reserved.max(0))
}

/// The body of one batch write: levels to update and levels to create.
fn batch_body(location: &str, writes: &[(&str, i64, bool)]) -> Value {
    let mut create = Vec::new();
    let mut update = Vec::new();
    for (id, stocked, exists) in writes {
        let entry =
            json!({"inventory_item_id": id, "location_id": location, "stocked_quantity": stocked});
        if *exists {
            update.push(entry);
        } else {
            create.push(entry);
        }
    }
    json!({"create": create, "update": update, "delete": []})
}

/// How many session JWTs an adapter keeps to scrub (see `MedusaAdapter::jwt`).
const JWTS_KEPT: usize = 4;

/// The Medusa adapter of one cart.
pub struct MedusaAdapter {
    base: Url,
    client: Client,
    auth: MedusaAuth,
    location: String,
    /// The JWTs of this adapter's logins (email + password only), the current one last. An
    /// answer to a request made before the latest login may quote an older one, still valid
    /// at Medusa: the last few are kept to scrub them.
    jwt: Mutex<Vec<Secret>>,
    /// The `Authorization` value of an API key, made once.
    api_key: Option<HeaderValue>,
    /// SKU → inventory item id.
    ids: Mutex<HashMap<String, String>>,
    /// Whether Medusa said it has the stock location: asked once, before the first request.
    location_found: std::sync::atomic::AtomicBool,
    /// The inventory items the Get QOH listing under way has returned (see `page`).
    listed: Mutex<HashSet<String>>,
    /// The inventory items this adapter's Send QOH set, by SKU.
    set_once: common::SetOnce,
    /// The listing's padded SKUs ([`MedusaAdapter::padded`]).
    padded_index: common::PaddedIndex<Padded>,
}

impl fmt::Debug for MedusaAdapter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MedusaAdapter")
            .field("url", &self.base.as_str())
            .field("location_id", &self.location)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}

impl MedusaAdapter {
    /// How it sends changes.
    pub(crate) const UPDATE_MODE: UpdateMode = UpdateMode::Absolute;

    /// An adapter for the Medusa backend at `url`, publishing the counts of stock location
    /// `location_id` (`sloc_…`).
    pub fn new(url: &str, auth: MedusaAuth, location_id: &str, timeout: Duration) -> Result<Self> {
        let base = common::base_url(url, "medusa")?;
        let location = location_id.trim();
        if location.is_empty() || location.contains(['/', '?', '#', ' ']) {
            return Err(Error::invalid(
                "medusa location_id must be a stock location id such as sloc_…",
            ));
        }
        match &auth {
            MedusaAuth::ApiKey(k) if k.expose().is_empty() => {
                return Err(Error::invalid("medusa api_key is empty"))
            }
            MedusaAuth::EmailPass { email, password }
                if email.trim().is_empty() || password.expose().is_empty() =>
            {
                return Err(Error::invalid(
                    "medusa email and password must not be empty",
                ))
            }
            _ => {}
        }
        // Made now, so a bad key fails at configuration rather than at the first send.
        let api_key = match &auth {
            MedusaAuth::ApiKey(k) => Some(common::secret_value(
                &common::basic_auth(&format!("{}:", k.expose())),
                "medusa api_key",
            )?),
            MedusaAuth::EmailPass { .. } => None,
        };
        Ok(MedusaAdapter {
            base,
            client: common::client(HeaderMap::new(), timeout, "medusa")?,
            auth,
            location: location.to_owned(),
            jwt: Mutex::new(Vec::new()),
            api_key,
            ids: Mutex::new(HashMap::new()),
            set_once: Default::default(),
            location_found: Default::default(),
            listed: Mutex::new(HashSet::new()),
            padded_index: Default::default(),
        })
    }

    fn secrets(&self) -> Vec<String> {
        let mut out = Vec::new();
        match &self.auth {
            MedusaAuth::ApiKey(k) => out.push(k.expose().to_owned()),
            MedusaAuth::EmailPass { password, .. } => out.push(password.expose().to_owned()),
        }
        out.extend(self.jwt.lock().iter().map(|t| t.expose().to_owned()));
        out
    }

    /// Removes every credential from an error's text.
    fn clean(&self, e: CartError) -> CartError {
        let secrets = self.secrets();
        e.map_message(|m| common::scrub(m, &secrets))
    }

    fn url(&self, path: &str) -> Url {
        self.base.join(path).expect("fixed relative path")
    }

    /// Logs in with email and password; the JWT is kept for later requests. Nothing of the
    /// cart's data changes here, so a lost answer is "try later", never ambiguous.
    fn login(&self, email: &str, password: &Secret) -> std::result::Result<Secret, CartError> {
        let body = serde_json::to_vec(&json!({"email": email, "password": password.expose()}))
            .expect("json");
        let result = common::exchange(
            self.client
                .post(self.url("auth/user/emailpass"))
                .header(CONTENT_TYPE, "application/json")
                .body(body),
            |_| None,
        );
        // No login, no request: a login that fails for good (a wrong URL's 404) pauses the
        // cart as refused credentials do, rather than bypass every batch that meets it.
        let (_, bytes) = result.map_err(|e| match e {
            CartError::Unauthorized(m) => CartError::Unauthorized(format!(
                "medusa login as {email} refused (check email and password): {m}"
            )),
            CartError::Rejected(m) => {
                CartError::Unauthorized(format!("medusa login refused (check the cart's url): {m}"))
            }
            other => common::read_lost(other),
        })?;
        // The answer holds the token: never quote it. A page without one (a maintenance or
        // start-up page in front of Medusa) is an outage, as it would be for any read.
        let token = serde_json::from_slice::<Value>(&bytes)
            .ok()
            .and_then(|v| v["token"].as_str().map(str::to_owned))
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                CartError::Unavailable(
                    "medusa login: the answer has no token (is this a Medusa v2 backend?)"
                        .to_owned(),
                )
            })?;
        Ok(Secret::new(token))
    }

    /// The `Authorization` header; `fresh` forces a new login.
    fn authorization(&self, fresh: bool) -> std::result::Result<HeaderValue, CartError> {
        match (&self.api_key, &self.auth) {
            (Some(key), _) => Ok(key.clone()),
            (None, MedusaAuth::EmailPass { email, password }) => {
                let mut jwt = self.jwt.lock();
                if fresh || jwt.is_empty() {
                    let token = self.login(email, password)?;
                    if jwt.len() == JWTS_KEPT {
                        jwt.remove(0);
                    }
                    jwt.push(token);
                }
                let token = jwt.last().expect("logged in");
                let mut v =
                    HeaderValue::from_str(&format!("Bearer {}", token.expose())).map_err(|_| {
                        CartError::Rejected("medusa login: the token is not header-safe".into())
                    })?;
                v.set_sensitive(true);
                Ok(v)
            }
            (None, MedusaAuth::ApiKey(_)) => Err(CartError::Rejected(
                "medusa: the api_key header was not made".into(),
            )),
        }
    }

    /// One admin request with its JSON answer. A 401 with email + password logs in again and
    /// repeats the request once (a 401 means Medusa did nothing).
    fn call(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
    ) -> std::result::Result<Value, CartError> {
        self.call_seen(method, url, body, &Cell::new(None), &Cell::new(None))
    }

    /// [`Self::call`], noting in `status` the status of the answer (`None` when none came: a
    /// lost answer), and in `seen` what came of a 2xx ([`common::exchange_seen`]).
    fn call_seen(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        status: &Cell<Option<StatusCode>>,
        seen: &Cell<Option<common::Seen>>,
    ) -> std::result::Result<Value, CartError> {
        let relogin = matches!(self.auth, MedusaAuth::EmailPass { .. });
        for attempt in 0..2 {
            let auth = self.authorization(attempt > 0).map_err(|e| self.clean(e))?;
            let mut request = self
                .client
                .request(method.clone(), url.clone())
                .header(AUTHORIZATION, auth);
            if let Some(b) = body {
                request = request
                    .header(CONTENT_TYPE, "application/json")
                    .body(serde_json::to_vec(b).expect("json"));
            }
            let unauthorized = Cell::new(false);
            status.set(None);
            let answered = Cell::new(None);
            let result = common::exchange_seen(
                request,
                |r| {
                    status.set(Some(r.status()));
                    unauthorized.set(r.status() == StatusCode::UNAUTHORIZED);
                    // Medusa answers 409 to a request that conflicted with another one and says
                    // to retry it (its error handler's CONFLICT): nothing was applied, and a
                    // retry reads again before it writes.
                    if r.status() == StatusCode::CONFLICT {
                        return Some(CartError::Unavailable(
                            "HTTP 409: Medusa says the request conflicted with another; retry"
                                .into(),
                        ));
                    }
                    // A delta is read, add, write: the write sent twice adds it twice.
                    (method != Method::GET).then(|| write_error(r)).flatten()
                },
                &answered,
            );
            seen.set(answered.get());
            if let Some(a) = answered.get() {
                status.set(Some(a.status));
            }
            match result {
                Ok((_, bytes)) => {
                    return serde_json::from_slice(&bytes).map_err(|e| {
                        let m = common::malformed("medusa", e, &bytes);
                        // A write whose answer cannot be read may have applied.
                        if method == Method::GET {
                            self.clean(CartError::Unavailable(m))
                        } else {
                            self.clean(CartError::Ambiguous(m))
                        }
                    });
                }
                Err(_) if unauthorized.get() && relogin && attempt == 0 => continue,
                Err(e) => return Err(self.clean(e)),
            }
        }
        unreachable!("the loop returns")
    }

    /// Inventory items by `field` (`id` or `sku`), in lookups of at most [`LOOKUP_VALUES`]. The
    /// ids found are cached by SKU.
    ///
    /// Each value goes as its own `{field}[]`, and a lookup of one value names it twice:
    /// Medusa's `normalizeQuery` splits an array of one string on commas (its way of taking a
    /// list in one value), so `sku[]=TEE,RED` alone asked for TEE and RED, and a SKU holding a
    /// comma was never found (its changes failed as unknown while Get QOH took its count).
    fn lookup(&self, field: &str, values: &[&str]) -> std::result::Result<Vec<Found>, CartError> {
        let mut out = Vec::new();
        for chunk in values.chunks(LOOKUP_VALUES) {
            let mut url = self.url("admin/inventory-items");
            {
                let mut q = url.query_pairs_mut();
                let name = format!("{field}[]");
                for v in chunk {
                    q.append_pair(&name, v);
                }
                if let [one] = chunk {
                    q.append_pair(&name, one);
                }
                q.append_pair("fields", FIELDS);
                q.append_pair("limit", &chunk.len().to_string());
            }
            let answer = self.call(Method::GET, url, None)?;
            let items = answer["inventory_items"].as_array().ok_or_else(|| {
                CartError::Unavailable(format!(
                    "medusa: the inventory item list has no inventory_items: {}",
                    truncate(&answer.to_string())
                ))
            })?;
            for i in items {
                out.extend(parse_item(i, &self.location)?);
            }
        }
        let mut ids = self.ids.lock();
        for f in &out {
            if let Some(sku) = &f.sku {
                ids.insert(sku.clone(), f.id.clone());
            }
        }
        Ok(out)
    }

    /// The current item and level of each (sku, remote_ref); `Ok(None)` for an unknown SKU,
    /// `Err` (why) for one held only padded on more than one item ([`Self::padded`]).
    fn read(&self, items: &[(&str, Option<&str>)]) -> std::result::Result<Vec<Looked>, CartError> {
        // Each item's id, and whether it came from the cache: a cached id is the SKU's only
        // while Medusa still answers that SKU for it (the owner may have renamed the old
        // item's SKU and given it to a new one, which would then never get its sales).
        let known: Vec<Option<(String, bool)>> = {
            let ids = self.ids.lock();
            items
                .iter()
                .map(|(sku, r)| {
                    r.filter(|r| !r.trim().is_empty())
                        .map(|r| (r.to_owned(), false))
                        .or_else(|| ids.get(*sku).map(|id| (id.clone(), true)))
                })
                .collect()
        };
        let by_id: Vec<&str> = known.iter().flatten().map(|(id, _)| id.as_str()).collect();
        let mut found_by_id: HashMap<String, Found> = HashMap::new();
        if !by_id.is_empty() {
            for f in self.lookup("id", &by_id)? {
                found_by_id.insert(f.id.clone(), f);
            }
        }
        let still = |sku: &str, k: &Option<(String, bool)>| {
            k.as_ref().and_then(|(id, cached)| {
                found_by_id
                    .get(id)
                    .filter(|f| !cached || f.sku.as_deref() == Some(sku))
            })
        };
        let by_sku: Vec<&str> = items
            .iter()
            .zip(&known)
            .filter(|((sku, _), k)| still(sku, k).is_none())
            .map(|((sku, _), _)| *sku)
            .collect();
        let mut found_by_sku: HashMap<String, Found> = HashMap::new();
        if !by_sku.is_empty() {
            for f in self.lookup("sku", &by_sku)? {
                if let Some(s) = f.sku.clone() {
                    found_by_sku.insert(s, f);
                }
            }
        }
        // Only the SKUs the exact lookup did not find are looked for padded: a catalogue whose
        // SKUs all match makes the requests it always made.
        let mut missing: Vec<&str> = by_sku
            .iter()
            .copied()
            .filter(|s| !found_by_sku.contains_key(*s))
            .collect();
        missing.sort_unstable();
        missing.dedup();
        let padded = match missing.is_empty() {
            true => HashMap::new(),
            false => match self.padded(&missing) {
                Ok(padded) => padded,
                // A rate limit or refused credentials hold the whole cart (rule 10).
                Err(e @ (CartError::RateLimited { .. } | CartError::Unauthorized(_))) => {
                    return Err(e)
                }
                // Any other failure of the listing's read leaves only the SKUs it was for
                // unsent, tried again later: the SKUs found exactly go on, as before padded
                // SKUs were looked for (until 2026-12-05 a page of the listing failing
                // stopped every change of a call with one SKU the shop lacks).
                Err(e) => missing
                    .iter()
                    .map(|s| {
                        let outcome = SendOutcome::Retry {
                            message: format!(
                                "sku {s}: not found exactly, and the listing where it is \
                                 looked for padded with blanks could not be read: {}",
                                e.message()
                            ),
                            after: None,
                        };
                        ((*s).to_owned(), Err(outcome))
                    })
                    .collect(),
            },
        };
        Ok(items
            .iter()
            .zip(&known)
            .map(
                |((sku, _), k)| match still(sku, k).or_else(|| found_by_sku.get(*sku)) {
                    Some(f) => Ok(Some(f.clone())),
                    None => padded.get(*sku).cloned().unwrap_or(Ok(None)),
                },
            )
            .collect())
    }

    /// The inventory items of `missing` (SKUs the exact lookup did not find) whose SKU is the
    /// one asked padded with blanks (`TEE ` for TEE: imported past the admin's own trimming),
    /// which Get QOH reads as the SKU asked (trimmed, as the store reads SKUs): without them,
    /// every change of TEE failed as unknown while Get QOH took the item's count. A SKU left
    /// out has no such item.
    ///
    /// Medusa's `sku` filter of inventory items takes exact values only (a string or a list
    /// of them, no operator: `AdminGetInventoryItemsParams`), compared by PostgreSQL, which
    /// neither pads nor trims text; guessing padded forms would miss any padding not guessed
    /// (two blanks, a tab). Its `q` finds every padded form, but is a search per SKU (an
    /// `ILIKE '%q%'` over five columns), and a store holds many items its shop does not sell:
    /// one per SKU not found cost a Send QOH one search per such item, every time. So the
    /// whole listing is read instead, once, by the pages Get QOH reads it by
    /// ([`Self::listing`]), and its padded SKUs kept as an index for
    /// [`common::PADDED_INDEX_TTL`] and until the next manual run
    /// ([`common::PaddedIndex`]): a call that finds every SKU exactly never reads it, and an
    /// unknown SKU costs it at most once per [`common::PADDED_INDEX_TTL`]. An item found in the
    /// index is read again by its id (its count now, which a delta is added to; one read per
    /// [`LOOKUP_VALUES`] such items), and kept only if its SKU trimmed is still the one asked; it
    /// is written by that id. It is not cached by SKU: each call looks the SKU up exactly
    /// first, so an exact item made since takes over.
    ///
    /// Found on two items (`TEE ` and ` TEE`), neither is surely the item's (Get QOH applies
    /// neither count): the change is refused, naming both, until the index is read again
    /// with one of them fixed. A SKU also held exactly never comes here: the exact item
    /// takes its changes, as before padded SKUs were looked for, and its padded twin none;
    /// the exact item is the one Medusa itself answers for the SKU, so no count lands on an
    /// item whose SKU is not the store's.
    fn padded(&self, missing: &[&str]) -> std::result::Result<HashMap<String, Looked>, CartError> {
        let (index, _) = self.padded_index.find(missing, || self.padded_listing())?;
        let (single, twins) = common::padded_split(
            index
                .iter()
                .map(|(sku, items)| (sku.as_str(), items.as_slice())),
            "Medusa holds",
            "inventory item",
            |p| format!("{:?} ({})", p.sku, p.id),
        );
        let mut out: HashMap<String, Looked> = twins
            .into_iter()
            .map(|(sku, message)| (sku.to_owned(), Err(SendOutcome::Failed { message })))
            .collect();
        // Item id → the SKU asked, for those found on one item alone.
        let single: HashMap<&str, &str> = single
            .into_iter()
            .map(|(sku, one)| (one.id.as_str(), sku))
            .collect();
        let ids: Vec<&str> = single.keys().copied().collect();
        if !ids.is_empty() {
            for f in self.lookup("id", &ids)? {
                let Some(sku) = single.get(f.id.as_str()) else {
                    continue;
                };
                if f.sku.as_deref().map(str::trim) == Some(*sku) {
                    out.insert((*sku).to_owned(), Ok(Some(f)));
                }
            }
        }
        Ok(out)
    }

    /// The padded SKUs of the whole inventory-item listing, by their trimmed form: the index
    /// [`Self::padded`] keeps.
    fn padded_listing(&self) -> std::result::Result<common::PaddedSkus<Padded>, CartError> {
        let mut index = common::PaddedListing::default();
        let mut cursor = None;
        loop {
            let (list, next, restarted) =
                self.listing(cursor.as_deref(), MAX_PAGE, PADDED_FIELDS)?;
            // Started again from the first page (items deleted behind it): what the pages
            // before found is dropped, as BigCommerce's is. An item deleted since (the
            // deletion that started it again) stayed a twin of its SKU's other padded item,
            // every change of the SKU refused (bypassed) while the index was kept (until
            // 2026-12-05).
            if restarted {
                index.restart();
            }
            for i in &list {
                let (Some(id), Some(sku)) = (i["id"].as_str(), i["sku"].as_str()) else {
                    continue;
                };
                index.add(Some(id), sku, || Padded {
                    id: id.to_owned(),
                    sku: sku.to_owned(),
                });
            }
            match next {
                Some(n) => cursor = Some(n),
                None => return Ok(index.done()),
            }
        }
    }

    /// Writes `stocked_quantity`s with the batch endpoint (≤ [`MAX_BATCH`] a request), for a
    /// call of `call_len` items. Per item: `Ok(level now)` or the outcome of a failed request.
    fn write(
        &self,
        items: &[Write<'_>],
        call_len: usize,
    ) -> std::result::Result<Vec<std::result::Result<Option<Level>, SendOutcome>>, CartError> {
        let mut out = Vec::with_capacity(items.len());
        for (n, chunk) in items.chunks(MAX_BATCH).enumerate() {
            let writes: Vec<(&str, i64, bool)> = chunk
                .iter()
                .map(|w| (w.id.as_str(), w.stocked, w.before.is_some()))
                .collect();
            let body = batch_body(&self.location, &writes);
            let status = Cell::new(None);
            let seen = Cell::new(None);
            // Whether the 200 is Medusa's own (JSON): then it came once the workflow ended.
            let medusas = || seen.get().is_some_and(|s: common::Seen| s.json);
            let answer = match self.call_seen(
                Method::POST,
                self.url("admin/inventory-items/location-levels/batch"),
                Some(&body),
                &status,
                &seen,
            ) {
                Ok(a) => a,
                // Medusa writes a batch's levels in one transaction, rolled back whole when one
                // item fails ("Item iitem_2 is not stocked at location …"): the items it names fail, the
                // others were not applied and go again, instead of all being refused for good.
                Err(CartError::Rejected(m)) if chunk.iter().any(|w| names_item(&m, &w.id)) => {
                    out.extend(chunk.iter().map(|w| {
                        Err(match names_item(&m, &w.id) {
                            true => SendOutcome::Failed {
                                message: format!("sku {}: rejected: {m}", w.sku),
                            },
                            false => SendOutcome::Retry {
                                message: format!(
                                    "sku {}: not applied: Medusa refused its batch for another item ({m})",
                                    w.sku
                                ),
                                after: None,
                            },
                        })
                    }));
                    continue;
                }
                // The first request too large (413): nothing of the call was written, and
                // the call is halved (`apply_deltas`, `set_quantities`).
                Err(e) if n == 0 && common::too_large(&e) => return Err(e),
                Err(e) => {
                    let e = match e {
                        // Medusa's own 500 comes once its workflow has ended: the levels read
                        // now say whether the write stands.
                        CartError::Ambiguous(m)
                            if status.get() == Some(StatusCode::INTERNAL_SERVER_ERROR) =>
                        {
                            match self.read_back(
                                chunk,
                                "HTTP 500 (Medusa's own error, once its workflow had ended)",
                                true,
                            ) {
                                Some(judged) => {
                                    out.extend(judged);
                                    continue;
                                }
                                None => CartError::Ambiguous(m),
                            }
                        }
                        // A 200 whose body could not be read or was not JSON: Medusa
                        // sent it once its workflow had ended (`read_back_200`).
                        CartError::Ambiguous(m) if status.get() == Some(StatusCode::OK) => {
                            match self.read_back(chunk, &read_back_200(&m), medusas()) {
                                Some(judged) => {
                                    out.extend(judged);
                                    continue;
                                }
                                None => CartError::Ambiguous(m),
                            }
                        }
                        e => e,
                    };
                    if common::fails_whole_call(&e, n == 0, chunk.len() == call_len) {
                        return Err(e);
                    }
                    out.extend(
                        chunk
                            .iter()
                            .map(|w| Err(outcome_for_failed_request(&e, w.sku, false))),
                    );
                    if common::ends_write(&e) {
                        let rest = &items[((n + 1) * MAX_BATCH).min(items.len())..];
                        out.extend(rest.iter().map(|w| Err(common::not_sent_after(&e, w.sku))));
                        break;
                    }
                    continue;
                }
            };
            // JSON of another shape (a proxy or plugin rewriting the answer): as unreadable.
            // Where the read fails, each item is read again to verify (`judged`), and stays in
            // doubt unless the count written stands.
            if status.get() == Some(StatusCode::OK)
                && !answer["created"].is_array()
                && !answer["updated"].is_array()
            {
                let why = format!(
                    "JSON without `created` or `updated`: {}",
                    truncate(&answer.to_string())
                );
                if let Some(judged) = self.read_back(chunk, &read_back_200(&why), medusas()) {
                    out.extend(judged);
                    continue;
                }
            }
            let mut levels: HashMap<String, Level> = HashMap::new();
            for key in ["created", "updated"] {
                for l in answer[key].as_array().into_iter().flatten() {
                    if l["location_id"].as_str() != Some(self.location.as_str()) {
                        continue;
                    }
                    // A level that cannot be read is left out: as for one not in the
                    // answer, the write cannot be verified.
                    if let (Some(id), Some(level)) = (l["inventory_item_id"].as_str(), level(l)) {
                        levels.insert(id.to_owned(), level);
                    }
                }
            }
            out.extend(chunk.iter().map(|w| Ok(levels.get(&w.id).copied())));
        }
        Ok(out)
    }

    /// Judges each write of a batch Medusa answered 500 (`answer`) by its level read now
    /// ([`common::after_failed_write`]; where the count written stands, `Ok` with the level,
    /// judged as any answer's level is). `None` when the read fails: the batch stays a lost
    /// answer. Unless `ended` (the answer shows the workflow had ended), the count read
    /// before is no sign of "not applied" (the write may still be under way): uncertain.
    fn read_back(
        &self,
        chunk: &[Write<'_>],
        answer: &str,
        ended: bool,
    ) -> Option<Vec<std::result::Result<Option<Level>, SendOutcome>>> {
        let keys: Vec<(&str, Option<&str>)> =
            chunk.iter().map(|w| (w.sku, Some(w.id.as_str()))).collect();
        let found = self.read(&keys).ok()?;
        let judged = chunk.iter().zip(found).map(|(w, f)| {
            let now = f.ok().flatten().filter(|f| f.id == w.id).and_then(|f| f.level);
            match now {
                // Holds that fell are a fulfilment in the window: it takes its units off the
                // stocked count too, so the count read before no longer says the write did
                // not stand (a return written 10 → 11, then a unit shipped: 10 again), and
                // the undo of a write that stood erases the shipment's change. In doubt, as
                // for any answer's level (`after_write`).
                Some(l) if l.reserved < w.reserved => Err(after_write(w, l)),
                now => match common::after_failed_write(
                    w.sku,
                    answer,
                    w.stocked,
                    w.before,
                    now.map(|l| l.stocked),
                ) {
                    Err(SendOutcome::Retry { .. }) if !ended => Err(SendOutcome::Uncertain {
                        message: format!(
                            "sku {}: the cart answered {answer}, but not as Medusa does (not JSON: a proxy's own page?), so the write may still have been under way when the level, still {}, was read; not sent again; left for the drift report",
                            w.sku,
                            w.before.map_or("none".to_owned(), |b| b.to_string())
                        ),
                    }),
                    judged => judged.map(|()| now),
                },
            }
        });
        Some(judged.collect())
    }
}

/// What `MedusaAdapter::read_back` names as the answer to a batch answered 200 with a body
/// that could not be used (`why`: cut short, not JSON, JSON of another shape). Until
/// 2026-12-05 such a batch was left uncertain for the owner to check by hand; it is settled
/// by the levels read back, by the rules of Medusa's own 500: the count written stands
/// (applied), the count read before does (not applied, sent again), holds fell or another
/// count stands (uncertain). Where that could be fooled:
///
/// - A write still being applied when the read comes. Medusa's route awaits the batch
///   workflow, its undo included, and only then sends its answer, status line and body
///   together (`res.json`): a 200, whole or cut short by a proxy on its way, comes once the
///   levels are committed or rolled back. So the count read before does mean "not applied"
///   here, unlike a lost answer or a gateway's 504, which can come while the workflow runs
///   (those stay uncertain). Only a 200 is read so: another 2xx (a 202 "accepted" from
///   something queueing the request) may come before the workflow ran, and stays a lost
///   answer. And only a 200 that is JSON (as `res.json` sends it; a proxy that cuts or
///   rewrites the body keeps the header) is taken for Medusa's: a proxy's own page sent 200
///   where it gave up waiting (an `error_page … =200`) may come while the workflow runs, so
///   it settles a write only where the count written stands.
/// - Reserved quantity: an order placed between the write and the read raises the holds
///   only, not the stocked count compared; a fulfilment takes its units off the stocked
///   count and drops its holds, and holds that fell leave the item uncertain, as at a 500.
/// - A storefront return or restock between the write and the read that moves the stocked
///   count elsewhere leaves it uncertain; one that takes a written count back exactly to the
///   one read before reads as not applied, and the write goes again on top: the
///   read-add-write window of every Medusa write (DESIGN §4), which the 500's read-back
///   accepts too.
fn read_back_200(why: &str) -> String {
    format!(
        "HTTP 200 with an answer that could not be read, sent once Medusa's workflow had ended ({})",
        truncate(why)
    )
}

/// One level to write, as planned from the level read before it.
struct Write<'a> {
    /// The item's place in the call.
    at: usize,
    /// Medusa's inventory item.
    id: String,
    /// The stocked count to write.
    stocked: i64,
    /// The stocked count read (`None`: no level at the location yet, so the write creates it).
    before: Option<i64>,
    /// The held (reserved) count read.
    reserved: i64,
    sku: &'a str,
}

/// The `on_error` of a write: a lost answer where a gateway gave up on it
/// ([`common::gateway_lost_answer`]), and also at a 503 or a 500. Medusa never answers 503
/// itself (its error handler sends 4xx and 500), so a 503 to a write comes from a router or
/// proxy in front of it, which may have given up on a write Medusa goes on to apply (Heroku's
/// router answers 503 at its time-out, and "the application will continue to work on the
/// request"). Medusa's own 500 may follow a committed write: the batch workflow's update step
/// commits its own transaction, and where it fails after that commit, or its undo fails, the
/// write stands. Read as nothing applied, the sale was read, added and written again;
/// `MedusaAdapter::write` reads the levels back instead.
fn write_error(r: &reqwest::blocking::Response) -> Option<CartError> {
    match r.status() {
        StatusCode::SERVICE_UNAVAILABLE => Some(CartError::Ambiguous(format!(
            "HTTP {} to a write, from in front of Medusa: it may have been applied",
            r.status()
        ))),
        StatusCode::INTERNAL_SERVER_ERROR => Some(CartError::Ambiguous(format!(
            "HTTP {} to a write: Medusa may have applied it before the error",
            r.status()
        ))),
        _ => common::gateway_lost_answer(r).or_else(|| common::see_other_lost_answer(r)),
    }
}

/// What write `w` (its `stocked`, to a level read with `reserved` held) came to, by the level seen
/// after it: applied; or in doubt when another stocked count stands (a change raced ours), or
/// when the holds fell meanwhile (a fulfilment in between takes its units off the stocked
/// count, which the write put back, so the shop offers more than the count meant). Holds
/// that rose are an order placed meanwhile: the write stands. What the shop offers is worked
/// out as Medusa does, stocked less held: a batch answer's `available_quantity` is the one
/// from before the write (Medusa 2 answers the stocked count written beside the available
/// count it had: 6 for a write of 7 with 3 held).
fn after_write(w: &Write<'_>, after: Level) -> SendOutcome {
    let (sku, stocked, reserved) = (w.sku, w.stocked, w.reserved);
    let offers = after.stocked - after.reserved;
    if after.stocked != stocked {
        return SendOutcome::Uncertain {
            message: format!(
                "sku {sku}: wrote stocked {stocked} but read back {} (another change raced ours); left for the drift report",
                after.stocked
            ),
        };
    }
    if after.reserved < reserved {
        return SendOutcome::Uncertain {
            message: format!(
                "sku {sku}: wrote stocked {stocked}, but Medusa's holds fell from {reserved} to {} meanwhile: a fulfilment in between takes its units off the stocked count, which our write may have put back; it offers {}; left for the drift report",
                after.reserved, offers
            ),
        };
    }
    SendOutcome::Applied { qoh: Some(offers) }
}

/// Whether Medusa's refusal `message` names inventory item `id` (as a whole word: `iitem_1`
/// is not named by `iitem_12`).
fn names_item(message: &str, id: &str) -> bool {
    if id.is_empty() {
        return false;
    }
    message.match_indices(id).any(|(at, _)| {
        let word = |c: char| c.is_ascii_alphanumeric() || c == '_';
        !message[..at].ends_with(word) && !message[at + id.len()..].starts_with(word)
    })
}

impl MedusaAdapter {
    fn no_level(&self, sku: &str) -> SendOutcome {
        SendOutcome::Failed {
            message: format!(
                "sku {sku}: the Medusa inventory item has no level at stock location {} (Send QOH creates it)",
                self.location
            ),
        }
    }
}

/// Every answer leaves through `MedusaAdapter::clean`: besides the configured secrets
/// (which the registry scrubs too), the session JWTs are known only here, and any message
/// built from a cart's answer may quote one (a proxy or an echo endpoint answering 2xx with
/// the request's headers).
fn unknown(sku: &str, remote_ref: Option<&str>) -> SendOutcome {
    common::not_found(sku, remote_ref, "Medusa inventory item")
}

/// The inventory item a lookup found for `sku` (`MedusaAdapter::read`), or, where it found
/// none to write, the change's outcome: unknown, held padded on more than one item, or not
/// looked for padded (the listing could not be read).
fn found<'a>(
    looked: &'a Looked,
    sku: &str,
    remote_ref: Option<&str>,
) -> std::result::Result<&'a Found, SendOutcome> {
    match looked {
        Ok(Some(f)) => Ok(f),
        Ok(None) => Err(unknown(sku, remote_ref)),
        Err(outcome) => Err(outcome.clone()),
    }
}

impl CartAdapter for MedusaAdapter {
    fn begin_manual_run(&self) {
        self.set_once.clear();
        // The owner may just have fixed the shop's padded SKUs (`padded`).
        self.padded_index.forget();
    }
    fn update_mode(&self) -> UpdateMode {
        Self::UPDATE_MODE
    }
    fn apply_deltas(
        &self,
        deltas: &[DeltaSend],
    ) -> std::result::Result<Vec<SendOutcome>, CartError> {
        // A call refused as too large (413: a proxy's or Medusa's own body limit) goes again
        // in halves; refused, every sale of it was bypassed at once.
        self.cleaned(self.check_location().and_then(|()| {
            common::halving_on_too_large(deltas, &|d: &DeltaSend| d.sku.as_str(), false, &mut |p| {
                self.deltas(p)
            })
        }))
    }
    fn set_quantities(
        &self,
        sets: &[QuantitySet],
    ) -> std::result::Result<Vec<SendOutcome>, CartError> {
        self.cleaned(self.check_location().and_then(|()| {
            common::halving_on_too_large(sets, &|s: &QuantitySet| s.sku.as_str(), false, &mut |p| {
                self.sets(p)
            })
        }))
    }
    fn fetch_quantities(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> std::result::Result<QuantityPage, CartError> {
        self.check_location()
            .and_then(|()| self.page(cursor, limit, None, None))
            .map_err(|e| self.clean(e))
    }

    /// As `fetch_quantities`, but an item whose level cannot be read is named in
    /// `unreadable` (scrubbed) rather than failing the page: until 2026-12-05 one damaged
    /// level stopped the whole Get QOH, with no other count taken.
    fn fetch_catalogue(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> std::result::Result<CataloguePage, CartError> {
        let (mut unreadable, mut details) = (Vec::new(), Vec::new());
        let counts = self
            .check_location()
            .and_then(|()| self.page(cursor, limit, Some(&mut unreadable), Some(&mut details)))
            .map_err(|e| self.clean(e))?;
        let secrets = self.secrets();
        Ok(CataloguePage {
            counts,
            unreadable: common::scrub_reasons(unreadable, &secrets),
            details,
            ..Default::default()
        })
    }
}

impl MedusaAdapter {
    /// Asks Medusa, once, whether it has the configured stock location. Its batch endpoint
    /// creates levels at any location id, known or not, so Send QOH to a mistyped one would
    /// report every count sent while the location the shop sells from never changed, and
    /// Get QOH would find no item stocked. A location Medusa does not have pauses the cart,
    /// as refused credentials do ([`CartError::Unauthorized`]): no record is tried or
    /// bypassed until the cart's `location_id` is fixed.
    fn check_location(&self) -> std::result::Result<(), CartError> {
        use std::sync::atomic::Ordering;
        if self.location_found.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut url = self.url("admin/stock-locations/");
        url.path_segments_mut()
            .expect("an http(s) base")
            .pop_if_empty()
            .push(&self.location);
        url.query_pairs_mut().append_pair("fields", "id");
        match self.call(Method::GET, url, None) {
            Ok(_) => {
                self.location_found.store(true, Ordering::Release);
                Ok(())
            }
            Err(CartError::Rejected(m)) if m.starts_with("HTTP 404") => {
                Err(CartError::Unauthorized(format!(
                    "medusa has no stock location {:?}: check the cart's location_id ({m})",
                    self.location
                )))
            }
            Err(e) => Err(e),
        }
    }

    fn cleaned(
        &self,
        r: std::result::Result<Vec<SendOutcome>, CartError>,
    ) -> std::result::Result<Vec<SendOutcome>, CartError> {
        common::scrub_answer(r, &self.secrets())
    }

    /// What each write of `plan` came to, by `written` ([`Self::write`]). The batch answers
    /// the levels it wrote, which serve as the read-back; only an item it leaves out is read
    /// again (a read that fails would leave in doubt a write the answer showed applied). A
    /// set so left out was reported applied without a look until 2026-12-03: Send QOH then
    /// settled the waiting sales its count included, though the count may never have been
    /// written.
    fn judged(
        &self,
        plan: &[Write<'_>],
        written: Vec<std::result::Result<Option<Level>, SendOutcome>>,
    ) -> Vec<SendOutcome> {
        let verify_keys: Vec<(&str, Option<&str>)> = plan
            .iter()
            .zip(&written)
            .filter(|(_, w)| matches!(w, Ok(None)))
            .map(|(w, _)| (w.sku, Some(w.id.as_str())))
            .collect();
        let verified: std::result::Result<HashMap<String, Option<Level>>, String> =
            if verify_keys.is_empty() {
                Ok(HashMap::new())
            } else {
                self.read(&verify_keys)
                    .map(|found| {
                        found
                            .into_iter()
                            .filter_map(|f| f.ok().flatten())
                            .map(|f| (f.id, f.level))
                            .collect()
                    })
                    .map_err(|e| e.message())
            };
        plan.iter()
            .zip(written)
            .map(|(w, result)| {
                let (sku, target) = (w.sku, w.stocked);
                match result {
                    Err(outcome) => outcome,
                    Ok(Some(l)) => after_write(w, l),
                    Ok(None) => match &verified {
                        Ok(v) => match v.get(&w.id).copied().flatten() {
                            Some(l) => after_write(w, l),
                            None => SendOutcome::Uncertain {
                                message: format!(
                                    "sku {sku}: wrote stocked {target} but read back nothing (another change raced ours); left for the drift report"
                                ),
                            },
                        },
                        Err(m) => SendOutcome::Uncertain {
                            message: format!(
                                "sku {sku}: wrote stocked {target}; the verify read failed: {m}"
                            ),
                        },
                    },
                }
            })
            .collect()
    }

    fn deltas(&self, deltas: &[DeltaSend]) -> std::result::Result<Vec<SendOutcome>, CartError> {
        let keys: Vec<(&str, Option<&str>)> = deltas
            .iter()
            .map(|d| (d.sku.as_str(), d.remote_ref.as_deref()))
            .collect();
        // Read, add, write: the window of DESIGN §4 is between this read and the write.
        let current = self.read(&keys)?;
        let mut out: Vec<Option<SendOutcome>> = vec![None; deltas.len()];
        let mut plan: Vec<Write> = Vec::new();
        for (i, (d, f)) in deltas.iter().zip(&current).enumerate() {
            let f = match found(f, &d.sku, d.remote_ref.as_deref()) {
                Ok(f) => f,
                Err(outcome) => {
                    out[i] = Some(outcome);
                    continue;
                }
            };
            let Some(level) = f.level else {
                out[i] = Some(self.no_level(&d.sku));
                continue;
            };
            if level.fractional {
                out[i] = Some(fraction_kept(&d.sku));
                continue;
            }
            if plan.iter().any(|w| w.id == f.id) {
                let record = format!("Medusa's inventory item {}", f.id);
                out[i] = Some(common::sent_after_another(&d.sku, &record));
                continue;
            }
            match level.stocked.checked_add(d.delta) {
                Some(target) if target >= 0 => plan.push(Write {
                    at: i,
                    id: f.id.clone(),
                    stocked: target,
                    before: Some(level.stocked),
                    reserved: level.reserved,
                    sku: &d.sku,
                }),
                // The cart sold what the store had not yet heard of (its order not imported):
                // not applied, and tried again with the item's later changes, the import's
                // correction among them (`Verdict::Refused`), which together it can take.
                Some(target) => {
                    out[i] = Some(SendOutcome::Retry {
                        message: format!(
                            "sku {}: not applied: stocked quantity would be {target} (Medusa has {} stocked, {} reserved), and Medusa takes no negative stock; tried again with the item's later changes",
                            d.sku, level.stocked, level.reserved
                        ),
                        after: None,
                    })
                }
                None => {
                    out[i] = Some(SendOutcome::Failed {
                        message: format!("sku {}: the count would overflow", d.sku),
                    })
                }
            }
        }
        if !plan.is_empty() {
            let written = self.write(&plan, deltas.len())?;
            for (w, outcome) in plan.iter().zip(self.judged(&plan, written)) {
                out[w.at] = Some(outcome);
            }
        }
        Ok(common::outcomes(out))
    }

    fn sets(&self, sets: &[QuantitySet]) -> std::result::Result<Vec<SendOutcome>, CartError> {
        let keys: Vec<(&str, Option<&str>)> = sets
            .iter()
            .map(|s| (s.sku.as_str(), s.remote_ref.as_deref()))
            .collect();
        // The reserved count is needed for every set (stocked = target + reserved).
        let current = self.read(&keys)?;
        let mut out: Vec<Option<SendOutcome>> = vec![None; sets.len()];
        let mut plan: Vec<Write> = Vec::new();
        for (i, (s, f)) in sets.iter().zip(&current).enumerate() {
            let f = match found(f, &s.sku, s.remote_ref.as_deref()) {
                Ok(f) => f,
                Err(outcome) => {
                    out[i] = Some(outcome);
                    continue;
                }
            };
            if s.qoh < 0 {
                out[i] = Some(SendOutcome::Failed {
                    message: format!("sku {}: Medusa takes no negative count ({})", s.sku, s.qoh),
                });
                continue;
            }
            if let Some(expected) = s.expected {
                let now = f.level.map_or(0, |l| l.available);
                if now != expected {
                    out[i] = Some(SendOutcome::Conflict { current: now });
                    continue;
                }
            }
            let record = format!("Medusa's inventory item {}", f.id);
            if let Some(refused) = self.set_once.claim(&f.id, &s.sku, &record) {
                out[i] = Some(refused);
                continue;
            }
            let reserved = f.level.map_or(0, |l| l.reserved);
            let Some(stocked) = stocked_for(s.qoh, reserved) else {
                out[i] = Some(SendOutcome::Failed {
                    message: format!("sku {}: the count would overflow", s.sku),
                });
                continue;
            };
            plan.push(Write {
                at: i,
                id: f.id.clone(),
                stocked,
                before: f.level.map(|l| l.stocked),
                reserved,
                sku: &s.sku,
            });
        }
        if !plan.is_empty() {
            let written = self.write(&plan, sets.len())?;
            for (w, outcome) in plan.iter().zip(self.judged(&plan, written)) {
                out[w.at] = Some(outcome);
            }
        }
        Ok(common::outcomes(out))
    }

    /// One page of Get QOH's listing, by offset in id order. An item deleted behind the page
    /// read pulls every later one a place back, so the item that would have opened the next
    /// page is never read (its QOH left as it was, the run reported done). So each page after
    /// the first asks from one item earlier, and goes on only where that item is the last one
    /// read; otherwise the listing starts again from the first page (up to [`RESTARTS`]
    /// times), each inventory item returned once per listing. Items created meanwhile join the
    /// end (Medusa's ids sort by creation) and move nothing: a product import running while
    /// Get QOH reads does not stop it. The cursor is `offset:restarts:last id`.
    ///
    /// With `unreadable`, an item with a SKU whose level at the location cannot be read is
    /// pushed there as (SKU, why) and left out of the page (Get QOH, the drift report and
    /// the preflight, through `fetch_catalogue`); without, it fails the page (a page of
    /// counts, `fetch_quantities`, has no place for one not read).
    ///
    /// With `details`, each inventory item's variant is asked for too ([`LIST_FIELDS`]), and
    /// what Get QOH gives an item it creates is pushed there (`CataloguePage::details`).
    fn page(
        &self,
        cursor: Option<&str>,
        limit: u32,
        mut unreadable: Option<&mut Vec<(String, String)>>,
        mut details: Option<&mut Vec<ItemDetails>>,
    ) -> std::result::Result<QuantityPage, CartError> {
        let fields = match details {
            Some(_) => LIST_FIELDS,
            None => FIELDS,
        };
        if cursor.is_none() {
            self.listed.lock().clear();
        }
        let (list, next_cursor, _) = self.listing(cursor, limit, fields)?;
        let mut items = Vec::new();
        let mut ids = HashMap::new();
        {
            let mut listed = self.listed.lock();
            for i in &list {
                let f = match (parse_item(i, &self.location), unreadable.as_deref_mut()) {
                    (Ok(Some(f)), _) => f,
                    (Ok(None), _) => continue,
                    (Err(e), None) => return Err(e),
                    (Err(_), Some(out)) => {
                        let (Some(id), Some(sku)) = (
                            i["id"].as_str(),
                            i["sku"].as_str().filter(|s| !s.is_empty()),
                        ) else {
                            continue;
                        };
                        if listed.insert(id.to_owned()) {
                            out.push((sku.to_owned(), unreadable_level(i, &self.location)));
                        }
                        continue;
                    }
                };
                if !listed.insert(f.id.clone()) {
                    continue;
                }
                let Some(sku) = f.sku else { continue };
                if let Some(out) = details.as_deref_mut() {
                    let (description, options) = details_of(i);
                    out.push((sku.clone(), description, options));
                }
                ids.insert(sku.clone(), f.id);
                if let Some(l) = f.level {
                    items.push((sku, l.available));
                }
            }
        }
        self.ids.lock().extend(ids);
        Ok(QuantityPage { items, next_cursor })
    }

    /// One page of the inventory items from `cursor` (`None`: the first), at most `limit`
    /// ([`MAX_PAGE`]), each with `fields`, and the cursor of the next page (`None`: this was
    /// the last): the pages [`Self::page`] reads Get QOH's listing by (which says how), and
    /// [`Self::padded_listing`] its index. Where items were deleted behind the page read, the
    /// listing starts again from the first page: an item may come twice in one listing, and
    /// the caller keeps each once. The third value says this page started it again.
    fn listing(
        &self,
        cursor: Option<&str>,
        limit: u32,
        fields: &str,
    ) -> std::result::Result<(Vec<Value>, Option<String>, bool), CartError> {
        let (mut offset, mut restarts, mut last) = match cursor {
            None => (0, 0, None),
            Some(c) => page_cursor(c)?,
        };
        let restarted_from = restarts;
        let limit = limit.clamp(1, MAX_PAGE);
        let mut answer = loop {
            let overlap = u64::from(last.is_some() && offset > 0);
            let mut url = self.url("admin/inventory-items");
            url.query_pairs_mut()
                .append_pair("fields", fields)
                .append_pair("limit", &(u64::from(limit) + overlap).to_string())
                .append_pair("offset", &(offset - overlap).to_string())
                .append_pair("order", "id");
            let mut answer = self.call(Method::GET, url, None)?;
            let Some(list) = answer
                .get_mut("inventory_items")
                .and_then(Value::as_array_mut)
            else {
                break answer;
            };
            if overlap == 0 {
                break answer;
            }
            if list.first().and_then(|i| i["id"].as_str()) == last.as_deref() {
                list.remove(0);
                break answer;
            }
            if restarts >= RESTARTS {
                return Err(CartError::Unavailable(format!(
                    "the medusa inventory changed while it was read, {} times (items deleted \
                     behind the page read): try again when it is not being changed",
                    restarts + 1
                )));
            }
            (offset, restarts, last) = (0, restarts + 1, None);
        };
        let count = answer["count"].as_u64();
        let Some(list) = answer
            .get_mut("inventory_items")
            .and_then(Value::as_array_mut)
            .map(std::mem::take)
        else {
            return Err(CartError::Unavailable(format!(
                "medusa: the inventory item list has no inventory_items: {}",
                truncate(&answer.to_string())
            )));
        };
        let next = offset + list.len() as u64;
        let more = match count {
            Some(c) => next < c && !list.is_empty(),
            None => list.len() as u32 == limit,
        };
        let last = list
            .last()
            .and_then(|i| i["id"].as_str())
            .unwrap_or_default();
        let next_cursor = more.then(|| format!("{next}:{restarts}:{last}"));
        Ok((list, next_cursor, restarts != restarted_from))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapter::scripted::Scripted;

    const LOC: &str = "sloc_main";

    /// Serves the rest of `server`'s script and asserts that every request was a read.
    fn nothing_written(server: Scripted) {
        let seen = server.finish();
        assert!(
            seen.iter().all(|(line, _, _)| line.starts_with("GET")),
            "nothing written: {seen:?}"
        );
    }

    fn item(levels: Value) -> Value {
        json!({"id": "iitem_1", "sku": "TEE-M", "location_levels": levels})
    }

    /// Send QOH of 7 for TEE-M, read at stocked 10 with 3 held; a fulfilment of those 3
    /// lands before the write (stocked 7, held 0), so writing 7 + 3 puts them back and Medusa
    /// offers 10. A rise in holds (a new order) is the shop's own sale and still applied.
    #[test]
    fn a_set_whose_holds_fell_meanwhile_is_uncertain_and_one_whose_holds_rose_applied() {
        let read = r#"{"inventory_items":[{"id":"iitem_1","sku":"TEE-M","location_levels":[{"location_id":"sloc_main","stocked_quantity":10,"reserved_quantity":3,"available_quantity":7}]}],"count":1,"offset":0,"limit":1}"#;
        let set = |written: &'static str| {
            let server = Scripted::start(vec![(200, read), (200, written)]);
            let out = api_key(&server.url)
                .set_quantities(&[QuantitySet {
                    key: "k".into(),
                    sku: "TEE-M".into(),
                    remote_ref: Some("iitem_1".into()),
                    qoh: 7,
                    expected: None,
                }])
                .unwrap();
            server.finish();
            out.into_iter().next().unwrap()
        };
        let fell = set(
            r#"{"created":[],"updated":[{"inventory_item_id":"iitem_1","location_id":"sloc_main","stocked_quantity":10,"reserved_quantity":0,"available_quantity":10}],"deleted":[]}"#,
        );
        assert!(
            matches!(&fell, SendOutcome::Uncertain { message } if message.contains("offers 10")),
            "{fell:?}"
        );
        let rose = set(
            r#"{"created":[],"updated":[{"inventory_item_id":"iitem_1","location_id":"sloc_main","stocked_quantity":10,"reserved_quantity":4,"available_quantity":6}],"deleted":[]}"#,
        );
        assert_eq!(rose, SendOutcome::Applied { qoh: Some(6) });
    }

    /// Medusa runs a batch as one workflow and rolls it back whole when one item fails,
    /// naming it: that item fails, the others were not applied and go again, never all
    /// refused for good.
    #[test]
    fn a_batch_refused_for_one_named_item_fails_only_that_item() {
        let read = r#"{"inventory_items":[
            {"id":"iitem_1","sku":"TEE-M","location_levels":[{"location_id":"sloc_main","stocked_quantity":10,"reserved_quantity":0,"available_quantity":10}]},
            {"id":"iitem_12","sku":"TEE-L","location_levels":[{"location_id":"sloc_main","stocked_quantity":5,"reserved_quantity":0,"available_quantity":5}]}],
            "count":2,"offset":0,"limit":2}"#;
        let refused = r#"{"type":"not_found","message":"Item iitem_12 is not stocked at location sloc_main"}"#;
        let server = Scripted::start(vec![(200, read), (404, refused)]);
        let d = |k: &str, sku: &str, id: &str| DeltaSend {
            key: k.into(),
            sku: sku.into(),
            remote_ref: Some(id.into()),
            delta: -1,
        };
        let out = api_key(&server.url)
            .apply_deltas(&[d("k1", "TEE-M", "iitem_1"), d("k2", "TEE-L", "iitem_12")])
            .unwrap();
        server.finish();
        assert!(matches!(out[0], SendOutcome::Retry { .. }), "{out:?}");
        assert!(matches!(out[1], SendOutcome::Failed { .. }), "{out:?}");
    }

    #[test]
    fn the_level_at_the_configured_location_is_read() {
        let v = item(json!([
            {"location_id": "sloc_other", "stocked_quantity": 99, "reserved_quantity": 0, "available_quantity": 99},
            {"location_id": LOC, "stocked_quantity": 10, "reserved_quantity": 3, "available_quantity": 7},
        ]));
        let f = parse_item(&v, LOC).unwrap().unwrap();
        assert_eq!(f.id, "iitem_1");
        assert_eq!(f.sku.as_deref(), Some("TEE-M"));
        assert_eq!(
            f.level,
            Some(Level {
                stocked: 10,
                reserved: 3,
                available: 7,
                fractional: false,
            })
        );
    }

    #[test]
    fn available_is_stocked_minus_reserved_when_not_sent() {
        let v =
            item(json!([{"location_id": LOC, "stocked_quantity": 8.0, "reserved_quantity": 2}]));
        assert_eq!(
            parse_item(&v, LOC)
                .unwrap()
                .unwrap()
                .level
                .unwrap()
                .available,
            6
        );
    }

    /// A shop selling by weight: Get QOH reads whole units, fewer rather than more.
    #[test]
    fn a_level_with_a_fraction_is_read_as_whole_units_rounded_down() {
        let read = |l: Value| parse_item(&item(json!([l])), LOC).unwrap().unwrap().level;
        let l = read(json!({"location_id": LOC, "stocked_quantity": 10.5, "reserved_quantity": 0}));
        assert_eq!(
            l,
            Some(Level {
                stocked: 10,
                reserved: 0,
                available: 10,
                fractional: true
            })
        );
        let l = read(json!({"location_id": LOC, "stocked_quantity": 10, "reserved_quantity": 2.5}));
        assert_eq!(l.map(|l| (l.available, l.fractional)), Some((7, true)));
        let l = read(
            json!({"location_id": LOC, "stocked_quantity": 10.75, "reserved_quantity": 0.5,
                            "available_quantity": 10.25}),
        );
        assert_eq!(l.map(|l| (l.available, l.fractional)), Some((10, true)));
    }

    /// A sale of 1 written over 10.5 stocked wrote 9 until 2026-12-05: half a unit gone from
    /// the shop without a word. It is refused, saying what to do, and nothing is written.
    #[test]
    fn a_change_is_not_written_over_a_level_with_a_fraction() {
        let read = r#"{"inventory_items":[{"id":"iitem_1","sku":"TEE-M","location_levels":[{"location_id":"sloc_main","stocked_quantity":10.5,"reserved_quantity":0,"available_quantity":10.5}]}],"count":1,"offset":0,"limit":50}"#;
        let server = Scripted::start(vec![(200, read)]);
        let out = api_key(&server.url)
            .apply_deltas(&[DeltaSend {
                key: "k".into(),
                sku: "TEE-M".into(),
                remote_ref: Some("iitem_1".into()),
                delta: -1,
            }])
            .unwrap();
        assert!(
            matches!(&out[..], [SendOutcome::Failed { message }]
                if message.contains("fraction") && message.contains("Send QOH")),
            "{out:?}"
        );
        nothing_written(server);
    }

    #[test]
    fn no_level_at_the_location_and_no_sku_are_told_apart() {
        let v = item(json!([{"location_id": "sloc_other", "stocked_quantity": 1}]));
        assert_eq!(parse_item(&v, LOC).unwrap().unwrap().level, None);
        let v = json!({"id": "iitem_2", "sku": "", "location_levels": []});
        assert_eq!(parse_item(&v, LOC).unwrap().unwrap().sku, None);
        assert!(
            matches!(parse_item(&json!({"sku": "X"}), LOC), Ok(None)),
            "no id"
        );
    }

    /// A level whose count cannot be read (missing, a string) is an error for the read, and
    /// nothing is written: read as 0, a delta of +2 set the shop's stock to 2. A list answer
    /// of another shape (a maintenance page in JSON) is an outage, not a refusal that
    /// bypassed the batch.
    #[test]
    fn a_level_or_a_list_that_cannot_be_read_is_an_outage_and_nothing_is_written() {
        let unreadable = r#"{"inventory_items":[{"id":"iitem_1","sku":"TEE-M","location_levels":[{"location_id":"sloc_main","stocked_quantity":"10","reserved_quantity":0}]}],"count":1,"offset":0,"limit":50}"#;
        let server = Scripted::start(vec![
            (200, unreadable),
            (200, r#"{"message":"down for maintenance"}"#),
        ]);
        let a = api_key(&server.url);
        let delta = DeltaSend {
            key: "k".into(),
            sku: "TEE-M".into(),
            remote_ref: Some("iitem_1".into()),
            delta: 2,
        };
        for _ in 0..2 {
            let e = a.apply_deltas(std::slice::from_ref(&delta)).unwrap_err();
            assert!(matches!(e, CartError::Unavailable(_)), "{e:?}");
        }
        nothing_written(server);
    }

    #[test]
    fn a_set_keeps_the_reservations_on_top() {
        // DESIGN §8: publish available; stocked = target + reserved.
        assert_eq!(stocked_for(5, 3), Some(8));
        assert_eq!(stocked_for(0, 0), Some(0));
        assert_eq!(stocked_for(5, -2), Some(5), "a negative hold is ignored");
        assert_eq!(stocked_for(i64::MAX, 1), None);
    }

    #[test]
    fn batch_body_updates_existing_levels_and_creates_missing_ones() {
        let b = batch_body(LOC, &[("iitem_1", 8, true), ("iitem_2", 4, false)]);
        assert_eq!(
            b,
            json!({
                "create": [{"inventory_item_id": "iitem_2", "location_id": LOC, "stocked_quantity": 4}],
                "update": [{"inventory_item_id": "iitem_1", "location_id": LOC, "stocked_quantity": 8}],
                "delete": [],
            })
        );
    }

    #[test]
    fn scrub_removes_credentials() {
        let t = common::scrub(
            "HTTP 400: password hunter22 and token eyJabc".to_owned(),
            &["hunter22", "eyJabc", ""],
        );
        assert_eq!(t, "HTTP 400: password *** and token ***");
    }

    #[test]
    fn config_is_checked_and_debug_hides_credentials() {
        let t = Duration::from_secs(1);
        let a = MedusaAdapter::new(
            "http://127.0.0.1:1",
            MedusaAuth::EmailPass {
                email: "a@b.c".into(),
                password: Secret::new("hunter22-pw"),
            },
            LOC,
            t,
        )
        .unwrap();
        let d = format!("{a:?}");
        assert!(
            d.contains("a@b.c") && d.contains("***") && !d.contains("hunter22"),
            "{d}"
        );
        let a = MedusaAdapter::new(
            "http://127.0.0.1:1",
            MedusaAuth::ApiKey(Secret::new("sk_0123456789")),
            LOC,
            t,
        )
        .unwrap();
        assert!(!format!("{a:?}").contains("sk_0123456789"));
        assert!(MedusaAdapter::new(
            "http://127.0.0.1:1",
            MedusaAuth::ApiKey(Secret::new("sk_1")),
            "",
            t
        )
        .is_err());
        assert!(MedusaAdapter::new(
            "http://127.0.0.1:1",
            MedusaAuth::ApiKey(Secret::new("")),
            LOC,
            t
        )
        .is_err());
        assert!(
            MedusaAdapter::new("ftp://x", MedusaAuth::ApiKey(Secret::new("sk_1")), LOC, t).is_err()
        );
    }

    const PASSWORD: &str = "hunter22-pw";
    const ITEMS: &str = r#"{"inventory_items":[{"id":"iitem_1","sku":"TEE-M","location_levels":[{"location_id":"sloc_main","stocked_quantity":10,"reserved_quantity":3,"available_quantity":7}]}],"count":1,"offset":0,"limit":50}"#;

    /// An adapter that has already found its stock location (the scripts below answer the
    /// requests after that check; `tests/medusa_adapter.rs` covers the check).
    fn located(a: MedusaAdapter) -> MedusaAdapter {
        a.location_found
            .store(true, std::sync::atomic::Ordering::Release);
        a
    }

    fn api_key(url: &str) -> MedusaAdapter {
        located(
            MedusaAdapter::new(
                url,
                MedusaAuth::ApiKey(Secret::new("sk_abc")),
                LOC,
                Duration::from_secs(5),
            )
            .unwrap(),
        )
    }

    fn emailpass(url: &str) -> MedusaAdapter {
        located(
            MedusaAdapter::new(
                url,
                MedusaAuth::EmailPass {
                    email: "admin@x.test".into(),
                    password: Secret::new(PASSWORD),
                },
                LOC,
                Duration::from_secs(5),
            )
            .unwrap(),
        )
    }

    #[test]
    fn an_expired_jwt_logs_in_again_once() {
        let server = Scripted::start(vec![
            (200, r#"{"token":"jwt-one"}"#),
            (401, r#"{"type":"unauthorized","message":"Unauthorized"}"#),
            (200, r#"{"token":"jwt-two"}"#),
            (200, ITEMS),
        ]);
        let a = emailpass(&server.url);
        let page = a.fetch_quantities(None, 50).unwrap();
        assert_eq!(page.items, vec![("TEE-M".to_owned(), 7)]);
        assert_eq!(page.next_cursor, None);
        let seen = server.finish();
        let lines: Vec<&str> = seen.iter().map(|(l, _, _)| l.as_str()).collect();
        assert!(
            lines[0].starts_with("POST /auth/user/emailpass "),
            "{lines:?}"
        );
        assert!(
            lines[1].starts_with("GET /admin/inventory-items?"),
            "{lines:?}"
        );
        assert!(
            lines[2].starts_with("POST /auth/user/emailpass "),
            "{lines:?}"
        );
        assert_eq!(seen[1].1, "Bearer jwt-one");
        assert_eq!(seen[3].1, "Bearer jwt-two");
    }

    #[test]
    fn a_gateways_504_on_a_write_is_a_lost_answer_and_on_a_read_a_try_again() {
        let server = Scripted::start(vec![
            (200, r#"{"token":"jwt-one"}"#),
            (504, r#"{"message":"Gateway Timeout"}"#),
            (504, r#"{"message":"Gateway Timeout"}"#),
        ]);
        let a = emailpass(&server.url);
        let url = a.url("admin/inventory-items/iitem_1/location-levels/sloc_1");
        let write = a.call(
            Method::POST,
            url.clone(),
            Some(&json!({"stocked_quantity": 3})),
        );
        assert!(matches!(write, Err(CartError::Ambiguous(_))), "{write:?}");
        let read = a.call(Method::GET, url, None);
        assert!(matches!(read, Err(CartError::Unavailable(_))), "{read:?}");
        server.finish();
    }

    /// A read whose answer is lost changed nothing: try again, not "may have applied" (which
    /// made a controller mark the batch uncertain, and Send QOH settle a waiting sale with
    /// a count never written). A write's lost answer stays a lost answer.
    #[test]
    fn a_lost_answer_to_a_read_is_a_try_again_and_to_a_write_a_lost_answer() {
        let server = Scripted::start(vec![(0, ""), (0, "")]);
        let a = api_key(&server.url);
        let url = a.url("admin/inventory-items/iitem_1/location-levels/sloc_1");
        let read = a.call(Method::GET, url.clone(), None);
        assert!(matches!(read, Err(CartError::Unavailable(_))), "{read:?}");
        let write = a.call(Method::POST, url, Some(&json!({"stocked_quantity": 3})));
        assert!(matches!(write, Err(CartError::Ambiguous(_))), "{write:?}");
        server.finish();
    }

    #[test]
    fn a_second_401_is_unauthorised_without_credentials_in_it() {
        let server = Scripted::start(vec![
            (200, r#"{"token":"jwt-one"}"#),
            (401, r#"{"message":"Unauthorized"}"#),
            (200, r#"{"token":"jwt-two"}"#),
            (401, r#"{"message":"still no, jwt-two hunter22-pw"}"#),
        ]);
        let a = emailpass(&server.url);
        let e = a.fetch_quantities(None, 50).unwrap_err();
        server.finish();
        assert!(matches!(e, CartError::Unauthorized(_)), "{e:?}");
        let m = e.message();
        assert!(m.contains("401"), "{m}");
        assert!(!m.contains("jwt-two") && !m.contains(PASSWORD), "{m}");
    }

    /// A request made before the latest login (another thread's) may come back quoting the
    /// older JWT, which Medusa still takes: it is scrubbed as the current one is.
    #[test]
    fn an_older_sessions_jwt_is_scrubbed_too() {
        let server = Scripted::start(vec![
            (200, r#"{"token":"jwt-one-abc"}"#),
            (401, r#"{"message":"Unauthorized"}"#),
            (200, r#"{"token":"jwt-two-def"}"#),
            (
                500,
                r#"{"message":"upstream saw Bearer jwt-one-abc and Bearer jwt-two-def"}"#,
            ),
        ]);
        let a = emailpass(&server.url);
        let e = a.fetch_quantities(None, 50).unwrap_err();
        server.finish();
        let m = e.message();
        assert!(m.contains("upstream saw Bearer ***"), "{m}");
        assert!(!m.contains("jwt-one") && !m.contains("jwt-two"), "{m}");
    }

    #[test]
    fn a_refused_login_says_so_and_never_repeats_the_password() {
        let server = Scripted::start(vec![(
            401,
            r#"{"type":"unauthorized","message":"Invalid email or password"}"#,
        )]);
        let a = emailpass(&server.url);
        let e = a.fetch_quantities(None, 50).unwrap_err();
        assert_eq!(server.finish().len(), 1, "a refused login is not retried");
        let m = e.message();
        assert!(m.contains("login as admin@x.test refused"), "{m}");
        assert!(!m.contains(PASSWORD), "{m}");
    }

    /// A login that cannot succeed (a wrong URL's 404) pauses the cart as refused credentials
    /// do; a page without a token (maintenance in front of Medusa) is an outage. Either was a
    /// refusal that bypassed every record of the batch, one batch a pass.
    #[test]
    fn a_login_at_a_wrong_url_pauses_and_a_page_without_a_token_is_an_outage() {
        let server = Scripted::start(vec![
            (404, r#"{"message":"Cannot POST /auth/user/emailpass"}"#),
            (200, "<html>We'll be right back</html>"),
        ]);
        let a = emailpass(&server.url);
        let e = a.fetch_quantities(None, 50).unwrap_err();
        assert!(
            matches!(&e, CartError::Unauthorized(m) if m.contains("check the cart's url")),
            "{e:?}"
        );
        let e = a.fetch_quantities(None, 50).unwrap_err();
        assert!(
            matches!(&e, CartError::Unavailable(m) if m.contains("no token")),
            "{e:?}"
        );
        server.finish();
    }

    /// A delta read at stocked 10 with 3 held, written as 9, its batch answer (the check)
    /// showing the holds at `held_after`: holds that fell mean a fulfilment in the window (its
    /// stock change may be undone by our write); holds that grew are an order placed, which
    /// our write keeps.
    fn delta_with_holds_after(held_after: i64) -> SendOutcome {
        let written = format!(
            r#"{{"created":[],"updated":[{{"inventory_item_id":"iitem_1","location_id":"sloc_main","stocked_quantity":9,"reserved_quantity":{held_after},"available_quantity":{}}}],"deleted":[]}}"#,
            9 - held_after
        );
        sale_answered(Box::leak(written.into_boxed_str()))
    }

    /// A sale of one TEE-M (iitem_1).
    fn tee_sale() -> [DeltaSend; 1] {
        [DeltaSend {
            key: "k1".into(),
            sku: "TEE-M".into(),
            remote_ref: Some("iitem_1".into()),
            delta: -1,
        }]
    }

    /// The outcome of [`tee_sale`], read at stocked 10 with 3 held ([`ITEMS`]) and its write
    /// answered `written`.
    fn sale_answered(written: &'static str) -> SendOutcome {
        let server = Scripted::start(vec![(200, ITEMS), (200, written)]);
        let out = api_key(&server.url).apply_deltas(&tee_sale()).unwrap();
        server.finish();
        out.into_iter().next().unwrap()
    }

    #[test]
    fn a_409_is_a_try_again_not_a_refusal() {
        let server = Scripted::start(vec![(
            409,
            r#"{"type":"conflict","message":"The request conflicted with another request. You may retry the request with the provided Idempotency-Key."}"#,
        )]);
        let a = api_key(&server.url);
        let url = a.url("admin/inventory-items/location-levels/batch");
        let e = a.call(Method::POST, url, Some(&json!({}))).unwrap_err();
        server.finish();
        assert!(matches!(e, CartError::Unavailable(_)), "{e:?}");
    }

    #[test]
    fn a_delta_whose_holds_fell_meanwhile_is_uncertain() {
        assert!(
            matches!(delta_with_holds_after(1), SendOutcome::Uncertain { message } if message.contains("fulfilment")),
        );
        assert_eq!(
            delta_with_holds_after(4),
            SendOutcome::Applied { qoh: Some(5) }
        );
    }

    /// Medusa 2's batch answer carries the stocked count written beside the available count
    /// from before the write (seen against a real Medusa: stocked 7, held 3, available 6):
    /// the count the cart offers now is stocked less held.
    #[test]
    fn a_write_answer_with_the_available_count_from_before_it_is_read_right() {
        const STALE: &str = r#"{"created":[],"updated":[{"inventory_item_id":"iitem_1","location_id":"sloc_main","stocked_quantity":9,"reserved_quantity":3,"available_quantity":7}],"deleted":[]}"#;
        assert_eq!(sale_answered(STALE), SendOutcome::Applied { qoh: Some(6) });
    }

    /// A write whose answer leaves the item out is checked by reading it back; one whose
    /// read-back fails is in doubt.
    #[test]
    fn a_write_answered_without_its_level_is_read_back() {
        const BARE: &str = r#"{"created":[],"updated":[],"deleted":[]}"#;
        const AFTER: &str = r#"{"inventory_items":[{"id":"iitem_1","sku":"TEE-M","location_levels":[{"location_id":"sloc_main","stocked_quantity":9,"reserved_quantity":3,"available_quantity":6}]}],"count":1,"offset":0,"limit":50}"#;
        let delta = tee_sale();
        let server = Scripted::start(vec![(200, ITEMS), (200, BARE), (200, AFTER)]);
        let out = api_key(&server.url).apply_deltas(&delta).unwrap();
        assert_eq!(out, vec![SendOutcome::Applied { qoh: Some(6) }]);
        assert!(server.finish()[2].0.starts_with("GET "));
        let server = Scripted::start(vec![(200, ITEMS), (200, BARE), (502, "bad gateway")]);
        let out = api_key(&server.url).apply_deltas(&delta).unwrap();
        server.finish();
        assert!(
            matches!(&out[0], SendOutcome::Uncertain { message } if message.contains("verify read failed")),
            "{out:?}"
        );
    }

    #[test]
    fn an_api_key_is_sent_as_basic_user_name() {
        let server = Scripted::start(vec![(200, ITEMS)]);
        let a = api_key(&server.url);
        a.fetch_quantities(None, 50).unwrap();
        let seen = server.finish();
        // base64("sk_abc:")
        assert_eq!(seen[0].1, "Basic c2tfYWJjOg==");
    }

    #[test]
    fn a_set_writes_target_plus_reserved_and_pages_use_offsets() {
        let server = Scripted::start(vec![
            (200, r#"{"token":"jwt-one"}"#),
            (200, ITEMS),
            (
                200,
                r#"{"created":[],"updated":[{"inventory_item_id":"iitem_1","location_id":"sloc_main","stocked_quantity":8,"reserved_quantity":3,"available_quantity":5}],"deleted":[]}"#,
            ),
            (
                200,
                r#"{"inventory_items":[{"id":"iitem_1","sku":"TEE-M","location_levels":[]}],"count":5,"offset":2,"limit":2}"#,
            ),
        ]);
        let a = emailpass(&server.url);
        let out = a
            .set_quantities(&[QuantitySet {
                key: "k".into(),
                sku: "TEE-M".into(),
                remote_ref: None,
                qoh: 5,
                expected: None,
            }])
            .unwrap();
        assert_eq!(out, vec![SendOutcome::Applied { qoh: Some(5) }]);
        let page = a.fetch_quantities(Some("2"), 2).unwrap();
        assert!(
            page.items.is_empty(),
            "no level at the location: not published"
        );
        assert_eq!(
            page.next_cursor.as_deref(),
            Some("3:0:iitem_1"),
            "offset:restarts:last id"
        );
        let seen = server.finish();
        assert!(seen[1].0.contains("sku%5B%5D=TEE-M"), "{:?}", seen[1]);
        assert!(
            seen[2]
                .0
                .starts_with("POST /admin/inventory-items/location-levels/batch "),
            "{:?}",
            seen[2]
        );
        let body: Value = serde_json::from_str(&seen[2].2).unwrap();
        assert_eq!(
            body["update"][0]["stocked_quantity"], 8,
            "target 5 + reserved 3: {body}"
        );
        assert!(
            seen[3].0.contains("offset=2") && seen[3].0.contains("limit=2"),
            "{:?}",
            seen[3]
        );
    }
}
