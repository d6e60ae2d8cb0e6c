//! The lists of the reports a host or an owner reads after a manual run on a large catalogue
//! set up wrong (a cart at the wrong URL, nothing mapped, every count off): the drift report,
//! Send QOH's failures and the preflight's warnings keep their first 1,000 entries and say
//! how many more there were, as Get QOH's lists do (`tests/report_bounds.rs`). Listed whole,
//! each made JSON of megabytes for a host to copy (and a VBA host to build a string of) out
//! of a catalogue of 100,000 items. Read as a host reads them: the reports' JSON.
#![cfg(feature = "emulator")]

mod common;

use common::*;
use inventory_sync::emulator::Emulator;
use inventory_sync::{CartId, SendOptions};
use serde_json::Value;

/// `n` items `{prefix}00000`… at `qoh`, made in one host transaction (one commit, not `n`).
fn items(f: &Fixture, prefix: &str, n: usize, qoh: i64) -> Vec<String> {
    let skus: Vec<String> = (0..n).map(|i| format!("{prefix}{i:05}")).collect();
    f.store.begin().unwrap();
    for sku in &skus {
        item(&f.store, sku, qoh);
    }
    f.store.commit().unwrap();
    skus
}

/// A cart on `e`, real-time sync off, sent 500 counts a request (fewer requests to set up).
fn web(f: &Fixture, e: &Emulator) -> CartId {
    cart_with(&f.store, e, "Web", "none", 500)
}

fn json(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap()
}

/// Every count of a cart is off and a thousand SKUs are not on it: the drift report listed
/// each, however many. It lists the first 1,000 of each list, says how many more, and a
/// repair still sets every count that is off, listed or not.
#[test]
fn the_drift_report_lists_1000_of_each_and_its_repair_sets_every_count_off() {
    let f = store();
    let e = Emulator::start().unwrap();
    let off = items(&f, "D", 1003, 5);
    items(&f, "N", 1002, 1);
    let c = web(&f, &e);
    for sku in &off {
        e.set_qoh(sku, 2);
    }

    let r = json(&f.store.drift(c, false).unwrap());
    let listed = r["items"].as_array().unwrap();
    assert_eq!(listed.len(), 1000, "{}", r["items_left_out"]);
    assert_eq!(
        (&listed[0]["sku"], &listed[999]["sku"]),
        (&json(&"D00000"), &json(&"D00999"))
    );
    assert_eq!(
        (
            listed[0]["cart_qoh"].as_i64(),
            listed[0]["expected"].as_i64()
        ),
        (Some(2), Some(5))
    );
    assert_eq!(r["items_left_out"], 3);
    let unlisted = r["unlisted"].as_array().unwrap();
    assert_eq!(unlisted.len(), 1000, "{}", r["unlisted_left_out"]);
    assert_eq!(unlisted[0], "N00000");
    assert_eq!(r["unlisted_left_out"], 2);
    assert_eq!((&r["in_step"], &r["repaired"]), (&json(&0), &json(&0)));
    // A report alone changes nothing.
    assert_eq!(e.qoh("D01002"), Some(2));

    let r = json(&f.store.drift(c, true).unwrap());
    assert_eq!(r["repaired"], 1003, "{}", r["items"][0]);
    let listed = r["items"].as_array().unwrap();
    assert_eq!(listed.len(), 1000);
    assert_eq!(r["items_left_out"], 3);
    assert!(
        listed.iter().all(|d| d["outcome"] == "repaired"),
        "{}",
        r["items"][0]
    );
    let wrong: Vec<&String> = off.iter().filter(|s| e.qoh(s) != Some(5)).collect();
    assert!(wrong.is_empty(), "not repaired on the cart: {wrong:?}");

    // And the next report finds them in step, the SKUs not on the cart still counted.
    let r = json(&f.store.drift(c, false).unwrap());
    assert_eq!(
        (
            &r["in_step"],
            &r["items"],
            &r["items_left_out"],
            &r["unlisted_left_out"]
        ),
        (
            &json(&1003),
            &json(&Vec::<Value>::new()),
            &json(&0),
            &json(&2)
        ),
    );
}

/// A cart refusing every count (the wrong shop, a plugin refusing every SKU): Send QOH listed
/// every failure. It lists the first 1,000; `failed` still counts them all, and
/// `failures_left_out` says how many are not listed. The report kept for `last_report` is the
/// same.
#[test]
fn send_qoh_lists_1000_failures_and_counts_them_all() {
    let f = store();
    let e = Emulator::start().unwrap();
    let skus = items(&f, "F", 1004, 3);
    let c = web(&f, &e);
    for sku in &skus {
        e.set_qoh(sku, 0);
        e.fail_sku(sku, "rejected");
    }
    let report = f.store.send_qoh(c, SendOptions::default(), None).unwrap();
    let r = json(&report);
    let kept: Value = serde_json::from_str(&f.store.last_report().unwrap()).unwrap();
    assert_eq!(kept, r);
    assert_eq!(
        (&r["sent"], &r["failed"]),
        (&json(&0), &json(&1004)),
        "{}",
        r["failures"][0]
    );
    let failures = r["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1000);
    assert_eq!(
        (&failures[0]["sku"], &failures[999]["sku"]),
        (&json(&"F00000"), &json(&"F00999"))
    );
    assert_eq!(r["failures_left_out"], 4);

    // One failure among counts taken: listed, nothing left out.
    e.unfail_sku("F00000");
    for sku in &skus[2..] {
        e.unfail_sku(sku);
    }
    let r = json(&f.store.send_qoh(c, SendOptions::default(), None).unwrap());
    assert_eq!(
        (
            &r["sent"],
            &r["failed"],
            r["failures"].as_array().unwrap().len(),
            &r["failures_left_out"]
        ),
        (&json(&1003), &json(&1), 1, &json(&0)),
    );
    assert_eq!(r["failures"][0]["sku"], "F00001");
}

/// The store publishes a thousand SKUs the cart does not have, and some of its counts are
/// off: the preflight listed a warning for each. Its answer stays a JSON array (the C ABI's
/// contract): the first 1,000 warnings, then one of kind `more`, without a SKU, saying how
/// many of each kind were not listed and what to do. A small cart's preflight is as it was.
#[test]
fn the_preflight_lists_1000_warnings_then_one_saying_how_many_more() {
    let f = store();
    let e = Emulator::start().unwrap();
    items(&f, "P", 1003, 4);
    // Sorted after the P items: off on the cart, their drift warnings come last.
    let off = items(&f, "Q", 2, 4);
    let c = web(&f, &e);
    for sku in &off {
        e.set_qoh(sku, 9);
    }
    let warnings = f.store.preflight(c).unwrap();
    let w = json(&warnings);
    let kept: Value = serde_json::from_str(&f.store.last_report().unwrap()).unwrap();
    assert_eq!(kept, w);
    let all = w.as_array().unwrap();
    assert_eq!(all.len(), 1001, "{}", all.last().unwrap());
    assert!(
        all[..1000].iter().all(|w| w["kind"] == "unmapped"),
        "{}",
        all[0]
    );
    assert_eq!(all[0]["sku"], "P00000");
    let more = &all[1000];
    assert_eq!(more["kind"], "more", "{more}");
    assert!(more.get("sku").is_none(), "{more}");
    let message = more["message"].as_str().unwrap();
    assert!(
        message.contains("5 more warnings")
            && message.contains("3 unmapped")
            && message.contains("2 drift")
            && message.contains("drift report"),
        "{message}"
    );

    // A cart with a few warnings: each listed, no `more`.
    let f = store();
    let e = Emulator::start().unwrap();
    items(&f, "S", 2, 4);
    let c = web(&f, &e);
    e.set_qoh("S00000", 1);
    let w = json(&f.store.preflight(c).unwrap());
    let kinds: Vec<&Value> = w.as_array().unwrap().iter().map(|w| &w["kind"]).collect();
    assert_eq!(kinds, [&json(&"drift"), &json(&"unmapped")], "{w}");
}
