//! The `shopify` adapter against the emulator's Shopify mode, over real HTTP on 127.0.0.1.
#![cfg(feature = "emulator")]

mod platform;

use inventory_sync::adapter::shopify::ShopifyAdapter;
use inventory_sync::adapter::{
    CartAdapter, CartError, DeltaSend, QuantitySet, SendOutcome, UpdateMode,
};
use inventory_sync::emulator::{Emulator, Fault, Mode};
use inventory_sync::secret::Secret;
use inventory_sync::{SendOptions, StackState};
use platform::scripted::Scripted;
use platform::*;
use serde_json::json;
use std::time::Duration;

/// A store whose real-time Shopify cart at `url` (scripted) links TEE (QOH 5) to inventory
/// item 77, with one sale of TEE waiting for it.
fn one_sale_to_item_77(
    url: &str,
) -> (
    tempfile::TempDir,
    inventory_sync::Store,
    inventory_sync::CartId,
) {
    let (dir, store, cart) = scripted_store(
        json!({"name":"Shop","adapter":"shopify","url":url,
               "token":"shpat_x","location_id":"1","max_items_to_send":50}),
        "TEE",
        5,
    );
    store
        .set_web_fields(
            cart,
            "TEE",
            r#"{"remote_ref":"gid://shopify/InventoryItem/77"}"#,
        )
        .unwrap();
    store.set_cart_sync(cart, true).unwrap();
    adjust(&store, "TEE", -1);
    (dir, store, cart)
}

/// `body` posted to the emulator's GraphQL endpoint at API `version`, as a client of
/// Shopify's would: its answer.
fn graphql(emu: &Emulator, version: &str, body: &serde_json::Value) -> serde_json::Value {
    reqwest::blocking::Client::new()
        .post(format!("{}admin/api/{version}/graphql.json", emu.url()))
        .header("X-Shopify-Access-Token", SECRET)
        .json(body)
        .send()
        .unwrap()
        .json()
        .unwrap()
}

fn adapter(emu: &Emulator) -> ShopifyAdapter {
    ShopifyAdapter::new(
        &emu.url(),
        Secret::new(SECRET),
        "1",
        None,
        Duration::from_secs(10),
    )
    .unwrap()
}

#[test]
fn send_250_in_batches_of_the_carts_max() {
    let f = send_250(Mode::Shopify, 100);
    // One inventorySetQuantities per batch: 100, 100, 50.
    assert_eq!(f.emu.set_requests(), 3);
    assert_eq!(f.emu.max_batch_seen(), 100);
}

#[test]
fn send_250_in_one_batch_when_the_cart_allows() {
    let f = send_250(Mode::Shopify, 500);
    assert_eq!(f.emu.set_requests(), 1);
    assert_eq!(f.emu.max_batch_seen(), 250);
}

#[test]
fn get_qoh_pages_through_variants() {
    let f = get_pages(Mode::Shopify, 260);
    assert_eq!(f.emu.get_requests(), 2, "250 + 10");
}

#[test]
fn delta_applied_once_when_the_answer_is_lost() {
    let (f, cart) = tee_linked(10);
    adjust(&f.store, "TEE", -3);
    past_the_level_check(&f.emu);
    f.emu.inject(Fault::ApplyThenDrop { count: 1 });
    let first = f.store.run_stack(None).unwrap();
    assert_eq!(first.sent, 0);
    assert_eq!(f.emu.qoh("TEE"), Some(7), "applied, answer lost");
    f.drain();
    assert_eq!(
        f.emu.qoh("TEE"),
        Some(7),
        "the re-send with the same key applied nothing"
    );
    assert_eq!(f.emu.adjust_requests(), 2);
    assert!(f.records(cart).is_empty());
}

#[test]
fn throttled_send_waits_and_loses_nothing() {
    let f = fixture(Mode::Shopify);
    // A drained bucket holds the send's first request (a page of 50 variants, 52 points)
    // again only after ~100 ms, so that request meets it empty: at 20,000 points/s it refilled
    // in 3 ms, and on a busy machine nothing was throttled. The waits cost ~2.5 s in all.
    f.emu.set_shopify_budget(2000.0, 500.0);
    for i in 1..=250 {
        let sku = format!("SKU-{i:03}");
        f.emu.set_qoh(&sku, 0);
        f.item(&sku, i);
    }
    let cart = f.cart(50);
    f.emu.drain_shopify_budget();
    let report = f.send(cart);
    assert_eq!(report.sent, 250, "{report:?}");
    assert!(f.emu.throttled_requests() >= 1);
    for i in 1..=250 {
        assert_eq!(f.emu.qoh(&format!("SKU-{i:03}")), Some(i));
    }
}

#[test]
fn throttled_deltas_wait_without_an_attempt() {
    let f = fixture(Mode::Shopify);
    f.emu.set_qoh("TEE", 10);
    f.item("TEE", 10);
    let cart = f.cart(50);
    f.store.set_cart_sync(cart, true).unwrap();
    adjust(&f.store, "TEE", 2);
    f.emu.drain_shopify_budget();
    let run = f.store.run_stack(None).unwrap();
    assert_eq!(run.sent, 0);
    let recs = f.records(cart);
    assert_eq!(recs[0]["attempts"], 0, "a throttle is no attempt: {recs:?}");
    assert!(recs[0]["last_response"]
        .as_str()
        .unwrap()
        .contains("THROTTLED"));
    assert_eq!(f.count(cart, StackState::Waiting), 1);
}

#[test]
fn unknown_sku_is_a_clear_failure() {
    unknown_sku(Mode::Shopify);
}

#[test]
fn secrets_never_leak() {
    secrets_stay_secret(Mode::Shopify);
    let emu = Emulator::start_mode(Mode::Shopify).unwrap();
    let d = format!("{:?}", adapter(&emu));
    assert!(!d.contains(SECRET) && d.contains("***"), "{d}");
}

#[test]
fn compare_quantity_conflict_reports_the_current_count() {
    let emu = Emulator::start_mode(Mode::Shopify).unwrap();
    emu.set_token(Some(SECRET));
    emu.set_qoh("A", 5);
    emu.set_qoh("B", 1);
    let a = adapter(&emu);
    assert_eq!(a.update_mode(), UpdateMode::RelativeKeyed);
    let set = |sku: &str, qoh, expected| QuantitySet {
        key: format!("k-{sku}"),
        sku: sku.into(),
        remote_ref: None,
        qoh,
        expected,
    };
    let out = a
        .set_quantities(&[
            set("A", 9, Some(4)),
            set("B", 3, Some(1)),
            set("NOPE", 1, None),
        ])
        .unwrap();
    assert_eq!(out[0], SendOutcome::Conflict { current: 5 });
    assert_eq!(out[1], SendOutcome::Applied { qoh: Some(3) });
    assert!(matches!(&out[2], SendOutcome::Failed { message } if message.contains("NOPE")));
    assert_eq!(emu.qoh("A"), Some(5));
    assert_eq!(emu.qoh("B"), Some(3));
    // Negative or absurd counts never leave the adapter.
    let out = a
        .set_quantities(&[set("B", -1, None), set("B", 2_000_000_000, None)])
        .unwrap();
    assert!(out.iter().all(|o| matches!(o, SendOutcome::Failed { .. })));
    assert_eq!(emu.qoh("B"), Some(3));
}

/// From 2026-04 Shopify refuses an `inventoryAdjustQuantities` change without
/// `changeFromQuantity` (shopify.dev changelog "Making changeFromQuantity field required"): the
/// emulator does too, so every delta test above fails if the adapter stops sending it.
#[test]
fn adjust_without_change_from_quantity_is_refused_from_2026_04() {
    let emu = Emulator::start_mode(Mode::Shopify).unwrap();
    emu.set_token(Some(SECRET));
    emu.set_qoh("A", 5);
    let gid = format!(
        "gid://shopify/InventoryItem/{}",
        emu.platform_id("A").unwrap()
    );
    let post = |key: &str, change: serde_json::Value| -> serde_json::Value {
        let query = format!(
            "mutation M($c0: InventoryAdjustQuantitiesInput!) {{ c0: inventoryAdjustQuantities(input: $c0) @idempotent(key: \"{key}\") {{ inventoryAdjustmentGroup {{ changes {{ name delta quantityAfterChange }} }} userErrors {{ field message code }} }} }}"
        );
        let body = serde_json::json!({"query": query, "variables": {"c0": {
            "reason": "correction", "name": "available", "changes": [change]}}});
        graphql(&emu, "2026-04", &body)
    };
    let change = |extra: Option<serde_json::Value>| {
        let mut c = serde_json::json!({"delta": -1, "inventoryItemId": gid,
                                       "locationId": "gid://shopify/Location/1"});
        if let Some(v) = extra {
            c["changeFromQuantity"] = v;
        }
        c
    };
    let code = |answer: &serde_json::Value| answer["data"]["c0"]["userErrors"][0]["code"].clone();
    assert_eq!(
        code(&post("k1", change(None))),
        "INVALID_CHANGE_FROM_QUANTITY"
    );
    assert_eq!(
        code(&post("k2", change(Some(serde_json::json!(4))))),
        "CHANGE_FROM_QUANTITY_STALE"
    );
    assert_eq!(emu.qoh("A"), Some(5), "refused changes change nothing");
    let applied = post("k3", change(Some(serde_json::Value::Null)));
    assert_eq!(applied["data"]["c0"]["userErrors"], serde_json::json!([]));
    assert_eq!(emu.qoh("A"), Some(4));
    post("k4", change(Some(serde_json::json!(4))));
    assert_eq!(emu.qoh("A"), Some(3), "a matching compare applies");
}

/// Rule 10 on a later request of a send: the first request of a batch is applied, the
/// second is rate limited; its changes wait as told without an attempt counted (counting
/// them bypassed records under steady throttling).
#[test]
fn a_rate_limited_later_request_of_a_send_counts_no_attempt() {
    let f = fixture(Mode::Shopify);
    let cart = f.cart(500);
    let per_request = inventory_sync::adapter::shopify::MAX_MUTATIONS_PER_REQUEST;
    let skus: Vec<String> = (0..=per_request).map(|i| format!("T{i:03}")).collect();
    for s in &skus {
        f.item(s, 10);
        f.emu.set_qoh(s, 10);
    }
    f.store.set_cart_sync(cart, true).unwrap();
    for s in &skus {
        adjust(&f.store, s, -1);
    }
    f.emu.set_shopify_budget(100_000.0, 10_000.0);
    assert_eq!(
        f.store.run_stack(None).unwrap().sent,
        skus.len(),
        "ids learnt"
    );
    for s in &skus {
        adjust(&f.store, s, -1);
    }
    // One change more than a request carries goes in two requests: the first passes, the
    // second is refused.
    f.emu.inject(Fault::Delay { ms: 0, count: 1 });
    f.emu.inject(Fault::Status {
        status: 429,
        count: 1,
        retry_after: Some(60),
    });
    let report = f.store.run_stack(None).unwrap();
    assert_eq!(report.sent, per_request, "{report}");
    let waiting = f.records(cart);
    assert_eq!(waiting.len(), 1, "{waiting:?}");
    assert_eq!(waiting[0]["attempts"], 0, "{waiting:?}");
    assert!(
        waiting[0]["last_response"]
            .as_str()
            .unwrap()
            .contains("rate limited"),
        "{waiting:?}"
    );
}

/// Rule 7 on Shopify's split sets (at most 250 a request): the second request's answer is
/// lost; it goes again, and the records its counts included are never sent on top.
#[test]
fn a_send_qoh_whose_second_request_is_lost_never_counts_a_record_twice() {
    let f = fixture(Mode::Shopify);
    f.emu.set_shopify_budget(1e9, 1e9);
    let cart = f.cart(300);
    let skus: Vec<String> = (0..251).map(|i| format!("S{i:03}")).collect();
    for s in &skus {
        f.item(s, 5);
        f.emu.set_qoh(s, 5);
    }
    f.emu.reset_counters();
    f.send(cart);
    assert_eq!(f.emu.set_requests(), 2, "two write requests");
    let reads = f.emu.requests() - f.emu.set_requests();
    f.store.set_cart_sync(cart, true).unwrap();
    for s in &skus {
        adjust(&f.store, s, -2);
    }
    // Past the reads and the first write, the second write is applied and its answer lost.
    f.emu.inject(Fault::Delay {
        ms: 0,
        count: reads + 1,
    });
    f.emu.inject(Fault::ApplyThenDrop { count: 1 });
    let report = f.send(cart);
    assert!(report.failures.is_empty(), "{report:?}");
    f.drain();
    for s in &skus {
        assert_eq!(f.emu.qoh(s), Some(3), "{s}: {report:?}");
    }
}

/// A count of 4 for TEE, inventory item 77, under `key`.
fn tee_set(key: &str) -> QuantitySet {
    QuantitySet {
        key: key.into(),
        sku: "TEE".into(),
        remote_ref: Some("77".into()),
        qoh: 4,
        expected: None,
    }
}

fn scripted_adapter(server: &Scripted) -> ShopifyAdapter {
    ShopifyAdapter::new(
        &server.url,
        Secret::new("shpat_x"),
        "1",
        None,
        Duration::from_secs(5),
    )
    .unwrap()
}

/// The answer to the check the adapter makes, before it writes items linked by `remote_ref`,
/// that each of the inventory items `ids` is stocked (has an active level) at the cart's
/// location: all are. An adapter asks it once a quarter hour for an item found stocked.
fn stocked(ids: &[u32]) -> &'static str {
    let nodes: Vec<String> = ids
        .iter()
        .map(|id| {
            format!(
                r#"{{"id":"gid://shopify/InventoryItem/{id}","inventoryLevel":{{"id":"gid://shopify/InventoryLevel/{id}"}}}}"#
            )
        })
        .collect();
    // (The scripted server answers for as long as the test runs.)
    Box::leak(format!(r#"{{"data":{{"nodes":[{}]}}}}"#, nodes.join(",")).into_boxed_str())
}

/// Lets the adapter's check of linked items' levels at the location (a read, the first request
/// of a call writing items it has not found stocked lately) through before a fault meant for
/// the write.
fn past_the_level_check(emu: &Emulator) {
    emu.inject(Fault::Delay { ms: 0, count: 1 });
}

fn keyed_delta(key: &str, sku: &str, item: &str) -> DeltaSend {
    DeltaSend {
        key: key.into(),
        sku: sku.into(),
        remote_ref: Some(item.into()),
        delta: -1,
    }
}

/// Shopify's `InventoryAdjustQuantitiesUserErrorCode` documents three codes that mean "not
/// done, try again": `ADJUST_QUANTITIES_FAILED`, `SERVICE_UNAVAILABLE` and
/// `IDEMPOTENCY_CONCURRENT_REQUEST`. A keyed change answered so is retried under its key,
/// never failed (a failure bypasses it: the sale would never reach the shop); any other code
/// is still a refusal.
#[test]
fn a_change_shopify_says_to_try_again_is_retried_never_refused() {
    let answer = r#"{"data":{
      "c0":{"inventoryAdjustmentGroup":null,"userErrors":[{"field":["input"],"message":"The quantities couldn't be adjusted. Try again.","code":"ADJUST_QUANTITIES_FAILED"}]},
      "c1":{"inventoryAdjustmentGroup":null,"userErrors":[{"field":["input"],"message":"Service unavailable","code":"SERVICE_UNAVAILABLE"}]},
      "c2":{"inventoryAdjustmentGroup":null,"userErrors":[{"field":["input"],"message":"This request is currently in progress, please try again.","code":"IDEMPOTENCY_CONCURRENT_REQUEST"}]},
      "c3":{"inventoryAdjustmentGroup":null,"userErrors":[{"field":["input","changes","0","inventoryItemId"],"message":"The specified inventory item could not be found.","code":"INVALID_INVENTORY_ITEM"}]}}}"#;
    let server = Scripted::start(vec![(200, stocked(&[70, 71, 72, 73])), (200, answer)]);
    let out = scripted_adapter(&server)
        .apply_deltas(&[
            keyed_delta("k0", "A", "70"),
            keyed_delta("k1", "B", "71"),
            keyed_delta("k2", "C", "72"),
            keyed_delta("k3", "D", "73"),
        ])
        .unwrap();
    server.finish();
    for (o, code) in out.iter().zip([
        "ADJUST_QUANTITIES_FAILED",
        "SERVICE_UNAVAILABLE",
        "IDEMPOTENCY_CONCURRENT_REQUEST",
    ]) {
        assert!(
            matches!(o, SendOutcome::Retry { message, after: None } if message.contains(code)),
            "{code} must be retried, naming the code: {out:?}"
        );
    }
    assert!(
        matches!(&out[3], SendOutcome::Failed { message } if message.contains("INVALID_INVENTORY_ITEM")),
        "another code stays a refusal: {out:?}"
    );
}

/// `InventorySetQuantitiesUserErrorCode`'s one try-again code, `IDEMPOTENCY_CONCURRENT_REQUEST`:
/// the count is tried again (a set is safe to repeat), while another code still fails its
/// item.
#[test]
fn a_count_shopify_says_to_try_again_is_retried_never_refused() {
    let answer = r#"{"data":{"inventorySetQuantities":{"inventoryAdjustmentGroup":null,"userErrors":[
      {"field":["input","quantities","0"],"message":"This request is currently in progress, please try again.","code":"IDEMPOTENCY_CONCURRENT_REQUEST"},
      {"field":["input","quantities","1"],"message":"The specified inventory item could not be found.","code":"INVALID_INVENTORY_ITEM"}]}}}"#;
    let server = Scripted::start(vec![(200, stocked(&[70, 71])), (200, answer)]);
    let set = |sku: &str, item: &str| QuantitySet {
        key: format!("k-{sku}"),
        sku: sku.into(),
        remote_ref: Some(item.into()),
        qoh: 4,
        expected: None,
    };
    let out = scripted_adapter(&server)
        .set_quantities(&[set("A", "70"), set("B", "71")])
        .unwrap();
    assert_eq!(
        server.finish().len(),
        2,
        "the level check and the set; both named: nothing left to send again"
    );
    assert!(
        matches!(&out[0], SendOutcome::Retry { message, after: None }
            if message.contains("IDEMPOTENCY_CONCURRENT_REQUEST")),
        "{out:?}"
    );
    assert!(
        matches!(&out[1], SendOutcome::Failed { message } if message.contains("INVALID_INVENTORY_ITEM")),
        "{out:?}"
    );
}

/// End to end: a sale answered `ADJUST_QUANTITIES_FAILED` ("Try again") is not bypassed: it
/// is sent again (back-off 0 here, so in the same pass) and lands, under the next derived
/// key: the code is the adjustment's own result under its key (one applied would be
/// answered with its success), which Shopify answers again to the same key, so under it the
/// sale got the failure at every try and was bypassed after its attempts.
#[test]
fn a_sale_shopify_could_not_adjust_goes_again_under_the_next_key() {
    let try_again = r#"{"data":{"c0":{"inventoryAdjustmentGroup":null,"userErrors":[{"field":["input"],"message":"The quantities couldn't be adjusted. Try again.","code":"ADJUST_QUANTITIES_FAILED"}]}}}"#;
    let applied = r#"{"data":{"c0":{"inventoryAdjustmentGroup":{"changes":[{"name":"available","delta":-1,"quantityAfterChange":4}]},"userErrors":[]}}}"#;
    let server = Scripted::start(vec![
        (200, stocked(&[77])),
        (200, try_again),
        (200, applied),
    ]);
    let (_dir, store, cart) = one_sale_to_item_77(&server.url);

    let run = store.run_stack(None).unwrap();
    assert_eq!((run.sent, run.retried, run.bypassed), (1, 1, 0), "{run:?}");
    let seen = server.finish();
    assert_eq!(seen.len(), 3, "the level check, the sale twice");
    assert_ne!(
        idempotency_key(&seen[1].2),
        idempotency_key(&seen[2].2),
        "the key Shopify answered with its failure is not sent again"
    );
    assert_eq!(store.stack_count(cart, StackState::Waiting).unwrap(), 0);
    assert_eq!(store.stack_count(cart, StackState::Bypassed).unwrap(), 0);
}

/// Shopify made the `@idempotent` directive mandatory in 2026-04 for `inventorySetQuantities`
/// as well as `inventoryAdjustQuantities` ("calling these mutations without an idempotency
/// directive will result in an error at runtime":
/// <https://shopify.dev/changelog/making-idempotency-mandatory-for-inventory-adjustments-and-refund-mutations>).
/// Send QOH (and drift repair) publish counts with `inventorySetQuantities`; at the adapter's
/// default version each of those requests must carry the directive, or the shop refuses
/// every count the store sends.
#[test]
fn send_qoh_to_shopify_2026_04_carries_the_mandatory_idempotent_directive() {
    let applied = r#"{"data":{"inventorySetQuantities":{"inventoryAdjustmentGroup":{"id":"gid://shopify/InventoryAdjustmentGroup/1"},"userErrors":[]}}}"#;
    let server = Scripted::start(vec![(200, stocked(&[77])), (200, applied)]);
    let a = scripted_adapter(&server);
    assert_eq!(a.api_version(), "2026-04");
    let out = a.set_quantities(&[tee_set("set-key-1")]).unwrap();
    assert_eq!(out, vec![SendOutcome::Applied { qoh: Some(4) }]);
    let seen = server.finish();
    assert_eq!(seen.len(), 2, "the level check, the set");
    let body: serde_json::Value = serde_json::from_str(&seen[1].2).unwrap();
    let query = body["query"].as_str().unwrap();
    assert!(query.contains("inventorySetQuantities("), "{query}");
    assert!(
        query.contains("@idempotent(key:"),
        "inventorySetQuantities sent without the @idempotent directive Shopify requires from 2026-04: {query}"
    );
}

/// The emulator must be as strict as Shopify where the tests rely on it: from 2026-04 an
/// `inventorySetQuantities` without `@idempotent` is an error at runtime (same changelog as
/// above). The emulator enforces this for `inventoryAdjustQuantities` only, so every Send QOH
/// test against it passes while the real shop would refuse the request.
#[test]
fn the_shopify_emulator_refuses_a_set_without_idempotent_from_2026_04() {
    let emu = Emulator::start_mode(Mode::Shopify).unwrap();
    emu.set_qoh("TEE", 5);
    let gid = format!(
        "gid://shopify/InventoryItem/{}",
        emu.platform_id("TEE").unwrap()
    );
    let body = serde_json::json!({
        "query": "mutation S($input: InventorySetQuantitiesInput!) { inventorySetQuantities(input: $input) { inventoryAdjustmentGroup { id } userErrors { field message code } } }",
        "variables": {"input": {"name": "available", "reason": "correction",
            "referenceDocumentUri": "x://y",
            "quantities": [{"inventoryItemId": gid, "locationId": "gid://shopify/Location/1",
                            "quantity": 9, "changeFromQuantity": null}]}}
    });
    let answer = graphql(&emu, "2026-04", &body);
    assert_eq!(
        emu.qoh("TEE"),
        Some(5),
        "a set without @idempotent must change nothing at 2026-04: {answer}"
    );
}

/// Shopify keeps inventory levels for variants whose inventory is not tracked
/// (`InventoryItem.tracked: false`, <https://shopify.dev/docs/api/admin-graphql/latest/objects/InventoryItem>):
/// the shop never decrements them on a sale, so their `available` (usually 0, or a stale
/// number) is not a stock count. Get QOH must skip them, as the WooCommerce adapter skips
/// `manage_stock: false` products; taking the number would set the order manager's QOH of an
/// item it stocks to 0.
#[test]
fn get_qoh_from_shopify_never_imports_the_count_of_an_untracked_variant() {
    let page = r#"{"data":{"productVariants":{"nodes":[
        {"sku":"TRACKED","inventoryItem":{"id":"gid://shopify/InventoryItem/1","tracked":true,
          "inventoryLevel":{"quantities":[{"name":"available","quantity":7}]}}},
        {"sku":"UNTRACKED","inventoryItem":{"id":"gid://shopify/InventoryItem/2","tracked":false,
          "inventoryLevel":{"quantities":[{"name":"available","quantity":0}]}}}],
        "pageInfo":{"hasNextPage":false,"endCursor":null}}}}"#;
    let server = Scripted::start(vec![(200, page)]);
    let got = scripted_adapter(&server)
        .fetch_quantities(None, 500)
        .unwrap();
    let seen = server.finish();
    let query = serde_json::from_str::<serde_json::Value>(&seen[0].2).unwrap()["query"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        !got.items.iter().any(|(s, _)| s == "UNTRACKED"),
        "an untracked variant's count was imported: {:?}; the read asks {}",
        got.items,
        if query.contains("tracked") {
            "for tracked"
        } else {
            "nothing about tracking"
        }
    );
    assert_eq!(got.items, vec![("TRACKED".to_owned(), 7)]);
}

/// Send QOH sends sets whose answer was lost again as they were. Shopify knows a retry only
/// by its `@idempotent` key (<https://shopify.dev/docs/api/usage/implementing-idempotency>:
/// network retries after a time-out reuse the key): under the same key the retry is answered
/// from its memory, and a sale the shop made between the lost answer and the retry stands.
#[test]
fn sets_resent_after_a_lost_answer_do_not_erase_a_sale_made_meanwhile() {
    let f = fixture(Mode::Shopify);
    let a = adapter(&f.emu);
    let sets: Vec<QuantitySet> = ["MUG", "CUP"]
        .iter()
        .enumerate()
        .map(|(i, sku)| {
            f.emu.set_qoh(sku, 10);
            QuantitySet {
                key: format!("3f5b6ebf-143c-4da5-8d0f-fb8553bfd85{i}"),
                sku: sku.to_string(),
                // No lookup first: the lost answer is the set's.
                remote_ref: f.emu.platform_id(sku).map(|id| id.to_string()),
                qoh: 5,
                expected: None,
            }
        })
        .collect();
    past_the_level_check(&f.emu);
    f.emu.inject(Fault::ApplyThenDrop { count: 1 });
    let first = a.set_quantities(&sets);
    assert!(
        matches!(first, Err(inventory_sync::CartError::Ambiguous(_))),
        "{first:?}"
    );
    assert_eq!((f.emu.qoh("MUG"), f.emu.qoh("CUP")), (Some(5), Some(5)));
    f.emu.set_qoh("MUG", 4); // sold on the shop before the retry
    let again = a.set_quantities(&sets).unwrap();
    assert_eq!(
        (f.emu.qoh("MUG"), f.emu.qoh("CUP")),
        (Some(4), Some(5)),
        "{again:?}"
    );
    // Other counts go under another key, and are set.
    let other: Vec<QuantitySet> = sets
        .iter()
        .map(|s| QuantitySet {
            qoh: 6,
            key: format!("{}-2", s.key),
            ..s.clone()
        })
        .collect();
    a.set_quantities(&other).unwrap();
    assert_eq!((f.emu.qoh("MUG"), f.emu.qoh("CUP")), (Some(6), Some(6)));
}

/// Preflight reads the cart as Get QOH does, which leaves out untracked inventory: a variant
/// that exists with its stock untracked is reported as one the cart lists no count for, saying
/// it may not track its stock, not sent looking for as a missing product.
#[test]
fn preflight_says_an_untracked_variant_may_not_track_its_stock() {
    let page = r#"{"data":{"productVariants":{"nodes":[
        {"sku":"TEE","inventoryItem":{"id":"gid://shopify/InventoryItem/7","tracked":false,
          "inventoryLevel":{"quantities":[{"name":"available","quantity":0}]}}}],
        "pageInfo":{"hasNextPage":false,"endCursor":null}}}}"#;
    let server = Scripted::start(vec![(200, page)]);
    let cart = serde_json::json!({"name": "Shop", "adapter": "shopify", "url": server.url,
                                  "token": "shpat_x", "location_id": "1"});
    let (_dir, store, id) = scripted_store(cart, "TEE", 5);
    let warnings = store.preflight(id).unwrap();
    server.finish();
    let unmapped = warnings.iter().find(|w| w.kind == "unmapped").unwrap();
    assert!(
        unmapped.message.contains("does not track its stock"),
        "{warnings:?}"
    );
}

/// A set of `sku` to `qoh`, the shop at 10 and the item named by its id (no lookup first,
/// so a fault injected hits the set's own request).
fn stocked_set(emu: &Emulator, sku: &str, qoh: i64) -> QuantitySet {
    emu.set_qoh(sku, 10);
    QuantitySet {
        key: format!("key-{sku}"),
        sku: sku.into(),
        remote_ref: emu.platform_id(sku).map(|id| id.to_string()),
        qoh,
        expected: None,
    }
}

/// Sets whose request was lost come again with other sets (Send QOH sends again, in one call,
/// what was lost and what Shopify asked to try again): the lost request goes again as it
/// was, under its key, so Shopify answers it from memory and a sale made since stands; the
/// others go in a request of their own.
#[test]
fn a_lost_set_request_goes_again_as_it_was_when_other_sets_join_it() {
    let f = fixture(Mode::Shopify);
    let a = adapter(&f.emu);
    let set = |sku: &str, qoh: i64| stocked_set(&f.emu, sku, qoh);
    let lost = vec![set("MUG", 5), set("CUP", 5)];
    let joining = set("BOWL", 6);
    past_the_level_check(&f.emu);
    f.emu.inject(Fault::ApplyThenDrop { count: 1 });
    assert!(a.set_quantities(&lost).is_err());
    f.emu.set_qoh("MUG", 4); // sold on the shop before the sets go again
    let again: Vec<QuantitySet> = vec![joining, lost[1].clone(), lost[0].clone()];
    let out = a.set_quantities(&again).unwrap();
    assert!(
        out.iter().all(|o| matches!(o, SendOutcome::Applied { .. })),
        "{out:?}"
    );
    assert_eq!(
        (f.emu.qoh("MUG"), f.emu.qoh("CUP"), f.emu.qoh("BOWL")),
        (Some(4), Some(5), Some(6))
    );
}

/// Shopify answers a mutation sent again under a key whose earlier attempt failed with
/// `IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED` ("retry with a new idempotency key"): nothing was
/// applied under it. The change goes again at once under a key derived from its own (the same
/// every time, so a later re-send finds it answered), for a count and for a sale alike.
#[test]
fn a_change_whose_earlier_attempt_failed_goes_again_under_a_derived_key() {
    let failed_set = r#"{"data":{"inventorySetQuantities":{"inventoryAdjustmentGroup":null,"userErrors":[
      {"field":["input"],"message":"A previous request with this idempotency key failed. Retry with a new idempotency key.","code":"IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED"}]}}}"#;
    let set_applied = r#"{"data":{"inventorySetQuantities":{"inventoryAdjustmentGroup":{"id":"gid://shopify/InventoryAdjustmentGroup/1"},"userErrors":[]}}}"#;
    let failed_adjust = r#"{"data":{"c0":{"inventoryAdjustmentGroup":null,"userErrors":[
      {"field":["input"],"message":"A previous request with this idempotency key failed. Retry with a new idempotency key.","code":"IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED"}]}}}"#;
    let adjust_applied = r#"{"data":{"c0":{"inventoryAdjustmentGroup":{"changes":[{"name":"available","delta":-1,"quantityAfterChange":4}]},"userErrors":[]}}}"#;
    let mut derived = Vec::new();
    for _ in 0..2 {
        let server = Scripted::start(vec![
            (200, stocked(&[77])),
            (200, failed_set),
            (200, set_applied),
            (200, failed_adjust),
            (200, adjust_applied),
        ]);
        let a = scripted_adapter(&server);
        let set = a.set_quantities(&[tee_set("set-key")]).unwrap();
        assert_eq!(set, vec![SendOutcome::Applied { qoh: Some(4) }]);
        let sale = a
            .apply_deltas(&[keyed_delta("sale-key", "TEE", "77")])
            .unwrap();
        assert!(matches!(sale[0], SendOutcome::Applied { .. }), "{sale:?}");
        let keys: Vec<String> = sent_keys(server);
        assert_ne!(keys[0], keys[1], "another key after the failed one");
        assert_ne!(keys[2], keys[3], "another key after the failed one");
        derived.push((keys[1].clone(), keys[3].clone()));
    }
    assert_eq!(derived[0], derived[1], "the same derived keys every time");
}

/// A lost set request is remembered so that, when its sets come again with others, it goes
/// again as it was (same key: answered from Shopify's memory). A THROTTLED answer to that
/// re-send is no answer about the lost request (Shopify refuses before it looks at the key):
/// it stays remembered, and the call after the wait (Send QOH's `with_rate_limit`) still
/// sends it as it was, so the sale made meanwhile stands.
#[test]
fn a_lost_set_request_still_goes_as_it_was_after_its_resend_is_throttled() {
    let f = fixture(Mode::Shopify);
    // A slow refill: a drained bucket stays below one mutation (10 points) for ~200 ms.
    f.emu.set_shopify_budget(2000.0, 50.0);
    let a = adapter(&f.emu);
    let set = |sku: &str, qoh: i64| stocked_set(&f.emu, sku, qoh);
    let lost = vec![set("MUG", 5), set("CUP", 5)];
    let joining = set("BOWL", 6);
    past_the_level_check(&f.emu);
    f.emu.inject(Fault::ApplyThenDrop { count: 1 });
    assert!(a.set_quantities(&lost).is_err());
    assert_eq!(f.emu.qoh("MUG"), Some(5), "the lost request landed");
    f.emu.set_qoh("MUG", 4); // sold on the shop before the sets go again
    let again: Vec<QuantitySet> = vec![joining, lost[1].clone(), lost[0].clone()];
    // The re-send meets an empty bucket: THROTTLED, nothing looked at, nothing applied.
    f.emu.drain_shopify_budget();
    let throttled = a.set_quantities(&again);
    assert!(
        matches!(
            throttled,
            Err(inventory_sync::CartError::RateLimited { .. })
        ),
        "{throttled:?}"
    );
    assert_eq!(f.emu.qoh("MUG"), Some(4));
    // The bucket refilled (as after with_rate_limit's wait), the same call again.
    f.emu.set_shopify_budget(2000.0, 50.0);
    let out = a.set_quantities(&again).unwrap();
    assert!(
        out.iter().all(|o| matches!(o, SendOutcome::Applied { .. })),
        "{out:?}"
    );
    assert_eq!(
        (f.emu.qoh("MUG"), f.emu.qoh("CUP"), f.emu.qoh("BOWL")),
        (Some(4), Some(5), Some(6)),
        "the sale made after the lost request landed must stand"
    );
}

/// The same with a 503 (the shop's edge down for a moment; nothing reached Shopify) on the
/// remembered request when it is not the first of the call: its sets come back `Retry`, Send
/// QOH sends them again, and the request still goes as it was.
#[test]
fn a_lost_set_request_still_goes_as_it_was_after_its_resend_meets_an_outage() {
    let f = fixture(Mode::Shopify);
    let a = adapter(&f.emu);
    let set = |sku: &str, qoh: i64| stocked_set(&f.emu, sku, qoh);
    // Two lost requests (two earlier calls), both remembered.
    let lost1 = vec![set("PLATE", 3), set("FORK", 3)];
    let lost2 = vec![set("MUG", 5), set("CUP", 5)];
    past_the_level_check(&f.emu);
    f.emu.inject(Fault::ApplyThenDrop { count: 1 });
    assert!(a.set_quantities(&lost1).is_err());
    past_the_level_check(&f.emu);
    f.emu.inject(Fault::ApplyThenDrop { count: 1 });
    assert!(a.set_quantities(&lost2).is_err());
    f.emu.set_qoh("MUG", 4); // sold on the shop meanwhile
    let joining = set("BOWL", 6);
    let again: Vec<QuantitySet> = vec![
        joining,
        lost1[0].clone(),
        lost1[1].clone(),
        lost2[1].clone(),
        lost2[0].clone(),
    ];
    // After BOWL's level check, the first request (lost1, as it was) is answered from memory;
    // the second (lost2, as it was) meets a 503 and its sets come back Retry.
    f.emu.inject(Fault::Delay { ms: 0, count: 2 });
    f.emu.inject(Fault::Status {
        status: 503,
        count: 1,
        retry_after: None,
    });
    let out = a.set_quantities(&again).unwrap();
    assert_eq!(f.emu.qoh("MUG"), Some(4));
    // Send QOH sends again what came back Retry (and not Applied).
    let retry: Vec<QuantitySet> = again
        .iter()
        .zip(&out)
        .filter(|(_, o)| !matches!(o, SendOutcome::Applied { .. }))
        .map(|(s, _)| s.clone())
        .collect();
    assert!(
        retry.iter().any(|s| s.sku == "MUG"),
        "MUG comes back to be sent again: {out:?}"
    );
    // With BOWL if its request was also refused; either way, MUG and CUP again.
    let mut again2 = vec![set("SPOON", 2)];
    again2.extend(retry);
    let out2 = a.set_quantities(&again2).unwrap();
    assert!(
        out2.iter()
            .all(|o| matches!(o, SendOutcome::Applied { .. })),
        "{out2:?}"
    );
    assert_eq!(
        f.emu.qoh("MUG"),
        Some(4),
        "the sale made after the lost request landed must stand"
    );
}

const PAF: &str = r#"{"data":{"c0":{"inventoryAdjustmentGroup":null,"userErrors":[
  {"field":["input"],"message":"A previous request with this idempotency key failed. Retry with a new idempotency key.","code":"IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED"}]}}}"#;
const UNAVAILABLE: &str = r#"{"data":{"c0":{"inventoryAdjustmentGroup":null,"userErrors":[
  {"field":["input"],"message":"Service unavailable","code":"SERVICE_UNAVAILABLE"}]}}}"#;

/// A sale Shopify answers `SERVICE_UNAVAILABLE` ("try again": nothing applied) is retried,
/// never failed (a failure bypasses it: the sale would never reach the shop), under its key.
/// Once Shopify says an earlier attempt under a key failed
/// (`IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED`), the sale goes under the keys derived from it, each
/// tried once, the walk going on at the next one when sent again; that answer is a retry
/// too, and the sale lands.
#[test]
fn a_sale_shopify_keeps_saying_to_try_again_is_never_bypassed_and_lands() {
    let server = Scripted::start(vec![
        (200, stocked(&[77])),
        (200, UNAVAILABLE),
        (200, UNAVAILABLE),
        (200, PAF),
        (200, PAF),
        (200, PAF),
        (200, PAF),
        (
            200,
            r#"{"data":{"c0":{"inventoryAdjustmentGroup":{"changes":[{"name":"available","delta":-1,"quantityAfterChange":4}]},"userErrors":[]}}}"#,
        ),
    ]);
    let a = scripted_adapter(&server);
    let sale = DeltaSend {
        key: "sale-key".into(),
        sku: "TEE".into(),
        remote_ref: Some("77".into()),
        delta: -1,
    };
    let mut outcomes = Vec::new();
    for _ in 0..4 {
        outcomes.push(
            a.apply_deltas(std::slice::from_ref(&sale))
                .unwrap()
                .remove(0),
        );
    }
    let keys: Vec<String> = sent_keys(server);
    assert!(
        outcomes[..3]
            .iter()
            .all(|o| matches!(o, SendOutcome::Retry { .. })),
        "{outcomes:?}"
    );
    assert!(
        matches!(outcomes[3], SendOutcome::Applied { .. }),
        "{outcomes:?}"
    );
    assert_eq!(keys.len(), 7);
    assert!(keys[..3].iter().all(|k| *k == keys[0]), "{keys:?}");
    let walked: std::collections::HashSet<&String> = keys[2..].iter().collect();
    assert_eq!(
        walked.len(),
        5,
        "no key said to have failed is tried again: {keys:?}"
    );
}

/// The `@idempotent` keys of the requests `server` was sent, in order (the level check
/// before a write carries none).
fn sent_keys(server: Scripted) -> Vec<String> {
    server
        .finish()
        .iter()
        .filter(|r| !r.2.contains("InvSyncLevels"))
        .map(|r| idempotency_key(&r.2))
        .collect()
}

/// The `@idempotent` key of a request body.
fn idempotency_key(body: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(body).unwrap();
    let q = v["query"].as_str().unwrap().to_owned();
    let at = q.find("@idempotent(key: ").expect("keyed");
    q[at..at + q[at..].find(')').unwrap()].to_owned()
}

fn the_sale() -> DeltaSend {
    DeltaSend {
        key: "sale-key".into(),
        sku: "TEE".into(),
        remote_ref: Some("77".into()),
        delta: -1,
    }
}

/// A gateway gave up on the request (Shopify may have applied it).
const LOST: &str = r#"{"errors":"gateway timeout"}"#;
const APPLIED_ONCE: &str = r#"{"data":{"c0":{"inventoryAdjustmentGroup":{"changes":[{"name":"available","delta":-1,"quantityAfterChange":4}]},"userErrors":[]}}}"#;

/// A sale sent under its key, the answer lost (it may have landed). The re-send meets a
/// passing "service unavailable, try again": that answer is about the re-send (nothing
/// applied by it), not about the first attempt, which may have landed. The next re-send must
/// still go under the key the sale may have landed under, so Shopify answers it from memory;
/// a fresh key is a new adjustment, and the sale is taken off the shop's count twice.
#[test]
fn a_sale_whose_answer_was_lost_is_never_sent_under_a_new_key_after_a_try_again() {
    let server = Scripted::start(vec![
        (200, stocked(&[77])),
        (504, LOST),
        (200, UNAVAILABLE),
        (200, APPLIED_ONCE),
    ]);
    let a = scripted_adapter(&server);
    let sale = the_sale();
    let first = a.apply_deltas(std::slice::from_ref(&sale));
    assert!(
        matches!(first, Err(inventory_sync::CartError::Ambiguous(_))),
        "{first:?}"
    );
    let second = a.apply_deltas(std::slice::from_ref(&sale)).unwrap();
    assert!(matches!(second[0], SendOutcome::Retry { .. }), "{second:?}");
    let third = a.apply_deltas(std::slice::from_ref(&sale)).unwrap();
    assert!(matches!(third[0], SendOutcome::Applied { .. }), "{third:?}");
    let keys: Vec<String> = sent_keys(server);
    assert_eq!(
        keys[0], keys[1],
        "the re-send goes under the lost attempt's key"
    );
    assert_eq!(
        keys[0], keys[2],
        "after a lost answer, a 'try again' to the re-send must not move the sale to a new \
         key (a new key is a new adjustment: the sale applied twice): {keys:?}"
    );
}

/// The same through an adapter rebuilt (the controller rebuilds its cached adapter on any cart
/// config change, and a restart does too): after a "try again", the sale stays on its own key,
/// whose answer is then lost; the rebuilt adapter, which knows nothing of what came before,
/// sends it again under that same key, the one it may have landed under.
#[test]
fn a_sale_whose_answer_was_lost_goes_again_under_that_key_from_a_rebuilt_adapter() {
    // Each adapter checks the level of item 77 before its first write.
    let server = Scripted::start(vec![
        (200, stocked(&[77])),
        (200, UNAVAILABLE),
        (504, LOST),
        (200, stocked(&[77])),
        (200, APPLIED_ONCE),
    ]);
    let sale = the_sale();
    {
        let a = scripted_adapter(&server);
        let first = a.apply_deltas(std::slice::from_ref(&sale)).unwrap();
        assert!(matches!(first[0], SendOutcome::Retry { .. }), "{first:?}");
        assert!(a.apply_deltas(std::slice::from_ref(&sale)).is_err());
    }
    let rebuilt = scripted_adapter(&server);
    let third = rebuilt.apply_deltas(std::slice::from_ref(&sale)).unwrap();
    assert!(matches!(third[0], SendOutcome::Applied { .. }), "{third:?}");
    let keys: Vec<String> = sent_keys(server);
    assert_eq!(
        keys[1], keys[2],
        "the rebuilt adapter's re-send goes under the key whose answer was lost: {keys:?}"
    );
}

// ---- States of the shop and its catalogue that only the owner fixes -------------------------

/// An emulated shop with TEE (10) and a real-time cart on it whose `location_id` is one the
/// shop does not have (it has Location/1 only): the fixture, the cart's JSON and its id.
fn at_a_location_the_shop_does_not_have() -> (Fixture, serde_json::Value, inventory_sync::CartId) {
    let f = fixture(Mode::Shopify);
    f.emu.set_qoh("TEE", 10);
    f.item("TEE", 10);
    let mut cart = cart_json(&f.emu, 50, SECRET);
    cart["location_id"] = json!("2");
    let id = f.store.upsert_cart_json(&cart.to_string()).unwrap();
    f.store.set_cart_sync(id, true).unwrap();
    (f, cart, id)
}

/// `InventoryAdjustQuantitiesUserErrorCode::INVALID_LOCATION` ("The specified location could not
/// be found", <https://shopify.dev/docs/api/admin-graphql/2026-01/enums/InventoryAdjustQuantitiesUserErrorCode>)
/// answers every change of a cart whose `location_id` the shop does not have (mistyped, or a
/// location the owner deactivated or deleted). That is the cart's setting, which only the owner
/// can fix (the trait's `CartError::Unauthorized`, as the Medusa adapter does for a stock
/// location Medusa does not have): the cart must pause with the sales waiting, not bypass
/// every sale made until someone notices.
#[test]
fn a_location_the_shop_does_not_have_pauses_the_cart_and_bypasses_no_sale() {
    let (f, _, id) = at_a_location_the_shop_does_not_have();
    adjust(&f.store, "TEE", -1);
    adjust(&f.store, "TEE", -1);
    let run = f.store.run_stack(None).unwrap();
    assert_eq!(
        f.count(id, StackState::Bypassed),
        0,
        "a wrong location_id bypassed the sales: {run:?} {:?}",
        f.records(id)
    );
    assert_eq!(f.count(id, StackState::Waiting), 2, "{:?}", f.records(id));
    assert!(
        run.carts[0]
            .error
            .as_deref()
            .is_some_and(|e| e.contains("location")),
        "the cart's error names the location: {run:?}"
    );
    assert_eq!(f.emu.qoh("TEE"), Some(10));
}

/// Shopify answers `402 Payment Required` while a shop is frozen ("The shop owner needs to log
/// in to the shop's admin and pay the outstanding balance to unfreeze the shop") and `423
/// Locked` while it is locked (<https://shopify.dev/docs/api/usage/response-codes>). Both are
/// states of the whole shop that only its owner ends, like a refused token: the cart pauses
/// and its sales wait. Read as any other 4xx, every sale of every pass is bypassed while the
/// bill is unpaid, and none reaches the shop once it is paid.
#[test]
fn a_frozen_or_locked_shop_pauses_the_cart_and_bypasses_no_sale() {
    for (status, body) in [
        (402, r#"{"errors":"Unavailable Shop"}"#),
        (423, r#"{"errors":"This shop is unavailable"}"#),
    ] {
        let server = Scripted::start(vec![(status, body)]);
        let (_dir, store, cart) = one_sale_to_item_77(&server.url);
        let run = store.run_stack(None).unwrap();
        server.finish();
        assert_eq!(
            store.stack_count(cart, StackState::Bypassed).unwrap(),
            0,
            "HTTP {status} bypassed the sale: {run:?}"
        );
        assert_eq!(store.stack_count(cart, StackState::Waiting).unwrap(), 1);
        assert!(run.carts[0].error.is_some(), "{run:?}");
    }
}

/// Shopify's GraphQL reference lists top-level error codes it answers with HTTP 200, and
/// says "additional error codes may also be shown". `SHOP_INACTIVE` ("The shop is not active.
/// This can happen when stores repeatedly exceed API rate limits or due to fraud risk") is a
/// state of the whole shop: the cart pauses, as for a frozen one. A code not known here is
/// tried again later, as after a 5xx. Shopify's older throttle answer names no code
/// (`{"errors":[{"message":"Throttled"}]}`): a rate limit. Until 2026-12-03 all three were
/// read as a refusal of every sale in the request, each bypassed at once and never sent once
/// the shop answered again.
#[test]
fn a_shop_level_graphql_error_bypasses_no_sale() {
    const INACTIVE: &str =
        r#"{"errors":[{"message":"Shop is inactive","extensions":{"code":"SHOP_INACTIVE"}}]}"#;
    const UNKNOWN: &str =
        r#"{"errors":[{"message":"Try later","extensions":{"code":"SOMETHING_NEW"}}]}"#;
    const THROTTLED: &str = r#"{"errors":[{"message":"Throttled"}],
      "extensions":{"cost":{"requestedQueryCost":10,"actualQueryCost":null,
        "throttleStatus":{"maximumAvailable":1000.0,"currentlyAvailable":0,"restoreRate":50.0}}}}"#;
    for (body, attempts, paused) in [
        (INACTIVE, 0, true),
        (UNKNOWN, 1, false),
        (THROTTLED, 0, false),
    ] {
        let server = Scripted::start(vec![(200, body)]);
        let (_dir, store, cart) = one_sale_to_item_77(&server.url);
        let run = store.run_stack(None).unwrap();
        server.finish();
        assert_eq!(
            store.stack_count(cart, StackState::Bypassed).unwrap(),
            0,
            "{body} bypassed the sale: {run:?}"
        );
        assert_eq!(
            store.stack_count(cart, StackState::Waiting).unwrap(),
            1,
            "{body}"
        );
        let listed: serde_json::Value =
            serde_json::from_str(&store.stack_list_json(None).unwrap()).unwrap();
        assert_eq!(listed[0]["attempts"], attempts, "{body}: {listed}");
        let error = run.carts[0].error.as_deref().unwrap_or_default();
        assert_eq!(error.contains("not active"), paused, "{body}: {run:?}");
    }
    let server = Scripted::start(vec![(200, INACTIVE)]);
    let adapter = scripted_adapter(&server);
    let e = adapter
        .apply_deltas(&[keyed_delta("k1", "TEE", "77")])
        .unwrap_err();
    server.finish();
    assert!(matches!(e, CartError::Unauthorized(_)), "{e:?}");
}

const TEE_ON_ITEM_1: &str = r#"{"data":{"productVariants":{"nodes":[
    {"sku":"TEE","inventoryItem":{"id":"gid://shopify/InventoryItem/1","tracked":true,
      "inventoryLevel":{"quantities":[{"name":"available","quantity":5}]}}}],
    "pageInfo":{"hasNextPage":false,"endCursor":null}}}}"#;
const TEE_ON_ITEM_2: &str = r#"{"data":{"productVariants":{"nodes":[
    {"sku":"TEE","inventoryItem":{"id":"gid://shopify/InventoryItem/2","tracked":true,
      "inventoryLevel":{"quantities":[{"name":"available","quantity":5}]}}}],
    "pageInfo":{"hasNextPage":false,"endCursor":null}}}}"#;
const APPLIED: &str = r#"{"data":{"c0":{"inventoryAdjustmentGroup":{"changes":[{"name":"available","delta":-1,"quantityAfterChange":4}]},"userErrors":[]}}}"#;
const ITEM_GONE: &str = r#"{"data":{"c0":{"inventoryAdjustmentGroup":null,"userErrors":[
    {"field":["input","changes","0","inventoryItemId"],"message":"The specified inventory item could not be found.","code":"INVALID_INVENTORY_ITEM"}]}}}"#;

/// The inventory item of a SKU is cached (a quarter hour), and a store's controller keeps
/// its adapter until the cart's settings change (weeks). The owner deletes the product
/// and creates it again (a new variant, a new inventory item, the same SKU): Shopify answers
/// the cached item `INVALID_INVENTORY_ITEM`. The sale must go to the SKU's new item (looked up
/// again), not be bypassed as refused — and with it every later sale of that SKU, for as long
/// as the controller runs. The re-send goes under another idempotency key: the key's attempt
/// failed, and Shopify refuses a key sent again with other parameters
/// (`IDEMPOTENCY_KEY_PARAMETER_MISMATCH`, same enum page).
#[test]
fn a_sale_of_a_sku_whose_variant_was_recreated_goes_to_the_new_variant() {
    let server = Scripted::start(vec![
        (200, TEE_ON_ITEM_1),
        (200, APPLIED),
        (200, ITEM_GONE),
        (200, TEE_ON_ITEM_2),
        (200, APPLIED),
    ]);
    let (_dir, store, cart) = scripted_store(
        json!({"name":"Shop","adapter":"shopify","url":server.url,
               "token":"shpat_x","location_id":"1","max_items_to_send":50}),
        "TEE",
        5,
    );
    store.set_cart_sync(cart, true).unwrap();
    adjust(&store, "TEE", -1);
    assert_eq!(store.run_stack(None).unwrap().sent, 1, "the first sale");
    // The product is deleted and created again on Shopify; the next sale:
    adjust(&store, "TEE", -1);
    let mut runs = Vec::new();
    for _ in 0..3 {
        runs.push(store.run_stack(None).unwrap());
        if store.stack_count(cart, StackState::Waiting).unwrap() == 0 {
            break;
        }
    }
    assert_eq!(
        store.stack_count(cart, StackState::Bypassed).unwrap(),
        0,
        "the sale was bypassed though Shopify has the SKU on its new variant: {runs:?} {}",
        store.stack_list_json(None).unwrap()
    );
    assert_eq!(store.stack_count(cart, StackState::Waiting).unwrap(), 0);
    let seen = server.finish();
    assert!(
        seen[4].2.contains("gid://shopify/InventoryItem/2"),
        "{:?}",
        seen[4]
    );
    let key = |body: &str| {
        let q = serde_json::from_str::<serde_json::Value>(body).unwrap()["query"]
            .as_str()
            .unwrap()
            .to_owned();
        let at = q.find("@idempotent(key: ").unwrap();
        q[at..at + q[at..].find(')').unwrap()].to_owned()
    };
    assert_ne!(
        key(&seen[2].2),
        key(&seen[4].2),
        "the failed key went again with another inventory item"
    );
}

/// `@idempotent` (mandatory from 2026-04 and the adapter's only way to keep a re-sent sale
/// from applying twice) exists from 2026-01
/// (<https://shopify.dev/changelog/adding-idempotency-for-inventory-adjustments-and-refund-mutations>),
/// as does `changeFromQuantity`, which the adapter sends on every change and count
/// (<https://shopify.dev/changelog/compare-and-swap-redesign-for-inventory-set-quantities>;
/// before it, `InventoryQuantityInput` had `compareQuantity`/`ignoreCompareQuantity`). Under an
/// older `api_version` every document the adapter writes fails GraphQL validation (a top-level
/// error: every sale bypassed as rejected). Such a version must be refused when the cart is
/// defined.
#[test]
fn an_api_version_older_than_2026_01_is_refused_when_the_cart_is_defined() {
    let make = |v: &str| {
        ShopifyAdapter::new(
            "https://example.myshopify.com/",
            Secret::new("shpat_x"),
            "1",
            Some(v),
            Duration::from_secs(5),
        )
    };
    for v in ["2025-10", "2025-04", "2024-01"] {
        assert!(make(v).is_err(), "{v} accepted");
    }
    for v in ["2026-01", "2026-04", "2026-10", "unstable"] {
        assert!(make(v).is_ok(), "{v} refused");
    }
}

/// The emulator answered the adapter's documents at any version, so the tests passed at
/// versions where Shopify has no `@idempotent` directive.
#[test]
fn the_shopify_emulator_refuses_the_idempotent_directive_before_2026_01() {
    let emu = Emulator::start_mode(Mode::Shopify).unwrap();
    emu.set_qoh("TEE", 5);
    let gid = format!(
        "gid://shopify/InventoryItem/{}",
        emu.platform_id("TEE").unwrap()
    );
    let body = json!({
        "query": "mutation M($c0: InventoryAdjustQuantitiesInput!) { c0: inventoryAdjustQuantities(input: $c0) @idempotent(key: \"k1\") { inventoryAdjustmentGroup { changes { name delta quantityAfterChange } } userErrors { field message code } } }",
        "variables": {"c0": {"reason": "correction", "name": "available",
            "changes": [{"delta": -1, "changeFromQuantity": null, "inventoryItemId": gid,
                         "locationId": "gid://shopify/Location/1"}]}}
    });
    let answer = graphql(&emu, "2025-10", &body);
    assert!(answer["errors"].is_array(), "{answer}");
    assert_eq!(emu.qoh("TEE"), Some(5), "{answer}");
}

/// A cart paused for a `location_id` the shop does not have, saved again: the adapter is
/// built anew (as after a restart) and has forgotten which keys were refused, so each sale
/// goes again under its first key. With the location corrected Shopify answers
/// `IDEMPOTENCY_KEY_PARAMETER_MISMATCH` (the key was used with the old location); with it
/// still wrong, `IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED`, and the next key meets
/// `INVALID_LOCATION` on the call's second request. Either way the sale was bypassed until the
/// second review of 2026-12-02, the pause made for nothing; now the first goes under the next
/// key, and the second pauses the cart again.
#[test]
fn sales_paused_for_a_wrong_location_are_not_bypassed_when_the_cart_is_saved_again() {
    let (f, mut cart, id) = at_a_location_the_shop_does_not_have();
    // Three adapters each look TEE up (802 points a look): a Shopify Plus bucket pays them
    // without a wait, which `drain` (passes one after another) would not sit out.
    f.emu.set_shopify_budget(10_000.0, 1_000.0);
    adjust(&f.store, "TEE", -1);
    f.store.run_stack(None).unwrap();
    assert_eq!(f.count(id, StackState::Waiting), 1, "{:?}", f.records(id));
    // Saved with another API version: the adapter is built anew, the cart resumes at once.
    cart["api_version"] = json!("2026-07");
    f.store.upsert_cart_json(&cart.to_string()).unwrap();
    let run = f.store.run_stack(None).unwrap();
    assert_eq!(
        (
            f.count(id, StackState::Bypassed),
            f.count(id, StackState::Waiting)
        ),
        (0, 1),
        "still the wrong location: {run:?} {:?}",
        f.records(id)
    );
    cart["location_id"] = json!("1");
    f.store.upsert_cart_json(&cart.to_string()).unwrap();
    let run = f.store.run_stack(None).unwrap();
    assert_eq!(
        f.count(id, StackState::Bypassed),
        0,
        "{run:?} {:?}",
        f.records(id)
    );
    f.drain();
    assert_eq!(f.emu.qoh("TEE"), Some(9), "{:?}", f.records(id));
}

/// References an older build stored: a blank one is none (the item goes by its SKU, as the
/// store reads a blank reference everywhere; since the adapter stopped searching the SKU for
/// a reference it cannot read, a blank one had the item's sales bypassed). One it cannot
/// read (a variant's id) fails the item's sales by name, never a search by SKU, which another
/// variant may carry; the preflight names it beforehand (it listed nothing).
#[test]
fn a_stored_reference_blank_or_unreadable() {
    for (r, cart_after, bypassed) in [("", 4, 0), ("gid://shopify/ProductVariant/555", 5, 1)] {
        let f = fixture(Mode::Shopify);
        f.emu.set_qoh("TEE", 5);
        f.item("TEE", 5);
        let cart = f.cart(50);
        rusqlite::Connection::open(f.store.path())
            .unwrap()
            .execute(
                "INSERT INTO web_fields(cart_id, item_id, remote_ref)
                 VALUES (?1, (SELECT id FROM items WHERE sku = 'TEE'), ?2)",
                rusqlite::params![cart, r],
            )
            .unwrap();
        let warnings = f.store.preflight(cart).unwrap();
        let named = warnings
            .iter()
            .any(|w| w.kind == "unmapped" && w.sku.as_deref() == Some("TEE"));
        assert_eq!(named, bypassed == 1, "{r:?}: {warnings:?}");
        f.store.set_cart_sync(cart, true).unwrap();
        adjust(&f.store, "TEE", -1);
        f.drain();
        assert_eq!(
            (f.emu.qoh("TEE"), f.count(cart, StackState::Bypassed)),
            (Some(cart_after), bypassed),
            "{r:?}: {:?}",
            f.records(cart)
        );
    }
}

/// Two items an older build let link to one inventory item of the cart (it keeps one count
/// for both): the preflight names the second before real-time sync goes on.
#[test]
fn the_preflight_names_a_second_item_linked_to_one_inventory_item() {
    let f = fixture(Mode::Shopify);
    f.emu.set_qoh("TEE", 5);
    f.item("TEE", 5);
    f.item("MUG", 5);
    let cart = f.cart(50);
    rusqlite::Connection::open(f.store.path())
        .unwrap()
        .execute(
            "INSERT INTO web_fields(cart_id, item_id, remote_ref)
             SELECT ?1, id, CASE sku WHEN 'MUG' THEN '7' ELSE 'gid://shopify/InventoryItem/7' END
               FROM items",
            [cart],
        )
        .unwrap();
    let warnings = f.store.preflight(cart).unwrap();
    let named: Vec<_> = warnings
        .iter()
        .filter(|w| w.kind == "unmapped" && w.message.contains("one count"))
        .map(|w| (w.sku.as_deref(), w.message.contains("MUG")))
        .collect();
    assert_eq!(named, [(Some("TEE"), true)], "{warnings:?}");
}

/// Two items reaching one inventory item in one Send QOH (one by its SKU, one by a reference
/// left from a product made again): Shopify holds one count for the two and refuses a request
/// setting it twice (`NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR`). The first item's count
/// goes; the second fails by name (both were reported sent, and the cart showed the last
/// one's count: 9 for an item the store has 2 of), and the batch's other items go.
#[test]
fn a_send_qoh_sets_one_inventory_item_once() {
    send_qoh_sets_one_record_once(Mode::Shopify);
}

/// A cart sending 300 counts a batch: the adapter splits them into requests of 250 and 50.
/// Each item has a sale of 2 waiting (store 8, cart 10), and the first request's answer is
/// lost on every try (a gateway's 504 after Shopify applied it). Until 2026-12-03 the adapter
/// gave that as the whole call's error, the second request was never sent, and Send QOH
/// settled all 300 items' sales as included in counts the shop might have: items 251–300
/// stayed at 10 on Shopify while the store had 8, with nothing left to send (found by a
/// review). The second request now goes, and each request's items answer for themselves.
#[test]
fn a_lost_answer_to_one_request_of_a_send_is_its_items_alone() {
    let f = fixture(Mode::Shopify);
    f.emu.set_shopify_budget(10_000.0, 1_000.0);
    for i in 1..=300 {
        let sku = format!("SKU-{i:03}");
        f.emu.set_qoh(&sku, 10);
        f.item(&sku, 10);
    }
    let cart = f.cart(300);
    f.store.set_cart_sync(cart, true).unwrap();
    for i in 1..=300 {
        adjust(&f.store, &format!("SKU-{i:03}"), -2);
    }
    f.emu.inject(Fault::ApplyThenStatus {
        status: 504,
        count: 3,
    });
    let report = f
        .store
        .send_qoh(cart, SendOptions { force: true }, None)
        .unwrap();
    assert_eq!(f.emu.qoh("SKU-001"), Some(8), "{report:?}");
    assert_eq!(f.emu.qoh("SKU-300"), Some(8), "{report:?}");
    f.drain();
    for i in [1, 250, 251, 300] {
        assert_eq!(
            f.emu.qoh(&format!("SKU-{i:03}")),
            Some(8),
            "{i}: {report:?}"
        );
    }
    assert_eq!(
        f.records(cart),
        Vec::<serde_json::Value>::new(),
        "{report:?}"
    );
}

// From a review of the Shopify adapter against Shopify's documents (2026-12-03): each
// failed before its fix.

/// Shopify's answer when the `inventorySetQuantities` field itself failed while it ran: the
/// field is null, and the error names it by path. The GraphQL Admin reference: the code
/// INTERNAL_SERVER_ERROR means "Shopify experienced an internal error while processing the
/// request. This error is returned instead of 500 Internal Server Error in most
/// circumstances" (<https://shopify.dev/docs/api/admin-graphql>, "Status and error codes").
const SET_FIELD_FAILED: &str = r#"{"data":{"inventorySetQuantities":null},
  "errors":[{"message":"Internal error. Looks like something went wrong on our end.",
    "path":["inventorySetQuantities"],"extensions":{"code":"INTERNAL_SERVER_ERROR"}}]}"#;

/// A mutation whose field failed *while it was being processed* may have been committed: the
/// error tells nothing of it. The adapter's own handling of the same answer to one alias of a
/// batch of adjustments agrees (a null alias beside an INTERNAL_SERVER_ERROR is "sent again
/// under its key", i.e. maybe applied). For a set the adapter answers
/// `CartError::Unavailable`, which the trait defines as "nothing in the call was applied":
/// Send QOH then keeps the sale the count included on the stack and the controller sends it
/// on top of a count Shopify may already hold (the shop shows one unit fewer than it has). The
/// set is keyed, so calling it what it is (`Ambiguous`, remembered as a lost set and sent
/// again under the same key) costs nothing.
#[test]
fn a_set_whose_mutation_failed_while_processing_is_not_taken_as_unapplied() {
    let server = Scripted::start(vec![(200, stocked(&[77])), (200, SET_FIELD_FAILED)]);
    let a = scripted_adapter(&server);
    let r = a.set_quantities(&[tee_set("k1")]);
    server.finish();
    match r {
        Err(CartError::Ambiguous(_)) => {}
        Ok(ref out) if matches!(out[0], SendOutcome::Uncertain { .. }) => {}
        other => panic!(
            "an INTERNAL_SERVER_ERROR on the inventorySetQuantities field itself was read as \
             'nothing applied': {other:?}"
        ),
    }
}

/// The same through Send QOH: the store has TEE at 4 with its sale of 1 waiting for the cart
/// (the cart still shows 5). Send QOH sends the count 4 and meets the failed-field answer;
/// the waiting sale must not then be sent as a -1 on top of a count the shop may have taken
/// (it would show 3 for 4 units).
#[test]
fn send_qoh_never_sends_a_sale_on_top_of_a_count_shopify_may_have_taken() {
    const APPLIED: &str = r#"{"data":{"c0":{"inventoryAdjustmentGroup":{"changes":[{"name":"available","delta":-1,"quantityAfterChange":3}]},"userErrors":[]}}}"#;
    // The failed set; then whatever follows (a re-sent set, or the sale as a delta).
    let server = Scripted::start(vec![
        (200, stocked(&[77])),
        (200, SET_FIELD_FAILED),
        (200, APPLIED),
    ]);
    let (_dir, store, cart) = one_sale_to_item_77(&server.url);
    let report = store
        .send_qoh(cart, SendOptions { force: true }, None)
        .unwrap();
    store.run_stack(None).unwrap();
    let seen = server.finish();
    let delta_sent = seen
        .iter()
        .any(|(_, _, body)| body.contains("inventoryAdjustQuantities"));
    assert!(
        !delta_sent,
        "the sale went as a -1 after a count of 4 Shopify may have set: report {report:?}, \
         requests {seen:#?}, stack {}",
        store.stack_list_json(None).unwrap()
    );
}

fn keyed_change(key: &str, sku: &str, item: &str, delta: i64) -> DeltaSend {
    DeltaSend {
        key: key.into(),
        sku: sku.into(),
        remote_ref: Some(item.into()),
        delta,
    }
}

/// HTTP 500 to an `inventorySetQuantities` that Shopify applied before it failed (the
/// emulator's `ApplyThenStatus`). Shopify's response-codes page: "500 Internal Server Error:
/// An internal error occurred in Shopify"; nothing says the write was not made. The set is
/// keyed (`@idempotent`), so the adapter can call it a lost answer at no cost; it calls it
/// `Unavailable` ("nothing applied"), Send QOH keeps the sale the count included, and the
/// controller then takes it off the shop a second time: the shop shows 3 for 4 units.
#[test]
fn a_set_answered_500_after_shopify_applied_it_does_not_count_a_sale_twice() {
    use inventory_sync::emulator::Fault;
    let (f, cart) = tee_linked(5);
    adjust(&f.store, "TEE", -1); // store 4, the sale waits for the cart (still 5)
    f.emu.inject(Fault::ApplyThenStatus {
        status: 500,
        count: 1,
    });
    let report = f.send(cart);
    f.drain();
    assert_eq!(f.store.item_qoh("TEE").unwrap(), 4);
    assert_eq!(
        f.emu.qoh("TEE"),
        Some(4),
        "the shop took the count 4, then the sale it included: {report:?} {:?}",
        f.records(cart)
    );
}

/// A 404 from the one GraphQL endpoint is never about one item (GraphQL names items in
/// `userErrors`): it is the shop or the endpoint that is missing, and Shopify's
/// response-codes page says of it "The requested resource was not found but could be
/// available again in the future" (<https://shopify.dev/docs/api/usage/response-codes>).
/// Read as a refusal of the call (`CartError::Rejected`), every sale waiting is bypassed at
/// once and never reaches the shop when it answers again; a 402 or 423 (also whole-shop
/// states) pause the cart instead.
#[test]
fn a_404_from_the_graphql_endpoint_bypasses_no_sale() {
    let server = Scripted::start(vec![(404, r#"{"errors":"Not Found"}"#)]);
    let (_dir, store, cart) = one_sale_to_item_77(&server.url);
    let run = store.run_stack(None).unwrap();
    server.finish();
    assert_eq!(
        store.stack_count(cart, StackState::Bypassed).unwrap(),
        0,
        "a 404 of the whole endpoint bypassed the sale: {run:?} {}",
        store.stack_list_json(None).unwrap()
    );
}

/// A drift repair's compare-and-set of an item linked by `remote_ref` (inventory item 77)
/// that Shopify answers `CHANGE_FROM_QUANTITY_STALE`: the adapter reads the "current" count
/// by searching the store's SKU, and reports the count of whatever variant carries that SKU
/// (here an old product's, inventory item 12, at 40) as item 77's. The repair then tells the
/// owner the cart now shows 40.
#[test]
fn a_stale_compare_reports_the_linked_items_count_not_another_variants() {
    const STALE: &str = r#"{"data":{"inventorySetQuantities":{"inventoryAdjustmentGroup":null,
      "userErrors":[{"field":["input","quantities","0","changeFromQuantity"],
        "message":"The specified compare quantity does not match the current quantity.",
        "code":"CHANGE_FROM_QUANTITY_STALE"}]}}}"#;
    const OTHER_VARIANT: &str = r#"{"data":{"productVariants":{"nodes":[
      {"sku":"TEE","inventoryItem":{"id":"gid://shopify/InventoryItem/12","tracked":true,
        "inventoryLevel":{"quantities":[{"name":"available","quantity":40}]}}}],
      "pageInfo":{"hasNextPage":false,"endCursor":null}}}}"#;
    let server = Scripted::start(vec![
        (200, stocked(&[77])),
        (200, STALE),
        (200, OTHER_VARIANT),
    ]);
    let a = scripted_adapter(&server);
    let out = a
        .set_quantities(&[QuantitySet {
            expected: Some(5),
            ..tee_set("k1")
        }])
        .unwrap();
    let _ = server.finish();
    assert_ne!(
        out[0],
        SendOutcome::Conflict { current: 40 },
        "item 77's count was reported as inventory item 12's"
    );
}

/// `inventoryAdjustQuantities` on `available` moves `on_hand` too, and its adjustment group
/// lists a change per quantity name (`InventoryChange.name`: "The name of the inventory
/// quantity that was changed"; `quantityAfterChange`: "The quantity of named inventory after
/// the change"). The adapter takes the first change's `quantityAfterChange`, whatever its
/// name, as the available count it reports in the record's Last Response and history.
#[test]
fn the_count_reported_after_a_sale_is_the_available_one() {
    const BOTH: &str = r#"{"data":{"c0":{"inventoryAdjustmentGroup":{"changes":[
        {"name":"on_hand","delta":-1,"quantityAfterChange":9},
        {"name":"available","delta":-1,"quantityAfterChange":4}]},"userErrors":[]}}}"#;
    let server = Scripted::start(vec![(200, stocked(&[77])), (200, BOTH)]);
    let a = scripted_adapter(&server);
    let out = a
        .apply_deltas(&[keyed_change("k1", "TEE", "77", -1)])
        .unwrap();
    server.finish();
    assert_eq!(out[0], SendOutcome::Applied { qoh: Some(4) });
}

/// `ShopifyAdapter` is public and built from a `Secret`; its module doc promises "The token
/// goes in `X-Shopify-Access-Token` (a sensitive header), never in a message." A proxy or
/// WAF in front of the shop that echoes the request's headers in its error page (a 400
/// here) has the token quoted in the adapter's error: the adapter quotes the body and, unlike
/// `http_json` (which scrubs its own answers because "an integrator may use [it] alone"),
/// never scrubs it; only the registry's wrapper does.
#[test]
fn the_token_never_appears_in_an_error_of_the_adapter_used_alone() {
    const TOKEN: &str = "shpat_0123456789abcdef";
    const ECHO: &str = "Request rejected. POST /admin/api/2026-04/graphql.json \
        x-shopify-access-token: shpat_0123456789abcdef content-type: application/json";
    let server = Scripted::start(vec![(400, ECHO)]);
    let a = ShopifyAdapter::new(
        &server.url,
        Secret::new(TOKEN),
        "1",
        None,
        Duration::from_secs(5),
    )
    .unwrap();
    let e = a
        .apply_deltas(&[keyed_change("k1", "TEE", "77", -1)])
        .unwrap_err();
    server.finish();
    let text = format!("{e:?} {}", e.message());
    assert!(!text.contains(TOKEN), "the token is quoted: {text}");
}

/// An answer to `inventorySetQuantities` that holds no result for it (a null field with no
/// error beside it, which GraphQL never sends for a field that ran; or no `data` at all, as
/// a proxy or a wrong host answering 200 `{}` sends) says nothing of the count. The adapter
/// reads the missing `userErrors` as "no errors" and reports every count applied, so Send
/// QOH settles the waiting sales as included in counts that may never have been set. (The
/// adjust path reads a missing alias as "no result for this change" and sends it again.)
#[test]
fn a_set_answer_without_its_result_is_never_taken_as_applied() {
    for body in [r#"{"data":{"inventorySetQuantities":null}}"#, "{}"] {
        let server = Scripted::start(vec![(200, body)]);
        let a = scripted_adapter(&server);
        let r = a.set_quantities(&[tee_set("k1")]);
        server.finish();
        assert!(
            !matches!(&r, Ok(out) if matches!(out[0], SendOutcome::Applied { .. })),
            "{body} was read as the count applied: {r:?}"
        );
    }
}

/// The adapter refuses an `api_version` that does not "look like 2026-04 (or unstable)" (its
/// own message), and one older than 2026-01. Its check is looser than its message: `2026-4`
/// or `26-04` (a month without its leading zero, a two-digit year) pass both checks (the
/// "older than" test only looks at strings of 7 characters), and every request then goes to
/// `/admin/api/2026-4/graphql.json`, which names no version of Shopify's (versions are
/// `YYYY-MM`: <https://shopify.dev/docs/api/usage/versioning>). With the 404 read as a
/// refusal (above), each sale is then bypassed.
#[test]
fn an_api_version_not_shaped_yyyy_mm_is_refused_when_the_cart_is_defined() {
    for v in ["2026-4", "26-04", "2026-04-01", "2026_04"] {
        let made = ShopifyAdapter::new(
            "https://example.myshopify.com/",
            Secret::new("shpat_x"),
            "1",
            Some(v),
            Duration::from_secs(5),
        );
        assert!(made.is_err(), "api_version {v:?} was taken");
    }
}

/// A variant whose SKU Shopify holds padded ("TEE ", as CSV imports leave them). The store
/// reads a cart's SKU trimmed everywhere it reads the catalogue (Get QOH, the drift report,
/// the preflight: "SKUs are the order manager's, matched exactly (case counts) after trimming
/// blanks", `CartAdapter::fetch_quantities`), so TEE is found there, counted and shown in
/// step. The adapter's own lookup before a write keeps only exact matches, so the same
/// variant, returned by the search, is dropped, and every sale of TEE fails as an "unknown
/// SKU" and is bypassed.
#[test]
fn a_sale_finds_the_variant_get_qoh_matched_to_the_item() {
    const PADDED: &str = r#"{"data":{"productVariants":{"nodes":[
      {"sku":"TEE ","inventoryItem":{"id":"gid://shopify/InventoryItem/77","tracked":true,
        "inventoryLevel":{"quantities":[{"name":"available","quantity":5}]}}}],
      "pageInfo":{"hasNextPage":false,"endCursor":null}}}}"#;
    const APPLIED: &str = r#"{"data":{"c0":{"inventoryAdjustmentGroup":{"changes":[{"name":"available","delta":-1,"quantityAfterChange":4}]},"userErrors":[]}}}"#;
    // Get QOH's read: the store takes "TEE " as its item TEE.
    let server = Scripted::start(vec![(200, PADDED)]);
    let page = scripted_adapter(&server)
        .fetch_quantities(None, 50)
        .unwrap();
    server.finish();
    assert_eq!(page.items, vec![("TEE ".to_owned(), 5)]);
    // A sale of TEE: the lookup finds that variant; the sale should go to it.
    let server = Scripted::start(vec![(200, PADDED), (200, APPLIED)]);
    let a = scripted_adapter(&server);
    let out = a
        .apply_deltas(&[DeltaSend {
            key: "k1".into(),
            sku: "TEE".into(),
            remote_ref: None,
            delta: -1,
        }])
        .unwrap();
    assert!(
        !matches!(&out[0], SendOutcome::Failed { .. }),
        "the variant the store reads as TEE is unknown to the sale: {out:?}"
    );
    server.finish();
}

/// The same for the SKU lookup before a sale: an answer with no `productVariants` at all
/// (`{}` from a proxy or a wrong host, `{"data":null}`) is read as a search that found
/// nothing, so the sale fails as an "unknown SKU" and is bypassed at once (rule 10), though
/// nothing was learnt about the SKU. A read that answers nothing readable is a
/// `CartError::Unavailable` (the adapter's own rule for an unreadable answer to a read).
#[test]
fn a_lookup_answer_without_its_result_bypasses_no_sale() {
    for body in ["{}", r#"{"data":null}"#] {
        let server = Scripted::start(vec![(200, body)]);
        let a = scripted_adapter(&server);
        let r = a.apply_deltas(&[DeltaSend {
            key: "k1".into(),
            sku: "TEE".into(),
            remote_ref: None,
            delta: -1,
        }]);
        server.finish();
        assert!(
            !matches!(&r, Ok(out) if matches!(out[0], SendOutcome::Failed { .. })),
            "{body}: the sale failed as an unknown SKU: {r:?}"
        );
    }
}

const TWO_SPELLINGS: &str = r#"{"data":{"productVariants":{"nodes":[
  {"sku":"TEE","inventoryItem":{"id":"gid://shopify/InventoryItem/12","tracked":true,
    "inventoryLevel":{"quantities":[{"name":"available","quantity":5}]}}},
  {"sku":"TEE ","inventoryItem":{"id":"gid://shopify/InventoryItem/13","tracked":true,
    "inventoryLevel":{"quantities":[{"name":"available","quantity":9}]}}}],
  "pageInfo":{"hasNextPage":false,"endCursor":null}}}}"#;

const ADJUSTED: &str = r#"{"data":{"c0":{"inventoryAdjustmentGroup":{"changes":[
  {"name":"available","delta":-1,"quantityAfterChange":4}]},"userErrors":[]}}}"#;

/// The lookup before a write matches a variant whose SKU differs from the item's by blanks
/// only (as Get QOH does); one that has the SKU exactly comes first: a shop holding "TEE" and
/// "TEE " (a typo saved beside the product) sold TEE from the first until the trimmed match
/// (2026-12-03, earlier the same day) counted both and failed every sale as ambiguous.
#[test]
fn a_shopify_sku_that_exists_exactly_is_not_merged_with_a_padded_one() {
    let server = Scripted::start(vec![(200, TWO_SPELLINGS), (200, ADJUSTED)]);
    let a = scripted_adapter(&server);
    let out = a
        .apply_deltas(&[DeltaSend {
            key: "k1".into(),
            sku: "TEE".into(),
            remote_ref: None,
            delta: -1,
        }])
        .unwrap();
    assert!(
        matches!(out[0], SendOutcome::Applied { .. }),
        "a sale of TEE, which one variant has exactly, failed because another variant's SKU \
         is \"TEE \" (the trimmed match counts both): {out:?}"
    );
    let seen = server.finish();
    assert!(
        seen[1].2.contains("gid://shopify/InventoryItem/12"),
        "the sale went to the padded variant: {}",
        seen[1].2
    );
}

/// A store and the emulator's Shopify both holding `qoh` of TEE, its real-time cart linked
/// to TEE's inventory item by `remote_ref`.
fn tee_linked(qoh: i64) -> (Fixture, inventory_sync::CartId) {
    let f = fixture(Mode::Shopify);
    f.emu.set_qoh("TEE", qoh);
    f.item("TEE", qoh);
    let cart = f.cart(50);
    let gid = format!(
        "gid://shopify/InventoryItem/{}",
        f.emu.platform_id("TEE").unwrap()
    );
    f.store
        .set_web_fields(cart, "TEE", &format!(r#"{{"remote_ref":"{gid}"}}"#))
        .unwrap();
    f.store.set_cart_sync(cart, true).unwrap();
    (f, cart)
}

fn tee_sale(key: &str) -> DeltaSend {
    DeltaSend {
        key: key.into(),
        sku: "TEE".into(),
        remote_ref: None,
        delta: -1,
    }
}

const ADJUST_FAILED: &str = r#"{"data":{"c0":{"inventoryAdjustmentGroup":null,"userErrors":[
  {"field":["input"],"message":"The quantities couldn't be adjusted. Try again.","code":"ADJUST_QUANTITIES_FAILED"}]}}}"#;

/// `ADJUST_QUANTITIES_FAILED` is the mutation's own result under the key (an attempt still
/// running is `IDEMPOTENCY_CONCURRENT_REQUEST`, one that landed is answered with its success):
/// the key has no applied attempt. Shopify answers a re-send under a key "with the result of
/// the original operation" (changelog "Adding idempotency for inventory adjustments"), and
/// `InventoryAdjustQuantitiesUserErrorCode` has no `IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED`
/// (only the set's enum has it): re-sent under the same key, each re-send got the stored
/// failure and the sale never landed. Each goes under the next key.
#[test]
fn a_sale_answered_adjust_quantities_failed_is_not_resent_under_that_key_forever() {
    let server = Scripted::start(vec![
        (200, stocked(&[77])),
        (200, ADJUST_FAILED),
        (200, ADJUST_FAILED),
        (200, ADJUST_FAILED),
        (200, ADJUST_FAILED),
    ]);
    let a = scripted_adapter(&server);
    let mut s = tee_sale("3f5b6ebf-143c-4da5-8d0f-fb8553bfd851");
    s.remote_ref = Some("77".into());
    for _ in 0..4 {
        let out = a.apply_deltas(std::slice::from_ref(&s)).unwrap();
        assert!(matches!(out[0], SendOutcome::Retry { .. }), "{out:?}");
    }
    let keys: Vec<String> = sent_keys(server);
    assert!(
        keys.iter().any(|k| *k != keys[0]),
        "four re-sends under the key Shopify answered ADJUST_QUANTITIES_FAILED: {keys:?}"
    );
}

const STALE: &str = r#"{"data":{"inventorySetQuantities":{"inventoryAdjustmentGroup":null,
  "userErrors":[{"field":["input","quantities","0","changeFromQuantity"],
    "message":"The changeFromQuantity value does not match persisted value.",
    "code":"CHANGE_FROM_QUANTITY_STALE"}]}}}"#;
const THROTTLED: &str = r#"{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED",
  "documentation":"https://shopify.dev/api/usage/rate-limits"}}],
  "extensions":{"cost":{"requestedQueryCost":802,"actualQueryCost":null,
    "throttleStatus":{"maximumAvailable":2000.0,"currentlyAvailable":40,"restoreRate":100.0}}}}"#;

/// A drift repair's set meets a sale made meanwhile (`CHANGE_FROM_QUANTITY_STALE`: nothing
/// set). The adapter reads the count back to report a conflict; that read is throttled: its
/// error was dropped, and the item reported `Failed` "shopify refused the count", a
/// permanent refusal for a passing throttle. It is a `Retry` naming the wait.
#[test]
fn a_stale_compare_whose_read_back_is_throttled_is_not_reported_as_a_refusal() {
    let server = Scripted::start(vec![(200, stocked(&[77])), (200, STALE), (200, THROTTLED)]);
    let a = scripted_adapter(&server);
    let out = a
        .set_quantities(&[QuantitySet {
            key: "3f5b6ebf-143c-4da5-8d0f-fb8553bfd852".into(),
            sku: "TEE".into(),
            remote_ref: Some("77".into()),
            qoh: 4,
            expected: Some(5),
        }])
        .unwrap();
    server.finish();
    assert!(
        matches!(&out[0], SendOutcome::Retry { message, after: Some(_) }
            if message.contains("changed meanwhile") && message.contains("Throttled")),
        "a stale compare with its read-back throttled is reported as a refusal: {out:?}"
    );
}

fn lookup(item: u32) -> &'static str {
    Box::leak(
        format!(
            r#"{{"data":{{"productVariants":{{"nodes":[
            {{"sku":"TEE","inventoryItem":{{"id":"gid://shopify/InventoryItem/{item}","tracked":true,
              "inventoryLevel":{{"quantities":[{{"name":"available","quantity":5}}]}}}}}}],
            "pageInfo":{{"hasNextPage":false,"endCursor":null}}}}}}}}"#
        )
        .into_boxed_str(),
    )
}
const SET_GONE: &str = r#"{"data":{"inventorySetQuantities":{"inventoryAdjustmentGroup":null,
  "userErrors":[{"field":["input","quantities","0","inventoryItemId"],
    "message":"The specified inventory item could not be found.","code":"INVALID_INVENTORY_ITEM"}]}}}"#;
const SET_OK: &str = r#"{"data":{"inventorySetQuantities":{"inventoryAdjustmentGroup":{"id":"gid://shopify/InventoryAdjustmentGroup/9"},"userErrors":[]}}}"#;

/// The variant of TEE was deleted and made again (new inventory item 2). A sale meeting
/// `INVALID_INVENTORY_ITEM` drops the cached item and looks the SKU up afresh; a count (Send
/// QOH) did not: the set failed, and every Send QOH for the next quarter hour sent TEE's
/// count to the deleted item again. It is looked up afresh too.
#[test]
fn a_count_for_an_inventory_item_shopify_no_longer_has_looks_the_sku_up_afresh() {
    let server = Scripted::start(vec![
        (200, lookup(1)),
        (200, SET_GONE),
        (200, lookup(2)),
        (200, SET_OK),
    ]);
    let a = scripted_adapter(&server);
    let set = |key: &str| QuantitySet {
        key: key.into(),
        sku: "TEE".into(),
        remote_ref: None,
        qoh: 7,
        expected: None,
    };
    let first = a.set_quantities(&[set("3f5b6ebf-143c-4da5-8d0f-fb8553bfd853")]);
    a.begin_manual_run();
    let second = a.set_quantities(&[set("3f5b6ebf-143c-4da5-8d0f-fb8553bfd854")]);
    // Four answers are scripted (lookup, set, lookup, set); the cache kept asked three.
    let seen = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| server.finish()))
        .unwrap_or_else(|_| {
            panic!(
                "the next Send QOH went to the deleted inventory item 1 again, without a \
                 lookup: first {first:?}, second {second:?}"
            )
        });
    assert!(seen[2].2.contains("productVariants"), "{:?}", seen[2]);
    assert!(seen[3].2.contains("InventoryItem/2"), "{:?}", seen[3]);
}

const TEE_APPLIED: &str = r#"{"data":{"c0":{"inventoryAdjustmentGroup":{"changes":[
  {"name":"available","delta":-1,"quantityAfterChange":4},
  {"name":"on_hand","delta":-1,"quantityAfterChange":4}]},"userErrors":[]}}}"#;

/// TEE on a tracked variant stocked at the cart's location (item 1) and on a variant whose
/// inventory is not tracked (item 2, e.g. a gift-wrap or sample variant).
const TRACKED_AND_UNTRACKED: &str = r#"{"data":{"productVariants":{"nodes":[
  {"sku":"TEE","inventoryItem":{"id":"gid://shopify/InventoryItem/1","tracked":true,
    "inventoryLevel":{"quantities":[{"name":"available","quantity":5}]}}},
  {"sku":"TEE","inventoryItem":{"id":"gid://shopify/InventoryItem/2","tracked":false,
    "inventoryLevel":{"quantities":[{"name":"available","quantity":0}]}}}],
  "pageInfo":{"hasNextPage":false,"endCursor":null}}}}"#;

/// TEE on a variant stocked at the cart's location (item 1) and on one stocked only at
/// another location of a multi-location shop (item 2: `inventoryLevel(locationId:)` is null).
const STOCKED_AND_NOT_STOCKED_HERE: &str = r#"{"data":{"productVariants":{"nodes":[
  {"sku":"TEE","inventoryItem":{"id":"gid://shopify/InventoryItem/1","tracked":true,
    "inventoryLevel":{"quantities":[{"name":"available","quantity":5}]}}},
  {"sku":"TEE","inventoryItem":{"id":"gid://shopify/InventoryItem/2","tracked":true,
    "inventoryLevel":null}}],
  "pageInfo":{"hasNextPage":false,"endCursor":null}}}}"#;

/// Get QOH reads TEE from the one variant whose count is a stock count at the location (it
/// skips the untracked / not-stocked twin), and imports that count. A sale of TEE goes to that
/// same inventory item; the lookup before a write counted the twin too, called the SKU
/// ambiguous, and failed the sale (bypassed: the shop oversold by one).
fn sale_goes_where_get_qoh_read(page: &'static str) {
    let server = Scripted::start(vec![(200, page), (200, page), (200, TEE_APPLIED)]);
    let a = scripted_adapter(&server);
    let read = a.fetch_quantities(None, 500).unwrap();
    assert_eq!(
        read.items,
        vec![("TEE".to_owned(), 5)],
        "Get QOH imports TEE = 5"
    );
    let out = a
        .apply_deltas(&[tee_sale("3f5b6ebf-143c-4da5-8d0f-fb8553bfd850")])
        .unwrap();
    assert!(
        matches!(out[0], SendOutcome::Applied { .. }),
        "the sale of a SKU Get QOH read from one variant was refused: {out:?}"
    );
    let seen = server.finish();
    assert!(seen[2].2.contains("InventoryItem/1"), "{:?}", seen[2]);
}

#[test]
fn a_sale_goes_to_the_tracked_variant_get_qoh_read_not_refused_for_an_untracked_twin() {
    sale_goes_where_get_qoh_read(TRACKED_AND_UNTRACKED);
}

#[test]
fn a_sale_goes_to_the_variant_stocked_here_not_refused_for_a_twin_stocked_elsewhere() {
    sale_goes_where_get_qoh_read(STOCKED_AND_NOT_STOCKED_HERE);
}

/// A lookup asks a page sized to the SKUs it looks for: Shopify charges a query by the
/// `first` it asks, and a lookup of one SKU at 200 cost 802 points, most of a standard
/// shop's bucket, for each sale of a SKU not looked up in the last quarter hour.
#[test]
fn a_lookup_of_one_sku_asks_a_small_page() {
    let server = Scripted::start(vec![(200, TRACKED_AND_UNTRACKED), (200, TEE_APPLIED)]);
    let a = scripted_adapter(&server);
    let out = a
        .apply_deltas(&[tee_sale("3f5b6ebf-143c-4da5-8d0f-fb8553bfd860")])
        .unwrap();
    assert!(matches!(out[0], SendOutcome::Applied { .. }), "{out:?}");
    let seen = server.finish();
    let lookup: serde_json::Value = serde_json::from_str(&seen[0].2).unwrap();
    assert_eq!(lookup["variables"]["first"], 10, "{lookup}");
}
