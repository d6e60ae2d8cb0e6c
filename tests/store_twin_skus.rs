//! An adversarial review of store items whose SKUs differ only in case or accents (`TEE-M`
//! and `tee-m`, `CAFÉ` and `CAFE`): the store keeps them apart (SKU identity is exact), and
//! so may a host (`Store::upsert_item_json`, the C ABI's item save), while carts compare SKUs
//! each their own way. Each test of a cart holds both twins in the store and runs, on the
//! cart's emulator, the preflight, the drift report, Send QOH, a real-time sale of each twin
//! and Get QOH; the last test is the conformance check's, for an integrator's cart.
//!
//! What the carts do, as relied on here:
//! - WooCommerce compares SKUs by WordPress's MySQL collation (`utf8mb4_unicode_ci`: case and
//!   accents aside), in its `sku` filter and in its uniqueness check, which refuses a second
//!   product whose SKU differs only so (woocommerce/woocommerce#5552: a SKU changed from lower
//!   to upper case was refused as "not unique"). A shop holds one product for the twins.
//! - Shopify does not require a variant's SKU to be unique (free text), and the adapter
//!   compares exactly the SKUs its `sku:` search answers: a shop may sell `TEE-M` and `tee-m`
//!   as two variants, which must stay apart.
//! - BigCommerce documents a SKU as unique (bigcommerce/api-specs#991; a duplicate is a 409)
//!   but not whether case counts; `http_json` is the host's own server. Neither is warned of
//!   as taking twins for one; where the cart lists only one twin, the reports name it.
//!
//! Every adapter matches SKUs exactly (trimmed), so on none of the emulated carts did a
//! twin's change land on the other's product before these fixes either: the twin without a
//! product of its own failed as an unknown SKU. What was wrong is what the owner was told:
//! "no product has it", for an item whose twin's product the shop shows, and which a
//! WooCommerce shop refuses a product of its own.
#![cfg(feature = "emulator")]

#[macro_use]
#[allow(unused_macros)]
mod common;
mod platform;

use inventory_sync::emulator::Mode;
use inventory_sync::{CartId, Warning};
use serde_json::json;

/// The store's twins and an unrelated item, with their QOH.
const STORE: &[(&str, i64)] = &[
    ("TEE-M", 5),
    ("tee-m", 3),
    ("CAFÉ", 4),
    ("CAFE", 2),
    ("MUG", 7),
];

/// A store holding [`STORE`] and a cart on an emulator in `mode` listing `shop` (each at 0),
/// real-time sync off until the test switches it on.
fn twins_on(mode: Mode, shop: &[&str]) -> (platform::Fixture, CartId) {
    let f = platform::fixture(mode);
    if mode == Mode::Shopify {
        // Room for the preflight's, the report's and the sends' queries without a wait.
        f.emu.set_shopify_budget(1_000_000.0, 1_000_000.0);
    }
    for s in shop {
        f.emu.set_qoh(s, 0);
    }
    for (s, q) in STORE {
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

/// The preflight's warnings of `sku`, as `kind: message`.
fn said(warnings: &[Warning], sku: &str) -> Vec<String> {
    warnings
        .iter()
        .filter(|w| w.sku.as_deref() == Some(sku))
        .map(|w| format!("{}: {}", w.kind, w.message))
        .collect()
}

/// Send QOH, then one real-time sale of each twin: the items whose SKU the cart has
/// (`listed`) reach their own product; each of the others fails by its own name and moves
/// no product of the cart's.
fn sends_reach_only_their_own_product(f: &platform::Fixture, c: CartId, listed: &[&str]) {
    let r = f.send(c);
    let mut failed: Vec<&str> = r.failures.iter().map(|x| x.sku.as_str()).collect();
    failed.sort_unstable();
    let mut unlisted: Vec<&str> = STORE
        .iter()
        .map(|(s, _)| *s)
        .filter(|s| !listed.contains(s) && *s != "MUG")
        .collect();
    unlisted.sort_unstable();
    assert_eq!(failed, unlisted, "{r:?}");
    for x in &r.failures {
        assert!(x.message.contains(&format!("sku {}", x.sku)), "{r:?}");
    }
    for (s, q) in STORE {
        if listed.contains(s) {
            assert_eq!(f.emu.qoh(s), Some(*q), "{s}: {r:?}");
        }
    }
    f.store.set_cart_sync(c, true).unwrap();
    for (s, _) in &STORE[..4] {
        platform::adjust(&f.store, s, -1);
    }
    f.drain();
    for (s, q) in STORE {
        if listed.contains(s) {
            let sold = if *s == "MUG" { 0 } else { 1 };
            assert_eq!(f.emu.qoh(s), Some(q - sold), "{s}: {:?}", f.records(c));
        }
    }
    // Get QOH takes the listed twins' counts back as they are, and moves no other item.
    let g = f.get_qoh(c, true);
    assert_eq!((g.updated, g.created), (0, 0), "{g:?}");
    for (s, q) in STORE {
        let sold = if *s == "MUG" { 0 } else { 1 };
        assert_eq!(f.store.item_qoh(s).unwrap(), q - sold, "{s}: {g:?}");
    }
}

/// WooCommerce holds one product for `TEE-M` and `tee-m` (and for `CAFÉ` and `CAFE`), so only
/// the twin whose SKU the product has is synced there. The preflight now says so of each
/// twin (kind `sku_twin`, naming the other) before real-time sync goes on, and the twin
/// without a product is told as the twin of the store's listed item, in the preflight's
/// `unmapped` and the drift report's `unlisted_why`: before, both said "no product has it",
/// and the owner went to make a product WooCommerce refuses as a duplicate SKU. The sends
/// stay as they were: each twin's change reaches its own product or fails by its name.
#[test]
fn woocommerce_twins_are_named_by_the_preflight_and_the_drift_report() {
    let (f, c) = twins_on(Mode::WooCommerce, &["TEE-M", "CAFÉ", "MUG"]);
    let w = f.store.preflight(c).unwrap();
    for (sku, twin) in [
        ("TEE-M", "tee-m"),
        ("tee-m", "TEE-M"),
        ("CAFÉ", "CAFE"),
        ("CAFE", "CAFÉ"),
    ] {
        let s = said(&w, sku);
        assert!(
            s.iter()
                .any(|m| m.starts_with("sku_twin:") && m.contains(&format!("\"{twin}\""))),
            "{sku}: {w:#?}"
        );
    }
    assert!(said(&w, "MUG").iter().all(|m| !m.starts_with("sku_twin")));
    // Said of a cart that is not read as well: the twins are the store's to see.
    let mut spec = platform::cart_json(&f.emu, 100, platform::SECRET);
    for get in [false, true] {
        spec["capabilities"] = json!({"send": true, "get": get, "realtime": "attribute"});
        assert_eq!(f.store.upsert_cart_json(&spec.to_string()).unwrap(), c);
        if !get {
            let w = f.store.preflight(c).unwrap();
            let twins = w.iter().filter(|x| x.kind == "sku_twin").count();
            assert_eq!(twins, 4, "{w:#?}");
        }
    }
    for (sku, twin) in [("tee-m", "TEE-M"), ("CAFE", "CAFÉ")] {
        let s = said(&w, sku);
        assert!(
            s.iter().any(|m| m.starts_with("unmapped:")
                && m.contains(&format!("\"{twin}\""))
                && m.contains("another of the store's items")),
            "{sku}: {w:#?}"
        );
    }
    let d = f.store.drift(c, false).unwrap();
    assert_eq!(d.unlisted, ["CAFE", "tee-m"], "{d:?}");
    for (sku, twin) in [("tee-m", "TEE-M"), ("CAFE", "CAFÉ")] {
        assert!(
            d.unlisted_why
                .iter()
                .any(|n| n.sku == sku && n.why.contains(&format!("\"{twin}\""))),
            "{d:?}"
        );
    }
    sends_reach_only_their_own_product(&f, c, &["TEE-M", "CAFÉ", "MUG"]);

    // A shop whose uniqueness check was turned off (a plugin, a database import) and which
    // holds a product for each twin keeps them apart: no warning of them.
    let (f, c) = twins_on(
        Mode::WooCommerce,
        &["TEE-M", "tee-m", "CAFÉ", "CAFE", "MUG"],
    );
    let w = f.store.preflight(c).unwrap();
    assert!(w.iter().all(|x| x.kind != "sku_twin"), "{w:#?}");
    sends_reach_only_their_own_product(&f, c, &["TEE-M", "tee-m", "CAFÉ", "CAFE", "MUG"]);
}

/// A WooCommerce shop asked for the store's `tee-m` answers its `TEE-M` (its `sku` filter
/// compares by collation), which the adapter rightly does not write to; the change fails,
/// and now names the product's SKU the shop took for it, in Send QOH's report and in the
/// record bypassed: "no product has this SKU" alone (before) sent the owner to make one,
/// which WooCommerce refuses as a duplicate SKU.
#[test]
fn a_woocommerce_twins_refused_change_names_the_sku_the_shop_took_for_it() {
    let (f, c) = twins_on(Mode::WooCommerce, &["TEE-M", "CAFÉ", "MUG"]);
    let r = f.send(c);
    for (sku, theirs) in [("tee-m", "TEE-M"), ("CAFE", "CAFÉ")] {
        let failure = r.failures.iter().find(|x| x.sku == sku);
        assert!(
            failure
                .is_some_and(|x| x.message.contains("unknown SKU")
                    && x.message.contains(&format!("{theirs:?}"))),
            "{sku}: {r:?}"
        );
    }
    assert_eq!((f.emu.qoh("TEE-M"), f.emu.qoh("CAFÉ")), (Some(5), Some(4)));
    f.store.set_cart_sync(c, true).unwrap();
    platform::adjust(&f.store, "tee-m", -1);
    f.drain();
    let records = f.records(c);
    assert!(
        records.iter().any(|x| x["sku"] == "tee-m"
            && x["state"] == "bypassed"
            && x["last_response"]
                .as_str()
                .is_some_and(|m| m.contains("\"TEE-M\""))),
        "{records:?}"
    );
    assert_eq!(f.emu.qoh("TEE-M"), Some(5));
}

/// Shopify compares SKUs exactly: a shop selling `TEE-M` and `tee-m` as two variants keeps
/// each twin's count on its own, and the preflight warns of no twins there. Where it lists
/// only `CAFÉ`, the store's `CAFE` is told as its twin (before: "no product has it").
#[test]
fn shopify_keeps_twins_apart_and_names_the_one_it_lacks() {
    let (f, c) = twins_on(Mode::Shopify, &["TEE-M", "tee-m", "CAFÉ", "MUG"]);
    let w = f.store.preflight(c).unwrap();
    assert!(w.iter().all(|x| x.kind != "sku_twin"), "{w:#?}");
    assert!(
        said(&w, "CAFE")
            .iter()
            .any(|m| m.starts_with("unmapped:") && m.contains("\"CAFÉ\"")),
        "{w:#?}"
    );
    assert!(said(&w, "tee-m").iter().all(|m| !m.starts_with("unmapped")));
    let d = f.store.drift(c, false).unwrap();
    assert_eq!(d.unlisted, ["CAFE"], "{d:?}");
    assert!(
        d.unlisted_why
            .iter()
            .any(|n| n.sku == "CAFE" && n.why.contains("\"CAFÉ\"")),
        "{d:?}"
    );
    sends_reach_only_their_own_product(&f, c, &["TEE-M", "tee-m", "CAFÉ", "MUG"]);
}

/// BigCommerce and `http_json` carts listing one twin of each pair: no `sku_twin` warning
/// (neither is documented to take them for one), the other twin told as its twin in the
/// preflight and the drift report (before: "no product has it"), and its changes refused
/// by name, never written to the listed twin's product.
#[test]
fn bigcommerce_and_http_json_name_the_twin_they_lack() {
    for mode in [Mode::BigCommerce, Mode::HttpJson] {
        let (f, c) = twins_on(mode, &["TEE-M", "CAFÉ", "MUG"]);
        let w = f.store.preflight(c).unwrap();
        assert!(w.iter().all(|x| x.kind != "sku_twin"), "{mode:?}: {w:#?}");
        assert!(
            said(&w, "tee-m")
                .iter()
                .any(|m| m.starts_with("unmapped:") && m.contains("\"TEE-M\"")),
            "{mode:?}: {w:#?}"
        );
        let d = f.store.drift(c, false).unwrap();
        assert!(
            d.unlisted_why
                .iter()
                .any(|n| n.sku == "tee-m" && n.why.contains("\"TEE-M\"")),
            "{mode:?}: {d:?}"
        );
        sends_reach_only_their_own_product(&f, c, &["TEE-M", "CAFÉ", "MUG"]);
    }
}

/// A cart that looks SKUs up as MySQL's default collation compares them (case aside), as an
/// `http_json` server or a custom adapter on such a database may: asked for the store's
/// `tee-m`, it changes its `TEE-M`. Its owner's own view (the test cart) shows SKUs as they
/// are stored.
#[derive(Default)]
struct CaseBlindCart(common::MemShop);

impl CaseBlindCart {
    fn at(&self, sku: &str) -> Option<usize> {
        let all = self.0.lock();
        all.iter().position(|(s, _)| s.eq_ignore_ascii_case(sku))
    }
}

impl inventory_sync::adapter::CartAdapter for CaseBlindCart {
    fn update_mode(&self) -> inventory_sync::adapter::UpdateMode {
        inventory_sync::adapter::UpdateMode::RelativeUnkeyed
    }
    fn apply_deltas(
        &self,
        deltas: &[inventory_sync::adapter::DeltaSend],
    ) -> Result<Vec<inventory_sync::adapter::SendOutcome>, inventory_sync::adapter::CartError> {
        use inventory_sync::adapter::SendOutcome;
        Ok(deltas
            .iter()
            .map(|d| match self.at(&d.sku) {
                Some(i) => {
                    let mut all = self.0.lock();
                    all[i].1 += d.delta;
                    SendOutcome::Applied {
                        qoh: Some(all[i].1),
                    }
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
        Ok(sets
            .iter()
            .map(|s| match self.at(&s.sku) {
                Some(i) => {
                    let mut all = self.0.lock();
                    if s.expected.is_some_and(|e| e != all[i].1) {
                        return SendOutcome::Conflict { current: all[i].1 };
                    }
                    all[i].1 = s.qoh;
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

impl inventory_sync::adapter::conformance::TestCart for CaseBlindCart {
    fn put(&self, sku: &str, count: i64) -> Result<(), String> {
        self.0.put(sku, count)
    }
    fn count(&self, sku: &str) -> Result<Option<i64>, String> {
        self.0.count(sku)
    }
}

/// An integrator's adapter (or `http_json` server) that takes the store's `tee-m` for the
/// cart's `TEE-M` lands both twins' sales on one product, and has Send QOH set its count to
/// one twin's and then the other's, the last winning: the conformance check now fails it,
/// by the checks of unknown SKUs (before, it passed every check).
#[test]
fn the_conformance_check_fails_a_cart_that_takes_a_sku_for_its_case_twin() {
    use inventory_sync::adapter::conformance::{check, names, CheckOptions, Verdict};
    let blind = CaseBlindCart::default();
    let report = check(&blind, &blind, &CheckOptions::default());
    for name in [names::UNKNOWN_DELTA, names::UNKNOWN_SET] {
        assert!(
            matches!(report.verdict(name), Some(Verdict::Failed(why)) if why.contains("invsync-conformance-1")),
            "{name}: {report}"
        );
    }
    assert_eq!(report.failed().count(), 2, "{report}");
    // The built-in adapters pass them on their emulated carts: tests/conformance.rs's
    // `the_built_in_adapters_pass_against_their_loopback_carts`.
}
