//! The manual-sync reports a store owner reads (DESIGN §3 rules 8 and 11, §4): how large Get
//! QOH's lists grow, and what the drift report and the preflight say of a change the cart
//! refused for good. Read as a host reads them: the reports' JSON.
#![cfg(feature = "emulator")]

#[macro_use]
mod common;

use common::*;
use inventory_sync::emulator::Emulator;
use inventory_sync::{CartId, GetOptions};
use serde_json::{json, Value};

/// The report as a host reads it (`invsync_get_qoh` copies out this JSON).
fn get(f: &Fixture, cart: CartId, create_new: bool) -> Value {
    let options = GetOptions {
        force: true,
        create_new,
    };
    let r = f.store.get_qoh(cart, options, None).unwrap();
    let kept: Value = serde_json::from_str(&f.store.last_report().unwrap()).unwrap();
    assert_eq!(kept, serde_json::to_value(&r).unwrap());
    kept
}

/// A first Get QOH of a large cart without *create records* listed every SKU the store lacks
/// in `unknown`: megabytes kept for `last_report` and copied into the host's buffer. The list
/// holds the first 1,000, in the cart's order, and says how many more there were.
#[test]
fn the_unknown_skus_stop_at_1000_and_say_how_many_more() {
    let f = store();
    let e = Emulator::start().unwrap();
    let c = cart(&f.store, &e, "Web", "none");
    for i in 0..1004 {
        e.set_qoh(&format!("U{i:05}"), 2);
    }
    let r = get(&f, c, false);
    let unknown = r["unknown"].as_array().unwrap();
    assert_eq!(unknown.len(), 1000, "{}", r["unknown_left_out"]);
    assert_eq!(unknown[0], "U00000");
    assert_eq!(unknown[999], "U00999");
    assert_eq!(r["unknown_left_out"], 4);
    assert_eq!(r["not_applied_left_out"], 0);
    // Nothing was made of them.
    assert_eq!(r["created"], 0);
    assert_eq!(f.store.item_qoh("U01003").ok(), None);
}

/// A cart whose every count is unreadable (a plugin writing text where numbers go) listed
/// each in `not_applied`, with its reason, however many. The list holds the first 1,000 and
/// says how many more; a small cart's report is as it was.
#[test]
fn the_counts_not_applied_stop_at_1000_and_say_how_many_more() {
    let f = store();
    let e = Emulator::start().unwrap();
    let c = cart(&f.store, &e, "Web", "none");
    for i in 0..1002 {
        e.set_qoh_json(&format!("B{i:05}"), json!("lots"));
    }
    let r = get(&f, c, true);
    let not_applied = r["not_applied"].as_array().unwrap();
    assert_eq!(not_applied.len(), 1000, "{}", r["not_applied_left_out"]);
    assert_eq!(not_applied[0]["sku"], "B00000");
    assert!(
        not_applied[0]["why"].as_str().unwrap().contains("lots"),
        "{}",
        not_applied[0]
    );
    assert_eq!(r["not_applied_left_out"], 2);
    assert_eq!(r["created"], 0);

    let f = store();
    let e = Emulator::start().unwrap();
    let c = cart(&f.store, &e, "Web", "none");
    e.set_qoh_json("B", json!("lots"));
    e.set_qoh("N", 1);
    let r = get(&f, c, false);
    assert_eq!(
        (
            r["not_applied"].as_array().unwrap().len(),
            &r["not_applied_left_out"],
            &r["unknown"],
            &r["unknown_left_out"]
        ),
        (1, &json!(0), &json!(["N"]), &json!(0)),
        "{r}"
    );
}

/// A sale refused for good by a cart that lacked the SKU (bypassed), the product then made
/// there and its count set by hand. Get QOH says that sale is not in the cart's count, and
/// when to discard it rather than retry it; the drift report and the preflight said it was
/// "in doubt", the count "may or may not" include it, and to let the stack deliver it or
/// retry it: retried where the count already allowed for it, a unit came off twice. They say
/// what Get QOH says.
#[test]
fn drift_and_preflight_say_a_change_refused_for_good_is_not_in_the_carts_count() {
    let (f, e, c) = sale_refused_for_good();
    // Made on the cart with a count neither with the sale nor without it.
    e.set_qoh("X", 5);
    let said = |why: &str| {
        why.contains("refused by the cart for good")
            && why.contains("does not include")
            && why.contains("discard")
            && !why.contains("may or may not")
    };

    let drift = f.store.drift(c, false).unwrap();
    let d = serde_json::to_value(&drift).unwrap();
    let x: Vec<&Value> = d["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["sku"] == "X")
        .collect();
    assert_eq!(x.len(), 1, "{d}");
    assert!(said(x[0]["outcome"].as_str().unwrap_or_default()), "{d}");
    // A repair leaves it alone, saying the same.
    let repaired = serde_json::to_value(f.store.drift(c, true).unwrap()).unwrap();
    let x = repaired["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["sku"] == "X")
        .unwrap();
    assert!(
        said(x["outcome"].as_str().unwrap_or_default()),
        "{repaired}"
    );
    assert_eq!(e.qoh("X"), Some(5));

    let warnings = serde_json::to_value(f.store.preflight(c).unwrap()).unwrap();
    let drifted: Vec<&Value> = warnings
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["kind"] == "drift" && w["sku"] == "X")
        .collect();
    assert_eq!(drifted.len(), 1, "{warnings}");
    let message = drifted[0]["message"].as_str().unwrap();
    assert!(said(message), "{message}");
    assert!(!message.contains("in doubt"), "{message}");
}
