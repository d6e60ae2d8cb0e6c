//! Which adapter serves a cart: the built-in ones and those an integrator registers.

use super::bigcommerce::BigCommerceAdapter;
use super::http_json::HttpJsonAdapter;
use super::medusa::{MedusaAdapter, MedusaAuth};
use super::shopify::ShopifyAdapter;
use super::woocommerce::WooCommerceAdapter;
use super::{
    CartAdapter, CartError, DeltaSend, QuantityPage, QuantitySet, SendOutcome, UpdateMode,
};
use crate::carts::{Cart, ENV_KEYS};
use crate::error::{Error, Result};
use parking_lot::RwLock;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

/// Builds the adapter of one cart from its stored definition.
pub type AdapterFactory = dyn Fn(&Cart) -> Result<Arc<dyn CartAdapter>> + Send + Sync;

/// Adapter factories by adapter name.
pub struct AdapterRegistry {
    factories: RwLock<HashMap<String, Arc<AdapterFactory>>>,
    /// The names [`AdapterRegistry::register`] gave a factory: an integrator's adapters, and
    /// built-in names a host replaced (its own `shopify` reading the token from its vault).
    host: RwLock<HashSet<String>>,
    /// Per name, how many times a factory was registered under it: a controller's adapter
    /// built before the last registration of its name is built again
    /// ([`AdapterRegistry::generation`]).
    generations: RwLock<HashMap<String, u64>>,
}

const BUILTIN: &[&str] = &[
    "http_json",
    "shopify",
    "woocommerce",
    "bigcommerce",
    "medusa",
];

/// The built-in adapters that name items by SKU alone and never read a web field's
/// `remote_ref` (the `http_json` protocol carries a `sku` only; BigCommerce is searched by
/// SKU): a reference set for one of their carts would be ignored, and a sale of an item whose
/// SKU differs on the cart bypassed as an unknown SKU. (Shopify, WooCommerce and Medusa read
/// it.)
pub(crate) const SKU_ONLY: &[&str] = &["http_json", "bigcommerce"];

/// How the built-in `adapter`'s cart compares SKUs, where it takes two the store keeps apart
/// for one: the preflight's `sku_twin` warning names the store's items it would take for
/// one product. WooCommerce keeps SKUs in MySQL under WordPress's `utf8mb4_unicode_ci`
/// collation, whose `=` ignores case and accents, and refuses a product a SKU another
/// product has by that comparison (`wc_product_has_unique_sku`; woocommerce/woocommerce#5552:
/// a SKU changed from lower to upper case was refused as "not unique"): a shop holds one
/// product for the store's `TEE-M` and `tee-m`, or `CAFÉ` and `CAFE`, and the adapter, which
/// matches exactly, syncs only the one whose SKU that product has. `None` for the others:
/// Shopify and Medusa compare SKUs exactly and may hold a product for each (a shop selling
/// `tee-m` and `TEE-M` apart is no mistake there); BigCommerce documents its SKUs as unique
/// (bigcommerce/api-specs#991) but not how it compares them, and `http_json` is the host's
/// own server.
pub(crate) fn sku_collation(adapter: &str) -> Option<fn(&str) -> String> {
    match adapter {
        "woocommerce" => Some(super::woocommerce::collation_fold),
        _ => None,
    }
}

/// Why `remote_ref` is not a reference the built-in `adapter` can use, if it is not: Shopify
/// takes an inventory item's id, WooCommerce a product's, or a product's and a variation's.
/// Another form (a Shopify variant's id, pasted from the admin) was ignored for a search by
/// SKU, and a sale went to whichever variant had the SKU while the linked one oversold.
pub(crate) fn remote_ref_refused(adapter: &str, remote_ref: &str) -> Option<&'static str> {
    if remote_ref.trim().is_empty() {
        // No reference, as the store reads it (the item goes by its SKU).
        return None;
    }
    match adapter {
        "shopify" if super::shopify::item_gid(remote_ref).is_none() => Some(
            "the shopify adapter takes an inventory item's id (gid://shopify/InventoryItem/123, \
             or 123), not a variant's or a product's",
        ),
        "woocommerce" if !super::woocommerce::is_ref(remote_ref) => Some(
            "the woocommerce adapter takes a product's id (123), or a product's and a \
             variation's (123/456)",
        ),
        _ => None,
    }
}

/// The record of the cart a built-in `adapter` reads `remote_ref` as, spelled one way, with
/// the other spellings it reads the same: two items given one record of one cart would have
/// the cart hold one count for both (each Send QOH setting it to the last one's). `None` for a
/// blank reference (none) or one the adapter cannot read.
pub(crate) fn remote_ref_spellings(adapter: &str, remote_ref: &str) -> Option<Vec<String>> {
    if remote_ref.trim().is_empty() {
        return None;
    }
    let mut spellings = match adapter {
        "shopify" => {
            let gid = super::shopify::item_gid(remote_ref)?;
            let digits = gid.rsplit('/').next().unwrap_or_default().to_owned();
            vec![gid, digits]
        }
        "woocommerce" => vec![super::woocommerce::ref_key(remote_ref)?],
        _ => vec![remote_ref.to_owned()],
    };
    if !spellings.iter().any(|s| s == remote_ref) {
        spellings.push(remote_ref.to_owned());
    }
    Some(spellings)
}

/// How a reference a built-in `adapter` reads as `spellings` (from [`remote_ref_spellings`])
/// is kept: a WooCommerce one spelled one way (` 123 / 456` as `123/456`, `0123` as `123`), so
/// that another item given it in any spelling is found; others as given.
pub(crate) fn remote_ref_kept(adapter: &str, remote_ref: &str, spellings: Vec<String>) -> String {
    match (adapter, spellings.into_iter().next()) {
        ("woocommerce", Some(one_way)) => one_way,
        _ => remote_ref.to_owned(),
    }
}

/// The per-request time-out of a cart unless its config says `timeout_ms`.
pub(crate) fn cart_timeout(cart: &Cart) -> Duration {
    Duration::from_millis(
        cart.setting_i64("timeout_ms")
            .unwrap_or(30_000)
            .clamp(100, 600_000) as u64,
    )
}

fn missing(cart: &Cart, key: &str) -> Error {
    Error::invalid(format!("cart {:?}: {key} is required", cart.name))
}

fn required<'a>(cart: &'a Cart, key: &str) -> Result<&'a str> {
    cart.setting(key).ok_or_else(|| missing(cart, key))
}

fn required_secret(cart: &Cart, key: &str) -> Result<crate::secret::Secret> {
    cart.secret(key)?.ok_or_else(|| missing(cart, key))
}

/// A setting given as text or as a number.
fn setting_text(cart: &Cart, key: &str) -> Option<String> {
    cart.setting(key)
        .map(str::to_owned)
        .or_else(|| cart.setting_i64(key).map(|n| n.to_string()))
}

/// Builds `cart`'s adapter with the built-in factory of its name (whatever a store's registry
/// holds under that name), so that settings no later call could use (a missing token, a
/// location that is not a number, a consumer key with a `:`) are refused when the cart is
/// defined, not found by every pass while its sales wait. No request is made. A secret given
/// as `env:NAME` is read where the adapter runs: it is taken as set. `Ok` for an adapter that
/// is not built in.
pub(crate) fn check_builtin_settings(cart: &Cart) -> Result<()> {
    if !BUILTIN.contains(&cart.adapter.as_str()) {
        return Ok(());
    }
    static BUILTINS: std::sync::OnceLock<AdapterRegistry> = std::sync::OnceLock::new();
    let mut cart = cart.clone();
    for key in ENV_KEYS {
        if let Some(serde_json::Value::String(s)) = cart.config.get_mut(*key) {
            if s.starts_with("env:") {
                *s = "set-where-the-adapter-runs".into();
            }
        }
    }
    BUILTINS
        .get_or_init(AdapterRegistry::with_builtins)
        .build(&cart)
        .map(|_| ())
}

impl AdapterRegistry {
    /// A registry holding the built-in adapters.
    pub fn with_builtins() -> Self {
        let r = AdapterRegistry {
            factories: RwLock::new(HashMap::new()),
            host: RwLock::new(HashSet::new()),
            generations: RwLock::new(HashMap::new()),
        };
        r.register("http_json", |cart: &Cart| {
            let a = HttpJsonAdapter::new(
                required(cart, "url")?,
                cart.secret("token")?,
                cart_timeout(cart),
            )?;
            Ok(Arc::new(a) as Arc<dyn CartAdapter>)
        });
        r.register("shopify", |cart: &Cart| {
            let a = ShopifyAdapter::new(
                required(cart, "url")?,
                required_secret(cart, "token")?,
                &setting_text(cart, "location_id").ok_or_else(|| missing(cart, "location_id"))?,
                cart.setting("api_version"),
                cart_timeout(cart),
            )?;
            Ok(Arc::new(a) as Arc<dyn CartAdapter>)
        });
        r.register("woocommerce", |cart: &Cart| {
            // The key may be kept out of the store file as the secret is (`env:NAME`): an
            // owner who does so for one gave it so for both, and was refused for a ':'.
            let a = WooCommerceAdapter::new(
                required(cart, "url")?,
                required_secret(cart, "consumer_key")?.expose(),
                required_secret(cart, "consumer_secret")?,
                cart_timeout(cart),
            )?;
            Ok(Arc::new(a) as Arc<dyn CartAdapter>)
        });
        r.register("bigcommerce", |cart: &Cart| {
            let location = match setting_text(cart, "location_id") {
                None => 1,
                Some(l) => l.trim().parse().map_err(|_| {
                    Error::invalid(format!(
                        "cart {:?}: location_id must be a whole number",
                        cart.name
                    ))
                })?,
            };
            // Its declared lag is BigCommerce's default; a cart's `read_lag_ms` replaces it
            // (`build`), as on every built-in adapter.
            let a = BigCommerceAdapter::new(
                required(cart, "url")?,
                required_secret(cart, "token")?,
                location,
                cart_timeout(cart),
            )?;
            Ok(Arc::new(a) as Arc<dyn CartAdapter>)
        });
        r.register("medusa", |cart: &Cart| {
            let api_key = cart.secret("api_key")?;
            let email = cart.setting("email");
            let password = cart.secret("password")?;
            let auth = match (api_key, email, password) {
                (Some(k), None, None) => MedusaAuth::ApiKey(k),
                (None, Some(e), Some(p)) => MedusaAuth::EmailPass {
                    email: e.to_owned(),
                    password: p,
                },
                (None, _, _) => {
                    return Err(Error::invalid(format!(
                        "cart {:?}: medusa needs api_key (a secret API key) or email and password",
                        cart.name
                    )))
                }
                (Some(_), _, _) => {
                    return Err(Error::invalid(format!(
                        "cart {:?}: medusa takes api_key or email and password, not both",
                        cart.name
                    )))
                }
            };
            let a = MedusaAdapter::new(
                required(cart, "url")?,
                auth,
                required(cart, "location_id")?,
                cart_timeout(cart),
            )?;
            Ok(Arc::new(a) as Arc<dyn CartAdapter>)
        });
        // Built in, not the host's.
        r.host.write().clear();
        r
    }

    /// Registers (or replaces) the factory for carts whose `adapter` is `name`.
    pub fn register(
        &self,
        name: &str,
        factory: impl Fn(&Cart) -> Result<Arc<dyn CartAdapter>> + Send + Sync + 'static,
    ) {
        self.factories
            .write()
            .insert(name.to_owned(), Arc::new(factory));
        self.host.write().insert(name.to_owned());
        *self.generations.write().entry(name.to_owned()).or_default() += 1;
    }

    /// Changes at every [`register`](Self::register) of `name`: an adapter built before may
    /// come from a factory since replaced (a host registering its adapter again, with a new
    /// vault client or a fixed bug), and a controller caching adapters builds it again. (Per
    /// name: another adapter's registration leaves an adapter, and what it keeps across
    /// passes, as it is.)
    pub fn generation(&self, name: &str) -> u64 {
        self.generations.read().get(name).copied().unwrap_or(0)
    }

    /// Whether `name` is an integrator's adapter, or a built-in one the host replaced (its
    /// cart keys are its own).
    pub(crate) fn is_custom(&self, name: &str) -> bool {
        self.host.read().contains(name)
    }

    /// Builds the adapter for `cart`.
    pub fn build(&self, cart: &Cart) -> Result<Arc<dyn CartAdapter>> {
        let f = self
            .factories
            .read()
            .get(&cart.adapter)
            .cloned()
            .ok_or_else(|| {
                Error::invalid(format!(
                    "cart {:?}: adapter {:?} is not available in this build",
                    cart.name, cart.adapter
                ))
            })?;
        // An integrator's factory may quote the cart's settings, secrets included, in the
        // error it returns or the panic it raises (`{config:?}`).
        let secrets = cart_secrets(cart);
        let scrubbed = |kind, m: String| Error::new(kind, super::common::scrub(m, &secrets));
        let panicked = |p| {
            let m = format!(
                "cart {:?}: adapter {:?} panicked while being built: {p}",
                cart.name, cart.adapter
            );
            scrubbed(crate::ErrorKind::Refused, m)
        };
        let inner = unwound(|| f(cart))
            .map_err(panicked)?
            .map_err(|e| scrubbed(e.kind(), e.message().into()))?;
        // Asked once: the controller reads it again and again, outside any call.
        let mode = unwound(|| inner.update_mode()).map_err(panicked)?;
        let read_lag = match cart.setting_i64("read_lag_ms") {
            // The owner's word, for a built-in adapter's cart whose reads trail its writes
            // beyond what the adapter knows (a plugin answering `http_json` from a cache, a
            // shop behind a caching proxy); at most an hour, as checked when the cart is
            // saved. An integrator's adapter reads its cart's keys itself.
            Some(ms) if !self.is_custom(&cart.adapter) => {
                Duration::from_millis(ms.clamp(0, 3_600_000) as u64)
            }
            _ => unwound(|| inner.read_lag()).map_err(panicked)?,
        };
        Ok(Arc::new(Scrubbed {
            secrets,
            inner,
            mode,
            read_lag,
            paused_until: Default::default(),
        }))
    }
}

/// Runs an adapter's code, turning a panic into its message: an integrator's adapter that
/// panics on one item's answer must neither take the controller's cart thread down with the
/// batch left leased (re-sent every `LeaseMs`, never counted, never bypassed) nor cross the
/// C ABI as a bare error.
///
/// The panic's message may quote the cart's credentials (an integrator's `.unwrap()` of a
/// `reqwest` error quotes its URL, query string and all). The message reaches the caller
/// scrubbed, in the error; the process's panic hook would print it first, unscrubbed, to
/// stderr (the CLI controller's log). So while adapter code runs, a panic hook this
/// installs once (chained to the one before it) prints only where the adapter panicked.
fn unwound<T>(f: impl FnOnce() -> T) -> std::result::Result<T, String> {
    quiet_panics::install();
    let _inside = quiet_panics::Inside::enter();
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).map_err(|payload| {
        let what = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".into());
        format!("the cart's adapter panicked ({what})")
    })
}

/// The panic hook of [`unwound`]: on a thread running adapter code, a panic is told by
/// where it happened only; anywhere else, the hook installed before this one tells it.
mod quiet_panics {
    use std::cell::Cell;
    use std::io::Write;
    use std::sync::Once;

    thread_local! {
        static INSIDE: Cell<bool> = const { Cell::new(false) };
    }

    pub(super) fn install() {
        static ONCE: Once = Once::new();
        ONCE.call_once(|| {
            let before = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                if INSIDE.try_with(Cell::get).unwrap_or(false) {
                    let at = info
                        .location()
                        .map(|l| format!(" at {}:{}", l.file(), l.line()))
                        .unwrap_or_default();
                    // Written, not `eprintln!`: that panics when stderr is gone (a closed
                    // pipe), and a panic inside a panic hook aborts the process.
                    let _ = writeln!(
                        std::io::stderr(),
                        "inventory_sync: a cart adapter panicked{at}; its message, without \
                         the cart's credentials, is in the error the call returned"
                    );
                } else {
                    before(info);
                }
            }));
        });
    }

    /// Marks this thread as running adapter code until dropped (nested calls restore the
    /// outer mark).
    pub(super) struct Inside(bool);

    impl Inside {
        pub(super) fn enter() -> Inside {
            Inside(INSIDE.with(|c| c.replace(true)))
        }
    }

    impl Drop for Inside {
        fn drop(&mut self) {
            INSIDE.with(|c| c.set(self.0));
        }
    }
}

/// The forms in which a cart's credentials could come back in an answer: each as given, and
/// as the HTTP Basic credentials built of them (`user:secret`, `secret:`). A value under 4
/// bytes is not scrubbed as given (replacing it would garble messages and hide little), but
/// its Basic forms are: `base64("ck_live:c$9")` is the whole credential. (Each is also
/// scrubbed as a JSON body quotes it, `/` escaped as `\/` included: see `common::scrub`.)
fn cart_secrets(cart: &Cart) -> Vec<String> {
    let secrets: Vec<String> = cart
        .secrets()
        .iter()
        .map(|s| s.expose().to_owned())
        .filter(|s| !s.is_empty())
        .collect();
    let users: Vec<String> = ["consumer_key", "email"]
        .iter()
        .filter_map(|k| cart.secret(k).ok().flatten())
        .map(|u| u.expose().to_owned())
        .collect();
    let mut out = secrets.clone();
    for s in &secrets {
        out.push(super::common::base64(format!("{s}:").as_bytes()));
        for u in &users {
            out.push(super::common::base64(format!("{u}:{s}").as_bytes()));
        }
    }
    out
}

/// Every adapter the registry builds answers through this. A cart may quote the credential it
/// refused in its error body (`invalid token Bearer …`); an adapter quotes error bodies to
/// say what went wrong; so without this a credential would reach errors, reports and the
/// stack's `last_response`.
struct Scrubbed {
    inner: Arc<dyn CartAdapter>,
    secrets: Vec<String>,
    mode: UpdateMode,
    /// [`CartAdapter::read_lag`], asked once as `mode` is.
    read_lag: std::time::Duration,
    /// Until when the cart asked not to be sent anything (a rate limit met while counts of
    /// a batch that panicked were sent one by one): the calls after it are refused as rate
    /// limited without reaching the cart, so the caller stops rather than ask it again.
    paused_until: parking_lot::Mutex<Option<std::time::Instant>>,
}

impl Scrubbed {
    fn text(&self, m: String) -> String {
        super::common::scrub(m, &self.secrets)
    }
    fn error(&self, e: CartError) -> CartError {
        e.map_message(|m| self.text(m))
    }
    /// Scrubs the outcomes of a call with `n` inputs. Outcomes are matched to inputs by
    /// position only, so a list of another length (an item the adapter skipped, a line the
    /// cart left out) cannot say which item any outcome belongs to: the whole answer is lost,
    /// and each mode handles that as it handles a lost answer.
    fn outcomes(
        &self,
        r: std::result::Result<Vec<SendOutcome>, CartError>,
        n: usize,
    ) -> std::result::Result<Vec<SendOutcome>, CartError> {
        let outcomes = r.map_err(|e| self.error(e))?;
        if outcomes.len() != n {
            return Err(CartError::Ambiguous(format!(
                "the adapter answered {} outcomes for {n} items: which items the cart took is \
                 unknown",
                outcomes.len()
            )));
        }
        Ok(outcomes
            .into_iter()
            .map(|o| o.map_message(|m| self.text(m)))
            .collect())
    }

    /// Sends `sets` one by one after their batch `panicked`: each lands, or is in doubt (the
    /// batch may have set it). Rate limits are waited out, each set at most as often as a
    /// manual run waits one out, and all of them for `wait_left` in all: a cart that keeps
    /// limiting 50 counts sent one by one must not hold the run, and the cart, for hours
    /// (Send QOH sends counts in doubt again, twice).
    fn sets_one_by_one(
        &self,
        sets: &[QuantitySet],
        panicked: &str,
        mut wait_left: Duration,
    ) -> Vec<SendOutcome> {
        // Once the cart asks for a pause longer than is left to wait, the counts after it are
        // not sent before the time it named: they stay in doubt, as the batch left them.
        let mut paused: Option<String> = None;
        sets.iter()
            .map(|s| {
                let once = || self.set_quantities(std::slice::from_ref(s));
                let alone = match &paused {
                    Some(why) => format!("not sent: {why}"),
                    None => match crate::manual::with_rate_limit_within(None, once, &mut wait_left)
                    {
                        Ok(mut one) => match one.pop() {
                            Some(applied @ SendOutcome::Applied { .. }) => return applied,
                            other => crate::manual::describe(other.as_ref()),
                        },
                        Err(CartError::RateLimited {
                            retry_after,
                            message,
                        }) => {
                            let wait = retry_after.unwrap_or(Duration::from_secs(1));
                            *self.paused_until.lock() = Some(std::time::Instant::now() + wait);
                            paused = Some(message.clone());
                            message
                        }
                        Err(e) => e.message(),
                    },
                };
                SendOutcome::Uncertain {
                    message: format!("{panicked} in a batch; sent alone: {alone}"),
                }
            })
            .collect()
    }
}

impl Scrubbed {
    /// A read of the cart's counts: nothing changes there, so a panic is an outage to try
    /// again, not a lost answer.
    fn read<T>(
        &self,
        call: impl FnOnce() -> std::result::Result<T, CartError>,
    ) -> std::result::Result<T, CartError> {
        self.paused()?;
        match unwound(call) {
            Ok(r) => r.map_err(|e| self.error(e)),
            Err(p) => Err(CartError::Unavailable(self.text(p))),
        }
    }

    /// A rate limit without a call, while the cart's pause lasts.
    fn paused(&self) -> std::result::Result<(), CartError> {
        let until = *self.paused_until.lock();
        match until.map(|t| t.saturating_duration_since(std::time::Instant::now())) {
            Some(left) if !left.is_zero() => Err(CartError::RateLimited {
                retry_after: Some(left),
                message: format!(
                    "the cart asked not to be sent anything for {} s more",
                    left.as_secs().max(1)
                ),
            }),
            _ => Ok(()),
        }
    }
}

impl CartAdapter for Scrubbed {
    fn update_mode(&self) -> UpdateMode {
        self.mode
    }
    /// A panic may have come before the request or after the cart applied it: the answer is
    /// lost ([`CartError::Ambiguous`]), for the whole batch, as a time-out would be. A keyed
    /// cart is tried again (each try counts; the cart backs off as one that is failing, and
    /// rule 10 bypasses the batch after the tenth); to any other nothing is sent again.
    fn apply_deltas(
        &self,
        deltas: &[DeltaSend],
    ) -> std::result::Result<Vec<SendOutcome>, CartError> {
        self.paused()?;
        match unwound(|| self.inner.apply_deltas(deltas)) {
            Ok(r) => self.outcomes(r, deltas.len()),
            Err(p) => Err(CartError::Ambiguous(format!(
                "{}: the cart may or may not have applied the batch",
                self.text(p)
            ))),
        }
    }
    /// A panic may have come after some counts landed. Absolute counts are safe to set
    /// again, so the batch's counts go one by one: those the adapter's bug does not touch
    /// land, and every other is in doubt (Send QOH sends it again, then settles its records
    /// and lists it).
    fn set_quantities(
        &self,
        sets: &[QuantitySet],
    ) -> std::result::Result<Vec<SendOutcome>, CartError> {
        self.paused()?;
        match unwound(|| self.inner.set_quantities(sets)) {
            Ok(r) => self.outcomes(r, sets.len()),
            Err(p) if sets.len() == 1 => Ok(vec![SendOutcome::Uncertain {
                message: format!("{}: the cart may or may not have this count", self.text(p)),
            }]),
            // The call that panicked may have set any of them: alone, a count either lands
            // or stays in doubt (never "not applied", which would leave its records to be
            // sent on top of a count the cart may hold).
            Err(p) => {
                Ok(self.sets_one_by_one(sets, &self.text(p), crate::manual::RATE_LIMIT_MAX_WAIT))
            }
        }
    }
    fn fetch_quantities(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> std::result::Result<QuantityPage, CartError> {
        self.read(|| self.inner.fetch_quantities(cursor, limit))
    }
    /// A panic here is the adapter's: the run goes on, and its calls answer for themselves.
    fn begin_manual_run(&self) {
        let _ = unwound(|| self.inner.begin_manual_run());
    }
    fn read_lag(&self) -> std::time::Duration {
        self.read_lag
    }
    fn fetch_catalogue(
        &self,
        cursor: Option<&str>,
        limit: u32,
    ) -> std::result::Result<super::CataloguePage, CartError> {
        self.read(|| self.inner.fetch_catalogue(cursor, limit))
    }
    /// A read too: a panic is an error (scrubbed), which leaves Get QOH's new items uncreated.
    fn describe(&self, skus: &[&str]) -> std::result::Result<super::Described, CartError> {
        self.read(|| self.inner.describe(skus))
    }
}

impl crate::Store {
    /// Registers an integrator's adapter under `name`: carts whose JSON names it are served
    /// by what `factory` builds (it is called again whenever the cart's definition changes).
    ///
    /// A panic in the factory or the adapter becomes an error, its message scrubbed of the
    /// cart's secrets. While adapter code runs, the process's panic hook does not print the
    /// message either: on the first adapter call the library installs a hook, chained in front
    /// of the one set before, that prints only where the adapter panicked.
    pub fn register_adapter(
        &self,
        name: &str,
        factory: impl Fn(&Cart) -> Result<Arc<dyn CartAdapter>> + Send + Sync + 'static,
    ) {
        self.inner.adapters.register(name, factory);
    }

    pub(crate) fn build_adapter(&self, cart: &Cart) -> Result<Arc<dyn CartAdapter>> {
        self.inner.adapters.build(cart)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// Counts that always panic as a batch and are always rate-limited alone.
    struct Throttled(AtomicUsize);

    impl CartAdapter for Throttled {
        fn update_mode(&self) -> UpdateMode {
            UpdateMode::RelativeKeyed
        }
        fn apply_deltas(
            &self,
            _: &[DeltaSend],
        ) -> std::result::Result<Vec<SendOutcome>, CartError> {
            unreachable!("counts only")
        }
        fn set_quantities(
            &self,
            sets: &[QuantitySet],
        ) -> std::result::Result<Vec<SendOutcome>, CartError> {
            assert!(sets.len() == 1, "index out of bounds reading the answer");
            self.0.fetch_add(1, Ordering::SeqCst);
            Err(CartError::RateLimited {
                retry_after: Some(Duration::from_millis(20)),
                message: "HTTP 429".into(),
            })
        }
        fn fetch_quantities(
            &self,
            _: Option<&str>,
            _: u32,
        ) -> std::result::Result<QuantityPage, CartError> {
            unreachable!("counts only")
        }
    }

    /// After a panic, the counts sent one by one share one budget of rate-limit waits: here
    /// 50 ms, spent on the first count's 20 + 20 ms (a third 20 would outlast what is left,
    /// and the cart is never asked before the time it named); the others are not sent before
    /// then either, and stay in doubt.
    #[test]
    fn counts_sent_one_by_one_share_one_budget_of_waits() {
        let inner = Arc::new(Throttled(AtomicUsize::new(0)));
        let scrubbed = Scrubbed {
            inner: inner.clone(),
            secrets: Vec::new(),
            mode: UpdateMode::RelativeKeyed,
            read_lag: Duration::ZERO,
            paused_until: Default::default(),
        };
        let sets: Vec<QuantitySet> = (0..4)
            .map(|i| QuantitySet {
                key: format!("k{i}"),
                sku: format!("S{i}"),
                remote_ref: None,
                qoh: 1,
                expected: None,
            })
            .collect();
        let out = scrubbed.sets_one_by_one(&sets, "panicked", Duration::from_millis(50));
        assert_eq!(inner.0.load(Ordering::SeqCst), 3, "{out:?}");
        assert!(out
            .iter()
            .all(|o| matches!(o, SendOutcome::Uncertain { message } if message.contains("429"))));
    }

    #[test]
    fn a_secret_cut_by_an_excerpt_is_scrubbed_too() {
        let secret = "tok-SECRET-7f3a9c";
        assert_eq!(
            crate::adapter::common::scrub_cut("Bearer tok-SECR… and tok-… and to…".into(), secret),
            "Bearer ***… and ***… and to…"
        );
        assert_eq!(
            crate::adapter::common::scrub_cut("no mark tok-SECR".into(), secret),
            "no mark tok-SECR"
        );
    }
}
