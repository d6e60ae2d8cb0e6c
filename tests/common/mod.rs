//! Shared set-up for the integration tests: a store in a temp dir and emulated carts.
#![allow(dead_code)]

pub mod killed_run;
mod waits;
pub use waits::*;

use inventory_sync::emulator::Emulator;

/// The delta methods of a test cart used for manual sync only (Send QOH, Get QOH, drift): it
/// de-duplicates by key, and refuses deltas, which its test never sends. (`#[macro_use]` on
/// `mod common` brings it into a test file.)
#[allow(unused_macros)]
macro_rules! takes_no_deltas {
    () => {
        fn update_mode(&self) -> inventory_sync::adapter::UpdateMode {
            inventory_sync::adapter::UpdateMode::RelativeKeyed
        }
        fn apply_deltas(
            &self,
            _: &[inventory_sync::adapter::DeltaSend],
        ) -> Result<Vec<inventory_sync::adapter::SendOutcome>, inventory_sync::adapter::CartError> {
            Err(inventory_sync::adapter::CartError::Rejected(
                "not in this test".into(),
            ))
        }
    };
}
/// The manual-sync methods of a test cart that only takes deltas.
#[allow(unused_macros)]
macro_rules! sends_deltas_only {
    () => {
        fn set_quantities(
            &self,
            _: &[inventory_sync::adapter::QuantitySet],
        ) -> Result<Vec<inventory_sync::adapter::SendOutcome>, inventory_sync::adapter::CartError> {
            Err(inventory_sync::adapter::CartError::Rejected(
                "not used".into(),
            ))
        }
        fn fetch_quantities(
            &self,
            _: Option<&str>,
            _: u32,
        ) -> Result<inventory_sync::adapter::QuantityPage, inventory_sync::adapter::CartError> {
            Ok(inventory_sync::adapter::QuantityPage::default())
        }
    };
}
use inventory_sync::adapter::{
    CartAdapter, CartError, DeltaSend, QuantityPage, QuantitySet, SendOutcome, UpdateMode,
};
use inventory_sync::{Adjustment, CartId, Delta, Reason, Store};
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub store: Store,
}

/// Runs a model's sequence for each of `seeds`: none may fail (the shortest failure is shown).
/// Returns how many ran to the end (`Ok(true)`; `Ok(false)` is one the model gave up on).
#[track_caller]
pub fn seeds_none_failing(
    seeds: std::ops::Range<u64>,
    run: impl Fn(u64) -> Result<bool, String>,
) -> usize {
    let (mut fails, mut ran) = (Vec::new(), 0);
    for seed in seeds {
        match run(seed) {
            Ok(done) => ran += usize::from(done),
            Err(e) => fails.push(e),
        }
    }
    fails.sort_by_key(|f| f.len());
    assert!(
        fails.is_empty(),
        "{} failures; shortest:\n{}",
        fails.len(),
        fails.first().map_or("", |f| f.as_str())
    );
    ran
}

/// A fresh store with SynchQOH on and back-off at 0 ms, so a failed record is due again on
/// the next pass (tests drive passes by hand; nothing sleeps).
pub fn store() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store.db")).unwrap();
    store.set_param("SynchQOH", "true").unwrap();
    store.set_param("RetryBaseMs", "0").unwrap();
    store.set_param("RetryMaxMs", "0").unwrap();
    Fixture { dir, store }
}

impl Fixture {
    /// Another handle on the same file (another workstation, or another process's view).
    pub fn reopen(&self) -> Store {
        Store::open(self.dir.path().join("store.db")).unwrap()
    }
}

/// A cart on `emu` with real-time sync at `level` ("attribute", "sku", "none"), switched on
/// unless the level is none.
pub fn cart(store: &Store, emu: &Emulator, name: &str, level: &str) -> CartId {
    cart_with(store, emu, name, level, 50)
}

pub fn cart_with(store: &Store, emu: &Emulator, name: &str, level: &str, max: u32) -> CartId {
    let json = serde_json::json!({
        "name": name, "adapter": "http_json", "url": emu.url(),
        "capabilities": {"send": true, "get": true, "realtime": level},
        "max_items_to_send": max,
    });
    let id = store.upsert_cart_json(&json.to_string()).unwrap();
    if level != "none" {
        store.set_cart_sync(id, true).unwrap();
    }
    id
}

pub fn item(store: &Store, sku: &str, qoh: i64) {
    store
        .upsert_item_json(&serde_json::json!({"sku": sku, "qoh": qoh}).to_string())
        .unwrap();
}

pub fn variant(store: &Store, sku: &str, parent: &str, qoh: i64) {
    store
        .upsert_item_json(
            &serde_json::json!({"sku": sku, "qoh": qoh, "parent_sku": parent,
                                "attributes": {"Size": sku}})
            .to_string(),
        )
        .unwrap();
}

pub fn adjust(store: &Store, sku: &str, delta: i64, reason: Reason) {
    store
        .adjust_qoh(&Adjustment::new(sku, Delta::new(delta).unwrap(), reason))
        .unwrap();
}

pub fn stack(store: &Store, filter: Option<&str>) -> Vec<Value> {
    serde_json::from_str(&store.stack_list_json(filter).unwrap()).unwrap()
}

/// A store whose sale of `X` (QOH 10, one sold) the real-time cart `Web` refused for good, as
/// a cart that lacks the SKU does: the sale's record is bypassed. The owner may then make the
/// product on the cart (`Emulator::set_qoh`).
pub fn sale_refused_for_good() -> (Fixture, Emulator, CartId) {
    let f = store();
    let e = Emulator::start().unwrap();
    item(&f.store, "X", 10);
    let c = cart(&f.store, &e, "Web", "attribute");
    adjust(&f.store, "X", -1, Reason::PosSale);
    drain(&f.store);
    let held = stack(&f.store, None);
    assert!(
        held.len() == 1 && held[0]["state"] == "bypassed",
        "the cart refused the sale for good: {held:?}"
    );
    (f, e, c)
}

/// (sku, delta) of every record for `cart`, oldest first.
pub fn records(store: &Store, cart: CartId) -> Vec<(String, i64)> {
    stack(store, Some(&format!(r#"{{"cart_id":{cart}}}"#)))
        .iter()
        .map(|r| {
            (
                r["sku"].as_str().unwrap().to_owned(),
                r["delta"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// Runs passes until nothing is due (bounded).
pub fn drain(store: &Store) -> inventory_sync::RunReport {
    let mut last = store.run_stack(None).unwrap();
    for _ in 0..50 {
        if last.remaining == 0 {
            break;
        }
        last = store.run_stack(None).unwrap();
    }
    last
}

/// A cart that can send and get, served by `adapter` registered as `name`: real-time at
/// `realtime` (left off) and `max` items a request, where given.
pub fn custom_cart(
    store: &Store,
    name: &str,
    adapter: std::sync::Arc<dyn inventory_sync::adapter::CartAdapter>,
    realtime: Option<&str>,
    max: Option<u32>,
) -> CartId {
    store.register_adapter(name, move |_| Ok(adapter.clone()));
    let mut spec = serde_json::json!({
        "name": name, "adapter": name, "capabilities": {"send": true, "get": true},
    });
    if let Some(r) = realtime {
        spec["capabilities"]["realtime"] = r.into();
    }
    if let Some(m) = max {
        spec["max_items_to_send"] = m.into();
    }
    store.upsert_cart_json(&spec.to_string()).unwrap()
}

/// The SQL of each migration, read from the source (`MIGRATIONS` is private), so a file of
/// any older version can be made as the build of that version made it.
pub fn migrations() -> Vec<String> {
    let src = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/store/schema.rs"))
        .unwrap();
    let start = src.find("const MIGRATIONS").unwrap();
    let end = start + src[start..].find("\n];").unwrap();
    let mut rest = &src[start..end];
    let mut out = Vec::new();
    while let Some(i) = rest.find("r#\"") {
        let j = rest[i + 3..].find("\"#").unwrap();
        out.push(rest[i + 3..i + 3 + j].to_string());
        rest = &rest[i + 3 + j + 2..];
    }
    out
}

/// A store file at schema `version` (WAL, SQLite's 4 KiB pages, as builds before schema 7
/// made it) with items and ledger rows with and without a host reference.
pub fn old_store(path: &std::path::Path, version: usize) {
    let m = migrations();
    assert!(m.len() >= 7, "schema.rs has {} migrations", m.len());
    let conn = rusqlite::Connection::open(path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    for sql in &m[..version] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", version as i64)
        .unwrap();
    conn.execute_batch(
        "INSERT INTO items(id, sku, qoh, created_at) VALUES (1, 'MUG', 10, 0), (2, 'TEE', 5, 0);
         INSERT INTO ledger(id, item_id, sku, delta, qoh_after, reason, host_ref, workstation,
                            created_at)
         VALUES (1, 1, 'MUG', 1, 10, 2, 'ORD-1', 'ws', 0),
                (2, 1, 'MUG', -1, 9, 2, NULL, 'ws', 0),
                (3, 2, 'TEE', 1, 5, 2, NULL, 'ws', 0);",
    )
    .unwrap();
}

/// The one value `sql` reads from the file.
pub fn value<T: rusqlite::types::FromSql>(path: &std::path::Path, sql: &str) -> T {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(sql, [], |r| r.get(0))
        .unwrap()
}

/// Run once by [`Mem`] at a point of a call (after a fetch reads its counts, after a set).
pub type Hook = Box<dyn FnOnce() + Send>;

/// A cart in memory, keyed unless `mode` says otherwise; `Some(UpdateMode::Absolute)` makes
/// it behave like the read-add-write platforms (WooCommerce, Medusa): every count of a batch
/// is read first, then written. Its counts honour compare-and-set (a set's `expected`), as
/// the built-in adapters do.
#[derive(Default)]
pub struct Mem {
    pub qoh: Mutex<HashMap<String, i64>>,
    pub keys: Mutex<HashSet<String>>,
    pub batches: Mutex<Vec<Vec<(String, i64)>>>,
    pub mode: Option<UpdateMode>,
    pub retry_next: Mutex<usize>,
    pub refuse_set: Mutex<HashSet<String>>,
    pub on_fetch: Mutex<Option<Hook>>,
    /// Counts are refused as from a cart that cannot be reached.
    pub down: Mutex<bool>,
    /// Run once after the next set of counts was taken (another workstation busy then).
    pub on_set: Mutex<Option<Hook>>,
    /// The call of changes (counted from 1, as `calls`) answered with a rate limit of ten
    /// minutes, nothing applied.
    pub limit_call: Mutex<Option<usize>>,
    /// Every count it was asked to set: (SKU, count, the count it was to replace).
    pub sets: Mutex<Vec<(String, i64, Option<i64>)>>,
}

impl Mem {
    pub fn set(&self, sku: &str, q: i64) {
        self.qoh.lock().unwrap().insert(sku.into(), q);
    }
    pub fn get(&self, sku: &str) -> i64 {
        *self.qoh.lock().unwrap().get(sku).unwrap_or(&0)
    }
    pub fn calls(&self) -> usize {
        self.batches.lock().unwrap().len()
    }
}

impl CartAdapter for Mem {
    fn update_mode(&self) -> UpdateMode {
        self.mode.unwrap_or(UpdateMode::RelativeKeyed)
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        self.batches
            .lock()
            .unwrap()
            .push(d.iter().map(|x| (x.sku.clone(), x.delta)).collect());
        if *self.limit_call.lock().unwrap() == Some(self.calls()) {
            return Err(CartError::RateLimited {
                retry_after: Some(std::time::Duration::from_secs(600)),
                message: "HTTP 429".into(),
            });
        }
        {
            let mut r = self.retry_next.lock().unwrap();
            if *r > 0 {
                *r -= 1;
                return Ok(d
                    .iter()
                    .map(|_| SendOutcome::Retry {
                        message: "later".into(),
                        after: None,
                    })
                    .collect());
            }
        }
        let mut q = self.qoh.lock().unwrap();
        if self.mode == Some(UpdateMode::Absolute) {
            let read: Vec<i64> = d.iter().map(|x| *q.get(&x.sku).unwrap_or(&0)).collect();
            for (x, r) in d.iter().zip(&read) {
                q.insert(x.sku.clone(), r + x.delta);
            }
            return Ok(d
                .iter()
                .zip(&read)
                .map(|(x, r)| {
                    if q[&x.sku] == r + x.delta {
                        SendOutcome::Applied {
                            qoh: Some(r + x.delta),
                        }
                    } else {
                        SendOutcome::Uncertain {
                            message: "changed under the write".into(),
                        }
                    }
                })
                .collect());
        }
        let mut keys = self.keys.lock().unwrap();
        Ok(d.iter()
            .map(|x| {
                if keys.insert(x.key.clone()) {
                    *q.entry(x.sku.clone()).or_insert(0) += x.delta;
                }
                SendOutcome::Applied {
                    qoh: q.get(&x.sku).copied(),
                }
            })
            .collect())
    }
    fn set_quantities(&self, s: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        if *self.down.lock().unwrap() {
            return Err(CartError::Unreachable("connection refused".into()));
        }
        let refuse = self.refuse_set.lock().unwrap();
        let mut q = self.qoh.lock().unwrap();
        let outcomes = s
            .iter()
            .map(|x| {
                self.sets
                    .lock()
                    .unwrap()
                    .push((x.sku.clone(), x.qoh, x.expected));
                if refuse.contains(&x.sku) {
                    return SendOutcome::Failed {
                        message: format!("{} rejected", x.sku),
                    };
                }
                let now = *q.get(&x.sku).unwrap_or(&0);
                match x.expected {
                    Some(e) if e != now => SendOutcome::Conflict { current: now },
                    _ => {
                        q.insert(x.sku.clone(), x.qoh);
                        SendOutcome::Applied { qoh: Some(x.qoh) }
                    }
                }
            })
            .collect::<Vec<_>>();
        drop(q);
        if let Some(h) = self.on_set.lock().unwrap().take() {
            h();
        }
        Ok(outcomes)
    }
    fn fetch_quantities(&self, _c: Option<&str>, _l: u32) -> Result<QuantityPage, CartError> {
        let mut items: Vec<(String, i64)> = self
            .qoh
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), *v))
            .collect();
        items.sort();
        if let Some(h) = self.on_fetch.lock().unwrap().take() {
            h();
        }
        Ok(QuantityPage {
            items,
            next_cursor: None,
        })
    }
}

/// A keyed cart that takes `hold` to answer each request (its own round trip, a slow shop),
/// applying every change; it counts its requests.
pub struct SlowCart {
    pub calls: std::sync::atomic::AtomicUsize,
    pub hold: std::time::Duration,
}

impl SlowCart {
    pub fn new(hold: std::time::Duration) -> SlowCart {
        SlowCart {
            calls: std::sync::atomic::AtomicUsize::new(0),
            hold,
        }
    }
}

impl CartAdapter for SlowCart {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeKeyed
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        self.calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        std::thread::sleep(self.hold); // the cart's own latency
        Ok(d.iter()
            .map(|_| SendOutcome::Applied { qoh: None })
            .collect())
    }
    sends_deltas_only!();
}

/// What a test wants told of the controller's steps on a [`HookedStack`].
pub trait StackHooks: Send + Sync {
    /// A lease is asked of `cart` (by `lease`, `lease_next` or `settle_and_lease`).
    fn leasing(&self, _cart: inventory_sync::CartId) {}
    /// The controller has just looked at `cart`'s settings and state, before a lease.
    fn looked(&self, _cart: inventory_sync::CartId) {}
}

/// The controller's SQLite stack, telling `hooks` of its steps.
pub struct HookedStack<H: StackHooks> {
    pub inner: inventory_sync::stack::SqliteStack,
    pub hooks: H,
}

impl<H: StackHooks> HookedStack<H> {
    /// On the store file at `path`.
    pub fn open(path: &std::path::Path, hooks: H) -> HookedStack<H> {
        HookedStack {
            inner: inventory_sync::stack::SqliteStack::open(
                path,
                &inventory_sync::OpenOptions::default(),
            )
            .unwrap(),
            hooks,
        }
    }
}

impl<H: StackHooks> inventory_sync::stack::WebStack for HookedStack<H> {
    fn settings(&self) -> inventory_sync::Result<inventory_sync::Settings> {
        self.inner.settings()
    }
    fn carts(&self) -> inventory_sync::Result<Vec<inventory_sync::Cart>> {
        self.inner.carts()
    }
    fn lease(
        &self,
        cart: inventory_sync::CartId,
        max: usize,
        scope: &inventory_sync::stack::LeaseScope,
        now: i64,
        lease_ms: i64,
    ) -> inventory_sync::Result<inventory_sync::stack::Lease> {
        self.hooks.leasing(cart);
        self.inner.lease(cart, max, scope, now, lease_ms)
    }
    fn lease_next(
        &self,
        next: inventory_sync::stack::NextLease<'_>,
        now: i64,
    ) -> inventory_sync::Result<inventory_sync::stack::Lease> {
        self.hooks.leasing(next.cart);
        self.inner.lease_next(next, now)
    }
    fn renew(&self, token: &str, until: i64) -> inventory_sync::Result<bool> {
        self.inner.renew(token, until)
    }
    fn release(&self, token: &str) -> inventory_sync::Result<usize> {
        self.inner.release(token)
    }
    fn settle(
        &self,
        token: &str,
        transitions: &[(i64, inventory_sync::stack::Transition)],
        now: i64,
    ) -> inventory_sync::Result<usize> {
        self.inner.settle(token, transitions, now)
    }
    fn settle_and_lease(
        &self,
        token: &str,
        transitions: &[(i64, inventory_sync::stack::Transition)],
        now: i64,
        next: Option<inventory_sync::stack::NextLease<'_>>,
    ) -> inventory_sync::Result<(Vec<i64>, Option<inventory_sync::stack::Lease>)> {
        if let Some(n) = &next {
            self.hooks.leasing(n.cart);
        }
        self.inner.settle_and_lease(token, transitions, now, next)
    }
    fn cart_state(
        &self,
        cart: inventory_sync::CartId,
    ) -> inventory_sync::Result<inventory_sync::stack::CartRunState> {
        self.inner.cart_state(cart)
    }
    fn cart_state_since(
        &self,
        cart: inventory_sync::CartId,
        config_version: i64,
    ) -> inventory_sync::Result<Option<inventory_sync::stack::CartRunState>> {
        let looked = self.inner.cart_state_since(cart, config_version);
        self.hooks.looked(cart);
        looked
    }
    fn set_cart_state(
        &self,
        cart: inventory_sync::CartId,
        config_version: i64,
        state: &inventory_sync::stack::CartRunState,
    ) -> inventory_sync::Result<()> {
        self.inner.set_cart_state(cart, config_version, state)
    }
    fn waiting(&self, cart: inventory_sync::CartId) -> inventory_sync::Result<i64> {
        self.inner.waiting(cart)
    }
    fn has_waiting(&self, cart: inventory_sync::CartId) -> inventory_sync::Result<bool> {
        self.inner.has_waiting(cart)
    }
    fn held_until(&self, cart: inventory_sync::CartId) -> inventory_sync::Result<i64> {
        self.inner.held_until(cart)
    }
    fn heartbeat(&self, workstation: &str, now: i64) -> inventory_sync::Result<()> {
        self.inner.heartbeat(workstation, now)
    }
    fn heartbeat_end(&self, w: &str, declared: i64, now: i64) -> inventory_sync::Result<()> {
        self.inner.heartbeat_end(w, declared, now)
    }
    fn hand_over(
        &self,
        cart: inventory_sync::CartId,
        scope: &inventory_sync::stack::LeaseScope,
        now: i64,
    ) -> inventory_sync::Result<usize> {
        self.inner.hand_over(cart, scope, now)
    }
    fn shared_lock(&self, holder: &str, now: i64, until: i64) -> inventory_sync::Result<bool> {
        self.inner.shared_lock(holder, now, until)
    }
    fn release_shared_lock(&self, holder: &str) -> inventory_sync::Result<()> {
        self.inner.release_shared_lock(holder)
    }
    fn prune_history(&self, before: i64) -> inventory_sync::Result<usize> {
        self.inner.prune_history(before)
    }
    fn release_memory(&self) -> inventory_sync::Result<()> {
        self.inner.release_memory()
    }
}

/// The wall clock in milliseconds since the epoch, as the stack stamps leases and heartbeats.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A cart in memory that records every change it is sent (sku, delta, key) and applies each
/// key once when it de-duplicates (`mode` RelativeKeyed), every one when it cannot; it sets
/// the counts it is sent. Tests of controllers meeting over one cart read what reached it.
pub struct DeltaShop {
    pub mode: UpdateMode,
    pub qoh: Mutex<HashMap<String, i64>>,
    pub sent: Mutex<Vec<(String, i64, String)>>,
    /// Run after each request of counts was taken, in turn (another workstation busy then).
    pub after_set: Mutex<Vec<Hook>>,
}

impl DeltaShop {
    pub fn new(mode: UpdateMode) -> std::sync::Arc<DeltaShop> {
        std::sync::Arc::new(DeltaShop {
            mode,
            qoh: Mutex::default(),
            sent: Mutex::default(),
            after_set: Mutex::default(),
        })
    }
    pub fn get(&self, sku: &str) -> i64 {
        *self.qoh.lock().unwrap().get(sku).unwrap_or(&0)
    }
    pub fn set(&self, sku: &str, q: i64) {
        self.qoh.lock().unwrap().insert(sku.into(), q);
    }
    pub fn sent(&self) -> Vec<(String, i64, String)> {
        self.sent.lock().unwrap().clone()
    }
    /// A controller's request for `lease`'s sends reaches the cart (late, or beside another).
    pub fn lands(&self, lease: &inventory_sync::stack::Lease) {
        let d: Vec<DeltaSend> = lease
            .sends
            .iter()
            .map(|s| DeltaSend {
                key: s.key.clone(),
                sku: s.sku.clone(),
                remote_ref: s.remote_ref.clone(),
                delta: s.delta,
            })
            .collect();
        self.apply_deltas(&d).unwrap();
    }
}

impl CartAdapter for DeltaShop {
    fn update_mode(&self) -> UpdateMode {
        self.mode
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        let keyed = self.mode == UpdateMode::RelativeKeyed;
        let mut sent = self.sent.lock().unwrap();
        let mut q = self.qoh.lock().unwrap();
        Ok(d.iter()
            .map(|x| {
                let again = sent.iter().any(|(_, _, k)| *k == x.key);
                sent.push((x.sku.clone(), x.delta, x.key.clone()));
                if !(keyed && again) {
                    *q.entry(x.sku.clone()).or_insert(0) += x.delta;
                }
                SendOutcome::Applied { qoh: None }
            })
            .collect())
    }
    fn set_quantities(&self, s: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        let mut q = self.qoh.lock().unwrap();
        let answer = s
            .iter()
            .map(|x| {
                q.insert(x.sku.clone(), x.qoh);
                SendOutcome::Applied { qoh: Some(x.qoh) }
            })
            .collect();
        drop(q);
        let mut hooks = self.after_set.lock().unwrap();
        if !hooks.is_empty() {
            let hook = hooks.remove(0);
            drop(hooks);
            hook();
        }
        Ok(answer)
    }
    fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
        Ok(QuantityPage::default())
    }
}

/// Cart "Shop" served by `shop`, real-time at attribute level, switched on.
pub fn shop_cart(f: &Fixture, shop: &std::sync::Arc<DeltaShop>) -> CartId {
    let cart = custom_cart(
        &f.store,
        "Shop",
        shop.clone() as std::sync::Arc<dyn CartAdapter>,
        Some("attribute"),
        None,
    );
    f.store.set_cart_sync(cart, true).unwrap();
    cart
}

/// A Send QOH of 4 items at 2 a request to a fresh emulator cart of `f`, calling `during`
/// (with a second handle on the store and the cart) between its two requests, while the run
/// holds the cart. Returns what `during` gave, the run's report, the emulator and the cart.
#[allow(dead_code)]
pub fn during_send_qoh<T>(
    f: &Fixture,
    during: impl FnOnce(&Store, CartId) -> T,
) -> (
    Option<T>,
    inventory_sync::Result<inventory_sync::SendReport>,
    Emulator,
    CartId,
) {
    let s = &f.store;
    let e = Emulator::start().unwrap();
    let c = cart_with(s, &e, "Web", "none", 2);
    for i in 0..4 {
        item(s, &format!("S{i}"), 5);
        e.set_qoh(&format!("S{i}"), 0);
    }
    let other = f.reopen();
    let mut during = Some(during);
    let mut got = None;
    let mut progress = |done: i64, _total: i64| {
        if done == 2 {
            got = during.take().map(|d| d(&other, c));
        }
        true
    };
    let report = s.send_qoh(
        c,
        inventory_sync::SendOptions::default(),
        Some(&mut progress),
    );
    (got, report, e, c)
}

/// A schema-25 file as a build of that schema left it: this build's file with the ledger's
/// index by item made again, and schema 26's links (columns and triggers) dropped.
pub fn date_back_to_25(path: &std::path::Path) {
    rusqlite::Connection::open(path)
        .unwrap()
        .execute_batch(
            "CREATE INDEX ledger_item ON ledger(item_id, id);
             DROP TRIGGER ledger_link;
             DROP TRIGGER retired_items_link;
             ALTER TABLE ledger DROP COLUMN prev_change;
             ALTER TABLE items DROP COLUMN last_change;
             ALTER TABLE retired_items DROP COLUMN last_change;
             PRAGMA user_version = 25;",
        )
        .unwrap();
}

/// The counts of an in-memory test cart, each SKU as the cart stores it: what the conformance
/// check's owner view (`TestCart`) and the cart's listing read. The carts built on it differ
/// only in how they match a change's SKU to one of these.
#[derive(Default)]
pub struct MemShop(std::sync::Mutex<Vec<(String, i64)>>);

impl MemShop {
    pub fn new(counts: Vec<(String, i64)>) -> MemShop {
        MemShop(std::sync::Mutex::new(counts))
    }

    pub fn lock(&self) -> std::sync::MutexGuard<'_, Vec<(String, i64)>> {
        self.0.lock().unwrap()
    }

    /// `TestCart::put`: sets `sku`'s count, spelled exactly, adding it where missing.
    pub fn put(&self, sku: &str, count: i64) -> Result<(), String> {
        let mut all = self.lock();
        match all.iter_mut().find(|(s, _)| s == sku) {
            Some(entry) => entry.1 = count,
            None => all.push((sku.to_owned(), count)),
        }
        Ok(())
    }

    /// `TestCart::count`: `sku`'s count, spelled exactly.
    pub fn count(&self, sku: &str) -> Result<Option<i64>, String> {
        Ok(self.lock().iter().find(|(s, _)| s == sku).map(|(_, c)| *c))
    }

    /// `CartAdapter::fetch_quantities`: every count, on one page.
    pub fn page(
        &self,
    ) -> Result<inventory_sync::adapter::QuantityPage, inventory_sync::adapter::CartError> {
        Ok(inventory_sync::adapter::QuantityPage {
            items: self.lock().clone(),
            next_cursor: None,
        })
    }
}

/// The store's item `X` (QOH 100,000) and three real-time carts A, B and C, each a shop of
/// its own listing `X` at that count (so a pass sends its records): the set-up of the tests
/// of what a QOH change takes from the one before it (change_reads, review_s39).
pub fn three_carts_selling_x() -> (Fixture, Vec<Emulator>, [CartId; 3]) {
    let f = store();
    let shops: Vec<Emulator> = (0..3).map(|_| shop_selling_x()).collect();
    item(&f.store, "X", 100_000);
    let mut i = 0;
    let carts = ["A", "B", "C"].map(|n| {
        i += 1;
        cart(&f.store, &shops[i - 1], n, "attribute")
    });
    (f, shops, carts)
}

/// A shop that lists `X` at 100,000, the count [`three_carts_selling_x`] gives the store.
pub fn shop_selling_x() -> Emulator {
    let e = Emulator::start().unwrap();
    e.set_qoh("X", 100_000);
    e
}

/// A POS sale of `n` of `X`.
pub fn sell_x(store: &Store, n: i64) {
    adjust(store, "X", -n, Reason::PosSale);
}

/// The deltas waiting for each of `carts`, in the order queued.
pub fn queued_deltas(store: &Store, carts: &[CartId]) -> Vec<Vec<i64>> {
    carts
        .iter()
        .map(|&c| records(store, c).into_iter().map(|(_, d)| d).collect())
        .collect()
}

/// Runs the `invsync` command with `args` to its end (bounded: [`output_for`]).
pub fn invsync(args: &[&str]) -> std::process::Output {
    output_for(
        std::process::Command::new(env!("CARGO_BIN_EXE_invsync")).args(args),
        &format!("`invsync {}`", args.join(" ")),
    )
}

/// A forced Get QOH of `cart` (run while real-time sync is on), creating no items: what a
/// test reads a cart's counts back with.
pub fn forced_get(
    store: &inventory_sync::Store,
    cart: inventory_sync::CartId,
) -> inventory_sync::GetReport {
    let forced = inventory_sync::GetOptions {
        force: true,
        create_new: false,
    };
    store.get_qoh(cart, forced, None).unwrap()
}
