//! Retiring the cart of a shop that is gone (`Store::retire_cart`, `invsync_cart_retire`).
//!
//! A closed shop leaves a backlog of waiting records. `delete_cart` refuses while any record
//! waits, and during the outage the controller tries only the oldest batch each back-off
//! step (DESIGN §3 rule 10), so bypassing the backlog to discard it took hours or days while
//! the order manager kept a dead channel. Retiring discards every record of the cart, logged,
//! and deletes the cart in one transaction; it refuses while a send to the cart may be in
//! flight, and leaves every other cart's records alone.

mod common;

use common::*;
use inventory_sync::emulator::Emulator;
mod ffi_text;
use ffi_text::*;
use inventory_sync::ffi::*;
use inventory_sync::stack::{LeaseScope, SqliteStack, Transition, WebStack};
use inventory_sync::{ErrorKind, Reason, StackState};
use std::ptr;

/// The response each record discarded with its cart is logged with (part of it).
const WITH_THE_CART: &str = "discarded with the cart";

/// Any workstation's records, as a shared controller leases them.
fn anyone() -> LeaseScope {
    LeaseScope {
        workstation: "TILL-9".into(),
        shared: true,
        stale_before: 0,
    }
}

/// Record ids on the stack for `cart`, oldest first.
fn ids(f: &Fixture, cart: inventory_sync::CartId) -> Vec<i64> {
    stack(
        &f.store,
        Some(&format!(r#"{{"cart_id":{cart},"limit":1000}}"#)),
    )
    .iter()
    .map(|r| r["id"].as_i64().unwrap())
    .collect()
}

fn count(f: &Fixture, sql: &str) -> i64 {
    value(f.store.path(), sql)
}

/// Cart "Gone" (its shop closed: the emulator stopped) with one bypassed record (B, which the
/// shop refused while it was up), one uncertain (U, whose answer a controller lost) and a
/// backlog of waiting ones (A, W) left by the outage; cart "Live" beside it, sent the same
/// changes. Returns (gone, live, live's emulator).
fn dead_cart_with_a_backlog(
    f: &Fixture,
) -> (inventory_sync::CartId, inventory_sync::CartId, Emulator) {
    let dead = Emulator::start().unwrap();
    let alive = Emulator::start().unwrap();
    let gone = cart(&f.store, &dead, "Gone", "attribute");
    let live = cart(&f.store, &alive, "Live", "attribute");
    for sku in ["A", "B", "U", "W"] {
        item(&f.store, sku, 10);
        dead.set_qoh(sku, 10);
        alive.set_qoh(sku, 10);
    }
    // B: refused by the shop, bypassed at once.
    dead.fail_sku("B", "rejected");
    adjust(&f.store, "B", -1, Reason::PosSale);
    drain(&f.store);
    assert_eq!(f.store.stack_count(gone, StackState::Bypassed).unwrap(), 1);
    // U: a controller sent it and lost the answer (a cart that cannot tell): uncertain.
    adjust(&f.store, "U", -1, Reason::PosSale);
    let stack = SqliteStack::open(f.store.path(), &Default::default()).unwrap();
    let lease = stack.lease(gone, 50, &anyone(), now_ms(), 60_000).unwrap();
    assert_eq!(lease.sends.len(), 1);
    let lost = Transition::Uncertain {
        attempts: 1,
        response: "connection reset after the request was sent".into(),
    };
    assert_eq!(
        stack
            .settle(&lease.token, &[(lease.sends[0].group_id, lost)], now_ms())
            .unwrap(),
        1
    );
    assert_eq!(f.store.stack_count(gone, StackState::Uncertain).unwrap(), 1);
    // The shop closes; sales go on at the counter.
    dead.shutdown();
    for _ in 0..3 {
        adjust(&f.store, "A", -1, Reason::PosSale);
    }
    f.store.run_stack(None).unwrap();
    adjust(&f.store, "W", -2, Reason::PosSale);
    adjust(&f.store, "U", -1, Reason::PosSale);
    assert!(f.store.stack_count(gone, StackState::Waiting).unwrap() >= 3);
    (gone, live, alive)
}

/// The owner retires the closed shop's cart in one call: every record of it (waiting,
/// bypassed, uncertain) goes, each logged as discarded with the cart, and the cart with it;
/// the other cart's records stay and are sent.
#[test]
fn a_dead_cart_with_a_backlog_is_retired_in_one_call() {
    let f = store();
    let (gone, live, alive) = dead_cart_with_a_backlog(&f);
    let doomed = ids(&f, gone);
    assert!(doomed.len() >= 6, "{doomed:?}");
    let waiting_for_live = records(&f.store, live);
    assert!(!waiting_for_live.is_empty());
    let logged_before = count(&f, "SELECT COUNT(*) FROM stack_log");

    // What was there before: delete_cart is refused, and names the way out.
    let e = f.store.delete_cart(gone).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Refused);
    assert!(e.message().contains("retire"), "{e}");

    let n = f.store.retire_cart(gone).unwrap();
    assert_eq!(n, doomed.len());
    assert_eq!(
        f.store.cart(gone).unwrap_err().kind(),
        ErrorKind::NotFound,
        "the cart is gone"
    );
    assert!(
        stack(&f.store, None)
            .iter()
            .all(|r| r["cart_id"].as_i64() == Some(live)),
        "no record of the retired cart is left"
    );
    assert_eq!(
        count(
            &f,
            &format!("SELECT COUNT(*) FROM stack WHERE cart_id = {gone}")
        ),
        0
    );
    assert_eq!(
        count(
            &f,
            &format!("SELECT COUNT(*) FROM send_groups WHERE cart_id = {gone}")
        ),
        0
    );
    assert_eq!(
        count(
            &f,
            &format!("SELECT COUNT(*) FROM web_fields WHERE cart_id = {gone}")
        ),
        0
    );
    // Each record is in the history, as discarded with the cart.
    for id in &doomed {
        let logged = count(
            &f,
            &format!(
                "SELECT COUNT(*) FROM stack_log WHERE record_id = {id} AND cart_id = {gone}
                   AND outcome = 'discarded' AND response LIKE '%{WITH_THE_CART}%'"
            ),
        );
        assert_eq!(logged, 1, "record {id}");
    }
    assert_eq!(
        count(&f, "SELECT COUNT(*) FROM stack_log"),
        logged_before + doomed.len() as i64
    );
    assert_eq!(
        f.store.stack_history_count("discarded").unwrap(),
        doomed.len() as i64
    );

    // The other cart's records are untouched, and still sent.
    assert_eq!(records(&f.store, live), waiting_for_live);
    let r = drain(&f.store);
    assert_eq!(r.remaining, 0, "{r}");
    assert!(records(&f.store, live).is_empty());
    for (sku, shows) in [("A", 7), ("B", 9), ("U", 8), ("W", 8)] {
        assert_eq!(alive.qoh(sku), Some(shows), "{sku} on the live cart");
        assert_eq!(f.store.item_qoh(sku).unwrap(), shows, "{sku} in the store");
    }
    // No number a discarded record had is given to a new one.
    adjust(&f.store, "A", -1, Reason::PosSale);
    let newest = ids(&f, live).into_iter().max().unwrap();
    assert!(newest > *doomed.iter().max().unwrap());
}

/// A controller is sending to the cart (its lease is live): the cart may take the request,
/// so retiring it is refused, changing nothing, and says to stop the controller or wait.
/// Once the lease ends it goes; a controller that stalled past its lease settles nothing.
#[test]
fn retiring_is_refused_while_a_controller_sends_to_the_cart() {
    let f = store();
    let (gone, live, _alive) = dead_cart_with_a_backlog(&f);
    let before = ids(&f, gone);
    let live_before = records(&f.store, live);
    let stack = SqliteStack::open(f.store.path(), &Default::default()).unwrap();
    let flight = stack.lease(gone, 50, &anyone(), now_ms(), 60_000).unwrap();
    assert!(!flight.sends.is_empty());

    let e = f.store.retire_cart(gone).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e}");
    assert!(e.message().contains("Gone"), "{e}");
    assert!(
        e.message().contains("stop the controller") && e.message().contains("try again"),
        "{e}"
    );
    assert_eq!(ids(&f, gone), before, "nothing discarded");
    assert!(f.store.cart(gone).is_ok(), "the cart stays");
    assert_eq!(records(&f.store, live), live_before);

    // The controller's pass ends (its request failed: the shop is gone); a controller on
    // another workstation then stalls mid-request, and its lease lapses.
    stack.release(&flight.token).unwrap();
    let stalled = stack
        .lease(gone, 50, &anyone(), now_ms() - 120_000, 100)
        .unwrap();
    assert!(!stalled.sends.is_empty());
    let n = f.store.retire_cart(gone).unwrap();
    assert_eq!(n, before.len());
    // Its late answer finds nothing to settle, and logs nothing as applied.
    let applied = f.store.stack_history_count("applied").unwrap();
    let late: Vec<_> = stalled
        .sends
        .iter()
        .map(|s| {
            (
                s.group_id,
                Transition::Leave {
                    outcome: "applied",
                    response: "late".into(),
                },
            )
        })
        .collect();
    assert_eq!(stack.settle(&stalled.token, &late, now_ms()).unwrap(), 0);
    assert_eq!(f.store.stack_history_count("applied").unwrap(), applied);
    assert!(ids(&f, live).len() == live_before.len());
}

/// A Send QOH (or Get QOH, or drift repair) holds the cart: retiring it under the run is
/// BUSY and changes nothing; the run finishes, and the cart is retired after.
#[test]
fn retiring_is_refused_while_a_manual_run_holds_the_cart() {
    let f = store();
    let s = &f.store;
    let (retired, report, e, c) = during_send_qoh(&f, |other, c| other.retire_cart(c));
    let refused = retired.expect("asked during the run").unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Busy, "{refused}");
    assert!(refused.message().contains("Send QOH"), "{refused}");
    assert!(refused.message().contains("try again"), "{refused}");
    assert_eq!(report.unwrap().sent, 4, "the run finished");
    assert_eq!(e.qoh("S3"), Some(5));
    assert_eq!(s.retire_cart(c).unwrap(), 0);
    assert_eq!(s.cart(c).unwrap_err().kind(), ErrorKind::NotFound);
}

/// An unknown cart is NOT_FOUND; a cart without records is retired as deleted (0 records).
#[test]
fn an_unknown_cart_is_not_found_and_an_idle_one_retires_with_nothing_discarded() {
    let f = store();
    let e = f.store.retire_cart(4242).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e}");
    let emu = Emulator::start().unwrap();
    let c = cart(&f.store, &emu, "Idle", "none");
    assert_eq!(f.store.retire_cart(c).unwrap(), 0);
    assert_eq!(
        f.store.retire_cart(c).unwrap_err().kind(),
        ErrorKind::NotFound
    );
    assert_eq!(f.store.stack_history_count("discarded").unwrap(), 0);
}

/// The records and the cart go in one transaction: rolled back, the cart is there with every
/// record, as a crash before the commit leaves it.
#[test]
fn a_retirement_rolled_back_leaves_the_cart_with_all_its_records() {
    let f = store();
    let (gone, _live, _alive) = dead_cart_with_a_backlog(&f);
    let before = ids(&f, gone);
    let logged = count(&f, "SELECT COUNT(*) FROM stack_log");
    f.store.begin().unwrap();
    assert_eq!(f.store.retire_cart(gone).unwrap(), before.len());
    f.store.rollback().unwrap();
    assert!(f.store.cart(gone).is_ok());
    assert_eq!(ids(&f, gone), before);
    assert_eq!(count(&f, "SELECT COUNT(*) FROM stack_log"), logged);
    assert_eq!(f.store.retire_cart(gone).unwrap(), before.len());
}

/// Through the C ABI: the count comes back; a NULL out pointer is refused before anything is
/// done; BUSY under a live lease; an unknown cart NOT_FOUND, cart 0 INVALID_ARGUMENT.
#[test]
fn a_host_retires_a_dead_cart_through_the_c_abi() {
    let f = store();
    let (gone, live, _alive) = dead_cart_with_a_backlog(&f);
    let before = ids(&f, gone);
    let live_before = records(&f.store, live);
    let path = c(f.store.path().to_str().unwrap());
    let stack = SqliteStack::open(f.store.path(), &Default::default()).unwrap();
    let mut s = ptr::null_mut();
    let gone32 = gone as i32;
    // SAFETY: a live handle, C strings and out pointers throughout; closed once at the end.
    unsafe {
        assert_eq!(invsync_store_open(path.as_ptr(), &mut s), INVSYNC_OK);
        let mut n = -1;
        assert_eq!(
            invsync_cart_retire(s, gone32, ptr::null_mut()),
            INVSYNC_NULL_POINTER
        );
        assert!(last_error().contains("out_discarded"), "{}", last_error());
        assert_eq!(ids(&f, gone), before, "nothing done");
        assert_eq!(
            invsync_cart_retire(ptr::null_mut(), gone32, &mut n),
            INVSYNC_NULL_POINTER
        );
        assert_eq!(invsync_cart_retire(s, 0, &mut n), INVSYNC_INVALID_ARGUMENT);
        assert_eq!(invsync_cart_retire(s, 4242, &mut n), INVSYNC_NOT_FOUND);
        assert_eq!(n, -1, "not written on failure");

        let flight = stack.lease(gone, 50, &anyone(), now_ms(), 60_000).unwrap();
        assert_eq!(invsync_cart_retire(s, gone32, &mut n), INVSYNC_BUSY);
        assert!(
            last_error().contains("stop the controller"),
            "{}",
            last_error()
        );
        assert_eq!(ids(&f, gone), before);
        stack.release(&flight.token).unwrap();

        assert_eq!(invsync_cart_delete(s, gone32), INVSYNC_REFUSED);
        assert!(
            last_error().contains("invsync_cart_retire"),
            "{}",
            last_error()
        );
        assert_eq!(
            invsync_cart_retire(s, gone32, &mut n),
            INVSYNC_OK,
            "{}",
            last_error()
        );
        assert_eq!(n as usize, before.len());
        assert_eq!(invsync_cart_retire(s, gone32, &mut n), INVSYNC_NOT_FOUND);
        invsync_store_close(s);
    }
    assert_eq!(records(&f.store, live), live_before);
}
