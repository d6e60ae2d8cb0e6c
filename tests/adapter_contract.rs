//! What the library does with an integrator's adapter that keeps to the `CartAdapter`
//! contract, and with one that slips (a short answer, a panic, a compare-and-set whose answer
//! was lost): whatever the adapter does, each change reaches the cart at most once, and a
//! change that did not is left where an operator sees it.
#![cfg(feature = "emulator")]

mod common;

use common::*;
use inventory_sync::adapter::{
    CartAdapter, CartError, DeltaSend, QuantityPage, QuantitySet, SendOutcome, UpdateMode,
};
use inventory_sync::{
    Adjustment, CartId, Delta, GetOptions, Reason, SendOptions, StackState, Store,
};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The cart's own counts.
#[derive(Default)]
struct Counts(Mutex<HashMap<String, i64>>);

impl Counts {
    fn get(&self, sku: &str) -> i64 {
        *self.0.lock().unwrap().get(sku).unwrap_or(&0)
    }
    fn set(&self, sku: &str, q: i64) {
        self.0.lock().unwrap().insert(sku.into(), q);
    }
    fn add(&self, sku: &str, d: i64) -> i64 {
        let mut m = self.0.lock().unwrap();
        let q = m.entry(sku.into()).or_insert(0);
        *q += d;
        *q
    }
}

type OnDeltas =
    dyn Fn(usize, &Counts, &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> + Send + Sync;
type OnSets =
    dyn Fn(usize, &Counts, &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> + Send + Sync;
type OnFetch = dyn Fn(&Counts) -> Result<QuantityPage, CartError> + Send + Sync;

/// A test cart whose answers a test scripts per call (numbered from 0).
struct Scripted {
    mode: UpdateMode,
    counts: Counts,
    delta_calls: AtomicUsize,
    set_calls: AtomicUsize,
    on_deltas: Box<OnDeltas>,
    on_sets: Box<OnSets>,
    on_fetch: Box<OnFetch>,
}

fn apply_all(c: &Counts, d: &[DeltaSend]) -> Vec<SendOutcome> {
    d.iter()
        .map(|d| SendOutcome::Applied {
            qoh: Some(c.add(&d.sku, d.delta)),
        })
        .collect()
}

fn set_all(c: &Counts, s: &[QuantitySet]) -> Vec<SendOutcome> {
    s.iter()
        .map(|s| {
            c.set(&s.sku, s.qoh);
            SendOutcome::Applied { qoh: Some(s.qoh) }
        })
        .collect()
}

impl Scripted {
    fn new(mode: UpdateMode) -> Scripted {
        Scripted {
            mode,
            counts: Counts::default(),
            delta_calls: AtomicUsize::new(0),
            set_calls: AtomicUsize::new(0),
            on_deltas: Box::new(|_, c, d| Ok(apply_all(c, d))),
            on_sets: Box::new(|_, c, s| Ok(set_all(c, s))),
            on_fetch: Box::new(|c| {
                let mut items: Vec<(String, i64)> =
                    c.0.lock()
                        .unwrap()
                        .iter()
                        .map(|(k, v)| (k.clone(), *v))
                        .collect();
                items.sort();
                Ok(QuantityPage {
                    items,
                    next_cursor: None,
                })
            }),
        }
    }
    fn deltas(
        mut self,
        f: impl Fn(usize, &Counts, &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        self.on_deltas = Box::new(f);
        self
    }
    fn sets(
        mut self,
        f: impl Fn(usize, &Counts, &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError>
            + Send
            + Sync
            + 'static,
    ) -> Self {
        self.on_sets = Box::new(f);
        self
    }
    fn fetch(
        mut self,
        f: impl Fn(&Counts) -> Result<QuantityPage, CartError> + Send + Sync + 'static,
    ) -> Self {
        self.on_fetch = Box::new(f);
        self
    }
}

impl CartAdapter for Scripted {
    fn update_mode(&self) -> UpdateMode {
        self.mode
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        let n = self.delta_calls.fetch_add(1, Ordering::SeqCst);
        (self.on_deltas)(n, &self.counts, d)
    }
    fn set_quantities(&self, s: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        let n = self.set_calls.fetch_add(1, Ordering::SeqCst);
        (self.on_sets)(n, &self.counts, s)
    }
    fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
        (self.on_fetch)(&self.counts)
    }
}

/// `adapter` registered as `name` on a cart that can send, get and sync per variant, with
/// real-time sync switched on.
fn cart_on(store: &Store, name: &str, adapter: Arc<dyn CartAdapter>) -> CartId {
    store.register_adapter(name, move |_| Ok(adapter.clone()));
    let c = store
        .upsert_cart_json(&format!(
            r#"{{"name":"{name}","adapter":"{name}","max_items_to_send":10,
                "capabilities":{{"send":true,"get":true,"realtime":"attribute"}}}}"#
        ))
        .unwrap();
    store.set_cart_sync(c, true).unwrap();
    c
}

/// Items `skus` at `qoh` in the store and on the cart, each then changed by `delta`.
fn items_changed(store: &Store, cart: &Scripted, skus: &[&str], qoh: i64, delta: i64) {
    for sku in skus {
        item(store, sku, qoh);
        cart.counts.set(sku, qoh);
        let reason = if delta < 0 {
            Reason::PosSale
        } else {
            Reason::Receiving
        };
        adjust(store, sku, delta, reason);
    }
}

fn qoh(store: &Store, sku: &str) -> i64 {
    store.item_qoh(sku).unwrap()
}

/// Send QOH to `cart`, real-time sync on or not.
fn send_qoh(store: &Store, cart: CartId) -> inventory_sync::SendReport {
    store
        .send_qoh(cart, SendOptions { force: true }, None)
        .unwrap()
}

// ---- the number of outcomes -------------------------------------------------------------

/// An unkeyed cart applies both deltas but its answer lists one result: which one is missing
/// cannot be known, so neither is sent again.
#[test]
fn an_unkeyed_carts_short_answer_does_not_get_a_delta_sent_twice() {
    let f = store();
    let a = Arc::new(
        Scripted::new(UpdateMode::RelativeUnkeyed).deltas(|call, c, d| {
            let mut out = apply_all(c, d);
            if call == 0 {
                out.pop();
            }
            Ok(out)
        }),
    );
    let cart = cart_on(&f.store, "short", a.clone());
    items_changed(&f.store, &a, &["A", "B"], 10, -1);
    let r = drain(&f.store);
    assert_eq!(r.uncertain, 2, "{r}");
    assert_eq!((a.counts.get("A"), a.counts.get("B")), (9, 9));
    let said = stack(&f.store, None)[0]["last_response"].clone();
    assert!(
        said.as_str().unwrap().contains("1 outcomes for 2 items"),
        "{said}"
    );
    assert_eq!(f.store.stack_count(cart, StackState::Uncertain).unwrap(), 2);
}

/// Send QOH: the cart takes every count but its answer lists one fewer. The counts go again
/// (absolute, so harmless), and no waiting record is left to be sent on top of one.
#[test]
fn a_send_qoh_short_answer_leaves_no_record_to_be_sent_on_top_of_its_count() {
    let f = store();
    let a = Arc::new(Scripted::new(UpdateMode::RelativeKeyed).sets(|call, c, s| {
        let mut out = set_all(c, s);
        if call == 0 {
            out.pop();
        }
        Ok(out)
    }));
    let cart = cart_on(&f.store, "short", a.clone());
    items_changed(&f.store, &a, &["X"], 10, 2);
    let r = send_qoh(&f.store, cart);
    assert_eq!((r.sent, r.requests), (1, 2), "{r:?}");
    drain(&f.store);
    assert_eq!(a.counts.get("X"), 12);
    assert_eq!(qoh(&f.store, "X"), 12);
}

// ---- compare-and-set --------------------------------------------------------------------

/// A compare-and-set adapter as its mode's doc describes it: read, then set read + delta.
fn compare_and_set(c: &Counts, d: &[DeltaSend]) -> Vec<SendOutcome> {
    d.iter()
        .map(|d| {
            let read = c.get(&d.sku);
            c.set(&d.sku, read + d.delta);
            SendOutcome::Applied {
                qoh: Some(read + d.delta),
            }
        })
        .collect()
}

/// Its set lands, the answer is lost: a re-send would read the count that already holds the
/// change and add it again.
#[test]
fn a_compare_and_set_delta_whose_answer_was_lost_is_not_applied_twice() {
    let f = store();
    let a = Arc::new(
        Scripted::new(UpdateMode::CompareAndSet).deltas(|call, c, d| {
            let out = compare_and_set(c, d);
            if call == 0 {
                return Err(CartError::Ambiguous("timed out after sending".into()));
            }
            Ok(out)
        }),
    );
    let cart = cart_on(&f.store, "cas", a.clone());
    items_changed(&f.store, &a, &["C"], 10, 5);
    drain(&f.store);
    assert_eq!(a.counts.get("C"), 15);
    assert_eq!(f.store.stack_count(cart, StackState::Uncertain).unwrap(), 1);
    assert_eq!(
        a.delta_calls.load(Ordering::SeqCst),
        1,
        "never sent blindly again"
    );
}

/// The same when the adapter panics after the cart took the batch.
#[test]
fn a_compare_and_set_batch_that_panicked_after_applying_is_not_applied_twice() {
    let f = store();
    let a = Arc::new(Scripted::new(UpdateMode::CompareAndSet).deltas(|_, c, d| {
        compare_and_set(c, d);
        panic!("index out of bounds reading the answer");
    }));
    cart_on(&f.store, "cas", a.clone());
    items_changed(&f.store, &a, &["A", "B"], 5, 2);
    let r = drain(&f.store);
    assert_eq!(r.uncertain, 2, "{r}");
    assert_eq!((a.counts.get("A"), a.counts.get("B")), (7, 7));
}

/// A sale on the cart between the adapter's read and its set: the cart answers a conflict,
/// nothing was written, and the change goes again (it is not bypassed).
#[test]
fn a_compare_and_set_conflict_on_a_delta_is_tried_again() {
    let f = store();
    let a = Arc::new(
        Scripted::new(UpdateMode::CompareAndSet).deltas(|call, c, d| {
            if call == 0 {
                c.add(&d[0].sku, -1); // the web sale lands between read and set
                return Ok(vec![SendOutcome::Conflict {
                    current: c.get(&d[0].sku),
                }]);
            }
            Ok(compare_and_set(c, d))
        }),
    );
    let cart = cart_on(&f.store, "cas", a.clone());
    items_changed(&f.store, &a, &["K"], 10, -1);
    let r = drain(&f.store);
    assert_eq!((r.sent, r.retried, r.bypassed), (1, 1, 0), "{r}");
    // The web sale, imported as an order from this cart, is not sent back to it.
    f.store
        .adjust_qoh(
            &Adjustment::new("K", Delta::new(-1).unwrap(), Reason::OrderImport).origin_cart(cart),
        )
        .unwrap();
    drain(&f.store);
    assert_eq!((a.counts.get("K"), qoh(&f.store, "K")), (8, 8));
}

// ---- panics -----------------------------------------------------------------------------

/// A keyed cart whose adapter panics on a batch holding `BAD`, after the cart applied the
/// items before it: a lost answer. The batch is tried again under its keys (each try counts,
/// the cart backs off as a failing one) until rule 10 bypasses it, and every try says why.
#[test]
fn a_keyed_batch_that_panics_is_a_lost_answer_tried_again_until_bypassed() {
    let f = store();
    let keys = Mutex::new(HashSet::new());
    let a = Arc::new(
        Scripted::new(UpdateMode::RelativeKeyed).deltas(move |_, c, d| {
            for x in d {
                assert!(
                    x.sku != "BAD",
                    "unexpected field in the answer for {}",
                    x.sku
                );
                if keys.lock().unwrap().insert(x.key.clone()) {
                    c.add(&x.sku, x.delta);
                }
            }
            Ok(d.iter()
                .map(|_| SendOutcome::Applied { qoh: None })
                .collect())
        }),
    );
    let cart = cart_on(&f.store, "buggy", a.clone());
    items_changed(&f.store, &a, &["A", "BAD", "B"], 5, -1);
    let r = f.store.run_stack(None).unwrap();
    assert_eq!((r.sent, r.retried), (0, 3), "{r}");
    let said = r.carts[0].error.clone().unwrap();
    assert!(
        said.contains("panicked") && said.contains("unexpected field"),
        "{said}"
    );
    for _ in 0..9 {
        f.store.run_stack(None).unwrap();
    }
    assert_eq!(f.store.stack_count(cart, StackState::Bypassed).unwrap(), 3);
    for rec in stack(&f.store, None) {
        assert_eq!(rec["attempts"], 10);
        assert!(rec["last_response"].as_str().unwrap().contains("panicked"));
    }
    assert_eq!(a.delta_calls.load(Ordering::SeqCst), 10);
}

/// To a cart without keys a batch that panicked is never sent again: it is uncertain.
#[test]
fn an_unkeyed_batch_that_panics_is_never_sent_again() {
    let f = store();
    let a = Arc::new(
        Scripted::new(UpdateMode::RelativeUnkeyed)
            .deltas(|_, _, _| panic!("unexpected field in the answer")),
    );
    let cart = cart_on(&f.store, "buggy", a.clone());
    items_changed(&f.store, &a, &["A", "BAD", "B"], 5, -1);
    assert_eq!(f.store.run_stack(None).unwrap().uncertain, 3);
    for _ in 0..3 {
        f.store.run_stack(None).unwrap();
    }
    assert_eq!(a.delta_calls.load(Ordering::SeqCst), 1);
    assert_eq!(f.store.stack_count(cart, StackState::Uncertain).unwrap(), 3);
    for rec in stack(&f.store, None) {
        let said = rec["last_response"].as_str().unwrap();
        assert!(
            said.contains("panicked") && said.contains("may or may not"),
            "{said}"
        );
    }
}

/// An adapter that panics on every call is a cart that is down: a pass tries its oldest
/// batch only (rule 10), not every record of the backlog.
#[test]
fn an_adapter_that_panics_on_every_call_costs_one_batch_a_pass() {
    let f = store();
    let a = Arc::new(
        Scripted::new(UpdateMode::RelativeKeyed)
            .deltas(|_, _, _| panic!("PoisonError: the adapter's lock is poisoned")),
    );
    cart_on(&f.store, "poisoned", a.clone());
    let skus: Vec<String> = (0..40).map(|i| format!("S{i:02}")).collect();
    let skus: Vec<&str> = skus.iter().map(String::as_str).collect();
    items_changed(&f.store, &a, &skus, 5, -1);
    let r = f.store.run_stack(None).unwrap();
    let tried = stack(&f.store, None)
        .iter()
        .filter(|x| x["attempts"].as_i64() > Some(0))
        .count();
    assert_eq!(
        (tried, a.delta_calls.load(Ordering::SeqCst)),
        (10, 1),
        "{r}"
    );
}

/// Send QOH: one count whose set panics costs only itself. The others go one by one and
/// land; it alone is in doubt, and listed.
#[test]
fn one_panicking_set_does_not_cost_the_rest_of_its_batch() {
    let f = store();
    let a = Arc::new(Scripted::new(UpdateMode::RelativeKeyed).sets(|_, c, s| {
        assert!(s.iter().all(|x| x.sku != "BAD"), "bug building BAD's set");
        Ok(set_all(c, s))
    }));
    let cart = cart_on(&f.store, "setbug", a.clone());
    items_changed(&f.store, &a, &["A", "BAD", "B"], 5, -1);
    let r = send_qoh(&f.store, cart);
    assert_eq!(r.sent, 2, "{r:?}");
    assert_eq!(r.failures.len(), 1, "{r:?}");
    assert_eq!(r.failures[0].sku, "BAD");
    assert!(r.failures[0].message.contains("panicked"), "{r:?}");
    drain(&f.store);
    assert_eq!((a.counts.get("A"), a.counts.get("B")), (4, 4));
}

/// A batch of counts panics after the cart took them, and each count sent alone then fails:
/// the first call may have set them, so they are in doubt (their records settled), never
/// "not applied" (their records sent on top of a count that holds them).
#[test]
fn counts_that_fail_alone_after_their_batch_panicked_are_in_doubt() {
    let f = store();
    let a = Arc::new(Scripted::new(UpdateMode::RelativeKeyed).sets(|_, c, s| {
        if s.len() > 1 {
            set_all(c, s);
            panic!("index out of bounds reading the answer");
        }
        if s[0].sku == "X" {
            return Err(CartError::Unavailable("HTTP 503".into()));
        }
        Ok(vec![SendOutcome::Retry {
            message: "busy".into(),
            after: None,
        }])
    }));
    let cart = cart_on(&f.store, "setpanic", a.clone());
    items_changed(&f.store, &a, &["X", "Y"], 10, 2);
    let r = send_qoh(&f.store, cart);
    assert_eq!(r.failures.len(), 2, "{r:?}");
    for failure in &r.failures {
        assert!(failure.message.contains("in a batch; sent alone"), "{r:?}");
    }
    drain(&f.store);
    assert_eq!(
        (a.counts.get("X"), a.counts.get("Y"), qoh(&f.store, "X")),
        (12, 12, 12),
        "nothing on top of the counts: {r:?}"
    );
}

/// After a batch of counts panicked, a count the cart rate-limits when sent alone is sent
/// again after the cart's wait, and lands (it is not left in doubt).
#[test]
fn a_count_rate_limited_alone_after_a_panic_is_waited_out() {
    let f = store();
    // The cart takes a request every 20 ms, and says so.
    let window = std::time::Duration::from_millis(20);
    let last = Mutex::new(None::<std::time::Instant>);
    let a = Arc::new(
        Scripted::new(UpdateMode::RelativeKeyed).sets(move |_, c, s| {
            if s.len() > 1 {
                panic!("index out of bounds reading the answer");
            }
            let mut last = last.lock().unwrap();
            if last.is_some_and(|t| t.elapsed() < window) {
                return Err(CartError::RateLimited {
                    retry_after: Some(window),
                    message: "HTTP 429".into(),
                });
            }
            *last = Some(std::time::Instant::now());
            Ok(set_all(c, s))
        }),
    );
    let cart = cart_on(&f.store, "ratelimit", a.clone());
    items_changed(&f.store, &a, &["R1", "R2", "R3"], 10, -2);
    let r = send_qoh(&f.store, cart);
    assert_eq!((r.sent, r.failures.len()), (3, 0), "{r:?}");
    for sku in ["R1", "R2", "R3"] {
        assert_eq!(a.counts.get(sku), 8);
    }
    assert!(records(&f.store, cart).is_empty());
}

/// A cart listing both " P" (stale, 9) and "P" (5): trimming must not hide either; item P is
/// named as listed on more than one product, its counts not compared, as Get QOH takes
/// neither.
#[test]
fn a_padded_sku_beside_the_same_sku_is_not_hidden() {
    let f = store();
    let a = Arc::new(Scripted::new(UpdateMode::RelativeKeyed).fetch(|_| {
        Ok(QuantityPage {
            items: vec![(" P".into(), 9), ("P".into(), 5)],
            next_cursor: None,
        })
    }));
    let cart = cart_on(&f.store, "dup", a.clone());
    f.store.set_cart_sync(cart, false).unwrap();
    item(&f.store, "P", 5);
    let w = f.store.preflight(cart).unwrap();
    assert_eq!(w.len(), 1, "{w:?}");
    assert_eq!(w[0].sku.as_deref(), Some("P"));
    assert!(w[0].message.contains("more than one product"), "{w:?}");
}

/// An adapter whose `update_mode` panics cannot be built: the cart's report says why, and
/// its records wait, untried.
#[test]
fn an_adapter_whose_mode_panics_is_an_error_building_it() {
    struct ModePanics;
    impl CartAdapter for ModePanics {
        fn update_mode(&self) -> UpdateMode {
            panic!("mode table not loaded")
        }
        fn apply_deltas(&self, _: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
            unreachable!("never built")
        }
        fn set_quantities(&self, _: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
            unreachable!("never built")
        }
        fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
            unreachable!("never built")
        }
    }
    let f = store();
    cart_on(&f.store, "modepanic", Arc::new(ModePanics));
    item(&f.store, "M", 5);
    adjust(&f.store, "M", -1, Reason::PosSale);
    let r = f.store.run_stack(None).unwrap();
    let said = r.carts[0].error.clone().unwrap();
    assert!(
        said.contains("panicked while being built") && said.contains("mode table"),
        "{said}"
    );
    let rec = &stack(&f.store, None)[0];
    assert_eq!(
        (rec["state"].as_str(), rec["attempts"].as_i64()),
        (Some("pending"), Some(0))
    );
}

/// The preflight and the drift report match a cart's padded SKU to the item, as Get QOH does.
#[test]
fn the_preflight_matches_a_padded_sku_as_get_qoh_does() {
    let f = store();
    let a = Arc::new(Scripted::new(UpdateMode::RelativeKeyed).fetch(|_| {
        Ok(QuantityPage {
            items: vec![(" P ".into(), 5)],
            next_cursor: None,
        })
    }));
    let cart = cart_on(&f.store, "pad", a.clone());
    f.store.set_cart_sync(cart, false).unwrap();
    item(&f.store, "P", 5);
    let w = f.store.preflight(cart).unwrap();
    assert!(w.is_empty(), "{w:?}");
}

/// Get QOH through an adapter whose read panics: an error naming it, nothing changed.
#[test]
fn get_qoh_through_an_adapter_whose_read_panics_changes_nothing() {
    let f = store();
    let a = Arc::new(
        Scripted::new(UpdateMode::RelativeKeyed)
            .fetch(|_| panic!("index out of bounds in the page")),
    );
    let cart = cart_on(&f.store, "buggy", a.clone());
    f.store.set_cart_sync(cart, false).unwrap();
    item(&f.store, "A", 5);
    let e = f
        .store
        .get_qoh(cart, GetOptions::default(), None)
        .expect_err("no page was read");
    assert!(e.message().contains("panicked"), "{}", e.message());
    assert_eq!(qoh(&f.store, "A"), 5);
}

// ---- reads and keys ---------------------------------------------------------------------

/// A count far outside 32 bits (a cart's sentinel, a corrupt field) for an existing item is
/// listed as not applied; nothing overflows.
#[test]
fn get_qoh_lists_a_count_of_i64_min_as_not_applied() {
    let f = store();
    let a = Arc::new(Scripted::new(UpdateMode::RelativeKeyed).fetch(|_| {
        Ok(QuantityPage {
            items: vec![("X".into(), i64::MIN), ("Y".into(), i64::MAX)],
            next_cursor: None,
        })
    }));
    let cart = cart_on(&f.store, "huge", a.clone());
    f.store.set_cart_sync(cart, false).unwrap();
    item(&f.store, "X", 5);
    item(&f.store, "Y", 5);
    let r = f.store.get_qoh(cart, GetOptions::default(), None).unwrap();
    assert_eq!(r.not_applied.len(), 2, "{r:?}");
    assert_eq!((qoh(&f.store, "X"), qoh(&f.store, "Y")), (5, 5));
}

/// Keys are unique among a call's items and the same on every re-send.
#[test]
fn keys_are_unique_per_item_of_a_batch_and_stable_across_retries() {
    let f = store();
    // (sku, key) of each call's deltas.
    type Calls = Vec<Vec<(String, String)>>;
    let seen: Arc<Mutex<Calls>> = Default::default();
    let s2 = seen.clone();
    let a = Arc::new(
        Scripted::new(UpdateMode::RelativeKeyed).deltas(move |call, c, d| {
            s2.lock()
                .unwrap()
                .push(d.iter().map(|d| (d.sku.clone(), d.key.clone())).collect());
            if call == 0 {
                return Err(CartError::Ambiguous("lost".into()));
            }
            Ok(apply_all(c, d))
        }),
    );
    cart_on(&f.store, "keys", a.clone());
    items_changed(&f.store, &a, &["A", "B", "C"], 10, -1);
    drain(&f.store);
    let seen = seen.lock().unwrap();
    assert!(seen.len() >= 2, "{seen:?}");
    let first: HashMap<_, _> = seen[0].iter().cloned().collect();
    let keys: HashSet<_> = first.values().collect();
    assert_eq!(
        (first.len(), keys.len()),
        (3, 3),
        "unique per item: {first:?}"
    );
    for call in &seen[1..] {
        for (sku, key) in call {
            assert_eq!(&first[sku], key, "same key on retry");
        }
    }
}
