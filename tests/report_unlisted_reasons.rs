//! The drift report and the preflight where the cart says why it lists no count of an item
//! (`CataloguePage::unlisted`: a Shopify variant not stocked at the cart's location), and the
//! wording of both reports for a count the cart wrote unreadably.
//!
//! Get QOH names such a variant with the cart's reason (`tests/shopify_deactivated.rs`). Since
//! the two reports read the catalogue as Get QOH does, they dropped that reason: the drift
//! report put the SKU in `unlisted`, and the preflight warned `unmapped` "no product has it,
//! or the cart does not track its stock", which sent the owner looking for a missing product
//! when the fix is to stock the variant at the location in Shopify admin. And both reports
//! told an unreadable count as "not applied", Get QOH's words, of a count they only compare.
//! Read as a host reads the reports: their JSON. Against the emulator over 127.0.0.1.
#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::emulator::{Emulator, Mode};
use inventory_sync::{CartId, GetOptions, Store};
use platform::*;
use serde_json::{json, Value};

fn to_json(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap()
}

/// The drift report (`repair` or not) as JSON.
fn drift(store: &Store, cart: CartId, repair: bool) -> Value {
    to_json(&store.drift(cart, repair).unwrap())
}

/// The preflight's warnings about `sku`.
fn warnings_of(store: &Store, cart: CartId, sku: &str) -> Vec<Value> {
    let all = to_json(&store.preflight(cart).unwrap());
    all.as_array()
        .unwrap()
        .iter()
        .filter(|w| w["sku"] == sku)
        .cloned()
        .collect()
}

/// Get QOH's reason for B (one `not_applied` entry).
fn get_qoh_why(store: &Store, cart: CartId) -> String {
    let options = GetOptions {
        force: true,
        create_new: false,
    };
    let r = store.get_qoh(cart, options, None).unwrap();
    let b: Vec<&str> = r
        .not_applied
        .iter()
        .filter(|n| n.sku == "B")
        .map(|n| n.why.as_str())
        .collect();
    assert_eq!(b.len(), 1, "{r:?}");
    b[0].to_owned()
}

/// B (store 5) is listed with a count that cannot be read, quoted as `shown`: the drift
/// report says it was not compared and the preflight likewise, both with what to do and
/// never "not applied" (Get QOH's words: nothing is applied by a report); Get QOH says "not
/// applied" once, as ever.
fn reports_say_not_compared(store: &Store, cart: CartId, shown: &str) {
    let r = drift(store, cart, false);
    let b: Vec<&Value> = r["unreadable"]
        .as_array()
        .expect("an `unreadable` list")
        .iter()
        .filter(|u| u["sku"] == "B")
        .collect();
    assert_eq!(b.len(), 1, "{r}");
    let why = b[0]["why"].as_str().unwrap();
    assert!(
        why.contains(shown)
            && why.contains("not compared")
            && why.contains("correct it on the cart"),
        "{why}"
    );
    assert!(!why.contains("not applied"), "{why}");

    let w = warnings_of(store, cart, "B");
    assert!(w.len() == 1 && w[0]["kind"] == "unreadable", "{w:?}");
    let message = w[0]["message"].as_str().unwrap();
    assert!(
        message.contains(shown)
            && message.contains("not compared")
            && message.contains("correct it on the cart"),
        "{message}"
    );
    assert!(!message.contains("not applied"), "{message}");

    let why = get_qoh_why(store, cart);
    assert!(
        why.contains(shown)
            && why.matches("not applied").count() == 1
            && why.matches("correct it on the cart").count() == 1,
        "{why}"
    );
}

fn platform_reports_say_not_compared(mode: Mode, bad: Value, shown: &str) {
    let f = fixture(mode);
    f.item("B", 5);
    f.emu.set_qoh_json("B", bad);
    let cart = f.cart(100);
    reports_say_not_compared(&f.store, cart, shown);
}

#[test]
fn woocommerce_reports_say_an_unreadable_count_was_not_compared() {
    platform_reports_say_not_compared(Mode::WooCommerce, json!("n/a"), "\"n/a\"");
}

#[test]
fn bigcommerce_reports_say_an_unreadable_count_was_not_compared() {
    platform_reports_say_not_compared(Mode::BigCommerce, json!(4.5), "4.5");
}

/// `http_json` too; and C, which the store does not sync, listed with a count that cannot be
/// read, is `unmapped` with the cart's value, not "not applied" either.
#[test]
fn http_json_reports_say_an_unreadable_count_was_not_compared() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store.db")).unwrap();
    let e = Emulator::start().unwrap();
    store
        .upsert_item_json(&json!({"sku": "B", "qoh": 5}).to_string())
        .unwrap();
    let cart = store
        .upsert_cart_json(
            &json!({
                "name": "Web", "adapter": "http_json", "url": e.url(),
                "capabilities": {"send": true, "get": true, "realtime": "none"},
            })
            .to_string(),
        )
        .unwrap();
    e.set_qoh_json("B", json!("n/a"));
    e.set_qoh_json("C", json!(4.5));
    let c = warnings_of(&store, cart, "C");
    assert!(c.len() == 1 && c[0]["kind"] == "unmapped", "{c:?}");
    let message = c[0]["message"].as_str().unwrap();
    assert!(
        message.contains("4.5") && !message.contains("not applied"),
        "{message}"
    );
    reports_say_not_compared(&store, cart, "\"n/a\"");
}
