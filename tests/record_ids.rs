//! A web-stack record's number is never given to another record. Hosts list records
//! (`invsync_stack_list`, `invsync stack`) and retry or discard them by number; the stack's
//! log keeps the numbers. SQLite gives a new row the highest id plus one, so once the newest
//! record was sent (and left the stack) the next QOH change's record took its number: a
//! number copied from an old screen then named another record. (From a store owner's trial
//! of the CLI, 2026-12-04: each failed before schema 24.)
#![cfg(feature = "emulator")]

#[macro_use]
mod common;

use common::*;
use inventory_sync::adapter::{CartError, DeltaSend, SendOutcome};
use inventory_sync::emulator::Emulator;
use inventory_sync::{CartAdapter, Reason, Store, UpdateMode};
use std::sync::Arc;

/// Every record id `store` lists now.
fn ids(store: &Store) -> Vec<i64> {
    stack(store, None)
        .iter()
        .map(|r| r["id"].as_i64().unwrap())
        .collect()
}

/// A store with one cart on an emulator, sent real-time changes of MUG.
fn shop() -> (Fixture, Emulator) {
    let f = store();
    let emu = Emulator::start().unwrap();
    emu.set_qoh("MUG", 10);
    cart(&f.store, &emu, "Shop A", "sku");
    item(&f.store, "MUG", 10);
    (f, emu)
}

/// The newest record sent (the stack left empty), the next change's record has a number no
/// record had.
#[test]
fn a_sent_records_number_is_not_given_to_the_next_change() {
    let (f, emu) = shop();
    adjust(&f.store, "MUG", 3, Reason::Adjustment);
    adjust(&f.store, "MUG", -1, Reason::Adjustment);
    let listed = ids(&f.store);
    assert_eq!(listed.len(), 2, "{listed:?}");
    drain(&f.store);
    assert_eq!(ids(&f.store), Vec::<i64>::new(), "both records were sent");
    assert_eq!(emu.qoh("MUG"), Some(12));

    adjust(&f.store, "MUG", -1, Reason::Adjustment);
    let new = ids(&f.store);
    assert_eq!(new.len(), 1);
    let highest = *listed.iter().max().unwrap();
    assert!(
        new[0] > highest,
        "the new record took number {} though {listed:?} were listed before",
        new[0]
    );
}

/// The same across a restart: the store reopened with its stack empty goes on above the
/// numbers it gave before.
#[test]
fn a_reopened_store_does_not_give_a_sent_records_number_again() {
    let (f, _emu) = shop();
    adjust(&f.store, "MUG", 3, Reason::Adjustment);
    let listed = ids(&f.store);
    drain(&f.store);
    assert_eq!(ids(&f.store), Vec::<i64>::new(), "the record was sent");
    let Fixture { dir, store } = f;
    drop(store);

    let store = Store::open(dir.path().join("store.db")).unwrap();
    adjust(&store, "MUG", -1, Reason::Adjustment);
    let new = ids(&store);
    assert_eq!(new.len(), 1);
    assert!(
        new[0] > *listed.iter().max().unwrap(),
        "after reopening the new record took number {} though {listed:?} were listed",
        new[0]
    );
    assert!(
        store.stack_retry(listed[0]).is_err(),
        "an old number names no record"
    );
}

/// Records leave the stack other ways than by being sent: an operator's discard of a record
/// set aside, and a Send QOH whose count included the change. Each way, the next change's
/// record has a number no record had.
#[test]
fn a_discarded_or_superseded_records_number_is_not_given_again() {
    let (f, _emu) = shop();
    let closed = custom_cart(&f.store, "Shop B", Arc::new(Refuses), Some("sku"), None);
    f.store.set_cart_sync(closed, true).unwrap();
    let shop_a = f.store.carts().unwrap()[0].id;
    f.store.set_cart_sync(shop_a, false).unwrap();
    adjust(&f.store, "MUG", -1, Reason::Adjustment);
    let set_aside = ids(&f.store);
    assert_eq!(set_aside.len(), 1, "Shop B's record only");
    drain(&f.store);
    f.store.stack_discard(set_aside[0]).unwrap();
    assert_eq!(ids(&f.store), Vec::<i64>::new(), "the record was discarded");

    f.store.set_cart_sync(closed, false).unwrap();
    f.store.set_cart_sync(shop_a, true).unwrap();
    adjust(&f.store, "MUG", -1, Reason::Adjustment);
    let waiting = ids(&f.store);
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert!(
        waiting[0] > set_aside[0],
        "after a discard the new record took number {} though {set_aside:?} was listed",
        waiting[0]
    );
    // Send QOH runs with the cart's real-time sync off; the waiting record stays.
    f.store.set_cart_sync(shop_a, false).unwrap();
    f.store
        .send_qoh(shop_a, inventory_sync::SendOptions::default(), None)
        .unwrap();
    assert_eq!(
        ids(&f.store),
        Vec::<i64>::new(),
        "Send QOH's count included it"
    );

    f.store.set_cart_sync(shop_a, true).unwrap();
    adjust(&f.store, "MUG", -1, Reason::Adjustment);
    let new = ids(&f.store);
    assert_eq!(new.len(), 1);
    assert!(
        new[0] > waiting[0],
        "after a Send QOH the new record took number {} though {waiting:?} was listed",
        new[0]
    );
}

/// A cart that never takes a change: its records stay on the stack.
struct Refuses;

impl CartAdapter for Refuses {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeKeyed
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        Ok(d.iter()
            .map(|_| SendOutcome::Failed {
                message: "the shop is closed for stocktaking".into(),
            })
            .collect())
    }
    sends_deltas_only!();
}

/// (name, sql) of every index and trigger on the stack.
fn stack_schema(path: &std::path::Path) -> Vec<(String, String)> {
    rusqlite::Connection::open(path)
        .unwrap()
        .prepare(
            "SELECT name, sql FROM sqlite_master
             WHERE tbl_name = 'stack' AND type = 'index' AND sql IS NOT NULL ORDER BY name",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// A store file of the schema before (23) whose newest records were sent (only its log names
/// their numbers) and older ones wait for another cart: upgraded, it keeps the waiting
/// records with their numbers, and its stack's indexes, and numbers new records above every
/// number it gave.
#[test]
fn an_upgraded_store_keeps_its_records_and_goes_on_above_every_number_it_gave() {
    let (f, emu) = shop();
    emu.set_qoh("TEE", 10);
    item(&f.store, "TEE", 10);
    let closed = custom_cart(&f.store, "Shop B", Arc::new(Refuses), Some("sku"), None);
    f.store.set_cart_sync(closed, true).unwrap();
    adjust(&f.store, "MUG", -1, Reason::Adjustment);
    // Shop B takes no more real-time changes: the newest records are Shop A's alone.
    f.store.set_cart_sync(closed, false).unwrap();
    adjust(&f.store, "TEE", -2, Reason::Adjustment);
    let listed = ids(&f.store);
    drain(&f.store);
    let waiting = ids(&f.store);
    assert_eq!(emu.qoh("TEE"), Some(8), "Shop A was sent its records");
    assert_eq!(waiting.len(), 1, "Shop B's record waits: {waiting:?}");
    let highest = *listed.iter().max().unwrap();
    assert!(waiting[0] < highest, "{waiting:?} of {listed:?}");
    let Fixture { dir, store } = f;
    let path = store.path().to_path_buf();
    drop(store);

    // The file as schema 23 left it: what schema 24 adds is all it lacks.
    let c = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = c
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    if version > 23 {
        c.execute_batch("DROP TABLE stack_high; PRAGMA user_version = 23;")
            .unwrap();
    }
    drop(c);
    let indexes = stack_schema(&path);
    assert_eq!(indexes.len(), 3, "{indexes:?}");

    let store = Store::open(&path).unwrap();
    assert_eq!(ids(&store), waiting, "the waiting record keeps its number");
    assert_eq!(stack_schema(&path), indexes, "the stack keeps its indexes");
    adjust(&store, "TEE", -1, Reason::Adjustment);
    let new: Vec<i64> = ids(&store)
        .into_iter()
        .filter(|id| !waiting.contains(id))
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    assert!(
        new[0] > highest,
        "the upgraded store gave number {} though {listed:?} were listed before",
        new[0]
    );
    drop(dir);
}
