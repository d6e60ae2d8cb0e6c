//! No cart token in any Debug, error, report, listing or `last_response`.
#![cfg(feature = "emulator")]

mod common;

use common::*;
use inventory_sync::emulator::{Emulator, Fault};
use inventory_sync::{GetOptions, Reason, SendOptions};

const TOKEN: &str = "tok-SECRET-7f3a9c";

#[test]
fn the_token_never_comes_back_out() {
    let f = store();
    let e = Emulator::start().unwrap();
    e.set_token(Some("the-right-one"));
    let c = f
        .store
        .upsert_cart_json(&format!(
            r#"{{"name":"Web","adapter":"http_json","url":"{}","token":"{TOKEN}",
                "capabilities":{{"send":true,"get":true,"realtime":"attribute"}}}}"#,
            e.url()
        ))
        .unwrap();
    f.store.set_cart_sync(c, true).unwrap();
    item(&f.store, "S1", 5);
    adjust(&f.store, "S1", -1, Reason::PosSale);

    let mut seen = Vec::new();
    // 401, then 500, 429, a dropped connection, bad JSON: every kind of failure.
    seen.push(format!("{:?}", f.store.run_stack(None).unwrap()));
    e.set_token(Some(TOKEN));
    f.store
        .upsert_cart_json(&format!(
            r#"{{"name":"Web","adapter":"http_json","url":"{}","token":"{TOKEN}",
            "capabilities":{{"send":true,"get":true,"realtime":"attribute"}}}}"#,
            e.url()
        ))
        .unwrap();
    for fault in [
        Fault::Status {
            status: 500,
            count: 1,
            retry_after: None,
        },
        Fault::Status {
            status: 429,
            count: 1,
            retry_after: Some(0),
        },
        Fault::ApplyThenDrop { count: 1 },
        Fault::MalformedJson { count: 1 },
    ] {
        e.inject(fault);
        seen.push(format!("{:?}", f.store.run_stack(None)));
        seen.push(f.store.stack_list_json(None).unwrap());
    }
    e.set_token(Some("changed-again"));
    seen.push(format!(
        "{:?}",
        f.store.send_qoh(c, SendOptions { force: true }, None)
    ));
    seen.push(format!(
        "{:?}",
        f.store.get_qoh(
            c,
            GetOptions {
                force: true,
                create_new: false
            },
            None
        )
    ));
    seen.push(format!("{:?}", f.store.preflight(c)));
    seen.push(format!("{:?}", f.store.cart(c).unwrap()));
    seen.push(format!("{:?}", f.store.carts().unwrap()));
    seen.push(f.store.carts_json().unwrap());
    seen.push(f.store.stack_list_json(None).unwrap());
    seen.push(format!("{:?}", f.store.last_report()));
    seen.push(format!("{:?}", f.store));
    seen.push(format!(
        "{:?}",
        f.store.cart(c).unwrap().secret("token").unwrap()
    ));

    let joined = seen.join("\n");
    assert!(!joined.contains(TOKEN), "the token leaked:\n{joined}");
    assert!(!joined.contains("the-right-one") && !joined.contains("changed-again"));
    // And the failures were recorded, so there was something to leak into.
    assert!(joined.contains("401") && joined.contains("500"), "{joined}");
    assert!(f.store.carts_json().unwrap().contains("\"token_set\":true"));
}

#[test]
fn a_token_can_name_an_environment_variable() {
    let f = store();
    let e = Emulator::start().unwrap();
    e.set_token(Some("from-the-env"));
    std::env::set_var("INVSYNC_TEST_TOKEN", "from-the-env");
    let c = f
        .store
        .upsert_cart_json(&format!(
            r#"{{"name":"Web","adapter":"http_json","url":"{}","token":"env:INVSYNC_TEST_TOKEN",
                "capabilities":{{"send":true,"get":true,"realtime":"attribute"}}}}"#,
            e.url()
        ))
        .unwrap();
    f.store.set_cart_sync(c, true).unwrap();
    item(&f.store, "S1", 5);
    e.set_qoh("S1", 5);
    adjust(&f.store, "S1", -1, Reason::PosSale);
    assert_eq!(drain(&f.store).remaining, 0);
    assert_eq!(e.qoh("S1"), Some(4));
    assert!(!f.store.carts_json().unwrap().contains("from-the-env"));
}
