//! Races and edge cases between manual sync, the controller and the catalogue, found in
//! review: each test failed before its fix.
#![cfg(feature = "emulator")]

mod common;

use common::*;
use inventory_sync::adapter::DeltaSend;
use inventory_sync::stack::{LeaseScope, SqliteStack, WebStack};
use inventory_sync::{
    CartAdapter, CartId, ErrorKind, GetOptions, Reason, SendOptions, StackState, Store, UpdateMode,
};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};

fn register(s: &Store, m: Arc<Mem>) {
    s.register_adapter("mem", move |_| Ok(m.clone() as Arc<dyn CartAdapter>));
}

fn mem_cart(s: &Store, level: &str, max: u32, sync: bool) -> CartId {
    let id = s
        .upsert_cart_json(
            &serde_json::json!({"name": "M", "adapter": "mem", "max_items_to_send": max,
                "capabilities": {"send": true, "get": true, "realtime": level}})
            .to_string(),
        )
        .unwrap();
    if sync {
        s.set_cart_sync(id, true).unwrap();
    }
    id
}

#[test]
fn get_qoh_counts_a_waiting_record_once_while_a_controller_runs() {
    let f = store();
    let s = &f.store;
    let mem = Arc::new(Mem::default());
    register(s, mem.clone());
    let cart = mem_cart(s, "attribute", 50, true);
    item(s, "X", 12);
    mem.set("X", 12);
    adjust(s, "X", -2, Reason::PosSale); // QOH 10, a -2 waits
    s.set_cart_sync(cart, false).unwrap();
    let other = f.reopen();
    register(&other, mem.clone());
    let sent_meanwhile = Arc::new(Mutex::new(None));
    let seen = sent_meanwhile.clone();
    *mem.on_fetch.lock().unwrap() = Some(Box::new(move || {
        // A background controller's pass while Get QOH reads the cart.
        *seen.lock().unwrap() = Some(other.run_stack(None).unwrap().sent);
    }));
    s.get_qoh(cart, GetOptions::default(), None).unwrap();
    assert_eq!(
        *sent_meanwhile.lock().unwrap(),
        Some(0),
        "the cart is held during Get QOH"
    );
    assert_eq!(s.item_qoh("X").unwrap(), 10, "cart 12 plus the waiting -2");
    drain(s);
    assert_eq!(mem.get("X"), 10);
}

#[test]
fn get_qoh_under_a_cap_applies_what_the_cart_sold() {
    let f = store();
    let s = &f.store;
    let mem = Arc::new(Mem::default());
    register(s, mem.clone());
    let cart = mem_cart(s, "attribute", 50, false);
    item(s, "X", 100);
    s.set_web_fields(cart, "X", r#"{"max_publish":20,"buffer":3}"#)
        .unwrap();
    mem.set("X", 19); // shown 20, one sold on the web
    s.get_qoh(cart, GetOptions::default(), None).unwrap();
    assert_eq!(s.item_qoh("X").unwrap(), 99);
}

#[test]
fn one_item_never_goes_twice_in_one_batch() {
    let f = store();
    let s = &f.store;
    let mem = Arc::new(Mem {
        mode: Some(UpdateMode::Absolute),
        ..Default::default()
    });
    register(s, mem.clone());
    mem_cart(s, "attribute", 50, true);
    item(s, "X", 10);
    mem.set("X", 10);
    adjust(s, "X", -1, Reason::PosSale);
    *mem.retry_next.lock().unwrap() = 1;
    s.run_stack(None).unwrap(); // the -1 waits for a retry (due at once: no back-off here)
    adjust(s, "X", -2, Reason::PosSale);
    drain(s);
    for batch in mem.batches.lock().unwrap().iter() {
        let skus: HashSet<&String> = batch.iter().map(|(sku, _)| sku).collect();
        assert_eq!(
            skus.len(),
            batch.len(),
            "an item twice in one request: {batch:?}"
        );
    }
    assert_eq!(mem.get("X"), 7);
}

#[test]
fn deleting_a_variant_tells_a_sku_cart_the_new_total() {
    let f = store();
    let s = &f.store;
    let mem = Arc::new(Mem::default());
    register(s, mem.clone());
    let cart = mem_cart(s, "sku", 50, true);
    item(s, "P", 0);
    variant(s, "V1", "P", 5);
    variant(s, "V2", "P", 3);
    s.send_qoh(cart, SendOptions { force: true }, None).unwrap();
    assert_eq!(mem.get("P"), 8);
    s.delete_item("V1").unwrap();
    drain(s);
    assert_eq!(mem.get("P"), 3);
}

#[test]
fn a_manual_hold_is_shown_refuses_a_second_run_and_lapses_if_its_process_died() {
    let f = store();
    let s = &f.store;
    let mem = Arc::new(Mem::default());
    register(s, mem.clone());
    let cart = mem_cart(s, "attribute", 50, true);
    item(s, "A", 5);
    mem.set("A", 5);
    adjust(s, "A", -1, Reason::PosSale);
    let db = rusqlite::Connection::open(f.dir.path().join("store.db")).unwrap();
    // Another process holds the cart for a Send QOH.
    db.execute(
        "UPDATE carts SET manual_until = 9e15, manual_owner = 'elsewhere'",
        [],
    )
    .unwrap();
    let r = s.run_stack(None).unwrap();
    assert_eq!(r.sent, 0);
    assert!(
        r.carts[0].error.as_deref().unwrap().contains("manual"),
        "{r:?}"
    );
    let err = s
        .send_qoh(cart, SendOptions { force: true }, None)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Busy);
    // That process died: its hold lapses at its deadline and the cart is sent to again.
    db.execute("UPDATE carts SET manual_until = 1", []).unwrap();
    assert_eq!(s.run_stack(None).unwrap().sent, 1);
    assert_eq!(mem.get("A"), 4);
    // A finished run leaves no hold behind.
    s.send_qoh(cart, SendOptions { force: true }, None).unwrap();
    let held: i64 = db
        .query_row("SELECT manual_until FROM carts", [], |r| r.get(0))
        .unwrap();
    assert_eq!(held, 0);
}

#[test]
fn a_send_qoh_the_cart_refused_keeps_the_waiting_records() {
    let f = store();
    let s = &f.store;
    let mem = Arc::new(Mem::default());
    register(s, mem.clone());
    let cart = mem_cart(s, "attribute", 50, true);
    item(s, "OK", 5);
    item(s, "NO", 5);
    mem.set("OK", 5);
    mem.set("NO", 5);
    adjust(s, "OK", -1, Reason::PosSale);
    adjust(s, "NO", -1, Reason::PosSale);
    mem.refuse_set.lock().unwrap().insert("NO".into());
    let r = s.send_qoh(cart, SendOptions { force: true }, None).unwrap();
    assert_eq!((r.sent, r.failed, r.superseded), (1, 1, 1));
    assert_eq!(
        records(s, cart),
        vec![("NO".to_string(), -1)],
        "NO's record was not superseded"
    );
    drain(s);
    assert_eq!((mem.get("OK"), mem.get("NO")), (4, 4));
}

#[test]
fn a_lapsed_send_to_a_cart_without_keys_ends_uncertain_not_resent() {
    let f = store();
    let s = &f.store;
    let mem = Arc::new(Mem {
        mode: Some(UpdateMode::RelativeUnkeyed),
        ..Default::default()
    });
    register(s, mem.clone());
    let cart = mem_cart(s, "attribute", 50, true);
    item(s, "U", 5);
    mem.set("U", 5);
    adjust(s, "U", -3, Reason::PosSale);
    // A controller leased it long ago and died (the cart may have applied it).
    let dead = SqliteStack::open(&f.dir.path().join("store.db"), &Default::default()).unwrap();
    let scope = LeaseScope {
        workstation: "dead".into(),
        shared: true,
        stale_before: 0,
    };
    assert_eq!(
        dead.lease(cart, 50, &scope, 1_000, 60_000)
            .unwrap()
            .sends
            .len(),
        1
    );
    let r = s.run_stack(None).unwrap();
    assert_eq!((r.sent, r.uncertain), (0, 1));
    assert_eq!(mem.calls(), 0, "not sent blindly again");
    assert_eq!(s.stack_count(cart, StackState::Uncertain).unwrap(), 1);
    let rec = &stack(s, None)[0];
    assert!(
        rec["last_response"]
            .as_str()
            .unwrap()
            .contains("controller stopped"),
        "{rec}"
    );
}

/// A controller's lease lapses while its request is on the way (it stalled: its renewals
/// could not be written), and Send QOH takes the cart over meanwhile. The count includes that
/// change: set first, the late request then landed on top of it and the cart took the sale
/// twice. Sent again under its key before the count, the late copy is a duplicate.
#[test]
fn a_change_a_stalled_controller_may_still_deliver_is_sent_again_under_its_key_before_the_count() {
    use inventory_sync::adapter::http_json::HttpJsonAdapter;
    use inventory_sync::emulator::{Emulator, Fault};
    let f = store();
    let e = Emulator::start().unwrap();
    let id = cart(&f.store, &e, "A", "attribute");
    item(&f.store, "S", 10);
    item(&f.store, "T", 10);
    e.set_qoh("S", 10);
    e.set_qoh("T", 4);
    adjust(&f.store, "S", 5, Reason::Receiving);
    let in_flight = stalled_send(&f.store, id);
    // Its next try fails (a 500: nothing applied), so the change waits as a retry.
    e.inject(Fault::Status {
        status: 500,
        count: 1,
        retry_after: None,
    });
    assert_eq!(f.store.run_stack(None).unwrap().retried, 1);
    let sent = f
        .store
        .send_qoh(id, SendOptions { force: true }, None)
        .unwrap();
    assert!(sent.sent == 2 && sent.failures.is_empty(), "{sent:?}");
    // The stalled request lands now.
    let late = HttpJsonAdapter::new(&e.url(), None, std::time::Duration::from_secs(5)).unwrap();
    late.apply_deltas(&in_flight).unwrap();
    drain(&f.store);
    assert_eq!(
        (e.qoh("S"), e.qoh("T"), f.store.item_qoh("S").unwrap()),
        (Some(15), Some(10), 15),
        "the cart took the receipt once: {:#?}",
        stack(&f.store, None)
    );
    assert_eq!(f.store.stack_count(id, StackState::Waiting).unwrap(), 0);
}

/// The same on a cart without keys, which cannot tell a late request from a new one: Send QOH
/// does not send that item its count, marks the change uncertain, and says to check the
/// cart; the next Send QOH sets it. With no controller running, nothing is stuck.
#[test]
fn on_a_cart_without_keys_an_item_a_stalled_controller_sent_is_held_back_once() {
    let f = store();
    let (blind, id) = blind_cart(&f.store);
    item(&f.store, "S", 10);
    blind.qoh.lock().unwrap().insert("S".into(), 10);
    adjust(&f.store, "S", 5, Reason::Receiving);
    let _in_flight = stalled_send(&f.store, id);
    f.store.set_cart_sync(id, false).unwrap();
    let first = f.store.send_qoh(id, SendOptions::default(), None).unwrap();
    assert!(
        first.sent == 0
            && first.failures.len() == 1
            && first.failures[0].message.contains("check the cart"),
        "{first:?}"
    );
    assert_eq!(f.store.stack_count(id, StackState::Uncertain).unwrap(), 1);
    assert_eq!(blind.qoh.lock().unwrap()["S"], 10, "nothing sent");
    let second = f.store.send_qoh(id, SendOptions::default(), None).unwrap();
    assert!(second.sent == 1 && second.failures.is_empty(), "{second:?}");
    assert_eq!(blind.qoh.lock().unwrap()["S"], 15);
    assert_eq!(f.store.stack_count(id, StackState::Uncertain).unwrap(), 0);
}

/// A cart without keys in memory, its real-time sync on.
fn blind_cart(s: &Store) -> (Arc<Mem>, CartId) {
    let blind = Arc::new(Mem {
        mode: Some(UpdateMode::RelativeUnkeyed),
        ..Default::default()
    });
    register(s, blind.clone());
    (blind, mem_cart(s, "attribute", 50, true))
}

/// What waits for `cart`, leased by a controller that then stalls with its request on the
/// way: leased at a time long past, the lease has lapsed. Returns the request it sent.
fn stalled_send(store: &Store, cart: CartId) -> Vec<DeltaSend> {
    let stalled = SqliteStack::open(store.path(), &Default::default()).unwrap();
    let scope = LeaseScope {
        workstation: store.workstation(),
        shared: false,
        stale_before: 0,
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let lease = stalled.lease(cart, 50, &scope, now - 10_000, 100).unwrap();
    lease
        .sends
        .iter()
        .map(|s| DeltaSend {
            key: s.key.clone(),
            sku: s.sku.clone(),
            remote_ref: None,
            delta: s.delta,
        })
        .collect()
}

/// A stalled controller's change whose retry met a rate limit (no attempt counted) is still
/// sent again under its key before the count: the count then left it out and the stalled
/// request landed on top.
#[test]
fn a_stalled_change_whose_retry_was_rate_limited_is_sent_again_under_its_key_first() {
    use inventory_sync::adapter::http_json::HttpJsonAdapter;
    use inventory_sync::emulator::{Emulator, Fault};
    let f = store();
    let e = Emulator::start().unwrap();
    let id = cart(&f.store, &e, "A", "attribute");
    item(&f.store, "S", 10);
    e.set_qoh("S", 10);
    adjust(&f.store, "S", 5, Reason::Receiving);
    let in_flight = stalled_send(&f.store, id);
    e.inject(Fault::Status {
        status: 429,
        count: 1,
        retry_after: Some(1),
    });
    assert_eq!(f.store.run_stack(None).unwrap().sent, 0);
    let sent = f
        .store
        .send_qoh(id, SendOptions { force: true }, None)
        .unwrap();
    assert!(sent.sent == 1 && sent.failures.is_empty(), "{sent:?}");
    let late = HttpJsonAdapter::new(&e.url(), None, std::time::Duration::from_secs(5)).unwrap();
    late.apply_deltas(&in_flight).unwrap();
    assert_eq!(
        (e.qoh("S"), f.store.item_qoh("S").unwrap()),
        (Some(15), 15),
        "the cart took the receipt twice"
    );
}

/// On a cart without keys, a Send QOH that fails before anything reached the cart (it is
/// down) holds nothing back: the change stays for the next run to hold back and say so. It
/// was marked uncertain by the failed run, whose report no one saw, and the next run set the
/// count over it without a word.
#[test]
fn a_failed_send_qoh_does_not_spend_the_hold_back_of_a_stalled_change() {
    let f = store();
    let (blind, id) = blind_cart(&f.store);
    item(&f.store, "S", 10);
    item(&f.store, "T", 4);
    adjust(&f.store, "S", -3, Reason::PosSale);
    let _in_flight = stalled_send(&f.store, id);
    f.store.set_cart_sync(id, false).unwrap();
    *blind.down.lock().unwrap() = true;
    assert!(f.store.send_qoh(id, SendOptions::default(), None).is_err());
    assert_eq!(f.store.stack_count(id, StackState::Uncertain).unwrap(), 0);
    *blind.down.lock().unwrap() = false;
    let second = f.store.send_qoh(id, SendOptions::default(), None).unwrap();
    assert!(
        second.failures.len() == 1 && second.failures[0].message.contains("check the cart"),
        "{second:?}"
    );
}

/// Changes sent before without settling go again under their keys before Send QOH's count, in
/// requests of at most the cart's `max_items_to_send`: an item with two such changes in a
/// batch of one went as one request of two, which a cart that holds to its limit refuses, and
/// then the item was never sent its count, run after run. (Since 2026-12-03 an item has one
/// such change at most: a later one waits behind it, unsent.)
#[test]
fn changes_sent_again_before_a_count_keep_to_the_carts_batch_size() {
    let f = store();
    let shop = Arc::new(Mem::default());
    let id = custom_cart(&f.store, "shop", shop.clone(), Some("attribute"), Some(1));
    f.store.set_cart_sync(id, true).unwrap();
    f.store.set_param("RetryBaseMs", "3600000").unwrap();
    f.store.set_param("RetryMaxMs", "3600000").unwrap();
    item(&f.store, "S", 10);
    shop.set("S", 10);
    // A sale tried and answered "later" (to be tried again in an hour); the next waits
    // behind it.
    *shop.retry_next.lock().unwrap() = 1;
    adjust(&f.store, "S", -1, Reason::PosSale);
    f.store.run_stack(None).unwrap();
    adjust(&f.store, "S", -2, Reason::PosSale);
    assert_eq!(f.store.run_stack(None).unwrap().sent, 0);
    shop.batches.lock().unwrap().clear();
    let sent = f
        .store
        .send_qoh(id, SendOptions { force: true }, None)
        .unwrap();
    assert!(sent.sent == 1 && sent.failures.is_empty(), "{sent:?}");
    let batches = shop.batches.lock().unwrap().clone();
    assert!(batches.iter().all(|b| b.len() == 1), "{batches:?}");
    assert_eq!((shop.get("S"), f.store.item_qoh("S").unwrap()), (7, 7));

    // Two items, each with a change sent before, the second's sent again rate limited for
    // ten minutes: the run stops there, and the cart is asked nothing more (it was sent the
    // next request at once, and the report said nothing of the limit).
    item(&f.store, "T", 10);
    shop.set("T", 10);
    *shop.retry_next.lock().unwrap() = 2;
    adjust(&f.store, "S", -1, Reason::PosSale);
    adjust(&f.store, "T", -1, Reason::PosSale);
    f.store.run_stack(None).unwrap();
    let calls = shop.calls();
    *shop.limit_call.lock().unwrap() = Some(calls + 2);
    let sent = f
        .store
        .send_qoh(id, SendOptions { force: true }, None)
        .unwrap();
    assert_eq!(
        shop.calls(),
        calls + 2,
        "{:?}",
        shop.batches.lock().unwrap()
    );
    assert!(
        sent.sent == 1 && sent.error.as_deref().is_some_and(|e| e.contains("429")),
        "{sent:?}"
    );
}

/// A cart switched to another shop (or level) while a Get QOH reads it would be left with the
/// counts the run goes on keeping from the old shop, which the next Get QOH of the new one
/// takes as what it last had (a count of 5 kept there, the new shop counting 10: 5 units made
/// from nothing). The switch is refused while the run holds the cart, as deleting it is; new
/// credentials for the same shop are not.
#[test]
fn a_cart_is_not_switched_to_another_shop_or_level_while_a_manual_run_holds_it() {
    let f = store();
    let s = &f.store;
    let mem = Arc::new(Mem::default());
    register(s, mem.clone());
    let cart = mem_cart(s, "attribute", 50, false);
    item(s, "X", 10);
    mem.set("X", 5);
    let spec = |shop: &str, level: &str, token: &str| {
        serde_json::json!({"name": "M", "adapter": "mem", "shop": shop, "token": token,
            "capabilities": {"send": true, "get": true, "realtime": level}})
        .to_string()
    };
    s.upsert_cart_json(&spec("one", "attribute", "t1")).unwrap();
    let other = f.reopen();
    register(&other, mem.clone());
    let answers = Arc::new(Mutex::new(Vec::new()));
    let seen = answers.clone();
    *mem.on_fetch.lock().unwrap() = Some(Box::new(move || {
        let mut seen = seen.lock().unwrap();
        for (shop, level, token) in [
            ("two", "attribute", "t1"),
            ("one", "sku", "t1"),
            ("one", "attribute", "t2"),
        ] {
            let saved = other.upsert_cart_json(&spec(shop, level, token));
            seen.push(saved.map_err(|e| e.kind()));
        }
    }));
    s.get_qoh(cart, GetOptions::default(), None).unwrap();
    assert_eq!(
        *answers.lock().unwrap(),
        vec![Err(ErrorKind::Busy), Err(ErrorKind::Busy), Ok(cart)],
        "another shop and another level wait for the run; new credentials do not"
    );
    assert_eq!(s.item_qoh("X").unwrap(), 5);
}

/// The same switch saved between a run reading the cart (and building its adapter) and
/// taking its hold: the save sees no hold yet. The run then refuses to go on with the old
/// shop (`Busy`, "run it again"): before, it held the cart, applied the old shop's count and
/// kept it past the save, and the new shop's Get QOH measured from it (a cart capped at 20
/// that the old shop counted 15 and the new one 20: QOH 100 became 95, then the new shop's
/// 20 was read as 5 units returned there).
#[test]
fn a_cart_saved_as_a_manual_run_starts_stops_the_run() {
    use std::sync::atomic::{AtomicBool, Ordering};
    let f = store();
    let s = &f.store;
    let (one, two) = (Arc::new(Mem::default()), Arc::new(Mem::default()));
    one.set("X", 15);
    two.set("X", 20);
    let spec = |shop: &str| {
        serde_json::json!({"name": "M", "adapter": "mem", "shop": shop,
            "capabilities": {"send": true, "get": true, "realtime": "attribute"}})
        .to_string()
    };
    let by_shop = move |c: &inventory_sync::Cart| -> inventory_sync::Result<Arc<dyn CartAdapter>> {
        Ok(match c.setting("shop") {
            Some("one") => one.clone(),
            _ => two.clone(),
        })
    };
    let other = f.reopen();
    other.register_adapter("mem", by_shop.clone());
    // The other workstation saves the switch the moment this one's run builds its adapter.
    let armed = Arc::new(AtomicBool::new(false));
    let saved = Arc::new(Mutex::new(None));
    let (arm, said, switch) = (armed.clone(), saved.clone(), spec("two"));
    s.register_adapter("mem", move |c| {
        if arm.swap(false, Ordering::SeqCst) {
            *said.lock().unwrap() = Some(other.upsert_cart_json(&switch).map_err(|e| e.kind()));
        }
        by_shop(c)
    });
    let cart = s.upsert_cart_json(&spec("one")).unwrap();
    item(s, "X", 100);
    s.set_web_fields(cart, "X", r#"{"max_publish":20}"#)
        .unwrap();
    armed.store(true, Ordering::SeqCst);
    let run = s.get_qoh(cart, GetOptions::default(), None);
    assert_eq!(
        *saved.lock().unwrap(),
        Some(Ok(cart)),
        "the save went in first"
    );
    assert_eq!(run.unwrap_err().kind(), ErrorKind::Busy);
    assert_eq!(
        s.item_qoh("X").unwrap(),
        100,
        "nothing of the old shop applied"
    );
    s.get_qoh(cart, GetOptions::default(), None).unwrap();
    assert_eq!(
        s.item_qoh("X").unwrap(),
        100,
        "the new shop shows the 20 it is shown"
    );
}
