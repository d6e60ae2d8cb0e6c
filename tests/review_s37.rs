//! A review of the SKU identity work merged on 2026-12-05 (`items::sku_fold`, Get QOH's
//! twin check, WooCommerce's check that the shop honoured its `sku` filter): where two SKUs
//! the owner means as one folded apart, and where a shop's collation matched a SKU more
//! loosely than the adapter allowed for.
#![cfg(feature = "emulator")]

#[macro_use]
mod common;
mod platform;

use inventory_sync::adapter::woocommerce::WooCommerceAdapter;
use inventory_sync::adapter::{CartAdapter, CartError, DeltaSend, QuantityPage, SendOutcome};
use inventory_sync::emulator::Mode;
use inventory_sync::secret::Secret;
use inventory_sync::GetOptions;
use std::sync::Arc;
use std::time::Duration;

/// A cart that is only read: one page listing `items`.
struct Listing(Vec<(String, i64)>);

impl CartAdapter for Listing {
    takes_no_deltas!();
    fn set_quantities(
        &self,
        _: &[inventory_sync::adapter::QuantitySet],
    ) -> Result<Vec<SendOutcome>, CartError> {
        Err(CartError::Rejected("not in this test".into()))
    }
    fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
        Ok(QuantityPage {
            items: self.0.clone(),
            next_cursor: None,
        })
    }
}

/// A Greek SKU that differs from the store's only in case is no new product: the cart's
/// `καφες-1` (a word ending in final sigma, `ς`, as Greek writes it in lower case) is the
/// store's `ΚΑΦΕΣ-1`. Get QOH's twin check compared SKUs by `str::to_lowercase`, which writes
/// the final sigma, and refused it; folded a character at a time (`items::sku_fold`, merged
/// 2026-12-05), `Σ` became `σ`, never `ς`, and *create records for new products* made
/// `καφες-1` a second item holding the same 4 units again, offered to every other cart.
#[test]
fn create_new_makes_no_second_item_of_a_greek_sku_written_in_lower_case() {
    let f = common::store();
    common::item(&f.store, "ΚΑΦΕΣ-1", 4);
    let shop = Arc::new(Listing(vec![("καφες-1".into(), 4), ("ΝΕΟΣ-2".into(), 2)]));
    let c = common::custom_cart(&f.store, "Shop", shop, None, None);
    let opts = GetOptions {
        force: true,
        create_new: true,
    };
    let r = f.store.get_qoh(c, opts, None).unwrap();
    assert_eq!(r.created, 1, "{r:?}");
    assert!(f.store.item_qoh("καφες-1").is_err(), "{r:?}");
    assert_eq!(f.store.item_qoh("ΝΕΟΣ-2").unwrap(), 2);
    let why = r
        .not_applied
        .iter()
        .find(|n| n.sku == "καφες-1")
        .map_or("", |n| n.why.as_str());
    assert!(why.contains("\"ΚΑΦΕΣ-1\""), "{r:?}");
    assert_eq!(f.store.item_qoh("ΚΑΦΕΣ-1").unwrap(), 4);
}

fn sale(sku: &str) -> DeltaSend {
    DeltaSend {
        key: format!("k-{sku}"),
        sku: sku.into(),
        remote_ref: None,
        delta: -1,
    }
}

/// WordPress's MySQL collation expands `ß` to `ss` (MySQL's manual: in `utf8mb4_unicode_ci`
/// `ß` = `ss`), so a German shop whose product is `STRAßE-1`, asked for the store's
/// `STRASSE-1`, answers it. The adapter rightly does not take it for that SKU; but compared
/// by `sku_fold` alone it took the answer for a sign that the shop ignores the filter, and
/// indexed what the lookup had read so far as the whole catalogue: `P-050` and `P-051`, on
/// sale in the shop but to be asked in the lookup's next chunk, were taken as absent and
/// their sales failed for good as unknown SKUs (the shop kept offering the units sold).
#[test]
fn a_woocommerce_sku_with_sharp_s_fails_no_other_sku_of_the_lookup() {
    let f = platform::fixture(Mode::WooCommerce);
    let skus: Vec<String> = (1..=51).map(|i| format!("P-{i:03}")).collect();
    for s in &skus {
        f.emu.set_qoh(s, 10);
    }
    f.emu.set_qoh("STRAßE-1", 5);
    let a = WooCommerceAdapter::new(
        &f.emu.url(),
        "ck_test",
        Secret::new(platform::SECRET),
        Duration::from_secs(5),
    )
    .unwrap();
    // STRASSE-1 and P-001..P-049 are the first chunk (50 SKUs a lookup); P-050 and P-051
    // the second, which the shop was never asked for.
    let mut batch = vec![sale("STRASSE-1")];
    batch.extend(skus.iter().map(|s| sale(s)));
    let out = a.apply_deltas(&batch).unwrap();
    for (d, o) in batch.iter().zip(&out) {
        match d.sku.as_str() {
            // Not the shop's SKU: refused by name, never written to STRAßE-1.
            "STRASSE-1" => assert!(
                matches!(o, SendOutcome::Failed { message } if message.contains("unknown SKU")),
                "{o:?}"
            ),
            _ => assert_eq!(o, &SendOutcome::Applied { qoh: Some(9) }, "{}", d.sku),
        }
    }
    assert_eq!(f.emu.qoh("STRAßE-1"), Some(5));
    assert_eq!(f.emu.qoh("P-051"), Some(9));
}
