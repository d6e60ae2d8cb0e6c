//! The stack controller where the store or the cart changes under a send: another till's
//! stalled send of an older change, a cart switched to an adapter without keys, a cart saved
//! while a request is out, a cart without keys that hangs. (From a review, 2026-12-03: each
//! failed before its fix.)
#![cfg(feature = "emulator")]

#[macro_use]
mod common;

use common::*;
use inventory_sync::adapter::{CartError, DeltaSend, SendOutcome};
use inventory_sync::stack::{LeaseScope, SqliteStack, WebStack};
use inventory_sync::{CartAdapter, CartId, Reason, StackState, Store, UpdateMode};
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A keyed cart in memory that takes no count below 0 (as Medusa): it records every change
/// it was sent, in order, and applies each key once.
#[derive(Default)]
struct Shop {
    qoh: Mutex<HashMap<String, i64>>,
    keys: Mutex<HashSet<String>>,
    sent: Mutex<Vec<(String, i64)>>,
    mode: Option<UpdateMode>,
}

impl Shop {
    fn get(&self, sku: &str) -> i64 {
        *self.qoh.lock().unwrap().get(sku).unwrap_or(&0)
    }
    fn set(&self, sku: &str, q: i64) {
        self.qoh.lock().unwrap().insert(sku.into(), q);
    }
    fn sent(&self) -> Vec<(String, i64)> {
        self.sent.lock().unwrap().clone()
    }
}

impl CartAdapter for Shop {
    fn update_mode(&self) -> UpdateMode {
        self.mode.unwrap_or(UpdateMode::RelativeKeyed)
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        self.apply(d, self.update_mode() == UpdateMode::RelativeKeyed)
    }
    sends_deltas_only!();
}

impl Shop {
    /// Applies `d`; a key seen before is a duplicate when the way in `dedupe`s.
    fn apply(&self, d: &[DeltaSend], dedupe: bool) -> Result<Vec<SendOutcome>, CartError> {
        let mut q = self.qoh.lock().unwrap();
        let mut keys = self.keys.lock().unwrap();
        Ok(d.iter()
            .map(|x| {
                self.sent.lock().unwrap().push((x.sku.clone(), x.delta));
                if dedupe && keys.contains(&x.key) {
                    return SendOutcome::Applied { qoh: None };
                }
                let now = *q.get(&x.sku).unwrap_or(&0);
                if now + x.delta < 0 {
                    return SendOutcome::Failed {
                        message: "the cart takes no negative count".into(),
                    };
                }
                keys.insert(x.key.clone());
                q.insert(x.sku.clone(), now + x.delta);
                SendOutcome::Applied { qoh: None }
            })
            .collect())
    }
}

/// Two handles on the store, workstations TILL-1 and TILL-2, both serving cart "Shop".
fn tills(f: &Fixture, shop: &Arc<Shop>) -> (CartId, Store, Store) {
    let cart = custom_cart(
        &f.store,
        "Shop",
        shop.clone() as Arc<dyn CartAdapter>,
        Some("attribute"),
        None,
    );
    f.store.set_cart_sync(cart, true).unwrap();
    let mk = |name: &str| {
        let till = f.reopen();
        till.set_param("Workstation", name).unwrap();
        let s = shop.clone();
        till.register_adapter("Shop", move |_| Ok(s.clone() as Arc<dyn CartAdapter>));
        till
    };
    (cart, mk("TILL-1"), mk("TILL-2"))
}

/// Local mode. TILL-1's controller leased its receiving of W (+5) and stopped mid-send (a
/// crash, or a store too busy for its renewals): the lease lapsed, but TILL-1's heartbeat is
/// still fresh, so its records are TILL-1's to take over. TILL-2's later sale of W (-3) must
/// wait behind that older change of the item, as it waits behind one that is ungrouped or
/// in a retry group. It does not: the lapsed first-attempt batch is invisible to the
/// "older change of the item" checks, the sale goes first, a cart at 0 that takes no
/// negative count refuses it, and it is bypassed: the cart ends at 5 where the store has 2.
#[test]
fn a_sale_does_not_overtake_an_older_change_in_a_lapsed_batch_of_a_live_till() {
    let f = store();
    f.store.set_param("StackMode", "local").unwrap();
    let shop = Arc::new(Shop::default());
    let (cart, till1, till2) = tills(&f, &shop);
    item(&f.store, "W", 0);
    shop.set("W", 0);
    // Both tills' controllers are alive.
    till1.run_stack(None).unwrap();
    till2.run_stack(None).unwrap();
    adjust(&till1, "W", 5, Reason::Receiving);
    // TILL-1's controller leases it and stalls; its lease has lapsed since.
    let stalled = SqliteStack::open(f.store.path(), &Default::default()).unwrap();
    let scope = LeaseScope {
        workstation: "TILL-1".into(),
        shared: false,
        stale_before: 0,
    };
    let lease = stalled
        .lease(cart, 50, &scope, now_ms() - 10_000, 100)
        .unwrap();
    assert_eq!(lease.sends.len(), 1);
    adjust(&till2, "W", -3, Reason::PosSale);
    let r2 = till2.run_stack(None).unwrap();
    // TILL-1 comes back and sends its own.
    let r1 = till1.run_stack(None).unwrap();
    drain(&till2);
    assert_eq!(
        shop.sent().first(),
        Some(&("W".to_string(), 5)),
        "the sale went before the older receiving: {:?}\nTILL-2: {r2}TILL-1: {r1}",
        shop.sent()
    );
    assert_eq!(shop.get("W"), 2, "cart count; sent {:?}", shop.sent());
    assert_eq!(f.store.stack_count(cart, StackState::Bypassed).unwrap(), 0);
}

/// The cart's keyed plugin: applies what it is sent (once per key), but the answer to its
/// first request is lost (a time-out after the cart applied it); `during` runs before that
/// answer (the owner saving the cart while the request is out).
#[derive(Default)]
struct LosesFirstAnswer {
    shop: Arc<Shop>,
    lost: std::sync::atomic::AtomicBool,
    during: Mutex<Option<Hook>>,
}

impl CartAdapter for LosesFirstAnswer {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeKeyed
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        let out = self.shop.apply(d, true)?;
        if !self.lost.swap(true, std::sync::atomic::Ordering::SeqCst) {
            if let Some(f) = self.during.lock().unwrap().take() {
                f();
            }
            return Err(CartError::Ambiguous(
                "time-out after sending the request".into(),
            ));
        }
        Ok(out)
    }
    sends_deltas_only!();
}

/// A sale went to the cart through its keyed plugin, and the answer was lost: the cart may
/// have it (here it does), and only a re-send under its key is safe. Before the retry, the
/// owner switches the same shop to an adapter without keys (WooCommerce's REST API instead
/// of the plugin, say). The waiting change must then not be sent blindly (DESIGN §4: "an
/// ambiguous failure is never blindly re-sent"): it should be held back as uncertain, as a
/// lapsed send is. Until 2026-12-03 it was re-sent as a new change and the cart took the sale
/// twice.
#[test]
fn a_change_whose_answer_was_lost_is_not_resent_blindly_after_the_cart_loses_its_keys() {
    let f = store();
    let (shop, _, _, cart) = keyed_plugin_to_switch(&f);
    adjust(&f.store, "W", -2, Reason::PosSale);
    let first = f.store.run_stack(None).unwrap();
    assert_eq!((first.sent, first.retried), (0, 1), "{first}");
    assert_eq!(shop.get("W"), 8, "the cart applied it; its answer was lost");
    // The same shop, now through an adapter without keys.
    f.store.upsert_cart_json(&spec_of("Web", "direct")).unwrap();
    assert_sold_once(&f, &shop, cart, 1);
}

/// Another platform's keyed adapter over the same shop's stock: it keeps keys of its own,
/// and has never seen the old adapter's.
struct OtherKeys(Arc<Shop>);

impl CartAdapter for OtherKeys {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeKeyed
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        self.0.apply(d, false)
    }
    sends_deltas_only!();
}

/// The same as above, switched to another adapter with keys (the plugin replaced by a
/// platform's own API, which keeps keys of its own): the change whose answer was lost went
/// again under its old key, which the new platform had never seen, and the cart took the
/// sale twice (until 2026-12-03). Such a change is held back as uncertain at the switch,
/// whatever the new adapter.
#[test]
fn a_change_whose_answer_was_lost_is_not_resent_under_a_key_the_new_adapter_does_not_know() {
    let f = store();
    let (shop, _, _, cart) = keyed_plugin_to_switch(&f);
    let s = shop.clone();
    f.store.register_adapter("other", move |_| {
        Ok(Arc::new(OtherKeys(s.clone())) as Arc<dyn CartAdapter>)
    });
    adjust(&f.store, "W", -2, Reason::PosSale);
    let first = f.store.run_stack(None).unwrap();
    assert_eq!((first.sent, first.retried), (0, 1), "{first}");
    assert_eq!(shop.get("W"), 8, "the cart applied it; its answer was lost");
    f.store.upsert_cart_json(&spec_of("Web", "other")).unwrap();
    assert_sold_once(&f, &shop, cart, 1);
}

/// A keyed cart whose first request answers 429 with `Retry-After: 3600`, after running
/// `during` (the owner saving the cart while the request is on the way); then applies.
struct LimitedOnce {
    shop: Arc<Shop>,
    limited: std::sync::atomic::AtomicBool,
    during: Mutex<Option<Hook>>,
}

impl CartAdapter for LimitedOnce {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeKeyed
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        if !self.limited.swap(true, std::sync::atomic::Ordering::SeqCst) {
            if let Some(f) = self.during.lock().unwrap().take() {
                f();
            }
            return Err(CartError::RateLimited {
                retry_after: Some(std::time::Duration::from_secs(3600)),
                message: "HTTP 429".into(),
            });
        }
        self.shop.apply(d, true)
    }
    sends_deltas_only!();
}

/// The cart answers 429 with an hour's Retry-After while the owner saves the cart with only
/// its batch size changed (or saves it unchanged: an order manager's cart form). The doc of
/// `upsert_cart_json` promises such a save "leaves a cart's Retry-After running"; the one
/// met by the request in flight is dropped instead (`set_cart_state` ignores an answer to a
/// request made before any save, whatever changed), and the next pass sends the cart the
/// rest of the backlog inside its Retry-After.
#[test]
fn a_retry_after_met_while_the_cart_is_saved_with_only_its_batch_size_changed_is_obeyed() {
    let f = store();
    let shop = Arc::new(Shop::default());
    let spec = |max: u32| {
        serde_json::json!({"name": "Lim", "adapter": "Lim", "max_items_to_send": max,
            "capabilities": {"send": true, "get": true, "realtime": "attribute"}})
        .to_string()
    };
    let other = f.reopen();
    let adapter = Arc::new(LimitedOnce {
        shop: shop.clone(),
        limited: Default::default(),
        during: Mutex::new(None),
    });
    for h in [&f.store, &other] {
        let a = adapter.clone();
        h.register_adapter("Lim", move |_| Ok(a.clone() as Arc<dyn CartAdapter>));
    }
    let cart = f.store.upsert_cart_json(&spec(50)).unwrap();
    f.store.set_cart_sync(cart, true).unwrap();
    for sku in ["R", "S"] {
        item(&f.store, sku, 5);
        shop.set(sku, 5);
    }
    let resave = spec(20);
    *adapter.during.lock().unwrap() = Some(Box::new(move || {
        other.upsert_cart_json(&resave).unwrap();
    }));
    adjust(&f.store, "R", -1, Reason::PosSale);
    let first = f.store.run_stack(None).unwrap();
    assert_eq!(first.sent, 0, "{first}");
    adjust(&f.store, "S", -1, Reason::PosSale);
    let second = f.store.run_stack(None).unwrap();
    assert_eq!(
        shop.sent(),
        Vec::<(String, i64)>::new(),
        "sent inside the cart's hour-long Retry-After; second pass: {second}"
    );
}

/// A cart without keys that has hung: every request times out after it was sent.
#[derive(Default)]
struct HungBlind {
    calls: std::sync::atomic::AtomicUsize,
}

impl CartAdapter for HungBlind {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::Absolute
    }
    fn apply_deltas(&self, _: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(CartError::Ambiguous(
            "time-out after sending the request".into(),
        ))
    }
    sends_deltas_only!();
}

/// Rule 10: while a whole cart is down (time-outs on every request), only its oldest batch
/// is tried on each back-off step and the rest of the backlog waits untouched. A cart
/// without keys that times out gets no back-off at all: each pass sends it the next batch,
/// which the time-out makes uncertain, so an hour's hang turns the whole backlog into
/// uncertain records, none of them sent, each waiting for an operator to check the cart.
#[test]
fn a_cart_without_keys_that_times_out_backs_off_instead_of_burning_its_backlog() {
    let f = store();
    f.store.set_param("RetryBaseMs", "60000").unwrap();
    f.store.set_param("RetryMaxMs", "60000").unwrap();
    let hung = Arc::new(HungBlind::default());
    let cart = custom_cart(
        &f.store,
        "Hung",
        hung.clone() as Arc<dyn CartAdapter>,
        Some("attribute"),
        Some(1),
    );
    f.store.set_cart_sync(cart, true).unwrap();
    for sku in ["A", "B", "C", "D"] {
        item(&f.store, sku, 5);
        adjust(&f.store, sku, -1, Reason::PosSale);
    }
    let first = f.store.run_stack(None).unwrap();
    assert_eq!(first.uncertain, 1, "{first}");
    let mut passes = String::new();
    for _ in 0..3 {
        passes += &f.store.run_stack(None).unwrap().to_string();
    }
    assert_eq!(
        (
            hung.calls.load(std::sync::atomic::Ordering::SeqCst),
            f.store.stack_count(cart, StackState::Uncertain).unwrap()
        ),
        (1, 1),
        "the hung cart was sent batch after batch with no back-off:\n{passes}"
    );
}

/// A 429 to the whole call naming no wait (`Retry-After: 0`, at a rate-limit window's edge)
/// holds the cart for at least a second, as one on items of a call does: the cart was due
/// again at once, and every pass asked it again, counting no attempt, for as long as it
/// answered so. (Noted by the same review.)
#[test]
fn a_429_naming_no_wait_holds_the_cart_a_second() {
    let f = store();
    let e = inventory_sync::emulator::Emulator::start().unwrap();
    let c = cart(&f.store, &e, "Web", "attribute");
    f.store.set_cart_sync(c, true).unwrap();
    item(&f.store, "W", 5);
    e.set_qoh("W", 5);
    adjust(&f.store, "W", -1, Reason::PosSale);
    e.inject(inventory_sync::emulator::Fault::Status {
        status: 429,
        count: usize::MAX,
        retry_after: Some(0),
    });
    let first = f.store.run_stack(None).unwrap();
    let asked = e.requests();
    let second = f.store.run_stack(None).unwrap();
    assert_eq!(e.requests(), asked, "asked again at once: {first}{second}");
    assert_eq!(stack(&f.store, None)[0]["attempts"], 0);
}

/// A shop whose own API takes no keys (adapter "direct" in [`cart_to_switch`]).
fn shop_without_keys() -> Arc<Shop> {
    Arc::new(Shop {
        mode: Some(UpdateMode::RelativeUnkeyed),
        ..Default::default()
    })
}

/// Cart "Web" through adapter `old`, real-time on, to be switched to adapter "direct" (the
/// `shop` itself); both registered on the fixture's handle and on `others`. The store and
/// the shop hold 10 of W.
fn cart_to_switch(
    f: &Fixture,
    shop: &Arc<Shop>,
    old: Arc<dyn CartAdapter>,
    others: &[&Store],
) -> CartId {
    for h in others.iter().copied().chain([&f.store]) {
        let o = old.clone();
        h.register_adapter("old", move |_| Ok(o.clone()));
        let d = shop.clone();
        h.register_adapter("direct", move |_| Ok(d.clone() as Arc<dyn CartAdapter>));
    }
    let cart = f.store.upsert_cart_json(&spec_of("Web", "old")).unwrap();
    f.store.set_cart_sync(cart, true).unwrap();
    item(&f.store, "W", 10);
    shop.set("W", 10);
    cart
}

fn spec_of(name: &str, adapter: &str) -> String {
    serde_json::json!({"name": name, "adapter": adapter,
        "capabilities": {"send": true, "get": true, "realtime": "attribute"}})
    .to_string()
}

/// [`cart_to_switch`] from the keyed plugin that loses its first answer, with another
/// workstation's handle on the store (the owner's, who replaces the adapter).
fn keyed_plugin_to_switch(f: &Fixture) -> (Arc<Shop>, Arc<LosesFirstAnswer>, Store, CartId) {
    let shop = shop_without_keys();
    let plug = Arc::new(LosesFirstAnswer {
        shop: shop.clone(),
        ..Default::default()
    });
    let other = f.reopen();
    let cart = cart_to_switch(f, &shop, plug.clone(), &[&other]);
    (shop, plug, other, cart)
}

/// What `other`'s save of cart "Web" onto adapter "direct" answered, once `save` has run (at
/// a chosen point of a send or a build).
type Saved = Arc<Mutex<Option<inventory_sync::Result<CartId>>>>;

fn switch_on(other: Store) -> (Saved, impl FnOnce() + Send) {
    let saved: Saved = Arc::new(Mutex::new(None));
    let answer = saved.clone();
    let save = move || {
        *answer.lock().unwrap() = Some(other.upsert_cart_json(&spec_of("Web", "direct")));
    };
    (saved, save)
}

/// After the switch, the store drained: the sale of 2 reached the shop once (W at 8), with
/// `uncertain` changes held back for an operator.
fn assert_sold_once(f: &Fixture, shop: &Shop, cart: CartId, uncertain: i64) {
    let r = drain(&f.store);
    assert_eq!(
        (
            shop.get("W"),
            f.store.stack_count(cart, StackState::Uncertain).unwrap()
        ),
        (8, uncertain),
        "sent {:?}; stack {:#?}; last pass {r}",
        shop.sent(),
        stack(&f.store, None)
    );
}

/// A change in flight through the keyed plugin when the owner switches the cart to an adapter
/// without keys (in a first-attempt batch) settled afterwards as a keyed retry, unmarked, and
/// the new adapter sent it again blindly: the cart took the sale twice (found by a review of
/// the fix above). A change of adapter now waits for the answer (`Busy` meanwhile); saved
/// then, the change whose answer was lost is held back as uncertain.
#[test]
fn a_change_in_flight_when_the_cart_loses_its_keys_is_not_resent_blindly() {
    let f = store();
    let (shop, plug, other, cart) = keyed_plugin_to_switch(&f);
    let (saved, save) = switch_on(other);
    *plug.during.lock().unwrap() = Some(Box::new(save));
    adjust(&f.store, "W", -2, Reason::PosSale);
    let first = f.store.run_stack(None).unwrap();
    assert_eq!(
        shop.get("W"),
        8,
        "the cart applied it; its answer was lost: {first}"
    );
    let refused = saved.lock().unwrap().take().unwrap().unwrap_err();
    assert_eq!(refused.kind(), inventory_sync::ErrorKind::Busy, "{refused}");
    f.store.upsert_cart_json(&spec_of("Web", "direct")).unwrap();
    assert_sold_once(&f, &shop, cart, 1);
}

/// A cart without keys answering "not applied" (`Retry`, no wait) for every change.
struct NotApplied;

impl CartAdapter for NotApplied {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeUnkeyed
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        Ok(d.iter()
            .map(|x| SendOutcome::Retry {
                message: format!("sku {}: not applied (locked)", x.sku),
                after: None,
            })
            .collect())
    }
    sends_deltas_only!();
}

/// A sale a cart without keys answered as not applied, waiting for its retry when the cart is
/// given another adapter, is surely not on the cart: it goes, not held back as uncertain (as
/// the first version of the fix above did: it never reached the cart, and an operator had to
/// check it).
#[test]
fn a_change_the_old_adapter_refused_is_not_held_back_after_a_switch() {
    let f = store();
    let shop = shop_without_keys();
    let cart = cart_to_switch(&f, &shop, Arc::new(NotApplied), &[]);
    adjust(&f.store, "W", -2, Reason::PosSale);
    // One attempt (a pass of one record): answered "not applied".
    let first = f.store.run_stack(Some(1)).unwrap();
    assert_eq!((first.retried, first.bypassed), (1, 0), "{first}");
    let path = f.dir.path().join("store.db");
    let refused: i64 = value(&path, "SELECT refused FROM send_groups WHERE item_id <> 0");
    assert_eq!(
        refused, 1,
        "the old cart's answer marks the group as changing nothing"
    );
    f.store.upsert_cart_json(&spec_of("Web", "direct")).unwrap();
    assert_sold_once(&f, &shop, cart, 0);
}

/// A controller stalled past its lease (the machine slept) while its request through the
/// keyed plugin was out, and nothing took the lease over: the adapter change was not `Busy`
/// (no live lease) and marked nothing (the send still had its token); the controller woke,
/// renewed the lapsed lease and settled its lost answer as a keyed retry, which the new
/// adapter without keys sent again (found by a second review). The change of adapter now
/// takes over lapsed leases, as a manual run does: the late answer settles nothing, and the
/// change is held back as uncertain.
#[test]
fn a_send_whose_lease_lapsed_unclaimed_is_not_resent_blindly_after_a_switch() {
    let f = store();
    let (shop, plug, other, cart) = keyed_plugin_to_switch(&f);
    let path = f.dir.path().join("store.db");
    let (saved, save) = switch_on(other);
    *plug.during.lock().unwrap() = Some(Box::new(move || {
        // The controller stalls past its lease (no renewal came: it was not running).
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute(
                "UPDATE send_groups SET lease_until = 1 WHERE lease_token IS NOT NULL",
                [],
            )
            .unwrap();
        save();
    }));
    adjust(&f.store, "W", -2, Reason::PosSale);
    let first = f.store.run_stack(None).unwrap();
    assert_eq!(shop.get("W"), 8, "the cart applied it once: {first}");
    saved.lock().unwrap().take().unwrap().unwrap();
    assert_sold_once(&f, &shop, cart, 1);
}

/// BigCommerce has no keys: a sale it could not reach is surely not on it. Saved on a
/// workstation where the cart's `env:` token is not set, the old adapter could not be built
/// to ask, was taken for keyed, and the sale was held back as uncertain (found by a second
/// review). A built-in adapter's keys are known by its name.
#[test]
fn an_unkeyed_builtin_whose_env_secret_is_missing_here_is_not_taken_for_keyed() {
    let f = store();
    std::env::set_var("STACK_SAFETY_BC_TOKEN", "tok_x");
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let json = serde_json::json!({"name": "Web", "adapter": "bigcommerce",
        "url": format!("http://127.0.0.1:{port}/stores/abc/"),
        "token": "env:STACK_SAFETY_BC_TOKEN",
        "capabilities": {"send": true, "get": true, "realtime": "attribute"}});
    let cart = f.store.upsert_cart_json(&json.to_string()).unwrap();
    f.store.set_cart_sync(cart, true).unwrap();
    let shop = shop_without_keys();
    let d = shop.clone();
    f.store
        .register_adapter("direct", move |_| Ok(d.clone() as Arc<dyn CartAdapter>));
    item(&f.store, "W", 10);
    shop.set("W", 10);
    adjust(&f.store, "W", -2, Reason::PosSale);
    let first = f.store.run_stack(None).unwrap();
    let path = f.dir.path().join("store.db");
    let (attempts, refused): (i64, i64) = (
        value(&path, "SELECT attempts FROM send_groups WHERE item_id <> 0"),
        value(&path, "SELECT refused FROM send_groups WHERE item_id <> 0"),
    );
    assert_eq!(
        (attempts, refused),
        (1, 0),
        "unreachable, not applied: {first}"
    );
    // This workstation does not have the token's variable.
    std::env::remove_var("STACK_SAFETY_BC_TOKEN");
    f.store.upsert_cart_json(&spec_of("Web", "direct")).unwrap();
    assert_sold_once(&f, &shop, cart, 0);
}

/// The owner replaces the cart's keyed adapter after a controller's pass built it and before
/// its lease (a pass builds each cart's adapter first, then drains it, for as long as a
/// backlog lasts): nothing was leased, so the save was not `Busy` and marked nothing, and the
/// pass sent through the old adapter; its lost answer settled as a keyed retry, which the
/// new adapter without keys sent again (found by a second review). A pass now leases nothing
/// more through an adapter built before the cart's adapter or settings changed.
#[test]
fn a_pass_that_built_the_old_keyed_adapter_does_not_send_through_it_after_a_switch() {
    let f = store();
    let (shop, plug, other, cart) = keyed_plugin_to_switch(&f);
    // The controller's handle builds "old" through a factory that lets the owner save the
    // cart on another workstation at that point of the pass.
    let hook: Arc<Mutex<Option<Hook>>> = Arc::new(Mutex::new(None));
    {
        let (p, hook) = (plug.clone(), hook.clone());
        f.store.register_adapter("old", move |_| {
            if let Some(h) = hook.lock().unwrap().take() {
                h();
            }
            Ok(p.clone() as Arc<dyn CartAdapter>)
        });
    }
    adjust(&f.store, "W", -2, Reason::PosSale);
    let (saved, save) = switch_on(other);
    *hook.lock().unwrap() = Some(Box::new(save));
    let first = f.store.run_stack(None).unwrap();
    saved
        .lock()
        .unwrap()
        .take()
        .expect("the pass built the adapter")
        .unwrap();
    assert!(
        shop.sent().is_empty(),
        "sent through the old adapter: {first}"
    );
    assert_sold_once(&f, &shop, cart, 0);
    assert_eq!(shop.sent().len(), 1, "sent {:?}", shop.sent());
}

/// Saves the cart on another workstation right after the pass's look at the cart's
/// settings, before its lease: the narrowest window a save can land in.
struct SaveAfterLook(Mutex<Option<Hook>>);

impl StackHooks for SaveAfterLook {
    fn looked(&self, _: CartId) {
        if let Some(save) = self.0.lock().unwrap().take() {
            save();
        }
    }
}

/// A save replacing the cart's keyed adapter that landed after the pass looked at the cart's
/// settings and before its lease (microseconds) still let one batch go through the old
/// adapter; its lost answer then settled as a keyed retry, which the new adapter without keys
/// sent again. The lease now looks at the settings in its own transaction (noted as left open
/// on 2026-12-03; closed the same week).
#[test]
fn a_save_between_the_pass_look_and_its_lease_sends_nothing_through_the_old_adapter() {
    let f = store();
    let (shop, plug, other, cart) = keyed_plugin_to_switch(&f);
    adjust(&f.store, "W", -2, Reason::PosSale);
    let registry = Arc::new(inventory_sync::adapter::registry::AdapterRegistry::with_builtins());
    let p = plug.clone();
    registry.register("old", move |_| Ok(p.clone() as Arc<dyn CartAdapter>));
    let s = shop.clone();
    registry.register("direct", move |_| Ok(s.clone() as Arc<dyn CartAdapter>));
    let (saved, save) = switch_on(other);
    let stack = HookedStack::open(
        f.store.path(),
        SaveAfterLook(Mutex::new(Some(Box::new(save)))),
    );
    let ctl = inventory_sync::StackController::new(stack, registry, f.store.workstation()).unwrap();
    let first = ctl.run_once(None).unwrap();
    saved
        .lock()
        .unwrap()
        .take()
        .expect("the pass looked at the cart")
        .unwrap();
    assert!(
        shop.sent().is_empty(),
        "sent through the old adapter: {first}"
    );
    assert_sold_once(&f, &shop, cart, 0);
    assert_eq!(shop.sent().len(), 1, "sent {:?}", shop.sent());
}
