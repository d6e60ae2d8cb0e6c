//! Regressions a review of 2026-12-04's changes (schema 20's credentials pause, the adapter
//! conformance check, WooCommerce's lookup by SKU, Shopify's items not stocked at the cart's
//! location) found, each test seen failing on the code before its fix.

#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::emulator::Mode;
use inventory_sync::StackState;
use platform::{adjust, fixture};

/// The owner lists in WooCommerce an item the store sold before the shop had it, and sells
/// it again within five minutes: the shop was remembered not to have the SKU, and the sale
/// was failed for good on that memory alone (bypassed, the shop still offering the unit),
/// though the shop was never asked. It waits to be tried again instead.
#[test]
fn a_sale_of_a_sku_remembered_absent_is_not_bypassed_without_asking_the_shop() {
    let f = fixture(Mode::WooCommerce);
    // Back-off as a store has it (the fixture's 0 retries a record at once, ten times a pass).
    f.store.set_param("RetryBaseMs", "1000").unwrap();
    f.store.set_param("RetryMaxMs", "300000").unwrap();
    f.emu.set_qoh("REAL", 5);
    f.item("REAL", 5);
    f.item("NEW", 5);
    let cart = f.cart(50);
    f.store.set_cart_sync(cart, true).unwrap();
    adjust(&f.store, "NEW", -1);
    f.store.run_stack(None).unwrap();
    // Truly absent when asked: bypassed, by name.
    assert_eq!(f.count(cart, StackState::Bypassed), 1);
    // The owner lists it (at the store's count) and it sells again.
    f.emu.set_qoh("NEW", 4);
    adjust(&f.store, "NEW", -1);
    f.store.run_stack(None).unwrap();
    let recs = f.records(cart);
    let second = recs.iter().max_by_key(|r| r["id"].as_i64()).unwrap();
    assert_ne!(
        second["state"], "bypassed",
        "a sale bypassed on the memory of an absence, the shop never asked: {recs:#?}"
    );
    assert_eq!(f.emu.qoh("NEW"), Some(4), "nothing written yet");
}
