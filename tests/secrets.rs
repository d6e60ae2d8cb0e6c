//! No cart token in any Debug, error, report, listing or `last_response`.
#![cfg(feature = "emulator")]

mod common;
#[path = "../src/adapter/scripted.rs"]
mod scripted;

use common::*;
use inventory_sync::emulator::{Emulator, Fault};
use inventory_sync::{CartAdapter, CartError, GetOptions, Reason, SendOptions};
use std::sync::Arc;

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
    let c = env_token_cart(&f, &e, "INVSYNC_TEST_TOKEN");
    sells_one_through(&f, &e, c, "from-the-env");
}

/// A WooCommerce consumer key may name an environment variable as its secret does: an
/// owner keeping both out of the store file wrote `env:` for both, and the cart was refused
/// ("consumer_key must not contain ':'") until 2026-12-03.
#[test]
fn a_woocommerce_consumer_key_can_name_an_environment_variable() {
    let f = store();
    let e = Emulator::start_mode(inventory_sync::emulator::Mode::WooCommerce).unwrap();
    e.set_token(Some("ck_from_env:cs_from_env"));
    std::env::set_var("INVSYNC_TEST_WOO_CK", "ck_from_env");
    std::env::set_var("INVSYNC_TEST_WOO_CS", "cs_from_env");
    let c = f
        .store
        .upsert_cart_json(
            &serde_json::json!({"name": "Woo", "adapter": "woocommerce", "url": e.url(),
                "consumer_key": "env:INVSYNC_TEST_WOO_CK",
                "consumer_secret": "env:INVSYNC_TEST_WOO_CS",
                "capabilities": {"send": true, "get": true, "realtime": "attribute"}})
            .to_string(),
        )
        .unwrap();
    sells_one_through(&f, &e, c, "from_env");
}

/// Cart `c` (on `e`) real-time: a sale of S1 reaches it, and no listing of the carts shows
/// `hidden`, the value its credentials were read from.
fn sells_one_through(f: &Fixture, e: &Emulator, c: inventory_sync::CartId, hidden: &str) {
    f.store.set_cart_sync(c, true).unwrap();
    item(&f.store, "S1", 5);
    e.set_qoh("S1", 5);
    adjust(&f.store, "S1", -1, Reason::PosSale);
    assert_eq!(drain(&f.store).remaining, 0);
    assert_eq!(e.qoh("S1"), Some(4));
    assert!(!f.store.carts_json().unwrap().contains(hidden));
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

/// One request as the loopback cart of [`serve`] saw it.
struct Req {
    /// `GET /path?query HTTP/1.1`
    line: String,
    /// Its `Authorization` header, as sent.
    auth: String,
}

/// A loopback cart answering every request with `answer(request)`: (status, body). Returns
/// its URL; it serves until the test ends.
fn serve(answer: impl Fn(&Req) -> (u16, String) + Send + 'static) -> String {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            let mut reader = BufReader::new(stream);
            let mut req = Req {
                line: String::new(),
                auth: String::new(),
            };
            if reader.read_line(&mut req.line).unwrap_or(0) == 0 {
                continue;
            }
            let mut len = 0;
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
                    req.auth = line["authorization:".len()..].trim().to_owned();
                }
                if line == "\r\n" {
                    let mut b = vec![0; len];
                    let _ = reader.read_exact(&mut b);
                    let (status, body) = answer(&req);
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
    let url = serve(move |r| {
        (
            400,
            format!(
                r#"{{"error":"{} invalid credentials: {}"}}"#,
                "x".repeat(pad),
                r.auth
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
    quoted_back_never_comes_out(
        "tok/SECRET/4711",
        r#"{"error":"invalid token tok\/SECRET\/4711"}"#,
    );
}

/// `json_encode` also escapes every non-ASCII character, by default: `clé/SECRET/7f3a9c`
/// comes back as `cl\u00e9\/SECRET\/7f3a9c`.
#[test]
fn a_non_ascii_token_quoted_back_by_php_never_comes_back_out() {
    quoted_back_never_comes_out(
        "clé/SECRET/7f3a9c",
        r#"{"error":"invalid token cl\u00e9\/SECRET\/7f3a9c"}"#,
    );
}

/// A cart whose token is `token` answers 401 with `body`, quoting it: the answer is seen, the
/// token (any part of it from "SECRET") is not, in errors, reports and the listing.
fn quoted_back_never_comes_out(token: &str, body: &'static str) {
    let f = store();
    let url = serve(move |_| (401, body.to_owned()));
    let c = f
        .store
        .upsert_cart_json(
            &serde_json::json!({"name": "Web", "adapter": "http_json", "url": url,
                "token": token,
                "capabilities": {"send": true, "get": true, "realtime": "attribute"}})
            .to_string(),
        )
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

const JWT: &str = "eyJhbGciOiJIUzI1NiJ9.eyJhY3Rvcl9pZCI6InVzZXJfMDEifQ.SiGnAtUrE-JWT-0123456789";

/// Medusa's session JWT (email + password) is known only to its adapter: an answer that
/// quotes it (a proxy or an echo endpoint answering 2xx with the request's headers) is
/// scrubbed of it in errors, reports and the record's last response, as of the password.
#[test]
fn a_medusa_session_jwt_quoted_back_never_comes_back_out() {
    let f = store();
    // A backend (or a proxy / debug endpoint in front of it) that answers the admin list with
    // 200 and an echo of the request headers instead of `inventory_items`.
    let url = serve(|r| {
        if r.line.starts_with("POST /auth/user/emailpass") {
            (200, format!(r#"{{"token":"{JWT}"}}"#))
        } else {
            (
                200,
                format!(
                    r#"{{"message":"ok","headers":{{"authorization":"{}"}}}}"#,
                    r.auth
                ),
            )
        }
    });
    let c = f
        .store
        .upsert_cart_json(&format!(
            r#"{{"name":"Medusa","adapter":"medusa","url":"{url}","email":"ops@example.com",
                "password":"pw-SECRET-4711","location_id":"sloc_01"}}"#
        ))
        .unwrap();
    item(&f.store, "S1", 5);
    let mut seen = Vec::new();
    let got = f.store.get_qoh(c, GetOptions::default(), None);
    seen.push(format!("{:?}", got.as_ref().err()));
    let sent = f.store.send_qoh(c, SendOptions { force: true }, None);
    seen.push(format!("{sent:?}"));
    seen.push(format!("{:?}", f.store.preflight(c)));
    // And the controller: the record's Last Response on the stack.
    f.store.set_cart_sync(c, true).unwrap();
    adjust(&f.store, "S1", -1, Reason::PosSale);
    seen.push(format!("{:?}", f.store.run_stack(None)));
    let list = f.store.stack_list_json(None).unwrap();
    assert!(
        list.contains("inventory_items"),
        "the record failed: {list}"
    );
    seen.push(list);
    let all = seen.join("\n");
    assert!(all.contains("inventory_items"), "the error was seen: {all}");
    assert!(!all.contains("pw-SECRET-4711"), "password leaked: {all}");
    assert!(
        !all.contains("SiGnAtUrE"),
        "the Medusa session JWT leaked:\n{all}"
    );
}

/// An integrator's adapter config, with a derived `Debug` (as most are).
#[derive(Debug)]
#[allow(dead_code)]
struct LeakyConfig {
    url: String,
    api_key: String,
}

/// An integrator's factory that panics (or fails) quoting the cart's settings: the error
/// says so without the secret, as for a panic in a call.
#[test]
fn an_adapter_factory_panic_does_not_quote_the_secret() {
    let f = store();
    f.store.register_adapter("my_cart", |cart| {
        let cfg = LeakyConfig {
            url: cart.setting("url").unwrap_or_default().to_owned(),
            api_key: cart.secret("api_key")?.unwrap().expose().to_owned(),
        };
        // An assertion on the config, as integrators write them.
        assert!(cfg.url.ends_with("/v2/"), "unsupported config {cfg:?}");
        unreachable!()
    });
    let c = f
        .store
        .upsert_cart_json(
            r#"{"name":"Mine","adapter":"my_cart","url":"http://127.0.0.1:9/v1/",
                "api_key":"sk_live_SECRET_0042",
                "capabilities":{"send":true,"get":true,"realtime":"attribute"}}"#,
        )
        .unwrap();
    item(&f.store, "S1", 5);
    // Silence the panic hook's line for this test (the next test is about that line).
    let hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let e = f.store.send_qoh(c, SendOptions { force: true }, None);
    let g = f.store.get_qoh(c, GetOptions::default(), None);
    std::panic::set_hook(hook);
    let all = format!("{e:?}\n{g:?}");
    assert!(all.contains("panicked while being built"), "{all}");
    assert!(
        !all.contains("sk_live_SECRET_0042"),
        "the api_key leaked into the error:\n{all}"
    );
}

/// An integrator's adapter that unwraps a `reqwest` error, whose Debug holds the request's
/// URL with the key in its query (an integrator's URL may hold a query).
struct QueryKeyAdapter {
    url: String,
    key: String,
}

impl CartAdapter for QueryKeyAdapter {
    fn update_mode(&self) -> inventory_sync::UpdateMode {
        inventory_sync::UpdateMode::Absolute
    }
    fn apply_deltas(
        &self,
        _: &[inventory_sync::adapter::DeltaSend],
    ) -> Result<Vec<inventory_sync::adapter::SendOutcome>, CartError> {
        unreachable!()
    }
    fn set_quantities(
        &self,
        _: &[inventory_sync::adapter::QuantitySet],
    ) -> Result<Vec<inventory_sync::adapter::SendOutcome>, CartError> {
        unreachable!()
    }
    fn fetch_quantities(
        &self,
        _: Option<&str>,
        _: u32,
    ) -> Result<inventory_sync::adapter::QuantityPage, CartError> {
        // The cart is down: connection refused. The integrator unwraps.
        let body = reqwest::blocking::get(format!("{}&key={}", self.url, self.key))
            .unwrap()
            .text()
            .unwrap();
        Ok(serde_json::from_str::<Vec<(String, i64)>>(&body)
            .map(|items| inventory_sync::adapter::QuantityPage {
                items,
                next_cursor: None,
            })
            .unwrap_or_default())
    }
}

const CHILD: &str = "INVSYNC_SECRETS_PANIC_CHILD";

/// A panic in an adapter's call reaches the caller scrubbed, in the error; the process's
/// panic hook would print it first, unscrubbed, to stderr (the CLI controller's log). The
/// test runs itself again as a child process to read that stderr.
#[test]
fn an_adapter_panic_does_not_write_the_secret_to_stderr() {
    if std::env::var_os(CHILD).is_some() {
        let f = store();
        f.store.register_adapter("qk", |cart| {
            Ok(Arc::new(QueryKeyAdapter {
                url: cart.setting("url").unwrap().to_owned(),
                key: cart.secret("api_key")?.unwrap().expose().to_owned(),
            }) as Arc<dyn CartAdapter>)
        });
        let c = f
            .store
            .upsert_cart_json(
                r#"{"name":"QK","adapter":"qk","url":"http://127.0.0.1:1/api.php?shop=2",
                    "api_key":"qk_SECRET_99887766",
                    "capabilities":{"send":true,"get":true,"realtime":"none"}}"#,
            )
            .unwrap();
        let e = f.store.get_qoh(c, GetOptions::default(), None).unwrap_err();
        // What the library returns is scrubbed ...
        assert!(e.message().contains("panicked"), "{e}");
        assert!(!e.message().contains("qk_SECRET_99887766"), "{e}");
        println!("CHILD-DONE");
        return;
    }
    let out = output_for(
        std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "an_adapter_panic_does_not_write_the_secret_to_stderr",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1"),
        "the child whose adapter panics",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stdout.contains("CHILD-DONE"),
        "child ran: {stdout}\n{stderr}"
    );
    // ... but the process's log is not.
    assert!(
        !stderr.contains("qk_SECRET_99887766"),
        "the api_key reached stderr:\n{stderr}"
    );
}

/// A secret under 4 bytes is not scrubbed as given (it would garble messages), but its HTTP
/// Basic form is: `base64("ck_live:c$9")` is the whole credential.
#[test]
fn a_short_secrets_basic_credentials_never_come_back_out() {
    let f = store();
    let url = serve(|r| {
        (
            401,
            format!(r#"{{"error":"invalid credentials: {}"}}"#, r.auth),
        )
    });
    let c = f
        .store
        .upsert_cart_json(&format!(
            r#"{{"name":"Woo","adapter":"woocommerce","url":"{url}",
                "consumer_key":"ck_live","consumer_secret":"c$9"}}"#
        ))
        .unwrap();
    item(&f.store, "S1", 5);
    let e = f
        .store
        .send_qoh(c, SendOptions { force: true }, None)
        .map(|r| format!("{r:?}"))
        .unwrap_or_else(|e| format!("{e}"));
    // base64("ck_live:c$9")
    let basic = "Y2tfbGl2ZTpjJDk=";
    assert!(e.contains("invalid credentials"), "{e}");
    assert!(
        !e.contains(basic) && !e.contains("c$9"),
        "the Basic credentials of a short consumer_secret leaked: {e}"
    );
}

/// A cart's page cursor is its own text, which no scrubbing sees: a cursor that comes back
/// (the walk's guard) is not quoted, so one that holds the credential stays hidden.
#[test]
fn a_repeated_cursor_holding_the_token_is_not_quoted() {
    let f = store();
    let url = serve(|r| {
        (
            200,
            format!(
                r#"{{"items":[{{"sku":"S1","qoh":1}}],"next_cursor":"page2:{}"}}"#,
                r.auth
            ),
        )
    });
    let c = f
        .store
        .upsert_cart_json(&format!(
            r#"{{"name":"Web","adapter":"http_json","url":"{url}","token":"tok-SECRET-7f3a9c",
                "capabilities":{{"send":true,"get":true,"realtime":"none"}}}}"#
        ))
        .unwrap();
    item(&f.store, "S1", 5);
    let e = f
        .store
        .get_qoh(c, GetOptions::default(), None)
        .map(|r| format!("{r:?}"))
        .unwrap_or_else(|e| format!("{e}"));
    assert!(e.contains("came back"), "{e}");
    assert!(!e.contains("tok-SECRET-7f3a9c"), "the token leaked: {e}");
}

/// An adapter that panics in every call.
struct Panics;

impl CartAdapter for Panics {
    fn update_mode(&self) -> inventory_sync::UpdateMode {
        inventory_sync::UpdateMode::RelativeKeyed
    }
    fn apply_deltas(
        &self,
        _: &[inventory_sync::adapter::DeltaSend],
    ) -> Result<Vec<inventory_sync::adapter::SendOutcome>, CartError> {
        panic!("adapter bug")
    }
    fn set_quantities(
        &self,
        _: &[inventory_sync::adapter::QuantitySet],
    ) -> Result<Vec<inventory_sync::adapter::SendOutcome>, CartError> {
        panic!("adapter bug")
    }
    fn fetch_quantities(
        &self,
        _: Option<&str>,
        _: u32,
    ) -> Result<inventory_sync::adapter::QuantityPage, CartError> {
        panic!("adapter bug")
    }
}

/// The panic hook that keeps an adapter's panic message off stderr must not itself panic
/// when stderr is gone (a closed pipe: a log shipper restarted): a panic inside a panic hook
/// aborts the process, where the adapter's panic is caught and reported. The test runs
/// itself again as a child whose stderr reader has gone.
#[test]
fn an_adapter_panic_with_stderr_gone_does_not_end_the_process() {
    const CHILD: &str = "INVSYNC_SECRETS_STDERR_GONE_CHILD";
    if std::env::var_os(CHILD).is_some() {
        let f = store();
        f.store
            .register_adapter("boom", |_| Ok(Arc::new(Panics) as Arc<dyn CartAdapter>));
        let c = f
            .store
            .upsert_cart_json(
                r#"{"name":"boom","adapter":"boom","capabilities":{"send":true,"get":true}}"#,
            )
            .unwrap();
        item(&f.store, "A", 5);
        let report = f.store.send_qoh(c, SendOptions::default(), None).unwrap();
        assert_eq!(report.failed, 1, "{report:?}");
        return;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "an_adapter_panic_with_stderr_gone_does_not_end_the_process",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stderr.take());
    let out = wait_output(
        child,
        PATIENCE,
        "the child whose adapter panics with stderr gone",
    );
    assert!(
        out.status.success(),
        "the child died: {:?}\nstdout: {}",
        out.status,
        String::from_utf8_lossy(&out.stdout)
    );
}

/// An `env:` credential whose variable is set but empty (`TOKEN=` in a service file) is
/// refused when the cart's adapter is built, naming the variable, rather than sent as an
/// empty `Bearer`.
#[test]
fn a_token_naming_an_empty_environment_variable_is_refused_not_sent_empty() {
    std::env::set_var("INVSYNC_TEST_EMPTY_TOKEN", "");
    let f = store();
    let e = Emulator::start().unwrap();
    let c = f
        .store
        .upsert_cart_json(&format!(
            r#"{{"name":"Web","adapter":"http_json","url":"{}","token":"env:INVSYNC_TEST_EMPTY_TOKEN",
                "capabilities":{{"send":true,"get":true,"realtime":"none"}}}}"#,
            e.url()
        ))
        .unwrap();
    item(&f.store, "TEE", 3);
    e.set_qoh("TEE", 0);
    let sent = f.store.send_qoh(c, SendOptions::default(), None);
    let err = sent.unwrap_err();
    assert!(
        err.message().contains("INVSYNC_TEST_EMPTY_TOKEN is empty"),
        "{err}"
    );
    assert_eq!(e.qoh("TEE"), Some(0), "nothing went out");
}

/// An adapter built from the Rust API with an empty credential is refused as the cart
/// upsert refuses one, not built to send an empty `Bearer` or Basic secret.
#[test]
fn an_adapter_is_not_built_with_an_empty_credential() {
    use inventory_sync::adapter::http_json::HttpJsonAdapter;
    use inventory_sync::adapter::woocommerce::WooCommerceAdapter;
    use inventory_sync::secret::Secret;
    let t = std::time::Duration::from_secs(5);
    let url = "http://127.0.0.1:9/";
    let http = HttpJsonAdapter::new(url, Some(Secret::new(" ")), t).unwrap_err();
    assert!(http.message().contains("empty"), "{http}");
    let woo = WooCommerceAdapter::new(url, "ck_x", Secret::new(""), t).unwrap_err();
    assert!(woo.message().contains("empty"), "{woo}");
    let woo = WooCommerceAdapter::new(url, "", Secret::new("cs_x"), t).unwrap_err();
    assert!(woo.message().contains("consumer_key is empty"), "{woo}");
}

/// The BigCommerce and WooCommerce adapters used alone (by an integrator, without the
/// registry, which scrubs too): a proxy's error page quoting the request's headers put the
/// token, or the consumer secret and the Basic credentials made of it, into the adapter's
/// error (until 2026-12-03; found by a review of the same fix in the Shopify adapter).
#[test]
fn platform_adapters_used_alone_scrub_credentials_quoted_back() {
    use inventory_sync::adapter::bigcommerce::BigCommerceAdapter;
    use inventory_sync::adapter::woocommerce::WooCommerceAdapter;
    use inventory_sync::adapter::DeltaSend;
    use inventory_sync::secret::Secret;
    use std::time::Duration;
    let sale = [DeltaSend {
        key: "k1".into(),
        sku: "TEE".into(),
        remote_ref: None,
        delta: -1,
    }];
    let said = |r: Result<Vec<inventory_sync::adapter::SendOutcome>, CartError>| match r {
        Err(e) => format!("{e:?}"),
        Ok(out) => format!("{out:?}"),
    };

    let token = "bcTok3nS3cretValue";
    let echo =
        format!(r#"{{"title":"bad request","request_headers":{{"x-auth-token":"{token}"}}}}"#);
    let server = scripted::Scripted::start(vec![(400, echo.leak())]);
    let bc = BigCommerceAdapter::new(
        &format!("{}stores/abc123/", server.url),
        Secret::new(token),
        1,
        Duration::from_secs(5),
    )
    .unwrap();
    let text = said(bc.apply_deltas(&sale));
    let _ = server.finish();
    assert!(text.contains("400") && !text.contains(token), "{text}");

    let basic = "Y2tfbGl2ZTpjc19saXZlX1MzY3JldA=="; // base64("ck_live:cs_live_S3cret")
    let echo = format!(
        r#"{{"code":"bad","headers":{{"authorization":"Basic {basic}"}},"secret":"cs_live_S3cret"}}"#
    );
    let server = scripted::Scripted::start(vec![(400, echo.leak())]);
    let woo = WooCommerceAdapter::new(
        &server.url,
        "ck_live",
        Secret::new("cs_live_S3cret"),
        Duration::from_secs(5),
    )
    .unwrap();
    let text = said(woo.apply_deltas(&sale));
    let _ = server.finish();
    assert!(
        text.contains("400") && !text.contains("cs_live_S3cret") && !text.contains(basic),
        "{text}"
    );
}

/// A cart whose token one machine reads from a wrong environment variable: the cart's
/// refusal pauses it for every workstation, and its settings, the same everywhere, look
/// right. The error names the variable and the workstation that read it (until 2026-12-03
/// it named neither), never the value.
#[test]
fn a_refused_env_credential_names_its_variable_and_workstation() {
    let f = store();
    f.store.set_param("Workstation", "TILL-7").unwrap();
    let e = Emulator::start().unwrap();
    e.set_token(Some("the-right-one"));
    std::env::set_var("INVSYNC_TEST_STALE_TOKEN", "a-stale-one");
    let c = env_token_cart(&f, &e, "INVSYNC_TEST_STALE_TOKEN");
    f.store.set_cart_sync(c, true).unwrap();
    item(&f.store, "S1", 5);
    adjust(&f.store, "S1", -1, Reason::PosSale);
    let r = f.store.run_stack(None).unwrap();
    let error = r.carts[0].error.clone().unwrap_or_default();
    assert!(
        error.contains("INVSYNC_TEST_STALE_TOKEN") && error.contains("TILL-7"),
        "{error}"
    );
    assert!(!error.contains("a-stale-one"), "{error}");
}

/// A WooCommerce `consumer_key` given as `env:` naming no variable (`"env:"`, `"env:A=B"`)
/// is refused when the cart is saved, as a secret's is: saved, every pass failed to build
/// the adapter while the cart's sales waited (found by a review of the change letting the
/// key be `env:NAME`, the same day).
#[test]
fn a_woocommerce_consumer_key_env_without_a_variable_name_is_refused_when_saved() {
    for key in ["env:", "env:A=B"] {
        let f = store();
        let saved = f.store.upsert_cart_json(
            &serde_json::json!({"name": "Woo", "adapter": "woocommerce",
                "url": "https://w.example/", "consumer_key": key,
                "consumer_secret": "cs_live_secret"})
            .to_string(),
        );
        let err = saved.expect_err(&format!(
            "consumer_key {key:?} was saved; the adapter can never be built from it"
        ));
        assert_eq!(
            err.kind(),
            inventory_sync::ErrorKind::InvalidArgument,
            "{err}"
        );
        // As a secret's bad `env:` is refused.
        let token = f.store.upsert_cart_json(
            &serde_json::json!({"name": "Woo2", "adapter": "woocommerce",
                "url": "https://w.example/", "consumer_key": "ck_live",
                "consumer_secret": key})
            .to_string(),
        );
        assert!(token.is_err());
    }
}

/// An `http_json` cart "Web" on `e` whose token is read from environment variable `var`.
fn env_token_cart(f: &Fixture, e: &Emulator, var: &str) -> inventory_sync::CartId {
    f.store
        .upsert_cart_json(&format!(
            r#"{{"name":"Web","adapter":"http_json","url":"{}","token":"env:{var}",
                "capabilities":{{"send":true,"get":true,"realtime":"attribute"}}}}"#,
            e.url()
        ))
        .unwrap()
}

/// Answers every change as refused, quoting the credential it was built with.
struct QuotesItsCredential(String);

impl CartAdapter for QuotesItsCredential {
    fn update_mode(&self) -> inventory_sync::UpdateMode {
        inventory_sync::UpdateMode::Absolute
    }
    fn apply_deltas(
        &self,
        d: &[inventory_sync::adapter::DeltaSend],
    ) -> Result<Vec<inventory_sync::adapter::SendOutcome>, CartError> {
        Ok(d.iter()
            .map(|_| inventory_sync::adapter::SendOutcome::Failed {
                message: format!("bad credential {}", self.0),
            })
            .collect())
    }
    fn set_quantities(
        &self,
        s: &[inventory_sync::adapter::QuantitySet],
    ) -> Result<Vec<inventory_sync::adapter::SendOutcome>, CartError> {
        Ok(s.iter()
            .map(|_| inventory_sync::adapter::SendOutcome::Applied { qoh: None })
            .collect())
    }
    fn fetch_quantities(
        &self,
        _: Option<&str>,
        _: u32,
    ) -> Result<inventory_sync::adapter::QuantityPage, CartError> {
        Ok(Default::default())
    }
}

/// A custom adapter's credential under a key of its own (`client_secret`, `access_token`,
/// `ApiKey`, ...) is a secret too: not listed, and scrubbed from what the cart answers. Only
/// the built-in adapters' four names were: a `client_secret` came back whole from
/// `carts_json` and reached the stack's last response.
#[test]
fn a_custom_adapters_own_credential_never_comes_back_out() {
    for key in [
        "client_secret",
        "access_token",
        "private_key",
        "ApiKey",
        "app_password",
    ] {
        let f = store();
        f.store.register_adapter("plugin", move |cart| {
            let credential = cart.secret(key)?.expect("given").expose().to_owned();
            Ok(Arc::new(QuotesItsCredential(credential)) as Arc<dyn CartAdapter>)
        });
        let json = serde_json::json!({
            "name": "Plugin", "adapter": "plugin", key: TOKEN, "region": "eu-1",
            "capabilities": {"send": true, "get": true, "realtime": "attribute"},
        });
        let c = f.store.upsert_cart_json(&json.to_string()).unwrap();
        f.store.set_cart_sync(c, true).unwrap();
        item(&f.store, "S1", 5);
        adjust(&f.store, "S1", -1, Reason::PosSale);
        let report = f.store.run_stack(None).unwrap();
        let listed = f.store.carts_json().unwrap();
        let stack = f.store.stack_list_json(None).unwrap();
        for (what, text) in [
            ("listing", &listed),
            ("stack", &stack),
            ("report", &report.to_string()),
        ] {
            assert!(
                !text.contains(TOKEN),
                "{key}: the credential in the {what}: {text}"
            );
        }
        assert!(stack.contains("bad credential ***"), "{key}: {stack}");
        assert!(
            listed.contains(&format!("\"{key}_set\":true")),
            "{key}: {listed}"
        );
        // A setting of its own that is not a credential is listed as it is.
        assert!(listed.contains("\"region\":\"eu-1\""), "{listed}");
    }
}
