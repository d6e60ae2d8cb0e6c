//! Review of 2026-12-05's change (cart-made names, level switches, doubt reported): what a
//! store owner would pay for, each shown on a loopback cart before its fix.
#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::{GetOptions, Store};
use platform::scripted::Scripted;
use serde_json::json;

/// A BigCommerce inventory page of one item, `sku` of product `product` with `onhand` units,
/// the page `page` of 2.
fn bc_items_page(sku: &str, product: u64, onhand: i64, page: u32) -> &'static str {
    let body = json!({
        "data": [{"identity": {"sku": sku, "variant_id": product * 10, "product_id": product},
                  "total_inventory_onhand": onhand, "available_to_sell": onhand,
                  "settings": {"safety_stock": 0}}],
        "meta": {"pagination": {"total": 2, "count": 1, "per_page": 1,
                                "current_page": page, "total_pages": 2}},
    });
    Box::leak(body.to_string().into_boxed_str())
}

/// BigCommerce's catalogue answer for product `id` named `name`, a plain item `sku`.
fn bc_product(id: u64, name: &str, sku: &str) -> &'static str {
    let body = json!({
        "data": [{"id": id, "name": name, "sku": sku,
                  "variants": [{"id": id * 10, "product_id": id, "sku": sku,
                                "option_values": []}]}],
        "meta": {"pagination": {"total": 1, "count": 1, "per_page": 250,
                                "current_page": 1, "total_pages": 1}},
    });
    Box::leak(body.to_string().into_boxed_str())
}

/// A rate limit met by the catalogue read Get QOH makes for the names of what it creates (a
/// quota shared with the shop's other apps) is waited out and the read asked again: the new
/// item is named, and the next page's counts are taken. (Found when the names were read with
/// the listing: the page asked again after the wait came back empty, its items marked listed
/// before the read, and Get QOH took none of its counts. The names are now read apart from
/// the listing, `CartAdapter::describe`; this pins that a wait there loses nothing.)
#[test]
fn bigcommerce_names_read_rate_limited_still_takes_the_pages_counts() {
    let server = Scripted::start_with_headers(vec![
        (200, "", bc_items_page("MUG", 1, 7, 1)),
        (
            429,
            "x-rate-limit-time-reset-ms: 20\r\n",
            r#"{"status":429,"title":"Too many requests"}"#,
        ),
        (200, "", bc_product(1, "Mug", "MUG")),
        (200, "", bc_items_page("CAP", 2, 4, 2)),
    ]);
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store.db")).unwrap();
    store
        .upsert_item_json(&json!({"sku": "CAP", "qoh": 1}).to_string())
        .unwrap();
    let cart = store
        .upsert_cart_json(
            &json!({"name": "BC", "adapter": "bigcommerce",
                "url": format!("{}stores/abc123/", server.url), "token": "bc-token"})
            .to_string(),
        )
        .unwrap();
    let report = store
        .get_qoh(
            cart,
            GetOptions {
                force: true,
                create_new: true,
            },
            None,
        )
        .unwrap();
    assert_eq!(store.item("CAP").unwrap().qoh, 4, "{report:?}");
    let mug = store.item("MUG").unwrap();
    assert_eq!(
        (mug.qoh, mug.description.as_str()),
        (7, "Mug"),
        "{report:?}"
    );
    let seen = server.finish();
    assert_eq!(seen.len(), 4, "{seen:?}");
}
