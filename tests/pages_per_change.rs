//! The pages a QOH change writes: every sale or adjustment commits alone, and its commit's
//! cost is the pages it writes to the WAL (DESIGN §6, performance issue 6). Schema 26 finds
//! an item's changes from the item rather than through an index of the ledger by item, one
//! page fewer a change; these tests hold the count and the upgrade of a schema-25 file.

mod common;

use common::{adjust, cart, drain, item, store};
use inventory_sync::emulator::Emulator;
use inventory_sync::{Adjustment, Delta, OpenOptions, Reason, StackState, Store};
use rusqlite::Connection;
use std::collections::HashMap;
use std::path::Path;

/// The pages each commit in the store's WAL wrote, commit by commit: a WAL file is a 32-byte
/// header, then frames of a 24-byte header (the page's number; for a commit's last frame, the
/// file's size in pages) and the page.
fn commits_in_wal(path: &Path, page: usize) -> Vec<Vec<u32>> {
    let wal = std::fs::read(format!("{}-wal", path.display())).unwrap_or_default();
    let (mut commits, mut current, mut at) = (Vec::new(), Vec::new(), 32);
    while at + 24 + page <= wal.len() {
        let word = |o: usize| u32::from_be_bytes(wal[at + o..at + o + 4].try_into().unwrap());
        current.push(word(0));
        if word(4) != 0 {
            commits.push(std::mem::take(&mut current));
        }
        at += 24 + page;
    }
    commits
}

/// The table or index each page of the file belongs to.
fn owners(conn: &Connection) -> HashMap<u32, String> {
    conn.prepare("SELECT pageno, name FROM dbstat")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

fn sale(store: &Store, sku: &str) {
    adjust(store, sku, -1, Reason::PosSale);
}

/// A sale with one real-time cart writes the item's row, the ledger row, the stack record and
/// the stack's two indexes (the cart's waiting records in order; a cart's records of an item):
/// 5 pages, and page 1 and a parent page when a b-tree grows a page. It wrote 6 (6.9 a change
/// on average here) with the ledger's index by item, which schema 26 left out: at 1 KiB pages
/// a commit's time is mostly its pages, so that is a sixth of what every sale costs the shop
/// at the till. Counted from the WAL, not timed.
#[test]
fn a_sale_with_one_cart_commits_five_pages() {
    let dir = tempfile::tempdir().unwrap();
    // A workstation name of its own: the host's (the default) sizes every row, and with it
    // how often a page splits.
    let options = OpenOptions {
        workstation: Some("till-1".into()),
        ..OpenOptions::default()
    };
    let store = Store::open_with(dir.path().join("store.db"), options).unwrap();
    store.set_param("SynchQOH", "true").unwrap();
    let f = common::Fixture { dir, store };
    let emu = Emulator::start().unwrap();
    cart(&f.store, &emu, "Web", "attribute");
    f.store.begin().unwrap();
    for i in 0..1000 {
        item(&f.store, &format!("S{i}"), 1_000);
    }
    f.store.commit().unwrap();
    // A store in use: its b-trees a few levels deep.
    for i in 0..300 {
        sale(&f.store, &format!("S{}", i * 3 % 1000));
    }
    let conn = Connection::open(f.store.path()).unwrap();
    let busy: i64 = conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0))
        .unwrap();
    assert_eq!(busy, 0, "the WAL was emptied");

    let changes = 100;
    for i in 0..changes {
        sale(&f.store, &format!("S{}", i * 7 % 1000));
    }
    let commits = commits_in_wal(f.store.path(), 1024);
    assert_eq!(commits.len(), changes, "one commit a sale");
    let owner = owners(&conn);
    let allowed = [
        "items",
        "ledger",
        "stack",
        "stack_ungrouped",
        "stack_cart_item",
    ];
    for pages in &commits {
        for page in pages {
            let name = owner.get(page).map_or("?", |n| n.as_str());
            assert!(
                *page == 1 || allowed.contains(&name),
                "a sale wrote a page of {name}: {:?}",
                pages
                    .iter()
                    .map(|p| owner.get(p).map_or("?", |n| n.as_str()))
                    .collect::<Vec<_>>()
            );
        }
    }
    let five = commits.iter().filter(|p| p.len() <= 5).count();
    let frames: usize = commits.iter().map(Vec::len).sum();
    assert!(
        five * 10 >= changes * 7,
        "{five} of {changes} sales wrote 5 pages or fewer"
    );
    assert!(
        frames * 10 <= changes * 60,
        "{frames} pages written by {changes} sales"
    );
}

fn history(store: &Store, sku: &str) -> Vec<(i64, i64)> {
    let rows: serde_json::Value = serde_json::from_str(
        &store
            .ledger_json(Some(&serde_json::json!({ "sku": sku }).to_string()))
            .unwrap(),
    )
    .unwrap();
    rows.as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["delta"].as_i64().unwrap(),
                r["qoh_after"].as_i64().unwrap(),
            )
        })
        .collect()
}

/// A store upgraded from schema 25 keeps its items, its ledger (each SKU's history, a deleted
/// item's too, newest first and limited as asked) and its waiting records, which drain to
/// the cart as they would have; changes made after the upgrade follow the ones before in the
/// history. An older build refuses the upgraded file (its schema version is newer).
#[test]
fn a_schema_25_store_upgrades_with_its_history_and_backlog() {
    let f = store();
    let emu = Emulator::start().unwrap();
    let web = cart(&f.store, &emu, "Web", "attribute");
    for sku in ["MUG", "TEE", "GONE"] {
        item(&f.store, sku, 10);
        emu.set_qoh(sku, 10);
    }
    for (sku, delta) in [
        ("MUG", -1),
        ("TEE", 2),
        ("MUG", -3),
        ("GONE", -4),
        ("MUG", 5),
    ] {
        adjust(&f.store, sku, delta, Reason::PosSale);
    }
    // GONE is counted to 0 on the cart before it is deleted; MUG's and TEE's later sales wait.
    adjust(&f.store, "GONE", -6, Reason::Adjustment);
    drain(&f.store);
    for (sku, delta) in [("MUG", -1), ("TEE", 2), ("MUG", -3), ("MUG", 5)] {
        adjust(&f.store, sku, delta, Reason::PosSale);
    }
    f.store.delete_item("GONE").unwrap();
    let path = f.store.path().to_path_buf();
    drop(f.store);
    common::date_back_to_25(&path);

    let store = Store::open(&path).unwrap();
    let version: i64 = common::value(&path, "PRAGMA user_version");
    assert_eq!(
        version, 26,
        "a schema-25 build refuses the file from now on"
    );
    let index: i64 = common::value(
        &path,
        "SELECT COUNT(*) FROM sqlite_master WHERE name = 'ledger_item'",
    );
    assert_eq!(index, 0, "the ledger's index by item is gone");
    assert_eq!(store.item("MUG").unwrap().qoh, 12);
    assert_eq!(store.item("TEE").unwrap().qoh, 14);
    let mug = [(5, 12), (-3, 7), (-1, 10), (5, 11), (-3, 6), (-1, 9)];
    assert_eq!(history(&store, "MUG"), mug);
    assert_eq!(history(&store, "TEE"), [(2, 14), (2, 12)]);
    assert_eq!(
        history(&store, "GONE"),
        [(-6, 0), (-4, 6)],
        "a deleted item's history"
    );
    let two: serde_json::Value = serde_json::from_str(
        &store
            .ledger_json(Some(r#"{"sku":"MUG","limit":2}"#))
            .unwrap(),
    )
    .unwrap();
    assert_eq!(two.as_array().unwrap().len(), 2, "{two}");
    assert_eq!(
        store.stack_count(web, StackState::Waiting).unwrap(),
        4,
        "the backlog waits"
    );

    store
        .adjust_qoh(&Adjustment::new(
            "MUG",
            Delta::new(-2).unwrap(),
            Reason::PosSale,
        ))
        .unwrap();
    let mut after = vec![(-2, 10)];
    after.extend(mug);
    assert_eq!(
        history(&store, "MUG"),
        after,
        "a change after the upgrade leads"
    );
    // The deleted SKU made again: its history is the new item's and the deleted one's.
    item(&store, "GONE", 3);
    sale(&store, "GONE");
    assert_eq!(history(&store, "GONE"), [(-1, 2), (-6, 0), (-4, 6)]);

    let report = drain(&store);
    assert_eq!(report.remaining, 0, "{report}");
    assert_eq!(store.stack_count(web, StackState::Waiting).unwrap(), 0);
    assert_eq!(
        emu.qoh("MUG"),
        Some(10),
        "the cart counts what the store has"
    );
    assert_eq!(emu.qoh("TEE"), Some(14));
}

/// A schema-25 process still running after another workstation upgraded the file (a till left
/// on overnight) writes its changes and deletes as that build did, without schema 26's links:
/// they are in their item's history all the same, between the changes this build made before
/// and after them, and a deleted item's history keeps them. Unlinked, they fell out of the
/// chains for good, out of Get and Send QOH's look at the orders a cart made during their
/// run too, and such an order could be given back to the store.
#[test]
fn a_schema_25_process_still_running_writes_changes_the_history_keeps() {
    let f = store();
    for sku in ["MUG", "GONE"] {
        item(&f.store, sku, 10);
    }
    sale(&f.store, "MUG");
    sale(&f.store, "GONE");
    // The schema-25 build's statements, word for word (fa0fa2d's `item_set_qoh`,
    // `ledger_insert` and `item_delete`).
    let old = Connection::open(f.store.path()).unwrap();
    let old_sale = |sku: &str, delta: i64| {
        let (id, qoh): (i64, i64) = old
            .query_row("SELECT id, qoh FROM items WHERE sku = ?1", [sku], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .unwrap();
        old.execute("UPDATE items SET qoh = ?2 WHERE id = ?1", [id, qoh + delta])
            .unwrap();
        old.execute(
            "INSERT INTO ledger(item_id, sku, delta, qoh_after, reason, origin_cart_id, host_ref,
                                sent_to_web, workstation, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            rusqlite::params![
                id,
                sku,
                delta,
                qoh + delta,
                2,
                None::<i64>,
                None::<String>,
                true,
                "old-till",
                0
            ],
        )
        .unwrap();
    };
    old_sale("MUG", -2);
    old_sale("MUG", -3);
    old_sale("GONE", -4);
    sale(&f.store, "MUG");
    assert_eq!(
        history(&f.store, "MUG"),
        [(-1, 3), (-3, 4), (-2, 7), (-1, 9)],
        "the old process's two sales between this build's"
    );
    let gone: i64 = old
        .query_row("SELECT id FROM items WHERE sku = 'GONE'", [], |r| r.get(0))
        .unwrap();
    old.execute(
        "INSERT OR IGNORE INTO retired_items(item_id, sku) SELECT id, sku FROM items WHERE id = ?1",
        [gone],
    )
    .unwrap();
    old.execute("DELETE FROM items WHERE id = ?1", [gone])
        .unwrap();
    assert_eq!(
        history(&f.store, "GONE"),
        [(-4, 5), (-1, 9)],
        "an item the old process deleted keeps its history"
    );
    let unlinked: i64 = common::value(
        f.store.path(),
        "SELECT (SELECT COUNT(*) FROM ledger WHERE prev_change IS NULL)
              + (SELECT COUNT(*) FROM retired_items WHERE last_change IS NULL)",
    );
    assert_eq!(unlinked, 0, "every row the old process wrote is linked");
}
