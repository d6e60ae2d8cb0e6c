//! Unusual HTTP answers, for every cart adapter, over loopback: a request too large for the
//! cart's server (413), waits named out of all measure, answers saying the request was not
//! processed (408, 421, 425), and redirects of a write. What a store owner relies on: no sale
//! is lost or applied twice, nor bypassed for a refusal of a request's size rather than of
//! the sale.
#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::adapter::bigcommerce::BigCommerceAdapter;
use inventory_sync::adapter::shopify::ShopifyAdapter;
use inventory_sync::adapter::woocommerce::WooCommerceAdapter;
use inventory_sync::adapter::{CartAdapter, CartError, DeltaSend, SendOutcome};
use inventory_sync::emulator::{Emulator, Fault, Mode};
use inventory_sync::secret::Secret;
use inventory_sync::{CartId, SendOptions, StackState, Store};
use platform::medusa_fake::{Medusa, WriteAnswer};
use platform::scripted::Scripted;
use platform::{cart_json, fixture, Fixture, SECRET};
use serde_json::{json, Value};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A real-time cart on the fixture's emulator, batches of `max`, on.
fn realtime_cart(f: &Fixture, max: u32) -> CartId {
    let mut json = cart_json(&f.emu, max, SECRET);
    json["capabilities"] = json!({"send": true, "get": true, "realtime": "attribute"});
    let cart = f.store.upsert_cart_json(&json.to_string()).unwrap();
    f.store.set_cart_sync(cart, true).unwrap();
    cart
}

/// An `http_json` fixture: the emulator in its own protocol, with the token the cart sends.
fn http_json_fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path().join("store.db")).unwrap();
    store.set_param("SynchQOH", "true").unwrap();
    store.set_param("RetryBaseMs", "0").unwrap();
    store.set_param("RetryMaxMs", "0").unwrap();
    let emu = Emulator::start().unwrap();
    emu.set_token(Some(SECRET));
    Fixture { dir, store, emu }
}

fn http_json_cart(f: &Fixture, max: u32) -> CartId {
    let cart = f
        .store
        .upsert_cart_json(
            &json!({"name": "J", "adapter": "http_json", "url": f.emu.url(), "token": SECRET,
                    "max_items_to_send": max,
                    "capabilities": {"send": true, "get": true, "realtime": "attribute"}})
            .to_string(),
        )
        .unwrap();
    f.store.set_cart_sync(cart, true).unwrap();
    cart
}

/// The fixture of `mode`'s emulated cart; `http_json`'s with a token.
fn fixture_for(mode: Mode) -> Fixture {
    match mode {
        Mode::HttpJson => http_json_fixture(),
        _ => fixture(mode),
    }
}

/// A real-time cart of `mode` on the fixture's emulator, `max` items a request.
fn realtime_cart_for(f: &Fixture, mode: Mode, max: u32) -> CartId {
    match mode {
        Mode::HttpJson => http_json_cart(f, max),
        _ => realtime_cart(f, max),
    }
}

/// Passes until nothing waits (bounded by count, never by time).
fn drain(store: &Store) {
    for _ in 0..60 {
        if store.run_stack(None).unwrap().remaining == 0 {
            return;
        }
    }
}

const ITEMS: usize = 24;

fn sku(i: usize) -> String {
    format!("SKU-{i:02}")
}

/// `ITEMS` items at 10 on the store and on the emulator.
fn stock(f: &Fixture) {
    for i in 0..ITEMS {
        f.item(&sku(i), 10);
        f.emu.set_qoh(&sku(i), 10);
    }
}

/// One sale of each of the `ITEMS` items.
fn sales(f: &Fixture) {
    for i in 0..ITEMS {
        platform::adjust(&f.store, &sku(i), -1);
    }
}

/// Every sale reached the cart once, and none waits, is bypassed or in doubt.
fn each_sale_applied_once(f: &Fixture, cart: CartId, what: &str) {
    drain(&f.store);
    for state in [
        StackState::Waiting,
        StackState::Bypassed,
        StackState::Uncertain,
    ] {
        assert_eq!(
            f.store.stack_count(cart, state).unwrap(),
            0,
            "{what}: {state:?}: {:#?}",
            f.records(cart)
        );
    }
    for i in 0..ITEMS {
        assert_eq!(f.emu.qoh(&sku(i)), Some(9), "{what}: {}", sku(i));
    }
}

/// A server in front of the cart that takes bodies of at most 800 bytes (a firewall's or
/// web server's limit, here low for 24 sales) refuses the batch `max_items_to_send` makes
/// with 413, having applied nothing. The batch goes again in smaller requests, and every sale
/// arrives once. Until 2026-12-05 the 413 was a refusal of the whole batch: each of its sales
/// was bypassed at once, on every cart but WooCommerce.
fn batch_too_large(mode: Mode) {
    let f = fixture_for(mode);
    stock(&f);
    let cart = realtime_cart_for(&f, mode, 50);
    sales(&f);
    f.emu.set_max_body_bytes(800);
    each_sale_applied_once(&f, cart, &format!("{mode:?}"));
    assert!(
        f.emu.max_batch_seen() < ITEMS,
        "{mode:?}: {}",
        f.emu.max_batch_seen()
    );
}

#[test]
fn http_json_a_batch_too_large_for_the_carts_server_goes_in_smaller_requests() {
    batch_too_large(Mode::HttpJson);
}

#[test]
fn shopify_a_batch_too_large_for_the_carts_server_goes_in_smaller_requests() {
    batch_too_large(Mode::Shopify);
}

#[test]
fn bigcommerce_a_batch_too_large_for_the_carts_server_goes_in_smaller_requests() {
    batch_too_large(Mode::BigCommerce);
}

/// Send QOH's counts too: a batch refused as too large goes in smaller requests, and every
/// count is set (until 2026-12-05 each failed as refused).
fn send_qoh_too_large(mode: Mode) {
    let f = fixture_for(mode);
    for i in 0..ITEMS {
        f.item(&sku(i), 5);
        f.emu.set_qoh(&sku(i), 0);
    }
    let cart = match mode {
        Mode::HttpJson => http_json_cart(&f, 50),
        _ => f.cart(50),
    };
    f.emu.set_max_body_bytes(800);
    let r = f
        .store
        .send_qoh(cart, SendOptions { force: true }, None)
        .unwrap();
    assert_eq!((r.sent, r.failed), (ITEMS, 0), "{mode:?}: {r:?}");
    for i in 0..ITEMS {
        assert_eq!(f.emu.qoh(&sku(i)), Some(5), "{mode:?}: {}", sku(i));
    }
}

#[test]
fn http_json_send_qoh_too_large_for_the_carts_server_sets_every_count() {
    send_qoh_too_large(Mode::HttpJson);
}

#[test]
fn shopify_send_qoh_too_large_for_the_carts_server_sets_every_count() {
    send_qoh_too_large(Mode::Shopify);
}

#[test]
fn bigcommerce_send_qoh_too_large_for_the_carts_server_sets_every_count() {
    send_qoh_too_large(Mode::BigCommerce);
}

/// One sale whose request alone is too large for the cart's server is not bypassed at once
/// as a refusal of the sale: it waits, tried again as after an outage, and is bypassed only
/// after the attempts, its last response naming the setting to lower.
fn sale_too_large_alone(mode: Mode) {
    let f = fixture_for(mode);
    f.item("TEE", 10);
    f.emu.set_qoh("TEE", 10);
    let cart = realtime_cart_for(&f, mode, 50);
    f.emu.set_max_body_bytes(16);
    platform::adjust(&f.store, "TEE", -1);
    drain(&f.store);
    let records = f.records(cart);
    assert_eq!(records[0]["state"], "bypassed", "{mode:?}: {records:#?}");
    assert_eq!(records[0]["attempts"], 10, "{mode:?}: {records:#?}");
    assert!(
        records[0]["last_response"]
            .as_str()
            .unwrap()
            .contains("max_items_to_send"),
        "{mode:?}: {records:#?}"
    );
    // The limit lifted, the operator's retry applies it once.
    f.emu.set_max_body_bytes(0);
    let id = records[0]["id"].as_i64().unwrap();
    f.store.stack_retry(id).unwrap();
    drain(&f.store);
    assert_eq!(f.emu.qoh("TEE"), Some(9), "{mode:?}");
}

#[test]
fn http_json_a_sale_too_large_even_alone_is_bypassed_only_after_the_attempts() {
    sale_too_large_alone(Mode::HttpJson);
}

#[test]
fn shopify_a_sale_too_large_even_alone_is_bypassed_only_after_the_attempts() {
    sale_too_large_alone(Mode::Shopify);
}

#[test]
fn woocommerce_a_sale_too_large_even_alone_is_bypassed_only_after_the_attempts() {
    sale_too_large_alone(Mode::WooCommerce);
}

#[test]
fn bigcommerce_a_sale_too_large_even_alone_is_bypassed_only_after_the_attempts() {
    sale_too_large_alone(Mode::BigCommerce);
}

// ---- Medusa: the shared loopback stand-in for its admin API (`platform::medusa_fake`) ----

/// Medusa's stand-in holding `n` inventory items iitem_00.. (SKU-00..) stocked 10; its first
/// batch writes are applied, then answered each with the next of `after_apply` (status and
/// body, with a `Location` header) while it lasts.
fn medusa(n: usize, after_apply: Vec<(u16, &'static str)>) -> Medusa {
    let items: Vec<(String, String)> = (0..n).map(|i| (format!("iitem_{i:02}"), sku(i))).collect();
    let items: Vec<(&str, &str, i64)> = items
        .iter()
        .map(|(id, sku)| (id.as_str(), sku.as_str(), 10))
        .collect();
    let m = Medusa::start(&items);
    for (status, body) in after_apply {
        m.answer_next_write(WriteAnswer {
            applied: true,
            reply: (
                status,
                vec![("Location".into(), "/app/inventory".into())],
                body.into(),
            ),
            then_failing_reads: 0,
        });
    }
    m
}

/// A store of `n` items at 10 (SKU-00..) with a real-time cart on `m`, 50 records a request.
fn medusa_store(m: &Medusa, n: usize) -> (tempfile::TempDir, Store, CartId) {
    let mut cart = m.cart_json();
    cart["max_items_to_send"] = json!(50);
    let (dir, store, cart) = platform::scripted_store(cart, &sku(0), 10);
    for i in 1..n {
        store
            .upsert_item_json(&json!({"sku": sku(i), "qoh": 10}).to_string())
            .unwrap();
    }
    store.set_cart_sync(cart, true).unwrap();
    (dir, store, cart)
}

/// The same for Medusa (a self-hosted shop, often behind nginx): a batch write refused as
/// too large goes again in halves, and every sale is written once.
#[test]
fn medusa_a_batch_too_large_goes_in_smaller_requests() {
    let m = medusa(ITEMS, vec![]);
    m.limit_bodies(1024);
    let (_dir, store, cart) = medusa_store(&m, ITEMS);
    for i in 0..ITEMS {
        platform::adjust(&store, &sku(i), -1);
    }
    drain(&store);
    for state in [
        StackState::Waiting,
        StackState::Bypassed,
        StackState::Uncertain,
    ] {
        assert_eq!(
            store.stack_count(cart, state).unwrap(),
            0,
            "{state:?}: {}",
            store.stack_list_json(None).unwrap()
        );
    }
    for (id, (s, q)) in m.shop().items.iter() {
        assert_eq!(*q, 9, "{id} {s}");
    }
}

// ---- waits out of all measure ----

fn sale(sku: &str) -> DeltaSend {
    DeltaSend {
        key: format!("k-{sku}"),
        sku: sku.into(),
        remote_ref: None,
        delta: -1,
    }
}

const MUG_LEVEL: &str = r#"{"data":[{"identity":{"sku":"MUG","variant_id":7,"product_id":3},"available_to_sell":5,"total_inventory_onhand":5,"settings":{"safety_stock":0}}],"meta":{"pagination":{"total":1,"count":1,"per_page":1000,"current_page":1,"total_pages":1}}}"#;

/// A BigCommerce 429 whose `X-Rate-Limit-Time-Reset-Ms` is out of all measure (u64::MAX ms,
/// half a billion years) is no wait the store means: the adapter falls back to the
/// `Retry-After` beside it, or to none (the controller's back-off). Taken as given until
/// 2026-12-05, the cart's sales waited for ever, no attempt counted, so none was ever sent
/// or bypassed.
#[test]
fn bigcommerce_a_reset_out_of_all_measure_is_no_wait() {
    for (extra, expected) in [
        ("", None),
        ("retry-after: 7\r\n", Some(Duration::from_secs(7))),
    ] {
        let headers: &'static str = Box::leak(
            format!("x-rate-limit-time-reset-ms: 18446744073709551615\r\n{extra}").into_boxed_str(),
        );
        let server = Scripted::start_with_headers(vec![
            (200, "", MUG_LEVEL),
            (
                429,
                headers,
                r#"{"status":429,"title":"Too many requests"}"#,
            ),
        ]);
        let a = BigCommerceAdapter::new(
            &format!("{}stores/abc/", server.url),
            Secret::new("tok_x"),
            1,
            Duration::from_secs(10),
        )
        .unwrap();
        let r = a.apply_deltas(&[sale("MUG")]);
        server.finish();
        match r {
            Err(CartError::RateLimited { retry_after, .. }) => {
                assert_eq!(retry_after, expected, "{extra:?}")
            }
            other => panic!("{extra:?}: {other:?}"),
        }
    }
}

/// The same through the store: the sale is deferred by the controller's own back-off, not
/// for half a billion years, and counts no attempt.
#[test]
fn bigcommerce_a_sale_after_a_reset_out_of_all_measure_waits_a_back_off() {
    let server = Scripted::start_with_headers(vec![
        (200, "", MUG_LEVEL),
        (
            429,
            "x-rate-limit-time-reset-ms: 18446744073709551615\r\n",
            r#"{"status":429,"title":"Too many requests"}"#,
        ),
    ]);
    let (_dir, store, cart) = platform::scripted_store(
        json!({"name":"BC","adapter":"bigcommerce",
            "url": format!("{}stores/abc/", server.url), "token":"tok_x",
            "max_items_to_send":50}),
        "MUG",
        5,
    );
    store.set_cart_sync(cart, true).unwrap();
    platform::adjust(&store, "MUG", -1);
    let first = store.run_stack(None).unwrap();
    server.finish();
    assert_eq!(first.sent, 0, "{first:?}");
    let list: Value = serde_json::from_str(&store.stack_list_json(None).unwrap()).unwrap();
    let due = list[0]["next_attempt_at"].as_i64().unwrap();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(due < now + 60_000, "due in {} ms: {list}", due - now);
    assert_eq!(list[0]["attempts"], 0, "{list}");
    assert_eq!(list[0]["state"], "pending", "{list}");
}

/// Shopify's throttle answer with a `throttleStatus` out of all measure (a restore rate of
/// 1e-300 points a second): a rate limit naming no wait (the controller's back-off), not a
/// panic. Computed as given, the wait overflowed a `Duration`, the adapter panicked, and the
/// throttled call was read as a lost answer.
#[test]
fn shopify_a_throttle_status_out_of_all_measure_is_a_rate_limit() {
    let throttled = r#"{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED"}}],"extensions":{"cost":{"requestedQueryCost":10,"actualQueryCost":null,"throttleStatus":{"maximumAvailable":1000.0,"currentlyAvailable":0,"restoreRate":1e-300}}}}"#;
    let server = Scripted::start(vec![(200, throttled)]);
    let a = ShopifyAdapter::new(
        &server.url,
        Secret::new("shpat_x"),
        "1",
        None,
        Duration::from_secs(10),
    )
    .unwrap();
    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        a.apply_deltas(&[DeltaSend {
            key: "k1".into(),
            sku: "TEE".into(),
            remote_ref: Some("gid://shopify/InventoryItem/1".into()),
            delta: -1,
        }])
    }));
    server.finish();
    match r {
        Ok(Err(CartError::RateLimited { retry_after, .. })) => assert_eq!(retry_after, None),
        Ok(other) => panic!("{other:?}"),
        Err(_) => panic!("the adapter panicked"),
    }
}

// ---- answers that say the request was not processed, and redirects ----

/// 408, 421 and 425 say the request was not processed, and may be sent again: on every
/// cart the sale waits (an attempt, as after an outage), is neither bypassed nor in doubt,
/// and goes once the cart answers. A redirect of a write (301, 302, 307, 308; not followed)
/// pauses the cart, its sales waiting, none bypassed.
#[test]
fn not_processed_and_redirected_writes_keep_every_sale() {
    for mode in [
        Mode::HttpJson,
        Mode::Shopify,
        Mode::WooCommerce,
        Mode::BigCommerce,
    ] {
        for status in [408, 421, 425, 301, 302, 307, 308] {
            let f = fixture_for(mode);
            f.item("TEE", 10);
            f.emu.set_qoh("TEE", 10);
            let cart = realtime_cart_for(&f, mode, 50);
            platform::adjust(&f.store, "TEE", -1);
            f.emu.inject(Fault::Status {
                status,
                count: 1,
                retry_after: None,
            });
            let run = f.store.run_stack(None).unwrap();
            let what = format!("{mode:?} / {status}");
            assert_eq!(
                run.sent + run.bypassed + run.uncertain,
                0,
                "{what}: {run:?}"
            );
            assert_eq!(
                f.store.stack_count(cart, StackState::Waiting).unwrap(),
                1,
                "{what}"
            );
            if (300..400).contains(&status) {
                assert!(run.to_json().contains("redirect"), "{what}: {run:?}");
                // The owner updates the cart's settings (here its time-out): it resumes.
                let mut json = match mode {
                    Mode::HttpJson => json!({"name": "J", "adapter": "http_json",
                        "url": f.emu.url(), "token": SECRET, "max_items_to_send": 50}),
                    _ => cart_json(&f.emu, 50, SECRET),
                };
                json["timeout_ms"] = 9_000.into();
                json["capabilities"] = json!({"send": true, "get": true, "realtime": "attribute"});
                f.store.upsert_cart_json(&json.to_string()).unwrap();
            }
            drain(&f.store);
            assert_eq!(f.emu.qoh("TEE"), Some(9), "{what}: {:#?}", f.records(cart));
            assert_eq!(
                f.store.stack_count(cart, StackState::Waiting).unwrap()
                    + f.store.stack_count(cart, StackState::Bypassed).unwrap()
                    + f.store.stack_count(cart, StackState::Uncertain).unwrap(),
                0,
                "{what}"
            );
        }
    }
}

// ---- WooCommerce: a 503 naming a wait after the batch was saved ----

/// A WooCommerce host whose error page adds `Retry-After` to every 503 answers one so when
/// the PHP worker is killed after it saved the batch. The adapter reads the count back, as
/// for a 503 naming no wait, and finds the sale saved: it is not sent again. Until 2026-12-05
/// the named wait made it a rate limit, "nothing applied", and after the wait the sale was
/// read, added and written again: one sale of 1 took 2 off the shop.
#[test]
fn woocommerce_a_503_naming_a_wait_after_the_batch_was_saved_takes_the_sale_once() {
    let count = Arc::new(Mutex::new(10i64));
    let c = count.clone();
    let mut writes = 0;
    let url = platform::serve(move |method, target, body| {
        let path = target.split('?').next().unwrap();
        match (method, path) {
            ("GET", "/wp-json/wc/v3/products") => (
                200,
                vec![],
                format!(
                    r#"[{{"id":5,"sku":"MUG","type":"simple","manage_stock":true,"stock_quantity":{}}}]"#,
                    c.lock().unwrap()
                ),
            ),
            ("POST", "/wp-json/wc/v3/products/batch") => {
                let v: Value = serde_json::from_str(body).unwrap();
                let q = v["update"][0]["stock_quantity"].as_i64().unwrap();
                *c.lock().unwrap() = q;
                writes += 1;
                if writes == 1 {
                    (
                        503,
                        vec![("Retry-After".into(), "120".into())],
                        "<html><body>503 Service Unavailable</body></html>".into(),
                    )
                } else {
                    (
                        200,
                        vec![],
                        format!(
                            r#"{{"update":[{{"id":5,"sku":"MUG","manage_stock":true,"stock_quantity":{q}}}]}}"#
                        ),
                    )
                }
            }
            _ => (404, vec![], r#"{"code":"rest_no_route"}"#.into()),
        }
    });
    let adapter =
        WooCommerceAdapter::new(&url, "ck_x", Secret::new("cs_x"), Duration::from_secs(5)).unwrap();
    let mug = DeltaSend {
        key: "k-MUG".into(),
        sku: "MUG".into(),
        remote_ref: Some("5".into()),
        delta: -1,
    };
    let first = adapter.apply_deltas(std::slice::from_ref(&mug));
    // What the controller does with the answer: "not applied" goes again (after the wait).
    let not_applied = match &first {
        Err(CartError::Ambiguous(_)) => false,
        Err(_) => true,
        Ok(v) => matches!(v[0], SendOutcome::Retry { .. }),
    };
    if not_applied {
        let _ = adapter.apply_deltas(&[mug]);
    }
    assert_eq!(
        *count.lock().unwrap(),
        9,
        "the first call answered {first:?}"
    );
    assert!(
        matches!(&first, Ok(v) if matches!(v[..], [SendOutcome::Applied { .. }])),
        "{first:?}"
    );
}

// ---- 303 See Other to a write ----

/// A 303 See Other to a write says the server processed it and points at the result (RFC
/// 9110 §15.4.4; a PHP framework's post-redirect-get): a cart without keys may have applied
/// the sale, so it is uncertain, for the owner to check, and not sent again when the owner
/// next updates the cart. Until 2026-12-05 it paused the cart as a moved url does, and the
/// sale went again once the cart was updated: applied twice.
fn see_other_after_applying(mode: Mode) {
    let f = fixture(mode);
    f.item("TEE", 10);
    f.emu.set_qoh("TEE", 10);
    let cart = realtime_cart(&f, 50);
    platform::adjust(&f.store, "TEE", -1);
    f.emu.inject(Fault::ApplyThenStatus {
        status: 303,
        count: 1,
    });
    let run = f.store.run_stack(None).unwrap();
    assert_eq!(f.emu.qoh("TEE"), Some(9), "{mode:?}: {run:?}");
    // The owner updates the cart's settings.
    let mut json = cart_json(&f.emu, 50, SECRET);
    json["capabilities"] = json!({"send": true, "get": true, "realtime": "attribute"});
    json["timeout_ms"] = 9_000.into();
    f.store.upsert_cart_json(&json.to_string()).unwrap();
    drain(&f.store);
    assert_eq!(f.emu.qoh("TEE"), Some(9), "{mode:?}: applied twice");
    let records = f.records(cart);
    assert_eq!(records[0]["state"], "uncertain", "{mode:?}: {records:#?}");
}

#[test]
fn woocommerce_a_303_to_a_write_leaves_the_sale_uncertain() {
    see_other_after_applying(Mode::WooCommerce);
}

#[test]
fn bigcommerce_a_303_to_a_write_leaves_the_sale_uncertain() {
    see_other_after_applying(Mode::BigCommerce);
}

#[test]
fn medusa_a_303_to_a_write_leaves_the_sale_uncertain() {
    let m = medusa(1, vec![(303, "")]);
    let (_dir, store, cart) = medusa_store(&m, 1);
    platform::adjust(&store, &sku(0), -1);
    store.run_stack(None).unwrap();
    assert_eq!(m.stocked("iitem_00"), 9);
    // The owner updates the cart's settings.
    medusa_store_update(&store, &m);
    drain(&store);
    assert_eq!(m.stocked("iitem_00"), 9, "applied twice");
    let list: Value = serde_json::from_str(&store.stack_list_json(None).unwrap()).unwrap();
    assert_eq!(list[0]["state"], "uncertain", "{list}");
    assert_eq!(store.stack_count(cart, StackState::Uncertain).unwrap(), 1);
}

fn medusa_store_update(store: &Store, m: &Medusa) {
    let mut cart = m.cart_json();
    cart["max_items_to_send"] = json!(50);
    cart["timeout_ms"] = json!(9000);
    store.upsert_cart_json(&cart.to_string()).unwrap();
}

/// Medusa (behind a proxy) answering an applied batch write 200 with a page that is not
/// JSON, or with JSON cut short: the level is never written again on top. Until 2026-12-05
/// the sale was left uncertain for the owner; Medusa answers only once its workflow ended,
/// so the level read back now settles it as applied (tests/readback200.rs has the sale not
/// applied, sent again once, and the read-back failing, uncertain).
#[test]
fn medusa_a_write_answered_200_unreadable_is_settled_never_sent_twice() {
    for body in [
        "<html>Saved!</html>",
        r#"{"created":[],"updated":[{"inventory_"#,
    ] {
        let m = medusa(1, vec![(200, body)]);
        let (_dir, store, cart) = medusa_store(&m, 1);
        platform::adjust(&store, &sku(0), -1);
        drain(&store);
        assert_eq!(m.stocked("iitem_00"), 9, "{body}");
        assert_eq!(
            store.stack_count(cart, StackState::Uncertain).unwrap(),
            0,
            "{body}: {}",
            store.stack_list_json(None).unwrap()
        );
        assert_eq!(store.stack_count(cart, StackState::Waiting).unwrap(), 0);
    }
}
