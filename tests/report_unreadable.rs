//! The drift report and the preflight where the cart lists an item with a count that cannot be
//! read (a plugin or proxy writing `"n/a"` or `4.5` where a whole number goes). Get QOH names
//! such an item alone (`tests/unreadable_counts.rs`); the two reports did not: WooCommerce and
//! BigCommerce told it as a SKU the cart lists no count for (`unlisted`, a preflight
//! `unmapped`: "no product has it", and the owner went looking for a missing product), and
//! `http_json` and Medusa failed the whole report for it. Now each names it, with the cart's
//! value and the count the store has it show, compares and repairs the rest, and a repair
//! leaves it alone (a compare-and-set needs the count the cart shows). Also: a repair lists
//! the items it did not repair before the repaired ones, so 1,000 repaired items never hide
//! what the owner must act on past the cap. Read as a host reads the reports: their JSON.
#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::emulator::{Emulator, Mode};
use inventory_sync::{CartId, Store};
use serde_json::{json, Value};

fn to_json(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap()
}

fn item(store: &Store, sku: &str, qoh: i64) {
    store
        .upsert_item_json(&json!({"sku": sku, "qoh": qoh}).to_string())
        .unwrap();
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

/// The report lists B (store 5, the cart's count `shown`) in `unreadable` once, with the cart's
/// value and the count the store has it show, and not in `unlisted`; A (store 5, cart 3) is
/// compared as ever; and no text carries `secret`.
fn names_b_and_compares_a(r: &Value, shown: &str, secret: &str) {
    let unreadable = r["unreadable"].as_array().expect("an `unreadable` list");
    let b: Vec<&Value> = unreadable.iter().filter(|u| u["sku"] == "B").collect();
    assert_eq!(b.len(), 1, "{r}");
    let why = b[0]["why"].as_str().unwrap();
    assert!(
        why.contains(shown) && why.contains("not compared, nor repaired") && why.contains("show 5"),
        "{why}"
    );
    assert_eq!(r["unreadable_left_out"], 0, "{r}");
    assert_eq!(r["unlisted"], json!([]), "B is on the cart: {r}");
    let items = r["items"].as_array().unwrap();
    assert!(
        items.len() == 1
            && items[0]["sku"] == "A"
            && items[0]["cart_qoh"] == 3
            && items[0]["expected"] == 5,
        "{r}"
    );
    assert!(!r.to_string().contains(secret), "{r}");
}

/// The preflight warns of B as `unreadable`, with the cart's value and the count to correct
/// it to, never as `unmapped` (a product the cart lacks).
fn preflight_names_b(store: &Store, cart: CartId, shown: &str, secret: &str) {
    let b = warnings_of(store, cart, "B");
    assert_eq!(b.len(), 1, "{b:?}");
    assert_eq!(b[0]["kind"], "unreadable", "{b:?}");
    assert_eq!(b[0]["expected"], 5, "{b:?}");
    assert!(b[0].get("cart_qoh").is_none(), "{b:?}");
    let message = b[0]["message"].as_str().unwrap();
    assert!(message.contains(shown), "{message}");
    assert!(!message.contains(secret), "{message}");
    let a = warnings_of(store, cart, "A");
    assert!(a.len() == 1 && a[0]["kind"] == "drift", "{a:?}");
}

/// In a platform `mode`: A reads 3, B is listed with `bad`. The report names B and compares
/// A; a repair sets A and sends B nothing; the preflight names B.
fn platform_reports_name_an_unreadable_count(mode: Mode, bad: Value, shown: &str) {
    let f = platform::fixture(mode);
    let c = f.unreadable_b(bad);
    names_b_and_compares_a(&drift(&f.store, c, false), shown, platform::SECRET);
    preflight_names_b(&f.store, c, shown, platform::SECRET);

    let r = drift(&f.store, c, true);
    assert_eq!(r["repaired"], 1, "{r}");
    assert_eq!(f.emu.qoh("A"), Some(5), "{r}");
    // Nothing written to B: its count on the cart is the emulator's, untouched.
    assert_eq!(f.emu.qoh("B"), Some(0), "{r}");
    assert_eq!(r["unreadable"][0]["sku"], "B", "{r}");
    assert!(
        r["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|d| d["sku"] != "B"),
        "{r}"
    );
}

/// WooCommerce left such an item out as stock not managed: the report put it in `unlisted`.
#[test]
fn woocommerce_drift_and_preflight_name_a_stock_quantity_that_is_not_a_number() {
    platform_reports_name_an_unreadable_count(Mode::WooCommerce, json!("n/a"), "\"n/a\"");
}

/// BigCommerce skipped an on-hand count that is no whole number without a word.
#[test]
fn bigcommerce_drift_and_preflight_name_an_onhand_that_is_not_a_whole_number() {
    platform_reports_name_an_unreadable_count(Mode::BigCommerce, json!(4.5), "4.5");
}

/// `http_json` failed the whole report (and the preflight) for one bad count. The value
/// quoting the cart's token is scrubbed; a SKU the store does not sync, listed with a bad
/// count, is `unmapped` as before, with the cart's value.
#[test]
fn http_json_drift_and_preflight_name_a_count_that_is_not_a_number() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store.db")).unwrap();
    let token = "tok-0123456789-secret";
    let (e, c) = platform::http_json_with_unreadable_counts(&store, token);

    let r = drift(&store, c, false);
    let skus: Vec<&Value> = r["unreadable"]
        .as_array()
        .expect("an `unreadable` list")
        .iter()
        .map(|u| &u["sku"])
        .collect();
    assert_eq!(skus, [&json!("B"), &json!("D")], "{r}");
    names_b_and_compares_a(&r, "\"n/a\"", token);

    preflight_names_b(&store, c, "\"n/a\"", token);
    let d = warnings_of(&store, c, "D");
    assert!(d.len() == 1 && d[0]["kind"] == "unreadable", "{d:?}");
    assert!(!d[0].to_string().contains(token), "{d:?}");
    let other = warnings_of(&store, c, "C");
    assert!(
        other.len() == 1
            && other[0]["kind"] == "unmapped"
            && other[0]["message"].as_str().unwrap().contains("4.5")
            && other[0].get("cart_qoh").is_none(),
        "{other:?}"
    );

    let r = drift(&store, c, true);
    assert_eq!(r["repaired"], 1, "{r}");
    assert_eq!((e.qoh("A"), e.qoh("B")), (Some(5), Some(0)), "{r}");
    assert_eq!(r["unreadable"].as_array().unwrap().len(), 2, "{r}");
}

/// Medusa failed the whole report for one level whose `stocked_quantity` is no number.
#[test]
fn medusa_drift_and_preflight_name_a_level_that_is_not_a_number() {
    const KEY: &str = platform::MEDUSA_KEY;
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store.db")).unwrap();
    item(&store, "A", 5);
    item(&store, "B", 5);
    let c = platform::medusa_with_unreadable_b(&store);
    names_b_and_compares_a(&drift(&store, c, false), "\"n/a\"", KEY);
    preflight_names_b(&store, c, "\"n/a\"", KEY);
}

/// With repair, the items were listed in the order read: 1,001 counts repaired pushed a
/// count the cart refused and a SKU listed twice (never repaired), what the owner must act
/// on, past the 1,000 listed. The items not repaired come first.
#[test]
fn a_repair_lists_the_items_it_did_not_repair_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store.db")).unwrap();
    let e = Emulator::start().unwrap();
    store.begin().unwrap();
    for i in 0..1001 {
        let sku = format!("A{i:05}");
        item(&store, &sku, 5);
        e.set_qoh(&sku, 2);
    }
    for sku in ["Y", "Z"] {
        item(&store, sku, 5);
    }
    store.commit().unwrap();
    // Y is listed twice (padded and not): not compared, never repaired.
    e.set_qoh("Y", 2);
    e.set_qoh(" Y", 2);
    // Z is off, and the cart refuses its count.
    e.set_qoh("Z", 2);
    e.fail_sku("Z", "rejected");
    let c = store
        .upsert_cart_json(
            &json!({
                "name": "Web", "adapter": "http_json", "url": e.url(),
                "capabilities": {"send": true, "get": true, "realtime": "none"},
                "max_items_to_send": 500,
            })
            .to_string(),
        )
        .unwrap();

    let r = drift(&store, c, true);
    assert_eq!(r["repaired"], 1001, "{}", r["items"][0]);
    let items = r["items"].as_array().unwrap();
    assert_eq!((items.len(), &r["items_left_out"]), (1000, &json!(3)));
    let first: Vec<&Value> = items[..2].iter().map(|d| &d["sku"]).collect();
    assert_eq!(first, [&json!("Z"), &json!("Y")], "{}", json!(items[..3]));
    assert!(
        items[2..].iter().all(|d| d["outcome"] == "repaired"),
        "{}",
        json!(items[..3])
    );
    assert_eq!(e.qoh("Z"), Some(2));

    // A report alone lists in the order read, as before.
    let r = drift(&store, c, false);
    let skus: Vec<&Value> = r["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| &d["sku"])
        .collect();
    assert_eq!(skus, [&json!("Z"), &json!("Y")], "{r}");
}
