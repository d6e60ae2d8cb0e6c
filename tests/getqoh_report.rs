//! What the Get QOH report tells a store owner (DESIGN §3 rule 8, `invsync_get_qoh`): which
//! items it moved and created, and for each count it did not apply, once, what is true and
//! what to do. Read as a host reads it: the report's JSON.
#![cfg(feature = "emulator")]

#[macro_use]
mod common;

use common::*;
use inventory_sync::emulator::Emulator;
use inventory_sync::{CartId, GetOptions};
use serde_json::{json, Value};

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
