//! Every call that holds changes in doubt (uncertain) tells the owner so in its result
//! (2026-12-05).
//!
//! A change is held in doubt when the cart may or may not have applied it: a Send QOH killed
//! with its count on the way left it so (`multi_workstation_review.rs`), and the first call
//! that takes the cart over holds the changes that count included back as uncertain, for the
//! owner to check the cart and then retry or discard each. A controller pass counted them in
//! its report's `uncertain` (`pass_report_doubt.rs`); the other calls did so in silence,
//! and the owner learnt of a cart to check only by listing the stack:
//! - Get QOH and the drift repair took the cart over and held them, their reports counting
//!   none (now `uncertain` in each report, and in the JSON the C ABI hands the host);
//! - a Send QOH that failed after its takeover held them said only why it failed (now the
//!   error names how many, and what to do);
//! - an operator's discard of one record, saving a cart, ticking a cart's box and setting
//!   `SynchQOH` held them too, and return no report: they no longer hold them, and the next
//!   call that takes the cart over does, and counts them.
#![cfg(feature = "emulator")]

mod common;

use common::killed_run::{
    self, a_bypassed_sale, kill_send_qoh_mid_count, three_sales_in_a_killed_count,
};
use common::*;
use inventory_sync::emulator::{Emulator, Fault};
use inventory_sync::{CartId, GetOptions, Reason, SendOptions, StackState};
use serde_json::Value;

/// In a child process (this test binary run again): the killed run's Send QOH (see
/// [`common::killed_run`]). Does nothing in a plain test run.
#[test]
fn send_qoh_child() {
    killed_run::send_qoh_child();
}

fn forced() -> SendOptions {
    SendOptions { force: true }
}

fn get_forced() -> GetOptions {
    GetOptions {
        force: true,
        create_new: false,
    }
}

/// The report the C ABI hands the host for the last Send or Get QOH (`invsync_last_report`).
fn last_report(f: &Fixture) -> Value {
    serde_json::from_str(&f.store.last_report().expect("a report was kept")).unwrap()
}

fn uncertain(f: &Fixture, cart: CartId) -> i64 {
    f.store.stack_count(cart, StackState::Uncertain).unwrap()
}

/// Get QOH after the killed Send QOH: its takeover holds the three sales in doubt, and its
/// report counts them (`uncertain`: 3, in the Rust report and the JSON the C ABI hands the
/// host), beside B and C in `not_applied`; nothing reaches the cart. Its report had no count
/// of them: the host's screen showed two counts not applied, "let the stack deliver them",
/// and nothing said the stack would not, the changes waiting on the owner.
#[test]
fn get_qoh_counts_the_changes_its_takeover_held_in_doubt() {
    let (f, keyed, cart) = three_sales_in_a_killed_count();
    let report = f.store.get_qoh(cart, get_forced(), None).unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["uncertain"], 3, "{json}");
    assert_eq!(last_report(&f)["uncertain"], 3);
    let mut not_applied: Vec<&str> = report.not_applied.iter().map(|n| n.sku.as_str()).collect();
    not_applied.sort_unstable();
    assert_eq!(not_applied, ["B", "C"], "{json}");
    // Its reason sends the owner to the cart, not to wait for the stack, which never sends
    // an uncertain change by itself.
    for n in &report.not_applied {
        assert!(
            !n.why.contains("let the stack deliver") && n.why.contains("check the cart's count"),
            "{}",
            n.why
        );
    }
    assert_eq!(uncertain(&f, cart), 3);
    assert_eq!((keyed.qoh("B"), keyed.qoh("C")), (Some(10), Some(10)));
    // Counted by the call that held them, once: the next one holds nothing.
    let again = f.store.get_qoh(cart, get_forced(), None).unwrap();
    assert_eq!(serde_json::to_value(&again).unwrap()["uncertain"], 0);
}

/// The drift report with repair after the killed Send QOH: its takeover holds the three
/// sales in doubt, leaves B and C unrepaired, and counts the sales (`uncertain`: 3). A report
/// without repair takes nothing over, and counts none. The repair's report had no count of
/// them.
#[test]
fn a_drift_repair_counts_the_changes_its_takeover_held_in_doubt() {
    let (f, keyed, cart) = three_sales_in_a_killed_count();
    let looked = f.store.drift(cart, false).unwrap();
    assert_eq!(serde_json::to_value(&looked).unwrap()["uncertain"], 0);
    assert_eq!(uncertain(&f, cart), 0, "a report alone held them");
    let repaired = f.store.drift(cart, true).unwrap();
    let json = serde_json::to_value(&repaired).unwrap();
    assert_eq!(json["uncertain"], 3, "{json}");
    assert_eq!(repaired.repaired, 0, "{json}");
    assert_eq!(uncertain(&f, cart), 3);
    assert_eq!((keyed.qoh("B"), keyed.qoh("C")), (Some(10), Some(10)));
}

/// Send QOH again after the killed one, the cart refusing B's count: the report counts B's
/// two sales its takeover held in doubt and left so (`uncertain`: 2); C's count, taken,
/// settles C's sale, which is not counted. Run once more with B accepted, its count settles
/// B's sales, and nothing is counted. The report named them only in B's failure text.
#[test]
fn send_qoh_counts_the_changes_it_held_in_doubt_and_did_not_settle() {
    let (f, keyed, cart) = three_sales_in_a_killed_count();
    keyed.fail_sku("B", "rejected");
    let report = f.store.send_qoh(cart, forced(), None).unwrap();
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!((report.sent, report.failed), (1, 1), "{json}");
    assert_eq!(json["uncertain"], 2, "{json}");
    assert_eq!(last_report(&f)["uncertain"], 2);
    assert_eq!(uncertain(&f, cart), 2);
    keyed.unfail_sku("B");
    let report = f.store.send_qoh(cart, forced(), None).unwrap();
    assert_eq!(serde_json::to_value(&report).unwrap()["uncertain"], 0);
    assert_eq!(uncertain(&f, cart), 0, "B's count settles its sales");
    assert_eq!(keyed.qoh("B"), Some(5));
}

/// A Send QOH all of whose counts the cart takes settles what its takeover held in doubt:
/// it counts nothing uncertain, and nothing is left for the owner.
#[test]
fn a_send_qoh_whose_counts_the_cart_takes_counts_nothing_uncertain() {
    let (f, keyed, cart) = three_sales_in_a_killed_count();
    let report = f.store.send_qoh(cart, forced(), None).unwrap();
    assert_eq!(serde_json::to_value(&report).unwrap()["uncertain"], 0);
    assert_eq!(uncertain(&f, cart), 0);
    assert_eq!((keyed.qoh("B"), keyed.qoh("C")), (Some(5), Some(9)));
}

/// A Send QOH whose takeover held the three sales in doubt, and which the cart then refuses
/// (its credentials): the error names the three changes and what to do with them. It said
/// only that the credentials were refused, and the owner, fixing them and never listing the
/// stack, had three sales waiting on a check no one asked for.
#[test]
fn a_send_qoh_that_fails_after_holding_changes_in_doubt_says_how_many_and_what_to_do() {
    let (f, keyed, cart) = three_sales_in_a_killed_count();
    keyed.inject(Fault::Status {
        status: 401,
        count: 20,
        retry_after: None,
    });
    let e = f.store.send_qoh(cart, forced(), None).unwrap_err();
    let message = e.message();
    assert!(
        message.contains("held 3 changes in doubt (uncertain)")
            && message.contains("check the cart, then retry or discard them"),
        "{message}"
    );
    assert_eq!(uncertain(&f, cart), 3);
    assert_eq!((keyed.qoh("B"), keyed.qoh("C")), (Some(10), Some(10)));
}

/// As above for Get QOH, whose first page the cart refuses: the error names the three
/// changes its takeover held in doubt.
#[test]
fn a_get_qoh_that_fails_after_holding_changes_in_doubt_says_how_many() {
    let (f, keyed, cart) = three_sales_in_a_killed_count();
    keyed.inject(Fault::Status {
        status: 401,
        count: 20,
        retry_after: None,
    });
    let e = f.store.get_qoh(cart, get_forced(), None).unwrap_err();
    assert!(
        e.message().contains("held 3 changes in doubt (uncertain)"),
        "{}",
        e.message()
    );
    assert_eq!(uncertain(&f, cart), 3);
}

/// A sale of B the cart refused (bypassed) and a sale of C waiting, both in a Send QOH's
/// count whose run was killed; the owner discards B's record. The discard removes it and
/// nothing else: C's sale waits, and the next pass holds it in doubt and counts it
/// (`uncertain`: 1), never sending it on top of a count the cart may have taken. The discard
/// held C's sale in doubt itself, and returns no report: the pass after counted nothing, and
/// no result told the owner of a change to check.
#[test]
fn a_discard_holds_no_other_change_in_doubt_and_the_next_pass_counts_it() {
    let (f, keyed, cart) = a_bypassed_sale();
    adjust(&f.store, "C", -1, Reason::PosSale);
    kill_send_qoh_mid_count(&f, &keyed, cart);
    let b = stack(&f.store, Some(r#"{"state":"bypassed"}"#));
    assert_eq!(b.len(), 1, "{b:?}");
    f.store.stack_discard(b[0]["id"].as_i64().unwrap()).unwrap();
    assert_eq!(uncertain(&f, cart), 0, "the discard held C's sale in doubt");
    assert_eq!(records(&f.store, cart), [("C".to_owned(), -1)]);
    let report = f.store.run_stack(None).unwrap();
    assert_eq!((report.sent, report.uncertain), (0, 1), "{report}");
    assert_eq!(uncertain(&f, cart), 1);
    assert_eq!(
        keyed.qoh("C"),
        Some(10),
        "the sale went on top of the count"
    );
}

/// After the killed Send QOH the owner adds a second cart and ticks its box, and sets
/// `SynchQOH`: none of these calls, which return no report, holds the Keyed cart's sales in
/// doubt; the next pass does, and counts them. Each held them (every cart real-time changes
/// go to was taken over), and the pass after counted nothing.
#[test]
fn saving_a_cart_or_starting_real_time_sync_holds_no_change_in_doubt_unannounced() {
    let (f, keyed, cart) = three_sales_in_a_killed_count();
    let other = Emulator::start().unwrap();
    let second = cart_with(&f.store, &other, "Other", "attribute", 5);
    f.store.set_cart_sync(second, false).unwrap();
    f.store.set_cart_sync(second, true).unwrap();
    f.store.set_param("SynchQOH", "true").unwrap();
    assert_eq!(
        uncertain(&f, cart),
        0,
        "held in doubt with no report to say so"
    );
    let report = f.store.run_stack(None).unwrap();
    assert_eq!(report.uncertain, 3, "{report}");
    let line = report.carts.iter().find(|c| c.cart_id == cart).unwrap();
    assert_eq!(line.uncertain, 3, "{report}");
    assert_eq!((keyed.qoh("B"), keyed.qoh("C")), (Some(10), Some(10)));
}

/// Cart "Keyed" (`http_json`, with keys) showing B at 10, whose sale of 3 it applied and
/// whose answer was lost: the sale waits to go again under its key, and may be on the cart.
fn a_sale_whose_answer_was_lost() -> (Fixture, Emulator, CartId) {
    let f = store();
    let keyed = Emulator::start().unwrap();
    let cart = cart(&f.store, &keyed, "Keyed", "attribute");
    item(&f.store, "B", 10);
    keyed.set_qoh("B", 10);
    adjust(&f.store, "B", -3, Reason::PosSale);
    keyed.inject(Fault::ApplyThenDrop { count: 1 });
    let report = f.store.run_stack(None).unwrap();
    assert_eq!((report.sent, report.uncertain), (0, 0), "{report}");
    assert_eq!(
        keyed.qoh("B"),
        Some(7),
        "the cart applied it; the answer was lost"
    );
    (f, keyed, cart)
}

/// The same cart, moved to WooCommerce (a save; no request is made).
fn moved_to_woocommerce() -> String {
    serde_json::json!({"name": "Keyed", "adapter": "woocommerce",
        "url": "https://shop.example/", "consumer_key": "ck_x", "consumer_secret": "cs_x",
        "capabilities": {"send": true, "get": true, "realtime": "attribute"}})
    .to_string()
}

/// The owner moves the cart to another platform's adapter, which cannot send the sale again
/// under the old one's key: the save holds it back as uncertain, and its result says so
/// (`uncertain`: 1); a save that keeps the adapter holds nothing. The save returned only the
/// cart's id, and the owner, told nothing, found the sale waiting on a check only by listing
/// the stack.
#[test]
fn a_save_switching_the_adapter_counts_the_changes_it_held_back() {
    let (f, _keyed, cart) = a_sale_whose_answer_was_lost();
    let saved = f.store.save_cart_json(&moved_to_woocommerce()).unwrap();
    assert_eq!((saved.id, saved.uncertain), (cart, 1));
    assert_eq!(uncertain(&f, cart), 1);
    let again = f.store.save_cart_json(&moved_to_woocommerce()).unwrap();
    assert_eq!((again.id, again.uncertain), (cart, 0));
}

/// As above through the C ABI (`invsync_cart_save`, added within ABI 1): `out_uncertain`
/// receives the 1 sale held back.
#[test]
fn invsync_cart_save_hands_the_host_the_changes_held_back() {
    use inventory_sync::ffi::*;
    let (f, _keyed, cart) = a_sale_whose_answer_was_lost();
    let path = std::ffi::CString::new(f.dir.path().join("store.db").to_str().unwrap()).unwrap();
    let json = std::ffi::CString::new(moved_to_woocommerce()).unwrap();
    let (mut s, mut id, mut held) = (std::ptr::null_mut(), 0i32, -1i32);
    // SAFETY: valid C strings and live out pointers; the handle is closed once, at the end.
    unsafe {
        assert_eq!(invsync_store_open(path.as_ptr(), &mut s), INVSYNC_OK);
        let status = invsync_cart_save(s, json.as_ptr(), &mut id, &mut held);
        invsync_store_close(s);
        assert_eq!(status, INVSYNC_OK);
    }
    assert_eq!((i64::from(id), held), (cart, 1));
    assert_eq!(uncertain(&f, cart), 1);
}

/// After the killed Send QOH, the owner moves the cart to another adapter: the save holds
/// none of the three sales in doubt (it has not the count's answer either), and the first
/// pass through the new adapter does, and counts them, sending none. The save held them in
/// doubt in silence, and the pass counted nothing.
#[test]
fn a_save_switching_the_adapter_leaves_a_killed_send_qohs_changes_to_the_pass_that_counts_them() {
    let (f, keyed, cart) = three_sales_in_a_killed_count();
    let other = DeltaShop::new(inventory_sync::adapter::UpdateMode::RelativeKeyed);
    let adapter: std::sync::Arc<dyn inventory_sync::adapter::CartAdapter> = other.clone();
    f.store
        .register_adapter("other", move |_| Ok(adapter.clone()));
    let spec = serde_json::json!({"name": "Keyed", "adapter": "other",
        "capabilities": {"send": true, "get": true, "realtime": "attribute"}});
    assert_eq!(f.store.upsert_cart_json(&spec.to_string()).unwrap(), cart);
    assert_eq!(uncertain(&f, cart), 0, "held in doubt by the save");
    let report = f.store.run_stack(None).unwrap();
    assert_eq!((report.sent, report.uncertain), (0, 3), "{report}");
    assert!(other.sent().is_empty(), "{:?}", other.sent());
    assert_eq!((keyed.qoh("B"), keyed.qoh("C")), (Some(10), Some(10)));
}
