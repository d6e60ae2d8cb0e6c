//! A Rust developer's trial of the crate from its docs alone: an order manager's day against
//! emulated Shopify and WooCommerce carts, written only from the README, the rustdoc and
//! examples/. Each test asserts what the client relies on.

use inventory_sync::emulator::{Emulator, Mode};
use inventory_sync::{
    AdjustOutcome, Adjustment, CartId, Delta, ErrorKind, GetOptions, Reason, SendOptions,
    StackState, Store,
};
use serde_json::Value;
use std::time::{Duration, Instant};

struct Shop {
    _dir: tempfile::TempDir,
    store: Store,
    shopify: Emulator,
    woo: Emulator,
    shopify_id: CartId,
    woo_id: CartId,
}

/// The client's catalogue: a T-shirt in three sizes and a mug, on both carts.
fn setup() -> Shop {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store.db")).unwrap();
    store
        .upsert_item_json(r#"{"sku":"TEE","description":"T-shirt"}"#)
        .unwrap();
    for (size, qoh) in [("S", 5), ("M", 8), ("L", 3)] {
        store
            .upsert_item_json(&format!(
                r#"{{"sku":"TEE-{size}","parent_sku":"TEE","attributes":{{"Size":"{size}"}},"qoh":{qoh}}}"#
            ))
            .unwrap();
    }
    store
        .upsert_item_json(r#"{"sku":"MUG","description":"Mug","qoh":12}"#)
        .unwrap();

    // Credentials come from the environment, never the code or the store file.
    std::env::set_var("RUSTTRIAL_SHOPIFY_TOKEN", "shpat_trial_secret");
    std::env::set_var("RUSTTRIAL_WOO_KEY", "ck_trial");
    std::env::set_var("RUSTTRIAL_WOO_SECRET", "cs_trial_secret");
    let shopify = Emulator::start_mode(Mode::Shopify).unwrap();
    shopify.set_token(Some("shpat_trial_secret"));
    let woo = Emulator::start_mode(Mode::WooCommerce).unwrap();
    woo.set_token(Some("ck_trial:cs_trial_secret"));
    for emu in [&shopify, &woo] {
        for size in ["S", "M", "L"] {
            emu.set_variant_qoh("TEE", &format!("TEE-{size}"), 0);
        }
        emu.set_qoh("MUG", 0);
    }
    let shopify_id = store
        .upsert_cart_json(&format!(
            r#"{{"name":"Shopify","adapter":"shopify","url":"{}","token":"env:RUSTTRIAL_SHOPIFY_TOKEN",
                "location_id":"1","max_items_to_send":2}}"#,
            shopify.url()
        ))
        .unwrap();
    let woo_id = store
        .upsert_cart_json(&format!(
            r#"{{"name":"Woo","adapter":"woocommerce","url":"{}","consumer_key":"env:RUSTTRIAL_WOO_KEY",
                "consumer_secret":"env:RUSTTRIAL_WOO_SECRET","max_items_to_send":2}}"#,
            woo.url()
        ))
        .unwrap();
    // Secrets never come back out of a listing.
    let listing = store.carts_json().unwrap();
    assert!(
        !listing.contains("shpat_trial_secret") && !listing.contains("cs_trial_secret"),
        "{listing}"
    );
    Shop {
        _dir: dir,
        store,
        shopify,
        woo,
        shopify_id,
        woo_id,
    }
}

/// The seeds' set-up order: Send QOH to every cart, then web fields, SynchQOH and each box.
fn go_live(s: &Shop) {
    for id in [s.shopify_id, s.woo_id] {
        let mut calls = Vec::new();
        let mut progress = |done: i64, total: i64| {
            calls.push((done, total));
            true
        };
        let r = s
            .store
            .send_qoh(id, SendOptions::default(), Some(&mut progress))
            .unwrap();
        assert_eq!((r.sent, r.failed, r.cancelled), (4, 0, false), "{r:?}");
        assert!(!calls.is_empty(), "progress was never called");
        assert_eq!(
            calls.last().unwrap().0,
            calls.last().unwrap().1,
            "{calls:?}"
        );
    }
    // The client sells at most 5 mugs on WooCommerce at a time.
    s.store
        .set_web_fields(s.woo_id, "MUG", r#"{"max_publish":5}"#)
        .unwrap();
    s.store.set_param("SynchQOH", "true").unwrap();
    s.store.set_cart_sync(s.shopify_id, true).unwrap();
    s.store.set_cart_sync(s.woo_id, true).unwrap();
}

/// The background controller, as the docs recommend, until nothing waits; then stopped.
fn drain_in_background(store: &Store) {
    store.start_controller(Duration::from_millis(20)).unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let status = store.controller_status();
        assert!(status.running, "{status:?}");
        assert!(status.last_error.is_none(), "{status:?}");
        if status.passes > 0 && store.stack_count(0, StackState::Waiting).unwrap() == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "the stack never drained");
        std::thread::sleep(Duration::from_millis(10));
    }
    store.stop_controller();
    assert!(!store.controller_status().running);
}

/// Adjusts, retrying what the docs call retryable; a host's order-line reference makes the
/// retry safe.
fn change(store: &Store, a: &Adjustment) -> AdjustOutcome {
    // Bounded, so that a store busy for ever fails the trial instead of hanging it.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        match store.adjust_qoh(a) {
            Ok(o) => return o,
            Err(e) if e.kind().is_retryable() => {
                assert!(
                    Instant::now() < deadline,
                    "retried a change for 60 s: {e:?}"
                );
                continue;
            }
            Err(e) => panic!("{e:?}"),
        }
    }
}

fn stack(store: &Store, filter: &str) -> Vec<Value> {
    serde_json::from_str(&store.stack_list_json(Some(filter)).unwrap()).unwrap()
}

#[test]
fn a_day_of_work_reaches_both_carts_once() {
    let s = setup();
    go_live(&s);
    for emu in [&s.shopify, &s.woo] {
        assert_eq!(emu.qoh("TEE-M"), Some(8));
    }
    // The cap set after Send QOH reaches WooCommerce with the first drain, as the README's
    // "Carts and web fields" says (the difference is queued when real-time sync starts).
    assert_eq!(s.woo.qoh("MUG"), Some(12));

    // Shopify took the order already; the host imports it.
    s.shopify.set_qoh("TEE-L", 1);
    let day = [
        Adjustment::new("TEE-M", Delta::new(-1).unwrap(), Reason::PosSale).host_ref("POS-88/1"),
        Adjustment::new("TEE-L", Delta::new(-2).unwrap(), Reason::OrderImport)
            .origin_cart(s.shopify_id)
            .host_ref("SHOP-1001/1"),
        Adjustment::new("MUG", Delta::new(10).unwrap(), Reason::Receiving).host_ref("PO-7/1"),
        // Two found broken: counted, never sent to the web.
        Adjustment::new("TEE-S", Delta::new(-2).unwrap(), Reason::Adjustment)
            .send_to_web(false)
            .host_ref("ADJ-3/1"),
    ];
    for a in &day {
        assert!(matches!(change(&s.store, a), AdjustOutcome::Applied { .. }));
    }
    // The host crashed and runs its day again: every change is a no-op.
    for a in &day {
        assert_eq!(change(&s.store, a), AdjustOutcome::Duplicate);
    }
    // A different change under a used reference is refused, not lost.
    let e = s
        .store
        .adjust_qoh(
            &Adjustment::new("MUG", Delta::new(-1).unwrap(), Reason::PosSale).host_ref("PO-7/1"),
        )
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Refused, "{e:?}");

    drain_in_background(&s.store);

    let qoh = |sku| s.store.item_qoh(sku).unwrap();
    assert_eq!(
        (qoh("TEE-S"), qoh("TEE-M"), qoh("TEE-L"), qoh("MUG")),
        (3, 7, 1, 22)
    );
    for emu in [&s.shopify, &s.woo] {
        assert_eq!(emu.qoh("TEE-M"), Some(7));
        assert_eq!(
            emu.qoh("TEE-L"),
            Some(1),
            "the import reached the other cart once"
        );
        assert_eq!(
            emu.qoh("TEE-S"),
            Some(5),
            "the adjustment stayed off the web"
        );
    }
    assert_eq!(s.shopify.qoh("MUG"), Some(22));
    assert_eq!(s.woo.qoh("MUG"), Some(5), "the cap holds");
    // Shopify was not sent its own order back: one adjustment request for TEE-M, MUG only.
    let ledger: Vec<Value> =
        serde_json::from_str(&s.store.ledger_json(Some(r#"{"sku":"TEE-L"}"#)).unwrap()).unwrap();
    assert_eq!(ledger[0]["host_ref"], "SHOP-1001/1");
    assert_eq!(ledger[0]["origin_cart_id"], s.shopify_id);
}

#[test]
fn the_owner_sees_what_failed_and_retries_or_discards_it() {
    let s = setup();
    go_live(&s);
    // `Emulator::fail_sku` answers only in `http_json` mode; a WooCommerce shop refuses a
    // product it no longer has.
    s.woo.remove("TEE-M");
    s.woo.remove("TEE-L");
    for (sku, r) in [("TEE-M", "POS-1/1"), ("TEE-L", "POS-2/1")] {
        change(
            &s.store,
            &Adjustment::new(sku, Delta::new(-1).unwrap(), Reason::PosSale).host_ref(r),
        );
    }
    let report = s.store.run_stack(None).unwrap();
    assert_eq!(report.remaining, 0, "{report}");
    let failed = stack(&s.store, r#"{"state":"bypassed"}"#);
    let failed_too = stack(&s.store, r#"{"state":"uncertain"}"#);
    assert_eq!(
        failed.len() + failed_too.len(),
        2,
        "{failed:?} {failed_too:?}"
    );
    assert_eq!(
        s.store.stack_count(s.woo_id, StackState::Bypassed).unwrap(),
        2
    );
    assert!(failed.iter().all(|r| r["cart_id"] == s.woo_id));
    assert!(failed.iter().all(|r| r["state"] == "bypassed"
        && r["reason_name"] == "pos_sale"
        && r["last_response"].as_str().is_some_and(|m| !m.is_empty())));
    let id_of = |sku: &str| {
        failed.iter().find(|r| r["sku"] == sku).unwrap()["id"]
            .as_i64()
            .unwrap()
    };
    // The owner fixes TEE-M on the shop and retries it; TEE-L they correct by hand.
    s.woo.set_variant_qoh("TEE", "TEE-M", 8);
    s.store.stack_retry(id_of("TEE-M")).unwrap();
    s.store.stack_discard(id_of("TEE-L")).unwrap();
    let e = s.store.stack_retry(id_of("TEE-L")).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e:?}");
    // The retried record waits, not bypassed, while the adapter remembers the SKU as absent
    // (up to 5 minutes: see `Store::stack_retry`); the last response says so.
    s.store.run_stack(None).unwrap();
    let waiting = stack(&s.store, r#"{"state":"waiting"}"#);
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0]["sku"], "TEE-M");
    assert!(
        waiting[0]["last_response"]
            .as_str()
            .unwrap()
            .contains("unknown SKU"),
        "{waiting:?}"
    );
    // The order manager's next start (a new handle) asks the shop again at once.
    let dir = s._dir.path().to_owned();
    let store = Store::open(dir.join("store.db")).unwrap();
    // It goes once its back-off ends: passes, as a controller makes them.
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.stack_count(s.woo_id, StackState::Waiting).unwrap() > 0 {
        assert!(Instant::now() < deadline, "the retried record never went");
        store.run_stack(None).unwrap();
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(s.woo.qoh("TEE-M"), Some(7));
    let s = Shop { store, ..s };
    assert_eq!(s.woo.qoh("TEE-L"), None, "discarded: the cart was not told");
    assert_eq!(s.shopify.qoh("TEE-L"), Some(2));
    assert_eq!(s.store.stack_history_count("discarded").unwrap(), 1);
    assert!(stack(&s.store, r#"{"state":"bypassed"}"#).is_empty());
}

#[test]
fn send_qoh_cancelled_after_its_first_batch_says_so() {
    let s = setup();
    let mut batches = 0;
    let mut progress = |_done: i64, _total: i64| {
        batches += 1;
        false
    };
    let r = s
        .store
        .send_qoh(s.shopify_id, SendOptions::default(), Some(&mut progress));
    let r = match r {
        Ok(r) => r,
        Err(e) => panic!("a cancelled Send QOH: {e:?}"),
    };
    assert!(r.cancelled, "{r:?}");
    assert_eq!(r.sent, 2, "one batch of 2: {r:?}");
    assert_eq!(batches, 1);
    assert_eq!(
        s.shopify
            .catalogue()
            .iter()
            .filter(|(_, q)| *q != 0)
            .count(),
        2
    );
    // Manual sync while the cart syncs in real time is refused unless forced.
    go_live(&s);
    let e = s
        .store
        .send_qoh(s.shopify_id, SendOptions::default(), None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Refused, "{e:?}");
}

#[test]
fn get_qoh_creates_the_new_products_and_the_drift_report_finds_what_moved() {
    let s = setup();
    go_live(&s);
    // A hat the client added on WooCommerce only.
    s.woo.set_qoh("HAT", 4);
    // And an XL T-shirt, a new variation of the T-shirt there.
    s.woo.set_variant_qoh("TEE", "TEE-XL", 2);
    let mut pages = 0;
    let mut progress = |_d: i64, _t: i64| {
        pages += 1;
        true
    };
    let r = s
        .store
        .get_qoh(
            s.woo_id,
            GetOptions {
                force: true,
                create_new: true,
            },
            Some(&mut progress),
        )
        .unwrap();
    assert!(pages > 0);
    assert_eq!(r.created, 2, "{r:?}");
    let created: Vec<_> = r
        .created_items
        .iter()
        .map(|c| (c.sku.as_str(), c.qoh))
        .collect();
    assert!(
        created.contains(&("HAT", 4)) && created.contains(&("TEE-XL", 2)),
        "{r:?}"
    );
    assert_eq!(s.store.item_qoh("HAT").unwrap(), 4);
    let xl = s.store.item("TEE-XL").unwrap();
    assert_eq!(
        xl.parent_id,
        Some(s.store.item("TEE").unwrap().id),
        "{xl:?}"
    );
    assert_eq!(xl.qoh, 2);
    assert_eq!(r.updated, 0, "{r:?}");

    // Someone edits Shopify's TEE-M by hand.
    s.shopify.set_qoh("TEE-M", 2);
    let d = s.store.drift(s.shopify_id, false).unwrap();
    assert_eq!(d.items.len(), 1, "{d:?}");
    assert_eq!(
        (
            d.items[0].sku.as_str(),
            d.items[0].cart_qoh,
            d.items[0].expected
        ),
        ("TEE-M", 2, 8)
    );
    assert_eq!(s.shopify.qoh("TEE-M"), Some(2), "a report changes nothing");
    let d = s.store.drift(s.shopify_id, true).unwrap();
    assert_eq!(d.repaired, 1, "{d:?}");
    assert_eq!(s.shopify.qoh("TEE-M"), Some(8));
}

#[test]
fn retryable_error_kinds_are_the_ones_a_host_may_call_again() {
    assert!(ErrorKind::Busy.is_retryable());
    assert!(ErrorKind::Network.is_retryable());
    for k in [
        ErrorKind::InvalidArgument,
        ErrorKind::NotFound,
        ErrorKind::Refused,
        ErrorKind::Cancelled,
        ErrorKind::Database,
    ] {
        assert!(!k.is_retryable(), "{k:?}");
    }
    let s = setup();
    // The controller's interval is 1 ms to 1 hour, as `Store::start_controller` says.
    for bad in [Duration::ZERO, Duration::from_secs(3601)] {
        let e = s.store.start_controller(bad).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e:?}");
        assert!(!e.kind().is_retryable());
    }
    // A Get QOH cancelled by its callback is `Ok`, `cancelled` set, nothing applied.
    s.woo.set_qoh("MUG", 40);
    let mut stop = |_d: i64, _t: i64| false;
    let r = s
        .store
        .get_qoh(s.woo_id, GetOptions::default(), Some(&mut stop))
        .unwrap();
    assert!(r.cancelled && r.updated == 0, "{r:?}");
    assert_eq!(s.store.item_qoh("MUG").unwrap(), 12);
    // A manual run holding the cart makes another workstation's run of it Busy: retryable,
    // and made again once the first ends, it goes.
    let till2 = Store::open(s.store.path()).unwrap();
    let mut busy = None;
    let mut meanwhile = |_d: i64, _t: i64| {
        if busy.is_none() {
            busy = Some(
                till2
                    .send_qoh(s.shopify_id, SendOptions::default(), None)
                    .unwrap_err(),
            );
        }
        true
    };
    s.store
        .send_qoh(s.shopify_id, SendOptions::default(), Some(&mut meanwhile))
        .unwrap();
    let e = busy.unwrap();
    assert_eq!(e.kind(), ErrorKind::Busy, "{e:?}");
    assert!(e.kind().is_retryable());
    let r = till2
        .send_qoh(s.shopify_id, SendOptions::default(), None)
        .unwrap();
    assert_eq!(r.sent, 4, "{r:?}");
    // A network call inside a host transaction is refused, not retryable.
    s.store.begin().unwrap();
    let e = s
        .store
        .send_qoh(s.woo_id, SendOptions::default(), None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Refused, "{e:?}");
    s.store.rollback().unwrap();
}

#[test]
fn a_rust_host_s_mistakes_are_errors_not_panics() {
    let s = setup();
    let kind = |r: inventory_sync::Result<()>| r.unwrap_err().kind();
    assert_eq!(
        Delta::new(0).unwrap_err().kind(),
        ErrorKind::InvalidArgument
    );
    for d in [i64::MIN, i64::MAX] {
        let _ = Delta::new(d).map(|d| {
            s.store
                .adjust_qoh(&Adjustment::new("MUG", d, Reason::Receiving))
        });
    }
    let one = Delta::new(1).unwrap();
    for sku in ["", "   ", "NOPE", "TEE"] {
        let e = s
            .store
            .adjust_qoh(&Adjustment::new(sku, one, Reason::Receiving))
            .unwrap_err();
        assert!(!e.kind().is_retryable(), "{sku:?}: {e:?}");
    }
    let long_ref = "x".repeat(100_000);
    let _ = s
        .store
        .adjust_qoh(&Adjustment::new("MUG", one, Reason::Receiving).host_ref(long_ref));
    let _ = s
        .store
        .adjust_qoh(&Adjustment::new("MUG", one, Reason::OrderImport).origin_cart(9_999));
    assert_eq!(kind(s.store.stack_retry(-1)), ErrorKind::NotFound);
    assert_eq!(kind(s.store.stack_discard(i64::MAX)), ErrorKind::NotFound);
    for json in [
        r#"{"max_publish":-1}"#,
        r#"{"buffer":1e300}"#,
        "[]",
        r#"{"sync":"yes"}"#,
    ] {
        let e = kind(s.store.set_web_fields(s.woo_id, "MUG", json));
        assert_eq!(e, ErrorKind::InvalidArgument, "{json}");
    }
    assert_eq!(kind(s.store.set_cart_sync(0, true)), ErrorKind::NotFound);
    let e = s
        .store
        .send_qoh(-5, SendOptions::default(), None)
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e:?}");
    let e = s.store.drift(12345, false).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::NotFound, "{e:?}");
    for json in [
        r#"{"state":"bypased"}"#,
        r#"{"cart_id":77}"#,
        r#"{"limit":-1}"#,
    ] {
        assert!(s.store.stack_list_json(Some(json)).is_err(), "{json}");
    }
    let e = s.store.set_param("SynchQOH", "maybe").unwrap_err();
    assert_eq!(e.kind(), ErrorKind::InvalidArgument, "{e:?}");
}
