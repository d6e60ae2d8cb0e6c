//! The troubleshooting view's "next attempt" of a record whose cart sends nothing for a
//! while. A host's stack screen (`stack_list_json`, `invsync_stack_list`) showed a paused
//! cart's waiting records as due since they were queued, so they read as going at the next
//! pass while the cart was paused for an hour (refused credentials, an outage's back-off) or
//! held by a manual Send QOH.
#![cfg(feature = "emulator")]

#[macro_use]
mod common;

use common::*;
use inventory_sync::emulator::{Emulator, Fault};
use inventory_sync::{CartId, Reason, SendOptions, Store};

/// The listed records of `cart` as (sku, next_attempt_at, created_at, state).
fn listed(store: &Store, cart: CartId) -> Vec<(String, i64, i64, String)> {
    let json = store
        .stack_list_json(Some(&format!(r#"{{"cart_id":{cart}}}"#)))
        .unwrap();
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    rows.iter()
        .map(|r| {
            (
                r["sku"].as_str().unwrap().to_owned(),
                r["next_attempt_at"].as_i64().unwrap(),
                r["created_at"].as_i64().unwrap(),
                r["state"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

/// A cart paused for refused credentials and one backing off after an outage: each waiting
/// record is listed as tried when its cart's pause ends (as the store keeps it), not as due
/// now; a cart that sends lists its record as due since it was queued, as before. Once the
/// pause is lifted (the right token saved), the record is due again.
#[test]
fn a_paused_carts_waiting_records_are_listed_as_tried_when_the_pause_ends() {
    let f = store();
    f.store.set_param("RetryBaseMs", "600000").unwrap();
    f.store.set_param("RetryMaxMs", "3600000").unwrap();
    let refused = Emulator::start().unwrap();
    refused.set_token(Some("the-token-the-shop-has-now"));
    let down = Emulator::start().unwrap();
    let fine = Emulator::start().unwrap();
    let json = serde_json::json!({
        "name": "Refused", "adapter": "http_json", "url": refused.url(), "token": "old-token",
        "capabilities": {"send": true, "get": true, "realtime": "attribute"},
    });
    let refused_id = f.store.upsert_cart_json(&json.to_string()).unwrap();
    f.store.set_cart_sync(refused_id, true).unwrap();
    let down_id = cart(&f.store, &down, "Down", "attribute");
    let fine_id = cart(&f.store, &fine, "Fine", "attribute");
    item(&f.store, "MUG", 10);
    for e in [&refused, &down, &fine] {
        e.set_qoh("MUG", 10);
    }
    down.inject(Fault::Status {
        status: 503,
        count: usize::MAX,
        retry_after: None,
    });
    adjust(&f.store, "MUG", -1, Reason::PosSale);
    let before = now_ms();
    f.store.run_stack(None).unwrap();
    assert_eq!(fine.qoh("MUG"), Some(9), "the fine cart took the sale");
    // A sale after the pass: the fine cart's record is due since it was queued, as before.
    adjust(&f.store, "MUG", -1, Reason::PosSale);
    let db = f.dir.path().join("store.db");
    for (id, name) in [(refused_id, "Refused"), (down_id, "Down")] {
        let pause_end: i64 = value(
            &db,
            &format!("SELECT backoff_until FROM carts WHERE id = {id}"),
        );
        assert!(pause_end > before + 60_000, "{name} is paused");
        let rows = listed(&f.store, id);
        assert_eq!(rows.len(), 2, "{name}: {rows:?}");
        for (sku, next, _, state) in &rows {
            assert_eq!((sku.as_str(), state.as_str()), ("MUG", "pending"));
            assert!(
                *next >= pause_end,
                "{name}: listed as tried at {next}, before its pause ends at {pause_end}"
            );
        }
    }
    let fine_rows = listed(&f.store, fine_id);
    assert_eq!(fine_rows.len(), 1, "{fine_rows:?}");
    assert_eq!(
        fine_rows[0].1, fine_rows[0].2,
        "due since queued: {fine_rows:?}"
    );
    // Saved with the token the shop has, the refused cart is no longer paused.
    let mut json = json;
    json["token"] = "the-token-the-shop-has-now".into();
    f.store.upsert_cart_json(&json.to_string()).unwrap();
    let now = now_ms();
    for (_, next, created, _) in listed(&f.store, refused_id) {
        assert!(
            next <= now,
            "due again: {next} (queued at {created}, now {now})"
        );
    }
}

/// A sale made while a manual Send QOH holds the cart waits for the run to end: listed
/// meanwhile, it is tried when the hold ends at the soonest, not "now".
#[test]
fn a_sale_made_during_a_manual_send_qoh_is_listed_as_tried_after_the_hold() {
    let f = store();
    let emu = Emulator::start().unwrap();
    // One item a request, so that the run reports its progress between requests.
    let id = cart_with(&f.store, &emu, "Web", "attribute", 1);
    for sku in ["MUG", "CAP", "TEE"] {
        item(&f.store, sku, 10);
        emu.set_qoh(sku, 10);
    }
    let db = f.dir.path().join("store.db");
    let mut seen = None;
    let mut progress = |_: i64, _: i64| {
        if seen.is_none() {
            // A till's sale, on another handle, while the run holds the cart.
            let till = inventory_sync::Store::open(&db).unwrap();
            till.set_param("SynchQOH", "true").unwrap();
            adjust(&till, "TEE", -1, Reason::PosSale);
            let held: i64 = value(
                &db,
                &format!("SELECT manual_until FROM carts WHERE id = {id}"),
            );
            seen = Some((held, listed(&till, id)));
        }
        true
    };
    f.store
        .send_qoh(id, SendOptions { force: true }, Some(&mut progress))
        .unwrap();
    let (held, rows) = seen.expect("Send QOH reported its progress between batches");
    assert!(held > now_ms() - 60_000, "the run held the cart");
    let tee: Vec<_> = rows.iter().filter(|r| r.0 == "TEE").collect();
    assert_eq!(tee.len(), 1, "{rows:?}");
    assert!(
        tee[0].1 >= held,
        "listed as tried at {}, before the hold ends at {held}",
        tee[0].1
    );
    // After the run, the sale is due, and goes.
    drain(&f.store);
    assert_eq!(emu.qoh("TEE"), Some(9));
}
