//! What a store owner sees of a cart that sends nothing: `invsync stack` listed a paused cart's
//! records as if the next pass sent them, and said nothing of why none went (credentials
//! refused, an outage's back-off, a wait the cart asked for, a Shopify location deactivated, a
//! manual run's hold). And the quickstart's `--config` took a credential written out in the
//! file without a word, where the README says to keep it in the environment (`env:NAME`).
#![cfg(feature = "emulator")]

#[macro_use]
mod common;
mod controller_cli;
use controller_cli::quickstart;

use common::*;
use inventory_sync::emulator::{Emulator, Fault, Mode};
use inventory_sync::{CartId, Reason, SendOptions};
use std::process::Command;

/// A credential the tests give carts; it must be in no output.
const SECRET: &str = "tok-SECRET-9c41e7d2";

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `invsync stack DB [extra]`: its stdout and stderr, after checking it succeeded and that
/// neither holds the tests' credential.
fn stack_view(db: &std::path::Path, extra: &[&str]) -> (String, String) {
    let mut args = vec!["stack", db.to_str().unwrap()];
    args.extend_from_slice(extra);
    let out = invsync(&args);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{args:?}: {stdout}{stderr}");
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "{args:?}: the credential was shown: {stdout}{stderr}"
    );
    (stdout, stderr)
}

/// A time in Unix milliseconds as the stack view writes it, SQLite's reading as the oracle.
fn utc(ms: i64) -> String {
    rusqlite::Connection::open_in_memory()
        .unwrap()
        .query_row(
            "SELECT strftime('%Y-%m-%d %H:%M:%SZ', ?1 / 1000, 'unixepoch')",
            [ms],
            |r| r.get(0),
        )
        .unwrap()
}

/// A cart's stored run state column `column` (the oracle for what the note must say).
fn cart_column<T: rusqlite::types::FromSql>(db: &std::path::Path, cart: CartId, column: &str) -> T {
    value(db, &format!("SELECT {column} FROM carts WHERE id = {cart}"))
}

/// The note `stderr` gives cart `name`, if any.
fn note_of<'a>(stderr: &'a str, name: &str) -> Option<&'a str> {
    let head = format!("invsync: cart \"{name}\" is paused until ");
    stderr.lines().find(|l| l.starts_with(&head))
}

/// An `http_json` cart named `name` on `emu`, its token `token`, real-time sync on.
fn token_cart(f: &Fixture, emu: &Emulator, name: &str, token: &str) -> serde_json::Value {
    let json = serde_json::json!({
        "name": name, "adapter": "http_json", "url": emu.url(), "token": token,
        "capabilities": {"send": true, "get": true, "realtime": "attribute"},
    });
    let id = f.store.upsert_cart_json(&json.to_string()).unwrap();
    f.store.set_cart_sync(id, true).unwrap();
    json
}

/// A cart whose shop refuses its token (rotated in the shop, not in the store) is paused by
/// the controller with its sale waiting. `invsync stack` still lists the sale (stdout as
/// before: a heading, the record, the total), and says on stderr that the cart is paused,
/// until when (in UTC), why (the cause the controller stored) and what to do: mend the
/// credentials and save the cart. Saved with the right token, the note goes and the sale is
/// sent. The token is in no output, nor in the pass's report.
#[test]
fn the_stack_view_says_a_cart_whose_credentials_were_refused_is_paused_and_what_to_do() {
    let f = store();
    // A pause for refused credentials lasts RetryMaxMs: an hour, as an owner might set.
    f.store.set_param("RetryMaxMs", "3600000").unwrap();
    let emu = Emulator::start().unwrap();
    emu.set_token(Some("the-token-the-shop-has-now"));
    let mut json = token_cart(&f, &emu, "Web", SECRET);
    let id = f.store.carts().unwrap()[0].id;
    item(&f.store, "MUG", 10);
    emu.set_qoh("MUG", 10);
    adjust(&f.store, "MUG", -1, Reason::PosSale);
    let report = f.store.run_stack(None).unwrap();
    assert!(!report.to_string().contains(SECRET), "{report}");
    assert_eq!(report.remaining, 1, "{report}");
    let db = f.dir.path().join("store.db");
    let until: i64 = cart_column(&db, id, "backoff_until");
    let cause: String = cart_column(&db, id, "cart_error");
    assert!(until > now_ms() + 60_000, "the cart is paused: {cause}");

    let (stdout, stderr) = stack_view(&db, &[]);
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines.len(), 3, "a heading, the record, a total: {stdout}");
    assert!(
        lines[1].contains("MUG") && lines[1].contains("pending"),
        "{stdout}"
    );
    assert_eq!(lines[2], "1 record: 1 pending", "{stdout}");
    let note = note_of(&stderr, "Web").unwrap_or_else(|| panic!("no pause note: {stderr:?}"));
    for wanted in [
        format!("is paused until {} (UTC, ", utc(until)),
        "1 record waiting for it is not sent before then".to_owned(),
        "the cart refused its credentials or settings".to_owned(),
        // The cause as stored, on one line.
        cause.split_whitespace().collect::<Vec<_>>().join(" "),
        "saved on it in the order manager), it resumes at once".to_owned(),
        "a Send or Get QOH the cart answers resumes it".to_owned(),
    ] {
        assert!(note.contains(&wanted), "{wanted:?} not in {note:?}");
    }
    assert!(
        note.contains("401"),
        "the cart's answer is the cause: {note}"
    );
    // `--json` keeps stdout the JSON scripts read; the note is on stderr there too.
    let (stdout, stderr) = stack_view(&db, &["--json"]);
    let records: Vec<serde_json::Value> = serde_json::from_str(&stdout).unwrap();
    assert_eq!(records.len(), 1);
    assert!(note_of(&stderr, "Web").is_some(), "{stderr}");
    let out = invsync(&["run", db.to_str().unwrap()]);
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    assert!(!said.contains(SECRET), "{said}");

    // The owner sets the token the shop has and saves the cart: no longer paused.
    json["token"] = "the-token-the-shop-has-now".into();
    f.store.upsert_cart_json(&json.to_string()).unwrap();
    let (_, stderr) = stack_view(&db, &[]);
    assert!(note_of(&stderr, "Web").is_none(), "{stderr}");
    assert_eq!(stderr, "", "a cart that sends says nothing");
    drain(&f.store);
    assert_eq!(emu.qoh("MUG"), Some(9));
}

/// A cart that did not answer (a 503 naming no wait: an outage, backed off) and one that asked
/// to wait (a 429 with `Retry-After`): each is told paused until its wait ends, why, and that
/// sending resumes by itself; `--cart` tells only that cart's; a cart that sends is not
/// named.
#[test]
fn the_stack_view_says_a_cart_backing_off_or_asked_to_wait_resumes_by_itself() {
    let f = store();
    f.store.set_param("RetryBaseMs", "600000").unwrap();
    f.store.set_param("RetryMaxMs", "3600000").unwrap();
    let down = Emulator::start().unwrap();
    let busy = Emulator::start().unwrap();
    let fine = Emulator::start().unwrap();
    let down_id = cart(&f.store, &down, "Down", "attribute");
    let busy_id = cart(&f.store, &busy, "Busy", "attribute");
    cart(&f.store, &fine, "Fine", "attribute");
    item(&f.store, "MUG", 10);
    for e in [&down, &busy, &fine] {
        e.set_qoh("MUG", 10);
    }
    down.inject(Fault::Status {
        status: 503,
        count: 1,
        retry_after: None,
    });
    busy.inject(Fault::Status {
        status: 429,
        count: 1,
        retry_after: Some(900),
    });
    adjust(&f.store, "MUG", -1, Reason::PosSale);
    f.store.run_stack(None).unwrap();
    assert_eq!(fine.qoh("MUG"), Some(9));
    let db = f.dir.path().join("store.db");

    let (_, stderr) = stack_view(&db, &[]);
    assert!(note_of(&stderr, "Fine").is_none(), "{stderr}");
    for (id, name, why, what) in [
        (
            down_id,
            "Down",
            "Why: the cart did not answer: ",
            "sending resumes by itself, and waits longer each time the cart still fails",
        ),
        (
            busy_id,
            "Busy",
            "Why: the cart asked to wait: ",
            "What to do: nothing: sending resumes by itself then",
        ),
    ] {
        let until: i64 = cart_column(&db, id, "backoff_until");
        let cause: String = cart_column(&db, id, "cart_error");
        assert!(until > now_ms(), "{name} waits");
        let note = note_of(&stderr, name).unwrap_or_else(|| panic!("{name}: {stderr:?}"));
        for wanted in [
            format!("is paused until {} (UTC, ", utc(until)),
            "1 record waiting for it is not sent before then".into(),
            format!("{why}{cause}"),
            what.into(),
        ] {
            assert!(note.contains(&wanted), "{wanted:?} not in {note:?}");
        }
    }
    let (_, stderr) = stack_view(&db, &["--cart", "Busy"]);
    assert!(note_of(&stderr, "Busy").is_some(), "{stderr}");
    assert!(note_of(&stderr, "Down").is_none(), "{stderr}");
}

/// A Shopify cart whose location the owner deactivated in Shopify admin pauses with its sale
/// waiting: the stack view says so, with the cause naming the location and what to do.
#[test]
fn the_stack_view_says_a_shopify_cart_at_a_deactivated_location_is_paused() {
    let f = store();
    f.store.set_param("RetryMaxMs", "3600000").unwrap();
    let emu = Emulator::start_mode(Mode::Shopify).unwrap();
    emu.set_token(Some(SECRET));
    emu.set_qoh("TEE", 10);
    item(&f.store, "TEE", 10);
    let json = serde_json::json!({"name": "Shop", "adapter": "shopify", "url": emu.url(),
        "token": SECRET, "location_id": "1"});
    let id = f.store.upsert_cart_json(&json.to_string()).unwrap();
    f.store.set_cart_sync(id, true).unwrap();
    emu.set_shopify_location_deactivated(true);
    adjust(&f.store, "TEE", -1, Reason::PosSale);
    f.store.run_stack(None).unwrap();
    let db = f.dir.path().join("store.db");
    let (stdout, stderr) = stack_view(&db, &[]);
    assert!(stdout.contains("TEE"), "{stdout}");
    let note = note_of(&stderr, "Shop").unwrap_or_else(|| panic!("no pause note: {stderr:?}"));
    for wanted in [
        "deactivated",
        "reactivate it in Shopify admin",
        "location_id",
        "saved on it in the order manager",
    ] {
        assert!(note.contains(wanted), "{wanted:?} not in {note:?}");
    }
    assert_eq!(emu.qoh("TEE"), Some(10));
}

/// While a manual Send QOH runs, it holds the cart: the stack view, looked at meanwhile, says
/// the cart is held, until when, and to wait for the run to end.
#[test]
fn the_stack_view_says_a_cart_held_by_a_manual_send_qoh_is_paused_until_it_ends() {
    let f = store();
    let emu = Emulator::start().unwrap();
    let id = cart(&f.store, &emu, "Web", "attribute");
    for sku in ["MUG", "CAP"] {
        item(&f.store, sku, 10);
    }
    adjust(&f.store, "MUG", -1, Reason::PosSale);
    let db = f.dir.path().join("store.db");
    let mut seen = None;
    let mut progress = |_: i64, _: i64| {
        if seen.is_none() {
            seen = Some(stack_view(&db, &[]));
        }
        true
    };
    f.store
        // Forced: the cart's real-time sync is on, its sale waiting.
        .send_qoh(id, SendOptions { force: true }, Some(&mut progress))
        .unwrap();
    let (_, stderr) = seen.expect("Send QOH reported its progress");
    let note = note_of(&stderr, "Web").unwrap_or_else(|| panic!("no hold note: {stderr:?}"));
    assert!(
        note.contains("(UTC, ")
            && note.contains("Why: a manual Send or Get QOH holds it")
            && note.contains("What to do: wait for it to end"),
        "{note}"
    );
    // Once it ended, the cart is free again.
    let (_, stderr) = stack_view(&db, &[]);
    assert!(note_of(&stderr, "Web").is_none(), "{stderr}");
}

/// A `--config` file holding a cart's token written out: the quickstart warns on stderr,
/// naming the cart and the key (never the value) and how to move it to `env:NAME`, and still
/// uses it (the cart is added, and `--send` sends with it). A cart whose token is `env:NAME`
/// gets no warning.
#[test]
fn the_quickstart_warns_of_a_credential_written_out_in_its_config_and_still_uses_it() {
    let quickstart = quickstart();
    let f = store();
    let web = Emulator::start().unwrap();
    web.set_token(Some(SECRET));
    let outlet = Emulator::start().unwrap();
    outlet.set_token(Some("outlet-token-from-env"));
    let db = f.dir.path().join("store.db");
    let config = f.dir.path().join("carts.json");
    let json = serde_json::json!({
        "store": db,
        "carts": [
            {"name": "Web", "adapter": "http_json", "url": web.url(), "token": SECRET,
             "capabilities": {"send": true, "get": true, "realtime": "attribute"}},
            {"name": "Outlet", "adapter": "http_json", "url": outlet.url(),
             "token": "env:INVSYNC_TEST_OUTLET_TOKEN",
             "capabilities": {"send": true, "get": true, "realtime": "attribute"}},
        ],
    });
    std::fs::write(&config, json.to_string()).unwrap();
    let out = output_for(
        Command::new(quickstart)
            .arg("--config")
            .arg(&config)
            .env("INVSYNC_TEST_OUTLET_TOKEN", "outlet-token-from-env"),
        "the quickstart",
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(
        !stdout.contains(SECRET) && !stderr.contains(SECRET),
        "the credential was shown: {stdout}{stderr}"
    );
    assert!(stdout.contains("Web: added"), "{stdout}");
    let warning = stderr
        .lines()
        .find(|l| l.contains("cart \"Web\""))
        .unwrap_or_else(|| panic!("no warning for Web: {stderr:?}"));
    for wanted in ["warning", "\"token\"", "written out", "\"env:WEB_TOKEN\""] {
        assert!(warning.contains(wanted), "{wanted:?} not in {warning:?}");
    }
    assert!(
        !stderr.contains("Outlet"),
        "env: needs no warning: {stderr}"
    );
    assert!(!stderr.contains("outlet-token-from-env"), "{stderr}");

    // It still works as written: the cart sends with it.
    let web_id = f.store.carts().unwrap()[0].id;
    item(&f.store, "MUG", 10);
    web.set_qoh("MUG", 10);
    f.store.set_cart_sync(web_id, true).unwrap();
    adjust(&f.store, "MUG", -1, Reason::PosSale);
    drain(&f.store);
    assert_eq!(web.qoh("MUG"), Some(9));
}
