//! A write answered 200 with a body the adapter cannot use (cut short by a proxy, a PHP
//! notice in place of the JSON, a plugin rewriting it) to a cart without idempotency keys
//! (WooCommerce, Medusa): the request reached the cart, which may or may not have applied
//! it. Until 2026-12-05 every such sale was left uncertain for the owner to check by hand;
//! now the adapters settle it by reading the counts back, as after a 500. What a store owner
//! relies on: a sale that was applied is applied, one that was not is sent again and applied
//! exactly once, one the read-back cannot tell about stays uncertain, and none is applied
//! twice, whether the cart answers over loopback through the emulator or a fake Medusa.
#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::emulator::{Fault, Mode};
use inventory_sync::{CartId, StackState, Store};
use platform::medusa_fake::{Asked, Medusa, WriteAnswer};
use platform::{cart_json, fixture, Fixture, SECRET};
use serde_json::{json, Value};
use std::io::{BufReader, Write};

const SKU: &str = "RB-1";

/// Passes until nothing waits (bounded by count, never by time).
fn drain(store: &Store) {
    for _ in 0..20 {
        if store.run_stack(None).unwrap().remaining == 0 {
            return;
        }
    }
}

fn records(store: &Store) -> Value {
    serde_json::from_str(&store.stack_list_json(None).unwrap()).unwrap()
}

// ---- WooCommerce, on the emulator ----

/// One sale of `SKU` through a WooCommerce cart whose emulator meets `faults`, drained.
fn woo_sale(faults: Vec<Fault>) -> (Fixture, CartId) {
    let (f, cart) = woo(faults);
    platform::adjust(&f.store, SKU, -1);
    drain(&f.store);
    (f, cart)
}

/// A WooCommerce shop with `SKU` at 10 on both sides, a real-time cart, and `faults` queued.
fn woo(faults: Vec<Fault>) -> (Fixture, CartId) {
    let f = fixture(Mode::WooCommerce);
    let mut cart = cart_json(&f.emu, 50, SECRET);
    cart["capabilities"] = json!({"send": true, "get": true, "realtime": "attribute"});
    let cart = f.store.upsert_cart_json(&cart.to_string()).unwrap();
    f.store.set_cart_sync(cart, true).unwrap();
    f.item(SKU, 10);
    f.emu.set_qoh(SKU, 10);
    for fault in faults {
        f.emu.inject(fault);
    }
    (f, cart)
}

fn broken(applied: bool, cut: bool) -> Fault {
    Fault::BrokenWriteAnswer {
        applied,
        cut,
        count: 1,
    }
}

/// A whole 200 that is not JSON comes once PHP is done with the batch: the count read back
/// settles it. Applied: applied, written once. Not applied: sent again, applied once. The
/// read-back failing too: uncertain, never sent again.
#[test]
fn woocommerce_a_whole_200_it_cannot_read_is_settled_by_reading_back() {
    let (f, cart) = woo_sale(vec![broken(true, false)]);
    assert_eq!(f.emu.qoh(SKU), Some(9));
    assert_eq!(f.emu.set_requests(), 1, "written once");
    assert_eq!(
        f.count(cart, StackState::Uncertain),
        0,
        "{}",
        records(&f.store)
    );
    assert_eq!(f.count(cart, StackState::Waiting), 0);

    let (f, cart) = woo_sale(vec![broken(false, false)]);
    assert_eq!(f.emu.qoh(SKU), Some(9), "sent again, applied once");
    assert_eq!(f.emu.set_requests(), 2, "sent again once");
    assert_eq!(f.count(cart, StackState::Waiting), 0);
    assert_eq!(f.count(cart, StackState::Uncertain), 0);

    let outage = Fault::Status {
        status: 503,
        count: 3,
        retry_after: None,
    };
    let (f, cart) = woo_sale(vec![broken(false, false), outage]);
    assert_eq!(f.emu.qoh(SKU), Some(10));
    assert_eq!(f.emu.set_requests(), 1, "never sent again");
    assert_eq!(
        f.count(cart, StackState::Uncertain),
        1,
        "{}",
        records(&f.store)
    );
}

/// A 200 cut short may have left PHP still saving the batch (a proxy that cut the answer
/// does not stop it): the count written standing settles it as applied; the count from
/// before may be one not saved yet, so it stays uncertain and is never sent again.
#[test]
fn woocommerce_a_200_cut_short_is_applied_where_the_count_stands_else_uncertain() {
    let (f, cart) = woo_sale(vec![broken(true, true)]);
    assert_eq!(f.emu.qoh(SKU), Some(9));
    assert_eq!(f.emu.set_requests(), 1);
    assert_eq!(
        f.count(cart, StackState::Uncertain),
        0,
        "{}",
        records(&f.store)
    );
    assert_eq!(f.count(cart, StackState::Waiting), 0);

    let (f, cart) = woo_sale(vec![broken(false, true)]);
    assert_eq!(f.emu.qoh(SKU), Some(10));
    assert_eq!(f.emu.set_requests(), 1, "never sent again");
    let list = records(&f.store);
    assert_eq!(f.count(cart, StackState::Uncertain), 1, "{list}");
    assert!(
        list[0]["last_response"]
            .as_str()
            .unwrap_or("")
            .contains("still have been saving"),
        "{list}"
    );
}

// ---- Medusa, on the shared loopback stand-in for its admin API (`platform::medusa_fake`) ----

const ITEM: &str = "iitem_01";

/// How the fake Medusa answers the next batch write.
#[derive(Clone, Copy)]
struct Answer {
    applied: bool,
    status: u16,
    body: &'static str,
    /// The `Content-Length` names more than `body`, and the connection closes after it.
    cut: bool,
    /// Sent as HTML (a proxy's own page), not as JSON as Medusa sends its answers.
    page: bool,
}

/// A store with `SKU` at 10, a real-time Medusa cart on a stand-in holding `ITEM` (`SKU`) at
/// 10 too, whose next batch write is answered `a` (and, when `fail_reads`, the 5 reads after
/// it 503).
fn medusa_store(a: Answer, fail_reads: bool) -> (tempfile::TempDir, Store, CartId, Medusa) {
    let m = Medusa::start(&[(ITEM, SKU, 10)]);
    let mut headers = Vec::new();
    if a.cut {
        headers.push(("content-length".into(), (a.body.len() + 4096).to_string()));
    }
    if a.page {
        headers.push(("content-type".into(), "text/html".into()));
    }
    m.answer_next_write(WriteAnswer {
        applied: a.applied,
        reply: (a.status, headers, a.body.into()),
        then_failing_reads: if fail_reads { 5 } else { 0 },
    });
    let mut cart = m.cart_json();
    cart["max_items_to_send"] = json!(50);
    let (dir, store, cart) = platform::scripted_store(cart, SKU, 10);
    store.set_cart_sync(cart, true).unwrap();
    (dir, store, cart, m)
}

/// The bodies a 200 to a Medusa batch write may come with that the adapter cannot use: a
/// proxy's page, JSON cut short (whole, or with the connection closing early), and JSON of
/// another shape.
fn medusa_broken(applied: bool) -> Vec<Answer> {
    let a = |body, cut| Answer {
        applied,
        status: 200,
        body,
        cut,
        page: false,
    };
    vec![
        a("<html>Saved!</html>", false),
        a(r#"{"created":[],"updated":[{"inventory_"#, false),
        a(r#"{"created":[],"updated":[{"inventory_"#, true),
        a(r#"{"ok":true}"#, false),
    ]
}

/// Medusa sends a 200 only once its workflow ended, so a 200 it cannot read is settled by the
/// level read back: applied where the count written stands; not applied where the count
/// from before does, and sent again once; uncertain where the read-back fails. Never applied
/// twice.
#[test]
fn medusa_a_200_it_cannot_read_is_settled_by_reading_back() {
    for a in medusa_broken(true) {
        let (_dir, store, cart, m) = medusa_store(a, false);
        platform::adjust(&store, SKU, -1);
        drain(&store);
        assert_eq!(
            (m.stocked(ITEM), m.asked(Asked::Write)),
            (9, 1),
            "{}",
            a.body
        );
        assert_eq!(
            store.stack_count(cart, StackState::Uncertain).unwrap(),
            0,
            "{}: {}",
            a.body,
            records(&store)
        );
        assert_eq!(store.stack_count(cart, StackState::Waiting).unwrap(), 0);
    }
    for a in medusa_broken(false) {
        let (_dir, store, cart, m) = medusa_store(a, false);
        platform::adjust(&store, SKU, -1);
        drain(&store);
        assert_eq!(
            (m.stocked(ITEM), m.asked(Asked::Write)),
            (9, 2),
            "{}",
            a.body
        );
        assert_eq!(store.stack_count(cart, StackState::Waiting).unwrap(), 0);
        assert_eq!(
            store.stack_count(cart, StackState::Uncertain).unwrap(),
            0,
            "{}: {}",
            a.body,
            records(&store)
        );
    }
    for applied in [true, false] {
        let a = medusa_broken(applied)[0];
        let (_dir, store, cart, m) = medusa_store(a, true);
        platform::adjust(&store, SKU, -1);
        drain(&store);
        assert_eq!(m.asked(Asked::Write), 1, "never sent again");
        assert_eq!(m.stocked(ITEM), if applied { 9 } else { 10 });
        assert_eq!(
            store.stack_count(cart, StackState::Uncertain).unwrap(),
            1,
            "{}",
            records(&store)
        );
    }
}

// ---- WooCommerce, on a raw loopback server: how the answer ended, and its shape ----

/// Serves one connection each with the next of `answers` (whole HTTP responses, sent as
/// they are, the connection closed after each): a 200 may come without a `Content-Length`,
/// its end only the connection closing, as a cut one does.
fn raw(answers: Vec<String>) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for (stream, answer) in listener.incoming().zip(answers) {
            let Ok(stream) = stream else { continue };
            let mut reader = BufReader::new(stream);
            let _ = platform::read_request(&mut reader);
            let mut stream = reader.into_inner();
            let _ = stream.write_all(answer.as_bytes());
            let _ = stream.flush();
        }
    });
    url
}

fn framed(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn unframed(body: &str) -> String {
    format!("HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nconnection: close\r\n\r\n{body}")
}

fn mug(count: i64) -> String {
    framed(
        &json!([{"id": 5, "sku": "MUG", "type": "simple", "manage_stock": true,
                 "stock_quantity": count}])
        .to_string(),
    )
}

/// Send QOH's count 7 for MUG (at 10) answered `write`, then read back at `after`.
fn woo_set(write: String, after: i64) -> inventory_sync::adapter::SendOutcome {
    use inventory_sync::adapter::woocommerce::WooCommerceAdapter;
    use inventory_sync::adapter::{CartAdapter, QuantitySet};
    use inventory_sync::secret::Secret;
    let url = raw(vec![mug(10), write, mug(after)]);
    let adapter = WooCommerceAdapter::new(
        &url,
        "ck_x",
        Secret::new("cs_x"),
        std::time::Duration::from_secs(5),
    )
    .unwrap();
    let out = adapter
        .set_quantities(&[QuantitySet {
            key: "k1".into(),
            sku: "MUG".into(),
            remote_ref: Some("5".into()),
            qoh: 7,
            expected: None,
        }])
        .unwrap();
    assert_eq!(out.len(), 1);
    out.into_iter().next().unwrap()
}

/// JSON of another shape (a plugin rewriting the answer), or a PHP notice alone, in a whole
/// 200: PHP was done, so the count read back settles it, "not applied" included. The same
/// notice in a 200 whose end was only the connection closing may be an answer cut while PHP
/// was still saving: only the count written standing settles it; else it stays uncertain,
/// never sent again.
#[test]
fn woocommerce_a_200_of_another_shape_is_settled_and_one_without_a_framed_end_only_if_applied() {
    use inventory_sync::adapter::SendOutcome;
    for body in [
        r#"{"ok":true}"#,
        "[]",
        "<b>Notice</b>: headers already sent",
    ] {
        assert_eq!(
            woo_set(framed(body), 7),
            SendOutcome::Applied { qoh: Some(7) },
            "{body}"
        );
        let not = woo_set(framed(body), 10);
        assert!(matches!(not, SendOutcome::Retry { .. }), "{body}: {not:?}");
    }
    let notice = "<b>Notice</b>: headers already sent";
    assert_eq!(
        woo_set(unframed(notice), 7),
        SendOutcome::Applied { qoh: Some(7) }
    );
    let not = woo_set(unframed(notice), 10);
    assert!(matches!(not, SendOutcome::Uncertain { .. }), "{not:?}");
    // A whole page that is not WordPress's (HTML: a proxy's own, sent 200 where it gave up
    // waiting) may come while PHP saves on: the same.
    let page = "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\ncontent-length: 6\r\nconnection: close\r\n\r\n<html>";
    assert_eq!(
        woo_set(page.to_owned(), 7),
        SendOutcome::Applied { qoh: Some(7) }
    );
    let not = woo_set(page.to_owned(), 10);
    assert!(matches!(not, SendOutcome::Uncertain { .. }), "{not:?}");
    // Another count (a sale between the write and the read): in doubt, as after a 500.
    let other = woo_set(framed(r#"{"ok":true}"#), 6);
    assert!(matches!(other, SendOutcome::Uncertain { .. }), "{other:?}");
}

/// A 200 sent as HTML is not Medusa's answer (it sends JSON) but may be a proxy's own page,
/// sent where it gave up waiting while the workflow runs on: it settles the sale only where
/// the count written stands, and one still showing the count from before stays uncertain,
/// never sent again.
#[test]
fn medusa_a_200_page_not_its_own_is_settled_only_where_the_count_written_stands() {
    for applied in [true, false] {
        let a = Answer {
            applied,
            status: 200,
            body: "<html>Gateway busy</html>",
            cut: false,
            page: true,
        };
        let (_dir, store, cart, m) = medusa_store(a, false);
        platform::adjust(&store, SKU, -1);
        drain(&store);
        assert_eq!(m.asked(Asked::Write), 1, "never sent again");
        assert_eq!(m.stocked(ITEM), if applied { 9 } else { 10 });
        assert_eq!(
            store.stack_count(cart, StackState::Uncertain).unwrap(),
            if applied { 0 } else { 1 },
            "{}",
            records(&store)
        );
        assert_eq!(store.stack_count(cart, StackState::Waiting).unwrap(), 0);
    }
}
