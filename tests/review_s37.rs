//! A review of the SKU identity work merged on 2026-12-05 (`items::sku_fold`, Get QOH's
//! twin check, WooCommerce's check that the shop honoured its `sku` filter): where two SKUs
//! the owner means as one folded apart, and where a shop's collation matched a SKU more
//! loosely than the adapter allowed for.
#![cfg(feature = "emulator")]

#[macro_use]
mod common;

use inventory_sync::adapter::{CartAdapter, CartError, QuantityPage, SendOutcome};
use inventory_sync::GetOptions;
use std::sync::Arc;

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
