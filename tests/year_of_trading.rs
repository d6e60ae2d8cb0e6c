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

/// A cart that, at every request it is sent, tries to empty the store's WAL
/// (`wal_checkpoint(TRUNCATE)`, as a checkpoint after a morning's reads would): it succeeds
/// only if none of the store's connections holds a read or the write lock meanwhile. What it
/// finds is kept, by the call.
struct WalProbe {
    path: std::path::PathBuf,
    pinned: std::sync::Mutex<Vec<(&'static str, i64, i64)>>,
    calls: std::sync::atomic::AtomicUsize,
}

impl WalProbe {
    fn probe(&self, call: &'static str) {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        // SQLite answers busy (-1 here) when another connection holds the write lock, and
        // 1 when a reader keeps it from emptying the WAL. (Not unwrapped: a panic here is
        // caught as the adapter's and would read as a probe that found nothing.)
        let found = Connection::open(&self.path).and_then(|conn| {
            conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?))
            })
        });
        let (busy, log) = found.unwrap_or((-1, -1));
        if busy != 0 || log != 0 {
            self.pinned.lock().unwrap().push((call, busy, log));
        }
    }
}

impl inventory_sync::adapter::CartAdapter for WalProbe {
    fn update_mode(&self) -> inventory_sync::adapter::UpdateMode {
        inventory_sync::adapter::UpdateMode::RelativeKeyed
    }
    fn apply_deltas(
        &self,
        d: &[inventory_sync::adapter::DeltaSend],
    ) -> Result<Vec<inventory_sync::adapter::SendOutcome>, inventory_sync::adapter::CartError> {
        self.probe("apply_deltas");
        Ok(d.iter()
            .map(|_| inventory_sync::adapter::SendOutcome::Applied { qoh: None })
            .collect())
    }
    fn set_quantities(
        &self,
        s: &[inventory_sync::adapter::QuantitySet],
    ) -> Result<Vec<inventory_sync::adapter::SendOutcome>, inventory_sync::adapter::CartError> {
        self.probe("set_quantities");
        Ok(s.iter()
            .map(|x| inventory_sync::adapter::SendOutcome::Applied { qoh: Some(x.qoh) })
            .collect())
    }
    fn fetch_quantities(
        &self,
        _: Option<&str>,
        _: u32,
    ) -> Result<inventory_sync::adapter::QuantityPage, inventory_sync::adapter::CartError> {
        self.probe("fetch_quantities");
        Ok(inventory_sync::adapter::QuantityPage {
            items: (0..20).map(|i| (format!("S{i}"), 1_000_000)).collect(),
            next_cursor: None,
        })
    }
}

/// No connection of the store holds a read (or the write lock) while a request is on its way
/// to a cart: a request may take a minute, and a read held meanwhile would keep SQLite from
/// starting the WAL over for every sale in that minute, pass after pass, all day. Checked at
/// every request of a controller's pass, a Send QOH, a Get QOH and a drift report.
#[test]
fn no_read_is_held_while_a_cart_is_asked() {
    let f = store();
    let probe = std::sync::Arc::new(WalProbe {
        path: f.store.path().to_path_buf(),
        pinned: Default::default(),
        calls: Default::default(),
    });
    let adapter: std::sync::Arc<dyn inventory_sync::adapter::CartAdapter> = probe.clone();
    let web = common::custom_cart(&f.store, "probe", adapter, Some("attribute"), Some(5));
    f.store.set_cart_sync(web, true).unwrap();
    for i in 0..20 {
        item(&f.store, &format!("S{i}"), 1_000_000);
    }
    for i in 0..40 {
        sell(&f.store, &format!("S{}", i % 20));
    }
    common::drain(&f.store);
    f.store.set_cart_sync(web, false).unwrap();
    f.store
        .send_qoh(web, inventory_sync::SendOptions { force: false }, None)
        .unwrap();
    f.store
        .get_qoh(web, inventory_sync::GetOptions::default(), None)
        .unwrap();
    f.store.drift(web, false).unwrap();
    assert!(
        probe.calls.load(std::sync::atomic::Ordering::Relaxed) >= 4 + 4 + 2,
        "every way of asking a cart was probed"
    );
    assert_eq!(
        *probe.pinned.lock().unwrap(),
        [],
        "(call, busy, frames left)"
    );
}

const SOURCE: &str = include_str!("../src/store/sql.rs");

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The statements of the everyday calls that read the two tables a year of trading fills,
/// the ledger (a row per QOH change, kept for good) and the stack's history (a row per
/// record sent, kept `StackHistoryDays`), copied from `src/store/sql.rs` (the test fails
/// when they change there), each with how its plan must reach the table.
const HISTORY_READS: &[(&str, &str, &str)] = &[
    // Get QOH of a cart whose reads trail its writes: what the cart took since a time, from
    // the first history entry of that time on (found by bisection of the ids, below).
    (
        "written_since",
        "SELECT i.id, i.sku, MAX(w.at) FROM items i JOIN (
             SELECT item_id, at FROM stack_log
             WHERE id >= ?3 AND cart_id = ?1 AND outcome = 'applied' AND at >= ?2
             UNION ALL
             SELECT item_id, at FROM counts_set_at WHERE cart_id = ?1 AND at >= ?2
         ) w ON w.item_id = i.id
         GROUP BY i.id",
        "SEARCH stack_log USING INTEGER PRIMARY KEY (rowid>?)",
    ),
    (
        "log_id_from",
        "SELECT id, at FROM stack_log WHERE id >= ?1 ORDER BY id LIMIT 1",
        "SEARCH stack_log USING INTEGER PRIMARY KEY (rowid>?)",
    ),
    // Get QOH: orders imported from the cart while its pages were read.
    (
        "ledger_from_cart_since",
        "SELECT EXISTS (SELECT 1 FROM ledger WHERE id > ?1 AND id < ?2 AND origin_cart_id = ?3)",
        "SEARCH ledger USING INTEGER PRIMARY KEY (rowid>? AND rowid<?)",
    ),
    // Get QOH: an item's changes since the run began, from its newest back (schema 26).
    (
        "item_changes_since",
        "SELECT last_change FROM items WHERE id = ?1
             UNION ALL SELECT last_change FROM items WHERE parent_id = ?1",
        "SEARCH items USING INTEGER PRIMARY KEY (rowid=?)",
    ),
    (
        "item_changes_since",
        "SELECT delta, origin_cart_id, prev_change FROM ledger WHERE id = ?1",
        "SEARCH ledger USING INTEGER PRIMARY KEY (rowid=?)",
    ),
    // The controller's hourly prune, a step of 5,000 entries from where the last one ended.
    (
        "stack_log_prune",
        "SELECT COALESCE(MAX(id), 0), COALESCE(MIN(at) > ?3, 0)
             FROM (SELECT id, at FROM stack_log WHERE id > ?1 ORDER BY id LIMIT ?2)",
        "SEARCH stack_log USING INTEGER PRIMARY KEY (rowid>?)",
    ),
    (
        "stack_log_prune",
        "DELETE FROM stack_log
             WHERE id IN (SELECT id FROM stack_log WHERE id > ?1 ORDER BY id LIMIT ?2)
               AND at < ?3",
        "SEARCH stack_log USING INTEGER PRIMARY KEY (rowid>?)",
    ),
    // A new item's id, after every id given before (deleted items' too).
    (
        "item_insert",
        "INSERT INTO items(id, sku, parent_id, attributes, description, qoh, created_at)
         VALUES (1 + MAX(COALESCE((SELECT MAX(id) FROM items), 0),
                         COALESCE((SELECT MAX(item_id) FROM retired_items), 0)),
                 ?1, ?2, ?3, ?4, ?5, ?6)",
        "SEARCH retired_items",
    ),
];

/// No everyday call walks the history a year of trading leaves (the ledger's rows, the
/// stack's history): each reaches the table by its ids or an index, from where it needs to
/// start, on a store with a year of it. (The sale itself, a controller's lease and
/// settlement, the troubleshooting view, a host reference's look-up and a SKU's history are
/// checked in `tests/scaling.rs`.)
#[test]
fn the_everyday_reads_of_history_do_not_walk_it() {
    let f = store();
    let emu = Emulator::start().unwrap();
    cart(&f.store, &emu, "Web", "attribute");
    catalogue(&f.store, &emu, 100);
    let conn = Connection::open(f.store.path()).unwrap();
    // A year: 300 sales a day, half with a host reference, a third imported from the cart.
    conn.execute_batch(
        "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k LIMIT 110000)
         INSERT INTO ledger(item_id, sku, delta, qoh_after, reason, origin_cart_id, host_ref,
                            workstation, created_at)
         SELECT 1 + i % 100, 'S' || (i % 100), -1, 5, 2, CASE WHEN i % 3 = 0 THEN 1 END,
                CASE WHEN i % 2 = 0 THEN 'ORD-' || i END, 'ws', i * 1000 FROM k;
         WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k LIMIT 110000)
         INSERT INTO stack_log(record_id, cart_id, item_id, delta, outcome, group_key,
                               response, at)
         SELECT i, 1, 1 + i % 100, -1, 'applied', 'k', 'ok', i * 1000 FROM k;
         UPDATE stack_high SET id = 110000;",
    )
    .unwrap();
    let source = squash(SOURCE);
    for (name, sql, reach) in HISTORY_READS {
        assert!(
            source.contains(&squash(sql)),
            "src/store/sql.rs no longer holds {name}'s statement; update this test:\n{sql}"
        );
        let mut st = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
        let mut rows = st.raw_query();
        let mut plan = Vec::new();
        while let Some(r) = rows.next().unwrap() {
            plan.push(r.get::<_, String>(3).unwrap());
        }
        let plan = plan.join("\n");
        assert!(plan.contains(reach), "{name}:\n{plan}");
        for table in ["ledger", "stack_log", "retired_items"] {
            assert!(
                !plan.contains(&format!("SCAN {table}")),
                "{name} walks {table}:\n{plan}"
            );
        }
    }
    // The sales of the year's last day go through, and the controller sends them.
    for i in 0..300 {
        sell(&f.store, &format!("S{}", i % 100));
    }
    common::drain(&f.store);
    assert_eq!(emu.qoh("S0"), Some(1_000_000 - 3));
}

/// A day's outage leaves a backlog in the file, and sending it leaves its history (kept
/// `StackHistoryDays`, 90): the file grows for both, and does not shrink when the backlog
/// drains (the space it held is mostly the history's now, so a vacuum then would give back
/// little). Once that history is forgotten, the next outage of the same size takes the space
/// it leaves: the file grows by the ledger's rows alone, not by a backlog and a history
/// again each time.
#[test]
fn an_outage_once_its_history_is_forgotten_needs_no_new_space() {
    let f = store();
    let emu = Emulator::start().unwrap();
    common::cart_with(&f.store, &emu, "Web", "attribute", 500);
    catalogue(&f.store, &emu, 1_000);
    let pages = |sql: &str| -> i64 {
        let conn = Connection::open(f.store.path()).unwrap();
        conn.query_row(sql, [], |r| r.get(0)).unwrap()
    };
    let outage = |store: &Store| {
        store.begin().unwrap();
        for i in 0..20_000 {
            sell(store, &format!("S{}", i % 1_000));
        }
        store.commit().unwrap();
        common::drain(store);
        assert_eq!(store.stack_count(0, StackState::Waiting).unwrap(), 0);
    };
    outage(&f.store);
    let ledger = "SELECT COUNT(*) FROM dbstat WHERE name = 'ledger'";
    let (first, kept) = (pages("PRAGMA page_count"), pages(ledger));
    let free = pages("PRAGMA freelist_count");
    assert!(
        free * 4 < first,
        "the drain's history took most of the backlog's space: {free} of {first} pages free"
    );
    f.store.prune_stack_history(i64::MAX).unwrap();
    outage(&f.store);
    let (second, ledger_grew) = (pages("PRAGMA page_count"), pages(ledger) - kept);
    // The ledger keeps every QOH change for good (the store's record of its stock), so the
    // file grows by those rows; by nothing more, but a few pages' slack.
    assert!(
        second - first <= ledger_grew + ledger_grew / 20,
        "the second outage grew the file by {} pages, its ledger rows by {ledger_grew}",
        second - first
    );
}
