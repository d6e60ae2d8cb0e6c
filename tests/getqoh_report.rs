//! What the Get QOH report tells a store owner (DESIGN §3 rule 8, `invsync_get_qoh`): which
//! items it moved and created, and for each count it did not apply, once, what is true and
//! what to do. Read as a host reads it: the report's JSON.
#![cfg(feature = "emulator")]

#[macro_use]
mod common;
mod platform;

use common::*;
use inventory_sync::adapter::{CartAdapter, CartError, CataloguePage, QuantityPage};
use inventory_sync::emulator::Emulator;
use inventory_sync::{CartId, GetOptions};
use serde_json::{json, Value};
use std::sync::Arc;

fn forced(create_new: bool) -> GetOptions {
    GetOptions {
        force: true,
        create_new,
    }
}

/// The report as a host reads it (`invsync_get_qoh` copies out this JSON).
fn get(f: &Fixture, cart: CartId, create_new: bool) -> Value {
    let r = f.store.get_qoh(cart, forced(create_new), None).unwrap();
    let kept: Value = serde_json::from_str(&f.store.last_report().unwrap()).unwrap();
    assert_eq!(kept, serde_json::to_value(&r).unwrap());
    kept
}

/// Every `why` the report gives `sku` in `not_applied`.
fn whys(r: &Value, sku: &str) -> Vec<String> {
    r["not_applied"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["sku"] == sku)
        .map(|n| n["why"].as_str().unwrap().to_owned())
        .collect()
}

/// A Get QOH that moved two items and created one said "2 updated, 1 created": the owner
/// could not see which, nor by how much, to check the cart's counts before they reach every
/// other cart. The report names each moved item with its QOH before and after, and each
/// created one with its QOH, the existing keys as they were.
#[test]
fn the_report_names_each_item_moved_with_its_qoh_before_and_after_and_each_item_created() {
    let f = store();
    let e = Emulator::start().unwrap();
    item(&f.store, "A", 10);
    item(&f.store, "B", 5);
    item(&f.store, "C", 4);
    let c = cart(&f.store, &e, "Web", "none");
    e.set_qoh("A", 7); // three sold on the cart
    e.set_qoh("B", 8); // three returned there
    e.set_qoh("C", 4);
    e.set_qoh("NEW", 3);
    let r = get(&f, c, true);
    assert_eq!(
        (&r["updated"], &r["created"], &r["unchanged"]),
        (&json!(2), &json!(1), &json!(1)),
        "{r}"
    );
    assert_eq!(
        r["updated_items"],
        json!([{"sku": "A", "before": 10, "after": 7}, {"sku": "B", "before": 5, "after": 8}]),
        "{r}"
    );
    assert_eq!(r["created_items"], json!([{"sku": "NEW", "qoh": 3}]), "{r}");
    assert_eq!(
        (&r["updated_items_left_out"], &r["created_items_left_out"]),
        (&json!(0), &json!(0)),
        "{r}"
    );
    assert_eq!(
        (
            f.store.item_qoh("A").unwrap(),
            f.store.item_qoh("B").unwrap(),
            f.store.item_qoh("NEW").unwrap()
        ),
        (7, 8, 3)
    );
    // Nothing moved since: nothing is named.
    let again = get(&f, c, true);
    assert_eq!(
        (&again["updated_items"], &again["created_items"]),
        (&json!([]), &json!([])),
        "{again}"
    );
}

/// A catalogue of thousands: a first Get QOH creating it all would copy every item into the
/// host's buffer. Each list holds the first 1,000, and says how many more there were, while
/// the counts stay whole.
#[test]
fn the_lists_of_items_moved_and_created_stop_at_1000_and_say_how_many_more() {
    let f = store();
    let e = Emulator::start().unwrap();
    let c = cart(&f.store, &e, "Web", "none");
    for i in 0..1003 {
        e.set_qoh(&format!("N{i:05}"), 2);
    }
    let first = get(&f, c, true);
    assert_eq!(first["created"], 1003, "{}", first["created"]);
    let created = first["created_items"].as_array().unwrap();
    assert_eq!(created.len(), 1000);
    assert_eq!(created[0], json!({"sku": "N00000", "qoh": 2}));
    assert_eq!(first["created_items_left_out"], 3);
    for i in 0..1003 {
        e.set_qoh(&format!("N{i:05}"), 1);
    }
    let second = get(&f, c, false);
    assert_eq!(second["updated"], 1003);
    let updated = second["updated_items"].as_array().unwrap();
    assert_eq!(updated.len(), 1000);
    assert_eq!(
        updated[999],
        json!({"sku": "N00999", "before": 2, "after": 1})
    );
    assert_eq!(second["updated_items_left_out"], 3);
    assert_eq!(second["created_items_left_out"], 0);
}

/// A sale sent to a cart that did not have the SKU was refused for good (`unknown_sku`:
/// bypassed at once). The owner then adds the product on the cart with the stock as the store
/// has it, the sale already off. Get QOH said the sale "may or may not" be in the cart's count
/// and to let the stack deliver it or retry it: retried, it took the unit off there a second
/// time. It says the cart's count does not include it, and when to discard it rather than
/// retry it; discarded, the next Get QOH finds the item in step.
#[test]
fn a_change_the_cart_refused_for_good_is_said_to_be_not_in_its_count_with_what_to_do() {
    let (f, e, c) = sale_refused_for_good();
    let held = stack(&f.store, None);
    // The product made on the cart, with the store's 9.
    e.set_qoh("X", 9);
    let r = get(&f, c, false);
    let why = whys(&r, "X");
    assert_eq!(why.len(), 1, "{r}");
    assert!(
        why[0].contains("refused by the cart for good")
            && why[0].contains("does not include")
            && why[0].contains("discard")
            && !why[0].contains("may or may not"),
        "{r}"
    );
    assert_eq!(f.store.item_qoh("X").unwrap(), 9);
    // As it says: its count allows for the sale, so the sale is discarded, and all is in step.
    f.store
        .stack_discard(held[0]["id"].as_i64().unwrap())
        .unwrap();
    let after = get(&f, c, false);
    assert_eq!(
        (&after["unchanged"], &after["not_applied"]),
        (&json!(1), &json!([])),
        "{after}"
    );
    assert_eq!((f.store.item_qoh("X").unwrap(), e.qoh("X")), (9, Some(9)));
}

/// A SKU the cart lists on two products ("S" and "S ", padded) is two counts of one item,
/// neither applied: it was listed twice in `not_applied`, the same line each time, without
/// the counts. It is listed once, with both counts.
#[test]
fn a_sku_the_cart_lists_twice_is_listed_once_with_both_counts() {
    let f = store();
    let e = Emulator::start().unwrap();
    item(&f.store, "S", 10);
    let c = cart(&f.store, &e, "Web", "none");
    e.set_qoh("S", 10);
    e.set_qoh("S ", 4);
    let r = get(&f, c, false);
    let all = r["not_applied"].as_array().unwrap();
    assert_eq!(all.len(), 1, "{r}");
    let why = all[0]["why"].as_str().unwrap();
    assert!(
        all[0]["sku"] == "S"
            && why.contains("more than one product")
            && why.contains("10")
            && why.contains('4'),
        "{r}"
    );
    assert_eq!(f.store.item_qoh("S").unwrap(), 10);
}

/// A cart (WooCommerce-like) listing a variation with its product, then the product itself
/// at 0: the variation made the product, and the product's 0 is no stock to take. It was
/// listed as not applied ("holds no stock of its own") on every run; it is in step. A
/// product the cart does count stock on is listed, with that count and what to do.
#[test]
fn a_product_with_variants_at_0_on_the_cart_is_in_step_and_one_with_stock_is_told_its_count() {
    struct Woo;
    impl CartAdapter for Woo {
        takes_no_deltas!();
        fn set_quantities(
            &self,
            _: &[inventory_sync::adapter::QuantitySet],
        ) -> Result<Vec<inventory_sync::adapter::SendOutcome>, CartError> {
            Err(CartError::Rejected("not in this test".into()))
        }
        fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
            Ok(QuantityPage {
                items: [("SHIRT-M", 4), ("SHIRT", 0), ("HAT-S", 1), ("HAT", 2)]
                    .iter()
                    .map(|(s, q)| (s.to_string(), *q))
                    .collect(),
                next_cursor: None,
            })
        }
        fn fetch_catalogue(&self, c: Option<&str>, l: u32) -> Result<CataloguePage, CartError> {
            Ok(CataloguePage {
                counts: self.fetch_quantities(c, l)?,
                products: vec![
                    ("SHIRT-M".into(), "SHIRT".into()),
                    ("HAT-S".into(), "HAT".into()),
                ],
                ..Default::default()
            })
        }
    }
    let f = store();
    let c = custom_cart(&f.store, "woo", Arc::new(Woo), None, None);
    let r = get(&f, c, true);
    assert_eq!(whys(&r, "SHIRT"), Vec::<String>::new(), "{r}");
    let hat = whys(&r, "HAT");
    assert!(
        hat.len() == 1 && hat[0].contains("counts 2") && hat[0].contains("variants"),
        "{r}"
    );
    assert_eq!(r["not_applied"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["unchanged"], 1, "{r}");
    assert_eq!(
        r["created_items"],
        json!([
            {"sku": "SHIRT", "qoh": 0}, {"sku": "SHIRT-M", "qoh": 4},
            {"sku": "HAT", "qoh": 0}, {"sku": "HAT-S", "qoh": 1}
        ]),
        "{r}"
    );
    // And on every run after.
    let again = get(&f, c, true);
    assert_eq!(whys(&again, "SHIRT"), Vec::<String>::new(), "{again}");
}

/// An `http_json` page where one entry's count is not a number (a plugin reading a damaged
/// field) failed the whole Get QOH, its error quoting the page's body: no other count was
/// taken, and the owner could not tell which product to fix. That entry alone is not
/// applied, named by its SKU with the cart's value, known to the store or not; the rest is
/// applied. The value never carries the cart's token. A drift report names it too, in its
/// `unreadable` (until 2026-12-05 it failed, naming the SKU and the value; see
/// `tests/report_unreadable.rs`).
#[test]
fn an_http_json_count_that_is_not_a_number_fails_alone_named_by_sku_and_value() {
    let f = store();
    let token = "tok-0123456789-secret";
    let (_emu, c) = platform::http_json_with_unreadable_counts(&f.store, token);
    let r = get(&f, c, true);
    assert!(r.get("error").is_none(), "{r}");
    assert_eq!(f.store.item_qoh("A").unwrap(), 3, "{r}");
    assert_eq!(
        r["updated_items"],
        json!([{"sku": "A", "before": 5, "after": 3}])
    );
    let b = whys(&r, "B");
    assert!(b.len() == 1 && b[0].contains("\"n/a\""), "{r}");
    let unknown = whys(&r, "C");
    assert!(unknown.len() == 1 && unknown[0].contains("4.5"), "{r}");
    assert_eq!(
        r["created"], 0,
        "no item made from an unreadable count: {r}"
    );
    assert_eq!(whys(&r, "D").len(), 1, "{r}");
    assert!(!r.to_string().contains(token), "{r}");
    assert_eq!(
        (
            f.store.item_qoh("B").unwrap(),
            f.store.item_qoh("D").unwrap()
        ),
        (5, 5)
    );
    let drift = f.store.drift(c, false).unwrap();
    let b: Vec<&str> = drift
        .unreadable
        .iter()
        .filter(|u| u.sku == "B")
        .map(|u| u.why.as_str())
        .collect();
    assert!(
        b.len() == 1 && b[0].contains("\"n/a\"") && !format!("{drift:?}").contains(token),
        "{drift:?}"
    );
}
