//! A controller pass that holds a killed Send QOH's changes in doubt says so (2026-12-05).
//!
//! A Send QOH notes the counts it sends before the request; if its process dies before it
//! records the cart's answer, the next pass that leases the cart holds every change those
//! counts included back as uncertain (`multi_workstation_review.rs`). Until this date that
//! pass counted none of them: its report (the `invsync run` and `invsync controller` output,
//! the C ABI's `invsync_stack_run` JSON) said "0 uncertain", the "next step" hint stayed
//! quiet, and the owner learnt of a cart to check only by listing the stack.
#![cfg(feature = "emulator")]

mod common;

use common::killed_run::{
    self, a_bypassed_sale, kill_send_qoh_mid_count, three_sales_in_a_killed_count,
};
use common::*;
use inventory_sync::{Reason, StackState};
use std::process::Command;

/// In a child process (this test binary run again): the killed run's Send QOH (see
/// [`common::killed_run`]). Does nothing in a plain test run.
#[test]
fn send_qoh_child() {
    killed_run::send_qoh_child();
}

/// The next pass holds the three sales in doubt and counts them as uncertain, in its totals,
/// in the cart's line and in the JSON the C ABI's `invsync_stack_run` hands the host; the pass
/// after counts them no more (they were marked once). It said "0 uncertain": the host's
/// screen, built from that report, showed nothing to check while the cart went on offering
/// the 6 units sold (or, had the count landed, a retry would sell them twice).
#[test]
fn the_pass_that_holds_a_killed_send_qohs_changes_in_doubt_counts_them_uncertain() {
    let (f, keyed, cart) = three_sales_in_a_killed_count();
    let report = f.store.run_stack(None).unwrap();
    assert_eq!(
        (report.sent, report.uncertain, report.remaining),
        (0, 3, 0),
        "{report}"
    );
    let line = report.carts.iter().find(|c| c.cart_id == cart).unwrap();
    assert_eq!((line.sent, line.uncertain), (0, 3), "{report}");
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["uncertain"], 3, "{json}");
    assert_eq!(json["carts"][0]["uncertain"], 3, "{json}");
    // The count is what the stack listing shows in doubt.
    assert_eq!(f.store.stack_count(cart, StackState::Uncertain).unwrap(), 3);
    // Nothing went to the cart on top of a count it may have taken.
    assert_eq!((keyed.qoh("B"), keyed.qoh("C")), (Some(10), Some(10)));
    let again = f.store.run_stack(None).unwrap();
    assert_eq!(again.uncertain, 0, "counted twice: {again}");
}

/// `invsync run` after the killed Send QOH: its report line counts the three sales as
/// uncertain, and it names the owner's next step (`invsync stack … --state uncertain`), as
/// after a lost answer. It printed "0 uncertain" and no hint.
#[test]
fn invsync_run_names_the_next_step_for_changes_a_killed_send_qoh_left_in_doubt() {
    let (f, _keyed, _cart) = three_sales_in_a_killed_count();
    let db = f.dir.path().join("store.db");
    let out = output_for(
        Command::new(env!("CARGO_BIN_EXE_invsync")).args(["run", db.to_str().unwrap()]),
        "`invsync run`",
    );
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("0 bypassed, 3 uncertain, 0 still waiting"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Keyed: 0 sent in 0 requests, 0 to retry, 0 bypassed, 3 uncertain"),
        "{stdout}"
    );
    assert!(
        stderr.contains(&format!(
            "`invsync stack {} --state uncertain`",
            db.display()
        )),
        "{stderr}"
    );
}

/// A sale the cart refused (bypassed), then included in a Send QOH's count whose run was
/// killed before the cart took it: the pass that leases the cart next (for a later sale of
/// C) turns it uncertain and counts it so, beside the sale it sends. It counted nothing: the
/// report said "1 sent" and the record the owner had set aside as refused now waited for a
/// check no report asked for.
#[test]
fn a_bypassed_sale_a_killed_send_qoh_included_is_counted_uncertain_when_held_in_doubt() {
    let (f, keyed, cart) = a_bypassed_sale();
    kill_send_qoh_mid_count(&f, &keyed, cart);
    adjust(&f.store, "C", -1, Reason::PosSale);
    let report = f.store.run_stack(None).unwrap();
    assert_eq!(
        (report.sent, report.bypassed, report.uncertain),
        (1, 0, 1),
        "{report}"
    );
    assert_eq!(report.carts[0].uncertain, 1, "{report}");
    assert_eq!(keyed.qoh("C"), Some(9));
    assert_eq!(keyed.qoh("B"), Some(10), "the refused sale went blindly");
}

/// The owner runs Send QOH again after the killed one, and the cart refuses B's count: the
/// run's report names, beside B's failure, the two sales of B its takeover held in doubt
/// (they are not sent as deltas, as a failed item's other changes are, and wait for the
/// owner); C's count, taken, settles C's sale. The failure said only why the cart refused
/// the count, and the owner, expecting B's sales to follow as deltas, had no word to check.
#[test]
fn a_send_qoh_names_beside_a_failed_item_the_changes_it_held_in_doubt() {
    let (f, keyed, cart) = three_sales_in_a_killed_count();
    keyed.fail_sku("B", "rejected");
    let report = f
        .store
        .send_qoh(cart, inventory_sync::SendOptions { force: true }, None)
        .unwrap();
    assert_eq!((report.sent, report.failed), (1, 1), "{report:?}");
    let b = &report.failures[0];
    assert_eq!(b.sku, "B");
    assert!(
        b.message.contains("rejected")
            && b.message
                .contains("2 changes of it held in doubt (uncertain)"),
        "{}",
        b.message
    );
    assert_eq!(f.store.stack_count(cart, StackState::Uncertain).unwrap(), 2);
    assert_eq!((keyed.qoh("B"), keyed.qoh("C")), (Some(10), Some(9)));
}
