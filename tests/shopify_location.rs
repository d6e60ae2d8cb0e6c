//! The `shopify` adapter and a variant that is not stocked at the cart's one `location_id`,
//! against the emulator's Shopify mode over real HTTP on 127.0.0.1.
//!
//! What Shopify does there (its pages, paraphrased): `inventoryLevel(locationId:)` answers
//! null, as only active levels are returned by default (changelog "Add includeInactive
//! argument to inventoryLevels and inventoryLevel fields", 2026-04); a write is refused
//! `ITEM_NOT_STOCKED_AT_LOCATION` before 2026-10, except that from 2026-04 a deactivated
//! level keeps its quantities and takes writes like an active one (changelog "Add isActive
//! field to InventoryLevel"); from 2026-10 the error is gone and a write is taken at any
//! location (changelog "Removal of ITEM_NOT_STOCKED_AT_LOCATION error"). A count written there
//! is not the one the shop sells from at the location: the owner expects the change to fail
//! by name, saying what to do in Shopify admin, and the adapter never to stock the item there
//! itself (`inventoryActivate` is the owner's choice of where an item is stocked).
#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::adapter::shopify::ShopifyAdapter;
use inventory_sync::adapter::{CartAdapter, DeltaSend, QuantitySet, SendOutcome};
use inventory_sync::emulator::Mode;
use inventory_sync::secret::Secret;
use inventory_sync::{CartId, GetOptions};
use platform::*;
use std::time::Duration;

/// A Shopify cart on the emulator at API `version`.
fn cart_at(f: &Fixture, version: &str) -> CartId {
    let mut cart = cart_json(&f.emu, 50, SECRET);
    cart["api_version"] = version.into();
    f.store.upsert_cart_json(&cart.to_string()).unwrap()
}

/// Whether `message` fails the change by name and says what to do in Shopify admin.
fn says_not_stocked(message: &str) -> bool {
    message.contains("ITEM_NOT_STOCKED_AT_LOCATION")
        && message.contains("not stocked at the cart's location")
        && message.contains("Shopify admin")
}

/// A store and shop holding TEE (stocked at the location, 10) and HAT (10 in the store; in the
/// shop a variant whose level at the location is `hat_level`: `None` never stocked there,
/// `Some(n)` deactivated there keeping `n`), with a real-time cart at API `version`.
fn tee_and_hat(version: &str, hat_level: Option<i64>) -> (Fixture, CartId) {
    let f = fixture(Mode::Shopify);
    for sku in ["TEE", "HAT"] {
        f.emu.set_qoh(sku, 10);
        f.item(sku, 10);
    }
    f.emu.set_shopify_not_stocked("HAT", hat_level);
    let cart = cart_at(&f, version);
    (f, cart)
}

/// A sale of a SKU whose one variant is not stocked at the cart's location fails by name
/// and writes nothing, at the default API version (2026-04: a deactivated level takes
/// writes) and at 2026-10 (a write is taken at any location). Until 2026-12-04 the lookup
/// took the SKU's one variant whatever its level, and the sale was applied to a level the
/// shop does not sell from and reported sent.
#[test]
fn a_sale_of_a_variant_not_stocked_at_the_location_fails_by_name_and_writes_nothing() {
    sale_of_hat_writes_nothing(false);
}

/// A sale of TEE and one of HAT (deactivated at the location from 2026-04, never stocked
/// there at 2026-10; both `linked` by `remote_ref`, or looked up by SKU): TEE's is written,
/// HAT's is bypassed saying it is not stocked, and neither its count nor its inactive level
/// moves.
fn sale_of_hat_writes_nothing(linked: bool) {
    for (version, level) in [("2026-04", Some(3)), ("2026-10", None)] {
        let (f, cart) = tee_and_hat(version, level);
        if linked {
            link(&f, cart, "HAT");
            link(&f, cart, "TEE");
        }
        f.store.set_cart_sync(cart, true).unwrap();
        adjust(&f.store, "HAT", -1);
        adjust(&f.store, "TEE", -1);
        f.drain();
        assert_eq!(f.emu.qoh("TEE"), Some(9), "{version}");
        assert_eq!(
            (f.emu.qoh("HAT"), f.emu.shopify_inactive_level("HAT")),
            (Some(10), level),
            "{version}, linked {linked}: the sale of HAT was written at a location that does not stock it"
        );
        let recs = f.records(cart);
        assert_eq!(recs.len(), 1, "{version}: {recs:?}");
        assert_eq!(recs[0]["sku"], "HAT");
        assert_eq!(recs[0]["state"], "bypassed", "{version}: {recs:?}");
        let last = recs[0]["last_response"].as_str().unwrap();
        assert!(says_not_stocked(last), "{version}: {last}");
    }
}

/// Send QOH neither stocks the item at the location (no `inventoryActivate`) nor sets the
/// level it has there when not stocked: the item is a failure of the report, named, saying
/// what to do; the other counts are set.
#[test]
fn send_qoh_never_stocks_an_item_at_the_location_nor_writes_its_inactive_level() {
    send_qoh_writes_no_count_of_hat(false);
}

/// An item linked by `remote_ref` with no level at all at the location: before 2026-10
/// Shopify refuses it `ITEM_NOT_STOCKED_AT_LOCATION` (from 2026-12-04 the check of its level
/// before the write finds it first). A sale and a count of it fail saying what to do in
/// Shopify admin (until 2026-12-04: "shopify refused the change", nothing more).
#[test]
fn a_linked_item_shopify_refuses_as_not_stocked_fails_saying_what_to_do() {
    let (f, _) = tee_and_hat("2026-04", None);
    let a = ShopifyAdapter::new(
        &f.emu.url(),
        Secret::new(SECRET),
        "1",
        None,
        Duration::from_secs(10),
    )
    .unwrap();
    let hat = f.emu.platform_id("HAT").unwrap().to_string();
    let sale = DeltaSend {
        key: "3f5b6ebf-143c-4da5-8d0f-fb8553bfd870".into(),
        sku: "HAT".into(),
        remote_ref: Some(hat.clone()),
        delta: -1,
    };
    let out = a.apply_deltas(&[sale]).unwrap();
    assert!(
        matches!(&out[0], SendOutcome::Failed { message } if says_not_stocked(message)),
        "{out:?}"
    );
    let set = inventory_sync::adapter::QuantitySet {
        key: "3f5b6ebf-143c-4da5-8d0f-fb8553bfd871".into(),
        sku: "HAT".into(),
        remote_ref: Some(hat),
        qoh: 7,
        expected: None,
    };
    let out = a.set_quantities(&[set]).unwrap();
    assert!(
        matches!(&out[0], SendOutcome::Failed { message } if says_not_stocked(message)),
        "{out:?}"
    );
    assert_eq!(f.emu.qoh("HAT"), Some(10));
}

/// Get QOH takes no count for a variant not stocked at the location (there is none to take:
/// its level there is null), and leaves the store's item as it was.
#[test]
fn get_qoh_takes_no_count_for_a_variant_not_stocked_at_the_location() {
    let (f, cart) = tee_and_hat("2026-04", Some(3));
    f.emu.set_qoh("TEE", 8);
    f.store
        .get_qoh(
            cart,
            GetOptions {
                force: true,
                create_new: false,
            },
            None,
        )
        .unwrap();
    assert_eq!(f.store.item_qoh("TEE").unwrap(), 8);
    assert_eq!(f.store.item_qoh("HAT").unwrap(), 10);
}

/// The store's item `sku` linked to its Shopify inventory item by `remote_ref`, for `cart`.
fn link(f: &Fixture, cart: CartId, sku: &str) {
    let gid = format!(
        "gid://shopify/InventoryItem/{}",
        f.emu.platform_id(sku).unwrap()
    );
    f.store
        .set_web_fields(cart, sku, &format!(r#"{{"remote_ref":"{gid}"}}"#))
        .unwrap();
}

/// An adapter of the emulator's shop at the default API version (2026-04).
fn adapter(f: &Fixture) -> ShopifyAdapter {
    ShopifyAdapter::new(
        &f.emu.url(),
        Secret::new(SECRET),
        "1",
        None,
        Duration::from_secs(10),
    )
    .unwrap()
}

/// An item linked by `remote_ref` is never looked up, so only a check of its level before the
/// write finds it not stocked at the location. Its sale fails by name, as a looked-up SKU's
/// does, and its inactive level is not written, at the default API version (2026-04: a
/// deactivated level takes writes) and at 2026-10 (a write is taken at any location). Until
/// 2026-12-04 the sale came back applied, the inactive level went 3 → 2, and the count the
/// shop sells from stayed at 10.
#[test]
fn a_sale_of_a_linked_item_not_stocked_at_the_location_fails_by_name_and_writes_nothing() {
    sale_of_hat_writes_nothing(true);
}

/// Send QOH of linked items: the one not stocked at the location is a named failure of the
/// report and its inactive level keeps its count; the one stocked there is set as before.
#[test]
fn send_qoh_never_writes_the_inactive_level_of_a_linked_item() {
    send_qoh_writes_no_count_of_hat(true);
}

/// Send QOH of TEE and HAT (deactivated at the location from 2026-04, never stocked there at
/// 2026-10; both items `linked` by `remote_ref`, or looked up by SKU): TEE's count is set,
/// HAT's fails saying it is not stocked, and neither its count nor its inactive level moves.
fn send_qoh_writes_no_count_of_hat(linked: bool) {
    for (version, level) in [("2026-04", Some(3)), ("2026-10", None)] {
        let (f, cart) = tee_and_hat(version, level);
        if linked {
            link(&f, cart, "HAT");
            link(&f, cart, "TEE");
        }
        adjust(&f.store, "TEE", -4);
        adjust(&f.store, "HAT", -4);
        let report = f.send(cart);
        assert_eq!(
            (report.sent, report.failed),
            (1, 1),
            "{version}: {report:?}"
        );
        assert_eq!(f.emu.qoh("TEE"), Some(6), "{version}");
        assert_eq!(
            (f.emu.qoh("HAT"), f.emu.shopify_inactive_level("HAT")),
            (Some(10), level),
            "{version}, linked {linked}: Send QOH wrote HAT's count at a location that does not stock it"
        );
        assert_eq!(report.failures[0].sku, "HAT");
        assert!(
            says_not_stocked(&report.failures[0].message),
            "{version}: {}",
            report.failures[0].message
        );
    }
}

/// The check costs one query per call, however many linked items it carries (here 60 and
/// HAT, deactivated at the location), and none more while its answer for a stocked item is
/// trusted (a quarter hour, as a SKU's lookup): the stocked items' sales and counts are
/// written as before, in one request each, and HAT's never.
#[test]
fn linked_items_are_checked_in_one_query_per_call_and_the_stocked_ones_written() {
    let (f, _) = tee_and_hat("2026-04", Some(3));
    let skus: Vec<String> = (0..60).map(|i| format!("L{i:02}")).collect();
    for sku in &skus {
        f.emu.set_qoh(sku, 10);
    }
    let a = adapter(&f);
    let gid = |sku: &str| {
        format!(
            "gid://shopify/InventoryItem/{}",
            f.emu.platform_id(sku).unwrap()
        )
    };
    let sale = |sku: &str, n: usize| DeltaSend {
        key: format!("3f5b6ebf-143c-4da5-8d0f-{n:012}"),
        sku: sku.into(),
        remote_ref: Some(gid(sku)),
        delta: -1,
    };
    let hat_at = skus.len();
    let mut sales: Vec<DeltaSend> = skus.iter().enumerate().map(|(n, s)| sale(s, n)).collect();
    sales.push(sale("HAT", hat_at));
    // A reference naming no inventory item of the shop: the check's `null` node says nothing
    // of a level, and the sale goes as before, for Shopify to refuse it by its own code.
    sales.push(DeltaSend {
        remote_ref: Some("gid://shopify/InventoryItem/987654".into()),
        ..sale("HAT", hat_at + 1)
    });
    sales.last_mut().unwrap().sku = "GONE".into();
    f.emu.reset_counters();
    let out = a.apply_deltas(&sales).unwrap();
    assert_eq!(
        (f.emu.get_requests(), f.emu.adjust_requests()),
        (1, 1),
        "one level check and one write for the call"
    );
    for (o, s) in out.iter().zip(&sales).take(hat_at) {
        assert_eq!(*o, SendOutcome::Applied { qoh: Some(9) }, "{}", s.sku);
    }
    assert!(
        matches!(&out[hat_at], SendOutcome::Failed { message } if says_not_stocked(message) && message.contains(&gid("HAT"))),
        "{:?}",
        out[hat_at]
    );
    assert!(
        matches!(&out[hat_at + 1], SendOutcome::Failed { message }
            if message.contains("INVALID_INVENTORY_ITEM") && !says_not_stocked(message)),
        "{:?}",
        out[hat_at + 1]
    );
    assert_eq!(
        (f.emu.qoh("HAT"), f.emu.shopify_inactive_level("HAT")),
        (Some(10), Some(3))
    );

    // The next call's stocked items go without asking again; HAT, found not stocked, is
    // asked about again (the owner may have stocked it meanwhile): one query still.
    f.emu.reset_counters();
    let sets: Vec<QuantitySet> = skus
        .iter()
        .chain(std::iter::once(&"HAT".to_owned()))
        .enumerate()
        .map(|(n, s)| QuantitySet {
            key: format!("3f5b6ebf-143c-4da5-8d0e-{n:012}"),
            sku: s.clone(),
            remote_ref: Some(gid(s)),
            qoh: 7,
            expected: None,
        })
        .collect();
    let out = a.set_quantities(&sets).unwrap();
    assert_eq!(
        (f.emu.get_requests(), f.emu.set_requests()),
        (1, 1),
        "one level check (HAT's alone) and one write"
    );
    assert!(
        out[..hat_at]
            .iter()
            .all(|o| *o == SendOutcome::Applied { qoh: Some(7) }),
        "{out:?}"
    );
    assert!(
        matches!(&out[hat_at], SendOutcome::Failed { message } if says_not_stocked(message)),
        "{:?}",
        out[hat_at]
    );
    assert_eq!(f.emu.qoh("L00"), Some(7));
    assert_eq!(
        (f.emu.qoh("HAT"), f.emu.shopify_inactive_level("HAT")),
        (Some(10), Some(3))
    );
}
