//! Review of 2026-12-05's change (cart-made names, level switches, doubt reported): what a
//! store owner would pay for, each shown on a loopback cart before its fix.
#![cfg(feature = "emulator")]

mod common;
mod platform;

use common::killed_run;
use inventory_sync::adapter::{
    CartAdapter, CartError, DeltaSend, QuantityPage, QuantitySet, SendOutcome, UpdateMode,
};
use inventory_sync::emulator::{Emulator, Fault};
use inventory_sync::{GetOptions, OpenOptions, Reason, StackState, Store};
use platform::scripted::Scripted;
use serde_json::json;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// In a child process (this test binary run again): the killed run's Send QOH (see
/// [`common::killed_run`]). Does nothing in a plain test run.
#[test]
fn send_qoh_child() {
    killed_run::send_qoh_child();
}

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

/// A keyed cart whose every answer finds the store file held by another writer (a host's long
/// import, past the controller's wait): it applies what it is sent, and the pass cannot record
/// that. The writer's lock is kept until the test lets it go.
struct AnswerFindsStoreHeld {
    db: std::path::PathBuf,
    writer: Mutex<Option<rusqlite::Connection>>,
}

impl CartAdapter for AnswerFindsStoreHeld {
    fn update_mode(&self) -> UpdateMode {
        UpdateMode::RelativeKeyed
    }
    fn apply_deltas(&self, d: &[DeltaSend]) -> Result<Vec<SendOutcome>, CartError> {
        let mut writer = self.writer.lock().unwrap();
        if writer.is_none() {
            let c = rusqlite::Connection::open(&self.db).unwrap();
            c.execute_batch("BEGIN IMMEDIATE").unwrap();
            *writer = Some(c);
        }
        Ok(d.iter()
            .map(|_| SendOutcome::Applied { qoh: None })
            .collect())
    }
    fn set_quantities(&self, _: &[QuantitySet]) -> Result<Vec<SendOutcome>, CartError> {
        Err(CartError::Rejected("not used".into()))
    }
    fn fetch_quantities(&self, _: Option<&str>, _: u32) -> Result<QuantityPage, CartError> {
        Err(CartError::Rejected("not used".into()))
    }
}

/// A Send QOH is killed with its count on the way (B's two sales and C's in it); a sale of D
/// follows. The controller's next pass takes the cart over, which holds the three changes in
/// doubt (uncertain), then sends D, and cannot record the answer: the store is held past its
/// wait. The pass fails for the cart, and its report must still count the three changes it
/// held in doubt, and its error name them: they wait on the owner, who is told of them
/// nowhere else (the next pass holds nothing, so counts none). The failed cart's report was
/// made anew from the error alone, its `uncertain` 0.
#[test]
fn a_pass_failing_after_its_lease_held_changes_in_doubt_still_counts_them() {
    let f = common::store();
    let keyed = Emulator::start().unwrap();
    let cart = common::cart_with(&f.store, &keyed, "Keyed", "attribute", 5);
    for sku in ["B", "C", "D"] {
        common::item(&f.store, sku, 10);
        keyed.set_qoh(sku, 10);
    }
    common::adjust(&f.store, "B", -3, Reason::PosSale);
    common::adjust(&f.store, "B", -2, Reason::PosSale);
    common::adjust(&f.store, "C", -1, Reason::PosSale);
    keyed.inject(Fault::HangSets {
        applied: false,
        count: 1,
    });
    let db = f.dir.path().join("store.db");
    let reached = killed_run::kill_send_qoh_when(&db, cart, || keyed.pending_faults().is_empty());
    assert!(reached, "the count never reached the cart");
    killed_run::holds_lapse(&db);
    common::adjust(&f.store, "D", -1, Reason::PosSale);

    let till = Store::open_with(
        &db,
        OpenOptions {
            busy_timeout: Duration::from_millis(100),
            ..OpenOptions::default()
        },
    )
    .unwrap();
    till.set_param("LeaseMs", "100").unwrap();
    let adapter = Arc::new(AnswerFindsStoreHeld {
        db: db.clone(),
        writer: Mutex::new(None),
    });
    let a = adapter.clone();
    till.register_adapter("http_json", move |_| Ok(a.clone() as Arc<dyn CartAdapter>));
    let report = till.run_stack(None);
    adapter.writer.lock().unwrap().take();
    let report = report.unwrap();
    assert_eq!(
        f.store.stack_count(cart, StackState::Uncertain).unwrap(),
        3,
        "{report:?}"
    );
    let c = &report.carts[0];
    assert!(c.error.is_some(), "{report:?}");
    assert_eq!((report.uncertain, c.uncertain), (3, 3), "{report:?}");
    assert!(
        c.error.as_deref().unwrap().contains("3 changes"),
        "the error does not name the changes held in doubt: {report:?}"
    );
}

/// Get QOH's `create_new` takes a shop's product name and option values as text to store,
/// cleaned: a line break, a line separator (U+2028) and a bidirectional override (U+202E,
/// which shows the rest of a line reversed, so that the back office's item list reads
/// otherwise than the shop) become spaces, and a name past 255 bytes is cut on a character
/// boundary. The override and the separator were kept as the shop sent them.
#[test]
fn woocommerce_names_taken_for_new_items_lose_line_breaks_and_bidi_overrides() {
    let f = platform::fixture(inventory_sync::emulator::Mode::WooCommerce);
    f.emu.set_variant_qoh("TEE", "TEE-M", 4);
    f.emu.set_item_details("TEE", "T-shirt\u{202e}LX", &[]);
    f.emu
        .set_item_details("TEE-M", "", &[("Size\u{2066}", "M\u{2028}edium")]);
    let long = "é".repeat(200);
    f.emu.set_qoh("MUG", 7);
    f.emu.set_item_details("MUG", &format!("Mug\n{long}"), &[]);
    let cart = f.cart(100);
    let r = f.get_qoh(cart, true);
    assert_eq!(r.created, 3, "{r:?}");
    let tee = f.store.item("TEE").unwrap();
    assert_eq!(tee.description, "T-shirt LX");
    let m = f.store.item("TEE-M").unwrap();
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&m.attributes).unwrap(),
        json!({"Size": "M edium"})
    );
    assert_eq!(m.description, "T-shirt LX - M edium");
    let mug = f.store.item("MUG").unwrap().description;
    assert!(mug.len() <= 255 && mug.starts_with("Mug é"), "{mug:?}");
    assert_eq!(mug.len(), 255 - 1, "cut on the boundary before byte 255");
}
