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

/// A cart that quotes the credentials it refused in its error body (some do): the library
/// quotes error bodies to say what went wrong, but never the credential, in any form the
/// cart could send it back (as given, or as HTTP Basic credentials). The cart here quotes the
/// `Authorization` header it got.
#[test]
fn a_cart_echoing_the_credential_in_its_errors_never_brings_it_out() {
    // Quoted whole, and where the excerpt of the answer cuts it (at 200 characters).
    for pad in [0, 150] {
        echoed_credentials_stay_hidden(pad);
    }
}

/// A loopback cart answering every request with `answer(its Authorization header)`: (status,
/// body). Returns its URL; it serves until the test ends.
fn serve(answer: impl Fn(&str) -> (u16, String) + Send + 'static) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream);
            let (mut len, mut auth) = (0, String::new());
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                let lower = line.to_ascii_lowercase();
                if let Some(v) = lower.strip_prefix("content-length:") {
                    len = v.trim().parse().unwrap_or(0);
                }
                if lower.starts_with("authorization:") {
                    auth = line["authorization:".len()..].trim().to_owned();
                }
                if line == "\r\n" {
                    let mut b = vec![0; len];
                    let _ = reader.read_exact(&mut b);
                    let (status, body) = answer(&auth);
                    let _ = write!(
                        reader.get_mut(),
                        "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                        body.len()
                    );
                    break;
                }
            }
        }
    });
    url
}

fn echoed_credentials_stay_hidden(pad: usize) {
    let f = store();
    // WooCommerce's Basic credentials of ck_live:<TOKEN>.
    let basic = "Y2tfbGl2ZTp0b2stU0VDUkVULTdmM2E5Yw==";
    let url = serve(move |auth| {
        (
            400,
            format!(
                r#"{{"error":"{} invalid credentials: {auth}"}}"#,
                "x".repeat(pad)
            ),
        )
    });
    let mut seen = Vec::new();
    for (adapter, extra) in [
        ("http_json", format!(r#""token":"{TOKEN}""#)),
        (
            "woocommerce",
            format!(r#""consumer_key":"ck_live","consumer_secret":"{TOKEN}""#),
        ),
    ] {
        let c = f
            .store
            .upsert_cart_json(&format!(
                r#"{{"name":"{adapter}","adapter":"{adapter}","url":"{url}",{extra},
                    "capabilities":{{"send":true,"get":true,"realtime":"attribute"}}}}"#
            ))
            .unwrap();
        f.store.set_cart_sync(c, true).unwrap();
        item(&f.store, &format!("S-{adapter}"), 5);
        adjust(&f.store, &format!("S-{adapter}"), -1, Reason::PosSale);
        seen.push(format!("{:?}", f.store.run_stack(None).unwrap()));
        seen.push(f.store.stack_list_json(None).unwrap());
        f.store.set_cart_sync(c, false).unwrap();
        seen.push(format!(
            "{:?}",
            f.store.get_qoh(c, GetOptions::default(), None)
        ));
        seen.push(format!(
            "{:?}",
            f.store.send_qoh(c, SendOptions::default(), None)
        ));
    }
    let all = seen.join("\n");
    assert!(
        all.contains("invalid credentials: "),
        "the errors were seen: {all}"
    );
    assert!(
        !all.contains(&TOKEN[..6]) && !all.contains(&basic[..6]),
        "{pad}: {all}"
    );
}

/// A PHP plugin's `json_encode` escapes `/` as `\/`: a token `tok/SECRET/4711` quoted back in
/// an error body comes as `tok\/SECRET\/4711`. That form is scrubbed too, from the error,
/// the run report and the record's last response.
#[test]
fn a_token_quoted_back_json_escaped_never_comes_back_out() {
    let f = store();
    let url = serve(|_| {
        (
            401,
            r#"{"error":"invalid token tok\/SECRET\/4711"}"#.to_owned(),
        )
    });
    let c = f
        .store
        .upsert_cart_json(&format!(
            r#"{{"name":"Web","adapter":"http_json","url":"{url}","token":"tok/SECRET/4711",
                "capabilities":{{"send":true,"get":true,"realtime":"attribute"}}}}"#
        ))
        .unwrap();
    f.store.set_cart_sync(c, true).unwrap();
    item(&f.store, "S1", 5);
    adjust(&f.store, "S1", -1, Reason::PosSale);
    let run = f.store.run_stack(None).unwrap();
    let error = f
        .store
        .send_qoh(c, SendOptions { force: true }, None)
        .err()
        .map(|e| format!("{e} {e:?}"))
        .unwrap_or_else(|| "no error".into());
    let list = f.store.stack_list_json(None).unwrap();
    let seen = [error, run.to_json(), format!("{run:?}"), list].join("\n");
    assert!(
        seen.contains(r"invalid token ***"),
        "the 401 was quoted, scrubbed: {seen}"
    );
    assert!(!seen.contains("SECRET"), "the token leaked: {seen}");
}
