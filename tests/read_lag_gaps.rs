//! Gaps left in the read-lag protection (tests/read_lag.rs): a cart found to lag only after
//! counts were sent to it, a change the cart may have taken that an operator discarded, and
//! the preflight's drift warnings. Against the emulator's BigCommerce mode, whose reads are
//! made to trail by a minute (no sleeping).
#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::emulator::{Fault, Mode};
use inventory_sync::{CartId, GetReport, StackState};
use platform::*;
use serde_json::json;
use std::time::Duration;

const LAG: Duration = Duration::from_secs(60);

/// A BigCommerce cart that declares no read lag (`read_lag_ms: 0`), as an owner set it up
/// before he learnt the cart's reads trail its writes.
fn cart_declaring_no_lag(f: &Fixture) -> CartId {
    cart_with_lag(f, Some(0))
}

/// The store and the cart both at `qoh` of `sku`, the cart saved declaring no read lag.
fn in_step_declaring_no_lag(sku: &str, qoh: i64) -> (Fixture, CartId) {
    let f = fixture(Mode::BigCommerce);
    f.emu.set_qoh(sku, qoh);
    f.item(sku, qoh);
    let cart = cart_declaring_no_lag(&f);
    (f, cart)
}

/// Saves the fixture's BigCommerce cart with `read_lag_ms` (`None`: the adapter's default).
fn cart_with_lag(f: &Fixture, ms: Option<i64>) -> CartId {
    let mut cart = cart_json(&f.emu, 50, SECRET);
    if let Some(ms) = ms {
        cart["read_lag_ms"] = json!(ms);
    }
    f.store.upsert_cart_json(&cart.to_string()).unwrap()
}

/// Get QOH's `report` lists `sku` as not applied, for the cart's read lag.
#[track_caller]
fn assert_not_applied_for_read_lag(report: &GetReport, sku: &str) {
    let why = why_not_applied(report, sku).unwrap_or_else(|| panic!("{report:?}"));
    assert!(why.contains("read lag"), "{why}");
}

/// A BigCommerce cart sending in real time, it and the store at 10 of MUG.
fn ten_mugs_in_real_time() -> (Fixture, CartId) {
    let f = fixture(Mode::BigCommerce);
    f.emu.set_qoh("MUG", 10);
    f.item("MUG", 10);
    let cart = f.cart(50);
    f.store.set_cart_sync(cart, true).unwrap();
    (f, cart)
}

/// The owner sends his counts (the cart had 5, the store 7) to a cart saved as lagging not
/// at all; seeing its reads trail, he sets `read_lag_ms` (here: takes out the 0, for the
/// adapter's default) and runs Get QOH. The count was noted for carts with a lag only, so
/// the cart's stale 5 read as a sale of 2 there and took the units off (QOH 5).
#[test]
fn a_count_sent_before_the_lag_was_set_takes_nothing_off() {
    let f = fixture(Mode::BigCommerce);
    f.emu.set_qoh("MUG", 5);
    f.item("MUG", 7);
    let cart = cart_declaring_no_lag(&f);
    f.emu.set_bigcommerce_read_lag(LAG);
    assert_eq!(f.send(cart).sent, 1);
    assert_eq!(f.emu.qoh("MUG"), Some(7));
    assert_eq!(cart_with_lag(&f, None), cart, "the same cart, now lagging");
    let report = f.get_qoh(cart, false);
    assert_eq!(
        f.store.item("MUG").unwrap().qoh,
        7,
        "nothing taken off: {report:?}"
    );
    assert_not_applied_for_read_lag(&report, "MUG");
}

/// The same for a deleted item Send QOH set to 0 before the lag was set: Get QOH with
/// "create records for new products" made it again from the cart's stale 4.
#[test]
fn a_zero_sent_before_the_lag_was_set_makes_no_item_again() {
    let (f, cart) = in_step_declaring_no_lag("OLD", 4);
    assert_eq!(f.send(cart).sent, 1);
    f.store.delete_item("OLD").unwrap();
    f.emu.set_bigcommerce_read_lag(LAG);
    assert_eq!(f.send(cart).zeroed, 1);
    assert_eq!(f.emu.qoh("OLD"), Some(0));
    cart_with_lag(&f, Some(60_000));
    let report = f.get_qoh(cart, true);
    assert_eq!(report.created, 0, "{report:?}");
    assert!(f.store.item("OLD").is_err(), "not made again: {report:?}");
    assert!(why_not_applied(&report, "OLD").is_some(), "{report:?}");
}

/// A drift repair's count, set before the lag was set, is likewise no drift right after:
/// the report compared the cart's stale count and, repairing, set it again.
#[test]
fn a_repair_made_before_the_lag_was_set_is_not_compared() {
    let (f, cart) = in_step_declaring_no_lag("MUG", 5);
    assert_eq!(f.send(cart).sent, 1);
    f.emu.set_bigcommerce_read_lag(Duration::ZERO); // caught up with the send
    f.emu.set_qoh("MUG", 3); // drift: the cart lost two
    let repair = f.store.drift(cart, true).unwrap();
    assert_eq!(repair.repaired, 1, "{repair:?}");
    assert_eq!(f.emu.qoh("MUG"), Some(5));
    f.emu.set_bigcommerce_read_lag(LAG); // reads 3 again
    cart_with_lag(&f, None);
    let report = f.store.drift(cart, false).unwrap();
    let item = report.items.iter().find(|d| d.sku == "MUG");
    let outcome = item.and_then(|d| d.outcome.as_deref()).unwrap_or_default();
    assert!(outcome.contains("not compared"), "{report:?}");
}

/// A sale sent to the cart, which applied it and lost the answer (uncertain: BigCommerce's
/// adjustments cannot be sent twice). The operator checks the cart, sees the sale taken, and
/// discards the record; a Get QOH right after read the cart's stale 9 against the 8 it is
/// taken to show, gave the sold unit back (QOH 9), and the shop could sell it twice.
#[test]
fn a_discarded_uncertain_sale_gives_no_unit_back() {
    let (f, cart) = ten_mugs_in_real_time();
    // A sale long ago, which lets the adapter learn the SKU.
    adjust(&f.store, "MUG", -1);
    f.drain();
    age_history(&f, 3_600_000);
    f.emu.set_bigcommerce_read_lag(Duration::ZERO); // the cart caught up with it
    f.emu.inject(Fault::ApplyThenDrop { count: 1 });
    adjust(&f.store, "MUG", -1);
    f.drain();
    assert_eq!(f.emu.qoh("MUG"), Some(8), "the cart took the sale");
    assert_eq!(
        f.count(cart, StackState::Uncertain),
        1,
        "{:?}",
        f.records(cart)
    );
    f.emu.set_bigcommerce_read_lag(LAG);
    let record = f.records(cart)[0]["id"].as_i64().unwrap();
    f.store.stack_discard(record).unwrap();
    assert_eq!(f.count(cart, StackState::Uncertain), 0);
    let report = f.get_qoh(cart, false);
    assert_eq!(
        f.store.item("MUG").unwrap().qoh,
        8,
        "the sold unit stays sold: {report:?}"
    );
    assert_not_applied_for_read_lag(&report, "MUG");
}

/// Dates the store's history of changes sent back by `ms`: that long has passed.
fn age_history(f: &Fixture, ms: i64) {
    let conn = rusqlite::Connection::open(f.store.path()).unwrap();
    conn.execute("UPDATE stack_log SET at = at - ?1", [ms])
        .unwrap();
}

/// The preflight read the cart's stale 10 right after a sale reached it (9) and warned of
/// drift ("the cart shows 10; it should show 9"), which an owner would repair or chase; it
/// says, as the drift report does, that the count was not compared, and when to look again.
#[test]
fn the_preflight_does_not_call_a_stale_read_drift() {
    let (f, cart) = ten_mugs_in_real_time();
    adjust(&f.store, "MUG", -1);
    f.drain();
    assert_eq!(f.emu.qoh("MUG"), Some(9));
    f.emu.set_bigcommerce_read_lag(LAG);
    let warnings = f.store.preflight(cart).unwrap();
    let mug: Vec<_> = warnings
        .iter()
        .filter(|w| w.sku.as_deref() == Some("MUG"))
        .collect();
    assert_eq!(mug.len(), 1, "{warnings:?}");
    assert!(
        mug[0].message.contains("not compared")
            && mug[0].message.contains("read lag")
            && mug[0].message.contains("run again in"),
        "{warnings:?}"
    );
    assert!(!mug[0].message.contains("should show"), "{warnings:?}");
}
