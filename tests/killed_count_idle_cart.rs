//! A killed Send QOH whose count included only bypassed records (2026-12-05).
//!
//! A controller pass skipped a cart with nothing waiting, so such a count was settled only
//! at the cart's next sale: until then its bypassed sale sat as "bypassed" (an operator
//! might retry it blindly, applied twice if the cart took the count), and no report told the
//! owner there was a cart to check. Now the first pass after the killed run's hold lapses
//! takes the cart over, holds the sale in doubt and counts it as uncertain; a retry of it
//! before that pass is refused.
#![cfg(feature = "emulator")]

mod common;

use common::killed_run::{self, a_bypassed_sale, kill_send_qoh_mid_count};
use common::*;
use inventory_sync::StackState;
use std::process::Command;

/// In a child process (this test binary run again): the killed run's Send QOH (see
/// [`common::killed_run`]). Does nothing in a plain test run.
#[test]
fn send_qoh_child() {
    killed_run::send_qoh_child();
}

/// The cart's only record is the bypassed sale of 3 B; the killed count included it. The
/// next pass holds it in doubt and reports it as uncertain, though nothing waits for the
/// cart; the pass after has nothing more to say. It reported "0 uncertain" and left the sale
/// bypassed.
#[test]
fn the_pass_after_a_killed_count_of_only_bypassed_sales_holds_them_in_doubt() {
    let (f, keyed, cart) = a_bypassed_sale();
    kill_send_qoh_mid_count(&f, &keyed, cart);
    let report = f.store.run_stack(None).unwrap();
    assert_eq!(
        (report.sent, report.uncertain, report.remaining),
        (0, 1, 0),
        "{report}"
    );
    let line = report.carts.iter().find(|c| c.cart_id == cart);
    assert_eq!(line.map(|l| l.uncertain), Some(1), "{report}");
    assert_eq!(f.store.stack_count(cart, StackState::Bypassed).unwrap(), 0);
    assert_eq!(f.store.stack_count(cart, StackState::Uncertain).unwrap(), 1);
    // Nothing went to the cart on top of a count it may have taken.
    assert_eq!(keyed.qoh("B"), Some(10));
    let again = f.store.run_stack(None).unwrap();
    assert_eq!(again.uncertain, 0, "counted twice: {again}");
    assert!(again.carts.is_empty(), "an idle cart listed: {again}");
}

/// While the killed run's hold still runs (its deadline not passed: it might be alive), a
/// pass leaves the cart alone and says nothing of it; the first pass after the hold lapses
/// takes it over.
#[test]
fn a_pass_within_the_killed_runs_hold_leaves_its_count_for_the_pass_after() {
    let (f, keyed, cart) = a_bypassed_sale();
    kill_send_qoh_mid_count(&f, &keyed, cart);
    let db = f.dir.path().join("store.db");
    killed_run::raw(&db)
        .execute("UPDATE carts SET manual_until = 9223372036854775807", [])
        .unwrap();
    let held = f.store.run_stack(None).unwrap();
    assert_eq!(held.uncertain, 0, "{held}");
    assert!(held.carts.is_empty(), "{held}");
    assert_eq!(f.store.stack_count(cart, StackState::Bypassed).unwrap(), 1);
    killed_run::holds_lapse(&db);
    let report = f.store.run_stack(None).unwrap();
    assert_eq!(report.uncertain, 1, "{report}");
}

/// `invsync retry` of the bypassed sale before any pass: refused, as the cart may have the
/// count that included it; the next pass then reports it uncertain, and nothing was sent on
/// top of the count. The retry was taken ("will be sent again at the next pass"), and the
/// pass then held it in doubt instead of sending it.
#[test]
fn invsync_retry_of_a_bypassed_sale_in_a_killed_count_is_refused_before_the_pass() {
    let (f, keyed, cart) = a_bypassed_sale();
    kill_send_qoh_mid_count(&f, &keyed, cart);
    let id = stack(&f.store, None)[0]["id"].as_i64().unwrap();
    let db = f.dir.path().join("store.db");
    let out = output_for(
        Command::new(env!("CARGO_BIN_EXE_invsync")).args([
            "retry",
            db.to_str().unwrap(),
            &id.to_string(),
        ]),
        "`invsync retry`",
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("Send QOH"), "{stderr}");
    assert!(!stderr.contains("a pending record is sent"), "{stderr}");
    assert_eq!(f.store.stack_count(cart, StackState::Bypassed).unwrap(), 1);
    // The library refuses it too, so a host's retry button cannot do it either.
    assert!(f.store.stack_retry(id).is_err());
    let report = f.store.run_stack(None).unwrap();
    assert_eq!(report.uncertain, 1, "{report}");
    assert_eq!(keyed.qoh("B"), Some(10));
}
