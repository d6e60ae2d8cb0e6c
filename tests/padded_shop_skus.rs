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
use platform::medusa_fake::{Asked, Medusa};
use platform::{adjust, bigcommerce, fixture, Fixture};

// ---------------------------------------------------------------------------------------
// BigCommerce, on the emulator (whose `sku:in` compares exactly, blanks included).

/// The failure a Send QOH report lists for `sku`, if any.
fn failure(r: &inventory_sync::SendReport, sku: &str) -> Option<String> {
    r.failures
        .iter()
        .find(|x| x.sku == sku)
        .map(|x| x.message.clone())
}

/// Asserts that the report fails CAP naming both its padded twins, `CAP ` and ` CAP`.
fn assert_names_both_caps(r: &inventory_sync::SendReport) {
    let why = failure(r, "CAP").expect("CAP failed");
    assert!(
        why.contains("\"CAP \"") && why.contains("\" CAP\""),
        "names both: {why}"
    );
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
    assert_names_both_caps(&r);
    // A sale in real time is refused alike.
    f.store.set_cart_sync(c, true).unwrap();
    adjust(&f.store, "CAP", -1);
    f.drain();
    assert_eq!((f.emu.qoh("CAP "), f.emu.qoh(" CAP")), (Some(1), Some(1)));
}

// ---------------------------------------------------------------------------------------
// Medusa, on the shared loopback stand-in for its admin API (`platform::medusa_fake`):
// `sku[]` and `id[]` compare exactly (as PostgreSQL does), read as Medusa 2 on Express
// 4.22.1 reads them (more than 20 values refused 400, a lone value split on commas), `q`
// finds the text anywhere in a SKU, case aside, and the location-levels batch writes stocked
// counts. The request counts below are today's, lookups of 20 SKUs at most.

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
/// a call, is per call one lookup by `sku[]` per 20 SKUs (Express 4.22.0/4.22.1 refuse more:
/// `tests/api_drift_s42.rs`) and one batch write, after the one check of the stock location;
/// a real-time sale, the location's check, one lookup and one write. Passes on the code
/// before the change too: that is the point.
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
        1 + 5 + 1 + 3 + 1,
        "the location, then a lookup per 20 and a write per 100"
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
    assert_names_both_caps(&r);
    f.store.set_cart_sync(c, true).unwrap();
    adjust(&f.store, "CAP", -1);
    f.drain();
    assert_eq!((m.stocked("iitem_3"), m.stocked("iitem_4")), (1, 1));
}

/// A shop of `n` inventory items `SHOP-…`, whose SKUs the store does not have, and `extra`.
fn medusa_shop(n: usize, extra: &[(&str, &str, i64)]) -> Medusa {
    let ids: Vec<(String, String)> = (0..n)
        .map(|i| (format!("iitem_{i:05}"), format!("SHOP-{i:05}")))
        .collect();
    let mut items: Vec<(&str, &str, i64)> = ids
        .iter()
        .map(|(i, s)| (i.as_str(), s.as_str(), 0))
        .collect();
    items.extend_from_slice(extra);
    Medusa::start(&items)
}

/// A store holds many items its Medusa shop does not sell: a Send QOH of 300 of them, beside
/// a padded `TEE ` and an exact MUG, costs the exact lookups (one per 100 SKUs sent), one
/// read of the shop's listing (450 items: 3 pages of 200), one read of `TEE ` by its id, and
/// the writes; not a search per SKU the shop lacks (which cost 300 `q` searches, each an
/// ILIKE over five columns of the shop's database, on every Send QOH).
#[test]
fn a_medusa_send_qoh_of_items_the_shop_lacks_reads_its_listing_once_not_a_search_each() {
    let m = medusa_shop(448, &[("iitem_t", "TEE ", 0), ("iitem_u", "MUG", 0)]);
    let gone: Vec<String> = (1..=300).map(|i| format!("GONE-{i:03}")).collect();
    let mut store: Vec<(&str, i64)> = gone.iter().map(|s| (s.as_str(), 1)).collect();
    store.extend([("TEE", 5), ("MUG", 3)]);
    let f = medusa_store(&store);
    let c = m.cart(&f.store);
    let r = f.send(c);
    assert_eq!((r.sent, r.failed), (2, 300), "{r:?}");
    assert_eq!((m.stocked("iitem_t"), m.stocked("iitem_u")), (5, 3));
    assert!(
        failure(&r, "GONE-150").is_some_and(|m| m.contains("unknown")),
        "{r:?}"
    );
    assert_eq!(m.asked(Asked::Search), 0, "no search per SKU");
    assert_eq!(m.asked(Asked::Listing), 3, "the listing, read once");
    // 302 items, 100 a call: 4 calls, each one exact lookup per 20 SKUs (5 + 5 + 5 + 1).
    assert_eq!(m.asked(Asked::BySku), 16);
    assert!(m.asked(Asked::ById) <= 1, "TEE re-read by its id");
    assert!(m.asked(Asked::Write) <= 2, "TEE's and MUG's writes");
    assert!(m.requests() <= 1 + 16 + 3 + 1 + 2, "{}", m.requests());
}

/// Two real-time drains within five minutes, each of a sale of an item the Medusa shop does
/// not sell, read the shop's listing once between them (the index of its padded SKUs is
/// kept): the second costs its exact lookup alone. A sale of the padded `TEE ` after them is
/// found in the kept index, read again by its id (its count now), and written.
#[test]
fn two_medusa_drains_of_items_the_shop_lacks_read_its_listing_once() {
    let m = medusa_shop(250, &[("iitem_t", "TEE ", 9)]);
    let f = medusa_store(&[("GONE-1", 4), ("GONE-2", 4), ("TEE", 9)]);
    let c = m.cart(&f.store);
    f.store.set_cart_sync(c, true).unwrap();
    adjust(&f.store, "GONE-1", -1);
    f.drain();
    let first = (m.asked(Asked::Listing), m.asked(Asked::Search));
    m.reset_requests();
    adjust(&f.store, "GONE-2", -1);
    f.drain();
    assert_eq!(
        (m.requests(), m.asked(Asked::BySku)),
        (1, 1),
        "the exact lookup alone"
    );
    assert_eq!(first, (2, 0), "the first read the listing's 2 pages");
    m.reset_requests();
    adjust(&f.store, "TEE", -2);
    f.drain();
    assert_eq!(m.stocked("iitem_t"), 7, "{:?}", f.records(c));
    assert_eq!(m.asked(Asked::Listing) + m.asked(Asked::Search), 0);
    assert_eq!(
        m.requests(),
        3,
        "the exact lookup, TEE by its id, the write"
    );
}

/// A manual run reads the padded SKUs afresh: once the owner has fixed the twin ` CAP`,
/// the next Send QOH (minutes inside the index's five) writes CAP's count to `CAP `. Passes
/// on the code before the index too (it searched every time): it pins that keeping the
/// index does not keep the owner's fix from the next Send QOH.
#[test]
fn a_medusa_twin_fixed_by_the_owner_is_sent_at_the_next_send_qoh() {
    let m = Medusa::start(&[("iitem_3", "CAP ", 1), ("iitem_4", " CAP", 1)]);
    let f = medusa_store(&[("CAP", 9)]);
    let c = m.cart(&f.store);
    let r = f.send(c);
    assert_eq!((r.sent, r.failed), (0, 1), "{r:?}");
    m.rename("iitem_4", "CAP-OLD");
    let r = f.send(c);
    assert_eq!((r.sent, r.failed), (1, 0), "{r:?}");
    assert_eq!((m.stocked("iitem_3"), m.stocked("iitem_4")), (9, 1));
}
