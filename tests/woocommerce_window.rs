//! The read-add-write window of the `woocommerce` adapter (DESIGN §4): a storefront sale that
//! WooCommerce records while a call of deltas is under way must not be overwritten by a
//! count read before it. Against a fake shop on loopback that records such a sale at a given
//! request, which neither the emulator nor a scripted server models.
#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::adapter::woocommerce::WooCommerceAdapter;
use inventory_sync::adapter::{CartAdapter, DeltaSend, SendOutcome};
use inventory_sync::secret::Secret;
use platform::Reply;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Requests the shop answers before it refuses every other: a call that loops fails its test
/// instead of hanging it.
const CAP: usize = 50;

/// The shop's state: each variation's count by (product, variation), what it was asked in
/// order (method, path?query), and which product's variations the first batch write went to.
#[derive(Default)]
struct Shop {
    counts: BTreeMap<(u64, u64), i64>,
    log: Vec<(String, String)>,
    first_write: Option<u64>,
}

/// Two variable products, 10 (variation 11, SKU A-S) and 20 (variation 21, SKU B-S), each
/// variation keeping its own count of 10. When the shop takes the call's first batch write,
/// a customer buys one unit of the *other* product's variation in the storefront
/// (WooCommerce's own order reduces the count it holds), before the call's second request.
fn start() -> (String, Arc<Mutex<Shop>>) {
    let shop = Arc::new(Mutex::new(Shop::default()));
    {
        let mut s = shop.lock().unwrap();
        s.counts.insert((10, 11), 10);
        s.counts.insert((20, 21), 10);
    }
    let state = shop.clone();
    let url = platform::serve(move |method, target, body| -> Reply {
        let mut s = state.lock().unwrap();
        s.log.push((method.to_owned(), target.to_owned()));
        if s.log.len() > CAP {
            return (
                401,
                Vec::new(),
                r#"{"code":"woocommerce_rest_cannot_view"}"#.into(),
            );
        }
        let path = target.split('?').next().unwrap();
        let product: Option<u64> = path
            .strip_prefix("/wp-json/wc/v3/products/")
            .and_then(|rest| rest.split('/').next())
            .and_then(|id| id.parse().ok());
        let entry = |p: u64, v: u64, q: i64| {
            json!({"id": v, "parent_id": p, "sku": if p == 10 { "A-S" } else { "B-S" },
                   "type": "variation", "manage_stock": true, "stock_quantity": q})
        };
        match (method, product, path.ends_with("/variations/batch")) {
            ("GET", Some(p), false) if path.ends_with("/variations") => {
                let include: Vec<u64> = target
                    .split(['?', '&'])
                    .find_map(|kv| kv.strip_prefix("include="))
                    .map(|ids| {
                        ids.split("%2C")
                            .flat_map(|x| x.split(','))
                            .filter_map(|x| x.parse().ok())
                            .collect()
                    })
                    .unwrap_or_default();
                let list: Vec<Value> = s
                    .counts
                    .iter()
                    .filter(|((q, v), _)| *q == p && include.contains(v))
                    .map(|((q, v), n)| entry(*q, *v, *n))
                    .collect();
                (200, Vec::new(), Value::Array(list).to_string())
            }
            ("POST", Some(p), true) => {
                let sent: Value = serde_json::from_str(body).unwrap();
                let mut update = Vec::new();
                for u in sent["update"].as_array().unwrap() {
                    let (v, n) = (
                        u["id"].as_u64().unwrap(),
                        u["stock_quantity"].as_i64().unwrap(),
                    );
                    s.counts.insert((p, v), n);
                    update.push(entry(p, v, n));
                }
                if s.first_write.is_none() {
                    s.first_write = Some(p);
                    // The storefront sale of the other product's variation, now.
                    let other = if p == 10 { (20, 21) } else { (10, 11) };
                    *s.counts.get_mut(&other).unwrap() -= 1;
                }
                (200, Vec::new(), json!({ "update": update }).to_string())
            }
            _ => (404, Vec::new(), r#"{"code":"rest_no_route"}"#.into()),
        }
    });
    (url, shop)
}

fn sale(sku: &str, remote_ref: &str, delta: i64) -> DeltaSend {
    DeltaSend {
        key: format!("k-{sku}"),
        sku: sku.into(),
        remote_ref: Some(remote_ref.into()),
        delta,
    }
}

/// One call carries changes of variations of two products, so two batch requests
/// (`products/10/variations/batch`, `products/20/variations/batch`). A storefront sale of the
/// second product's variation lands between the two. Until 2026-12-04 every count of the
/// call was read first and the second request wrote the count read before the sale: the
/// sale was overwritten, and the shop offered a unit the store had sold. Each request's
/// counts must be read right before it: the final counts hold both the storefront sale and
/// ours, and every request is preceded by the read of its own items.
#[test]
fn a_storefront_sale_between_two_batch_writes_of_one_call_is_not_overwritten() {
    let (url, shop) = start();
    let adapter =
        WooCommerceAdapter::new(&url, "ck_x", Secret::new("cs_x"), Duration::from_secs(5)).unwrap();
    let out = adapter
        .apply_deltas(&[sale("A-S", "10/11", -2), sale("B-S", "20/21", -3)])
        .unwrap();
    let s = shop.lock().unwrap();
    let first = s.first_write.expect("a batch write was made");
    let (a, b) = (s.counts[&(10, 11)], s.counts[&(20, 21)]);
    // The product written first took only our change; the other, the storefront's and ours.
    let (want_a, want_b) = match first {
        10 => (10 - 2, 10 - 1 - 3),
        _ => (10 - 1 - 2, 10 - 3),
    };
    assert_eq!(
        (a, b),
        (want_a, want_b),
        "a storefront sale between the call's two batch writes was overwritten (first write \
         to product {first}); requests: {:?}; outcomes: {out:?}",
        s.log
    );
    assert_eq!(
        out,
        vec![
            SendOutcome::Applied { qoh: Some(want_a) },
            SendOutcome::Applied { qoh: Some(want_b) }
        ],
        "{:?}",
        s.log
    );
    // Each batch write right after the read of its own product's variations, and no more
    // reads than one before each write and the read-back of each product.
    for (n, (m, target)) in s.log.iter().enumerate() {
        if m == "POST" {
            let product = target.trim_end_matches("/batch");
            let (before_m, before_t) = &s.log[n - 1];
            assert!(
                before_m == "GET" && before_t.starts_with(&format!("{product}?")),
                "the write {target} does not follow the read of its items: {:?}",
                s.log
            );
        }
    }
    let (gets, posts) = (
        s.log.iter().filter(|(m, _)| m == "GET").count(),
        s.log.iter().filter(|(m, _)| m == "POST").count(),
    );
    assert_eq!((gets, posts), (4, 2), "{:?}", s.log);
}
