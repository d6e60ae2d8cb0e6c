//! DESIGN §4–§8 statements no other test asserted (an audit of 2026-12-05, after the seed
//! rules' in `tests/seed_rules_audit.rs`): each test quotes the sentence it checks.
//!
//! The map of the audit (each checkable statement → the test that asserts it) is in the
//! closing note of the audit; these are the statements a store owner relies on that had none.
#![cfg(feature = "emulator")]

#[macro_use]
mod common;

use common::*;
use inventory_sync::emulator::Emulator;
use inventory_sync::{ErrorKind, OpenOptions, Reason, Store};
use std::time::Duration;

/// DESIGN §4: "Each send group has a random idempotency key (a UUID stored with it: never
/// derived from a row id, which SQLite reuses after deletes, nor from anything a backup
/// restore repeats)."
///
/// The owner restores last night's backup of the store file; the first sale made after it
/// is queued as the same row, for the same item, with the same change as a sale the cart was
/// sent before the restore. A key that the restore repeats would be taken by a keyed cart as
/// a duplicate: "applied", and the sale never reaches the shop, which then sells a unit the
/// store does not have.
#[test]
fn a_sale_after_a_backup_restore_is_not_taken_for_one_sent_before_it() {
    let f = store();
    let e = Emulator::start().unwrap();
    item(&f.store, "X", 10);
    e.set_qoh("X", 10);
    cart(&f.store, &e, "Web", "attribute");
    // Last night's backup: a consistent copy of the file, WAL included.
    let backup = f.dir.path().join("backup.db");
    raw(&f.dir.path().join("store.db"))
        .execute_batch(&format!("VACUUM INTO '{}'", backup.display()))
        .unwrap();
    // This morning: a sale, sent to the cart under its key.
    adjust(&f.store, "X", -1, Reason::PosSale);
    drain(&f.store);
    assert_eq!(e.qoh("X"), Some(9), "the morning's sale reached the cart");
    // The owner restores the backup and sells another unit: the same item, the same change.
    let restored = Store::open(&backup).unwrap();
    assert_eq!(
        restored.item_qoh("X").unwrap(),
        10,
        "the backup is from before it"
    );
    adjust(&restored, "X", -1, Reason::PosSale);
    let report = drain(&restored);
    assert_eq!(
        (report.remaining, e.duplicate_hits(), e.qoh("X")),
        (0, 0, Some(8)),
        "the sale after the restore is a new change to the cart, not a duplicate of the \
         morning's: {report:?}"
    );
}

/// DESIGN §7: "Lease: in one short transaction take up to `max_items_to_send` due
/// groups/records of one cart (pending, `next_attempt_at <= now`, oldest first)".
///
/// Changes made in the opposite order of the items' creation (and of their SKUs): a pass
/// that may send only part of the backlog sends the oldest changes, so the sale made first
/// is never left behind newer ones of items the store happened to create earlier.
#[test]
fn a_pass_sends_the_oldest_changes_first_whatever_the_items_order() {
    let f = store();
    let e = Emulator::start().unwrap();
    let skus = ["A0", "A1", "A2", "A3"];
    for sku in skus {
        item(&f.store, sku, 5);
        e.set_qoh(sku, 5);
    }
    cart_with(&f.store, &e, "Web", "attribute", 2);
    for sku in skus.iter().rev() {
        adjust(&f.store, sku, -1, Reason::PosSale);
    }
    let report = f.store.run_stack(Some(2)).unwrap();
    assert_eq!(report.sent, 2, "{report:?}");
    let on_cart: Vec<Option<i64>> = skus.iter().map(|s| e.qoh(s)).collect();
    assert_eq!(
        on_cart,
        vec![Some(5), Some(5), Some(4), Some(4)],
        "the two oldest changes (A3's, then A2's) went first"
    );
    drain(&f.store);
    let on_cart: Vec<Option<i64>> = skus.iter().map(|s| e.qoh(s)).collect();
    assert_eq!(on_cart, vec![Some(4); 4]);
}

/// DESIGN §6: "Writers use `BEGIN IMMEDIATE`."
///
/// A host's transaction (`begin`) takes the store's write lock at once, before its first
/// write: another workstation's sale waits for it (here, past its short busy timeout, `Busy`:
/// nothing applied, to be tried again), rather than committing in between, which would fail
/// the host's transaction at its first write after it had read the counts it works from.
#[test]
fn a_host_transaction_holds_the_write_lock_from_its_begin() {
    let f = store();
    item(&f.store, "X", 10);
    let till = Store::open_with(
        f.dir.path().join("store.db"),
        OpenOptions {
            busy_timeout: Duration::from_millis(200),
            ..Default::default()
        },
    )
    .unwrap();
    f.store.begin().unwrap();
    assert_eq!(f.store.item_qoh("X").unwrap(), 10, "the host reads first");
    let refused = till.adjust_qoh(&inventory_sync::Adjustment::new(
        "X",
        inventory_sync::Delta::new(-1).unwrap(),
        Reason::PosSale,
    ));
    assert_eq!(
        refused.as_ref().map_err(|e| e.kind()).err(),
        Some(ErrorKind::Busy),
        "the till's sale waits for the host's transaction: {refused:?}"
    );
    adjust(&f.store, "X", -2, Reason::Adjustment);
    f.store.commit().unwrap();
    adjust(&till, "X", -1, Reason::PosSale);
    assert_eq!(
        (f.store.item_qoh("X").unwrap(), till.item_qoh("X").unwrap()),
        (7, 7),
        "the host's change and the till's (tried again) both count"
    );
}

fn raw(path: &std::path::Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}
