//! A store file over a year of trading: what grows, what is given back, and what the everyday
//! calls cost as history piles up. A store runs for years on one file (often on a network
//! share, with an Access front end open all day) and a controller sends all day beside it.
//!
//! Time is simulated cheaply: history is written straight into the file (a year of ledger
//! rows and stack history in one statement each), or the public API is called in loops of
//! thousands. Nothing sleeps.

mod common;

use common::{cart, item, store};
use inventory_sync::emulator::Emulator;
use inventory_sync::{Adjustment, Delta, Reason, StackState, Store};
use rusqlite::Connection;

/// The most WAL a store's connections leave on disk once a checkpoint has emptied it: twice
/// the 4 MiB after which a commit checkpoints (`store::WAL_CHECKPOINT_BYTES`), so everyday
/// cycles never shrink it and anything past them is given back.
const WAL_KEPT_MAX: u64 = 2 * 1000 * 4096;

/// The size of the store's WAL file (0 when there is none).
fn wal_bytes(store: &Store) -> u64 {
    std::fs::metadata(format!("{}-wal", store.path().display()))
        .map(|m| m.len())
        .unwrap_or(0)
}

fn sell(store: &Store, sku: &str) {
    store
        .adjust_qoh(&Adjustment::new(
            sku,
            Delta::new(-1).unwrap(),
            Reason::PosSale,
        ))
        .unwrap();
}

/// `n` items "S0".."S{n-1}" with QOH 1,000,000, each listed on `emu`.
fn catalogue(store: &Store, emu: &Emulator, n: usize) {
    for i in 0..n {
        item(store, &format!("S{i}"), 1_000_000);
        emu.set_qoh(&format!("S{i}"), 1_000_000);
    }
}

/// A front end (an Access form, a report over ODBC) keeps a read open all morning while the
/// tills sell and the controller sends: SQLite cannot start its WAL over while that read
/// may need it, so the WAL grows with every sale meanwhile. Once the read ends the next
/// checkpoint empties it, and the file must then be given back, not kept at the morning's
/// size for the life of the store (every backup and every workstation on the share pays
/// for it): until 2026-12-05 no `journal_size_limit` was set, and SQLite keeps a WAL file
/// at the largest size it ever reached while any connection stays open, which for a store
/// with a controller running is always.
#[test]
fn a_morning_beside_an_open_read_gives_its_wal_back() {
    let f = store();
    let emu = Emulator::start().unwrap();
    let web = cart(&f.store, &emu, "Web", "attribute");
    catalogue(&f.store, &emu, 100);

    let reader = Connection::open(f.store.path()).unwrap();
    reader.execute_batch("BEGIN").unwrap();
    let _: i64 = reader
        .query_row("SELECT COUNT(*) FROM items", [], |r| r.get(0))
        .unwrap();
    for i in 0..2_000 {
        sell(&f.store, &format!("S{}", i % 100));
        if i % 250 == 249 {
            f.store.run_stack(None).unwrap();
        }
    }
    let morning = wal_bytes(&f.store);
    assert!(
        morning > WAL_KEPT_MAX,
        "the WAL grew while the read held it: {morning} bytes"
    );
    reader.execute_batch("COMMIT").unwrap();

    // The afternoon: a few sales, and the controller sends them.
    for i in 0..20 {
        sell(&f.store, &format!("S{i}"));
    }
    common::drain(&f.store);
    sell(&f.store, "S0");
    let afternoon = wal_bytes(&f.store);
    assert!(
        afternoon <= WAL_KEPT_MAX,
        "the WAL kept {afternoon} bytes of the morning's {morning} once nothing needed them"
    );
    assert_eq!(f.store.stack_count(web, StackState::Waiting).unwrap(), 1);
    assert_eq!(emu.qoh("S0"), Some(1_000_000 - 20 - 1));
}

/// A cart dead for a day (a day's outage, then the owner retires it): its backlog goes in
/// one transaction, every record logged and deleted, and the WAL holds all of it at once.
/// The file must shrink back once that is checkpointed, not stay at that size.
#[test]
fn retiring_a_cart_with_a_days_backlog_leaves_no_big_wal_behind() {
    let f = store();
    let emu = Emulator::start().unwrap();
    let web = cart(&f.store, &emu, "Web", "attribute");
    catalogue(&f.store, &emu, 1_000);
    emu.shutdown();
    f.store.begin().unwrap();
    for i in 0..80_000 {
        sell(&f.store, &format!("S{}", i % 1_000));
    }
    f.store.commit().unwrap();
    assert_eq!(f.store.retire_cart(web).unwrap(), 80_000);
    let retired = wal_bytes(&f.store);
    assert!(retired > WAL_KEPT_MAX, "{retired} bytes");
    // The next sales alone: the first starts the WAL over, and its commit trims the file.
    sell(&f.store, "S1");
    sell(&f.store, "S2");
    let after = wal_bytes(&f.store);
    assert!(
        after <= WAL_KEPT_MAX,
        "the WAL kept {after} bytes of the retirement's {retired}"
    );
}
