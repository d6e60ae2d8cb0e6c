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
    let c = f.unreadable_b(bad);
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
    const KEY: &str = platform::MEDUSA_KEY;
    let f = platform::fixture(Mode::BigCommerce);
    f.item("A", 5);
    f.item("B", 5);
    let c = platform::medusa_with_unreadable_b(&f.store);
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
