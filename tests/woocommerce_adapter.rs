//! The `woocommerce` adapter against the emulator's WooCommerce mode, over real HTTP on
//! 127.0.0.1.
#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::adapter::woocommerce::WooCommerceAdapter;
use inventory_sync::adapter::{
    CartAdapter, CartError, DeltaSend, QuantitySet, SendOutcome, UpdateMode,
};
use inventory_sync::emulator::{Emulator, Fault, Mode};
use inventory_sync::secret::Secret;
use inventory_sync::{GetOptions, StackState};
use platform::scripted::Scripted;
use platform::*;
use std::time::Duration;

#[test]
fn send_250_obeys_the_100_item_batch_limit() {
    // The cart allows 250 per batch; WooCommerce takes 100 per batch request.
    let f = send_250(Mode::WooCommerce, 250);
    assert_eq!(f.emu.set_requests(), 3);
    assert_eq!(f.emu.max_batch_seen(), 100);
}

#[test]
fn send_250_obeys_the_carts_max() {
    let f = send_250(Mode::WooCommerce, 40);
    assert_eq!(f.emu.set_requests(), 7);
    assert_eq!(f.emu.max_batch_seen(), 40);
}

#[test]
fn get_qoh_pages_through_products_and_variations() {
    let f = fixture(Mode::WooCommerce);
    for i in 1..=250 {
        f.emu.set_qoh(&format!("P-{i:03}"), i);
    }
    f.emu.set_variant_qoh("TEE", "TEE-S", 4);
    f.emu.set_variant_qoh("TEE", "TEE-M", 6);
    let cart = f.cart(50);
    let r = f
        .store
        .get_qoh(
            cart,
            GetOptions {
                force: true,
                create_new: true,
            },
            None,
        )
        .unwrap();
    assert_eq!(
        r.created, 253,
        "250 products, TEE and its 2 variations: {r:?}"
    );
    assert_eq!(f.store.item_qoh("P-250").unwrap(), 250);
    assert_eq!(f.store.item_qoh("TEE-M").unwrap(), 6);
    let tee = f.store.item("TEE").unwrap();
    assert!(
        tee.has_variants && tee.qoh == 0,
        "the variable product is made the product of its variations, holding no stock: {tee:?}"
    );
    assert!(f.emu.get_requests() >= 3, "three product pages of 100");
}

#[test]
fn delta_is_read_add_write_with_verify() {
    let f = fixture(Mode::WooCommerce);
    f.emu.set_variant_qoh("TEE", "TEE-S", 4);
    f.emu.set_qoh("MUG", 10);
    f.item("TEE-S", 4);
    f.item("MUG", 10);
    let cart = f.cart(50);
    f.store.set_cart_sync(cart, true).unwrap();
    adjust(&f.store, "TEE-S", 3);
    adjust(&f.store, "MUG", -4);
    f.drain();
    assert_eq!(f.emu.qoh("TEE-S"), Some(7));
    assert_eq!(f.emu.qoh("MUG"), Some(6));
    assert!(f.records(cart).is_empty());
    let a = WooCommerceAdapter::new(
        &f.emu.url(),
        "ck_test",
        Secret::new(SECRET),
        Duration::from_secs(5),
    )
    .unwrap();
    assert_eq!(a.update_mode(), UpdateMode::Absolute);
    let out = a
        .apply_deltas(&[DeltaSend {
            key: "k".into(),
            sku: "MUG".into(),
            remote_ref: None,
            delta: 1,
        }])
        .unwrap();
    assert_eq!(out, vec![SendOutcome::Applied { qoh: Some(7) }]);
}

#[test]
fn lost_answer_after_the_write_ends_uncertain_never_doubled() {
    let f = fixture(Mode::WooCommerce);
    f.emu.set_qoh("MUG", 10);
    f.item("MUG", 10);
    let cart = f.cart(50);
    f.store.set_cart_sync(cart, true).unwrap();
    // Warm the id cache, so the next delta is exactly: read, write, verify.
    adjust(&f.store, "MUG", -1);
    f.drain();
    adjust(&f.store, "MUG", -3);
    f.emu.inject(Fault::Delay { ms: 0, count: 1 }); // the read passes
    f.emu.inject(Fault::ApplyThenDrop { count: 1 }); // the write applies, its answer is lost
    f.drain();
    assert_eq!(f.emu.qoh("MUG"), Some(6), "applied once");
    assert_eq!(f.count(cart, StackState::Uncertain), 1);
    let recs = f.records(cart);
    assert_eq!(recs[0]["state"], "uncertain");
}

#[test]
fn a_429_waits_and_loses_nothing() {
    let f = fixture(Mode::WooCommerce);
    for i in 1..=250 {
        let sku = format!("SKU-{i:03}");
        f.emu.set_qoh(&sku, 0);
        f.item(&sku, i);
    }
    let cart = f.cart(100);
    f.emu.inject(Fault::Delay { ms: 0, count: 3 }); // the catalogue index
    f.emu.inject(Fault::Status {
        status: 429,
        count: 1,
        retry_after: Some(0),
    });
    let r = f.send(cart);
    assert_eq!(r.sent, 250, "{r:?}");
    for i in 1..=250 {
        assert_eq!(f.emu.qoh(&format!("SKU-{i:03}")), Some(i));
    }
}

#[test]
fn unknown_sku_is_a_clear_failure() {
    unknown_sku(Mode::WooCommerce);
}

#[test]
fn secrets_never_leak() {
    secrets_stay_secret(Mode::WooCommerce);
    let emu = Emulator::start_mode(Mode::WooCommerce).unwrap();
    let a = WooCommerceAdapter::new(
        &emu.url(),
        "ck_test",
        Secret::new(SECRET),
        Duration::from_secs(1),
    )
    .unwrap();
    let d = format!("{a:?}");
    assert!(!d.contains(SECRET) && d.contains("***"), "{d}");
}

/// WooCommerce's batch handler saves the items one after another with no transaction, and
/// WordPress answers 500 when PHP dies part-way (a time or memory limit, a plugin's fatal
/// error on save), once it is done with the request. The counts read back then say whether
/// the write of a read-add-write stands: applied once (never read, added and written again:
/// until 2026-12-03 it was left uncertain for the owner to check), or not saved (sent again,
/// landing once).
#[test]
fn a_sale_whose_write_is_answered_500_lands_once_settled_by_reading_it_back() {
    for applied in [true, false] {
        let f = fixture(Mode::WooCommerce);
        f.emu.set_qoh("MUG", 10);
        f.item("MUG", 10);
        let cart = f.cart(50);
        f.store.set_cart_sync(cart, true).unwrap();
        adjust(&f.store, "MUG", -1); // warm the id cache
        f.drain();
        assert_eq!(f.emu.qoh("MUG"), Some(9));
        adjust(&f.store, "MUG", -3);
        // The write is applied (or not), then the site answers 500 (reads pass untouched).
        f.emu.inject(match applied {
            true => Fault::ApplyThenStatus {
                status: 500,
                count: 1,
            },
            false => Fault::Status {
                status: 500,
                count: 1,
                retry_after: None,
            },
        });
        f.drain();
        let recs = f.records(cart);
        assert_eq!(
            f.emu.qoh("MUG"),
            Some(6),
            "{applied}: the -3 landed once: {recs:?}"
        );
        assert_eq!(
            f.count(cart, StackState::Uncertain),
            0,
            "{applied}: {recs:?}"
        );
        assert_eq!(f.count(cart, StackState::Waiting), 0, "{applied}: {recs:?}");
    }
}

/// Send QOH answered 500 after WooCommerce saved the count: the count may have landed, so the
/// waiting record it included is settled with it, never sent on top (the cart would show 6
/// where the store has 8).
#[test]
fn a_send_qoh_answered_500_never_counts_a_waiting_record_twice() {
    let f = fixture(Mode::WooCommerce);
    let cart = f.cart(50);
    f.item("A", 10);
    f.emu.set_qoh("A", 10);
    f.store.set_cart_sync(cart, true).unwrap();
    adjust(&f.store, "A", -2);
    f.emu.inject(Fault::ApplyThenStatus {
        status: 500,
        count: 1,
    });
    let report = f.send(cart);
    assert_eq!(f.emu.qoh("A"), Some(8), "{report:?}");
    assert_eq!(report.superseded, 1, "{report:?}");
    f.drain();
    assert_eq!(f.emu.qoh("A"), Some(8), "the -2 went once");
}

const FATAL: &str = r#"{"code":"internal_server_error","message":"<p>There has been a critical error on this website.</p>","data":{"status":500},"additional_errors":[]}"#;

/// A batch of two sales that PHP died part-way through (500): WooCommerce saved the first
/// item and not the second. Read back, the first is applied, the second goes again, and a
/// count that is neither the one written nor the one read before (a shop sale landing in
/// between) is left for the owner. Until 2026-12-03 the whole batch was uncertain.
#[test]
fn a_batch_answered_500_part_way_is_judged_item_by_item_by_reading_it_back() {
    let read = r#"[{"id":5,"sku":"MUG","type":"simple","manage_stock":true,"stock_quantity":10},
                   {"id":6,"sku":"CAP","type":"simple","manage_stock":true,"stock_quantity":5},
                   {"id":7,"sku":"HAT","type":"simple","manage_stock":true,"stock_quantity":8}]"#;
    let after = r#"[{"id":5,"sku":"MUG","type":"simple","manage_stock":true,"stock_quantity":7},
                    {"id":6,"sku":"CAP","type":"simple","manage_stock":true,"stock_quantity":5},
                    {"id":7,"sku":"HAT","type":"simple","manage_stock":true,"stock_quantity":6}]"#;
    let verify = r#"[{"id":5,"sku":"MUG","type":"simple","manage_stock":true,"stock_quantity":7}]"#;
    let server = Scripted::start(vec![(200, read), (500, FATAL), (200, after), (200, verify)]);
    let delta = |sku: &str, id: &str, delta| DeltaSend {
        key: format!("k-{sku}"),
        sku: sku.into(),
        remote_ref: Some(id.into()),
        delta,
    };
    let out = scripted_adapter(&server)
        .apply_deltas(&[
            delta("MUG", "5", -3),
            delta("CAP", "6", -1),
            delta("HAT", "7", -1),
        ])
        .unwrap();
    let seen = server.finish();
    assert_eq!(seen.len(), 4, "read, write, read back, verify: {seen:?}");
    assert_eq!(out[0], SendOutcome::Applied { qoh: Some(7) }, "{out:?}");
    assert!(
        matches!(&out[1], SendOutcome::Retry { message, .. }
            if message.contains("CAP") && message.contains("not applied") && message.contains("500")),
        "{out:?}"
    );
    assert!(
        matches!(&out[2], SendOutcome::Uncertain { message }
            if message.contains("HAT") && message.contains("read back 6")),
        "{out:?}"
    );
}

fn scripted_adapter(server: &Scripted) -> WooCommerceAdapter {
    WooCommerceAdapter::new(
        &server.url,
        "ck_x",
        Secret::new("cs_x"),
        Duration::from_secs(5),
    )
    .unwrap()
}

/// At adapter level: a batch write (a delta's or a count's) answered 500 is a possibly
/// applied write (`Ambiguous`), not "nothing applied"; a 503 whose read-back fails too (an
/// overloaded server: WordPress never ran the handler) still is `Unavailable`. (A 503 the
/// shop then answers a read after is judged by that read: tests/woocommerce_shop.rs.)
#[test]
fn a_batch_write_answered_500_may_have_saved_items_but_a_503_saved_none() {
    let read = r#"[{"id":5,"sku":"MUG","type":"simple","manage_stock":true,"stock_quantity":10}]"#;
    // Cloudflare's 520 (the origin reset the connection, or answered nothing it could read,
    // after taking the request) likewise.
    for (status, body) in [(500, FATAL), (520, "error code: 520")] {
        let server = Scripted::start(vec![(200, read), (status, body)]);
        let r = scripted_adapter(&server).apply_deltas(&[DeltaSend {
            key: "k".into(),
            sku: "MUG".into(),
            remote_ref: Some("5".into()),
            delta: -3,
        }]);
        let seen = server.finish();
        assert!(
            seen[1].0.starts_with("POST /wp-json/wc/v3/products/batch"),
            "{seen:?}"
        );
        assert!(matches!(r, Err(CartError::Ambiguous(_))), "{status}: {r:?}");
    }

    let set = [QuantitySet {
        key: "k".into(),
        sku: "MUG".into(),
        remote_ref: Some("5".into()),
        qoh: 7,
        expected: None,
    }];
    // A set reads first too (the product behind the id is still the one it was).
    let server = Scripted::start(vec![(200, read), (500, FATAL)]);
    let r = scripted_adapter(&server).set_quantities(&set);
    let seen = server.finish();
    assert!(
        seen[1].0.starts_with("POST /wp-json/wc/v3/products/batch"),
        "{seen:?}"
    );
    assert!(matches!(r, Err(CartError::Ambiguous(_))), "{r:?}");

    let maintenance =
        r#"{"code":"maintenance","message":"Briefly unavailable for scheduled maintenance."}"#;
    let server = Scripted::start(vec![(200, read), (503, maintenance)]);
    let r = scripted_adapter(&server).set_quantities(&set);
    server.finish();
    assert!(matches!(r, Err(CartError::Unavailable(_))), "{r:?}");
}

/// A proxy or page cache in front of WordPress may strip `X-WP-Total`: Get QOH then
/// reads on while pages come full, rather than stopping after the first and reporting the
/// run done. Products are asked for oldest first, so one created during the run lands on the
/// last page instead of pushing every later page one product on.
#[test]
fn get_qoh_reads_on_while_pages_come_full_when_the_page_count_is_missing() {
    let full = r#"[{"id":1,"sku":"A","type":"simple","manage_stock":true,"stock_quantity":1},
                   {"id":2,"sku":"B","type":"simple","manage_stock":true,"stock_quantity":2}]"#;
    // From offset 1: each page starts with the last product read, to see none left before it.
    let last = r#"[{"id":2,"sku":"B","type":"simple","manage_stock":true,"stock_quantity":2},
                   {"id":3,"sku":"C","type":"simple","manage_stock":true,"stock_quantity":3}]"#;
    // The last product again: it ends the list.
    let end = r#"[{"id":3,"sku":"C","type":"simple","manage_stock":true,"stock_quantity":3}]"#;
    let server = Scripted::start(vec![(200, full), (200, last), (200, end)]);
    let a = scripted_adapter(&server);
    let first = a.fetch_quantities(None, 2).unwrap();
    assert_eq!(first.next_cursor.as_deref(), Some("2:2"), "{first:?}");
    let second = a.fetch_quantities(first.next_cursor.as_deref(), 2).unwrap();
    assert_eq!(second.items, vec![("C".to_owned(), 3)]);
    // A full page may have more after it.
    let third = a
        .fetch_quantities(second.next_cursor.as_deref(), 2)
        .unwrap();
    assert_eq!(third.items, vec![]);
    assert_eq!(third.next_cursor, None, "a page not full is the last");
    let seen = server.finish();
    assert!(
        seen[0].0.contains("orderby=id") && seen[0].0.contains("order=asc"),
        "{seen:?}"
    );
    assert!(seen[1].0.contains("offset=1"), "{seen:?}");
}

/// A cache in front of the shop that strips `X-WP-Total` and ignores the offset asked for
/// answers the first page for every page: after three such pages the listing stops with an
/// error naming why, rather than reading the same page for ever (Get QOH, and the SKU index
/// a write builds).
#[test]
fn a_listing_whose_pages_do_not_move_on_stops_with_an_error() {
    let full = r#"[{"id":1,"sku":"A","type":"simple","manage_stock":true,"stock_quantity":1},
                   {"id":2,"sku":"B","type":"simple","manage_stock":true,"stock_quantity":2}]"#;
    let server = Scripted::start(vec![(200, full); 4]);
    let a = scripted_adapter(&server);
    let first = a.fetch_quantities(None, 2).unwrap();
    let again = a
        .fetch_quantities(first.next_cursor.as_deref(), 2)
        .unwrap_err();
    assert!(again.message().contains("do not move on"), "{again:?}");
    server.finish();

    let hundred = serde_json::to_string(
        &(1..=100)
            .map(|i| {
                serde_json::json!({"id": i, "sku": format!("P{i}"), "type": "simple",
                                   "manage_stock": true, "stock_quantity": 1})
            })
            .collect::<Vec<_>>(),
    )
    .unwrap();
    let hundred: &'static str = Box::leak(hundred.into_boxed_str());
    let server = Scripted::start(vec![(200, hundred); 4]);
    let err = scripted_adapter(&server)
        .set_quantities(&[QuantitySet {
            key: "k".into(),
            sku: "NOT-THERE".into(),
            remote_ref: None,
            qoh: 1,
            expected: None,
        }])
        .unwrap_err();
    assert!(err.message().contains("do not move on"), "{err:?}");
}

/// A product that joins the id-ordered list behind the cursor during a Get QOH (a draft
/// published, a product restored from the bin) pushes the list one on: the next page holds
/// only products already read. That is a shop at work, not pages that do not move on: they
/// are left out, and the run reads on.
#[test]
fn get_qoh_goes_on_when_a_product_joins_behind_the_cursor_mid_run() {
    let page1 = r#"[{"id":10,"type":"simple","sku":"A","manage_stock":true,"stock_quantity":1},
                    {"id":20,"type":"simple","sku":"B","manage_stock":true,"stock_quantity":2}]"#;
    // Product 15 was published meanwhile: from offset 1 the shop lists 15 and B.
    let again = r#"[{"id":15,"type":"simple","sku":"N","manage_stock":true,"stock_quantity":5},
                    {"id":20,"type":"simple","sku":"B","manage_stock":true,"stock_quantity":2}]"#;
    let page2 = r#"[{"id":20,"type":"simple","sku":"B","manage_stock":true,"stock_quantity":2},
                    {"id":30,"type":"simple","sku":"C","manage_stock":true,"stock_quantity":3}]"#;
    let server = Scripted::start(vec![(200, page1), (200, again), (200, page2)]);
    let a = scripted_adapter(&server);
    let first = a.fetch_quantities(None, 2).unwrap();
    let second = a.fetch_quantities(first.next_cursor.as_deref(), 2);
    server.finish();
    let second = second.unwrap();
    assert_eq!(second.items, vec![("C".to_owned(), 3)]);
    assert_eq!(second.next_cursor.as_deref(), Some("4:30"));
}

/// A cart url that reaches WordPress but no WooCommerce REST API (a mistyped path here;
/// WooCommerce deactivated by a plugin update, or plain permalinks, answer the same
/// `404 rest_no_route`) pauses the cart with its sales waiting, and saying what to check;
/// fixed, the sales go. Every sale of the batch was bypassed at once as refused by the cart,
/// and never sent unless an operator retried each.
#[test]
fn a_url_without_the_rest_api_pauses_the_cart_and_bypasses_no_sale() {
    let f = fixture(Mode::WooCommerce);
    for sku in ["MUG", "CAP"] {
        f.emu.set_qoh(sku, 10);
        f.item(sku, 10);
    }
    let mut cart = cart_json(&f.emu, 50, SECRET);
    let good = cart["url"].as_str().unwrap().to_owned();
    cart["url"] = format!("{good}shop/").into();
    let id = f.store.upsert_cart_json(&cart.to_string()).unwrap();
    f.store.set_cart_sync(id, true).unwrap();
    adjust(&f.store, "MUG", -1);
    adjust(&f.store, "CAP", -2);
    let r = f.store.run_stack(None).unwrap();
    assert_eq!((r.sent, r.bypassed, r.remaining), (0, 0, 2), "{r}");
    let error = r.carts[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("no WooCommerce REST API answers at this url")
            && error.contains("rest_no_route"),
        "{error}"
    );
    assert_eq!(f.count(id, StackState::Bypassed), 0, "{:?}", f.records(id));

    cart["url"] = good.into();
    f.store.upsert_cart_json(&cart.to_string()).unwrap();
    f.drain();
    assert_eq!((f.emu.qoh("MUG"), f.emu.qoh("CAP")), (Some(9), Some(8)));
}

/// A shop whose `woocommerce_rest_batch_items_limit` filter takes fewer than 100 items a
/// request answers 413 ("Unable to accept more than 50 items for this request"), nothing
/// applied: the request goes again in halves, and later ones no larger. Read as a refusal
/// until 2026-12-03, every sale of the batch was bypassed at once.
#[test]
fn a_shop_with_a_lower_batch_limit_gets_every_sale_in_smaller_requests() {
    let products = |ids: std::ops::RangeInclusive<i64>, q: i64, wrap: bool| -> &'static str {
        let entries: Vec<String> = ids
            .map(|i| format!(r#"{{"id":{i},"sku":"P{i}","type":"simple","manage_stock":true,"stock_quantity":{q}}}"#))
            .collect();
        let list = format!("[{}]", entries.join(","));
        let text = if wrap {
            format!(r#"{{"update":{list}}}"#)
        } else {
            list
        };
        Box::leak(text.into_boxed_str())
    };
    let too_large = r#"{"code":"woocommerce_rest_request_entity_too_large","message":"Unable to accept more than 50 items for this request.","data":{"status":413}}"#;
    let server = Scripted::start(vec![
        (200, products(1..=60, 10, false)),
        (413, too_large),
        (200, products(1..=30, 9, true)),
        // The second half read again after the first went.
        (200, products(31..=60, 10, false)),
        (200, products(31..=60, 9, true)),
        (200, products(1..=60, 9, false)),
    ]);
    let deltas: Vec<DeltaSend> = (1..=60)
        .map(|i| DeltaSend {
            key: format!("k{i}"),
            sku: format!("P{i}"),
            remote_ref: Some(i.to_string()),
            delta: -1,
        })
        .collect();
    let adapter = scripted_adapter(&server);
    let out = adapter.apply_deltas(&deltas).unwrap();
    assert!(
        out.iter().all(|o| matches!(o, SendOutcome::Applied { .. })),
        "{out:?}"
    );
    let seen = server.finish();
    let posts: Vec<usize> = seen
        .iter()
        .filter(|r| r.0.starts_with("POST "))
        .map(|r| r.2.matches(r#""id":"#).count())
        .collect();
    assert_eq!(posts, vec![60, 30, 30], "{seen:?}");
}

/// "HTTP Basic authentication cannot be used over plain HTTP as the keys are susceptible to
/// interception" (WooCommerce's REST API docs): a shop's url over plain http is refused
/// before the consumer secret is ever sent; one on this machine is not.
#[test]
fn a_plain_http_url_to_another_machine_is_refused() {
    let new = |url: &str| {
        WooCommerceAdapter::new(url, "ck_x", Secret::new("cs_x"), Duration::from_secs(5))
    };
    let e = new("http://shop.example.com/").unwrap_err();
    assert!(e.message().contains("https"), "{e}");
    for url in [
        "https://shop.example.com/",
        "http://127.0.0.1:8080/",
        "http://localhost/",
        "http://[::1]:9/",
    ] {
        assert!(new(url).is_ok(), "{url}");
    }
}

/// Two items reaching one product in one Send QOH (TEE by its SKU, TEE-OLD by a reference
/// left from a product made again): the shop holds one count for the two. The first item's
/// count goes; the second fails by name, and the batch's other items go. (Both were written,
/// both reported set, and the shop offered TEE-OLD's 9 shirts where the store has 2.)
#[test]
fn a_send_qoh_sets_one_product_once() {
    send_qoh_sets_one_record_once(Mode::WooCommerce);
}

/// A variation whose `remote_ref` names a product the shop no longer has (deleted), and a
/// plain product, sold in one pass. WooCommerce lists a product's variations by a query on
/// their parent with no check of it, so it answers the read `200 []` (never 404): that sale
/// fails by name, the other lands. The emulator answered 404 until 2026-12-03, which the
/// adapter reads as a refusal of the whole call: the MUG sale was bypassed with it there, so
/// the tests did not show what a real shop does. The failure names the stale reference (it
/// said "no product has this SKU").
#[test]
fn a_variation_of_a_deleted_product_fails_alone_and_the_other_sale_lands() {
    let f = fixture(Mode::WooCommerce);
    f.emu.set_qoh("MUG", 10);
    f.item("MUG", 10);
    f.item("TEE-S", 4);
    let cart = f.cart(50);
    f.store
        .set_web_fields(cart, "TEE-S", r#"{"remote_ref":"9999/8888"}"#)
        .unwrap();
    f.store.set_cart_sync(cart, true).unwrap();
    adjust(&f.store, "MUG", -1);
    adjust(&f.store, "TEE-S", -1);
    f.drain();
    assert_eq!(f.emu.qoh("MUG"), Some(9), "{:#?}", f.records(cart));
    let recs = f.records(cart);
    assert_eq!(recs.len(), 1, "{recs:#?}");
    assert_eq!(recs[0]["sku"], "TEE-S");
    assert_eq!(recs[0]["state"], "bypassed");
    // The message sends the owner to the reference, not to a SKU that is right.
    let said = recs[0]["last_response"].as_str().unwrap();
    assert!(said.contains("remote_ref \"9999/8888\""), "{said}");
}

/// A second cart, at `level`, on an `http_json` emulator of its own, switched on.
fn other_cart(f: &Fixture, level: &str) -> (Emulator, inventory_sync::CartId) {
    let emu = Emulator::start().unwrap();
    let json = serde_json::json!({"name": "Other", "adapter": "http_json", "url": emu.url(),
        "capabilities": {"send": true, "get": true, "realtime": level}});
    let id = f.store.upsert_cart_json(&json.to_string()).unwrap();
    f.store.set_cart_sync(id, true).unwrap();
    (emu, id)
}

fn create_new(f: &Fixture, cart: inventory_sync::CartId) -> inventory_sync::GetReport {
    let options = GetOptions {
        force: false,
        create_new: true,
    };
    f.store.get_qoh(cart, options, None).unwrap()
}

fn parent_of(f: &Fixture, sku: &str) -> Option<String> {
    let items: serde_json::Value =
        serde_json::from_str(&f.store.items_json(None).unwrap()).unwrap();
    let item = items.as_array().unwrap().iter().find(|i| i["sku"] == sku)?;
    item["parent_sku"].as_str().map(str::to_owned)
}

/// *Create records for new products* makes a shop's new variation a variant of its product,
/// which the store has (here with variant TEE-M): until 2026-12-03 TEE-L was made a plain item
/// (found by a review), which the store cannot move under its product afterwards, and a `Sku`
/// cart was sent TEE without TEE-L's units. That cart is told of the 4 units TEE gains.
#[test]
fn get_qoh_creates_a_new_variation_under_its_product() {
    let f = fixture(Mode::WooCommerce);
    f.item("TEE", 0);
    f.store
        .upsert_item_json(r#"{"sku":"TEE-M","parent_sku":"TEE","qoh":6}"#)
        .unwrap();
    f.emu.set_variant_qoh("TEE", "TEE-M", 6);
    f.emu.set_variant_qoh("TEE", "TEE-L", 4);
    let (_sku_emu, sku_cart) = other_cart(&f, "sku");
    let a = f.cart(50);
    let r = create_new(&f, a);
    assert_eq!(r.created, 1, "{r:?}");
    assert_eq!(parent_of(&f, "TEE-L").as_deref(), Some("TEE"), "{r:?}");
    assert_eq!(f.store.item_qoh("TEE-L").unwrap(), 4);
    let told: Vec<(String, i64)> = f
        .records(sku_cart)
        .iter()
        .map(|r| {
            (
                r["sku"].as_str().unwrap().to_owned(),
                r["delta"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(told, vec![("TEE".to_owned(), 4)]);
}

/// A product the store lacks is made too, without stock, with every variation the shop lists
/// under it; no cart has any of them, so nothing is queued (rule 13), also to a `Sku` cart.
/// A variation whose product holds stock of its own in the store is not created, and is
/// listed saying why (a product with variants holds none).
#[test]
fn get_qoh_makes_the_product_of_new_variations_and_refuses_one_holding_stock() {
    let f = fixture(Mode::WooCommerce);
    f.emu.set_variant_qoh("HAT", "HAT-S", 2);
    f.emu.set_variant_qoh("HAT", "HAT-L", 3);
    f.emu.set_variant_qoh("MUG", "MUG-RED", 5);
    f.item("MUG", 7);
    let (_sku_emu, sku_cart) = other_cart(&f, "sku");
    let a = f.cart(50);
    let r = create_new(&f, a);
    assert_eq!(r.created, 3, "HAT, HAT-S, HAT-L: {r:?}");
    assert_eq!(parent_of(&f, "HAT-S").as_deref(), Some("HAT"));
    assert_eq!(parent_of(&f, "HAT-L").as_deref(), Some("HAT"));
    assert_eq!(f.store.item_qoh("HAT").unwrap(), 0);
    assert_eq!(f.records(sku_cart), Vec::<serde_json::Value>::new());
    assert!(f.store.item("MUG-RED").is_err(), "{r:?}");
    assert!(
        r.not_applied
            .iter()
            .any(|n| n.sku == "MUG-RED" && n.why.contains("holds QOH 7")),
        "{r:?}"
    );
}

/// What an adapter notes for one Send QOH (the records set, so that two items reaching one
/// are found whatever the batch size) starts afresh with each run, also where the factory
/// hands out one adapter it keeps: TEE-OLD (linked to TEE's product) is replaced by item TEE,
/// whose count goes. Until the review of bd93ced it was refused as "also item TEE-OLD's"
/// in every later run.
#[test]
fn an_adapter_kept_across_runs_sets_a_record_for_another_item_in_the_next_run() {
    let f = fixture(Mode::WooCommerce);
    f.emu.set_qoh("TEE", 0);
    let woo: std::sync::Arc<dyn CartAdapter> = std::sync::Arc::new(
        WooCommerceAdapter::new(
            &f.emu.url(),
            "ck_test",
            Secret::new(SECRET),
            Duration::from_secs(5),
        )
        .unwrap(),
    );
    f.store
        .register_adapter("kept-woo", move |_| Ok(woo.clone()));
    let c = f
        .store
        .upsert_cart_json(
            r#"{"name":"Kept","adapter":"kept-woo","capabilities":{"send":true,"get":true}}"#,
        )
        .unwrap();
    f.item("TEE-OLD", 9);
    let id = f.emu.platform_id("TEE").unwrap();
    f.store
        .set_web_fields(c, "TEE-OLD", &format!(r#"{{"remote_ref":"{id}"}}"#))
        .unwrap();
    let r = f.send(c);
    assert_eq!(
        (r.sent, r.failed, f.emu.qoh("TEE")),
        (1, 0, Some(9)),
        "{r:?}"
    );
    f.store.delete_item("TEE-OLD").unwrap();
    f.item("TEE", 2);
    // TEE-OLD, deleted, is set to 0 on the cart (it was shown it), before the items; then
    // TEE's count goes to the same product, in the adapter's next run. TEE's count stands.
    let r = f.send(c);
    assert_eq!(
        (r.sent, r.zeroed, r.failed, f.emu.qoh("TEE")),
        (1, 1, 0, Some(2)),
        "{r:?}"
    );
    let r = f.send(c);
    assert_eq!(
        (r.sent, r.failed, f.emu.qoh("TEE")),
        (1, 0, Some(2)),
        "{r:?}"
    );
}

/// A 429 to a later request of a call (a shop's rate-limit plugin or its host's firewall)
/// ends the call: the items not yet sent wait the time it named, no attempt counted, and
/// nothing more is sent into the limit. Until 2026-12-03 every later request of the call went
/// at once and met it again (found by a review of the BigCommerce adapter, which shares the
/// rule: `common::ends_write`).
#[test]
fn a_429_to_a_later_request_of_a_call_sends_no_more_of_it() {
    let emu = Emulator::start_mode(Mode::WooCommerce).unwrap();
    emu.set_token(Some(&format!("ck_test:{SECRET}")));
    for i in 1..=250 {
        emu.set_qoh(&format!("SKU-{i:03}"), 0);
    }
    let a = WooCommerceAdapter::new(
        &emu.url(),
        "ck_test",
        Secret::new(SECRET),
        Duration::from_secs(5),
    )
    .unwrap();
    let sets = |n: i64| -> Vec<QuantitySet> {
        (1..=250)
            .map(|i| QuantitySet {
                key: format!("k{n}-{i}"),
                sku: format!("SKU-{i:03}"),
                remote_ref: None,
                qoh: i + n,
                expected: None,
            })
            .collect()
    };
    // Learns the catalogue: the next call reads the 250 products' counts (3 pages), then
    // writes them in three requests of 100, 100 and 50.
    a.set_quantities(&sets(0)).unwrap();
    let before = emu.requests();
    emu.inject(Fault::Delay { ms: 0, count: 4 });
    emu.inject(Fault::Status {
        status: 429,
        count: 1,
        retry_after: Some(7),
    });
    let out = a.set_quantities(&sets(1000)).unwrap();
    assert_eq!(emu.requests() - before, 5, "{:?}", &out[100..102]);
    for (i, o) in out.iter().enumerate() {
        match i {
            0..100 => assert!(matches!(o, SendOutcome::Applied { .. }), "{i}: {o:?}"),
            _ => assert!(
                matches!(o, SendOutcome::Retry { after: Some(d), message }
                    if *d == Duration::from_secs(7) && message.contains("rate limited")),
                "{i}: {o:?}"
            ),
        }
    }
    assert_eq!(
        (emu.qoh("SKU-100"), emu.qoh("SKU-101")),
        (Some(1100), Some(101))
    );
}
