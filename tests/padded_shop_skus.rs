//! A shop SKU padded with blanks (`TEE `: imported by CSV past the shop's own trimming) on
//! BigCommerce and Medusa. Get QOH has always read it as the store's item TEE (SKUs are
//! trimmed on both sides), but the adapters looked SKUs up exactly for Send QOH and
//! real-time sends: every change of TEE failed for good as an unknown SKU while the shop kept
//! offering the units the store had sold (an oversell). These pin that such a SKU takes the
//! store's changes, that a catalogue whose SKUs all match costs the requests it always did,
//! and that a SKU the shop holds on two products lands no count on the wrong one.
#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::emulator::Mode;
use inventory_sync::{CartId, Store};
use platform::{adjust, fixture, Fixture};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

// ---------------------------------------------------------------------------------------
// BigCommerce, on the emulator (whose `sku:in` compares exactly, blanks included).

/// The emulator's BigCommerce with `shop` (SKU, count) and the store's items `store`, and a
/// cart on it sending up to 100 records a request, real-time sync off.
fn bigcommerce(shop: &[(&str, i64)], store: &[(&str, i64)]) -> (Fixture, CartId) {
    let f = fixture(Mode::BigCommerce);
    for (sku, n) in shop {
        f.emu.set_qoh(sku, *n);
    }
    for (sku, n) in store {
        f.item(sku, *n);
    }
    let c = f.cart(100);
    (f, c)
}

/// The failure a Send QOH report lists for `sku`, if any.
fn failure(r: &inventory_sync::SendReport, sku: &str) -> Option<String> {
    r.failures
        .iter()
        .find(|x| x.sku == sku)
        .map(|x| x.message.clone())
}

/// BigCommerce's `TEE ` takes TEE's Send QOH and then a sale sent in real time, written by
/// its variant id (its own SKU, as the store writes it, names no item).
#[test]
fn a_bigcommerce_sku_padded_with_blanks_takes_send_qoh_and_a_sale() {
    let (f, c) = bigcommerce(&[("TEE ", 0), ("MUG", 0)], &[("TEE", 5), ("MUG", 3)]);
    let r = f.send(c);
    assert_eq!((r.sent, r.failed), (2, 0), "{r:?}");
    assert_eq!(f.emu.qoh("TEE "), Some(5));
    assert_eq!(f.emu.qoh("MUG"), Some(3));
    f.store.set_cart_sync(c, true).unwrap();
    adjust(&f.store, "TEE", -2);
    f.drain();
    assert_eq!(f.emu.qoh("TEE "), Some(3), "{:?}", f.records(c));
    assert!(f.records(c).is_empty(), "{:?}", f.records(c));
}

/// A real-time sale of a padded SKU the adapter has not met yet (no Send QOH before it: a
/// controller's first pass after a restart) reaches it too, and so does a second one.
#[test]
fn a_first_sale_of_a_padded_bigcommerce_sku_reaches_it() {
    let (f, c) = bigcommerce(&[(" TEE", 7)], &[("TEE", 7)]);
    f.store.set_cart_sync(c, true).unwrap();
    adjust(&f.store, "TEE", -1);
    f.drain();
    adjust(&f.store, "TEE", -1);
    f.drain();
    assert_eq!(f.emu.qoh(" TEE"), Some(5), "{:?}", f.records(c));
}

/// A catalogue whose SKUs all match exactly costs the requests it cost before padded SKUs
/// were looked for: Send QOH of 60 items, 100 a request, reads `sku:in` twice (50 SKUs a
/// read) and writes once; a real-time sale checks its SKU by `sku:in` (the pass's adapter
/// has not met it) and writes once. Passes on the code before the change too: that is the
/// point.
#[test]
fn a_bigcommerce_catalogue_without_padded_skus_makes_no_more_requests() {
    let skus: Vec<String> = (1..=60).map(|i| format!("SKU-{i:02}")).collect();
    let shop: Vec<(&str, i64)> = skus.iter().map(|s| (s.as_str(), 0)).collect();
    let store: Vec<(&str, i64)> = skus.iter().map(|s| (s.as_str(), 4)).collect();
    let (f, c) = bigcommerce(&shop, &store);
    f.emu.reset_counters();
    let r = f.send(c);
    assert_eq!((r.sent, r.failed), (60, 0), "{r:?}");
    assert_eq!(f.emu.requests(), 3, "two sku:in reads and one write");
    f.store.set_cart_sync(c, true).unwrap();
    f.emu.reset_counters();
    adjust(&f.store, "SKU-07", -1);
    f.drain();
    assert_eq!(f.emu.qoh("SKU-07"), Some(3));
    assert_eq!(f.emu.requests(), 2, "the sale's sku:in check and its write");
}

/// Where the shop holds TEE both exactly and padded, TEE's count goes to the exact one (as
/// it always did) and none to `TEE `; where it holds CAP only padded, twice (`CAP ` and
/// ` CAP`), neither is surely the item's: nothing is written, and the failure names both.
#[test]
fn a_bigcommerce_sku_on_two_products_lands_on_no_wrong_one() {
    let (f, c) = bigcommerce(
        &[("TEE", 0), ("TEE ", 0), ("CAP ", 1), (" CAP", 1)],
        &[("TEE", 5), ("CAP", 9)],
    );
    let r = f.send(c);
    assert_eq!((r.sent, r.failed), (1, 1), "{r:?}");
    assert_eq!(f.emu.qoh("TEE"), Some(5));
    assert_eq!(f.emu.qoh("TEE "), Some(0));
    assert_eq!((f.emu.qoh("CAP "), f.emu.qoh(" CAP")), (Some(1), Some(1)));
    let why = failure(&r, "CAP").expect("CAP failed");
    assert!(
        why.contains("\"CAP \"") && why.contains("\" CAP\""),
        "names both: {why}"
    );
    // A sale in real time is refused alike.
    f.store.set_cart_sync(c, true).unwrap();
    adjust(&f.store, "CAP", -1);
    f.drain();
    assert_eq!((f.emu.qoh("CAP "), f.emu.qoh(" CAP")), (Some(1), Some(1)));
}

// ---------------------------------------------------------------------------------------
// Medusa, on a loopback stand-in for its admin API: `sku[]` and `id[]` compare exactly (as
// PostgreSQL does), `q` finds the text anywhere in a SKU, case aside (the framework's
// `ILIKE '%q%'`), and the location-levels batch writes stocked counts.

const LOCATION: &str = "sloc_main";

#[derive(Default)]
struct MedusaState {
    /// Item id → (SKU, stocked at LOCATION).
    items: BTreeMap<String, (String, i64)>,
    /// Requests answered.
    requests: usize,
}

struct Medusa {
    url: String,
    state: Arc<Mutex<MedusaState>>,
}

impl Medusa {
    fn start(items: &[(&str, &str, i64)]) -> Medusa {
        let state = Arc::new(Mutex::new(MedusaState::default()));
        for (id, sku, n) in items {
            state
                .lock()
                .unwrap()
                .items
                .insert((*id).into(), ((*sku).into(), *n));
        }
        let shared = state.clone();
        let url = platform::serve(move |method, target, body| {
            let mut st = shared.lock().unwrap();
            st.requests += 1;
            let (status, json) = medusa_answer(&mut st, method, target, body);
            (status, vec![], json.to_string())
        });
        Medusa { url, state }
    }

    fn stocked(&self, id: &str) -> i64 {
        self.state.lock().unwrap().items[id].1
    }

    fn requests(&self) -> usize {
        self.state.lock().unwrap().requests
    }

    fn reset_requests(&self) {
        self.state.lock().unwrap().requests = 0;
    }

    fn cart(&self, store: &Store) -> CartId {
        store
            .upsert_cart_json(
                &json!({"name": "Medusa", "adapter": "medusa", "url": self.url,
                        "api_key": "sk_test_secret_1234", "location_id": LOCATION,
                        "max_items_to_send": 100})
                .to_string(),
            )
            .unwrap()
    }
}

fn decoded(s: &str) -> String {
    let s = s.replace('+', " ");
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 3 <= bytes.len() {
            out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

fn level(id: &str, stocked: i64) -> Value {
    json!({"id": format!("ilev_{id}"), "inventory_item_id": id, "location_id": LOCATION,
           "stocked_quantity": stocked, "reserved_quantity": 0, "incoming_quantity": 0,
           "available_quantity": stocked})
}

fn medusa_answer(st: &mut MedusaState, method: &str, target: &str, body: &str) -> (u16, Value) {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    match (method, path) {
        ("GET", p) if p == format!("/admin/stock-locations/{LOCATION}") => {
            (200, json!({"stock_location": {"id": LOCATION}}))
        }
        ("GET", "/admin/inventory-items") => {
            let (mut ids, mut skus, mut q) = (Vec::new(), Vec::new(), None);
            let (mut offset, mut limit) = (0usize, 50usize);
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (n, v) = pair.split_once('=').unwrap_or((pair, ""));
                let (n, v) = (decoded(n), decoded(v));
                match n.as_str() {
                    "id[]" | "id" => ids.push(v),
                    "sku[]" | "sku" => skus.push(v),
                    "q" => q = Some(v.to_lowercase()),
                    "offset" => offset = v.parse().unwrap(),
                    "limit" => limit = v.parse().unwrap(),
                    _ => {}
                }
            }
            let all: Vec<Value> = st
                .items
                .iter()
                .filter(|(id, (sku, _))| {
                    (ids.is_empty() || ids.contains(id))
                        && (skus.is_empty() || skus.contains(sku))
                        && q.as_ref().map_or(true, |q| sku.to_lowercase().contains(q))
                })
                .map(|(id, (sku, n))| json!({"id": id, "sku": sku, "location_levels": [level(id, *n)]}))
                .collect();
            let count = all.len();
            let page: Vec<Value> = all.into_iter().skip(offset).take(limit).collect();
            (
                200,
                json!({"inventory_items": page, "count": count, "offset": offset, "limit": limit}),
            )
        }
        ("POST", "/admin/inventory-items/location-levels/batch") => {
            let b: Value = serde_json::from_str(body).unwrap();
            let mut updated = Vec::new();
            for u in b["update"].as_array().into_iter().flatten() {
                let id = u["inventory_item_id"].as_str().unwrap();
                let stocked = u["stocked_quantity"].as_i64().unwrap();
                st.items.get_mut(id).unwrap().1 = stocked;
                updated.push(level(id, stocked));
            }
            (
                200,
                json!({"created": [], "updated": updated, "deleted": []}),
            )
        }
        _ => (404, json!({"type": "not_found", "message": "Not found"})),
    }
}

/// A store on its own, with `items`, SynchQOH on and no back-off (the fixture's, without an
/// emulator).
fn medusa_store(items: &[(&str, i64)]) -> Fixture {
    let f = fixture(Mode::HttpJson);
    for (sku, n) in items {
        f.item(sku, *n);
    }
    f
}

/// Medusa's `TEE ` takes TEE's Send QOH and then a real-time sale.
#[test]
fn a_medusa_sku_padded_with_blanks_takes_send_qoh_and_a_sale() {
    let m = Medusa::start(&[("iitem_1", "TEE ", 0), ("iitem_2", "MUG", 0)]);
    let f = medusa_store(&[("TEE", 5), ("MUG", 3)]);
    let c = m.cart(&f.store);
    let r = f.send(c);
    assert_eq!((r.sent, r.failed), (2, 0), "{r:?}");
    assert_eq!((m.stocked("iitem_1"), m.stocked("iitem_2")), (5, 3));
    f.store.set_cart_sync(c, true).unwrap();
    adjust(&f.store, "TEE", -2);
    f.drain();
    assert_eq!(m.stocked("iitem_1"), 3, "{:?}", f.records(c));
    assert!(f.records(c).is_empty(), "{:?}", f.records(c));
}

/// A catalogue whose SKUs all match exactly costs what it did: Send QOH of 150 items, 100
/// a request, is per request one lookup by `sku[]` and one batch write, after the one
/// check of the stock location; a real-time sale, the location's check, one lookup and one
/// write. Passes on the code before the change too: that is the point.
#[test]
fn a_medusa_catalogue_without_padded_skus_makes_no_more_requests() {
    let skus: Vec<String> = (1..=150).map(|i| format!("SKU-{i:03}")).collect();
    let shop: Vec<(String, &str, i64)> = skus
        .iter()
        .enumerate()
        .map(|(i, s)| (format!("iitem_{i:03}"), s.as_str(), 0))
        .collect();
    let shop: Vec<(&str, &str, i64)> = shop.iter().map(|(i, s, n)| (i.as_str(), *s, *n)).collect();
    let m = Medusa::start(&shop);
    let store: Vec<(&str, i64)> = skus.iter().map(|s| (s.as_str(), 4)).collect();
    let f = medusa_store(&store);
    let c = m.cart(&f.store);
    let r = f.send(c);
    assert_eq!((r.sent, r.failed), (150, 0), "{r:?}");
    assert_eq!(
        m.requests(),
        5,
        "the location, then a lookup and a write per 100"
    );
    f.store.set_cart_sync(c, true).unwrap();
    m.reset_requests();
    adjust(&f.store, "SKU-007", -1);
    f.drain();
    assert_eq!(m.stocked("iitem_006"), 3);
    assert_eq!(
        m.requests(),
        3,
        "the location, the sale's lookup, its write"
    );
}

/// Where Medusa holds TEE both exactly and padded, TEE's count goes to the exact item and
/// none to `TEE `; where it holds CAP only padded, twice, nothing is written and the failure
/// names both.
#[test]
fn a_medusa_sku_on_two_items_lands_on_no_wrong_one() {
    let m = Medusa::start(&[
        ("iitem_1", "TEE", 0),
        ("iitem_2", "TEE ", 0),
        ("iitem_3", "CAP ", 1),
        ("iitem_4", " CAP", 1),
    ]);
    let f = medusa_store(&[("TEE", 5), ("CAP", 9)]);
    let c = m.cart(&f.store);
    let r = f.send(c);
    assert_eq!((r.sent, r.failed), (1, 1), "{r:?}");
    assert_eq!((m.stocked("iitem_1"), m.stocked("iitem_2")), (5, 0));
    assert_eq!((m.stocked("iitem_3"), m.stocked("iitem_4")), (1, 1));
    let why = failure(&r, "CAP").expect("CAP failed");
    assert!(
        why.contains("\"CAP \"") && why.contains("\" CAP\""),
        "names both: {why}"
    );
    f.store.set_cart_sync(c, true).unwrap();
    adjust(&f.store, "CAP", -1);
    f.drain();
    assert_eq!((m.stocked("iitem_3"), m.stocked("iitem_4")), (1, 1));
}
