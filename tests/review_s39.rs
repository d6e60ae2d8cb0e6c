//! Review of the reads a QOH change takes from the change before it on the handle
//! (`Store::change_reads`: the carts real-time changes go to, and the stack's highest id).
//! Each test tries a way for them to go stale: another connection's or process's commit,
//! a host transaction lost part way or whose COMMIT fails, a change committed alone whose
//! COMMIT fails, a cart retired or deleted, Get QOH and a pass on the same handle, clones of
//! the handle on several threads. A stale read queues a change for a cart switched off (its
//! stock then wrong), none for a cart switched on (an oversell), or gives a stack id twice (a
//! primary-key failure that rolls a host's whole import back).
//!
//! The SQL a connection runs is seen through SQLite's own hooks, set on every connection the
//! process opens (`sqlite3_auto_extension`): a trace counts, per thread, how often the carts
//! and the stack's highest id are read, which measures that the saving holds (our own commits
//! leave `PRAGMA data_version` as it was); a commit hook makes one COMMIT fail on demand, as
//! a full disk or an I/O error would.

mod common;

use common::*;
use inventory_sync::emulator::Emulator;
use inventory_sync::{Adjustment, CartId, Delta, Reason, Store};
use rusqlite::ffi;
use std::cell::Cell;
use std::os::raw::{c_char, c_int, c_uint, c_void};
use std::path::Path;

thread_local! {
    /// Reads of `sql::realtime_targets` on this thread.
    static TARGET_READS: Cell<u32> = const { Cell::new(0) };
    /// Reads of the stack's highest id (`sql::stack_insert_many`) on this thread.
    static STACK_MAX_READS: Cell<u32> = const { Cell::new(0) };
    /// The next COMMIT on this thread fails (and rolls back), once.
    static FAIL_COMMIT: Cell<bool> = const { Cell::new(false) };
}

/// SQLite's trace callback (`sqlite3_trace_v2`, `SQLITE_TRACE_STMT`): counts the two reads on
/// this thread. SQLite must pass, as `sql`, the statement's NUL-terminated text or NULL.
unsafe extern "C" fn on_statement(
    mask: c_uint,
    _ctx: *mut c_void,
    _stmt: *mut c_void,
    sql: *mut c_void,
) -> c_int {
    if mask == ffi::SQLITE_TRACE_STMT as c_uint && !sql.is_null() {
        // SAFETY: for SQLITE_TRACE_STMT, SQLite passes the statement's text, NUL-terminated.
        let sql = unsafe { std::ffi::CStr::from_ptr(sql as *const c_char) }.to_bytes();
        // (Run while another statement on the connection is, SQLite writes "-- " before it.)
        let sql = sql.strip_prefix(b"-- ").unwrap_or(sql);
        let counter = if sql.starts_with(b"SELECT id, realtime FROM carts WHERE") {
            &TARGET_READS
        } else if sql.starts_with(b"SELECT MAX(COALESCE((SELECT MAX(id) FROM stack)") {
            &STACK_MAX_READS
        } else {
            return 0;
        };
        let _ = counter.try_with(|n| n.set(n.get() + 1));
    }
    0
}

/// SQLite's commit hook: a non-zero return turns this COMMIT into a rollback. No pointer is
/// read.
unsafe extern "C" fn on_commit(_ctx: *mut c_void) -> c_int {
    c_int::from(FAIL_COMMIT.try_with(|f| f.replace(false)).unwrap_or(false))
}

/// The auto extension SQLite runs on every connection the process opens: `db` must be that
/// live connection; it installs the two callbacks above.
unsafe extern "C" fn on_open(
    db: *mut ffi::sqlite3,
    _err: *mut *mut c_char,
    _api: *const ffi::sqlite3_api_routines,
) -> c_int {
    // SAFETY: `db` is the connection being opened; the callbacks keep no context.
    unsafe {
        ffi::sqlite3_trace_v2(
            db,
            ffi::SQLITE_TRACE_STMT as c_uint,
            Some(on_statement),
            std::ptr::null_mut(),
        );
        ffi::sqlite3_commit_hook(db, Some(on_commit), std::ptr::null_mut());
    }
    ffi::SQLITE_OK
}

/// Sets the hooks on every connection opened from now on (call before opening the store).
fn hooked() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    // SAFETY: `on_open` has the signature SQLite calls an auto extension with.
    ONCE.call_once(|| assert_eq!(unsafe { ffi::sqlite3_auto_extension(Some(on_open)) }, 0));
}

/// (carts read, stack's highest id read) on this thread so far.
fn reads() -> (u32, u32) {
    (
        TARGET_READS.with(Cell::get),
        STACK_MAX_READS.with(Cell::get),
    )
}

/// [`three_carts_selling_x`], with SQLite's hooks set on every connection the process opens.
fn three_carts() -> (Fixture, Vec<Emulator>, [CartId; 3]) {
    hooked();
    three_carts_selling_x()
}

/// How many records wait for `cart`, counted in the file (the stack view lists 1,000).
fn waiting(path: &Path, cart: CartId) -> i64 {
    rusqlite::Connection::open(path)
        .unwrap()
        .query_row(
            "SELECT COUNT(*) FROM stack WHERE cart_id = ?1",
            [cart],
            |r| r.get(0),
        )
        .unwrap()
}

fn try_sale(store: &Store, sku: &str, n: i64) -> inventory_sync::Result<()> {
    store
        .adjust_qoh(&Adjustment::new(
            sku,
            Delta::new(-n).unwrap(),
            Reason::PosSale,
        ))
        .map(|_| ())
}

/// Another connection to the store file, as another program (or process) would open it.
fn raw(f: &Fixture) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(f.dir.path().join("store.db")).unwrap();
    c.busy_timeout(std::time::Duration::from_secs(10)).unwrap();
    c
}

/// Every id in the stack, lowest first. (The stack view lists records by id: the deltas
/// `queued_deltas` lists in the order of the sales show that each sale's ids are above those before.)
fn stack_ids(path: &Path) -> Vec<i64> {
    let c = rusqlite::Connection::open(path).unwrap();
    let mut st = c.prepare("SELECT id FROM stack ORDER BY id").unwrap();
    let ids = st
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<rusqlite::Result<Vec<i64>>>()
        .unwrap();
    ids
}

/// Measured: our own commits leave `PRAGMA data_version` as it was, also across the WAL
/// checkpoints they run (1,500 sales of about 6 pages each pass SQLite's checkpoint at 4,000
/// pages at least twice), and a front end reading the store on another handle between them
/// commits nothing: 1,500 sales committed alone read the carts and the stack's highest id
/// once, not 1,500 times. Then another handle's commit makes the next sale read both again.
/// (A poll of the waiting records' count that catches the backlog count up, past 1,000
/// records, commits that catch-up, and the next sale reads both again: correct, and once per
/// 1,000 records at most.)
#[test]
fn sales_committed_alone_read_the_carts_and_the_highest_id_once() {
    let (f, _e, [a, b, c]) = three_carts();
    let s = &f.store;
    let front = f.reopen();
    let before = reads();
    for n in 0..1500 {
        sell_x(s, 1);
        if n % 100 == 0 {
            front
                .stack_count(a, inventory_sync::StackState::Bypassed)
                .unwrap();
            front.item_qoh("X").unwrap();
        }
    }
    let after = reads();
    assert_eq!(
        (after.0 - before.0, after.1 - before.1),
        (1, 1),
        "1,500 sales alone: the carts and the stack's highest id are read by the first only"
    );
    front.set_cart_sync(b, false).unwrap();
    let after = reads();
    sell_x(s, 2);
    let again = reads();
    assert_eq!((again.0 - after.0, again.1 - after.1), (1, 1));
    let path = f.dir.path().join("store.db");
    let count = |cart| waiting(&path, cart);
    assert_eq!(
        [count(a), count(b), count(c)],
        [1501, 1500, 1501],
        "B was switched off before the last sale"
    );
    let ids = stack_ids(&f.dir.path().join("store.db"));
    assert_eq!(ids.len(), 4502);
}

/// Inside one host transaction, 500 sales read the carts and the highest id once; the next
/// transaction reads them again once.
#[test]
fn a_host_transaction_reads_the_carts_once_and_the_next_reads_them_again() {
    let (f, _e, [a, ..]) = three_carts();
    let s = &f.store;
    for _ in 0..2 {
        let before = reads();
        s.begin().unwrap();
        for _ in 0..500 {
            sell_x(s, 1);
        }
        s.commit().unwrap();
        let after = reads();
        assert_eq!((after.0 - before.0, after.1 - before.1), (1, 1));
    }
    assert_eq!(records(s, a).len(), 1000);
}

/// SynchQOH and a cart's Synchronize Inventory changed by raw SQL on another connection (a
/// support script, the order manager's own code) between two sales committed alone: the
/// next sale obeys them. `PRAGMA data_version`, read inside the sale's `BEGIN IMMEDIATE`,
/// moved for that connection's commit.
#[test]
fn raw_sql_on_another_connection_between_sales_alone_is_obeyed() {
    let (f, _e, [a, b, c]) = three_carts();
    let s = &f.store;
    let other = raw(&f);
    sell_x(s, 1);
    other
        .execute(
            "UPDATE params SET value = 'false' WHERE name = 'SynchQOH'",
            [],
        )
        .unwrap();
    sell_x(s, 2);
    other
        .execute(
            "UPDATE params SET value = 'true' WHERE name = 'SynchQOH'",
            [],
        )
        .unwrap();
    sell_x(s, 3);
    other
        .execute("UPDATE carts SET sync_on = 0 WHERE id = ?1", [b])
        .unwrap();
    sell_x(s, 4);
    other
        .execute("UPDATE carts SET sync_on = 1 WHERE id = ?1", [b])
        .unwrap();
    other
        .execute("UPDATE carts SET realtime = 'none' WHERE id = ?1", [c])
        .unwrap();
    sell_x(s, 5);
    assert_eq!(
        queued_deltas(s, &[a, b, c]),
        vec![vec![-1, -3, -4, -5], vec![-1, -3, -5], vec![-1, -3, -4]]
    );
}

/// The premise of reads kept inside a host transaction: no other connection can commit
/// while it is open (it holds the write lock from `begin`), so a raw write elsewhere waits
/// and fails busy, and the transaction's sales go on to the carts as they were.
#[test]
fn no_other_connection_commits_inside_a_host_transaction() {
    let (f, _e, [a, b, _]) = three_carts();
    let s = &f.store;
    let other = raw(&f);
    other.busy_timeout(std::time::Duration::ZERO).unwrap();
    s.begin().unwrap();
    sell_x(s, 1);
    let e = other
        .execute("UPDATE carts SET sync_on = 0 WHERE id = ?1", [b])
        .unwrap_err();
    assert!(e.to_string().contains("locked"), "{e}");
    sell_x(s, 2);
    s.commit().unwrap();
    other
        .execute("UPDATE carts SET sync_on = 0 WHERE id = ?1", [b])
        .unwrap();
    sell_x(s, 3);
    assert_eq!(
        queued_deltas(s, &[a, b]),
        vec![vec![-1, -2, -3], vec![-1, -2]]
    );
}

/// Another process queues records between two sales committed alone (`invsync import`) and
/// inside nothing: the sale after it gives ids above them, never one of theirs again.
#[test]
fn records_another_process_queued_between_sales_keep_their_ids() {
    let (f, _e, [a, ..]) = three_carts();
    let s = &f.store;
    let path = f.dir.path().join("store.db");
    sell_x(s, 1);
    let csv = f.dir.path().join("sales.csv");
    std::fs::write(&csv, "X,-2,pos_sale\nX,-3,pos_sale\n").unwrap();
    let out = output_for(
        std::process::Command::new(env!("CARGO_BIN_EXE_invsync"))
            .arg("import")
            .arg(&path)
            .arg(&csv),
        "`invsync import`",
    );
    assert!(out.status.success(), "{out:?}");
    try_sale(s, "X", 4).expect("the sale after another process's records takes new ids");
    s.begin().unwrap();
    sell_x(s, 5);
    s.commit().unwrap();
    assert_eq!(queued_deltas(s, &[a]), vec![vec![-1, -2, -3, -4, -5]]);
    let ids = stack_ids(&path);
    assert_eq!(ids.len(), 15);
}

/// A cart retired or deleted on another handle between two sales committed alone gets no
/// record from the next (a record for a cart gone would fail its foreign key and the sale
/// with it); one retired on the same handle, in or out of a host transaction, neither.
/// Records sent and gone, and a retired cart's records discarded (`stack_high` raised), leave
/// no id to be given again.
#[test]
fn a_cart_retired_or_deleted_between_sales_gets_nothing_after() {
    let (f, _shops, [a, b, c]) = three_carts();
    let s = &f.store;
    let other = f.reopen();
    let shops2 = [shop_selling_x(), shop_selling_x()];
    let d = cart(s, &shops2[0], "D", "attribute");
    let e = cart(s, &shops2[1], "E", "attribute");
    sell_x(s, 1);
    other.retire_cart(c).unwrap();
    try_sale(s, "X", 2).expect("no record for the cart retired on another handle");
    drain(s);
    other.delete_cart(d).unwrap();
    try_sale(s, "X", 3).expect("no record for the cart deleted on another handle");
    s.begin().unwrap();
    sell_x(s, 4);
    s.retire_cart(e).unwrap();
    try_sale(s, "X", 5).expect("no record for the cart retired in the transaction");
    s.commit().unwrap();
    drain(s);
    let last_before = value::<i64>(&f.dir.path().join("store.db"), "SELECT id FROM stack_high");
    sell_x(s, 6);
    let ids = stack_ids(&f.dir.path().join("store.db"));
    assert_eq!(queued_deltas(s, &[a, b]), vec![vec![-6], vec![-6]]);
    assert!(
        ids.iter().all(|&id| id > last_before),
        "ids {ids:?} above every id given before ({last_before})"
    );
}

/// A QOH change committed alone whose COMMIT fails (a full disk, an I/O error: here SQLite's
/// commit hook turns it into a rollback) is gone; the next change still gives every record an
/// id of its own, and goes to every cart.
#[test]
fn a_sale_whose_commit_fails_leaves_no_id_to_be_given_twice() {
    let (f, _e, [a, b, c]) = three_carts();
    let s = &f.store;
    sell_x(s, 1);
    FAIL_COMMIT.with(|x| x.set(true));
    let e = try_sale(s, "X", 2).unwrap_err();
    assert!(
        !FAIL_COMMIT.with(Cell::get),
        "the hook failed that commit: {e}"
    );
    assert!(!s.in_host_transaction());
    sell_x(s, 3);
    assert_eq!(
        queued_deltas(s, &[a, b, c]),
        vec![vec![-1, -3], vec![-1, -3], vec![-1, -3]]
    );
    assert_eq!(s.item_qoh("X").unwrap(), 100_000 - 4);
    let ids = stack_ids(&f.dir.path().join("store.db"));
    assert_eq!(ids.len(), 6);
}

/// A host transaction whose COMMIT fails is rolled back, a cart switched off in it with it:
/// the sale committed alone after it goes to that cart again.
#[test]
fn a_host_transaction_whose_commit_fails_takes_its_cart_change_with_it() {
    let (f, _e, [a, b, _]) = three_carts();
    let s = &f.store;
    sell_x(s, 1);
    s.begin().unwrap();
    s.set_cart_sync(b, false).unwrap();
    sell_x(s, 2);
    FAIL_COMMIT.with(|x| x.set(true));
    s.commit().unwrap_err();
    assert!(!s.in_host_transaction());
    sell_x(s, 3);
    s.begin().unwrap();
    sell_x(s, 4);
    s.commit().unwrap();
    assert_eq!(
        queued_deltas(s, &[a, b]),
        vec![vec![-1, -3, -4], vec![-1, -3, -4]]
    );
}

/// Item `BOOM`, whose ledger row a trigger refuses: its change fails after writing its
/// stack records, as a store that fails part way does (a full disk).
fn boom(f: &Fixture) {
    item(&f.store, "BOOM", 10);
    raw(f)
        .execute_batch(
            "CREATE TRIGGER test_boom BEFORE INSERT ON ledger
             WHEN (SELECT sku FROM items WHERE id = NEW.item_id) = 'BOOM'
             BEGIN SELECT RAISE(ABORT, 'test: the store failed part way'); END;",
        )
        .unwrap();
}

/// A host transaction lost part way (a change that failed after writing rolled it back),
/// a cart switched off in it with it: after the host's rollback, or its commit (refused),
/// the next sale, alone or in a new transaction, goes to that cart again.
#[test]
fn a_host_transaction_lost_part_way_takes_its_cart_change_with_it() {
    for end in ["rollback", "commit"] {
        let (f, _e, [a, b, _]) = three_carts();
        boom(&f);
        let s = &f.store;
        s.begin().unwrap();
        s.set_cart_sync(b, false).unwrap();
        sell_x(s, 1);
        let e = try_sale(s, "BOOM", 1).unwrap_err();
        assert!(e.message().contains("rolled back"), "{e}");
        assert!(
            try_sale(s, "X", 9).is_err(),
            "writes are refused until it ends"
        );
        assert!(s.begin().is_err());
        match end {
            "rollback" => s.rollback().unwrap(),
            _ => assert!(s.commit().is_err()),
        }
        sell_x(s, 2);
        s.begin().unwrap();
        sell_x(s, 3);
        s.commit().unwrap();
        assert_eq!(
            queued_deltas(s, &[a, b]),
            vec![vec![-2, -3], vec![-2, -3]],
            "after {end}"
        );
    }
}

/// A change committed alone that fails after writing its records (rolled back) leaves the
/// next one's ids and carts right.
#[test]
fn a_sale_alone_that_fails_part_way_leaves_the_next_right() {
    let (f, _e, [a, b, _]) = three_carts();
    boom(&f);
    let s = &f.store;
    sell_x(s, 1);
    try_sale(s, "BOOM", 1).unwrap_err();
    s.set_cart_sync(b, false).unwrap();
    try_sale(s, "BOOM", 1).unwrap_err();
    sell_x(s, 2);
    assert_eq!(queued_deltas(s, &[a, b]), vec![vec![-1, -2], vec![-1]]);
    assert_eq!(stack_ids(&f.dir.path().join("store.db")).len(), 5);
}

/// Get QOH on the same handle applies a cart's count through the same change code with no
/// kept reads (`&mut None`), queuing records for the other carts: the sale after it gives
/// ids above them, and a pass on the same handle that sends and removes records leaves none
/// to be given again.
#[test]
fn get_qoh_and_a_pass_on_the_same_handle_leave_no_id_to_be_given_twice() {
    let (f, shops, [a, b, c]) = three_carts();
    let s = &f.store;
    sell_x(s, 1);
    drain(s);
    let sent = value::<i64>(&f.dir.path().join("store.db"), "SELECT id FROM stack_high");
    sell_x(s, 2);
    shops[0].set_qoh("X", 990);
    s.get_qoh(
        a,
        inventory_sync::GetOptions {
            force: true,
            ..Default::default()
        },
        None,
    )
    .unwrap();
    let pulled = stack_ids(&f.dir.path().join("store.db"));
    try_sale(s, "X", 3).expect("the sale after Get QOH's records takes new ids");
    let ids = stack_ids(&f.dir.path().join("store.db"));
    assert!(ids.iter().all(|&id| id > sent), "{ids:?} above {sent}");
    assert!(pulled.len() > 3, "Get QOH queued records: {pulled:?}");
    assert_eq!(ids.len(), pulled.len() + 3);
    for cart in [b, c] {
        assert_eq!(records(s, cart).last().unwrap().1, -3);
    }
}

/// One handle shared by two threads and another handle on two more, 100 sales alone each,
/// interleaved as the threads run: every sale succeeds (no id given twice) and reaches every
/// cart.
#[test]
fn one_handle_and_another_on_four_threads_give_every_record_its_own_id() {
    let (f, _e, carts) = three_carts();
    let s = &f.store;
    let other = f.reopen();
    std::thread::scope(|scope| {
        for h in [s, s, &other, &other] {
            scope.spawn(move || {
                for _ in 0..100 {
                    try_sale(h, "X", 1).unwrap();
                }
            });
        }
    });
    for cart in carts {
        assert_eq!(records(s, cart).len(), 400);
    }
    assert_eq!(s.item_qoh("X").unwrap(), 100_000 - 400);
    let ids = stack_ids(&f.dir.path().join("store.db"));
    assert_eq!(ids.len(), 1200);
}

/// A store SQLite cannot put in WAL mode (a VFS without shared memory, here locking with dot
/// files) keeps its rollback journal, where `PRAGMA data_version` comes from the file's change
/// counter: another handle's cart switched off, SynchQOH turned off, and its sale between two
/// sales committed alone, are all seen by the next.
#[cfg(unix)]
#[test]
fn a_store_with_a_rollback_journal_sees_another_handles_commits() {
    hooked();
    let dir = tempfile::tempdir().unwrap();
    let uri = format!(
        "file:{}?vfs=unix-dotfile",
        dir.path().join("store.db").display()
    );
    let s = Store::open(&uri).unwrap();
    let other = Store::open(&uri).unwrap();
    s.set_param("SynchQOH", "true").unwrap();
    item(&s, "X", 100_000);
    let shops = [shop_selling_x(), shop_selling_x()];
    let [a, b] = [0, 1].map(|i| cart(&s, &shops[i], ["A", "B"][i], "attribute"));
    sell_x(&s, 1);
    other.set_cart_sync(b, false).unwrap();
    sell_x(&s, 2);
    sell_x(&other, 3);
    sell_x(&s, 4);
    other.set_param("SynchQOH", "false").unwrap();
    sell_x(&s, 5);
    other.set_param("SynchQOH", "true").unwrap();
    other.set_cart_sync(b, true).unwrap();
    sell_x(&s, 6);
    assert_eq!(
        queued_deltas(&s, &[a, b]),
        vec![vec![-1, -2, -3, -4, -6], vec![-1, -6]]
    );
    let journal: String = rusqlite::Connection::open(dir.path().join("store.db"))
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(journal, "delete", "the store kept its rollback journal");
}

/// A background controller on the same handle sends and removes records (on its own
/// connection, committing as it goes) while 300 sales commit alone and a cart is switched off
/// and on again: every sale succeeds (no id given twice), and once drained the carts that got
/// every change count what the store does.
#[test]
fn a_background_controller_on_the_same_handle_leaves_every_sale_its_own_ids() {
    let (f, shops, [a, b, c]) = three_carts();
    let s = &f.store;
    s.start_controller(std::time::Duration::from_millis(1))
        .unwrap();
    for n in 0..300 {
        match n {
            100 => s.set_cart_sync(b, false).unwrap(),
            200 => s.set_cart_sync(b, true).unwrap(),
            _ => {}
        }
        try_sale(s, "X", 1).unwrap_or_else(|e| panic!("sale {n}: {e}"));
    }
    s.stop_controller();
    drain(s);
    let path = f.dir.path().join("store.db");
    assert_eq!([a, b, c].map(|cart| waiting(&path, cart)), [0, 0, 0]);
    assert_eq!(s.item_qoh("X").unwrap(), 100_000 - 300);
    for i in [0, 2] {
        assert_eq!(shops[i].qoh("X"), Some(100_000 - 300), "cart {i}");
    }
}

/// Through the C ABI (a VBA or C host): a cart switched off in a transaction rolled back is
/// on again for the next sale alone, SynchQOH turned off on another handle is obeyed by the
/// next, and a cart switched off in the middle of a transaction gets nothing after it.
#[test]
fn the_c_abi_sees_what_the_rust_api_sees() {
    use inventory_sync::ffi::*;
    let (f, _e, [a, b, c]) = three_carts();
    let path = std::ffi::CString::new(f.dir.path().join("store.db").to_str().unwrap()).unwrap();
    let mut h: *mut InvsyncStore = std::ptr::null_mut();
    let x = c"X".as_ptr();
    // SAFETY: valid C strings and out pointer; the handle is closed once, at the end.
    unsafe {
        assert_eq!(invsync_store_open(path.as_ptr(), &mut h), INVSYNC_OK);
        let sale = |n: i32| assert_eq!(invsync_adjust_qoh(h, x, -n, 2, 0, 0), INVSYNC_OK);
        sale(1);
        assert_eq!(invsync_begin(h), INVSYNC_OK);
        assert_eq!(invsync_cart_set_sync(h, b as i32, 0), INVSYNC_OK);
        sale(2);
        assert_eq!(invsync_rollback(h), INVSYNC_OK);
        sale(3);
        f.store.set_param("SynchQOH", "false").unwrap();
        sale(4);
        f.store.set_param("SynchQOH", "true").unwrap();
        assert_eq!(invsync_begin(h), INVSYNC_OK);
        sale(5);
        assert_eq!(invsync_cart_set_sync(h, c as i32, 0), INVSYNC_OK);
        sale(6);
        assert_eq!(invsync_commit(h), INVSYNC_OK);
        invsync_store_close(h);
    }
    assert_eq!(
        queued_deltas(&f.store, &[a, b, c]),
        vec![vec![-1, -3, -5, -6], vec![-1, -3, -5, -6], vec![-1, -3, -5]]
    );
}
