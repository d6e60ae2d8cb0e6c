//! Review of the clock-jump change (2026-12-04): a lease end, the shared lock or a heartbeat
//! stamped further ahead than any honest stamp is taken as ended, and a lapsed batch's groups
//! are due now. That is safe only if a change taken from a controller whose clock runs ahead
//! while its request is still on the way is never applied twice by a cart without keys, and
//! never lost. These tests pin that for the ways two controllers (one 2 hours fast, one
//! right) and a Send QOH can meet over one cart: the fast one's late answer settles nothing,
//! no record is logged twice, and the cart ends holding each change once.
#![cfg(feature = "emulator")]

#[macro_use]
mod common;

use common::*;
use inventory_sync::adapter::UpdateMode;
use inventory_sync::stack::{Lease, LeaseScope, SqliteStack, Transition, WebStack};
use inventory_sync::{CartAdapter, CartId, Reason, SendOptions, StackState};
use std::sync::{Arc, Mutex};

/// How far the fast workstation's clock runs ahead: past every bound the change sets
/// (`LEASE_AHEAD_MAX`, `HEARTBEAT_AHEAD_MAX`: 1 h 5 min), short of `LOCK_AHEAD_MAX`.
const AHEAD: i64 = 2 * 3600 * 1000;

/// Shared mode, a cart in `mode` showing 10 of W, and the store's 10 with a sale of `delta`
/// since: one change to send.
fn one_sale(mode: UpdateMode, delta: i64) -> (Fixture, Arc<DeltaShop>, CartId) {
    let f = store();
    f.store.set_param("StackMode", "shared").unwrap();
    let shop = DeltaShop::new(mode);
    let cart = shop_cart(&f, &shop);
    item(&f.store, "W", 10);
    shop.set("W", 10);
    adjust(&f.store, "W", delta, Reason::PosSale);
    (f, shop, cart)
}

/// A controller's view of the store: `workstation`'s, shared or local.
fn controller(f: &Fixture, workstation: &str, shared: bool, now: i64) -> (SqliteStack, LeaseScope) {
    let stack = SqliteStack::open(f.store.path(), &Default::default()).unwrap();
    let scope = LeaseScope {
        workstation: workstation.into(),
        shared,
        stale_before: now - 3 * 60_000,
    };
    (stack, scope)
}

/// The changes of `cart` a shared controller on FAST leases with its clock `AHEAD` of `now`,
/// and the stack it leased on.
fn fast_lease(f: &Fixture, cart: CartId, now: i64) -> (SqliteStack, Lease) {
    let (fast, fs) = controller(f, "FAST", true, now + AHEAD);
    let flight = fast.lease(cart, 50, &fs, now + AHEAD, 60_000).unwrap();
    (fast, flight)
}

fn applied() -> Transition {
    Transition::Leave {
        outcome: "applied",
        response: "applied".into(),
    }
}

/// Every answer of `lease`, as `t`.
fn all(lease: &Lease, t: fn() -> Transition) -> Vec<(i64, Transition)> {
    lease.sends.iter().map(|s| (s.group_id, t())).collect()
}

/// Records logged more than once (each record leaves the stack once).
fn logged_twice(f: &Fixture) -> i64 {
    value(
        f.store.path(),
        "SELECT COUNT(*) - COUNT(DISTINCT record_id) FROM stack_log",
    )
}

/// Records on the stack or in its history: none is lost.
fn accounted(f: &Fixture) -> i64 {
    value::<i64>(f.store.path(), "SELECT COUNT(*) FROM stack")
        + value::<i64>(
            f.store.path(),
            "SELECT COUNT(DISTINCT record_id) FROM stack_log",
        )
}

/// Shared mode: the fast controller's first-attempt batch of three items is in flight when
/// a correct controller leases one item (its lease taken as ended, the batch made groups);
/// the fast one's request lands and it answers 'applied'. Nothing settles under its token,
/// the two groups left unleased stay marked as maybe applied, and the correct controller's
/// passes hold all three back: each change reaches the cart without keys once.
#[test]
fn a_fast_batch_taken_over_in_part_sends_nothing_twice_in_shared_mode() {
    let f = store();
    f.store.set_param("StackMode", "shared").unwrap();
    let shop = DeltaShop::new(UpdateMode::RelativeUnkeyed);
    let cart = shop_cart(&f, &shop);
    for (sku, d) in [("A", -1), ("B", -2), ("C", -3)] {
        item(&f.store, sku, 10);
        shop.set(sku, 10);
        adjust(&f.store, sku, d, Reason::PosSale);
    }
    let now = now_ms();
    let (fast, flight) = fast_lease(&f, cart, now);
    assert_eq!(flight.sends.len(), 3);
    let (slow, ss) = controller(&f, "SLOW", true, now);
    let one = slow.lease(cart, 1, &ss, now, 60_000).unwrap();
    assert_eq!(one.sends.len(), 1);
    assert!(
        one.sends[0].lapsed,
        "taken over but not marked: {:?}",
        one.sends
    );
    shop.lands(&flight);
    let held = fast
        .settle(&flight.token, &all(&flight, applied), now + AHEAD)
        .unwrap();
    assert_eq!(held, 0, "the late answer settled a batch taken over");
    assert!(
        !fast.renew(&flight.token, now + AHEAD + 60_000).unwrap(),
        "renewed back to life"
    );
    slow.release(&one.token).unwrap();

    drain(&f.store);
    assert_eq!(shop.sent().len(), 3, "sent twice: {:?}", shop.sent());
    assert_eq!((shop.get("A"), shop.get("B"), shop.get("C")), (9, 8, 7));
    assert_eq!(f.store.stack_count(cart, StackState::Uncertain).unwrap(), 3);
    assert_eq!(f.store.stack_count(cart, StackState::Waiting).unwrap(), 0);
    assert_eq!(logged_twice(&f), 0);
    assert_eq!(accounted(&f), 3, "a record was lost");
    adjust(&f.store, "A", -1, Reason::PosSale);
    drain(&f.store);
    assert_eq!(shop.get("A"), 8, "the next sale went");
}

/// The fast controller answers its taken-over batch with a retry (nothing applied, as it
/// believes) rather than 'applied': still nothing settles, nothing is dissolved back into
/// first-attempt records (which would go again as new), and the cart gets each change once.
#[test]
fn a_fast_batch_taken_over_answered_retry_is_not_sent_again_as_new() {
    let (f, shop, cart) = one_sale(UpdateMode::RelativeUnkeyed, -4);
    let now = now_ms();
    let (fast, flight) = fast_lease(&f, cart, now);
    assert_eq!(flight.sends.len(), 1);
    // The correct controller's pass takes the lease over and holds the change back.
    f.store.run_stack(None).unwrap();
    shop.lands(&flight);
    let retry = || Transition::Pending {
        attempts: 1,
        next_attempt_at: 0,
        response: "timed out".into(),
        maybe_applied: false,
    };
    assert_eq!(
        fast.settle(&flight.token, &all(&flight, retry), now + AHEAD)
            .unwrap(),
        0
    );
    assert_eq!(fast.release(&flight.token).unwrap(), 0);
    drain(&f.store);
    assert_eq!(shop.sent().len(), 1, "sent twice: {:?}", shop.sent());
    assert_eq!(shop.get("W"), 6);
    assert_eq!(f.store.stack_count(cart, StackState::Uncertain).unwrap(), 1);
    assert_eq!(logged_twice(&f), 0);
    assert_eq!(accounted(&f), 1);
}

/// Local mode: the fast workstation's heartbeat is taken as stale, so a correct workstation
/// takes its records, while the fast one is alive and sending them. Each sale of the fast
/// till reaches the cart without keys once, whichever controller leased it, and the fast
/// controller, leasing again after the takeover, does not get its own records back.
#[test]
fn a_live_fast_till_taken_for_stale_shares_its_records_without_a_double_send() {
    let f = store();
    f.store.set_param("StackMode", "local").unwrap();
    let shop = DeltaShop::new(UpdateMode::RelativeUnkeyed);
    let cart = shop_cart(&f, &shop);
    item(&f.store, "W", 20);
    shop.set("W", 20);
    let till = f.reopen();
    till.set_param("Workstation", "FAST").unwrap();
    adjust(&till, "W", -2, Reason::PosSale);
    let now = now_ms();
    let (fast, fs) = controller(&f, "FAST", false, now + AHEAD);
    fast.heartbeat("FAST", now + AHEAD).unwrap();
    let flight = fast.lease(cart, 50, &fs, now + AHEAD, 60_000).unwrap();
    assert_eq!(flight.sends.len(), 1);
    // The correct workstation's pass: its heartbeat takes FAST's for stale.
    let slow = f.reopen();
    slow.set_param("Workstation", "SLOW").unwrap();
    let adapter = shop.clone() as Arc<dyn CartAdapter>;
    slow.register_adapter("Shop", move |_| Ok(adapter.clone()));
    slow.run_stack(None).unwrap();
    // FAST, still alive, leases again before its request lands: nothing of its own is back.
    let again = fast.lease(cart, 50, &fs, now + AHEAD, 60_000).unwrap();
    assert!(again.sends.is_empty(), "leased again: {:?}", again.sends);
    shop.lands(&flight);
    assert_eq!(
        fast.settle(&flight.token, &all(&flight, applied), now + AHEAD)
            .unwrap(),
        0
    );
    // A second sale of the fast till, leased by the one and taken by the other.
    adjust(&till, "W", -3, Reason::PosSale);
    fast.heartbeat("FAST", now + AHEAD).unwrap();
    let second = fast.lease(cart, 50, &fs, now + AHEAD, 60_000).unwrap();
    assert_eq!(second.sends.len(), 1);
    slow.run_stack(None).unwrap();
    shop.lands(&second);
    fast.settle(&second.token, &all(&second, applied), now + AHEAD)
        .unwrap();
    drain(&slow);
    assert_eq!(shop.sent().len(), 2, "sent twice: {:?}", shop.sent());
    assert_eq!(shop.get("W"), 15);
    assert_eq!(logged_twice(&f), 0);
    assert_eq!(accounted(&f), 2);
}

/// A correct controller's live send is taken for lapsed by the fast controller (its honest
/// end is behind the fast clock) in shared mode: the fast one gets it marked lapsed, the
/// correct one's late answer settles nothing, and the cart without keys has the change once.
#[test]
fn a_correct_controllers_live_batch_taken_by_a_fast_one_is_sent_once() {
    let (f, shop, cart) = one_sale(UpdateMode::RelativeUnkeyed, -1);
    let now = now_ms();
    let (slow, ss) = controller(&f, "SLOW", true, now);
    let flight = slow.lease(cart, 50, &ss, now, 60_000).unwrap();
    assert_eq!(flight.sends.len(), 1);
    let (fast, fs) = controller(&f, "FAST", true, now + AHEAD);
    let taken = fast.lease(cart, 50, &fs, now + AHEAD, 60_000).unwrap();
    assert!(
        taken.sends.iter().all(|s| s.lapsed),
        "taken over as new: {:?}",
        taken.sends
    );
    shop.lands(&flight);
    assert_eq!(
        slow.settle(&flight.token, &all(&flight, applied), now)
            .unwrap(),
        0
    );
    fast.release(&taken.token).unwrap();
    drain(&f.store);
    assert_eq!(shop.sent().len(), 1, "sent twice: {:?}", shop.sent());
    assert_eq!(shop.get("W"), 9);
    assert_eq!(logged_twice(&f), 0);
    assert_eq!(accounted(&f), 1);
}

/// A Send QOH with a correct clock beside the fast controller's live send: it does not wait
/// for the lease stamped ahead, takes it over as a stalled one, and on a cart without keys
/// holds the item back (not counted) so the late request lands once; on a cart with keys it
/// sends the change again under its key first, so the late request is a duplicate.
#[test]
fn a_send_qoh_beside_a_fast_live_send_counts_the_change_once() {
    for mode in [UpdateMode::RelativeUnkeyed, UpdateMode::RelativeKeyed] {
        let (f, shop, cart) = one_sale(mode, -3);
        let now = now_ms();
        let (fast, flight) = fast_lease(&f, cart, now);
        assert_eq!(flight.sends.len(), 1);
        let r = f
            .store
            .send_qoh(cart, SendOptions { force: true }, None)
            .unwrap();
        shop.lands(&flight);
        assert_eq!(
            fast.settle(&flight.token, &all(&flight, applied), now + AHEAD)
                .unwrap(),
            0,
            "{mode:?}"
        );
        drain(&f.store);
        assert_eq!(shop.get("W"), 7, "{mode:?}: counted twice or lost: {r:?}");
        assert_eq!(logged_twice(&f), 0, "{mode:?}");
        assert_eq!(accounted(&f), 1, "{mode:?}");
    }
}

/// A Send QOH with a correct clock holds the cart; a controller whose clock runs 2 hours
/// ahead reads the hold (stamped `now + 15 min` by the correct clock) as ended and leases
/// the next item's sale in a first-attempt batch between two requests of counts. The run's
/// count of that item includes the sale; should the fast controller's request land after
/// the count, a cart without keys counted the sale twice (an oversell), and a cart with
/// keys too (the count's key is not the change's). The run now takes a change in a leased
/// batch for one sent before, as it takes a stalled controller's group: held back from a cart
/// without keys (the item not counted), sent again under its key first to a cart with keys.
#[test]
fn a_fast_controller_leasing_under_a_send_qoh_hold_is_not_counted_twice() {
    for mode in [UpdateMode::RelativeUnkeyed, UpdateMode::RelativeKeyed] {
        let f = store();
        f.store.set_param("StackMode", "shared").unwrap();
        let shop = DeltaShop::new(mode);
        let cart = custom_cart(
            &f.store,
            "Shop",
            shop.clone() as Arc<dyn CartAdapter>,
            Some("attribute"),
            Some(1),
        );
        f.store.set_cart_sync(cart, true).unwrap();
        for sku in ["X", "Y"] {
            item(&f.store, sku, 10);
            shop.set(sku, 10);
        }
        adjust(&f.store, "X", -1, Reason::PosSale);
        adjust(&f.store, "Y", -2, Reason::PosSale);
        let flight: Arc<Mutex<Option<(SqliteStack, Lease)>>> = Arc::default();
        let (path, took) = (f.store.path().to_owned(), flight.clone());
        // After the first count (X's): the fast controller leases Y's sale.
        shop.after_set.lock().unwrap().push(Box::new(move || {
            let now = now_ms() + AHEAD;
            let fast = SqliteStack::open(&path, &Default::default()).unwrap();
            let scope = LeaseScope {
                workstation: "FAST".into(),
                shared: true,
                stale_before: 0,
            };
            let lease = fast.lease(cart, 50, &scope, now, 60_000).unwrap();
            *took.lock().unwrap() = Some((fast, lease));
        }));
        // After the second (Y's): the fast controller's request lands, and it settles.
        let (cart_, took) = (shop.clone(), flight.clone());
        shop.after_set.lock().unwrap().push(Box::new(move || {
            let (fast, lease) = took.lock().unwrap().take().unwrap();
            cart_.lands(&lease);
            fast.settle(&lease.token, &all(&lease, applied), now_ms() + AHEAD)
                .unwrap();
        }));
        let r = f
            .store
            .send_qoh(cart, SendOptions { force: true }, None)
            .unwrap();
        if let Some((fast, lease)) = flight.lock().unwrap().take() {
            // Y's count was not sent: the fast controller's request lands now.
            shop.lands(&lease);
            fast.settle(&lease.token, &all(&lease, applied), now_ms() + AHEAD)
                .unwrap();
        }
        drain(&f.store);
        assert_eq!(
            (shop.get("X"), shop.get("Y")),
            (9, 8),
            "{mode:?}: counted twice: {r:?} {:?}",
            shop.sent()
        );
        assert_eq!(logged_twice(&f), 0, "{mode:?}");
        assert_eq!(accounted(&f), 2, "{mode:?}");
    }
}
