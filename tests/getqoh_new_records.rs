//! Get QOH's *Create records for new products* (`create_new`) names what it creates: each
//! item made of a product the cart has and the store lacks carries the cart's name for it as
//! its description and, for a variant, its option values as its attributes
//! (`CataloguePage::details`). Until 2026-12-05 every such item had description `""` and
//! attributes `{}`, and an owner pulling 300 new products typed every name by hand. Each
//! built-in platform adapter against the emulator (Medusa against a local fake server), over
//! real HTTP on 127.0.0.1.
#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::emulator::Mode;
use platform::*;
use serde_json::{json, Value};

/// `sku`'s (description, attributes as JSON, product SKU) in the store.
fn described(f: &Fixture, sku: &str) -> (String, Value, Option<String>) {
    let item = f.store.item(sku).unwrap();
    let product = item.parent_id.map(|_| {
        let all: Value = serde_json::from_str(&f.store.items_json(None).unwrap()).unwrap();
        all.as_array()
            .unwrap()
            .iter()
            .find(|i| i["sku"] == sku)
            .and_then(|i| i["parent_sku"].as_str())
            .unwrap()
            .to_owned()
    });
    (
        item.description,
        serde_json::from_str(&item.attributes).unwrap(),
        product,
    )
}

/// The cart's T-shirt (TEE) with its variant TEE-M (Size M, Colour Red, 4 units) and the plain
/// Mug (MUG, 7 units), on the emulator's platform.
fn tee_and_mug(f: &Fixture) {
    f.emu.set_variant_qoh("TEE", "TEE-M", 4);
    f.emu.set_item_details("TEE", "T-shirt", &[]);
    f.emu
        .set_item_details("TEE-M", "", &[("Size", "M"), ("Colour", "Red")]);
    f.emu.set_qoh("MUG", 7);
    f.emu.set_item_details("MUG", "Mug", &[]);
}

/// WooCommerce: the variable product T-shirt and its variation are made product and variant,
/// named from the product's `name` and the variation's `attributes`; the simple Mug is named.
#[test]
fn woocommerce_new_products_carry_their_names_and_options() {
    let f = fixture(Mode::WooCommerce);
    tee_and_mug(&f);
    let cart = f.cart(100);
    let r = f.get_qoh(cart, true);
    assert_eq!(r.created, 3, "{r:?}");
    assert_eq!(
        described(&f, "TEE-M"),
        (
            "T-shirt - M / Red".into(),
            json!({"Size": "M", "Colour": "Red"}),
            Some("TEE".into())
        )
    );
    assert_eq!(described(&f, "TEE"), ("T-shirt".into(), json!({}), None));
    assert_eq!(described(&f, "MUG"), ("Mug".into(), json!({}), None));
    assert_eq!(f.store.item_qoh("TEE-M").unwrap(), 4);
}

/// Shopify: a variant is named from its product's `title` and its own `title`, with its
/// `selectedOptions` as attributes; a product without options (`Default Title`) is named by
/// its title alone, with no attribute.
#[test]
fn shopify_new_products_carry_their_titles_and_options() {
    let f = fixture(Mode::Shopify);
    tee_and_mug(&f);
    let cart = f.cart(100);
    let r = f.get_qoh(cart, true);
    assert_eq!(r.created, 2, "{r:?}");
    let (description, attributes, _) = described(&f, "TEE-M");
    assert_eq!(
        (description.as_str(), attributes),
        ("T-shirt - M / Red", json!({"Size": "M", "Colour": "Red"}))
    );
    assert_eq!(described(&f, "MUG"), ("Mug".into(), json!({}), None));
}

/// An item the store has keeps its own description and attributes: Get QOH only moves its
/// count, whatever the cart calls it.
#[test]
fn an_existing_item_keeps_its_description_and_attributes() {
    let f = fixture(Mode::WooCommerce);
    tee_and_mug(&f);
    f.store
        .upsert_item_json(
            r#"{"sku":"MUG","qoh":7,"description":"Our mug","attributes":{"Colour":"White"}}"#,
        )
        .unwrap();
    let cart = f.cart(100);
    let r = f.get_qoh(cart, true);
    assert_eq!(r.created, 2, "{r:?}");
    assert_eq!(
        described(&f, "MUG"),
        ("Our mug".into(), json!({"Colour": "White"}), None)
    );
    // Made by the run: named from the cart.
    assert_eq!(described(&f, "TEE").0, "T-shirt");
}

/// A name too long, or holding a line break, is cut and cleaned, never a reason to leave the
/// product out: the item is made with its count and the first 255 bytes of its name (cut
/// between characters), the line break a space; an option without a name is left out.
#[test]
fn an_over_long_name_is_cut_not_refused() {
    let f = fixture(Mode::WooCommerce);
    let long = format!("Big\nMug {}", "é".repeat(300));
    f.emu.set_qoh("MUG", 7);
    f.emu.set_item_details("MUG", &long, &[]);
    f.emu.set_variant_qoh("TEE", "TEE-M", 4);
    f.emu.set_item_details("TEE", "T-shirt", &[]);
    f.emu
        .set_item_details("TEE-M", "", &[("Size", "M"), ("", "lost"), ("Note", &long)]);
    let cart = f.cart(100);
    let r = f.get_qoh(cart, true);
    assert_eq!(r.created, 3, "{r:?}");
    assert!(r.not_applied.is_empty(), "{r:?}");
    assert_eq!(f.store.item_qoh("MUG").unwrap(), 7);
    let (description, _, _) = described(&f, "MUG");
    assert!(description.len() <= 255, "{}", description.len());
    assert!(description.len() >= 253, "{}", description.len());
    assert!(description.starts_with("Big Mug éé"), "{description}");
    let (_, attributes, _) = described(&f, "TEE-M");
    let attributes = attributes.as_object().unwrap();
    assert_eq!(attributes.len(), 2, "{attributes:?}");
    assert_eq!(attributes["Size"], "M");
    let note = attributes["Note"].as_str().unwrap();
    assert!(note.len() <= 255 && note.starts_with("Big Mug"), "{note}");
}
