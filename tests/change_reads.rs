//! `adjust_qoh` takes the carts real-time changes go to, and the stack's highest id, from the
//! change before it on the handle while nothing else wrote since, instead of reading them
//! again (an eighth of a bulk import's CPU, issue 6). These check that a change to what they
//! come from (a cart's Synchronize Inventory, a new cart, the SynchQOH parameter, a record
//! another call or handle queued), made in the same host transaction, on the same handle
//! between calls, or by another handle, is seen by the very next adjustment: a cart switched
//! off gets nothing more, a cart switched on everything after, every record an id of its own.

mod common;

use common::*;
use inventory_sync::emulator::Emulator;
use inventory_sync::{Adjustment, Delta, Reason, Store};

/// Every record on the stack has an id of its own, in the order queued.
fn ids_in_order(store: &Store) {
    let ids: Vec<i64> = stack(store, None)
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
}

#[test]
fn a_cart_switched_off_inside_the_transaction_gets_nothing_after() {
    let (f, _e, [a, b, c]) = three_carts_selling_x();
    let s = &f.store;
    s.begin().unwrap();
    sell_x(s, 1);
    s.set_cart_sync(b, false).unwrap();
    sell_x(s, 2);
    sell_x(s, 3);
    s.commit().unwrap();
    assert_eq!(
        queued_deltas(s, &[a, b, c]),
        vec![vec![-1, -2, -3], vec![-1], vec![-1, -2, -3]],
        "B was switched off after the first sale: the owner keeps its count by hand from \
         then on, and the later two sales must not be taken off it again"
    );
}

#[test]
fn a_cart_made_inside_the_transaction_gets_the_changes_after_it() {
    let (f, _shops, [a, ..]) = three_carts_selling_x();
    let s = &f.store;
    let shop = Emulator::start().unwrap();
    s.begin().unwrap();
    sell_x(s, 1);
    let d = cart(s, &shop, "D", "attribute");
    sell_x(s, 2);
    s.commit().unwrap();
    assert_eq!(queued_deltas(s, &[a, d]), vec![vec![-1, -2], vec![-2]]);
}

#[test]
fn synchqoh_switched_inside_the_transaction_is_obeyed_at_once() {
    let (f, _e, [a, b, _]) = three_carts_selling_x();
    let s = &f.store;
    s.begin().unwrap();
    sell_x(s, 1);
    s.set_param("SynchQOH", "false").unwrap();
    sell_x(s, 2);
    s.set_param("SynchQOH", "true").unwrap();
    sell_x(s, 3);
    s.commit().unwrap();
    assert_eq!(queued_deltas(s, &[a, b]), vec![vec![-1, -3], vec![-1, -3]]);
}

/// A change kept off the web reads no carts; a cart switched off before it must still be seen
/// by the next change that goes to the web.
#[test]
fn a_change_kept_off_the_web_in_between_does_not_hide_a_cart_switched_off() {
    let (f, _e, [a, b, _]) = three_carts_selling_x();
    let s = &f.store;
    s.begin().unwrap();
    sell_x(s, 1);
    s.set_cart_sync(b, false).unwrap();
    s.adjust_qoh(
        &Adjustment::new("X", Delta::new(5).unwrap(), Reason::Adjustment).send_to_web(false),
    )
    .unwrap();
    sell_x(s, 2);
    s.commit().unwrap();
    assert_eq!(queued_deltas(s, &[a, b]), vec![vec![-1, -2], vec![-1]]);
}

/// Between two host transactions another handle (another workstation) switches a cart off
/// and on: the next transaction sees the carts as they are then.
#[test]
fn another_handle_between_transactions_is_seen_by_the_next_one() {
    let (f, _e, [a, b, c]) = three_carts_selling_x();
    let s = &f.store;
    let other = f.reopen();
    s.begin().unwrap();
    sell_x(s, 1);
    s.commit().unwrap();
    other.set_cart_sync(b, false).unwrap();
    s.begin().unwrap();
    sell_x(s, 2);
    s.commit().unwrap();
    other.set_cart_sync(b, true).unwrap();
    other.set_cart_sync(c, false).unwrap();
    s.begin().unwrap();
    sell_x(s, 3);
    s.commit().unwrap();
    assert_eq!(
        queued_deltas(s, &[a, b, c]),
        vec![vec![-1, -2, -3], vec![-1, -3], vec![-1, -2]]
    );
}

/// A rolled-back transaction's cart change is gone for the next one, which reads the carts
/// as they are.
#[test]
fn a_rolled_back_cart_change_does_not_outlive_its_transaction() {
    let (f, _e, [a, b, _]) = three_carts_selling_x();
    let s = &f.store;
    s.begin().unwrap();
    s.set_cart_sync(b, false).unwrap();
    sell_x(s, 1);
    s.rollback().unwrap();
    s.begin().unwrap();
    sell_x(s, 2);
    s.commit().unwrap();
    assert_eq!(queued_deltas(s, &[a, b]), vec![vec![-2], vec![-2]]);
}

/// A record another call queues inside the transaction (a buffer set on a cart queues the
/// difference it makes) takes the next id: the change after it must not take that id again,
/// which would fail it and roll the host's whole transaction back.
#[test]
fn a_record_queued_by_another_call_in_between_keeps_its_id() {
    let (f, _e, [a, b, _]) = three_carts_selling_x();
    let s = &f.store;
    s.begin().unwrap();
    sell_x(s, 1);
    s.set_web_fields(a, "X", r#"{"buffer":5}"#).unwrap();
    sell_x(s, 2);
    s.commit().unwrap();
    assert_eq!(
        queued_deltas(s, &[a, b]),
        vec![vec![-1, -5, -2], vec![-1, -2]]
    );
    ids_in_order(s);
}

/// Outside a host transaction each change commits alone: another handle's change between two
/// of them (another workstation, the order manager's second window) is seen by the next.
#[test]
fn another_handle_between_two_changes_committed_alone_is_seen() {
    let (f, _e, [a, b, c]) = three_carts_selling_x();
    let s = &f.store;
    let other = f.reopen();
    sell_x(s, 1);
    other.set_cart_sync(b, false).unwrap();
    sell_x(s, 2);
    other.set_cart_sync(b, true).unwrap();
    other.set_param("SynchQOH", "false").unwrap();
    sell_x(s, 3);
    other.set_param("SynchQOH", "true").unwrap();
    other.set_cart_sync(c, false).unwrap();
    sell_x(s, 4);
    assert_eq!(
        queued_deltas(s, &[a, b, c]),
        vec![vec![-1, -2, -4], vec![-1, -4], vec![-1, -2]]
    );
}

#[test]
fn the_same_handle_between_two_changes_committed_alone_is_seen() {
    let (f, _e, [a, b, _]) = three_carts_selling_x();
    let s = &f.store;
    sell_x(s, 1);
    s.set_cart_sync(b, false).unwrap();
    sell_x(s, 2);
    s.set_cart_sync(b, true).unwrap();
    sell_x(s, 3);
    assert_eq!(
        queued_deltas(s, &[a, b]),
        vec![vec![-1, -2, -3], vec![-1, -3]]
    );
}

/// Another handle's sale between two of this one's queues records with higher ids: this
/// handle's next records must take ids above them, not the ones after its own last.
#[test]
fn records_another_handle_queued_in_between_keep_their_ids() {
    let (f, _e, [a, ..]) = three_carts_selling_x();
    let s = &f.store;
    let other = f.reopen();
    sell_x(s, 1);
    sell_x(&other, 2);
    sell_x(s, 3);
    s.begin().unwrap();
    sell_x(s, 4);
    s.commit().unwrap();
    sell_x(&other, 5);
    s.begin().unwrap();
    sell_x(s, 6);
    s.commit().unwrap();
    assert_eq!(queued_deltas(s, &[a]), vec![vec![-1, -2, -3, -4, -5, -6]]);
    ids_in_order(s);
}

/// A cart switched off in a host transaction that is rolled back is on again for the change
/// committed alone after it.
#[test]
fn a_rolled_back_cart_change_is_not_taken_by_the_next_change_alone() {
    let (f, _e, [a, b, _]) = three_carts_selling_x();
    let s = &f.store;
    sell_x(s, 1);
    s.begin().unwrap();
    s.set_cart_sync(b, false).unwrap();
    sell_x(s, 2);
    s.rollback().unwrap();
    sell_x(s, 3);
    assert_eq!(queued_deltas(s, &[a, b]), vec![vec![-1, -3], vec![-1, -3]]);
}
