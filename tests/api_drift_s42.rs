//! API drift review (s42) of the Medusa adapter: its lookups of inventory items by `sku[]`
//! and `id[]`, against the shared stand-in (`platform::medusa_fake`), which reads a query
//! string as a Medusa 2.21 backend on Express 4.22.0 or 4.22.1 does:
//!
//! - Express 4.22.0/4.22.1 parse `req.query` with qs `~6.14.0`; from qs 6.14.1 its
//!   `arrayLimit` (20) also caps bracket notation, so `sku[]` given more than 20 times becomes
//!   an object (`{"0": …, "20": …}`), not an array
//!   (<https://github.com/expressjs/express/issues/7147>,
//!   <https://github.com/ljharb/qs/pull/568>; Express 4.22.2 of 2026-05-08 raised the cap to
//!   1000, <https://github.com/expressjs/express/pull/7225>, but a shop installed in between
//!   keeps its lockfile). Medusa's list validator takes `sku` and `id` as a string or an
//!   array of strings only (`AdminGetInventoryItemsParamsFields`, `.strict()`), and answers
//!   anything else 400 `invalid_data`.
//! - Medusa's `normalizeQuery` (`validateAndTransformQuery`) splits an array of one string on
//!   commas, its documented way of passing a list in one value: `sku[]=TEE,RED` alone asks for
//!   TEE and RED, never the SKU `TEE,RED`.
#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::adapter::medusa::{MedusaAdapter, MedusaAuth};
use inventory_sync::adapter::{CartAdapter, DeltaSend, QuantitySet, SendOutcome};
use inventory_sync::secret::Secret;
use platform::medusa_fake::Medusa;
use platform::MEDUSA_LOCATION;
use std::time::Duration;

fn adapter(url: &str) -> MedusaAdapter {
    MedusaAdapter::new(
        url,
        MedusaAuth::ApiKey(Secret::new("sk_drift_s42_1234")),
        MEDUSA_LOCATION,
        Duration::from_secs(5),
    )
    .unwrap()
}

fn sale(n: usize, sku: &str) -> DeltaSend {
    DeltaSend {
        key: format!("k{n}"),
        sku: sku.to_owned(),
        remote_ref: None,
        delta: -1,
    }
}

/// 25 sales of 25 SKUs in one call, as a batch of a real-time cart sending its default 50
/// records: each reaches its inventory item once. The adapter asked for the 25 SKUs in one
/// `sku[]` list of 25; Medusa on Express 4.22.0/4.22.1 refused it 400, and the controller
/// bypassed every sale of the batch as refused (the shop kept the units sold).
#[test]
fn a_call_of_more_than_twenty_skus_reaches_medusa_each_once() {
    let items: Vec<(String, String)> = (0..25)
        .map(|i| (format!("iitem_{i:02}"), format!("SKU-{i:02}")))
        .collect();
    let seeded: Vec<(&str, &str, i64)> = items
        .iter()
        .map(|(id, sku)| (id.as_str(), sku.as_str(), 10))
        .collect();
    let medusa = Medusa::start(&seeded);
    let a = adapter(&medusa.url);
    let sales: Vec<DeltaSend> = items
        .iter()
        .enumerate()
        .map(|(n, (_, sku))| sale(n, sku))
        .collect();
    let outcomes = a
        .apply_deltas(&sales)
        .expect("Medusa answers a lookup of at most 20 SKUs");
    for ((id, sku), outcome) in items.iter().zip(&outcomes) {
        assert!(
            matches!(outcome, SendOutcome::Applied { qoh: Some(9) }),
            "{sku}: {outcome:?}"
        );
        assert_eq!(medusa.stocked(id), 9, "{sku} sold once");
    }
    assert_eq!(medusa.refused_lookups(), 0);

    // Send QOH of the same 25 (each read by its cached id now): set, each once.
    let sets: Vec<QuantitySet> = items
        .iter()
        .enumerate()
        .map(|(n, (_, sku))| QuantitySet {
            key: format!("s{n}"),
            sku: sku.clone(),
            remote_ref: None,
            qoh: 4,
            expected: None,
        })
        .collect();
    let outcomes = a.set_quantities(&sets).expect("set");
    for ((id, sku), outcome) in items.iter().zip(&outcomes) {
        assert!(
            matches!(outcome, SendOutcome::Applied { qoh: Some(4) }),
            "{sku}: {outcome:?}"
        );
        assert_eq!(medusa.stocked(id), 4, "{sku}");
    }
    assert_eq!(medusa.refused_lookups(), 0);
}

/// A sale of a SKU holding a comma (`TEE,RED`, which Medusa takes as a SKU) sent alone
/// reaches its item. Looked up as `sku[]=TEE,RED`, Medusa read the one value as the list TEE
/// and RED, and the sale failed as an unknown SKU (bypassed) while Get QOH, which lists the
/// inventory, took the item's count.
#[test]
fn a_sku_holding_a_comma_is_found_when_it_is_looked_up_alone() {
    let medusa = Medusa::start(&[
        ("iitem_a", "TEE,RED", 10),
        ("iitem_b", "TEE", 5),
        ("iitem_c", "RED", 7),
    ]);
    let a = adapter(&medusa.url);
    let outcomes = a.apply_deltas(&[sale(0, "TEE,RED")]).expect("sale");
    assert!(
        matches!(outcomes[0], SendOutcome::Applied { qoh: Some(9) }),
        "{:?}",
        outcomes[0]
    );
    assert_eq!(medusa.stocked("iitem_a"), 9);
    assert_eq!(
        (medusa.stocked("iitem_b"), medusa.stocked("iitem_c")),
        (5, 7)
    );
}
