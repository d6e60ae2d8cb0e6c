//! The store file: what opening one refuses (and leaves untouched), and what an upgrade
//! keeps of what the store's owner added to it.

#![cfg(feature = "emulator")]

mod common;

use common::{old_store, value};
use inventory_sync::{Adjustment, Delta, ErrorKind, OpenOptions, Reason, Store};
use rusqlite::Connection;
use std::path::Path;
use std::time::Duration;

/// Runs `sql` on the file as the store's owner (or another program) would.
fn run_sql(path: &Path, sql: &str) {
    Connection::open(path).unwrap().execute_batch(sql).unwrap();
}

fn adj(sku: &str, d: i64) -> Adjustment {
    Adjustment::new(sku, Delta::new(d).unwrap(), Reason::Other)
}

/// A view over the ledger (a sales report the owner added to the file, an Access query)
/// survives the upgrade that rebuilds the ledger (schema 7). Before, SQLite's RENAME checked
/// the view while the ledger's name was missing and refused, the migration rolled back, and
/// the new build could not open the store at all.
#[test]
fn an_upgrade_keeps_a_view_over_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    old_store(&path, 6);
    run_sql(
        &path,
        "CREATE VIEW pos_sales AS SELECT sku, delta FROM ledger WHERE reason = 2",
    );

    let store = Store::open(&path).unwrap_or_else(|e| panic!("the upgrade refused the store: {e}"));
    store.adjust_qoh(&adj("MUG", -1)).unwrap();
    let n: i64 = value(&path, "SELECT COUNT(*) FROM pos_sales");
    assert_eq!(n, 3);
}

/// A trigger on the ledger (an owner's audit copy) survives the upgrade that rebuilds the
/// ledger: the DROP of the old table dropped it, without a word. So does one written
/// `ON Ledger` (SQLite keeps a trigger's table name as typed, and it was not listed).
#[test]
fn an_upgrade_keeps_a_trigger_on_the_ledger() {
    for table in ["ledger", "Ledger"] {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("store.db");
        old_store(&path, 6);
        run_sql(
            &path,
            &format!(
                "CREATE TABLE audit(ledger_id INTEGER);
                 CREATE TRIGGER ledger_audit AFTER INSERT ON {table}
                 BEGIN INSERT INTO audit VALUES (new.id); END;"
            ),
        );
        let store = Store::open(&path).unwrap();
        store.adjust_qoh(&adj("MUG", -1)).unwrap();
        let conn = Connection::open(&path).unwrap();
        let triggers: i64 = conn
            .query_row(
                "SELECT COUNT(*) FROM sqlite_master WHERE type = 'trigger' AND name = 'ledger_audit'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        let audited: i64 = conn
            .query_row("SELECT COUNT(*) FROM audit", [], |r| r.get(0))
            .unwrap();
        assert_eq!(
            (triggers, audited),
            (1, 1),
            "ON {table}: the owner's trigger on the ledger and the sale it audits"
        );
    }
}

/// Another program's database that keeps its own `user_version` (most do) is refused as
/// another program's, as one at 0 is, and left untouched (not even switched to WAL). Before,
/// at 42 it was "newer than this library", at 3 the migrations ran on it, at 7 it opened.
#[test]
fn another_programs_database_with_a_user_version_is_refused_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let mut wrong = Vec::new();
    for uv in [42, 3, 7] {
        let path = dir.path().join(format!("accounts{uv}.db"));
        run_sql(
            &path,
            &format!(
                "CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT);
                 INSERT INTO customers(name) VALUES ('Ann');
                 PRAGMA user_version = {uv};"
            ),
        );
        let before = std::fs::read(&path).unwrap();
        let r = Store::open(&path);
        let after = std::fs::read(&path).unwrap();
        let journal: String = value(&path, "PRAGMA journal_mode");
        let outcome = match &r {
            Ok(_) => "opened as a store".to_string(),
            Err(e) => format!("{:?}: {}", e.kind(), e.message()),
        };
        let refused_as_foreign = matches!(&r, Err(e) if e.kind() == ErrorKind::Refused
            && e.message().contains("another program"));
        if !refused_as_foreign || before != after {
            wrong.push(format!(
                "user_version {uv}: {outcome}; file changed: {}; journal_mode now {journal}",
                before != after
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Nothing new beside them: no lock file naming this machine, no WAL.
    assert_eq!(
        names_in(dir.path()),
        ["accounts3.db", "accounts42.db", "accounts7.db"]
    );
}

/// The names of the files in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A refused option changes nothing: no new file at a mistyped path, and no older file
/// migrated for good (which every older build still sharing it would then refuse as newer).
#[test]
fn a_refused_workstation_name_changes_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let bad = || OpenOptions {
        workstation: Some(String::new()),
        ..Default::default()
    };
    let old = dir.path().join("old.db");
    old_store(&old, 6);
    let e = Store::open_with(&old, bad()).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    let fresh = dir.path().join("typo.db");
    Store::open_with(&fresh, bad()).unwrap_err();
    assert_eq!(
        (value::<i64>(&old, "PRAGMA user_version"), fresh.exists()),
        (6, false),
        "the old file keeps schema 6 and no new file is left"
    );
}

/// A long busy timeout (30 days: "wait for the other writer, however long") is a valid
/// `Duration` SQLite cannot take (over `i32::MAX` ms): refused, not a panic.
#[test]
fn a_busy_timeout_too_long_for_sqlite_is_refused_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let r = std::panic::catch_unwind(|| {
        Store::open_with(
            &path,
            OpenOptions {
                busy_timeout: Duration::from_secs(30 * 24 * 3600),
                ..Default::default()
            },
        )
        .map(|_| ())
    });
    let e = r
        .expect("Store::open_with does not panic")
        .expect_err("SQLite cannot wait 30 days");
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e}");
    assert!(e.message().contains("busy timeout"), "{e}");
    assert!(!path.exists(), "no file is left behind");
}

/// A file of a newer build is refused as newer whatever another process is doing: an older
/// build that took the write lock first reported a busy store, after its whole busy timeout,
/// and never said to upgrade.
#[test]
fn a_newer_file_is_refused_as_newer_while_another_process_writes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    drop(Store::open(&path).unwrap());
    let newer = Connection::open(&path).unwrap();
    newer
        .execute_batch(
            "PRAGMA user_version = 99;
             BEGIN IMMEDIATE; UPDATE items SET qoh = qoh;",
        )
        .unwrap();
    let e = Store::open_with(
        &path,
        OpenOptions {
            busy_timeout: Duration::from_millis(200),
            ..Default::default()
        },
    )
    .unwrap_err();
    newer.execute_batch("COMMIT").unwrap();
    assert!(
        e.kind() == ErrorKind::Refused && e.message().contains("newer"),
        "{:?}: {}",
        e.kind(),
        e.message()
    );
}

/// An error opening a store names the file: one that is no database at all (`invsync import
/// lines.csv store.db`, the arguments swapped) was "file is not a database", naming none.
#[test]
fn opening_a_file_that_is_no_database_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lines.csv");
    std::fs::write(&path, "sku,delta\nMUG,-1\n").unwrap();
    let e = Store::open(&path).unwrap_err();
    assert!(
        e.message().contains("lines.csv"),
        "{:?}: {}",
        e.kind(),
        e.message()
    );
    // Left as it was found, with nothing beside it (a `lines.csv-machine` was, 2026-12-05).
    assert_eq!(names_in(dir.path()), ["lines.csv"]);
}

/// An index the owner put on the ledger (a report by date in Access) survives the upgrade
/// that rebuilds it: it went with the DROP TABLE, without a word.
#[test]
fn an_upgrade_keeps_an_owners_index_on_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    old_store(&path, 6);
    run_sql(
        &path,
        "CREATE INDEX owner_ledger_by_date ON ledger(created_at)",
    );
    drop(Store::open(&path).unwrap());
    let n: i64 = value(
        &path,
        "SELECT COUNT(*) FROM sqlite_master WHERE type = 'index'
             AND name = 'owner_ledger_by_date'",
    );
    assert_eq!(
        n, 1,
        "the owner's index on the ledger is gone after schema 7"
    );
}

/// A newer build's store is refused as newer, even if that build renamed one of the tables
/// every store so far has (it was refused as "another program's database").
#[test]
fn a_newer_store_without_one_of_the_five_tables_is_refused_as_newer() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    drop(Store::open(&path).unwrap());
    run_sql(
        &path,
        "ALTER TABLE params RENAME TO settings; PRAGMA user_version = 99;",
    );
    let e = Store::open(&path).unwrap_err();
    assert!(
        e.kind() == ErrorKind::Refused && e.message().contains("newer"),
        "{:?}: {}",
        e.kind(),
        e.message()
    );
}

/// An owner's table of notes on ledger rows, `ON DELETE CASCADE`, keeps its rows through the
/// upgrade that rebuilds the ledger (the DROP TABLE's implicit DELETE deleted them).
#[test]
fn an_upgrade_keeps_an_owners_rows_that_reference_the_ledger_on_delete_cascade() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    old_store(&path, 6);
    run_sql(
        &path,
        "CREATE TABLE ledger_notes(
                 ledger_id INTEGER NOT NULL REFERENCES ledger(id) ON DELETE CASCADE,
                 note TEXT);
             INSERT INTO ledger_notes VALUES (1, 'stock count by Ann');",
    );
    drop(Store::open(&path).unwrap());
    let n: i64 = value(&path, "SELECT COUNT(*) FROM ledger_notes");
    assert_eq!(
        n, 1,
        "the owner's notes on ledger rows were deleted by schema 7"
    );
}

/// The same table without an ON DELETE action: the store still opens (the DROP TABLE failed
/// on the foreign key, the migration rolled back, and the new build could not open it).
#[test]
fn an_upgrade_opens_a_store_with_an_owners_table_referencing_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    old_store(&path, 6);
    run_sql(
        &path,
        "CREATE TABLE ledger_notes(ledger_id INTEGER REFERENCES ledger(id), note TEXT);
             INSERT INTO ledger_notes VALUES (1, 'stock count by Ann');",
    );
    let r = Store::open(&path);
    assert!(r.is_ok(), "the upgrade refused the store: {:?}", r.err());
}

/// A column the owner added to the ledger (a note per change, from an Access form), an index
/// on it and a trigger reading it survive the upgrade that rebuilds the ledger, and sales go
/// on: the rebuild copied only the library's columns, so the index's remaking failed and
/// the store could not open, and the trigger failed every QOH change.
#[test]
fn an_upgrade_keeps_a_column_the_owner_added_to_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    old_store(&path, 6);
    run_sql(
        &path,
        "ALTER TABLE ledger ADD COLUMN note TEXT;
             UPDATE ledger SET note = 'counted by Ann' WHERE id = 2;
             CREATE INDEX owner_ledger_note ON ledger(note);
             CREATE TABLE owner_log(ledger_id INTEGER, note TEXT);
             CREATE TRIGGER owner_ledger_log AFTER INSERT ON ledger
             BEGIN INSERT INTO owner_log VALUES (NEW.id, NEW.note); END;",
    );
    let store = Store::open(&path).unwrap_or_else(|e| panic!("the upgrade refused the store: {e}"));
    store.adjust_qoh(&adj("MUG", -1)).unwrap();
    let conn = Connection::open(&path).unwrap();
    let note: String = conn
        .query_row("SELECT note FROM ledger WHERE id = 2", [], |r| r.get(0))
        .unwrap();
    assert_eq!(note, "counted by Ann");
    let logged: i64 = conn
        .query_row("SELECT COUNT(*) FROM owner_log", [], |r| r.get(0))
        .unwrap();
    assert_eq!(logged, 1, "the owner's trigger saw the sale");
}

/// Another program's database (the order manager's own, with an `items` table and its own
/// `user_version` 12) is named another program's, not a newer inventory_sync store.
#[test]
fn another_programs_database_with_an_items_table_is_not_called_a_newer_store() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("om.db");
    run_sql(
        &path,
        "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT); PRAGMA user_version = 12;",
    );
    let e = Store::open(&path).unwrap_err();
    assert!(e.message().contains("another program"), "{}", e.message());
}

/// A store in a folder that is not there (a mapped drive not connected, a mistyped folder)
/// is refused with a message that names the file and says where to look, not SQLite's bare
/// "unable to open database file"; and no folder is made.
#[test]
fn a_store_in_a_missing_folder_is_refused_naming_what_to_check() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no such folder").join("store.db");
    let Err(e) = Store::open(&path) else {
        panic!("a missing folder is refused")
    };
    assert!(e.message().contains(&path.display().to_string()), "{e}");
    assert!(e.message().contains("check that its folder exists"), "{e}");
    assert!(!dir.path().join("no such folder").exists());
    // A folder given as the store's path: the same.
    let Err(e) = Store::open(dir.path()) else {
        panic!("a folder is refused")
    };
    assert!(e.message().contains("names a file, not a folder"), "{e}");
}

/// A store from before schema 10 counts every cart as shown the counts of every item it had
/// (schema 9 kept no trace of a Send QOH on a cart without real-time sync): a cap set after
/// the upgrade on a cart still showing the 10 it was sent is not read by Get QOH as 5 units
/// returned there.
#[test]
fn an_upgrade_counts_every_cart_as_shown_its_items_counts() {
    use inventory_sync::{emulator::Emulator, GetOptions};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    old_store(&path, 9);
    let emu = Emulator::start().unwrap();
    emu.set_qoh("MUG", 10);
    run_sql(
        &path,
        &format!(
            "INSERT INTO carts(id, name, adapter, config, cap_send, cap_get, realtime,
                               max_items_to_send, retains_basket)
             VALUES (1, 'A', 'http_json', '{{\"url\":\"{}\"}}', 1, 1, 'none', 50, 0);",
            emu.url()
        ),
    );
    let store = Store::open(&path).unwrap();
    store
        .set_web_fields(1, "MUG", r#"{"max_publish":5}"#)
        .unwrap();
    let report = store.get_qoh(1, GetOptions::default(), None).unwrap();
    assert_eq!(store.item_qoh("MUG").unwrap(), 10, "{report:?}");
}

/// A schema-1 file with a real-time cart `blind` (id 1) on a cart without keys in memory,
/// which shows MUG at 8, and `extra` run on it; opened (upgraded) by this build.
fn schema_1_store(path: &Path, extra: &str) -> (Store, std::sync::Arc<common::Mem>) {
    old_store(path, 1);
    run_sql(
        path,
        &format!(
            "INSERT INTO params(name, value) VALUES ('SynchQOH', 'true'), ('RetryBaseMs', '0'),
                                                    ('RetryMaxMs', '0');
             UPDATE items SET qoh = 8 WHERE id = 1;
             INSERT INTO carts(id, name, adapter, config, cap_send, cap_get, realtime,
                               max_items_to_send, retains_basket, sync_on)
             VALUES (1, 'blind', 'blind', '{{}}', 1, 1, 'attribute', 50, 0, 1);
             {extra}"
        ),
    );
    let store = Store::open(path).unwrap();
    let mem = std::sync::Arc::new(common::Mem {
        mode: Some(inventory_sync::UpdateMode::Absolute),
        ..Default::default()
    });
    mem.set("MUG", 8);
    let a = mem.clone();
    store.register_adapter("blind", move |_| Ok(a.clone()));
    (store, mem)
}

/// Two sales of MUG (10 -> 8) a schema-1 controller had leased as one group and was sending
/// when its process ended: the cart may have them already (here it does). Upgraded, the group
/// is one a controller stopped while sending: a cart without keys is not sent it again, and
/// it is marked uncertain for the owner to check. Migration 2 gave it no count of leases
/// taken, so it went again as a first try, and the cart took the sales twice (6, the store
/// 8).
#[test]
fn a_group_a_schema_1_controller_was_sending_is_not_sent_again_to_a_cart_without_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let (store, mem) = schema_1_store(
        &path,
        "INSERT INTO send_groups(id, cart_id, item_id, key, net_delta, workstation, state,
                                 attempts, next_attempt_at, lease_token, lease_until, created_at)
         VALUES (1, 1, 1, 'f3a3c3a4-0c1e-4c57-9a0e-7d1b6c0c0c01', -2, 'ws', 'pending', 0, 0,
                 'dead-controller', 1, 0);
         INSERT INTO stack(id, cart_id, item_id, delta, reason, workstation, created_at,
                           group_id)
         VALUES (1, 1, 1, -1, 2, 'ws', 0, 1), (2, 1, 1, -1, 2, 'ws', 0, 1);",
    );
    let r = store.run_stack(None).unwrap();
    assert_eq!(r.uncertain, 2, "{r}");
    assert_eq!((mem.calls(), mem.get("MUG")), (0, 8));
}

/// A schema-1 Send QOH held its cart until it ended (`manual_until` at the end of time): one
/// whose process died left it held for good. Upgraded, the hold lapses within 15 minutes, as
/// a hold does since schema 2; migration 2 had left it as it was, and the cart refused every
/// Send QOH and was sent nothing, for ever.
#[test]
fn a_cart_a_dead_schema_1_send_qoh_held_is_released_within_15_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.db");
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let (_store, _mem) = schema_1_store(
        &path,
        "UPDATE carts SET manual_until = 9223372036854775807 WHERE id = 1;",
    );
    let until: i64 = value(&path, "SELECT manual_until FROM carts WHERE id = 1");
    assert!(
        until > before && until <= before + 15 * 60 * 1000 + 60_000,
        "held until {until}, {} ms from the upgrade",
        until - before
    );
}

/// Host references an older build kept padded (before 2026-12-03 a reference was kept as
/// given): a VBA fixed-width field's trailing blanks, a right-aligned field's leading ones, a
/// full-width CHAR column's ideographic spaces. The current build reads a reference trimmed,
/// so a retry of such a change given trimmed (the CLI's import trims every field) was a new
/// reference: the change applied twice (from two reviews, 2026-12-04). Opening the file
/// trims them (schema 17); where two kept rows trim to one reference, the older is trimmed
/// and the other still found by its own form.
#[test]
fn references_an_older_build_kept_padded_are_found_trimmed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    old_store(&path, 16);
    Connection::open(&path)
        .unwrap()
        .execute_batch(
            "UPDATE items SET qoh = 50 WHERE sku = 'MUG';
             INSERT INTO ledger(id, item_id, sku, delta, qoh_after, reason, host_ref,
                                workstation, created_at)
             VALUES (4, 1, 'MUG', 10, 20, 4, 'RCV-9/1   ', 'ws', 0),
                    (5, 1, 'MUG', 10, 30, 4, '    RCV-9/2', 'ws', 0),
                    (6, 1, 'MUG', 10, 40, 4, '注文-3' || char(12288, 12288), 'ws', 0),
                    (7, 1, 'MUG', 10, 50, 4, 'RCV-9/4 ', 'ws', 0),
                    (8, 1, 'MUG', 5, 55, 4, 'RCV-9/4  ', 'ws', 0);",
        )
        .unwrap();
    let store = Store::open(&path).unwrap();
    let receiving = |r: &str, d: i64| {
        Adjustment::new("MUG", Delta::new(d).unwrap(), Reason::Receiving).host_ref(r)
    };
    for r in ["RCV-9/1", "RCV-9/2", "注文-3", "RCV-9/4"] {
        assert_eq!(
            store.adjust_qoh(&receiving(r, 10)).unwrap(),
            inventory_sync::AdjustOutcome::Duplicate,
            "{r:?}"
        );
    }
    // The row left padded (its trimmed form was the older row's) is found by its own form.
    assert_eq!(
        store.adjust_qoh(&receiving("RCV-9/4  ", 5)).unwrap(),
        inventory_sync::AdjustOutcome::Duplicate
    );
    assert_eq!(store.item_qoh("MUG").unwrap(), 50, "nothing applied twice");
    // The reference the file had trimmed already is unchanged.
    assert_eq!(
        value::<String>(&path, "SELECT host_ref FROM ledger WHERE id = 1"),
        "ORD-1"
    );
}
