//! Mutation audit (s40) of the core real-time rules no recent audit covered: what a QOH
//! change queues (`Store::adjust_qoh`, `items::apply_change`, `published_change`, the
//! targets' query), the record state machine (`stack::transition`, `backoff_ms`) and the
//! controller's batches and waits. Each test here fails under a small change of the library
//! that the existing tests let through, and says which (`Catches:`).
#![cfg(feature = "emulator")]

#[macro_use]
#[allow(unused_macros)]
mod common;

use common::*;
use inventory_sync::adapter::{CartAdapter, CartError, DeltaSend, SendOutcome, UpdateMode};
use inventory_sync::emulator::Emulator;
use inventory_sync::stack::{CartRunState, SqliteStack, WebStack};
use inventory_sync::{CartId, Reason, StackState};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Rule 5: a product with variants taken off a `Sku` cart (its web fields there say
/// `sync: false`) is not that cart's: a sale of one of its variants queues nothing for it,
/// while an `Attribute` cart still gets the variant's sale. The owner relies on the product
/// staying as the cart shows it (sold there by other means, or not at all).
/// Catches: a `Sku` cart's product web fields' `sync` ignored for its variants' changes (of
/// the other tests, only a level-switch review's caught it, by the way).
#[test]
fn a_product_taken_off_a_sku_cart_gets_none_of_its_variants_sales() {
    let f = store();
    let (e, e2) = (Emulator::start().unwrap(), Emulator::start().unwrap());
    item(&f.store, "TEE", 0);
    variant(&f.store, "TEE-S", "TEE", 2);
    variant(&f.store, "TEE-M", "TEE", 4);
    let sku = cart(&f.store, &e, "Sku", "sku");
    let attr = cart(&f.store, &e2, "Attr", "attribute");
    f.store
        .set_web_fields(sku, "TEE", r#"{"sync":false}"#)
        .unwrap();
    let before = records(&f.store, sku);
    adjust(&f.store, "TEE-S", -1, Reason::PosSale);
    assert_eq!(
        records(&f.store, sku),
        before,
        "the product is off the Sku cart: its variant's sale is not sent there"
    );
    assert_eq!(
        records(&f.store, attr),
        vec![("TEE-S".to_owned(), -1)],
        "the Attribute cart gets the variant's sale"
    );
}

/// How a test cart answers its first request.
type FirstAnswer = Box<dyn Fn(&[DeltaSend]) -> Vec<SendOutcome> + Send + Sync>;

/// A keyed cart that counts the requests it is asked. Its first request
/// answers as `first` says; every later one applies everything.
struct Asked {
    calls: AtomicUsize,
    first: FirstAnswer,
}

impl CartAdapter for Asked {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeKeyed
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        if self.calls.fetch_add(1, Ordering::SeqCst) == 0 {
            return Ok((self.first)(d));
        }
        Ok(d.iter()
            .map(|_| SendOutcome::Applied { qoh: None })
            .collect())
    }
    sends_deltas_only!();
}

/// Cart "Asked" (real-time, attribute level, one item a request) served by an [`Asked`]
/// answering its first request with `first`; three items each sold once.
fn asked_cart(
    f: &Fixture,
    first: impl Fn(&[DeltaSend]) -> Vec<SendOutcome> + Send + Sync + 'static,
) -> (Arc<Asked>, CartId) {
    let a = Arc::new(Asked {
        calls: AtomicUsize::new(0),
        first: Box::new(first),
    });
    let c = custom_cart(&f.store, "Asked", a.clone(), Some("attribute"), Some(1));
    f.store.set_cart_sync(c, true).unwrap();
    for sku in ["A", "B", "C"] {
        item(&f.store, sku, 10);
        adjust(&f.store, sku, -1, Reason::PosSale);
    }
    (a, c)
}

/// Rule 10: an item the cart rate-limits inside an answer (`Retry` with a wait, a 429 met by
/// a later request of the call) makes the cart wait: the batch the controller leased ahead
/// meanwhile (one item a request, a keyed cart) is not sent into that wait, and no attempt
/// is counted for anything.
/// Catches: an item's wait not ending the cart's pass (the batch leased ahead sent anyway).
#[test]
fn an_item_the_cart_rate_limits_keeps_the_batch_leased_ahead_from_going() {
    let f = store();
    let (a, c) = asked_cart(&f, |d| {
        d.iter()
            .map(|x| SendOutcome::Retry {
                message: format!("sku {}: rate limited: HTTP 429", x.sku),
                after: Some(Duration::from_secs(3600)),
            })
            .collect()
    });
    let r = f.store.run_stack(None).unwrap();
    assert_eq!(
        a.calls.load(Ordering::SeqCst),
        1,
        "the cart asked to wait an hour, and was asked nothing more: {r}"
    );
    assert_eq!(f.store.stack_count(c, StackState::Waiting).unwrap(), 3);
    for rec in stack(&f.store, None) {
        assert_eq!(rec["attempts"], 0, "{rec}");
    }
}

/// Rule 10 across workstations: a rate limit another controller recorded for the cart while
/// this one's request was in flight stops this controller's pass, the batch it leased ahead
/// included (one item a request, a keyed cart): the cart is not asked again within the wait.
/// Catches: a rate limit recorded meanwhile not stopping the pass.
#[test]
fn a_rate_limit_recorded_meanwhile_keeps_the_batch_leased_ahead_from_going() {
    let f = store();
    let path = f.dir.path().join("store.db");
    let (a, c) = asked_cart(&f, move |d| {
        let other = SqliteStack::open(&path, &Default::default()).unwrap();
        let now = now_ms();
        let limited = CartRunState {
            backoff_until: now + 3_600_000,
            cart_error: Some("HTTP 429 (rate limited)".into()),
            rate_limited_until: now + 3_600_000,
            ..Default::default()
        };
        let cart = other.carts().unwrap().into_iter().next().unwrap();
        other
            .set_cart_state(cart.id, cart.config_version(), &limited)
            .unwrap();
        d.iter()
            .map(|_| SendOutcome::Applied { qoh: None })
            .collect()
    });
    let r = f.store.run_stack(None).unwrap();
    assert_eq!(
        a.calls.load(Ordering::SeqCst),
        1,
        "the cart is rate-limited for an hour: asked nothing more: {r}"
    );
    assert_eq!(f.store.stack_count(c, StackState::Waiting).unwrap(), 2);
}

/// Rule 10: items of one answer naming different waits (one second, one hour) hold the cart
/// for the longest: a sale made after that pass waits the hour, as the stack listing says,
/// rather than reaching the cart a second later.
/// Catches: the cart held for the shortest wait its items named.
#[test]
fn items_naming_different_waits_hold_the_cart_for_the_longest() {
    let f = store();
    let a = Arc::new(Asked {
        calls: AtomicUsize::new(0),
        first: Box::new(|d| {
            d.iter()
                .map(|x| SendOutcome::Retry {
                    message: format!("sku {}: rate limited: HTTP 429", x.sku),
                    after: Some(Duration::from_secs(if x.sku == "A" { 1 } else { 3600 })),
                })
                .collect()
        }),
    });
    let c = custom_cart(&f.store, "Asked", a.clone(), Some("attribute"), Some(50));
    f.store.set_cart_sync(c, true).unwrap();
    for sku in ["A", "B", "C"] {
        item(&f.store, sku, 10);
    }
    adjust(&f.store, "A", -1, Reason::PosSale);
    adjust(&f.store, "B", -1, Reason::PosSale);
    let start = now_ms();
    f.store.run_stack(None).unwrap();
    assert_eq!(a.calls.load(Ordering::SeqCst), 1);
    adjust(&f.store, "C", -1, Reason::PosSale);
    let listed = stack(&f.store, None);
    let later = listed.iter().find(|r| r["sku"] == "C").unwrap();
    assert!(
        later["next_attempt_at"].as_i64().unwrap() >= start + 3_600_000,
        "the cart asked for an hour: {later}"
    );
}
