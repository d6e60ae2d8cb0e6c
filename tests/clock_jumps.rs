//! A workstation clock that jumps does not strand the web stack. Leases, the shared
//! controller's lock and heartbeats are stamped by the writing workstation's clock; one
//! running a day fast (corrected since, by NTP after boot or by an operator) stamped ends a
//! day ahead, and until 2026-12-04 they held for the whole day: that cart's changes (or every
//! cart's, for the lock) were not sent while the shop kept selling stock the store no longer
//! had. An end further ahead than any honest stamp is now taken as ended, and the changes go
//! at once, under the handling of any lapsed lease: a cart with keys gets them again under
//! the same keys; a cart without keys has a change that may have reached it held back as
//! uncertain, never sent twice. (Each test failed before the fix.)
#![cfg(feature = "emulator")]

#[macro_use]
mod common;

use common::*;
use inventory_sync::adapter::DeltaSend;
use inventory_sync::emulator::Emulator;
use inventory_sync::stack::{Lease, LeaseScope, SqliteStack, Transition, WebStack};
use inventory_sync::{CartAdapter, CartId, Reason, SendOptions, StackState, UpdateMode};
use std::sync::Arc;

/// A day, in milliseconds: how far the jumping clock ran ahead.
const DAY: i64 = 24 * 3600 * 1000;

/// The store as a controller on workstation FAST sees it, sending everyone's records.
fn fast_controller(f: &Fixture) -> (SqliteStack, LeaseScope) {
    let stack = SqliteStack::open(f.store.path(), &Default::default()).unwrap();
    let scope = LeaseScope {
        workstation: "FAST".into(),
        shared: true,
        stale_before: 0,
    };
    (stack, scope)
}

/// `cart`'s changes leased by FAST with its clock a day ahead, and the stack it leased on.
fn lease_a_day_ahead(f: &Fixture, cart: CartId) -> (SqliteStack, Lease) {
    let (fast, scope) = fast_controller(f);
    let ahead = fast
        .lease(cart, 50, &scope, now_ms() + DAY, 60_000)
        .unwrap();
    (fast, ahead)
}

/// A cart without keys showing 10 of W, and the store's 10 with 5 received since: one change
/// to send.
fn five_received_for_a_cart_without_keys() -> (Fixture, Arc<DeltaShop>, CartId) {
    let f = store();
    let shop = DeltaShop::new(UpdateMode::RelativeUnkeyed);
    let cart = shop_cart(&f, &shop);
    item(&f.store, "W", 10);
    shop.set("W", 10);
    adjust(&f.store, "W", 5, Reason::Receiving);
    (f, shop, cart)
}

/// A store with `param` set to `value` and a real-time emulated cart "Web", both at 10 of W.
fn w_at_10_on_a_web_cart(param: &str, value: &str) -> (Fixture, Emulator, CartId) {
    let f = store();
    f.store.set_param(param, value).unwrap();
    let e = Emulator::start().unwrap();
    let cart = cart(&f.store, &e, "Web", "attribute");
    item(&f.store, "W", 10);
    e.set_qoh("W", 10);
    (f, e, cart)
}

/// A controller whose clock ran a day fast leased a retry group (B, whose first lease
/// lapsed) and a first-attempt batch (A), then stopped; its clock is right again. The next
/// pass with a correct clock sends both at once, under the keys they were leased with.
#[test]
fn leases_stamped_a_day_ahead_go_again_at_once_under_their_keys() {
    let f = store();
    let shop = DeltaShop::new(UpdateMode::RelativeKeyed);
    let cart = shop_cart(&f, &shop);
    item(&f.store, "A", 0);
    item(&f.store, "B", 0);
    adjust(&f.store, "B", 5, Reason::Receiving);
    let (fast, scope) = fast_controller(&f);
    // B's first lease lapsed (its controller stopped mid-send).
    let first = fast
        .lease(cart, 50, &scope, now_ms() - 10_000, 100)
        .unwrap();
    assert_eq!(first.sends.len(), 1);
    adjust(&f.store, "A", 7, Reason::Receiving);
    let ahead = fast
        .lease(cart, 50, &scope, now_ms() + DAY, 60_000)
        .unwrap();
    assert_eq!(ahead.sends.len(), 2, "{:?}", ahead.sends);
    drop(fast);

    let r = f.store.run_stack(None).unwrap();
    assert_eq!(
        (shop.get("A"), shop.get("B")),
        (7, 5),
        "the changes leased a day ahead waited: {r}"
    );
    assert_eq!(r.remaining, 0, "{r}");
    let mut leased: Vec<String> = ahead.sends.iter().map(|s| s.key.clone()).collect();
    let mut sent: Vec<String> = shop.sent().into_iter().map(|(_, _, k)| k).collect();
    leased.sort();
    sent.sort();
    assert_eq!(
        sent, leased,
        "sent again under the keys they were leased with"
    );
}

/// On a cart without keys, a change leased by a clock a day ahead may have reached the cart
/// (here it did): the pass with a correct clock holds it back as uncertain, never sends it
/// again, and the item's next sale goes at once.
#[test]
fn a_cart_without_keys_never_gets_a_change_leased_a_day_ahead_twice() {
    let (f, shop, cart) = five_received_for_a_cart_without_keys();
    let (fast, ahead) = lease_a_day_ahead(&f, cart);
    assert_eq!(ahead.sends.len(), 1);
    // Its request reached the cart; its answer was lost with the controller.
    shop.set("W", 15);
    drop(fast);

    let r = f.store.run_stack(None).unwrap();
    assert!(shop.sent().is_empty(), "sent again: {:?}", shop.sent());
    assert_eq!(
        f.store.stack_count(cart, StackState::Uncertain).unwrap(),
        1,
        "held back as uncertain for the drift report: {r}"
    );
    assert_eq!(f.store.stack_count(cart, StackState::Waiting).unwrap(), 0);
    adjust(&f.store, "W", -2, Reason::PosSale);
    f.store.run_stack(None).unwrap();
    assert_eq!(shop.get("W"), 13, "the next sale went at once");
    assert_eq!(shop.sent().len(), 1, "{:?}", shop.sent());
}

/// The controller whose clock runs a day fast is still alive and sending when a controller
/// with a correct clock takes its lease over: on a cart without keys the change is held back
/// by the one and settled by neither twice; the fast one's late answer settles nothing.
#[test]
fn a_live_lease_of_a_clock_a_day_fast_taken_over_sends_nothing_twice() {
    let (f, shop, cart) = five_received_for_a_cart_without_keys();
    let (fast, ahead) = lease_a_day_ahead(&f, cart);
    let send = &ahead.sends[0];
    // Its request is in flight when the correct clock's pass runs.
    f.store.run_stack(None).unwrap();
    let answer = shop
        .apply_deltas(&[DeltaSend {
            key: send.key.clone(),
            sku: send.sku.clone(),
            remote_ref: send.remote_ref.clone(),
            delta: send.delta,
        }])
        .unwrap();
    assert_eq!(answer.len(), 1);
    let applied = Transition::Leave {
        outcome: "applied",
        response: "applied".into(),
    };
    let held = fast
        .settle(&ahead.token, &[(send.group_id, applied)], now_ms() + DAY)
        .unwrap();
    assert_eq!(held, 0, "the late answer settles nothing once taken over");
    drain(&f.store);
    assert_eq!(shop.sent().len(), 1, "sent twice: {:?}", shop.sent());
    assert_eq!(shop.get("W"), 15);
    assert_eq!(f.store.stack_count(cart, StackState::Uncertain).unwrap(), 1);
}

/// In shared mode, a controller that took the lock with its clock a day fast and stopped
/// does not keep every workstation standing by for a day.
#[test]
fn a_shared_lock_taken_a_day_ahead_does_not_keep_the_others_standing_by() {
    let (f, e, _) = w_at_10_on_a_web_cart("StackMode", "shared");
    let (fast, _) = fast_controller(&f);
    let now = now_ms();
    assert!(fast
        .shared_lock("FAST #1", now + DAY, now + DAY + 180_000)
        .unwrap());
    drop(fast);
    adjust(&f.store, "W", -3, Reason::PosSale);
    let r = f.store.run_stack(None).unwrap();
    assert!(!r.standby, "stood by for a lock taken a day ahead: {r}");
    assert_eq!(e.qoh("W"), Some(7));
}

/// In local mode, a workstation that beat with its clock a day fast and was switched off
/// does not keep its records from the others for a day.
#[test]
fn a_heartbeat_a_day_ahead_does_not_keep_a_silent_tills_records_from_the_others() {
    let (f, e, _) = w_at_10_on_a_web_cart("StackMode", "local");
    let till1 = f.reopen();
    till1.set_param("Workstation", "TILL-1").unwrap();
    adjust(&till1, "W", -4, Reason::PosSale);
    let (fast, _) = fast_controller(&f);
    fast.heartbeat("TILL-1", now_ms() + DAY).unwrap();
    drop(fast);
    drop(till1);
    let till2 = f.reopen();
    till2.set_param("Workstation", "TILL-2").unwrap();
    let r = till2.run_stack(None).unwrap();
    assert_eq!(e.qoh("W"), Some(6), "TILL-1's sale waited: {r}");
}

/// A Send QOH does not wait for (and give up on) a lease stamped a day ahead: it takes it
/// over as a lapsed one, and the cart ends at the store's count.
#[test]
fn a_send_qoh_takes_over_a_lease_stamped_a_day_ahead() {
    let (f, e, cart) = w_at_10_on_a_web_cart("LeaseMs", "100");
    adjust(&f.store, "W", -3, Reason::PosSale);
    let (fast, ahead) = lease_a_day_ahead(&f, cart);
    assert_eq!(ahead.sends.len(), 1);
    drop(fast);
    let r = f.store.send_qoh(cart, SendOptions { force: true }, None);
    assert!(r.is_ok(), "{r:?}");
    drain(&f.store);
    assert_eq!(e.qoh("W"), Some(7));
}
