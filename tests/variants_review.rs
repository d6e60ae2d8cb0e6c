//! An adversarial review of items with attribute/option variants (DESIGN §3 rule 5) across
//! the paths that move stock, with one `Sku` cart and one `Attribute` cart on the built-in
//! emulator at once. The check at the end of each test is what every cart counts of every SKU
//! it holds, against what the store has it show, and the store's own QOH.
#![cfg(feature = "emulator")]

#[macro_use]
mod common;

use common::*;
use inventory_sync::emulator::Emulator;
use inventory_sync::{
    Adjustment, CartId, Delta, ErrorKind, GetOptions, Reason, SendOptions, Store,
};

/// What the store has `cart` (at `sku_level` or not) show of `sku`: the item's published count,
/// or on a `Sku` cart a product's variants' total under the product's web fields; `None` where
/// the cart is never sent it.
fn expected(store: &Store, cart: CartId, sku: &str, sku_level: bool) -> Option<i64> {
    let it = store.item(sku).unwrap();
    let wf = store.web_fields(cart, sku).unwrap();
    if !wf.sync {
        return None;
    }
    if it.has_variants {
        if !sku_level {
            return None;
        }
        let vs: serde_json::Value = serde_json::from_str(
            &store
                .items_json(Some(&format!(r#"{{"parent_sku":"{sku}"}}"#)))
                .unwrap(),
        )
        .unwrap();
        let mut total = 0;
        for v in vs.as_array().unwrap() {
            let vsku = v["sku"].as_str().unwrap();
            let vwf = store.web_fields(cart, vsku).unwrap();
            if vwf.sync {
                total += vwf.published(store.item_qoh(vsku).unwrap());
            }
        }
        return Some(wf.published(total));
    }
    if sku_level && it.parent_id.is_some() {
        return None;
    }
    Some(wf.published(it.qoh))
}

/// The money check: every SKU `emu` holds that the store sends `cart` shows what the store
/// has it show; every SKU the store sends it is on it.
fn cart_in_step(store: &Store, emu: &Emulator, cart: CartId, sku_level: bool, skus: &[&str]) {
    for sku in skus {
        let want = expected(store, cart, sku, sku_level);
        if let Some(want) = want {
            assert_eq!(
                emu.qoh(sku),
                Some(want),
                "cart {cart} (sku level: {sku_level}) {sku}: {:?}",
                emu.catalogue()
            );
        }
    }
}

fn qohs(store: &Store, skus: &[&str]) -> Vec<i64> {
    skus.iter().map(|s| store.item_qoh(s).unwrap()).collect()
}

/// Rule 5 when a plain item gets its first variant: it holds no stock of its own from then on,
/// and is never sent to an `Attribute` cart again, not by Send QOH either. A cart without
/// real-time sync that was sent its count (6 TEE) before the shop sold them goes on showing 6
/// of a product the store has none of, for good: as for a deleted item, its next Send QOH
/// sets it to 0 there. (Until 2026-12-05 nothing ever did; only a count kept by Get QOH
/// refused the variant.) The `Sku` cart, real-time, shows TEE as its variants' total all along.
#[test]
fn a_manual_cart_sent_an_items_count_is_set_to_0_of_it_once_it_has_variants() {
    let f = store();
    let (m, s) = (Emulator::start().unwrap(), Emulator::start().unwrap());
    let manual = cart(&f.store, &m, "Manual", "none");
    let sku = cart(&f.store, &s, "Sku", "sku");
    item(&f.store, "TEE", 6);
    m.set_qoh("TEE", 0);
    s.set_qoh("TEE", 6);
    let sent = f
        .store
        .send_qoh(manual, SendOptions::default(), None)
        .unwrap();
    assert_eq!((sent.sent, m.qoh("TEE")), (1, Some(6)), "{sent:?}");
    // Sold in the shop: the manual cart is not told (no real-time sync there).
    adjust(&f.store, "TEE", -6, Reason::PosSale);
    variant(&f.store, "TEE-M", "TEE", 4);
    drain(&f.store);
    assert_eq!(s.qoh("TEE"), Some(4), "the Sku cart shows the variants' total");
    m.set_qoh("TEE-M", 0);
    let sent = f
        .store
        .send_qoh(manual, SendOptions::default(), None)
        .unwrap();
    assert_eq!(m.qoh("TEE-M"), Some(4), "{sent:?}");
    assert_eq!(
        m.qoh("TEE"),
        Some(0),
        "the manual cart still sells TEE the store has none of: {sent:?}"
    );
    assert_eq!(sent.zeroed, 1, "{sent:?}");
    // Set to 0 once: the next run sends it no more.
    let again = f
        .store
        .send_qoh(manual, SendOptions::default(), None)
        .unwrap();
    assert_eq!((again.zeroed, again.sent), (0, 1), "{again:?}");
    cart_in_step(&f.store, &m, manual, false, &["TEE", "TEE-M"]);
    cart_in_step(&f.store, &s, sku, true, &["TEE", "TEE-M"]);
    assert_eq!(qohs(&f.store, &["TEE", "TEE-M"]), vec![0, 4]);
}

/// Two real-time carts, one per level, on the emulator over HTTP: a variant's sale, an order
/// imported from each cart (one with the "don't send" box), web fields on a variant and on
/// its product (cap, buffer, `sync: false`), an adjustment of the product refused; after a
/// drain, each cart shows what the store publishes for it and the store's QOH is every
/// change's sum.
#[test]
fn real_time_changes_reach_a_sku_and_an_attribute_cart_alike() {
    let f = store();
    let (a, s) = (Emulator::start().unwrap(), Emulator::start().unwrap());
    item(&f.store, "P", 0);
    variant(&f.store, "V1", "P", 5);
    variant(&f.store, "V2", "P", 3);
    item(&f.store, "X", 4);
    for (sku, q) in [("V1", 5), ("V2", 3), ("X", 4)] {
        a.set_qoh(sku, q);
    }
    s.set_qoh("P", 8);
    s.set_qoh("X", 4);
    let ca = cart(&f.store, &a, "A", "attribute");
    let cs = cart(&f.store, &s, "S", "sku");
    let all = ["P", "V1", "V2", "X"];
    // The product itself holds nothing: refused, nothing queued.
    let e = f
        .store
        .adjust_qoh(&Adjustment::new(
            "P",
            Delta::new(1).unwrap(),
            Reason::Adjustment,
        ))
        .unwrap_err();
    assert_eq!(e.kind(), ErrorKind::Refused, "{e}");
    assert!(stack(&f.store, None).is_empty());
    adjust(&f.store, "V1", -2, Reason::PosSale);
    // Sold on S: S took one off P itself.
    s.set_qoh("P", s.qoh("P").unwrap() - 1);
    f.store
        .adjust_qoh(
            &Adjustment::new("V2", Delta::new(-1).unwrap(), Reason::OrderImport).origin_cart(cs),
        )
        .unwrap();
    // Sold on A, imported with "don't send": A has it, S is not told (rule 3).
    a.set_qoh("V1", a.qoh("V1").unwrap() - 1);
    f.store
        .adjust_qoh(
            &Adjustment::new("V1", Delta::new(-1).unwrap(), Reason::OrderImport)
                .origin_cart(ca)
                .send_to_web(false),
        )
        .unwrap();
    drain(&f.store);
    cart_in_step(&f.store, &a, ca, false, &all);
    // S was not sent V1's last sale: one more than the store publishes.
    assert_eq!(s.qoh("P"), Some(expected(&f.store, cs, "P", true).unwrap() + 1));
    // Web fields: a cap on P at S, a buffer on V2 at A and S, V1 off S.
    f.store
        .set_web_fields(cs, "P", r#"{"max_publish":3}"#)
        .unwrap();
    f.store.set_web_fields(ca, "V2", r#"{"buffer":1}"#).unwrap();
    f.store.set_web_fields(cs, "V2", r#"{"buffer":1}"#).unwrap();
    f.store.set_web_fields(cs, "V1", r#"{"sync":false}"#).unwrap();
    drain(&f.store);
    assert_eq!(
        s.qoh("P"),
        Some(1 + 1),
        "V2's 2 less its buffer, plus the unsent sale"
    );
    // The unsent sale is put right by Send QOH (forced: real-time is on).
    f.store
        .send_qoh(cs, SendOptions { force: true }, None)
        .unwrap();
    adjust(&f.store, "V2", 5, Reason::Receiving);
    adjust(&f.store, "X", -4, Reason::PosSale);
    drain(&f.store);
    cart_in_step(&f.store, &a, ca, false, &all);
    cart_in_step(&f.store, &s, cs, true, &all);
    assert_eq!(s.qoh("P"), Some(3), "capped");
    assert_eq!(qohs(&f.store, &all), vec![0, 2, 7, 0]);
}

/// Get QOH from each kind of cart while both are real-time: a variant sold on the `Attribute`
/// cart reaches the `Sku` cart as its product's total, and a plain item sold on the `Sku` cart
/// reaches the `Attribute` cart; the `Sku` cart's product count is left alone where in step.
#[test]
fn get_qoh_from_either_level_reaches_the_other() {
    let f = store();
    let (a, s) = (Emulator::start().unwrap(), Emulator::start().unwrap());
    item(&f.store, "P", 0);
    variant(&f.store, "V1", "P", 5);
    variant(&f.store, "V2", "P", 3);
    item(&f.store, "X", 4);
    for (sku, q) in [("V1", 5), ("V2", 3), ("X", 4)] {
        a.set_qoh(sku, q);
    }
    s.set_qoh("P", 8);
    s.set_qoh("X", 4);
    let ca = cart(&f.store, &a, "A", "attribute");
    let cs = cart(&f.store, &s, "S", "sku");
    let forced = GetOptions {
        force: true,
        create_new: false,
    };
    a.set_qoh("V2", 1);
    let r = f.store.get_qoh(ca, forced, None).unwrap();
    assert_eq!(r.updated, 1, "{r:?}");
    drain(&f.store);
    assert_eq!(s.qoh("P"), Some(6), "{r:?}");
    s.set_qoh("X", 1);
    let r = f.store.get_qoh(cs, forced, None).unwrap();
    assert_eq!(r.updated, 1, "{r:?}");
    assert!(r.not_applied.is_empty(), "P is in step: {r:?}");
    drain(&f.store);
    let all = ["P", "V1", "V2", "X"];
    cart_in_step(&f.store, &a, ca, false, &all);
    cart_in_step(&f.store, &s, cs, true, &all);
    assert_eq!(qohs(&f.store, &all), vec![0, 5, 1, 1]);
    // Drift: both in step.
    for c in [ca, cs] {
        let d = f.store.drift(c, false).unwrap();
        assert!(d.items.is_empty() && d.unlisted.is_empty(), "{d:?}");
    }
}
