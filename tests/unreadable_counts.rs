//! Get QOH where the cart lists one item with a count that is not a number (a plugin, app or
//! proxy writing a damaged field): that item alone is not applied, named by its SKU and the
//! cart's value in `not_applied`, and every other count is applied. Before, WooCommerce and
//! BigCommerce skipped such an item without a word (the owner never learnt it was not
//! read) and Medusa failed the whole Get QOH for it.
#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::emulator::Mode;
use inventory_sync::GetReport;
use serde_json::json;

/// The reasons the report gives for `sku` not applied.
fn whys(r: &GetReport, sku: &str) -> Vec<String> {
    r.not_applied
        .iter()
        .filter(|n| n.sku == sku)
        .map(|n| n.why.clone())
        .collect()
}

/// In `mode`, A reads 3 and B is listed with `bad`: A is applied, B named with `shown`.
fn one_bad_count_fails_alone(mode: Mode, bad: serde_json::Value, shown: &str) {
    let f = platform::fixture(mode);
    f.item("A", 5);
    f.item("B", 5);
    f.emu.set_qoh("A", 3);
    f.emu.set_qoh_json("B", bad);
    let c = f.cart(100);
    let r = f.get_qoh(c, true);
    assert_eq!(f.store.item_qoh("A").unwrap(), 3, "{r:?}");
    assert_eq!(f.store.item_qoh("B").unwrap(), 5, "{r:?}");
    let b = whys(&r, "B");
    assert!(
        b.len() == 1 && b[0].contains(shown) && b[0].contains("not applied"),
        "{r:?}"
    );
    assert!(!format!("{r:?}").contains(platform::SECRET), "{r:?}");
}

#[test]
fn woocommerce_stock_quantity_that_is_not_a_number_is_named_and_the_rest_applied() {
    one_bad_count_fails_alone(Mode::WooCommerce, json!("n/a"), "\"n/a\"");
}

/// A decimal-quantity plugin's whole `3.0` stays a count of 3 (not named as unreadable).
#[test]
fn woocommerce_whole_decimal_is_still_read() {
    let f = platform::fixture(Mode::WooCommerce);
    f.item("A", 5);
    f.emu.set_qoh("A", 0);
    f.emu.set_qoh_json("A", json!("3.0"));
    let c = f.cart(100);
    let r = f.get_qoh(c, true);
    assert_eq!(f.store.item_qoh("A").unwrap(), 3, "{r:?}");
    assert!(r.not_applied.is_empty(), "{r:?}");
}

#[test]
fn bigcommerce_onhand_that_is_not_a_whole_number_is_named_and_the_rest_applied() {
    one_bad_count_fails_alone(Mode::BigCommerce, json!(4.5), "4.5");
}

/// A Medusa level whose `stocked_quantity` is no number failed the whole Get QOH.
#[test]
fn medusa_level_that_is_not_a_number_is_named_and_the_rest_applied() {
    const LOCATION: &str = "sloc_main";
    const KEY: &str = "sk_test_secret_1234";
    let url = platform::serve(move |method, target, _body| {
        let path = target.split('?').next().unwrap_or("");
        let level = |id: &str, stocked: serde_json::Value| {
            json!({"id": format!("ilev_{id}"), "inventory_item_id": id, "location_id": LOCATION,
                   "stocked_quantity": stocked, "reserved_quantity": 0})
        };
        match (method, path) {
            ("GET", p) if p == format!("/admin/stock-locations/{LOCATION}") => (
                200,
                vec![],
                json!({"stock_location": {"id": LOCATION}}).to_string(),
            ),
            ("GET", "/admin/inventory-items") => (
                200,
                vec![],
                json!({"inventory_items": [
                    {"id": "iitem_a", "sku": "A", "location_levels": [level("iitem_a", json!(3))]},
                    {"id": "iitem_b", "sku": "B", "location_levels": [level("iitem_b", json!("n/a"))]},
                ], "count": 2, "offset": 0, "limit": 50})
                .to_string(),
            ),
            _ => (404, vec![], r#"{"message":"not found"}"#.into()),
        }
    });
    let f = platform::fixture(Mode::BigCommerce);
    f.item("A", 5);
    f.item("B", 5);
    let c = f
        .store
        .upsert_cart_json(
            &json!({"name": "Medusa", "adapter": "medusa", "url": url,
                    "api_key": KEY, "location_id": LOCATION})
            .to_string(),
        )
        .unwrap();
    let r = f.get_qoh(c, true);
    assert_eq!(f.store.item_qoh("A").unwrap(), 3, "{r:?}");
    assert_eq!(f.store.item_qoh("B").unwrap(), 5, "{r:?}");
    let b = whys(&r, "B");
    assert!(
        b.len() == 1 && b[0].contains("\"n/a\"") && b[0].contains("not applied"),
        "{r:?}"
    );
    assert!(!format!("{r:?}").contains(KEY), "{r:?}");
}
