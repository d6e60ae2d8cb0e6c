//! Mutation audit (s39) of code merged since the last audit: the store's look-alike SKUs
//! (the preflight's `sku_twin`, the twin named in `unmapped` and the drift report's
//! `unlisted_why`, WooCommerce's failure naming the shop's look-alike, the conformance
//! check's case-swapped SKUs), the settle/lease cuts (`stack_high_raise`, `backlog_clamp`,
//! the lease's probe of due groups) and the reads a QOH change keeps from the one before it
//! (`Store::change_reads`, `stack_insert_many`'s `last`). Each test here fails under a small
//! change of the library that the existing tests let through, and says which (`Catches:`).
#![cfg(feature = "emulator")]

#[macro_use]
#[allow(unused_macros)]
mod common;
mod platform;

use inventory_sync::emulator::Mode;
use inventory_sync::{CartId, Warning};
use serde_json::json;

/// A store holding `store` (SKU, QOH) and a cart on an emulator in `mode` listing `shop`
/// (each at 0, or with the JSON count given), real-time sync off.
fn cart_with(
    mode: Mode,
    store: &[(&str, i64)],
    shop: &[(&str, serde_json::Value)],
) -> (platform::Fixture, CartId) {
    let f = platform::fixture(mode);
    for (s, q) in shop {
        match q.as_i64() {
            Some(n) => f.emu.set_qoh(s, n),
            None => f.emu.set_qoh_json(s, q.clone()),
        }
    }
    for (s, q) in store {
        f.item(s, *q);
    }
    let mut spec = match mode {
        Mode::HttpJson => json!({"name": "Web", "adapter": "http_json",
            "url": f.emu.url(), "token": platform::SECRET, "max_items_to_send": 100}),
        _ => platform::cart_json(&f.emu, 100, platform::SECRET),
    };
    spec["capabilities"] = json!({"send": true, "get": true, "realtime": "attribute"});
    let c = f.store.upsert_cart_json(&spec.to_string()).unwrap();
    (f, c)
}

/// The preflight's warnings of `sku` of `kind`, their messages.
fn said<'a>(warnings: &'a [Warning], sku: &str, kind: &str) -> Vec<&'a str> {
    warnings
        .iter()
        .filter(|w| w.sku.as_deref() == Some(sku) && w.kind == kind)
        .map(|w| w.message.as_str())
        .collect()
}

/// Three of the store's items whose SKUs WooCommerce takes for one (`TEE-M`, `tee-m`,
/// `Tee-M`): the owner relies on each one's `sku_twin` warning naming both others, so that
/// renaming one of the three is not taken as the fix for all (the shop would still hold one
/// product for the other two).
/// Catches: the `sku_twin` message naming only the first of the others.
#[test]
fn a_sku_twin_warning_names_every_other_twin() {
    let (f, c) = cart_with(
        Mode::WooCommerce,
        &[("TEE-M", 5), ("tee-m", 3), ("Tee-M", 2)],
        &[("TEE-M", json!(0))],
    );
    let w = f.store.preflight(c).unwrap();
    for (sku, others) in [
        ("TEE-M", ["tee-m", "Tee-M"]),
        ("tee-m", ["TEE-M", "Tee-M"]),
        ("Tee-M", ["TEE-M", "tee-m"]),
    ] {
        let s = said(&w, sku, "sku_twin");
        assert_eq!(s.len(), 1, "{sku}: {w:#?}");
        for o in others {
            assert!(
                s[0].contains(&format!("\"{o}\"")),
                "{sku} names {o}: {w:#?}"
            );
        }
    }
}

/// A WooCommerce shop whose uniqueness check was off holds a product for each twin, one
/// of them with a count it wrote unreadably (`"n/a"`): the shop keeps the two apart, and the
/// owner relies on the preflight not telling them it holds one product for both (they would
/// rename an item that needs nothing but its count corrected). The unreadable count is
/// warned of as such.
/// Catches: `sku_twin_warnings`' `listed` dropping the cart's unreadable SKUs.
#[test]
fn woocommerce_twins_each_listed_one_unreadably_are_no_sku_twins() {
    let (f, c) = cart_with(
        Mode::WooCommerce,
        &[("TEE-M", 5), ("tee-m", 3)],
        &[("TEE-M", json!(0)), ("tee-m", json!("n/a"))],
    );
    let w = f.store.preflight(c).unwrap();
    assert!(w.iter().all(|x| x.kind != "sku_twin"), "{w:#?}");
    assert_eq!(said(&w, "tee-m", "unreadable").len(), 1, "{w:#?}");
}

/// The cart lists the store's `TEE-M` only with a count it cannot read, and not the
/// store's `tee-m`: the owner relies on the preflight's `unmapped` warning and the drift
/// report's `unlisted_why` of `tee-m` naming `TEE-M` (the product the cart shows), not
/// saying "no product has it", which sends them to make a product a WooCommerce-like cart
/// refuses as a duplicate.
/// Catches: `Listing::ours_listed` leaving out the SKUs listed twice or unreadably.
#[test]
fn a_twin_listed_unreadably_is_named_for_the_unlisted_one() {
    let (f, c) = cart_with(
        Mode::HttpJson,
        &[("TEE-M", 5), ("tee-m", 3)],
        &[("TEE-M", json!("n/a"))],
    );
    let w = f.store.preflight(c).unwrap();
    let s = said(&w, "tee-m", "unmapped");
    assert!(
        s.iter()
            .any(|m| m.contains("\"TEE-M\"") && m.contains("another of the store's items")),
        "{w:#?}"
    );
    let d = f.store.drift(c, false).unwrap();
    assert!(
        d.unlisted_why
            .iter()
            .any(|n| n.sku == "tee-m" && n.why.contains("\"TEE-M\"")),
        "{d:?}"
    );
}

/// Two real-time carts: a sale of `Z`, which only cart B's shop has, is applied on B and
/// refused for good on A (bypassed); then two sales of `X` are queued for both. The host
/// discards A's refused record (`invsync_stack_discard`), which ends by clamping every
/// cart's backlog mark to the stack's highest id. The owner relies on cart B's waiting count
/// (the pass report's `remaining`, the host's "records waiting" figure) saying the 2 sales
/// it has waiting: a clamp that raised B's mark over its uncounted records told 1.
/// Catches: `backlog_clamp`'s `WHERE counted_to > ?1` dropped (only `copies_match_the_source`,
/// a text comparison, failed).
#[test]
fn a_record_discarded_on_one_cart_leaves_the_others_waiting_count_true() {
    use common::{adjust, cart, drain, item, stack, store};
    use inventory_sync::emulator::Emulator;
    use inventory_sync::{Reason, StackState};
    let f = store();
    let (ea, eb) = (Emulator::start().unwrap(), Emulator::start().unwrap());
    item(&f.store, "X", 100);
    item(&f.store, "Z", 100);
    ea.set_qoh("X", 100);
    eb.set_qoh("X", 100);
    eb.set_qoh("Z", 100);
    let a = cart(&f.store, &ea, "A", "attribute");
    let b = cart(&f.store, &eb, "B", "attribute");
    adjust(&f.store, "Z", -1, Reason::PosSale);
    drain(&f.store);
    assert_eq!(eb.qoh("Z"), Some(99));
    let refused = stack(&f.store, Some(&format!(r#"{{"cart_id":{a}}}"#)));
    assert!(
        refused.len() == 1 && refused[0]["state"] == "bypassed",
        "{refused:?}"
    );
    adjust(&f.store, "X", -2, Reason::PosSale);
    adjust(&f.store, "X", -3, Reason::PosSale);
    f.store
        .stack_discard(refused[0]["id"].as_i64().unwrap())
        .unwrap();
    assert_eq!(f.store.stack_count(b, StackState::Waiting).unwrap(), 2);
    drain(&f.store);
    assert_eq!((ea.qoh("X"), eb.qoh("X")), (Some(95), Some(95)));
}

/// A cart that lists exactly the SKUs it is given, and applies every change to a SKU it
/// lists: a host's own adapter comparing SKUs exactly.
struct ExactCart(common::MemShop);

impl inventory_sync::adapter::CartAdapter for ExactCart {
    fn update_mode(&self) -> inventory_sync::adapter::UpdateMode {
        inventory_sync::adapter::UpdateMode::RelativeUnkeyed
    }
    fn apply_deltas(
        &self,
        deltas: &[inventory_sync::adapter::DeltaSend],
    ) -> Result<Vec<inventory_sync::adapter::SendOutcome>, inventory_sync::adapter::CartError> {
        use inventory_sync::adapter::SendOutcome;
        let mut all = self.0.lock();
        Ok(deltas
            .iter()
            .map(|d| match all.iter_mut().find(|(s, _)| *s == d.sku) {
                Some(e) => {
                    e.1 += d.delta;
                    SendOutcome::Applied { qoh: Some(e.1) }
                }
                None => SendOutcome::Failed {
                    message: format!("sku {}: unknown SKU", d.sku),
                },
            })
            .collect())
    }
    fn set_quantities(
        &self,
        sets: &[inventory_sync::adapter::QuantitySet],
    ) -> Result<Vec<inventory_sync::adapter::SendOutcome>, inventory_sync::adapter::CartError> {
        use inventory_sync::adapter::SendOutcome;
        let mut all = self.0.lock();
        Ok(sets
            .iter()
            .map(|s| match all.iter_mut().find(|(k, _)| *k == s.sku) {
                Some(e) => {
                    e.1 = s.qoh;
                    SendOutcome::Applied { qoh: Some(s.qoh) }
                }
                None => SendOutcome::Failed {
                    message: format!("sku {}: unknown SKU", s.sku),
                },
            })
            .collect())
    }
    fn fetch_quantities(
        &self,
        _: Option<&str>,
        _: u32,
    ) -> Result<inventory_sync::adapter::QuantityPage, inventory_sync::adapter::CartError> {
        self.0.page()
    }
}

/// A host that registers its own adapter under the built-in name `woocommerce` (its own
/// build of it, on a shop whose database compares SKUs exactly) is told nothing of
/// WooCommerce's collation: the owner relies on the preflight warning of `sku_twin` only
/// where the adapter is the library's own, whose shop holds one product for `TEE-M` and
/// `tee-m`; here `tee-m` is told as unmapped (its twin named), not as a twin the cart takes
/// for one, which would have them rename an item for nothing.
/// Catches: the preflight's collation taken for a host's adapter (`is_custom` ignored).
#[test]
fn a_hosts_own_adapter_named_woocommerce_is_warned_of_no_sku_twins() {
    let f = common::store();
    common::item(&f.store, "TEE-M", 5);
    common::item(&f.store, "tee-m", 3);
    let shop = std::sync::Arc::new(ExactCart(common::MemShop::new(vec![(
        "TEE-M".to_owned(),
        0,
    )])));
    f.store
        .register_adapter("woocommerce", move |_| Ok(shop.clone()));
    // The built-in adapter's settings, which the host's own keeps (never contacted here).
    let spec = json!({"name": "Woo", "adapter": "woocommerce", "url": "http://127.0.0.1:9/",
        "consumer_key": "ck_test", "consumer_secret": platform::SECRET,
        "capabilities": {"send": true, "get": true}});
    let c = f.store.upsert_cart_json(&spec.to_string()).unwrap();
    let w = f.store.preflight(c).unwrap();
    assert!(w.iter().all(|x| x.kind != "sku_twin"), "{w:#?}");
    assert!(
        said(&w, "tee-m", "unmapped")
            .iter()
            .any(|m| m.contains("\"TEE-M\"")),
        "{w:#?}"
    );
}
