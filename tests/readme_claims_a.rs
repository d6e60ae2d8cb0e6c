//! README "Concepts" (from "Store" to "The stack controller"): the sentences an integrator
//! writes a host from that no other test asserted. Each test quotes the sentence it checks.
#![cfg(feature = "emulator")]

mod common;
mod platform;

use common::*;
use inventory_sync::emulator::{Emulator, Fault, Mode};
use inventory_sync::{ErrorKind, Reason, StackState, Store};
use serde_json::{json, Value};

/// An `http_json` cart named `name` on `url`, with `extra` keys merged in.
fn http_cart(name: &str, url: &str, extra: Value) -> Value {
    let mut spec = json!({
        "name": name, "adapter": "http_json", "url": url,
        "capabilities": {"send": true, "get": true, "realtime": "attribute"},
    });
    for (k, v) in extra.as_object().unwrap() {
        spec[k] = v.clone();
    }
    spec
}

/// The cart's listing, as `carts_json` gives it.
fn listed(store: &Store, name: &str) -> Value {
    let all: Vec<Value> = serde_json::from_str(&store.carts_json().unwrap()).unwrap();
    all.into_iter()
        .find(|c| c["name"] == name)
        .unwrap_or_else(|| panic!("cart {name:?} is not listed"))
}

/// Saves `spec`, which must be refused as an invalid argument naming `needle`, and leaves
/// the carts as they were.
#[track_caller]
fn refused_cart(store: &Store, spec: &Value, needle: &str) {
    let before = store.carts_json().unwrap();
    let err = store.upsert_cart_json(&spec.to_string()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{spec}: {err}");
    assert!(err.message().contains(needle), "{spec}: {err}");
    assert_eq!(
        store.carts_json().unwrap(),
        before,
        "{spec} changed the carts"
    );
}

/// README: "`max_items_to_send` (default 50)" and "Every built-in adapter also takes
/// `timeout_ms` (100 to 600000, default 30000); `max_items_to_send` is 1 to 10000, a name at
/// most 200 bytes." (and `read_lag_ms` "(0 to 3,600,000)"). Each bound is taken and the
/// number past it refused, naming the setting.
#[test]
fn a_carts_numbers_and_name_are_taken_up_to_their_documented_bounds() {
    let f = store();
    let e = Emulator::start().unwrap();
    let s = &f.store;
    let url = e.url();
    let id = s
        .upsert_cart_json(&http_cart("Web", &url, json!({})).to_string())
        .unwrap();
    assert_eq!(s.cart(id).unwrap().max_items_to_send, 50, "the default");
    for (key, ok, bad) in [
        ("max_items_to_send", [1, 10_000], [0, 10_001]),
        ("timeout_ms", [100, 600_000], [99, 600_001]),
        ("read_lag_ms", [0, 3_600_000], [-1, 3_600_001]),
    ] {
        for n in ok {
            let saved = s
                .upsert_cart_json(&http_cart("Web", &url, json!({ key: n })).to_string())
                .unwrap_or_else(|e| panic!("{key} {n}: {e}"));
            let info = s.cart(saved).unwrap().info();
            let kept = info.get(key).unwrap_or(&info["settings"][key]);
            assert_eq!(kept, &json!(n), "{key} {n}: {info}");
        }
        for n in bad {
            refused_cart(s, &http_cart("Web", &url, json!({ key: n })), key);
        }
    }
    // 200 bytes, whether 200 ASCII letters or 100 two-byte letters; measured as kept, without
    // the spaces around it that a paste brings (refused as longer until 2026-12-05).
    for name in [
        "n".repeat(200),
        "é".repeat(100),
        format!(" {} ", "m".repeat(200)),
    ] {
        let other = format!("{url}{}/", name.len() + name.chars().count());
        let id = s
            .upsert_cart_json(&http_cart(&name, &other, json!({})).to_string())
            .unwrap_or_else(|e| panic!("a name of 200 bytes: {e}"));
        assert_eq!(s.cart(id).unwrap().name, name.trim());
    }
    for name in ["n".repeat(201), "é".repeat(101)] {
        refused_cart(
            s,
            &http_cart(&name, &format!("{url}x/"), json!({})),
            "200 bytes",
        );
    }
}

/// README: "Whole numbers in the JSON may be written as doubles (`25.0`, `-0`), as .NET and
/// JavaScript hosts write them; a fraction or text is refused." (A cart's numbers: the item's
/// are asserted in `bad_input.rs`.)
#[test]
fn a_carts_number_given_as_a_fraction_or_as_text_is_refused() {
    let f = store();
    let e = Emulator::start().unwrap();
    let s = &f.store;
    let url = e.url();
    let id = s
        .upsert_cart_json(&http_cart("Web", &url, json!({"read_lag_ms": -0.0})).to_string())
        .unwrap();
    assert_eq!(s.cart(id).unwrap().info()["settings"]["read_lag_ms"], 0);
    for key in ["max_items_to_send", "timeout_ms", "read_lag_ms"] {
        refused_cart(s, &http_cart("Web", &url, json!({ key: 250.5 })), key);
        refused_cart(s, &http_cart("Web", &url, json!({ key: "250" })), key);
    }
}

/// README: "An update replaces every setting: a key left out goes back to its default, and
/// `realtime` left out of `capabilities` is `none`, which switches the cart's real-time sync
/// off". After such an update a sale queues nothing for the cart.
#[test]
fn a_cart_update_leaving_keys_out_puts_them_back_to_their_defaults() {
    let f = store();
    let e = Emulator::start().unwrap();
    let s = &f.store;
    let first = http_cart(
        "Web",
        &e.url(),
        json!({"max_items_to_send": 7, "retains_basket": true, "timeout_ms": 9000}),
    );
    let id = s.upsert_cart_json(&first.to_string()).unwrap();
    s.set_cart_sync(id, true).unwrap();
    let cart = s.cart(id).unwrap();
    assert_eq!(
        (cart.max_items_to_send, cart.retains_basket, cart.sync_on),
        (7, true, true)
    );
    let update = json!({
        "name": "Web", "adapter": "http_json", "url": e.url(),
        "capabilities": {"send": true, "get": true},
    });
    assert_eq!(s.upsert_cart_json(&update.to_string()).unwrap(), id);
    let cart = s.cart(id).unwrap();
    assert_eq!(
        (cart.max_items_to_send, cart.retains_basket, cart.sync_on),
        (50, false, false),
        "every key left out is back to its default"
    );
    assert_eq!(
        cart.capabilities.realtime, None,
        "realtime left out is none"
    );
    let info = listed(s, "Web");
    assert_eq!(info["capabilities"]["realtime"], "none", "{info}");
    assert!(info["settings"].get("timeout_ms").is_none(), "{info}");
    item(s, "X", 10);
    adjust(s, "X", -1, Reason::PosSale);
    assert_eq!(
        s.stack_count(0, StackState::Waiting).unwrap(),
        0,
        "a sale queues nothing for a cart whose real-time sync is off"
    );
}

/// README: "`capabilities` left out altogether is, for a built-in platform adapter (Shopify,
/// WooCommerce, BigCommerce, Medusa), send, get and real-time at `attribute` (what the
/// platforms can do), and is required for `http_json` and a host's adapter."
#[test]
fn capabilities_left_out_are_the_platforms_own_or_refused() {
    let f = store();
    let s = &f.store;
    let platforms = [
        json!({"name": "S", "adapter": "shopify", "url": "https://s.example/",
               "token": "shpat_1", "location_id": "1"}),
        json!({"name": "W", "adapter": "woocommerce", "url": "https://w.example/",
               "consumer_key": "ck_1", "consumer_secret": "cs_1"}),
        json!({"name": "B", "adapter": "bigcommerce", "url": "https://b.example/",
               "token": "bc_1"}),
        json!({"name": "M", "adapter": "medusa", "url": "https://m.example/",
               "api_key": "sk_1", "location_id": "sloc_1"}),
    ];
    for spec in &platforms {
        let id = s
            .upsert_cart_json(&spec.to_string())
            .unwrap_or_else(|e| panic!("{spec}: {e}"));
        let info = s.cart(id).unwrap().info();
        assert_eq!(
            info["capabilities"],
            json!({"send": true, "get": true, "realtime": "attribute"}),
            "{spec}"
        );
    }
    refused_cart(
        s,
        &json!({"name": "H", "adapter": "http_json", "url": "https://h.example/"}),
        "capabilities",
    );
    s.register_adapter("erp", |_| panic!("not built by an upsert"));
    let before = s.carts_json().unwrap();
    let err = s
        .upsert_cart_json(r#"{"name":"E","adapter":"erp","url":"https://e.example/"}"#)
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::InvalidArgument, "{err}");
    assert!(err.message().contains("capabilities"), "{err}");
    assert_eq!(s.carts_json().unwrap(), before);
}

/// README: "A new cart starts with *Synchronize Inventory* off (`set_cart_sync`)." A sale
/// made before the box is ticked queues nothing for it; one made after does.
#[test]
fn a_new_cart_starts_with_synchronize_inventory_off() {
    let f = store();
    let e = Emulator::start().unwrap();
    let s = &f.store;
    let id = s
        .upsert_cart_json(&http_cart("Web", &e.url(), json!({})).to_string())
        .unwrap();
    assert!(!s.cart(id).unwrap().sync_on);
    assert_eq!(listed(s, "Web")["sync"], false);
    item(s, "X", 10);
    adjust(s, "X", -1, Reason::PosSale);
    assert!(
        records(s, id).is_empty(),
        "queued before the box was ticked"
    );
    s.set_cart_sync(id, true).unwrap();
    adjust(s, "X", -2, Reason::PosSale);
    assert_eq!(records(s, id), [("X".to_owned(), -2)]);
}

/// README: "Secrets may be given as `env:NAME` and never come back out of a listing [...]:
/// the built-in adapters' `token`, `consumer_secret`, `api_key` and `password`, and a custom
/// adapter's `key` or any key of its ending in `_key`, `-key`, `secret`, `token`, `password`,
/// `passwd`, `passphrase` or `apikey` (`-` and `_` aside), in any case (but `consumer_key`, of
/// any adapter, a host's own too: WooCommerce's is the user half of its credentials); a
/// listing says `<key>_set` instead".
#[test]
fn a_listing_says_key_set_for_every_kind_of_secret_and_shows_the_rest() {
    let f = store();
    let s = &f.store;
    s.register_adapter("erp", |_| panic!("not built by an upsert"));
    let secrets = [
        "client_secret",
        "access_token",
        "Private_Key",
        "x-api-key",
        "ApiKey",
        "api_key",
        "db_passwd",
        "Signing-Secret",
        "PASSWORD",
        "gpg_pass_phrase",
        "KEY",
    ];
    let mut spec = json!({"name": "ERP", "adapter": "erp", "url": "https://erp.example/",
                          "username": "shop", "monkey": "banana", "keys": "shown",
                          "consumer_key": "ck_user",
                          "capabilities": {"send": true, "get": true, "realtime": "none"}});
    for (i, k) in secrets.iter().enumerate() {
        spec[*k] = json!(format!("HIDDEN{i}VALUE"));
    }
    s.upsert_cart_json(&spec.to_string()).unwrap();
    let woo = json!({"name": "Woo", "adapter": "woocommerce", "url": "https://w.example/",
                     "consumer_key": "ck_user2", "consumer_secret": "HIDDENWOO"});
    s.upsert_cart_json(&woo.to_string()).unwrap();
    let all = s.carts_json().unwrap();
    assert!(!all.contains("HIDDEN"), "a secret came back out: {all}");
    let erp = &listed(s, "ERP")["settings"];
    for k in secrets {
        assert_eq!(erp[format!("{k}_set")], true, "{k}: {erp}");
        assert!(erp.get(k).is_none(), "{k}: {erp}");
    }
    for (k, v) in [
        ("username", "shop"),
        ("monkey", "banana"),
        ("keys", "shown"),
        ("consumer_key", "ck_user"),
    ] {
        assert_eq!(erp[k], v, "{k} is no secret: {erp}");
    }
    let woo = &listed(s, "Woo")["settings"];
    assert_eq!(
        (&woo["consumer_key"], &woo["consumer_secret_set"]),
        (&json!("ck_user2"), &json!(true)),
        "{woo}"
    );
}

/// README: "`upsert_item_json` creates an item with its initial QOH — that is initialisation
/// and queues nothing" and "Every change writes a ledger row (who, why, origin cart, host
/// reference): `ledger_json`, newest first, of one SKU [...] or all."
#[test]
fn an_opening_count_queues_nothing_and_each_change_is_in_the_ledger_with_who_and_why() {
    let f = store();
    let e = Emulator::start().unwrap();
    let s = &f.store;
    s.set_param("Workstation", "TILL-1").unwrap();
    let web = cart(s, &e, "Web", "attribute");
    let other = cart(s, &Emulator::start().unwrap(), "Other", "attribute");
    item(s, "X", 10);
    item(s, "Y", 4);
    assert_eq!(s.item_qoh("X").unwrap(), 10);
    assert!(
        records(s, web).is_empty() && records(s, other).is_empty(),
        "an opening count is no change to send"
    );
    s.adjust_qoh(
        &inventory_sync::Adjustment::new(
            "X",
            inventory_sync::Delta::new(-2).unwrap(),
            Reason::OrderImport,
        )
        .origin_cart(web)
        .host_ref("ORD-1001/1"),
    )
    .unwrap();
    adjust(s, "Y", 3, Reason::Receiving);
    adjust(s, "X", 5, Reason::Receiving);
    let ledger = |filter: Option<&str>| -> Vec<Value> {
        serde_json::from_str(&s.ledger_json(filter).unwrap()).unwrap()
    };
    let x = ledger(Some(r#"{"sku":"X"}"#));
    let deltas: Vec<_> = x.iter().map(|r| r["delta"].as_i64().unwrap()).collect();
    assert_eq!(deltas, [5, -2], "X's changes, newest first: {x:?}");
    let order = &x[1];
    assert_eq!(
        (
            &order["workstation"],
            &order["reason_name"],
            &order["origin_cart_id"],
            &order["host_ref"],
            &order["qoh_after"],
        ),
        (
            &json!("TILL-1"),
            &json!(Reason::OrderImport.name()),
            &json!(web),
            &json!("ORD-1001/1"),
            &json!(8),
        ),
        "{order}"
    );
    let all: Vec<_> = ledger(None)
        .iter()
        .map(|r| {
            (
                r["sku"].as_str().unwrap().to_owned(),
                r["delta"].as_i64().unwrap(),
            )
        })
        .collect();
    let changes = [("X", 5), ("Y", 3), ("X", -2)].map(|(k, d)| (k.to_owned(), d));
    assert_eq!(
        all.iter()
            .filter(|r| changes.contains(r))
            .cloned()
            .collect::<Vec<_>>(),
        changes,
        "every SKU's changes, newest first: {all:?}"
    );
}

/// README: "A host may open a transaction (`begin`/`commit`/`rollback`): [...] the stack
/// controller (on its own connection) sees nothing until commit." Another handle (the
/// controller's view) finds no record of a sale made inside it; a rolled-back sale never
/// reaches the cart, a committed one does.
#[test]
fn the_controller_sees_nothing_of_a_host_transaction_until_it_commits() {
    let f = store();
    let e = Emulator::start().unwrap();
    let s = &f.store;
    let web = cart(s, &e, "Web", "attribute");
    item(s, "X", 10);
    e.set_qoh("X", 10);
    let controller = f.reopen();
    s.begin().unwrap();
    adjust(s, "X", -1, Reason::PosSale);
    assert_eq!(records(s, web).len(), 1, "the host sees its own sale");
    assert!(records(&controller, web).is_empty(), "seen before commit");
    s.rollback().unwrap();
    drain(&controller);
    assert_eq!(e.qoh("X"), Some(10), "a rolled-back sale reached the cart");
    s.begin().unwrap();
    adjust(s, "X", -3, Reason::PosSale);
    assert!(records(&controller, web).is_empty(), "seen before commit");
    s.commit().unwrap();
    assert_eq!(records(&controller, web), [("X".to_owned(), -3)]);
    drain(&controller);
    assert_eq!(e.qoh("X"), Some(7));
}

/// README: "401/403 pause the cart [...] (refused on a later request of a call, after an
/// earlier one was applied, they count no attempt either: the cart waits a minute, its other
/// changes too, and its next request then meets the refusal and pauses it)". Shopify sends one
/// change more than a request carries in two requests; the second is answered 401.
#[test]
fn credentials_refused_on_a_later_request_count_no_attempt_and_wait_a_minute() {
    let f = platform::fixture(Mode::Shopify);
    let s = &f.store;
    let cart = f.cart(500);
    let per_request = inventory_sync::adapter::shopify::MAX_MUTATIONS_PER_REQUEST;
    let skus: Vec<String> = (0..=per_request).map(|i| format!("T{i:03}")).collect();
    for sku in &skus {
        f.item(sku, 10);
        f.emu.set_qoh(sku, 10);
    }
    s.set_cart_sync(cart, true).unwrap();
    f.emu.set_shopify_budget(100_000.0, 10_000.0);
    for sku in &skus {
        platform::adjust(s, sku, -1);
    }
    assert_eq!(s.run_stack(None).unwrap().sent, skus.len(), "ids learnt");
    for sku in &skus {
        platform::adjust(s, sku, -1);
    }
    f.emu.inject(Fault::Delay { ms: 0, count: 1 });
    f.emu.inject(Fault::Status {
        status: 401,
        count: 1,
        retry_after: None,
    });
    let before = now_ms();
    let report = s.run_stack(None).unwrap();
    let after = now_ms();
    assert_eq!(report.sent, per_request, "{report}");
    let waiting = f.records(cart);
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    let rec = &waiting[0];
    assert_eq!(
        (&rec["state"], &rec["attempts"]),
        (&json!("pending"), &json!(0)),
        "{rec}"
    );
    let next = rec["next_attempt_at"].as_i64().unwrap();
    assert!(
        (before + 60_000..=after + 60_000).contains(&next),
        "due a minute after the pass, not at {}: {rec}",
        next - before
    );
    assert_eq!(f.emu.qoh(&skus[per_request]), Some(9), "not sent");
    // The whole cart waits that minute (a sale made meanwhile too), as for a rate limit.
    platform::adjust(s, &skus[0], -1);
    let asked = f.emu.requests();
    let report = s.run_stack(None).unwrap();
    assert_eq!((f.emu.requests(), report.sent), (asked, 0), "{report}");
    // The minute passes (moved back in the file: nothing sleeps). The cart's next request
    // meets the refusal, which pauses it, counting no attempt.
    rusqlite::Connection::open(f.dir.path().join("store.db"))
        .unwrap()
        .execute_batch(
            "UPDATE carts SET backoff_until = 0, rate_limited_until = 0;
             UPDATE send_groups SET next_attempt_at = 0;",
        )
        .unwrap();
    f.emu.inject(Fault::Status {
        status: 401,
        count: 1,
        retry_after: None,
    });
    let report = s.run_stack(None).unwrap();
    assert!(f.emu.requests() > asked, "the cart was asked: {report}");
    let error = report.carts[0].error.as_deref().unwrap_or_default();
    assert!(error.contains("paused"), "{report}");
    assert!(
        f.records(cart).iter().all(|r| r["attempts"] == 0),
        "{:?}",
        f.records(cart)
    );
}

/// README: "The status's `last_error_kind` (from 2026-12-05) tells a status bar a pass that
/// met the store busy (`busy`: [...]) from one the owner must see (`database`)." The busy
/// kind is asserted in `controller.rs`; here a pass whose write the file itself refuses (an
/// owner's trigger standing in for a store failure).
#[test]
fn a_pass_the_store_file_failed_is_told_as_a_database_error() {
    let f = store();
    let e = Emulator::start().unwrap();
    let s = &f.store;
    cart(s, &e, "Web", "attribute");
    item(s, "K", 10);
    e.set_qoh("K", 10);
    adjust(s, "K", -1, Reason::PosSale);
    let file = rusqlite::Connection::open(f.dir.path().join("store.db")).unwrap();
    file.execute_batch(
        "CREATE TRIGGER no_beat_in BEFORE INSERT ON heartbeats
             BEGIN SELECT RAISE(ABORT, 'the disk refused the write'); END;
         CREATE TRIGGER no_beat_up BEFORE UPDATE ON heartbeats
             BEGIN SELECT RAISE(ABORT, 'the disk refused the write'); END;",
    )
    .unwrap();
    s.start_controller(std::time::Duration::from_millis(5))
        .unwrap();
    wait_for("a failed pass", || {
        s.controller_status().last_error.is_some()
    });
    let status = s.controller_status();
    assert_eq!(
        status.last_error_kind,
        Some(ErrorKind::Database),
        "{status:?}"
    );
    let json = serde_json::to_value(&status).unwrap();
    assert_eq!(json["last_error_kind"], "database", "{json}");
    file.execute_batch("DROP TRIGGER no_beat_in; DROP TRIGGER no_beat_up;")
        .unwrap();
    wait_for("the sale sent", || e.qoh("K") == Some(9));
    wait_for("the error cleared", || {
        s.controller_status().last_error_kind.is_none()
    });
    s.stop_controller();
}
