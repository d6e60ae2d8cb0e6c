//! Drift repair and the preflight against the store as it is when they act: a sale imported
//! while a repair runs, a repair that cannot record the cart's answer, and the counts kept of
//! what a cart shows that switching real-time sync on corrects. (From a review, 2026-12-03.)
#![cfg(feature = "emulator")]

#[macro_use]
mod common;
mod platform;

use common::*;
use inventory_sync::adapter::woocommerce::WooCommerceAdapter;
use inventory_sync::adapter::CartAdapter;
use inventory_sync::emulator::Mode;
use inventory_sync::secret::Secret;
use inventory_sync::{Adjustment, Delta, Reason, SendOptions};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A keyed cart in memory (`Mem`: its counts honour compare-and-set, as the built-in
/// adapters' do), named "cas", at real-time `level` with batches of `max`.
fn mem_cart(
    f: &Fixture,
    level: Option<&str>,
    max: Option<u32>,
) -> (Arc<Mem>, inventory_sync::CartId) {
    let cas = Arc::new(Mem::default());
    let c = custom_cart(&f.store, "cas", cas.clone(), level, max);
    (cas, c)
}

/// A drift repair of cart `c` from a handle that waits 300 ms for the write lock, while
/// another workstation takes the lock as the cart answers the repair's first set, and keeps
/// it until the repair has returned: the repair cannot record the cart's answer (as if its
/// process died after the set).
fn repair_while_the_store_is_held(
    f: &Fixture,
    cas: &Arc<Mem>,
    c: inventory_sync::CartId,
) -> inventory_sync::Result<inventory_sync::DriftReport> {
    let repairer = inventory_sync::Store::open_with(
        f.dir.path().join("store.db"),
        inventory_sync::OpenOptions {
            busy_timeout: Duration::from_millis(300),
            ..Default::default()
        },
    )
    .unwrap();
    let adapter: Arc<dyn CartAdapter> = cas.clone();
    repairer.register_adapter("cas", move |_| Ok(adapter.clone()));
    let path = f.dir.path().join("store.db");
    let (release, released) = std::sync::mpsc::channel::<()>();
    let locker: Arc<Mutex<Option<std::thread::JoinHandle<()>>>> = Default::default();
    let slot = locker.clone();
    *cas.on_set.lock().unwrap() = Some(Box::new(move || {
        let (locked, is_locked) = std::sync::mpsc::channel();
        *slot.lock().unwrap() = Some(std::thread::spawn(move || {
            let conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch("BEGIN IMMEDIATE").unwrap();
            locked.send(()).unwrap();
            let _ = released.recv_timeout(Duration::from_secs(30));
            conn.execute_batch("COMMIT").unwrap();
        }));
        is_locked.recv().unwrap();
    }));
    let repair = repairer.drift(c, true);
    release.send(()).unwrap();
    locker.lock().unwrap().take().unwrap().join().unwrap();
    repair
}

/// A drift repair sets each batch to what the store publishes when the batch goes. Until
/// 2026-12-03 it set the count worked out when it read the whole cart: a sale made on the cart
/// before the repair and imported (from that cart) while the repair was still on an earlier
/// batch was erased (the cart's count already held it, the store's then did too, and the
/// compare-and-set passed because the cart had not moved); the cart ended one unit above the
/// store, which sends it nothing more (the change came from that cart, rule 2): an oversell.
#[test]
fn a_drift_repair_does_not_undo_a_sale_imported_while_it_runs() {
    let f = store();
    // Real-time on, one count a request (any cart's later batches behave the same).
    let (cas, c) = mem_cart(&f, Some("attribute"), Some(1));
    f.store.set_cart_sync(c, true).unwrap();
    item(&f.store, "A1", 10);
    item(&f.store, "B2", 10);
    cas.set("A1", 7); // edited by hand on the cart: real drift
    cas.set("B2", 9); // a shopper bought one on the cart; the order is not imported yet
    let other = f.reopen();
    *cas.on_set.lock().unwrap() = Some(Box::new(move || {
        // The order is imported from the cart while the repair sends A1.
        other
            .adjust_qoh(
                &Adjustment::new("B2", Delta::new(-1).unwrap(), Reason::OrderImport).origin_cart(c),
            )
            .unwrap();
    }));
    let report = f.store.drift(c, true).unwrap();
    drain(&f.store);
    assert_eq!(f.store.item_qoh("B2").unwrap(), 9);
    assert_eq!(cas.get("A1"), 10, "{report:?}");
    assert_eq!(
        cas.get("B2"),
        9,
        "the store holds 9 and publishes 9; the cart was set to {} ({report:?}, sets {:?})",
        cas.get("B2"),
        cas.sets.lock().unwrap()
    );
    // The report says so, with the count the cart is in step with now (it listed 10 before
    // 2026-12-03's twenty-sixth session: the store's count when the cart was read).
    let b2 = report.items.iter().find(|d| d.sku == "B2").unwrap();
    assert!(
        b2.outcome
            .as_deref()
            .unwrap_or("")
            .starts_with("in step now"),
        "{b2:?}"
    );
    assert_eq!((b2.cart_qoh, b2.expected), (9, 9), "{b2:?}");
}

/// README ("Carts and web fields"): Send QOH and a drift repair forget the count kept of what
/// a cart shows once it took the published count, and "a count that replaces a kept count
/// is noted before it goes, and a run that ends before it settles the answer (a busy store,
/// a dead process) leaves the cart showing the count sent or the one kept: the next run or
/// pass takes it to show the larger [...] so Get QOH errs toward fewer units, never making
/// stock". Send QOH notes it (`counts_sending`) and settles patiently; until 2026-12-03 a drift
/// repair did neither: the cart took 20 over a kept 18, the store was busy past its timeout
/// when the repair went to forget the 18, and the next Get QOH read the cart's 20 against the
/// 18 as two units returned there: QOH 98 became 100, stock the store does not have.
#[test]
fn a_drift_repair_that_ends_before_settling_does_not_make_stock() {
    let f = store();
    // A cart real-time changes do not go to (the seeds' manual cart).
    let (cas, c) = mem_cart(&f, None, None);
    item(&f.store, "CAP", 100);
    f.store
        .set_web_fields(c, "CAP", r#"{"max_publish":20}"#)
        .unwrap();
    f.store.send_qoh(c, Default::default(), None).unwrap();
    assert_eq!(cas.get("CAP"), 20);
    // An order of 2 on the cart, imported: the cart counts 18 under the cap, kept (schema 8).
    cas.set("CAP", 18);
    f.store
        .adjust_qoh(
            &Adjustment::new("CAP", Delta::new(-2).unwrap(), Reason::OrderImport).origin_cart(c),
        )
        .unwrap();
    assert_eq!(f.store.item_qoh("CAP").unwrap(), 98);

    // The repair's handle waits 300 ms for the write lock; another workstation takes it as
    // the cart answers the repair, and keeps it until the repair has returned.
    let repair = repair_while_the_store_is_held(&f, &cas, c);
    assert_eq!(cas.get("CAP"), 20, "the cart took the repair: {repair:?}");
    // The repair could not give its hold back either (the store was busy): it lapses by
    // itself (15 minutes), as a dead process's does. Let it lapse now.
    rusqlite::Connection::open(f.dir.path().join("store.db"))
        .unwrap()
        .execute("UPDATE carts SET manual_until = 0, manual_owner = NULL", [])
        .unwrap();

    // Nothing was sold or returned on the cart since: Get QOH must leave QOH at 98.
    let got = f.store.get_qoh(c, Default::default(), None).unwrap();
    assert_eq!(
        f.store.item_qoh("CAP").unwrap(),
        98,
        "repair {repair:?}, then Get QOH {got:?}"
    );
}

/// Rule 11: the preflight reports "items whose cart count differs from the expected count".
/// When real-time sync goes on, a cart is first sent, for every count kept of what it shows
/// (schema 8: a cap, the floor of 0), the difference to what the store publishes
/// (`manual::pulled_to_realtime`, README "When real-time changes start going to the cart
/// ... it is first sent the difference"). Until 2026-12-03 the preflight ignored those kept
/// counts and compared the cart with the published count alone, so it was wrong both ways:
///
/// - a cart counting 3 backorders (-3, kept) that the owner set to 0 on the cart is "in
///   step" for the preflight, and switching real-time on sends it +3: the cart offers 3
///   units of an item the store is 3 short of (QOH -3);
/// - a cart counting 18 under a cap of 20 (an order of 2 imported, kept) is listed as drift,
///   though switching on sends it +2 and it is right.
#[test]
fn the_preflight_weighs_the_counts_kept_that_switching_on_corrects() {
    let f = store();
    // Real-time capable, its box still off (custom carts start off): the preflight's moment.
    let (cas, c) = mem_cart(&f, Some("attribute"), None);
    item(&f.store, "BO", 2);
    item(&f.store, "CAP", 100);
    f.store
        .set_web_fields(c, "CAP", r#"{"max_publish":20}"#)
        .unwrap();
    f.store.send_qoh(c, Default::default(), None).unwrap();
    assert_eq!((cas.get("BO"), cas.get("CAP")), (2, 20));
    // Orders on the cart, imported: 5 of BO (3 backordered there), 2 of CAP.
    cas.set("BO", -3);
    cas.set("CAP", 18);
    for (sku, n) in [("BO", -5), ("CAP", -2)] {
        f.store
            .adjust_qoh(
                &Adjustment::new(sku, Delta::new(n).unwrap(), Reason::OrderImport).origin_cart(c),
            )
            .unwrap();
    }
    // The owner clears the backorders on the cart by hand: drift the store cannot know of.
    cas.set("BO", 0);

    let warnings = f.store.preflight(c).unwrap();
    let drift: Vec<&str> = warnings
        .iter()
        .filter(|w| w.kind == "drift")
        .filter_map(|w| w.sku.as_deref())
        .collect();
    // What switching on does with these counts.
    f.store.set_cart_sync(c, true).unwrap();
    drain(&f.store);
    let after = (cas.get("BO"), cas.get("CAP"));
    assert_eq!(
        (drift, after),
        (vec!["BO"], (3, 20)),
        "the preflight must name BO, which switching on takes to 3 with QOH {} (and not CAP, \
         which it takes to 20): {warnings:?}",
        f.store.item_qoh("BO").unwrap()
    );
}

/// A drift repair now notes (`counts_sending`, upto 0) a count that replaces a kept count.
/// If its run ends before it settles the answer (busy store, dead process), the note is
/// settled by the next lease or manual hold (`counts_left`), but switching real-time sync on
/// (`pulled_to_realtime`) reads the kept count first and sends the difference from it: the
/// cart took 20 over a kept 18, is sent +2 more, and shows 22 while the store publishes 20.
#[test]
fn switching_on_after_an_unsettled_repair_does_not_overstate_the_cart() {
    let f = store();
    // Real-time capable, its box still off: counts are kept for it.
    let (cas, c) = mem_cart(&f, Some("attribute"), None);
    item(&f.store, "CAP", 100);
    f.store
        .set_web_fields(c, "CAP", r#"{"max_publish":20}"#)
        .unwrap();
    f.store.send_qoh(c, Default::default(), None).unwrap();
    assert_eq!(cas.get("CAP"), 20);
    cas.set("CAP", 18);
    f.store
        .adjust_qoh(
            &Adjustment::new("CAP", Delta::new(-2).unwrap(), Reason::OrderImport).origin_cart(c),
        )
        .unwrap();

    // The repair's process cannot record the cart's answer (as if it died after the set).
    let repair = repair_while_the_store_is_held(&f, &cas, c);
    assert_eq!(cas.get("CAP"), 20, "the cart took the repair: {repair:?}");
    // The dead run's hold lapses.
    rusqlite::Connection::open(f.dir.path().join("store.db"))
        .unwrap()
        .execute("UPDATE carts SET manual_until = 0, manual_owner = NULL", [])
        .unwrap();

    f.store.set_cart_sync(c, true).unwrap();
    drain(&f.store);
    assert_eq!(
        cas.get("CAP"),
        20,
        "the store publishes 20 (QOH {}), the cart shows {}: {repair:?}",
        f.store.item_qoh("CAP").unwrap(),
        cas.get("CAP")
    );
}

/// `begin_manual_run` clears the adapter's `SetOnce` whenever any manual run starts with
/// it, including the ones that take no hold (preflight, a drift report). With a factory
/// that hands out one adapter it keeps (the case the commit is for), a preflight made while
/// a Send QOH is between batches wipes what that Send QOH set: TEE-OLD (linked to TEE's
/// record) then replaces TEE's count 2 with its 9, both reported sent.
#[test]
fn a_preflight_during_send_qoh_does_not_forget_the_records_it_set() {
    let f = platform::fixture(Mode::WooCommerce);
    for (sku, qoh) in [("TEE", 2), ("MUG", 4)] {
        f.emu.set_qoh(sku, 0);
        f.item(sku, qoh);
    }
    f.item("TEE-OLD", 9);
    let woo: Arc<dyn CartAdapter> = Arc::new(
        WooCommerceAdapter::new(
            &f.emu.url(),
            "ck_test",
            Secret::new(platform::SECRET),
            Duration::from_secs(5),
        )
        .unwrap(),
    );
    f.store
        .register_adapter("kept-woo", move |_| Ok(woo.clone()));
    let c = f
        .store
        .upsert_cart_json(
            r#"{"name":"Kept","adapter":"kept-woo","max_items_to_send":1,
                "capabilities":{"send":true,"get":true}}"#,
        )
        .unwrap();
    let id = f.emu.platform_id("TEE").unwrap();
    f.store
        .set_web_fields(c, "TEE-OLD", &format!(r#"{{"remote_ref":"{id}"}}"#))
        .unwrap();
    let store = &f.store;
    let mut progress = |_: i64, _: i64| {
        // Another part of the host checks the cart meanwhile.
        store.preflight(c).unwrap();
        true
    };
    let r = f
        .store
        .send_qoh(c, SendOptions { force: true }, Some(&mut progress))
        .unwrap();
    assert_eq!(
        (r.sent, r.failed, f.emu.qoh("TEE")),
        (2, 1, Some(2)),
        "{r:?}"
    );
}

/// On a SKU-level cart, an item deleted and made again under the same SKU as a variant while
/// a repair runs: `repair_set` finds it by SKU and `published_now` maps it to its product,
/// so the cart's record of the old plain item is set to the product's total (Send QOH, which
/// reads by id, skips it). It should be left alone ("no longer published to this cart").
#[test]
fn a_sku_level_repair_does_not_set_a_sku_now_a_variant_to_its_products_total() {
    let f = store();
    let (cas, c) = mem_cart(&f, Some("sku"), Some(1));
    item(&f.store, "A1", 10);
    item(&f.store, "PROD", 0);
    variant(&f.store, "V1", "PROD", 30);
    item(&f.store, "Z", 5);
    cas.set("A1", 7);
    cas.set("PROD", 30);
    cas.set("Z", 2);
    let other = f.reopen();
    *cas.on_set.lock().unwrap() = Some(Box::new(move || {
        other.delete_item("Z").unwrap();
        variant(&other, "Z", "PROD", 0);
    }));
    let report = f.store.drift(c, true).unwrap();
    assert_eq!(
        cas.get("Z"),
        2,
        "Z is a variant now, which a SKU-level cart does not track: {report:?}"
    );
}

/// The drift report names what the store publishes to the cart that the cart lists no count
/// for (a product never made there, or one whose stock the cart does not track): a change sent
/// there for it cannot land, and the owner reading a report of "nothing off" took the cart as
/// in step. Until 2026-12-03 only the preflight named them.
#[test]
fn the_drift_report_names_items_the_cart_does_not_list() {
    let f = store();
    let (cas, c) = mem_cart(&f, Some("attribute"), Some(50));
    item(&f.store, "ON", 5);
    item(&f.store, "GONE", 5);
    cas.set("ON", 5);
    for repair in [false, true] {
        let report = f.store.drift(c, repair).unwrap();
        assert_eq!(report.in_step, 1, "{report:?}");
        assert!(report.items.is_empty(), "{report:?}");
        assert_eq!(report.unlisted, ["GONE"], "{report:?}");
    }
    // The repair set nothing for it.
    assert!(cas.sets.lock().unwrap().is_empty());
}
