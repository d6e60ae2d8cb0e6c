//! BigCommerce's Inventory API names nothing, so naming what Get QOH's *Create records for
//! new products* makes costs catalogue reads (`GET /v3/catalog/products`). They are made for
//! the items Get QOH creates only (`CartAdapter::describe`), never for a listing alone: a
//! drift report, a preflight, or a Get QOH creating nothing reads the counts, and a shop on a
//! standard plan (150 requests per 30 s) pays no more of its quota for them. For part of
//! 2026-12-05 every page of every listing read the catalogue too (up to five times the
//! requests), and a catalogue that failed (a 500) failed Get QOH itself. Against the
//! emulator's BigCommerce mode over real HTTP on 127.0.0.1.
#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::emulator::Mode;
use platform::*;
use serde_json::json;

/// `n` items the store and the cart both have (K-0001.., sorted before MUG and TEE-M), the
/// cart counting one more of each than the store.
fn known(f: &Fixture, n: usize) {
    for i in 1..=n {
        let sku = format!("K-{i:04}");
        f.item(&sku, 2);
        f.emu.set_qoh(&sku, 3);
        f.emu.set_item_details(&sku, "Known", &[]);
    }
}

/// The report's `undescribed` (read from its JSON: absent where every item was named).
fn undescribed(r: &inventory_sync::GetReport) -> Option<String> {
    serde_json::to_value(r).unwrap()["undescribed"]
        .as_str()
        .map(str::to_owned)
}

/// A Get QOH that creates nothing, a drift report and a preflight read the counts and no
/// catalogue: each page of 500 items cost up to three requests more, on every run.
#[test]
fn listings_alone_read_no_catalogue() {
    let f = fixture(Mode::BigCommerce);
    tee_and_mug(&f);
    known(&f, 3);
    let cart = f.cart(100);
    f.emu.reset_counters();
    let r = f.get_qoh(cart, false);
    assert_eq!(r.updated, 3, "{r:?}");
    assert_eq!(
        r.unknown,
        vec!["MUG".to_owned(), "TEE-M".to_owned()],
        "{r:?}"
    );
    assert_eq!(f.store.item_qoh("K-0001").unwrap(), 3);
    assert_eq!(f.emu.catalogue_requests(), 0, "Get QOH without create_new");
    let drift = f.store.drift(cart, false).unwrap();
    assert_eq!(drift.in_step, 3, "{drift:?}");
    f.store.preflight(cart).unwrap();
    assert_eq!(f.emu.catalogue_requests(), 0, "drift report, preflight");
    // Creating allowed, nothing new: nothing to name.
    f.item("MUG", 7);
    f.item("TEE-M", 4);
    let r = f.get_qoh(cart, true);
    assert_eq!(r.created, 0, "{r:?}");
    assert_eq!(f.emu.catalogue_requests(), 0, "Get QOH creating nothing");
    assert!(f.emu.get_requests() >= 3, "the counts were read");
}

/// With `create_new`, what Get QOH creates is named as before (the product's name, a
/// variant's option values) and a variant is made a variant of its product, created too;
/// the catalogue is read for those items only: one read for the page they are on, none for
/// the page of 500 items the store has (until this change, three reads for the listing).
#[test]
fn what_get_qoh_creates_is_named_at_one_read() {
    let f = fixture(Mode::BigCommerce);
    tee_and_mug(&f);
    known(&f, 600);
    let cart = f.cart(100);
    f.emu.reset_counters();
    let r = f.get_qoh(cart, true);
    assert_eq!(r.created, 3, "{r:?}");
    assert_eq!(r.updated, 600, "{r:?}");
    assert_eq!(undescribed(&r), None, "{r:?}");
    assert_eq!(
        described(&f, "TEE-M"),
        (
            "T-shirt - M / Red".into(),
            json!({"Size": "M", "Colour": "Red"}),
            Some("TEE".into())
        )
    );
    assert_eq!(described(&f, "TEE"), ("T-shirt".into(), json!({}), None));
    assert_eq!(described(&f, "MUG"), ("Mug".into(), json!({}), None));
    assert_eq!(f.store.item_qoh("TEE-M").unwrap(), 4);
    assert_eq!(f.store.item_qoh("MUG").unwrap(), 7);
    assert_eq!(f.store.item_qoh("K-0600").unwrap(), 3);
    // An item the store has keeps its own description.
    assert_eq!(described(&f, "K-0001").0, "");
    assert_eq!(f.emu.catalogue_requests(), 1);
}

/// A catalogue that fails (500, the catalogue down) never fails Get QOH: the counts of the
/// store's items are applied, and the new items are not created, each listed in
/// `not_applied` and the report saying how many and why: made without knowing, the variant
/// would be an item of its own for good. Served again, the next run creates them as the cart
/// has them. Until this change the 500 failed the whole run, nothing applied.
#[test]
fn a_catalogue_down_creates_no_item_until_it_answers() {
    let f = fixture(Mode::BigCommerce);
    tee_and_mug(&f);
    known(&f, 2);
    let cart = f.cart(100);
    f.emu.refuse_bigcommerce_catalogue(Some(500));
    let r = f.get_qoh(cart, true);
    assert_eq!((r.created, r.updated), (0, 2), "{r:?}");
    assert_eq!(f.store.item_qoh("K-0001").unwrap(), 3);
    for sku in ["TEE-M", "MUG"] {
        assert!(f.store.item(sku).is_err(), "{sku} made unnamed");
        let why = &r.not_applied.iter().find(|n| n.sku == sku).unwrap().why;
        assert!(why.contains("run Get QOH again"), "{why}");
    }
    let why = undescribed(&r).expect("the report says why the items were not created");
    assert!(why.starts_with("2 items not created"), "{why}");
    assert!(why.contains("500"), "{why}");
    assert!(!why.contains(SECRET), "{why}");
    f.emu.refuse_bigcommerce_catalogue(None);
    let r = f.get_qoh(cart, true);
    assert_eq!(r.created, 3, "{r:?}");
    assert_eq!(undescribed(&r), None, "{r:?}");
    let (description, _, product) = described(&f, "TEE-M");
    assert_eq!(
        (description.as_str(), product.as_deref()),
        ("T-shirt - M / Red", Some("TEE"))
    );
    assert_eq!(f.store.item_qoh("TEE-M").unwrap(), 4);
}

/// A token without the catalogue's read scope (403): nothing new is created, and the report
/// tells the owner the cart refused, so the scope can be given before the next run (until
/// this change the refusal was silent). Served again, the items are created, named.
#[test]
fn a_catalogue_refused_is_told_in_the_report() {
    let f = fixture(Mode::BigCommerce);
    tee_and_mug(&f);
    let cart = f.cart(100);
    f.emu.refuse_bigcommerce_catalogue(Some(403));
    let r = f.get_qoh(cart, true);
    assert_eq!(r.created, 0, "{r:?}");
    assert!(f.store.item("MUG").is_err());
    let why = undescribed(&r).expect("the report says why the items were not created");
    assert!(why.contains("not authorised"), "{why}");
    assert!(why.contains("read access"), "{why}");
    f.emu.refuse_bigcommerce_catalogue(None);
    f.emu.set_qoh("CAP", 2);
    f.emu.set_item_details("CAP", "Cap", &[]);
    let r = f.get_qoh(cart, true);
    assert_eq!(r.created, 4, "{r:?}");
    assert_eq!(undescribed(&r), None, "{r:?}");
    assert_eq!(described(&f, "CAP").0, "Cap");
    assert_eq!(described(&f, "MUG").0, "Mug");
}

/// An integrator's adapter whose listing says counts only, and whose `describe` names what it
/// is asked about (or panics): it records what it was asked.
struct Describes {
    panics: bool,
    asked: std::sync::Mutex<Vec<Vec<String>>>,
}

impl inventory_sync::adapter::CartAdapter for Describes {
    fn update_mode(&self) -> inventory_sync::adapter::UpdateMode {
        inventory_sync::adapter::UpdateMode::RelativeKeyed
    }
    fn apply_deltas(
        &self,
        _: &[inventory_sync::adapter::DeltaSend],
    ) -> Result<Vec<inventory_sync::adapter::SendOutcome>, inventory_sync::adapter::CartError> {
        unreachable!("Get QOH sends nothing")
    }
    fn set_quantities(
        &self,
        _: &[inventory_sync::adapter::QuantitySet],
    ) -> Result<Vec<inventory_sync::adapter::SendOutcome>, inventory_sync::adapter::CartError> {
        unreachable!("Get QOH sends nothing")
    }
    fn fetch_quantities(
        &self,
        _: Option<&str>,
        _: u32,
    ) -> Result<inventory_sync::adapter::QuantityPage, inventory_sync::adapter::CartError> {
        Ok(inventory_sync::adapter::QuantityPage {
            items: vec![("KNOWN".into(), 5), (" TEE-M".into(), 4), ("MUG".into(), 7)],
            next_cursor: None,
        })
    }
    fn describe(
        &self,
        skus: &[&str],
    ) -> Result<inventory_sync::adapter::Described, inventory_sync::adapter::CartError> {
        self.asked
            .lock()
            .unwrap()
            .push(skus.iter().map(|s| s.to_string()).collect());
        assert!(!self.panics, "index out of bounds in describe");
        let options = vec![("Size".to_owned(), "M".to_owned())];
        Ok((
            vec![
                ("TEE-M".into(), "T-shirt - M".into(), options),
                ("TEE".into(), "T-shirt".into(), vec![]),
                ("MUG".into(), "Mug".into(), vec![]),
            ],
            vec![("TEE-M".into(), "TEE".into())],
        ))
    }
}

/// A store with KNOWN, and a cart "Own" served by a [`Describes`] adapter; what it was asked.
fn own_cart(
    panics: bool,
) -> (
    tempfile::TempDir,
    inventory_sync::Store,
    inventory_sync::GetReport,
    Vec<Vec<String>>,
) {
    let dir = tempfile::tempdir().unwrap();
    let store = inventory_sync::Store::open(dir.path().join("store.db")).unwrap();
    store
        .upsert_item_json(r#"{"sku":"KNOWN","qoh":2}"#)
        .unwrap();
    let adapter = std::sync::Arc::new(Describes {
        panics,
        asked: Default::default(),
    });
    let shared = adapter.clone();
    store.register_adapter("describes", move |_| {
        Ok(shared.clone() as std::sync::Arc<dyn inventory_sync::adapter::CartAdapter>)
    });
    let cart = store
        .upsert_cart_json(
            r#"{"name":"Own","adapter":"describes",
                "capabilities":{"send":true,"get":true,"realtime":"attribute"}}"#,
        )
        .unwrap();
    let options = inventory_sync::GetOptions {
        force: true,
        create_new: true,
    };
    let r = store.get_qoh(cart, options, None).unwrap();
    let asked = adapter.asked.lock().unwrap().clone();
    (dir, store, r, asked)
}

/// An integrator's `describe` is asked, through the registry's wrapper, for the SKUs Get QOH
/// is about to create (as the cart listed them), never for one the store has; what it says
/// names them, and makes the variant a variant of its product.
#[test]
fn an_integrators_describe_is_asked_for_what_is_created_only() {
    let (_dir, store, r, asked) = own_cart(false);
    assert_eq!(asked, vec![vec![" TEE-M".to_owned(), "MUG".to_owned()]]);
    assert_eq!(r.created, 3, "{r:?}");
    assert_eq!(store.item_qoh("KNOWN").unwrap(), 5);
    let tee = store.item("TEE-M").unwrap();
    assert_eq!(tee.description, "T-shirt - M");
    assert_eq!(tee.parent_id, Some(store.item("TEE").unwrap().id));
    assert_eq!(store.item("MUG").unwrap().description, "Mug");
    assert_eq!(undescribed(&r), None, "{r:?}");
}

/// A `describe` that panics is caught by the registry's wrapper: Get QOH applies its counts
/// and creates none of the items it could not tell, the report saying so.
#[test]
fn a_describe_that_panics_creates_nothing_it_could_not_tell() {
    let (_dir, store, r, asked) = own_cart(true);
    assert_eq!(asked.len(), 1);
    assert_eq!(r.created, 0, "{r:?}");
    assert_eq!(store.item_qoh("KNOWN").unwrap(), 5);
    assert!(store.item("TEE-M").is_err() && store.item("MUG").is_err());
    let why = undescribed(&r).expect("the report says why the items were not created");
    assert!(why.starts_with("2 items not created"), "{why}");
}
