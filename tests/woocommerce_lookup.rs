//! The `woocommerce` adapter's SKU lookup: a SKU not in its cache is asked for with
//! WooCommerce's `sku` filter (`GET products?sku=A,B`), not by crawling the whole catalogue,
//! and a SKU the shop does not have is remembered for a while. A store sends every item's
//! change to every cart, and a shop lists only some of its items: until 2026-12-04 each
//! batch carrying a SKU the shop lacks crawled every product and every variable product's
//! variations (some 550 requests a sale for 5,000 products, 500 of them variable).
//!
//! Against the emulator's WooCommerce mode (which filters by SKU as WooCommerce does), and a
//! fake shop on loopback for what the emulator does not model (a SKU moved to another
//! product, a SKU on two products, a shop that ignores the filter).
#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::adapter::woocommerce::WooCommerceAdapter;
use inventory_sync::adapter::{CartAdapter, DeltaSend, SendOutcome};
use inventory_sync::emulator::Mode;
use inventory_sync::secret::Secret;
use platform::{fixture, SECRET};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn sale(sku: &str, delta: i64) -> DeltaSend {
    DeltaSend {
        key: format!("k-{sku}-{delta}"),
        sku: sku.into(),
        remote_ref: None,
        delta,
    }
}

fn unknown(o: &SendOutcome) -> bool {
    matches!(o, SendOutcome::Failed { message } if message.contains("unknown SKU"))
}

/// The answer for a SKU remembered absent, which the shop was not asked about: not applied,
/// tried again later (an attempt), never failed for good on memory alone.
fn remembered(o: &SendOutcome) -> bool {
    matches!(o, SendOutcome::Retry { message, after: None } if message.contains("unknown SKU"))
}

/// An adapter for the emulator of `fixture`.
fn emulated(f: &platform::Fixture) -> WooCommerceAdapter {
    WooCommerceAdapter::new(
        &f.emu.url(),
        "ck_test",
        Secret::new(SECRET),
        Duration::from_secs(5),
    )
    .unwrap()
}

/// 300 products, 30 of them variable with two variations each.
fn big_catalogue(f: &platform::Fixture) {
    for i in 1..=270 {
        f.emu.set_qoh(&format!("P-{i:03}"), 10);
    }
    for i in 1..=30 {
        f.emu
            .set_variant_qoh(&format!("V-{i:02}"), &format!("V-{i:02}-S"), 10);
        f.emu
            .set_variant_qoh(&format!("V-{i:02}"), &format!("V-{i:02}-M"), 10);
    }
}

/// A sale of a SKU the shop does not list, in a batch with one it does, against 300
/// products: a crawl was 3 pages of products and 30 listings of variations before the
/// batch's own read, write and read-back. Now one lookup, whatever the catalogue's size.
#[test]
fn a_sku_the_shop_lacks_costs_one_lookup_not_a_crawl_of_the_catalogue() {
    let f = fixture(Mode::WooCommerce);
    big_catalogue(&f);
    let a = emulated(&f);
    f.emu.reset_counters();
    let out = a
        .apply_deltas(&[sale("GHOST", -1), sale("P-150", -1)])
        .unwrap();
    assert!(unknown(&out[0]), "{out:?}");
    assert_eq!(out[1], SendOutcome::Applied { qoh: Some(9) }, "{out:?}");
    assert_eq!(f.emu.qoh("P-150"), Some(9));
    // The lookup of both SKUs, the read, the write, the read-back.
    assert!(
        f.emu.requests() <= 4,
        "{} requests for one batch",
        f.emu.requests()
    );
}

/// The same SKU the shop lacks, in the next batches (a best-seller the shop does not list):
/// no lookup again while it is remembered absent. A manual run forgets it, so a product
/// the owner adds to the shop and then runs Send QOH for is found at once.
#[test]
fn a_sku_the_shop_lacks_is_not_looked_up_again_in_the_next_batch() {
    let f = fixture(Mode::WooCommerce);
    big_catalogue(&f);
    let a = emulated(&f);
    let out = a.apply_deltas(&[sale("GHOST", -1)]).unwrap();
    assert!(unknown(&out[0]), "{out:?}");
    for _ in 0..3 {
        f.emu.reset_counters();
        let out = a.apply_deltas(&[sale("GHOST", -2)]).unwrap();
        assert!(remembered(&out[0]), "{out:?}");
        assert_eq!(
            f.emu.requests(),
            0,
            "a batch of the absent SKU asked the shop"
        );
    }
    // The owner lists it, and runs Send QOH.
    f.emu.set_qoh("GHOST", 5);
    a.begin_manual_run();
    f.emu.reset_counters();
    let out = a.apply_deltas(&[sale("GHOST", -1)]).unwrap();
    assert_eq!(out[0], SendOutcome::Applied { qoh: Some(4) }, "{out:?}");
    assert!(f.emu.requests() <= 4, "{}", f.emu.requests());
}

/// A variation's SKU is found by the filter (WooCommerce lists variations among products
/// when filtering by SKU, naming their product in `parent_id`), and its count written under
/// its product, without listing any product's variations.
#[test]
fn a_variations_sku_is_found_by_the_filter() {
    let f = fixture(Mode::WooCommerce);
    big_catalogue(&f);
    let a = emulated(&f);
    f.emu.reset_counters();
    let out = a
        .apply_deltas(&[sale("V-17-M", -3), sale("V-02-S", 2)])
        .unwrap();
    assert_eq!(
        out,
        vec![
            SendOutcome::Applied { qoh: Some(7) },
            SendOutcome::Applied { qoh: Some(12) }
        ]
    );
    assert_eq!(f.emu.qoh("V-17-M"), Some(7));
    assert_eq!(f.emu.qoh("V-02-S"), Some(12));
    assert_eq!(f.emu.qoh("V-17-S"), Some(10));
    // The lookup; per product, a read, a write and a read-back.
    assert!(f.emu.requests() <= 7, "{}", f.emu.requests());
}

/// MySQL matches WooCommerce's `sku` filter by the column's collation, case aside: `abc`
/// finds `ABC`. The SKU is compared exactly, so the store's `p-001` is not the shop's
/// `P-001` (as the catalogue's index never took it), and that answer is not a shop ignoring
/// the filter either (no crawl follows).
#[test]
fn a_sku_answered_in_another_case_is_not_taken_and_costs_no_crawl() {
    let f = fixture(Mode::WooCommerce);
    big_catalogue(&f);
    let a = emulated(&f);
    f.emu.reset_counters();
    let out = a.apply_deltas(&[sale("p-001", -1)]).unwrap();
    assert!(unknown(&out[0]), "{out:?}");
    assert_eq!(f.emu.qoh("P-001"), Some(10));
    assert_eq!(f.emu.requests(), 1);
}

/// 120 SKUs the shop lacks, each of 40 characters: looked up 50 at a time (a URL of some
/// 2,300 bytes each), not one request a SKU, nor a crawl.
#[test]
fn many_unknown_skus_are_looked_up_a_few_requests_in_all() {
    let f = fixture(Mode::WooCommerce);
    big_catalogue(&f);
    let a = emulated(&f);
    let skus: Vec<String> = (0..120).map(|i| format!("{i:0>40}")).collect();
    let sales: Vec<DeltaSend> = skus.iter().map(|s| sale(s, -1)).collect();
    f.emu.reset_counters();
    let out = a.apply_deltas(&sales).unwrap();
    assert!(out.iter().all(unknown), "{out:?}");
    assert_eq!(f.emu.requests(), 3);
}

// --- A fake shop, for what the emulator does not model --------------------------------

/// A product (`parent: None`) or a variation of the fake shop.
#[derive(Clone)]
struct Entry {
    id: u64,
    sku: String,
    parent: Option<u64>,
    variable: bool,
    qty: i64,
}

type Log = Arc<Mutex<Vec<String>>>;

/// A WooCommerce shop on loopback holding `catalogue`, which a test may change between
/// calls. It filters by SKU as WooCommerce does (comma-separated, whole values, variations
/// listed too), unless `honours_sku` is false (an old WooCommerce, or SKUs turned off).
/// Every request's method and target is logged. One request per connection.
struct FakeShop {
    url: String,
    catalogue: Arc<Mutex<Vec<Entry>>>,
    log: Log,
}

fn param(target: &str, name: &str) -> Option<String> {
    let query = target.split_once('?')?.1;
    query.split('&').find_map(|kv| {
        kv.strip_prefix(&format!("{name}="))
            .map(platform::form_decode)
    })
}

fn entry_json(e: &Entry, cat: &[Entry]) -> Value {
    match e.parent {
        Some(p) => json!({"id": e.id, "sku": e.sku, "type": "variation", "parent_id": p,
                          "manage_stock": true, "stock_quantity": e.qty}),
        // A variable product with a count keeps its variations' stock ("Manage stock?").
        None if e.variable => json!({"id": e.id, "sku": e.sku, "type": "variable",
            "parent_id": 0, "manage_stock": e.qty > 0,
            "stock_quantity": if e.qty > 0 { json!(e.qty) } else { Value::Null },
            "variations": cat.iter().filter(|v| v.parent == Some(e.id)).map(|v| v.id).collect::<Vec<_>>()}),
        None => json!({"id": e.id, "sku": e.sku, "type": "simple", "parent_id": 0,
                       "manage_stock": true, "stock_quantity": e.qty}),
    }
}

fn answer(
    cat: &mut [Entry],
    honours_sku: bool,
    method: &str,
    target: &str,
    body: &str,
) -> (u16, Vec<(String, String)>, String) {
    let path = target.split('?').next().unwrap();
    let parts: Vec<&str> = path
        .trim_start_matches("/wp-json/wc/v3/")
        .split('/')
        .collect();
    let list = |entries: Vec<&Entry>, cat: &[Entry]| {
        let total = entries.len();
        let offset: usize = param(target, "offset").map_or(0, |o| o.parse().unwrap());
        let per_page: usize = param(target, "per_page").map_or(10, |o| o.parse().unwrap());
        let page: Vec<Value> = entries
            .into_iter()
            .skip(offset)
            .take(per_page)
            .map(|e| entry_json(e, cat))
            .collect();
        (
            200,
            vec![("X-WP-Total".to_owned(), total.to_string())],
            Value::Array(page).to_string(),
        )
    };
    let include: Option<Vec<u64>> =
        param(target, "include").map(|v| v.split(',').map(|i| i.parse().unwrap()).collect());
    let included = |e: &Entry| include.as_ref().is_none_or(|ids| ids.contains(&e.id));
    match (method, parts.as_slice()) {
        ("GET", ["products"]) => {
            let skus: Option<Vec<String>> = param(target, "sku")
                .filter(|v| honours_sku && !v.trim().is_empty())
                .map(|v| {
                    let mut s: Vec<String> = v.split(',').map(str::to_lowercase).collect();
                    if s.len() > 1 {
                        s.push(v.to_lowercase());
                    }
                    s
                });
            let mut entries: Vec<&Entry> = cat
                .iter()
                .filter(|e| match &skus {
                    Some(s) => s.contains(&e.sku.to_lowercase()),
                    None => e.parent.is_none(),
                })
                .filter(|e| included(e))
                .collect();
            entries.sort_by_key(|e| e.id);
            list(entries, cat)
        }
        ("GET", ["products", pid, "variations"]) => {
            let pid: u64 = pid.parse().unwrap();
            let entries: Vec<&Entry> = cat
                .iter()
                .filter(|e| e.parent == Some(pid) && included(e))
                .collect();
            list(entries, cat)
        }
        ("POST", ["products", "batch"] | ["products", _, "variations", "batch"]) => {
            let body: Value = serde_json::from_str(body).unwrap();
            let mut out = Vec::new();
            for u in body["update"].as_array().unwrap() {
                let id = u["id"].as_u64().unwrap();
                let e = cat.iter_mut().find(|e| e.id == id).unwrap();
                e.qty = u["stock_quantity"].as_i64().unwrap();
                out.push(e.clone());
            }
            let out: Vec<Value> = out.iter().map(|e| entry_json(e, cat)).collect();
            (200, Vec::new(), json!({ "update": out }).to_string())
        }
        _ => (404, Vec::new(), r#"{"code":"rest_no_route"}"#.to_owned()),
    }
}

impl FakeShop {
    fn start(catalogue: Vec<Entry>, honours_sku: bool) -> FakeShop {
        let catalogue = Arc::new(Mutex::new(catalogue));
        let log: Log = Arc::default();
        let (cat, l) = (catalogue.clone(), log.clone());
        let url = platform::serve(move |method, target, body| {
            l.lock().unwrap().push(format!("{method} {target}"));
            answer(&mut cat.lock().unwrap(), honours_sku, method, target, body)
        });
        FakeShop {
            url,
            catalogue,
            log,
        }
    }

    fn adapter(&self) -> WooCommerceAdapter {
        WooCommerceAdapter::new(
            &self.url,
            "ck_x",
            Secret::new("cs_x"),
            Duration::from_secs(5),
        )
        .unwrap()
    }

    fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut *self.log.lock().unwrap())
    }

    fn qty(&self, id: u64) -> i64 {
        let cat = self.catalogue.lock().unwrap();
        cat.iter().find(|e| e.id == id).unwrap().qty
    }
}

/// A listing of every product (no `sku`, no `include`): the start of a crawl.
fn crawls(log: &[String]) -> usize {
    log.iter()
        .filter(|r| {
            r.starts_with("GET /wp-json/wc/v3/products?")
                && !r.contains("sku=")
                && !r.contains("include=")
        })
        .count()
}

fn simple(id: u64, sku: &str, qty: i64) -> Entry {
    Entry {
        id,
        sku: sku.into(),
        parent: None,
        variable: false,
        qty,
    }
}

/// 200 simple products, ids 1000 on, and a variable product (id 500) with 2 variations.
fn shop_catalogue() -> Vec<Entry> {
    let mut cat: Vec<Entry> = (0..200)
        .map(|i| simple(1000 + i, &format!("S-{i}"), 10))
        .collect();
    cat.push(Entry {
        id: 500,
        sku: "TEE".into(),
        parent: None,
        variable: true,
        qty: 0,
    });
    for (id, sku) in [(501, "TEE-S"), (502, "TEE-M")] {
        cat.push(Entry {
            id,
            sku: sku.into(),
            parent: Some(500),
            variable: false,
            qty: 4,
        });
    }
    cat
}

/// The owner gives the SKU to another product (a product made again, the old one renamed):
/// the next sale reads the old product, sees it answers another SKU, and looks the SKU up
/// again, by the filter, and goes to the new product. No crawl of the catalogue.
#[test]
fn a_sku_moved_to_another_product_is_followed_by_a_lookup() {
    let mut cat = shop_catalogue();
    cat.push(simple(5, "MUG", 10));
    let shop = FakeShop::start(cat, true);
    let a = shop.adapter();
    let out = a.apply_deltas(&[sale("MUG", -1)]).unwrap();
    assert_eq!(out[0], SendOutcome::Applied { qoh: Some(9) }, "{out:?}");
    assert_eq!(shop.qty(5), 9);
    {
        let mut cat = shop.catalogue.lock().unwrap();
        cat.iter_mut().find(|e| e.id == 5).unwrap().sku = "MUG-OLD".into();
        cat.push(simple(9, "MUG", 20));
    }
    shop.take_log();
    let out = a.apply_deltas(&[sale("MUG", -1)]).unwrap();
    assert_eq!(out[0], SendOutcome::Applied { qoh: Some(19) }, "{out:?}");
    assert_eq!((shop.qty(5), shop.qty(9)), (9, 19));
    let log = shop.take_log();
    assert_eq!(crawls(&log), 0, "{log:#?}");
    assert!(
        log.iter().any(|r| r.contains("sku=MUG")),
        "the SKU was not looked up again: {log:#?}"
    );
}

/// A SKU on two products (one restored from the bin after its SKU was reused, a uniqueness
/// check turned off) is written to neither and fails by name, found by the filter as by the
/// crawl; named by its `remote_ref`, the one meant is written.
#[test]
fn a_sku_on_two_products_found_by_the_filter_fails_by_name() {
    let mut cat = shop_catalogue();
    cat.push(simple(5, "MUG", 10));
    cat.push(simple(9, "MUG", 3));
    let shop = FakeShop::start(cat, true);
    let a = shop.adapter();
    let out = a.apply_deltas(&[sale("MUG", -1)]).unwrap();
    assert!(
        matches!(&out[0], SendOutcome::Failed { message }
            if message.contains("more than one WooCommerce product") && message.contains("MUG")),
        "{out:?}"
    );
    let log = shop.take_log();
    assert!(!log.iter().any(|r| r.starts_with("POST")), "{log:#?}");
    assert_eq!(crawls(&log), 0, "{log:#?}");
    let mut named = sale("MUG", -1);
    named.remote_ref = Some("9".into());
    let out = a.apply_deltas(&[named]).unwrap();
    assert_eq!(out[0], SendOutcome::Applied { qoh: Some(2) }, "{out:?}");
    assert_eq!((shop.qty(5), shop.qty(9)), (10, 2));
}

/// A shop that ignores the `sku` filter (an old WooCommerce, SKUs turned off, a plugin)
/// answers its whole catalogue: that answer does not say which SKUs it lacks, so the
/// catalogue is indexed from it as before (a variation found under its product), and the
/// SKU found on no product is still remembered absent: the next batch asks nothing.
#[test]
fn a_shop_ignoring_the_sku_filter_is_indexed_not_trusted() {
    let shop = FakeShop::start(shop_catalogue(), false);
    let a = shop.adapter();
    let out = a
        .apply_deltas(&[sale("TEE-M", -1), sale("GHOST", -1)])
        .unwrap();
    assert_eq!(out[0], SendOutcome::Applied { qoh: Some(3) }, "{out:?}");
    assert!(unknown(&out[1]), "{out:?}");
    assert_eq!(shop.qty(502), 3);
    shop.take_log();
    let out = a.apply_deltas(&[sale("GHOST", -1)]).unwrap();
    assert!(remembered(&out[0]), "{out:?}");
    let log = shop.take_log();
    assert!(log.is_empty(), "{log:#?}");
}

/// The SKU of a variable product that keeps one count for its variations (`manage_stock`
/// on the product) is that count's, found by the filter; one that does not keep stock has
/// no count under its SKU (as in the index), and is not taken for one of its variations.
#[test]
fn a_pooled_variable_products_sku_is_found_by_the_filter() {
    let shop = FakeShop::start(shop_catalogue(), true);
    let a = shop.adapter();
    let out = a.apply_deltas(&[sale("TEE", -1)]).unwrap();
    assert!(unknown(&out[0]), "{out:?}");
    assert_eq!((shop.qty(501), shop.qty(502)), (4, 4));
    assert_eq!(crawls(&shop.take_log()), 0);

    let mut cat = shop_catalogue();
    cat.iter_mut().find(|e| e.id == 500).unwrap().qty = 8;
    let shop = FakeShop::start(cat, true);
    let a = shop.adapter();
    let out = a.apply_deltas(&[sale("TEE", -1)]).unwrap();
    assert_eq!(out[0], SendOutcome::Applied { qoh: Some(7) }, "{out:?}");
    assert_eq!(shop.qty(500), 7);
    assert_eq!(crawls(&shop.take_log()), 0);
}
