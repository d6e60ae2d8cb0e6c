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
use platform::medusa_fake::Medusa;
use platform::*;
use serde_json::{json, Value};

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

/// Medusa: an inventory item is named from its variant's product `title` and its own
/// `title`, with the variant's option values (each with its option's `title`) as attributes,
/// which Medusa answers only when the listing asks for the item's `variants` (as the shared
/// stand-in does); a product's only variant made without options is named by its product.
#[test]
fn medusa_new_products_carry_their_titles_and_options() {
    let dir = tempfile::tempdir().unwrap();
    let store = inventory_sync::Store::open(dir.path().join("store.db")).unwrap();
    let m = Medusa::start(&[("iitem_1", "TEE-M", 4), ("iitem_2", "MUG", 7)]);
    m.describe(
        "iitem_1",
        "M / Red",
        json!([{"title": "M / Red", "product": {"title": "T-shirt"},
                "options": [
                    {"value": "M", "option": {"title": "Size"}},
                    {"value": "Red", "option": {"title": "Colour"}}]}]),
    );
    m.describe(
        "iitem_2",
        "Default variant",
        json!([{"title": "Default variant", "product": {"title": "Mug"},
                "options": [{"value": "Default option value",
                             "option": {"title": "Default option"}}]}]),
    );
    let cart = store.upsert_cart_json(&m.cart_json().to_string()).unwrap();
    let options = inventory_sync::GetOptions {
        force: true,
        create_new: true,
    };
    let r = store.get_qoh(cart, options, None).unwrap();
    assert_eq!(r.created, 2, "{r:?}");
    let tee = store.item("TEE-M").unwrap();
    assert_eq!(tee.description, "T-shirt - M / Red");
    assert_eq!(
        serde_json::from_str::<Value>(&tee.attributes).unwrap(),
        json!({"Size": "M", "Colour": "Red"})
    );
    assert_eq!(tee.qoh, 4);
    let mug = store.item("MUG").unwrap();
    assert_eq!(
        (mug.description.as_str(), mug.attributes.as_str()),
        ("Mug", "{}")
    );
}

/// BigCommerce: the Inventory API names nothing, so the catalogue is read for the page's
/// products: the product's `name`, a variant's `option_values`; and a variant whose product
/// has a SKU of its own is made a variant of that product (created too, without stock), as
/// WooCommerce's are, rather than an item of its own (until 2026-12-05 it was a plain item,
/// which cannot be moved under its product afterwards).
#[test]
fn bigcommerce_new_products_carry_their_names_and_options() {
    let f = fixture(Mode::BigCommerce);
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
    assert_eq!(f.store.item_qoh("MUG").unwrap(), 7);
}
