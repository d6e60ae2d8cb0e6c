//! A Send QOH killed mid-run, shared by the tests of what a dead run leaves behind
//! (`multi_workstation_review.rs`, `pass_report_doubt.rs`, `doubt_reported.rs`).
//!
//! The run is the test binary started again in a child process: the file's own
//! `#[test] fn send_qoh_child` (which must keep that name, `--exact` finds it by it) calls
//! [`send_qoh_child`], and does nothing in a plain test run.

pub use super::eventually;
use super::{adjust, cart, cart_with, item, store, Fixture};
use inventory_sync::emulator::{Emulator, Fault};
use inventory_sync::{CartId, Reason, Store};
use std::process::{Command, Stdio};
use std::time::Duration;

/// The variable naming the child's run: `path|cart`.
pub const SEND_CHILD: &str = "INVSYNC_KILLED_RUN_SEND_QOH_CHILD";

/// In a child process (the test binary run again): a forced Send QOH of the cart named in
/// [`SEND_CHILD`], from workstation BACK. Does nothing in a plain test run.
pub fn send_qoh_child() {
    let Ok(arg) = std::env::var(SEND_CHILD) else {
        return;
    };
    let (path, cart) = arg.split_once('|').unwrap();
    let store = Store::open(path).unwrap();
    store.set_param("Workstation", "BACK").unwrap();
    let r = store.send_qoh(
        cart.parse().unwrap(),
        inventory_sync::SendOptions { force: true },
        None,
    );
    println!("SEND-QOH-DONE {r:?}");
}

/// Runs the back office's forced Send QOH of `cart` on `db` in a child process and kills it
/// once `reached` holds (the caller's fault hung its count at the cart) or 30 s pass, as a PC
/// switched off mid-run. Returns whether `reached` held; the run's hold is left to lapse by
/// [`holds_lapse`].
pub fn kill_send_qoh_when(
    db: &std::path::Path,
    cart: CartId,
    reached: impl FnMut() -> bool,
) -> bool {
    let child = super::KilledOnDrop(
        Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "send_qoh_child", "--nocapture"])
            .env(SEND_CHILD, format!("{}|{cart}", db.display()))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let reached = eventually(30, reached);
    drop(child);
    reached
}

/// A plain connection to the store file that waits for other writers, as the library's do.
pub fn raw(path: &std::path::Path) -> rusqlite::Connection {
    let c = rusqlite::Connection::open(path).unwrap();
    c.busy_timeout(Duration::from_secs(30)).unwrap();
    c
}

/// Takes the manual runs' holds as lapsed, as at their deadline a quarter hour on (their
/// processes are gone).
pub fn holds_lapse(db: &std::path::Path) {
    raw(db)
        .execute("UPDATE carts SET manual_until = 1", [])
        .unwrap();
}

/// Runs the back office's forced Send QOH of `cart` in a child process and kills it while its
/// count hangs at the cart (never set: `Fault::HangSets`), as a PC switched off mid-run; then
/// takes its hold as lapsed, as at its deadline a quarter hour on (its process is gone).
pub fn kill_send_qoh_mid_count(f: &Fixture, emu: &Emulator, cart: CartId) {
    emu.inject(Fault::HangSets {
        applied: false,
        count: 1,
    });
    let db = f.dir.path().join("store.db");
    let reached = kill_send_qoh_when(&db, cart, || emu.pending_faults().is_empty());
    assert!(reached, "the count never reached the cart");
    holds_lapse(&db);
}

/// A keyed cart showing B and C at 10, sold on the till (B: 3 then 2, C: 1) and not yet sent,
/// whose Send QOH, including all three sales in its counts, is killed before the cart took
/// them.
pub fn three_sales_in_a_killed_count() -> (Fixture, Emulator, CartId) {
    let f = store();
    let keyed = Emulator::start().unwrap();
    let cart = cart_with(&f.store, &keyed, "Keyed", "attribute", 5);
    for sku in ["B", "C"] {
        item(&f.store, sku, 10);
        keyed.set_qoh(sku, 10);
    }
    adjust(&f.store, "B", -3, Reason::PosSale);
    adjust(&f.store, "B", -2, Reason::PosSale);
    adjust(&f.store, "C", -1, Reason::PosSale);
    kill_send_qoh_mid_count(&f, &keyed, cart);
    (f, keyed, cart)
}

/// A keyed cart showing B and C at 10, whose sale of 3 B it refused (bypassed, then the
/// refusal lifted): the sale a killed Send QOH's count may include.
pub fn a_bypassed_sale() -> (Fixture, Emulator, CartId) {
    let f = store();
    let keyed = Emulator::start().unwrap();
    let cart = cart(&f.store, &keyed, "Keyed", "attribute");
    for sku in ["B", "C"] {
        item(&f.store, sku, 10);
        keyed.set_qoh(sku, 10);
    }
    adjust(&f.store, "B", -3, Reason::PosSale);
    keyed.fail_sku("B", "rejected");
    assert_eq!(f.store.run_stack(None).unwrap().bypassed, 1);
    keyed.unfail_sku("B");
    (f, keyed, cart)
}
