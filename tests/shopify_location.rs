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
use inventory_sync::adapter::{CartAdapter, DeltaSend, SendOutcome};
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
/// writes) and at 2026-10 (a write is taken at any location). Until 2026-12-05 the lookup
/// took the SKU's one variant whatever its level, and the sale was applied to a level the
/// shop does not sell from and reported sent.
#[test]
fn a_sale_of_a_variant_not_stocked_at_the_location_fails_by_name_and_writes_nothing() {
    for (version, level) in [("2026-04", Some(3)), ("2026-10", None)] {
        let (f, cart) = tee_and_hat(version, level);
        f.store.set_cart_sync(cart, true).unwrap();
        adjust(&f.store, "HAT", -1);
        adjust(&f.store, "TEE", -1);
        f.drain();
        assert_eq!(f.emu.qoh("TEE"), Some(9), "{version}");
        assert_eq!(
            (f.emu.qoh("HAT"), f.emu.shopify_inactive_level("HAT")),
            (Some(10), level),
            "{version}: the sale of HAT was written at a location that does not stock it"
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
    for (version, level) in [("2026-04", Some(3)), ("2026-10", None)] {
        let (f, cart) = tee_and_hat(version, level);
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
            "{version}: Send QOH wrote HAT's count at a location that does not stock it"
        );
        assert_eq!(report.failures[0].sku, "HAT");
        assert!(
            says_not_stocked(&report.failures[0].message),
            "{version}: {}",
            report.failures[0].message
        );
    }
}

/// An item linked by `remote_ref` is written without a lookup: before 2026-10 Shopify
/// refuses it `ITEM_NOT_STOCKED_AT_LOCATION`. A sale and a count so refused fail saying what
/// to do in Shopify admin (until 2026-12-05: "shopify refused the change", nothing more).
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
