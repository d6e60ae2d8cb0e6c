//! Review of Send QOH's batch read (session 41): each batch reads its items and their web
//! fields in one statement, and asks once a batch whether the cart has anything waiting. The
//! counts sent must be what the store publishes as each batch is read, under each item's own
//! web fields on that cart, and a waiting change must be counted once: by the count, or sent
//! after it, never both.

#[macro_use]
mod common;

use common::*;
use inventory_sync::adapter::{
    CartAdapter, CartError, DeltaSend, QuantityPage, QuantitySet, SendOutcome, UpdateMode,
};
#[path = "../src/adapter/scripted.rs"]
#[allow(dead_code)]
mod scripted;

use inventory_sync::adapter::http_json::HttpJsonAdapter;
use inventory_sync::stack::{Lease, LeaseScope, SqliteStack, WebStack};
use inventory_sync::{Reason, SendOptions, Store};
use std::sync::{Arc, Mutex};

const FORCE: SendOptions = SendOptions { force: true };

/// A cart without keys that takes every count and change, noting each count's SKU, reference
/// and value; it runs `hook` once, after its first call of counts.
#[derive(Default)]
struct Rec {
    sets: Mutex<Vec<(String, Option<String>, i64)>>,
    hook: Mutex<Option<Hook>>,
}

impl Rec {
    fn sets(&self) -> Vec<(String, Option<String>, i64)> {
        self.sets.lock().unwrap().clone()
    }
}

impl CartAdapter for Rec {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::Absolute
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        Ok(d.iter()
            .map(|_| SendOutcome::Applied { qoh: None })
            .collect())
    }
    fn set_quantities(&self, s: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        self.sets.lock().unwrap().extend(
            s.iter()
                .map(|x| (x.sku.clone(), x.remote_ref.clone(), x.qoh)),
        );
        if let Some(h) = self.hook.lock().unwrap().take() {
            h();
        }
        Ok(s.iter()
            .map(|x| SendOutcome::Applied { qoh: Some(x.qoh) })
            .collect())
    }
    fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
        Ok(QuantityPage::default())
    }
}

fn web(store: &Store, cart: inventory_sync::CartId, sku: &str, json: serde_json::Value) {
    store.set_web_fields(cart, sku, &json.to_string()).unwrap();
}

fn sorted(mut v: Vec<(String, Option<String>, i64)>) -> Vec<(String, Option<String>, i64)> {
    v.sort();
    v
}

fn set(sku: &str, r: Option<&str>, n: i64) -> (String, Option<String>, i64) {
    (sku.into(), r.map(str::to_owned), n)
}

/// Another workstation changes web fields while the run is between batches: each later item
/// is sent under its fields as its batch reads them (sync off: not sent; a buffer, a cap and
/// a reference: the count and the reference they give).
#[test]
fn web_fields_changed_between_batches_are_the_ones_each_later_batch_sends() {
    let f = store();
    let rec = Arc::new(Rec::default());
    let c = custom_cart(&f.store, "Rec", rec.clone(), None, Some(1));
    for s in ["A", "B", "C", "D"] {
        item(&f.store, s, 10);
    }
    let other = f.reopen();
    *rec.hook.lock().unwrap() = Some(Box::new(move || {
        web(&other, c, "B", serde_json::json!({"sync": false}));
        web(
            &other,
            c,
            "C",
            serde_json::json!({"buffer": 3, "remote_ref": "c-ref"}),
        );
        web(&other, c, "D", serde_json::json!({"max_publish": 4}));
    }));
    let report = f.store.send_qoh(c, FORCE, None).unwrap();
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(
        sorted(rec.sets()),
        vec![
            set("A", None, 10),
            set("C", Some("c-ref"), 7),
            set("D", None, 4)
        ],
        "B was taken off the cart before its batch; C and D's fields changed before theirs"
    );
}

/// A `Sku` cart is sent its products (the total of their variants, under the product's own
/// fields) and plain items, never a variant; an `Attribute` cart its variants and plain items,
/// never a product. Each under its web fields on that cart, not another cart's; in one batch
/// and in batches of one.
#[test]
fn each_level_is_sent_its_own_items_under_their_fields_on_that_cart() {
    for max in [1, 50] {
        let f = store();
        let (by_sku, by_attr) = (Arc::new(Rec::default()), Arc::new(Rec::default()));
        let s = custom_cart(&f.store, "BySku", by_sku.clone(), Some("sku"), Some(max));
        let a = custom_cart(
            &f.store,
            "ByAttr",
            by_attr.clone(),
            Some("attribute"),
            Some(max),
        );
        // Made out of SKU order: the run sends in SKU order, not in the order items were made.
        item(&f.store, "X", 6);
        item(&f.store, "Y", 2);
        item(&f.store, "P", 0);
        variant(&f.store, "P-2", "P", 4);
        variant(&f.store, "P-1", "P", 3);
        web(&f.store, s, "P", serde_json::json!({"remote_ref": "p-ref"}));
        web(&f.store, s, "P-2", serde_json::json!({"buffer": 1}));
        web(
            &f.store,
            s,
            "X",
            serde_json::json!({"buffer": 2, "remote_ref": "x-ref"}),
        );
        web(
            &f.store,
            a,
            "X",
            serde_json::json!({"remote_ref": "x-attr", "max_publish": 5}),
        );
        web(&f.store, a, "Y", serde_json::json!({"sync": false}));
        web(
            &f.store,
            a,
            "P-1",
            serde_json::json!({"remote_ref": "p1-ref"}),
        );
        let report = f.store.send_qoh(s, FORCE, None).unwrap();
        assert!(report.failures.is_empty(), "{report:?}");
        assert_eq!(
            sorted(by_sku.sets()),
            vec![
                set("P", Some("p-ref"), 6),
                set("X", Some("x-ref"), 4),
                set("Y", None, 2)
            ],
            "Sku cart, {max} a request"
        );
        let mut last = (0, 0);
        let mut progress = |done: i64, total: i64| {
            last = (done, total);
            true
        };
        let report = f.store.send_qoh(a, FORCE, Some(&mut progress)).unwrap();
        assert!(report.failures.is_empty(), "{report:?}");
        assert_eq!(
            last,
            (3, 3),
            "the progress counts the items the cart is sent"
        );
        let skus: Vec<String> = by_attr.sets().into_iter().map(|s| s.0).collect();
        assert_eq!(skus, ["P-1", "P-2", "X"], "sent in SKU order");
        assert_eq!(
            sorted(by_attr.sets()),
            vec![
                set("P-1", Some("p1-ref"), 3),
                set("P-2", None, 4),
                set("X", Some("x-attr"), 5)
            ],
            "Attribute cart, {max} a request"
        );
    }
}

/// A real-time cart `Web` on a keyed memory cart, `max` items a request, with items A, B, C
/// at 10 on the store and the cart.
fn realtime(max: u32, mode: Option<UpdateMode>) -> (Fixture, Arc<Mem>, inventory_sync::CartId) {
    let f = store();
    let mem = Arc::new(Mem {
        mode,
        ..Mem::default()
    });
    for s in ["A", "B", "C"] {
        item(&f.store, s, 10);
        mem.set(s, 10);
    }
    let c = custom_cart(&f.store, "Web", mem.clone(), Some("attribute"), Some(max));
    f.store.set_cart_sync(c, true).unwrap();
    (f, mem, c)
}

/// Sales of some items only wait on a real-time cart: the counts include them, so once sent
/// they are settled with the counts, and nothing of them goes to the cart after.
#[test]
fn sales_waiting_for_some_items_are_counted_once() {
    for max in [1, 50] {
        let (f, mem, c) = realtime(max, None);
        adjust(&f.store, "B", -2, Reason::PosSale);
        adjust(&f.store, "B", -1, Reason::PosSale);
        assert_eq!(records(&f.store, c).len(), 2);
        let report = f.store.send_qoh(c, FORCE, None).unwrap();
        assert!(report.failures.is_empty(), "{report:?}");
        drain(&f.store);
        assert_eq!(
            (mem.get("A"), mem.get("B"), mem.get("C")),
            (10, 7, 10),
            "{max} a request: each sale once"
        );
        assert_eq!(mem.calls(), 0, "no change sent on top of the counts");
    }
}

/// A sale made (on another workstation) while Send QOH is between batches, of an item of a
/// later batch, on a cart with nothing waiting when the run began: the later count includes
/// it, and the sale is not sent on top.
#[test]
fn a_sale_made_between_batches_of_a_later_item_is_counted_once() {
    let (f, mem, c) = realtime(1, None);
    let other = f.reopen();
    *mem.on_set.lock().unwrap() = Some(Box::new(move || {
        adjust(&other, "C", -4, Reason::PosSale);
    }));
    let report = f.store.send_qoh(c, FORCE, None).unwrap();
    assert!(report.failures.is_empty(), "{report:?}");
    drain(&f.store);
    assert_eq!(mem.get("C"), 6, "the sale taken off once");
    assert_eq!(f.store.item_qoh("C").unwrap(), 6);
}

/// A sale whose send failed waits in a retry group on a cart without keys; Send QOH's count
/// includes it, so the group is settled by the count and never sent after it.
#[test]
fn a_sale_waiting_to_retry_is_settled_by_the_count_that_includes_it() {
    for max in [1, 50] {
        let (f, mem, c) = realtime(max, Some(UpdateMode::Absolute));
        adjust(&f.store, "B", -3, Reason::PosSale);
        // Tried again in a minute: the pass leaves it waiting in its group.
        f.store.set_param("RetryBaseMs", "60000").unwrap();
        f.store.set_param("RetryMaxMs", "60000").unwrap();
        *mem.retry_next.lock().unwrap() = 1;
        f.store.run_stack(None).unwrap();
        assert_eq!(mem.get("B"), 10, "the tries were not taken");
        let waiting = stack(&f.store, None);
        assert!(
            waiting.len() == 1 && waiting[0]["state"] == "pending",
            "the sale waits to retry: {waiting:?}"
        );
        let report = f.store.send_qoh(c, FORCE, None).unwrap();
        assert!(report.failures.is_empty(), "{max}: {report:?}");
        f.store.set_param("RetryBaseMs", "0").unwrap();
        f.store.set_param("RetryMaxMs", "0").unwrap();
        drain(&f.store);
        assert_eq!(mem.get("B"), 7, "{max} a request: the sale taken off once");
    }
}

/// Another workstation deletes an item of a later batch while Send QOH runs and gives a
/// later product its first variant (ids are never given again, so the run's list of ids
/// cannot read the variant in the deleted item's place): the deleted item is not sent, and
/// the `Sku` cart is sent the product's total with the new variant, never the variant.
#[test]
fn an_item_deleted_and_a_variant_made_mid_run_on_a_sku_cart() {
    let f = store();
    let rec = Arc::new(Rec::default());
    let c = custom_cart(&f.store, "BySku", rec.clone(), Some("sku"), Some(1));
    item(&f.store, "A", 1);
    item(&f.store, "P", 0);
    item(&f.store, "C", 3);
    let other = f.reopen();
    *rec.hook.lock().unwrap() = Some(Box::new(move || {
        other.delete_item("C").unwrap();
        let made = other.upsert_item_json(
            &serde_json::json!({"sku": "V", "qoh": 2, "parent_sku": "P"}).to_string(),
        );
        assert!(made.is_ok(), "{made:?}");
    }));
    let report = f.store.send_qoh(c, FORCE, None).unwrap();
    assert!(report.failures.is_empty(), "{report:?}");
    assert_eq!(
        sorted(rec.sets()),
        vec![set("A", None, 1), set("P", None, 2)],
        "the variant V is not sent; its product P is, with V's units"
    );
}

/// A controller whose clock runs more than Send QOH's hold (15 minutes) ahead does not see the
/// hold, and leases a sale made between the run's batches, on a cart without keys, and
/// stalls with its request on the way. The later batch finds the sale sent without an answer:
/// the item is left out (its sale held as uncertain once the lease is seen to have lapsed),
/// and when the late request lands the cart shows what the store has. Its count sent, the sale landing after it was taken twice.
#[test]
fn a_sale_a_controller_sends_between_batches_is_not_counted_under_it() {
    let f = store();
    let shop = DeltaShop::new(UpdateMode::RelativeUnkeyed);
    let c = custom_cart(&f.store, "Shop", shop.clone(), Some("attribute"), Some(1));
    f.store.set_cart_sync(c, true).unwrap();
    for s in ["U", "W"] {
        item(&f.store, s, 5);
        shop.set(s, 5);
    }
    let other = f.reopen();
    let ahead = SqliteStack::open(&f.dir.path().join("store.db"), &Default::default()).unwrap();
    let leased: Arc<Mutex<Option<Lease>>> = Arc::default();
    let keep = leased.clone();
    shop.after_set.lock().unwrap().push(Box::new(move || {
        adjust(&other, "W", -3, Reason::PosSale);
        let scope = LeaseScope {
            workstation: "ahead".into(),
            shared: true,
            stale_before: 0,
        };
        let hour_ahead = now_ms() + 3_600_000;
        let lease = ahead.lease(c, 50, &scope, hour_ahead, 60_000).unwrap();
        assert_eq!(lease.sends.len(), 1, "the clock ahead took the sale");
        *keep.lock().unwrap() = Some(lease);
    }));
    let report = f.store.send_qoh(c, FORCE, None).unwrap();
    let lease = leased
        .lock()
        .unwrap()
        .take()
        .expect("leased between the batches");
    assert_eq!(report.sent, 1, "{report:?}");
    assert_eq!(report.failures.len(), 1, "W is left out: {report:?}");
    // The sale is still on the other controller's lease: not marked, and not said to be.
    assert_eq!(report.uncertain, 0, "{report:?}");
    let why = format!("{:?}", report.failures[0]);
    assert!(
        why.contains("is sending a change of this item") && !why.contains("marked"),
        "{why}"
    );
    assert_eq!(shop.get("W"), 5, "W's count was not sent");
    shop.lands(&lease);
    drain(&f.store);
    assert_eq!(
        (shop.get("W"), f.store.item_qoh("W").unwrap()),
        (2, 2),
        "the sale taken off the cart once"
    );
}

/// An `http_json` cart answering a batch of counts with its first result in its place and the
/// others swapped (a plugin collecting results in a map): each outcome is its own count's,
/// matched by key. Read by place once the first key matched, the refused count was taken as
/// set and the set one as refused.
#[test]
fn results_partly_in_place_each_settle_their_own_count() {
    let server = scripted::Scripted::start(vec![(
        200,
        r#"{"results":[{"key":"s1","status":"applied","qoh":7},
                       {"key":"s3","status":"applied","qoh":2},
                       {"key":"s2","status":"unknown_sku"}]}"#,
    )]);
    let a = HttpJsonAdapter::new(&server.url, None, std::time::Duration::from_secs(5)).unwrap();
    let count = |key: &str, sku: &str, qoh: i64| QuantitySet {
        key: key.into(),
        sku: sku.into(),
        remote_ref: None,
        qoh,
        expected: None,
    };
    let out = a
        .set_quantities(&[
            count("s1", "A", 7),
            count("s2", "GONE", 5),
            count("s3", "C", 2),
        ])
        .unwrap();
    assert_eq!(out[0], SendOutcome::Applied { qoh: Some(7) }, "{out:?}");
    assert!(
        matches!(&out[1], SendOutcome::Failed { message } if message.contains("GONE")),
        "{out:?}"
    );
    assert_eq!(out[2], SendOutcome::Applied { qoh: Some(2) }, "{out:?}");
    server.finish();
}
