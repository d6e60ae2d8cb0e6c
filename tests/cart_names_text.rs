//! The names Get QOH's *Create records for new products* (`create_new`) gives the items it
//! creates read as the owner typed them in the shop. WooCommerce answers a product's `name`
//! and a variation's attribute `name` and `option` as WordPress stores them, HTML-escaped:
//! "Tea & Cake" is `Tea &amp; Cake`, quotes and dashes may be `&#8217;` or `&#8211;`
//! (woocommerce/woocommerce#27692: "For security reasons WooCommerce escape HTML"). Until
//! 2026-12-05 the items were created with those references in their description and
//! attributes. Against the emulator over real HTTP on 127.0.0.1.
#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::emulator::Mode;
use platform::*;
use serde_json::json;

/// Every reference WordPress writes is read back to its character, once: a name the owner
/// typed with a literal `&amp;` in it (stored `&amp;amp;`) keeps it; a `&` that starts no
/// reference stays.
#[test]
fn woocommerce_names_and_options_read_as_the_owner_typed_them() {
    let f = fixture(Mode::WooCommerce);
    f.emu.set_variant_qoh("TEA", "TEA-S", 3);
    f.emu.set_item_details(
        "TEA",
        "Tea &amp; Cake &#8211; Owner&#8217;s &quot;Best&quot; Caf&eacute;",
        &[],
    );
    f.emu.set_item_details(
        "TEA-S",
        "",
        &[
            ("Size &amp; Fit", "Small &lt;2kg&gt;"),
            ("Blend", "Earl Grey &#x2F; Cr&#232;me"),
        ],
    );
    f.emu.set_qoh("MUG", 7);
    f.emu
        .set_item_details("MUG", "Mug &amp;amp; Saucer, R&D &unknown; 5&#0;", &[]);
    let cart = f.cart(100);
    let r = f.get_qoh(cart, true);
    assert_eq!(r.created, 3, "{r:?}");
    let tea = "Tea & Cake \u{2013} Owner\u{2019}s \"Best\" Caf\u{e9}";
    assert_eq!(described(&f, "TEA"), (tea.into(), json!({}), None));
    assert_eq!(
        described(&f, "TEA-S"),
        (
            format!("{tea} - Small <2kg> / Earl Grey / Cr\u{e8}me"),
            json!({"Size & Fit": "Small <2kg>", "Blend": "Earl Grey / Cr\u{e8}me"}),
            Some("TEA".into())
        )
    );
    assert_eq!(
        described(&f, "MUG"),
        (
            "Mug &amp; Saucer, R&D &unknown; 5&#0;".into(),
            json!({}),
            None
        )
    );
}

/// A reference to a character the store keeps out of every name (a line break, a right-to-
/// left override that would show the rest of the name reversed) is decoded before the name
/// is cleaned, so it becomes a space there as the character itself would: the escaped form
/// is no way around the cleaning, and no `&#x202E;` is left in the name either.
#[test]
fn woocommerce_escaped_controls_are_cleaned_as_the_characters_are() {
    let f = fixture(Mode::WooCommerce);
    f.emu.set_variant_qoh("KIT", "KIT-1", 2);
    f.emu
        .set_item_details("KIT", "Kit&#x202E;lamrof&#10;Set&#8233;Two", &[]);
    f.emu
        .set_item_details("KIT-1", "", &[("Edition&#13;", "First&#x2066;")]);
    let cart = f.cart(100);
    let r = f.get_qoh(cart, true);
    assert_eq!(r.created, 2, "{r:?}");
    assert_eq!(
        described(&f, "KIT"),
        ("Kit lamrof Set Two".into(), json!({}), None)
    );
    assert_eq!(
        described(&f, "KIT-1"),
        (
            "Kit lamrof Set Two - First".into(),
            json!({"Edition": "First"}),
            Some("KIT".into())
        )
    );
}

/// A variation with an attribute set to "any" value (WooCommerce leaves it out of the
/// variation's `attributes`) is named by its other options, with no empty value and no
/// trailing separator; a variation with every attribute "any" by its product's name alone.
/// The attribute is keyed by the label WooCommerce answers as `name` (`Colour & Finish`),
/// not by its `slug` (`colour-finish`).
#[test]
fn woocommerce_any_value_and_attribute_labels_name_a_variation() {
    let f = fixture(Mode::WooCommerce);
    f.emu.set_variant_qoh("TEE", "TEE-RED", 4);
    f.emu.set_variant_qoh("TEE", "TEE-ANY", 1);
    f.emu.set_item_details("TEE", "T-shirt", &[]);
    f.emu.set_item_details(
        "TEE-RED",
        "",
        &[("Size", ""), ("Colour &amp; Finish", "Red &amp; Matt")],
    );
    f.emu
        .set_item_details("TEE-ANY", "", &[("Size", ""), ("Colour &amp; Finish", "")]);
    let cart = f.cart(100);
    let r = f.get_qoh(cart, true);
    assert_eq!(r.created, 3, "{r:?}");
    assert_eq!(
        described(&f, "TEE-RED"),
        (
            "T-shirt - Red & Matt".into(),
            json!({"Colour & Finish": "Red & Matt"}),
            Some("TEE".into())
        )
    );
    assert_eq!(
        described(&f, "TEE-ANY"),
        ("T-shirt".into(), json!({}), Some("TEE".into()))
    );
}
