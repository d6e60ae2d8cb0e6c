//! A cart's rate limit is the cart's, whichever controller met it: every workstation's
//! controller honours it, and no other answer lifts or shortens it. Found in review: each
//! test failed before its fix.
#![cfg(feature = "emulator")]

mod common;

use common::*;
use inventory_sync::adapter::{
    CartAdapter, CartError, DeltaSend, QuantityPage, QuantitySet, SendOutcome, UpdateMode,
};
use inventory_sync::stack::{SqliteStack, WebStack};
use inventory_sync::{CartId, Reason, StackState, Store};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

macro_rules! sends_deltas_only {
    () => {
        fn set_quantities(&self, _: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
            Err(CartError::Rejected("not used".into()))
        }
        fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
            Ok(QuantityPage::default())
        }
    };
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// A handle on the fixture's file named `name`, with `adapter` registered as `reg`.
fn till(f: &Fixture, name: &str, reg: &str, adapter: Arc<dyn CartAdapter>) -> Store {
    let s = f.reopen();
    s.set_param("Workstation", name).unwrap();
    s.register_adapter(reg, move |_| Ok(adapter.clone()));
    s
}

/// A cart on adapter `reg` (registered on the fixture's handle too), real-time per SKU, on.
fn cart_on(f: &Fixture, reg: &str, adapter: Arc<dyn CartAdapter>) -> CartId {
    f.store.register_adapter(reg, move |_| Ok(adapter.clone()));
    let c = f
        .store
        .upsert_cart_json(&format!(
            r#"{{"name":"{reg}","adapter":"{reg}","capabilities":{{"send":false,"get":false,"realtime":"sku"}}}}"#
        ))
        .unwrap();
    f.store.set_cart_sync(c, true).unwrap();
    c
}

/// A keyed cart whose first call is answered item by item with the cart's rate limit (as the
/// built-in adapters answer when a later request of a multi-request call gets HTTP 429 with
/// `Retry-After: 3600`); every later call is applied. Counts its calls.
struct ItemsLimitedOnce {
    calls: AtomicUsize,
}

impl CartAdapter for ItemsLimitedOnce {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeKeyed
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        Ok(d.iter()
            .map(|x| match n {
                0 => SendOutcome::Retry {
                    message: format!("sku {}: rate limited: HTTP 429 Too Many Requests", x.sku),
                    after: Some(Duration::from_secs(3600)),
                },
                _ => SendOutcome::Applied { qoh: None },
            })
            .collect())
    }
    sends_deltas_only!();
}

/// A rate limit the cart gave on items of TILL-1's call (a later request of it met HTTP 429)
/// is written on the cart, as one on the whole call is: TILL-2's controller sends the cart
/// nothing inside the hour it asked for. It was recorded on those items' groups only, and
/// TILL-2 sent its own sale at once.
#[test]
fn a_retry_after_on_items_is_obeyed_by_another_workstations_controller() {
    let f = store();
    let a = Arc::new(ItemsLimitedOnce {
        calls: AtomicUsize::new(0),
    });
    let c = cart_on(&f, "lim", a.clone());
    let t1 = till(&f, "TILL-1", "lim", a.clone());
    let t2 = till(&f, "TILL-2", "lim", a.clone());
    item(&f.store, "X", 10);
    item(&f.store, "Y", 10);
    // Both tills' controllers beat: each sends its own.
    t1.run_stack(None).unwrap();
    t2.run_stack(None).unwrap();
    adjust(&t1, "X", -1, Reason::PosSale);
    let r = t1.run_stack(None).unwrap();
    assert_eq!(
        (r.carts[0].deferred, a.calls.load(Ordering::SeqCst)),
        (1, 1),
        "{r}"
    );
    // TILL-2 sells Y a moment later: the cart said to send nothing for an hour.
    adjust(&t2, "Y", -1, Reason::PosSale);
    let r2 = t2.run_stack(None).unwrap();
    let state = SqliteStack::open(f.store.path(), &Default::default())
        .unwrap()
        .cart_state(c)
        .unwrap();
    assert_eq!(
        a.calls.load(Ordering::SeqCst),
        1,
        "TILL-2 sent to the cart inside the Retry-After it gave TILL-1 (cart's backoff_until \
         = {} , now = {}): {r2}",
        state.backoff_until,
        now_ms()
    );
    assert_eq!(f.store.stack_count(c, StackState::Waiting).unwrap(), 2);
}

/// A keyed cart: its first call fails as an outage (503); during its second call (TILL-1
/// sending again once the outage's back-off ended), TILL-2's controller runs a pass whose
/// request the cart answers 429 with an hour's Retry-After; the second call is then
/// applied, as is every later one. Counts its calls.
struct OutageThenOthers429 {
    calls: AtomicUsize,
    other: Mutex<Option<Store>>,
    other_report: Mutex<Option<String>>,
}

impl CartAdapter for OutageThenOthers429 {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeKeyed
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        match self.calls.fetch_add(1, Ordering::SeqCst) {
            0 => return Err(CartError::Unavailable("HTTP 503".into())),
            1 => {
                // While this request is in flight, TILL-2 sends its own sale.
                let other = self.other.lock().unwrap().take().unwrap();
                let r = other.run_stack(None).unwrap();
                *self.other_report.lock().unwrap() = Some(r.to_string());
            }
            2 => {
                return Err(CartError::RateLimited {
                    retry_after: Some(Duration::from_secs(3600)),
                    message: "HTTP 429 Too Many Requests".into(),
                })
            }
            _ => {}
        }
        Ok(d.iter()
            .map(|_| SendOutcome::Applied { qoh: None })
            .collect())
    }
    sends_deltas_only!();
}

/// The cart comes back from an outage: TILL-1's request is applied while TILL-2's meets a
/// 429 naming an hour. The wait stands after TILL-1's success. A 429 kept the outage's step,
/// so the success took it for the outage's end and wiped the wait.
#[test]
fn a_success_after_an_outage_keeps_a_retry_after_another_controller_recorded() {
    let f = store();
    let a = Arc::new(OutageThenOthers429 {
        calls: AtomicUsize::new(0),
        other: Mutex::new(None),
        other_report: Mutex::new(None),
    });
    let c = cart_on(&f, "o", a.clone());
    let t1 = till(&f, "TILL-1", "o", a.clone());
    let t2 = till(&f, "TILL-2", "o", a.clone());
    for sku in ["X", "Y", "Z"] {
        item(&f.store, sku, 10);
    }
    t1.run_stack(None).unwrap();
    t2.run_stack(None).unwrap();
    // TILL-1's sale meets an outage (RetryBaseMs is 0 here: the back-off ends at once).
    adjust(&t1, "X", -1, Reason::PosSale);
    let r = t1.run_stack(None).unwrap();
    assert_eq!(a.calls.load(Ordering::SeqCst), 1, "{r}");
    // TILL-2 sells Y; TILL-1 sends X again, and while it is in flight TILL-2's pass gets 429.
    adjust(&t2, "Y", -1, Reason::PosSale);
    *a.other.lock().unwrap() = Some(t2);
    let r = t1.run_stack(None).unwrap();
    let other = a.other_report.lock().unwrap().clone().unwrap();
    assert_eq!(a.calls.load(Ordering::SeqCst), 3, "{r}\nTILL-2: {other}");
    assert_eq!(r.sent, 1, "{r}");
    let stack = SqliteStack::open(f.store.path(), &Default::default()).unwrap();
    let state = stack.cart_state(c).unwrap();
    // Z sold now: the cart asked for an hour's quiet 0 s ago.
    adjust(&t1, "Z", -1, Reason::PosSale);
    let r = t1.run_stack(None).unwrap();
    assert_eq!(
        a.calls.load(Ordering::SeqCst),
        3,
        "sent inside the Retry-After TILL-2's controller recorded (cart state after TILL-1's \
         success: {state:?}): {r}\nTILL-2's pass: {other}"
    );
}

/// A keyed cart: during its first call (TILL-1's), TILL-2's controller runs a pass whose
/// request the cart answers 429 with an hour's Retry-After; the first call then fails as an
/// outage (503). Every later call is applied. Counts its calls.
struct Others429ThenOutage {
    calls: AtomicUsize,
    other: Mutex<Option<Store>>,
    other_report: Mutex<Option<String>>,
}

impl CartAdapter for Others429ThenOutage {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeKeyed
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        match self.calls.fetch_add(1, Ordering::SeqCst) {
            0 => {
                let other = self.other.lock().unwrap().take().unwrap();
                let r = other.run_stack(None).unwrap();
                *self.other_report.lock().unwrap() = Some(r.to_string());
                return Err(CartError::Unavailable("HTTP 503".into()));
            }
            1 => {
                return Err(CartError::RateLimited {
                    retry_after: Some(Duration::from_secs(3600)),
                    message: "HTTP 429 Too Many Requests".into(),
                })
            }
            _ => {}
        }
        Ok(d.iter()
            .map(|_| SendOutcome::Applied { qoh: None })
            .collect())
    }
    sends_deltas_only!();
}

/// TILL-2's request meets a 429 naming an hour while TILL-1's, in flight, then meets a 503:
/// the hour stands. The outage's short back-off replaced it, and every controller sent again
/// once that ended.
#[test]
fn an_outage_does_not_shorten_a_retry_after_another_controller_recorded() {
    let f = store();
    let a = Arc::new(Others429ThenOutage {
        calls: AtomicUsize::new(0),
        other: Mutex::new(None),
        other_report: Mutex::new(None),
    });
    let c = cart_on(&f, "p", a.clone());
    let t1 = till(&f, "TILL-1", "p", a.clone());
    let t2 = till(&f, "TILL-2", "p", a.clone());
    for sku in ["X", "Y", "Z"] {
        item(&f.store, sku, 10);
    }
    t1.run_stack(None).unwrap();
    t2.run_stack(None).unwrap();
    adjust(&t1, "X", -1, Reason::PosSale);
    adjust(&t2, "Y", -1, Reason::PosSale);
    *a.other.lock().unwrap() = Some(t2);
    let r = t1.run_stack(None).unwrap();
    let other = a.other_report.lock().unwrap().clone().unwrap();
    assert_eq!(a.calls.load(Ordering::SeqCst), 2, "{r}\nTILL-2: {other}");
    let state = SqliteStack::open(f.store.path(), &Default::default())
        .unwrap()
        .cart_state(c)
        .unwrap();
    adjust(&t1, "Z", -1, Reason::PosSale);
    let r = t1.run_stack(None).unwrap();
    assert_eq!(
        a.calls.load(Ordering::SeqCst),
        2,
        "sent inside the hour's Retry-After TILL-2's controller recorded (cart state after \
         TILL-1's 503: {state:?}, now {}): {r}\nTILL-2's pass: {other}",
        now_ms()
    );
}
