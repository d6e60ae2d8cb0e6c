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

/// The Shopify adapter's reason for a variant not stocked at the emulator's location.
const NOT_STOCKED: &str = "not stocked at the cart's location gid://shopify/Location/1";

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

/// A store and shop: TEE (10, in step), HAT (store 10; its variant not stocked at the shop's
/// location, deactivated there keeping 3) and SOCK (store 10, no product on the shop), with a
/// cart that is not real-time.
fn shop() -> (Fixture, CartId) {
    let f = fixture(Mode::Shopify);
    for sku in ["TEE", "HAT", "SOCK"] {
        f.item(sku, 10);
    }
    f.emu.set_qoh("TEE", 10);
    f.emu.set_qoh("HAT", 3);
    f.emu.set_shopify_not_stocked("HAT", Some(3));
    let cart = f.cart(50);
    (f, cart)
}

/// The preflight warns of HAT as `unmapped` (the kind a host switches on, unchanged) with the
/// cart's reason, naming the location and the fix in Shopify admin, never "no product has
/// it"; SOCK, which the cart gave no reason for, keeps the general text.
#[test]
fn the_preflight_says_a_variant_is_not_stocked_at_the_location() {
    let (f, cart) = shop();
    let hat = warnings_of(&f.store, cart, "HAT");
    assert_eq!(hat.len(), 1, "{hat:?}");
    assert_eq!(hat[0]["kind"], "unmapped", "{hat:?}");
    assert_eq!(hat[0]["expected"], 10, "{hat:?}");
    let message = hat[0]["message"].as_str().unwrap();
    assert!(
        message.contains(NOT_STOCKED) && message.contains("Shopify admin"),
        "{message}"
    );
    assert!(!message.contains("no product has it"), "{message}");
    assert!(!message.contains(SECRET), "{message}");

    let sock = warnings_of(&f.store, cart, "SOCK");
    assert!(
        sock.len() == 1
            && sock[0]["kind"] == "unmapped"
            && sock[0]["message"]
                .as_str()
                .unwrap()
                .contains("no product has it"),
        "{sock:?}"
    );
    assert!(warnings_of(&f.store, cart, "TEE").is_empty());
}

/// The drift report keeps `unlisted` a list of SKU strings (the C ABI's shape), HAT and SOCK
/// in it as before, and adds `unlisted_why`: HAT alone, with the cart's reason and the count
/// the store has it show. A repair sends HAT nothing.
#[test]
fn the_drift_report_gives_the_carts_reason_beside_unlisted() {
    let (f, cart) = shop();
    let r = drift(&f.store, cart, false);
    let mut unlisted: Vec<&str> = r["unlisted"]
        .as_array()
        .expect("an `unlisted` list")
        .iter()
        .map(|s| s.as_str().expect("a SKU string"))
        .collect();
    unlisted.sort_unstable();
    assert_eq!(unlisted, ["HAT", "SOCK"], "{r}");
    assert_eq!(r["unlisted_left_out"], 0, "{r}");
    let why = r["unlisted_why"]
        .as_array()
        .expect("an `unlisted_why` list");
    assert_eq!(why.len(), 1, "{r}");
    assert_eq!(why[0]["sku"], "HAT", "{r}");
    let text = why[0]["why"].as_str().unwrap();
    assert!(
        text.contains(NOT_STOCKED)
            && text.contains("Shopify admin")
            && text.contains("not compared, nor repaired")
            && text.contains("show 10"),
        "{text}"
    );
    assert_eq!(r["unlisted_why_left_out"], 0, "{r}");
    assert_eq!(
        (r["in_step"].clone(), r["items"].clone()),
        (json!(1), json!([]))
    );
    assert!(!r.to_string().contains(SECRET), "{r}");

    f.emu.reset_counters();
    let r = drift(&f.store, cart, true);
    assert_eq!(r["repaired"], 0, "{r}");
    assert_eq!(r["unlisted_why"][0]["sku"], "HAT", "{r}");
    assert_eq!(
        (f.emu.adjust_requests(), f.emu.set_requests()),
        (0, 0),
        "a write reached the shop: {r}"
    );
    assert_eq!(f.emu.shopify_inactive_level("HAT"), Some(3));
}

/// Where the listing counts the SKU elsewhere (a twin variant, padded, stocked at the
/// location), the item is compared by that count, as Get QOH applies it: neither report tells
/// the not-stocked variant's reason, and the report's lists stay empty.
#[test]
fn a_sku_counted_on_a_stocked_twin_is_compared_not_told_as_unlisted() {
    let (f, cart) = shop();
    f.emu.set_qoh(" HAT", 7);
    let r = drift(&f.store, cart, false);
    assert_eq!(r["unlisted"], json!(["SOCK"]), "{r}");
    assert_eq!(r["unlisted_why"], json!([]), "{r}");
    let items = r["items"].as_array().unwrap();
    assert!(
        items.len() == 1 && items[0]["sku"] == "HAT" && items[0]["cart_qoh"] == 7,
        "{r}"
    );
    let hat = warnings_of(&f.store, cart, "HAT");
    assert!(hat.len() == 1 && hat[0]["kind"] == "drift", "{hat:?}");
}

/// `unlisted_why` holds the first 1,000, as the report's other lists, and
/// `unlisted_why_left_out` counts the rest; `unlisted` still lists its own first 1,000.
#[test]
fn unlisted_why_is_capped_with_its_own_count_left_out() {
    let f = fixture(Mode::Shopify);
    // Never throttled: the test is of the report, not of Shopify's rate limit.
    f.emu.set_shopify_budget(1e9, 1e9);
    f.store.begin().unwrap();
    for i in 0..1001 {
        let sku = format!("V{i:05}");
        f.item(&sku, 2);
        f.emu.set_qoh(&sku, 2);
        f.emu.set_shopify_not_stocked(&sku, None);
    }
    f.store.commit().unwrap();
    let cart = f.cart(50);
    let r = drift(&f.store, cart, false);
    assert_eq!(
        (
            r["unlisted_why"].as_array().unwrap().len(),
            &r["unlisted_why_left_out"]
        ),
        (1000, &json!(1)),
        "{}",
        r["unlisted_why"][0]
    );
    assert_eq!(
        (
            r["unlisted"].as_array().unwrap().len(),
            &r["unlisted_left_out"]
        ),
        (1000, &json!(1))
    );
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
    let cart = http_json_cart(&store, &e, None);
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
