//! A store after months of use (2026-12-05): what grows with time or with the catalogue and
//! what a store owner meets only then. Heartbeats of workstations long gone, deleting items
//! from a store whose carts were counted for months, and a preflight of a large catalogue
//! on a cart set up wrong.
#![cfg(feature = "emulator")]

mod common;

use common::*;
use inventory_sync::emulator::Emulator;
use inventory_sync::{Reason, Store};
use std::path::Path;

const DAY_MS: i64 = 86_400_000;

fn conn(path: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(path).unwrap()
}

/// Every heartbeat row of the file, by workstation: (name, last_seen).
fn heartbeats(path: &Path) -> Vec<(String, i64)> {
    conn(path)
        .prepare("SELECT workstation, last_seen FROM heartbeats ORDER BY workstation")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// A heartbeat of `workstation` written into the file as a controller long gone left it.
fn old_heartbeat(path: &Path, workstation: &str, last_seen: i64) {
    conn(path)
        .execute(
            "INSERT INTO heartbeats(workstation, last_seen) VALUES (?1, ?2)",
            rusqlite::params![workstation, last_seen],
        )
        .unwrap();
}

fn named(f: &Fixture, workstation: &str) -> Store {
    let s = f.reopen();
    s.set_param("Workstation", workstation).unwrap();
    s
}

/// A shop that renamed its PCs and ran controllers from laptops since sold: the heartbeats
/// table kept a row for every name ever used, read by every takeover check. A controller
/// forgets, at its first pass, the rows last seen more than a week ago (one a clock running
/// ahead left at 0 too), keeps the others (a till stopped yesterday, a live till), and
/// decides as before: a live till's records stay its own, and a forgotten laptop's are sent
/// for it, as a silent workstation's. Before, every row stayed for good.
#[test]
fn heartbeats_of_workstations_gone_for_a_week_are_forgotten_and_live_ones_kept() {
    let f = store();
    let path = f.store.path().to_path_buf();
    let e = Emulator::start().unwrap();
    cart(&f.store, &e, "A", "attribute");
    for sku in ["L", "T"] {
        item(&f.store, sku, 10);
        e.set_qoh(sku, 10);
    }
    let (till1, till2) = (named(&f, "TILL-1"), named(&f, "TILL-2"));
    // TILL-2's controller is alive: it has just run a pass.
    till2.run_stack(None).unwrap();
    let now = now_ms();
    old_heartbeat(&path, "LAPTOP-2025", now - 30 * DAY_MS);
    old_heartbeat(&path, "RENAMED-PC", 0);
    old_heartbeat(&path, "YESTERDAY", now - DAY_MS);
    // The laptop queued a sale before it went; TILL-2 sells too.
    adjust(&named(&f, "LAPTOP-2025"), "L", -1, Reason::PosSale);
    adjust(&till2, "T", -2, Reason::PosSale);
    let live = heartbeats(&path)
        .into_iter()
        .find(|(w, _)| w == "TILL-2")
        .unwrap();

    let r = till1.run_stack(None).unwrap();
    assert_eq!(r.sent, 1, "the laptop's sale is sent for it: {r}");
    assert_eq!((e.qoh("L"), e.qoh("T")), (Some(9), Some(10)));
    let rows = heartbeats(&path);
    let names: Vec<&str> = rows.iter().map(|(w, _)| w.as_str()).collect();
    assert_eq!(names, ["TILL-1", "TILL-2", "YESTERDAY"], "{rows:?}");
    assert!(
        rows.contains(&live),
        "the live till's heartbeat is as it wrote it"
    );
    let waiting = stack(&f.store, None);
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0]["workstation"], "TILL-2");
    // The live till sends its own, as ever.
    assert_eq!(till2.run_stack(None).unwrap().sent, 1);
    assert_eq!(e.qoh("T"), Some(8));
}

/// Shared mode: the back office's controller holds the store's one lock. Forgetting old
/// heartbeats at its first pass leaves the lock as it is: a till's controller stands by, and
/// the back office goes on sending every workstation's records.
#[test]
fn forgetting_old_heartbeats_leaves_the_shared_controllers_lock_alone() {
    let f = store();
    let path = f.store.path().to_path_buf();
    let e = Emulator::start().unwrap();
    cart(&f.store, &e, "A", "attribute");
    item(&f.store, "S", 10);
    e.set_qoh("S", 10);
    f.store.set_param("StackMode", "shared").unwrap();
    let (server, till) = (named(&f, "BACK-OFFICE"), named(&f, "TILL-1"));
    old_heartbeat(&path, "LAPTOP-2025", now_ms() - 30 * DAY_MS);
    adjust(&till, "S", -1, Reason::PosSale);
    let r = server.run_stack(None).unwrap();
    assert!(!r.standby, "{r}");
    assert_eq!(r.sent, 1, "{r}");
    let names: Vec<String> = heartbeats(&path).into_iter().map(|(w, _)| w).collect();
    assert_eq!(names, ["BACK-OFFICE"]);
    let lock: (String, i64) = conn(&path)
        .query_row("SELECT holder, until FROM controller_lock", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .unwrap();
    assert!(
        lock.0.starts_with("BACK-OFFICE #") && lock.1 > now_ms(),
        "{lock:?}"
    );

    adjust(&till, "S", -1, Reason::PosSale);
    let other = till.run_stack(None).unwrap();
    assert!(
        other.standby,
        "a second shared controller stands by: {other}"
    );
    assert_eq!(other.sent, 0);
    assert_eq!(server.run_stack(None).unwrap().sent, 1);
    assert_eq!(e.qoh("S"), Some(8));
}

/// The query plan of `sql` on `c`, one line a step.
fn plan(c: &rusqlite::Connection, sql: &str) -> Vec<String> {
    c.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap()
        .query_map([1], |r| r.get::<_, String>(3))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// The steps of `plan` that read a whole table (or a whole index of it).
fn scans(plan: &[String]) -> Vec<&String> {
    plan.iter().filter(|p| p.starts_with("SCAN")).collect()
}

/// The statements that delete an item (`sql::item_delete`), and what SQLite deletes with it
/// (every table whose rows name the item, `ON DELETE CASCADE`), as it plans them on `c`:
/// none may read a whole table.
fn assert_item_delete_searches(c: &rusqlite::Connection) {
    c.pragma_update(None, "foreign_keys", true).unwrap();
    for sql in [
        "INSERT INTO retired_items(item_id, sku, last_change)
         SELECT id, sku, last_change FROM items WHERE id = ?1
         ON CONFLICT (item_id, sku) DO UPDATE SET
             last_change = MAX(last_change, excluded.last_change)",
        "DELETE FROM items WHERE id = ?1",
    ] {
        let p = plan(c, sql);
        assert!(scans(&p).is_empty(), "{sql}: {p:#?}");
    }
    // Whatever table comes to name items later is held to it too.
    let children: Vec<(String, String)> = c
        .prepare(
            "SELECT m.name, k.\"from\" FROM sqlite_master m, pragma_foreign_key_list(m.name) k
             WHERE m.type = 'table' AND k.\"table\" = 'items'",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap();
    assert!(
        children.iter().any(|(t, _)| t == "counts_set_at"),
        "{children:?}"
    );
    for (table, column) in children {
        let p = plan(c, &format!("SELECT 1 FROM {table} WHERE {column} = ?1"));
        assert!(scans(&p).is_empty(), "{table}.{column}: {p:#?}");
    }
}

/// Deleting an item deletes the rows that name it, and SQLite finds each through an index:
/// those of `counts_set_at` (when a cart whose reads trail its writes was last counted,
/// schema 21), keyed by cart first, were found by reading the whole table, a row for every
/// item such a cart was ever counted by Send QOH or a repair, at every delete (schema 25
/// indexes them by item). A file of the schema before gets the index when opened.
#[test]
fn deleting_an_item_reads_no_whole_table() {
    let f = store();
    assert_item_delete_searches(&conn(f.store.path()));

    let old = f.dir.path().join("old.db");
    old_store(&old, 24);
    drop(Store::open(&old).unwrap());
    assert_item_delete_searches(&conn(&old));
}

/// `n` items `{prefix}00000`… at `qoh`, made in one host transaction.
fn items(f: &Fixture, prefix: &str, n: usize, qoh: i64) -> Vec<String> {
    let skus: Vec<String> = (0..n).map(|i| format!("{prefix}{i:05}")).collect();
    f.store.begin().unwrap();
    for sku in &skus {
        item(&f.store, sku, qoh);
    }
    f.store.commit().unwrap();
    skus
}

/// A catalogue of 1,200 items on a cart set up wrong (it holds baskets, has none of the P
/// items, three Q items off, and two SKUs the store does not sync): the preflight answers
/// exactly as it did when it held every warning before keeping the first 1,000. The basket
/// first, then the first 999 unmapped P items in SKU order, then one `more` warning whose
/// counts name the kinds in the order they first came (the cart's own SKUs, found last, are
/// counted with the unmapped), word for word; and the thread's last report is the same JSON.
#[test]
fn a_preflight_over_the_cap_answers_as_before() {
    let f = store();
    let e = Emulator::start().unwrap();
    items(&f, "P", 1200, 4);
    for sku in items(&f, "Q", 3, 4) {
        e.set_qoh(&sku, 9);
    }
    e.set_qoh("Z-ONLY-ON-CART-1", 1);
    e.set_qoh("Z-ONLY-ON-CART-2", 1);
    let spec = serde_json::json!({"name": "Web", "adapter": "http_json", "url": e.url(),
        "capabilities": {"send": true, "get": true, "realtime": "none"},
        "max_items_to_send": 500, "retains_basket": true});
    let c = f.store.upsert_cart_json(&spec.to_string()).unwrap();

    let warnings = f.store.preflight(c).unwrap();
    let json = serde_json::to_value(&warnings).unwrap();
    let kept: serde_json::Value = serde_json::from_str(&f.store.last_report().unwrap()).unwrap();
    assert_eq!(kept, json);
    let all = json.as_array().unwrap();
    assert_eq!(all.len(), 1001);
    assert_eq!(all[0]["kind"], "basket");
    for (i, w) in all[1..1000].iter().enumerate() {
        let want = serde_json::json!({"kind": "unmapped", "sku": format!("P{i:05}"),
            "message": "the cart lists no count for this SKU: no product has it, or the cart \
                        does not track its stock",
            "expected": 4});
        assert_eq!(w, &want);
    }
    assert_eq!(
        all[1000],
        serde_json::json!({"kind": "more", "message": "206 more warnings not listed here \
            (203 unmapped, 3 drift): only the first 1000 are. So many mostly mean the cart is \
            set up wrong (a url or stock location of another shop, SKUs or remote_ref links \
            that do not match the store's): fix that, or run the drift report (with repair to \
            set the counts that are off), then run the preflight again"})
    );
}
