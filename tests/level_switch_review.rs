//! An adversarial review of what a cart shows when its real-time level changes (`sku`: the
//! cart is shown products only, each with its variants' total; `attribute` or `none`: each
//! variant by its own SKU, never a product with variants). After any switch the cart must sell
//! nothing the store does not have, and no sale may be lost or taken twice: what the old level
//! showed and the new one does not is set to 0 at the next Send QOH (which the owner runs to
//! set the new level's counts), and the preflight names each.
#![cfg(feature = "emulator")]

#[macro_use]
mod common;

use common::*;
use inventory_sync::adapter::{
    CartAdapter, CartError, DeltaSend, QuantityPage, QuantitySet, SendOutcome, UpdateMode,
};
use inventory_sync::emulator::Emulator;
use inventory_sync::{CartId, ErrorKind, Reason, SendOptions, Store, SyncLevel};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The store's product P with sizes V1 (5) and V2 (3), and the plain item X (4).
fn product_p_and_x(store: &Store) {
    item(store, "P", 0);
    variant(store, "V1", "P", 5);
    variant(store, "V2", "P", 3);
    item(store, "X", 4);
}

/// An emulator shop showing `counts`.
fn shop(counts: &[(&str, i64)]) -> Emulator {
    let e = Emulator::start().unwrap();
    for (sku, q) in counts {
        e.set_qoh(sku, *q);
    }
    e
}

/// Saves emulator cart `name` again at real-time `level`, its box as it was.
fn switch(
    store: &Store,
    emu: &Emulator,
    name: &str,
    level: &str,
) -> inventory_sync::Result<CartId> {
    let json = serde_json::json!({
        "name": name, "adapter": "http_json", "url": emu.url(),
        "capabilities": {"send": true, "get": true, "realtime": level},
    });
    store.upsert_cart_json(&json.to_string())
}

/// The SKUs the preflight says the cart may still show though the store no longer sends them.
fn noted(store: &Store, cart: CartId) -> Vec<String> {
    let mut out: Vec<String> = store
        .preflight(cart)
        .unwrap()
        .into_iter()
        .filter(|w| w.kind == "deleted")
        .filter_map(|w| w.sku)
        .collect();
    out.sort();
    out
}

fn qohs(store: &Store, skus: &[&str]) -> Vec<i64> {
    skus.iter().map(|s| store.item_qoh(s).unwrap()).collect()
}

/// A real-time cart at `attribute` level in step (V1 5, V2 3, X 4) is switched to `sku`: from
/// then on it is sent P's total, never V1 or V2 again. Until 2026-12-05 it went on showing V1 5
/// and V2 3 for good, units the shop then sold (V2 here). The switch is refused while a sale
/// made for the old level waits (it names V1, which the `sku` cart would no longer take), and
/// goes once it is sent. The next Send QOH sets P and sets V1 and V2 to 0 there, listed by the
/// preflight first; nothing is lost or taken twice in the store.
#[test]
fn a_cart_switched_from_attribute_to_sku_level_is_set_to_0_of_each_variant() {
    let f = store();
    product_p_and_x(&f.store);
    let a = shop(&[("V1", 5), ("V2", 3), ("X", 4)]);
    let ca = cart(&f.store, &a, "A", "attribute");
    adjust(&f.store, "V1", -1, Reason::PosSale);
    let refused = switch(&f.store, &a, "A", "sku").unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Refused, "{refused}");
    assert_eq!(
        f.store.cart(ca).unwrap().capabilities.realtime,
        Some(SyncLevel::Attribute)
    );
    drain(&f.store);
    assert_eq!(a.qoh("V1"), Some(4));
    switch(&f.store, &a, "A", "sku").unwrap();
    assert!(f.store.cart(ca).unwrap().sync_on, "the box stays ticked");
    assert_eq!(noted(&f.store, ca), ["V1", "V2"]);
    // The owner lists P on the cart; sold in the shop before Send QOH: the cart is sent P's
    // change, and V2's own 3 stays on sale there until Send QOH.
    a.set_qoh("P", 0);
    adjust(&f.store, "V2", -1, Reason::PosSale);
    drain(&f.store);
    assert_eq!(a.qoh("P"), Some(-1));
    let sent = f
        .store
        .send_qoh(ca, SendOptions { force: true }, None)
        .unwrap();
    assert_eq!(a.qoh("P"), Some(6), "{sent:?}");
    assert_eq!(
        (a.qoh("V1"), a.qoh("V2")),
        (Some(0), Some(0)),
        "the variants are still on sale on a cart sent only P: {sent:?}"
    );
    assert_eq!((sent.zeroed, sent.failures.len()), (2, 0), "{sent:?}");
    assert!(noted(&f.store, ca).is_empty());
    // Real-time changes move P from then on; the variants stay at 0.
    adjust(&f.store, "V1", -2, Reason::PosSale);
    drain(&f.store);
    assert_eq!(
        (a.qoh("P"), a.qoh("V1"), a.qoh("V2"), a.qoh("X")),
        (Some(4), Some(0), Some(0), Some(4))
    );
    let again = f
        .store
        .send_qoh(ca, SendOptions { force: true }, None)
        .unwrap();
    assert_eq!(again.zeroed, 0, "{again:?}");
    assert_eq!(qohs(&f.store, &["V1", "V2", "X"]), vec![2, 2, 4]);
}

/// A cart without real-time sync (sent each variant by Send QOH) given real-time sync at `sku`
/// level: the variants' counts it was sent stay there, not sent again, as for a real-time
/// cart (until 2026-12-05 they stayed on sale). Its first Send QOH at the new level sets them
/// to 0. A variant it was never shown (made since) is not set.
#[test]
fn a_manual_cart_given_sku_level_is_set_to_0_of_the_variants_it_was_sent() {
    let f = store();
    let m = Emulator::start().unwrap();
    product_p_and_x(&f.store);
    for sku in ["V1", "V2", "X"] {
        m.set_qoh(sku, 0);
    }
    let cm = cart(&f.store, &m, "M", "none");
    f.store.send_qoh(cm, SendOptions::default(), None).unwrap();
    assert_eq!((m.qoh("V1"), m.qoh("V2")), (Some(5), Some(3)));
    adjust(&f.store, "V1", -5, Reason::PosSale);
    variant(&f.store, "V3", "P", 2);
    switch(&f.store, &m, "M", "sku").unwrap();
    assert_eq!(noted(&f.store, cm), ["V1", "V2"]);
    m.set_qoh("P", 0);
    let sent = f
        .store
        .send_qoh(cm, SendOptions { force: true }, None)
        .unwrap();
    assert_eq!(
        (m.qoh("P"), m.qoh("V1"), m.qoh("V2"), m.qoh("V3")),
        (Some(5), Some(0), Some(0), None),
        "{sent:?}"
    );
    assert_eq!(sent.zeroed, 2, "{sent:?}");
}

/// A variant taken off an `attribute` cart (`sync: false`) with a count kept of what the cart
/// shows (5, and the shop sold 2 since) would be forgotten by a switch to `sku`, and never be
/// sent to the cart again, not when put back either: the cart would sell those 5 for good. The
/// switch is refused, naming it; put back (the cart is sent the difference), the switch goes
/// and Send QOH sets it to 0. The same for a product taken off a `sku` cart switched to
/// `attribute`; switched back to `sku`, the cart is sent the product's total from the 0 it
/// shows (until 2026-12-05 it stayed at 0 until a Send QOH).
#[test]
fn a_level_switch_is_refused_while_an_item_taken_off_the_cart_still_shows_units() {
    let f = store();
    product_p_and_x(&f.store);
    let a = shop(&[("V1", 5), ("V2", 3), ("X", 4)]);
    let ca = cart(&f.store, &a, "A", "attribute");
    f.store
        .set_web_fields(ca, "V1", r#"{"sync":false}"#)
        .unwrap();
    adjust(&f.store, "V1", -2, Reason::PosSale);
    drain(&f.store);
    assert_eq!(a.qoh("V1"), Some(5), "taken off: not sent the sale");
    let refused = switch(&f.store, &a, "A", "sku").unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Refused, "{refused}");
    assert!(refused.message().contains("\"V1\""), "{refused}");
    assert_eq!(
        f.store.cart(ca).unwrap().capabilities.realtime,
        Some(SyncLevel::Attribute)
    );
    f.store
        .set_web_fields(ca, "V1", r#"{"sync":true}"#)
        .unwrap();
    drain(&f.store);
    assert_eq!(a.qoh("V1"), Some(3));
    switch(&f.store, &a, "A", "sku").unwrap();
    a.set_qoh("P", 0);
    let sent = f
        .store
        .send_qoh(ca, SendOptions { force: true }, None)
        .unwrap();
    assert_eq!(
        (a.qoh("P"), a.qoh("V1"), a.qoh("V2")),
        (Some(6), Some(0), Some(0)),
        "{sent:?}"
    );

    // Back the other way: P taken off the `sku` cart showing 6, V2 sold since.
    f.store
        .set_web_fields(ca, "P", r#"{"sync":false}"#)
        .unwrap();
    adjust(&f.store, "V2", -1, Reason::PosSale);
    drain(&f.store);
    assert_eq!(a.qoh("P"), Some(6));
    let refused = switch(&f.store, &a, "A", "attribute").unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Refused, "{refused}");
    assert!(refused.message().contains("\"P\""), "{refused}");
    f.store.set_web_fields(ca, "P", r#"{"sync":true}"#).unwrap();
    drain(&f.store);
    assert_eq!(a.qoh("P"), Some(5));
    switch(&f.store, &a, "A", "attribute").unwrap();
    let sent = f
        .store
        .send_qoh(ca, SendOptions { force: true }, None)
        .unwrap();
    assert_eq!(
        (a.qoh("P"), a.qoh("V1"), a.qoh("V2")),
        (Some(0), Some(3), Some(2)),
        "{sent:?}"
    );
    assert_eq!(qohs(&f.store, &["V1", "V2", "X"]), vec![3, 2, 4]);
    // And back to `sku`: the cart shows the 0 Send QOH set P to, and is sent P's total at once.
    switch(&f.store, &a, "A", "sku").unwrap();
    drain(&f.store);
    assert_eq!(a.qoh("P"), Some(5), "P is not back on sale");
}

/// A cart that keeps counts by its own reference for an item (`remote_ref`), as Shopify's
/// inventory items or WooCommerce's ids: a count or change given one goes there, else by SKU.
#[derive(Default)]
struct ByRef(Mutex<HashMap<String, i64>>);

impl ByRef {
    fn get(&self, key: &str) -> Option<i64> {
        self.0.lock().unwrap().get(key).copied()
    }
}

fn key(sku: &str, remote_ref: &Option<String>) -> String {
    remote_ref.clone().unwrap_or_else(|| sku.to_owned())
}

impl CartAdapter for ByRef {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeKeyed
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        let mut q = self.0.lock().unwrap();
        Ok(d.iter()
            .map(|x| {
                *q.entry(key(&x.sku, &x.remote_ref)).or_insert(0) += x.delta;
                SendOutcome::Applied { qoh: None }
            })
            .collect())
    }
    fn set_quantities(&self, s: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        let mut q = self.0.lock().unwrap();
        Ok(s.iter()
            .map(|x| {
                q.insert(key(&x.sku, &x.remote_ref), x.qoh);
                SendOutcome::Applied { qoh: Some(x.qoh) }
            })
            .collect())
    }
    fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
        Ok(QuantityPage::default())
    }
}

/// A variant the cart knows by its own reference is set to 0 there by that reference once the
/// cart is switched to `sku`: the note was left out of Send QOH because the variant's own web
/// fields name that reference (as for an item sent its count there now), so the variant stayed
/// on sale.
#[test]
fn a_variant_linked_by_reference_is_set_to_0_on_a_cart_switched_to_sku_level() {
    let f = store();
    product_p_and_x(&f.store);
    let shop = Arc::new(ByRef::default());
    let c = custom_cart(
        &f.store,
        "Shop",
        shop.clone() as Arc<dyn CartAdapter>,
        Some("attribute"),
        None,
    );
    f.store.set_cart_sync(c, true).unwrap();
    f.store
        .set_web_fields(c, "V1", r#"{"remote_ref":"inv-1"}"#)
        .unwrap();
    f.store
        .send_qoh(c, SendOptions { force: true }, None)
        .unwrap();
    assert_eq!((shop.get("inv-1"), shop.get("V2")), (Some(5), Some(3)));
    let json = serde_json::json!({
        "name": "Shop", "adapter": "Shop",
        "capabilities": {"send": true, "get": true, "realtime": "sku"},
    });
    f.store.upsert_cart_json(&json.to_string()).unwrap();
    assert_eq!(noted(&f.store, c), ["V1", "V2"]);
    let sent = f
        .store
        .send_qoh(c, SendOptions { force: true }, None)
        .unwrap();
    assert_eq!(
        (shop.get("P"), shop.get("inv-1"), shop.get("V2")),
        (Some(8), Some(0), Some(0)),
        "{sent:?}"
    );
    assert_eq!(sent.zeroed, 2, "{sent:?}");
}

/// A cart switched to `sku` and set to 0 of its variants (V1 5 and V2 3 to 0) by Send QOH,
/// then switched back to `attribute`: the store knows the variants show 0 there, which is no
/// sale. Real-time changes going to it, it is sent each variant's count back at once (a sale
/// made meanwhile counted), and a Get QOH before the next Send QOH takes nothing off. Until
/// 2026-12-05 the store forgot that, the variants stayed at 0 until a Send QOH, and a Get QOH
/// read their 0 as every unit sold there. The same for a cart without real-time sync: the 0
/// it counts is not read as sales.
#[test]
fn a_cart_switched_back_to_attribute_level_is_not_read_as_selling_what_was_set_to_0() {
    let f = store();
    let (a, m) = (Emulator::start().unwrap(), Emulator::start().unwrap());
    product_p_and_x(&f.store);
    for (sku, q) in [("V1", 5), ("V2", 3), ("X", 4), ("P", 0)] {
        a.set_qoh(sku, q);
        m.set_qoh(sku, q);
    }
    let ca = cart(&f.store, &a, "A", "attribute");
    let cm = cart(&f.store, &m, "M", "none");
    f.store.send_qoh(cm, SendOptions::default(), None).unwrap();
    for (e, name) in [(&a, "A"), (&m, "M")] {
        let id = switch(&f.store, e, name, "sku").unwrap();
        f.store
            .send_qoh(id, SendOptions { force: true }, None)
            .unwrap();
        assert_eq!(
            (e.qoh("P"), e.qoh("V1"), e.qoh("V2")),
            (Some(8), Some(0), Some(0))
        );
    }
    adjust(&f.store, "V1", -1, Reason::PosSale);
    drain(&f.store);
    assert_eq!(a.qoh("P"), Some(7));
    switch(&f.store, &a, "A", "attribute").unwrap();
    switch(&f.store, &m, "M", "none").unwrap();
    let options = inventory_sync::GetOptions {
        force: true,
        create_new: false,
    };
    let got = f.store.get_qoh(cm, options, None).unwrap();
    assert_eq!(
        qohs(&f.store, &["V1", "V2", "X"]),
        vec![4, 3, 4],
        "the 0s Send QOH set were read as sales: {got:?}"
    );
    drain(&f.store);
    assert_eq!(
        (a.qoh("V1"), a.qoh("V2")),
        (Some(4), Some(3)),
        "the variants are not back on sale on the real-time cart"
    );
    for id in [ca, cm] {
        let got = f.store.get_qoh(id, options, None).unwrap();
        assert_eq!(
            qohs(&f.store, &["V1", "V2", "X"]),
            vec![4, 3, 4],
            "cart {id}: {got:?}"
        );
    }
    for (e, id) in [(&a, ca), (&m, cm)] {
        let sent = f
            .store
            .send_qoh(id, SendOptions { force: true }, None)
            .unwrap();
        assert_eq!(
            (e.qoh("P"), e.qoh("V1"), e.qoh("V2"), e.qoh("X")),
            (Some(0), Some(4), Some(3), Some(4)),
            "cart {id}: {sent:?}"
        );
    }
}

/// The 0 a product's listing was set to on a cart switched to `attribute` level is what the
/// cart shows of it; once its last variant is deleted it is a plain item that cart is sent
/// again, changes and all. The 0 must not be taken later as still what the cart shows (the
/// cart would be sent the product's count again on top of the changes that reached it, when
/// real-time changes start anew: units it does not have).
#[test]
fn a_product_made_plain_again_after_a_level_switch_is_not_sent_its_count_twice() {
    let f = store();
    product_p_and_x(&f.store);
    let a = shop(&[("P", 8), ("X", 4)]);
    let ca = cart(&f.store, &a, "A", "sku");
    switch(&f.store, &a, "A", "attribute").unwrap();
    a.set_qoh("V1", 0);
    a.set_qoh("V2", 0);
    f.store
        .send_qoh(ca, SendOptions { force: true }, None)
        .unwrap();
    assert_eq!(
        (a.qoh("P"), a.qoh("V1"), a.qoh("V2")),
        (Some(0), Some(5), Some(3))
    );
    adjust(&f.store, "V1", -5, Reason::PosSale);
    adjust(&f.store, "V2", -3, Reason::PosSale);
    drain(&f.store);
    f.store.delete_item("V1").unwrap();
    f.store.delete_item("V2").unwrap();
    adjust(&f.store, "P", 5, Reason::Receiving);
    drain(&f.store);
    assert_eq!(a.qoh("P"), Some(5));
    // Real-time changes start anew (the box saved again, another cart added).
    f.store.set_cart_sync(ca, false).unwrap();
    f.store.set_cart_sync(ca, true).unwrap();
    drain(&f.store);
    assert_eq!(a.qoh("P"), Some(5), "P was sent its count twice");
    assert_eq!(qohs(&f.store, &["P", "X"]), vec![5, 4]);
}

/// A real-time cart switched to `sku` and back to `attribute` with no Send QOH between: its
/// variants' listings were never set to 0, and were sent nothing while it was at `sku` level,
/// so they show what they showed at the first switch (V1 5). A sale of V1 meanwhile (the cart
/// sent P's total) is sent to V1's listing once it is back: until 2026-12-05 V1 went on showing
/// 5 of the 4 the store has until a Send QOH. The same the other way for P's total.
#[test]
fn a_cart_switched_there_and_back_without_send_qoh_is_sent_what_sold_meanwhile() {
    let f = store();
    product_p_and_x(&f.store);
    let a = shop(&[("V1", 5), ("V2", 3), ("X", 4), ("P", 8)]);
    let ca = cart(&f.store, &a, "A", "attribute");
    switch(&f.store, &a, "A", "sku").unwrap();
    adjust(&f.store, "V1", -1, Reason::PosSale);
    drain(&f.store);
    assert_eq!((a.qoh("P"), a.qoh("V1")), (Some(7), Some(5)));
    switch(&f.store, &a, "A", "attribute").unwrap();
    drain(&f.store);
    assert_eq!(
        (a.qoh("V1"), a.qoh("V2")),
        (Some(4), Some(3)),
        "V1's listing sells a unit the store sold"
    );
    // And the other way: P's total was 7 when it left; V2 sold since.
    adjust(&f.store, "V2", -2, Reason::PosSale);
    drain(&f.store);
    switch(&f.store, &a, "A", "sku").unwrap();
    drain(&f.store);
    assert_eq!(
        a.qoh("P"),
        Some(5),
        "P's listing sells units the store sold"
    );
    let sent = f
        .store
        .send_qoh(ca, SendOptions { force: true }, None)
        .unwrap();
    assert_eq!(
        (a.qoh("P"), a.qoh("V1"), a.qoh("V2"), a.qoh("X")),
        (Some(5), Some(0), Some(0), Some(4)),
        "{sent:?}"
    );
    assert_eq!(qohs(&f.store, &["V1", "V2", "X"]), vec![4, 1, 4]);
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (self.0 >> 33) % n
    }
}

/// What a cart at SKU level (`sku`) or not is shown of `s`, by the store's QOH `q` (no web
/// fields here); `None` where it is never sent it.
fn shown(q: &HashMap<&str, i64>, sku_level: bool, s: &str) -> Option<i64> {
    match (s, sku_level) {
        ("P", true) => Some(q["V1"].max(0) + q["V2"].max(0)),
        ("P", false) | ("V1" | "V2", true) => None,
        _ => Some(q[s].max(0)),
    }
}

/// One sequence of sales, level switches of a real-time cart `A` (made at `attribute`) and of
/// a cart without real-time sync `M` (`none` and `sku`), drains, Send QOH and Get QOH, on
/// carts that sell nothing themselves. Get QOH must never move the store's QOH: on `A` after
/// a drain (the store knows what each listing shows, across switches), on `M` when nothing
/// changed since its last Send QOH. After a drain `A` shows no more of what its level shows
/// than the store publishes. A switch of `A` while records wait is refused, changing
/// nothing. At the end, after Send QOH to both, each shows what the store publishes at its
/// level and 0 of every listing its level is not sent.
fn run_switches(seed: u64) -> Result<(), String> {
    let f = store();
    let (a, m) = (Emulator::start().unwrap(), Emulator::start().unwrap());
    product_p_and_x(&f.store);
    for sku in ["P", "V1", "V2", "X"] {
        a.set_qoh(sku, 0);
        m.set_qoh(sku, 0);
    }
    let ca = cart(&f.store, &a, "A", "attribute");
    let cm = cart(&f.store, &m, "M", "none");
    let force = SendOptions { force: true };
    f.store.send_qoh(ca, force, None).unwrap();
    f.store.send_qoh(cm, force, None).unwrap();
    let mut q: HashMap<&str, i64> = [("V1", 5), ("V2", 3), ("X", 4)].into_iter().collect();
    let (mut a_sku, mut m_sku, mut m_dirty) = (false, false, false);
    let mut rng = Rng(seed.wrapping_mul(2654435761).wrapping_add(7));
    let mut log = Vec::new();
    let get = inventory_sync::GetOptions {
        force: true,
        create_new: false,
    };
    for step in 0..40 {
        let op = rng.below(9);
        log.push(op);
        let fail = |what: String| format!("seed {seed} ops {log:?} step {step}: {what}");
        match op {
            0 | 1 => {
                let sku = ["V1", "V2", "X"][rng.below(3) as usize];
                let d = [-2, -1, 1, 3][rng.below(4) as usize];
                adjust(&f.store, sku, d, Reason::Adjustment);
                *q.get_mut(sku).unwrap() += d;
                m_dirty = true;
            }
            // After a drain the real-time cart sells no more of what its level shows than
            // the store publishes (a listing not set yet since a switch may show less).
            2 => {
                drain(&f.store);
                for s in ["P", "V1", "V2", "X"] {
                    if let (Some(want), Some(has)) = (shown(&q, a_sku, s), a.qoh(s)) {
                        if has > want {
                            return Err(fail(format!("cart A shows {has} of {s}, not {want}")));
                        }
                    }
                }
            }
            3 => {
                let waiting = !records(&f.store, ca).is_empty();
                let to = if a_sku { "attribute" } else { "sku" };
                match switch(&f.store, &a, "A", to) {
                    Ok(_) if waiting => return Err(fail("switched with records waiting".into())),
                    Ok(_) => a_sku = !a_sku,
                    Err(e) if waiting && e.kind() == ErrorKind::Refused => {}
                    Err(e) => return Err(fail(format!("switch refused: {e}"))),
                }
            }
            4 => {
                let to = if m_sku { "none" } else { "sku" };
                switch(&f.store, &m, "M", to).map_err(|e| fail(e.to_string()))?;
                m_sku = !m_sku;
            }
            5 => {
                f.store
                    .send_qoh(ca, force, None)
                    .map_err(|e| fail(e.to_string()))?;
            }
            6 => {
                f.store
                    .send_qoh(cm, force, None)
                    .map_err(|e| fail(e.to_string()))?;
                m_dirty = false;
            }
            7 | 8 => {
                let (id, ok) = match op {
                    7 => {
                        drain(&f.store);
                        (ca, true)
                    }
                    _ => (cm, !m_dirty),
                };
                if ok {
                    let got = f
                        .store
                        .get_qoh(id, get, None)
                        .map_err(|e| fail(e.to_string()))?;
                    for (sku, want) in &q {
                        let now = f.store.item_qoh(sku).unwrap();
                        if now != *want {
                            return Err(fail(format!(
                                "Get QOH of cart {id} moved {sku} from {want} to {now}: {got:?}"
                            )));
                        }
                    }
                }
            }
            _ => unreachable!(),
        }
    }
    drain(&f.store);
    f.store.send_qoh(ca, force, None).unwrap();
    f.store.send_qoh(cm, force, None).unwrap();
    drain(&f.store);
    for (e, sku_level, name) in [(&a, a_sku, "A"), (&m, m_sku, "M")] {
        for s in ["P", "V1", "V2", "X"] {
            let want = shown(&q, sku_level, s).unwrap_or(0);
            if e.qoh(s) != Some(want) {
                return Err(format!(
                    "seed {seed} ops {log:?}: cart {name} (sku level: {sku_level}) shows {:?} \
                     of {s}, not {want}",
                    e.qoh(s)
                ));
            }
        }
    }
    for (sku, want) in &q {
        if f.store.item_qoh(sku).unwrap() != *want {
            return Err(format!("seed {seed} ops {log:?}: {sku} QOH moved"));
        }
    }
    Ok(())
}

/// [`run_switches`] over 100 sequences of 40 steps.
#[test]
fn level_switches_in_any_order_leave_carts_and_store_right() {
    let mut fails: Vec<String> = (0..100).filter_map(|s| run_switches(s).err()).collect();
    fails.sort_by_key(|f| f.len());
    assert!(
        fails.is_empty(),
        "{} failures; shortest:\n{}",
        fails.len(),
        fails.first().map_or("", |f| f.as_str())
    );
}
