//! Carts, their capabilities, and the web fields that decide what each cart is sent
//! (DESIGN §2, §3 rules 4–6).

use crate::error::{Error, Result};
use crate::manual::queue_correction;
use crate::secret::Secret;
use crate::store::{sql, Store};
use serde_json::{Map, Value};

/// A cart's id in the store.
pub type CartId = i64;

/// What saving a cart did ([`Store::save_cart_json`]).
///
/// Fields may be added (hence `#[non_exhaustive]`: the library makes it, never a caller).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CartSaved {
    /// The cart's id.
    pub id: CartId,
    /// Stack records the save held back as uncertain (in doubt): with a change of the
    /// adapter, the changes that may already be on the cart. The owner checks the cart's
    /// counts, then retries or discards each (the stack's view lists them as uncertain). 0
    /// for a save that keeps the adapter.
    pub uncertain: usize,
}

/// How finely a cart tracks stock for real-time sync (the seeds' "S" in the cart matrix).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncLevel {
    /// Per SKU only: a product with variants is sent as the product, with their total.
    Sku,
    /// Per attribute/option: each variant and each plain item is sent on its own.
    Attribute,
}

impl SyncLevel {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SyncLevel::Sku => "sku",
            SyncLevel::Attribute => "attribute",
        }
    }
    pub(crate) fn parse_opt(s: &str) -> Option<Option<SyncLevel>> {
        match s {
            "none" => Some(None),
            "sku" => Some(Some(SyncLevel::Sku)),
            "attribute" => Some(Some(SyncLevel::Attribute)),
            _ => None,
        }
    }
}

/// What a cart can do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// Send QOH to website (push absolute counts).
    pub send: bool,
    /// Get QOH from website (pull counts).
    pub get: bool,
    /// Real-time sync and at which level; `None` when the cart has none.
    pub realtime: Option<SyncLevel>,
}

/// A cart as the store keeps it. Its config (with secrets) stays inside; [`Cart::info`] is
/// what may be shown.
#[derive(Clone)]
pub struct Cart {
    /// The cart's id.
    pub id: CartId,
    /// The operator's name for it, unique in the store.
    pub name: String,
    /// The adapter that talks to it.
    pub adapter: String,
    /// The cart's capabilities.
    pub capabilities: Capabilities,
    /// The batch limit of manual send and of the controller.
    pub max_items_to_send: u32,
    /// Whether the cart holds stock in shoppers' baskets (Miva-style).
    pub retains_basket: bool,
    /// The *Synchronize Inventory* box.
    pub sync_on: bool,
    /// Bumped on every upsert, so cached adapters are rebuilt.
    pub(crate) config_version: i64,
    pub(crate) config: Map<String, Value>,
}

impl std::fmt::Debug for Cart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cart")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("adapter", &self.adapter)
            .field("capabilities", &self.capabilities)
            .field("sync_on", &self.sync_on)
            .finish_non_exhaustive()
    }
}

/// The built-in adapters' config keys holding credentials: never shown, never logged.
pub(crate) const SECRET_KEYS: &[&str] = &["token", "consumer_secret", "api_key", "password"];

/// Whether config key `key` holds a credential, never shown nor logged and scrubbed from what
/// a cart answers: one of the built-in adapters' (`token`, `consumer_secret`, `api_key`,
/// `password`), or a key a custom adapter names as one: `key`, or
/// ending in `_key` or `-key`, or, `-` and `_` aside, in `secret`, `token`, `password`,
/// `passwd`, `passphrase` or `apikey`, in any case (`client_secret`, `access_token`,
/// `private_key`, `x-api-key`, `ApiKey`), but WooCommerce's
/// `consumer_key`, the user half of its credentials, shown as a user name is. (Until
/// 2026-12-04 only the four built-in names were: a custom adapter's `client_secret` came
/// back whole from a cart listing and reached the stack's last response unscrubbed.)
///
/// Public so that a tool showing a cart's state (`invsync stack`) or reading carts from a file
/// (the quickstart's `--config`) tells credentials by the same rule the library hides them by:
/// to keep one out of what it prints, or to warn of one written out rather than as `env:NAME`.
pub fn is_secret_key(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    // `api-key`, `x_api_key` and `ApiKey` alike.
    let squashed: String = k.chars().filter(|c| !matches!(c, '-' | '_')).collect();
    SECRET_KEYS.contains(&k.as_str())
        || (k != "consumer_key"
            && (k == "key"
                || k.ends_with("_key")
                || k.ends_with("-key")
                || [
                    "secret",
                    "token",
                    "password",
                    "passwd",
                    "passphrase",
                    "apikey",
                ]
                .iter()
                .any(|end| squashed.ends_with(end))))
}

/// The response logged with each record [`Store::retire_cart`] discards.
const RETIRED: &str = "discarded with the cart: an operator retired it (its shop is gone)";

/// Config keys an adapter reads through [`Cart::secret`], so each may be given as `env:NAME`
/// (read on the machine that sends): the secrets, and WooCommerce's consumer key, the user
/// half of its credentials.
pub(crate) const ENV_KEYS: &[&str] = &[
    "token",
    "consumer_secret",
    "api_key",
    "password",
    "consumer_key",
];

impl Cart {
    /// A text setting of the cart's config; `None` for the built-in adapters' credentials
    /// (`token`, `consumer_secret`, `api_key`, `password`), read with [`Cart::secret`]. A
    /// custom adapter reads its own keys here, credentials too, but should read those with
    /// [`Cart::secret`], which takes `env:NAME`: the library hides from cart listings, and
    /// scrubs from what a cart answers, `key` and any key ending in `_key`, `-key`, `secret`,
    /// `token`, `password`, `passwd`, `passphrase` or `apikey` (but `consumer_key`), in any
    /// case.
    pub fn setting(&self, key: &str) -> Option<&str> {
        if SECRET_KEYS.contains(&key) {
            return None;
        }
        self.config.get(key).and_then(Value::as_str)
    }

    /// A numeric setting of the cart's config.
    pub fn setting_i64(&self, key: &str) -> Option<i64> {
        self.config.get(key).and_then(Value::as_i64)
    }

    /// A credential of the cart's config, resolved (`env:NAME` read from the environment).
    pub fn secret(&self, key: &str) -> Result<Option<Secret>> {
        match self.config.get(key) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Secret::from_config(key, s).map(Some),
            Some(_) => Err(Error::invalid(format!(
                "cart {:?}: {key} must be a string",
                self.name
            ))),
        }
    }

    /// The environment variables the cart's credentials are read from (`env:NAME`), on each
    /// machine that sends to it: one machine's may differ from another's.
    pub(crate) fn env_credentials(&self) -> Vec<&str> {
        self.config
            .iter()
            .filter(|(k, _)| is_secret_key(k) || ENV_KEYS.contains(&k.as_str()))
            .filter_map(|(_, v)| v.as_str()?.strip_prefix("env:"))
            .collect()
    }

    /// The credentials of the cart's config, resolved, under the keys that hold them
    /// ([`is_secret_key`]); one that cannot be resolved (its environment variable unset) is
    /// left out.
    pub(crate) fn secrets(&self) -> Vec<Secret> {
        self.config
            .keys()
            .filter(|k| is_secret_key(k))
            .filter_map(|k| self.secret(k).ok().flatten())
            .collect()
    }

    /// The level the cart is sent items at; a cart without real-time sync is treated as
    /// `Attribute` for Send QOH (each variant and plain item).
    pub fn level(&self) -> SyncLevel {
        self.capabilities.realtime.unwrap_or(SyncLevel::Attribute)
    }

    /// Which saving of the cart this is: it changes each time the cart is saved. A
    /// controller's judgement of an answer is stored only while it holds
    /// ([`WebStack::set_cart_state`](crate::stack::WebStack::set_cart_state)).
    pub fn config_version(&self) -> i64 {
        self.config_version
    }

    /// Whether the real-time switches are on for this cart (its box and real-time support).
    pub(crate) fn realtime_on(&self) -> bool {
        self.sync_on && self.capabilities.realtime.is_some()
    }

    /// The cart without its secrets, for listings.
    pub fn info(&self) -> Value {
        let mut settings = Map::new();
        for (k, v) in adapter_settings(&self.config) {
            if is_secret_key(k) {
                settings.insert(format!("{k}_set"), Value::Bool(!v.is_null()));
            } else {
                settings.insert(k.clone(), v.clone());
            }
        }
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "adapter": self.adapter,
            "capabilities": {
                "send": self.capabilities.send,
                "get": self.capabilities.get,
                "realtime": self.capabilities.realtime.map_or("none", SyncLevel::as_str),
            },
            "max_items_to_send": self.max_items_to_send,
            "retains_basket": self.retains_basket,
            "sync": self.sync_on,
            "settings": settings,
        })
    }
}

/// The keys each adapter takes beside the common ones (DESIGN §9).
fn adapter_keys(adapter: &str) -> Option<&'static [&'static str]> {
    Some(match adapter {
        "http_json" => &["url", "token", "capabilities", "timeout_ms", "read_lag_ms"],
        "shopify" => &[
            "url",
            "token",
            "location_id",
            "api_version",
            "timeout_ms",
            "read_lag_ms",
        ],
        "woocommerce" => &[
            "url",
            "consumer_key",
            "consumer_secret",
            "timeout_ms",
            "read_lag_ms",
        ],
        "bigcommerce" => &["url", "token", "location_id", "timeout_ms", "read_lag_ms"],
        "medusa" => &[
            "url",
            "api_key",
            "email",
            "password",
            "location_id",
            "timeout_ms",
            "read_lag_ms",
        ],
        _ => return None,
    })
}

/// The keys of a cart's JSON that are its adapter's settings (URL, credentials, location…),
/// not what every cart has.
fn adapter_settings(config: &Map<String, Value>) -> impl Iterator<Item = (&String, &Value)> {
    config.iter().filter(|(k, _)| {
        !matches!(
            k.as_str(),
            "name" | "adapter" | "capabilities" | "max_items_to_send" | "retains_basket"
        )
    })
}

/// The settings that say which shop (and stock location) a cart of `adapter` is, its values
/// compared as the adapters read them: text or number alike, trimmed; a URL as parsed (host
/// in lower case, default port and trailing slash alike); a Shopify or BigCommerce location by
/// its number (`gid://shopify/Location/1` and `"01"` are `1`; a BigCommerce cart without one
/// is at 1).
/// Leaves out the credentials, which change when rotated and name the same shop, and the API
/// version, time-out and read lag, which change how the shop is asked, not which.
fn shop_settings(adapter: &str, config: &Map<String, Value>) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = adapter_settings(config)
        .filter(|(k, _)| {
            !is_secret_key(k)
                && !matches!(
                    k.as_str(),
                    "consumer_key" | "email" | "timeout_ms" | "api_version" | "read_lag_ms"
                )
        })
        .map(|(k, v)| {
            let text = match v {
                Value::String(s) => s.trim().to_owned(),
                other => other.to_string(),
            };
            let text = match k.as_str() {
                "url" => crate::adapter::common::base_url(&text, "cart").map_or(text, |u| {
                    // One shop answers at http and https, with and without `www.` (the one
                    // redirects to the other): only host, port and path tell shops apart.
                    let host = u.host_str().unwrap_or_default();
                    let host = host.strip_prefix("www.").unwrap_or(host);
                    let port = u.port().map_or_else(String::new, |p| format!(":{p}"));
                    format!("{host}{port}{}", u.path())
                }),
                // Shopify's and BigCommerce's locations are numbers; Medusa's is text it
                // matches exactly.
                "location_id" if matches!(adapter, "shopify" | "bigcommerce") => {
                    let last = text.rsplit('/').next().unwrap_or_default();
                    last.parse::<u64>()
                        .map_or(last.to_owned(), |n| n.to_string())
                }
                _ => text,
            };
            (k.clone(), text)
        })
        .collect();
    if adapter == "bigcommerce" && !out.iter().any(|(k, _)| k == "location_id") {
        out.push(("location_id".into(), "1".into()));
        out.sort();
    }
    out
}

/// Refuses `spec` where another cart is the same: a name that differs only in case (an
/// operator's form saving "web" for "Web"), or, for a built-in adapter, the same shop and stock
/// location ([`shop_settings`]; an `http_json` endpoint, which may serve several shops by
/// token, with the same credentials too). Added beside it, every change went to the shop
/// twice: a receiving of 10 put 20 on it, 10 units the store does not have.
///
/// A cart that was so already (saved by a build before 2026-12-03) may still be saved: to
/// switch its real-time sync off, to rotate its credentials, or to point it elsewhere.
fn refuse_same_shop_twice(
    carts: &[Cart],
    old: Option<&Cart>,
    spec: &CartSpec,
    custom: bool,
) -> Result<()> {
    let secrets = |config: &Map<String, Value>| -> Vec<Option<Value>> {
        SECRET_KEYS
            .iter()
            .map(|k| config.get(*k).cloned())
            .collect()
    };
    // (adapter, shop, credentials where they tell shops apart) of a cart's settings.
    let shop = |adapter: &str, config: &Map<String, Value>| {
        let credentials = (adapter == "http_json").then(|| secrets(config));
        (
            adapter.to_owned(),
            shop_settings(adapter, config),
            credentials,
        )
    };
    let new = shop(&spec.adapter, &spec.config);
    let was = old.map(|old| shop(&old.adapter, &old.config));
    let lower = spec.name.to_lowercase();
    for other in carts.iter().filter(|c| c.name != spec.name) {
        if old.is_none() && other.name.to_lowercase() == lower {
            return Err(Error::invalid(format!(
                "cart {:?}: cart {:?} has this name in another case; save it under that name",
                spec.name, other.name
            )));
        }
        let theirs = shop(&other.adapter, &other.config);
        if !custom && theirs == new && was.as_ref() != Some(&theirs) {
            return Err(Error::refused(format!(
                "cart {:?}: cart {:?} is already this shop (the same adapter, URL and stock \
                 location): every change would reach the shop twice; update that cart instead",
                spec.name, other.name
            )));
        }
    }
    Ok(())
}

/// A parsed, checked cart definition (the JSON of DESIGN §9).
pub(crate) struct CartSpec {
    pub name: String,
    pub adapter: String,
    pub capabilities: Capabilities,
    pub max_items_to_send: u32,
    pub retains_basket: bool,
    pub config: Map<String, Value>,
}

/// Checks a URL setting: http or https, with a host, and no credentials in it (they would
/// leak into every log line that names the URL); then, for a built-in adapter, by the rule it
/// applies when it is built ([`crate::adapter::common::base_url`]: no query or fragment
/// either, which could hold a credential and would come back out of the cart list), so a cart
/// every later call would refuse is refused when it is defined. An integrator's adapter reads
/// its URL as it likes (`api.php?shop=2`).
pub(crate) fn check_url(cart: &str, url: &str, built_in: bool) -> Result<()> {
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| {
            Error::invalid(format!(
                "cart {cart:?}: url must start with http:// or https://"
            ))
        })?;
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.is_empty() {
        return Err(Error::invalid(format!("cart {cart:?}: url has no host")));
    }
    if authority.contains('@') {
        return Err(Error::invalid(format!(
            "cart {cart:?}: url must not carry credentials; put them in the token setting"
        )));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(Error::invalid(format!(
            "cart {cart:?}: url contains white space"
        )));
    }
    if !built_in {
        return Ok(());
    }
    crate::adapter::common::base_url(url, &format!("cart {cart:?}:")).map(drop)
}

pub(crate) fn parse_cart_json(json: &str, custom_adapter: bool) -> Result<CartSpec> {
    let mut map = crate::items::host_object(json, "cart")?;
    // Whole numbers written as doubles (`2.0`, `-0`: .NET and JavaScript hosts) are kept as
    // integers, as the checks below, the adapters and the same-shop check read them: a
    // BigCommerce `location_id` of 2.0 was read as none, and the cart wrote location 1's
    // stock.
    for v in map.values_mut() {
        if let Some(n) = v.is_f64().then(|| crate::items::json_whole(v)).flatten() {
            *v = Value::from(n);
        }
    }
    // Measured as kept: a name of 200 bytes pasted with a trailing space was refused as
    // longer than 200 bytes (until 2026-12-05).
    let name = match map.get("name").and_then(Value::as_str).map(str::trim) {
        Some(s) if !s.is_empty() && s.len() <= 200 => s.to_owned(),
        _ => {
            return Err(Error::invalid(
                "cart JSON: name must be a non-empty string of at most 200 bytes",
            ))
        }
    };
    let adapter = match map.get("adapter") {
        Some(Value::String(s)) => s.clone(),
        _ => {
            return Err(Error::invalid(format!(
                "cart {name:?}: adapter must be a string"
            )))
        }
    };
    let keys = adapter_keys(&adapter);
    if keys.is_none() && !custom_adapter {
        return Err(Error::invalid(format!(
            "cart {name:?}: unknown adapter {adapter:?} (built in: http_json, shopify, woocommerce, bigcommerce, medusa; others must be registered)"
        )));
    }
    for k in map.keys() {
        let common = matches!(
            k.as_str(),
            "name" | "adapter" | "max_items_to_send" | "retains_basket" | "capabilities"
        );
        if !common && keys.is_some_and(|ks| !ks.contains(&k.as_str())) {
            return Err(Error::invalid(format!(
                "cart {name:?}: unknown key {k:?} for adapter {adapter}"
            )));
        }
    }
    let max_items_to_send = match map.get("max_items_to_send") {
        None | Some(Value::Null) => 50,
        Some(v) => match v.as_i64() {
            Some(n) if (1..=10_000).contains(&n) => n as u32,
            _ => {
                return Err(Error::invalid(format!(
                    "cart {name:?}: max_items_to_send must be a whole number from 1 to 10000"
                )))
            }
        },
    };
    let retains_basket = match map.get("retains_basket") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(b)) => *b,
        _ => {
            return Err(Error::invalid(format!(
                "cart {name:?}: retains_basket must be true or false"
            )))
        }
    };
    if let Some(url) = map.get("url") {
        let url = url
            .as_str()
            .ok_or_else(|| Error::invalid(format!("cart {name:?}: url must be a string")))?;
        check_url(&name, url, !custom_adapter)?;
    } else if adapter_keys(&adapter).is_some() {
        return Err(Error::invalid(format!("cart {name:?}: url is required")));
    }
    // A variable that cannot be named is refused now, not when the adapter is built (at the
    // controller's first pass, with the sales waiting): a secret's, or a WooCommerce consumer
    // key's, read as its secret is.
    let env_named = |k: &str, v: &Value| -> Result<()> {
        match v.as_str().and_then(|s| s.strip_prefix("env:")) {
            Some(var) if var.is_empty() || var.contains(['=', '\0']) => {
                Err(Error::invalid(format!(
                    "cart {name:?}: {k}: env: must be followed by an environment variable's \
                     name (env:NAME)"
                )))
            }
            _ => Ok(()),
        }
    };
    for k in ENV_KEYS {
        if let Some(v) = map.get(*k) {
            env_named(k, v)?;
        }
    }
    for k in SECRET_KEYS {
        if let Some(v) = map.get(*k) {
            if !v.is_string() && !v.is_null() {
                return Err(Error::invalid(format!(
                    "cart {name:?}: {k} must be a string"
                )));
            }
            // The check a built-in adapter makes when it is built (an `env:NAME` is read
            // only then).
            if let Some(s) = v
                .as_str()
                .filter(|s| !custom_adapter && !s.starts_with("env:"))
            {
                crate::adapter::common::secret_value(s, &format!("cart {name:?}: {k}"))?;
            }
        }
    }
    let capabilities = match map.get("capabilities") {
        Some(Value::Object(c)) => {
            let flag = |k: &str| -> Result<bool> {
                match c.get(k) {
                    None => Ok(false),
                    Some(Value::Bool(b)) => Ok(*b),
                    _ => Err(Error::invalid(format!(
                        "cart {name:?}: capabilities.{k} must be true or false"
                    ))),
                }
            };
            for k in c.keys() {
                if !matches!(k.as_str(), "send" | "get" | "realtime") {
                    return Err(Error::invalid(format!(
                        "cart {name:?}: unknown capability {k:?}"
                    )));
                }
            }
            let realtime = match c.get("realtime") {
                None => None,
                Some(Value::String(s)) => SyncLevel::parse_opt(s).ok_or_else(|| {
                    Error::invalid(format!(
                        "cart {name:?}: capabilities.realtime must be \"attribute\", \"sku\" or \"none\""
                    ))
                })?,
                _ => {
                    return Err(Error::invalid(format!(
                        "cart {name:?}: capabilities.realtime must be \"attribute\", \"sku\" or \"none\""
                    )))
                }
            };
            Capabilities {
                send: flag("send")?,
                get: flag("get")?,
                realtime,
            }
        }
        None if adapter != "http_json" && !custom_adapter => Capabilities {
            send: true,
            get: true,
            realtime: Some(SyncLevel::Attribute),
        },
        _ => {
            return Err(Error::invalid(format!(
                "cart {name:?}: capabilities must be an object {{send, get, realtime}}"
            )))
        }
    };
    if let Some(t) = map.get("timeout_ms") {
        if !t.as_i64().is_some_and(|t| (100..=600_000).contains(&t)) {
            return Err(Error::invalid(format!(
                "cart {name:?}: timeout_ms must be a whole number of milliseconds from 100 to 600000"
            )));
        }
    }
    // A lag given as text, or out of range, would silently become the default: refused.
    if let Some(t) = map.get("read_lag_ms") {
        if !t.as_i64().is_some_and(|t| (0..=3_600_000).contains(&t)) {
            return Err(Error::invalid(format!(
                "cart {name:?}: read_lag_ms must be a whole number of milliseconds from 0 to 3600000"
            )));
        }
    }
    Ok(CartSpec {
        name,
        adapter,
        capabilities,
        max_items_to_send,
        retains_basket,
        config: map,
    })
}

/// Per item and cart: how the item is published there (the seeds' Web Fields tab).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebFields {
    /// The cart's own reference for the item.
    pub remote_ref: Option<String>,
    /// Whether the item is synchronised with this cart at all.
    pub sync: bool,
    /// Units held back from the cart.
    pub buffer: i64,
    /// The most the cart is ever shown.
    pub max_publish: Option<i64>,
}

impl Default for WebFields {
    fn default() -> Self {
        WebFields {
            remote_ref: None,
            sync: true,
            buffer: 0,
            max_publish: None,
        }
    }
}

impl WebFields {
    /// Rule 6: `min(cap, max(0, qoh − buffer))`.
    pub fn published(&self, qoh: i64) -> i64 {
        let p = (qoh - self.buffer).max(0);
        self.max_publish.map_or(p, |cap| p.min(cap))
    }

    /// Applies a web-fields JSON update (`{"remote_ref"?,"sync"?,"buffer"?,"max_publish"?}`).
    pub(crate) fn apply_json(&mut self, json: &str) -> Result<()> {
        let map = crate::items::host_object(json, "web fields")?;
        let count = |k: &str, v: &Value| -> Result<i64> {
            crate::items::json_whole(v)
                .filter(|n| (0..=i32::MAX as i64).contains(n))
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "web fields: {k} must be a whole number from 0 to 2147483647"
                    ))
                })
        };
        for (k, v) in &map {
            match k.as_str() {
                "remote_ref" => {
                    self.remote_ref = match v {
                        Value::Null => None,
                        Value::String(s) if s.len() <= 500 => Some(s.clone()),
                        Value::String(_) => {
                            return Err(Error::invalid(
                                "web fields: remote_ref is longer than 500 bytes",
                            ))
                        }
                        _ => {
                            return Err(Error::invalid(
                                "web fields: remote_ref must be a string or null",
                            ))
                        }
                    }
                }
                "sync" => {
                    self.sync = v
                        .as_bool()
                        .ok_or_else(|| Error::invalid("web fields: sync must be true or false"))?
                }
                "buffer" => self.buffer = count(k, v)?,
                "max_publish" => {
                    self.max_publish = if v.is_null() {
                        None
                    } else {
                        Some(count(k, v)?)
                    }
                }
                _ => return Err(Error::invalid(format!("web fields: unknown key {k:?}"))),
            }
        }
        Ok(())
    }
}

impl Store {
    /// Defines a cart, or updates the one with the same `name`, from the JSON of DESIGN §9.
    /// A name another cart has in another case, or the shop another cart already is (see
    /// `refuse_same_shop_twice`), is refused: every change would reach the shop twice.
    /// A new cart starts with *Synchronize Inventory* off, as the seeds' set-up has it; an
    /// update keeps the box as it was. An update that changes the adapter or its settings (new
    /// credentials, a new URL) clears the cart's pause and back-off (bad credentials, an
    /// outage, a rate limit); one that changes only its capabilities or batch size leaves a
    /// cart's Retry-After running.
    ///
    /// A change of the real-time level (`sku`, `attribute`, `none`) is refused while the cart
    /// has records on the stack: each was made for the level it had (a variant's change for an
    /// `Attribute` cart, its product's total for a `Sku` cart), and the other level's cart
    /// does not list that SKU, so it would refuse it, and the sale would never reach it. Let
    /// the controller send them (or discard them, then Send QOH) first. A cart switched from
    /// `sku` to `attribute` (or `none`) is never sent a product with variants again, and one
    /// switched from `attribute` (or `none`) to `sku` never a variant: each whose count it was
    /// sent or read is set to 0 there at its next Send QOH, which the owner runs after the
    /// change to set the new level's counts (the preflight lists each). The store keeps what
    /// the cart shows of each (what it was shown, then that 0): switched back, a cart
    /// real-time changes go to is sent the difference at once, and Get QOH takes no sale from
    /// it. A change is refused while such an item is taken off the cart (`sync: false`) with a
    /// count above 0 kept of what the cart shows (put it back first). A change of the adapter
    /// or its settings forgets what Get QOH kept of the cart's counts; one that
    /// makes real-time changes start going to the cart is `Busy` as [`Store::set_cart_sync`].
    /// A change of the adapter, the shop (its URL or stock location) or the level is `Busy`
    /// while a Send QOH, Get QOH or drift repair runs for the cart, which would go on with the
    /// old one; new credentials for the same shop are not.
    ///
    /// A change of the adapter holds back as uncertain the changes that may be on the cart
    /// (sent through the old adapter, whose answer was lost): [`Store::save_cart_json`] says
    /// how many, for the owner to check the cart.
    pub fn upsert_cart_json(&self, json: &str) -> Result<CartId> {
        self.save_cart_json(json).map(|saved| saved.id)
    }

    /// [`Store::upsert_cart_json`], saying what the save did to the cart's web stack: a change
    /// of the adapter holds back as uncertain the changes that may already be on the cart (sent
    /// through the old adapter, whose answer was lost, or under a lease that lapsed), which
    /// the new adapter cannot tell from new ones (it does not know the old one's keys). They
    /// wait for the owner to check the cart's counts and then retry or discard each; the
    /// result counts them ([`CartSaved::uncertain`]), as a pass's report counts the changes
    /// it holds in doubt. Until 2026-12-05 no result of the save told the owner of them.
    pub fn save_cart_json(&self, json: &str) -> Result<CartSaved> {
        let adapter_name = serde_json::from_str::<Value>(json)
            .ok()
            .and_then(|v| v.get("adapter").and_then(Value::as_str).map(str::to_owned));
        let custom = adapter_name
            .as_deref()
            .is_some_and(|a| self.inner.adapters.is_custom(a));
        let spec = parse_cart_json(json, custom)?;
        if !custom {
            crate::adapter::registry::check_builtin_settings(&Cart {
                id: 0,
                name: spec.name.clone(),
                adapter: spec.adapter.clone(),
                capabilities: spec.capabilities,
                max_items_to_send: spec.max_items_to_send,
                retains_basket: spec.retains_basket,
                sync_on: false,
                config_version: 0,
                config: spec.config.clone(),
            })?;
        }
        let workstation = self.workstation();
        self.write(|c| {
            let mut uncertain = 0;
            let carts = sql::carts_all(c)?;
            let old = carts.iter().find(|cart| cart.name == spec.name).cloned();
            // The name is printed in run reports, the controller's log and the stack view: a
            // line break, an escape or a bidirectional override in it could forge a line
            // there (as `Workstation` is refused). A cart an older build took so is still
            // saved under it: its owner may need to mend its credentials.
            if let (None, Some(bad)) = (
                &old,
                spec.name
                    .chars()
                    .find(|c| crate::store::unprintable_in_name(*c)),
            ) {
                return Err(Error::invalid(format!(
                    "cart {:?}: name holds the character {bad:?}, which would garble reports \
                     and logs; give a plain name",
                    spec.name
                )));
            }
            refuse_same_shop_twice(&carts, old.as_ref(), &spec, custom)?;
            let new_level = spec.capabilities.realtime.unwrap_or(SyncLevel::Attribute);
            let another_shop = |old: &Cart| {
                old.adapter != spec.adapter
                    || shop_settings(&old.adapter, &old.config)
                        != shop_settings(&spec.adapter, &spec.config)
            };
            if let Some(old) = old
                .as_ref()
                .filter(|old| another_shop(old) || old.level() != new_level)
            {
                // A run would go on with the old shop or level, and keep what it reads of
                // it past the forgetting below.
                crate::manual::refuse_while_held(c, old, "save it once that ends")?;
            }
            if let Some(old) = old
                .as_ref()
                .filter(|old| old.capabilities.realtime != spec.capabilities.realtime)
            {
                let n = sql::stack_count_for_cart(c, old.id)?;
                if n > 0 {
                    let level = |l: Option<SyncLevel>| l.map_or("none", SyncLevel::as_str);
                    return Err(Error::refused(format!(
                        "cart {:?} has {} on the web stack made for its real-time level \
                         {:?}; send or discard them before changing it to {:?}",
                        old.name,
                        crate::counted(n, "record"),
                        level(old.capabilities.realtime),
                        level(spec.capabilities.realtime)
                    )));
                }
            }
            if let Some(old) = old.as_ref().filter(|old| old.level() != new_level) {
                crate::items::refuse_level_change_while_kept_off(c, old, old.level(), new_level)?;
            }
            // (Before a change that may stop real-time changes going to it.)
            sql::targets_mark_shown(c)?;
            let resumes = old.as_ref().is_none_or(|old| {
                old.adapter != spec.adapter
                    || !adapter_settings(&old.config).eq(adapter_settings(&spec.config))
            });
            // A change that may be on the cart (sent through a keyed adapter that lost its
            // answer, or under a lease that lapsed: marked so) can only be sent again under
            // its key, which another adapter cannot do (it does not know the old one's keys):
            // each is held back as uncertain (asked before `cart_upsert` clears the marks of
            // changes the old cart answered as applying nothing). One still in flight would
            // settle afterwards: the save waits for its answer, and takes over the leases that
            // lapsed (a stalled controller's late answer then settles nothing), as a manual
            // run does. Changes the old adapter surely did not apply go through the new one
            // (until 2026-12-04 every change a keyed adapter had tried was held back, and one
            // without keys took over no lease: a lapsed send went again through a keyed one).
            if let Some(old) = old.as_ref().filter(|old| old.adapter != spec.adapter) {
                if sql::cart_take_over(c, old.id, crate::store::now_ms(), false)?.is_none() {
                    return Err(Error::new(
                        crate::ErrorKind::Busy,
                        format!(
                            "cart {:?}: a change is on its way to the cart through its \
                             adapter; save the new adapter again once it is answered",
                            old.name
                        ),
                    ));
                }
                uncertain = sql::groups_held_back_at_switch(c, old.id, crate::store::now_ms())?;
            }
            let id = sql::cart_upsert(c, &spec, resumes)?;
            // What Get QOH kept of the cart's counts is of its shop (a new adapter, URL or
            // location is another; new credentials are not). Of one item or another, whatever
            // the level: a count kept of what the old level showed and the new one does not is
            // what that listing shows (`items::level_changed`), and one kept of what the new
            // level shows (the 0 Send QOH set a variant to at `sku` level) is what it shows.
            if let Some(old) = &old {
                // The cart's references of its items are the old platform's ids, which the
                // new adapter would misread (a WooCommerce product id taken for a Shopify
                // inventory item's) or ignore: the items go by SKU until given new ones.
                if old.adapter != spec.adapter {
                    sql::web_fields_clear_refs(c, id)?;
                }
                if another_shop(old) {
                    sql::pulled_forget_cart(c, id)?;
                } else if old.level() != new_level {
                    crate::items::level_changed(c, id, old.level(), new_level)?;
                }
            }
            crate::manual::pulled_to_realtime(c, &workstation)?;
            Ok(CartSaved { id, uncertain })
        })
    }

    /// Ticks or clears a cart's *Synchronize Inventory* box. Queuing for it starts at once,
    /// with the corrections a Get QOH or an imported order left it owed (README, Get QOH);
    /// `Busy` while a manual run holds a cart owed one.
    pub fn set_cart_sync(&self, cart: CartId, on: bool) -> Result<()> {
        let workstation = self.workstation();
        self.write(|c| {
            let cart = sql::cart_by_id(c, cart)?;
            if on && cart.capabilities.realtime.is_none() {
                return Err(Error::refused(format!(
                    "cart {:?} does not support real-time sync",
                    cart.name
                )));
            }
            sql::targets_mark_shown(c)?;
            sql::cart_set_sync(c, cart.id, on)?;
            match on {
                true => crate::manual::pulled_to_realtime(c, &workstation),
                false => Ok(()),
            }
        })
    }

    /// One cart.
    pub fn cart(&self, cart: CartId) -> Result<Cart> {
        self.read(|c| sql::cart_by_id(c, cart))
    }

    /// Every cart, by id.
    pub fn carts(&self) -> Result<Vec<Cart>> {
        self.read(sql::carts_all)
    }

    /// The carts as JSON for listings: no secrets, only whether each is set.
    pub fn carts_json(&self) -> Result<String> {
        let carts = self.carts()?;
        Ok(Value::Array(carts.iter().map(Cart::info).collect()).to_string())
    }

    /// Deletes a cart; refused while it has records on the stack (discard them first; one
    /// still waiting to be sent only once it is bypassed: the message says how many wait), and
    /// [`ErrorKind::Busy`](crate::ErrorKind::Busy) while a Send QOH, Get QOH or drift repair
    /// runs for it (it would go on with a cart that is gone). A cart whose shop is gone, with
    /// records that can never be sent, is removed with them by [`retire_cart`](Self::retire_cart).
    pub fn delete_cart(&self, cart: CartId) -> Result<()> {
        self.write(|c| {
            let cart = sql::cart_by_id(c, cart)?;
            crate::manual::refuse_while_held(c, &cart, "delete it once that ends")?;
            let n = sql::stack_count_for_cart(c, cart.id)?;
            if n > 0 {
                // Only a bypassed or uncertain record can be discarded: told only to discard
                // them, an operator removing a dead cart met a refusal for each waiting one,
                // with no word of how they go.
                let settled = sql::stack_count(c, cart.id, crate::StackState::Bypassed)?
                    + sql::stack_count(c, cart.id, crate::StackState::Uncertain)?;
                let waiting = n.saturating_sub(settled);
                let what = if waiting == 0 {
                    "discard them first".to_owned()
                } else {
                    format!(
                        "{waiting} still waiting to be sent, which cannot be discarded: let them be sent, \
                         or discard them once bypassed (after BypassAfterAttempts failed attempts), \
                         and discard the bypassed and uncertain ones; or, for a shop that is \
                         gone, retire the cart (retire_cart, invsync_cart_retire), which \
                         discards all its records with it"
                    )
                };
                return Err(Error::refused(format!(
                    "cart {:?} has {} on the web stack; {what}",
                    cart.name,
                    crate::counted(n, "record")
                )));
            }
            sql::cart_delete(c, cart.id)
        })
    }

    /// Operator action for a shop that is gone (its site closed, its domain expired):
    /// deletes the cart with every record it has on the web stack, waiting, bypassed or
    /// uncertain, and returns how many records went. [`delete_cart`](Self::delete_cart)
    /// refuses while any record waits, and a dead cart's backlog is bypassed only an outage
    /// step at a time (DESIGN §3 rule 10), which takes hours or days.
    ///
    /// Each record is logged in the stack's history as `discarded`, its response saying it
    /// went with the cart; the cart is not told (it is gone). The records, the cart and what
    /// `delete_cart` removes with it (web fields, counts kept of what it shows) go in one
    /// transaction: a crash leaves the cart with all its records, or neither. Other carts'
    /// records stay, also those of orders imported from this cart. Use it only for a cart
    /// that will not come back: a shop that is merely down gets its waiting sales once it
    /// answers, and retiring it loses them.
    ///
    /// [`ErrorKind::Busy`](crate::ErrorKind::Busy), changing nothing, while a send to the
    /// cart may be in flight: a controller holds a live lease of its records (stop the
    /// controller or wait for its pass to end, then call again), or a Send QOH, Get QOH or
    /// drift repair holds it. [`ErrorKind::NotFound`](crate::ErrorKind::NotFound) for an
    /// unknown cart.
    pub fn retire_cart(&self, cart: CartId) -> Result<usize> {
        let now = crate::store::now_ms();
        self.write(|c| {
            let cart = sql::cart_by_id(c, cart)?;
            crate::manual::refuse_while_held(
                c,
                &cart,
                "wait for it to end (or cancel it), and try again",
            )?;
            let leased = sql::live_leases(c, cart.id, now)?;
            if leased > 0 {
                return Err(Error::new(
                    crate::ErrorKind::Busy,
                    format!(
                        "cart {:?}: a stack controller is sending it {} now, and the cart \
                         may take them; stop the controller or wait for its pass to end, and \
                         try again",
                        cart.name,
                        crate::counted(leased, "send")
                    ),
                ));
            }
            let n = sql::stack_discard_cart(c, cart.id, RETIRED, now)?;
            sql::cart_delete(c, cart.id)?;
            Ok(n)
        })
    }

    /// Sets web fields of one item on one cart from JSON
    /// `{"remote_ref"?,"sync"?,"buffer"?,"max_publish"?}`; keys left out keep their value.
    ///
    /// A change of buffer, cap or sync changes what the cart should show without any QOH
    /// change, so when the cart syncs in real time the change of its published count is
    /// queued at once, like any other. A cart real-time changes do not go to goes on showing
    /// what it was shown: where the store knows that (the cart was sent or read counts), it
    /// keeps that count for Get QOH, which would otherwise read the change as sales or
    /// returns there (a cap of 20 on 100 units: QOH 180).
    pub fn set_web_fields(&self, cart: CartId, sku: &str, json: &str) -> Result<()> {
        let sku = crate::items::check_sku(sku)?;
        let workstation = self.workstation();
        self.write(|c| {
            let cart = sql::cart_by_id(c, cart)?;
            let item = sql::item_by_sku(c, sku)?;
            let mut wf = sql::web_fields_get(c, cart.id, item.id)?;
            let old = wf.clone();
            wf.apply_json(json)?;
            // The reference a built-in adapter would read (a host's own adapter under a
            // built-in name reads references its own way; a blank one is none).
            let given = wf
                .remote_ref
                .as_deref()
                .filter(|r| !r.trim().is_empty())
                .filter(|_| !self.inner.adapters.is_custom(&cart.adapter));
            if given.is_some()
                && wf.remote_ref != old.remote_ref
                && crate::adapter::registry::SKU_ONLY.contains(&cart.adapter.as_str())
            {
                return Err(Error::invalid(format!(
                    "web fields of {sku} on cart {:?}: remote_ref is not used by the {} \
                     adapter, which names items by SKU only; leave it unset and give the item \
                     the cart's SKU",
                    cart.name, cart.adapter
                )));
            }
            // Also one stored before 2026-12-02: a call that keeps it is refused until it is
            // cleared or set right, as the adapter fails the item's changes meanwhile.
            if let Some((r, why)) = given.and_then(|r| {
                crate::adapter::registry::remote_ref_refused(&cart.adapter, r).map(|why| (r, why))
            }) {
                return Err(Error::invalid(format!(
                    "web fields of {sku} on cart {:?}: remote_ref {r:?}: {why}; set one it \
                     takes, or clear it (\"remote_ref\": null)",
                    cart.name
                )));
            }
            // Another item given the same record of the cart (also one stored before): the
            // cart keeps one count for the two, set by whichever was sent last.
            let spellings = given.and_then(|r| {
                crate::adapter::registry::remote_ref_spellings(&cart.adapter, r).map(|s| (r, s))
            });
            if let Some((r, spellings)) = spellings {
                if let Some(holder) = sql::web_fields_ref_holder(c, cart.id, item.id, &spellings)? {
                    return Err(Error::invalid(format!(
                        "web fields of {sku} on cart {:?}: remote_ref {r:?} names what item \
                         {holder} is linked to there, and the cart keeps one count for it; give \
                         {sku} the reference of its own product, or clear {holder}'s first",
                        cart.name
                    )));
                }
                wf.remote_ref = Some(crate::adapter::registry::remote_ref_kept(
                    &cart.adapter,
                    r,
                    spellings,
                ));
            }
            if old == wf {
                return sql::web_fields_put(c, cart.id, item.id, &wf);
            }
            let queue = cart.realtime_on() && crate::params::synch_qoh(c)?;
            let before = crate::items::published_now(c, &cart, &item)?;
            sql::web_fields_put(c, cart.id, item.id, &wf)?;
            let after = crate::items::published_now(c, &cart, &item)?;
            match (before, after) {
                // Put back on a cart real-time changes go to, which went on showing the count
                // kept when it was taken off: it is sent the difference, as when real-time
                // changes start (`manual::pulled_to_realtime`).
                (None, Some((target, a))) if queue => {
                    if let Some(kept) = sql::pulled_get(c, cart.id, target)? {
                        if a != kept {
                            queue_correction(c, cart.id, target, a - kept, &workstation)?;
                        }
                        sql::pulled_forget(c, cart.id, target)?;
                    }
                }
                (Some((target, b)), Some((_, a))) if queue && a != b => {
                    queue_correction(c, cart.id, target, a - b, &workstation)?;
                }
                // Taken off the cart: it goes on showing what it was sent (with the records
                // still waiting), kept for when the item is put back.
                (Some((target, b)), None) if queue => sql::pulled_set(c, cart.id, target, b)?,
                (Some((target, b)), after)
                    if !queue && sql::cart_was_shown(c, cart.id, target)? =>
                {
                    let kept = sql::pulled_get(c, cart.id, target)?;
                    let shows = kept.unwrap_or(b);
                    match after {
                        Some((t, a)) if t == target => {
                            if shows != a {
                                sql::pulled_set(c, cart.id, target, shows)?;
                            } else if kept.is_some() {
                                sql::pulled_forget(c, cart.id, target)?;
                            }
                        }
                        // Taken off the cart (`sync: false`): it goes on showing what it was
                        // shown, kept for when the item is synced there again (a cap set
                        // meanwhile is not sales or returns there).
                        _ => sql::pulled_set(c, cart.id, target, shows)?,
                    }
                }
                _ => {}
            }
            Ok(())
        })
    }

    /// The web fields of one item on one cart (defaults when never set).
    pub fn web_fields(&self, cart: CartId, sku: &str) -> Result<WebFields> {
        let sku = crate::items::check_sku(sku)?;
        self.read(|c| {
            let cart = sql::cart_by_id(c, cart)?;
            let item = sql::item_by_sku(c, sku)?;
            sql::web_fields_get(c, cart.id, item.id)
        })
    }
}
